//! Attribution: pool snapshots in, ranked suspect drivers with vendor guidance out.
//!
//! [`read_inputs`] parses one or more snapshot files (any format of [`crate::snapshot`]) and an
//! optional loaded-driver list; [`analyze`] runs the stages in order against a
//! [`KnowledgeView`] of the knowledge base:
//!
//! 1. `series`: every (tag, pool) over the snapshots, with its growth;
//! 2. `candidates`: the drivers that may own each tag, from every source;
//! 3. `rank`: scores and ranking, on numbers only (the scoring model is described there);
//! 4. `explain`: the answer, verdict, suspects' guidance, vendor reports and next steps,
//!    the only stage that writes words.
//!
//! `input` reads the files first; the result types are in `model`.

mod candidates;
mod explain;
mod input;
mod kb;
mod known_causes;
mod model;
mod normal;
mod order;
mod rank;
mod read_back;
mod related_owners;
mod series;
mod stats;
mod tag_table;

use std::cell::RefCell;

use rustc_hash::FxHashMap as HashMap;

pub use candidates::kmdf_default_tag;
pub(crate) use candidates::{is_inbox, is_os_entry};
pub use explain::{pool_traces, render_text, suspects_note};
pub use input::{AnalysisInput, AttributionError, InputFile, read_inputs, read_inputs_until};
pub use kb::{
    Attribution, DriverFacts, KnowledgeCache, KnowledgeCacheStatus, KnowledgeView, TagLocation,
};
pub use known_causes::{CauseStatus, KnownCauseMatch};
pub use model::*;
pub use normal::{DEFAULT_NORMAL_MIB, NormalTable, NormalTag};
pub use order::SeriesOrdering;
pub use stats::{LineFit, linear_fit, pearson};

use crate::vendor::VendorDirectory;
use candidates::LoadedDrivers;
use explain::answer;
use rank::Work;

/// Ranks tags and drivers. Never fails: whatever the snapshots hold gives an answer.
pub fn analyze(
    input: &AnalysisInput,
    kb: &KnowledgeView,
    vendors: &VendorDirectory,
    options: &AnalyzeOptions,
) -> Analysis {
    let cx = Analyzer::new(input, kb, vendors, options);
    // 1. Series and growth.
    let table = series::collect(&input.snapshots);
    let machine = series::machine_totals(&input.snapshots);
    // 2. Candidates and 3. scores, per tag. Every tag's lookup first, in batches whose cache
    // misses overlap (see `KnowledgeView::locate_all`).
    let locations: Vec<TagLocation> = kb.locate_all(table.series.iter().map(|s| s.tag));
    let mut tags: Vec<Work> = (0..table.series.len())
        .map(|i| {
            let (cands, described) = cx.candidates(&table.series[i], locations[i]);
            cx.measure(&table, i, cands, described)
        })
        .collect();
    let mut ranked = rank::rank(&mut tags);
    // Tags growing in lockstep share an owner; loaded filter drivers may hold OS-owned tags.
    let together = series::growing_together(
        &table,
        ranked
            .iter()
            .map(|w| (w.series, series::groupable(w.growth.as_deref(), w.bytes))),
    );
    let group_drivers = cx.share_group_owners(&mut ranked, &together);
    let diagnosis = match rank::diagnose(&ranked, &input.caveats) {
        // A Driver Verifier list names the driver that holds each allocation.
        AnswerKind::NoData if input.snapshots.iter().any(|s| s.totals.is_some()) => {
            AnswerKind::PoolTotalsOnly
        }
        AnswerKind::NoData => AnswerKind::NoData,
        _ if !input.files.is_empty()
            && input
                .files
                .iter()
                .all(|f| f.format == crate::snapshot::SnapshotFormat::Verifier) =>
        {
            AnswerKind::VerifierAllocations
        }
        kind => kind,
    };
    let os_tags = (diagnosis != AnswerKind::NothingAbnormal)
        .then(|| cx.add_filter_candidates(&mut ranked))
        .flatten();
    // The known causes of the top tags, checked against the driver list.
    let cause_checks = cx.check_causes(&ranked);
    // 4. Explanation.
    let groups = cx.tag_groups(&ranked, &together, group_drivers);
    let os_tags = cx.os_tag_advice(&ranked, os_tags);
    let info = cx.input_info(&table);
    let mut ranking = cx.rank_drivers(&ranked);
    if let (AnswerKind::UnknownTag | AnswerKind::KnownOwnerUnclear, Some(top)) =
        (diagnosis, ranked.first())
    {
        // Scripts read `suspects[0]`: below an unknown top tag only its own candidates are
        // suspects (a KMDF-shaped name, a third-party owner of a tag in lockstep), never a
        // Windows component that owns a smaller tag. Chosen before the suspects are written
        // out (their guidance and vendor reports are most of an analysis's text), on the
        // tags their evidence shows.
        let lockstep: Vec<_> = groups
            .iter()
            .filter(|g| g.tags.contains(&top.tag))
            .flat_map(|g| g.tags.iter().copied())
            .collect();
        ranking.drivers.retain(|d| {
            !d.shares.iter().all(|(_, c, _)| c.os)
                && d.shares
                    .iter()
                    .take(explain::EVIDENCE_SHOWN)
                    .any(|&(wi, _, _)| {
                        let tag = ranked[wi].tag;
                        tag == top.tag || lockstep.contains(&tag)
                    })
        });
    }
    let mut suspects = cx.suspects(&ranked, ranking, &machine, &groups, &info);
    cx.join_case_fixes(&mut suspects, &cause_checks);
    let unknown_tags = cx.unknown_tags(&ranked);
    let strength = rank::strength(table.n, &ranked, &suspects);
    let mut answer = cx.answer(&answer::Findings {
        work: &ranked,
        table: &table,
        suspects: &suspects,
        os: os_tags.as_ref(),
        strength,
        diagnosis,
        caveats: &input.caveats,
    });
    let takeover = cx.apply_known_causes(&mut answer, &cause_checks);
    // The answers that are not about a tag's owner are their own verdict.
    let verdict = match answer.kind {
        AnswerKind::Inconclusive | AnswerKind::VerifierAllocations | AnswerKind::PoolTotalsOnly => {
            answer.headline.clone()
        }
        _ => cx.verdict(
            &table,
            &ranked,
            &suspects,
            strength,
            diagnosis,
            takeover.as_ref(),
        ),
    };
    // Which snapshot came first decides what grows: the answer says how it was decided.
    if info.series.len() >= 2 {
        answer.order = Some(info.order.explanation.clone());
    }
    let next_steps = cx.next_steps(
        table.n,
        &ranked,
        &suspects,
        &unknown_tags,
        os_tags.as_ref(),
        &answer,
    );
    let driver_upload = (!unknown_tags.is_empty()
        || matches!(
            answer.kind,
            AnswerKind::UnknownTag | AnswerKind::KnownOwnerUnclear
        ))
    .then(|| cx.driver_upload());
    let findings_total = ranked.len();
    let mut findings: Vec<Finding> = ranked
        .into_iter()
        .take(options.max_findings)
        .map(|w| {
            let facts = table.facts(w.series);
            let mut finding = cx.finding(w, &table, &machine);
            finding.source = (facts.line > 0).then(|| SourceRef {
                file: facts.file,
                file_name: None,
                line: facts.line,
                text: String::new(),
            });
            finding
        })
        .collect();
    let mut read = read_back::read_back(input);
    // One pass over the input for every line shown.
    read_back::attach_lines(
        input,
        findings
            .iter_mut()
            .filter_map(|f| f.source.as_mut())
            .chain(read.iter_mut().filter_map(|v| v.source.as_mut())),
    );
    Analysis {
        answer,
        verdict_strength: strength,
        verdict,
        suspects,
        findings,
        findings_total,
        groups,
        unknown_tags,
        os_tags,
        next_steps,
        driver_upload,
        input: info,
        machine,
        knowledge: KnowledgeUsed {
            entries: kb.entry_count(),
            current: true,
        },
        read,
    }
}

/// What every stage reads: the input, the knowledge, the options, and the drivers numbered so
/// far.
struct Analyzer<'a> {
    input: &'a AnalysisInput,
    kb: &'a KnowledgeView,
    vendors: &'a VendorDirectory,
    options: &'a AnalyzeOptions,
    normal: &'static NormalTable,
    loaded: LoadedDrivers<'a>,
    /// Numbers of the candidate drivers the knowledge view does not know, following its own.
    extra_drivers: RefCell<HashMap<String, u32>>,
}

impl<'a> Analyzer<'a> {
    fn new(
        input: &'a AnalysisInput,
        kb: &'a KnowledgeView,
        vendors: &'a VendorDirectory,
        options: &'a AnalyzeOptions,
    ) -> Self {
        Self {
            input,
            kb,
            vendors,
            options,
            normal: NormalTable::embedded(),
            loaded: LoadedDrivers::new(input.drivers.as_deref()),
            extra_drivers: RefCell::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{PoolKind, Snapshot};
    use crate::tag::PoolTag;

    #[test]
    fn equal_scores_rank_by_bytes_then_tag_then_pool_whatever_the_input_order() {
        // `Mmmm` is the largest. The other three have equal bytes, so equal scores, and are
        // told apart by tag and then by pool (paged before nonpaged).
        let rows = [
            ("Zzzz", PoolKind::Paged, 4096),
            ("Aaaa", PoolKind::NonPaged, 4096),
            ("Mmmm", PoolKind::Paged, 8192),
            ("Aaaa", PoolKind::Paged, 4096),
        ];
        let expected = [
            ("Mmmm", PoolKind::Paged),
            ("Aaaa", PoolKind::Paged),
            ("Aaaa", PoolKind::NonPaged),
            ("Zzzz", PoolKind::Paged),
        ];
        let view = KnowledgeView::default();
        let vendors = VendorDirectory::embedded();
        for rotation in 0..rows.len() {
            let mut shuffled = rows.to_vec();
            shuffled.rotate_left(rotation);
            let input = AnalysisInput {
                snapshots: vec![Snapshot {
                    rows: shuffled
                        .iter()
                        .map(|&(tag, pool, bytes)| {
                            crate::snapshot::PoolUsage::new(
                                PoolTag::parse(tag).unwrap(),
                                pool,
                                bytes,
                            )
                        })
                        .collect(),
                    ..Snapshot::default()
                }],
                ..AnalysisInput::default()
            };
            let analysis = analyze(&input, &view, &vendors, &AnalyzeOptions::default());
            let order: Vec<(String, PoolKind)> = analysis
                .findings
                .iter()
                .map(|f| (f.tag.to_string(), f.pool))
                .collect();
            let expected: Vec<(String, PoolKind)> =
                expected.iter().map(|&(t, p)| (t.to_owned(), p)).collect();
            assert_eq!(order, expected, "rotation {rotation}");
        }
    }
}
