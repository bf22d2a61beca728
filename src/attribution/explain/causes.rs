//! Known causes in words: what matched, why a case is not the answer, and how the answer
//! changes when a case's driver is loaded. A loaded cause driver becomes the answer's driver,
//! with the case's fix or workaround and the pool trace as the step that confirms it; without a
//! driver list the causes are listed and the list asked for; a case whose driver is not loaded
//! stays a possibility.

use super::super::Analyzer;
use super::super::known_causes::{CauseCheck, CauseStatus, KnownCauseMatch};
use super::super::model::GuidanceKind;
use super::super::model::{Answer, AnswerKind, Guidance, Suspect};
use super::pool_traces;
use crate::causes::{KnownCause, VersionsOf};
use crate::version::Version;

/// A known cause whose driver the machine runs, taken as the answer.
pub(in crate::attribution) struct CauseTakeover {
    /// The driver file, with the version loaded when the driver list gives it.
    pub driver: String,
    /// The case's source.
    pub url: String,
}

/// At most this many known causes are named in the answer's sentences (all are in the list).
const NAMED_IN_ACTION: usize = 4;

impl<'a> Analyzer<'a> {
    /// Puts the known causes of the answer's tag in the answer, and lets a loaded cause driver
    /// be its driver; says which case took the answer over, so the verdict can say it too.
    pub(in crate::attribution) fn apply_known_causes(
        &self,
        answer: &mut Answer,
        checks: &[CauseCheck<'a>],
    ) -> Option<CauseTakeover> {
        let about_a_tag = matches!(
            answer.kind,
            AnswerKind::ThirdPartyDriver
                | AnswerKind::WindowsOwned
                | AnswerKind::UnknownTag
                | AnswerKind::KnownOwnerUnclear
                | AnswerKind::VerifierAllocations
        );
        let top = answer.tag.filter(|_| about_a_tag)?;
        answer.known_causes = checks.iter().map(describe).collect();
        let about_top: Vec<&CauseCheck<'a>> = checks
            .iter()
            .filter(|c| c.case.tags.contains(&top))
            .collect();
        let tag = top.trimmed();
        let loaded = about_top
            .iter()
            .find(|c| c.status == CauseStatus::DriverLoaded);
        if let Some(best) = loaded
            && let Some(driver) = best.case.driver.as_deref()
        {
            let takes_over = matches!(
                answer.kind,
                AnswerKind::WindowsOwned | AnswerKind::UnknownTag | AnswerKind::KnownOwnerUnclear
            ) || answer.driver.as_deref() == Some(driver);
            if takes_over {
                answer.driver = Some(driver.to_owned());
                if best.case.vendor.is_some() {
                    answer.vendor.clone_from(&best.case.vendor);
                }
                if best.version_seen.is_some() {
                    answer.version.clone_from(&best.version_seen);
                }
                answer.candidates.retain(|c| c != driver);
                let version = best
                    .version_seen
                    .as_deref()
                    .map(|v| format!(" {v}"))
                    .unwrap_or_default();
                answer.headline.push_str(&format!(
                    " Known cause, and {driver}{version} is loaded: {} (source: {}).",
                    best.case.summary, best.case.url
                ));
                let trace = pool_traces(&[top])
                    .into_iter()
                    .next()
                    .map(|t| format!(" ({})", t.wpr_commands.join(" ; ")))
                    .unwrap_or_default();
                answer.action = format!(
                    "{}. Confirm it with a pool trace of `{tag}`{trace}: the allocations should \
                     come through {driver}'s stacks or stop with its fix.",
                    fix_action(best.case, best.version_seen.as_deref())
                );
                return Some(CauseTakeover {
                    driver: format!("{driver}{version}"),
                    url: best.case.url.clone(),
                });
            }
        }
        let mut more = String::new();
        let unlisted: Vec<String> = about_top
            .iter()
            .filter(|c| c.status == CauseStatus::NoDriverList)
            .take(NAMED_IN_ACTION)
            .map(|c| named(c.case))
            .collect();
        if !unlisted.is_empty() {
            more.push_str(&format!(
                " Known causes of `{tag}`: {}. Send the loaded-driver list (the PowerShell list \
                 with file versions, or `driverquery /v /fo csv`) to tell which of them this \
                 machine runs.",
                unlisted.join("; ")
            ));
        }
        for c in about_top
            .iter()
            .filter(|c| c.status == CauseStatus::OutsideAffectedVersions)
        {
            more.push_str(&format!(
                " {} is loaded, but {}: it is not taken as the cause ({}).",
                c.case.driver.as_deref().unwrap_or_default(),
                why_not(c).unwrap_or_default(),
                c.case.url
            ));
        }
        let triggers: Vec<String> = about_top
            .iter()
            .filter(|c| matches!(c.status, CauseStatus::Application | CauseStatus::TagOwner))
            .filter_map(|c| c.case.application.as_deref().map(|a| (a, c.case)))
            .take(NAMED_IN_ACTION)
            .map(|(app, case)| format!("{app} ({})", case.url))
            .collect();
        if !triggers.is_empty() {
            more.push_str(&format!(
                " Known triggers of `{tag}`: {}.",
                triggers.join("; ")
            ));
        }
        if self.input.drivers.is_some() {
            let absent: Vec<&str> = about_top
                .iter()
                .filter(|c| c.status == CauseStatus::DriverNotLoaded)
                .filter_map(|c| c.case.driver.as_deref())
                .take(NAMED_IN_ACTION)
                .collect();
            if !absent.is_empty() && unlisted.is_empty() {
                more.push_str(&format!(
                    " The driver list shows none of the known causes' drivers ({}).",
                    absent.join(", ")
                ));
            }
        }
        if !more.is_empty() && !answer.action.trim_end().ends_with('.') {
            answer.action.push('.');
        }
        answer.action.push_str(&more);
        None
    }

    /// Fix versions from known cases join the suspects' update advice: "update to N: the leak
    /// is fixed in N (source)", and both when the versions known here say otherwise. The
    /// vendor report names the case and its source.
    pub(in crate::attribution) fn join_case_fixes(
        &self,
        suspects: &mut [Suspect],
        checks: &[CauseCheck<'a>],
    ) {
        for suspect in suspects.iter_mut().filter(|s| !s.os_component) {
            let Some(check) = checks.iter().find(|c| {
                c.case.driver.as_deref() == Some(suspect.driver.as_str())
                    && !matches!(
                        c.status,
                        CauseStatus::DriverNotLoaded | CauseStatus::OutsideAffectedVersions
                    )
            }) else {
                continue;
            };
            let case = check.case;
            if let Some(report) = suspect.vendor_report.as_mut() {
                report.push_str(&format!(
                    "\nKnown case: {}\nSource: {}\n",
                    case.summary, case.url
                ));
            }
            let Some(fixed) = case.fixed_version.as_deref() else {
                continue;
            };
            let text = match &case.versions_of {
                Some(VersionsOf::File) => {
                    let seen = suspect.version_seen.as_deref().and_then(Version::parse);
                    let fixed_version = Version::parse(fixed);
                    if seen
                        .zip(fixed_version)
                        .is_some_and(|(seen, fixed)| !fixed.newer_than(&seen))
                    {
                        continue;
                    }
                    format!(
                        "update to {fixed}: the leak is fixed in {fixed} ({})",
                        case.fix_source()
                    )
                }
                Some(VersionsOf::Product(product)) => format!(
                    "update {product} to {fixed}: the leak is fixed in {product} {fixed} ({}; \
                     versions of {product}, not of {})",
                    case.fix_source(),
                    suspect.driver
                ),
                Some(VersionsOf::Windows) | None => {
                    format!("{fixed} fixes the leak ({})", case.fix_source())
                }
            };
            let agrees = suspect.guidance.kind != GuidanceKind::Update
                || suspect
                    .guidance
                    .text
                    .starts_with(&format!("update to {fixed}"));
            let text = if agrees {
                text
            } else {
                format!(
                    "{text}; the versions known here say: {}",
                    suspect.guidance.text
                )
            };
            suspect.guidance = Guidance {
                kind: GuidanceKind::Update,
                text,
            };
        }
    }
}

/// A check as the answer's JSON shows it.
fn describe(c: &CauseCheck<'_>) -> KnownCauseMatch {
    let case = c.case;
    let tag = c.tag.trimmed();
    let mut matched = vec![if c.pool_named {
        format!("`{tag}` in {} pool, as the case says", c.pool)
    } else {
        format!("`{tag}`")
    }];
    if c.growing {
        matched.push(format!("`{tag}` grows in this input"));
    }
    if let (CauseStatus::DriverLoaded | CauseStatus::OutsideAffectedVersions, Some(d)) =
        (c.status, case.driver.as_deref())
    {
        matched.push(match &c.version_seen {
            Some(v) => format!("{d} {v} is in the driver list"),
            None => format!("{d} is in the driver list (no version)"),
        });
    }
    if c.version_in_range == Some(true) {
        matched.push(format!(
            "version {} is among the affected versions ({})",
            c.version_seen.as_deref().unwrap_or_default(),
            case.affected_versions.as_deref().unwrap_or_default()
        ));
    }
    if !c.partners_growing.is_empty() {
        matched.push(format!(
            "the case's other tags grow too: {}",
            quoted(&c.partners_growing)
        ));
    } else if !c.partners_present.is_empty() {
        matched.push(format!(
            "the case's other tags are present: {}",
            quoted(&c.partners_present)
        ));
    }
    if c.allocs_far_above_frees {
        matched.push("allocations far above frees".into());
    }
    KnownCauseMatch {
        id: case.id.clone(),
        tag: c.tag,
        pool: c.pool,
        tags: case.tags.clone(),
        cause: case.cause().to_owned(),
        driver: case.driver.clone(),
        application: case.application.clone(),
        vendor: case.vendor.clone(),
        fix: case.fix_words(),
        workaround: case.workaround.clone(),
        summary: case.summary.clone(),
        url: case.url.clone(),
        fix_url: case.fix_url.clone(),
        source: case.source.clone(),
        status: c.status,
        version_seen: c.version_seen.clone(),
        matched,
        why_not: why_not(c),
        score: c.score,
    }
}

fn quoted(tags: &[crate::tag::PoolTag]) -> String {
    tags.iter()
        .map(|t| format!("`{}`", t.trimmed()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why a case is not the answer (`None` when it is, or may be).
fn why_not(c: &CauseCheck<'_>) -> Option<String> {
    let case = c.case;
    let driver = case.driver.as_deref().unwrap_or("its driver");
    let seen = c.version_seen.as_deref().unwrap_or("?");
    match c.status {
        CauseStatus::DriverLoaded => None,
        CauseStatus::OutsideAffectedVersions if c.fixed_already => Some(format!(
            "{driver} {seen} is at or above {}, where the case says the leak is fixed",
            case.fixed_version.as_deref().unwrap_or_default()
        )),
        CauseStatus::OutsideAffectedVersions => Some(format!(
            "{driver} {seen} is outside the affected versions the case names ({})",
            case.affected_versions.as_deref().unwrap_or_default()
        )),
        CauseStatus::DriverNotLoaded => Some(format!("{driver} is not in the driver list")),
        CauseStatus::NoDriverList => Some(format!(
            "no driver list came with the snapshots: it would tell whether {driver} is loaded"
        )),
        CauseStatus::Application => Some(format!(
            "the case names {}, not a driver: check whether it runs on this machine",
            case.application.as_deref().unwrap_or("an application")
        )),
        CauseStatus::TagOwner => Some(format!(
            "{driver} owns `{}` and is always loaded, so its presence proves nothing{}",
            c.tag.trimmed(),
            case.application
                .as_deref()
                .map(|a| format!("; the trigger is {a}"))
                .unwrap_or_default()
        )),
    }
}

/// What to do about a loaded cause: its fix, else its workaround, else the report.
fn fix_action(case: &KnownCause, seen: Option<&str>) -> String {
    let mut parts = Vec::new();
    if let Some(fixed) = case.fixed_version.as_deref() {
        let source = case.fix_source();
        parts.push(match &case.versions_of {
            Some(VersionsOf::File) => format!(
                "Update {} to {fixed} or later{}: the leak is fixed in {fixed} ({source})",
                case.driver.as_deref().unwrap_or("the driver"),
                seen.map(|s| format!(" (this machine runs {s})"))
                    .unwrap_or_default()
            ),
            Some(VersionsOf::Product(product)) => format!(
                "Update {product} to {fixed} or later: the leak is fixed in {product} {fixed} \
                 ({source})"
            ),
            Some(VersionsOf::Windows) | None => format!("{fixed} fixes the leak ({source})"),
        });
    }
    if let Some(workaround) = case.workaround.as_deref() {
        parts.push(format!("Workaround: {workaround}"));
    }
    if parts.is_empty() {
        parts.push(format!(
            "No fix is published ({}): send {} the pool numbers with this case",
            case.url,
            case.vendor.as_deref().unwrap_or("the vendor")
        ));
    }
    parts.join(". ")
}

/// A case named in a sentence: the driver, its vendor, the summary and the page.
fn named(case: &KnownCause) -> String {
    let vendor = case
        .vendor
        .as_deref()
        .map(|v| format!(" ({v})"))
        .unwrap_or_default();
    format!("{}{vendor}: {} [{}]", case.cause(), case.summary, case.url)
}
