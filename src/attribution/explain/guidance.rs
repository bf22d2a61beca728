//! What the admin does next: update advice per suspect and the pool-trace commands for
//! OS-owned tags.

use std::fmt::Write as _;

use super::super::model::{EvidenceKind, Guidance, GuidanceKind, PoolTrace};
use crate::tag::PoolTag;
use crate::version::Version;

/// WPR profiles (and xperf) filter at most this many pool tags.
pub const MAX_TRACE_TAGS: usize = 4;

/// Where to get an update: the vendor and its support page, as far as they are known.
fn vendor_site(vendor: Option<&str>, support_url: Option<&str>) -> String {
    match (vendor, support_url) {
        (Some(v), Some(u)) => format!("{v} ({u})"),
        (Some(v), None) => v.to_owned(),
        (None, Some(u)) => u.to_owned(),
        (None, None) => "the vendor".to_owned(),
    }
}

/// Up to the five newest of `known` (oldest first), as a person reads them.
fn known_list(known: &[Version]) -> String {
    let shown: Vec<&str> = known
        .iter()
        .rev()
        .take(5)
        .rev()
        .map(Version::as_str)
        .collect();
    let more = if known.len() > shown.len() {
        format!(" (and {} older)", known.len() - shown.len())
    } else {
        String::new()
    };
    format!("{}{more}", shown.join(", "))
}

/// What to do about a suspect. `on_machine` is the version the machine's driver list shows;
/// only that version is ever called the newest known, as no other is known to run there.
#[allow(clippy::too_many_arguments)]
pub(super) fn guidance(
    driver: &str,
    os: bool,
    best: EvidenceKind,
    on_machine: Option<&Version>,
    known: &[Version],
    vendor: Option<&str>,
    support_url: Option<&str>,
) -> Guidance {
    let vendor_site = vendor_site(vendor, support_url);
    if os {
        return Guidance {
            kind: GuidanceKind::OsComponent,
            text: format!(
                "part of Windows ({driver}): Windows itself rarely leaks; usually another driver that passes requests through it (antivirus, backup, encryption or storage software) holds the memory. A pool trace of its tags names the driver that allocates it"
            ),
        };
    }
    let prefix = if best == EvidenceKind::FilterDriver {
        "a loaded third-party filter driver that may hold the OS-owned tags: confirm with the pool trace, then "
    } else {
        ""
    };
    let newest = known.last();
    let (kind, text) = match (on_machine, newest) {
        (Some(seen), Some(newest)) if newest.newer_than(seen) => (
            GuidanceKind::Update,
            format!(
                "update to {newest} (version {seen} on this machine, by your driver list); get it from {vendor_site}"
            ),
        ),
        (Some(seen), Some(_)) => (
            GuidanceKind::NewestKnown,
            format!(
                "you run the newest known version: contact the vendor, {vendor_site}, with the report below; an earlier version may not leak (version {seen} on this machine, by your driver list)"
            ),
        ),
        (None, Some(newest)) => (
            GuidanceKind::CheckVersion,
            format!(
                "versions known: {}; add the driver list with versions to see which one this machine runs, and make sure it is {newest} or later; otherwise contact {vendor_site}",
                known_list(known)
            ),
        ),
        (Some(seen), None) => (
            GuidanceKind::ContactVendor,
            format!(
                "version {seen} on this machine; no other version is known here: check {vendor_site} for an update, or send them the report below"
            ),
        ),
        (None, None) => (
            GuidanceKind::ContactVendor,
            format!("check {vendor_site} for an update, or send them the report below"),
        ),
    };
    Guidance {
        kind,
        text: format!("{prefix}{text}"),
    }
}

/// A scanned version of a driver that no longer allocates a leaking tag.
pub(super) struct FixedVersion {
    pub version: Version,
    /// Scanned versions that do allocate it, oldest first.
    pub allocating: Vec<Version>,
}

/// Update advice naming the version whose code no longer allocates the leaking tag; `None`
/// when the machine already runs that version or a later one (the ordinary advice holds).
pub(super) fn fixed_version_guidance(
    tag: PoolTag,
    fix: &FixedVersion,
    on_machine: Option<&Version>,
    vendor: Option<&str>,
    support_url: Option<&str>,
) -> Option<Guidance> {
    let tag = tag.trimmed();
    let from = match (vendor, support_url) {
        (Some(v), Some(u)) => format!("; get it from {v} ({u})"),
        (Some(v), None) => format!("; get it from {v}"),
        (None, Some(u)) => format!("; get it from {u}"),
        (None, None) => String::new(),
    };
    let fixed = &fix.version;
    let allocating = known_list(&fix.allocating);
    let text = match on_machine {
        Some(seen) if !fixed.newer_than(seen) => return None,
        Some(seen) => format!(
            "update to {fixed}: `{tag}` is no longer allocated by that version (it is by \
             {allocating}; version {seen} on this machine, by your driver list){from}"
        ),
        None => format!(
            "the newest version that no longer allocates `{tag}` is {fixed} (it is allocated by \
             {allocating}): update to {fixed} if you run an older one{from}"
        ),
    };
    Some(Guidance {
        kind: GuidanceKind::Update,
        text,
    })
}

/// One trace per four tags. Tags that cannot be written on a command line (non-printable
/// bytes, quotes, inner blanks) are left out.
///
/// The syntax follows Microsoft's references (not run here, as there is no Windows): xperf's
/// `-PoolTag <P1>+<P2>+<P3>+<P4>` with the `POOL` kernel flag and the `PoolAlloc` stack walks;
/// and the WPR profile schema, whose `<PoolTags>` holds at most four `<PoolTag Value="…"/>`
/// of one to four characters under a `SystemProvider` with the `Pool` keyword and the
/// `PoolAllocation` stacks. `wpr -start FILE!NAME -filemode` picks the profile whose `Name` is
/// NAME and whose `LoggingMode` is `File`.
pub fn pool_traces(tags: &[PoolTag]) -> Vec<PoolTrace> {
    let usable: Vec<String> = tags
        .iter()
        .filter(|t| t.is_printable())
        .map(PoolTag::trimmed)
        .filter(|t| {
            !t.is_empty()
                && !t.contains(' ')
                && t.chars()
                    .all(|c| c.is_ascii_graphic() && !"\"&<>|^%+!'`".contains(c))
        })
        .collect();
    let mut seen = Vec::new();
    for t in usable {
        if !seen.contains(&t) {
            seen.push(t);
        }
    }
    seen.chunks(MAX_TRACE_TAGS)
        .map(|chunk| {
            let tags: Vec<String> = chunk.to_vec();
            let stem: String = tags
                .iter()
                .map(|t| {
                    t.chars()
                        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                        .collect::<String>()
                })
                .collect::<Vec<_>>()
                .join("-");
            let profile_file = format!("pool-{stem}.wprp");
            let etl = format!("pool-{stem}.etl");
            let mut profile = String::new();
            profile.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
            profile.push_str(
                "<WindowsPerformanceRecorder Version=\"1.0\" Author=\"poolsleuth\">\n  <Profiles>\n",
            );
            profile.push_str("    <SystemCollector Id=\"PoolCollector\" Name=\"NT Kernel Logger\">\n      <BufferSize Value=\"1024\"/>\n      <Buffers Value=\"256\"/>\n    </SystemCollector>\n");
            profile.push_str("    <SystemProvider Id=\"PoolProvider\">\n      <Keywords>\n        <Keyword Value=\"ProcessThread\"/>\n        <Keyword Value=\"Loader\"/>\n        <Keyword Value=\"Pool\"/>\n      </Keywords>\n      <Stacks>\n        <Stack Value=\"PoolAllocation\"/>\n        <Stack Value=\"PoolAllocationSession\"/>\n      </Stacks>\n      <PoolTags>\n");
            for t in &tags {
                let _ = writeln!(profile, "        <PoolTag Value=\"{t}\"/>");
            }
            profile.push_str("      </PoolTags>\n    </SystemProvider>\n");
            profile.push_str("    <Profile Id=\"PoolTags.Verbose.File\" Name=\"PoolTags\" Description=\"Pool allocations of selected tags, with stacks\" LoggingMode=\"File\" DetailLevel=\"Verbose\">\n      <Collectors>\n        <SystemCollectorId Value=\"PoolCollector\">\n          <SystemProviderId Value=\"PoolProvider\"/>\n        </SystemCollectorId>\n      </Collectors>\n    </Profile>\n");
            profile.push_str("  </Profiles>\n</WindowsPerformanceRecorder>\n");
            let wpr_commands = vec![
                format!("wpr -start {profile_file}!PoolTags -filemode"),
                format!("wpr -stop {etl}"),
            ];
            let xperf_commands = vec![
                format!(
                    "xperf -on PROC_THREAD+LOADER+POOL -stackwalk PoolAlloc+PoolAllocSession -PoolTag {} -BufferSize 1024 -MinBuffers 256 -MaxBuffers 1024",
                    tags.join("+")
                ),
                format!("xperf -d {etl}"),
            ];
            PoolTrace {
                tags,
                profile_file,
                profile,
                wpr_commands,
                xperf_commands,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traces_hold_at_most_four_tags_each() {
        let tags: Vec<PoolTag> = ["File", "Toke", "Mmdi", "Proc", "NtFC", "Io  ", "a b"]
            .iter()
            .map(|t| PoolTag::parse(t).unwrap())
            .collect();
        let traces = pool_traces(&tags);
        assert_eq!(traces.len(), 2);
        assert_eq!(traces[0].tags, ["File", "Toke", "Mmdi", "Proc"]);
        assert_eq!(traces[1].tags, ["NtFC", "Io"]);
        assert_eq!(
            traces[0].wpr_commands[0],
            "wpr -start pool-File-Toke-Mmdi-Proc.wprp!PoolTags -filemode"
        );
        assert!(traces[0].xperf_commands[0].contains("-PoolTag File+Toke+Mmdi+Proc "));
        assert_eq!(traces[0].profile.matches("<PoolTag Value=").count(), 4);
        assert!(traces[1].profile.contains("<PoolTag Value=\"Io\"/>"));
    }

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap()
    }

    #[test]
    fn update_guidance_compares_versions_by_number() {
        let known = [v("1.2.0"), v("1.10.0")];
        let g = guidance(
            "x.sys",
            false,
            EvidenceKind::List,
            Some(&v("1.9.0")),
            &known,
            Some("Contoso"),
            None,
        );
        assert_eq!(g.kind, GuidanceKind::Update);
        assert!(g.text.starts_with("update to 1.10.0"), "{}", g.text);
        let g = guidance(
            "x.sys",
            false,
            EvidenceKind::List,
            Some(&v("1.10.0")),
            &known,
            None,
            None,
        );
        assert_eq!(g.kind, GuidanceKind::NewestKnown);
        assert!(g.text.contains("an earlier version may not leak"));
    }

    #[test]
    fn a_version_written_shorter_is_the_same_version() {
        // The driver list says `2.2`, the scanned file `2.2.0.0`: no update to offer.
        let g = guidance(
            "windivert.sys",
            false,
            EvidenceKind::CodeSite,
            Some(&v("2.2")),
            &[v("1.3"), v("2.2.0.0")],
            Some("Basil"),
            None,
        );
        assert_eq!(g.kind, GuidanceKind::NewestKnown, "{}", g.text);
        assert!(!g.text.contains("update"), "{}", g.text);
        assert!(
            g.text.contains("(version 2.2 on this machine"),
            "{}",
            g.text
        );
    }

    #[test]
    fn newest_is_said_only_of_the_version_on_the_machine() {
        // Not in the driver list: the known versions are named, none is said to run.
        let g = guidance(
            "windivert.sys",
            false,
            EvidenceKind::CodeSite,
            None,
            &[v("1.3"), v("2.2")],
            Some("Basil"),
            None,
        );
        assert_eq!(g.kind, GuidanceKind::CheckVersion, "{}", g.text);
        assert!(!g.text.contains("newest known"), "{}", g.text);
        assert!(g.text.contains("versions known: 1.3, 2.2"), "{}", g.text);
    }
}
