//! The API contract: an OpenAPI 3 document generated from the handlers' annotations and the
//! response types' `ToSchema` derives, served at `GET /api/openapi.json`.

use std::sync::OnceLock;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use serde::Serialize;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use super::AppState;

/// The one error shape of every JSON route: `{"error": {"code", "message"}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code: `not_found`, `bad_request`, `unprocessable`,
    /// `not_a_snapshot`, `payload_too_large`, `unauthorized`, `writes_disabled`,
    /// `method_not_allowed`, `timeout`, `unavailable`, `internal`.
    pub code: String,
    /// What went wrong, for a person.
    pub message: String,
    /// With `not_a_snapshot`: what was sent instead (a tag list goes to the lists, a driver
    /// list beside a snapshot, a driver file to the uploads).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<crate::snapshot::NotASnapshot>,
}

/// Raw file bytes as a request body or multipart part.
pub struct BinaryFile;

impl utoipa::PartialSchema for BinaryFile {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Binary,
            )))
            .content_media_type("application/octet-stream")
            .description(Some("The file's bytes"))
            .into()
    }
}

impl ToSchema for BinaryFile {}

/// A driver upload as `multipart/form-data`: every part with a file name is a driver file.
#[derive(ToSchema)]
#[allow(dead_code)] // documents the request body; the handler reads the parts itself
pub struct DriverUploadForm {
    /// One or more `.sys` files (parts named `files` or `file`, or any part with a file name).
    #[schema(value_type = Vec<BinaryFile>)]
    pub files: Vec<Vec<u8>>,
}

/// An analysis upload as `multipart/form-data`.
#[derive(ToSchema)]
#[allow(dead_code)] // documents the request body; the handler reads the parts itself
pub struct AnalyzeForm {
    /// Snapshot files, oldest first (any part not named `drivers` or `format` is a snapshot).
    #[schema(value_type = Vec<BinaryFile>)]
    pub snapshots: Vec<Vec<u8>>,
    /// The machine's loaded-driver list (`driverquery /v /fo csv`, `Get-CimInstance
    /// Win32_SystemDriver`, `lm` output).
    #[schema(value_type = BinaryFile, required = false)]
    pub drivers: Option<Vec<u8>>,
    /// The snapshots' format (`auto` or absent: detected).
    #[schema(value_type = String, required = false)]
    pub format: Option<String>,
}

/// The `?format=` names of the snapshot formats.
#[derive(ToSchema)]
#[schema(rename_all = "kebab-case")]
#[allow(dead_code)] // documents a query parameter; the handler parses the text
pub enum SnapshotFormatName {
    Poolmon,
    PoolmonLog,
    Poolused,
    Verifier,
    Csv,
    Tsv,
    Powershell,
    Markdown,
    Json,
}

/// The `?output=` choices of the analysis.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)] // documents a query parameter; the handler parses the text
pub enum OutputName {
    Json,
    Text,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "poolsleuth",
        description = "Which driver is leaking kernel pool memory, who makes it, and what to do \
                       about it. Reads and analysis are public; writes need the admin token \
                       (`Authorization: Bearer <token>`). Every error is \
                       `{\"error\": {\"code\", \"message\"}}`."
    ),
    paths(
        super::api::tag,
        super::api::search,
        super::api::driver,
        super::api::list_sources,
        super::api::import,
        super::api::delete_source,
        super::api::export,
        super::causes::list_causes,
        super::causes::export,
        super::causes::import,
        super::causes::delete_source,
        super::drivers::upload,
        super::drivers::delete_driver,
        super::analyze::analyze_api,
        super::health::healthz,
        super::health::readyz,
        super::metrics::render,
        openapi_json,
    ),
    components(schemas(ErrorBody, ErrorDetail, SnapshotFormatName, OutputName)),
    modifiers(&BearerAuth),
    tags(
        (name = "knowledge base", description = "Tags, drivers and their sources"),
        (name = "analysis", description = "Pool snapshots in, suspects out"),
        (name = "admin", description = "Writes: imports, uploads, deletions (admin token)"),
        (name = "operations", description = "Probes, metrics and this document"),
    )
)]
pub struct ApiDoc;

/// Declares the `admin_token` bearer scheme the write endpoints name.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.description = Some(
            "The server's admin token (POOLSLEUTH_ADMIN_TOKEN). Without one configured, writes \
             answer 403."
                .into(),
        );
        components.add_security_scheme("admin_token", SecurityScheme::Http(scheme));
    }
}

/// The document as JSON, built once.
pub fn document() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        ApiDoc::openapi()
            .to_pretty_json()
            .expect("the OpenAPI document serializes")
    })
}

pub fn router() -> Router<AppState> {
    Router::new().route("/api/openapi.json", get(openapi_json))
}

/// This OpenAPI document.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "operations",
    responses(
        (status = 200, description = "The OpenAPI 3 document of this API", body = Object, content_type = "application/json"),
    )
)]
pub async fn openapi_json() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], document())
}
