//! Exporting one source as a CSV list in the import format, so one server's knowledge (an
//! imported list, the community list, a driver scan) can be imported on another and give the
//! same attributions there, provenance included.

use crate::index::{IndexError, SearchIndex};
use crate::knowledge::{SourceInfo, TagEntry};
use crate::pooltag_list::LIST_COLUMNS;

/// One source, written as a list.
#[derive(Debug, Clone)]
pub struct ListExport {
    pub source: SourceInfo,
    /// CSV with a header of [`LIST_COLUMNS`], after one `#` comment line naming the source.
    pub csv: String,
}

/// Exports the source `name`, or `None` when there is no such source.
pub fn export_source(index: &SearchIndex, name: &str) -> Result<Option<ListExport>, IndexError> {
    let Some(source) = index.source(name)? else {
        return Ok(None);
    };
    let entries = index.source_entries(name)?;
    let csv = write_list(&source, &entries);
    Ok(Some(ListExport { source, csv }))
}

/// The CSV text of a source's entries. The line a row had in its original list is not a
/// column: imported again, a row's line is its line in this file.
pub fn write_list(source: &SourceInfo, entries: &[TagEntry]) -> String {
    let mut out = format!(
        "# poolsleuth export of source {} ({}{}{}), {} entries\n",
        one_line(&source.name),
        source.kind.as_str(),
        source
            .version
            .as_deref()
            .map(|v| format!(", version {}", one_line(v)))
            .unwrap_or_default(),
        source
            .origin
            .as_deref()
            .map(|o| format!(", from {}", one_line(o)))
            .unwrap_or_default(),
        entries.len()
    );
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

/// A value fit for the comment line: no line breaks or other control characters.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
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
        let source = SourceInfo {
            name: "s".into(),
            kind: SourceKind::List,
            version: Some("v1\nforged".into()),
            origin: None,
            driver_name: None,
            imported_at: String::new(),
            entries: entries.len() as u64,
            driver: None,
        };
        let csv = write_list(&source, &entries);
        assert_eq!(csv.lines().filter(|l| l.starts_with('#')).count(), 1);
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
}
