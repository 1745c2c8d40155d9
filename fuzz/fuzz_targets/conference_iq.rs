//! Arbitrary stanzas into the conference request, answer, login-url,
//! logout and stanza error parsers.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    focus_proto::fuzzing::conference_iq(data);
});
