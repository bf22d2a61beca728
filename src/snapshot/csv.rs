//! CSV / TSV (and semicolon-separated, as European Excel writes) with a header row.
//!
//! Lines before the header are skipped: PowerShell `Export-Csv`'s `#TYPE ...` line, a prompt,
//! a title. The header is the first line whose cells name a tag column.

use super::columns::{Columns, TableSink, is_tag_header};
use super::text::Input;
use super::{Ctx, Snapshot, SnapshotError};

/// The delimiter a header line uses, if it names a tag column.
fn header_delimiter(t: &str) -> Option<u8> {
    let best = [b'\t', b',', b';']
        .into_iter()
        .map(|d| (d, t.bytes().filter(|&b| b == d).count()))
        .filter(|&(_, n)| n > 0)
        .max_by_key(|&(_, n)| n)?
        .0;
    t.split(char::from(best)).any(is_tag_header).then_some(best)
}

/// A delimited line naming a tag column.
pub(crate) fn looks_like_header(t: &str) -> bool {
    !t.starts_with('|') && header_delimiter(t).is_some()
}

pub(crate) fn parse(input: &Input<'_>, ctx: &mut Ctx) -> Result<Vec<Snapshot>, SnapshotError> {
    let text = input.text();
    // Find the header line (within the first 100 non-blank lines) and its byte offset.
    let mut offset = 0;
    let mut found = None;
    let mut nonblank = 0;
    for (n, line) in input.lines() {
        let t = line.trim();
        if !t.is_empty() && !t.starts_with('#') {
            nonblank += 1;
            if let Some(d) = header_delimiter(t) {
                found = Some((n, d));
                break;
            }
            if nonblank > 100 {
                break;
            }
        }
        offset += line.len();
        // Skip the line ending as written (`\r\n`, `\n` or `\r`).
        let rest = &text.as_bytes()[offset.min(text.len())..];
        if rest.starts_with(b"\r\n") {
            offset += 2;
        } else if !rest.is_empty() {
            offset += 1;
        }
    }
    let Some((header_line, delim)) = found else {
        return Ok(Vec::new());
    };
    let body = text.get(offset..).unwrap_or("");
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delim)
        .has_headers(false)
        .flexible(true)
        .from_reader(body.as_bytes());
    let mut columns: Option<Columns> = None;
    let mut sink = TableSink::default();
    let mut record = csv::StringRecord::new();
    loop {
        if ctx.full() {
            break;
        }
        let line = header_line + reader.position().line().saturating_sub(1) as usize;
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                ctx.warn(line, format!("unreadable CSV record: {e}"));
                continue;
            }
        }
        let cells: Vec<&str> = record.iter().collect();
        match &columns {
            None => match Columns::from_headers(&cells) {
                Ok(c) => columns = Some(c),
                Err(msg) => {
                    return Err(SnapshotError::new(
                        Some(header_line),
                        format!("CSV header: {msg}"),
                    ));
                }
            },
            Some(c) => c.add_row(&cells, line, ctx, &mut sink),
        }
    }
    let mut out = Vec::new();
    for s in sink.take() {
        ctx.push_snapshot(&mut out, s, header_line);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{ParseOptions, PoolKind};

    #[test]
    fn split_paged_nonpaged_columns() {
        let text = "#TYPE System.Management.Automation.PSCustomObject\n\
            \"Tag\",\"PagedAllocs\",\"PagedFrees\",\"PagedUsed\",\"NonPagedAllocs\",\"NonPagedFrees\",\"NonPagedUsed\"\n\
            \"Io\",\"0\",\"0\",\"0\",\"1021112\",\"1020985\",\"91912\"\n\
            \"Key \",\"954821\",\"953979\",\"87528\",\"0\",\"0\",\"0\"\n";
        let mut ctx = Ctx::new(&ParseOptions::default());
        let s = parse(&Input::from_str(text), &mut ctx).unwrap();
        assert!(ctx.warnings.is_empty(), "{:?}", ctx.warnings);
        let rows = &s[0].rows;
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].pool, PoolKind::NonPaged);
        assert_eq!(rows[0].bytes, 91912);
        assert_eq!(rows[0].allocs, Some(1_021_112));
        assert_eq!(rows[1].tag.to_string(), "Key ");
        assert_eq!(rows[1].pool, PoolKind::Paged);
    }
}
