//! What was read, shown back: the top tags of the latest reading with the line each came from,
//! the states kept as context and the machine totals, so a person checks the reading at a
//! glance before trusting the answer.

use super::input::AnalysisInput;
use super::model::{ReadState, ReadValue, SourceRef};
use crate::format::{human_bytes, thousands};
use crate::snapshot::{Caveat, PoolKind, PoolTotals, PoolUsage, Precision, Snapshot};

/// Tags of the latest reading shown back.
const TOP_TAGS: usize = 8;

/// Characters of a source line shown.
const LINE_CHARS: usize = 160;

/// The values read, largest of the latest reading first, then the context states and totals.
pub(super) fn read_back(input: &AnalysisInput) -> Vec<ReadValue> {
    let Some(latest) = input.snapshots.last() else {
        return Vec::new();
    };
    let top = largest_rows(&latest.rows);
    let mut out: Vec<ReadValue> = Vec::new();
    let earlier = input
        .snapshots
        .len()
        .checked_sub(2)
        .map(|i| &input.snapshots[i]);
    // A table of changes gives the changes only: the earlier level is computed, not read, so
    // the change is what is shown.
    let changes = input.caveats.contains(&Caveat::Changes);
    for r in &top {
        let mut v = value(r, latest, ReadState::Latest);
        if changes {
            let before =
                earlier.and_then(|e| e.rows.iter().find(|x| x.tag == r.tag && x.pool == r.pool));
            v.value = change_shown(r, before);
        }
        out.push(v);
    }
    let earlier = earlier.filter(|_| !changes);
    for (snap, state) in earlier
        .map(|s| (s, ReadState::Earlier))
        .into_iter()
        .chain(input.context.iter().map(|s| (s, ReadState::AfterChange)))
    {
        for r in snap
            .rows
            .iter()
            .filter(|r| top.iter().any(|t| t.tag == r.tag))
        {
            out.push(value(r, snap, state));
        }
    }
    for (snap, state) in std::iter::once((latest, ReadState::Latest))
        .chain(input.context.iter().map(|s| (s, ReadState::AfterChange)))
    {
        if let Some(t) = &snap.totals {
            out.extend(totals(t, snap, state));
        }
    }
    out
}

/// The [`TOP_TAGS`] rows a person looks for first: sizes before counts, largest first, then by
/// tag. One pass keeping the best few in order: a table holds thousands of rows.
fn largest_rows(rows: &[PoolUsage]) -> Vec<&PoolUsage> {
    let rank = |r: &PoolUsage| {
        let value = if r.precision == Precision::Unknown {
            (0, r.outstanding_or_derived().or(r.allocs).unwrap_or(0))
        } else {
            (1, r.bytes)
        };
        (value, std::cmp::Reverse(r.tag))
    };
    let mut top: Vec<(_, &PoolUsage)> = Vec::with_capacity(TOP_TAGS + 1);
    for r in rows {
        let key = rank(r);
        if top.len() == TOP_TAGS && key <= top[TOP_TAGS - 1].0 {
            continue;
        }
        let at = top.partition_point(|(k, _)| *k > key);
        top.insert(at, (key, r));
        top.truncate(TOP_TAGS);
    }
    top.into_iter().map(|(_, r)| r).collect()
}

/// A change as the paste gave it: `+750 KiB; 1,999 allocs, 0 frees`, `+1,006,714 allocations`.
fn change_shown(now: &PoolUsage, before: Option<&PoolUsage>) -> String {
    let mut parts = Vec::new();
    if now.precision != Precision::Unknown {
        let from = before.map_or(0, |b| b.bytes);
        parts.push(format!("+{}", human_bytes(now.bytes.saturating_sub(from))));
    }
    match (now.allocs, now.frees, now.outstanding_or_derived()) {
        (Some(a), Some(f), _) => {
            parts.push(format!("{} allocs, {} frees", thousands(a), thousands(f)));
        }
        (_, _, Some(n)) => {
            let from = before
                .and_then(PoolUsage::outstanding_or_derived)
                .unwrap_or(0);
            parts.push(format!(
                "+{} allocations",
                thousands(n.saturating_sub(from))
            ));
        }
        _ => {}
    }
    parts.join("; ")
}

fn value(r: &PoolUsage, snap: &Snapshot, state: ReadState) -> ReadValue {
    let counts = || {
        let mut parts = Vec::new();
        if let Some(o) = r.outstanding {
            parts.push(format!("{} held", thousands(o)));
        }
        if let Some(a) = r.allocs {
            parts.push(format!("{} allocated", thousands(a)));
        }
        if let Some(f) = r.frees {
            parts.push(format!("{} freed", thousands(f)));
        }
        parts
    };
    let shown = match r.precision {
        Precision::Unknown => {
            let c = counts();
            if c.is_empty() {
                "no size given".to_owned()
            } else {
                format!("{}; no size given", c.join(", "))
            }
        }
        Precision::Exact => human_bytes(r.bytes),
        Precision::Approximate => format!("about {}", human_bytes(r.bytes)),
        Precision::LowerBound => format!("at least {}", human_bytes(r.bytes)),
    };
    ReadValue {
        tag: Some(r.tag),
        what: None,
        pool: r.pool,
        state,
        label: snap.label.clone(),
        value: shown,
        bytes: (r.precision != Precision::Unknown).then_some(r.bytes),
        outstanding: r.outstanding_or_derived(),
        allocs: r.allocs,
        frees: r.frees,
        precision: r.precision,
        source: (r.line > 0).then(|| SourceRef {
            file: snap.file,
            file_name: None,
            line: r.line,
            text: String::new(),
        }),
    }
}

fn totals(t: &PoolTotals, snap: &Snapshot, state: ReadState) -> Vec<ReadValue> {
    let mut out = Vec::new();
    for (what, pool, bytes) in [
        ("paged pool total", PoolKind::Paged, t.paged_bytes),
        ("nonpaged pool total", PoolKind::NonPaged, t.nonpaged_bytes),
        (
            "memory in use",
            PoolKind::Unknown,
            t.memory_in_use_kib.map(|k| k.saturating_mul(1024)),
        ),
    ] {
        if let Some(b) = bytes {
            out.push(ReadValue {
                tag: None,
                what: Some(what.into()),
                pool,
                state,
                label: snap.label.clone(),
                value: human_bytes(b),
                bytes: Some(b),
                outstanding: None,
                allocs: None,
                frees: None,
                precision: Precision::Exact,
                source: None,
            });
        }
    }
    out
}

/// Fills each reference's file name and line text: one pass over each file that stops at the
/// last line wanted, comparing each line with the next one wanted in order.
pub(super) fn attach_lines<'s>(
    input: &AnalysisInput,
    refs: impl Iterator<Item = &'s mut SourceRef>,
) {
    let mut refs: Vec<&mut SourceRef> = refs.collect();
    refs.sort_unstable_by_key(|r| (r.file, r.line));
    let mut next = 0;
    while next < refs.len() {
        let file = refs[next].file;
        let end = next + refs[next..].iter().take_while(|r| r.file == file).count();
        let name = input.files.get(file).and_then(|f| f.name.clone());
        let text = input.sources.get(file).map_or("", String::as_str);
        let bytes = text.as_bytes();
        let (mut start, mut line) = (0, 1u32);
        let mut at = next;
        while at < end && start <= text.len() {
            let stop =
                memchr::memchr2(b'\n', b'\r', &bytes[start..]).map_or(text.len(), |i| start + i);
            while at < end && refs[at].line == line {
                refs[at].text = excerpt(&text[start..stop]);
                at += 1;
            }
            let crlf = bytes.get(stop) == Some(&b'\r') && bytes.get(stop + 1) == Some(&b'\n');
            start = stop + if crlf { 2 } else { 1 };
            line += 1;
        }
        for r in &mut refs[next..end] {
            r.file_name.clone_from(&name);
        }
        next = end;
    }
}

/// A line as shown: trimmed, at most [`LINE_CHARS`] characters, control characters replaced.
fn excerpt(line: &str) -> String {
    let t = line.trim();
    let mut out: String = t
        .chars()
        .take(LINE_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if t.chars().nth(LINE_CHARS).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tag::PoolTag;
    use proptest::prelude::*;

    proptest! {
        /// The one-pass selection gives what a full sort would: sizes before counts, largest
        /// first, ties by tag.
        #[test]
        fn largest_rows_are_the_head_of_a_full_sort(
            rows in prop::collection::vec((0u8..6, 0u64..5, any::<bool>()), 0..40)
        ) {
            let rows: Vec<PoolUsage> = rows
                .iter()
                .map(|&(t, v, sized)| {
                    let mut u = PoolUsage::new(
                        PoolTag::from_bytes([b'A' + t, b'b', b'c', b'd']),
                        PoolKind::Paged,
                        v,
                    );
                    if !sized {
                        u.precision = Precision::Unknown;
                        u.outstanding = Some(v);
                    }
                    u
                })
                .collect();
            let key = |r: &PoolUsage| (r.precision != Precision::Unknown, r.bytes);
            let mut sorted: Vec<&PoolUsage> = rows.iter().collect();
            sorted.sort_by(|a, b| key(b).cmp(&key(a)).then(a.tag.cmp(&b.tag)));
            sorted.truncate(TOP_TAGS);
            let picked = largest_rows(&rows);
            let shown = |v: &[&PoolUsage]| -> Vec<(PoolTag, bool, u64)> {
                v.iter().map(|r| (r.tag, key(r).0, r.bytes)).collect()
            };
            prop_assert_eq!(shown(&picked), shown(&sorted));
        }
    }
}
