//! README's quick start, run as printed, and every command the product prints for the next
//! step run as printed: the real binary, the real server, curl, in a fresh directory.
//!
//! The quick start's commands are read from README (its `sh` blocks, in order), so the two
//! cannot drift apart. Two things are changed, and only these: `cargo run --release --` is the
//! binary cargo built for the test, and the server listens on a free port instead of 8080
//! (`POOLSLEUTH_BIND`, which every command then names). The steps that need Windows (poolmon,
//! the PowerShell driver list) are the fixtures in `tests/fixtures/quick_start/`; of the
//! PowerShell upload loop the answer prints, the `curl.exe` command it runs per file is run
//! here (as `curl`, on one file), which is the part that talks to the server.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_poolsleuth");
/// The token README's quick start starts the server with.
const README_TOKEN: &str = "change-me";
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/quick_start");
const DRIVER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/drivers/patterns_x64_O2.sys"
);

/// The `sh` code blocks of README's quick start, in order.
fn quick_start_commands() -> Vec<String> {
    let section = common::readme_section("## Quick start");
    let mut blocks = Vec::new();
    let mut block: Option<String> = None;
    for line in section.lines() {
        let line = line.trim_start();
        match (&mut block, line) {
            (None, "```sh") => block = Some(String::new()),
            (Some(b), "```") => {
                blocks.push(b.trim().to_owned());
                block = None;
            }
            (Some(b), _) => {
                b.push_str(line);
                b.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

fn curl_installed() -> bool {
    let found = Command::new("curl").arg("--version").output().is_ok();
    if !found {
        eprintln!("skipped: curl is not installed");
    }
    found
}

/// A command line as README or an answer prints it, made to run here: the binary cargo built
/// instead of `cargo run --release --` or `poolsleuth`, and this test's server address.
fn as_run_here(command: &str, addr: &str) -> String {
    let command = command
        .replace("cargo run --release --", BIN)
        .replace("127.0.0.1:8080", addr);
    match command.strip_prefix("poolsleuth ") {
        Some(rest) => format!("{BIN} {rest}"),
        None => command,
    }
}

fn sh(cwd: &Path, command: &str) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(cwd)
        .env_remove("POOLSLEUTH_SERVER")
        .env_remove("POOLSLEUTH_DATA_DIR")
        .env_remove("POOLSLEUTH_ADMIN_TOKEN")
        .output()
        .unwrap()
}

/// Runs `command` in `cwd` and returns its standard output; panics with both outputs if it
/// fails.
fn run_ok(cwd: &Path, command: &str) -> String {
    let output = sh(cwd, command);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    );
    assert!(
        output.status.success(),
        "`{command}` failed: {}\n{stdout}\n{stderr}",
        output.status
    );
    stdout
}

/// The server README's first step starts, killed on drop.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_until_healthy(base: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ok = Command::new("curl")
            .args(["-sf", &format!("{base}/healthz")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return;
        }
        assert!(Instant::now() < deadline, "the server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What a page shows of an element's text, from its HTML.
fn element_text(html: &str, id: &str) -> String {
    let start = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id}"));
    let start = start + html[start..].find('>').unwrap() + 1;
    let end = start + html[start..].find('<').unwrap();
    html[start..end]
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#60;", "<")
        .replace("&lt;", "<")
        .replace("&#62;", ">")
        .replace("&gt;", ">")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
        .trim()
        .to_owned()
}

fn free_addr() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

fn get(url: &str) -> String {
    let output = Command::new("curl").args(["-s", url]).output().unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The PowerShell loop's per-file command, as `curl` on one file: what it sends the server.
fn curl_of_powershell_loop(powershell: &str, file: &Path) -> String {
    let start = powershell.find("curl.exe").expect(powershell);
    let end = powershell.rfind('}').expect(powershell);
    powershell[start..end]
        .trim()
        .replacen("curl.exe", "curl", 1)
        .replace("$($_.FullName)", &file.display().to_string())
}

#[test]
fn the_quick_start_and_the_commands_answers_print_run_as_printed() {
    if !curl_installed() {
        return;
    }
    let commands = quick_start_commands();
    assert_eq!(
        commands.len(),
        4,
        "serve, import, analyze, scan: {commands:#?}"
    );
    let cwd = tempfile::tempdir().unwrap();
    let cwd = cwd.path();
    for file in ["pooltag.txt", "before.txt", "after.txt", "drivers.csv"] {
        std::fs::copy(Path::new(FIXTURES).join(file), cwd.join(file)).unwrap();
    }
    // What step 5 copies from the Windows machine: its drivers folder, as `drivers`.
    let drivers: PathBuf = cwd.join("drivers");
    std::fs::create_dir(&drivers).unwrap();
    std::fs::copy(DRIVER, drivers.join("patterns_x64_O2.sys")).unwrap();

    // 1. The server, on a free port.
    let addr = free_addr();
    let base = format!("http://{addr}");
    let serve = as_run_here(&commands[0], &addr);
    assert!(serve.contains("serve"), "{serve}");
    let _server = Server(
        Command::new("sh")
            .arg("-c")
            // `env` runs `VAR=value command` as one process, which the drop can kill.
            .arg(format!("exec env {serve}"))
            .current_dir(cwd)
            .env("POOLSLEUTH_BIND", &addr)
            .env_remove("POOLSLEUTH_DATA_DIR")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_until_healthy(&base);

    // The home page's hint: the import into this server, with the token's placeholder.
    let home = get(&format!("{base}/"));
    let import = element_text(&home, "import-command");
    assert_eq!(
        import,
        format!(
            "poolsleuth import pooltag.txt --name wdk --server {base} --token YOUR-ADMIN-TOKEN"
        )
    );
    let printed = run_ok(
        cwd,
        &as_run_here(&import.replace("YOUR-ADMIN-TOKEN", README_TOKEN), &addr),
    );
    assert!(printed.contains("source \"wdk\""), "{printed}");

    // 2. README's import, with curl: the same list again replaces it.
    let import = run_ok(cwd, &as_run_here(&commands[1], &addr));
    let report: Value = serde_json::from_str(&import).expect(&import);
    assert_eq!(report["source"], "wdk", "{report}");
    assert_eq!(report["imported"], 5, "{report}");
    assert_eq!(report["replaced"], 5, "{report}");

    // 4. The analysis: `Wrp1` grows and no list knows it, so the answer asks for the drivers.
    let answer = run_ok(cwd, &as_run_here(&commands[2], &addr));
    assert!(answer.contains("Wrp1"), "{answer}");
    assert!(answer.contains("UPLOAD DRIVERS"), "{answer}");
    let printed_scan = answer
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("poolsleuth scan "))
        .unwrap_or_else(|| panic!("no scan command in {answer}"));
    assert_eq!(
        printed_scan,
        format!("poolsleuth scan ./drivers --server {base} --token YOUR-ADMIN-TOKEN")
    );
    assert!(
        answer.contains(&format!("In a browser: {base}/upload")),
        "{answer}"
    );
    // The same scan on the Windows machine itself, with poolsleuth.exe.
    let printed_exe_scan = printed_command(&answer, "poolsleuth.exe scan ");
    let printed_exe_scan = printed_exe_scan.as_str();
    assert_eq!(
        printed_exe_scan,
        format!(
            "poolsleuth.exe scan C:\\Windows\\System32\\drivers --server {base} --token YOUR-ADMIN-TOKEN"
        )
    );

    // The scan the answer prints, with the admin token in the placeholder's place.
    let scanned = run_ok(
        cwd,
        &as_run_here(
            &printed_scan.replace("YOUR-ADMIN-TOKEN", README_TOKEN),
            &addr,
        ),
    );
    assert!(scanned.contains("1 analyzed and stored"), "{scanned}");
    // 5. README's scan: the same folder again, already known.
    let scanned = run_ok(cwd, &as_run_here(&commands[3], &addr));
    assert!(scanned.contains("1 already known"), "{scanned}");

    // The poolsleuth.exe scan, run here with the Windows-only part (the program's name and
    // the Windows drivers folder) replaced: the same arguments reach the same server.
    let scanned = run_ok(
        cwd,
        &as_run_here(
            &windows_command_here(printed_exe_scan, "./drivers")
                .replace("YOUR-ADMIN-TOKEN", README_TOKEN),
            &addr,
        ),
    );
    assert!(scanned.contains("1 already known"), "{scanned}");

    // 4 again: now the answer names the driver whose code allocates `Wrp1`.
    let answer = run_ok(cwd, &as_run_here(&commands[2], &addr));
    assert!(
        answer.to_lowercase().contains("patterns_x64_o2.sys"),
        "{answer}"
    );
    assert!(!answer.contains("UPLOAD DRIVERS"), "{answer}");

    // The PowerShell loop of an answer, as the JSON gives it: its curl command sends a file.
    let json = run_ok(
        cwd,
        &format!("curl -s -F snapshot=@after.txt '{base}/api/v1/analyze'"),
    );
    let analysis: Value = serde_json::from_str(&json).expect(&json);
    // `Wrp1` is known now; a search for a tag nobody knows gives the same ways.
    assert!(analysis["driver_upload"].is_null(), "{analysis:#}");
    let search: Value =
        serde_json::from_str(&get(&format!("{base}/api/v1/search?q=Zq9x"))).unwrap();
    let step = &search["next_steps"][0];
    assert_eq!(step["step"], "scan-drivers", "{search:#}");
    assert_eq!(step["command"].as_str(), Some(printed_scan), "{search:#}");
    assert_eq!(step["page"].as_str(), Some(&*format!("{base}/upload")));
    assert_eq!(step["poolsleuth_exe"].as_str(), Some(printed_exe_scan));
    let curl = curl_of_powershell_loop(
        step["powershell"].as_str().unwrap(),
        &drivers.join("patterns_x64_O2.sys"),
    );
    let sent = run_ok(cwd, &curl.replace("YOUR-ADMIN-TOKEN", README_TOKEN));
    let sent: Value = serde_json::from_str(&sent).expect(&sent);
    assert_eq!(sent["duplicates"], 1, "{sent}");
    // Without the token the same command is refused, so the placeholder must be replaced.
    let refused = run_ok(cwd, &curl);
    assert!(refused.contains("token"), "{refused}");

    // One snapshot without a driver list: the answer says how to capture more on the Windows
    // machine with poolsleuth.exe, to files and to this server's fleet watch. Their shape is
    // checked by running them here: the arguments are taken, and `collect` then says it
    // reads a Windows kernel (it cannot run here).
    let json = run_ok(
        cwd,
        &format!("curl -s -F snapshot=@before.txt '{base}/api/v1/analyze'"),
    );
    let analysis: Value = serde_json::from_str(&json).expect(&json);
    let steps: Vec<&str> = analysis["next_steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    let exe_commands: Vec<&str> = steps
        .iter()
        .flat_map(|s| s.split('`').skip(1).step_by(2))
        .filter(|c| c.starts_with("poolsleuth.exe "))
        .collect();
    assert!(
        exe_commands.contains(&"poolsleuth.exe collect --out C:\\poolsleuth"),
        "{steps:#?}"
    );
    let watch = format!(
        "poolsleuth.exe collect --host %COMPUTERNAME% --server {base} --token YOUR-INGEST-TOKEN --every 15m"
    );
    assert!(exe_commands.contains(&watch.as_str()), "{steps:#?}");
    for command in exe_commands {
        let here = windows_command_here(command, "")
            .replace("C:\\poolsleuth", "./samples")
            .replace("%COMPUTERNAME%", "WIN-SQL01")
            .replace("YOUR-INGEST-TOKEN", "ingest-token");
        let output = sh(cwd, &as_run_here(&here, &addr));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !output.status.success() && stderr.contains("runs on Windows only"),
            "`{here}`: {stderr}"
        );
    }
}

/// The command the text report prints starting with `start`, its lines joined again where
/// the report wrapped it at 100 columns (a wrapped line goes on, indented deeper, below).
fn printed_command(report: &str, start: &str) -> String {
    let mut lines = report.lines();
    let first = lines
        .find(|l| l.trim_start().starts_with(start))
        .unwrap_or_else(|| panic!("no `{start}` in {report}"));
    let indent = first.len() - first.trim_start().len();
    let mut command = first.trim().to_owned();
    for line in lines {
        let deeper = line.len() - line.trim_start().len() > indent;
        if !deeper || line.trim().is_empty() {
            break;
        }
        command.push(' ');
        command.push_str(line.trim());
    }
    command
}

/// A command printed for the Windows machine (`poolsleuth.exe scan C:\Windows\System32\drivers
/// …`) as this host runs it: this test's binary, and `folder` for the Windows drivers folder.
fn windows_command_here(command: &str, folder: &str) -> String {
    let command = command.replacen("poolsleuth.exe ", "poolsleuth ", 1);
    if folder.is_empty() {
        command
    } else {
        command.replace("C:\\Windows\\System32\\drivers", folder)
    }
}

#[test]
fn a_command_line_analysis_prints_the_scan_into_its_own_data_dir() {
    let cwd = tempfile::tempdir().unwrap();
    let cwd = cwd.path();
    for file in ["before.txt", "after.txt"] {
        std::fs::copy(Path::new(FIXTURES).join(file), cwd.join(file)).unwrap();
    }
    let drivers = cwd.join("drivers");
    std::fs::create_dir(&drivers).unwrap();
    std::fs::copy(DRIVER, drivers.join("patterns_x64_O2.sys")).unwrap();
    for data_dir in [None, Some("my data")] {
        let extra = data_dir
            .map(|d| format!(" --data-dir '{d}'"))
            .unwrap_or_default();
        let answer = run_ok(cwd, &format!("{BIN} analyze before.txt after.txt{extra}"));
        let printed = answer
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with("poolsleuth scan "))
            .unwrap_or_else(|| panic!("no scan command in {answer}"));
        let scanned = run_ok(cwd, &as_run_here(printed, ""));
        assert!(scanned.contains("1 analyzed and stored"), "{scanned}");
        // The next analysis reads what the scan stored.
        let answer = run_ok(cwd, &format!("{BIN} analyze before.txt after.txt{extra}"));
        assert!(
            answer.to_lowercase().contains("patterns_x64_o2.sys"),
            "{answer}"
        );
    }
}
