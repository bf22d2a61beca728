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

/// Fills each reference's file name and line text: one forward pass over each file that stops
/// at the last line wanted.
pub(super) fn attach_lines<'s>(
    input: &AnalysisInput,
    refs: impl Iterator<Item = &'s mut SourceRef>,
) {
    let mut refs: Vec<&mut SourceRef> = refs.collect();
    refs.sort_unstable_by_key(|r| (r.file, r.line));
    for same_file in refs.chunk_by_mut(|a, b| a.file == b.file) {
        let file = same_file[0].file;
        let name = input.files.get(file).and_then(|f| f.name.clone());
        let mut lines = LineSeeker::new(input.sources.get(file).map_or("", String::as_str));
        for r in same_file {
            if let Some(line) = lines.seek(r.line) {
                r.text = excerpt(line);
            }
            r.file_name.clone_from(&name);
        }
    }
}

/// Bytes of text whose line breaks are counted at once when seeking past them.
const SEEK_BLOCK: usize = 256;

/// Finds lines by number, moving forward only. Lines end at `\n`, `\r\n` or a lone `\r`, as the
/// readers count them. Where no `\r` stands alone (nearly every paste), whole blocks of text
/// are skipped by counting their `\n` bytes at once, instead of finding each line's end: a
/// 3,000-row table holds a few dozen lines worth showing.
struct LineSeeker<'t> {
    text: &'t str,
    /// Start of line `line`.
    start: usize,
    line: u32,
    newline_only: bool,
}

impl<'t> LineSeeker<'t> {
    fn new(text: &'t str) -> Self {
        let bytes = text.as_bytes();
        let newline_only = memchr::memchr(b'\r', bytes).is_none()
            || memchr::memchr_iter(b'\r', bytes).count()
                == memchr::memmem::find_iter(bytes, b"\r\n").count();
        Self {
            text,
            start: 0,
            line: 1,
            newline_only,
        }
    }

    /// The text of 1-based line `target` (without its line break), if the text has it and the
    /// seeker has not passed it.
    fn seek(&mut self, target: u32) -> Option<&'t str> {
        let bytes = self.text.as_bytes();
        if target < self.line {
            return None;
        }
        while self.line < target {
            if self.start > bytes.len() {
                return None;
            }
            let need = (target - self.line) as usize;
            if self.newline_only && self.skip_block(need) {
                continue;
            }
            self.start = self.line_end(self.start).1;
            self.line += 1;
        }
        if self.start > bytes.len() {
            return None;
        }
        let (end, _) = self.line_end(self.start);
        // The text is valid UTF-8 and line breaks are ASCII: both ends are char boundaries.
        Some(&self.text[self.start..end])
    }

    /// Skips a block of whole lines when the target is more than a block away: a large block
    /// when many lines remain (one count per 4 KiB), else a small one. False when the target
    /// is in the next small block (or the text ends there), to be walked line by line.
    fn skip_block(&mut self, need: usize) -> bool {
        let bytes = self.text.as_bytes();
        let sizes: &[usize] = if need > 64 {
            &[SEEK_BLOCK * 16, SEEK_BLOCK]
        } else {
            &[SEEK_BLOCK]
        };
        for &size in sizes {
            let block_end = (self.start + size).min(bytes.len());
            if block_end == bytes.len() {
                return false;
            }
            let breaks = count_newlines(&bytes[self.start..block_end]);
            if breaks < need {
                self.line += breaks as u32;
                self.start = block_end;
                return true;
            }
        }
        false
    }

    /// Where the line starting at `start` ends, and where the next one starts (one past the
    /// text's end after the last line).
    fn line_end(&self, start: usize) -> (usize, usize) {
        let bytes = self.text.as_bytes();
        let found = if self.newline_only {
            memchr::memchr(b'\n', &bytes[start..])
        } else {
            memchr::memchr2(b'\n', b'\r', &bytes[start..])
        };
        match found {
            None => (bytes.len(), bytes.len() + 1),
            Some(i) => {
                let end = start + i;
                let crlf = bytes[end] == b'\r' && bytes.get(end + 1) == Some(&b'\n');
                // A CRLF line found by its `\n` keeps no `\r`.
                let shown_end =
                    if !crlf && end > start && bytes[end] == b'\n' && bytes[end - 1] == b'\r' {
                        end - 1
                    } else {
                        end
                    };
                (shown_end, end + if crlf { 2 } else { 1 })
            }
        }
    }
}

/// The `\n` bytes in `bytes`. `bytecount` picks AVX2 or SSE2 at run time: the default x86-64
/// target has no `popcnt`, so a word-at-a-time count spent most of its time in a software
/// `count_ones` (about 250,000 instructions for a 170 KB paste, read back on every analysis).
fn count_newlines(bytes: &[u8]) -> usize {
    bytecount::count(bytes, b'\n')
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

    /// Lines as the readers count them: ended by `\n`, `\r\n` or a lone `\r`.
    fn reference_lines(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        let bytes = text.as_bytes();
        let mut start = 0;
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\n' => {
                    out.push(&text[start..i]);
                    start = i + 1;
                }
                b'\r' => {
                    out.push(&text[start..i]);
                    if bytes.get(i + 1) == Some(&b'\n') {
                        i += 1;
                    }
                    start = i + 1;
                }
                _ => {}
            }
            i += 1;
        }
        out.push(&text[start..]);
        out
    }

    proptest! {
        /// Seeking lines in order finds what splitting the whole text finds, with and without
        /// lone carriage returns, and across the blocks it skips (texts up to about 15 KB, so
        /// that both block sizes are skipped).
        #[test]
        fn seeking_lines_finds_each_line(
            pieces in prop::collection::vec(
                prop::sample::select(vec!["a", "bc", "é", "\n", "\r\n", "\r", "  x  ", "0123456789abcdef"]),
                0..5000,
            ),
            lone_returns in any::<bool>(),
            picks in prop::collection::vec(1u32..2500, 0..60),
        ) {
            // Most pastes have no lone `\r`: the seeker then skips whole blocks.
            let text: String = pieces
                .iter()
                .map(|p| if *p == "\r" && !lone_returns { "\n" } else { p })
                .collect();
            let lines = reference_lines(&text);
            let mut wanted = picks;
            wanted.sort_unstable();
            let mut seeker = LineSeeker::new(&text);
            for line in wanted {
                let expected = lines.get(line as usize - 1).map(|l| l.trim_end_matches('\r'));
                let found = seeker.seek(line).map(|l| l.trim_end_matches('\r'));
                prop_assert_eq!(found, expected, "line {}", line);
            }
        }
    }

    proptest! {
        /// The vectorised count agrees with counting one byte at a time, below and above the
        /// sizes where it switches to SIMD.
        #[test]
        fn newlines_are_counted_exactly(bytes in prop::collection::vec(
            prop::sample::select(vec![b'\n', b'\r', 0x0b, 0x8a, 0x09, 0x00, 0xff, b'a']),
            0..600,
        )) {
            let expected = bytes.iter().filter(|&&b| b == b'\n').count();
            prop_assert_eq!(count_newlines(&bytes), expected);
        }
    }

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
