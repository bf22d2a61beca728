//! PowerShell `Format-Table` text: a header row, a row of dash groups giving the column
//! spans, then the rows (until a blank line). Several tables give several snapshots; a
//! timestamp line just above a table (e.g. `Get-Date` output) dates it.

use super::columns::{Columns, TableSink};
use super::text::{Input, parse_timestamp};
use super::{Ctx, Snapshot, SnapshotError};

/// Wider tables are not pool tables (and would make row assignment slow).
const MAX_COLUMNS: usize = 256;

/// `---  ----------- ----------`: two or more dash groups.
pub(crate) fn is_dashes(t: &str) -> bool {
    let t = t.trim();
    !t.is_empty() && t.chars().all(|c| c == '-' || c == ' ') && t.split_whitespace().count() >= 2
}

fn spans(dashes: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in dashes.chars().enumerate() {
        match (c == '-', start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, dashes.chars().count()));
    }
    out
}

/// Header cells: the text under each dash group, up to the next group.
fn cut(line: &str, spans: &[(usize, usize)]) -> Vec<String> {
    let chars: Vec<char> = line.chars().collect();
    let mut cells = Vec::with_capacity(spans.len());
    for (i, &(start, _)) in spans.iter().enumerate() {
        let end = spans
            .get(i + 1)
            .map_or(chars.len(), |s| s.0)
            .min(chars.len());
        let start = start.min(end);
        cells.push(
            chars[start..end]
                .iter()
                .collect::<String>()
                .trim()
                .to_owned(),
        );
    }
    cells
}

/// Row cells: each word goes to the column whose dashes it overlaps most (or the nearest),
/// so right-aligned numbers wider than their header and left-aligned text both land right.
fn assign(line: &str, spans: &[(usize, usize)]) -> Vec<String> {
    let mut cells = vec![String::new(); spans.len()];
    let mut col = 0;
    let mut word_start = None;
    let chars: Vec<char> = line.chars().collect();
    for i in 0..=chars.len() {
        let blank = chars.get(i).is_none_or(|c| c.is_whitespace());
        match (blank, word_start) {
            (false, None) => word_start = Some(i),
            (true, Some(a)) => {
                word_start = None;
                let b = i;
                let best = spans
                    .iter()
                    .enumerate()
                    .map(|(k, &(s, e))| {
                        let overlap = b.min(e).saturating_sub(a.max(s));
                        let distance = if b <= s { s - b } else { a.saturating_sub(e) };
                        (k, overlap, distance)
                    })
                    .max_by(|x, y| x.1.cmp(&y.1).then(y.2.cmp(&x.2)))
                    .map_or(0, |(k, _, _)| k);
                // Words never go back to an earlier column than the previous word's.
                col = best.max(col);
                let word: String = chars[a..b].iter().collect();
                let cell = &mut cells[col];
                if !cell.is_empty() {
                    cell.push(' ');
                }
                cell.push_str(&word);
            }
            _ => {}
        }
    }
    cells
}

pub(crate) fn parse(input: &Input<'_>, ctx: &mut Ctx) -> Result<Vec<Snapshot>, SnapshotError> {
    let lines: Vec<(usize, &str)> = input.lines().collect();
    let mut out = Vec::new();
    let mut sink = TableSink::default();
    let mut first_error = None;
    let mut i = 1;
    while i < lines.len() {
        if ctx.full() {
            break;
        }
        let (n, line) = lines[i];
        let (hn, header) = lines[i - 1];
        if !is_dashes(line) || header.trim().is_empty() {
            i += 1;
            continue;
        }
        let sp = spans(line);
        if sp.len() > MAX_COLUMNS {
            ctx.warn(
                n,
                format!("table with more than {MAX_COLUMNS} columns ignored"),
            );
            i += 1;
            continue;
        }
        let headers = cut(header, &sp);
        let columns = match Columns::from_headers(&headers) {
            Ok(c) => c,
            Err(msg) => {
                first_error
                    .get_or_insert(SnapshotError::new(Some(hn), format!("table header: {msg}")));
                i += 1;
                continue;
            }
        };
        // A timestamp on the nearest non-blank line above dates the table.
        let taken_at = lines[..i - 1]
            .iter()
            .rev()
            .find(|(_, l)| !l.trim().is_empty())
            .and_then(|(_, l)| parse_timestamp(l).map(|t| (t, l.trim().to_owned())));
        let mut j = i + 1;
        while j < lines.len() {
            let (rn, row) = lines[j];
            if row.trim().is_empty() || (j + 1 < lines.len() && is_dashes(lines[j + 1].1)) {
                break;
            }
            let mut cells = assign(row, &sp);
            let toks: Vec<&str> = row.split_whitespace().collect();
            if row.chars().count() + 1 < sp.last().map_or(0, |s| s.0) && toks.len() == sp.len() {
                // Collapsed whitespace: one word per column.
                cells = toks.iter().map(|s| (*s).to_owned()).collect();
            }
            columns.add_row(&cells, rn, ctx, &mut sink);
            j += 1;
        }
        for mut s in sink.take() {
            if let Some((t, label)) = &taken_at
                && s.taken_at.is_none()
            {
                s.taken_at = Some(*t);
                s.label.get_or_insert_with(|| label.clone());
            }
            ctx.push_snapshot(&mut out, s, n);
        }
        i = j.max(i + 1);
    }
    match (out.is_empty(), first_error) {
        (true, Some(e)) => Err(e),
        _ => Ok(out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{ParseOptions, PoolKind};

    #[test]
    fn reads_column_spans() {
        let text = "\nTag  PoolType NumberOfAllocs TotalBytes\n---  -------- -------------- ----------\nIo   NonPaged          1,024     91912\nDh 1 Paged                24         0\n\n";
        let mut ctx = Ctx::new(&ParseOptions::default());
        let s = parse(&Input::from_str(text), &mut ctx).unwrap();
        assert!(ctx.warnings.is_empty(), "{:?}", ctx.warnings);
        let rows = &s[0].rows;
        assert_eq!(rows[0].pool, PoolKind::NonPaged);
        assert_eq!(rows[0].allocs, Some(1024));
        assert_eq!(rows[1].tag.to_string(), "Dh 1");
    }
}
