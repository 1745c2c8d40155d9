//! Arbitrary stanzas through the COLIBRI2 parsers and answer
//! classification, with round-trip checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    focus_proto::ext::colibri2::fuzz_colibri2(data);
});
