//! A synthetic fleet of Windows hosts for `poolsleuth fleet simulate` and the fleet benchmark:
//! each host's pool snapshots (poolmon `-b` files of about 300 tags, written by the project's
//! own writer) and driver lists (the CSV `collect` writes), one sample per interval, sent
//! through fleet ingest.
//!
//! A few hosts leak: the tag [`LEAKING_TAG`], the KMDF default tag of [`LEAKING_DRIVER`],
//! grows steadily on every host that runs the driver at [`LEAKING_VERSION`]. The first of them
//! is updated to [`FIXED_VERSION`] half-way through (a restart: what leaked is freed and the
//! counters start again), after which its tag stops growing. The
//! other hosts are flat: their tags move around their level and nothing grows; half of them
//! run the driver at the fixed version. Everything is a function of the seed, the host and
//! the sample, so a run is the same every time.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use crate::collect::{DriverFile, driver_list_csv};
use crate::ingest_client::{HostName, IngestClient, IngestError, Sample};
use crate::snapshot::{PoolKind, PoolUsage, write_poolmon};
use crate::tag::PoolTag;

/// The driver the leaking hosts share.
pub const LEAKING_DRIVER: &str = "dkfilter.sys";
/// The version that leaks.
pub const LEAKING_VERSION: &str = "12.0.1.2";
/// The version the updated host gets, which does not leak.
pub const FIXED_VERSION: &str = "12.2.0.5";
/// The tag that leaks: the KMDF default tag of `dkfilter` (its service name's first four
/// characters), so a driver list names the driver for it.
pub const LEAKING_TAG: PoolTag = PoolTag::from_bytes(*b"dkfi");
/// About this many tags per screen: the well-known tags plus fillers.
pub const TAGS_PER_SCREEN: usize = 300;

/// Tags every Windows server has, with their pool and a typical size in KiB (well under what
/// is normal for each, so a flat host is healthy).
const COMMON_TAGS: &[(&[u8; 4], PoolKind, u64)] = &[
    (b"Cont", PoolKind::NonPaged, 48_000),
    (b"MmSt", PoolKind::Paged, 120_000),
    (b"MmCa", PoolKind::NonPaged, 22_000),
    (b"MmCi", PoolKind::NonPaged, 6_000),
    (b"Mmdi", PoolKind::NonPaged, 9_000),
    (b"Vad ", PoolKind::NonPaged, 7_000),
    (b"VadS", PoolKind::NonPaged, 3_000),
    (b"File", PoolKind::NonPaged, 30_000),
    (b"Toke", PoolKind::Paged, 11_000),
    (b"Thre", PoolKind::NonPaged, 9_500),
    (b"Proc", PoolKind::NonPaged, 3_200),
    (b"Even", PoolKind::NonPaged, 5_000),
    (b"Muta", PoolKind::NonPaged, 800),
    (b"Sema", PoolKind::NonPaged, 600),
    (b"Key ", PoolKind::Paged, 6_500),
    (b"Sect", PoolKind::Paged, 2_400),
    (b"Irp ", PoolKind::NonPaged, 4_100),
    (b"Mdl ", PoolKind::NonPaged, 1_900),
    (b"Icp ", PoolKind::NonPaged, 1_200),
    (b"Obtb", PoolKind::Paged, 7_700),
    (b"ObNm", PoolKind::Paged, 2_100),
    (b"CM31", PoolKind::Paged, 90_000),
    (b"CM25", PoolKind::Paged, 31_000),
    (b"CM16", PoolKind::Paged, 8_000),
    (b"CMkb", PoolKind::Paged, 5_200),
    (b"SeAt", PoolKind::Paged, 4_400),
    (b"AlMs", PoolKind::NonPaged, 2_600),
    (b"Ntfx", PoolKind::NonPaged, 14_000),
    (b"NtFs", PoolKind::Paged, 40_000),
    (b"Ntff", PoolKind::Paged, 21_000),
    (b"NtfF", PoolKind::Paged, 4_300),
    (b"NtFC", PoolKind::Paged, 9_800),
    (b"Ntfn", PoolKind::NonPaged, 7_100),
    (b"NtxF", PoolKind::NonPaged, 3_900),
    (b"Ntfr", PoolKind::NonPaged, 1_100),
    (b"FMfn", PoolKind::Paged, 24_000),
    (b"FMsl", PoolKind::NonPaged, 3_300),
    (b"FMfc", PoolKind::NonPaged, 2_900),
    (b"FMic", PoolKind::NonPaged, 900),
    (b"CcSc", PoolKind::NonPaged, 2_200),
    (b"EtwB", PoolKind::NonPaged, 26_000),
    (b"TTcb", PoolKind::NonPaged, 5_600),
    (b"TcpE", PoolKind::NonPaged, 2_300),
    (b"AleE", PoolKind::NonPaged, 1_700),
    (b"AfdE", PoolKind::NonPaged, 1_300),
    (b"Nnbl", PoolKind::NonPaged, 8_800),
];

/// Drivers every host runs, with their versions.
const COMMON_DRIVERS: &[(&str, &str)] = &[
    ("ntoskrnl.exe", "10.0.20348.2849"),
    ("hal.dll", "10.0.20348.2849"),
    ("ntfs.sys", "10.0.20348.2849"),
    ("tcpip.sys", "10.0.20348.2849"),
    ("afd.sys", "10.0.20348.2849"),
    ("fltmgr.sys", "10.0.20348.2849"),
    ("ndis.sys", "10.0.20348.2849"),
    ("storport.sys", "10.0.20348.2849"),
    ("volmgr.sys", "10.0.20348.2849"),
    ("partmgr.sys", "10.0.20348.2849"),
    ("disk.sys", "10.0.20348.2849"),
    ("classpnp.sys", "10.0.20348.2849"),
    ("acpi.sys", "10.0.20348.2849"),
    ("pci.sys", "10.0.20348.2849"),
    ("wdf01000.sys", "1.33.20348.1"),
    ("netio.sys", "10.0.20348.2849"),
    ("http.sys", "10.0.20348.2849"),
    ("mup.sys", "10.0.20348.2849"),
    ("rdbss.sys", "10.0.20348.2849"),
    ("mrxsmb.sys", "10.0.20348.2849"),
    ("srv2.sys", "10.0.20348.2849"),
    ("wcifs.sys", "10.0.20348.2849"),
    ("vmbus.sys", "10.0.20348.2849"),
    ("storvsc.sys", "10.0.20348.2849"),
    ("netvsc.sys", "10.0.20348.2849"),
    ("wd\\wdfilter.sys", "4.18.24090.11"),
];

/// What a host does in the simulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostRole {
    /// Nothing grows; `runs_driver`: the driver at the fixed version is loaded.
    Flat { runs_driver: bool },
    /// The driver at the leaking version; its tag grows all along.
    Leaking,
    /// Leaks until sample `update_at`, when the driver is updated and the growth stops.
    FixedByUpdate { update_at: usize },
}

/// One simulated host.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticHost {
    pub index: usize,
    pub name: HostName,
    pub role: HostRole,
    /// How fast the leaking tag grows while the driver leaks.
    pub leak_bytes_per_hour: u64,
}

impl SyntheticHost {
    /// The driver version loaded at sample `i`, when the host runs the driver.
    pub fn driver_version(&self, i: usize) -> Option<&'static str> {
        match self.role {
            HostRole::Flat { runs_driver: false } => None,
            HostRole::Flat { runs_driver: true } => Some(FIXED_VERSION),
            HostRole::Leaking => Some(LEAKING_VERSION),
            HostRole::FixedByUpdate { update_at } if i < update_at => Some(LEAKING_VERSION),
            HostRole::FixedByUpdate { .. } => Some(FIXED_VERSION),
        }
    }
}

/// A simulated fleet: hosts, samples per host, their times.
#[derive(Debug, Clone)]
pub struct FleetPlan {
    pub hosts: usize,
    pub samples_per_host: usize,
    pub interval: Duration,
    /// The time of each host's first sample.
    pub start: OffsetDateTime,
    pub seed: u64,
    tags: Arc<[(PoolTag, PoolKind, u64)]>,
}

impl FleetPlan {
    /// `days` of samples every `interval` for `hosts` hosts, the first at `start`.
    pub fn new(
        hosts: usize,
        days: f64,
        interval: Duration,
        start: OffsetDateTime,
        seed: u64,
    ) -> Result<Self, String> {
        if hosts == 0 {
            return Err("--hosts must be at least 1".into());
        }
        if !days.is_finite() || days <= 0.0 {
            return Err(format!("--days must be a positive number, not {days}"));
        }
        if interval.is_zero() {
            return Err("--interval must be longer than zero".into());
        }
        let samples = (days * 86_400.0 / interval.as_secs_f64()).floor();
        if samples < 2.0 {
            return Err(format!(
                "{days} days at one sample every {} s is fewer than two samples: growth needs two",
                interval.as_secs()
            ));
        }
        if samples > 1_000_000.0 {
            return Err(format!(
                "{days} days every {} s is over a million samples per host",
                interval.as_secs()
            ));
        }
        Ok(Self {
            hosts,
            samples_per_host: samples as usize,
            interval,
            start,
            seed,
            tags: screen_tags().into(),
        })
    }

    /// How many hosts leak: a few, at least one.
    pub fn leaking_hosts(&self) -> usize {
        (self.hosts / 20).clamp(2, 20).min(self.hosts)
    }

    pub fn total_samples(&self) -> u64 {
        self.hosts as u64 * self.samples_per_host as u64
    }

    pub fn host(&self, index: usize) -> SyntheticHost {
        let leaking = self.leaking_hosts();
        let role = if index == 0 {
            HostRole::FixedByUpdate {
                update_at: self.samples_per_host / 2,
            }
        } else if index < leaking {
            HostRole::Leaking
        } else {
            HostRole::Flat {
                runs_driver: index.is_multiple_of(2),
            }
        };
        // 2 to 6 MiB an hour: a leak an admin wants to hear of days before the outage.
        let leak = 2 * 1024 * 1024 + self.noise(index, 0, usize::MAX) % (4 * 1024 * 1024);
        SyntheticHost {
            index,
            name: HostName::parse(&format!("sim-{index:05}")).expect("a valid host name"),
            role,
            leak_bytes_per_hour: leak,
        }
    }

    pub fn taken_at(&self, i: usize) -> OffsetDateTime {
        self.start + self.interval * u32::try_from(i).unwrap_or(u32::MAX)
    }

    /// The pool rows of `host` at sample `i`.
    pub fn rows(&self, host: &SyntheticHost, i: usize) -> Vec<PoolUsage> {
        // The update restarts the host (as a driver update does): what leaked is freed and
        // the counters start again.
        let since_boot = match host.role {
            HostRole::FixedByUpdate { update_at } if i >= update_at => i - update_at,
            _ => i,
        };
        let mut rows = Vec::with_capacity(self.tags.len() + 1);
        for (k, &(tag, pool, level)) in self.tags.iter().enumerate() {
            // Within ±0.5% of the host's level, drawn afresh each sample: no trend (wider
            // noise over a few samples makes some of 300 tags look as if they grew).
            let host_level = level + level * (self.noise(host.index, k, usize::MAX) % 40) / 100;
            let wobble = self.noise(host.index, k, i) % 11;
            let bytes = host_level * (995 + wobble) / 1000;
            // Well under a million allocations held, which alone would be abnormal.
            let per_alloc = 256 + (k as u64 % 7) * 128;
            rows.push(counted_row(
                tag,
                pool,
                bytes,
                since_boot,
                per_alloc,
                host_level / per_alloc,
            ));
        }
        if host.driver_version(i).is_some() {
            let base = 256 * 1024;
            let leaking = matches!(host.role, HostRole::Leaking)
                || matches!(host.role, HostRole::FixedByUpdate { update_at } if i < update_at);
            let hours = self.interval.as_secs_f64() * since_boot as f64 / 3600.0;
            let leaked = if leaking {
                (host.leak_bytes_per_hour as f64 * hours) as u64
            } else {
                0
            };
            let wobble = self.noise(host.index, usize::MAX - 1, i) % 8192;
            rows.push(counted_row(
                LEAKING_TAG,
                PoolKind::NonPaged,
                base + wobble + leaked,
                since_boot,
                512,
                base / 512,
            ));
        }
        rows
    }

    /// The driver list of `host` at sample `i`, as the CSV `collect` writes.
    pub fn drivers_csv(&self, host: &SyntheticHost, i: usize) -> String {
        let mut drivers: Vec<DriverFile> = COMMON_DRIVERS
            .iter()
            .map(|(file, version)| DriverFile {
                path: if file.ends_with(".sys") && !file.contains('\\') {
                    format!("C:\\Windows\\system32\\drivers\\{file}")
                } else if let Some(rest) = file.strip_prefix("wd\\") {
                    format!("C:\\Windows\\system32\\drivers\\wd\\{rest}")
                } else {
                    format!("C:\\Windows\\system32\\{file}")
                },
                file_version: Some((*version).to_owned()),
                product_version: Some((*version).to_owned()),
            })
            .collect();
        if let Some(version) = host.driver_version(i) {
            drivers.push(DriverFile {
                path: format!("C:\\Windows\\system32\\drivers\\{LEAKING_DRIVER}"),
                file_version: Some(version.to_owned()),
                product_version: Some(version.to_owned()),
            });
        }
        driver_list_csv(&drivers)
    }

    /// Sample `i` of `host`, ready to send.
    pub fn sample(&self, host: &SyntheticHost, i: usize) -> Sample {
        let taken_at = self.taken_at(i);
        let screen = write_poolmon(Some(taken_at), &self.rows(host, i));
        Sample {
            taken_at,
            snapshot_name: format!("{}-{i:06}.txt", host.name),
            snapshot: screen.text.into_bytes(),
            drivers: Some(self.drivers_csv(host, i).into_bytes()),
        }
    }

    /// A number drawn from the seed, the host, the tag and the sample (SplitMix64).
    fn noise(&self, host: usize, tag: usize, sample: usize) -> u64 {
        let mut z = self.seed
            ^ (host as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ (tag as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
            ^ (sample as u64).wrapping_mul(0x1656_67B1_9E37_79F9);
        z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// A poolmon row whose counters only grow, as counts since boot do: frees rise by a fixed
/// step each sample (more than the outstanding count ever falls between two samples, a tenth
/// of `level`), and allocations are frees plus the `bytes / per_alloc` outstanding.
fn counted_row(
    tag: PoolTag,
    pool: PoolKind,
    bytes: u64,
    i: usize,
    per_alloc: u64,
    level: u64,
) -> PoolUsage {
    let outstanding = (bytes / per_alloc).max(1);
    let frees = level * 20 + (i as u64) * (level / 10 + 1_000);
    let mut row = PoolUsage::new(tag, pool, bytes);
    row.allocs = Some(frees + outstanding);
    row.frees = Some(frees);
    row.outstanding = Some(outstanding);
    row
}

/// The tags of every screen: the common ones, then fillers of a few KiB to a MiB up to
/// [`TAGS_PER_SCREEN`] (third-party and rare tags, as a real screen's long tail).
fn screen_tags() -> Vec<(PoolTag, PoolKind, u64)> {
    let mut tags: Vec<(PoolTag, PoolKind, u64)> = COMMON_TAGS
        .iter()
        .map(|&(tag, pool, kib)| (PoolTag::from_bytes(*tag), pool, kib * 1024))
        .collect();
    let firsts = b"BGHJKLPRSUVW";
    let mut k = 0u64;
    while tags.len() < TAGS_PER_SCREEN - 1 {
        let tag = PoolTag::from_bytes([
            firsts[(k % 12) as usize],
            b'a' + (k / 12 % 26) as u8,
            b'a' + (k * 7 / 12 % 26) as u8,
            b'0' + (k % 10) as u8,
        ]);
        k += 1;
        if tags.iter().any(|(t, _, _)| *t == tag) {
            continue;
        }
        let pool = if k.is_multiple_of(3) {
            PoolKind::Paged
        } else {
            PoolKind::NonPaged
        };
        // 4 KiB to about 1 MiB, the long tail.
        let bytes = 4096 + (k * 2_654_435_761 % 1_000_000);
        tags.push((tag, pool, bytes));
    }
    tags
}

/// What a run sent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SendReport {
    pub sent: u64,
    pub failed: u64,
    pub elapsed: Duration,
}

impl SendReport {
    pub fn samples_per_second(&self) -> f64 {
        self.sent as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Sends every host's samples, oldest first per host, at most `concurrency` at once; hosts
/// take turns. `progress(sent, failed)` is called after each answer. A wrong server or token
/// stops the run with that error; a refused sample is counted and said on stderr.
pub async fn send_fleet(
    plan: &FleetPlan,
    client: &IngestClient,
    concurrency: usize,
    progress: impl Fn(u64, u64) + Send + Sync + 'static,
) -> Result<SendReport, IngestError> {
    let started = Instant::now();
    let slots = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let sent = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let progress = Arc::new(progress);
    let mut hosts = tokio::task::JoinSet::new();
    for index in 0..plan.hosts {
        let (plan, client) = (plan.clone(), client.clone());
        let (slots, sent, failed, stop, progress) = (
            slots.clone(),
            sent.clone(),
            failed.clone(),
            stop.clone(),
            progress.clone(),
        );
        hosts.spawn(async move {
            let host = plan.host(index);
            for i in 0..plan.samples_per_host {
                let Ok(_slot) = slots.acquire().await else {
                    return Ok(());
                };
                if stop.load(Ordering::Relaxed) {
                    return Ok(());
                }
                let sample = plan.sample(&host, i);
                match client.send(&host.name, &sample).await {
                    Ok(()) => {
                        sent.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) if e.is_fatal() => {
                        stop.store(true, Ordering::Relaxed);
                        return Err(e);
                    }
                    Err(e) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        eprintln!("poolsleuth: sample {i} of {} not stored: {e}", host.name);
                    }
                }
                progress(sent.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
            }
            Ok(())
        });
    }
    let mut first_error = None;
    while let Some(done) = hosts.join_next().await {
        match done {
            Ok(Err(e)) if first_error.is_none() => first_error = Some(e),
            Ok(_) => {}
            Err(e) => panic!("a host's sender panicked: {e}"),
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    Ok(SendReport {
        sent: sent.load(Ordering::Relaxed),
        failed: failed.load(Ordering::Relaxed),
        elapsed: started.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{ParseOptions, parse_driver_list, parse_snapshots};

    fn plan(hosts: usize) -> FleetPlan {
        FleetPlan::new(
            hosts,
            1.0,
            Duration::from_secs(900),
            time::macros::datetime!(2026-11-01 00:00:00 UTC),
            7,
        )
        .unwrap()
    }

    #[test]
    fn screens_parse_back_with_every_tag_and_their_time() {
        let plan = plan(3);
        let host = plan.host(1);
        let sample = plan.sample(&host, 5);
        let parsed = parse_snapshots(&sample.snapshot, &ParseOptions::default()).unwrap();
        assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
        assert_eq!(parsed.snapshots.len(), 1);
        let snapshot = &parsed.snapshots[0];
        assert_eq!(snapshot.taken_at, Some(plan.taken_at(5)));
        assert_eq!(snapshot.rows.len(), TAGS_PER_SCREEN);
        let rows = plan.rows(&host, 5);
        for row in &rows {
            let back = snapshot
                .rows
                .iter()
                .find(|r| r.tag == row.tag && r.pool == row.pool)
                .unwrap_or_else(|| panic!("{} not read back", row.tag));
            assert_eq!(
                (back.bytes, back.allocs, back.frees),
                (row.bytes, row.allocs, row.frees)
            );
        }
        let drivers = parse_driver_list(sample.drivers.as_ref().unwrap()).unwrap();
        assert!(drivers.len() > 20);
        let dk = drivers
            .iter()
            .find(|d| d.file_name.as_deref() == Some(LEAKING_DRIVER))
            .expect("the leaking host runs the driver");
        assert_eq!(
            dk.version.as_ref().map(ToString::to_string).as_deref(),
            Some(LEAKING_VERSION)
        );
    }

    #[test]
    fn the_same_seed_gives_the_same_fleet_and_another_seed_another() {
        let a = plan(4);
        let b = plan(4);
        assert_eq!(a.sample(&a.host(2), 9), b.sample(&b.host(2), 9));
        let c = FleetPlan::new(4, 1.0, Duration::from_secs(900), a.start, 8).unwrap();
        assert_ne!(a.sample(&a.host(2), 9), c.sample(&c.host(2), 9));
    }

    #[test]
    fn a_few_hosts_leak_and_the_first_is_updated_half_way() {
        let plan = plan(100);
        assert_eq!(plan.samples_per_host, 96);
        assert_eq!(plan.leaking_hosts(), 5);
        assert_eq!(plan.host(0).role, HostRole::FixedByUpdate { update_at: 48 });
        assert_eq!(plan.host(0).driver_version(47), Some(LEAKING_VERSION));
        assert_eq!(plan.host(0).driver_version(48), Some(FIXED_VERSION));
        assert_eq!(plan.host(4).role, HostRole::Leaking);
        assert_eq!(plan.host(5).role, HostRole::Flat { runs_driver: false });
        assert_eq!(plan.host(6).driver_version(0), Some(FIXED_VERSION));
        let leak = |host: &SyntheticHost, i| {
            plan.rows(host, i)
                .iter()
                .find(|r| r.tag == LEAKING_TAG)
                .map(|r| r.bytes)
        };
        let (leaker, fixed, flat) = (plan.host(1), plan.host(0), plan.host(6));
        assert!(leak(&leaker, 95).unwrap() > leak(&leaker, 0).unwrap() + 45 * 1024 * 1024);
        assert!(leak(&fixed, 47).unwrap() > leak(&fixed, 0).unwrap() + 22 * 1024 * 1024);
        // The update restarted the host: what leaked is gone and nothing grows after it.
        assert!(leak(&fixed, 48).unwrap() < 300 * 1024);
        assert!(
            leak(&fixed, 95)
                .unwrap()
                .abs_diff(leak(&fixed, 48).unwrap())
                < 8192
        );
        assert!(leak(&flat, 95).unwrap().abs_diff(leak(&flat, 0).unwrap()) < 8192);
        assert_eq!(leak(&plan.host(5), 3), None);
    }

    #[test]
    fn too_few_samples_or_no_hosts_are_refused() {
        let at = time::macros::datetime!(2026-11-01 00:00:00 UTC);
        let err = FleetPlan::new(1, 0.01, Duration::from_secs(900), at, 1).unwrap_err();
        assert!(err.contains("fewer than two samples"), "{err}");
        assert!(FleetPlan::new(0, 1.0, Duration::from_secs(900), at, 1).is_err());
        assert!(FleetPlan::new(1, -1.0, Duration::from_secs(900), at, 1).is_err());
    }

    #[test]
    fn counters_count_up_between_samples_as_counts_since_boot_do() {
        let plan = plan(3);
        for index in 0..3 {
            let host = plan.host(index);
            for i in 1..plan.samples_per_host {
                if host.role == (HostRole::FixedByUpdate { update_at: i }) {
                    continue; // the restart
                }
                let (before, after) = (plan.rows(&host, i - 1), plan.rows(&host, i));
                for (a, b) in before.iter().zip(&after) {
                    assert_eq!(a.tag, b.tag);
                    assert!(
                        b.allocs >= a.allocs && b.frees >= a.frees,
                        "{} at {i}",
                        a.tag
                    );
                    assert_eq!(b.allocs.unwrap() - b.frees.unwrap(), b.outstanding.unwrap());
                }
            }
        }
    }
}
