//! The same rows rendered in every table shape a person pastes (markdown, aligned text, CSV,
//! TSV, semicolon CSV with decimal commas, PowerShell `Format-Table`, `Key: value` blocks, an
//! HTML table copied from a web page), with
//! sizes in bytes or
//! with a unit in the header or in each cell, decorated tags and pool spellings, read back to
//! the same numbers within the rounding of the rendering.

use poolsleuth::snapshot::{Caveat, ParseOptions, PoolKind, Precision, parse_snapshots};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Row {
    tag: String,
    pool: PoolKind,
    bytes: u64,
    outstanding: u64,
}

#[derive(Debug, Clone, Copy)]
enum Layout {
    Markdown,
    Aligned,
    SingleSpaced,
    Csv,
    Tsv,
    Semicolon,
    PowerShell,
    /// `Tag: Abcd` / `Type: Paged` / `Bytes: ...` blocks, one per row.
    KeyValue,
    /// `<table><tr><th>Tag</th>...`, cells escaped as a browser copies them.
    Html,
}

#[derive(Debug, Clone, Copy)]
enum Units {
    /// Plain bytes.
    Bytes,
    /// `Bytes (MB)` header, two decimals in the cells.
    InHeader(u64, &'static str),
    /// `1.25 GB` in each cell.
    InCells(u64, &'static str),
}

#[derive(Debug, Clone, Copy)]
enum Decoration {
    Plain,
    Backticks,
    Bold,
    Quoted,
    Note,
}

#[derive(Debug, Clone)]
struct Shape {
    layout: Layout,
    units: Units,
    decoration: Decoration,
    thousands: bool,
    /// Index into the pool spellings.
    spelling: usize,
    outstanding_header: &'static str,
    prose_around: bool,
}

const NONPAGED: [&str; 4] = ["Nonp", "NonPaged", "NP", "Non Paged"];
const PAGED: [&str; 4] = ["Paged", "Paged", "P", "Paged"];

fn rows() -> impl Strategy<Value = Vec<Row>> {
    let tag = prop_oneof!["[A-Z][a-z]{2}[0-9]", "[A-Z][a-z][0-9]"];
    let row = (
        tag,
        prop_oneof![Just(PoolKind::NonPaged), Just(PoolKind::Paged)],
        1u64..2_000_000_000_000,
        0u64..50_000_000,
    )
        .prop_map(|(tag, pool, bytes, outstanding)| Row {
            tag,
            pool,
            bytes,
            outstanding,
        });
    prop::collection::vec(row, 1..8).prop_map(|mut rows| {
        let mut seen = std::collections::HashSet::new();
        rows.retain(|r| seen.insert((r.tag.clone(), r.pool)));
        rows
    })
}

fn shape() -> impl Strategy<Value = Shape> {
    (
        prop_oneof![
            Just(Layout::Markdown),
            Just(Layout::Aligned),
            Just(Layout::SingleSpaced),
            Just(Layout::Csv),
            Just(Layout::Tsv),
            Just(Layout::Semicolon),
            Just(Layout::PowerShell),
            Just(Layout::KeyValue),
            Just(Layout::Html),
        ],
        prop_oneof![
            Just(Units::Bytes),
            Just(Units::InHeader(1 << 10, "KB")),
            Just(Units::InHeader(1 << 20, "MB")),
            Just(Units::InHeader(1 << 30, "GB")),
            Just(Units::InCells(1 << 20, "MB")),
            Just(Units::InCells(1 << 30, "GB")),
            Just(Units::InCells(1 << 30, "GiB")),
        ],
        prop_oneof![
            Just(Decoration::Plain),
            Just(Decoration::Backticks),
            Just(Decoration::Bold),
            Just(Decoration::Quoted),
            Just(Decoration::Note),
        ],
        any::<bool>(),
        0..NONPAGED.len(),
        prop_oneof![Just("Diff"), Just("Outstanding"), Just("In use")],
        any::<bool>(),
    )
        .prop_map(
            |(layout, units, decoration, thousands, spelling, outstanding_header, prose_around)| {
                Shape {
                    layout,
                    units,
                    decoration,
                    thousands,
                    spelling,
                    outstanding_header,
                    prose_around,
                }
            },
        )
}

fn with_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A size in units of `unit`, two decimals.
fn decimal(bytes: u64, unit: u64, shape: &Shape) -> String {
    let hundredths = ((bytes as f64 / unit as f64) * 100.0).round() as u64;
    let (int, frac) = (hundredths / 100, hundredths % 100);
    let int = if shape.thousands && !matches!(shape.layout, Layout::Semicolon) {
        with_thousands(int)
    } else {
        int.to_string()
    };
    let point = if matches!(shape.layout, Layout::Semicolon) {
        ','
    } else {
        '.'
    };
    format!("{int}{point}{frac:02}")
}

fn count(n: u64, shape: &Shape) -> String {
    if shape.thousands && !matches!(shape.layout, Layout::Semicolon) {
        with_thousands(n)
    } else {
        n.to_string()
    }
}

/// The largest difference the rendering's rounding allows.
fn tolerance(shape: &Shape) -> u64 {
    match shape.units {
        Units::Bytes => 0,
        Units::InHeader(unit, _) | Units::InCells(unit, _) => unit / 200 + 1,
    }
}

fn render(rows: &[Row], shape: &Shape) -> String {
    let bytes_header = match shape.units {
        Units::InHeader(_, u) => format!("Bytes ({u})"),
        Units::Bytes | Units::InCells(..) => "Bytes".to_owned(),
    };
    let header = [
        "Tag".to_owned(),
        "Type".to_owned(),
        bytes_header,
        shape.outstanding_header.to_owned(),
    ];
    let cells: Vec<[String; 4]> = rows
        .iter()
        .map(|r| {
            let tag = r.tag.as_str();
            let tag = match shape.decoration {
                Decoration::Plain => tag.to_owned(),
                Decoration::Backticks => format!("`{tag}`"),
                Decoration::Bold => format!("**{tag}**"),
                Decoration::Quoted => format!("\"{tag}\""),
                Decoration::Note => format!("{tag} (vendor filter)"),
            };
            let pool = match r.pool {
                PoolKind::NonPaged => NONPAGED[shape.spelling],
                _ => PAGED[shape.spelling],
            }
            .to_owned();
            let bytes = match shape.units {
                Units::Bytes => count(r.bytes, shape),
                Units::InHeader(unit, _) => decimal(r.bytes, unit, shape),
                Units::InCells(unit, u) => format!("{} {u}", decimal(r.bytes, unit, shape)),
            };
            [tag, pool, bytes, count(r.outstanding, shape)]
        })
        .collect();
    let mut text = String::new();
    if shape.prose_around {
        text.push_str("Hi all, here is what poolmon showed this morning on SRV-APP02:\n\n");
    }
    let delimited = |sep: &str, quote: bool| {
        let q = |c: &str| {
            if quote && (c.contains(',') || c.contains('"')) {
                format!("\"{}\"", c.replace('"', "\"\""))
            } else {
                c.to_owned()
            }
        };
        let mut t = header.iter().map(|c| q(c)).collect::<Vec<_>>().join(sep) + "\n";
        for row in &cells {
            t += &(row.iter().map(|c| q(c)).collect::<Vec<_>>().join(sep) + "\n");
        }
        t
    };
    let widths: Vec<usize> = (0..4)
        .map(|i| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let aligned_line = |row: &[String; 4]| {
        let mut line = String::new();
        for (i, c) in row.iter().enumerate() {
            // Text left-aligned, numbers right-aligned, as tools print them.
            if i < 2 {
                line += &format!("{c:<w$}  ", w = widths[i]);
            } else {
                line += &format!("{c:>w$}  ", w = widths[i]);
            }
        }
        line.trim_end().to_owned() + "\n"
    };
    match shape.layout {
        Layout::Markdown => {
            text += &format!("| {} |\n|---|---|---:|---:|\n", header.join(" | "));
            for row in &cells {
                text += &format!("| {} |\n", row.join(" | "));
            }
        }
        Layout::Aligned => {
            text += &aligned_line(&header);
            for row in &cells {
                text += &aligned_line(row);
            }
        }
        Layout::SingleSpaced => {
            text += &(header.join(" ") + "\n");
            for row in &cells {
                text += &(row.join(" ") + "\n");
            }
        }
        Layout::PowerShell => {
            text += &aligned_line(&header);
            let dashes: [String; 4] = std::array::from_fn(|i| "-".repeat(widths[i]));
            text += &aligned_line(&dashes);
            for row in &cells {
                text += &aligned_line(row);
            }
        }
        Layout::KeyValue => {
            for row in &cells {
                for (h, c) in header.iter().zip(row) {
                    text += &format!("{h}: {c}\n");
                }
                text += "\n";
            }
        }
        Layout::Html => {
            let escape = |c: &str| {
                c.replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('"', "&quot;")
                    .replace(' ', "&nbsp;")
            };
            let line = |cells: &[String], el: &str| {
                let tds: String = cells
                    .iter()
                    .map(|c| format!("<{el}>{}</{el}>", escape(c)))
                    .collect();
                format!("  <tr>{tds}</tr>\n")
            };
            text += "<table>\n";
            text += &line(&header, "th");
            for row in &cells {
                text += &line(row, "td");
            }
            text += "</table>\n";
        }
        Layout::Csv => text += &delimited(",", true),
        Layout::Tsv => text += &delimited("\t", false),
        Layout::Semicolon => text += &delimited(";", false),
    }
    if shape.prose_around {
        text.push_str("\nThe top one keeps growing. Any idea which driver that is?\n");
    }
    text
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn every_table_shape_reads_back_the_same_numbers(rows in rows(), shape in shape()) {
        let text = render(&rows, &shape);
        let parsed = parse_snapshots(text.as_bytes(), &ParseOptions::default())
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(parsed.snapshots.len(), 1, "{}\n{:?}", text, parsed.warnings);
        let got = &parsed.snapshots[0].rows;
        prop_assert_eq!(got.len(), rows.len(), "{}\n{:?}", text, got);
        for r in &rows {
            let found = got
                .iter()
                .find(|g| g.tag.to_string().trim_end() == r.tag && g.pool == r.pool);
            let Some(found) = found else {
                return Err(TestCaseError::fail(format!("no {} {:?} in\n{text}\n{got:?}", r.tag, r.pool)));
            };
            prop_assert!(
                found.bytes.abs_diff(r.bytes) <= tolerance(&shape),
                "{}: read {} for {} (tolerance {})\n{}", r.tag, found.bytes, r.bytes, tolerance(&shape), text
            );
            prop_assert_eq!(found.outstanding, Some(r.outstanding), "{}", text);
            if matches!(shape.decoration, Decoration::Note) {
                prop_assert_eq!(found.mapped_driver.as_deref(), Some("vendor filter"), "{}", text);
            }
        }
    }
}

/// A transposed table comparing two states (issue 24): the leaking state is the reading, the
/// state after a change is context, whichever column comes first.
fn render_states(rows: &[Row], leaking: &str, after: &str, after_first: bool) -> String {
    let (first, second) = if after_first {
        (after, leaking)
    } else {
        (leaking, after)
    };
    let mut text = format!("|  | {first} | {second} |\n|---|---:|---:|\n");
    for r in rows {
        let (a, b) = if after_first {
            (r.outstanding, r.bytes)
        } else {
            (r.bytes, r.outstanding)
        };
        text += &format!(
            "| `{}` | {} | {} |\n",
            r.tag,
            with_thousands(a),
            with_thousands(b)
        );
    }
    text
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn state_columns_read_the_leaking_state(
        rows in rows(),
        leaking in prop::sample::select(vec!["while leaking", "before the fix", "during the leak"]),
        after in prop::sample::select(vec!["after reboot", "after the fix", "after uninstalling QzAgent", "after update"]),
        after_first in any::<bool>(),
    ) {
        // One row per tag: the states are the columns.
        let mut seen = std::collections::HashSet::new();
        let rows: Vec<Row> = rows.into_iter().filter(|r| seen.insert(r.tag.clone())).collect();
        let text = render_states(&rows, leaking, after, after_first);
        let parsed = parse_snapshots(text.as_bytes(), &ParseOptions::default())
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert!(parsed.caveats.contains(&Caveat::ComparesStates), "{}", text);
        prop_assert_eq!(parsed.snapshots.len(), 2, "{}", text);
        let (now, then) = (&parsed.snapshots[0], &parsed.snapshots[1]);
        prop_assert!(!now.after_change && then.after_change, "{}", text);
        prop_assert_eq!(now.label.as_deref(), Some(leaking));
        for r in &rows {
            let find = |s: &poolsleuth::snapshot::Snapshot| {
                s.rows.iter().find(|g| g.tag.to_string().trim_end() == r.tag).map(|g| g.bytes)
            };
            prop_assert_eq!(find(now), Some(r.bytes), "{}", text);
            prop_assert_eq!(find(then), Some(r.outstanding), "{}", text);
        }
    }

    #[test]
    fn signed_numbers_read_as_changes(rows in rows()) {
        let mut seen = std::collections::HashSet::new();
        let rows: Vec<Row> = rows.into_iter().filter(|r| seen.insert(r.tag.clone())).collect();
        let mut text = String::from("| Tag | Allocs | Frees | Bytes |\n|---|---:|---:|---:|\n");
        for r in &rows {
            text += &format!(
                "| {} | +{} | **0** | +{} |\n",
                r.tag,
                with_thousands(r.outstanding),
                with_thousands(r.bytes)
            );
        }
        let parsed = parse_snapshots(text.as_bytes(), &ParseOptions::default())
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert!(parsed.caveats.contains(&Caveat::Changes), "{}", text);
        let last = parsed.snapshots.last().unwrap();
        for r in &rows {
            let g = last.rows.iter().find(|g| g.tag.to_string().trim_end() == r.tag);
            let Some(g) = g else {
                return Err(TestCaseError::fail(format!("no {} in\n{text}", r.tag)));
            };
            prop_assert_eq!(g.bytes, r.bytes, "{}", text);
            prop_assert_eq!(g.precision, Precision::LowerBound);
            prop_assert_eq!(g.allocs, Some(r.outstanding));
            prop_assert_eq!(g.frees, Some(0));
        }
    }
}
