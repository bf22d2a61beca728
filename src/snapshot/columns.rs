//! The column-role model every table-ish layout shares (markdown, CSV/TSV, PowerShell
//! `Format-Table`, whitespace-aligned text, JSON row objects).
//!
//! A layout only splits lines into cells. Here each column gets a [`Role`]: from its header's
//! words (synonyms, units, the pool it names, a change period), and where the header says
//! nothing, from its cells (the column of tag-like cells is the tag column; a column of sizes
//! is bytes). Rows are read through the roles into [`RowReading`]s, and [`TableSink::finish`]
//! turns them into snapshots: one per table, per time value, per series column, per row (a
//! series of one tag), or two when the table gives changes (the earlier one computed).

use std::collections::HashMap;

use super::cell::{
    Amount, looks_like_tag, read_amount, read_count, read_hours, read_tag_cell, read_uptime,
    unwrap_emphasis, without_arrow_remark,
};
use super::table::pool_in_text;
use super::text::{find_timestamp, parse_timestamp};
use super::{Caveat, Ctx, PoolKind, PoolTotals, PoolUsage, Precision, Snapshot};
use crate::tag::PoolTag;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Measure {
    Allocs,
    Frees,
    Outstanding,
    /// Bytes per unit.
    Bytes(u64),
}

impl Measure {
    fn slot(self) -> usize {
        match self {
            Self::Allocs => 0,
            Self::Frees => 1,
            Self::Outstanding => 2,
            Self::Bytes(_) => 3,
        }
    }

    pub(crate) fn read(self, cell: &str) -> Option<Amount> {
        match self {
            Self::Bytes(unit) => read_amount(cell, unit),
            _ => read_count(cell),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Role {
    Tag,
    Pool,
    /// Owner text: a driver, description, module or note column.
    Driver,
    Time,
    /// Time since boot (or any clock of the input's own), in hours per unit.
    Uptime(f64),
    Callers,
    /// `exact`/`approximate`/... as the JSON form writes a row's precision.
    Precision,
    /// A measure for the row's own pool.
    Plain(Measure),
    /// A measure for a pool named by the header (`PagedUsed`, `NP (MB)`).
    Split(PoolKind, Measure),
    /// A change of a measure (`Delta (MB)`, `change over 3 days`, `Δ`): growth, over the period
    /// the header states when it states one.
    Change {
        measure: Measure,
        pool: Option<PoolKind>,
        period_hours: Option<f64>,
        header: String,
        /// The header names a unit or a measure (`Delta (MB)`, `Δ bytes`, `Net allocs`); a
        /// bare `delta over 4.91 days` does not, and is read as bytes only where the table
        /// says so (a bytes column beside it, units in its cells), else as counts.
        named: bool,
    },
    /// A byte column per snapshot (`Day 1 (MB)`, `2026-11-01`): a series in one table; or a
    /// column per state the paste compares (`while leaking`, `after reboot`).
    Series {
        unit: u64,
        header: String,
        state: Option<State>,
    },
    /// A column per tag (`` `Abcd` outstanding ``, `LkaL (MB)`): each row is a point in time.
    TagSeries(PoolTag, Measure),
    Ignore,
}

impl Role {
    fn is_bytes(&self) -> bool {
        matches!(
            self,
            Role::Plain(Measure::Bytes(_)) | Role::Split(_, Measure::Bytes(_))
        )
    }

    pub(crate) fn is_measure(&self) -> bool {
        matches!(
            self,
            Role::Plain(_)
                | Role::Split(..)
                | Role::Change { .. }
                | Role::Series { .. }
                | Role::TagSeries(..)
        )
    }
}

/// A state a column or row of a paste stands for, when it compares states instead of times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// `while leaking`, `before the fix`: the reading.
    Leaking,
    /// `after reboot`, `after uninstalling X`: context, not the leak's course.
    AfterChange,
}

/// Stems of the words naming a change a person made (`reboot`, `uninstalling`, `patched`).
const EVENT_STEMS: [&str; 13] = [
    "fix",
    "reboot",
    "restart",
    "updat",
    "upgrad",
    "uninstall",
    "remov",
    "patch",
    "disabl",
    "stop",
    "kill",
    "workaround",
    "hotfix",
];

/// The state a header or label names: a change word (`after reboot`, `before the fix`,
/// `post-patch`, `rebooted`) or a leak word (`while leaking`, `during the leak`). Plain
/// `before`/`after` are times, not states.
pub(crate) fn state_of(text: &str) -> Option<State> {
    let ws = words(text);
    let has = |set: &[&str]| ws.iter().any(|w| set.contains(&w.as_str()));
    let event = ws
        .iter()
        .any(|w| EVENT_STEMS.iter().any(|s| w.starts_with(s)));
    let after = has(&["after", "post", "since", "once", "with"]);
    let before = has(&["before", "pre", "while", "during", "without", "until"]);
    let leak = ws.iter().any(|w| w.starts_with("leak"));
    match (event, after, before, leak) {
        (true, true, _, _) => Some(State::AfterChange),
        (_, _, _, true) | (true, _, true, _) => Some(State::Leaking),
        (true, ..) => Some(State::AfterChange),
        _ => None,
    }
}

/// Lower-cased words of a header, split on anything not alphanumeric and on camelCase humps
/// (`NumberOfAllocs` → number, of, allocs). `%`, `#` and `Δ` are words of their own.
fn words(header: &str) -> Vec<String> {
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
fn unit_word(w: &str) -> Option<u64> {
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
fn split_glued_unit(w: &str) -> Option<(&str, u64)> {
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
enum Word {
    Allocs,
    Frees,
    Outstanding,
    Bytes,
}

fn measure_word(w: &str) -> Option<Word> {
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

fn pool_word(w: &str) -> Option<PoolKind> {
    Some(match w {
        "nonpaged" | "nonp" | "np" | "npp" | "nonpagedpool" => PoolKind::NonPaged,
        "paged" | "pp" | "p" | "pagedpool" => PoolKind::Paged,
        "session" | "sess" | "sessionpool" => PoolKind::Session,
        _ => return None,
    })
}

/// The words of a header that say it holds a change rather than a level.
const CHANGE_WORDS: [&str; 12] = [
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

const IGNORED_WORDS: [&str; 14] = [
    "%", "percent", "pct", "share", "ratio", "rank", "#", "no", "index", "avg", "average",
    "peralloc", "per", "mean",
];

/// The role a header names, from its words alone.
pub(crate) fn role_of(header: &str) -> Role {
    let header = unwrap_emphasis(header);
    let mut ws = words(header);
    // Glued units and pools: `SizeGB`, `Paged_KB` (split on `_` already), `NPKB`.
    let mut unit = None;
    let mut i = 0;
    while i < ws.len() {
        if let Some((stem, u)) = split_glued_unit(&ws[i]) {
            unit = Some(u);
            ws[i] = stem.to_owned();
        }
        i += 1;
    }
    let has = |w: &str| ws.iter().any(|x| x == w);
    let joined: String = ws.concat();
    let non_paged = ws
        .windows(2)
        .any(|p| p[0] == "non" && p[1].starts_with("paged"));

    match joined.as_str() {
        "tag" | "pooltag" | "tagname" | "tags" | "pooltags" | "tagid" => return Role::Tag,
        "type" | "pooltype" | "pool" | "kind" | "pooltyp" | "pooltypename" => return Role::Pool,
        "callers" | "caller" | "callersaddress" | "callsite" => return Role::Callers,
        "precision" => return Role::Precision,
        _ => {}
    }
    if ws.iter().any(|w| IGNORED_WORDS.contains(&w.as_str()))
        && !ws.iter().any(|w| CHANGE_WORDS.contains(&w.as_str()))
    {
        return Role::Ignore;
    }
    let driver_words = [
        "driver",
        "drivers",
        "description",
        "desc",
        "binary",
        "module",
        "owner",
        "source",
        "component",
        "image",
        "mapped",
        "mappeddriver",
        "notes",
        "note",
        "comment",
        "comments",
        "remarks",
        "what",
        "vendor",
        "file",
        "sys",
    ];
    if ws.iter().any(|w| driver_words.contains(&w.as_str())) && measure_of_words(&ws).is_none() {
        return Role::Driver;
    }
    if has("uptime") || has("elapsed") || (has("since") && has("boot")) {
        let per = if has("d") || has("days") || has("day") {
            24.0
        } else if has("min") || has("minutes") {
            1.0 / 60.0
        } else {
            1.0
        };
        return Role::Uptime(per);
    }
    if matches!(
        joined.as_str(),
        "time"
            | "timestamp"
            | "date"
            | "datetime"
            | "takenat"
            | "taken"
            | "when"
            | "snapshot"
            | "sampletime"
            | "collected"
            | "collectedat"
            | "capturedat"
            | "timeutc"
    ) {
        return Role::Time;
    }

    let mut pool = pool_word_of(&ws, non_paged);
    for w in &ws {
        if let Some(u) = unit_word(w)
            && !(ws.len() == 1 && w.starts_with('b'))
        {
            unit = Some(u);
        }
    }
    let measure = measure_of_words(&ws);
    // `while leaking`, `after reboot`, `Bytes before the fix`: a column per state.
    if let Some(state) = state_of(header)
        && matches!(measure, None | Some(Word::Bytes))
        && pool.is_none()
        && !ws
            .iter()
            .any(|w| CHANGE_WORDS.contains(&w.as_str()) && !w.starts_with("change"))
    {
        return Role::Series {
            unit: unit.unwrap_or(1),
            header: header.trim().to_owned(),
            state: Some(state),
        };
    }
    let is_change = ws.iter().any(|w| CHANGE_WORDS.contains(&w.as_str()));
    if is_change {
        let named = unit.is_some() || measure.is_some();
        let measure = match measure {
            Some(Word::Outstanding) | Some(Word::Allocs) if unit.is_none() => Measure::Outstanding,
            Some(_) => Measure::Bytes(unit.unwrap_or(1)),
            None => unit.map_or(Measure::Outstanding, Measure::Bytes),
        };
        return Role::Change {
            measure,
            pool,
            period_hours: read_hours(header),
            header: header.trim().to_owned(),
            named,
        };
    }
    // `Bytes/open`, `bytes per handle`: an average per item, not a measure.
    if let Some((_, per)) = header.split_once('/')
        && per.trim().chars().next().is_some_and(char::is_alphabetic)
        && read_hours(per).is_none()
        && !matches!(
            per.trim().to_ascii_lowercase().as_str(),
            "h" | "hr" | "d" | "s" | "sec" | "min" | "b" | "kb" | "mb" | "gb"
        )
    {
        return Role::Ignore;
    }
    // `Paged` alone is a pool *column* of bytes when it is a number column: `NP (MB)`,
    // `Paged_KB`, `Non Paged`.
    let measure = match measure {
        Some(m) => Some(m),
        None if pool.is_some() => Some(Word::Bytes),
        None if unit.is_some() && ws.iter().all(|w| unit_word(w).is_some()) => Some(Word::Bytes),
        None => None,
    };
    if let Some(word) = measure {
        let m = match word {
            Word::Allocs if has("use") || has("outstanding") || has("live") => Measure::Outstanding,
            Word::Allocs => Measure::Allocs,
            Word::Frees => Measure::Frees,
            Word::Outstanding => Measure::Outstanding,
            Word::Bytes => Measure::Bytes(unit.unwrap_or(1)),
        };
        // `Paged` inside `PagedUsed`: a split column. A pool word alone is never a time.
        return match pool.take() {
            Some(p) => Role::Split(p, m),
            None => Role::Plain(m),
        };
    }
    let looks_like_time = parse_timestamp(header).is_some()
        || find_timestamp(header).is_some()
        || [
            "day",
            "week",
            "hour",
            "before",
            "after",
            "baseline",
            "sample",
            "run",
            "boot",
            "t0",
            "t1",
            "t2",
            "start",
            "end",
            "morning",
            "evening",
            "now",
            "then",
            "mon",
            "tue",
            "wed",
            "thu",
            "fri",
            "sat",
            "sun",
            "today",
            "yesterday",
        ]
        .iter()
        .any(|w| {
            ws.iter().any(|x| {
                x == w || (x.starts_with(w) && x[w.len()..].chars().all(|c| c.is_ascii_digit()))
            })
        });
    if looks_like_time || (unit.is_some() && !ws.is_empty()) {
        return Role::Series {
            unit: unit.unwrap_or(1),
            header: header.trim().to_owned(),
            state: None,
        };
    }
    Role::Ignore
}

fn pool_word_of(ws: &[String], non_paged: bool) -> Option<PoolKind> {
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

fn measure_of_words(ws: &[String]) -> Option<Word> {
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

/// A column per tag (`` `Abcd` outstanding ``, `LkaL (MB)`, `Thre bytes`): the tag and what the
/// column measures. Only asked when the table has no tag column.
pub(crate) fn tag_series_of(header: &str) -> Option<(PoolTag, Measure)> {
    let h = unwrap_emphasis(header);
    let (tag, rest) = read_tag_cell(h)?;
    let decorated = h.starts_with(['`', '"', '\'', '*']);
    let rest = rest.unwrap_or_default();
    let role = role_of(&rest);
    let measure = match role {
        Role::Plain(m) | Role::Split(_, m) => m,
        Role::Series { unit, .. } => Measure::Bytes(unit),
        Role::Ignore if rest.is_empty() && decorated => Measure::Bytes(1),
        _ => return None,
    };
    // A bare short word is a tag only when it is no header word itself (`Used (MB)` is not
    // the tag `Used`).
    let bare = tag.to_string();
    if !decorated && role_of(bare.trim_end()) != Role::Ignore {
        return None;
    }
    Some((tag, measure))
}

/// A pool-type cell: `Nonp`, `NonPaged`, `Non Paged`, `NP`, `Paged`, `P`, `Session`, POOL_TYPE
/// numbers `0`/`1`.
pub(crate) fn pool_of(cell: &str) -> Option<PoolKind> {
    let c: String = unwrap_emphasis(cell)
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

/// Columns of pool totals and no tag column (`Time  PagedPoolMB  NonpagedPoolMB`,
/// `PoolPagedBytes`, `\\HOST\memory\pool nonpaged bytes`): the machine's totals over time.
pub(crate) fn names_pool_totals(roles: &[Role]) -> bool {
    !roles
        .iter()
        .any(|r| matches!(r, Role::Tag | Role::TagSeries(..)))
        && roles.iter().any(|r| {
            matches!(
                r,
                Role::Split(PoolKind::Paged | PoolKind::NonPaged, Measure::Bytes(_))
            )
        })
}

/// A snapshot of machine totals per row of a totals table, its time or uptime kept.
fn totals_per_row(rows: &[RowReading]) -> Vec<Snapshot> {
    rows.iter()
        .map(|row| {
            let mut totals = None;
            for (pool, m, a) in &row.values {
                if let (Some(p), Measure::Bytes(_)) = (pool, m) {
                    set_total(&mut totals, *p, a.value);
                }
            }
            Snapshot {
                taken_at: row.time.as_deref().and_then(parse_timestamp),
                elapsed_hours: row.uptime,
                label: row.time.clone(),
                totals,
                ..Snapshot::default()
            }
        })
        .collect()
}

/// A cell whose number carries a unit (`1.2 GB`, `512K`).
fn unit_in_cell(cell: &str) -> bool {
    cell.trim_end().ends_with(|ch: char| ch.is_alphabetic())
}

/// Change columns whose header names no unit nor measure: sizes where the table says so (a
/// bytes column beside them, or `unit_in_cells` for the column), else counts.
fn name_changes(roles: &mut [Role], unit_in_cells: &dyn Fn(usize) -> bool) {
    let has_bytes = roles.iter().any(Role::is_bytes);
    for (i, role) in roles.iter_mut().enumerate() {
        if let Role::Change {
            measure,
            named: named @ false,
            ..
        } = role
            && (has_bytes || unit_in_cells(i))
        {
            *measure = Measure::Bytes(1);
            *named = true;
        }
    }
}

fn empty_cell(cell: &str) -> bool {
    matches!(
        unwrap_emphasis(cell).to_ascii_lowercase().as_str(),
        "" | "-" | "—" | "–" | "n/a" | "na" | "null" | "none" | "?" | "…" | "..."
    )
}

/// What the text around a table says about it.
#[derive(Debug, Clone, Default)]
pub(crate) struct TableContext {
    /// A pool named on the line above (`Nonpaged pool:`, `### Paged`).
    pub pool: Option<PoolKind>,
    /// A period stated near the table (`over the last 3 days`), for change columns whose
    /// header states none.
    pub period_hours: Option<f64>,
}

/// The roles of a table's columns.
#[derive(Debug, Clone)]
pub(crate) struct Columns {
    roles: Vec<Role>,
    context: TableContext,
    /// The numbers carry explicit signs (`+1,999`): the whole table gives changes.
    signed: bool,
}

/// Cells of a header or row, as any layout splits them.
pub(crate) type Cells = Vec<String>;

impl Columns {
    /// Roles from the header's names only (JSON row keys, tables whose header is certain).
    pub(crate) fn from_headers<S: AsRef<str>>(headers: &[S]) -> Result<Self, String> {
        let mut roles: Vec<Role> = headers.iter().map(|h| role_of(h.as_ref())).collect();
        name_changes(&mut roles, &|_| false);
        Self::settle(roles, TableContext::default(), false)
    }

    /// Roles from the header's names where it names them, else from the cells: the column of
    /// tag-like cells is the tag column, a column per tag makes a series, and number columns
    /// without a name are read as the tools print them (bytes last). Each guess is a warning.
    pub(crate) fn infer(
        header: Option<&[String]>,
        rows: &[Cells],
        context: TableContext,
        notes: &mut Vec<String>,
    ) -> Result<Self, String> {
        let width = rows
            .iter()
            .map(Vec::len)
            .chain(header.map(<[String]>::len))
            .max()
            .unwrap_or(0);
        let mut roles: Vec<Role> = (0..width)
            .map(|i| {
                header
                    .and_then(|h| h.get(i))
                    .map_or(Role::Ignore, |h| role_of(h))
            })
            .collect();
        if let Some(h) = header {
            let names: Vec<String> = h.iter().map(|c| words(c).concat()).collect();
            let has = |n: &str| names.iter().any(|x| x == n);
            if has("modulename") && (has("displayname") || has("drivertype")) {
                return Err("this is a driver list (driverquery), not pool usage".into());
            }
        }
        let column = |i: usize| {
            rows.iter()
                .filter_map(move |r| r.get(i).map(String::as_str))
        };
        let share = |i: usize, test: &dyn Fn(&str) -> bool| {
            let (mut yes, mut all) = (0, 0);
            for c in column(i).filter(|c| !empty_cell(c)) {
                all += 1;
                yes += usize::from(test(c));
            }
            if all == 0 {
                0.0
            } else {
                yes as f64 / all as f64
            }
        };

        if !roles.contains(&Role::Tag) {
            // A column per tag: each row a point in time.
            let per_tag: Vec<(usize, PoolTag, Measure)> = header
                .into_iter()
                .flatten()
                .enumerate()
                .filter(|(i, _)| !matches!(roles[*i], Role::Time | Role::Uptime(_)))
                .filter_map(|(i, h)| tag_series_of(h).map(|(t, m)| (i, t, m)))
                .collect();
            let tag_col = (0..width).find(|&i| {
                matches!(roles[i], Role::Ignore | Role::Series { .. })
                    // A bare English word is never a tag by its looks (issue 24): the column of
                    // `p`, `is` or `the` in a sentence is no tag column.
                    && share(i, &|c| {
                        looks_like_tag(c)
                            && (!super::cell::is_english_word(unwrap_emphasis(c))
                                || c.trim_start().starts_with(['`', '"', '\'']))
                    }) >= 0.6
            });
            match (tag_col, per_tag.is_empty()) {
                (Some(i), _) => {
                    if let Some(h) = header
                        .and_then(|h| h.get(i))
                        .filter(|h| !h.trim().is_empty())
                    {
                        notes.push(format!(
                            "column {:?} read as the tag column (its cells are tags)",
                            h.trim()
                        ));
                    }
                    roles[i] = Role::Tag;
                }
                (None, false) => {
                    for (i, tag, m) in per_tag {
                        roles[i] = Role::TagSeries(tag, m);
                    }
                }
                (None, true) => {}
            }
        }
        // Machine totals over time (`Time  PagedPoolMB  NonpagedPoolMB`, Get-Counter's CSV):
        // the column of times may have any name (`(PDH-CSV 4.0) (UTC)(0)`).
        if names_pool_totals(&roles)
            && !roles
                .iter()
                .any(|r| matches!(r, Role::Time | Role::Uptime(_)))
            && let Some(i) = (0..width).find(|&i| {
                roles[i] == Role::Ignore && share(i, &|c| parse_timestamp(c).is_some()) >= 0.8
            })
        {
            roles[i] = Role::Time;
        }
        // Owner text beside the tag in a column without a name.
        if roles.contains(&Role::Tag) {
            for (i, role) in roles.iter_mut().enumerate() {
                let unnamed = header.is_none_or(|h| h.get(i).is_none_or(|c| c.trim().is_empty()));
                if unnamed
                    && *role == Role::Ignore
                    && share(i, &|c| read_amount(c, 1).is_none() && pool_of(c).is_none()) >= 0.8
                    && share(i, &|c| c.chars().any(char::is_alphabetic)) >= 0.5
                {
                    *role = Role::Driver;
                }
            }
        }
        // A pool column without a name (`Nonp`, `Paged` cells).
        for (i, role) in roles.iter_mut().enumerate() {
            if *role == Role::Ignore && share(i, &|c| pool_of(c).is_some()) >= 0.8 {
                *role = Role::Pool;
            }
        }
        // Number columns the header does not name: sizes where cells carry units, else as
        // the tools print them (`Allocs Frees Diff Bytes`, `Allocs Used`, one number = bytes).
        if !roles.iter().any(Role::is_measure) {
            let numeric: Vec<usize> = (0..width)
                .filter(|&i| {
                    roles[i] == Role::Ignore && share(i, &|c| read_amount(c, 1).is_some()) >= 0.8
                })
                .collect();
            let with_units: Vec<usize> = numeric
                .iter()
                .copied()
                .filter(|&i| share(i, &unit_in_cell) >= 0.5)
                .collect();
            let measures: Vec<(usize, Measure)> = if let Some(&i) = with_units.first() {
                vec![(i, Measure::Bytes(1))]
            } else {
                match numeric.as_slice() {
                    [] => Vec::new(),
                    [b] => vec![(*b, Measure::Bytes(1))],
                    [o, b] => vec![(*o, Measure::Outstanding), (*b, Measure::Bytes(1))],
                    [a, f, b] => vec![
                        (*a, Measure::Allocs),
                        (*f, Measure::Frees),
                        (*b, Measure::Bytes(1)),
                    ],
                    [a, f, d, b, ..] => vec![
                        (*a, Measure::Allocs),
                        (*f, Measure::Frees),
                        (*d, Measure::Outstanding),
                        (*b, Measure::Bytes(1)),
                    ],
                }
            };
            if !measures.is_empty() {
                let named: Vec<String> = measures
                    .iter()
                    .map(|(i, m)| format!("column {} as {}", i + 1, measure_name(*m)))
                    .collect();
                notes.push(format!(
                    "the table names no measure; read {}",
                    named.join(", ")
                ));
            }
            for (i, m) in measures {
                roles[i] = Role::Plain(m);
            }
        }
        name_changes(&mut roles, &|i| share(i, &unit_in_cell) >= 0.5);
        // `+1,999`, `+767,616`: numbers written with explicit signs are changes, and so is
        // every size in such a table (counts stay on the rows: allocations with no frees).
        let signed = (0..width).any(|i| {
            matches!(roles[i], Role::Plain(_) | Role::Split(..))
                && share(i, &|c| unwrap_emphasis(c).starts_with('+')) >= 0.5
        });
        if signed {
            let has_bytes = roles.iter().any(Role::is_bytes);
            for (i, role) in roles.iter_mut().enumerate() {
                let (pool, measure) = match role {
                    Role::Plain(m) => (None, *m),
                    Role::Split(p, m) => (Some(*p), *m),
                    _ => continue,
                };
                if matches!(measure, Measure::Bytes(_))
                    || (!has_bytes && measure == Measure::Outstanding)
                {
                    *role = Role::Change {
                        measure,
                        pool,
                        period_hours: None,
                        header: header
                            .and_then(|h| h.get(i))
                            .map_or_else(String::new, |h| h.trim().to_owned()),
                        named: true,
                    };
                }
            }
            notes.push(
                "the numbers carry explicit signs (such as +1,999): the table gives changes, \
                 not levels"
                    .into(),
            );
        }
        Self::settle(roles, context, signed)
    }

    /// Resolves conflicts between roles, or says why the table is not a pool table.
    fn settle(mut roles: Vec<Role>, context: TableContext, signed: bool) -> Result<Self, String> {
        let per_tag = roles.iter().any(|r| matches!(r, Role::TagSeries(..)));
        let Some(tag_col) = roles.iter().position(|r| *r == Role::Tag) else {
            if per_tag || names_pool_totals(&roles) {
                return Ok(Self {
                    roles,
                    context,
                    signed,
                });
            }
            return Err("no tag column (no column is named Tag, and none holds tags)".into());
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
        let has_bytes = roles.iter().any(Role::is_bytes);
        if has_bytes {
            for r in &mut roles {
                if matches!(r, Role::Series { .. }) {
                    *r = Role::Ignore;
                }
            }
        } else if !roles.iter().any(|r| {
            matches!(
                r,
                Role::Series { .. } | Role::Change { .. } | Role::Plain(_) | Role::Split(..)
            )
        }) {
            return Err(
                "no number column (expected Bytes, Used, Size (MB), NP (MB), PagedUsed, Allocs, \
                 a change column or per-date columns)"
                    .into(),
            );
        }
        Ok(Self {
            roles,
            context,
            signed,
        })
    }

    /// Does the table say each row's pool (a pool column, or pools named by the headers)?
    pub(crate) fn says_the_pool(&self) -> bool {
        self.roles.iter().any(|r| {
            matches!(
                r,
                Role::Pool | Role::Split(..) | Role::Change { pool: Some(_), .. }
            )
        })
    }

    /// Reads one row; problems become warnings for `line`.
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
        let mut row = RowReading {
            line,
            ..RowReading::default()
        };
        for (i, role) in self.roles.iter().enumerate() {
            let Some(cell) = cells.get(i).map(AsRef::as_ref) else {
                continue;
            };
            match role {
                Role::Tag => {
                    if empty_cell(cell) {
                        ctx.warn(line, "row without a tag skipped");
                        return;
                    }
                    // `NonPaged pool total`, `Total paged pool`: the machine's totals.
                    if let Some(pool) = pool_total_label(cell) {
                        row.total = Some(pool);
                        continue;
                    }
                    match read_tag_cell(cell) {
                        Some((tag, note)) => {
                            row.tag = Some(tag);
                            if let Some(n) = note {
                                row.notes.push(n);
                            }
                        }
                        None => {
                            if !is_total_word(cell) {
                                ctx.warn(
                                    line,
                                    format!(
                                        "{} is not a pool tag (1 to 4 characters); row skipped",
                                        quote(cell)
                                    ),
                                );
                            }
                            return;
                        }
                    }
                }
                Role::Pool => {
                    if !empty_cell(cell) {
                        match pool_of(cell) {
                            Some(p) => row.pool = Some(p),
                            None => ctx.warn(
                                line,
                                format!(
                                    "pool type {} not understood; counted as unknown",
                                    quote(cell)
                                ),
                            ),
                        }
                    }
                }
                Role::Driver => {
                    // `lkalflt.sys <-- this one`: the arrow's remark is the person's, not the
                    // owner's.
                    let d = without_arrow_remark(cell);
                    let d = unwrap_emphasis(d);
                    if !empty_cell(d) {
                        row.notes.push(d.to_owned());
                    }
                }
                Role::Time => {
                    let t = cell.trim();
                    if !t.is_empty() {
                        row.time = Some(t.to_owned());
                    }
                }
                Role::Uptime(per) => {
                    if !empty_cell(cell) {
                        match read_uptime(cell, *per) {
                            Some(h) => row.uptime = Some(h),
                            None => ctx.warn(
                                line,
                                format!("uptime {} not understood; left out", quote(cell)),
                            ),
                        }
                        row.time.get_or_insert_with(|| cell.trim().to_owned());
                    }
                }
                Role::Callers => {
                    row.callers.extend(
                        cell.split([';', '|', '\n'])
                            .map(str::trim)
                            .filter(|s| !s.is_empty())
                            .map(str::to_owned),
                    );
                }
                Role::Precision => {
                    row.precision = match cell.trim() {
                        "approximate" => Some(Precision::Approximate),
                        "lower-bound" => Some(Precision::LowerBound),
                        "unknown" => Some(Precision::Unknown),
                        _ => None,
                    };
                }
                Role::Plain(m) | Role::Split(_, m) => {
                    if empty_cell(cell) {
                        continue;
                    }
                    let Some(value) = m.read(cell) else {
                        if cell.trim_end().ends_with('%') {
                            continue;
                        }
                        if matches!(m, Measure::Bytes(_)) && !matches!(role, Role::Split(..)) {
                            ctx.warn(
                                line,
                                format!("{} is not a byte count; row skipped", quote(cell)),
                            );
                            return;
                        }
                        ctx.warn(line, format!("{} is not a number; left empty", quote(cell)));
                        continue;
                    };
                    let pool = match role {
                        Role::Split(kind, _) => Some(*kind),
                        _ => None,
                    };
                    note_precision(ctx, line, &value, cell);
                    row.values.push((pool, *m, value));
                }
                Role::Change { measure, pool, .. } => {
                    if empty_cell(cell) {
                        continue;
                    }
                    match measure.read(cell) {
                        Some(v) => row.changes.push((i, *pool, *measure, v)),
                        None => ctx.warn(
                            line,
                            format!("change {} is not a number; left out", quote(cell)),
                        ),
                    }
                }
                Role::Series { unit, header, .. } => {
                    if empty_cell(cell) {
                        continue;
                    }
                    match read_amount(cell, *unit) {
                        Some(v) => row.series.push((i, v)),
                        None => ctx.warn(
                            line,
                            format!(
                                "{} under {header:?} is not a byte count; left out",
                                quote(cell)
                            ),
                        ),
                    }
                }
                Role::TagSeries(tag, m) => {
                    if empty_cell(cell) {
                        continue;
                    }
                    match m.read(cell) {
                        Some(v) => row.per_tag.push((*tag, *m, v)),
                        None => {
                            ctx.warn(line, format!("{} is not a number; left out", quote(cell)))
                        }
                    }
                }
                Role::Ignore => {
                    let t = unwrap_emphasis(cell);
                    if t.chars().any(char::is_alphabetic) {
                        row.other_text.push(t.to_owned());
                    }
                }
            }
        }
        let totals_row = !row.values.is_empty() && names_pool_totals(&self.roles);
        if row.tag.is_none() && row.per_tag.is_empty() && row.total.is_none() && !totals_row {
            if self.roles.contains(&Role::Tag) {
                ctx.warn(line, "row without a tag skipped");
            }
            return;
        }
        sink.rows.push(row);
    }

    /// The table's snapshots from the rows read, in order.
    pub(crate) fn finish(&self, sink: &mut TableSink, ctx: &mut Ctx) -> Vec<Snapshot> {
        let rows = std::mem::take(&mut sink.rows);
        if self.roles.iter().any(|r| matches!(r, Role::TagSeries(..))) {
            return self.series_per_row(rows, ctx);
        }
        if self.roles.iter().any(|r| matches!(r, Role::Series { .. })) {
            return self.series_per_column(rows, ctx);
        }
        if names_pool_totals(&self.roles) {
            return totals_per_row(&rows);
        }
        let has_levels = self.roles.iter().any(Role::is_bytes);
        let change = self.roles.iter().find_map(|r| match r {
            Role::Change {
                period_hours,
                header,
                ..
            } => Some((period_hours.or(self.context.period_hours), header.clone())),
            _ => None,
        });
        let counted = self.roles.iter().find_map(|r| match r {
            Role::Change {
                measure: Measure::Outstanding,
                named: false,
                header,
                ..
            } => Some(header.clone()),
            _ => None,
        });
        if let Some(header) = &counted {
            ctx.caveat(Caveat::UnitNotGiven);
            ctx.warn(
                rows.first().map_or(0, |r| r.line),
                format!(
                    "column {header:?} names no unit: its numbers are read as counts \
                     (outstanding allocations), not bytes"
                ),
            );
        }
        if self.signed || (change.is_some() && !has_levels) {
            ctx.caveat(Caveat::Changes);
        }
        let mut by_time: Vec<(Option<String>, Vec<LevelRow>)> = Vec::new();
        let mut totals: Option<PoolTotals> = None;
        for row in &rows {
            if let Some(pool) = row.total
                && let Some((_, _, a)) = row
                    .values
                    .iter()
                    .find(|(_, m, _)| matches!(m, Measure::Bytes(_)))
            {
                set_total(&mut totals, pool, a.value);
            }
            let Some(tag) = row.tag else { continue };
            let key = row.time.clone();
            let slot = match by_time.iter().position(|(k, _)| *k == key) {
                Some(i) => i,
                None => {
                    by_time.push((key, Vec::new()));
                    by_time.len() - 1
                }
            };
            for (usage, change) in self.usages(tag, row, ctx) {
                if !ctx.take_row(row.line) {
                    break;
                }
                by_time[slot].1.push((row.line, usage, change));
            }
        }
        if !self.roles.iter().any(Role::is_bytes) && change.is_none() && !by_time.is_empty() {
            ctx.warn(
                rows.first().map_or(0, |r| r.line),
                "the table gives counts but no sizes; byte counts are unknown",
            );
        }
        let mut out = Vec::new();
        for (key, rows) in by_time {
            let level = Snapshot {
                taken_at: key.as_deref().and_then(parse_timestamp),
                label: key.clone(),
                rows: rows.iter().map(|(_, u, _)| u.clone()).collect(),
                ..Snapshot::default()
            };
            match &change {
                Some((period, header)) if rows.iter().any(|(_, _, c)| c.is_some()) => {
                    let (before, after) = before_and_after(&rows, has_levels, *period);
                    let period_text = period.map_or(String::from("an unstated period"), hours_text);
                    let counts = rows
                        .iter()
                        .all(|(_, _, c)| c.is_none_or(|(m, _)| m == Measure::Outstanding));
                    ctx.warn(
                        rows[0].0,
                        if counts {
                            format!(
                                "column {header:?} read as growth of outstanding allocations \
                                 over {period_text}; the table gives no sizes"
                            )
                        } else if has_levels {
                            format!(
                                "column {header:?} read as growth over {period_text}; the earlier \
                                 snapshot is the size minus that change"
                            )
                        } else {
                            format!(
                                "column {header:?} read as growth over {period_text}; the table \
                                 gives no sizes, so sizes are lower bounds (at least the change)"
                            )
                        },
                    );
                    out.push(before);
                    out.push(after);
                }
                _ => out.push(level),
            }
        }
        if let Some(last) = out.last_mut()
            && totals.is_some()
        {
            last.totals = totals;
        }
        out
    }

    /// The row's usages: one for the row's own pool, one per pool a split column names. Each
    /// with the change the table gives for it.
    fn usages(
        &self,
        tag: PoolTag,
        row: &RowReading,
        ctx: &mut Ctx,
    ) -> Vec<(PoolUsage, Option<(Measure, Amount)>)> {
        let mut pools: Vec<Option<PoolKind>> = Vec::new();
        for (p, _, _) in &row.values {
            if !pools.contains(p) {
                pools.push(*p);
            }
        }
        for (_, p, _, _) in &row.changes {
            if !pools.contains(p) && (p.is_some() || pools.is_empty()) {
                pools.push(*p);
            }
        }
        let mut out = Vec::new();
        for split in pools {
            let mut v: [Option<Amount>; 4] = [None; 4];
            for (p, m, a) in &row.values {
                if *p == split {
                    v[m.slot()] = Some(*a);
                }
            }
            let change = row
                .changes
                .iter()
                .find(|(_, p, m, _)| *p == split && matches!(m, Measure::Bytes(_)))
                .or_else(|| row.changes.iter().find(|(_, p, _, _)| *p == split))
                .map(|(_, _, m, a)| (*m, *a));
            let pool = split
                .or(row.pool)
                .or(self.context.pool)
                .unwrap_or(PoolKind::Unknown);
            if split.is_some()
                && v.iter().all(|x| x.is_none_or(|a| a.value == 0))
                && change.is_none()
            {
                continue;
            }
            let counts_only =
                v[3].is_none() && change.is_none_or(|(m, _)| !matches!(m, Measure::Bytes(_)));
            if counts_only && !(v[2].is_some() || v[0].is_some() || change.is_some()) {
                if split.is_some() {
                    ctx.warn(
                        row.line,
                        format!("no {pool} bytes for tag {tag}; {pool} counts left out"),
                    );
                } else {
                    ctx.warn(
                        row.line,
                        format!("no byte count for tag {tag}; row skipped"),
                    );
                }
                continue;
            }
            let precision = if counts_only {
                Precision::Unknown
            } else {
                v.iter()
                    .flatten()
                    .map(|a| a.precision)
                    .max()
                    .unwrap_or_default()
            };
            let usage = PoolUsage {
                tag,
                pool,
                allocs: v[0].map(|a| a.value),
                frees: v[1].map(|a| a.value),
                outstanding: v[2].map(|a| a.value),
                bytes: v[3].map_or(0, |a| a.value),
                mapped_driver: (!row.notes.is_empty()).then(|| row.notes.join("; ")),
                callers: row.callers.clone(),
                precision: row.precision.unwrap_or(precision),
                line: 0,
            }
            .at_line(row.line);
            // A count change moves `outstanding`; any other count change is not carried.
            let change =
                change.filter(|(m, _)| matches!(m, Measure::Bytes(_) | Measure::Outstanding));
            out.push((usage, change));
        }
        out
    }

    /// A byte column per snapshot (`Day 1 (MB)`, `2026-11-01`), or per state the paste
    /// compares (`while leaking`, `after reboot`): the states after a change go last, marked.
    fn series_per_column(&self, rows: Vec<RowReading>, ctx: &mut Ctx) -> Vec<Snapshot> {
        let mut out: Vec<Snapshot> = Vec::new();
        let mut slot_of: HashMap<usize, usize> = HashMap::new();
        let first_line = rows.first().map_or(0, |r| r.line);
        for row in rows {
            for (col, amount) in &row.series {
                let i = *slot_of.entry(*col).or_insert_with(|| {
                    let (header, state) = match &self.roles[*col] {
                        Role::Series { header, state, .. } => (header.clone(), *state),
                        _ => (String::new(), None),
                    };
                    out.push(Snapshot {
                        taken_at: find_timestamp(&header),
                        label: Some(header),
                        after_change: state == Some(State::AfterChange),
                        ..Snapshot::default()
                    });
                    out.len() - 1
                });
                if let Some(pool) = row.total {
                    set_total(&mut out[i].totals, pool, amount.value);
                    continue;
                }
                let Some(tag) = row.tag else { continue };
                if !ctx.take_row(row.line) {
                    return out;
                }
                let mut v: [Option<u64>; 4] = [None; 4];
                for (p, m, a) in &row.values {
                    if p.is_none() {
                        v[m.slot()] = Some(a.value);
                    }
                }
                out[i].rows.push(
                    PoolUsage {
                        tag,
                        pool: row.pool.or(self.context.pool).unwrap_or(PoolKind::Unknown),
                        allocs: v[0],
                        frees: v[1],
                        outstanding: v[2],
                        bytes: amount.value,
                        mapped_driver: (!row.notes.is_empty()).then(|| row.notes.join("; ")),
                        callers: row.callers.clone(),
                        precision: amount.precision,
                        line: 0,
                    }
                    .at_line(row.line),
                );
            }
        }
        let states: Vec<&String> = self
            .roles
            .iter()
            .filter_map(|r| match r {
                Role::Series {
                    header,
                    state: Some(_),
                    ..
                } => Some(header),
                _ => None,
            })
            .collect();
        if !states.is_empty() {
            ctx.caveat(Caveat::ComparesStates);
            let after: Vec<String> = out
                .iter()
                .filter(|s| s.after_change)
                .filter_map(|s| s.label.as_deref().map(quote))
                .collect();
            if !after.is_empty() {
                ctx.warn(
                    first_line,
                    format!(
                        "the table compares states: {} kept as context (after a change), not as \
                         the leak's course",
                        after.join(", ")
                    ),
                );
            }
        }
        // States after a change go last, in their own order.
        out.sort_by_key(|s| s.after_change);
        out
    }

    /// Rows that are points in time of the tags named by the columns.
    fn series_per_row(&self, rows: Vec<RowReading>, ctx: &mut Ctx) -> Vec<Snapshot> {
        let mut out: Vec<(bool, Snapshot)> = Vec::new();
        for row in rows {
            let mut snap = Snapshot {
                taken_at: row.time.as_deref().and_then(parse_timestamp),
                elapsed_hours: row.uptime,
                label: row.time.clone(),
                ..Snapshot::default()
            };
            let mut tags: Vec<PoolTag> = Vec::new();
            for (t, _, _) in &row.per_tag {
                if !tags.contains(t) {
                    tags.push(*t);
                }
            }
            for tag in tags {
                let mut v: [Option<Amount>; 4] = [None; 4];
                for (t, m, a) in &row.per_tag {
                    if *t == tag {
                        v[m.slot()] = Some(*a);
                    }
                }
                if !ctx.take_row(row.line) {
                    break;
                }
                snap.rows.push(
                    PoolUsage {
                        tag,
                        pool: row.pool.or(self.context.pool).unwrap_or(PoolKind::Unknown),
                        allocs: v[0].map(|a| a.value),
                        frees: v[1].map(|a| a.value),
                        outstanding: v[2].map(|a| a.value),
                        bytes: v[3].map_or(0, |a| a.value),
                        mapped_driver: None,
                        callers: Vec::new(),
                        precision: match v[3] {
                            Some(a) => a.precision,
                            None => Precision::Unknown,
                        },
                        line: 0,
                    }
                    .at_line(row.line),
                );
            }
            let after = row
                .other_text
                .iter()
                .chain(row.time.iter())
                .find(|t| is_after_change(t))
                .cloned();
            if let Some(text) = &after {
                ctx.caveat(Caveat::ComparesStates);
                ctx.warn(
                    row.line,
                    format!(
                        "row labelled {} kept as the last point: it shows the state after a \
                         change, not the leak's course",
                        quote(text)
                    ),
                );
                snap.after_change = true;
                snap.label = Some(match &snap.label {
                    Some(l) if l != text => format!("{l} ({text})"),
                    _ => text.clone(),
                });
            } else if snap.label.is_none() {
                snap.label = row.other_text.first().cloned();
            }
            if !snap.rows.is_empty() {
                out.push((after.is_some(), snap));
            }
        }
        if out
            .iter()
            .any(|(_, s)| s.rows.iter().all(|r| r.precision == Precision::Unknown))
        {
            ctx.warn(
                0,
                "the series gives allocation counts but no sizes; growth is judged on the counts",
            );
        }
        // Points after a change go last, in their own order.
        out.sort_by_key(|(after, _)| *after);
        out.into_iter().map(|(_, s)| s).collect()
    }
}

/// A row read at one level: its line, its usage and the change the table gives for it.
type LevelRow = (usize, PoolUsage, Option<(Measure, Amount)>);

/// The snapshot before the change and the one the table shows.
fn before_and_after(
    rows: &[LevelRow],
    has_levels: bool,
    period: Option<f64>,
) -> (Snapshot, Snapshot) {
    let mut before = Snapshot {
        elapsed_hours: period.map(|_| 0.0),
        label: Some("before the change (computed)".into()),
        ..Snapshot::default()
    };
    let mut after = Snapshot {
        elapsed_hours: period,
        label: Some(match period {
            Some(h) => format!("after {}", hours_text(h)),
            None => "after the change".into(),
        }),
        ..Snapshot::default()
    };
    let clamp = |v: i128| v.clamp(0, i128::from(u64::MAX)) as u64;
    for (_, usage, change) in rows {
        let mut earlier = usage.clone();
        let mut later = usage.clone();
        earlier.allocs = None;
        earlier.frees = None;
        match change {
            // A change of outstanding allocations: the count minus it, or the smallest counts
            // that fit it; the sizes stay as the table gives them (unknown without a size).
            Some((Measure::Outstanding, c)) => match usage.outstanding {
                Some(level) => earlier.outstanding = Some(clamp(i128::from(level) - c.signed())),
                None => {
                    earlier.outstanding = Some(clamp(-c.signed()));
                    later.outstanding = Some(clamp(c.signed()));
                }
            },
            _ => {
                let delta = change.map_or(0, |(_, c)| c.signed());
                if has_levels && usage.precision != Precision::Unknown {
                    earlier.bytes = clamp(i128::from(usage.bytes) - delta);
                } else {
                    // Only the change is known: the smallest sizes that fit it.
                    earlier.bytes = clamp(-delta);
                    later.bytes = clamp(delta);
                    earlier.precision = Precision::LowerBound;
                    later.precision = Precision::LowerBound;
                }
                earlier.outstanding = usage.outstanding.filter(|_| delta == 0 && change.is_some());
            }
        }
        before.rows.push(earlier);
        after.rows.push(later);
    }
    (before, after)
}

fn hours_text(h: f64) -> String {
    if h >= 48.0 && (h / 24.0).fract() == 0.0 {
        format!("{} days", h / 24.0)
    } else if h == 24.0 {
        "1 day".into()
    } else {
        format!("{h} hours")
    }
}

fn measure_name(m: Measure) -> &'static str {
    match m {
        Measure::Allocs => "allocations",
        Measure::Frees => "frees",
        Measure::Outstanding => "outstanding allocations",
        Measure::Bytes(_) => "bytes",
    }
}

/// `NonPaged pool total`, `Total paged pool`: a row label naming a machine total of one pool.
fn pool_total_label(cell: &str) -> Option<PoolKind> {
    let lower = unwrap_emphasis(cell).to_ascii_lowercase();
    if !lower.contains("total") || lower.len() > 40 {
        return None;
    }
    pool_in_text(&lower).filter(|p| matches!(p, PoolKind::Paged | PoolKind::NonPaged))
}

/// Adds a pool's total to a snapshot's totals.
fn set_total(totals: &mut Option<PoolTotals>, pool: PoolKind, bytes: u64) {
    let t = totals.get_or_insert_with(PoolTotals::default);
    match pool {
        PoolKind::NonPaged => t.nonpaged_bytes = Some(bytes),
        PoolKind::Paged => t.paged_bytes = Some(bytes),
        _ => {}
    }
}

fn is_total_word(cell: &str) -> bool {
    let lower = unwrap_emphasis(cell).to_ascii_lowercase();
    lower.starts_with("total")
        || matches!(lower.as_str(), "sum" | "all" | "(total)" | "grand total")
}

/// `after the fix`, `after update`, `after reboot`, `post-patch`.
fn is_after_change(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    (lower.contains("after") || lower.contains("post"))
        && [
            "fix",
            "update",
            "upgrade",
            "patch",
            "reboot",
            "restart",
            "change",
            "removal",
            "removed",
            "uninstall",
            "disabl",
        ]
        .iter()
        .any(|w| lower.contains(w))
}

/// A warning for a number read with a qualifier, quoting its cell.
fn note_precision(ctx: &mut Ctx, line: usize, amount: &Amount, cell: &str) {
    let what = match amount.precision {
        Precision::Approximate => "as approximate",
        Precision::LowerBound => "as a lower bound (a counter may have wrapped)",
        _ => return,
    };
    ctx.warn(line, format!("read {} {what}", quote(cell.trim())));
}

/// At most 200 characters of input, quoted, for a warning.
pub(crate) fn quote(text: &str) -> String {
    let t = text.trim();
    if t.chars().count() <= 200 {
        return format!("{t:?}");
    }
    let cut: String = t.chars().take(200).collect();
    format!("{cut:?}…")
}

/// One row as read through the roles, before it becomes usages.
#[derive(Debug, Default)]
pub(crate) struct RowReading {
    line: usize,
    tag: Option<PoolTag>,
    pool: Option<PoolKind>,
    notes: Vec<String>,
    time: Option<String>,
    uptime: Option<f64>,
    callers: Vec<String>,
    precision: Option<Precision>,
    /// Levels: (pool a split column names, measure, value).
    values: Vec<(Option<PoolKind>, Measure, Amount)>,
    /// Changes: (column, pool, measure, value).
    changes: Vec<(usize, Option<PoolKind>, Measure, Amount)>,
    /// Series columns: (column, bytes).
    series: Vec<(usize, Amount)>,
    /// Tag-per-column values.
    per_tag: Vec<(PoolTag, Measure, Amount)>,
    /// Text in columns without a role (a row's label such as `after the fix`).
    other_text: Vec<String>,
    /// The machine total of this pool the row gives instead of a tag (`NonPaged pool total`).
    total: Option<PoolKind>,
}

/// The rows of one table while it is read.
#[derive(Default)]
pub(crate) struct TableSink {
    rows: Vec<RowReading>,
}

impl TableSink {
    /// The rows read so far as snapshots under `columns`.
    pub(crate) fn take(&mut self, columns: &Columns, ctx: &mut Ctx) -> Vec<Snapshot> {
        columns.finish(self, ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_synonyms() {
        assert_eq!(role_of("Tag"), Role::Tag);
        assert_eq!(role_of("Pool tag"), Role::Tag);
        assert_eq!(role_of("PoolType"), Role::Pool);
        assert_eq!(role_of("NumberOfAllocs"), Role::Plain(Measure::Allocs));
        assert_eq!(role_of("TotalBytes"), Role::Plain(Measure::Bytes(1)));
        assert_eq!(role_of("Bytes"), Role::Plain(Measure::Bytes(1)));
        assert_eq!(role_of("Bytes (MB)"), Role::Plain(Measure::Bytes(1 << 20)));
        assert_eq!(role_of("Bytes [MiB]"), Role::Plain(Measure::Bytes(1 << 20)));
        assert_eq!(role_of("SizeKB"), Role::Plain(Measure::Bytes(1 << 10)));
        assert_eq!(role_of("SizeGB"), Role::Plain(Measure::Bytes(1 << 30)));
        assert_eq!(role_of("Used"), Role::Plain(Measure::Bytes(1)));
        assert_eq!(role_of("Current"), Role::Plain(Measure::Bytes(1)));
        assert_eq!(
            role_of("PagedUsed"),
            Role::Split(PoolKind::Paged, Measure::Bytes(1))
        );
        assert_eq!(
            role_of("Paged_KB"),
            Role::Split(PoolKind::Paged, Measure::Bytes(1 << 10))
        );
        assert_eq!(
            role_of("NP (MB)"),
            Role::Split(PoolKind::NonPaged, Measure::Bytes(1 << 20))
        );
        assert_eq!(
            role_of("Non Paged"),
            Role::Split(PoolKind::NonPaged, Measure::Bytes(1))
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
        assert_eq!(role_of("% of pool"), Role::Ignore);
        assert_eq!(role_of("Share"), Role::Ignore);
        assert!(matches!(
            role_of("Delta (MB)"),
            Role::Change {
                measure: Measure::Bytes(1_048_576),
                period_hours: None,
                ..
            }
        ));
        assert!(matches!(
            role_of("change over 3 days"),
            Role::Change {
                period_hours: Some(72.0),
                ..
            }
        ));
        assert!(matches!(role_of("Δ"), Role::Change { .. }));
        assert_eq!(role_of("Mapped_Driver"), Role::Driver);
        assert_eq!(
            role_of("Allocations in use"),
            Role::Plain(Measure::Outstanding)
        );
        assert_eq!(role_of("Uptime (h)"), Role::Uptime(1.0));
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
    fn changes_name_their_unit_or_are_counts() {
        assert!(matches!(
            role_of("delta over 4.91 days"),
            Role::Change {
                measure: Measure::Outstanding,
                named: false,
                ..
            }
        ));
        assert!(matches!(
            role_of("Δ bytes"),
            Role::Change {
                measure: Measure::Bytes(1),
                named: true,
                ..
            }
        ));
        assert!(matches!(role_of("growth/day"), Role::Change { .. }));
        assert_eq!(role_of("Bytes/open"), Role::Ignore);
        assert_eq!(role_of("Bytes/alloc"), Role::Ignore);
        let cells = |r: &[&str]| r.iter().map(|c| (*c).to_owned()).collect::<Cells>();
        let infer = |h: &[&str], rows: &[&[&str]]| {
            let rows: Vec<Cells> = rows.iter().map(|r| cells(r)).collect();
            Columns::infer(
                Some(&cells(h)),
                &rows,
                TableContext::default(),
                &mut Vec::new(),
            )
            .unwrap()
        };
        // Beside a bytes column, or with units in its cells, a bare change is of bytes.
        let c = infer(&["Tag", "Bytes", "change"], &[&["Abcd", "12", "+3"]]);
        assert!(matches!(
            c.roles[2],
            Role::Change {
                measure: Measure::Bytes(1),
                ..
            }
        ));
        let c = infer(&["Tag", "change"], &[&["Abcd", "+3 MB"], &["Efgh", "1 GB"]]);
        assert!(matches!(
            c.roles[1],
            Role::Change {
                measure: Measure::Bytes(1),
                ..
            }
        ));
        // Explicit signs make a delta table: sizes are changes, counts stay on the rows.
        let c = infer(
            &["Tag", "Allocs", "Frees", "Bytes"],
            &[
                &["Abcd", "+10", "**0**", "+1,000"],
                &["Efgh", "+2", "+2", "0"],
            ],
        );
        assert!(c.signed);
        assert_eq!(c.roles[1], Role::Plain(Measure::Allocs));
        assert!(matches!(
            c.roles[3],
            Role::Change {
                measure: Measure::Bytes(1),
                ..
            }
        ));
        let c = infer(&["Tag", "Allocs", "Bytes"], &[&["Abcd", "10", "1,000"]]);
        assert!(!c.signed);
    }

    #[test]
    fn state_columns_are_not_times() {
        use State::*;
        assert_eq!(state_of("while leaking"), Some(Leaking));
        assert_eq!(state_of("during the leak"), Some(Leaking));
        assert_eq!(state_of("before the fix"), Some(Leaking));
        assert_eq!(state_of("after reboot"), Some(AfterChange));
        assert_eq!(state_of("after uninstalling QxAgent"), Some(AfterChange));
        assert_eq!(state_of("post-patch"), Some(AfterChange));
        assert_eq!(state_of("after update"), Some(AfterChange));
        assert_eq!(state_of("before"), None);
        assert_eq!(state_of("after (14:00)"), None);
        assert!(matches!(
            role_of("after reboot"),
            Role::Series {
                state: Some(AfterChange),
                ..
            }
        ));
        assert!(matches!(
            role_of("Bytes while leaking (MB)"),
            Role::Series {
                unit: 1_048_576,
                state: Some(Leaking),
                ..
            }
        ));
        // Two poolmon readings hours apart are still a time series.
        assert!(matches!(
            role_of("Before"),
            Role::Series { state: None, .. }
        ));
        assert!(matches!(role_of("After"), Role::Series { state: None, .. }));
        assert!(matches!(role_of("change over 3 days"), Role::Change { .. }));
        assert_eq!(
            pool_total_label("NonPaged pool total"),
            Some(PoolKind::NonPaged)
        );
        assert_eq!(pool_total_label("Total paged pool"), Some(PoolKind::Paged));
        assert_eq!(pool_total_label("Total"), None);
    }

    #[test]
    fn pool_totals_without_tags() {
        let roles = |hs: &[&str]| hs.iter().map(|h| role_of(h)).collect::<Vec<_>>();
        assert!(names_pool_totals(&roles(&[
            "Time",
            "PagedPoolMB",
            "NonpagedPoolMB"
        ])));
        assert!(names_pool_totals(&roles(&[
            "PoolPagedBytes",
            "PoolNonpagedBytes"
        ])));
        assert!(names_pool_totals(&roles(&[
            "(PDH-CSV 4.0) (UTC)(0)",
            "\\\\HOST\\memory\\pool nonpaged bytes"
        ])));
        assert!(!names_pool_totals(&roles(&["Tag", "NP (MB)"])));
        assert!(!names_pool_totals(&roles(&["Time", "Bytes"])));
    }

    #[test]
    fn tag_columns() {
        assert_eq!(
            tag_series_of("`Abcd` outstanding"),
            Some((PoolTag::parse("Abcd").unwrap(), Measure::Outstanding))
        );
        assert_eq!(
            tag_series_of("LkaL (MB)"),
            Some((PoolTag::parse("LkaL").unwrap(), Measure::Bytes(1 << 20)))
        );
        assert_eq!(tag_series_of("Used (MB)"), None);
        assert_eq!(tag_series_of("live processes"), None);
    }

    #[test]
    fn pool_cells() {
        assert_eq!(pool_of("Nonp"), Some(PoolKind::NonPaged));
        assert_eq!(pool_of("Non-paged"), Some(PoolKind::NonPaged));
        assert_eq!(pool_of("Non Paged"), Some(PoolKind::NonPaged));
        assert_eq!(pool_of("PagedPool"), Some(PoolKind::Paged));
        assert_eq!(pool_of("Paged"), Some(PoolKind::Paged));
        assert_eq!(pool_of("P"), Some(PoolKind::Paged));
        assert_eq!(pool_of("Sess"), Some(PoolKind::Session));
        assert_eq!(pool_of("weird"), None);
    }
}
