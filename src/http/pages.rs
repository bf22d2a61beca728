//! Browser pages (server-rendered, no JavaScript).

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::ApiError;
use super::api::{SearchParams, driver_report, query_params, run_search};
use super::auth::{has_upload_cookie, require_token, upload_cookie};
use super::drivers::{UploadReport, analyze_and_store, read_multipart};
use super::views::{AnalysisView, EntryView, NextStepView, TagView, counted, thousands};
use super::{ApiPath, AppState, PageError, PageResult};
use crate::driver_upload::TOKEN_PLACEHOLDER;
use crate::knowledge::SourceKind;
use crate::tag::PoolTag;
use crate::unknown_tag::next_steps;
use axum::http::StatusCode;

const PAGE_SIZE: usize = 25;
const STYLESHEET: &str = include_str!("../../assets/style.css");

pub fn router(max_body_bytes: usize) -> Router<AppState> {
    Router::new()
        .route("/", get(search_page))
        .route("/tags/{tag}", get(tag_page))
        .route("/drivers/{name}", get(driver_page))
        .route("/sources", get(sources_page))
        .route(
            "/upload",
            get(upload_form)
                .post(upload_submit)
                .layer(DefaultBodyLimit::max(max_body_bytes)),
        )
        .route("/assets/style.css", get(stylesheet))
}

/// Strict policy: our own stylesheet, no scripts, forms only to ourselves.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLESHEET,
    )
}

#[derive(Debug, Deserialize)]
struct SearchPageParams {
    #[serde(default)]
    q: String,
    page: Option<usize>,
}

#[derive(Template, WebTemplate)]
#[template(path = "search.html")]
struct SearchHtml {
    query: String,
    total: usize,
    /// `total`, `first` and `last` with thousands separators.
    total_shown: String,
    first: String,
    last: String,
    hits: Vec<EntryView>,
    prev_href: Option<String>,
    next_href: Option<String>,
    /// The knowledge base's size in words (`12,345 attributions`, `3 sources`).
    stats: Option<(String, String)>,
    /// No imported list: only the embedded ones (and maybe scanned drivers).
    starter_only: bool,
    /// The import of the WDK list into this server, ready to run on its host.
    import_command: String,
    next_steps: Vec<NextStepView>,
}

async fn search_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<SearchPageParams>, QueryRejection>,
) -> PageResult<SearchHtml> {
    let params = query_params(params)?;
    let page = params.page.unwrap_or(1).max(1);
    let offset = (page - 1).saturating_mul(PAGE_SIZE);
    let stats = if params.q.trim().is_empty() {
        Some(state.blocking(|index, _| Ok(index.stats()?)).await?)
    } else {
        None
    };
    let target = super::origin::scan_target(&headers);
    let import_command = format!(
        "poolsleuth import pooltag.txt --name wdk --server {} --token {TOKEN_PLACEHOLDER}",
        target.server().unwrap_or_default()
    );
    let results = run_search(
        &state,
        SearchParams {
            q: params.q.clone(),
            limit: Some(PAGE_SIZE),
            offset: Some(offset),
        },
        target,
    )
    .await?;
    let link = |page: usize| format!("/?q={}&page={page}", super::views::path_segment(&params.q));
    let next_steps = results.next_steps.iter().map(NextStepView::new).collect();
    let results = results.page;
    Ok(SearchHtml {
        total: results.total,
        total_shown: thousands(results.total as u64),
        first: thousands(if results.hits.is_empty() {
            0
        } else {
            offset as u64 + 1
        }),
        last: thousands((offset + results.hits.len()) as u64),
        hits: results.hits.iter().map(EntryView::from_hit).collect(),
        prev_href: (page > 1).then(|| link(page - 1)),
        next_href: (offset + results.hits.len() < results.total).then(|| link(page + 1)),
        query: params.q,
        // Scanned drivers do not make up for Microsoft's list: the hint stays until a list is
        // imported.
        starter_only: stats.as_ref().is_some_and(|s| {
            s.entries_by_source_kind
                .get(SourceKind::List.as_str())
                .is_none_or(|n| *n == 0)
        }),
        stats: stats.map(|s| {
            (
                counted(s.entries, "attribution", "attributions"),
                counted(s.sources, "source", "sources"),
            )
        }),
        import_command,
        next_steps,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "tag.html")]
struct TagHtml {
    query: String,
    tag: TagView,
    attributions: Vec<EntryView>,
    pattern_matches: Vec<EntryView>,
    case_variants: Vec<TagView>,
    causes: Vec<CauseView>,
    /// For a tag no source knows: the same steps as its search gives.
    next_steps: Vec<NextStepView>,
}

/// A known cause on a tag page: who, what, the fix, and the pages that say so.
struct CauseView {
    cause: String,
    /// Empty when the case names none.
    vendor: String,
    pool: &'static str,
    summary: String,
    fix: String,
    workaround: String,
    signature: String,
    url: String,
    fix_url: String,
    /// The case's other tags.
    partners: Vec<TagView>,
}

impl CauseView {
    fn new(case: &crate::causes::KnownCause, tag: PoolTag) -> Self {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        Self {
            cause: case.cause().to_owned(),
            vendor: text(&case.vendor),
            pool: case.pool.as_str(),
            summary: case.summary.clone(),
            fix: case.fix_words().unwrap_or_default(),
            workaround: text(&case.workaround),
            signature: text(&case.signature),
            url: case.url.clone(),
            fix_url: text(&case.fix_url),
            partners: case
                .tags
                .iter()
                .filter(|&&t| t != tag)
                .copied()
                .map(TagView::new)
                .collect(),
        }
    }
}

/// A tag's page; a tag no source knows gets a 404 with the steps to find its driver.
async fn tag_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: Result<ApiPath<String>, ApiError>,
) -> Result<(StatusCode, TagHtml), PageError> {
    // An undecodable path segment gets the HTML error page, not a bare text answer.
    let ApiPath(text) = path?;
    let tag = PoolTag::parse(&text).map_err(ApiError::from)?;
    let target = super::origin::scan_target(&headers);
    let (report, steps) = state
        .blocking(move |index, _| {
            let report = index.tag_report(tag)?;
            let steps = if report.is_known() {
                Vec::new()
            } else {
                next_steps(index, tag, &target)?
            };
            Ok((report, steps))
        })
        .await?;
    let book = state.index.causes().book();
    let causes: Vec<CauseView> = book.for_tag(tag).map(|c| CauseView::new(c, tag)).collect();
    // A tag no list knows can still have known causes (`amda`): the page shows them.
    let status = if report.is_known() || !causes.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    let page = TagHtml {
        query: report.tag.trimmed(),
        tag: TagView::new(report.tag),
        attributions: report.attributions.iter().map(EntryView::new).collect(),
        pattern_matches: report.pattern_matches.iter().map(EntryView::new).collect(),
        case_variants: report
            .case_variants
            .iter()
            .copied()
            .map(TagView::new)
            .collect(),
        causes,
        next_steps: steps.iter().map(NextStepView::new).collect(),
    };
    Ok((status, page))
}

#[derive(Template, WebTemplate)]
#[template(path = "driver.html")]
struct DriverHtml {
    query: String,
    driver: String,
    vendors: Vec<String>,
    versions: Vec<String>,
    components: Vec<String>,
    tags: Vec<EntryView>,
    /// Distinct tags: the same tag from several versions or lists counts once.
    tag_count: usize,
    analyses: Vec<AnalysisView>,
    /// Per tag, the scanned versions whose code allocates it and those whose code does not
    /// (only when several versions were scanned).
    tag_versions: Vec<TagVersionsView>,
}

struct TagVersionsView {
    tag: TagView,
    allocated_by: String,
    not_by: String,
}

/// Which scanned versions allocate each tag; analyses are oldest first.
fn tag_versions(analyses: &[AnalysisView]) -> Vec<TagVersionsView> {
    if analyses.len() < 2 {
        return Vec::new();
    }
    let version = |a: &AnalysisView| {
        if a.file_version.is_empty() {
            a.sha256.chars().take(8).collect()
        } else {
            a.file_version.clone()
        }
    };
    let mut tags: Vec<&TagView> = Vec::new();
    for t in analyses.iter().flat_map(|a| &a.tags) {
        if !tags.iter().any(|seen| seen.exact == t.tag.exact) {
            tags.push(&t.tag);
        }
    }
    tags.into_iter()
        .map(|tag| {
            let (with, without): (Vec<&AnalysisView>, Vec<&AnalysisView>) = analyses
                .iter()
                .partition(|a| a.tags.iter().any(|t| t.tag.exact == tag.exact));
            TagVersionsView {
                tag: tag.clone(),
                allocated_by: with.into_iter().map(version).collect::<Vec<_>>().join(", "),
                not_by: without
                    .into_iter()
                    .map(version)
                    .collect::<Vec<_>>()
                    .join(", "),
            }
        })
        .collect()
}

async fn driver_page(
    State(state): State<AppState>,
    path: Result<ApiPath<String>, ApiError>,
) -> PageResult<DriverHtml> {
    let ApiPath(name) = path?;
    let report = driver_report(&state, name).await?;
    let oldest_first: Vec<AnalysisView> = report
        .analyses
        .iter()
        .map(|a| AnalysisView::new(a, &state.vendors))
        .collect();
    Ok(DriverHtml {
        query: report.driver.clone(),
        tag_count: report
            .tags
            .iter()
            .map(|t| t.tag)
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        tags: report.tags.iter().map(EntryView::new).collect(),
        tag_versions: tag_versions(&oldest_first),
        analyses: oldest_first.into_iter().rev().collect(),
        driver: report.driver,
        vendors: report.vendors,
        versions: report.versions,
        components: report.components,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "sources.html")]
struct SourcesHtml {
    query: String,
    lists: Vec<ListView>,
    drivers: Vec<DriverGroupView>,
    /// `3 files`.
    driver_files: String,
    followed: Vec<FollowedView>,
}

/// A tag list (embedded or imported), display-ready.
struct ListView {
    name: String,
    kind: &'static str,
    entries: String,
    version: String,
    origin: String,
    imported: String,
}

/// The uploaded files of one driver name, newest version last.
struct DriverGroupView {
    driver: String,
    href: String,
    files: Vec<DriverFileView>,
}

struct DriverFileView {
    version: String,
    sha256: String,
    short_sha256: String,
    tags: String,
    uploaded: String,
}

/// A followed list's last refresh, display-ready.
struct FollowedView {
    source: String,
    url: String,
    last_success: String,
    last_attempt: String,
    last_error: String,
    failures: u64,
}

pub(super) fn when(t: Option<time::OffsetDateTime>) -> String {
    t.and_then(|t| {
        t.to_offset(time::UtcOffset::UTC)
            .format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
            ))
            .ok()
    })
    .unwrap_or_else(|| "never".into())
}

/// An RFC 3339 time as `2026-12-03 06:40:12 UTC`; anything else as it is.
fn when_rfc3339(text: &str) -> String {
    match time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339) {
        Ok(t) => when(Some(t)),
        Err(_) => text.to_owned(),
    }
}

async fn sources_page(State(state): State<AppState>) -> PageResult<SourcesHtml> {
    let sources = state.blocking(|index, _| Ok(index.all_sources()?)).await?;
    let mut lists = Vec::new();
    let mut drivers: Vec<DriverGroupView> = Vec::new();
    let mut driver_files = 0;
    for source in sources {
        if source.kind != SourceKind::Driver {
            lists.push(ListView {
                kind: match source.kind {
                    SourceKind::Default => "built in",
                    SourceKind::List | SourceKind::Driver => "imported",
                },
                entries: thousands(source.entries),
                version: source.version.unwrap_or_default(),
                origin: source.origin.unwrap_or_default(),
                imported: when_rfc3339(&source.imported_at),
                name: source.name,
            });
            continue;
        }
        driver_files += 1;
        // Stored before drivers were named by their version resource: the file's name.
        let driver = source.driver_name.clone().unwrap_or_else(|| {
            crate::driver::normalize_driver_name(source.origin.as_deref().unwrap_or_default())
        });
        let sha256 = source
            .name
            .strip_prefix(crate::import::DRIVER_SOURCE_PREFIX)
            .unwrap_or(&source.name)
            .to_owned();
        let file = DriverFileView {
            version: source.version.unwrap_or_default(),
            short_sha256: format!("{}…", sha256.chars().take(12).collect::<String>()),
            sha256,
            tags: counted(source.entries, "tag", "tags"),
            uploaded: when_rfc3339(&source.imported_at),
        };
        // Sorted by file name, so one driver's files are together but for case.
        match drivers.iter_mut().find(|group| group.driver == driver) {
            Some(group) => group.files.push(file),
            None => drivers.push(DriverGroupView {
                href: super::views::driver_href(&driver),
                driver,
                files: vec![file],
            }),
        }
    }
    let followed = state
        .list_refresh
        .statuses()
        .into_iter()
        .map(|s| FollowedView {
            last_success: when(s.last_success),
            last_attempt: when(s.last_attempt),
            last_error: s.last_error.unwrap_or_default(),
            failures: s.failures,
            source: s.source,
            url: s.url,
        })
        .collect();
    Ok(SourcesHtml {
        query: String::new(),
        lists,
        drivers,
        driver_files: counted(driver_files, "file", "files"),
        followed,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "upload.html")]
struct UploadHtml {
    query: String,
    report: Option<UploadReport>,
    error: Option<String>,
    /// This browser gave the admin token earlier in its session (the upload cookie).
    remembered: bool,
}

async fn upload_form(State(state): State<AppState>, headers: HeaderMap) -> UploadHtml {
    UploadHtml {
        query: String::new(),
        report: None,
        error: None,
        remembered: has_upload_cookie(&state, &headers),
    }
}

/// The browser upload: a multipart form with the admin token as a field (browsers cannot set
/// an Authorization header without JavaScript), or the cookie an earlier upload of this
/// browser session set. The form sends the token before the files, so a wrong token is
/// refused before any file is read.
async fn upload_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    multipart: Multipart,
) -> Response {
    let limit = state.config.max_body_bytes;
    let remembered = has_upload_cookie(&state, &headers);
    let result = async {
        let authorize = |fields: &[(String, String)]| {
            let token = fields
                .iter()
                .find(|(name, _)| name == "token")
                .map_or("", |(_, value)| value.as_str());
            if token.trim().is_empty() && remembered {
                return Ok(());
            }
            require_token(&state, token).map(drop)
        };
        let (files, _) = read_multipart(multipart, limit, authorize).await?;
        if files.is_empty() {
            return Err(ApiError::BadRequest(
                "choose at least one driver file".into(),
            ));
        }
        analyze_and_store(&state, files).await
    }
    .await;
    match result {
        Ok(report) => {
            let page = UploadHtml {
                query: String::new(),
                report: Some(report),
                error: None,
                remembered: true,
            };
            match upload_cookie(&state, super::origin::behind_https(&headers)) {
                Some(cookie) => ([(header::SET_COOKIE, cookie)], page).into_response(),
                None => page.into_response(),
            }
        }
        Err(error) => {
            let status = error.status();
            let message = match error {
                // The page has no header to send: say it in the form's words.
                ApiError::Unauthorized => {
                    "the server refused the token: type the admin token the server was started with (POOLSLEUTH_ADMIN_TOKEN)".into()
                }
                error => error.public_message(),
            };
            let page = UploadHtml {
                query: String::new(),
                report: None,
                error: Some(message),
                remembered: remembered && status != axum::http::StatusCode::UNAUTHORIZED,
            };
            (status, page).into_response()
        }
    }
}
