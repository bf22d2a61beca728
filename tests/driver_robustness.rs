//! Hostile and broken input: clear errors, never a panic, bounded time. The proptest here is
//! also the project's fuzzer (cargo-fuzz needs nightly); inputs it ever found crashing are kept
//! under tests/fixtures/drivers/regressions/ and replayed by `regressions_replay`.

mod driver_support;

use std::time::{Duration, Instant};

use driver_support::{corpus_dir, fixture_dir, pe_layout, read_fixture, rva_to_off};
use poolsleuth::driver::{AnalysisLimits, DriverError, analyze};
use proptest::prelude::*;

fn run(bytes: &[u8]) -> Result<poolsleuth::driver::DriverAnalysis, DriverError> {
    analyze("input.sys", bytes, &AnalysisLimits::default())
}

#[test]
fn empty_file() {
    let e = run(&[]).unwrap_err();
    assert_eq!(e, DriverError::Empty);
    assert!(e.to_string().contains("empty"));
}

#[test]
fn oversized_file() {
    let limits = AnalysisLimits {
        max_file_bytes: 1024,
        ..AnalysisLimits::default()
    };
    let e = analyze("big.sys", &vec![0u8; 4096], &limits).unwrap_err();
    assert_eq!(
        e,
        DriverError::TooLarge {
            size: 4096,
            max: 1024
        }
    );
    assert!(e.to_string().contains("4096") && e.to_string().contains("1024"));
    assert_eq!(AnalysisLimits::default().max_file_bytes, 64 * 1024 * 1024);
}

#[test]
fn not_pe() {
    for input in [
        &b"hello world"[..],
        b"\x7fELF\x02\x01\x01",
        b"M",
        b"%PDF-1.4",
    ] {
        let e = run(input).unwrap_err();
        assert!(matches!(e, DriverError::NotPe(_)), "{e:?}");
        assert!(e.to_string().contains("MZ"));
    }
    // A DOS executable: MZ but no PE header.
    let mut dos = vec![0u8; 128];
    dos[..2].copy_from_slice(b"MZ");
    dos[0x3c] = 0x40;
    let e = run(&dos).unwrap_err();
    assert!(matches!(e, DriverError::NotPe(_)), "{e:?}");
    // e_lfanew past the end.
    dos[0x3c..0x40].copy_from_slice(&0x10000u32.to_le_bytes());
    assert!(matches!(run(&dos).unwrap_err(), DriverError::NotPe(_)));
}

#[test]
fn truncated_driver() {
    let b = read_fixture("patterns_x64_O2.sys");
    for cut in [64, 0x80, 0x100, 0x180, 0x200, 0x400, 0x800, b.len() - 1] {
        match run(&b[..cut]) {
            Ok(_) => {}
            Err(e) => assert!(
                matches!(e, DriverError::Malformed(_) | DriverError::NotPe(_)),
                "{cut}: {e:?}"
            ),
        }
    }
    let e = run(&b[..0x100]).unwrap_err();
    assert!(matches!(e, DriverError::Malformed(_)), "{e:?}");
}

/// A real driver cut anywhere after its headers (1,024 to 90,000 bytes, or one byte short) is
/// an error naming the truncation, never an "unsigned" driver with fewer tags (issue 17).
#[test]
fn truncated_real_driver_is_an_error() {
    let Some(dir) = corpus_dir() else { return };
    let full = std::fs::read(dir.join("WinRing0.sys")).unwrap();
    run(&full).expect("the whole file analyses");
    let mut cuts: Vec<usize> = (1024..90_000).step_by(4_099).collect();
    cuts.push(full.len() - 1);
    for cut in cuts.into_iter().filter(|&c| c < full.len()) {
        let error = run(&full[..cut]).expect_err(&format!("cut at {cut}"));
        assert!(error.to_string().contains("truncated"), "{cut}: {error}");
    }
}

#[test]
fn absurd_section_table() {
    let mut b = read_fixture("patterns_x64_O2.sys");
    let pe = u32::from_le_bytes(b[0x3c..0x40].try_into().unwrap()) as usize;
    b[pe + 6..pe + 8].copy_from_slice(&0xffffu16.to_le_bytes());
    let e = run(&b).unwrap_err();
    assert!(
        matches!(e, DriverError::Malformed(ref m) if m.contains("section table")),
        "{e:?}"
    );
    // Sections whose raw data points far outside the file.
    let mut b = read_fixture("patterns_x64_O2.sys");
    let (_, st, n) = pe_layout(&b);
    for i in 0..n {
        let s = st + 40 * i;
        b[s + 20..s + 24].copy_from_slice(&0x7fff_0000u32.to_le_bytes());
        b[s + 16..s + 20].copy_from_slice(&0x7fff_0000u32.to_le_bytes());
    }
    let _ = run(&b);
}

#[test]
fn resource_directory_loop() {
    let mut b = read_fixture("patterns_x64_O2.sys");
    let (dd, _, _) = pe_layout(&b);
    let rsrc_rva = u32::from_le_bytes(b[dd + 16..dd + 20].try_into().unwrap());
    let root = rva_to_off(&b, rsrc_rva).unwrap();
    // The first entry of the root directory points back at the root itself.
    b[root + 16 + 4..root + 16 + 8].copy_from_slice(&0x8000_0000u32.to_le_bytes());
    let a = run(&b).expect("a bad resource tree must not lose the file");
    assert_eq!(a.version.company_name, None);
    assert!(!a.tags.is_empty(), "code analysis still works");
}

#[test]
fn user_mode_pe_is_refused() {
    // Turn the fixture into a console program importing kernel32 instead of ntoskrnl.
    let mut b = read_fixture("patterns_x64_O2.sys");
    for (from, to) in [
        (&b"ntoskrnl.exe"[..], &b"kernel32.dll"[..]),
        (b"HAL.dll", b"USER32.dll"),
    ] {
        let mut i = 0;
        while let Some(p) = b[i..]
            .windows(from.len())
            .position(|w| w.eq_ignore_ascii_case(from))
        {
            b[i + p..i + p + to.len()].copy_from_slice(to);
            i += p + to.len();
        }
        let _ = to;
    }
    let (dd, _, _) = pe_layout(&b);
    // Subsystem field: optional header + 68 (same offset for PE32 and PE32+).
    let opt = dd - 112;
    b[opt + 68..opt + 70].copy_from_slice(&3u16.to_le_bytes());
    let e = run(&b).unwrap_err();
    assert!(matches!(e, DriverError::UserModePe { .. }), "{e:?}");
    assert!(e.to_string().contains("kernel32.dll"), "{e}");
}

#[test]
fn instruction_budget_is_enforced() {
    let limits = AnalysisLimits {
        max_instructions: 50,
        ..AnalysisLimits::default()
    };
    let a = analyze("p.sys", &read_fixture("patterns_x64_O2.sys"), &limits).unwrap();
    assert!(a.warnings.iter().any(|w| w.contains("budget")));
}

#[test]
fn regressions_replay() {
    let dir = fixture_dir().join("regressions");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for entry in entries.flatten() {
        let bytes = std::fs::read(entry.path()).unwrap();
        let t = Instant::now();
        let _ = run(&bytes);
        assert!(t.elapsed() < Duration::from_secs(20), "{:?}", entry.path());
    }
}

fn seeds() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = [
        "patterns_x64_O2.sys",
        "patterns_x86_O2push.sys",
        "kmdf_x64_O0.sys",
    ]
    .iter()
    .map(|n| read_fixture(n))
    .collect();
    if let Some(dir) = corpus_dir() {
        for f in ["WinRing0x64.sys", "winpmem_x86.sys"] {
            v.push(std::fs::read(dir.join(f)).unwrap());
        }
    }
    v
}

/// Saves a failing input so `regressions_replay` keeps checking it.
fn check(bytes: &[u8]) -> Result<(), TestCaseError> {
    let t = Instant::now();
    let res = std::panic::catch_unwind(|| run(bytes));
    let elapsed = t.elapsed();
    if res.is_err() || elapsed > Duration::from_secs(20) {
        let name = format!("crash-{:016x}.bin", {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            bytes.hash(&mut h);
            h.finish()
        });
        let _ = std::fs::write(fixture_dir().join("regressions").join(name), bytes);
    }
    prop_assert!(res.is_ok(), "analyze panicked");
    prop_assert!(elapsed < Duration::from_secs(20), "took {elapsed:?}");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn bit_flips_never_panic(seed in 0usize..5, flips in prop::collection::vec((any::<usize>(), 0u8..8), 1..24)) {
        let seeds = seeds();
        let mut b = seeds[seed % seeds.len()].clone();
        for (pos, bit) in flips {
            // Bias towards the headers and directories, where parsers are fragile.
            let at = if pos % 2 == 0 { pos % b.len().min(0x400) } else { pos % b.len() };
            b[at] ^= 1 << bit;
        }
        check(&b)?;
    }

    #[test]
    fn truncation_never_panics(seed in 0usize..5, frac in 0.0f64..1.0) {
        let seeds = seeds();
        let b = &seeds[seed % seeds.len()];
        let cut = ((b.len() as f64) * frac) as usize;
        check(&b[..cut])?;
    }

    #[test]
    fn overwritten_words_never_panic(seed in 0usize..5, words in prop::collection::vec((any::<usize>(), any::<u32>()), 1..8)) {
        let seeds = seeds();
        let mut b = seeds[seed % seeds.len()].clone();
        for (pos, w) in words {
            let at = pos % b.len().saturating_sub(4).max(1);
            let end = (at + 4).min(b.len());
            b[at..end].copy_from_slice(&w.to_le_bytes()[..end - at]);
        }
        check(&b)?;
    }
}
