//! Fixture drivers built from tests/fixtures/drivers/src with MinGW (see build.sh). Every
//! pattern through which a tag reaches a pool API must be found, and nothing else.

mod driver_support;

use driver_support::{code_tags, read_fixture, set};
use poolsleuth::driver::{
    AnalysisLimits, ApiKind, Confidence, DriverObject, Machine, TagKind, analyze,
};

const PATTERN_TAGS: &[&str] = &[
    "Dir1", // direct `call [__imp_ExAllocatePoolWithTag]` / tail `jmp [__imp_...]`
    "Pol2", // ExAllocatePool2 (x86: 64-bit flags shift the tag to the 4th slot)
    "Quo1", // ExAllocatePoolWithQuotaTag
    "Frs1", // ExFreePoolWithTag with a tag (the tag-0 free is ignored)
    "Lka6", // ExInitializeNPagedLookasideList, tag is stack argument 6
    "LkEx", // ExInitializeLookasideListEx, tag is stack argument 7
    "Rg1a", "Rg1b", "Rg1c", // IAT slot loaded into a register, then `call reg`
    "Vfp1", // function pointer spilled to a stack slot and called from there
    "BrA1", "BrB1", // tag chosen by a branch (or a branch-free sbb/and/lea select)
    "Prot", // PROTECTED_POOL bit set
    "Wrp1", "Wrp2", // the driver's own wrapper MyAlloc(size, tag)
    "WrW3", // a wrapper of that wrapper
];

const PATTERN_FIXTURES: &[(&str, Machine)] = &[
    ("patterns_x64_O0.sys", Machine::X64),
    ("patterns_x64_O2.sys", Machine::X64),
    ("patterns_x86_O0.sys", Machine::X86),
    ("patterns_x86_O2.sys", Machine::X86),
    ("patterns_x86_O2push.sys", Machine::X86),
];

const KMDF_FIXTURES: &[(&str, Machine)] = &[
    ("kmdf_x64_O0.sys", Machine::X64),
    ("kmdf_x64_O2.sys", Machine::X64),
    ("kmdf_x86_O0.sys", Machine::X86),
    ("kmdf_x86_O2.sys", Machine::X86),
    ("kmdf_x86_O2push.sys", Machine::X86),
];

#[test]
fn pattern_fixtures_yield_exactly_the_source_tags() {
    for (name, machine) in PATTERN_FIXTURES {
        let a = analyze(name, &read_fixture(name), &AnalysisLimits::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(a.machine, *machine, "{name}");
        assert!(a.is_kernel_driver, "{name}");
        assert_eq!(code_tags(&a), set(PATTERN_TAGS), "{name}");
        // Never a tag from an immediate that reaches no pool API.
        assert!(a.tags.iter().all(|t| t.tag.to_string() != "Nope"), "{name}");
        assert!(a.tags.iter().all(|t| t.tag.to_string() != "Not2"), "{name}");
        // No guesses when code sites were found, no KMDF here.
        assert!(a.tags.iter().all(|t| t.kind == TagKind::CodeSite), "{name}");
        assert!(a.kmdf.is_none(), "{name}");
        assert!(
            a.unresolved_sites
                .iter()
                .all(|s| s.api == "ExFreePoolWithTag"),
            "{name}: {:?}",
            a.unresolved_sites
        );
    }
}

#[test]
fn evidence_names_api_rva_and_wrapper() {
    for (name, _) in PATTERN_FIXTURES {
        let a = analyze(name, &read_fixture(name), &AnalysisLimits::default()).unwrap();
        let get = |t: &str| a.tags.iter().find(|x| x.tag.to_string() == t).unwrap();
        let lka = get("Lka6");
        assert_eq!(lka.sites.len(), 1);
        assert_eq!(lka.sites[0].api, "ExInitializeNPagedLookasideList");
        assert!(
            lka.sites[0].rva >= 0x1000 && lka.sites[0].rva < 0x2000,
            "{name}"
        );
        assert_eq!(get("Pol2").sites[0].api, "ExAllocatePool2");
        assert_eq!(get("Frs1").sites[0].api, "ExFreePoolWithTag");
        assert_eq!(get("Frs1").confidence, Confidence::Medium, "free-only tag");
        assert_eq!(get("Dir1").confidence, Confidence::High);
        let w1 = get("Wrp1");
        let w3 = get("WrW3");
        assert!(w1.sites[0].via_wrapper.is_some(), "{name}");
        assert!(w3.sites[0].via_wrapper.is_some(), "{name}");
        assert_eq!(a.wrappers.len(), 2, "{name}: {:?}", a.wrappers);
        let prot = get("Prot");
        assert!(prot.protected, "{name}");
        assert!(!get("Dir1").protected);
        assert!(a.tags.iter().all(|t| !t.from_static_library));
    }
}

#[test]
fn pattern_fixtures_carry_the_version_resource() {
    for (name, _) in PATTERN_FIXTURES {
        let a = analyze(name, &read_fixture(name), &AnalysisLimits::default()).unwrap();
        let v = &a.version;
        assert_eq!(
            v.company_name.as_deref(),
            Some("Poolsleuth Test Fixtures"),
            "{name}"
        );
        assert_eq!(
            v.file_description.as_deref(),
            Some("Pool tag pattern test driver")
        );
        assert_eq!(v.file_version.as_deref(), Some("3.1.4.15"));
        assert_eq!(v.product_name.as_deref(), Some("poolsleuth fixtures"));
        assert_eq!(v.product_version.as_deref(), Some("3.1"));
        assert_eq!(v.original_filename.as_deref(), Some("patterns.sys"));
        assert_eq!(v.internal_name.as_deref(), Some("patterns"));
        assert_eq!(
            v.legal_copyright.as_deref(),
            Some("Public domain test data")
        );
        assert_eq!(v.file_version_numeric, Some([3, 1, 4, 15]));
        assert_eq!(v.product_version_numeric, Some([3, 1, 0, 0]));
        assert_eq!(a.signer, None, "fixtures are unsigned");
        assert_eq!(a.sha256.len(), 64);
        assert!(
            a.sha256
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert!(a.timestamp_iso.is_some() || a.timestamp == 0);
    }
}

#[test]
fn kmdf_fixtures_resolve_the_wdf_function_table() {
    for (name, machine) in KMDF_FIXTURES {
        let a = analyze(name, &read_fixture(name), &AnalysisLimits::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(a.machine, *machine);
        assert_eq!(code_tags(&a), set(&["WdfM", "WdfL", "Kmdf"]), "{name}");
        let k = a.kmdf.as_ref().expect("KMDF detected");
        assert_eq!(k.version.as_deref(), Some("1.15"), "{name}");
        assert_eq!(k.service_name, name.trim_end_matches(".sys"));
        assert_eq!(k.default_tag.to_string(), "kmdf");
        assert_eq!(
            k.driver_pool_tag.map(|t| t.to_string()).as_deref(),
            Some("WdfD")
        );
        assert_eq!(k.driver_object, DriverObject::OwnTag, "{name}");
        // The DriverPoolTag it sets is the framework's tag for it, reported as that...
        let framework = a.tags.iter().find(|t| t.tag.to_string() == "WdfD").unwrap();
        assert_eq!(framework.kind, TagKind::KmdfFramework, "{name}");
        assert_eq!(framework.sites[0].usage, ApiKind::FrameworkTag);
        // ...and the service-name default does not apply.
        assert!(
            a.tags.iter().all(|t| t.kind != TagKind::KmdfDefault),
            "{name}"
        );
        let apis: Vec<&str> = a
            .tags
            .iter()
            .flat_map(|t| t.sites.iter().map(|s| s.api.as_str()))
            .collect();
        for api in [
            "WdfMemoryCreate",
            "WdfLookasideListCreate",
            "WdfDriverCreate",
        ] {
            assert!(apis.contains(&api), "{name}: {api} missing");
        }
    }
}

#[test]
fn analysis_round_trips_through_json() {
    let a = analyze(
        "patterns_x64_O2.sys",
        &read_fixture("patterns_x64_O2.sys"),
        &AnalysisLimits::default(),
    )
    .unwrap();
    let json = serde_json::to_string(&a).unwrap();
    let back: poolsleuth::driver::DriverAnalysis = serde_json::from_str(&json).unwrap();
    assert_eq!(code_tags(&back), code_tags(&a));
    assert_eq!(back.version, a.version);
}

#[test]
fn string_guesses_only_when_no_code_site_tag() {
    let name = "guess_x64_O2.sys";
    let a = analyze(name, &read_fixture(name), &AnalysisLimits::default()).unwrap();
    assert!(code_tags(&a).is_empty());
    assert_eq!(a.tags.len(), 1, "{:?}", a.tags);
    let g = &a.tags[0];
    assert_eq!(g.tag.to_string(), "Gue1");
    assert_eq!(g.kind, TagKind::StringGuess);
    assert_eq!(g.confidence, Confidence::Low);
    assert_eq!(a.unresolved_sites.len(), 1);
    assert!(a.warnings.iter().any(|w| w.contains("low-confidence")));
}

/// reader.c (x86 only): tags a reader of the code sees as constants, although following them
/// takes more than the instruction that passes them (see each function's comment there).
const READER_FIXTURES: &[&str] = &[
    "reader_x86_O0.sys",
    "reader_x86_O2.sys",
    "reader_x86_O2push.sys",
];

#[test]
fn x86_fixtures_resolve_tags_a_reader_sees() {
    for name in READER_FIXTURES {
        let a = analyze(name, &read_fixture(name), &AnalysisLimits::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(a.machine, Machine::X86, "{name}");
        // Ret0/RetN: after the driver's own stdcall function (`ret 8`) the caller's frame is
        // where it was; Join: pushed after paths with different stack depths join. Glb1: the
        // initial value of a global no code writes, reported as that. Not Gwr0: SetTag writes
        // that global; nor Gpt0: SetPointedTag writes it through a pointer the data holds.
        assert_eq!(
            code_tags(&a),
            set(&["Ret0", "RetN", "Join"]),
            "{name}: {:?}",
            a.tags
        );
        let glb1 = a.tags.iter().find(|t| t.tag.to_string() == "Glb1").unwrap();
        assert_eq!(glb1.kind, TagKind::GlobalInitialValue, "{name}");
        assert!(glb1.sites.iter().all(|s| s.global_rva.is_some()), "{name}");
        let site_apis = |tag: &str| -> Vec<String> {
            let t = a.tags.iter().find(|t| t.tag.to_string() == tag).unwrap();
            t.sites.iter().map(|s| s.api.clone()).collect()
        };
        assert_eq!(site_apis("Glb1"), ["ExAllocatePoolWithTag"], "{name}");
        assert_eq!(site_apis("Join"), ["ExFreePoolWithTag"], "{name}");
        let ret_n = a.tags.iter().find(|t| t.tag.to_string() == "RetN").unwrap();
        assert!(
            ret_n.sites.iter().all(|s| s.via_wrapper.is_some()),
            "{name}: RetN goes through StdAlloc"
        );
        // The only tags left to run time are the written globals'.
        assert_eq!(
            a.unresolved_sites.len(),
            2,
            "{name}: {:?}",
            a.unresolved_sites
        );
        assert!(
            a.unresolved_sites
                .iter()
                .all(|s| s.api == "ExAllocatePoolWithTag")
        );
    }
}

#[test]
fn a_driver_without_pool_imports_gets_its_identity_without_disassembly() {
    // identity.c imports no pool API (only KeStallExecutionProcessor) and is no KMDF driver.
    let name = "identity_x86_O2.sys";
    let a = analyze(name, &read_fixture(name), &AnalysisLimits::default()).unwrap();
    assert!(a.is_kernel_driver, "{}", a.kernel_evidence);
    assert_eq!(
        a.version.company_name.as_deref(),
        Some("Poolsleuth Test Fixtures")
    );
    assert_eq!(a.version.file_version_numeric, Some([3, 1, 4, 15]));
    assert_eq!(a.signer, None);
    assert_eq!(a.instructions_decoded, 0, "its code is not disassembled");
    assert!(a.tags.is_empty(), "{:?}", a.tags);
    assert!(a.unresolved_sites.is_empty() && a.wrappers.is_empty() && a.kmdf.is_none());
    assert!(a.warnings.is_empty(), "{:?}", a.warnings);
    // A driver that imports one is disassembled.
    let name = "patterns_x86_O2.sys";
    let a = analyze(name, &read_fixture(name), &AnalysisLimits::default()).unwrap();
    assert!(a.instructions_decoded > 0);
}

/// tagrules.c: values that reach a tag argument but are no tag the driver allocates with.
const TAG_RULE_FIXTURES: &[(&str, Machine)] = &[
    ("tagrules_x64_O0.sys", Machine::X64),
    ("tagrules_x64_O2.sys", Machine::X64),
    ("tagrules_x86_O2.sys", Machine::X86),
    ("tagrules_x86_O2push.sys", Machine::X86),
];

#[test]
fn tag_rule_fixtures_report_each_value_as_what_it_is() {
    for (name, machine) in TAG_RULE_FIXTURES {
        let a = analyze(name, &read_fixture(name), &AnalysisLimits::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(a.machine, *machine, "{name}");
        let kind_of = |tag: &str| {
            a.tags
                .iter()
                .find(|t| t.tag.to_string() == tag)
                .map(|t| t.kind)
        };
        // A one-character tag ('g': bytes 67 00 00 00) is an allocation tag; so is a tag the
        // driver uses for a remove lock and for an allocation.
        assert_eq!(
            code_tags(&a),
            set(&["g\\x00\\x00\\x00", "Both"]),
            "{name}: {:?}",
            a.tags
        );
        // A tag only a remove lock gets is labelled as one, with its call as the evidence.
        assert_eq!(kind_of("RmLk"), Some(TagKind::RemoveLock), "{name}");
        let rm = a.tags.iter().find(|t| t.tag.to_string() == "RmLk").unwrap();
        assert_eq!(rm.sites[0].api, "IoInitializeRemoveLockEx");
        assert_eq!(rm.sites[0].usage, ApiKind::RemoveLock);
        assert!(!rm.kind.is_pool_tag());
        // The initial value of a global no code writes, with a warning; the written one's is
        // left to run time.
        assert_eq!(kind_of("GInx"), Some(TagKind::GlobalInitialValue), "{name}");
        assert_eq!(kind_of("GWri"), None, "{name}");
        assert!(
            a.warnings
                .iter()
                .any(|w| w.contains("`GInx`") && w.contains("may change it at run time")),
            "{name}: {:?}",
            a.warnings
        );
        // 1, 0x7f and 0x200 are no tags: none is reported, and a warning names them.
        assert_eq!(a.tags.len(), 4, "{name}: {:?}", a.tags);
        assert!(
            a.warnings.iter().any(|w| w.contains("0x00000001")
                && w.contains("0x0000007f")
                && w.contains("0x00000200")),
            "{name}: {:?}",
            a.warnings
        );
        assert_eq!(a.unresolved_sites.len(), 1, "{name}: only GWri's site");
    }
}

#[test]
fn a_kmdf_default_tag_only_for_a_driver_object_without_its_own_tag() {
    for arch in ["x64", "x86"] {
        // WdfDriverCreate with DriverPoolTag 0 (zeroed as an inlined WDF_DRIVER_CONFIG_INIT
        // does): the framework uses the service name's default tag.
        let name = format!("kmdfdefault_{arch}_O2.sys");
        let a = analyze(&name, &read_fixture(&name), &AnalysisLimits::default()).unwrap();
        let k = a.kmdf.as_ref().unwrap();
        assert_eq!(k.driver_object, DriverObject::DefaultTag, "{name}");
        assert_eq!(k.driver_pool_tag, None);
        let defaults: Vec<String> = a
            .tags
            .iter()
            .filter(|t| t.kind == TagKind::KmdfDefault)
            .map(|t| t.tag.to_string())
            .collect();
        assert_eq!(defaults, ["kmdf"], "{name}");
        assert!(
            a.unresolved_sites.is_empty(),
            "{name}: 0 is no run-time tag"
        );
        // Bound to KMDF, but no WdfDriverCreate call: no framework tag is the driver's.
        let name = format!("kmdfnodriver_{arch}_O2.sys");
        let a = analyze(&name, &read_fixture(&name), &AnalysisLimits::default()).unwrap();
        let k = a.kmdf.as_ref().unwrap();
        assert_eq!(k.driver_object, DriverObject::NotFound, "{name}");
        assert!(
            a.tags
                .iter()
                .all(|t| !matches!(t.kind, TagKind::KmdfDefault | TagKind::KmdfFramework)),
            "{name}: {:?}",
            a.tags
        );
        assert_eq!(code_tags(&a), set(&["WdfM", "WdfL", "Kmdf"]), "{name}");
    }
}
