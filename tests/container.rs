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

/// README's Docker commands, each continued line joined, comments and blank lines left out.
fn readme_docker_commands(readme: &str) -> Vec<String> {
    let block = readme
        .split_once("<!-- docker-commands -->\n```sh\n")
        .expect("README has the docker-commands block")
        .1;
    let block = &block[..block.find("\n```").expect("the block ends")];
    block
        .replace("\\\n", " ")
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(String::from)
        .collect()
}

/// The value of one `docker` option in a command line split at whitespace.
fn option<'a>(words: &'a [&'a str], name: &str) -> &'a str {
    let at = words
        .iter()
        .position(|w| *w == name)
        .unwrap_or_else(|| panic!("{name} in {words:?}"));
    words[at + 1]
}

fn yaml_str<'a>(value: &'a yaml_rust2::Yaml, what: &str) -> &'a str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{what} is a string: {value:?}"))
}

fn yaml_strings(value: &yaml_rust2::Yaml, what: &str) -> Vec<String> {
    value
        .as_vec()
        .unwrap_or_else(|| panic!("{what} is a list: {value:?}"))
        .iter()
        .map(|v| yaml_str(v, what).to_string())
        .collect()
}

/// compose.yaml is valid YAML, README shows it as it is, and it starts the container README's
/// `docker run` starts (which scripts/image-smoke.sh runs in CI): same image, port, named volume
/// at the image's VOLUME, token from the same env file, stop grace as the stop timeout.
#[test]
fn the_compose_example_is_the_docker_run_command() {
    let root = env!("CARGO_MANIFEST_DIR");
    let compose_text = std::fs::read_to_string(format!("{root}/compose.yaml")).unwrap();
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    assert!(
        readme.contains(&format!(
            "<!-- compose.yaml -->\n```yaml\n{compose_text}```\n"
        )),
        "README's compose.yaml block differs from compose.yaml"
    );

    let documents = yaml_rust2::YamlLoader::load_from_str(&compose_text)
        .unwrap_or_else(|e| panic!("compose.yaml is not YAML: {e}"));
    assert_eq!(documents.len(), 1, "one YAML document");
    let compose = &documents[0];
    let top_keys: Vec<&str> = compose
        .as_hash()
        .expect("compose.yaml is a mapping")
        .keys()
        .map(|k| yaml_str(k, "a top-level key"))
        .collect();
    assert_eq!(top_keys, ["services", "volumes"]);
    let services = compose["services"].as_hash().expect("services mapping");
    assert_eq!(services.len(), 1, "one service");
    let service = &compose["services"]["poolsleuth"];
    // Keys of the Compose specification's service; a misspelt one is an error to `docker compose`.
    for key in service.as_hash().expect("the service is a mapping").keys() {
        let key = yaml_str(key, "a service key");
        assert!(
            [
                "build",
                "image",
                "ports",
                "volumes",
                "env_file",
                "stop_grace_period",
                "restart"
            ]
            .contains(&key),
            "service key {key} is not one this test knows"
        );
    }

    let commands = readme_docker_commands(&readme);
    let command = |prefix: &str| -> Vec<&str> {
        commands
            .iter()
            .find(|c| c.starts_with(prefix))
            .unwrap_or_else(|| panic!("README runs {prefix}: {commands:?}"))
            .split_whitespace()
            .collect()
    };
    let build = command("docker build ");
    let run = command("docker run ");
    let image = read_dockerfile();

    assert_eq!(yaml_str(&service["build"], "build"), *build.last().unwrap());
    assert_eq!(yaml_str(&service["image"], "image"), option(&build, "-t"));
    assert_eq!(yaml_str(&service["image"], "image"), *run.last().unwrap());

    let published = option(&run, "-p");
    assert_eq!(yaml_strings(&service["ports"], "ports"), [published]);
    let bind_port = image.env["POOLSLEUTH_BIND"].rsplit(':').next().unwrap();
    assert_eq!(
        published.rsplit(':').next().unwrap(),
        bind_port,
        "publishes the port the image listens on"
    );

    let volume = option(&run, "-v");
    assert_eq!(yaml_strings(&service["volumes"], "volumes"), [volume]);
    let (volume_name, mount_path) = volume.split_once(':').unwrap();
    assert_eq!(
        mount_path, image.volume,
        "the named volume is the image's VOLUME"
    );
    assert!(
        compose["volumes"]
            .as_hash()
            .expect("top-level volumes mapping")
            .contains_key(&yaml_rust2::Yaml::String(volume_name.into())),
        "the named volume {volume_name} is declared"
    );

    assert_eq!(
        yaml_str(&service["env_file"], "env_file"),
        option(&run, "--env-file")
    );
    assert!(
        !run.iter().any(|w| w.contains("POOLSLEUTH_ADMIN_TOKEN"))
            && !compose_text.contains("POOLSLEUTH_ADMIN_TOKEN="),
        "the token is never on a command line or in compose.yaml"
    );
    let stop_timeout = option(&run, "--stop-timeout");
    assert_eq!(
        yaml_str(&service["stop_grace_period"], "stop_grace_period"),
        format!("{stop_timeout}s")
    );
    // Docker kills what is still running when the stop timeout ends: it must outlast the
    // server's own shutdown grace, as the binary states it.
    let help = Command::new(common::server_binary())
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    let grace_help = help
        .split_once("--shutdown-grace-secs")
        .expect("serve has --shutdown-grace-secs")
        .1;
    let grace: u64 = grace_help
        .split_once("[default: ")
        .and_then(|(_, rest)| rest.split_once(']'))
        .expect("a default shutdown grace")
        .0
        .parse()
        .unwrap();
    assert!(
        stop_timeout.parse::<u64>().unwrap() > grace,
        "--stop-timeout {stop_timeout} does not outlast the {grace} s shutdown grace"
    );
}
