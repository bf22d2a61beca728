//! Whitespace tables: text lined up by spaces, or retyped with single spaces, as people paste
//! poolmon output they edited or a table they typed. A line becomes tokens (a quoted tag, a
//! number with its unit, `Non Paged`, a note in brackets), and a header's cells are matched to
//! a row's tokens by count, by kind, or by position.

use super::cell::{Cells, looks_like_tag, read_amount, read_count};
use super::header::{Measure, Role, pool_of, role_of, tag_series_of};

/// A piece of a line: its character span and text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    start: usize,
    end: usize,
    pub(crate) text: String,
}

impl Token {
    fn is_number(&self) -> bool {
        read_amount(&self.text, 1).is_some() || read_count(&self.text).is_some()
    }

    fn is_note(&self) -> bool {
        self.text.starts_with(['(', '[']) || self.text.starts_with(['-', '–', '—'])
    }
}

const UNITS: [&str; 16] = [
    "k", "kb", "kib", "m", "mb", "mib", "g", "gb", "gib", "t", "tb", "tib", "b", "bytes", "byte",
    "%",
];
const QUALIFIERS: [&str; 9] = [
    "~", "≈", ">", ">=", "≥", "approx.", "approx", "about", "ca.",
];
/// Where a person's remark after a row starts.
const REMARKS: [&str; 5] = ["<--", "<-", "←", " # ", " // "];

/// The words of a line with their character spans.
fn words(line: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut start = None;
    let chars: Vec<char> = line.chars().collect();
    for i in 0..=chars.len() {
        // Non-breaking spaces group thousands (`1 893 728`); they do not end a word.
        let blank = chars
            .get(i)
            .is_none_or(|c| c.is_whitespace() && !matches!(c, '\u{a0}' | '\u{202f}' | '\u{2007}'));
        match (blank, start) {
            (false, None) => start = Some(i),
            (true, Some(s)) => {
                out.push(Token {
                    start: s,
                    end: i,
                    text: chars[s..i].iter().collect(),
                });
                start = None;
            }
            _ => {}
        }
    }
    out
}

fn join(line: &[char], a: &Token, b: &Token) -> Token {
    Token {
        start: a.start,
        end: b.end,
        text: line[a.start..b.end].iter().collect(),
    }
}

/// The tokens of a line: quoted and bracketed runs kept whole, numbers joined with their unit
/// or qualifier, `Non Paged` as one word; a trailing remark (`<-- this one`) dropped.
pub(crate) fn tokens(line: &str) -> Vec<Token> {
    let cut = REMARKS
        .iter()
        .filter_map(|r| line.find(r))
        .min()
        .unwrap_or(line.len());
    let line = &line[..cut];
    let chars: Vec<char> = line.chars().collect();
    let raw = words(line);
    let mut out: Vec<Token> = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        // The token runs over raw words `first..=last`; its text is cut once at the end.
        let first = i;
        let mut last = i;
        i += 1;
        // Quoted or bracketed runs: up to the word that closes them.
        let close = match raw[first].text.chars().next() {
            Some('`') => Some('`'),
            Some('"') => Some('"'),
            Some('\'') => Some('\''),
            Some('“') => Some('”'),
            Some('(') => Some(')'),
            Some('[') => Some(']'),
            _ => None,
        };
        if let Some(close) = close {
            let t = &raw[first].text;
            let closed =
                t.chars().count() > 1 && t.trim_end_matches(['*', ',', ':']).ends_with(close);
            if !closed {
                while i < raw.len() {
                    last = i;
                    i += 1;
                    if raw[last].text.contains(close) {
                        break;
                    }
                }
            }
        }
        let lower = raw[first].text.to_ascii_lowercase();
        if first == last && QUALIFIERS.contains(&lower.as_str()) && i < raw.len() {
            last = i;
            i += 1;
        } else if first == last
            && i + 1 < raw.len()
            && matches!(
                (lower.as_str(), raw[i].text.to_ascii_lowercase().as_str()),
                ("at", "least") | ("more", "than")
            )
        {
            last = i + 1;
            i += 2;
        }
        if first == last
            && lower == "non"
            && raw
                .get(i)
                .is_some_and(|w| w.text.to_ascii_lowercase().starts_with("paged"))
        {
            last = i;
            i += 1;
        }
        let mut tok = join(&chars, &raw[first], &raw[last]);
        if tok.is_number()
            && let Some(next) = raw.get(i)
            && UNITS.contains(&next.text.to_ascii_lowercase().trim_end_matches([',', '.']))
        {
            tok = join(&chars, &tok, next);
            i += 1;
        }
        out.push(tok);
    }
    // `Abcd - xyz.sys 1,234 MB`: the words after a dash following the tag are its note.
    if out.len() > 2 && matches!(out[1].text.as_str(), "-" | "–" | "—" | ":") {
        let mut end = 2;
        while end < out.len() && !out[end].is_number() && pool_of(&out[end].text).is_none() {
            end += 1;
        }
        if end > 2 {
            let note = join(&chars, &out[1], &out[end - 1]);
            out.splice(1..end, [note]);
        }
    }
    out
}

/// Words that start a sentence about a tag, not a table row (`tag Abcd = 812 MB`).
const SENTENCE_STARTS: [&str; 4] = ["tag", "tags", "pooltag", "the"];

/// A data row: a tag (after an optional bullet, or after a rank or numbers of earlier
/// columns) and at least one number, and no more plain words than a row holds. With
/// `trailing_text` (a header whose last columns are text, `Source Description`), the words after
/// the last number are that text and are not counted.
pub(crate) fn row_tokens(line: &str, trailing_text: bool) -> Option<Vec<Token>> {
    let toks = data_tokens_under(line, trailing_text)?;
    let first = toks.first()?.text.to_ascii_lowercase();
    if SENTENCE_STARTS.contains(&first.as_str()) || toks.iter().any(|t| t.text == "=") {
        return None;
    }
    let tag_at = toks.iter().position(|t| !t.is_number())?;
    (tag_at < 4 && looks_like_tag(&toks[tag_at].text)).then_some(toks)
}

/// A line of numbers with at most a few words (a row, with or without a tag).
pub(crate) fn data_tokens(line: &str) -> Option<Vec<Token>> {
    data_tokens_under(line, false)
}

fn data_tokens_under(line: &str, trailing_text: bool) -> Option<Vec<Token>> {
    let mut toks = tokens(line);
    let bullet = |t: &str| {
        matches!(t, "-" | "*" | "•" | "|")
            || (t.len() <= 4
                && t.ends_with(['.', ')'])
                && t.trim_end_matches(['.', ')'])
                    .chars()
                    .all(|c| c.is_ascii_digit()))
            || (t.starts_with('#') && t.len() > 1 && t[1..].chars().all(|c| c.is_ascii_digit()))
    };
    while toks.len() > 2 && bullet(&toks[0].text) {
        toks.remove(0);
    }
    let counted = if trailing_text {
        toks.iter().rposition(Token::is_number).map_or(0, |i| i + 1)
    } else {
        toks.len()
    };
    let words = toks[..counted]
        .iter()
        .filter(|t| !t.is_number() && !t.is_note() && pool_of(&t.text).is_none())
        .count();
    let numbers = toks.iter().filter(|t| t.is_number()).count();
    (numbers > 0 && words <= numbers + 1).then_some(toks)
}

/// A header's cells with their spans.
pub(crate) struct Header {
    cells: Vec<Token>,
    /// Columns are separated by two or more spaces (or tabs): positions are meaningful.
    aligned: bool,
}

impl Header {
    /// The line as a header, if it names columns (`Tag Type Bytes`, `Pool tag   NP (MB)`).
    pub(crate) fn parse(line: &str) -> Option<Self> {
        let aligned = line.trim().contains("  ") || line.trim().contains('\t');
        let cells = if aligned {
            wide_cells(line)
        } else {
            narrow_cells(line)
        };
        if cells.len() < 2 || cells.len() > 64 {
            return None;
        }
        let named = cells
            .iter()
            .filter(|c| !matches!(role_of(&c.text), Role::Ignore))
            .count();
        let numbers = cells
            .iter()
            .filter(|c| read_amount(&c.text, 1).is_some())
            .count();
        let first_is_tag_cell = matches!(role_of(&cells[0].text), Role::Tag);
        (named >= 2 || (named >= 1 && first_is_tag_cell))
            .then_some(())
            .filter(|()| numbers == 0)
            .map(|()| Self { cells, aligned })
    }

    /// Does the header end in text columns (`Mapped_Driver`, `Source Description`) after its
    /// last number column? Rows may then carry free text at their end.
    pub(crate) fn ends_with_text(&self) -> bool {
        let roles: Vec<Role> = self.cells.iter().map(|c| role_of(&c.text)).collect();
        let last_text = roles.iter().rposition(|r| *r == Role::Driver);
        let last_measure = roles.iter().rposition(Role::is_measure);
        last_text.is_some_and(|t| last_measure.is_none_or(|m| t > m))
    }

    /// Does the header name pool totals and no tag (`Time  PagedPoolMB  NonpagedPoolMB`)?
    /// Its rows hold no tag.
    pub(crate) fn names_pool_totals(&self) -> bool {
        let roles: Vec<Role> = self.cells.iter().map(|c| role_of(&c.text)).collect();
        super::header::names_pool_totals(&roles)
    }

    /// Does the header name a tag column (a detection signal)?
    pub(crate) fn names_a_tag_column(&self) -> bool {
        self.cells.iter().any(|c| role_of(&c.text) == Role::Tag)
    }

    /// Does the header name a column per tag (`Thre outstanding`) and no tag column?
    pub(crate) fn names_tag_columns(&self) -> bool {
        let roles: Vec<Role> = self.cells.iter().map(|c| role_of(&c.text)).collect();
        !roles.contains(&Role::Tag)
            && self.cells.iter().zip(&roles).any(|(c, r)| {
                !matches!(r, Role::Time | Role::Uptime(_)) && tag_series_of(&c.text).is_some()
            })
    }

    /// A header without a tag column over rows that start with a tag and hold one more token
    /// than it has cells: the tag column simply has no name.
    pub(crate) fn name_the_tag_column(&mut self, rows: &[&[Token]]) {
        if self.cells.iter().any(|c| role_of(&c.text) == Role::Tag) || self.names_tag_columns() {
            return;
        }
        let fitting = rows
            .iter()
            .filter(|r| r.len() == self.cells.len() + 1 && looks_like_tag(&r[0].text))
            .count();
        if fitting * 2 > rows.len() {
            let end = rows.iter().map(|r| r[0].end).min().unwrap_or(0);
            self.cells.insert(
                0,
                Token {
                    start: 0,
                    end,
                    text: String::new(),
                },
            );
        }
    }

    pub(crate) fn texts(&self) -> Cells {
        self.cells.iter().map(|c| c.text.clone()).collect()
    }

    /// A row's tokens as one cell per header column: by count when they match, else numbers
    /// to the number columns in order, else by position under an aligned header.
    pub(crate) fn fit(&self, tokens: &[Token]) -> Cells {
        let n = self.cells.len();
        let mut cells = vec![String::new(); n];
        if tokens.len() == n {
            for (c, t) in cells.iter_mut().zip(tokens) {
                c.clone_from(&t.text);
            }
            return cells;
        }
        let roles: Vec<Role> = self.cells.iter().map(|c| role_of(&c.text)).collect();
        let Some(tag_col) = roles.iter().position(|r| *r == Role::Tag) else {
            // Per-tag columns, or an unnamed tag column: by position when the header is lined
            // up, else in order.
            if self.aligned {
                return self.by_position(tokens);
            }
            for (c, t) in cells.iter_mut().zip(tokens) {
                c.clone_from(&t.text);
            }
            return cells;
        };
        let pool_col = roles.iter().position(|r| *r == Role::Pool);
        let text_cols: Vec<usize> = (0..n).filter(|&i| roles[i] == Role::Driver).collect();
        let number_cols: Vec<usize> = (0..n)
            .filter(|&i| {
                i != tag_col
                    && Some(i) != pool_col
                    && !matches!(
                        roles[i],
                        Role::Time | Role::Callers | Role::Uptime(_) | Role::Driver
                    )
            })
            .collect();
        let Some(tag_at) = tokens.iter().position(|t| looks_like_tag(&t.text)) else {
            return cells;
        };
        cells[tag_col].clone_from(&tokens[tag_at].text);
        let rest: Vec<Token> = tokens
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != tag_at)
            .map(|(_, t)| t.clone())
            .collect();
        let numbers: Vec<&Token> = rest.iter().filter(|t| t.is_number()).collect();
        if numbers.len() != number_cols.len() && self.aligned {
            return self.by_position(tokens);
        }
        // Fewer numbers than number columns (a person deleted some): a size with a unit, or
        // else the last number, goes to the bytes column; the others fill from the left.
        let mut free: Vec<usize> = number_cols.clone();
        let mut numbers = numbers;
        if !numbers.is_empty()
            && numbers.len() < number_cols.len()
            && let Some(bytes_col) = number_cols.iter().copied().find(|&i| {
                matches!(
                    roles[i],
                    Role::Plain(Measure::Bytes(_)) | Role::Split(_, Measure::Bytes(_))
                )
            })
        {
            let sized = numbers
                .iter()
                .position(|t| {
                    t.text
                        .trim_end()
                        .ends_with(|c: char| c.is_ascii_alphabetic())
                })
                .unwrap_or(numbers.len() - 1);
            cells[bytes_col].clone_from(&numbers.remove(sized).text);
            free.retain(|&i| i != bytes_col);
        }
        for (col, t) in free.iter().zip(&numbers) {
            cells[*col].clone_from(&t.text);
        }
        for (k, t) in rest.iter().enumerate().filter(|(_, t)| !t.is_number()) {
            // `>4 GB (wrapped)`: a bracketed remark stays with the number before it.
            if t.text.starts_with('(')
                && let Some(prev) = k.checked_sub(1).map(|p| &rest[p]).filter(|p| p.is_number())
                && let Some(cell) = cells.iter_mut().find(|c| **c == prev.text)
            {
                cell.push(' ');
                cell.push_str(&t.text);
                continue;
            }
            let col = match pool_col {
                Some(p) if pool_of(&t.text).is_some() && cells[p].is_empty() => p,
                // Under a lined-up header, text goes to the text column it sits under.
                _ if self.aligned && text_cols.len() > 1 => self.nearest(t, &text_cols),
                _ => text_cols.first().copied().unwrap_or(tag_col),
            };
            let cell = &mut cells[col];
            if !cell.is_empty() {
                cell.push(' ');
            }
            cell.push_str(&t.text);
        }
        cells
    }

    /// Of `cols`, the column whose header `t` overlaps most (or the nearest).
    fn nearest(&self, t: &Token, cols: &[usize]) -> usize {
        cols.iter()
            .copied()
            // The first of equals, as a left-to-right scan finds it.
            .rev()
            .max_by_key(|&k| {
                let h = &self.cells[k];
                let overlap = t.end.min(h.end).saturating_sub(t.start.max(h.start));
                let distance = if t.end <= h.start {
                    h.start - t.end
                } else {
                    t.start.saturating_sub(h.end)
                };
                (overlap, std::cmp::Reverse(distance))
            })
            .unwrap_or(0)
    }

    /// Each token to the column whose header it overlaps most (or the nearest), never to an
    /// earlier column than the token before it.
    fn by_position(&self, tokens: &[Token]) -> Cells {
        let mut cells = vec![String::new(); self.cells.len()];
        let all: Vec<usize> = (0..self.cells.len()).collect();
        let mut col = 0;
        for t in tokens {
            col = self.nearest(t, &all).max(col);
            let cell = &mut cells[col];
            if !cell.is_empty() {
                cell.push(' ');
            }
            cell.push_str(&t.text);
        }
        cells
    }
}

/// Cells separated by two or more blanks (a header lined up over its columns).
fn wide_cells(line: &str) -> Vec<Token> {
    let chars: Vec<char> = line.chars().collect();
    let mut out: Vec<Token> = Vec::new();
    for w in words(line) {
        match out.last_mut() {
            Some(prev) if w.start == prev.end + 1 && chars[prev.end] == ' ' => {
                *prev = join(&chars, prev, &w);
            }
            _ => out.push(w),
        }
    }
    out
}

/// Cells of a header typed with single blanks: units in brackets join the word before
/// (`Bytes (MB)`), and known many-word names stay together (`Pool tag`, `Non Paged`,
/// `Mapped Driver`, `Per Alloc`, `allocations in use`, `change over 3 days`).
fn narrow_cells(line: &str) -> Vec<Token> {
    let chars: Vec<char> = line.chars().collect();
    let mut out: Vec<Token> = Vec::new();
    let mut in_change = false;
    let raw = words(line);
    for (i, w) in raw.iter().cloned().enumerate() {
        let lower = w.text.to_ascii_lowercase();
        let prev = out
            .last()
            .map(|p| p.text.to_ascii_lowercase())
            .unwrap_or_default();
        let next = raw.get(i + 1).map(|n| n.text.to_ascii_lowercase());
        // `allocations in use` is one name; `In use` after `Bytes` is a column of its own.
        let in_use_of_allocs = lower == "in"
            && next.as_deref() == Some("use")
            && (prev.starts_with("alloc") || prev == "blocks" || prev == "objects");
        let joins_previous = !out.is_empty()
            && (w.text.starts_with(['(', '['])
                || (lower.starts_with("paged") && prev == "non")
                || (lower.starts_with("tag") && prev == "pool")
                || (lower.starts_with("driver") && prev == "mapped")
                || (lower.starts_with("alloc") && prev == "per")
                || in_use_of_allocs
                || (lower == "use" && prev.ends_with("in"))
                || (in_change && continues_period(&lower)));
        match out.last_mut() {
            Some(prev) if joins_previous => *prev = join(&chars, prev, &w),
            _ => {
                in_change = ["change", "growth", "delta", "increase", "δ", "grew"]
                    .iter()
                    .any(|c| lower.contains(c));
                out.push(w);
            }
        }
    }
    out
}

/// Words that go on a change column's name: `over 3 days`, `per day`, `in 24h`, `/day`.
fn continues_period(word: &str) -> bool {
    matches!(
        word,
        "over" | "per" | "in" | "during" | "since" | "the" | "last" | "of" | "past"
    ) || word.starts_with('/')
        || word.starts_with(|c: char| c.is_ascii_digit())
        || matches!(
            word.trim_end_matches([')', ',']),
            "h" | "hr"
                | "hrs"
                | "hour"
                | "hours"
                | "d"
                | "day"
                | "days"
                | "week"
                | "weeks"
                | "min"
                | "minutes"
        )
}

/// `-----`, `=====`, `...`: lines inside a table that hold no data.
pub(crate) fn is_separator(t: &str) -> bool {
    t.chars()
        .all(|c| matches!(c, '-' | '=' | '.' | ' ' | '+' | '_' | '…'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(line: &str) -> Vec<String> {
        tokens(line).into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn tokens_keep_what_belongs_together() {
        assert_eq!(
            texts("Abcd  Non Paged  1.2 GB  ~512 K <-- this"),
            ["Abcd", "Non Paged", "1.2 GB", "~512 K"]
        );
        assert_eq!(texts("`Ab  ` (afd) 12,004"), ["`Ab  `", "(afd)", "12,004"]);
        assert_eq!(
            texts("Abcd - xyz.sys 1,234 MB"),
            ["Abcd", "- xyz.sys", "1,234 MB"]
        );
        assert_eq!(texts("Thre > 4 GB"), ["Thre", "> 4 GB"]);
    }

    #[test]
    fn rows_and_prose() {
        assert!(row_tokens("LkaL  Nonp  1,234,567", false).is_some());
        assert!(row_tokens("1. LkaL 1.2 GB", false).is_some());
        assert!(row_tokens("The server has 64 GB of memory", false).is_none());
        assert!(row_tokens("Abcd", false).is_none());
    }

    #[test]
    fn headers_split_narrow_and_wide() {
        let h = Header::parse("Pool tag  NP (MB)   change over 3 days").unwrap();
        assert_eq!(h.texts(), ["Pool tag", "NP (MB)", "change over 3 days"]);
        let h = Header::parse("Tag Type Bytes (MB) allocations in use").unwrap();
        assert_eq!(
            h.texts(),
            ["Tag", "Type", "Bytes (MB)", "allocations in use"]
        );
        let h = Header::parse("Tag Non Paged Paged").unwrap();
        assert_eq!(h.texts(), ["Tag", "Non Paged", "Paged"]);
        assert!(Header::parse("LkaL Nonp 12345").is_none());
    }

    #[test]
    fn rows_fit_the_header() {
        let h = Header::parse("Tag Type Allocs Frees Diff Bytes").unwrap();
        let row = row_tokens("Abcd Non Paged 100 50 50 1.5 GB", false).unwrap();
        assert_eq!(
            h.fit(&row),
            ["Abcd", "Non Paged", "100", "50", "50", "1.5 GB"]
        );
        // A person deleted the Frees and Diff numbers but not their header words.
        let row = row_tokens("Abcd Nonp 100 1.5 GB", false).unwrap();
        assert_eq!(h.fit(&row), ["Abcd", "Nonp", "100", "", "", "1.5 GB"]);
        let row = row_tokens("Abcd Nonp 40 123456", false).unwrap();
        assert_eq!(h.fit(&row), ["Abcd", "Nonp", "40", "", "", "123456"]);
        // Free text after the numbers, under single-spaced text headers or lined-up ones.
        let h = Header::parse("Tag Type Diff Bytes Source Source Description").unwrap();
        assert!(h.ends_with_text());
        assert!(
            row_tokens(
                "Abcd Non Paged ~12 ~1.5 GB xyz.sys Request list entry",
                false
            )
            .is_none()
        );
        let row = row_tokens(
            "Abcd Non Paged ~12 >1.5 GB (wrapped) xyz.sys Request list entry",
            true,
        )
        .unwrap();
        assert_eq!(
            h.fit(&row),
            [
                "Abcd",
                "Non Paged",
                "~12",
                ">1.5 GB (wrapped)",
                "xyz.sys Request list entry",
                "",
                ""
            ]
        );
        let h = Header::parse("Tag  Bytes  Source   Source Description").unwrap();
        let row = row_tokens("Abcd 1 MB    nt!etw   Etw entry", true).unwrap();
        assert_eq!(h.fit(&row), ["Abcd", "1 MB", "nt!etw", "Etw entry"]);
        let h = Header::parse("Tag       Allocs        Bytes").unwrap();
        let row = row_tokens("Abcd                 1,234,567", false).unwrap();
        assert_eq!(h.fit(&row), ["Abcd", "", "1,234,567"]);
    }
}
