//! Arbitrary stanzas into the MUC occupant presence, focus presence and
//! room configuration form parsers.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    focus_proto::fuzzing::occupant_presence(data);
});
