//! Tags that are large on healthy systems (`data/normal_tags.csv`): a single snapshot is judged
//! by how far each tag is above what is normal for it.

use rustc_hash::FxHashMap as HashMap;
use std::sync::OnceLock;

use crate::snapshot::PoolKind;
use crate::tag::PoolTag;

const EMBEDDED_NORMAL_TAGS: &str = include_str!("../../data/normal_tags.csv");
const MIB: u64 = 1024 * 1024;
/// What a tag that is not in the table may hold before it counts as large.
pub const DEFAULT_NORMAL_MIB: u64 = 32;

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalTag {
    pub tag: PoolTag,
    /// `None` for `both`.
    pub pool: Option<PoolKind>,
    pub typical_max_bytes: u64,
    pub note: String,
}

/// The table, parsed once.
#[derive(Debug, Default)]
pub struct NormalTable {
    by_tag: HashMap<PoolTag, Vec<NormalTag>>,
}

impl NormalTable {
    /// The embedded table (checked by a unit test, so a failure here is a build defect).
    pub fn embedded() -> &'static Self {
        static TABLE: OnceLock<NormalTable> = OnceLock::new();
        TABLE.get_or_init(|| {
            Self::parse(EMBEDDED_NORMAL_TAGS).expect("data/normal_tags.csv is valid (tested)")
        })
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .trim(csv::Trim::None)
            .from_reader(text.as_bytes());
        let mut by_tag: HashMap<PoolTag, Vec<NormalTag>> = HashMap::default();
        for (i, record) in reader.records().enumerate() {
            let line = i + 2;
            let record = record.map_err(|e| format!("line {line}: {e}"))?;
            let field = |n: usize| record.get(n).unwrap_or("");
            let tag = PoolTag::parse(field(0)).map_err(|e| format!("line {line}: {e}"))?;
            let pool = match field(1).trim() {
                "both" => None,
                "paged" => Some(PoolKind::Paged),
                "nonpaged" => Some(PoolKind::NonPaged),
                other => return Err(format!("line {line}: unknown pool {other:?}")),
            };
            let mib: u64 = field(2)
                .trim()
                .parse()
                .map_err(|_| format!("line {line}: typical_max_mib is not a number"))?;
            if mib == 0 {
                return Err(format!("line {line}: typical_max_mib must be positive"));
            }
            let row = NormalTag {
                tag,
                pool,
                typical_max_bytes: mib * MIB,
                note: field(3).trim().to_owned(),
            };
            let rows = by_tag.entry(tag).or_default();
            if rows.iter().any(|r| r.pool == row.pool) {
                return Err(format!("line {line}: {tag} is listed twice for one pool"));
            }
            rows.push(row);
        }
        Ok(Self { by_tag })
    }

    /// The row for a tag, preferring the one for its pool.
    pub fn get(&self, tag: PoolTag, pool: PoolKind) -> Option<&NormalTag> {
        let rows = self.by_tag.get(&tag)?;
        rows.iter()
            .find(|r| r.pool == Some(pool))
            .or_else(|| rows.iter().find(|r| r.pool.is_none()))
            .or_else(|| rows.first())
    }

    pub fn len(&self) -> usize {
        self.by_tag.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.by_tag.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_table_parses_and_knows_cont() {
        let table = NormalTable::parse(EMBEDDED_NORMAL_TAGS).unwrap();
        assert!(table.len() >= 40, "{} rows", table.len());
        let cont = table
            .get(PoolTag::parse("Cont").unwrap(), PoolKind::NonPaged)
            .unwrap();
        assert_eq!(cont.typical_max_bytes, 256 * MIB);
        // Padded tags keep their blanks.
        assert!(
            table
                .get(PoolTag::parse("Vad ").unwrap(), PoolKind::NonPaged)
                .is_some()
        );
        assert!(
            table
                .get(PoolTag::parse("Abc").unwrap(), PoolKind::Paged)
                .is_none()
        );
    }

    #[test]
    fn bad_rows_are_refused() {
        assert!(NormalTable::parse("tag,pool,typical_max_mib,note\nCont,heap,1,x\n").is_err());
        assert!(NormalTable::parse("tag,pool,typical_max_mib,note\nCont,paged,0,x\n").is_err());
        assert!(NormalTable::parse("tag,pool,typical_max_mib,note\nTooLong,paged,1,x\n").is_err());
    }
}
