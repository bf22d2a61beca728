//! Across hosts: for a tag that grows on several hosts, the driver and version every one of
//! them runs and none of the flat hosts does.

use rustc_hash::FxHashMap as HashMap;
use serde::Serialize;

use super::read::HostSummary;
use super::state::StateKind;
use super::timeline::DriverVersion;
use super::{Fleet, FleetError};
use crate::snapshot::PoolKind;
use crate::tag::PoolTag;

/// A driver version that the hosts where a tag grows share and the flat hosts lack.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Correlation {
    #[schema(value_type = String)]
    pub tag: PoolTag,
    #[schema(value_type = String)]
    pub pool: PoolKind,
    pub driver: String,
    /// The version every growing host runs (`None`: they all list it without a version).
    pub version: Option<String>,
    /// Hosts where the tag grows (all run this version).
    pub hosts_growing: Vec<String>,
    /// Hosts where it does not grow (none runs this version).
    pub hosts_flat: Vec<String>,
    /// The versions the flat hosts run, where they run the driver at all.
    pub flat_versions: Vec<String>,
    /// Whether the attribution names this driver for the tag on the growing hosts.
    pub attributed: bool,
    /// `` `LkaL` grows on all 3 hosts that run dkfilter.sys 12.0.1.2 and on none of the 5
    /// that run 12.2.0.5 ``.
    pub sentence: String,
}

/// The fleet at a glance.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FleetOverview {
    pub correlations: Vec<Correlation>,
    /// Every host, worst first.
    pub hosts: Vec<HostSummary>,
    /// Hosts per state.
    pub counts: std::collections::BTreeMap<String, u64>,
}

/// Growing hosts a tag needs before the hosts are compared ("several").
pub const MIN_GROWING_HOSTS: usize = 2;
/// Correlations listed per tag.
const PER_TAG: usize = 3;

/// The correlations over hosts and their newest driver lists (hosts without a list are left
/// out of the comparison: nothing can be said of what they run).
pub fn correlate(
    hosts: &[HostSummary],
    lists: &HashMap<String, Vec<DriverVersion>>,
) -> Vec<Correlation> {
    let mut by_tag: Vec<((PoolTag, PoolKind), Vec<&HostSummary>)> = Vec::new();
    for h in hosts {
        if let Some(g) = &h.growth {
            match by_tag.iter_mut().find(|(k, _)| *k == (g.tag, g.pool)) {
                Some((_, list)) => list.push(h),
                None => by_tag.push(((g.tag, g.pool), vec![h])),
            }
        }
    }
    let mut out = Vec::new();
    for ((tag, pool), growing) in by_tag {
        let growing: Vec<&HostSummary> = growing
            .into_iter()
            .filter(|h| lists.contains_key(h.name.as_str()))
            .collect();
        if growing.len() < MIN_GROWING_HOSTS {
            continue;
        }
        // Flat: assessed hosts where this tag does not grow.
        let flat: Vec<&HostSummary> = hosts
            .iter()
            .filter(|h| {
                matches!(
                    h.state,
                    StateKind::Healthy | StateKind::Growing | StateKind::Leaking
                ) && h
                    .growth
                    .as_ref()
                    .is_none_or(|g| (g.tag, g.pool) != (tag, pool))
                    && lists.contains_key(h.name.as_str())
            })
            .collect();
        let list = |h: &HostSummary| &lists[h.name.as_str()];
        let shared: Vec<&DriverVersion> = list(growing[0])
            .iter()
            .filter(|d| growing[1..].iter().all(|h| list(h).contains(d)))
            .filter(|d| flat.iter().all(|h| !list(h).contains(d)))
            .collect();
        let attributed_driver = |d: &DriverVersion| {
            growing.iter().any(|h| {
                h.growth
                    .as_ref()
                    .and_then(|g| g.driver.as_deref())
                    .is_some_and(|name| name.eq_ignore_ascii_case(&d.0))
            })
        };
        let mut found: Vec<Correlation> = shared
            .into_iter()
            .map(|d| {
                let mut flat_versions: Vec<String> = flat
                    .iter()
                    .filter_map(|h| list(h).iter().find(|x| x.0 == d.0))
                    .map(|x| x.1.clone().unwrap_or_else(|| "version unknown".into()))
                    .collect();
                flat_versions.sort();
                flat_versions.dedup();
                let running_flat = flat
                    .iter()
                    .filter(|h| list(h).iter().any(|x| x.0 == d.0))
                    .count();
                let version = d.1.clone().unwrap_or_else(|| "(version unknown)".into());
                let flat_part = if running_flat > 0 {
                    format!(
                        " and on none of the {running_flat} that run {}",
                        flat_versions.join(" or ")
                    )
                } else {
                    format!(" and on none of the {} hosts without it", flat.len())
                };
                Correlation {
                    tag,
                    pool,
                    driver: d.0.clone(),
                    version: d.1.clone(),
                    hosts_growing: growing.iter().map(|h| h.name.to_string()).collect(),
                    hosts_flat: flat.iter().map(|h| h.name.to_string()).collect(),
                    flat_versions,
                    attributed: attributed_driver(d),
                    sentence: format!(
                        "`{tag}` grows on all {} hosts that run {} {version}{flat_part}.",
                        growing.len(),
                        d.0
                    ),
                }
            })
            .collect();
        // The attributed driver first; then drivers the flat hosts run in another version
        // (a version difference says more than a driver only some hosts have).
        found.sort_by_key(|c| (!c.attributed, c.flat_versions.is_empty(), c.driver.clone()));
        found.truncate(PER_TAG);
        out.extend(found);
    }
    out
}

impl Fleet {
    /// The correlations and the hosts by severity.
    pub async fn overview(&self) -> Result<FleetOverview, FleetError> {
        let hosts = self.hosts().await?;
        let lists = self.latest_driver_lists().await?;
        let mut counts = std::collections::BTreeMap::new();
        for kind in StateKind::ALL {
            counts.insert(kind.as_str().to_owned(), 0);
        }
        for h in &hosts {
            *counts.entry(h.state.as_str().to_owned()).or_default() += 1;
        }
        Ok(FleetOverview {
            correlations: correlate(&hosts, &lists),
            hosts,
            counts,
        })
    }
}
