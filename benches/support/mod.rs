//! What the HTTP benchmarks share: the release server in its own process, and a deterministic
//! random source for synthetic data. (Each bench compiles this module; not every bench uses
//! every item.)
#![allow(dead_code)]

use std::fs;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The admin token the benchmark server accepts.
pub const ADMIN_TOKEN: &str = "bench-admin-token";
/// The server binary cargo built for this bench run.
pub const SERVER_BIN: &str = env!("CARGO_BIN_EXE_poolsleuth");

/// A small deterministic PRNG (SplitMix64): the data must be the same on every run.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Skewed towards small indexes, like word frequencies.
    pub fn skewed(&mut self, n: usize) -> usize {
        let x = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((x * x * x) * n as f64) as usize % n
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// `poolsleuth serve` on a free port, stopped (SIGTERM) when dropped. Its log goes next to the
/// data dir (`DIR.log`); `BENCH_LOG_LEVEL` sets its level.
pub struct Server {
    child: Child,
    pub base: String,
    log_path: PathBuf,
}

impl Server {
    pub fn start(data_dir: &Path) -> Self {
        Self::start_with(data_dir, &[])
    }

    /// [`Server::start`] with more `serve` arguments.
    pub fn start_with(data_dir: &Path, extra: &[&str]) -> Self {
        fs::create_dir_all(data_dir).unwrap();
        let log_path = data_dir.with_extension("log");
        for _ in 0..3 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .unwrap()
                .port();
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            let log = fs::File::create(&log_path).unwrap();
            let mut command = Command::new(SERVER_BIN);
            for (key, _) in std::env::vars() {
                if key.starts_with("POOLSLEUTH_") {
                    command.env_remove(key);
                }
            }
            // JSON lines, so a bench can read the server's own per-request latencies.
            command.arg("serve").arg("--log-format").arg("json");
            if let Ok(level) = std::env::var("BENCH_LOG_LEVEL") {
                command.arg("--log-level").arg(level);
            }
            let mut child = command
                .arg("--bind")
                .arg(addr.to_string())
                .arg("--data-dir")
                .arg(data_dir)
                .args(extra)
                .env("POOLSLEUTH_ADMIN_TOKEN", ADMIN_TOKEN)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("start the poolsleuth server");
            let base = format!("http://{addr}");
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // lost the port race (or failed); the log tells which
                }
                if http_ok(addr, "/healthz") {
                    return Self {
                        child,
                        base,
                        log_path,
                    };
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!(
            "the server did not come up; its log: {}",
            fs::read_to_string(&log_path).unwrap_or_default()
        );
    }

    /// The server's log: JSON lines, one per request among them.
    pub fn log_path(&self) -> PathBuf {
        self.log_path.clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SIGTERM for a graceful stop, then make sure.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal blocking HTTP/1.1 probe, so start-up does not need the async client.
pub fn http_ok(addr: SocketAddr, path: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200))
    else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200")
}
