//! Arbitrary bytes into the REST API's HTTP connection and router.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    focus_proto::fuzzing::http_request(data);
});
