//! Hand-written variants in tests/fixtures/ (our own text).

use poolsleuth::snapshot::{
    ParseOptions, ParsedSnapshots, PoolKind, PoolUsage, SnapshotFormat, parse_driver_list,
    parse_driver_list_with_warnings, parse_snapshots,
};
use poolsleuth::tag::PoolTag;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn parse(name: &str) -> ParsedSnapshots {
    parse_snapshots(
        &fixture(&format!("snapshots/{name}")),
        &ParseOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn find<'a>(rows: &'a [PoolUsage], tag: &str, pool: PoolKind) -> &'a PoolUsage {
    let tag = PoolTag::parse(tag).unwrap();
    rows.iter()
        .find(|r| r.tag == tag && r.pool == pool)
        .unwrap_or_else(|| panic!("no {tag} {pool}"))
}

#[test]
fn poolmon_log_series_has_three_timed_frames() {
    let p = parse("poolmon-log-series.txt");
    assert_eq!(p.format, SnapshotFormat::PoolmonLog);
    assert_eq!(p.snapshots.len(), 3);
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    let bytes: Vec<u64> = p
        .snapshots
        .iter()
        .map(|s| find(&s.rows, "Abc", PoolKind::NonPaged).bytes)
        .collect();
    assert_eq!(bytes, [9_216_000, 19_456_000, 29_696_000]);
    assert_eq!(p.snapshots[2].taken_at.unwrap().hour(), 12);
    assert_eq!(
        find(&p.snapshots[1].rows, "Dh 1", PoolKind::Paged).allocs,
        Some(30)
    );
    assert_eq!(
        p.snapshots[0].totals.as_ref().unwrap().nonpaged_bytes,
        Some(300_000 * 1024)
    );
}

#[test]
fn poolmon_paged_only_with_thousands_and_mapped_driver() {
    let p = parse("poolmon-paged-only-thousands-g.txt");
    assert_eq!(p.format, SnapshotFormat::PoolmonScreen);
    let rows = &p.snapshots[0].rows;
    assert_eq!(rows.len(), 5);
    assert!(rows.iter().all(|r| r.pool == PoolKind::Paged));
    let toke = find(rows, "Toke", PoolKind::Paged);
    assert_eq!(
        (toke.allocs, toke.frees, toke.outstanding, toke.bytes),
        (Some(1_234_567), Some(1_200_000), Some(34_567), 123_456_789)
    );
    assert_eq!(
        toke.mapped_driver.as_deref(),
        Some("[nt!se - Token objects]")
    );
    assert_eq!(find(rows, "Ob", PoolKind::Paged).bytes, 245_000);
    assert_eq!(
        find(rows, "Dh 1", PoolKind::Paged).mapped_driver.as_deref(),
        Some("[[dxgkrnl.sys]]")
    );
    assert_eq!(find(rows, "Key", PoolKind::Paged).bytes, 87_528);
    assert_eq!(
        p.snapshots[0].totals.as_ref().unwrap().memory_kib,
        Some(33_473_120)
    );
    assert_eq!(p.warnings.len(), 1);
    assert_eq!(p.warnings[0].line, 12);
}

#[test]
fn poolused_two_runs_make_a_series() {
    let p = parse("poolused-two-runs.txt");
    assert_eq!(p.format, SnapshotFormat::Poolused);
    assert_eq!(p.snapshots.len(), 2);
    assert_eq!(
        find(&p.snapshots[1].rows, "Abc", PoolKind::Paged).bytes,
        37_280_000
    );
    assert_eq!(
        p.snapshots[1].totals.as_ref().unwrap().paged_bytes,
        Some(38_080_000)
    );
}

#[test]
fn verifier_win7_layout() {
    let p = parse("verifier-win7.txt");
    assert_eq!(p.format, SnapshotFormat::Verifier);
    let rows = &p.snapshots[0].rows;
    assert_eq!(rows.len(), 3);
    let mydv = find(rows, "Mydv", PoolKind::NonPaged);
    assert_eq!((mydv.outstanding, mydv.bytes), (Some(2), 0x3c + 0x34));
    assert_eq!(mydv.mapped_driver.as_deref(), Some("mydrv.sys"));
    assert_eq!(mydv.callers, ["0xfffff88002c62963"]);
    let usbp = find(rows, "usbp", PoolKind::Unknown);
    assert_eq!(
        (usbp.outstanding, usbp.bytes),
        (Some(3), 0x38 + 0x38 + 0xfc)
    );
    assert_eq!(usbp.callers.len(), 2);
    assert_eq!(usbp.mapped_driver.as_deref(), Some("usbport.sys"));
}

#[test]
fn verifier_win10_layout() {
    let p = parse("verifier-win10.txt");
    assert_eq!(p.format, SnapshotFormat::Verifier);
    let rows = &p.snapshots[0].rows;
    let mdrv = find(rows, "mdrv", PoolKind::Unknown);
    assert_eq!((mdrv.outstanding, mdrv.bytes), (Some(3), 0x1008 * 2 + 0x10));
    assert_eq!(
        mdrv.callers,
        [
            "MyDriver!DeviceControlDispatch+0x27",
            "MyDriver!ReadWorker+0x10"
        ]
    );
    assert_eq!(p.warnings.len(), 1);
    assert_eq!(p.warnings[0].line, 19);
}

#[test]
fn powershell_tables() {
    let p = parse("powershell-format-table.txt");
    assert_eq!(p.format, SnapshotFormat::PowershellTable);
    let s = &p.snapshots[0];
    assert_eq!(s.rows.len(), 4);
    assert_eq!(s.taken_at.map(|t| (t.day(), t.hour())), Some((2, 9)));
    let abc = find(&s.rows, "Abc", PoolKind::NonPaged);
    assert_eq!(
        (abc.allocs, abc.frees, abc.outstanding, abc.bytes),
        (Some(3200), Some(300), Some(2900), 29_696_000)
    );
    assert_eq!(find(&s.rows, "Dh 1", PoolKind::Paged).allocs, Some(31));
    let tok = find(&s.rows, "Tok", PoolKind::Paged);
    assert_eq!((tok.allocs, tok.bytes), (None, 4096));
    assert_eq!(p.warnings.len(), 1);
    assert_eq!(p.warnings[0].line, 10);

    let p = parse("powershell-split-pools.txt");
    assert_eq!(p.format, SnapshotFormat::PowershellTable);
    let rows = &p.snapshots[0].rows;
    assert_eq!(rows.len(), 4);
    assert_eq!(find(rows, "Io", PoolKind::NonPaged).bytes, 1000);
    assert_eq!(find(rows, "Io", PoolKind::Paged).bytes, 100);
    assert_eq!(find(rows, "Toke", PoolKind::Paged).allocs, Some(954_821));
}

#[test]
fn markdown_tables_from_tickets() {
    let p = parse("markdown-ticket.md");
    assert_eq!(p.format, SnapshotFormat::MarkdownTable);
    assert_eq!(p.snapshots.len(), 2);
    let day1 = &p.snapshots[0];
    assert_eq!(day1.label.as_deref(), Some("Day 1 — 2026-11-01 09:00"));
    let abc = find(&day1.rows, "Abc", PoolKind::NonPaged);
    assert_eq!(abc.bytes, 1_288_490_189); // 1.2 GiB
    assert_eq!(abc.allocs, Some(120_000));
    assert_eq!(find(&day1.rows, "Cont", PoolKind::NonPaged).bytes, 85 << 20);
    assert_eq!(
        find(&p.snapshots[1].rows, "File", PoolKind::NonPaged).bytes,
        405_000
    );
    assert!(p.snapshots[1].taken_at > p.snapshots[0].taken_at);
    assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
    assert_eq!(p.warnings[0].line, 10);

    let p = parse("markdown-deltas.md");
    assert_eq!(p.snapshots.len(), 3);
    let abc: Vec<u64> = p
        .snapshots
        .iter()
        .map(|s| find(&s.rows, "Abc", PoolKind::Unknown).bytes)
        .collect();
    assert_eq!(abc, [1 << 30, 2_148_007_936, 3 << 30]);
    assert!(p.snapshots.iter().all(|s| s.taken_at.is_some()));
}

#[test]
fn csv_and_tsv_exports() {
    let p = parse("poolmon-export.tsv");
    assert_eq!(p.format, SnapshotFormat::Csv);
    let rows = &p.snapshots[0].rows;
    assert_eq!(rows.len(), 3);
    let io = find(rows, "Io", PoolKind::NonPaged);
    assert_eq!(
        (io.allocs, io.outstanding, io.bytes),
        (Some(1_021_112), Some(127), 91_912)
    );
    assert_eq!(find(rows, "Dh 1", PoolKind::Paged).allocs, Some(24));

    let p = parse("poolmonx-export.csv");
    assert_eq!(p.format, SnapshotFormat::Csv);
    assert_eq!(p.snapshots.len(), 2);
    let abc = find(&p.snapshots[1].rows, "Abc", PoolKind::NonPaged);
    assert_eq!(abc.bytes, (28.3f64 * 1_048_576.0).round() as u64);
    assert_eq!(abc.outstanding, Some(2900));
    assert_eq!(p.snapshots[0].taken_at.unwrap().hour(), 10);
}

#[test]
fn json_forms() {
    let p = parse("series.json");
    assert_eq!(p.format, SnapshotFormat::Json);
    assert_eq!(p.snapshots.len(), 2);
    // Sorted by time: the morning snapshot comes first although written second.
    assert_eq!(p.snapshots[0].label.as_deref(), Some("morning"));
    let odd = PoolTag::from_bytes([1, b'b', b'a', b'd']);
    assert!(p.snapshots[0].rows.iter().any(|r| r.tag == odd));
    assert_eq!(
        find(&p.snapshots[1].rows, "Abc", PoolKind::NonPaged)
            .mapped_driver
            .as_deref(),
        Some("abc.sys")
    );
    assert_eq!(
        p.snapshots[1].totals.as_ref().unwrap().nonpaged_bytes,
        Some(327_680_000)
    );
    assert_eq!(p.warnings.len(), 1);
    assert!(
        p.warnings[0].message.starts_with("snapshots[1].rows[3]"),
        "{:?}",
        p.warnings
    );

    let p = parse("bare-rows.json");
    let rows = &p.snapshots[0].rows;
    assert_eq!(rows.len(), 2);
    assert_eq!(find(rows, "Abc", PoolKind::NonPaged).bytes, 29_696_000);
    assert_eq!(find(rows, "Toke", PoolKind::Paged).frees, Some(953_979));

    // A single snapshot object.
    let one = br#"{"label":"x","rows":[{"tag":"Io","pool":"paged","bytes":"1.5 KB"}]}"#;
    let p = parse_snapshots(one, &ParseOptions::default()).unwrap();
    assert_eq!(p.snapshots[0].rows[0].bytes, 1536);
}

#[test]
fn json_round_trips_through_serde() {
    let p = parse("poolmon-log-series.txt");
    let json = serde_json::to_vec(&p).unwrap();
    let again = parse_snapshots(&json, &ParseOptions::default()).unwrap();
    assert_eq!(again.format, SnapshotFormat::Json);
    assert_eq!(again.snapshots.len(), 3);
    for (a, b) in p.snapshots.iter().zip(&again.snapshots) {
        assert_eq!(a.rows, b.rows);
        assert_eq!(a.taken_at, b.taken_at);
        assert_eq!(a.totals, b.totals);
    }
}

#[test]
fn driverquery_lists() {
    let d = parse_driver_list(&fixture("driver_lists/driverquery-v.csv")).unwrap();
    assert_eq!(d.len(), 3);
    assert_eq!(d[1].module_name, "abcflt");
    assert_eq!(d[1].service_name.as_deref(), Some("abcflt"));
    assert_eq!(d[1].display_name.as_deref(), Some("Abc Filter"));
    assert_eq!(d[1].driver_type.as_deref(), Some("File System"));
    assert_eq!(d[1].state.as_deref(), Some("Running"));
    assert_eq!(d[1].paged_pool_bytes, Some(8192));
    assert_eq!(d[1].file_name.as_deref(), Some("abcflt.sys"));
    assert_eq!(d[2].file_name.as_deref(), Some("wdfabcd.sys"));
    assert_eq!(d[0].link_date, None);

    let d = parse_driver_list(&fixture("driver_lists/driverquery.csv")).unwrap();
    assert_eq!(d.len(), 2);
    assert_eq!(d[1].link_date.as_deref(), Some("3/14/2025 2:01:02 PM"));
    assert_eq!(d[1].path, None);

    let d = parse_driver_list(&fixture("driver_lists/driverquery-french.csv")).unwrap();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].module_name, "abcflt");
    assert_eq!(d[0].display_name.as_deref(), Some("Filtre Abc"));

    let (d, w) = parse_driver_list_with_warnings(&fixture("driver_lists/drivers.json")).unwrap();
    assert_eq!(d.len(), 2);
    assert_eq!(w.len(), 1);
    assert_eq!(d[0].module_name, "abcflt");
    assert_eq!(d[0].file_name.as_deref(), Some("abcflt.sys"));
    assert_eq!(d[1].service_name.as_deref(), Some("NetAbc"));
    assert_eq!(d[1].version.as_ref().map(|v| v.as_str()), Some("1.2.3.4"));

    let e = parse_driver_list(b"  \n").unwrap_err();
    assert!(e.to_string().contains("driverquery /v /fo csv"), "{e}");
    let e = parse_driver_list(b"a,b,c\n1,2,3\n").unwrap_err();
    assert_eq!(e.line, Some(1));
}

#[test]
fn readme_gives_the_recommended_powershell_driver_list_verbatim() {
    let readme =
        std::fs::read_to_string(format!("{}/README.md", env!("CARGO_MANIFEST_DIR"))).unwrap();
    assert!(readme.contains(poolsleuth::snapshot::POWERSHELL_DRIVER_LIST));
    let list = parse_driver_list(&fixture("driver_lists/powershell-versions.csv")).unwrap();
    assert_eq!(list[0].version.as_ref().map(|v| v.as_str()), Some("1.2.0"));
}
