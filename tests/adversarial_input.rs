//! Every snapshot reader is linear in its input (issue 25): each reader, forced and
//! auto-detected, reads N and 8N lines of the shapes that once cost the square of their length
//! (lines of `-`, `.`, `|`, `=`, blanks, very many columns, one huge line), and the cost may
//! grow at most 12 times. A linear reader grows about 8 times; a quadratic one 64 times.
//!
//! The cost is this thread's CPU time (so other work on the machine does not count), the least
//! of several runs. A small input cheaper than [`FLOOR_NS`] counts as costing that much: at that
//! scale a page fault or a cache miss is a large share, and a quadratic path costs far more.

use poolsleuth::snapshot::{
    FORMATS_UNDERSTOOD, ParseOptions, SnapshotFormat, parse_driver_list, parse_snapshots,
};

/// Units (lines, or columns) in the small input and in the large one.
const SIZES: (usize, usize) = (1_000, 8_000);
/// The most the cost may grow from N to 8N.
const MAX_RATIO: f64 = 12.0;
const RUNS: usize = 3;
/// The least cost the small input is taken to have, in nanoseconds.
const FLOOR_NS: u64 = 200_000;

/// Nanoseconds this thread has run on a CPU.
fn thread_cpu_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// The least CPU time of `runs` runs of `work`, in nanoseconds.
fn cost(work: &dyn Fn(), runs: usize) -> u64 {
    (0..runs)
        .map(|_| {
            let before = thread_cpu_ns();
            work();
            thread_cpu_ns().saturating_sub(before)
        })
        .min()
        .unwrap_or(0)
}

/// A distinct four-letter tag for each `i`.
fn tag(i: usize) -> String {
    (0..4)
        .map(|k| char::from(b'A' + (i / 26usize.pow(k) % 26) as u8))
        .collect()
}

/// A table `n` columns wide: a header and two rows, cells split by `sep`.
fn wide(n: usize, sep: &str) -> String {
    let header: String = (0..n).map(|i| format!("{sep}C{i}")).collect();
    let row: String = (0..n).map(|i| format!("{sep}{i}")).collect();
    format!("Tag{header}\nAbcd{row}\nEfgh{row}\n")
}

/// The hostile shapes: a name, a first line, and the `i`th of the units that follow it.
type Shape = (&'static str, &'static str, fn(usize) -> String);

const SHAPES: &[Shape] = &[
    ("lines of -", "", |_| "--------\n".into()),
    ("lines of .", "", |_| "........\n".into()),
    ("lines of |", "", |_| "||||||||\n".into()),
    ("lines of =", "", |_| "========\n".into()),
    ("lines of blanks", "", |_| "        \n".into()),
    ("dash groups", "", |_| "---  ----\n".into()),
    ("pipe separators", "", |_| "|---|---|\n".into()),
    ("a header over -", "Tag  Type  Bytes\n", |_| {
        "-----\n".into()
    }),
    ("a header over .", "Tag Bytes\n", |_| ". . .\n".into()),
    ("a sentence per tag", "", |i| {
        format!("- {}: {} MB\n", tag(i), i + 1)
    }),
    (
        "rows of a table",
        " Tag Type Allocs Frees Diff Bytes\n",
        |i| format!("{} Nonp 10 5 5 {}\n", tag(i), 64 * (i + 1)),
    ),
    ("one huge line", "", |_| "Abcd 12 - . | = ".into()),
    ("one huge line of -", "", |_| "- - - - ".into()),
];

/// A shape's input: its first line and `n` units after it.
fn hostile_input(&(_, first, unit): &Shape, n: usize) -> String {
    let mut text = first.to_owned();
    text.extend((0..n).map(unit));
    text
}

/// Tables of very many columns, by the separator between cells.
const WIDE: [(&str, &str); 3] = [(" ", "spaces"), (",", "commas"), ("\t", "tabs")];

/// A reader's name and a call of it on some bytes.
type Reader = (String, Box<dyn Fn(&[u8])>);

/// Each reader: auto-detection, every forced format, and the driver-list reader.
fn readers() -> Vec<Reader> {
    let mut out: Vec<Reader> = vec![(
        "detected".into(),
        Box::new(|b: &[u8]| {
            let _ = parse_snapshots(b, &ParseOptions::default());
        }),
    )];
    let mut seen: Vec<SnapshotFormat> = Vec::new();
    for name in FORMATS_UNDERSTOOD {
        let format: SnapshotFormat = name.parse().unwrap();
        if seen.contains(&format) {
            continue;
        }
        seen.push(format);
        out.push((
            format!("forced {format}"),
            Box::new(move |b: &[u8]| {
                let options = ParseOptions {
                    format: Some(format),
                    ..ParseOptions::default()
                };
                let _ = parse_snapshots(b, &options);
            }),
        ));
    }
    out.push((
        "driver list".into(),
        Box::new(|b: &[u8]| {
            let _ = parse_driver_list(b);
        }),
    ));
    out
}

#[test]
fn every_reader_is_linear_in_hostile_inputs() {
    let readers = readers();
    let mut failures = Vec::new();
    let mut inputs: Vec<(String, String, String)> = SHAPES
        .iter()
        .map(|shape| {
            let (small, large) = (hostile_input(shape, SIZES.0), hostile_input(shape, SIZES.1));
            (shape.0.to_owned(), small, large)
        })
        .collect();
    inputs.extend(WIDE.iter().map(|(sep, name)| {
        let columns = format!("very many columns, {name}");
        (columns, wide(SIZES.0, sep), wide(SIZES.1, sep))
    }));
    for (shape, small, large) in &inputs {
        for (reader, read) in &readers {
            // Noise only ever makes a run slower, which can raise a ratio: a pair that looks
            // too steep is measured again, and its gentlest measure counts. A quadratic path
            // stays steep in every attempt.
            let mut measures = Vec::new();
            for _attempt in 0..3 {
                let small_cost = cost(&|| read(small.as_bytes()), RUNS).max(FLOOR_NS);
                let large_cost = cost(&|| read(large.as_bytes()), RUNS);
                measures.push((small_cost, large_cost));
                if large_cost as f64 / small_cost as f64 <= MAX_RATIO {
                    break;
                }
            }
            let (small_cost, large_cost) = measures
                .into_iter()
                .min_by(|a, b| (a.1 * b.0).cmp(&(b.1 * a.0)))
                .unwrap();
            let ratio = large_cost as f64 / small_cost as f64;
            println!(
                "{shape:<30} {reader:<20} {:>9} µs -> {:>10} µs  x{ratio:.1}",
                small_cost / 1000,
                large_cost / 1000
            );
            if ratio > MAX_RATIO {
                failures.push(format!(
                    "{shape} read by {reader}: {} bytes cost {} µs, {} bytes {} µs (x{ratio:.1})",
                    small.len(),
                    small_cost / 1000,
                    large.len(),
                    large_cost / 1000
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "cost grew more than {MAX_RATIO}x for {}x the input:\n{}",
        SIZES.1 / SIZES.0,
        failures.join("\n")
    );
}
