//! README's "Fleet watch" commands, as printed: the `curl.exe` lines run here as `curl` with
//! only their Windows parts replaced (the host name, the server, the files poolmon and
//! PowerShell write), and the request they make checked at a local receiver and at the
//! real server (once it has fleet ingest); the `schtasks` lines and the `poolsleuth.exe`
//! lines checked for their shape, the latter by running them here.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use common::ingest_receiver::{Receiver, start_receiver};
use common::{TOKEN, spawn_app};
use poolsleuth::snapshot::POWERSHELL_DRIVER_LIST;

const BIN: &str = env!("CARGO_BIN_EXE_poolsleuth");
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/quick_start");
/// What `%COMPUTERNAME%` is on the Windows host of this test.
const HOST: &str = "WIN-SQL01";

/// README's fleet watch section: its code blocks, each with its language.
fn fleet_watch_blocks() -> Vec<(String, String)> {
    let section = common::readme_section("## Fleet watch: every host sends a sample");
    let mut blocks = Vec::new();
    let mut block: Option<(String, String)> = None;
    for line in section.lines() {
        match (&mut block, line.strip_prefix("```")) {
            (None, Some(lang)) => block = Some((lang.to_owned(), String::new())),
            (Some(_), Some("")) => blocks.push(block.take().unwrap()),
            (Some((_, text)), _) => {
                text.push_str(line);
                text.push('\n');
            }
            (None, None) => {}
        }
    }
    blocks
}

/// The lines of README's fleet watch blocks that start with `start`.
fn lines_starting(start: &str) -> Vec<String> {
    fleet_watch_blocks()
        .iter()
        .flat_map(|(_, text)| text.lines().map(str::to_owned).collect::<Vec<_>>())
        .filter(|l| l.starts_with(start))
        .collect()
}

/// A `curl.exe` line as it runs here: `curl`, this host's name, `base`, `token`.
fn curl_here(line: &str, base: &str, token: &str) -> String {
    line.replacen("curl.exe ", "curl ", 1)
        .replace("%COMPUTERNAME%", HOST)
        .replace("$env:COMPUTERNAME", HOST)
        .replace("http://POOLSLEUTH-HOST:8080", base)
        .replace("YOUR-INGEST-TOKEN", token)
}

fn sh(cwd: &Path, command: &str) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(cwd)
        .env_remove("POOLSLEUTH_SERVER")
        .env_remove("POOLSLEUTH_INGEST_TOKEN")
        .output()
        .unwrap()
}

/// A directory holding what the scripts' earlier lines write: poolmon's `pool.txt` and
/// PowerShell's `drivers.csv`.
fn written_files() -> tempfile::TempDir {
    let cwd = tempfile::tempdir().unwrap();
    std::fs::copy(
        Path::new(FIXTURES).join("after.txt"),
        cwd.path().join("pool.txt"),
    )
    .unwrap();
    std::fs::copy(
        Path::new(FIXTURES).join("drivers.csv"),
        cwd.path().join("drivers.csv"),
    )
    .unwrap();
    cwd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_curl_lines_post_the_snapshot_and_driver_list_as_fleet_ingest_takes_them() {
    if Command::new("curl").arg("--version").output().is_err() {
        eprintln!("skipped: curl is not installed");
        return;
    }
    let curls = lines_starting("curl.exe ");
    assert_eq!(
        curls.len(),
        2,
        "the cmd and the PowerShell script: {curls:#?}"
    );
    let cwd = written_files();
    let pool = std::fs::read(cwd.path().join("pool.txt")).unwrap();
    let drivers = std::fs::read(cwd.path().join("drivers.csv")).unwrap();

    // At a local receiver: what each line sends.
    let receiver = Arc::new(Receiver::default());
    let base = start_receiver(receiver.clone()).await;
    for line in &curls {
        let command = curl_here(line, &base, "ingest-secret");
        let output = tokio::task::block_in_place(|| sh(cwd.path(), &command));
        assert!(
            output.status.success(),
            "`{command}`: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let got = receiver.requests.lock().await;
    assert_eq!(got.len(), 2);
    for (request, with_drivers) in got.iter().zip([false, true]) {
        assert_eq!(request.host, HOST);
        assert_eq!(request.taken_at, None, "the server's time of receipt");
        assert_eq!(
            request.authorization.as_deref(),
            Some("Bearer ingest-secret")
        );
        let (file, _, bytes) = &request.parts["snapshot"];
        assert_eq!(file.as_deref(), Some("pool.txt"));
        assert_eq!(bytes, &pool);
        assert_eq!(request.parts.contains_key("drivers"), with_drivers);
        if with_drivers {
            assert_eq!(request.parts["drivers"].2, drivers);
        }
    }
    drop(got);

    // At the real server, with the admin token (which fleet ingest takes too).
    let data = tempfile::tempdir().unwrap();
    let app = spawn_app(data.path(), Some(TOKEN)).await;
    let probe = app
        .client
        .post(app.url(&format!("/api/v1/hosts/{HOST}/snapshots")))
        .send()
        .await
        .unwrap();
    if probe.status() == 404 || probe.status() == 405 {
        eprintln!(
            "skipped the real server: it has no fleet ingest yet (POST /api/v1/hosts/{{host}}/snapshots answered {})",
            probe.status()
        );
        return;
    }
    for line in &curls {
        let command = curl_here(line, &app.base, TOKEN);
        let output = tokio::task::block_in_place(|| sh(cwd.path(), &command));
        assert!(
            output.status.success(),
            "`{command}`: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    app.stop().await;
}

#[test]
fn the_powershell_script_writes_the_driver_list_the_answers_print() {
    let (_, script) = fleet_watch_blocks()
        .into_iter()
        .find(|(lang, _)| lang == "powershell")
        .expect("README's PowerShell script");
    assert!(
        script.lines().any(|l| l == POWERSHELL_DRIVER_LIST),
        "{script}"
    );
    // It writes the files the curl line sends.
    assert!(script.contains("-b -n pool.txt"), "{script}");
    assert!(POWERSHELL_DRIVER_LIST.ends_with("drivers.csv"));
}

#[test]
fn the_tasks_run_the_saved_scripts_as_system_every_15_minutes() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let tasks = lines_starting("schtasks ");
    assert_eq!(tasks.len(), 2, "{tasks:#?}");
    for (task, script) in tasks.iter().zip(["send.cmd", "send.ps1"]) {
        for part in [
            "/create",
            "/sc minute /mo 15",
            "/ru SYSTEM",
            "/rl highest",
            "/tr ",
        ] {
            assert!(task.contains(part), "{task} lacks {part}");
        }
        let path = format!("C:\\poolsleuth\\{script}");
        assert!(task.contains(&path), "{task}");
        assert!(
            readme.contains(&format!("Save this as `{path}`")),
            "README says to save {path}"
        );
        // schtasks takes at most 261 characters after /tr.
        let run = task.split("/tr ").nth(1).unwrap();
        assert!(run.len() <= 261, "{run}");
    }
}

#[test]
fn the_poolsleuth_exe_lines_take_their_arguments_here() {
    let lines = lines_starting("poolsleuth.exe ");
    assert_eq!(lines.len(), 2, "{lines:#?}");
    let cwd = tempfile::tempdir().unwrap();
    for line in &lines {
        for placeholder in [
            "%COMPUTERNAME%",
            "http://POOLSLEUTH-HOST:8080",
            "YOUR-INGEST-TOKEN",
        ] {
            assert!(line.contains(placeholder), "{line}");
        }
        let here = line
            .replacen("poolsleuth.exe ", &format!("{BIN} "), 1)
            .replace("%COMPUTERNAME%", HOST)
            .replace("http://POOLSLEUTH-HOST:8080", "http://127.0.0.1:9")
            .replace("YOUR-INGEST-TOKEN", "t");
        let output = sh(cwd.path(), &here);
        let stderr = String::from_utf8_lossy(&output.stderr);
        // The arguments are taken; then collect says it reads a Windows kernel.
        assert!(
            !output.status.success() && stderr.contains("runs on Windows only"),
            "`{here}`: {stderr}"
        );
    }
}
