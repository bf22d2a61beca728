//! Text helpers shared by the parsers: decoding, lines, numbers with separators and units, tags
//! as tools print them, and timestamps.

use std::borrow::Cow;
use std::time::Instant;

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use crate::tag::PoolTag;

/// The decoded input text: borrowed from the request body when it is already clean UTF-8 (the
/// common case, which then costs no copy).
pub(crate) struct Input<'a> {
    text: Cow<'a, str>,
    /// When lines stop coming (see [`Input::until`]).
    deadline: Option<Instant>,
}

/// Lines read between two looks at the clock.
const LINES_PER_DEADLINE_CHECK: usize = 1024;

impl<'a> Input<'a> {
    /// UTF-8 (BOM stripped), UTF-16 LE/BE with a BOM, or BOM-less UTF-16 LE as PowerShell 5
    /// redirection writes it; text that is not UTF-8 is read one byte per character; NULs are
    /// dropped.
    pub(crate) fn decode(bytes: &'a [u8]) -> Self {
        let text = if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
            utf8(rest)
        } else if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
            Cow::Owned(utf16(rest, u16::from_le_bytes))
        } else if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
            Cow::Owned(utf16(rest, u16::from_be_bytes))
        } else if looks_utf16le(bytes) {
            Cow::Owned(utf16(bytes, u16::from_le_bytes))
        } else {
            utf8(bytes)
        };
        let text = if memchr::memchr(0, text.as_bytes()).is_some() {
            Cow::Owned(text.replace('\0', ""))
        } else {
            text
        };
        // HTML from a chat window or a web page: read as the text it shows.
        let text = match super::html::strip(&text) {
            Some(stripped) => Cow::Owned(stripped),
            None => text,
        };
        Self {
            text,
            deadline: None,
        }
    }

    /// Every reader takes its lines from [`Input::lines`], which ends early once `deadline`
    /// passes: reading then stops within a thousand lines wherever it is, and the caller,
    /// seeing [`Input::deadline_passed`], discards what was read.
    pub(crate) fn until(self, deadline: Option<Instant>) -> Self {
        Self { deadline, ..self }
    }

    pub(crate) fn deadline_passed(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    #[cfg(test)]
    pub(crate) fn from_str(text: &'a str) -> Self {
        Self::decode(text.as_bytes())
    }

    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    pub(crate) fn into_text(self) -> Cow<'a, str> {
        self.text
    }

    /// Lines with their 1-based numbers; `\r\n`, `\n` and lone `\r` all end a line.
    pub(crate) fn lines(&self) -> impl Iterator<Item = (usize, &str)> {
        let text: &str = &self.text;
        let bytes = text.as_bytes();
        // One memchr pass over the text (this runs over every line of every request).
        let mut next: Option<usize> = Some(0);
        std::iter::from_fn(move || {
            let start = next?;
            match memchr::memchr2(b'\n', b'\r', &bytes[start..]) {
                Some(i) => {
                    let end = start + i;
                    let crlf = bytes[end] == b'\r' && bytes.get(end + 1) == Some(&b'\n');
                    next = Some(end + if crlf { 2 } else { 1 });
                    Some(&text[start..end])
                }
                None => {
                    next = None;
                    Some(&text[start..])
                }
            }
        })
        .enumerate()
        .map_while(|(i, l)| {
            let stop = i % LINES_PER_DEADLINE_CHECK == LINES_PER_DEADLINE_CHECK - 1
                && self.deadline_passed();
            (!stop).then_some((i + 1, l))
        })
    }

    pub(crate) fn first_nonblank(&self) -> Option<usize> {
        self.lines()
            .find(|(_, l)| !l.trim().is_empty())
            .map(|(n, _)| n)
    }
}

/// Valid UTF-8 is the common case and costs no copy. Anything else was written in a Windows
/// ANSI code page, as poolmon's `-n` log and `>` redirection in cmd are: each byte becomes the
/// character of the same number (Latin-1), so a tag keeps its exact bytes (`Ab\xe9c`, not a
/// replacement character that no tag can hold) and the row is not lost.
fn utf8(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => Cow::Owned(bytes.iter().copied().map(char::from).collect()),
    }
}

fn utf16(bytes: &[u8], read: fn([u8; 2]) -> u16) -> String {
    let units = bytes.chunks_exact(2).map(|c| read([c[0], c[1]]));
    char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

fn looks_utf16le(bytes: &[u8]) -> bool {
    let sample = &bytes[..bytes.len().min(512)];
    if sample.len() < 8 {
        return false;
    }
    let pairs = sample.len() / 2;
    let zero_high = sample
        .chunks_exact(2)
        .filter(|c| c[1] == 0 && c[0] != 0)
        .count();
    zero_high * 10 >= pairs * 9
}

/// ASCII case-insensitive substring test.
pub(crate) fn contains_ci(hay: &str, needle: &str) -> bool {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    if n.is_empty() {
        return true;
    }
    h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

/// A tag as a tool printed it: 1 to 4 characters taken literally (Latin-1), padded with
/// spaces; the escaped form (`\x01`) is accepted too.
pub(crate) fn tag_from_text(s: &str) -> Option<PoolTag> {
    if s.is_ascii() && (1..=4).contains(&s.len()) {
        // The common case (every row of a big snapshot): the bytes as they are.
        let mut bytes = [b' '; 4];
        bytes[..s.len()].copy_from_slice(s.as_bytes());
        return Some(PoolTag::from_bytes(bytes));
    }
    let n = s.chars().count();
    if (1..=4).contains(&n) && s.chars().all(|c| u32::from(c) <= 0xFF) {
        let mut bytes = [b' '; 4];
        for (i, c) in s.chars().enumerate() {
            bytes[i] = u8::try_from(u32::from(c)).unwrap_or(b'?');
        }
        return Some(PoolTag::from_bytes(bytes));
    }
    PoolTag::parse(s).ok()
}

/// A tag from a structured source (CSV/JSON): the escaped form first, then the literal text.
pub(crate) fn tag_from_field(s: &str) -> Option<PoolTag> {
    PoolTag::parse(s).ok().or_else(|| tag_from_text(s))
}

const THOUSANDS: [char; 5] = [',', '\'', '_', '\u{a0}', '\u{202f}'];

/// A whole count: `1234`, `1,234`, `1'234`, `1 234` (non-breaking), `1.234.567`; `+` allowed.
pub(crate) fn parse_count(s: &str) -> Option<u64> {
    // Trimming walks chars from both ends; most numbers have nothing to trim.
    let edge = |b: Option<&u8>| b.is_some_and(|b| !b.is_ascii() || b.is_ascii_whitespace());
    let s = if edge(s.as_bytes().first()) || edge(s.as_bytes().last()) {
        s.trim()
    } else {
        s
    };
    let s = s.strip_prefix('+').unwrap_or(s);
    // Plain digits, as most tools print them (19 digits cannot overflow a u64).
    if (1..=19).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) {
        return Some(s.bytes().fold(0, |v, d| v * 10 + u64::from(d - b'0')));
    }
    if s.is_empty() || !s.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let dotted_groups = s.contains('.') && dotted_thousands(s);
    let mut value: u64 = 0;
    let mut digits = 0;
    for c in s.chars() {
        if let Some(d) = c.to_digit(10) {
            value = value.checked_mul(10)?.checked_add(u64::from(d))?;
            digits += 1;
        } else if THOUSANDS.contains(&c) || c == ' ' || (c == '.' && dotted_groups) {
            continue;
        } else {
            return None;
        }
    }
    (digits > 0).then_some(value)
}

/// `1.234` or `12.345.678`: dots as thousands separators (groups of exactly three).
fn dotted_thousands(s: &str) -> bool {
    let mut parts = s.split('.');
    let first = parts.next().unwrap_or("");
    (1..=3).contains(&first.len())
        && first.chars().all(|c| c.is_ascii_digit())
        && parts.all(|p| p.len() == 3 && p.chars().all(|c| c.is_ascii_digit()))
}

/// A hex number with or without `0x` (verifier addresses and lengths).
pub(crate) fn parse_hex(s: &str) -> Option<u64> {
    let s = s.trim();
    let s = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    let s: String = s.chars().filter(|&c| c != '`').collect();
    if s.is_empty() || s.len() > 16 || !s.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(&s, 16).ok()
}

/// The multiplier of a size unit (`K`, `KB`, `KiB`, `MB`, `bytes`...); Windows tools count
/// a KB as 1024 bytes, and so do we.
pub(crate) fn unit_multiplier(unit: &str) -> Option<u64> {
    let u = unit.trim().trim_end_matches('.').to_ascii_lowercase();
    Some(match u.as_str() {
        "" | "b" | "byte" | "bytes" | "octets" => 1,
        "k" | "kb" | "kib" | "kbytes" | "kilobytes" => 1 << 10,
        "m" | "mb" | "mib" | "mbytes" | "megabytes" => 1 << 20,
        "g" | "gb" | "gib" | "gbytes" | "gigabytes" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => return None,
    })
}

/// A size cell: a number (thousands separators, decimal point or comma) and an optional unit
/// that overrides `default_unit` (bytes per unit from the column header).
pub(crate) fn parse_size(s: &str, default_unit: u64) -> Option<u64> {
    let s = s.trim();
    let s = s.strip_prefix('+').unwrap_or(s);
    let split = s
        .char_indices()
        .find(|&(_, c)| !(c.is_ascii_digit() || c == '.' || c == ' ' || THOUSANDS.contains(&c)))
        .map_or(s.len(), |(i, _)| i);
    let (num, unit) = s.split_at(split);
    let num = num.trim();
    let multiplier = if unit.trim().is_empty() {
        default_unit
    } else {
        unit_multiplier(unit)?
    };
    if num.is_empty() || !num.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let (int_part, frac_part) = split_decimal(num, multiplier == 1);
    let int: String = int_part.chars().filter(char::is_ascii_digit).collect();
    if int.is_empty()
        || !int_part
            .chars()
            .all(|c| c.is_ascii_digit() || THOUSANDS.contains(&c) || c == ' ' || c == '.')
    {
        return None;
    }
    let frac: String = frac_part.unwrap_or("").chars().collect();
    if !frac.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    if frac.trim_end_matches('0').is_empty() {
        let int: u64 = int.parse().ok()?;
        return int.checked_mul(multiplier);
    }
    let value: f64 = format!("{int}.{frac}").parse().ok()?;
    let bytes = (value * multiplier as f64).round();
    (bytes.is_finite() && (0.0..1.8e19).contains(&bytes)).then_some(bytes as u64)
}

/// Splits `1,234.5` / `1.234,5` / `1,5` / `1,234,5` into integer and fraction text. A single
/// separator followed by exactly three digits is a thousands separator (always for `,`; for
/// `.` only when the unit is bytes, where a fraction makes no sense).
fn split_decimal(num: &str, bytes_unit: bool) -> (&str, Option<&str>) {
    let last_dot = num.rfind('.');
    let last_comma = num.rfind(',');
    let dots = num.matches('.').count();
    let commas = num.matches(',').count();
    let decimal = match (last_dot, last_comma) {
        (Some(d), Some(c)) => Some(d.max(c)),
        (Some(d), None) => {
            let after = num.len() - d - 1;
            (dots == 1 && !(bytes_unit && after == 3)).then_some(d)
        }
        // A comma followed by one or two digits ending the number is a decimal comma
        // (`922,5`, `1 234,25`), however many commas group the thousands before it.
        (None, Some(c)) => {
            let after = num.len() - c - 1;
            ((commas == 1 && after != 3) || (1..=2).contains(&after)).then_some(c)
        }
        (None, None) => None,
    };
    match decimal {
        Some(i) => {
            let (a, b) = num.split_at(i);
            let int = a;
            (int, Some(&b[1..]))
        }
        None => (num, None),
    }
}

/// A timestamp written on its own (a log's time line, a JSON field, a column header):
/// RFC 3339, `YYYY-MM-DD HH:MM[:SS[.f]]`, US `[Weekday ]M/D/YYYY H:MM[:SS[.cc]] [AM|PM]`,
/// `D.M.YYYY H:MM[:SS]`, with an optional `Time:`/`Date:`-style prefix. Times without a zone
/// are taken as UTC.
pub(crate) fn parse_timestamp(s: &str) -> Option<OffsetDateTime> {
    let s = s.trim().trim_matches(|c: char| {
        c == '-' || c == '=' || c == '#' || c == '*' || c == '[' || c == ']' || c.is_whitespace()
    });
    if s.len() < 8 || s.len() > 80 {
        return None;
    }
    // `Time: ...`, `Snapshot taken: ...`: drop a prefix ending in ':' whose words are letters.
    let s = match s.find(": ") {
        Some(i)
            if s[..i]
                .chars()
                .all(|c| c.is_alphabetic() || c == ' ' || c == '_') =>
        {
            s[i + 2..].trim()
        }
        _ => s,
    };
    if let Ok(t) = OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339) {
        return Some(t);
    }
    parse_loose_datetime(s)
        .or_else(|| parse_month_name(s))
        .or_else(|| {
            // A leading weekday (`Mon 11/02/2026 10:00:00.00`, `Monday, ...`).
            let (first, rest) = s.split_once(' ')?;
            first
                .trim_end_matches(',')
                .chars()
                .all(char::is_alphabetic)
                .then(|| parse_loose_datetime(rest.trim()))
                .flatten()
        })
}

/// A timestamp anywhere in a short text (`## Day 3 — 2026-11-03 09:00`, `2026-11-01 (MB)`):
/// the whole text, else the longest run of up to three words that parses.
pub(crate) fn find_timestamp(text: &str) -> Option<OffsetDateTime> {
    if text.len() > 200 {
        return None;
    }
    parse_timestamp(text).or_else(|| {
        let words: Vec<&str> = text
            .split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == ',')
            .filter(|w| !w.is_empty())
            .collect();
        (0..words.len()).find_map(|i| {
            (1..=3)
                .rev()
                .filter(|k| i + k <= words.len())
                .find_map(|k| parse_timestamp(&words[i..i + k].join(" ")))
        })
    })
}

fn parse_loose_datetime(s: &str) -> Option<OffsetDateTime> {
    let (date_text, rest) = match s.find(['T', ' ']) {
        Some(i) => (&s[..i], s[i + 1..].trim()),
        None => (s, ""),
    };
    let date = parse_date(date_text)?;
    let mut words = rest.split_whitespace();
    let time_text = words.next();
    let (mut time, mut offset) = match time_text {
        Some(t) => parse_time(t)?,
        None => (Time::MIDNIGHT, None),
    };
    for word in words {
        match word.to_ascii_uppercase().as_str() {
            "AM" | "PM" => {
                let pm = word.eq_ignore_ascii_case("PM");
                let h = time.hour() % 12 + if pm { 12 } else { 0 };
                time =
                    Time::from_hms_nano(h, time.minute(), time.second(), time.nanosecond()).ok()?;
            }
            "UTC" | "GMT" | "Z" => offset = Some(UtcOffset::UTC),
            other => offset = Some(parse_offset(other)?),
        }
    }
    Some(PrimitiveDateTime::new(date, time).assume_offset(offset.unwrap_or(UtcOffset::UTC)))
}

/// `Monday, November 2, 2026 9:00:00 AM` (PowerShell `Get-Date` in en-US) or
/// `2 November 2026 09:00:00`.
fn parse_month_name(s: &str) -> Option<OffsetDateTime> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let words: Vec<&str> = s.split([' ', ',']).filter(|w| !w.is_empty()).collect();
    let (mi, month) = words.iter().enumerate().find_map(|(i, w)| {
        let lw = w.to_ascii_lowercase();
        MONTHS
            .iter()
            .position(|m| {
                lw.len() >= 3 && lw.starts_with(m) && lw.chars().all(|c| c.is_ascii_alphabetic())
            })
            .map(|p| (i, p))
    })?;
    let num = |i: usize| words.get(i).and_then(|w| w.parse::<u32>().ok());
    let (day, year, next) = match (mi.checked_sub(1).and_then(num), num(mi + 1), num(mi + 2)) {
        (_, Some(d), Some(y)) if y > 31 => (d, y, mi + 3),
        (Some(d), Some(y), _) if y > 31 => (d, y, mi + 2),
        _ => return None,
    };
    let date = Date::from_calendar_date(
        i32::try_from(year).ok()?,
        Month::try_from(u8::try_from(month + 1).ok()?).ok()?,
        u8::try_from(day).ok()?,
    )
    .ok()?;
    let rest = words.get(next..).unwrap_or(&[]).join(" ");
    let stamp = format!("{} {}", date, rest);
    parse_loose_datetime(stamp.trim())
}

fn parse_date(s: &str) -> Option<Date> {
    let sep = s.chars().find(|c| matches!(c, '-' | '/' | '.'))?;
    let parts: Vec<&str> = s.split(sep).collect();
    if parts.len() != 3
        || parts
            .iter()
            .any(|p| p.is_empty() || p.len() > 4 || !p.chars().all(|c| c.is_ascii_digit()))
    {
        return None;
    }
    let n: Vec<u32> = parts.iter().map(|p| p.parse().unwrap_or(0)).collect();
    let (y, m, d) = if parts[0].len() == 4 {
        (n[0], n[1], n[2])
    } else if parts[2].len() == 4 {
        if sep == '.' || n[0] > 12 {
            (n[2], n[1], n[0])
        } else {
            (n[2], n[0], n[1])
        }
    } else {
        return None;
    };
    let month = Month::try_from(u8::try_from(m).ok()?).ok()?;
    Date::from_calendar_date(i32::try_from(y).ok()?, month, u8::try_from(d).ok()?).ok()
}

fn parse_time(s: &str) -> Option<(Time, Option<UtcOffset>)> {
    let (s, offset) = if let Some(t) = s.strip_suffix(['Z', 'z']) {
        (t, Some(UtcOffset::UTC))
    } else if let Some(i) = s.rfind(['+', '-']) {
        (&s[..i], Some(parse_offset(&s[i..])?))
    } else {
        (s, None)
    };
    let mut parts = s.split(':');
    let h: u8 = parts.next()?.parse().ok()?;
    let m: u8 = parts.next()?.parse().ok()?;
    let (sec, nano) = match parts.next() {
        Some(sec) => {
            let (whole, frac) = match sec.find(['.', ',']) {
                Some(i) => (&sec[..i], &sec[i + 1..]),
                None => (sec, ""),
            };
            let whole: u8 = whole.parse().ok()?;
            if !frac.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let digits: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
            (whole, digits.parse::<u32>().ok()?)
        }
        None => (0, 0),
    };
    if parts.next().is_some() {
        return None;
    }
    Some((Time::from_hms_nano(h, m, sec, nano).ok()?, offset))
}

fn parse_offset(s: &str) -> Option<UtcOffset> {
    let sign: i8 = match s.chars().next()? {
        '+' => 1,
        '-' => -1,
        _ => return None,
    };
    let digits: String = s[1..].chars().filter(char::is_ascii_digit).collect();
    if s[1..].chars().any(|c| !c.is_ascii_digit() && c != ':')
        || !(digits.len() == 2 || digits.len() == 4)
    {
        return None;
    }
    let h: i8 = digits[..2].parse().ok()?;
    let m: i8 = if digits.len() == 4 {
        digits[2..].parse().ok()?
    } else {
        0
    };
    UtcOffset::from_hms(sign * h, sign * m, 0).ok()
}

/// Driver names in a poolmon Mapped_Driver or `!poolused` description: `*.sys` words, bare
/// `[name]` groups and `Binary: name` entries (`nt!alpc` gives `nt`), without duplicates.
pub fn mapped_driver_files(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let add = |name: &str, out: &mut Vec<String>| {
        let name =
            name.trim_matches(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.' || c == '-'));
        let name = name.trim_end_matches('.');
        if !name.is_empty() && !out.iter().any(|o| o.eq_ignore_ascii_case(name)) {
            out.push(name.to_owned());
        }
    };
    for word in text.split(|c: char| c.is_whitespace() || c == '[' || c == ']' || c == ',') {
        let lower = word.to_ascii_lowercase();
        if lower.ends_with(".sys") || lower.ends_with(".dll") || lower.ends_with(".exe") {
            add(word, &mut out);
        }
    }
    for group in text.split('[').skip(1) {
        let inner = group.split(']').next().unwrap_or("");
        let inner = inner.trim();
        if !inner.is_empty() && !inner.contains(char::is_whitespace) {
            add(inner, &mut out);
        }
    }
    if let Some(i) = text.find("Binary:") {
        for part in text[i + 7..].split(" or ") {
            let name = part.trim().split('!').next().unwrap_or("");
            let name = name.split_whitespace().next().unwrap_or("");
            add(name, &mut out);
        }
    }
    out
}

/// At most 200 characters of input, quoted, for a warning.
pub(crate) fn quote(text: &str) -> String {
    let t = text.trim();
    if t.chars().count() <= 200 {
        return format!("{t:?}");
    }
    let cut: String = t.chars().take(200).collect();
    format!("{cut:?}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_end_at_crlf_lf_and_lone_cr() {
        let lines = |t: &str| -> Vec<String> {
            Input::from_str(t)
                .lines()
                .map(|(_, l)| l.to_owned())
                .collect()
        };
        assert_eq!(lines(""), [""]);
        assert_eq!(lines("a\r\n"), ["a", ""]);
        assert_eq!(lines("a\rb\n"), ["a", "b", ""]);
        assert_eq!(lines("a\r\r\nb"), ["a", "", "b"]);
        assert_eq!(lines("a\n\nb"), ["a", "", "b"]);
        let numbered: Vec<usize> = Input::from_str("x\ny\r\nz")
            .lines()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(numbered, [1, 2, 3]);
    }

    #[test]
    fn counts_take_thousands_separators() {
        assert_eq!(parse_count("1,234,567"), Some(1_234_567));
        assert_eq!(parse_count("1'234"), Some(1234));
        assert_eq!(parse_count("1.234.567"), Some(1_234_567));
        assert_eq!(parse_count("12\u{a0}345"), Some(12345));
        assert_eq!(parse_count("+7"), Some(7));
        assert_eq!(parse_count("-7"), None);
        assert_eq!(parse_count("1.5"), None);
        assert_eq!(parse_count("99999999999999999999999"), None);
        assert_eq!(parse_count(""), None);
    }

    #[test]
    fn sizes_take_units_and_decimals() {
        assert_eq!(parse_size("1,234", 1), Some(1234));
        assert_eq!(parse_size("1.5 MB", 1), Some(1_572_864));
        assert_eq!(parse_size("1,5 GB", 1), Some(1_610_612_736));
        assert_eq!(parse_size("2 KB", 1), Some(2048));
        assert_eq!(parse_size("512K", 1), Some(524_288));
        assert_eq!(parse_size("3", 1 << 20), Some(3 << 20));
        assert_eq!(parse_size("1,234.5", 1 << 10), Some(1_264_128));
        assert_eq!(parse_size("1.234", 1), Some(1234));
        assert_eq!(parse_size("12 parsecs", 1), None);
        assert_eq!(parse_size("MB", 1), None);
    }

    #[test]
    fn timestamps_in_common_shapes() {
        let t = parse_timestamp("2026-11-01T10:00:00Z").unwrap();
        assert_eq!(t.unix_timestamp(), 1_793_527_200);
        assert_eq!(parse_timestamp("2026-11-01 10:00:00"), Some(t));
        assert_eq!(parse_timestamp("Time: 2026-11-01 10:00"), Some(t));
        assert_eq!(parse_timestamp("Sun 11/01/2026 10:00:00.00"), Some(t));
        assert_eq!(parse_timestamp("11/1/2026 10:00:00 AM"), Some(t));
        assert_eq!(parse_timestamp("01.11.2026 10:00:00"), Some(t));
        assert_eq!(parse_timestamp("2026-11-01 11:00:00 +01:00"), Some(t),);
        assert_eq!(
            parse_timestamp("Sunday, November 1, 2026 10:00:00 AM"),
            Some(t)
        );
        assert_eq!(parse_timestamp("1 November 2026 10:00:00"), Some(t));
        assert_eq!(parse_timestamp("Tag Type Allocs"), None);
        assert_eq!(parse_timestamp("Memory: 123K"), None);
    }

    #[test]
    fn text_in_a_code_page_keeps_each_byte_of_a_tag() {
        let input = Input::decode(b" Ab\xe9c Nonp 10 2 8 4096 512\n");
        let line = input.lines().next().unwrap().1;
        let tag = tag_from_text(line.split_whitespace().next().unwrap()).unwrap();
        assert_eq!(tag.bytes(), b"Ab\xe9c");
        assert_eq!(tag.to_string(), "Ab\\xe9c");
    }

    #[test]
    fn decodes_utf16_with_and_without_bom() {
        let text = "Tag,Bytes\r\nIo,5\r\n";
        let mut le: Vec<u8> = vec![0xFF, 0xFE];
        le.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(Input::decode(&le).text(), text);
        let bare: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert_eq!(Input::decode(&bare).text(), text);
        let decoded = Input::decode(&bare);
        let lines: Vec<_> = decoded.lines().collect();
        assert_eq!(lines[1], (2, "Io,5"));
    }

    #[test]
    fn driver_names_from_descriptions() {
        assert_eq!(
            mapped_driver_files("[ipsec][ipsec.sys    -  event queue]"),
            vec!["ipsec.sys", "ipsec"]
        );
        assert_eq!(
            mapped_driver_files(
                "ReadyBoost various store allocations , Binary: nt!store or rdyboost.sys"
            ),
            vec!["rdyboost.sys", "nt"]
        );
    }
}
