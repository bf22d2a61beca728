//! End-to-end tests of the knowledge base over HTTP, as a user would use it.

mod common;

use common::{TOKEN, corpus_file, spawn_app};
use poolsleuth::http::HttpConfig;
use poolsleuth::pooltag_list::{ListFormat, parse_list};
use serde_json::Value;

fn tag_path(tag: &str) -> String {
    let encoded: String = tag
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("/api/v1/tags/{encoded}")
}

#[tokio::test]
async fn a_fresh_data_dir_is_seeded_and_searchable() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), None).await;
    let (status, ready) = app.get_json("/readyz").await;
    assert_eq!(status, 200);
    assert!(ready["index"]["entries"].as_u64().unwrap() >= 300);
    let (status, cont) = app.get_json("/api/v1/tags/Cont").await;
    assert_eq!(status, 200);
    assert_eq!(cont["attributions"][0]["source"], "poolsleuth-default");
    assert_eq!(cont["attributions"][0]["driver"], "ntoskrnl.exe");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_entry_of_the_real_pooltag_txt_is_found_by_its_tag() {
    let Some(path) = corpus_file("pooltag/pooltag.txt") else {
        return;
    };
    let bytes = std::fs::read(&path).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), Some(TOKEN)).await;
    let (status, report) = app.import("wdk", bytes.clone()).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["format"], "pooltag");
    assert_eq!(report["replaced"], 0);

    // Nothing is lost silently: every line that is not blank or a comment is either imported
    // or reported as skipped.
    let text = String::from_utf8_lossy(&bytes);
    let content_lines: Vec<usize> = text
        .split('\n')
        .enumerate()
        .filter(|(_, l)| {
            let l = l.trim_end_matches(['\r', '\x1a']).trim();
            let lower = l.to_ascii_lowercase();
            // `rem` comments, but not the tag `ReMo`.
            let rem = lower == "rem" || lower.starts_with("rem ") || lower.starts_with("rem\t");
            !l.is_empty() && !l.starts_with("//") && !rem
        })
        .map(|(i, _)| i + 1)
        .collect();
    let parsed = parse_list(&bytes, Some(ListFormat::Pooltag)).unwrap();
    let mut accounted: Vec<usize> = parsed.entries.iter().map(|e| e.line).collect();
    accounted.extend(parsed.skipped.iter().map(|s| s.line));
    accounted.sort_unstable();
    accounted.dedup();
    assert_eq!(accounted, content_lines);
    assert_eq!(
        report["imported"].as_u64().unwrap() as usize,
        parsed.entries.len()
    );
    assert_eq!(
        report["skipped"].as_u64().unwrap() as usize,
        parsed.skipped.len()
    );
    // The real file has only a handful of unusable lines (prose, continuation lines).
    assert!(parsed.skipped.len() < 10, "{:?}", parsed.skipped);
    assert!(parsed.entries.len() > 4_500);

    // Four clients at a time, as several admins would.
    let app = std::sync::Arc::new(app);
    let mut clients = tokio::task::JoinSet::new();
    for chunk in parsed.entries.chunks(parsed.entries.len().div_ceil(4)) {
        let chunk = chunk.to_vec();
        let app = app.clone();
        clients.spawn(async move {
            for entry in chunk {
                let (status, found) = app.get_json(&tag_path(&entry.tag.to_string())).await;
                assert_eq!(status, 200, "tag {:?}: {found}", entry.tag);
                let hit = found["attributions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|a| a["source"] == "wdk" && a["line"] == entry.line as u64);
                assert!(
                    hit,
                    "tag {:?} (line {}) not found: {found}",
                    entry.tag, entry.line
                );
            }
        });
    }
    while let Some(result) = clients.join_next().await {
        result.unwrap();
    }

    // Known rows, read off the file by hand.
    let (_, io) = app.get_json("/api/v1/tags/Io%20%20").await;
    assert!(
        io["attributions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["source"] == "wdk" && a["component"] == "nt!io")
    );
    let (_, dh) = app.get_json("/api/v1/tags/Dh%201").await;
    assert_eq!(
        dh["attributions"][0]["description"],
        "DirectDraw/3D DirectDraw object"
    );
    let (_, sm) = app.get_json("/api/v1/tags/smCR").await;
    let drivers: Vec<&str> = sm["attributions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["driver"].as_str())
        .collect();
    assert!(
        drivers.contains(&"ntoskrnl.exe") && drivers.contains(&"rdyboost.sys"),
        "{drivers:?}"
    );
}

#[tokio::test]
async fn reimporting_a_source_replaces_it_and_leaves_others_alone() {
    let (Some(older), Some(newer)) = (
        corpus_file("pooltag/pooltag-older.txt"),
        corpus_file("pooltag/pooltag.txt"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), Some(TOKEN)).await;
    let (_, before) = app.get_json("/readyz").await;
    let default_entries = before["index"]["entries"].as_u64().unwrap();

    let (status, first) = app.import("wdk", std::fs::read(older).unwrap()).await;
    assert_eq!(status, 200);
    let (status, second) = app.import("wdk", std::fs::read(newer).unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(second["replaced"], first["imported"]);

    let (_, after) = app.get_json("/readyz").await;
    assert_eq!(
        after["index"]["entries"].as_u64().unwrap(),
        default_entries + second["imported"].as_u64().unwrap(),
        "no duplicates, default untouched"
    );
    // FLpc moved from netio.sys to tcpip.sys between the two versions.
    let (_, flpc) = app.get_json("/api/v1/tags/FLpc").await;
    let wdk: Vec<&Value> = flpc["attributions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["source"] == "wdk")
        .collect();
    assert_eq!(wdk.len(), 1);
    assert_eq!(wdk[0]["driver"], "tcpip.sys");
    let (_, sources) = app.get_json("/api/v1/lists").await;
    let names: Vec<&str> = sources
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["poolsleuth-community", "poolsleuth-default", "wdk"]);
}

const SMALL_LIST: &str = "\
tag,driver,description,vendor
LkaL,leaky.sys,Leaky widget buffers,Contoso Ltd.
lkal,quiet.sys,A different tag with the same letters,
LkaX,leaky.sys,Leaky widget work items,Contoso Ltd.
\"Ab  \",padded.sys,Tag with trailing blanks,
Xss1,evil.sys,<script>alert('x')</script> & <b>bold</b>,
";

#[tokio::test]
async fn search_understands_tags_patterns_drivers_and_words() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), Some(TOKEN)).await;
    let (status, report) = app.import("small", SMALL_LIST).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["imported"], 5);

    // Exact case first, then other case.
    let (_, page) = app.get_json("/api/v1/search?q=LkaL").await;
    assert_eq!(page["hits"][0]["tag"], "LkaL");
    assert_eq!(page["hits"][0]["match"], "tag");
    assert_eq!(page["hits"][1]["tag"], "lkal");
    assert_eq!(page["hits"][1]["match"], "tag-any-case");

    let (_, page) = app.get_json("/api/v1/search?q=%3FkaL").await;
    assert_eq!(page["hits"][0]["tag"], "LkaL");
    let (_, page) = app.get_json("/api/v1/search?q=Lka*").await;
    let tags: Vec<&str> = page["hits"]
        .as_array()
        .unwrap()
        .iter()
        .take(2)
        .map(|h| h["tag"].as_str().unwrap())
        .collect();
    assert!(tags.contains(&"LkaL") && tags.contains(&"LkaX"), "{page}");

    for q in ["leaky.sys", "leaky", "LEAKY.SYS"] {
        let (_, page) = app.get_json(&format!("/api/v1/search?q={q}")).await;
        assert_eq!(page["hits"][0]["driver"], "leaky.sys", "{q}");
        assert_eq!(page["hits"][0]["match"], "driver", "{q}");
    }
    let (_, page) = app.get_json("/api/v1/search?q=contoso").await;
    assert_eq!(page["total"], 2);
    assert_eq!(page["hits"][0]["match"], "vendor");
    let (_, page) = app.get_json("/api/v1/search?q=Contoso%20Ltd").await;
    assert_eq!(page["hits"][0]["match"], "vendor");
    let (_, page) = app.get_json("/api/v1/search?q=widget%20buffers").await;
    assert_eq!(page["hits"][0]["tag"], "LkaL");
    assert_eq!(page["hits"][0]["match"], "text");

    // Tags are exact: trailing blanks count, case counts.
    let (status, _) = app.get_json("/api/v1/tags/Ab").await;
    assert_eq!(status, 200);
    let (status, body) = app.get_json("/api/v1/tags/LKAL").await;
    assert_eq!(status, 404);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("\"LkaL\""),
        "{body}"
    );
    let (status, body) = app.get_json("/api/v1/tags/TooLong").await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 4")
    );

    // Drivers by file name or stem.
    let (status, driver) = app.get_json("/api/v1/drivers/leaky").await;
    assert_eq!(status, 200);
    assert_eq!(driver["driver"], "leaky.sys");
    assert_eq!(driver["tags"].as_array().unwrap().len(), 2);
    assert_eq!(driver["vendors"][0], "Contoso Ltd.");
    let (status, _) = app.get_json("/api/v1/drivers/nothere.sys").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn search_pages_cover_every_hit_once() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), Some(TOKEN)).await;
    let mut list = String::from("tag,driver,description\n");
    for i in 0..57 {
        list.push_str(&format!("Pg{i:02},paging.sys,Paging test entry {i}\n"));
    }
    app.import("paging", list).await;
    let mut seen = Vec::new();
    let mut offset = 0;
    loop {
        let (status, page) = app
            .get_json(&format!("/api/v1/search?q=Pg*&limit=10&offset={offset}"))
            .await;
        assert_eq!(status, 200);
        assert_eq!(page["total"], 57);
        let hits = page["hits"].as_array().unwrap();
        if hits.is_empty() {
            break;
        }
        seen.extend(hits.iter().map(|h| h["tag"].as_str().unwrap().to_owned()));
        offset += 10;
    }
    seen.sort();
    let before = seen.len();
    seen.dedup();
    assert_eq!((before, seen.len()), (57, 57));

    for bad in ["limit=0", "limit=100000", "limit=abc", "offset=99999999"] {
        let (status, body) = app.get_json(&format!("/api/v1/search?q=Pg*&{bad}")).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body["error"]["message"].is_string());
    }
    // The browser page pages too.
    let html = app.get("/?q=Pg*&page=3").await.text().await.unwrap();
    assert!(html.contains("Results 51–57 of 57"), "{html}");
    assert!(html.contains("rel=\"prev\""));
    assert!(!html.contains("rel=\"next\""));
}

#[tokio::test]
async fn pages_escape_every_value() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), Some(TOKEN)).await;
    app.import("small", SMALL_LIST).await;
    for path in [
        "/?q=Xss1",
        "/tags/Xss1",
        "/drivers/evil.sys",
        "/?q=%3Cscript%3Ealert(1)%3C/script%3E",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        let csp = response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(csp.contains("default-src 'none'"));
        let html = response.text().await.unwrap();
        assert!(
            !html.contains("<script>"),
            "{path}: raw script tag in {html}"
        );
        assert!(!html.contains("<b>bold"), "{path}");
    }
    let html = app.get("/tags/Xss1").await.text().await.unwrap();
    assert!(
        html.contains("&#60;script&#62;") || html.contains("&lt;script&gt;"),
        "{html}"
    );
    // A tag with a trailing blank shows it, and links survive the round trip.
    let html = app.get("/?q=Ab").await.text().await.unwrap();
    assert!(html.contains("href=\"/tags/Ab%20%20\""), "{html}");
    // An unknown tag's page is a 404 that says what to do, as its search does.
    let response = app.get("/tags/Nope").await;
    assert_eq!(response.status(), 404);
    let html = response.text().await.unwrap();
    assert!(html.contains("Not in the knowledge base"), "{html}");
    assert!(html.contains("id=\"next-steps\""), "{html}");
}

#[tokio::test]
async fn bad_lists_are_refused_with_the_reason_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app_small_body(dir.path()).await;
    let (status, _) = app
        .import("mine", "LkaL - leaky.sys - Leaky buffers\n")
        .await;
    assert_eq!(status, 200);

    let cases: [(&str, Vec<u8>, u16, &str); 5] = [
        ("mine", b"\x00\x01MZ binary".to_vec(), 422, "binary"),
        (
            "mine",
            b"this is prose\nnot a tag list at all\n".to_vec(),
            422,
            "line 1",
        ),
        ("mine", Vec::new(), 422, "empty"),
        ("mine", b"name,driver\nx,y\n".to_vec(), 422, "no tag column"),
        (
            "bad name!",
            b"LkaL - x.sys - y\n".to_vec(),
            400,
            "source name",
        ),
    ];
    for (name, body, expected, needle) in cases {
        let (status, error) = app.import(name, body).await;
        assert_eq!(status, expected, "{error}");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{message}");
    }
    // Too large for this server's 4 KiB cap.
    let (status, error) = app.import("mine", vec![b'A'; 8 * 1024]).await;
    assert_eq!(status, 413, "{error}");

    let (status, tag) = app.get_json("/api/v1/tags/LkaL").await;
    assert_eq!(status, 200, "the earlier import survives every failed one");
    assert_eq!(tag["attributions"][0]["source"], "mine");

    // Partly bad lists import the good lines and report the bad ones.
    let (status, report) = app
        .import(
            "mine",
            "LkaL - leaky.sys - ok\nWAYTOOLONG - x.sys - no\nLkaM - leaky.sys - ok\n",
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            report["imported"].as_u64(),
            report["replaced"].as_u64(),
            report["skipped"].as_u64()
        ),
        (Some(2), Some(1), Some(1))
    );
    assert_eq!(report["skipped_lines"][0]["line"], 2);
}

async fn spawn_app_small_body(dir: &std::path::Path) -> common::TestApp {
    common::spawn_app_with(
        dir,
        HttpConfig {
            admin_token: Some(TOKEN.into()),
            max_body_bytes: 4 * 1024,
            ..HttpConfig::default()
        },
    )
    .await
}

#[tokio::test]
async fn writes_need_the_admin_token() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), Some(TOKEN)).await;
    let post = |token: Option<&str>| {
        let mut request = app
            .client
            .post(app.url("/api/v1/lists?name=x"))
            .body("LkaL - a.sys - b\n");
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let missing = post(None).await.unwrap();
    assert_eq!(missing.status(), 401);
    assert_eq!(missing.headers()["www-authenticate"], "Bearer");
    let wrong = post(Some("not-the-token")).await.unwrap();
    assert_eq!(wrong.status(), 401);
    let body = wrong.text().await.unwrap();
    assert!(!body.contains(TOKEN), "the token is never echoed");
    assert_eq!(post(Some(TOKEN)).await.unwrap().status(), 200);
    let delete = app
        .client
        .delete(app.url("/api/v1/lists/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 401);
    assert_eq!(app.delete_source("x").await, 200);
    let (status, _) = app.get_json("/api/v1/tags/LkaL").await;
    assert_eq!(status, 404, "deleted with its source");

    // A server without a token refuses every write and says how to enable them.
    let other_dir = tempfile::tempdir().unwrap();
    let read_only = spawn_app(other_dir.path(), None).await;
    let response = read_only
        .client
        .post(read_only.url("/api/v1/lists?name=x"))
        .bearer_auth(TOKEN)
        .body("LkaL - a.sys - b\n")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("POOLSLEUTH_ADMIN_TOKEN")
    );
}

#[tokio::test]
async fn the_knowledge_base_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), Some(TOKEN)).await;
    app.import("small", SMALL_LIST).await;
    let (_, before) = app.get_json("/readyz").await;
    app.stop().await;

    let app = spawn_app(dir.path(), Some(TOKEN)).await;
    let (_, after) = app.get_json("/readyz").await;
    assert_eq!(
        before["index"], after["index"],
        "same entries, no second seeding"
    );
    let (status, tag) = app.get_json("/api/v1/tags/LkaL").await;
    assert_eq!(status, 200);
    assert_eq!(tag["attributions"][0]["driver"], "leaky.sys");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_imports_locally_and_through_a_server() {
    let exe = env!("CARGO_BIN_EXE_poolsleuth");
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("my-tags.csv");
    std::fs::write(&list, SMALL_LIST).unwrap();
    let data = dir.path().join("data");

    let output = std::process::Command::new(exe)
        .args([
            "import",
            list.to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
        ])
        .env_remove("POOLSLEUTH_ADMIN_TOKEN")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("source \"my-tags\" (csv format): 5 imported, 0 replaced, 0 lines skipped"),
        "{stdout}"
    );

    // While a server holds the data dir, a local import is refused with a way forward.
    let app = spawn_app(&data, Some(TOKEN)).await;
    let output = std::process::Command::new(exe)
        .args([
            "import",
            list.to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--server"), "{stderr}");

    // Through the server, with the token.
    let server_import = |token: &str| {
        std::process::Command::new(exe)
            .args([
                "import",
                list.to_str().unwrap(),
                "--name",
                "via-server",
                "--server",
                &app.base,
                "--token",
                token,
            ])
            .output()
            .unwrap()
    };
    let output = tokio::task::block_in_place(|| server_import(TOKEN));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("source \"via-server\""));
    let output = tokio::task::block_in_place(|| server_import("wrong"));
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("the server refused the token"));
}

// --- Issue 26, item 7: search as README shows it ----------------------------------------------

/// The `you type` column of README's search table.
fn readme_search_examples() -> Vec<String> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let table = readme
        .split("| you type | it finds |")
        .nth(1)
        .expect("README's search table")
        .split("\n\n")
        .next()
        .unwrap();
    table
        .lines()
        .skip(2)
        .filter_map(|row| row.split('|').nth(1))
        .flat_map(|cell| {
            cell.split('`')
                .skip(1)
                .step_by(2)
                .map(|example| example.trim_matches('"').to_owned())
                .collect::<Vec<_>>()
        })
        .collect()
}

#[tokio::test]
async fn every_search_example_in_readme_finds_something_on_a_fresh_install() {
    let data = tempfile::tempdir().unwrap();
    let app = spawn_app(data.path(), None).await;
    let examples = readme_search_examples();
    assert!(examples.len() >= 8, "{examples:?}");
    for example in examples {
        let query = if example.ends_with(' ') {
            // A quoted tag keeps its blanks.
            format!("\"{example}\"")
        } else {
            example.clone()
        };
        let (status, page) = app
            .get_json(&format!(
                "/api/v1/search?q={}",
                query.replace(' ', "%20").replace('"', "%22")
            ))
            .await;
        assert_eq!(status, 200, "{page}");
        assert!(
            page["total"].as_u64().unwrap() > 0,
            "README's example {example:?} finds nothing on a fresh install"
        );
    }
    app.stop().await;
}

/// A list in the WDK's format: the memory manager's tags, and many rows that mention a memory
/// manager in passing.
fn memory_manager_list() -> String {
    let mut list = String::from(
        "Mm   - nt!mm        - general Mm Allocations\nMmSt - nt!mm        - Mm section object prototype ptes\nMmCa - nt!mm        - Mm control areas for mapped files\n",
    );
    for i in 0..45 {
        list.push_str(&format!(
            "V{i:03} - dxgmms2.sys  - Video memory manager structure {i}\n"
        ));
    }
    list.push_str("Zzz1 - <unknown>    - (Contoso) Frees what the memory manager returns\n");
    list
}

#[tokio::test]
async fn words_rank_rows_that_start_with_them_above_mentions_in_passing() {
    let data = tempfile::tempdir().unwrap();
    let app = spawn_app(data.path(), Some(TOKEN)).await;
    let (status, report) = app.import("wdk", memory_manager_list()).await;
    assert_eq!(status, 200, "{report}");
    let (status, page) = app
        .get_json("/api/v1/search?q=memory%20manager&limit=200")
        .await;
    assert_eq!(status, 200, "{page}");
    let hits = page["hits"].as_array().unwrap();
    let position = |tag: &str| {
        hits.iter()
            .position(|h| h["tag"] == tag)
            .unwrap_or_else(|| panic!("{tag:?} is not found: {page:#}"))
    };
    let first_video = hits
        .iter()
        .position(|h| h["driver"] == "dxgmms2.sys")
        .unwrap();
    // The memory manager's own tags (nt!mm, and Memory Manager rows of the starter list)
    // before every row that mentions a video memory manager or a memory manager in passing.
    for tag in ["Mm  ", "MmSt", "MmCa", "Cont", "Sect"] {
        assert!(
            position(tag) < first_video,
            "{tag:?} at {} after the first video memory manager row at {first_video}",
            position(tag)
        );
    }
    assert!(position("Zzz1") > position("MmCa"));
    app.stop().await;
}

#[tokio::test]
async fn wdk_rows_whose_owner_ships_with_windows_are_microsofts() {
    let data = tempfile::tempdir().unwrap();
    let app = spawn_app(data.path(), Some(TOKEN)).await;
    let microsoft = || async {
        let (_, page) = app.get_json("/api/v1/search?q=Microsoft&limit=1").await;
        page["total"].as_u64().unwrap()
    };
    let before = microsoft().await;
    let list = "NtfF - ntfs.sys     - FCB_INDEX\nMmSt - nt!mm        - Mm section object prototype ptes\nZq01 - zqx.sys      - Contoso's own\nZq02 - <unknown>    - Nobody knows\n";
    let (status, report) = app.import("wdk", list).await;
    assert_eq!(status, 200, "{report}");
    for (tag, vendor) in [
        ("NtfF", Some("Microsoft")),
        ("MmSt", Some("Microsoft")),
        ("Zq01", None),
        ("Zq02", None),
    ] {
        let (status, body) = app.get_json(&format!("/api/v1/tags/{tag}")).await;
        assert_eq!(status, 200, "{body}");
        let row = body["attributions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["source"] == "wdk")
            .unwrap_or_else(|| panic!("{body:#}"));
        assert_eq!(row["vendor"].as_str(), vendor, "{tag}: {row}");
    }
    // And a search for the vendor finds them.
    assert_eq!(microsoft().await, before + 2);
    app.stop().await;
}
