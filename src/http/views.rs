//! Display-ready values for the HTML templates: every string here is plain text that the
//! templates escape; links are built from percent-encoded path segments.

use crate::index::{MatchKind, SearchHit};
use crate::knowledge::TagEntry;
use crate::tag::PoolTag;

/// Percent-encodes one path segment (everything but RFC 3986 unreserved characters).
pub fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

pub fn tag_href(tag: PoolTag) -> String {
    format!("/tags/{}", path_segment(&tag.to_string()))
}

pub fn driver_href(driver: &str) -> String {
    format!("/drivers/{}", path_segment(driver))
}

/// A tag as shown on a page: exact text with a visible mark for trailing padding.
#[derive(Debug, Clone)]
pub struct TagView {
    /// The escaped tag with trailing blanks shown as `·` so `Io  ` reads as `Io··`.
    pub shown: String,
    /// The exact escaped text (for titles and copy/paste).
    pub exact: String,
    pub href: String,
}

impl TagView {
    pub fn new(tag: PoolTag) -> Self {
        let exact = tag.to_string();
        let trimmed = exact.trim_end_matches(' ');
        let pad = exact.len() - trimmed.len();
        Self {
            shown: format!("{trimmed}{}", "·".repeat(pad)),
            exact,
            href: tag_href(tag),
        }
    }
}

#[derive(Debug, Clone)]
pub struct EntryView {
    pub tag: TagView,
    pub is_pattern: bool,
    pub driver: String,
    pub driver_href: String,
    pub component: String,
    pub description: String,
    pub vendor: String,
    pub version: String,
    pub confidence: &'static str,
    pub confidence_label: &'static str,
    pub source: String,
    pub line: String,
    pub matched: &'static str,
}

impl EntryView {
    pub fn new(entry: &TagEntry) -> Self {
        let driver = entry.owner.driver.clone().unwrap_or_default();
        Self {
            tag: TagView::new(entry.tag),
            is_pattern: entry.is_pattern,
            driver_href: if driver.is_empty() {
                String::new()
            } else {
                driver_href(&driver)
            },
            driver,
            component: entry.owner.component.clone().unwrap_or_default(),
            description: entry.description.clone(),
            vendor: entry.vendor.clone().unwrap_or_default(),
            version: entry.version.clone().unwrap_or_default(),
            confidence: entry.confidence.as_str(),
            confidence_label: entry.confidence.label(),
            source: entry.source.clone(),
            line: entry.line.map(|l| l.to_string()).unwrap_or_default(),
            matched: "",
        }
    }

    pub fn from_hit(hit: &SearchHit) -> Self {
        Self {
            matched: match hit.match_kind {
                MatchKind::Tag => "tag",
                MatchKind::TagAnyCase => "tag, other case",
                MatchKind::Driver => "driver",
                MatchKind::Vendor => "vendor",
                MatchKind::Text => "words",
            },
            ..Self::new(&hit.entry)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_encode_blanks_and_escapes() {
        assert_eq!(tag_href(PoolTag::parse("Io").unwrap()), "/tags/Io%20%20");
        assert_eq!(
            tag_href(PoolTag::from_bytes([1, b'<', b'/', b'a'])),
            "/tags/%5Cx01%3C%2Fa"
        );
        assert_eq!(TagView::new(PoolTag::parse("Io").unwrap()).shown, "Io··");
    }
}
