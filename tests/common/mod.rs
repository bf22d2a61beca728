//! Test harness: the real server on 127.0.0.1:0 with a temporary data dir, used over HTTP.
#![allow(dead_code)] // each test binary uses a different part of the harness

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use poolsleuth::http::{AppState, HttpConfig};
use poolsleuth::vendor::VendorDirectory;
use tokio::net::TcpListener;

pub mod corpus;
pub mod disk;
pub mod ingest_receiver;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const TOKEN: &str = "test-admin-token";

/// The text of README's section whose heading starts with `heading` (`## Quick start`), up
/// to the next `## ` heading.
pub fn readme_section(heading: &str) -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    readme
        .split(&format!("\n{heading}"))
        .nth(1)
        .unwrap_or_else(|| panic!("README has no section {heading}"))
        .split("\n## ")
        .next()
        .unwrap()
        .to_owned()
}

/// Serves `app` on 127.0.0.1 on a free port, in the background: a stand-in for another
/// service (a webhook, fleet ingest) that a test watches.
pub async fn serve_local(app: axum::Router) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

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
    let index =
        poolsleuth::cli::open_index(data_dir, vendors.clone(), poolsleuth::cli::Writer::Serve)
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
    /// `127.0.0.1:PORT`, for raw TCP clients.
    pub fn addr(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

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

    /// GETs a CSV download: 200, `text/csv`, the body.
    pub async fn get_csv(&self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/csv"),
            "{path}"
        );
        response.text().await.unwrap()
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

    /// POSTs one snapshot body to the analysis API, as `curl --data-binary` does.
    pub async fn analyze(&self, body: impl Into<reqwest::Body>) -> (u16, serde_json::Value) {
        let response = self
            .client
            .post(self.url("/api/v1/analyze"))
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// POSTs a multipart form to the analysis API, as `curl -F snapshot=@… -F drivers=@…` does.
    pub async fn analyze_form(&self, form: reqwest::multipart::Form) -> (u16, serde_json::Value) {
        let response = self
            .client
            .post(self.url("/api/v1/analyze"))
            .multipart(form)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// POSTs a multipart form to the analysis page, as a browser does: (status, HTML).
    pub async fn analyze_page(&self, form: reqwest::multipart::Form) -> (u16, String) {
        let response = self
            .client
            .post(self.url("/analyze"))
            .multipart(form)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    /// Uploads driver files (file name, bytes) as the admin, as `curl -F files=@…` does.
    pub async fn upload_drivers(&self, files: &[(&str, Vec<u8>)]) -> (u16, serde_json::Value) {
        let mut form = reqwest::multipart::Form::new();
        for (name, bytes) in files {
            form = form.part(
                "files",
                reqwest::multipart::Part::bytes(bytes.clone()).file_name(name.to_string()),
            );
        }
        let response = self
            .client
            .post(self.url("/api/v1/drivers"))
            .bearer_auth(TOKEN)
            .multipart(form)
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

/// A file of the shared corpus, when this checkout has it (see [`corpus`]).
pub fn corpus_file(relative: &str) -> Option<PathBuf> {
    corpus::present(corpus::path(relative, None))
}

/// Sends `head` (the request line and headers, without the blank line) and `body_start`, keeps
/// the connection open without sending the rest of the body, and returns the response head
/// once it arrives (or panics after `within`). Shows that the server answered without waiting
/// for the body.
pub async fn answer_before_body(
    addr: &str,
    head: &str,
    body_start: &[u8],
    within: Duration,
) -> String {
    use tokio::io::AsyncReadExt;
    let mut stream = stalled_upload(addr, head, body_start).await;
    let mut answer = Vec::new();
    let read = async {
        let mut buf = [0u8; 4096];
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(within, read)
        .await
        .expect("the server answered before the body was complete");
    String::from_utf8_lossy(&answer).into_owned()
}

/// The real binary, as the container runs it: configuration by environment only.
pub struct ServerProcess {
    pub child: Child,
    pub base: String,
}

impl ServerProcess {
    /// `127.0.0.1:PORT`, for raw TCP clients.
    pub fn addr(&self) -> &str {
        self.base.trim_start_matches("http://")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The binary the process tests run: `POOLSLEUTH_RELEASE_BIN` when set (CI builds the release
/// binary, whose timing and memory are what users get) and not empty, else this build's.
pub fn server_binary() -> PathBuf {
    match std::env::var_os("POOLSLEUTH_RELEASE_BIN").filter(|path| !path.is_empty()) {
        Some(path) => PathBuf::from(path),
        None => {
            eprintln!("note: POOLSLEUTH_RELEASE_BIN is not set; testing the debug build instead");
            PathBuf::from(env!("CARGO_BIN_EXE_poolsleuth"))
        }
    }
}

/// Starts [`server_binary`] on a free port with the admin token, JSON logs and `env` on top.
pub fn start_server_with(data_dir: &Path, env: &[(&str, &str)]) -> ServerProcess {
    let mut child = Command::new(server_binary())
        .arg("serve")
        .env("POOLSLEUTH_BIND", "127.0.0.1:0")
        .env("POOLSLEUTH_DATA_DIR", data_dir)
        .env("POOLSLEUTH_ADMIN_TOKEN", TOKEN)
        .env("POOLSLEUTH_LOG_FORMAT", "json")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The listening address is in the start-up log line.
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut addr = None;
    let mut lines = stderr.lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line.contains("poolsleuth listening") {
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            addr = v["fields"]["addr"].as_str().map(str::to_owned);
            break;
        }
    }
    // Keep draining the log so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    ServerProcess {
        child,
        base: format!("http://{}", addr.expect("server printed its address")),
    }
}

/// A stalled upload: the request head and the first bytes of its body, the rest never sent.
pub async fn stalled_upload(addr: &str, head: &str, body_start: &[u8]) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(format!("{head}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    stream.write_all(body_start).await.unwrap();
    stream
}

/// `poolsleuth scan` of `folder` into the data dir `data` (quiet, with `extra` arguments),
/// asserting it succeeds; its standard output.
pub fn scan_folder(data: &Path, folder: &Path, extra: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_poolsleuth"))
        .args(["scan", "--quiet"])
        .args(extra)
        .arg("--data-dir")
        .arg(data)
        .arg(folder)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}
