//! Pool tags: exactly four bytes, case-sensitive, trailing spaces significant.
//!
//! Lists write short tags without their padding (`Io` in a list means `Io  `), kernel structures
//! carry them as a little-endian `u32` whose bit 31 may be the "protected" flag, and some tags hold
//! bytes that are not printable. [`PoolTag`] keeps the four raw bytes; its [`Display`] form is the
//! *escaped* text (`\xNN` for non-printable bytes, `\\` for a backslash) which is also what
//! [`PoolTag::parse`] reads back, so the escaped text is a lossless, printable key.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A kernel pool tag: four exact bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PoolTag([u8; 4]);

/// Why a text is not a pool tag.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TagError {
    #[error("a pool tag cannot be empty")]
    Empty,
    #[error("a pool tag has at most 4 bytes, {0:?} has {1}")]
    TooLong(String, usize),
    #[error("bad escape in pool tag {0:?}: use \\xNN (two hex digits) or \\\\")]
    BadEscape(String),
    #[error("pool tag {0:?} holds a character outside Latin-1; tags are single bytes")]
    NotAByte(String),
}

impl PoolTag {
    /// The protected-allocation flag the kernel ORs into a tag; never part of the tag's name.
    pub const PROTECTED_BIT: u32 = 0x8000_0000;

    pub const fn from_bytes(bytes: [u8; 4]) -> Self {
        Self(bytes)
    }

    /// A tag from the `u32` the kernel stores (little-endian byte order), with the protected
    /// bit masked off so `0x80` + `Io  ` displays as `Io  `.
    pub const fn from_u32_le(raw: u32) -> Self {
        Self((raw & !Self::PROTECTED_BIT).to_le_bytes())
    }

    pub const fn to_u32_le(self) -> u32 {
        u32::from_le_bytes(self.0)
    }

    pub const fn bytes(&self) -> &[u8; 4] {
        &self.0
    }

    /// Parses a tag as users and lists write it: 1 to 4 characters, padded with spaces to four,
    /// `\xNN` and `\\` escapes allowed. Surrounding text is *not* trimmed: `"Io "` and `"Io"`
    /// both mean `Io  `, but a leading space is part of the tag.
    pub fn parse(text: &str) -> Result<Self, TagError> {
        let bytes = unescape(text)?;
        if bytes.is_empty() {
            return Err(TagError::Empty);
        }
        if bytes.len() > 4 {
            return Err(TagError::TooLong(text.to_owned(), bytes.len()));
        }
        let mut tag = [b' '; 4];
        tag[..bytes.len()].copy_from_slice(&bytes);
        Ok(Self(tag))
    }

    /// The tag with its bytes in reverse order. A tag is stored little-endian, so the C
    /// character constant `'Xyzw'` that source code passes to a pool API is the tag `wzyX` in
    /// memory, as poolmon shows it; a tag copied from source (or by someone reading source)
    /// is this reverse of the tag a snapshot holds.
    pub const fn reversed(self) -> Self {
        let [a, b, c, d] = self.0;
        Self([d, c, b, a])
    }

    /// The tag with ASCII letters lower-cased, for case-insensitive matching.
    pub fn folded(self) -> Self {
        Self(self.0.map(|b| b.to_ascii_lowercase()))
    }

    /// The escaped form with trailing padding removed (`Io  ` → `Io`), as lists write it.
    pub fn trimmed(&self) -> String {
        self.to_string().trim_end_matches(' ').to_owned()
    }

    /// True when every byte displays as itself (no escapes needed).
    pub fn is_printable(&self) -> bool {
        self.0.iter().all(|&b| is_plain(b))
    }

    /// Whether a constant a driver passes where a tag goes (bit 31, the protected flag, aside)
    /// is a character tag, as C source writes them (`'dcbA'` for the tag `Abcd`, `'g'`): its
    /// first byte in memory (the one poolmon shows first) is a visible ASCII character
    /// (0x21-0x7e), and each later byte is printable ASCII (0x20-0x7e) or belongs to a run of
    /// zero bytes that ends the tag. So `'g'` (bytes `67 00 00 00`) and `Io  ` are tags; `1`
    /// (bytes `01 00 00 00`), `0x80` and the bytes `61 00 62 00` are not.
    pub const fn is_character_tag(raw: u32) -> bool {
        let b = (raw & !Self::PROTECTED_BIT).to_le_bytes();
        if !(b[0] > 0x20 && b[0] < 0x7f) {
            return false;
        }
        let mut i = 1;
        let mut in_zero_run = false;
        while i < 4 {
            let c = b[i];
            if c == 0 {
                in_zero_run = true;
            } else if in_zero_run || !(c >= 0x20 && c < 0x7f) {
                return false;
            }
            i += 1;
        }
        true
    }

    /// Letters, digits and punctuation a tag typically holds, for guessing tags in binaries.
    pub fn looks_plausible(&self) -> bool {
        let b = self.0;
        b[0].is_ascii_alphanumeric()
            && b.iter()
                .all(|&c| c.is_ascii_alphanumeric() || c == b' ' || c == b'_')
            && b.iter()
                .rev()
                .skip_while(|&&c| c == b' ')
                .all(|&c| c != b' ')
    }
}

/// Bytes shown as themselves; everything else is `\xNN`.
fn is_plain(b: u8) -> bool {
    (0x20..0x7f).contains(&b) && b != b'\\'
}

fn unescape(text: &str) -> Result<Vec<u8>, TagError> {
    let mut out = Vec::with_capacity(4);
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('\\') => out.push(b'\\'),
                Some('x') | Some('X') => {
                    let hex: String = chars.by_ref().take(2).collect();
                    let byte = (hex.len() == 2)
                        .then(|| u8::from_str_radix(&hex, 16).ok())
                        .flatten()
                        .ok_or_else(|| TagError::BadEscape(text.to_owned()))?;
                    out.push(byte);
                }
                _ => return Err(TagError::BadEscape(text.to_owned())),
            }
        } else {
            let code = u32::from(c);
            let byte = u8::try_from(code).map_err(|_| TagError::NotAByte(text.to_owned()))?;
            out.push(byte);
        }
        if out.len() > 4 {
            return Err(TagError::TooLong(text.to_owned(), text.chars().count()));
        }
    }
    Ok(out)
}

impl fmt::Display for PoolTag {
    /// The escaped, lossless text form. Trailing spaces are kept.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in &self.0 {
            if is_plain(b) {
                f.write_str(char::from(b).encode_utf8(&mut [0; 4]))?;
            } else if b == b'\\' {
                f.write_str("\\\\")?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for PoolTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PoolTag({:?})", self.to_string())
    }
}

impl FromStr for PoolTag {
    type Err = TagError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for PoolTag {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// In the OpenAPI document a tag is its escaped text (see the module documentation).
impl utoipa::PartialSchema for PoolTag {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(
                "A kernel pool tag: exactly four bytes, case-sensitive, trailing spaces kept \
                 (`Io` is sent as `\"Io  \"`). Bytes 0x20-0x7e other than the backslash appear \
                 as themselves; a backslash is `\\\\`; any other byte is `\\xNN` (two \
                 lower-case hex digits). The escaped text is lossless: it is what the API \
                 accepts back (where 1 to 4 characters are padded with spaces).",
            ))
            .min_length(Some(4))
            .max_length(Some(16))
            .pattern(Some(r"^(?:[ -\[\]-~]|\\\\|\\x[0-9a-f]{2}){4}$"))
            .examples(["NtfF", "Io  ", "\\x01ab\\\\"])
            .into()
    }
}

impl utoipa::ToSchema for PoolTag {}

impl<'de> Deserialize<'de> for PoolTag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A tag pattern as users type it and as pooltag.txt writes wildcard rows: `?` stands for one
/// byte, `*` for any number (including none). It is compiled to bytes once, so matching the
/// thousands of tags of a snapshot against every wildcard row allocates nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagPattern {
    text: String,
    units: Vec<GlobUnit>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GlobUnit {
    Byte(u8),
    /// `?`: one byte.
    One,
    /// `*`: any run of bytes.
    Run,
}

impl TagPattern {
    /// `None` unless the text holds a wildcard. Escapes (`\xNN`, `\\`) work as in tags; a
    /// malformed escape is taken literally.
    pub fn parse(text: &str) -> Option<Self> {
        if !text.contains(['*', '?']) {
            return None;
        }
        let mut units = Vec::new();
        for unit in split_units(text) {
            match unit.as_str() {
                "*" => units.push(GlobUnit::Run),
                "?" => units.push(GlobUnit::One),
                escaped if escaped.starts_with('\\') && escaped.len() > 1 => {
                    match PoolTag::parse(escaped).ok().map(|t| t.bytes()[0]) {
                        Some(byte) => units.push(GlobUnit::Byte(byte)),
                        None => units.extend(escaped.bytes().map(GlobUnit::Byte)),
                    }
                }
                literal => {
                    let c = literal.chars().next().unwrap_or(' ');
                    let byte = u8::try_from(u32::from(c)).ok()?;
                    units.push(GlobUnit::Byte(byte));
                }
            }
        }
        Some(Self {
            text: text.to_owned(),
            units,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The byte every covered tag starts with, when the pattern starts with a literal (lets
    /// callers bucket patterns by first byte).
    pub fn first_byte(&self) -> Option<u8> {
        match self.units.first() {
            Some(GlobUnit::Byte(b)) => Some(*b),
            _ => None,
        }
    }

    /// Does the pattern cover the tag? `Afd?` covers `AfdB`; `Aml*` covers `AmlH` and `Aml `.
    /// Lists write padded tags without their padding, so `Bu?` also covers the tag `Bu1 `:
    /// the tag's trailing blanks may be left unmatched.
    pub fn matches(&self, tag: PoolTag, case_sensitive: bool) -> bool {
        let bytes = tag.bytes();
        let mut len = 4;
        loop {
            if glob(&self.units, &bytes[..len], case_sensitive) {
                return true;
            }
            if len == 0 || bytes[len - 1] != b' ' {
                return false;
            }
            len -= 1;
        }
    }

    /// The pattern as a regular expression over the escaped tag text (for tantivy's
    /// `RegexQuery`). Escaped tags are printable ASCII, so the classes are ASCII ranges: a
    /// Unicode class such as `[^\\]` or `.` makes the automaton many times larger to build.
    pub fn to_regex(&self, fold_case: bool) -> String {
        const ONE_UNIT: &str = r"(\\\\|\\x[0-9a-f]{2}|[ -\[\]-~])";
        const ANY_RUN: &str = "[ -~]*";
        let mut out = String::new();
        for unit in split_units(&self.text) {
            match unit.as_str() {
                "?" => out.push_str(ONE_UNIT),
                "*" => out.push_str(ANY_RUN),
                literal => {
                    let literal = if fold_case {
                        literal.to_ascii_lowercase()
                    } else {
                        literal.to_owned()
                    };
                    for c in literal.chars() {
                        if c.is_ascii_alphanumeric() || c == ' ' || c == '_' {
                            out.push(c);
                        } else {
                            out.push('\\');
                            out.push(c);
                        }
                    }
                }
            }
        }
        // Tags stored with padding: a pattern without a trailing `*` also covers padded tags.
        if !self.text.ends_with('*') {
            out.push_str(" *");
        }
        out
    }
}

fn glob(pattern: &[GlobUnit], text: &[u8], case_sensitive: bool) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((GlobUnit::Run, rest)) => {
            (0..=text.len()).any(|skip| glob(rest, &text[skip..], case_sensitive))
        }
        Some((GlobUnit::One, rest)) => !text.is_empty() && glob(rest, &text[1..], case_sensitive),
        Some((GlobUnit::Byte(b), rest)) => match text.split_first() {
            Some((t, text_rest)) => {
                let same = if case_sensitive {
                    b == t
                } else {
                    b.eq_ignore_ascii_case(t)
                };
                same && glob(rest, text_rest, case_sensitive)
            }
            None => false,
        },
    }
}

/// Splits escaped tag text into units: one plain character, `\\`, or `\xNN` each.
fn split_units(text: &str) -> Vec<String> {
    let mut units = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let mut unit = String::from('\\');
            match chars.next() {
                Some('x') => {
                    unit.push('x');
                    unit.extend(chars.by_ref().take(2));
                }
                Some(other) => unit.push(other),
                None => {}
            }
            units.push(unit);
        } else {
            units.push(c.to_string());
        }
    }
    units
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_character_constant_is_the_reverse_of_the_tag_in_memory() {
        // `'Xyzw'` in C is 0x58797A77; stored little-endian its bytes read `wzyX`.
        let in_memory = PoolTag::from_u32_le(u32::from_be_bytes(*b"Xyzw"));
        assert_eq!(in_memory.to_string(), "wzyX");
        assert_eq!(PoolTag::parse("Xyzw").unwrap().reversed(), in_memory);
        assert_eq!(in_memory.reversed().reversed(), in_memory);
        assert_eq!(PoolTag::parse("Io").unwrap().reversed().to_string(), "  oI");
    }

    #[test]
    fn short_tags_are_padded_with_spaces() {
        let tag = PoolTag::parse("Io").unwrap();
        assert_eq!(tag.bytes(), b"Io  ");
        assert_eq!(tag.to_string(), "Io  ");
        assert_eq!(tag.trimmed(), "Io");
        assert_eq!(PoolTag::parse("Io ").unwrap(), tag);
    }

    #[test]
    fn tags_are_case_sensitive() {
        assert_ne!(
            PoolTag::parse("NtfC").unwrap(),
            PoolTag::parse("Ntfc").unwrap()
        );
        assert_eq!(
            PoolTag::parse("NtfC").unwrap().folded(),
            PoolTag::parse("ntfc").unwrap()
        );
    }

    #[test]
    fn protected_bit_is_masked_and_byte_order_is_little_endian() {
        let raw = u32::from_le_bytes(*b"Proc") | PoolTag::PROTECTED_BIT;
        assert_eq!(PoolTag::from_u32_le(raw).to_string(), "Proc");
    }

    #[test]
    fn unprintable_bytes_are_escaped_and_round_trip() {
        let tag = PoolTag::from_bytes([0x01, b'\\', b'A', 0xff]);
        assert_eq!(tag.to_string(), r"\x01\\A\xff");
        assert_eq!(PoolTag::parse(&tag.to_string()).unwrap(), tag);
    }

    #[test]
    fn bad_tags_say_what_is_wrong() {
        assert_eq!(PoolTag::parse(""), Err(TagError::Empty));
        assert!(matches!(
            PoolTag::parse("Toolong"),
            Err(TagError::TooLong(..))
        ));
        assert!(matches!(PoolTag::parse(r"\q"), Err(TagError::BadEscape(_))));
        assert!(matches!(
            PoolTag::parse(r"\x4"),
            Err(TagError::BadEscape(_))
        ));
        assert!(matches!(PoolTag::parse("Ab€"), Err(TagError::NotAByte(_))));
    }

    #[test]
    fn patterns_match_like_pooltag_wildcards() {
        let afd = TagPattern::parse("Afd?").unwrap();
        assert!(afd.matches(PoolTag::parse("AfdB").unwrap(), true));
        assert!(!afd.matches(PoolTag::parse("aFDC").unwrap(), true));
        assert!(afd.matches(PoolTag::parse("aFDC").unwrap(), false));
        let aml = TagPattern::parse("Aml*").unwrap();
        assert!(aml.matches(PoolTag::parse("AmlH").unwrap(), true));
        assert!(aml.matches(PoolTag::parse("Aml").unwrap(), true));
        let q = TagPattern::parse("?kaL").unwrap();
        assert!(q.matches(PoolTag::parse("LkaL").unwrap(), true));
        assert!(!q.matches(PoolTag::parse("Lkal").unwrap(), true));
        let short = TagPattern::parse("Bu?").unwrap();
        assert!(short.matches(PoolTag::parse("Bu1").unwrap(), true));
        assert!(TagPattern::parse("Io").is_none());
    }

    #[test]
    fn pattern_regex_agrees_with_matches_on_examples() {
        let pattern = TagPattern::parse("N?f*").unwrap();
        let regex = pattern.to_regex(false);
        assert!(regex.starts_with('N'));
        assert!(regex.ends_with("[ -~]*"));
    }

    #[test]
    fn character_tags_are_what_c_character_constants_give() {
        let tag = |bytes: &[u8; 4]| PoolTag::is_character_tag(u32::from_le_bytes(*bytes));
        // 'g' in C is 0x67: the bytes 67 00 00 00.
        assert!(PoolTag::is_character_tag(u32::from(b'g')));
        assert!(tag(b"Abcd") && tag(b"Io  ") && tag(b"ab\0\0") && tag(b"a b\0"));
        assert!(PoolTag::is_character_tag(
            u32::from_le_bytes(*b"Prot") | PoolTag::PROTECTED_BIT
        ));
        // Small numbers, flags and sizes are no tags.
        for value in [0, 1, 2, 0x10, 0x20, 0x7f, 0x80, 0x200, 0x1000, 0xffff_ffff] {
            assert!(!PoolTag::is_character_tag(value), "{value:#x}");
        }
        assert!(!tag(b" abc"), "a leading space");
        assert!(!tag(b"a\0b\0"), "a zero inside the tag");
        assert!(!tag(b"ab\x01c") && !tag(b"ab\xe9c"));
    }

    proptest! {
        #[test]
        fn a_character_tag_is_a_visible_character_then_printable_bytes_then_zeros(
            first in 0x21u8..0x7f,
            rest in proptest::collection::vec(0x20u8..0x7f, 0..=3),
        ) {
            let mut bytes = [0u8; 4];
            bytes[0] = first;
            bytes[1..=rest.len()].copy_from_slice(&rest);
            let raw = u32::from_le_bytes(bytes);
            prop_assert!(PoolTag::is_character_tag(raw));
            prop_assert!(PoolTag::is_character_tag(raw | PoolTag::PROTECTED_BIT));
        }

        #[test]
        fn a_value_below_0x21_is_never_a_tag(value in 0u32..0x21) {
            prop_assert!(!PoolTag::is_character_tag(value));
        }

        #[test]
        fn a_character_tag_has_no_control_or_high_byte_and_no_byte_after_a_zero(
            raw in any::<u32>(),
        ) {
            let b = (raw & !PoolTag::PROTECTED_BIT).to_le_bytes();
            let expected = (0x21..0x7f).contains(&b[0])
                && b[1..].iter().all(|&c| c == 0 || (0x20..0x7f).contains(&c))
                && b[1..].windows(2).all(|w| w[0] != 0 || w[1] == 0);
            prop_assert_eq!(PoolTag::is_character_tag(raw), expected);
        }

        #[test]
        fn display_then_parse_round_trips(bytes in any::<[u8; 4]>()) {
            let tag = PoolTag::from_bytes(bytes);
            prop_assert_eq!(PoolTag::parse(&tag.to_string()).unwrap(), tag);
        }

        #[test]
        fn parse_never_panics(text in ".{0,12}") {
            let _ = PoolTag::parse(&text);
        }

        #[test]
        fn a_tag_matches_itself_as_a_pattern_with_star(bytes in any::<[u8; 3]>()) {
            let tag = PoolTag::from_bytes([bytes[0], bytes[1], bytes[2], b'Z']);
            let text = tag.to_string();
            let prefix: String = split_units(&text).into_iter().take(3).collect();
            let pattern = TagPattern::parse(&format!("{prefix}*")).unwrap();
            prop_assert!(pattern.matches(tag, true));
        }
    }
}
