//! The client side of fleet ingest: one sample of one host sent to
//! `POST /api/v1/hosts/{host}/snapshots?taken_at=…` as multipart (a `snapshot` part and a
//! `drivers` part), with the ingest token. `poolsleuth collect --host` and `poolsleuth fleet
//! simulate` both send through [`IngestClient`].

use std::fmt;

use reqwest::multipart::{Form, Part};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Where the ingest token goes in a printed command.
pub const INGEST_TOKEN_PLACEHOLDER: &str = "YOUR-INGEST-TOKEN";

/// The longest host name the server takes.
pub const MAX_HOST_NAME: usize = 63;

/// A host's name as fleet ingest takes it: 1 to 63 letters, digits, `-`, `_` and `.`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostName(String);

impl HostName {
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() || text.len() > MAX_HOST_NAME {
            return Err(format!(
                "{text:?} is not a host name: give 1 to {MAX_HOST_NAME} letters, digits, `-`, `_` or `.`"
            ));
        }
        if let Some(bad) = text
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "-_.".contains(*c)))
        {
            return Err(format!(
                "{text:?} is not a host name: {bad:?} is not allowed (letters, digits, `-`, `_` and `.` are)"
            ));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for HostName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One sample of a host: the pool snapshot (a poolmon `-b` file) and its driver list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    pub taken_at: OffsetDateTime,
    /// The snapshot part's file name (`pool-20261101T100000Z.txt`).
    pub snapshot_name: String,
    pub snapshot: Vec<u8>,
    /// The driver list as CSV, sent as the `drivers` part.
    pub drivers: Option<Vec<u8>>,
}

/// Why a sample was not stored.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("cannot reach {url}: {source}")]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error(
        "the server at {server} has no fleet ingest (POST /api/v1/hosts/{{host}}/snapshots answered HTTP {status}): it runs a poolsleuth without fleet watch"
    )]
    NoFleetIngest { server: String, status: u16 },
    #[error(
        "the server refused the token (HTTP {status}): give the ingest token (POOLSLEUTH_INGEST_TOKEN), the host's own token or the admin token the server was started with"
    )]
    Token { status: u16 },
    #[error("the server refused the sample of {host} (HTTP {status}): {message}")]
    Refused {
        host: String,
        status: u16,
        message: String,
    },
}

impl IngestError {
    /// Whether sending more samples to the same server is pointless (wrong server or token).
    pub fn is_fatal(&self) -> bool {
        matches!(self, Self::NoFleetIngest { .. } | Self::Token { .. })
    }
}

/// Sends samples to one server's fleet ingest with one token.
#[derive(Debug, Clone)]
pub struct IngestClient {
    http: reqwest::Client,
    server: reqwest::Url,
    token: String,
}

impl IngestClient {
    pub fn new(server: reqwest::Url, token: String, http: reqwest::Client) -> Self {
        Self {
            http,
            server,
            token,
        }
    }

    /// `POST /api/v1/hosts/{host}/snapshots?taken_at=…` of this server.
    pub fn url(&self, host: &HostName, taken_at: OffsetDateTime) -> reqwest::Url {
        let mut url = self.server.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty()
                .extend(["api", "v1", "hosts", host.as_str(), "snapshots"]);
        }
        if let Ok(at) = taken_at.format(&Rfc3339) {
            url.query_pairs_mut().append_pair("taken_at", &at);
        }
        url
    }

    /// Sends one sample; `Ok` once the server stored it.
    pub async fn send(&self, host: &HostName, sample: &Sample) -> Result<(), IngestError> {
        let url = self.url(host, sample.taken_at);
        let mut form = Form::new().percent_encode_noop().part(
            "snapshot",
            Part::bytes(sample.snapshot.clone())
                .file_name(sample.snapshot_name.clone())
                .mime_str("text/plain")
                .expect("a valid MIME type"),
        );
        if let Some(drivers) = &sample.drivers {
            form = form.part(
                "drivers",
                Part::bytes(drivers.clone())
                    .file_name("drivers.csv")
                    .mime_str("text/csv")
                    .expect("a valid MIME type"),
            );
        }
        let response = self
            .http
            .post(url.clone())
            .bearer_auth(&self.token)
            .multipart(form)
            .send()
            .await
            .map_err(|source| IngestError::Unreachable {
                url: url.to_string(),
                source,
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let code = status.as_u16();
        let body = response.text().await.unwrap_or_default();
        let message = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_owned));
        // The router's own 404 ("no route for …") or 405, or a 404 from something that is
        // no poolsleuth: the server predates fleet ingest. A 404 with another message is
        // the endpoint's own answer.
        let no_route = code == 405
            || (code == 404
                && message
                    .as_deref()
                    .is_none_or(|m| m.starts_with("no route for")));
        Err(match code {
            401 | 403 => IngestError::Token { status: code },
            _ if no_route => IngestError::NoFleetIngest {
                server: self.server.to_string(),
                status: code,
            },
            _ => IngestError::Refused {
                host: host.to_string(),
                status: code,
                message: message.unwrap_or_else(|| body.chars().take(200).collect()),
            },
        })
    }
}

/// The HTTP client `collect` and `fleet simulate` send with.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(120))
        .user_agent(concat!("poolsleuth/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("a client with a timeout and a user agent builds")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_are_what_the_server_takes() {
        for good in ["web-01", "SQL_02.corp", "a", &"x".repeat(63)] {
            assert_eq!(HostName::parse(good).unwrap().as_str(), good);
        }
        for bad in ["", "web 01", "web/01", "wéb", "a:b", &"x".repeat(64)] {
            let e = HostName::parse(bad).unwrap_err();
            assert!(e.contains("not a host name"), "{bad}: {e}");
        }
    }

    #[test]
    fn the_url_names_the_host_and_the_time() {
        let client = IngestClient::new(
            reqwest::Url::parse("http://h:8080/").unwrap(),
            "t".into(),
            reqwest::Client::new(),
        );
        let at = time::macros::datetime!(2026-11-01 10:15:00 UTC);
        assert_eq!(
            client.url(&HostName::parse("web-01").unwrap(), at).as_str(),
            "http://h:8080/api/v1/hosts/web-01/snapshots?taken_at=2026-11-01T10%3A15%3A00Z"
        );
    }
}
