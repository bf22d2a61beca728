//! `Key: value` blocks, as people retype a tool's numbers into a post or a ticket:
//!
//! ```text
//! Tag: Qzfc
//! Pool: Nonpaged
//! Nonpaged bytes: 9,612,440,064 (8.952 GiB)
//! Allocs: 1,204,330
//! ```
//!
//! Each key goes through the header model of [`super::columns`] ([`role_of`]), so a key means
//! what the same words mean as a table header; a value's remark in brackets is not the value.
//! A block ends at a blank line or a repeated `Tag:` key; several blocks give several rows of
//! one snapshot. A line near a block that states an earlier reading in words (`(two hours
//! earlier Bytes was 1,200,000,000)`, `earlier: 1.1 GB`) gives an earlier snapshot; the block's
//! own value is always the current one. Keys that name no tag nor measure (`OS: Windows 11`,
//! `Build: 22631`) are context, never rows; `Uptime: 3 days` gives the snapshot's hours.
//!
//! Without any `Tag:` key, blocks of pool totals (`PoolPagedBytes : 812345678` from
//! `Format-List`) give a totals-only snapshot.

use super::cell::{Amount, looks_like_tag, read_tag_cell, read_uptime};
use super::header::{Measure, Role, pool_of, role_of};
use super::text::{Input, parse_timestamp, quote};
use super::{Ctx, PoolKind, PoolTotals, PoolUsage, Precision, Snapshot};
use crate::tag::PoolTag;

/// One tag's block.
struct Entry {
    line: usize,
    tag: PoolTag,
    note: Option<String>,
    pool: Option<PoolKind>,
    /// (pool a key names, measure, value, key as written).
    values: Vec<(Option<PoolKind>, Measure, Amount, String)>,
    /// An earlier reading stated in words: (measure, value).
    earlier: Option<(Measure, Amount)>,
}

/// What the blocks of a text say.
#[derive(Default)]
struct Reading {
    entries: Vec<Entry>,
    elapsed_hours: Option<f64>,
    earlier_hours: Option<f64>,
    taken_at: Option<time::OffsetDateTime>,
    totals: PoolTotals,
    /// The current entry is closed (a blank line); a new key of a measure starts no row.
    closed: bool,
}

/// `Key: value` (or `Key = value`), bullets and emphasis around the key removed.
fn key_value(line: &str) -> Option<(&str, &str)> {
    let t = line.trim().trim_start_matches(['-', '*', '•', '>']).trim();
    let i = t.find([':', '='])?;
    let key = t[..i].trim().trim_matches(['*', '`', '_']).trim();
    // `**Tag:** Abcd`: the emphasis closing after the colon.
    let value = t[i + 1..].trim();
    let value = ["**", "__", "*", "_"]
        .iter()
        .find_map(|m| value.strip_prefix(m).filter(|v| v.starts_with(' ')))
        .unwrap_or(value)
        .trim();
    let ok = (1..=40).contains(&key.len())
        && key.starts_with(|c: char| c.is_alphabetic())
        && key
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '_' | '-' | '(' | ')' | '.' | '/'))
        && !value.is_empty();
    ok.then_some((key, value))
}

/// Does a key or line speak of an earlier reading (`earlier`, `two hours ago`, `before`)?
fn says_earlier(lower: &str) -> bool {
    ["earlier", " ago", "previously", "before that", "at first"]
        .iter()
        .any(|w| lower.contains(w))
}

/// `two hours earlier`: number words to digits, so the hours can be read.
fn hours_in(lower: &str) -> Option<f64> {
    const NUMBERS: [&str; 12] = [
        "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
        "twelve",
    ];
    let text: Vec<String> = lower
        .split_whitespace()
        .map(
            |w| match NUMBERS.iter().position(|n| w.trim_start_matches('(') == *n) {
                Some(i) => (i + 1).to_string(),
                None => w.to_owned(),
            },
        )
        .collect();
    let text = text.join(" ");
    let cut = text.find(['=', ':']).unwrap_or(text.len());
    let words: Vec<&str> = text[..cut].split_whitespace().collect();
    // Only a duration written as one: a number then an hour/day/minute word.
    words.windows(2).find_map(|w| {
        let n: f64 = w[0].trim_start_matches('(').parse().ok()?;
        let per = match w[1].trim_end_matches([',', ')']) {
            "h" | "hr" | "hrs" | "hour" | "hours" => 1.0,
            "min" | "mins" | "minute" | "minutes" => 1.0 / 60.0,
            "d" | "day" | "days" => 24.0,
            _ => return None,
        };
        Some(n * per)
    })
}

/// The first number `measure` reads among the words of `text`.
fn first_number(text: &str, measure: Measure) -> Option<Amount> {
    let words: Vec<&str> = text
        .split_whitespace()
        .map(|w| w.trim_matches(['(', ')', ',', ';']))
        .collect();
    (0..words.len()).find_map(|i| {
        if !words[i].starts_with(|c: char| c.is_ascii_digit() || matches!(c, '~' | '>')) {
            return None;
        }
        // A number with its unit (`1.1 GB`) before the number alone.
        let pair = words.get(i + 1).map(|u| format!("{} {u}", words[i]));
        pair.and_then(|p| measure.read(&p))
            .or_else(|| measure.read(words[i]))
    })
}

impl Reading {
    /// A line that states an earlier reading of the current entry's measure.
    fn earlier(&mut self, n: usize, line: &str, ctx: &mut Ctx) {
        let Some(entry) = self.entries.last_mut() else {
            return;
        };
        let lower = line.to_ascii_lowercase();
        // The measure: the longest key of the block named in the line, else the block's
        // only measure.
        let named = entry
            .values
            .iter()
            .filter(|(_, _, _, key)| lower.contains(&key.to_ascii_lowercase()))
            .max_by_key(|(_, _, _, key)| key.len());
        let (measure, after) = match named {
            Some((_, m, _, key)) => {
                let at = lower.find(&key.to_ascii_lowercase()).unwrap_or(0) + key.len();
                (*m, &line[at..])
            }
            None if entry.values.len() == 1 => {
                let at = ["earlier", "ago", "previously", "before", "first"]
                    .iter()
                    .filter_map(|w| lower.find(w))
                    .min();
                (entry.values[0].1, &line[at.unwrap_or(0)..])
            }
            None => {
                ctx.warn(
                    n,
                    format!(
                        "{} names no measure of tag {}; earlier reading left out",
                        quote(line),
                        entry.tag
                    ),
                );
                return;
            }
        };
        // Past the hours (`two hours earlier`), the number is the reading.
        let after = after
            .find(['=', ':'])
            .map_or(after, |i| &after[i + 1..])
            .trim_start_matches(|c: char| !c.is_ascii_digit() && !matches!(c, '~' | '>'));
        let Some(amount) = first_number(after, measure) else {
            ctx.warn(n, format!("no number read in {}", quote(line)));
            return;
        };
        entry.earlier = Some((measure, amount));
        if let Some(h) = hours_in(&lower) {
            self.earlier_hours.get_or_insert(h);
        }
        ctx.warn(
            n,
            format!(
                "{} read as an earlier reading of tag {}; the Key: value lines are the current one",
                quote(line),
                entry.tag
            ),
        );
    }

    fn add(&mut self, n: usize, key: &str, value: &str, ctx: &mut Ctx) {
        if says_earlier(&key.to_ascii_lowercase()) {
            self.earlier(n, &format!("{key}: {value}"), ctx);
            return;
        }
        match role_of(key) {
            Role::Tag => match read_tag_cell(value).filter(|_| looks_like_tag(value)) {
                Some((tag, note)) => {
                    self.entries.push(Entry {
                        line: n,
                        tag,
                        note,
                        pool: None,
                        values: Vec::new(),
                        earlier: None,
                    });
                    self.closed = false;
                }
                _ => {
                    ctx.skip(
                        n,
                        format!("{} is not a pool tag; block skipped", quote(value)),
                    );
                    self.closed = true;
                }
            },
            Role::Pool => {
                if let Some(e) = self.open() {
                    e.pool = pool_of(value);
                }
            }
            Role::Driver => {
                let v = value.to_owned();
                if let Some(e) = self.open() {
                    e.note = Some(match e.note.take() {
                        Some(n) => format!("{n}; {v}"),
                        None => v,
                    });
                }
            }
            Role::Uptime(per) => self.elapsed_hours = read_uptime(value, per),
            Role::Time => self.taken_at = parse_timestamp(value),
            Role::Plain(m) | Role::Split(_, m) => {
                let pool = match role_of(key) {
                    Role::Split(p, _) => Some(p),
                    _ => None,
                };
                let Some(amount) = m.read(value) else {
                    ctx.warn(n, format!("{} is not a number; left out", quote(value)));
                    return;
                };
                match self.open() {
                    Some(e) => e.values.push((pool, m, amount, key.to_owned())),
                    // Machine totals: `PoolPagedBytes : 812345678`.
                    None if matches!(m, Measure::Bytes(_)) => {
                        let slot = match pool {
                            Some(PoolKind::Paged) => &mut self.totals.paged_bytes,
                            Some(PoolKind::NonPaged) => &mut self.totals.nonpaged_bytes,
                            _ => return,
                        };
                        *slot = Some(amount.value);
                    }
                    None => {}
                }
            }
            _ => {}
        }
    }

    /// The entry keys now add to, unless a blank line closed it.
    fn open(&mut self) -> Option<&mut Entry> {
        if self.closed {
            return None;
        }
        self.entries.last_mut()
    }
}

/// The row of one entry at the current or the earlier reading.
fn usage(e: &Entry, values: &[(Option<PoolKind>, Measure, Amount)]) -> PoolUsage {
    let mut slots: [Option<Amount>; 4] = [None; 4];
    let mut pool = e.pool;
    for (p, m, a) in values {
        let i = match m {
            Measure::Allocs => 0,
            Measure::Frees => 1,
            Measure::Outstanding => 2,
            Measure::Bytes(_) => 3,
        };
        slots[i].get_or_insert(*a);
        pool = pool.or(*p);
    }
    let mut u = PoolUsage::new(
        e.tag,
        pool.unwrap_or(PoolKind::Unknown),
        slots[3].map_or(0, |a| a.value),
    )
    .at_line(e.line);
    u.allocs = slots[0].map(|a| a.value);
    u.frees = slots[1].map(|a| a.value);
    u.outstanding = slots[2].map(|a| a.value);
    u.mapped_driver.clone_from(&e.note);
    u.precision = match slots[3] {
        Some(_) => slots
            .iter()
            .flatten()
            .map(|a| a.precision)
            .max()
            .unwrap_or_default(),
        None => Precision::Unknown,
    };
    u
}

/// Does the text hold a `Tag:` key or pool-total keys (a cheap test before reading)?
pub(crate) fn has_blocks(input: &Input<'_>) -> bool {
    input.lines().any(|(_, l)| {
        l.len() < 200
            && key_value(l).is_some_and(|(k, _)| {
                matches!(role_of(k), Role::Tag | Role::Split(_, Measure::Bytes(_)))
            })
    })
}

/// The snapshots the `Key: value` blocks of the text give: the current reading (last) and an
/// earlier one when a line states it; or machine totals alone.
pub(crate) fn parse(input: &Input<'_>, ctx: &mut Ctx) -> Vec<Snapshot> {
    let mut r = Reading::default();
    for (n, line) in input.lines() {
        if line.len() > 400 {
            continue;
        }
        if line.trim().is_empty() {
            r.closed = true;
            continue;
        }
        match key_value(line) {
            Some((key, value)) => r.add(n, key, value, ctx),
            None if says_earlier(&line.to_ascii_lowercase()) => r.earlier(n, line, ctx),
            None => {}
        }
    }
    let mut current = Snapshot {
        taken_at: r.taken_at,
        elapsed_hours: r.elapsed_hours,
        ..Snapshot::default()
    };
    let mut earlier = Snapshot {
        label: Some("earlier (as the paste states it)".into()),
        ..Snapshot::default()
    };
    for e in &r.entries {
        let values: Vec<(Option<PoolKind>, Measure, Amount)> =
            e.values.iter().map(|(p, m, a, _)| (*p, *m, *a)).collect();
        if values.is_empty() {
            ctx.skip(
                e.line,
                format!("no number for tag {}; block skipped", e.tag),
            );
            continue;
        }
        if !ctx.take_row(e.line) {
            break;
        }
        let now = usage(e, &values);
        if let Some((m, a)) = e.earlier {
            let mut before = usage(e, &[(None, m, a)]);
            before.pool = now.pool;
            earlier.rows.push(before);
        }
        current.rows.push(now);
    }
    if current.rows.is_empty() {
        // Totals alone: the caller takes them when no table gives tags.
        if r.totals == PoolTotals::default() {
            return Vec::new();
        }
        current.totals = Some(r.totals);
        return vec![current];
    }
    if r.totals != PoolTotals::default() {
        current.totals = Some(r.totals);
    }
    let mut out = Vec::new();
    if !earlier.rows.is_empty() {
        if let Some(h) = r.earlier_hours {
            earlier.elapsed_hours = Some(r.elapsed_hours.map_or(0.0, |now| (now - h).max(0.0)));
            current.elapsed_hours = Some(r.elapsed_hours.unwrap_or(h));
        }
        out.push(earlier);
    }
    out.push(current);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::ParseOptions;

    fn read(text: &str) -> (Vec<Snapshot>, Ctx) {
        let mut ctx = Ctx::new(&ParseOptions::default());
        let s = parse(&Input::from_str(text), &mut ctx);
        (s, ctx)
    }

    #[test]
    fn one_block_with_a_remark_in_brackets() {
        let (s, _) = read(
            "OS: Windows 11 23H2\nBuild: 22631\nUptime: 3 days\n\nTag: Qzfc\nPool: Nonpaged\n\
             Nonpaged bytes: 9,612,440,064 (8.952 GiB)\nAllocs: 1,204,330\nFrees: 1,100\n\
             Diff: 1,203,230\n",
        );
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].elapsed_hours, Some(72.0));
        let r = &s[0].rows;
        assert_eq!(r.len(), 1, "{r:?}");
        assert_eq!(r[0].tag.to_string(), "Qzfc");
        assert_eq!(r[0].pool, PoolKind::NonPaged);
        assert_eq!(r[0].bytes, 9_612_440_064);
        assert_eq!(r[0].allocs, Some(1_204_330));
        assert_eq!(r[0].frees, Some(1_100));
        assert_eq!(r[0].outstanding, Some(1_203_230));
        assert_eq!(r[0].line, 5);
    }

    #[test]
    fn several_blocks_and_an_earlier_reading_in_words() {
        let (s, ctx) = read(
            "Tag: Abc1\nType: Paged\nBytes: 1,900,000,000\n\
             (two hours earlier Bytes was 1,200,000,000)\nTag: Abc2\nType: Paged\nBytes: 5,000\n",
        );
        assert_eq!(s.len(), 2, "{:?}", ctx.warnings);
        assert_eq!(s[0].rows.len(), 1);
        assert_eq!(s[0].rows[0].bytes, 1_200_000_000);
        assert_eq!(s[0].elapsed_hours, Some(0.0));
        assert_eq!(s[1].rows.len(), 2);
        assert_eq!(s[1].rows[0].bytes, 1_900_000_000);
        assert_eq!(s[1].elapsed_hours, Some(2.0));
        let (s, _) = read("**Tag:** Abc1\n**Bytes:** 2.1 GB\n- earlier: 1.5 GB\n");
        assert_eq!(s[0].rows[0].bytes, 1_610_612_736);
        assert_eq!(s[1].rows[0].bytes, 2_254_857_830);
    }

    #[test]
    fn labels_are_never_tags_and_totals_stand_alone() {
        let (s, _) = read("OS: Windows 11\nBuild: 22631\nRAM: 32 GB\n");
        assert!(s.is_empty());
        let (s, _) = read("Tag: not a tag at all\nBytes: 12\n");
        assert!(s.is_empty());
        let (s, _) = read("PoolPagedBytes    : 812345678\nPoolNonpagedBytes : 456789012\n");
        let t = s[0].totals.as_ref().unwrap();
        assert_eq!(t.paged_bytes, Some(812_345_678));
        assert_eq!(t.nonpaged_bytes, Some(456_789_012));
        assert!(s[0].rows.is_empty());
    }
}
