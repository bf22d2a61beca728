//! Pool-usage snapshot parsers.
//!
//! Admins paste what their tools print: poolmon screens and `/n` logs, WinDbg `!poolused` and
//! `!verifier` output, CSV/TSV exports, PowerShell `Format-Table` text, markdown tables from
//! tickets and JSON. [`parse_snapshots`] detects the format (or takes a forced one), and returns
//! one [`Snapshot`] per frame, in time order, with per-line warnings for rows it had to skip.
//! [`parse_driver_list`] reads the loaded-driver list (`driverquery /v /fo csv` or JSON).
//!
//! `docs/SNAPSHOT_FORMATS.md` documents every accepted layout and the column-role model that
//! reads every table.

mod aligned;
mod cell;
mod columns;
mod csv;
mod drivers;
mod header;
mod html;
mod json;
mod keyvalue;
mod markdown;
mod not_a_snapshot;
mod poolmon;
mod poolmon_write;
mod poolused;
mod powershell;
mod prose;
mod table;
mod text;
mod verifier;

use std::fmt;
use std::str::FromStr;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::tag::PoolTag;

pub use drivers::{
    DRIVER_LIST_FORMATS, LoadedDriver, POWERSHELL_DRIVER_LIST, parse_driver_list,
    parse_driver_list_with_warnings,
};
pub use not_a_snapshot::NotASnapshot;
pub use poolmon_write::{PoolmonText, write_poolmon};
pub use text::mapped_driver_files;

/// Every `?format=` value [`SnapshotFormat::from_str`] accepts, as listed in errors.
pub const FORMATS_UNDERSTOOD: &[&str] = &[
    "poolmon",
    "poolmon-log",
    "poolused",
    "verifier",
    "csv",
    "tsv",
    "powershell",
    "markdown",
    "table",
    "prose",
    "json",
];

/// The layouts the parser takes. `Csv` covers comma-, tab- and semicolon-separated text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SnapshotFormat {
    /// poolmon's live screen copied from a console (change columns `( n)` optional).
    PoolmonScreen,
    /// A poolmon log (`poolmon -n`), possibly several frames with timestamps.
    PoolmonLog,
    /// WinDbg `!poolused` output (any flags).
    Poolused,
    /// WinDbg `!verifier 3` (or `0x...`) pool-allocation listings, aggregated per tag.
    Verifier,
    /// CSV or TSV with a header row.
    Csv,
    /// PowerShell `Format-Table` text (header row and a dashes row).
    PowershellTable,
    /// A markdown (GitHub) table pasted into a ticket.
    MarkdownTable,
    /// A table of words and numbers lined up by spaces (or not lined up at all), as people
    /// retype or edit tool output.
    Table,
    /// Sentences and bullets naming a tag with a size: read best-effort, as a last resort.
    Prose,
    /// The JSON form documented in FORMATS.md.
    Json,
}

impl SnapshotFormat {
    /// The `?format=` name (`Csv` is `csv`; `tsv` also parses to `Csv`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::PoolmonScreen => "poolmon",
            Self::PoolmonLog => "poolmon-log",
            Self::Poolused => "poolused",
            Self::Verifier => "verifier",
            Self::Csv => "csv",
            Self::PowershellTable => "powershell",
            Self::MarkdownTable => "markdown",
            Self::Table => "table",
            Self::Prose => "prose",
            Self::Json => "json",
        }
    }
}

impl fmt::Display for SnapshotFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown `?format=` value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown snapshot format {given:?}; formats understood: {}", FORMATS_UNDERSTOOD.join(", "))]
pub struct UnknownFormat {
    pub given: String,
}

impl FromStr for SnapshotFormat {
    type Err = UnknownFormat;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let key: String = s
            .trim()
            .chars()
            .filter(|c| !matches!(c, '-' | '_' | ' ' | '!'))
            .flat_map(char::to_lowercase)
            .collect();
        Ok(match key.as_str() {
            "poolmon" | "poolmonscreen" | "screen" => Self::PoolmonScreen,
            "poolmonlog" | "log" | "poolsnap" => Self::PoolmonLog,
            "poolused" => Self::Poolused,
            "verifier" => Self::Verifier,
            "csv" | "tsv" => Self::Csv,
            "powershell" | "ps" | "formattable" | "powershelltable" => Self::PowershellTable,
            "markdown" | "md" | "markdowntable" => Self::MarkdownTable,
            "table" | "text" | "aligned" => Self::Table,
            "prose" => Self::Prose,
            "json" => Self::Json,
            _ => {
                return Err(UnknownFormat {
                    given: s.to_owned(),
                });
            }
        })
    }
}

/// The tags a knowledge base knows. A word in a sentence is read as a tag only where the text
/// marks it as one, or where it is a tag the knowledge base knows: this is how the readers ask.
pub trait KnownTags {
    /// Whether the knowledge base holds this exact tag (case and trailing blanks count).
    fn knows(&self, tag: PoolTag) -> bool;
}

/// No knowledge base: only what the text marks as a tag is one.
pub struct NoKnownTags;

impl KnownTags for NoKnownTags {
    fn knows(&self, _: PoolTag) -> bool {
        false
    }
}

/// How to parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseOptions {
    /// `None` detects the format.
    pub format: Option<SnapshotFormat>,
    /// At most this many rows over all snapshots; the rest is dropped with a warning and
    /// [`ParsedSnapshots::truncated`] set.
    pub max_rows: usize,
    /// At most this many snapshots (frames); later frames are dropped the same way.
    pub max_snapshots: usize,
    /// At most this many warnings are kept; one more says how many were left out.
    pub max_warnings: usize,
    /// Reading stops when this passes (the request that asked has given up): the error's
    /// kind is then [`SnapshotErrorKind::DeadlinePassed`].
    pub deadline: Option<Instant>,
}

impl Default for ParseOptions {
    fn default() -> Self {
        Self {
            format: None,
            max_rows: 500_000,
            max_snapshots: 10_000,
            max_warnings: 200,
            deadline: None,
        }
    }
}

/// What [`parse_snapshots`] read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParsedSnapshots {
    pub format: SnapshotFormat,
    /// One per frame, in time order (input order when some frame has no time).
    pub snapshots: Vec<Snapshot>,
    pub warnings: Vec<LineWarning>,
    /// True when a cap in [`ParseOptions`] dropped rows or frames.
    pub truncated: bool,
    /// Why the reading may not be the whole truth, each once, in the order first met. The
    /// analysis never says "nothing abnormal" over a reading with a caveat.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub caveats: Vec<Caveat>,
}

/// Why a reading may not be the whole truth: numbers taken from sentences, rows that could not
/// be read, a paste that compares states or gives changes instead of levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Caveat {
    /// Numbers were read from sentences, not from a table or tool output.
    FromProse,
    /// Some rows could not be read and were skipped.
    RowsSkipped,
    /// A cap dropped rows or frames.
    Truncated,
    /// The paste compares states (while leaking, after a reboot, after the fix); the leaking
    /// state was read and the others kept as context.
    ComparesStates,
    /// The numbers are changes over a period (a delta table), not levels.
    Changes,
    /// A number column names no unit: its numbers were read as counts, not bytes.
    UnitNotGiven,
    /// Machine totals only (paged and nonpaged pool over time), no per-tag numbers.
    TotalsOnly,
}

impl Caveat {
    /// What it means for the answer, in words.
    pub const fn explain(self) -> &'static str {
        match self {
            Self::FromProse => "the numbers were read from sentences, not from a tool's table",
            Self::RowsSkipped => "some rows could not be read and were left out",
            Self::Truncated => "the input was cut at a size limit",
            Self::ComparesStates => {
                "the paste compares states (such as while leaking and after a reboot)"
            }
            Self::Changes => "the numbers are changes over a period, not the sizes now",
            Self::UnitNotGiven => {
                "a number column gives no unit, so its numbers were read as counts"
            }
            Self::TotalsOnly => "the paste gives pool totals only, no per-tag numbers",
        }
    }
}

/// A row or line that was skipped or read with a caveat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineWarning {
    /// 1-based line in the (decoded) input; 0 when the warning is about the whole input.
    pub line: usize,
    pub message: String,
}

/// One frame: the pool usage at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Snapshot {
    /// Which of the analyzed files it came from (0 for the first), for pointing back at lines.
    #[serde(skip)]
    pub file: usize,
    /// Which frame of its file (0 for the first).
    #[serde(skip)]
    pub frame: usize,
    /// When the frame was taken, if the input says (times without a zone are read as UTC).
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub taken_at: Option<OffsetDateTime>,
    /// Hours on the input's own clock (an `Uptime` column, or the period a change column
    /// states), for inputs that say how far apart their snapshots are but not when they were
    /// taken. Comparable only between snapshots of one input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elapsed_hours: Option<f64>,
    /// A heading, the time text as written, the `!poolused` sort line, a verifier module...
    pub label: Option<String>,
    /// A point a person labelled as taken after a change (`after the fix`): it tells whether
    /// the change helped, not how the leak grew.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub after_change: bool,
    pub totals: Option<PoolTotals>,
    pub rows: Vec<PoolUsage>,
}

/// System-wide numbers some tools print above the table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolTotals {
    pub memory_kib: Option<u64>,
    pub available_kib: Option<u64>,
    pub commit_kib: Option<u64>,
    pub commit_limit_kib: Option<u64>,
    pub commit_peak_kib: Option<u64>,
    pub paged_bytes: Option<u64>,
    pub nonpaged_bytes: Option<u64>,
    /// Outstanding allocations (`!poolused` TOTAL line).
    pub paged_allocs: Option<u64>,
    pub nonpaged_allocs: Option<u64>,
    /// Memory in use as a person states it (`used memory is 1.11 GB`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_in_use_kib: Option<u64>,
}

impl PoolTotals {
    fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Which pool a row counts.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum PoolKind {
    Paged,
    NonPaged,
    /// Session pool (poolmon `/s`, `!poolused 8`).
    Session,
    /// The source does not say (verifier listings of modules using both pools, tables without a
    /// pool column).
    Unknown,
}

impl PoolKind {
    pub const fn name(self) -> &'static str {
        match self {
            Self::Paged => "paged",
            Self::NonPaged => "nonpaged",
            Self::Session => "session",
            Self::Unknown => "unknown",
        }
    }
}

impl fmt::Display for PoolKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One tag in one pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolUsage {
    pub tag: PoolTag,
    pub pool: PoolKind,
    /// Allocations since boot (poolmon `Allocs`).
    pub allocs: Option<u64>,
    pub frees: Option<u64>,
    /// Allocations still held (poolmon `Diff`, `!poolused` non-verbose `Allocs`, verifier count).
    pub outstanding: Option<u64>,
    pub bytes: u64,
    /// poolmon `/g` Mapped_Driver text, `!poolused` description, verifier module.
    pub mapped_driver: Option<String>,
    /// `!verifier` callers, `module!function+0x12` (or the bare address without symbols).
    #[serde(default)]
    pub callers: Vec<String>,
    /// How far `bytes` can be trusted: a person may write `~12 MB` or `>4 GB`, or give counts
    /// without sizes.
    #[serde(default, skip_serializing_if = "Precision::is_exact")]
    pub precision: Precision,
    /// The 1-based line of the (decoded) input the row was read from; 0 when not known.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub line: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// How exact a row's byte count is, from most to least certain (so `max` is the less certain
/// of two readings).
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Precision {
    /// As the tool printed it, or as a person wrote it without a qualifier.
    #[default]
    Exact,
    /// Written with `~`, `≈` or `approx.`.
    Approximate,
    /// At least this much: `>4 GB` where a counter wrapped, or a level derived from a change.
    LowerBound,
    /// The table gives counts but no sizes; `bytes` is 0 and says nothing.
    Unknown,
}

impl Precision {
    pub fn is_exact(&self) -> bool {
        *self == Self::Exact
    }
}

impl PoolUsage {
    pub fn new(tag: PoolTag, pool: PoolKind, bytes: u64) -> Self {
        Self {
            tag,
            pool,
            allocs: None,
            frees: None,
            outstanding: None,
            bytes,
            mapped_driver: None,
            callers: Vec::new(),
            precision: Precision::Exact,
            line: 0,
        }
    }

    /// The row as read from 1-based line `line` of the input.
    pub fn at_line(self, line: usize) -> Self {
        Self {
            line: u32::try_from(line).unwrap_or(u32::MAX),
            ..self
        }
    }

    /// Outstanding allocations, from `Diff` or `allocs - frees`.
    pub fn outstanding_or_derived(&self) -> Option<u64> {
        self.outstanding
            .or_else(|| match (self.allocs, self.frees) {
                (Some(a), Some(f)) => a.checked_sub(f),
                _ => None,
            })
    }
}

/// The input could not be read as any pool snapshot (or not as the forced format).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotError {
    /// 1-based line the problem was found on, when there is one.
    pub line: Option<usize>,
    pub message: String,
    pub formats_understood: &'static [&'static str],
    pub kind: SnapshotErrorKind,
}

/// Why a snapshot was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotErrorKind {
    /// The text is no snapshot, or not one of the forced format.
    Unreadable,
    /// [`ParseOptions::deadline`] passed before reading was done.
    DeadlinePassed,
    /// The input is something else, with a place of its own (a tag list, a driver list, a
    /// driver file...): the message says where it goes.
    NotASnapshot(NotASnapshot),
}

impl SnapshotError {
    fn new(line: Option<usize>, message: impl Into<String>) -> Self {
        Self {
            line,
            message: message.into(),
            formats_understood: FORMATS_UNDERSTOOD,
            kind: SnapshotErrorKind::Unreadable,
        }
    }

    fn deadline_passed() -> Self {
        Self {
            kind: SnapshotErrorKind::DeadlinePassed,
            ..Self::new(None, "reading stopped at the analysis deadline")
        }
    }
}

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        write!(
            f,
            "{} (formats understood: {})",
            self.message,
            self.formats_understood.join(", ")
        )
    }
}

impl std::error::Error for SnapshotError {}

/// Shared state while parsing: warnings and caps.
pub(crate) struct Ctx {
    max_rows: usize,
    max_snapshots: usize,
    max_warnings: usize,
    rows: usize,
    pub(crate) warnings: Vec<LineWarning>,
    suppressed: usize,
    pub(crate) truncated: bool,
    caveats: Vec<Caveat>,
}

impl Ctx {
    fn new(opts: &ParseOptions) -> Self {
        Self {
            max_rows: opts.max_rows,
            max_snapshots: opts.max_snapshots.max(1),
            max_warnings: opts.max_warnings,
            rows: 0,
            warnings: Vec::new(),
            suppressed: 0,
            truncated: false,
            caveats: Vec::new(),
        }
    }

    /// A fresh context with the same caps, for a reading that may be thrown away.
    pub(crate) fn scratch(&self) -> Self {
        Self {
            rows: self.rows,
            ..Self::new(&ParseOptions {
                format: None,
                max_rows: self.max_rows,
                max_snapshots: self.max_snapshots,
                max_warnings: self.max_warnings,
                deadline: None,
            })
        }
    }

    /// Takes what a scratch context gathered, as if it had been gathered here.
    pub(crate) fn absorb(&mut self, other: Self) {
        self.rows = other.rows;
        self.truncated |= other.truncated;
        for c in other.caveats {
            self.caveat(c);
        }
        for w in other.warnings {
            self.push_warning(w.line, w.message);
        }
        self.suppressed += other.suppressed;
    }

    /// Records a caveat of the reading (once).
    pub(crate) fn caveat(&mut self, caveat: Caveat) {
        if !self.caveats.contains(&caveat) {
            self.caveats.push(caveat);
        }
    }

    /// Records a row (or block, or allocation) the reader could not read and left out: a
    /// warning naming it, and a reading that is not the whole table.
    pub(crate) fn skip(&mut self, line: usize, message: impl Into<String>) {
        self.caveat(Caveat::RowsSkipped);
        self.push_warning(line, message.into());
    }

    /// Records something worth saying about a line that was still read.
    pub(crate) fn warn(&mut self, line: usize, message: impl Into<String>) {
        let message = message.into();
        // The wording of every reader's left-out rows: those go through skip().
        debug_assert!(
            !message.ends_with("skipped"),
            "a row left out is recorded with skip(), which marks the reading: {message}"
        );
        self.push_warning(line, message);
    }

    fn push_warning(&mut self, line: usize, message: String) {
        if self.warnings.len() < self.max_warnings {
            self.warnings.push(LineWarning { line, message });
        } else {
            self.suppressed += 1;
        }
    }

    /// True while another row may be added; the first refusal records a warning.
    pub(crate) fn take_row(&mut self, line: usize) -> bool {
        if self.rows >= self.max_rows {
            if !self.truncated {
                self.truncated = true;
                self.caveat(Caveat::Truncated);
                let max = self.max_rows;
                self.warn(
                    line,
                    format!("row limit of {max} reached; the rest is ignored"),
                );
            }
            return false;
        }
        self.rows += 1;
        true
    }

    pub(crate) fn full(&self) -> bool {
        self.truncated
    }

    /// Adds a finished frame (dropping empty ones: no rows and no totals), honouring the
    /// snapshot cap.
    pub(crate) fn push_snapshot(&mut self, out: &mut Vec<Snapshot>, snap: Snapshot, line: usize) {
        if snap.rows.is_empty() && snap.totals.as_ref().is_none_or(PoolTotals::is_empty) {
            return;
        }
        if out.len() >= self.max_snapshots {
            if !self.truncated {
                self.truncated = true;
                self.caveat(Caveat::Truncated);
                let max = self.max_snapshots;
                self.warn(
                    line,
                    format!("snapshot limit of {max} reached; the rest is ignored"),
                );
            }
            return;
        }
        out.push(snap);
    }

    fn finish(mut self) -> (Vec<LineWarning>, bool, Vec<Caveat>) {
        if self.suppressed > 0 {
            let n = self.suppressed;
            self.warnings.push(LineWarning {
                line: 0,
                message: format!("{n} more warnings left out"),
            });
        }
        (self.warnings, self.truncated, self.caveats)
    }
}

fn run_format(
    format: SnapshotFormat,
    forced: bool,
    input: &text::Input<'_>,
    ctx: &mut Ctx,
    known: &dyn KnownTags,
) -> Result<(SnapshotFormat, Vec<Snapshot>), SnapshotError> {
    match format {
        SnapshotFormat::PoolmonScreen | SnapshotFormat::PoolmonLog => {
            let (snaps, log) = poolmon::parse(input, ctx)?;
            let detected = if log {
                SnapshotFormat::PoolmonLog
            } else {
                SnapshotFormat::PoolmonScreen
            };
            Ok((detected, snaps))
        }
        SnapshotFormat::Poolused => Ok((format, poolused::parse(input, ctx)?)),
        SnapshotFormat::Verifier => Ok((format, verifier::parse(input, ctx)?)),
        // Every table layout goes through one reader; a forced format keeps only its tables.
        SnapshotFormat::Csv
        | SnapshotFormat::PowershellTable
        | SnapshotFormat::MarkdownTable
        | SnapshotFormat::Table => table::parse(input, ctx, forced.then_some(format)),
        SnapshotFormat::Prose => Ok((format, prose::parse(input, ctx, known))),
        SnapshotFormat::Json => Ok((format, json::parse(input, ctx)?)),
    }
}

/// A reading: the format, its snapshots and what the parse context gathered.
struct Reading {
    format: SnapshotFormat,
    snapshots: Vec<Snapshot>,
    ctx: Ctx,
}

impl Reading {
    fn rows(&self) -> usize {
        self.snapshots.iter().map(|s| s.rows.len()).sum()
    }

    /// Machine totals and no tag: taken only when no other format reads a tag.
    fn totals_only(&self) -> bool {
        self.rows() == 0
    }

    /// A tool's fast path that had to skip rows: an edited paste, which the table reader may
    /// read whole.
    fn skipped_rows(&self) -> bool {
        matches!(
            self.format,
            SnapshotFormat::PoolmonScreen | SnapshotFormat::PoolmonLog | SnapshotFormat::Poolused
        ) && self.ctx.caveats.contains(&Caveat::RowsSkipped)
    }
}

/// A label as a person reads it: markdown emphasis and a bullet removed, at most 100
/// characters (`**after the driver update**` is `after the driver update`).
pub fn plain_label(label: &str) -> String {
    let t = label.trim().trim_start_matches(['-', '*', '•']).trim();
    let t: String = t.replace("**", "").replace('`', "");
    let t = t.trim();
    if t.chars().count() > 100 {
        let cut: String = t.chars().take(99).collect();
        format!("{}…", cut.trim_end())
    } else {
        t.to_owned()
    }
}

/// The error for a binary file (a driver, an archive, a dump...) by its first bytes, `None`
/// for anything else: the HTTP layer checks this before reading a whole upload.
pub fn refuse_binary(start: &[u8]) -> Option<SnapshotError> {
    not_a_snapshot::binary(start)
}

/// Parses pool-usage text in any supported format (see `docs/SNAPSHOT_FORMATS.md`).
///
/// Errors when the input is empty, when no format yields a single row (the error then says
/// what the text looks like: a driver binary, a tag list, a driver list, a debugger session...),
/// or when a forced format does not fit; malformed rows inside a recognised table become
/// [`LineWarning`]s.
pub fn parse_snapshots(
    input: &[u8],
    opts: &ParseOptions,
) -> Result<ParsedSnapshots, SnapshotError> {
    parse_snapshots_with(input, opts, &NoKnownTags)
}

/// [`parse_snapshots`], where a word in prose may also be a tag because `known` holds it.
pub fn parse_snapshots_with(
    input: &[u8],
    opts: &ParseOptions,
    known: &dyn KnownTags,
) -> Result<ParsedSnapshots, SnapshotError> {
    parse_snapshots_keeping_text(input, opts, known).map(|(parsed, _)| parsed)
}

/// [`parse_snapshots_with`], also returning the text as every reader read it (decoded, HTML
/// stripped, NULs dropped), whose lines [`PoolUsage::line`] counts: decoded once, for pointing
/// back at lines.
pub fn parse_snapshots_keeping_text<'a>(
    input: &'a [u8],
    opts: &ParseOptions,
    known: &dyn KnownTags,
) -> Result<(ParsedSnapshots, std::borrow::Cow<'a, str>), SnapshotError> {
    if let Some(refused) = refuse_binary(input) {
        return Err(refused);
    }
    let input = text::Input::decode(input).until(opts.deadline);
    let parsed = parse_input(&input, opts, known)?;
    Ok((parsed, input.into_text()))
}

/// Reads decoded text in the detected (or forced) format.
fn parse_input(
    input: &text::Input<'_>,
    opts: &ParseOptions,
    known: &dyn KnownTags,
) -> Result<ParsedSnapshots, SnapshotError> {
    let Some(first) = input.first_nonblank() else {
        return Err(SnapshotError::new(
            None,
            "the input is empty (no pool usage to read)",
        ));
    };

    let candidates: Vec<SnapshotFormat> = match opts.format {
        Some(f) => vec![f],
        None => detect(input),
    };

    let mut first_error: Option<SnapshotError> = None;
    let mut best: Option<Reading> = None;
    let mut totals: Option<Reading> = None;
    for format in candidates {
        if input.deadline_passed() {
            return Err(SnapshotError::deadline_passed());
        }
        let mut ctx = Ctx::new(opts);
        match run_format(format, opts.format.is_some(), input, &mut ctx, known) {
            Ok((detected, snapshots)) if !snapshots.is_empty() => {
                let reading = Reading {
                    format: detected,
                    snapshots,
                    ctx,
                };
                if reading.totals_only() {
                    totals.get_or_insert(reading);
                    continue;
                }
                let edited = reading.skipped_rows();
                if best.as_ref().is_none_or(|b| reading.rows() > b.rows()) {
                    best = Some(reading);
                }
                // An edited tool paste is also offered to the table reader, and the reading
                // with more rows wins; anything else is taken as it is.
                if !(edited && opts.format.is_none()) {
                    break;
                }
                let mut ctx = Ctx::new(opts);
                if let Ok((f, snapshots)) = table::parse(input, &mut ctx, None) {
                    let table = Reading {
                        format: f,
                        snapshots,
                        ctx,
                    };
                    if best.as_ref().is_some_and(|b| table.rows() > b.rows()) {
                        best = Some(table);
                    }
                }
                break;
            }
            Ok(_) => {
                let line = ctx.warnings.first().map_or(first, |w| w.line.max(1));
                let detail = ctx
                    .warnings
                    .first()
                    .map(|w| format!(" (first problem: {})", w.message))
                    .unwrap_or_default();
                first_error.get_or_insert(SnapshotError::new(
                    Some(line),
                    format!("no pool-usage rows found as {format}{detail}"),
                ));
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    // Past the deadline, the readers saw only the lines before it: their reading is partial.
    if input.deadline_passed() {
        return Err(SnapshotError::deadline_passed());
    }
    if let Some(Reading {
        format,
        mut snapshots,
        ctx,
    }) = best.or(totals)
    {
        // A tag list whose lines with numbers read as a few rows is still a tag list.
        let rows = snapshots.iter().map(|s| s.rows.len()).sum();
        if opts.format.is_none()
            && let Some(refused) = not_a_snapshot::mostly_tag_list(input, rows)
        {
            return Err(refused);
        }
        order_by_time(&mut snapshots);
        let (warnings, truncated, caveats) = ctx.finish();
        return Ok(ParsedSnapshots {
            format,
            snapshots,
            warnings,
            truncated,
            caveats,
        });
    }
    Err(match opts.format {
        Some(f) => {
            let err =
                first_error.unwrap_or_else(|| SnapshotError::new(Some(first), "no rows found"));
            SnapshotError {
                message: format!("the input does not read as {f}: {}", err.message),
                ..err
            }
        }
        // A JSON object is unmistakable: its parser's error names the line.
        None if input.text().trim_start().starts_with('{') => first_error
            .unwrap_or_else(|| SnapshotError::new(Some(first), "no rows found in the JSON")),
        // Nothing read: say what the text looks like instead of which parser failed last.
        None => not_a_snapshot::describe(input, first, first_error),
    })
}

/// Stable sort by time when every frame has one; input order otherwise.
fn order_by_time(snaps: &mut [Snapshot]) {
    if snaps.len() > 1 && snaps.iter().all(|s| s.taken_at.is_some()) {
        snaps.sort_by_key(|s| s.taken_at);
    }
}

/// The line around byte `at`: from after the previous line break to before the next.
fn line_bounds(text: &[u8], at: usize) -> (usize, usize) {
    let start = memchr::memrchr2(b'\n', b'\r', &text[..at]).map_or(0, |i| i + 1);
    let end = memchr::memchr2(b'\n', b'\r', &text[at..]).map_or(text.len(), |i| at + i);
    (start, end)
}

/// The bounds of each line holding `needle`, once per line, in order: the search goes on after
/// the line's end, so a long line with many matches is not walked again for each.
fn matching_lines<'a>(
    text: &'a [u8],
    needle: &'a memchr::memmem::Finder<'a>,
) -> impl Iterator<Item = (usize, usize)> + 'a {
    let mut from = 0;
    std::iter::from_fn(move || {
        let at = from + needle.find(text.get(from..)?)?;
        let (start, end) = line_bounds(text, at);
        from = end + 1;
        Some((start, end))
    })
}

/// The last line before the one starting at `start` that is neither blank nor over 2,048 bytes
/// (the lines the format detection reads), trimmed.
fn previous_nonblank(text: &str, start: usize) -> Option<&str> {
    let mut at = start;
    while at > 0 {
        // `at - 1` is the line break ending the line before.
        let (s, e) = line_bounds(text.as_bytes(), at - 1);
        let t = text[s..e].trim();
        if !t.is_empty() && t.len() <= 2048 {
            return Some(t);
        }
        at = s;
    }
    None
}

/// Candidate formats, most likely first, from cheap signals over the whole text.
fn detect(input: &text::Input<'_>) -> Vec<SnapshotFormat> {
    let mut out = Vec::new();
    let push = |f: SnapshotFormat, out: &mut Vec<SnapshotFormat>| {
        if !out.contains(&f) {
            out.push(f);
        }
    };
    let first_char = input.text().trim_start().chars().next();
    if first_char == Some('{') {
        return vec![SnapshotFormat::Json];
    }
    if first_char == Some('[') {
        push(SnapshotFormat::Json, &mut out);
    }

    // Keyword signals, searched once over the whole text (lower-cased: ASCII case folding
    // keeps byte offsets) instead of line by line: a 3,000-row snapshot is detected per request.
    let text = input.text();
    let lower = text.to_ascii_lowercase();
    let keyword = |needle: &str, also: Option<&str>| {
        matching_lines(lower.as_bytes(), &memchr::memmem::Finder::new(needle)).any(
            |(start, end)| {
                let line = lower[start..end].trim();
                // Headers and command lines are short; long lines carry no signal.
                line.len() <= 2048 && also.is_none_or(|a| line.contains(a))
            },
        )
    };
    let mut verifier = keyword("!verifier", None) || keyword("driver verification list", None);
    let mut poolused = keyword("!poolused", None) || keyword("sorting by", None);
    let mut poolmon = keyword("memory:", Some("avail:")) || keyword("pool n:", None);
    let mut markdown = false;
    let mut powershell = false;
    let mut delimited = false;
    let mut aligned_header = false;
    // The structural lines, found the same way: every header names a tag column, and
    // separators start with `|` or `-`.
    let mut structural: Vec<usize> =
        matching_lines(lower.as_bytes(), &memchr::memmem::Finder::new("tag"))
            .map(|(start, _)| start)
            .collect();
    let mut from = 0;
    while let Some(i) = memchr::memchr2(b'|', b'-', &text.as_bytes()[from..]) {
        let (start, end) = line_bounds(text.as_bytes(), from + i);
        if text[start..from + i].trim().is_empty() {
            structural.push(start);
        }
        from = end;
    }
    structural.sort_unstable();
    structural.dedup();
    for start in structural {
        let (_, end) = line_bounds(text.as_bytes(), start);
        let t = text[start..end].trim();
        if t.is_empty() || t.len() > 2048 {
            continue;
        }
        verifier |= verifier::is_listing_header(t);
        poolused |= poolused::is_header(t);
        poolmon |= poolmon::is_header(t);
        if t.starts_with('|') && markdown::is_separator(t) {
            markdown = true;
        }
        if powershell::is_dashes(t)
            && previous_nonblank(text, start).is_some_and(|p| !p.contains('|'))
        {
            powershell = true;
        }
        // A pipe line is markdown's; the other table signals cost a split each, so each is
        // looked for until it is found.
        if t.starts_with('|') {
            continue;
        }
        if !delimited && csv::names_a_tag_column(t) {
            delimited = true;
        }
        if !aligned_header && aligned::Header::parse(t).is_some_and(|h| h.names_a_tag_column()) {
            aligned_header = true;
        }
    }
    if verifier {
        push(SnapshotFormat::Verifier, &mut out);
    }
    if poolused {
        push(SnapshotFormat::Poolused, &mut out);
    }
    // Markdown and PowerShell tables are unmistakable; a delimited header comes after a
    // poolmon header (poolmon's own lines hold no delimiters). The table reader reads every
    // layout in one pass, whichever signal chose it.
    if markdown || powershell {
        push(SnapshotFormat::Table, &mut out);
    }
    if poolmon {
        push(SnapshotFormat::PoolmonScreen, &mut out);
    }
    if delimited {
        push(SnapshotFormat::Table, &mut out);
    }
    if aligned_header {
        push(SnapshotFormat::Table, &mut out);
    }
    // Headerless text: poolmon rows anchored on their Type column, then !poolused rows, then
    // any table, then sentences.
    push(SnapshotFormat::PoolmonScreen, &mut out);
    push(SnapshotFormat::Poolused, &mut out);
    push(SnapshotFormat::Table, &mut out);
    push(SnapshotFormat::Prose, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detected(text: &str) -> Vec<SnapshotFormat> {
        detect(&text::Input::from_str(text))
    }

    #[test]
    fn a_dashes_row_counts_as_powershell_only_under_a_plain_header() {
        let table = "\r\nTag  PagedBytes NonPagedBytes\r\n\r\n\r\n---  ---------- -------------\r\nIo   0 100\r\n";
        assert_eq!(detected(table)[0], SnapshotFormat::Table);
        // The header before the dashes is the last line that is not blank nor over 2,048 bytes.
        let long = format!("Tag Bytes\n{}\n--- -----\n", "|".repeat(3000));
        assert_eq!(detected(&long)[0], SnapshotFormat::Table);
    }

    #[test]
    fn keywords_on_an_overlong_line_do_not_hide_a_later_one() {
        let noise = "!poolused ".repeat(300);
        let text = format!("{noise}\nkd> !poolused 2\nIo Nonp 5 4 1 100 100\n");
        assert_eq!(detected(&text)[0], SnapshotFormat::Poolused);
        let only_noise = format!("{noise}\nIo Nonp 5 4 1 100 100\n");
        // Only the fallbacks for headerless text remain.
        assert_eq!(
            detected(&only_noise),
            [
                SnapshotFormat::PoolmonScreen,
                SnapshotFormat::Poolused,
                SnapshotFormat::Table,
                SnapshotFormat::Prose
            ]
        );
    }
}
