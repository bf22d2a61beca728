//! File versions as Windows shows them: one type for the versions of analyzed drivers, of tag
//! lists' rows and of the machine's driver list.
//!
//! A driver's version resource carries the version twice: the `FileVersion` text that
//! Explorer, `Get-Item … VersionInfo` and the driver list show (`2.2`, `2.2 built by: WinDDK`,
//! `4, 25, 0, 9658`, `10.0.19041.1 (WinBuild.160101.0800)`), and the fixed numbers
//! (`2.0.0.0`), which vendors often leave unchanged. The text is what a person compares with
//! the screen in front of them, so it comes first; the numbers are the fallback. Versions
//! compare component by component with missing components as zero (`2.2` is `2.2.0.0`), and
//! are shown as the driver shows them (`2.2`, never `2.2.0`).

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use smallvec::SmallVec;

/// The most components read; a version of more is cut there (Windows uses four).
const MAX_PARTS: usize = 8;
/// The longest text kept for a version that is not numeric.
const MAX_TEXT: usize = 64;

/// A file version: its numeric components and the text it is shown by.
#[derive(Clone)]
pub struct Version {
    /// As the driver shows it: the numbers as written (`2.2`, `4, 25, 0, 9658`), or the whole
    /// text when it starts with no number (a list may say `Windows 10`).
    shown: String,
    /// The components; empty when the text starts with no number.
    parts: SmallVec<[u64; 4]>,
}

impl Version {
    /// Reads a version text: the leading numbers, separated by `.` or `,` (spaces around a
    /// separator allowed), shown as written; what follows them (` built by: WinDDK`,
    /// ` (WinBuild…)`) is left out. A text that starts with no number (after an optional
    /// `v`) is kept whole as a version that is not numeric. `None` for a blank text.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim_matches(|c: char| c.is_whitespace() || c == '\0');
        if text.is_empty() {
            return None;
        }
        let numbers = match text.strip_prefix(['v', 'V']) {
            Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => rest,
            _ => text,
        };
        let (parts, end) = leading_numbers(numbers);
        if parts.is_empty() {
            let shown: String = text.chars().take(MAX_TEXT).collect();
            return Some(Self {
                shown: shown.trim_end().to_owned(),
                parts,
            });
        }
        Some(Self {
            shown: numbers[..end].to_owned(),
            parts,
        })
    }

    /// The fixed numbers of a version resource (`VS_FIXEDFILEINFO`), shown `a.b.c.d`.
    pub fn from_numeric(numbers: [u16; 4]) -> Self {
        let [a, b, c, d] = numbers;
        Self {
            shown: format!("{a}.{b}.{c}.{d}"),
            parts: numbers.iter().map(|&n| u64::from(n)).collect(),
        }
    }

    /// The version a driver is known by, as Windows shows it: its `FileVersion` text, else
    /// the fixed version numbers (see [`Version::of_file`]), written as shown.
    pub fn of_driver(analysis: &crate::driver::DriverAnalysis) -> Option<String> {
        Self::of_file(
            analysis.version.file_version.as_deref(),
            analysis.version.file_version_numeric,
        )
        .map(|v| v.to_string())
    }

    /// A driver file's version: its `FileVersion` text when that holds a number, else the
    /// fixed numbers (when not all zero), else the text as it is.
    pub fn of_file(text: Option<&str>, numeric: Option<[u16; 4]>) -> Option<Self> {
        let from_text = text.and_then(Self::parse);
        if from_text.as_ref().is_some_and(Self::is_numeric) {
            return from_text;
        }
        numeric
            .filter(|n| n.iter().any(|&x| x != 0))
            .map(Self::from_numeric)
            .or(from_text)
    }

    /// As the driver shows it.
    pub fn as_str(&self) -> &str {
        &self.shown
    }

    /// The numeric components (empty for a version that is not numeric).
    pub fn parts(&self) -> &[u64] {
        &self.parts
    }

    pub fn is_numeric(&self) -> bool {
        !self.parts.is_empty()
    }

    /// Compares by number, component by component, a missing component counting as zero:
    /// `2.2` and `2.2.0.0` are the same version. Versions that are not numeric compare by
    /// their text (ignoring case) and come before numeric ones.
    pub fn cmp_version(&self, other: &Self) -> Ordering {
        match (self.is_numeric(), other.is_numeric()) {
            (true, true) => {
                let n = self.parts.len().max(other.parts.len());
                (0..n)
                    .map(|i| {
                        let a = self.parts.get(i).copied().unwrap_or(0);
                        let b = other.parts.get(i).copied().unwrap_or(0);
                        a.cmp(&b)
                    })
                    .find(|o| o.is_ne())
                    .unwrap_or(Ordering::Equal)
            }
            (false, false) => self.shown.to_lowercase().cmp(&other.shown.to_lowercase()),
            (false, true) => Ordering::Less,
            (true, false) => Ordering::Greater,
        }
    }

    /// The same version, however written (`2.2` and `2.2.0`).
    pub fn same_version(&self, other: &Self) -> bool {
        self.cmp_version(other).is_eq()
    }

    pub fn newer_than(&self, other: &Self) -> bool {
        self.cmp_version(other).is_gt()
    }

    /// Versions oldest first, each version once (the first spelling kept).
    pub fn sorted_distinct(mut versions: Vec<Self>) -> Vec<Self> {
        versions.sort();
        versions.dedup_by(|later, earlier| later.same_version(earlier));
        versions
    }
}

/// Compares two version texts as [`Version::cmp_version`] does, then by text, so that a sort
/// is total and stable across spellings: for lists of stored versions.
pub fn compare_version_texts(a: &str, b: &str) -> Ordering {
    match (Version::parse(a), Version::parse(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (x, y) => x.is_some().cmp(&y.is_some()),
    }
    .then_with(|| a.cmp(b))
}

/// The numbers at the start of `text` and the byte length of the text they were read from.
fn leading_numbers(text: &str) -> (SmallVec<[u64; 4]>, usize) {
    let bytes = text.as_bytes();
    let mut parts = SmallVec::new();
    let mut at = 0;
    let mut end = 0;
    loop {
        let digits = bytes[at..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits == 0 {
            break;
        }
        let number = text[at..at + digits].bytes().fold(0u64, |n, d| {
            n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
        });
        parts.push(number);
        at += digits;
        end = at;
        if parts.len() == MAX_PARTS {
            break;
        }
        // A separator: `.` or `,`, with blanks around a comma (`4, 25, 0, 9658`).
        let mut next = at;
        while bytes.get(next) == Some(&b' ') {
            next += 1;
        }
        match bytes.get(next) {
            Some(b'.' | b',') => next += 1,
            _ => break,
        }
        while bytes.get(next) == Some(&b' ') {
            next += 1;
        }
        if !bytes.get(next).is_some_and(u8::is_ascii_digit) {
            break;
        }
        at = next;
    }
    (parts, end)
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Version {}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// By version ([`Version::cmp_version`]), then by how it is written, so that equal versions
/// written differently still sort the same way every time.
impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.cmp_version(other)
            .then_with(|| self.parts.len().cmp(&other.parts.len()))
            .then_with(|| self.shown.cmp(&other.shown))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl fmt::Debug for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Version({:?})", self.shown)
    }
}

/// Written as the text it is shown by.
impl Serialize for Version {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.shown)
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).ok_or_else(|| serde::de::Error::custom("an empty version"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap()
    }

    #[test]
    fn reads_what_windows_shows() {
        for (text, shown, parts) in [
            ("2.2", "2.2", &[2, 2][..]),
            ("2.2 built by: WinDDK", "2.2", &[2, 2]),
            ("1.3 built by: WinDDK", "1.3", &[1, 3]),
            ("4, 25, 0, 9658", "4, 25, 0, 9658", &[4, 25, 0, 9658]),
            (
                "10.0.19041.1 (WinBuild.160101.0800)",
                "10.0.19041.1",
                &[10, 0, 19041, 1],
            ),
            ("1.0.0.05", "1.0.0.05", &[1, 0, 0, 5]),
            ("3.0.0 3/0", "3.0.0", &[3, 0, 0]),
            ("v1.2", "1.2", &[1, 2]),
            ("2.2.", "2.2", &[2, 2]),
            ("  7,1 ", "7,1", &[7, 1]),
        ] {
            let version = v(text);
            assert_eq!(version.as_str(), shown, "{text:?}");
            assert_eq!(version.parts(), parts, "{text:?}");
        }
        let words = v("Windows 10");
        assert!(!words.is_numeric());
        assert_eq!(words.as_str(), "Windows 10");
        assert_eq!(Version::parse("  \0"), None);
    }

    #[test]
    fn missing_components_count_as_zero() {
        assert!(v("2.2").same_version(&v("2.2.0")));
        assert!(v("2.2").same_version(&Version::from_numeric([2, 2, 0, 0])));
        assert!(v("2.2").newer_than(&v("2.1.9")));
        assert!(v("1.10.0").newer_than(&v("1.9")));
        assert!(!v("2.2 built by: WinDDK").newer_than(&v("2.2")));
        assert!(v("2.2.0.1").newer_than(&v("2.2")));
    }

    #[test]
    fn the_text_comes_before_the_numbers() {
        let both = Version::of_file(Some("2.2"), Some([2, 0, 0, 0])).unwrap();
        assert_eq!(both.as_str(), "2.2");
        let numbers = Version::of_file(Some("Windows"), Some([1, 2, 0, 0])).unwrap();
        assert_eq!(numbers.as_str(), "1.2.0.0");
        let zero = Version::of_file(None, Some([0, 0, 0, 0]));
        assert_eq!(zero, None);
        let text = Version::of_file(Some("beta"), None).unwrap();
        assert_eq!(text.as_str(), "beta");
    }

    #[test]
    fn distinct_versions_keep_one_spelling_each() {
        let versions = Version::sorted_distinct(vec![v("2.2"), v("1.3"), v("2.2.0"), v("10.0")]);
        let shown: Vec<&str> = versions.iter().map(Version::as_str).collect();
        assert_eq!(shown, ["1.3", "2.2", "10.0"]);
    }

    fn components() -> impl Strategy<Value = Vec<u32>> {
        prop::collection::vec(0u32..100_000, 1..6)
    }

    proptest! {
        #[test]
        fn parsing_any_text_never_panics_and_shows_part_of_it(text in "\\PC{0,80}") {
            if let Some(version) = Version::parse(&text) {
                prop_assert!(text.contains(version.as_str()));
                prop_assert!(version.parts().len() <= MAX_PARTS);
                // What is shown reads back as the same version.
                let again = Version::parse(version.as_str()).unwrap();
                prop_assert!(again.same_version(&version));
            }
        }

        #[test]
        fn numbers_read_back_as_written(parts in components(), comma in any::<bool>(), tail in "( built by: WinDDK| \\(WinBuild\\.160101\\.0800\\))?") {
            let separator = if comma { ", " } else { "." };
            let written = parts.iter().map(u32::to_string).collect::<Vec<_>>().join(separator);
            let version = Version::parse(&format!("{written}{tail}")).unwrap();
            prop_assert_eq!(version.as_str(), written.as_str());
            let expected: Vec<u64> = parts.iter().map(|&p| u64::from(p)).collect();
            prop_assert_eq!(version.parts(), expected.as_slice());
        }

        #[test]
        fn trailing_zeros_change_nothing(parts in components(), zeros in 1usize..4) {
            let written = parts.iter().map(u32::to_string).collect::<Vec<_>>().join(".");
            let padded = format!("{written}{}", ".0".repeat(zeros));
            prop_assert!(v(&written).same_version(&v(&padded)));
        }

        #[test]
        fn order_is_that_of_the_zero_padded_numbers(a in components(), b in components()) {
            let text = |p: &[u32]| p.iter().map(u32::to_string).collect::<Vec<_>>().join(".");
            let pad = |p: &[u32]| {
                let mut p: Vec<u32> = p.to_vec();
                p.resize(8, 0);
                p
            };
            prop_assert_eq!(v(&text(&a)).cmp_version(&v(&text(&b))), pad(&a).cmp(&pad(&b)));
        }

        #[test]
        fn the_order_is_total(texts in prop::collection::vec("[0-9., a-z]{0,12}", 3)) {
            let versions: Vec<Version> = texts.iter().filter_map(|t| Version::parse(t)).collect();
            for a in &versions {
                prop_assert_eq!(a.cmp(a), Ordering::Equal);
                for b in &versions {
                    prop_assert_eq!(a.cmp(b), b.cmp(a).reverse());
                    prop_assert_eq!(a.cmp_version(b), b.cmp_version(a).reverse());
                    for c in &versions {
                        if a <= b && b <= c {
                            prop_assert!(a <= c);
                        }
                        if a.cmp_version(b).is_le() && b.cmp_version(c).is_le() {
                            prop_assert!(a.cmp_version(c).is_le());
                        }
                    }
                }
            }
        }
    }
}
