//! Candidates that come from other tags, once the tags are ranked: an unknown tag growing in
//! lockstep with a known one borrows its owner, and a loaded filter driver may hold a tag
//! Windows owns.

use std::borrow::Cow;

use super::Analyzer;
use super::candidates::{Detail, answer_owner, driver_file};
use super::model::{CandidateOrigin, EvidenceKind, OwnerKind, Suspect};
use super::rank::Work;
use super::series::{GrowingTogether, SeriesTable};
use crate::snapshot::LoadedDriver;
use crate::tag::PoolTag;

/// A tag moving in lockstep with another: the same owner, as far as the numbers go.
pub(super) struct LockstepTag {
    pub tag: PoolTag,
    /// Its third-party owner, when a candidate names one.
    pub owner: Option<String>,
}

impl<'a> Analyzer<'a> {
    /// Tags that grow together share a cause: an unknown member borrows the best third-party
    /// candidate of a known member. Marks each member's group and returns each group's
    /// drivers.
    pub(super) fn share_group_owners(
        &self,
        work: &mut [&mut Work<'a>],
        groups: &[GrowingTogether],
    ) -> Vec<Vec<String>> {
        let mut all = Vec::with_capacity(groups.len());
        for (gid, group) in groups.iter().enumerate() {
            let idx = &group.members;
            let donor = idx
                .iter()
                .flat_map(|&i| work[i].cands.iter())
                .filter(|c| !c.os && c.kind != EvidenceKind::FilterDriver)
                .max_by(|a, b| a.weight.total_cmp(&b.weight))
                .cloned();
            let donor_tag = donor.as_ref().and_then(|d| {
                idx.iter()
                    .find(|&&i| work[i].cands.iter().any(|c| c.driver_id == d.driver_id))
                    .map(|&i| work[i].tag)
            });
            let mut drivers: Vec<String> = Vec::new();
            for &i in idx {
                if work[i].cands.is_empty()
                    && let (Some(d), Some(tag)) = (&donor, donor_tag)
                {
                    let name = self.name(d);
                    let c = self.make_cand(
                        Cow::Owned(name.to_owned()),
                        EvidenceKind::SameGrowthGroup,
                        None,
                        CandidateOrigin::Group,
                        Detail::SameGrowth { tag },
                    );
                    work[i].cands.push(c);
                }
                work[i].group = Some(gid);
                for c in &work[i].cands {
                    let name = self.name(c);
                    if !drivers.iter().any(|x| x == name) {
                        drivers.push(name.to_owned());
                    }
                }
            }
            all.push(drivers);
        }
        all
    }

    /// When the top tag belongs to the OS (by the knowledge base's word, whatever a snapshot's
    /// driver column says): the OS-owned tags near the top (positions in
    /// `work`), with every loaded third-party filter driver added to each as a candidate.
    /// Returns the tags' positions and the filter drivers' file names.
    pub(super) fn add_filter_candidates(
        &self,
        work: &mut [&mut Work<'a>],
    ) -> Option<(Vec<usize>, Vec<String>)> {
        let top = work.first()?;
        if top.score <= 0.0 || answer_owner(&top.cands) != OwnerKind::Os {
            return None;
        }
        let top_score = top.score;
        let os_idx: Vec<usize> = (0..work.len().min(10))
            .filter(|&i| {
                answer_owner(&work[i].cands) == OwnerKind::Os && work[i].score >= top_score * 0.1
            })
            .take(8)
            .collect();
        let mut filters: Vec<&LoadedDriver> = self
            .input
            .drivers
            .iter()
            .flatten()
            .filter(|d| !self.is_os_driver(&driver_file(d)))
            .filter(|d| is_filter_like(d))
            .collect();
        filters.sort_by_key(|d| d.module_name.to_ascii_lowercase());
        filters.dedup_by_key(|d| d.module_name.to_ascii_lowercase());
        let filter_names: Vec<String> = filters.iter().map(|d| driver_file(d)).collect();
        for &i in &os_idx {
            for name in &filter_names {
                if work[i].cands.iter().any(|c| self.name(c) == name) {
                    continue;
                }
                let c = self.make_cand(
                    Cow::Owned(name.clone()),
                    EvidenceKind::FilterDriver,
                    None,
                    CandidateOrigin::DriverList,
                    Detail::FilterDriver,
                );
                work[i].cands.push(c);
            }
        }
        Some((os_idx, filter_names))
    }

    /// Tags whose outstanding allocations move in lockstep with the top tag's: the same count
    /// (at least 50), the same growth in every interval (two or more intervals), or one group
    /// of growth.
    pub(super) fn lockstep_tags(
        &self,
        table: &SeriesTable<'a>,
        work: &[&mut Work<'a>],
    ) -> Vec<LockstepTag> {
        let Some(top) = work.first() else {
            return Vec::new();
        };
        let count = table.last_outstanding(top.series);
        let steps = table.outstanding_steps(top.series);
        let mut out: Vec<LockstepTag> = Vec::new();
        for w in work.iter().skip(1).take(200) {
            let other = table.last_outstanding(w.series);
            let same_count = count.zip(other).is_some_and(|(c, o)| {
                (c >= 50 && o == c) || (c >= 10_000 && c.abs_diff(o).saturating_mul(1000) <= c)
            });
            let other_steps = table.outstanding_steps(w.series);
            let same_steps = steps.as_ref().is_some_and(|steps| {
                (steps.len() >= 2
                    && steps.iter().all(|&d| d != 0)
                    && steps.iter().map(|d| d.unsigned_abs()).sum::<u64>() >= 50
                    && other_steps.as_ref() == Some(steps))
                    || other_steps
                        .as_deref()
                        .is_some_and(|o| one_interval_in_step(steps, o))
            });
            let same_group = top.group.is_some() && w.group == top.group;
            if same_count || same_steps || same_group {
                out.push(LockstepTag {
                    tag: w.tag,
                    owner: w
                        .cands
                        .iter()
                        .find(|c| !c.os)
                        .map(|c| self.name(c).to_owned()),
                });
            }
        }
        out
    }

    /// For a Windows-owned tag: third-party drivers the snapshot names for it (a mapped-driver
    /// column), loaded filter drivers, and third-party suspects tied to related tags.
    pub(super) fn third_party_candidates(
        &self,
        top: &Work<'a>,
        filter_drivers: &[String],
        suspects: &[Suspect],
    ) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut add = |name: &str| {
            if !name.is_empty() && !out.iter().any(|n| n == name) && out.len() < 6 {
                out.push(name.to_owned());
            }
        };
        for c in top.cands.iter().filter(|c| !c.os) {
            add(self.name(c));
        }
        for d in filter_drivers {
            add(d);
        }
        for s in suspects.iter().filter(|s| !s.os_component) {
            add(&s.driver);
        }
        out
    }
}

/// Filter drivers: file-system minifilters (driverquery type "File System") and drivers whose
/// names say they filter.
fn is_filter_like(d: &LoadedDriver) -> bool {
    let kind = d.driver_type.as_deref().unwrap_or("").to_ascii_lowercase();
    let name = d.module_name.to_ascii_lowercase();
    let text = format!(
        "{} {}",
        d.display_name.as_deref().unwrap_or(""),
        d.description.as_deref().unwrap_or("")
    )
    .to_ascii_lowercase();
    let running = d
        .state
        .as_deref()
        .is_none_or(|s| s.eq_ignore_ascii_case("running"));
    running
        && (kind.contains("file system")
            || name.ends_with("flt")
            || name.contains("filter")
            || text.contains("filter"))
}

/// One interval of large growth where one tag's growth is a small whole multiple of the
/// other's (1×, 2×, 3×, 4×, within 1%): one cause allocating a fixed number of each per
/// operation (a file open takes one stream context and two extra create parameters).
fn one_interval_in_step(a: &[i64], b: &[i64]) -> bool {
    let ([x], [y]) = (a, b) else {
        return false;
    };
    let (x, y) = (*x as f64, *y as f64);
    if x < 1_000.0 || y < 1_000.0 {
        return false;
    }
    let ratio = x.max(y) / x.min(y);
    let whole = ratio.round();
    (1.0..=4.0).contains(&whole) && (ratio - whole).abs() <= 0.01 * whole
}
