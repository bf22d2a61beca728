//! Markdown (GitHub) tables pasted into tickets: `| Tag | Bytes |`, a `|---|---:|` separator,
//! then rows. Each table is a snapshot; the nearest heading or text line above it is its
//! label (and its time when it holds a date). Backticks around a tag keep it exact
//! (`` `Io  ` ``).

use super::columns::{Columns, TableSink};
use super::text::{Input, find_timestamp};
use super::{Ctx, Snapshot, SnapshotError};

fn cells(line: &str) -> Vec<String> {
    let t = line.trim();
    let t = t.strip_prefix('|').unwrap_or(t);
    let t = t.strip_suffix('|').unwrap_or(t);
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = t.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cur.push('|');
                chars.next();
            }
            '|' => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// `|---|:---:|` (outer pipes optional).
pub(crate) fn is_separator(t: &str) -> bool {
    let t = t.trim();
    t.contains('-')
        && t.contains('|')
        && cells(t).iter().all(|c| {
            let c = c.trim();
            let c = c.strip_prefix(':').unwrap_or(c);
            let c = c.strip_suffix(':').unwrap_or(c);
            !c.is_empty() && c.chars().all(|ch| ch == '-')
        })
}

fn is_table_line(t: &str) -> bool {
    t.trim_start().starts_with('|') || t.matches('|').count() >= 2
}

pub(crate) fn parse(input: &Input<'_>, ctx: &mut Ctx) -> Result<Vec<Snapshot>, SnapshotError> {
    let lines: Vec<(usize, &str)> = input.lines().collect();
    let mut out = Vec::new();
    let mut sink = TableSink::default();
    let mut first_error = None;
    let mut label: Option<String> = None;
    let mut i = 0;
    while i < lines.len() {
        if ctx.full() {
            break;
        }
        let (hn, header) = lines[i];
        let t = header.trim();
        let is_header = is_table_line(t) && lines.get(i + 1).is_some_and(|(_, l)| is_separator(l));
        if !is_header {
            if !t.is_empty() && !is_table_line(t) {
                label = Some(
                    t.trim_start_matches('#')
                        .trim()
                        .trim_matches('*')
                        .trim()
                        .to_owned(),
                );
            }
            i += 1;
            continue;
        }
        let columns = match Columns::from_headers(&cells(t)) {
            Ok(c) => c,
            Err(msg) => {
                first_error.get_or_insert(SnapshotError::new(
                    Some(hn),
                    format!("markdown table header: {msg}"),
                ));
                i += 2;
                continue;
            }
        };
        let mut j = i + 2;
        while j < lines.len() && is_table_line(lines[j].1) {
            let (rn, row) = lines[j];
            if !is_separator(row) {
                columns.add_row(&cells(row), rn, ctx, &mut sink);
            }
            j += 1;
        }
        for mut s in sink.take() {
            if s.label.is_none() {
                s.label.clone_from(&label);
            }
            if s.taken_at.is_none() {
                s.taken_at = label.as_deref().and_then(find_timestamp);
            }
            ctx.push_snapshot(&mut out, s, hn);
        }
        label = None;
        i = j;
    }
    match (out.is_empty(), first_error) {
        (true, Some(e)) => Err(e),
        _ => Ok(out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::ParseOptions;

    #[test]
    fn series_columns_become_snapshots() {
        let text = "| Tag | 2026-11-01 (MB) | 2026-11-03 (MB) | Delta |\n|---|---:|---:|---:|\n| `Abc` | 1,024 | 2,048.5 | +1,024.5 |\n";
        let mut ctx = Ctx::new(&ParseOptions::default());
        let s = parse(&Input::from_str(text), &mut ctx).unwrap();
        assert!(ctx.warnings.is_empty(), "{:?}", ctx.warnings);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].rows[0].bytes, 1024 << 20);
        assert_eq!(s[1].rows[0].bytes, 2_148_007_936);
        assert!(s[0].taken_at.is_some());
    }
}
