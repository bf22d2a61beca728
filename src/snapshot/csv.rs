//! CSV / TSV lines (and semicolon-separated, as European Excel writes): quoted fields, any of
//! the three delimiters. Only the splitting lives here; the table reader ([`super::table`])
//! finds the tables and the column model reads them.

use super::cell::Cells;

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
        // `Abcd 12,004`: commas that only group thousands make no CSV.
        .filter(|&d| d != b',' || !only_thousands_commas(line))
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

/// Is every comma of the line a thousands separator (a digit before, three digits after and
/// then no further digit)?
fn only_thousands_commas(line: &str) -> bool {
    let b = line.as_bytes();
    b.iter()
        .enumerate()
        .filter(|(_, c)| **c == b',')
        .all(|(i, _)| {
            i > 0
                && b[i - 1].is_ascii_digit()
                && b.get(i + 1..i + 4)
                    .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
                && !b.get(i + 4).is_some_and(u8::is_ascii_digit)
        })
}

/// A delimited header naming a tag column (a detection signal).
pub(crate) fn names_a_tag_column(t: &str) -> bool {
    !t.starts_with('|')
        && [b'\t', b',', b';'].into_iter().any(|d| {
            t.as_bytes().contains(&d)
                && cells(t, d)
                    .iter()
                    .any(|c| super::header::role_of(c) == super::header::Role::Tag)
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
        assert_eq!(delimiter(&[(1, "`Abcd` 12,004")], 0), None);
        assert_eq!(delimiter(&[(1, "Abcd 1,234,567 12")], 0), None);
        assert_eq!(delimiter(&[(1, "Abcd,1,234")], 0), Some(b','));
    }
}
