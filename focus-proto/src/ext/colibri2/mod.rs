//! COLIBRI2 (`jitsi:colibri2`): the focus ↔ bridge protocol as Jicofo speaks
//! it (protocol/colibri2.md).
//!
//! * [`conference`]: [`ConferenceModify`] (the request, with a builder for
//!   each request Jicofo sends), [`ConferenceModified`] (the answer),
//!   [`Connect`] (transcriber / translator exports) and [`Answer`] (an IQ
//!   result or error read as one of the three things the focus can get).
//! * [`endpoint`]: [`Endpoint`] with its [`Media`], [`Transport`] (the
//!   COLIBRI2 wrapper around the shared ICE-UDP transport of
//!   [`crate::ext::jingle::transport`]), [`Sctp`], [`ForceMute`],
//!   [`Capability`]; [`ParticipantInfo`] is what Jicofo builds an endpoint
//!   from.
//! * [`relay`]: [`Relay`] (the bridge-to-bridge link) and [`RelaySide`].
//! * [`sources`]: [`Sources`] / [`MediaSource`], grouping an
//!   [`EndpointSourceSet`](crate::source::EndpointSourceSet) by source name
//!   and reading the bridge's feedback sources.
//! * [`error`]: [`BridgeError`] (a bridge's or the MUC's error answer),
//!   [`Reason`], and what the focus does about each failure
//!   ([`AllocationFailure`], [`RequestFailure`]).
//!
//! Every type reads from and writes to a [`minidom::Element`]. Parsing is
//! lenient where Jitsi's providers are: booleans are Java's
//! `parseBoolean` and default when absent, unknown attributes and children
//! are kept (in `extra_attrs` / `other`) and never fail a parse; a missing
//! required piece or a known attribute with an unusable value gives a
//! [`ParseError`](super::ParseError). Writers emit Jitsi's child element
//! order (attribute order is not kept by `minidom`, which sorts
//! attributes, and means nothing in XML) and omit every boolean that has
//! its default value, as the Java builders do.
//!
//! Hostile input is bounded: a known list longer than its cap
//! ([`MAX_ENTITIES`], [`MAX_MEDIA`], [`MAX_MEDIA_SOURCES`],
//! [`MAX_SOURCES_PER_MEDIA_SOURCE`], [`MAX_CAPABILITIES`],
//! [`MAX_CONNECTS`], [`MAX_CONNECT_CHILDREN`]) fails the parse rather than
//! being cut; unknown children beyond [`MAX_OTHER`] per element are
//! dropped.

pub mod conference;
pub mod endpoint;
pub mod error;
pub mod relay;
pub mod sources;

#[cfg(test)]
mod tests;

use minidom::Element;

pub use conference::{
    Answer, BlankMeetingId, ConferenceModified, ConferenceModify, Connect, ConnectProtocol,
    ConnectType, HttpHeader, MeetingId, Ping,
};
pub use endpoint::{
    Capability, Endpoint, ForceMute, Media, ParticipantInfo, Sctp, SctpRole, Transport,
};
pub use error::{
    Allocated, AllocationFailure, BridgeError, BridgeMark, ErrorKind, Reason, RequestFailure,
    allocation_outcome, relay_create_outcome, request_outcome,
};
pub use relay::{Relay, RelaySide};
pub use sources::{FEEDBACK_OWNER, MediaSource, Sources};

/// The COLIBRI2 namespace.
pub const NS_COLIBRI2: &str = "jitsi:colibri2";

/// Most `<endpoint/>`s or `<relay/>`s in one conference-modify(d), and most
/// endpoints in one relay's `<endpoints/>`.
pub const MAX_ENTITIES: usize = 4096;
/// Most `<media/>`s of one endpoint or relay.
pub const MAX_MEDIA: usize = 16;
/// Most `<media-source/>`s in one `<sources/>`.
pub const MAX_MEDIA_SOURCES: usize = 256;
/// Most `<source/>` plus `<ssrc-group/>` children of one `<media-source/>`.
pub const MAX_SOURCES_PER_MEDIA_SOURCE: usize = 256;
/// Most `<capability/>`s of one endpoint.
pub const MAX_CAPABILITIES: usize = 64;
/// Most `<connect/>`s in one `<connects/>`.
pub const MAX_CONNECTS: usize = 64;
/// Most children of one `<connect/>`, and most names in its `<exports/>`
/// or `<requests/>`.
pub const MAX_CONNECT_CHILDREN: usize = 256;
/// Most unknown children kept per element; later ones are dropped.
pub const MAX_OTHER: usize = 64;

/// Keeps an unknown child, up to [`MAX_OTHER`] of them.
fn keep_other(other: &mut Vec<Element>, child: &Element) {
    if other.len() < MAX_OTHER {
        other.push(child.clone());
    }
}

/// Fuzz target: `data` read as stanzas, each checked as
/// [`fuzz_element`] does.
#[cfg(any(test, feature = "fuzzing"))]
pub fn fuzz_colibri2(data: &[u8]) {
    for stanza in crate::fuzzing::stanzas(data) {
        fuzz_element(&stanza);
    }
}

/// Checks one element: as an answer it must classify without panicking
/// (and a bridge error survive a write-and-read round trip); it and each
/// child that parses as a `conference-modify`, `conference-modified` or
/// `sources` must survive a write-and-read round trip unchanged.
#[cfg(any(test, feature = "fuzzing"))]
fn fuzz_element(stanza: &Element) {
    if let Ok(answer) = Answer::parse(stanza) {
        let _ = allocation_outcome(Some(&answer), "a1b2c3d4", true);
        let _ = allocation_outcome(Some(&answer), "a1b2c3d4", false);
        let _ = request_outcome(Some(&answer));
        let _ = relay_create_outcome(Some(&answer));
        if let Answer::Error(error) = &answer {
            let _ = (error.kind(), error.on_allocation(), error.on_request());
            let back = BridgeError::from_error_element(&error.to_element());
            assert_eq!(back, *error, "bridge error round trip");
        }
    }
    for el in std::iter::once(stanza).chain(stanza.children()) {
        if let Ok(modify) = ConferenceModify::parse(el) {
            let written = modify.to_element();
            assert_eq!(ConferenceModify::parse(&written).as_ref(), Ok(&modify));
            let iq = modify.to_iq("id", "jvbbrewery@example.com/jvb");
            assert_eq!(ConferenceModify::from_iq(&iq).as_ref(), Ok(&modify));
        }
        if let Ok(modified) = ConferenceModified::parse(el) {
            let written = modified.to_element();
            assert_eq!(ConferenceModified::parse(&written).as_ref(), Ok(&modified));
            let _ = modified.feedback_sources();
        }
        if let Ok(sources) = Sources::parse(el) {
            assert_eq!(Sources::parse(&sources.to_element()).as_ref(), Ok(&sources));
            let _ = (sources.to_set(), sources.feedback_sources());
        }
    }
}
