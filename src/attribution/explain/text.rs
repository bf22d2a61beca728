//! The plain-text report for terminals (`?output=text`, `poolsleuth analyze`), within
//! [`WIDTH`] columns. Free text wraps at words; a name wider than its table column is printed
//! whole and the rest of its row continues on the next line, so nothing is cut; a word wider
//! than the whole line (a long path) breaks after a path separator.

use std::fmt::Write as _;

use super::super::model::{Analysis, Finding, ReadState, Suspect};
use crate::format::{GrowthRate, counted, human_bytes, tag_shown};
use crate::tag::PoolTag;

/// Rows of the "read from your paste" table.
const READ_ROWS: usize = 10;

/// What was read, first: a person checks the reading at a glance before the answer.
fn render_read(out: &mut String, a: &Analysis) {
    if a.read.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "READ FROM YOUR PASTE (check these against what you sent)"
    );
    let several = a.input.files.len() > 1;
    let _ = writeln!(
        out,
        "  {:<19} {:<9} {:<46} {:<12} LINE",
        "TAG", "POOL", "VALUE", "STATE"
    );
    for v in a.read.iter().take(READ_ROWS) {
        let what = match (&v.tag, &v.what) {
            (Some(t), _) => tag_cell(t),
            (None, Some(w)) => clean(w),
            (None, None) => String::new(),
        };
        let state = match v.state {
            ReadState::Latest => "latest",
            ReadState::Earlier => "earlier",
            ReadState::AfterChange => "after change",
        };
        let line = v
            .source
            .as_ref()
            .map_or(String::from("-"), |s| match (&s.file_name, several) {
                (Some(name), true) => {
                    // The columns before take 92 of the 100: a long file name keeps its end.
                    let at = format!(":{}", s.line);
                    let room = (WIDTH - 92).saturating_sub(at.chars().count()).max(1);
                    let name = clean(name);
                    let n = name.chars().count();
                    if n > room {
                        let tail: String = name.chars().skip(n - room + 1).collect();
                        format!("…{tail}{at}")
                    } else {
                        format!("{name}{at}")
                    }
                }
                _ => s.line.to_string(),
            });
        let value: String = clean(&v.value).chars().take(46).collect();
        let what: String = what.chars().take(19).collect();
        let _ = writeln!(
            out,
            "  {what:<19} {:<9} {value:<46} {state:<12} {line}",
            v.pool.name()
        );
    }
    if a.read.len() > READ_ROWS {
        let _ = writeln!(
            out,
            "  ({} more in the JSON answer's `read`)",
            a.read.len() - READ_ROWS
        );
    }
    out.push('\n');
}

/// The widest line the report prints.
pub const WIDTH: usize = 100;

/// Shows a tag with its padding visible (`Io··`) and nothing that moves the cursor.
fn tag_cell(tag: &PoolTag) -> String {
    clean(&tag_shown(*tag))
}

/// Removes control characters so input text cannot drive the terminal.
fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn width_of(text: &str) -> usize {
    text.chars().count()
}

/// Where to break a word so its first part is at most `width` characters: after the last
/// path separator, `.`, `_`, `-`, `;` or `,` within that width, else at the width.
fn break_at(word: &[char], width: usize) -> usize {
    word[..width]
        .iter()
        .rposition(|c| matches!(c, '\\' | '/' | '.' | '_' | '-' | ';' | ','))
        .filter(|&i| i > 0)
        .map_or(width, |i| i + 1)
}

/// Words of `text` in lines of at most [`WIDTH`] characters: the first after `first`, the
/// others after `indent`. A word wider than a line fills the line it starts on and breaks
/// (see [`break_at`]).
fn wrap(text: &str, first: &str, indent: &str) -> String {
    let mut out = String::new();
    let mut line = first.to_owned();
    let mut empty = true;
    let room = WIDTH.saturating_sub(width_of(indent)).max(20);
    let new_line = |line: &mut String, out: &mut String| {
        out.push_str(line.trim_end());
        out.push('\n');
        *line = indent.to_owned();
    };
    for word in text.split_whitespace() {
        let mut rest: Vec<char> = word.chars().collect();
        loop {
            let gap = usize::from(!empty);
            let free = WIDTH.saturating_sub(width_of(&line) + gap);
            if rest.len() <= free {
                if !empty {
                    line.push(' ');
                }
                line.extend(rest.iter());
                empty = false;
                break;
            }
            if !empty && (rest.len() <= room || free < 12) {
                new_line(&mut line, &mut out);
                empty = true;
                continue;
            }
            // Wider than a line: fill this one and go on with the rest.
            let at = break_at(&rest, free.max(1));
            if !empty {
                line.push(' ');
            }
            line.extend(rest[..at].iter());
            rest.drain(..at);
            new_line(&mut line, &mut out);
            empty = true;
        }
    }
    out.push_str(line.trim_end());
    out.push('\n');
    out
}

/// A table column: its header, width, and whether numbers align right.
struct Column {
    header: &'static str,
    width: usize,
    right: bool,
}

const fn left(header: &'static str, width: usize) -> Column {
    Column {
        header,
        width,
        right: false,
    }
}

const fn right(header: &'static str, width: usize) -> Column {
    Column {
        header,
        width,
        right: true,
    }
}

/// One row of `columns` (two spaces in front, one between): a cell wider than its column is
/// printed whole, and the cells after it move to the next line, each at its own column.
fn row(columns: &[Column], cells: &[String]) -> String {
    let mut out = String::new();
    let mut line = String::from("  ");
    let mut at = 2;
    for (column, cell) in columns.iter().zip(cells) {
        if width_of(&line) > at {
            out.push_str(line.trim_end());
            out.push('\n');
            line = " ".repeat(at);
        }
        while width_of(&line) < at {
            line.push(' ');
        }
        let _ = if column.right {
            write!(line, "{cell:>width$}", width = column.width)
        } else {
            write!(line, "{cell:<width$}", width = column.width)
        };
        at += column.width + 1;
    }
    out.push_str(line.trim_end());
    out.push('\n');
    out
}

fn header(columns: &[Column]) -> String {
    let cells: Vec<String> = columns.iter().map(|c| c.header.to_owned()).collect();
    row(columns, &cells)
}

/// A sentence that gives the ways to upload the drivers, with them replaced by where the
/// report lists them: a command wrapped inside a sentence does not copy well.
fn upload_referred(a: &Analysis, text: &str) -> String {
    match &a.driver_upload {
        Some(upload) => text.replace(
            &upload.sentence(),
            "upload the machine's drivers for scanning (the ways are under UPLOAD DRIVERS)",
        ),
        None => text.to_owned(),
    }
}

/// The ways to send the machine's drivers, each command on lines of its own.
fn render_upload(out: &mut String, a: &Analysis) {
    let Some(upload) = &a.driver_upload else {
        return;
    };
    let _ = writeln!(
        out,
        "UPLOAD DRIVERS (their code shows which driver allocates a tag no list knows)"
    );
    if let Some(page) = &upload.page {
        out.push_str(&wrap(&format!("In a browser: {page}"), "  ", "    "));
    }
    if let Some(exe) = &upload.poolsleuth_exe {
        out.push_str(&wrap(
            &format!(
                "On the Windows machine, with poolsleuth.exe, with the admin token in place of {}:",
                crate::driver_upload::TOKEN_PLACEHOLDER
            ),
            "  ",
            "  ",
        ));
        out.push_str(&wrap(exe, "    ", "        "));
    }
    if let Some(powershell) = &upload.powershell {
        out.push_str(&wrap(
            &format!(
                "Or on the Windows machine, in PowerShell, with the admin token in place of {}:",
                crate::driver_upload::TOKEN_PLACEHOLDER
            ),
            "  ",
            "  ",
        ));
        out.push_str(&wrap(powershell, "    ", "        "));
    }
    out.push_str(&wrap(
        &format!(
            "On the poolsleuth host, with {} copied there as drivers:",
            crate::driver_upload::WINDOWS_DRIVERS
        ),
        "  ",
        "  ",
    ));
    out.push_str(&wrap(&upload.poolsleuth, "    ", "        "));
    out.push('\n');
}

/// The answer, first.
fn render_answer(out: &mut String, a: &Analysis) {
    const LABEL: &str = "              ";
    let answer = &a.answer;
    out.push_str(&wrap(&clean(&answer.headline), "ANSWER  ", "        "));
    if let Some(driver) = &answer.driver {
        let version = match (&answer.version, answer.known_versions.as_slice()) {
            (Some(v), _) => v.clone(),
            (None, []) => "version unknown".to_owned(),
            (None, known) => format!(
                "(version on this machine unknown; versions known: {})",
                known.join(", ")
            ),
        };
        let line = format!("{} {}", clean(driver), clean(&version));
        out.push_str(&wrap(&line, "  Driver:     ", LABEL));
    }
    out.push_str(&wrap(
        &clean(&upload_referred(a, &answer.action)),
        "  Do now:     ",
        LABEL,
    ));
    if !answer.candidates.is_empty() {
        out.push_str(&wrap(
            &clean(&answer.candidates.join(", ")),
            "  Candidates: ",
            LABEL,
        ));
    }
    let sure = format!(
        "{}: {}",
        answer.confidence.as_str(),
        clean(&answer.confidence_reason)
    );
    out.push_str(&wrap(&sure, "  How sure:   ", LABEL));
    if let Some(order) = &answer.order {
        out.push_str(&wrap(&clean(order), "  Order:      ", LABEL));
    }
    out.push('\n');
}

const SUSPECT_COLUMNS: [Column; 6] = [
    right("#", 2),
    right("SCORE", 8),
    left("DRIVER", 26),
    left("VENDOR", 24),
    left("EVIDENCE", 15),
    left("TAGS", 16),
];

fn render_suspect(out: &mut String, s: &Suspect) {
    let mut tags: Vec<String> = Vec::new();
    for e in &s.evidence {
        let t = tag_cell(&e.tag);
        if !tags.contains(&t) && tags.len() < 3 {
            tags.push(t);
        }
    }
    let more = if s.evidence_total > 3 { ",…" } else { "" };
    let version = s
        .version_seen
        .as_deref()
        .map(|v| format!(" {}", clean(v)))
        .unwrap_or_default();
    out.push_str(&row(
        &SUSPECT_COLUMNS,
        &[
            s.rank.to_string(),
            format!("{:.3}", s.score),
            format!("{}{version}", clean(&s.driver)),
            clean(s.vendor.as_deref().unwrap_or("?")),
            s.best_evidence.as_str().to_owned(),
            format!("{}{more}", tags.join(",")),
        ],
    ));
    const INDENT: &str = "      ";
    if !s.uploaded_as.is_empty() {
        let names = clean(&s.uploaded_as.join(", "));
        out.push_str(&wrap(&names, &format!("{INDENT}uploaded as: "), INDENT));
    }
    if s.version_seen.is_none() && !s.known_versions.is_empty() {
        let known = clean(&s.known_versions.join(", "));
        out.push_str(&wrap(&known, &format!("{INDENT}versions known: "), INDENT));
    }
    if let Some(path) = &s.path {
        out.push_str(&wrap(&clean(path), &format!("{INDENT}path: "), INDENT));
    }
    if let Some(signature) = &s.signature {
        out.push_str(&wrap(
            &clean(&signature.summary),
            &format!("{INDENT}signature: "),
            INDENT,
        ));
        if let Some(warning) = &signature.warning {
            out.push_str(&wrap(
                &clean(warning),
                &format!("{INDENT}WARNING: "),
                INDENT,
            ));
        }
    }
    out.push_str(&wrap(&clean(&s.guidance.text), INDENT, INDENT));
}

const TAG_COLUMNS: [Column; 9] = [
    left("TAG", 6),
    left("POOL", 8),
    right("BYTES", 9),
    right("ALLOCS", 10),
    right("SHARE", 6),
    right("GROWTH", 18),
    right("STEADY", 6),
    right("SCORE", 8),
    left("OWNER", 19),
];

fn render_finding(out: &mut String, f: &Finding) {
    let growth = f
        .growth
        .as_ref()
        .and_then(|g| GrowthRate::of(g.bytes_per_hour, Some(g.bytes_per_sample)))
        .map_or_else(|| "-".to_owned(), |rate| rate.short());
    out.push_str(&row(
        &TAG_COLUMNS,
        &[
            tag_cell(&f.tag),
            f.pool.name().to_owned(),
            human_bytes(f.bytes),
            f.outstanding.map_or("-".into(), |o| o.to_string()),
            f.pool_share
                .map_or("-".into(), |s| format!("{:.1}%", s * 100.0)),
            growth,
            f.growth
                .as_ref()
                .map_or("-".into(), |g| format!("{:.2}", g.steadiness)),
            format!("{:.3}", f.score),
            f.owner.as_str().to_owned(),
        ],
    ));
    let cands: Vec<String> = f
        .candidates
        .iter()
        .take(3)
        .map(|c| format!("{} ({})", clean(&c.driver), c.evidence.as_str()))
        .collect();
    if !cands.is_empty() {
        const INDENT: &str = "          ";
        out.push_str(&wrap(&cands.join(", "), "        candidates: ", INDENT));
    }
}

pub fn render_text(a: &Analysis) -> String {
    let mut out = String::new();
    render_read(&mut out, a);
    render_answer(&mut out, a);
    render_upload(&mut out, a);
    let formats: Vec<&str> = a.input.files.iter().map(|f| f.format.name()).collect();
    let span = a
        .input
        .span_hours
        .map(|h| format!(" over {h:.1} h"))
        .unwrap_or_default();
    out.push_str(&wrap(
        &format!(
            "poolsleuth analysis: {}{span} ({}), {}; verdict {}",
            counted(a.input.snapshots as u64, "snapshot", "snapshots"),
            formats.join(", "),
            counted(a.findings_total as u64, "tag", "tags"),
            a.verdict_strength.as_str()
        ),
        "",
        "  ",
    ));
    out.push_str(&wrap(&clean(&a.verdict), "", ""));
    out.push('\n');

    if !a.answer.known_causes.is_empty() {
        let _ = writeln!(out, "KNOWN CAUSES (public cases naming the top tags)");
        for c in a.answer.known_causes.iter().take(8) {
            let why = c
                .why_not
                .as_deref()
                .map(|w| format!(" Not the answer: {w}."))
                .unwrap_or_default();
            let fix = c
                .fix
                .as_deref()
                .map(|f| format!(" {}.", upper_first(f)))
                .unwrap_or_default();
            let line = format!(
                "{} [{}] `{}`: {}.{fix}{why} Source: {}",
                c.cause,
                c.status_label(),
                c.tag.trimmed(),
                c.summary.trim_end_matches('.'),
                c.url
            );
            out.push_str(&wrap(&clean(&line), "  ", "    "));
        }
        out.push('\n');
    }

    let _ = writeln!(out, "SUSPECTS");
    if a.suspects.is_empty() {
        let _ = writeln!(out, "  (no driver is known for the top tags)");
    } else {
        if let Some(note) = super::suspects_note(a) {
            out.push_str(&wrap(&clean(&note), "  ", "  "));
        }
        out.push_str(&header(&SUSPECT_COLUMNS));
        for s in a.suspects.iter().take(10) {
            render_suspect(&mut out, s);
        }
    }

    let _ = writeln!(out, "\nTOP TAGS");
    out.push_str(&header(&TAG_COLUMNS));
    for f in a.findings.iter().take(15) {
        render_finding(&mut out, f);
    }

    if !a.groups.is_empty() {
        let _ = writeln!(out, "\nGROWING TOGETHER (one cause)");
        for g in &a.groups {
            let tags: Vec<String> = g.tags.iter().map(tag_cell).collect();
            let line = format!(
                "{}: {}{}",
                tags.join(" + "),
                clean(&g.reason),
                if g.drivers.is_empty() {
                    String::new()
                } else {
                    format!("; drivers: {}", clean(&g.drivers.join(", ")))
                }
            );
            out.push_str(&wrap(&line, "  ", "    "));
        }
    }

    if let Some(os) = &a.os_tags {
        let _ = writeln!(out, "\nOS-OWNED TOP TAGS");
        out.push_str(&wrap(&clean(&os.message), "  ", "  "));
        for t in &os.traces {
            out.push_str(&wrap(
                &format!(
                    "Pool trace for {} (save the profile below as {}, elevated prompt):",
                    t.tags.join(", "),
                    t.profile_file
                ),
                "  ",
                "    ",
            ));
            for c in &t.wpr_commands {
                out.push_str(&wrap(c, "    ", "        "));
            }
            let _ = writeln!(out, "  or with xperf:");
            for c in &t.xperf_commands {
                out.push_str(&wrap(c, "    ", "        "));
            }
            for line in t.profile.lines() {
                let indent = line.len() - line.trim_start().len();
                let first = format!("    | {}", " ".repeat(indent));
                let rest = format!("    | {}", " ".repeat(indent + 4));
                out.push_str(&wrap(line, &first, &rest));
            }
        }
    }

    if !a.unknown_tags.is_empty() {
        let _ = writeln!(out, "\nUNKNOWN TAGS");
        for u in a.unknown_tags.iter().take(10) {
            let _ = writeln!(
                out,
                "  {:<6} {:<8} {:>9}  score {:.3}",
                tag_cell(&u.tag),
                u.pool.name(),
                human_bytes(u.bytes),
                u.score
            );
        }
        if let Some(u) = a.unknown_tags.first() {
            for step in &u.next_steps {
                out.push_str(&wrap(&clean(&upload_referred(a, step)), "  - ", "    "));
            }
        }
    }

    let _ = writeln!(out, "\nNEXT STEPS");
    for (i, step) in a.next_steps.iter().enumerate() {
        let number = format!("  {}. ", i + 1);
        let indent = " ".repeat(number.len());
        out.push_str(&wrap(&clean(&upload_referred(a, step)), &number, &indent));
    }
    if !a.input.warnings.is_empty() {
        let _ = writeln!(out, "\nINPUT WARNINGS");
        for w in a.input.warnings.iter().take(10) {
            out.push_str(&wrap(&clean(w), "  ", "    "));
        }
    }
    out
}

/// A sentence's first letter upper-cased.
fn upper_first(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_wider_than_its_column_moves_the_rest_of_the_row_down() {
        let columns = [left("A", 4), left("B", 4), left("C", 4)];
        let text = row(&columns, &["x".into(), "a-long-name".into(), "c".into()]);
        assert_eq!(text, "  x    a-long-name\n            c\n");
        let text = row(&columns, &["x".into(), "b".into(), "c".into()]);
        assert_eq!(text, "  x    b    c\n");
    }

    #[test]
    fn words_wider_than_a_line_break_after_a_separator_and_lose_nothing() {
        let path = format!("C:\\{}\\driver.sys", "deep\\".repeat(30));
        let text = wrap(&format!("path {path} end"), "  ", "    ");
        assert!(text.lines().all(|l| width_of(l) <= WIDTH), "{text}");
        let joined: String = text.split_whitespace().collect();
        assert!(joined.contains(&path), "{text}");
        assert!(text.lines().next().unwrap().ends_with('\\'), "{text}");
    }
}
