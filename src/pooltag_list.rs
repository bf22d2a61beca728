//! Parsers for tag lists: the WDK's `pooltag.txt` and CSV/TSV lists with a header row.
//!
//! Lists are untrusted text. A line that cannot be read is reported with its number and the
//! reason, and skipped; the rest of the list still imports. Only a list with nothing usable in
//! it is an error, so a broken upload can never replace a good source with nothing.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::excerpt::{bound_message, excerpt};
use crate::knowledge::{Confidence, DriverOwner, Provenance};
use crate::tag::{PoolTag, TagPattern};
use crate::utf16;

/// The list formats we read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ListFormat {
    /// `<PoolTag> - <binary-name> - <Description>` lines, `//` and `rem` comments.
    Pooltag,
    /// Comma-separated with a header row naming at least a `tag` column.
    Csv,
    /// Tab-separated with a header row naming at least a `tag` column.
    Tsv,
}

impl ListFormat {
    pub const NAMES: &'static str = "pooltag, csv, tsv";
}

impl fmt::Display for ListFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Pooltag => "pooltag",
            Self::Csv => "csv",
            Self::Tsv => "tsv",
        })
    }
}

impl FromStr for ListFormat {
    type Err = ListError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "pooltag" | "pooltag.txt" | "txt" => Ok(Self::Pooltag),
            "csv" => Ok(Self::Csv),
            "tsv" => Ok(Self::Tsv),
            _ => Err(ListError::UnknownFormat(s.to_owned())),
        }
    }
}

/// One tag → owner row of a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListEntry {
    /// 1-based line number in the list, kept as provenance.
    pub line: usize,
    pub tag: PoolTag,
    /// A wildcard row (`Afd?`, `Aml*`): it describes a family of tags.
    pub is_pattern: bool,
    pub owner: DriverOwner,
    pub description: String,
    pub vendor: Option<String>,
    pub product: Option<String>,
    pub version: Option<String>,
    /// SHA-256 of the binary the row was found in (an exported driver scan).
    pub sha256: Option<String>,
    /// As the row says (an exported knowledge base); `None` for a plain list, which is `list`.
    pub confidence: Option<Confidence>,
    pub provenance: Provenance,
}

/// The columns of the CSV/TSV format, in the order an export writes them. Only `tag` is
/// required; the reader also accepts the aliases in [`parse_delimited`].
pub const LIST_COLUMNS: [&str; 11] = [
    "tag",
    "driver",
    "component",
    "description",
    "vendor",
    "product",
    "version",
    "sha256",
    "confidence",
    "source_url",
    "source_note",
];

/// The longest description stored: a paragraph, not a document. Every page and answer that
/// shows the entry carries it.
pub const MAX_DESCRIPTION_BYTES: usize = 4 * 1024;
/// The longest driver, component, vendor, product or version stored.
pub const MAX_NAME_BYTES: usize = 512;

impl ListEntry {
    /// Why the entry is too large to store (the first field over its limit), if it is.
    fn oversized(&self) -> Option<String> {
        let fields = [
            (
                "description",
                Some(self.description.as_str()),
                MAX_DESCRIPTION_BYTES,
            ),
            ("driver", self.owner.driver.as_deref(), MAX_NAME_BYTES),
            ("component", self.owner.component.as_deref(), MAX_NAME_BYTES),
            ("vendor", self.vendor.as_deref(), MAX_NAME_BYTES),
            ("product", self.product.as_deref(), MAX_NAME_BYTES),
            ("version", self.version.as_deref(), MAX_NAME_BYTES),
        ];
        fields.into_iter().find_map(|(name, value, limit)| {
            let bytes = value?.len();
            (bytes > limit)
                .then(|| format!("the {name} is {bytes} bytes long; the limit is {limit} bytes"))
        })
    }
}

/// A line that was not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SkippedLine {
    pub line: usize,
    pub reason: String,
    /// The start of the line, for the report (at most 200 characters).
    pub text: String,
}

impl SkippedLine {
    /// Quotes at most an excerpt of the line, in the text and in the reason.
    pub(crate) fn new(line: usize, reason: &str, text: &str) -> Self {
        Self {
            line,
            reason: bound_message(reason).into_owned(),
            text: excerpt(text).into_owned(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ParsedList {
    pub format: ListFormat,
    pub entries: Vec<ListEntry>,
    pub skipped: Vec<SkippedLine>,
}

/// Why a whole list was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListError {
    #[error("the list is empty")]
    Empty,
    #[error("the list looks binary (a NUL byte at offset {0}); send a text list")]
    Binary(usize),
    #[error("unknown list format {0:?}; formats understood: {formats}", formats = ListFormat::NAMES)]
    UnknownFormat(String),
    #[error(
        "the {format} header has no tag column (line {line}); expected columns: tag, driver, description, and optionally component, vendor, product, version, sha256, confidence, source_url, source_note"
    )]
    NoTagColumn { format: ListFormat, line: usize },
    #[error("no entries could be read from the list ({skipped} lines skipped; first problem: line {first_line}: {first_reason}); formats understood: {formats}", formats = ListFormat::NAMES)]
    NothingUsable {
        skipped: usize,
        first_line: usize,
        first_reason: String,
    },
}

/// Parses a list, detecting its format unless one is given.
pub fn parse_list(bytes: &[u8], format: Option<ListFormat>) -> Result<ParsedList, ListError> {
    let text = decode_text(bytes)?;
    if text.trim().is_empty() {
        return Err(ListError::Empty);
    }
    let format = format.unwrap_or_else(|| detect_format(&text));
    let parsed = match format {
        ListFormat::Pooltag => parse_pooltag_txt(&text),
        ListFormat::Csv => parse_delimited(&text, b',', format)?,
        ListFormat::Tsv => parse_delimited(&text, b'\t', format)?,
    };
    if parsed.entries.is_empty() {
        let (first_line, first_reason) = parsed
            .skipped
            .first()
            .map(|s| (s.line, s.reason.clone()))
            .unwrap_or((0, "no tag lines".into()));
        return Err(ListError::NothingUsable {
            skipped: parsed.skipped.len(),
            first_line,
            first_reason,
        });
    }
    Ok(parsed)
}

/// UTF-8 (with or without BOM) or, failing that, Windows-1252-ish Latin-1: old lists are not
/// always UTF-8, and a tag byte ≥ 0x80 must survive as that byte.
pub(crate) fn decode_text(bytes: &[u8]) -> Result<String, ListError> {
    // UTF-16 (a list saved by PowerShell 5 or Notepad's "Unicode"), as snapshots are read.
    if let Some((order, text)) = utf16::detect(bytes) {
        return Ok(utf16::decode(text, order));
    }
    if let Some(pos) = bytes.iter().position(|&b| b == 0) {
        return Err(ListError::Binary(pos));
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    Ok(match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    })
}

fn detect_format(text: &str) -> ListFormat {
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !is_comment(l))
        .unwrap_or("");
    let lower = first.to_ascii_lowercase();
    let names_tag = |sep: char| {
        lower
            .split(sep)
            .any(|c| TAG_HEADERS.contains(&c.trim().trim_matches('"')))
    };
    // A pooltag.txt row has a dash after the tag; a header row of a table has none there.
    let looks_like_pooltag_row = parse_pooltag_line(first).is_ok();
    if first.contains('\t') && (names_tag('\t') || !looks_like_pooltag_row) {
        ListFormat::Tsv
    } else if first.contains(',') && (names_tag(',') || !looks_like_pooltag_row) {
        ListFormat::Csv
    } else {
        ListFormat::Pooltag
    }
}

pub(crate) fn is_comment(line: &str) -> bool {
    let line = line.trim_start();
    if line.starts_with("//") || line.starts_with('#') || line.starts_with(';') {
        return true;
    }
    // `rem`, `REM` and `Rem` comment lines, but not a tag such as `Rem1`, nor the row of a
    // tag `rem` (`rem  - drv.sys - text`: a dash and a space after it, as no comment has).
    let rest = line.get(3..).unwrap_or("");
    let row = rest
        .trim_start()
        .strip_prefix('-')
        .is_some_and(|r| r.starts_with(char::is_whitespace));
    line.get(..3).is_some_and(|w| w.eq_ignore_ascii_case("rem"))
        && rest.chars().next().is_none_or(char::is_whitespace)
        && !row
}

/// A reader of a table with a header row, the header's line (1-based), the bytes from the
/// header on, and its column names,
/// lower-case: comment and blank lines before the header are allowed; the header is the first
/// other line.
#[allow(clippy::type_complexity)]
pub(crate) fn table_reader(
    text: &str,
    delimiter: u8,
) -> (usize, &[u8], csv::Reader<&[u8]>, Vec<String>) {
    let mut body_offset = 0;
    let mut header_line = 0;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        if line.trim().is_empty() || is_comment(line) {
            body_offset += line.len();
            continue;
        }
        header_line = index + 1;
        break;
    }
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(true)
        .from_reader(&text.as_bytes()[body_offset..]);
    let body = &text.as_bytes()[body_offset..];
    let headers: Vec<String> = reader
        .headers()
        .map(|h| h.iter().map(|c| c.trim().to_ascii_lowercase()).collect())
        .unwrap_or_default();
    (header_line, body, reader, headers)
}

/// A table's rows with their line numbers in the file; a row the CSV reader cannot read is
/// reported in `unreadable` and left out.
pub(crate) fn table_rows<'r, R: std::io::Read>(
    reader: &'r mut csv::Reader<R>,
    header_line: usize,
    format: impl fmt::Display + 'r,
    unreadable: &'r mut Vec<SkippedLine>,
) -> impl Iterator<Item = (usize, csv::StringRecord)> + 'r {
    let line_of =
        move |p: Option<&csv::Position>| p.map_or(0, |p| p.line() as usize + header_line - 1);
    reader.records().filter_map(move |record| match record {
        Ok(record) => Some((line_of(record.position()), record)),
        Err(error) => {
            unreadable.push(SkippedLine::new(
                line_of(error.position()),
                &format!("unreadable {format} row: {error}"),
                "",
            ));
            None
        }
    })
}

/// A CSV/TSV row as one line of text, for a skipped-line report.
fn row_text(record: &csv::StringRecord) -> String {
    record.iter().collect::<Vec<_>>().join(",")
}

/// Reads `pooltag.txt`: `Tag - binary - description`, two-field rows `Tag - description`,
/// padded short tags, `<unknown>`/`<multiple>` owners, `nt!mm` style owners, and several
/// binaries joined with `or`.
fn parse_pooltag_txt(text: &str) -> ParsedList {
    let mut entries = Vec::new();
    let mut skipped = Vec::new();
    for (index, raw) in text.split('\n').enumerate() {
        let line_no = index + 1;
        let line = raw.trim_end_matches(['\r', '\x1a']).trim_end();
        if line.trim().is_empty() || is_comment(line) {
            continue;
        }
        match parse_pooltag_line(line) {
            Ok((tag, owners, description)) => {
                let is_pattern = TagPattern::parse(&tag.trimmed()).is_some();
                let row: Vec<ListEntry> = owners
                    .into_iter()
                    .map(|owner| ListEntry {
                        line: line_no,
                        tag,
                        is_pattern,
                        owner,
                        description: description.clone(),
                        vendor: None,
                        product: None,
                        version: None,
                        sha256: None,
                        confidence: None,
                        provenance: Provenance::default(),
                    })
                    .collect();
                match row.iter().find_map(ListEntry::oversized) {
                    Some(reason) => skipped.push(SkippedLine::new(line_no, &reason, line)),
                    None => entries.extend(row),
                }
            }
            Err(reason) => skipped.push(SkippedLine::new(line_no, &reason, line)),
        }
    }
    ParsedList {
        format: ListFormat::Pooltag,
        entries,
        skipped,
    }
}

type PooltagRow = (PoolTag, Vec<DriverOwner>, String);

fn parse_pooltag_line(line: &str) -> Result<PooltagRow, String> {
    if line.starts_with(char::is_whitespace) {
        return Err("continuation line without a tag (indented text)".into());
    }
    // Usually the tag is the first four characters, blanks included (`Dh 0 - `, `Cc   - `,
    // `eMyS-  win32k`). A short tag written without its padding (`Io - nt!io`) is the run of
    // non-blank characters before the dash.
    let first_four: String = line.chars().take(4).collect();
    let after_four = line[first_four.len()..].trim_start();
    let (tag_text, rest) = if first_four.chars().count() == 4
        && !first_four.contains('-')
        && after_four.starts_with('-')
    {
        (first_four, after_four)
    } else {
        let word: String = line
            .chars()
            .take_while(|c| !c.is_whitespace())
            .take(4)
            .collect();
        let rest = line[word.len()..].trim_start();
        (word, rest)
    };
    let Some(rest) = rest.strip_prefix('-') else {
        return Err(format!(
            "expected ' - ' after the tag {tag_text:?} (format: <Tag> - <binary> - <description>)"
        ));
    };
    let tag = PoolTag::parse(&tag_text).map_err(|e| e.to_string())?;
    let rest = rest.trim();
    // The binary and the description are split at the next dash that follows a blank
    // (`nt!cm        -internal registry`); descriptions themselves may hold dashes.
    let split = rest
        .char_indices()
        .find(|&(i, c)| c == '-' && i > 0 && rest[..i].ends_with(char::is_whitespace));
    let (binary, description) = match split {
        Some((i, _)) => (rest[..i].trim(), rest[i + 1..].trim()),
        // Two-field rows (`ATmp - AppTag mount point`) name no binary.
        None => ("", rest),
    };
    if binary.is_empty() && description.is_empty() {
        return Err(format!(
            "tag {tag_text:?} has neither a binary nor a description"
        ));
    }
    let owners = binary
        .split(" or ")
        .map(DriverOwner::from_list_field)
        .collect();
    Ok((tag, owners, collapse_spaces(description)))
}

fn collapse_spaces(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

const TAG_HEADERS: &[&str] = &["tag", "pooltag", "pool tag", "pool_tag"];

/// Reads CSV/TSV with a header row; column names are matched case-insensitively.
fn parse_delimited(text: &str, delimiter: u8, format: ListFormat) -> Result<ParsedList, ListError> {
    let (header_line, body, mut reader, headers) = table_reader(text, delimiter);
    let column = |names: &[&str]| headers.iter().position(|h| names.contains(&h.as_str()));
    let Some(tag_col) = column(TAG_HEADERS) else {
        return Err(ListError::NoTagColumn {
            format,
            line: header_line,
        });
    };
    let driver_col = column(&[
        "driver",
        "binary",
        "binary-name",
        "file",
        "driver file",
        "module",
    ]);
    let component_col = column(&["component", "owner"]);
    let description_col = column(&["description", "desc", "comment"]);
    let vendor_col = column(&["vendor", "company", "manufacturer", "companyname"]);
    let product_col = column(&["product", "productname"]);
    let version_col = column(&["version", "fileversion", "driver version"]);
    let sha256_col = column(&["sha256", "sha-256"]);
    let confidence_col = column(&["confidence"]);
    let source_url_col = column(&["source_url", "source url", "url"]);
    let source_note_col = column(&["source_note", "source note", "note"]);

    let mut entries = Vec::new();
    let mut skipped = Vec::new();
    let mut unreadable = Vec::new();
    for (line, record) in table_rows(&mut reader, header_line, format, &mut unreadable) {
        let field = |col: Option<usize>| {
            col.and_then(|c| record.get(c))
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let raw_tag = record.get(tag_col).unwrap_or("");
        // A comment is a line that starts with a comment marker, not a quoted field that does
        // (an exported tag `#abc` is written `"#abc"`).
        let row_start = record
            .position()
            .and_then(|p| body.get(p.byte() as usize..))
            .map(|rest| String::from_utf8_lossy(&rest[..rest.len().min(8)]).into_owned());
        let row_start = row_start.as_deref().unwrap_or(raw_tag);
        if record.iter().all(|f| f.trim().is_empty()) || is_comment(row_start) {
            continue;
        }
        // Leading blanks are part of a tag only when quoted; unquoted CSV often has `a, b`.
        let tag_text = raw_tag.trim_end();
        let tag = match PoolTag::parse(tag_text) {
            Ok(tag) => tag,
            Err(error) => {
                skipped.push(SkippedLine::new(
                    line,
                    &error.to_string(),
                    &row_text(&record),
                ));
                continue;
            }
        };
        let driver = field(driver_col);
        let component = field(component_col);
        let description = field(description_col).unwrap_or_default();
        if driver.is_none() && component.is_none() && description.is_empty() {
            skipped.push(SkippedLine::new(
                line,
                &format!("tag {tag} has no driver, component or description"),
                &row_text(&record),
            ));
            continue;
        }
        let checked = (|| -> Result<_, String> {
            Ok((
                field(sha256_col).map(checked_sha256).transpose()?,
                field(confidence_col)
                    .map(|c| c.parse::<Confidence>())
                    .transpose()?,
                field(source_url_col).map(checked_url).transpose()?,
            ))
        })();
        let (sha256, confidence, source_url) = match checked {
            Ok(values) => values,
            Err(reason) => {
                skipped.push(SkippedLine {
                    line,
                    reason: format!("tag {tag}: {reason}"),
                    text: row_text(&record),
                });
                continue;
            }
        };
        let mut owner = DriverOwner::from_list_field(driver.as_deref().unwrap_or("<unknown>"));
        if component.is_some() {
            owner.component = component;
        }
        let entry = ListEntry {
            line,
            tag,
            is_pattern: TagPattern::parse(&tag.trimmed()).is_some(),
            owner,
            description: collapse_spaces(&description),
            vendor: field(vendor_col),
            product: field(product_col),
            version: field(version_col),
            sha256,
            confidence,
            provenance: Provenance {
                source_url,
                source_note: field(source_note_col).map(|n| collapse_spaces(&n)),
                uploaded_as: None,
                signature: None,
            },
        };
        match entry.oversized() {
            Some(reason) => skipped.push(SkippedLine::new(line, &reason, &row_text(&record))),
            None => entries.push(entry),
        }
    }
    skipped.append(&mut unreadable);
    skipped.sort_by_key(|s| s.line);
    Ok(ParsedList {
        format,
        entries,
        skipped,
    })
}

/// A SHA-256 as 64 hex digits, stored lower-case.
fn checked_sha256(text: String) -> Result<String, String> {
    if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(text.to_ascii_lowercase())
    } else {
        Err(format!("sha256 {:?} is not 64 hex digits", excerpt(&text)))
    }
}

/// A source link is shown on pages as a link, so only a plain http(s) URL is taken (never
/// `javascript:` or `data:`).
pub(crate) fn checked_url(text: String) -> Result<String, String> {
    const MAX_URL_BYTES: usize = 2_000;
    let scheme_ok = ["https://", "http://"].iter().any(|scheme| {
        text.get(..scheme.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
    });
    if scheme_ok
        && text.len() <= MAX_URL_BYTES
        && !text.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        Ok(text)
    } else {
        Err(format!(
            "source_url {:?} is not an http(s) URL of at most {MAX_URL_BYTES} bytes",
            excerpt(&text)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tag(s: &str) -> PoolTag {
        PoolTag::parse(s).unwrap()
    }

    const SAMPLE: &str = "//\r\n//  Copyright\r\nrem\r\nREM    Pooltag.txt\r\n\r\n\
Cc   - nt!cc        - Cache Manager allocations\r\n\
AfdB - afd.sys      -     Afd data buffer\r\n\
Afd? - afd.sys      - AFD objects\r\n\
ATmp - AppTag mount point\r\n\
I4e -  tcpip.sys    - IPv4 Echo data\r\n\
Dh 1 - <unknown>    - DirectDraw/3D DirectDraw object\r\n\
Io - nt!io - unpadded short tag\r\n\
eMyS-  win32k!CInputSystemMetrics::operator new - SYSTEMMETRICS_TAG\r\n\
CMAl - nt!cm        -internal registry memory allocator pool tag\r\n\
smCR - nt!store or rdyboost.sys - ReadyBoost encryption allocation\r\n\
CKRT - <multiple>   - Cluster Kernel RTL library\r\n\
       <unknown>\r\n\
QUIC Allocation tags are Qc00 through QcFF\r\n\
Clfs - clfs.sys     - CLFS General buffer, or owner - page lookaside list\r\n\x1a";

    #[test]
    fn reads_every_quirk_of_pooltag_txt() {
        let list = parse_list(SAMPLE.as_bytes(), None).unwrap();
        assert_eq!(list.format, ListFormat::Pooltag);
        let by_tag = |t: &str| {
            list.entries
                .iter()
                .filter(|e| e.tag == tag(t))
                .collect::<Vec<_>>()
        };
        let cc = by_tag("Cc");
        assert_eq!(cc.len(), 1);
        assert_eq!(cc[0].line, 6);
        assert_eq!(cc[0].owner.driver.as_deref(), Some("ntoskrnl.exe"));
        assert_eq!(cc[0].owner.component.as_deref(), Some("nt!cc"));
        assert_eq!(cc[0].description, "Cache Manager allocations");
        assert_eq!(by_tag("AfdB")[0].description, "Afd data buffer");
        assert!(by_tag("Afd?")[0].is_pattern);
        let atmp = by_tag("ATmp");
        assert_eq!(atmp[0].owner.driver, None);
        assert_eq!(atmp[0].description, "AppTag mount point");
        assert_eq!(by_tag("I4e ")[0].owner.driver.as_deref(), Some("tcpip.sys"));
        let emys = by_tag("eMyS");
        assert_eq!(emys[0].owner.driver.as_deref(), Some("win32k.sys"));
        assert_eq!(
            emys[0].owner.component.as_deref(),
            Some("win32k!CInputSystemMetrics::operator new")
        );
        assert_eq!(
            by_tag("CMAl")[0].description,
            "internal registry memory allocator pool tag"
        );
        let sm = by_tag("smCR");
        assert_eq!(sm.len(), 2, "one entry per binary of `a or b`");
        assert_eq!(sm[1].owner.driver.as_deref(), Some("rdyboost.sys"));
        assert_eq!(by_tag("CKRT")[0].owner.driver, None);
        assert_eq!(
            by_tag("Clfs")[0].description,
            "CLFS General buffer, or owner - page lookaside list"
        );
        assert_eq!(
            by_tag("Dh 1")[0].description,
            "DirectDraw/3D DirectDraw object"
        );
        assert_eq!(by_tag("Io")[0].description, "unpadded short tag");
        let reasons: Vec<usize> = list.skipped.iter().map(|s| s.line).collect();
        assert_eq!(reasons, vec![17, 18], "{:?}", list.skipped);
        assert!(list.skipped[1].reason.contains("expected ' - '"));
    }

    #[test]
    fn reads_csv_with_quoted_padded_tags_and_optional_columns() {
        let csv = "tag,driver,description,vendor\n\"Io  \",ntoskrnl.exe,\"I/O manager, general\",Microsoft\nLkaL,lkal.sys,Leaky,\nbadtag!,x.sys,too long\n";
        let list = parse_list(csv.as_bytes(), None).unwrap();
        assert_eq!(list.format, ListFormat::Csv);
        assert_eq!(list.entries.len(), 2);
        assert_eq!(list.entries[0].tag, tag("Io"));
        assert_eq!(list.entries[0].vendor.as_deref(), Some("Microsoft"));
        assert_eq!(list.entries[0].description, "I/O manager, general");
        assert_eq!(list.entries[1].line, 3);
        assert_eq!(list.entries[1].vendor, None);
        assert_eq!(list.skipped.len(), 1);
        assert_eq!(list.skipped[0].line, 4);
        assert!(list.skipped[0].reason.contains("at most 4"));
    }

    #[test]
    fn reads_tsv() {
        let tsv = "Tag\tDriver\tDescription\nNtfF\tntfs.sys\tFCB\n";
        let list = parse_list(tsv.as_bytes(), None).unwrap();
        assert_eq!(list.format, ListFormat::Tsv);
        assert_eq!(list.entries[0].owner.driver.as_deref(), Some("ntfs.sys"));
    }

    #[test]
    fn refuses_lists_with_nothing_usable() {
        assert_eq!(parse_list(b"", None).unwrap_err(), ListError::Empty);
        assert_eq!(parse_list(b"  \r\n", None).unwrap_err(), ListError::Empty);
        assert!(matches!(
            parse_list(b"MZ\x90\x00\x03", None).unwrap_err(),
            ListError::Binary(3)
        ));
        let err = parse_list(b"hello world\nthis is not a list\n", None).unwrap_err();
        assert!(
            matches!(err, ListError::NothingUsable { first_line: 1, .. }),
            "{err}"
        );
        let err = parse_list(b"name,driver\nx,y\n", Some(ListFormat::Csv)).unwrap_err();
        assert!(matches!(err, ListError::NoTagColumn { .. }));
    }

    #[test]
    fn a_tag_named_rem_is_a_row_and_rem_lines_are_comments() {
        let list = parse_list(
            b"rem\nREM    Pooltag.txt\nrem ----\nrem  - drv.sys - d\n",
            None,
        )
        .unwrap();
        assert_eq!(list.entries.len(), 1);
        assert_eq!(list.entries[0].tag.to_string(), "rem ");
        assert!(list.skipped.is_empty(), "{:?}", list.skipped);
    }

    #[test]
    fn latin1_bytes_survive_as_tag_bytes() {
        let list = parse_list(b"Ab\xe9d - x.sys - accented\n", None).unwrap();
        assert_eq!(list.entries[0].tag.bytes(), &[b'A', b'b', 0xe9, b'd']);
    }

    proptest! {
        #[test]
        fn arbitrary_input_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse_list(&bytes, None);
            let _ = parse_list(&bytes, Some(ListFormat::Csv));
            let _ = parse_list(&bytes, Some(ListFormat::Tsv));
        }

        #[test]
        fn line_shaped_input_never_panics(lines in proptest::collection::vec("[ -~\t]{0,60}", 0..30)) {
            let text = lines.join("\r\n");
            if let Ok(list) = parse_list(text.as_bytes(), None) {
                for entry in &list.entries {
                    prop_assert!(entry.line >= 1 && entry.line <= lines.len());
                }
            }
        }

        #[test]
        fn every_well_formed_row_is_read(tags in proptest::collection::vec("[A-Za-z0-9]{1,4}", 1..40)) {
            let text: String = tags.iter().map(|t| format!("{t:<4} - drv.sys - d\n")).collect();
            let list = parse_list(text.as_bytes(), None).unwrap();
            prop_assert_eq!(list.entries.len(), tags.len());
            prop_assert!(list.skipped.is_empty());
            for (entry, text) in list.entries.iter().zip(&tags) {
                prop_assert_eq!(entry.tag, PoolTag::parse(text).unwrap());
            }
        }
    }
}
