//! The JSON API under `/api/v1`.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::Admin;
use super::schema::{AdminRefusals, BinaryFile, ErrorBody};
use super::{ApiError, ApiPath, ApiResult, AppState, HttpConfig, MAX_BODY_SETTING};
use crate::driver_upload::ScanTarget;
use crate::export::{export_source, provenance_headers};
use crate::import::{ImportReport, ListSource, import_list};
use crate::index::{DriverReport, SearchPage, TagReport, exact_tag_query};
use crate::knowledge::SourceInfo;
use crate::pooltag_list::ListFormat;
use crate::tag::PoolTag;
use crate::unknown_tag::{NextStep, next_steps};

pub const DEFAULT_LIMIT: usize = 20;
pub const MAX_LIMIT: usize = 200;
/// Deep paging costs the index more than it helps a reader; refine the query instead.
pub const MAX_OFFSET: usize = 10_000;
/// The longest search query: far longer than any tag, driver, vendor or phrase, and short
/// enough that no query costs the index much.
pub const MAX_QUERY_CHARS: usize = 256;
/// The most wildcards (`*`, `?`) in a query: each one multiplies the states of the automata
/// that match tags and drivers (1,000 of them took 12 s).
pub const MAX_QUERY_WILDCARDS: usize = 8;
/// A search still running after this long is answered 422; within the caps above, searches
/// take milliseconds.
pub const SEARCH_BUDGET: Duration = Duration::from_secs(5);

pub fn router(config: &HttpConfig) -> Router<AppState> {
    Router::new()
        .route("/api/v1/tags/{tag}", get(tag))
        .route("/api/v1/search", get(search))
        .route("/api/v1/drivers/{name}", get(driver))
        .route(
            "/api/v1/lists",
            get(list_sources)
                .post(import)
                .layer(DefaultBodyLimit::max(config.max_body_bytes)),
        )
        .route("/api/v1/lists/{name}", delete(delete_source))
        .route("/api/v1/lists/{name}/export", get(export))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Words, a tag (`NtfF`), a tag pattern (`Ntf*`, `Afd?`), a driver (`ntfs.sys`) or a
    /// vendor; empty lists everything. At most 256 characters and 8 wildcards.
    #[serde(default)]
    pub q: String,
    /// Hits per page, 1 to 200 (default 20).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<usize>,
    /// Hits to skip, at most 10000 (default 0).
    #[param(minimum = 0, maximum = 10000)]
    pub offset: Option<usize>,
}

impl SearchParams {
    /// The query, checked against the caps that bound a search's cost.
    fn check_query(&self) -> ApiResult<()> {
        let chars = self.q.trim().chars().count();
        if chars > MAX_QUERY_CHARS {
            return Err(ApiError::BadRequest(format!(
                "the query is {chars} characters long; the limit is {MAX_QUERY_CHARS}"
            )));
        }
        let wildcards = self.q.matches(['*', '?']).count();
        if wildcards > MAX_QUERY_WILDCARDS {
            return Err(ApiError::BadRequest(format!(
                "the query has {wildcards} wildcards (* and ?); the limit is {MAX_QUERY_WILDCARDS}"
            )));
        }
        Ok(())
    }

    /// The paging window, checked: a bad value is the client's error, named.
    pub fn window(&self) -> ApiResult<(usize, usize)> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        let offset = self.offset.unwrap_or(0);
        if limit == 0 || limit > MAX_LIMIT {
            return Err(ApiError::BadRequest(format!(
                "limit must be between 1 and {MAX_LIMIT}, got {limit}"
            )));
        }
        if offset > MAX_OFFSET {
            return Err(ApiError::BadRequest(format!(
                "offset must be at most {MAX_OFFSET}, got {offset}; narrow the query instead"
            )));
        }
        Ok((limit, offset))
    }
}

/// An upload's bytes; over the server's limit is a 413 that names the setting.
pub fn upload_body(state: &AppState, body: Result<Bytes, BytesRejection>) -> ApiResult<Bytes> {
    body.map_err(|rejection| match rejection {
        BytesRejection::FailedToBufferBody(_)
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE =>
        {
            ApiError::PayloadTooLarge {
                limit: state.config.max_body_bytes,
                setting: MAX_BODY_SETTING,
            }
        }
        other => ApiError::BadRequest(other.body_text()),
    })
}

/// The `name` query parameter of an import: the source it replaces.
pub fn source_name(name: Option<String>) -> ApiResult<String> {
    name.ok_or_else(|| {
        ApiError::BadRequest("the query parameter 'name' (the source's name) is required".into())
    })
}

pub fn query_params<T>(params: Result<Query<T>, QueryRejection>) -> ApiResult<T> {
    params.map(|Query(p)| p).map_err(|rejection| {
        ApiError::BadRequest(format!("bad query string: {}", rejection.body_text()))
    })
}

/// Looks a tag up; unknown tags are a 404 that names close matches.
pub async fn tag_report(state: &AppState, text: String) -> ApiResult<TagReport> {
    let tag = PoolTag::parse(&text)?;
    // A term lookup of a few documents takes tens of microseconds: cheaper inline than the
    // hand-off to the blocking pool (which costs more than the lookup itself).
    let report = state.index.tag_report(tag)?;
    if report.is_known() {
        return Ok(report);
    }
    let hint = if report.case_variants.is_empty() {
        "upload the drivers of the affected machine to find which one allocates with it".to_owned()
    } else {
        let variants: Vec<String> = report
            .case_variants
            .iter()
            .map(|t| format!("{:?}", t.to_string()))
            .collect();
        format!(
            "tags are case-sensitive; known tags differing only in case: {}",
            variants.join(", ")
        )
    };
    Err(ApiError::NotFound(format!(
        "tag {:?} is not in the knowledge base; {hint}",
        tag.to_string()
    )))
}

/// Every attribution of one tag, with its sources.
#[utoipa::path(
    get,
    path = "/api/v1/tags/{tag}",
    tag = "knowledge base",
    params(("tag" = String, Path, description = "The tag: 1 to 4 characters (padded with spaces), case-sensitive, `\\xNN` and `\\\\` escapes allowed", pattern = r"^(?:[\x00-\x5b\x5d-\xff]|\\\\|\\[xX][0-9a-fA-F]{2}){1,4}$", example = "NtfF")),
    responses(
        (status = 200, description = "What the knowledge base knows about the tag", body = TagReport),
        (status = 400, description = "Not a pool tag (empty, too long, bad escape)", body = ErrorBody),
        (status = 404, description = "The tag is unknown; the message names case variants", body = ErrorBody),
        (status = 503, description = "The index is locked by another process", body = ErrorBody),
    )
)]
async fn tag(
    State(state): State<AppState>,
    ApiPath(text): ApiPath<String>,
) -> ApiResult<Json<TagReport>> {
    Ok(Json(tag_report(&state, text).await?))
}

/// A page of search hits, and for an exact tag nothing knows, what to do next.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchAnswer {
    #[serde(flatten)]
    pub page: SearchPage,
    /// Only when the query is one exact tag with no hits: scan the drivers, capture a pool
    /// trace, and the tag reversed when that is known, in this order.
    pub next_steps: Vec<NextStep>,
}

/// Runs a search within its caps and its time budget. A search over budget is abandoned:
/// its answer is dropped when it comes (the caps keep that rare and brief).
pub async fn run_search(
    state: &AppState,
    params: SearchParams,
    target: ScanTarget,
) -> ApiResult<SearchAnswer> {
    params.check_query()?;
    let (limit, offset) = params.window()?;
    let search = state.blocking(move |index, _| {
        let page = index.search(&params.q, limit, offset)?;
        let next_steps = match exact_tag_query(&params.q) {
            Some(tag) if page.total == 0 => next_steps(index, tag, &target)?,
            _ => Vec::new(),
        };
        Ok(SearchAnswer { page, next_steps })
    });
    tokio::time::timeout(SEARCH_BUDGET, search)
        .await
        .map_err(|_| {
            ApiError::Unprocessable(format!(
                "the search took longer than its budget of {} s; narrow the query (fewer wildcards, longer literal parts)",
                SEARCH_BUDGET.as_secs()
            ))
        })?
}

/// The search box: tags, patterns, drivers, vendors and description words.
#[utoipa::path(
    get,
    path = "/api/v1/search",
    tag = "knowledge base",
    params(SearchParams),
    responses(
        (status = 200, description = "One page of hits, best first; for an unknown exact tag, the next steps", body = SearchAnswer),
        (status = 400, description = "A bad query string, limit or offset; a query over 256 characters or with more than 8 wildcards", body = ErrorBody),
        (status = 422, description = "The search took longer than its time budget", body = ErrorBody),
        (status = 503, description = "The index is locked by another process", body = ErrorBody),
    )
)]
async fn search(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> ApiResult<Json<SearchAnswer>> {
    let target = super::origin::scan_target(&headers);
    Ok(Json(
        run_search(&state, query_params(params)?, target).await?,
    ))
}

pub async fn driver_report(state: &AppState, name: String) -> ApiResult<DriverReport> {
    let lookup = name.clone();
    state
        .blocking(move |index, _| Ok(index.driver_report(&lookup)?))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("driver {name:?} is not in the knowledge base")))
}

/// A driver's tags, vendors, versions and analyzed files.
#[utoipa::path(
    get,
    path = "/api/v1/drivers/{name}",
    tag = "knowledge base",
    params(("name" = String, Path, description = "The driver's file name (`ntfs.sys`) or stem (`ntfs`), any case", example = "ntfs.sys")),
    responses(
        (status = 200, description = "Everything known about the driver", body = DriverReport),
        (status = 400, description = "A malformed path", body = ErrorBody),
        (status = 404, description = "The driver is not in the knowledge base", body = ErrorBody),
        (status = 503, description = "The index is locked by another process", body = ErrorBody),
    )
)]
async fn driver(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<DriverReport>> {
    Ok(Json(driver_report(&state, name).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ImportParams {
    /// The source's name (letters, digits, `.`, `-`, `_`); importing under an existing name
    /// replaces that source.
    #[param(required = true, value_type = String, pattern = r"^[A-Za-z0-9._+@:-]{1,100}$", example = "site-tags")]
    name: Option<String>,
    /// The list's own version or date.
    version: Option<String>,
    /// `pooltag`, `csv` or `tsv`; guessed from the content when absent.
    #[param(value_type = Option<ListFormat>)]
    format: Option<String>,
    /// Where the list came from: a file name or URL.
    origin: Option<String>,
}

/// `POST /api/v1/lists?name=SOURCE` with the list as the body (admin).
///
/// Imports a tag list (pooltag.txt, CSV or TSV) as one source, replacing any source of the
/// same name.
#[utoipa::path(
    post,
    path = "/api/v1/lists",
    tag = "admin",
    params(ImportParams),
    request_body(
        description = "The list file",
        content(
            (String = "text/plain", example = "Zzzz - zzz.sys - an example tag\n"),
            (inline(BinaryFile) = "application/octet-stream"),
        ),
    ),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "The list was imported", body = ImportReport),
        (status = 400, description = "A missing or bad name, an unknown format, an unreadable body", body = ErrorBody),
        AdminRefusals,
        (status = 413, description = "The body is larger than the server's limit", body = ErrorBody),
        (status = 422, description = "The body is not a tag list the server can read", body = ErrorBody),
        (status = 503, description = "The index is locked by another process", body = ErrorBody),
    )
)]
async fn import(
    State(state): State<AppState>,
    _admin: Admin,
    params: Result<Query<ImportParams>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<ImportReport>> {
    let params = query_params(params)?;
    let body = upload_body(&state, body)?;
    let name = source_name(params.name)?;
    let format = params
        .format
        .as_deref()
        .map(str::parse::<ListFormat>)
        .transpose()
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let source = ListSource {
        name,
        version: params.version,
        origin: params.origin,
        format,
    };
    let report = state
        .blocking(move |index, vendors| Ok(import_list(index, vendors, &source, &body)?))
        .await?;
    state.rebuild_view().await?;
    tracing::info!(source = %report.source, imported = report.imported, replaced = report.replaced, skipped = report.skipped, "list imported");
    metrics::counter!("poolsleuth_list_imports_total").increment(1);
    Ok(Json(report))
}

/// The sources in the knowledge base: the embedded and imported lists, then each analyzed
/// driver file (its analysis is served by `GET /api/v1/drivers/{name}`).
#[utoipa::path(
    get,
    path = "/api/v1/lists",
    tag = "knowledge base",
    responses(
        (status = 200, description = "Every source", body = Vec<SourceInfo>),
        (status = 503, description = "The index is locked by another process", body = ErrorBody),
    )
)]
async fn list_sources(State(state): State<AppState>) -> ApiResult<Json<Vec<SourceInfo>>> {
    Ok(Json(
        state.blocking(|index, _| Ok(index.all_sources()?)).await?,
    ))
}

/// What a deletion removed.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeletedSource {
    pub source: String,
    /// Entries removed with the source.
    pub removed: u64,
}

/// `DELETE /api/v1/lists/{name}` (admin): removes a source and its entries.
#[utoipa::path(
    delete,
    path = "/api/v1/lists/{name}",
    tag = "admin",
    params(("name" = String, Path, description = "The source's name", pattern = r"^[A-Za-z0-9._+@:-]{1,100}$", example = "site-tags")),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "The source and its entries are gone", body = DeletedSource),
        (status = 400, description = "A malformed path", body = ErrorBody),
        AdminRefusals,
        (status = 404, description = "No source has that name", body = ErrorBody),
        (status = 503, description = "The index is locked by another process", body = ErrorBody),
    )
)]
async fn delete_source(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<DeletedSource>> {
    let lookup = name.clone();
    let removed = state
        .blocking(move |index, _| Ok(index.delete_source(&lookup)?))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no source named {name:?}")))?;
    state.rebuild_view().await?;
    tracing::info!(source = %name, removed, "source deleted");
    Ok(Json(DeletedSource {
        source: name,
        removed,
    }))
}

/// `GET /api/v1/lists/{name}/export`: one source as a CSV list in the import format.
///
/// Every column the knowledge base holds (driver, component, description, vendor, product,
/// version, sha256, confidence, source_url, source_note), for an imported list, an embedded
/// one or an analyzed driver (`driver:SHA256`). Importing the file on another server gives
/// the same attributions there.
#[utoipa::path(
    get,
    path = "/api/v1/lists/{name}/export",
    tag = "knowledge base",
    params(("name" = String, Path, description = "The source's name", pattern = r"^[A-Za-z0-9._+@:-]{1,100}$", example = "poolsleuth-community")),
    responses(
        (status = 200, description = "The source's entries as plain CSV (RFC 4180), the header on the first line; the headers say what the source is", body = String, content_type = "text/csv",
            headers(
                ("poolsleuth-source" = String, description = "The source's name"),
                ("poolsleuth-source-kind" = String, description = "`default`, `list` or `driver`"),
                ("poolsleuth-source-version" = String, description = "The list's version, when it has one (percent-encoded UTF-8)"),
                ("poolsleuth-source-origin" = String, description = "Where the list came from, when known (percent-encoded UTF-8)"),
                ("poolsleuth-source-imported-at" = String, description = "When the source was imported or seeded (RFC 3339)"),
                ("poolsleuth-source-entries" = String, description = "The number of rows"),
            )),
        (status = 400, description = "A malformed path", body = ErrorBody),
        (status = 404, description = "No source has that name", body = ErrorBody),
        (status = 503, description = "The index is locked by another process", body = ErrorBody),
    )
)]
async fn export(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    let lookup = name.clone();
    let exported = state
        .blocking(move |index, _| Ok(export_source(index, &lookup)?))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no source named {name:?}")))?;
    // Source names are letters, digits and `._-+@:` (checked when stored), fine in a quoted
    // file name except `:`, which Windows does not allow in one (`driver:SHA256`).
    let file_name = format!("{}.csv", exported.source.name.replace(':', "-"));
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\""))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8; header=present"),
    );
    headers.insert(header::CONTENT_DISPOSITION, disposition);
    for (name, value) in provenance_headers(&exported.source) {
        headers.insert(
            name,
            HeaderValue::from_str(&value).map_err(|e| ApiError::Internal(e.to_string()))?,
        );
    }
    Ok((headers, exported.csv))
}
