//! Webhook alerts against a local receiver (a small axum server on 127.0.0.1:0) that counts
//! the messages: one per host and tag within `every`, another once `every` has passed,
//! retries after the receiver fails, and a dead receiver never holding up `notify`.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use poolsleuth::alerts::{Alert, AlertLevel, Alerter, Notified, RetryPolicy};
use poolsleuth::snapshot::PoolKind;
use poolsleuth::tag::PoolTag;
use tokio::sync::Mutex;

/// What the receiver got, and how many of its first answers are failures.
#[derive(Default)]
struct Receiver {
    messages: Mutex<Vec<serde_json::Value>>,
    fail_first: AtomicUsize,
    attempts: AtomicUsize,
}

async fn receive(
    State(receiver): State<Arc<Receiver>>,
    Json(message): Json<serde_json::Value>,
) -> StatusCode {
    receiver.attempts.fetch_add(1, Ordering::SeqCst);
    if receiver
        .fail_first
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    receiver.messages.lock().await.push(message);
    StatusCode::OK
}

/// The receiver's URL.
async fn start_receiver(receiver: Arc<Receiver>) -> reqwest::Url {
    let app = axum::Router::new()
        .route("/hooks/abc", post(receive))
        .with_state(receiver);
    let addr = common::serve_local(app).await;
    reqwest::Url::parse(&format!("http://{addr}/hooks/abc")).unwrap()
}

fn alert(host: &str, tag: &[u8; 4]) -> Alert {
    Alert {
        host: host.into(),
        level: AlertLevel::Leaking,
        tag: PoolTag::from_bytes(*tag),
        pool: PoolKind::NonPaged,
        driver: Some("dkfilter.sys".into()),
        driver_version: Some("12.0.1.2".into()),
        rate_bytes_per_hour: Some(4.0 * 1024.0 * 1024.0),
        headline: "`dkfi` (nonpaged) grows 4.0 MiB/hour (steadiness 1.00).".into(),
        host_url: None,
    }
}

fn quick_retries() -> RetryPolicy {
    RetryPolicy {
        attempts: 4,
        first_pause: Duration::from_millis(50),
        longest_pause: Duration::from_millis(200),
    }
}

/// An alerter that allows one message per host and tag an hour, retrying quickly.
fn hourly(url: reqwest::Url) -> Alerter {
    Alerter::with_retry(
        url,
        Duration::from_secs(3600),
        reqwest::Client::new(),
        quick_retries(),
    )
}

/// Waits until `done` holds, for at most 10 s.
async fn eventually(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn one_message_per_host_and_tag_within_every_and_another_after_it() {
    let receiver = Arc::new(Receiver::default());
    let url = start_receiver(receiver.clone()).await;
    let every = Duration::from_millis(700);
    let alerter = Alerter::with_retry(url, every, reqwest::Client::new(), quick_retries());

    let first = Instant::now();
    assert_eq!(alerter.notify(alert("web-01", b"dkfi")), Notified::Queued);
    for _ in 0..5 {
        assert_eq!(
            alerter.notify(alert("web-01", b"dkfi")),
            Notified::Suppressed
        );
    }
    // Another tag of the same host, and the same tag on another host, are other alerts.
    assert_eq!(alerter.notify(alert("web-01", b"Io  ")), Notified::Queued);
    assert_eq!(alerter.notify(alert("web-02", b"dkfi")), Notified::Queued);
    eventually("three messages", async || {
        receiver.messages.lock().await.len() == 3
    })
    .await;
    // Still within `every` of the first: suppressed.
    if first.elapsed() < every {
        assert_eq!(
            alerter.notify(alert("web-01", b"dkfi")),
            Notified::Suppressed
        );
    }
    tokio::time::sleep(every.saturating_sub(first.elapsed()) + Duration::from_millis(50)).await;
    assert_eq!(alerter.notify(alert("web-01", b"dkfi")), Notified::Queued);
    eventually("the fourth message", async || {
        receiver.messages.lock().await.len() == 4
    })
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;

    let messages = receiver.messages.lock().await;
    assert_eq!(messages.len(), 4, "{messages:#?}");
    let to = |host: &str, tag: &str| {
        messages
            .iter()
            .filter(|m| m["host"] == host && m["tag"] == tag)
            .count()
    };
    assert_eq!(
        (
            to("web-01", "dkfi"),
            to("web-01", "Io  "),
            to("web-02", "dkfi")
        ),
        (2, 1, 1)
    );
    let text = messages[0]["text"].as_str().unwrap();
    assert!(
        text.starts_with("poolsleuth: web-01 is leaking: tag `dkfi` (nonpaged) grows 4.0 MiB/hour, driver dkfilter.sys 12.0.1.2."),
        "{text}"
    );
    assert_eq!(messages[0]["level"], "leaking");
    assert_eq!(messages[0]["driver"], "dkfilter.sys");
    let counts = alerter.counts();
    assert_eq!((counts.sent, counts.failed, counts.dropped), (4, 0, 0));
    assert!(counts.suppressed >= 5, "{counts:?}");
}

#[tokio::test]
async fn a_failing_receiver_is_tried_again_until_it_takes_the_message() {
    let receiver = Arc::new(Receiver::default());
    receiver.fail_first.store(2, Ordering::SeqCst);
    let url = start_receiver(receiver.clone()).await;
    let alerter = hourly(url);
    assert_eq!(alerter.notify(alert("web-01", b"dkfi")), Notified::Queued);
    eventually("the message after two failures", async || {
        receiver.messages.lock().await.len() == 1
    })
    .await;
    assert_eq!(receiver.attempts.load(Ordering::SeqCst), 3);
    let counts = alerter.counts();
    assert_eq!((counts.sent, counts.retried, counts.failed), (1, 2, 0));
}

#[tokio::test]
async fn a_receiver_that_keeps_failing_is_given_up_and_may_be_tried_on_the_next_notice() {
    let receiver = Arc::new(Receiver::default());
    receiver.fail_first.store(usize::MAX, Ordering::SeqCst);
    let url = start_receiver(receiver.clone()).await;
    let alerter = hourly(url);
    alerter.notify(alert("web-01", b"dkfi"));
    eventually("giving up", async || alerter.counts().failed == 1).await;
    assert_eq!(receiver.attempts.load(Ordering::SeqCst), 4);
    // Nothing was delivered, so the next notice is not suppressed.
    assert_eq!(alerter.notify(alert("web-01", b"dkfi")), Notified::Queued);
}

#[tokio::test]
async fn a_dead_receiver_never_blocks_notify() {
    // A listener that accepts connections and never answers, and a port nobody listens on.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    let held = Arc::new(Mutex::new(Vec::new()));
    let keep = held.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = silent.accept().await {
            keep.lock().await.push(socket);
        }
    });
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    for addr in [silent_addr, closed] {
        let url = reqwest::Url::parse(&format!("http://{addr}/hook")).unwrap();
        let alerter = Alerter::with_retry(
            url,
            Duration::from_secs(3600),
            reqwest::Client::new(),
            RetryPolicy::default(),
        );
        let started = Instant::now();
        let mut outcomes = Vec::new();
        for i in 0..2_000 {
            outcomes.push(alerter.notify(alert(&format!("host-{i}"), b"dkfi")));
        }
        let took = started.elapsed();
        assert!(
            took < Duration::from_millis(500),
            "{addr}: 2,000 notices took {took:?}"
        );
        // The queue is bounded: what does not fit is dropped (and logged), not waited for.
        let dropped = outcomes.iter().filter(|o| **o == Notified::Dropped).count();
        assert!(dropped > 1_000, "{addr}: {dropped} dropped");
        assert_eq!(alerter.counts().dropped as usize, dropped);
        assert_eq!(alerter.counts().sent, 0);
    }
}
