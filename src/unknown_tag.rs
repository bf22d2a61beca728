//! What to do about a tag no source knows, in the order to try: scan the machine's drivers,
//! capture a pool trace, and look at the tag reversed when the reverse is known.

use serde::Serialize;

use crate::attribution::{PoolTrace, pool_traces};
use crate::driver_upload::{DriverUpload, ScanTarget, TOKEN_PLACEHOLDER, WINDOWS_DRIVERS};
use crate::index::{IndexError, SearchIndex};
use crate::tag::PoolTag;

/// At most this many drivers of the reversed tag are named.
const MAX_REVERSED_DRIVERS: usize = 5;

/// One thing to try about an unknown tag.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(tag = "step", rename_all = "kebab-case")]
pub enum NextStep {
    /// The driver that allocates with the tag passes it to a pool API in its code, where a
    /// scan of the machine's driver files finds it. The ways to send them to this server:
    /// `page` in a browser, `poolsleuth_exe` or `powershell` on the Windows machine,
    /// `command` on the poolsleuth host with a copy of the drivers folder.
    ScanDrivers {
        text: String,
        command: String,
        powershell: Option<String>,
        poolsleuth_exe: Option<String>,
        page: Option<String>,
    },
    /// A pool trace narrowed to the tag records the allocating stacks while the leak grows.
    /// `trace` is absent for a tag that cannot be written on a command line.
    PoolTrace {
        text: String,
        trace: Option<PoolTrace>,
    },
    /// The tag's bytes reversed are a known tag: someone who read the tag from source code
    /// (the C constant `'Xyzw'` is `wzyX` in memory) may have typed it the wrong way round.
    ReversedTag {
        text: String,
        tag: PoolTag,
        drivers: Vec<String>,
    },
}

/// The steps for a tag the knowledge base does not know, in the order to try them; the scan
/// sends the drivers to `target`, the server that was asked.
pub fn next_steps(
    index: &SearchIndex,
    tag: PoolTag,
    target: &ScanTarget,
) -> Result<Vec<NextStep>, IndexError> {
    let shown = tag.trimmed();
    let upload = DriverUpload::new(target);
    let mut steps = vec![
        NextStep::ScanDrivers {
            text: format!(
                "Upload the machine's drivers ({WINDOWS_DRIVERS}\\*.sys) for scanning: the driver that allocates with {shown} passes it to a pool API in its code, and the scan finds it there. Use the Upload drivers page, or send them from the Windows machine with poolsleuth.exe or the PowerShell command, or copy the folder to the poolsleuth host as drivers and run poolsleuth scan (put the server's admin token in place of {TOKEN_PLACEHOLDER})."
            ),
            command: upload.poolsleuth,
            powershell: upload.powershell,
            poolsleuth_exe: upload.poolsleuth_exe,
            page: upload.page,
        },
        NextStep::PoolTrace {
            text: format!(
                "Capture a pool trace narrowed to {shown} while the leak grows: it records the allocating call stacks and names the driver for certain."
            ),
            trace: pool_traces(&[tag]).into_iter().next(),
        },
    ];
    let reversed = tag.reversed();
    if reversed != tag {
        let report = index.tag_report(reversed)?;
        if report.is_known() {
            let mut drivers: Vec<String> = report
                .attributions
                .iter()
                .chain(&report.pattern_matches)
                .filter_map(|e| e.owner.driver.clone())
                .collect();
            drivers.sort();
            drivers.dedup();
            drivers.truncate(MAX_REVERSED_DRIVERS);
            let owners = if drivers.is_empty() {
                String::new()
            } else {
                format!(" ({})", drivers.join(", "))
            };
            steps.push(NextStep::ReversedTag {
                text: format!(
                    "The tag reversed, {}, is known{owners}: a tag read from source code is reversed in memory (the C constant 'Xyzw' is the tag wzyX), so check which of the two the machine shows.",
                    reversed.trimmed()
                ),
                tag: reversed,
                drivers,
            });
        }
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::{ListSource, import_list};
    use crate::vendor::VendorDirectory;

    #[test]
    fn the_steps_come_in_order_and_the_reverse_only_when_known() {
        let dir = tempfile::tempdir().unwrap();
        let index = SearchIndex::open(dir.path()).unwrap();
        let source = ListSource {
            name: "s".into(),
            version: None,
            origin: None,
            format: None,
        };
        import_list(
            &index,
            &VendorDirectory::embedded(),
            &source,
            b"wzyX - xyz.sys - d\n",
        )
        .unwrap();
        let steps = next_steps(
            &index,
            PoolTag::parse("Xyzw").unwrap(),
            &ScanTarget::UnknownServer,
        )
        .unwrap();
        assert!(matches!(steps[0], NextStep::ScanDrivers { .. }));
        let NextStep::PoolTrace {
            trace: Some(trace), ..
        } = &steps[1]
        else {
            panic!("{:?}", steps[1]);
        };
        assert_eq!(trace.tags, ["Xyzw"]);
        let NextStep::ReversedTag { tag, drivers, .. } = &steps[2] else {
            panic!("{:?}", steps[2]);
        };
        assert_eq!(tag.to_string(), "wzyX");
        assert_eq!(drivers, &["xyz.sys"]);
        assert_eq!(
            next_steps(
                &index,
                PoolTag::parse("Abcd").unwrap(),
                &ScanTarget::UnknownServer
            )
            .unwrap()
            .len(),
            2
        );
    }
}
