//! Every real example in `../shared/corpus/snapshots/` (skipped with a note when absent),
//! with values read off each file by hand.

use std::path::{Path, PathBuf};

use poolsleuth::snapshot::{
    ParseOptions, ParsedSnapshots, PoolKind, PoolUsage, SnapshotFormat, parse_snapshots,
};

#[path = "common/corpus.rs"]
mod corpus;

/// The real snapshots (`$POOLSLEUTH_SNAPSHOT_CORPUS` overrides), when present.
fn corpus_dir() -> Option<PathBuf> {
    corpus::present(corpus::path(
        "snapshots",
        Some("POOLSLEUTH_SNAPSHOT_CORPUS"),
    ))
}

fn parse(dir: &Path, name: &str) -> ParsedSnapshots {
    let bytes = std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    parse_snapshots(&bytes, &ParseOptions::default()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn row<'a>(p: &'a ParsedSnapshots, tag: &str, pool: PoolKind) -> &'a PoolUsage {
    let tag = poolsleuth::tag::PoolTag::parse(tag).unwrap();
    p.snapshots[0]
        .rows
        .iter()
        .find(|r| r.tag == tag && r.pool == pool)
        .unwrap_or_else(|| panic!("no row {tag} {pool}"))
}

struct Expect {
    file: &'static str,
    format: SnapshotFormat,
    rows: usize,
    warnings: usize,
}

const EXPECTED: &[Expect] = &[
    Expect {
        file: "intel-mfd-poolmon-log-ixgb.txt",
        format: SnapshotFormat::PoolmonLog,
        rows: 13,
        warnings: 0,
    },
    Expect {
        file: "msdocs-poolmon-a-sorted-by-allocs.txt",
        format: SnapshotFormat::PoolmonScreen,
        rows: 8,
        warnings: 0,
    },
    Expect {
        file: "msdocs-poolmon-b-dashed-header.txt",
        format: SnapshotFormat::PoolmonScreen,
        rows: 4,
        warnings: 0,
    },
    Expect {
        file: "msdocs-poolmon-drsd-after-print.txt",
        format: SnapshotFormat::PoolmonScreen,
        rows: 1,
        warnings: 0,
    },
    Expect {
        file: "msdocs-poolmon-drsd-before-print.txt",
        format: SnapshotFormat::PoolmonScreen,
        rows: 1,
        warnings: 0,
    },
    Expect {
        file: "msdocs-poolmon-g-hid-win11.txt",
        format: SnapshotFormat::PoolmonScreen,
        rows: 3,
        warnings: 0,
    },
    Expect {
        file: "msdocs-poolmon-g-ipsec-mapped-driver.txt",
        format: SnapshotFormat::PoolmonScreen,
        rows: 8,
        warnings: 0,
    },
    Expect {
        file: "msdocs-poolmon-g-ntfs-mapped-driver.txt",
        format: SnapshotFormat::PoolmonScreen,
        rows: 13,
        warnings: 0,
    },
    Expect {
        file: "msdocs-poolmon-g-unknown-driver.txt",
        format: SnapshotFormat::PoolmonScreen,
        rows: 3,
        warnings: 0,
    },
    Expect {
        file: "msdocs-poolmon-s-session-pools.txt",
        format: SnapshotFormat::PoolmonScreen,
        rows: 16,
        warnings: 0,
    },
    // 5 tags, `Gla5` in both pools.
    Expect {
        file: "msdocs-poolused-4-paged.txt",
        format: SnapshotFormat::Poolused,
        rows: 6,
        warnings: 0,
    },
    // 35 tags; AGP, AcpA, Wmip, Wmit, usbp in both pools.
    Expect {
        file: "msdocs-poolused-default-sorted-by-tag.txt",
        format: SnapshotFormat::Poolused,
        rows: 40,
        warnings: 1,
    },
    Expect {
        file: "poolmon-collapsed-whitespace-serverfault-52125.txt",
        format: SnapshotFormat::PoolmonScreen,
        rows: 4,
        warnings: 0,
    },
    // 4 tags, APpt in both pools.
    Expect {
        file: "poolused-verbose-frees-diff-snippet.txt",
        format: SnapshotFormat::Poolused,
        rows: 5,
        warnings: 0,
    },
    // 20 tags, EtwB in both pools.
    Expect {
        file: "poolused2-win10-vm-cn-notes.txt",
        format: SnapshotFormat::Poolused,
        rows: 21,
        warnings: 0,
    },
];

#[test]
fn every_corpus_file_parses_as_expected() {
    let Some(dir) = corpus_dir() else { return };
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".txt"))
        .collect();
    names.sort();
    for name in &names {
        let Some(exp) = EXPECTED.iter().find(|e| e.file == name) else {
            panic!("corpus file {name} has no expectation in tests/corpus.rs: add one");
        };
        let p = parse(&dir, name);
        assert_eq!(p.format, exp.format, "{name}: format");
        assert_eq!(p.snapshots.len(), 1, "{name}: snapshots");
        assert_eq!(p.snapshots[0].rows.len(), exp.rows, "{name}: rows");
        assert_eq!(
            p.warnings.len(),
            exp.warnings,
            "{name}: warnings {:?}",
            p.warnings
        );
        assert!(!p.truncated);
    }
}

#[test]
fn intel_log_values() {
    let Some(dir) = corpus_dir() else { return };
    let p = parse(&dir, "intel-mfd-poolmon-log-ixgb.txt");
    let r = row(&p, "IXGB", PoolKind::NonPaged);
    assert_eq!(
        (r.allocs, r.frees, r.outstanding, r.bytes),
        (Some(37377), Some(12508), Some(24869), 55_749_008)
    );
    let r = row(&p, "CM25", PoolKind::Paged);
    assert_eq!(
        (r.allocs, r.frees, r.bytes),
        (Some(4849), Some(0), 21_708_800)
    );
    let t = p.snapshots[0].totals.as_ref().unwrap();
    assert_eq!(t.memory_kib, Some(16_468_560));
    assert_eq!(t.commit_kib, Some(4_100_436));
    assert_eq!(t.nonpaged_bytes, Some(710_920 * 1024));
    assert_eq!(t.paged_bytes, Some(983_564 * 1024));
    assert_eq!(p.snapshots[0].rows[0].tag.to_string(), "EtwB");
}

#[test]
fn poolmon_screen_values() {
    let Some(dir) = corpus_dir() else { return };
    let p = parse(&dir, "msdocs-poolmon-a-sorted-by-allocs.txt");
    let r = row(&p, "Io", PoolKind::NonPaged);
    assert_eq!(r.tag.bytes(), b"Io  ");
    assert_eq!(
        (r.allocs, r.frees, r.outstanding, r.bytes),
        (Some(1_021_112), Some(1_020_985), Some(127), 91_912)
    );
    assert_eq!(row(&p, "Key", PoolKind::Paged).bytes, 87_528);
    assert_eq!(
        p.snapshots[0].label.as_deref(),
        Some("System pool information")
    );
    assert_eq!(
        p.snapshots[0].totals.as_ref().unwrap().nonpaged_bytes,
        Some(8332 * 1024)
    );

    let p = parse(&dir, "msdocs-poolmon-b-dashed-header.txt");
    assert_eq!(row(&p, "CM", PoolKind::Paged).bytes, 1_377_312);
    assert_eq!(row(&p, "Fat", PoolKind::Paged).allocs, Some(6662));
    assert_eq!(row(&p, "Strg", PoolKind::Paged).outstanding, Some(3727));

    let before = parse(&dir, "msdocs-poolmon-drsd-before-print.txt");
    let after = parse(&dir, "msdocs-poolmon-drsd-after-print.txt");
    assert_eq!(row(&before, "Drsd", PoolKind::Paged).outstanding, Some(21));
    assert_eq!(row(&after, "Drsd", PoolKind::Paged).outstanding, Some(27));
    assert_eq!(row(&after, "Drsd", PoolKind::Paged).bytes, 22_464);

    let p = parse(&dir, "poolmon-collapsed-whitespace-serverfault-52125.txt");
    let r = row(&p, "File", PoolKind::NonPaged);
    assert_eq!(
        (r.allocs, r.frees, r.outstanding, r.bytes),
        (Some(13_789_939), Some(13_704_656), Some(85_283), 13_203_912)
    );
    assert_eq!(row(&p, "Ntfr", PoolKind::NonPaged).bytes, 10_379_976);
}

#[test]
fn poolmon_mapped_driver_values() {
    let Some(dir) = corpus_dir() else { return };
    let p = parse(&dir, "msdocs-poolmon-g-ntfs-mapped-driver.txt");
    let r = row(&p, "NtFs", PoolKind::NonPaged);
    assert_eq!((r.outstanding, r.bytes), (Some(1599), 64_536));
    assert_eq!(
        r.mapped_driver.as_deref(),
        Some("[ntfs.sys  -  StrucSup.c]")
    );
    // Case matters: NtFS and NtFs are different tags.
    assert_eq!(row(&p, "NtFS", PoolKind::Paged).bytes, 80_192);

    let p = parse(&dir, "msdocs-poolmon-g-ipsec-mapped-driver.txt");
    let r = row(&p, "IpSI", PoolKind::NonPaged);
    assert_eq!((r.allocs, r.bytes), (Some(1027), 53_272));
    assert_eq!(
        r.mapped_driver.as_deref(),
        Some("[ipsec][ipsec.sys    - initial allcoations]")
    );
    assert_eq!(
        row(&p, "IpIO", PoolKind::NonPaged).mapped_driver.as_deref(),
        Some("[ipsec]")
    );

    let p = parse(&dir, "msdocs-poolmon-g-hid-win11.txt");
    assert_eq!(row(&p, "HidC", PoolKind::Paged).bytes, 896);
    let r = row(&p, "HidC", PoolKind::NonPaged);
    assert_eq!((r.allocs, r.bytes), (Some(17_375), 19_808));
    assert_eq!(
        r.mapped_driver.as_deref(),
        Some("[hidclass.sys - HID Class d")
    );
    assert_eq!(
        poolsleuth::snapshot::mapped_driver_files(r.mapped_driver.as_deref().unwrap()),
        vec!["hidclass.sys"]
    );

    let p = parse(&dir, "msdocs-poolmon-g-unknown-driver.txt");
    let r = row(&p, "2MEM", PoolKind::NonPaged);
    assert_eq!(
        (r.bytes, r.mapped_driver.as_deref()),
        (3944, Some("Unknown Driver"))
    );
    assert!(p.snapshots[0].totals.is_none());
}

#[test]
fn poolmon_session_values() {
    let Some(dir) = corpus_dir() else { return };
    let p = parse(&dir, "msdocs-poolmon-s-session-pools.txt");
    assert!(
        p.snapshots[0]
            .rows
            .iter()
            .all(|r| r.pool == PoolKind::Session)
    );
    let r = row(&p, "Dh 2", PoolKind::Session);
    assert_eq!((r.allocs, r.frees, r.bytes), (Some(344), Some(344), 0));
    assert_eq!(row(&p, "Gcac", PoolKind::Session).bytes, 288_968);
    assert_eq!(p.snapshots[0].rows.last().unwrap().tag.to_string(), "Gdbr");
}

#[test]
fn poolused_values() {
    let Some(dir) = corpus_dir() else { return };
    let p = parse(&dir, "msdocs-poolused-4-paged.txt");
    let r = row(&p, "Abc", PoolKind::Paged);
    assert_eq!(r.tag.bytes(), b"Abc ");
    assert_eq!((r.outstanding, r.bytes), (Some(36_405), 33_930_272));
    assert_eq!(row(&p, "Gla5", PoolKind::NonPaged).bytes, 128);
    assert_eq!(row(&p, "Ggb", PoolKind::Paged).bytes, 828_384);

    let p = parse(&dir, "msdocs-poolused-default-sorted-by-tag.txt");
    assert_eq!(row(&p, "AGP ", PoolKind::Paged).bytes, 384);
    assert_eq!(
        row(&p, "8042", PoolKind::NonPaged).mapped_driver.as_deref(),
        Some("PS/2 kb and mouse , Binary: i8042prt.sys")
    );
    let ohci = row(&p, "ohci", PoolKind::NonPaged);
    assert_eq!(ohci.bytes, 136);
    assert_eq!(
        ohci.mapped_driver.as_deref(),
        Some("1394 OHCI host controller driver")
    );
    let rx = row(&p, "  rx", PoolKind::NonPaged);
    assert_eq!((rx.outstanding, rx.bytes), (Some(3), 1248));
    assert_eq!(p.warnings[0].line, 40);
    assert_eq!(row(&p, "Wmit", PoolKind::Paged).bytes, 49_480);
    assert_eq!(row(&p, "usbp", PoolKind::NonPaged).bytes, 77_056);
    assert!(row(&p, "1394", PoolKind::NonPaged).mapped_driver.is_none());
    let t = p.snapshots[0].totals.as_ref().unwrap();
    assert_eq!(
        (t.nonpaged_allocs, t.nonpaged_bytes),
        (Some(3_570_214), Some(209_120_008))
    );
    assert_eq!(
        (t.paged_allocs, t.paged_bytes),
        (Some(38_769), Some(13_066_104))
    );

    let p = parse(&dir, "poolused-verbose-frees-diff-snippet.txt");
    let r = row(&p, "-UMD", PoolKind::NonPaged);
    assert_eq!(
        (r.allocs, r.frees, r.outstanding, r.bytes),
        (Some(2), Some(1), Some(1), 48)
    );
    let r = row(&p, "APpt", PoolKind::Paged);
    assert_eq!(
        (r.allocs, r.frees, r.outstanding, r.bytes),
        (Some(109_457), Some(107_115), Some(2342), 255_952)
    );
    assert_eq!(
        row(&p, "ALPC", PoolKind::NonPaged).mapped_driver.as_deref(),
        Some("ALPC port objects , Binary: nt!alpc")
    );

    let p = parse(&dir, "poolused2-win10-vm-cn-notes.txt");
    assert_eq!(p.snapshots[0].rows[0].tag.to_string(), "ConT");
    assert_eq!(row(&p, "ConT", PoolKind::NonPaged).bytes, 5_935_104);
    assert_eq!(row(&p, "EtwB", PoolKind::Paged).bytes, 442_368);
    let vad = row(&p, "Vad", PoolKind::NonPaged);
    assert_eq!(vad.tag.bytes(), b"Vad ");
    assert_eq!(vad.bytes, 2_192_480);
    assert_eq!(
        row(&p, "NtxF", PoolKind::NonPaged).mapped_driver.as_deref(),
        Some(
            "FCB_NONPAGED                      NtfsFcbNonpagedDataLookasideList , Binary: ntfs.sys"
        )
    );
    assert_eq!(
        p.snapshots[0].label.as_deref(),
        Some("!poolused 2: Sorting by NonPaged Pool Consumed")
    );
}

#[test]
fn forcing_the_wrong_format_is_a_clear_error() {
    let Some(dir) = corpus_dir() else { return };
    let bytes = std::fs::read(dir.join("msdocs-poolmon-a-sorted-by-allocs.txt")).unwrap();
    for f in [
        SnapshotFormat::Poolused,
        SnapshotFormat::Verifier,
        SnapshotFormat::Csv,
        SnapshotFormat::MarkdownTable,
        SnapshotFormat::Json,
        SnapshotFormat::PowershellTable,
    ] {
        let opts = ParseOptions {
            format: Some(f),
            ..ParseOptions::default()
        };
        let e = parse_snapshots(&bytes, &opts).unwrap_err();
        let text = e.to_string();
        assert!(text.contains(f.name()), "{f}: {text}");
        assert!(
            text.contains("formats understood: poolmon, poolmon-log, poolused"),
            "{text}"
        );
        assert!(e.line.is_some(), "{f}: {text}");
    }
    let opts = ParseOptions {
        format: Some(SnapshotFormat::PoolmonLog),
        ..ParseOptions::default()
    };
    assert!(parse_snapshots(&bytes, &opts).is_ok());
}
