//! PowerShell `Format-Table` lines: a header row, a row of dash groups giving the column
//! spans, then the rows. Only the splitting lives here; the table reader ([`super::table`])
//! finds the tables and the column model reads them.

use super::cell::read_amount;

/// `---  ----------- ----------`: two or more dash groups.
pub(crate) fn is_dashes(t: &str) -> bool {
    let t = t.trim();
    !t.is_empty() && t.chars().all(|c| c == '-' || c == ' ') && t.split_whitespace().count() >= 2
}

pub(crate) fn spans(dashes: &str) -> Vec<(usize, usize)> {
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
pub(crate) fn cut(line: &str, spans: &[(usize, usize)]) -> Vec<String> {
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
    let mut prev_end: Option<usize> = None;
    let chars: Vec<char> = line.chars().collect();
    for i in 0..=chars.len() {
        let blank = chars.get(i).is_none_or(|c| c.is_whitespace());
        match (blank, word_start) {
            (false, None) => word_start = Some(i),
            (true, Some(a)) => {
                word_start = None;
                let b = i;
                let (best, overlap) = spans
                    .iter()
                    .enumerate()
                    .map(|(k, &(s, e))| {
                        let overlap = b.min(e).saturating_sub(a.max(s));
                        let distance = if b <= s { s - b } else { a.saturating_sub(e) };
                        (k, overlap, distance)
                    })
                    .max_by(|x, y| x.1.cmp(&y.1).then(y.2.cmp(&x.2)))
                    .map_or((0, 0), |(k, o, _)| (k, o));
                let word: String = chars[a..b].iter().collect();
                // Left-aligned text wider than its dashes (`2026-11-02 08:00:00` under
                // `----`): a word under no dashes, one blank after the word before, goes on
                // with it unless it is a number.
                let continues = overlap == 0
                    && prev_end.is_some_and(|p| p + 1 == a)
                    && read_amount(&word, 1).is_none();
                prev_end = Some(b);
                // Words never go back to an earlier column than the previous word's.
                if !continues {
                    col = best.max(col);
                }
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

/// A row's cells under the dash groups; a row whose whitespace was collapsed (shorter than
/// the header, one word per column) is read word by word.
pub(crate) fn row_cells(row: &str, spans: &[(usize, usize)]) -> Vec<String> {
    let toks: Vec<&str> = row.split_whitespace().collect();
    if row.chars().count() + 1 < spans.last().map_or(0, |s| s.0) && toks.len() == spans.len() {
        return toks.iter().map(|s| (*s).to_owned()).collect();
    }
    assign(row, spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_column_spans() {
        let dashes = "---  -------- -------------- ----------";
        let sp = spans(dashes);
        assert_eq!(
            cut("Tag  PoolType NumberOfAllocs TotalBytes", &sp),
            ["Tag", "PoolType", "NumberOfAllocs", "TotalBytes"]
        );
        assert_eq!(
            row_cells("Io   NonPaged          1,024     91912", &sp),
            ["Io", "NonPaged", "1,024", "91912"]
        );
        assert_eq!(
            row_cells("Dh 1 Paged                24         0", &sp),
            ["Dh 1", "Paged", "24", "0"]
        );
        // Left-aligned text wider than its dashes stays in its column; numbers do not.
        let sp = spans("----                ----------- --------------");
        assert_eq!(
            row_cells("2026-11-02 08:00:00       612.4          288.1", &sp),
            ["2026-11-02 08:00:00", "612.4", "288.1"]
        );
    }
}
