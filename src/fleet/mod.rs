//! Fleet watch: hosts send pool snapshots on a schedule; each is stored as a sample of its
//! host, the host's state is read again with the attribution pipeline over its window of
//! samples, and the hosts are compared with each other.
//!
//! [`Fleet::ingest`] stores a sample and returns the host's state (and a [`StateChange`] when
//! it changed); [`Fleet::hosts`], [`Fleet::host`] and [`Fleet::overview`] read; and
//! [`Fleet::enforce_retention`] rolls old samples up into hourly rows.

mod correlate;
mod host;
mod ingest;
mod read;
mod state;
mod store;
pub mod timeline;
mod token;

use std::path::{Path, PathBuf};

pub use correlate::{Correlation, FleetOverview};
pub use host::{HostName, MAX_HOST_NAME};
pub use ingest::{Ingested, NewSample, RetentionOutcome};
pub use read::{HostDetail, HostSummary, Series, TagSeries};
pub use state::{HostState, StateChange, StateKind, TagGrowth, Thresholds};
pub use store::{Backend, Database, sqlite_url};
pub use token::{IssuedToken, new_token, token_digest};

/// The fleet's settings.
#[derive(Debug, Clone)]
pub struct FleetConfig {
    /// `None`: SQLite in the data dir ([`SQLITE_FILE`]).
    pub database_url: Option<String>,
    /// Raw samples are kept this many days, then rolled up into hourly rows.
    pub retention_days: u32,
    pub thresholds: Thresholds,
}

impl Default for FleetConfig {
    fn default() -> Self {
        Self {
            database_url: None,
            retention_days: 14,
            thresholds: Thresholds::default(),
        }
    }
}

/// The SQLite database's file name in the data dir.
pub const SQLITE_FILE: &str = "fleet.sqlite";
/// Hourly roll-ups are kept this long.
pub const HOURLY_RETENTION_DAYS: i64 = 366;
/// Per sample, the tags kept by size (plus every tag that grew since the host's sample before).
pub const KEPT_TAGS: usize = 200;
/// The samples a host's state is read from: those of the last day before its newest one.
pub const WINDOW_HOURS: i64 = 24;
/// The most samples of the window the attribution reads (evenly spread over it).
pub const WINDOW_SAMPLES: usize = 24;

/// Why a fleet operation failed.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    #[error("{0}")]
    BadHostName(String),
    #[error("{0}")]
    BadDatabaseUrl(String),
    #[error(
        "the snapshot holds no pool tags (pool totals alone are not a sample); send a poolmon screen (`poolmon -b -n file.txt`) or another per-tag table"
    )]
    NoTags,
    #[error("no host named {0:?} has sent a sample")]
    UnknownHost(String),
    #[error("fleet database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("fleet database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("fleet data: {0}")]
    Encoding(String),
    #[error("the host's analysis failed: {0}")]
    Analysis(String),
}

impl FleetError {
    /// A full disk (or quota) under the database: SQLite's `SQLITE_FULL`, PostgreSQL's
    /// `disk_full` (53100), or an I/O error that says so.
    pub fn is_disk_full(&self) -> bool {
        match self {
            Self::Database(sqlx::Error::Database(e)) => {
                matches!(e.code().as_deref(), Some("13" | "53100"))
                    || e.message().contains("database or disk is full")
            }
            Self::Database(e) => crate::disk::caused_by_full_disk(e),
            Self::Migrate(e) => crate::disk::caused_by_full_disk(e),
            _ => false,
        }
    }
}

/// The fleet: its settings and its database, opened on first use (or at start by `serve`).
#[derive(Debug)]
pub struct Fleet {
    config: FleetConfig,
    data_dir: PathBuf,
    db: tokio::sync::OnceCell<Database>,
}

impl Fleet {
    pub fn new(config: FleetConfig, data_dir: &Path) -> Self {
        Self {
            config,
            data_dir: data_dir.to_owned(),
            db: tokio::sync::OnceCell::new(),
        }
    }

    pub fn config(&self) -> &FleetConfig {
        &self.config
    }

    /// The data dir, where the SQLite file lives (and whose disk a full-disk answer names).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The database URL in use (the SQLite file's when none was given).
    pub fn database_url(&self) -> String {
        self.config
            .database_url
            .clone()
            .unwrap_or_else(|| sqlite_url(&self.data_dir.join(SQLITE_FILE)))
    }

    /// Whether the database was opened (by a request, or at start).
    pub fn is_open(&self) -> bool {
        self.db.initialized()
    }

    /// The database, connected and migrated on first use.
    pub async fn database(&self) -> Result<&Database, FleetError> {
        self.db
            .get_or_try_init(|| async { Database::open(&self.database_url()).await })
            .await
    }
}
