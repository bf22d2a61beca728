//! `cargo +nightly fuzz run analyze_driver -- -max_total_time=600`
//! (cargo-fuzz needs a nightly toolchain; where there is none, tests/driver_robustness.rs's proptest
//! mutations are the fuzzer and crashing inputs go to tests/fixtures/drivers/regressions/).
#![no_main]

use libfuzzer_sys::fuzz_target;
use poolsleuth::driver::{AnalysisLimits, analyze};

fuzz_target!(|data: &[u8]| {
    let limits = AnalysisLimits {
        max_instructions: 2_000_000,
        ..AnalysisLimits::default()
    };
    let _ = analyze("fuzz.sys", data, &limits);
});
