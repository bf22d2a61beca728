//! CSV / TSV lines (and semicolon-separated, as European Excel writes): quoted fields, any of
//! the three delimiters. Only the splitting lives here; the table reader ([`super::table`])
//! finds the tables and the column model reads them.

use super::columns::Cells;

/// The delimiter of a delimited table starting at line `i`: tabs anywhere, or commas or
/// semicolons splitting this line and the next into the same number (two or more) of fields.
pub(crate) fn delimiter(lines: &[(usize, &str)], i: usize) -> Option<u8> {
    let line = lines[i].1;
    if line.contains('\t') && cells(line, b'\t').len() >= 2 {
        return Some(b'\t');
    }
    let next = lines
        .get(i + 1)
        .map(|(_, l)| *l)
        .filter(|l| !l.trim().is_empty());
    [b';', b',']
        .into_iter()
        .filter(|&d| line.as_bytes().contains(&d))
        .find(|&d| {
            let n = cells(line, d).len();
            n >= 2
                && match next {
                    Some(next) => cells(next, d).len() == n,
                    // A one-line table: its only line is the row.
                    None => true,
                }
                // `1,234,567` in a whitespace table is no delimiter: fields of a delimited
                // line hold no runs of blanks between words and numbers.
                && !line.contains("  ")
        })
}

/// A delimited header naming a tag column (a detection signal).
pub(crate) fn names_a_tag_column(t: &str) -> bool {
    !t.starts_with('|')
        && [b'\t', b',', b';'].into_iter().any(|d| {
            t.as_bytes().contains(&d)
                && cells(t, d)
                    .iter()
                    .any(|c| super::columns::role_of(c) == super::columns::Role::Tag)
        })
}

/// The fields of one delimited line, quotes honoured.
pub(crate) fn cells(line: &str, delim: u8) -> Cells {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delim)
        .has_headers(false)
        .flexible(true)
        .from_reader(line.as_bytes());
    let mut record = csv::StringRecord::new();
    match reader.read_record(&mut record) {
        Ok(true) => record.iter().map(str::to_owned).collect(),
        _ => vec![line.to_owned()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiters_and_quotes() {
        let lines = [(1, "Tag,Bytes"), (2, "\"Io  \",\"1,234\"")];
        assert_eq!(delimiter(&lines, 0), Some(b','));
        assert_eq!(cells(lines[1].1, b','), ["Io  ", "1,234"]);
        let aligned = [(1, "Abcd   1,234,567   12"), (2, "Efgh   2,345   1")];
        assert_eq!(delimiter(&aligned, 0), None);
        let semi = [(1, "Tag;Size"), (2, "Abcd;1,5 GB")];
        assert_eq!(delimiter(&semi, 0), Some(b';'));
        assert_eq!(delimiter(&[(1, "a\tb")], 0), Some(b'\t'));
    }
}
