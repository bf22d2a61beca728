//! Third-party knowledge with provenance, and knowledge that travels between servers: the
//! embedded community list, source links on pages and in answers, the export → import round
//! trip, and what the search says about a tag nobody knows.

mod common;

use common::{TOKEN, spawn_app};
use poolsleuth::pooltag_list::LIST_COLUMNS;
use serde_json::Value;

const COMMUNITY: &str = "poolsleuth-community";
/// VirtIO balloon driver's BALLOON_MGMT_POOL_TAG (`'mtlB'` in its source).
const BALLOON_TAG: &str = "Bltm";

fn from_source<'a>(tag: &'a Value, source: &str) -> Vec<&'a Value> {
    tag["attributions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["source"] == source)
        .collect()
}

/// The attribution fields that must survive a trip to another server: every column of the
/// list format.
fn carried(attribution: &Value) -> Vec<(&'static str, Value)> {
    LIST_COLUMNS
        .iter()
        .map(|&field| (field, attribution[field].clone()))
        .collect()
}

async fn export(app: &common::TestApp, source: &str) -> String {
    app.get_csv(&format!("/api/v1/lists/{source}/export")).await
}

#[tokio::test]
async fn a_fresh_install_knows_third_party_tags_with_their_source_links() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), Some(TOKEN)).await;
    let (_, sources) = app.get_json("/api/v1/lists").await;
    let community = sources
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == COMMUNITY)
        .expect("the community list is seeded");
    assert_eq!(community["kind"], "default");
    assert_eq!(community["origin"], "community");
    assert!(community["entries"].as_u64().unwrap() >= 300);

    let (status, tag) = app.get_json(&format!("/api/v1/tags/{BALLOON_TAG}")).await;
    assert_eq!(status, 200);
    let rows = from_source(&tag, COMMUNITY);
    assert_eq!(rows.len(), 1, "{tag}");
    assert_eq!(rows[0]["driver"], "balloon.sys");
    assert_eq!(rows[0]["confidence"], "list");
    let url = rows[0]["source_url"].as_str().unwrap();
    assert!(url.starts_with("https://github.com/virtio-win/"), "{url}");
    assert!(rows[0]["source_note"].as_str().unwrap().contains("'mtlB'"));

    // Every community row's tag page links its source; the page escapes it and opens it
    // without handing the page over.
    let csv = export(&app, COMMUNITY).await;
    let mut tags: Vec<String> = csv
        .lines()
        .skip(1)
        .map(|line| line[1..].split_once('"').unwrap().0.to_owned())
        .collect();
    tags.sort();
    tags.dedup();
    assert!(tags.len() >= 300, "{} tags", tags.len());
    let page = app
        .get(&format!("/tags/{BALLOON_TAG}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!("href=\"{url}\" rel=\"noopener\"")),
        "{page}"
    );
    let with_space = app.get("/tags/VIF%20").await.text().await.unwrap();
    assert!(with_space.contains("xenvif.sys"), "{with_space}");
    assert!(with_space.contains("rel=\"noopener\""));
    app.stop().await;
}

/// A source link is a link on pages, so an import takes only http(s) URLs, and says which
/// rows it skipped for that.
#[tokio::test]
async fn an_import_refuses_source_links_that_are_not_http() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), Some(TOKEN)).await;
    let list = "tag,driver,description,source_url\n\
                Abcd,a.sys,fine,https://example.com/a.c#L3\n\
                Efgh,e.sys,script,javascript:alert(1)\n";
    let (status, report) = app.import("links", list).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["imported"], 1);
    assert_eq!(report["skipped_lines"][0]["line"], 3);
    assert!(
        report["skipped_lines"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("source_url"),
        "{report}"
    );
    let (_, tag) = app.get_json("/api/v1/tags/Abcd").await;
    assert_eq!(
        tag["attributions"][0]["source_url"],
        "https://example.com/a.c#L3"
    );
    app.stop().await;
    // Provenance is stored in the index, not only held in memory.
    let app = spawn_app(dir.path(), Some(TOKEN)).await;
    let (_, tag) = app.get_json("/api/v1/tags/Abcd").await;
    assert_eq!(
        tag["attributions"][0]["source_url"],
        "https://example.com/a.c#L3"
    );
    app.stop().await;
}

/// One server's community list and one of its driver scans, exported and imported on a
/// second server, give the same attributions there: driver, vendor, version, confidence,
/// hash and source link.
#[tokio::test]
async fn exported_knowledge_imports_on_another_server_as_the_same_attributions() {
    let first_dir = tempfile::tempdir().unwrap();
    let first = spawn_app(first_dir.path(), Some(TOKEN)).await;
    let driver = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/drivers/kmdf_x64_O2.sys"
    ))
    .unwrap();
    let (status, upload) = first.upload_drivers(&[("kmdfdemo.sys", driver)]).await;
    assert_eq!(status, 201, "{upload}");
    let sha256 = upload["files"][0]["analysis"]["sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    let driver_source = format!("driver:{sha256}");
    let scanned_tag = upload["files"][0]["analysis"]["tags"][0]["tag"]
        .as_str()
        .unwrap()
        .to_owned();

    let community_csv = export(&first, COMMUNITY).await;
    let driver_csv = export(&first, &driver_source).await;
    assert!(driver_csv.contains(&sha256), "{driver_csv}");
    let (_, balloon_first) = first.get_json(&format!("/api/v1/tags/{BALLOON_TAG}")).await;
    let scanned_path = format!(
        "/api/v1/tags/{}",
        scanned_tag.replace('\\', "%5C").replace(' ', "%20")
    );
    let (_, scanned_first) = first.get_json(&scanned_path).await;
    let (status, _) = first.get_json("/api/v1/lists/nothing-here/export").await;
    assert_eq!(status, 404);
    first.stop().await;

    let second_dir = tempfile::tempdir().unwrap();
    let second = spawn_app(second_dir.path(), Some(TOKEN)).await;
    // Without its own community list, so every answer below comes from the imported file.
    assert_eq!(second.delete_source(COMMUNITY).await, 200);
    let (status, report) = second.import("community", community_csv).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["skipped"], 0, "{report}");
    let (status, report) = second.import("first-scan", driver_csv).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["skipped"], 0, "{report}");

    let (_, balloon_second) = second
        .get_json(&format!("/api/v1/tags/{BALLOON_TAG}"))
        .await;
    let before = from_source(&balloon_first, COMMUNITY);
    let after = from_source(&balloon_second, "community");
    assert_eq!(after.len(), 1, "{balloon_second}");
    assert_eq!(carried(after[0]), carried(before[0]));
    assert_eq!(after[0]["vendor"], "Red Hat");

    let (_, scanned_second) = second.get_json(&scanned_path).await;
    let before = from_source(&scanned_first, &driver_source);
    let after = from_source(&scanned_second, "first-scan");
    assert_eq!(after.len(), 1, "{scanned_second}");
    assert_eq!(carried(after[0]), carried(before[0]));
    assert_eq!(after[0]["sha256"], sha256.as_str());
    assert_ne!(after[0]["confidence"], "list");
    second.stop().await;
}

#[test]
fn the_export_command_writes_a_source_from_a_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("community.csv");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_poolsleuth"))
        .args(["export", COMMUNITY, "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let csv = std::fs::read_to_string(&out).unwrap();
    assert!(csv.starts_with("tag,driver,"), "{}", &csv[..100]);
    // What the source is goes to the terminal, not into the file.
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains("source \"poolsleuth-community\" (default") && said.contains("rows"),
        "{said}"
    );
    assert!(csv.contains("\"Bltm\",balloon.sys,"), "{}", &csv[..500]);
    let missing = std::process::Command::new(env!("CARGO_BIN_EXE_poolsleuth"))
        .args(["export", "nothing-here", "--data-dir"])
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no source named"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_command_reads_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), None).await;
    let base = app.base.clone();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_poolsleuth"))
            .args(["export", COMMUNITY, "--server", &base])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("\"Bltm\",balloon.sys,"));
    app.stop().await;
}

/// An exact tag nobody knows: scan the drivers, then a pool trace, then the reversed tag
/// when that is known (here `mtlB`, typed the way the balloon driver's source writes it).
#[tokio::test]
async fn the_search_for_an_unknown_tag_says_what_to_do_next() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), None).await;
    let (status, answer) = app.get_json("/api/v1/search?q=mtlB").await;
    assert_eq!(status, 200);
    assert_eq!(answer["total"], 0);
    let steps: Vec<&str> = answer["next_steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["scan-drivers", "pool-trace", "reversed-tag"]);
    assert!(
        answer["next_steps"][0]["command"]
            .as_str()
            .unwrap()
            .starts_with("poolsleuth scan ")
    );
    assert_eq!(answer["next_steps"][1]["trace"]["tags"][0], "mtlB");
    assert_eq!(answer["next_steps"][2]["tag"], BALLOON_TAG);
    assert_eq!(answer["next_steps"][2]["drivers"][0], "balloon.sys");

    let (_, unknown) = app.get_json("/api/v1/search?q=Qq9z").await;
    assert_eq!(unknown["next_steps"].as_array().unwrap().len(), 2);
    let (_, words) = app.get_json("/api/v1/search?q=no+such+words").await;
    assert_eq!(words["next_steps"].as_array().unwrap().len(), 0);
    let (_, known) = app.get_json("/api/v1/search?q=Bltm").await;
    assert_eq!(known["next_steps"].as_array().unwrap().len(), 0);

    let page = app.get("/?q=mtlB").await.text().await.unwrap();
    let scan = page.find("poolsleuth scan").unwrap();
    let trace = page.find("wpr -start").unwrap();
    let reversed = page.find("href=\"/tags/Bltm\"").unwrap();
    assert!(scan < trace && trace < reversed, "{page}");
    app.stop().await;
}

/// The analysis of a snapshot whose top tag is a community row names the driver with that
/// row's source link, in the suspect's evidence and in the finding's candidates.
#[tokio::test]
async fn the_analysis_evidence_carries_the_source_link() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), None).await;
    let screen = " Tag  Type     Allocs       Frees     Diff      Bytes  Per Alloc\n\n \
                  Bltm Nonp    9000000     1000000  8000000 4096000000        512\n \
                  File Paged      1000         900      100      64000        640\n";
    let response = app
        .client
        .post(app.url("/api/v1/analyze"))
        .body(screen)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let analysis: Value = response.json().await.unwrap();
    let suspect = &analysis["suspects"][0];
    assert_eq!(suspect["driver"], "balloon.sys", "{analysis}");
    let url = suspect["evidence"][0]["source_url"].as_str().unwrap();
    assert!(url.starts_with("https://github.com/virtio-win/"), "{url}");
    let finding = analysis["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["tag"] == BALLOON_TAG)
        .unwrap();
    assert_eq!(finding["candidates"][0]["source_url"], url);
    // The vendor report cites it, and the page links it.
    let report = suspect["vendor_report"].as_str().unwrap();
    assert!(report.contains(&format!("]({url})")), "{report}");
    let form = reqwest::multipart::Form::new().text("text", screen);
    let (_, html) = app.analyze_page(form).await;
    let linked = format!(
        "<a href=\"{}\" rel=\"noopener noreferrer\">source</a>",
        url.replace('&', "&amp;")
    );
    assert!(
        html.contains(&linked),
        "no source link {linked} in the page"
    );
    app.stop().await;
}

/// What spreadsheet tools and pandas read: the header on the first line, one record per row,
/// every record as wide as the header (RFC 4180). What the source is comes in the headers.
#[tokio::test]
async fn an_export_is_plain_csv_and_its_headers_say_what_the_source_is() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), Some(TOKEN)).await;
    let list = "tag,driver,description\n\"Io  \",io.sys,\"one, with a comma\"\n\"Ab\"\"c\",a.sys,\"two \"\"quoted\"\" words\"\n";
    let response = app
        .client
        .post(app.url("/api/v1/lists?name=mine&version=v1%20%C3%A9t%C3%A9"))
        .bearer_auth(TOKEN)
        .body(list)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let report = response.text().await.unwrap();
    assert_eq!(status, 200, "{report}");
    let response = app.get("/api/v1/lists/mine/export").await;
    assert_eq!(response.status(), 200);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(header("poolsleuth-source"), "mine");
    assert_eq!(header("poolsleuth-source-kind"), "list");
    assert_eq!(header("poolsleuth-source-version"), "v1 %C3%A9t%C3%A9");
    assert_eq!(header("poolsleuth-source-entries"), "2");
    assert!(
        header("poolsleuth-source-imported-at").starts_with("20"),
        "{}",
        header("poolsleuth-source-imported-at")
    );
    assert!(header("content-type").starts_with("text/csv"));
    let csv = response.text().await.unwrap();
    assert!(csv.starts_with("tag,driver,"), "{csv}");
    let mut reader = csv::ReaderBuilder::new().from_reader(csv.as_bytes());
    let columns: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(columns, LIST_COLUMNS);
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), 2);
    assert_eq!(&records[0][0], "Io  ");
    assert_eq!(&records[0][3], "one, with a comma");
    assert_eq!(&records[1][0], "Ab\"c");
    assert_eq!(&records[1][3], "two \"quoted\" words");
    app.stop().await;
}

/// Exports written before this version start with a `# poolsleuth export …` line; they still
/// import as the same rows.
#[tokio::test]
async fn an_older_export_with_its_comment_line_still_imports() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), Some(TOKEN)).await;
    let older = format!(
        "# poolsleuth export of source mine (list, version v1), 2 entries\n{}\n\"Io  \",io.sys,,\"one, with a comma\",,,,,list,,\n\"#abc\",a.sys,,two,,,,,code-site,,\n",
        LIST_COLUMNS.join(",")
    );
    let (status, report) = app.import("mine", older).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["imported"], 2, "{report}");
    assert_eq!(report["skipped"], 0, "{report}");
    let (_, tag) = app.get_json("/api/v1/tags/%23abc").await;
    assert_eq!(tag["attributions"][0]["confidence"], "code-site", "{tag}");
    app.stop().await;
}
