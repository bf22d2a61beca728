//! Following a curated list by URL: `serve --refresh-list NAME=URL --refresh-hours N` imports
//! the list again on a schedule, so several servers can follow one list. A failed fetch or an
//! unreadable list leaves the previous entries in place; the outcome of every attempt is kept
//! for `/sources` and counted in `/metrics`. A followed file of known causes (`id,tags,...`
//! header) is imported as causes on the same schedule.

use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;

use crate::causes::{import_causes, looks_like_causes};
use crate::import::{ListSource, import_list};
use crate::index::SearchIndex;
use crate::knowledge::validate_source_name;
use crate::vendor::VendorDirectory;

/// A list the server imports again and again: `NAME=URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowedList {
    pub name: String,
    pub url: String,
}

impl FromStr for FollowedList {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, url) = s
            .split_once('=')
            .ok_or_else(|| format!("{s:?} is not NAME=URL"))?;
        let (name, url) = (name.trim(), url.trim());
        validate_source_name(name)?;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!("{url:?} is not an http(s) URL"));
        }
        Ok(Self {
            name: name.to_owned(),
            url: url.to_owned(),
        })
    }
}

/// The last attempts at one followed list.
#[derive(Debug, Clone, Serialize)]
pub struct RefreshStatus {
    pub source: String,
    pub url: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_attempt: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_success: Option<OffsetDateTime>,
    /// Entries the last successful import stored.
    pub entries: Option<usize>,
    /// Why the last attempt failed; `None` after a success.
    pub last_error: Option<String>,
    pub failures: u64,
}

/// Every followed list's status, shared between the refresher and the pages.
#[derive(Debug, Default)]
pub struct RefreshBoard {
    statuses: Mutex<Vec<RefreshStatus>>,
}

impl RefreshBoard {
    pub fn statuses(&self) -> Vec<RefreshStatus> {
        self.statuses.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn record(&self, list: &FollowedList, outcome: &Result<usize, String>) {
        let Ok(mut statuses) = self.statuses.lock() else {
            return;
        };
        let now = OffsetDateTime::now_utc();
        let status = match statuses.iter().position(|s| s.source == list.name) {
            Some(i) => &mut statuses[i],
            None => {
                statuses.push(RefreshStatus {
                    source: list.name.clone(),
                    url: list.url.clone(),
                    last_attempt: None,
                    last_success: None,
                    entries: None,
                    last_error: None,
                    failures: 0,
                });
                statuses.last_mut().expect("just pushed")
            }
        };
        status.last_attempt = Some(now);
        match outcome {
            Ok(entries) => {
                status.last_success = Some(now);
                status.entries = Some(*entries);
                status.last_error = None;
            }
            Err(error) => {
                status.last_error = Some(error.clone());
                status.failures += 1;
            }
        }
    }
}

/// Largest list fetched (the WDK's pooltag.txt is about 1 MB).
const MAX_LIST_BYTES: usize = 64 * 1024 * 1024;

/// Fetches and imports the list once; the previous entries stay when anything fails.
pub async fn refresh_once(
    http: &reqwest::Client,
    index: Arc<SearchIndex>,
    vendors: Arc<VendorDirectory>,
    list: &FollowedList,
) -> Result<usize, String> {
    let response = http
        .get(&list.url)
        .send()
        .await
        .map_err(|e| format!("fetching {}: {e}", list.url))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("fetching {}: HTTP {status}", list.url));
    }
    let bytes = response
        .bytes()
        .await
        .map_err(|e| format!("reading {}: {e}", list.url))?;
    if bytes.len() > MAX_LIST_BYTES {
        return Err(format!(
            "{} is {} bytes; lists over {MAX_LIST_BYTES} bytes are refused",
            list.url,
            bytes.len()
        ));
    }
    // A file of known causes follows the same schedule as a tag list (its header names the
    // `id`, `tags` and `summary` columns).
    if looks_like_causes(&bytes) {
        let (name, origin) = (list.name.clone(), list.url.clone());
        return tokio::task::spawn_blocking(move || {
            import_causes(index.causes(), &name, None, Some(origin), &bytes)
        })
        .await
        .map_err(|e| format!("the import stopped: {e}"))?
        .map(|report| report.imported as usize)
        .map_err(|e| format!("importing {}: {e}", list.url));
    }
    let source = ListSource {
        name: list.name.clone(),
        version: None,
        origin: Some(list.url.clone()),
        format: None,
    };
    tokio::task::spawn_blocking(move || import_list(&index, &vendors, &source, &bytes))
        .await
        .map_err(|e| format!("the import stopped: {e}"))?
        .map(|report| report.imported as usize)
        .map_err(|e| format!("importing {}: {e}", list.url))
}

/// Imports every followed list now, then every `interval`, until `stop` fires.
pub async fn follow(
    lists: Vec<FollowedList>,
    interval: Duration,
    index: Arc<SearchIndex>,
    vendors: Arc<VendorDirectory>,
    board: Arc<RefreshBoard>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let http = match reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
    {
        Ok(http) => http,
        Err(error) => {
            tracing::error!(%error, "no HTTP client for followed lists");
            return;
        }
    };
    let mut tick = tokio::time::interval(interval.max(Duration::from_secs(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = &mut stop => return,
        }
        for list in &lists {
            let outcome = refresh_once(&http, index.clone(), vendors.clone(), list).await;
            let result = if outcome.is_ok() { "ok" } else { "error" };
            metrics::counter!(
                "poolsleuth_list_refresh_total",
                "source" => list.name.clone(),
                "result" => result
            )
            .increment(1);
            match &outcome {
                Ok(entries) => {
                    metrics::gauge!(
                        "poolsleuth_list_refresh_last_success_timestamp_seconds",
                        "source" => list.name.clone()
                    )
                    .set(OffsetDateTime::now_utc().unix_timestamp() as f64);
                    tracing::info!(source = list.name, entries, "refreshed a followed list");
                }
                Err(error) => tracing::warn!(
                    source = list.name,
                    %error,
                    "refreshing a followed list failed; its previous entries stay"
                ),
            }
            board.record(list, &outcome);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn followed_lists_are_name_equals_url() {
        let l: FollowedList = "curated=https://example.org/tags.csv".parse().unwrap();
        assert_eq!(l.name, "curated");
        assert_eq!(l.url, "https://example.org/tags.csv");
        assert!("curated".parse::<FollowedList>().is_err());
        assert!(
            "curated=file:///etc/passwd"
                .parse::<FollowedList>()
                .is_err()
        );
        assert!("a b=https://x".parse::<FollowedList>().is_err());
    }
}
