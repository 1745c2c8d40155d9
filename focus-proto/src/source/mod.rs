//! Media sources (sources.md): SSRCs, groups, per-endpoint sets, their
//! Jingle and compact JSON encodings, simulcast stripping, the conference
//! source map with Jicofo's validation, and per-receiver filtering and
//! diffs for source signaling.
//!
//! * [`source`][mod@source]: [`Ssrc`], [`MediaType`], [`VideoType`], [`Source`].
//! * [`group`][mod@group]: [`SsrcGroup`], [`Semantics`].
//! * [`set`][mod@set]: [`EndpointSourceSet`].
//! * [`jingle`][mod@jingle]: parse from and write to Jingle `<content>` elements.
//! * [`json`][mod@json]: the compact JSON encoding (`<json-message>`).
//! * [`strip`][mod@strip]: simulcast stripping.
//! * [`map`][mod@map]: [`ConferenceSourceMap`], [`ReceiverFilter`], [`diff()`],
//!   [`SourceSignaling`].
//! * [`validate`][mod@validate]: [`ValidatingConferenceSourceMap`] and
//!   [`ValidationError`] (Jicofo's messages).
//!
//! Everything here is pure data: no time, no I/O.

pub mod group;
pub mod jingle;
pub mod json;
pub mod map;
pub mod set;
#[allow(clippy::module_inception)]
pub mod source;
pub mod strip;
pub mod validate;

#[cfg(test)]
mod tests;

pub use group::{Semantics, SsrcGroup};
pub use jingle::{SourceParseError, parse_contents, parse_jingle};
pub use map::{ConferenceSourceMap, JVB_OWNER, ReceiverFilter, SourceDiff, SourceSignaling, diff};
pub use set::EndpointSourceSet;
pub use source::{MediaType, Source, Ssrc, VideoType, source_name};
pub use strip::strip_simulcast;
pub use validate::{ValidatingConferenceSourceMap, ValidationError};

/// Fuzz entry point: `data` as stanzas; the sources of each `<jingle>`
/// (the stanza or its child) go through parse, validation, removal, Jingle
/// and JSON writing and parsing again, with assertions at each step.
#[cfg(any(test, feature = "fuzzing"))]
pub fn fuzz_sources(data: &[u8]) {
    let mut map = ValidatingConferenceSourceMap::new(20, 20);
    for (i, stanza) in crate::fuzzing::stanzas(data).iter().enumerate() {
        let jingle = if stanza.is("jingle", jingle::NS_JINGLE) {
            Some(stanza)
        } else {
            stanza.get_child("jingle", jingle::NS_JINGLE)
        };
        let Some(jingle) = jingle else { continue };
        let owner = if i % 2 == 0 { "a" } else { "b" };
        if let Ok(set) = parse_jingle(jingle) {
            fuzz_one(&mut map, owner, &set);
        }
    }
}

#[cfg(any(test, feature = "fuzzing"))]
fn fuzz_one(map: &mut ValidatingConferenceSourceMap, owner: &str, set: &EndpointSourceSet) {
    // Jingle round trip, with and without owner.
    for with_owner in [None, Some(owner)] {
        let contents = jingle::set_to_contents(set, with_owner);
        let back = parse_contents(&contents);
        assert_eq!(back.as_ref(), Ok(set), "Jingle round trip");
    }
    // JSON round trip of the audio and video part.
    let av = set.filter_media(|m| m != MediaType::Data);
    let sent = ConferenceSourceMap::single(owner, av.clone());
    let text = json::json_message_text(&sent);
    let back = json::parse_json_message(&text);
    let expected = ConferenceSourceMap::single(owner, tests_support::json_normalized(&av));
    assert_eq!(back, Ok(Some(expected)), "JSON round trip of {text}");
    // Stripping only removes.
    let stripped = strip_simulcast(set);
    assert!(stripped.sources().iter().all(|s| set.contains_source(s)));
    assert!(
        stripped
            .groups()
            .iter()
            .all(|g| g.semantics == Semantics::Fid)
    );

    let before = map.map().clone();
    match map.try_to_add(owner, set) {
        Ok(accepted) => {
            assert!(accepted.sources().iter().all(|s| set.contains_source(s)));
            assert!(accepted.groups().iter().all(|g| set.contains_group(g)));
            let mut expected = before.clone();
            expected.add(owner, &accepted);
            assert_eq!(map.map(), &expected, "accepted is what was added");
            // Removing what was just accepted restores the previous state.
            let mut undo = map.clone();
            assert_eq!(undo.try_to_remove(owner, &accepted), Ok(accepted.clone()));
            assert_eq!(undo.map(), &before, "remove undoes add");
            undo.check_invariants()
                .unwrap_or_else(|e| panic!("after undo: {e}"));
        }
        Err(_) => assert_eq!(map.map(), &before, "a refused add changes nothing"),
    }
    map.check_invariants()
        .unwrap_or_else(|e| panic!("after add: {e}"));
    // Removing the same set again is validated as a removal too.
    let before = map.map().clone();
    let mut other = map.clone();
    match other.try_to_remove(owner, set) {
        Ok(removed) => {
            let mut expected = before;
            expected.remove(owner, &removed);
            assert_eq!(other.map(), &expected);
        }
        Err(_) => assert_eq!(other.map(), &before),
    }
    other
        .check_invariants()
        .unwrap_or_else(|e| panic!("after remove: {e}"));
}

/// Helpers shared by the tests and the fuzz entry point.
#[cfg(any(test, feature = "fuzzing"))]
mod tests_support {
    use super::{EndpointSourceSet, MediaType, Source, VideoType};

    /// `set` as a client reads it back from compact JSON: video sources
    /// without a video type are cameras, audio has none, data is dropped.
    pub(super) fn json_normalized(set: &EndpointSourceSet) -> EndpointSourceSet {
        let fix = |s: &Source| {
            let mut s = s.clone();
            s.video_type = match s.media_type {
                MediaType::Video => Some(s.video_type.unwrap_or(VideoType::Camera)),
                _ => None,
            };
            s
        };
        EndpointSourceSet::from_parts(
            set.sources()
                .iter()
                .filter(|s| s.media_type != MediaType::Data)
                .map(fix),
            set.groups()
                .iter()
                .filter(|g| g.media_type != MediaType::Data)
                .cloned(),
        )
    }
}
