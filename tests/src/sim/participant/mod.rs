//! A simulated participant behaving like lib-jitsi-meet (`moderator.js`,
//! `ChatRoom.ts`): the conference request to `focus.<domain>` with its
//! back-off, the MUC join on `ready='true'`, answers to ping and disco#info,
//! acks for other IQ sets, and a record of what it saw.
//!
//! It is sans-IO like the focus: stanzas and time go in
//! ([`Participant::handle_stanza`], [`Participant::handle_timeout`]), stanzas
//! come out ([`Participant::poll_transmit`]), and
//! [`Participant::poll_timeout`] says when it next has work.

mod jingle;
mod spec;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use focus_proto::rng::FocusRng;
use minidom::Element;

use super::stanza::{
    NS_CAPS, NS_CLIENT, NS_DATA, NS_DISCO_INFO, NS_FOCUS, NS_MUC, NS_MUC_USER, NS_NICK, NS_PING,
    bare, error_condition, error_reply, error_text, form_value, iq_result, name, resource,
};

pub use jingle::{
    JingleAnswer, JingleClient, JingleState, MediaSpec, OwnSource, OwnSources, json_sources,
};
pub use spec::{
    ConferenceAnswer, DEFAULT_FEATURES, LeftReason, ParticipantSpec, Phase, ReceivedIq,
    RecordedError, SeenOccupant,
};

/// Identifies a participant of the simulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ParticipantId(pub usize);

/// What a participant wants sent.
#[derive(Debug, Clone)]
pub(crate) enum Transmit {
    /// A stanza on its connection.
    Stanza(Element),
    /// Close the connection (after what was sent before).
    Close,
}

/// lib-jitsi-meet's `createExpBackoffTimer(1000)`: 1 s, 2 s, 4 s, … 120 s.
#[derive(Debug, Clone)]
struct Backoff {
    count: u32,
}

impl Backoff {
    const MAX: Duration = Duration::from_secs(120);

    fn new() -> Self {
        Self { count: 1 }
    }

    fn next(&mut self) -> Duration {
        let exp = self.count.saturating_sub(1).min(16);
        self.count = self.count.saturating_add(1);
        Duration::from_secs(1u64 << exp).min(Self::MAX)
    }

    fn reset(&mut self) {
        self.count = 1;
    }
}

/// A lib-jitsi-meet client.
#[derive(Debug)]
pub struct Participant {
    id: ParticipantId,
    spec: ParticipantSpec,
    jid: String,
    rng: FocusRng,
    start: Instant,
    nick: String,
    machine_uid: String,
    phase: Phase,
    /// The id of the conference request awaiting its answer.
    request_id: Option<String>,
    room_disco_id: Option<String>,
    retry_at: Option<Instant>,
    backoff: Backoff,
    error_backoff: Backoff,
    session_id: Option<String>,
    focus_jids: BTreeSet<String>,
    /// Elements of every room presence, in lib-jitsi-meet's order (an
    /// updated element moves to the end).
    presence_map: Vec<Element>,
    role: Option<String>,
    affiliation: Option<String>,
    join_status_codes: Vec<u16>,
    occupants: BTreeMap<String, SeenOccupant>,
    focus_left: u32,
    meeting_id: Option<String>,
    requests: Vec<Duration>,
    answers: Vec<ConferenceAnswer>,
    errors: Vec<RecordedError>,
    received_iqs: Vec<ReceivedIq>,
    messages: Vec<Element>,
    outbox: VecDeque<Transmit>,
    jingle: jingle::JingleClient,
}

impl Participant {
    /// A participant logged in as `jid`, starting at `now`.
    pub(crate) fn new(
        id: ParticipantId,
        spec: ParticipantSpec,
        jid: String,
        seed: [u8; 32],
        start: Instant,
        now: Instant,
    ) -> Self {
        let mut rng = FocusRng::from_seed(seed);
        let nick = spec
            .endpoint_id
            .clone()
            .unwrap_or_else(|| format!("{:08x}", rng.next_u64() as u32));
        let machine_uid = spec
            .machine_uid
            .clone()
            .unwrap_or_else(|| format!("{:016x}{:016x}", rng.next_u64(), rng.next_u64()));
        let stats_id = spec.stats_id.clone().unwrap_or_else(|| {
            const NAMES: [&str; 8] = [
                "Murl", "Samir", "Lula", "Ada", "Kofi", "Ines", "Taro", "Vera",
            ];
            let n = NAMES[(rng.next_u64() % NAMES.len() as u64) as usize];
            format!("{n}-{}", rng.token(3))
        });
        let mut presence_map = vec![
            Element::builder("stats-id", NS_CLIENT)
                .append(stats_id)
                .build(),
            Element::builder("c", NS_CAPS)
                .attr(name("hash"), "sha-1")
                .attr(name("node"), "https://jitsi.org/jitsi-meet")
                .attr(name("ver"), caps_ver(&spec.features))
                .build(),
            Element::builder("SourceInfo", NS_CLIENT)
                .append("{}")
                .build(),
            Element::builder("jitsi_participant_codecList", NS_CLIENT)
                .append("av1,vp9,vp8,h264")
                .build(),
        ];
        if let Some(region) = &spec.region {
            presence_map.push(
                Element::builder("jitsi_participant_region", NS_CLIENT)
                    .append(region.as_str())
                    .build(),
            );
        }
        if let Some(dn) = &spec.display_name {
            presence_map.push(
                Element::builder("nick", NS_NICK)
                    .append(dn.as_str())
                    .build(),
            );
        }
        presence_map.extend(spec.presence_extensions.iter().cloned());
        // Its own generator: adding media changes no other random choice.
        let mut media_rng = FocusRng::from_seed(rng.child_seed());
        let jingle = jingle::JingleClient::new(&nick, spec.media.clone(), &mut media_rng);
        Self {
            jingle,
            session_id: spec.session_id.clone(),
            retry_at: Some(now + spec.start_delay),
            id,
            spec,
            jid,
            rng,
            start,
            nick,
            machine_uid,
            phase: Phase::Starting,
            request_id: None,
            room_disco_id: None,
            backoff: Backoff::new(),
            error_backoff: Backoff::new(),
            focus_jids: BTreeSet::new(),
            presence_map,
            role: None,
            affiliation: None,
            join_status_codes: Vec::new(),
            occupants: BTreeMap::new(),
            focus_left: 0,
            meeting_id: None,
            requests: Vec::new(),
            answers: Vec::new(),
            errors: Vec::new(),
            received_iqs: Vec::new(),
            messages: Vec::new(),
            outbox: VecDeque::new(),
        }
    }

    // ----- what tests read -------------------------------------------------

    /// Its Jingle session as it sees it (remote sources by owner, ...).
    pub fn jingle(&self) -> &JingleState {
        &self.jingle.state
    }

    /// Its own sources (what its session-accept carries).
    pub fn own_sources(&self) -> &OwnSources {
        &self.jingle.own
    }

    /// The answers to its Jingle requests (its session-accepts, its
    /// `transport-info`s answering ICE restarts, its `session-info`s, and
    /// what [`Sim::send_jingle`](super::Sim::send_jingle) sent), in order.
    pub fn jingle_answers(&self) -> &[super::JingleAnswer] {
        &self.jingle.answers
    }

    /// The answer to the Jingle request with `id`, once it arrived.
    pub fn jingle_answer(&self, id: &str) -> Option<&super::JingleAnswer> {
        self.jingle.answers.iter().find(|a| a.id == id)
    }

    /// Queues a Jingle IQ set carrying `jingle` to `to` (default: the
    /// sender of its current offer, else `room/focus`); returns its id.
    pub(crate) fn send_jingle(&mut self, to: Option<&str>, jingle: Element) -> String {
        let to = to
            .map(str::to_owned)
            .or_else(|| self.jingle.state.peer.clone())
            .unwrap_or_else(|| format!("{}/focus", self.spec.room));
        let iq = self.jingle.request(&to, jingle);
        let id = iq.attr("id").unwrap_or_default().to_owned();
        self.outbox.push_back(Transmit::Stanza(iq));
        id
    }

    /// Asks the focus for an in-place ICE restart (`session-info` with
    /// `<bridge-session id ice-restart='true'/>`), the id being
    /// `bridge_session` when given, else its current bridge session id;
    /// returns the IQ's id, or `None` (nothing sent) without a Jingle
    /// session or a bridge session id.
    pub(crate) fn request_ice_restart(&mut self, bridge_session: Option<&str>) -> Option<String> {
        let iq = self.jingle.ice_restart_request(bridge_session)?;
        Some(self.queue_request(iq))
    }

    /// Sends the legacy ICE-failed notice (`session-info` with
    /// `<ice-state>failed</ice-state>` and `<bridge-session id/>`, the id
    /// being `bridge_session` when given, else its current one); returns
    /// the IQ's id, or `None` (nothing sent) without a Jingle session.
    pub(crate) fn send_ice_failed(&mut self, bridge_session: Option<&str>) -> Option<String> {
        let iq = self.jingle.ice_failed_notice(bridge_session)?;
        Some(self.queue_request(iq))
    }

    fn queue_request(&mut self, iq: Element) -> String {
        let id = iq.attr("id").unwrap_or_default().to_owned();
        self.outbox.push_back(Transmit::Stanza(iq));
        id
    }

    /// The answers to its `session-info` requests (ICE restart requests and
    /// ICE-failed notices), in order.
    pub fn session_info_answers(&self) -> Vec<&super::JingleAnswer> {
        self.jingle
            .answers
            .iter()
            .filter(|a| a.action == "session-info")
            .collect()
    }

    /// Its current ICE credentials `(ufrag, pwd)`, rotated by every
    /// in-place ICE restart it applies.
    pub fn local_ice(&self) -> (&str, &str) {
        self.jingle.local_ice()
    }

    /// Its id.
    pub fn id(&self) -> ParticipantId {
        self.id
    }

    /// How it was set up.
    pub fn spec(&self) -> &ParticipantSpec {
        &self.spec
    }

    /// Its full JID.
    pub fn jid(&self) -> &str {
        &self.jid
    }

    /// Its MUC nickname (endpoint id).
    pub fn nick(&self) -> &str {
        &self.nick
    }

    /// Its occupant JID (`room/nick`).
    pub fn occupant_jid(&self) -> String {
        format!("{}/{}", self.spec.room, self.nick)
    }

    /// The `machine-uid` it sends.
    pub fn machine_uid(&self) -> &str {
        &self.machine_uid
    }

    /// Where it is.
    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    /// Whether it is in the room.
    pub fn in_room(&self) -> bool {
        self.phase == Phase::InRoom
    }

    /// Its role in the room, from its last self-presence.
    pub fn role(&self) -> Option<&str> {
        self.role.as_deref()
    }

    /// Its affiliation in the room, from its last self-presence.
    pub fn affiliation(&self) -> Option<&str> {
        self.affiliation.as_deref()
    }

    /// Whether it has moderator rights (role moderator).
    pub fn is_moderator(&self) -> bool {
        self.role.as_deref() == Some("moderator")
    }

    /// The status codes of its first self-presence (110, 100, 201, …).
    pub fn join_status_codes(&self) -> &[u16] {
        &self.join_status_codes
    }

    /// The other occupants it sees, by nickname.
    pub fn occupants(&self) -> &BTreeMap<String, SeenOccupant> {
        &self.occupants
    }

    /// The occupant `nick` as it sees it.
    pub fn occupant(&self, nick: &str) -> Option<&SeenOccupant> {
        self.occupants.get(nick)
    }

    /// Whether it sees the focus in the room.
    pub fn focus_present(&self) -> bool {
        self.occupants.values().any(|o| o.is_focus)
    }

    /// The focus's last presence in the room (its extensions).
    pub fn focus_presence(&self) -> Option<&Element> {
        self.occupants
            .values()
            .find(|o| o.is_focus)
            .map(|o| &o.presence)
    }

    /// How often the focus left the room while it watched.
    pub fn focus_left_count(&self) -> u32 {
        self.focus_left
    }

    /// The `focusjid`s the focus answered.
    pub fn focus_jids(&self) -> &BTreeSet<String> {
        &self.focus_jids
    }

    /// The meeting id from the room's disco#info.
    pub fn meeting_id(&self) -> Option<&str> {
        self.meeting_id.as_deref()
    }

    /// The session id it holds (sent or received).
    pub fn session_id(&self) -> Option<&str> {
        self.session_id.as_deref()
    }

    /// When it sent each conference request (time since the start).
    pub fn request_times(&self) -> &[Duration] {
        &self.requests
    }

    /// The conference answers it received.
    pub fn answers(&self) -> &[ConferenceAnswer] {
        &self.answers
    }

    /// The errors it received.
    pub fn errors(&self) -> &[RecordedError] {
        &self.errors
    }

    /// The IQ requests it received (other than ping and disco#info).
    pub fn received_iqs(&self) -> &[ReceivedIq] {
        &self.received_iqs
    }

    /// The messages it received.
    pub fn messages(&self) -> &[Element] {
        &self.messages
    }

    // ----- sans-IO interface ----------------------------------------------

    /// The next stanza (or close) to send.
    pub(crate) fn poll_transmit(&mut self) -> Option<Transmit> {
        self.outbox.pop_front()
    }

    /// When [`Participant::handle_timeout`] next has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.retry_at, self.jingle.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Fires due timers: the first request, retries, and Jingle answers
    /// (session-accept, transport-info after an ICE restart).
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        while let Some(due) = self.jingle.take_due(now) {
            self.outbox.push_back(Transmit::Stanza(due));
        }
        if self.retry_at.is_some_and(|at| at <= now) {
            self.retry_at = None;
            match self.phase {
                Phase::Starting if !self.spec.send_request => self.join(),
                Phase::Starting | Phase::WaitingToRetry | Phase::InRoom | Phase::Joining => {
                    self.send_request(now)
                }
                _ => {}
            }
        }
    }

    /// Sends a conference request now (as lib-jitsi-meet does on start and
    /// on retries).
    pub(crate) fn send_request(&mut self, now: Instant) {
        let id = format!("{}:sendIQ", self.rng.uuid());
        let mut conf = Element::builder("conference", NS_FOCUS)
            .attr(name("machine-uid"), self.machine_uid.as_str())
            .attr(name("room"), self.spec.room.as_str());
        if let Some(token) = &self.spec.token {
            conf = conf.attr(name("token"), token.as_str());
        }
        if let Some(sid) = &self.session_id {
            conf = conf.attr(name("session-id"), sid.as_str());
        }
        let mut conf = conf.build();
        for (n, v) in &self.spec.attributes {
            if let Ok(n) = minidom::rxml::NcName::try_from(n.as_str()) {
                conf.attrs_mut()
                    .insert(minidom::rxml::Namespace::NONE, n, v.clone());
            }
        }
        let mut props: Vec<(&str, &str)> = self
            .spec
            .properties
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        props.push(("rtcstatsEnabled", "false"));
        if self.spec.visitors_version {
            props.push(("visitors-version", "1"));
            if self.spec.prefer_visitor {
                props.push(("visitor", "true"));
            }
        }
        for (n, v) in props {
            conf.append_child(
                Element::builder("property", NS_FOCUS)
                    .attr(name("name"), n)
                    .attr(name("value"), v)
                    .build(),
            );
        }
        let iq = Element::builder("iq", NS_CLIENT)
            .attr(name("to"), self.spec.focus.as_str())
            .attr(name("type"), "set")
            .attr(name("id"), id.as_str())
            .append(conf)
            .build();
        self.request_id = Some(id);
        self.requests
            .push(now.saturating_duration_since(self.start));
        if !matches!(self.phase, Phase::InRoom | Phase::Joining) {
            self.phase = Phase::Requesting;
        }
        self.outbox.push_back(Transmit::Stanza(iq));
    }

    /// Leaves: unavailable presence without `to`, then closes the stream.
    pub(crate) fn leave(&mut self) {
        self.outbox.push_back(Transmit::Stanza(
            Element::builder("presence", NS_CLIENT)
                .attr(name("type"), "unavailable")
                .build(),
        ));
        self.outbox.push_back(Transmit::Close);
        self.retry_at = None;
        self.request_id = None;
        self.occupants.clear();
        self.phase = Phase::Left(LeftReason::Voluntary);
    }

    /// The connection is gone.
    pub(crate) fn disconnected(&mut self) {
        self.retry_at = None;
        self.request_id = None;
        self.outbox.clear();
        if !matches!(self.phase, Phase::Left(_)) {
            self.phase = Phase::Disconnected;
        }
    }

    /// Replaces (or adds) a presence element and, when in the room, sends
    /// the updated presence (as `JitsiConference` does on mute, etc.).
    pub(crate) fn set_presence_element(&mut self, el: Element) {
        self.presence_map
            .retain(|e| !(e.name() == el.name() && e.ns() == el.ns()));
        self.presence_map.push(el);
        if matches!(self.phase, Phase::InRoom) {
            let p = self.presence(false);
            self.outbox.push_back(Transmit::Stanza(p));
        }
    }

    fn presence(&self, join: bool) -> Element {
        let mut p = Element::builder("presence", NS_CLIENT)
            .attr(name("to"), self.occupant_jid())
            .build();
        if join {
            p.append_child(Element::builder("x", NS_MUC).build());
        }
        for el in &self.presence_map {
            p.append_child(el.clone());
        }
        p
    }

    fn join(&mut self) {
        self.phase = Phase::Joining;
        let p = self.presence(true);
        self.outbox.push_back(Transmit::Stanza(p));
    }

    /// Handles a stanza the server delivered.
    pub(crate) fn handle_stanza(&mut self, now: Instant, stanza: &Element) {
        let at = now.saturating_duration_since(self.start);
        match stanza.name() {
            "iq" => self.on_iq(now, at, stanza),
            "presence" => self.on_presence(at, stanza),
            "message" => self.messages.push(stanza.clone()),
            _ => {}
        }
    }

    fn on_iq(&mut self, now: Instant, at: Duration, iq: &Element) {
        let id = iq.attr("id");
        match iq.attr("type") {
            Some("get") => {
                let payload = iq.children().next();
                let answer = match payload {
                    Some(p) if p.is("ping", NS_PING) => iq_result(iq, None),
                    Some(p) if p.is("query", NS_DISCO_INFO) => {
                        iq_result(iq, Some(self.disco_info(p.attr("node"))))
                    }
                    _ => {
                        self.received_iqs.push(ReceivedIq {
                            at,
                            stanza: iq.clone(),
                        });
                        error_reply(iq, "cancel", "service-unavailable", None, None)
                    }
                };
                self.send_reply(answer);
            }
            Some("set") => {
                // Every set is acknowledged at once (Jingle before the
                // offer is applied, as lib-jitsi-meet does).
                self.received_iqs.push(ReceivedIq {
                    at,
                    stanza: iq.clone(),
                });
                let jingle = iq.get_child("jingle", jingle::NS_JINGLE);
                let refused =
                    jingle.is_some_and(|j| self.jingle.refuses(j.attr("action").unwrap_or("")));
                let ack = if refused {
                    error_reply(iq, "cancel", "bad-request", None, None)
                } else {
                    iq_result(iq, None)
                };
                self.send_reply(ack);
                if let Some(jingle) = jingle {
                    let me = self.jid.clone();
                    self.jingle.on_jingle(now, iq, jingle, &me);
                }
            }
            Some(kind @ ("result" | "error")) => {
                if id.is_some() && id == self.request_id.as_deref() {
                    self.request_id = None;
                    if kind == "result" {
                        self.on_answer(now, at, iq);
                    } else {
                        self.on_request_error(now, at, iq);
                    }
                } else if id.is_some() && id == self.room_disco_id.as_deref() {
                    self.room_disco_id = None;
                    self.meeting_id = iq
                        .get_child("query", NS_DISCO_INFO)
                        .and_then(|q| q.get_child("x", NS_DATA))
                        .and_then(|x| form_value(x, "muc#roominfo_meetingId"));
                } else {
                    self.jingle.on_answer(at, iq);
                    if kind == "error" {
                        self.record_error(at, "iq", iq);
                    }
                }
            }
            _ => {}
        }
    }

    /// A reply: the server stamps `from`, so only `to` matters.
    fn send_reply(&mut self, mut reply: Element) {
        super::stanza::set_attr(&mut reply, "from", None);
        self.outbox.push_back(Transmit::Stanza(reply));
    }

    fn disco_info(&self, node: Option<&str>) -> Element {
        let mut q = Element::builder("query", NS_DISCO_INFO);
        if let Some(node) = node {
            q = q.attr(name("node"), node);
        }
        let mut features: Vec<&str> = self.spec.features.iter().map(String::as_str).collect();
        features.sort_unstable();
        features.dedup();
        for f in features {
            q = q.append(Element::builder("feature", NS_DISCO_INFO).attr(name("var"), f));
        }
        q.build()
    }

    fn record_error(&mut self, at: Duration, context: &'static str, stanza: &Element) {
        self.errors.push(RecordedError {
            at,
            context,
            condition: error_condition(stanza).unwrap_or_else(|| "undefined-condition".into()),
            text: error_text(stanza),
            stanza: stanza.clone(),
        });
    }

    /// `_handleSuccess` of moderator.js.
    fn on_answer(&mut self, now: Instant, at: Duration, iq: &Element) {
        self.error_backoff.reset();
        let Some(conf) = iq.get_child("conference", NS_FOCUS) else {
            self.phase = Phase::RequestFailed("answer without <conference>".into());
            return;
        };
        let properties: BTreeMap<String, String> = conf
            .children()
            .filter(|p| p.is("property", NS_FOCUS))
            .filter_map(|p| Some((p.attr("name")?.to_owned(), p.attr("value")?.to_owned())))
            .collect();
        let attr = |n: &str| conf.attr(n).map(str::to_owned);
        let answer = ConferenceAnswer {
            at,
            ready: conf.attr("ready") == Some("true"),
            focus_jid: attr("focusjid"),
            session_id: attr("session-id"),
            identity: attr("identity"),
            vnode: attr("vnode"),
            properties,
            stanza: iq.clone(),
        };
        if let Some(f) = &answer.focus_jid {
            self.focus_jids.insert(f.clone());
        }
        if let Some(s) = &answer.session_id {
            self.session_id = Some(s.clone());
        }
        let live_false = answer.properties.get("live").map(String::as_str) == Some("false");
        let ready = answer.ready;
        let vnode = answer.vnode.clone();
        self.answers.push(answer);
        if live_false {
            self.backoff.reset();
            self.phase = Phase::NotLive;
        } else if ready {
            self.backoff.reset();
            match vnode {
                Some(v) => self.phase = Phase::Redirected(v),
                None if matches!(self.phase, Phase::InRoom | Phase::Joining) => {}
                None if self.spec.join_on_ready => self.join(),
                None => self.phase = Phase::Ready,
            }
        } else {
            let wait = self.backoff.next();
            self.set_waiting(now + wait);
        }
    }

    /// Arms the retry timer; the phase only changes outside the room.
    fn set_waiting(&mut self, at: Instant) {
        if !matches!(self.phase, Phase::InRoom | Phase::Joining) {
            self.phase = Phase::WaitingToRetry;
        }
        self.retry_at = Some(at);
    }

    /// `_handleIqError` / `_handleError` of moderator.js.
    fn on_request_error(&mut self, now: Instant, at: Duration, iq: &Element) {
        self.record_error(at, "conference", iq);
        let error = iq.get_child("error", NS_CLIENT);
        let has = |name: &str| error.is_some_and(|e| e.children().any(|c| c.name() == name));
        if has("reservation-error") {
            self.phase = Phase::RequestFailed("reservation-error".into());
            return;
        }
        let session_error = has("session-invalid") || has("not-acceptable");
        if session_error {
            self.session_id = None;
        }
        if has("not-authorized") {
            self.phase = Phase::AuthenticationRequired;
            return;
        }
        let wait = self.error_backoff.next();
        if session_error && wait < Duration::from_secs(60) {
            self.backoff.reset();
            self.set_waiting(now + wait);
        } else {
            let condition = error_condition(iq).unwrap_or_else(|| "undefined-condition".into());
            self.phase = Phase::RequestFailed(condition);
        }
    }

    /// Presence from the room (`ChatRoom.onPresence`,
    /// `onPresenceUnavailable`, `onPresenceError`).
    fn on_presence(&mut self, at: Duration, p: &Element) {
        let from = p.attr("from").unwrap_or_default();
        if bare(from) != self.spec.room {
            return;
        }
        let kind = p.attr("type");
        if kind == Some("error") {
            let context = if self.phase == Phase::Joining {
                "join"
            } else {
                "presence"
            };
            self.record_error(at, context, p);
            if self.phase == Phase::Joining {
                let c = error_condition(p).unwrap_or_else(|| "undefined-condition".into());
                self.phase = Phase::JoinFailed(c);
            }
            return;
        }
        let x = p.get_child("x", NS_MUC_USER);
        let codes: Vec<u16> = x
            .map(|x| {
                x.children()
                    .filter(|c| c.is("status", NS_MUC_USER))
                    .filter_map(|c| c.attr("code")?.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        let item = x.and_then(|x| x.get_child("item", NS_MUC_USER));
        let own = from == self.occupant_jid() || codes.contains(&110);
        let unavailable = kind == Some("unavailable");
        if own {
            if unavailable {
                let destroy = x.and_then(|x| x.get_child("destroy", NS_MUC_USER));
                let reason = if let Some(d) = destroy {
                    LeftReason::Destroyed(d.get_child("reason", NS_MUC_USER).map(|r| r.text()))
                } else if codes.contains(&307) {
                    LeftReason::Kicked
                } else {
                    LeftReason::Removed
                };
                self.occupants.clear();
                if !matches!(self.phase, Phase::Left(_)) {
                    self.phase = Phase::Left(reason);
                }
                return;
            }
            self.role = item.and_then(|i| i.attr("role")).map(str::to_owned);
            self.affiliation = item.and_then(|i| i.attr("affiliation")).map(str::to_owned);
            if self.phase == Phase::Joining {
                self.phase = Phase::InRoom;
                self.join_status_codes = codes;
                // lib-jitsi-meet reads the room's disco#info once joined.
                let id = format!("{}:sendIQ", self.rng.uuid());
                let iq = Element::builder("iq", NS_CLIENT)
                    .attr(name("to"), self.spec.room.as_str())
                    .attr(name("type"), "get")
                    .attr(name("id"), id.as_str())
                    .append(Element::builder("query", NS_DISCO_INFO))
                    .build();
                self.room_disco_id = Some(id);
                self.outbox.push_back(Transmit::Stanza(iq));
            }
            return;
        }
        let Some(nick) = resource(from) else { return };
        if unavailable {
            if self.occupants.remove(nick).is_some_and(|o| o.is_focus) {
                self.focus_left += 1;
            }
            return;
        }
        let jid = item.and_then(|i| i.attr("jid")).map(str::to_owned);
        let is_focus_jid = jid.as_deref().is_some_and(|j| {
            self.focus_jids
                .iter()
                .any(|f| j.starts_with(&format!("{f}/")))
        });
        let role = item
            .and_then(|i| i.attr("role"))
            .unwrap_or("none")
            .to_owned();
        let affiliation = item
            .and_then(|i| i.attr("affiliation"))
            .unwrap_or("none")
            .to_owned();
        let was_focus = self.occupants.get(nick).is_some_and(|o| o.is_focus);
        self.occupants.insert(
            nick.to_owned(),
            SeenOccupant {
                nick: nick.to_owned(),
                jid: jid.or_else(|| self.occupants.get(nick).and_then(|o| o.jid.clone())),
                role,
                affiliation,
                is_focus: is_focus_jid || was_focus,
                presence: p.clone(),
            },
        );
    }
}

/// A stand-in for the XEP-0115 `ver` of `features`: stable and distinct per
/// feature set (not the real SHA-1; the focus only uses it as a cache key).
fn caps_ver(features: &[String]) -> String {
    use base64::Engine as _;
    let mut sorted: Vec<&str> = features.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut digest = [0u8; 20];
    for (lane, chunk) in digest.chunks_mut(8).enumerate() {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ (lane as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        for f in &sorted {
            for b in f.bytes().chain(std::iter::once(b'<')) {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
        let bytes = h.to_be_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
    base64::engine::general_purpose::STANDARD.encode(digest)
}
