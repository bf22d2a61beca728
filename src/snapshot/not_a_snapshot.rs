//! When nothing reads as pool usage, say what the text looks like and what would help: a
//! driver binary, a tag list, a driver list, a KMDF in-flight recorder log, a debugger
//! session without pool rows, or prose without sizes.

use super::columns::{Role, role_of};
use super::text::Input;
use super::{FORMATS_UNDERSTOOD, SnapshotError, SnapshotErrorKind};

/// A binary file sent as a snapshot, by its magic bytes.
pub(crate) fn binary(bytes: &[u8]) -> Option<String> {
    if bytes.starts_with(b"MZ") {
        let pe = bytes
            .get(0x3c..0x40)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .and_then(|at| bytes.get(at..at + 4))
            .is_some_and(|sig| sig == b"PE\0\0");
        return Some(if pe {
            "this is a PE file (a driver or program), not a pool snapshot: upload drivers to \
             /api/v1/drivers or run `poolsleuth scan`, and send poolmon or !poolused output here"
                .into()
        } else {
            "this is an MZ executable, not a pool snapshot: upload drivers to /api/v1/drivers \
             or run `poolsleuth scan`"
                .into()
        });
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
    Some(format!("this is {what}, not pool-usage text: {help}"))
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
    let message = if share(&is_tag_list_line) >= 0.5
        || lines.iter().take(50).any(|l| names_tag_and_owner(l))
    {
        "this looks like a tag list (`Tag - driver.sys - description` lines, as in pooltag.txt), \
         not pool usage: import it as a list (`poolsleuth import FILE --name NAME` or POST \
         /api/v1/lists), and send poolmon or !poolused output here"
            .to_owned()
    } else if lower.contains("module name")
        && (lower.contains("display name") || lower.contains("driver type"))
    {
        "this looks like a driver list (driverquery), not pool usage: send it beside a snapshot \
         (the `drivers` part of the form, or --drivers) so the answer knows which drivers are \
         loaded"
            .to_owned()
    } else if lower.contains("wdflogdump")
        || lower.contains("in-flight recorder")
        || share(&is_ifr_line) >= 0.3
    {
        "this looks like a KMDF in-flight recorder log (!wdflogdump), which records framework \
         events, not pool usage: capture `poolmon -b -n file.txt` or `!poolused 2` instead"
            .to_owned()
    } else if lower.contains("kd>")
        || lower.contains("windows debugger")
        || lower.contains("bugcheck")
    {
        "this looks like a debugger session without pool rows: run `!poolused 2` (nonpaged, \
         sorted by bytes) or `!poolused 4` (paged) and paste its output"
            .to_owned()
    } else if !lower.bytes().any(|b| b.is_ascii_digit()) {
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

/// A table header naming a tag column and an owner column (a tag list as a table).
fn names_tag_and_owner(line: &str) -> bool {
    let cells: Vec<&str> = line.split(['|', ',', ';', '\t']).collect();
    let has = |role: Role| cells.iter().any(|c| role_of(c) == role);
    cells.len() >= 2 && has(Role::Tag) && has(Role::Driver)
}

/// `Abcd - foo.sys - description` (pooltag.txt).
fn is_tag_list_line(l: &str) -> bool {
    if l.starts_with("//") || l.starts_with("rem ") {
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
        assert!(binary(&pe).unwrap().contains("PE file"));
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
