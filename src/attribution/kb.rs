//! An in-memory view of the whole knowledge base for attribution: a snapshot asks about
//! thousands of tags at once, so lookups must be hash probes, not index queries. The view is
//! rebuilt when the index's generation changes (after every import or delete).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use rustc_hash::FxHashMap as HashMap;

use crate::driver::authenticode::SignatureNote;
use crate::index::{IndexError, SearchIndex};
use crate::knowledge::{Confidence, TagEntry};
use crate::tag::{PoolTag, TagPattern};
use crate::version::Version;

use super::tag_table::{LONG_GROUP, TagSlot, TagTable};

/// What the knowledge base says about one driver file.
#[derive(Debug, Clone, Default)]
pub struct DriverFacts {
    /// Versions known, oldest first, each once however written (`2.2` and `2.2.0.0`).
    pub versions: Vec<Version>,
    pub vendors: Vec<String>,
    pub products: Vec<String>,
    /// (version, sha256) of analyzed binaries.
    pub hashes: Vec<(Option<Version>, String)>,
    /// The names its analyzed files were uploaded or scanned under, where they differ from
    /// the driver's own name (`windivert64.sys` for `windivert.sys`).
    pub uploaded_as: Vec<String>,
    /// Part of Windows: an inbox driver, or every source names Microsoft as the vendor.
    pub os: bool,
    /// (sha256, signature verdict) of analyzed binaries.
    pub signatures: Vec<(String, SignatureNote)>,
}

impl DriverFacts {
    pub fn newest_version(&self) -> Option<&Version> {
        self.versions.last()
    }

    /// What the signature of the analyzed file `sha256` says.
    pub fn signature_of(&self, sha256: &str) -> Option<&SignatureNote> {
        self.signatures
            .iter()
            .find(|(s, _)| s == sha256)
            .map(|(_, n)| n)
    }
}

/// What ranking needs of one exact attribution, kept apart from the (large) [`TagEntry`]: a
/// 3,000-tag snapshot probes 3,000 random tags, and reading these few bytes instead of the
/// entries keeps most of those probes in cache.
#[derive(Debug, Clone, Copy)]
struct Hot {
    /// Index into `driver_names`, or [`NO_DRIVER`].
    driver: u32,
    confidence: Confidence,
    /// The driver is part of Windows.
    os: bool,
    /// The entry has a description.
    described: bool,
}

const NO_DRIVER: u32 = u32::MAX;

/// Where [`KnowledgeView::locate`] found a tag's attributions (nothing when it knows none).
#[derive(Debug, Clone, Copy)]
pub struct TagLocation(Option<TagSlot>);

/// One attribution of a tag, as ranking sees it.
#[derive(Debug, Clone, Copy)]
pub struct Attribution<'a> {
    /// The full entry (not read unless a field beyond these is needed).
    pub entry: &'a TagEntry,
    /// The driver's number, when the entry names a driver: [`KnowledgeView::driver_name`] has
    /// its name (not read while ranking: the name table is one more cache miss per tag).
    pub driver_id: Option<u32>,
    pub confidence: Confidence,
    /// The driver is part of Windows.
    pub os: bool,
    /// The entry has a description.
    pub described: bool,
}

/// The knowledge base, indexed for attribution.
#[derive(Debug, Default)]
pub struct KnowledgeView {
    pub generation: u64,
    /// Exact (non-wildcard) attributions, grouped by tag, each group most trustworthy first.
    entries: Vec<TagEntry>,
    /// Parallel to `entries`.
    hot: Vec<Hot>,
    by_tag: TagTable,
    /// Distinct driver names of `entries` (a small table that stays in cache).
    driver_names: Vec<String>,
    /// `driver_names` back to their numbers.
    driver_ids: HashMap<String, u32>,
    /// Driver numbers by the first four bytes of their names, ASCII lower-cased, ascending:
    /// the names a KMDF default tag may come from, found without a pass over every driver.
    drivers_by_prefix: HashMap<[u8; 4], Vec<u32>>,
    /// Wildcard rows, bucketed by their first literal byte (`None`: starts with a wildcard).
    patterns: HashMap<Option<u8>, Vec<(TagPattern, TagEntry)>>,
    drivers: HashMap<String, DriverFacts>,
    /// The names analyzed files were uploaded under, to the driver each is a file of (only
    /// names that are no driver's own and stand for one driver).
    uploaded_names: HashMap<String, String>,
    count: usize,
}

/// A name's first four bytes, ASCII lower-cased; `None` for a shorter name.
fn name_prefix(name: &str) -> Option<[u8; 4]> {
    let bytes: [u8; 4] = name.as_bytes().get(..4)?.try_into().ok()?;
    Some(bytes.map(|b| b.to_ascii_lowercase()))
}

impl crate::snapshot::KnownTags for KnowledgeView {
    fn knows(&self, tag: PoolTag) -> bool {
        self.by_tag.get(tag).is_some()
    }
}

impl KnowledgeView {
    pub fn from_entries(generation: u64, entries: Vec<TagEntry>) -> Self {
        let count = entries.len();
        let mut exact: Vec<TagEntry> = Vec::with_capacity(entries.len());
        let mut patterns: HashMap<Option<u8>, Vec<(TagPattern, TagEntry)>> = HashMap::default();
        let mut drivers: HashMap<String, DriverFacts> = HashMap::default();
        for entry in entries {
            if let Some(driver) = &entry.owner.driver {
                let facts = drivers.entry(driver.clone()).or_default();
                let version = entry.version.as_deref().and_then(Version::parse);
                if let Some(v) = &version
                    && !facts.versions.iter().any(|known| known.same_version(v))
                {
                    facts.versions.push(v.clone());
                }
                push_unique(&mut facts.vendors, entry.vendor.as_deref());
                push_unique(&mut facts.products, entry.product.as_deref());
                push_unique(
                    &mut facts.uploaded_as,
                    entry.provenance.uploaded_as.as_deref(),
                );
                if let Some(sha) = &entry.sha256
                    && !facts.hashes.iter().any(|(_, s)| s == sha)
                {
                    facts.hashes.push((version, sha.clone()));
                    if let Some(note) = &entry.provenance.signature {
                        facts.signatures.push((sha.clone(), note.clone()));
                    }
                }
            }
            if entry.is_pattern {
                let text = entry.tag.trimmed();
                if let Some(pattern) = TagPattern::parse(&text) {
                    let first = pattern.first_byte();
                    patterns.entry(first).or_default().push((pattern, entry));
                    continue;
                }
            }
            exact.push(entry);
        }
        exact.sort_by(|a, b| {
            a.tag
                .cmp(&b.tag)
                .then_with(|| a.confidence.cmp(&b.confidence))
                .then_with(|| a.source.cmp(&b.source))
                .then_with(|| a.line.cmp(&b.line))
        });
        for (name, facts) in drivers.iter_mut() {
            facts.versions.sort();
            facts.os = super::is_inbox(name)
                || (!facts.vendors.is_empty() && facts.vendors.iter().all(|v| v == "Microsoft"));
        }
        let mut uploaded_names: HashMap<String, Option<String>> = HashMap::default();
        for (name, facts) in &drivers {
            for file in facts
                .uploaded_as
                .iter()
                .filter(|f| !drivers.contains_key(*f))
            {
                let slot = uploaded_names
                    .entry(file.clone())
                    .or_insert_with(|| Some(name.clone()));
                // A name two drivers' files were uploaded under stands for neither.
                if slot.as_deref() != Some(name) {
                    *slot = None;
                }
            }
        }
        let uploaded_names: HashMap<String, String> = uploaded_names
            .into_iter()
            .filter_map(|(file, driver)| Some((file, driver?)))
            .collect();
        let mut driver_names: Vec<String> = Vec::new();
        let mut driver_ids: HashMap<String, u32> = HashMap::default();
        let hot: Vec<Hot> = exact
            .iter()
            .map(|e| {
                let driver = e.owner.driver.as_deref();
                let os = super::is_os_entry(e)
                    || driver.is_some_and(|d| {
                        drivers.get(d).map_or_else(|| super::is_inbox(d), |f| f.os)
                    });
                let driver = driver.map_or(NO_DRIVER, |d| match driver_ids.get(d) {
                    Some(&id) => id,
                    None => {
                        driver_names.push(d.to_owned());
                        // Fewer names than entries, and entries are far below u32::MAX.
                        let id = (driver_names.len() - 1) as u32;
                        driver_ids.insert(d.to_owned(), id);
                        id
                    }
                });
                Hot {
                    driver,
                    confidence: e.confidence,
                    os,
                    described: !e.description.is_empty(),
                }
            })
            .collect();
        let groups = exact.chunk_by(|a, b| a.tag == b.tag);
        let mut by_tag = TagTable::with_capacity(groups.clone().count());
        let mut start = 0;
        for group in groups {
            let first = hot[start];
            by_tag.insert_new(TagSlot::new(
                group[0].tag,
                start as u32,
                group.len(),
                first.driver,
                first.confidence,
                first.os,
                first.described,
            ));
            start += group.len();
        }
        let mut drivers_by_prefix: HashMap<[u8; 4], Vec<u32>> = HashMap::default();
        for (id, name) in driver_names.iter().enumerate() {
            if let Some(prefix) = name_prefix(name) {
                drivers_by_prefix.entry(prefix).or_default().push(id as u32);
            }
        }
        Self {
            generation,
            entries: exact,
            hot,
            by_tag,
            drivers_by_prefix,
            driver_names,
            driver_ids,
            patterns,
            drivers,
            uploaded_names,
            count,
        }
    }

    /// Reads the whole index.
    pub fn load(index: &SearchIndex) -> Result<Self, IndexError> {
        let (generation, entries) = index.all_entries()?;
        Ok(Self::from_entries(generation, entries))
    }

    pub fn entry_count(&self) -> usize {
        self.count
    }

    /// Attributions of exactly this tag, most trustworthy first.
    pub fn attributions(&self, tag: PoolTag) -> &[TagEntry] {
        match self.by_tag.get(tag) {
            Some(slot) => {
                let start = slot.start as usize;
                &self.entries[start..start + self.group_len(&slot)]
            }
            None => &[],
        }
    }

    /// The number of entries in a slot's group (counted in `entries` for a long one).
    fn group_len(&self, slot: &TagSlot) -> usize {
        match slot.len() {
            LONG_GROUP => {
                let start = slot.start as usize;
                let tag = self.entries[start].tag;
                self.entries[start..]
                    .iter()
                    .take_while(|e| e.tag == tag)
                    .count()
            }
            len => usize::from(len),
        }
    }

    /// Where a tag's attributions are, for [`Self::ranked_attributions`].
    pub fn locate(&self, tag: PoolTag) -> TagLocation {
        TagLocation(self.by_tag.get(tag))
    }

    /// [`locate`](Self::locate) for every tag of a snapshot, in order. Ranking looks them all
    /// up first: the lookups miss the cache, and the table overlaps the misses of a batch of
    /// tags instead of waiting for each in turn (see `tag_table`).
    pub fn locate_all(&self, tags: impl Iterator<Item = PoolTag>) -> Vec<TagLocation> {
        self.by_tag
            .get_many(tags)
            .into_iter()
            .map(TagLocation)
            .collect()
    }

    /// [`Self::attributions`] as ranking reads them: without touching the entries.
    pub fn ranked_attributions(
        &self,
        location: TagLocation,
    ) -> impl Iterator<Item = Attribution<'_>> {
        let slot = location.0;
        let (start, len) = slot.map_or((0, 0), |s| (s.start as usize, self.group_len(&s)));
        let rest = if len > 1 {
            &self.hot[start + 1..start + len]
        } else {
            &[]
        };
        slot.map(|s| Hot {
            driver: s.driver,
            confidence: s.confidence,
            os: s.os,
            described: s.described,
        })
        .into_iter()
        .chain(rest.iter().copied())
        .enumerate()
        .map(move |(i, hot)| Attribution {
            entry: &self.entries[start + i],
            driver_id: (hot.driver != NO_DRIVER).then_some(hot.driver),
            confidence: hot.confidence,
            os: hot.os,
            described: hot.described,
        })
    }

    /// The number of a driver named by an exact attribution: numbers run from 0 to
    /// [`Self::driver_count`], so ranking can sum per driver in an array.
    pub fn driver_id(&self, name: &str) -> Option<u32> {
        self.driver_ids.get(name).copied()
    }

    /// The name of driver number `id` (as [`Attribution::driver_id`] gives it).
    pub fn driver_name(&self, id: u32) -> &str {
        &self.driver_names[id as usize]
    }

    pub fn driver_count(&self) -> usize {
        self.driver_names.len()
    }

    /// The drivers whose names start with `prefix` (four bytes, ASCII case ignored), in
    /// driver-number order.
    pub fn drivers_starting_with(&self, prefix: &str) -> &[u32] {
        name_prefix(prefix)
            .and_then(|p| self.drivers_by_prefix.get(&p))
            .map_or(&[], Vec::as_slice)
    }

    /// Wildcard rows (`Afd?`) covering the tag.
    pub fn pattern_matches(&self, tag: PoolTag) -> Vec<&TagEntry> {
        let first = tag.bytes()[0];
        let mut out = Vec::new();
        for bucket in [Some(first), None] {
            if let Some(list) = self.patterns.get(&bucket) {
                out.extend(
                    list.iter()
                        .filter(|(p, _)| p.matches(tag, true))
                        .map(|(_, e)| e),
                );
            }
        }
        out
    }

    pub fn driver(&self, name: &str) -> Option<&DriverFacts> {
        self.drivers.get(name)
    }

    /// The driver a file name stands for: the driver itself when the knowledge base knows it
    /// by that name, else the driver whose file was uploaded under that name (a machine's
    /// `windivert64.sys` is `windivert.sys`, the name in its version resource).
    pub fn driver_named<'s>(&'s self, file_name: &'s str) -> &'s str {
        if self.drivers.contains_key(file_name) {
            return file_name;
        }
        self.uploaded_names
            .get(file_name)
            .map_or(file_name, String::as_str)
    }

    /// `Some(true)` for Windows components the knowledge base knows, `None` for drivers it
    /// does not know.
    pub fn is_os(&self, driver: &str) -> Option<bool> {
        self.drivers.get(driver).map(|f| f.os)
    }
}

fn push_unique(list: &mut Vec<String>, value: Option<&str>) {
    if let Some(value) = value.map(str::trim).filter(|v| !v.is_empty())
        && !list.iter().any(|v| v == value)
    {
        list.push(value.to_owned());
    }
}

/// Holds the current [`KnowledgeView`] and rebuilds it when the index has changed.
#[derive(Default)]
pub struct KnowledgeCache {
    current: RwLock<Option<Arc<KnowledgeView>>>,
    rebuild: Mutex<()>,
    builds: AtomicU64,
    last_build_micros: AtomicU64,
}

/// How the cached view stands, for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KnowledgeCacheStatus {
    /// Views built since the server started.
    pub builds: u64,
    pub last_build_seconds: f64,
    /// The cached view matches the index as it is now.
    pub current: bool,
    /// Entries in the cached view.
    pub entries: usize,
}

impl KnowledgeCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// The view for the index as it is now (blocking: may read the whole index).
    pub fn view(&self, index: &SearchIndex) -> Result<Arc<KnowledgeView>, IndexError> {
        let generation = index.generation();
        if let Some(view) = self.fresh(generation) {
            return Ok(view);
        }
        // One rebuild at a time; whoever waited here finds the fresh view.
        let _guard = self.rebuild.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(view) = self.fresh(index.generation()) {
            return Ok(view);
        }
        let started = Instant::now();
        let view = Arc::new(KnowledgeView::load(index)?);
        let took = started.elapsed();
        self.builds.fetch_add(1, Ordering::Relaxed);
        self.last_build_micros.store(
            u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        tracing::debug!(
            entries = view.entry_count(),
            generation = view.generation,
            took_ms = took.as_millis() as u64,
            "attribution view of the knowledge base rebuilt"
        );
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Some(view.clone());
        Ok(view)
    }

    /// The view to answer with now: the last one built, even when an import has changed the
    /// index since (the background refresher is rebuilding it), so an analysis never waits
    /// for a rebuild; the flag says whether the view matches the index. Only before the
    /// first view exists does this build one (blocking).
    pub fn latest(&self, index: &SearchIndex) -> Result<(Arc<KnowledgeView>, bool), IndexError> {
        let latest = self
            .current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        match latest {
            Some(view) => {
                let current = view.generation == index.generation();
                Ok((view, current))
            }
            None => self.view(index).map(|view| (view, true)),
        }
    }

    /// True once a view exists (after the first build).
    pub fn has_view(&self) -> bool {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    /// True when the cached view matches the index (nothing to rebuild).
    pub fn is_current(&self, index: &SearchIndex) -> bool {
        self.fresh(index.generation()).is_some()
    }

    pub fn status(&self, index: &SearchIndex) -> KnowledgeCacheStatus {
        let entries = self
            .current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map_or(0, |v| v.entry_count());
        KnowledgeCacheStatus {
            builds: self.builds.load(Ordering::Relaxed),
            last_build_seconds: self.last_build_micros.load(Ordering::Relaxed) as f64 / 1e6,
            current: self.is_current(index),
            entries,
        }
    }

    fn fresh(&self, generation: u64) -> Option<Arc<KnowledgeView>> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .filter(|v| v.generation == generation)
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::DriverOwner;

    #[test]
    fn analyses_answer_from_the_last_view_while_an_import_waits_for_its_rebuild() {
        let dir = tempfile::tempdir().unwrap();
        let index = SearchIndex::open(dir.path()).unwrap();
        let vendors = crate::vendor::VendorDirectory::embedded();
        let list = |name: &str, body: &[u8]| {
            let source = crate::import::ListSource {
                name: name.into(),
                version: None,
                origin: None,
                format: None,
            };
            crate::import::import_list(&index, &vendors, &source, body).unwrap();
        };
        list("first", b"LkaL - lkal.sys - leaks\n");
        let cache = KnowledgeCache::new();
        let (view, current) = cache.latest(&index).unwrap();
        assert!(current);
        assert_eq!(view.entry_count(), 1);
        // An import changes the index: the last view answers at once, marked as not current.
        list("second", b"Abcd - abcd.sys - more\n");
        let (stale, current) = cache.latest(&index).unwrap();
        assert!(!current);
        assert_eq!(stale.generation, view.generation);
        // Once the refresher has rebuilt it, the new view answers.
        cache.view(&index).unwrap();
        let (fresh, current) = cache.latest(&index).unwrap();
        assert!(current);
        assert_eq!(fresh.entry_count(), 2);
    }

    fn entry(tag: &str, driver: Option<&str>, confidence: Confidence, vendor: &str) -> TagEntry {
        TagEntry {
            tag: PoolTag::parse(tag).unwrap(),
            is_pattern: tag.contains(['?', '*']),
            owner: DriverOwner {
                driver: driver.map(str::to_owned),
                component: None,
            },
            description: if driver.is_some() {
                "described".into()
            } else {
                String::new()
            },
            vendor: Some(vendor.to_owned()),
            product: None,
            version: None,
            sha256: None,
            confidence,
            source: format!("src-{tag}"),
            line: Some(1),
            provenance: Default::default(),
        }
    }

    #[test]
    fn ranked_attributions_match_the_entries_in_trust_order() {
        let view = KnowledgeView::from_entries(
            7,
            vec![
                entry(
                    "Leak",
                    Some("leaky.sys"),
                    Confidence::StringGuess,
                    "Contoso",
                ),
                entry("Io  ", Some("ntoskrnl.exe"), Confidence::List, "Microsoft"),
                entry("Leak", Some("other.sys"), Confidence::CodeSite, "Fabrikam"),
                entry("Leak", None, Confidence::List, "Contoso"),
                entry("Afd?", Some("afd.sys"), Confidence::List, "Microsoft"),
                entry("Solo", Some("leaky.sys"), Confidence::List, "Contoso"),
            ],
        );
        assert_eq!(view.entry_count(), 6);
        for tag in ["Leak", "Io  ", "Solo", "Afd1", "None"] {
            let tag = PoolTag::parse(tag).unwrap();
            let ranked: Vec<Attribution<'_>> = view.ranked_attributions(view.locate(tag)).collect();
            let entries = view.attributions(tag);
            assert_eq!(ranked.len(), entries.len(), "{tag}");
            for (a, e) in ranked.iter().zip(entries) {
                assert!(std::ptr::eq(a.entry, e), "{tag}");
                let driver = a.driver_id.map(|id| view.driver_name(id));
                assert_eq!(driver, e.owner.driver.as_deref());
                assert_eq!(a.driver_id, driver.and_then(|d| view.driver_id(d)));
                assert_eq!(a.confidence, e.confidence);
                assert_eq!(a.described, !e.description.is_empty());
            }
        }
        // Most trustworthy first; wildcard rows are not exact attributions.
        let leak: Vec<Option<&str>> = view
            .ranked_attributions(view.locate(PoolTag::parse("Leak").unwrap()))
            .map(|a| a.driver_id.map(|id| view.driver_name(id)))
            .collect();
        assert_eq!(leak, [Some("other.sys"), None, Some("leaky.sys")]);
        assert!(
            view.attributions(PoolTag::parse("Afd?").unwrap())
                .is_empty()
        );
        assert_eq!(
            view.pattern_matches(PoolTag::parse("Afd1").unwrap()).len(),
            1
        );
        // The kernel is part of Windows; a third-party driver is not.
        let io = view
            .ranked_attributions(view.locate(PoolTag::parse("Io  ").unwrap()))
            .next()
            .unwrap();
        assert!(io.os);
        let solo = view
            .ranked_attributions(view.locate(PoolTag::parse("Solo").unwrap()))
            .next()
            .unwrap();
        assert!(!solo.os);
    }
}
