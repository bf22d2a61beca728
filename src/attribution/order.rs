//! The order of a series. A snapshot's time, when every snapshot has one, orders it. Without
//! times, poolmon's `Allocs` and `Frees` do: they count allocations and frees since boot and
//! only grow, so of two snapshots of one machine the later has the larger counts. Only when
//! neither is there do the snapshots stay in the order they were sent, which a file picker
//! decides (`after.txt` before `before.txt`).

use rustc_hash::FxHashMap as HashMap;

use super::model::{CounterCheck, OrderBasis};
use crate::snapshot::{PoolKind, Snapshot};
use crate::tag::PoolTag;

/// At most one tag in this many may count down between two snapshots in order (a 32-bit
/// counter that wrapped) before the counts are taken to disagree with that order.
const WRAPPED_COUNTERS: usize = 20;

/// How [`order`] put the snapshots in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeriesOrdering {
    pub basis: OrderBasis,
    pub counters: CounterCheck,
    /// The order used is not the order sent.
    pub moved: bool,
}

impl Default for SeriesOrdering {
    fn default() -> Self {
        Self {
            basis: OrderBasis::Single,
            counters: CounterCheck::Unavailable,
            moved: false,
        }
    }
}

/// Puts `snapshots` (in the order sent) oldest first: by their times when every one has a
/// time, else by their counts since boot when those give one order, else as sent.
pub(super) fn order(snapshots: &mut Vec<Snapshot>) -> SeriesOrdering {
    if snapshots.len() < 2 {
        return SeriesOrdering::default();
    }
    let sent: Vec<usize> = (0..snapshots.len()).collect();
    let (basis, counters, permutation) = if snapshots.iter().all(|s| s.taken_at.is_some()) {
        let mut by_time = sent.clone();
        by_time.sort_by_key(|&i| snapshots[i].taken_at);
        (OrderBasis::Times, check(snapshots, &by_time), by_time)
    } else {
        match by_counters(snapshots) {
            None => (
                OrderBasis::UploadOrder,
                CounterCheck::Unavailable,
                sent.clone(),
            ),
            Some(by_counts) => match check(snapshots, &by_counts) {
                CounterCheck::Agree => (OrderBasis::Counters, CounterCheck::Agree, by_counts),
                other => (OrderBasis::UploadOrder, other, sent.clone()),
            },
        }
    };
    let moved = permutation != sent;
    if moved {
        let mut taken: Vec<Option<Snapshot>> = snapshots.drain(..).map(Some).collect();
        snapshots.extend(permutation.iter().filter_map(|&i| taken[i].take()));
    }
    SeriesOrdering {
        basis,
        counters,
        moved,
    }
}

/// The snapshots' positions ordered by their counts since boot: the sum of `Allocs` and
/// `Frees` over the tags every snapshot counts (a sum that only grows with time). `None`
/// when no tag is counted in every snapshot.
fn by_counters(snapshots: &[Snapshot]) -> Option<Vec<usize>> {
    let mut seen: HashMap<(PoolTag, PoolKind), (usize, usize)> = HashMap::default();
    for (i, s) in snapshots.iter().enumerate() {
        for row in s
            .rows
            .iter()
            .filter(|r| r.allocs.is_some() && r.frees.is_some())
        {
            let slot = seen.entry((row.tag, row.pool)).or_insert((0, usize::MAX));
            if slot.1 != i {
                *slot = (slot.0 + 1, i);
            }
        }
    }
    seen.retain(|_, (count, _)| *count == snapshots.len());
    if seen.is_empty() {
        return None;
    }
    let keys: Vec<u128> = snapshots
        .iter()
        .map(|s| {
            s.rows
                .iter()
                .filter(|r| seen.contains_key(&(r.tag, r.pool)))
                .map(|r| u128::from(r.allocs.unwrap_or(0)) + u128::from(r.frees.unwrap_or(0)))
                .sum()
        })
        .collect();
    let mut positions: Vec<usize> = (0..snapshots.len()).collect();
    // Stable: snapshots with the same counts keep the order they were sent in.
    positions.sort_by_key(|&i| keys[i]);
    Some(positions)
}

/// Whether the counts since boot agree with `order`: between each snapshot and the next, the
/// tags both count go up (or stay), all but a wrapped counter or two.
fn check(snapshots: &[Snapshot], order: &[usize]) -> CounterCheck {
    let mut compared = false;
    for pair in order.windows(2) {
        let (earlier, later) = (&snapshots[pair[0]], &snapshots[pair[1]]);
        let counts: HashMap<(PoolTag, PoolKind), (u64, u64)> = earlier
            .rows
            .iter()
            .filter_map(|r| Some(((r.tag, r.pool), (r.allocs?, r.frees?))))
            .collect();
        let (mut up, mut down) = (0usize, 0usize);
        for row in &later.rows {
            let (Some(allocs), Some(frees)) = (row.allocs, row.frees) else {
                continue;
            };
            let Some(&(a, f)) = counts.get(&(row.tag, row.pool)) else {
                continue;
            };
            if allocs < a || frees < f {
                down += 1;
            } else if allocs > a || frees > f {
                up += 1;
            }
        }
        if up + down == 0 {
            continue;
        }
        compared = true;
        if down * WRAPPED_COUNTERS > up + down {
            return CounterCheck::Disagree;
        }
    }
    if compared {
        CounterCheck::Agree
    } else {
        CounterCheck::Unavailable
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::PoolUsage;

    fn snapshot(file: usize, counts: &[(&str, u64, u64)]) -> Snapshot {
        Snapshot {
            file,
            rows: counts
                .iter()
                .map(|&(tag, allocs, frees)| PoolUsage {
                    allocs: Some(allocs),
                    frees: Some(frees),
                    ..PoolUsage::new(PoolTag::parse(tag).unwrap(), PoolKind::NonPaged, 4096)
                })
                .collect(),
            ..Snapshot::default()
        }
    }

    #[test]
    fn counts_since_boot_order_snapshots_sent_in_any_order() {
        let before = snapshot(0, &[("Leak", 100, 10), ("Io", 5000, 4990)]);
        let middle = snapshot(1, &[("Leak", 200, 10), ("Io", 6000, 5990)]);
        let after = snapshot(2, &[("Leak", 300, 10), ("Io", 7000, 6990)]);
        let mut sent = vec![after, before, middle];
        let ordering = order(&mut sent);
        assert_eq!(ordering.basis, OrderBasis::Counters);
        assert!(ordering.moved);
        let files: Vec<usize> = sent.iter().map(|s| s.file).collect();
        assert_eq!(files, [0, 1, 2]);
        // In order already: nothing moves.
        let ordering = order(&mut sent);
        assert_eq!(
            (ordering.basis, ordering.moved),
            (OrderBasis::Counters, false)
        );
    }

    #[test]
    fn counts_that_fall_and_rise_give_no_order() {
        // A restart between: one tag's counts fall while another's rise.
        let a = snapshot(0, &[("Leak", 100, 10), ("Io", 5000, 4990)]);
        let b = snapshot(1, &[("Leak", 50, 5), ("Io", 9000, 8990)]);
        let mut sent = vec![a, b];
        let ordering = order(&mut sent);
        assert_eq!(ordering.basis, OrderBasis::UploadOrder);
        assert_eq!(ordering.counters, CounterCheck::Disagree);
        assert!(!ordering.moved);
    }

    #[test]
    fn without_counts_or_times_the_order_sent_stands() {
        let mut bare = vec![Snapshot::default(), Snapshot::default()];
        bare[1].file = 1;
        let ordering = order(&mut bare);
        assert_eq!(ordering.basis, OrderBasis::UploadOrder);
        assert_eq!(ordering.counters, CounterCheck::Unavailable);
    }
}
