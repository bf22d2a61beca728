//! A stand-in for fleet ingest: a small axum server on 127.0.0.1:0 that keeps every
//! `POST /api/v1/hosts/{host}/snapshots` it gets (path, `taken_at`, token, multipart parts),
//! for tests of what senders send.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::Mutex;

/// A multipart part as received: file name, content type, bytes.
pub type ReceivedPart = (Option<String>, Option<String>, Vec<u8>);

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub host: String,
    pub taken_at: Option<OffsetDateTime>,
    pub authorization: Option<String>,
    /// Part name → (file name, content type, bytes).
    pub parts: BTreeMap<String, ReceivedPart>,
}

#[derive(Default)]
pub struct Receiver {
    pub requests: Mutex<Vec<Received>>,
    /// Answer every request with this status instead of 201.
    pub status: Option<StatusCode>,
}

async fn ingest(
    State(receiver): State<Arc<Receiver>>,
    Path(host): Path<String>,
    Query(query): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
    mut multipart: Multipart,
) -> StatusCode {
    if let Some(status) = receiver.status {
        return status;
    }
    let mut parts = BTreeMap::new();
    while let Some(field) = multipart.next_field().await.unwrap() {
        let name = field.name().unwrap().to_owned();
        let file = field.file_name().map(str::to_owned);
        let content_type = field.content_type().map(str::to_owned);
        parts.insert(
            name,
            (file, content_type, field.bytes().await.unwrap().to_vec()),
        );
    }
    receiver.requests.lock().await.push(Received {
        host,
        taken_at: query
            .get("taken_at")
            .map(|at| OffsetDateTime::parse(at, &Rfc3339).unwrap()),
        authorization: headers
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_owned()),
        parts,
    });
    StatusCode::CREATED
}

/// Starts `receiver` and returns its base URL (`http://127.0.0.1:PORT`).
pub async fn start_receiver(receiver: Arc<Receiver>) -> String {
    let app = axum::Router::new()
        .route("/api/v1/hosts/{host}/snapshots", post(ingest))
        .with_state(receiver);
    format!("http://{}", super::serve_local(app).await)
}
