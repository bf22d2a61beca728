//! When nothing reads as pool usage, say what the text looks like and what would help: a
//! driver binary, a tag list, a driver list, a KMDF in-flight recorder log, a debugger
//! session without pool rows, or prose without sizes.

use serde::Serialize;

use super::drivers::parse_driver_list_with_warnings;
use super::header::{Role, role_of};
use super::text::Input;
use super::{FORMATS_UNDERSTOOD, SnapshotError, SnapshotErrorKind};

/// What an input that is no pool snapshot is. Each has its own place to go, which the error
/// names (and the page links).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum NotASnapshot {
    /// A tag list (pooltag.txt, a table of tags and owners): imported as a list.
    TagList,
    /// The loaded-driver list (the PowerShell list with file versions, driverquery, their
    /// JSON): sent beside a snapshot.
    DriverList,
    /// A driver or program file: uploaded for scanning.
    DriverFile,
    /// A KMDF in-flight recorder log: framework events, not pool usage.
    KmdfLog,
    /// A debugger session without pool rows.
    DebuggerSession,
    /// Another binary file: an archive, a memory dump, an image, a document.
    OtherFile,
}

impl NotASnapshot {
    /// The JSON name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::TagList => "tag-list",
            Self::DriverList => "driver-list",
            Self::DriverFile => "driver-file",
            Self::KmdfLog => "kmdf-log",
            Self::DebuggerSession => "debugger-session",
            Self::OtherFile => "other-file",
        }
    }
}

const TAG_LIST: &str = "this is a tag list (`Tag - driver.sys - description` lines, as in pooltag.txt), \
     not pool usage: import it as a list (`poolsleuth import FILE --name NAME`, or POST it to \
     /api/v1/lists with the admin token), and send poolmon or !poolused output here";

const DRIVER_FILE: &str = "this is a driver file (a PE file), not pool usage: upload drivers on the \
     Upload drivers page (/upload), POST them to /api/v1/drivers, or run `poolsleuth scan` on \
     their folder; send poolmon or !poolused output here";

/// The error for an input that is `what`, with its message.
fn refused(what: NotASnapshot, line: Option<usize>, message: String) -> SnapshotError {
    SnapshotError {
        line,
        message,
        formats_understood: FORMATS_UNDERSTOOD,
        kind: SnapshotErrorKind::NotASnapshot(what),
    }
}

/// A binary file sent as a snapshot, by its magic bytes: the error that refuses it.
pub fn binary(bytes: &[u8]) -> Option<SnapshotError> {
    if bytes.starts_with(b"MZ") {
        let pe = bytes
            .get(0x3c..0x40)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .and_then(|at| bytes.get(at..at.checked_add(4)?))
            .is_some_and(|sig| sig == b"PE\0\0");
        let message = if pe {
            DRIVER_FILE.to_owned()
        } else {
            "this is an MZ executable, not pool usage: upload drivers on the Upload drivers page \
             (/upload), POST them to /api/v1/drivers, or run `poolsleuth scan` on their folder"
                .to_owned()
        };
        return Some(refused(NotASnapshot::DriverFile, None, message));
    }
    let what = if bytes.starts_with(b"PK\x03\x04") {
        "a ZIP archive"
    } else if bytes.starts_with(b"\x7fELF") {
        "an ELF executable"
    } else if bytes.starts_with(b"MDMP") {
        "a Windows memory dump (minidump)"
    } else if bytes.starts_with(b"PAGEDU64") || bytes.starts_with(b"PAGEDUMP") {
        "a Windows kernel memory dump"
    } else if bytes.starts_with(b"%PDF") {
        "a PDF document"
    } else if bytes.starts_with(b"\x89PNG") || bytes.starts_with(b"\xff\xd8\xff") {
        "an image (a screenshot?)"
    } else {
        return None;
    };
    let help = if what.contains("dump") {
        "open it in WinDbg and paste the output of `!poolused 2` (nonpaged) or `!poolused 4` \
         (paged)"
    } else {
        "send the text of poolmon (`poolmon -b -n file.txt`), `!poolused`, or a table of tags \
         and sizes"
    };
    Some(refused(
        NotASnapshot::OtherFile,
        None,
        format!("this is {what}, not pool-usage text: {help}"),
    ))
}

/// A text that readers did read some rows from, but that is mostly a tag list: pooltag.txt
/// has lines with numbers a table reader takes for sizes (`Nmdd - ... - 0 bytes`), and its
/// few rows read would be a wrong answer. `rows` is how many rows the reading found.
pub(crate) fn mostly_tag_list(input: &Input<'_>, rows: usize) -> Option<SnapshotError> {
    // Every entry holds ` - `: a text with no more of them than the rows read (a tool's table
    // has none) cannot be mostly a tag list. Counted at memchr's speed, instead of splitting
    // every line of every reading.
    let separators = memchr::memmem::find_iter(input.text().as_bytes(), b" - ")
        .take(rows.max(2) + 1)
        .count();
    if separators <= rows.max(2) {
        return None;
    }
    let mut entries = 0usize;
    let mut content = 0usize;
    let mut first = None;
    for (number, line) in input.lines().take(20_000) {
        let line = line.trim();
        if line.is_empty() || is_comment(line) {
            continue;
        }
        content += 1;
        if is_tag_list_entry(line) {
            entries += 1;
            first.get_or_insert(number);
        }
    }
    (entries >= 3 && entries * 2 >= content && rows < entries)
        .then(|| refused(NotASnapshot::TagList, first, TAG_LIST.to_owned()))
}

/// The error for text in which no reader found a row.
pub(crate) fn describe(
    input: &Input<'_>,
    first: usize,
    parser_error: Option<SnapshotError>,
) -> SnapshotError {
    let lines: Vec<&str> = input
        .lines()
        .map(|(_, l)| l.trim())
        .filter(|l| !l.is_empty())
        .take(2000)
        .collect();
    let lower = input.text().to_ascii_lowercase();
    let share = |test: &dyn Fn(&str) -> bool| {
        lines.iter().filter(|l| test(l)).count() as f64 / lines.len().max(1) as f64
    };
    let at = Some(first);
    if share(&is_tag_list_line) >= 0.5 || lines.iter().take(50).any(|l| names_tag_and_owner(l)) {
        return refused(NotASnapshot::TagList, at, TAG_LIST.to_owned());
    }
    if let Some(list) = driver_list(input, &lower) {
        return refused(
            NotASnapshot::DriverList,
            at,
            format!(
                "this is the loaded-driver list ({list}), not pool usage: send it beside a \
                 snapshot, as the driver list (the `drivers` part: `curl -F drivers=@FILE`, the \
                 driver list field of the /analyze page, or `poolsleuth analyze SNAPSHOT \
                 --drivers FILE`), so the answer knows which drivers are loaded"
            ),
        );
    }
    if lower.contains("wdflogdump")
        || lower.contains("in-flight recorder")
        || share(&is_ifr_line) >= 0.3
    {
        return refused(
            NotASnapshot::KmdfLog,
            at,
            "this is a KMDF in-flight recorder log (!wdflogdump), which records framework \
             events, not pool usage: capture `poolmon -b -n file.txt` or `!poolused 2` instead"
                .to_owned(),
        );
    }
    if lower.contains("kd>") || lower.contains("windows debugger") || lower.contains("bugcheck") {
        return refused(
            NotASnapshot::DebuggerSession,
            at,
            "this is a debugger session without pool rows: run `!poolused 2` (nonpaged, \
             sorted by bytes) or `!poolused 4` (paged) and paste its output"
                .to_owned(),
        );
    }
    let message = if !lower.bytes().any(|b| b.is_ascii_digit()) {
        "no pool usage found: the text holds no numbers. Send poolmon (`poolmon -b -n \
         file.txt`), `!poolused` output, or a table of tags and sizes"
            .to_owned()
    } else {
        let detail = parser_error
            .map(|e| format!(" (closest reading: {})", e.message))
            .unwrap_or_default();
        format!(
            "no pool usage found: expected a table or lines with a pool tag and a size, such \
             as poolmon's `Tag Type Allocs Frees Diff Bytes` or `| Tag | Bytes (MB) |`{detail}"
        )
    };
    SnapshotError {
        line: Some(first),
        message,
        formats_understood: FORMATS_UNDERSTOOD,
        kind: SnapshotErrorKind::Unreadable,
    }
}

/// Which loaded-driver list the text is, when the driver-list reader reads it as one: rows
/// with an image path, a file version or a driver type (a table of tags has none).
fn driver_list(input: &Input<'_>, lower: &str) -> Option<&'static str> {
    if lower.contains("module name")
        && (lower.contains("display name") || lower.contains("driver type"))
    {
        return Some("driverquery output");
    }
    let (drivers, _) = parse_driver_list_with_warnings(input.text().as_bytes()).ok()?;
    let listed = drivers
        .iter()
        .filter(|d| d.path.is_some() || d.version.is_some() || d.driver_type.is_some())
        .count();
    if listed == 0 || listed * 2 < drivers.len() {
        return None;
    }
    Some(if drivers.iter().any(|d| d.version.is_some()) {
        "the PowerShell list with file versions"
    } else if input.text().trim_start().starts_with(['[', '{']) {
        "JSON"
    } else {
        "driverquery output"
    })
}

/// A table header naming a tag column and an owner column (a tag list as a table).
fn names_tag_and_owner(line: &str) -> bool {
    let cells: Vec<&str> = line.split(['|', ',', ';', '\t']).collect();
    let has = |role: Role| cells.iter().any(|c| role_of(c) == role);
    cells.len() >= 2 && has(Role::Tag) && has(Role::Driver)
}

/// pooltag.txt's comment lines (`// Copyright`, `rem ...`).
fn is_comment(l: &str) -> bool {
    l.starts_with("//") || l.starts_with("rem ") || l == "rem"
}

/// `Abcd - foo.sys - description` with all three parts, a binary that is no number, and a
/// description: a tag list's entry, never a sentence such as `Leak - 300 MB - since Monday`.
fn is_tag_list_entry(l: &str) -> bool {
    let mut parts = l.splitn(3, " - ").map(str::trim);
    let (Some(tag), Some(binary), Some(description)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    (1..=4).contains(&tag.chars().count())
        && !tag.contains(char::is_whitespace)
        && !binary.is_empty()
        && !binary.starts_with(|c: char| c.is_ascii_digit())
        && !description.is_empty()
}

/// `Abcd - foo.sys - description` (pooltag.txt).
fn is_tag_list_line(l: &str) -> bool {
    if is_comment(l) {
        return true;
    }
    let mut parts = l.splitn(3, " - ");
    let tag = parts.next().unwrap_or("").trim();
    (1..=4).contains(&tag.chars().count()) && parts.next().is_some()
}

/// `12: FxPkgPnp::PnpEventCheckForDevicePresence - WDFDEVICE 0x...` (IFR records).
fn is_ifr_line(l: &str) -> bool {
    l.split_once(':').is_some_and(|(n, rest)| {
        n.trim().chars().all(|c| c.is_ascii_digit()) && rest.trim_start().starts_with("Fx")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn describe_text(text: &str) -> String {
        describe(&Input::from_str(text), 1, None).message
    }

    #[test]
    fn names_what_the_text_is() {
        let mut pe = vec![0u8; 0x100];
        pe[..2].copy_from_slice(b"MZ");
        pe[0x3c] = 0x80;
        pe[0x80..0x84].copy_from_slice(b"PE\0\0");
        let refused = binary(&pe).unwrap();
        assert_eq!(
            refused.kind,
            SnapshotErrorKind::NotASnapshot(NotASnapshot::DriverFile)
        );
        assert!(refused.message.contains("/upload"), "{refused}");
        assert!(binary(b"Tag Bytes").is_none());
        assert!(
            describe_text("Abcd - foo.sys - Foo buffers\nEfgh - bar.sys - Bar\n")
                .contains("tag list")
        );
        assert!(
            describe_text("\"Module Name\",\"Display Name\",\"Driver Type\"\n")
                .contains("driver list")
        );
        assert!(
            describe_text("1: FxPkgPnp::Dispatch - WDFDEVICE 0x1\n2: FxIoQueue::Cancel\n")
                .contains("in-flight recorder")
        );
        assert!(describe_text("0: kd> lm\nstart end module name\n").contains("debugger session"));
        assert!(describe_text("the pool keeps growing, please help").contains("no numbers"));
    }
}
