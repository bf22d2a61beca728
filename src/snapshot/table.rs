//! Tables as people paste them: markdown pipes, CSV/TSV, PowerShell `Format-Table`, and
//! whitespace-aligned text (retyped, trimmed, annotated), with prose around them.
//!
//! This module finds the tables in a text and splits their lines into cells; the layouts
//! differ only there. What the columns mean, and how rows become snapshots, is the one
//! column-role model of [`super::columns`].

use super::cell::{Cells, looks_like_tag, read_amount, read_hours};
use super::columns::{Columns, TableContext, TableSink};
use super::header::{Role, pool_in_text, role_of};
use super::text::{Input, contains_ci, find_timestamp, quote};
use super::{Caveat, aligned, csv, keyvalue, markdown, powershell};
use super::{Ctx, PoolKind, PoolTotals, Snapshot, SnapshotError, SnapshotFormat};

/// How a table's lines are split into cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    Markdown,
    /// Comma, tab or semicolon.
    Delimited(u8),
    /// A header over a row of dash groups (PowerShell `Format-Table`).
    Dashes,
    /// Words and numbers lined up by spaces, or not lined up at all.
    Aligned,
}

impl Layout {
    pub(crate) fn format(self) -> SnapshotFormat {
        match self {
            Self::Markdown => SnapshotFormat::MarkdownTable,
            Self::Delimited(_) => SnapshotFormat::Csv,
            Self::Dashes => SnapshotFormat::PowershellTable,
            Self::Aligned => SnapshotFormat::Table,
        }
    }
}

/// A line's number and its cells.
type LineCells = (usize, Cells);

/// One table found in the text.
struct Block {
    layout: Layout,
    header: Option<LineCells>,
    rows: Vec<LineCells>,
    /// The nearest text line above (a heading, a time, `Nonpaged pool:`).
    above: Option<String>,
    /// Up to two text lines below (`... over the last 3 days`).
    below: Vec<String>,
}

impl Block {
    fn new(layout: Layout, header: Option<LineCells>, rows: Vec<LineCells>) -> Self {
        Self {
            layout,
            header,
            rows,
            above: None,
            below: Vec::new(),
        }
    }
}

/// Longest line a table row may be; longer lines are prose or noise.
const MAX_LINE: usize = 4096;
/// Wider tables are not pool tables (and would make row assignment slow).
const MAX_COLUMNS: usize = 256;

/// Reads every table of the text. `only` keeps the tables of one layout (a forced format).
pub(crate) fn parse(
    input: &Input<'_>,
    ctx: &mut Ctx,
    only: Option<SnapshotFormat>,
) -> Result<(SnapshotFormat, Vec<Snapshot>), SnapshotError> {
    // `Tag: Abcd` / `Bytes: ...` blocks: a table of one row, turned on its side.
    let mut kv_totals = Vec::new();
    if only.is_none_or(|f| f == SnapshotFormat::Table) && keyvalue::has_blocks(input) {
        // Its warnings count only when it is the reading.
        let mut scratch = ctx.scratch();
        let snaps = keyvalue::parse(input, &mut scratch);
        if snaps.iter().any(|s| !s.rows.is_empty()) {
            ctx.absorb(scratch);
            let mut out = Vec::new();
            for s in snaps {
                ctx.push_snapshot(&mut out, s, 0);
            }
            return Ok((SnapshotFormat::Table, out));
        }
        kv_totals = snaps;
    }
    let lines: Vec<(usize, &str)> = input.lines().collect();
    let blocks = find_blocks(&lines, input);
    let mut out = Vec::new();
    let mut format = None;
    let mut first_error: Option<SnapshotError> = None;
    let mut totals = PoolTotals::default();
    let mut figures = PoolTotals::default();
    for (_, line) in &lines {
        read_total_line(line, &mut totals);
        read_pool_figure(line, &mut figures);
    }
    for block in blocks {
        if ctx.full() {
            break;
        }
        if only.is_some_and(|f| f != block.layout.format()) {
            continue;
        }
        let context = context_of(&block);
        let mut notes = Vec::new();
        let rows: Vec<Cells> = block.rows.iter().map(|(_, c)| c.clone()).collect();
        let header = block.header.as_ref().map(|(_, h)| h.as_slice());
        let first_line = block.header.as_ref().map_or(block.rows[0].0, |(n, _)| *n);
        let columns = match Columns::infer(header, &rows, context.clone(), &mut notes) {
            Ok(c) => c,
            Err(msg) => {
                first_error.get_or_insert(SnapshotError::new(
                    Some(first_line),
                    format!("{} table: {msg}", layout_name(block.layout)),
                ));
                continue;
            }
        };
        if let (Some(pool), false) = (context.pool, columns.says_the_pool()) {
            notes.push(format!(
                "rows read as {pool} pool, as the line above the table says ({})",
                block.above.as_deref().map(quote).unwrap_or_default()
            ));
        }
        for n in notes {
            ctx.warn(first_line, n);
        }
        let mut sink = TableSink::default();
        for (k, (n, cells)) in block.rows.iter().enumerate() {
            if k % 1024 == 1023 && input.deadline_passed() {
                break;
            }
            columns.add_row(cells, *n, ctx, &mut sink);
        }
        let snaps = sink.take(&columns, ctx);
        let read_any = snaps
            .iter()
            .any(|s| !s.rows.is_empty() || s.totals.is_some());
        for mut s in snaps {
            if let Some(above) = &block.above {
                if s.label.is_none() {
                    s.label = Some(above.clone());
                }
                if s.taken_at.is_none() && s.elapsed_hours.is_none() {
                    s.taken_at = find_timestamp(above);
                }
            }
            ctx.push_snapshot(&mut out, s, first_line);
        }
        if read_any {
            format.get_or_insert(block.layout.format());
        }
    }
    if !out.is_empty() && totals != PoolTotals::default() {
        let last = out.len() - 1;
        out[last].totals.get_or_insert(totals);
    }
    // Machine totals without tags (`Key: value` totals, RAMMap's figures), when no table
    // reads.
    if format.is_none() && figures != PoolTotals::default() && kv_totals.is_empty() {
        kv_totals.push(Snapshot {
            totals: Some(figures),
            ..Snapshot::default()
        });
    }
    if format.is_none() && !kv_totals.is_empty() {
        for s in kv_totals {
            ctx.push_snapshot(&mut out, s, 0);
        }
        format = Some(SnapshotFormat::Table);
    }
    if !out.is_empty() && out.iter().all(|s| s.rows.is_empty()) {
        ctx.caveat(Caveat::TotalsOnly);
        ctx.warn(
            0,
            "pool totals only, no per-tag numbers: read as the machine's totals (capture per-tag \
             numbers with poolmon -b or !poolused 4 to find the tag that grows)",
        );
    }
    match (format, first_error) {
        (Some(f), _) => Ok((f, out)),
        (None, Some(e)) => Err(e),
        (None, None) => Ok((only.unwrap_or(SnapshotFormat::Table), Vec::new())),
    }
}

fn layout_name(layout: Layout) -> &'static str {
    match layout {
        Layout::Markdown => "markdown",
        Layout::Delimited(b'\t') => "tab-separated",
        Layout::Delimited(_) => "CSV",
        Layout::Dashes => "PowerShell",
        Layout::Aligned => "text",
    }
}

/// What the lines around a table say: the pool a heading names, a period for change columns.
fn context_of(block: &Block) -> TableContext {
    let mut context = TableContext::default();
    if let Some(above) = &block.above {
        let lower = above.to_ascii_lowercase();
        if lower.contains("pool") || lower.starts_with('#') || above.len() < 40 {
            context.pool = pool_in_text(&lower);
        }
    }
    let change_words = [
        "over", "last", "since", "in ", "per", "within", "after", "delta", "growth", "change",
    ];
    context.period_hours = block
        .above
        .iter()
        .chain(block.below.iter())
        .filter(|l| {
            let lower = l.to_ascii_lowercase();
            change_words.iter().any(|w| lower.contains(w))
        })
        .find_map(|l| read_hours(l));
    context
}

/// `Total paged pool: 12.3 GB`, `=== total nonpaged = 5120 MB`: machine totals, never rows.
fn read_total_line(line: &str, totals: &mut PoolTotals) {
    let lower = line.to_ascii_lowercase();
    if !lower.contains("total") || lower.len() > 200 {
        return;
    }
    let Some(pool) = pool_in_text(&lower) else {
        return;
    };
    let Some(at) = lower.rfind([':', '=']) else {
        return;
    };
    let Some(amount) = read_amount(line[at + 1..].trim().trim_end_matches(['=', '.']), 1) else {
        return;
    };
    match pool {
        PoolKind::NonPaged => totals.nonpaged_bytes = Some(amount.value),
        PoolKind::Paged => totals.paged_bytes = Some(amount.value),
        _ => {}
    }
}

/// RAMMap's figures (`Paged Pool    627,412 K`, `Nonpaged Pool  1,802,236 K`): the first size
/// after the label, which must name its unit.
fn read_pool_figure(line: &str, totals: &mut PoolTotals) {
    let t = line.trim();
    if t.len() > 300 {
        return;
    }
    // No copy of the line: this runs over every line of every table.
    let label = |p: &str| {
        t.get(..p.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(p))
            .then(|| &t[p.len()..])
    };
    let (pool, rest) = if let Some(r) = ["nonpaged pool", "non-paged pool", "non paged pool"]
        .iter()
        .find_map(|p| label(p))
    {
        (PoolKind::NonPaged, r)
    } else if let Some(r) = label("paged pool") {
        (PoolKind::Paged, r)
    } else {
        return;
    };
    let mut words = rest
        .split(|c: char| c.is_whitespace() || c == ':' || c == '|')
        .filter(|w| !w.is_empty());
    let (Some(number), unit) = (words.next(), words.next()) else {
        return;
    };
    let text = match unit {
        Some(u) if number.ends_with(|c: char| c.is_ascii_digit()) => format!("{number} {u}"),
        _ => number.to_owned(),
    };
    // A unit is required: a bare number here could be pages or a count.
    if !text.trim_end().ends_with(|c: char| c.is_ascii_alphabetic()) {
        return;
    }
    let Some(amount) = read_amount(&text, 1) else {
        return;
    };
    match pool {
        PoolKind::NonPaged => totals.nonpaged_bytes.get_or_insert(amount.value),
        _ => totals.paged_bytes.get_or_insert(amount.value),
    };
}

/// Is this a totals line or a RAMMap figure (never a table row)?
fn is_total_line(line: &str) -> bool {
    let mut t = PoolTotals::default();
    read_total_line(line, &mut t);
    read_pool_figure(line, &mut t);
    t != PoolTotals::default()
}

/// For each line, the first line at or after it that is not a separator or a totals line
/// (which a table's rows pass over), found once for the whole text so that a table tried at
/// each line of a long run of `-----` or `.....` does not walk the rest of the run again.
fn after_passed_over(lines: &[(usize, &str)]) -> Vec<usize> {
    let mut next = vec![lines.len(); lines.len()];
    for i in (0..lines.len()).rev() {
        let t = lines[i].1.trim();
        // Most lines are rows: the cheap tests first.
        let passed_over = !t.is_empty()
            && t.len() <= MAX_LINE
            && (aligned::is_separator(t) || (contains_ci(t, "total") && is_total_line(t)));
        next[i] = if passed_over {
            next.get(i + 1).copied().unwrap_or(lines.len())
        } else {
            i
        };
    }
    next
}

/// The tables of the text, in order; those found before the input's deadline passed, when it
/// does.
fn find_blocks(lines: &[(usize, &str)], input: &Input<'_>) -> Vec<Block> {
    let passed_over = after_passed_over(lines);
    let mut blocks = Vec::new();
    let mut above: Option<String> = None;
    let mut i = 0;
    // A look at the clock per table or text line: far cheaper than reading the line.
    while i < lines.len() && !input.deadline_passed() {
        let t = lines[i].1.trim();
        if t.is_empty() || t.len() > MAX_LINE || is_total_line(t) {
            i += 1;
            continue;
        }
        let found = if markdown::is_table_line(t) {
            markdown_block(lines, i)
        } else if i + 1 < lines.len() && powershell::is_dashes(lines[i + 1].1) {
            dashes_block(lines, i)
        } else if let Some(d) = csv::delimiter(lines, i) {
            delimited_block(lines, i, d)
        } else {
            aligned_block(lines, i, &passed_over, input)
        };
        match found {
            Some((mut block, next)) if holds_data(&block) => {
                block.above = above.take();
                block.below = lines[next.min(lines.len())..]
                    .iter()
                    .map(|(_, l)| l.trim())
                    .filter(|l| !l.is_empty())
                    .take(2)
                    .map(str::to_owned)
                    .collect();
                blocks.push(block);
                i = next.max(i + 1);
            }
            // Lines of no table are text: the label of the next table. A layout's lines
            // that hold no data are passed over together (never read again one by one).
            Some((_, next)) => {
                above = Some(clean_label(t));
                i = next.max(i + 1);
            }
            None => {
                above = Some(clean_label(t));
                i += 1;
            }
        }
    }
    blocks
}

/// A table has rows, and without a header some row has a tag-like cell and a number (a
/// comma in a sentence or a date makes no table).
fn holds_data(block: &Block) -> bool {
    block.header.is_some() && !block.rows.is_empty()
        || block.rows.iter().any(|(_, cells)| {
            cells.iter().any(|c| looks_like_tag(c))
                && cells.iter().any(|c| read_amount(c, 1).is_some())
        })
}

/// A heading or text line as a label: heading marks, emphasis and a trailing colon removed.
fn clean_label(t: &str) -> String {
    t.trim_start_matches('#')
        .trim()
        .trim_matches('*')
        .trim()
        .trim_end_matches(':')
        .trim()
        .to_owned()
}

/// Does a row of cells read as a header (names, no numbers) rather than data?
fn is_header_row(cells: &[String]) -> bool {
    let named = cells
        .iter()
        .filter(|c| !matches!(role_of(c), Role::Ignore))
        .count();
    let numbers = cells.iter().filter(|c| read_amount(c, 1).is_some()).count();
    named > 0 && numbers == 0 && !cells.iter().any(|c| c.trim().starts_with('`'))
}

fn markdown_block(lines: &[(usize, &str)], start: usize) -> Option<(Block, usize)> {
    let mut j = start;
    let mut all: Vec<(usize, Cells, bool)> = Vec::new();
    while j < lines.len() && markdown::is_table_line(lines[j].1.trim()) {
        let (n, l) = lines[j];
        all.push((n, markdown::cells(l), markdown::is_separator(l)));
        j += 1;
    }
    let mut header = None;
    let mut rows = Vec::new();
    for (k, (n, cells, separator)) in all.iter().enumerate() {
        if *separator {
            continue;
        }
        let next_is_separator = all.get(k + 1).is_some_and(|r| r.2);
        if header.is_none() && rows.is_empty() && (next_is_separator || is_header_row(cells)) {
            header = Some((*n, cells.clone()));
        } else {
            rows.push((*n, cells.clone()));
        }
    }
    let width = header.as_ref().map_or(0, |(_, h)| h.len());
    (width <= MAX_COLUMNS).then_some((Block::new(Layout::Markdown, header, rows), j))
}

fn dashes_block(lines: &[(usize, &str)], start: usize) -> Option<(Block, usize)> {
    let (hn, header) = lines[start];
    let spans = powershell::spans(lines[start + 1].1);
    if spans.len() > MAX_COLUMNS {
        return None;
    }
    let headers = powershell::cut(header, &spans);
    let mut rows = Vec::new();
    let mut j = start + 2;
    while j < lines.len() {
        let (rn, row) = lines[j];
        if row.trim().is_empty() || (j + 1 < lines.len() && powershell::is_dashes(lines[j + 1].1)) {
            break;
        }
        rows.push((rn, powershell::row_cells(row, &spans)));
        j += 1;
    }
    Some((Block::new(Layout::Dashes, Some((hn, headers)), rows), j))
}

fn delimited_block(lines: &[(usize, &str)], start: usize, delim: u8) -> Option<(Block, usize)> {
    let mut j = start;
    let mut all = Vec::new();
    while j < lines.len() {
        let (n, l) = lines[j];
        if l.trim().is_empty() || !l.as_bytes().contains(&delim) || is_total_line(l) {
            break;
        }
        all.push((n, csv::cells(l, delim)));
        j += 1;
    }
    let mut rows = all.into_iter();
    let first = rows.next()?;
    let (header, rows): (Option<LineCells>, Vec<LineCells>) = if is_header_row(&first.1) {
        (Some(first), rows.collect())
    } else {
        (None, std::iter::once(first).chain(rows).collect())
    };
    Some((Block::new(Layout::Delimited(delim), header, rows), j))
}

fn aligned_block(
    lines: &[(usize, &str)],
    start: usize,
    passed_over: &[usize],
    input: &Input<'_>,
) -> Option<(Block, usize)> {
    let (hn, first) = lines[start];
    let mut header = aligned::Header::parse(first);
    // Under a header of per-tag columns (`Thre outstanding`), rows are points in time and
    // hold no tag.
    let tagless = header.as_ref().is_some_and(|h| {
        aligned::Header::names_tag_columns(h) || aligned::Header::names_pool_totals(h)
    });
    let trailing_text = header.as_ref().is_some_and(aligned::Header::ends_with_text);
    let mut j = start + usize::from(header.is_some());
    // poolmon prints a blank line between its header and its rows.
    if header.is_some() && lines.get(j).is_some_and(|(_, l)| l.trim().is_empty()) {
        j += 1;
    }
    let mut rows = Vec::new();
    while j < lines.len() {
        let (n, l) = lines[j];
        let t = l.trim();
        // Tokenizing is most of a big table's cost: the deadline is looked at as it goes.
        if t.is_empty() || t.len() > MAX_LINE || (j % 1024 == 1023 && input.deadline_passed()) {
            break;
        }
        if passed_over[j] > j {
            j = passed_over[j];
            continue;
        }
        let tokens = if tagless {
            aligned::data_tokens(l)
        } else {
            aligned::row_tokens(l, trailing_text)
        };
        match tokens {
            Some(tokens) => rows.push((n, tokens)),
            None if rows.is_empty() && header.is_none() => return None,
            None => break,
        }
        j += 1;
    }
    if rows.is_empty() {
        return None;
    }
    if let Some(h) = &mut header {
        h.name_the_tag_column(&rows.iter().map(|(_, t)| t.as_slice()).collect::<Vec<_>>());
    }
    let rows = rows
        .into_iter()
        .map(|(n, tokens)| match &header {
            Some(h) => (n, h.fit(&tokens)),
            None => (n, tokens.into_iter().map(|t| t.text).collect()),
        })
        .collect();
    Some((
        Block::new(Layout::Aligned, header.map(|h| (hn, h.texts())), rows),
        j,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(line: &str) -> (Option<u64>, Option<u64>) {
        let mut t = PoolTotals::default();
        read_pool_figure(line, &mut t);
        (t.paged_bytes, t.nonpaged_bytes)
    }

    #[test]
    fn rammap_figures_need_a_unit() {
        assert_eq!(
            figures("Paged Pool        627,412 K"),
            (Some(642_469_888), None)
        );
        assert_eq!(
            figures("Nonpaged Pool\t1,802,236 K\t1,802,236 K"),
            (None, Some(1_845_489_664))
        );
        assert_eq!(
            figures("Nonpaged pool: 1.5 GB"),
            (None, Some(1_610_612_736))
        );
        assert_eq!(figures("Paged Pool 627412"), (None, None));
        assert_eq!(figures("Paged pool grows every day"), (None, None));
    }
}
