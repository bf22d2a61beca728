//! One row read through the table's roles: its tag, pool, levels, changes and labels, before
//! the table's rows become snapshots ([`super::series`]).

use super::{Columns, TableSink, empty_cell};
use crate::snapshot::cell::{
    Amount, read_amount, read_tag_cell, read_uptime, unwrap_emphasis, without_arrow_remark,
};
use crate::snapshot::header::{
    Measure, Role, is_total_word, names_pool_totals, pool_of, pool_total_label,
};
use crate::snapshot::text::quote;
use crate::snapshot::{Ctx, PoolKind, Precision};
use crate::tag::PoolTag;

impl Columns {
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
                        ctx.skip(line, "row without a tag skipped");
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
                                ctx.skip(
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
                            ctx.skip(
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
                ctx.skip(line, "row without a tag skipped");
            }
            return;
        }
        sink.rows.push(row);
    }
}

fn note_precision(ctx: &mut Ctx, line: usize, amount: &Amount, cell: &str) {
    let what = match amount.precision {
        Precision::Approximate => "as approximate",
        Precision::LowerBound => "as a lower bound (a counter may have wrapped)",
        _ => return,
    };
    ctx.warn(line, format!("read {} {what}", quote(cell.trim())));
}

/// One row as read through the roles, before it becomes usages.
#[derive(Debug, Default)]
pub(crate) struct RowReading {
    pub(super) line: usize,
    pub(super) tag: Option<PoolTag>,
    pub(super) pool: Option<PoolKind>,
    pub(super) notes: Vec<String>,
    pub(super) time: Option<String>,
    pub(super) uptime: Option<f64>,
    pub(super) callers: Vec<String>,
    pub(super) precision: Option<Precision>,
    /// Levels: (pool a split column names, measure, value).
    pub(super) values: Vec<(Option<PoolKind>, Measure, Amount)>,
    /// Changes: (column, pool, measure, value).
    pub(super) changes: Vec<(usize, Option<PoolKind>, Measure, Amount)>,
    /// Series columns: (column, bytes).
    pub(super) series: Vec<(usize, Amount)>,
    /// Tag-per-column values.
    pub(super) per_tag: Vec<(PoolTag, Measure, Amount)>,
    /// Text in columns without a role (a row's label such as `after the fix`).
    pub(super) other_text: Vec<String>,
    /// The machine total of this pool the row gives instead of a tag (`NonPaged pool total`).
    pub(super) total: Option<PoolKind>,
}
