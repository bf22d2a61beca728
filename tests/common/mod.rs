//! Test harness: the real server on 127.0.0.1:0 with a temporary data dir, used over HTTP.
#![allow(dead_code)] // each test binary uses a different part of the harness

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use poolsleuth::http::{AppState, HttpConfig};
use poolsleuth::vendor::VendorDirectory;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const TOKEN: &str = "test-admin-token";

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub data_dir: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

pub async fn spawn_app(data_dir: &Path, admin_token: Option<&str>) -> TestApp {
    spawn_app_with(
        data_dir,
        HttpConfig {
            admin_token: admin_token.map(str::to_owned),
            ..HttpConfig::default()
        },
    )
    .await
}

pub async fn spawn_app_with(data_dir: &Path, config: HttpConfig) -> TestApp {
    let vendors = Arc::new(VendorDirectory::embedded());
    let index = poolsleuth::cli::open_index(data_dir, vendors.clone())
        .await
        .expect("open index");
    let state = AppState::new(index, vendors, config);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        poolsleuth::http::serve(listener, state, async {
            stopped.await.ok();
        })
        .await
        .expect("server runs");
    });
    TestApp {
        base: format!("http://{addr}"),
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap(),
        data_dir: data_dir.to_owned(),
        stop: Some(stop),
        server: Some(server),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self.get(path).await;
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// POSTs a list as the admin.
    pub async fn import(
        &self,
        name: &str,
        body: impl Into<reqwest::Body>,
    ) -> (u16, serde_json::Value) {
        let response = self
            .client
            .post(self.url("/api/v1/lists"))
            .query(&[("name", name)])
            .bearer_auth(TOKEN)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// Deletes a source as the admin; returns the status.
    pub async fn delete_source(&self, name: &str) -> u16 {
        self.client
            .delete(self.url(&format!("/api/v1/lists/{name}")))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// Stops the server gracefully and waits until it has released the data dir.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap();
        }
    }
}

/// The shared corpus, when this checkout has it (CI does; a user's fresh clone may not).
pub fn corpus_file(relative: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus")
        .join(relative);
    if path.exists() {
        Some(path)
    } else {
        eprintln!("skipped: corpus file {} is not present", path.display());
        None
    }
}
