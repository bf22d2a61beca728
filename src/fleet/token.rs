//! Per-host ingest tokens: drawn at random, shown once, stored only as a digest.

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{Fleet, FleetError, HostName};

/// A token just created: the only time its text is seen.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IssuedToken {
    #[schema(value_type = String)]
    pub host: HostName,
    /// Send as `Authorization: Bearer <token>` to push this host's samples.
    pub token: String,
}

/// 32 random bytes in hex.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    // Without an entropy source there is nothing safe to draw a token from; the operating
    // system always has one where this server runs.
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    hex(&bytes)
}

/// SHA-256 of the token, in hex: what is stored and looked up. The tokens are 256 random
/// bits, so a plain digest cannot be reversed by guessing.
pub fn token_digest(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Fleet {
    /// Creates a token that pushes samples of `host` only.
    pub async fn issue_token(&self, host: &HostName) -> Result<IssuedToken, FleetError> {
        let db = self.database().await?;
        let token = new_token();
        sqlx::query("INSERT INTO host_tokens (digest, host, created_at) VALUES ($1, $2, $3)")
            .bind(token_digest(&token))
            .bind(host.as_str().to_owned())
            .bind(time::OffsetDateTime::now_utc().unix_timestamp())
            .execute(&db.pool)
            .await?;
        Ok(IssuedToken {
            host: host.clone(),
            token,
        })
    }

    /// Whether `token` is a per-host token of `host`.
    pub async fn host_token_matches(
        &self,
        host: &HostName,
        token: &str,
    ) -> Result<bool, FleetError> {
        if token.is_empty() {
            return Ok(false);
        }
        let db = self.database().await?;
        let row = sqlx::query("SELECT host FROM host_tokens WHERE digest = $1")
            .bind(token_digest(token))
            .fetch_optional(&db.pool)
            .await?;
        Ok(match row {
            Some(row) => super::store::get::<String>(&row, 0)? == host.as_str(),
            None => false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_digests_fixed() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_eq!(
            token_digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
