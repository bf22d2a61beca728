//! The knowledge base's vocabulary: who owns a tag, how sure we are, and where we learned it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::driver::authenticode::SignatureNote;
use crate::driver::{DriverAnalysis, normalize_driver_name};
use crate::tag::PoolTag;

/// How much a tag → driver link can be trusted, strongest first.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Confidence {
    /// The tag constant was found at a pool-API call site in the driver's own code.
    CodeSite,
    /// KMDF's default tag, derived from the driver's service name.
    KmdfDefault,
    /// A curated tag list (pooltag.txt, our default knowledge base, an imported CSV).
    List,
    /// A 4-byte string near pool-API use in a binary whose code yielded nothing better.
    #[serde(rename = "string")]
    StringGuess,
}

impl Confidence {
    pub const ALL: [Self; 4] = [
        Self::CodeSite,
        Self::KmdfDefault,
        Self::List,
        Self::StringGuess,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::CodeSite => "code-site",
            Self::KmdfDefault => "kmdf-default",
            Self::List => "list",
            Self::StringGuess => "string",
        }
    }

    /// Human wording for pages.
    pub fn label(self) -> &'static str {
        match self {
            Self::CodeSite => "high: found at a pool-API call in the driver's code",
            Self::KmdfDefault => "medium: KMDF default tag of the driver's service name",
            Self::List => "medium: listed in a tag list",
            Self::StringGuess => "low: a string in the binary (a guess)",
        }
    }
}

impl fmt::Display for Confidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Confidence {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown confidence {s:?}"))
    }
}

/// The binary and component that own a tag, as far as a source says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DriverOwner {
    /// Lower-case file name (`ntfs.sys`, `ntoskrnl.exe`); `None` when the source does not know.
    pub driver: Option<String>,
    /// The owning component inside the binary (`nt!mm`, `win32k!CFoo::operator new`).
    pub component: Option<String>,
}

impl DriverOwner {
    /// Reads pooltag.txt's binary column: `afd.sys`, `nt!mm`, `win32kbase!CFoo::operator new`,
    /// `<unknown>`, `<multiple>`, `FsLib`.
    pub fn from_list_field(field: &str) -> Self {
        let field = field.trim();
        if field.is_empty() || field.eq_ignore_ascii_case("<unknown>") {
            return Self::default();
        }
        if field.starts_with('<') {
            // `<multiple>`: several binaries, none named.
            return Self {
                driver: None,
                component: Some(field.to_owned()),
            };
        }
        if let Some((module, _)) = field.split_once('!') {
            return Self {
                driver: Some(module_file_name(module)),
                component: Some(field.to_owned()),
            };
        }
        if field.contains('.') && !field.contains(char::is_whitespace) {
            return Self {
                driver: Some(normalize_driver_name(field)),
                component: None,
            };
        }
        Self {
            driver: None,
            component: Some(field.to_owned()),
        }
    }

    /// True for components of the Windows kernel image itself.
    pub fn is_kernel(&self) -> bool {
        self.driver.as_deref() == Some("ntoskrnl.exe")
    }
}

/// The name of a Windows kernel component as lists write it (`nt!mm` → Memory Manager), for
/// the components whose names Microsoft's documentation uses; `None` for others.
pub fn kernel_component_name(component: &str) -> Option<&'static str> {
    let (module, part) = component.split_once('!')?;
    if module_file_name(module) != "ntoskrnl.exe" {
        return None;
    }
    Some(match part.trim().to_ascii_lowercase().as_str() {
        "mm" => "Memory Manager",
        "io" => "I/O Manager",
        "ob" => "Object Manager",
        "ps" => "Process Manager",
        "se" => "Security Reference Monitor",
        "cc" => "Cache Manager",
        "cm" => "Configuration Manager (registry)",
        "pnp" => "Plug and Play Manager",
        "po" => "Power Manager",
        "ex" => "Executive",
        "ke" => "Kernel",
        "tm" => "Kernel Transaction Manager",
        "etw" => "Event Tracing for Windows",
        "alpc" => "Advanced Local Procedure Call",
        "fsrtl" => "File System Runtime Library",
        "vf" => "Driver Verifier",
        "pf" => "Prefetcher",
        "wnf" => "Windows Notification Facility",
        _ => return None,
    })
}

/// The file that a debugger module name (`nt`, `win32kbase`, `tcpip`) stands for.
pub fn module_file_name(module: &str) -> String {
    let module = module.trim().to_ascii_lowercase();
    match module.as_str() {
        "nt" | "ntoskrnl" | "ntkrnlmp" | "ntkrnlpa" | "ntkrpamp" => "ntoskrnl.exe".into(),
        "hal" => "hal.dll".into(),
        _ if module.contains('.') => module,
        _ => format!("{module}.sys"),
    }
}

/// The name without its extension: `ntfs.sys` → `ntfs`.
pub fn driver_stem(name: &str) -> &str {
    name.rsplit_once('.').map_or(name, |(stem, _)| stem)
}

/// One attribution of a tag: everything one source says about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TagEntry {
    pub tag: PoolTag,
    /// A wildcard row (`Afd?`) that stands for a family of tags.
    pub is_pattern: bool,
    #[serde(flatten)]
    pub owner: DriverOwner,
    pub description: String,
    pub vendor: Option<String>,
    pub product: Option<String>,
    pub version: Option<String>,
    /// SHA-256 of the analyzed binary, for attributions that came from a driver file.
    pub sha256: Option<String>,
    pub confidence: Confidence,
    pub source: String,
    /// Line in the source list (lists only).
    pub line: Option<u64>,
    #[serde(flatten)]
    pub provenance: Provenance,
}

/// Where one attribution can be checked, as its list row gave it: the facts of a community
/// list are only as good as the source a reader can open.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Provenance {
    /// The page, or the repository file and line at a named commit, that shows the tag.
    pub source_url: Option<String>,
    /// How that source shows it (the constant, the pool call, the build file naming the driver).
    pub source_note: Option<String>,
    /// For a tag found in an analyzed driver file: the name the file was uploaded or scanned
    /// under, when it is not the driver's own name (`windivert64_v2.sys` for `windivert.sys`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uploaded_as: Option<String>,
    /// For a tag found in an analyzed driver file: what the file's signature says ("signed by
    /// X (verified)", "... but the file was changed after signing", "catalog-signed by ...").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<SignatureNote>,
}

impl Provenance {
    pub fn is_empty(&self) -> bool {
        self.source_url.is_none()
            && self.source_note.is_none()
            && self.uploaded_as.is_none()
            && self.signature.is_none()
    }
}

/// What kind of thing a source is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    /// A list compiled into the binary (the default list, the community list).
    Default,
    /// An imported tag list.
    List,
    /// An analyzed driver file.
    Driver,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::List => "list",
            Self::Driver => "driver",
        }
    }
}

impl FromStr for SourceKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::Default, Self::List, Self::Driver]
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown source kind {s:?}"))
    }
}

/// A source of attributions, stored in the index beside its entries (one commit for both).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SourceInfo {
    pub name: String,
    pub kind: SourceKind,
    /// The list's own version or date, as the importer gave it.
    pub version: Option<String>,
    /// Where it came from: a file name or URL.
    pub origin: Option<String>,
    /// For an analyzed driver file: the driver's own name (see
    /// [`DriverAnalysis::driver_name`]), which may differ from the file name it came with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver_name: Option<String>,
    /// RFC 3339 time of the import.
    pub imported_at: String,
    pub entries: u64,
    /// For an analyzed driver file: the whole analysis (identity, version, signer, evidence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<Box<DriverAnalysis>>,
}

/// A source name is a short label users type in URLs and commands.
pub fn validate_source_name(name: &str) -> Result<(), String> {
    // URLs and paths read these as "this directory" and "the parent": `/lists/../export` is
    // normalised away before it reaches the server, so such a source could not be exported.
    if matches!(name, "." | "..") {
        return Err(format!(
            "source name {name:?} is reserved (it means a directory in paths and URLs); choose a name with a letter or digit"
        ));
    }
    let ok = !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-+@:".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "source name {name:?} must be 1-100 characters of letters, digits and . _ - + @ :"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_from_list_fields() {
        let nt = DriverOwner::from_list_field("nt!mm");
        assert_eq!(nt.driver.as_deref(), Some("ntoskrnl.exe"));
        assert!(nt.is_kernel());
        assert_eq!(
            DriverOwner::from_list_field("Afd.SYS").driver.as_deref(),
            Some("afd.sys")
        );
        assert_eq!(
            DriverOwner::from_list_field("<unknown>"),
            DriverOwner::default()
        );
        assert_eq!(
            DriverOwner::from_list_field("FsLib").component.as_deref(),
            Some("FsLib")
        );
        assert_eq!(
            DriverOwner::from_list_field("dxgkrnl!CFlip::operator new")
                .driver
                .as_deref(),
            Some("dxgkrnl.sys")
        );
    }

    #[test]
    fn driver_names_normalize() {
        assert_eq!(
            normalize_driver_name(r"C:\Windows\System32\drivers\Ntfs.sys"),
            "ntfs.sys"
        );
        assert_eq!(driver_stem("ntfs.sys"), "ntfs");
        assert_eq!(driver_stem("ntfs"), "ntfs");
    }

    #[test]
    fn source_names_are_checked() {
        assert!(validate_source_name("wdk-pooltag").is_ok());
        assert!(validate_source_name("").is_err());
        assert!(validate_source_name("a b").is_err());
        assert!(validate_source_name("<script>").is_err());
    }
}
