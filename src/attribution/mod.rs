//! Attribution: pool snapshots in, ranked suspect drivers with vendor guidance out.
//!
//! [`read_inputs`] parses one or more snapshot files (any format of [`crate::snapshot`]) and an
//! optional loaded-driver list; [`analyze`] ranks tags and drivers against a
//! [`KnowledgeView`] of the knowledge base. The scoring model, in the words the README uses:
//!
//! * **Tag score.** `normal` is the tag's typical maximum from `data/normal_tags.csv`, else
//!   32 MiB. One snapshot: `score = bytes / normal`. A series: `score = growth / normal ×
//!   steadiness + bytes / normal / 10`, where `growth` is the least-squares slope over all
//!   points projected over a day (bytes/hour × 24), or over the whole series when the snapshots
//!   carry no times, counted only when positive; `steadiness = R² × share of rising intervals`.
//! * **Candidate weight** = evidence (verifier caller 1.0, code-site 0.9, KMDF default 0.6,
//!   list 0.6, snapshot's own driver column 0.5, wildcard list row 0.4, string guess 0.3, same
//!   growth group 0.3, filter driver above an OS tag 0.1) × 0.25 when a driver list is given and
//!   the driver is not in it × 0.3 for OS components.
//! * **Driver score** = Σ over its tags of `tag score × candidate weight ÷ number of drivers
//!   named for that tag`.

mod answer;
mod guidance;
mod kb;
mod normal;
mod render;
mod stats;
mod tag_table;

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashSet;
use std::sync::OnceLock;

use rustc_hash::FxHashMap as HashMap;
use smallvec::SmallVec;

use serde::Serialize;
use time::OffsetDateTime;

pub use answer::{Answer, AnswerKind};
pub use guidance::{GuidanceKind, PoolTrace, pool_traces};
pub use kb::{
    Attribution, DriverFacts, KnowledgeCache, KnowledgeCacheStatus, KnowledgeView, TagLocation,
};
pub use normal::{DEFAULT_NORMAL_MIB, NormalTable, NormalTag};
pub use render::{human_bytes, render_text};
pub use stats::{LineFit, linear_fit, pearson};

use crate::excerpt::bound_message;
use crate::index::IndexError;
use crate::knowledge::{Confidence, TagEntry, module_file_name, normalize_driver_name};
use crate::snapshot::{
    LoadedDriver, POWERSHELL_DRIVER_LIST, ParseOptions, PoolKind, PoolTotals, Snapshot,
    SnapshotError, SnapshotFormat, mapped_driver_files, parse_driver_list, parse_snapshots,
};
use crate::tag::PoolTag;
use crate::vendor::VendorDirectory;

const INBOX_DRIVERS: &str = include_str!("inbox_drivers.txt");

/// Why an analysis could not start.
#[derive(Debug, thiserror::Error)]
pub enum AttributionError {
    #[error(
        "no snapshot given: send a poolmon screen or log, !poolused or !verifier output, CSV/TSV, a markdown table or JSON"
    )]
    NoInput,
    /// A snapshot file could not be read; `file` names it when there were several.
    #[error("{}{error}", file.as_deref().map(|f| format!("{f}: ")).unwrap_or_default())]
    Snapshot {
        file: Option<String>,
        error: SnapshotError,
    },
    #[error("driver list: {0}")]
    DriverList(SnapshotError),
    #[error(transparent)]
    Index(#[from] IndexError),
}

/// One uploaded file.
#[derive(Debug, Clone)]
pub struct InputFile {
    pub name: Option<String>,
    pub bytes: Vec<u8>,
}

/// What [`read_inputs`] read, ready for [`analyze`].
#[derive(Debug, Clone, Default)]
pub struct AnalysisInput {
    /// In time order when every snapshot has a time, in file order otherwise.
    pub snapshots: Vec<Snapshot>,
    pub drivers: Option<Vec<LoadedDriver>>,
    pub files: Vec<FileSummary>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FileSummary {
    pub name: Option<String>,
    pub format: SnapshotFormat,
    pub snapshots: usize,
    pub rows: usize,
    pub warnings: usize,
    pub truncated: bool,
}

/// Parses the snapshot files (a series when there are several) and the optional driver list.
pub fn read_inputs(
    files: &[InputFile],
    drivers: Option<&[u8]>,
    format: Option<SnapshotFormat>,
) -> Result<AnalysisInput, AttributionError> {
    let files: Vec<&InputFile> = files
        .iter()
        .filter(|f| f.bytes.iter().any(|b| !b.is_ascii_whitespace()))
        .collect();
    if files.is_empty() {
        return Err(AttributionError::NoInput);
    }
    let options = ParseOptions {
        format,
        ..ParseOptions::default()
    };
    let named = files.len() > 1;
    let mut input = AnalysisInput::default();
    for file in &files {
        let parsed =
            parse_snapshots(&file.bytes, &options).map_err(|error| AttributionError::Snapshot {
                file: named.then(|| file.name.clone().unwrap_or_else(|| "a file".into())),
                error,
            })?;
        let prefix = file
            .name
            .as_deref()
            .filter(|_| named)
            .map(|n| format!("{n}: "))
            .unwrap_or_default();
        input.warnings.extend(
            parsed
                .warnings
                .iter()
                .take(20)
                .map(|w| format!("{prefix}line {}: {}", w.line, bound_message(&w.message))),
        );
        input.files.push(FileSummary {
            name: file.name.clone(),
            format: parsed.format,
            snapshots: parsed.snapshots.len(),
            rows: parsed.snapshots.iter().map(|s| s.rows.len()).sum(),
            warnings: parsed.warnings.len(),
            truncated: parsed.truncated,
        });
        input.snapshots.extend(parsed.snapshots);
    }
    if input.snapshots.len() > 1 && input.snapshots.iter().all(|s| s.taken_at.is_some()) {
        input.snapshots.sort_by_key(|s| s.taken_at);
    }
    // A last point taken after a fix shows whether the fix helped; the leak's course is the
    // points before it.
    if input.snapshots.len() > 2 && input.snapshots.last().is_some_and(|s| s.after_change) {
        let after = input
            .snapshots
            .pop()
            .and_then(|s| s.label)
            .unwrap_or_default();
        input.warnings.push(format!(
            "the last point ({after:?}) was taken after a change; growth is judged on the {} \
             points before it",
            input.snapshots.len()
        ));
    }
    if let Some(bytes) = drivers.filter(|b| b.iter().any(|c| !c.is_ascii_whitespace())) {
        input.drivers = Some(parse_driver_list(bytes).map_err(AttributionError::DriverList)?);
    }
    Ok(input)
}

/// Knobs of an analysis.
#[derive(Debug, Clone)]
pub struct AnalyzeOptions {
    /// Base URL of this server, for the `poolsleuth scan --server` hint.
    pub server_url: Option<String>,
    /// Per-tag findings returned (all tags count in the ranking).
    pub max_findings: usize,
    pub max_suspects: usize,
    /// Suspects that get a ready-to-send vendor report.
    pub max_reports: usize,
}

impl Default for AnalyzeOptions {
    fn default() -> Self {
        Self {
            server_url: None,
            max_findings: 50,
            max_suspects: 20,
            max_reports: 5,
        }
    }
}

/// How firm the verdict is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum VerdictStrength {
    /// One snapshot: size alone.
    Weak,
    /// Two snapshots, or growth that is not steady, or only list evidence for an OS tag.
    Moderate,
    /// Three or more snapshots with steady growth, pinned on a third-party driver.
    Strong,
}

impl VerdictStrength {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Weak => "weak",
            Self::Moderate => "moderate",
            Self::Strong => "strong",
        }
    }
}

/// Where a tag → driver link came from, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum EvidenceKind {
    /// `!verifier` listed the allocating caller (`module!function+off`).
    VerifierCaller,
    /// The tag constant was found at a pool-API call in the driver's code.
    CodeSite,
    /// KMDF's default tag (service name) — from the knowledge base or the driver list.
    KmdfDefault,
    /// A tag list (pooltag.txt, our default list, an imported CSV).
    List,
    /// The snapshot's own driver column (poolmon `/g`, `!poolused` description).
    SnapshotMapped,
    /// A wildcard row of a tag list (`Afd?`).
    ListPattern,
    /// A 4-byte string in the binary.
    StringGuess,
    /// Grows together with a tag this driver owns.
    SameGrowthGroup,
    /// A loaded third-party filter driver that could hold an OS-owned tag.
    FilterDriver,
}

impl EvidenceKind {
    /// The evidence weight of the scoring model.
    pub fn weight(self) -> f64 {
        match self {
            Self::VerifierCaller => 1.0,
            Self::CodeSite => 0.9,
            Self::KmdfDefault | Self::List => 0.6,
            Self::SnapshotMapped => 0.5,
            Self::ListPattern => 0.4,
            Self::StringGuess | Self::SameGrowthGroup => 0.3,
            Self::FilterDriver => 0.1,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::VerifierCaller => "verifier-caller",
            Self::CodeSite => "code-site",
            Self::KmdfDefault => "kmdf-default",
            Self::List => "list",
            Self::SnapshotMapped => "snapshot-mapped",
            Self::ListPattern => "list-pattern",
            Self::StringGuess => "string",
            Self::SameGrowthGroup => "same-growth-group",
            Self::FilterDriver => "filter-driver",
        }
    }

    fn from_confidence(c: Confidence) -> Self {
        match c {
            Confidence::CodeSite => Self::CodeSite,
            Confidence::KmdfDefault => Self::KmdfDefault,
            Confidence::List => Self::List,
            Confidence::StringGuess => Self::StringGuess,
        }
    }
}

/// Factor for a driver missing from a given driver list.
pub const NOT_LOADED_FACTOR: f64 = 0.25;
/// Factor for OS components (the OS itself rarely leaks).
pub const OS_FACTOR: f64 = 0.3;

/// Who owns a tag, as far as the evidence goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OwnerKind {
    ThirdParty,
    Os,
    Unknown,
}

impl OwnerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ThirdParty => "third-party",
            Self::Os => "os",
            Self::Unknown => "unknown",
        }
    }
}

/// The whole answer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Analysis {
    /// The answer first; everything below is its evidence.
    pub answer: Answer,
    pub verdict_strength: VerdictStrength,
    pub verdict: String,
    /// Ranked drivers, best first.
    pub suspects: Vec<Suspect>,
    /// Per-tag findings, highest score first (at most `max_findings`).
    pub findings: Vec<Finding>,
    /// Number of distinct (tag, pool) pairs analysed.
    pub findings_total: usize,
    pub groups: Vec<TagGroup>,
    pub unknown_tags: Vec<UnknownTag>,
    /// Present when the top tags belong to the OS.
    pub os_tags: Option<OsTagAdvice>,
    pub next_steps: Vec<String>,
    pub input: InputInfo,
    pub machine: MachineTotals,
    /// Which knowledge view answered.
    pub knowledge: KnowledgeUsed,
}

/// The knowledge view an analysis was answered from.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct KnowledgeUsed {
    /// Attributions in the view.
    pub entries: usize,
    /// False when an import changed the knowledge base after this view was built and its
    /// rebuild was still under way: the answer is from the knowledge base as it was before.
    pub current: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InputInfo {
    pub snapshots: usize,
    pub files: Vec<FileSummary>,
    /// `single`, `hours` (every snapshot has a time) or `samples` (a series without times).
    pub time_basis: &'static str,
    #[serde(with = "time::serde::rfc3339::option")]
    pub first_taken_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_taken_at: Option<OffsetDateTime>,
    pub span_hours: Option<f64>,
    /// Loaded drivers in the given list.
    pub driver_list: Option<usize>,
    pub warnings: Vec<String>,
    /// Labels of the snapshots in order (time, heading or `#n`), for charts.
    pub labels: Vec<String>,
}

/// System totals from the latest snapshot, where the tool printed them.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct MachineTotals {
    pub memory_bytes: Option<u64>,
    pub commit_bytes: Option<u64>,
    pub commit_limit_bytes: Option<u64>,
    pub paged_pool_bytes: Option<u64>,
    pub nonpaged_pool_bytes: Option<u64>,
    /// Sums over the rows of the latest snapshot.
    pub rows_paged_bytes: u64,
    pub rows_nonpaged_bytes: u64,
    pub rows_other_bytes: u64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Finding {
    pub tag: PoolTag,
    pub pool: PoolKind,
    /// Latest snapshot.
    pub bytes: u64,
    pub outstanding: Option<u64>,
    /// Of the pool's total (printed totals, else the sum of rows in that pool).
    pub pool_share: Option<f64>,
    pub normal_bytes: u64,
    /// `table` (data/normal_tags.csv) or `default` (32 MiB).
    pub normal_source: &'static str,
    pub normal_note: Option<String>,
    /// `bytes / normal_bytes`.
    pub size_ratio: f64,
    pub growth: Option<Growth>,
    pub score: f64,
    pub owner: OwnerKind,
    pub description: Option<String>,
    pub candidates: Vec<Candidate>,
    /// Index into `groups`.
    pub group: Option<usize>,
    /// Bytes per snapshot (series only).
    pub history: Vec<u64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Growth {
    pub first_bytes: u64,
    pub delta_bytes: i64,
    /// Least-squares slope over all points (only when every snapshot has a time).
    pub bytes_per_hour: Option<f64>,
    pub bytes_per_sample: f64,
    pub allocs_per_hour: Option<f64>,
    pub allocs_per_sample: Option<f64>,
    pub delta_outstanding: Option<i64>,
    pub r_squared: f64,
    pub rising_intervals: f64,
    /// `r_squared × rising_intervals`.
    pub steadiness: f64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Candidate {
    pub driver: String,
    pub component: Option<String>,
    pub vendor: Option<String>,
    pub evidence: EvidenceKind,
    pub confidence: Option<Confidence>,
    /// Knowledge-base source name, `snapshot`, `driver-list` or `group`.
    pub source: String,
    pub line: Option<u64>,
    /// The knowledge-base row's source link (a community list row cites one).
    pub source_url: Option<String>,
    pub detail: Option<String>,
    pub os_component: bool,
    pub loaded: Option<bool>,
    pub weight: f64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Suspect {
    pub rank: usize,
    pub driver: String,
    pub score: f64,
    /// Of the sum of all suspects' scores.
    pub share: f64,
    pub vendor: Option<String>,
    pub support_url: Option<String>,
    pub product: Option<String>,
    pub os_component: bool,
    pub loaded: Option<bool>,
    pub service_name: Option<String>,
    pub path: Option<String>,
    pub version_seen: Option<String>,
    /// `driver-list` or `knowledge-base`.
    pub version_source: Option<&'static str>,
    pub newest_known_version: Option<String>,
    pub sha256: Option<String>,
    pub best_evidence: EvidenceKind,
    pub guidance: Guidance,
    pub evidence: Vec<Evidence>,
    pub evidence_total: usize,
    /// Markdown, ready to send to the vendor.
    pub vendor_report: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Guidance {
    pub kind: GuidanceKind,
    pub text: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Evidence {
    pub tag: PoolTag,
    pub pool: PoolKind,
    pub bytes: u64,
    pub growth_bytes_per_hour: Option<f64>,
    pub growth_bytes_per_sample: Option<f64>,
    pub tag_score: f64,
    pub evidence: EvidenceKind,
    pub confidence: Option<Confidence>,
    pub source: String,
    pub line: Option<u64>,
    /// The knowledge-base row's source link (a community list row cites one).
    pub source_url: Option<String>,
    pub detail: Option<String>,
    pub weight: f64,
    /// Drivers named for this tag (the score is shared among them).
    pub claimants: usize,
    /// `tag_score × weight ÷ claimants`.
    pub contribution: f64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TagGroup {
    pub id: usize,
    pub tags: Vec<PoolTag>,
    pub pools: Vec<PoolKind>,
    pub reason: String,
    pub total_bytes: u64,
    /// Drivers named for any tag of the group.
    pub drivers: Vec<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UnknownTag {
    pub tag: PoolTag,
    pub pool: PoolKind,
    pub bytes: u64,
    pub score: f64,
    pub growth_bytes_per_hour: Option<f64>,
    /// Tags differing only in case that the knowledge base knows.
    pub next_steps: Vec<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OsTagAdvice {
    pub tags: Vec<PoolTag>,
    pub message: String,
    /// Loaded third-party filter drivers named as lower-confidence suspects.
    pub filter_drivers: Vec<String>,
    pub traces: Vec<PoolTrace>,
}

/// The least growth over a series for a tag to be grouped with another (64 KiB).
const GROUP_MIN_GROWTH_BYTES: i64 = 64 << 10;

/// Ranks tags and drivers. Never fails: whatever the snapshots hold gives an answer.
pub fn analyze(
    input: &AnalysisInput,
    kb: &KnowledgeView,
    vendors: &VendorDirectory,
    options: &AnalyzeOptions,
) -> Analysis {
    Analyzer::new(input, kb, vendors, options).run()
}

/// One (tag, pool) over the series; its numbers live in [`SeriesTable`].
struct Series<'a> {
    tag: PoolTag,
    pool: PoolKind,
    /// Boxed: only snapshots with a driver column or `!verifier` callers have any, and the
    /// 3,000 series of a big poolmon screen stay 16 bytes each.
    texts: Option<Box<SeriesTexts<'a>>>,
}

#[derive(Default)]
struct SeriesTexts<'a> {
    /// The snapshot's driver column (distinct, at most 4).
    mapped: Vec<&'a str>,
    /// `!verifier` callers (distinct, at most 16).
    callers: Vec<&'a str>,
}

impl<'a> Series<'a> {
    fn mapped(&self) -> &[&'a str] {
        self.texts.as_ref().map_or(&[], |t| &t.mapped)
    }

    fn callers(&self) -> &[&'a str] {
        self.texts.as_ref().map_or(&[], |t| &t.callers)
    }
}

/// Every (tag, pool) of the input with its numbers per snapshot, stored flat (one allocation
/// for all tags instead of two per tag).
struct SeriesTable<'a> {
    n: usize,
    series: Vec<Series<'a>>,
    bytes: Vec<u64>,
    outstanding: Vec<Option<u64>>,
}

impl SeriesTable<'_> {
    fn bytes(&self, i: usize) -> &[u64] {
        &self.bytes[i * self.n..(i + 1) * self.n]
    }

    fn outstanding(&self, i: usize) -> &[Option<u64>] {
        &self.outstanding[i * self.n..(i + 1) * self.n]
    }
}

/// A candidate while ranking: borrowed from the knowledge view where possible, and small
/// (32 bytes), as most of a big snapshot's tags carry one.
#[derive(Clone)]
struct Cand<'a> {
    /// The driver's number (see [`Analyzer::driver_id`]): candidates are compared and summed
    /// per driver by number, not by name.
    driver_id: u32,
    kind: EvidenceKind,
    os: bool,
    loaded: Option<bool>,
    weight: f64,
    entry: Option<&'a TagEntry>,
    /// What a candidate from anywhere but an exact knowledge-base attribution carries. Those
    /// are few, and a knowledge-base candidate's name is in the view's name table
    /// ([`Analyzer::name`]), read only for the candidates shown.
    extra: Option<Box<CandExtra<'a>>>,
}

const _: () = assert!(std::mem::size_of::<Cand<'static>>() <= 32);

/// The name and origin of a candidate that is not an exact knowledge-base attribution.
#[derive(Clone)]
struct CandExtra<'a> {
    driver: Cow<'a, str>,
    /// Where a candidate without a knowledge-base entry came from: `snapshot`, `driver-list`
    /// or `group` (empty for a wildcard row, whose entry says).
    origin: &'static str,
    detail: Option<String>,
}

impl<'a> Cand<'a> {
    /// The knowledge-base source name, or the origin of a candidate without an entry (read
    /// only for the candidates shown: the entry is not touched while ranking).
    fn source(&self) -> &'a str {
        match (self.entry, &self.extra) {
            (Some(e), _) => e.source.as_str(),
            (None, Some(extra)) => extra.origin,
            (None, None) => "",
        }
    }

    fn detail(&self) -> Option<String> {
        self.extra.as_ref().and_then(|x| x.detail.clone())
    }

    fn source_url(&self) -> Option<String> {
        self.entry.and_then(|e| e.provenance.source_url.clone())
    }
}

/// One (tag, pool) while ranking: what every tag needs. The full [`Finding`] is built only for
/// the tags the answer shows.
struct Work<'a> {
    /// Index into the [`SeriesTable`].
    series: usize,
    tag: PoolTag,
    pool: PoolKind,
    /// Latest snapshot.
    bytes: u64,
    size_ratio: f64,
    /// Boxed: a single snapshot has none, and a small `Work` moves cheaply.
    growth: Option<Box<Growth>>,
    score: f64,
    group: Option<usize>,
    cands: Cands<'a>,
    /// The first entry with a description.
    described: Option<&'a TagEntry>,
}

/// A tag's candidates: most tags have none or one, which then needs no allocation.
type Cands<'a> = SmallVec<[Cand<'a>; 1]>;

struct Analyzer<'a> {
    input: &'a AnalysisInput,
    kb: &'a KnowledgeView,
    vendors: &'a VendorDirectory,
    options: &'a AnalyzeOptions,
    normal: &'static NormalTable,
    /// Loaded drivers by lower-case file name.
    loaded: HashMap<String, &'a LoadedDriver>,
    /// KMDF default tag → loaded drivers.
    kmdf: HashMap<PoolTag, Vec<&'a LoadedDriver>>,
    hours: Option<Vec<f64>>,
    /// Numbers of the candidate drivers the knowledge view does not know, following its own.
    extra_drivers: RefCell<HashMap<String, u32>>,
}

impl<'a> Analyzer<'a> {
    fn new(
        input: &'a AnalysisInput,
        kb: &'a KnowledgeView,
        vendors: &'a VendorDirectory,
        options: &'a AnalyzeOptions,
    ) -> Self {
        let mut loaded = HashMap::default();
        let mut kmdf: HashMap<PoolTag, Vec<&LoadedDriver>> = HashMap::default();
        for driver in input.drivers.iter().flatten() {
            loaded.insert(driver_file(driver), driver);
            let service = driver
                .service_name
                .as_deref()
                .unwrap_or(&driver.module_name);
            if let Some(tag) = kmdf_default_tag(service) {
                kmdf.entry(tag).or_default().push(driver);
            }
        }
        let hours = series_hours(&input.snapshots);
        Self {
            input,
            kb,
            vendors,
            options,
            normal: NormalTable::embedded(),
            loaded,
            kmdf,
            hours,
            extra_drivers: RefCell::default(),
        }
    }

    fn n(&self) -> usize {
        self.input.snapshots.len()
    }

    fn run(self) -> Analysis {
        let table = self.collect_series();
        let machine = self.machine_totals();
        // Every tag's lookup first, in batches whose cache misses overlap (see
        // `KnowledgeView::locate_all`); the ranking work per tag follows.
        let locations: Vec<TagLocation> = self.kb.locate_all(table.series.iter().map(|s| s.tag));
        let mut unsorted: Vec<Work<'a>> = (0..table.series.len())
            .map(|i| {
                let (cands, described) = self.candidates(&table.series[i], locations[i]);
                self.measure(&table, i, cands, described)
            })
            .collect();
        // Ranked by score, then bytes (both descending), tag and pool, on integer keys; the
        // work items themselves stay in place and are reached through references. Sorted on
        // the score's key alone first, as 16-byte pairs, then each run of equal scores (rare)
        // on the whole key: the order of the whole key, with half the bytes moved and one
        // integer compared.
        let mut order: Vec<(u64, u32)> = unsorted
            .iter()
            .enumerate()
            .map(|(i, w)| (rank_key(w)[0], i as u32))
            .collect();
        order.sort_unstable();
        for tied in order.chunk_by_mut(|a, b| a.0 == b.0) {
            if tied.len() > 1 {
                tied.sort_unstable_by_key(|&(_, i)| rank_key(&unsorted[i as usize]));
            }
        }
        let mut slots: Vec<Option<&mut Work<'a>>> = unsorted.iter_mut().map(Some).collect();
        let mut work: Vec<&mut Work<'a>> = order
            .into_iter()
            .filter_map(|(_, i)| slots[i as usize].take())
            .collect();

        let groups = self.group(&table, &mut work);
        let os_tags = self.os_tags(&mut work);
        let info = self.input_info();
        let suspects = self.suspects(&work, &machine, &groups, &info);
        let unknown_tags = self.unknown_tags(&work);
        let strength = self.strength(&work, &suspects);
        let mut verdict = self.verdict(&work, &suspects, strength);
        if self
            .input
            .files
            .iter()
            .any(|f| f.format == SnapshotFormat::Prose)
        {
            verdict.push_str(
                " These numbers were read from prose (sentences, not a table): check them \
                 against the tool's output.",
            );
        }
        let mut next_steps = self.next_steps(&work, &suspects, &unknown_tags, os_tags.as_ref());
        let answer = self.answer(&answer::Findings {
            work: &work,
            table: &table,
            suspects: &suspects,
            unknown: &unknown_tags,
            os: os_tags.as_ref(),
            strength,
        });
        if !next_steps.iter().any(|s| s.contains(&answer.action)) {
            next_steps.insert(0, answer.action.clone());
        }

        let findings_total = work.len();
        let findings = work
            .into_iter()
            .take(self.options.max_findings)
            .map(|w| self.finish_finding(w, &table, &machine))
            .collect();
        Analysis {
            answer,
            verdict_strength: strength,
            verdict,
            suspects,
            findings,
            findings_total,
            groups,
            unknown_tags,
            os_tags,
            next_steps,
            input: info,
            machine,
            knowledge: KnowledgeUsed {
                entries: self.kb.entry_count(),
                current: true,
            },
        }
    }

    fn collect_series(&self) -> SeriesTable<'a> {
        let n = self.n();
        let rows = self.input.snapshots.first().map_or(0, |s| s.rows.len());
        let mut index: HashMap<(PoolTag, PoolKind), usize> =
            HashMap::with_capacity_and_hasher(rows, Default::default());
        let mut table = SeriesTable {
            n,
            series: Vec::with_capacity(rows),
            bytes: Vec::with_capacity(rows * n),
            outstanding: Vec::with_capacity(rows * n),
        };
        let input: &'a AnalysisInput = self.input;
        for (si, snap) in input.snapshots.iter().enumerate() {
            for row in &snap.rows {
                let i = *index.entry((row.tag, row.pool)).or_insert_with(|| {
                    table.series.push(Series {
                        tag: row.tag,
                        pool: row.pool,
                        texts: None,
                    });
                    table.bytes.resize(table.bytes.len() + n, 0);
                    table.outstanding.resize(table.outstanding.len() + n, None);
                    table.series.len() - 1
                });
                let at = i * n + si;
                table.bytes[at] = table.bytes[at].saturating_add(row.bytes);
                if let Some(o) = row.outstanding_or_derived() {
                    let slot = &mut table.outstanding[at];
                    *slot = Some(slot.unwrap_or(0).saturating_add(o));
                }
                if row.mapped_driver.is_none() && row.callers.is_empty() {
                    continue;
                }
                let texts = table.series[i].texts.get_or_insert_default();
                if let Some(m) = row.mapped_driver.as_deref()
                    && texts.mapped.len() < 4
                    && !texts.mapped.contains(&m)
                {
                    texts.mapped.push(m);
                }
                for c in &row.callers {
                    if texts.callers.len() < 16 && !texts.callers.contains(&c.as_str()) {
                        texts.callers.push(c);
                    }
                }
            }
        }
        table
    }

    fn machine_totals(&self) -> MachineTotals {
        let mut m = MachineTotals::default();
        let Some(last) = self.input.snapshots.last() else {
            return m;
        };
        // The latest totals printed (a series often has them only on some frames).
        let totals = self
            .input
            .snapshots
            .iter()
            .rev()
            .find_map(|s| s.totals.as_ref());
        if let Some(t) = totals {
            let kib = |v: Option<u64>| v.map(|k| k.saturating_mul(1024));
            m.memory_bytes = kib(t.memory_kib);
            m.commit_bytes = kib(t.commit_kib);
            m.commit_limit_bytes = kib(t.commit_limit_kib);
            m.paged_pool_bytes = t.paged_bytes;
            m.nonpaged_pool_bytes = t.nonpaged_bytes;
        }
        for row in &last.rows {
            let slot = match row.pool {
                PoolKind::Paged => &mut m.rows_paged_bytes,
                PoolKind::NonPaged => &mut m.rows_nonpaged_bytes,
                PoolKind::Session | PoolKind::Unknown => &mut m.rows_other_bytes,
            };
            *slot = slot.saturating_add(row.bytes);
        }
        m
    }

    fn pool_total(machine: &MachineTotals, pool: PoolKind) -> u64 {
        match pool {
            PoolKind::Paged => machine
                .paged_pool_bytes
                .filter(|&t| t >= machine.rows_paged_bytes)
                .unwrap_or(machine.rows_paged_bytes),
            PoolKind::NonPaged => machine
                .nonpaged_pool_bytes
                .filter(|&t| t >= machine.rows_nonpaged_bytes)
                .unwrap_or(machine.rows_nonpaged_bytes),
            PoolKind::Session | PoolKind::Unknown => machine.rows_other_bytes,
        }
    }

    fn normal_bytes(normal: Option<&NormalTag>) -> u64 {
        normal.map_or(DEFAULT_NORMAL_MIB * 1024 * 1024, |r| r.typical_max_bytes)
    }

    fn measure(
        &self,
        table: &SeriesTable<'a>,
        i: usize,
        cands: Cands<'a>,
        described: Option<&'a TagEntry>,
    ) -> Work<'a> {
        let n = self.n();
        let s = &table.series[i];
        let history = table.bytes(i);
        let bytes = history.last().copied().unwrap_or(0);
        let normal_bytes = Self::normal_bytes(self.normal.get(s.tag, s.pool));
        let size_ratio = bytes as f64 / normal_bytes as f64;
        let growth = (n >= 2).then(|| Box::new(self.growth(history, table.outstanding(i))));
        let score = match &growth {
            None => size_ratio,
            Some(g) => {
                let projected = match (g.bytes_per_hour, &self.hours) {
                    (Some(per_hour), Some(_)) => per_hour * 24.0,
                    _ => g.bytes_per_sample * (n - 1) as f64,
                };
                projected.max(0.0) / normal_bytes as f64 * g.steadiness + size_ratio / 10.0
            }
        };
        Work {
            series: i,
            tag: s.tag,
            pool: s.pool,
            bytes,
            size_ratio,
            growth,
            score: if score.is_finite() { score } else { 0.0 },
            group: None,
            cands,
            described,
        }
    }

    fn growth(&self, bytes: &[u64], outstanding: &[Option<u64>]) -> Growth {
        let ys: Vec<f64> = bytes.iter().map(|&b| b as f64).collect();
        let samples: Vec<f64> = (0..ys.len()).map(|i| i as f64).collect();
        let per_sample = linear_fit(&samples, &ys);
        let per_hour = self.hours.as_ref().and_then(|xs| linear_fit(xs, &ys));
        let allocs: Option<Vec<f64>> = outstanding.iter().map(|o| o.map(|v| v as f64)).collect();
        let allocs_per_sample = allocs.as_ref().and_then(|a| linear_fit(&samples, a));
        let allocs_per_hour = match (&allocs, &self.hours) {
            (Some(a), Some(xs)) => linear_fit(xs, a),
            _ => None,
        };
        let fit = per_hour.or(per_sample);
        let r_squared = fit.map_or(0.0, |f| f.r_squared);
        let rising = stats::rising_fraction(&ys).unwrap_or(0.0);
        let first = bytes.first().copied().unwrap_or(0);
        let last = bytes.last().copied().unwrap_or(0);
        let delta_outstanding = match (outstanding.first(), outstanding.last()) {
            (Some(Some(a)), Some(Some(b))) => Some(signed_delta(*a, *b)),
            _ => None,
        };
        Growth {
            first_bytes: first,
            delta_bytes: signed_delta(first, last),
            bytes_per_hour: per_hour.map(|f| round(f.slope, 1)),
            bytes_per_sample: round(per_sample.map_or(0.0, |f| f.slope), 1),
            allocs_per_hour: allocs_per_hour.map(|f| round(f.slope, 2)),
            allocs_per_sample: allocs_per_sample.map(|f| round(f.slope, 2)),
            delta_outstanding,
            r_squared: round(r_squared, 4),
            rising_intervals: round(rising, 4),
            steadiness: round(r_squared * rising, 4),
        }
    }

    /// Whether the driver list names the candidate's driver (`None` without a list).
    fn loaded_state(&self, c: &Cand<'a>) -> Option<bool> {
        self.input.drivers.as_ref()?;
        let driver = self.name(c);
        Some(self.loaded.contains_key(driver) || (c.os && is_kernel_image(driver)))
    }

    /// A candidate from the snapshot, the driver list or a group (not a knowledge-base row).
    fn make_cand(
        &self,
        driver: Cow<'a, str>,
        kind: EvidenceKind,
        entry: Option<&'a TagEntry>,
        origin: &'static str,
        detail: Option<String>,
    ) -> Cand<'a> {
        let os = entry.is_some_and(is_os_entry) || self.is_os_driver(&driver);
        let driver_id = self.driver_id(&driver);
        self.weigh(Cand {
            driver_id,
            kind,
            os,
            loaded: None,
            weight: 0.0,
            entry,
            extra: Some(Box::new(CandExtra {
                driver,
                origin,
                detail,
            })),
        })
    }

    /// A candidate from an exact knowledge-base attribution, which knows the rest already.
    fn kb_cand(&self, a: &kb::Attribution<'a>, driver_id: u32) -> Cand<'a> {
        self.weigh(Cand {
            driver_id,
            kind: EvidenceKind::from_confidence(a.confidence),
            os: a.os,
            loaded: None,
            weight: 0.0,
            entry: Some(a.entry),
            extra: None,
        })
    }

    /// Sets whether the candidate is loaded, and its weight.
    fn weigh(&self, mut c: Cand<'a>) -> Cand<'a> {
        c.loaded = self.loaded_state(&c);
        c.weight = c.kind.weight();
        if c.loaded == Some(false) {
            c.weight *= NOT_LOADED_FACTOR;
        }
        if c.os {
            c.weight *= OS_FACTOR;
        }
        c
    }

    /// The candidate's driver name.
    fn name<'s>(&'s self, c: &'s Cand<'a>) -> &'s str {
        match &c.extra {
            Some(extra) => &extra.driver,
            None => self.kb.driver_name(c.driver_id),
        }
    }

    /// The knowledge view's number for the driver, or a number after the view's own for a
    /// driver only this input names.
    fn driver_id(&self, driver: &str) -> u32 {
        if let Some(id) = self.kb.driver_id(driver) {
            return id;
        }
        let mut extra = self.extra_drivers.borrow_mut();
        let next = (self.kb.driver_count() + extra.len()) as u32;
        *extra.entry(driver.to_owned()).or_insert(next)
    }

    fn driver_count(&self) -> usize {
        self.kb.driver_count() + self.extra_drivers.borrow().len()
    }

    fn is_os_driver(&self, driver: &str) -> bool {
        self.kb.is_os(driver).unwrap_or_else(|| is_inbox(driver))
    }

    /// Candidate drivers of one tag, one per driver (the strongest evidence wins).
    fn candidates(
        &self,
        s: &Series<'a>,
        location: TagLocation,
    ) -> (Cands<'a>, Option<&'a TagEntry>) {
        let mut out = Cands::new();
        let push = |c: Cand<'a>, out: &mut Cands<'a>| {
            if let Some(existing) = out.iter_mut().find(|e| e.driver_id == c.driver_id) {
                if c.weight > existing.weight {
                    *existing = c;
                }
            } else {
                out.push(c);
            }
        };
        // 1. !verifier callers name the allocating module.
        for caller in s.callers() {
            if let Some((module, _)) = caller.split_once('!') {
                let driver = module_file_name(module);
                let c = self.make_cand(
                    Cow::Owned(driver),
                    EvidenceKind::VerifierCaller,
                    None,
                    "snapshot",
                    Some(format!("!verifier caller {caller}")),
                );
                push(c, &mut out);
            }
        }
        if !s.callers().is_empty() && out.is_empty() {
            for module in s.mapped() {
                let c = self.make_cand(
                    Cow::Owned(normalize_module(module)),
                    EvidenceKind::VerifierCaller,
                    None,
                    "snapshot",
                    Some(format!("!verifier module {module}")),
                );
                push(c, &mut out);
            }
        }
        // 2. The knowledge base.
        let mut described: Option<&'a TagEntry> = None;
        let mut known = false;
        for a in self.kb.ranked_attributions(location) {
            known = true;
            if described.is_none() && a.described {
                described = Some(a.entry);
            }
            if let Some(driver_id) = a.driver_id {
                push(self.kb_cand(&a, driver_id), &mut out);
            }
        }
        if !known {
            for e in self.kb.pattern_matches(s.tag) {
                if described.is_none() && !e.description.is_empty() {
                    described = Some(e);
                }
                if let Some(driver) = &e.owner.driver {
                    let c = self.make_cand(
                        Cow::Borrowed(driver.as_str()),
                        EvidenceKind::ListPattern,
                        Some(e),
                        "",
                        Some(format!("wildcard row {}", e.tag.trimmed())),
                    );
                    push(c, &mut out);
                }
            }
        }
        // 3. The snapshot's own driver column (from the pooltag.txt the admin's tool used).
        if s.callers().is_empty() {
            for text in s.mapped() {
                for file in mapped_driver_files(text) {
                    let driver = normalize_module(&file);
                    if out.iter().any(|c| self.name(c) == driver) {
                        continue;
                    }
                    let c = self.make_cand(
                        Cow::Owned(driver),
                        EvidenceKind::SnapshotMapped,
                        None,
                        "snapshot",
                        Some(format!("driver column: {}", text.trim())),
                    );
                    push(c, &mut out);
                }
            }
        }
        // 4. KMDF default tags of loaded drivers, for tags nothing else explains.
        if out.is_empty()
            && let Some(drivers) = self.kmdf.get(&s.tag)
        {
            for d in drivers {
                let service = d.service_name.as_deref().unwrap_or(&d.module_name);
                let c = self.make_cand(
                    Cow::Owned(driver_file(d)),
                    EvidenceKind::KmdfDefault,
                    None,
                    "driver-list",
                    Some(format!(
                        "KMDF default tag of the service name {service:?} (first four characters{})",
                        if service.len() >= 3 && service[..3].eq_ignore_ascii_case("wdf") {
                            " after WDF"
                        } else {
                            ""
                        }
                    )),
                );
                push(c, &mut out);
            }
        }
        (out, described)
    }

    /// Groups growing tags whose outstanding allocations move together.
    fn group(&self, table: &SeriesTable<'a>, work: &mut [&mut Work<'a>]) -> Vec<TagGroup> {
        let n = self.n();
        // Two points always "move together"; it takes three to see a shared course.
        if n < 3 {
            return Vec::new();
        }
        // Per-interval deltas of outstanding allocations (bytes when counts are missing).
        let deltas = |i: usize| -> Vec<f64> {
            let outstanding = table.outstanding(i);
            let values: Vec<f64> = if outstanding.iter().all(Option::is_some) {
                outstanding.iter().map(|o| o.unwrap_or(0) as f64).collect()
            } else {
                table.bytes(i).iter().map(|&b| b as f64).collect()
            };
            values.windows(2).map(|w| w[1] - w[0]).collect()
        };
        let growing: Vec<usize> = (0..work.len())
            .filter(|&i| {
                // Growth large against the tag's size: two tags that each grew by a couple
                // of allocations are not one cause.
                work[i].growth.as_ref().is_some_and(|g| {
                    g.delta_bytes > 0
                        && g.steadiness >= 0.5
                        && g.delta_bytes >= GROUP_MIN_GROWTH_BYTES
                        && g.delta_bytes as f64 >= 0.05 * work[i].bytes as f64
                }) && deltas(work[i].series).iter().sum::<f64>() > 0.0
            })
            .take(100)
            .collect();
        let d: Vec<Vec<f64>> = growing.iter().map(|&i| deltas(work[i].series)).collect();
        let mut parent: Vec<usize> = (0..growing.len()).collect();
        fn find(p: &mut [usize], mut i: usize) -> usize {
            while p[i] != i {
                p[i] = p[p[i]];
                i = p[i];
            }
            i
        }
        let mut reason_of: HashMap<usize, String> = HashMap::default();
        for a in 0..growing.len() {
            for b in a + 1..growing.len() {
                if let Some(reason) = moves_together(&d[a], &d[b]) {
                    let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
                    if ra != rb {
                        parent[rb] = ra;
                        reason_of.entry(ra).or_insert(reason);
                    }
                }
            }
        }
        let mut members: HashMap<usize, Vec<usize>> = HashMap::default();
        for i in 0..growing.len() {
            let root = find(&mut parent, i);
            members.entry(root).or_default().push(i);
        }
        let mut roots: Vec<(usize, Vec<usize>)> =
            members.into_iter().filter(|(_, m)| m.len() > 1).collect();
        roots.sort_by_key(|(_, m)| m[0]);
        let mut groups = Vec::new();
        for (gid, (root, m)) in roots.into_iter().enumerate() {
            let idx: Vec<usize> = m.iter().map(|&i| growing[i]).collect();
            // Unknown members borrow the best third-party candidate of a known member.
            let donor = idx
                .iter()
                .flat_map(|&i| work[i].cands.iter())
                .filter(|c| !c.os && c.kind != EvidenceKind::FilterDriver)
                .max_by(|a, b| a.weight.total_cmp(&b.weight))
                .cloned();
            let donor_tag = donor.as_ref().and_then(|d| {
                idx.iter()
                    .find(|&&i| work[i].cands.iter().any(|c| c.driver_id == d.driver_id))
                    .map(|&i| work[i].tag)
            });
            let mut drivers: Vec<String> = Vec::new();
            for &i in &idx {
                if work[i].cands.is_empty()
                    && let (Some(d), Some(tag)) = (&donor, donor_tag)
                {
                    let name = self.name(d);
                    let c = self.make_cand(
                        Cow::Owned(name.to_owned()),
                        EvidenceKind::SameGrowthGroup,
                        None,
                        "group",
                        Some(format!("grows together with {tag}, attributed to {name}")),
                    );
                    work[i].cands.push(c);
                }
                work[i].group = Some(gid);
                for c in &work[i].cands {
                    let name = self.name(c);
                    if !drivers.iter().any(|x| x == name) {
                        drivers.push(name.to_owned());
                    }
                }
            }
            groups.push(TagGroup {
                id: gid,
                tags: idx.iter().map(|&i| work[i].tag).collect(),
                pools: idx.iter().map(|&i| work[i].pool).collect(),
                reason: reason_of
                    .remove(&root)
                    .unwrap_or_else(|| "outstanding allocations grew together".into()),
                total_bytes: idx
                    .iter()
                    .fold(0u64, |t, &i| t.saturating_add(work[i].bytes)),
                drivers,
            });
        }
        groups
    }

    /// When the top tag belongs to the OS: name loaded third-party filter drivers and give the
    /// pool-trace commands.
    fn os_tags(&self, work: &mut [&mut Work<'a>]) -> Option<OsTagAdvice> {
        let top = work.first()?;
        if top.score <= 0.0 || owner_of(&top.cands) != OwnerKind::Os {
            return None;
        }
        let top_score = top.score;
        let os_idx: Vec<usize> = (0..work.len().min(10))
            .filter(|&i| {
                owner_of(&work[i].cands) == OwnerKind::Os && work[i].score >= top_score * 0.1
            })
            .take(8)
            .collect();
        let tags: Vec<PoolTag> = os_idx.iter().map(|&i| work[i].tag).collect();
        let mut filters: Vec<&LoadedDriver> = self
            .input
            .drivers
            .iter()
            .flatten()
            .filter(|d| !self.is_os_driver(&driver_file(d)))
            .filter(|d| is_filter_like(d))
            .collect();
        filters.sort_by_key(|d| d.module_name.to_ascii_lowercase());
        filters.dedup_by_key(|d| d.module_name.to_ascii_lowercase());
        let filter_names: Vec<String> = filters.iter().map(|d| driver_file(d)).collect();
        for &i in &os_idx {
            for name in &filter_names {
                if work[i].cands.iter().any(|c| self.name(c) == name) {
                    continue;
                }
                let c = self.make_cand(
                    Cow::Owned(name.clone()),
                    EvidenceKind::FilterDriver,
                    None,
                    "driver-list",
                    Some("loaded third-party filter driver: may hold this OS-owned memory".into()),
                );
                work[i].cands.push(c);
            }
        }
        let shown: Vec<String> = tags.iter().map(|t| format!("`{}`", t.trimmed())).collect();
        let mut message = format!(
            "The top tags ({}) belong to Windows itself. Kernel leaks in the OS are rare: the memory is usually held by a third-party driver (a filter driver keeping references or contexts). ",
            shown.join(", ")
        );
        if self.input.drivers.is_none() {
            message.push_str("Send the loaded-driver list (the PowerShell list with file versions, or `driverquery /v /fo csv`) to have third-party filter drivers named. ");
        } else if filter_names.is_empty() {
            message.push_str("The driver list shows no third-party filter driver. ");
        } else {
            message.push_str(&format!(
                "Loaded third-party filter drivers, listed as lower-confidence suspects: {}. ",
                filter_names.join(", ")
            ));
        }
        message.push_str(
            "A pool trace narrowed to these tags records the allocating call stacks and names the driver for certain.",
        );
        Some(OsTagAdvice {
            traces: pool_traces(&tags),
            tags,
            message,
            filter_drivers: filter_names,
        })
    }

    /// The drivers shown, best first: highest score, then name. Only the drivers that can
    /// make the cut read their names (a name is a cache miss in the view's name table, and a
    /// snapshot can name thousands of drivers). Returns (name, score, index into `sums`).
    fn top_drivers<'s>(&'s self, sums: &[(&'s Cand<'a>, f64)]) -> Vec<(&'s str, f64, u32)> {
        let keep = self.options.max_suspects;
        let mut scores: Vec<(f64, u32)> = sums
            .iter()
            .enumerate()
            .map(|(i, &(_, score))| (score, i as u32))
            .collect();
        if scores.len() > keep {
            if keep == 0 {
                return Vec::new();
            }
            // The score of the last driver shown; drivers tied with it are told apart by name.
            let (_, &mut (cut, _), _) =
                scores.select_nth_unstable_by(keep - 1, |a, b| b.0.total_cmp(&a.0));
            scores.retain(|(score, _)| score.total_cmp(&cut).is_ge());
        }
        let mut ranked: Vec<(&str, f64, u32)> = scores
            .into_iter()
            .map(|(score, i)| (self.name(sums[i as usize].0), score, i))
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        ranked.truncate(keep);
        ranked
    }

    fn suspects(
        &self,
        work: &[&mut Work<'a>],
        machine: &MachineTotals,
        groups: &[TagGroup],
        info: &InputInfo,
    ) -> Vec<Suspect> {
        // Every candidate's share of its tag's score, in rank order, noting which driver sum it
        // goes to. Summed per driver in a dense list of the drivers named, found through one
        // small array by driver number (a hash entry per candidate cost more than the rest of
        // this pass). Each sum keeps one of the driver's candidates to name it by.
        const NONE: u32 = u32::MAX;
        let mut slot = vec![NONE; self.driver_count()];
        let mut sums: Vec<(&Cand<'a>, f64)> = Vec::new();
        // (sum, work item, candidate, contribution): the evidence of the drivers shown is
        // gathered from this flat list, without walking the tags again.
        let mut shares: Vec<(u32, u32, &Cand<'a>, f64)> = Vec::with_capacity(work.len());
        for (wi, w) in work.iter().enumerate() {
            if w.cands.is_empty() || w.score <= 0.0 {
                continue;
            }
            let claimants = w.cands.len() as f64;
            for c in &w.cands {
                let contribution = w.score * c.weight / claimants;
                let at = &mut slot[c.driver_id as usize];
                if *at == NONE {
                    *at = sums.len() as u32;
                    sums.push((c, 0.0));
                }
                sums[*at as usize].1 += contribution;
                shares.push((*at, wi as u32, c, contribution));
            }
        }
        let total: f64 = sums.iter().map(|(_, score)| score).sum();
        let ranked = self.top_drivers(&sums);
        // Which rank (index into `ranked`) each sum has, if it is shown.
        let mut rank_of_sum = vec![NONE; sums.len()];
        for (rank, &(_, _, sum)) in ranked.iter().enumerate() {
            rank_of_sum[sum as usize] = rank as u32;
        }
        let mut items: Vec<Vec<(usize, &Cand<'a>, f64)>> = vec![Vec::new(); ranked.len()];
        for &(sum, wi, c, contribution) in &shares {
            let rank = rank_of_sum[sum as usize];
            if rank != NONE {
                items[rank as usize].push((wi as usize, c, contribution));
            }
        }
        let mut suspects = Vec::with_capacity(ranked.len());
        for (rank, ((driver, score, _), mut items)) in ranked.into_iter().zip(items).enumerate() {
            items.sort_by(|x, y| y.2.total_cmp(&x.2));
            let best = items[0].1;
            let os = items.iter().all(|(_, c, _)| c.os);
            let facts = self.kb.driver(driver);
            let loaded_driver = self.loaded.get(driver).copied();
            let vendor_raw = items
                .iter()
                .find_map(|(_, c, _)| c.entry.and_then(|e| e.vendor.as_deref()))
                .map(str::to_owned)
                .or_else(|| facts.and_then(|f| f.vendors.first().cloned()))
                .or_else(|| os.then(|| "Microsoft".to_owned()));
            let vendor = vendor_raw.map(|v| self.vendors.canonical_name(&v));
            let support_url = vendor
                .as_deref()
                .and_then(|v| self.vendors.lookup(v))
                .and_then(|v| v.support_url.clone());
            let (version_seen, version_source) = match loaded_driver.and_then(|d| d.version.clone())
            {
                Some(v) => (Some(v), Some("driver-list")),
                // Without a driver list, a version from the knowledge base only counts
                // as "seen" when it is the only one known.
                None => match facts.map(|f| f.versions.as_slice()) {
                    Some([only]) => (Some(only.clone()), Some("knowledge-base")),
                    _ => (None, None),
                },
            };
            let newest = facts.and_then(|f| f.newest_version()).map(str::to_owned);
            let sha256 = items
                .iter()
                .find_map(|(_, c, _)| c.entry.and_then(|e| e.sha256.clone()))
                .or_else(|| {
                    facts.and_then(|f| {
                        f.hashes
                            .iter()
                            .find(|(v, _)| v.is_some() && *v == version_seen)
                            .or(f.hashes.first())
                            .map(|(_, s)| s.clone())
                    })
                });
            let product = items
                .iter()
                .find_map(|(_, c, _)| c.entry.and_then(|e| e.product.clone()))
                .or_else(|| facts.and_then(|f| f.products.first().cloned()));
            let mut guidance = guidance::guidance(
                driver,
                os,
                best.kind,
                version_seen.as_deref(),
                version_source,
                newest.as_deref(),
                vendor.as_deref(),
                support_url.as_deref(),
            );
            let leaking = work[items[0].0].tag;
            if !os
                && let Some(fix) = self.fixed_in(driver, leaking, facts)
                && let Some(g) = guidance::fixed_version_guidance(
                    leaking,
                    &fix,
                    version_seen.as_deref(),
                    version_source,
                    vendor.as_deref(),
                    support_url.as_deref(),
                )
            {
                guidance = g;
            }
            let evidence_total = items.len();
            let evidence: Vec<Evidence> = items
                .iter()
                .take(10)
                .map(|&(wi, c, contribution)| {
                    let f = &work[wi];
                    Evidence {
                        tag: f.tag,
                        pool: f.pool,
                        bytes: f.bytes,
                        growth_bytes_per_hour: f.growth.as_ref().and_then(|g| g.bytes_per_hour),
                        growth_bytes_per_sample: f.growth.as_ref().map(|g| g.bytes_per_sample),
                        tag_score: round(f.score, 4),
                        evidence: c.kind,
                        confidence: c.entry.map(|e| e.confidence),
                        source: c.source().to_owned(),
                        line: c.entry.and_then(|e| e.line),
                        source_url: c.source_url(),
                        detail: c.detail(),
                        weight: round(c.weight, 4),
                        claimants: work[wi].cands.len(),
                        contribution: round(contribution, 4),
                    }
                })
                .collect();
            let mut suspect = Suspect {
                rank: rank + 1,
                driver: driver.to_owned(),
                score: round(score, 4),
                share: if total > 0.0 {
                    round(score / total, 4)
                } else {
                    0.0
                },
                vendor,
                support_url,
                product,
                os_component: os,
                loaded: best.loaded,
                service_name: loaded_driver.and_then(|d| d.service_name.clone()),
                path: loaded_driver.and_then(|d| d.path.clone()),
                version_seen,
                version_source,
                newest_known_version: newest,
                sha256,
                best_evidence: best.kind,
                guidance,
                evidence,
                evidence_total,
                vendor_report: None,
            };
            if rank < self.options.max_reports && !os {
                let group_tags: Vec<&TagGroup> = groups
                    .iter()
                    .filter(|g| g.drivers.iter().any(|d| d == driver))
                    .collect();
                suspect.vendor_report = Some(guidance::vendor_report(
                    &suspect,
                    self.input,
                    info,
                    machine,
                    &group_tags,
                ));
            }
            suspects.push(suspect);
        }
        suspects
    }

    fn unknown_tags(&self, work: &[&mut Work<'a>]) -> Vec<UnknownTag> {
        let server = self
            .options
            .server_url
            .clone()
            .unwrap_or_else(|| "http://POOLSLEUTH-SERVER:8080".into());
        work.iter()
            .filter(|w| w.cands.is_empty() && w.bytes > 0)
            .take(20)
            .map(|w| {
                let tag = w.tag.trimmed();
                let mut steps: Vec<String> = self.reversed_hint(w.tag).into_iter().collect();
                steps.push(format!(
                    "upload the machine's drivers for scanning: poolsleuth scan C:\\Windows\\System32\\drivers --server {server}"
                ));
                if w.tag.is_printable() && !tag.contains(['"', ' ']) {
                    steps.push(format!(
                        "or search them on the machine: findstr /m /l /c:\"{tag}\" C:\\Windows\\System32\\drivers\\*.sys (misses tags not stored as text)"
                    ));
                }
                if self.input.drivers.is_none() {
                    steps.push("send the driver list (the PowerShell list with file versions that README gives, or driverquery /v /fo csv) to match KMDF default tags (the first four letters of a service name)".into());
                }
                UnknownTag {
                    tag: w.tag,
                    pool: w.pool,
                    bytes: w.bytes,
                    score: round(w.score, 4),
                    growth_bytes_per_hour: w.growth.as_ref().and_then(|g| g.bytes_per_hour),
                    next_steps: steps,
                }
            })
            .collect()
    }

    /// The newest scanned version of `driver` that no longer allocates `tag`, when older
    /// scanned versions do: the version that fixes the leak, as far as the code shows. Only
    /// scanned binaries count, as a list's silence about a tag proves nothing.
    fn fixed_in(
        &self,
        driver: &str,
        tag: PoolTag,
        facts: Option<&DriverFacts>,
    ) -> Option<guidance::FixedVersion> {
        let scanned: Vec<&str> = facts?
            .hashes
            .iter()
            .filter_map(|(v, _)| v.as_deref())
            .collect();
        let mut allocating: Vec<String> = self
            .kb
            .attributions(tag)
            .iter()
            .filter(|e| e.sha256.is_some() && e.owner.driver.as_deref() == Some(driver))
            .filter_map(|e| e.version.clone())
            .collect();
        allocating.sort_by(|a, b| crate::index::compare_versions(a, b));
        allocating.dedup();
        let last_allocating = allocating.last()?;
        let fixed = scanned
            .iter()
            .filter(|v| crate::index::compare_versions(v, last_allocating).is_gt())
            .max_by(|a, b| crate::index::compare_versions(a, b))?;
        Some(guidance::FixedVersion {
            version: (*fixed).to_owned(),
            allocating,
        })
    }

    /// For a tag the knowledge base does not know: whether it knows the tag's reverse, the
    /// form a tag takes when it is copied from a C character constant in source code.
    fn reversed_hint(&self, tag: PoolTag) -> Option<String> {
        let reversed = tag.reversed();
        let known = self.kb.attributions(reversed);
        if reversed == tag || known.is_empty() || !self.kb.attributions(tag).is_empty() {
            return None;
        }
        let owners: Vec<String> =
            known
                .iter()
                .filter_map(|e| e.owner.driver.clone())
                .fold(Vec::new(), |mut names, d| {
                    if !names.contains(&d) {
                        names.push(d);
                    }
                    names
                });
        let who = match owners.as_slice() {
            [] => format!("described as \"{}\"", known[0].description),
            names => format!("attributed to {}", names.join(", ")),
        };
        Some(format!(
            "not in the knowledge base, but its reverse `{}` is {who}; source code writes the \
             tag `{}` as the character constant '{}', so a list or a person copying from source \
             may have it reversed",
            reversed.trimmed(),
            tag.trimmed(),
            reversed
        ))
    }

    fn strength(&self, work: &[&mut Work<'a>], suspects: &[Suspect]) -> VerdictStrength {
        let n = self.n();
        if n < 2 {
            return VerdictStrength::Weak;
        }
        let Some(top) = work.first() else {
            return VerdictStrength::Weak;
        };
        let growing = top
            .growth
            .as_ref()
            .is_some_and(|g| g.delta_bytes > 0 && g.steadiness > 0.0);
        if !growing {
            return VerdictStrength::Weak;
        }
        let steady = top.growth.as_ref().is_some_and(|g| g.steadiness >= 0.8);
        let pinned = suspects.first().is_some_and(|s| {
            !s.os_component
                && matches!(
                    s.best_evidence,
                    EvidenceKind::VerifierCaller
                        | EvidenceKind::CodeSite
                        | EvidenceKind::KmdfDefault
                        | EvidenceKind::List
                )
        });
        if n >= 3 && steady && pinned {
            VerdictStrength::Strong
        } else {
            VerdictStrength::Moderate
        }
    }

    fn verdict(
        &self,
        work: &[&mut Work<'a>],
        suspects: &[Suspect],
        strength: VerdictStrength,
    ) -> String {
        let Some(top) = work.first() else {
            return "The snapshot holds no pool usage to rank.".into();
        };
        let tag = top.tag.trimmed();
        let how = match &top.growth {
            Some(g) if g.delta_bytes > 0 => match g.bytes_per_hour {
                Some(h) => format!(
                    "grows {}/hour (steadiness {:.2})",
                    human_bytes(h.max(0.0) as u64),
                    g.steadiness
                ),
                None => format!(
                    "grew by {} over {} snapshots",
                    human_bytes(g.delta_bytes as u64),
                    self.n()
                ),
            },
            Some(_) => format!(
                "does not grow; it holds {} ({:.1}× its normal size)",
                human_bytes(top.bytes),
                top.size_ratio
            ),
            None => format!(
                "holds {} ({:.1}× what is normal for it)",
                human_bytes(top.bytes),
                top.size_ratio
            ),
        };
        let suspect_name = |s: &Suspect| {
            format!(
                "{}{}",
                s.driver,
                s.vendor
                    .as_deref()
                    .map(|v| format!(" ({v})"))
                    .unwrap_or_default()
            )
        };
        let top_owner = owner_of(&top.cands);
        let claims_top = |s: &&Suspect| top.cands.iter().any(|c| self.name(c) == s.driver);
        let who = match top_owner {
            OwnerKind::ThirdParty => match suspects.iter().find(|s| !s.os_component) {
                Some(s) => format!("Most likely cause: {}.", suspect_name(s)),
                None => "Its driver is named below.".into(),
            },
            OwnerKind::Os => {
                let owner = top
                    .cands
                    .iter()
                    .find(|c| c.os)
                    .map_or("Windows".to_owned(), |c| self.name(c).to_owned());
                let holder = suspects
                    .iter()
                    .filter(claims_top)
                    .find(|s| !s.os_component)
                    .map(|s| format!(" Third-party candidate: {}.", suspect_name(s)))
                    .unwrap_or_default();
                format!(
                    "It belongs to Windows ({owner}); the usual cause is a third-party driver holding it (a filter driver), found with a pool trace.{holder}"
                )
            }
            OwnerKind::Unknown => "The knowledge base does not know this tag: the cause is a \
                                   driver that has not been scanned; upload the machine's \
                                   drivers for scanning."
                .to_owned(),
        };
        let firmness = match strength {
            VerdictStrength::Weak if self.n() < 2 => {
                " Verdict weak: one snapshot shows size, not growth; analyze a second snapshot taken a few hours later to firm it up."
            }
            VerdictStrength::Weak => " Verdict weak: nothing grows across the snapshots.",
            VerdictStrength::Moderate => {
                " Verdict moderate: more snapshots over a longer time would firm it up."
            }
            VerdictStrength::Strong => " Verdict strong: steady growth over the series.",
        };
        format!("Top tag `{tag}` ({}) {how}. {who}{firmness}", top.pool)
    }

    fn next_steps(
        &self,
        work: &[&mut Work<'a>],
        suspects: &[Suspect],
        unknown: &[UnknownTag],
        os: Option<&OsTagAdvice>,
    ) -> Vec<String> {
        let mut steps = Vec::new();
        if let Some(s) = suspects.iter().find(|s| !s.os_component) {
            steps.push(format!("{}: {}", s.driver, s.guidance.text));
        }
        if self.n() < 2 {
            steps.push("Take a second snapshot in a few hours with the same tool and analyze both together (several files in one request): growth over time is much firmer evidence than size.".into());
        }
        if self.input.drivers.is_none() {
            steps.push(format!(
                "Add the loaded-driver list with file versions (PowerShell, as the `drivers` part) so candidates are narrowed to loaded drivers, KMDF default tags are matched and the version on the machine is known: {POWERSHELL_DRIVER_LIST} (`driverquery /v /fo csv` works too, without versions)."
            ));
        }
        if let Some(os) = os {
            for trace in &os.traces {
                steps.push(format!(
                    "Trace the OS tags {} (elevated prompt): {}",
                    trace.tags.join(", "),
                    trace.wpr_commands.join(" ; ")
                ));
            }
        }
        let top_unknown: Vec<&UnknownTag> = unknown
            .iter()
            .filter(|u| {
                work.iter()
                    .take(5)
                    .any(|w| w.tag == u.tag && w.pool == u.pool)
            })
            .collect();
        if let Some(u) = top_unknown.first() {
            steps.push(format!(
                "The knowledge base does not know `{}`: {}.",
                u.tag.trimmed(),
                u.next_steps[0]
            ));
        }
        steps
    }

    fn input_info(&self) -> InputInfo {
        let snaps = &self.input.snapshots;
        let labels = snaps
            .iter()
            .enumerate()
            .map(|(i, s)| match (s.taken_at, &s.label) {
                (Some(t), _) => format!(
                    "{:04}-{:02}-{:02} {:02}:{:02}",
                    t.year(),
                    u8::from(t.month()),
                    t.day(),
                    t.hour(),
                    t.minute()
                ),
                (None, Some(l)) if !l.trim().is_empty() => {
                    l.trim().chars().take(24).collect::<String>()
                }
                _ => format!("#{}", i + 1),
            })
            .collect();
        InputInfo {
            snapshots: snaps.len(),
            files: self.input.files.clone(),
            time_basis: match (&self.hours, snaps.len()) {
                (_, 0 | 1) => "single",
                (Some(_), _) => "hours",
                (None, _) => "samples",
            },
            first_taken_at: snaps.first().and_then(|s| s.taken_at),
            last_taken_at: snaps.last().and_then(|s| s.taken_at),
            span_hours: self
                .hours
                .as_ref()
                .and_then(|h| h.last().copied())
                .map(|h| round(h, 3)),
            driver_list: self.input.drivers.as_ref().map(Vec::len),
            warnings: self.input.warnings.clone(),
            labels,
        }
    }

    fn finish_finding(
        &self,
        w: &mut Work<'a>,
        table: &SeriesTable<'a>,
        machine: &MachineTotals,
    ) -> Finding {
        let n = self.n();
        let total = Self::pool_total(machine, w.pool);
        let normal = self.normal.get(w.tag, w.pool);
        let owner = owner_of(&w.cands);
        let mut cands = std::mem::take(&mut w.cands);
        cands.sort_by(|a, b| b.weight.total_cmp(&a.weight));
        let candidates = cands
            .into_iter()
            .take(8)
            .map(|c| Candidate {
                component: c
                    .entry
                    .and_then(|e| e.owner.component.as_deref())
                    .map(str::to_owned),
                vendor: c
                    .entry
                    .and_then(|e| e.vendor.as_deref())
                    .map(|v| self.vendors.canonical_name(v)),
                source: c.source().to_owned(),
                driver: self.name(&c).to_owned(),
                evidence: c.kind,
                confidence: c.entry.map(|e| e.confidence),
                line: c.entry.and_then(|e| e.line),
                source_url: c.source_url(),
                detail: c.extra.and_then(|x| x.detail),
                os_component: c.os,
                loaded: c.loaded,
                weight: round(c.weight, 4),
            })
            .collect();
        Finding {
            tag: w.tag,
            pool: w.pool,
            bytes: w.bytes,
            outstanding: table.outstanding(w.series).last().copied().flatten(),
            pool_share: (total > 0).then(|| round(w.bytes as f64 / total as f64, 4)),
            normal_bytes: Self::normal_bytes(normal),
            normal_source: if normal.is_some() { "table" } else { "default" },
            normal_note: normal.map(|r| r.note.clone()),
            size_ratio: round(w.size_ratio, 4),
            growth: w.growth.take().map(|g| *g),
            score: round(w.score, 4),
            owner,
            description: w
                .described
                .map(|e| e.description.clone())
                .or_else(|| self.reversed_hint(w.tag)),
            candidates,
            group: w.group,
            history: if n >= 2 {
                table.bytes(w.series).to_vec()
            } else {
                Vec::new()
            },
        }
    }
}

/// Sorts as [`Analyzer::run`] ranks: score and bytes descending, then tag and pool.
fn rank_key(w: &Work<'_>) -> [u64; 3] {
    // `f64::total_cmp`'s order as unsigned integers, inverted for descending.
    let bits = w.score.to_bits() as i64;
    let total_order = (bits ^ (((bits >> 63) as u64) >> 1) as i64) as u64 ^ (1 << 63);
    // Tags order by their bytes, pools in declaration order.
    let tag = u64::from(u32::from_be_bytes(*w.tag.bytes()));
    [!total_order, !w.bytes, tag << 8 | w.pool as u64]
}

fn owner_of(cands: &[Cand<'_>]) -> OwnerKind {
    let real = cands
        .iter()
        .filter(|c| c.kind != EvidenceKind::FilterDriver);
    let mut any = false;
    for c in real {
        if !c.os {
            return OwnerKind::ThirdParty;
        }
        any = true;
    }
    if any {
        OwnerKind::Os
    } else {
        OwnerKind::Unknown
    }
}

/// Two per-interval growth series move together: correlation ≥ 0.9 over at least three
/// intervals, or (fewer intervals) the same growth ratio in every interval.
fn moves_together(a: &[f64], b: &[f64]) -> Option<String> {
    let intervals = a.len().min(b.len());
    if intervals == 0 {
        return None;
    }
    if intervals >= 3
        && let Some(r) = pearson(a, b)
    {
        return (r >= 0.9).then(|| {
            format!("per-interval growth of outstanding allocations correlates (r = {r:.2} over {intervals} intervals)")
        });
    }
    if a.iter().chain(b).any(|&d| d <= 0.0) {
        return None;
    }
    let ratios: Vec<f64> = a.iter().zip(b).map(|(x, y)| x / y).collect();
    let first = ratios[0];
    let same_ratio = ratios.iter().all(|r| (r / first - 1.0).abs() <= 0.1);
    if intervals == 1 {
        // One interval: only an equal growth counts.
        ((first - 1.0).abs() <= 0.1).then(|| {
            format!(
                "outstanding allocations grew by the same amount (+{} and +{})",
                a[0], b[0]
            )
        })
    } else {
        same_ratio.then(|| {
            format!(
                "outstanding allocations grew in the same ratio ({first:.2}:1) in every interval"
            )
        })
    }
}

/// Hours since the first snapshot, when every snapshot has a time and they span some time.
fn series_hours(snaps: &[Snapshot]) -> Option<Vec<f64>> {
    if snaps.len() < 2 {
        return None;
    }
    let times: Option<Vec<OffsetDateTime>> = snaps.iter().map(|s| s.taken_at).collect();
    // Without times, the input's own clock (an uptime column, a change's stated period).
    let hours: Vec<f64> = match times {
        Some(times) => times
            .iter()
            .map(|t| (*t - times[0]).as_seconds_f64() / 3600.0)
            .collect(),
        None => {
            let elapsed: Vec<f64> = snaps
                .iter()
                .map(|s| s.elapsed_hours)
                .collect::<Option<_>>()?;
            elapsed.iter().map(|h| h - elapsed[0]).collect()
        }
    };
    let spread = hours.iter().copied().fold(f64::MIN, f64::max)
        - hours.iter().copied().fold(f64::MAX, f64::min);
    (spread > 0.0).then_some(hours)
}

/// KMDF's default pool tag for a service name: its first four characters (after a leading
/// `WDF`), or `FxDr` when fewer than four remain.
pub fn kmdf_default_tag(service: &str) -> Option<PoolTag> {
    let service = service.trim();
    if service.is_empty() || !service.is_ascii() {
        return None;
    }
    let rest = if service.len() >= 3 && service[..3].eq_ignore_ascii_case("wdf") {
        &service[3..]
    } else {
        service
    };
    if rest.len() < 4 {
        return Some(PoolTag::from_bytes(*b"FxDr"));
    }
    let b = rest.as_bytes();
    Some(PoolTag::from_bytes([b[0], b[1], b[2], b[3]]))
}

/// The lower-case image file name of a loaded driver.
fn driver_file(d: &LoadedDriver) -> String {
    match &d.file_name {
        Some(f) => normalize_driver_name(f),
        None => normalize_module(&d.module_name),
    }
}

/// `ixgbe` → `ixgbe.sys`, `nt` → `ntoskrnl.exe`, `Ntfs.SYS` → `ntfs.sys`.
fn normalize_module(name: &str) -> String {
    module_file_name(&normalize_driver_name(name))
}

fn driver_stem_lower(driver: &str) -> String {
    let lower = driver.to_ascii_lowercase();
    lower
        .rsplit_once('.')
        .map_or(lower.clone(), |(s, _)| s.to_owned())
}

fn is_kernel_image(driver: &str) -> bool {
    matches!(
        driver_stem_lower(driver).as_str(),
        "ntoskrnl" | "hal" | "win32k" | "win32kbase" | "win32kfull" | "ci"
    )
}

pub(crate) fn is_os_entry(e: &TagEntry) -> bool {
    e.owner.is_kernel()
        || e.owner
            .component
            .as_deref()
            .is_some_and(|c| c.starts_with("nt!"))
        || e.vendor.as_deref() == Some("Microsoft")
}

/// Filter drivers: file-system minifilters (driverquery type "File System") and drivers whose
/// names say they filter.
fn is_filter_like(d: &LoadedDriver) -> bool {
    let kind = d.driver_type.as_deref().unwrap_or("").to_ascii_lowercase();
    let name = d.module_name.to_ascii_lowercase();
    let text = format!(
        "{} {}",
        d.display_name.as_deref().unwrap_or(""),
        d.description.as_deref().unwrap_or("")
    )
    .to_ascii_lowercase();
    let running = d
        .state
        .as_deref()
        .is_none_or(|s| s.eq_ignore_ascii_case("running"));
    running
        && (kind.contains("file system")
            || name.ends_with("flt")
            || name.contains("filter")
            || text.contains("filter"))
}

/// True for a driver file (lower case) that ships with Windows.
pub(crate) fn is_inbox(driver: &str) -> bool {
    let stem = driver.rsplit_once('.').map_or(driver, |(s, _)| s);
    if stem.bytes().any(|b| b.is_ascii_uppercase()) {
        return inbox_drivers().contains(stem.to_ascii_lowercase().as_str());
    }
    inbox_drivers().contains(stem)
}

fn inbox_drivers() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        INBOX_DRIVERS
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .flat_map(str::split_whitespace)
            .collect()
    })
}

/// `b - a` without overflow (saturating at the i64 range).
fn signed_delta(a: u64, b: u64) -> i64 {
    (i128::from(b) - i128::from(a)).clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

fn round(v: f64, decimals: i32) -> f64 {
    if !v.is_finite() {
        return 0.0;
    }
    let f = 10f64.powi(decimals);
    (v * f).round() / f
}

/// Totals as a short phrase, for reports.
fn totals_phrase(t: &PoolTotals) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(m) = t.memory_kib {
        parts.push(format!("memory {}", human_bytes(m * 1024)));
    }
    if let Some(p) = t.paged_bytes {
        parts.push(format!("paged pool {}", human_bytes(p)));
    }
    if let Some(n) = t.nonpaged_bytes {
        parts.push(format!("nonpaged pool {}", human_bytes(n)));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kmdf_default_tags_follow_the_service_name() {
        assert_eq!(kmdf_default_tag("Contoso"), PoolTag::parse("Cont").ok());
        assert_eq!(kmdf_default_tag("WdfLeaky"), PoolTag::parse("Leak").ok());
        assert_eq!(kmdf_default_tag("wdfLeaky"), PoolTag::parse("Leak").ok());
        assert_eq!(kmdf_default_tag("ab"), PoolTag::parse("FxDr").ok());
        assert_eq!(kmdf_default_tag("WdfAb"), PoolTag::parse("FxDr").ok());
        assert_eq!(kmdf_default_tag(""), None);
    }

    #[test]
    fn the_inbox_list_knows_the_kernel_and_not_third_parties() {
        let set = inbox_drivers();
        assert!(set.contains("ntoskrnl") && set.contains("ntfs") && set.contains("fltmgr"));
        assert!(!set.contains("vmci") && !set.contains("ixgbe"));
    }

    #[test]
    fn equal_scores_rank_by_bytes_then_tag_then_pool_whatever_the_input_order() {
        // `Mmmm` is the largest. The other three have equal bytes, so equal scores, and are
        // told apart by tag and then by pool (paged before nonpaged).
        let rows = [
            ("Zzzz", PoolKind::Paged, 4096),
            ("Aaaa", PoolKind::NonPaged, 4096),
            ("Mmmm", PoolKind::Paged, 8192),
            ("Aaaa", PoolKind::Paged, 4096),
        ];
        let expected = [
            ("Mmmm", PoolKind::Paged),
            ("Aaaa", PoolKind::Paged),
            ("Aaaa", PoolKind::NonPaged),
            ("Zzzz", PoolKind::Paged),
        ];
        let view = KnowledgeView::default();
        let vendors = VendorDirectory::embedded();
        for rotation in 0..rows.len() {
            let mut shuffled = rows.to_vec();
            shuffled.rotate_left(rotation);
            let input = AnalysisInput {
                snapshots: vec![Snapshot {
                    rows: shuffled
                        .iter()
                        .map(|&(tag, pool, bytes)| {
                            crate::snapshot::PoolUsage::new(
                                PoolTag::parse(tag).unwrap(),
                                pool,
                                bytes,
                            )
                        })
                        .collect(),
                    ..Snapshot::default()
                }],
                ..AnalysisInput::default()
            };
            let analysis = analyze(&input, &view, &vendors, &AnalyzeOptions::default());
            let order: Vec<(String, PoolKind)> = analysis
                .findings
                .iter()
                .map(|f| (f.tag.to_string(), f.pool))
                .collect();
            let expected: Vec<(String, PoolKind)> =
                expected.iter().map(|&(t, p)| (t.to_owned(), p)).collect();
            assert_eq!(order, expected, "rotation {rotation}");
        }
    }

    #[test]
    fn growth_together_is_detected() {
        assert!(moves_together(&[10.0, 20.0, 5.0], &[20.0, 41.0, 10.0]).is_some());
        assert!(moves_together(&[10.0, 20.0, 5.0], &[20.0, 1.0, 30.0]).is_none());
        assert!(moves_together(&[6.0], &[6.0]).is_some());
        assert!(moves_together(&[6.0], &[60.0]).is_none());
        assert!(moves_together(&[6.0, 12.0], &[3.0, 6.0]).is_some());
    }
}
