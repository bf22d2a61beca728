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

/// The catalog that lists DRIVER_FIXTURE (tests/fixtures/signing/README.md).
const CATALOG_FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/signing/test.cat"
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

/// Puts `text` in the /analyze form's box (typing a long text is slow) and submits it.
async fn submit_paste(client: &Client, text: &str) {
    let textarea = wait_for(client, "textarea#snapshot-text").await;
    let args = vec![serde_json::to_value(&textarea).unwrap(), json!(text)];
    client
        .execute("arguments[0].value = arguments[1];", args)
        .await
        .unwrap();
    wait_for(client, "button#analyze-submit")
        .await
        .click()
        .await
        .unwrap();
}

/// Asserts that a colour means one owner kind on the whole page: each growth line has its
/// tag's bar colour, which is a colour of the bar legend; the legend shows each line's colour
/// and marker; lines of one colour have markers of their own.
async fn chart_colours_mean_one_thing(client: &Client) {
    let charts = script(
        client,
        "const colour = e => getComputedStyle(e).fill;
         const bars = {};
         document.querySelectorAll('#tag-chart rect').forEach((r, i) => {
             bars[document.querySelectorAll('#tag-chart text.chart-label')[i].textContent] = colour(r);
         });
         const keys = [...document.querySelectorAll('#tag-chart-legend .key')].map(k => getComputedStyle(k).backgroundColor);
         const lines = [...document.querySelectorAll('#growth-chart polyline')].map((l, i) => {
             const marker = document.querySelectorAll('#growth-chart path.marker')[i];
             const legend = document.querySelectorAll('#growth-chart-legend li')[i];
             return { stroke: getComputedStyle(l).stroke, marker: colour(marker), shape: marker.dataset.shape,
                      label: legend.textContent.trim(), legend_marker: colour(legend.querySelector('path')),
                      legend_shape: legend.querySelector('path').dataset.shape };
         });
         return { bars, keys, lines };",
    )
    .await;
    let lines = charts["lines"].as_array().unwrap();
    assert!(lines.len() >= 2, "{charts:#}");
    let keys = charts["keys"].as_array().unwrap();
    let mut shapes = Vec::new();
    for line in lines {
        assert!(
            keys.contains(&line["stroke"]),
            "a line colour the bars' legend does not name: {charts:#}"
        );
        assert_eq!(line["stroke"], line["marker"], "{charts:#}");
        assert_eq!(line["stroke"], line["legend_marker"], "{charts:#}");
        assert_eq!(line["shape"], line["legend_shape"], "{charts:#}");
        if let Some(bar) = charts["bars"].get(line["label"].as_str().unwrap()) {
            assert_eq!(
                &line["stroke"], bar,
                "a tag's line and bar differ: {charts:#}"
            );
        }
        shapes.push(line["shape"].as_str().unwrap().to_owned());
    }
    shapes.sort();
    shapes.dedup();
    assert_eq!(
        shapes.len(),
        lines.len(),
        "lines share a marker: {charts:#}"
    );
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
        "multipart part",
        "raw body",
        "Analyse",
        // A page says what to do itself, not where else to read it.
        "README",
        "filter driver above",
    ] {
        assert!(!text.contains(jargon), "{name} shows {jargon:?}: {text}");
    }
    // Commands carry the token's placeholder, never a real header of the reader's making.
    for line in text.lines().filter(|l| l.contains("Authorization: Bearer")) {
        assert!(line.contains("YOUR-ADMIN-TOKEN"), "{name}: {line}");
    }
    nothing_clipped(client, name, width).await;
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

/// Asserts that nothing on the page is cut off: a table wider than its box scrolls there and,
/// on a phone, says so above it (at a desktop's width no table needs to); no block of commands
/// is wider than its box; no table row is a tall blank; the page is not endless.
async fn nothing_clipped(client: &Client, name: &str, width: u32) {
    let report = script(
        client,
        "const wraps = [...document.querySelectorAll('.table-wrap')].map(w => {
            const hint = w.previousElementSibling;
            const hinted = !!hint && hint.classList.contains('scroll-hint') && hint.offsetParent !== null;
            const head = [...w.querySelectorAll('th')].map(t => t.textContent).join('|');
            return { overflows: w.scrollWidth > w.clientWidth + 1, hinted, head };
        });
        const pres = [...document.querySelectorAll('pre')].filter(p => p.offsetParent !== null)
            .filter(p => p.scrollWidth > p.clientWidth + 1).map(p => p.textContent.slice(0, 60));
        // A row is a tall blank when every cell is far taller than what it holds, or when a
        // cell squeezed to a sliver stacks its text a few letters a line.
        const content = c => { const r = document.createRange(); r.selectNodeContents(c); return r.getBoundingClientRect(); };
        const rows = [...document.querySelectorAll('tbody tr')].filter(r => r.offsetParent !== null)
            .filter(r => {
                // What shows of the row: the cells inside the box a wide table scrolls in.
                const wrap = r.closest('.table-wrap');
                const right = wrap ? wrap.getBoundingClientRect().right : window.innerWidth;
                const cells = [...r.children].filter(c => c.offsetParent !== null && c.textContent.trim()
                    && c.getBoundingClientRect().left < right - 8);
                const tallest = Math.max(0, ...cells.map(c => content(c).height));
                const blank = cells.length > 0 && r.getBoundingClientRect().height - tallest > 48
                    && getComputedStyle(r).display === 'table-row';
                const squeezed = cells.some(c => { const b = content(c); return b.height > 90 && b.width < 70; });
                return blank || squeezed;
            })
            .map(r => r.innerText.replace(/\\s+/g, ' ').trim().slice(0, 80));
        return { wraps, pres, rows, height: document.documentElement.scrollHeight };",
    )
    .await;
    for wrap in report["wraps"].as_array().unwrap() {
        if wrap["overflows"] == json!(true) {
            assert!(
                width < 1000,
                "{name} at {width} px: a table is wider than its box ({})",
                wrap["head"]
            );
            assert_eq!(
                wrap["hinted"],
                json!(true),
                "{name} at {width} px: a table scrolls sideways without saying so ({})",
                wrap["head"]
            );
        }
    }
    assert_eq!(
        report["pres"],
        json!([]),
        "{name} at {width} px: commands cut off"
    );
    assert_eq!(
        report["rows"],
        json!([]),
        "{name} at {width} px: table rows far taller than their text"
    );
    let height = report["height"].as_f64().unwrap();
    assert!(
        height < 10_000.0,
        "{name} at {width} px is {height} px tall"
    );
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
                // The driver and its catalog, in one upload (chromedriver takes several
                // files one a line).
                let files = wait_for(&client, "input#files").await;
                files
                    .send_keys(&format!("{DRIVER_FIXTURE}\n{CATALOG_FIXTURE}"))
                    .await
                    .unwrap();
                let form = client.form(Locator::Css("form.upload")).await.unwrap();
                form.submit().await.unwrap();
                let result = wait_for(&client, "#upload-result").await.text().await.unwrap();
                assert!(
                    result.contains("catalog-signed by Poolsleuth Test Publisher (test.cat)"),
                    "{result}"
                );
                fits_and_photograph(&client, "upload", size).await;

                // An analysis of a series, with both charts.
                client.goto(&format!("{base}/analyze")).await.unwrap();
                submit_paste(&client, SERIES).await;
                wait_for(&client, "svg#growth-chart").await;
                // Bars biggest first; each line's colour is its legend key's.
                let widths = script(
                    &client,
                    "return [...document.querySelectorAll('#tag-chart rect')].map(r => r.getBBox().width);",
                )
                .await;
                let widths: Vec<f64> = serde_json::from_value(widths).unwrap();
                assert!(widths.windows(2).all(|w| w[0] >= w[1]), "bars by size: {widths:?}");
                chart_colours_mean_one_thing(&client).await;
                let x_labels = script(
                    &client,
                    "return [...document.querySelectorAll('#growth-chart text.x-label')].map(t => t.textContent);",
                )
                .await;
                assert_eq!(x_labels, json!(["2026-11-01 10:00", "11:00", "12:00"]));
                fits_and_photograph(&client, "analyze", size).await;

                // A small fleet: web-1 leaks until a driver update, web-2 is flat.
                if size.0 == 390 {
                    push_fleet(&base).await;
                }
                client.goto(&format!("{base}/hosts")).await.unwrap();
                let rows = count(&client, "#hosts tbody tr").await;
                assert_eq!(rows, 2, "one row per host");
                assert_eq!(count(&client, "#hosts svg.sparkline").await, 2);
                client.goto(&format!("{base}/hosts/web-1")).await.unwrap();
                wait_for(&client, "svg#host-chart").await;
                assert_eq!(count(&client, "#host-chart line.driver-change").await, 1);
                let timeline = wait_for(&client, "#host-timeline").await.text().await.unwrap();
                assert!(timeline.contains("dkfilter.sys 12.0.1.2 → 12.2.0.5"), "{timeline}");
                // The tag is unknown: the way to send the drivers, for this server, not the
                // stored answer's run-on sentence with a placeholder server.
                let upload = wait_for(&client, "#host-upload").await;
                let link = upload.find(Locator::Css("a.upload-link")).await.unwrap();
                assert_eq!(link.attr("href").await.unwrap().as_deref(), Some("/upload"));
                let exe = wait_for(&client, "#host-upload-exe").await.text().await.unwrap();
                assert_eq!(
                    exe,
                    format!("poolsleuth.exe scan C:\\Windows\\System32\\drivers --server {base} --token YOUR-ADMIN-TOKEN")
                );
                let page = client.source().await.unwrap();
                assert!(!page.contains("POOLSLEUTH-SERVER"), "a placeholder server on the host page");
                for (name, path) in [
                    ("hosts", "/hosts"),
                    ("host", "/hosts/web-1"),
                    ("home", "/"),
                    ("tag", "/tags/Cont"),
                    // The file uploaded as patterns_x64_O2.sys is named by its version
                    // resource (OriginalFilename patterns.sys).
                    ("driver", "/drivers/patterns.sys"),
                    ("sources", "/sources"),
                    ("search", "/?q=Mm*"),
                    ("search-driver", "/?q=patterns.sys"),
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

/// Pushes two hosts' samples, an hour apart: `LkaL` on web-1 grows under dkfilter.sys
/// 12.0.1.2 and stops after the update to 12.2.0.5; web-2 stays flat.
async fn push_fleet(base: &str) {
    let client = reqwest::Client::new();
    for (host, grows) in [("web-1", true), ("web-2", false)] {
        for h in 0..8u64 {
            let updated = h >= 4;
            let leak = if grows && !updated {
                50_000_000 + h * 4_000_000
            } else {
                66_000_000
            };
            let screen = format!(
                " Tag  Type     Allocs      Frees     Diff   Bytes  Per Alloc\n LkaL Nonp  5000 10 4990 {leak} 16416\n File Nonp  25376177  25200767  175410  70145152  399\n"
            );
            let version = if updated || !grows {
                "12.2.0.5"
            } else {
                "12.0.1.2"
            };
            let drivers = format!(
                "\"Name\",\"DisplayName\",\"State\",\"PathName\",\"FileVersion\"\r\n\"dkfilter\",\"DK\",\"Running\",\"C:\\Windows\\system32\\drivers\\dkfilter.sys\",\"{version}\"\r\n"
            );
            let form = reqwest::multipart::Form::new()
                .text("snapshot", screen)
                .text("drivers", drivers);
            let taken = format!("2026-11-01T{:02}:00:00Z", 10 + h);
            let response = client
                .post(format!("{base}/api/v1/hosts/{host}/snapshots"))
                .query(&[("taken_at", taken)])
                .bearer_auth(TOKEN)
                .multipart(form)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 201);
        }
    }
}

// --- What an answer says, once, and the lists that fold ---------------------------------------

/// Two poolmon screens an hour apart: `Leak` (a listed third-party driver's) grows, `File`
/// (Windows') does not, `Zq9x` (nobody's) is small.
const LEAK_SERIES: &str = "Sun 11/01/2026 10:00:00.00\n\n Tag  Type     Allocs         Frees    Diff   Bytes    Per Alloc\n\n Leak Nonp      50000      1000    49000  401408000       8192\n File Nonp   25376177  25200767  175410  70145152        399\n Zq9x Nonp        100        10       90     92160       1024\n\nSun 11/01/2026 11:00:00.00\n\n Tag  Type     Allocs         Frees    Diff   Bytes    Per Alloc\n\n Leak Nonp      60000      1000    59000  483328000       8192\n File Nonp   25476177  25300767  175410  70145152        399\n Zq9x Nonp        100        10       90     92160       1024\n";

/// A list naming 300 tags for one driver, as the WDK's list does for ntfs.sys and others.
fn big_driver_list() -> String {
    let mut list = String::from("tag,driver,description,vendor\n");
    for i in 0..300 {
        list.push_str(&format!(
            "B{i:03},bigdrv.sys,Big driver structure number {i},Contoso\n"
        ));
    }
    list
}

#[tokio::test]
async fn answers_say_things_once_link_the_upload_page_and_long_lists_fold() {
    if !browser_installed() {
        return;
    }
    let _slot = BROWSER_SLOT.lock().await;
    let harness = Harness::start().await;
    for (name, list) in [("contoso", KB.to_owned()), ("big", big_driver_list())] {
        let (status, report) = harness.app.import(name, list).await;
        assert_eq!(status, 200, "{report}");
    }
    harness
        .run(|client, base| async move {
            for size in [(390, 844), (1280, 900)] {
                client.set_window_size(size.0, size.1).await.unwrap();

                // A third-party leak: the answer, the suspects as headings, nothing twice.
                client.goto(&format!("{base}/analyze")).await.unwrap();
                submit_paste(&client, LEAK_SERIES).await;
                wait_for(&client, "ol#suspects").await;
                let headings = script(
                    &client,
                    "return [...document.querySelectorAll('#suspects li.suspect')].map(li => { const h = li.querySelector('h3'); return h ? h.textContent : null; });",
                )
                .await;
                let headings = headings.as_array().unwrap();
                assert!(!headings.is_empty());
                assert!(
                    headings.iter().all(|h| h.is_string()),
                    "every suspect's name is a heading: {headings:?}"
                );
                assert!(headings[0].as_str().unwrap().contains("leaky.sys"), "{headings:?}");
                // The answer's sentence is said once on the page.
                let said = script(
                    &client,
                    "const headline = document.querySelector('#answer .answer-headline').textContent.trim();
                     return [headline, document.body.innerText.split(headline).length - 1];",
                )
                .await;
                assert_eq!(said[1], json!(1), "the answer is repeated: {}", said[0]);
                chart_colours_mean_one_thing(&client).await;
                fits_and_photograph(&client, "analyze-suspects", size).await;

                // A driver with 300 tags: folded, with the count, so the page stays short.
                client.goto(&format!("{base}/drivers/bigdrv.sys")).await.unwrap();
                let summary = wait_for(&client, "details#driver-tags summary")
                    .await
                    .text()
                    .await
                    .unwrap();
                assert!(summary.contains("300"), "{summary}");
                let height = script(&client, "return document.documentElement.scrollHeight;").await;
                assert!(
                    height.as_f64().unwrap() < 3_000.0,
                    "the driver page is {height} px tall at {} px",
                    size.0
                );
                fits_and_photograph(&client, "driver-300-tags", size).await;

                // A tag nobody knows: its search and its page give the same steps, with the
                // Upload drivers page linked and commands that carry the server and a token.
                let mut steps = Vec::new();
                for (name, path) in [("search-unknown", "/?q=Zq9x"), ("tag-unknown", "/tags/Zq9x")] {
                    client.goto(&format!("{base}{path}")).await.unwrap();
                    let list = wait_for(&client, "ol#next-steps").await;
                    let title = client.title().await.unwrap();
                    assert!(!title.starts_with("Not Found"), "{path}: {title}");
                    let link = list
                        .find(Locator::Css("a.upload-link"))
                        .await
                        .unwrap()
                        .attr("href")
                        .await
                        .unwrap();
                    assert_eq!(link.as_deref(), Some("/upload"), "{path}");
                    let text = list.text().await.unwrap();
                    assert!(
                        text.contains(&format!("poolsleuth scan ./drivers --server {base} --token YOUR-ADMIN-TOKEN")),
                        "{path}: {text}"
                    );
                    assert!(text.contains(&format!("{base}/api/v1/drivers")), "{path}: {text}");
                    steps.push(text);
                    fits_and_photograph(&client, name, size).await;
                }
                assert_eq!(steps[0], steps[1], "the tag's page and its search differ");
            }
        })
        .await;
}

#[tokio::test]
async fn an_unknown_top_tag_links_the_upload_page_in_the_answer() {
    if !browser_installed() {
        return;
    }
    let _slot = BROWSER_SLOT.lock().await;
    let harness = Harness::start().await;
    harness
        .run(|client, base| async move {
            client.goto(&format!("{base}/analyze")).await.unwrap();
            // Before any answer, the form shows the driver-list command itself.
            let command = wait_for(&client, "pre#driver-list-command")
                .await
                .text()
                .await
                .unwrap();
            assert!(
                command.starts_with("Get-CimInstance Win32_SystemDriver"),
                "{command}"
            );
            submit_paste(&client, SERIES).await;
            let action = wait_for(&client, "#answer dd.answer-action").await;
            let link = action
                .find(Locator::Css("a.upload-link"))
                .await
                .unwrap()
                .attr("href")
                .await
                .unwrap();
            assert_eq!(link.as_deref(), Some("/upload"));
            let text = action.text().await.unwrap();
            assert!(
                text.contains(&format!(
                    "poolsleuth scan ./drivers --server {base} --token YOUR-ADMIN-TOKEN"
                )),
                "{text}"
            );
            // poolsleuth.exe on the leaking machine, with the server and the token's place.
            assert!(
                text.contains(&format!(
                    "poolsleuth.exe scan C:\\Windows\\System32\\drivers --server {base} --token YOUR-ADMIN-TOKEN"
                )),
                "{text}"
            );
            // The ways are shown once.
            assert_eq!(count(&client, "a.upload-link").await, 1);
        })
        .await;
}
