//! Following a list by URL: the server imports it again on a schedule, keeps the previous
//! entries when a fetch fails, and shows each attempt in `/sources` and `/metrics`.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use common::spawn_app_with;
use poolsleuth::http::HttpConfig;
use poolsleuth::list_refresh::FollowedList;
use serde_json::Value;
use tokio::net::TcpListener;

/// The list the test server hands out; `None` answers 500.
type Served = Arc<Mutex<Option<String>>>;

async fn list(State(served): State<Served>) -> Result<String, StatusCode> {
    served
        .lock()
        .unwrap()
        .clone()
        .ok_or(StatusCode::INTERNAL_SERVER_ERROR)
}

async fn start_list_server(served: Served) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new()
        .route("/tags.csv", get(list))
        .with_state(served);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/tags.csv")
}

/// Polls `check` every 200 ms for up to 30 s.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..150 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn a_followed_list_is_refreshed_and_a_failed_fetch_keeps_its_entries() {
    let served: Served = Arc::new(Mutex::new(Some(
        "tag,driver,description,vendor\nZzq1,curated.sys,Curated buffers,Fabrikam\n".into(),
    )));
    let url = start_list_server(served.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app_with(
        dir.path(),
        HttpConfig {
            followed_lists: vec![format!("curated={url}").parse::<FollowedList>().unwrap()],
            list_refresh_interval: Duration::from_secs(1),
            ..HttpConfig::default()
        },
    )
    .await;
    let driver_of = |tag: &'static str| {
        let app = &app;
        async move {
            let (status, body) = app.get_json(&format!("/api/v1/tags/{tag}")).await;
            (status == 200)
                .then(|| {
                    body["attributions"][0]["driver"]
                        .as_str()
                        .map(str::to_owned)
                })
                .flatten()
        }
    };
    eventually("the first import", || async {
        driver_of("Zzq1").await.as_deref() == Some("curated.sys")
    })
    .await;

    // The list's server fails: the entries stay, and the failure shows.
    *served.lock().unwrap() = None;
    eventually("a failed refresh on /sources", || async {
        let html = app.get("/sources").await.text().await.unwrap();
        html.contains("id=\"followed-lists\"") && html.contains("HTTP 500")
    })
    .await;
    assert_eq!(driver_of("Zzq1").await.as_deref(), Some("curated.sys"));
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("poolsleuth_list_refresh_total")
                && l.contains("source=\"curated\"")
                && l.contains("result=\"error\"")),
        "{metrics}"
    );

    // The list changes: the next refresh replaces the source's entries.
    *served.lock().unwrap() =
        Some("tag,driver,description,vendor\nZzq2,curated.sys,New buffers,Fabrikam\n".into());
    eventually("the changed list", || async {
        driver_of("Zzq2").await.is_some()
    })
    .await;
    let (_, old): (u16, Value) = app.get_json("/api/v1/tags/Zzq1").await;
    assert!(
        old["attributions"].as_array().is_none_or(|a| a.is_empty()),
        "{old}"
    );
    app.stop().await;
}

/// Issue 27: a followed file of known causes (its header names `id`, `tags`, `summary`) is
/// imported as causes on the lists' schedule, and a new version of it replaces the old.
#[tokio::test]
async fn a_followed_file_of_known_causes_is_refreshed_as_causes() {
    let served: Served = Arc::new(Mutex::new(Some(
        "id,tags,pool,driver,url,summary\nq1,Zzq2,nonpaged,q.sys,https://example.org/q1,q.sys keeps Zzq2\n".into(),
    )));
    let url = start_list_server(served.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app_with(
        dir.path(),
        HttpConfig {
            followed_lists: vec![
                format!("site-causes={url}")
                    .parse::<FollowedList>()
                    .unwrap(),
            ],
            list_refresh_interval: Duration::from_secs(1),
            ..HttpConfig::default()
        },
    )
    .await;
    let case_of = |tag: &'static str| {
        let app = &app;
        async move {
            let (_, body) = app.get_json(&format!("/api/v1/causes?tag={tag}")).await;
            body["cases"][0]["id"].as_str().map(str::to_owned)
        }
    };
    eventually("the first import of the causes", || async {
        case_of("Zzq2").await.as_deref() == Some("q1")
    })
    .await;
    let (_, body) = app.get_json("/api/v1/causes?tag=Zzq2").await;
    assert_eq!(body["cases"][0]["source"], "site-causes");
    *served.lock().unwrap() = Some(
        "id,tags,url,summary,application\nq2,Zzq3,https://example.org/q2,an app holds Zzq3,q.exe\n"
            .into(),
    );
    eventually("the refreshed causes", || async {
        case_of("Zzq3").await.as_deref() == Some("q2") && case_of("Zzq2").await.is_none()
    })
    .await;
    // A tag list's lookups are untouched: the causes did not become tag entries.
    let (status, _) = app.get_json("/api/v1/tags/Zzq3").await;
    assert_eq!(status, 404);
    app.stop().await;
}
