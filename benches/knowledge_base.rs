//! Knowledge-base benchmark: list import time, and tag-lookup / search latency and throughput over
//! HTTP against the release server.
//!
//! Run with `cargo bench --bench knowledge_base` (or `scripts/bench.sh`). It prints a Markdown
//! table with each figure next to its target.
//!
//! * Import: the real `pooltag.txt` from the shared corpus (`../shared/corpus/pooltag/`; when it
//!   is absent a synthetic list of the same size is used, and the table says so) into a fresh
//!   index, through the library (`poolsleuth::import::import_list`) and through
//!   `POST /api/v1/lists` of a freshly started server.
//! * Load: the release `poolsleuth serve` binary that cargo built for this bench runs as its own
//!   process with the full list plus 100,000 synthetic CSV entries imported. The load generator is
//!   `wrk` (another process) with a Lua script that picks a random path per request from a file;
//!   without `wrk` a tokio + reqwest closed-loop generator in this process is used instead, and the
//!   table is labelled accordingly.
//!
//! Knobs (environment): `BENCH_DURATION` seconds per measured run (10), `BENCH_CONNECTIONS`
//! (16), `BENCH_SYNTHETIC` entries (100000), `BENCH_IMPORT_RUNS` (5), `BENCH_LOADGEN`
//! (`wrk` or `reqwest`, default: `wrk` when installed), `BENCH_LOG_LEVEL` (the server's
//! `--log-level`; default: the server's own default, `info`, one log line per request),
//! `BENCH_PERF_DIR` (record a `perf` profile of the server during each measured run there).

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use poolsleuth::import::{ListSource, import_list};
use poolsleuth::index::SearchIndex;
use poolsleuth::pooltag_list::parse_list;
use poolsleuth::vendor::VendorDirectory;
use serde_json::Value;
use support::{ADMIN_TOKEN, Rng, SERVER_BIN, Server};

mod support;

const TAG_RPS_TARGET: f64 = 15_000.0;
const TAG_P99_TARGET_MS: f64 = 5.0;
const SEARCH_P99_TARGET_MS: f64 = 20.0;

const WRK_SCRIPT: &str = r#"-- Picks a random path from the file given after `--` for every request.
local paths = {}

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then paths[#paths + 1] = line end
  end
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end

function request()
  return wrk.format("GET", paths[math.random(#paths)])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%.0f,"duration_us":%.0f,"p50_us":%.0f,"p90_us":%.0f,"p99_us":%.0f,"p999_us":%.0f,"max_us":%.0f,"mean_us":%.1f,"connect_errors":%.0f,"read_errors":%.0f,"write_errors":%.0f,"status_errors":%.0f,"timeouts":%.0f}\n',
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout))
end
"#;

fn main() {
    let settings = Settings::from_env();
    let work = tempfile::tempdir().expect("a temporary directory");
    let machine = Machine::probe();
    eprintln!(
        "knowledge_base bench: {} CPUs ({}), load average {}",
        machine.nproc, machine.cpu_model, machine.loadavg
    );

    let corpus = Corpus::load();
    eprintln!(
        "list: {} ({} bytes, {} entries)",
        corpus.label,
        corpus.bytes.len(),
        corpus.entries.len()
    );

    let mut report = Report::default();

    // (a) Import of the full list into a fresh index, through the library.
    let library_runs: Vec<Duration> = (0..settings.import_runs)
        .map(|run| {
            let dir = work.path().join(format!("library-{run}"));
            let index = SearchIndex::open(&dir).expect("open a fresh index");
            let vendors = VendorDirectory::embedded();
            let started = Instant::now();
            let imported = import_list(&index, &vendors, &list_source("pooltag"), &corpus.bytes)
                .expect("import the list");
            let took = started.elapsed();
            assert_eq!(imported.imported as usize, corpus.entries.len());
            took
        })
        .collect();
    report.row(
        format!(
            "Import {} ({} entries) into a fresh index, library `import_list`",
            corpus.label,
            corpus.entries.len()
        ),
        describe_runs(&library_runs),
        "—".into(),
        None,
    );

    // (a) The same over HTTP, each run against a freshly started server (seeded default only).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(300))
        .build()
        .unwrap();
    let mut http_runs = Vec::new();
    for run in 0..settings.import_runs {
        let server = Server::start(&work.path().join(format!("http-import-{run}")));
        let (took, body) = runtime.block_on(post_list(
            &http,
            &server.base,
            "pooltag",
            corpus.bytes.clone(),
        ));
        assert_eq!(body["imported"].as_u64(), Some(corpus.entries.len() as u64));
        http_runs.push(took);
    }
    report.row(
        format!(
            "Import {} over HTTP (`POST /api/v1/lists`), fresh server",
            corpus.label
        ),
        describe_runs(&http_runs),
        "—".into(),
        None,
    );

    // (b) The load-test server: the full list plus synthetic entries.
    let server = Server::start(&work.path().join("load"));
    let (took, body) = runtime.block_on(post_list(
        &http,
        &server.base,
        "pooltag",
        corpus.bytes.clone(),
    ));
    assert_eq!(body["imported"].as_u64(), Some(corpus.entries.len() as u64));
    eprintln!("load server: imported the list in {took:.2?}");
    let synthetic = Synthetic::generate(settings.synthetic, 0x5eed_2026);
    let (took, body) = runtime.block_on(post_list(
        &http,
        &server.base,
        "synthetic",
        synthetic.csv.clone().into_bytes(),
    ));
    assert_eq!(body["imported"].as_u64(), Some(settings.synthetic as u64));
    report.row(
        format!(
            "Import {} synthetic CSV entries over HTTP (on top of the list)",
            settings.synthetic
        ),
        format!("{:.0} ms", ms(took)),
        "—".into(),
        None,
    );
    let (status, ready) = runtime.block_on(get_json(&http, &format!("{}/readyz", server.base)));
    assert_eq!(status, 200, "readyz: {ready}");
    let total_entries = ready["index"]["entries"].as_u64().unwrap_or(0);
    eprintln!("load server: {total_entries} entries in the knowledge base");

    let workloads = Workloads::build(&corpus, &synthetic, 0xbe_4c4);
    let mut checked = Vec::new();
    for (name, paths) in workloads.all() {
        let (ok, dropped) = runtime.block_on(check_paths(&http, &server.base, paths));
        if !dropped.is_empty() {
            eprintln!(
                "{name}: {} of {} paths do not answer 200 and are left out (e.g. {:?})",
                dropped.len(),
                paths.len(),
                &dropped[..dropped.len().min(3)]
            );
        }
        checked.push((name, ok));
    }
    let paths_of = |wanted: &str| -> &Vec<String> {
        &checked
            .iter()
            .find(|(name, _)| *name == wanted)
            .expect("a workload")
            .1
    };

    let loadgen = LoadGen::choose(&settings);
    let clk_tck = clock_ticks_per_second();
    let perf_dir = std::env::var_os("BENCH_PERF_DIR").map(PathBuf::from);
    let run = |name: &str, paths: &[String], connections: usize, duration: Duration| {
        let slug = format!("{}-c{connections}", name.replace(' ', "-"));
        let file = work.path().join(format!("paths-{slug}.txt"));
        fs::write(&file, paths.join("\n")).unwrap();
        // Warm-up (page cache, allocator, connection setup), not reported.
        loadgen.run(
            &runtime,
            &server.base,
            &file,
            paths,
            connections,
            Duration::from_secs(2),
        );
        let perf = perf_dir
            .as_deref()
            .map(|dir| Perf::record(dir, &slug, server.pid()));
        let before = CpuSnapshot::take(server.pid());
        let result = loadgen.run(&runtime, &server.base, &file, paths, connections, duration);
        let cpu = CpuSnapshot::take(server.pid()).since(&before, clk_tck, result.requests);
        drop(perf);
        eprintln!(
            "{name} (c={connections}): {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, {} errors; CPU per request: server {:.0} µs, load generator {:.0} µs; other processes used {:.0}% of the machine",
            result.rps(),
            result.p50_ms,
            result.p99_ms,
            result.max_ms,
            result.errors,
            cpu.server_us,
            cpu.loadgen_us,
            cpu.others_share * 100.0
        );
        (result, cpu)
    };

    let c = settings.connections;
    let d = settings.duration;
    let short = Duration::from_secs((settings.duration.as_secs() / 2).max(3));

    let (tags, tags_cpu) = run("tag lookup", paths_of("tag lookup"), c, d);
    report.row(
        format!("Tag lookup `GET /api/v1/tags/{{tag}}` throughput, {c} connections"),
        format!("{:.0} req/s", tags.rps()),
        format!("≥ {TAG_RPS_TARGET:.0} req/s"),
        Some(tags.rps() >= TAG_RPS_TARGET && tags.errors == 0),
    );
    report.row(
        format!("Tag lookup latency p50 / p99, {c} connections"),
        format!("{:.2} ms / {:.2} ms", tags.p50_ms, tags.p99_ms),
        format!("p99 < {TAG_P99_TARGET_MS} ms"),
        Some(tags.p99_ms < TAG_P99_TARGET_MS),
    );
    let (search, search_cpu) = run("search mix", paths_of("search mix"), c, d);
    report.row(
        format!("Search `GET /api/v1/search?q=` (mix) throughput, {c} connections"),
        format!("{:.0} req/s", search.rps()),
        "—".into(),
        None,
    );
    report.row(
        format!("Search (mix) latency p50 / p99, {c} connections"),
        format!("{:.2} ms / {:.2} ms", search.p50_ms, search.p99_ms),
        format!("p99 < {SEARCH_P99_TARGET_MS} ms"),
        Some(search.p99_ms < SEARCH_P99_TARGET_MS && search.errors == 0),
    );
    let budget_us = machine.nproc as f64 * 1e6 / TAG_RPS_TARGET;
    report.row(
        "CPU per tag lookup (server process + load generator, user+sys / requests)".into(),
        format!(
            "{:.0} µs + {:.0} µs (other processes used {:.0}% of the machine meanwhile)",
            tags_cpu.server_us,
            tags_cpu.loadgen_us,
            tags_cpu.others_share * 100.0
        ),
        format!(
            "≤ {budget_us:.0} µs together for {TAG_RPS_TARGET:.0} req/s on {} CPUs",
            machine.nproc
        ),
        Some(tags_cpu.server_us + tags_cpu.loadgen_us <= budget_us),
    );
    report.row(
        "CPU per search (server process + load generator)".into(),
        format!(
            "{:.0} µs + {:.0} µs (other processes {:.0}%)",
            search_cpu.server_us,
            search_cpu.loadgen_us,
            search_cpu.others_share * 100.0
        ),
        "—".into(),
        None,
    );
    let mut detail = Report::default();
    for kind in [
        "search exact tag",
        "search pattern",
        "search driver",
        "search words",
    ] {
        let (result, cpu) = run(kind, paths_of(kind), c, short);
        detail.row(
            format!("{kind}, {c} connections"),
            summary(&result, &cpu),
            format!("p99 < {SEARCH_P99_TARGET_MS} ms"),
            Some(result.p99_ms < SEARCH_P99_TARGET_MS && result.errors == 0),
        );
    }
    for (name, workload) in [("tag lookup", "tag lookup"), ("search mix", "search mix")] {
        let (result, cpu) = run(name, paths_of(workload), 1, short);
        detail.row(
            format!("{name}, 1 connection (service time without queueing)"),
            summary(&result, &cpu),
            "—".into(),
            None,
        );
    }
    // The floor of the HTTP stack (TCP, hyper, the middleware, JSON of a tiny body) with no
    // index work and no blocking-pool hop: what any endpoint costs at least.
    let healthz = vec!["/healthz".to_owned()];
    let (result, cpu) = run("healthz baseline", &healthz, c, short);
    detail.row(
        format!("Baseline `GET /healthz` (no index work, no blocking pool), {c} connections"),
        summary(&result, &cpu),
        "—".into(),
        None,
    );
    drop(server);

    let mut out = String::new();
    writeln!(out, "\n## poolsleuth knowledge-base benchmark\n").unwrap();
    writeln!(
        out,
        "- Machine: {} CPUs, {} (load average at start: {})",
        machine.nproc, machine.cpu_model, machine.loadavg
    )
    .unwrap();
    writeln!(
        out,
        "- Command: `cargo bench --bench knowledge_base` (release profile)"
    )
    .unwrap();
    writeln!(
        out,
        "- Server: `{} serve{}` (release build, its own process, default tokio runtime, log output to a file), knowledge base {total_entries} entries ({} from {}, {} synthetic, the rest the embedded default)",
        display_bin(),
        std::env::var("BENCH_LOG_LEVEL")
            .map(|level| format!(" --log-level {level}"))
            .unwrap_or_default(),
        corpus.entries.len(),
        corpus.label,
        settings.synthetic
    )
    .unwrap();
    writeln!(out, "- Load generator: {}", loadgen.describe(c, d)).unwrap();
    writeln!(
        out,
        "- Paths: {} tag lookups (real and synthetic tags), search mix of {} queries (exact tags, patterns such as `Ntf*`, driver names, description words), each checked to answer 200 first",
        paths_of("tag lookup").len(),
        paths_of("search mix").len()
    )
    .unwrap();
    writeln!(
        out,
        "- Load generator and server share the same {} CPUs.\n",
        machine.nproc
    )
    .unwrap();
    out.push_str(&report.markdown());
    writeln!(out, "\nBreakdown:\n").unwrap();
    out.push_str(&detail.markdown());
    println!("{out}");
}

struct Settings {
    duration: Duration,
    connections: usize,
    synthetic: usize,
    import_runs: usize,
    loadgen: Option<String>,
}

impl Settings {
    fn from_env() -> Self {
        let number = |name: &str, default: usize| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse::<usize>().ok())
                .filter(|&v| v > 0)
                .unwrap_or(default)
        };
        Self {
            duration: Duration::from_secs(number("BENCH_DURATION", 10) as u64),
            connections: number("BENCH_CONNECTIONS", 16),
            synthetic: number("BENCH_SYNTHETIC", 100_000),
            import_runs: number("BENCH_IMPORT_RUNS", 5),
            loadgen: std::env::var("BENCH_LOADGEN").ok(),
        }
    }
}

struct Machine {
    nproc: usize,
    cpu_model: String,
    loadavg: String,
}

impl Machine {
    fn probe() -> Self {
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|rest| rest.split_once(':'))
            .map_or("unknown CPU".to_owned(), |(_, model)| {
                model.trim().to_owned()
            });
        let loadavg = fs::read_to_string("/proc/loadavg")
            .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|_| "unknown".into());
        Self {
            nproc: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model,
            loadavg,
        }
    }
}

fn display_bin() -> String {
    let path = Path::new(SERVER_BIN);
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    path.strip_prefix(manifest)
        .map_or_else(|_| path.display().to_string(), |p| p.display().to_string())
}

/// The list to import: the real `pooltag.txt`, or a synthetic stand-in of the same size.
struct Corpus {
    label: String,
    bytes: Vec<u8>,
    /// (tag as written in the index, driver, description) of every parsed entry.
    entries: Vec<(String, Option<String>, String)>,
}

impl Corpus {
    fn load() -> Self {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/pooltag/pooltag.txt");
        let (label, bytes) = match fs::read(&path) {
            Ok(bytes) => ("the real pooltag.txt".to_owned(), bytes),
            Err(error) => {
                eprintln!(
                    "skipped the real list: {} is not readable ({error}); using a synthetic pooltag.txt of the same size (5,098 lines) instead",
                    path.display()
                );
                (
                    "a synthetic pooltag.txt (real list absent)".to_owned(),
                    synthetic_pooltag_txt(5_098),
                )
            }
        };
        let parsed = parse_list(&bytes, None).expect("a parsable list");
        let entries = parsed
            .entries
            .iter()
            .map(|e| {
                (
                    e.tag.to_string(),
                    e.owner.driver.clone(),
                    e.description.clone(),
                )
            })
            .collect();
        Self {
            label,
            bytes,
            entries,
        }
    }
}

fn list_source(name: &str) -> ListSource {
    ListSource {
        name: name.into(),
        version: None,
        origin: None,
        format: None,
    }
}

const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "net", "ra", "vi", "sto", "pel", "dor", "zu", "qua", "fen", "tri", "mon",
    "sa", "ber", "lin", "go", "hex", "pra", "cul", "te", "ny", "ox", "vel", "dri", "an", "col",
    "sin", "ur", "mak", "tho",
];

const REAL_WORDS: &[&str] = &[
    "memory",
    "buffer",
    "driver",
    "file",
    "system",
    "network",
    "packet",
    "context",
    "object",
    "allocation",
    "cache",
    "device",
    "filter",
    "queue",
    "request",
    "table",
    "entry",
    "thread",
    "storage",
    "volume",
    "security",
    "registry",
    "handle",
    "stream",
    "event",
    "timer",
    "power",
    "display",
    "audio",
    "usb",
];

fn word(rng: &mut Rng, syllables: usize) -> String {
    (0..syllables).map(|_| *rng.pick(SYLLABLES)).collect()
}

/// The synthetic CSV list and the values it holds, for building queries.
struct Synthetic {
    csv: String,
    tags: Vec<String>,
    drivers: Vec<String>,
    vocabulary: Vec<String>,
}

impl Synthetic {
    fn generate(entries: usize, seed: u64) -> Self {
        let mut rng = Rng(seed);
        let mut vocabulary: Vec<String> = REAL_WORDS.iter().map(|w| (*w).to_owned()).collect();
        while vocabulary.len() < 2_000 {
            let syllables = 2 + rng.below(3);
            vocabulary.push(word(&mut rng, syllables));
        }
        let drivers: Vec<String> = (0..5_000)
            .map(|_| {
                let syllables = 2 + rng.below(3);
                format!("{}.sys", word(&mut rng, syllables))
            })
            .collect();
        let vendors: Vec<String> = (0..300)
            .map(|_| {
                let syllables = 2 + rng.below(2);
                let mut name = word(&mut rng, syllables);
                name[..1].make_ascii_uppercase();
                format!(
                    "{name} {}",
                    rng.pick(&["Corp", "Inc", "Systems", "GmbH", "Ltd"])
                )
            })
            .collect();
        const TAG_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let mut csv = String::with_capacity(entries * 90);
        csv.push_str("tag,driver,description,vendor\n");
        let mut tags = Vec::with_capacity(entries);
        for _ in 0..entries {
            let tag: String = (0..4).map(|_| char::from(*rng.pick(TAG_CHARS))).collect();
            let driver = &drivers[rng.skewed(drivers.len())];
            let words = 5 + rng.below(8);
            let description: Vec<&str> = (0..words)
                .map(|_| vocabulary[rng.skewed(vocabulary.len())].as_str())
                .collect();
            let vendor = &vendors[rng.skewed(vendors.len())];
            writeln!(csv, "{tag},{driver},{},{vendor}", description.join(" ")).unwrap();
            tags.push(tag);
        }
        Self {
            csv,
            tags,
            drivers,
            vocabulary,
        }
    }
}

/// A `pooltag.txt`-format stand-in for the real list when the corpus is absent.
fn synthetic_pooltag_txt(lines: usize) -> Vec<u8> {
    let mut rng = Rng(0x9001);
    let mut out = String::from("rem\r\nrem    Pooltag.txt (synthetic stand-in)\r\nrem\r\n\r\n");
    for _ in 0..lines {
        let tag: String = (0..4)
            .map(|_| char::from(b'A' + rng.below(26) as u8))
            .collect();
        let syllables = 2 + rng.below(2);
        let driver = format!("{}.sys", word(&mut rng, syllables));
        let words: Vec<&str> = (0..4 + rng.below(6))
            .map(|_| *rng.pick(REAL_WORDS))
            .collect();
        writeln!(out, "{tag} - {driver:<12} - {}\r", words.join(" ")).unwrap();
    }
    out.into_bytes()
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            write!(out, "%{byte:02X}").unwrap();
        }
    }
    out
}

struct Workloads {
    tags: Vec<String>,
    exact: Vec<String>,
    pattern: Vec<String>,
    driver: Vec<String>,
    words: Vec<String>,
    mix: Vec<String>,
}

impl Workloads {
    fn build(corpus: &Corpus, synthetic: &Synthetic, seed: u64) -> Self {
        let mut rng = Rng(seed);
        let real_tags: Vec<&str> = corpus.entries.iter().map(|(t, _, _)| t.as_str()).collect();
        let any_tag = |rng: &mut Rng| -> String {
            if rng.below(2) == 0 {
                (*rng.pick(&real_tags)).to_owned()
            } else {
                rng.pick(&synthetic.tags).clone()
            }
        };
        let tags = (0..4_000)
            .map(|_| format!("/api/v1/tags/{}", encode(&any_tag(&mut rng))))
            .collect();
        let search = |q: &str| format!("/api/v1/search?q={}", encode(q));
        let exact = (0..500).map(|_| search(&any_tag(&mut rng))).collect();
        let mut pattern: Vec<String> = ["Ntf*", "Mm*", "Cc*", "Io*", "?kaL", "Afd?", "Ob*"]
            .iter()
            .map(|q| search(q))
            .collect();
        while pattern.len() < 500 {
            let tag = any_tag(&mut rng);
            let tag = tag.trim_end();
            let chars: Vec<char> = tag.chars().collect();
            if chars.len() < 3 || !chars.iter().all(char::is_ascii_alphanumeric) {
                continue;
            }
            let q: String = match rng.below(3) {
                0 => chars[..2].iter().chain(['*'].iter()).collect(),
                1 => chars[..3].iter().chain(['*'].iter()).collect(),
                _ => chars[..chars.len() - 1]
                    .iter()
                    .chain(['?'].iter())
                    .collect(),
            };
            pattern.push(search(&q));
        }
        let real_drivers: Vec<&str> = corpus
            .entries
            .iter()
            .filter_map(|(_, d, _)| d.as_deref())
            .collect();
        let driver = (0..500)
            .map(|_| {
                let name = if rng.below(2) == 0 && !real_drivers.is_empty() {
                    (*rng.pick(&real_drivers)).to_owned()
                } else {
                    rng.pick(&synthetic.drivers).clone()
                };
                // Half by file name (`ntfs.sys`), half by stem (`ntfs`).
                if rng.below(2) == 0 {
                    search(&name)
                } else {
                    search(
                        name.rsplit_once('.')
                            .map_or(name.as_str(), |(stem, _)| stem),
                    )
                }
            })
            .collect();
        let real_words: Vec<&str> = corpus
            .entries
            .iter()
            .flat_map(|(_, _, d)| d.split_whitespace())
            .filter(|w| w.len() >= 4 && w.chars().all(|c| c.is_ascii_alphabetic()))
            .collect();
        let words = (0..500)
            .map(|_| {
                let count = 1 + rng.below(2);
                let q: Vec<String> = (0..count)
                    .map(|_| {
                        if rng.below(2) == 0 && !real_words.is_empty() {
                            rng.pick(&real_words).to_ascii_lowercase()
                        } else {
                            synthetic.vocabulary[rng.skewed(synthetic.vocabulary.len())].clone()
                        }
                    })
                    .collect();
                search(&q.join(" "))
            })
            .collect();
        let mut workloads = Self {
            tags,
            exact,
            pattern,
            driver,
            words,
            mix: Vec::new(),
        };
        workloads.mix = [
            &workloads.exact,
            &workloads.pattern,
            &workloads.driver,
            &workloads.words,
        ]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
        workloads
    }

    fn all(&self) -> [(&'static str, &Vec<String>); 6] {
        [
            ("tag lookup", &self.tags),
            ("search mix", &self.mix),
            ("search exact tag", &self.exact),
            ("search pattern", &self.pattern),
            ("search driver", &self.driver),
            ("search words", &self.words),
        ]
    }
}

/// Requests every path once and keeps those answering 200 (this also warms the server up).
async fn check_paths(
    http: &reqwest::Client,
    base: &str,
    paths: &[String],
) -> (Vec<String>, Vec<String>) {
    let mut ok = Vec::new();
    let mut dropped = Vec::new();
    for path in paths {
        let status = http
            .get(format!("{base}{path}"))
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0);
        if status == 200 {
            ok.push(path.clone());
        } else {
            dropped.push(format!("{path} → {status}"));
        }
    }
    (ok, dropped)
}

async fn post_list(
    http: &reqwest::Client,
    base: &str,
    name: &str,
    body: Vec<u8>,
) -> (Duration, Value) {
    let started = Instant::now();
    let response = http
        .post(format!("{base}/api/v1/lists"))
        .query(&[("name", name)])
        .bearer_auth(ADMIN_TOKEN)
        .body(body)
        .send()
        .await
        .expect("the import request");
    let status = response.status();
    let body: Value = response.json().await.expect("an import report");
    let took = started.elapsed();
    assert!(
        status.is_success(),
        "import of {name} failed: {status} {body}"
    );
    (took, body)
}

async fn get_json(http: &reqwest::Client, url: &str) -> (u16, Value) {
    let response = http.get(url).send().await.expect("a response");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `poolsleuth serve` (the release binary) as a child process on a free port.
fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

#[derive(Debug, Default)]
struct LoadResult {
    requests: u64,
    seconds: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    errors: u64,
}

impl LoadResult {
    fn rps(&self) -> f64 {
        self.requests as f64 / self.seconds
    }
}

enum LoadGen {
    Wrk { script: PathBuf },
    Reqwest { reason: String },
}

impl LoadGen {
    fn choose(settings: &Settings) -> Self {
        let wrk_found = Command::new("wrk")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
        match settings.loadgen.as_deref() {
            Some("reqwest") => Self::Reqwest {
                reason: "BENCH_LOADGEN=reqwest".into(),
            },
            _ if !wrk_found => {
                eprintln!(
                    "wrk is not installed (Debian: apt-get install wrk); FALLING BACK to the in-process tokio+reqwest load generator"
                );
                Self::Reqwest {
                    reason: "wrk not installed".into(),
                }
            }
            _ => {
                let script = std::env::temp_dir().join(format!(
                    "poolsleuth-bench-{}-random-paths.lua",
                    std::process::id()
                ));
                fs::write(&script, WRK_SCRIPT).unwrap();
                Self::Wrk { script }
            }
        }
    }

    fn describe(&self, connections: usize, duration: Duration) -> String {
        match self {
            Self::Wrk { .. } => format!(
                "`wrk -t1 -c{connections} -d{}s --timeout 5s --latency -s random-paths.lua URL -- PATHS_FILE` (separate process; one thread, so the server keeps most of the CPUs; each run after a 2 s warm-up)",
                duration.as_secs()
            ),
            Self::Reqwest { reason } => format!(
                "FALLBACK ({reason}): tokio + reqwest closed loop, {connections} connections on one runtime thread in the bench process (the server is still its own process); latencies include the generator's own overhead, so wrk figures are more trustworthy"
            ),
        }
    }

    fn run(
        &self,
        runtime: &tokio::runtime::Runtime,
        base: &str,
        file: &Path,
        paths: &[String],
        connections: usize,
        duration: Duration,
    ) -> LoadResult {
        match self {
            Self::Wrk { script } => run_wrk(script, base, file, connections, duration),
            Self::Reqwest { .. } => runtime.block_on(run_reqwest(
                base,
                Arc::new(paths.to_vec()),
                connections,
                duration,
            )),
        }
    }
}

fn run_wrk(
    script: &Path,
    base: &str,
    paths_file: &Path,
    connections: usize,
    duration: Duration,
) -> LoadResult {
    let output = Command::new("wrk")
        .arg("-t1")
        .arg(format!("-c{connections}"))
        .arg(format!("-d{}s", duration.as_secs()))
        .args(["--timeout", "5s", "--latency", "-s"])
        .arg(script)
        .arg(base)
        .arg("--")
        .arg(paths_file)
        .output()
        .expect("run wrk");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("BENCH "))
        .unwrap_or_else(|| {
            panic!(
                "wrk printed no summary: {stdout}\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
    let v: Value = serde_json::from_str(line).expect("wrk's summary line");
    let n = |key: &str| v[key].as_f64().unwrap_or(0.0);
    LoadResult {
        requests: n("requests") as u64,
        seconds: n("duration_us") / 1e6,
        p50_ms: n("p50_us") / 1e3,
        p99_ms: n("p99_us") / 1e3,
        max_ms: n("max_us") / 1e3,
        errors: (n("connect_errors")
            + n("read_errors")
            + n("write_errors")
            + n("status_errors")
            + n("timeouts")) as u64,
    }
}

async fn run_reqwest(
    base: &str,
    paths: Arc<Vec<String>>,
    connections: usize,
    duration: Duration,
) -> LoadResult {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = (0..connections)
        .map(|worker| {
            let client = client.clone();
            let paths = paths.clone();
            let base = base.to_owned();
            tokio::spawn(async move {
                let mut rng = Rng(0x1234 + worker as u64);
                let mut latencies = Vec::new();
                let mut errors = 0u64;
                while Instant::now() < deadline {
                    let url = format!("{base}{}", rng.pick(&paths));
                    let sent = Instant::now();
                    let ok = match client.get(&url).send().await {
                        Ok(response) => {
                            let status = response.status();
                            response.bytes().await.is_ok() && status.is_success()
                        }
                        Err(_) => false,
                    };
                    latencies.push(sent.elapsed().as_micros() as u64);
                    if !ok {
                        errors += 1;
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (mut l, e) = task.await.unwrap();
        latencies.append(&mut l);
        errors += e;
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let percentile = |p: f64| -> f64 {
        if latencies.is_empty() {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * latencies.len() as f64).ceil() as usize;
        latencies[rank.clamp(1, latencies.len()) - 1] as f64 / 1e3
    };
    LoadResult {
        requests: latencies.len() as u64,
        seconds,
        p50_ms: percentile(50.0),
        p99_ms: percentile(99.0),
        max_ms: latencies.last().map_or(f64::NAN, |&m| m as f64 / 1e3),
        errors,
    }
}

fn summary(result: &LoadResult, cpu: &CpuUse) -> String {
    format!(
        "{:.0} req/s, p50 {:.2} ms, p99 {:.2} ms; CPU/req: server {:.0} µs, load generator {:.0} µs; others {:.0}%",
        result.rps(),
        result.p50_ms,
        result.p99_ms,
        cpu.server_us,
        cpu.loadgen_us,
        cpu.others_share * 100.0
    )
}

/// CPU time counters around one measured run.
struct CpuSnapshot {
    server: u64,
    /// This process and its waited-for children (wrk), i.e. the load generator.
    loadgen: u64,
    machine_busy: u64,
    machine_total: u64,
}

/// CPU used during one run, per request, and the share other processes took.
struct CpuUse {
    server_us: f64,
    loadgen_us: f64,
    /// Of the whole machine's CPU time during the run, the part used by neither the server nor
    /// the load generator (other builds and tests on a shared machine).
    others_share: f64,
}

impl CpuSnapshot {
    fn take(server_pid: u32) -> Self {
        let own = proc_stat_fields(&format!("/proc/{}/stat", std::process::id()));
        let server = proc_stat_fields(&format!("/proc/{server_pid}/stat"));
        // utime, stime, cutime, cstime are fields 14 to 17.
        let loadgen = own.get(14..18).map_or(0, |f| f.iter().sum());
        let server = server.get(14..16).map_or(0, |f| f.iter().sum());
        let stat = fs::read_to_string("/proc/stat").unwrap_or_default();
        let cpu: Vec<u64> = stat
            .lines()
            .next()
            .unwrap_or("")
            .split_whitespace()
            .skip(1)
            .filter_map(|v| v.parse().ok())
            .collect();
        let at = |i: usize| cpu.get(i).copied().unwrap_or(0);
        // user nice system idle iowait irq softirq steal
        let machine_busy = at(0) + at(1) + at(2) + at(5) + at(6) + at(7);
        Self {
            server,
            loadgen,
            machine_busy,
            machine_total: machine_busy + at(3) + at(4),
        }
    }

    fn since(&self, before: &Self, clk_tck: f64, requests: u64) -> CpuUse {
        let per_request = |ticks: u64| {
            if requests == 0 {
                f64::NAN
            } else {
                ticks as f64 * 1e6 / clk_tck / requests as f64
            }
        };
        let server = self.server.saturating_sub(before.server);
        let loadgen = self.loadgen.saturating_sub(before.loadgen);
        let busy = self.machine_busy.saturating_sub(before.machine_busy);
        let total = self
            .machine_total
            .saturating_sub(before.machine_total)
            .max(1);
        CpuUse {
            server_us: per_request(server),
            loadgen_us: per_request(loadgen),
            others_share: busy.saturating_sub(server + loadgen) as f64 / total as f64,
        }
    }
}

/// The numeric fields of a `/proc/PID/stat` line, indexed by their 1-based field number.
fn proc_stat_fields(path: &str) -> Vec<u64> {
    let stat = fs::read_to_string(path).unwrap_or_default();
    // The command name (field 2) is in parentheses and may hold blanks.
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let mut fields = vec![0, 0, 0]; // fields 0 (unused), 1 (pid), 2 (comm)
    fields.extend(
        rest.split_whitespace()
            .map(|v| v.parse::<u64>().unwrap_or(0)),
    );
    fields
}

/// `perf record` of the server during one run (`BENCH_PERF_DIR`), stopped on drop.
struct Perf(Option<Child>);

impl Perf {
    fn record(dir: &Path, name: &str, pid: u32) -> Self {
        fs::create_dir_all(dir).unwrap();
        let child = Command::new("perf")
            .args([
                "record",
                "-e",
                "cpu-clock",
                "-F",
                "499",
                "--call-graph",
                "dwarf,16384",
            ])
            .arg("-p")
            .arg(pid.to_string())
            .arg("-o")
            .arg(dir.join(format!("{name}.perf.data")))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        match child {
            Ok(child) => {
                // perf needs a moment to attach before the run starts.
                std::thread::sleep(Duration::from_millis(300));
                Self(Some(child))
            }
            Err(error) => {
                eprintln!("BENCH_PERF_DIR is set but perf does not start: {error}");
                Self(None)
            }
        }
    }
}

impl Drop for Perf {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn describe_runs(runs: &[Duration]) -> String {
    let mut sorted: Vec<f64> = runs.iter().map(|d| ms(*d)).collect();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    format!(
        "median {median:.0} ms (min {:.0}, max {:.0}; {} runs)",
        sorted[0],
        sorted[sorted.len() - 1],
        sorted.len()
    )
}

#[derive(Default)]
struct Report {
    rows: Vec<(String, String, String, Option<bool>)>,
}

impl Report {
    fn row(&mut self, what: String, figure: String, target: String, met: Option<bool>) {
        self.rows.push((what, figure, target, met));
    }

    fn markdown(&self) -> String {
        let mut out =
            String::from("| Measure | Figure | Target | Met |\n| --- | --- | --- | --- |\n");
        for (what, figure, target, met) in &self.rows {
            let met = match met {
                Some(true) => "yes",
                Some(false) => "**NO**",
                None => "",
            };
            writeln!(out, "| {what} | {figure} | {target} | {met} |").unwrap();
        }
        out
    }
}
