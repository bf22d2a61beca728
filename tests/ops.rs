//! Operations: metrics, request ids, and crash safety of the real binary.

mod common;
mod driver_support;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{ServerProcess, TOKEN, spawn_app, start_server_with};

#[tokio::test]
async fn metrics_count_requests_by_route_and_status_and_report_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), Some(TOKEN)).await;
    app.get("/api/v1/tags/Cont").await;
    app.get("/api/v1/tags/Nope").await;
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    for needle in [
        r#"poolsleuth_http_requests_total{method="GET",route="/api/v1/tags/{tag}",status="200"}"#,
        r#"poolsleuth_http_requests_total{method="GET",route="/api/v1/tags/{tag}",status="404"}"#,
        "poolsleuth_http_request_duration_seconds_bucket",
        "poolsleuth_index_entries ",
        r#"poolsleuth_index_entries_by_source_kind{kind="default"}"#,
    ] {
        assert!(text.contains(needle), "{needle} missing in\n{text}");
    }
    // Every response carries a request id, and a caller's own id is kept.
    let response = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "abc-123");
    let response = app.get("/healthz").await;
    assert_eq!(response.headers()["x-request-id"].len(), 36);
}

/// Every metric family says what it counts (`# HELP`), and Prometheus's own linter
/// (`promtool check metrics`) finds nothing to flag. CI installs promtool; elsewhere that
/// half is skipped, saying so.
#[tokio::test]
async fn every_metric_explains_itself_and_promtool_finds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), Some(TOKEN)).await;
    // One of each kind of work, so every family has a sample.
    assert_eq!(
        app.import("mine", "LkaL - leaky.sys - a driver\n").await.0,
        200
    );
    let (status, _) = app
        .analyze(" Tag  Type     Allocs      Frees     Diff   Bytes  Per Alloc\n LkaL Nonp  5000 10 4990 81920000 16416\n")
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .upload_drivers(&[("kmdf.sys", driver_support::read_fixture("kmdf_x64_O2.sys"))])
        .await;
    assert_eq!(status, 201);
    // A fleet sample: samples ingested, and hosts by state.
    let response = app
        .client
        .post(app.url("/api/v1/hosts/web-1/snapshots"))
        .bearer_auth(TOKEN)
        .body(" Tag  Type     Allocs      Frees     Diff   Bytes  Per Alloc\n LkaL Nonp  5000 10 4990 81920000 16416\n")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let text = app.get("/metrics").await.text().await.unwrap();
    assert!(
        text.contains("poolsleuth_fleet_hosts{state=\"collecting\"} 1"),
        "{text}"
    );
    assert!(text.contains("poolsleuth_fleet_samples_total 1"), "{text}");
    let families: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.split(' ').next())
        .collect();
    assert!(families.len() >= 12, "{families:?}");
    for family in &families {
        let help = text.lines().find_map(|l| {
            l.strip_prefix("# HELP ")?
                .strip_prefix(family)?
                .strip_prefix(' ')
        });
        assert!(
            help.is_some_and(|h| h.split_whitespace().count() >= 3),
            "{family} has no # HELP text saying what it counts"
        );
    }
    match Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    {
        Ok(mut promtool) => {
            use std::io::Write;
            promtool
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
            let out = promtool.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "promtool check metrics:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Err(error) => {
            assert!(
                !common::corpus::in_ci(),
                "CI=true and promtool is not installed: {error}"
            );
            eprintln!("skipped promtool: {error} (Debian's package prometheus has it)");
        }
    }
}

/// Reads one unlabelled gauge from `/metrics`.
async fn gauge(app: &common::TestApp, name: &str) -> f64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("{name} missing in\n{text}"))
        .trim()
        .parse()
        .unwrap()
}

/// Polls a gauge until it satisfies `ok` (the refresher runs every second).
async fn wait_for_gauge(app: &common::TestApp, name: &str, ok: impl Fn(f64) -> bool) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let value = gauge(app, name).await;
        if ok(value) {
            return value;
        }
        assert!(Instant::now() < deadline, "{name} stayed at {value}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_attribution_view_is_rebuilt_in_the_background_after_an_import() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), Some(TOKEN)).await;
    // Built at start, without any analysis asking for it.
    wait_for_gauge(&app, "poolsleuth_knowledge_view_current", |v| v == 1.0).await;
    let builds = gauge(&app, "poolsleuth_knowledge_view_builds").await;
    let entries = gauge(&app, "poolsleuth_knowledge_view_entries").await;
    assert!(
        builds >= 1.0 && entries > 0.0,
        "{builds} builds, {entries} entries"
    );

    let (status, _) = app
        .import(
            "background",
            "tag,driver,description\nBgR1,bgr.sys,background refresh\n",
        )
        .await;
    assert_eq!(status, 200);
    // Still no analysis: the refresher alone picks the change up.
    wait_for_gauge(&app, "poolsleuth_knowledge_view_entries", |v| {
        v == entries + 1.0
    })
    .await;
    assert_eq!(gauge(&app, "poolsleuth_knowledge_view_current").await, 1.0);
    assert!(gauge(&app, "poolsleuth_knowledge_view_builds").await > builds);
    assert!(gauge(&app, "poolsleuth_knowledge_view_last_build_seconds").await > 0.0);

    // The analysis sees the new entry at once.
    let response = app
        .client
        .post(app.url("/api/v1/analyze"))
        .body(" Tag  Type     Allocs  Frees  Diff   Bytes  Per Alloc\n BgR1 Nonp 900 100 800 9000000 11250\n")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let analysis: serde_json::Value = response.json().await.unwrap();
    assert_eq!(analysis["suspects"][0]["driver"], "bgr.sys", "{analysis:#}");
}

fn start_server(data_dir: &std::path::Path) -> ServerProcess {
    start_server_with(data_dir, &[])
}

fn big_list(lines: usize) -> String {
    let mut list = String::from("tag,driver,description\n");
    for i in 0..lines {
        list.push_str(&format!(
            "{:04X},crash{}.sys,Crash test entry number {i} with some words\n",
            i % 65536,
            i % 97
        ));
    }
    list
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_9_during_an_import_loses_nothing_committed_and_never_corrupts() {
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let import = |base: String, name: &'static str, body: String| {
        let client = client.clone();
        async move {
            client
                .post(format!("{base}/api/v1/lists?name={name}"))
                .bearer_auth(TOKEN)
                .body(body)
                .send()
                .await
        }
    };

    let mut server = start_server(dir.path());
    let committed = import(
        server.base.clone(),
        "committed",
        "LkaL - leaky.sys - committed before the crash\n".into(),
    )
    .await
    .unwrap();
    assert_eq!(committed.status(), 200);
    let entries_before: u64 = client
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap()["index"]["entries"]
        .as_u64()
        .unwrap();

    // A large import, killed while the server works on it.
    let big = big_list(200_000);
    let in_flight = tokio::spawn(import(server.base.clone(), "interrupted", big.clone()));
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(700) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();
    let interrupted = in_flight.await.unwrap();
    assert!(
        interrupted.is_err(),
        "the import finished before the kill; make the list bigger"
    );

    // Restart on the same data dir: it opens, the committed list is there, and the
    // interrupted one is there completely or not at all.
    let mut server = start_server(dir.path());
    let ready: serde_json::Value = client
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entries_after = ready["index"]["entries"].as_u64().unwrap();
    assert!(
        entries_after == entries_before || entries_after == entries_before + 200_000,
        "partial import visible: {entries_before} before, {entries_after} after"
    );
    let tag: serde_json::Value = client
        .get(format!("{}/api/v1/tags/LkaL", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tag["attributions"][0]["source"], "committed");

    // And the index still takes writes.
    let again = import(server.base.clone(), "interrupted", big)
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_shuts_down_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start_server(dir.path());
    let status = reqwest::get(format!("{}/healthz", server.base))
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    let pid = server.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let started = Instant::now();
    let exit = loop {
        if let Some(exit) = server.child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "still running after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "{exit:?}");
    // The data dir is released: a new server opens it.
    let mut again = start_server(dir.path());
    again.child.kill().unwrap();
    again.child.wait().unwrap();
}
