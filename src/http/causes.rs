//! Known causes under `/api/v1/causes`: read them (all, or those of one tag), export them as
//! CSV, and import a file of them with the admin token (replacing that source's cases).

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::api::{DeletedSource, query_params, source_name, upload_body};
use super::auth::Admin;
use super::schema::{AdminRefusals, BinaryFile, ErrorBody};
use super::{ApiError, ApiPath, ApiResult, AppState, HttpConfig};
use crate::causes::{CauseImportReport, CauseSource, KnownCause, import_causes, write_causes};
use crate::tag::PoolTag;

pub fn router(config: &HttpConfig) -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/causes",
            get(list_causes)
                .post(import)
                .layer(DefaultBodyLimit::max(config.max_body_bytes)),
        )
        .route("/api/v1/causes/export", get(export))
        .route(
            "/api/v1/causes/{name}",
            axum::routing::delete(delete_source),
        )
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CauseParams {
    /// Only the cases that name this tag: 1 to 4 characters (padded with spaces),
    /// case-sensitive, `\xNN` and `\\` escapes allowed.
    #[param(example = "NtFC")]
    pub tag: Option<String>,
}

/// Known causes, with the sources they came from.
#[derive(Debug, Serialize, ToSchema)]
pub struct CauseList {
    /// Cases listed.
    pub total: usize,
    /// The tag asked about, when one was.
    pub tag: Option<PoolTag>,
    pub cases: Vec<KnownCause>,
    pub sources: Vec<CauseSource>,
}

#[utoipa::path(
    get,
    path = "/api/v1/causes",
    tag = "knowledge base",
    params(CauseParams),
    responses(
        (status = 200, description = "The known causes (of one tag with `?tag=`), each with the page that says so", body = CauseList),
        (status = 400, description = "A bad query string or a tag that is not a pool tag", body = ErrorBody),
    )
)]
async fn list_causes(
    State(state): State<AppState>,
    params: Result<Query<CauseParams>, QueryRejection>,
) -> ApiResult<Json<CauseList>> {
    let params = query_params(params)?;
    Ok(Json(cause_list(&state, params.tag.as_deref())?))
}

/// The cases of one tag (or all), as the pages and the API show them.
pub fn cause_list(state: &AppState, tag: Option<&str>) -> ApiResult<CauseList> {
    let tag = tag.map(PoolTag::parse).transpose()?;
    let book = state.index.causes().book();
    let cases: Vec<KnownCause> = match tag {
        Some(tag) => book.for_tag(tag).cloned().collect(),
        None => book.cases().to_vec(),
    };
    Ok(CauseList {
        total: cases.len(),
        tag,
        cases,
        sources: book.sources().to_vec(),
    })
}

#[utoipa::path(
    get,
    path = "/api/v1/causes/export",
    tag = "knowledge base",
    responses(
        (status = 200, description = "Every known cause as CSV: the header on the first line, one case a row, in the columns an import reads (plus `source`)", body = String, content_type = "text/csv"),
    )
)]
async fn export(State(state): State<AppState>) -> impl IntoResponse {
    let book = state.index.causes().book();
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"known_causes.csv\""),
            ),
        ],
        write_causes(book.cases()),
    )
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct CauseImportParams {
    /// The source's name: its cases replace the ones it had.
    #[param(required = true, value_type = String, pattern = r"^[A-Za-z0-9._+@:-]{1,100}$", example = "site-causes")]
    name: Option<String>,
    /// The file's own version or date.
    version: Option<String>,
    /// Where the file came from (a file name or URL).
    origin: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/causes",
    tag = "admin",
    params(CauseImportParams),
    request_body(
        description = "A CSV file of known causes (header with at least id, tags, url and summary)",
        content(
            (String = "text/csv", example = "id,tags,pool,driver,url,summary\nmy-case,Abcd,nonpaged,abcd.sys,https://example.org/issue/1,abcd.sys leaks Abcd on every reload\n"),
            (inline(BinaryFile) = "application/octet-stream"),
        ),
    ),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "The cases were imported and replace the source's previous ones", body = CauseImportReport),
        (status = 400, description = "A missing or bad name, an unreadable body", body = ErrorBody),
        AdminRefusals,
        (status = 413, description = "The body is larger than the server's limit", body = ErrorBody),
        (status = 422, description = "The body is not a file of known causes the server can read", body = ErrorBody),
        (status = 507, description = "The data disk is full", body = ErrorBody),
    )
)]
async fn import(
    State(state): State<AppState>,
    _admin: Admin,
    params: Result<Query<CauseImportParams>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<CauseImportReport>> {
    let params = query_params(params)?;
    let body = upload_body(&state, body)?;
    let name = source_name(params.name)?;
    let (version, origin) = (params.version, params.origin);
    let report = state
        .blocking(move |index, _| {
            Ok(import_causes(
                index.causes(),
                &name,
                version,
                origin,
                &body,
            )?)
        })
        .await?;
    tracing::info!(source = %report.source, imported = report.imported, replaced = report.replaced, skipped = report.skipped, "known causes imported");
    metrics::counter!("poolsleuth_cause_imports_total").increment(1);
    Ok(Json(report))
}

/// `DELETE /api/v1/causes/{name}` (admin): removes a source's known causes, as lists are
/// removed.
#[utoipa::path(
    delete,
    path = "/api/v1/causes/{name}",
    tag = "admin",
    params(("name" = String, Path, description = "The source's name", pattern = r"^[A-Za-z0-9._+@:-]{1,100}$", example = "site-causes")),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "The source and its cases are gone", body = DeletedSource),
        (status = 400, description = "A malformed path", body = ErrorBody),
        AdminRefusals,
        (status = 404, description = "No source of known causes has that name", body = ErrorBody),
        (status = 507, description = "The data disk is full", body = ErrorBody),
    )
)]
pub(super) async fn delete_source(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<DeletedSource>> {
    let lookup = name.clone();
    let removed = state
        .blocking(move |index, _| Ok(index.causes().delete_source(&lookup)?))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no source of known causes named {name:?}")))?;
    tracing::info!(source = %name, removed, "known causes deleted");
    Ok(Json(DeletedSource {
        source: name,
        removed,
    }))
}
