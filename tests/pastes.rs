//! Issue 24: every real paste in `../shared/corpus/pastes/` reads and answers as its
//! `EXPECTED.md` says, through the real server as a user's `curl --data-binary` sends it. Each
//! paste has its own test; a checkout without the corpus skips them, saying so.

mod common;

use common::{corpus_file, spawn_app};
use serde_json::Value;

/// The analysis of one corpus paste (None when the corpus is absent), with an optional
/// driver list sent beside it as the `drivers` part.
async fn analyze_paste(name: &str, drivers: Option<&str>) -> Option<(u16, Value)> {
    let path = corpus_file(&format!("pastes/{name}"))?;
    let body = std::fs::read(path).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), None).await;
    let answer = match drivers {
        None => app.analyze(body).await,
        Some(list) => {
            let form = reqwest::multipart::Form::new()
                .part("snapshot", reqwest::multipart::Part::bytes(body))
                .part(
                    "drivers",
                    reqwest::multipart::Part::bytes(list.as_bytes().to_vec()),
                );
            app.analyze_form(form).await
        }
    };
    app.stop().await;
    Some(answer)
}

fn kind(a: &Value) -> &str {
    a["answer"]["kind"].as_str().unwrap_or_default()
}

fn headline(a: &Value) -> String {
    a["answer"]["headline"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// The latest read value of `tag` (exact, trailing blanks included).
fn read<'a>(a: &'a Value, tag: &str) -> &'a Value {
    a["read"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["tag"] == tag && v["state"] == "latest")
        .unwrap_or_else(|| panic!("{tag:?} not read: {:#}", a["read"]))
}

/// The finding of `tag`.
fn finding<'a>(a: &'a Value, tag: &str) -> &'a Value {
    a["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["tag"] == tag)
        .unwrap_or_else(|| panic!("no finding for {tag:?}"))
}

fn mib(v: f64) -> f64 {
    v * 1024.0 * 1024.0
}

/// `bytes` within the rounding of a value printed with `decimals` places in `unit` bytes.
fn near(bytes: &Value, printed: f64, unit: f64, decimals: i32) {
    let b = bytes
        .as_f64()
        .unwrap_or_else(|| panic!("no bytes: {bytes}"));
    let tolerance = unit * 0.5 * 10f64.powi(-decimals) + 1.0;
    assert!(
        (b - printed * unit).abs() <= tolerance,
        "{b} is not {printed} × {unit}"
    );
}

fn never_all_clear(a: &Value) {
    assert_ne!(kind(a), "nothing-abnormal", "{}", headline(a));
    assert!(!headline(a).contains("Nothing abnormal"), "{}", headline(a));
}

#[tokio::test]
async fn poolused2_amda_is_the_unknown_answer_with_iowi_in_lockstep() {
    let Some((status, a)) = analyze_paste("poolused2-amd-acp-amda-leak.txt", None).await else {
        return;
    };
    assert_eq!(status, 200, "{a}");
    assert_eq!(read(&a, "amda")["bytes"], 1_938_325_232u64);
    assert_eq!(read(&a, "amda")["pool"], "nonpaged");
    assert_eq!(read(&a, "IoWI")["bytes"], 646_239_888u64);
    assert_eq!(kind(&a), "unknown-tag");
    assert_eq!(a["answer"]["tag"], "amda");
    assert!(
        a["answer"]["candidates"].to_string().contains("IoWI"),
        "{}",
        a["answer"]["candidates"]
    );
    // No Windows component is the first suspect of an unknown top tag.
    if let Some(first) = a["suspects"].get(0) {
        assert_eq!(first["os_component"], false, "{first}");
    }
    // Where the number came from: the line of the paste.
    let source = &finding(&a, "amda")["source"];
    assert_eq!(source["line"], 8);
    assert!(source["text"].as_str().unwrap().starts_with("amda"));

    // With the machine's driver list, the driver whose service name starts with `amda` (KMDF's
    // default tag) comes first.
    let drivers = "\"Name\",\"DisplayName\",\"State\",\"PathName\",\"FileVersion\"\n\
                   \"amdacpbus2\",\"AMD Audio CoProcessor Bus\",\"Running\",\
                   \"C:\\Windows\\system32\\drivers\\amdacpbus2.sys\",\"10.0.1.2\"\n\
                   \"Ntfs\",\"Ntfs\",\"Running\",\"C:\\Windows\\system32\\drivers\\ntfs.sys\",\
                   \"10.0.22621.1\"\n";
    let (status, a) = analyze_paste("poolused2-amd-acp-amda-leak.txt", Some(drivers))
        .await
        .unwrap();
    assert_eq!(status, 200, "{a}");
    assert_eq!(
        a["suspects"][0]["driver"], "amdacpbus2.sys",
        "{:#}",
        a["suspects"]
    );
}

#[tokio::test]
async fn ntqsi_nonpaged_ntfc_reads_np_mb_and_says_windows_owns_it() {
    let Some((status, a)) = analyze_paste("ntqsi-class22-nonpaged-ntfc-wsl41296.txt", None).await
    else {
        return;
    };
    assert_eq!(status, 200, "{a}");
    near(&read(&a, "NtFC")["bytes"], 21353.2, mib(1.0), 1);
    assert_eq!(read(&a, "NtFC")["pool"], "nonpaged");
    assert_eq!(kind(&a), "windows-owned");
    assert!(headline(&a).contains("ntfs.sys"), "{}", headline(&a));
}

#[tokio::test]
async fn a_delta_table_without_a_unit_is_growth_in_counts_never_an_all_clear() {
    let Some((status, a)) = analyze_paste("ntqsi-class22-delta-wcifs-wsl40804.txt", None).await
    else {
        return;
    };
    assert_eq!(status, 200, "{a}");
    never_all_clear(&a);
    // The header gives no unit: the numbers are counts, never bytes.
    let wcsc = finding(&a, "WCsc");
    assert_eq!(wcsc["growth"]["delta_outstanding"], 503_677, "{wcsc}");
    assert_eq!(wcsc["growth"]["delta_bytes"], 0, "{wcsc}");
    assert!(!headline(&a).contains("KiB"), "{}", headline(&a));
    assert_eq!(
        finding(&a, "IoFE")["growth"]["delta_outstanding"],
        1_006_714
    );
    // The tags growing in step are named as one cause, WCsc with its gloss.
    let all = a.to_string();
    assert!(
        a["answer"]["candidates"].to_string().contains("WCsc") || all.contains("wcifs"),
        "{}",
        a["answer"]
    );
}

#[tokio::test]
async fn plus_cells_and_a_net_column_are_growth_with_allocations_and_no_frees() {
    let Some((status, a)) =
        analyze_paste("poolmon-delta-table-wcifs-wincontainers646.txt", None).await
    else {
        return;
    };
    assert_eq!(status, 200, "{a}");
    never_all_clear(&a);
    for (tag, bytes) in [("WCsc", 767_616), ("WCfc", 415_792), ("WCri", 740_928)] {
        let f = finding(&a, tag);
        assert_eq!(f["growth"]["delta_bytes"], bytes, "{tag}: {f}");
    }
    assert!(
        headline(&a).contains("1,999") && headline(&a).contains("freed 0"),
        "{}",
        headline(&a)
    );
}

#[tokio::test]
async fn many_windows_tags_and_none_dominant_is_said() {
    let Some((status, a)) = analyze_paste("ntqsi-top-paged-tags-wcifs-wsl41296.txt", None).await
    else {
        return;
    };
    assert_eq!(status, 200, "{a}");
    for (tag, mb) in [
        ("Toke", 7695.3),
        ("FMfn", 4705.5),
        ("Ntfc", 2036.6),
        ("IoNm", 1838.9),
        ("SeAt", 1542.5),
    ] {
        near(&finding(&a, tag)["bytes"], mb, mib(1.0), 1);
        assert_eq!(finding(&a, tag)["pool"], "paged");
    }
    // The trailing blank of `D2d ` is kept.
    near(&finding(&a, "D2d ")["bytes"], 406.7, mib(1.0), 1);
    assert_eq!(kind(&a), "windows-owned");
    assert!(
        headline(&a).contains("No single tag dominates"),
        "{}",
        headline(&a)
    );
}

#[tokio::test]
async fn outstanding_proc_allocations_growing_are_a_leak_and_the_update_stopped_it() {
    let Some((status, a)) =
        analyze_paste("proc-tag-outstanding-amdkmdag-devperf137.txt", None).await
    else {
        return;
    };
    assert_eq!(status, 200, "{a}");
    never_all_clear(&a);
    assert_eq!(a["answer"]["tag"], "Proc");
    let g = &finding(&a, "Proc")["growth"];
    assert_eq!(g["delta_outstanding"], 39_511 - 2_655, "{g}");
    let h = headline(&a);
    assert!(h.contains("39,511") && h.contains("2,655"), "{h}");
    // Never a size the paste does not give.
    assert!(!h.contains(" B ") && !h.contains("0 B"), "{h}");
    assert!(h.contains("312") && h.contains("stopped"), "{h}");
    let after = a["read"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["state"] == "after-change")
        .expect("the state after the update is kept as context");
    assert_eq!(after["outstanding"], 312);
    assert!(
        (a["input"]["span_hours"].as_f64().unwrap() - (18.0 + 5.0 / 60.0 - 1.25 / 60.0)).abs()
            < 0.05
    );
}

#[tokio::test]
async fn a_verifier_list_names_the_driver_and_says_entries_at_unload_are_leaks() {
    let Some((status, a)) =
        analyze_paste("verifier-pool-allocations-ebpfcore-ebpf1908.txt", None).await
    else {
        return;
    };
    assert_eq!(status, 200, "{a}");
    assert_eq!(kind(&a), "verifier-allocations");
    assert_eq!(a["answer"]["driver"], "ebpfcore.sys");
    let h = headline(&a);
    assert!(
        h.contains("`ebpf`") && h.contains("ebpfcore!ebpf_allocate+0x21"),
        "{h}"
    );
    assert!(
        h.contains("0xC4") && h.contains("0x62") && h.contains("leak"),
        "{h}"
    );
}

#[tokio::test]
async fn edited_poolmon_with_free_text_columns_reads_approximate_and_wrapped_sizes() {
    let Some((status, a)) =
        analyze_paste("poolmon-edited-etwr-etwd-nvidia-etw-cider1946.txt", None).await
    else {
        return;
    };
    assert_eq!(status, 200, "{a}");
    let etwr = read(&a, "Etwr");
    assert_eq!(etwr["pool"], "nonpaged");
    assert_eq!(etwr["precision"], "approximate");
    near(&etwr["bytes"], 2.35, 1024.0 * mib(1.0), 2);
    let etwd = read(&a, "EtwD");
    assert_eq!(etwd["pool"], "paged");
    assert_eq!(etwd["precision"], "lower-bound");
    near(&etwd["bytes"], 4.0, 1024.0 * mib(1.0), 0);
    assert_eq!(etwr["outstanding"], 29_386_669);
    assert_eq!(kind(&a), "windows-owned");
    // The two ETW tags hold the same number of allocations: named as moving together.
    let answer = a["answer"].to_string();
    assert!(
        answer.contains("EtwD") || answer.contains("Etwr"),
        "{answer}"
    );
}

#[tokio::test]
async fn a_verifier_list_sharing_its_header_line_reads_entv_and_its_source_constant() {
    let Some((status, a)) =
        analyze_paste("verifier-alloclist-entv-ebpfcore-ebpf2092.txt", None).await
    else {
        return;
    };
    assert_eq!(status, 200, "{a}");
    assert_eq!(kind(&a), "verifier-allocations");
    let f = finding(&a, "entv");
    assert_eq!(f["outstanding"], 4);
    assert_eq!(f["bytes"], 4 * 0xb2);
    assert!(headline(&a).contains("eBPFCore!ebpf_allocate_with_tag+0x1e"));
    assert!(a["answer"]["action"].as_str().unwrap().contains("'vtne'"));
    assert_eq!(a["findings_total"], 1, "the `du` output is no row");
}

#[tokio::test]
async fn prose_gpbm_reads_the_tags_size_not_the_total_and_the_app_is_the_trigger() {
    let Some((status, a)) =
        analyze_paste("prose-bullets-gpbm-dxgkrnl-rustdesk15945.txt", None).await
    else {
        return;
    };
    assert_eq!(status, 200, "{a}");
    let gpbm = read(&a, "Gpbm");
    near(&gpbm["bytes"], 2555.9, mib(1.0), 1);
    assert_eq!(gpbm["pool"], "paged");
    assert_eq!(a["findings_total"], 1, "only Gpbm is a tag");
    let total = a["read"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["what"] == "paged pool total" && v["state"] == "latest")
        .expect("the paged pool total is read as a total");
    near(&total["bytes"], 3.22, 1024.0 * mib(1.0), 2);
    assert_eq!(kind(&a), "windows-owned");
    let h = headline(&a);
    assert!(h.contains("39.2 MiB") && h.contains("trigger"), "{h}");
}

#[tokio::test]
async fn prose_mdl_is_the_known_tag_with_allocations_far_above_frees_and_no_invented_tag() {
    let Some((status, a)) = analyze_paste("prose-counts-mdl-netkvm-virtio73.txt", None).await
    else {
        return;
    };
    assert_eq!(status, 200, "{a}");
    let tags: Vec<&str> = a["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["tag"].as_str().unwrap())
        .collect();
    assert_eq!(tags, ["Mdl "], "no tag is made from a word");
    let mdl = read(&a, "Mdl ");
    assert_eq!(mdl["allocs"], 2_492_040);
    assert_eq!(mdl["frees"], 176);
    assert_eq!(mdl["bytes"], Value::Null, "the paste gives no size");
    never_all_clear(&a);
    let h = headline(&a);
    assert!(h.contains("2,492,040") && h.contains("176"), "{h}");
    let in_use = a["read"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["what"] == "memory in use")
        .expect("machine memory read as a machine figure");
    near(&in_use["bytes"], 1.11, 1024.0 * mib(1.0), 2);
}

#[tokio::test]
async fn a_kmdf_recorder_log_without_tags_is_refused_saying_what_to_capture() {
    let Some((status, a)) = analyze_paste("wdf-ifr-fxpooldump-notag-ovpndco25.txt", None).await
    else {
        return;
    };
    assert_eq!(status, 422, "{a}");
    let message = a.to_string();
    assert!(message.contains("in-flight recorder"), "{message}");
    assert!(message.contains("poolmon"), "{message}");
}
