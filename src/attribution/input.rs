//! The input stage: snapshot files and the optional driver list, read and put in time order.

use super::model::FileSummary;
use super::order::{SeriesOrdering, order};
use crate::excerpt::bound_message;
use crate::index::IndexError;
use crate::snapshot::{
    Caveat, KnownTags, LoadedDriver, ParseOptions, Snapshot, SnapshotError, SnapshotFormat,
    parse_driver_list, parse_snapshots_keeping_text,
};

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

/// What [`read_inputs`] read, ready for [`analyze`](super::analyze).
#[derive(Debug, Clone, Default)]
pub struct AnalysisInput {
    /// Oldest first: by their times when every snapshot has one, else by poolmon's counts
    /// since boot, else in the order sent (see [`super::order`]).
    pub snapshots: Vec<Snapshot>,
    pub drivers: Option<Vec<LoadedDriver>>,
    pub files: Vec<FileSummary>,
    pub warnings: Vec<String>,
    /// Every file's caveats, each once: what keeps the reading from being the whole truth.
    pub caveats: Vec<Caveat>,
    /// States the input labels as after a change (after the fix, after a reboot, after
    /// stopping a service): what the change did, kept out of the leak's course.
    pub context: Vec<Snapshot>,
    /// Each file's text as read, to point back at the lines the numbers came from.
    pub sources: Vec<String>,
    /// How the snapshots were put in order.
    pub order: SeriesOrdering,
}

/// Parses the snapshot files (a series when there are several) and the optional driver list.
/// `known` is the knowledge base the answer will come from: a word in a sentence is read as a
/// tag only when the text marks it as one or the knowledge base knows it.
pub fn read_inputs(
    files: &[InputFile],
    drivers: Option<&[u8]>,
    format: Option<SnapshotFormat>,
    known: &dyn KnownTags,
) -> Result<AnalysisInput, AttributionError> {
    read_inputs_until(files, drivers, format, known, None)
}

/// [`read_inputs`] that stops reading when `deadline` passes (the error's snapshot error then
/// has the kind [`crate::snapshot::SnapshotErrorKind::DeadlinePassed`]).
pub fn read_inputs_until(
    files: &[InputFile],
    drivers: Option<&[u8]>,
    format: Option<SnapshotFormat>,
    known: &dyn KnownTags,
    deadline: Option<std::time::Instant>,
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
        deadline,
        ..ParseOptions::default()
    };
    let named = files.len() > 1;
    let mut input = AnalysisInput::default();
    for (file_index, file) in files.iter().enumerate() {
        let (mut parsed, text) = parse_snapshots_keeping_text(&file.bytes, &options, known)
            .map_err(|error| AttributionError::Snapshot {
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
        for caveat in &parsed.caveats {
            if !input.caveats.contains(caveat) {
                input.caveats.push(*caveat);
            }
        }
        for (frame, snapshot) in parsed.snapshots.iter_mut().enumerate() {
            snapshot.file = file_index;
            snapshot.frame = frame;
        }
        input.sources.push(text.into_owned());
        input.snapshots.extend(parsed.snapshots);
    }
    input.order = order(&mut input.snapshots);
    // A point taken after a fix, a reboot or stopping something shows what the change did;
    // the leak's course is the other points. Kept as context, never as the latest reading.
    if input.snapshots.iter().any(|s| !s.after_change) {
        let (after, course): (Vec<Snapshot>, Vec<Snapshot>) = std::mem::take(&mut input.snapshots)
            .into_iter()
            .partition(|s| s.after_change);
        input.snapshots = course;
        for s in &after {
            input.warnings.push(format!(
                "{:?} shows the state after a change; kept as context, and the leak is judged \
                 on the {} other point{}",
                s.label.as_deref().unwrap_or("a point"),
                input.snapshots.len(),
                if input.snapshots.len() == 1 { "" } else { "s" }
            ));
        }
        input.context = after;
    }
    if let Some(bytes) = drivers.filter(|b| b.iter().any(|c| !c.is_ascii_whitespace())) {
        input.drivers = Some(parse_driver_list(bytes).map_err(AttributionError::DriverList)?);
    }
    Ok(input)
}
