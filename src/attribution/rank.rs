//! Scores and ranking, on numbers only: each tag's score from its size against what is normal
//! for it and its growth, the tags in rank order, each driver's share of the tags it may own,
//! and how firm the verdict is.
//!
//! * **Tag score.** `normal` is the tag's typical maximum from `data/normal_tags.csv`, else
//!   32 MiB. One snapshot: `score = bytes / normal`. A series: `score = growth / normal ×
//!   steadiness + bytes / normal / 10`, where `growth` is the least-squares slope over all
//!   points projected over a day (bytes/hour × 24), or over the whole series when the snapshots
//!   carry no times, counted only when positive; `steadiness = R² × share of rising intervals`.
//! * **Counts when sizes are missing.** A paste that gives counts but no sizes is scored on
//!   its outstanding allocations the same way, against [`NORMAL_OUTSTANDING`] instead of a
//!   size.
//! * **Candidate weight** = evidence ([`EvidenceKind::weight`]) × 0.25 when a driver list is
//!   given and the driver is not in it × 0.3 for OS components.
//! * **Driver score** = Σ over its tags of `tag score × candidate weight ÷ number of drivers
//!   named for that tag`.

use super::Analyzer;
use super::candidates::{Cand, Cands, answer_owner};
use super::model::{AnswerKind, EvidenceKind, Growth, OwnerKind, Suspect, VerdictStrength};
use super::normal::{DEFAULT_NORMAL_MIB, NormalTag};
use super::series::{RowFacts, SeriesTable};
use crate::knowledge::TagEntry;
use crate::snapshot::{Caveat, PoolKind};
use crate::tag::PoolTag;

/// One (tag, pool) while ranking: what every tag needs. The full
/// [`Finding`](super::model::Finding) is built only for the tags the answer shows.
pub(super) struct Work<'a> {
    /// Index into the [`SeriesTable`].
    pub series: usize,
    pub tag: PoolTag,
    pub pool: PoolKind,
    /// Latest snapshot.
    pub bytes: u64,
    pub size_ratio: f64,
    /// Boxed: a single snapshot has none, and a small `Work` moves cheaply.
    pub growth: Option<Box<Growth>>,
    pub score: f64,
    /// Index into the groups of tags growing together.
    pub group: Option<usize>,
    pub cands: Cands<'a>,
    /// The first entry with a description.
    pub described: Option<&'a TagEntry>,
    /// Allocations still held in the latest snapshot.
    pub outstanding: Option<u64>,
    /// The latest row's counts since boot, precision and line.
    pub facts: RowFacts,
}

impl Work<'_> {
    /// Whether the knowledge base describes the tag (a description, whoever owns it).
    pub fn is_described(&self) -> bool {
        self.described
            .is_some_and(|e| !e.description.trim().is_empty())
    }
}

/// A tag's normal size: its typical maximum, else the default.
pub(super) fn normal_bytes(normal: Option<&NormalTag>) -> u64 {
    normal.map_or(DEFAULT_NORMAL_MIB * 1024 * 1024, |r| r.typical_max_bytes)
}

/// A driver's summed share of the tags it may own, and the shares it is made of.
pub(super) struct DriverScore<'r, 'a> {
    pub name: &'r str,
    pub score: f64,
    /// (position of the tag in the ranked list, candidate, contribution), largest first.
    pub shares: Vec<(usize, &'r Cand<'a>, f64)>,
}

/// The drivers shown, best first, and the sum of every driver's score.
pub(super) struct DriverRanking<'r, 'a> {
    pub drivers: Vec<DriverScore<'r, 'a>>,
    pub total: f64,
}

impl<'a> Analyzer<'a> {
    /// Scores series `i` of the table, with its candidates.
    pub(super) fn measure(
        &self,
        table: &SeriesTable<'a>,
        i: usize,
        cands: Cands<'a>,
        described: Option<&'a TagEntry>,
    ) -> Work<'a> {
        let n = table.n;
        let s = &table.series[i];
        let history = table.bytes(i);
        let bytes = history.last().copied().unwrap_or(0);
        let normal_bytes = normal_bytes(self.normal.get(s.tag, s.pool));
        let size_ratio = bytes as f64 / normal_bytes as f64;
        let growth = (n >= 2).then(|| Box::new(table.growth(i)));
        let facts = table.facts(i);
        let outstanding = table.last_outstanding(i).or_else(|| {
            facts
                .allocs
                .zip(facts.frees)
                .and_then(|(a, f)| a.checked_sub(f))
        });
        let score = if facts.bytes_unknown() {
            // No sizes: the outstanding allocations and their growth stand for them.
            let level = outstanding.unwrap_or(0) as f64 / NORMAL_OUTSTANDING;
            match &growth {
                None => level,
                Some(g) => {
                    let projected = match (g.allocs_per_hour, &table.hours) {
                        (Some(per_hour), Some(_)) => per_hour * 24.0,
                        _ => g.allocs_per_sample.unwrap_or(0.0) * (n - 1) as f64,
                    };
                    projected.max(0.0) / NORMAL_OUTSTANDING * g.steadiness + level / 10.0
                }
            }
        } else {
            match &growth {
                None => size_ratio,
                Some(g) => {
                    let projected = match (g.bytes_per_hour, &table.hours) {
                        (Some(per_hour), Some(_)) => per_hour * 24.0,
                        _ => g.bytes_per_sample * (n - 1) as f64,
                    };
                    projected.max(0.0) / normal_bytes as f64 * g.steadiness + size_ratio / 10.0
                }
            }
        };
        Work {
            series: i,
            tag: s.tag,
            pool: s.pool,
            bytes,
            size_ratio,
            growth,
            score: if score.is_finite() { score } else { 0.0 },
            group: None,
            cands,
            described,
            outstanding,
            facts,
        }
    }

    /// Sums each driver's shares over the ranked tags and keeps the drivers shown.
    pub(super) fn rank_drivers<'r>(&'r self, work: &'r [&mut Work<'a>]) -> DriverRanking<'r, 'a> {
        // Every candidate's share of its tag's score, in rank order, noting which driver sum it
        // goes to. Summed per driver in a dense list of the drivers named, found through one
        // small array by driver number (a hash entry per candidate cost more than the rest of
        // this pass). Each sum keeps one of the driver's candidates to name it by.
        const NONE: u32 = u32::MAX;
        let mut slot = vec![NONE; self.driver_count()];
        let mut sums: Vec<(&Cand<'a>, f64)> = Vec::new();
        // (sum, work item, candidate, contribution): the evidence of the drivers shown is
        // gathered from this flat list, without walking the tags again.
        let mut shares: Vec<(u32, u32, &Cand<'a>, f64)> = Vec::with_capacity(work.len());
        for (wi, w) in work.iter().enumerate() {
            if w.cands.is_empty() || w.score <= 0.0 {
                continue;
            }
            let claimants = w.cands.len() as f64;
            for c in &w.cands {
                let contribution = w.score * c.weight / claimants;
                let at = &mut slot[c.driver_id as usize];
                if *at == NONE {
                    *at = sums.len() as u32;
                    sums.push((c, 0.0));
                }
                sums[*at as usize].1 += contribution;
                shares.push((*at, wi as u32, c, contribution));
            }
        }
        let total: f64 = sums.iter().map(|(_, score)| score).sum();
        let ranked = self.top_drivers(&sums);
        // Which rank (index into `ranked`) each sum has, if it is shown.
        let mut rank_of_sum = vec![NONE; sums.len()];
        for (rank, &(_, _, sum)) in ranked.iter().enumerate() {
            rank_of_sum[sum as usize] = rank as u32;
        }
        let mut items: Vec<Vec<(usize, &Cand<'a>, f64)>> = vec![Vec::new(); ranked.len()];
        for &(sum, wi, c, contribution) in &shares {
            let rank = rank_of_sum[sum as usize];
            if rank != NONE {
                items[rank as usize].push((wi as usize, c, contribution));
            }
        }
        let drivers = ranked
            .into_iter()
            .zip(items)
            .map(|((name, score, _), mut shares)| {
                shares.sort_by(|x, y| y.2.total_cmp(&x.2));
                DriverScore {
                    name,
                    score,
                    shares,
                }
            })
            .collect();
        DriverRanking { drivers, total }
    }

    /// The drivers shown, best first: highest score, then name. Only the drivers that can
    /// make the cut read their names (a name is a cache miss in the view's name table, and a
    /// snapshot can name thousands of drivers). Returns (name, score, index into `sums`).
    fn top_drivers<'s>(&'s self, sums: &[(&'s Cand<'a>, f64)]) -> Vec<(&'s str, f64, u32)> {
        let keep = self.options.max_suspects;
        let mut scores: Vec<(f64, u32)> = sums
            .iter()
            .enumerate()
            .map(|(i, &(_, score))| (score, i as u32))
            .collect();
        if scores.len() > keep {
            if keep == 0 {
                return Vec::new();
            }
            // The score of the last driver shown; drivers tied with it are told apart by name.
            let (_, &mut (cut, _), _) =
                scores.select_nth_unstable_by(keep - 1, |a, b| b.0.total_cmp(&a.0));
            scores.retain(|(score, _)| score.total_cmp(&cut).is_ge());
        }
        let mut ranked: Vec<(&str, f64, u32)> = scores
            .into_iter()
            .map(|(score, i)| (self.name(sums[i as usize].0), score, i))
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        ranked.truncate(keep);
        ranked
    }
}

/// The tags in rank order: score, then bytes (both descending), tag and pool.
pub(super) fn rank<'w, 'a>(unsorted: &'w mut [Work<'a>]) -> Vec<&'w mut Work<'a>> {
    // The work items stay in place and are reached through references.
    let order = rank_order(unsorted.len(), |i| rank_key(&unsorted[i]));
    let mut slots: Vec<Option<&mut Work<'a>>> = unsorted.iter_mut().map(Some).collect();
    order
        .into_iter()
        .filter_map(|i| slots[i as usize].take())
        .collect()
}

/// The indices `0..n` in the order of their keys (ties, which keys make impossible only when
/// two items are equal, by index). A radix sort of (the first key word's top 32 bits, index)
/// pairs first: four passes, stable, so equal prefixes keep their indices in order (3,000 tags
/// cost about a third of a comparison sort of the pairs). Each run of equal prefixes (rare:
/// scores equal in sign, exponent and 20 bits of mantissa) is then sorted on the whole key.
fn rank_order(n: usize, key: impl Fn(usize) -> [u64; 3]) -> Vec<u32> {
    let mut order: Vec<(u32, u32)> = (0..n)
        .map(|i| ((key(i)[0] >> 32) as u32, i as u32))
        .collect();
    radsort::sort_by_key(&mut order, |&(prefix, _)| prefix);
    for tied in order.chunk_by_mut(|a, b| a.0 == b.0) {
        if tied.len() > 1 {
            tied.sort_by_cached_key(|&(_, i)| key(i as usize));
        }
    }
    order.into_iter().map(|(_, i)| i).collect()
}

/// Sorts as [`rank`] ranks: score and bytes descending, then tag and pool.
fn rank_key(w: &Work<'_>) -> [u64; 3] {
    // `f64::total_cmp`'s order as unsigned integers, inverted for descending.
    let bits = w.score.to_bits() as i64;
    let total_order = (bits ^ (((bits >> 63) as u64) >> 1) as i64) as u64 ^ (1 << 63);
    // Tags order by their bytes, pools in declaration order.
    let tag = u64::from(u32::from_be_bytes(*w.tag.bytes()));
    [!total_order, !w.bytes, tag << 8 | w.pool as u64]
}

/// Outstanding allocations of one tag that count as much as a tag at its normal size, for
/// pastes that give counts but no sizes.
pub(super) const NORMAL_OUTSTANDING: f64 = 100_000.0;

/// Outstanding allocations of one tag that are abnormal whatever their size ("Diff over a
/// million").
const MANY_OUTSTANDING: u64 = 1_000_000;

/// What a tag's counts say, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CountSignal {
    /// Outstanding allocations grow steadily (by at least 5% of the count, or 10,000).
    Growing { from: u64, to: u64 },
    /// Allocated far more often than freed (frees at most 1% of allocations, at least 1,000
    /// allocations): a leak's signature. In a table of changes over a period, allocations
    /// without frees.
    AllocsFarAboveFrees { allocs: u64, frees: u64 },
    /// Over a million allocations held.
    ManyOutstanding(u64),
}

/// The strongest thing a tag's counts say, if any.
pub(super) fn count_signal(w: &Work<'_>) -> Option<CountSignal> {
    if let Some(g) = w.growth.as_deref()
        && let (Some(delta), Some(to)) = (g.delta_outstanding, w.outstanding)
        && delta > 0
        && g.allocs_steadiness.unwrap_or(0.0) >= 0.6
        && (delta as f64 >= 0.05 * to as f64 || delta >= 10_000)
    {
        let from = to.saturating_sub(delta.unsigned_abs());
        return Some(CountSignal::Growing { from, to });
    }
    if let (Some(allocs), Some(frees)) = (w.facts.allocs, w.facts.frees)
        && allocs >= 1_000
        && frees.saturating_mul(100) <= allocs
    {
        return Some(CountSignal::AllocsFarAboveFrees { allocs, frees });
    }
    w.outstanding
        .filter(|&o| o >= MANY_OUTSTANDING)
        .map(CountSignal::ManyOutstanding)
}

/// Growth that counts as a leak: steady, and large against the tag's size.
fn grows_steadily(w: &Work<'_>) -> bool {
    w.growth.as_ref().is_some_and(|g| {
        g.delta_bytes > 0
            && g.steadiness >= 0.6
            && (g.delta_bytes as f64 >= 0.05 * w.bytes as f64 || g.delta_bytes >= 16 << 20)
    })
}

/// Is anything abnormal: a tag above what is normal for it, a steady grower, or counts that
/// say so?
fn abnormal(work: &[&mut Work<'_>]) -> bool {
    work.iter()
        .take(20)
        .any(|w| w.size_ratio >= 1.0 || grows_steadily(w) || count_signal(w).is_some())
}

/// What the ranking says, before any words: nothing to rank, nothing abnormal (only over a
/// reading without caveats), what cannot be told, or the top tag's owner as far as the
/// evidence goes.
pub(super) fn diagnose(work: &[&mut Work<'_>], caveats: &[Caveat]) -> AnswerKind {
    let Some(top) = work.first() else {
        return AnswerKind::NoData;
    };
    if !abnormal(work) {
        // "Nothing abnormal" is said only over a complete reading: every row read, from a
        // tool's table, of levels (not changes), in one state.
        return if caveats.is_empty() {
            AnswerKind::NothingAbnormal
        } else {
            AnswerKind::Inconclusive
        };
    }
    match answer_owner(&top.cands) {
        OwnerKind::ThirdParty => AnswerKind::ThirdPartyDriver,
        OwnerKind::Os => AnswerKind::WindowsOwned,
        OwnerKind::Unknown | OwnerKind::KnownOwnerUnclear if top.is_described() => {
            AnswerKind::KnownOwnerUnclear
        }
        OwnerKind::Unknown | OwnerKind::KnownOwnerUnclear => AnswerKind::UnknownTag,
    }
}

/// A top tag scoring below this is no evidence of a leak, however steadily it grows: its growth
/// over a day (or over the series, without times) is under 1% of what is normal for it, and
/// its size is far below normal (a 22 KiB tag growing by 2 KiB scores 0.000).
pub(super) const LEAK_EVIDENCE_SCORE: f64 = 0.01;

/// Whether the top tag grows by enough to be evidence: in bytes, or in outstanding allocations
/// where the input gives no sizes, and with a score that counts.
pub(super) fn top_grows(top: &Work<'_>) -> bool {
    top.score >= LEAK_EVIDENCE_SCORE
        && top.growth.as_ref().is_some_and(|g| {
            (g.delta_bytes > 0 || top.facts.bytes_unknown() && g.delta_outstanding > Some(0))
                && g.steadiness > 0.0
        })
}

/// How firm the verdict is: weak for one snapshot or no growth at the top that counts as
/// evidence, strong for steady growth over three or more snapshots pinned on a third-party
/// driver by firm evidence.
pub(super) fn strength(n: usize, work: &[&mut Work<'_>], suspects: &[Suspect]) -> VerdictStrength {
    if n < 2 {
        return VerdictStrength::Weak;
    }
    let Some(top) = work.first() else {
        return VerdictStrength::Weak;
    };
    if !top_grows(top) {
        return VerdictStrength::Weak;
    }
    let steady = top.growth.as_ref().is_some_and(|g| g.steadiness >= 0.8);
    let pinned = suspects.first().is_some_and(|s| {
        !s.os_component
            && matches!(
                s.best_evidence,
                EvidenceKind::VerifierCaller
                    | EvidenceKind::CodeSite
                    | EvidenceKind::KmdfDefault
                    | EvidenceKind::List
            )
    });
    if n >= 3 && steady && pinned {
        VerdictStrength::Strong
    } else {
        VerdictStrength::Moderate
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The radix order is the order of a full sort on (key, index), with few distinct
        /// first words (runs of equal prefixes are common) or first words that differ only
        /// below the 32 bits the radix pass reads.
        #[test]
        fn rank_order_is_a_full_sort_of_the_keys(
            keys in prop::collection::vec((0u64..4, any::<u64>(), any::<u64>(), 0u64..3), 0..400),
            spread in 0u8..3,
        ) {
            let keys: Vec<[u64; 3]> = keys
                .into_iter()
                .map(|(a, random, b, c)| {
                    let first = match spread {
                        0 => a,
                        1 => a.wrapping_mul(0x9e37_79b9_7f4a_7c15),
                        _ => random,
                    };
                    [first, b, c]
                })
                .collect();
            let mut expected: Vec<u32> = (0..keys.len() as u32).collect();
            expected.sort_by_key(|&i| (keys[i as usize], i));
            prop_assert_eq!(rank_order(keys.len(), |i| keys[i]), expected);
        }
    }
}
