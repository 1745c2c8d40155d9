//! Arbitrary stanzas to a focus in the bridge brewery: bridge stats
//! presence, health-check answers, the pool and its REST views.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    focus_proto::fuzzing::brewery(data);
});
