//! The structured fuzz target `jingle_session` ([`focus_tests::fuzz`]):
//! its committed corpus replayed, and random inputs.

use std::path::Path;

use proptest::prelude::*;

/// Every seed of `fuzz/corpus/jingle_session`, in name order (or of the
/// directory `JINGLE_SESSION_CORPUS` names, to replay what a fuzzer found).
#[test]
fn jingle_session_corpus_replays() {
    let dir = std::env::var_os("JINGLE_SESSION_CORPUS").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/jingle_session"),
        Into::into,
    );
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    assert!(
        !paths.is_empty(),
        "the corpus of jingle_session is committed"
    );
    for path in paths {
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        eprintln!("replaying {}", path.display());
        focus_tests::fuzz::jingle_session(&data);
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        // A failing case reruns whole simulations: keep shrinking short.
        max_shrink_iters: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Random operation sequences keep every invariant.
    #[test]
    fn jingle_session_random_inputs(data in proptest::collection::vec(any::<u8>(), 0..96)) {
        focus_tests::fuzz::jingle_session(&data);
    }
}
