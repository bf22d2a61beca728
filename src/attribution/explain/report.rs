//! The report a suspect's vendor gets, in markdown: the machine, the tags' numbers and
//! growth, the driver's identity, and how it was found.

use std::fmt::Write as _;

use super::super::input::AnalysisInput;
use super::super::model::{EvidenceKind, InputInfo, MachineTotals, Suspect, TagGroup};
use super::guidance::MAX_TRACE_TAGS;
use crate::format::{GrowthRate, counted, human_bytes};
use crate::snapshot::PoolTotals;

/// Markdown for the vendor: machine totals, the tags' numbers and growth, the driver's identity,
/// and how it was found.
pub(super) fn vendor_report(
    s: &Suspect,
    input: &AnalysisInput,
    info: &InputInfo,
    machine: &MachineTotals,
    groups: &[&TagGroup],
) -> String {
    let mut md = String::new();
    let vendor = s.vendor.as_deref().unwrap_or("vendor");
    let _ = writeln!(md, "# Kernel pool leak in {} ({vendor})\n", s.driver);
    let top = s.evidence.first();
    if let Some(e) = top {
        let growth = growth_phrase(e.growth_bytes_per_hour, e.growth_bytes_per_sample);
        let _ = writeln!(
            md,
            "On one of our Windows machines the pool tag `{}` ({} pool) holds {}{growth}. Our analysis attributes it to **{}**.\n",
            e.tag.trimmed(),
            e.pool,
            human_bytes(e.bytes),
            s.driver
        );
    }
    let _ = writeln!(md, "## Machine\n");
    let _ = writeln!(md, "| | |\n|---|---|");
    if let Some(m) = machine.memory_bytes {
        let _ = writeln!(md, "| Physical memory | {} |", human_bytes(m));
    }
    if let (Some(c), Some(l)) = (machine.commit_bytes, machine.commit_limit_bytes) {
        let _ = writeln!(
            md,
            "| Commit / limit | {} / {} |",
            human_bytes(c),
            human_bytes(l)
        );
    }
    let paged = machine.paged_pool_bytes.unwrap_or(machine.rows_paged_bytes);
    let nonpaged = machine
        .nonpaged_pool_bytes
        .unwrap_or(machine.rows_nonpaged_bytes);
    let _ = writeln!(md, "| Paged pool | {} |", human_bytes(paged));
    let _ = writeln!(md, "| Nonpaged pool | {} |", human_bytes(nonpaged));
    let span = match (info.first_taken_at, info.last_taken_at, info.span_hours) {
        (Some(a), Some(b), Some(h)) => format!(
            "{} snapshots, {} to {} ({h:.1} hours)",
            info.snapshots,
            a.date(),
            b.date()
        ),
        _ => counted(info.snapshots as u64, "snapshot", "snapshots"),
    };
    let _ = writeln!(md, "| Observation | {span} |");
    if let Some(first) = input.snapshots.first().and_then(|s| s.totals.as_ref())
        && let Some(phrase) = totals_phrase(first)
        && info.snapshots > 1
    {
        let _ = writeln!(md, "| At the first snapshot | {phrase} |");
    }
    let _ = writeln!(md, "\n## Pool tags\n");
    let _ = writeln!(
        md,
        "| Tag | Pool | Bytes (latest) | Growth | Evidence | Source |\n|---|---|---:|---|---|---|"
    );
    for e in &s.evidence {
        let growth = GrowthRate::of(e.growth_bytes_per_hour, e.growth_bytes_per_sample)
            .map_or_else(|| "one snapshot".into(), |rate| rate.long());
        let mut source = match e.line {
            Some(line) => format!("{} line {line}", e.source),
            None => e.source.clone(),
        };
        // The fact's own origin (a repository file and line), so the vendor can check it.
        if let Some(url) = &e.source_url {
            source = format!("[{source}]({})", url.replace(')', "%29"));
        }
        let _ = writeln!(
            md,
            "| `{}` | {} | {} | {growth} | {} | {} |",
            e.tag.trimmed(),
            e.pool,
            human_bytes(e.bytes),
            e.evidence.as_str(),
            source.replace('|', "\\|")
        );
    }
    for g in groups {
        let tags: Vec<String> = g
            .tags
            .iter()
            .map(|t| format!("`{}`", t.trimmed()))
            .collect();
        let _ = writeln!(
            md,
            "\nThe tags {} grow together ({}), which suggests one cause.",
            tags.join(", "),
            g.reason
        );
    }
    let _ = writeln!(md, "\n## Driver\n");
    let _ = writeln!(md, "- File: `{}`", s.driver);
    if let Some(p) = &s.path {
        let _ = writeln!(md, "- Path: `{p}`");
    }
    if let Some(svc) = &s.service_name {
        let _ = writeln!(md, "- Service: `{svc}`");
    }
    for name in &s.uploaded_as {
        let _ = writeln!(md, "- Also seen as: `{name}`");
    }
    match &s.version_seen {
        Some(v) => {
            let _ = writeln!(md, "- Version: {v} (loaded on the machine)");
        }
        None => {
            let _ = writeln!(md, "- Version on the machine: not recorded");
        }
    }
    if let Some(p) = &s.product {
        let _ = writeln!(md, "- Product: {p}");
    }
    if let Some(h) = &s.sha256 {
        let _ = writeln!(md, "- SHA-256: `{h}`");
    }
    if let Some(signature) = &s.signature {
        let _ = writeln!(md, "- Signature: {}", signature.summary);
        if let Some(warning) = &signature.warning {
            let _ = writeln!(md, "- **Warning**: {warning}");
        }
    }
    if !s.known_versions.is_empty() {
        let _ = writeln!(md, "- Versions we know of: {}", s.known_versions.join(", "));
    }
    let _ = writeln!(md, "\n## How it was found\n");
    for e in &s.evidence {
        let how = match e.evidence {
            EvidenceKind::VerifierCaller => {
                "Driver Verifier (`!verifier`) listed the driver as the allocating caller"
            }
            EvidenceKind::CodeSite => {
                "the tag appears at a pool allocation call in the driver's code"
            }
            EvidenceKind::KmdfDefault => {
                "the tag is the KMDF default tag derived from the driver's service name"
            }
            EvidenceKind::List => "a pool tag list attributes the tag to the driver",
            EvidenceKind::SnapshotMapped => "the pool tool's own driver column named the driver",
            EvidenceKind::ListPattern => "a wildcard row of a pool tag list covers the tag",
            EvidenceKind::StringGuess => "the tag appears as a string in the driver binary",
            EvidenceKind::SameGrowthGroup => {
                "the tag grows together with another tag of the driver"
            }
            EvidenceKind::FilterDriver => {
                "the driver is a loaded filter driver that may hold OS-owned memory"
            }
        };
        let detail = e
            .detail
            .as_deref()
            .map(|d| format!(" ({d})"))
            .unwrap_or_default();
        let _ = writeln!(md, "- `{}`: {how}{detail}.", e.tag.trimmed());
    }
    let _ = writeln!(
        md,
        "- The pool usage ({} input) was ranked by poolsleuth: growth is the least-squares slope over all snapshots, attributions come from the sources named above.",
        info.files
            .iter()
            .map(|f| f.format.name())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        md,
        "\n## Request\n\nPlease tell us whether this is a known leak and which driver version fixes it. We can provide more snapshots or a WPR pool trace (`{}`) on request.",
        s.evidence
            .iter()
            .take(MAX_TRACE_TAGS)
            .map(|e| e.tag.trimmed())
            .collect::<Vec<_>>()
            .join(", ")
    );
    md
}

fn growth_phrase(per_hour: Option<f64>, per_sample: Option<f64>) -> String {
    match (per_hour, per_sample) {
        (Some(h), _) if h > 0.0 => format!(", growing {}/hour", human_bytes(h as u64)),
        (None, Some(p)) if p > 0.0 => {
            format!(", growing {} per snapshot interval", human_bytes(p as u64))
        }
        (Some(_), _) | (None, Some(_)) => " and does not grow over the snapshots".into(),
        (None, None) => String::new(),
    }
}

/// Totals as a short phrase, for reports.
fn totals_phrase(t: &PoolTotals) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(m) = t.memory_kib {
        parts.push(format!("memory {}", human_bytes(m * 1024)));
    }
    if let Some(p) = t.paged_bytes {
        parts.push(format!("paged pool {}", human_bytes(p)));
    }
    if let Some(n) = t.nonpaged_bytes {
        parts.push(format!("nonpaged pool {}", human_bytes(n)));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}
