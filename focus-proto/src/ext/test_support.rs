//! Helpers shared by the extension tests: fixtures, a wire round trip and
//! arbitrary element trees for property tests.

use minidom::Element;
use proptest::prelude::*;

use crate::xml::{Limits, StreamEvent, StreamReader, write_element};

/// Parses one XML element (a fixture); panics on malformed XML.
pub(crate) fn xml(text: &str) -> Element {
    match text.trim().parse::<Element>() {
        Ok(el) => el,
        Err(e) => panic!("fixture does not parse: {e}\n{text}"),
    }
}

/// The stanzas of a fixture file holding several, separated by blank lines.
pub(crate) fn xml_all(text: &str) -> Vec<Element> {
    let stanzas = crate::fuzzing::stanzas(text.as_bytes());
    assert!(!stanzas.is_empty(), "no stanza in fixture");
    stanzas
}

/// `el` written by the stream writer and read back by the stream reader, as
/// it would travel over a `jabber:client` stream.
pub(crate) fn wire(el: &Element) -> Element {
    let mut bytes =
        b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"
            .to_vec();
    write_element(el, &mut bytes);
    let mut reader = StreamReader::new(Limits::default());
    reader.feed(&bytes).expect("written XML reads back");
    assert!(matches!(reader.next_event(), Some(StreamEvent::Header(_))));
    match reader.next_event() {
        Some(StreamEvent::Element(el)) => el,
        other => panic!("expected an element, got {other:?}"),
    }
}

const NAMES: &[&str] = &[
    "iq",
    "presence",
    "message",
    "conference",
    "property",
    "login-url",
    "logout",
    "session-invalid",
    "error",
    "text",
    "bad-request",
    "not-acceptable",
    "x",
    "item",
    "status",
    "destroy",
    "query",
    "field",
    "value",
    "SourceInfo",
    "stats-id",
    "jitsi_participant_region",
    "audiomuted",
    "videomuted",
    "features",
    "feature",
    "c",
    "jitsi_participant_codecList",
    "jitsi_participant_codecType",
    "jitsi_participant_diarize",
    "etherpad",
    "versions",
    "component",
    "conference-properties",
    "bridgeNotAvailable",
];

const NAMESPACES: &[&str] = &[
    "jabber:client",
    "http://jitsi.org/protocol/focus",
    "urn:ietf:params:xml:ns:xmpp-stanzas",
    "http://jabber.org/protocol/muc",
    "http://jabber.org/protocol/muc#user",
    "http://jabber.org/protocol/muc#owner",
    "jabber:x:data",
    "http://jabber.org/protocol/caps",
    "http://jitsi.org/jitmeet",
    "http://jitsi.org/jitmeet/etherpad",
    "urn:other",
];

const ATTRS: &[&str] = &[
    "type",
    "id",
    "to",
    "from",
    "room",
    "machine-uid",
    "session-id",
    "token",
    "focusjid",
    "ready",
    "vnode",
    "identity",
    "name",
    "value",
    "key",
    "popup",
    "url",
    "logout-url",
    "affiliation",
    "role",
    "jid",
    "nick",
    "code",
    "var",
    "hash",
    "node",
    "ver",
];

/// Values that mean something to some parser, and arbitrary ones.
fn arb_value() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "",
            "true",
            "TRUE",
            "false",
            "1",
            "0",
            "-1",
            "4294967296",
            "unavailable",
            "error",
            "subscribe",
            "owner",
            "admin",
            "moderator",
            "participant",
            "none",
            "307",
            "110",
            "a@b",
            "a@b@c",
            "@b",
            "a@b/c",
            "%",
            "%zz",
            "a+b%20c",
            "{}",
            "{\"x-a0\":{\"muted\":false}}",
            "startAudioMuted",
            "visitor",
            "visitors-version",
            "rtcstatsEnabled",
            "muc#roominfo_meetingId",
            "muc#roominfo_isbreakout",
            "muc#roominfo_breakout_main_room",
            "focus",
            "wait",
            "modify",
        ])
        .prop_map(str::to_owned),
        any::<String>(),
    ]
}

/// Text that means something to some parser, and arbitrary text.
fn arb_text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "true",
            "false",
            "{}",
            "{\"a-a0\":{\"muted\":false},\"a-v0\":{\"muted\":\"true\",\"videoType\":\"DESKTOP\"}}",
            "{\"a\":{\"videoType\":5}}",
            "{\"a\":1}",
            "[]",
            "vp9,VP8, av1,,",
            "switch_room",
        ])
        .prop_map(str::to_owned),
        any::<String>(),
    ]
}

fn arb_leaf() -> impl Strategy<Value = Element> {
    (
        prop::sample::select(NAMES),
        prop::sample::select(NAMESPACES),
        prop::collection::vec((prop::sample::select(ATTRS), arb_value()), 0..4),
        prop::option::of(arb_text()),
    )
        .prop_map(|(name, ns, attrs, text)| {
            let mut el = Element::builder(name, ns);
            for (attr, value) in attrs {
                el = el.attr(crate::xml::ncname(attr), value);
            }
            if let Some(text) = text {
                el = el.append(text);
            }
            el.build()
        })
}

/// Arbitrary element trees made of the names, namespaces and attributes the
/// extension parsers look at, with meaningful and arbitrary values.
pub(crate) fn arb_element() -> impl Strategy<Value = Element> {
    arb_leaf().prop_recursive(4, 48, 6, |inner| {
        (arb_leaf(), prop::collection::vec(inner, 0..6)).prop_map(|(mut el, children)| {
            for child in children {
                el.append_child(child);
            }
            el
        })
    })
}
