//! The last resort: sentences and bullet lists that name a tag with a size
//! (`tag Abcd = 812.4 MB`, `` `Abcd` went from 40 MB to 1.9 GB ``, `- Thre: 2.1 GB`). Read
//! best-effort, one tag per line, and only sizes with a unit count: a bare number in a
//! sentence is as likely a count, a date or a build number.

use std::collections::HashMap;

use super::aligned::tokens;
use super::cell::{Amount, looks_like_tag, read_amount, read_tag_cell, unwrap_emphasis};
use super::text::Input;
use super::{Ctx, PoolKind, PoolUsage, Precision, Snapshot};
use crate::tag::PoolTag;

/// What one line says about one tag.
struct Mention {
    line: usize,
    tag: PoolTag,
    pool: PoolKind,
    /// The earlier size of `from X to Y`.
    from: Option<Amount>,
    size: Amount,
}

pub(crate) fn parse(input: &Input<'_>, ctx: &mut Ctx) -> Vec<Snapshot> {
    let mentions: Vec<Mention> = input.lines().filter_map(|(n, l)| mention(n, l)).collect();
    if mentions.is_empty() {
        return Vec::new();
    }
    let mut earlier = Snapshot {
        label: Some("earlier (from prose)".into()),
        ..Snapshot::default()
    };
    let mut latest = Snapshot {
        label: Some("latest (from prose)".into()),
        ..Snapshot::default()
    };
    // A later line about the same tag replaces an earlier one, and the row moves to the later
    // line's place: rows are kept in slots, the replaced slot emptied, so a text naming many
    // tags costs no scan of the rows per line.
    let (mut latest_rows, mut earlier_rows) = (Rows::default(), Rows::default());
    for m in &mentions {
        let usage = |a: &Amount| PoolUsage {
            precision: a.precision,
            ..PoolUsage::new(m.tag, m.pool, a.value)
        };
        latest_rows.remove(m.tag, m.pool);
        if !ctx.take_row(m.line) {
            break;
        }
        latest_rows.push(usage(&m.size));
        if let Some(from) = &m.from {
            earlier_rows.remove(m.tag, m.pool);
            earlier_rows.push(usage(from));
        }
    }
    latest.rows = latest_rows.into_rows();
    earlier.rows = earlier_rows.into_rows();
    ctx.warn(
        mentions[0].line,
        format!(
            "read from prose: no table found, so {} size{} were taken from sentences; check them",
            latest.rows.len(),
            if latest.rows.len() == 1 { "" } else { "s" }
        ),
    );
    let mut out = Vec::new();
    let line = mentions[0].line;
    ctx.push_snapshot(&mut out, earlier, line);
    ctx.push_snapshot(&mut out, latest, line);
    out
}

/// Rows in the order of their last mention, one per tag and pool.
#[derive(Default)]
struct Rows {
    slots: Vec<Option<PoolUsage>>,
    at: HashMap<(PoolTag, PoolKind), usize>,
}

impl Rows {
    fn remove(&mut self, tag: PoolTag, pool: PoolKind) {
        if let Some(i) = self.at.remove(&(tag, pool)) {
            self.slots[i] = None;
        }
    }

    fn push(&mut self, row: PoolUsage) {
        self.at.insert((row.tag, row.pool), self.slots.len());
        self.slots.push(Some(row));
    }

    fn into_rows(self) -> Vec<PoolUsage> {
        self.slots.into_iter().flatten().collect()
    }
}

/// Verbs after a tag in a sentence about its size.
const VERBS: [&str; 16] = [
    "went",
    "grew",
    "is",
    "was",
    "at",
    "uses",
    "using",
    "used",
    "rose",
    "climbed",
    "jumped",
    "increased",
    "reached",
    "holds",
    "has",
    "now",
];

/// Words after which a size is the tag's size in a sentence.
const TAG_WORDS: [&str; 3] = ["tag", "pooltag", "tags"];

/// Sentences are short; longer lines are data or noise.
const MAX_SENTENCE: usize = 1000;

fn mention(line_no: usize, line: &str) -> Option<Mention> {
    // A size has digits; most lines of a long text have none and need no tokens.
    if line.len() > MAX_SENTENCE || !line.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    let toks = tokens(line);
    let lower = line.to_ascii_lowercase();
    let sizes: Vec<(usize, Amount)> = toks
        .iter()
        .enumerate()
        .filter(|(_, t)| {
            t.text
                .trim_end_matches(['.', ',', ';', ')'])
                .ends_with(|c: char| c.is_ascii_alphabetic())
        })
        .filter_map(|(i, t)| {
            read_amount(t.text.trim_end_matches(['.', ',', ';', ')']), 1).map(|a| (i, a))
        })
        .collect();
    let (&(last_at, size), first) = (sizes.last()?, sizes.first()?);
    // The tag: quoted (which wins over the rest), or after the word `tag`, or a short word
    // followed by `:`/`=`/`-` or a verb (`LkaL went from`), or the first word of a bullet.
    let mut quoted_tags: Vec<PoolTag> = Vec::new();
    let mut candidates: Vec<PoolTag> = Vec::new();
    for (i, t) in toks.iter().enumerate().take(last_at) {
        let text = t.text.trim_end_matches([':', ',', '=']);
        let quoted = text.starts_with(['`', '"', '\'', '“']) || text.starts_with("**");
        let after_tag_word = i > 0
            && TAG_WORDS.contains(&toks[i - 1].text.to_ascii_lowercase().trim_end_matches(':'));
        let next = toks.get(i + 1).map(|n| n.text.to_ascii_lowercase());
        let before_sign = t.text.ends_with([':', '='])
            || next
                .as_deref()
                .is_some_and(|n| matches!(n, "=" | ":" | "-" | "–") || VERBS.contains(&n));
        let bullet_start = i == 1 && matches!(toks[0].text.as_str(), "-" | "*" | "•");
        let shaped = unwrap_emphasis(text).chars().count() <= 4
            && unwrap_emphasis(text)
                .chars()
                .any(|c| c.is_ascii_uppercase());
        if !(quoted || after_tag_word || (shaped && (before_sign || bullet_start)))
            || !looks_like_tag(text)
        {
            continue;
        }
        let Some((tag, _)) = read_tag_cell(text) else {
            continue;
        };
        let list = if quoted {
            &mut quoted_tags
        } else {
            &mut candidates
        };
        if !list.contains(&tag) {
            list.push(tag);
        }
    }
    if !quoted_tags.is_empty() {
        candidates = quoted_tags;
    }
    let [tag] = candidates.as_slice() else {
        return None;
    };
    let pool = super::table::pool_in_text(&lower).unwrap_or(PoolKind::Unknown);
    let from =
        (sizes.len() >= 2 && lower.contains("from") && first.0 != last_at).then_some(first.1);
    Some(Mention {
        line: line_no,
        tag: *tag,
        pool,
        from,
        size: Amount {
            precision: if size.precision == Precision::Exact && lower.contains("about") {
                Precision::Approximate
            } else {
                size.precision
            },
            ..size
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::ParseOptions;

    fn read(text: &str) -> Vec<Snapshot> {
        let mut ctx = Ctx::new(&ParseOptions::default());
        parse(&Input::from_str(text), &mut ctx)
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
        assert_eq!(latest[1].bytes, 2 << 30);
        assert_eq!(latest[2].pool, PoolKind::NonPaged);
        assert_eq!(s[0].rows[0].bytes, 40 << 20);
    }

    #[test]
    fn numbers_without_a_tag_are_not_read() {
        assert!(read("We added 16 GB of memory on Monday.\nUptime is 12 days.\n").is_empty());
    }
}
