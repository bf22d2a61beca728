//! What people write in a table cell: tags decorated with markdown and owner notes, and numbers
//! with units, qualifiers (`~`, `>`), emphasis and trailing remarks.

use std::sync::LazyLock;

use rustc_hash::FxHashSet as HashSet;

use super::Precision;
use super::text::{parse_size, tag_from_field};
use crate::tag::PoolTag;

/// Words of one to four letters that a sentence uses as words, never as tags.
static ENGLISH_WORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("../../data/english_words.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect()
});

/// Is `word` (any case) a common English word?
pub(crate) fn is_english_word(word: &str) -> bool {
    word.len() <= 4 && ENGLISH_WORDS.contains(word.to_ascii_lowercase().as_str())
}

/// Pairs of marks people wrap a whole cell in: markdown emphasis and code.
const WRAPPERS: [&str; 4] = ["**", "__", "*", "_"];

/// The cell without markdown emphasis around it (`**12,004**`, `_Abcd_`).
pub(crate) fn unwrap_emphasis(cell: &str) -> &str {
    let mut t = cell.trim();
    loop {
        let before = t;
        for w in WRAPPERS {
            if t.len() > 2 * w.len()
                && let Some(inner) = t.strip_prefix(w).and_then(|s| s.strip_suffix(w))
            {
                t = inner.trim();
            }
        }
        if t == before {
            return t;
        }
    }
}

/// Quote pairs that keep a tag exact, trailing blanks included.
const QUOTES: [(char, char); 5] = [('`', '`'), ('"', '"'), ('\'', '\''), ('“', '”'), ('‘', '’')];

/// Words that fill a tag column's last row but name no tag.
const TOTAL_WORDS: [&str; 6] = ["total", "totals", "sum", "all", "(total)", "grand total"];

/// A tag cell as a person writes it: `Abcd`, `` `Ab  ` ``, `"Io"`, `**Abcd**`,
/// `Abcd (filter context)`, `Abcd - xyz.sys`. Returns the tag and the owner text after it.
pub(crate) fn read_tag_cell(cell: &str) -> Option<(PoolTag, Option<String>)> {
    let t = unwrap_emphasis(cell);
    for (open, close) in QUOTES {
        if let Some(rest) = t.strip_prefix(open)
            && let Some(end) = rest.find(close)
        {
            let inner = &rest[..end];
            let tag = tag_from_field(inner.trim_start())?;
            return Some((tag, note(&rest[end + close.len_utf8()..])));
        }
    }
    if TOTAL_WORDS.contains(&t.to_ascii_lowercase().as_str()) {
        return None;
    }
    if let Some(tag) = tag_from_field(t) {
        return Some((tag, None));
    }
    // `Abcd (filter context)`, `Abcd - xyz.sys`, `Dh 1: dxgkrnl`, `Abcd  xyz.sys`.
    let cut = [" (", "(", " - ", " – ", " — ", ": ", "  ", " = "]
        .iter()
        .filter_map(|sep| t.find(sep))
        .min();
    let (head, rest) = match cut {
        Some(i) if (1..=4).contains(&t[..i].trim_end().chars().count()) => t.split_at(i),
        // One word, then words a person added: `Abcd xyz.sys driver`.
        _ => t.split_at(t.find(char::is_whitespace)?),
    };
    let head = unwrap_emphasis(head.trim_end());
    let head = head.trim_matches(|c| c == '`' || c == '"');
    if !(1..=4).contains(&head.chars().count()) {
        return None;
    }
    Some((tag_from_field(head)?, note(rest)))
}

/// The owner text after a tag: separators and brackets around it removed.
fn note(rest: &str) -> Option<String> {
    let n = rest
        .trim()
        .trim_start_matches(['-', '–', '—', ':', '=', ','])
        .trim();
    let n = n
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or(n)
        .trim();
    let n = unwrap_emphasis(n);
    (!n.is_empty()).then(|| n.to_owned())
}

/// Does this cell look like a tag a person typed (for finding the tag column by content)?
/// Stricter than [`read_tag_cell`]: at least one letter, not a number or a unit.
pub(crate) fn looks_like_tag(cell: &str) -> bool {
    let t = unwrap_emphasis(cell);
    let quoted = t.starts_with(['`', '"', '\'', '“', '‘']);
    let separated = [" (", "(", " - ", " – ", " — ", ": ", " = ", "  "]
        .iter()
        .any(|sep| t.contains(sep));
    // `a long description` is words, not a tag and a note; `OS:` is a label.
    if !quoted && ((!separated && t.chars().count() > 4) || t.ends_with(':')) {
        return false;
    }
    let Some((tag, _)) = read_tag_cell(cell) else {
        return false;
    };
    let text = tag.to_string();
    let trimmed = text.trim_end();
    trimmed.chars().any(|c| c.is_ascii_alphabetic())
        && read_amount(cell, 1).is_none()
        && !matches!(
            trimmed.to_ascii_lowercase().as_str(),
            "k" | "kb" | "mb" | "gb" | "kib" | "mib" | "gib" | "b" | "tb" | "n/a" | "na" | "none"
        )
}

/// A number as written in a cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Amount {
    /// Bytes (the unit applied) or a count.
    pub value: u64,
    pub negative: bool,
    pub precision: Precision,
}

impl Amount {
    pub(crate) fn signed(&self) -> i128 {
        if self.negative {
            -i128::from(self.value)
        } else {
            i128::from(self.value)
        }
    }
}

/// Qualifiers before a number, longest first, and what they say about it.
const QUALIFIERS: [(&str, Precision); 14] = [
    ("approximately", Precision::Approximate),
    ("approx.", Precision::Approximate),
    ("approx", Precision::Approximate),
    ("about", Precision::Approximate),
    ("around", Precision::Approximate),
    ("roughly", Precision::Approximate),
    ("ca.", Precision::Approximate),
    ("~", Precision::Approximate),
    ("≈", Precision::Approximate),
    ("at least", Precision::LowerBound),
    ("more than", Precision::LowerBound),
    (">=", Precision::LowerBound),
    ("≥", Precision::LowerBound),
    (">", Precision::LowerBound),
];

/// Where a person's arrow remark starts: `1.2 GB <-- leak`, `lkalflt.sys <-- this one`.
const ARROWS: [&str; 3] = ["<--", "<-", "←"];

/// Where a remark after a number starts: an arrow, or `12,004 (after reboot)`, `# note`.
const REMARKS: [&str; 7] = ["<--", "<-", "←", " (", " #", " //", " !"];

/// The cell without a trailing arrow remark (`lkalflt.sys <-- this one`).
pub(crate) fn without_arrow_remark(cell: &str) -> &str {
    ARROWS
        .iter()
        .filter_map(|r| cell.find(r))
        .min()
        .map_or(cell, |i| &cell[..i])
}

/// The number in a cell (`12,345`, `~1.2 GB`, `>4 GB`, `**12,004**`, `-3 MB`, `512K <-- this`),
/// with `unit` bytes per unit when the cell names none; `None` for text, empty cells and
/// percentages (which are shares, not measures).
pub(crate) fn read_amount(cell: &str, unit: u64) -> Option<Amount> {
    let mut t = unwrap_emphasis(cell);
    if let Some(i) = REMARKS.iter().filter_map(|r| t.find(r)).min() {
        t = unwrap_emphasis(&t[..i]);
    }
    let mut precision = Precision::Exact;
    let lower = t.to_ascii_lowercase();
    for (q, p) in QUALIFIERS {
        if lower.starts_with(q) {
            precision = p;
            t = t[q.len()..].trim_start();
            break;
        }
    }
    let (negative, t) = match t.chars().next()? {
        '-' | '−' | '–' => (true, &t[t.chars().next()?.len_utf8()..]),
        '+' => (false, &t[1..]),
        _ => (false, t),
    };
    let t = unwrap_emphasis(t.trim_start());
    if t.ends_with('%') || !t.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    // `1.2GiB`, `512K`, `1,234.5 MB`, `12 KB`.
    let value = parse_size(t, unit)?;
    Some(Amount {
        value,
        negative: negative && value > 0,
        precision,
    })
}

/// A count cell: like [`read_amount`] in units of one, but `12k` and `1.2M` are thousands and
/// millions (counts are decimal; sizes are powers of 1024).
pub(crate) fn read_count(cell: &str) -> Option<Amount> {
    let t = unwrap_emphasis(cell);
    let lower = t.to_ascii_lowercase();
    for (suffix, scale) in [("k", 1e3), ("m", 1e6), ("mio", 1e6), ("bn", 1e9)] {
        if let Some(num) = lower.strip_suffix(suffix)
            && num.trim().chars().all(|c| c.is_ascii_digit() || c == '.')
            && let Ok(v) = num.trim().parse::<f64>()
        {
            return Some(Amount {
                value: (v * scale).round() as u64,
                negative: false,
                precision: Precision::Approximate,
            });
        }
    }
    read_amount(t, 1)
}

/// A duration a person wrote (`3 days`, `24h`, `1d 4h`, `90 min`, `2 weeks`) in hours.
pub(crate) fn read_hours(text: &str) -> Option<f64> {
    let lower = text.to_ascii_lowercase();
    let mut total = 0.0;
    let mut found = false;
    let chars: Vec<char> = lower.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
            i += 1;
        }
        let number: String = chars[start..i].iter().collect();
        let Ok(value) = number.parse::<f64>() else {
            continue;
        };
        while i < chars.len() && chars[i] == ' ' {
            i += 1;
        }
        let word_start = i;
        while i < chars.len() && chars[i].is_ascii_alphabetic() {
            i += 1;
        }
        let word: String = chars[word_start..i].iter().collect();
        let per_unit = match word.as_str() {
            "h" | "hr" | "hrs" | "hour" | "hours" => 1.0,
            "d" | "day" | "days" => 24.0,
            "w" | "wk" | "wks" | "week" | "weeks" => 168.0,
            "m" | "min" | "mins" | "minute" | "minutes" => 1.0 / 60.0,
            _ => continue,
        };
        total += value * per_unit;
        found = true;
    }
    if found {
        return Some(total);
    }
    // `per day`, `/day`, `daily`: a rate is a change over one unit.
    [
        ("hour", 1.0),
        ("/h", 1.0),
        ("hourly", 1.0),
        ("day", 24.0),
        ("daily", 24.0),
        ("/d", 24.0),
        ("week", 168.0),
    ]
    .iter()
    .find(|(w, _)| lower.contains(w))
    .map(|&(_, h)| h)
}

/// An uptime cell: `2h`, `1d 4h`, `26:30:00` (hours:minutes[:seconds]), or a plain number in
/// `unit_hours` (from the header: `Uptime (h)`, `Uptime days`).
pub(crate) fn read_uptime(cell: &str, unit_hours: f64) -> Option<f64> {
    let t = unwrap_emphasis(cell);
    if let Some(h) = read_hours(t) {
        return Some(h);
    }
    let parts: Vec<&str> = t.split(':').collect();
    if (2..=3).contains(&parts.len()) && parts.iter().all(|p| p.trim().parse::<f64>().is_ok()) {
        let n: Vec<f64> = parts
            .iter()
            .map(|p| p.trim().parse().unwrap_or(0.0))
            .collect();
        return Some(n[0] + n[1] / 60.0 + n.get(2).copied().unwrap_or(0.0) / 3600.0);
    }
    t.replace(',', ".")
        .parse::<f64>()
        .ok()
        .map(|v| v * unit_hours)
}

/// Cells of a header or row, as any layout splits them.
pub(crate) type Cells = Vec<String>;

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(cell: &str) -> Option<(String, Option<String>)> {
        read_tag_cell(cell).map(|(t, n)| (t.to_string(), n))
    }

    #[test]
    fn decorated_tags() {
        assert_eq!(tag("`Abcd`"), Some(("Abcd".into(), None)));
        assert_eq!(tag("\"Ab  \""), Some(("Ab  ".into(), None)));
        assert_eq!(tag("**Abcd**"), Some(("Abcd".into(), None)));
        assert_eq!(tag("Io"), Some(("Io  ".into(), None)));
        assert_eq!(tag("Dh 1"), Some(("Dh 1".into(), None)));
        assert_eq!(
            tag("Abcd (filter context)"),
            Some(("Abcd".into(), Some("filter context".into())))
        );
        assert_eq!(
            tag("Abcd - xyz.sys"),
            Some(("Abcd".into(), Some("xyz.sys".into())))
        );
        assert_eq!(
            tag("`Ab  ` (afd)"),
            Some(("Ab  ".into(), Some("afd".into())))
        );
        assert_eq!(
            tag("**Thre** – thread objects"),
            Some(("Thre".into(), Some("thread objects".into())))
        );
        assert_eq!(tag("Total"), None);
        assert_eq!(tag("everything else"), None);
    }

    #[test]
    fn tag_like_cells() {
        assert!(looks_like_tag("LkaL"));
        assert!(looks_like_tag("`Io  `"));
        assert!(!looks_like_tag("1234"));
        assert!(!looks_like_tag("12 MB"));
        assert!(!looks_like_tag("MB"));
        assert!(!looks_like_tag("a long description"));
        assert!(!looks_like_tag("OS:"));
    }

    fn amount(cell: &str, unit: u64) -> Option<(u64, bool, Precision)> {
        read_amount(cell, unit).map(|a| (a.value, a.negative, a.precision))
    }

    #[test]
    fn amounts_as_people_write_them() {
        use Precision::*;
        assert_eq!(amount("12,345", 1), Some((12_345, false, Exact)));
        assert_eq!(amount("**12,004**", 1), Some((12_004, false, Exact)));
        assert_eq!(
            amount("~12,345,678", 1),
            Some((12_345_678, false, Approximate))
        );
        assert_eq!(amount(">4 GB", 1), Some((4 << 30, false, LowerBound)));
        assert_eq!(amount("2.35 GB", 1), Some((2_523_293_286, false, Exact)));
        assert_eq!(amount("512K", 1), Some((512 << 10, false, Exact)));
        assert_eq!(amount("1.2 GiB", 1), Some((1_288_490_189, false, Exact)));
        assert_eq!(
            amount("1,234.5", 1 << 20),
            Some((1_294_467_072, false, Exact))
        );
        assert_eq!(
            amount("812 MB <-- this one", 1),
            Some((812 << 20, false, Exact))
        );
        assert_eq!(amount("-3 MB", 1), Some((3 << 20, true, Exact)));
        assert_eq!(amount("−3 MB", 1), Some((3 << 20, true, Exact)));
        assert_eq!(amount("+1,024", 1), Some((1024, false, Exact)));
        assert_eq!(amount("45%", 1), None);
        assert_eq!(amount("n/a", 1), None);
        assert_eq!(amount("", 1), None);
    }

    #[test]
    fn decimal_commas() {
        use Precision::*;
        assert_eq!(amount("922,5 MB", 1), Some((967_311_360, false, Exact)));
        assert_eq!(amount("922,5", 1 << 20), Some((967_311_360, false, Exact)));
        assert_eq!(amount("1.234,5 MB", 1), Some((1_294_467_072, false, Exact)));
        assert_eq!(amount("1 234,5 MB", 1), Some((1_294_467_072, false, Exact)));
        assert_eq!(amount("12,25 GB", 1), Some((13_153_337_344, false, Exact)));
        assert_eq!(amount("~0,4 MB", 1), Some((419_430, false, Approximate)));
        assert_eq!(amount("1,234,5 MB", 1), Some((1_294_467_072, false, Exact)));
        // Three digits after a comma group thousands.
        assert_eq!(amount("1,234 MB", 1), Some((1234 << 20, false, Exact)));
        assert_eq!(amount("1,234,567", 1), Some((1_234_567, false, Exact)));
    }

    #[test]
    fn counts_and_durations() {
        assert_eq!(read_count("12k").map(|a| a.value), Some(12_000));
        assert_eq!(read_count("1.2M").map(|a| a.value), Some(1_200_000));
        assert_eq!(read_count("1,024").map(|a| a.value), Some(1024));
        assert_eq!(read_hours("change over 3 days"), Some(72.0));
        assert_eq!(read_hours("1d 4h"), Some(28.0));
        assert_eq!(read_hours("growth per day"), Some(24.0));
        assert_eq!(read_hours("Bytes"), None);
        assert_eq!(read_uptime("26:30", 1.0), Some(26.5));
        assert_eq!(read_uptime("3", 24.0), Some(72.0));
    }
}
