//! The focus fed an arbitrary sequence of Jingle actions (and joins,
//! leaves, time, bridge crashes) from the participants of a running
//! simulated conference; the input format is in `focus_tests::fuzz`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    focus_tests::fuzz::jingle_session(data);
});
