//! Buffers laid out as Windows lays them: the offsets come from `#[repr(C)]` twins of the C
//! structures (C's layout rules, computed by the compiler), not from the parser's table.

use std::mem::{offset_of, size_of};

use proptest::prelude::*;

use super::*;
use crate::snapshot::{ParseOptions, parse_snapshots, write_poolmon};

/// `SYSTEM_POOLTAG` on 64-bit Windows (`SIZE_T` = 8 bytes).
#[allow(dead_code)]
#[repr(C)]
struct SystemPoolTag64 {
    tag: [u8; 4],
    paged_allocs: u32,
    paged_frees: u32,
    paged_used: u64,
    nonpaged_allocs: u32,
    nonpaged_frees: u32,
    nonpaged_used: u64,
}

/// `SYSTEM_POOLTAG_INFORMATION` on 64-bit Windows.
#[allow(dead_code)]
#[repr(C)]
struct SystemPoolTagInformation64 {
    count: u32,
    tag_info: [SystemPoolTag64; 1],
}

/// `SYSTEM_POOLTAG` on 32-bit Windows (`SIZE_T` = 4 bytes).
#[allow(dead_code)]
#[repr(C)]
struct SystemPoolTag32 {
    tag: [u8; 4],
    paged_allocs: u32,
    paged_frees: u32,
    paged_used: u32,
    nonpaged_allocs: u32,
    nonpaged_frees: u32,
    nonpaged_used: u32,
}

#[allow(dead_code)]
#[repr(C)]
struct SystemPoolTagInformation32 {
    count: u32,
    tag_info: [SystemPoolTag32; 1],
}

fn put(buf: &mut [u8], at: usize, bytes: &[u8]) {
    buf[at..at + bytes.len()].copy_from_slice(bytes);
}

/// Where each field of a `SYSTEM_POOLTAG` lies in one layout, as the compiler lays out the
/// `#[repr(C)]` twin: `Count`'s size plus padding, the entry size, then the seven fields.
macro_rules! c_layout {
    ($info:ty, $entry:ty) => {
        (
            offset_of!($info, tag_info),
            size_of::<$entry>(),
            [
                offset_of!($entry, tag),
                offset_of!($entry, paged_allocs),
                offset_of!($entry, paged_frees),
                offset_of!($entry, paged_used),
                offset_of!($entry, nonpaged_allocs),
                offset_of!($entry, nonpaged_frees),
                offset_of!($entry, nonpaged_used),
            ],
        )
    };
}

/// A buffer holding `entries` with `Count` = `count`, laid out for `width`, with padding bytes
/// filled with 0xCC (as uninitialised memory may be) so a parser reading padding is caught.
fn windows_buffer(width: PointerWidth, count: u32, entries: &[PoolTagCounters]) -> Vec<u8> {
    let (header, entry, [tag, pa, pf, pu, na, nf, nu]) = match width {
        PointerWidth::Bits64 => c_layout!(SystemPoolTagInformation64, SystemPoolTag64),
        PointerWidth::Bits32 => c_layout!(SystemPoolTagInformation32, SystemPoolTag32),
    };
    let size_t = |v: u64| match width {
        PointerWidth::Bits64 => v.to_le_bytes().to_vec(),
        PointerWidth::Bits32 => u32::try_from(v)
            .expect("a 32-bit SIZE_T")
            .to_le_bytes()
            .to_vec(),
    };
    let mut buf = vec![0xCC; header + entry * entries.len()];
    put(&mut buf, 0, &count.to_le_bytes());
    for (i, e) in entries.iter().enumerate() {
        let b = header + i * entry;
        put(&mut buf, b + tag, e.tag.bytes());
        put(&mut buf, b + pa, &e.paged_allocs.to_le_bytes());
        put(&mut buf, b + pf, &e.paged_frees.to_le_bytes());
        put(&mut buf, b + pu, &size_t(e.paged_used));
        put(&mut buf, b + na, &e.nonpaged_allocs.to_le_bytes());
        put(&mut buf, b + nf, &e.nonpaged_frees.to_le_bytes());
        put(&mut buf, b + nu, &size_t(e.nonpaged_used));
    }
    buf
}

fn entry(tag: &[u8; 4], paged: (u32, u32, u64), nonpaged: (u32, u32, u64)) -> PoolTagCounters {
    PoolTagCounters {
        tag: PoolTag::from_bytes(*tag),
        paged_allocs: paged.0,
        paged_frees: paged.1,
        paged_used: paged.2,
        nonpaged_allocs: nonpaged.0,
        nonpaged_frees: nonpaged.1,
        nonpaged_used: nonpaged.2,
    }
}

/// `n` distinct entries with counters that differ per field, so a field read from the wrong
/// offset shows.
fn many(n: u32) -> Vec<PoolTagCounters> {
    (0..n)
        .map(|i| {
            let b = i.to_le_bytes();
            let tag = [
                b'A' + (b[0] % 26),
                b'a' + (b[1] % 26),
                b'0' + (b[0] / 26) % 10,
                b' ',
            ];
            entry(
                &tag,
                (i * 7 + 1, i * 5, u64::from(i) * 4096 + 3),
                (i * 11 + 2, i * 3 + 1, u64::from(i) * 512 + 9),
            )
        })
        .collect()
}

#[test]
fn the_layouts_are_the_c_layouts() {
    assert_eq!(
        size_of::<SystemPoolTag64>(),
        PointerWidth::Bits64.entry_size()
    );
    assert_eq!(
        size_of::<SystemPoolTag32>(),
        PointerWidth::Bits32.entry_size()
    );
    assert_eq!(
        offset_of!(SystemPoolTagInformation64, tag_info),
        PointerWidth::Bits64.header_size()
    );
    assert_eq!(
        offset_of!(SystemPoolTagInformation32, tag_info),
        PointerWidth::Bits32.header_size()
    );
    assert_eq!(
        (size_of::<SystemPoolTag64>(), size_of::<SystemPoolTag32>()),
        (40, 28)
    );
}

#[test]
fn both_layouts_read_tags_exactly_with_trailing_blanks_and_every_counter() {
    let entries = vec![
        entry(b"Io  ", (10, 4, 6 * 64), (0, 0, 0)),
        entry(b"Dh 1", (0, 0, 0), (24, 24, 0)),
        entry(b"Leak", (1, 0, 100), (u32::MAX, 3, 5_000_000_000)),
        entry(b"\x01ab\xff", (2, 1, 16), (2, 2, 0)),
    ];
    for width in [PointerWidth::Bits64, PointerWidth::Bits32] {
        let mut entries = entries.clone();
        if width == PointerWidth::Bits32 {
            entries[2].nonpaged_used = 4_000_000_000;
        }
        let buf = windows_buffer(width, 4, &entries);
        assert_eq!(parse(&buf, width).unwrap(), entries, "{width}");
        assert_eq!(parse(&buf, width).unwrap()[0].tag.bytes(), b"Io  ");
    }
}

#[test]
fn thousands_of_entries_read_in_both_layouts() {
    let entries = many(5_000);
    for width in [PointerWidth::Bits64, PointerWidth::Bits32] {
        let buf = windows_buffer(width, 5_000, &entries);
        assert_eq!(buf.len(), width.header_size() + 5_000 * width.entry_size());
        assert_eq!(parse(&buf, width).unwrap(), entries, "{width}");
    }
}

#[test]
fn a_buffer_bigger_than_the_count_is_read_to_the_count() {
    let entries = many(10);
    let mut buf = windows_buffer(PointerWidth::Bits64, 7, &entries);
    buf.extend([0xCC; 13]);
    assert_eq!(parse(&buf, PointerWidth::Bits64).unwrap(), entries[..7]);
}

#[test]
fn a_64_bit_buffer_read_as_32_bit_does_not_give_the_same_entries() {
    let entries = many(50);
    let buf = windows_buffer(PointerWidth::Bits64, 50, &entries);
    let read = parse(&buf, PointerWidth::Bits32).unwrap();
    assert_ne!(read, entries);
}

#[test]
fn a_truncated_buffer_is_an_error_naming_the_numbers() {
    for width in [PointerWidth::Bits64, PointerWidth::Bits32] {
        let buf = windows_buffer(width, 3, &many(3));
        // Cut inside the last entry.
        let cut = &buf[..buf.len() - 5];
        let err = parse(cut, width).unwrap_err();
        assert_eq!(
            err,
            PoolTagInfoError::CountBeyondBuffer {
                count: 3,
                fit: 2,
                len: cut.len(),
                header: width.header_size(),
                entry: width.entry_size(),
                width,
                partial_entry: true,
            }
        );
        let message = err.to_string();
        assert!(message.contains("holds 3 tags"), "{message}");
        assert!(message.contains("hold only 2"), "{message}");
        assert!(message.contains("cut off"), "{message}");
        // No room for the count at all.
        let err = parse(&buf[..3], width).unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");
    }
    // The 64-bit header is 8 bytes: 4 bytes are a count without its padding.
    assert!(matches!(
        parse(&[0, 0, 0, 0], PointerWidth::Bits64),
        Err(PoolTagInfoError::NoHeader {
            len: 4,
            header: 8,
            ..
        })
    ));
    assert_eq!(parse(&[0, 0, 0, 0], PointerWidth::Bits32).unwrap(), []);
}

#[test]
fn a_count_larger_than_the_buffer_names_both_numbers() {
    let mut buf = windows_buffer(PointerWidth::Bits64, 2, &many(2));
    put(&mut buf, 0, &u32::MAX.to_le_bytes());
    let message = parse(&buf, PointerWidth::Bits64).unwrap_err().to_string();
    assert!(
        message.contains(&format!("holds {} tags", u32::MAX)),
        "{message}"
    );
    assert!(message.contains("hold only 2"), "{message}");
    assert!(!message.contains("cut off"), "{message}");
}

#[test]
fn rows_are_the_pools_a_tag_has_used_with_outstanding_only_when_it_can_be_known() {
    let counters = entry(b"Io  ", (10, 4, 384), (0, 0, 0));
    let rows: Vec<_> = counters.rows().collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (
            rows[0].pool,
            rows[0].allocs,
            rows[0].frees,
            rows[0].outstanding,
            rows[0].bytes
        ),
        (PoolKind::Paged, Some(10), Some(4), Some(6), 384)
    );
    // A wrapped 32-bit counter: more frees than allocations.
    let wrapped = entry(b"Wrap", (0, 0, 0), (3, 7, 64));
    let rows: Vec<_> = wrapped.rows().collect();
    assert_eq!(
        (rows[0].pool, rows[0].outstanding),
        (PoolKind::NonPaged, None)
    );
}

/// The poolmon text a person would have captured for the same counters.
const POOLMON_TEXT: &str = "\
 Tag  Type     Allocs            Frees            Diff   Bytes       Per Alloc

 Leak Nonp       2100         200       1900  19456000      10240
 File Nonp      51000       50000       1000    400000        400
 Io   Paged        10           4          6       384         64
 Dh 1 Paged        30          30          0         0          0
";

#[test]
fn a_written_snapshot_reads_back_as_the_equivalent_poolmon_text() {
    let entries = vec![
        entry(b"Io  ", (10, 4, 384), (0, 0, 0)),
        entry(b"Dh 1", (30, 30, 0), (0, 0, 0)),
        entry(b"File", (0, 0, 0), (51_000, 50_000, 400_000)),
        entry(b"Leak", (0, 0, 0), (2100, 200, 19_456_000)),
    ];
    let buf = windows_buffer(PointerWidth::Bits64, 4, &entries);
    let written = write_poolmon(None, &rows(&parse(&buf, PointerWidth::Bits64).unwrap()));
    assert!(written.left_out.is_empty());
    let numbers = |text: &str| {
        let parsed = parse_snapshots(text.as_bytes(), &ParseOptions::default()).unwrap();
        assert_eq!(parsed.snapshots.len(), 1);
        let mut rows: Vec<_> = parsed.snapshots[0]
            .rows
            .iter()
            .map(|r| (r.tag, r.pool, r.allocs, r.frees, r.outstanding, r.bytes))
            .collect();
        rows.sort();
        (parsed.format, rows)
    };
    assert_eq!(
        numbers(&written.text),
        numbers(POOLMON_TEXT),
        "{}",
        written.text
    );
    // And the analysis answers both the same.
    let answer = |text: &str| {
        use crate::attribution::{AnalyzeOptions, InputFile, KnowledgeView, analyze, read_inputs};
        let view = KnowledgeView::from_entries(1, Vec::new());
        let files = [InputFile {
            name: Some("pool.txt".into()),
            bytes: text.as_bytes().to_vec(),
        }];
        let input = read_inputs(&files, None, None, &view).unwrap();
        let vendors = crate::vendor::VendorDirectory::embedded();
        let analysis = analyze(&input, &view, &vendors, &AnalyzeOptions::default());
        serde_json::to_value(&analysis.answer).unwrap()
    };
    let from_collect = answer(&written.text);
    assert_eq!(from_collect, answer(POOLMON_TEXT));
    let headline = from_collect["headline"].as_str().unwrap();
    assert!(headline.contains("`Leak` 18.6 MiB"), "{headline}");
}

#[test]
fn thousands_of_entries_survive_the_written_snapshot() {
    let entries = many(3_000);
    let buf = windows_buffer(PointerWidth::Bits32, 3_000, &entries);
    let rows = rows(&parse(&buf, PointerWidth::Bits32).unwrap());
    let written = write_poolmon(None, &rows);
    assert!(written.left_out.is_empty());
    let opts = ParseOptions {
        max_rows: 1 << 20,
        ..ParseOptions::default()
    };
    let parsed = parse_snapshots(written.text.as_bytes(), &opts).unwrap();
    let mut back: Vec<_> = parsed.snapshots[0]
        .rows
        .iter()
        .map(|r| (r.tag, r.pool, r.allocs, r.frees, r.bytes))
        .collect();
    let mut want: Vec<_> = rows
        .iter()
        .map(|r| (r.tag, r.pool, r.allocs, r.frees, r.bytes))
        .collect();
    back.sort();
    want.sort();
    assert_eq!(back, want);
}

proptest! {
    #[test]
    fn any_bytes_give_entries_or_an_error(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        for width in [PointerWidth::Bits64, PointerWidth::Bits32] {
            match parse(&bytes, width) {
                Ok(entries) => {
                    let count = u32::from_le_bytes(bytes[..4].try_into().unwrap());
                    prop_assert_eq!(entries.len() as u64, u64::from(count));
                    prop_assert!(width.header_size() + entries.len() * width.entry_size() <= bytes.len());
                }
                Err(e) => prop_assert!(!e.to_string().is_empty()),
            }
        }
    }

    #[test]
    fn a_small_count_over_any_bytes_reads(
        count in 0u32..12,
        body in proptest::collection::vec(any::<u8>(), 0..500),
    ) {
        for width in [PointerWidth::Bits64, PointerWidth::Bits32] {
            let mut buf = vec![0u8; width.header_size()];
            buf[..4].copy_from_slice(&count.to_le_bytes());
            buf.extend(&body);
            let fits = body.len() / width.entry_size() >= count as usize;
            prop_assert_eq!(parse(&buf, width).is_ok(), fits);
            if let Ok(entries) = parse(&buf, width) {
                // Writing what was read never panics, and every tag is written or listed.
                let rows = rows(&entries);
                let written = write_poolmon(None, &rows);
                prop_assert!(written.text.lines().count() >= 2);
            }
        }
    }

    #[test]
    fn entries_round_trip_through_a_windows_buffer(
        raw in proptest::collection::vec(
            (any::<[u8; 4]>(), any::<u32>(), any::<u32>(), any::<u32>(), any::<u32>(), any::<u32>(), any::<u32>()),
            0..40,
        ),
    ) {
        let entries: Vec<_> = raw
            .iter()
            .map(|&(t, pa, pf, pu, na, nf, nu)| entry(&t, (pa, pf, u64::from(pu)), (na, nf, u64::from(nu))))
            .collect();
        let n = u32::try_from(entries.len()).unwrap();
        for width in [PointerWidth::Bits64, PointerWidth::Bits32] {
            let buf = windows_buffer(width, n, &entries);
            prop_assert_eq!(&parse(&buf, width).unwrap(), &entries);
        }
    }
}
