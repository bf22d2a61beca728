//! The attribution page in a real browser: headless Chromium over WebDriver (fantoccini),
//! against the real server on 127.0.0.1:0. Pastes a snapshot, submits, and reads the ranked
//! suspects and the chart. Skipped (with a notice) without Debian's `chromium` and
//! `chromium-driver`.

mod common;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{TOKEN, TestApp, spawn_app};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
/// Upper bound for any one wait on the page; generous because the machine is shared.
const WAIT: Duration = Duration::from_secs(20);

/// One browser at a time: each test starts its own Chromium, and several at once on a small
/// machine only make every one of them slow.
static BROWSER_SLOT: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn browser_installed() -> bool {
    if Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists() {
        true
    } else {
        eprintln!("skipped: chromium/chromedriver not installed");
        false
    }
}

/// A chromedriver process on a free local port, killed (with the browsers it started) on drop.
struct ChromeDriver {
    child: Child,
    url: String,
}

impl ChromeDriver {
    fn start(log_dir: &Path) -> Self {
        let mut last_error = String::new();
        // The free port is found by binding and releasing it, so another process may take it in
        // between; try again on a new port then.
        for _ in 0..3 {
            let port = free_port();
            let log = std::fs::File::create(log_dir.join("chromedriver.log")).unwrap();
            let mut command = Command::new(CHROMEDRIVER);
            command
                .arg(format!("--port={port}"))
                .arg("--allowed-ips=127.0.0.1")
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log);
            // Its own process group, so that drop can end the browsers it launched as well.
            #[cfg(unix)]
            std::os::unix::process::CommandExt::process_group(&mut command, 0);
            let child = command.spawn().expect("start chromedriver");
            let mut driver = Self {
                child,
                url: format!("http://127.0.0.1:{port}"),
            };
            match driver.wait_until_listening(SocketAddr::from(([127, 0, 0, 1], port))) {
                Ok(()) => return driver,
                Err(error) => last_error = error,
            }
        }
        panic!("chromedriver did not start: {last_error}");
    }

    fn wait_until_listening(&mut self, addr: SocketAddr) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("exited with {status}"));
            }
            if Instant::now() > deadline {
                return Err(format!("not listening on {addr} after 15 s"));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        #[cfg(unix)]
        {
            // The group we created in `start` holds chromedriver and the browsers it launched.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", self.child.id())])
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free local port")
        .port()
}

/// Everything one browser test needs; dropped in reverse order of creation.
struct Harness {
    app: TestApp,
    driver: ChromeDriver,
    profile: tempfile::TempDir,
    _data: tempfile::TempDir,
}

impl Harness {
    async fn start() -> Self {
        let data = tempfile::tempdir().unwrap();
        let app = spawn_app(data.path(), Some(TOKEN)).await;
        let profile = tempfile::tempdir().unwrap();
        let driver = ChromeDriver::start(profile.path());
        Self {
            app,
            driver,
            profile,
            _data: data,
        }
    }

    async fn connect(&self) -> Client {
        let user_data_dir: PathBuf = self.profile.path().join("chromium-profile");
        let args = [
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--window-size=1280,900".to_owned(),
            format!("--user-data-dir={}", user_data_dir.display()),
        ];
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": CHROMIUM, "args": args }),
        );
        ClientBuilder::native()
            .capabilities(capabilities)
            .connect(&self.driver.url)
            .await
            .expect("a WebDriver session with headless Chromium")
    }

    /// Runs `body` with a browser session, and ends the session (and its browser) whether the
    /// body passes or panics.
    async fn run<F, Fut>(self, body: F)
    where
        F: FnOnce(Client, String) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let client = self.connect().await;
        let outcome = tokio::spawn(body(client.clone(), self.app.base.clone())).await;
        let _ = client.close().await;
        let Harness {
            app,
            driver,
            profile,
            _data,
        } = self;
        drop(driver);
        app.stop().await;
        drop(profile);
        if let Err(error) = outcome {
            match error.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                Err(error) => panic!("browser test task failed: {error}"),
            }
        }
    }
}

const KB: &str = "tag,driver,description,vendor,version\nLeak,leaky.sys,Leaky request contexts,Contoso Ltd.,1.2.0\nLeak,leaky.sys,Leaky request contexts,Contoso Ltd.,1.10.0\n";

const SNAPSHOT: &str = " Tag  Type     Allocs         Frees    Diff   Bytes    Per Alloc\n Leak Nonp      50000      1000    49000  401408000       8192\n Cont Nonp       2000         0     2000  104857600      52428\n File Nonp   25376177  25200767  175410  70145152        399\n";

#[tokio::test]
async fn pasting_a_snapshot_shows_ranked_suspects_and_a_chart() {
    if !browser_installed() {
        return;
    }
    let _slot = BROWSER_SLOT.lock().await;
    let harness = Harness::start().await;
    let (status, report) = harness.app.import("contoso", KB).await;
    assert_eq!(status, 200, "{report}");
    harness
        .run(|client, base| async move {
            client.goto(&format!("{base}/")).await.unwrap();
            // The nav leads to the page.
            client
                .find(Locator::Css("nav a[href='/analyze']"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            let textarea = client
                .wait()
                .at_most(WAIT)
                .for_element(Locator::Css("textarea#snapshot-text"))
                .await
                .unwrap();
            textarea.send_keys(SNAPSHOT).await.unwrap();
            client
                .find(Locator::Css("button#analyze-submit"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            let suspects = client
                .wait()
                .at_most(WAIT)
                .for_element(Locator::Css("ol#suspects"))
                .await
                .unwrap();
            let first = suspects
                .find(Locator::Css("li.suspect a.driver"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert_eq!(first, "leaky.sys");
            let guidance = suspects
                .find(Locator::Css("li.suspect p.guidance"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert!(guidance.contains("1.10.0"), "{guidance}");
            let ranks = client
                .find_all(Locator::Css("ol#suspects li.suspect"))
                .await
                .unwrap();
            assert!(ranks.len() >= 2, "several suspects are ranked");
            // The chart: an inline SVG with one bar per top tag, drawn (not blocked by CSP).
            let bars = client
                .find_all(Locator::Css("svg#tag-chart rect"))
                .await
                .unwrap();
            assert_eq!(bars.len(), 3);
            let (_, _, width, height) = bars[0].rectangle().await.unwrap();
            assert!(width > 10.0 && height > 5.0, "bar {width}x{height}");
            let fill = client
                .execute(
                    "return getComputedStyle(document.querySelector('svg#tag-chart rect')).fill;",
                    Vec::new(),
                )
                .await
                .unwrap();
            assert_eq!(
                fill,
                json!("rgb(207, 34, 46)"),
                "the stylesheet colours third-party bars"
            );
            // The vendor report is there to copy.
            let report = client
                .find(Locator::Css("pre.vendor-report"))
                .await
                .unwrap()
                .prop("textContent")
                .await
                .unwrap()
                .unwrap_or_default();
            assert!(
                report.starts_with("# Kernel pool leak in leaky.sys"),
                "{report}"
            );
            // The pasted text stays in the box for another try.
            let value = client
                .find(Locator::Css("textarea#snapshot-text"))
                .await
                .unwrap()
                .prop("value")
                .await
                .unwrap()
                .unwrap_or_default();
            assert!(value.contains("Leak Nonp"));
        })
        .await;
}
