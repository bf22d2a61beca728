//! Throughput of the driver analysis over the corpus, against the manual baseline
//! `strings -a FILE | grep -c ...`, measured in the same run.
//!
//! `cargo bench --bench driver_analysis [-- DIR] [--iters N]` (default DIR: ../shared/corpus/drivers)

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use poolsleuth::driver::{AnalysisLimits, TagKind, analyze};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let iters: u32 = args
        .iter()
        .position(|a| a == "--iters")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let dir = args
        .iter()
        .find(|a| !a.starts_with("--") && a.parse::<u32>().is_err())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../shared/corpus/drivers"
            ))
        });
    let Ok(entries) = std::fs::read_dir(&dir) else {
        println!("note: {} is absent; nothing to measure", dir.display());
        return;
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("sys")))
        .collect();
    files.sort();
    let limits = AnalysisLimits::default();
    let (mut total_bytes, mut ours_time, mut base_time) = (0u64, Duration::ZERO, Duration::ZERO);
    let (mut ours_cands, mut base_cands) = (0usize, 0usize);
    println!(
        "{:<28} {:>8} {:>10} {:>10} {:>7} {:>7} {:>9}",
        "file", "KiB", "ours MB/s", "strings", "tags", "guess", "strings#"
    );
    for f in &files {
        let bytes = std::fs::read(f).expect("read");
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let t = Instant::now();
        let mut result = None;
        for _ in 0..iters {
            result = Some(analyze(&name, &bytes, &limits));
        }
        let ours = t.elapsed() / iters;
        let (tags, guesses) = match result {
            Some(Ok(a)) => (
                a.tags
                    .iter()
                    .filter(|t| t.kind == TagKind::CodeSite)
                    .count(),
                a.tags
                    .iter()
                    .filter(|t| t.kind == TagKind::StringGuess)
                    .count(),
            ),
            _ => (0, 0),
        };
        // Baseline: every printable run of 4+ characters is a candidate to look a tag up in.
        let t = Instant::now();
        let mut count = 0usize;
        for _ in 0..iters {
            let out = Command::new("sh")
                .arg("-c")
                .arg("strings -a \"$1\" | grep -c ''")
                .arg("sh")
                .arg(f)
                .output()
                .expect("strings (binutils) is needed for the baseline");
            count = String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse()
                .unwrap_or(0);
        }
        let base = t.elapsed() / iters;
        let mbps = |d: Duration| bytes.len() as f64 / 1e6 / d.as_secs_f64().max(1e-9);
        println!(
            "{:<28} {:>8.1} {:>10.1} {:>10.1} {:>7} {:>7} {:>9}",
            name,
            bytes.len() as f64 / 1024.0,
            mbps(ours),
            mbps(base),
            tags,
            guesses,
            count
        );
        total_bytes += bytes.len() as u64;
        ours_time += ours;
        base_time += base;
        ours_cands += tags + guesses;
        base_cands += count;
    }
    let mb = total_bytes as f64 / 1e6;
    println!(
        "TOTAL {:.2} MB in {} files: ours {:.1} MB/s ({:.1} ms), strings|grep {:.1} MB/s ({:.1} ms); candidates: ours {} tags, strings {} lines",
        mb,
        files.len(),
        mb / ours_time.as_secs_f64().max(1e-9),
        ours_time.as_secs_f64() * 1e3,
        mb / base_time.as_secs_f64().max(1e-9),
        base_time.as_secs_f64() * 1e3,
        ours_cands,
        base_cands
    );
}
