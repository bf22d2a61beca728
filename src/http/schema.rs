//! The request and response shapes the OpenAPI document names that are not domain types: the
//! error body, raw files, the multipart forms and the names of query parameters. Handlers use
//! them; the document in [`super::openapi`] lists the handlers: the arrows run one way.

use serde::Serialize;
use utoipa::ToSchema;

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

/// An error response of the OpenAPI document: `description`, with an [`ErrorBody`].
pub fn error_response(description: &str) -> utoipa::openapi::Response {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
}

/// The refusals of every admin write (401, 403), listed once: a handler's `responses(...)`
/// names this type instead of repeating them.
pub struct AdminRefusals;

impl utoipa::IntoResponses for AdminRefusals {
    fn responses()
    -> std::collections::BTreeMap<String, utoipa::openapi::RefOr<utoipa::openapi::Response>> {
        [
            ("401", "Missing or wrong admin token"),
            ("403", "Writes are disabled: the server has no admin token"),
        ]
        .into_iter()
        .map(|(status, description)| (status.to_owned(), error_response(description).into()))
        .collect()
    }
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
    /// Snapshot files, in any order: a series is ordered by poolmon's counts since boot, else
    /// by the times the snapshots carry, else as sent (any part not named `drivers` or
    /// `format` is a snapshot).
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
