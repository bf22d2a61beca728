//! Driver uploads and scans end to end: the real server, real driver files.

mod common;
mod driver_support;

use common::{TOKEN, corpus_file, scan_folder, spawn_app};
use reqwest::multipart::{Form, Part};
use serde_json::Value;

fn corpus_driver(name: &str) -> Option<Vec<u8>> {
    corpus_file(&format!("drivers/{name}")).map(|p| std::fs::read(p).unwrap())
}

#[tokio::test]
async fn uploaded_drivers_become_searchable_with_identity_and_evidence() {
    let (Some(v1), Some(v2), Some(pmem)) = (
        corpus_driver("WinDivert64_v1.sys"),
        corpus_driver("WinDivert64_v2.sys"),
        corpus_driver("winpmem_x64.sys"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), Some(TOKEN)).await;
    // The embedded community list knows WinDivert's tag too (from its source code); without
    // it, every answer below comes from the uploaded files.
    assert_eq!(app.delete_source("poolsleuth-community").await, 200);
    // Both WinDivert builds under the name they have on a machine: one driver, two versions.
    let (status, report) = app
        .upload_drivers(&[
            ("WinDivert64.sys", v2.clone()),
            ("WinDivert64.sys", v1),
            ("winpmem_x64.sys", pmem),
            ("notes.txt", b"not a driver".to_vec()),
            ("empty.sys", Vec::new()),
        ])
        .await;
    assert_eq!(status, 201, "{report}");
    assert_eq!(
        (report["stored"].as_u64(), report["errors"].as_u64()),
        (Some(3), Some(2))
    );
    let files = report["files"].as_array().unwrap();
    assert_eq!(
        files[0]["analysis"]["sha256"],
        "8da085332782708d8767bcace5327a6ec7283c17cfb85e40b03cd2323a90ddc2"
    );
    assert_eq!(files[0]["analysis"]["version"]["company_name"], "Basil");
    assert!(
        files[3]["error"]
            .as_str()
            .unwrap()
            .contains("not a Windows driver")
    );
    assert!(files[4]["error"].as_str().unwrap().contains("empty"));

    // The tag the code allocates with is found by search, as a code-site attribution.
    let (_, tag) = app.get_json("/api/v1/tags/WDiv").await;
    let attributions = tag["attributions"].as_array().unwrap();
    assert_eq!(attributions.len(), 2, "one per version: {tag}");
    assert!(
        attributions
            .iter()
            .all(|a| a["confidence"] == "code-site" && a["driver"] == "windivert.sys")
    );
    // The description is the file's own (its FileDescription); how the tag was found is the
    // evidence beside it.
    assert!(attributions.iter().all(|a| {
        let description = a["description"].as_str().unwrap();
        !description.is_empty() && !description.contains("call site")
    }));
    assert!(attributions.iter().all(|a| {
        a["source_note"]
            .as_str()
            .unwrap()
            .contains("ExAllocatePoolWithTag")
    }));

    // Version history ordered by version numbers, identity on the driver report and page.
    let (status, driver) = app.get_json("/api/v1/drivers/WinDivert").await;
    assert_eq!(status, 200);
    let analyses = driver["analyses"].as_array().unwrap();
    assert_eq!(analyses.len(), 2);
    let versions: Vec<&str> = driver["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(versions.len(), 2);
    assert!(
        versions[0].starts_with('1') && versions[1].starts_with('2'),
        "{versions:?}"
    );
    let html = app
        .get("/drivers/windivert.sys")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("8da085332782708d8767bcace5327a6ec7283c17cfb85e40b03cd2323a90ddc2"));
    assert!(
        html.contains("ExAllocatePoolWithTag @ 0x"),
        "evidence with RVAs"
    );
    // Per tag, the versions whose code allocates it: both WinDivert versions allocate `WDiv`.
    let table = html
        .split("id=\"tag-versions\"")
        .nth(1)
        .expect("a tags-by-version table");
    let row = table
        .split("<tr>")
        .find(|r| r.contains("<code>WDiv</code>"))
        .expect("a WDiv row");
    assert!(
        row.contains(&format!("{}, {}", versions[0], versions[1])),
        "{row}"
    );

    // Statically linked WDK library tags are marked as such.
    let (_, pmem) = app.get_json("/api/v1/tags/SeAl").await;
    let description = pmem["attributions"][0]["description"].as_str().unwrap();
    assert!(description.contains("WDK library"), "{description}");

    // The same file again is recognised, not stored twice.
    let (status, again) = app.upload_drivers(&[("WinDivert64.sys", v2)]).await;
    assert_eq!(status, 200);
    assert_eq!(again["duplicates"], 1);
    let (_, tag) = app.get_json("/api/v1/tags/WDiv").await;
    assert_eq!(tag["attributions"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn raw_uploads_need_the_token_and_bad_files_get_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), Some(TOKEN)).await;
    let post = |body: Vec<u8>, token: &str| {
        app.client
            .post(app.url("/api/v1/drivers?name=x.sys"))
            .bearer_auth(token)
            .body(body)
            .send()
    };
    assert_eq!(post(b"MZ".to_vec(), "wrong").await.unwrap().status(), 401);
    for (body, needle) in [
        (Vec::new(), "empty"),
        (b"MZ\x90\x00truncated".to_vec(), "too short"),
        (b"#!/bin/sh\necho hi\n".to_vec(), "not a Windows driver"),
    ] {
        let response = post(body, TOKEN).await.unwrap();
        assert_eq!(response.status(), 422);
        let error: Value = response.json().await.unwrap();
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{message}");
    }
    let (status, _) = app.get_json("/readyz").await;
    assert_eq!(status, 200, "the server is still healthy");
}

#[tokio::test]
async fn every_corpus_driver_is_analysed_through_the_api() {
    let Some(dir) = corpus_file("drivers") else {
        return;
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "sys") {
            files.push((
                path.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&path).unwrap(),
            ));
        }
    }
    let data = tempfile::tempdir().unwrap();
    let app = spawn_app(data.path(), Some(TOKEN)).await;
    let named: Vec<(&str, Vec<u8>)> = files.iter().map(|(n, b)| (n.as_str(), b.clone())).collect();
    let (status, report) = app.upload_drivers(&named).await;
    assert_eq!(status, 201);
    assert_eq!(report["errors"], 0, "{report}");
    assert_eq!(report["stored"].as_u64().unwrap() as usize, files.len());
    let index = std::fs::read_to_string(dir.join("INDEX.md")).unwrap();
    for file in report["files"].as_array().unwrap() {
        let name = file["file_name"].as_str().unwrap();
        let sha = file["analysis"]["sha256"].as_str().unwrap();
        let row = index
            .lines()
            .find(|l| l.starts_with(&format!("| {name} |")))
            .unwrap_or_else(|| panic!("{name} not in INDEX.md"));
        assert!(
            row.contains(sha),
            "{name}: sha256 {sha} not in its INDEX row"
        );
        let size = file["analysis"]["size"].as_u64().unwrap();
        assert!(row.contains(&format!("| {size} |")), "{name}: size {size}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_walks_folders_locally_and_uploads_to_a_server() {
    let Some(corpus) = corpus_file("drivers") else {
        return;
    };
    let exe = env!("CARGO_BIN_EXE_poolsleuth");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let output = std::process::Command::new(exe)
        .args([
            "scan",
            corpus.to_str().unwrap(),
            "--quiet",
            "--data-dir",
            data.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let count = driver_support::count_drivers(&corpus);
    assert!(
        stdout.starts_with(&format!(
            "{count} drivers: {count} analyzed and stored, 0 already known, 0 errors"
        )),
        "{stdout}"
    );

    let other = tempfile::tempdir().unwrap();
    let app = spawn_app(other.path(), Some(TOKEN)).await;
    let scan = |token: &str| {
        std::process::Command::new(exe)
            .args([
                "scan",
                corpus.to_str().unwrap(),
                "--quiet",
                "--server",
                &app.base,
                "--token",
                token,
            ])
            .output()
            .unwrap()
    };
    let output = tokio::task::block_in_place(|| scan(TOKEN));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains(&format!("{count} analyzed and stored")),
        "{stdout}"
    );
    let (_, tag) = app.get_json("/api/v1/tags/WDiv").await;
    assert!(!tag["attributions"].as_array().unwrap().is_empty());
    let output = tokio::task::block_in_place(|| scan("wrong"));
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("the server refused the token"));
}

#[test]
fn scan_exits_with_an_error_when_a_driver_cannot_be_analysed() {
    let exe = env!("CARGO_BIN_EXE_poolsleuth");
    let dir = tempfile::tempdir().unwrap();
    let drivers = dir.path().join("drivers");
    std::fs::create_dir(&drivers).unwrap();
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/drivers/patterns_x64_O2.sys"
        ),
        drivers.join("good.sys"),
    )
    .unwrap();
    std::fs::write(drivers.join("broken.sys"), b"not a PE image").unwrap();
    let data = dir.path().join("data");
    let output = std::process::Command::new(exe)
        .args(["scan", "--quiet", "--data-dir"])
        .arg(&data)
        .arg(&drivers)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.starts_with("2 drivers: 1 analyzed and stored, 0 already known, 1 errors"),
        "{stdout}"
    );
    assert!(stdout.contains("broken.sys"), "{stdout}");
    assert!(
        stderr.contains("1 of 2 driver files could not be analyzed"),
        "{stderr}"
    );
}

#[tokio::test]
async fn the_upload_form_takes_the_token_as_a_field() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), Some(TOKEN)).await;
    let fixture = driver_support::read_fixture("patterns_x64_O2.sys");
    let form = |token: &str| {
        Form::new().text("token", token.to_owned()).part(
            "files",
            Part::bytes(fixture.clone()).file_name("patterns.sys"),
        )
    };
    let page = app.get("/upload").await.text().await.unwrap();
    assert!(page.contains("enctype=\"multipart/form-data\"") && page.contains("name=\"token\""));

    let response = app
        .client
        .post(app.url("/upload"))
        .multipart(form("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let html = response.text().await.unwrap();
    assert!(html.contains("admin token"), "{html}");
    assert!(!html.contains("wrong\""), "the token is not echoed back");

    let response = app
        .client
        .post(app.url("/upload"))
        .multipart(form(TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("1 stored"), "{html}");
    assert!(html.contains("href=\"/drivers/patterns.sys\""), "{html}");
    let (status, driver) = app.get_json("/api/v1/drivers/patterns.sys").await;
    assert_eq!(status, 200);
    let tags: Vec<&str> = driver["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["tag"].as_str().unwrap())
        .collect();
    for expected in ["Dir1", "Pol2", "Lka6", "Wrp1"] {
        assert!(tags.contains(&expected), "{expected} in {tags:?}");
    }
    let html = app.get("/drivers/patterns.sys").await.text().await.unwrap();
    assert!(
        html.contains("code-site") && html.contains("unsigned"),
        "identity on the page"
    );
}

#[tokio::test]
async fn the_source_listing_names_uploaded_drivers_after_the_lists() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), Some(TOKEN)).await;
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/drivers");
    let driver = std::fs::read(format!("{fixture}/patterns_x64_O2.sys")).unwrap();
    let (status, report) = app.upload_drivers(&[("patterns.sys", driver)]).await;
    assert_eq!(status, 201, "{report}");
    let sha256 = report["files"][0]["analysis"]["sha256"].as_str().unwrap();

    let (status, sources) = app.get_json("/api/v1/lists").await;
    assert_eq!(status, 200);
    let sources = sources.as_array().unwrap();
    let kinds: Vec<&str> = sources
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["default", "default", "driver"], "{sources:?}");
    let driver = &sources[2];
    assert_eq!(driver["name"], format!("driver:{sha256}"));
    assert_eq!(driver["origin"], "patterns.sys");
    assert!(driver["entries"].as_u64().unwrap() > 0, "{driver}");
    // The listing stays small: the analysis itself is served per driver.
    assert!(driver.get("driver").is_none(), "{driver}");
}

#[test]
fn scan_of_a_folder_without_drivers_says_so_in_words() {
    let exe = env!("CARGO_BIN_EXE_poolsleuth");
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("not-drivers");
    std::fs::create_dir_all(folder.join("sub")).unwrap();
    std::fs::write(folder.join("sub/readme.txt"), b"no drivers here").unwrap();
    let output = std::process::Command::new(exe)
        .args(["scan", "--quiet", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg(&folder)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "No drivers to scan: {} holds no .sys or .cat files (subfolders included)",
            folder.display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("--ext"), "{stderr}");
    // Nothing to scan: no data directory is made for it.
    assert!(!dir.path().join("data").exists());
}

/// 70 distinct files (one fixture with different bytes appended) and one exact copy: the
/// scan stores 70 in batches, the copy is known by its hash, and a rerun skips them all.
#[test]
fn scan_commits_in_batches_and_a_rerun_skips_known_files() {
    let dir = tempfile::tempdir().unwrap();
    let drivers = dir.path().join("drivers");
    std::fs::create_dir(&drivers).unwrap();
    let fixture = driver_support::read_fixture("patterns_x64_O2.sys");
    for i in 0..70u32 {
        let mut bytes = fixture.clone();
        bytes.extend_from_slice(&i.to_le_bytes());
        std::fs::write(drivers.join(format!("copy{i:02}.sys")), &bytes).unwrap();
        if i == 0 {
            std::fs::write(drivers.join("same_as_copy00.sys"), &bytes).unwrap();
        }
    }
    let data = dir.path().join("data");
    let scan = || scan_folder(&data, &drivers, &["--jobs", "2"]);
    let first = scan();
    assert!(
        first.starts_with("71 drivers: 70 analyzed and stored, 1 already known, 0 errors"),
        "{first}"
    );
    let again = scan();
    assert!(
        again.starts_with("71 drivers: 0 analyzed and stored, 71 already known, 0 errors"),
        "{again}"
    );
    // Known files report the tags stored for them.
    let tags = |s: &str| s.split(';').nth(1).map(str::to_owned);
    assert_eq!(tags(&first), tags(&again));
    assert!(!first.contains("; 0 distinct tags"), "{first}");
    let index = poolsleuth::index::SearchIndex::open(&data).unwrap();
    let stats = index.stats().unwrap();
    assert_eq!(stats.sources, 2 + 70, "{stats:?}");
}

/// A batch stores nothing until it is committed, then every driver in it; the same file twice
/// is stored once, whether it is in the index or in the batch.
#[test]
fn a_driver_batch_is_stored_at_its_commit() {
    use poolsleuth::driver::{AnalysisLimits, analyze};
    use poolsleuth::import::{DriverBatch, DriverStoreStatus, known_driver, store_driver};
    use poolsleuth::vendor::VendorDirectory;

    let dir = tempfile::tempdir().unwrap();
    let index = poolsleuth::index::SearchIndex::open(dir.path()).unwrap();
    let vendors = VendorDirectory::embedded();
    let limits = AnalysisLimits::default();
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/drivers/");
    let read = |name: &str| {
        analyze(
            name,
            &std::fs::read(format!("{fixtures}{name}")).unwrap(),
            &limits,
        )
        .unwrap()
    };
    let (x64, x86, kmdf) = (
        read("patterns_x64_O2.sys"),
        read("patterns_x86_O2.sys"),
        read("kmdf_x64_O2.sys"),
    );
    store_driver(&index, &vendors, kmdf.clone()).unwrap();

    let mut batch = DriverBatch::default();
    let status = |r: Result<(DriverStoreStatus, u64), _>| r.unwrap().0;
    assert_eq!(
        status(batch.add(&index, &vendors, x64.clone())),
        DriverStoreStatus::Stored
    );
    assert_eq!(
        status(batch.add(&index, &vendors, x86.clone())),
        DriverStoreStatus::Stored
    );
    assert_eq!(
        status(batch.add(&index, &vendors, x64.clone())),
        DriverStoreStatus::Duplicate
    );
    assert_eq!(
        status(batch.add(&index, &vendors, kmdf.clone())),
        DriverStoreStatus::Duplicate
    );
    assert_eq!(batch.len(), 2);
    assert!(known_driver(&index, &x64.sha256).unwrap().is_none());
    assert!(known_driver(&index, &x86.sha256).unwrap().is_none());
    batch.commit(&index).unwrap();
    assert!(batch.is_empty());
    for analysis in [&x64, &x86, &kmdf] {
        let known = known_driver(&index, &analysis.sha256).unwrap().unwrap();
        assert_eq!(
            known.entries,
            analysis.tags.len() as u64,
            "{}",
            analysis.file_name
        );
    }
}

#[tokio::test]
async fn the_driver_page_counts_each_tag_once_across_versions() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), Some(TOKEN)).await;
    let fixture = |name: &str| {
        std::fs::read(format!(
            "{}/tests/fixtures/drivers/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    };
    // Two builds of one driver: the same tags, two files.
    let (status, report) = app
        .upload_drivers(&[
            ("patterns.sys", fixture("patterns_x64_O2.sys")),
            ("patterns.sys", fixture("patterns_x64_O0.sys")),
        ])
        .await;
    assert_eq!(status, 201, "{report}");
    assert_eq!(report["stored"], 2, "{report}");
    let (_, driver) = app.get_json("/api/v1/drivers/patterns.sys").await;
    let rows = driver["tags"].as_array().unwrap();
    let mut distinct: Vec<&str> = rows.iter().map(|t| t["tag"].as_str().unwrap()).collect();
    distinct.sort_unstable();
    distinct.dedup();
    assert!(
        rows.len() > distinct.len(),
        "both files give rows: {driver}"
    );
    let html = app.get("/drivers/patterns.sys").await.text().await.unwrap();
    assert!(
        html.contains(&format!("<dt>Tags</dt><dd>{}</dd>", distinct.len())),
        "{html}"
    );
}

/// Issue 26: builds of one driver, uploaded under other names, are one driver named by its
/// version resource; its versions are the `FileVersion` texts; the answer names the version
/// whose code allocates the tag and says "newest" only of the version the machine runs.
#[tokio::test]
async fn builds_of_one_driver_are_one_suspect_with_versions_as_windows_shows_them() {
    use driver_support::{read_fixture, with_tag_replaced, with_version};
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), Some(TOKEN)).await;
    // Three builds of `patterns.sys` (its OriginalFilename): 1.3 for x64 and x86, and 2.2,
    // whose fixed numbers say 2.0.0.0 (as WinDivert 2.2's do) and whose code no longer
    // allocates `Dir1`.
    let v1_x64 = with_version(&read_fixture("patterns_x64_O2.sys"), "1.3", [1, 3, 0, 0]);
    let v1_x86 = with_version(&read_fixture("patterns_x86_O2.sys"), "1.3", [1, 3, 0, 0]);
    let v2_x64 = with_tag_replaced(
        &with_version(&read_fixture("patterns_x64_O2.sys"), "2.2", [2, 0, 0, 0]),
        b"Dir1",
        b"Dir9",
    );
    let (status, report) = app
        .upload_drivers(&[
            ("patterns64_v1.sys", v1_x64),
            ("patterns64_v2.sys", v2_x64),
            ("patterns32_v1.sys", v1_x86),
        ])
        .await;
    assert_eq!(status, 201, "{report}");
    assert_eq!(report["stored"], 3, "{report}");
    let (_, tag) = app.get_json("/api/v1/tags/Dir1").await;
    let attributions = tag["attributions"].as_array().unwrap();
    assert!(
        attributions
            .iter()
            .all(|a| a["driver"] == "patterns.sys" && a["uploaded_as"].is_string()),
        "{tag}"
    );
    let (status, driver) = app.get_json("/api/v1/drivers/patterns.sys").await;
    assert_eq!(status, 200, "{driver}");
    assert_eq!(
        driver["versions"],
        serde_json::json!(["1.3", "2.2"]),
        "{driver}"
    );

    let snapshot = " Tag  Type     Allocs         Frees    Diff   Bytes    Per Alloc\n\n \
                    Dir1 Nonp     4000000      100000  3900000  419430400      107\n \
                    Pol2 Nonp     2000000      100000  1900000  209715200      110\n";
    let analyze = |drivers: Option<&'static str>| {
        let mut form = Form::new().part(
            "snapshot",
            Part::bytes(snapshot.as_bytes().to_vec()).file_name("poolmon.txt"),
        );
        if let Some(list) = drivers {
            form = form.part(
                "drivers",
                Part::bytes(list.as_bytes().to_vec()).file_name("drivers.csv"),
            );
        }
        app.analyze_form(form)
    };
    let patterns = |a: &Value| -> Vec<Value> {
        a["suspects"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["driver"].as_str().unwrap().starts_with("patterns"))
            .cloned()
            .collect()
    };

    // Without a driver list: one suspect, the versions as the files say them, and the
    // version whose code allocates the tag, never the newer one that does not.
    let (status, a) = analyze(None).await;
    assert_eq!(status, 200, "{a}");
    let suspects = patterns(&a);
    assert_eq!(suspects.len(), 1, "one driver, one suspect: {a}");
    let s = &suspects[0];
    assert_eq!(s["driver"], "patterns.sys");
    assert_eq!(
        s["known_versions"],
        serde_json::json!(["1.3", "2.2"]),
        "{s}"
    );
    let uploaded: Vec<&str> = s["uploaded_as"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for name in [
        "patterns64_v1.sys",
        "patterns32_v1.sys",
        "patterns64_v2.sys",
    ] {
        assert!(uploaded.contains(&name), "{uploaded:?}");
    }
    let headline = a["answer"]["headline"].as_str().unwrap();
    assert!(headline.contains("patterns.sys 1.3"), "{headline}");
    assert!(
        headline.contains("the scanned version 2.2 does not allocate it"),
        "{headline}"
    );
    assert_eq!(a["answer"]["version"], "1.3", "{a}");
    let guidance = s["guidance"]["text"].as_str().unwrap();
    assert!(!guidance.contains("newest known version"), "{guidance}");
    assert!(guidance.contains("2.2"), "{guidance}");
    assert!(!a.to_string().contains("2.0.0.0"), "{a}");

    // The machine runs 1.3 (its file is `patterns64_v1.sys`): loaded, and told to update to
    // 2.2, which no longer allocates `Dir1`.
    let (status, a) = analyze(Some(
        "\"Name\",\"DisplayName\",\"State\",\"PathName\",\"FileVersion\"\r\n\
         \"pattsvc\",\"Patterns\",\"Running\",\"C:\\Windows\\system32\\drivers\\patterns64_v1.sys\",\"1.3 built by: WinDDK\"\r\n",
    ))
    .await;
    assert_eq!(status, 200, "{a}");
    let suspects = patterns(&a);
    assert_eq!(suspects.len(), 1, "{a}");
    let s = &suspects[0];
    assert_eq!(s["loaded"], true, "{s}");
    assert_eq!(s["version_seen"], "1.3", "{s}");
    assert_eq!(s["guidance"]["kind"], "update", "{s}");
    let guidance = s["guidance"]["text"].as_str().unwrap();
    assert!(guidance.starts_with("update to 2.2:"), "{guidance}");

    // The machine runs 2.2 (`2.2 built by: WinDDK` in its list), the newest known: no update
    // to "2.2.0", and `Pol2`, which both versions allocate, is said to be allocated by 2.2.
    let (status, a) = analyze(Some(
        "\"Name\",\"DisplayName\",\"State\",\"PathName\",\"FileVersion\"\r\n\
         \"pattsvc\",\"Patterns\",\"Running\",\"C:\\Windows\\system32\\drivers\\patterns64_v2.sys\",\"2.2 built by: WinDDK\"\r\n",
    ))
    .await;
    assert_eq!(status, 200, "{a}");
    let s = &patterns(&a)[0];
    assert_eq!(s["version_seen"], "2.2", "{s}");
    let text = a.to_string();
    assert!(!text.contains("2.2.0") && !text.contains("2.0.0.0"), "{a}");
    app.stop().await;
}

/// Issue 28: what each tag is to the driver is in the upload's JSON and on the driver page;
/// the remove lock's tag is listed there but is no attribution of the driver.
#[tokio::test]
async fn the_driver_page_says_what_each_tag_is_to_the_driver() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), Some(TOKEN)).await;
    let bytes = std::fs::read(format!(
        "{}/tests/fixtures/drivers/tagrules_x64_O2.sys",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let (status, report) = app.upload_drivers(&[("tagrules.sys", bytes)]).await;
    assert_eq!(status, 201, "{report}");
    let tags = report["files"][0]["analysis"]["tags"].as_array().unwrap();
    let kind = |tag: &str| {
        tags.iter()
            .find(|t| t["tag"] == tag)
            .map(|t| t["kind"].as_str().unwrap().to_owned())
    };
    assert_eq!(kind("Both").as_deref(), Some("CodeSite"), "{report}");
    assert_eq!(kind("RmLk").as_deref(), Some("RemoveLock"), "{report}");
    assert_eq!(
        kind("GInx").as_deref(),
        Some("GlobalInitialValue"),
        "{report}"
    );
    let html = app.get("/drivers/tagrules.sys").await.text().await.unwrap();
    for label in [
        "allocation tag",
        "remove-lock tag",
        "initial value of a global",
    ] {
        assert!(html.contains(label), "{label}: {html}");
    }
    assert!(html.contains("may change it at run time"), "{html}");
    // Attributions: the tags it allocates with, not the remove lock's.
    let (_, driver) = app.get_json("/api/v1/drivers/tagrules.sys").await;
    let attributed: Vec<&str> = driver["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["tag"].as_str().unwrap())
        .collect();
    assert!(
        attributed.contains(&"Both") && attributed.contains(&"GInx"),
        "{driver}"
    );
    assert!(!attributed.contains(&"RmLk"), "{driver}");
}
