//! Real drivers from the shared corpus (`../shared/corpus/drivers`, or $POOLSLEUTH_CORPUS).
//! Skipped with a note when the folder is absent. Expectations come from its INDEX.md.

mod driver_support;

use std::collections::BTreeSet;
use std::path::Path;

use driver_support::{code_tags, corpus_dir, more_corpus_dir, set};
use poolsleuth::driver::{
    AnalysisLimits, ApiKind, DriverAnalysis, DriverObject, Machine, TagKind, analyze,
};
use poolsleuth::tag::PoolTag;

struct Expect {
    file: &'static str,
    sha256: &'static str,
    size: u64,
    machine: Machine,
    company: Option<&'static str>,
    file_version: Option<&'static str>,
    signed: bool,
}

const fn e(
    file: &'static str,
    sha256: &'static str,
    size: u64,
    machine: Machine,
    company: Option<&'static str>,
    file_version: Option<&'static str>,
    signed: bool,
) -> Expect {
    Expect {
        file,
        sha256,
        size,
        machine,
        company,
        file_version,
        signed,
    }
}

const INDEX: &[Expect] = &[
    e(
        "WinDivert64_v2.sys",
        "8da085332782708d8767bcace5327a6ec7283c17cfb85e40b03cd2323a90ddc2",
        94144,
        Machine::X64,
        Some("Basil"),
        Some("2.2"),
        true,
    ),
    e(
        "WinDivert64_v1.sys",
        "9026147943bd44a1eb5e2f0c89cc8f441c7d1f13c1571aba54e262d2e7354798",
        47560,
        Machine::X64,
        Some("Basil"),
        Some("1.3 built by: WinDDK"),
        true,
    ),
    e(
        "WinDivert32_v1.sys",
        "bd27499533e42d64bcab52a018add1e361de02f04c4b1d16852cb643bf4c5755",
        40904,
        Machine::X86,
        Some("Basil"),
        Some("1.3 built by: WinDDK"),
        true,
    ),
    e(
        "WinRing0.sys",
        "206ee7a7c3f4d9496f742ccb84718f556ecb4ba2a95fe7e0cdf3a003ffbe4597",
        14416,
        Machine::X86,
        Some("OpenLibSys.org"),
        Some("1.2.0.5"),
        true,
    ),
    e(
        "WinRing0x64.sys",
        "11bd2c9f9e2397c9a16e0990e4ed2cf0679498fe0fd418a3dfdac60b5c160ee5",
        14544,
        Machine::X64,
        Some("OpenLibSys.org"),
        Some("1.2.0.5"),
        true,
    ),
    e(
        "systeminformer_amd64.sys",
        "f21030859857e7ce3c7069e4baffbabc921fe15c18b6f63a99e2b7c25b7c1071",
        321776,
        Machine::X64,
        Some("System Informer"),
        Some("4.0.1"),
        true,
    ),
    e(
        "systeminformer_arm64.sys",
        "a6adbb0d454dd590e2c5dbb1ede6786066b51b567774034f53fea927e7aa518e",
        317680,
        Machine::Arm64,
        Some("System Informer"),
        Some("4.0.1"),
        true,
    ),
    e(
        "wine_ksecdd.sys",
        "629ab430b370fc6213ac99751f31db9005cd9d51f4aeeaab892c4117ed361405",
        146744,
        Machine::X64,
        Some("Microsoft Corporation"),
        Some("10.0.14393.187"),
        false,
    ),
    e(
        "wine_hidclass.sys",
        "35272d7ad3b2773ce0a9d89edb82d31ecb05cb4918b5f83bd3519f4f1415aae9",
        298084,
        Machine::X64,
        None,
        None,
        false,
    ),
    e(
        "wine_fltmgr.sys",
        "6fe3601f4c5d0d09b3458552501f84d000c94c29e4525bf7e303ac76f00dc32b",
        183720,
        Machine::X64,
        None,
        None,
        false,
    ),
    e(
        "wine_mountmgr.sys",
        "34bfa6d6dde337f5c65419893dd1cb365b4bee6196decd143f6c34f23ef3df05",
        398215,
        Machine::X64,
        None,
        None,
        false,
    ),
    e(
        "wine_winebus.sys",
        "0fb305f257ec45adfbc007324bf7e053159818b29bb95cd3c785a05901d87e3a",
        251736,
        Machine::X64,
        None,
        None,
        false,
    ),
    e(
        "wine_netio.sys",
        "8f00d652e899e4f5069a11bbe4ec6ee6a647c0a76ca10559bb89b3cc314e71fb",
        312621,
        Machine::X64,
        None,
        None,
        false,
    ),
    e(
        "winpmem_x64.sys",
        "b1b866f7cf86bd2bbbd8beca081e9df836911d938fd129cd615cfcb04399212b",
        46520,
        Machine::X64,
        None,
        None,
        true,
    ),
    e(
        "winpmem_x86.sys",
        "5e9845dafb60e76710efac28539159cb2cd624db966aae9b1200deabd2871b6c",
        37304,
        Machine::X86,
        None,
        None,
        true,
    ),
];

fn load(file: &str) -> Option<DriverAnalysis> {
    Some(analyze_file(&corpus_dir()?, file))
}

#[test]
fn identity_and_version_match_the_index() {
    for x in INDEX {
        let Some(a) = load(x.file) else { return };
        assert_eq!(a.sha256, x.sha256, "{}", x.file);
        assert_eq!(a.size, x.size, "{}", x.file);
        assert_eq!(a.machine, x.machine, "{}", x.file);
        assert_eq!(a.version.company_name.as_deref(), x.company, "{}", x.file);
        assert_eq!(
            a.version.file_version.as_deref(),
            x.file_version,
            "{}",
            x.file
        );
        assert_eq!(
            a.signer.is_some(),
            x.signed,
            "{}: signer {:?}",
            x.file,
            a.signer
        );
        assert!(a.timestamp_iso.is_some(), "{}", x.file);
        println!("{}: tags {:?} signer {:?}", x.file, code_tags(&a), a.signer);
    }
}

#[test]
fn signers_are_the_signing_certificates_cn() {
    let expect = [
        ("winpmem_x64.sys", "Binalyze LLC"),
        ("winpmem_x86.sys", "Binalyze LLC"),
        ("WinRing0.sys", "Noriyuki MIYAZAKI"),
        ("WinDivert64_v1.sys", "Ars Nova Systems"),
        // WHQL/attestation signed: the CN is Microsoft's, the vendor is in CompanyName.
        (
            "systeminformer_amd64.sys",
            "Microsoft Windows Hardware Compatibility Publisher",
        ),
    ];
    for (file, cn) in expect {
        let Some(a) = load(file) else { return };
        assert_eq!(a.signer.as_deref(), Some(cn), "{file}");
    }
}

#[test]
fn numeric_versions_come_from_fixed_file_info() {
    let Some(a) = load("WinRing0x64.sys") else {
        return;
    };
    assert_eq!(a.version.file_version_numeric, Some([1, 2, 0, 5]));
    let Some(a) = load("wine_ksecdd.sys") else {
        return;
    };
    assert_eq!(a.version.file_version_numeric, Some([10, 0, 14393, 187]));
    assert_eq!(a.version.product_name.as_deref(), Some("Wine"));
}

#[test]
fn windivert_tags_match_the_index_notes() {
    // x64: the notes' WDiv x6 / x5 count r8d loads; we count call sites (allocations, frees and
    // the NET_BUFFER_LIST pool parameters), so only the tag set is compared.
    for file in [
        "WinDivert64_v2.sys",
        "WinDivert64_v1.sys",
        "WinDivert32_v1.sys",
    ] {
        let Some(a) = load(file) else { return };
        assert_eq!(code_tags(&a), set(&["WDiv"]), "{file}");
        // WinDivert binds to KMDF but never calls through the WDF function table (no code
        // reads its WdfFunctions variable): it creates no KMDF driver object, so no framework
        // tag, and not the service name's default `WinD`, is its.
        let k = a.kmdf.as_ref().expect("WinDivert binds to KMDF");
        assert_eq!(k.version.as_deref(), Some("1.9"));
        assert_eq!(k.driver_object, DriverObject::NotFound, "{file}");
        assert!(
            a.tags.iter().all(|t| t.kind != TagKind::KmdfDefault),
            "{file}: {:?}",
            a.tags
        );
    }
    // x86: the notes also list 'eckE', a fragment of a `push` that is not a pool-API argument.
}

#[test]
fn winpmem_tags_match_the_index_notes() {
    let expected = set(&["PMEM", "SeAl", "PpRb", "SeTs", "SeSd", "PpUc", "FSPT"]);
    let Some(a) = load("winpmem_x64.sys") else {
        return;
    };
    assert_eq!(code_tags(&a), expected, "x64: exactly the notes' set");
    let static_lib: BTreeSet<String> = a
        .tags
        .iter()
        .filter(|t| t.from_static_library)
        .map(|t| t.tag.to_string())
        .collect();
    assert_eq!(static_lib, set(&["SeAl", "PpRb", "SeTs", "SeSd", "PpUc"]));
    // x86: the notes' extra entries ('ty p', 'read', ', ou', ' was', 'is a', ...) are string
    // fragments after 0x68 bytes; the call-site scan finds exactly the x64 set.
    let Some(a) = load("winpmem_x86.sys") else {
        return;
    };
    assert_eq!(code_tags(&a), expected, "x86");
}

#[test]
fn drivers_without_tags_report_none() {
    for file in [
        "WinRing0.sys",
        "WinRing0x64.sys",
        "wine_ksecdd.sys",
        "wine_hidclass.sys",
        "wine_fltmgr.sys",
        "wine_mountmgr.sys",
        "wine_winebus.sys",
        "wine_netio.sys",
    ] {
        let Some(a) = load(file) else { return };
        // WinRing0.sys's 'eckE' in the notes is a byte pattern, not a pool-API argument; the
        // Wine drivers only use untagged ExAllocatePool.
        assert!(a.tags.is_empty(), "{file}: {:?}", a.tags);
        // None imports a tag-taking API or is a KMDF driver: identity only, no disassembly.
        assert_eq!(a.instructions_decoded, 0, "{file}");
    }
}

#[test]
fn systeminformer_tags_cover_the_notes_and_agree_across_architectures() {
    let Some(amd) = load("systeminformer_amd64.sys") else {
        return;
    };
    let ours = code_tags(&amd);
    let notes = set(&[
        "Kpc4", "Kpc2", "Kpc3", "KpC1", "KpC2", "KpC3", "KpH0", "KpI9", "KpI1", "KpIS", "KpI6",
        "KpI5",
    ]);
    // These five are passed to System Informer's object manager (KphCreateObject-style
    // functions that store the tag and allocate later through a type callback called via
    // CFG dispatch), not to a pool API at a static call site; the notes' heuristic counts any
    // r8d immediate.
    let not_pool_call_args = set(&["Kpc2", "Kpc3", "Kpc4", "KpI1", "KpIS"]);
    let missing: BTreeSet<_> = notes.difference(&ours).cloned().collect();
    assert_eq!(missing, not_pool_call_args);
    // Most tags reach ExAllocatePoolWithTag through the driver's KphAllocate*/KphFree wrappers.
    assert!(ours.len() >= 45, "{}: {ours:?}", ours.len());
    assert!(amd.wrappers.len() >= 4);
    // ARM64 (machine 0xAA64) build of the same source: the same tags.
    let Some(arm) = load("systeminformer_arm64.sys") else {
        return;
    };
    assert_eq!(arm.machine, Machine::Arm64);
    assert_eq!(code_tags(&arm), ours);
}

#[test]
fn wine_drivers_are_accepted_with_a_warning() {
    for file in ["wine_fltmgr.sys", "wine_ksecdd.sys"] {
        let Some(a) = load(file) else { return };
        assert!(!a.is_kernel_driver, "{file}");
        assert!(a.warnings.iter().any(|w| w.contains("Wine")), "{file}");
    }
    let Some(a) = load("wine_hidclass.sys") else {
        return;
    };
    assert!(a.is_kernel_driver);
}

/// Every driver's code-site findings as lines of text: each tag with its kind and call sites,
/// each site whose tag is computed at run time, each wrapper.
fn code_site_record(a: &DriverAnalysis) -> Vec<String> {
    let site = |s: &poolsleuth::driver::CallSite| match s.via_wrapper {
        Some(w) => format!("{} {:#x} via {w:#x}", s.api, s.rva),
        None => format!("{} {:#x}", s.api, s.rva),
    };
    let mut lines = Vec::new();
    for t in &a.tags {
        let sites: Vec<String> = t.sites.iter().map(site).collect();
        lines.push(format!(
            "{} tag {:?} {:?}{}: {}",
            a.file_name,
            t.tag.to_string(),
            t.kind,
            if t.protected { " protected" } else { "" },
            sites.join(", ")
        ));
    }
    for s in &a.unresolved_sites {
        lines.push(format!("{} computed-at-run-time {}", a.file_name, site(s)));
    }
    for w in &a.wrappers {
        lines.push(format!("{} wrapper {:#x} {}", a.file_name, w.rva, w.api));
    }
    lines
}

/// The corpus's code-site findings stay what tests/fixtures/drivers/corpus_code_sites.txt
/// (drivers) and corpus_more_code_sites.txt (drivers-more) record: a faster analysis must find
/// the same tags, sites and wrappers. A deliberate change rewrites the records with
/// POOLSLEUTH_RECORD=1 and the diff shows what changed.
#[test]
fn code_sites_match_the_recorded_results() {
    for (dir, record) in [
        (corpus_dir(), "corpus_code_sites.txt"),
        (more_corpus_dir(), "corpus_more_code_sites.txt"),
    ] {
        let Some(dir) = dir else { continue };
        let mut lines = Vec::new();
        for file in driver_files(&dir) {
            lines.extend(code_site_record(&analyze_file(&dir, &file)));
        }
        let text = lines.join("\n") + "\n";
        let record = driver_support::fixture_dir().join(record);
        if std::env::var_os("POOLSLEUTH_RECORD").is_some() {
            std::fs::write(&record, &text).unwrap();
            continue;
        }
        let recorded = std::fs::read_to_string(&record).unwrap();
        let now: BTreeSet<&str> = text.lines().collect();
        let before: BTreeSet<&str> = recorded.lines().collect();
        let lost: Vec<&&str> = before.difference(&now).collect();
        let gained: Vec<&&str> = now.difference(&before).collect();
        assert!(
            lost.is_empty() && gained.is_empty(),
            "{}: lost: {lost:#?}\ngained: {gained:#?}",
            record.display()
        );
    }
}

/// The `.sys` files of a corpus folder, sorted.
fn driver_files(dir: &Path) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sys"))
        .collect();
    files.sort();
    files
}

fn analyze_file(dir: &Path, file: &str) -> DriverAnalysis {
    let bytes = std::fs::read(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    analyze(file, &bytes, &AnalysisLimits::default()).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// drivers-more/TRUTH.md: the code-site (allocation) tags an independent pefile + capstone
/// script found, a lower bound each driver must report as allocation tags.
const TRUTH: &[(&str, &[&str])] = &[
    ("VBoxUSB_x64.sys", &["VBDT", "VBUT", "VBUb"]),
    ("VBoxUSBMon_x64.sys", &["VBUM", "VBUT"]),
    ("VBoxUSB_arm64.sys", &["VBDT", "VBUT", "VBUb"]),
    ("VBoxUSBMon_arm64.sys", &["VBUM", "VBUT"]),
    (
        "kprocesshacker_amd64.sys",
        &["KphC", "KphQ", "KphT", "Kphb", "Kphv"],
    ),
    (
        "kprocesshacker_i386.sys",
        &["KphC", "KphQ", "KphT", "Kphb", "Kphv"],
    ),
    (
        "chipsec_hlpr.sys",
        &["PpRb", "PpUc", "SeAl", "SeSd", "SeTs"],
    ),
    ("zttap300_x64.sys", &["TAP6", "TAPA", "TapA", "TapI"]),
    ("zttap300_x86.sys", &["TAP6", "TAPA", "TapA", "TapI"]),
    // The supplementary check (skipdata) finds these where the plain sweep stops early.
    ("zttap200_ndis5_x64.sys", &["TAP5", "TAPA"]),
    (
        "ScpVBus_amd64.sys",
        &["ScpV", "PpRb", "PpUc", "SeAl", "SeSd", "SeTs"],
    ),
    (
        "ScpVBus_x86.sys",
        &["ScpV", "PpRb", "PpUc", "SeAl", "SeSd", "SeTs"],
    ),
    ("phdskmnt_win7_amd64.sys", &["ImSc"]),
    ("phdskmnt_winxp_i386.sys", &["ImSc"]),
    ("Scream_x64.sys", &["MSVD", "PcCr"]),
    ("Scream_x86.sys", &["MSVD"]),
];

#[test]
fn drivers_more_report_the_truth_files_tags_as_allocation_tags() {
    let Some(dir) = more_corpus_dir() else { return };
    for (file, expected) in TRUTH {
        let a = analyze_file(&dir, file);
        let ours = code_tags(&a);
        let missing: Vec<&&str> = expected.iter().filter(|t| !ours.contains(**t)).collect();
        assert!(
            missing.is_empty(),
            "{file}: missing {missing:?} in {ours:?}"
        );
    }
}

/// Issue 28's exclusions, over every corpus driver: no KMDF default tag without a
/// `WdfDriverCreate` call that leaves `DriverPoolTag` 0; no allocation tag seen only at a remove
/// lock; no value that is no character tag; a global's initial value never as a code constant.
#[test]
fn no_corpus_driver_reports_a_tag_it_cannot_allocate_with() {
    let dirs = [corpus_dir(), more_corpus_dir()];
    for dir in dirs.iter().flatten() {
        for file in driver_files(dir) {
            let a = analyze_file(dir, &file);
            for t in &a.tags {
                assert!(
                    PoolTag::is_character_tag(t.tag.to_u32_le()),
                    "{file}: {:?} is no character tag",
                    t.tag
                );
                match t.kind {
                    TagKind::KmdfDefault => assert_eq!(
                        a.kmdf.as_ref().map(|k| k.driver_object),
                        Some(DriverObject::DefaultTag),
                        "{file}: {:?}",
                        t.tag
                    ),
                    TagKind::CodeSite => assert!(
                        t.sites
                            .iter()
                            .any(|s| s.usage.is_pool_use() && s.global_rva.is_none()),
                        "{file}: {:?} has no pool-API site with a constant",
                        t.tag
                    ),
                    TagKind::RemoveLock => assert!(
                        t.sites.iter().all(|s| s.usage == ApiKind::RemoveLock),
                        "{file}: {:?}",
                        t.tag
                    ),
                    _ => {}
                }
            }
        }
    }
}
