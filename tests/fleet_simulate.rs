//! `poolsleuth fleet simulate` and the fleet-ingest sender it shares with `collect --host`:
//! the synthetic hosts' series analyzed by the real server name the leaking tag and driver
//! (and nothing after the update), and the requests the sender makes, captured by a local
//! receiver (a small axum server on 127.0.0.1:0): path, `taken_at` order, multipart parts,
//! bearer token.

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use common::ingest_receiver::{Received, Receiver, start_receiver};
use common::spawn_app;
use poolsleuth::ingest_client::{HostName, IngestClient, IngestError, Sample};
use poolsleuth::synthetic_fleet::{
    FIXED_VERSION, FleetPlan, HostRole, LEAKING_DRIVER, LEAKING_TAG, LEAKING_VERSION, send_fleet,
};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const BIN: &str = env!("CARGO_BIN_EXE_poolsleuth");
const START: OffsetDateTime = time::macros::datetime!(2026-11-01 00:00:00 UTC);

fn plan(hosts: usize) -> FleetPlan {
    FleetPlan::new(hosts, 1.0, Duration::from_secs(900), START, 42).unwrap()
}

/// `samples` of `host` as one multipart analysis request: a part per snapshot, then the
/// driver list of the last one.
fn series_form(plan: &FleetPlan, host: usize, samples: &[usize]) -> reqwest::multipart::Form {
    let host = plan.host(host);
    let mut form = reqwest::multipart::Form::new();
    for (k, &i) in samples.iter().enumerate() {
        let sample = plan.sample(&host, i);
        form = form.part(
            format!("snapshot{k}"),
            reqwest::multipart::Part::bytes(sample.snapshot).file_name(sample.snapshot_name),
        );
    }
    let last = plan.sample(&host, *samples.last().unwrap());
    form.part(
        "drivers",
        reqwest::multipart::Part::bytes(last.drivers.unwrap()).file_name("drivers.csv"),
    )
}

async fn analyze_series(
    app: &common::TestApp,
    plan: &FleetPlan,
    host: usize,
    samples: &[usize],
) -> Value {
    let response = app
        .client
        .post(app.url("/api/v1/analyze"))
        .multipart(series_form(plan, host, samples))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn finding<'a>(analysis: &'a Value, tag: &str) -> Option<&'a Value> {
    analysis["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["tag"] == tag)
}

#[tokio::test]
async fn a_leaking_host_names_the_tag_and_driver_and_the_updated_host_is_flat_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), None).await;
    let plan = plan(40);
    let every_8th: Vec<usize> = (0..plan.samples_per_host).step_by(8).collect();

    // A host that leaks all day.
    assert_eq!(plan.host(1).role, HostRole::Leaking);
    let leaking = analyze_series(&app, &plan, 1, &every_8th).await;
    let answer = &leaking["answer"];
    assert_eq!(answer["kind"], "third-party-driver", "{answer:#}");
    assert_eq!(answer["tag"], LEAKING_TAG.to_string(), "{answer:#}");
    assert_eq!(answer["driver"], LEAKING_DRIVER, "{answer:#}");
    assert_eq!(answer["version"], LEAKING_VERSION, "{answer:#}");
    let growth = finding(&leaking, "dkfi").unwrap()["growth"]["bytes_per_hour"]
        .as_f64()
        .unwrap();
    let rate = plan.host(1).leak_bytes_per_hour as f64;
    assert!((growth - rate).abs() < rate * 0.05, "{growth} vs {rate}");

    // The updated host: before the update it leaks; after it, nothing grows.
    let HostRole::FixedByUpdate { update_at } = plan.host(0).role else {
        panic!("host 0 is the updated one");
    };
    let before: Vec<usize> = (0..update_at).step_by(6).collect();
    let before = analyze_series(&app, &plan, 0, &before).await;
    assert_eq!(before["answer"]["driver"], LEAKING_DRIVER, "{before:#}");
    let after: Vec<usize> = (update_at..plan.samples_per_host).step_by(6).collect();
    let after = analyze_series(&app, &plan, 0, &after).await;
    let answer = &after["answer"];
    assert_eq!(answer["kind"], "nothing-abnormal", "{answer:#}");
    assert!(
        !answer["headline"].as_str().unwrap().contains("dkfi"),
        "{answer:#}"
    );
    // Only the largest tags are kept for reference when nothing is abnormal; the driver's
    // tag is among them only if it is large, and then flat.
    if let Some(dkfi) = finding(&after, "dkfi") {
        let growth = dkfi["growth"]["bytes_per_hour"].as_f64().unwrap_or(0.0);
        assert!(growth.abs() < 4096.0, "{dkfi:#}");
    }

    // A flat host running the fixed version: nothing abnormal either.
    let flat = (plan.leaking_hosts()..)
        .find(|&i| plan.host(i).role == HostRole::Flat { runs_driver: true })
        .unwrap();
    let drivers = String::from_utf8(plan.sample(&plan.host(flat), 0).drivers.unwrap()).unwrap();
    assert!(drivers.contains(FIXED_VERSION), "{drivers}");
    let flat = analyze_series(&app, &plan, flat, &every_8th).await;
    assert_eq!(
        flat["answer"]["kind"], "nothing-abnormal",
        "{:#}",
        flat["answer"]
    );
}

/// Every request is one host's sample, with its token and both parts, each host's oldest first.
fn check_requests(requests: &[Received], plan: &FleetPlan, token: &str) {
    assert_eq!(requests.len() as u64, plan.total_samples());
    let mut by_host: BTreeMap<&str, Vec<&Received>> = BTreeMap::new();
    for r in requests {
        by_host.entry(&r.host).or_default().push(r);
        assert_eq!(
            r.authorization.as_deref(),
            Some(&*format!("Bearer {token}"))
        );
        let (file, content_type, snapshot) = &r.parts["snapshot"];
        assert!(file.as_deref().unwrap().starts_with(&r.host), "{file:?}");
        assert_eq!(content_type.as_deref(), Some("text/plain"));
        // The snapshot carries the time the query gives.
        let text = String::from_utf8(snapshot.clone()).unwrap();
        assert!(
            text.starts_with(&r.taken_at.unwrap().format(&Rfc3339).unwrap()),
            "{}",
            &text[..40]
        );
        let (file, _, drivers) = &r.parts["drivers"];
        assert_eq!(file.as_deref(), Some("drivers.csv"));
        assert!(String::from_utf8_lossy(drivers).contains("ntoskrnl.exe"));
        assert_eq!(r.parts.len(), 2, "{:?}", r.parts.keys());
    }
    assert_eq!(by_host.len(), plan.hosts);
    for (i, (host, got)) in by_host.iter().enumerate() {
        assert_eq!(*host, plan.host(i).name.as_str());
        let times: Vec<OffsetDateTime> = got.iter().map(|r| r.taken_at.unwrap()).collect();
        let expected: Vec<OffsetDateTime> = (0..plan.samples_per_host)
            .map(|i| plan.taken_at(i))
            .collect();
        assert_eq!(times, expected, "{host}: oldest first, every interval");
    }
}

#[tokio::test]
async fn the_sender_posts_each_hosts_samples_oldest_first_with_the_token_and_both_parts() {
    let receiver = Arc::new(Receiver::default());
    let base = start_receiver(receiver.clone()).await;
    let plan = FleetPlan::new(5, 0.125, Duration::from_secs(900), START, 3).unwrap();
    assert_eq!(plan.samples_per_host, 12);
    let client = IngestClient::new(
        reqwest::Url::parse(&base).unwrap(),
        "ingest-secret".into(),
        reqwest::Client::new(),
    );
    let report = send_fleet(&plan, &client, 4, |_, _| {}).await.unwrap();
    assert_eq!((report.sent, report.failed), (60, 0));
    check_requests(&receiver.requests.lock().await, &plan, "ingest-secret");
}

#[tokio::test]
async fn the_simulate_command_sends_the_fleet_and_says_the_rate() {
    let receiver = Arc::new(Receiver::default());
    let base = start_receiver(receiver.clone()).await;
    let output = tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .args([
                "fleet",
                "simulate",
                "--hosts",
                "3",
                "--days",
                "0.25",
                "--interval",
                "1h",
                "--start",
                "2026-11-01T00:00:00Z",
                "--seed",
                "9",
                "--concurrency",
                "2",
                "--server",
                &base,
                "--token",
                "tok",
            ])
            .env_remove("POOLSLEUTH_SERVER")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.starts_with("sent 18 samples of 3 hosts in ") && stdout.contains(" samples/s"),
        "{stdout}"
    );
    assert!(
        stderr.contains("sim-00000 is updated to 12.2.0.5"),
        "{stderr}"
    );
    let plan = FleetPlan::new(3, 0.25, Duration::from_secs(3600), START, 9).unwrap();
    check_requests(&receiver.requests.lock().await, &plan, "tok");
    // The same seed sends the same bytes.
    let requests = receiver.requests.lock().await;
    let first = requests
        .iter()
        .find(|r| r.host == "sim-00001" && r.taken_at == Some(START))
        .unwrap();
    assert_eq!(
        first.parts["snapshot"].2,
        plan.sample(&plan.host(1), 0).snapshot
    );
}

#[tokio::test]
async fn a_server_without_fleet_ingest_or_a_wrong_token_stops_the_sender_with_a_clear_error() {
    // Today's server has no fleet ingest route: the sender says so instead of retrying.
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), Some(common::TOKEN)).await;
    let plan = FleetPlan::new(2, 0.125, Duration::from_secs(900), START, 3).unwrap();
    let client = IngestClient::new(
        reqwest::Url::parse(&app.base).unwrap(),
        common::TOKEN.into(),
        reqwest::Client::new(),
    );
    match send_fleet(&plan, &client, 2, |_, _| {}).await {
        // Once the fleet core is merged, the server stores the samples.
        Ok(report) => assert_eq!(report.sent, plan.total_samples()),
        Err(e) => {
            assert!(matches!(e, IngestError::NoFleetIngest { .. }), "{e}");
            assert!(e.to_string().contains("has no fleet ingest"), "{e}");
        }
    }

    let refusing = Arc::new(Receiver {
        status: Some(StatusCode::UNAUTHORIZED),
        ..Receiver::default()
    });
    let base = start_receiver(refusing).await;
    let client = IngestClient::new(
        reqwest::Url::parse(&base).unwrap(),
        "wrong".into(),
        reqwest::Client::new(),
    );
    let e = send_fleet(&plan, &client, 2, |_, _| {}).await.unwrap_err();
    assert!(e.to_string().contains("refused the token"), "{e}");

    // One sample as `collect --host` sends it: the same client.
    let receiver = Arc::new(Receiver::default());
    let base = start_receiver(receiver.clone()).await;
    let client = IngestClient::new(
        reqwest::Url::parse(&base).unwrap(),
        "host-token".into(),
        reqwest::Client::new(),
    );
    let host = HostName::parse("SQL_02.corp").unwrap();
    let at = time::macros::datetime!(2026-11-02 08:30:00 UTC);
    client
        .send(
            &host,
            &Sample {
                taken_at: at,
                snapshot_name: "pool-20261102T083000Z.txt".into(),
                snapshot: b"2026-11-02T08:30:00Z\n".to_vec(),
                drivers: Some(b"\"Name\"\r\n".to_vec()),
            },
        )
        .await
        .unwrap();
    let got = receiver.requests.lock().await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].host, "SQL_02.corp");
    assert_eq!(got[0].taken_at, Some(at));
    assert_eq!(got[0].authorization.as_deref(), Some("Bearer host-token"));
    assert_eq!(
        got[0].parts["snapshot"].0.as_deref(),
        Some("pool-20261102T083000Z.txt")
    );
}
