//! One error type for the HTTP edge and its single mapping to status codes. JSON routes
//! return [`ApiError`]; HTML routes wrap the same error in [`PageError`] and render it.

use askama::Template;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::causes::CauseError;
use crate::excerpt::bound_message;
use crate::fleet::FleetError;
use crate::import::ImportError;
use crate::index::IndexError;
use crate::pooltag_list::ListError;
use crate::tag::TagError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error(
        "the request took longer than the server's limit of {secs} s (set POOLSLEUTH_REQUEST_TIMEOUT_SECS to change it)"
    )]
    Timeout { secs: u64 },
    /// The body was understood as bytes but its content cannot be used.
    #[error("{0}")]
    Unprocessable(String),
    /// Something else than a pool snapshot was sent to be analyzed (a tag list, a driver
    /// list, a driver file...); the message names it and where it goes.
    #[error("{message}")]
    NotASnapshot {
        input: crate::snapshot::NotASnapshot,
        message: String,
    },
    #[error("request body too large: the limit is {limit} bytes (set {setting} to change it)")]
    PayloadTooLarge {
        limit: usize,
        /// The environment variable that sets this limit.
        setting: &'static str,
    },
    /// The server-wide budget for upload bytes held at once is spent.
    #[error(
        "the server is busy with other large uploads; retry in a few seconds or send less at once"
    )]
    Busy,
    /// An analysis ran out of time and stopped (its work too, not only the answer).
    #[error("{}", stage.message(*secs))]
    AnalysisDeadline { stage: AnalysisStage, secs: u64 },
    #[error("missing or wrong admin token: send 'Authorization: Bearer <token>'")]
    Unauthorized,
    #[error(
        "write endpoints are disabled: this server has no admin token; start it with POOLSLEUTH_ADMIN_TOKEN (or --admin-token) set"
    )]
    WritesDisabled,
    #[error(transparent)]
    Index(#[from] IndexError),
    /// The fleet database could not write for want of space; nothing of the sample stayed.
    #[error(
        "the fleet database's disk is full: the sample was not stored; free space, or keep fewer days (--retention-days)"
    )]
    FleetDiskFull,
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Timeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::Unprocessable(_) | Self::NotASnapshot { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Busy | Self::AnalysisDeadline { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::WritesDisabled => StatusCode::FORBIDDEN,
            Self::Index(IndexError::Locked(_)) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Index(IndexError::DiskFull { .. }) | Self::FleetDiskFull => {
                StatusCode::INSUFFICIENT_STORAGE
            }
            Self::Index(_) | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A stable machine-readable code beside the message.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound(_) => "not_found",
            Self::BadRequest(_) => "bad_request",
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::Timeout { .. } => "timeout",
            Self::Unprocessable(_) => "unprocessable",
            Self::NotASnapshot { .. } => "not_a_snapshot",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::Busy => "busy",
            Self::AnalysisDeadline { .. } => "analysis_deadline",
            Self::Unauthorized => "unauthorized",
            Self::WritesDisabled => "writes_disabled",
            Self::Index(IndexError::Locked(_)) => "unavailable",
            Self::Index(IndexError::DiskFull { .. }) | Self::FleetDiskFull => "disk_full",
            Self::Index(_) | Self::Internal(_) => "internal",
        }
    }

    /// What the client may see: server faults are logged in full and shown generically;
    /// client errors quote at most an excerpt of any input they name.
    pub fn public_message(&self) -> String {
        if self.status().is_server_error() && !self.is_operating_condition() {
            tracing::error!(error = %self, "request failed");
            "internal error; the server log has the details".into()
        } else {
            bound_message(&self.to_string()).into_owned()
        }
    }
}

impl ApiError {
    /// A server-side condition the client should be told as it is, because it says what to
    /// do (free space, retry later), not a fault whose details belong in the log.
    fn is_operating_condition(&self) -> bool {
        matches!(
            self,
            Self::Index(IndexError::DiskFull { .. })
                | Self::FleetDiskFull
                | Self::AnalysisDeadline { .. }
        )
    }
}

/// Where an analysis was when its deadline passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnalysisStage {
    /// Every analysis slot stayed busy.
    WaitingForSlot,
    /// Reading the snapshots, or between reading and ranking.
    Reading,
}

impl AnalysisStage {
    fn message(self, secs: u64) -> String {
        let what = match self {
            Self::WaitingForSlot => "every analysis slot stayed busy with other analyses",
            Self::Reading => "reading the snapshots was stopped",
        };
        format!(
            "the analysis did not finish within its {secs} s deadline ({what}); retry later, or send smaller snapshots"
        )
    }
}

impl From<TagError> for ApiError {
    fn from(error: TagError) -> Self {
        Self::BadRequest(error.to_string())
    }
}

impl From<ImportError> for ApiError {
    fn from(error: ImportError) -> Self {
        match error {
            ImportError::BadSourceName(message) => Self::BadRequest(message),
            ImportError::List(ListError::UnknownFormat(_)) => Self::BadRequest(error.to_string()),
            ImportError::List(list) => Self::Unprocessable(list.to_string()),
            ImportError::Index(index) => Self::Index(index),
            ImportError::Causes(causes) => causes.into(),
        }
    }
}

impl From<CauseError> for ApiError {
    fn from(error: CauseError) -> Self {
        match error {
            CauseError::BadSourceName(message) => Self::BadRequest(message),
            CauseError::Empty
            | CauseError::Binary(_)
            | CauseError::MissingColumns { .. }
            | CauseError::NothingUsable { .. } => Self::Unprocessable(error.to_string()),
            CauseError::Write { ref path, .. } if error.is_disk_full() => {
                let dir = std::path::Path::new(path)
                    .parent()
                    .unwrap_or(std::path::Path::new("."))
                    .to_owned();
                Self::Index(IndexError::DiskFull {
                    free_bytes: crate::disk::free_bytes(&dir),
                    dir,
                })
            }
            CauseError::Damaged { .. } | CauseError::Write { .. } => {
                Self::Internal(error.to_string())
            }
        }
    }
}

impl From<FleetError> for ApiError {
    fn from(error: FleetError) -> Self {
        if error.is_disk_full() {
            return Self::FleetDiskFull;
        }
        match error {
            FleetError::BadHostName(message) => Self::BadRequest(message),
            FleetError::UnknownHost(_) => Self::NotFound(error.to_string()),
            FleetError::NoTags => Self::Unprocessable(error.to_string()),
            FleetError::BadDatabaseUrl(_)
            | FleetError::Database(_)
            | FleetError::Migrate(_)
            | FleetError::Encoding(_)
            | FleetError::Analysis(_) => Self::Internal(error.to_string()),
        }
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(error: tokio::task::JoinError) -> Self {
        Self::Internal(format!("background task failed: {error}"))
    }
}

impl ApiError {
    /// The error as one line of text, for a client that asked for text (`?output=text`).
    pub fn into_text_response(self) -> Response {
        let response = (
            self.status(),
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("error: {}\n", self.public_message()),
        )
            .into_response();
        self.with_headers(response)
    }

    fn with_headers(self, mut response: Response) -> Response {
        if response.status() == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if matches!(self, Self::Busy | Self::AnalysisDeadline { .. }) {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
        }
        response
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut body =
            json!({ "error": { "code": self.code(), "message": self.public_message() } });
        // What the input is, for a client to send it where it goes.
        if let Self::NotASnapshot { input, .. } = &self {
            body["error"]["input"] = json!(input.as_str());
        }
        // One line that ends like every text answer does, so a shell prompt after `curl` starts
        // on its own line.
        let mut text = body.to_string();
        text.push('\n');
        let response = (status, [(header::CONTENT_TYPE, "application/json")], text).into_response();
        self.with_headers(response)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// `Path` whose rejection (a segment that is not valid UTF-8 once decoded, or does not parse)
/// is an [`ApiError`] in the one JSON error shape, not axum's plain-text answer.
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(Self(value)),
            Err(rejection) if rejection.status().is_server_error() => {
                Err(ApiError::Internal(rejection.body_text()))
            }
            Err(rejection) => Err(ApiError::BadRequest(format!(
                "bad path: {}",
                rejection.body_text()
            ))),
        }
    }
}

/// Unknown routes: the JSON error under `/api` (and for probes), an HTML page elsewhere.
pub async fn not_found(uri: Uri) -> Response {
    let error = ApiError::NotFound(format!("no route for {}", uri.path()));
    if wants_json(uri.path()) {
        error.into_response()
    } else {
        PageError(error).into_response()
    }
}

/// A known route asked with a method it does not have.
pub async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    let error = ApiError::MethodNotAllowed(format!("{} does not allow {method}", uri.path()));
    if wants_json(uri.path()) {
        error.into_response()
    } else {
        PageError(error).into_response()
    }
}

fn wants_json(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/") || path == "/healthz" || path == "/readyz"
}

/// The timeout layer answers 408 with an empty body; give it the JSON error shape.
pub fn timeout_response(secs: u64, response: Response) -> Response {
    if response.status() == StatusCode::REQUEST_TIMEOUT
        && !response.headers().contains_key(header::CONTENT_TYPE)
    {
        ApiError::Timeout { secs }.into_response()
    } else {
        response
    }
}

/// The same error for browser pages: rendered as an HTML page with the same status.
#[derive(Debug)]
pub struct PageError(pub ApiError);

impl<E: Into<ApiError>> From<E> for PageError {
    fn from(error: E) -> Self {
        Self(error.into())
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    title: String,
    message: String,
    query: String,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        let page = ErrorPage {
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            message: self.0.public_message(),
            query: String::new(),
        };
        match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(_) => (status, self.0.to_string()).into_response(),
        }
    }
}

pub type PageResult<T> = Result<T, PageError>;
