//! Faults an operator meets (issue 25): a full data disk, a first start cut short, names that
//! mean something else in paths, and file names carrying control characters.

mod common;
mod driver_support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::disk::SmallDisk;
use common::{TOKEN, spawn_app};
use serde_json::Value;

#[tokio::test]
async fn dot_names_are_refused_and_control_characters_in_file_names_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), Some(TOKEN)).await;
    for name in [".", ".."] {
        let (status, body) = app.import(name, "LkaL - a.sys - b\n").await;
        assert_eq!(status, 400, "{name}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("reserved"), "{message}");
    }
    // Names with dots and more are still fine.
    assert_eq!(app.import("...x", "LkaL - a.sys - b\n").await.0, 200);

    // Control characters in a file name: those multipart headers can carry (a tab and the
    // C1 escape introducer CSI), and a NUL and ESC in the raw upload's name.
    let driver = driver_support::read_fixture("kmdf_x64_O2.sys");
    let (status, report) = app
        .upload_drivers(&[("evil\t\u{9b}31m.sys", driver.clone())])
        .await;
    assert_eq!(status, 201, "{report}");
    let stored_name = report["files"][0]["file_name"].as_str().unwrap();
    assert_eq!(stored_name, "evil\u{fffd}\u{fffd}31m.sys");
    let mut other = driver;
    other.extend_from_slice(b"another file");
    let response = app
        .client
        .post(app.url("/api/v1/drivers"))
        .query(&[("name", "raw\0\u{1b}[31m.sys")])
        .bearer_auth(TOKEN)
        .body(other)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);

    let (_, lists) = app.get_json("/api/v1/lists").await;
    let origins: Vec<&str> = lists
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["origin"].as_str())
        .collect();
    assert!(
        origins.contains(&"evil\u{fffd}\u{fffd}31m.sys"),
        "{origins:?}"
    );
    assert!(
        origins.contains(&"raw\u{fffd}\u{fffd}[31m.sys"),
        "{origins:?}"
    );
    assert!(origins.iter().all(|o| !o.chars().any(char::is_control)));
    let page = app.get("/sources").await.text().await.unwrap();
    assert!(
        !page
            .chars()
            .any(|c| matches!(c, '\0' | '\u{1b}' | '\u{7f}' | '\u{9b}'))
    );
}

#[tokio::test]
async fn an_empty_schema_marker_over_an_index_without_a_commit_is_a_new_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    // What a first start on a full disk left behind before markers were written atomically.
    std::fs::create_dir_all(dir.path().join("index")).unwrap();
    std::fs::write(dir.path().join("index/SCHEMA_VERSION"), "").unwrap();
    let app = spawn_app(dir.path(), Some(TOKEN)).await;
    let (status, ready) = app.get_json("/readyz").await;
    assert_eq!(status, 200, "{ready}");
    app.stop().await;
    assert_eq!(
        std::fs::read_to_string(dir.path().join("index/SCHEMA_VERSION")).unwrap(),
        "1"
    );

    // A marker that says another version over an index that holds data is still refused.
    std::fs::write(dir.path().join("index/SCHEMA_VERSION"), "").unwrap();
    let vendors = std::sync::Arc::new(poolsleuth::vendor::VendorDirectory::embedded());
    let error = poolsleuth::cli::open_index(dir.path(), vendors, poolsleuth::cli::Writer::Serve)
        .await
        .err()
        .expect("an index with commits and an empty marker is refused");
    assert!(error.to_string().contains("schema version"), "{error}");
}

/// The index directory's files, by name (tantivy's lock files aside).
fn index_files(data_dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(data_dir.join("index"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".lock"))
        .collect();
    names.sort();
    names
}

fn assert_disk_full(status: u16, body: &Value, what: &str) {
    assert_eq!(status, 507, "{what}: {body}");
    assert_eq!(body["error"]["code"], "disk_full", "{what}: {body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("the data disk is full: ")
            && message.ends_with(" bytes free; delete a source or free space"),
        "{what}: {message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_reported_leaves_nothing_behind_and_heals_when_space_is_free() {
    let mount_point = tempfile::tempdir().unwrap();
    let Some(disk) = SmallDisk::mount(mount_point.path(), 64 << 20) else {
        return;
    };
    let data_dir = disk.dir.join("data");
    let app = spawn_app(&data_dir, Some(TOKEN)).await;
    let list: String = (0..3000)
        .map(|i| format!("L{:03} - leak{i}.sys - a leaking driver\n", i % 1000))
        .collect();
    assert_eq!(app.import("wdk", list.clone()).await.0, 200);
    let before = index_files(&data_dir);
    let fill = disk.fill();

    // Every write says the disk is full, as JSON, on the page and to `scan`; none leaves a file.
    let (status, body) = app.import("more", list.clone()).await;
    assert_disk_full(status, &body, "import");
    let (status, body) = app
        .upload_drivers(&[("a.sys", driver_support::read_fixture("kmdf_x64_O2.sys"))])
        .await;
    assert_disk_full(status, &body, "driver upload");
    for _ in 0..3 {
        let response = app
            .client
            .delete(app.url("/api/v1/lists/wdk"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        if status != 200 {
            let body: Value = response.json().await.unwrap();
            assert_disk_full(status, &body, "delete");
        }
    }
    let scan = Command::new(env!("CARGO_BIN_EXE_poolsleuth"))
        .args(["scan", "--quiet", "--server", &app.base, "--token", TOKEN])
        .arg(driver_support::fixture_dir())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&scan.stderr);
    let drivers = driver_support::count_drivers(&driver_support::fixture_dir());
    assert!(!scan.status.success());
    assert!(
        said.contains(&format!(
            "stored 0 of {drivers} driver files because on the server, the data disk is full: "
        )),
        "{said}"
    );
    assert_eq!(
        index_files(&data_dir),
        before,
        "a failed write left files behind"
    );
    app.stop().await;

    // A restart on the full disk works, and so does everything once space is free.
    let app = spawn_app(&data_dir, Some(TOKEN)).await;
    assert_eq!(app.get_json("/readyz").await.0, 200);
    std::fs::remove_file(&fill).unwrap();
    assert_eq!(app.delete_source("wdk").await, 200);
    assert_eq!(app.import("more", list).await.0, 200);
    let (status, report) = app
        .upload_drivers(&[("a.sys", driver_support::read_fixture("kmdf_x64_O2.sys"))])
        .await;
    assert_eq!(status, 201, "{report}");
    app.stop().await;
    drop(disk);
}

/// Segment ids the index's last commit references (`meta.json`), as its file names spell them.
fn committed_segments(data_dir: &Path) -> Vec<String> {
    let meta: Value =
        serde_json::from_slice(&std::fs::read(data_dir.join("index/meta.json")).unwrap()).unwrap();
    meta["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["segment_id"].as_str().unwrap().replace('-', ""))
        .collect()
}

/// Index files of segments no commit references: what a write or merge cut short leaves.
fn orphan_files(data_dir: &Path) -> Vec<String> {
    let committed = committed_segments(data_dir);
    index_files(data_dir)
        .into_iter()
        .filter(|name| {
            let stem = name.split('.').next().unwrap_or("");
            stem.len() == 32
                && stem.bytes().all(|b| b.is_ascii_hexdigit())
                && !committed.iter().any(|c| c == stem)
        })
        .collect()
}

/// The case the issue met: large imports on a nearly full disk, where an import commits and
/// the merge after it runs out of space (before, the merge's part-written files stayed, and
/// every later write failed, DELETE included, across restarts). Headroom shrinks step by step
/// until a merge has failed after its commit; every answer is a success or a 507, no step
/// leaves files no commit references, and once space is free a delete and an import work
/// without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merges_cut_short_by_a_nearly_full_disk_leave_nothing_behind() {
    let mount_point = tempfile::tempdir().unwrap();
    let Some(disk) = SmallDisk::mount(mount_point.path(), 96 << 20) else {
        return;
    };
    let data_dir = disk.dir.join("data");
    let app = spawn_app(&data_dir, Some(TOKEN)).await;
    // Above the 10,000 documents after which an import is merged into one segment.
    let list = |k: usize| -> String {
        (0..12_000)
            .map(|i| {
                format!(
                    "{:04X} - drv{k}_{i}.sys - driver {i} of import {k}\n",
                    i % 0xFFFF
                )
            })
            .collect()
    };
    assert_eq!(app.import("big0", list(0)).await.0, 200);
    assert_eq!(
        committed_segments(&data_dir).len(),
        1,
        "a big import merges"
    );
    let mut merge_failed_after_commit = false;
    let mut stored = vec!["big0".to_owned()];
    let mut headroom: u64 = 12 << 20;
    let mut k = 1;
    while headroom >= 256 << 10 && !merge_failed_after_commit {
        let fill = disk.fill_leaving(headroom);
        let name = format!("big{k}");
        let (status, body) = app.import(&name, list(k)).await;
        match status {
            200 => {
                stored.push(name.clone());
                merge_failed_after_commit = committed_segments(&data_dir).len() > 1;
            }
            _ => assert_disk_full(status, &body, &format!("import with {headroom} bytes free")),
        }
        assert_eq!(
            orphan_files(&data_dir),
            Vec::<String>::new(),
            "import {name} with {headroom} bytes free ({status}) left files behind"
        );
        std::fs::remove_file(&fill).unwrap();
        headroom -= 512 << 10;
        k += 1;
    }
    assert!(
        merge_failed_after_commit,
        "no headroom made a merge fail after its import committed; the sizes need adjusting"
    );

    // Nearly full again: a delete still works, or says the disk is full and works once space
    // is free, without a restart.
    let fill = disk.fill_leaving(64 << 10);
    let first = stored.remove(0);
    let status = app.delete_source(&first).await;
    assert!(
        status == 200 || status == 507,
        "delete on a full disk: {status}"
    );
    std::fs::remove_file(&fill).unwrap();
    if status == 507 {
        assert_eq!(app.delete_source(&first).await, 200);
    }
    for name in &stored {
        assert_eq!(app.delete_source(name).await, 200, "delete {name}");
    }
    assert_eq!(app.import("after", list(99)).await.0, 200);
    assert_eq!(orphan_files(&data_dir), Vec::<String>::new());
    let (_, lists) = app.get_json("/api/v1/lists").await;
    let names: Vec<&str> = lists
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert!(
        names.contains(&"after") && !names.contains(&"big0"),
        "{names:?}"
    );
    app.stop().await;
    drop(disk);
}

#[tokio::test]
async fn a_first_start_on_a_full_disk_leaves_no_partial_marker() {
    let mount_point = tempfile::tempdir().unwrap();
    let Some(disk) = SmallDisk::mount(mount_point.path(), 1 << 20) else {
        return;
    };
    let data_dir = disk.dir.join("data");
    std::fs::create_dir_all(data_dir.join("index")).unwrap();
    disk.fill();
    let vendors = std::sync::Arc::new(poolsleuth::vendor::VendorDirectory::embedded());
    let error =
        poolsleuth::cli::open_index(&data_dir, vendors.clone(), poolsleuth::cli::Writer::Serve)
            .await
            .err()
            .expect("no start on a full disk");
    assert!(error.to_string().contains("disk is full"), "{error:#}");
    let marker = data_dir.join("index/SCHEMA_VERSION");
    assert!(
        std::fs::read_to_string(&marker).map_or(true, |m| m == "1"),
        "a partial marker"
    );

    // Once there is room, the next start makes a working data dir.
    disk.resize(64 << 20);
    let app = spawn_app(&data_dir, Some(TOKEN)).await;
    assert_eq!(app.get_json("/readyz").await.0, 200);
    app.stop().await;
}

/// `rows` rows of a whitespace table, read slowly enough with `?format=table` (hundreds of
/// thousands of rows) that an analysis outlasts a short deadline.
fn slow_table(rows: usize) -> String {
    let mut text = String::from("Tag Type Allocs Frees Diff Bytes\n");
    for i in 0..rows {
        let tag: String = (0..4)
            .map(|k| char::from(b'A' + (i / 26usize.pow(k) % 26) as u8))
            .collect();
        text.push_str(&format!("{tag} Nonp 10 5 5 {}\n", 64 * (i + 1)));
    }
    text
}

async fn analyze_as_table(app: &common::TestApp, body: String) -> (u16, Value) {
    let response = app
        .client
        .post(app.url("/api/v1/analyze?format=table"))
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_analysis_stops_at_its_deadline_with_a_503_that_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let config = poolsleuth::http::HttpConfig {
        request_timeout: Duration::from_secs(2),
        ..poolsleuth::http::HttpConfig::default()
    };
    let app = common::spawn_app_with(dir.path(), config).await;
    let started = Instant::now();
    let (status, body) = analyze_as_table(&app, slow_table(250_000)).await;
    let took = started.elapsed();
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "analysis_deadline", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("did not finish within its 2 s deadline"),
        "{message}"
    );
    // The answer comes when the work stopped: the reading itself takes many times longer.
    assert!(took < Duration::from_secs(8), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_lookups_and_search_answer_while_every_analysis_slot_is_busy() {
    let dir = tempfile::tempdir().unwrap();
    let config = poolsleuth::http::HttpConfig {
        request_timeout: Duration::from_secs(8),
        ..poolsleuth::http::HttpConfig::default()
    };
    let app = std::sync::Arc::new(common::spawn_app_with(dir.path(), config).await);
    let slots = std::thread::available_parallelism().map_or(2, |n| n.get());
    // One more slow analysis than there are slots: every slot is held, and one waits.
    let body = slow_table(150_000);
    let analyses: Vec<_> = (0..=slots)
        .map(|_| {
            let (app, body) = (app.clone(), body.clone());
            tokio::spawn(async move { analyze_as_table(&app, body).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let polling = Instant::now();
    let mut answered = 0;
    while polling.elapsed() < Duration::from_secs(3) {
        for path in [
            "/healthz",
            "/readyz",
            "/api/v1/tags/Ntfx",
            "/api/v1/search?q=ntfs",
        ] {
            let asked = Instant::now();
            let response = tokio::time::timeout(Duration::from_secs(2), app.get(path))
                .await
                .unwrap_or_else(|_| panic!("{path} did not answer within 2 s"));
            assert!(
                response.status().is_success(),
                "{path}: {}",
                response.status()
            );
            assert!(asked.elapsed() < Duration::from_secs(2), "{path}");
            answered += 1;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(answered >= 8, "{answered}");
    for analysis in analyses {
        let (status, body) = analysis.await.unwrap();
        assert!(
            status == 200 || body["error"]["code"] == "analysis_deadline",
            "{status}: {body}"
        );
    }
}
