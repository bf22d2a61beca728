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

/// The corpus's second set of real drivers (`drivers-more`, with the expected tags in its
/// TRUTH.md; `$POOLSLEUTH_CORPUS_MORE` overrides), when present.
pub fn more_corpus_dir() -> Option<PathBuf> {
    corpus::present(corpus::path("drivers-more", Some("POOLSLEUTH_CORPUS_MORE")))
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

/// `bytes` (a fixture built from `src/version.rc`, whose `FileVersion` text is `3.1.4.15`)
/// with another `FileVersion` text (at most 8 characters) and other fixed version numbers:
/// a build of the same driver at another version, with its own SHA-256.
pub fn with_version(bytes: &[u8], text: &str, numeric: [u16; 4]) -> Vec<u8> {
    assert!(text.chars().count() <= 8, "{text:?} does not fit");
    let utf16 = |s: &str| -> Vec<u8> { s.encode_utf16().flat_map(u16::to_le_bytes).collect() };
    let mut out = bytes.to_vec();
    let at = find(&out, &utf16("3.1.4.15")).expect("the fixture's FileVersion text");
    let mut value = utf16(text);
    value.resize(16, 0);
    out[at..at + 16].copy_from_slice(&value);
    let fixed = find(&out, &0xFEEF_04BDu32.to_le_bytes()).expect("VS_FIXEDFILEINFO");
    let [a, b, c, d] = numeric.map(u32::from);
    out[fixed + 8..fixed + 12].copy_from_slice(&((a << 16) | b).to_le_bytes());
    out[fixed + 12..fixed + 16].copy_from_slice(&((c << 16) | d).to_le_bytes());
    out
}

/// `bytes` with the one occurrence of the 4 bytes `from` (a tag constant in the code)
/// replaced by `to`: a build whose code no longer allocates `from`.
pub fn with_tag_replaced(bytes: &[u8], from: &[u8; 4], to: &[u8; 4]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let at = find(&out, from).expect("the tag constant");
    assert_eq!(find(&out[at + 4..], from), None, "the tag occurs once");
    out[at..at + 4].copy_from_slice(to);
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
