//! WinDbg `!poolused` output.
//!
//! Layouts: default / sorted (`Tag Allocs Used Allocs Used`, NonPaged then Paged), verbose
//! (flag 1: `Allocs Frees Diff Used` per pool), session (flag 8: one group). The description
//! follows a tab (new layout) or is glued to the last number (old layout, e.g.
//! `0UNKNOWN pooltag`, even `01394 OHCI ...`, which is cut at the header's column end). The tag
//! is the 4-character field under the header's `Tag` (so `AGP ` keeps its trailing space).
//! Non-verbose `Allocs` counts allocations still held: it is read as `outstanding`.

use super::poolmon::tokens;
use super::text::{Input, contains_ci, parse_count, tag_from_text};
use super::{Ctx, PoolKind, PoolTotals, PoolUsage, Snapshot, SnapshotError};
use crate::tag::PoolTag;

/// `Tag Allocs Used Allocs Used` (or the verbose form with Frees and Diff).
pub(crate) fn is_header(t: &str) -> bool {
    let t = t.trim_start();
    t.starts_with("Tag")
        && t.contains("Allocs")
        && t.contains("Used")
        && !contains_ci(t, "type")
        && !t.contains([',', '\t', '|', ';'])
}

#[derive(Debug, Clone)]
struct Header {
    /// Char column of `Tag`.
    tag_col: usize,
    /// Numbers per pool group: 2 (Allocs Used) or 4 (Allocs Frees Diff Used).
    per_group: usize,
    pools: Vec<PoolKind>,
    /// Char column just past the last `Used`.
    last_end: Option<usize>,
}

impl Header {
    fn read(line: &str, group_line: Option<&str>, session: bool) -> Self {
        let chars: Vec<char> = line.chars().collect();
        let text: String = chars.iter().collect();
        let tag_col = text.find("Tag").map_or(0, |b| text[..b].chars().count());
        let verbose = text.contains("Frees") || text.contains("Diff");
        let groups = text.matches("Used").count().max(1);
        let pools = match (groups, group_line) {
            (1, Some(g)) if g.contains("NonPaged") || contains_ci(g, "nonpaged") => {
                vec![PoolKind::NonPaged]
            }
            (1, Some(g)) if contains_ci(g, "session") => vec![PoolKind::Session],
            (1, Some(g)) if contains_ci(g, "paged") => vec![PoolKind::Paged],
            (1, _) if session => vec![PoolKind::Session],
            (1, _) => vec![PoolKind::Unknown],
            _ => vec![PoolKind::NonPaged, PoolKind::Paged],
        };
        let last_end = text.rfind("Used").map(|b| text[..b].chars().count() + 4);
        Self {
            tag_col,
            per_group: if verbose { 4 } else { 2 },
            pools,
            last_end,
        }
    }

    fn default_layout() -> Self {
        Self {
            tag_col: usize::MAX,
            per_group: 2,
            pools: vec![PoolKind::NonPaged, PoolKind::Paged],
            last_end: None,
        }
    }

    fn numbers(&self) -> usize {
        self.per_group * self.pools.len()
    }
}

enum Parsed {
    NotARow,
    Bad(String),
    Total(Vec<u64>),
    Row {
        tag: PoolTag,
        nums: Vec<u64>,
        desc: Option<String>,
        note: Option<String>,
    },
}

/// The text between the quotes of `UNKNOWN pooltag 'xxxx', please update pooltag.txt`.
fn quoted_unknown_tag(desc: &str) -> Option<&str> {
    let rest = desc.strip_prefix("UNKNOWN pooltag '")?;
    let end = rest.rfind("',").or_else(|| rest.rfind('\''))?;
    Some(&rest[..end])
}

fn parse_row(line: &str, h: &Header) -> Parsed {
    let chars: Vec<char> = line.chars().collect();
    let first_nonspace = chars
        .iter()
        .position(|c| !c.is_whitespace())
        .unwrap_or(chars.len());
    let col = if h.tag_col == usize::MAX {
        first_nonspace
    } else {
        h.tag_col
    };
    // The fixed 4-character tag field, when the line lines up with the header.
    let (tag_text, rest_start): (String, usize) = if col <= first_nonspace
        && chars.len() > col + 4
        && chars[col + 4].is_whitespace()
        && chars[col..col + 4].iter().any(|c| !c.is_whitespace())
    {
        (chars[col..col + 4].iter().collect(), col + 4)
    } else {
        let end = chars[first_nonspace..]
            .iter()
            .position(|c| c.is_whitespace())
            .map_or(chars.len(), |p| first_nonspace + p);
        (chars[first_nonspace..end].iter().collect(), end)
    };
    let tag_trim = tag_text.trim_end();
    let rest: String = chars[rest_start..].iter().collect();
    let (nums_text, tab_desc) = match rest.split_once('\t') {
        Some((a, b)) => (a.to_owned(), Some(b.trim().to_owned())),
        None => (rest.clone(), None),
    };
    let toks = tokens(&nums_text, usize::MAX);
    if tag_trim == "TOTAL" {
        let nums: Vec<u64> = toks.iter().filter_map(|(_, t)| parse_count(t)).collect();
        return Parsed::Total(nums);
    }
    let need = h.numbers();
    if toks.len() < need || !toks[0].1.starts_with(|c: char| c.is_ascii_digit()) {
        return Parsed::NotARow;
    }
    let mut nums = Vec::with_capacity(need);
    for (_, t) in &toks[..need - 1] {
        match parse_count(t) {
            Some(v) if t.chars().all(|c| c.is_ascii_digit()) => nums.push(v),
            _ => return Parsed::Bad(format!("{t:?} is not a number; row skipped")),
        }
    }
    let (last_pos, last) = toks[need - 1];
    let digits = last.chars().take_while(char::is_ascii_digit).count();
    if digits == 0 {
        return Parsed::Bad(format!("{last:?} is not a number; row skipped"));
    }
    let after_last = &nums_text[last_pos + last.len()..];
    let mut cut = digits;
    if digits == last.len() && !after_last.trim().is_empty() && tab_desc.is_none() {
        // `01394 OHCI...`: a description starting with digits glued to the number; the
        // header's last column end tells where the number stops.
        if let Some(end) = h.last_end {
            let start_col = rest_start + nums_text[..last_pos].chars().count();
            if end > start_col && end < start_col + digits {
                cut = end - start_col;
            }
        }
    }
    let Some(v) = parse_count(&last[..cut]) else {
        return Parsed::Bad(format!("{last:?} is not a number; row skipped"));
    };
    nums.push(v);
    let glued = format!("{}{}", &last[cut..], after_last);
    let desc = tab_desc.or_else(|| {
        let g = glued.trim();
        (!g.is_empty()).then(|| g.to_owned())
    });
    let Some(mut tag) = tag_from_text(tag_trim) else {
        return Parsed::Bad(format!(
            "{tag_trim:?} is not a pool tag (1 to 4 characters); row skipped"
        ));
    };
    if tag_text.chars().count() == 4 {
        tag = tag_from_text(&tag_text).unwrap_or(tag);
    }
    let mut note = None;
    if let Some(q) = desc.as_deref().and_then(quoted_unknown_tag)
        && let Some(qtag) = tag_from_text(q)
        && qtag != tag
    {
        note = Some(format!(
            "tag column shows {:?} but the debugger names '{q}'; using '{q}'",
            tag_trim
        ));
        tag = qtag;
    }
    Parsed::Row {
        tag,
        nums,
        desc,
        note,
    }
}

pub(crate) fn parse(input: &Input<'_>, ctx: &mut Ctx) -> Result<Vec<Snapshot>, SnapshotError> {
    let mut out = Vec::new();
    let mut cur = Snapshot::default();
    let mut header: Option<Header> = None;
    let mut prev: Option<String> = None;
    let mut session = false;
    let mut last_line = 0;
    for (n, line) in input.lines() {
        last_line = n;
        if ctx.full() {
            break;
        }
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        if let Some(i) = t.find("!poolused") {
            if !cur.rows.is_empty() {
                ctx.push_snapshot(&mut out, std::mem::take(&mut cur), n);
            }
            let flags = t[i + 9..].split_whitespace().next().and_then(|f| {
                let f = f.trim_start_matches("0x");
                u32::from_str_radix(f, 16).ok()
            });
            session = flags.is_some_and(|f| f & 8 != 0);
            header = None;
            cur.label = Some(t[i..].trim().to_owned());
            prev = Some(t.to_owned());
            continue;
        }
        if t.starts_with("Sorting by") {
            cur.label = Some(match cur.label.take() {
                Some(l) => format!("{l}: {t}"),
                None => t.to_owned(),
            });
            continue;
        }
        if is_header(t) {
            if !cur.rows.is_empty() {
                ctx.push_snapshot(&mut out, std::mem::take(&mut cur), n);
            }
            header = Some(Header::read(line, prev.as_deref(), session));
            prev = Some(t.to_owned());
            continue;
        }
        if t.starts_with("UNKNOWN pooltag") || t.chars().all(|c| c == '.' || c == '-') {
            continue;
        }
        let h = header.clone().unwrap_or_else(Header::default_layout);
        match parse_row(line, &h) {
            Parsed::NotARow => {}
            Parsed::Bad(msg) => {
                if header.is_some() {
                    ctx.skip(n, msg);
                }
            }
            Parsed::Total(nums) => {
                let mut totals = PoolTotals::default();
                let need = h.numbers();
                if nums.len() >= need {
                    for (g, pool) in h.pools.iter().enumerate() {
                        let grp = &nums[g * h.per_group..(g + 1) * h.per_group];
                        let (count, bytes) = if h.per_group == 4 {
                            (grp[2], grp[3])
                        } else {
                            (grp[0], grp[1])
                        };
                        match pool {
                            PoolKind::NonPaged => {
                                totals.nonpaged_allocs = Some(count);
                                totals.nonpaged_bytes = Some(bytes);
                            }
                            PoolKind::Paged => {
                                totals.paged_allocs = Some(count);
                                totals.paged_bytes = Some(bytes);
                            }
                            _ => {}
                        }
                    }
                    cur.totals = Some(totals);
                } else {
                    ctx.warn(n, "TOTAL line with too few numbers ignored");
                }
            }
            Parsed::Row {
                tag,
                nums,
                desc,
                note,
            } => {
                if let Some(note) = note {
                    ctx.warn(n, note);
                }
                let unknown = desc
                    .as_deref()
                    .is_some_and(|d| d.starts_with("UNKNOWN pooltag"));
                for (g, pool) in h.pools.iter().enumerate() {
                    let grp = &nums[g * h.per_group..(g + 1) * h.per_group];
                    if grp.iter().all(|&v| v == 0) {
                        continue;
                    }
                    let mut u = PoolUsage::new(tag, *pool, grp[h.per_group - 1]).at_line(n);
                    if h.per_group == 4 {
                        u.allocs = Some(grp[0]);
                        u.frees = Some(grp[1]);
                        u.outstanding = Some(grp[2]);
                    } else {
                        u.outstanding = Some(grp[0]);
                    }
                    if !unknown {
                        u.mapped_driver.clone_from(&desc);
                    }
                    if !ctx.take_row(n) {
                        break;
                    }
                    cur.rows.push(u);
                }
            }
        }
        prev = Some(t.to_owned());
    }
    ctx.push_snapshot(&mut out, cur, last_line);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::ParseOptions;

    fn run(text: &str) -> (Vec<Snapshot>, Vec<super::super::LineWarning>) {
        let mut ctx = Ctx::new(&ParseOptions::default());
        let s = parse(&Input::from_str(text), &mut ctx).unwrap();
        (s, ctx.warnings)
    }

    #[test]
    fn glued_description_starting_with_digits_is_cut_at_the_column() {
        let (s, w) = run(
            " Tag    Allocs     Used    Allocs     Used\n ohci        1      136         0        01394 OHCI host controller driver \n",
        );
        assert!(w.is_empty(), "{w:?}");
        let r = &s[0].rows[0];
        assert_eq!(r.bytes, 136);
        assert_eq!(r.outstanding, Some(1));
        assert_eq!(
            r.mapped_driver.as_deref(),
            Some("1394 OHCI host controller driver")
        );
    }

    #[test]
    fn verbose_layout_with_tab() {
        let (s, _) = run(
            " Tag       Allocs       Frees      Diff         Used       Allocs       Frees      Diff         Used\n \
             APpt         968           0       968       124112       109457      107115      2342       255952\tUNKNOWN pooltag 'APpt', please update pooltag.txt\n",
        );
        let rows = &s[0].rows;
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].pool, PoolKind::Paged);
        assert_eq!(rows[1].allocs, Some(109_457));
        assert_eq!(rows[1].frees, Some(107_115));
        assert_eq!(rows[1].outstanding, Some(2342));
        assert_eq!(rows[1].bytes, 255_952);
        assert_eq!(rows[1].mapped_driver, None);
    }
}
