//! `cargo +nightly fuzz run verify_signature -- -max_total_time=600`
//! The signature parsers on their own: the input as a catalog (`.cat`) and as the PKCS#7
//! payload of a PE file's certificate table (seeds: tests/fixtures/signing, whose catalog and
//! signed drivers hold real SignedData). Driver files reach the same code through
//! analyze_driver.
#![no_main]

use libfuzzer_sys::fuzz_target;
use poolsleuth::driver::authenticode::{Layout, catalog, verify_embedded};

/// The smallest image a layout reads: a DOS header pointing at a PE32 header.
fn image() -> Vec<u8> {
    let mut image = vec![0u8; 0x200];
    image[..2].copy_from_slice(b"MZ");
    image[0x3c] = 0x40;
    image[0x40..0x44].copy_from_slice(b"PE\0\0");
    image
}

fuzz_target!(|data: &[u8]| {
    let _ = catalog::is_catalog(data);
    let _ = catalog::read("fuzz.cat", data, String::new());
    let image = image();
    if let Some(layout) = Layout::of(&image) {
        let _ = verify_embedded(&image, &layout, &[data]);
    }
});
