//! What `poolsleuth collect` gathers on a Windows machine, without poolmon or the WDK: the
//! kernel's pool-tag counters (`NtQuerySystemInformation(SystemPoolTagInformation)`), written
//! as a poolmon `-b` file, and the loaded drivers with their file versions (read by our own PE
//! reader), written as a CSV driver list. Both are files the analysis already reads.
//!
//! Only the calls into Windows live in `windows.rs`; everything else here is plain code,
//! tested on any platform.

use std::fmt::Write as _;
use std::time::Duration;

use time::OffsetDateTime;

use crate::pool_tag_info::{self, PointerWidth, PoolTagInfoError};
use crate::snapshot::{PoolmonText, write_poolmon};

#[cfg(windows)]
mod windows;

/// Where printed `poolsleuth.exe collect --out` commands write their files.
pub const COLLECT_DIR: &str = r"C:\poolsleuth";

/// The command, run on the Windows machine in an elevated prompt, that writes a pool snapshot
/// and the driver list with versions as files, without the WDK: what answers print next to
/// poolmon and the PowerShell driver list.
pub fn collect_files_command() -> String {
    format!("poolsleuth.exe collect --out {COLLECT_DIR}")
}

/// The command, run on the Windows machine in an elevated prompt (cmd, which expands
/// `%COMPUTERNAME%`), that sends a sample every 15 minutes to `server`'s fleet watch, with
/// the ingest token's placeholder.
pub fn fleet_watch_command(server: &str) -> String {
    format!(
        "poolsleuth.exe collect --host %COMPUTERNAME% --server {server} --token {} --every 15m",
        crate::ingest_client::INGEST_TOKEN_PLACEHOLDER
    )
}

/// `STATUS_INFO_LENGTH_MISMATCH`: the buffer given to `NtQuerySystemInformation` is too small.
pub const STATUS_INFO_LENGTH_MISMATCH: i32 = 0xC000_0004_u32 as i32;
const STATUS_NOT_IMPLEMENTED: i32 = 0xC000_0002_u32 as i32;
const STATUS_INVALID_INFO_CLASS: i32 = 0xC000_0003_u32 as i32;
const STATUS_ACCESS_DENIED: i32 = 0xC000_0022_u32 as i32;

/// How often a too-small buffer is grown and the query asked again: the table grows while
/// drivers allocate new tags, so once may not be enough, but never without end.
const QUERY_ATTEMPTS: usize = 8;

/// Why the pool tags or the driver list could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error(
        "`collect` reads a Windows kernel's pool-tag counters and loaded drivers, so it runs on Windows only (this is {os}). Here, capture on the Windows machine with `poolsleuth.exe collect`, or with poolmon, and analyze the files with `poolsleuth analyze`"
    )]
    NotWindows { os: &'static str },
    #[error(
        "this Windows does not report pool tags (NtQuerySystemInformation class 22 answered NTSTATUS {status:#010x}: {meaning}); capture with poolmon instead"
    )]
    NotSupported { status: u32, meaning: &'static str },
    #[error(
        "Windows refused to report pool tags (NTSTATUS {status:#010x}, access denied): run from an elevated prompt or as SYSTEM"
    )]
    AccessDenied { status: u32 },
    #[error(
        "NtQuerySystemInformation(SystemPoolTagInformation) failed with NTSTATUS {status:#010x}"
    )]
    QueryFailed { status: u32 },
    #[error(
        "the pool-tag table kept growing past the buffer: {attempts} tries, the last asked for {wanted} bytes"
    )]
    KeptGrowing { attempts: usize, wanted: u64 },
    #[error(transparent)]
    Buffer(#[from] PoolTagInfoError),
    #[error("cannot list the loaded drivers: {0}")]
    Drivers(String),
}

/// One query of the pool-tag table into `buffer`: the `NTSTATUS` and the length the kernel
/// reports (the bytes written, or the bytes needed when the buffer is too small).
pub trait PoolTagQuery {
    fn query(&mut self, buffer: &mut [u8]) -> (i32, u32);
}

impl<F: FnMut(&mut [u8]) -> (i32, u32)> PoolTagQuery for F {
    fn query(&mut self, buffer: &mut [u8]) -> (i32, u32) {
        self(buffer)
    }
}

/// Asks for the pool-tag table, growing the buffer while the kernel answers
/// `STATUS_INFO_LENGTH_MISMATCH`, and returns the bytes it wrote.
pub fn query_with_retry(mut query: impl PoolTagQuery) -> Result<Vec<u8>, CollectError> {
    // About 3,000 tags on a busy server, 40 bytes each: most machines answer the first time.
    let mut len: usize = 160 * 1024;
    let mut wanted = 0;
    for _ in 0..QUERY_ATTEMPTS {
        let mut buffer = vec![0u8; len];
        let (status, returned) = query.query(&mut buffer);
        wanted = u64::from(returned);
        match status {
            STATUS_INFO_LENGTH_MISMATCH => {
                // What the kernel asked for, with room for tags added before the next try;
                // at least double, in case it reports no length.
                let asked = usize::try_from(returned).unwrap_or(usize::MAX);
                len = asked.saturating_add(asked / 8).max(len.saturating_mul(2));
            }
            s if s >= 0 => {
                buffer.truncate(usize::try_from(returned).unwrap_or(usize::MAX).min(len));
                return Ok(buffer);
            }
            s => return Err(status_error(s)),
        }
    }
    Err(CollectError::KeptGrowing {
        attempts: QUERY_ATTEMPTS,
        wanted,
    })
}

fn status_error(status: i32) -> CollectError {
    let status_bits = status as u32;
    match status {
        STATUS_NOT_IMPLEMENTED => CollectError::NotSupported {
            status: status_bits,
            meaning: "not implemented",
        },
        STATUS_INVALID_INFO_CLASS => CollectError::NotSupported {
            status: status_bits,
            meaning: "unknown information class",
        },
        STATUS_ACCESS_DENIED => CollectError::AccessDenied {
            status: status_bits,
        },
        _ => CollectError::QueryFailed {
            status: status_bits,
        },
    }
}

/// A loaded driver's image as Windows names it, with the version read from its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverFile {
    /// A Win32 path (`C:\Windows\system32\drivers\ntfs.sys`).
    pub path: String,
    pub file_version: Option<String>,
    pub product_version: Option<String>,
}

/// The driver list as CSV with the columns the analysis reads: `Name` (the image's file
/// name without extension), `ServiceName` left empty (the loaded images do not carry their
/// service's name, and the reader would otherwise take `Name` for it), `PathName`,
/// `FileVersion` and `ProductVersion`.
pub fn driver_list_csv(drivers: &[DriverFile]) -> String {
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let mut csv = String::from(
        "\"Name\",\"ServiceName\",\"PathName\",\"FileVersion\",\"ProductVersion\"\r\n",
    );
    for d in drivers {
        let file = d.path.rsplit(['\\', '/']).next().unwrap_or(&d.path);
        let stem = file.rsplit_once('.').map_or(file, |(stem, _)| stem);
        let _ = write!(
            csv,
            "{},\"\",{},{},{}\r\n",
            quote(stem),
            quote(&d.path),
            quote(d.file_version.as_deref().unwrap_or("")),
            quote(d.product_version.as_deref().unwrap_or(""))
        );
    }
    csv
}

/// A kernel image path as `GetDeviceDriverFileNameW` gives it (`\SystemRoot\system32\...`,
/// `\??\C:\...`, `\Windows\...`, or already `C:\...`) as a path a program can open.
pub fn win32_path(kernel_path: &str, system_root: &str, system_drive: &str) -> String {
    let root = system_root.trim_end_matches('\\');
    let lower = kernel_path.to_ascii_lowercase();
    if lower.starts_with("\\systemroot\\") {
        format!("{root}{}", &kernel_path["\\SystemRoot".len()..])
    } else if let Some(rest) = kernel_path.strip_prefix("\\??\\") {
        rest.to_owned()
    } else if kernel_path.starts_with('\\') && !kernel_path.starts_with("\\\\") {
        // `\Windows\system32\...`: rooted on the system drive.
        format!("{}{kernel_path}", system_drive.trim_end_matches('\\'))
    } else if !kernel_path.contains('\\') {
        // A bare file name: a driver in the drivers folder.
        format!("{root}\\system32\\drivers\\{kernel_path}")
    } else {
        kernel_path.to_owned()
    }
}

/// A driver file's versions from its version resource: the `FileVersion` string as Windows
/// shows it, else the numeric one.
pub fn file_versions(bytes: &[u8]) -> (Option<String>, Option<String>) {
    let Ok(info) = crate::driver::read_version_info(bytes) else {
        return (None, None);
    };
    let numeric = |v: Option<[u16; 4]>| v.map(|[a, b, c, d]| format!("{a}.{b}.{c}.{d}"));
    (
        info.file_version.or(numeric(info.file_version_numeric)),
        info.product_version
            .or(numeric(info.product_version_numeric)),
    )
}

/// What one `collect` gathered: the two files and what to tell the person.
#[derive(Debug, Clone)]
pub struct Collected {
    pub taken_at: OffsetDateTime,
    pub snapshot: PoolmonText,
    pub drivers_csv: String,
    pub tag_count: usize,
    pub driver_count: usize,
    pub warnings: Vec<String>,
}

impl Collected {
    /// The files' names for this sample: `pool-20261101T100000Z.txt`, `drivers-...csv`.
    pub fn file_names(&self) -> (String, String) {
        let stamp = format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
            self.taken_at.year(),
            u8::from(self.taken_at.month()),
            self.taken_at.day(),
            self.taken_at.hour(),
            self.taken_at.minute(),
            self.taken_at.second()
        );
        (format!("pool-{stamp}.txt"), format!("drivers-{stamp}.csv"))
    }
}

/// Builds the sample from a raw pool-tag buffer (laid out for `width`) and the drivers.
pub fn assemble(
    taken_at: OffsetDateTime,
    pool_buffer: &[u8],
    width: PointerWidth,
    drivers: &[DriverFile],
    mut warnings: Vec<String>,
) -> Result<Collected, CollectError> {
    let entries = pool_tag_info::parse(pool_buffer, width)?;
    let snapshot = write_poolmon(Some(taken_at), &pool_tag_info::rows(&entries));
    if !snapshot.left_out.is_empty() {
        let tags: Vec<String> = snapshot.left_out.iter().map(|t| format!("{t:?}")).collect();
        warnings.push(format!(
            "{} tag(s) poolmon's layout cannot carry exactly were left out of the snapshot: {}",
            tags.len(),
            tags.join(", ")
        ));
    }
    Ok(Collected {
        taken_at,
        tag_count: entries.len(),
        driver_count: drivers.len(),
        drivers_csv: driver_list_csv(drivers),
        snapshot,
        warnings,
    })
}

/// Reads this machine's pool tags and loaded drivers now.
#[cfg(windows)]
pub fn collect_now() -> Result<Collected, CollectError> {
    let taken_at = OffsetDateTime::now_utc();
    let buffer = query_with_retry(windows::query_pool_tags)?;
    let (drivers, warnings) = windows::loaded_drivers()?;
    assemble(taken_at, &buffer, PointerWidth::NATIVE, &drivers, warnings)
}

/// Reads this machine's pool tags and loaded drivers now: on Windows only.
#[cfg(not(windows))]
pub fn collect_now() -> Result<Collected, CollectError> {
    Err(CollectError::NotWindows {
        os: std::env::consts::OS,
    })
}

/// `15m`, `1h`, `30s`, `90` (seconds): the pause between samples of `collect --every`.
pub fn parse_interval(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not an interval: give a number with s, m or h (15m)"))?;
    let seconds = match unit.trim() {
        "" | "s" => n,
        "m" | "min" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        other => {
            return Err(format!(
                "{other:?} is not a unit of time: use s, m or h (15m)"
            ));
        }
    };
    if seconds < 10 {
        return Err(format!(
            "{text:?} is too short: samples need at least 10 seconds apart"
        ));
    }
    Ok(Duration::from_secs(seconds))
}

/// The `schtasks` command that runs `collect` as SYSTEM every `minutes`, for `exe` with
/// `args` (printed for a person to run; never run by poolsleuth).
pub fn schtasks_command(exe: &str, args: &str, minutes: u64) -> String {
    let run = format!("\\\"{exe}\\\" collect {args}");
    format!(
        "schtasks /Create /TN \"poolsleuth collect\" /SC MINUTE /MO {minutes} /RU SYSTEM /RL HIGHEST /F /TR \"{}\"",
        run.trim_end()
    )
}

#[cfg(test)]
mod tests;
