//! Exporting one source as a CSV list in the import format, so one server's knowledge (an
//! imported list, the community list, a driver scan) can be imported on another and give the
//! same attributions there, provenance included.
//!
//! The file is plain CSV (RFC 4180): the header on the first line, a row per attribution. What
//! the source is (name, kind, version, origin, time of import) travels beside it, in the HTTP
//! answer's headers ([`provenance_headers`]). Exports written before carried it as a `#`
//! comment line first, which import still skips.

use crate::index::{IndexError, SearchIndex};
use crate::knowledge::{SourceInfo, TagEntry};
use crate::pooltag_list::LIST_COLUMNS;

/// One source, written as a list.
#[derive(Debug, Clone)]
pub struct ListExport {
    pub source: SourceInfo,
    /// CSV with a header of [`LIST_COLUMNS`] on its first line.
    pub csv: String,
}

/// Exports the source `name`, or `None` when there is no such source.
pub fn export_source(index: &SearchIndex, name: &str) -> Result<Option<ListExport>, IndexError> {
    let Some(source) = index.source(name)? else {
        return Ok(None);
    };
    let entries = index.source_entries(name)?;
    let csv = write_list(&entries);
    Ok(Some(ListExport { source, csv }))
}

/// The CSV text of a source's entries. The line a row had in its original list is not a
/// column: imported again, a row's line is its line in this file.
pub fn write_list(entries: &[TagEntry]) -> String {
    let mut out = String::new();
    out.push_str(&LIST_COLUMNS.join(","));
    out.push('\n');
    for entry in entries {
        let text = |value: &Option<String>| value.as_deref().unwrap_or("").to_owned();
        let fields: [String; LIST_COLUMNS.len()] = [
            entry.tag.to_string(),
            text(&entry.owner.driver),
            text(&entry.owner.component),
            entry.description.clone(),
            text(&entry.vendor),
            text(&entry.product),
            text(&entry.version),
            text(&entry.sha256),
            entry.confidence.as_str().to_owned(),
            text(&entry.provenance.source_url),
            text(&entry.provenance.source_note),
        ];
        for (column, field) in fields.iter().enumerate() {
            if column > 0 {
                out.push(',');
            }
            // The tag is always quoted: its blanks are part of it, and a quoted tag that
            // starts like a comment (`#`, `rem `) is still read as a tag.
            push_field(&mut out, field, column == 0);
        }
        out.push('\n');
    }
    out
}

fn push_field(out: &mut String, field: &str, always_quote: bool) {
    let quote = always_quote
        || field.contains([',', '"', '\n', '\r'])
        || field.starts_with(char::is_whitespace)
        || field.ends_with(char::is_whitespace);
    if quote {
        out.push('"');
        out.push_str(&field.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(field);
    }
}

/// The response headers that say what an exported list is.
pub const HEADER_SOURCE: &str = "poolsleuth-source";
pub const HEADER_SOURCE_KIND: &str = "poolsleuth-source-kind";
pub const HEADER_SOURCE_VERSION: &str = "poolsleuth-source-version";
pub const HEADER_SOURCE_ORIGIN: &str = "poolsleuth-source-origin";
pub const HEADER_SOURCE_IMPORTED_AT: &str = "poolsleuth-source-imported-at";
pub const HEADER_SOURCE_ENTRIES: &str = "poolsleuth-source-entries";

/// The source's name, kind, version, origin, time of import and entries, as header names
/// and values. A value is UTF-8 with every byte outside printable ASCII, and `%`,
/// percent-encoded, so any version or origin text makes a valid header.
pub fn provenance_headers(source: &SourceInfo) -> Vec<(&'static str, String)> {
    let mut headers = vec![
        (HEADER_SOURCE, header_text(&source.name)),
        (HEADER_SOURCE_KIND, source.kind.as_str().to_owned()),
    ];
    if let Some(version) = &source.version {
        headers.push((HEADER_SOURCE_VERSION, header_text(version)));
    }
    if let Some(origin) = &source.origin {
        headers.push((HEADER_SOURCE_ORIGIN, header_text(origin)));
    }
    headers.push((HEADER_SOURCE_IMPORTED_AT, header_text(&source.imported_at)));
    headers.push((HEADER_SOURCE_ENTRIES, source.entries.to_string()));
    headers
}

fn header_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if (0x20..0x7f).contains(&byte) && byte != b'%' {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::{Confidence, DriverOwner, Provenance, SourceKind};
    use crate::pooltag_list::{ListFormat, parse_list};
    use crate::tag::PoolTag;

    fn entry(tag: PoolTag, driver: &str, description: &str) -> TagEntry {
        TagEntry {
            tag,
            is_pattern: false,
            owner: DriverOwner::from_list_field(driver),
            description: description.into(),
            vendor: Some("Contoso, Inc.".into()),
            product: Some("Widget \"Pro\"".into()),
            version: Some("1.2.3".into()),
            sha256: Some("ab".repeat(32)),
            confidence: Confidence::CodeSite,
            source: "s".into(),
            line: None,
            provenance: Provenance {
                source_url: Some("https://example.com/a.c#L1".into()),
                source_note: Some("'Xyzw' reversed".into()),
                uploaded_as: None,
                signature: None,
            },
        }
    }

    /// Whatever bytes a tag holds (blanks, commas, quotes, escapes, a leading `#`), the
    /// exported list reads back as the same rows.
    #[test]
    fn an_export_reads_back_as_the_same_rows() {
        let tags = [
            PoolTag::parse("Io").unwrap(),
            PoolTag::from_bytes(*b"#abc"),
            PoolTag::from_bytes(*b"rem "),
            PoolTag::from_bytes(*b" \",b"),
            PoolTag::from_bytes([1, b'\\', 0xe9, b'z']),
        ];
        let entries: Vec<TagEntry> = tags
            .iter()
            .map(|&tag| entry(tag, "nt!io", "I/O, \"general\""))
            .collect();
        let csv = write_list(&entries);
        // Plain CSV: the header first.
        assert!(csv.starts_with("tag,driver,"), "{csv}");
        let parsed = parse_list(csv.as_bytes(), None).unwrap();
        assert_eq!(parsed.format, ListFormat::Csv);
        assert!(parsed.skipped.is_empty(), "{:?}", parsed.skipped);
        assert_eq!(parsed.entries.len(), entries.len());
        for (read, written) in parsed.entries.iter().zip(&entries) {
            assert_eq!(read.tag, written.tag);
            assert_eq!(read.owner, written.owner);
            assert_eq!(read.description, written.description);
            assert_eq!(read.vendor, written.vendor);
            assert_eq!(read.product, written.product);
            assert_eq!(read.version, written.version);
            assert_eq!(read.sha256, written.sha256);
            assert_eq!(read.confidence, Some(written.confidence));
            assert_eq!(read.provenance, written.provenance);
        }
    }

    #[test]
    fn any_source_text_makes_valid_headers() {
        let source = SourceInfo {
            name: "wdk".into(),
            kind: SourceKind::List,
            version: Some("v1\r\nforged: yes 100% é".into()),
            origin: None,
            driver_name: None,
            imported_at: "2026-12-01T10:00:00Z".into(),
            entries: 3,
            driver: None,
        };
        let headers = provenance_headers(&source);
        for (name, value) in &headers {
            // What a header value may hold (RFC 9110 field-vchar and spaces).
            assert!(
                value.bytes().all(|b| (0x20..0x7f).contains(&b)),
                "{name}: {value:?}"
            );
        }
        assert!(headers.contains(&(
            HEADER_SOURCE_VERSION,
            "v1%0D%0Aforged: yes 100%25 %C3%A9".to_owned()
        )));
        assert!(headers.contains(&(HEADER_SOURCE_ENTRIES, "3".to_owned())));
    }
}
