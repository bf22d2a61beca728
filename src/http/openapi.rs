//! The API contract: an OpenAPI 3 document generated from the handlers' annotations and the
//! response types' `ToSchema` derives, served at `GET /api/openapi.json`.

use std::sync::OnceLock;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::AppState;
use super::schema::{ErrorBody, ErrorDetail, OutputName, SnapshotFormatName, error_response};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "poolsleuth",
        description = "Which driver is leaking kernel pool memory, who makes it, and what to do \
                       about it. Reads and analysis are public; writes need the admin token \
                       (`Authorization: Bearer <token>`), fleet samples the ingest token. Every error is \
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
        super::fleet::ingest,
        super::fleet::issue_token,
        super::fleet::hosts,
        super::fleet::host,
        super::fleet::overview,
        super::health::healthz,
        super::health::readyz,
        super::metrics::render,
        openapi_json,
    ),
    components(schemas(ErrorBody, ErrorDetail, SnapshotFormatName, OutputName)),
    modifiers(&BearerAuth, &EveryOperationTimesOut),
    tags(
        (name = "knowledge base", description = "Tags, drivers and their sources"),
        (name = "analysis", description = "Pool snapshots in, suspects out"),
        (name = "fleet", description = "Hosts push snapshots on a schedule (ingest token); their states and what the leaking hosts share"),
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
        let mut ingest = Http::new(HttpAuthScheme::Bearer);
        ingest.description = Some(
            "The ingest token (POOLSLEUTH_INGEST_TOKEN), or a token the admin created for the \
             host (POST /api/v1/hosts/{host}/tokens): pushes samples and nothing else."
                .into(),
        );
        components.add_security_scheme("ingest_token", SecurityScheme::Http(ingest));
    }
}

/// Every route runs under the request timeout (`--request-timeout-secs`), so every operation
/// may answer 408; said once here rather than on each handler.
struct EveryOperationTimesOut;

impl Modify for EveryOperationTimesOut {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let timed_out = error_response("The request took longer than the server's request timeout");
        for item in openapi.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                operation
                    .responses
                    .responses
                    .entry("408".into())
                    .or_insert_with(|| timed_out.clone().into());
            }
        }
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
