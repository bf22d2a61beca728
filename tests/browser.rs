//! The pages in a real browser: headless Chromium driven over WebDriver (fantoccini), against
//! the real server on 127.0.0.1:0 — the search pages, and the attribution page (paste a
//! snapshot, submit, read the ranked suspects and the chart).
//!
//! Needs Debian's `chromium` and `chromium-driver` (`/usr/bin/chromium`, `/usr/bin/chromedriver`);
//! without them every test here prints a skip notice and passes, so a fresh clone still passes
//! `cargo test`.

mod common;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{TOKEN, TestApp, spawn_app};
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

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

/// Types `text` into the search box and submits the form with its button, then waits for the
/// results page of that query.
async fn search(client: &Client, text: &str) {
    let input = client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("input#q"))
        .await
        .unwrap();
    input.clear().await.unwrap();
    input.send_keys(text).await.unwrap();
    client
        .form(Locator::Css("form.searchbox"))
        .await
        .unwrap()
        .submit()
        .await
        .unwrap();
    wait_for_query(client, text).await;
}

/// Waits until the page shows the results of `query` (the box holds it after the round trip).
async fn wait_for_query(client: &Client, query: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let url = client.current_url().await.unwrap();
        let submitted = url
            .query_pairs()
            .find(|(k, _)| k == "q")
            .map(|(_, v)| v.into_owned());
        if submitted.as_deref() == Some(query)
            && client.find(Locator::Css("h1.results-title")).await.is_ok()
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no results page for {query:?}; still at {url}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_for_path(client: &Client, path: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let url = client.current_url().await.unwrap();
        if url.path() == path {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "expected to reach {path}, still at {url}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The cells' texts of each row of the first attributions table on the page.
async fn table_rows(client: &Client) -> Vec<(Element, Vec<String>)> {
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("table.entries tbody tr"))
        .await
        .unwrap();
    let mut rows = Vec::new();
    for row in client
        .find_all(Locator::Css("table.entries tbody tr"))
        .await
        .unwrap()
    {
        let mut cells = Vec::new();
        for cell in row.find_all(Locator::Css("td")).await.unwrap() {
            cells.push(cell.text().await.unwrap().trim().to_owned());
        }
        rows.push((row, cells));
    }
    rows
}

/// The row whose tag cell shows `tag`.
async fn row_for_tag(client: &Client, tag: &str) -> (Element, Vec<String>) {
    let rows = table_rows(client).await;
    let listed: Vec<String> = rows.iter().map(|(_, cells)| cells[0].clone()).collect();
    rows.into_iter()
        .find(|(_, cells)| cells.first().map(String::as_str) == Some(tag))
        .unwrap_or_else(|| panic!("no row for tag {tag:?}; the table lists {listed:?}"))
}

async fn script(client: &Client, js: &str) -> Value {
    client.execute(js, Vec::new()).await.unwrap()
}

async fn count(client: &Client, css: &str) -> usize {
    client.find_all(Locator::Css(css)).await.unwrap().len()
}

#[tokio::test]
async fn searching_a_tag_shows_its_driver_and_links_to_the_tag_page() {
    if !browser_installed() {
        return;
    }
    let _slot = BROWSER_SLOT.lock().await;
    let harness = Harness::start().await;
    harness
        .run(|client, base| async move {
            client.goto(&format!("{base}/")).await.unwrap();
            assert!(
                client.title().await.unwrap().contains("poolsleuth"),
                "unexpected start page title"
            );

            for (tag, driver) in [("Cont", "ntoskrnl.exe"), ("NtfF", "ntfs.sys")] {
                search(&client, tag).await;
                let title = client
                    .find(Locator::Css("h1.results-title"))
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap();
                assert!(title.starts_with("Results 1"), "results heading: {title:?}");
                // The exact tag is the best hit.
                let (row, cells) = table_rows(&client).await.remove(0);
                assert_eq!(cells[0], tag, "best hit for {tag}: {cells:?}");
                assert_eq!(cells[1].lines().next(), Some(driver), "row {cells:?}");
                assert_eq!(
                    cells.last().map(String::as_str),
                    Some("tag"),
                    "row {cells:?}"
                );

                row.find(Locator::Css("td.tag a"))
                    .await
                    .unwrap()
                    .click()
                    .await
                    .unwrap();
                wait_for_path(&client, &format!("/tags/{tag}")).await;
                let heading = client
                    .wait()
                    .at_most(WAIT)
                    .for_element(Locator::Css("h1 code.bigtag"))
                    .await
                    .unwrap();
                assert_eq!(heading.text().await.unwrap(), tag);
                assert!(
                    client
                        .find(Locator::XPath("//h2[starts-with(., 'Attributions (1)')]"))
                        .await
                        .is_ok(),
                    "the tag page of {tag} announces one attribution"
                );
                let (_, attribution) = row_for_tag(&client, tag).await;
                // Tag, Driver, Description, Vendor, Confidence, Source.
                assert_eq!(
                    attribution[1].lines().next(),
                    Some(driver),
                    "{attribution:?}"
                );
                assert!(!attribution[2].is_empty(), "a description: {attribution:?}");
                assert_eq!(attribution[3], "Microsoft", "{attribution:?}");
                assert_eq!(attribution[4], "list", "{attribution:?}");
                assert!(
                    attribution[5].starts_with("poolsleuth-default:"),
                    "attributed to the default source with its line: {attribution:?}"
                );
                // The box carries the tag on, so the next search starts from it.
                let value = client
                    .find(Locator::Css("input#q"))
                    .await
                    .unwrap()
                    .prop("value")
                    .await
                    .unwrap();
                assert_eq!(value.as_deref(), Some(tag));
            }
        })
        .await;
}

/// A list whose texts are markup: the pages must show them as text and build no elements.
const HOSTILE_LIST: &str = concat!(
    "tag,driver,description,vendor\n",
    "Xss1,evil.sys,\"<img src=x id=injected-img onerror=alert(1)><script>window.injected=1</script><b id=injected-b>bold</b>\",\"<i id=injected-i>Vendor</i>\"\n",
    "<b>,\"\"\"><s>x.sys\",\"</td></tr></table><h1 id=injected-h1>broken out</h1>\",Contoso\n",
);

#[tokio::test]
async fn markup_in_queries_and_imported_lists_is_shown_as_text() {
    if !browser_installed() {
        return;
    }
    let _slot = BROWSER_SLOT.lock().await;
    let harness = Harness::start().await;
    let (status, report) = harness.app.import("hostile", HOSTILE_LIST).await;
    assert_eq!(status, 200, "import: {report}");
    assert_eq!(report["imported"], 2, "import: {report}");
    assert_eq!(report["skipped"], 0, "import: {report}");

    harness
        .run(|client, base| async move {
            let injected =
                "#injected-img, #injected-b, #injected-i, #injected-h1, #injected-q, s, script";
            let no_injection = |page: String| {
                let client = client.clone();
                async move {
                    assert_eq!(count(&client, injected).await, 0, "markup became elements on {page}");
                    assert_eq!(
                        script(&client, "return window.injected === undefined;").await,
                        json!(true),
                        "script ran on {page}"
                    );
                    assert!(
                        client.get_alert_text().await.is_err(),
                        "an alert opened on {page}"
                    );
                }
            };
            client.goto(&format!("{base}/")).await.unwrap();

            // A query that is markup, and one that tries to leave the input's value attribute.
            for query in ["<script>alert(1)</script>", "\"><b id=injected-q>x</b>"] {
                search(&client, query).await;
                no_injection(format!("the results for {query:?}")).await;
                let heading = client
                    .find(Locator::Css("h1.results-title q"))
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap();
                assert_eq!(heading, query, "the heading quotes the query as text");
                let value = client
                    .find(Locator::Css("input#q"))
                    .await
                    .unwrap()
                    .prop("value")
                    .await
                    .unwrap();
                assert_eq!(value.as_deref(), Some(query), "the box keeps the query intact");
            }

            // Imported descriptions, vendors, driver names and tags that are markup.
            search(&client, "Xss1").await;
            no_injection("the results for Xss1".into()).await;
            let (row, cells) = row_for_tag(&client, "Xss1").await;
            assert_eq!(
                cells[2],
                "<img src=x id=injected-img onerror=alert(1)><script>window.injected=1</script><b id=injected-b>bold</b>"
            );
            assert_eq!(cells[3], "<i id=injected-i>Vendor</i>");
            row.find(Locator::Css("td.tag a"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            wait_for_path(&client, "/tags/Xss1").await;
            client
                .wait()
                .at_most(WAIT)
                .for_element(Locator::Css("h1 code.bigtag"))
                .await
                .unwrap();
            no_injection("the tag page of Xss1".into()).await;

            search(&client, "<b>").await;
            no_injection("the results for <b>".into()).await;
            let (row, cells) = row_for_tag(&client, "<b>·").await;
            assert_eq!(cells[1], "\"><s>x.sys");
            assert_eq!(cells[2], "</td></tr></table><h1 id=injected-h1>broken out</h1>");
            // The tag's link is percent-encoded and leads to its page.
            row.find(Locator::Css("td.tag a"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            wait_for_path(&client, "/tags/%3Cb%3E%20").await;
            let heading = client
                .wait()
                .at_most(WAIT)
                .for_element(Locator::Css("h1 code.bigtag"))
                .await
                .unwrap();
            assert_eq!(heading.text().await.unwrap(), "<b>·");
            no_injection("the tag page of <b>".into()).await;
            // And the driver link of that row, too.
            let (row, _) = row_for_tag(&client, "<b>·").await;
            row.find(Locator::Css("td:nth-child(2) a"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            let heading = client
                .wait()
                .at_most(WAIT)
                .for_element(Locator::Css("h1 code"))
                .await
                .unwrap();
            assert_eq!(heading.text().await.unwrap(), "\"><s>x.sys");
            no_injection("the driver page".into()).await;
        })
        .await;
}

#[tokio::test]
async fn pages_fit_a_phone_screen() {
    if !browser_installed() {
        return;
    }
    let _slot = BROWSER_SLOT.lock().await;
    let harness = Harness::start().await;
    harness
        .run(|client, base| async move {
            client.set_window_size(390, 844).await.unwrap();
            let pages = [
                "/".to_owned(),
                "/?q=Mm*".to_owned(),
                "/?q=memory".to_owned(),
                "/tags/Cont".to_owned(),
                "/drivers/ntoskrnl.exe".to_owned(),
                "/sources".to_owned(),
            ];
            for page in pages {
                client.goto(&format!("{base}{page}")).await.unwrap();
                let input = client
                    .wait()
                    .at_most(WAIT)
                    .for_element(Locator::Css("input#q"))
                    .await
                    .unwrap();
                let viewport = script(&client, "return window.innerWidth;").await;
                let viewport = viewport.as_f64().unwrap();
                assert!(
                    viewport <= 400.0,
                    "the window is phone-sized (innerWidth {viewport})"
                );
                assert!(input.is_displayed().await.unwrap(), "search box hidden on {page}");
                let (x, _, width, height) = input.rectangle().await.unwrap();
                assert!(
                    x >= 0.0 && x + width <= viewport + 0.5 && width >= 120.0 && height >= 20.0,
                    "search box on {page} is not usable on a phone: x {x}, width {width}, height {height}, viewport {viewport}"
                );
                let overflow = script(
                    &client,
                    "return [document.documentElement.scrollWidth, window.innerWidth];",
                )
                .await;
                let scroll_width = overflow[0].as_f64().unwrap();
                let inner_width = overflow[1].as_f64().unwrap();
                assert!(
                    scroll_width <= inner_width,
                    "{page} scrolls sideways on a phone: scrollWidth {scroll_width} > innerWidth {inner_width}"
                );
            }
        })
        .await;
}

// --- The attribution page ---------------------------------------------------------------

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
            // The answer comes first: the tag, the driver, what to do, how sure.
            let answer = client
                .find(Locator::Css("section#analysis > div#answer"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert!(answer.contains("Leak"), "{answer}");
            assert!(!answer.contains('`'), "no literal backticks: {answer}");
            assert!(answer.contains("leaky.sys"), "{answer}");
            assert!(answer.contains("Do now"), "{answer}");
            assert!(answer.contains("How sure"), "{answer}");
            let answer_top = script(
                &client,
                "return document.querySelector('#answer').getBoundingClientRect().top",
            )
            .await;
            let suspects_top = script(
                &client,
                "return document.querySelector('#suspects').getBoundingClientRect().top",
            )
            .await;
            assert!(
                answer_top.as_f64().unwrap() < suspects_top.as_f64().unwrap(),
                "the answer card is above the suspects"
            );
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

// --- Every page at a phone's and a desktop's width ---------------------------------------

/// Where the screenshots go, for a person to look at after the run.
fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const DRIVER_FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/drivers/patterns_x64_O2.sys"
);

const SERIES: &str = include_str!("fixtures/snapshots/poolmon-log-series.txt");

async fn wait_for(client: &Client, css: &str) -> Element {
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css} on the page: {e}"))
}

/// Asserts that the page is no wider than the window, then photographs all of it.
async fn fits_and_photograph(client: &Client, name: &str, (width, height): (u32, u32)) {
    let overflow = script(
        client,
        "return [document.documentElement.scrollWidth, window.innerWidth, document.documentElement.scrollHeight];",
    )
    .await;
    let scroll_width = overflow[0].as_f64().unwrap();
    let inner_width = overflow[1].as_f64().unwrap();
    let scroll_height = overflow[2].as_f64().unwrap();
    // Photograph first, so a failure leaves the picture of what is wrong.
    client
        .set_window_size(width, (scroll_height as u32 + 120).clamp(height, 12_000))
        .await
        .unwrap();
    let png = client.screenshot().await.unwrap();
    std::fs::write(screenshot_dir().join(format!("{name}-{width}.png")), png).unwrap();
    client.set_window_size(width, height).await.unwrap();
    // Words for people, not for API clients.
    let text = script(client, "return document.body.innerText;").await;
    let text = text.as_str().unwrap();
    for jargon in [
        "`",
        "(s)",
        "Authorization: Bearer",
        "multipart part",
        "raw body",
        "Analyse",
    ] {
        assert!(!text.contains(jargon), "{name} shows {jargon:?}: {text}");
    }
    if scroll_width > inner_width {
        // Name the elements that stick out, innermost first, to say what to fix.
        let wide = script(
            client,
            "const w = window.innerWidth; return [...document.querySelectorAll('body *')]
               .filter(e => e.getBoundingClientRect().right > w + 0.5)
               .filter(e => ![...e.children].some(c => c.getBoundingClientRect().right > w + 0.5))
               .slice(0, 8)
               .map(e => e.tagName + (e.id ? '#' + e.id : '') + (e.className && e.className.baseVal === undefined ? '.' + e.className : '') + ' ' + Math.round(e.getBoundingClientRect().right) + ': ' + (e.textContent || '').slice(0, 40));",
        )
        .await;
        panic!(
            "{name} scrolls sideways at {width} px: scrollWidth {scroll_width} > innerWidth {inner_width}; too wide: {wide:#}"
        );
    }
}

#[tokio::test]
async fn every_page_fits_a_phone_and_a_desktop_and_is_photographed() {
    if !browser_installed() {
        return;
    }
    let _slot = BROWSER_SLOT.lock().await;
    // No list imported: the home page shows its hint to import the WDK list.
    let harness = Harness::start().await;
    harness
        .run(|client, base| async move {
            for size in [(390, 844), (1280, 900)] {
                client.set_window_size(size.0, size.1).await.unwrap();

                // Upload a driver through the form: the result page, and the driver it adds.
                client.goto(&format!("{base}/upload")).await.unwrap();
                // After the first upload this browser session needs no token.
                let remembered = client.find(Locator::Css("#token-remembered")).await.is_ok();
                assert_eq!(
                    remembered,
                    size.0 != 390,
                    "the token is remembered after one upload"
                );
                if !remembered {
                    wait_for(&client, "input#token")
                        .await
                        .send_keys(TOKEN)
                        .await
                        .unwrap();
                }
                let files = wait_for(&client, "input#files").await;
                files.send_keys(DRIVER_FIXTURE).await.unwrap();
                let form = client.form(Locator::Css("form.upload")).await.unwrap();
                form.submit().await.unwrap();
                wait_for(&client, "#upload-result").await;
                fits_and_photograph(&client, "upload", size).await;

                // An analysis of a series, with both charts.
                client.goto(&format!("{base}/analyze")).await.unwrap();
                let textarea = wait_for(&client, "textarea#snapshot-text").await;
                // Typing a long text is slow; set the value instead.
                let args = vec![serde_json::to_value(&textarea).unwrap(), json!(SERIES)];
                let set_value = "arguments[0].value = arguments[1];";
                client.execute(set_value, args).await.unwrap();
                let submit = wait_for(&client, "button#analyze-submit").await;
                submit.click().await.unwrap();
                wait_for(&client, "svg#growth-chart").await;
                // Bars biggest first; each line's colour is its legend key's.
                let widths = script(
                    &client,
                    "return [...document.querySelectorAll('#tag-chart rect')].map(r => r.getBBox().width);",
                )
                .await;
                let widths: Vec<f64> = serde_json::from_value(widths).unwrap();
                assert!(widths.windows(2).all(|w| w[0] >= w[1]), "bars by size: {widths:?}");
                let colours = script(
                    &client,
                    "return [[...document.querySelectorAll('#growth-chart polyline')].map(l => getComputedStyle(l).stroke),
                             [...document.querySelectorAll('#growth-chart-legend .key')].map(k => getComputedStyle(k).backgroundColor)];",
                )
                .await;
                assert_eq!(colours[0], colours[1], "line colours and legend keys");
                assert!(colours[0].as_array().unwrap().len() >= 2, "{colours}");
                let x_labels = script(
                    &client,
                    "return [...document.querySelectorAll('#growth-chart text.x-label')].map(t => t.textContent);",
                )
                .await;
                assert_eq!(x_labels, json!(["2026-11-01 10:00", "11:00", "12:00"]));
                fits_and_photograph(&client, "analyze", size).await;

                for (name, path) in [
                    ("home", "/"),
                    ("tag", "/tags/Cont"),
                    // The file uploaded as patterns_x64_O2.sys is named by its version
                    // resource (OriginalFilename patterns.sys).
                    ("driver", "/drivers/patterns.sys"),
                    ("sources", "/sources"),
                    ("search", "/?q=Mm*"),
                ] {
                    client.goto(&format!("{base}{path}")).await.unwrap();
                    wait_for(&client, "main h1").await;
                    let title = client.title().await.unwrap();
                    assert!(!title.starts_with("Not Found"), "{path}: {title}");
                    // No empty facts (a driver without a copyright has no copyright row).
                    let empty = "return [...document.querySelectorAll('dd')].filter(d => !d.textContent.trim()).length;";
                    assert_eq!(script(&client, empty).await, json!(0), "empty rows on {path}");
                    fits_and_photograph(&client, name, size).await;
                }
                // No list is imported: the home page says to import the WDK's.
                client.goto(&format!("{base}/")).await.unwrap();
                let hint = wait_for(&client, "#starter-hint")
                    .await
                    .text()
                    .await
                    .unwrap();
                assert!(hint.contains("pooltag.txt"), "{hint}");
            }
        })
        .await;
}
