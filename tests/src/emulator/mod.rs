//! A Jitsi Videobridge stand-in, sans-IO: the logic shared by the
//! `bridge-emulator` binary (a real XMPP client) and the simulation (a
//! bridge without sockets).
//!
//! It joins the brewery and republishes its stats presence, answers the
//! health-check IQ and COLIBRI2 like JVB, and obeys [`Control`] commands.
//! (The signatures of [`BridgeOptions`], [`Control`] and the methods of
//! [`EmulatedBridge`] that existed first are the contract between the
//! emulator, the binary and the simulation: extend them, do not change
//! them.)
//!
//! Stanzas and time go in, stanzas and deadlines come out; there are no
//! sockets and no clock reads, and every id, ICE credential, SSRC and
//! fingerprint comes from [`BridgeOptions::seed`] (and the nickname).
//!
//! ```
//! use std::time::{Duration, Instant};
//! use focus_tests::emulator::{BridgeOptions, Control, EmulatedBridge};
//!
//! let t0 = Instant::now();
//! let mut jvb = EmulatedBridge::new(
//!     BridgeOptions::new("jvbbrewery@internal-muc.meet.jitsi", "jvb-a"),
//!     t0,
//! );
//! jvb.start(t0);
//! let join = jvb.poll_stanza().expect("the join presence");
//! assert_eq!(join.attr("to"), Some("jvbbrewery@internal-muc.meet.jitsi/jvb-a"));
//! assert_eq!(jvb.poll_timeout(), Some(t0 + Duration::from_secs(5)));
//! jvb.control(t0, Control::Drain(true)); // republished at once
//! assert!(jvb.poll_stanza().is_some());
//! ```
//!
//! In-place ICE restarts (`<transport ice-restart='true'/>`) follow JVB's
//! `IceTransport`: declined (no `transport`) when disabled
//! ([`Control::IceRestart`]), the unchanged transport without
//! `ice-generation` while the endpoint's ICE is not established, else
//! fresh credentials with the next `ice-generation` (the same ones again
//! while that restart awaits the participant's answer). Since no ICE
//! happens, "established" means the focus has relayed a participant
//! transport with `ufrag` and `pwd` to the endpoint, and a restart
//! completes as soon as the participant's answer (a transport tagged with
//! the restart's `ice-generation`) is relayed; one not answered within
//! [`BridgeOptions::ice_restart_timeout`] is given up. See
//! [`EmulatedBridge::endpoint_ice`].
//!
//! What it deliberately does not emulate: media (no ICE, DTLS, RTP or
//! SCTP ever happens; candidates point at 127.0.0.1 and nothing listens),
//! real load (stress is endpoints × `average_participant_stress` unless
//! fixed), the bridge's inactivity expiry of conferences and endpoints,
//! the shutdown IQs and the REST API of JVB, ICE failures, and an ICE
//! restart's new agent failing to connect after the participant answered
//! (it connects at once).

mod colibri2;
mod presence;
mod xml;

#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use minidom::Element;

pub use colibri2::{
    Conference, Connect, Endpoint, EndpointIce, HeaderExtension, IceRestartOutcome, LocalTransport,
    MediaSource, PayloadType, Relay, RemoteEndpoint, RemoteTransport, SCTP_PORT, Source, Totals,
};
pub use presence::{StatsSnapshot, presence_with_stats};

use xml::{
    NS_COLIBRI2, NS_HEALTH, NS_MUC_USER, NS_PING, NS_VERSION, bare, elem, error_reply, result,
};

/// How an emulated bridge presents itself.
#[derive(Debug, Clone)]
pub struct BridgeOptions {
    /// The brewery room, bare (`jvbbrewery@internal-muc.meet.jitsi`).
    pub brewery: String,
    /// The MUC nickname, unique per bridge: the bridge's id.
    pub nick: String,
    /// `region` stat.
    pub region: Option<String>,
    /// `relay_id` stat.
    pub relay_id: Option<String>,
    /// `version` stat.
    pub version: String,
    /// `release` stat.
    pub release: Option<String>,
    /// A fixed `stress_level`; `None` computes it from the load.
    pub stress: Option<f64>,
    /// `drain` stat.
    pub drain: bool,
    /// How often the stats presence is republished (JVB: 5 s).
    pub stats_interval: Duration,
    /// Seed for ICE credentials, ids and fingerprints.
    pub seed: u64,
    /// `average_participant_stress` stat, and the stress each local
    /// endpoint adds when the stress is not fixed (JVB's default 0.01).
    pub average_participant_stress: f64,
    /// The UDP port of the host candidates (JVB's single port, 10000).
    pub media_port: u16,
    /// `wss://host:port` the web-socket URLs start with; `None` sends no
    /// `web-socket` (a JVB with colibri web sockets disabled).
    pub web_socket_base: Option<String>,
    /// Reports unhealthy from the start (as [`Control::Healthy`]`(false)`).
    pub unhealthy: bool,
    /// Answers no IQ from the start (as [`Control::Unresponsive`]`(true)`).
    pub unresponsive: bool,
    /// Accepts in-place ICE restarts (JVB's
    /// `videobridge.ice.restart.enabled`, default true); see
    /// [`Control::IceRestart`].
    pub ice_restart: bool,
    /// How long an ICE restart waits for the participant's answer before
    /// it is given up (JVB's `videobridge.ice.restart.timeout`, 20 s);
    /// zero declines restarts, as JVB does.
    pub ice_restart_timeout: Duration,
}

impl BridgeOptions {
    /// A bridge `nick` in `brewery` with JVB's defaults, `drain=false`.
    pub fn new(brewery: &str, nick: &str) -> Self {
        Self {
            brewery: brewery.to_owned(),
            nick: nick.to_owned(),
            region: None,
            relay_id: None,
            version: "2.3.250-gemulator".to_owned(),
            release: None,
            stress: None,
            drain: false,
            stats_interval: Duration::from_secs(5),
            seed: 0,
            average_participant_stress: 0.01,
            media_port: 10000,
            web_socket_base: Some("wss://127.0.0.1:8443".to_owned()),
            unhealthy: false,
            unresponsive: false,
            ice_restart: true,
            ice_restart_timeout: Duration::from_secs(20),
        }
    }
}

/// What a test or operator tells a running bridge to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Control {
    /// Enter or leave drain mode (`drain` stat).
    Drain(bool),
    /// Start a graceful shutdown (`graceful_shutdown=true`).
    GracefulShutdown,
    /// Enter the final shutdown phase (`shutting_down=true`).
    ShuttingDown,
    /// Report healthy or not: the `healthy` stat and the health-check
    /// answer (`internal-server-error` when unhealthy).
    Healthy(bool),
    /// Stop (true) or resume (false) answering IQs at all.
    Unresponsive(bool),
    /// Report this stress (`None`: computed from the load again).
    Stress(Option<f64>),
    /// Accept (true, the default) or decline (false) in-place ICE
    /// restarts: a declined one is answered with the `endpoint` and no
    /// `transport`, as JVB with `videobridge.ice.restart.enabled=false`.
    /// Nothing is republished (no stat changes).
    IceRestart(bool),
}

impl Control {
    /// Parses a control line of the `bridge-emulator` binary: `drain
    /// on|off`, `graceful-shutdown`, `shutting-down`, `healthy on|off`,
    /// `unresponsive on|off`, `stress 0.7|auto`, `ice-restart on|off`.
    pub fn parse(line: &str) -> Option<Control> {
        let mut words = line.split_whitespace();
        let command = words.next()?;
        let arg = words.next();
        if words.next().is_some() {
            return None;
        }
        let on_off = |a: Option<&str>| match a? {
            "on" | "true" | "yes" | "1" => Some(true),
            "off" | "false" | "no" | "0" => Some(false),
            _ => None,
        };
        match (command, arg) {
            ("drain", a) => on_off(a).map(Control::Drain),
            ("graceful-shutdown", None) => Some(Control::GracefulShutdown),
            ("shutting-down", None) => Some(Control::ShuttingDown),
            ("healthy", a) => on_off(a).map(Control::Healthy),
            ("unresponsive", a) => on_off(a).map(Control::Unresponsive),
            ("ice-restart", a) => on_off(a).map(Control::IceRestart),
            ("stress", Some("auto")) => Some(Control::Stress(None)),
            ("stress", Some(v)) => v
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map(|s| Control::Stress(Some(s))),
            _ => None,
        }
    }
}

/// Something notable that happened, for logs (the binary prints them).
/// At most [`EmulatedBridge::MAX_EVENTS`] are kept; older ones are dropped.
#[derive(Debug, Clone, PartialEq)]
pub enum EmulatorEvent {
    /// The MUC reflected our presence: we are in the brewery.
    Joined,
    /// The MUC refused the join (presence error): the condition.
    JoinFailed(String),
    /// We left the brewery, or were removed from it (`kicked` for 307).
    Left {
        /// Status 307 (kicked) was given.
        kicked: bool,
    },
    /// A stats presence was sent (the first one is the join).
    Published,
    /// A health check was answered.
    HealthCheck {
        /// `result` (true) or `internal-server-error` (false).
        healthy: bool,
    },
    /// An IQ got no answer because the bridge is unresponsive.
    IqDropped {
        /// The IQ's id.
        id: String,
    },
    /// An IQ for another entity was ignored.
    IqNotForUs {
        /// Its `to`.
        to: String,
    },
    /// An unknown IQ was refused with `service-unavailable`.
    IqUnsupported {
        /// The payload's `{ns}name`.
        payload: String,
    },
    /// A control command was applied.
    ControlApplied(Control),
    /// COLIBRI2: conference created.
    ConferenceCreated {
        /// Its meeting id.
        meeting_id: String,
        /// `name`.
        name: Option<String>,
    },
    /// COLIBRI2: conference gone.
    ConferenceExpired {
        /// Its meeting id.
        meeting_id: String,
        /// By `expire='true'` (else emptied).
        explicit: bool,
    },
    /// COLIBRI2: endpoint created.
    EndpointCreated {
        /// Conference.
        meeting_id: String,
        /// Endpoint id.
        endpoint: String,
    },
    /// COLIBRI2: endpoint expired.
    EndpointExpired {
        /// Conference.
        meeting_id: String,
        /// Endpoint id.
        endpoint: String,
    },
    /// COLIBRI2: relay created.
    RelayCreated {
        /// Conference.
        meeting_id: String,
        /// Relay id.
        relay: String,
    },
    /// COLIBRI2: relay expired.
    RelayExpired {
        /// Conference.
        meeting_id: String,
        /// Relay id.
        relay: String,
    },
    /// COLIBRI2: an in-place ICE restart was asked for, answered by the
    /// participant, or given up.
    IceRestart {
        /// Conference.
        meeting_id: String,
        /// Endpoint id.
        endpoint: String,
        /// What became of it.
        outcome: IceRestartOutcome,
    },
    /// COLIBRI2: a request answered with an error.
    Colibri2Error {
        /// Conference (as requested).
        meeting_id: String,
        /// The stanza error condition.
        condition: String,
        /// Its text.
        text: String,
    },
}

/// SplitMix64: small, seedable, good enough for ids.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    fn new(seed: u64, salt: &str) -> Self {
        // FNV-1a of the nickname, so bridges with the same seed differ.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in salt.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        Rng(seed ^ h)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn chars(&mut self, n: usize, alphabet: &[u8]) -> String {
        (0..n)
            .map(|_| {
                let len = u64::try_from(alphabet.len()).unwrap_or(1);
                let i = usize::try_from(self.next_u64() % len).unwrap_or(0);
                char::from(alphabet[i])
            })
            .collect()
    }

    pub(crate) fn hex(&mut self, n: usize) -> String {
        self.chars(n, b"0123456789abcdef")
    }

    pub(crate) fn base32(&mut self, n: usize) -> String {
        self.chars(n, b"0123456789abcdefghijklmnopqrstuv")
    }

    /// A non-zero 32-bit SSRC.
    pub(crate) fn ssrc(&mut self) -> u32 {
        loop {
            let v = u32::try_from(self.next_u64() >> 32).unwrap_or(1);
            if v != 0 {
                return v;
            }
        }
    }
}

/// Where the bridge is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    New,
    Started,
    Stopped,
}

/// One emulated bridge. See the [module docs](self).
#[derive(Debug)]
pub struct EmulatedBridge {
    options: BridgeOptions,
    out: std::collections::VecDeque<Element>,
    created: Instant,
    own_jid: Option<String>,
    phase: Phase,
    joined: bool,
    join_sent: bool,
    next_publish: Option<Instant>,
    drain: bool,
    graceful_shutdown: bool,
    shutting_down: bool,
    healthy: bool,
    unresponsive: bool,
    ice_restart: bool,
    stress: Option<f64>,
    rng: Rng,
    fingerprint: String,
    colibri: colibri2::Colibri,
    events: VecDeque<EmulatorEvent>,
    presences_sent: u64,
    health_checks: u64,
    iqs_dropped: u64,
}

impl EmulatedBridge {
    /// How many [`EmulatorEvent`]s are kept for [`EmulatedBridge::poll_event`].
    pub const MAX_EVENTS: usize = 1024;

    /// A bridge that has not joined yet; call [`EmulatedBridge::start`].
    pub fn new(options: BridgeOptions, now: Instant) -> Self {
        let mut rng = Rng::new(options.seed, &options.nick);
        let fingerprint = (0..32)
            .map(|_| format!("{:02X}", rng.next_u64() & 0xff))
            .collect::<Vec<_>>()
            .join(":");
        Self {
            drain: options.drain,
            healthy: !options.unhealthy,
            unresponsive: options.unresponsive,
            ice_restart: options.ice_restart,
            stress: options.stress,
            options,
            out: Default::default(),
            created: now,
            own_jid: None,
            phase: Phase::New,
            joined: false,
            join_sent: false,
            next_publish: None,
            graceful_shutdown: false,
            shutting_down: false,
            rng,
            fingerprint,
            colibri: Default::default(),
            events: VecDeque::new(),
            presences_sent: 0,
            health_checks: 0,
            iqs_dropped: 0,
        }
    }

    /// The options it runs with.
    pub fn options(&self) -> &BridgeOptions {
        &self.options
    }

    /// Its occupant JID in the brewery: the address the focus uses.
    pub fn occupant_jid(&self) -> String {
        format!("{}/{}", self.options.brewery, self.options.nick)
    }

    /// Tells the bridge its own (bound) JID, e.g. `jvb@auth.meet.jitsi/x`.
    /// IQs are then accepted only when addressed to it, its bare JID or
    /// the occupant JID; until then every IQ is taken as ours (the server
    /// only delivers what is addressed to us).
    pub fn set_own_jid(&mut self, jid: &str) {
        self.own_jid = Some(jid.to_owned());
    }

    /// Joins the brewery (queues the first stats presence) once the XMPP
    /// session is up.
    pub fn start(&mut self, now: Instant) {
        if self.phase != Phase::New {
            return;
        }
        self.phase = Phase::Started;
        self.publish(now);
        self.next_publish = Some(now + self.interval());
    }

    /// Leaves the brewery (unavailable presence), as on a clean stop.
    pub fn stop(&mut self, _now: Instant) {
        if self.phase == Phase::Started {
            self.out
                .push_back(presence::leave_presence(&self.occupant_jid()));
            if self.joined {
                self.joined = false;
                self.event(EmulatorEvent::Left { kicked: false });
            }
        }
        self.phase = Phase::Stopped;
        self.next_publish = None;
    }

    /// A stanza that arrived for the bridge (IQs to its occupant JID or
    /// its own JID, brewery presence).
    pub fn handle_stanza(&mut self, now: Instant, stanza: &Element) {
        if self.phase == Phase::Stopped {
            return;
        }
        match stanza.name() {
            "iq" => self.handle_iq(now, stanza),
            "presence" => self.handle_presence(stanza),
            _ => {}
        }
    }

    /// Fires what is due at `now` (stats republishing, giving up ICE
    /// restarts the participant did not answer).
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.phase == Phase::Stopped {
            return;
        }
        let mut events = Vec::new();
        self.colibri.handle_timeout(now, &mut events);
        for e in events {
            self.event(e);
        }
        let Some(due) = self.next_publish else {
            return;
        };
        if now < due {
            return;
        }
        self.publish(now);
        let interval = self.interval();
        let mut next = due + interval;
        while next <= now {
            next += interval;
        }
        self.next_publish = Some(next);
    }

    /// When [`EmulatedBridge::handle_timeout`] next has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.phase == Phase::Stopped {
            return None;
        }
        match (self.next_publish, self.colibri.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next stanza to send, if any.
    pub fn poll_stanza(&mut self) -> Option<Element> {
        self.out.pop_front()
    }

    /// Applies a control command.
    pub fn control(&mut self, now: Instant, command: Control) {
        match &command {
            Control::Drain(on) => self.drain = *on,
            Control::GracefulShutdown => self.graceful_shutdown = true,
            Control::ShuttingDown => self.shutting_down = true,
            Control::Healthy(on) => self.healthy = *on,
            Control::Unresponsive(on) => self.unresponsive = *on,
            Control::Stress(s) => {
                self.stress = s.filter(|v| v.is_finite() && *v >= 0.0);
            }
            Control::IceRestart(on) => self.ice_restart = *on,
        }
        let republish = !matches!(command, Control::IceRestart(_));
        self.event(EmulatorEvent::ControlApplied(command));
        if republish && self.phase == Phase::Started {
            self.publish(now);
        }
    }

    // ----- additions: inspection ------------------------------------------

    /// The next notable event (for logs), oldest first.
    pub fn poll_event(&mut self) -> Option<EmulatorEvent> {
        self.events.pop_front()
    }

    /// Whether the MUC has reflected our join (and we have not left).
    pub fn is_joined(&self) -> bool {
        self.joined
    }

    /// Whether [`EmulatedBridge::start`] was called and not
    /// [`EmulatedBridge::stop`].
    pub fn is_running(&self) -> bool {
        self.phase == Phase::Started
    }

    /// The stats the next presence will carry.
    pub fn stats(&self, now: Instant) -> StatsSnapshot {
        let conferences = &self.colibri.conferences;
        let local: usize = conferences.values().map(|c| c.endpoints.len()).sum();
        let visitors: usize = conferences
            .values()
            .map(|c| c.endpoints.values().filter(|e| e.visitor).count())
            .sum();
        let remote: usize = conferences
            .values()
            .flat_map(|c| c.relays.values())
            .map(|r| r.endpoints.len())
            .sum();
        StatsSnapshot {
            stress_level: self.stress_level(),
            average_participant_stress: self.options.average_participant_stress,
            region: self.options.region.clone(),
            relay_id: self.options.relay_id.clone(),
            version: self.options.version.clone(),
            release: self.options.release.clone(),
            graceful_shutdown: self.graceful_shutdown,
            shutting_down: self.shutting_down,
            drain: self.drain,
            healthy: self.healthy,
            conferences: conferences.len(),
            participants: local - visitors,
            visitors,
            local_endpoints: local,
            octo_endpoints: remote,
            endpoints: local + remote,
            octo_conferences: conferences
                .values()
                .filter(|c| !c.relays.is_empty())
                .count(),
            relays: conferences.values().map(|c| c.relays.len()).sum(),
            largest_conference: conferences
                .values()
                .map(|c| c.endpoints.len())
                .max()
                .unwrap_or(0),
            total_conferences_created: self.colibri.totals.conferences_created,
            total_conferences_completed: self.colibri.totals.conferences_completed,
            total_participants: self.colibri.totals.endpoints_created,
            uptime: now.saturating_duration_since(self.created),
        }
    }

    /// The `stress_level` it reports now: the fixed value, or local
    /// endpoints × `average_participant_stress`.
    pub fn stress_level(&self) -> f64 {
        self.stress.unwrap_or_else(|| {
            let endpoints = self.endpoint_count();
            f64::from(u32::try_from(endpoints).unwrap_or(u32::MAX))
                * self.options.average_participant_stress
        })
    }

    /// `drain`.
    pub fn is_draining(&self) -> bool {
        self.drain
    }

    /// `graceful_shutdown`.
    pub fn is_in_graceful_shutdown(&self) -> bool {
        self.graceful_shutdown
    }

    /// `shutting_down`.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down
    }

    /// `healthy`.
    pub fn is_healthy(&self) -> bool {
        self.healthy
    }

    /// Whether IQs are being dropped.
    pub fn is_unresponsive(&self) -> bool {
        self.unresponsive
    }

    /// Whether in-place ICE restarts are accepted ([`Control::IceRestart`]).
    pub fn is_ice_restart_enabled(&self) -> bool {
        self.ice_restart
    }

    /// Stats presences sent so far (the join included).
    pub fn presences_sent(&self) -> u64 {
        self.presences_sent
    }

    /// Health checks answered (either way).
    pub fn health_checks_answered(&self) -> u64 {
        self.health_checks
    }

    /// IQs left unanswered because the bridge was unresponsive.
    pub fn iqs_dropped(&self) -> u64 {
        self.iqs_dropped
    }

    /// The bridge-wide DTLS fingerprint it hands out.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Every conference, by meeting id.
    pub fn conferences(&self) -> Vec<&Conference> {
        self.colibri.conferences.values().collect()
    }

    /// The conference with `meeting_id`.
    pub fn conference(&self, meeting_id: &str) -> Option<&Conference> {
        self.colibri.conferences.get(meeting_id)
    }

    /// The local endpoints of `meeting_id`, by id (empty when unknown).
    pub fn endpoints(&self, meeting_id: &str) -> Vec<&Endpoint> {
        self.conference(meeting_id)
            .map(|c| c.endpoints.values().collect())
            .unwrap_or_default()
    }

    /// One local endpoint.
    pub fn endpoint(&self, meeting_id: &str, id: &str) -> Option<&Endpoint> {
        self.conference(meeting_id)?.endpoints.get(id)
    }

    /// The ICE state of local endpoint `id` of `meeting_id`: the
    /// `ice-generation` and ufrag it hands out now (generation 0 before
    /// any restart), whether its ICE counts as established and a restart
    /// is pending, and the latest `ice-generation` of a participant
    /// transport the focus relayed to it.
    pub fn endpoint_ice(&self, meeting_id: &str, id: &str) -> Option<EndpointIce> {
        self.endpoint(meeting_id, id).map(Endpoint::ice)
    }

    /// Drops local endpoint `id` from whichever conference holds it without
    /// telling the focus, as JVB's inactivity expiry does; later requests
    /// naming it are answered `unknown_endpoint`. Returns whether there was
    /// one.
    pub fn forget_endpoint(&mut self, id: &str) -> bool {
        let Some(conference) = self
            .colibri
            .conferences
            .values_mut()
            .find(|c| c.endpoints.contains_key(id))
        else {
            return false;
        };
        conference.endpoints.remove(id);
        let meeting_id = conference.meeting_id.clone();
        self.event(EmulatorEvent::EndpointExpired {
            meeting_id,
            endpoint: id.to_owned(),
        });
        true
    }

    /// The relays of `meeting_id`, by relay id (empty when unknown).
    pub fn relays(&self, meeting_id: &str) -> Vec<&Relay> {
        self.conference(meeting_id)
            .map(|c| c.relays.values().collect())
            .unwrap_or_default()
    }

    /// One relay.
    pub fn relay(&self, meeting_id: &str, id: &str) -> Option<&Relay> {
        self.conference(meeting_id)?.relays.get(id)
    }

    /// How many conferences it has.
    pub fn conference_count(&self) -> usize {
        self.colibri.conferences.len()
    }

    /// How many local endpoints it has, over all conferences.
    pub fn endpoint_count(&self) -> usize {
        self.colibri
            .conferences
            .values()
            .map(|c| c.endpoints.len())
            .sum()
    }

    /// How many relays it has, over all conferences.
    pub fn relay_count(&self) -> usize {
        self.colibri
            .conferences
            .values()
            .map(|c| c.relays.len())
            .sum()
    }

    /// COLIBRI2 counters since it started.
    pub fn totals(&self) -> Totals {
        self.colibri.totals
    }

    // ----- internals ---------------------------------------------------------

    fn interval(&self) -> Duration {
        // A zero interval would spin; JVB's minimum is far above 1 ms.
        self.options.stats_interval.max(Duration::from_millis(1))
    }

    fn event(&mut self, e: EmulatorEvent) {
        if self.events.len() >= Self::MAX_EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(e);
    }

    fn publish(&mut self, now: Instant) {
        let join = !self.join_sent;
        self.join_sent = true;
        let stats = self.stats(now);
        self.out
            .push_back(presence::stats_presence(&self.occupant_jid(), join, &stats));
        self.presences_sent += 1;
        self.event(EmulatorEvent::Published);
    }

    fn handle_presence(&mut self, p: &Element) {
        if p.attr("from") != Some(self.occupant_jid().as_str()) {
            return;
        }
        match p.attr("type") {
            None => {
                if !self.joined {
                    self.joined = true;
                    self.event(EmulatorEvent::Joined);
                }
            }
            Some("unavailable") => {
                let kicked = p.get_child("x", NS_MUC_USER).is_some_and(|x| {
                    x.children()
                        .any(|c| c.name() == "status" && c.attr("code") == Some("307"))
                });
                if self.joined {
                    self.joined = false;
                    self.event(EmulatorEvent::Left { kicked });
                }
            }
            Some("error") => {
                let condition = p
                    .get_child("error", xml::NS_CLIENT)
                    .and_then(|e| e.children().find(|c| c.ns() == xml::NS_STANZAS))
                    .map(|c| c.name().to_owned())
                    .unwrap_or_else(|| "undefined-condition".to_owned());
                self.joined = false;
                // Allow a later `start` of a fresh emulator; this one will
                // keep publishing, as JVB's MUC client would keep trying.
                self.join_sent = false;
                self.event(EmulatorEvent::JoinFailed(condition));
            }
            Some(_) => {}
        }
    }

    /// Whether an IQ addressed to `to` is for this bridge.
    fn is_for_us(&self, to: Option<&str>) -> bool {
        let Some(to) = to else {
            return true;
        };
        if to == self.occupant_jid() {
            return true;
        }
        match &self.own_jid {
            Some(own) => to == own || to == bare(own),
            None => true,
        }
    }

    fn handle_iq(&mut self, now: Instant, iq: &Element) {
        if !matches!(iq.attr("type"), Some("get" | "set")) {
            return; // results and errors: we never ask anything
        }
        if !self.is_for_us(iq.attr("to")) {
            let to = iq.attr("to").unwrap_or_default().to_owned();
            self.event(EmulatorEvent::IqNotForUs { to });
            return;
        }
        if self.unresponsive {
            self.iqs_dropped += 1;
            let id = iq.attr("id").unwrap_or_default().to_owned();
            self.event(EmulatorEvent::IqDropped { id });
            return;
        }
        let set = iq.attr("type") == Some("set");
        let payload = iq.children().next();
        let answer = match payload {
            Some(p) if p.is("healthcheck", NS_HEALTH) => {
                self.health_checks += 1;
                let healthy = self.healthy;
                self.event(EmulatorEvent::HealthCheck { healthy });
                if healthy {
                    result(iq)
                } else {
                    error_reply(
                        iq,
                        "internal-server-error",
                        Some("Health check failed: the emulated bridge was told to be unhealthy"),
                        Vec::new(),
                    )
                }
            }
            Some(p) if !set && p.is("ping", NS_PING) => result(iq),
            Some(p) if !set && p.is("query", NS_VERSION) => xml::reply(iq, "result")
                .append(
                    elem("query", NS_VERSION)
                        .append(elem("name", NS_VERSION).append("JVB"))
                        .append(elem("version", NS_VERSION).append(self.options.version.as_str()))
                        .append(elem("os", NS_VERSION).append("bridge-emulator")),
                )
                .build(),
            Some(p) if set && p.is("conference-modify", NS_COLIBRI2) => {
                let mut events = Vec::new();
                let mut ctx = colibri2::Ctx {
                    rng: &mut self.rng,
                    server_id: &self.options.nick,
                    media_port: self.options.media_port,
                    web_socket_base: self.options.web_socket_base.as_deref(),
                    fingerprint: &self.fingerprint,
                    refuse_create: self.graceful_shutdown || self.shutting_down,
                    ice_restart: self.ice_restart,
                    ice_restart_timeout: self.options.ice_restart_timeout,
                    now,
                    events: &mut events,
                };
                let answer = self.colibri.handle(&mut ctx, iq, p);
                for e in events {
                    self.event(e);
                }
                answer
            }
            other => {
                let payload = other
                    .map(|p| format!("{{{}}}{}", p.ns(), p.name()))
                    .unwrap_or_default();
                self.event(EmulatorEvent::IqUnsupported { payload });
                error_reply(iq, "service-unavailable", None, Vec::new())
            }
        };
        self.out.push_back(answer);
    }
}
