//! The JSON form (see FORMATS.md):
//! `{"snapshots":[{"taken_at":"2026-11-01T10:00:00Z","label":"...","totals":{...},"rows":[...]}]}`,
//! a single snapshot object `{"rows":[...]}`, a bare array of rows, or an array of snapshots.
//! Row keys go through the same header synonyms as CSV (so `ConvertTo-Json` output of
//! SystemPoolTagInformation scripts with `PagedUsed`/`NonPagedUsed` works too).

use serde_json::{Map, Value};

use super::columns::{Columns, TableSink};
use super::text::{Input, parse_timestamp};
use super::{Ctx, PoolTotals, Snapshot, SnapshotError};

fn cell(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(";"),
        Value::Null | Value::Bool(_) | Value::Object(_) => String::new(),
    }
}

fn with_path(ctx: &mut Ctx, from: usize, path: &str) {
    for w in ctx.warnings.iter_mut().skip(from) {
        w.message = format!("{path}: {}", w.message);
    }
}

/// The rows' snapshots: one, or one per time value when rows carry a time.
fn read_rows(rows: &[Value], path: &str, ctx: &mut Ctx) -> Vec<Snapshot> {
    let mut out: Vec<Snapshot> = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        if ctx.full() {
            break;
        }
        let here = format!("{path}[{i}]");
        let Value::Object(obj) = row else {
            ctx.skip(0, format!("{here}: a row must be an object; skipped"));
            continue;
        };
        let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        let cells: Vec<String> = obj.values().map(cell).collect();
        let before = ctx.warnings.len();
        match Columns::from_headers(&keys) {
            Ok(columns) => {
                let mut sink = TableSink::default();
                columns.add_row(&cells, 0, ctx, &mut sink);
                // A serialized reading names the line each row came from; it is kept.
                let line = obj
                    .get("line")
                    .and_then(Value::as_u64)
                    .and_then(|l| u32::try_from(l).ok());
                for mut snap in sink.take(&columns, ctx) {
                    if let Some(line) = line {
                        snap.rows.iter_mut().for_each(|r| r.line = line);
                    }
                    match out
                        .iter_mut()
                        .find(|s| s.label == snap.label && s.taken_at == snap.taken_at)
                    {
                        Some(same) => same.rows.extend(snap.rows),
                        None => out.push(snap),
                    }
                }
            }
            Err(msg) => ctx.skip(0, format!("{msg}; skipped")),
        }
        with_path(ctx, before, &here);
    }
    out
}

fn read_snapshot(obj: &Map<String, Value>, path: &str, ctx: &mut Ctx, out: &mut Vec<Snapshot>) {
    let mut snap = Snapshot::default();
    match obj
        .get("taken_at")
        .or_else(|| obj.get("time"))
        .or_else(|| obj.get("timestamp"))
    {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => match parse_timestamp(s) {
            Some(t) => snap.taken_at = Some(t),
            None => ctx.warn(
                0,
                format!("{path}.taken_at: {s:?} is not a date and time (use RFC 3339)"),
            ),
        },
        Some(Value::Number(n)) => {
            snap.taken_at = n
                .as_i64()
                .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok());
            if snap.taken_at.is_none() {
                ctx.warn(
                    0,
                    format!("{path}.taken_at: {n} is not a Unix time in seconds"),
                );
            }
        }
        Some(_) => ctx.warn(0, format!("{path}.taken_at: expected a string")),
    }
    snap.label = obj.get("label").and_then(Value::as_str).map(str::to_owned);
    if let Some(t) = obj.get("totals").filter(|t| !t.is_null()) {
        match serde_json::from_value::<PoolTotals>(t.clone()) {
            Ok(t) => snap.totals = Some(t),
            Err(e) => ctx.warn(0, format!("{path}.totals: {e}; ignored")),
        }
    }
    snap.elapsed_hours = obj.get("elapsed_hours").and_then(Value::as_f64);
    match obj.get("rows") {
        Some(Value::Array(rows)) => {
            for s in read_rows(rows, &format!("{path}.rows"), ctx) {
                snap.rows.extend(s.rows);
            }
        }
        _ => ctx.warn(0, format!("{path}: no \"rows\" array")),
    }
    ctx.push_snapshot(out, snap, 0);
}

fn is_snapshot(v: &Value) -> bool {
    v.as_object().is_some_and(|o| o.contains_key("rows"))
}

pub(crate) fn parse(input: &Input<'_>, ctx: &mut Ctx) -> Result<Vec<Snapshot>, SnapshotError> {
    let value: Value = serde_json::from_str(input.text())
        .map_err(|e| SnapshotError::new(Some(e.line().max(1)), format!("not valid JSON: {e}")))?;
    let mut out = Vec::new();
    match &value {
        Value::Object(obj) => {
            if let Some(snaps) = obj.get("snapshots") {
                let Value::Array(snaps) = snaps else {
                    return Err(SnapshotError::new(
                        Some(1),
                        "\"snapshots\" must be an array",
                    ));
                };
                for (i, s) in snaps.iter().enumerate() {
                    match s {
                        Value::Object(o) => {
                            read_snapshot(o, &format!("snapshots[{i}]"), ctx, &mut out)
                        }
                        _ => ctx.skip(0, format!("snapshots[{i}]: not an object; skipped")),
                    }
                }
            } else if obj.contains_key("rows") {
                read_snapshot(obj, "snapshot", ctx, &mut out);
            } else {
                for s in read_rows(std::slice::from_ref(&value), "row", ctx) {
                    ctx.push_snapshot(&mut out, s, 0);
                }
            }
        }
        Value::Array(items) if !items.is_empty() && items.iter().all(is_snapshot) => {
            for (i, s) in items.iter().enumerate() {
                if let Value::Object(o) = s {
                    read_snapshot(o, &format!("[{i}]"), ctx, &mut out);
                }
            }
        }
        Value::Array(items) => {
            for s in read_rows(items, "rows", ctx) {
                ctx.push_snapshot(&mut out, s, 0);
            }
        }
        _ => {
            return Err(SnapshotError::new(
                Some(1),
                "JSON must be an object with \"snapshots\" or \"rows\", or an array of rows",
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{ParseOptions, PoolKind};

    #[test]
    fn documented_form() {
        let text = r#"{"snapshots":[{"taken_at":"2026-11-01T10:00:00Z","label":"before","rows":[{"tag":"Io","pool":"nonpaged","allocs":5,"frees":4,"bytes":100,"callers":["a!b+0x1"]}]}]}"#;
        let mut ctx = Ctx::new(&ParseOptions::default());
        let s = parse(&Input::from_str(text), &mut ctx).unwrap();
        assert!(ctx.warnings.is_empty(), "{:?}", ctx.warnings);
        let r = &s[0].rows[0];
        assert_eq!(r.pool, PoolKind::NonPaged);
        assert_eq!(r.allocs, Some(5));
        assert_eq!(r.bytes, 100);
        assert_eq!(r.callers, vec!["a!b+0x1"]);
        assert_eq!(s[0].label.as_deref(), Some("before"));
    }
}
