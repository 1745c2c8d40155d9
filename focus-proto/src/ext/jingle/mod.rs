//! Jingle (XEP-0166, `urn:xmpp:jingle:1`) with Jitsi's additions, as the
//! focus and lib-jitsi-meet speak it (protocol/jingle.md).
//!
//! * [`Jingle`]: the `<jingle/>` element: [`Action`] (with Jitsi's
//!   `source-add`/`source-remove` and the legacy `addsource`/`removesource`),
//!   `sid`, `initiator`, `responder`, contents, [`Reason`], and the Jitsi
//!   children typed ([`jitsi`]); anything else is kept.
//! * [`content`]: `<content/>`, the RTP `<description/>`, payload types,
//!   header extensions. Sources stay raw elements for [`crate::source`].
//! * [`transport`]: ICE-UDP transport, candidates, DTLS fingerprint,
//!   web-socket, sctpmap; shared with COLIBRI2.
//! * [`group`]: the BUNDLE `<group/>`.
//! * [`offer`]: the session-initiate offer built from `jicofo.codec`.
//!
//! Every type reads from and writes to a [`minidom::Element`]. Unknown
//! attributes and children are kept (in `extra_attrs` / `other` fields) and
//! never make a parse fail; a missing or malformed required piece, or a
//! known attribute with a value that cannot be used, gives a
//! [`ParseError`], which the caller answers with `bad-request`. Writers
//! emit Jitsi's element order, so a round trip keeps every piece but may
//! reorder children of different kinds (lib-jitsi-meet puts `<group/>`
//! first and `<rtcp-mux/>` among the sources; the focus does not).
//!
//! Hostile input is bounded: a list longer than its cap ([`MAX_CONTENTS`],
//! [`MAX_JINGLE_CHILDREN`], [`MAX_CONTENT_CHILDREN`], [`MAX_PAYLOAD_TYPES`],
//! [`MAX_PAYLOAD_TYPE_CHILDREN`], [`MAX_HDREXTS`], [`MAX_DESCRIPTION_OTHER`],
//! [`MAX_CANDIDATES`], [`MAX_TRANSPORT_CHILDREN`]) fails the parse rather
//! than being cut, so that no source or candidate is silently lost.

pub mod content;
pub mod group;
pub mod jitsi;
pub mod offer;
pub mod transport;

#[cfg(test)]
mod tests;

use jid::Jid;
use minidom::Element;
use rxml::AttrMap;

pub use content::{
    Content, Creator, Description, Media, Parameter, PayloadType, PayloadTypeChild, RtcpFb,
    RtpHdrExt, Senders,
};
pub use group::Group;
pub use jitsi::{BridgeSession, IceState, InitialLastN, JsonMessage, StartMuted, TraceParent};
pub use offer::{ClientFeatures, OfferError, OfferExtensions, OfferOptions};
pub use transport::{Candidate, CandidateType, Fingerprint, SctpMap, Setup, Transport, WebSocket};

use super::ParseError;
use crate::ext::attrs::{Attrs, append_all, check_len, set, set_opt, set_rest};
use group::NS_GROUPING;
use jitsi::{NS_OPENTELEMETRY, NS_START_MUTED};

/// XEP-0166 Jingle.
pub const NS_JINGLE: &str = "urn:xmpp:jingle:1";

/// Most `<content/>`s in a `<jingle/>` (and names in a `<group/>`).
pub const MAX_CONTENTS: usize = 16;
/// Most children of a `<jingle/>` other than contents.
pub const MAX_JINGLE_CHILDREN: usize = 64;
/// Most children of a `<content/>` (sources may sit directly under it).
pub const MAX_CONTENT_CHILDREN: usize = 4096;
/// Most `<payload-type/>`s in a description (there are 128 payload types).
pub const MAX_PAYLOAD_TYPES: usize = 128;
/// Most children (parameters, rtcp-fb, other) of one payload type.
pub const MAX_PAYLOAD_TYPE_CHILDREN: usize = 64;
/// Most `<rtp-hdrext/>`s in a description.
pub const MAX_HDREXTS: usize = 64;
/// Most other children (sources, ssrc-groups, unknown) of a description.
pub const MAX_DESCRIPTION_OTHER: usize = 4096;
/// Most `<candidate/>`s in a transport.
pub const MAX_CANDIDATES: usize = 128;
/// Most children of a transport other than candidates.
pub const MAX_TRANSPORT_CHILDREN: usize = 64;

/// The Jingle `action`, with Jitsi's source signaling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// `content-accept`.
    ContentAccept,
    /// `content-add`.
    ContentAdd,
    /// `content-modify`.
    ContentModify,
    /// `content-reject`.
    ContentReject,
    /// `content-remove`.
    ContentRemove,
    /// `description-info`.
    DescriptionInfo,
    /// `security-info`.
    SecurityInfo,
    /// `session-accept`.
    SessionAccept,
    /// `session-info`.
    SessionInfo,
    /// `session-initiate`.
    SessionInitiate,
    /// `session-terminate`.
    SessionTerminate,
    /// `transport-accept`.
    TransportAccept,
    /// `transport-info`.
    TransportInfo,
    /// `transport-reject`.
    TransportReject,
    /// `transport-replace`.
    TransportReplace,
    /// `source-add` (Jitsi).
    SourceAdd,
    /// `source-remove` (Jitsi).
    SourceRemove,
    /// `addsource` (Jitsi, legacy spelling of `source-add`).
    AddSource,
    /// `removesource` (Jitsi, legacy spelling of `source-remove`).
    RemoveSource,
}

impl Action {
    const ALL: [Action; 19] = [
        Self::ContentAccept,
        Self::ContentAdd,
        Self::ContentModify,
        Self::ContentReject,
        Self::ContentRemove,
        Self::DescriptionInfo,
        Self::SecurityInfo,
        Self::SessionAccept,
        Self::SessionInfo,
        Self::SessionInitiate,
        Self::SessionTerminate,
        Self::TransportAccept,
        Self::TransportInfo,
        Self::TransportReject,
        Self::TransportReplace,
        Self::SourceAdd,
        Self::SourceRemove,
        Self::AddSource,
        Self::RemoveSource,
    ];

    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ContentAccept => "content-accept",
            Self::ContentAdd => "content-add",
            Self::ContentModify => "content-modify",
            Self::ContentReject => "content-reject",
            Self::ContentRemove => "content-remove",
            Self::DescriptionInfo => "description-info",
            Self::SecurityInfo => "security-info",
            Self::SessionAccept => "session-accept",
            Self::SessionInfo => "session-info",
            Self::SessionInitiate => "session-initiate",
            Self::SessionTerminate => "session-terminate",
            Self::TransportAccept => "transport-accept",
            Self::TransportInfo => "transport-info",
            Self::TransportReject => "transport-reject",
            Self::TransportReplace => "transport-replace",
            Self::SourceAdd => "source-add",
            Self::SourceRemove => "source-remove",
            Self::AddSource => "addsource",
            Self::RemoveSource => "removesource",
        }
    }

    /// Reads a wire value (exact, as Jitsi's `parseString`).
    pub fn from_wire(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == value)
    }

    /// `source-add` or its legacy spelling `addsource`.
    pub fn is_source_add(self) -> bool {
        matches!(self, Self::SourceAdd | Self::AddSource)
    }

    /// `source-remove` or its legacy spelling `removesource`.
    pub fn is_source_remove(self) -> bool {
        matches!(self, Self::SourceRemove | Self::RemoveSource)
    }
}

/// The condition of a `<reason/>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ReasonCondition {
    /// `alternative-session`.
    AlternativeSession,
    /// `busy`.
    Busy,
    /// `cancel`.
    Cancel,
    /// `connectivity-error`.
    ConnectivityError,
    /// `decline`.
    Decline,
    /// `expired`.
    Expired,
    /// `failed-application`.
    FailedApplication,
    /// `failed-transport`.
    FailedTransport,
    /// `general-error`.
    GeneralError,
    /// `gone`.
    Gone,
    /// `incompatible-parameters`.
    IncompatibleParameters,
    /// `media-error`.
    MediaError,
    /// `security-error`.
    SecurityError,
    /// `success`.
    Success,
    /// `timeout`.
    Timeout,
    /// `unsupported-applications`.
    UnsupportedApplications,
    /// `unsupported-transports`.
    UnsupportedTransports,
    /// Any other element name in the Jingle namespace, kept as received
    /// (parsing never puts a name listed above here; a name built by hand
    /// must be a valid XML name).
    Other(String),
}

impl ReasonCondition {
    const KNOWN: [ReasonCondition; 17] = [
        Self::AlternativeSession,
        Self::Busy,
        Self::Cancel,
        Self::ConnectivityError,
        Self::Decline,
        Self::Expired,
        Self::FailedApplication,
        Self::FailedTransport,
        Self::GeneralError,
        Self::Gone,
        Self::IncompatibleParameters,
        Self::MediaError,
        Self::SecurityError,
        Self::Success,
        Self::Timeout,
        Self::UnsupportedApplications,
        Self::UnsupportedTransports,
    ];

    /// The element name.
    pub fn as_str(&self) -> &str {
        match self {
            Self::AlternativeSession => "alternative-session",
            Self::Busy => "busy",
            Self::Cancel => "cancel",
            Self::ConnectivityError => "connectivity-error",
            Self::Decline => "decline",
            Self::Expired => "expired",
            Self::FailedApplication => "failed-application",
            Self::FailedTransport => "failed-transport",
            Self::GeneralError => "general-error",
            Self::Gone => "gone",
            Self::IncompatibleParameters => "incompatible-parameters",
            Self::MediaError => "media-error",
            Self::SecurityError => "security-error",
            Self::Success => "success",
            Self::Timeout => "timeout",
            Self::UnsupportedApplications => "unsupported-applications",
            Self::UnsupportedTransports => "unsupported-transports",
            Self::Other(name) => name,
        }
    }

    /// The condition for an element name.
    pub fn from_name(name: &str) -> Self {
        Self::KNOWN
            .into_iter()
            .find(|c| c.as_str() == name)
            .unwrap_or_else(|| Self::Other(name.to_owned()))
    }
}

/// A Jingle `<reason/>`: a condition element, an optional `<text/>`.
/// Children of the condition element (the `<sid/>` of an
/// alternative-session) and `xml:lang` of the text are not kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    /// The condition.
    pub condition: ReasonCondition,
    /// `<text/>`.
    pub text: Option<String>,
    /// Other children (application-specific conditions), in order.
    pub other: Vec<Element>,
}

impl Reason {
    /// A reason with a condition and an optional text.
    pub fn new(condition: ReasonCondition, text: Option<&str>) -> Self {
        Self {
            condition,
            text: text.map(str::to_owned),
            other: Vec::new(),
        }
    }

    /// Reads a `<reason/>`: the first child in the Jingle namespace other
    /// than `<text/>` is the condition (required).
    pub fn parse(el: &Element) -> Result<Self, ParseError> {
        crate::ext::expect_element(el, "reason", NS_JINGLE)?;
        let mut condition = None;
        let mut text = None;
        let mut other = Vec::new();
        for (i, child) in el.children().enumerate() {
            check_len(i, MAX_JINGLE_CHILDREN, "reason child")?;
            if child.is("text", NS_JINGLE) {
                if text.is_none() {
                    text = Some(child.text());
                } else {
                    other.push(child.clone());
                }
            } else if child.has_ns(NS_JINGLE) && condition.is_none() {
                condition = Some(ReasonCondition::from_name(child.name()));
            } else {
                other.push(child.clone());
            }
        }
        Ok(Self {
            condition: condition.ok_or(ParseError::MissingChild("condition"))?,
            text,
            other,
        })
    }

    /// The `<reason/>` element: condition, text, other children.
    pub fn to_element(&self) -> Element {
        let mut el = Element::bare("reason", NS_JINGLE);
        el.append_child(Element::bare(self.condition.as_str(), NS_JINGLE));
        if let Some(text) = &self.text {
            let mut t = Element::bare("text", NS_JINGLE);
            if !text.is_empty() {
                t.append_text(text.clone());
            }
            el.append_child(t);
        }
        append_all(&mut el, &self.other);
        el
    }
}

/// A `<jingle/>` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jingle {
    /// `action`.
    pub action: Action,
    /// `sid`.
    pub sid: String,
    /// `initiator`.
    pub initiator: Option<Jid>,
    /// `responder`.
    pub responder: Option<Jid>,
    /// The `<content/>`s, in order (at most [`MAX_CONTENTS`]).
    pub contents: Vec<Content>,
    /// `<reason/>`; the first one if several.
    pub reason: Option<Reason>,
    /// `<group/>`s (the BUNDLE group), in order.
    pub groups: Vec<Group>,
    /// `<startmuted/>`; the first one if several.
    pub start_muted: Option<StartMuted>,
    /// `<bridge-session/>`; the first one if several.
    pub bridge_session: Option<BridgeSession>,
    /// `<json-message/>`; the first one if several.
    pub json_message: Option<JsonMessage>,
    /// `<ice-state/>` (legacy session-info); the first one if several.
    pub ice_state: Option<IceState>,
    /// `<traceparent/>`; the first one if several.
    pub trace_parent: Option<TraceParent>,
    /// Attributes not listed above, kept as received.
    pub extra_attrs: AttrMap,
    /// Children not listed above, in order.
    pub other: Vec<Element>,
}

impl Jingle {
    /// An empty `<jingle/>` with `action` and `sid`.
    pub fn new(action: Action, sid: impl Into<String>) -> Self {
        Self {
            action,
            sid: sid.into(),
            initiator: None,
            responder: None,
            contents: Vec::new(),
            reason: None,
            groups: Vec::new(),
            start_muted: None,
            bridge_session: None,
            json_message: None,
            ice_state: None,
            trace_parent: None,
            extra_attrs: AttrMap::new(),
            other: Vec::new(),
        }
    }

    /// The focus's session-terminate: only a reason, no initiator.
    pub fn session_terminate(
        sid: impl Into<String>,
        condition: ReasonCondition,
        text: Option<&str>,
    ) -> Self {
        let mut jingle = Self::new(Action::SessionTerminate, sid);
        jingle.reason = Some(Reason::new(condition, text));
        jingle
    }

    /// The focus's transport-info after a bridge ICE restart: one content
    /// named `audio` (creator `initiator`) carrying the
    /// [offer copy](Transport::offer_copy) of the bridge's transport; no
    /// initiator.
    pub fn transport_info(sid: impl Into<String>, transport: &Transport) -> Self {
        let mut jingle = Self::new(Action::TransportInfo, sid);
        let mut content = Content::new("audio", Creator::Initiator);
        content.transport = Some(transport.offer_copy());
        jingle.contents.push(content);
        jingle
    }

    /// Reads a `<jingle/>`. Required: `action` (one of [`Action`]) and
    /// `sid`; `initiator` and `responder` must be JIDs when present.
    /// Contents and the typed Jitsi children must parse; unknown children
    /// are kept in [`Jingle::other`].
    pub fn parse(el: &Element) -> Result<Self, ParseError> {
        crate::ext::expect_element(el, "jingle", NS_JINGLE)?;
        let mut a = Attrs::of(el);
        let action = a
            .parsed("action", Action::from_wire)?
            .ok_or(ParseError::MissingAttribute("action"))?;
        let sid = a.required("sid")?;
        let initiator = a.parsed("initiator", |v| Jid::new(v).ok())?;
        let responder = a.parsed("responder", |v| Jid::new(v).ok())?;
        let mut jingle = Self::new(action, sid);
        jingle.initiator = initiator;
        jingle.responder = responder;
        jingle.extra_attrs = a.rest();
        let mut others = 0;
        for child in el.children() {
            if child.is("content", NS_JINGLE) {
                check_len(jingle.contents.len(), MAX_CONTENTS, "content")?;
                jingle.contents.push(Content::parse(child)?);
                continue;
            }
            check_len(others, MAX_JINGLE_CHILDREN, "jingle child")?;
            others += 1;
            if child.is("reason", NS_JINGLE) && jingle.reason.is_none() {
                jingle.reason = Some(Reason::parse(child)?);
            } else if child.is("group", NS_GROUPING) {
                jingle.groups.push(Group::parse(child)?);
            } else if child.is("startmuted", NS_START_MUTED) && jingle.start_muted.is_none() {
                jingle.start_muted = Some(StartMuted::parse(child)?);
            } else if child.is("bridge-session", crate::ext::conference_iq::NS_FOCUS)
                && jingle.bridge_session.is_none()
            {
                jingle.bridge_session = Some(BridgeSession::parse(child)?);
            } else if child.is("json-message", crate::ext::presence::NS_JITMEET)
                && jingle.json_message.is_none()
            {
                jingle.json_message = Some(JsonMessage::parse(child)?);
            } else if child.is("ice-state", crate::ext::conference_iq::NS_FOCUS)
                && jingle.ice_state.is_none()
            {
                jingle.ice_state = Some(IceState::parse(child)?);
            } else if child.is("traceparent", NS_OPENTELEMETRY) && jingle.trace_parent.is_none() {
                jingle.trace_parent = Some(TraceParent::parse(child)?);
            } else {
                jingle.other.push(child.clone());
            }
        }
        Ok(jingle)
    }

    /// The `<jingle/>` element in Jicofo's order: contents, reason, then
    /// the extensions (group, startmuted, bridge-session, json-message,
    /// traceparent, ice-state), then other children.
    pub fn to_element(&self) -> Element {
        let mut el = Element::bare("jingle", NS_JINGLE);
        set(&mut el, "action", self.action.as_str());
        set_opt(
            &mut el,
            "initiator",
            self.initiator.as_ref().map(Jid::as_str),
        );
        set_opt(
            &mut el,
            "responder",
            self.responder.as_ref().map(Jid::as_str),
        );
        set(&mut el, "sid", &self.sid);
        set_rest(&mut el, &self.extra_attrs);
        for content in &self.contents {
            el.append_child(content.to_element());
        }
        if let Some(reason) = &self.reason {
            el.append_child(reason.to_element());
        }
        for group in &self.groups {
            el.append_child(group.to_element());
        }
        if let Some(start_muted) = &self.start_muted {
            el.append_child(start_muted.to_element());
        }
        if let Some(bridge_session) = &self.bridge_session {
            el.append_child(bridge_session.to_element());
        }
        if let Some(json) = &self.json_message {
            el.append_child(json.to_element());
        }
        if let Some(trace) = &self.trace_parent {
            el.append_child(trace.to_element());
        }
        if let Some(ice_state) = &self.ice_state {
            el.append_child(ice_state.to_element());
        }
        append_all(&mut el, &self.other);
        el
    }

    /// The first content named `name`.
    pub fn content(&self, name: &str) -> Option<&Content> {
        self.contents.iter().find(|c| c.name == name)
    }

    /// The first transport among the contents (what Jicofo relays to the
    /// bridge on session-accept, transport-accept and transport-info).
    pub fn first_transport(&self) -> Option<&Transport> {
        self.contents.iter().find_map(|c| c.transport.as_ref())
    }

    /// The `initial-last-n` of the content named `video` (where
    /// lib-jitsi-meet puts it).
    pub fn initial_last_n(&self) -> Option<i32> {
        self.content("video")?.initial_last_n.map(|n| n.value)
    }
}

/// What the focus uses of a participant's `session-accept`,
/// `transport-accept` or `transport-info`: the first ICE transport and the
/// `initial-last-n` of the `video` content. Read without parsing the rest:
/// the descriptions are the client's answer to the focus's own offer and
/// nothing in them is used (sources are read separately), so a
/// malformed payload type does not refuse the session, as with Jicofo.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TransportParts {
    /// The first `<transport/>` (ICE-UDP) among the contents.
    pub transport: Option<Transport>,
    /// `initial-last-n/@value` of the content named `video`.
    pub initial_last_n: Option<i32>,
}

impl TransportParts {
    /// Reads them from a `<jingle/>`: at most [`MAX_CONTENTS`] contents; the
    /// transport and initial-last-n read must be well formed.
    pub fn parse(jingle: &Element) -> Result<Self, ParseError> {
        let mut parts = Self::default();
        let mut video_seen = false;
        for (i, content) in jingle
            .children()
            .filter(|c| c.is("content", NS_JINGLE))
            .enumerate()
        {
            check_len(i, MAX_CONTENTS, "content")?;
            if parts.transport.is_none()
                && let Some(t) = content.get_child("transport", transport::NS_ICE_UDP)
            {
                parts.transport = Some(Transport::parse(t)?);
            }
            if !video_seen && content.attr("name") == Some("video") {
                video_seen = true;
                if let Some(n) = content.get_child("initial-last-n", jitsi::NS_COLIBRI2) {
                    parts.initial_last_n = Some(InitialLastN::parse(n)?.value);
                }
            }
        }
        Ok(parts)
    }
}

/// The `<jingle/>` child of an IQ, if any.
pub fn jingle_child(iq: &Element) -> Option<&Element> {
    iq.get_child("jingle", NS_JINGLE)
}

/// The `sid` of a `<jingle/>` element, read without parsing the rest, to
/// route an IQ to its session before [`Jingle::parse`] (an unknown sid is
/// answered `bad-request` whatever else is wrong).
pub fn sid_of(jingle: &Element) -> Option<&str> {
    crate::ext::non_empty_attr(jingle, "sid")
}

/// Fuzz target: `data` read as stanzas; every `<jingle/>` (the stanza or
/// its child) and every ICE-UDP `<transport/>` that parses must survive a
/// write-and-read round trip unchanged. A parsed transport is also used to
/// build an offer (options taken from the first byte), which must parse
/// back to the same contents.
#[cfg(any(test, feature = "fuzzing"))]
pub fn fuzz_jingle(data: &[u8]) {
    let options = data.first().copied().unwrap_or(0xff);
    for stanza in crate::fuzzing::stanzas(data) {
        let candidates = std::iter::once(&stanza).chain(stanza.children());
        for el in candidates {
            let _ = sid_of(el);
            if let Ok(jingle) = Jingle::parse(el) {
                let written = jingle.to_element();
                assert_eq!(Jingle::parse(&written).as_ref(), Ok(&jingle));
                let _ = (jingle.first_transport(), jingle.initial_last_n());
                for content in &jingle.contents {
                    if let Some(transport) = &content.transport {
                        fuzz_offer(options, transport);
                    }
                }
            }
            if let Ok(transport) = Transport::parse(el) {
                assert_eq!(
                    Transport::parse(&transport.to_element()),
                    Ok(transport.clone())
                );
                fuzz_offer(options, &transport);
            }
        }
    }
}

/// Builds an offer around `transport` and checks that it reads back.
#[cfg(any(test, feature = "fuzzing"))]
fn fuzz_offer(bits: u8, transport: &Transport) {
    let bit = |n: u8| bits & (1 << n) != 0;
    let options = OfferOptions {
        audio: bit(0),
        video: bit(1),
        sctp: bit(2),
        tcc: bit(3),
        remb: bit(4),
        rtx: bit(5),
        opus_red: bit(6),
    };
    let config = crate::config::Config::default();
    let Ok(contents) = offer::offer_contents(&config, &options, transport, Some(5000)) else {
        return;
    };
    let Ok(initiator) = Jid::new("focus@auth.meet.jitsi/focus") else {
        return;
    };
    let jingle = offer::session_initiate(
        "sid",
        initiator,
        contents,
        &OfferExtensions {
            bridge_session: BridgeSession::new("b", None),
            ..Default::default()
        },
    );
    assert_eq!(Jingle::parse(&jingle.to_element()).as_ref(), Ok(&jingle));
}
