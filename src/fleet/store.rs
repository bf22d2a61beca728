//! The fleet database: SQLite in the data dir, or PostgreSQL, through one code path.
//!
//! sqlx's `Any` driver carries every query: the SQL here is written once, in the dialect both
//! understand (`$1` placeholders, which SQLite reads as numbered parameters; `ON CONFLICT`;
//! `RETURNING`; integers as BIGINT). `Any` is enough because the data is integers, text and
//! floats, and keeps one pool type instead of an enum over two and a `match` in every query.
//! Only the migrations differ (identity columns, `WITHOUT ROWID`), one file per backend.

use std::path::Path;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, Executor, Row, SqlSafeStr};

use super::FleetError;

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> Result<Self, FleetError> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else {
            Err(FleetError::BadDatabaseUrl(
                "the database URL must start with postgres://, postgresql:// or sqlite:".into(),
            ))
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }

    fn migrations(self) -> Migrator {
        let sql = match self {
            Self::Sqlite => include_str!("migrations/sqlite.sql"),
            Self::Postgres => include_str!("migrations/postgres.sql"),
        };
        Migrator::with_migrations(vec![Migration::new(
            1,
            "fleet samples, tags, driver lists and hourly roll-ups".into(),
            MigrationType::Simple,
            sql.into_sql_str(),
            false,
        )])
    }
}

/// The SQLite file's URL for a path: `sqlite://PATH?mode=rwc` (created when missing), with the
/// characters the URL would otherwise read percent-encoded.
pub fn sqlite_url(path: &Path) -> String {
    let mut url = String::from("sqlite://");
    for c in path.to_string_lossy().chars() {
        match c {
            '%' | '?' | '#' | ' ' => url.push_str(&format!("%{:02X}", c as u32)),
            c => url.push(c),
        }
    }
    url.push_str("?mode=rwc");
    url
}

/// The open database.
#[derive(Debug, Clone)]
pub struct Database {
    pub pool: AnyPool,
    pub backend: Backend,
}

impl Database {
    /// Connects and brings the schema up to date.
    pub async fn open(url: &str) -> Result<Self, FleetError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(url)?;
        let pool = AnyPoolOptions::new()
            // SQLite has one writer at a time; a few readers beside it.
            .max_connections(match backend {
                Backend::Sqlite => 4,
                Backend::Postgres => 10,
            })
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL: readers do not wait for the writer. `synchronous=NORMAL` in WAL
                        // keeps every committed sample through a crash or kill of the process
                        // (only a power cut may lose the last commits).
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await?;
        backend.migrations().run(&pool).await?;
        Ok(Self { pool, backend })
    }

    /// Bytes the database takes (SQLite: the file and its WAL; PostgreSQL: the database).
    pub async fn size_bytes(&self) -> Result<i64, FleetError> {
        let row =
            match self.backend {
                Backend::Sqlite => sqlx::query(
                    "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
                )
                .fetch_one(&self.pool)
                .await?,
                Backend::Postgres => {
                    sqlx::query("SELECT pg_database_size(current_database())::BIGINT")
                        .fetch_one(&self.pool)
                        .await?
                }
            };
        Ok(row.try_get(0)?)
    }
}

/// Reads column `i` of a row.
pub fn get<'r, T>(row: &'r AnyRow, i: usize) -> Result<T, FleetError>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    Ok(row.try_get(i)?)
}
