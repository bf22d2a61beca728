//! Ingesting tag lists into the knowledge base: parse, attach provenance, replace the source.
//! The same path serves `poolsleuth import`, `POST /api/v1/lists` and the first-start seeding.

use serde::{Deserialize, Serialize};

use crate::catalogs::{CatalogStore, CatalogStoreError};
use crate::driver::authenticode::catalog::Catalog;
use crate::driver::authenticode::{SignatureCheck, SignatureStatus};
use crate::driver::{DriverAnalysis, FoundTag, TagKind};
use crate::index::{IndexError, SearchIndex};
use crate::knowledge::{
    Confidence, DriverOwner, Provenance, SourceInfo, SourceKind, TagEntry, validate_source_name,
};
use crate::pooltag_list::{ListError, ListFormat, ParsedList, SkippedLine, parse_list};
use crate::vendor::VendorDirectory;
use crate::version::Version;

/// The embedded starter knowledge base.
pub const DEFAULT_SOURCE: &str = "poolsleuth-default";
/// The embedded third-party tags read from open-source drivers' code, every row with its
/// source link.
pub const COMMUNITY_SOURCE: &str = "poolsleuth-community";
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
    #[error(transparent)]
    Causes(#[from] crate::causes::CauseError),
}

impl From<CatalogStoreError> for ImportError {
    fn from(error: CatalogStoreError) -> Self {
        let dir = match &error {
            CatalogStoreError::Damaged { path, .. } | CatalogStoreError::Write { path, .. } => {
                std::path::PathBuf::from(path)
            }
        };
        Self::Index(if error.is_disk_full() {
            IndexError::DiskFull {
                free_bytes: crate::disk::free_bytes(&dir),
                dir,
            }
        } else {
            IndexError::DataDir {
                dir,
                source: std::io::Error::other(error.to_string()),
            }
        })
    }
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
            "the source name {:?} is reserved (the embedded default and analyzed drivers); choose another",
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
    let (info, entries) = list_records(vendors, source, kind, parsed.entries);
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

/// The source record and attributions of a parsed list.
fn list_records(
    vendors: &VendorDirectory,
    source: &ListSource,
    kind: SourceKind,
    parsed_entries: Vec<crate::pooltag_list::ListEntry>,
) -> (SourceInfo, Vec<TagEntry>) {
    let entries: Vec<TagEntry> = parsed_entries
        .into_iter()
        .map(|e| TagEntry {
            vendor: match &e.vendor {
                Some(v) => Some(vendors.canonical_name(v)),
                None => windows_component_vendor(&e.owner),
            },
            tag: e.tag,
            is_pattern: e.is_pattern,
            owner: e.owner,
            description: e.description,
            product: e.product,
            version: e.version,
            sha256: e.sha256,
            // A row keeps the confidence an exported knowledge base gave it (a code-site
            // found by another server's scan stays one); a plain list row is a list fact.
            confidence: e.confidence.unwrap_or(Confidence::List),
            source: source.name.clone(),
            line: Some(e.line as u64),
            provenance: e.provenance,
        })
        .collect();
    let info = SourceInfo {
        name: source.name.clone(),
        kind,
        version: source.version.clone(),
        origin: source.origin.clone(),
        driver_name: None,
        imported_at: now_rfc3339(),
        entries: entries.len() as u64,
        driver: None,
    };
    (info, entries)
}

/// A row that names no vendor but an owner that ships with Windows (`nt!mm`, `ntfs.sys`,
/// `tcpip.sys`) is Microsoft's: the file names it, as the WDK's list names its owners.
fn windows_component_vendor(owner: &crate::knowledge::DriverOwner) -> Option<String> {
    owner
        .driver
        .as_deref()
        .filter(|d| crate::attribution::is_inbox(d))
        .map(|_| "Microsoft".to_owned())
}

/// What storing one analyzed driver did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DriverStoreStatus {
    /// New: its attributions are now in the knowledge base.
    Stored,
    /// A file with the same SHA-256 was analyzed before; nothing was stored twice.
    Duplicate,
}

/// The source name under which one driver file's attributions are stored.
/// Analyzed drivers are sources named `driver:<sha256>`; lists may not take such names.
pub const DRIVER_SOURCE_PREFIX: &str = "driver:";

pub fn driver_source_name(sha256: &str) -> String {
    format!("{DRIVER_SOURCE_PREFIX}{sha256}")
}

/// The vendor of a driver: its CompanyName, else its signer, through the vendor directory.
/// Microsoft's WHQL publisher signs third-party drivers too, so that signer alone names no
/// vendor; nor does a signer whose signature does not stand behind the file (changed after
/// signing, a bad signature, a WDK test certificate).
pub fn driver_vendor(analysis: &DriverAnalysis, vendors: &VendorDirectory) -> Option<String> {
    const WHQL_SIGNER: &str = crate::driver::authenticode::WHQL_SIGNER;
    let company = analysis
        .version
        .company_name
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    let signer = analysis
        .signer
        .as_deref()
        .filter(|_| analysis.signature.vouches())
        .filter(|s| !s.eq_ignore_ascii_case(WHQL_SIGNER));
    let known = |name: Option<&str>| name.and_then(|n| vendors.lookup(n)).map(|v| v.name.clone());
    known(company)
        .or_else(|| known(signer))
        .or_else(|| company.map(str::to_owned))
        .or_else(|| signer.map(str::to_owned))
}

/// Stores an analyzed driver: one attribution per tag it uses, under a source named after its
/// SHA-256, with the whole analysis kept on the source record. The same file twice is stored
/// once.
pub fn store_driver(
    index: &SearchIndex,
    vendors: &VendorDirectory,
    analysis: DriverAnalysis,
) -> Result<(DriverStoreStatus, u64), ImportError> {
    let mut batch = DriverBatch::default();
    let added = batch.add(index, vendors, analysis)?;
    batch.commit(index)?;
    Ok(added)
}

/// The stored analysis of a file already known by its SHA-256, if any: a scan checks this
/// before reading the file further, so a known file costs a hash and one lookup. An analysis
/// made before poolsleuth verified signatures (it has no Authenticode hashes) counts as not
/// known, so the file sent again is analyzed again and replaces it.
pub fn known_driver(index: &SearchIndex, sha256: &str) -> Result<Option<SourceInfo>, ImportError> {
    Ok(index
        .source(&driver_source_name(sha256))?
        .filter(|s| s.driver.as_ref().is_none_or(|a| a.authenticode.is_some())))
}

/// Analyzed drivers waiting for one index commit. A scan of hundreds of files commits a batch
/// at a time instead of once a file (each commit syncs the index files to disk); every driver
/// is still stored whole or not at all, and a crash loses at most the batch not yet committed.
#[derive(Default)]
pub struct DriverBatch {
    pending: Vec<(SourceInfo, Vec<TagEntry>)>,
}

impl DriverBatch {
    /// Adds a driver to the batch, unless the index or the batch already holds the same file.
    /// Returns what committing will have done and the attributions the file has.
    pub fn add(
        &mut self,
        index: &SearchIndex,
        vendors: &VendorDirectory,
        analysis: DriverAnalysis,
    ) -> Result<(DriverStoreStatus, u64), ImportError> {
        if let Some(existing) = known_driver(index, &analysis.sha256)? {
            return Ok((DriverStoreStatus::Duplicate, existing.entries));
        }
        let name = driver_source_name(&analysis.sha256);
        if let Some((info, _)) = self.pending.iter().find(|(info, _)| info.name == name) {
            return Ok((DriverStoreStatus::Duplicate, info.entries));
        }
        let mut analysis = analysis;
        apply_catalog(&mut analysis, index.catalogs());
        let (info, entries) = driver_source(name, analysis, vendors);
        let stored = entries.len() as u64;
        self.pending.push((info, entries));
        Ok((DriverStoreStatus::Stored, stored))
    }

    /// Drivers added since the last commit.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Commits every pending driver in one index commit. On an error nothing of the batch is
    /// stored, and the batch is left empty.
    pub fn commit(&mut self, index: &SearchIndex) -> Result<(), ImportError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        let sources: Vec<(&SourceInfo, &[TagEntry])> = pending
            .iter()
            .map(|(info, entries)| (info, entries.as_slice()))
            .collect();
        index.replace_sources(&sources)?;
        Ok(())
    }
}

/// Marks a driver catalog-signed when a valid stored catalog lists its Authenticode hash and
/// its embedded signature does not already verify. Returns whether it changed.
pub fn apply_catalog(analysis: &mut DriverAnalysis, catalogs: &CatalogStore) -> bool {
    if matches!(
        analysis.signature.status,
        SignatureStatus::Valid | SignatureStatus::CatalogSigned
    ) {
        return false;
    }
    let Some((catalog, signature)) = analysis
        .authenticode
        .as_ref()
        .and_then(|hashes| catalogs.vouching_for(hashes))
    else {
        return false;
    };
    let embedded = &analysis.signature;
    let problem = match embedded.status {
        SignatureStatus::HashMismatch | SignatureStatus::BadSignature => Some(format!(
            "the embedded signature does not verify ({}); the catalog lists the file as it is",
            embedded.summary()
        )),
        _ => None,
    };
    analysis.signature = SignatureCheck {
        status: SignatureStatus::CatalogSigned,
        catalog: Some(catalog),
        problem,
        signatures: embedded.signatures,
        ..signature
    };
    true
}

/// What storing catalogs did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CatalogStoreReport {
    /// Catalogs not stored before.
    pub stored: usize,
    /// Stored drivers that the new catalogs made catalog-signed.
    pub drivers_updated: usize,
}

/// Stores catalogs, then marks the stored drivers they list as catalog-signed: a catalog
/// uploaded after its drivers updates them, as a driver uploaded after its catalog reads it.
pub fn store_catalogs(
    index: &SearchIndex,
    vendors: &VendorDirectory,
    catalogs: &[Catalog],
) -> Result<(Vec<bool>, CatalogStoreReport), ImportError> {
    let added = index.catalogs().add(catalogs)?;
    let stored = added.iter().filter(|&&a| a).count();
    let mut report = CatalogStoreReport {
        stored,
        drivers_updated: 0,
    };
    if stored == 0 {
        return Ok((added, report));
    }
    let mut updated = Vec::new();
    for info in index.driver_sources()? {
        let Some(mut analysis) = info.driver.map(|a| *a) else {
            continue;
        };
        if !apply_catalog(&mut analysis, index.catalogs()) {
            continue;
        }
        let (mut new_info, entries) = driver_source(info.name, analysis, vendors);
        new_info.imported_at = info.imported_at;
        updated.push((new_info, entries));
    }
    if !updated.is_empty() {
        let sources: Vec<(&SourceInfo, &[TagEntry])> = updated
            .iter()
            .map(|(info, entries)| (info, entries.as_slice()))
            .collect();
        index.replace_sources(&sources)?;
    }
    report.drivers_updated = updated.len();
    Ok((added, report))
}

/// The source record and attributions of one analyzed driver.
fn driver_source(
    name: String,
    analysis: DriverAnalysis,
    vendors: &VendorDirectory,
) -> (SourceInfo, Vec<TagEntry>) {
    let driver = analysis.driver_name();
    let uploaded_as = analysis.uploaded_as();
    let vendor = driver_vendor(&analysis, vendors);
    let version = Version::of_driver(&analysis);
    let signature = analysis.signature.note();
    // A remove-lock tag alone makes the driver no owner of pool bytes under it: it is listed
    // with the driver's analysis, never as an attribution.
    let entries: Vec<TagEntry> = analysis
        .tags
        .iter()
        .filter(|found| found.kind.is_pool_tag())
        .map(|found| TagEntry {
            tag: found.tag,
            is_pattern: false,
            owner: DriverOwner {
                driver: Some(driver.clone()),
                component: None,
            },
            // What a person recognises: the file's own description; how the tag was found
            // goes with the evidence.
            description: analysis
                .version
                .file_description
                .clone()
                .filter(|d| !d.trim().is_empty())
                .unwrap_or_else(|| describe_found_tag(found)),
            vendor: vendor.clone(),
            product: analysis.version.product_name.clone(),
            version: version.clone(),
            sha256: Some(analysis.sha256.clone()),
            confidence: match found.kind {
                // Found at call sites in the code; the evidence note says what each is.
                TagKind::CodeSite
                | TagKind::GlobalInitialValue
                | TagKind::KmdfFramework
                | TagKind::RemoveLock => Confidence::CodeSite,
                TagKind::KmdfDefault => Confidence::KmdfDefault,
                TagKind::StringGuess => Confidence::StringGuess,
            },
            source: name.clone(),
            line: None,
            provenance: Provenance {
                source_url: None,
                source_note: Some(describe_found_tag(found)),
                uploaded_as: uploaded_as.clone(),
                signature: Some(signature.clone()),
            },
        })
        .collect();
    let info = SourceInfo {
        name,
        kind: SourceKind::Driver,
        version,
        origin: Some(analysis.file_name.clone()),
        driver_name: Some(driver),
        imported_at: now_rfc3339(),
        entries: entries.len() as u64,
        driver: Some(Box::new(analysis)),
    };
    (info, entries)
}

/// One line of evidence for an attribution found in a driver.
fn describe_found_tag(found: &FoundTag) -> String {
    let mut apis: Vec<&str> = found.sites.iter().map(|s| s.api.as_str()).collect();
    apis.sort_unstable();
    apis.dedup();
    let sites = format!(
        "{} at {} call site{}",
        apis.join(", "),
        found.sites.len(),
        if found.sites.len() == 1 { "" } else { "s" }
    );
    let mut text = match found.kind {
        TagKind::CodeSite => format!("Allocation tag passed to {sites}"),
        TagKind::GlobalInitialValue => format!(
            "Initial value of a global variable passed as the tag to {sites}; the driver may \
             change it at run time"
        ),
        TagKind::KmdfFramework => format!(
            "KMDF framework tag: the DriverPoolTag the driver sets at {sites}; the framework \
             allocates the driver's objects under it"
        ),
        TagKind::KmdfDefault => {
            "KMDF default tag (first four characters of the service name, assumed to be the \
             file name's); the driver's WdfDriverCreate sets no DriverPoolTag"
                .to_owned()
        }
        TagKind::RemoveLock => format!(
            "Remove-lock tag passed to {sites}; no pool is allocated under it unless Driver \
             Verifier is on"
        ),
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

/// A tag list compiled into the binary and seeded into every data directory.
#[derive(Debug, Clone, Copy)]
pub struct EmbeddedList {
    pub source: &'static str,
    /// Recorded on the source: where its rows came from.
    pub origin: &'static str,
    /// File beside the index that records that this list was seeded once. Each list has its
    /// own, so a list added in a later release is seeded into existing data directories too.
    marker: &'static str,
    text: &'static str,
}

/// The ~640 tags an admin meets most on a Windows server.
pub const DEFAULT_LIST: EmbeddedList = EmbeddedList {
    source: DEFAULT_SOURCE,
    origin: "embedded data/default_tags.csv",
    marker: "DEFAULT_SEEDED",
    text: include_str!("../data/default_tags.csv"),
};

/// Third-party drivers' tags, each row with the source line that shows it.
pub const COMMUNITY_LIST: EmbeddedList = EmbeddedList {
    source: COMMUNITY_SOURCE,
    origin: "community",
    marker: "COMMUNITY_SEEDED",
    text: include_str!("../data/community_tags.csv"),
};

/// The embedded lists, in seeding order.
pub const EMBEDDED_LISTS: [EmbeddedList; 2] = [DEFAULT_LIST, COMMUNITY_LIST];

impl EmbeddedList {
    /// Version label: the crate version plus a digest of the data, so a new binary with new
    /// data refreshes the source on start.
    pub fn version(&self) -> String {
        // FNV-1a: a stable fingerprint, not a security measure.
        let digest = self.text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
        format!("{}+{:08x}", env!("CARGO_PKG_VERSION"), digest as u32)
    }

    pub fn parse(&self) -> Result<ParsedList, ListError> {
        parse_list(self.text.as_bytes(), Some(ListFormat::Csv))
    }
}

/// What start-up did about one embedded list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeedOutcome {
    /// The data directory did not have the list yet and now has it.
    Seeded(u64),
    /// The list's source was older than this binary's and was refreshed.
    Refreshed(u64),
    /// Nothing to do (already current, or deliberately removed by an admin).
    Unchanged,
    /// An imported source of the same name is in the way; it is left as it is.
    NameTaken,
}

/// Seeds every embedded list that a data directory lacks, and refreshes outdated ones, in one
/// index commit (a fresh data directory is the fixed cost of every first `scan`); then the
/// embedded known causes, kept beside the index.
pub fn seed_embedded_lists(
    index: &SearchIndex,
    vendors: &VendorDirectory,
) -> Result<Vec<(&'static str, SeedOutcome)>, ImportError> {
    let mut outcomes = seed_lists(index, vendors, &EMBEDDED_LISTS)?;
    outcomes.push((
        crate::causes::CAUSES_SOURCE,
        crate::causes::seed_embedded_causes(index.causes())?,
    ));
    Ok(outcomes)
}

/// Seeds an index from one embedded list, or refreshes its outdated source. An admin who
/// deleted the source keeps it deleted: a marker file beside the index remembers that
/// seeding happened once. A source of that name that an admin imported is never replaced.
pub fn seed_list(
    index: &SearchIndex,
    vendors: &VendorDirectory,
    list: &EmbeddedList,
) -> Result<SeedOutcome, ImportError> {
    let mut seeded = seed_lists(index, vendors, std::slice::from_ref(list))?;
    Ok(seeded.swap_remove(0).1)
}

fn seed_lists(
    index: &SearchIndex,
    vendors: &VendorDirectory,
    lists: &[EmbeddedList],
) -> Result<Vec<(&'static str, SeedOutcome)>, ImportError> {
    let mut outcomes = Vec::with_capacity(lists.len());
    // Lists to store: the list, its version, the outcome its count makes, its records.
    let mut to_store = Vec::new();
    for list in lists {
        let marker = index.dir().join(list.marker);
        let seeded_before = marker.exists();
        let current = index.source(list.source)?;
        let version = list.version();
        let outcome: fn(u64) -> SeedOutcome = match &current {
            None if !seeded_before => SeedOutcome::Seeded,
            Some(info) if info.kind != SourceKind::Default => {
                outcomes.push((list.source, SeedOutcome::NameTaken));
                continue;
            }
            Some(info) if info.version.as_deref() != Some(version.as_str()) => {
                SeedOutcome::Refreshed
            }
            _ => {
                if !seeded_before {
                    write_marker(&marker, &version)?;
                }
                outcomes.push((list.source, SeedOutcome::Unchanged));
                continue;
            }
        };
        let source = ListSource {
            name: list.source.into(),
            version: Some(version.clone()),
            origin: Some(list.origin.into()),
            format: Some(ListFormat::Csv),
        };
        let (info, entries) =
            list_records(vendors, &source, SourceKind::Default, list.parse()?.entries);
        // Its outcome is set once it is stored.
        outcomes.push((list.source, SeedOutcome::Unchanged));
        to_store.push((outcomes.len() - 1, list, version, outcome, info, entries));
    }
    if to_store.is_empty() {
        return Ok(outcomes);
    }
    let sources: Vec<(&SourceInfo, &[TagEntry])> = to_store
        .iter()
        .map(|(.., info, entries)| (info, entries.as_slice()))
        .collect();
    let stats = index.replace_sources(&sources)?;
    for ((at, list, version, outcome, ..), stats) in to_store.iter().zip(stats) {
        write_marker(&index.dir().join(list.marker), version)?;
        outcomes[*at].1 = outcome(stats.imported);
    }
    Ok(outcomes)
}

/// Marks the data dir as seeded with a list (written after the seed commit, so a crash in
/// between only means the seed is checked again on the next start).
fn write_marker(marker: &std::path::Path, version: &str) -> Result<(), ImportError> {
    crate::index::write_marker(marker, version).map_err(ImportError::Index)
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
        let parsed = DEFAULT_LIST.parse().unwrap();
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

    /// The goal for the community list, and what makes each row checkable: a source
    /// URL at a named commit and line, a driver, a vendor, and no (tag, driver) twice.
    #[test]
    fn the_community_list_cites_a_commit_and_line_for_every_row() {
        let parsed = COMMUNITY_LIST.parse().unwrap();
        assert!(parsed.skipped.is_empty(), "{:?}", parsed.skipped);
        let mut tags = std::collections::BTreeSet::new();
        let mut drivers = std::collections::BTreeSet::new();
        let mut vendors = std::collections::BTreeSet::new();
        let mut pairs = std::collections::BTreeSet::new();
        for entry in &parsed.entries {
            let url = entry.provenance.source_url.as_deref().unwrap_or_default();
            let commit = url
                .split("/blob/")
                .nth(1)
                .and_then(|rest| rest.split('/').next())
                .unwrap_or_default();
            assert!(
                url.starts_with("https://github.com/")
                    && commit.len() == 40
                    && commit.bytes().all(|b| b.is_ascii_hexdigit())
                    && url.contains("#L"),
                "line {}: {url:?} names no commit and line",
                entry.line
            );
            assert!(
                entry.provenance.source_note.is_some(),
                "line {}",
                entry.line
            );
            assert!(!entry.description.is_empty(), "line {}", entry.line);
            assert_eq!(entry.confidence, None, "line {}", entry.line);
            let driver = entry
                .owner
                .driver
                .clone()
                .expect("every row names its driver");
            assert!(
                pairs.insert((entry.tag, driver.clone())),
                "line {}: {} {driver} twice",
                entry.line,
                entry.tag
            );
            tags.insert(entry.tag);
            drivers.insert(driver);
            vendors.insert(entry.vendor.clone().expect("every row names its vendor"));
        }
        assert!(tags.len() >= 300, "{} tags", tags.len());
        assert!(drivers.len() >= 40, "{} drivers", drivers.len());
        assert!(vendors.len() >= 25, "{} vendors", vendors.len());
    }

    /// Source code writes a tag as a C character constant (`'Xyzw'`) or a number
    /// (`0x7A42484D`); the tag in memory, as poolmon shows it and as the list holds it, is
    /// that constant's bytes little-endian: reversed. Every row whose note quotes the constant
    /// is checked against that rule.
    #[test]
    fn community_tags_are_their_source_constants_in_memory_order() {
        let mut checked = 0;
        for entry in COMMUNITY_LIST.parse().unwrap().entries {
            let note = entry.provenance.source_note.unwrap_or_default();
            let constant = note
                .rsplit_once("' reversed")
                .and_then(|(before, _)| before.rsplit_once('\''))
                .map(|(_, constant)| PoolTag::parse(constant).unwrap());
            let number = note
                .split_once(" little-endian bytes")
                .and_then(|(before, _)| before.rsplit_once("0x"))
                .map(|(_, hex)| u32::from_str_radix(hex, 16).unwrap());
            if let Some(constant) = constant {
                assert_eq!(entry.tag, constant.reversed(), "line {}", entry.line);
                checked += 1;
            } else if let Some(number) = number {
                assert_eq!(
                    entry.tag,
                    PoolTag::from_u32_le(number),
                    "line {}",
                    entry.line
                );
                checked += 1;
            }
        }
        assert!(checked >= 380, "only {checked} rows quote their constant");
    }

    #[test]
    fn seeding_happens_once_and_respects_deletion() {
        let dir = tempfile::tempdir().unwrap();
        let index = SearchIndex::open(dir.path()).unwrap();
        let vendors = VendorDirectory::embedded();
        let seeded = seed_embedded_lists(&index, &vendors).unwrap();
        assert!(matches!(seeded[0], (DEFAULT_SOURCE, SeedOutcome::Seeded(n)) if n >= 300));
        assert!(matches!(seeded[1], (COMMUNITY_SOURCE, SeedOutcome::Seeded(n)) if n >= 300));
        assert!(
            seed_embedded_lists(&index, &vendors)
                .unwrap()
                .iter()
                .all(|(_, outcome)| *outcome == SeedOutcome::Unchanged)
        );
        let cont = index.tag_report(PoolTag::parse("Cont").unwrap()).unwrap();
        assert!(cont.is_known());
        index.delete_source(DEFAULT_SOURCE).unwrap();
        assert_eq!(
            seed_list(&index, &vendors, &DEFAULT_LIST).unwrap(),
            SeedOutcome::Unchanged
        );
        assert!(index.source(DEFAULT_SOURCE).unwrap().is_none());
    }

    /// A data directory seeded before the community list existed has the default's marker
    /// only: the community list is added, and nothing stored is touched.
    #[test]
    fn an_existing_data_dir_gains_the_community_list_and_keeps_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let index = SearchIndex::open(dir.path()).unwrap();
        let vendors = VendorDirectory::embedded();
        seed_list(&index, &vendors, &DEFAULT_LIST).unwrap();
        let mine = ListSource {
            name: "mine".into(),
            version: None,
            origin: None,
            format: None,
        };
        import_list(&index, &vendors, &mine, b"LkaL - lkal.sys - leaks\n").unwrap();
        let before = index.entry_count().unwrap();
        let seeded = seed_embedded_lists(&index, &vendors).unwrap();
        assert_eq!(seeded[0], (DEFAULT_SOURCE, SeedOutcome::Unchanged));
        let (_, SeedOutcome::Seeded(added)) = seeded[1] else {
            panic!("{seeded:?}");
        };
        assert_eq!(index.entry_count().unwrap(), before + added);
        let community = index.source(COMMUNITY_SOURCE).unwrap().unwrap();
        assert_eq!(community.origin.as_deref(), Some("community"));
        assert!(index.source("mine").unwrap().is_some());
    }

    #[test]
    fn an_imported_source_of_an_embedded_name_is_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let index = SearchIndex::open(dir.path()).unwrap();
        let vendors = VendorDirectory::embedded();
        let theirs = ListSource {
            name: COMMUNITY_SOURCE.into(),
            version: Some("theirs".into()),
            origin: None,
            format: None,
        };
        import_list(&index, &vendors, &theirs, b"LkaL - lkal.sys - leaks\n").unwrap();
        assert_eq!(
            seed_list(&index, &vendors, &COMMUNITY_LIST).unwrap(),
            SeedOutcome::NameTaken
        );
        assert_eq!(index.source(COMMUNITY_SOURCE).unwrap().unwrap().entries, 1);
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
