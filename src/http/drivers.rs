//! Driver uploads: `POST /api/v1/drivers` (admin) analyses `.sys` files and stores what they
//! reveal; the browser form at `/upload` does the same.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::routing::{delete, post};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::api::query_params;
use super::auth::Admin;
use super::schema::{AdminRefusals, BinaryFile, DriverUploadForm, ErrorBody};
use super::{ApiError, ApiPath, ApiResult, AppState, HttpConfig, MAX_BODY_SETTING};
use crate::driver::authenticode::SignatureCheck;
use crate::driver::authenticode::catalog::{self, Catalog};
use crate::driver::identity::sha256_hex;
use crate::driver::{AnalysisLimits, DriverAnalysis, analyze_hashed, printable_file_name};
use crate::excerpt::bound_message;
use crate::import::{
    DriverBatch, DriverStoreStatus, apply_catalog, driver_source_name, driver_vendor, known_driver,
    store_catalogs,
};
use crate::index::SearchIndex;
use crate::vendor::VendorDirectory;

/// The most files one upload may carry.
pub const MAX_FILES_PER_UPLOAD: usize = 1_000;

pub fn router(config: &HttpConfig) -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/drivers",
            post(upload).layer(DefaultBodyLimit::max(config.max_body_bytes)),
        )
        .route("/api/v1/drivers/sha256/{sha256}", delete(delete_driver))
}

/// One uploaded file: the file name it came with and its bytes.
pub struct UploadedFile {
    pub file_name: String,
    pub bytes: Bytes,
}

/// The outcome for one file of an upload.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FileOutcome {
    pub file_name: String,
    pub status: FileStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// Attributions now in the knowledge base for this file.
    pub tags_stored: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub analysis: Option<Box<DriverAnalysis>>,
    /// For a catalog (`.cat`): its signature and how many files it lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catalog: Option<CatalogOutcome>,
}

/// What an uploaded catalog is.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CatalogOutcome {
    /// "signed by X (verified)", or why the catalog vouches for nothing.
    pub summary: String,
    pub signature: SignatureCheck,
    /// Authenticode hashes the catalog lists.
    pub members: usize,
    /// Stored drivers this upload made catalog-signed (counted over the upload's catalogs, on
    /// the first).
    pub drivers_updated: usize,
}

/// What became of one uploaded file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FileStatus {
    /// Analyzed, and its attributions stored.
    Stored,
    /// A file with the same SHA-256 is known: answered from its stored analysis.
    Duplicate,
    /// Not a driver that can be analyzed (`error` says why).
    Error,
    /// A catalog (`.cat`), stored (or known already): its valid signature vouches for the
    /// drivers it lists.
    Catalog,
}

impl FileStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stored => "stored",
            Self::Duplicate => "duplicate",
            Self::Error => "error",
            Self::Catalog => "catalog",
        }
    }
}

impl std::fmt::Display for FileStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<DriverStoreStatus> for FileStatus {
    fn from(status: DriverStoreStatus) -> Self {
        match status {
            DriverStoreStatus::Stored => Self::Stored,
            DriverStoreStatus::Duplicate => Self::Duplicate,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UploadReport {
    pub stored: usize,
    pub duplicates: usize,
    /// Catalogs (`.cat`) read and kept: they sign drivers, they are not drivers.
    pub catalogs: usize,
    pub errors: usize,
    pub files: Vec<FileOutcome>,
}

/// Analyses and stores each file; a bad file gets its own error and the others go on. The new
/// drivers of one upload are committed together, each whole (see [`DriverBatch`]).
pub async fn analyze_and_store(
    state: &AppState,
    files: Vec<UploadedFile>,
) -> ApiResult<UploadReport> {
    // Catalogs first: the drivers of the same upload then read them as they are stored.
    let (catalog_files, files): (Vec<_>, Vec<_>) = files
        .into_iter()
        .enumerate()
        .partition(|(_, f)| catalog::is_catalog(&f.bytes));
    let mut outcomes: Vec<(usize, FileOutcome)> = Vec::with_capacity(files.len());
    if !catalog_files.is_empty() {
        let (catalog_outcomes, updated) = state
            .blocking(move |index, vendors| store_uploaded_catalogs(index, vendors, catalog_files))
            .await?;
        outcomes.extend(catalog_outcomes);
        if updated > 0 {
            state.rebuild_view().await?;
        }
    }
    let mut batch = DriverBatch::default();
    for (position, file) in files {
        // Analysis is CPU-bound: run it off the async runtime, at most one per core.
        let _slot = state
            .analysis_slots
            .acquire()
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let limits = state.config.analysis_limits.clone();
        let file_name = file.file_name.clone();
        let (outcome, returned) = state
            .blocking(move |index, vendors| {
                let outcome = analyze_into_batch(&mut batch, index, vendors, file, &limits)?;
                Ok((outcome, batch))
            })
            .await?;
        batch = returned;
        tracing::info!(file = %file_name, status = outcome.status.as_str(), tags = outcome.tags_stored, "driver analyzed");
        metrics::counter!("poolsleuth_driver_files_total", "status" => outcome.status.as_str())
            .increment(1);
        outcomes.push((position, outcome));
    }
    outcomes.sort_by_key(|(position, _)| *position);
    let outcomes: Vec<FileOutcome> = outcomes.into_iter().map(|(_, o)| o).collect();
    if !batch.is_empty() {
        state
            .blocking(move |index, _| Ok(batch.commit(index)?))
            .await?;
        state.rebuild_view().await?;
    }
    let count = |status: FileStatus| outcomes.iter().filter(|o| o.status == status).count();
    Ok(UploadReport {
        stored: count(FileStatus::Stored),
        duplicates: count(FileStatus::Duplicate),
        catalogs: count(FileStatus::Catalog),
        errors: count(FileStatus::Error),
        files: outcomes,
    })
}

/// Reads and checks the uploaded catalogs and stores the readable ones; returns each file's
/// outcome (with its place in the upload) and how many stored drivers became catalog-signed.
fn store_uploaded_catalogs(
    index: &SearchIndex,
    vendors: &VendorDirectory,
    files: Vec<(usize, UploadedFile)>,
) -> ApiResult<(Vec<(usize, FileOutcome)>, usize)> {
    let mut read: Vec<(usize, String, Result<Catalog, String>)> = files
        .into_iter()
        .map(|(position, file)| {
            let sha256 = sha256_hex(&file.bytes);
            let catalog = catalog::read(&file.file_name, &file.bytes, sha256)
                .map_err(|e| bound_message(&e.to_string()).into_owned());
            (position, file.file_name, catalog)
        })
        .collect();
    let readable: Vec<Catalog> = read
        .iter()
        .filter_map(|(_, _, c)| c.as_ref().ok().cloned())
        .collect();
    let (_, report) = store_catalogs(index, vendors, &readable)?;
    let mut first = true;
    let outcomes = read
        .drain(..)
        .map(|(position, file_name, catalog)| {
            let outcome = match catalog {
                Ok(catalog) => FileOutcome {
                    file_name,
                    status: FileStatus::Catalog,
                    error: None,
                    vendor: None,
                    tags_stored: 0,
                    analysis: None,
                    catalog: Some(CatalogOutcome {
                        summary: catalog.signature.summary(),
                        members: catalog.members.len(),
                        drivers_updated: if std::mem::take(&mut first) {
                            report.drivers_updated
                        } else {
                            0
                        },
                        signature: catalog.signature,
                    }),
                },
                Err(error) => FileOutcome {
                    file_name,
                    status: FileStatus::Error,
                    error: Some(error),
                    vendor: None,
                    tags_stored: 0,
                    analysis: None,
                    catalog: None,
                },
            };
            (position, outcome)
        })
        .collect();
    Ok((outcomes, report.drivers_updated))
}

/// One file of an upload: a file known by its SHA-256 is answered from its stored analysis,
/// a new one is analyzed and added to `batch`.
fn analyze_into_batch(
    batch: &mut DriverBatch,
    index: &SearchIndex,
    vendors: &VendorDirectory,
    file: UploadedFile,
    limits: &AnalysisLimits,
) -> ApiResult<FileOutcome> {
    let sha256 = sha256_hex(&file.bytes);
    let (status, tags_stored, analysis) = match known_driver(index, &sha256)? {
        Some(known) if known.driver.is_some() => {
            (DriverStoreStatus::Duplicate, known.entries, known.driver)
        }
        _ => {
            let mut analysis = match analyze_hashed(&file.file_name, &file.bytes, sha256, limits) {
                Ok(analysis) => analysis,
                Err(error) => {
                    return Ok(FileOutcome {
                        file_name: file.file_name,
                        status: FileStatus::Error,
                        error: Some(bound_message(&error.to_string()).into_owned()),
                        vendor: None,
                        tags_stored: 0,
                        analysis: None,
                        catalog: None,
                    });
                }
            };
            // The answer shows what is stored: catalog-signed when a stored catalog lists it.
            apply_catalog(&mut analysis, index.catalogs());
            let (status, tags_stored) = batch.add(index, vendors, analysis.clone())?;
            (status, tags_stored, Some(Box::new(analysis)))
        }
    };
    Ok(FileOutcome {
        file_name: file.file_name,
        status: status.into(),
        error: None,
        vendor: analysis.as_deref().and_then(|a| driver_vendor(a, vendors)),
        tags_stored,
        analysis,
        catalog: None,
    })
}

/// Reads the files of a multipart form (every part with a file name, or named `file`/`files`)
/// and its text fields.
///
/// `authorize` runs once with the text fields seen so far: before the first file's bytes are
/// read, or at the end when there is no file. A form that carries its credentials in a field
/// before the files (as the browser form does) is refused before any file is buffered.
pub async fn read_multipart(
    mut multipart: Multipart,
    limit: usize,
    authorize: impl FnOnce(&[(String, String)]) -> ApiResult<()>,
) -> ApiResult<(Vec<UploadedFile>, Vec<(String, String)>)> {
    let mut files = Vec::new();
    let mut fields = Vec::new();
    let mut authorize = Some(authorize);
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| multipart_error(&e.body_text(), limit))?
    {
        let name = field.name().unwrap_or("").to_owned();
        let file_name = field.file_name().map(str::to_owned);
        if file_name.is_some()
            && let Some(authorize) = authorize.take()
        {
            authorize(&fields)?;
        }
        let bytes = field
            .bytes()
            .await
            .map_err(|e| multipart_error(&e.body_text(), limit))?;
        match file_name {
            Some(file_name) => {
                // Browsers send an empty part when no file was chosen.
                if file_name.is_empty() && bytes.is_empty() {
                    continue;
                }
                if files.len() == MAX_FILES_PER_UPLOAD {
                    return Err(ApiError::BadRequest(format!(
                        "at most {MAX_FILES_PER_UPLOAD} files per upload; send the rest in another request"
                    )));
                }
                files.push(UploadedFile {
                    file_name: printable_file_name(&file_name),
                    bytes,
                });
            }
            None => fields.push((name, String::from_utf8_lossy(&bytes).into_owned())),
        }
    }
    if let Some(authorize) = authorize {
        authorize(&fields)?;
    }
    Ok((files, fields))
}

fn multipart_error(text: &str, limit: usize) -> ApiError {
    if text.contains("length limit") || text.contains("too large") {
        ApiError::PayloadTooLarge {
            limit,
            setting: MAX_BODY_SETTING,
        }
    } else {
        ApiError::BadRequest(format!("unreadable multipart body: {text}"))
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct UploadParams {
    /// File name for a raw-body upload (default `upload.sys`).
    name: Option<String>,
}

/// `POST /api/v1/drivers`: multipart with one or many files, or one file as the raw body
/// (`?name=foo.sys` names it).
#[utoipa::path(
    post,
    path = "/api/v1/drivers",
    tag = "admin",
    params(UploadParams),
    request_body(
        description = "Driver files: multipart with one or many file parts, or one file as the raw body",
        content((inline(DriverUploadForm) = "multipart/form-data"), (inline(BinaryFile) = "application/octet-stream")),
    ),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "Nothing new was stored (every file was known, or every file of a multipart batch failed)", body = UploadReport),
        (status = 201, description = "At least one file was analyzed and stored", body = UploadReport),
        (status = 400, description = "No files, too many files, an unreadable body or query", body = ErrorBody),
        AdminRefusals,
        (status = 413, description = "The body is larger than the server's limit", body = ErrorBody),
        (status = 422, description = "A single raw-body upload that is not a kernel driver the server can analyze", body = ErrorBody),
        (status = 503, description = "The index is locked by another process", body = ErrorBody),
    )
)]
async fn upload(
    State(state): State<AppState>,
    _admin: Admin,
    params: Result<Query<UploadParams>, QueryRejection>,
    request: Request,
) -> ApiResult<(StatusCode, Json<UploadReport>)> {
    let params = query_params(params)?;
    let limit = state.config.max_body_bytes;
    let is_multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let files = if is_multipart {
        let multipart = Multipart::from_request(request, &state)
            .await
            .map_err(|e| ApiError::BadRequest(e.body_text()))?;
        read_multipart(multipart, limit, |_| Ok(())).await?.0
    } else {
        let body: Result<Bytes, BytesRejection> = Bytes::from_request(request, &state).await;
        let bytes = body.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge {
                    limit,
                    setting: MAX_BODY_SETTING,
                }
            } else {
                ApiError::BadRequest(rejection.body_text())
            }
        })?;
        let file_name = params
            .name
            .map_or_else(|| "upload.sys".into(), |n| printable_file_name(&n));
        vec![UploadedFile { file_name, bytes }]
    };
    if files.is_empty() {
        return Err(ApiError::BadRequest(
            "no files in the upload: send multipart/form-data with file parts, or one file as the body".into(),
        ));
    }
    let single = files.len() == 1 && !is_multipart;
    let report = analyze_and_store(&state, files).await?;
    // A single raw upload that cannot be analyzed is the client's error; a batch reports per file.
    if single && report.errors == 1 {
        let message = report.files[0].error.clone().unwrap_or_default();
        return Err(ApiError::Unprocessable(message));
    }
    let status = if report.stored > 0 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(report)))
}

/// What a driver deletion removed.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeletedDriver {
    /// Lower-case hex SHA-256 of the removed file.
    pub sha256: String,
    /// Attributions removed with it.
    pub removed: u64,
}

/// `DELETE /api/v1/drivers/sha256/{sha256}` (admin): removes one analyzed file.
#[utoipa::path(
    delete,
    path = "/api/v1/drivers/sha256/{sha256}",
    tag = "admin",
    params(("sha256" = String, Path, description = "SHA-256 of the analyzed file: 64 hex digits, any case", pattern = "^[0-9a-fA-F]{64}$")),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "The file's analysis and attributions are gone", body = DeletedDriver),
        (status = 400, description = "Not a SHA-256", body = ErrorBody),
        AdminRefusals,
        (status = 404, description = "No analyzed driver has that SHA-256", body = ErrorBody),
        (status = 503, description = "The index is locked by another process", body = ErrorBody),
    )
)]
async fn delete_driver(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(sha256): ApiPath<String>,
) -> ApiResult<Json<DeletedDriver>> {
    let sha256 = sha256.to_ascii_lowercase();
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::BadRequest(format!(
            "{sha256:?} is not a SHA-256 (64 hex digits)"
        )));
    }
    let name = driver_source_name(&sha256);
    let removed = state
        .blocking(move |index, _| Ok(index.delete_source(&name)?))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no analyzed driver with SHA-256 {sha256}")))?;
    state.rebuild_view().await?;
    Ok(Json(DeletedDriver { sha256, removed }))
}
