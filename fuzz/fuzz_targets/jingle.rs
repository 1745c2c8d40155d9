//! Arbitrary stanzas through the Jingle parsers (jingle, contents,
//! transports) and the offer builder, with round-trip checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    focus_proto::ext::jingle::fuzz_jingle(data);
});
