//! A host's state, read from the attribution answer over its window of samples.

use serde::Serialize;
use time::OffsetDateTime;

use super::HostName;
use crate::attribution::{Analysis, Finding};
use crate::format::GrowthRate;
use crate::snapshot::{LoadedDriver, PoolKind};
use crate::tag::PoolTag;

/// Where a host stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum StateKind {
    /// No tag grows steadily over the window.
    Healthy,
    /// Fewer samples, or a shorter span, than growth can be judged on: no all-clear yet.
    Collecting,
    /// A tag grows steadily, below the alert threshold.
    Growing,
    /// A tag grows steadily at or above the alert threshold.
    Leaking,
}

impl StateKind {
    pub const ALL: [Self; 4] = [
        Self::Leaking,
        Self::Growing,
        Self::Collecting,
        Self::Healthy,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Collecting => "collecting",
            Self::Growing => "growing",
            Self::Leaking => "leaking",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// Higher is worse: the order hosts are listed in.
    pub const fn severity(self) -> u8 {
        match self {
            Self::Healthy => 0,
            Self::Collecting => 1,
            Self::Growing => 2,
            Self::Leaking => 3,
        }
    }
}

/// The tag that grows, who is behind it and how fast.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TagGrowth {
    #[schema(value_type = String)]
    pub tag: PoolTag,
    #[schema(value_type = String)]
    pub pool: PoolKind,
    /// The driver the attribution names for the tag, when it names one.
    pub driver: Option<String>,
    /// That driver's version in the host's driver list.
    pub version: Option<String>,
    pub bytes_per_hour: f64,
    /// The tag's bytes in the newest sample.
    pub bytes: u64,
    /// Hours until the pool is used up at this rate, where the snapshot states the pool's
    /// limit; `None` where it does not (poolmon does not).
    pub hours_to_exhaustion: Option<f64>,
}

/// A host's state: an enum, with the growth where something grows.
#[derive(Debug, Clone, PartialEq)]
pub enum HostState {
    Healthy,
    Collecting,
    Growing(TagGrowth),
    Leaking(TagGrowth),
}

impl HostState {
    pub fn kind(&self) -> StateKind {
        match self {
            Self::Healthy => StateKind::Healthy,
            Self::Collecting => StateKind::Collecting,
            Self::Growing(_) => StateKind::Growing,
            Self::Leaking(_) => StateKind::Leaking,
        }
    }

    pub fn growth(&self) -> Option<&TagGrowth> {
        match self {
            Self::Growing(g) | Self::Leaking(g) => Some(g),
            Self::Healthy | Self::Collecting => None,
        }
    }

    /// One sentence for people: what the host does.
    pub fn headline(&self, host: &HostName) -> String {
        match self {
            Self::Healthy => format!("{host}: no pool tag grows steadily."),
            Self::Collecting => format!(
                "{host}: not enough samples yet to judge growth (at least {MIN_SAMPLES} over {MIN_SPAN_HOURS} hours)."
            ),
            Self::Growing(g) | Self::Leaking(g) => {
                let verb = if matches!(self, Self::Leaking(_)) {
                    "leaks"
                } else {
                    "grows"
                };
                let who = match (&g.driver, &g.version) {
                    (Some(d), Some(v)) => format!(" ({d} {v})"),
                    (Some(d), None) => format!(" ({d})"),
                    _ => String::new(),
                };
                let rate = GrowthRate::of(Some(g.bytes_per_hour), None)
                    .map_or_else(String::new, |r| format!(" at {}", r.short()));
                let exhaustion = g.hours_to_exhaustion.map_or_else(String::new, |h| {
                    format!("; the pool runs out in about {h:.0} h")
                });
                format!(
                    "{host}: `{}` {verb} in the {} pool{rate}{who}{exhaustion}.",
                    g.tag,
                    g.pool.name()
                )
            }
        }
    }
}

/// When a host's state changes: what an alert says. Returned by
/// [`super::Fleet::ingest`] for the sample that changed it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StateChange {
    #[schema(value_type = String)]
    pub host: HostName,
    pub previous: StateKind,
    pub state: StateKind,
    /// The growing tag, driver, version and rate (for `growing` and `leaking`).
    pub growth: Option<TagGrowth>,
    /// The sentence that says it.
    pub headline: String,
    /// The time of the sample that changed it (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String)]
    pub at: OffsetDateTime,
}

/// Thresholds of the states.
#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    /// Steady growth at or above this is `leaking`.
    pub leak_bytes_per_hour: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            leak_bytes_per_hour: 1024.0 * 1024.0,
        }
    }
}

/// Fewer samples than this, or a shorter span, and a host is `collecting`.
pub const MIN_SAMPLES: usize = 3;
pub const MIN_SPAN_HOURS: f64 = 1.0;
/// Growth below this (per hour) is noise for a host's state.
const MIN_GROWTH_BYTES_PER_HOUR: f64 = 16.0 * 1024.0;
/// The attribution's steadiness (r² × the share of rising intervals) a growth needs to count.
const MIN_STEADINESS: f64 = 0.6;

/// Reads the host's state from the attribution answer over its window. The growing tag is the
/// best-ranked finding that grows steadily; its driver is the answer's when the answer is
/// about that tag, else the finding's first candidate.
pub fn assess(
    analysis: &Analysis,
    samples: usize,
    span_hours: f64,
    drivers: Option<&[LoadedDriver]>,
    thresholds: Thresholds,
) -> HostState {
    if samples < MIN_SAMPLES || span_hours < MIN_SPAN_HOURS {
        return HostState::Collecting;
    }
    let Some((finding, rate)) = analysis.findings.iter().find_map(|f| {
        let g = f.growth.as_ref()?;
        let rate = g.bytes_per_hour?;
        (rate >= MIN_GROWTH_BYTES_PER_HOUR && g.steadiness >= MIN_STEADINESS && g.delta_bytes > 0)
            .then_some((f, rate))
    }) else {
        return HostState::Healthy;
    };
    let driver = driver_of(analysis, finding);
    let version = driver
        .as_deref()
        .and_then(|d| super::timeline::version_in(drivers.unwrap_or(&[]), d));
    let growth = TagGrowth {
        tag: finding.tag,
        pool: finding.pool,
        driver,
        version,
        bytes_per_hour: rate,
        bytes: finding.bytes,
        hours_to_exhaustion: hours_to_exhaustion(analysis, finding.pool, rate),
    };
    if rate >= thresholds.leak_bytes_per_hour {
        HostState::Leaking(growth)
    } else {
        HostState::Growing(growth)
    }
}

fn driver_of(analysis: &Analysis, finding: &Finding) -> Option<String> {
    if analysis.answer.tag == Some(finding.tag)
        && let Some(driver) = &analysis.answer.driver
    {
        return Some(driver.clone());
    }
    finding.candidates.first().map(|c| c.driver.clone())
}

/// Hours until the pool reaches its limit at `rate`, where the snapshot printed the limit
/// (the commit limit bounds the paged pool; nothing printed bounds the nonpaged pool).
fn hours_to_exhaustion(analysis: &Analysis, pool: PoolKind, rate: f64) -> Option<f64> {
    let m = &analysis.machine;
    let (limit, used) = match pool {
        PoolKind::Paged => (m.commit_limit_bytes?, m.commit_bytes?),
        _ => return None,
    };
    (rate > 0.0 && limit > used).then(|| (limit - used) as f64 / rate)
}
