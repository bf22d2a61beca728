//! Writes pool rows as `poolmon -b -n` writes its screen to a file: a time line, the column
//! header, then one row per tag and pool, most bytes first. [`super::parse_snapshots`] reads
//! it back with the same tags and numbers, so a snapshot taken without poolmon (`poolsleuth
//! collect`) goes wherever a poolmon file goes.

use std::fmt::Write as _;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::tag::PoolTag;

use super::text::tag_from_text;
use super::{PoolKind, PoolUsage};

/// A snapshot in poolmon's text layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolmonText {
    pub text: String,
    /// Tags poolmon's layout cannot carry exactly (a leading blank, or bytes whose escaped
    /// form reads back as other bytes), left out rather than written as another tag.
    pub left_out: Vec<PoolTag>,
}

/// `rows` as a poolmon `-b` file taken at `taken_at`. Only `Paged` and `Nonp` rows exist in
/// poolmon's layout without `/s`; rows of another pool are left out (and listed).
pub fn write_poolmon(taken_at: Option<OffsetDateTime>, rows: &[PoolUsage]) -> PoolmonText {
    let mut sorted: Vec<&PoolUsage> = rows.iter().collect();
    // `-b`: most bytes first; the tag then the pool break ties, so the text is the same for
    // the same rows.
    sorted.sort_by(|a, b| {
        b.bytes
            .cmp(&a.bytes)
            .then(a.tag.cmp(&b.tag))
            .then(a.pool.cmp(&b.pool))
    });
    let mut text = String::with_capacity(64 * (rows.len() + 4));
    if let Some(time) = taken_at.and_then(|t| t.format(&Rfc3339).ok()) {
        let _ = writeln!(text, "{time}");
    }
    text.push_str(
        "\n Tag  Type     Allocs            Frees            Diff   Bytes       Per Alloc\n\n",
    );
    let mut left_out = Vec::new();
    for row in sorted {
        let pool = match row.pool {
            PoolKind::Paged => "Paged",
            PoolKind::NonPaged => "Nonp",
            PoolKind::Session | PoolKind::Unknown => {
                left_out.push(row.tag);
                continue;
            }
        };
        let Some(tag) = tag_text(row.tag) else {
            left_out.push(row.tag);
            continue;
        };
        let allocs = row.allocs.unwrap_or(0);
        let frees = row.frees.unwrap_or(0);
        // Signed, as poolmon prints it: more frees than allocations (a wrapped counter) is
        // a negative Diff, which the reader keeps as "outstanding not known".
        let diff = i128::from(allocs) - i128::from(frees);
        let per_alloc = match u64::try_from(diff) {
            Ok(d) if d > 0 => row.bytes / d,
            _ => 0,
        };
        let _ = writeln!(
            text,
            " {tag:<4} {pool:<5} {allocs:>10} {frees:>16} {diff:>15} {bytes:>11} {per_alloc:>10}",
            bytes = row.bytes
        );
    }
    left_out.sort();
    left_out.dedup();
    PoolmonText { text, left_out }
}

/// The tag as a row's first column, when the snapshot reader reads that text back as exactly
/// this tag: the bytes themselves for a plain tag, else its escaped form (`\x01ab`).
fn tag_text(tag: PoolTag) -> Option<String> {
    let plain = tag
        .bytes()
        .iter()
        .all(|&b| b.is_ascii_graphic() || b == b' ');
    let text = if plain {
        String::from_utf8_lossy(tag.bytes()).into_owned()
    } else {
        tag.to_string()
    };
    let trimmed = text.trim();
    (!trimmed.is_empty() && tag_from_text(trimmed) == Some(tag)).then(|| trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{ParseOptions, SnapshotFormat, parse_snapshots};

    fn tag(bytes: &[u8; 4]) -> PoolTag {
        PoolTag::from_bytes(*bytes)
    }

    #[test]
    fn tags_that_read_back_as_themselves_are_written_and_others_left_out() {
        assert_eq!(tag_text(tag(b"Io  ")).as_deref(), Some("Io"));
        assert_eq!(tag_text(tag(b"Dh 1")).as_deref(), Some("Dh 1"));
        assert_eq!(tag_text(tag(b"\x01abc")).as_deref(), Some("\\x01abc"));
        // A leading blank is trimmed by every reader of a poolmon row.
        assert_eq!(tag_text(tag(b" abc")), None);
        assert_eq!(tag_text(tag(b"    ")), None);
        // `\x01` alone reads back as the four characters `\`, `x`, `0`, `1`.
        assert_eq!(tag_text(tag(b"\x01   ")), None);
    }

    #[test]
    fn the_written_file_reads_back_as_a_poolmon_log_with_its_time() {
        let at = time::macros::datetime!(2026-11-01 10:00:00 UTC);
        let mut row = PoolUsage::new(tag(b"Io  "), PoolKind::NonPaged, 4096);
        row.allocs = Some(12);
        row.frees = Some(10);
        row.outstanding = Some(2);
        let written = write_poolmon(Some(at), &[row.clone()]);
        let parsed = parse_snapshots(written.text.as_bytes(), &ParseOptions::default()).unwrap();
        assert_eq!(
            parsed.format,
            SnapshotFormat::PoolmonLog,
            "{}",
            written.text
        );
        assert_eq!(parsed.snapshots.len(), 1);
        assert_eq!(parsed.snapshots[0].taken_at, Some(at));
        let back = &parsed.snapshots[0].rows[0];
        assert_eq!(
            (
                back.tag,
                back.pool,
                back.allocs,
                back.frees,
                back.outstanding,
                back.bytes
            ),
            (
                row.tag,
                row.pool,
                row.allocs,
                row.frees,
                row.outstanding,
                row.bytes
            )
        );
        assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    }
}
