//! Helpers shared by the extension tests: fixtures, a wire round trip and
//! arbitrary element trees for property tests.

use minidom::{Element, Node};
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

/// `el` without its whitespace-only text nodes (fixtures are indented), for
/// comparing with what a writer produces.
pub(crate) fn strip_blank_text(el: &Element) -> Element {
    let mut out = Element::bare(el.name(), el.ns());
    for ((ns, name), value) in el.attrs().iter() {
        out.attrs_mut()
            .insert(ns.clone(), name.clone(), value.clone());
    }
    for node in el.nodes() {
        match node {
            Node::Element(child) => {
                out.append_child(strip_blank_text(child));
            }
            Node::Text(text) if !text.trim().is_empty() => out.append_text(text.clone()),
            Node::Text(_) => {}
        }
    }
    out
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
    known_or_any(
        &[
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
        ],
        1,
    )
}

/// Text that means something to some parser, and arbitrary text.
fn arb_text() -> impl Strategy<Value = String> {
    known_or_any(
        &[
            "true",
            "false",
            "{}",
            "{\"a-a0\":{\"muted\":false},\"a-v0\":{\"muted\":\"true\",\"videoType\":\"DESKTOP\"}}",
            "{\"a\":{\"videoType\":5}}",
            "{\"a\":1}",
            "[]",
            "vp9,VP8, av1,,",
            "switch_room",
        ],
        1,
    )
}

/// Arbitrary element trees made of the names, namespaces and attributes the
/// extension parsers look at, with meaningful and arbitrary values.
pub(crate) fn arb_element() -> impl Strategy<Value = Element> {
    let leaf = arb_leaf_of(NAMES, NAMESPACES, ATTRS, 4, arb_value(), arb_text());
    arb_tree_of(leaf, 4, 48, 6)
}

/// One of the `known` strings (chosen `weight_known` times as often as the
/// other way) or an arbitrary string.
pub(crate) fn known_or_any(
    known: &'static [&'static str],
    weight_known: u32,
) -> impl Strategy<Value = String> {
    prop_oneof![
        weight_known => prop::sample::select(known).prop_map(str::to_owned),
        1 => any::<String>(),
    ]
}

/// Childless elements named from `names` in one of `namespaces`, with fewer
/// than `max_attrs` attributes named from `attrs` with values from `value`,
/// and possibly a text from `text`.
pub(crate) fn arb_leaf_of(
    names: &'static [&'static str],
    namespaces: &'static [&'static str],
    attrs: &'static [&'static str],
    max_attrs: usize,
    value: impl Strategy<Value = String> + 'static,
    text: impl Strategy<Value = String> + 'static,
) -> BoxedStrategy<Element> {
    (
        prop::sample::select(names),
        prop::sample::select(namespaces),
        prop::collection::vec((prop::sample::select(attrs), value), 0..max_attrs),
        prop::option::of(text),
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
        .boxed()
}

/// Trees of `leaf` elements at most `depth` deep, aiming at `size`
/// elements, each with fewer than `branches` children.
pub(crate) fn arb_tree_of(
    leaf: BoxedStrategy<Element>,
    depth: u32,
    size: u32,
    branches: usize,
) -> impl Strategy<Value = Element> {
    leaf.clone()
        .prop_recursive(depth, size, branches as u32, move |inner| {
            (leaf.clone(), prop::collection::vec(inner, 0..branches)).prop_map(
                |(mut el, children)| {
                    for child in children {
                        el.append_child(child);
                    }
                    el
                },
            )
        })
}
