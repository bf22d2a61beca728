//! Ingesting tag lists into the knowledge base: parse, attach provenance, replace the source.
//! The same path serves `poolsleuth import`, `POST /api/v1/lists` and the first-start seeding.

use serde::{Deserialize, Serialize};

use crate::driver::{DriverAnalysis, FoundTag, TagKind};
use crate::index::{IndexError, SearchIndex};
use crate::knowledge::{
    Confidence, DriverOwner, SourceInfo, SourceKind, TagEntry, normalize_driver_name,
    validate_source_name,
};
use crate::pooltag_list::{ListError, ListFormat, ParsedList, SkippedLine, parse_list};
use crate::vendor::VendorDirectory;

/// The embedded starter knowledge base.
pub const DEFAULT_SOURCE: &str = "poolsleuth-default";
/// File beside the index that records that the default was seeded once.
const SEEDED_MARKER: &str = "DEFAULT_SEEDED";
const EMBEDDED_DEFAULT_TAGS: &str = include_str!("../data/default_tags.csv");
/// At most this many skipped lines are listed in a report; the count is always complete.
const MAX_REPORTED_SKIPS: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    BadSourceName(String),
    #[error(transparent)]
    List(#[from] ListError),
    #[error(transparent)]
    Index(#[from] IndexError),
}

/// What a list import did: the counts an admin checks, and the lines that were skipped.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImportReport {
    pub source: String,
    pub format: ListFormat,
    pub imported: u64,
    pub replaced: u64,
    pub skipped: u64,
    /// The first skipped lines with their reasons (all of them up to 200).
    pub skipped_lines: Vec<SkippedLine>,
}

/// Where a list came from and what to call it.
#[derive(Debug, Clone)]
pub struct ListSource {
    pub name: String,
    pub version: Option<String>,
    pub origin: Option<String>,
    pub format: Option<ListFormat>,
}

/// Parses `bytes` as a list and makes it the content of source `source.name`.
pub fn import_list(
    index: &SearchIndex,
    vendors: &VendorDirectory,
    source: &ListSource,
    bytes: &[u8],
) -> Result<ImportReport, ImportError> {
    validate_source_name(&source.name).map_err(ImportError::BadSourceName)?;
    if source.name == DEFAULT_SOURCE || source.name.starts_with(DRIVER_SOURCE_PREFIX) {
        return Err(ImportError::BadSourceName(format!(
            "the source name {:?} is reserved (the embedded default and analysed drivers); choose another",
            source.name
        )));
    }
    let parsed = parse_list(bytes, source.format)?;
    store(index, vendors, source, SourceKind::List, parsed)
}

fn store(
    index: &SearchIndex,
    vendors: &VendorDirectory,
    source: &ListSource,
    kind: SourceKind,
    parsed: ParsedList,
) -> Result<ImportReport, ImportError> {
    let entries: Vec<TagEntry> = parsed
        .entries
        .into_iter()
        .map(|e| TagEntry {
            tag: e.tag,
            is_pattern: e.is_pattern,
            owner: e.owner,
            description: e.description,
            vendor: e.vendor.map(|v| vendors.canonical_name(&v)),
            product: e.product,
            version: e.version,
            sha256: None,
            confidence: Confidence::List,
            source: source.name.clone(),
            line: Some(e.line as u64),
        })
        .collect();
    let info = SourceInfo {
        name: source.name.clone(),
        kind,
        version: source.version.clone(),
        origin: source.origin.clone(),
        imported_at: now_rfc3339(),
        entries: entries.len() as u64,
        driver: None,
    };
    let stats = index.replace_source(&info, &entries)?;
    let skipped = parsed.skipped.len() as u64;
    let mut skipped_lines = parsed.skipped;
    skipped_lines.truncate(MAX_REPORTED_SKIPS);
    Ok(ImportReport {
        source: source.name.clone(),
        format: parsed.format,
        imported: stats.imported,
        replaced: stats.replaced,
        skipped,
        skipped_lines,
    })
}

/// What storing one analysed driver did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DriverStoreStatus {
    /// New: its attributions are now in the knowledge base.
    Stored,
    /// A file with the same SHA-256 was analysed before; nothing was stored twice.
    Duplicate,
}

/// The source name under which one driver file's attributions are stored.
/// Analysed drivers are sources named `driver:<sha256>`; lists may not take such names.
const DRIVER_SOURCE_PREFIX: &str = "driver:";

pub fn driver_source_name(sha256: &str) -> String {
    format!("{DRIVER_SOURCE_PREFIX}{sha256}")
}

/// The vendor of a driver: its CompanyName, else its signer, through the vendor directory.
/// Microsoft's WHQL publisher signs third-party drivers too, so that signer alone names no
/// vendor.
pub fn driver_vendor(analysis: &DriverAnalysis, vendors: &VendorDirectory) -> Option<String> {
    const WHQL_SIGNER: &str = "Microsoft Windows Hardware Compatibility Publisher";
    let company = analysis
        .version
        .company_name
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    let signer = analysis
        .signer
        .as_deref()
        .filter(|s| !s.eq_ignore_ascii_case(WHQL_SIGNER));
    let known = |name: Option<&str>| name.and_then(|n| vendors.lookup(n)).map(|v| v.name.clone());
    known(company)
        .or_else(|| known(signer))
        .or_else(|| company.map(str::to_owned))
        .or_else(|| signer.map(str::to_owned))
}

/// The version a driver is known by: the fixed file version numbers, else the version string.
pub fn driver_version(analysis: &DriverAnalysis) -> Option<String> {
    analysis
        .version
        .file_version_numeric
        .map(|[a, b, c, d]| format!("{a}.{b}.{c}.{d}"))
        .or_else(|| {
            analysis
                .version
                .file_version
                .as_deref()
                .and_then(|v| v.split_whitespace().next())
                .map(str::to_owned)
        })
}

/// Stores an analysed driver: one attribution per tag it uses, under a source named after its
/// SHA-256, with the whole analysis kept on the source record. The same file twice is stored
/// once.
pub fn store_driver(
    index: &SearchIndex,
    vendors: &VendorDirectory,
    analysis: DriverAnalysis,
) -> Result<(DriverStoreStatus, u64), ImportError> {
    let name = driver_source_name(&analysis.sha256);
    if let Some(existing) = index.source(&name)? {
        return Ok((DriverStoreStatus::Duplicate, existing.entries));
    }
    let driver = normalize_driver_name(&analysis.file_name);
    let vendor = driver_vendor(&analysis, vendors);
    let version = driver_version(&analysis);
    let entries: Vec<TagEntry> = analysis
        .tags
        .iter()
        .map(|found| TagEntry {
            tag: found.tag,
            is_pattern: false,
            owner: DriverOwner {
                driver: Some(driver.clone()),
                component: None,
            },
            description: describe_found_tag(found),
            vendor: vendor.clone(),
            product: analysis.version.product_name.clone(),
            version: version.clone(),
            sha256: Some(analysis.sha256.clone()),
            confidence: match found.kind {
                TagKind::CodeSite => Confidence::CodeSite,
                TagKind::KmdfDefault => Confidence::KmdfDefault,
                TagKind::StringGuess => Confidence::StringGuess,
            },
            source: name.clone(),
            line: None,
        })
        .collect();
    let info = SourceInfo {
        name: name.clone(),
        kind: SourceKind::Driver,
        version,
        origin: Some(analysis.file_name.clone()),
        imported_at: now_rfc3339(),
        entries: entries.len() as u64,
        driver: Some(Box::new(analysis)),
    };
    let stats = index.replace_source(&info, &entries)?;
    Ok((DriverStoreStatus::Stored, stats.imported))
}

/// One line of evidence for an attribution found in a driver.
fn describe_found_tag(found: &FoundTag) -> String {
    let mut apis: Vec<&str> = found.sites.iter().map(|s| s.api.as_str()).collect();
    apis.sort_unstable();
    apis.dedup();
    let mut text = match found.kind {
        TagKind::CodeSite => format!(
            "Tag passed to {} at {} call site{}",
            apis.join(", "),
            found.sites.len(),
            if found.sites.len() == 1 { "" } else { "s" }
        ),
        TagKind::KmdfDefault => {
            "KMDF default tag (first four characters of the service name)".to_owned()
        }
        TagKind::StringGuess => {
            "Guess: a 4-byte string in a driver whose code showed no tag constant".to_owned()
        }
    };
    if let Some(first) = found.sites.first() {
        text.push_str(&format!(" (first at RVA {:#x})", first.rva));
    }
    if found.from_static_library {
        text.push_str("; from a statically linked WDK library, not the driver's own code");
    }
    text
}

/// Version label of the embedded default: the crate version plus a digest of the data, so a
/// new binary with new data refreshes the default source on start.
pub fn default_version() -> String {
    // FNV-1a: a stable fingerprint, not a security measure.
    let digest = EMBEDDED_DEFAULT_TAGS
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
    format!("{}+{:08x}", env!("CARGO_PKG_VERSION"), digest as u32)
}

/// What start-up did about the embedded default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeedOutcome {
    /// A fresh data directory was filled with the default.
    Seeded(u64),
    /// The default source was older than this binary's and was refreshed.
    Refreshed(u64),
    /// Nothing to do (already current, or deliberately removed by an admin).
    Unchanged,
}

/// Seeds a fresh index from the embedded default, or refreshes an outdated default source.
/// An admin who deleted the default source keeps it deleted: a marker file beside the index
/// remembers that seeding happened once.
pub fn seed_default(
    index: &SearchIndex,
    vendors: &VendorDirectory,
) -> Result<SeedOutcome, ImportError> {
    let marker = index.dir().join(SEEDED_MARKER);
    let seeded_before = marker.exists();
    let current = index.source(DEFAULT_SOURCE)?;
    let version = default_version();
    let outcome: fn(u64) -> SeedOutcome = match &current {
        None if !seeded_before => SeedOutcome::Seeded,
        Some(info) if info.version.as_deref() != Some(version.as_str()) => SeedOutcome::Refreshed,
        _ => {
            if !seeded_before {
                write_marker(&marker)?;
            }
            return Ok(SeedOutcome::Unchanged);
        }
    };
    let parsed = parse_list(EMBEDDED_DEFAULT_TAGS.as_bytes(), Some(ListFormat::Csv))?;
    let source = ListSource {
        name: DEFAULT_SOURCE.into(),
        version: Some(version),
        origin: Some("embedded data/default_tags.csv".into()),
        format: Some(ListFormat::Csv),
    };
    let report = store(index, vendors, &source, SourceKind::Default, parsed)?;
    write_marker(&marker)?;
    Ok(outcome(report.imported))
}

/// Marks the data dir as seeded (written after the seed commit, so a crash in between only
/// means the seed is checked again on the next start).
fn write_marker(marker: &std::path::Path) -> Result<(), ImportError> {
    std::fs::write(marker, default_version()).map_err(|source| {
        ImportError::Index(IndexError::DataDir {
            dir: marker.to_owned(),
            source,
        })
    })
}

pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tag::PoolTag;

    #[test]
    fn the_embedded_default_is_complete_and_clean() {
        let parsed = parse_list(EMBEDDED_DEFAULT_TAGS.as_bytes(), Some(ListFormat::Csv)).unwrap();
        assert!(parsed.skipped.is_empty(), "{:?}", parsed.skipped);
        assert!(parsed.entries.len() >= 300, "{}", parsed.entries.len());
        let vendors = VendorDirectory::embedded();
        for entry in &parsed.entries {
            assert!(!entry.description.is_empty(), "line {}", entry.line);
            if let Some(vendor) = &entry.vendor {
                assert!(
                    vendors.lookup(vendor).is_some(),
                    "line {}: vendor {vendor:?} is not in data/vendors.toml",
                    entry.line
                );
            }
        }
    }

    #[test]
    fn seeding_happens_once_and_respects_deletion() {
        let dir = tempfile::tempdir().unwrap();
        let index = SearchIndex::open(dir.path()).unwrap();
        let vendors = VendorDirectory::embedded();
        assert!(matches!(
            seed_default(&index, &vendors).unwrap(),
            SeedOutcome::Seeded(n) if n >= 300
        ));
        assert_eq!(
            seed_default(&index, &vendors).unwrap(),
            SeedOutcome::Unchanged
        );
        let cont = index.tag_report(PoolTag::parse("Cont").unwrap()).unwrap();
        assert!(cont.is_known());
        index.delete_source(DEFAULT_SOURCE).unwrap();
        assert_eq!(
            seed_default(&index, &vendors).unwrap(),
            SeedOutcome::Unchanged
        );
        assert!(index.source(DEFAULT_SOURCE).unwrap().is_none());
    }

    #[test]
    fn a_failed_import_leaves_the_source_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let index = SearchIndex::open(dir.path()).unwrap();
        let vendors = VendorDirectory::embedded();
        let source = ListSource {
            name: "mine".into(),
            version: None,
            origin: None,
            format: None,
        };
        let report = import_list(&index, &vendors, &source, b"LkaL - lkal.sys - leaks\n").unwrap();
        assert_eq!((report.imported, report.replaced), (1, 0));
        let err = import_list(&index, &vendors, &source, b"garbage only\n").unwrap_err();
        assert!(matches!(
            err,
            ImportError::List(ListError::NothingUsable { .. })
        ));
        assert_eq!(index.entry_count().unwrap(), 1);
        let bad_name = ListSource {
            name: "no spaces".into(),
            ..source
        };
        assert!(matches!(
            import_list(&index, &vendors, &bad_name, b"LkaL - x.sys - y\n"),
            Err(ImportError::BadSourceName(_))
        ));
    }
}
