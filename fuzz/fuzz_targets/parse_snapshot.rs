#![no_main]
//! Snapshot parsers on arbitrary bytes: auto-detection, every forced format, driver lists.

use libfuzzer_sys::fuzz_target;
use poolsleuth::snapshot::{FORMATS_UNDERSTOOD, ParseOptions, parse_driver_list, parse_snapshots};

fuzz_target!(|data: &[u8]| {
    let _ = parse_snapshots(data, &ParseOptions::default());
    for name in FORMATS_UNDERSTOOD {
        if let Ok(format) = name.parse() {
            let options = ParseOptions { format: Some(format), ..ParseOptions::default() };
            let _ = parse_snapshots(data, &options);
        }
    }
    let _ = parse_driver_list(data);
});
