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
use super::super::rank::{CountSignal, Work, count_signal};
use super::super::series::SeriesTable;
use super::pool_traces;
use crate::collect::collect_files_command;
use crate::format::{human_bytes, thousands};
use crate::snapshot::{Caveat, PoolKind, Precision};
use crate::tag::PoolTag;
use crate::version::Version;

impl Analyzer<'_> {
    /// What a tag does, in words: its size and growth, or its allocations when the input gives
    /// no sizes. When the input gives changes only, the growth alone: the level is not known.
    pub(super) fn how(&self, w: &Work<'_>) -> String {
        let changes = self.input.caveats.contains(&Caveat::Changes);
        let mut text = if w.facts.bytes_unknown() {
            how_in_counts(w, changes)
        } else {
            match &w.growth {
                Some(g) if changes && g.delta_bytes > 0 => format!(
                    "grew by {} (the paste gives changes, not sizes)",
                    human_bytes(g.delta_bytes as u64)
                ),
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
        };
        if !w.facts.bytes_unknown()
            && let Some(signal) = count_signal(w)
        {
            text.push_str("; ");
            text.push_str(&signal_text(signal, changes));
        }
        text
    }
}

/// A tag whose paste gives counts but no sizes, in allocations: never a size it did not give.
fn how_in_counts(w: &Work<'_>, changes: bool) -> String {
    let held = w
        .outstanding
        .map(|o| format!("{} allocations held", thousands(o)));
    match count_signal(w) {
        Some(signal @ CountSignal::Growing { .. }) => {
            let rate = w
                .growth
                .as_deref()
                .and_then(|g| g.allocs_per_hour)
                .filter(|r| *r > 0.0)
                .map(|r| format!(" (+{}/hour)", thousands(r.round() as u64)))
                .unwrap_or_default();
            if changes {
                format!("{}{rate}; sizes not given", signal_text(signal, changes))
            } else {
                format!(
                    "holds {}{rate}; sizes not given",
                    signal_text(signal, changes)
                )
            }
        }
        Some(signal) => format!("{}; sizes not given", signal_text(signal, changes)),
        None => held.map_or_else(
            || "has counts but no size".into(),
            |h| format!("has {h}, sizes not given"),
        ),
    }
}

/// What a tag's counts say, in words. From a table of changes, only the change is known.
fn signal_text(signal: CountSignal, changes: bool) -> String {
    match signal {
        CountSignal::Growing { from, to } if changes => {
            format!("grew by {} allocations", thousands(to.saturating_sub(from)))
        }
        CountSignal::Growing { from, to } => {
            format!("{} allocations, up from {}", thousands(to), thousands(from))
        }
        CountSignal::AllocsFarAboveFrees { allocs, frees } => format!(
            "allocated {} times and freed {} times: allocations far above frees are a leak's \
             signature",
            thousands(allocs),
            thousands(frees)
        ),
        CountSignal::ManyOutstanding(n) => {
            format!("{} allocations are held (over a million)", thousands(n))
        }
    }
}

/// The versions an answer names for its driver.
struct VersionsSaid {
    /// The answer's `version`: the one on the machine, else the one whose code allocates the
    /// tag, else the only one known.
    version: Option<String>,
    /// The version(s) the headline names after the driver.
    headline: Option<String>,
    /// Scanned versions that do not allocate the tag, in words.
    note: Option<String>,
}

/// What the analysis has found, gathered for the answer.
pub(in crate::attribution) struct Findings<'r, 'a> {
    pub work: &'r [&'r mut Work<'a>],
    pub table: &'r SeriesTable<'a>,
    pub suspects: &'r [Suspect],
    pub os: Option<&'r OsTagAdvice>,
    pub strength: VerdictStrength,
    pub diagnosis: AnswerKind,
    /// Why the reading may not be the whole truth.
    pub caveats: &'r [Caveat],
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
            order: None,
            version: None,
            known_versions: Vec::new(),
            candidates: Vec::new(),
            headline: "The input holds no pool usage to rank.".into(),
            action: format!(
                "Send poolmon output (`poolmon -b -n snapshot.txt`), `!poolused 2`, or the files \
                 `{}` writes on the Windows machine (no WDK needed).",
                collect_files_command()
            ),
            confidence,
            confidence_reason,
            known_causes: Vec::new(),
        };
        let Some(top) = f.work.first() else {
            if f.diagnosis == AnswerKind::PoolTotalsOnly {
                self.totals_answer(&mut answer);
            }
            return answer;
        };
        if f.diagnosis == AnswerKind::Inconclusive {
            let largest: Vec<String> = f
                .work
                .iter()
                .take(3)
                .map(|w| format!("`{}` {}", w.tag.trimmed(), amount_read(w)))
                .collect();
            let why: Vec<&str> = f.caveats.iter().map(|c| c.explain()).collect();
            answer.kind = AnswerKind::Inconclusive;
            answer.headline = format!(
                "Cannot tell from this paste whether pool memory leaks: {}. Nothing stands out \
                 in what was read (largest: {}).",
                why.join("; "),
                largest.join(", ")
            );
            answer.action = capture_instead(f.caveats);
            return answer;
        }
        if f.diagnosis == AnswerKind::VerifierAllocations {
            self.verifier_answer(&mut answer, top, f);
            return answer;
        }
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
            answer.action = format!(
                "No action needed now. If pool memory still runs short, capture two snapshots \
                 hours apart while it grows (`poolmon -b -n before.txt`, later `after.txt`; or \
                 `{}` each time, without the WDK) and analyze both.",
                collect_files_command()
            );
            return answer;
        }
        let tag = top.tag.trimmed();
        answer.tag = Some(top.tag);
        answer.pool = Some(top.pool);
        answer.kind = f.diagnosis;
        match f.diagnosis {
            AnswerKind::NoData
            | AnswerKind::NothingAbnormal
            | AnswerKind::Inconclusive
            | AnswerKind::VerifierAllocations
            | AnswerKind::PoolTotalsOnly => {}
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
                        let said = self.versions_said(s, top.tag);
                        answer.version = said.version;
                        answer.known_versions.clone_from(&s.known_versions);
                        let version = said
                            .headline
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
                        let note = said.note.map(|n| format!("; {n}")).unwrap_or_default();
                        // The vendor is named from the file: a file its signature does not
                        // stand behind is said to be so in the same breath.
                        let warning = s
                            .signature
                            .as_ref()
                            .and_then(|n| n.warning.as_deref())
                            .map(|w| format!(" Warning: {}: {w}.", s.driver))
                            .unwrap_or_default();
                        answer.headline = format!(
                            "`{tag}` ({}) {}: {tie}{note}.{warning}",
                            top.pool,
                            self.how(top)
                        );
                        answer.action = s.guidance.text.clone();
                    }
                    None => {
                        answer.headline = format!("`{tag}` ({}) {}.", top.pool, self.how(top));
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
                    self.how(top)
                );
                if let Some(spread) = no_single_tag(f.work) {
                    answer.headline = format!("{spread} {}", answer.headline);
                }
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
                        self.how(top)
                    )
                } else {
                    format!(
                        "`{tag}` ({}) {}. `{tag}` is not in the knowledge base; the cause is \
                         a driver that has not been scanned.",
                        top.pool,
                        self.how(top)
                    )
                };
                answer.action = self.scan_step();
            }
        }
        if let Some(change) = self.after_change(top) {
            answer.headline.push(' ');
            answer.headline.push_str(&change);
        }
        answer
    }

    /// The versions the answer names for a suspect of `tag`. The version on the machine (its
    /// driver list) comes first; else the scanned versions whose code allocates the tag (never
    /// a newer one that does not); else the only version known.
    fn versions_said(&self, s: &Suspect, tag: PoolTag) -> VersionsSaid {
        let allocating = self.allocating_versions(&s.driver, tag);
        let scanned: Vec<Version> = Version::sorted_distinct(
            self.kb
                .driver(&s.driver)
                .map(|f| f.hashes.iter().filter_map(|(v, _)| v.clone()).collect())
                .unwrap_or_default(),
        );
        let list = |versions: &[&Version]| {
            versions
                .iter()
                .map(|v| v.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let allocating: Vec<&Version> = allocating.iter().collect();
        let not_allocating: Vec<&Version> = if allocating.is_empty() {
            Vec::new()
        } else {
            scanned
                .iter()
                .filter(|v| !allocating.iter().any(|a| a.same_version(v)))
                .collect()
        };
        let seen = s.version_seen.as_deref().and_then(Version::parse);
        match seen {
            Some(seen) if not_allocating.iter().any(|v| v.same_version(&seen)) => VersionsSaid {
                version: Some(seen.to_string()),
                headline: None,
                note: Some(format!(
                    "this machine runs {seen}, whose scanned code does not allocate it (version {} does)",
                    list(&allocating)
                )),
            },
            Some(seen) => VersionsSaid {
                version: Some(seen.to_string()),
                headline: Some(seen.to_string()),
                note: (!not_allocating.is_empty()).then(|| {
                    format!(
                        "the scanned version {} does not allocate it",
                        list(&not_allocating)
                    )
                }),
            },
            None if !not_allocating.is_empty() => VersionsSaid {
                version: (allocating.len() == 1).then(|| allocating[0].to_string()),
                headline: Some(list(&allocating)),
                note: Some(format!(
                    "the scanned version {} does not allocate it",
                    list(&not_allocating)
                )),
            },
            None => {
                let only = match s.known_versions.as_slice() {
                    [only] => Some(only.clone()),
                    _ => None,
                };
                VersionsSaid {
                    version: only.clone(),
                    headline: only,
                    note: None,
                }
            }
        }
    }

    /// What a state after a change (stopping an app, a driver update, a reboot) shows of the
    /// top tag: it fell, so the change stopped it and what was changed is the trigger.
    fn after_change(&self, top: &Work<'_>) -> Option<String> {
        let (state, row) = self.input.context.iter().find_map(|s| {
            s.rows
                .iter()
                .find(|r| r.tag == top.tag && (r.pool == top.pool || r.pool == PoolKind::Unknown))
                .map(|r| (s, r))
        })?;
        let label =
            crate::snapshot::plain_label(state.label.as_deref().unwrap_or("after a change"));
        let tag = top.tag.trimmed();
        let (before, after) = if top.facts.bytes_unknown() || row.precision == Precision::Unknown {
            (top.outstanding?, row.outstanding_or_derived()?)
        } else {
            (top.bytes, row.bytes)
        };
        let unit = |v: u64| {
            if top.facts.bytes_unknown() {
                format!("{} allocations", thousands(v))
            } else {
                human_bytes(v)
            }
        };
        if after.saturating_mul(2) > before {
            return Some(format!(
                "In the state the paste labels \"{label}\", `{tag}` is still at {}: that change \
                 did not stop it.",
                unit(after)
            ));
        }
        Some(format!(
            "In the state the paste labels \"{label}\", `{tag}` fell to {}: the change stopped \
             it, so what was changed (an application, a service, a driver version) is the \
             trigger.",
            unit(after)
        ))
    }

    /// A Driver Verifier list names the driver: what it holds, by tag and caller.
    fn verifier_answer(&self, answer: &mut Answer, top: &Work<'_>, f: &Findings<'_, 'a>) {
        let suspects = f.suspects;
        let tag = top.tag.trimmed();
        answer.kind = AnswerKind::VerifierAllocations;
        answer.tag = Some(top.tag);
        answer.pool = Some(top.pool);
        let holder = suspects
            .iter()
            .find(|s| s.best_evidence == EvidenceKind::VerifierCaller);
        answer.driver = holder.map(|s| s.driver.clone());
        answer.vendor = holder.and_then(|s| s.vendor.clone());
        let count = top.outstanding.unwrap_or(0);
        let callers: Vec<&str> = f.table.series[top.series]
            .callers()
            .iter()
            .take(3)
            .copied()
            .collect();
        let who = answer.driver.as_deref().unwrap_or("The verified driver");
        let pool = match top.pool {
            PoolKind::Unknown => String::new(),
            p => format!(", {p}"),
        };
        answer.headline = format!(
            "{who} holds {} allocation{} of `{tag}` ({}{pool}){}. Driver Verifier lists the \
             allocations a driver still holds: in a list taken when the driver unloaded (bug \
             check 0xC4 or 0x62), every entry is a leak.",
            thousands(count),
            if count == 1 { "" } else { "s" },
            human_bytes(top.bytes),
            if callers.is_empty() {
                String::new()
            } else {
                format!(", allocated from {}", callers.join(", "))
            }
        );
        let reversed: String = tag_bytes_reversed(top.tag);
        answer.action = format!(
            "Send this list to {} with the driver's version: the caller names the allocation \
             that is never freed. In the driver's C source the tag is the constant '{reversed}' \
             (multi-character constants are stored byte-reversed).",
            match (&answer.vendor, &answer.driver) {
                (Some(v), _) => v.clone(),
                (None, Some(d)) => format!("the maker of {d}"),
                (None, None) => "the driver's maker".into(),
            }
        );
        answer.confidence = VerdictStrength::Moderate;
        answer.confidence_reason = "Driver Verifier names the driver and the caller of each \
                                    allocation; whether an entry is a leak depends on when the \
                                    list was taken"
            .into();
    }

    /// Pool totals over time, no tags: how fast the pool grows, and how to capture per-tag
    /// numbers.
    fn totals_answer(&self, answer: &mut Answer) {
        answer.kind = AnswerKind::PoolTotalsOnly;
        let points: Vec<(Option<f64>, &crate::snapshot::PoolTotals)> = self
            .input
            .snapshots
            .iter()
            .filter_map(|s| {
                let hours = s
                    .taken_at
                    .zip(self.input.snapshots.first().and_then(|f| f.taken_at))
                    .map(|(t, f)| (t - f).as_seconds_f64() / 3600.0)
                    .or(s.elapsed_hours);
                s.totals.as_ref().map(|t| (hours, t))
            })
            .collect();
        let mut parts = Vec::new();
        for pool in [PoolKind::NonPaged, PoolKind::Paged] {
            let name = pool.name();
            let values: Vec<(Option<f64>, u64)> = points
                .iter()
                .filter_map(|(h, t)| {
                    let bytes = match pool {
                        PoolKind::NonPaged => t.nonpaged_bytes,
                        _ => t.paged_bytes,
                    };
                    bytes.map(|v| (*h, v))
                })
                .collect();
            let (Some(first), Some(last)) = (values.first(), values.last()) else {
                continue;
            };
            let delta = last.1 as i128 - first.1 as i128;
            let span = match (first.0, last.0) {
                (Some(a), Some(b)) if b > a => Some(b - a),
                _ => None,
            };
            let change = if values.len() < 2 {
                format!("{name} pool {}", human_bytes(last.1))
            } else if delta > 0 {
                match span {
                    Some(h) => format!(
                        "{name} pool grows {}/hour ({} to {} over {:.1} h)",
                        human_bytes((delta as f64 / h) as u64),
                        human_bytes(first.1),
                        human_bytes(last.1),
                        h
                    ),
                    None => format!(
                        "{name} pool grew from {} to {} over {} samples",
                        human_bytes(first.1),
                        human_bytes(last.1),
                        values.len()
                    ),
                }
            } else {
                format!(
                    "{name} pool does not grow ({} to {})",
                    human_bytes(first.1),
                    human_bytes(last.1)
                )
            };
            parts.push(change);
        }
        if parts.is_empty() {
            return;
        }
        let mut headline = parts.join("; ");
        if let Some(first) = headline.get(..1) {
            headline = format!("{}{}", first.to_uppercase(), &headline[1..]);
        }
        answer.headline = format!(
            "{headline}. The paste gives pool totals only, so the tag and the driver behind it \
             cannot be named yet."
        );
        answer.action = format!(
            "Capture per-tag numbers while it grows: `poolmon -b -n before.txt`, hours later \
             `poolmon -b -n after.txt` (poolmon comes with the WDK; without it, `{}` run twice \
             hours apart writes the same numbers), or a pool trace (`wpr -start Pool \
             -filemode`, later `wpr -stop pool.etl`); analyze the two snapshots together.",
            collect_files_command()
        );
    }

    fn confidence(&self, f: &Findings<'_, 'a>) -> (VerdictStrength, String) {
        let n = f.table.n;
        let reason = match f.strength {
            VerdictStrength::Weak if n < 2 => {
                "one snapshot shows size, not growth: a second one hours later firms it up".into()
            }
            VerdictStrength::Weak => match f.work.first() {
                Some(top)
                    if top.score < super::super::rank::LEAK_EVIDENCE_SCORE
                        && top.growth.as_ref().is_some_and(|g| g.delta_bytes > 0) =>
                {
                    format!(
                        "`{}` grows by too little to count as a leak (score {:.3}: its growth is under 1% of what is normal for it)",
                        top.tag.trimmed(),
                        top.score
                    )
                }
                _ => format!("nothing grows steadily across the {n} snapshots"),
            },
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

/// Several Windows-owned tags above normal, none of them half of their sum: said before the
/// top tag, so nobody reads the first one as the whole story.
fn no_single_tag(work: &[&mut Work<'_>]) -> Option<String> {
    let big: Vec<&Work<'_>> = work
        .iter()
        .take(10)
        .filter(|w| {
            w.size_ratio >= 1.0
                && super::super::candidates::answer_owner(&w.cands)
                    == super::super::model::OwnerKind::Os
        })
        .map(|w| &**w)
        .collect();
    let sum: u64 = big.iter().fold(0u64, |s, w| s.saturating_add(w.bytes));
    let largest = big.iter().map(|w| w.bytes).max()?;
    if big.len() < 3 || largest.saturating_mul(2) > sum {
        return None;
    }
    let mut by_size = big.clone();
    by_size.sort_by_key(|w| std::cmp::Reverse(w.bytes));
    let shown: Vec<String> = by_size
        .iter()
        .take(5)
        .map(|w| format!("`{}` {}", w.tag.trimmed(), human_bytes(w.bytes)))
        .collect();
    Some(format!(
        "No single tag dominates: {} Windows-owned tags are above what is normal for them \
         ({}), which points at one cause holding them all, such as a filter driver.",
        big.len(),
        shown.join(", ")
    ))
}

/// A tag's value as read: its size, or its allocations when the paste gives no size.
fn amount_read(w: &Work<'_>) -> String {
    if w.facts.bytes_unknown() {
        match w.outstanding {
            Some(o) => format!("{} allocations", thousands(o)),
            None => "no size given".into(),
        }
    } else {
        human_bytes(w.bytes)
    }
}

/// What to capture when the paste cannot tell.
fn capture_instead(caveats: &[Caveat]) -> String {
    let mut steps = vec![format!(
        "Capture the tool's own output twice, hours apart, while the pool grows \
         (`poolmon -b -n before.txt`, later `poolmon -b -n after.txt`; or, without the WDK, \
         `{}` each time) and analyze both files together",
        collect_files_command()
    )];
    if caveats.contains(&Caveat::RowsSkipped) {
        steps.push("check the lines the warnings name: rows there could not be read".into());
    }
    if caveats.contains(&Caveat::Changes) {
        steps.push("send the sizes themselves along with the changes".into());
    }
    format!("{}.", steps.join("; "))
}

/// The tag as a C multi-character constant spells it: its four bytes reversed.
fn tag_bytes_reversed(tag: PoolTag) -> String {
    tag.bytes()
        .iter()
        .rev()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '?'
            }
        })
        .collect()
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
