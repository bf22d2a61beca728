//! Where known causes live: one JSON file beside the index, written whole or not at all, and
//! an in-memory [`CauseBook`] that readers share. An import replaces one source's cases; the
//! embedded cases are seeded once per data directory and refreshed when a new binary brings
//! new ones, as the embedded tag lists are.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::import::{SeedOutcome, now_rfc3339};
use crate::knowledge::{SourceKind, validate_source_name};
use crate::pooltag_list::SkippedLine;

use super::table::parse_causes;
use super::{CauseBook, CauseError, CauseSource, KnownCause};

/// The cases compiled into poolsleuth.
pub const CAUSES_SOURCE: &str = "poolsleuth-causes";
const EMBEDDED_CAUSES: &str = include_str!("../../data/known_causes.csv");
const FILE_NAME: &str = "known_causes.json";
/// Beside the store: the embedded cases were seeded once (an admin may delete them for good).
const SEEDED_MARKER: &str = "CAUSES_SEEDED";
/// At most this many skipped rows are listed in a report; the count is always complete.
const MAX_REPORTED_SKIPS: usize = 200;

/// What the file holds: every source with its cases.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Stored {
    sources: Vec<StoredSource>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredSource {
    source: CauseSource,
    cases: Vec<KnownCause>,
}

/// The known causes of one data directory.
#[derive(Debug)]
pub struct CauseStore {
    path: PathBuf,
    marker: PathBuf,
    /// The stored file's content, replaced whole on every write (writes are serialised).
    stored: Mutex<Stored>,
    book: RwLock<Arc<CauseBook>>,
}

/// What importing a file of cases did.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CauseImportReport {
    pub source: String,
    pub imported: u64,
    /// Cases the source held before, now replaced.
    pub replaced: u64,
    pub skipped: u64,
    /// The first skipped rows with their reasons (all of them up to 200).
    pub skipped_lines: Vec<SkippedLine>,
}

impl CauseStore {
    /// Opens the known causes kept in `dir` (nothing yet is an empty store).
    pub fn open(dir: &Path) -> Result<Self, CauseError> {
        let path = dir.join(FILE_NAME);
        let stored: Stored = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| CauseError::Damaged {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Stored::default(),
            Err(e) => {
                return Err(CauseError::Damaged {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                });
            }
        };
        let book = RwLock::new(Arc::new(book_of(&stored)));
        Ok(Self {
            marker: dir.join(SEEDED_MARKER),
            path,
            stored: Mutex::new(stored),
            book,
        })
    }

    /// Every case now: readers keep it while the store moves on.
    pub fn book(&self) -> Arc<CauseBook> {
        self.book
            .read()
            .map_or_else(|p| p.into_inner().clone(), |b| b.clone())
    }

    /// Makes `cases` the whole of source `source.name`; returns how many it replaced. A failed
    /// write leaves every source as it was.
    fn replace(&self, source: CauseSource, cases: Vec<KnownCause>) -> Result<u64, CauseError> {
        let mut stored = self.stored.lock().unwrap_or_else(|p| p.into_inner());
        let replaced = stored
            .sources
            .iter()
            .find(|s| s.source.name == source.name)
            .map_or(0, |s| s.cases.len() as u64);
        let mut candidate = Stored {
            sources: stored
                .sources
                .iter()
                .filter(|s| s.source.name != source.name)
                .cloned()
                .collect(),
        };
        candidate.sources.push(StoredSource { source, cases });
        candidate
            .sources
            .sort_by(|a, b| a.source.name.cmp(&b.source.name));
        self.write(&candidate)?;
        *stored = candidate;
        self.publish(&stored);
        Ok(replaced)
    }

    /// Removes a source's cases; `None` when there is no such source.
    pub fn delete_source(&self, name: &str) -> Result<Option<u64>, CauseError> {
        let mut stored = self.stored.lock().unwrap_or_else(|p| p.into_inner());
        let Some(removed) = stored
            .sources
            .iter()
            .find(|s| s.source.name == name)
            .map(|s| s.cases.len() as u64)
        else {
            return Ok(None);
        };
        let candidate = Stored {
            sources: stored
                .sources
                .iter()
                .filter(|s| s.source.name != name)
                .cloned()
                .collect(),
        };
        self.write(&candidate)?;
        *stored = candidate;
        self.publish(&stored);
        Ok(Some(removed))
    }

    /// The source record of `name`, if the store has it.
    pub fn source(&self, name: &str) -> Option<CauseSource> {
        self.book()
            .sources()
            .iter()
            .find(|s| s.name == name)
            .cloned()
    }

    fn write(&self, stored: &Stored) -> Result<(), CauseError> {
        let bytes = serde_json::to_vec(stored).map_err(|e| CauseError::Write {
            path: self.path.display().to_string(),
            source: std::io::Error::other(e),
        })?;
        crate::disk::write_atomically(&self.path, &bytes).map_err(|source| CauseError::Write {
            path: self.path.display().to_string(),
            source,
        })
    }

    fn publish(&self, stored: &Stored) {
        let book = Arc::new(book_of(stored));
        match self.book.write() {
            Ok(mut current) => *current = book,
            Err(poisoned) => *poisoned.into_inner() = book,
        }
    }
}

fn book_of(stored: &Stored) -> CauseBook {
    let sources = stored.sources.iter().map(|s| s.source.clone()).collect();
    let cases = stored
        .sources
        .iter()
        .flat_map(|s| s.cases.iter().cloned())
        .collect();
    CauseBook::new(sources, cases)
}

/// Parses a file of known causes and makes it the whole of source `name`.
pub fn import_causes(
    store: &CauseStore,
    name: &str,
    version: Option<String>,
    origin: Option<String>,
    bytes: &[u8],
) -> Result<CauseImportReport, CauseError> {
    validate_source_name(name).map_err(CauseError::BadSourceName)?;
    if name == CAUSES_SOURCE {
        return Err(CauseError::BadSourceName(format!(
            "the source name {name:?} is reserved for the known causes built into poolsleuth; choose another"
        )));
    }
    store_parsed(store, name, SourceKind::List, version, origin, bytes)
}

fn store_parsed(
    store: &CauseStore,
    name: &str,
    kind: SourceKind,
    version: Option<String>,
    origin: Option<String>,
    bytes: &[u8],
) -> Result<CauseImportReport, CauseError> {
    let parsed = parse_causes(bytes, name)?;
    let imported = parsed.cases.len() as u64;
    let source = CauseSource {
        name: name.to_owned(),
        kind,
        version,
        origin,
        imported_at: now_rfc3339(),
        cases: imported,
    };
    let replaced = store.replace(source, parsed.cases)?;
    let skipped = parsed.skipped.len() as u64;
    let mut skipped_lines = parsed.skipped;
    skipped_lines.truncate(MAX_REPORTED_SKIPS);
    Ok(CauseImportReport {
        source: name.to_owned(),
        imported,
        replaced,
        skipped,
        skipped_lines,
    })
}

/// The embedded cases' version: the crate version and a digest of the file, so a binary with
/// new cases refreshes them on start.
fn embedded_version() -> String {
    // FNV-1a: a stable fingerprint, not a security measure.
    let digest = EMBEDDED_CAUSES
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
    format!("{}+{:08x}", env!("CARGO_PKG_VERSION"), digest as u32)
}

/// Seeds the embedded cases into a store that lacks them, or refreshes outdated ones. An admin
/// who deleted them keeps them deleted (the marker remembers the seeding); an imported source
/// of the same name is never replaced.
pub fn seed_embedded_causes(store: &CauseStore) -> Result<SeedOutcome, CauseError> {
    let version = embedded_version();
    let seeded_before = store.marker.exists();
    let outcome: fn(u64) -> SeedOutcome = match store.source(CAUSES_SOURCE) {
        None if !seeded_before => SeedOutcome::Seeded,
        Some(info) if info.kind != SourceKind::Default => return Ok(SeedOutcome::NameTaken),
        Some(info) if info.version.as_deref() != Some(version.as_str()) => SeedOutcome::Refreshed,
        _ => {
            if !seeded_before {
                write_marker(store, &version)?;
            }
            return Ok(SeedOutcome::Unchanged);
        }
    };
    let report = store_parsed(
        store,
        CAUSES_SOURCE,
        SourceKind::Default,
        Some(version.clone()),
        Some("embedded data/known_causes.csv".into()),
        EMBEDDED_CAUSES.as_bytes(),
    )?;
    write_marker(store, &version)?;
    Ok(outcome(report.imported))
}

fn write_marker(store: &CauseStore, version: &str) -> Result<(), CauseError> {
    crate::disk::write_atomically(&store.marker, version.as_bytes()).map_err(|source| {
        CauseError::Write {
            path: store.marker.display().to_string(),
            source,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tag::PoolTag;

    const MINE: &[u8] = b"id,tags,url,summary,driver\nm1,Abcd,https://example.org/1,one,a.sys\nm2,Efgh,https://example.org/2,two,b.sys\n";

    /// The goal for the shipped cases, and what makes each checkable: a URL, exact
    /// tags, no id twice, and versions a driver list can be compared with where they are the
    /// file's.
    #[test]
    fn the_embedded_cases_are_clean_and_cited() {
        let parsed = parse_causes(EMBEDDED_CAUSES.as_bytes(), CAUSES_SOURCE).unwrap();
        assert!(parsed.skipped.is_empty(), "{:?}", parsed.skipped);
        let mut tags = std::collections::BTreeSet::new();
        let mut pages = std::collections::BTreeSet::new();
        for case in &parsed.cases {
            assert!(case.url.starts_with("http"), "{}", case.id);
            assert!(
                case.driver.is_some() || case.application.is_some(),
                "{}",
                case.id
            );
            tags.extend(case.tags.iter().copied());
            pages.insert(case.url.clone());
            pages.extend(case.fix_url.clone());
        }
        assert!(parsed.cases.len() >= 80, "{} cases", parsed.cases.len());
        assert!(tags.len() >= 30, "{} tags", tags.len());
        assert!(pages.len() >= 40, "{} pages", pages.len());
        assert!(tags.contains(&PoolTag::parse("Mdl ").unwrap()));
    }

    #[test]
    fn an_import_replaces_its_source_only_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let store = CauseStore::open(dir.path()).unwrap();
        assert_eq!(
            seed_embedded_causes(&store).unwrap(),
            SeedOutcome::Seeded(store.book().len() as u64)
        );
        let embedded = store.book().len();
        let first = import_causes(&store, "mine", None, None, MINE).unwrap();
        assert_eq!((first.imported, first.replaced), (2, 0));
        let second = import_causes(&store, "mine", None, None, &MINE[..MINE.len() - 47]).unwrap();
        assert_eq!((second.imported, second.replaced), (1, 2));
        assert_eq!(store.book().len(), embedded + 1);
        let reopened = CauseStore::open(dir.path()).unwrap();
        assert_eq!(reopened.book().len(), embedded + 1);
        let tag = PoolTag::parse("Abcd").unwrap();
        let book = reopened.book();
        let found: Vec<&str> = book.for_tag(tag).map(|c| c.id.as_str()).collect();
        assert_eq!(found, ["m1"]);
        assert_eq!(
            seed_embedded_causes(&reopened).unwrap(),
            SeedOutcome::Unchanged
        );
    }

    #[test]
    fn a_deleted_embedded_source_stays_deleted_and_its_name_is_reserved() {
        let dir = tempfile::tempdir().unwrap();
        let store = CauseStore::open(dir.path()).unwrap();
        seed_embedded_causes(&store).unwrap();
        assert!(store.delete_source(CAUSES_SOURCE).unwrap().is_some());
        assert_eq!(
            seed_embedded_causes(&store).unwrap(),
            SeedOutcome::Unchanged
        );
        assert!(store.book().is_empty());
        assert!(matches!(
            import_causes(&store, CAUSES_SOURCE, None, None, MINE),
            Err(CauseError::BadSourceName(_))
        ));
    }

    #[test]
    fn a_refused_file_leaves_the_source_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let store = CauseStore::open(dir.path()).unwrap();
        import_causes(&store, "mine", None, None, MINE).unwrap();
        assert!(import_causes(&store, "mine", None, None, b"id,tags,url,summary\n,,,\n").is_err());
        assert_eq!(store.book().len(), 2);
    }
}
