//! The admin token guarding write endpoints.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use subtle::ConstantTimeEq;

use super::{ApiError, AppState};

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

/// Accepts the request only with `Authorization: Bearer <admin token>`.
pub fn require_admin(state: &AppState, headers: &HeaderMap) -> Result<Admin, ApiError> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token)
        .unwrap_or("");
    require_token(state, presented)
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

#[cfg(test)]
mod tests {
    use super::{bearer_token, token_matches};

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
