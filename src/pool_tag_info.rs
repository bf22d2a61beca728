//! The pool-tag table Windows returns from `NtQuerySystemInformation(SystemPoolTagInformation)`
//! (information class 22), the same counters `poolmon.exe` shows, read from its bytes.
//!
//! The buffer is a `SYSTEM_POOLTAG_INFORMATION`:
//!
//! ```c
//! typedef struct _SYSTEM_POOLTAG {
//!     union { UCHAR Tag[4]; ULONG TagUlong; };
//!     ULONG PagedAllocs;
//!     ULONG PagedFrees;
//!     SIZE_T PagedUsed;
//!     ULONG NonPagedAllocs;
//!     ULONG NonPagedFrees;
//!     SIZE_T NonPagedUsed;
//! } SYSTEM_POOLTAG;
//!
//! typedef struct _SYSTEM_POOLTAG_INFORMATION {
//!     ULONG Count;
//!     SYSTEM_POOLTAG TagInfo[1];   // Count entries
//! } SYSTEM_POOLTAG_INFORMATION;
//! ```
//!
//! as declared in System Informer's `phnt/include/ntexapi.h` (winsiderss/systeminformer) and
//! ReactOS's `sdk/include/ndk/extypes.h`. With C's alignment rules this gives two layouts,
//! little-endian both:
//!
//! | | `SIZE_T` | `TagInfo` starts at | entry size | `PagedUsed` at | `NonPagedAllocs` at | `NonPagedUsed` at |
//! |---|---|---|---|---|---|---|
//! | 32-bit Windows | 4 | 4 | 28 | 12 | 16 | 24 |
//! | 64-bit Windows | 8 | 8 (4 bytes padding after `Count`) | 40 | 16 (4 bytes padding before) | 24 | 32 |
//!
//! The 32-bit offsets match the symbol dump of `_SYSTEM_POOLTAG` from a 32-bit ntoskrnl in
//! ntdiff/headers (`/* size: 0x001c */`); on 64-bit Windows the 8-byte `SIZE_T` fields are
//! aligned to 8, which puts a 4-byte gap before each of them and after `Count`.
//!
//! The bytes come from the kernel, but this parser treats them as untrusted: any buffer gives
//! entries or an error, never a panic, and a `Count` the buffer cannot hold is an error that
//! names both numbers. Tags are kept exactly as the four bytes stored (trailing blanks too).

use std::fmt;

use crate::snapshot::{PoolKind, PoolUsage};
use crate::tag::PoolTag;

/// The information class number of `SystemPoolTagInformation`.
pub const SYSTEM_POOL_TAG_INFORMATION_CLASS: i32 = 22;

/// Which Windows wrote the buffer: the size of `SIZE_T` decides the layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PointerWidth {
    /// 32-bit Windows (or a 32-bit process on it): 4-byte `SIZE_T`, 28-byte entries.
    Bits32,
    /// 64-bit Windows: 8-byte `SIZE_T`, 40-byte entries.
    Bits64,
}

impl PointerWidth {
    /// The layout of the process this code runs in, which is the layout its own
    /// `NtQuerySystemInformation` call returns.
    pub const NATIVE: Self = if cfg!(target_pointer_width = "64") {
        Self::Bits64
    } else {
        Self::Bits32
    };

    const fn size_t(self) -> usize {
        match self {
            Self::Bits32 => 4,
            Self::Bits64 => 8,
        }
    }

    /// The offset of `TagInfo[0]`: `Count`, then padding to the entry's alignment.
    pub const fn header_size(self) -> usize {
        self.size_t()
    }

    /// `sizeof(SYSTEM_POOLTAG)`.
    pub const fn entry_size(self) -> usize {
        match self {
            Self::Bits32 => 28,
            Self::Bits64 => 40,
        }
    }

    /// Field offsets inside one entry: `PagedUsed`, `NonPagedAllocs`, `NonPagedFrees`,
    /// `NonPagedUsed` (`Tag` is at 0, `PagedAllocs` at 4, `PagedFrees` at 8 in both).
    const fn offsets(self) -> [usize; 4] {
        match self {
            Self::Bits32 => [12, 16, 20, 24],
            Self::Bits64 => [16, 24, 28, 32],
        }
    }

    const fn name(self) -> &'static str {
        match self {
            Self::Bits32 => "32-bit",
            Self::Bits64 => "64-bit",
        }
    }
}

impl fmt::Display for PointerWidth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One `SYSTEM_POOLTAG`: a tag's counters since boot in the paged and the nonpaged pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolTagCounters {
    pub tag: PoolTag,
    pub paged_allocs: u32,
    pub paged_frees: u32,
    /// Bytes the tag holds in paged pool now.
    pub paged_used: u64,
    pub nonpaged_allocs: u32,
    pub nonpaged_frees: u32,
    pub nonpaged_used: u64,
}

impl PoolTagCounters {
    /// The tag's rows as poolmon shows them: one per pool the tag has ever used (a pool with
    /// no allocation, no free and no bytes has no row). Outstanding is `allocs - frees`, and
    /// unknown when the frees exceed the allocations: the kernel's 32-bit counters wrap.
    pub fn rows(&self) -> impl Iterator<Item = PoolUsage> + '_ {
        [
            (
                PoolKind::Paged,
                self.paged_allocs,
                self.paged_frees,
                self.paged_used,
            ),
            (
                PoolKind::NonPaged,
                self.nonpaged_allocs,
                self.nonpaged_frees,
                self.nonpaged_used,
            ),
        ]
        .into_iter()
        .filter(|&(_, allocs, frees, used)| allocs != 0 || frees != 0 || used != 0)
        .map(|(pool, allocs, frees, used)| PoolUsage {
            allocs: Some(u64::from(allocs)),
            frees: Some(u64::from(frees)),
            outstanding: u64::from(allocs).checked_sub(u64::from(frees)),
            ..PoolUsage::new(self.tag, pool, used)
        })
    }
}

/// Why a buffer is not a `SYSTEM_POOLTAG_INFORMATION`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolTagInfoError {
    #[error(
        "the SystemPoolTagInformation buffer is truncated: it has {len} bytes, fewer than the {header}-byte header ({width} layout) that holds the tag count"
    )]
    NoHeader {
        len: usize,
        header: usize,
        width: PointerWidth,
    },
    #[error(
        "the SystemPoolTagInformation buffer says it holds {count} tags, but its {len} bytes hold only {fit} ({width} layout: {header}-byte header, {entry}-byte entries{cut})",
        cut = if *partial_entry { "; the last entry is cut off" } else { "" }
    )]
    CountBeyondBuffer {
        count: u32,
        fit: usize,
        len: usize,
        header: usize,
        entry: usize,
        width: PointerWidth,
        partial_entry: bool,
    },
}

/// Reads the `Count` entries of a `SYSTEM_POOLTAG_INFORMATION` buffer laid out for `width`.
/// Bytes after the last entry (Windows fills a buffer bigger than needed) are ignored.
pub fn parse(buffer: &[u8], width: PointerWidth) -> Result<Vec<PoolTagCounters>, PoolTagInfoError> {
    let header = width.header_size();
    let entry = width.entry_size();
    if buffer.len() < header {
        return Err(PoolTagInfoError::NoHeader {
            len: buffer.len(),
            header,
            width,
        });
    }
    let count = u32_at(buffer, 0);
    let body = &buffer[header..];
    let fit = body.len() / entry;
    let wanted = usize::try_from(count).unwrap_or(usize::MAX);
    if wanted > fit {
        return Err(PoolTagInfoError::CountBeyondBuffer {
            count,
            fit,
            len: buffer.len(),
            header,
            entry,
            width,
            partial_entry: !body.len().is_multiple_of(entry),
        });
    }
    let [paged_used, nonpaged_allocs, nonpaged_frees, nonpaged_used] = width.offsets();
    Ok(body
        .chunks_exact(entry)
        .take(wanted)
        .map(|e| PoolTagCounters {
            tag: PoolTag::from_bytes([e[0], e[1], e[2], e[3]]),
            paged_allocs: u32_at(e, 4),
            paged_frees: u32_at(e, 8),
            paged_used: size_t_at(e, paged_used, width),
            nonpaged_allocs: u32_at(e, nonpaged_allocs),
            nonpaged_frees: u32_at(e, nonpaged_frees),
            nonpaged_used: size_t_at(e, nonpaged_used, width),
        })
        .collect())
}

/// The little-endian `ULONG` at `at` (`at + 4 <= bytes.len()` for every caller).
fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut b = [0; 4];
    b.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(b)
}

fn size_t_at(entry: &[u8], at: usize, width: PointerWidth) -> u64 {
    match width {
        PointerWidth::Bits32 => u64::from(u32_at(entry, at)),
        PointerWidth::Bits64 => {
            let mut b = [0; 8];
            b.copy_from_slice(&entry[at..at + 8]);
            u64::from_le_bytes(b)
        }
    }
}

/// Every row of a parsed table, in the table's order.
pub fn rows(entries: &[PoolTagCounters]) -> Vec<PoolUsage> {
    entries.iter().flat_map(PoolTagCounters::rows).collect()
}

#[cfg(test)]
mod tests;
