//! Fleet watch benchmark: the release `poolsleuth serve` in its own process on a fresh data
//! dir, a synthetic fleet (`poolsleuth fleet simulate`'s hosts: 300-tag poolmon screens and
//! driver lists) sent through fleet ingest by the same sender, and side by side with it
//! `POST /api/v1/analyze` of the same screens; then, with the fleet stored, the latency of
//! `GET /hosts` and `GET /api/v1/fleet`, and the data dir's growth per host-day.
//!
//! Run with `cargo bench --bench fleet`. Knobs: `BENCH_HOSTS` (1000), `BENCH_DAYS` of 15-minute
//! samples per host (0.25: 24 samples, 24,000 in all at 1,000 hosts), `BENCH_CONCURRENCY`
//! requests in flight (16), `BENCH_READS` requests per read endpoint (200), `BENCH_DATABASE_URL`
//! (a PostgreSQL cluster, `postgres://…`: the fleet goes to a fresh database there, dropped
//! after; default SQLite in the data dir).
//!
//! It needs a server with fleet ingest (issue 29); against one without, it stops at once and
//! says so.

use std::path::Path;
use std::time::{Duration, Instant};

use poolsleuth::ingest_client::{HostName, IngestClient, IngestError, http_client};
use poolsleuth::synthetic_fleet::{FleetPlan, send_fleet};
use support::{ADMIN_TOKEN, Server};
use time::OffsetDateTime;

mod support;

/// Issue 29's goals (the ingest rate's is SQLite's: the database with no set-up).
const INGEST_TARGET_PER_SECOND: f64 = 200.0;
const READ_P95_TARGET_MS: f64 = 200.0;

fn env_number<T: std::str::FromStr + PartialOrd + Default>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|v| *v > T::default())
        .unwrap_or(default)
}

fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// p50 and p95 of `GET path`, `reads` times on one connection, in milliseconds.
async fn read_latency(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    reads: usize,
) -> (f64, f64) {
    let mut times = Vec::with_capacity(reads);
    for _ in 0..reads {
        let started = Instant::now();
        let response = client.get(format!("{base}{path}")).send().await.unwrap();
        let status = response.status();
        let _ = response.bytes().await.unwrap();
        assert!(status.is_success(), "GET {path} answered {status}");
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.95))
}

/// `POST /api/v1/analyze` of the plan's first `count` screens (with their driver lists),
/// `concurrency` at once: analyses per second.
async fn analyze_rate(
    client: &reqwest::Client,
    base: &str,
    plan: &FleetPlan,
    count: usize,
    concurrency: usize,
) -> f64 {
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(concurrency));
    let mut requests = tokio::task::JoinSet::new();
    let started = Instant::now();
    for n in 0..count {
        let host = plan.host(n % plan.hosts);
        let sample = plan.sample(&host, n / plan.hosts % plan.samples_per_host);
        let (client, url, slots) = (
            client.clone(),
            format!("{base}/api/v1/analyze"),
            slots.clone(),
        );
        requests.spawn(async move {
            let _slot = slots.acquire().await.unwrap();
            let form = reqwest::multipart::Form::new()
                .part(
                    "snapshot",
                    reqwest::multipart::Part::bytes(sample.snapshot).file_name("pool.txt"),
                )
                .part(
                    "drivers",
                    reqwest::multipart::Part::bytes(sample.drivers.unwrap())
                        .file_name("drivers.csv"),
                );
            let response = client.post(url).multipart(form).send().await.unwrap();
            assert!(response.status().is_success(), "{}", response.status());
            let _ = response.bytes().await.unwrap();
        });
    }
    while let Some(done) = requests.join_next().await {
        done.unwrap();
    }
    count as f64 / started.elapsed().as_secs_f64()
}

/// A throw-away database in the PostgreSQL cluster BENCH_DATABASE_URL names.
struct Postgres {
    admin: sqlx::AnyPool,
    name: String,
    url: String,
}

impl Postgres {
    async fn create(cluster: &str) -> Self {
        sqlx::any::install_default_drivers();
        let admin = sqlx::AnyPool::connect(cluster)
            .await
            .unwrap_or_else(|e| panic!("BENCH_DATABASE_URL {cluster}: {e}"));
        let name = format!("poolsleuth_bench_{}", std::process::id());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await
            .unwrap();
        let mut url = reqwest::Url::parse(cluster).unwrap();
        url.set_path(&name);
        Self {
            admin,
            name,
            url: url.to_string(),
        }
    }

    /// The database's size on disk, as PostgreSQL reports it.
    async fn size(&self) -> u64 {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT pg_database_size('{}')",
            self.name
        )))
        .fetch_one(&self.admin)
        .await
        .unwrap();
        sqlx::Row::get::<i64, _>(&row, 0) as u64
    }

    async fn drop_database(self) {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE {} WITH (FORCE)",
            self.name
        )))
        .execute(&self.admin)
        .await;
    }
}

#[tokio::main]
async fn main() {
    let hosts: usize = env_number("BENCH_HOSTS", 1000);
    let days: f64 = env_number("BENCH_DAYS", 0.25);
    let concurrency: usize = env_number("BENCH_CONCURRENCY", 16);
    let reads: usize = env_number("BENCH_READS", 200);

    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-fleet");
    let _ = std::fs::remove_dir_all(&work);
    let data_dir = work.join("data");
    // BENCH_DATABASE_URL (postgres://…): the fleet in a fresh database of that cluster,
    // dropped after; otherwise SQLite in the data dir.
    let postgres = match std::env::var("BENCH_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(Postgres::create(&url).await),
        _ => None,
    };
    let extra: Vec<&str> = match &postgres {
        Some(pg) => vec!["--database-url", pg.url.as_str()],
        None => Vec::new(),
    };
    let server = tokio::task::block_in_place(|| Server::start_with(&data_dir, &extra));
    let base = server.base.clone();
    let client = http_client();

    let start = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap()
        - Duration::from_secs_f64(days * 86_400.0);
    let plan = FleetPlan::new(hosts, days, Duration::from_secs(900), start, 1)
        .unwrap_or_else(|e| panic!("{e}"));
    let ingest = IngestClient::new(
        reqwest::Url::parse(&base).unwrap(),
        ADMIN_TOKEN.into(),
        client.clone(),
    );

    // A server without fleet ingest: say so before measuring anything.
    let probe_host = HostName::parse("bench-probe").unwrap();
    if let Err(e) = ingest
        .send(&probe_host, &plan.sample(&plan.host(0), 0))
        .await
    {
        eprintln!("fleet bench: cannot measure: {e}");
        if matches!(e, IngestError::NoFleetIngest { .. }) {
            eprintln!(
                "fleet bench: the server has no fleet ingest: this benchmark needs issue 29's POST /api/v1/hosts/{{host}}/snapshots"
            );
        }
        drop(server);
        std::process::exit(1);
    }
    let weigh = async || match &postgres {
        Some(pg) => pg.size().await,
        None => dir_bytes(&data_dir),
    };
    let bytes_before = weigh().await;

    eprintln!(
        "fleet bench: {hosts} hosts x {} samples ({} in all), {concurrency} in flight, to {base}",
        plan.samples_per_host,
        plan.total_samples()
    );
    let report = send_fleet(&plan, &ingest, concurrency, |_, _| {})
        .await
        .unwrap_or_else(|e| panic!("ingest stopped: {e}"));
    assert_eq!(report.failed, 0, "samples refused; see above");
    let ingest_rate = report.samples_per_second();
    // Let the server finish what it does after answering, then weigh the data dir.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stored = weigh().await.saturating_sub(bytes_before);
    let host_days = hosts as f64 * days;

    let analyzed = plan.total_samples().min(4_000) as usize;
    let analyze = analyze_rate(&client, &base, &plan, analyzed, concurrency).await;

    let (hosts_p50, hosts_p95) = read_latency(&client, &base, "/hosts", reads).await;
    let (fleet_p50, fleet_p95) = read_latency(&client, &base, "/api/v1/fleet", reads).await;
    drop(server);
    let backend = match postgres {
        Some(pg) => {
            pg.drop_database().await;
            "PostgreSQL"
        }
        None => "SQLite",
    };

    let mark = |ok: bool| if ok { "met" } else { "NOT met" };
    println!(
        "\nfleet watch on {backend}, {hosts} hosts, 300-tag poolmon screens with driver lists, {concurrency} requests in flight\n"
    );
    println!("| measure | figure | target |");
    println!("| --- | --- | --- |");
    println!(
        "| ingest `POST /api/v1/hosts/{{host}}/snapshots` ({} samples) | **{ingest_rate:.0} samples/s** | {} |",
        report.sent,
        if backend == "SQLite" {
            format!(
                ">= {INGEST_TARGET_PER_SECOND:.0}/s: {}",
                mark(ingest_rate >= INGEST_TARGET_PER_SECOND)
            )
        } else {
            "- (the goal is SQLite's)".into()
        }
    );
    println!(
        "| the same screens through `POST /api/v1/analyze` ({analyzed}) | {analyze:.0} analyses/s | - |"
    );
    println!(
        "| `GET /hosts`, {reads} in turn | p50 {hosts_p50:.1} ms, **p95 {hosts_p95:.1} ms** | p95 < {READ_P95_TARGET_MS:.0} ms: {} |",
        mark(hosts_p95 < READ_P95_TARGET_MS)
    );
    println!(
        "| `GET /api/v1/fleet`, {reads} in turn | p50 {fleet_p50:.1} ms, **p95 {fleet_p95:.1} ms** | p95 < {READ_P95_TARGET_MS:.0} ms: {} |",
        mark(fleet_p95 < READ_P95_TARGET_MS)
    );
    println!(
        "| {} growth per host-day | {:.0} KiB ({} bytes over {host_days} host-days) | - |",
        if backend == "SQLite" {
            "data dir"
        } else {
            "database"
        },
        stored as f64 / host_days / 1024.0,
        stored
    );
}
