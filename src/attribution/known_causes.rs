//! Matching the known causes (`crate::causes`) against the input, on facts only: for each top
//! tag, the cases that name it in its pool, whether the case's driver is loaded according to
//! the driver list and at a version the case covers, whether the case's other tags are present
//! and growing, and whether allocations run far above frees. `explain` turns the checks into
//! words and into the answer; a case whose driver is not loaded stays a possibility.

use serde::Serialize;
use utoipa::ToSchema;

use super::Analyzer;
use super::candidates::is_os_entry;
use super::rank::{CountSignal, Work, count_signal};
use crate::causes::KnownCause;
use crate::snapshot::PoolKind;
use crate::tag::PoolTag;
use crate::version::Version;

/// The top tags whose known causes are checked: the answer is about the first, and the next
/// ones (when above normal themselves) are often its partners.
const CHECKED_TAGS: usize = 3;

/// How a known case stands against the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CauseStatus {
    /// The case's driver is loaded (per the driver list) at a version the case covers: the
    /// answer's cause.
    DriverLoaded,
    /// The driver is loaded at a version outside those the case names, or at or above its
    /// fix: not the answer.
    OutsideAffectedVersions,
    /// The driver list does not list the case's driver: a possibility, not this machine's.
    DriverNotLoaded,
    /// No driver list came with the snapshots: a possibility the list would settle.
    NoDriverList,
    /// The case names an application or service, not a driver: a possibility to check.
    Application,
    /// The case's driver owns the tag and is always loaded: being loaded proves nothing.
    TagOwner,
}

/// A known case that names one of the top tags, with what matched and why it is, or is not,
/// the answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KnownCauseMatch {
    /// The case's id in its source.
    pub id: String,
    /// The input's tag it matched.
    pub tag: PoolTag,
    pub pool: PoolKind,
    /// Every tag the case names.
    pub tags: Vec<PoolTag>,
    /// The driver, else the application, behind the case.
    pub cause: String,
    pub driver: Option<String>,
    pub application: Option<String>,
    pub vendor: Option<String>,
    /// The fix as the source gives it (`fixed in Npcap 0.9996`).
    pub fix: Option<String>,
    pub workaround: Option<String>,
    pub summary: String,
    /// The page that says so.
    pub url: String,
    /// The page that gives the fix, when another one does.
    pub fix_url: Option<String>,
    /// The source of cases it came from.
    pub source: String,
    pub status: CauseStatus,
    /// The cause driver's version in the driver list.
    pub version_seen: Option<String>,
    /// What matched, in words.
    pub matched: Vec<String>,
    /// Why the case is not the answer, when it is not.
    pub why_not: Option<String>,
    /// Higher is a closer match.
    pub score: f64,
}

impl KnownCauseMatch {
    /// The status as a report shows it.
    pub fn status_label(&self) -> &'static str {
        match self.status {
            CauseStatus::DriverLoaded => "driver loaded",
            CauseStatus::OutsideAffectedVersions => "outside the affected versions",
            CauseStatus::DriverNotLoaded => "driver not loaded",
            CauseStatus::NoDriverList => "no driver list",
            CauseStatus::Application => "application",
            CauseStatus::TagOwner => "tag owner",
        }
    }
}

/// One case against one input tag, in facts.
#[derive(Debug, Clone)]
pub(super) struct CauseCheck<'a> {
    pub case: &'a KnownCause,
    pub tag: PoolTag,
    pub pool: PoolKind,
    pub status: CauseStatus,
    pub version_seen: Option<String>,
    /// Whether the version seen is inside the case's affected versions (when both are known).
    pub version_in_range: Option<bool>,
    /// The version seen is at or above the case's fixed version.
    pub fixed_already: bool,
    /// The case names this pool (not "either").
    pub pool_named: bool,
    /// The tag grows in the input.
    pub growing: bool,
    /// The case's other tags that the input holds, and those of them that grow.
    pub partners_present: Vec<PoolTag>,
    pub partners_growing: Vec<PoolTag>,
    /// Allocated far more often than freed.
    pub allocs_far_above_frees: bool,
    pub score: f64,
}

impl<'a> Analyzer<'a> {
    /// The known cases of the top tags, closest match first.
    pub(super) fn check_causes(&self, work: &[&mut Work<'a>]) -> Vec<CauseCheck<'a>> {
        let book: &'a crate::causes::CauseBook = &self.options.causes;
        let mut checks: Vec<CauseCheck<'a>> = Vec::new();
        if book.is_empty() {
            return checks;
        }
        // The top tag, and the next ones only when they are abnormal themselves.
        let abnormal = |(i, w): &(usize, &&mut Work<'a>)| *i == 0 || w.score >= 1.0;
        for (_, w) in work.iter().take(CHECKED_TAGS).enumerate().filter(abnormal) {
            for case in book.for_tag(w.tag) {
                let seen = checks
                    .iter()
                    .any(|c| c.case.id == case.id && c.case.source == case.source);
                if seen || !case.pool.covers(w.pool) {
                    continue;
                }
                checks.push(self.check_cause(case, w, work));
            }
        }
        checks.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.case.source.cmp(&b.case.source))
                .then(a.case.line.cmp(&b.case.line))
        });
        checks
    }

    fn check_cause(
        &self,
        case: &'a KnownCause,
        w: &Work<'a>,
        work: &[&mut Work<'a>],
    ) -> CauseCheck<'a> {
        let grows = |w: &Work<'_>| {
            w.growth
                .as_deref()
                .is_some_and(|g| g.delta_bytes > 0 || g.delta_outstanding.unwrap_or(0) > 0)
        };
        let mut partners_present = Vec::new();
        let mut partners_growing = Vec::new();
        for &partner in case.tags.iter().filter(|&&t| t != w.tag) {
            let rows: Vec<&&mut Work<'a>> = work.iter().filter(|o| o.tag == partner).collect();
            if rows.is_empty() {
                continue;
            }
            partners_present.push(partner);
            if rows.iter().any(|o| grows(o)) {
                partners_growing.push(partner);
            }
        }
        let mut check = CauseCheck {
            case,
            tag: w.tag,
            pool: w.pool,
            status: CauseStatus::Application,
            version_seen: None,
            version_in_range: None,
            fixed_already: false,
            pool_named: case.pool != crate::causes::CausePool::Either,
            growing: grows(w),
            partners_present,
            partners_growing,
            allocs_far_above_frees: matches!(
                count_signal(w),
                Some(CountSignal::AllocsFarAboveFrees { .. })
            ),
            score: 0.0,
        };
        if let Some(driver) = case.driver.as_deref() {
            // The tag's own Windows owner (ntfs.sys for `NtFC`, the kernel) is always there.
            let owner = driver == "ntoskrnl.exe"
                || self
                    .kb
                    .attributions(w.tag)
                    .iter()
                    .any(|e| e.owner.driver.as_deref() == Some(driver) && is_os_entry(e));
            let versioned = case.file_range().is_some() || case.fixed_file_version().is_some();
            check.status = if owner && !versioned {
                CauseStatus::TagOwner
            } else if self.input.drivers.is_none() {
                CauseStatus::NoDriverList
            } else if let Some(loaded) = self.loaded_driver(driver, self.kb.driver(driver)) {
                check.version_seen = loaded.version.as_ref().map(Version::to_string);
                if let Some(seen) = &loaded.version {
                    check.version_in_range = case.file_range().map(|r| r.contains(seen));
                    check.fixed_already = case
                        .fixed_file_version()
                        .and_then(Version::parse)
                        .is_some_and(|fixed| !fixed.newer_than(seen));
                }
                if check.version_in_range == Some(false) || check.fixed_already {
                    CauseStatus::OutsideAffectedVersions
                } else {
                    CauseStatus::DriverLoaded
                }
            } else if owner {
                CauseStatus::TagOwner
            } else {
                CauseStatus::DriverNotLoaded
            };
        }
        check.score = score(&check);
        check
    }
}

/// How close a case matches: the loaded driver weighs most, then partners growing with the tag.
fn score(c: &CauseCheck<'_>) -> f64 {
    let mut score = 1.0;
    if c.pool_named {
        score += 0.25;
    }
    if c.growing {
        score += 0.25;
    }
    score += 0.25 * c.partners_present.len() as f64 + 0.5 * c.partners_growing.len() as f64;
    if c.allocs_far_above_frees {
        score += 0.5;
    }
    score += match c.status {
        CauseStatus::DriverLoaded if c.version_in_range == Some(true) => 5.0,
        CauseStatus::DriverLoaded => 4.0,
        CauseStatus::OutsideAffectedVersions => -1.0,
        CauseStatus::DriverNotLoaded => -0.5,
        CauseStatus::TagOwner => -0.25,
        CauseStatus::NoDriverList | CauseStatus::Application => 0.0,
    };
    (score * 100.0).round() / 100.0
}
