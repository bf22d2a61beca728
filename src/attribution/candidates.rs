//! Candidates: the drivers that may own each tag, from every source in one place (a
//! `!verifier` caller, the knowledge base, a wildcard list row, the snapshot's driver column, a
//! KMDF default tag of a loaded driver, a tag growing in step with a known one, a loaded filter
//! driver above an OS-owned tag), each weighed by its evidence.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::OnceLock;

use smallvec::SmallVec;

use super::Analyzer;
use super::kb::{self, TagLocation};
use super::model::{CandidateOrigin, EvidenceKind, NOT_LOADED_FACTOR, OS_FACTOR, OwnerKind};
use super::series::Series;
use crate::driver::normalize_driver_name;
use crate::knowledge::{Confidence, TagEntry, module_file_name};
use crate::snapshot::{LoadedDriver, mapped_driver_files};
use crate::tag::PoolTag;

const INBOX_DRIVERS: &str = include_str!("inbox_drivers.txt");

/// A candidate while ranking: borrowed from the knowledge view where possible, and small
/// (32 bytes), as most of a big snapshot's tags carry one.
#[derive(Clone)]
pub(super) struct Cand<'a> {
    /// The driver's number (see [`Analyzer::driver_id`]): candidates are compared and summed
    /// per driver by number, not by name.
    pub driver_id: u32,
    pub kind: EvidenceKind,
    pub os: bool,
    pub loaded: Option<bool>,
    pub weight: f64,
    pub entry: Option<&'a TagEntry>,
    /// What a candidate from anywhere but an exact knowledge-base attribution carries. Those
    /// are few, and a knowledge-base candidate's name is in the view's name table
    /// ([`Analyzer::name`]), read only for the candidates shown.
    pub extra: Option<Box<CandExtra<'a>>>,
}

const _: () = assert!(std::mem::size_of::<Cand<'static>>() <= 32);

/// The name and origin of a candidate that is not an exact knowledge-base attribution.
#[derive(Clone)]
pub(super) struct CandExtra<'a> {
    pub driver: Cow<'a, str>,
    pub origin: CandidateOrigin,
    pub detail: Detail<'a>,
}

/// What tied a candidate that is not a knowledge-base row to its tag (put in words by
/// [`explain`](super::explain)).
#[derive(Clone)]
pub(super) enum Detail<'a> {
    /// `!verifier` named this caller (`module!function+off`).
    VerifierCaller(&'a str),
    /// `!verifier` named this module.
    VerifierModule(&'a str),
    /// A wildcard row of a tag list (the entry's tag).
    WildcardRow,
    /// The snapshot's driver column said this.
    DriverColumn(&'a str),
    /// The KMDF default tag of this service name.
    KmdfService(&'a str),
    /// Grows together with `tag`, which this driver owns.
    SameGrowth { tag: PoolTag },
    /// A loaded third-party filter driver above an OS-owned tag.
    FilterDriver,
}

impl<'a> Cand<'a> {
    /// The knowledge-base source name, or the origin of a candidate without an entry (read
    /// only for the candidates shown: the entry is not touched while ranking).
    pub fn source(&self) -> &'a str {
        match (self.entry, &self.extra) {
            (Some(e), _) => e.source.as_str(),
            (None, Some(extra)) => extra.origin.as_str(),
            (None, None) => "",
        }
    }

    pub fn source_url(&self) -> Option<String> {
        self.entry.and_then(|e| e.provenance.source_url.clone())
    }
}

/// A tag's candidates: most tags have none or one, which then needs no allocation.
pub(super) type Cands<'a> = SmallVec<[Cand<'a>; 1]>;

/// The loaded drivers by lower-case file name, and by the KMDF default tag of their service.
pub(super) struct LoadedDrivers<'a> {
    pub by_file: rustc_hash::FxHashMap<String, &'a LoadedDriver>,
    pub by_kmdf_tag: rustc_hash::FxHashMap<PoolTag, Vec<&'a LoadedDriver>>,
}

impl<'a> LoadedDrivers<'a> {
    pub fn new(drivers: Option<&'a [LoadedDriver]>) -> Self {
        let mut by_file = rustc_hash::FxHashMap::default();
        let mut by_kmdf_tag: rustc_hash::FxHashMap<PoolTag, Vec<&LoadedDriver>> =
            rustc_hash::FxHashMap::default();
        for driver in drivers.into_iter().flatten() {
            by_file.insert(driver_file(driver), driver);
            if let Some(tag) = kmdf_default_tag(service_of(driver)) {
                by_kmdf_tag.entry(tag).or_default().push(driver);
            }
        }
        Self {
            by_file,
            by_kmdf_tag,
        }
    }
}

impl<'a> Analyzer<'a> {
    /// Whether a KMDF default tag the knowledge base holds for a driver (derived from the name
    /// its file was scanned under) is that driver's on this machine: without a driver list,
    /// or when the list does not name the driver, the file name is all there is; when it
    /// names it, the default tag comes from its service name there (its first four
    /// characters, case kept), and a tag from the file name that differs is not the driver's.
    fn default_tag_of_listed_service(&self, driver_id: u32, tag: PoolTag) -> bool {
        let driver = self.kb.driver_name(driver_id);
        match self.loaded.by_file.get(driver) {
            Some(listed) => kmdf_default_tag(service_of(listed)) == Some(tag),
            None => true,
        }
    }

    /// Whether the driver list names the candidate's driver (`None` without a list).
    fn loaded_state(&self, c: &Cand<'a>) -> Option<bool> {
        self.input.drivers.as_ref()?;
        let driver = self.name(c);
        Some(
            self.loaded_driver(driver, self.kb.driver(driver)).is_some()
                || (c.os && is_kernel_image(driver)),
        )
    }

    /// The driver list's row for a driver: by its name, or by a name its files were uploaded
    /// under (the machine's `windivert64.sys` is the driver `windivert.sys`).
    pub(super) fn loaded_driver(
        &self,
        driver: &str,
        facts: Option<&kb::DriverFacts>,
    ) -> Option<&'a LoadedDriver> {
        self.loaded.by_file.get(driver).copied().or_else(|| {
            facts?
                .uploaded_as
                .iter()
                .find_map(|name| self.loaded.by_file.get(name).copied())
        })
    }

    /// A candidate from the snapshot, the driver list or a group (not a knowledge-base row).
    pub(super) fn make_cand(
        &self,
        driver: Cow<'a, str>,
        kind: EvidenceKind,
        entry: Option<&'a TagEntry>,
        origin: CandidateOrigin,
        detail: Detail<'a>,
    ) -> Cand<'a> {
        // A file name the machine or the snapshot uses for a driver the knowledge base knows
        // by its own name is that driver: one driver, one suspect.
        let driver = match driver {
            Cow::Owned(name) if self.kb.driver_named(&name) != name => {
                Cow::Owned(self.kb.driver_named(&name).to_owned())
            }
            other => other,
        };
        let os = entry.is_some_and(is_os_entry) || self.is_os_driver(&driver);
        let driver_id = self.driver_id(&driver);
        self.weigh(Cand {
            driver_id,
            kind,
            os,
            loaded: None,
            weight: 0.0,
            entry,
            extra: Some(Box::new(CandExtra {
                driver,
                origin,
                detail,
            })),
        })
    }

    /// A candidate from an exact knowledge-base attribution, which knows the rest already.
    fn kb_cand(&self, a: &kb::Attribution<'a>, driver_id: u32) -> Cand<'a> {
        self.weigh(Cand {
            driver_id,
            kind: EvidenceKind::from_confidence(a.confidence),
            os: a.os,
            loaded: None,
            weight: 0.0,
            entry: Some(a.entry),
            extra: None,
        })
    }

    /// Sets whether the candidate is loaded, and its weight.
    fn weigh(&self, mut c: Cand<'a>) -> Cand<'a> {
        c.loaded = self.loaded_state(&c);
        c.weight = c.kind.weight();
        if c.loaded == Some(false) {
            c.weight *= NOT_LOADED_FACTOR;
        }
        if c.os {
            c.weight *= OS_FACTOR;
        }
        c
    }

    /// The candidate's driver name.
    pub(super) fn name<'s>(&'s self, c: &'s Cand<'a>) -> &'s str {
        match &c.extra {
            Some(extra) => &extra.driver,
            None => self.kb.driver_name(c.driver_id),
        }
    }

    /// The knowledge view's number for the driver, or a number after the view's own for a
    /// driver only this input names.
    pub(super) fn driver_id(&self, driver: &str) -> u32 {
        if let Some(id) = self.kb.driver_id(driver) {
            return id;
        }
        let mut extra = self.extra_drivers.borrow_mut();
        let next = (self.kb.driver_count() + extra.len()) as u32;
        *extra.entry(driver.to_owned()).or_insert(next)
    }

    /// Drivers numbered so far: the view's and this input's own.
    pub(super) fn driver_count(&self) -> usize {
        self.kb.driver_count() + self.extra_drivers.borrow().len()
    }

    pub(super) fn is_os_driver(&self, driver: &str) -> bool {
        self.kb.is_os(driver).unwrap_or_else(|| is_inbox(driver))
    }

    /// Candidate drivers of one tag, one per driver (the strongest evidence wins), and the
    /// first knowledge-base entry that describes the tag.
    pub(super) fn candidates(
        &self,
        s: &Series<'a>,
        location: TagLocation,
    ) -> (Cands<'a>, Option<&'a TagEntry>) {
        let mut out = Cands::new();
        let push = |c: Cand<'a>, out: &mut Cands<'a>| {
            if let Some(existing) = out.iter_mut().find(|e| e.driver_id == c.driver_id) {
                if c.weight > existing.weight {
                    *existing = c;
                }
            } else {
                out.push(c);
            }
        };
        // 1. !verifier callers name the allocating module.
        for caller in s.callers() {
            if let Some((module, _)) = caller.split_once('!') {
                let driver = module_file_name(module);
                let c = self.make_cand(
                    Cow::Owned(driver),
                    EvidenceKind::VerifierCaller,
                    None,
                    CandidateOrigin::Snapshot,
                    Detail::VerifierCaller(caller),
                );
                push(c, &mut out);
            }
        }
        if !s.callers().is_empty() && out.is_empty() {
            for module in s.mapped() {
                let c = self.make_cand(
                    Cow::Owned(normalize_module(module)),
                    EvidenceKind::VerifierCaller,
                    None,
                    CandidateOrigin::Snapshot,
                    Detail::VerifierModule(module),
                );
                push(c, &mut out);
            }
        }
        // 2. The knowledge base.
        let mut described: Option<&'a TagEntry> = None;
        let mut known = false;
        for a in self.kb.ranked_attributions(location) {
            known = true;
            if described.is_none() && a.described {
                described = Some(a.entry);
            }
            if let Some(driver_id) = a.driver_id {
                if a.confidence == Confidence::KmdfDefault
                    && !self.default_tag_of_listed_service(driver_id, s.tag)
                {
                    continue;
                }
                push(self.kb_cand(&a, driver_id), &mut out);
            }
        }
        if !known {
            for e in self.kb.pattern_matches(s.tag) {
                if described.is_none() && !e.description.is_empty() {
                    described = Some(e);
                }
                if let Some(driver) = &e.owner.driver {
                    let c = self.make_cand(
                        Cow::Borrowed(driver.as_str()),
                        EvidenceKind::ListPattern,
                        Some(e),
                        CandidateOrigin::ListPattern,
                        Detail::WildcardRow,
                    );
                    push(c, &mut out);
                }
            }
        }
        // 3. The snapshot's own driver column (from the pooltag.txt the admin's tool used).
        if s.callers().is_empty() {
            for text in s.mapped() {
                for file in mapped_driver_files(text) {
                    let driver = normalize_module(&file);
                    if out.iter().any(|c| self.name(c) == driver) {
                        continue;
                    }
                    let c = self.make_cand(
                        Cow::Owned(driver),
                        EvidenceKind::SnapshotMapped,
                        None,
                        CandidateOrigin::Snapshot,
                        Detail::DriverColumn(text),
                    );
                    push(c, &mut out);
                }
            }
        }
        // 4. KMDF default tags of loaded drivers, for tags nothing else explains.
        if out.is_empty()
            && let Some(drivers) = self.loaded.by_kmdf_tag.get(&s.tag)
        {
            for d in drivers {
                let c = self.make_cand(
                    Cow::Owned(driver_file(d)),
                    EvidenceKind::KmdfDefault,
                    None,
                    CandidateOrigin::DriverList,
                    Detail::KmdfService(service_of(d)),
                );
                push(c, &mut out);
            }
        }
        (out, described)
    }

    /// Drivers whose names start with `tag` (KMDF's default tag is the first four characters
    /// of the service name), from the driver list and the knowledge base; none when the tag
    /// is not shaped like a name.
    pub(super) fn kmdf_shaped_drivers(&self, tag: PoolTag) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let prefix = tag.trimmed();
        let kmdf_shaped = prefix.len() == 4 && prefix.bytes().all(|b| b.is_ascii_alphanumeric());
        if !kmdf_shaped {
            return out;
        }
        let starts = |name: &str| {
            name.len() >= 4 && name.as_bytes()[..4].eq_ignore_ascii_case(prefix.as_bytes())
        };
        for d in self.input.drivers.iter().flatten() {
            if starts(service_of(d)) || starts(&d.module_name) {
                let file = driver_file(d);
                if !out.contains(&file) {
                    out.push(file);
                }
            }
        }
        for &id in self.kb.drivers_starting_with(&prefix) {
            let name = self.kb.driver_name(id);
            if !self.is_os_driver(name) && !out.iter().any(|n| n == name) {
                out.push(name.to_owned());
            }
            if out.len() >= 6 {
                break;
            }
        }
        out
    }
}

/// Who the answer says owns a tag. The knowledge base's word (code, a list, a verifier
/// caller, a KMDF default tag) outranks a snapshot's driver column or a guess, so an OS tag
/// that poolmon maps to a third-party driver is still Windows', with that driver as the first
/// candidate.
pub(super) fn answer_owner(cands: &[Cand<'_>]) -> OwnerKind {
    let firm = |c: &Cand<'_>| {
        matches!(
            c.kind,
            EvidenceKind::VerifierCaller
                | EvidenceKind::CodeSite
                | EvidenceKind::KmdfDefault
                | EvidenceKind::List
                | EvidenceKind::ListPattern
        )
    };
    if cands.iter().any(|c| !c.os && firm(c)) {
        OwnerKind::ThirdParty
    } else if cands.iter().any(|c| c.os && firm(c)) {
        OwnerKind::Os
    } else {
        owner_of(cands)
    }
}

/// Who owns a tag by its candidates: a third-party driver if any names one, else the OS if any
/// names it (a filter driver added above an OS tag does not count).
pub(super) fn owner_of(cands: &[Cand<'_>]) -> OwnerKind {
    let real = cands
        .iter()
        .filter(|c| c.kind != EvidenceKind::FilterDriver);
    let mut any = false;
    for c in real {
        if !c.os {
            return OwnerKind::ThirdParty;
        }
        any = true;
    }
    if any {
        OwnerKind::Os
    } else {
        OwnerKind::Unknown
    }
}

/// KMDF's default pool tag for a service name: its first four characters (after a leading
/// `WDF`), or `FxDr` when fewer than four remain.
pub fn kmdf_default_tag(service: &str) -> Option<PoolTag> {
    let service = service.trim();
    if service.is_empty() || !service.is_ascii() {
        return None;
    }
    let rest = if service.len() >= 3 && service[..3].eq_ignore_ascii_case("wdf") {
        &service[3..]
    } else {
        service
    };
    if rest.len() < 4 {
        return Some(PoolTag::from_bytes(*b"FxDr"));
    }
    let b = rest.as_bytes();
    Some(PoolTag::from_bytes([b[0], b[1], b[2], b[3]]))
}

/// A loaded driver's service name (its module name when the list has none).
pub(super) fn service_of(d: &LoadedDriver) -> &str {
    d.service_name.as_deref().unwrap_or(&d.module_name)
}

/// The lower-case image file name of a loaded driver.
pub(super) fn driver_file(d: &LoadedDriver) -> String {
    match &d.file_name {
        Some(f) => normalize_driver_name(f),
        None => normalize_module(&d.module_name),
    }
}

/// `ixgbe` → `ixgbe.sys`, `nt` → `ntoskrnl.exe`, `Ntfs.SYS` → `ntfs.sys`.
fn normalize_module(name: &str) -> String {
    module_file_name(&normalize_driver_name(name))
}

fn driver_stem_lower(driver: &str) -> String {
    let lower = driver.to_ascii_lowercase();
    lower
        .rsplit_once('.')
        .map_or(lower.clone(), |(s, _)| s.to_owned())
}

fn is_kernel_image(driver: &str) -> bool {
    matches!(
        driver_stem_lower(driver).as_str(),
        "ntoskrnl" | "hal" | "win32k" | "win32kbase" | "win32kfull" | "ci"
    )
}

pub(crate) fn is_os_entry(e: &TagEntry) -> bool {
    e.owner.is_kernel()
        || e.owner
            .component
            .as_deref()
            .is_some_and(|c| c.starts_with("nt!"))
        || e.vendor.as_deref() == Some("Microsoft")
}

/// True for a driver file (lower case) that ships with Windows.
pub(crate) fn is_inbox(driver: &str) -> bool {
    let stem = driver.rsplit_once('.').map_or(driver, |(s, _)| s);
    if stem.bytes().any(|b| b.is_ascii_uppercase()) {
        return inbox_drivers().contains(stem.to_ascii_lowercase().as_str());
    }
    inbox_drivers().contains(stem)
}

fn inbox_drivers() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        INBOX_DRIVERS
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .flat_map(str::split_whitespace)
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kmdf_default_tags_follow_the_service_name() {
        assert_eq!(kmdf_default_tag("Contoso"), PoolTag::parse("Cont").ok());
        assert_eq!(kmdf_default_tag("WdfLeaky"), PoolTag::parse("Leak").ok());
        assert_eq!(kmdf_default_tag("wdfLeaky"), PoolTag::parse("Leak").ok());
        assert_eq!(kmdf_default_tag("ab"), PoolTag::parse("FxDr").ok());
        assert_eq!(kmdf_default_tag("WdfAb"), PoolTag::parse("FxDr").ok());
        assert_eq!(kmdf_default_tag(""), None);
    }

    #[test]
    fn the_inbox_list_knows_the_kernel_and_not_third_parties() {
        let set = inbox_drivers();
        assert!(set.contains("ntoskrnl") && set.contains("ntfs") && set.contains("fltmgr"));
        assert!(!set.contains("vmci") && !set.contains("ixgbe"));
    }
}
