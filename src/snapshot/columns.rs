//! The column-role model every table-ish layout shares (markdown, CSV/TSV, PowerShell
//! `Format-Table`, whitespace-aligned text, JSON row objects).
//!
//! A layout only splits lines into cells. Here each column gets a [`Role`]: from its header's
//! words ([`super::header`]), and where the header says nothing, from its cells (the column of
//! tag-like cells is the tag column; a column of sizes is bytes). Rows are read through the
//! roles into [`RowReading`]s, and [`TableSink::take`] turns them into snapshots
//! ([`series`]): one per table, per time value, per series column, per row (a series of one
//! tag), or two when the table gives changes (the earlier one computed).

use super::cell::{Cells, looks_like_tag, read_amount, unwrap_emphasis};
use super::header::{
    Measure, Role, measure_name, name_changes, names_pool_totals, pool_of, role_of, tag_series_of,
    unit_in_cell, words,
};
use super::text::parse_timestamp;
use super::{Ctx, PoolKind, Snapshot};
use crate::tag::PoolTag;

mod rows;
mod series;

pub(crate) use rows::RowReading;

/// A cell that holds nothing (`-`, `n/a`, `…`).
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
}
