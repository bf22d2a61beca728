//! An in-memory view of the whole knowledge base for attribution: a snapshot asks about
//! thousands of tags at once, so lookups must be hash probes, not index queries. The view is
//! rebuilt when the index's generation changes (after every import or delete).

use std::sync::{Arc, Mutex, RwLock};

use rustc_hash::FxHashMap as HashMap;

use crate::index::{IndexError, SearchIndex, compare_versions};
use crate::knowledge::{Confidence, TagEntry};
use crate::tag::{PoolTag, TagPattern};

/// What the knowledge base says about one driver file.
#[derive(Debug, Clone, Default)]
pub struct DriverFacts {
    /// Versions seen, oldest first (by number).
    pub versions: Vec<String>,
    pub vendors: Vec<String>,
    pub products: Vec<String>,
    /// (version, sha256) of analysed binaries.
    pub hashes: Vec<(Option<String>, String)>,
    /// Part of Windows: an inbox driver, or every source names Microsoft as the vendor.
    pub os: bool,
}

impl DriverFacts {
    pub fn newest_version(&self) -> Option<&str> {
        self.versions.last().map(String::as_str)
    }
}

/// The knowledge base, indexed for attribution.
#[derive(Debug, Default)]
pub struct KnowledgeView {
    pub generation: u64,
    /// Exact (non-wildcard) attributions, grouped by tag, each group most trustworthy first.
    entries: Vec<TagEntry>,
    /// Parallel to `entries`: is the entry's driver part of Windows? (Precomputed, so ranking
    /// thousands of tags needs no per-candidate driver lookups.)
    os: Vec<bool>,
    /// Tag → its group in `entries` (start, length). Small buckets: a 3,000-tag snapshot
    /// probes this table 3,000 times, and compact buckets keep the probes in cache.
    by_tag: HashMap<PoolTag, (u32, u32)>,
    /// Wildcard rows, bucketed by their first literal byte (`None`: starts with a wildcard).
    patterns: HashMap<Option<u8>, Vec<(TagPattern, TagEntry)>>,
    drivers: HashMap<String, DriverFacts>,
    count: usize,
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
                push_unique(&mut facts.versions, entry.version.as_deref());
                push_unique(&mut facts.vendors, entry.vendor.as_deref());
                push_unique(&mut facts.products, entry.product.as_deref());
                if let Some(sha) = &entry.sha256
                    && !facts.hashes.iter().any(|(_, s)| s == sha)
                {
                    facts.hashes.push((entry.version.clone(), sha.clone()));
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
            facts.versions.sort_by(|a, b| compare_versions(a, b));
            facts.os = super::is_inbox(name)
                || (!facts.vendors.is_empty() && facts.vendors.iter().all(|v| v == "Microsoft"));
        }
        let os = exact
            .iter()
            .map(|e| {
                super::is_os_entry(e)
                    || e.owner.driver.as_deref().is_some_and(|d| {
                        drivers.get(d).map_or_else(|| super::is_inbox(d), |f| f.os)
                    })
            })
            .collect();
        let mut by_tag: HashMap<PoolTag, (u32, u32)> = HashMap::default();
        let mut start = 0;
        for group in exact.chunk_by(|a, b| a.tag == b.tag) {
            // Positions fit in u32: the index refuses lists anywhere near 4 billion entries.
            by_tag.insert(group[0].tag, (start as u32, group.len() as u32));
            start += group.len();
        }
        Self {
            generation,
            entries: exact,
            os,
            by_tag,
            patterns,
            drivers,
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
        self.attributions_with_os(tag).0
    }

    /// [`Self::attributions`] with, for each, whether its driver is part of Windows.
    pub fn attributions_with_os(&self, tag: PoolTag) -> (&[TagEntry], &[bool]) {
        match self.by_tag.get(&tag) {
            Some(&(start, len)) => {
                let range = start as usize..(start + len) as usize;
                (&self.entries[range.clone()], &self.os[range])
            }
            None => (&[], &[]),
        }
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

    /// `Some(true)` for Windows components the knowledge base knows, `None` for drivers it
    /// does not know.
    pub fn is_os(&self, driver: &str) -> Option<bool> {
        self.drivers.get(driver).map(|f| f.os)
    }

    /// Best confidence any source gives this tag, for summaries.
    pub fn best_confidence(&self, tag: PoolTag) -> Option<Confidence> {
        self.attributions(tag).first().map(|e| e.confidence)
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
        let view = Arc::new(KnowledgeView::load(index)?);
        tracing::debug!(
            entries = view.entry_count(),
            generation = view.generation,
            "attribution view of the knowledge base rebuilt"
        );
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Some(view.clone());
        Ok(view)
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
