//! Series and growth: every (tag, pool) of the input with its bytes and outstanding
//! allocations per snapshot, the least-squares growth of each, the machine's totals, and which
//! growing tags move in lockstep.

use time::OffsetDateTime;

use rustc_hash::FxHashMap as HashMap;

use super::model::{Growth, MachineTotals, TimeBasis};
use super::stats::{self, linear_fit, pearson};
use crate::snapshot::{PoolKind, Precision, Snapshot};
use crate::tag::PoolTag;

/// The least growth over a series for a tag to be grouped with another (64 KiB).
const GROUP_MIN_GROWTH_BYTES: i64 = 64 << 10;

/// One (tag, pool) over the series; its numbers live in [`SeriesTable`].
pub(super) struct Series<'a> {
    pub tag: PoolTag,
    pub pool: PoolKind,
    /// Boxed: only snapshots with a driver column or `!verifier` callers have any, and the
    /// 3,000 series of a big poolmon screen stay 16 bytes each.
    texts: Option<Box<SeriesTexts<'a>>>,
}

#[derive(Default)]
struct SeriesTexts<'a> {
    /// The snapshot's driver column (distinct, at most 4).
    mapped: Vec<&'a str>,
    /// `!verifier` callers (distinct, at most 16).
    callers: Vec<&'a str>,
}

impl<'a> Series<'a> {
    pub fn mapped(&self) -> &[&'a str] {
        self.texts.as_ref().map_or(&[], |t| &t.mapped)
    }

    pub fn callers(&self) -> &[&'a str] {
        self.texts.as_ref().map_or(&[], |t| &t.callers)
    }
}

/// Every (tag, pool) of the input with its numbers per snapshot, stored flat (one allocation
/// for all tags instead of two per tag).
pub(super) struct SeriesTable<'a> {
    /// Snapshots in the series.
    pub n: usize,
    pub series: Vec<Series<'a>>,
    bytes: Vec<u64>,
    outstanding: Vec<Option<u64>>,
    /// Per series: the row it was last read from.
    facts: Vec<RowFacts>,
    /// Hours since the first snapshot, when the series has a clock.
    pub hours: Option<Vec<f64>>,
}

/// What the latest row of a series said besides its numbers per snapshot: its counts since
/// boot, how exact its bytes are, and where it was read.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct RowFacts {
    pub allocs: Option<u64>,
    pub frees: Option<u64>,
    pub precision: Precision,
    /// 1-based line of its file; 0 when not known.
    pub line: u32,
    /// Which analyzed file.
    pub file: usize,
}

impl RowFacts {
    /// The paste gave counts but no size.
    pub fn bytes_unknown(&self) -> bool {
        self.precision == Precision::Unknown
    }
}

impl SeriesTable<'_> {
    pub fn bytes(&self, i: usize) -> &[u64] {
        &self.bytes[i * self.n..(i + 1) * self.n]
    }

    pub fn outstanding(&self, i: usize) -> &[Option<u64>] {
        &self.outstanding[i * self.n..(i + 1) * self.n]
    }

    pub fn facts(&self, i: usize) -> RowFacts {
        self.facts[i]
    }

    /// The latest outstanding count of series `i`.
    pub fn last_outstanding(&self, i: usize) -> Option<u64> {
        self.outstanding(i).last().copied().flatten()
    }

    pub fn time_basis(&self) -> TimeBasis {
        match (&self.hours, self.n) {
            (_, 0 | 1) => TimeBasis::Single,
            (Some(_), _) => TimeBasis::Hours,
            (None, _) => TimeBasis::Samples,
        }
    }

    /// The growth of series `i` (a series of two or more snapshots).
    pub fn growth(&self, i: usize) -> Growth {
        let bytes = self.bytes(i);
        let outstanding = self.outstanding(i);
        let ys: Vec<f64> = bytes.iter().map(|&b| b as f64).collect();
        let samples: Vec<f64> = (0..ys.len()).map(|i| i as f64).collect();
        let per_sample = linear_fit(&samples, &ys);
        let per_hour = self.hours.as_ref().and_then(|xs| linear_fit(xs, &ys));
        let allocs: Option<Vec<f64>> = outstanding.iter().map(|o| o.map(|v| v as f64)).collect();
        let allocs_per_sample = allocs.as_ref().and_then(|a| linear_fit(&samples, a));
        let allocs_per_hour = match (&allocs, &self.hours) {
            (Some(a), Some(xs)) => linear_fit(xs, a),
            _ => None,
        };
        // A paste that gives counts but no sizes grows in counts: its steadiness is theirs.
        let counts_only = self.facts[i].bytes_unknown() && allocs.is_some();
        let fit = if counts_only {
            allocs_per_hour.or(allocs_per_sample)
        } else {
            per_hour.or(per_sample)
        };
        let r_squared = fit.map_or(0.0, |f| f.r_squared);
        let rising = match (&allocs, counts_only) {
            (Some(a), true) => stats::rising_fraction(a),
            _ => stats::rising_fraction(&ys),
        }
        .unwrap_or(0.0);
        let allocs_steadiness = allocs.as_ref().map(|a| {
            let fit = allocs_per_hour.or(allocs_per_sample);
            round(
                fit.map_or(0.0, |f| f.r_squared) * stats::rising_fraction(a).unwrap_or(0.0),
                4,
            )
        });
        let first = bytes.first().copied().unwrap_or(0);
        let last = bytes.last().copied().unwrap_or(0);
        let delta_outstanding = match (outstanding.first(), outstanding.last()) {
            (Some(Some(a)), Some(Some(b))) => Some(signed_delta(*a, *b)),
            _ => None,
        };
        Growth {
            first_bytes: first,
            delta_bytes: signed_delta(first, last),
            bytes_per_hour: per_hour.map(|f| round(f.slope, 1)),
            bytes_per_sample: round(per_sample.map_or(0.0, |f| f.slope), 1),
            allocs_per_hour: allocs_per_hour.map(|f| round(f.slope, 2)),
            allocs_per_sample: allocs_per_sample.map(|f| round(f.slope, 2)),
            delta_outstanding,
            allocs_steadiness,
            r_squared: round(r_squared, 4),
            rising_intervals: round(rising, 4),
            steadiness: round(r_squared * rising, 4),
        }
    }

    /// Per-interval changes of the outstanding count of series `i`, when every snapshot has
    /// one.
    pub fn outstanding_steps(&self, i: usize) -> Option<Vec<i64>> {
        let counts: Vec<u64> = self.outstanding(i).iter().copied().collect::<Option<_>>()?;
        Some(
            counts
                .windows(2)
                .map(|w| signed_delta(w[0], w[1]))
                .collect(),
        )
    }

    /// Per-interval deltas of outstanding allocations (bytes when counts are missing).
    fn deltas(&self, i: usize) -> Vec<f64> {
        let outstanding = self.outstanding(i);
        let values: Vec<f64> = if outstanding.iter().all(Option::is_some) {
            outstanding.iter().map(|o| o.unwrap_or(0) as f64).collect()
        } else {
            self.bytes(i).iter().map(|&b| b as f64).collect()
        };
        values.windows(2).map(|w| w[1] - w[0]).collect()
    }
}

/// Reads every snapshot's rows into one table.
pub(super) fn collect(snapshots: &[Snapshot]) -> SeriesTable<'_> {
    let n = snapshots.len();
    let rows = snapshots.first().map_or(0, |s| s.rows.len());
    let mut index: HashMap<(PoolTag, PoolKind), usize> =
        HashMap::with_capacity_and_hasher(rows, Default::default());
    let mut table = SeriesTable {
        n,
        series: Vec::with_capacity(rows),
        bytes: Vec::with_capacity(rows * n),
        outstanding: Vec::with_capacity(rows * n),
        facts: Vec::with_capacity(rows),
        hours: series_hours(snapshots),
    };
    for (si, snap) in snapshots.iter().enumerate() {
        for row in &snap.rows {
            let i = *index.entry((row.tag, row.pool)).or_insert_with(|| {
                table.series.push(Series {
                    tag: row.tag,
                    pool: row.pool,
                    texts: None,
                });
                table.bytes.resize(table.bytes.len() + n, 0);
                table.outstanding.resize(table.outstanding.len() + n, None);
                table.facts.push(RowFacts::default());
                table.series.len() - 1
            });
            table.facts[i] = RowFacts {
                allocs: row.allocs,
                frees: row.frees,
                precision: row.precision,
                line: row.line,
                file: snap.file,
            };
            let at = i * n + si;
            table.bytes[at] = table.bytes[at].saturating_add(row.bytes);
            if let Some(o) = row.outstanding_or_derived() {
                let slot = &mut table.outstanding[at];
                *slot = Some(slot.unwrap_or(0).saturating_add(o));
            }
            if row.mapped_driver.is_none() && row.callers.is_empty() {
                continue;
            }
            let texts = table.series[i].texts.get_or_insert_default();
            if let Some(m) = row.mapped_driver.as_deref()
                && texts.mapped.len() < 4
                && !texts.mapped.contains(&m)
            {
                texts.mapped.push(m);
            }
            for c in &row.callers {
                if texts.callers.len() < 16 && !texts.callers.contains(&c.as_str()) {
                    texts.callers.push(c);
                }
            }
        }
    }
    table
}

/// The machine's totals: the latest printed, and sums over the latest snapshot's rows.
pub(super) fn machine_totals(snapshots: &[Snapshot]) -> MachineTotals {
    let mut m = MachineTotals::default();
    let Some(last) = snapshots.last() else {
        return m;
    };
    // The latest totals printed (a series often has them only on some frames).
    let totals = snapshots.iter().rev().find_map(|s| s.totals.as_ref());
    if let Some(t) = totals {
        let kib = |v: Option<u64>| v.map(|k| k.saturating_mul(1024));
        m.memory_bytes = kib(t.memory_kib);
        m.commit_bytes = kib(t.commit_kib);
        m.commit_limit_bytes = kib(t.commit_limit_kib);
        m.paged_pool_bytes = t.paged_bytes;
        m.nonpaged_pool_bytes = t.nonpaged_bytes;
    }
    for row in &last.rows {
        let slot = match row.pool {
            PoolKind::Paged => &mut m.rows_paged_bytes,
            PoolKind::NonPaged => &mut m.rows_nonpaged_bytes,
            PoolKind::Session | PoolKind::Unknown => &mut m.rows_other_bytes,
        };
        *slot = slot.saturating_add(row.bytes);
    }
    m
}

/// A pool's total: printed when the tool printed one at least the rows' sum, else that sum.
pub(super) fn pool_total(machine: &MachineTotals, pool: PoolKind) -> u64 {
    match pool {
        PoolKind::Paged => machine
            .paged_pool_bytes
            .filter(|&t| t >= machine.rows_paged_bytes)
            .unwrap_or(machine.rows_paged_bytes),
        PoolKind::NonPaged => machine
            .nonpaged_pool_bytes
            .filter(|&t| t >= machine.rows_nonpaged_bytes)
            .unwrap_or(machine.rows_nonpaged_bytes),
        PoolKind::Session | PoolKind::Unknown => machine.rows_other_bytes,
    }
}

/// How two growing tags were seen to move together.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Lockstep {
    /// Per-interval growth correlates (r ≥ 0.9 over at least three intervals).
    Correlated { r: f64, intervals: usize },
    /// One interval: the same growth.
    SameAmount(f64, f64),
    /// The same growth ratio in every interval.
    SameRatio(f64),
}

/// Tags whose outstanding allocations move in lockstep, as positions in `tags`.
pub(super) struct GrowingTogether {
    /// Positions in the ranked list, best first.
    pub members: Vec<usize>,
    pub lockstep: Option<Lockstep>,
}

/// Whether a tag's growth is large enough to group: growing, steady, and large against the
/// tag's size (two tags that each grew by a couple of allocations are not one cause).
pub(super) fn groupable(growth: Option<&Growth>, bytes: u64) -> bool {
    growth.is_some_and(|g| {
        g.delta_bytes > 0
            && g.steadiness >= 0.5
            && g.delta_bytes >= GROUP_MIN_GROWTH_BYTES
            && g.delta_bytes as f64 >= 0.05 * bytes as f64
    })
}

/// Groups of growing tags whose outstanding allocations move together. `ranked` gives, in rank
/// order, each tag's series index and whether its growth qualifies ([`groupable`]).
pub(super) fn growing_together(
    table: &SeriesTable<'_>,
    ranked: impl Iterator<Item = (usize, bool)>,
) -> Vec<GrowingTogether> {
    // Two points always "move together"; it takes three to see a shared course.
    if table.n < 3 {
        return Vec::new();
    }
    let (growing, d): (Vec<usize>, Vec<Vec<f64>>) = ranked
        .enumerate()
        .filter(|&(_, (_, qualifies))| qualifies)
        .map(|(pos, (series, _))| (pos, table.deltas(series)))
        .filter(|(_, deltas)| deltas.iter().sum::<f64>() > 0.0)
        .take(100)
        .unzip();
    let mut parent: Vec<usize> = (0..growing.len()).collect();
    fn find(p: &mut [usize], mut i: usize) -> usize {
        while p[i] != i {
            p[i] = p[p[i]];
            i = p[i];
        }
        i
    }
    let mut reason_of: HashMap<usize, Lockstep> = HashMap::default();
    for a in 0..growing.len() {
        for b in a + 1..growing.len() {
            if let Some(reason) = moves_together(&d[a], &d[b]) {
                let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
                if ra != rb {
                    parent[rb] = ra;
                    reason_of.entry(ra).or_insert(reason);
                }
            }
        }
    }
    let mut members: HashMap<usize, Vec<usize>> = HashMap::default();
    for i in 0..growing.len() {
        let root = find(&mut parent, i);
        members.entry(root).or_default().push(i);
    }
    let mut roots: Vec<(usize, Vec<usize>)> =
        members.into_iter().filter(|(_, m)| m.len() > 1).collect();
    roots.sort_by_key(|(_, m)| m[0]);
    roots
        .into_iter()
        .map(|(root, m)| GrowingTogether {
            members: m.iter().map(|&i| growing[i]).collect(),
            lockstep: reason_of.remove(&root),
        })
        .collect()
}

/// Two per-interval growth series move together: correlation ≥ 0.9 over at least three
/// intervals, or (fewer intervals) the same growth ratio in every interval.
pub(super) fn moves_together(a: &[f64], b: &[f64]) -> Option<Lockstep> {
    let intervals = a.len().min(b.len());
    if intervals == 0 {
        return None;
    }
    if intervals >= 3
        && let Some(r) = pearson(a, b)
    {
        return (r >= 0.9).then_some(Lockstep::Correlated { r, intervals });
    }
    if a.iter().chain(b).any(|&d| d <= 0.0) {
        return None;
    }
    let ratios: Vec<f64> = a.iter().zip(b).map(|(x, y)| x / y).collect();
    let first = ratios[0];
    let same_ratio = ratios.iter().all(|r| (r / first - 1.0).abs() <= 0.1);
    if intervals == 1 {
        // One interval: only an equal growth counts.
        ((first - 1.0).abs() <= 0.1).then_some(Lockstep::SameAmount(a[0], b[0]))
    } else {
        same_ratio.then_some(Lockstep::SameRatio(first))
    }
}

/// Hours since the first snapshot, when every snapshot has a time and they span some time.
fn series_hours(snaps: &[Snapshot]) -> Option<Vec<f64>> {
    if snaps.len() < 2 {
        return None;
    }
    let times: Option<Vec<OffsetDateTime>> = snaps.iter().map(|s| s.taken_at).collect();
    // Without times, the input's own clock (an uptime column, a change's stated period).
    let hours: Vec<f64> = match times {
        Some(times) => times
            .iter()
            .map(|t| (*t - times[0]).as_seconds_f64() / 3600.0)
            .collect(),
        None => {
            let elapsed: Vec<f64> = snaps
                .iter()
                .map(|s| s.elapsed_hours)
                .collect::<Option<_>>()?;
            elapsed.iter().map(|h| h - elapsed[0]).collect()
        }
    };
    let spread = hours.iter().copied().fold(f64::MIN, f64::max)
        - hours.iter().copied().fold(f64::MAX, f64::min);
    (spread > 0.0).then_some(hours)
}

/// `b - a` without overflow (saturating at the i64 range).
fn signed_delta(a: u64, b: u64) -> i64 {
    (i128::from(b) - i128::from(a)).clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// `v` rounded to `decimals` places (0 for what is not finite): the JSON's numbers.
pub(super) fn round(v: f64, decimals: i32) -> f64 {
    if !v.is_finite() {
        return 0.0;
    }
    let f = 10f64.powi(decimals);
    (v * f).round() / f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_together_is_detected() {
        assert!(moves_together(&[10.0, 20.0, 5.0], &[20.0, 41.0, 10.0]).is_some());
        assert!(moves_together(&[10.0, 20.0, 5.0], &[20.0, 1.0, 30.0]).is_none());
        assert!(moves_together(&[6.0], &[6.0]).is_some());
        assert!(moves_together(&[6.0], &[60.0]).is_none());
        assert!(moves_together(&[6.0, 12.0], &[3.0, 6.0]).is_some());
    }
}
