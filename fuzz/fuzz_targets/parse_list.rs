#![no_main]
//! Tag-list parsers on arbitrary bytes, detected and forced.

use libfuzzer_sys::fuzz_target;
use poolsleuth::pooltag_list::{ListFormat, parse_list};

fuzz_target!(|data: &[u8]| {
    let _ = parse_list(data, None);
    for format in [ListFormat::Pooltag, ListFormat::Csv, ListFormat::Tsv] {
        let _ = parse_list(data, Some(format));
    }
});
