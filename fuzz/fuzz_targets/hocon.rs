//! Arbitrary text as a `jicofo.conf`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    focus_proto::fuzzing::hocon(data);
});
