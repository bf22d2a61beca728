//! The first hour of a new user in a terminal: `poolsleuth analyze` says which knowledge base
//! it answers from and never makes a data directory, errors name the file and say what to do,
//! and answers are plain text and newline-terminated for the shell. The real binary and the
//! real server.

mod common;
mod driver_support;

use std::path::Path;
use std::process::{Command, Output};

use common::{TOKEN, spawn_app};

const SNAPSHOT: &str = " Tag  Type     Allocs      Frees     Diff   Bytes    Per Alloc\n Zqx1 Nonp      50000       1000    49000  401408000       8192\n File Nonp   25376177   25200767   175410   70145152        399\n";
const LIST: &str = "tag,driver,description,vendor\nZqx1,zqx.sys,Zqx request buffers,Contoso\n";

/// `poolsleuth ARGS` in `cwd`, with none of the settings a user's shell might carry.
fn poolsleuth(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_poolsleuth"))
        .current_dir(cwd)
        .args(args)
        .env_remove("POOLSLEUTH_SERVER")
        .env_remove("POOLSLEUTH_DATA_DIR")
        .env_remove("POOLSLEUTH_ADMIN_TOKEN")
        .env_remove("NO_COLOR")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A server (on its own data dir) whose list knows `Zqx1`, and a working directory holding a
/// snapshot where `Zqx1` leaks.
async fn server_knowing_zqx_and_a_snapshot()
-> (tempfile::TempDir, common::TestApp, tempfile::TempDir) {
    let data = tempfile::tempdir().unwrap();
    let app = spawn_app(data.path(), Some(TOKEN)).await;
    let (status, report) = app.import("contoso", LIST).await;
    assert_eq!(status, 200, "{report}");
    let cwd = tempfile::tempdir().unwrap();
    std::fs::write(cwd.path().join("snap.txt"), SNAPSHOT).unwrap();
    (data, app, cwd)
}

#[test]
fn analyze_without_a_data_dir_says_what_it_answers_from_and_makes_none() {
    let cwd = tempfile::tempdir().unwrap();
    std::fs::write(cwd.path().join("snap.txt"), SNAPSHOT).unwrap();
    let output = poolsleuth(cwd.path(), &["analyze", "snap.txt"], &[]);
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert!(output.status.success(), "{stderr}");
    assert!(stdout.contains("Zqx1"), "{stdout}");
    assert!(
        stderr.contains("poolsleuth-data (relative to the working directory)")
            && stderr.contains("starter lists")
            && stderr.contains(" entries")
            && stderr.contains("POOLSLEUTH_SERVER"),
        "{stderr}"
    );
    let left: Vec<_> = std::fs::read_dir(cwd.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["snap.txt"], "a read-only analysis made a directory");
    // Output to a pipe carries no terminal colour codes.
    assert!(
        !stdout.contains('\x1b') && !stderr.contains('\x1b'),
        "{stderr}"
    );
}

#[test]
fn logs_to_a_pipe_or_with_no_color_have_no_colour_codes() {
    let cwd = tempfile::tempdir().unwrap();
    std::fs::write(cwd.path().join("list.csv"), LIST).unwrap();
    // An import into a new data dir logs the seeding of the starter lists.
    for env in [&[][..], &[("NO_COLOR", "1")][..]] {
        let data = cwd.path().join(format!("data-{}", env.len()));
        let data = data.to_str().unwrap();
        let output = poolsleuth(cwd.path(), &["import", "list.csv", "--data-dir", data], env);
        let stderr = text(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        assert!(stderr.contains("seeded"), "the log is there: {stderr}");
        assert!(!stderr.contains('\x1b'), "colour codes: {stderr:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analyze_asks_the_server_in_poolsleuth_server_and_refuses_a_data_dir_it_holds() {
    let (data, app, cwd) = server_knowing_zqx_and_a_snapshot().await;

    // Only the server knows zqx.sys: the answer names it.
    let output = tokio::task::block_in_place(|| {
        poolsleuth(
            cwd.path(),
            &["analyze", "snap.txt"],
            &[("POOLSLEUTH_SERVER", &app.base)],
        )
    });
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(stdout.contains("zqx.sys"), "{stdout}");
    assert!(!cwd.path().join("poolsleuth-data").exists());

    // A file the server cannot read is named as a local run names it, text or JSON.
    std::fs::write(cwd.path().join("bad.txt"), "no numbers here\n").unwrap();
    for json in [false, true] {
        let args: &[&str] = if json {
            &["analyze", "bad.txt", "--json"]
        } else {
            &["analyze", "bad.txt"]
        };
        let output = tokio::task::block_in_place(|| {
            poolsleuth(cwd.path(), args, &[("POOLSLEUTH_SERVER", &app.base)])
        });
        let stderr = text(&output.stderr);
        assert!(!output.status.success());
        assert!(stderr.starts_with("error: bad.txt: line 1: "), "{stderr}");
    }

    // The server's own data dir, read locally while it runs: refused, with the way through it.
    let data_dir = data.path().to_str().unwrap();
    let output = tokio::task::block_in_place(|| {
        poolsleuth(
            cwd.path(),
            &["analyze", "snap.txt", "--data-dir", data_dir],
            &[],
        )
    });
    let stderr = text(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("held by a running poolsleuth server")
            && stderr.contains("use --server URL")
            && stderr.contains("no token"),
        "{stderr}"
    );
    app.stop().await;

    // Once the server is gone the same data dir answers, and says so.
    let output = poolsleuth(
        cwd.path(),
        &["analyze", "snap.txt", "--data-dir", data_dir],
        &[],
    );
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert!(output.status.success(), "{stderr}");
    assert!(stdout.contains("zqx.sys"), "{stdout}");
    assert!(
        stderr.contains(&format!("knowledge base at {data_dir} (")),
        "{stderr}"
    );
}

#[test]
fn errors_name_the_file_and_say_what_to_run() {
    let cwd = tempfile::tempdir().unwrap();
    std::fs::write(cwd.path().join("snap.txt"), "hello\nno numbers here\n").unwrap();
    let output = poolsleuth(cwd.path(), &["analyze", "snap.txt"], &[]);
    let stderr = text(&output.stderr);
    assert!(!output.status.success());
    // The note on which knowledge base answers may come first; the error names the file.
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("error: snap.txt: line 1: ")),
        "{stderr}"
    );

    let driver = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/drivers/patterns_x64_O2.sys"
    );
    std::fs::copy(driver, cwd.path().join("acme.sys")).unwrap();
    let output = poolsleuth(cwd.path(), &["analyze", "acme.sys"], &[]);
    let stderr = text(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("acme.sys: this is a driver: use poolsleuth scan acme.sys"),
        "{stderr}"
    );
    // Analyzing through a server, the scan it says to run goes to that server.
    let output = poolsleuth(
        cwd.path(),
        &["analyze", "acme.sys", "--server", "http://10.0.0.5:8080"],
        &[],
    );
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(
            "use poolsleuth scan acme.sys --server http://10.0.0.5:8080 --token YOUR-ADMIN-TOKEN to"
        ),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_is_said_in_words() {
    let data = tempfile::tempdir().unwrap();
    let app = spawn_app(data.path(), Some(TOKEN)).await;
    let cwd = tempfile::tempdir().unwrap();
    std::fs::write(cwd.path().join("list.csv"), LIST).unwrap();
    let output = tokio::task::block_in_place(|| {
        poolsleuth(
            cwd.path(),
            &[
                "import", "list.csv", "--server", &app.base, "--token", "wrong",
            ],
            &[],
        )
    });
    let stderr = text(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("the server refused the token"), "{stderr}");
    assert!(!stderr.contains("Bearer"), "{stderr}");
    app.stop().await;
}

#[tokio::test]
async fn answers_end_with_a_newline_and_text_errors_are_text() {
    let data = tempfile::tempdir().unwrap();
    let app = spawn_app(data.path(), Some(TOKEN)).await;
    let post = |query: &'static str, body: &'static str| {
        app.client
            .post(app.url(&format!("/api/v1/analyze{query}")))
            .body(body)
            .send()
    };

    let response = post("", SNAPSHOT).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().ends_with("}\n"));
    for path in [
        "/api/v1/lists",
        "/api/v1/tags/Cont",
        "/api/v1/tags/Zz%C3%A9%C3%A9%C3%A9",
    ] {
        let body = app.get(path).await.text().await.unwrap();
        assert!(
            body.ends_with("}\n") || body.ends_with("]\n"),
            "{path}: {body}"
        );
    }

    // Asked for text, an error is text too.
    let response = post("?output=text", "no numbers at all\n").await.unwrap();
    assert_eq!(response.status(), 422);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let body = response.text().await.unwrap();
    assert!(
        body.starts_with("error: line 1: ") && body.ends_with('\n'),
        "{body}"
    );
    // Without it, JSON.
    let response = post("", "no numbers at all\n").await.unwrap();
    assert_eq!(response.status(), 422);
    let error: serde_json::Value = response.json().await.unwrap();
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("line 1: ")
    );
    app.stop().await;
}

#[tokio::test]
async fn the_upload_form_remembers_the_token_for_the_browser_session() {
    use reqwest::multipart::{Form, Part};
    let data = tempfile::tempdir().unwrap();
    let app = spawn_app(data.path(), Some(TOKEN)).await;
    let driver = driver_support::read_fixture("patterns_x64_O2.sys");
    let form = |token: &str| {
        Form::new().text("token", token.to_owned()).part(
            "files",
            Part::bytes(driver.clone()).file_name("patterns.sys"),
        )
    };
    let upload = |token: &str, cookie: Option<&str>, https: bool| {
        let mut request = app.client.post(app.url("/upload")).multipart(form(token));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        if https {
            request = request.header("x-forwarded-proto", "https");
        }
        request.send()
    };

    let response = upload(TOKEN, None, false).await.unwrap();
    assert_eq!(response.status(), 200);
    let set_cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    let attributes: Vec<&str> = set_cookie.split("; ").collect();
    assert!(attributes.contains(&"HttpOnly"), "{set_cookie}");
    assert!(attributes.contains(&"SameSite=Strict"), "{set_cookie}");
    assert!(!attributes.contains(&"Secure"), "plain http: {set_cookie}");
    assert!(
        !attributes
            .iter()
            .any(|a| a.starts_with("Max-Age") || a.starts_with("Expires")),
        "a session cookie: {set_cookie}"
    );
    assert!(
        !set_cookie.contains(TOKEN),
        "the cookie holds a digest, not the token"
    );
    let cookie = attributes[0].to_owned();

    // The form now says so, and an upload with the cookie alone goes through.
    let page = app
        .client
        .get(app.url("/upload"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"token-remembered\""), "{page}");
    let response = upload("", Some(&cookie), false).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.text().await.unwrap().contains("1 already known"),
        "the upload was accepted"
    );

    // A made-up cookie is not the token.
    let forged = format!("{}={}", cookie.split('=').next().unwrap(), "0".repeat(64));
    let response = upload("", Some(&forged), false).await.unwrap();
    assert_eq!(response.status(), 401);
    let page = response.text().await.unwrap();
    assert!(page.contains("the server refused the token"), "{page}");
    assert!(!page.contains("Bearer"), "{page}");

    // Behind an https proxy the cookie never travels over plain http.
    let response = upload(TOKEN, None, true).await.unwrap();
    let set_cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        set_cookie.split("; ").any(|a| a == "Secure"),
        "{set_cookie}"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_analyze_page_speaks_of_its_form_not_of_request_bodies() {
    use reqwest::multipart::Form;
    let data = tempfile::tempdir().unwrap();
    let app = spawn_app(data.path(), Some(TOKEN)).await;
    let (status, page) = app.analyze_page(Form::new().text("text", "  \n")).await;
    assert_eq!(status, 400);
    let error = page
        .split("id=\"analyze-error\">")
        .nth(1)
        .and_then(|rest| rest.split("</p>").next())
        .expect("an error on the page");
    assert!(error.contains("paste a snapshot into the box"), "{error}");
    for jargon in ["multipart", "part", "body"] {
        assert!(!error.contains(jargon), "{jargon}: {error}");
    }
    app.stop().await;
}

#[tokio::test]
async fn an_analyzed_driver_is_named_by_file_not_by_hash() {
    use reqwest::multipart::Form;
    let data = tempfile::tempdir().unwrap();
    let app = spawn_app(data.path(), Some(TOKEN)).await;
    let driver = driver_support::read_fixture("patterns_x64_O2.sys");
    let (status, report) = app.upload_drivers(&[("patterns.sys", driver)]).await;
    assert_eq!(status, 201, "{report}");
    let sha256 = report["files"][0]["analysis"]["sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    let short = format!(" · {}…</a>", &sha256[..7]);

    // `Dir1` is allocated at a call site of patterns.sys.
    let snapshot = " Tag  Type     Allocs      Frees     Diff   Bytes    Per Alloc\n Dir1 Nonp      50000       1000    49000  401408000       8192\n";
    let (_, page) = app.analyze_page(Form::new().text("text", snapshot)).await;
    let tag_page = app.get("/tags/Dir1").await.text().await.unwrap();
    for (name, html) in [("/analyze", &page), ("/tags/Dir1", &tag_page)] {
        // `patterns.sys · d9c5b60…`, with the version when the row has one.
        let link = format!("href=\"/drivers/patterns.sys\" title=\"driver:{sha256}\">patterns.sys");
        let label = html
            .split(link.as_str())
            .nth(1)
            .and_then(|rest| rest.split_once("</a>"))
            .map(|(label, _)| format!("{label}</a>"));
        assert!(
            label
                .as_deref()
                .is_some_and(|l| l.ends_with(&short) && l.len() < 60),
            "{name}: {label:?} in {html}"
        );
        assert!(
            !html.contains(&format!(">driver:{sha256}")),
            "{name} shows the hash as text"
        );
    }
    app.stop().await;
}

// --- Issue 26, item 8: the command line as a newcomer meets it ---------------------------------

#[test]
fn help_wraps_to_the_terminal_and_says_what_each_command_does() {
    let cwd = tempfile::tempdir().unwrap();
    for args in [
        &["--help"][..],
        &["analyze", "--help"],
        &["serve", "--help"],
        &["import", "--help"],
        &["export", "--help"],
        &["scan", "--help"],
    ] {
        let output = poolsleuth(cwd.path(), args, &[("COLUMNS", "80")]);
        let stdout = text(&output.stdout);
        assert!(
            output.status.success(),
            "{args:?}: {}",
            text(&output.stderr)
        );
        for line in stdout.lines() {
            assert!(
                line.chars().count() <= 80,
                "{args:?} at 80 columns: {} columns: {line:?}",
                line.chars().count()
            );
        }
    }
    let help = text(&poolsleuth(cwd.path(), &["--help"], &[("COLUMNS", "100")]).stdout);
    assert!(
        help.contains("Which driver is leaking kernel pool memory"),
        "{help}"
    );
    for what in [
        "web service",
        "tag list",
        "Name the driver behind a kernel pool leak",
        "pool tags driver files",
    ] {
        assert!(help.contains(what), "--help does not say {what:?}: {help}");
    }
    // analyze never makes a data dir, and its help says so (README says the same).
    let help = text(&poolsleuth(cwd.path(), &["analyze", "--help"], &[("COLUMNS", "100")]).stdout);
    assert!(!help.contains("created and seeded"), "{help}");
    assert!(help.contains("never made by this command"), "{help}");
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    assert!(readme.contains("never make a data directory"));
}

#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    let cwd = tempfile::tempdir().unwrap();
    // `poolsleuth export poolsleuth-community | head -2`: the list is far larger than a pipe
    // holds, so the export is still writing when the reader goes away.
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "'{}' export poolsleuth-community | head -2",
            env!("CARGO_BIN_EXE_poolsleuth")
        ))
        .current_dir(cwd.path())
        .env_remove("POOLSLEUTH_SERVER")
        .env_remove("POOLSLEUTH_DATA_DIR")
        .output()
        .unwrap();
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert!(stdout.starts_with("tag,driver,"), "{stdout}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("Broken pipe"), "{stderr}");
    // The exporting process itself, with its standard output closed early.
    let mut child = Command::new(env!("CARGO_BIN_EXE_poolsleuth"))
        .args(["export", "poolsleuth-community"])
        .current_dir(cwd.path())
        .env_remove("POOLSLEUTH_SERVER")
        .env_remove("POOLSLEUTH_DATA_DIR")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Read;
        let mut first = [0u8; 64];
        child.stdout.take().unwrap().read_exact(&mut first).unwrap();
        // The reader goes away here.
    }
    let output = child.wait_with_output().unwrap();
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "{:?}: {stderr}", output.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn no_command_makes_a_data_dir_without_saying_so() {
    let cwd = tempfile::tempdir().unwrap();
    // export only reads: without a data dir the starter lists answer, and none is made.
    let output = poolsleuth(cwd.path(), &["export", "poolsleuth-default"], &[]);
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert!(output.status.success(), "{stderr}");
    assert!(stdout.starts_with("tag,driver,"), "{stdout}");
    assert!(stderr.contains("starter lists"), "{stderr}");
    assert!(
        !cwd.path().join("poolsleuth-data").exists(),
        "export made a data directory"
    );
    let output = poolsleuth(cwd.path(), &["export", "wdk"], &[]);
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("no source named \"wdk\" in the starter lists"),
        "{}",
        text(&output.stderr)
    );
    // import writes: it makes one, and says where.
    std::fs::write(cwd.path().join("list.csv"), LIST).unwrap();
    let output = poolsleuth(cwd.path(), &["import", "list.csv"], &[]);
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "made a new knowledge base at poolsleuth-data (relative to the working directory)"
        ),
        "{stderr}"
    );
    // The second time there is nothing to say.
    let output = poolsleuth(cwd.path(), &["import", "list.csv"], &[]);
    assert!(!text(&output.stderr).contains("made a new knowledge base"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_a_scheme_is_http_and_a_held_data_dir_says_what_to_do() {
    let (data, app, cwd) = server_knowing_zqx_and_a_snapshot().await;
    std::fs::write(cwd.path().join("list.csv"), LIST).unwrap();
    let address = app.addr().to_owned();

    // `--server 127.0.0.1:PORT`: http:// is meant.
    for (args, said) in [
        (
            &["analyze", "snap.txt", "--server", &address][..],
            "zqx.sys",
        ),
        (
            &["export", "contoso", "--server", &address],
            "\"Zqx1\",zqx.sys",
        ),
        (
            &["import", "list.csv", "--server", &address, "--token", TOKEN],
            "1 imported",
        ),
    ] {
        let output = tokio::task::block_in_place(|| poolsleuth(cwd.path(), args, &[]));
        let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
        assert!(output.status.success(), "{args:?}: {stderr}");
        assert!(!stderr.contains("relative URL"), "{stderr}");
        assert!(stdout.contains(said), "{args:?}: {stdout}");
    }

    // Each command that meets the server's data dir says what to do instead, for itself.
    let data_dir = data.path().to_str().unwrap();
    let driver = cwd.path().join("acme.sys");
    std::fs::write(&driver, driver_support::read_fixture("patterns_x64_O2.sys")).unwrap();
    let driver = driver.to_str().unwrap();
    for (args, advice) in [
        (
            &["import", "list.csv", "--data-dir", data_dir][..],
            "poolsleuth import FILE --server URL --token TOKEN",
        ),
        (
            &["scan", driver, "--quiet", "--data-dir", data_dir],
            "poolsleuth scan PATH --server URL --token TOKEN",
        ),
        (
            &["export", "contoso", "--data-dir", data_dir],
            "export from it with --server URL (no token needed)",
        ),
    ] {
        let output = tokio::task::block_in_place(|| poolsleuth(cwd.path(), args, &[]));
        let stderr = text(&output.stderr);
        assert!(!output.status.success(), "{args:?}");
        assert!(stderr.contains(advice), "{args:?}: {stderr}");
    }
    app.stop().await;
}

#[test]
fn a_tag_of_22_kib_that_barely_grows_is_weak_evidence() {
    let cwd = tempfile::tempdir().unwrap();
    let frame = |bytes: u64, allocs: u64| {
        format!(
            " Tag  Type     Allocs      Frees     Diff   Bytes    Per Alloc\n Zqx9 Nonp   {allocs:>8}       1000  {:>7}  {bytes:>9}     1024\n",
            allocs - 1000
        )
    };
    std::fs::write(cwd.path().join("before.txt"), frame(20_480, 1_020)).unwrap();
    std::fs::write(cwd.path().join("after.txt"), frame(22_426, 1_021 + 1)).unwrap();
    let output = poolsleuth(
        cwd.path(),
        &["analyze", "before.txt", "after.txt", "--json"],
        &[],
    );
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let analysis: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(analysis["findings"][0]["tag"], "Zqx9", "{analysis:#}");
    assert!(analysis["findings"][0]["score"].as_f64().unwrap() < 0.001);
    assert_eq!(
        analysis["answer"]["confidence"], "weak",
        "{:#}",
        analysis["answer"]
    );
    assert_eq!(analysis["verdict_strength"], "weak");
    assert!(
        analysis["answer"]["confidence_reason"]
            .as_str()
            .unwrap()
            .contains("too little"),
        "{:#}",
        analysis["answer"]
    );
}

/// Issue 26: every "not a snapshot" promise kept. A tag list, the PowerShell driver list,
/// driverquery output, a driver binary and a KMDF log each get a 422 naming what they are and
/// where they go, from the API, the page (with a link to that place) and the command line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inputs_that_are_no_snapshot_are_named_with_where_they_go() {
    let fixture = |path: &str| {
        std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures")
                .join(path),
        )
        .unwrap()
    };
    // (fixture, what the answer calls it, where it says it goes, the page's link).
    let cases: [(&str, &str, &str, &str, Option<&str>); 5] = [
        (
            "not_snapshots/tag-list.txt",
            "tag-list",
            "this is a tag list",
            "/api/v1/lists",
            Some("/sources#import"),
        ),
        (
            "driver_lists/powershell-versions.csv",
            "driver-list",
            "this is the loaded-driver list (the PowerShell list with file versions)",
            "--drivers",
            Some("#driver-list"),
        ),
        (
            "driver_lists/driverquery-french.csv",
            "driver-list",
            "this is the loaded-driver list (driverquery output)",
            "-F drivers=@",
            Some("#driver-list"),
        ),
        (
            "drivers/patterns_x64_O2.sys",
            "driver-file",
            "this is a driver file",
            "(/upload)",
            Some("/upload"),
        ),
        (
            "not_snapshots/kmdf-ifr.txt",
            "kmdf-log",
            "this is a KMDF in-flight recorder log",
            "poolmon -b -n",
            None,
        ),
    ];
    let data = tempfile::tempdir().unwrap();
    let app = spawn_app(data.path(), Some(TOKEN)).await;
    for (path, input, what, goes, link) in cases {
        let bytes = fixture(path);
        // The API, as `curl --data-binary @FILE`.
        let (status, error) = app.analyze(bytes.clone()).await;
        assert_eq!(status, 422, "{path}: {error}");
        assert_eq!(error["error"]["code"], "not_a_snapshot", "{path}: {error}");
        assert_eq!(error["error"]["input"], input, "{path}: {error}");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(what), "{path}: {message}");
        assert!(message.contains(goes), "{path}: {message}");
        // The page, with the file chosen as a snapshot: the error, and a link to its place.
        let form = reqwest::multipart::Form::new().part(
            "snapshots",
            reqwest::multipart::Part::bytes(bytes.clone()).file_name("chosen.txt"),
        );
        let (status, html) = app.analyze_page(form).await;
        assert_eq!(status, 422, "{path}");
        let error_part = html
            .split("id=\"analyze-error\"")
            .nth(1)
            .and_then(|rest| rest.split("</p>").next())
            .unwrap_or_else(|| panic!("{path}: no error on the page: {html}"));
        assert!(error_part.contains(what), "{path}: {error_part}");
        match link {
            Some(href) => assert!(
                error_part.contains(&format!("id=\"analyze-error-link\" href=\"{href}\"")),
                "{path}: {error_part}"
            ),
            None => assert!(!error_part.contains("<a "), "{path}: {error_part}"),
        }
        // The command line, on the local (embedded) knowledge base.
        let cwd = tempfile::tempdir().unwrap();
        let name = Path::new(path).file_name().unwrap().to_str().unwrap();
        std::fs::write(cwd.path().join(name), &bytes).unwrap();
        let output = poolsleuth(cwd.path(), &["analyze", name], &[]);
        assert!(!output.status.success(), "{path}");
        let stderr = text(&output.stderr);
        let said = if input == "driver-file" {
            // The command line names the command for a driver file itself.
            format!("{name}: this is a driver: use poolsleuth scan {name}")
        } else {
            what.to_owned()
        };
        assert!(stderr.contains(&said), "{path}: {stderr}");
    }
    // Microsoft's own lists, every edition of them.
    for edition in ["pooltag.txt", "pooltag-older.txt", "pooltag-2003.txt"] {
        let Some(list) = common::corpus_file(&format!("pooltag/{edition}")) else {
            continue;
        };
        let (status, error) = app.analyze(std::fs::read(list).unwrap()).await;
        assert_eq!(status, 422, "{edition}: {error}");
        assert_eq!(error["error"]["input"], "tag-list", "{edition}: {error}");
    }
    // Where the tag list's link leads: the import instructions.
    let sources = app.get("/sources").await.text().await.unwrap();
    assert!(sources.contains("id=\"import\""), "{sources}");
    app.stop().await;
}

/// `collect` reads a Windows kernel's pool: elsewhere it says so, writes nothing, and fails.
#[cfg(not(windows))]
#[test]
fn collect_off_windows_says_it_runs_on_windows_only() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("samples");
    let output = poolsleuth(
        dir.path(),
        &["collect", "--out", out.to_str().unwrap()],
        &[],
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("runs on Windows only"), "{stderr}");
    assert!(stderr.contains("poolsleuth.exe collect"), "{stderr}");
    assert!(!out.exists(), "nothing is written");
    // Nor does it print a Windows task command here.
    let output = poolsleuth(
        dir.path(),
        &["collect", "--out", "C:\\samples", "--install-task"],
        &[],
    );
    assert!(!output.status.success());
    assert!(output.stdout.is_empty());
    assert!(String::from_utf8_lossy(&output.stderr).contains("runs on Windows only"));
    // Neither --out nor --server: clap says what is missing.
    let output = poolsleuth(dir.path(), &["collect"], &[]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--out"));
    // Fleet ingest: a host name the server would refuse is refused here first, and the
    // ingest needs a token.
    let output = poolsleuth(
        dir.path(),
        &[
            "collect",
            "--host",
            "web 01",
            "--server",
            "http://127.0.0.1:9",
        ],
        &[],
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("\"web 01\" is not a host name"), "{stderr}");
    let output = poolsleuth(
        dir.path(),
        &[
            "collect",
            "--host",
            "web-01",
            "--server",
            "http://127.0.0.1:9",
        ],
        &[],
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("needs a token"), "{stderr}");
}

/// `serve --alert-webhook` takes an http(s) URL and says so of anything else.
#[test]
fn an_alert_webhook_that_is_no_http_url_is_refused_with_what_to_give() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["ftp://chat.example.org/hook", "chat.example.org/hooks/abc"] {
        let output = poolsleuth(
            dir.path(),
            &["serve", "--bind", "127.0.0.1:0", "--alert-webhook", bad],
            &[],
        );
        assert!(!output.status.success(), "{bad}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("is not a webhook URL"), "{bad}: {stderr}");
        assert!(stderr.contains("--alert-webhook"), "{bad}: {stderr}");
    }
    let output = poolsleuth(
        dir.path(),
        &[
            "serve",
            "--alert-webhook",
            "https://chat.example.org/hooks/abc",
            "--alert-every",
            "5x",
        ],
        &[],
    );
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--alert-every"));
    assert!(
        !dir.path().join("poolsleuth-data").exists(),
        "nothing started"
    );
}
