//! Driver analysis: which pool tags a Windows kernel driver (`.sys`) uses, and who made it.
//!
//! [`analyze`] reads a PE image and reports its identity (hash, machine, link time), its
//! version resource, its Authenticode signature (verified), KMDF binding, and the pool tags it passes to the
//! kernel's tag-taking APIs, with the call sites as evidence. It never panics on hostile input
//! and bounds all work by [`AnalysisLimits`].

pub mod apis;
pub mod authenticode;
mod code_sites;
pub mod identity;
mod image;
pub mod kmdf;
pub mod version_info;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use apis::ApiKind;
pub use identity::Machine;
pub use kmdf::{DriverObject, KmdfInfo, kmdf_default_tag};
pub use version_info::VersionInfo;

use crate::tag::PoolTag;

/// Bounds on the work one [`analyze`] call may do.
#[derive(Debug, Clone)]
pub struct AnalysisLimits {
    /// Files larger than this are refused (default 64 MiB).
    pub max_file_bytes: u64,
    /// Instructions decoded over all passes of the code scan (default 40 million).
    pub max_instructions: u64,
    /// How many levels of driver-local allocation wrappers are followed (default 3).
    pub max_wrapper_depth: u32,
    /// Call sites kept per tag as evidence (default 32).
    pub max_sites_per_tag: usize,
}

impl Default for AnalysisLimits {
    fn default() -> Self {
        Self {
            max_file_bytes: 64 * 1024 * 1024,
            max_instructions: 40_000_000,
            max_wrapper_depth: 3,
            max_sites_per_tag: 32,
        }
    }
}

/// Why a file could not be analyzed. Messages are meant for the person who uploaded it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DriverError {
    #[error("the file is empty (0 bytes); upload the driver's .sys file")]
    Empty,
    #[error("the file is {size} bytes, over the {max}-byte limit for driver analysis")]
    TooLarge { size: u64, max: u64 },
    #[error("not a Windows driver (PE) file: {0}")]
    NotPe(String),
    #[error("this is a user-mode program or DLL, not a kernel driver: {reason}")]
    UserModePe { reason: String },
    #[error("the driver file is damaged or truncated: {0}")]
    Malformed(String),
}

/// What a tag found in a driver is to the driver, and how it was found. Only some kinds make
/// the driver the owner of pool bytes under the tag: see [`TagKind::is_pool_tag`].
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
pub enum TagKind {
    /// An allocation tag: a constant the driver's code passes to a pool API (an allocation, a
    /// free, a lookaside list), directly or through a wrapper of one.
    CodeSite,
    /// An allocation tag the driver passes from a writable global variable no code seen here
    /// writes: its initial value in the file, which the driver may still change at run time.
    GlobalInitialValue,
    /// The KMDF framework's tag for this driver: the `DriverPoolTag` its `WdfDriverCreate`
    /// call sets; the framework allocates the driver's objects under it.
    KmdfFramework,
    /// The tag KMDF derives from the service name, for a driver whose `WdfDriverCreate` call
    /// sets no `DriverPoolTag`.
    KmdfDefault,
    /// A remove-lock tag only (`IoInitializeRemoveLockEx`): no pool is allocated under it
    /// unless Driver Verifier is on, so it makes the driver no owner of pool bytes.
    RemoveLock,
    /// A plausible 4-byte constant near pool-API usage; low confidence.
    StringGuess,
}

impl TagKind {
    /// Whether pool bytes under the tag can be the driver's: every kind but a remove lock's.
    pub fn is_pool_tag(self) -> bool {
        self != Self::RemoveLock
    }

    /// The kind in words, as pages and reports show it.
    pub fn label(self) -> &'static str {
        match self {
            Self::CodeSite => "allocation tag",
            Self::GlobalInitialValue => "initial value of a global",
            Self::KmdfFramework => "KMDF framework tag",
            Self::KmdfDefault => "KMDF default tag",
            Self::RemoveLock => "remove-lock tag",
            Self::StringGuess => "string guess",
        }
    }

    /// The kind of a tag from the uses of its call sites: an allocation tag if any site passes
    /// it to a pool API as a constant; else a global's initial value if a site passes it so;
    /// else the KMDF framework tag; else a remove lock's.
    fn of_sites(sites: &[CallSite]) -> Self {
        let pool_use = |s: &&CallSite| s.usage.is_pool_use();
        if sites
            .iter()
            .filter(pool_use)
            .any(|s| s.global_rva.is_none())
        {
            Self::CodeSite
        } else if sites.iter().any(|s| s.usage.is_pool_use()) {
            Self::GlobalInitialValue
        } else if sites.iter().any(|s| s.usage == ApiKind::FrameworkTag) {
            Self::KmdfFramework
        } else {
            Self::RemoveLock
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = DriverConfidence)]
pub enum Confidence {
    High,
    Medium,
    Low,
}

/// One piece of evidence for a tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CallSite {
    /// The kernel API (or KMDF function) the tag reaches.
    pub api: String,
    /// RVA of the call instruction.
    pub rva: u32,
    /// RVA of the driver's own wrapper function the call goes through, if any.
    pub via_wrapper: Option<u32>,
    pub usage: ApiKind,
    /// RVA of the writable global variable whose initial value the call passes as its tag;
    /// `None` when the tag is a constant in the code.
    #[serde(default)]
    pub global_rva: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FoundTag {
    pub tag: PoolTag,
    pub kind: TagKind,
    /// The tag belongs to a statically linked WDK library (e.g. wdmsec.lib), not the driver's
    /// own code.
    pub from_static_library: bool,
    /// The driver ORs `PROTECTED_POOL` (bit 31) into this tag.
    pub protected: bool,
    pub confidence: Confidence,
    pub sites: Vec<CallSite>,
}

/// A driver function found to forward a tag parameter to a pool API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WrapperInfo {
    pub rva: u32,
    pub api: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DriverAnalysis {
    pub file_name: String,
    /// Lower-case hex SHA-256 of the whole file.
    pub sha256: String,
    pub size: u64,
    pub machine: Machine,
    pub timestamp: u32,
    pub timestamp_iso: Option<String>,
    pub is_kernel_driver: bool,
    /// Why the image was judged kernel or not.
    pub kernel_evidence: String,
    pub version: VersionInfo,
    /// Subject CN of the embedded signature's signer, whether or not the signature verifies
    /// (`signature` says); `None` = no readable embedded signature.
    pub signer: Option<String>,
    /// The signature's verdict: valid, hash mismatch, bad signature, unsigned, or (once a
    /// catalog that lists the file is stored) catalog-signed.
    #[serde(default)]
    pub signature: authenticode::SignatureCheck,
    /// The file's Authenticode hashes, by which catalogs list it (`None` for analyses made
    /// before poolsleuth computed them).
    #[serde(default)]
    pub authenticode: Option<authenticode::ImageHashes>,
    pub kmdf: Option<KmdfInfo>,
    /// Tags, by kind (allocation tags first, as [`TagKind`] orders them), then by tag.
    pub tags: Vec<FoundTag>,
    /// Pool-API call sites whose tag is computed at run time.
    pub unresolved_sites: Vec<CallSite>,
    pub wrappers: Vec<WrapperInfo>,
    /// Instructions decoded over all passes of the code scan (work done, for budgeting).
    pub instructions_decoded: u64,
    pub warnings: Vec<String>,
}

/// The version resource of a PE file, without the code scan (`collect` lists the versions of
/// the loaded drivers).
pub fn read_version_info(bytes: &[u8]) -> Result<VersionInfo, DriverError> {
    let image = image::Image::parse(bytes)?;
    Ok(version_info::read(&image, &mut Vec::new()))
}

/// Analyses one driver file.
pub fn analyze(
    file_name: &str,
    bytes: &[u8],
    limits: &AnalysisLimits,
) -> Result<DriverAnalysis, DriverError> {
    analyze_hashed(file_name, bytes, identity::sha256_hex(bytes), limits)
}

/// [`analyze`] for a caller that has hashed the file already (a scan hashes first, to skip
/// files it knows); `sha256` is the lower-case hex SHA-256 of `bytes`.
pub fn analyze_hashed(
    file_name: &str,
    bytes: &[u8],
    sha256: String,
    limits: &AnalysisLimits,
) -> Result<DriverAnalysis, DriverError> {
    let file_name = &printable_file_name(file_name);
    let size = bytes.len() as u64;
    if size == 0 {
        return Err(DriverError::Empty);
    }
    if size > limits.max_file_bytes {
        return Err(DriverError::TooLarge {
            size,
            max: limits.max_file_bytes,
        });
    }
    let image = image::Image::parse(bytes)?;
    let mut warnings = image.warnings.clone();
    let (is_kernel_driver, kernel_evidence) = match identity::kernel_verdict(&image) {
        identity::KernelVerdict::Kernel(r) => (true, r),
        identity::KernelVerdict::User(reason) => return Err(DriverError::UserModePe { reason }),
        identity::KernelVerdict::Unclear(r) => {
            warnings.push(format!("not clearly a kernel driver: {r}"));
            (false, r)
        }
    };
    let version = version_info::read(&image, &mut warnings);
    let layout = authenticode::Layout::of(bytes).ok_or_else(|| {
        DriverError::Malformed("the PE headers end before the optional header".to_owned())
    })?;
    let authenticode::Embedded {
        check: signature,
        first_signer: signer,
    } = authenticode::verify_embedded(bytes, &layout, &image.certificates);
    if let Some(warning) = signature.warning() {
        warnings.push(format!("signature: {warning}"));
    }
    let authenticode = Some(authenticode::ImageHashes::of(bytes, &layout));

    let code = code_sites::analyze(
        &image,
        &code_sites::CodeLimits {
            max_instructions: limits.max_instructions,
            max_wrapper_depth: limits.max_wrapper_depth,
        },
    );
    warnings.extend(code.warnings.iter().cloned());
    let base = image.image_base;
    let rva = |va: u64| va.wrapping_sub(base) as u32;

    let mut by_tag: BTreeMap<PoolTag, FoundTag> = BTreeMap::new();
    for s in &code.sites {
        let tag = PoolTag::from_u32_le(s.value);
        let entry = by_tag.entry(tag).or_insert_with(|| FoundTag {
            tag,
            kind: TagKind::CodeSite,
            from_static_library: apis::is_static_library_tag(tag.bytes()),
            protected: false,
            confidence: Confidence::High,
            sites: Vec::new(),
        });
        entry.protected |= s.value & PoolTag::PROTECTED_BIT != 0;
        let site = CallSite {
            api: s.api.to_owned(),
            rva: rva(s.call_va),
            via_wrapper: s.via_wrapper.map(rva),
            usage: s.kind,
            global_rva: s.from_global.map(rva),
        };
        if entry.sites.len() < limits.max_sites_per_tag && !entry.sites.contains(&site) {
            entry.sites.push(site);
        }
    }
    for t in by_tag.values_mut() {
        t.sites.sort_by_key(|s| s.rva);
        t.kind = TagKind::of_sites(&t.sites);
        // A tag seen only at frees (never allocated here) is still evidence, but weaker.
        if t.sites.iter().all(|s| s.usage == ApiKind::Free) {
            t.confidence = Confidence::Medium;
        }
    }
    let mut tags: Vec<FoundTag> = by_tag.into_values().collect();
    let globals = tags
        .iter()
        .filter(|t| t.kind == TagKind::GlobalInitialValue)
        .map(|t| format!("`{t}`", t = t.tag))
        .collect::<Vec<_>>();
    if !globals.is_empty() {
        let (what, verb) = if globals.len() == 1 {
            ("tag", "is the initial value of a global variable")
        } else {
            ("tags", "are the initial values of global variables")
        };
        warnings.push(format!(
            "{what} {} {verb} the driver passes to a pool API; the driver may change it at \
             run time",
            globals.join(", ")
        ));
    }
    if !code.not_tags.is_empty() {
        let mut values: Vec<String> = code
            .not_tags
            .iter()
            .map(|s| format!("{:#010x} ({} at RVA {:#x})", s.value, s.api, rva(s.call_va)))
            .collect();
        values.dedup();
        warnings.push(format!(
            "{} call site(s) pass a value that is no character tag where a tag goes, so none is \
             reported: {}",
            values.len(),
            values.join(", ")
        ));
    }

    let kmdf = image
        .imports
        .iter()
        .any(|i| i.name == "WdfVersionBind")
        .then(|| {
            kmdf::info(
                &image,
                file_name,
                code.bind_info,
                &code.driver_creates,
                &mut warnings,
            )
        });
    if let Some(k) = &kmdf
        && k.driver_object == kmdf::DriverObject::DefaultTag
        && !tags.iter().any(|t| t.tag == k.default_tag)
    {
        tags.push(FoundTag {
            tag: k.default_tag,
            kind: TagKind::KmdfDefault,
            from_static_library: false,
            protected: false,
            confidence: Confidence::Medium,
            sites: Vec::new(),
        });
    }

    // Guesses only for a driver no call site gave a tag.
    if tags.iter().all(|t| t.sites.is_empty()) && !code.guesses.is_empty() {
        let mut guesses: BTreeMap<PoolTag, FoundTag> = BTreeMap::new();
        for &(v, va) in &code.guesses {
            let tag = PoolTag::from_u32_le(v);
            let e = guesses.entry(tag).or_insert_with(|| FoundTag {
                tag,
                kind: TagKind::StringGuess,
                from_static_library: apis::is_static_library_tag(tag.bytes()),
                protected: false,
                confidence: Confidence::Low,
                sites: Vec::new(),
            });
            let site = CallSite {
                api: "constant in a function calling a pool API".to_owned(),
                rva: rva(va),
                via_wrapper: None,
                usage: ApiKind::Alloc,
                global_rva: None,
            };
            if e.sites.len() < limits.max_sites_per_tag && !e.sites.contains(&site) {
                e.sites.push(site);
            }
        }
        warnings.push(format!(
            "no tag constant reached a pool API call; {} low-confidence guesses from constants near pool-API calls",
            guesses.len()
        ));
        tags.extend(guesses.into_values());
    }

    let mut unresolved: Vec<CallSite> = code
        .unresolved
        .iter()
        .map(|s| CallSite {
            api: s.api.to_owned(),
            rva: rva(s.call_va),
            via_wrapper: s.via_wrapper.map(rva),
            usage: s.kind,
            global_rva: s.from_global.map(rva),
        })
        .collect();
    unresolved.sort_by_key(|s| s.rva);
    unresolved.dedup();
    if !unresolved.is_empty() {
        warnings.push(format!(
            "{} pool-API call site(s) pass a tag computed at run time",
            unresolved.len()
        ));
    }
    let wrappers = code
        .wrappers
        .iter()
        .map(|(va, w)| WrapperInfo {
            rva: rva(*va),
            api: w.api.to_owned(),
        })
        .collect();

    tags.sort_by_key(|t| (t.kind, t.tag));

    Ok(DriverAnalysis {
        file_name: file_name.to_owned(),
        sha256,
        size,
        machine: Machine::from_coff(image.machine),
        timestamp: image.timestamp,
        timestamp_iso: identity::timestamp_iso(image.timestamp),
        is_kernel_driver,
        kernel_evidence,
        version,
        signer,
        signature,
        authenticode,
        kmdf,
        tags,
        unresolved_sites: unresolved,
        wrappers,
        instructions_decoded: code.instructions,
        warnings,
    })
}

impl DriverAnalysis {
    /// The code-site tags (what the driver's code passes to pool APIs).
    pub fn code_site_tags(&self) -> Vec<PoolTag> {
        self.tags
            .iter()
            .filter(|t| t.kind == TagKind::CodeSite)
            .map(|t| t.tag)
            .collect()
    }

    /// The driver's name, lower-case: the file name Windows loads it by, as its version
    /// resource gives it (`OriginalFilename`, else `InternalName`), else the name it was
    /// uploaded under. Builds uploaded as `windivert64_v1.sys` and `windivert32_v2.sys` are
    /// all `windivert.sys`: versions of one driver.
    pub fn driver_name(&self) -> String {
        let uploaded = normalize_driver_name(&self.file_name);
        let extension = uploaded
            .rsplit_once('.')
            .map_or("sys", |(_, ext)| ext)
            .to_owned();
        [&self.version.original_filename, &self.version.internal_name]
            .into_iter()
            .flatten()
            .find_map(|name| own_file_name(name, &extension))
            .unwrap_or(uploaded)
    }

    /// The name the file was uploaded under (lower-case), when it is not the driver's name.
    pub fn uploaded_as(&self) -> Option<String> {
        let uploaded = normalize_driver_name(&self.file_name);
        (uploaded != self.driver_name()).then_some(uploaded)
    }
}

/// A file name from a version resource, lower-case, when it is a plain file name (no path,
/// nothing Windows forbids in a name); one without an extension (`InternalName` is often
/// `VBoxUSB`) takes `extension`.
fn own_file_name(name: &str, extension: &str) -> Option<String> {
    let name = name.trim();
    let plain = !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && !name.ends_with('.')
        && name
            .chars()
            .all(|c| !c.is_control() && !"\\/:*?\"<>|".contains(c));
    if !plain {
        return None;
    }
    let name = name.to_ascii_lowercase();
    Some(if name.contains('.') {
        name
    } else {
        format!("{name}.{extension}")
    })
}

/// A file name as stored and shown: control characters (a NUL, an escape sequence, a line
/// break an upload can carry) become U+FFFD, so a stored name cannot corrupt a page, a log line
/// or a terminal.
pub fn printable_file_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_control() {
                char::REPLACEMENT_CHARACTER
            } else {
                c
            }
        })
        .collect()
}

/// Driver names compare case-insensitively (Windows file names); store them lower-case.
pub fn normalize_driver_name(name: &str) -> String {
    let name = name.trim();
    let base = name.rsplit(['\\', '/']).next().unwrap_or(name);
    base.to_ascii_lowercase()
}
