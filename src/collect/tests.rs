use super::*;
use crate::snapshot::{ParseOptions, parse_driver_list, parse_snapshots};
use crate::tag::PoolTag;

/// A kernel holding `table`: answers `STATUS_INFO_LENGTH_MISMATCH` with the length it needs
/// until the buffer is big enough, as `NtQuerySystemInformation` does; `grow` bytes are added
/// to the table after each refusal (tags allocated meanwhile).
struct Kernel {
    table: Vec<u8>,
    grow: usize,
    calls: Vec<usize>,
}

impl PoolTagQuery for &mut Kernel {
    fn query(&mut self, buffer: &mut [u8]) -> (i32, u32) {
        self.calls.push(buffer.len());
        let needed = u32::try_from(self.table.len()).unwrap();
        if buffer.len() < self.table.len() {
            self.table.extend(std::iter::repeat_n(0, self.grow));
            return (STATUS_INFO_LENGTH_MISMATCH, needed);
        }
        buffer[..self.table.len()].copy_from_slice(&self.table);
        (0, needed)
    }
}

#[test]
fn a_buffer_too_small_is_grown_to_what_the_kernel_asks_and_asked_again() {
    let mut table = vec![0u8; 400_000];
    table[..4].copy_from_slice(&10_000u32.to_le_bytes());
    let mut kernel = Kernel {
        table: table.clone(),
        grow: 4_000,
        calls: Vec::new(),
    };
    let got = query_with_retry(&mut kernel).unwrap();
    assert_eq!(got.len(), 404_000, "the bytes the kernel wrote, no more");
    assert_eq!(got[..400_000], table[..]);
    assert_eq!(kernel.calls.len(), 2, "{:?}", kernel.calls);
    assert!(kernel.calls[1] >= 404_000);
}

#[test]
fn a_table_that_keeps_growing_ends_in_an_error_not_a_loop() {
    let mut calls = 0;
    let err = query_with_retry(|buffer: &mut [u8]| {
        calls += 1;
        // Always a little more than was given.
        let needed = u32::try_from(buffer.len() + 1).unwrap();
        (STATUS_INFO_LENGTH_MISMATCH, needed)
    })
    .unwrap_err();
    assert!(
        matches!(err, CollectError::KeptGrowing { attempts: 8, .. }),
        "{err}"
    );
    assert_eq!(calls, 8);
}

#[test]
fn a_refused_query_says_why() {
    let refuse =
        |status: u32| query_with_retry(move |_: &mut [u8]| (status as i32, 0)).unwrap_err();
    assert!(
        refuse(0xC000_0002)
            .to_string()
            .contains("does not report pool tags")
    );
    assert!(
        refuse(0xC000_0003)
            .to_string()
            .contains("unknown information class")
    );
    assert!(refuse(0xC000_0022).to_string().contains("elevated"));
    assert!(refuse(0xC000_0017).to_string().contains("0xc0000017"));
}

#[test]
fn kernel_paths_become_paths_a_program_opens() {
    let p = |k| win32_path(k, "C:\\Windows", "C:");
    assert_eq!(
        p("\\SystemRoot\\system32\\ntoskrnl.exe"),
        "C:\\Windows\\system32\\ntoskrnl.exe"
    );
    assert_eq!(
        p("\\systemroot\\System32\\drivers\\ACPI.sys"),
        "C:\\Windows\\System32\\drivers\\ACPI.sys"
    );
    assert_eq!(p("\\??\\D:\\Tools\\leaky.sys"), "D:\\Tools\\leaky.sys");
    assert_eq!(
        p("\\Windows\\System32\\drivers\\x.sys"),
        "C:\\Windows\\System32\\drivers\\x.sys"
    );
    assert_eq!(p("ntfs.sys"), "C:\\Windows\\system32\\drivers\\ntfs.sys");
    assert_eq!(p("E:\\drv\\y.sys"), "E:\\drv\\y.sys");
}

#[test]
fn the_driver_list_reads_back_with_paths_and_versions() {
    let csv = driver_list_csv(&[
        DriverFile {
            path: "C:\\Windows\\system32\\drivers\\leaky.sys".into(),
            file_version: Some("1.2.0 (built by: \"WinDDK\")".into()),
            product_version: None,
        },
        DriverFile {
            path: "C:\\Windows\\system32\\ntoskrnl.exe".into(),
            file_version: None,
            product_version: Some("10.0.19041.1".into()),
        },
    ]);
    let drivers = parse_driver_list(csv.as_bytes()).unwrap();
    assert_eq!(drivers.len(), 2);
    assert_eq!(drivers[0].module_name, "leaky");
    assert_eq!(drivers[0].file_name.as_deref(), Some("leaky.sys"));
    assert_eq!(
        drivers[0]
            .version
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("1.2.0")
    );
    // No service name is invented from a file name.
    assert_eq!(drivers[0].service_name, None);
    assert_eq!(
        drivers[1]
            .version
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("10.0.19041.1")
    );
}

#[test]
fn a_sample_is_a_poolmon_log_with_its_time_and_a_driver_list() {
    let at = time::macros::datetime!(2026-11-01 10:00:00 UTC);
    let mut buffer = vec![0u8; 8 + 40];
    buffer[..4].copy_from_slice(&1u32.to_le_bytes());
    buffer[8..12].copy_from_slice(b"Io  ");
    buffer[8 + 24..8 + 28].copy_from_slice(&5u32.to_le_bytes());
    buffer[8 + 28..8 + 32].copy_from_slice(&2u32.to_le_bytes());
    buffer[8 + 32..8 + 40].copy_from_slice(&300u64.to_le_bytes());
    let sample = assemble(at, &buffer, PointerWidth::Bits64, &[], Vec::new()).unwrap();
    assert_eq!(
        sample.file_names(),
        (
            "pool-20261101T100000Z.txt".into(),
            "drivers-20261101T100000Z.csv".into()
        )
    );
    let parsed =
        parse_snapshots(sample.snapshot.text.as_bytes(), &ParseOptions::default()).unwrap();
    assert_eq!(parsed.snapshots[0].taken_at, Some(at));
    let row = &parsed.snapshots[0].rows[0];
    assert_eq!(
        (row.tag, row.allocs, row.frees, row.bytes),
        (PoolTag::from_bytes(*b"Io  "), Some(5), Some(2), 300)
    );
    // A broken buffer is the parser's error, not an empty sample.
    assert!(assemble(at, &buffer[..30], PointerWidth::Bits64, &[], Vec::new()).is_err());
}

#[test]
fn intervals_read_as_people_write_them() {
    assert_eq!(parse_interval("15m"), Ok(Duration::from_secs(900)));
    assert_eq!(parse_interval("1h"), Ok(Duration::from_secs(3600)));
    assert_eq!(parse_interval("90"), Ok(Duration::from_secs(90)));
    assert!(parse_interval("5s").unwrap_err().contains("too short"));
    assert!(
        parse_interval("15 fortnights")
            .unwrap_err()
            .contains("unit")
    );
    assert!(parse_interval("m").is_err());
}

#[test]
fn the_task_command_runs_collect_as_system_every_interval() {
    let cmd = schtasks_command("C:\\Tools\\poolsleuth.exe", "--server http://h:8080", 15);
    assert_eq!(
        cmd,
        "schtasks /Create /TN \"poolsleuth collect\" /SC MINUTE /MO 15 /RU SYSTEM /RL HIGHEST /F /TR \"\\\"C:\\Tools\\poolsleuth.exe\\\" collect --server http://h:8080\""
    );
}

#[cfg(not(windows))]
#[test]
fn collecting_off_windows_says_it_runs_on_windows_only() {
    let message = collect_now().unwrap_err().to_string();
    assert!(message.contains("runs on Windows only"), "{message}");
}
