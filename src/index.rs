//! The tag knowledge base on disk: one tantivy index holding every attribution and, beside
//! them, one document per source, so that a source and its entries change in one commit.
//!
//! Tantivy allows one writer per directory. Whoever opens a [`SearchIndex`] holds that writer
//! (the server, or a local `import`); a second process gets [`IndexError::Locked`], and the
//! command line says what to do instead for the command that met it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use serde::Serialize;
use tantivy::collector::{Count, DocSetCollector, TopDocs};
use tantivy::directory::MmapDirectory;
use tantivy::query::{
    AllQuery, BooleanQuery, ConstScoreQuery, Occur, Query, QueryParser, RegexQuery, TermQuery,
};
use tantivy::schema::{
    Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TEXT, TantivyDocument, Value,
};
use tantivy::tokenizer::TokenStream;
use tantivy::{DocAddress, Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, Term};

use crate::driver::{DriverAnalysis, normalize_driver_name};
use crate::knowledge::{
    Confidence, DriverOwner, Provenance, SourceInfo, SourceKind, TagEntry, driver_stem,
    kernel_component_name,
};
use crate::leading_phrase::LeadingPhraseQuery;
use crate::tag::{PoolTag, TagPattern};
use crate::vendor::vendor_key;
use crate::version::{Version, compare_version_texts};

/// Bump on any schema change: an index written with another version is refused with a clear
/// message instead of being misread.
pub const SCHEMA_VERSION: u32 = 1;
const SCHEMA_VERSION_FILE: &str = "SCHEMA_VERSION";
const WRITER_HEAP_BYTES: usize = 64 * 1024 * 1024;
/// Upper bound on the attributions returned for one tag or one driver.
const MAX_GROUP: usize = 5_000;
/// An import touching at least this many documents is followed by a merge into one segment.
const COMPACT_AFTER_DOCS: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("the data directory {0} is in use by another poolsleuth process (a running server?)")]
    Locked(PathBuf),
    #[error(
        "the index in {dir} was written with schema version {found}, this poolsleuth uses {expected}; move the directory aside and re-import your lists"
    )]
    SchemaMismatch {
        dir: PathBuf,
        found: String,
        expected: u32,
    },
    #[error("cannot use the data directory {dir}: {source}")]
    DataDir {
        dir: PathBuf,
        source: std::io::Error,
    },
    /// A write failed for want of space (or quota); nothing of it stays behind, and the same
    /// write works once space is free.
    #[error("the data disk is full: {} bytes free; delete a source or free space", free_bytes.map_or_else(|| "no".into(), |b| b.to_string()))]
    DiskFull {
        dir: PathBuf,
        free_bytes: Option<u64>,
    },
    #[error("index error: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    #[error("a stored document is damaged: {0}")]
    Corrupt(String),
}

/// Field handles of the schema, resolved once.
#[derive(Clone, Copy)]
struct Fields {
    /// `entry` or `source`.
    kind: Field,
    /// Escaped exact tag text (see `PoolTag`'s Display).
    tag: Field,
    /// The same with ASCII letters lower-cased, for case-insensitive hits.
    tag_folded: Field,
    is_pattern: Field,
    driver: Field,
    driver_stem: Field,
    /// `driver` tokenized for full-text search (`ntfs.sys` → `ntfs`, `sys`).
    driver_text: Field,
    component: Field,
    description: Field,
    vendor: Field,
    vendor_key: Field,
    product: Field,
    version: Field,
    sha256: Field,
    confidence: Field,
    source: Field,
    line: Field,
    /// On `source` documents: the `SourceInfo` as JSON. On attribution documents: the row's
    /// `Provenance` as JSON, when it has one. A stored-only field both kinds share, so adding
    /// provenance changed no schema and data directories written before open as they are.
    source_info: Field,
    /// `default`, `list` or `driver`, on entries and source records alike, for counting.
    source_kind: Field,
}

impl Fields {
    fn schema() -> (Schema, Self) {
        let mut b = Schema::builder();
        let fields = Self {
            kind: b.add_text_field("kind", STRING | STORED),
            tag: b.add_text_field("tag", STRING | STORED),
            tag_folded: b.add_text_field("tag_folded", STRING),
            is_pattern: b.add_u64_field("is_pattern", INDEXED | STORED),
            driver: b.add_text_field("driver", STRING | STORED),
            driver_stem: b.add_text_field("driver_stem", STRING),
            driver_text: b.add_text_field("driver_text", TEXT),
            component: b.add_text_field("component", TEXT | STORED),
            description: b.add_text_field("description", TEXT | STORED),
            vendor: b.add_text_field("vendor", TEXT | STORED),
            vendor_key: b.add_text_field("vendor_key", STRING),
            product: b.add_text_field("product", TEXT | STORED),
            version: b.add_text_field("version", STRING | STORED),
            sha256: b.add_text_field("sha256", STRING | STORED),
            confidence: b.add_text_field("confidence", STRING | STORED),
            source: b.add_text_field("source", STRING | STORED),
            line: b.add_u64_field("line", STORED),
            source_info: b.add_text_field("source_info", STORED),
            source_kind: b.add_text_field("source_kind", STRING),
        };
        (b.build(), fields)
    }
}

/// What a source replacement did.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct ReplaceStats {
    /// Entries now stored for the source.
    pub imported: u64,
    /// Entries the source held before and that were replaced.
    pub replaced: u64,
}

/// How a search hit matched the query, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum MatchKind {
    /// The tag, exactly (case-sensitive), or the tag pattern, case-sensitively.
    Tag,
    /// The tag, ignoring case.
    TagAnyCase,
    Driver,
    Vendor,
    /// Words of the description, component, product or names.
    Text,
}

// Tier scores keep the match kinds apart whatever BM25 adds; BM25 scores stay far below 1000.
const SCORE_TAG: f32 = 1.0e7;
const SCORE_TAG_ANY_CASE: f32 = 1.0e6;
const SCORE_DRIVER: f32 = 1.0e5;
const SCORE_VENDOR: f32 = 1.0e4;
/// Within the words tier: the description, component or owner starts with the words.
const SCORE_TEXT_LEADING: f32 = 1.0e3;

impl MatchKind {
    fn from_score(score: f32) -> Self {
        match score {
            s if s >= SCORE_TAG => Self::Tag,
            s if s >= SCORE_TAG_ANY_CASE => Self::TagAnyCase,
            s if s >= SCORE_DRIVER => Self::Driver,
            s if s >= SCORE_VENDOR => Self::Vendor,
            _ => Self::Text,
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SearchHit {
    #[serde(rename = "match")]
    pub match_kind: MatchKind,
    #[serde(flatten)]
    pub entry: TagEntry,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SearchPage {
    pub query: String,
    pub total: usize,
    pub limit: usize,
    pub offset: usize,
    pub hits: Vec<SearchHit>,
}

/// Everything known about one tag.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TagReport {
    pub tag: PoolTag,
    /// Attributions of exactly this tag, most trustworthy first.
    pub attributions: Vec<TagEntry>,
    /// Wildcard rows (`Afd?`) that cover this tag.
    pub pattern_matches: Vec<TagEntry>,
    /// Known tags that differ from this one only in letter case.
    pub case_variants: Vec<PoolTag>,
}

impl TagReport {
    pub fn is_known(&self) -> bool {
        !self.attributions.is_empty() || !self.pattern_matches.is_empty()
    }
}

/// Everything known about one driver file.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DriverReport {
    pub driver: String,
    pub vendors: Vec<String>,
    /// Versions seen, oldest first (ordered by their numbers, not as strings).
    pub versions: Vec<String>,
    pub components: Vec<String>,
    pub tags: Vec<TagEntry>,
    /// Every analyzed file of this driver (identity, version, signer, evidence), oldest
    /// version first.
    pub analyses: Vec<DriverAnalysis>,
}

pub struct SearchIndex {
    dir: PathBuf,
    index: Index,
    reader: IndexReader,
    fields: Fields,
    writer: Mutex<IndexWriter>,
    text_parser: QueryParser,
    patterns: RwLock<Arc<Vec<(TagPattern, TagEntry)>>>,
    /// The known causes kept beside the index: knowledge like the lists, in a file of their own.
    causes: crate::causes::CauseStore,
    /// The catalogs (`.cat`) that vouch for drivers without embedded signatures.
    catalogs: crate::catalogs::CatalogStore,
}

impl SearchIndex {
    /// Opens (or creates) the index under `data_dir/index` and takes its writer lock.
    pub fn open(data_dir: &Path) -> Result<Self, IndexError> {
        let dir = data_dir.join("index");
        let io = |source| IndexError::DataDir {
            dir: dir.clone(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(io)?;
        let version_file = dir.join(SCHEMA_VERSION_FILE);
        let expected = SCHEMA_VERSION.to_string();
        // No commit yet: nothing was ever stored here, whatever a first start cut short left.
        let has_commit = dir.join("meta.json").exists();
        match std::fs::read_to_string(&version_file) {
            Ok(found) if found.trim() == expected => {}
            // An empty or cut-off marker over an index that holds nothing: a first start that
            // ran out of space (before markers were written atomically). Start anew.
            Ok(found) if !has_commit && expected.starts_with(found.trim()) => {
                write_marker(&version_file, &expected)?;
            }
            Ok(found) => {
                return Err(IndexError::SchemaMismatch {
                    dir,
                    found: found.trim().to_owned(),
                    expected: SCHEMA_VERSION,
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                write_marker(&version_file, &expected)?;
            }
            Err(e) => return Err(io(e)),
        }
        let (schema, fields) = Fields::schema();
        let directory = MmapDirectory::open(&dir).map_err(|e| IndexError::DataDir {
            dir: dir.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
        let index = Index::open_or_create(directory, schema)?;
        // One indexing thread: each thread writes its own segment at every commit, and each
        // segment file is synced to disk. A commit here holds a batch of drivers or a list of
        // a few thousand rows, which one thread indexes in milliseconds; a second thread only
        // doubled the files and syncs of every commit (a scan's fixed cost).
        let writer = index
            .writer_with_num_threads(1, WRITER_HEAP_BYTES)
            .map_err(|e| match e {
                tantivy::TantivyError::LockFailure(..) => IndexError::Locked(data_dir.to_owned()),
                other => other.into(),
            })?;
        // Files no commit references (a write or merge a full disk or a kill cut short) hold
        // space and can block the next write of the same name: remove them before any write.
        collect_garbage(&writer);
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            // Lookups fetch stored documents from all over the store; keep more decompressed
            // blocks than the default 100 so hot tags stay in memory.
            .doc_store_cache_num_blocks(1_000)
            .try_into()?;
        let mut text_parser = QueryParser::for_index(
            &index,
            vec![
                fields.description,
                fields.component,
                fields.driver_text,
                fields.vendor,
                fields.product,
            ],
        );
        text_parser.set_conjunction_by_default();
        text_parser.set_field_boost(fields.description, 2.0);
        let causes = crate::causes::CauseStore::open(&dir).map_err(|e| IndexError::DataDir {
            dir: dir.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
        let catalogs =
            crate::catalogs::CatalogStore::open(&dir).map_err(|e| IndexError::DataDir {
                dir: dir.clone(),
                source: std::io::Error::other(e.to_string()),
            })?;
        let index = Self {
            dir,
            index,
            reader,
            fields,
            writer: Mutex::new(writer),
            text_parser,
            patterns: RwLock::default(),
            causes,
            catalogs,
        };
        index.refresh()?;
        Ok(index)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The known causes of this data directory.
    pub fn causes(&self) -> &crate::causes::CauseStore {
        &self.causes
    }

    /// The catalogs of this data directory.
    pub fn catalogs(&self) -> &crate::catalogs::CatalogStore {
        &self.catalogs
    }

    fn searcher(&self) -> Searcher {
        self.reader.searcher()
    }

    /// Number of attributions stored.
    pub fn entry_count(&self) -> Result<u64, IndexError> {
        let query = self.term_query(self.fields.kind, "entry");
        Ok(self.searcher().search(&query, &Count)? as u64)
    }

    /// Replaces everything a source said with `entries`, atomically: either the new entries and
    /// the source record are all committed, or the index stays as it was.
    pub fn replace_source(
        &self,
        info: &SourceInfo,
        entries: &[TagEntry],
    ) -> Result<ReplaceStats, IndexError> {
        let stats = self.replace_sources(&[(info, entries)])?;
        Ok(stats[0])
    }

    /// Replaces several sources in one commit (one `fsync` round for a whole batch of scanned
    /// drivers): either every source of the batch is committed whole, or the index stays as it
    /// was. Returns the stats of each source, in order.
    pub fn replace_sources(
        &self,
        sources: &[(&SourceInfo, &[TagEntry])],
    ) -> Result<Vec<ReplaceStats>, IndexError> {
        let mut writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let mut stats = Vec::with_capacity(sources.len());
        for (info, entries) in sources {
            stats.push(ReplaceStats {
                imported: entries.len() as u64,
                replaced: self.count_source_entries(&info.name)?,
            });
        }
        let result = (|| -> Result<(), IndexError> {
            for (info, entries) in sources {
                writer.delete_term(Term::from_field_text(self.fields.source, &info.name));
                for entry in *entries {
                    let mut doc = self.entry_document(entry);
                    doc.add_text(self.fields.source_kind, info.kind.as_str());
                    writer.add_document(doc)?;
                }
                writer.add_document(self.source_document(info)?)?;
            }
            writer.commit()?;
            Ok(())
        })();
        if let Err(error) = result {
            // Drop whatever was staged; the last commit stays the truth.
            return Err(self.write_failed(&mut writer, error));
        }
        let touched: u64 = stats.iter().map(|s| s.imported + s.replaced).sum();
        if touched as usize >= COMPACT_AFTER_DOCS {
            self.compact(&mut writer);
        }
        drop(writer);
        self.refresh()?;
        Ok(stats)
    }

    /// Removes a source and all its entries. Returns the number of entries removed, or `None`
    /// when no such source exists.
    pub fn delete_source(&self, name: &str) -> Result<Option<u64>, IndexError> {
        if self.source(name)?.is_none() {
            return Ok(None);
        }
        let mut writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let removed = self.count_source_entries(name)?;
        writer.delete_term(Term::from_field_text(self.fields.source, name));
        if let Err(error) = writer.commit() {
            return Err(self.write_failed(&mut writer, error.into()));
        }
        drop(writer);
        self.refresh()?;
        Ok(Some(removed))
    }

    /// Merges all segments into one after a large import. Every query pays a setup cost per
    /// segment, and a fresh big import leaves several; small writes (one driver) are left to
    /// tantivy's background merge policy. A failed merge loses nothing: the commit stands.
    fn compact(&self, writer: &mut IndexWriter) {
        let segments = match self.index.searchable_segment_ids() {
            Ok(segments) if segments.len() > 1 => segments,
            _ => return,
        };
        if let Err(error) = writer.merge(&segments).wait() {
            tracing::warn!(%error, "merging index segments failed; the index stays as committed");
            // The merged segment's files were never committed: give their space back.
            collect_garbage(writer);
        }
    }

    /// After a failed write: the staged changes are dropped, the files the write left behind
    /// are removed (a part-written segment, an empty `.del` file whose name the next delete
    /// would need), and a full disk is named as such.
    fn write_failed(&self, writer: &mut IndexWriter, error: IndexError) -> IndexError {
        // A worker that died writing a segment only says "killed"; its own error (ENOSPC, as
        // a rule) comes out when the workers are joined, which preparing a commit does. A
        // killed writer never gets as far as committing.
        let error = match error {
            IndexError::Tantivy(tantivy::TantivyError::ErrorInThread(_)) => {
                match writer.prepare_commit() {
                    Err(cause) => IndexError::Tantivy(cause),
                    Ok(prepared) => {
                        let _ = prepared.abort();
                        error
                    }
                }
            }
            other => other,
        };
        if let Err(rollback) = writer.rollback() {
            tracing::error!(%rollback, "rolling back a failed write failed");
        }
        collect_garbage(writer);
        let full = match &error {
            IndexError::Tantivy(e) => crate::disk::caused_by_full_disk(e),
            IndexError::DataDir { source, .. } => crate::disk::is_full(source),
            _ => false,
        };
        if full {
            IndexError::DiskFull {
                dir: self.dir.clone(),
                free_bytes: crate::disk::free_bytes(&self.dir),
            }
        } else {
            error
        }
    }

    fn count_source_entries(&self, name: &str) -> Result<u64, IndexError> {
        let query = BooleanQuery::new(vec![
            (Occur::Must, self.term_query(self.fields.source, name)),
            (Occur::Must, self.term_query(self.fields.kind, "entry")),
        ]);
        Ok(self.searcher().search(&query, &Count)? as u64)
    }

    /// The tag lists (the default and imported lists); analyzed drivers are listed per
    /// driver instead (see [`Self::driver_analyses`]).
    pub fn sources(&self) -> Result<Vec<SourceInfo>, IndexError> {
        let query = BooleanQuery::new(vec![
            (Occur::Must, self.term_query(self.fields.kind, "source")),
            (
                Occur::MustNot,
                self.term_query(self.fields.source_kind, SourceKind::Driver.as_str()),
            ),
        ]);
        let mut sources = self.load_sources(&query)?;
        sources.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(sources)
    }

    /// Every source: the tag lists first (by name), then each analyzed driver file (by file
    /// name and version). A listing stays small with hundreds of drivers, so each driver's
    /// whole analysis is left out; [`Self::driver_analyses`] serves it.
    /// Every analyzed driver file's source record, with its analysis.
    pub fn driver_sources(&self) -> Result<Vec<SourceInfo>, IndexError> {
        let query = BooleanQuery::new(vec![
            (Occur::Must, self.term_query(self.fields.kind, "source")),
            (
                Occur::Must,
                self.term_query(self.fields.source_kind, SourceKind::Driver.as_str()),
            ),
        ]);
        self.load_sources(&query)
    }

    pub fn all_sources(&self) -> Result<Vec<SourceInfo>, IndexError> {
        let query = self.term_query(self.fields.kind, "source");
        let mut sources = self.load_sources(&*query)?;
        for source in &mut sources {
            source.driver = None;
        }
        let order = |source: &SourceInfo| {
            let is_driver = source.kind == SourceKind::Driver;
            let label = if is_driver {
                source.origin.clone()
            } else {
                None
            };
            (is_driver, label, source.name.clone())
        };
        sources.sort_by_key(order);
        Ok(sources)
    }

    pub fn source(&self, name: &str) -> Result<Option<SourceInfo>, IndexError> {
        let query = BooleanQuery::new(vec![
            (Occur::Must, self.term_query(self.fields.kind, "source")),
            (Occur::Must, self.term_query(self.fields.source, name)),
        ]);
        Ok(self.load_sources(&query)?.into_iter().next())
    }

    /// Every analyzed file of a driver (by file name), oldest file version first.
    pub fn driver_analyses(&self, driver: &str) -> Result<Vec<SourceInfo>, IndexError> {
        let driver = normalize_driver_name(driver);
        let query = BooleanQuery::new(vec![
            (Occur::Must, self.term_query(self.fields.kind, "source")),
            (
                Occur::Must,
                Box::new(BooleanQuery::new(vec![
                    (Occur::Should, self.term_query(self.fields.driver, &driver)),
                    (
                        Occur::Should,
                        self.term_query(self.fields.driver_stem, &driver),
                    ),
                ])),
            ),
        ]);
        let mut analyses = self.load_sources(&query)?;
        analyses.sort_by(|a, b| {
            compare_version_texts(
                a.version.as_deref().unwrap_or(""),
                b.version.as_deref().unwrap_or(""),
            )
            .then_with(|| a.imported_at.cmp(&b.imported_at))
        });
        Ok(analyses)
    }

    fn load_sources(&self, query: &dyn Query) -> Result<Vec<SourceInfo>, IndexError> {
        let searcher = self.searcher();
        searcher
            .search(query, &DocSetCollector)?
            .into_iter()
            .map(|address| self.load_source(&searcher, address))
            .collect()
    }

    /// All attributions of one exact tag, plus wildcard rows and case variants.
    pub fn tag_report(&self, tag: PoolTag) -> Result<TagReport, IndexError> {
        let searcher = self.searcher();
        // One query for every case variant; the exact ones are among them.
        let folded = tag.folded().to_string();
        let (mut attributions, others): (Vec<TagEntry>, Vec<TagEntry>) = self
            // Only attribution documents carry `tag_folded`: no need to filter on the kind.
            .load_entries(
                &searcher,
                &*self.term_query(self.fields.tag_folded, &folded),
            )?
            .into_iter()
            .partition(|e| e.tag == tag);
        sort_attributions(&mut attributions);
        let mut case_variants: Vec<PoolTag> = others.into_iter().map(|e| e.tag).collect();
        case_variants.sort();
        case_variants.dedup();

        let mut pattern_matches: Vec<TagEntry> = self
            .pattern_entries()
            .iter()
            .filter(|(pattern, entry)| entry.tag != tag && pattern.matches(tag, true))
            .map(|(_, entry)| entry.clone())
            .collect();
        sort_attributions(&mut pattern_matches);
        Ok(TagReport {
            tag,
            attributions,
            pattern_matches,
            case_variants,
        })
    }

    /// Everything known about a driver, by file name (`ntfs.sys`) or stem (`ntfs`).
    pub fn driver_report(&self, name: &str) -> Result<Option<DriverReport>, IndexError> {
        let name = normalize_driver_name(name);
        let searcher = self.searcher();
        let by_name = BooleanQuery::new(vec![
            (Occur::Should, self.term_query(self.fields.driver, &name)),
            (
                Occur::Should,
                self.term_query(self.fields.driver_stem, driver_stem(&name)),
            ),
        ]);
        let mut tags = self.load_entries(&searcher, &self.entry_query(Box::new(by_name)))?;
        // `ntfs` may name `ntfs.sys` and `ntfs.dll`; prefer the exact file name when it exists.
        let driver = if tags
            .iter()
            .any(|e| e.owner.driver.as_deref() == Some(&*name))
            || tags.is_empty()
        {
            name
        } else {
            tags[0].owner.driver.clone().unwrap_or(name)
        };
        let analyses: Vec<DriverAnalysis> = self
            .driver_analyses(&driver)?
            .into_iter()
            .filter_map(|source| source.driver.map(|d| *d))
            .collect();
        if tags.is_empty() && analyses.is_empty() {
            return Ok(None);
        }
        tags.retain(|e| e.owner.driver.as_deref() == Some(&*driver));
        tags.sort_by(|a, b| a.tag.cmp(&b.tag).then(a.confidence.cmp(&b.confidence)));
        let distinct = |values: Vec<String>| {
            let mut values = values;
            values.sort();
            values.dedup();
            values
        };
        let vendors = distinct(tags.iter().filter_map(|e| e.vendor.clone()).collect());
        let components = distinct(
            tags.iter()
                .filter_map(|e| e.owner.component.clone())
                .collect(),
        );
        // Each version once, however written (`2.2` and `2.2.0.0`), oldest first.
        let versions: Vec<String> = Version::sorted_distinct(
            tags.iter()
                .filter_map(|e| e.version.as_deref())
                .map(str::to_owned)
                .chain(
                    analyses
                        .iter()
                        .filter_map(crate::version::Version::of_driver),
                )
                .filter_map(|v| Version::parse(&v))
                .collect(),
        )
        .into_iter()
        .map(|v| v.to_string())
        .collect();
        Ok(Some(DriverReport {
            driver,
            vendors,
            versions,
            components,
            tags,
            analyses,
        }))
    }

    /// The one search box: exact tags, tag patterns, driver names, vendors and description
    /// words, ranked in that order, paged.
    pub fn search(
        &self,
        text: &str,
        limit: usize,
        offset: usize,
    ) -> Result<SearchPage, IndexError> {
        let query_text = text.trim();
        let page = |total, hits| SearchPage {
            query: query_text.to_owned(),
            total,
            limit,
            offset,
            hits,
        };
        if query_text.is_empty() {
            return Ok(page(0, Vec::new()));
        }
        let query = self.build_search_query(query_text);
        let searcher = self.searcher();
        let (top, total) = searcher.search(
            &query,
            &(TopDocs::with_limit(limit.max(1)).and_offset(offset), Count),
        )?;
        let hits = top
            .into_iter()
            .take(limit)
            .map(|(score, address)| {
                Ok(SearchHit {
                    match_kind: MatchKind::from_score(score),
                    entry: self.load_entry(&searcher, address)?,
                })
            })
            .collect::<Result<Vec<_>, IndexError>>()?;
        Ok(page(total, hits))
    }

    fn build_search_query(&self, text: &str) -> Box<dyn Query> {
        let f = self.fields;
        let mut tiers: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let tier = |query: Box<dyn Query>, score: f32| -> (Occur, Box<dyn Query>) {
            (Occur::Should, Box::new(ConstScoreQuery::new(query, score)))
        };
        let unquoted = unquoted(text);
        let lower = unquoted.to_ascii_lowercase();

        if let Some(pattern) = TagPattern::parse(unquoted) {
            for (field, fold, score) in [
                (f.tag, false, SCORE_TAG),
                (f.tag_folded, true, SCORE_TAG_ANY_CASE),
            ] {
                if let Ok(q) = RegexQuery::from_pattern(&pattern.to_regex(fold), field) {
                    tiers.push(tier(Box::new(q), score));
                }
            }
            let driver_regex = glob_to_regex(&lower);
            if let Ok(q) = RegexQuery::from_pattern(&driver_regex, f.driver) {
                tiers.push(tier(Box::new(q), SCORE_DRIVER));
            }
            if let Ok(q) = RegexQuery::from_pattern(&driver_regex, f.driver_stem) {
                tiers.push(tier(Box::new(q), SCORE_DRIVER));
            }
        } else {
            if let Ok(tag) = PoolTag::parse(unquoted) {
                tiers.push(tier(self.term_query(f.tag, &tag.to_string()), SCORE_TAG));
                tiers.push(tier(
                    self.term_query(f.tag_folded, &tag.folded().to_string()),
                    SCORE_TAG_ANY_CASE,
                ));
            }
            let driver = normalize_driver_name(unquoted);
            tiers.push(tier(self.term_query(f.driver, &driver), SCORE_DRIVER));
            tiers.push(tier(self.term_query(f.driver_stem, &driver), SCORE_DRIVER));
            tiers.push(tier(
                self.term_query(f.vendor_key, &vendor_key(unquoted)),
                SCORE_VENDOR,
            ));
        }
        // Words: lenient parsing, so no user input is ever a query syntax error.
        let words = text.replace(['*', '?'], " ");
        let (text_query, _errors) = self.text_parser.parse_query_lenient(&words);
        tiers.push((Occur::Should, text_query));
        // Text that starts with the words says what the row is; BM25 alone ranks a mention in
        // passing ("Video memory manager …") as high.
        for field in [f.description, f.component, f.driver_text] {
            if let Some(q) = self.leading_words(field, &words) {
                tiers.push(tier(Box::new(q), SCORE_TEXT_LEADING));
            }
        }
        self.entry_query(Box::new(BooleanQuery::new(tiers)))
    }

    /// The wildcard rows (`Afd?`), cached: every tag lookup consults them, and they only
    /// change when this process commits.
    fn pattern_entries(&self) -> Arc<Vec<(TagPattern, TagEntry)>> {
        self.patterns
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Re-reads the index after a commit and refreshes the caches derived from it.
    fn refresh(&self) -> Result<(), IndexError> {
        self.reader.reload()?;
        let pattern_query = self.entry_query(Box::new(TermQuery::new(
            Term::from_field_u64(self.fields.is_pattern, 1),
            IndexRecordOption::Basic,
        )));
        let patterns = self
            .load_entries(&self.searcher(), &pattern_query)?
            .into_iter()
            .filter_map(|e| TagPattern::parse(&e.tag.trimmed()).map(|p| (p, e)))
            .collect();
        *self.patterns.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(patterns);
        Ok(())
    }

    /// Rows whose `field` starts with the words of `text`, as that field's tokenizer reads them.
    fn leading_words(&self, field: Field, text: &str) -> Option<LeadingPhraseQuery> {
        let mut analyzer = self.index.tokenizer_for_field(field).ok()?;
        let mut stream = analyzer.token_stream(text);
        let mut terms = Vec::new();
        while stream.advance() {
            terms.push(Term::from_field_text(field, &stream.token().text));
        }
        LeadingPhraseQuery::new(terms)
    }

    fn term_query(&self, field: Field, text: &str) -> Box<dyn Query> {
        Box::new(TermQuery::new(
            Term::from_field_text(field, text),
            IndexRecordOption::Basic,
        ))
    }

    /// Restricts a query to attribution documents (not source records).
    fn entry_query(&self, query: Box<dyn Query>) -> Box<dyn Query> {
        Box::new(BooleanQuery::new(vec![
            (Occur::Must, query),
            (
                Occur::Must,
                Box::new(ConstScoreQuery::new(
                    self.term_query(self.fields.kind, "entry"),
                    0.0,
                )),
            ),
        ]))
    }

    fn entry_document(&self, entry: &TagEntry) -> TantivyDocument {
        let f = self.fields;
        let mut doc = TantivyDocument::default();
        doc.add_text(f.kind, "entry");
        doc.add_text(f.tag, entry.tag.to_string());
        doc.add_text(f.tag_folded, entry.tag.folded().to_string());
        doc.add_u64(f.is_pattern, u64::from(entry.is_pattern));
        // The owner's names for words: the kernel component's name first (`nt!mm` is the
        // Memory Manager), so text that starts with it leads a search for it.
        if let Some(name) = entry
            .owner
            .component
            .as_deref()
            .and_then(kernel_component_name)
        {
            doc.add_text(f.driver_text, name);
        }
        if let Some(driver) = &entry.owner.driver {
            doc.add_text(f.driver, driver);
            doc.add_text(f.driver_stem, driver_stem(driver));
            doc.add_text(f.driver_text, driver);
        }
        if let Some(component) = &entry.owner.component {
            doc.add_text(f.component, component);
        }
        doc.add_text(f.description, &entry.description);
        if let Some(vendor) = &entry.vendor {
            doc.add_text(f.vendor, vendor);
            doc.add_text(f.vendor_key, vendor_key(vendor));
        }
        if let Some(product) = &entry.product {
            doc.add_text(f.product, product);
        }
        if let Some(version) = &entry.version {
            doc.add_text(f.version, version);
        }
        if let Some(sha256) = &entry.sha256 {
            doc.add_text(f.sha256, sha256);
        }
        doc.add_text(f.confidence, entry.confidence.as_str());
        doc.add_text(f.source, &entry.source);
        if let Some(line) = entry.line {
            doc.add_u64(f.line, line);
        }
        if !entry.provenance.is_empty()
            && let Ok(json) = serde_json::to_string(&entry.provenance)
        {
            doc.add_text(f.source_info, json);
        }
        doc
    }

    fn source_document(&self, info: &SourceInfo) -> Result<TantivyDocument, IndexError> {
        let mut doc = TantivyDocument::default();
        doc.add_text(self.fields.kind, "source");
        doc.add_text(self.fields.source, &info.name);
        doc.add_text(self.fields.source_kind, info.kind.as_str());
        if let Some(driver) = &info.driver {
            let name = driver.driver_name();
            doc.add_text(self.fields.driver_stem, driver_stem(&name));
            doc.add_text(self.fields.driver, name);
        }
        let json = serde_json::to_string(info).map_err(|e| IndexError::Corrupt(e.to_string()))?;
        doc.add_text(self.fields.source_info, json);
        Ok(doc)
    }

    fn load_entries(
        &self,
        searcher: &Searcher,
        query: &dyn Query,
    ) -> Result<Vec<TagEntry>, IndexError> {
        // Unscored: callers sort what they get, and a TopDocs of MAX_GROUP would score every
        // hit and reserve that many slots per segment.
        let mut addresses: Vec<DocAddress> = searcher
            .search(query, &DocSetCollector)?
            .into_iter()
            .collect();
        addresses.sort_unstable();
        addresses.truncate(MAX_GROUP);
        addresses
            .into_iter()
            .map(|address| self.load_entry(searcher, address))
            .collect()
    }

    fn load_entry(&self, searcher: &Searcher, address: DocAddress) -> Result<TagEntry, IndexError> {
        let f = self.fields;
        let doc: TantivyDocument = searcher.doc(address)?;
        let text = |field| {
            doc.get_first(field)
                .and_then(|v| v.as_str().map(str::to_owned))
        };
        let tag_text =
            text(f.tag).ok_or_else(|| IndexError::Corrupt("entry without tag".into()))?;
        let tag = PoolTag::parse(&tag_text).map_err(|e| IndexError::Corrupt(e.to_string()))?;
        let confidence = text(f.confidence)
            .and_then(|c| c.parse::<Confidence>().ok())
            .ok_or_else(|| IndexError::Corrupt(format!("entry {tag} without confidence")))?;
        let provenance = match text(f.source_info) {
            Some(json) => serde_json::from_str(&json)
                .map_err(|e| IndexError::Corrupt(format!("provenance of entry {tag}: {e}")))?,
            None => Provenance::default(),
        };
        Ok(TagEntry {
            tag,
            is_pattern: doc.get_first(f.is_pattern).and_then(|v| v.as_u64()) == Some(1),
            owner: DriverOwner {
                driver: text(f.driver),
                component: text(f.component),
            },
            description: text(f.description).unwrap_or_default(),
            vendor: text(f.vendor),
            product: text(f.product),
            version: text(f.version),
            sha256: text(f.sha256),
            confidence,
            source: text(f.source).unwrap_or_default(),
            line: doc.get_first(f.line).and_then(|v| v.as_u64()),
            provenance,
        })
    }

    fn load_source(
        &self,
        searcher: &Searcher,
        address: DocAddress,
    ) -> Result<SourceInfo, IndexError> {
        let doc: TantivyDocument = searcher.doc(address)?;
        let json = doc
            .get_first(self.fields.source_info)
            .and_then(|v| v.as_str().map(str::to_owned))
            .ok_or_else(|| IndexError::Corrupt("source record without info".into()))?;
        serde_json::from_str(&json).map_err(|e| IndexError::Corrupt(e.to_string()))
    }

    /// Counts per source kind, for status pages.
    pub fn stats(&self) -> Result<IndexStats, IndexError> {
        let searcher = self.searcher();
        let count = |kind: &str, source_kind: SourceKind| -> Result<u64, IndexError> {
            let query = BooleanQuery::new(vec![
                (Occur::Must, self.term_query(self.fields.kind, kind)),
                (
                    Occur::Must,
                    self.term_query(self.fields.source_kind, source_kind.as_str()),
                ),
            ]);
            Ok(searcher.search(&query, &Count)? as u64)
        };
        let mut by_kind = BTreeMap::new();
        let mut sources = 0;
        for kind in [SourceKind::Default, SourceKind::List, SourceKind::Driver] {
            by_kind.insert(kind.as_str(), count("entry", kind)?);
            sources += count("source", kind)?;
        }
        Ok(IndexStats {
            entries: self.entry_count()?,
            sources,
            entries_by_source_kind: by_kind,
        })
    }

    /// True when nothing at all has ever been stored (a fresh data directory).
    pub fn is_empty(&self) -> Result<bool, IndexError> {
        Ok(self.searcher().search(&AllQuery, &Count)? == 0)
    }

    /// Checks that the index answers a query: used by readiness probes.
    pub fn check_readable(&self) -> Result<(), IndexError> {
        self.entry_count().map(|_| ())
    }

    pub fn index(&self) -> &Index {
        &self.index
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IndexStats {
    pub entries: u64,
    pub sources: u64,
    pub entries_by_source_kind: BTreeMap<&'static str, u64>,
}

/// Quotes keep blanks: the search text `"Io  "` is the tag `Io  `.
/// Removes the index files no commit references; a failure only leaves them for the next try.
fn collect_garbage(writer: &IndexWriter) {
    match writer.garbage_collect_files().wait() {
        Ok(result) if !result.deleted_files.is_empty() => {
            tracing::info!(files = ?result.deleted_files, "removed index files no commit uses");
        }
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, "removing unused index files failed; retried later"),
    }
}

/// Writes a marker file (the schema version, a seeded list's version) whole or not at all; a
/// full disk is said to be one.
pub(crate) fn write_marker(path: &Path, version: &str) -> Result<(), IndexError> {
    crate::disk::write_atomically(path, version.as_bytes()).map_err(|source| {
        let dir = path.parent().unwrap_or(path).to_owned();
        if crate::disk::is_full(&source) {
            IndexError::DiskFull {
                free_bytes: crate::disk::free_bytes(&dir),
                dir,
            }
        } else {
            IndexError::DataDir { dir, source }
        }
    })
}

fn unquoted(text: &str) -> &str {
    text.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text)
}

/// The exact tag a search text names, when it names one: the search box reads it as that tag
/// first (a pattern such as `Ntf*` is not one tag).
pub fn exact_tag_query(text: &str) -> Option<PoolTag> {
    let text = unquoted(text.trim());
    if TagPattern::parse(text).is_some() {
        return None;
    }
    PoolTag::parse(text).ok()
}

/// Most trustworthy first, then by source and line for a stable order.
fn sort_attributions(entries: &mut [TagEntry]) {
    entries.sort_by(|a, b| {
        a.confidence
            .cmp(&b.confidence)
            .then_with(|| a.source.cmp(&b.source))
            .then_with(|| a.line.cmp(&b.line))
    });
}

/// A user's glob (`ntf*`) as a regex over whole terms. The wildcards are printable-ASCII
/// classes: Unicode `.` makes tantivy's automaton many times costlier to build, and driver
/// file names are ASCII (a non-ASCII name is still found by its exact name).
fn glob_to_regex(glob: &str) -> String {
    let mut out = String::new();
    for c in glob.chars() {
        match c {
            '*' => out.push_str("[ -~]*"),
            '?' => out.push_str("[ -~]"),
            c if c.is_ascii_alphanumeric() => out.push(c),
            c => {
                out.push('\\');
                out.push(c);
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Bulk reads for attribution (`crate::attribution`): it keeps an in-memory view of the whole
// knowledge base, rebuilt when the generation changes, because a snapshot asks about thousands
// of tags at once and per-tag document loads would cost tens of milliseconds.
// ---------------------------------------------------------------------------------------------
impl SearchIndex {
    /// A number that changes whenever a new commit becomes visible (after every import or
    /// delete), so caches derived from the index know when to rebuild.
    pub fn generation(&self) -> u64 {
        self.searcher().generation().generation_id()
    }

    /// Every attribution of one source, in the order of its list (by line, then tag), with no
    /// cap: an export holds them all.
    pub fn source_entries(&self, name: &str) -> Result<Vec<TagEntry>, IndexError> {
        let searcher = self.searcher();
        let query = self.entry_query(self.term_query(self.fields.source, name));
        let mut addresses: Vec<DocAddress> = searcher
            .search(&*query, &DocSetCollector)?
            .into_iter()
            .collect();
        addresses.sort();
        let mut entries = addresses
            .into_iter()
            .map(|address| self.load_entry(&searcher, address))
            .collect::<Result<Vec<_>, _>>()?;
        entries.sort_by(|a, b| a.line.cmp(&b.line).then_with(|| a.tag.cmp(&b.tag)));
        Ok(entries)
    }

    /// Every attribution in the knowledge base, with the generation they were read at.
    pub fn all_entries(&self) -> Result<(u64, Vec<TagEntry>), IndexError> {
        let searcher = self.searcher();
        let generation = searcher.generation().generation_id();
        let query = self.term_query(self.fields.kind, "entry");
        let mut addresses: Vec<DocAddress> = searcher
            .search(&*query, &DocSetCollector)?
            .into_iter()
            .collect();
        // Store order: consecutive documents share compressed blocks.
        addresses.sort();
        let entries = addresses
            .into_iter()
            .map(|address| self.load_entry(&searcher, address))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((generation, entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(tag: &str, driver: &str, description: &str, source: &str) -> TagEntry {
        TagEntry {
            tag: PoolTag::parse(tag).unwrap(),
            is_pattern: TagPattern::parse(tag).is_some(),
            owner: DriverOwner::from_list_field(driver),
            description: description.into(),
            vendor: Some("Contoso".into()),
            product: None,
            version: None,
            sha256: None,
            confidence: Confidence::List,
            source: source.into(),
            line: Some(1),
            provenance: Provenance::default(),
        }
    }

    fn source(name: &str, entries: u64) -> SourceInfo {
        SourceInfo {
            name: name.into(),
            kind: SourceKind::List,
            version: None,
            origin: None,
            driver_name: None,
            imported_at: "2026-11-26T00:00:00Z".into(),
            entries,
            driver: None,
        }
    }

    #[test]
    fn replace_keeps_other_sources_and_counts() {
        let dir = tempfile::tempdir().unwrap();
        let index = SearchIndex::open(dir.path()).unwrap();
        let a = [entry("LkaL", "leaky.sys", "leaky buffers", "a")];
        let b = [
            entry("Io", "nt!io", "io stuff", "b"),
            entry("Afd?", "afd.sys", "afd objects", "b"),
        ];
        index.replace_source(&source("a", 1), &a).unwrap();
        index.replace_source(&source("b", 2), &b).unwrap();
        let stats = index.replace_source(&source("a", 1), &a).unwrap();
        assert_eq!(
            stats,
            ReplaceStats {
                imported: 1,
                replaced: 1
            }
        );
        assert_eq!(index.entry_count().unwrap(), 3);
        assert_eq!(index.sources().unwrap().len(), 2);

        let io = index.tag_report(PoolTag::parse("Io  ").unwrap()).unwrap();
        assert_eq!(io.attributions.len(), 1);
        let afd = index.tag_report(PoolTag::parse("AfdZ").unwrap()).unwrap();
        assert!(afd.attributions.is_empty());
        assert_eq!(afd.pattern_matches.len(), 1);

        assert_eq!(index.delete_source("b").unwrap(), Some(2));
        assert_eq!(index.delete_source("b").unwrap(), None);
        assert_eq!(index.entry_count().unwrap(), 1);
    }

    #[test]
    fn search_ranks_exact_tag_before_case_variants_and_text() {
        let dir = tempfile::tempdir().unwrap();
        let index = SearchIndex::open(dir.path()).unwrap();
        let entries = [
            entry("lkal", "other.sys", "mentions LkaL in words", "s"),
            entry("LkaL", "leaky.sys", "the real one", "s"),
        ];
        index.replace_source(&source("s", 2), &entries).unwrap();
        let page = index.search("LkaL", 10, 0).unwrap();
        assert_eq!(page.total, 2);
        assert_eq!(
            page.hits[0].entry.owner.driver.as_deref(),
            Some("leaky.sys")
        );
        assert_eq!(page.hits[0].match_kind, MatchKind::Tag);
        assert_eq!(page.hits[1].match_kind, MatchKind::TagAnyCase);
        let by_driver = index.search("leaky", 10, 0).unwrap();
        assert_eq!(by_driver.hits[0].match_kind, MatchKind::Driver);
        let pattern = index.search("?kaL", 10, 0).unwrap();
        assert_eq!(pattern.hits[0].entry.tag, PoolTag::parse("LkaL").unwrap());
        assert_eq!(pattern.hits[0].match_kind, MatchKind::Tag);
    }

    #[test]
    fn a_second_writer_is_refused_with_a_hint() {
        let dir = tempfile::tempdir().unwrap();
        let _first = SearchIndex::open(dir.path()).unwrap();
        let second = SearchIndex::open(dir.path());
        assert!(matches!(second, Err(IndexError::Locked(_))));
    }

    #[test]
    fn versions_order_numerically() {
        let mut v = vec!["10.0.10", "10.0.9", "2.1", "10.0.9.1"];
        v.sort_by(|a, b| compare_version_texts(a, b));
        assert_eq!(v, ["2.1", "10.0.9", "10.0.9.1", "10.0.10"]);
    }
}
