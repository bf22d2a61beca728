//! The pasted-text corpus (issue 14): what people paste into a ticket, a forum post or a chat
//! (retyped and annotated tables, edited tool output, prose, and texts that are no snapshot at
//! all), each `tests/fixtures/snapshots/pasted/NAME.txt` beside `NAME.expect.json`:
//!
//! ```json
//! {
//!   "about": "what a person did to produce this text",
//!   "format": "markdown",
//!   "snapshots": [
//!     {"label": "substring of the label", "elapsed_hours": 72, "exact_rows": true, "rows": [
//!       {"tag": "Abcd", "pool": "nonpaged", "bytes": 1234567, "outstanding": 12, "allocs": 100,
//!        "frees": 88, "mapped_driver": "xyz.sys", "precision": "approximate"}
//!     ]}
//!   ],
//!   "warnings": ["approximate"],
//!   "caveats": ["compares-states"],
//!   "error": "tag list"
//! }
//! ```
//!
//! * `about` is required; exactly one of `snapshots` and `error` is given.
//! * `format` (optional) is the detected format's name.
//! * `snapshots` must match the reading one for one, in order. In a snapshot, `label` is a
//!   case-insensitive substring of the label and `elapsed_hours` the hours on the input's own clock
//!   (both checked only when given). Each row is found by (`tag`, `pool`); `bytes` may differ by
//!   1 (rounding of `2.35 GB` and the like); `outstanding`, `allocs`, `frees`, `mapped_driver`
//!   (a case-insensitive substring) and `precision` (a missing `precision` in the reading means
//!   `exact`) are checked only when given. `exact_rows` (default true) also requires that the
//!   snapshot holds no other (tag, pool) row.
//! * In a snapshot, `after_change` (checked only when given) says whether it is a point taken after
//!   a change (`after reboot`), and `totals` (`paged_bytes`, `nonpaged_bytes`, each checked only
//!   when given, within 1) the machine totals; `rows` may be empty when `totals` is given.
//! * `warnings`: each string occurs (case-insensitively) in some warning message.
//! * `caveats`: each name (`compares-states`, `changes`, `unit-not-given`, `totals-only`, ...)
//!   is among the reading's caveats.
//! * `error`: the text must be refused, and the error's text holds this case-insensitive
//!   substring (or, for a list, one of them).
//!
//! The reading is compared as the JSON `ParsedSnapshots` serializes to, by field name, so fields
//! the reader gains (`precision`, `elapsed_hours`) need no change here. The main test checks every
//! text and lists every difference at once, with a summary of what was actually read.

use std::collections::BTreeSet;
use std::path::PathBuf;

use poolsleuth::snapshot::{ParseOptions, parse_snapshots};
use serde_json::{Value, json};

const MIN_TEXTS: usize = 45;
const FORMATS: &[&str] = &[
    "poolmon",
    "poolmon-log",
    "poolused",
    "verifier",
    "csv",
    "powershell",
    "markdown",
    "table",
    "prose",
    "json",
];
const POOLS: &[&str] = &["paged", "nonpaged", "session", "unknown"];
const PRECISIONS: &[&str] = &["exact", "approximate", "lower-bound", "unknown"];
const COUNTS: &[&str] = &["outstanding", "allocs", "frees"];
const TOTALS: [&str; 2] = ["paged_bytes", "nonpaged_bytes"];

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/snapshots/pasted")
}

/// The NAME of every `NAME.txt`, sorted.
fn text_names() -> Vec<String> {
    let dir = corpus_dir();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|file| file.strip_suffix(".txt").map(str::to_owned))
        .collect();
    names.sort();
    names
}

fn read_expect(name: &str) -> Result<Value, String> {
    let path = corpus_dir().join(format!("{name}.expect.json"));
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{name}.expect.json is not valid JSON: {e}"))
}

fn contains_ci(haystack: &str, needle: &str) -> bool {
    haystack.to_lowercase().contains(&needle.to_lowercase())
}

fn is_u64(v: Option<&Value>) -> bool {
    v.is_some_and(Value::is_u64)
}

fn check_keys(obj: &serde_json::Map<String, Value>, allowed: &[&str], at: &str) -> Vec<String> {
    obj.keys()
        .filter(|k| !allowed.contains(&k.as_str()))
        .map(|k| format!("{at}: unknown key {k:?} (allowed: {})", allowed.join(", ")))
        .collect()
}

/// What is wrong with an expect file itself (unknown keys catch typos such as `byte`).
fn validate_expect(e: &Value) -> Vec<String> {
    let mut bad = Vec::new();
    let Some(top) = e.as_object() else {
        return vec!["the expect file is not a JSON object".into()];
    };
    bad.extend(check_keys(
        top,
        &[
            "about",
            "format",
            "snapshots",
            "warnings",
            "caveats",
            "error",
        ],
        "top level",
    ));
    if top
        .get("about")
        .and_then(Value::as_str)
        .is_none_or(|s| s.trim().is_empty())
    {
        bad.push("`about` (a sentence) is required".into());
    }
    if let Some(f) = top.get("format")
        && !f.as_str().is_some_and(|f| FORMATS.contains(&f))
    {
        bad.push(format!("`format` {f} is not one of {}", FORMATS.join(", ")));
    }
    if let Some(w) = top.get("warnings")
        && !w
            .as_array()
            .is_some_and(|w| w.iter().all(|s| s.as_str().is_some_and(|s| !s.is_empty())))
    {
        bad.push("`warnings` must be an array of non-empty strings".into());
    }
    match (top.get("snapshots"), top.get("error")) {
        (Some(_), Some(_)) => bad.push("give `snapshots` or `error`, not both".into()),
        (None, None) => bad.push("give `snapshots` or `error`".into()),
        (None, Some(err)) => {
            let ok = match err {
                Value::String(s) => !s.is_empty(),
                Value::Array(a) => {
                    !a.is_empty() && a.iter().all(|s| s.as_str().is_some_and(|s| !s.is_empty()))
                }
                _ => false,
            };
            if !ok {
                bad.push("`error` must be a non-empty string or array of strings".into());
            }
        }
        (Some(snaps), None) => match snaps.as_array() {
            Some(snaps) if !snaps.is_empty() => {
                for (i, s) in snaps.iter().enumerate() {
                    bad.extend(validate_snapshot(s, i));
                }
            }
            _ => bad.push("`snapshots` must be a non-empty array".into()),
        },
    }
    bad
}

fn validate_snapshot(s: &Value, i: usize) -> Vec<String> {
    let at = format!("snapshots[{i}]");
    let Some(s) = s.as_object() else {
        return vec![format!("{at} is not an object")];
    };
    let mut bad = check_keys(
        s,
        &[
            "label",
            "elapsed_hours",
            "rows",
            "exact_rows",
            "after_change",
            "totals",
        ],
        &at,
    );
    if s.get("after_change").is_some_and(|x| !x.is_boolean()) {
        bad.push(format!("{at}.after_change must be true or false"));
    }
    if let Some(t) = s.get("totals") {
        match t.as_object() {
            Some(t) => {
                bad.extend(check_keys(t, &TOTALS, &format!("{at}.totals")));
                if t.values().any(|v| !v.is_u64()) {
                    bad.push(format!("{at}.totals values must be non-negative integers"));
                }
            }
            None => bad.push(format!("{at}.totals must be an object")),
        }
    }
    if s.get("label").is_some_and(|l| !l.is_string()) {
        bad.push(format!("{at}.label must be a string"));
    }
    if s.get("elapsed_hours").is_some_and(|h| !h.is_number()) {
        bad.push(format!("{at}.elapsed_hours must be a number"));
    }
    if s.get("exact_rows").is_some_and(|x| !x.is_boolean()) {
        bad.push(format!("{at}.exact_rows must be true or false"));
    }
    let Some(rows) = s
        .get("rows")
        .and_then(Value::as_array)
        .filter(|r| !r.is_empty() || s.contains_key("totals"))
    else {
        bad.push(format!(
            "{at}.rows must be a non-empty array (or empty beside `totals`)"
        ));
        return bad;
    };
    let mut seen = BTreeSet::new();
    for (j, r) in rows.iter().enumerate() {
        let at = format!("{at}.rows[{j}]");
        let Some(r) = r.as_object() else {
            bad.push(format!("{at} is not an object"));
            continue;
        };
        bad.extend(check_keys(
            r,
            &[
                "tag",
                "pool",
                "bytes",
                "outstanding",
                "allocs",
                "frees",
                "mapped_driver",
                "precision",
            ],
            &at,
        ));
        let tag = r.get("tag").and_then(Value::as_str).unwrap_or_default();
        if tag.chars().count() != 4 {
            bad.push(format!(
                "{at}.tag {tag:?} must be exactly 4 characters (pad with spaces)"
            ));
        }
        let pool = r.get("pool").and_then(Value::as_str).unwrap_or_default();
        if !POOLS.contains(&pool) {
            bad.push(format!(
                "{at}.pool {pool:?} is not one of {}",
                POOLS.join(", ")
            ));
        }
        if !is_u64(r.get("bytes")) {
            bad.push(format!("{at}.bytes must be a non-negative integer"));
        }
        for k in COUNTS {
            if r.get(*k).is_some() && !is_u64(r.get(*k)) {
                bad.push(format!("{at}.{k} must be a non-negative integer"));
            }
        }
        if r.get("mapped_driver").is_some_and(|m| !m.is_string()) {
            bad.push(format!("{at}.mapped_driver must be a string"));
        }
        if let Some(p) = r.get("precision")
            && !p.as_str().is_some_and(|p| PRECISIONS.contains(&p))
        {
            bad.push(format!(
                "{at}.precision {p} is not one of {}",
                PRECISIONS.join(", ")
            ));
        }
        if !seen.insert((tag.to_owned(), pool.to_owned())) {
            bad.push(format!("{at}: ({tag:?}, {pool}) is listed twice"));
        }
    }
    bad
}

/// The format's `?format=` name: today `ParsedSnapshots` serializes the enum's variant names
/// (`poolmon-screen`, `powershell-table`, `markdown-table`), which are mapped to the names
/// `SnapshotFormat::name` gives and the expect files use.
fn format_name(actual: &Value) -> &str {
    match actual["format"].as_str().unwrap_or("?") {
        "poolmon-screen" => "poolmon",
        "powershell-table" => "powershell",
        "markdown-table" => "markdown",
        other => other,
    }
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn precision_of(row: &Value) -> &str {
    str_field(row, "precision").unwrap_or("exact")
}

/// One row of the reading, short: `LkaL/nonpaged 1893728256 out=411224 [approximate]`.
fn row_summary(r: &Value) -> String {
    let mut s = format!(
        "{:?}/{} {}",
        str_field(r, "tag").unwrap_or("?"),
        str_field(r, "pool").unwrap_or("?"),
        r.get("bytes").map_or_else(|| "?".into(), Value::to_string)
    );
    for (k, short) in [
        ("outstanding", "out"),
        ("allocs", "allocs"),
        ("frees", "frees"),
    ] {
        if let Some(n) = r.get(k).and_then(Value::as_u64) {
            s += &format!(" {short}={n}");
        }
    }
    if precision_of(r) != "exact" {
        s += &format!(" [{}]", precision_of(r));
    }
    if let Some(m) = str_field(r, "mapped_driver") {
        s += &format!(" ({m})");
    }
    s
}

/// What the reader made of a text, for failure messages.
fn summarize(actual: &Value) -> String {
    let snaps = actual["snapshots"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    let mut out = format!(
        "    read as {} with {} snapshot(s)",
        format_name(actual),
        snaps.len()
    );
    for (i, s) in snaps.iter().enumerate().take(8) {
        let rows = s["rows"].as_array().map_or(&[][..], Vec::as_slice);
        out += &format!("\n    [{i}]");
        if let Some(l) = str_field(s, "label") {
            out += &format!(" label={l:?}");
        }
        if let Some(h) = s.get("elapsed_hours").filter(|h| !h.is_null()) {
            out += &format!(" elapsed_hours={h}");
        }
        if s.get("after_change").and_then(Value::as_bool) == Some(true) {
            out += " after_change";
        }
        if let Some(t) = s.get("totals").filter(|t| !t.is_null()) {
            out += &format!(" totals={t}");
        }
        let shown: Vec<String> = rows.iter().take(10).map(row_summary).collect();
        out += &format!(" {} row(s): {}", rows.len(), shown.join("; "));
        if rows.len() > 10 {
            out += &format!("; ... {} more", rows.len() - 10);
        }
    }
    if snaps.len() > 8 {
        out += &format!("\n    ... {} more snapshots", snaps.len() - 8);
    }
    let warnings = actual["warnings"].as_array().map_or(&[][..], Vec::as_slice);
    for w in warnings.iter().take(8) {
        out += &format!(
            "\n    warning line {}: {}",
            w["line"],
            w["message"].as_str().unwrap_or("?")
        );
    }
    if warnings.len() > 8 {
        out += &format!("\n    ... {} more warnings", warnings.len() - 8);
    }
    if let Some(c) = actual.get("caveats").filter(|c| !c.is_null()) {
        out += &format!("\n    caveats: {c}");
    }
    out
}

/// The differences between one expected snapshot and the one read.
fn compare_snapshot(i: usize, want: &Value, got: &Value, bad: &mut Vec<String>) {
    if let Some(label) = str_field(want, "label") {
        match str_field(got, "label") {
            Some(l) if contains_ci(l, label) => {}
            other => bad.push(format!(
                "snapshot {i}: label should contain {label:?}, got {other:?}"
            )),
        }
    }
    if let Some(hours) = want.get("elapsed_hours").and_then(Value::as_f64) {
        match got.get("elapsed_hours").and_then(Value::as_f64) {
            Some(h) if (h - hours).abs() < 0.01 => {}
            other => bad.push(format!(
                "snapshot {i}: elapsed_hours should be {hours}, got {other:?}"
            )),
        }
    }
    if let Some(after) = want.get("after_change").and_then(Value::as_bool) {
        let got_after = got
            .get("after_change")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if got_after != after {
            bad.push(format!(
                "snapshot {i}: after_change should be {after}, got {got_after}"
            ));
        }
    }
    if let Some(totals) = want.get("totals").and_then(Value::as_object) {
        for (k, v) in totals {
            let want_n = v.as_u64().unwrap_or_default();
            match got["totals"].get(k).and_then(Value::as_u64) {
                Some(n) if n.abs_diff(want_n) <= 1 => {}
                other => bad.push(format!(
                    "snapshot {i}: totals.{k} should be {want_n}, got {other:?}"
                )),
            }
        }
    }
    let got_rows = got["rows"].as_array().map_or(&[][..], Vec::as_slice);
    let key = |r: &Value| {
        (
            str_field(r, "tag").unwrap_or_default().to_owned(),
            str_field(r, "pool").unwrap_or_default().to_owned(),
        )
    };
    let want_rows = want["rows"].as_array().map_or(&[][..], Vec::as_slice);
    for w in want_rows {
        let (tag, pool) = key(w);
        let found: Vec<&Value> = got_rows.iter().filter(|r| key(r) == key(w)).collect();
        let at = format!("snapshot {i} row {tag:?}/{pool}");
        let Some(g) = found.first() else {
            bad.push(format!("{at}: missing"));
            continue;
        };
        if found.len() > 1 {
            bad.push(format!("{at}: read {} times", found.len()));
        }
        let want_bytes = w["bytes"].as_u64().unwrap_or_default();
        match g["bytes"].as_u64() {
            Some(b) if b.abs_diff(want_bytes) <= 1 => {}
            other => bad.push(format!("{at}: bytes should be {want_bytes}, got {other:?}")),
        }
        for k in COUNTS {
            if let Some(n) = w.get(*k).and_then(Value::as_u64) {
                let got_n = g.get(*k).and_then(Value::as_u64);
                if got_n != Some(n) {
                    bad.push(format!("{at}: {k} should be {n}, got {got_n:?}"));
                }
            }
        }
        if let Some(m) = str_field(w, "mapped_driver") {
            match str_field(g, "mapped_driver") {
                Some(gm) if contains_ci(gm, m) => {}
                other => bad.push(format!(
                    "{at}: mapped_driver should contain {m:?}, got {other:?}"
                )),
            }
        }
        if let Some(p) = str_field(w, "precision")
            && precision_of(g) != p
        {
            bad.push(format!(
                "{at}: precision should be {p}, got {}",
                precision_of(g)
            ));
        }
    }
    if want.get("exact_rows").and_then(Value::as_bool) != Some(false) {
        let wanted: BTreeSet<_> = want_rows.iter().map(key).collect();
        let extra: Vec<String> = got_rows
            .iter()
            .filter(|r| !wanted.contains(&key(r)))
            .map(row_summary)
            .collect();
        if !extra.is_empty() {
            bad.push(format!(
                "snapshot {i}: {} row(s) not expected: {}",
                extra.len(),
                extra.join("; ")
            ));
        }
    }
}

/// Reads `input` and lists every way the reading differs from `expect`.
fn check(input: &[u8], expect: &Value) -> Result<(), String> {
    let mut bad = validate_expect(expect);
    if !bad.is_empty() {
        bad.insert(0, "the expect file itself is malformed:".into());
        return Err(bad.join("\n  "));
    }
    let parsed = parse_snapshots(input, &ParseOptions::default());
    if let Some(err) = expect.get("error") {
        let wanted: Vec<&str> = match err {
            Value::String(s) => vec![s.as_str()],
            _ => err
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_str)
                .collect(),
        };
        return match parsed {
            Err(e) if wanted.iter().any(|w| contains_ci(&e.to_string(), w)) => Ok(()),
            Err(e) => Err(format!(
                "the error should mention {}, but it says: {e}",
                wanted
                    .iter()
                    .map(|w| format!("{w:?}"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            )),
            Ok(p) => {
                let actual = serde_json::to_value(&p).expect("ParsedSnapshots serializes");
                Err(format!(
                    "should be refused (error mentioning {}), but it was read:\n{}",
                    wanted.join(" / "),
                    summarize(&actual)
                ))
            }
        };
    }
    let parsed = match parsed {
        Ok(p) => p,
        Err(e) => return Err(format!("should be read, but was refused: {e}")),
    };
    let actual = serde_json::to_value(&parsed).expect("ParsedSnapshots serializes");

    if let Some(f) = str_field(expect, "format")
        && format_name(&actual) != f
    {
        bad.push(format!(
            "format should be {f}, got {}",
            format_name(&actual)
        ));
    }
    let want_snaps = expect["snapshots"].as_array().unwrap();
    let got_snaps = actual["snapshots"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    if want_snaps.len() == got_snaps.len() {
        for (i, (w, g)) in want_snaps.iter().zip(got_snaps).enumerate() {
            compare_snapshot(i, w, g, &mut bad);
        }
    } else {
        // Pairing snapshots up would only add noise; the summary shows what was read.
        bad.push(format!(
            "{} snapshot(s) expected, {} read",
            want_snaps.len(),
            got_snaps.len()
        ));
    }
    let messages: Vec<&str> = strings(&actual["warnings"])
        .iter()
        .filter_map(|w| str_field(w, "message"))
        .collect();
    for w in strings(&expect["warnings"])
        .iter()
        .filter_map(Value::as_str)
    {
        if !messages.iter().any(|m| contains_ci(m, w)) {
            bad.push(format!("no warning mentions {w:?}"));
        }
    }
    let caveats: Vec<&str> = strings(&actual["caveats"])
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for c in strings(&expect["caveats"]).iter().filter_map(Value::as_str) {
        if !caveats.contains(&c) {
            bad.push(format!("caveat {c:?} not recorded (got {caveats:?})"));
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(format!("{}\n{}", bad.join("\n  "), summarize(&actual)))
    }
}

/// The items of a JSON array, none when it is missing.
fn strings(v: &Value) -> &[Value] {
    v.as_array().map_or(&[][..], Vec::as_slice)
}

fn check_file(name: &str) -> Result<(), String> {
    let path = corpus_dir().join(format!("{name}.txt"));
    let input = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    check(&input, &read_expect(name)?)
}

/// A driver binary uploaded as a snapshot by mistake: `MZ`, zeroes, `e_lfanew` pointing at
/// `PE\0\0` and an x64 machine field.
fn driver_binary() -> Vec<u8> {
    let mut bytes = vec![0u8; 0x400];
    bytes[..2].copy_from_slice(b"MZ");
    bytes[0x3c..0x40].copy_from_slice(&0x80u32.to_le_bytes());
    bytes[0x80..0x84].copy_from_slice(b"PE\0\0");
    bytes[0x84..0x86].copy_from_slice(&0x8664u16.to_le_bytes());
    bytes
}

fn driver_binary_expect() -> Value {
    json!({
        "about": "A driver .sys file uploaded instead of a snapshot.",
        "error": "PE file",
    })
}

#[test]
fn pasted_texts_read_as_expected() {
    let names = text_names();
    let mut failures: Vec<String> = names
        .iter()
        .filter_map(|name| {
            check_file(name)
                .err()
                .map(|why| format!("{name}.txt:\n  {why}"))
        })
        .collect();
    if let Err(why) = check(&driver_binary(), &driver_binary_expect()) {
        failures.push(format!("(driver binary built in the test):\n  {why}"));
    }
    assert!(
        failures.is_empty(),
        "{} of {} pasted texts read wrong:\n\n{}\n",
        failures.len(),
        names.len() + 1,
        failures.join("\n\n")
    );
}

#[test]
fn every_text_has_an_expect_file_and_back() {
    let dir = corpus_dir();
    let mut texts = BTreeSet::new();
    let mut expects = BTreeSet::new();
    let mut strays = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let file = entry.unwrap().file_name().to_string_lossy().into_owned();
        if let Some(name) = file.strip_suffix(".expect.json") {
            expects.insert(name.to_owned());
        } else if let Some(name) = file.strip_suffix(".txt") {
            texts.insert(name.to_owned());
        } else {
            strays.push(file);
        }
    }
    let no_expect: Vec<_> = texts.difference(&expects).collect();
    let no_text: Vec<_> = expects.difference(&texts).collect();
    assert!(
        no_expect.is_empty() && no_text.is_empty() && strays.is_empty(),
        "texts without NAME.expect.json: {no_expect:?}; expect files without NAME.txt: \
         {no_text:?}; other files: {strays:?}"
    );
    assert!(
        texts.len() >= MIN_TEXTS,
        "the corpus holds {} texts, issue 14 asks for at least {MIN_TEXTS}",
        texts.len()
    );
}

#[test]
fn expect_files_are_well_formed() {
    let mut bad = Vec::new();
    for name in text_names() {
        match read_expect(&name) {
            Ok(e) => bad.extend(
                validate_expect(&e)
                    .into_iter()
                    .map(|p| format!("{name}.expect.json: {p}")),
            ),
            Err(e) => bad.push(e),
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn driver_binary_is_refused_as_a_pe_file() {
    if let Err(why) = check(&driver_binary(), &driver_binary_expect()) {
        panic!("{why}");
    }
}

/// Prints what the reader makes of every text (passing or not), for writing the reader:
/// `cargo test --test snapshot_pasted print_every_reading -- --ignored --nocapture`.
#[test]
#[ignore = "prints readings; run by hand"]
fn print_every_reading() {
    for name in text_names() {
        let input = std::fs::read(corpus_dir().join(format!("{name}.txt"))).unwrap();
        match parse_snapshots(&input, &ParseOptions::default()) {
            Ok(p) => println!(
                "{name}.txt:\n{}\n",
                summarize(&serde_json::to_value(&p).unwrap())
            ),
            Err(e) => println!("{name}.txt:\n    refused: {e}\n"),
        }
    }
}

/// One test per important shape, so a run names the shapes that still read wrong.
macro_rules! shape_tests {
    ($($test:ident => $name:literal,)*) => {$(
        #[test]
        fn $test() {
            if let Err(why) = check_file($name) {
                panic!("{}.txt:\n  {why}", $name);
            }
        }
    )*};
}

shape_tests! {
    shape_markdown_decorated_tags => "markdown-decorated-tags-mb-header",
    shape_unnamed_tag_column => "whitespace-table-tag-column-unnamed",
    shape_csv_without_header => "csv-without-header",
    shape_semicolon_decimal_comma => "csv-semicolon-decimal-comma-gb",
    shape_units_in_cells => "markdown-size-column-units-in-cells",
    shape_approximate_and_bold => "markdown-approximate-bold-annotated-share",
    shape_lower_bound => "markdown-lower-bound-wrapped-counter",
    shape_level_and_change => "markdown-bytes-and-change-over-3-days",
    shape_change_only => "csv-delta-mb-only",
    shape_pool_spellings => "whitespace-pool-type-spellings-mixed",
    shape_counts_without_bytes => "markdown-counts-only-with-ratio-column",
    shape_series_per_row => "markdown-series-uptime-outstanding-after-fix",
    shape_poolmon_non_paged => "poolmon-screen-non-paged-two-words",
    shape_poolused_without_header => "poolused-rows-without-header",
    shape_verifier_label_on_header => "verifier-label-and-header-on-one-line-then-lm",
    shape_totals_around_table => "markdown-with-machine-totals-and-total-row",
    shape_prose_went_from_to => "prose-went-from-to",
    shape_not_a_tag_list => "not-snapshot-pooltag-style-tag-list",
    shape_not_a_driver_list => "not-snapshot-driverquery-v-csv",
    shape_not_an_ifr_log => "not-snapshot-kmdf-ifr-wdflogdump",
    shape_not_a_debugger_session => "not-snapshot-windbg-analyze-and-lm",
    shape_poolmon_free_text_columns => "poolmon-edited-free-text-source-columns",
    shape_delta_table_plus_signs => "markdown-delta-table-plus-signs-net-column",
    shape_change_without_unit => "markdown-delta-without-unit-counts",
    shape_state_columns => "markdown-transposed-while-leaking-after-reboot",
    shape_state_columns_csv => "csv-states-before-fix-after-uninstall-total-row",
    shape_decimal_commas => "whitespace-decimal-comma-sizes",
    shape_verifier_bare_hex_lengths => "verifier-bare-hex-lengths-then-du",
    shape_key_value_block => "keyvalue-one-tag-remark-in-brackets",
    shape_key_value_earlier_in_prose => "keyvalue-retyped-poolmon-earlier-in-prose",
    shape_html_chat_paste => "html-chat-keyvalue-code-entities",
    shape_html_table => "html-table-from-web-page",
    shape_totals_over_time => "powershell-pool-totals-over-time-no-tags",
    shape_totals_get_counter_csv => "csv-get-counter-pool-bytes-no-tags",
    shape_totals_rammap => "rammap-pool-figures-no-tags",
}
