//! The words of a header: split, and read as units, measures, pools and change words.

use crate::snapshot::PoolKind;

/// Lower-cased words of a header, split on anything not alphanumeric and on camelCase humps
/// (`NumberOfAllocs` → number, of, allocs). `%`, `#` and `Δ` are words of their own.
pub(crate) fn words(header: &str) -> Vec<String> {
    // `MiB` is one word, not the humps `Mi` and `B`.
    let header = header
        .replace("KiB", "KIB")
        .replace("MiB", "MIB")
        .replace("GiB", "GIB")
        .replace("TiB", "TIB");
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in header.chars() {
        if matches!(c, '%' | '#' | 'Δ' | 'δ') {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            out.push(c.to_lowercase().collect());
            prev_lower = false;
        } else if c.is_alphanumeric() {
            if c.is_uppercase() && prev_lower && !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = c.is_lowercase() || c.is_ascii_digit();
            cur.extend(c.to_lowercase());
        } else {
            prev_lower = false;
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Bytes per unit of a unit word.
pub(super) fn unit_word(w: &str) -> Option<u64> {
    Some(match w {
        "b" | "bytes" | "byte" => 1,
        "k" | "kb" | "kib" | "kbytes" => 1 << 10,
        "m" | "mb" | "mib" | "mbytes" => 1 << 20,
        "g" | "gb" | "gib" | "gbytes" => 1 << 30,
        "tb" | "tib" => 1 << 40,
        _ => return None,
    })
}

/// A word with a unit glued on (`sizegb`, `usedmb`, `pagedkb`): the stem and the unit.
pub(super) fn split_glued_unit(w: &str) -> Option<(&str, u64)> {
    for (suffix, unit) in [
        ("kib", 1u64 << 10),
        ("mib", 1 << 20),
        ("gib", 1 << 30),
        ("kb", 1 << 10),
        ("mb", 1 << 20),
        ("gb", 1 << 30),
    ] {
        if let Some(stem) = w.strip_suffix(suffix)
            && stem.len() >= 2
            && (measure_word(stem).is_some() || pool_word(stem).is_some())
        {
            return Some((stem, unit));
        }
    }
    None
}

#[derive(Clone, Copy, PartialEq)]
pub(super) enum Word {
    Allocs,
    Frees,
    Outstanding,
    Bytes,
}

pub(super) fn measure_word(w: &str) -> Option<Word> {
    Some(match w {
        "allocs" | "allocations" | "alloc" | "allocated" | "numberofallocs" | "totalallocs"
        | "runningallocs" | "alloccount" | "allocation" => Word::Allocs,
        "frees" | "free" | "freed" | "numberoffrees" | "totalfrees" | "runningfrees"
        | "freecount" => Word::Frees,
        "diff" | "outstanding" | "difference" | "count" | "inuse" | "live" | "objects"
        | "blocks" | "net" | "netallocs" | "outstandingallocs" | "allocsoutstanding" => {
            Word::Outstanding
        }
        "bytes" | "byte" | "totalbytes" | "used" | "usedbytes" | "size" | "memory" | "mem"
        | "usage" | "total" | "totalused" | "totalsize" | "amount" | "current" | "bytesused"
        | "poolbytes" | "consumption" | "footprint" => Word::Bytes,
        _ => return None,
    })
}

pub(super) fn pool_word(w: &str) -> Option<PoolKind> {
    Some(match w {
        "nonpaged" | "nonp" | "np" | "npp" | "nonpagedpool" => PoolKind::NonPaged,
        "paged" | "pp" | "p" | "pagedpool" => PoolKind::Paged,
        "session" | "sess" | "sessionpool" => PoolKind::Session,
        _ => return None,
    })
}

/// The words of a header that say it holds a change rather than a level.
pub(super) const CHANGE_WORDS: [&str; 12] = [
    "delta",
    "change",
    "changed",
    "growth",
    "grew",
    "increase",
    "increased",
    "δ",
    "rate",
    "trend",
    "gain",
    "added",
];

pub(super) const IGNORED_WORDS: [&str; 14] = [
    "%", "percent", "pct", "share", "ratio", "rank", "#", "no", "index", "avg", "average",
    "peralloc", "per", "mean",
];

/// The role a header names, from its words alone.
pub(super) fn pool_word_of(ws: &[String], non_paged: bool) -> Option<PoolKind> {
    if non_paged {
        return Some(PoolKind::NonPaged);
    }
    ws.iter().find_map(|w| {
        pool_word(w).or_else(|| {
            // `PagedUsed`, `NonPagedAllocs` written as one lower-case word.
            ["nonpaged", "paged", "session"]
                .iter()
                .find(|p| w.starts_with(*p) && measure_word(&w[p.len()..]).is_some())
                .and_then(|p| pool_word(p))
        })
    })
}

pub(super) fn measure_of_words(ws: &[String]) -> Option<Word> {
    let joined: String = ws.concat();
    if let Some(m) = measure_word(&joined) {
        return Some(m);
    }
    if joined.contains("inuse") || ws.iter().any(|w| w == "outstanding" || w == "live") {
        return Some(Word::Outstanding);
    }
    ws.iter()
        .find_map(|w| {
            measure_word(w).or_else(|| {
                ["nonpaged", "paged", "session"]
                    .iter()
                    .find_map(|p| w.strip_prefix(p).and_then(measure_word))
            })
        })
        // `Allocs` beside `Used`: the header's last measure word names it (`Bytes per
        // alloc` was ignored above).
        .map(|first| {
            ws.iter()
                .rev()
                .find_map(|w| measure_word(w))
                .filter(|last| *last == Word::Bytes)
                .unwrap_or(first)
        })
}
