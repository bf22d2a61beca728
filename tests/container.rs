//! The container image cannot be built here (no Docker engine), so this runs the binary the
//! way the image does: the Dockerfile's ENV, ENTRYPOINT and CMD, as an unprivileged user, with
//! a fresh empty volume as the only place it writes, and the HEALTHCHECK command against it.
//!
//! `POOLSLEUTH_RELEASE_BIN` names the release binary to test (CI builds it); without it the
//! test binary's own build of poolsleuth is used, and the test says so.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What the Dockerfile's runtime stage sets.
struct Image {
    env: BTreeMap<String, String>,
    entrypoint: Vec<String>,
    cmd: Vec<String>,
    healthcheck: Vec<String>,
    user: String,
    volume: String,
}

fn json_array(text: &str) -> Vec<String> {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("not a JSON array: {text}: {e}"))
}

fn read_dockerfile() -> Image {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Dockerfile")).unwrap();
    // Join continuation lines, then keep only the last stage (the runtime image).
    let joined = text.replace("\\\n", " ");
    let last_stage = joined.rsplit("\nFROM ").next().unwrap();
    let mut image = Image {
        env: BTreeMap::new(),
        entrypoint: Vec::new(),
        cmd: Vec::new(),
        healthcheck: Vec::new(),
        user: String::new(),
        volume: String::new(),
    };
    for line in last_stage.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("ENV ") {
            for pair in rest.split_whitespace() {
                let (key, value) = pair.split_once('=').expect("ENV KEY=VALUE");
                image.env.insert(key.into(), value.into());
            }
        } else if let Some(rest) = line.strip_prefix("ENTRYPOINT ") {
            image.entrypoint = json_array(rest);
        } else if let Some(rest) = line.strip_prefix("CMD ") {
            image.cmd = json_array(rest);
        } else if let Some(rest) = line.strip_prefix("HEALTHCHECK ") {
            image.healthcheck = json_array(
                rest.split_once(" CMD ")
                    .expect("HEALTHCHECK ... CMD [..]")
                    .1,
            );
        } else if let Some(rest) = line.strip_prefix("USER ") {
            image.user = rest.into();
        } else if let Some(rest) = line.strip_prefix("VOLUME ") {
            image.volume = json_array(rest)[0].clone();
        }
    }
    image
}

/// Runs `argv` (the image's ENTRYPOINT path replaced by the binary under test) with exactly the
/// image's environment, as the image's user when we are root.
fn container_command(
    image: &Image,
    argv: &[String],
    env: &BTreeMap<String, String>,
    volume: &std::path::Path,
) -> Command {
    assert_eq!(
        argv[0], "/usr/local/bin/poolsleuth",
        "the entrypoint is the binary"
    );
    let running_as_root = effective_uid() == 0;
    let mut command = if running_as_root {
        let (uid, gid) = image
            .user
            .split_once(':')
            .unwrap_or((&image.user, &image.user));
        let mut c = Command::new("setpriv");
        c.args([
            &format!("--reuid={uid}"),
            &format!("--regid={gid}"),
            "--clear-groups",
            "--",
        ]);
        c.arg(common::server_binary());
        c
    } else {
        Command::new(common::server_binary())
    };
    command.args(&argv[1..]);
    command
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin");
    for (key, value) in env {
        // The volume is mounted at the image's VOLUME path; here it is a fresh temp dir.
        let value = if value == &image.volume {
            volume.to_string_lossy().into_owned()
        } else {
            value.clone()
        };
        command.env(key, value);
    }
    command.current_dir(volume);
    command
}

fn effective_uid() -> u32 {
    // No libc dependency for one call: /proc tells the effective uid.
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|u| u.parse().ok())
        .unwrap_or(u32::MAX)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn the_binary_runs_as_the_image_runs_it() {
    let image = read_dockerfile();
    assert_eq!(
        image.env.get("POOLSLEUTH_BIND").map(String::as_str),
        Some("0.0.0.0:8080")
    );
    assert_eq!(image.env.get("POOLSLEUTH_DATA_DIR"), Some(&image.volume));
    assert!(
        !image.user.is_empty() && !image.user.starts_with("0"),
        "runs as non-root"
    );
    assert!(
        !image.env.contains_key("POOLSLEUTH_ADMIN_TOKEN"),
        "no secret baked into the image"
    );

    // A fresh, empty volume owned by the image's user; nothing else is writable for it.
    let volume = tempfile::tempdir().unwrap();
    if effective_uid() == 0 {
        let uid = image.user.split(':').next().unwrap();
        assert!(
            Command::new("chown")
                .args([&format!("{uid}:{uid}"), volume.path().to_str().unwrap()])
                .status()
                .unwrap()
                .success()
        );
    }
    std::fs::set_permissions(volume.path(), std::fs::Permissions::from_mode(0o700)).unwrap();

    // Same arguments and environment; only the port differs (8080 may be taken on this host),
    // and the admin token is passed as `docker run -e` would.
    let port = free_port();
    let mut env = image.env.clone();
    env.insert("POOLSLEUTH_BIND".into(), format!("0.0.0.0:{port}"));
    env.insert("POOLSLEUTH_ADMIN_TOKEN".into(), "container-token".into());
    let argv: Vec<String> = image.entrypoint.iter().chain(&image.cmd).cloned().collect();
    let server = container_command(&image, &argv, &env, volume.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    let client = reqwest::blocking::Client::new();
    let ready: serde_json::Value = loop {
        if let Ok(response) = client.get(format!("{base}/readyz")).send() {
            break response.json().unwrap();
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the server did not come up"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        ready["index"]["entries"].as_u64().unwrap() >= 300,
        "seeded from the embedded default: {ready}"
    );

    // The HEALTHCHECK command, run as the image runs it (same environment), says healthy.
    let health = container_command(&image, &image.healthcheck, &env, volume.path())
        .output()
        .unwrap();
    assert!(
        health.status.success(),
        "{}",
        String::from_utf8_lossy(&health.stderr)
    );

    // Writes work with the token; the data lands in the volume.
    let response = client
        .post(format!("{base}/api/v1/lists?name=container"))
        .bearer_auth("container-token")
        .body("LkaL - leaky.sys - stored in the volume\n")
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(volume.path().join("index/meta.json").exists());

    // Logs are JSON lines, one per request, and never contain the token. The server is stopped
    // as `docker stop` stops it, with SIGTERM: the log writer runs on its own thread and is
    // flushed at a clean exit, so a SIGKILL here could lose the last lines under load.
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &server.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let output = server.wait_with_output().unwrap();
    assert!(output.status.success(), "{:?}", output.status);
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(
        log.lines()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
        "{log}"
    );
    assert!(
        log.contains("/api/v1/lists") && log.contains("\"status\":200"),
        "{log}"
    );
    assert!(!log.contains("container-token"));

    // With the server gone, the health check fails.
    let health = container_command(&image, &image.healthcheck, &env, volume.path())
        .output()
        .unwrap();
    assert!(!health.status.success());
}
