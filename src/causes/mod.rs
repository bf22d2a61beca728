//! Known causes: what public sources say is behind a pool tag. Most often the tag belongs to
//! Windows (`NtFC`, `Irp `, `Proc`, `Etwr`) while a third-party driver or an application keeps
//! the memory alive; sometimes it is a third-party tag that leaked until a named version.
//!
//! Every case cites the page that says so. Cases are knowledge like tag lists: a source's cases
//! are imported together and replace that source's previous ones, exported as CSV in the shape
//! they are imported, and seeded from `data/known_causes.csv` on a fresh install. Attribution
//! matches them against an analysis (`crate::attribution`); this module only holds them.

mod store;
mod table;
mod versions;

use std::fmt;

use rustc_hash::FxHashMap as HashMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::ToSchema;

use crate::snapshot::PoolKind;
use crate::tag::PoolTag;

pub use store::{
    CAUSES_SOURCE, CauseImportReport, CauseStore, import_causes, seed_embedded_causes,
};
pub use table::{CAUSE_COLUMNS, ParsedCauses, looks_like_causes, parse_causes, write_causes};
pub use versions::{VersionRange, is_version};

/// Why a set of cases was refused, or could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum CauseError {
    #[error("the file of known causes is empty")]
    Empty,
    #[error("the file looks binary (a NUL byte at offset {0}); send a CSV file")]
    Binary(usize),
    #[error(
        "the CSV header (line {line}) lacks the column{} {}; a file of known causes has the columns {}",
        if missing.len() == 1 { "" } else { "s" },
        missing.join(", "),
        CAUSE_COLUMNS.join(",")
    )]
    MissingColumns {
        line: usize,
        missing: Vec<&'static str>,
    },
    #[error(
        "no case could be read ({skipped} rows skipped; first problem: line {first_line}: {first_reason})"
    )]
    NothingUsable {
        skipped: usize,
        first_line: usize,
        first_reason: String,
    },
    #[error("{0}")]
    BadSourceName(String),
    #[error("the known causes in {path} cannot be read: {reason}")]
    Damaged { path: String, reason: String },
    #[error("cannot write the known causes to {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

impl CauseError {
    /// A write that failed for want of space: the same write works once space is free.
    pub fn is_disk_full(&self) -> bool {
        matches!(self, Self::Write { source, .. } if crate::disk::is_full(source))
    }
}

/// The pool a case's tags grow in.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum CausePool {
    Nonpaged,
    Paged,
    /// The case's tags are in both pools, or the source does not say.
    Either,
}

impl CausePool {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Nonpaged => "nonpaged",
            Self::Paged => "paged",
            Self::Either => "either",
        }
    }

    /// Reads the pool column: `nonpaged`, `paged`, `either` (and the spellings pool tools use).
    pub fn parse(text: &str) -> Option<Self> {
        match text
            .trim()
            .to_ascii_lowercase()
            .replace([' ', '-'], "")
            .as_str()
        {
            "nonpaged" | "nonp" | "nonpagedpool" => Some(Self::Nonpaged),
            "paged" | "pagedpool" => Some(Self::Paged),
            "either" | "both" | "" => Some(Self::Either),
            _ => None,
        }
    }

    /// Whether a row of `pool` can be this case's (a row of unknown pool can be any case's).
    pub fn covers(self, pool: PoolKind) -> bool {
        matches!(
            (self, pool),
            (Self::Either, _)
                | (_, PoolKind::Unknown)
                | (Self::Nonpaged, PoolKind::NonPaged)
                | (Self::Paged, PoolKind::Paged)
        )
    }
}

/// What a case's versions count.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum VersionsOf {
    /// The driver file's version (its version resource), as a driver list or a scan shows it:
    /// compared with the machine's.
    File,
    /// A Windows build or release: said, not compared.
    Windows,
    /// A product's release (`Npcap`, `Sandboxie Plus`), which need not be the driver file's
    /// version: said, not compared.
    Product(String),
}

impl VersionsOf {
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        match text.to_ascii_lowercase().as_str() {
            "" => None,
            "file" | "driver file" => Some(Self::File),
            "windows" | "windows build" => Some(Self::Windows),
            _ => Some(Self::Product(text.to_owned())),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::File => "file",
            Self::Windows => "windows",
            Self::Product(name) => name,
        }
    }
}

impl fmt::Display for VersionsOf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for VersionsOf {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for VersionsOf {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).ok_or_else(|| serde::de::Error::custom("empty versions_of"))
    }
}

/// One known case: the tags it grows, the cause, its fix, and the page that says so.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct KnownCause {
    /// Unique within its source (`amd-kmdag-proc`).
    pub id: String,
    /// The tags the case grows, exact (4 bytes, trailing blanks kept).
    pub tags: Vec<PoolTag>,
    pub pool: CausePool,
    /// The driver file behind it, lower-case (`wcifs.sys`), when the source names one.
    pub driver: Option<String>,
    /// The application, service or workload behind it or triggering it.
    pub application: Option<String>,
    pub vendor: Option<String>,
    /// What `affected_versions` and `fixed_version` count: `file` (the driver file's version,
    /// compared with the machine's), `windows` (a Windows build), or a product's name.
    #[schema(value_type = Option<String>, example = "file")]
    pub versions_of: Option<VersionsOf>,
    /// As the source gives them; for `file`, clauses such as `=1.2.3.4`, `<2.0`, `>=1.76`.
    pub affected_versions: Option<String>,
    /// The first version without the leak, as the source gives it.
    pub fixed_version: Option<String>,
    pub workaround: Option<String>,
    /// What the growth looks like per the source: tags in lockstep, allocations far above
    /// frees, a rate, the trigger.
    pub signature: Option<String>,
    /// The page that says so.
    pub url: String,
    /// The page that gives the fix, when another one does.
    pub fix_url: Option<String>,
    /// One line: what happens.
    pub summary: String,
    /// The source (the imported file of cases) the case came from.
    pub source: String,
    /// Line of the case in that file.
    pub line: u64,
}

impl KnownCause {
    /// What a person calls the cause: the driver, else the application.
    pub fn cause(&self) -> &str {
        self.driver
            .as_deref()
            .or(self.application.as_deref())
            .unwrap_or("(not named)")
    }

    /// The affected range, when the case's versions are the driver file's and the source
    /// gives a range this reads.
    pub fn file_range(&self) -> Option<VersionRange> {
        (self.versions_of == Some(VersionsOf::File))
            .then(|| VersionRange::parse(self.affected_versions.as_deref()?).ok())
            .flatten()
    }

    /// The first fixed version of the driver file, when the case's versions are the file's.
    pub fn fixed_file_version(&self) -> Option<&str> {
        (self.versions_of == Some(VersionsOf::File))
            .then_some(self.fixed_version.as_deref())
            .flatten()
            .filter(|v| is_version(v))
    }

    /// The fix as the source gives it, in words (`fixed in Npcap 0.9996`).
    pub fn fix_words(&self) -> Option<String> {
        let fixed = self.fixed_version.as_deref()?;
        Some(match &self.versions_of {
            Some(VersionsOf::File) => format!(
                "fixed in {} {fixed}",
                self.driver.as_deref().unwrap_or("version")
            ),
            Some(VersionsOf::Product(product)) => format!("fixed in {product} {fixed}"),
            Some(VersionsOf::Windows) | None => format!("fixed by {fixed}"),
        })
    }

    /// The page that gives the fix: its own, else the case's.
    pub fn fix_source(&self) -> &str {
        self.fix_url.as_deref().unwrap_or(&self.url)
    }
}

/// A source of cases, kept beside them: where they came from and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CauseSource {
    pub name: String,
    /// `default` for the cases compiled into poolsleuth, `list` for an imported file.
    pub kind: crate::knowledge::SourceKind,
    pub version: Option<String>,
    /// A file name or URL.
    pub origin: Option<String>,
    /// RFC 3339 time of the import.
    pub imported_at: String,
    pub cases: u64,
}

/// Every known case, indexed by tag: what an analysis and the pages read.
#[derive(Debug, Default)]
pub struct CauseBook {
    sources: Vec<CauseSource>,
    cases: Vec<KnownCause>,
    by_tag: HashMap<PoolTag, Vec<usize>>,
}

impl CauseBook {
    pub fn new(sources: Vec<CauseSource>, mut cases: Vec<KnownCause>) -> Self {
        cases.sort_by(|a, b| {
            a.source
                .cmp(&b.source)
                .then(a.line.cmp(&b.line))
                .then_with(|| a.id.cmp(&b.id))
        });
        let mut by_tag: HashMap<PoolTag, Vec<usize>> = HashMap::default();
        for (i, case) in cases.iter().enumerate() {
            for tag in &case.tags {
                let slot = by_tag.entry(*tag).or_default();
                if !slot.contains(&i) {
                    slot.push(i);
                }
            }
        }
        Self {
            sources,
            cases,
            by_tag,
        }
    }

    /// Every case, by source and line.
    pub fn cases(&self) -> &[KnownCause] {
        &self.cases
    }

    pub fn sources(&self) -> &[CauseSource] {
        &self.sources
    }

    /// The cases that name `tag`, by source and line.
    pub fn for_tag(&self, tag: PoolTag) -> impl Iterator<Item = &KnownCause> {
        self.by_tag
            .get(&tag)
            .into_iter()
            .flatten()
            .map(|&i| &self.cases[i])
    }

    pub fn is_empty(&self) -> bool {
        self.cases.is_empty()
    }

    pub fn len(&self) -> usize {
        self.cases.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_cover_rows_of_their_pool_and_of_unknown_pool() {
        assert!(CausePool::Nonpaged.covers(PoolKind::NonPaged));
        assert!(!CausePool::Nonpaged.covers(PoolKind::Paged));
        assert!(CausePool::Paged.covers(PoolKind::Unknown));
        assert!(CausePool::Either.covers(PoolKind::Paged));
        assert_eq!(CausePool::parse("Non Paged"), Some(CausePool::Nonpaged));
        assert_eq!(CausePool::parse("sometimes"), None);
    }

    #[test]
    fn versions_of_reads_file_windows_and_products() {
        assert_eq!(VersionsOf::parse("file"), Some(VersionsOf::File));
        assert_eq!(VersionsOf::parse("Windows"), Some(VersionsOf::Windows));
        assert_eq!(
            VersionsOf::parse("Npcap"),
            Some(VersionsOf::Product("Npcap".into()))
        );
        assert_eq!(VersionsOf::parse(" "), None);
    }
}
