//! poolmon screens copied from a console and poolmon `-n` logs (several frames over time).
//!
//! A row is anchored on its Type word (`Paged`, `Nonp`, `Sess`): the tag is the text before it
//! (1-4 characters, spaces inside allowed, right-aligned short tags trimmed), then come the
//! numbers `Allocs [( d)] Frees [( d)] Diff Bytes [( d)] [Per Alloc]`, then the optional
//! Mapped_Driver text. This survives collapsed whitespace and any column widths.

use rustc_hash::FxHashSet;
use smallvec::SmallVec;

use crate::tag::PoolTag;

use super::text::{Input, contains_ci, parse_count, parse_timestamp, tag_from_text};
use super::{Ctx, PoolKind, PoolTotals, PoolUsage, Snapshot, SnapshotError};

/// `Tag Type Allocs Frees Diff Bytes Per Alloc [Mapped_Driver]`.
pub(crate) fn is_header(t: &str) -> bool {
    let t = t.trim_start();
    let has = |w: &str| t.split_whitespace().any(|x| x.eq_ignore_ascii_case(w));
    t.starts_with("Tag")
        && has("type")
        && has("allocs")
        && (has("frees") || has("bytes"))
        && !t.contains([',', '\t', '|', ';'])
}

fn pool_word(w: &str) -> Option<PoolKind> {
    Some(match w {
        "Nonp" | "NonP" | "NONP" | "nonp" | "Nonpaged" | "NonPaged" | "NonPagedNx" | "Nonpnx" => {
            PoolKind::NonPaged
        }
        "Paged" | "PAGED" | "paged" | "Page" => PoolKind::Paged,
        "Sess" | "Session" | "SESS" | "sess" => PoolKind::Session,
        _ => return None,
    })
}

enum RowParse<'a> {
    NotARow,
    Bad(String),
    Row(Row<'a>),
}

/// A row as read, borrowing its driver text: small, so the 3,000 rows of a big screen are not
/// each moved as a whole [`PoolUsage`] on the way into their frame.
#[derive(Debug, PartialEq)]
struct Row<'a> {
    tag: PoolTag,
    pool: PoolKind,
    allocs: u64,
    frees: u64,
    /// `None` when printed negative.
    diff: Option<u64>,
    bytes: u64,
    driver: Option<&'a str>,
    /// The row had `( n)` change columns.
    had_delta: bool,
}

impl Row<'_> {
    fn usage(&self) -> PoolUsage {
        PoolUsage {
            tag: self.tag,
            pool: self.pool,
            allocs: Some(self.allocs),
            frees: Some(self.frees),
            outstanding: self.diff,
            bytes: self.bytes,
            mapped_driver: self.driver.map(str::to_owned),
            callers: Vec::new(),
            precision: super::Precision::Exact,
            line: 0,
        }
    }

    /// What is odd about the numbers, kept as a warning.
    fn note(&self) -> Option<String> {
        match self.diff {
            Some(d) if self.allocs.checked_sub(self.frees) != Some(d) => Some(format!(
                "Diff {d} is not Allocs {} - Frees {}; kept as printed",
                self.allocs, self.frees
            )),
            Some(_) => None,
            None => Some("negative Diff; outstanding left empty".to_owned()),
        }
    }
}

/// Up to `limit` whitespace-separated tokens with their byte offsets (the first eight without
/// allocating).
pub(crate) fn tokens(line: &str, limit: usize) -> SmallVec<[(usize, &str); 8]> {
    let mut out = SmallVec::new();
    let mut start = None;
    for (i, c) in line.char_indices() {
        if c.is_whitespace() {
            if let Some(s) = start.take() {
                out.push((s, &line[s..i]));
                if out.len() >= limit {
                    return out;
                }
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        out.push((s, &line[s..]));
    }
    out
}

fn parse_row(line: &str, session: bool) -> RowParse<'_> {
    match plain_row(line, session) {
        Some(row) => RowParse::Row(row),
        None => general_row(line, session),
    }
}

/// Any row [`plain_row`] does not take: tags with spaces, change columns, separators, driver
/// text, non-ASCII lines. Up to three words of tag text come before the Type word, and the
/// number after it.
fn general_row(line: &str, session: bool) -> RowParse<'_> {
    parse_row_tokens(line, &tokens(line, 6), session)
}

/// The row nearly every line of a big screen is: `Tag Type Allocs Frees Diff Bytes [PerAlloc]`
/// with a one-word tag, plain digits and nothing after. It is read in one pass over the bytes,
/// each number as its word is found, without the general parser's token list (a 3,000-row
/// screen is read per request). Anything else (`None`) goes to [`general_row`], which reads
/// such a row the same way.
fn plain_row(line: &str, session: bool) -> Option<Row<'_>> {
    let b = line.as_bytes();
    if b.len() > 128 {
        return None;
    }
    let mut at = 0;
    let (tag_start, tag_end) = next_plain_word(b, &mut at)?;
    if tag_end - tag_start > 4 {
        return None;
    }
    let (pool_start, pool_end) = next_plain_word(b, &mut at)?;
    let mut pool = pool_word(&line[pool_start..pool_end])?;
    if session && pool == PoolKind::Paged {
        pool = PoolKind::Session;
    }
    let tag = tag_from_text(&line[tag_start..tag_end])?;
    // Allocs, Frees, Diff, Bytes and the optional Per Alloc.
    let mut nums = [0u64; 5];
    let mut count = 0;
    while at < b.len() {
        let Some((start, end)) = next_plain_word(b, &mut at) else {
            // The end of the line, or a byte left to the general parser.
            if at < b.len() {
                return None;
            }
            break;
        };
        if count == nums.len() {
            return None;
        }
        nums[count] = plain_digits(&b[start..end])?;
        count += 1;
    }
    if count < 4 {
        return None;
    }
    Some(Row {
        tag,
        pool,
        allocs: nums[0],
        frees: nums[1],
        diff: Some(nums[2]),
        bytes: nums[3],
        driver: None,
        had_delta: false,
    })
}

/// The bounds of the next word from `*at`, moving `*at` past it. `None` with `*at` at the end
/// when only blanks are left, and `None` with `*at` short of the end on a byte the fast path
/// leaves to the general parser. Blanks are spaces and tabs; other control bytes and non-ASCII
/// text are such bytes (the general parser's idea of whitespace differs for some of them).
fn next_plain_word(b: &[u8], at: &mut usize) -> Option<(usize, usize)> {
    let mut i = *at;
    while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
        i += 1;
    }
    let start = i;
    while i < b.len() && b[i] != b' ' && b[i] != b'\t' {
        if b[i] < b' ' || b[i] >= 0x80 {
            *at = start;
            return None;
        }
        i += 1;
    }
    *at = i;
    (i > start).then_some((start, i))
}

/// `d` as a number when it is 1 to 16 plain ASCII digits (longer ones are left to the general
/// parser).
fn plain_digits(d: &[u8]) -> Option<u64> {
    if d.is_empty() || d.len() > 16 {
        return None;
    }
    d.iter().try_fold(0u64, |value, &c| {
        let digit = c.wrapping_sub(b'0');
        (digit <= 9).then(|| value * 10 + u64::from(digit))
    })
}

fn parse_row_tokens<'a>(line: &'a str, toks: &[(usize, &str)], session: bool) -> RowParse<'a> {
    // The Type word is the 2nd token (or the 3rd/4th when the tag holds spaces).
    // A person may retype `Nonp` as `Non Paged`: two words, one Type.
    let two_words = |k: usize| {
        toks[k].1.eq_ignore_ascii_case("non")
            && toks
                .get(k + 1)
                .is_some_and(|(_, t)| t.to_ascii_lowercase().starts_with("paged"))
    };
    let number_at = |k: usize| {
        toks.get(k)
            .is_some_and(|(_, t)| t.starts_with(|c: char| c.is_ascii_digit()))
    };
    let Some(k) = (1..toks.len().min(4)).find(|&k| {
        (pool_word(toks[k].1).is_some() && number_at(k + 1)) || (two_words(k) && number_at(k + 2))
    }) else {
        // `Tag Type` followed by something that is not a number: a broken row.
        if toks.len() >= 3
            && pool_word(toks[1].1).is_some()
            && toks[0].1.chars().count() <= 4
            && pool_word(toks[0].1).is_none()
        {
            return RowParse::Bad(format!(
                "expected Allocs Frees Diff Bytes after the Type column, found {:?}; row skipped",
                toks[2].1
            ));
        }
        return RowParse::NotARow;
    };
    let (type_pos, type_word) = toks[k];
    let (type_end, pool) = if two_words(k) {
        (
            toks[k + 1].0 + toks[k + 1].1.len(),
            Some(PoolKind::NonPaged),
        )
    } else {
        (type_pos + type_word.len(), pool_word(type_word))
    };
    let tag_text = line[..type_pos].trim();
    let mut pool = pool.unwrap_or(PoolKind::Unknown);
    if session && pool == PoolKind::Paged {
        pool = PoolKind::Session;
    }
    // At most 4 characters (`len` first: counting chars is only needed past 4 bytes).
    let short = tag_text.len() <= 4 || tag_text.chars().count() <= 4;
    let Some(tag) = short.then(|| tag_from_text(tag_text)).flatten() else {
        return RowParse::Bad(format!(
            "{tag_text:?} before the Type column is not a pool tag (1 to 4 characters); row skipped"
        ));
    };
    let rest = &line[type_end..];
    // Allocs, Frees, Diff, Bytes, Per Alloc: (negative, value).
    let mut nums = [(false, 0u64); 5];
    let mut count = 0;
    let mut had_delta = false;
    let mut driver = None;
    let mut i = 0;
    let bytes = rest.as_bytes();
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if count == 5 {
            driver = Some(rest[i..].trim());
            break;
        }
        if c == b'(' {
            let Some(close) = rest[i..].find(')') else {
                return RowParse::Bad("unclosed '(' in a change column; row skipped".into());
            };
            let inner = rest[i + 1..i + close].trim();
            let inner = inner.strip_prefix(['-', '+']).unwrap_or(inner);
            if parse_count(inner).is_none() {
                return RowParse::Bad(format!(
                    "change column ({inner}) is not a number; row skipped"
                ));
            }
            had_delta = true;
            i += close + 1;
            continue;
        }
        let negative = c == b'-' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
        if c.is_ascii_digit() || negative {
            let start = if negative { i + 1 } else { i };
            let mut end = start;
            while end < bytes.len() && (bytes[end].is_ascii_digit() || bytes[end] == b',') {
                end += 1;
            }
            // A number glued to letters is text (a Mapped_Driver such as `1394ohci`).
            if end < bytes.len() && !bytes[end].is_ascii_whitespace() && bytes[end] != b'(' {
                if count >= 4 {
                    driver = Some(rest[i..].trim());
                    break;
                }
                return RowParse::Bad(format!(
                    "{:?} is not a number; row skipped",
                    rest[i..].split_whitespace().next().unwrap_or("")
                ));
            }
            let Some(v) = parse_count(&rest[start..end]) else {
                return RowParse::Bad(format!(
                    "{:?} is not a number; row skipped",
                    &rest[start..end]
                ));
            };
            nums[count] = (negative, v);
            count += 1;
            i = end;
            continue;
        }
        if count >= 4 {
            driver = Some(rest[i..].trim());
            break;
        }
        return RowParse::Bad(format!(
            "expected Allocs Frees Diff Bytes after the Type column, found {:?}; row skipped",
            rest[i..].split_whitespace().next().unwrap_or("")
        ));
    }
    if count < 4 {
        return RowParse::Bad(format!(
            "expected Allocs Frees Diff Bytes after the Type column, found {count} numbers; row skipped"
        ));
    }
    if nums[0].0 || nums[1].0 || nums[3].0 {
        return RowParse::Bad("negative Allocs, Frees or Bytes; row skipped".into());
    }
    RowParse::Row(Row {
        tag,
        pool,
        allocs: nums[0].1,
        frees: nums[1].1,
        diff: (!nums[2].0).then_some(nums[2].1),
        bytes: nums[3].1,
        driver: driver.filter(|d| !d.is_empty()),
        had_delta,
    })
}

/// `Memory:  260620K Avail: 96364K ...`, `Commit: ... Pool N: 8332K P:27220K`.
fn kib_after(line: &str, key: &str) -> Option<u64> {
    let i = line.find(key)?;
    let rest = line[i + key.len()..].trim_start();
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == ','))
        .unwrap_or(rest.len());
    parse_count(&rest[..end])
}

fn read_totals(line: &str, totals: &mut PoolTotals) {
    if line.contains("Memory:") {
        totals.memory_kib = kib_after(line, "Memory:").or(totals.memory_kib);
        totals.available_kib = kib_after(line, "Avail:").or(totals.available_kib);
    }
    if line.contains("Commit:") {
        totals.commit_kib = kib_after(line, "Commit:").or(totals.commit_kib);
        totals.commit_limit_kib = kib_after(line, "Limit:").or(totals.commit_limit_kib);
        totals.commit_peak_kib = kib_after(line, "Peak:").or(totals.commit_peak_kib);
    }
    if let Some(i) = line.find("Pool N:") {
        let pool = &line[i..];
        totals.nonpaged_bytes = kib_after(pool, "N:").and_then(|k| k.checked_mul(1024));
        totals.paged_bytes = kib_after(pool, " P:")
            .or_else(|| kib_after(pool, "P:"))
            .and_then(|k| k.checked_mul(1024));
    }
}

fn is_totals_line(t: &str) -> bool {
    (t.starts_with("Memory:") && t.contains("Avail"))
        || (t.starts_with("Commit:") && t.contains("Limit"))
        || t.contains("Pool N:")
}

/// Returns the frames and whether the text reads as a log (several frames, timestamps, or
/// the header totals without change columns, as `poolmon -n` writes).
pub(crate) fn parse(
    input: &Input<'_>,
    ctx: &mut Ctx,
) -> Result<(Vec<Snapshot>, bool), SnapshotError> {
    let mut frames = Vec::new();
    let mut cur = Snapshot::default();
    let mut seen: FxHashSet<(PoolTag, PoolKind)> = FxHashSet::default();
    let mut session = false;
    let mut timestamps = false;
    let mut totals_seen = false;
    let mut any_delta = false;
    let mut last_line = 0;
    // A frame's rows and its duplicate check are sized once (a 3,000-row screen would grow
    // them a dozen times): the first frame for every line of the text, each later frame for
    // as many rows as the frame before.
    let lines = memchr::memchr_iter(b'\n', input.text().as_bytes()).count() + 1;
    let mut expected_rows = lines.min(ctx.max_rows).min(1 << 16);
    seen.reserve(expected_rows);

    let flush = |cur: &mut Snapshot,
                 seen: &mut FxHashSet<_>,
                 frames: &mut Vec<Snapshot>,
                 ctx: &mut Ctx,
                 line: usize,
                 expected_rows: &mut usize| {
        let mut snap = std::mem::take(cur);
        // The first frame of a log was sized for the whole text.
        if snap.rows.capacity() > 2 * snap.rows.len() {
            snap.rows.shrink_to_fit();
        }
        *expected_rows = snap.rows.len();
        seen.clear();
        ctx.push_snapshot(frames, snap, line);
    };

    for (n, line) in input.lines() {
        last_line = n;
        if ctx.full() {
            break;
        }
        // Rows are nearly every line: read one before trying the rarer line kinds (a totals
        // line, a time, a header or a separator never reads as a row).
        let row = parse_row(line, session);
        if let RowParse::Row(row) = &row {
            if let Some(note) = row.note() {
                ctx.warn(n, note);
            }
            any_delta |= row.had_delta;
            if !seen.insert((row.tag, row.pool)) {
                ctx.warn(
                    n,
                    format!(
                        "tag {} ({}) appears twice in one frame; both kept",
                        row.tag, row.pool
                    ),
                );
            }
            if ctx.take_row(n) {
                if cur.rows.capacity() == 0 {
                    cur.rows.reserve(expected_rows);
                }
                cur.rows.push(row.usage().at_line(n));
            }
            continue;
        }
        let t = line.trim();
        if t.is_empty() || t.chars().all(|c| c == '.' || c == '…') {
            continue;
        }
        if t.chars().all(|c| c == '-' || c == '=' || c == ' ') {
            continue;
        }
        if is_totals_line(t) {
            if !cur.rows.is_empty() {
                flush(&mut cur, &mut seen, &mut frames, ctx, n, &mut expected_rows);
            }
            if t.starts_with("Memory:") {
                session = false;
            }
            let mut totals = cur.totals.take().unwrap_or_default();
            read_totals(t, &mut totals);
            cur.totals = (!totals.is_empty()).then_some(totals);
            totals_seen = true;
            continue;
        }
        if let Some(ts) = parse_timestamp(t) {
            if !cur.rows.is_empty() {
                flush(&mut cur, &mut seen, &mut frames, ctx, n, &mut expected_rows);
            }
            cur.taken_at = Some(ts);
            cur.label = Some(t.to_owned());
            timestamps = true;
            continue;
        }
        if t.len() < 200 && contains_ci(t, "pool information") {
            if !cur.rows.is_empty() {
                flush(&mut cur, &mut seen, &mut frames, ctx, n, &mut expected_rows);
            }
            session = contains_ci(t, "session");
            if cur.label.is_none() {
                cur.label = Some(t.to_owned());
            }
            continue;
        }
        if is_header(t) {
            if !cur.rows.is_empty() {
                flush(&mut cur, &mut seen, &mut frames, ctx, n, &mut expected_rows);
            }
            continue;
        }
        if let RowParse::Bad(msg) = row {
            ctx.skip(n, msg);
        }
    }
    flush(
        &mut cur,
        &mut seen,
        &mut frames,
        ctx,
        last_line,
        &mut expected_rows,
    );
    let log = frames.len() > 1 || timestamps || (totals_seen && !any_delta);
    Ok((frames, log))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::ParseOptions;

    fn run(text: &str) -> (Vec<Snapshot>, bool, Vec<super::super::LineWarning>) {
        let mut ctx = Ctx::new(&ParseOptions::default());
        let (s, log) = parse(&Input::from_str(text), &mut ctx).unwrap();
        (s, log, ctx.warnings)
    }

    #[test]
    fn plain_rows_take_the_fast_path_and_read_as_the_general_parser_reads_them() {
        for line in [
            " Pnp5 Nonp      756604     737928    18676   31132892     1667",
            "Io   Paged 12 10 2 4096",
            " NLbd Nonp 615571 591293 24278 7907341892341234 1",
            "\tFMfn\tPaged\t1\t0\t1\t99999999\t88888888",
            "A Sess 1 2 3 4 5",
        ] {
            for session in [false, true] {
                let fast = plain_row(line, session).unwrap_or_else(|| panic!("{line:?}"));
                let RowParse::Row(general) = general_row(line, session) else {
                    panic!("{line:?} is a row");
                };
                assert_eq!(fast, general, "{line:?}");
            }
        }
        let row = plain_row(" NLbd Nonp 615571 591293 24278 7907341892341234 1", false).unwrap();
        assert_eq!((row.allocs, row.bytes), (615_571, 7_907_341_892_341_234));
        // Left to the general parser: spaces in the tag, change columns, separators, driver
        // text, 17+ digits, a sixth number, a vertical tab, a long tag, non-ASCII text.
        for line in [
            " Io   Paged 12 10 2 4096 drv.sys",
            "I o Paged 12 10 2 4096",
            "Io Paged 12 ( 1) 10 ( 0) 2 4096 ( 0) 2048",
            "Io Paged 1,234 10 2 4096",
            "Io Paged 12 10 2 12345678901234567",
            "Io Paged 12 10 2 4096 1 1",
            "Io Paged 12\x0b10 2 4096",
            "Iooo5 Paged 12 10 2 4096",
            "Ié Paged 12 10 2 4096",
            "Io Paged 12 10 -2 4096",
        ] {
            assert!(plain_row(line, false).is_none(), "{line:?}");
        }
    }

    proptest::proptest! {
        /// Whatever line the fast path takes, the general parser reads the same row.
        #[test]
        fn the_fast_path_agrees_with_the_general_parser(
            tag in "[A-Za-z0-9 _!é]{1,5}",
            pool in "(Nonp|Paged|Sess|NonPagedNx|Pag|X)",
            // Mostly what the fast path takes, so both sides are compared often.
            numbers in proptest::collection::vec(proptest::prop_oneof![
                12 => "[0-9]{1,18}",
                1 => "[0-9,]{1,6}",
                1 => "-[0-9]{1,3}",
                1 => "\\( ?[0-9]{1,3}\\)",
                1 => "[a-z0-9]{1,3}\\.sys",
            ], 3..8),
            gaps in proptest::collection::vec(proptest::prop_oneof![
                8 => " {1,4}",
                1 => "[ \t\x0b\x0c]{1,3}",
            ], 9),
            session: bool,
        ) {
            let mut line = format!("{}{tag}{}{pool}", gaps[0], gaps[1]);
            for (n, gap) in numbers.iter().zip(&gaps[2..]) {
                line.push_str(gap);
                line.push_str(n);
            }
            if let Some(fast) = plain_row(&line, session) {
                let RowParse::Row(general) = general_row(&line, session) else {
                    panic!("{line:?}: the fast path read a row the general parser refuses");
                };
                proptest::prop_assert_eq!(fast, general, "{:?}", line);
            }
        }
    }

    #[test]
    fn rows_with_and_without_change_columns() {
        let (s, log, w) = run(
            " Tag  Type     Allocs            Frees            Diff   Bytes       Per Alloc\n\
             \n Io   Nonp    1021112 (   1)   1020985 (   1)      127   91912 (     0)    723\n\
             Dh 1 Paged 24 24 0 0 0\n",
        );
        assert!(w.is_empty(), "{w:?}");
        assert!(!log);
        let rows = &s[0].rows;
        assert_eq!(rows[0].tag.to_string(), "Io  ");
        assert_eq!(rows[0].pool, PoolKind::NonPaged);
        assert_eq!(rows[0].allocs, Some(1_021_112));
        assert_eq!(rows[0].outstanding, Some(127));
        assert_eq!(rows[0].bytes, 91912);
        assert_eq!(rows[1].tag.to_string(), "Dh 1");
    }

    #[test]
    fn bad_rows_warn_with_line_numbers() {
        let (s, _, w) = run("Io Nonp 5 4 1 100 100\nToolong Paged 1 2 3 4 5\nAb Paged 1 x 3 4\n");
        assert_eq!(s[0].rows.len(), 1);
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].line, 2);
        assert_eq!(w[1].line, 3);
    }

    #[test]
    fn frames_split_on_headers_and_times() {
        let text = "2026-11-01 10:00:00\nTag Type Allocs Frees Diff Bytes Per Alloc\nIo Nonp 5 4 1 100 100\n\
                    2026-11-01 11:00:00\nTag Type Allocs Frees Diff Bytes Per Alloc\nIo Nonp 9 4 5 500 100\n";
        let (s, log, _) = run(text);
        assert!(log);
        assert_eq!(s.len(), 2);
        assert_eq!(s[1].rows[0].bytes, 500);
        assert!(s[1].taken_at > s[0].taken_at);
    }
}
