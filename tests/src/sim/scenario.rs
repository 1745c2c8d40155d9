//! What scenarios do to a [`Sim`] and read from it: participants, raw
//! sessions, the focus's connection, MUC actions, faults, HTTP, the trace
//! and the error check.

use std::time::Duration;

use focus_proto::config::Config;
use focus_proto::http::{HttpRequest, HttpResponse};
use focus_proto::{Event, Focus, HttpId, Input};
use minidom::Element;

use super::participant::{Participant, ParticipantId, ParticipantSpec};
use super::server::{Server, SessionId};
use super::stanza::{NS_CLIENT, normalize, split_jid};
use super::{Faults, Item, Peer, Received, Room, Sim, Trace, TraceKind};

impl Sim {
    // ----- the focus -------------------------------------------------------

    /// The focus, for inspection.
    ///
    /// # Panics
    ///
    /// When built [`without_focus`](super::SimBuilder::without_focus).
    pub fn focus(&self) -> &Focus {
        match &self.focus {
            Some(f) => f,
            None => panic!("sim: built without a focus"),
        }
    }

    /// The focus, if the simulation has one.
    pub fn try_focus(&self) -> Option<&Focus> {
        self.focus.as_ref()
    }

    /// The focus's configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The focus's full JID (`focus@auth.meet.jitsi/focus`).
    pub fn focus_jid(&self) -> &str {
        &self.focus_jid
    }

    /// The focus's current session, when connected.
    pub fn focus_session(&self) -> Option<SessionId> {
        self.focus_session
    }

    /// Every event the focus emitted, with its virtual time.
    pub fn events(&self) -> &[(Duration, Event)] {
        &self.events
    }

    /// Cuts the focus's connection now: the server closes its session (the
    /// MUC sees it leave every room), stanzas in flight are lost, the focus
    /// gets `Input::Disconnected`; with `reconnect_after` it gets a new
    /// session and `Input::Connected` that much later.
    pub fn disconnect_focus(&mut self, reconnect_after: Option<Duration>) {
        let Some(session) = self.focus_session.take() else {
            return;
        };
        let at = self.clock.elapsed();
        self.trace
            .note(at, format!("harness: cut {}", self.focus_jid));
        let routed = self
            .server
            .close_session(session, Some("connection closed"));
        self.apply(routed);
        self.focus_input(Input::Disconnected {
            conn: focus_proto::ConnId::Client,
            reason: "connection closed (simulated)".into(),
        });
        if let Some(d) = reconnect_after {
            let when = self.clock.now() + d;
            self.queue.push(when, Item::FocusConnect);
        }
    }

    /// Sends an HTTP request to the focus and returns its id; the answer
    /// shows in [`Sim::http_response`] once the focus gives it.
    pub fn http_start(&mut self, request: HttpRequest) -> HttpId {
        let id = HttpId(self.next_http);
        self.next_http += 1;
        let at = self.clock.elapsed();
        let line = format!("#{} -> {:?} {}", id.0, request.method, request.path);
        self.trace.push(at, TraceKind::Http(line));
        self.focus_input(Input::Http { id, request });
        id
    }

    /// The focus's answer to HTTP request `id`, if it came.
    pub fn http_response(&self, id: HttpId) -> Option<&HttpResponse> {
        self.http.get(&id).map(|(_, r)| r)
    }

    /// Sends an HTTP request and runs (up to 60 s of virtual time) until
    /// the focus answers.
    ///
    /// # Panics
    ///
    /// When the focus does not answer in time.
    pub fn http(&mut self, request: HttpRequest) -> HttpResponse {
        let id = self.http_start(request);
        self.run_until(|s| s.http.contains_key(&id), Duration::from_secs(60));
        match self.http.get(&id) {
            Some((_, r)) => r.clone(),
            None => panic!(
                "sim: the focus did not answer HTTP request #{} in 60 s",
                id.0
            ),
        }
    }

    // ----- participants ----------------------------------------------------

    /// Logs a new participant in (anonymously on `meet.jitsi` unless the
    /// spec says otherwise); it sends its conference request at once (or
    /// after the spec's start delay).
    ///
    /// # Panics
    ///
    /// When the spec's login is not on a virtual host of the server.
    pub fn add_participant(&mut self, spec: ParticipantSpec) -> ParticipantId {
        let (node, domain) = match &spec.login {
            Some(login) => {
                let (node, domain, _) = split_jid(login);
                (
                    node.map(str::to_owned)
                        .unwrap_or_else(|| self.peer_rng.token(24).to_lowercase()),
                    domain.to_owned(),
                )
            }
            None => (self.peer_rng.token(24).to_lowercase(), spec.domain.clone()),
        };
        let resource = self.peer_rng.token(12);
        let raw = format!("{node}@{domain}/{resource}");
        let jid = self.login_jid(&raw);
        let (session, routed) = self.server.open_session(&jid);
        self.net.add_link(session, spec.link.clone(), false);
        let i = self.participants.len();
        let id = ParticipantId(i);
        let seed = self.peer_rng.child_seed();
        let now = self.clock.now();
        let start = self.clock.start();
        self.peers.insert(session, Peer::Participant(i));
        self.participants
            .push(Participant::new(id, spec, jid.clone(), seed, start, now));
        self.participant_sessions.push(session);
        self.timer_of.push(None);
        let at = self.clock.elapsed();
        self.trace
            .note(at, format!("participant #{i} logged in as {jid}"));
        self.apply(routed);
        self.drain_participant(i);
        id
    }

    pub(super) fn login_jid(&self, raw: &str) -> String {
        let Some(jid) = normalize(raw) else {
            panic!("sim: {raw:?} is not a valid JID");
        };
        let (_, domain, resource) = split_jid(&jid);
        assert!(
            self.server.is_host(domain),
            "sim: {domain} is not a virtual host of the simulated server"
        );
        assert!(resource.is_some(), "sim: {raw:?} is not a full JID");
        jid
    }

    /// Participant `id`.
    ///
    /// # Panics
    ///
    /// On an id this simulation did not hand out.
    pub fn participant(&self, id: ParticipantId) -> &Participant {
        &self.participants[id.0]
    }

    /// All participants, in the order they were added.
    pub fn participants(&self) -> &[Participant] {
        &self.participants
    }

    /// The session of participant `id`.
    pub fn participant_session(&self, id: ParticipantId) -> SessionId {
        self.participant_sessions[id.0]
    }

    /// Participant `id` leaves like a closed page: unavailable presence
    /// without `to`, then the stream closes.
    pub fn leave(&mut self, id: ParticipantId) {
        self.participants[id.0].leave();
        self.drain_participant(id.0);
    }

    /// Participant `id`'s connection drops: no goodbye, the server sends
    /// unavailable to its rooms itself.
    pub fn disconnect(&mut self, id: ParticipantId) {
        let session = self.participant_sessions[id.0];
        self.cut(session);
        self.participants[id.0].disconnected();
        self.drain_participant(id.0);
    }

    /// Participant `id` sends another conference request now.
    pub fn request_conference(&mut self, id: ParticipantId) {
        let now = self.clock.now();
        self.participants[id.0].send_request(now);
        self.drain_participant(id.0);
    }

    /// Replaces (or adds) an element of participant `id`'s presence and
    /// sends the update when it is in the room.
    pub fn set_presence_element(&mut self, id: ParticipantId, el: Element) {
        self.participants[id.0].set_presence_element(el);
        self.drain_participant(id.0);
    }

    /// Sets participant `id`'s `<SourceInfo>` JSON (its mute state).
    pub fn set_source_info(&mut self, id: ParticipantId, json: &str) {
        let el = Element::builder("SourceInfo", NS_CLIENT)
            .append(json)
            .build();
        self.set_presence_element(id, el);
    }

    // ----- raw sessions ----------------------------------------------------

    /// Logs in a session the test drives by hand, bound to the full JID
    /// `jid` on one of the server's virtual hosts (e.g.
    /// `focus@auth.meet.jitsi/fake` to play the focus, or a fake client).
    /// It is not available until it sends `<presence/>`.
    ///
    /// # Panics
    ///
    /// When `jid` is not a full JID on a virtual host.
    pub fn connect_raw(&mut self, jid: &str) -> SessionId {
        let jid = self.login_jid(jid);
        let (session, routed) = self.server.open_session(&jid);
        self.net.add_link(session, None, false);
        self.peers.insert(session, Peer::Raw);
        self.inboxes.insert(session, Vec::new());
        let at = self.clock.elapsed();
        self.trace.note(at, format!("raw session {jid} connected"));
        self.apply(routed);
        session
    }

    /// Sends `stanza` from `session` (any session: raw, a participant's, the
    /// focus's), as that client would; the server stamps `from`.
    pub fn raw_send(&mut self, session: SessionId, stanza: Element) {
        if self.session_open(session) {
            self.send_up(session, stanza);
        } else {
            let at = self.clock.elapsed();
            let jid = self.session_jid(session);
            self.trace
                .lost(at, &jid, "raw_send on a closed session", &stanza);
        }
    }

    /// [`Sim::raw_send`] of XML text (see [`super::xml`]).
    pub fn raw_send_xml(&mut self, session: SessionId, text: &str) {
        self.raw_send(session, super::xml(text));
    }

    /// What raw session `session` received so far.
    pub fn inbox(&self, session: SessionId) -> &[Received] {
        self.inboxes.get(&session).map_or(&[], Vec::as_slice)
    }

    /// Takes what raw session `session` received so far.
    pub fn take_inbox(&mut self, session: SessionId) -> Vec<Received> {
        self.inboxes
            .get_mut(&session)
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Cuts `session` (raw or not) without a goodbye.
    pub fn disconnect_session(&mut self, session: SessionId) {
        if Some(session) == self.focus_session {
            self.disconnect_focus(None);
            return;
        }
        match self.peers.get(&session).copied() {
            Some(Peer::Participant(i)) => self.disconnect(super::ParticipantId(i)),
            Some(Peer::Bridge(i)) if self.bridge_session(super::BridgeId(i)) == session => {
                self.crash_bridge(super::BridgeId(i));
            }
            _ => self.cut(session),
        }
    }

    pub(super) fn cut(&mut self, session: SessionId) {
        let at = self.clock.elapsed();
        let jid = self.session_jid(session);
        self.trace.note(at, format!("harness: cut {jid}"));
        let routed = self
            .server
            .close_session(session, Some("connection closed"));
        self.apply(routed);
    }

    // ----- the server and its MUCs ----------------------------------------

    /// The simulated server.
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// The live room `jid` (bare), if any.
    pub fn room(&self, jid: &str) -> Option<&Room> {
        self.server.room(jid)
    }

    /// Kicks `nick` out of `room` as the server would (status 307).
    /// Returns whether there was such an occupant.
    pub fn kick(&mut self, room: &str, nick: &str) -> bool {
        let at = self.clock.elapsed();
        self.trace.note(at, format!("harness: kick {room}/{nick}"));
        let (done, routed) = self.server.kick(room, nick, None);
        self.apply(routed);
        done
    }

    /// Destroys `room` (every occupant gets `<destroy/>`). Returns whether
    /// it existed.
    pub fn destroy_room(&mut self, room: &str, reason: Option<&str>) -> bool {
        let at = self.clock.elapsed();
        self.trace.note(at, format!("harness: destroy {room}"));
        let (done, routed) = self.server.destroy_room(room, reason);
        self.apply(routed);
        done
    }

    /// Tells the breakout MUC of `breakout` that it belongs to `main` (what
    /// Jitsi's breakout module does when a moderator adds a room).
    pub fn register_breakout_room(&mut self, breakout: &str, main: &str) -> bool {
        let (_, host, _) = split_jid(breakout);
        match self.server.muc_mut(host) {
            Some(m) => {
                m.register_breakout_room(breakout, main);
                true
            }
            None => false,
        }
    }

    // ----- faults ----------------------------------------------------------

    /// Replaces the faults of every link that has no explicit profile.
    pub fn set_faults(&mut self, faults: Faults) {
        let at = self.clock.elapsed();
        self.trace.note(at, format!("harness: faults {faults:?}"));
        self.net.set_faults(faults);
    }

    // ----- the record ------------------------------------------------------

    /// The trace.
    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// The trace as text (see [`Trace::text`]).
    pub fn trace_text(&self) -> String {
        self.trace.text()
    }

    /// Adds a line to the trace (for a test's own landmarks).
    pub fn note(&mut self, text: &str) {
        let at = self.clock.elapsed();
        self.trace.note(at, format!("test: {text}"));
    }

    /// Everything that should fail the run: ERROR logs of the focus, API
    /// misuse, the server closing the focus's connection.
    pub fn errors(&self) -> Vec<String> {
        let mut all = self.problems.clone();
        all.extend(self.logs.errors());
        all
    }

    /// Takes [`Sim::errors`], for a test that expects some (they then no
    /// longer fail the run).
    pub fn take_errors(&mut self) -> Vec<String> {
        let mut all = std::mem::take(&mut self.problems);
        all.extend(self.logs.take_errors());
        all
    }

    /// Fails the test if [`Sim::errors`] is not empty.
    ///
    /// # Panics
    ///
    /// With the errors.
    pub fn assert_no_errors(&self) {
        let errors = self.errors();
        assert!(
            errors.is_empty(),
            "the simulation recorded errors:\n  {}",
            errors.join("\n  ")
        );
    }
}
