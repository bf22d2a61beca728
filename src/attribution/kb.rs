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
    /// Exact (non-wildcard) attributions per tag, most trustworthy first.
    by_tag: HashMap<PoolTag, Vec<TagEntry>>,
    /// Wildcard rows, bucketed by their first literal byte (`None`: starts with a wildcard).
    patterns: HashMap<Option<u8>, Vec<(Glob, TagEntry)>>,
    drivers: HashMap<String, DriverFacts>,
    entries: usize,
}

impl KnowledgeView {
    pub fn from_entries(generation: u64, entries: Vec<TagEntry>) -> Self {
        let count = entries.len();
        let mut by_tag: HashMap<PoolTag, Vec<TagEntry>> = HashMap::default();
        let mut patterns: HashMap<Option<u8>, Vec<(Glob, TagEntry)>> = HashMap::default();
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
                if let Some(glob) =
                    TagPattern::parse(&text).and_then(|p| Glob::compile(p.as_str()))
                {
                    let first = match glob.units.first() {
                        Some(Unit::Byte(b)) => Some(*b),
                        _ => None,
                    };
                    patterns.entry(first).or_default().push((glob, entry));
                    continue;
                }
            }
            by_tag.entry(entry.tag).or_default().push(entry);
        }
        for list in by_tag.values_mut() {
            list.sort_by(|a, b| {
                a.confidence
                    .cmp(&b.confidence)
                    .then_with(|| a.source.cmp(&b.source))
                    .then_with(|| a.line.cmp(&b.line))
            });
        }
        for (name, facts) in drivers.iter_mut() {
            facts.versions.sort_by(|a, b| compare_versions(a, b));
            facts.os = super::is_inbox(name)
                || (!facts.vendors.is_empty() && facts.vendors.iter().all(|v| v == "Microsoft"));
        }
        Self {
            generation,
            by_tag,
            patterns,
            drivers,
            entries: count,
        }
    }

    /// Reads the whole index.
    pub fn load(index: &SearchIndex) -> Result<Self, IndexError> {
        let (generation, entries) = index.all_entries()?;
        Ok(Self::from_entries(generation, entries))
    }

    pub fn entry_count(&self) -> usize {
        self.entries
    }

    /// Attributions of exactly this tag, most trustworthy first.
    pub fn attributions(&self, tag: PoolTag) -> &[TagEntry] {
        self.by_tag.get(&tag).map_or(&[], Vec::as_slice)
    }

    /// Wildcard rows (`Afd?`) covering the tag.
    pub fn pattern_matches(&self, tag: PoolTag) -> Vec<&TagEntry> {
        let first = tag.bytes()[0];
        let mut out = Vec::new();
        for bucket in [Some(first), None] {
            if let Some(list) = self.patterns.get(&bucket) {
                out.extend(
                    list.iter()
                        .filter(|(p, _)| p.matches(tag.bytes()))
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Byte(u8),
    /// `?`: one byte.
    One,
    /// `*`: any run of bytes.
    Run,
}

/// A wildcard row compiled to bytes, matched without allocating (the same rules as
/// [`TagPattern::matches`], case-sensitive: a tag's trailing blanks may be left unmatched).
#[derive(Debug, Clone)]
struct Glob {
    units: Vec<Unit>,
}

impl Glob {
    fn compile(text: &str) -> Option<Self> {
        let mut units = Vec::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            units.push(match c {
                '*' => Unit::Run,
                '?' => Unit::One,
                '\\' => match chars.next()? {
                    '\\' => Unit::Byte(b'\\'),
                    'x' | 'X' => {
                        let hex: String = chars.by_ref().take(2).collect();
                        Unit::Byte(u8::from_str_radix(&hex, 16).ok()?)
                    }
                    _ => return None,
                },
                c => Unit::Byte(u8::try_from(u32::from(c)).ok()?),
            });
        }
        Some(Self { units })
    }

    fn matches(&self, tag: &[u8; 4]) -> bool {
        let mut len = 4;
        loop {
            if glob(&self.units, &tag[..len]) {
                return true;
            }
            if len == 0 || tag[len - 1] != b' ' {
                return false;
            }
            len -= 1;
        }
    }
}

fn glob(p: &[Unit], t: &[u8]) -> bool {
    match p.split_first() {
        None => t.is_empty(),
        Some((Unit::Run, rest)) => (0..=t.len()).any(|i| glob(rest, &t[i..])),
        Some((Unit::One, rest)) => !t.is_empty() && glob(rest, &t[1..]),
        Some((Unit::Byte(b), rest)) => t.first() == Some(b) && glob(rest, &t[1..]),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiled_globs_agree_with_tag_patterns() {
        let tags = ["AfdB", "Afd ", "AmlH", "Aml ", "Bu1 ", "Bu12", "afdB", "Io  ", "\\x01ab"];
        for pattern in ["Afd?", "Aml*", "Bu?", "*", "?fd*", "Io", "\\x01a?"] {
            let reference = TagPattern::parse(pattern);
            let glob = Glob::compile(pattern).unwrap();
            for tag in tags {
                let tag = PoolTag::parse(tag).unwrap();
                let expected = reference.as_ref().is_none_or(|p| p.matches(tag, true));
                if reference.is_some() {
                    assert_eq!(glob.matches(tag.bytes()), expected, "{pattern} vs {tag}");
                }
            }
        }
    }
}
