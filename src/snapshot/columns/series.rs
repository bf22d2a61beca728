//! A table's rows, read through its roles, become snapshots: one per table, per time value,
//! per series column, per row (a series of one tag), or two when the table gives changes.

use std::collections::HashMap;

use super::{Columns, RowReading, TableSink};
use crate::snapshot::cell::Amount;
use crate::snapshot::header::{Measure, Role, State, names_pool_totals};
use crate::snapshot::text::{find_timestamp, parse_timestamp, quote};
use crate::snapshot::{Caveat, Ctx, PoolKind, PoolTotals, PoolUsage, Precision, Snapshot};
use crate::tag::PoolTag;

impl Columns {
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
                    ctx.skip(
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

/// Adds a pool's total to a snapshot's totals.
fn set_total(totals: &mut Option<PoolTotals>, pool: PoolKind, bytes: u64) {
    let t = totals.get_or_insert_with(PoolTotals::default);
    match pool {
        PoolKind::NonPaged => t.nonpaged_bytes = Some(bytes),
        PoolKind::Paged => t.paged_bytes = Some(bytes),
        _ => {}
    }
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
#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::header::pool_total_label;

    #[test]
    fn pool_total_labels() {
        assert_eq!(
            pool_total_label("NonPaged pool total"),
            Some(PoolKind::NonPaged)
        );
        assert_eq!(pool_total_label("Total paged pool"), Some(PoolKind::Paged));
        assert_eq!(pool_total_label("Total"), None);
    }
}
