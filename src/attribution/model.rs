//! The result types of an analysis: what [`analyze`](super::analyze) returns, as JSON, the page,
//! the text report and the vendor report read it.

use serde::Serialize;
use time::OffsetDateTime;

use crate::driver::authenticode::SignatureNote;
use crate::knowledge::Confidence;
use crate::snapshot::{PoolKind, SnapshotFormat};
use crate::tag::PoolTag;

/// Knobs of an analysis.
#[derive(Debug, Clone)]
pub struct AnalyzeOptions {
    /// Where the machine's drivers go to be scanned, for the steps that ask for them.
    pub scan_target: ScanTarget,
    /// Per-tag findings returned (all tags count in the ranking).
    pub max_findings: usize,
    pub max_suspects: usize,
    /// Suspects that get a ready-to-send vendor report.
    pub max_reports: usize,
    /// The known causes matched against the top tags (none: no case is matched).
    pub causes: std::sync::Arc<crate::causes::CauseBook>,
}

impl Default for AnalyzeOptions {
    fn default() -> Self {
        Self {
            scan_target: ScanTarget::UnknownServer,
            max_findings: 50,
            max_suspects: 20,
            max_reports: 5,
            causes: std::sync::Arc::default(),
        }
    }
}

pub use crate::driver_upload::{DriverUpload, ScanTarget, ServerUrl};

/// What the answer is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AnswerKind {
    /// A third-party driver allocates the top tag.
    ThirdPartyDriver,
    /// Windows owns the top tag; a third-party driver holding it is the usual cause.
    WindowsOwned,
    /// The knowledge base does not know the top tag.
    UnknownTag,
    /// The knowledge base describes the tag but names no driver file.
    KnownOwnerUnclear,
    /// No tag is above what is normal for it and nothing grows steadily.
    NothingAbnormal,
    /// Nothing stands out, but the reading cannot rule a leak out (numbers from sentences,
    /// rows skipped, changes instead of levels, states compared): what to capture instead.
    Inconclusive,
    /// A Driver Verifier list: the allocations a driver still holds, by tag and caller.
    VerifierAllocations,
    /// Pool totals over time, no per-tag numbers.
    PoolTotalsOnly,
    /// The input held no pool usage.
    NoData,
}

impl AnswerKind {
    /// The serde name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ThirdPartyDriver => "third-party-driver",
            Self::WindowsOwned => "windows-owned",
            Self::UnknownTag => "unknown-tag",
            Self::KnownOwnerUnclear => "known-owner-unclear",
            Self::NothingAbnormal => "nothing-abnormal",
            Self::Inconclusive => "inconclusive",
            Self::VerifierAllocations => "verifier-allocations",
            Self::PoolTotalsOnly => "pool-totals-only",
            Self::NoData => "no-data",
        }
    }
}

/// The answer first: the tag, the driver and its version, the action, and how sure.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Answer {
    pub kind: AnswerKind,
    pub tag: Option<PoolTag>,
    pub pool: Option<PoolKind>,
    pub driver: Option<String>,
    pub vendor: Option<String>,
    /// For a series: the order its snapshots were read in (file names and times) and why.
    pub order: Option<String>,
    /// The version on the machine (its driver list), else the scanned version whose code
    /// allocates the tag (when another scanned version does not), else the only version the
    /// knowledge base knows; never merely the newest known.
    pub version: Option<String>,
    /// Every version of the driver the knowledge base knows, oldest first.
    pub known_versions: Vec<String>,
    /// Drivers worth checking next (KMDF-shaped names, drivers named by the snapshot, loaded
    /// filter drivers, owners of tags that move in lockstep).
    pub candidates: Vec<String>,
    /// One sentence: what is wrong and who is behind it.
    pub headline: String,
    /// What to do now.
    pub action: String,
    pub confidence: VerdictStrength,
    /// The one reason for that confidence.
    pub confidence_reason: String,
    /// Known cases that name the top tags, closest match first: what matched, the fix and the
    /// page that says so. A case whose driver is loaded makes that driver the answer's.
    pub known_causes: Vec<super::KnownCauseMatch>,
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

    pub(super) fn from_confidence(c: Confidence) -> Self {
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
    /// The knowledge base does not know the tag.
    Unknown,
    /// The knowledge base describes the tag but names no driver file.
    KnownOwnerUnclear,
}

impl OwnerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ThirdParty => "third-party",
            Self::Os => "os",
            Self::Unknown => "unknown",
            Self::KnownOwnerUnclear => "known-owner-unclear",
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
    /// Number of distinct (tag, pool) pairs analyzed.
    pub findings_total: usize,
    pub groups: Vec<TagGroup>,
    pub unknown_tags: Vec<UnknownTag>,
    /// Present when the top tags belong to the OS.
    pub os_tags: Option<OsTagAdvice>,
    pub next_steps: Vec<String>,
    /// The ways to send the machine's drivers for scanning, when a step asks for it (an
    /// unknown tag, an owner the knowledge base does not name).
    pub driver_upload: Option<DriverUpload>,
    pub input: InputInfo,
    pub machine: MachineTotals,
    /// Which knowledge view answered.
    pub knowledge: KnowledgeUsed,
    /// What was read, for a person to check at a glance: the top tags of the latest reading
    /// (largest first) with the line each came from, the same tags' earlier and after-change
    /// values, and the machine totals.
    pub read: Vec<ReadValue>,
}

/// Which reading a value belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ReadState {
    /// The latest reading: what the answer is about.
    Latest,
    /// The reading before it.
    Earlier,
    /// A state the input labels as after a change (kept as context).
    AfterChange,
}

/// One value as read from the input.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReadValue {
    /// The tag; none for a machine total.
    pub tag: Option<PoolTag>,
    /// What a machine total is (`paged pool total`, `memory in use`).
    pub what: Option<String>,
    pub pool: PoolKind,
    pub state: ReadState,
    /// The reading's label (a time, a heading, `after the driver update`).
    pub label: Option<String>,
    /// The value in words, as exact as the input gave it (`about 2.2 GiB`, `39,511 held (no
    /// size given)`).
    pub value: String,
    /// Bytes, when the input gave a size.
    pub bytes: Option<u64>,
    pub outstanding: Option<u64>,
    pub allocs: Option<u64>,
    pub frees: Option<u64>,
    pub precision: crate::snapshot::Precision,
    pub source: Option<SourceRef>,
}

/// Where in the input a value was read.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SourceRef {
    /// Which input file (0 for the first).
    pub file: usize,
    pub file_name: Option<String>,
    /// 1-based line of the file as read (after decoding).
    pub line: u32,
    /// The line's text (trimmed, at most 160 characters).
    pub text: String,
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
    pub time_basis: TimeBasis,
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
    /// How the snapshots were put in order, and why.
    pub order: SeriesOrder,
    /// The snapshots in the order used, oldest first: which file each came from, and when.
    pub series: Vec<SeriesPoint>,
}

/// How a series was put in order.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SeriesOrder {
    pub basis: OrderBasis,
    /// Whether poolmon's counts since boot agree with the order used.
    pub counters: CounterCheck,
    /// The snapshots were sent in another order than the one used.
    pub upload_order_differs: bool,
    /// The order used and why, in words (the answer's `order`).
    pub explanation: String,
}

/// What a series is ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OrderBasis {
    /// One snapshot: no order to find.
    Single,
    /// Every snapshot carries its time.
    Times,
    /// poolmon's `Allocs` and `Frees`, which count since boot and only grow.
    Counters,
    /// The order the files (and the frames in them) were sent in: nothing else tells.
    UploadOrder,
}

/// What poolmon's counts since boot say of the order used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CounterCheck {
    /// The snapshots have no `Allocs` and `Frees` to compare.
    Unavailable,
    /// The counts only grow along the order.
    Agree,
    /// The counts fall somewhere along the order: a restart in between, or snapshots of
    /// different machines.
    Disagree,
}

/// One snapshot of the series.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SeriesPoint {
    /// 1-based place in the order used.
    pub position: usize,
    /// Which input file (0 for the first sent).
    pub file: usize,
    pub file_name: Option<String>,
    /// 1-based frame within its file, when the file holds several.
    pub frame: Option<usize>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub taken_at: Option<OffsetDateTime>,
    pub label: Option<String>,
}

/// What a series' growth is measured against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TimeBasis {
    /// One snapshot: no growth.
    Single,
    /// Every snapshot has a time (or the input's own clock): growth per hour.
    Hours,
    /// A series without times: growth per snapshot interval.
    Samples,
}

/// Where a tag's normal size came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum NormalSource {
    /// `data/normal_tags.csv`.
    Table,
    /// No row for the tag: the default (32 MiB).
    Default,
}

/// Where the version a suspect is said to run came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum VersionSource {
    /// The machine's own driver list: the version it runs.
    DriverList,
}

/// Where a candidate that is not a knowledge-base row came from; its `source` in the JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CandidateOrigin {
    /// The snapshot itself (a driver column, a `!verifier` caller).
    Snapshot,
    /// The loaded-driver list (a KMDF default tag, a filter driver).
    DriverList,
    /// A tag growing in step with one a driver owns.
    Group,
    /// A wildcard row of a tag list (its source is the row's).
    ListPattern,
}

impl CandidateOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Snapshot => "snapshot",
            Self::DriverList => "driver-list",
            Self::Group => "group",
            Self::ListPattern => "",
        }
    }
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
    pub normal_source: NormalSource,
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
    /// Where the latest value was read.
    pub source: Option<SourceRef>,
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
    /// `r_squared × rising_intervals` of the outstanding allocations, when every snapshot
    /// counts them.
    pub allocs_steadiness: Option<f64>,
    /// Of the bytes; of the outstanding allocations when the input gives counts but no sizes.
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
    /// The version on the machine, from its driver list (none without one, or when the driver
    /// is not in it).
    pub version_seen: Option<String>,
    pub version_source: Option<VersionSource>,
    pub newest_known_version: Option<String>,
    /// Every version the knowledge base knows (scanned files and list rows), oldest first.
    pub known_versions: Vec<String>,
    /// The names the driver's files were uploaded under, where they are not its own name.
    pub uploaded_as: Vec<String>,
    pub sha256: Option<String>,
    /// What the signature of that file says, when it was analyzed here: "signed by X
    /// (verified)", or a warning that the file is not the one its vendor signed.
    pub signature: Option<SignatureNote>,
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

/// What a suspect's guidance tells the admin to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum GuidanceKind {
    /// A newer version than the one on the machine is known.
    Update,
    /// The version on the machine (by its driver list) is the newest known.
    NewestKnown,
    /// The machine's version is not known (no driver list, or the driver is not in it), but
    /// versions are: which one runs decides.
    CheckVersion,
    /// Nothing is known about versions.
    ContactVendor,
    /// The driver is part of Windows.
    OsComponent,
}

/// A pool trace narrowed to at most four tags: a WPR profile and the command lines.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PoolTrace {
    /// The tags as WPR and xperf take them (padding blanks dropped).
    pub tags: Vec<String>,
    pub profile_file: String,
    /// The `.wprp` profile text to save as `profile_file`.
    pub profile: String,
    /// Start, (reproduce), stop: run in an elevated prompt in the profile's folder.
    pub wpr_commands: Vec<String>,
    /// The same trace with xperf (older systems, WPT).
    pub xperf_commands: Vec<String>,
}

/// One file of the input as read: its format, what it gave and how much was said about it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FileSummary {
    pub name: Option<String>,
    pub format: SnapshotFormat,
    pub snapshots: usize,
    pub rows: usize,
    pub warnings: usize,
    pub truncated: bool,
}
