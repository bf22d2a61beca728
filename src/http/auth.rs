//! The admin token guarding write endpoints, and the tokens that push fleet samples.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use subtle::ConstantTimeEq;

use super::{ApiError, ApiPath, AppState};
use crate::fleet::HostName;

/// Proof that the request carries the admin token. As an extractor it runs before the body is
/// read, so an unauthenticated upload is refused before the server buffers any of it.
#[derive(Debug, Clone, Copy)]
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        require_admin(state, &parts.headers)
    }
}

/// Who pushes a fleet sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pusher {
    Admin,
    /// The fleet-wide ingest token: samples of any host, and nothing else.
    IngestToken,
    /// A token the admin created for this host only.
    HostToken,
}

/// Proof that the request may push samples of the host in its path (`{host}`): the admin
/// token, the ingest token, or a token created for that host. Like [`Admin`] it runs before
/// the body is read; a bad host name is refused first (400), then a missing or wrong token
/// (401).
#[derive(Debug, Clone)]
pub struct Ingest {
    pub host: HostName,
    pub by: Pusher,
}

impl FromRequestParts<AppState> for Ingest {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let ApiPath(host) = ApiPath::<String>::from_request_parts(parts, state).await?;
        let host = HostName::parse(&host)?;
        let presented = presented_token(&parts.headers).trim().to_owned();
        if presented.is_empty() {
            return Err(ApiError::Unauthorized);
        }
        if let Some(admin) = state.config.admin_token.as_deref()
            && token_matches(&presented, admin)
        {
            return Ok(Self {
                host,
                by: Pusher::Admin,
            });
        }
        if let Some(ingest) = state.config.ingest_token.as_deref()
            && token_matches(&presented, ingest)
        {
            return Ok(Self {
                host,
                by: Pusher::IngestToken,
            });
        }
        if state.fleet.host_token_matches(&host, &presented).await? {
            return Ok(Self {
                host,
                by: Pusher::HostToken,
            });
        }
        Err(ApiError::Unauthorized)
    }
}

fn presented_token(headers: &HeaderMap) -> &str {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token)
        .unwrap_or("")
}

/// Accepts the request only with `Authorization: Bearer <admin token>`.
pub fn require_admin(state: &AppState, headers: &HeaderMap) -> Result<Admin, ApiError> {
    require_token(state, presented_token(headers))
}

/// Accepts `presented` only when it is the admin token. The comparison takes the same time
/// whatever the token's content, and the token never appears in any message.
pub fn require_token(state: &AppState, presented: &str) -> Result<Admin, ApiError> {
    let Some(expected) = state.config.admin_token.as_deref() else {
        return Err(ApiError::WritesDisabled);
    };
    if token_matches(presented.trim(), expected) {
        Ok(Admin)
    } else {
        Err(ApiError::Unauthorized)
    }
}

/// The credentials of a `Bearer` authorization; the scheme name is case-insensitive (RFC 7235).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim_start().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token)
}

fn token_matches(presented: &str, expected: &str) -> bool {
    !presented.is_empty() && bool::from(presented.as_bytes().ct_eq(expected.as_bytes()))
}

/// The cookie that remembers, for one browser session, that this browser gave the admin token
/// on the upload form.
pub const UPLOAD_COOKIE: &str = "poolsleuth_upload";

/// The key of the upload cookie's digest, drawn at start: the cookie holds a digest of the
/// token, never the token, and a restart makes every remembered cookie void.
pub struct CookieKey([u8; 32]);

impl CookieKey {
    pub fn random() -> Self {
        let mut key = [0; 32];
        // Without an entropy source there is nothing safe to key with; the operating system
        // always has one where this server runs.
        getrandom::fill(&mut key).expect("the operating system's random source");
        Self(key)
    }

    /// The cookie's value for the admin token: HMAC-SHA256(key, token), in hex.
    fn value(&self, token: &str) -> String {
        hmac_sha256(&self.0, token.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

impl std::fmt::Debug for CookieKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CookieKey(..)")
    }
}

/// The `Set-Cookie` value after an upload the admin token allowed. `secure`: the browser
/// reached us over https (through a proxy), so the cookie must never travel over plain http.
pub fn upload_cookie(state: &AppState, secure: bool) -> Option<String> {
    let token = state.config.admin_token.as_deref()?;
    Some(format!(
        "{UPLOAD_COOKIE}={}; Path=/upload; HttpOnly; SameSite=Strict{}",
        state.cookie_key.value(token),
        if secure { "; Secure" } else { "" }
    ))
}

/// Whether the request carries the upload cookie of the current admin token.
pub fn has_upload_cookie(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(token) = state.config.admin_token.as_deref() else {
        return false;
    };
    let expected = state.cookie_key.value(token);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .any(|(name, value)| {
            name == UPLOAD_COOKIE && bool::from(value.as_bytes().ct_eq(expected.as_bytes()))
        })
}

/// HMAC (RFC 2104) over SHA-256.
fn hmac_sha256(key: &[u8; 32], message: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(key);
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

#[cfg(test)]
mod tests {
    use super::{bearer_token, hmac_sha256, token_matches};

    #[test]
    fn the_cookie_digest_is_hmac_sha256() {
        // RFC 4231 test case 2 ("Jefe"), its key zero-padded to 32 bytes as HMAC pads it.
        let mut key = [0u8; 32];
        key[..4].copy_from_slice(b"Jefe");
        let mac = hmac_sha256(&key, b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn tokens_must_match_exactly() {
        assert!(token_matches("s3cret", "s3cret"));
        assert!(!token_matches("s3cre", "s3cret"));
        assert!(!token_matches("", ""));
        assert!(!token_matches("S3CRET", "s3cret"));
    }

    #[test]
    fn the_scheme_is_case_insensitive() {
        assert_eq!(bearer_token("Bearer tok"), Some("tok"));
        assert_eq!(bearer_token("BEARER tok"), Some("tok"));
        assert_eq!(bearer_token("bEaReR tok"), Some("tok"));
        assert_eq!(bearer_token("Basic tok"), None);
        assert_eq!(bearer_token("Bearertok"), None);
    }
}
