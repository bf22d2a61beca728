//! The one answer an admin acts on: which tag, which driver and version, what to do, and how
//! sure. Everything else in an [`Analysis`](super::Analysis) is the evidence behind it.
//!
//! The answer follows the top tag's owner: a third-party driver is named with its guidance; a
//! Windows-owned tag is said to be Windows' and the third-party candidates and the pool trace
//! come next; an unknown tag is the answer itself (never an OS component that owns smaller
//! tags), with drivers whose names fit a KMDF default tag and tags that move in lockstep with
//! it; and a machine where nothing is above normal nor grows is a result of its own.

use serde::Serialize;

use super::super::Analyzer;
use super::super::candidates::{Cand, driver_file, owner_of};
use super::super::model::{
    EvidenceKind, OsTagAdvice, OwnerKind, Suspect, UnknownTag, VerdictStrength,
};
use super::super::rank::Work;
use super::super::series::SeriesTable;
use super::pool_traces;
use crate::format::human_bytes;
use crate::snapshot::PoolKind;
use crate::tag::PoolTag;

/// What the answer is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AnswerKind {
    /// A third-party driver allocates the top tag.
    ThirdPartyDriver,
    /// Windows owns the top tag; a third-party driver holding it is the usual cause.
    WindowsOwned,
    /// The knowledge base does not know the top tag.
    UnknownTag,
    /// The knowledge base describes the tag but names no driver file.
    KnownOwnerUnclear,
    /// No tag is above what is normal for it and nothing grows steadily.
    NothingAbnormal,
    /// The input held no pool usage.
    NoData,
}

/// The answer first: the tag, the driver and its version, the action, and how sure.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Answer {
    pub kind: AnswerKind,
    pub tag: Option<PoolTag>,
    pub pool: Option<PoolKind>,
    pub driver: Option<String>,
    pub vendor: Option<String>,
    /// The version on the machine (driver list), else the newest the knowledge base knows.
    pub version: Option<String>,
    /// Drivers worth checking next (KMDF-shaped names, drivers named by the snapshot, loaded
    /// filter drivers, owners of tags that move in lockstep).
    pub candidates: Vec<String>,
    /// One sentence: what is wrong and who is behind it.
    pub headline: String,
    /// What to do now.
    pub action: String,
    pub confidence: VerdictStrength,
    /// The one reason for that confidence.
    pub confidence_reason: String,
}

/// Who the answer says owns a tag. The knowledge base's word (code, a list, a verifier
/// caller, a KMDF default tag) outranks a snapshot's driver column or a guess, so an OS tag
/// that poolmon maps to a third-party driver is still Windows', with that driver as the first
/// candidate.
fn answer_owner(cands: &[Cand<'_>]) -> OwnerKind {
    let firm = |c: &Cand<'_>| {
        matches!(
            c.kind,
            EvidenceKind::VerifierCaller
                | EvidenceKind::CodeSite
                | EvidenceKind::KmdfDefault
                | EvidenceKind::List
                | EvidenceKind::ListPattern
        )
    };
    if cands.iter().any(|c| !c.os && firm(c)) {
        OwnerKind::ThirdParty
    } else if cands.iter().any(|c| c.os && firm(c)) {
        OwnerKind::Os
    } else {
        owner_of(cands)
    }
}

/// Growth that counts as a leak: steady, and large against the tag's size.
fn grows_steadily(w: &Work<'_>) -> bool {
    w.growth.as_ref().is_some_and(|g| {
        g.delta_bytes > 0
            && g.steadiness >= 0.6
            && (g.delta_bytes as f64 >= 0.05 * w.bytes as f64 || g.delta_bytes >= 16 << 20)
    })
}

/// Is anything abnormal: a tag above what is normal for it, or a steady grower?
fn abnormal(work: &[&mut Work<'_>]) -> bool {
    work.iter()
        .take(20)
        .any(|w| w.size_ratio >= 1.0 || grows_steadily(w))
}

fn how(w: &Work<'_>) -> String {
    match &w.growth {
        Some(g) if g.delta_bytes > 0 => match g.bytes_per_hour {
            Some(h) => format!(
                "holds {} and grows {}/hour",
                human_bytes(w.bytes),
                human_bytes(h.max(0.0) as u64)
            ),
            None => format!(
                "holds {} after growing by {}",
                human_bytes(w.bytes),
                human_bytes(g.delta_bytes as u64)
            ),
        },
        _ => format!(
            "holds {} ({:.1}× what is normal for it)",
            human_bytes(w.bytes),
            w.size_ratio
        ),
    }
}

/// What the analysis has found, gathered for the answer.
pub(in crate::attribution) struct Findings<'r, 'a> {
    pub work: &'r [&'r mut Work<'a>],
    pub table: &'r SeriesTable<'a>,
    pub suspects: &'r [Suspect],
    pub unknown: &'r [UnknownTag],
    pub os: Option<&'r OsTagAdvice>,
    pub strength: VerdictStrength,
}

impl<'a> Analyzer<'a> {
    pub(in crate::attribution) fn answer(&self, f: &Findings<'_, 'a>) -> Answer {
        let (confidence, confidence_reason) = self.confidence(f);
        let mut answer = Answer {
            kind: AnswerKind::NoData,
            tag: None,
            pool: None,
            driver: None,
            vendor: None,
            version: None,
            candidates: Vec::new(),
            headline: "The input holds no pool usage to rank.".into(),
            action: "Send poolmon output (`poolmon -b -n snapshot.txt`) or `!poolused 2`.".into(),
            confidence,
            confidence_reason,
        };
        let Some(top) = f.work.first() else {
            return answer;
        };
        if !abnormal(f.work) {
            let largest: Vec<String> = f
                .work
                .iter()
                .take(3)
                .map(|w| format!("`{}` {}", w.tag.trimmed(), human_bytes(w.bytes)))
                .collect();
            answer.kind = AnswerKind::NothingAbnormal;
            answer.headline = format!(
                "Nothing abnormal: no tag is above what is normal for it and nothing grows \
                 steadily (largest: {}).",
                largest.join(", ")
            );
            answer.action = "No action needed now. If pool memory still runs short, capture two \
                             snapshots hours apart while it grows (`poolmon -b -n before.txt`, \
                             later `after.txt`) and analyze both."
                .into();
            return answer;
        }
        let tag = top.tag.trimmed();
        answer.tag = Some(top.tag);
        answer.pool = Some(top.pool);
        match answer_owner(&top.cands) {
            OwnerKind::ThirdParty => {
                let claims = |s: &&Suspect| top.cands.iter().any(|c| self.name(c) == s.driver);
                let suspect = f
                    .suspects
                    .iter()
                    .filter(|s| !s.os_component)
                    .find(claims)
                    .or_else(|| f.suspects.iter().find(|s| !s.os_component));
                answer.kind = AnswerKind::ThirdPartyDriver;
                match suspect {
                    Some(s) => {
                        answer.driver = Some(s.driver.clone());
                        answer.vendor.clone_from(&s.vendor);
                        answer.version = s
                            .version_seen
                            .clone()
                            .or_else(|| s.newest_known_version.clone());
                        let version = answer
                            .version
                            .as_deref()
                            .map(|v| format!(" {v}"))
                            .unwrap_or_default();
                        let vendor = s
                            .vendor
                            .as_deref()
                            .map(|v| format!(" ({v})"))
                            .unwrap_or_default();
                        let tie = match s.best_evidence {
                            EvidenceKind::KmdfDefault => format!(
                                "it is the KMDF default tag of {}{version}{vendor} (its service \
                                 name starts with `{tag}`)",
                                s.driver
                            ),
                            EvidenceKind::SnapshotMapped => {
                                format!("the snapshot names {}{version}{vendor} for it", s.driver)
                            }
                            EvidenceKind::StringGuess
                            | EvidenceKind::SameGrowthGroup
                            | EvidenceKind::FilterDriver => {
                                format!("the likeliest owner is {}{version}{vendor}", s.driver)
                            }
                            _ => format!("it is allocated by {}{version}{vendor}", s.driver),
                        };
                        answer.headline = format!("`{tag}` ({}) {}: {tie}.", top.pool, how(top));
                        answer.action = s.guidance.text.clone();
                    }
                    None => {
                        answer.headline = format!("`{tag}` ({}) {}.", top.pool, how(top));
                        answer.action = "See the suspects below.".into();
                    }
                }
            }
            OwnerKind::Os => {
                let owner = top
                    .cands
                    .iter()
                    .find(|c| c.os)
                    .map_or("Windows".to_owned(), |c| self.name(c).to_owned());
                answer.kind = AnswerKind::WindowsOwned;
                answer.candidates = self.third_party_candidates(top, f);
                answer.headline = format!(
                    "`{tag}` ({}) {}. Windows owns this tag ({owner}); a third-party driver \
                     holding it is the usual cause.",
                    top.pool,
                    how(top)
                );
                let trace =
                    f.os.and_then(|o| o.traces.first().cloned())
                        .or_else(|| pool_traces(&[top.tag]).into_iter().next());
                answer.action = match trace {
                    Some(trace) => format!(
                        "Record a pool trace of `{tag}` to see which driver allocates it \
                         (elevated prompt): {}",
                        trace.wpr_commands.join(" ; ")
                    ),
                    None => format!(
                        "Record a pool trace of `{tag}` (WPR or xperf) to see which driver \
                         allocates it."
                    ),
                };
            }
            OwnerKind::Unknown => {
                answer.candidates = self.unknown_tag_candidates(top, f);
                let described = top
                    .described
                    .map(|e| e.description.clone())
                    .filter(|d| !d.trim().is_empty());
                answer.headline = match &described {
                    Some(d) => {
                        answer.kind = AnswerKind::KnownOwnerUnclear;
                        format!(
                            "`{tag}` ({}) {}. The knowledge base describes it (\"{d}\") but \
                             names no driver file: the owner is unclear.",
                            top.pool,
                            how(top)
                        )
                    }
                    None => {
                        answer.kind = AnswerKind::UnknownTag;
                        format!(
                            "`{tag}` ({}) {}. `{tag}` is not in the knowledge base; the cause is \
                             a driver that has not been scanned.",
                            top.pool,
                            how(top)
                        )
                    }
                };
                answer.action = f
                    .unknown
                    .iter()
                    .find(|u| u.tag == top.tag)
                    .and_then(|u| u.next_steps.iter().find(|s| s.contains("scan")))
                    .cloned()
                    .unwrap_or_else(|| {
                        "Scan the machine's drivers: poolsleuth scan C:\\Windows\\System32\\drivers"
                            .into()
                    });
            }
        }
        answer
    }

    fn confidence(&self, f: &Findings<'_, 'a>) -> (VerdictStrength, String) {
        let n = f.table.n;
        let reason = match f.strength {
            VerdictStrength::Weak if n < 2 => {
                "one snapshot shows size, not growth: a second one hours later firms it up".into()
            }
            VerdictStrength::Weak => format!("nothing grows steadily across the {n} snapshots"),
            VerdictStrength::Moderate => {
                "it grows, but over few snapshots or without code-level evidence for the driver"
                    .into()
            }
            VerdictStrength::Strong => format!(
                "steady growth over {n} snapshots, and the driver is tied to the tag by its {}",
                f.suspects
                    .first()
                    .map_or("evidence", |s| s.best_evidence.as_str())
            ),
        };
        (f.strength, reason)
    }

    /// For a Windows-owned tag: third-party drivers the snapshot names for it (a mapped-driver
    /// column), loaded filter drivers, and third-party suspects tied to related tags.
    fn third_party_candidates(&self, top: &Work<'a>, f: &Findings<'_, 'a>) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut add = |name: &str| {
            if !name.is_empty() && !out.iter().any(|n| n == name) && out.len() < 6 {
                out.push(name.to_owned());
            }
        };
        for c in top.cands.iter().filter(|c| !c.os) {
            add(self.name(c));
        }
        for d in f.os.iter().flat_map(|o| &o.filter_drivers) {
            add(d);
        }
        for s in f.suspects.iter().filter(|s| !s.os_component) {
            add(&s.driver);
        }
        out
    }

    /// For an unknown tag: drivers whose name starts with the tag (KMDF's default tag is the
    /// first four characters of the service name), from the driver list and the knowledge
    /// base; and the owners of tags that move in lockstep with it.
    fn unknown_tag_candidates(&self, top: &Work<'a>, f: &Findings<'_, 'a>) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let prefix = top.tag.trimmed();
        let kmdf_shaped = prefix.len() == 4 && prefix.bytes().all(|b| b.is_ascii_alphanumeric());
        if kmdf_shaped {
            let starts = |name: &str| {
                name.len() >= 4 && name.as_bytes()[..4].eq_ignore_ascii_case(prefix.as_bytes())
            };
            for d in self.input.drivers.iter().flatten() {
                let service = d.service_name.as_deref().unwrap_or(&d.module_name);
                if starts(service) || starts(&d.module_name) {
                    let file = driver_file(d);
                    if !out.contains(&file) {
                        out.push(file);
                    }
                }
            }
            for id in 0..self.kb.driver_count() as u32 {
                let name = self.kb.driver_name(id);
                if starts(name) && !self.is_os_driver(name) && !out.iter().any(|n| n == name) {
                    out.push(name.to_owned());
                }
                if out.len() >= 6 {
                    break;
                }
            }
        }
        // Lockstep: the same number of allocations outstanding, or one group of growth.
        let count = f.table.last_outstanding(top.series);
        for w in f.work.iter().skip(1).take(200) {
            let same_count =
                count.is_some_and(|c| c >= 50 && f.table.last_outstanding(w.series) == Some(c));
            let same_group = top.group.is_some() && w.group == top.group;
            if !(same_count || same_group) {
                continue;
            }
            let owner = w
                .cands
                .iter()
                .find(|c| !c.os)
                .map(|c| self.name(c).to_owned());
            let note = match owner {
                Some(o) => format!("{o} (owns `{}`, which moves in lockstep)", w.tag.trimmed()),
                None => format!("the owner of `{}` (moves in lockstep)", w.tag.trimmed()),
            };
            if !out.contains(&note) {
                out.push(note);
            }
        }
        out.truncate(8);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_kinds_serialize_in_kebab_case() {
        assert_eq!(
            serde_json::to_string(&AnswerKind::NothingAbnormal).unwrap(),
            "\"nothing-abnormal\""
        );
        assert_eq!(
            serde_json::to_string(&AnswerKind::WindowsOwned).unwrap(),
            "\"windows-owned\""
        );
    }
}
