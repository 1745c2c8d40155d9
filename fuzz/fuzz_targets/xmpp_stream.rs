//! Arbitrary server bytes into a client `XmppStream`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    focus_proto::fuzzing::xmpp_stream(data);
});
