//! Files of known causes: CSV with a header row, one case a row, as `data/known_causes.csv`
//! and `GET /api/v1/causes/export` write them (RFC 4180; comment lines before the header are
//! allowed). A row that cannot be read is skipped with its line and reason; the rest import.

use crate::driver::normalize_driver_name;
use crate::excerpt::excerpt;
use crate::pooltag_list::{
    SkippedLine, checked_url, decode_text, is_comment, table_reader, table_rows,
};
use crate::tag::PoolTag;

use super::versions::{VersionRange, is_version};
use super::{CauseError, CausePool, KnownCause, VersionsOf};

/// The columns, in the order an export writes them. `id`, `tags`, `url` and `summary` are
/// required; `source` is written by an export and ignored by an import (the import names the
/// source).
pub const CAUSE_COLUMNS: [&str; 15] = [
    "id",
    "tags",
    "pool",
    "driver",
    "application",
    "vendor",
    "versions_of",
    "affected_versions",
    "fixed_version",
    "workaround",
    "signature",
    "url",
    "fix_url",
    "summary",
    "source",
];

const REQUIRED: [&str; 4] = ["id", "tags", "url", "summary"];
/// Tags are separated by `|` in the tags column (a tag may end in blanks: `Mdl |Irp `).
const TAG_SEPARATOR: char = '|';
const MAX_TAGS: usize = 16;
const MAX_FIELD_BYTES: usize = 2_000;
const MAX_ID_BYTES: usize = 100;
/// More cases than any curated file holds; a bigger upload is a mistake.
const MAX_CASES: usize = 20_000;

/// What a file of known causes held.
#[derive(Debug, Clone)]
pub struct ParsedCauses {
    pub cases: Vec<KnownCause>,
    pub skipped: Vec<SkippedLine>,
}

/// Whether a fetched body is a file of known causes rather than a tag list: its header names
/// the `id`, `tags` and `summary` columns.
pub fn looks_like_causes(bytes: &[u8]) -> bool {
    let Ok(text) = decode_text(bytes) else {
        return false;
    };
    let Some(header) = text
        .lines()
        .find(|l| !l.trim().is_empty() && !is_comment(l))
    else {
        return false;
    };
    let columns: Vec<String> = header
        .split(',')
        .map(|c| c.trim().trim_matches('"').to_ascii_lowercase())
        .collect();
    ["id", "tags", "summary"]
        .iter()
        .all(|c| columns.iter().any(|h| h == c))
}

/// Reads a file of known causes; every case gets `source` as its source.
pub fn parse_causes(bytes: &[u8], source: &str) -> Result<ParsedCauses, CauseError> {
    let text = decode_text(bytes).map_err(|e| match e {
        crate::pooltag_list::ListError::Binary(at) => CauseError::Binary(at),
        _ => CauseError::Empty,
    })?;
    if text.trim().is_empty() {
        return Err(CauseError::Empty);
    }
    let (header_line, _, mut reader, headers) = table_reader(&text, b',');
    let missing: Vec<&'static str> = REQUIRED
        .into_iter()
        .filter(|r| !headers.iter().any(|h| h == r))
        .collect();
    if !missing.is_empty() {
        return Err(CauseError::MissingColumns {
            line: header_line,
            missing,
        });
    }
    let column = |name: &str| headers.iter().position(|h| h == name);
    let columns: Vec<Option<usize>> = CAUSE_COLUMNS.iter().map(|c| column(c)).collect();
    let mut cases: Vec<KnownCause> = Vec::new();
    let mut skipped = Vec::new();
    let mut unreadable = Vec::new();
    for (line, record) in table_rows(&mut reader, header_line, "CSV", &mut unreadable) {
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let raw = |name: &str| {
            CAUSE_COLUMNS
                .iter()
                .position(|c| *c == name)
                .and_then(|i| columns[i])
                .and_then(|c| record.get(c))
                .unwrap_or("")
        };
        if cases.len() >= MAX_CASES {
            skipped.push(SkippedLine::new(
                line,
                &format!("more than {MAX_CASES} cases; the rest of the file is not read"),
                "",
            ));
            break;
        }
        match read_case(&raw, source, line) {
            Ok(case) if cases.iter().any(|c| c.id == case.id) => skipped.push(SkippedLine::new(
                line,
                &format!("the id {:?} is used by an earlier row", case.id),
                &record.iter().collect::<Vec<_>>().join(","),
            )),
            Ok(case) => cases.push(case),
            Err(reason) => skipped.push(SkippedLine::new(
                line,
                &reason,
                &record.iter().collect::<Vec<_>>().join(","),
            )),
        }
    }
    skipped.append(&mut unreadable);
    skipped.sort_by_key(|s| s.line);
    if cases.is_empty() {
        let (first_line, first_reason) = skipped
            .first()
            .map(|s| (s.line, s.reason.clone()))
            .unwrap_or((header_line, "no rows after the header".into()));
        return Err(CauseError::NothingUsable {
            skipped: skipped.len(),
            first_line,
            first_reason,
        });
    }
    Ok(ParsedCauses { cases, skipped })
}

/// One row as a case, or why it is not one.
fn read_case<'r>(
    raw: &impl Fn(&str) -> &'r str,
    source: &str,
    line: usize,
) -> Result<KnownCause, String> {
    for name in CAUSE_COLUMNS {
        let bytes = raw(name).len();
        if bytes > MAX_FIELD_BYTES {
            return Err(format!(
                "the {name} is {bytes} bytes long; the limit is {MAX_FIELD_BYTES} bytes"
            ));
        }
    }
    let text = |name: &str| {
        Some(raw(name).trim())
            .filter(|t| !t.is_empty())
            .map(collapse)
    };
    let id = raw("id").trim();
    if id.is_empty()
        || id.len() > MAX_ID_BYTES
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-:+".contains(&b))
    {
        return Err(format!(
            "id {:?} must be 1-{MAX_ID_BYTES} letters, digits and . _ - : +",
            excerpt(id)
        ));
    }
    let tags = read_tags(raw("tags"))?;
    let pool = CausePool::parse(raw("pool")).ok_or_else(|| {
        format!(
            "pool {:?} is not nonpaged, paged or either",
            excerpt(raw("pool"))
        )
    })?;
    let driver = match text("driver") {
        Some(d) if d.contains(char::is_whitespace) || !d.contains('.') => {
            return Err(format!(
                "driver {:?} is not a file name (wcifs.sys); put an application in the application column",
                excerpt(&d)
            ));
        }
        d => d.map(|d| normalize_driver_name(&d)),
    };
    let versions_of = VersionsOf::parse(raw("versions_of"));
    let affected_versions = text("affected_versions");
    let fixed_version = text("fixed_version");
    if versions_of.is_none() && (affected_versions.is_some() || fixed_version.is_some()) {
        return Err("versions are given but not what they count: set versions_of (file, windows or the product's name)".into());
    }
    if versions_of == Some(VersionsOf::File) {
        if let Some(affected) = &affected_versions {
            VersionRange::parse(affected).map_err(|e| format!("affected_versions: {e}"))?;
        }
        if let Some(fixed) = fixed_version.as_deref().filter(|f| !is_version(f)) {
            return Err(format!(
                "fixed_version {:?} is not a version (numbers and dots) though versions_of is file",
                excerpt(fixed)
            ));
        }
    }
    let url = checked_url(raw("url").trim().to_owned())
        .map_err(|_| format!("url {:?} is not an http(s) URL", excerpt(raw("url"))))?;
    let fix_url = text("fix_url")
        .map(|u| {
            checked_url(u.clone())
                .map_err(|_| format!("fix_url {:?} is not an http(s) URL", excerpt(&u)))
        })
        .transpose()?;
    let summary = text("summary").ok_or("the summary is empty")?;
    Ok(KnownCause {
        id: id.to_owned(),
        tags,
        pool,
        driver,
        application: text("application"),
        vendor: text("vendor"),
        versions_of,
        affected_versions,
        fixed_version,
        workaround: text("workaround"),
        signature: text("signature"),
        url,
        fix_url,
        summary,
        source: source.to_owned(),
        line: line as u64,
    })
}

/// The tags column: exact tags separated by `|`; blanks inside a tag are part of it.
fn read_tags(field: &str) -> Result<Vec<PoolTag>, String> {
    let mut tags = Vec::new();
    for part in field.split(TAG_SEPARATOR) {
        // Leading blanks are the CSV's, trailing ones the tag's (`Mdl `).
        let part = part.trim_start();
        if part.trim().is_empty() {
            continue;
        }
        let tag = PoolTag::parse(part).map_err(|e| format!("tags: {e}"))?;
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    if tags.is_empty() {
        return Err("no tag in the tags column".into());
    }
    if tags.len() > MAX_TAGS {
        return Err(format!(
            "{} tags; a case names at most {MAX_TAGS}",
            tags.len()
        ));
    }
    Ok(tags)
}

/// Runs of blanks (and line breaks a spreadsheet added) as one space.
fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Writes cases as CSV, header on the first line, in the columns [`CAUSE_COLUMNS`] names: what
/// a spreadsheet opens as is and what [`parse_causes`] reads back.
pub fn write_causes<'a>(cases: impl IntoIterator<Item = &'a KnownCause>) -> String {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    // Writing to a Vec cannot fail.
    let _ = writer.write_record(CAUSE_COLUMNS);
    for case in cases {
        let tags: Vec<String> = case.tags.iter().map(|t| t.to_string()).collect();
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        let _ = writer.write_record([
            case.id.clone(),
            tags.join("|"),
            case.pool.as_str().to_owned(),
            opt(&case.driver),
            opt(&case.application),
            opt(&case.vendor),
            case.versions_of
                .as_ref()
                .map(|v| v.as_str().to_owned())
                .unwrap_or_default(),
            opt(&case.affected_versions),
            opt(&case.fixed_version),
            opt(&case.workaround),
            opt(&case.signature),
            case.url.clone(),
            opt(&case.fix_url),
            case.summary.clone(),
            case.source.clone(),
        ]);
    }
    String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HEADER: &str = "id,tags,pool,driver,application,vendor,versions_of,affected_versions,fixed_version,workaround,signature,url,fix_url,summary\n";

    #[test]
    fn reads_tags_with_trailing_blanks_and_comments_before_the_header() {
        let text = format!(
            "# a comment\n{HEADER}a,\"Mdl |Irp \",nonpaged,NetKVM.sys,,Red Hat,file,\"=1.0\",1.1,,,https://example.org/a,,frees nothing\n"
        );
        let parsed = parse_causes(text.as_bytes(), "mine").unwrap();
        assert!(parsed.skipped.is_empty(), "{:?}", parsed.skipped);
        let case = &parsed.cases[0];
        assert_eq!(
            case.tags,
            vec![
                PoolTag::parse("Mdl ").unwrap(),
                PoolTag::parse("Irp ").unwrap()
            ]
        );
        assert_eq!(case.driver.as_deref(), Some("netkvm.sys"));
        assert_eq!(case.line, 3);
        assert_eq!(case.source, "mine");
        assert_eq!(case.fixed_file_version(), Some("1.1"));
    }

    #[test]
    fn bad_rows_are_skipped_with_their_reason() {
        let text = format!(
            "{HEADER}ok,Abcd,paged,,app,,,,,,,https://example.org/,,fine\n\
             nourl,Abcd,paged,,app,,,,,,,javascript:alert(1),,bad\n\
             badtag,Toolong,paged,,app,,,,,,,https://example.org/,,bad\n\
             badpool,Abcd,lake,,app,,,,,,,https://example.org/,,bad\n\
             badrange,Abcd,paged,x.sys,,,file,Windows 10,,,,https://example.org/,,bad\n\
             ok,Abcd,paged,,app,,,,,,,https://example.org/,,again\n"
        );
        let parsed = parse_causes(text.as_bytes(), "s").unwrap();
        assert_eq!(parsed.cases.len(), 1);
        let reasons: Vec<&str> = parsed.skipped.iter().map(|s| s.reason.as_str()).collect();
        assert_eq!(parsed.skipped.len(), 5, "{reasons:?}");
        assert!(reasons[0].contains("url"));
        assert!(reasons[1].contains("tags"));
        assert!(reasons[2].contains("pool"));
        assert!(reasons[3].contains("affected_versions"));
        assert!(reasons[4].contains("earlier row"));
    }

    #[test]
    fn a_file_without_the_required_columns_is_refused() {
        let err = parse_causes(b"tag,driver\nAbcd,x.sys\n", "s").unwrap_err();
        assert!(matches!(err, CauseError::MissingColumns { .. }), "{err}");
        assert!(err.to_string().contains("id, tags, url, summary"), "{err}");
    }

    #[test]
    fn export_reads_back_the_same_cases() {
        let text = format!(
            "{HEADER}x,\"Pp  |Io  \",either,a.sys,\"app, with comma\",V,Npcap,\"=0.9995\",0.9996,\"say \"\"stop\"\"\",sig,https://example.org/x,https://example.org/fix,one line\n"
        );
        let first = parse_causes(text.as_bytes(), "s").unwrap().cases;
        let exported = write_causes(&first);
        assert!(exported.starts_with("id,tags,pool,"), "{exported}");
        let again = parse_causes(exported.as_bytes(), "s").unwrap().cases;
        assert_eq!(first.len(), again.len());
        assert_eq!(first[0].tags, again[0].tags);
        assert_eq!(
            (first[0].id.as_str(), first[0].workaround.as_deref()),
            (again[0].id.as_str(), again[0].workaround.as_deref())
        );
        assert!(looks_like_causes(exported.as_bytes()));
        assert!(!looks_like_causes(
            b"tag,driver,description\nAbcd,a.sys,x\n"
        ));
    }

    proptest! {
        #[test]
        fn arbitrary_input_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let mut input = HEADER.as_bytes().to_vec();
            input.extend(bytes);
            let _ = parse_causes(&input, "s");
        }
    }
}
