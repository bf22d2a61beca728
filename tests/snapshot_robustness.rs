//! Errors, caps, size and never-panic properties (arbitrary bytes, mutated corpus and fixture
//! files, every forced format), plus a replay of saved crashing inputs.

use std::path::PathBuf;
use std::time::Instant;

use poolsleuth::snapshot::{
    FORMATS_UNDERSTOOD, ParseOptions, Precision, SnapshotFormat, parse_driver_list, parse_snapshots,
};
use proptest::prelude::*;

#[path = "common/corpus.rs"]
mod corpus;

const ALL_FORMATS: [SnapshotFormat; 8] = [
    SnapshotFormat::PoolmonScreen,
    SnapshotFormat::PoolmonLog,
    SnapshotFormat::Poolused,
    SnapshotFormat::Verifier,
    SnapshotFormat::Csv,
    SnapshotFormat::PowershellTable,
    SnapshotFormat::MarkdownTable,
    SnapshotFormat::Json,
];

/// Parses with auto-detection and with every forced format; only panics matter here.
fn exercise(bytes: &[u8]) {
    let _ = parse_snapshots(bytes, &ParseOptions::default());
    for f in ALL_FORMATS {
        let opts = ParseOptions {
            format: Some(f),
            max_rows: 1000,
            ..ParseOptions::default()
        };
        if let Ok(p) = parse_snapshots(bytes, &opts) {
            // A snapshot holds rows, or machine totals alone (issue 24: totals without tags).
            assert!(
                p.snapshots
                    .iter()
                    .all(|s| !s.rows.is_empty() || s.totals.is_some())
            );
        }
    }
    let _ = parse_driver_list(bytes);
}

fn seed_files() -> Vec<Vec<u8>> {
    let mut dirs = vec![
        PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/snapshots"
        )),
        PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/snapshots/pasted"
        )),
        PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/driver_lists"
        )),
    ];
    match corpus::present(corpus::path(
        "snapshots",
        Some("POOLSLEUTH_SNAPSHOT_CORPUS"),
    )) {
        Some(dir) => dirs.push(dir),
        None => println!("note: shared corpus absent; mutating fixtures only"),
    }
    let mut out = Vec::new();
    for d in dirs {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for p in paths {
            if p.extension()
                .is_some_and(|e| e != "md" || !p.ends_with("INDEX.md"))
            {
                out.push(std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

#[test]
fn empty_and_blank_inputs_are_clear_errors() {
    for input in [&b""[..], b"   \n\t\r\n  ", b"\xEF\xBB\xBF\n"] {
        let e = parse_snapshots(input, &ParseOptions::default()).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("empty"), "{text}");
        assert!(text.contains("formats understood: poolmon, poolmon-log, poolused, verifier, csv, tsv, powershell, markdown, table, prose, json"), "{text}");
        assert_eq!(e.formats_understood, FORMATS_UNDERSTOOD);
    }
}

#[test]
fn unrecognisable_input_names_the_line() {
    let e = parse_snapshots(
        b"\n\nhello there\nthis is not a pool table\n",
        &ParseOptions::default(),
    )
    .unwrap_err();
    assert_eq!(e.line, Some(3));
    assert!(e.to_string().starts_with("line 3: "), "{e}");

    // A header without rows.
    let e = parse_snapshots(
        b" Tag  Type     Allocs   Frees  Diff  Bytes  Per Alloc\n\n",
        &ParseOptions::default(),
    )
    .unwrap_err();
    assert!(e.line.is_some());

    // A CSV with a tag column and counts but no sizes is read, and says its sizes are unknown.
    let p = parse_snapshots(b"Tag,Allocs\nIo,5\n", &ParseOptions::default()).unwrap();
    assert_eq!(p.snapshots[0].rows[0].allocs, Some(5));
    assert_eq!(p.snapshots[0].rows[0].precision, Precision::Unknown);
    assert!(
        p.warnings[0].message.contains("no sizes"),
        "{:?}",
        p.warnings
    );

    // A table without a single number is no snapshot.
    let e = parse_snapshots(b"Tag,Driver\nIo,io.sys\n", &ParseOptions::default()).unwrap_err();
    assert!(e.to_string().contains("tag list"), "{e}");

    // Bad JSON names its line.
    let e =
        parse_snapshots(b"{\n \"snapshots\": [\n  {,}\n]}", &ParseOptions::default()).unwrap_err();
    assert_eq!(e.line, Some(3));
}

#[test]
fn format_names_round_trip() {
    for name in FORMATS_UNDERSTOOD {
        let f: SnapshotFormat = name.parse().unwrap();
        if *name != "tsv" {
            assert_eq!(f.to_string(), *name);
        }
    }
    assert_eq!(
        "TSV".parse::<SnapshotFormat>().unwrap(),
        SnapshotFormat::Csv
    );
    let e = "xml".parse::<SnapshotFormat>().unwrap_err();
    assert!(e.to_string().contains("poolmon-log"));
}

#[test]
fn row_cap_truncates_with_a_warning() {
    let mut text = String::from("Tag Type Allocs Frees Diff Bytes Per Alloc\n");
    for i in 0..100 {
        text.push_str(&format!("T{i:03} Nonp 10 5 5 {} 1\n", i * 10));
    }
    let opts = ParseOptions {
        max_rows: 10,
        ..ParseOptions::default()
    };
    let p = parse_snapshots(text.as_bytes(), &opts).unwrap();
    assert!(p.truncated);
    assert_eq!(p.snapshots[0].rows.len(), 10);
    assert!(p.warnings.iter().any(|w| w.message.contains("row limit")));
}

#[test]
fn warnings_are_capped() {
    let mut text = String::from("Tag Type Allocs Frees Diff Bytes Per Alloc\nIo Nonp 1 0 1 8 8\n");
    for _ in 0..1000 {
        text.push_str("Bad Paged x y z\n");
    }
    let p = parse_snapshots(text.as_bytes(), &ParseOptions::default()).unwrap();
    assert_eq!(p.warnings.len(), 201);
    assert!(p.warnings.last().unwrap().message.contains("800 more"));
}

#[test]
fn utf16_powershell_redirect_is_read() {
    let text = "Tag,PoolType,TotalBytes\r\nIo,NonPaged,4096\r\n";
    let mut bytes = vec![0xFF, 0xFE];
    bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    let p = parse_snapshots(&bytes, &ParseOptions::default()).unwrap();
    assert_eq!(p.snapshots[0].rows[0].bytes, 4096);
}

#[test]
fn large_inputs_parse_in_linear_time() {
    // ~3 MB poolmon log: 20 frames x 2000 rows (36 MB parses in under 2 s in release).
    let mut text = String::new();
    for f in 0..20 {
        text.push_str(&format!("2026-11-01 {:02}:{:02}:00\n Tag  Type     Allocs            Frees            Diff   Bytes       Per Alloc\n", f / 60, f % 60));
        for i in 0..2000u32 {
            let tag: String = [i % 26, i / 26 % 26, i / 676 % 26]
                .iter()
                .map(|b| char::from(b'A' + *b as u8))
                .collect();
            text.push_str(&format!(
                " {tag}{} Nonp {:>10} ( 0) {:>10} ( 0) {:>8} {:>10} ( 0) {:>6}\n",
                f % 10,
                1000 + i,
                900,
                100 + i,
                64 * (100 + i),
                64
            ));
        }
    }
    let start = Instant::now();
    let p = parse_snapshots(text.as_bytes(), &ParseOptions::default()).unwrap();
    let took = start.elapsed();
    assert_eq!(p.snapshots.len(), 20);
    assert!(p.warnings.is_empty(), "{:?}", &p.warnings[..1]);
    assert_eq!(
        p.snapshots.iter().map(|s| s.rows.len()).sum::<usize>(),
        40_000
    );
    assert!(took.as_secs() < 60, "took {took:?}");

    // Pathological shapes: one huge line, many parentheses, many pipes, deep JSON.
    for (i, bytes) in [
        vec![b'a'; 5_000_000],
        "Io Nonp 1 (".repeat(200_000).into_bytes(),
        "|---|\n| Tag | Bytes |\n".repeat(100_000).into_bytes(),
        "[".repeat(1_000_000).into_bytes(),
        "- ".repeat(1_000_000).into_bytes(),
        format!(
            "Tag Bytes\n{}\n{}\n",
            "- ".repeat(200_000),
            "x ".repeat(200_000)
        )
        .into_bytes(),
    ]
    .into_iter()
    .enumerate()
    {
        let start = Instant::now();
        let _ = parse_snapshots(&bytes, &ParseOptions::default());
        let took = start.elapsed();
        println!("pathological input {i}: {took:?}");
        assert!(
            took.as_secs() < 30,
            "slow on pathological input {i}: {took:?}"
        );
    }
}

#[test]
fn saved_crash_inputs_replay() {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/snapshot_regressions"
    ));
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_some_and(|x| x == "bin" || x == "txt") {
            exercise(&std::fs::read(&path).unwrap());
            n += 1;
        }
    }
    println!("replayed {n} saved inputs");
}

#[derive(Debug, Clone)]
enum Edit {
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Duplicate(usize, usize),
}

fn edit_strategy() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Flip(i, b)),
        (
            any::<usize>(),
            prop::collection::vec(
                prop::sample::select(
                    b" \t\n\r()[]|,;:-.0123456789x'`\"PagedNonpTagK\xff\xfe\x00".to_vec()
                ),
                0..8
            )
        )
            .prop_map(|(i, v)| Edit::Insert(i, v)),
        (any::<usize>(), 0usize..40).prop_map(|(i, n)| Edit::Delete(i, n)),
        (any::<usize>(), 0usize..200).prop_map(|(i, n)| Edit::Duplicate(i, n)),
    ]
}

fn apply(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let len = bytes.len().max(1);
        match e {
            Edit::Flip(i, b) => {
                if !bytes.is_empty() {
                    let i = i % bytes.len();
                    bytes[i] = *b;
                }
            }
            Edit::Insert(i, v) => {
                let i = i % (bytes.len() + 1);
                bytes.splice(i..i, v.iter().copied());
            }
            Edit::Delete(i, n) => {
                let i = i % len;
                let end = (i + n).min(bytes.len());
                if i < end {
                    bytes.drain(i..end);
                }
            }
            Edit::Duplicate(i, n) => {
                let i = i % len;
                let end = (i + n).min(bytes.len());
                if i < end {
                    let chunk = bytes[i..end].to_vec();
                    bytes.splice(end..end, chunk);
                }
            }
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        exercise(&bytes);
    }

    #[test]
    fn token_soup_never_panics(words in prop::collection::vec(prop::sample::select(vec![
        "Tag", "Type", "Allocs", "Frees", "Diff", "Bytes", "Per", "Alloc", "Mapped_Driver", "Paged", "Nonp", "Sess",
        "Io", "Dh 1", "(", ")", "( 0)", "(-5)", "1,234", "0", "99999999999999999999", "-3", "\n", "\t", "|", "|---|", "---",
        "Used", "TOTAL", "UNKNOWN pooltag '", "'", "!poolused", "Sorting by", "!verifier", "MODULE:", "0x1234abcd",
        "fffff9800157efc0", "Address", "Length", "Caller", "Memory:", "Pool N:", "P:", "K", "2026-11-01 10:00", "{", "}",
        "[", "]", "\"rows\":", ",", ";", "MB", "1.5", "é", "\u{a0}", "\r", "  ", "...", "#TYPE",
        // Key: value blocks, HTML and states (issue 24).
        "Tag:", "Pool:", "Nonpaged bytes:", "earlier", "two hours earlier", "Uptime:", "<code>", "</code>",
        "<br>", "<tr>", "</tr>", "<td>", "</td>", "<th class=x>", "&gt;", "&#x41;", "&#99999999;", "&amp",
        "while leaking", "after reboot", "+1,999", "922,5", "PoolPagedBytes", "Paged Pool", "Time",
    ]), 0..200)) {
        let text = words.join(" ");
        exercise(text.as_bytes());
        let text = words.concat();
        exercise(text.as_bytes());
    }

    #[test]
    fn mutated_examples_never_panic(seed in any::<prop::sample::Index>(), edits in prop::collection::vec(edit_strategy(), 1..12)) {
        let files = seed_files();
        prop_assume!(!files.is_empty());
        let base = files[seed.index(files.len())].clone();
        exercise(&apply(base, &edits));
    }
}
