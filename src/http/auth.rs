//! The admin token guarding write endpoints.

use axum::http::{HeaderMap, header};
use subtle::ConstantTimeEq;

use super::{ApiError, AppState};

/// Accepts the request only with `Authorization: Bearer <admin token>`. The comparison takes
/// the same time whatever the token's content, and the token never appears in any message.
pub fn require_admin(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(expected) = state.config.admin_token.as_deref() else {
        return Err(ApiError::WritesDisabled);
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .unwrap_or("");
    if token_matches(presented, expected) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized)
    }
}

fn token_matches(presented: &str, expected: &str) -> bool {
    !presented.is_empty() && bool::from(presented.as_bytes().ct_eq(expected.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::token_matches;

    #[test]
    fn tokens_must_match_exactly() {
        assert!(token_matches("s3cret", "s3cret"));
        assert!(!token_matches("s3cre", "s3cret"));
        assert!(!token_matches("", ""));
        assert!(!token_matches("S3CRET", "s3cret"));
    }
}
