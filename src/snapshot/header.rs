//! Header words -> column roles: what a column's name says it holds (the tag, the pool, a
//! measure and its unit, a change and its period, a state such as "while leaking"), read from
//! its words alone. The cells' evidence is weighed in [`super::columns`].

use super::PoolKind;
use super::cell::{Amount, read_amount, read_count, read_hours, read_tag_cell, unwrap_emphasis};
use super::text::{find_timestamp, parse_timestamp};
use crate::tag::PoolTag;
pub(crate) use words::words;
use words::{
    CHANGE_WORDS, IGNORED_WORDS, Word, measure_of_words, pool_word_of, split_glued_unit, unit_word,
};

mod words;

/// What a number column counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Measure {
    Allocs,
    Frees,
    Outstanding,
    /// Bytes per unit.
    Bytes(u64),
}

impl Measure {
    pub(crate) fn slot(self) -> usize {
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
    pub(crate) fn is_bytes(&self) -> bool {
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

/// A cell whose number carries a unit (`1.2 GB`, `512K`).
pub(crate) fn unit_in_cell(cell: &str) -> bool {
    cell.trim_end().ends_with(|ch: char| ch.is_alphabetic())
}

/// Change columns whose header names no unit nor measure: sizes where the table says so (a
/// bytes column beside them, or `unit_in_cells` for the column), else counts.
pub(crate) fn name_changes(roles: &mut [Role], unit_in_cells: &dyn Fn(usize) -> bool) {
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

/// The pool a lower-cased line of text names (`Nonpaged pool`, `### Paged`), if any.
pub(crate) fn pool_in_text(lower: &str) -> Option<PoolKind> {
    if lower.contains("nonpaged") || lower.contains("non-paged") || lower.contains("non paged") {
        Some(PoolKind::NonPaged)
    } else if lower.contains("paged") {
        Some(PoolKind::Paged)
    } else if lower.contains("session pool") {
        Some(PoolKind::Session)
    } else {
        None
    }
}

/// What a measure counts, in words.
pub(crate) fn measure_name(m: Measure) -> &'static str {
    match m {
        Measure::Allocs => "allocations",
        Measure::Frees => "frees",
        Measure::Outstanding => "outstanding allocations",
        Measure::Bytes(_) => "bytes",
    }
}

/// `NonPaged pool total`, `Total paged pool`: a row label naming a machine total of one pool.
pub(crate) fn pool_total_label(cell: &str) -> Option<PoolKind> {
    let lower = unwrap_emphasis(cell).to_ascii_lowercase();
    if !lower.contains("total") || lower.len() > 40 {
        return None;
    }
    pool_in_text(&lower).filter(|p| matches!(p, PoolKind::Paged | PoolKind::NonPaged))
}

/// `Total`, `Sum`, `Grand total`: a row label for the table's total.
pub(crate) fn is_total_word(cell: &str) -> bool {
    let lower = unwrap_emphasis(cell).to_ascii_lowercase();
    lower.starts_with("total")
        || matches!(lower.as_str(), "sum" | "all" | "(total)" | "grand total")
}

#[cfg(test)]
mod tests;
