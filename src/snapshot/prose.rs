//! The last resort: sentences and bullet lists that name a tag with a size or counts
//! (`` tag `Abcd` = 812.4 MB ``, `` `LkaL` went from 40 MB to 1.9 GB ``, `- Thre: 2.1 GB`,
//! `memory of mdl tag is allocated 2492040 times, but it is only freed 176 times`).
//!
//! Precision before recall: a word is a tag only where the text marks it as one. That is a
//! token in backticks or quotes (bold too, when it is no English word); a word right beside the
//! word "tag" that the knowledge base knows (in any case: `mdl` is `Mdl `) or that is shaped
//! like a tag (`LkaL`); or a tag the knowledge base knows exactly, written before its numbers.
//! An English word never is, nor is a label ending in `:` that no knowledge base knows
//! (`OS: Windows 11`). Only sizes with a unit count as sizes, and only numbers that say what
//! they count (`allocated 2492040 times`, `176 frees`) as counts; a bare number is as likely a
//! date or a build. A size after `out of` or beside `total` is the pool's total, a percentage is
//! a share, a rate (`33 allocs/sec`) is neither. `X -> Y` and `from X to Y` are two points, and
//! `in 90 s` the time between them; in a sentence about stopping or removing something, the
//! second number is the state after that change.

use rustc_hash::FxHashMap as HashMap;

use super::cell::{Amount, is_english_word, read_amount, read_tag_cell};
use super::text::{Input, parse_count, tag_from_text};
use super::{Caveat, Ctx, KnownTags, PoolKind, PoolTotals, PoolUsage, Precision, Snapshot};
use crate::tag::PoolTag;

/// What a sentence says about one tag.
struct Mention {
    line: usize,
    tag: PoolTag,
    pool: PoolKind,
    /// The earlier size of `from X to Y` / `X -> Y` (not after a change).
    earlier: Option<Amount>,
    size: Option<Amount>,
    /// The size after a change the sentence describes (stopping a service, a reboot, a fix).
    after_change: Option<Amount>,
    allocs: Option<u64>,
    frees: Option<u64>,
    outstanding: Option<u64>,
}

impl Mention {
    fn has_numbers(&self) -> bool {
        self.size.is_some() || self.allocs.is_some() || self.outstanding.is_some()
    }
}

/// Totals a sentence gives without a tag (`system paged pool total 3.22 GB -> 0.77 GB`).
#[derive(Default)]
struct Totals {
    paged: Option<u64>,
    nonpaged: Option<u64>,
    in_use: Option<u64>,
    after_paged: Option<u64>,
    after_nonpaged: Option<u64>,
}

pub(crate) fn parse(input: &Input<'_>, ctx: &mut Ctx, known: &dyn KnownTags) -> Vec<Snapshot> {
    let mut mentions: Vec<Mention> = Vec::new();
    let mut totals = Totals::default();
    let mut period: Option<f64> = None;
    let mut change_text: Option<String> = None;
    for (n, line) in input.lines() {
        // A size or count has digits; most lines of a long text have none.
        if line.len() > MAX_SENTENCE || !line.bytes().any(|b| b.is_ascii_digit()) {
            continue;
        }
        for sentence in sentences(line) {
            let after_change = describes_a_change(sentence);
            for clause in sentence.split(';') {
                let words = words(clause);
                let found = read_clause(n, clause, &words, after_change, known, ctx);
                if found.mentions.is_empty() {
                    read_totals(clause, &words, after_change, &mut totals, ctx, n);
                }
                if after_change && found.mentions.iter().any(|m| m.after_change.is_some()) {
                    change_text.get_or_insert_with(|| change_phrase(sentence));
                }
                if found.period.is_some() {
                    period = found.period;
                }
                mentions.extend(found.mentions);
            }
        }
    }
    let mentions = merge(mentions);
    if mentions.is_empty() {
        return Vec::new();
    }
    ctx.caveat(Caveat::FromProse);
    ctx.warn(
        mentions[0].line,
        format!(
            "read from prose: no table found, so the numbers of {} tag{} were taken from \
             sentences; check them",
            mentions.len(),
            if mentions.len() == 1 { "" } else { "s" }
        ),
    );
    let mut earlier = Snapshot {
        label: Some("earlier (from prose)".into()),
        elapsed_hours: period.map(|_| 0.0),
        ..Snapshot::default()
    };
    let mut latest = Snapshot {
        label: Some("latest (from prose)".into()),
        elapsed_hours: period,
        ..Snapshot::default()
    };
    let mut after = Snapshot {
        label: Some(match &change_text {
            Some(t) => format!("after {t}"),
            None => "after a change (from prose)".into(),
        }),
        after_change: true,
        ..Snapshot::default()
    };
    for m in &mentions {
        if !ctx.take_row(m.line) {
            break;
        }
        let row = |a: Option<&Amount>| {
            let mut u = PoolUsage::new(m.tag, m.pool, a.map_or(0, |a| a.value)).at_line(m.line);
            u.precision = a.map_or(Precision::Unknown, |a| a.precision);
            u
        };
        let mut now = row(m.size.as_ref());
        now.allocs = m.allocs;
        now.frees = m.frees;
        now.outstanding = m.outstanding;
        if m.size.is_some() || m.allocs.is_some() || m.outstanding.is_some() {
            latest.rows.push(now);
        }
        if let Some(from) = &m.earlier {
            earlier.rows.push(row(Some(from)));
        }
        if let Some(changed) = &m.after_change {
            after.rows.push(row(Some(changed)));
        }
    }
    let t = |paged: Option<u64>, nonpaged: Option<u64>, in_use: Option<u64>| {
        (paged.is_some() || nonpaged.is_some() || in_use.is_some()).then(|| PoolTotals {
            paged_bytes: paged,
            nonpaged_bytes: nonpaged,
            memory_in_use_kib: in_use.map(|b| b / 1024),
            ..PoolTotals::default()
        })
    };
    latest.totals = t(totals.paged, totals.nonpaged, totals.in_use);
    after.totals = t(totals.after_paged, totals.after_nonpaged, None);
    let line = mentions[0].line;
    let mut out = Vec::new();
    ctx.push_snapshot(&mut out, earlier, line);
    ctx.push_snapshot(&mut out, latest, line);
    ctx.push_snapshot(&mut out, after, line);
    out
}

/// One tag per (tag, pool), the later sentence winning; a mention whose clause names no pool
/// takes the pool an earlier mention of the tag named.
fn merge(mentions: Vec<Mention>) -> Vec<Mention> {
    // Indexes by tag, so a text naming many tags costs one lookup per mention, not a scan.
    let mut out: Vec<Mention> = Vec::new();
    let mut at: HashMap<(PoolTag, PoolKind), usize> = HashMap::default();
    let mut pool_of: HashMap<PoolTag, PoolKind> = HashMap::default();
    for mut m in mentions {
        if m.pool == PoolKind::Unknown
            && let Some(&p) = pool_of.get(&m.tag)
        {
            m.pool = p;
        }
        if m.pool != PoolKind::Unknown {
            pool_of.entry(m.tag).or_insert(m.pool);
        }
        match at.get(&(m.tag, m.pool)) {
            Some(&i) => {
                let o = &mut out[i];
                // A sentence about a change repeats the leaking size; the levels stay the
                // ones read before it.
                if m.after_change.is_none() || o.size.is_none() {
                    o.size = m.size.or(o.size);
                    o.earlier = m.earlier.or(o.earlier);
                }
                o.after_change = m.after_change.or(o.after_change);
                o.allocs = m.allocs.or(o.allocs);
                o.frees = m.frees.or(o.frees);
                o.outstanding = m.outstanding.or(o.outstanding);
            }
            None => {
                at.insert((m.tag, m.pool), out.len());
                out.push(m);
            }
        }
    }
    out
}

/// Sentences are short; longer lines are data or noise.
const MAX_SENTENCE: usize = 1000;

/// The sentences of a line: cut after `.`, `!`, `?` followed by a blank (a decimal point is
/// followed by a digit) and after `。`.
fn sentences(line: &str) -> impl Iterator<Item = &str> {
    let bytes = line.as_bytes();
    let mut start = 0;
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < line.len() {
            let at = i;
            let c = line[at..].chars().next()?;
            i += c.len_utf8();
            let ends = match c {
                '。' | '！' | '？' => true,
                '.' | '!' | '?' => bytes.get(i).is_none_or(|b| b.is_ascii_whitespace()),
                _ => false,
            };
            if ends {
                let s = &line[start..at];
                start = i;
                return Some(s);
            }
        }
        if start < line.len() {
            let s = &line[start..];
            start = line.len();
            return Some(s);
        }
        None
    })
}

/// Words that describe a change whose result the sentence's second number is: stopping or
/// removing something, a reboot, a fix.
const CHANGE_WORDS: [&str; 18] = [
    "stopping",
    "stopped",
    "killing",
    "killed",
    "uninstall",
    "uninstalled",
    "uninstalling",
    "removing",
    "removed",
    "disabling",
    "disabled",
    "reboot",
    "rebooting",
    "restart",
    "restarting",
    "after the fix",
    "after the update",
    "after updating",
];

/// The change a sentence describes, as a short label: from its change word to the first
/// bracket (`stopping the service + killing its processes released ~2.5 GB instantly`).
fn change_phrase(sentence: &str) -> String {
    let lower = sentence.to_ascii_lowercase();
    let from = CHANGE_WORDS
        .iter()
        .filter_map(|w| lower.find(w))
        .min()
        .unwrap_or(0);
    let rest = &sentence[from..];
    let rest = &rest[..rest.find('(').unwrap_or(rest.len())];
    super::plain_label(rest)
}

fn describes_a_change(sentence: &str) -> bool {
    let lower = sentence.to_ascii_lowercase();
    CHANGE_WORDS.iter().any(|w| lower.contains(w))
}

/// A word of a clause: its text without the punctuation around it, and whether it was marked
/// (backticks, quotes or bold around it).
#[derive(Debug)]
struct Word<'a> {
    text: &'a str,
    /// `` ` ``, `"`, `'`, `“`: the writer marked it as code or a name.
    quoted: bool,
    bold: bool,
    /// Punctuation right after it: `%`, `/` (a rate) and the like.
    after: &'a str,
}

/// How people write "became": every one is read as `->`.
const ARROWS: [&str; 6] = ["->", "→", "=>", "-->", "—>", "⇒"];

/// Splits a clause into words, keeping quoted runs (`` `Io  ` ``) whole.
fn words(clause: &str) -> Vec<Word<'_>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < clause.len() {
        let c = clause[i..].chars().next().unwrap_or(' ');
        if c.is_whitespace() || c == '(' || c == ')' || c == ',' {
            i += c.len_utf8();
            continue;
        }
        // A quoted run: up to its closing mark, blanks inside kept (`Mdl `).
        let close = match c {
            '`' => Some('`'),
            '"' => Some('"'),
            '“' => Some('”'),
            '‘' => Some('’'),
            '\'' => Some('\''),
            _ => None,
        };
        if let Some(close) = close {
            let inner_start = i + c.len_utf8();
            if let Some(len) = clause[inner_start..].find(close)
                && len <= 16
            {
                let end = inner_start + len + close.len_utf8();
                let (after, next) = trailing(clause, end);
                out.push(Word {
                    text: &clause[inner_start..inner_start + len],
                    quoted: true,
                    bold: false,
                    after,
                });
                i = next;
                continue;
            }
        }
        let end = clause[i..]
            .find(|c: char| c.is_whitespace() || c == '(' || c == ')')
            .map_or(clause.len(), |e| i + e);
        let raw = &clause[i..end];
        if ARROWS.contains(&raw) {
            out.push(Word {
                text: "->",
                quoted: false,
                bold: false,
                after: "",
            });
            i = end;
            continue;
        }
        let bold = raw.starts_with("**") || raw.starts_with("__");
        let t = raw.trim_start_matches(['*', '_', '~', '≈']);
        // `~2.5` keeps its qualifier for the number reader.
        let t = if raw.starts_with(['~', '≈']) || raw.trim_start_matches('*').starts_with('~') {
            &raw[raw.find(['~', '≈']).unwrap_or(0)..]
        } else {
            t
        };
        let core_end = t
            .char_indices()
            .rev()
            .find(|&(_, c)| c.is_alphanumeric() || c == '%' || c == '\'')
            .map_or(0, |(j, c)| j + c.len_utf8());
        let text = &t[..core_end];
        let tail = &t[core_end..];
        let (after, _) = trailing(clause, end);
        if !text.is_empty() {
            out.push(Word {
                text,
                quoted: false,
                bold,
                after: if tail.is_empty() { after } else { tail },
            });
        }
        i = end;
    }
    out
}

/// The punctuation right after byte `end`, and where the next word may start.
fn trailing(clause: &str, end: usize) -> (&str, usize) {
    let rest = &clause[end..];
    let len = rest
        .find(|c: char| c.is_alphanumeric() || c.is_whitespace() || c == '`' || c == '"')
        .unwrap_or(rest.len());
    (&rest[..len], end + len)
}

/// What one clause gave.
struct ClauseReading {
    mentions: Vec<Mention>,
    /// `in 90 s`, `over 3 days` after a pair of sizes: hours between them.
    period: Option<f64>,
}

/// A number of a clause and what it is.
#[derive(Debug, Clone, Copy)]
enum Number {
    Size(Amount),
    Allocs(u64),
    Frees(u64),
    Outstanding(u64),
    /// A pool or machine total, a share or a rate: not the tag's.
    Other,
}

fn read_clause(
    line: usize,
    clause: &str,
    words: &[Word<'_>],
    after_change: bool,
    known: &dyn KnownTags,
    ctx: &mut Ctx,
) -> ClauseReading {
    let mut reading = ClauseReading {
        mentions: Vec::new(),
        period: None,
    };
    // Where the tags are: (word index, tag).
    let mut tags: Vec<(usize, PoolTag)> = Vec::new();
    for i in 0..words.len() {
        if let Some(tag) = tag_of(words, i, known, ctx, line)
            && !tags.iter().any(|(_, t)| *t == tag)
        {
            tags.push((i, tag));
        }
    }
    if tags.is_empty() {
        return reading;
    }
    let lower = clause.to_ascii_lowercase();
    let pool = super::header::pool_in_text(&lower).unwrap_or(PoolKind::Unknown);
    let numbers = numbers(words);
    for (k, &(at, tag)) in tags.iter().enumerate() {
        // The tag's numbers follow it, up to the next tag.
        let until = tags.get(k + 1).map_or(words.len(), |(next, _)| *next);
        let mut m = Mention {
            line,
            tag,
            pool,
            earlier: None,
            size: None,
            after_change: None,
            allocs: None,
            frees: None,
            outstanding: None,
        };
        let mine: Vec<&(usize, Number)> = numbers
            .iter()
            .filter(|(i, _)| *i > at && *i < until)
            .collect();
        let sizes: Vec<(usize, Amount)> = mine
            .iter()
            .filter_map(|(i, n)| match n {
                Number::Size(a) => Some((*i, *a)),
                _ => None,
            })
            .collect();
        if let Some(&(first_at, first)) = sizes.first() {
            // `X -> Y`, `from X to Y`: two points when a second size follows through an
            // arrow or `to`.
            let second = sizes.get(1).filter(|(second_at, _)| {
                words[first_at + 1..*second_at]
                    .iter()
                    .any(|w| matches!(w.text, "to" | "->"))
                    || words[first_at].after.contains(['→', '>'])
            });
            match second {
                Some(&(_, second)) if after_change => {
                    m.size = Some(first);
                    m.after_change = Some(second);
                }
                Some(&(second_at, second)) => {
                    m.earlier = Some(first);
                    m.size = Some(second);
                    reading.period = period_after(words, second_at);
                }
                None => m.size = Some(first),
            }
            m.size = m.size.map(|a| qualified(a, &lower));
        }
        for (_, n) in &mine {
            match *n {
                Number::Allocs(v) => m.allocs = m.allocs.or(Some(v)),
                Number::Frees(v) => m.frees = m.frees.or(Some(v)),
                Number::Outstanding(v) => m.outstanding = m.outstanding.or(Some(v)),
                Number::Size(_) | Number::Other => {}
            }
        }
        if m.has_numbers() {
            reading.mentions.push(m);
        }
    }
    reading
}

/// `about 2 GB` is approximate even when the number itself carries no `~`.
fn qualified(a: Amount, lower: &str) -> Amount {
    if a.precision == Precision::Exact && (lower.contains("about ") || lower.contains("roughly")) {
        Amount {
            precision: Precision::Approximate,
            ..a
        }
    } else {
        a
    }
}

/// The tag word `i` is, if the text marks it as one.
fn tag_of(
    words: &[Word<'_>],
    i: usize,
    known: &dyn KnownTags,
    ctx: &mut Ctx,
    line: usize,
) -> Option<PoolTag> {
    let w = &words[i];
    let is_tag_word = |j: usize| {
        words.get(j).is_some_and(|x| {
            !x.quoted
                && matches!(
                    x.text.to_ascii_lowercase().as_str(),
                    "tag" | "tags" | "pooltag" | "pooltags"
                )
        })
    };
    let beside_tag_word = is_tag_word(i + 1) || (i > 0 && is_tag_word(i - 1));
    if w.quoted || (w.bold && !is_english_word(w.text)) {
        let (tag, _) = read_tag_cell(&format!("`{}`", w.text))?;
        // A marked number is a tag only beside the word "tag" (`'1234'` in a sentence is as
        // likely a build); a marked size or share never is.
        let t = w.text.trim_end();
        let numeric = t.chars().all(|c| c.is_ascii_digit());
        if t.is_empty()
            || t.chars().count() > 4
            || read_amount(t, 1).is_some() && !(numeric && beside_tag_word)
            || t.ends_with('%')
        {
            return None;
        }
        return Some(tag);
    }
    let t = w.text;
    let n = t.chars().count();
    if !(1..=4).contains(&n)
        || !t.chars().all(|c| c.is_ascii_alphanumeric())
        || !t.chars().any(|c| c.is_ascii_alphabetic())
        || is_english_word(t)
    {
        return None;
    }
    let tag = tag_from_text(t)?;
    if known.knows(tag) {
        return Some(tag);
    }
    if !beside_tag_word {
        return None;
    }
    // Beside the word "tag": the one tag the knowledge base knows in another case (`mdl` is
    // `Mdl `), or a word shaped like a tag (`LkaL`, `NtFC`: four characters, capitals and
    // small letters or digits).
    let variants: Vec<PoolTag> = case_variants(t)
        .into_iter()
        .filter(|v| known.knows(*v))
        .collect();
    if let [only] = variants.as_slice() {
        ctx.warn(
            line,
            format!(
                "{t:?} read as the tag {:?}, which the knowledge base knows (tags are \
                 case-sensitive; the text wrote it in another case)",
                only.to_string()
            ),
        );
        return Some(*only);
    }
    let shaped = n == 4
        && t.chars().any(|c| c.is_ascii_uppercase())
        && (t
            .chars()
            .any(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            || t.chars().all(|c| c.is_ascii_uppercase()));
    if shaped && variants.is_empty() {
        return Some(tag);
    }
    if variants.len() > 1 {
        ctx.warn(
            line,
            format!(
                "{t:?} beside the word \"tag\" could be any of {} tags the knowledge base \
                 knows; not read",
                variants.len()
            ),
        );
    }
    None
}

/// Every spelling of `word` in other letter cases (at most 16 for four letters), as tags.
fn case_variants(word: &str) -> Vec<PoolTag> {
    let chars: Vec<char> = word.chars().collect();
    let letters: Vec<usize> = (0..chars.len())
        .filter(|&i| chars[i].is_ascii_alphabetic())
        .collect();
    let mut out = Vec::new();
    for mask in 0u32..(1 << letters.len()) {
        let mut v = chars.clone();
        for (bit, &i) in letters.iter().enumerate() {
            v[i] = if mask & (1 << bit) != 0 {
                v[i].to_ascii_uppercase()
            } else {
                v[i].to_ascii_lowercase()
            };
        }
        let s: String = v.into_iter().collect();
        if s != word
            && let Some(tag) = tag_from_text(&s)
            && !out.contains(&tag)
        {
            out.push(tag);
        }
    }
    out
}

/// Words that say a count counts allocations, frees or allocations still held.
fn count_kind(word: &str) -> Option<fn(u64) -> Number> {
    Some(match word.to_ascii_lowercase().as_str() {
        "allocs" | "allocations" | "allocation" | "alloc" | "allocated" => Number::Allocs,
        "frees" | "freed" | "free" | "deallocations" | "released" => Number::Frees,
        "outstanding" | "objects" | "blocks" | "entries" => Number::Outstanding,
        _ => return None,
    })
}

/// The numbers of a clause that say what they are, by word index.
fn numbers(words: &[Word<'_>]) -> Vec<(usize, Number)> {
    let mut out = Vec::new();
    for (i, w) in words.iter().enumerate() {
        if w.quoted
            || !w
                .text
                .starts_with(|c: char| c.is_ascii_digit() || c == '~' || c == '≈')
        {
            continue;
        }
        let next = words.get(i + 1);
        // A rate (`33 allocs/sec`, `2 MB/s`, `per second`) or a share is not a level.
        let rate = |w: &Word<'_>| w.after.starts_with('/') || w.text.contains('/');
        if w.text.ends_with('%') || w.after.starts_with('%') || rate(w) {
            out.push((i, Number::Other));
            continue;
        }
        // A size: the unit glued on (`700MB`) or the next word (`2555.9 MB`).
        let glued = w.text.ends_with(|c: char| c.is_ascii_alphabetic());
        let text = match (glued, next) {
            (true, _) => w.text.to_owned(),
            (false, Some(n)) if super::text::unit_multiplier(n.text).is_some() && !n.quoted => {
                if rate(n) || next_is_per(words, i + 2) {
                    out.push((i, Number::Other));
                    continue;
                }
                format!("{} {}", w.text, n.text)
            }
            _ => String::new(),
        };
        if !text.is_empty() {
            if let Some(a) = read_amount(&text, 1).filter(|_| has_unit(&text)) {
                let before = |k: usize| {
                    i.checked_sub(k)
                        .and_then(|j| words.get(j))
                        .map(|w| w.text.to_ascii_lowercase())
                };
                let after_unit = words
                    .get(if glued { i + 1 } else { i + 2 })
                    .map(|w| w.text.to_ascii_lowercase());
                // `out of 3.22 GB total`, `total 3.22 GB`: the pool's total.
                let total = before(1).as_deref() == Some("total")
                    || (before(1).as_deref() == Some("of") && before(2).as_deref() == Some("out"))
                    || after_unit.as_deref() == Some("total");
                out.push((
                    i,
                    if total {
                        Number::Other
                    } else {
                        Number::Size(a)
                    },
                ));
            }
            continue;
        }
        // A count: `2492040 times` after `allocated`/`freed`, `176 frees`, `12 allocations`.
        let Some(value) = parse_count(w.text) else {
            continue;
        };
        let named_after = next.and_then(|n| {
            if rate(n) || next_is_per(words, i + 2) {
                return None;
            }
            count_kind(n.text)
        });
        let named_before = next
            .filter(|n| n.text.eq_ignore_ascii_case("times"))
            .and_then(|_| {
                words[..i]
                    .iter()
                    .rev()
                    .take(4)
                    .find_map(|w| count_kind(w.text))
            });
        if let Some(kind) = named_after.or(named_before) {
            out.push((i, kind(value)));
        }
    }
    out
}

/// `per second`, `a day`: the number before is a rate.
fn next_is_per(words: &[Word<'_>], i: usize) -> bool {
    words
        .get(i)
        .is_some_and(|w| matches!(w.text.to_ascii_lowercase().as_str(), "per" | "a" | "each"))
}

fn has_unit(text: &str) -> bool {
    text.trim_end().ends_with(|c: char| c.is_ascii_alphabetic())
}

/// `in 90 s`, `over 3 days`, `within 2 hours` after word `i`: hours.
fn period_after(words: &[Word<'_>], i: usize) -> Option<f64> {
    let rest = words.get(i + 1..i + 5)?;
    let at = rest
        .iter()
        .position(|w| matches!(w.text, "in" | "over" | "within" | "after"))?;
    let n = rest.get(at + 1)?;
    let unit = rest.get(at + 2).map_or("", |w| w.text);
    let value: f64 = n.text.replace(',', ".").parse().ok()?;
    let per = match unit.to_ascii_lowercase().as_str() {
        "s" | "sec" | "secs" | "second" | "seconds" => 1.0 / 3600.0,
        "min" | "mins" | "minute" | "minutes" => 1.0 / 60.0,
        "h" | "hr" | "hrs" | "hour" | "hours" => 1.0,
        "d" | "day" | "days" => 24.0,
        "week" | "weeks" => 168.0,
        _ => return None,
    };
    Some(value * per)
}

/// Totals in a clause that names no tag: `system paged pool total 3.22 GB -> 0.77 GB`,
/// `used memory is changed from 700MB to 1.11GB`.
fn read_totals(
    clause: &str,
    words: &[Word<'_>],
    after_change: bool,
    totals: &mut Totals,
    ctx: &mut Ctx,
    line: usize,
) {
    let lower = clause.to_ascii_lowercase();
    let sizes: Vec<Amount> = words
        .iter()
        .enumerate()
        .filter_map(|(i, w)| {
            let glued = w.text.ends_with(|c: char| c.is_ascii_alphabetic());
            let text = if glued {
                w.text.to_owned()
            } else {
                format!("{} {}", w.text, words.get(i + 1).map_or("", |n| n.text))
            };
            (w.text.starts_with(|c: char| c.is_ascii_digit() || c == '~') && has_unit(&text))
                .then(|| read_amount(&text, 1))
                .flatten()
        })
        .collect();
    let Some(first) = sizes.first() else {
        return;
    };
    let (now, later) = match sizes.get(1) {
        Some(second) if after_change => (first.value, Some(second.value)),
        Some(second) => (second.value, None),
        None => (first.value, None),
    };
    let pool = lower
        .contains("pool")
        .then(|| super::header::pool_in_text(&lower));
    match pool.flatten() {
        Some(PoolKind::Paged) if lower.contains("total") => {
            totals.paged = Some(now);
            totals.after_paged = later.or(totals.after_paged);
        }
        Some(PoolKind::NonPaged) if lower.contains("total") => {
            totals.nonpaged = Some(now);
            totals.after_nonpaged = later.or(totals.after_nonpaged);
        }
        None if lower.contains("memory") && (lower.contains("used") || lower.contains("use ")) => {
            totals.in_use = Some(now);
            if let (Some(second), false) = (sizes.get(1), after_change) {
                ctx.warn(
                    line,
                    format!(
                        "memory in use went from {} to {} bytes (a machine figure, not a tag's)",
                        first.value, second.value
                    ),
                );
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{NoKnownTags, ParseOptions};

    /// A knowledge base of a few Windows tags.
    struct Kb;
    impl KnownTags for Kb {
        fn knows(&self, tag: PoolTag) -> bool {
            ["Mdl ", "Thre", "Gpbm", "Proc", "File"]
                .iter()
                .any(|t| tag_from_text(t) == Some(tag))
        }
    }

    fn read_with(text: &str, known: &dyn KnownTags) -> (Vec<Snapshot>, Vec<String>) {
        let mut ctx = Ctx::new(&ParseOptions::default());
        let snaps = parse(&Input::from_str(text), &mut ctx, known);
        (snaps, ctx.warnings.into_iter().map(|w| w.message).collect())
    }

    fn read(text: &str) -> Vec<Snapshot> {
        read_with(text, &Kb).0
    }

    fn tags(snaps: &[Snapshot]) -> Vec<String> {
        let mut t: Vec<String> = snaps
            .iter()
            .flat_map(|s| s.rows.iter().map(|r| r.tag.to_string()))
            .collect();
        t.sort();
        t.dedup();
        t
    }

    #[test]
    fn sentences_and_bullets() {
        let s = read(
            "Looking at poolmon, tag Abcd = 812.4 MB and climbing.\n\
             - Thre: 2 GB\n\
             Also `LkaL` went from 40 MB to 1.9 GB in nonpaged over the weekend.\n\
             The server has 64 GB of RAM.\n",
        );
        assert_eq!(s.len(), 2);
        let latest = &s[1].rows;
        assert_eq!(latest.len(), 3);
        assert_eq!(latest[0].tag.to_string(), "Abcd");
        assert_eq!(latest[0].bytes, 851_863_142);
        assert_eq!(latest[0].line, 1);
        assert_eq!(latest[1].bytes, 2 << 30);
        assert_eq!(latest[2].pool, PoolKind::NonPaged);
        assert_eq!(s[0].rows[0].bytes, 40 << 20);
    }

    #[test]
    fn numbers_without_a_tag_are_not_read() {
        assert!(read("We added 16 GB of memory on Monday.\nUptime is 12 days.\n").is_empty());
    }

    #[test]
    fn words_and_labels_are_no_tags() {
        for text in [
            "memory of the tag is allocated 2492040 times and uses 700 MB",
            "OS: Windows 11, 32 GB RAM",
            "RAM: 64 GB",
            "the File tag is 2 GB",
            "Note: this is 4 GB",
            "LkaL went from 40 MB to 1.9 GB",
            "this does **not** hold 3 GB",
            "we saw **81%** of 3 GB",
        ] {
            assert!(
                read(text).is_empty(),
                "{text:?} gave {:?}",
                tags(&read(text))
            );
        }
    }

    #[test]
    fn a_word_beside_tag_is_the_tag_the_knowledge_base_knows_in_any_case() {
        let (s, warnings) = read_with(
            "Use poolmon.exe to monitor mdl allocation and free. We found that memory of mdl \
             tag is allocated 2492040 times, but it is only freed 176 times. Windows 2008r2 used \
             memory is changed from 700MB to 1.11GB。",
            &Kb,
        );
        assert_eq!(s.len(), 1, "{s:?}");
        let row = &s[0].rows[0];
        assert_eq!(row.tag.to_string(), "Mdl ");
        assert_eq!(row.allocs, Some(2_492_040));
        assert_eq!(row.frees, Some(176));
        assert_eq!(row.precision, Precision::Unknown);
        assert_eq!(
            s[0].totals.as_ref().and_then(|t| t.memory_in_use_kib),
            Some(((1.11 * f64::from(1u32 << 30)).round() as u64) / 1024)
        );
        assert!(warnings.iter().any(|w| w.contains("case")), "{warnings:?}");
        // Without a knowledge base that knows `Mdl `, nothing is read.
        let (s, _) = read_with("memory of mdl tag is allocated 2492040 times", &NoKnownTags);
        assert!(s.is_empty());
    }

    #[test]
    fn a_total_and_a_share_are_not_the_tags_size_and_a_change_is_context() {
        let s = read(
            "- PoolMon after 14h uptime: tag `Gpbm` (dxgkrnl graphics) = **2555.9 MB**, out of \
             3.22 GB total paged pool (**81%**)\n\
             - `Gpbm` allocation counter churned continuously (~33 allocs/sec average since boot)\n\
             - Differential test: stopping the service released **~2.5 GB instantly** (Gpbm \
             2555.9 MB -> 39.2 MB; system paged pool total 3.22 GB -> 0.77 GB)\n",
        );
        assert_eq!(s.len(), 2, "{s:#?}");
        let now = &s[0];
        assert_eq!(now.rows.len(), 1);
        assert_eq!(now.rows[0].tag.to_string(), "Gpbm");
        assert_eq!(now.rows[0].pool, PoolKind::Paged);
        assert_eq!(
            now.rows[0].bytes,
            (2555.9 * f64::from(1u32 << 20)).round() as u64
        );
        assert_eq!(now.rows[0].allocs, None);
        assert_eq!(
            now.totals.as_ref().and_then(|t| t.paged_bytes),
            Some((3.22 * f64::from(1u32 << 30)).round() as u64)
        );
        let after = &s[1];
        assert!(after.after_change);
        assert_eq!(
            after.rows[0].bytes,
            (39.2 * f64::from(1u32 << 20)).round() as u64
        );
        assert_eq!(after.rows[0].pool, PoolKind::Paged);
    }

    #[test]
    fn two_points_with_the_time_between_them() {
        let s = read("`Abcd` grew 0.95 GB → 1.53 GB in 90 s on the paged pool");
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].elapsed_hours, Some(0.0));
        assert_eq!(s[1].elapsed_hours, Some(90.0 / 3600.0));
        assert!(s[1].rows[0].bytes > s[0].rows[0].bytes);
    }
}
