//! Arbitrary Jingle through the source model: parse, validate against a
//! conference map, write back (XML and JSON), strip, remove.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    focus_proto::source::fuzz_sources(data);
});
