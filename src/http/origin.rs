//! Where the client reached this server: the scheme and authority printed in the commands an
//! answer gives (`--server https://pool.example.org`), read from the request's headers.
//!
//! A reverse proxy says what the client used with `X-Forwarded-Proto` / `X-Forwarded-Host` or
//! the standard `Forwarded` header (RFC 7239); without one, the `Host` header is the client's.
//! Only the first (client-side) value of each counts, and an authority that is not a plain
//! host and port is not printed at all (see [`ServerUrl::new`]).

use axum::http::{HeaderMap, header};

use crate::driver_upload::{ScanTarget, ServerUrl};

/// Where this server's upload page and API are, as the client reached them.
pub fn scan_target(headers: &HeaderMap) -> ScanTarget {
    server_url(headers).map_or(ScanTarget::UnknownServer, ScanTarget::Server)
}

pub fn server_url(headers: &HeaderMap) -> Option<ServerUrl> {
    let host = first_value(headers, "x-forwarded-host")
        .or_else(|| forwarded(headers, "host"))
        .or_else(|| first_value(headers, header::HOST.as_str()))?;
    ServerUrl::new(behind_https(headers), &host)
}

/// Whether the client reached us over https (a proxy in front says so).
pub fn behind_https(headers: &HeaderMap) -> bool {
    first_value(headers, "x-forwarded-proto")
        .or_else(|| forwarded(headers, "proto"))
        .is_some_and(|p| p.eq_ignore_ascii_case("https"))
}

/// The first comma-separated value of the first `name` header, trimmed.
fn first_value(headers: &HeaderMap, name: &str) -> Option<String> {
    let value = headers.get(name)?.to_str().ok()?;
    let first = value.split(',').next()?.trim();
    (!first.is_empty()).then(|| first.to_owned())
}

/// The value of `key` in the first element of the first `Forwarded` header, unquoted.
fn forwarded(headers: &HeaderMap, key: &str) -> Option<String> {
    first_value(headers, header::FORWARDED.as_str())?
        .split(';')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case(key))
        .map(|(_, v)| v.trim().trim_matches('"').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn url(pairs: &[(&'static str, &'static str)]) -> Option<String> {
        server_url(&headers(pairs)).map(|u| u.as_str().to_owned())
    }

    #[test]
    fn the_url_is_the_one_the_client_used() {
        assert_eq!(
            url(&[("host", "10.0.0.5:8080")]).as_deref(),
            Some("http://10.0.0.5:8080")
        );
        assert_eq!(
            url(&[
                ("host", "127.0.0.1:8080"),
                ("x-forwarded-proto", "https"),
                ("x-forwarded-host", "pool.example.org, 10.0.0.1")
            ])
            .as_deref(),
            Some("https://pool.example.org")
        );
        assert_eq!(
            url(&[
                ("host", "127.0.0.1:8080"),
                (
                    "forwarded",
                    "for=1.2.3.4;proto=https;host=\"pool.example.org:8443\", for=5.6.7.8"
                )
            ])
            .as_deref(),
            Some("https://pool.example.org:8443")
        );
        assert!(behind_https(&headers(&[("x-forwarded-proto", "https")])));
        assert!(!behind_https(&headers(&[("host", "a:1")])));
    }

    #[test]
    fn a_host_that_is_no_plain_authority_is_not_printed() {
        for host in ["evil.org/x?y", "a b", "a;rm -rf /", "x@y", "$(id)"] {
            let mut map = HeaderMap::new();
            map.insert("x-forwarded-host", HeaderValue::from_str(host).unwrap());
            map.insert("host", HeaderValue::from_static("127.0.0.1:8080"));
            assert_eq!(server_url(&map), None, "{host}");
        }
    }
}
