//! `poolsleuth scan` against the manual method, `strings -a FILE | grep`, each timed as a whole
//! command in the same run, the three commands alternating round by round:
//!
//! * `poolsleuth scan DIR` into a fresh data dir;
//! * the same scan of a folder holding one small driver (the fixed cost: start, seeding the
//!   fresh data dir, one commit);
//! * `sh -c 'for f in DIR/*.sys; do strings -a "$f" | grep -c ""; done'`.
//!
//! Over the corpus, then over a large folder built from it: every corpus driver copied
//! `--copies` times (30 by default, about 450 files and 75 MB), each copy with a few bytes
//! appended so that no two files share a hash.
//!
//! `cargo bench --bench driver_analysis [-- DIR] [--rounds N] [--copies N]`
//! (default DIR: ../shared/corpus/drivers)

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |flag: &str, default: usize| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .and_then(|s| s.parse().ok())
            .unwrap_or(default)
    };
    let rounds = number("--rounds", 5).max(1);
    let copies = number("--copies", 30).max(1);
    let dir = args
        .iter()
        .find(|a| !a.starts_with("--") && a.parse::<usize>().is_err())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../shared/corpus/drivers"
            ))
        });
    let drivers = sys_files(&dir);
    if drivers.is_empty() {
        println!(
            "note: {} holds no .sys files; nothing to measure",
            dir.display()
        );
        return;
    }
    let work = tempfile::tempdir().expect("temp dir");
    let smallest = drivers
        .iter()
        .min_by_key(|p| std::fs::metadata(p).map_or(u64::MAX, |m| m.len()))
        .expect("a driver");
    let one = work.path().join("one");
    std::fs::create_dir(&one).expect("mkdir");
    std::fs::copy(smallest, one.join(smallest.file_name().unwrap())).expect("copy");
    let large = work.path().join("large");
    build_large_folder(&drivers, &large, copies);

    println!(
        "poolsleuth scan vs `strings -a | grep -c` loop, whole commands, {rounds} alternating rounds; \
         fixed cost: scan of {} alone",
        smallest.file_name().unwrap().to_string_lossy()
    );
    println!("load average before: {}", load_average());
    for (label, folder) in [("corpus", dir.as_path()), ("large folder", large.as_path())] {
        measure(label, folder, &one, work.path(), rounds);
    }
    println!("load average after: {}", load_average());
}

fn sys_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("sys")))
        .collect();
    files.sort();
    files
}

/// Copies every driver `copies` times, each copy with its number appended: inside the
/// certificate table of a signed driver (as padding after the signature, which the Authenticode
/// hash leaves out, so every copy still verifies in full, as real files do), else after the end
/// of the image. Every copy still reads as the same driver.
fn build_large_folder(drivers: &[PathBuf], large: &Path, copies: usize) {
    std::fs::create_dir(large).expect("mkdir");
    for path in drivers {
        let bytes = std::fs::read(path).expect("read driver");
        let stem = path.file_stem().unwrap().to_string_lossy();
        let table = certificate_table_at_end(&bytes);
        for k in 0..copies {
            let mut copy = bytes.clone();
            copy.extend_from_slice(format!("copy{k:04}").as_bytes());
            if let Some((entry, offset)) = table {
                let grow = |at: usize, copy: &mut Vec<u8>| {
                    let old = u32::from_le_bytes(copy[at..at + 4].try_into().unwrap());
                    copy[at..at + 4].copy_from_slice(&(old + 8).to_le_bytes());
                };
                grow(entry + 4, &mut copy);
                grow(offset, &mut copy);
            }
            std::fs::write(large.join(format!("{stem}_{k:02}.sys")), copy).expect("write copy");
        }
    }
}

/// (offset of the certificate-table directory entry, offset of the table) when the file ends
/// with its certificate table.
fn certificate_table_at_end(b: &[u8]) -> Option<(usize, usize)> {
    let le32 = |at: usize| Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?) as usize);
    let pe = le32(0x3c)?;
    let optional = pe + 24;
    let magic = u16::from_le_bytes(b.get(optional..optional + 2)?.try_into().ok()?);
    let entry = optional + if magic == 0x20b { 112 } else { 96 } + 4 * 8;
    let (offset, size) = (le32(entry)?, le32(entry + 4)?);
    (size > 0 && offset + size == b.len() && le32(offset)? == size).then_some((entry, offset))
}

fn folder_size(folder: &Path) -> (usize, u64) {
    let files = sys_files(folder);
    let bytes = files
        .iter()
        .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
        .sum();
    (files.len(), bytes)
}

fn measure(label: &str, folder: &Path, one: &Path, work: &Path, rounds: usize) {
    let (count, bytes) = folder_size(folder);
    let mut scan = Vec::new();
    let mut fixed = Vec::new();
    let mut strings = Vec::new();
    let mut summary = String::new();
    for round in 0..rounds {
        // Each round starts with a different command, so none always runs on a warm cache.
        for step in 0..3 {
            match (round + step) % 3 {
                0 => {
                    let (took, out) = run_scan(folder, work);
                    summary = out;
                    scan.push(took);
                }
                1 => fixed.push(run_scan(one, work).0),
                _ => strings.push(run_strings_loop(folder)),
            }
        }
    }
    let (scan_median, fixed_median, strings_median) =
        (median(&mut scan), median(&mut fixed), median(&mut strings));
    println!(
        "\n{label}: {count} files, {:.1} MB ({})",
        bytes as f64 / 1e6,
        folder.display()
    );
    println!("  scan summary: {}", summary.trim());
    let row = |what: &str, median: Duration, all: &[Duration]| {
        println!(
            "  {what:<34} median {:>8.1} ms   min {:>8.1} ms   max {:>8.1} ms",
            ms(median),
            ms(*all.first().unwrap()),
            ms(*all.last().unwrap())
        );
    };
    row("poolsleuth scan (fresh data dir)", scan_median, &scan);
    row("poolsleuth scan of one driver", fixed_median, &fixed);
    row("strings -a | grep -c loop", strings_median, &strings);
    println!(
        "  ratio (strings loop / scan, medians): {:.2}; scan {:.1} MB/s, strings loop {:.1} MB/s",
        strings_median.as_secs_f64() / scan_median.as_secs_f64().max(1e-9),
        bytes as f64 / 1e6 / scan_median.as_secs_f64().max(1e-9),
        bytes as f64 / 1e6 / strings_median.as_secs_f64().max(1e-9)
    );
}

/// Sorts the samples and returns their median.
fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// `poolsleuth scan FOLDER` into a fresh data dir; the time and the summary line.
fn run_scan(folder: &Path, work: &Path) -> (Duration, String) {
    let data = tempfile::tempdir_in(work).expect("data dir");
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_poolsleuth"))
        .arg("scan")
        .arg(folder)
        .arg("--quiet")
        .arg("--data-dir")
        .arg(data.path())
        .stdin(Stdio::null())
        .output()
        .expect("run poolsleuth scan");
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "scan failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    (took, summary)
}

/// The manual method: every printable run of 4+ characters of every file, counted.
fn run_strings_loop(folder: &Path) -> Duration {
    let started = Instant::now();
    let status = Command::new("sh")
        .arg("-c")
        .arg(r#"for f in "$1"/*.sys; do strings -a "$f" | grep -c ""; done"#)
        .arg("sh")
        .arg(folder)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .expect("sh with strings (binutils) and grep");
    let took = started.elapsed();
    assert!(status.success(), "the strings loop failed");
    took
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}
