//! The deterministic simulation: the real [`Focus`] in virtual time, a
//! simulated Prosody (routing, `client_proxy`, MUC) and simulated
//! lib-jitsi-meet participants, over links with seeded latency and faults.
//!
//! ```no_run
//! use std::time::Duration;
//! use focus_tests::sim::{ParticipantSpec, Sim};
//!
//! let mut sim = Sim::builder()
//!     .seed(7)
//!     .config_hocon("jicofo.conference.initial-timeout = 5 seconds")
//!     .build();
//! sim.run_until_idle_or(Duration::from_secs(1)); // the focus connects
//! let a = sim.add_participant(ParticipantSpec::new("room1@muc.meet.jitsi"));
//! sim.run_for(Duration::from_secs(2));
//! assert!(sim.participant(a).in_room());
//! sim.leave(a);
//! sim.run_for(Duration::from_secs(30));
//! assert!(sim.room("room1@muc.meet.jitsi").is_none());
//! sim.assert_no_errors();
//! ```
//!
//! # How it runs
//!
//! Nothing happens by itself: [`Sim::step`] jumps the [`Clock`] to the
//! earliest of the focus's `poll_timeout`, the next delivery on a link and
//! the next participant or bridge timer, and handles everything due then
//! (in `(time, sequence)` order), draining every output. The `run_*`
//! methods repeat it. The same seed and the same calls give the same
//! [`Sim::trace_text`], byte for byte.
//!
//! Simulated bridges ([`Sim::add_bridge`]: an [`EmulatedBridge`] logged in
//! as `jvb@auth.meet.jitsi/<nick>`) are peers like the participants; the
//! focus sees them when built [`with_brewery`](SimBuilder::with_brewery).
//!
//! # Faithful to Prosody 0.12 (docker-jitsi-meet layout)
//!
//! `from` stamping; c2s IQ validation; `service-unavailable` for IQs to
//! absent full JIDs; `not-allowed` for remote domains; directed presence,
//! so that an unavailable broadcast or a dropped connection leaves every
//! room (with `Disconnected: …` status); the project's `mod_client_proxy`
//! both ways, including "The focus is not connected" and
//! `feature-not-implemented`; MUC joins with `restrict_room_creation`
//! (`not-allowed`), status codes 201/100/110, occupant list before the
//! broadcast, real JIDs by whois, admins as owners and moderators, nickname
//! `conflict`, `item-not-found` for presence without `<x/>`, presence
//! filtering (the MUC `x` stripped, `muc#user` appended), the owner form
//! (with Jitsi's `muc#roominfo_meetingId`, breakout fields; booleans as
//! `1`/`0` like Prosody), whois changes announced with 172/173, admin
//! affiliation and role commands with Prosody's permission rules and
//! errors (`not-allowed` for non-owners), kicks (307), destroy, IQs between
//! occupants with mangled ids, self-ping, destruction of empty rooms.
//!
//! # Simplified
//!
//! One session per occupant (a second session of the same bare JID gets
//! `conflict`; Prosody would share the nickname); no nickname changes, no
//! presence probes, no history, no passwords, members-only, lobby, or
//! Jitsi's jicofo-lock queueing of joins; no rosters or subscriptions;
//! presence broadcast to contacts is not echoed; the caps `ver` is a stable
//! hash, not SHA-1; login is instant; stanzas are routed by the server at
//! arrival with no processing time.

mod bridge;
mod builder;
mod clock;
mod logs;
mod media;
mod muc;
mod net;
mod participant;
mod scenario;
mod server;
mod stanza;
mod trace;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use focus_proto::config::Config;
use focus_proto::http::HttpResponse;
use focus_proto::rng::FocusRng;
use focus_proto::{ConnId, Event, Focus, HttpId, Input, Output};
use minidom::Element;

pub use crate::emulator::{BridgeOptions, Control, EmulatedBridge};
pub use bridge::{BREWERY_JID, BRIDGE_ACCOUNT, BridgeId, BridgeState};
pub use builder::{BASE_HOCON, SimBuilder};
pub use clock::{Clock, Timeline};
pub use muc::{Affiliation, MucOptions, MucService, OccupantView, Role, Room, Whois};
pub use net::{Faults, LinkFaults};
pub use participant::{
    ConferenceAnswer, DEFAULT_FEATURES, JingleAnswer, JingleClient, JingleState, LeftReason,
    MediaSpec, OwnSource, OwnSources, Participant, ParticipantId, ParticipantSpec, Phase,
    ReceivedIq, RecordedError, SeenOccupant, json_sources,
};
pub use server::{Server, ServerConfig, Session, SessionId};
pub use stanza::{
    NS_CAPS, NS_CLIENT, NS_DATA, NS_DISCO_INFO, NS_DISCO_ITEMS, NS_FOCUS, NS_MUC, NS_MUC_ADMIN,
    NS_MUC_OWNER, NS_MUC_USER, NS_NICK, NS_PING, NS_STANZAS, bare, error_condition, error_text,
    resource, split_jid, to_xml, xml,
};
pub use trace::{Trace, TraceEntry, TraceKind};

use logs::LogCapture;
use net::{Dir, Network};
use participant::Transmit;
use server::Routed;

/// A stanza a raw session received.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    /// When (virtual time since the start).
    pub at: Duration,
    /// The stanza.
    pub stanza: Element,
}

/// Who is behind a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Peer {
    Focus,
    Participant(usize),
    Bridge(usize),
    Raw,
}

/// Something scheduled on the timeline.
#[derive(Debug)]
enum Item {
    /// A stanza arriving at the server from a session.
    Up { from: SessionId, stanza: Element },
    /// A session closing its stream (after what it sent before).
    Close { session: SessionId },
    /// A stanza arriving at a session.
    Down { to: SessionId, stanza: Element },
    /// The focus (re)connecting.
    FocusConnect,
}

/// Most items handled at one instant before the run counts as a livelock.
const MAX_ITEMS_PER_INSTANT: usize = 2_000_000;
/// Most outputs from one call into the focus.
const MAX_FOCUS_OUTPUTS: usize = 200_000;
/// Most times the focus may ask to be woken at or before `now` in a row.
const MAX_STUCK_TIMEOUTS: usize = 10_000;

/// The simulation. See the [module docs](self).
pub struct Sim {
    clock: Clock,
    queue: Timeline<Item>,
    net: Network,
    server: Server,
    config: Arc<Config>,
    focus: Option<Focus>,
    focus_jid: String,
    focus_session: Option<SessionId>,
    peers: BTreeMap<SessionId, Peer>,
    participants: Vec<Participant>,
    participant_sessions: Vec<SessionId>,
    timers: BTreeSet<(Instant, usize)>,
    timer_of: Vec<Option<Instant>>,
    bridges: bridge::Bridges,
    inboxes: BTreeMap<SessionId, Vec<Received>>,
    peer_rng: FocusRng,
    events: Vec<(Duration, Event)>,
    http: BTreeMap<HttpId, (Duration, HttpResponse)>,
    next_http: u64,
    trace: Trace,
    logs: LogCapture,
    problems: Vec<String>,
    /// Panic on drop when errors are left (see `SimBuilder::allow_errors`).
    fail_on_errors: bool,
}

impl Drop for Sim {
    fn drop(&mut self) {
        if self.fail_on_errors && !std::thread::panicking() {
            let errors = self.errors();
            assert!(
                errors.is_empty(),
                "the simulation ended with errors (SimBuilder::allow_errors or \
                 Sim::take_errors to expect them):\n  {}",
                errors.join("\n  ")
            );
        }
    }
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim")
            .field("elapsed", &self.clock.elapsed())
            .field("pending", &self.queue.len())
            .field("participants", &self.participants.len())
            .finish_non_exhaustive()
    }
}

impl Sim {
    /// A [`SimBuilder`] with seed 0, [`BASE_HOCON`] and no faults.
    pub fn builder() -> SimBuilder {
        SimBuilder::default()
    }

    fn new(
        config: Arc<Config>,
        seed: [u8; 32],
        faults: Faults,
        with_focus: bool,
        server: ServerConfig,
        trace: bool,
        fail_on_errors: bool,
    ) -> Self {
        // The one real clock reading; everything after is virtual.
        let start = Instant::now();
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600);
        let mut master = FocusRng::from_seed(seed);
        let focus_seed = master.child_seed();
        let net = Network::new(master.child_seed(), faults);
        let server = Server::new(server, master.child_seed());
        let peer_rng = FocusRng::from_seed(master.child_seed());
        let logs = LogCapture::new();
        let client = &config.xmpp.client;
        let domain = client
            .domain
            .clone()
            .or_else(|| client.xmpp_domain.clone())
            .unwrap_or_else(|| "auth.meet.jitsi".into());
        let focus_jid = format!("{}@{domain}/{}", client.username, client.resource());
        let focus = with_focus
            .then(|| logs.scope(0, || Focus::new(config.clone(), focus_seed, start, wall)));
        let mut queue = Timeline::new();
        if focus.is_some() {
            queue.push(start, Item::FocusConnect);
        }
        Self {
            clock: Clock::new(start),
            queue,
            net,
            server,
            config,
            focus,
            focus_jid,
            focus_session: None,
            peers: BTreeMap::new(),
            participants: Vec::new(),
            participant_sessions: Vec::new(),
            timers: BTreeSet::new(),
            timer_of: Vec::new(),
            bridges: bridge::Bridges::default(),
            inboxes: BTreeMap::new(),
            peer_rng,
            events: Vec::new(),
            http: BTreeMap::new(),
            next_http: 1,
            trace: Trace::new(trace),
            logs,
            problems: Vec::new(),
            fail_on_errors,
        }
    }

    // ----- time ------------------------------------------------------------

    /// The current virtual instant.
    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// Virtual time since the start.
    pub fn elapsed(&self) -> Duration {
        self.clock.elapsed()
    }

    /// The clock.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    fn micros(&self) -> u64 {
        u64::try_from(self.clock.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// When something next happens: a delivery, a focus deadline, a
    /// participant timer or a bridge timer.
    pub fn next_wakeup(&self) -> Option<Instant> {
        [
            self.queue.next_time(),
            self.focus.as_ref().and_then(Focus::poll_timeout),
            self.timers.first().map(|(at, _)| *at),
            self.bridges.next_timer(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Whether nothing is in flight and no participant waits on a timer
    /// (the focus's and the bridges' periodic timers do not count).
    pub fn is_idle(&self) -> bool {
        self.queue.is_empty() && self.timers.is_empty()
    }

    /// Advances to the next wake-up and handles everything due then.
    /// Returns `false` when nothing is scheduled at all.
    ///
    /// # Panics
    ///
    /// When the run livelocks: millions of deliveries at one instant, a
    /// focus that emits without end, or a focus deadline stuck in the past.
    pub fn step(&mut self) -> bool {
        let Some(at) = self.next_wakeup() else {
            return false;
        };
        self.clock.advance_to(at);
        self.process_due();
        true
    }

    /// Runs for `d` of virtual time (the clock ends exactly `d` later).
    pub fn run_for(&mut self, d: Duration) {
        let deadline = self.clock.now() + d;
        while self.next_wakeup().is_some_and(|at| at <= deadline) {
            self.step();
        }
        self.clock.advance_to(deadline);
    }

    /// Runs until `pred` holds (checked before every step) or `limit` of
    /// virtual time has passed; returns whether `pred` held.
    pub fn run_until(&mut self, mut pred: impl FnMut(&Sim) -> bool, limit: Duration) -> bool {
        let deadline = self.clock.now() + limit;
        loop {
            if pred(self) {
                return true;
            }
            if self.next_wakeup().is_none_or(|at| at > deadline) {
                self.clock.advance_to(deadline);
                return pred(self);
            }
            self.step();
        }
    }

    /// Runs until [`Sim::is_idle`] or `limit`; returns whether it got idle.
    pub fn run_until_idle_or(&mut self, limit: Duration) -> bool {
        self.run_until(Sim::is_idle, limit)
    }

    fn process_due(&mut self) {
        let now = self.clock.now();
        let mut handled = 0usize;
        let mut stuck = 0usize;
        loop {
            handled += 1;
            assert!(
                handled < MAX_ITEMS_PER_INSTANT,
                "sim: livelock at {:?}: over {MAX_ITEMS_PER_INSTANT} events at one instant",
                self.clock.elapsed()
            );
            if let Some((_, item)) = self.queue.pop_due(now) {
                self.dispatch(item);
                continue;
            }
            if self
                .focus
                .as_ref()
                .and_then(Focus::poll_timeout)
                .is_some_and(|at| at <= now)
            {
                stuck += 1;
                assert!(
                    stuck < MAX_STUCK_TIMEOUTS,
                    "sim: the focus's poll_timeout stays at or before now ({:?}) after handle_timeout",
                    self.clock.elapsed()
                );
                let micros = self.micros();
                if let Some(f) = self.focus.as_mut() {
                    self.logs.scope(micros, || f.handle_timeout(now));
                }
                self.pump_focus();
                continue;
            }
            if let Some(&(at, i)) = self.timers.first()
                && at <= now
            {
                self.timers.remove(&(at, i));
                self.timer_of[i] = None;
                self.participants[i].handle_timeout(now);
                self.drain_participant(i);
                continue;
            }
            if self.fire_bridge_timer() {
                continue;
            }
            break;
        }
    }

    // ----- moving stanzas --------------------------------------------------

    fn dispatch(&mut self, item: Item) {
        match item {
            Item::Up { from, stanza } => self.arrive_at_server(from, stanza),
            Item::Close { session } => {
                let at = self.clock.elapsed();
                if self.session_open(session) {
                    self.trace.note(
                        at,
                        format!("{} closed its stream", self.session_jid(session)),
                    );
                    let routed = self.server.close_session(session, None);
                    self.apply(routed);
                }
            }
            Item::Down { to, stanza } => self.arrive_at_session(to, stanza),
            Item::FocusConnect => self.connect_focus(),
        }
    }

    fn session_open(&self, id: SessionId) -> bool {
        self.server.session(id).is_some_and(Session::is_open)
    }

    fn session_jid(&self, id: SessionId) -> String {
        self.server
            .session(id)
            .map(|s| s.jid().to_owned())
            .unwrap_or_else(|| format!("session#{}", id.0))
    }

    fn arrive_at_server(&mut self, from: SessionId, stanza: Element) {
        let at = self.clock.elapsed();
        let jid = self.session_jid(from);
        if !self.session_open(from) {
            self.trace.lost(at, &jid, "connection closed", &stanza);
            return;
        }
        self.trace.sent(at, &jid, &stanza);
        let routed = self.server.handle(from, stanza);
        self.apply(routed);
    }

    fn arrive_at_session(&mut self, to: SessionId, stanza: Element) {
        let at = self.clock.elapsed();
        let jid = self.session_jid(to);
        if !self.session_open(to) {
            self.trace.lost(at, &jid, "connection closed", &stanza);
            return;
        }
        self.trace.received(at, &jid, &stanza);
        match self.peers.get(&to).copied() {
            Some(Peer::Focus) => {
                self.focus_input(Input::Stanza {
                    conn: ConnId::Client,
                    stanza,
                });
            }
            Some(Peer::Participant(i)) => {
                let now = self.clock.now();
                self.participants[i].handle_stanza(now, &stanza);
                self.drain_participant(i);
            }
            Some(Peer::Bridge(i)) => self.bridge_stanza(i, to, &stanza),
            Some(Peer::Raw) | None => {
                self.inboxes
                    .entry(to)
                    .or_default()
                    .push(Received { at, stanza });
            }
        }
    }

    /// Puts what the server produced on the down links; tells peers whose
    /// connection the server closed.
    fn apply(&mut self, routed: Routed) {
        for (to, stanza) in routed.deliveries {
            self.send_down(to, stanza);
        }
        for (session, why) in routed.closed {
            self.peer_closed(session, &why);
        }
    }

    fn send_down(&mut self, to: SessionId, stanza: Element) {
        let now = self.clock.now();
        let times = self.net.schedule(to, Dir::Down, now, true);
        self.schedule(to, times, stanza, |to, stanza| Item::Down { to, stanza });
    }

    fn send_up(&mut self, from: SessionId, stanza: Element) {
        let now = self.clock.now();
        let times = self.net.schedule(from, Dir::Up, now, true);
        self.schedule(from, times, stanza, |from, stanza| Item::Up {
            from,
            stanza,
        });
    }

    fn schedule(
        &mut self,
        session: SessionId,
        times: Vec<Instant>,
        stanza: Element,
        make: impl Fn(SessionId, Element) -> Item,
    ) {
        let at = self.clock.elapsed();
        if times.is_empty() {
            let jid = self.session_jid(session);
            self.trace
                .lost(at, &jid, "dropped by a link fault", &stanza);
            return;
        }
        if times.len() > 1 {
            let jid = self.session_jid(session);
            self.trace.push(at, TraceKind::Duplicated { session: jid });
        }
        let last = times.len() - 1;
        let mut stanza = Some(stanza);
        for (n, t) in times.into_iter().enumerate() {
            let copy = if n == last {
                stanza.take()
            } else {
                stanza.clone()
            };
            if let Some(copy) = copy {
                self.queue.push(t, make(session, copy));
            }
        }
    }

    fn close_gracefully(&mut self, session: SessionId) {
        let now = self.clock.now();
        for t in self.net.schedule(session, Dir::Up, now, false) {
            self.queue.push(t, Item::Close { session });
        }
    }

    // ----- the focus -------------------------------------------------------

    fn connect_focus(&mut self) {
        if self.focus.is_none() || self.focus_session.is_some() {
            return;
        }
        let jid = self.focus_jid.clone();
        let Ok(full) = jid::FullJid::new(&jid) else {
            self.problems
                .push(format!("the focus JID {jid:?} is not a full JID"));
            return;
        };
        let (session, routed) = self.server.open_session(&jid);
        self.net.add_link(session, None, true);
        self.peers.insert(session, Peer::Focus);
        self.focus_session = Some(session);
        self.apply(routed);
        let at = self.clock.elapsed();
        self.trace.note(at, format!("{jid} connected"));
        self.focus_input(Input::Connected {
            conn: ConnId::Client,
            jid: full,
        });
    }

    fn focus_input(&mut self, input: Input) {
        let now = self.clock.now();
        let micros = self.micros();
        let Some(focus) = self.focus.as_mut() else {
            return;
        };
        if let Err(e) = self.logs.scope(micros, || focus.handle_input(now, input)) {
            self.problems.push(format!("focus API misuse: {e}"));
        }
        self.pump_focus();
    }

    /// Drains the focus's outputs onto the network, the events and the HTTP
    /// answers.
    fn pump_focus(&mut self) {
        for _ in 0..MAX_FOCUS_OUTPUTS {
            let Some(out) = self.focus.as_mut().and_then(Focus::poll_output) else {
                return;
            };
            let at = self.clock.elapsed();
            match out {
                Output::Send { conn, stanza } => match (conn, self.focus_session) {
                    (ConnId::Client, Some(session)) => self.send_up(session, stanza),
                    (conn, _) => {
                        let why = format!("the focus's {conn} connection is not up");
                        self.trace.lost(at, &self.focus_jid.clone(), &why, &stanza);
                    }
                },
                Output::Http { id, response } => {
                    let line = format!(
                        "#{} <- {} {}",
                        id.0,
                        response.status,
                        String::from_utf8_lossy(&response.body)
                    );
                    self.trace.push(at, TraceKind::Http(line));
                    self.http.insert(id, (at, response));
                }
                Output::Event(ev) => {
                    if self.trace.is_enabled() {
                        let text = trace::stable_debug(&format!("{ev:?}"), self.clock.start());
                        self.trace.push(at, TraceKind::FocusEvent(text));
                    }
                    self.events.push((at, ev));
                }
            }
        }
        panic!("sim: the focus produced over {MAX_FOCUS_OUTPUTS} outputs from one input");
    }

    // ----- participants ----------------------------------------------------

    /// Sends what participant `i` wants sent and re-arms its timer.
    fn drain_participant(&mut self, i: usize) {
        let session = self.participant_sessions[i];
        while let Some(t) = self.participants[i].poll_transmit() {
            match t {
                Transmit::Stanza(stanza) => self.send_up(session, stanza),
                Transmit::Close => self.close_gracefully(session),
            }
        }
        let wanted = self.participants[i].poll_timeout();
        if self.timer_of[i] != wanted {
            if let Some(old) = self.timer_of[i] {
                self.timers.remove(&(old, i));
            }
            if let Some(at) = wanted {
                self.timers.insert((at, i));
            }
            self.timer_of[i] = wanted;
        }
    }

    /// The server closed `session` (conflict, stream error) or the harness
    /// cut it: tell whoever is behind it.
    fn peer_closed(&mut self, session: SessionId, why: &str) {
        let at = self.clock.elapsed();
        let jid = self.session_jid(session);
        self.trace.note(at, format!("{jid} disconnected: {why}"));
        match self.peers.get(&session).copied() {
            Some(Peer::Focus) if self.focus_session == Some(session) => {
                self.focus_session = None;
                self.problems
                    .push(format!("the server closed the focus's connection: {why}"));
                self.focus_input(Input::Disconnected {
                    conn: ConnId::Client,
                    reason: why.to_owned(),
                });
            }
            Some(Peer::Participant(i)) => {
                self.participants[i].disconnected();
                self.drain_participant(i);
            }
            Some(Peer::Bridge(i)) => self.bridge_closed(i, session),
            _ => {}
        }
    }

    // ----- ICE failure and in-place ICE restart (jingle.md 8) ------------

    /// Participant `id` asks the focus for an in-place ICE restart, as
    /// lib-jitsi-meet's `restartIce`: a `session-info` on its current
    /// session with `<bridge-session id ice-restart='true'/>`, the id being
    /// `bridge_session_override` when given (a stale or wrong one), else
    /// its current bridge session id. Returns the IQ's id (the answer shows
    /// in [`Sim::participant_session_info_answers`]), or `None` when
    /// nothing was sent (no Jingle session, or no bridge session id known).
    pub fn participant_request_ice_restart(
        &mut self,
        id: ParticipantId,
        bridge_session_override: Option<&str>,
    ) -> Option<String> {
        self.participant_sends(id, "requests an ICE restart", |p| {
            p.request_ice_restart(bridge_session_override)
        })
    }

    /// Participant `id` sends the legacy ICE-failed notice: a
    /// `session-info` with `<ice-state>failed</ice-state>` and
    /// `<bridge-session id/>` (`bridge_session_override` when given, else
    /// its current bridge session id; left out when neither is known).
    /// Returns the IQ's id, or `None` when it has no Jingle session.
    pub fn participant_send_ice_failed(
        &mut self,
        id: ParticipantId,
        bridge_session_override: Option<&str>,
    ) -> Option<String> {
        self.participant_sends(id, "reports ICE failed", |p| {
            p.send_ice_failed(bridge_session_override)
        })
    }

    /// Notes in the trace that participant `id` `what`, lets `send` queue
    /// its request, and sends what it queued now.
    fn participant_sends<T>(
        &mut self,
        id: ParticipantId,
        what: &str,
        send: impl FnOnce(&mut Participant) -> T,
    ) -> T {
        let at = self.clock.elapsed();
        self.trace
            .note(at, format!("harness: participant #{} {what}", id.0));
        let sent = send(&mut self.participants[id.0]);
        self.drain_participant(id.0);
        sent
    }

    /// The bridge session id participant `id` holds (`bridge-session/@id`
    /// of its last session-initiate).
    pub fn participant_bridge_session(&self, id: ParticipantId) -> Option<&str> {
        self.participants[id.0].jingle().bridge_session.as_deref()
    }

    /// The bridge's ICE transport participant `id` holds now, as
    /// `(ufrag, ice-generation)`: the offer's (generation 0), or that of the
    /// last in-place ICE restart it applied.
    pub fn participant_remote_ice(&self, id: ParticipantId) -> Option<(&str, u32)> {
        let jingle = self.participants[id.0].jingle();
        jingle
            .bridge_ufrag
            .as_deref()
            .map(|ufrag| (ufrag, jingle.ice_generation))
    }

    /// How many `transport-info` requests participant `id` received.
    pub fn participant_transport_infos(&self, id: ParticipantId) -> u32 {
        self.participants[id.0].jingle().transport_infos
    }

    /// The answers participant `id` got to its `session-info` requests (ICE
    /// restart requests and ICE-failed notices), in order: see
    /// [`JingleAnswer::is_result`], `condition` and `text`.
    pub fn participant_session_info_answers(&self, id: ParticipantId) -> Vec<&JingleAnswer> {
        self.participants[id.0].session_info_answers()
    }
}
