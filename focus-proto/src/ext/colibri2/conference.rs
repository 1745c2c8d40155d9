//! `<conference-modify/>` (the request, with a builder per request kind
//! Jicofo sends), `<conference-modified/>` (the answer), `<connects/>`, and
//! [`Answer`]: what an IQ answer to a request is.

use std::fmt;

use minidom::Element;
use rxml::AttrMap;

use super::endpoint::{Endpoint, ParticipantInfo};
use super::error::BridgeError;
use super::relay::Relay;
use super::sources::Sources;
use super::{MAX_CONNECT_CHILDREN, MAX_CONNECTS, MAX_ENTITIES, NS_COLIBRI2, keep_other};
use crate::ext::ParseError;
use crate::ext::attrs::{Attrs, append_all, check_len, set, set_flag, set_opt, set_rest};
use crate::ext::error::{IqKind, iq_request};
use crate::source::EndpointSourceSet;

/// A `meeting-id`: never blank (Jitsi's builder refuses a blank one, and
/// the bridge looks conferences up by it).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MeetingId(String);

/// A blank meeting id was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("meeting-id must be set for conference-modify")]
pub struct BlankMeetingId;

impl MeetingId {
    /// `id`, unless it is empty or only white space.
    pub fn new(id: impl Into<String>) -> Result<Self, BlankMeetingId> {
        let id = id.into();
        if id.trim().is_empty() {
            Err(BlankMeetingId)
        } else {
            Ok(Self(id))
        }
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MeetingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A `<conference-modify/>`: the focus's request to a bridge.
///
/// `callstats-enabled` (removed from the protocol) has no field; a
/// received one stays in [`ConferenceModify::extra_attrs`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConferenceModify {
    /// `meeting-id` (required).
    pub meeting_id: MeetingId,
    /// `name`: the room's bare JID, on the create request.
    pub name: Option<String>,
    /// `create`: create the conference.
    pub create: bool,
    /// `expire`: tear the whole conference down.
    pub expire: bool,
    /// `rtcstats-enabled` (default true, written only when false).
    pub rtcstats_enabled: bool,
    /// The `<endpoint/>`s, in order (at most [`MAX_ENTITIES`]).
    pub endpoints: Vec<Endpoint>,
    /// The `<relay/>`s, in order (at most [`MAX_ENTITIES`]); Jicofo never
    /// mixes them with endpoints, and sends one at a time.
    pub relays: Vec<Relay>,
    /// `<connects/>`: `None` without the element.
    pub connects: Option<Vec<Connect>>,
    /// Attributes not listed above, kept as received.
    pub extra_attrs: AttrMap,
    /// Other children (a `traceparent`, unknown elements; up to
    /// [`super::MAX_OTHER`]), in order.
    pub other: Vec<Element>,
}

impl ConferenceModify {
    /// A request about `meeting_id` with nothing in it.
    pub fn new(meeting_id: MeetingId) -> Self {
        Self {
            meeting_id,
            name: None,
            create: false,
            expire: false,
            rtcstats_enabled: true,
            endpoints: Vec::new(),
            relays: Vec::new(),
            connects: None,
            extra_attrs: AttrMap::new(),
            other: Vec::new(),
        }
    }

    /// The first allocation on a bridge: `create='true'`, `name` (the room
    /// JID), `rtcstats-enabled`, the participant's
    /// [allocation endpoint](Endpoint::allocation), and the session's
    /// desired connects (each with `create='true'`) when there are any.
    pub fn create_conference(
        meeting_id: MeetingId,
        name: impl Into<String>,
        rtcstats_enabled: bool,
        participant: &ParticipantInfo,
        connects: Vec<Connect>,
    ) -> Self {
        let mut request = Self::new(meeting_id);
        request.create = true;
        request.name = Some(name.into());
        request.rtcstats_enabled = rtcstats_enabled;
        request.endpoints.push(Endpoint::allocation(participant));
        if !connects.is_empty() {
            let created = connects.into_iter().map(|c| Connect {
                create: true,
                expire: false,
                ..c
            });
            request.connects = Some(created.collect());
        }
        request
    }

    /// An allocation on a bridge whose conference exists: one
    /// [allocation endpoint](Endpoint::allocation).
    pub fn allocate(meeting_id: MeetingId, participant: &ParticipantInfo) -> Self {
        Self::with_endpoints(meeting_id, vec![Endpoint::allocation(participant)])
    }

    /// An update of one endpoint (`updateParticipant`), see
    /// [`Endpoint::update`]; `None` when there is nothing to update.
    pub fn update_endpoint(
        meeting_id: MeetingId,
        id: impl Into<String>,
        stats_id: Option<String>,
        transport: Option<crate::ext::jingle::Transport>,
        sources: Option<&EndpointSourceSet>,
        initial_last_n: Option<i32>,
    ) -> Option<Self> {
        let endpoint = Endpoint::update(id, stats_id, transport, sources, initial_last_n)?;
        Some(Self::with_endpoints(meeting_id, vec![endpoint]))
    }

    /// An in-place ICE restart of one endpoint, see
    /// [`Endpoint::ice_restart`].
    pub fn ice_restart(
        meeting_id: MeetingId,
        id: impl Into<String>,
        stats_id: Option<String>,
    ) -> Self {
        Self::with_endpoints(meeting_id, vec![Endpoint::ice_restart(id, stats_id)])
    }

    /// A force-mute batch (`updateForceMute`): per `(id, audio, video)` one
    /// endpoint with a `<force-mute/>`.
    pub fn force_mute<'a>(
        meeting_id: MeetingId,
        endpoints: impl IntoIterator<Item = (&'a str, bool, bool)>,
    ) -> Self {
        let endpoints = endpoints
            .into_iter()
            .map(|(id, audio, video)| Endpoint::force_mute(id, audio, video))
            .collect();
        Self::with_endpoints(meeting_id, endpoints)
    }

    /// Expires endpoints: one `<endpoint id expire='true'/>` per id. `None`
    /// for no ids (Jicofo sends nothing).
    pub fn expire_endpoints<'a>(
        meeting_id: MeetingId,
        ids: impl IntoIterator<Item = &'a str>,
    ) -> Option<Self> {
        let endpoints: Vec<Endpoint> = ids.into_iter().map(Endpoint::expire).collect();
        (!endpoints.is_empty()).then(|| Self::with_endpoints(meeting_id, endpoints))
    }

    /// Expires the whole conference: `expire='true'` and nothing else.
    pub fn expire_conference(meeting_id: MeetingId) -> Self {
        let mut request = Self::new(meeting_id);
        request.expire = true;
        request
    }

    /// A request carrying one relay (create, remote transport, remote
    /// endpoints, expire: see the constructors of [`Relay`]).
    pub fn relay(meeting_id: MeetingId, relay: Relay) -> Self {
        let mut request = Self::new(meeting_id);
        request.relays.push(relay);
        request
    }

    /// A connects update (`setConnects`): only `<connects/>`.
    pub fn connects(meeting_id: MeetingId, connects: Vec<Connect>) -> Self {
        let mut request = Self::new(meeting_id);
        request.connects = Some(connects);
        request
    }

    /// A request carrying `endpoints`.
    pub fn with_endpoints(meeting_id: MeetingId, endpoints: Vec<Endpoint>) -> Self {
        let mut request = Self::new(meeting_id);
        request.endpoints = endpoints;
        request
    }

    /// The IQ `set` carrying this request, to `to` (the bridge's occupant
    /// JID in the brewery).
    pub fn to_iq(&self, id: &str, to: &str) -> Element {
        iq_request(IqKind::Set, id, to, self.to_element())
    }

    /// The request carried by an IQ `set` (what a bridge reads); the IQ's
    /// namespace is not checked.
    pub fn from_iq(iq: &Element) -> Result<Self, ParseError> {
        if iq.name() != "iq" || iq.attr("type") != Some("set") {
            return Err(ParseError::WrongElement { expected: "iq" });
        }
        let payload = iq
            .get_child("conference-modify", NS_COLIBRI2)
            .ok_or(ParseError::MissingChild("conference-modify"))?;
        Self::parse(payload)
    }

    /// Reads a `<conference-modify/>`: `meeting-id` must not be blank;
    /// every endpoint, relay and connect must parse.
    pub fn parse(el: &Element) -> Result<Self, ParseError> {
        crate::ext::expect_element(el, "conference-modify", NS_COLIBRI2)?;
        let mut a = Attrs::of(el);
        let meeting_id = a.required("meeting-id")?;
        let meeting_id = MeetingId::new(meeting_id.clone())
            .map_err(|_| ParseError::invalid_attribute("meeting-id", &meeting_id))?;
        let mut request = Self::new(meeting_id);
        request.name = a.take("name");
        request.create = a.flag("create");
        request.expire = a.flag("expire");
        request.rtcstats_enabled = a
            .take("rtcstats-enabled")
            .is_none_or(|v| crate::ext::java_bool(&v));
        request.extra_attrs = a.rest();
        for child in el.children() {
            if read_entity(child, &mut request.endpoints, &mut request.relays)? {
                continue;
            }
            if child.is("connects", NS_COLIBRI2) && request.connects.is_none() {
                request.connects = Some(parse_connects(child)?);
            } else {
                keep_other(&mut request.other, child);
            }
        }
        Ok(request)
    }

    /// The `<conference-modify/>` element: endpoints, relays, connects,
    /// then the other children.
    pub fn to_element(&self) -> Element {
        let mut el = Element::bare("conference-modify", NS_COLIBRI2);
        set(&mut el, "meeting-id", self.meeting_id.as_str());
        set_opt(&mut el, "name", self.name.as_ref());
        if !self.rtcstats_enabled {
            set(&mut el, "rtcstats-enabled", "false");
        }
        set_flag(&mut el, "create", self.create);
        set_flag(&mut el, "expire", self.expire);
        set_rest(&mut el, &self.extra_attrs);
        append_entities(&mut el, &self.endpoints, &self.relays);
        if let Some(connects) = &self.connects {
            let mut list = Element::bare("connects", NS_COLIBRI2);
            for c in connects {
                list.append_child(c.to_element());
            }
            el.append_child(list);
        }
        append_all(&mut el, &self.other);
        el
    }
}

/// Reads `child` into `endpoints` or `relays` when it is an `<endpoint/>`
/// or a `<relay/>`, the two together capped at [`MAX_ENTITIES`]. `false`
/// when it is neither, for the caller to handle.
fn read_entity(
    child: &Element,
    endpoints: &mut Vec<Endpoint>,
    relays: &mut Vec<Relay>,
) -> Result<bool, ParseError> {
    let entities = endpoints.len() + relays.len();
    if child.is("endpoint", NS_COLIBRI2) {
        check_len(entities, MAX_ENTITIES, "endpoint")?;
        endpoints.push(Endpoint::parse(child)?);
    } else if child.is("relay", NS_COLIBRI2) {
        check_len(entities, MAX_ENTITIES, "relay")?;
        relays.push(Relay::parse(child)?);
    } else {
        return Ok(false);
    }
    Ok(true)
}

/// Appends every endpoint, then every relay, to `el`.
fn append_entities(el: &mut Element, endpoints: &[Endpoint], relays: &[Relay]) {
    for ep in endpoints {
        el.append_child(ep.to_element());
    }
    for relay in relays {
        el.append_child(relay.to_element());
    }
}

fn parse_connects(el: &Element) -> Result<Vec<Connect>, ParseError> {
    let mut connects = Vec::new();
    for child in el.children().filter(|c| c.is("connect", NS_COLIBRI2)) {
        check_len(connects.len(), MAX_CONNECTS, "connect")?;
        connects.push(Connect::parse(child)?);
    }
    Ok(connects)
}

/// A `<conference-modified/>`: the bridge's answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConferenceModified {
    /// One `<endpoint/>` per endpoint of the request, in order.
    pub endpoints: Vec<Endpoint>,
    /// One `<relay/>` per relay of the request, in order.
    pub relays: Vec<Relay>,
    /// The conference's feedback sources, in the answer to a request that
    /// created the conference or an endpoint.
    pub sources: Option<Sources>,
    /// Other children (up to [`super::MAX_OTHER`]), in order.
    pub other: Vec<Element>,
}

impl ConferenceModified {
    /// Reads a `<conference-modified/>`: every endpoint, relay and the
    /// sources must parse. Its attributes are ignored (it has none).
    pub fn parse(el: &Element) -> Result<Self, ParseError> {
        crate::ext::expect_element(el, "conference-modified", NS_COLIBRI2)?;
        let mut answer = Self::default();
        for child in el.children() {
            if read_entity(child, &mut answer.endpoints, &mut answer.relays)? {
                continue;
            }
            if child.is("sources", NS_COLIBRI2) && answer.sources.is_none() {
                answer.sources = Some(Sources::parse(child)?);
            } else {
                keep_other(&mut answer.other, child);
            }
        }
        Ok(answer)
    }

    /// The `<conference-modified/>` element: endpoints, relays, sources,
    /// then the other children (the bridge's order).
    pub fn to_element(&self) -> Element {
        let mut el = Element::bare("conference-modified", NS_COLIBRI2);
        append_entities(&mut el, &self.endpoints, &self.relays);
        if let Some(sources) = &self.sources {
            el.append_child(sources.to_element());
        }
        append_all(&mut el, &self.other);
        el
    }

    /// The first answered endpoint with this id (Jicofo's
    /// `parseTransport` looks the endpoint up by id).
    pub fn endpoint(&self, id: &str) -> Option<&Endpoint> {
        self.endpoints.iter().find(|e| e.id == id)
    }

    /// The first answered relay with this id.
    pub fn relay(&self, id: &str) -> Option<&Relay> {
        self.relays.iter().find(|r| r.id == id)
    }

    /// The feedback sources as Jicofo stores them (see
    /// [`Sources::feedback_sources`]); empty without `<sources/>`.
    pub fn feedback_sources(&self) -> EndpointSourceSet {
        self.sources
            .as_ref()
            .map(Sources::feedback_sources)
            .unwrap_or_default()
    }
}

/// What an IQ answer to a `conference-modify` is.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// A result with `<conference-modified/>`.
    Modified(ConferenceModified),
    /// An error (from the bridge or from the MUC service).
    Error(BridgeError),
    /// A result without `<conference-modified/>` (Jicofo: "response of
    /// wrong type").
    WrongResult,
}

impl Answer {
    /// Reads an IQ `result` or `error` (the IQ's namespace is not
    /// checked). A result whose
    /// `<conference-modified/>` does not parse is an error (the caller
    /// treats it as [`Answer::WrongResult`] would be treated); an error
    /// stanza never fails.
    pub fn parse(iq: &Element) -> Result<Self, ParseError> {
        if iq.name() != "iq" {
            return Err(ParseError::WrongElement { expected: "iq" });
        }
        match iq.attr("type") {
            Some("result") => match iq.get_child("conference-modified", NS_COLIBRI2) {
                Some(modified) => Ok(Self::Modified(ConferenceModified::parse(modified)?)),
                None => Ok(Self::WrongResult),
            },
            Some("error") => Ok(Self::Error(BridgeError::from_iq(iq))),
            Some(other) => Err(ParseError::invalid_attribute("type", other)),
            None => Err(ParseError::MissingAttribute("type")),
        }
    }
}

/// The `protocol` of a connect (only `mediajson` exists).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectProtocol {
    /// `mediajson`.
    MediaJson,
}

impl ConnectProtocol {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MediaJson => "mediajson",
        }
    }

    /// Reads a wire value, in any case.
    pub fn from_wire(value: &str) -> Option<Self> {
        value
            .eq_ignore_ascii_case("mediajson")
            .then_some(Self::MediaJson)
    }
}

/// The `type` of a connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectType {
    /// `recorder`.
    Recorder,
    /// `transcriber`.
    Transcriber,
    /// `translator`.
    Translator,
}

impl ConnectType {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Recorder => "recorder",
            Self::Transcriber => "transcriber",
            Self::Translator => "translator",
        }
    }

    /// Reads a wire value, in any case.
    pub fn from_wire(value: &str) -> Option<Self> {
        [Self::Recorder, Self::Transcriber, Self::Translator]
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(value))
    }
}

/// An `<http-header name value/>` of a connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpHeader {
    /// `name`: `[A-Za-z0-9-]+`.
    pub name: String,
    /// `value`, CR and LF removed.
    pub value: String,
}

/// A `<ping interval timeout/>` of a connect (milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ping {
    /// `interval`.
    pub interval: i32,
    /// `timeout`.
    pub timeout: i32,
}

/// A `<connect/>`: media exported to (or requested from) a web-socket peer
/// such as a transcriber.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    /// `id` (`transcriber`, `translator`, `translator-SOURCE-CHUNK`).
    pub id: Option<String>,
    /// `url`: `ws` or `wss`.
    pub url: String,
    /// `protocol`.
    pub protocol: ConnectProtocol,
    /// `type`.
    pub kind: ConnectType,
    /// `audio` (Jicofo sets it).
    pub audio: bool,
    /// `video`.
    pub video: bool,
    /// `create`: a new connect in a delta.
    pub create: bool,
    /// `expire`: a removed connect in a delta.
    pub expire: bool,
    /// `<http-header/>`s, in order.
    pub http_headers: Vec<HttpHeader>,
    /// `<exports><export name/></exports>`: source names sent to the peer.
    pub exports: Vec<String>,
    /// `<requests><request name/></requests>`: source names requested.
    pub requests: Vec<String>,
    /// `<ping/>`.
    pub ping: Option<Ping>,
    /// Attributes not listed above, kept as received.
    pub extra_attrs: AttrMap,
}

impl Connect {
    /// A connect with `audio='true'` (as Jicofo's specs have it) and no
    /// children.
    pub fn new(id: Option<String>, url: impl Into<String>, kind: ConnectType) -> Self {
        Self {
            id,
            url: url.into(),
            protocol: ConnectProtocol::MediaJson,
            kind,
            audio: true,
            video: false,
            create: false,
            expire: false,
            http_headers: Vec::new(),
            exports: Vec::new(),
            requests: Vec::new(),
            ping: None,
            extra_attrs: AttrMap::new(),
        }
    }

    /// Reads a `<connect/>` as Jitsi's provider does: `url` (scheme `ws` or
    /// `wss`), `protocol` and `type` are required; each `http-header` needs
    /// a name of `[A-Za-z0-9-]+` and a value (CR and LF are removed); a
    /// `ping` needs integer `interval` and `timeout`; each export and
    /// request needs a `name`. Unknown children are ignored.
    pub fn parse(el: &Element) -> Result<Self, ParseError> {
        crate::ext::expect_element(el, "connect", NS_COLIBRI2)?;
        let mut a = Attrs::of(el);
        let id = a.take("id");
        let url = a.required("url")?;
        let scheme = url.split_once(':').map(|(s, _)| s);
        if !matches!(scheme, Some("ws" | "wss")) {
            return Err(ParseError::invalid_attribute("url", &url));
        }
        let protocol = a
            .parsed("protocol", ConnectProtocol::from_wire)?
            .ok_or(ParseError::MissingAttribute("protocol"))?;
        let kind = a
            .parsed("type", ConnectType::from_wire)?
            .ok_or(ParseError::MissingAttribute("type"))?;
        let mut connect = Self::new(id, url, kind);
        connect.protocol = protocol;
        connect.audio = a.flag("audio");
        connect.video = a.flag("video");
        connect.create = a.flag("create");
        connect.expire = a.flag("expire");
        connect.extra_attrs = a.rest();
        for (i, child) in el.children().enumerate() {
            check_len(i, MAX_CONNECT_CHILDREN, "connect child")?;
            if child.is("http-header", NS_COLIBRI2) {
                let name = child
                    .attr("name")
                    .ok_or(ParseError::MissingAttribute("name"))?;
                let valid = !name.is_empty()
                    && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
                if !valid {
                    return Err(ParseError::invalid_attribute("name", name));
                }
                let value = child
                    .attr("value")
                    .ok_or(ParseError::MissingAttribute("value"))?;
                connect.http_headers.push(HttpHeader {
                    name: name.to_owned(),
                    value: value.replace(['\r', '\n'], ""),
                });
            } else if child.is("ping", NS_COLIBRI2) {
                let mut p = Attrs::of(child);
                connect.ping = Some(Ping {
                    interval: p
                        .number("interval")?
                        .ok_or(ParseError::MissingAttribute("interval"))?,
                    timeout: p
                        .number("timeout")?
                        .ok_or(ParseError::MissingAttribute("timeout"))?,
                });
            } else if child.is("exports", NS_COLIBRI2) {
                connect.exports = names(child, "export")?;
            } else if child.is("requests", NS_COLIBRI2) {
                connect.requests = names(child, "request")?;
            }
        }
        Ok(connect)
    }

    /// The `<connect/>` element, children in Jicofo's order: http-headers,
    /// exports (when any), requests (when any), ping.
    pub fn to_element(&self) -> Element {
        let mut el = Element::bare("connect", NS_COLIBRI2);
        set_opt(&mut el, "id", self.id.as_ref());
        set(&mut el, "url", &self.url);
        set(&mut el, "protocol", self.protocol.as_str());
        set(&mut el, "type", self.kind.as_str());
        set_flag(&mut el, "audio", self.audio);
        set_flag(&mut el, "video", self.video);
        set_flag(&mut el, "create", self.create);
        set_flag(&mut el, "expire", self.expire);
        set_rest(&mut el, &self.extra_attrs);
        for header in &self.http_headers {
            let mut h = Element::bare("http-header", NS_COLIBRI2);
            set(&mut h, "name", &header.name);
            set(&mut h, "value", &header.value);
            el.append_child(h);
        }
        for (list, item, names) in [
            ("exports", "export", &self.exports),
            ("requests", "request", &self.requests),
        ] {
            if names.is_empty() {
                continue;
            }
            let mut l = Element::bare(list, NS_COLIBRI2);
            for name in names {
                let mut i = Element::bare(item, NS_COLIBRI2);
                set(&mut i, "name", name);
                l.append_child(i);
            }
            el.append_child(l);
        }
        if let Some(ping) = &self.ping {
            let mut p = Element::bare("ping", NS_COLIBRI2);
            set(&mut p, "interval", ping.interval);
            set(&mut p, "timeout", ping.timeout);
            el.append_child(p);
        }
        el
    }
}

/// The `name`s of the `item` children of an exports / requests list.
fn names(list: &Element, item: &'static str) -> Result<Vec<String>, ParseError> {
    let mut names = Vec::new();
    for child in list.children().filter(|c| c.is(item, NS_COLIBRI2)) {
        check_len(names.len(), MAX_CONNECT_CHILDREN, item)?;
        let name = child
            .attr("name")
            .ok_or(ParseError::MissingAttribute("name"))?;
        names.push(name.to_owned());
    }
    Ok(names)
}
