//! A host's driver lists over time: what changed ("dkfilter.sys 12.0.1.2 → 12.2.0.5"), and
//! whether the growth before a change stopped after it.

use serde::Serialize;
use time::OffsetDateTime;

use crate::attribution::linear_fit;
use crate::snapshot::{LoadedDriver, PoolKind};
use crate::tag::PoolTag;
use crate::version::{Version, compare_version_texts};

/// One driver as lists are compared: its file name (lower case) and version.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Deserialize, Serialize)]
pub struct DriverVersion(pub String, pub Option<String>);

/// The name a driver goes by in comparisons: the image file name, else the module name as a
/// `.sys`, lower case (Windows file names are case-insensitive).
pub fn driver_key(d: &LoadedDriver) -> String {
    match &d.file_name {
        Some(f) => f.to_ascii_lowercase(),
        None if d.module_name.contains('.') => d.module_name.to_ascii_lowercase(),
        None => format!("{}.sys", d.module_name.to_ascii_lowercase()),
    }
}

/// The list as compared: sorted, one entry per driver.
pub fn summarize(drivers: &[LoadedDriver]) -> Vec<DriverVersion> {
    let mut list: Vec<DriverVersion> = drivers
        .iter()
        .map(|d| {
            DriverVersion(
                driver_key(d),
                d.version.as_ref().map(|v| v.as_str().to_owned()),
            )
        })
        .collect();
    list.sort();
    list.dedup_by(|a, b| a.0 == b.0);
    list
}

/// The version of `driver` (a file name as the attribution names it) in a list.
pub fn version_in(drivers: &[LoadedDriver], driver: &str) -> Option<String> {
    let wanted = driver.to_ascii_lowercase();
    drivers
        .iter()
        .find(|d| driver_key(d) == wanted)
        .and_then(|d| d.version.as_ref().map(Version::as_str).map(str::to_owned))
}

/// The version of `driver` in a summarized list.
pub fn version_in_summary(list: &[DriverVersion], driver: &str) -> Option<Option<String>> {
    let wanted = driver.to_ascii_lowercase();
    list.iter().find(|d| d.0 == wanted).map(|d| d.1.clone())
}

/// One driver's change between two lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DriverChange {
    pub driver: String,
    /// `None`: not in the list before (added), or listed without a version.
    pub from: Option<String>,
    /// `None`: not in the list after (removed), or listed without a version.
    pub to: Option<String>,
    pub kind: DriverChangeKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DriverChangeKind {
    Updated,
    Downgraded,
    Added,
    Removed,
    /// The version text changed but does not compare as newer or older.
    Changed,
}

impl DriverChange {
    /// `dkfilter.sys 12.0.1.2 → 12.2.0.5`, `dkfilter.sys added (12.0.1.2)`...
    pub fn sentence(&self) -> String {
        let v = |v: &Option<String>| v.clone().unwrap_or_else(|| "version unknown".into());
        match self.kind {
            DriverChangeKind::Added => format!("{} added ({})", self.driver, v(&self.to)),
            DriverChangeKind::Removed => format!("{} removed (was {})", self.driver, v(&self.from)),
            _ => format!("{} {} → {}", self.driver, v(&self.from), v(&self.to)),
        }
    }
}

/// What changed from `before` to `after` (both summarized, so sorted by name).
pub fn diff(before: &[DriverVersion], after: &[DriverVersion]) -> Vec<DriverChange> {
    let mut changes = Vec::new();
    for d in after {
        match before.iter().find(|b| b.0 == d.0) {
            None => changes.push(DriverChange {
                driver: d.0.clone(),
                from: None,
                to: d.1.clone(),
                kind: DriverChangeKind::Added,
            }),
            Some(b) if b.1 != d.1 => {
                let kind = match (&b.1, &d.1) {
                    (Some(x), Some(y)) => match compare_version_texts(x, y) {
                        std::cmp::Ordering::Less => DriverChangeKind::Updated,
                        std::cmp::Ordering::Greater => DriverChangeKind::Downgraded,
                        std::cmp::Ordering::Equal => DriverChangeKind::Changed,
                    },
                    _ => DriverChangeKind::Changed,
                };
                changes.push(DriverChange {
                    driver: d.0.clone(),
                    from: b.1.clone(),
                    to: d.1.clone(),
                    kind,
                });
            }
            Some(_) => {}
        }
    }
    for b in before {
        if !after.iter().any(|d| d.0 == b.0) {
            changes.push(DriverChange {
                driver: b.0.clone(),
                from: b.1.clone(),
                to: None,
                kind: DriverChangeKind::Removed,
            });
        }
    }
    changes
}

/// A tag whose steady growth before a driver change stopped after it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct GrowthStopped {
    #[schema(value_type = String)]
    pub tag: PoolTag,
    #[schema(value_type = String)]
    pub pool: PoolKind,
    pub bytes_per_hour_before: f64,
    pub bytes_per_hour_after: f64,
}

/// An event on a host's timeline: its driver list changed.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TimelineEvent {
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String)]
    pub at: OffsetDateTime,
    pub changes: Vec<DriverChange>,
    /// Set when a tag grew steadily before the change and is flat after it.
    pub growth_stopped: Option<GrowthStopped>,
    /// `dkfilter.sys 12.0.1.2 → 12.2.0.5; growth of `LkaL` stopped after it`.
    pub text: String,
}

/// One tag's points: (seconds since the epoch, bytes).
pub type Points = [(i64, u64)];

/// Growth at or above this before a change, and below a tenth of it after, is growth that
/// stopped (bytes per hour).
const STOPPED_BEFORE_MIN: f64 = 16.0 * 1024.0;
/// Points needed on each side of the change to judge it.
const STOPPED_POINTS: usize = 3;

/// Whether the tag grew before `at` and stopped after: slopes fitted on each side.
pub fn stopped_after(points: &Points, at: i64) -> Option<(f64, f64)> {
    let side = |after: bool| -> Option<f64> {
        let (xs, ys): (Vec<f64>, Vec<f64>) = points
            .iter()
            .filter(|(t, _)| (*t >= at) == after)
            .map(|&(t, b)| (t as f64 / 3600.0, b as f64))
            .unzip();
        if xs.len() < STOPPED_POINTS {
            return None;
        }
        linear_fit(&xs, &ys).map(|fit| fit.slope)
    };
    let (before, after) = (side(false)?, side(true)?);
    (before >= STOPPED_BEFORE_MIN && after < before / 10.0).then_some((before, after))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[(&str, Option<&str>)]) -> Vec<DriverVersion> {
        let mut l: Vec<DriverVersion> = entries
            .iter()
            .map(|(n, v)| DriverVersion(n.to_string(), v.map(str::to_owned)))
            .collect();
        l.sort();
        l
    }

    #[test]
    fn lists_are_compared_by_driver_and_version() {
        let before = list(&[("dkfilter.sys", Some("12.0.1.2")), ("old.sys", None)]);
        let after = list(&[("dkfilter.sys", Some("12.2.0.5")), ("new.sys", Some("1.0"))]);
        let sentences: Vec<String> = diff(&before, &after)
            .iter()
            .map(DriverChange::sentence)
            .collect();
        assert_eq!(
            sentences,
            [
                "dkfilter.sys 12.0.1.2 → 12.2.0.5",
                "new.sys added (1.0)",
                "old.sys removed (was version unknown)"
            ]
        );
        assert_eq!(diff(&before, &before), []);
        let down = diff(&after, &before);
        assert_eq!(down[0].kind, DriverChangeKind::Downgraded);
    }

    #[test]
    fn growth_stops_only_when_it_grew_before_and_is_flat_after() {
        let hour = 3600;
        let grows_then_flat: Vec<(i64, u64)> = (0..10)
            .map(|i| {
                (
                    i * hour,
                    if i < 5 {
                        1_000_000 * i as u64
                    } else {
                        4_000_000
                    },
                )
            })
            .collect();
        let (before, after) = stopped_after(&grows_then_flat, 5 * hour).unwrap();
        assert!((before - 1_000_000.0).abs() < 1.0, "{before}");
        assert!(after.abs() < 1.0, "{after}");
        let always_grows: Vec<(i64, u64)> =
            (0..10).map(|i| (i * hour, 1_000_000 * i as u64)).collect();
        assert_eq!(stopped_after(&always_grows, 5 * hour), None);
        let always_flat: Vec<(i64, u64)> = (0..10).map(|i| (i * hour, 5)).collect();
        assert_eq!(stopped_after(&always_flat, 5 * hour), None);
        // Too few points after the change to say.
        assert_eq!(stopped_after(&grows_then_flat[..6], 5 * hour), None);
    }
}
