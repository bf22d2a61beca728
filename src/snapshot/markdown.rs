//! Markdown (GitHub) table lines: `| Tag | Bytes |`, a `|---|---:|` separator, rows. Outer
//! pipes are optional and `\|` is a literal pipe. Only the splitting lives here; the table
//! reader ([`super::table`]) finds the tables and the column model reads them.

use super::cell::Cells;

pub(crate) fn cells(line: &str) -> Cells {
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

/// A line of a pipe table: it starts with a pipe, or holds two.
pub(crate) fn is_table_line(t: &str) -> bool {
    t.starts_with('|') || t.matches('|').count() >= 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_cells_and_separators() {
        assert_eq!(cells("| `Ab\\|c` | 1 |"), [" `Ab|c` ", " 1 "]);
        assert_eq!(cells("Tag | Bytes"), ["Tag ", " Bytes"]);
        assert!(is_separator("|---|:--:|"));
        assert!(is_separator("--- | ---"));
        assert!(!is_separator("| a | - |"));
    }
}
