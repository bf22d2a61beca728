#![allow(dead_code)]
//! Helpers shared by the integration tests.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use poolsleuth::driver::{DriverAnalysis, TagKind};

pub fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/drivers")
}

// The same file as `common::corpus`: driver tests that do not start a server include this
// module without `common`.
#[allow(clippy::duplicate_mod)]
#[path = "../common/corpus.rs"]
mod corpus;

/// The corpus's real drivers (`$POOLSLEUTH_CORPUS` overrides), when present.
pub fn corpus_dir() -> Option<PathBuf> {
    corpus::present(corpus::path("drivers", Some("POOLSLEUTH_CORPUS")))
}

/// How many `.sys` files `dir` holds (not counting subfolders).
pub fn count_drivers(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "sys")
        })
        .count()
}

pub fn read_fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture_dir().join(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

pub fn code_tags(a: &DriverAnalysis) -> BTreeSet<String> {
    a.tags
        .iter()
        .filter(|t| t.kind == TagKind::CodeSite)
        .map(|t| t.tag.to_string())
        .collect()
}

pub fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// (file offset of the data directory array, section table offset, number of sections).
pub fn pe_layout(b: &[u8]) -> (usize, usize, usize) {
    let pe = u32::from_le_bytes(b[0x3c..0x40].try_into().unwrap()) as usize;
    let nsec = u16::from_le_bytes(b[pe + 6..pe + 8].try_into().unwrap()) as usize;
    let opt_size = u16::from_le_bytes(b[pe + 20..pe + 22].try_into().unwrap()) as usize;
    let magic = u16::from_le_bytes(b[pe + 24..pe + 26].try_into().unwrap());
    let dd = pe + 24 + if magic == 0x20b { 112 } else { 96 };
    (dd, pe + 24 + opt_size, nsec)
}

/// File offset of an RVA.
pub fn rva_to_off(b: &[u8], rva: u32) -> Option<usize> {
    let (_, st, n) = pe_layout(b);
    for i in 0..n {
        let s = st + 40 * i;
        let vs = u32::from_le_bytes(b[s + 8..s + 12].try_into().unwrap());
        let va = u32::from_le_bytes(b[s + 12..s + 16].try_into().unwrap());
        let rs = u32::from_le_bytes(b[s + 16..s + 20].try_into().unwrap());
        let ro = u32::from_le_bytes(b[s + 20..s + 24].try_into().unwrap());
        if rva >= va && rva < va + vs.max(rs) {
            return Some((ro + rva - va) as usize);
        }
    }
    None
}
