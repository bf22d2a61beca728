//! The JSON API under `/api/v1`.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::HeaderMap;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::require_admin;
use super::{ApiError, ApiResult, AppState, HttpConfig};
use crate::import::{ImportReport, ListSource, import_list};
use crate::index::{DriverReport, SearchPage, TagReport};
use crate::knowledge::SourceInfo;
use crate::pooltag_list::ListFormat;
use crate::tag::PoolTag;

pub const DEFAULT_LIMIT: usize = 20;
pub const MAX_LIMIT: usize = 200;
/// Deep paging costs the index more than it helps a reader; refine the query instead.
pub const MAX_OFFSET: usize = 10_000;

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
}

#[derive(Debug, Deserialize)]
pub struct SearchParams {
    #[serde(default)]
    pub q: String,
    pub limit: Option<usize>,
    pub offset: Option<usize>,
}

impl SearchParams {
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

pub fn query_params<T>(params: Result<Query<T>, QueryRejection>) -> ApiResult<T> {
    params.map(|Query(p)| p).map_err(|rejection| {
        ApiError::BadRequest(format!("bad query string: {}", rejection.body_text()))
    })
}

/// Looks a tag up; unknown tags are a 404 that names close matches.
pub async fn tag_report(state: &AppState, text: String) -> ApiResult<TagReport> {
    let tag = PoolTag::parse(&text)?;
    let report = state
        .blocking(move |index, _| Ok(index.tag_report(tag)?))
        .await?;
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

async fn tag(
    State(state): State<AppState>,
    Path(text): Path<String>,
) -> ApiResult<Json<TagReport>> {
    Ok(Json(tag_report(&state, text).await?))
}

pub async fn run_search(state: &AppState, params: SearchParams) -> ApiResult<SearchPage> {
    let (limit, offset) = params.window()?;
    state
        .blocking(move |index, _| Ok(index.search(&params.q, limit, offset)?))
        .await
}

async fn search(
    State(state): State<AppState>,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> ApiResult<Json<SearchPage>> {
    Ok(Json(run_search(&state, query_params(params)?).await?))
}

pub async fn driver_report(state: &AppState, name: String) -> ApiResult<DriverReport> {
    let lookup = name.clone();
    state
        .blocking(move |index, _| Ok(index.driver_report(&lookup)?))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("driver {name:?} is not in the knowledge base")))
}

async fn driver(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<DriverReport>> {
    Ok(Json(driver_report(&state, name).await?))
}

#[derive(Debug, Deserialize)]
struct ImportParams {
    name: Option<String>,
    version: Option<String>,
    format: Option<String>,
    origin: Option<String>,
}

/// `POST /api/v1/lists?name=SOURCE` with the list as the body (admin).
async fn import(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<ImportParams>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<ImportReport>> {
    require_admin(&state, &headers)?;
    let params = query_params(params)?;
    let body = body.map_err(|rejection| match rejection {
        BytesRejection::FailedToBufferBody(_)
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE =>
        {
            ApiError::PayloadTooLarge {
                limit: state.config.max_body_bytes,
            }
        }
        other => ApiError::BadRequest(other.body_text()),
    })?;
    let name = params.name.ok_or_else(|| {
        ApiError::BadRequest("the query parameter 'name' (the source's name) is required".into())
    })?;
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
    tracing::info!(source = %report.source, imported = report.imported, replaced = report.replaced, skipped = report.skipped, "list imported");
    metrics::counter!("poolsleuth_list_imports_total").increment(1);
    Ok(Json(report))
}

async fn list_sources(State(state): State<AppState>) -> ApiResult<Json<Vec<SourceInfo>>> {
    Ok(Json(state.blocking(|index, _| Ok(index.sources()?)).await?))
}

/// `DELETE /api/v1/lists/{name}` (admin): removes a source and its entries.
async fn delete_source(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    require_admin(&state, &headers)?;
    let lookup = name.clone();
    let removed = state
        .blocking(move |index, _| Ok(index.delete_source(&lookup)?))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no source named {name:?}")))?;
    tracing::info!(source = %name, removed, "source deleted");
    Ok(Json(json!({ "source": name, "removed": removed })))
}
