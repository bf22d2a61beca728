//! Webhook alerts: when a host enters `growing` or `leaking`, a JSON message is posted to the
//! webhook the admin gave (`serve --alert-webhook URL`). The message carries a `text` field,
//! which Slack, Mattermost, Teams and most chat webhooks show as it is, and every fact as its
//! own field for anything else that reads it.
//!
//! [`Alerter::notify`] never waits: it checks the once-per-host-and-tag limit and puts the
//! alert in a bounded queue (a full queue drops it, saying so in the log); a background task
//! posts the queued alerts, a few at a time, and retries failures with growing pauses.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{Semaphore, mpsc};

use crate::attribution::Analysis;
use crate::format::human_bytes;
use crate::snapshot::PoolKind;
use crate::tag::PoolTag;

/// How often one host and tag may alert at most, unless `--alert-every` says otherwise.
pub const DEFAULT_EVERY: Duration = Duration::from_secs(6 * 3600);

/// Alerts waiting to be posted; more are dropped (and logged) until the webhook catches up.
const QUEUE_LENGTH: usize = 256;
/// Alerts being posted (or waiting to be retried) at once.
const IN_FLIGHT: usize = 4;
/// How long one post may take before it counts as failed.
const POST_TIMEOUT: Duration = Duration::from_secs(10);

/// How a host's pool usage stands, for an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertLevel {
    /// A tag grows, not yet over the alert threshold.
    Growing,
    /// A tag grows steadily over the alert threshold.
    Leaking,
}

impl AlertLevel {
    pub const fn name(self) -> &'static str {
        match self {
            Self::Growing => "growing",
            Self::Leaking => "leaking",
        }
    }
}

/// What one alert says about one host.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    pub host: String,
    pub level: AlertLevel,
    pub tag: PoolTag,
    pub pool: PoolKind,
    pub driver: Option<String>,
    pub driver_version: Option<String>,
    pub rate_bytes_per_hour: Option<f64>,
    /// The analysis's headline for the host, as its answer says it.
    pub headline: String,
    /// The host's page on this server, when the server knows its own address.
    pub host_url: Option<String>,
}

impl Alert {
    /// The alert for `host` from an analysis of its window: the answer's tag, pool, driver,
    /// version and headline, and the tag's growth rate. `None` when the answer names no tag.
    pub fn from_analysis(
        host: &str,
        level: AlertLevel,
        analysis: &Analysis,
        host_url: Option<String>,
    ) -> Option<Self> {
        let answer = &analysis.answer;
        let (tag, pool) = (answer.tag?, answer.pool?);
        let rate = analysis
            .findings
            .iter()
            .find(|f| f.tag == tag && f.pool == pool)
            .and_then(|f| f.growth.as_ref())
            .and_then(|g| g.bytes_per_hour);
        Some(Self {
            host: host.to_owned(),
            level,
            tag,
            pool,
            driver: answer.driver.clone(),
            driver_version: answer.version.clone(),
            rate_bytes_per_hour: rate,
            headline: answer.headline.clone(),
            host_url,
        })
    }

    /// The one line a chat shows: host, state, tag, rate, driver, then the headline and link.
    pub fn text(&self) -> String {
        let mut text = format!(
            "poolsleuth: {} is {}: tag `{}` ({})",
            self.host,
            self.level.name(),
            self.tag,
            self.pool
        );
        if let Some(rate) = self
            .rate_bytes_per_hour
            .filter(|r| r.is_finite() && *r > 0.0)
        {
            text.push_str(&format!(" grows {}/hour", human_bytes(rate as u64)));
        }
        if let Some(driver) = &self.driver {
            text.push_str(&format!(", driver {driver}"));
            if let Some(version) = &self.driver_version {
                text.push_str(&format!(" {version}"));
            }
        }
        text.push_str(". ");
        text.push_str(&self.headline);
        if let Some(url) = &self.host_url {
            text.push_str(&format!(" {url}"));
        }
        text
    }

    /// The JSON body posted to the webhook.
    pub fn message(&self) -> serde_json::Value {
        let mut message = serde_json::json!({ "text": self.text(), "source": "poolsleuth" });
        if let (Some(object), Ok(serde_json::Value::Object(fields))) =
            (message.as_object_mut(), serde_json::to_value(self))
        {
            object.extend(fields);
        }
        message
    }
}

/// The `--alert-webhook` and `--alert-every` settings of a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertConfig {
    pub webhook: reqwest::Url,
    pub every: Duration,
}

/// Reads a webhook URL as `--alert-webhook` takes it: an absolute `http` or `https` URL.
pub fn parse_webhook_url(text: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(text.trim()).map_err(|e| {
        format!("{text:?} is not a webhook URL ({e}): give https://HOST/PATH, as your chat's incoming-webhook settings show it")
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!(
            "{text:?} is not a webhook URL: only http:// and https:// webhooks are posted to"
        ));
    }
    Ok(url)
}

/// The HTTP client alerts are posted with.
pub fn webhook_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(POST_TIMEOUT)
        .user_agent(concat!("poolsleuth/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("a client with a timeout and a user agent builds")
}

/// How failed posts are tried again: `attempts` in all, the pause doubling from
/// `first_pause` up to `longest_pause`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub first_pause: Duration,
    pub longest_pause: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 5,
            first_pause: Duration::from_secs(2),
            longest_pause: Duration::from_secs(60),
        }
    }
}

/// What [`Alerter::notify`] did with an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notified {
    /// Queued to be posted.
    Queued,
    /// This host and tag alerted less than `every` ago.
    Suppressed,
    /// The queue was full (the webhook is slow or down); logged.
    Dropped,
}

/// What the alerter has done since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AlertCounts {
    pub sent: u64,
    /// Alerts given up after every attempt failed.
    pub failed: u64,
    /// Attempts that failed and were tried again.
    pub retried: u64,
    pub dropped: u64,
    pub suppressed: u64,
}

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    failed: AtomicU64,
    retried: AtomicU64,
    dropped: AtomicU64,
    suppressed: AtomicU64,
}

/// Posts alerts to one webhook, at most once per host and tag per `every`. Cheap to clone;
/// every clone feeds the same queue. Made inside a Tokio runtime (it starts its task there).
#[derive(Clone)]
pub struct Alerter {
    queue: mpsc::Sender<Alert>,
    every: Duration,
    /// When each (host, tag) last alerted.
    last: Arc<Mutex<HashMap<(String, PoolTag), Instant>>>,
    counters: Arc<Counters>,
}

impl Alerter {
    pub fn new(webhook: reqwest::Url, every: Duration, client: reqwest::Client) -> Self {
        Self::with_retry(webhook, every, client, RetryPolicy::default())
    }

    pub fn with_retry(
        webhook: reqwest::Url,
        every: Duration,
        client: reqwest::Client,
        retry: RetryPolicy,
    ) -> Self {
        let (queue, received) = mpsc::channel(QUEUE_LENGTH);
        let alerter = Self {
            queue,
            every,
            last: Arc::default(),
            counters: Arc::default(),
        };
        let poster = Poster {
            webhook,
            client,
            retry,
            last: alerter.last.clone(),
            counters: alerter.counters.clone(),
        };
        tokio::spawn(poster.run(received));
        alerter
    }

    /// Queues `alert` unless its host and tag alerted less than `every` ago; never waits.
    pub fn notify(&self, alert: Alert) -> Notified {
        let key = (alert.host.clone(), alert.tag);
        let now = Instant::now();
        {
            let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
            if last
                .get(&key)
                .is_some_and(|at| now.duration_since(*at) < self.every)
            {
                self.counters.suppressed.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("poolsleuth_alerts_total", "result" => "suppressed").increment(1);
                return Notified::Suppressed;
            }
            // Hosts come and go: forget what can no longer suppress anything.
            if last.len() >= 4096 {
                let every = self.every;
                last.retain(|_, at| now.duration_since(*at) < every);
            }
            last.insert(key.clone(), now);
        }
        match self.queue.try_send(alert) {
            Ok(()) => Notified::Queued,
            Err(e) => {
                let (alert, why) = match e {
                    mpsc::error::TrySendError::Full(a) => {
                        (a, "the webhook queue is full (the webhook is slow or down)")
                    }
                    mpsc::error::TrySendError::Closed(a) => (a, "the alert sender has stopped"),
                };
                // Not sent, so the next notice of this host and tag may try again.
                self.last
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&key);
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("poolsleuth_alerts_total", "result" => "dropped").increment(1);
                tracing::warn!(
                    host = %alert.host,
                    tag = %alert.tag,
                    queue = QUEUE_LENGTH,
                    "alert dropped: {why}"
                );
                Notified::Dropped
            }
        }
    }

    pub fn every(&self) -> Duration {
        self.every
    }

    pub fn counts(&self) -> AlertCounts {
        let c = &self.counters;
        AlertCounts {
            sent: c.sent.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            retried: c.retried.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            suppressed: c.suppressed.load(Ordering::Relaxed),
        }
    }
}

/// The background side: takes alerts off the queue and posts them.
struct Poster {
    webhook: reqwest::Url,
    client: reqwest::Client,
    retry: RetryPolicy,
    last: Arc<Mutex<HashMap<(String, PoolTag), Instant>>>,
    counters: Arc<Counters>,
}

impl Poster {
    async fn run(self, mut received: mpsc::Receiver<Alert>) {
        let this = Arc::new(self);
        let slots = Arc::new(Semaphore::new(IN_FLIGHT));
        while let Some(alert) = received.recv().await {
            // While every slot retries a dead webhook, the queue fills and notify drops.
            let Ok(slot) = slots.clone().acquire_owned().await else {
                return;
            };
            let this = this.clone();
            tokio::spawn(async move {
                this.deliver(alert).await;
                drop(slot);
            });
        }
    }

    async fn deliver(&self, alert: Alert) {
        let body = alert.message();
        let mut pause = self.retry.first_pause;
        let attempts = self.retry.attempts.max(1);
        for attempt in 1..=attempts {
            let outcome = self
                .client
                .post(self.webhook.clone())
                .timeout(POST_TIMEOUT)
                .json(&body)
                .send()
                .await;
            let problem = match outcome {
                Ok(response) if response.status().is_success() => {
                    self.counters.sent.fetch_add(1, Ordering::Relaxed);
                    metrics::counter!("poolsleuth_alerts_total", "result" => "sent").increment(1);
                    tracing::info!(host = %alert.host, tag = %alert.tag, level = alert.level.name(), attempt, "alert posted");
                    return;
                }
                Ok(response) => format!("the webhook answered HTTP {}", response.status()),
                Err(e) => format!("cannot post to the webhook: {e}"),
            };
            if attempt == attempts {
                self.counters.failed.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("poolsleuth_alerts_total", "result" => "failed").increment(1);
                tracing::error!(host = %alert.host, tag = %alert.tag, attempts, problem, "alert not delivered; giving up");
                // The next notice of this host and tag may try again.
                self.last
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&(alert.host.clone(), alert.tag));
                return;
            }
            self.counters.retried.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(host = %alert.host, tag = %alert.tag, attempt, retry_in_ms = pause.as_millis() as u64, problem, "alert not delivered; trying again");
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(self.retry.longest_pause);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert() -> Alert {
        Alert {
            host: "web-01".into(),
            level: AlertLevel::Leaking,
            tag: PoolTag::from_bytes(*b"Io  "),
            pool: PoolKind::NonPaged,
            driver: Some("dkfilter.sys".into()),
            driver_version: Some("12.0.1.2".into()),
            rate_bytes_per_hour: Some(3.0 * 1024.0 * 1024.0),
            headline: "`Io` (nonpaged) grows.".into(),
            host_url: Some("http://h:8080/hosts/web-01".into()),
        }
    }

    #[test]
    fn the_message_has_a_text_for_chats_and_every_fact_as_a_field() {
        let message = alert().message();
        assert_eq!(
            message["text"],
            "poolsleuth: web-01 is leaking: tag `Io  ` (nonpaged) grows 3.0 MiB/hour, driver dkfilter.sys 12.0.1.2. `Io` (nonpaged) grows. http://h:8080/hosts/web-01"
        );
        assert_eq!(message["host"], "web-01");
        assert_eq!(message["level"], "leaking");
        assert_eq!(message["tag"], "Io  ");
        assert_eq!(message["pool"], "nonpaged");
        assert_eq!(message["driver_version"], "12.0.1.2");
        assert_eq!(message["rate_bytes_per_hour"], 3.0 * 1024.0 * 1024.0);
    }

    #[test]
    fn an_alert_from_a_leaking_hosts_analysis_names_its_tag_driver_version_and_rate() {
        use crate::attribution::{AnalyzeOptions, InputFile, KnowledgeView, analyze, read_inputs};
        use crate::synthetic_fleet::{FleetPlan, LEAKING_DRIVER, LEAKING_TAG, LEAKING_VERSION};
        let plan = FleetPlan::new(
            10,
            0.5,
            Duration::from_secs(900),
            time::macros::datetime!(2026-11-01 00:00:00 UTC),
            5,
        )
        .unwrap();
        let host = plan.host(1);
        let samples: Vec<_> = (0..plan.samples_per_host)
            .step_by(6)
            .map(|i| plan.sample(&host, i))
            .collect();
        let files: Vec<InputFile> = samples
            .iter()
            .map(|s| InputFile {
                name: Some(s.snapshot_name.clone()),
                bytes: s.snapshot.clone(),
            })
            .collect();
        let view = KnowledgeView::from_entries(1, Vec::new());
        let input = read_inputs(&files, samples[0].drivers.as_deref(), None, &view).unwrap();
        let vendors = crate::vendor::VendorDirectory::embedded();
        let analysis = analyze(&input, &view, &vendors, &AnalyzeOptions::default());
        let alert =
            Alert::from_analysis(host.name.as_str(), AlertLevel::Leaking, &analysis, None).unwrap();
        assert_eq!(alert.tag, LEAKING_TAG);
        assert_eq!(alert.pool, PoolKind::NonPaged);
        assert_eq!(alert.driver.as_deref(), Some(LEAKING_DRIVER));
        assert_eq!(alert.driver_version.as_deref(), Some(LEAKING_VERSION));
        let rate = alert.rate_bytes_per_hour.unwrap();
        let expected = host.leak_bytes_per_hour as f64;
        assert!(
            (rate - expected).abs() < expected * 0.05,
            "{rate} vs {expected}"
        );
        assert!(
            alert.text().contains("sim-00001 is leaking: tag `dkfi`"),
            "{}",
            alert.text()
        );
    }

    #[test]
    fn only_http_and_https_webhooks_are_taken() {
        assert!(parse_webhook_url("https://chat.example.org/hooks/abc").is_ok());
        assert!(parse_webhook_url("http://10.0.0.5:8065/hooks/x").is_ok());
        for bad in [
            "ftp://x/y",
            "chat.example.org/hooks",
            "",
            "file:///etc/passwd",
        ] {
            let e = parse_webhook_url(bad).unwrap_err();
            assert!(e.contains("not a webhook URL"), "{bad}: {e}");
        }
    }
}
