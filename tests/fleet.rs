//! Fleet watch (issue 29): hosts push poolmon screens with their driver lists; the server
//! stores them, reads each host's state with the attribution pipeline, and compares hosts.
//! Every scenario runs on SQLite (in the data dir) and on PostgreSQL
//! (`POOLSLEUTH_TEST_DATABASE_URL`, started by `scripts/test-postgres.sh`; each test creates
//! its own database there).

mod common;

use std::time::Duration;

use common::{TOKEN, spawn_app_with};
use poolsleuth::http::HttpConfig;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const INGEST: &str = "test-ingest-token";

/// Where a scenario's fleet database is.
#[derive(Debug, Clone)]
enum Db {
    Sqlite,
    Postgres(String),
}

impl Db {
    fn url(&self) -> Option<String> {
        match self {
            Self::Sqlite => None,
            Self::Postgres(url) => Some(url.clone()),
        }
    }
}

/// A fresh PostgreSQL database for one test, or `None` (skipped, saying so) when no server was
/// given outside CI; under CI a missing server fails.
async fn postgres() -> Option<Db> {
    let Some(admin) = std::env::var("POOLSLEUTH_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        assert!(
            !common::corpus::in_ci(),
            "CI=true and POOLSLEUTH_TEST_DATABASE_URL is not set: .ci/run starts PostgreSQL for the fleet tests"
        );
        eprintln!(
            "skipped: the PostgreSQL variant needs POOLSLEUTH_TEST_DATABASE_URL (scripts/test-postgres.sh starts one)"
        );
        return None;
    };
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&admin)
        .await
        .expect("connect to the test PostgreSQL");
    let name = format!(
        "fleet_{}",
        poolsleuth::fleet::new_token().get(..16).unwrap()
    );
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap();
    let base = admin.rsplit_once('/').unwrap().0;
    Some(Db::Postgres(format!("{base}/{name}")))
}

/// Declares a test on SQLite and on PostgreSQL.
macro_rules! on_both {
    ($scenario:ident, $sqlite:ident, $pg:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $sqlite() {
            $scenario(Db::Sqlite).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $pg() {
            if let Some(db) = postgres().await {
                $scenario(db).await;
            }
        }
    };
}

async fn spawn(dir: &std::path::Path, db: &Db) -> common::TestApp {
    let mut config = HttpConfig {
        admin_token: Some(TOKEN.to_owned()),
        ingest_token: Some(INGEST.to_owned()),
        ..HttpConfig::default()
    };
    config.fleet.database_url = db.url();
    spawn_app_with(dir, config).await
}

/// A poolmon screen (`poolmon -b -n`) of 300 tags: 299 steady ones, and `LkaL` at `leak`
/// bytes.
fn screen(leak: u64) -> String {
    let mut s = String::from(
        " Tag  Type     Allocs            Frees            Diff   Bytes       Per Alloc\n",
    );
    s.push_str(&format!(
        " LkaL Nonp  {:>9} (   0)  {:>9} (   0) {:>8} {:>11} (   0) {:>6}\n",
        leak / 64 + 10,
        10,
        leak / 64,
        leak,
        64
    ));
    for i in 0..299u32 {
        let tag = format!("T{:03}", i);
        let pool = if i % 2 == 0 { "Paged" } else { "Nonp " };
        let bytes = 1_000_000 - u64::from(i) * 3_000;
        s.push_str(&format!(
            " {tag} {pool} {:>9} (   0)  {:>9} (   0) {:>8} {:>11} (   0) {:>6}\n",
            200,
            100,
            100,
            bytes,
            bytes / 100
        ));
    }
    s
}

/// A PowerShell driver list (CSV with file versions) with dkfilter.sys at `version`.
fn drivers(version: &str) -> String {
    format!(
        "\"Name\",\"DisplayName\",\"State\",\"PathName\",\"FileVersion\"\r\n\
         \"dkfilter\",\"DK Filter\",\"Running\",\"C:\\Windows\\system32\\drivers\\dkfilter.sys\",\"{version}\"\r\n\
         \"Ntfs\",\"Ntfs\",\"Running\",\"C:\\Windows\\system32\\drivers\\ntfs.sys\",\"10.0.19041.1\"\r\n"
    )
}

/// `hour` hours after 2026-11-29 00:53 UTC.
fn at(hour: i64) -> String {
    at_minute(hour * 60)
}

fn at_minute(minute: i64) -> String {
    (OffsetDateTime::from_unix_timestamp(1_796_000_000).unwrap() + time::Duration::minutes(minute))
        .format(&Rfc3339)
        .unwrap()
}

async fn push(
    app: &common::TestApp,
    host: &str,
    token: Option<&str>,
    taken_at: &str,
    snapshot: String,
    driver_list: Option<String>,
) -> (u16, Value) {
    let mut form = reqwest::multipart::Form::new().part(
        "snapshot",
        reqwest::multipart::Part::text(snapshot).file_name("poolmon.txt"),
    );
    if let Some(list) = driver_list {
        form = form.part(
            "drivers",
            reqwest::multipart::Part::text(list).file_name("drivers.csv"),
        );
    }
    let mut request = app
        .client
        .post(app.url(&format!("/api/v1/hosts/{host}/snapshots")))
        .query(&[("taken_at", taken_at)])
        .multipart(form);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// A push the server refuses before reading the body (a bad host name or token): a small
/// raw body, sent whole before the answer comes (a big one would meet a closed connection).
async fn refused_push(
    app: &common::TestApp,
    host: &str,
    token: Option<&str>,
    taken_at: &str,
) -> (u16, Value) {
    let mut request = app
        .client
        .post(app.url(&format!("/api/v1/hosts/{host}/snapshots")))
        .query(&[("taken_at", taken_at)])
        .body(" Tag  Type  Allocs  Frees  Diff  Bytes  Per Alloc\n LkaL Nonp  5000 10 4990 81920000 16416\n");
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// The knowledge base names the tag's driver, as an imported list would.
async fn import_tag_list(app: &common::TestApp) {
    let (status, body) = app
        .import("dk", "LkaL - dkfilter.sys - DK filter driver\n")
        .await;
    assert_eq!(status, 200, "{body}");
    // The attribution view is rebuilt in the background after an import.
    for _ in 0..100 {
        let (_, a) = app.analyze(screen(1000)).await;
        if a.to_string().contains("dkfilter.sys") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the imported list never reached the analysis");
}

const MIB: u64 = 1024 * 1024;

/// A local webhook: the alert messages it received.
async fn webhook() -> (reqwest::Url, std::sync::Arc<std::sync::Mutex<Vec<Value>>>) {
    let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let store = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(message): axum::Json<Value>| {
            let store = store.clone();
            async move {
                store.lock().unwrap().push(message);
                "ok"
            }
        }),
    );
    let addr = common::serve_local(app).await;
    (format!("http://{addr}/hook").parse().unwrap(), received)
}

/// Three hosts leak `LkaL` under dkfilter.sys 12.0.1.2; two with 12.2.0.5 are flat; one is
/// updated mid-way, after which its growth stops.
async fn a_simulated_fleet_is_read_right(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let (hook, alerts) = webhook().await;
    let mut config = HttpConfig {
        admin_token: Some(TOKEN.to_owned()),
        ingest_token: Some(INGEST.to_owned()),
        alerts: Some(poolsleuth::alerts::AlertConfig {
            webhook: hook,
            every: Duration::from_secs(6 * 3600),
        }),
        ..HttpConfig::default()
    };
    config.fleet.database_url = db.url();
    let app = spawn_app_with(dir.path(), config).await;
    import_tag_list(&app).await;
    let (old, new) = ("12.0.1.2", "12.2.0.5");
    let mut changes = Vec::new();
    for host in ["leak-1", "leak-2", "leak-3"] {
        // Pushed newest first: samples arriving out of order are stored in order.
        for h in (0..8).rev() {
            let (status, body) = push(
                &app,
                host,
                Some(INGEST),
                &at(h),
                screen(50 * MIB + h as u64 * 4 * MIB),
                Some(drivers(old)),
            )
            .await;
            assert_eq!(status, 201, "{body}");
            if !body["change"].is_null() {
                changes.push(body["change"].clone());
            }
        }
    }
    for host in ["ok-1", "ok-2"] {
        for h in 0..8 {
            let (status, body) = push(
                &app,
                host,
                Some(INGEST),
                &at(h),
                screen(50 * MIB),
                Some(drivers(new)),
            )
            .await;
            assert_eq!(status, 201, "{body}");
        }
    }
    // Grows for 8 hours under the old version; flat for 32 under the new one.
    push_updated_host(&app, "fixed-1", 8, 40).await;

    let (status, hosts) = app.get_json("/api/v1/hosts").await;
    assert_eq!(status, 200, "{hosts}");
    let state = |name: &str| {
        hosts["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {hosts}"))
            .clone()
    };
    for host in ["leak-1", "leak-2", "leak-3"] {
        let h = state(host);
        assert_eq!(h["state"], "leaking", "{h}");
        assert_eq!(h["growth"]["tag"], "LkaL", "{h}");
        assert_eq!(h["growth"]["driver"], "dkfilter.sys", "{h}");
        assert_eq!(h["growth"]["version"], old, "{h}");
        assert_eq!(h["samples"], 8, "{h}");
        let rate = h["growth"]["bytes_per_hour"].as_f64().unwrap();
        assert!((rate - 4.0 * MIB as f64).abs() < 1024.0, "{h}");
    }
    for host in ["ok-1", "ok-2", "fixed-1"] {
        assert_eq!(state(host)["state"], "healthy", "{}", state(host));
    }
    // Worst first.
    assert_eq!(hosts["hosts"][0]["state"], "leaking", "{hosts}");
    // One change to `leaking` per leaking host, with what an alert needs.
    let leaking: Vec<&Value> = changes.iter().filter(|c| c["state"] == "leaking").collect();
    assert_eq!(leaking.len(), 3, "{changes:?}");
    for c in &leaking {
        assert_eq!(c["growth"]["tag"], "LkaL", "{c}");
        assert_eq!(c["growth"]["driver"], "dkfilter.sys", "{c}");
        assert!(
            c["headline"]
                .as_str()
                .unwrap()
                .contains("dkfilter.sys 12.0.1.2"),
            "{c}"
        );
    }

    let (status, fleet) = app.get_json("/api/v1/fleet").await;
    assert_eq!(status, 200, "{fleet}");
    let c = &fleet["correlations"][0];
    assert_eq!(c["tag"], "LkaL", "{fleet}");
    assert_eq!(c["driver"], "dkfilter.sys", "{fleet}");
    assert_eq!(c["version"], old, "{fleet}");
    assert_eq!(
        c["hosts_growing"],
        serde_json::json!(["leak-1", "leak-2", "leak-3"]),
        "{fleet}"
    );
    let mut flat: Vec<String> = c["hosts_flat"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap().to_owned())
        .collect();
    flat.sort();
    assert_eq!(flat, ["fixed-1", "ok-1", "ok-2"], "{fleet}");
    assert_eq!(c["flat_versions"], serde_json::json!([new]), "{fleet}");
    assert_eq!(
        c["sentence"],
        "`LkaL` grows on all 3 hosts that run dkfilter.sys 12.0.1.2 and on none of the 3 that run 12.2.0.5.",
        "{fleet}"
    );
    assert_eq!(fleet["counts"]["leaking"], 3, "{fleet}");
    assert_eq!(fleet["counts"]["healthy"], 3, "{fleet}");

    let (status, fixed) = app.get_json("/api/v1/hosts/fixed-1").await;
    assert_eq!(status, 200, "{fixed}");
    let events = fixed["timeline"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{fixed}");
    let text = events[0]["text"].as_str().unwrap();
    assert!(text.contains("dkfilter.sys 12.0.1.2 → 12.2.0.5"), "{text}");
    assert!(
        text.contains("the growth of `LkaL` (nonpaged) stopped after it"),
        "{text}"
    );
    assert_eq!(events[0]["at"], at(8), "{fixed}");
    // Read from the samples since the update: healthy, and an answer that says so, not the
    // old drivers' growth.
    assert_eq!(fixed["state"], "healthy", "{fixed}");
    let headline = fixed["answer"]["headline"].as_str().unwrap();
    assert!(!headline.contains("grow"), "{headline}");
    assert_eq!(
        fixed["series"]["times"].as_array().unwrap().len(),
        40,
        "{fixed}"
    );
    let (status, leak) = app.get_json("/api/v1/hosts/leak-2").await;
    assert_eq!(status, 200, "{leak}");
    assert_eq!(leak["answer"]["driver"], "dkfilter.sys", "{leak}");
    let lkal = leak["series"]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tag"] == "LkaL")
        .unwrap();
    let bytes: Vec<u64> = lkal["bytes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_u64().unwrap())
        .collect();
    assert_eq!(
        bytes,
        (0..8).map(|h| 50 * MIB + h * 4 * MIB).collect::<Vec<_>>(),
        "in time order"
    );
    let (status, _) = app.get_json("/api/v1/hosts/nobody").await;
    assert_eq!(status, 404);

    // One webhook message per host and tag: the three leaking hosts, and the updated one
    // while it leaked.
    let mut hosts_alerted = Vec::new();
    for _ in 0..100 {
        hosts_alerted = alerts
            .lock()
            .unwrap()
            .iter()
            .map(|m| m["host"].as_str().unwrap_or("").to_owned())
            .collect::<Vec<_>>();
        if hosts_alerted.len() >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    hosts_alerted.sort();
    assert_eq!(
        hosts_alerted,
        ["fixed-1", "leak-1", "leak-2", "leak-3"],
        "{:?}",
        alerts.lock().unwrap()
    );
    for m in alerts.lock().unwrap().iter() {
        assert_eq!(m["tag"], "LkaL", "{m}");
        assert!(m["text"].as_str().unwrap().contains("dkfilter.sys"), "{m}");
    }
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("poolsleuth_fleet_hosts{state=\"leaking\"} 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("poolsleuth_fleet_samples_total"),
        "{metrics}"
    );
    app.stop().await;
}
on_both!(
    a_simulated_fleet_is_read_right,
    fleet_on_sqlite,
    fleet_on_postgres
);

/// The ingest token pushes samples and nothing else; a host's token pushes that host only;
/// no token is a 401.
async fn tokens_push_what_they_may(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn(dir.path(), &db).await;
    let (status, body) = refused_push(&app, "web-1", None, &at(0)).await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = refused_push(&app, "web-1", Some("wrong"), &at(0)).await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = push(&app, "web-1", Some(INGEST), &at(0), screen(MIB), None).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["state"], "collecting", "{body}");
    let (status, body) = push(&app, "web-1", Some(TOKEN), &at(1), screen(MIB), None).await;
    assert_eq!(status, 201, "{body}");
    // The ingest token imports no list and creates no token.
    let response = app
        .client
        .post(app.url("/api/v1/lists"))
        .query(&[("name", "x")])
        .bearer_auth(INGEST)
        .body("Abcd - abcd.sys\n")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let create = |token: &'static str, host: &'static str| {
        app.client
            .post(app.url(&format!("/api/v1/hosts/{host}/tokens")))
            .bearer_auth(token)
            .send()
    };
    assert_eq!(create(INGEST, "web-1").await.unwrap().status(), 401);
    let response = create(TOKEN, "web-1").await.unwrap();
    assert_eq!(response.status(), 201);
    let issued: Value = response.json().await.unwrap();
    let host_token = issued["token"].as_str().unwrap().to_owned();
    assert_eq!(host_token.len(), 64, "{issued}");
    let (status, body) = push(&app, "web-1", Some(&host_token), &at(2), screen(MIB), None).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = refused_push(&app, "web-2", Some(&host_token), &at(2)).await;
    assert_eq!(status, 401, "{body}");
    let (_, hosts) = app.get_json("/api/v1/hosts").await;
    assert_eq!(hosts["hosts"].as_array().unwrap().len(), 1, "{hosts}");
    assert_eq!(hosts["hosts"][0]["samples"], 3, "{hosts}");
    app.stop().await;
}
on_both!(
    tokens_push_what_they_may,
    tokens_on_sqlite,
    tokens_on_postgres
);

/// Bad host names, times and bodies get the analysis's errors and store nothing.
async fn bad_input_stores_nothing(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn(dir.path(), &db).await;
    let long = "x".repeat(64);
    for host in ["bad%20name", long.as_str(), "a%2Fb", "%C3%A9t%C3%A9"] {
        let (status, body) = refused_push(&app, host, Some(INGEST), &at(0)).await;
        assert_eq!(status, 400, "{host}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("host name"),
            "{body}"
        );
    }
    let (status, body) = refused_push(&app, "web-1", Some(INGEST), "yesterday").await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("RFC 3339"),
        "{body}"
    );
    // Not a snapshot: a driver file, an empty body, a tag list.
    let mut pe = vec![0u8; 4096];
    pe[..2].copy_from_slice(b"MZ");
    let raw = |body: Vec<u8>| {
        app.client
            .post(app.url("/api/v1/hosts/web-1/snapshots"))
            .bearer_auth(INGEST)
            .body(body)
            .send()
    };
    assert_eq!(raw(pe).await.unwrap().status(), 422);
    assert_eq!(raw(Vec::new()).await.unwrap().status(), 400);
    let (status, body) = push(
        &app,
        "web-1",
        Some(INGEST),
        &at(0),
        screen(MIB),
        Some("\u{0}\u{1}\u{2}garbage\u{3}".repeat(100)),
    )
    .await;
    assert!(status == 422 || status == 400, "{status} {body}");
    let (_, hosts) = app.get_json("/api/v1/hosts").await;
    assert_eq!(hosts["hosts"], serde_json::json!([]), "{hosts}");
    // A raw body (as curl --data-binary sends it) works as well.
    let response = raw(screen(MIB).into_bytes()).await.unwrap();
    assert_eq!(response.status(), 201);
    app.stop().await;
}
on_both!(
    bad_input_stores_nothing,
    bad_input_on_sqlite,
    bad_input_on_postgres
);

/// Killing the server (SIGKILL) during a stream of samples loses at most the one in flight,
/// and a restart keeps every sample acknowledged.
async fn samples_survive_kill_and_restart(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let url = db.url().unwrap_or_default();
    let env = [
        ("POOLSLEUTH_INGEST_TOKEN", INGEST),
        ("POOLSLEUTH_DATABASE_URL", url.as_str()),
    ];
    let env: Vec<(&str, &str)> = env.into_iter().filter(|(_, v)| !v.is_empty()).collect();
    let server = common::start_server_with(dir.path(), &env);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let base = server.base.clone();
    let pusher = tokio::spawn(async move {
        let mut acknowledged = 0u64;
        for h in 0..10_000 {
            let sent = client
                .post(format!("{base}/api/v1/hosts/web-1/snapshots"))
                // Every minute: the sample times stay in the past however many are sent.
                .query(&[("taken_at", at_minute(h))])
                .bearer_auth(INGEST)
                .body(screen(MIB + h as u64))
                .send()
                .await;
            match sent {
                Ok(r) if r.status() == 201 => acknowledged += 1,
                Ok(r) => panic!("{}", r.status()),
                Err(_) => break,
            }
        }
        acknowledged
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    drop(server); // SIGKILL
    let acknowledged = pusher.await.unwrap();
    assert!(acknowledged > 0);
    let server = common::start_server_with(dir.path(), &env);
    let host: Value = reqwest::get(format!("{}/api/v1/hosts/web-1", server.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let stored = host["samples"].as_u64().unwrap();
    assert!(
        stored == acknowledged || stored == acknowledged + 1,
        "acknowledged {acknowledged}, stored {stored}"
    );
}
on_both!(
    samples_survive_kill_and_restart,
    kill_on_sqlite,
    kill_on_postgres
);

/// Hourly samples of `host`: `LkaL` grows 4 MiB an hour under dkfilter.sys 12.0.1.2 for
/// `leaking_hours`, then stays flat under 12.2.0.5 until `hours`.
async fn push_updated_host(app: &common::TestApp, host: &str, leaking_hours: i64, hours: i64) {
    for h in 0..hours {
        let (version, leak) = if h < leaking_hours {
            ("12.0.1.2", 50 * MIB + h as u64 * 4 * MIB)
        } else {
            ("12.2.0.5", 50 * MIB + (leaking_hours - 1) as u64 * 4 * MIB)
        };
        let (status, body) = push(
            app,
            host,
            Some(INGEST),
            &at(h),
            screen(leak),
            Some(drivers(version)),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }
}

/// A driver update inside the host's last day starts its window anew: read across the
/// update, 12 hours of growth then 4 flat ones made the host leaking (or healthy with an
/// answer still quoting the growth); read from the samples since, it is healthy and says so.
#[tokio::test]
async fn a_driver_update_starts_the_hosts_window_anew() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn(dir.path(), &Db::Sqlite).await;
    import_tag_list(&app).await;
    push_updated_host(&app, "late-fix", 12, 16).await;
    let (status, host) = app.get_json("/api/v1/hosts/late-fix").await;
    assert_eq!(status, 200, "{host}");
    assert_eq!(host["state"], "healthy", "{host}");
    let headline = host["answer"]["headline"].as_str().unwrap();
    assert!(!headline.contains("grow"), "{headline}");
    let timeline = host["timeline"][0]["text"].as_str().unwrap();
    assert!(timeline.contains("stopped after it"), "{timeline}");
}

/// Retention rolls samples past the kept days up into hourly rows; run at a given "now".
#[tokio::test]
async fn retention_rolls_old_samples_up() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn(dir.path(), &Db::Sqlite).await;
    for h in 0..6 {
        let (status, body) = push(&app, "web-1", Some(INGEST), &at(h), screen(MIB), None).await;
        assert_eq!(status, 201, "{body}");
    }
    app.stop().await;
    let fleet =
        poolsleuth::fleet::Fleet::new(poolsleuth::fleet::FleetConfig::default(), dir.path());
    let start = OffsetDateTime::parse(&at(0), &Rfc3339).unwrap();
    // Ten days on: nothing is old enough.
    let outcome = fleet
        .enforce_retention(start + time::Duration::days(10))
        .await
        .unwrap();
    assert_eq!(outcome.samples_removed, 0);
    // 14 days and 3 hours on: the first three samples go, into three hourly rows per tag.
    let outcome = fleet
        .enforce_retention(start + time::Duration::days(14) + time::Duration::minutes(150))
        .await
        .unwrap();
    assert_eq!(outcome.samples_removed, 3);
    let db = fleet.database().await.unwrap();
    use sqlx::Row;
    let hourly: i64 = sqlx::query("SELECT COUNT(DISTINCT hour) FROM hourly")
        .fetch_one(&db.pool)
        .await
        .unwrap()
        .get(0);
    assert_eq!(hourly, 3);
    // A year and more on: the hourly rows go too.
    let outcome = fleet
        .enforce_retention(start + time::Duration::days(400))
        .await
        .unwrap();
    assert_eq!(outcome.samples_removed, 3);
    assert!(outcome.hourly_rows_removed > 0);
}

/// Database bytes per host-day: one host, 96 samples a day of a 300-tag screen, on SQLite.
/// Run with `cargo test --test fleet database_size -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement (minutes in a debug build); its figure is in README"]
async fn database_size_per_host_day() {
    let days: i64 = std::env::var("FLEET_SIZE_DAYS")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(3);
    let dir = tempfile::tempdir().unwrap();
    let app = spawn(dir.path(), &Db::Sqlite).await;
    let start = std::time::Instant::now();
    let base = OffsetDateTime::from_unix_timestamp(1_796_000_000).unwrap();
    for i in 0..days * 96 {
        let taken = (base + time::Duration::minutes(15 * i))
            .format(&Rfc3339)
            .unwrap();
        // Realistic noise: every tag moves a little each sample.
        let noisy = screen(50 * MIB)
            .lines()
            .enumerate()
            .map(|(n, l)| {
                if n < 2 {
                    return l.to_owned();
                }
                let wiggle = (i as usize * 7 + n * 13) % 5;
                l.replacen(" (   0) ", &format!(" ({wiggle:>4}) "), 1)
            })
            .collect::<Vec<_>>()
            .join("\n");
        let (status, body) = push(
            &app,
            "web-1",
            Some(INGEST),
            &taken,
            noisy,
            Some(drivers("1.0")),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }
    let elapsed = start.elapsed();
    let fleet =
        poolsleuth::fleet::Fleet::new(poolsleuth::fleet::FleetConfig::default(), dir.path());
    app.stop().await;
    let db = fleet.database().await.unwrap();
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&db.pool)
        .await
        .unwrap();
    let bytes = db.size_bytes().await.unwrap();
    println!(
        "{days} days x 96 samples: {bytes} bytes, {} bytes per host-day; {:.1} samples/s (debug build, one client)",
        bytes / days,
        (days * 96) as f64 / elapsed.as_secs_f64()
    );
}

/// Two server processes on one PostgreSQL database (as behind a load balancer): started at
/// once (one applies the migration, the other waits for it), samples pushed to either are
/// read from both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_share_one_postgres_database() {
    let Some(Db::Postgres(url)) = postgres().await else {
        return;
    };
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let start = |dir: std::path::PathBuf, url: String| {
        std::thread::spawn(move || {
            common::start_server_with(
                &dir,
                &[
                    ("POOLSLEUTH_INGEST_TOKEN", INGEST),
                    ("POOLSLEUTH_DATABASE_URL", &url),
                ],
            )
        })
    };
    let a = start(dir_a.path().to_owned(), url.clone());
    let b = start(dir_b.path().to_owned(), url);
    let servers = [a.join().unwrap(), b.join().unwrap()];
    let client = reqwest::Client::new();
    let mut pushes = Vec::new();
    for (i, host) in ["db-1", "db-2", "db-3"].into_iter().enumerate() {
        for h in 0..6 {
            // Every other sample to the other server, all at once.
            let base = servers[(i + h as usize) % 2].base.clone();
            let client = client.clone();
            pushes.push(tokio::spawn(async move {
                client
                    .post(format!("{base}/api/v1/hosts/{host}/snapshots"))
                    .query(&[("taken_at", at(h))])
                    .bearer_auth(INGEST)
                    .body(screen(MIB + h as u64 * MIB))
                    .send()
                    .await
                    .unwrap()
                    .status()
            }));
        }
    }
    for push in pushes {
        assert_eq!(push.await.unwrap(), 201);
    }
    for server in &servers {
        let hosts: Value = client
            .get(format!("{}/api/v1/hosts", server.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let hosts = hosts["hosts"].as_array().unwrap();
        assert_eq!(hosts.len(), 3, "{hosts:?}");
        assert!(hosts.iter().all(|h| h["samples"] == 6), "{hosts:?}");
    }
}

/// A full disk under the SQLite file: the sample is refused with 507 `disk_full`, nothing of
/// it is stored, and pushing works again once there is space.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_the_sample_and_heals() {
    let mount_point = tempfile::tempdir().unwrap();
    let Some(disk) = common::disk::SmallDisk::mount(mount_point.path(), 64 << 20) else {
        return;
    };
    let data_dir = disk.dir.join("data");
    let app = spawn(&data_dir, &Db::Sqlite).await;
    for h in 0..3 {
        let (status, body) = push(&app, "web-1", Some(INGEST), &at(h), screen(MIB), None).await;
        assert_eq!(status, 201, "{body}");
    }
    let fill = disk.fill();
    let (status, body) = push(&app, "web-1", Some(INGEST), &at(3), screen(MIB), None).await;
    assert_eq!(status, 507, "{body}");
    assert_eq!(body["error"]["code"], "disk_full", "{body}");
    std::fs::remove_file(&fill).unwrap();
    let (_, host) = app.get_json("/api/v1/hosts/web-1").await;
    assert_eq!(host["samples"], 3, "{host}");
    let (status, body) = push(&app, "web-1", Some(INGEST), &at(3), screen(MIB), None).await;
    assert_eq!(status, 201, "{body}");
    let (_, host) = app.get_json("/api/v1/hosts/web-1").await;
    assert_eq!(host["samples"], 4, "{host}");
    app.stop().await;
    drop(disk);
}
