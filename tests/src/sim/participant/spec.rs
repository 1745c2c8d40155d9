//! How a simulated participant is set up, and what it records.

use std::collections::BTreeMap;
use std::time::Duration;

use minidom::Element;

use crate::sim::net::LinkFaults;

/// The disco#info features of the captured lib-jitsi-meet client
/// (`disco-info-result.xml`), plus `opus-red`.
pub const DEFAULT_FEATURES: &[&str] = &[
    "http://jabber.org/protocol/caps",
    "http://jitsi.org/json-encoded-sources",
    "http://jitsi.org/opus-red",
    "http://jitsi.org/receive-multiple-video-streams",
    "http://jitsi.org/remb",
    "http://jitsi.org/source-name",
    "http://jitsi.org/start-muted-room-metadata",
    "http://jitsi.org/tcc",
    "http://jitsi.org/visitors-1",
    "urn:ietf:rfc:4588",
    "urn:xmpp:jingle:1",
    "urn:xmpp:jingle:apps:dtls:0",
    "urn:xmpp:jingle:apps:rtp:1",
    "urn:xmpp:jingle:apps:rtp:audio",
    "urn:xmpp:jingle:apps:rtp:video",
    "urn:xmpp:jingle:transports:dtls-sctp:1",
    "urn:xmpp:jingle:transports:ice-udp:1",
    "urn:xmpp:rayo:client:1",
];

/// A participant to add to the simulation: a lib-jitsi-meet client that
/// asks the focus for `room` and joins it when told it is ready.
#[derive(Debug, Clone)]
pub struct ParticipantSpec {
    /// The conference room (bare JID).
    pub room: String,
    /// Log in as this bare JID (an authenticated user); `None`: anonymous
    /// on [`ParticipantSpec::domain`] with a random node.
    pub login: Option<String>,
    /// The anonymous login domain.
    pub domain: String,
    /// Where conference requests go (`config.hosts.focus`).
    pub focus: String,
    /// Display name (`<nick xmlns='http://jabber.org/protocol/nick'>`).
    pub display_name: Option<String>,
    /// `<jitsi_participant_region>`.
    pub region: Option<String>,
    /// `session-id` of the conference request.
    pub session_id: Option<String>,
    /// `token` of the conference request.
    pub token: Option<String>,
    /// `machine-uid`; `None`: 32 random hex digits.
    pub machine_uid: Option<String>,
    /// The MUC nickname (endpoint id); `None`: 8 random hex digits.
    pub endpoint_id: Option<String>,
    /// `<stats-id>`; `None`: a random one.
    pub stats_id: Option<String>,
    /// Extra `<property>`s, sent before lib-jitsi-meet's own.
    pub properties: Vec<(String, String)>,
    /// Extra attributes of `<conference>`.
    pub attributes: Vec<(String, String)>,
    /// Send `visitors-version` (every client but Jibri and Jigasi does).
    pub visitors_version: bool,
    /// Send `visitor=true` (`preferVisitor`).
    pub prefer_visitor: bool,
    /// Features announced in disco#info (and hashed into caps `ver`).
    pub features: Vec<String>,
    /// Extra elements in every presence to the room.
    pub presence_extensions: Vec<Element>,
    /// This participant's link; `None`: the simulation's default.
    pub link: Option<LinkFaults>,
    /// Join the MUC on `ready='true'` (otherwise only record the answer).
    pub join_on_ready: bool,
    /// Send the conference request; `false` joins the MUC at once
    /// (lib-jitsi-meet's `disableFocus`).
    pub send_request: bool,
    /// How long after being added the client sends its first stanza
    /// (models login time).
    pub start_delay: Duration,
    /// Its media and how it answers Jingle.
    pub media: super::MediaSpec,
}

impl ParticipantSpec {
    /// A default client for `room` (bare room JID).
    pub fn new(room: impl Into<String>) -> Self {
        Self {
            room: room.into(),
            login: None,
            domain: "meet.jitsi".into(),
            focus: "focus.meet.jitsi".into(),
            display_name: None,
            region: None,
            session_id: None,
            token: None,
            machine_uid: None,
            endpoint_id: None,
            stats_id: None,
            properties: Vec::new(),
            attributes: Vec::new(),
            visitors_version: true,
            prefer_visitor: false,
            features: DEFAULT_FEATURES.iter().map(|f| (*f).to_owned()).collect(),
            presence_extensions: Vec::new(),
            link: None,
            join_on_ready: true,
            send_request: true,
            start_delay: Duration::ZERO,
            media: super::MediaSpec::default(),
        }
    }

    /// Logs in as the bare JID `jid` instead of anonymously.
    pub fn login(mut self, jid: impl Into<String>) -> Self {
        self.login = Some(jid.into());
        self
    }

    /// Sets the display name.
    pub fn display_name(mut self, name: impl Into<String>) -> Self {
        self.display_name = Some(name.into());
        self
    }

    /// Sets the region.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Sends `session-id`.
    pub fn session_id(mut self, id: impl Into<String>) -> Self {
        self.session_id = Some(id.into());
        self
    }

    /// Sends `token`.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Uses this `machine-uid`.
    pub fn machine_uid(mut self, uid: impl Into<String>) -> Self {
        self.machine_uid = Some(uid.into());
        self
    }

    /// Uses this MUC nickname.
    pub fn endpoint_id(mut self, id: impl Into<String>) -> Self {
        self.endpoint_id = Some(id.into());
        self
    }

    /// Adds a conference request property.
    pub fn property(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.properties.push((name.into(), value.into()));
        self
    }

    /// Adds an attribute to `<conference>`.
    pub fn attribute(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.attributes.push((name.into(), value.into()));
        self
    }

    /// Whether to send `visitors-version`.
    pub fn visitors_version(mut self, on: bool) -> Self {
        self.visitors_version = on;
        self
    }

    /// Asks to join as a visitor.
    pub fn prefer_visitor(mut self) -> Self {
        self.prefer_visitor = true;
        self
    }

    /// Replaces the disco#info features.
    pub fn features<S: Into<String>>(mut self, features: impl IntoIterator<Item = S>) -> Self {
        self.features = features.into_iter().map(Into::into).collect();
        self
    }

    /// Adds an element to every room presence.
    pub fn presence_extension(mut self, el: Element) -> Self {
        self.presence_extensions.push(el);
        self
    }

    /// Gives this participant its own link.
    pub fn link(mut self, link: LinkFaults) -> Self {
        self.link = Some(link);
        self
    }

    /// Only records answers instead of joining on `ready='true'`.
    pub fn no_join(mut self) -> Self {
        self.join_on_ready = false;
        self
    }

    /// Joins the MUC without asking the focus.
    pub fn without_request(mut self) -> Self {
        self.send_request = false;
        self
    }

    /// Waits `d` after being added before sending anything.
    pub fn start_after(mut self, d: Duration) -> Self {
        self.start_delay = d;
        self
    }
}

/// Where a participant is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Logged in; the first stanza is not sent yet.
    Starting,
    /// The conference request is out, no answer yet.
    Requesting,
    /// The focus answered `ready='false'`: retrying later.
    WaitingToRetry,
    /// The focus answered `ready='true'` and the spec says not to join.
    Ready,
    /// The join presence is out.
    Joining,
    /// In the room (self-presence received).
    InRoom,
    /// The focus answered `ready='false'` with `live='false'`.
    NotLive,
    /// The focus redirected to a visitor node (`vnode`), not followed.
    Redirected(String),
    /// The focus answered `not-authorized` (lib-jitsi-meet:
    /// `AUTHENTICATION_REQUIRED`).
    AuthenticationRequired,
    /// The conference request failed (the error condition).
    RequestFailed(String),
    /// The join presence was answered with an error (the condition).
    JoinFailed(String),
    /// Out of the room.
    Left(LeftReason),
    /// The connection was cut (or closed by the server).
    Disconnected,
}

/// Why a participant is no longer in the room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeftReason {
    /// It left (unavailable presence).
    Voluntary,
    /// Kicked (status 307).
    Kicked,
    /// The room was destroyed (with the reason, if any).
    Destroyed(Option<String>),
    /// Removed for another reason (affiliation change, error).
    Removed,
}

/// One conference answer the participant received.
#[derive(Debug, Clone, PartialEq)]
pub struct ConferenceAnswer {
    /// When it arrived.
    pub at: Duration,
    /// `ready`.
    pub ready: bool,
    /// `focusjid`.
    pub focus_jid: Option<String>,
    /// `session-id`.
    pub session_id: Option<String>,
    /// `identity`.
    pub identity: Option<String>,
    /// `vnode`.
    pub vnode: Option<String>,
    /// The `<property>`s by name.
    pub properties: BTreeMap<String, String>,
    /// The whole IQ.
    pub stanza: Element,
}

/// An error stanza the participant received for something it sent.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedError {
    /// When it arrived.
    pub at: Duration,
    /// What it answered: `"conference"`, `"join"`, `"presence"`, `"iq"`.
    pub context: &'static str,
    /// The defined condition.
    pub condition: String,
    /// The error text, if any.
    pub text: Option<String>,
    /// The whole stanza.
    pub stanza: Element,
}

/// Another occupant as this participant sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct SeenOccupant {
    /// The nickname.
    pub nick: String,
    /// The real JID, when the room shows it.
    pub jid: Option<String>,
    /// The role.
    pub role: String,
    /// The affiliation.
    pub affiliation: String,
    /// Whether lib-jitsi-meet takes it for the focus (real JID starts with
    /// a `focusjid` the focus answered, plus `/`).
    pub is_focus: bool,
    /// Its last presence.
    pub presence: Element,
}

/// An IQ request the participant received and answered.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedIq {
    /// When it arrived.
    pub at: Duration,
    /// The request.
    pub stanza: Element,
}
