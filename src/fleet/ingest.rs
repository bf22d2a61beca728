//! Storing a sample, reading the host's state again, and retention.

use std::sync::Arc;

use rustc_hash::FxHashMap as HashMap;
use serde::Serialize;
use sqlx::{Any, Transaction};
use time::OffsetDateTime;

use super::state::{HostState, StateChange, StateKind, assess};
use super::store::get;
use super::timeline::{DriverVersion, summarize};
use super::{Fleet, FleetError, HostName, KEPT_TAGS, WINDOW_HOURS};
use crate::attribution::{AnalysisInput, AnalyzeOptions, KnowledgeView, analyze};
use crate::snapshot::{LoadedDriver, PoolKind, PoolUsage, Snapshot};
use crate::tag::PoolTag;
use crate::vendor::VendorDirectory;

/// One sample as sent: a snapshot at a time, with the host's driver list when sent.
#[derive(Debug, Clone)]
pub struct NewSample {
    pub taken_at: OffsetDateTime,
    pub received_at: OffsetDateTime,
    pub snapshot: Snapshot,
    pub drivers: Option<Vec<LoadedDriver>>,
}

impl NewSample {
    /// The sample in what the analysis read: its newest snapshot (a log of several frames
    /// counts as its latest), and the driver list when one was sent.
    pub fn from_input(
        input: AnalysisInput,
        taken_at: OffsetDateTime,
        received_at: OffsetDateTime,
    ) -> Result<Self, FleetError> {
        let AnalysisInput {
            mut snapshots,
            drivers,
            ..
        } = input;
        let snapshot = snapshots
            .pop()
            .filter(|s| !s.rows.is_empty())
            .ok_or(FleetError::NoTags)?;
        Ok(Self {
            taken_at,
            received_at,
            snapshot,
            drivers,
        })
    }
}

/// What an ingest stored, and the host's state after it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Ingested {
    #[schema(value_type = String)]
    pub host: HostName,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String)]
    pub taken_at: OffsetDateTime,
    /// Tags stored for this sample (the largest, and every one that grew).
    pub tags_kept: usize,
    /// Tags the snapshot held.
    pub tags_total: usize,
    pub state: StateKind,
    pub headline: String,
    /// Set when this sample changed the host's state: what an alert says.
    pub change: Option<StateChange>,
}

/// What a retention pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RetentionOutcome {
    pub samples_removed: u64,
    pub hourly_rows_removed: u64,
}

pub(super) fn pool_code(pool: PoolKind) -> i64 {
    match pool {
        PoolKind::Paged => 0,
        PoolKind::NonPaged => 1,
        PoolKind::Session => 2,
        PoolKind::Unknown => 3,
    }
}

pub(super) fn pool_of(code: i64) -> PoolKind {
    match code {
        0 => PoolKind::Paged,
        1 => PoolKind::NonPaged,
        2 => PoolKind::Session,
        _ => PoolKind::Unknown,
    }
}

pub(super) fn tag_code(tag: PoolTag) -> i64 {
    i64::from(tag.to_u32_le())
}

pub(super) fn tag_of(code: i64) -> PoolTag {
    PoolTag::from_u32_le(code as u32)
}

/// The rows kept of a snapshot: one per (tag, pool), the [`KEPT_TAGS`] largest, and every one
/// that grew since `previous` (the host's sample before, by time).
fn kept_rows(
    rows: &[PoolUsage],
    previous: &HashMap<(i64, i64), i64>,
) -> Vec<(i64, i64, i64, Option<i64>)> {
    let mut merged: HashMap<(i64, i64), (i64, Option<i64>)> = HashMap::default();
    for r in rows {
        let bytes = i64::try_from(r.bytes).unwrap_or(i64::MAX);
        let entry = merged
            .entry((tag_code(r.tag), pool_code(r.pool)))
            .or_insert((0, None));
        entry.0 = entry.0.saturating_add(bytes);
        if let Some(o) = r.outstanding {
            entry.1 = Some(entry.1.unwrap_or(0).saturating_add(o as i64));
        }
    }
    let mut all: Vec<(i64, i64, i64, Option<i64>)> = merged
        .into_iter()
        .map(|((t, p), (b, o))| (t, p, b, o))
        .collect();
    // Largest first; equal sizes by tag, so the cut is the same whatever the input order.
    all.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)).then(a.1.cmp(&b.1)));
    let mut kept: Vec<_> = Vec::with_capacity(KEPT_TAGS + 16);
    for (i, row) in all.into_iter().enumerate() {
        let grew = previous
            .get(&(row.0, row.1))
            .is_some_and(|&before| row.2 > before);
        if i < KEPT_TAGS || grew {
            kept.push(row);
        }
    }
    kept
}

impl Fleet {
    /// Stores one sample of `host` (in one transaction: all of it or nothing), then reads the
    /// host's state again over its window with the attribution pipeline.
    pub async fn ingest(
        &self,
        host: &HostName,
        sample: NewSample,
        kb: Arc<KnowledgeView>,
        vendors: Arc<VendorDirectory>,
        options: AnalyzeOptions,
    ) -> Result<Ingested, FleetError> {
        let db = self.database().await?;
        let taken = sample.taken_at.unix_timestamp();
        let mut tx = db.pool.begin().await?;
        let host_id = ensure_host(&mut tx, host, taken).await?;
        let previous = previous_tags(&mut tx, host_id, taken).await?;
        let kept = kept_rows(&sample.snapshot.rows, &previous);
        let sum = |pool: PoolKind| -> i64 {
            sample
                .snapshot
                .rows
                .iter()
                .filter(|r| r.pool == pool)
                .map(|r| r.bytes as i64)
                .fold(0i64, i64::saturating_add)
        };
        let tags_total = {
            let mut seen: Vec<(PoolTag, PoolKind)> = sample
                .snapshot
                .rows
                .iter()
                .map(|r| (r.tag, r.pool))
                .collect();
            seen.sort_by_key(|(t, p)| (t.to_u32_le(), pool_code(*p)));
            seen.dedup();
            seen.len()
        };
        let sample_id: i64 = get(
            &sqlx::query(
                "INSERT INTO samples (host_id, taken_at, received_at, paged_bytes, nonpaged_bytes, tags_total) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .bind(host_id)
            .bind(taken)
            .bind(sample.received_at.unix_timestamp())
            .bind(sum(PoolKind::Paged))
            .bind(sum(PoolKind::NonPaged))
            .bind(tags_total as i64)
            .fetch_one(&mut *tx)
            .await?,
            0,
        )?;
        insert_tags(&mut tx, sample_id, &kept).await?;
        if let Some(drivers) = &sample.drivers {
            store_driver_list(&mut tx, host_id, taken, drivers).await?;
        }
        sqlx::query(
            "UPDATE hosts SET last_seen = CASE WHEN last_seen < $2 THEN $2 ELSE last_seen END WHERE id = $1",
        )
        .bind(host_id)
        .bind(taken)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;

        let (state, answer, at) = self.assess_host(host_id, kb, vendors, options).await?;
        let change = self
            .record_state(host, host_id, &state, &answer, at)
            .await?;
        Ok(Ingested {
            host: host.clone(),
            taken_at: sample.taken_at,
            tags_kept: kept.len(),
            tags_total,
            state: state.kind(),
            headline: state.headline(host),
            change,
        })
    }

    /// The attribution over the host's window (the day before its newest sample) and the
    /// state read from it; with the answer as JSON and the newest sample's time.
    async fn assess_host(
        &self,
        host_id: i64,
        kb: Arc<KnowledgeView>,
        vendors: Arc<VendorDirectory>,
        options: AnalyzeOptions,
    ) -> Result<(HostState, String, OffsetDateTime), FleetError> {
        let db = self.database().await?;
        let newest: i64 = get(
            &sqlx::query("SELECT last_seen FROM hosts WHERE id = $1")
                .bind(host_id)
                .fetch_one(&db.pool)
                .await?,
            0,
        )?;
        // A driver list that changed starts the window anew: growth under the old drivers
        // says nothing of the new ones (the timeline says whether it stopped after the change),
        // and a host read across the change would be called healthy while its answer still
        // quoted the old growth.
        let lists = sqlx::query(
            "SELECT since FROM driver_lists WHERE host_id = $1 ORDER BY since DESC LIMIT 2",
        )
        .bind(host_id)
        .fetch_all(&db.pool)
        .await?;
        let changed_at = match lists.as_slice() {
            [newest_list, _] => Some(get::<i64>(newest_list, 0)?),
            _ => None,
        };
        let since = (newest - WINDOW_HOURS * 3600).max(changed_at.unwrap_or(i64::MIN));
        let in_window = sqlx::query(
            "SELECT id FROM samples WHERE host_id = $1 AND taken_at >= $2 ORDER BY taken_at, id",
        )
        .bind(host_id)
        .bind(since)
        .fetch_all(&db.pool)
        .await?;
        let ids: Vec<i64> = in_window
            .iter()
            .map(|r| get(r, 0))
            .collect::<Result<_, _>>()?;
        let ids = spread(&ids, super::WINDOW_SAMPLES);
        // The ids are numbers from the database, written into the statement as numbers.
        let list = ids
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        // One row per sample, its kept tags joined.
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT s.id, s.taken_at, {JOINED_TAGS} \
             FROM samples s JOIN sample_tags t ON t.sample_id = s.id \
             WHERE s.id IN ({list}) GROUP BY s.id, s.taken_at ORDER BY s.taken_at, s.id"
        )))
        .fetch_all(&db.pool)
        .await?;
        let mut snapshots: Vec<Snapshot> = Vec::with_capacity(rows.len());
        for row in &rows {
            let at: i64 = get(row, 1)?;
            let packed: String = get(row, 2)?;
            snapshots.push(Snapshot {
                taken_at: OffsetDateTime::from_unix_timestamp(at).ok(),
                rows: unpack_tags(&packed)?,
                ..Snapshot::default()
            });
        }
        let drivers = self.latest_driver_list(host_id).await?;
        let thresholds = self.config.thresholds;
        let span_hours = match (snapshots.first(), snapshots.last()) {
            (Some(a), Some(b)) => match (a.taken_at, b.taken_at) {
                (Some(a), Some(b)) => (b - a).as_seconds_f64() / 3600.0,
                _ => 0.0,
            },
            _ => 0.0,
        };
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            span.in_scope(|| {
                let samples = snapshots.len();
                let input = AnalysisInput {
                    snapshots,
                    drivers,
                    ..AnalysisInput::default()
                };
                let analysis = analyze(&input, &kb, &vendors, &options);
                let state = assess(
                    &analysis,
                    samples,
                    span_hours,
                    input.drivers.as_deref(),
                    thresholds,
                );
                let answer = serde_json::to_string(&analysis.answer)
                    .map_err(|e| FleetError::Encoding(e.to_string()))?;
                let at = OffsetDateTime::from_unix_timestamp(newest)
                    .map_err(|e| FleetError::Encoding(e.to_string()))?;
                Ok((state, answer, at))
            })
        })
        .await
        .map_err(|e| FleetError::Analysis(e.to_string()))?
    }

    /// The host's newest driver list, parsed.
    async fn latest_driver_list(
        &self,
        host_id: i64,
    ) -> Result<Option<Vec<LoadedDriver>>, FleetError> {
        let db = self.database().await?;
        let row = sqlx::query(
            "SELECT list FROM driver_lists WHERE host_id = $1 ORDER BY since DESC LIMIT 1",
        )
        .bind(host_id)
        .fetch_optional(&db.pool)
        .await?;
        row.map(|row| {
            serde_json::from_str(&get::<String>(&row, 0)?)
                .map_err(|e| FleetError::Encoding(e.to_string()))
        })
        .transpose()
    }

    /// Saves the host's state; the change, when it is one.
    async fn record_state(
        &self,
        host: &HostName,
        host_id: i64,
        state: &HostState,
        answer: &str,
        at: OffsetDateTime,
    ) -> Result<Option<StateChange>, FleetError> {
        let db = self.database().await?;
        let before = sqlx::query("SELECT state, tag, pool FROM hosts WHERE id = $1")
            .bind(host_id)
            .fetch_one(&db.pool)
            .await?;
        let previous =
            StateKind::parse(&get::<String>(&before, 0)?).unwrap_or(StateKind::Collecting);
        let previous_tag: Option<(i64, i64)> =
            get::<Option<i64>>(&before, 1)?.zip(get::<Option<i64>>(&before, 2)?);
        let growth = state.growth();
        let tag = growth.map(|g| (tag_code(g.tag), pool_code(g.pool)));
        let headline = state.headline(host);
        sqlx::query(
            "UPDATE hosts SET state = $2, tag = $3, pool = $4, driver = $5, version = $6, \
             bytes_per_hour = $7, hours_to_exhaustion = $8, headline = $9, answer = $10 WHERE id = $1",
        )
        .bind(host_id)
        .bind(state.kind().as_str())
        .bind(tag.map(|t| t.0))
        .bind(tag.map(|t| t.1))
        .bind(growth.and_then(|g| g.driver.clone()))
        .bind(growth.and_then(|g| g.version.clone()))
        .bind(growth.map(|g| g.bytes_per_hour))
        .bind(growth.and_then(|g| g.hours_to_exhaustion))
        .bind(headline.clone())
        .bind(answer.to_owned())
        .execute(&db.pool)
        .await?;
        let changed = previous != state.kind() || (growth.is_some() && previous_tag != tag);
        Ok(changed.then(|| StateChange {
            host: host.clone(),
            previous,
            state: state.kind(),
            growth: growth.cloned(),
            headline,
            at,
        }))
    }

    /// Rolls raw samples older than the retention into hourly rows (max and mean per tag) and
    /// removes them; removes hourly rows older than a year. `now` is a parameter so that a
    /// test can run it at any time.
    pub async fn enforce_retention(
        &self,
        now: OffsetDateTime,
    ) -> Result<RetentionOutcome, FleetError> {
        let db = self.database().await?;
        let cutoff = now.unix_timestamp() - i64::from(self.config.retention_days) * 86_400;
        let hourly_cutoff = now.unix_timestamp() - super::HOURLY_RETENTION_DAYS * 86_400;
        let mut tx = db.pool.begin().await?;
        if db.backend == super::Backend::Postgres {
            // Several servers on one database each run this: one at a time, so that no two
            // roll the same samples up (which would count their bytes twice in the mean).
            sqlx::query("SELECT pg_advisory_xact_lock(29029)")
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "INSERT INTO hourly (host_id, hour, tag, pool, max_bytes, sum_bytes, samples) \
             SELECT s.host_id, (s.taken_at / 3600) * 3600, t.tag, t.pool, MAX(t.bytes), SUM(t.bytes), COUNT(*) \
             FROM samples s JOIN sample_tags t ON t.sample_id = s.id WHERE s.taken_at < $1 \
             GROUP BY s.host_id, (s.taken_at / 3600) * 3600, t.tag, t.pool \
             ON CONFLICT (host_id, hour, tag, pool) DO UPDATE SET \
             max_bytes = CASE WHEN excluded.max_bytes > hourly.max_bytes THEN excluded.max_bytes ELSE hourly.max_bytes END, \
             sum_bytes = hourly.sum_bytes + excluded.sum_bytes, samples = hourly.samples + excluded.samples",
        )
        .bind(cutoff)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM sample_tags WHERE sample_id IN (SELECT id FROM samples WHERE taken_at < $1)",
        )
        .bind(cutoff)
        .execute(&mut *tx)
        .await?;
        let samples_removed = sqlx::query("DELETE FROM samples WHERE taken_at < $1")
            .bind(cutoff)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let hourly_rows_removed = sqlx::query("DELETE FROM hourly WHERE hour < $1")
            .bind(hourly_cutoff)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(RetentionOutcome {
            samples_removed,
            hourly_rows_removed,
        })
    }
}

async fn ensure_host(
    tx: &mut Transaction<'static, Any>,
    host: &HostName,
    taken: i64,
) -> Result<i64, FleetError> {
    sqlx::query(
        "INSERT INTO hosts (name, first_seen, last_seen, state, headline) VALUES ($1, $2, $2, $3, $4) \
         ON CONFLICT (name) DO NOTHING",
    )
    .bind(host.as_str().to_owned())
    .bind(taken)
    .bind(StateKind::Collecting.as_str())
    .bind(HostState::Collecting.headline(host))
    .execute(&mut **tx)
    .await?;
    let row = sqlx::query("SELECT id FROM hosts WHERE name = $1")
        .bind(host.as_str().to_owned())
        .fetch_one(&mut **tx)
        .await?;
    get(&row, 0)
}

/// The tags of the host's sample just before `taken` (by time).
async fn previous_tags(
    tx: &mut Transaction<'static, Any>,
    host_id: i64,
    taken: i64,
) -> Result<HashMap<(i64, i64), i64>, FleetError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {JOINED_TAGS} FROM sample_tags t WHERE t.sample_id = \
         (SELECT id FROM samples WHERE host_id = $1 AND taken_at <= $2 ORDER BY taken_at DESC, id DESC LIMIT 1)"
    )))
    .bind(host_id)
    .bind(taken)
    .fetch_one(&mut **tx)
    .await?;
    // No sample before it: the aggregate of no rows is NULL.
    let Some(packed) = get::<Option<String>>(&row, 0)? else {
        return Ok(HashMap::default());
    };
    Ok(unpack_tags(&packed)?
        .into_iter()
        .map(|u| ((tag_code(u.tag), pool_code(u.pool)), u.bytes as i64))
        .collect())
}

/// A sample's kept tags joined into one text, read back by [`unpack_tags`]: sqlx hands every
/// row from SQLite's worker thread to the runtime on its own, and a host's window of 24
/// samples of 200 tags spent most of an ingest in those hand-overs as rows. `string_agg` is
/// PostgreSQL's and SQLite's (3.44 and later) alike.
const JOINED_TAGS: &str = "string_agg(t.tag || ',' || t.pool || ',' || t.bytes || ',' \
     || COALESCE(CAST(t.outstanding AS TEXT), ''), ';')";

/// Rows per INSERT: 5 parameters each. Few, because sqlx looks each parameter up by its name
/// in SQLite's list of them (sqlite3_bind_parameter_name), a cost that grows with the square
/// of the statement's parameters: 200 rows in one statement took 15% of an ingest.
const ROWS_PER_INSERT: usize = 25;

async fn insert_tags(
    tx: &mut Transaction<'static, Any>,
    sample_id: i64,
    rows: &[(i64, i64, i64, Option<i64>)],
) -> Result<(), FleetError> {
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        // `Any` writes `?` placeholders, which PostgreSQL does not read: the numbered ones are
        // written here (numbers only, nothing from the input).
        let mut sql = String::from(
            "INSERT INTO sample_tags (sample_id, tag, pool, bytes, outstanding) VALUES ",
        );
        for i in 0..chunk.len() {
            let n = i * 5;
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!(
                "(${}, ${}, ${}, ${}, ${})",
                n + 1,
                n + 2,
                n + 3,
                n + 4,
                n + 5
            ));
        }
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for &(tag, pool, bytes, outstanding) in chunk {
            query = query
                .bind(sample_id)
                .bind(tag)
                .bind(pool)
                .bind(bytes)
                .bind(outstanding);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Stores the list when it differs from the host's list before it in time; a list after it
/// that is now the same is removed (samples may arrive out of order).
async fn store_driver_list(
    tx: &mut Transaction<'static, Any>,
    host_id: i64,
    taken: i64,
    drivers: &[LoadedDriver],
) -> Result<(), FleetError> {
    let summary = summarize(drivers);
    let summary_json = to_json(&summary)?;
    let parse = |text: String| -> Result<Vec<DriverVersion>, FleetError> {
        serde_json::from_str(&text).map_err(|e| FleetError::Encoding(e.to_string()))
    };
    let before = sqlx::query(
        "SELECT drivers FROM driver_lists WHERE host_id = $1 AND since <= $2 ORDER BY since DESC LIMIT 1",
    )
    .bind(host_id)
    .bind(taken)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(row) = &before
        && parse(get(row, 0)?)? == summary
    {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO driver_lists (host_id, since, drivers, list) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (host_id, since) DO UPDATE SET drivers = excluded.drivers, list = excluded.list",
    )
    .bind(host_id)
    .bind(taken)
    .bind(summary_json)
    .bind(to_json(&drivers)?)
    .execute(&mut **tx)
    .await?;
    let after = sqlx::query(
        "SELECT since, drivers FROM driver_lists WHERE host_id = $1 AND since > $2 ORDER BY since LIMIT 1",
    )
    .bind(host_id)
    .bind(taken)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(row) = after
        && parse(get(&row, 1)?)? == summary
    {
        sqlx::query("DELETE FROM driver_lists WHERE host_id = $1 AND since = $2")
            .bind(host_id)
            .bind(get::<i64>(&row, 0)?)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// A sample's kept tags as the window query joins them: `tag,pool,bytes,outstanding` per tag
/// (outstanding empty when unknown), tags separated by `;`.
fn unpack_tags(packed: &str) -> Result<Vec<PoolUsage>, FleetError> {
    let bad = || FleetError::Encoding(format!("a stored sample's tags do not read: {packed:.80}"));
    packed
        .split(';')
        .map(|entry| {
            let mut fields = entry.split(',');
            let mut number = || fields.next().and_then(|f| f.parse::<i64>().ok());
            let (Some(tag), Some(pool), Some(bytes)) = (number(), number(), number()) else {
                return Err(bad());
            };
            let mut usage = PoolUsage::new(tag_of(tag), pool_of(pool), bytes.max(0) as u64);
            usage.outstanding = number().map(|o| o.max(0) as u64);
            Ok(usage)
        })
        .collect()
}

/// At most `most` of `ids`, evenly spread, the first and the last always among them: a
/// day of samples every 15 minutes is read as 24, which fit the growth as well, at a quarter
/// of the work.
fn spread(ids: &[i64], most: usize) -> Vec<i64> {
    if ids.len() <= most || most < 2 {
        return ids.to_vec();
    }
    let last = ids.len() - 1;
    let mut picked: Vec<i64> = (0..most)
        .map(|k| ids[(k * last + (most - 1) / 2) / (most - 1)])
        .collect();
    picked.dedup();
    picked
}

/// JSON of what is stored, with the one error type.
pub(super) fn to_json<T: Serialize + ?Sized>(value: &T) -> Result<String, FleetError> {
    serde_json::to_string(value).map_err(|e| FleetError::Encoding(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_tags_and_every_grown_tag_are_kept() {
        let rows: Vec<PoolUsage> = (0..300u32)
            .map(|i| {
                let tag = PoolTag::from_bytes([
                    b'T',
                    b'0' + (i / 100) as u8,
                    b'0' + (i / 10 % 10) as u8,
                    b'0' + (i % 10) as u8,
                ]);
                PoolUsage::new(tag, PoolKind::Paged, 1000 + u64::from(i))
            })
            .collect();
        let none = HashMap::default();
        let kept = kept_rows(&rows, &none);
        assert_eq!(kept.len(), KEPT_TAGS);
        assert_eq!(kept[0].2, 1299);
        // The smallest tag grew since the sample before: it is kept too.
        let smallest = tag_code(rows[0].tag);
        let previous: HashMap<(i64, i64), i64> = [((smallest, 0), 10)].into_iter().collect();
        let kept = kept_rows(&rows, &previous);
        assert_eq!(kept.len(), KEPT_TAGS + 1);
        assert!(kept.iter().any(|r| r.0 == smallest));
    }

    #[test]
    fn a_long_window_is_read_evenly_spread() {
        let ids: Vec<i64> = (100..196).collect();
        let picked = spread(&ids, 24);
        assert_eq!(picked.len(), 24);
        assert_eq!((picked[0], picked[23]), (100, 195));
        assert!(
            picked.windows(2).all(|w| (3..=5).contains(&(w[1] - w[0]))),
            "{picked:?}"
        );
        assert_eq!(spread(&ids[..10], 24), ids[..10]);
    }

    #[test]
    fn a_samples_joined_tags_read_back_exactly() {
        let tags = [
            PoolTag::from_bytes(*b"Io  "),
            PoolTag::from_bytes([0xff, b'a', 0, b' ']),
        ];
        let packed = format!(
            "{},{},1024,7;{},{},0,",
            tag_code(tags[0]),
            pool_code(PoolKind::NonPaged),
            tag_code(tags[1]),
            pool_code(PoolKind::Paged)
        );
        let rows = unpack_tags(&packed).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (rows[0].tag, rows[0].pool, rows[0].bytes),
            (tags[0], PoolKind::NonPaged, 1024)
        );
        assert_eq!(rows[0].outstanding, Some(7));
        assert_eq!(
            (rows[1].tag, rows[1].pool, rows[1].outstanding),
            (tags[1], PoolKind::Paged, None)
        );
        assert!(unpack_tags("12,1").is_err());
        assert!(unpack_tags("").is_err());
    }

    #[test]
    fn tags_are_stored_exactly() {
        for bytes in [*b"Io  ", [0xff, 0x00, b'a', b' '], *b"LkaL"] {
            let tag = PoolTag::from_bytes(bytes);
            assert_eq!(tag_of(tag_code(tag)).bytes(), &bytes);
        }
        for pool in [
            PoolKind::Paged,
            PoolKind::NonPaged,
            PoolKind::Session,
            PoolKind::Unknown,
        ] {
            assert_eq!(pool_of(pool_code(pool)), pool);
        }
    }
}
