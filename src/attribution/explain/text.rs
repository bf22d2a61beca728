//! The plain-text report for terminals (`?output=text`, `poolsleuth analyze`).

use std::fmt::Write as _;

use super::super::model::{Analysis, Finding};
use crate::format::{human_bytes, signed_bytes};

/// Growth column text: per hour when times are known, per snapshot otherwise.
fn growth_cell(f: &Finding) -> String {
    match &f.growth {
        None => "-".into(),
        Some(g) => match g.bytes_per_hour {
            Some(h) => format!("{}/h", signed_bytes(h)),
            None => format!("{}/snap", signed_bytes(g.bytes_per_sample)),
        },
    }
}

/// Cuts to `width` characters, marking the cut.
fn fit(text: &str, width: usize) -> String {
    let count = text.chars().count();
    if count <= width {
        text.to_owned()
    } else {
        let mut s: String = text.chars().take(width.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

/// Shows a tag with its padding visible (`Io··`) and nothing that moves the cursor.
fn tag_cell(tag: &crate::tag::PoolTag) -> String {
    let exact = tag.to_string();
    let trimmed = exact.trim_end_matches(' ');
    format!("{trimmed}{}", "·".repeat(exact.len() - trimmed.len()))
}

/// Removes control characters so input text cannot drive the terminal.
fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Words of `text` in lines of at most `width` characters, each after `indent`.
fn wrap(text: &str, width: usize, first: &str, indent: &str) -> String {
    let mut out = String::new();
    let mut line = first.to_owned();
    let mut empty = true;
    for word in text.split_whitespace() {
        if !empty && line.chars().count() + 1 + word.chars().count() > width {
            out.push_str(line.trim_end());
            out.push('\n');
            line = indent.to_owned();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push_str(line.trim_end());
    out.push('\n');
    out
}

/// The answer, first, wrapped for an 80-column terminal.
fn render_answer(out: &mut String, a: &Analysis) {
    const WIDTH: usize = 80;
    let answer = &a.answer;
    out.push_str(&wrap(
        &clean(&answer.headline),
        WIDTH,
        "ANSWER  ",
        "        ",
    ));
    if let Some(driver) = &answer.driver {
        let version = answer.version.as_deref().unwrap_or("version unknown");
        let line = format!("{} {version}", clean(driver));
        out.push_str(&wrap(&line, WIDTH, "  Driver:     ", "              "));
    }
    out.push_str(&wrap(
        &clean(&answer.action),
        WIDTH,
        "  Do now:     ",
        "              ",
    ));
    if !answer.candidates.is_empty() {
        out.push_str(&wrap(
            &clean(&answer.candidates.join(", ")),
            WIDTH,
            "  Candidates: ",
            "              ",
        ));
    }
    let sure = format!(
        "{}: {}",
        answer.confidence.as_str(),
        clean(&answer.confidence_reason)
    );
    out.push_str(&wrap(&sure, WIDTH, "  How sure:   ", "              "));
    out.push('\n');
}

pub fn render_text(a: &Analysis) -> String {
    let mut out = String::new();
    render_answer(&mut out, a);
    let formats: Vec<&str> = a.input.files.iter().map(|f| f.format.name()).collect();
    let span = a
        .input
        .span_hours
        .map(|h| format!(" over {h:.1} h"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "poolsleuth analysis: {} snapshot(s){span} ({}), {} tags; verdict {}",
        a.input.snapshots,
        formats.join(", "),
        a.findings_total,
        a.verdict_strength.as_str()
    );
    let _ = writeln!(out, "{}\n", clean(&a.verdict));

    let _ = writeln!(out, "SUSPECTS");
    if a.suspects.is_empty() {
        let _ = writeln!(out, "  (no driver is known for the top tags)");
    } else {
        let _ = writeln!(
            out,
            "  {:>2}  {:>8}  {:<22} {:<18} {:<16} {:<17} GUIDANCE",
            "#", "SCORE", "DRIVER", "VENDOR", "TAGS", "EVIDENCE"
        );
        for s in a.suspects.iter().take(10) {
            let mut tags: Vec<String> = Vec::new();
            for e in &s.evidence {
                let t = tag_cell(&e.tag);
                if !tags.contains(&t) && tags.len() < 3 {
                    tags.push(t);
                }
            }
            let more = if s.evidence_total > 3 { ",…" } else { "" };
            let _ = writeln!(
                out,
                "  {:>2}  {:>8.3}  {:<22} {:<18} {:<16} {:<17} {}",
                s.rank,
                s.score,
                fit(&clean(&s.driver), 22),
                fit(&clean(s.vendor.as_deref().unwrap_or("?")), 18),
                fit(&format!("{}{more}", tags.join(",")), 16),
                s.best_evidence.as_str(),
                clean(&s.guidance.text)
            );
        }
    }

    let _ = writeln!(out, "\nTOP TAGS");
    let _ = writeln!(
        out,
        "  {:<5} {:<8} {:>10} {:>10} {:>6} {:>13} {:>6} {:>8}  {:<11} CANDIDATES",
        "TAG", "POOL", "BYTES", "ALLOCS", "SHARE", "GROWTH", "STEADY", "SCORE", "OWNER"
    );
    for f in a.findings.iter().take(15) {
        let cands: Vec<String> = f
            .candidates
            .iter()
            .take(3)
            .map(|c| format!("{} ({})", clean(&c.driver), c.evidence.as_str()))
            .collect();
        let _ = writeln!(
            out,
            "  {:<5} {:<8} {:>10} {:>10} {:>6} {:>13} {:>6} {:>8.3}  {:<11} {}",
            tag_cell(&f.tag),
            f.pool.name(),
            human_bytes(f.bytes),
            f.outstanding.map_or("-".into(), |o| o.to_string()),
            f.pool_share
                .map_or("-".into(), |s| format!("{:.1}%", s * 100.0)),
            growth_cell(f),
            f.growth
                .as_ref()
                .map_or("-".into(), |g| format!("{:.2}", g.steadiness)),
            f.score,
            f.owner.as_str(),
            if cands.is_empty() {
                "-".into()
            } else {
                cands.join(", ")
            }
        );
    }

    if !a.groups.is_empty() {
        let _ = writeln!(out, "\nGROWING TOGETHER (one cause)");
        for g in &a.groups {
            let tags: Vec<String> = g.tags.iter().map(tag_cell).collect();
            let _ = writeln!(
                out,
                "  {}: {}{}",
                tags.join(" + "),
                clean(&g.reason),
                if g.drivers.is_empty() {
                    String::new()
                } else {
                    format!("; drivers: {}", clean(&g.drivers.join(", ")))
                }
            );
        }
    }

    if let Some(os) = &a.os_tags {
        let _ = writeln!(out, "\nOS-OWNED TOP TAGS");
        let _ = writeln!(out, "  {}", clean(&os.message));
        for t in &os.traces {
            let _ = writeln!(
                out,
                "  Pool trace for {} (save the profile below as {}, elevated prompt):",
                t.tags.join(", "),
                t.profile_file
            );
            for c in &t.wpr_commands {
                let _ = writeln!(out, "    {c}");
            }
            let _ = writeln!(out, "  or with xperf:");
            for c in &t.xperf_commands {
                let _ = writeln!(out, "    {c}");
            }
            for line in t.profile.lines() {
                let _ = writeln!(out, "    | {line}");
            }
        }
    }

    if !a.unknown_tags.is_empty() {
        let _ = writeln!(out, "\nUNKNOWN TAGS");
        for u in a.unknown_tags.iter().take(10) {
            let _ = writeln!(
                out,
                "  {:<5} {:<8} {:>10}  score {:.3}",
                tag_cell(&u.tag),
                u.pool.name(),
                human_bytes(u.bytes),
                u.score
            );
        }
        if let Some(u) = a.unknown_tags.first() {
            for step in &u.next_steps {
                let _ = writeln!(out, "  - {}", clean(step));
            }
        }
    }

    let _ = writeln!(out, "\nNEXT STEPS");
    for (i, step) in a.next_steps.iter().enumerate() {
        let _ = writeln!(out, "  {}. {}", i + 1, clean(step));
    }
    if !a.input.warnings.is_empty() {
        let _ = writeln!(out, "\nINPUT WARNINGS");
        for w in a.input.warnings.iter().take(10) {
            let _ = writeln!(out, "  {}", clean(w));
        }
    }
    out
}
