//! Attribution over HTTP: `POST /api/v1/analyze` (JSON or a text table) and the `/analyze`
//! browser page. Handlers read the upload, run [`crate::attribution`] off the runtime and map
//! the answer; the knowledge base view is cached per index generation.

use std::sync::Arc;
use std::time::{Duration, Instant};

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::multipart::MultipartError;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use tokio::sync::OwnedSemaphorePermit;

use super::api::query_params;
use super::body::{BoundedUpload, TextPart};
use super::charts;
use super::schema::{AnalyzeForm, BinaryFile, ErrorBody, OutputName, SnapshotFormatName};
use super::views::{TagView, counted, driver_href, source_link, thousands};
use super::{
    AnalysisStage, ApiError, ApiResult, AppState, BRIEF_ANALYSIS_BYTES, HttpConfig,
    MAX_SNAPSHOT_SETTING,
};
use crate::attribution::{
    Analysis, AnalysisInput, AnalyzeOptions, Answer, AttributionError, Finding, InputFile,
    KnowledgeCache, KnowledgeView, analyze, read_inputs_until, render_text,
};
use crate::format::{GrowthRate, human_bytes};
use crate::snapshot::SnapshotErrorKind;
use crate::snapshot::{FORMATS_UNDERSTOOD, POWERSHELL_DRIVER_LIST, SnapshotFormat};

pub fn router(config: &HttpConfig) -> Router<AppState> {
    let limit = DefaultBodyLimit::max(config.max_snapshot_bytes);
    let api = Router::new().route("/api/v1/analyze", post(analyze_api).layer(limit));
    let pages = Router::new().route("/analyze", get(form_page).post(result_page).layer(limit));
    api.merge(pages)
}

#[derive(Debug, Default, Deserialize)]
struct AnalyzeParams {
    format: Option<String>,
    output: Option<String>,
}

/// What an upload held.
#[derive(Default)]
struct Upload {
    files: Vec<InputFile>,
    drivers: Option<Vec<u8>>,
    /// A `format` form field (the page's select).
    format: Option<String>,
    /// The pasted text, to show again after an error.
    pasted: String,
    /// The upload's share of the server's snapshot memory budget, released with the upload.
    memory: Option<OwnedSemaphorePermit>,
}

/// `POST /api/v1/analyze`: a raw snapshot body, or multipart with several snapshot files and
/// an optional `drivers` part.
///
/// Ranks the tags of pool snapshots and names the drivers behind them. Public (no token).
#[utoipa::path(
    post,
    path = "/api/v1/analyze",
    tag = "analysis",
    params(
        ("format" = Option<SnapshotFormatName>, Query, description = "The snapshots' format; detected from the content when absent"),
        ("output" = Option<OutputName>, Query, description = "`json` (default) or `text`; without it, `Accept: text/plain` (and no `application/json`) asks for text"),
    ),
    request_body(
        description = "One snapshot as the body (any format understood), or multipart with several snapshot files and an optional `drivers` part",
        content(
            (String = "text/plain", example = " Tag  Type     Allocs            Frees            Diff   Bytes       Per Alloc\n NtfF Paged     10 (   0)         5 (   0)        5    1000 (   0)     200\n"),
            (inline(BinaryFile) = "application/octet-stream"),
            (inline(AnalyzeForm) = "multipart/form-data"),
        ),
    ),
    responses(
        (status = 200, description = "The ranking: suspects, findings, guidance", content(
            (Analysis = "application/json"),
            (String = "text/plain"),
        )),
        (status = 400, description = "No snapshot in the request, an unknown format or output, an unreadable multipart body (as text when text was asked for)", content(
            (ErrorBody = "application/json"),
            (String = "text/plain"),
        )),
        (status = 413, description = "The body is larger than the server's limit (as text when text was asked for)", content(
            (ErrorBody = "application/json"),
            (String = "text/plain"),
        )),
        (status = 422, description = "A snapshot or driver list the server cannot read (as text when text was asked for)", content(
            (ErrorBody = "application/json"),
            (String = "text/plain"),
        )),
        (status = 503, description = "The analysis passed its deadline (the request timeout, at most 60 s) and was stopped, the server's snapshot budget is spent, or the index is locked by another process (as text when text was asked for)", content(
            (ErrorBody = "application/json"),
            (String = "text/plain"),
        )),
    )
)]
async fn analyze_api(
    State(state): State<AppState>,
    params: Result<Query<AnalyzeParams>, QueryRejection>,
    headers: HeaderMap,
    request: Request,
) -> Response {
    let params = match query_params(params) {
        Ok(params) => params,
        Err(error) => return error.into_response(),
    };
    // `output=text` asks for text: an error is answered as text too.
    let text = match wants_text(params.output.as_deref(), &headers) {
        Ok(text) => text,
        Err(error) => return error.into_response(),
    };
    match answer(state, params, headers, request, text).await {
        Ok(response) => response,
        Err(error) if text => error.into_text_response(),
        Err(error) => error.into_response(),
    }
}

async fn answer(
    state: AppState,
    params: AnalyzeParams,
    headers: HeaderMap,
    request: Request,
    text: bool,
) -> ApiResult<Response> {
    let deadline = Deadline::for_request(&state.config);
    let upload = read_upload(&state, request).await?;
    // The answer is rendered where it was computed, while its data is still in that core's
    // cache, and into a buffer sized for a big answer (80 KB for 3,000 tags) up front.
    let present = move |analysis: Analysis| -> ApiResult<Response> {
        if text {
            return Ok((
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                render_text(&analysis),
            )
                .into_response());
        }
        let mut json = Vec::with_capacity(128 * 1024);
        serde_json::to_writer(&mut json, &analysis)
            .map_err(|e| ApiError::Internal(format!("JSON encoding: {e}")))?;
        json.push(b'\n');
        Ok((
            [(header::CONTENT_TYPE, "application/json")],
            Bytes::from(json),
        )
            .into_response())
    };
    run(
        &state,
        state.knowledge.clone(),
        upload,
        params.format.as_deref(),
        &headers,
        deadline,
        present,
    )
    .await?
}

/// The longest an analysis may run, whatever the request timeout: with the readers linear,
/// the largest snapshot allowed reads in a few seconds.
const MAX_ANALYSIS_TIME: Duration = Duration::from_secs(60);

/// When an analysis stops: before the request times out (so the client hears why, with a 503,
/// rather than a bare 408), and within [`MAX_ANALYSIS_TIME`]. The readers and the pipeline
/// check it as they go, so the work stops too, not only the answer.
#[derive(Debug, Clone, Copy)]
struct Deadline {
    at: Instant,
    budget: Duration,
}

impl Deadline {
    fn for_request(config: &HttpConfig) -> Self {
        let budget = config.request_timeout.mul_f64(0.9).min(MAX_ANALYSIS_TIME);
        Self {
            at: Instant::now() + budget,
            budget,
        }
    }

    fn passed(self) -> bool {
        Instant::now() >= self.at
    }

    fn error(self, stage: AnalysisStage) -> ApiError {
        ApiError::AnalysisDeadline {
            stage,
            secs: self.budget.as_secs_f64().ceil() as u64,
        }
    }
}

fn wants_text(output: Option<&str>, headers: &HeaderMap) -> ApiResult<bool> {
    match output.map(str::trim) {
        Some("text" | "txt" | "plain") => Ok(true),
        Some("json") => Ok(false),
        Some(other) => Err(ApiError::BadRequest(format!(
            "unknown output {other:?}: use output=json (default) or output=text"
        ))),
        None => {
            let accept = headers
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            Ok(accept.contains("text/plain") && !accept.contains("application/json"))
        }
    }
}

async fn read_upload(state: &AppState, request: Request) -> ApiResult<Upload> {
    let limit = state.config.max_snapshot_bytes;
    let mut bounded = BoundedUpload::new(
        limit,
        MAX_SNAPSHOT_SETTING,
        state.snapshot_memory.clone(),
        request.headers(),
    )?;
    let is_multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("multipart/form-data"));
    if !is_multipart {
        let bytes = bounded.read_body(request.into_body()).await?;
        return Ok(Upload {
            files: vec![InputFile { name: None, bytes }],
            memory: bounded.into_hold(),
            ..Upload::default()
        });
    }
    let mut multipart = Multipart::from_request(request, state)
        .await
        .map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    let mut upload = Upload::default();
    let multipart_error = |e: MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge {
                limit,
                setting: MAX_SNAPSHOT_SETTING,
            }
        } else {
            ApiError::BadRequest(format!("unreadable multipart body: {}", e.body_text()))
        }
    };
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or("").to_owned();
        let file_name = field.file_name().map(str::to_owned);
        let mut part = TextPart::default();
        while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
            bounded.take(&chunk)?;
            part.push(&chunk)?;
        }
        let bytes = part.finish()?;
        match name.as_str() {
            "drivers" | "driver_list" | "driverlist" | "drivers_text" => {
                if bytes.iter().any(|b| !b.is_ascii_whitespace()) {
                    let list = upload.drivers.get_or_insert_with(Vec::new);
                    if !list.is_empty() {
                        list.push(b'\n');
                    }
                    list.extend_from_slice(&bytes);
                }
            }
            "format" => {
                let value = String::from_utf8_lossy(&bytes).trim().to_owned();
                if !value.is_empty() && value != "auto" {
                    upload.format = Some(value);
                }
            }
            _ => {
                if name == "text" {
                    upload.pasted = String::from_utf8_lossy(&bytes).into_owned();
                }
                upload.files.push(InputFile {
                    name: file_name.or_else(|| (!name.is_empty()).then_some(name)),
                    bytes,
                });
            }
        }
    }
    upload.memory = bounded.into_hold();
    Ok(upload)
}

/// Parses and ranks the upload on the blocking pool, and hands the analysis to `present` there.
async fn run<T: Send + 'static>(
    state: &AppState,
    cache: Arc<KnowledgeCache>,
    upload: Upload,
    format: Option<&str>,
    headers: &HeaderMap,
    deadline: Deadline,
    present: impl FnOnce(Analysis) -> T + Send + 'static,
) -> ApiResult<T> {
    let format = upload_format(format, &upload)?;
    let options = AnalyzeOptions {
        scan_target: super::origin::scan_target(headers),
        ..AnalyzeOptions::default()
    };
    let brief = upload.is_brief(&cache);
    let Upload {
        files,
        drivers,
        memory,
        ..
    } = upload;
    let _slot = analysis_slot(state, deadline).await?;
    state
        .in_place(brief, move |index, vendors| {
            // The upload's bytes count against the budget until the analysis is done.
            let _memory = memory;
            let options = AnalyzeOptions {
                causes: index.causes().book(),
                ..options
            };
            let (input, view, current) =
                read_input(index, &cache, &files, drivers.as_deref(), format, deadline)?;
            let mut analysis = analyze(&input, &view, vendors, &options);
            analysis.knowledge.current = current;
            metrics::counter!("poolsleuth_analyses_total").increment(1);
            Ok(present(analysis))
        })
        .await
}

/// The format asked for in the query, else in the form.
fn upload_format(format: Option<&str>, upload: &Upload) -> ApiResult<Option<SnapshotFormat>> {
    format
        .or(upload.format.as_deref())
        .map(str::parse::<SnapshotFormat>)
        .transpose()
        .map_err(|e| ApiError::BadRequest(e.to_string()))
}

impl Upload {
    /// Brief: a small upload, and a knowledge view to answer from (only the very first one is
    /// built in a request, which reads the whole index).
    fn is_brief(&self, cache: &KnowledgeCache) -> bool {
        let upload_bytes = self.files.iter().map(|f| f.bytes.len()).sum::<usize>()
            + self.drivers.as_ref().map_or(0, Vec::len);
        upload_bytes <= BRIEF_ANALYSIS_BYTES && cache.has_view()
    }
}

/// Parsing and ranking are CPU-bound: at most one analysis per core at a time, shared with
/// driver analysis, so a burst of big snapshots queues instead of starving the server.
async fn analysis_slot(
    state: &AppState,
    deadline: Deadline,
) -> ApiResult<tokio::sync::SemaphorePermit<'_>> {
    tokio::time::timeout_at(deadline.at.into(), state.analysis_slots.acquire())
        .await
        .map_err(|_| deadline.error(AnalysisStage::WaitingForSlot))?
        .map_err(|e| ApiError::Internal(e.to_string()))
}

/// Reads the snapshots and driver list against the knowledge view (the last one built, even
/// while an import's rebuild is under way; `current` says whether it is up to date).
fn read_input(
    index: &crate::index::SearchIndex,
    cache: &KnowledgeCache,
    files: &[InputFile],
    drivers: Option<&[u8]>,
    format: Option<SnapshotFormat>,
    deadline: Deadline,
) -> ApiResult<(AnalysisInput, Arc<KnowledgeView>, bool)> {
    let (view, current) = cache.latest(index)?;
    let input = read_inputs_until(files, drivers, format, view.as_ref(), Some(deadline.at))
        .map_err(|e| api_error(e, deadline))?;
    if deadline.passed() {
        return Err(deadline.error(AnalysisStage::Reading));
    }
    Ok((input, view, current))
}

/// An upload read as the analysis reads it, for storing as a fleet sample: the snapshots and
/// driver list, and the knowledge and causes the host's answer comes from.
pub(super) struct ReadUpload {
    pub input: AnalysisInput,
    pub view: Arc<KnowledgeView>,
    pub causes: Arc<crate::causes::CauseBook>,
}

/// Reads an upload (`POST /api/v1/hosts/{host}/snapshots`) with the analysis's limits,
/// deadline and errors.
pub(super) async fn read_for_sample(
    state: &AppState,
    request: Request,
    format: Option<&str>,
) -> ApiResult<ReadUpload> {
    let deadline = Deadline::for_request(&state.config);
    let upload = read_upload(state, request).await?;
    let format = upload_format(format, &upload)?;
    let cache = state.knowledge.clone();
    let brief = upload.is_brief(&cache);
    let Upload {
        files,
        drivers,
        memory,
        ..
    } = upload;
    let _slot = analysis_slot(state, deadline).await?;
    state
        .in_place(brief, move |index, _| {
            let _memory = memory;
            let (input, view, _) =
                read_input(index, &cache, &files, drivers.as_deref(), format, deadline)?;
            Ok(ReadUpload {
                input,
                view,
                causes: index.causes().book(),
            })
        })
        .await
}

fn api_error(error: AttributionError, deadline: Deadline) -> ApiError {
    match error {
        AttributionError::Snapshot { error, .. }
            if error.kind == SnapshotErrorKind::DeadlinePassed =>
        {
            deadline.error(AnalysisStage::Reading)
        }
        AttributionError::NoInput => ApiError::BadRequest(format!(
            "the request holds no snapshot (empty body): send a pool snapshot as the body, or as multipart parts; formats understood: {}",
            FORMATS_UNDERSTOOD.join(", ")
        )),
        AttributionError::Snapshot {
            error: ref snapshot,
            ..
        } if let SnapshotErrorKind::NotASnapshot(input) = snapshot.kind => ApiError::NotASnapshot {
            input,
            message: error.to_string(),
        },
        AttributionError::Snapshot { .. } | AttributionError::DriverList(_) => {
            ApiError::Unprocessable(error.to_string())
        }
        AttributionError::Index(e) => ApiError::Index(e),
    }
}

// ---------------------------------------------------------------------------------------------
// The browser page.
// ---------------------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "analyze.html")]
struct AnalyzeHtml {
    query: String,
    pasted: String,
    formats: &'static [&'static str],
    /// The PowerShell command that writes the loaded-driver list with file versions.
    driver_list_command: &'static str,
    error: Option<String>,
    /// Where what was sent goes instead, when it is no snapshot.
    error_link: Option<ErrorLink>,
    result: Option<ResultView>,
}

/// A link beside an error: the place for what was sent instead.
struct ErrorLink {
    href: &'static str,
    text: &'static str,
}

impl ErrorLink {
    fn for_error(error: &ApiError) -> Option<Self> {
        use crate::snapshot::NotASnapshot;
        let ApiError::NotASnapshot { input, .. } = error else {
            return None;
        };
        let (href, text) = match input {
            NotASnapshot::TagList => ("/sources#import", "How to import a tag list"),
            NotASnapshot::DriverFile => ("/upload", "Upload drivers"),
            NotASnapshot::DriverList => ("#driver-list", "The driver list field, below"),
            NotASnapshot::KmdfLog | NotASnapshot::DebuggerSession | NotASnapshot::OtherFile => {
                return None;
            }
        };
        Some(Self { href, text })
    }
}

impl AnalyzeHtml {
    fn respond(self, status: StatusCode) -> Response {
        match self.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(e) => ApiError::Internal(format!("template: {e}")).into_response(),
        }
    }
}

async fn form_page() -> Response {
    AnalyzeHtml {
        query: String::new(),
        pasted: String::new(),
        formats: FORMATS_UNDERSTOOD,
        driver_list_command: POWERSHELL_DRIVER_LIST,
        error: None,
        error_link: None,
        result: None,
    }
    .respond(StatusCode::OK)
}

async fn result_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: Request,
) -> Response {
    let page = |pasted: String, error: Option<&ApiError>, result: Option<ResultView>| AnalyzeHtml {
        query: String::new(),
        pasted,
        formats: FORMATS_UNDERSTOOD,
        driver_list_command: POWERSHELL_DRIVER_LIST,
        error: error.map(ApiError::public_message),
        error_link: error.and_then(ErrorLink::for_error),
        result,
    };
    let deadline = Deadline::for_request(&state.config);
    let upload = match read_upload(&state, request).await {
        Ok(upload) => upload,
        Err(e) => {
            return page(String::new(), Some(&e), None).respond(e.status());
        }
    };
    let pasted = upload.pasted.clone();
    if upload
        .files
        .iter()
        .all(|f| f.bytes.iter().all(u8::is_ascii_whitespace))
    {
        // The API's answer speaks of bodies and parts; the page speaks of its own form.
        let message = ApiError::BadRequest("Nothing to analyze yet: paste a snapshot into the box, or choose snapshot files, then press Analyze.".into());
        return page(pasted, Some(&message), None).respond(StatusCode::BAD_REQUEST);
    }
    let view = |analysis: Analysis| ResultView::new(&analysis);
    match run(
        &state,
        state.knowledge.clone(),
        upload,
        None,
        &headers,
        deadline,
        view,
    )
    .await
    {
        Ok(result) => page(pasted, None, Some(result)).respond(StatusCode::OK),
        Err(e) => page(pasted, Some(&e), None).respond(e.status()),
    }
}

/// Display-ready values of an analysis; the template escapes every string.
struct ResultView {
    /// What was read, shown first for a person to check.
    read: Vec<ReadView>,
    answer: AnswerView,
    /// Public cases naming the top tags, the matching one first.
    causes: Vec<CauseMatchView>,
    summary: String,
    /// The ways to send the machine's drivers, shown once: in the answer when that is what
    /// to do now, else with the unknown tags.
    upload: Option<UploadView>,
    /// Why the suspects are listed when the answer's tag is not theirs.
    suspects_note: Option<Vec<SentencePart>>,
    suspects: Vec<SuspectView>,
    findings: Vec<FindingView>,
    groups: Vec<Vec<SentencePart>>,
    unknown: Vec<(TagView, String, String)>,
    unknown_steps: Vec<Vec<SentencePart>>,
    os_message: Option<Vec<SentencePart>>,
    traces: Vec<TraceView>,
    next_steps: Vec<Vec<SentencePart>>,
    warnings: Vec<String>,
    bars: charts::BarChart,
    lines: Option<charts::LineChart>,
}

/// A known cause as the result page lists it.
struct CauseMatchView {
    cause: String,
    vendor: String,
    tag: TagView,
    /// `matches: driver loaded`, `possible: …`.
    status: &'static str,
    is_answer: bool,
    summary: String,
    /// What matched and why it is not the answer, with quoted tags shown as code.
    matched: Vec<SentencePart>,
    why_not: Vec<SentencePart>,
    fix: String,
    workaround: String,
    url: String,
    fix_url: String,
}

impl CauseMatchView {
    fn new(c: &crate::attribution::KnownCauseMatch) -> Self {
        Self {
            cause: c.cause.clone(),
            vendor: c.vendor.clone().unwrap_or_default(),
            tag: TagView::new(c.tag),
            status: c.status_label(),
            is_answer: c.status == crate::attribution::CauseStatus::DriverLoaded,
            summary: c.summary.clone(),
            matched: text_parts(&c.matched.join("; ")),
            why_not: c.why_not.as_deref().map(text_parts).unwrap_or_default(),
            fix: c.fix.clone().unwrap_or_default(),
            workaround: c.workaround.clone().unwrap_or_default(),
            url: c.url.clone(),
            fix_url: c.fix_url.clone().unwrap_or_default(),
        }
    }
}

/// One value as read from the paste.
struct ReadView {
    /// The tag (escaped, trailing blanks shown), or what a machine total is.
    what: String,
    is_tag: bool,
    pool: &'static str,
    value: String,
    state: &'static str,
    line: String,
    /// The line's text, as a title.
    text: String,
}

impl ReadView {
    fn new(v: &crate::attribution::ReadValue, several_files: bool) -> Self {
        Self {
            what: match (&v.tag, &v.what) {
                (Some(t), _) => TagView::new(*t).shown,
                (None, Some(w)) => w.clone(),
                (None, None) => String::new(),
            },
            is_tag: v.tag.is_some(),
            pool: v.pool.name(),
            value: v.value.clone(),
            state: match v.state {
                crate::attribution::ReadState::Latest => "latest",
                crate::attribution::ReadState::Earlier => "earlier",
                crate::attribution::ReadState::AfterChange => "after a change",
            },
            line: v.source.as_ref().map_or_else(
                || "—".into(),
                |s| match (&s.file_name, several_files) {
                    (Some(name), true) => format!("{name}:{}", s.line),
                    _ => s.line.to_string(),
                },
            ),
            text: v
                .source
                .as_ref()
                .map_or_else(String::new, |s| s.text.clone()),
        }
    }
}

/// The ways to send the machine's drivers for scanning.
struct UploadView {
    poolsleuth_exe: Option<String>,
    powershell: Option<String>,
    poolsleuth: String,
}

/// The answer card at the top of the result.
struct AnswerView {
    kind: &'static str,
    headline: Vec<SentencePart>,
    driver: String,
    action: Vec<SentencePart>,
    /// What to do now is to send the drivers: the card shows the upload's ways.
    action_is_upload: bool,
    candidates: String,
    confidence: &'static str,
    confidence_reason: String,
    /// For a series: the order its snapshots were read in, and why.
    order: String,
}

/// A piece of a sentence: plain text, or a tag or command the sentence quoted in backticks
/// (shown as code, without the backticks).
struct SentencePart {
    code: bool,
    text: String,
}

fn text_parts(sentence: &str) -> Vec<SentencePart> {
    sentence
        .split('`')
        .enumerate()
        .filter(|(_, t)| !t.is_empty())
        .map(|(i, t)| SentencePart {
            code: i % 2 == 1,
            text: t.to_owned(),
        })
        .collect()
}

impl AnswerView {
    fn new(a: &Answer, upload_sentence: Option<&str>) -> Self {
        Self {
            action_is_upload: upload_sentence == Some(a.action.as_str()),
            kind: a.kind.as_str(),
            headline: text_parts(&a.headline),
            driver: match (&a.driver, &a.version) {
                (Some(d), Some(v)) => format!("{d} {v}"),
                (Some(d), None) if !a.known_versions.is_empty() => format!(
                    "{d} (version on this machine unknown; versions known: {})",
                    a.known_versions.join(", ")
                ),
                (Some(d), None) => d.clone(),
                _ => String::new(),
            },
            action: text_parts(&a.action),
            candidates: a.candidates.join(", "),
            confidence: a.confidence.as_str(),
            confidence_reason: a.confidence_reason.clone(),
            order: a.order.clone().unwrap_or_default(),
        }
    }
}

struct SuspectView {
    rank: usize,
    driver: String,
    href: String,
    score: String,
    /// ` · 42% of all`, or empty when the score shows as 0.000.
    share: String,
    vendor: String,
    /// What the analyzed file's signature says, its style, and the warning that goes beside
    /// the vendor when the signature does not stand behind the file.
    signature: String,
    signature_class: &'static str,
    signature_warning: String,
    support_url: Option<String>,
    os: bool,
    loaded: &'static str,
    version_seen: String,
    known_versions: String,
    /// The names its files were uploaded under, where they are not its own.
    uploaded_as: String,
    guidance_kind: &'static str,
    guidance: Vec<SentencePart>,
    evidence: Vec<EvidenceView>,
    report: Option<String>,
}

struct EvidenceView {
    tag: TagView,
    pool: &'static str,
    bytes: String,
    growth: String,
    kind: &'static str,
    /// The source's full name (a title), its short label (`foo.sys · d684e72…` for an
    /// analyzed driver) and the driver's page for a driver source.
    source: String,
    source_label: String,
    source_href: String,
    /// Where the fact comes from (a repository file and line, a vendor page), for a link.
    source_url: Option<String>,
    contribution: String,
}

struct FindingView {
    tag: TagView,
    pool: &'static str,
    bytes: String,
    outstanding: String,
    share: String,
    growth: String,
    steadiness: String,
    score: String,
    owner: &'static str,
    candidates: String,
    description: String,
}

struct TraceView {
    tags: String,
    file: String,
    commands: Vec<String>,
    xperf: Vec<String>,
    profile: String,
}

impl ResultView {
    fn new(a: &Analysis) -> Self {
        // One colour per owner kind, in both charts and their legends.
        let owner = |f: &Finding| match f.owner {
            crate::attribution::OwnerKind::ThirdParty => "third-party",
            crate::attribution::OwnerKind::Os => "os",
            crate::attribution::OwnerKind::Unknown
            | crate::attribution::OwnerKind::KnownOwnerUnclear => "unknown",
        };
        let owner_class = |f: &Finding| match owner(f) {
            "third-party" => "bar-third-party",
            "os" => "bar-os",
            _ => "bar-unknown",
        };
        let growth_text = |f: &Finding| {
            f.growth
                .as_ref()
                .and_then(|g| GrowthRate::of(g.bytes_per_hour, Some(g.bytes_per_sample)))
                .map_or_else(|| "—".to_owned(), |rate| rate.short())
        };
        let bars = charts::bar_chart(
            a.findings
                .iter()
                .take(10)
                .map(|f| charts::BarInput {
                    label: chart_label(f),
                    bytes: f.bytes,
                    class: owner_class(f),
                })
                .collect(),
        );
        let lines = (a.input.snapshots >= 2).then(|| {
            let series = a
                .findings
                .iter()
                .filter(|f| f.history.len() >= 2)
                .take(5)
                .map(|f| charts::SeriesInput {
                    label: chart_label(f),
                    values: f.history.clone(),
                    owner: owner(f),
                })
                .collect();
            // The snapshots' times when every one has a time; numbers otherwise (never a
            // heading's text).
            let times = Some(a.input.labels.clone())
                .filter(|labels| labels.iter().all(|l| charts::is_snapshot_time(l)));
            charts::line_chart(series, times)
        });

        let suspects = a
            .suspects
            .iter()
            .take(10)
            .map(|s| SuspectView {
                rank: s.rank,
                driver: s.driver.clone(),
                href: driver_href(&s.driver),
                score: format!("{:.3}", s.score),
                // A score shown as 0.000 (its tags are not above normal) has no share worth
                // showing: a lone near-zero suspect would read "100% of all".
                share: if s.score >= 0.0005 {
                    format!(" · {:.0}% of all", s.share * 100.0)
                } else {
                    String::new()
                },
                vendor: s.vendor.clone().unwrap_or_else(|| "unknown vendor".into()),
                signature: s
                    .signature
                    .as_ref()
                    .map(|n| n.summary.clone())
                    .unwrap_or_default(),
                signature_class: s.signature.as_ref().map_or("sig-none", |n| n.class()),
                signature_warning: s
                    .signature
                    .as_ref()
                    .and_then(|n| n.warning.clone())
                    .unwrap_or_default(),
                support_url: s
                    .support_url
                    .clone()
                    .filter(|u| u.starts_with("https://") || u.starts_with("http://")),
                os: s.os_component,
                loaded: match s.loaded {
                    Some(true) => "loaded",
                    Some(false) => "not in the driver list",
                    None => "",
                },
                version_seen: s.version_seen.clone().unwrap_or_default(),
                known_versions: s.known_versions.join(", "),
                uploaded_as: s.uploaded_as.join(", "),
                guidance_kind: match s.guidance.kind {
                    crate::attribution::GuidanceKind::Update => "update",
                    crate::attribution::GuidanceKind::NewestKnown => "newest-known",
                    crate::attribution::GuidanceKind::CheckVersion => "check-version",
                    crate::attribution::GuidanceKind::ContactVendor => "contact-vendor",
                    crate::attribution::GuidanceKind::OsComponent => "os-component",
                },
                guidance: text_parts(&s.guidance.text),
                evidence: s
                    .evidence
                    .iter()
                    .map(|e| EvidenceView {
                        tag: TagView::new(e.tag),
                        pool: e.pool.name(),
                        bytes: human_bytes(e.bytes),
                        growth: GrowthRate::of(e.growth_bytes_per_hour, e.growth_bytes_per_sample)
                            .map_or_else(|| "—".into(), |rate| rate.short()),
                        kind: e.evidence.as_str(),
                        source: e.source.clone(),
                        source_label: match e.line {
                            Some(l) => format!("{}:{l}", e.source),
                            None => source_link(&e.source, &s.driver, "").0,
                        },
                        source_href: source_link(&e.source, &s.driver, "").1,
                        source_url: e.source_url.clone(),
                        contribution: format!("{:.3}", e.contribution),
                    })
                    .collect(),
                report: s.vendor_report.clone(),
            })
            .collect();

        let findings = a
            .findings
            .iter()
            .take(20)
            .map(|f| FindingView {
                tag: TagView::new(f.tag),
                pool: f.pool.name(),
                bytes: human_bytes(f.bytes),
                outstanding: f.outstanding.map_or("—".into(), thousands),
                share: f
                    .pool_share
                    .map_or("—".into(), |s| format!("{:.1}%", s * 100.0)),
                growth: growth_text(f),
                steadiness: f
                    .growth
                    .as_ref()
                    .map_or("—".into(), |g| format!("{:.2}", g.steadiness)),
                score: format!("{:.3}", f.score),
                owner: f.owner.as_str(),
                candidates: f
                    .candidates
                    .iter()
                    .take(3)
                    .map(|c| format!("{} ({})", c.driver, c.evidence.as_str()))
                    .collect::<Vec<_>>()
                    .join(", "),
                description: f.description.clone().unwrap_or_default(),
            })
            .collect();

        let groups = a
            .groups
            .iter()
            .map(|g| {
                let tags: Vec<String> = g.tags.iter().map(|t| TagView::new(*t).shown).collect();
                text_parts(&format!("{}: {}", tags.join(" + "), g.reason))
            })
            .collect();
        let unknown = a
            .unknown_tags
            .iter()
            .take(10)
            .map(|u| {
                (
                    TagView::new(u.tag),
                    u.pool.name().to_owned(),
                    human_bytes(u.bytes),
                )
            })
            .collect();
        let formats: Vec<&str> = a.input.files.iter().map(|f| f.format.name()).collect();
        let several_files = a.input.files.len() > 1;
        let upload_sentence = a.driver_upload.as_ref().map(|u| u.sentence());
        Self {
            causes: a
                .answer
                .known_causes
                .iter()
                .take(8)
                .map(CauseMatchView::new)
                .collect(),
            read: a
                .read
                .iter()
                .take(10)
                .map(|v| ReadView::new(v, several_files))
                .collect(),
            answer: AnswerView::new(&a.answer, upload_sentence.as_deref()),
            upload: a.driver_upload.as_ref().map(|u| UploadView {
                poolsleuth_exe: u.poolsleuth_exe.clone(),
                powershell: u.powershell.clone(),
                poolsleuth: u.poolsleuth.clone(),
            }),
            suspects_note: crate::attribution::suspects_note(a)
                .as_deref()
                .map(text_parts),
            summary: format!(
                "{} ({}), {}{}{}",
                counted(a.input.snapshots as u64, "snapshot", "snapshots"),
                formats.join(", "),
                counted(a.findings_total as u64, "tag", "tags"),
                a.input
                    .span_hours
                    .map(|h| format!(", {h:.1} hours"))
                    .unwrap_or_default(),
                a.input
                    .driver_list
                    .map(|n| format!(", {} in the list", counted(n as u64, "driver", "drivers")))
                    .unwrap_or_default()
            ),
            suspects,
            findings,
            groups,
            unknown,
            // The upload's ways are shown once, as commands; sentences that name them say
            // where.
            unknown_steps: a
                .unknown_tags
                .first()
                .map(|u| {
                    u.next_steps
                        .iter()
                        .filter(|s| Some(s.as_str()) != upload_sentence.as_deref())
                        .map(|s| text_parts(s))
                        .collect()
                })
                .unwrap_or_default(),
            os_message: a.os_tags.as_ref().map(|o| text_parts(&o.message)),
            traces: a
                .os_tags
                .iter()
                .flat_map(|o| o.traces.iter())
                .map(|t| TraceView {
                    tags: t.tags.join(", "),
                    file: t.profile_file.clone(),
                    commands: t.wpr_commands.clone(),
                    xperf: t.xperf_commands.clone(),
                    profile: t.profile.clone(),
                })
                .collect(),
            next_steps: a
                .next_steps
                .iter()
                .map(|s| match upload_sentence.as_deref() {
                    Some(upload) if s.contains(upload) => text_parts(&s.replace(
                        upload,
                        "upload the machine's drivers for scanning (the ways are above)",
                    )),
                    _ => text_parts(s),
                })
                .collect(),
            warnings: a.input.warnings.iter().take(10).cloned().collect(),
            bars,
            lines,
        }
    }
}

/// `Abcd NP`: the tag and its pool, as the charts name a finding.
fn chart_label(f: &Finding) -> String {
    format!("{} {}", TagView::new(f.tag).shown, short_pool(f))
}

fn short_pool(f: &Finding) -> &'static str {
    match f.pool {
        crate::snapshot::PoolKind::Paged => "P",
        crate::snapshot::PoolKind::NonPaged => "NP",
        crate::snapshot::PoolKind::Session => "S",
        crate::snapshot::PoolKind::Unknown => "",
    }
}
