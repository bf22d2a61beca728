//! Issue 27: known causes. A fresh install serves the cited cases (list, filter, CSV export),
//! an admin imports a file of cases that replaces its source, and the answer uses them: a
//! Windows-owned tag whose cause driver is loaded names that driver, without a driver list the
//! causes are listed and the list asked for, a loaded driver outside the affected versions is
//! not the answer (and the answer says why), a third-party tag's known fix is the advice, and
//! every pasted case of the corpus whose cause driver is known gets that driver as the answer
//! when the driver list names it.

mod common;

use common::{TOKEN, corpus_file, spawn_app};
use serde_json::Value;

/// A PowerShell driver list (the format `tests/pastes.rs` sends) of `(service, file, version)`.
fn driver_list(drivers: &[(&str, &str, &str)]) -> String {
    let mut list =
        String::from("\"Name\",\"DisplayName\",\"State\",\"PathName\",\"FileVersion\"\n");
    for (service, file, version) in drivers {
        list.push_str(&format!(
            "\"{service}\",\"{service}\",\"Running\",\"C:\\Windows\\system32\\drivers\\{file}\",\"{version}\"\n"
        ));
    }
    list.push_str(
        "\"Ntfs\",\"Ntfs\",\"Running\",\"C:\\Windows\\system32\\drivers\\ntfs.sys\",\"10.0.26100.1\"\n",
    );
    list
}

/// Analyzes `snapshot` through a fresh server, with the driver list when one is given.
async fn analyze(snapshot: &[u8], drivers: Option<&str>) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), None).await;
    let (status, answer) = send(&app, snapshot, drivers).await;
    app.stop().await;
    assert_eq!(status, 200, "{answer:#}");
    answer
}

async fn send(app: &common::TestApp, snapshot: &[u8], drivers: Option<&str>) -> (u16, Value) {
    match drivers {
        None => app.analyze(snapshot.to_vec()).await,
        Some(list) => {
            let form = reqwest::multipart::Form::new()
                .part(
                    "snapshot",
                    reqwest::multipart::Part::bytes(snapshot.to_vec()),
                )
                .part(
                    "drivers",
                    reqwest::multipart::Part::bytes(list.as_bytes().to_vec()),
                );
            app.analyze_form(form).await
        }
    }
}

/// A poolmon screen of `(tag, type, allocs, frees, bytes)` rows.
fn poolmon(rows: &[(&str, &str, u64, u64, u64)]) -> Vec<u8> {
    let mut text = String::from(
        " Memory:33554432K Avail: 2072536K  PageFlts:468600648   InRam Krnl:56708K P:950888K\n \
         Commit:14100436K Limit:17517136K Peak:15685564K            Pool N:23710920K P:983564K\n \
         Tag  Type     Allocs         Frees    Diff   Bytes    Per Alloc\n\n",
    );
    for (tag, kind, allocs, frees, bytes) in rows {
        let diff = allocs - frees;
        text.push_str(&format!(
            " {tag} {kind} {allocs:>10} {frees:>10} {diff:>10} {bytes:>12} {:>8}\n",
            bytes / diff.max(1)
        ));
    }
    text.into_bytes()
}

fn causes(a: &Value) -> &Vec<Value> {
    a["answer"]["known_causes"]
        .as_array()
        .expect("known_causes")
}

fn cause<'a>(a: &'a Value, id: &str) -> &'a Value {
    causes(a)
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("{id} not among {:#}", a["answer"]["known_causes"]))
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// `NtFC` far above normal, allocated far more often than freed: the NTFS FCB retention the
/// wcifs.sys cases describe.
fn ntfc_screen() -> Vec<u8> {
    poolmon(&[
        ("NtFC", "Nonp", 134_000_000, 484, 19_296_000_000),
        ("File", "Nonp", 9_537_617, 8_520_076, 214_014_515),
        ("Toke", "Paged", 226_940, 109_540, 95_609_715),
    ])
}

#[tokio::test]
async fn a_fresh_install_serves_cited_cases_as_json_and_csv() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), None).await;
    let csv = app.get_csv("/api/v1/causes/export").await;
    // A spreadsheet opens it as is: the header is the first line.
    assert!(
        csv.starts_with("id,tags,pool,driver,application,vendor,"),
        "{csv:.200}"
    );
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (tags_at, url_at) = (column("tags"), column("url"));
    let mut tags = std::collections::BTreeSet::new();
    let mut rows = 0;
    for record in reader.records() {
        let record = record.unwrap();
        rows += 1;
        assert!(record[url_at].starts_with("http"), "{record:?}");
        tags.extend(record[tags_at].split('|').map(str::to_owned));
    }
    assert!(rows >= 80, "{rows} cases");
    assert!(tags.len() >= 30, "{} tags", tags.len());
    assert!(tags.contains("Mdl "), "a trailing blank is kept: {tags:?}");

    let (status, all) = app.get_json("/api/v1/causes").await;
    assert_eq!(status, 200);
    assert_eq!(all["total"].as_u64().unwrap() as usize, rows);
    assert_eq!(all["sources"][0]["name"], "poolsleuth-causes");
    let (status, ntfc) = app.get_json("/api/v1/causes?tag=NtFC").await;
    assert_eq!(status, 200);
    let cases = ntfc["cases"].as_array().unwrap();
    assert!(cases.iter().any(|c| c["driver"] == "wcifs.sys"), "{ntfc:#}");
    assert!(
        cases
            .iter()
            .all(|c| c["tags"].as_array().unwrap().contains(&"NtFC".into()))
    );
    // Tags are exact: `ntfc` is another tag.
    let (_, lower) = app.get_json("/api/v1/causes?tag=ntfc").await;
    assert_eq!(lower["total"], 0);
    let (status, bad) = app.get_json("/api/v1/causes?tag=TooLong").await;
    assert_eq!(status, 400, "{bad}");
    app.stop().await;
}

#[tokio::test]
async fn an_imported_file_of_causes_replaces_its_source_and_keeps_its_provenance() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), Some(TOKEN)).await;
    let post = |body: &'static str, token: Option<&'static str>| {
        let mut request = app
            .client
            .post(app.url("/api/v1/causes?name=site&origin=wiki"))
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let two = "id,tags,pool,driver,url,summary\n\
               a,Zzab,nonpaged,zz.sys,https://example.org/a,zz.sys keeps Zzab\n\
               b,\"Zzcd|Irp \",either,,https://example.org/b,an app holds IRPs\n";
    let response = post(two, None).await.unwrap();
    assert_eq!(response.status(), 401);
    let response = post(two, Some(TOKEN)).await.unwrap();
    assert_eq!(response.status(), 200);
    let report: Value = response.json().await.unwrap();
    assert_eq!(
        (report["imported"].as_u64(), report["replaced"].as_u64()),
        (Some(2), Some(0))
    );
    let one = "id,tags,url,summary,application\nc,Zzab,https://example.org/c,again,app.exe\n";
    let report: Value = post(one, Some(TOKEN)).await.unwrap().json().await.unwrap();
    assert_eq!(
        (report["imported"].as_u64(), report["replaced"].as_u64()),
        (Some(1), Some(2))
    );
    let (_, zz) = app.get_json("/api/v1/causes?tag=Zzab").await;
    assert_eq!(zz["total"], 1, "{zz:#}");
    assert_eq!(zz["cases"][0]["source"], "site");
    assert_eq!(zz["cases"][0]["line"], 2);
    let (_, all) = app.get_json("/api/v1/causes").await;
    let site = all["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "site")
        .unwrap();
    assert_eq!(
        (site["origin"].as_str(), site["cases"].as_u64()),
        (Some("wiki"), Some(1))
    );
    // The embedded cases are untouched, and the export holds both sources.
    assert!(
        all["sources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "poolsleuth-causes")
    );
    let csv = app.get_csv("/api/v1/causes/export").await;
    assert!(csv.contains(",site\r\n"), "{csv:.300}");
    // A file that is not one is refused and changes nothing.
    let response = post("tag,driver\nAbcd,a.sys\n", Some(TOKEN)).await.unwrap();
    assert_eq!(response.status(), 422);
    let (_, zz) = app.get_json("/api/v1/causes?tag=Zzab").await;
    assert_eq!(zz["total"], 1);

    // A source of causes is deleted as a list is: with the token, and only that source.
    let delete = |name: &'static str, token: bool| {
        let mut request = app
            .client
            .delete(app.url(&format!("/api/v1/causes/{name}")));
        if token {
            request = request.bearer_auth(TOKEN);
        }
        request.send()
    };
    assert_eq!(delete("site", false).await.unwrap().status(), 401);
    let response = delete("site", true).await.unwrap();
    assert_eq!(response.status(), 200);
    let deleted: Value = response.json().await.unwrap();
    assert_eq!(
        (deleted["source"].as_str(), deleted["removed"].as_u64()),
        (Some("site"), Some(1))
    );
    assert_eq!(delete("site", true).await.unwrap().status(), 404);
    let (_, zz) = app.get_json("/api/v1/causes?tag=Zzab").await;
    assert_eq!(zz["total"], 0, "{zz:#}");
    let (_, all) = app.get_json("/api/v1/causes").await;
    assert!(
        all["total"].as_u64().unwrap() >= 80,
        "the shipped cases stay"
    );
    app.stop().await;
}

/// The result page lists the known causes with their sources, the one whose driver is loaded
/// marked as the answer.
#[tokio::test]
async fn the_result_page_lists_known_causes_with_their_sources() {
    let drivers = driver_list(&[("wcifs", "wcifs.sys", "10.0.26100.9278")]);
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), None).await;
    let (_, a) = send(&app, &ntfc_screen(), Some(&drivers)).await;
    let url = text(&causes(&a)[0]["url"]).to_owned();
    let form = reqwest::multipart::Form::new()
        .part(
            "snapshot",
            reqwest::multipart::Part::bytes(ntfc_screen()).file_name("poolmon.txt"),
        )
        .part(
            "drivers",
            reqwest::multipart::Part::bytes(drivers.into_bytes()).file_name("drivers.csv"),
        );
    let (status, page) = app.analyze_page(form).await;
    assert_eq!(status, 200);
    app.stop().await;
    let section = &page[page
        .find("id=\"known-causes\"")
        .expect("a known-causes section")..];
    assert!(
        section.contains("class=\"cause-answer\"><strong>wcifs.sys"),
        "{section:.600}"
    );
    assert!(section.contains("[driver loaded]"), "{section:.600}");
    assert!(
        section.contains(&format!("href=\"{url}\"")),
        "{section:.600}"
    );
}

#[tokio::test]
async fn a_windows_owned_tag_whose_cause_driver_is_loaded_names_that_driver() {
    let drivers = driver_list(&[("wcifs", "wcifs.sys", "10.0.26100.9278")]);
    let a = analyze(&ntfc_screen(), Some(&drivers)).await;
    let answer = &a["answer"];
    assert_eq!(answer["kind"], "windows-owned", "{answer:#}");
    assert_eq!(answer["driver"], "wcifs.sys", "{answer:#}");
    assert_eq!(answer["version"], "10.0.26100.9278");
    let best = &causes(&a)[0];
    assert_eq!(best["status"], "driver-loaded", "{best:#}");
    assert_eq!(best["driver"], "wcifs.sys");
    assert!(
        text(&best["url"]).starts_with("https://github.com/"),
        "{best}"
    );
    let matched = best["matched"].to_string();
    assert!(
        matched.contains("wcifs.sys 10.0.26100.9278 is in the driver list"),
        "{matched}"
    );
    assert!(
        text(&answer["headline"]).contains("Known cause"),
        "{answer}"
    );
    // The fix or workaround first, the pool trace as the step that confirms it.
    let action = text(&answer["action"]);
    assert!(
        action.contains("Workaround") || action.contains("Update"),
        "{action}"
    );
    assert!(
        action.contains("pool trace of `NtFC`") && action.contains("wpr -start"),
        "{action}"
    );
    // The verdict tells the same story as the answer, not the generic "a filter driver".
    let verdict = text(&a["verdict"]);
    assert!(
        verdict.contains("wcifs.sys 10.0.26100.9278 is loaded"),
        "{verdict}"
    );
    assert!(!verdict.contains("the usual cause is"), "{verdict}");
}

#[tokio::test]
async fn without_a_driver_list_the_known_causes_are_listed_and_the_list_asked_for() {
    let a = analyze(&ntfc_screen(), None).await;
    let answer = &a["answer"];
    assert_eq!(answer["kind"], "windows-owned", "{answer:#}");
    assert_ne!(
        answer["driver"], "wcifs.sys",
        "no list, no loaded driver: {answer:#}"
    );
    let wcifs: Vec<&Value> = causes(&a)
        .iter()
        .filter(|c| c["driver"] == "wcifs.sys")
        .collect();
    assert!(!wcifs.is_empty(), "{:#}", answer["known_causes"]);
    assert!(wcifs.iter().all(|c| c["status"] == "no-driver-list"));
    let action = text(&answer["action"]);
    assert!(
        action.contains("Known causes of `NtFC`: wcifs.sys"),
        "{action}"
    );
    assert!(action.contains("Send the loaded-driver list"), "{action}");
    // The text report names the cases and their pages too.
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), None).await;
    let report = app
        .client
        .post(app.url("/api/v1/analyze?output=text"))
        .body(ntfc_screen())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    app.stop().await;
    assert!(report.contains("KNOWN CAUSES"), "{report}");
    assert!(
        report.contains("https://github.com/microsoft/WSL/issues/"),
        "{report}"
    );
}

/// `Proc` outstanding far above what live processes need: the AMD display driver's case.
fn proc_screen() -> Vec<u8> {
    poolmon(&[
        ("Proc", "Nonp", 4_027_230, 352_302, 5_740_296_000),
        ("Thre", "Nonp", 1_004_301, 1_003_903, 40_992_304),
    ])
}

#[tokio::test]
async fn a_loaded_driver_outside_the_affected_versions_is_not_the_answer_and_the_answer_says_why() {
    // The fixed version is loaded: the case does not apply.
    let fixed = driver_list(&[("amduw23g", "amdkmdag.sys", "32.0.21045.1000")]);
    let a = analyze(&proc_screen(), Some(&fixed)).await;
    let answer = &a["answer"];
    assert_ne!(answer["driver"], "amdkmdag.sys", "{answer:#}");
    let amd = cause(&a, "amd-kmdag-proc");
    assert_eq!(amd["status"], "outside-affected-versions", "{amd:#}");
    let why = text(&amd["why_not"]);
    assert!(
        why.contains("32.0.21045.1000") && why.contains("fixed"),
        "{why}"
    );
    let action = text(&answer["action"]);
    assert!(action.contains("amdkmdag.sys is loaded, but"), "{action}");
    assert!(action.contains("not taken as the cause"), "{action}");

    // The affected version is loaded: it is the answer, with the version that fixes it.
    let affected = driver_list(&[("amduw23g", "amdkmdag.sys", "32.0.11002.41")]);
    let a = analyze(&proc_screen(), Some(&affected)).await;
    let answer = &a["answer"];
    assert_eq!(answer["driver"], "amdkmdag.sys", "{answer:#}");
    assert_eq!(answer["vendor"], "AMD");
    assert_eq!(cause(&a, "amd-kmdag-proc")["status"], "driver-loaded");
    let action = text(&answer["action"]);
    assert!(
        action.contains("Update amdkmdag.sys to 32.0.21045.1000 or later")
            && action.contains("the leak is fixed in 32.0.21045.1000"),
        "{action}"
    );
}

#[tokio::test]
async fn a_third_party_tag_with_a_known_fixed_version_gets_that_version_as_advice() {
    // Npcap's capture lookaside lists, held by Npcap 1.77 (the 1.76-1.77 leak, fixed in 1.78).
    let screen = poolmon(&[
        ("NpNB", "Nonp", 9_000_000, 90_000, 3_400_000_000),
        ("NpCD", "Nonp", 8_000_000, 80_000, 1_100_000_000),
    ]);
    let drivers = driver_list(&[("npcap", "npcap.sys", "1.77")]);
    let a = analyze(&screen, Some(&drivers)).await;
    let answer = &a["answer"];
    assert_eq!(answer["kind"], "third-party-driver", "{answer:#}");
    assert_eq!(answer["driver"], "npcap.sys");
    let npcap = cause(&a, "npcap-1-77-eap");
    assert_eq!(npcap["status"], "driver-loaded");
    assert_eq!(npcap["fix"], "fixed in Npcap 1.78");
    let matched = npcap["matched"].to_string();
    assert!(
        matched.contains("other tags grow") || matched.contains("other tags are present"),
        "{matched}"
    );
    let action = text(&answer["action"]);
    assert!(
        action.contains("Update Npcap to 1.78 or later: the leak is fixed in Npcap 1.78"),
        "{action}"
    );
    // The suspect's update advice carries the case's fix and its source.
    let suspect = &a["suspects"][0];
    assert_eq!(suspect["driver"], "npcap.sys");
    let guidance = text(&suspect["guidance"]["text"]);
    assert!(
        guidance.starts_with("update Npcap to 1.78: the leak is fixed in Npcap 1.78"),
        "{guidance}"
    );
    assert!(
        guidance.contains("https://github.com/nmap/npcap/blob/master/CHANGELOG.md"),
        "{guidance}"
    );
    assert!(
        text(&suspect["vendor_report"]).contains("Known case:"),
        "{suspect:#}"
    );
}

#[tokio::test]
async fn an_imported_cases_fixed_file_version_joins_the_version_diff_of_a_scanned_driver() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), Some(TOKEN)).await;
    let (status, _) = app
        .import("site-tags", "Zzab - leaky.sys - leaky test driver\n")
        .await;
    assert_eq!(status, 200);
    let case = "id,tags,pool,driver,vendor,versions_of,affected_versions,fixed_version,url,summary\n\
                leaky-zzab,Zzab,nonpaged,leaky.sys,Contoso,file,<1.3,1.3,https://example.org/leaky/1,leaky.sys leaks Zzab on every reload\n";
    let response = app
        .client
        .post(app.url("/api/v1/causes?name=site"))
        .bearer_auth(TOKEN)
        .body(case)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let screen = poolmon(&[("Zzab", "Nonp", 5_000_000, 1_000, 2_000_000_000)]);
    let drivers = driver_list(&[("leaky", "leaky.sys", "1.2.0")]);
    let (status, a) = send(&app, &screen, Some(&drivers)).await;
    app.stop().await;
    assert_eq!(status, 200, "{a}");
    let suspect = &a["suspects"][0];
    assert_eq!(suspect["driver"], "leaky.sys", "{a:#}");
    let guidance = text(&suspect["guidance"]["text"]);
    assert!(
        guidance
            .starts_with("update to 1.3: the leak is fixed in 1.3 (https://example.org/leaky/1)"),
        "{guidance}"
    );
}

#[tokio::test]
async fn tag_pages_show_known_causes_with_their_links_even_for_tags_no_list_knows() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), None).await;
    let page = app.get("/tags/NtFC").await.text().await.unwrap();
    assert!(page.contains("Known causes"), "{page}");
    assert!(page.contains("wcifs.sys"), "{page}");
    assert!(
        page.contains("href=\"https://github.com/microsoft/Windows-Containers/issues/646\"")
            || page.contains("href=\"https://github.com/microsoft/WSL/issues/40804\"")
    );
    // `amda` is in no tag list, but a case names it.
    let response = app.get("/tags/amda").await;
    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    assert!(page.contains("amdacpbus2.sys"), "{page}");
    // A tag nobody knows is still a 404.
    assert_eq!(app.get("/tags/Qq9z").await.status(), 404);
    app.stop().await;
}

/// The corpus pastes whose cause is a known driver, and that driver (with a version a driver
/// list would show).
const PASTED_CAUSES: [(&str, &str, &str); 9] = [
    (
        "ntqsi-class22-nonpaged-ntfc-wsl41296.txt",
        "wcifs.sys",
        "10.0.26100.9278",
    ),
    (
        "ntqsi-class22-delta-wcifs-wsl40804.txt",
        "wcifs.sys",
        "10.0.26100.9278",
    ),
    (
        "poolmon-delta-table-wcifs-wincontainers646.txt",
        "wcifs.sys",
        "10.0.26100.9278",
    ),
    (
        "ntqsi-top-paged-tags-wcifs-wsl41296.txt",
        "wcifs.sys",
        "10.0.26100.9278",
    ),
    (
        "proc-tag-outstanding-amdkmdag-devperf137.txt",
        "amdkmdag.sys",
        "32.0.11002.41",
    ),
    (
        "poolused2-amd-acp-amda-leak.txt",
        "amdacpbus2.sys",
        "10.0.1.2",
    ),
    (
        "prose-counts-mdl-netkvm-virtio73.txt",
        "netkvm.sys",
        "100.93.104.24000",
    ),
    (
        "verifier-pool-allocations-ebpfcore-ebpf1908.txt",
        "ebpfcore.sys",
        "0.5.0",
    ),
    (
        "verifier-alloclist-entv-ebpfcore-ebpf2092.txt",
        "ebpfcore.sys",
        "0.6.0",
    ),
];

#[tokio::test]
async fn every_pasted_case_with_a_known_cause_driver_gets_it_as_the_answer() {
    let mut checked = 0;
    for (file, driver, version) in PASTED_CAUSES {
        let Some(path) = corpus_file(&format!("pastes/{file}")) else {
            eprintln!("skipped: the corpus paste {file} is not here");
            continue;
        };
        let paste = std::fs::read(path).unwrap();
        let service = driver.trim_end_matches(".sys");
        let drivers = driver_list(&[(service, driver, version)]);
        let a = analyze(&paste, Some(&drivers)).await;
        assert_eq!(a["answer"]["driver"], driver, "{file}: {:#}", a["answer"]);
        let case = causes(&a)
            .iter()
            .find(|c| c["driver"] == driver)
            .unwrap_or_else(|| panic!("{file}: no case of {driver}: {:#}", a["answer"]));
        assert_eq!(case["status"], "driver-loaded", "{file}: {case:#}");
        assert!(text(&case["url"]).starts_with("http"), "{file}");
        checked += 1;
    }
    eprintln!("{checked} pastes checked");
}

#[tokio::test]
async fn pasted_cases_whose_cause_is_an_application_list_it_with_its_source() {
    for (file, id) in [
        (
            "poolmon-edited-etwr-etwd-nvidia-etw-cider1946.txt",
            "nvidia-etw-webview2-cider",
        ),
        (
            "prose-bullets-gpbm-dxgkrnl-rustdesk15945.txt",
            "rustdesk-gpbm-staging",
        ),
    ] {
        let Some(path) = corpus_file(&format!("pastes/{file}")) else {
            eprintln!("skipped: the corpus paste {file} is not here");
            continue;
        };
        let a = analyze(&std::fs::read(path).unwrap(), None).await;
        let case = cause(&a, id);
        assert_eq!(case["status"], "application", "{file}: {case:#}");
        assert!(
            text(&a["answer"]["action"]).contains("Known triggers"),
            "{file}: {:#}",
            a["answer"]
        );
    }
}
