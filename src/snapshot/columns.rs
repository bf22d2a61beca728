//! Header-driven row mapping shared by CSV/TSV, PowerShell tables, markdown tables and JSON
//! row objects: each header is given a role by its name (with common synonyms and units), and
//! each row's cells are read through those roles.

use std::collections::HashMap;

use super::text::{
    find_timestamp, parse_count, parse_size, parse_timestamp, tag_from_field, unit_multiplier,
};
use super::{Ctx, PoolKind, PoolUsage, Snapshot};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Measure {
    Allocs,
    Frees,
    Outstanding,
    /// Bytes per unit.
    Bytes(u64),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Role {
    Tag,
    Pool,
    Driver,
    Time,
    Callers,
    /// A measure for the row's own pool.
    Plain(Measure),
    /// A measure for a pool named by the header (`PagedUsed`, `NonPagedAllocs`).
    Split(PoolKind, Measure),
    /// A byte column per snapshot (`Day 1 (MB)`, `2026-11-01`): a series in one table.
    Series {
        unit: u64,
        header: String,
    },
    Ignore,
}

/// The roles of a table's columns.
#[derive(Debug, Clone)]
pub(crate) struct Columns {
    roles: Vec<Role>,
}

/// Snapshots being filled from table rows (one, one per time value, or one per series column).
#[derive(Default)]
pub(crate) struct TableSink {
    pub(crate) snapshots: Vec<Snapshot>,
    by_key: HashMap<String, usize>,
}

impl TableSink {
    fn slot(&mut self, key: String, make: impl FnOnce() -> Snapshot) -> usize {
        if let Some(&i) = self.by_key.get(&key) {
            return i;
        }
        self.snapshots.push(make());
        self.by_key.insert(key, self.snapshots.len() - 1);
        self.snapshots.len() - 1
    }

    /// Moves out the filled snapshots, leaving the sink empty for the next table.
    pub(crate) fn take(&mut self) -> Vec<Snapshot> {
        self.by_key.clear();
        std::mem::take(&mut self.snapshots)
    }
}

/// Lower-cased words of a header, split on anything not alphanumeric and on camelCase humps.
fn words(header: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in header.chars() {
        if c.is_alphanumeric() || c == '#' || c == '%' {
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

fn is_unit_word(w: &str) -> Option<u64> {
    match w {
        "k" | "kb" | "kib" | "m" | "mb" | "mib" | "g" | "gb" | "gib" | "tb" | "tib" | "bytes"
        | "b" => unit_multiplier(w),
        _ => None,
    }
}

fn measure_of(stem: &str, unit: Option<u64>) -> Option<Measure> {
    let bytes = Measure::Bytes(unit.unwrap_or(1));
    Some(match stem {
        "allocs"
        | "allocations"
        | "numberofallocs"
        | "numberofallocations"
        | "alloccount"
        | "totalallocs"
        | "allocated"
        | "alloc"
        | "runningallocs" => Measure::Allocs,
        "frees" | "numberoffrees" | "freecount" | "totalfrees" | "free" | "freed"
        | "runningfrees" => Measure::Frees,
        "diff" | "outstanding" | "outstandingallocs" | "difference" | "count" | "inuse"
        | "live" | "current" | "allocsoutstanding" | "objects" | "blocks" | "outstandingcount"
        | "netallocs" => Measure::Outstanding,
        "bytes" | "totalbytes" | "used" | "usedbytes" | "size" | "memory" | "totalused"
        | "totalsize" | "amount" | "mem" | "usage" | "bytesused" | "poolbytes" | "total" | "" => {
            bytes
        }
        _ => return None,
    })
}

/// The role a header names.
pub(crate) fn role_of(header: &str) -> Role {
    let ws = words(header);
    let mut unit = None;
    let mut stem_words = Vec::new();
    for w in &ws {
        match is_unit_word(w) {
            // `Bytes` alone is the stem, not only a unit.
            Some(u) if !(ws.len() == 1 && (w == "bytes" || w == "b")) => unit = Some(u),
            _ => stem_words.push(w.as_str()),
        }
    }
    let mut stem: String = stem_words.concat();
    // `SizeMB`, `BytesKB`, `UsedMB` written as one word.
    for (suffix, mult) in [("kb", 1u64 << 10), ("mb", 1 << 20), ("gb", 1 << 30)] {
        if let Some(s) = stem.strip_suffix(suffix)
            && measure_of(s, None).is_some_and(|m| matches!(m, Measure::Bytes(_)))
            && !s.is_empty()
        {
            unit = Some(mult);
            stem = s.to_owned();
            break;
        }
    }
    match stem.as_str() {
        "tag" | "pooltag" | "tagname" | "tags" | "pooltags" => return Role::Tag,
        "type" | "pooltype" | "pool" | "kind" | "pooltyp" | "pooltypename" => return Role::Pool,
        "mappeddriver" | "driver" | "description" | "desc" | "binary" | "module" | "owner"
        | "source" | "component" | "image" | "drivers" | "mapped" | "mappeddrivers" => {
            return Role::Driver;
        }
        "time" | "timestamp" | "date" | "datetime" | "takenat" | "taken" | "when" | "snapshot"
        | "sampletime" | "collected" | "collectedat" => return Role::Time,
        "callers" | "caller" | "callersaddress" => return Role::Callers,
        "peralloc" | "bytesperalloc" | "avg" | "average" | "averagesize" | "#" | "rank" | "no"
        | "index" | "percent" | "pct" | "share" | "%" | "peralloca" => return Role::Ignore,
        _ => {}
    }
    if [
        "delta", "change", "growth", "increase", "decrease", "trend", "rate", "perday", "perhour",
    ]
    .iter()
    .any(|d| stem.contains(d))
        || stem.starts_with('Δ')
        || header.contains('Δ')
    {
        return Role::Ignore;
    }
    if unit.is_none() && stem.is_empty() {
        return Role::Ignore;
    }
    if let Some(m) = measure_of(&stem, unit) {
        return Role::Plain(m);
    }
    for (prefix, kind) in [
        ("nonpaged", PoolKind::NonPaged),
        ("nonp", PoolKind::NonPaged),
        ("np", PoolKind::NonPaged),
        ("paged", PoolKind::Paged),
        ("session", PoolKind::Session),
        ("sess", PoolKind::Session),
    ] {
        if let Some(rest) = stem.strip_prefix(prefix) {
            let rest = rest.strip_prefix("pool").unwrap_or(rest);
            if let Some(m) = measure_of(rest, unit) {
                return Role::Split(kind, m);
            }
        }
    }
    let looks_like_time = parse_timestamp(header).is_some()
        || [
            "day", "week", "hour", "before", "after", "baseline", "sample", "run", "boot", "t0",
            "t1", "t2", "start", "end", "morning", "evening", "now", "then", "mon", "tue", "wed",
            "thu", "fri", "sat", "sun",
        ]
        .iter()
        .any(|w| {
            ws.iter().any(|x| {
                x == w || (x.starts_with(w) && x[w.len()..].chars().all(|c| c.is_ascii_digit()))
            })
        });
    if looks_like_time || (unit.is_some() && !stem.is_empty()) {
        return Role::Series {
            unit: unit.unwrap_or(1),
            header: header.trim().to_owned(),
        };
    }
    Role::Ignore
}

/// Is this header cell the tag column?
pub(crate) fn is_tag_header(cell: &str) -> bool {
    role_of(cell.trim().trim_matches('"')) == Role::Tag
}

/// A pool-type cell: `Nonp`, `NonPaged`, `NP`, `Paged`, `Session`, POOL_TYPE numbers `0`/`1`.
pub(crate) fn pool_of(cell: &str) -> Option<PoolKind> {
    let c: String = cell
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect();
    Some(match c.as_str() {
        "" => return None,
        "0" | "512" | "np" | "npp" | "nonp" | "n" => PoolKind::NonPaged,
        "1" | "p" | "pp" | "page" => PoolKind::Paged,
        "32" | "33" | "s" => PoolKind::Session,
        _ if c.starts_with("sess") => PoolKind::Session,
        _ if c.starts_with("non") => PoolKind::NonPaged,
        _ if c.starts_with("paged") => PoolKind::Paged,
        _ => return None,
    })
}

/// The tag text of a cell: backticks or quotes keep the exact text (trailing spaces too);
/// otherwise the cell is trimmed; markdown bold/italic markers are dropped.
pub(crate) fn tag_cell(cell: &str) -> &str {
    let t = cell.trim();
    let t = t.trim_start_matches("**").trim_end_matches("**");
    for q in ['`', '\'', '"'] {
        if t.len() >= 2
            && let Some(inner) = t.strip_prefix(q).and_then(|s| s.strip_suffix(q))
        {
            return inner;
        }
    }
    t.trim_matches('*').trim_matches('_').trim()
}

fn empty_cell(cell: &str) -> bool {
    matches!(
        cell.trim().to_ascii_lowercase().as_str(),
        "" | "-" | "—" | "n/a" | "na" | "null" | "none" | "?"
    )
}

impl Columns {
    /// Roles for the headers, or why the table is not a pool table.
    pub(crate) fn from_headers<S: AsRef<str>>(headers: &[S]) -> Result<Self, String> {
        let mut roles: Vec<Role> = headers.iter().map(|h| role_of(h.as_ref())).collect();
        let Some(tag_col) = roles.iter().position(|r| *r == Role::Tag) else {
            return Err("no tag column in the header (expected a column named Tag)".into());
        };
        // A second Tag column (e.g. both `Tag` and `PoolTag`) is ignored.
        for (i, r) in roles.iter_mut().enumerate() {
            if *r == Role::Tag && i != tag_col {
                *r = Role::Ignore;
            }
        }
        // Several plain byte columns (`Used` and `Bytes (MB)`): the first one counts.
        let mut seen_bytes = false;
        for r in &mut roles {
            if matches!(r, Role::Plain(Measure::Bytes(_))) {
                if seen_bytes {
                    *r = Role::Ignore;
                }
                seen_bytes = true;
            }
        }
        let has_bytes = roles.iter().any(|r| {
            matches!(
                r,
                Role::Plain(Measure::Bytes(_)) | Role::Split(_, Measure::Bytes(_))
            )
        });
        if has_bytes {
            for r in &mut roles {
                if matches!(r, Role::Series { .. }) {
                    *r = Role::Ignore;
                }
            }
        } else if !roles.iter().any(|r| matches!(r, Role::Series { .. })) {
            return Err(
                "no bytes column in the header (expected Bytes, Used, TotalBytes, Size (MB), \
                 PagedUsed/NonPagedUsed or per-date byte columns)"
                    .into(),
            );
        }
        Ok(Self { roles })
    }

    fn is_series(&self) -> bool {
        self.roles.iter().any(|r| matches!(r, Role::Series { .. }))
    }

    /// Reads one row into the sink; problems become warnings for `line`.
    pub(crate) fn add_row<S: AsRef<str>>(
        &self,
        cells: &[S],
        line: usize,
        ctx: &mut Ctx,
        sink: &mut TableSink,
    ) {
        if cells.iter().all(|c| c.as_ref().trim().is_empty()) {
            return;
        }
        let mut tag = None;
        let mut pool = None;
        let mut driver = None;
        let mut time_key: Option<String> = None;
        let mut callers = Vec::new();
        let mut plain = [None::<u64>; 4];
        let mut split: Vec<(PoolKind, [Option<u64>; 4])> = Vec::new();
        let mut series: Vec<(String, u64)> = Vec::new();
        for (i, role) in self.roles.iter().enumerate() {
            let Some(cell) = cells.get(i).map(AsRef::as_ref) else {
                continue;
            };
            match role {
                Role::Tag => {
                    let text = tag_cell(cell);
                    if text.trim().is_empty() {
                        ctx.warn(line, "row without a tag skipped");
                        return;
                    }
                    match tag_from_field(text) {
                        Some(t) => tag = Some(t),
                        None => {
                            let lower = text.trim().to_ascii_lowercase();
                            if !matches!(
                                lower.as_str(),
                                "total" | "totals" | "sum" | "all" | "(total)" | "grand total"
                            ) {
                                ctx.warn(line, format!("{text:?} is not a pool tag (1 to 4 characters); row skipped"));
                            }
                            return;
                        }
                    }
                }
                Role::Pool => {
                    if !empty_cell(cell) {
                        match pool_of(cell) {
                            Some(p) => pool = Some(p),
                            None => ctx.warn(
                                line,
                                format!(
                                    "pool type {:?} not understood; counted as unknown",
                                    cell.trim()
                                ),
                            ),
                        }
                    }
                }
                Role::Driver => {
                    let d = cell.trim();
                    if !d.is_empty() {
                        driver = Some(d.to_owned());
                    }
                }
                Role::Time => {
                    let t = cell.trim();
                    if !t.is_empty() {
                        time_key = Some(t.to_owned());
                    }
                }
                Role::Callers => {
                    callers.extend(
                        cell.split([';', '|', '\n'])
                            .map(str::trim)
                            .filter(|s| !s.is_empty())
                            .map(str::to_owned),
                    );
                }
                Role::Plain(m) | Role::Split(_, m) => {
                    if empty_cell(cell) {
                        continue;
                    }
                    let (slot, value) = match m {
                        Measure::Allocs => (0, parse_count(cell)),
                        Measure::Frees => (1, parse_count(cell)),
                        Measure::Outstanding => (2, parse_count(cell)),
                        Measure::Bytes(unit) => (3, parse_size(cell, *unit)),
                    };
                    let Some(value) = value else {
                        if slot == 3 {
                            ctx.warn(
                                line,
                                format!("{:?} is not a byte count; row skipped", cell.trim()),
                            );
                            return;
                        }
                        ctx.warn(
                            line,
                            format!("{:?} is not a count; left empty", cell.trim()),
                        );
                        continue;
                    };
                    match role {
                        Role::Split(kind, _) => match split.iter_mut().find(|(k, _)| k == kind) {
                            Some((_, v)) => v[slot] = Some(value),
                            None => {
                                let mut v = [None; 4];
                                v[slot] = Some(value);
                                split.push((*kind, v));
                            }
                        },
                        _ => plain[slot] = Some(value),
                    }
                }
                Role::Series { unit, header } => {
                    if empty_cell(cell) {
                        continue;
                    }
                    match parse_size(cell, *unit) {
                        Some(v) => series.push((header.clone(), v)),
                        None => ctx.warn(
                            line,
                            format!(
                                "{:?} under {header:?} is not a byte count; left out",
                                cell.trim()
                            ),
                        ),
                    }
                }
                Role::Ignore => {}
            }
        }
        let Some(tag) = tag else {
            ctx.warn(line, "row without a tag skipped");
            return;
        };
        let make = |pool: PoolKind, v: [Option<u64>; 4]| PoolUsage {
            tag,
            pool,
            allocs: v[0],
            frees: v[1],
            outstanding: v[2],
            bytes: v[3].unwrap_or(0),
            mapped_driver: driver.clone(),
            callers: callers.clone(),
        };
        let mut out: Vec<(usize, PoolUsage)> = Vec::new();
        if self.is_series() {
            for (header, bytes) in series {
                let i = sink.slot(format!("series:{header}"), || Snapshot {
                    taken_at: find_timestamp(&header),
                    label: Some(header.clone()),
                    ..Snapshot::default()
                });
                let mut u = make(pool.unwrap_or(PoolKind::Unknown), plain);
                u.bytes = bytes;
                out.push((i, u));
            }
        } else {
            let key = time_key.clone().unwrap_or_default();
            let i = sink.slot(format!("time:{key}"), || Snapshot {
                taken_at: time_key.as_deref().and_then(parse_timestamp),
                label: time_key.clone(),
                ..Snapshot::default()
            });
            if plain[3].is_some() {
                out.push((i, make(pool.unwrap_or(PoolKind::Unknown), plain)));
            }
            for (kind, v) in split {
                if v[3].is_none() && v.iter().all(|x| x.is_none_or(|n| n == 0)) {
                    continue;
                }
                if v.iter().all(|x| x.is_none_or(|n| n == 0)) {
                    continue;
                }
                if v[3].is_none() {
                    ctx.warn(
                        line,
                        format!("no {kind} bytes for tag {tag}; {kind} counts left out"),
                    );
                    continue;
                }
                out.push((i, make(kind, v)));
            }
            if out.is_empty() && plain[3].is_none() {
                let zero_split = self.roles.iter().any(|r| matches!(r, Role::Split(..)));
                if !zero_split {
                    ctx.warn(line, format!("no byte count for tag {tag}; row skipped"));
                }
            }
        }
        for (i, u) in out {
            if !ctx.take_row(line) {
                return;
            }
            sink.snapshots[i].rows.push(u);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_synonyms() {
        assert_eq!(role_of("Tag"), Role::Tag);
        assert_eq!(role_of("PoolType"), Role::Pool);
        assert_eq!(role_of("NumberOfAllocs"), Role::Plain(Measure::Allocs));
        assert_eq!(role_of("TotalBytes"), Role::Plain(Measure::Bytes(1)));
        assert_eq!(role_of("Bytes (MB)"), Role::Plain(Measure::Bytes(1 << 20)));
        assert_eq!(role_of("SizeKB"), Role::Plain(Measure::Bytes(1 << 10)));
        assert_eq!(role_of("Used"), Role::Plain(Measure::Bytes(1)));
        assert_eq!(
            role_of("PagedUsed"),
            Role::Split(PoolKind::Paged, Measure::Bytes(1))
        );
        assert_eq!(
            role_of("NonPagedAllocs"),
            Role::Split(PoolKind::NonPaged, Measure::Allocs)
        );
        assert_eq!(
            role_of("NonPagedFrees"),
            Role::Split(PoolKind::NonPaged, Measure::Frees)
        );
        assert_eq!(
            role_of("Paged (MB)"),
            Role::Split(PoolKind::Paged, Measure::Bytes(1 << 20))
        );
        assert_eq!(role_of("Per Alloc"), Role::Ignore);
        assert_eq!(role_of("Delta (MB)"), Role::Ignore);
        assert_eq!(role_of("Mapped_Driver"), Role::Driver);
        assert!(matches!(
            role_of("Day 1 (MB)"),
            Role::Series {
                unit: 1_048_576,
                ..
            }
        ));
        assert!(matches!(
            role_of("2026-11-01"),
            Role::Series { unit: 1, .. }
        ));
        assert_eq!(role_of("Diff"), Role::Plain(Measure::Outstanding));
    }

    #[test]
    fn pool_cells() {
        assert_eq!(pool_of("Nonp"), Some(PoolKind::NonPaged));
        assert_eq!(pool_of("Non-paged"), Some(PoolKind::NonPaged));
        assert_eq!(pool_of("PagedPool"), Some(PoolKind::Paged));
        assert_eq!(pool_of("Paged"), Some(PoolKind::Paged));
        assert_eq!(pool_of("Sess"), Some(PoolKind::Session));
        assert_eq!(pool_of("weird"), None);
    }
}
