//! Reading the fleet back: hosts with their states, one host's answer, series and timeline.

use rustc_hash::FxHashMap as HashMap;
use serde::Serialize;
use sqlx::any::AnyRow;
use time::OffsetDateTime;

use super::ingest::{pool_code, pool_of, tag_code, tag_of};
use super::state::{StateKind, TagGrowth};
use super::store::get;
use super::timeline::{DriverVersion, GrowthStopped, TimelineEvent, diff, stopped_after};
use super::{Fleet, FleetError, HostName};
use crate::snapshot::PoolKind;
use crate::tag::PoolTag;

/// A host at a glance.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HostSummary {
    #[schema(value_type = String)]
    pub name: HostName,
    pub state: StateKind,
    pub growth: Option<TagGrowth>,
    pub headline: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String)]
    pub first_seen: OffsetDateTime,
    /// The newest sample's time.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String)]
    pub last_seen: OffsetDateTime,
    /// Raw samples stored (within the retention).
    pub samples: u64,
}

/// One tag's bytes over time.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TagSeries {
    #[schema(value_type = String)]
    pub tag: PoolTag,
    #[schema(value_type = String)]
    pub pool: PoolKind,
    /// Bytes at each of [`Series::times`]; `null` where the sample did not keep the tag.
    pub bytes: Vec<Option<u64>>,
}

/// A host's raw samples over time: pool totals and its top tags.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Series {
    /// RFC 3339 times of the samples, oldest first.
    pub times: Vec<String>,
    pub paged_bytes: Vec<u64>,
    pub nonpaged_bytes: Vec<u64>,
    /// The tags largest in the newest sample, and the growing one.
    pub tags: Vec<TagSeries>,
}

/// One host: its state, the attribution's answer, its series and its timeline.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HostDetail {
    #[serde(flatten)]
    pub summary: HostSummary,
    /// The attribution answer over the host's window (as `/api/v1/analyze` gives it).
    #[schema(value_type = Option<Object>)]
    pub answer: Option<serde_json::Value>,
    /// The host's driver list changes, oldest first.
    pub timeline: Vec<TimelineEvent>,
    pub series: Series,
}

/// Tags shown in a host's series.
const SERIES_TAGS: usize = 5;
/// Hours each side of a driver change that growth is compared over.
const CHANGE_WINDOW_HOURS: i64 = 48;

fn time_of(seconds: i64) -> Result<OffsetDateTime, FleetError> {
    OffsetDateTime::from_unix_timestamp(seconds).map_err(|e| FleetError::Encoding(e.to_string()))
}

const SUMMARY_COLUMNS: &str = "SELECT h.name, h.state, h.tag, h.pool, h.driver, h.version, h.bytes_per_hour, \
     h.hours_to_exhaustion, h.headline, h.first_seen, h.last_seen, \
     (SELECT COUNT(*) FROM samples s WHERE s.host_id = h.id), h.id FROM hosts h";

fn summary(row: &AnyRow) -> Result<HostSummary, FleetError> {
    let name = HostName::parse(&get::<String>(row, 0)?)?;
    let state = StateKind::parse(&get::<String>(row, 1)?).unwrap_or(StateKind::Collecting);
    let growth = match (get::<Option<i64>>(row, 2)?, get::<Option<i64>>(row, 3)?) {
        (Some(tag), Some(pool)) if matches!(state, StateKind::Growing | StateKind::Leaking) => {
            Some(TagGrowth {
                tag: tag_of(tag),
                pool: pool_of(pool),
                driver: get(row, 4)?,
                version: get(row, 5)?,
                bytes_per_hour: get::<Option<f64>>(row, 6)?.unwrap_or(0.0),
                bytes: 0,
                hours_to_exhaustion: get(row, 7)?,
            })
        }
        _ => None,
    };
    Ok(HostSummary {
        name,
        state,
        growth,
        headline: get(row, 8)?,
        first_seen: time_of(get(row, 9)?)?,
        last_seen: time_of(get(row, 10)?)?,
        samples: get::<i64>(row, 11)?.max(0) as u64,
    })
}

impl Fleet {
    /// Every host, worst first (then by name).
    pub async fn hosts(&self) -> Result<Vec<HostSummary>, FleetError> {
        let db = self.database().await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(SUMMARY_COLUMNS))
            .fetch_all(&db.pool)
            .await?;
        let mut hosts: Vec<HostSummary> = rows.iter().map(summary).collect::<Result<_, _>>()?;
        hosts.sort_by(|a, b| {
            b.state
                .severity()
                .cmp(&a.state.severity())
                .then_with(|| {
                    let rate =
                        |h: &HostSummary| h.growth.as_ref().map_or(0.0, |g| g.bytes_per_hour);
                    rate(b).total_cmp(&rate(a))
                })
                .then_with(|| a.name.cmp(&b.name))
        });
        Ok(hosts)
    }

    /// Hosts by state, for `/metrics`.
    pub async fn hosts_by_state(&self) -> Result<Vec<(StateKind, u64)>, FleetError> {
        let db = self.database().await?;
        let rows = sqlx::query("SELECT state, COUNT(*) FROM hosts GROUP BY state")
            .fetch_all(&db.pool)
            .await?;
        let mut counts: HashMap<StateKind, u64> = HashMap::default();
        for row in &rows {
            if let Some(kind) = StateKind::parse(&get::<String>(row, 0)?) {
                counts.insert(kind, get::<i64>(row, 1)?.max(0) as u64);
            }
        }
        Ok(StateKind::ALL
            .iter()
            .map(|k| (*k, counts.get(k).copied().unwrap_or(0)))
            .collect())
    }

    /// Each host's pool totals (paged and nonpaged bytes) over its last day, oldest first: the
    /// sparklines of `/hosts`.
    pub async fn recent_totals(&self) -> Result<HashMap<String, Vec<u64>>, FleetError> {
        let db = self.database().await?;
        let rows = sqlx::query(
            "SELECT h.name, s.paged_bytes + s.nonpaged_bytes FROM samples s JOIN hosts h ON h.id = s.host_id \
             WHERE s.taken_at >= h.last_seen - 86400 ORDER BY h.name, s.taken_at, s.id",
        )
        .fetch_all(&db.pool)
        .await?;
        let mut totals: HashMap<String, Vec<u64>> = HashMap::default();
        for row in &rows {
            totals
                .entry(get(row, 0)?)
                .or_default()
                .push(get::<i64>(row, 1)?.max(0) as u64);
        }
        Ok(totals)
    }

    /// The newest driver list of every host that sent one.
    pub async fn latest_driver_lists(
        &self,
    ) -> Result<HashMap<String, Vec<DriverVersion>>, FleetError> {
        let db = self.database().await?;
        let rows = sqlx::query(
            "SELECT h.name, d.drivers FROM driver_lists d JOIN hosts h ON h.id = d.host_id \
             WHERE d.since = (SELECT MAX(since) FROM driver_lists WHERE host_id = d.host_id)",
        )
        .fetch_all(&db.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let list = serde_json::from_str(&get::<String>(r, 1)?)
                    .map_err(|e| FleetError::Encoding(e.to_string()))?;
                Ok((get::<String>(r, 0)?, list))
            })
            .collect()
    }

    /// One host in full.
    pub async fn host(&self, name: &HostName) -> Result<HostDetail, FleetError> {
        let db = self.database().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SUMMARY_COLUMNS} WHERE h.name = $1"
        )))
        .bind(name.as_str().to_owned())
        .fetch_optional(&db.pool)
        .await?
        .ok_or_else(|| FleetError::UnknownHost(name.to_string()))?;
        let mut summary = summary(&row)?;
        let host_id: i64 = get(&row, 12)?;
        let answer_row = sqlx::query("SELECT answer FROM hosts WHERE id = $1")
            .bind(host_id)
            .fetch_one(&db.pool)
            .await?;
        let answer = get::<Option<String>>(&answer_row, 0)?
            .map(|a| serde_json::from_str(&a))
            .transpose()
            .map_err(|e| FleetError::Encoding(e.to_string()))?;
        let series = self.series(host_id, summary.growth.as_ref()).await?;
        if let Some(g) = summary.growth.as_mut()
            && let Some(t) = series
                .tags
                .iter()
                .find(|t| t.tag == g.tag && t.pool == g.pool)
        {
            g.bytes = t.bytes.iter().rev().find_map(|b| *b).unwrap_or(0);
        }
        Ok(HostDetail {
            summary,
            answer,
            timeline: self.timeline(host_id).await?,
            series,
        })
    }

    async fn series(&self, host_id: i64, growth: Option<&TagGrowth>) -> Result<Series, FleetError> {
        let db = self.database().await?;
        let samples = sqlx::query(
            "SELECT id, taken_at, paged_bytes, nonpaged_bytes FROM samples WHERE host_id = $1 ORDER BY taken_at, id",
        )
        .bind(host_id)
        .fetch_all(&db.pool)
        .await?;
        let mut series = Series::default();
        let mut position: HashMap<i64, usize> = HashMap::default();
        for (i, row) in samples.iter().enumerate() {
            position.insert(get(row, 0)?, i);
            let at = time_of(get(row, 1)?)?;
            series.times.push(
                at.format(&time::format_description::well_known::Rfc3339)
                    .map_err(|e| FleetError::Encoding(e.to_string()))?,
            );
            series.paged_bytes.push(get::<i64>(row, 2)?.max(0) as u64);
            series
                .nonpaged_bytes
                .push(get::<i64>(row, 3)?.max(0) as u64);
        }
        let Some(newest) = samples.last() else {
            return Ok(series);
        };
        let top = sqlx::query(
            "SELECT tag, pool FROM sample_tags WHERE sample_id = $1 ORDER BY bytes DESC, tag, pool LIMIT 5",
        )
        .bind(get::<i64>(newest, 0)?)
        .fetch_all(&db.pool)
        .await?;
        let mut wanted: Vec<(i64, i64)> = Vec::with_capacity(SERIES_TAGS + 1);
        if let Some(g) = growth {
            wanted.push((tag_code(g.tag), pool_code(g.pool)));
        }
        for row in &top {
            let key = (get(row, 0)?, get(row, 1)?);
            if !wanted.contains(&key) && wanted.len() <= SERIES_TAGS {
                wanted.push(key);
            }
        }
        for (tag, pool) in wanted {
            let rows = sqlx::query(
                "SELECT t.sample_id, t.bytes FROM sample_tags t JOIN samples s ON s.id = t.sample_id \
                 WHERE s.host_id = $1 AND t.tag = $2 AND t.pool = $3",
            )
            .bind(host_id)
            .bind(tag)
            .bind(pool)
            .fetch_all(&db.pool)
            .await?;
            let mut bytes = vec![None; series.times.len()];
            for row in &rows {
                if let Some(&i) = position.get(&get::<i64>(row, 0)?) {
                    bytes[i] = Some(get::<i64>(row, 1)?.max(0) as u64);
                }
            }
            series.tags.push(TagSeries {
                tag: tag_of(tag),
                pool: pool_of(pool),
                bytes,
            });
        }
        Ok(series)
    }

    /// The host's driver list changes, each with the growth it stopped, if any.
    async fn timeline(&self, host_id: i64) -> Result<Vec<TimelineEvent>, FleetError> {
        let db = self.database().await?;
        let lists = sqlx::query(
            "SELECT since, drivers FROM driver_lists WHERE host_id = $1 ORDER BY since",
        )
        .bind(host_id)
        .fetch_all(&db.pool)
        .await?;
        let mut events = Vec::new();
        let mut before: Option<Vec<DriverVersion>> = None;
        for row in &lists {
            let since: i64 = get(row, 0)?;
            let list: Vec<DriverVersion> = serde_json::from_str(&get::<String>(row, 1)?)
                .map_err(|e| FleetError::Encoding(e.to_string()))?;
            if let Some(previous) = before.replace(list.clone()) {
                let changes = diff(&previous, &list);
                if changes.is_empty() {
                    continue;
                }
                let growth_stopped = self.growth_stopped(host_id, since).await?;
                let mut text = changes
                    .iter()
                    .map(|c| c.sentence())
                    .collect::<Vec<_>>()
                    .join("; ");
                if let Some(g) = &growth_stopped {
                    text.push_str(&format!(
                        "; the growth of `{}` ({}) stopped after it",
                        g.tag,
                        g.pool.name()
                    ));
                }
                events.push(TimelineEvent {
                    at: time_of(since)?,
                    changes,
                    growth_stopped,
                    text,
                });
            }
        }
        Ok(events)
    }

    /// The tag that grew fastest before `at` and is flat after it, if one did.
    async fn growth_stopped(
        &self,
        host_id: i64,
        at: i64,
    ) -> Result<Option<GrowthStopped>, FleetError> {
        let db = self.database().await?;
        let rows = sqlx::query(
            "SELECT s.taken_at, t.tag, t.pool, t.bytes FROM samples s JOIN sample_tags t ON t.sample_id = s.id \
             WHERE s.host_id = $1 AND s.taken_at >= $2 AND s.taken_at <= $3 ORDER BY s.taken_at",
        )
        .bind(host_id)
        .bind(at - CHANGE_WINDOW_HOURS * 3600)
        .bind(at + CHANGE_WINDOW_HOURS * 3600)
        .fetch_all(&db.pool)
        .await?;
        let mut points: HashMap<(i64, i64), Vec<(i64, u64)>> = HashMap::default();
        for row in &rows {
            points
                .entry((get(row, 1)?, get(row, 2)?))
                .or_default()
                .push((get(row, 0)?, get::<i64>(row, 3)?.max(0) as u64));
        }
        let mut best: Option<GrowthStopped> = None;
        for ((tag, pool), series) in &points {
            if let Some((before, after)) = stopped_after(series, at)
                && best
                    .as_ref()
                    .is_none_or(|b| before > b.bytes_per_hour_before)
            {
                best = Some(GrowthStopped {
                    tag: tag_of(*tag),
                    pool: pool_of(*pool),
                    bytes_per_hour_before: before,
                    bytes_per_hour_after: after,
                });
            }
        }
        Ok(best)
    }
}
