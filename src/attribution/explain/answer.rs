//! The one answer an admin acts on: which tag, which driver and version, what to do, and how
//! sure. Everything else in an [`Analysis`](super::super::Analysis) is the evidence behind it.
//!
//! The answer follows the diagnosis ([`rank::diagnose`](super::super::rank::diagnose)): a
//! third-party driver is named with its guidance; a Windows-owned tag is said to be Windows'
//! and the third-party candidates and the pool trace come next; an unknown tag is the answer
//! itself (never an OS component that owns smaller tags), with drivers whose names fit a KMDF
//! default tag and tags that move in lockstep with it; a tag the knowledge base describes
//! without naming a driver file is known, with its owner unclear; and a machine where nothing
//! is above normal nor grows is a result of its own.

use super::super::Analyzer;
use super::super::model::{
    Answer, AnswerKind, EvidenceKind, OsTagAdvice, Suspect, VerdictStrength,
};
use super::super::rank::Work;
use super::super::series::SeriesTable;
use super::pool_traces;
use crate::format::human_bytes;

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
    pub os: Option<&'r OsTagAdvice>,
    pub strength: VerdictStrength,
    pub diagnosis: AnswerKind,
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
        if f.diagnosis == AnswerKind::NothingAbnormal {
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
        answer.kind = f.diagnosis;
        match f.diagnosis {
            AnswerKind::NoData | AnswerKind::NothingAbnormal => {}
            AnswerKind::ThirdPartyDriver => {
                let claims = |s: &&Suspect| top.cands.iter().any(|c| self.name(c) == s.driver);
                let suspect = f
                    .suspects
                    .iter()
                    .filter(|s| !s.os_component)
                    .find(claims)
                    .or_else(|| f.suspects.iter().find(|s| !s.os_component));
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
            AnswerKind::WindowsOwned => {
                let owner = self.os_owner(top);
                let filters = f.os.map_or(&[][..], |o| &o.filter_drivers);
                answer.candidates = self.third_party_candidates(top, filters, f.suspects);
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
            AnswerKind::UnknownTag | AnswerKind::KnownOwnerUnclear => {
                answer.candidates = self.kmdf_shaped_drivers(top.tag);
                for lockstep in self.lockstep_tags(f.table, f.work) {
                    let tag = lockstep.tag.trimmed();
                    let note = match lockstep.owner {
                        Some(o) => format!("{o} (owns `{tag}`, which moves in lockstep)"),
                        None => format!("the owner of `{tag}` (moves in lockstep)"),
                    };
                    if !answer.candidates.contains(&note) {
                        answer.candidates.push(note);
                    }
                }
                answer.candidates.truncate(8);
                let description = top.described.map_or("", |e| e.description.as_str());
                answer.headline = if f.diagnosis == AnswerKind::KnownOwnerUnclear {
                    format!(
                        "`{tag}` ({}) {}. The knowledge base describes it (\"{description}\") but \
                         names no driver file: the owner is unclear.",
                        top.pool,
                        how(top)
                    )
                } else {
                    format!(
                        "`{tag}` ({}) {}. `{tag}` is not in the knowledge base; the cause is \
                         a driver that has not been scanned.",
                        top.pool,
                        how(top)
                    )
                };
                answer.action = self.scan_step();
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
