//! Display-ready values for the HTML templates: every string here is plain text that the
//! templates escape; links are built from percent-encoded path segments.

use crate::driver::{DriverAnalysis, DriverObject, TagKind};
use crate::index::{MatchKind, SearchHit};
use crate::knowledge::TagEntry;
use crate::tag::PoolTag;
use crate::unknown_tag::NextStep;
use crate::vendor::VendorDirectory;

/// Percent-encodes one path segment (everything but RFC 3986 unreserved characters).
pub fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

pub fn tag_href(tag: PoolTag) -> String {
    format!("/tags/{}", path_segment(&tag.to_string()))
}

pub fn driver_href(driver: &str) -> String {
    format!("/drivers/{}", path_segment(driver))
}

pub use crate::format::{counted, thousands};

/// How a source is shown where space is short: an analyzed driver's source
/// (`driver:<sha256>`) becomes `foo.sys 4.0.1.2 · d684e72…` with a link to the driver's page;
/// a list keeps its name and has no link.
pub fn source_link(source: &str, driver: &str, version: &str) -> (String, String) {
    match source.strip_prefix(crate::import::DRIVER_SOURCE_PREFIX) {
        Some(sha256) if !driver.is_empty() => {
            let short: String = sha256.chars().take(7).collect();
            let label = if version.is_empty() {
                format!("{driver} · {short}…")
            } else {
                format!("{driver} {version} · {short}…")
            };
            (label, driver_href(driver))
        }
        _ => (source.to_owned(), String::new()),
    }
}

/// A tag as shown on a page: exact text with a visible mark for trailing padding.
#[derive(Debug, Clone)]
pub struct TagView {
    /// The escaped tag with trailing blanks shown as `·` so `Io  ` reads as `Io··`.
    pub shown: String,
    /// The exact escaped text (for titles and copy/paste).
    pub exact: String,
    pub href: String,
}

impl TagView {
    pub fn new(tag: PoolTag) -> Self {
        Self {
            shown: crate::format::tag_shown(tag),
            exact: tag.to_string(),
            href: tag_href(tag),
        }
    }
}

#[derive(Debug, Clone)]
pub struct EntryView {
    pub tag: TagView,
    pub is_pattern: bool,
    pub driver: String,
    pub driver_href: String,
    pub component: String,
    pub description: String,
    pub vendor: String,
    pub version: String,
    pub confidence: &'static str,
    pub confidence_label: &'static str,
    /// The source's full name (a title), its short label and, for a driver, its page.
    pub source: String,
    pub source_label: String,
    pub source_href: String,
    pub line: String,
    /// An http(s) link to what shows the fact (checked on import), or empty.
    pub source_url: String,
    pub source_note: String,
    pub matched: &'static str,
    /// For a driver file's tag: what its signature says, and the style that goes with it.
    pub signature: String,
    pub signature_class: &'static str,
}

impl EntryView {
    pub fn new(entry: &TagEntry) -> Self {
        let driver = entry.owner.driver.clone().unwrap_or_default();
        let version = entry.version.clone().unwrap_or_default();
        let (source_label, source_href) = source_link(&entry.source, &driver, &version);
        Self {
            tag: TagView::new(entry.tag),
            is_pattern: entry.is_pattern,
            driver_href: if driver.is_empty() {
                String::new()
            } else {
                driver_href(&driver)
            },
            driver,
            component: entry.owner.component.clone().unwrap_or_default(),
            description: entry.description.clone(),
            vendor: entry.vendor.clone().unwrap_or_default(),
            version,
            confidence: entry.confidence.as_str(),
            confidence_label: entry.confidence.label(),
            source: entry.source.clone(),
            source_label,
            source_href,
            line: entry.line.map(|l| l.to_string()).unwrap_or_default(),
            source_url: entry.provenance.source_url.clone().unwrap_or_default(),
            source_note: entry.provenance.source_note.clone().unwrap_or_default(),
            matched: "",
            signature: entry
                .provenance
                .signature
                .as_ref()
                .map(|n| match &n.warning {
                    Some(w) => format!("{}: {w}", n.summary),
                    None => n.summary.clone(),
                })
                .unwrap_or_default(),
            signature_class: entry
                .provenance
                .signature
                .as_ref()
                .map_or("sig-none", |n| n.class()),
        }
    }

    pub fn from_hit(hit: &SearchHit) -> Self {
        Self {
            matched: match hit.match_kind {
                MatchKind::Tag => "tag",
                MatchKind::TagAnyCase => "tag, other case",
                MatchKind::Driver => "driver",
                MatchKind::Vendor => "vendor",
                MatchKind::Text => "words",
            },
            ..Self::new(&hit.entry)
        }
    }
}

/// One step to try about an unknown tag, for the search page and the tag's page.
#[derive(Debug, Clone)]
pub struct NextStepView {
    pub text: String,
    /// The step sends the drivers: link the Upload drivers page.
    pub upload_page: bool,
    /// Commands to run, each group with what it is for (the PowerShell upload, the scan on
    /// the poolsleuth host; the WPR start and stop, then the xperf pair).
    pub commands: Vec<CommandsView>,
    /// The WPR profile to save first, when the step is a pool trace.
    pub profile_file: String,
    pub profile: String,
    /// The known reversed tag.
    pub tag: Option<TagView>,
}

/// Commands to run together, after a few words on where.
#[derive(Debug, Clone)]
pub struct CommandsView {
    pub intro: String,
    pub lines: Vec<String>,
}

impl NextStepView {
    pub fn new(step: &NextStep) -> Self {
        let plain = |text: &String| Self {
            text: text.clone(),
            upload_page: false,
            commands: Vec::new(),
            profile_file: String::new(),
            profile: String::new(),
            tag: None,
        };
        let block = |intro: &str, lines: &[String]| CommandsView {
            intro: intro.to_owned(),
            lines: lines.to_vec(),
        };
        match step {
            NextStep::ScanDrivers {
                text,
                command,
                powershell,
                poolsleuth_exe,
                page,
            } => Self {
                upload_page: page.is_some(),
                commands: poolsleuth_exe
                    .iter()
                    .map(|exe| block("On the Windows machine, with poolsleuth.exe:", std::slice::from_ref(exe)))
                    .chain(powershell.iter().map(|ps| {
                        block("Or on the Windows machine, in PowerShell:", std::slice::from_ref(ps))
                    }))
                    .chain([block(
                        "Or on the poolsleuth host, with the drivers folder copied there as drivers:",
                        std::slice::from_ref(command),
                    )])
                    .collect(),
                ..plain(text)
            },
            NextStep::PoolTrace { text, trace: None } => plain(text),
            NextStep::PoolTrace {
                text,
                trace: Some(trace),
            } => Self {
                commands: vec![
                    block("In an elevated prompt, with WPR:", &trace.wpr_commands),
                    block("Or with xperf:", &trace.xperf_commands),
                ],
                profile_file: trace.profile_file.clone(),
                profile: trace.profile.clone(),
                ..plain(text)
            },
            NextStep::ReversedTag { text, tag, .. } => Self {
                tag: Some(TagView::new(*tag)),
                ..plain(text)
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_encode_blanks_and_escapes() {
        assert_eq!(tag_href(PoolTag::parse("Io").unwrap()), "/tags/Io%20%20");
        assert_eq!(
            tag_href(PoolTag::from_bytes([1, b'<', b'/', b'a'])),
            "/tags/%5Cx01%3C%2Fa"
        );
        assert_eq!(TagView::new(PoolTag::parse("Io").unwrap()).shown, "Io··");
    }

    #[test]
    fn driver_sources_are_short_links() {
        let sha = "d684e72a".repeat(8);
        assert_eq!(
            source_link(&format!("driver:{sha}"), "foo.sys", "4.0.1.2"),
            (
                "foo.sys 4.0.1.2 · d684e72…".to_owned(),
                "/drivers/foo.sys".to_owned()
            )
        );
        assert_eq!(
            source_link("wdk-pooltag", "foo.sys", "1"),
            ("wdk-pooltag".to_owned(), String::new())
        );
    }
}

/// One analyzed driver file, ready for the driver page.
#[derive(Debug, Clone)]
pub struct AnalysisView {
    pub file_name: String,
    pub sha256: String,
    /// `12,345 bytes (12.1 KiB)`.
    pub size: String,
    pub machine: String,
    pub timestamp: String,
    pub kernel: String,
    pub company: String,
    pub description: String,
    pub file_version: String,
    pub product: String,
    pub product_version: String,
    pub original_filename: String,
    pub copyright: String,
    /// "signed by X (verified)", "unsigned", ..., with its style and the issuers.
    pub signature: String,
    pub signature_class: &'static str,
    pub issuers: String,
    /// What a reader must see beside the vendor, or empty.
    pub signature_warning: String,
    pub vendor: String,
    pub kmdf: String,
    pub tags: Vec<FoundTagView>,
    pub unresolved_sites: usize,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct FoundTagView {
    pub tag: TagView,
    /// What the tag is to the driver, in words ("allocation tag", "remove-lock tag").
    pub kind: &'static str,
    /// The `conf-*` style of how firmly the tag is the driver's.
    pub kind_class: &'static str,
    pub static_library: bool,
    pub evidence: String,
}

impl AnalysisView {
    pub fn new(analysis: &DriverAnalysis, vendors: &VendorDirectory) -> Self {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        let version = &analysis.version;
        Self {
            file_name: analysis.file_name.clone(),
            sha256: analysis.sha256.clone(),
            size: format!(
                "{} bytes ({})",
                thousands(analysis.size),
                crate::format::human_bytes(analysis.size)
            ),
            machine: format!("{:?}", analysis.machine),
            timestamp: analysis
                .timestamp_iso
                .clone()
                .unwrap_or_else(|| format!("{:#x}", analysis.timestamp)),
            kernel: if analysis.is_kernel_driver {
                format!("yes ({})", analysis.kernel_evidence)
            } else {
                format!("unclear ({})", analysis.kernel_evidence)
            },
            company: text(&version.company_name),
            description: text(&version.file_description),
            file_version: crate::version::Version::of_driver(analysis).unwrap_or_default(),
            product: text(&version.product_name),
            product_version: text(&version.product_version),
            original_filename: text(&version.original_filename),
            copyright: text(&version.legal_copyright),
            signature: analysis.signature.summary(),
            signature_class: analysis.signature.note().class(),
            issuers: analysis.signature.issuer_chain(),
            signature_warning: analysis.signature.warning().unwrap_or_default(),
            vendor: crate::import::driver_vendor(analysis, vendors).unwrap_or_default(),
            kmdf: analysis.kmdf.as_ref().map_or_else(String::new, |k| {
                let tag = match (k.driver_object, k.driver_pool_tag) {
                    (DriverObject::DefaultTag, _) => format!(
                        "; service {:?} → default tag {}",
                        k.service_name,
                        TagView::new(k.default_tag).shown
                    ),
                    (DriverObject::OwnTag, Some(own)) => {
                        format!("; framework tag {}", TagView::new(own).shown)
                    }
                    _ => String::new(),
                };
                format!(
                    "KMDF {}; {}{tag}",
                    k.version.as_deref().unwrap_or("(version unknown)"),
                    k.driver_object.describe(),
                )
            }),
            tags: analysis
                .tags
                .iter()
                .map(|found| FoundTagView {
                    tag: TagView::new(found.tag),
                    kind: found.kind.label(),
                    kind_class: match found.kind {
                        TagKind::CodeSite | TagKind::KmdfFramework => "code-site",
                        TagKind::GlobalInitialValue | TagKind::KmdfDefault => "kmdf-default",
                        TagKind::RemoveLock | TagKind::StringGuess => "string",
                    },
                    static_library: found.from_static_library,
                    evidence: found
                        .sites
                        .iter()
                        .take(8)
                        .map(|s| match s.global_rva {
                            Some(global) => {
                                format!("{} @ {:#x} (global @ {global:#x})", s.api, s.rva)
                            }
                            None => format!("{} @ {:#x}", s.api, s.rva),
                        })
                        .collect::<Vec<_>>()
                        .join(", "),
                })
                .collect(),
            unresolved_sites: analysis.unresolved_sites.len(),
            warnings: analysis.warnings.clone(),
        }
    }
}
