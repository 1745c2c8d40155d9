//! Simulated Jitsi Videobridges: an [`EmulatedBridge`] (the sans-IO JVB
//! stand-in of [`crate::emulator`]) behind a session of its own.
//!
//! A bridge logs in as `jvb@auth.meet.jitsi/<nick>` (the `jvb` account is a
//! server admin in [`ServerConfig::default`](super::ServerConfig), so it
//! may create the brewery room), then [`EmulatedBridge::start`] joins the
//! brewery. From then on its stanzas travel the network like a
//! participant's (same latency and faults, same trace lines), stanzas for
//! it reach [`EmulatedBridge::handle_stanza`], and its
//! [`EmulatedBridge::poll_timeout`] is on the timeline like a participant's
//! timer. Like the focus's own periodic timers, a bridge's stats
//! republishing does not keep [`Sim::is_idle`] false.
//!
//! The focus only reads the brewery when `jicofo.bridge.brewery-jid` is
//! set: see [`SimBuilder::with_brewery`](super::SimBuilder::with_brewery).

use std::collections::BTreeSet;
use std::time::Instant;

use crate::emulator::{BridgeOptions, Control, EmulatedBridge, EndpointIce};

use super::server::SessionId;
use super::{Peer, Sim};

/// The bridge brewery room [`SimBuilder::with_brewery`](super::SimBuilder::with_brewery)
/// configures (docker-jitsi-meet's).
pub const BREWERY_JID: &str = "jvbbrewery@internal-muc.meet.jitsi";

/// The account every simulated bridge logs in with (a server admin).
pub const BRIDGE_ACCOUNT: &str = "jvb@auth.meet.jitsi";

/// Identifies a bridge of the simulation; it keeps its id across
/// [`Sim::restart_bridge`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BridgeId(pub usize);

/// Where a simulated bridge is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BridgeState {
    /// Connected and running.
    Running,
    /// Left the brewery and closed its stream ([`Sim::stop_bridge`]).
    Stopped,
    /// Its connection dropped without a goodbye ([`Sim::crash_bridge`]).
    Crashed,
}

/// One bridge and its connection.
#[derive(Debug)]
struct SimBridge {
    emulator: EmulatedBridge,
    session: SessionId,
    state: BridgeState,
    /// The armed timer (what `poll_timeout` said last).
    timer: Option<Instant>,
}

/// Every bridge of a simulation and their timers.
#[derive(Debug, Default)]
pub(crate) struct Bridges {
    list: Vec<SimBridge>,
    timers: BTreeSet<(Instant, usize)>,
}

impl Bridges {
    /// The earliest bridge timer.
    pub(crate) fn next_timer(&self) -> Option<Instant> {
        self.timers.first().map(|(at, _)| *at)
    }

    /// Takes the earliest bridge timer due at `now`.
    fn pop_due(&mut self, now: Instant) -> Option<usize> {
        let &(at, i) = self.timers.first()?;
        if at > now {
            return None;
        }
        self.timers.remove(&(at, i));
        self.list[i].timer = None;
        Some(i)
    }

    fn disarm(&mut self, i: usize) {
        if let Some(old) = self.list[i].timer.take() {
            self.timers.remove(&(old, i));
        }
    }
}

impl Sim {
    // ----- the timeline hooks ---------------------------------------------

    /// Fires the earliest bridge timer due now, if any; whether one was.
    pub(crate) fn fire_bridge_timer(&mut self) -> bool {
        let now = self.clock.now();
        let Some(i) = self.bridges.pop_due(now) else {
            return false;
        };
        if self.bridges.list[i].state == BridgeState::Running {
            self.bridges.list[i].emulator.handle_timeout(now);
            self.drain_bridge(i);
        }
        true
    }

    /// A stanza reached `session`, a session of bridge `i`.
    pub(crate) fn bridge_stanza(
        &mut self,
        i: usize,
        session: SessionId,
        stanza: &minidom::Element,
    ) {
        let b = &self.bridges.list[i];
        if b.session != session || b.state != BridgeState::Running {
            return;
        }
        let now = self.clock.now();
        self.bridges.list[i].emulator.handle_stanza(now, stanza);
        self.drain_bridge(i);
    }

    /// The server closed `session`, a session of bridge `i` (conflict,
    /// stream error).
    pub(crate) fn bridge_closed(&mut self, i: usize, session: SessionId) {
        if self.bridges.list[i].session != session {
            return;
        }
        if self.bridges.list[i].state == BridgeState::Running {
            self.bridges.list[i].state = BridgeState::Crashed;
        }
        self.bridges.disarm(i);
    }

    /// Sends what bridge `i` wants sent and re-arms its timer.
    fn drain_bridge(&mut self, i: usize) {
        let session = self.bridges.list[i].session;
        while let Some(stanza) = self.bridges.list[i].emulator.poll_stanza() {
            self.send_up(session, stanza);
        }
        let wanted = match self.bridges.list[i].state {
            BridgeState::Running => self.bridges.list[i].emulator.poll_timeout(),
            BridgeState::Stopped | BridgeState::Crashed => None,
        };
        if self.bridges.list[i].timer != wanted {
            self.bridges.disarm(i);
            if let Some(at) = wanted {
                self.bridges.timers.insert((at, i));
            }
            self.bridges.list[i].timer = wanted;
        }
    }

    /// Logs a new session in for an emulator and starts it.
    fn log_bridge_in(&mut self, options: BridgeOptions) -> (EmulatedBridge, SessionId) {
        let jid = self.login_jid(&format!("{BRIDGE_ACCOUNT}/{}", options.nick));
        let (session, routed) = self.server.open_session(&jid);
        self.net.add_link(session, None, false);
        let now = self.clock.now();
        let at = self.clock.elapsed();
        self.trace
            .note(at, format!("bridge {} logged in as {jid}", options.nick));
        self.apply(routed);
        (EmulatedBridge::new(options, now), session)
    }

    // ----- the scenario API -----------------------------------------------

    /// Logs a bridge in as `jvb@auth.meet.jitsi/<nick>` and starts it: it
    /// joins `options.brewery` and republishes its stats from then on.
    /// `options.seed` is used as given (give bridges distinct seeds).
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use focus_tests::sim::{BREWERY_JID, BridgeOptions, Sim};
    ///
    /// let mut sim = Sim::builder().with_brewery().build();
    /// let jvb = sim.add_bridge(BridgeOptions::new(BREWERY_JID, "jvb-a"));
    /// sim.run_for(Duration::from_secs(1));
    /// assert_eq!(sim.focus().bridges().map(|r| r.len()), Some(1));
    /// sim.crash_bridge(jvb); // the server sends the MUC unavailable
    /// ```
    ///
    /// # Panics
    ///
    /// When the nickname is not a valid JID resource.
    pub fn add_bridge(&mut self, options: BridgeOptions) -> BridgeId {
        let i = self.bridges.list.len();
        let (emulator, session) = self.log_bridge_in(options);
        self.peers.insert(session, Peer::Bridge(i));
        self.bridges.list.push(SimBridge {
            emulator,
            session,
            state: BridgeState::Running,
            timer: None,
        });
        self.start_bridge(i);
        BridgeId(i)
    }

    fn start_bridge(&mut self, i: usize) {
        let now = self.clock.now();
        self.bridges.list[i].emulator.start(now);
        self.drain_bridge(i);
    }

    /// Bridge `id` (its current emulator, after a restart the new one).
    ///
    /// # Panics
    ///
    /// On an id this simulation did not hand out.
    pub fn bridge(&self, id: BridgeId) -> &EmulatedBridge {
        &self.bridges.list[id.0].emulator
    }

    /// The ids of every bridge added, in order.
    pub fn bridge_ids(&self) -> Vec<BridgeId> {
        (0..self.bridges.list.len()).map(BridgeId).collect()
    }

    /// Where bridge `id` is in its life.
    pub fn bridge_state(&self, id: BridgeId) -> BridgeState {
        self.bridges.list[id.0].state
    }

    /// The current session of bridge `id`.
    pub fn bridge_session(&self, id: BridgeId) -> SessionId {
        self.bridges.list[id.0].session
    }

    /// Bridge `id`'s occupant JID in the brewery (the focus's key for it).
    pub fn bridge_jid(&self, id: BridgeId) -> String {
        self.bridges.list[id.0].emulator.occupant_jid()
    }

    /// The ICE state of endpoint `endpoint` (the participant's nickname) in
    /// conference `meeting_id` on bridge `id` (see
    /// [`EmulatedBridge::endpoint_ice`]); `None` when the bridge has no such
    /// endpoint.
    pub fn bridge_endpoint_ice(
        &self,
        id: BridgeId,
        meeting_id: &str,
        endpoint: &str,
    ) -> Option<EndpointIce> {
        self.bridge(id).endpoint_ice(meeting_id, endpoint)
    }

    /// Bridge `id` silently drops endpoint `endpoint` (the participant's
    /// nickname), as JVB's inactivity expiry does (see
    /// [`EmulatedBridge::forget_endpoint`]); returns whether it had one.
    pub fn bridge_forget_endpoint(&mut self, id: BridgeId, endpoint: &str) -> bool {
        let at = self.clock.elapsed();
        let nick = self.bridges.list[id.0].emulator.options().nick.clone();
        self.trace.note(
            at,
            format!("harness: bridge {nick} forgets endpoint {endpoint}"),
        );
        self.bridges.list[id.0].emulator.forget_endpoint(endpoint)
    }

    /// Tells bridge `id` to do something (drain, shut down, be unhealthy,
    /// stop answering, change its stress, decline ICE restarts); what it
    /// sends goes out now.
    /// Ignored once the bridge is stopped or crashed.
    pub fn control_bridge(&mut self, id: BridgeId, command: Control) {
        let i = id.0;
        let at = self.clock.elapsed();
        let nick = self.bridges.list[i].emulator.options().nick.clone();
        self.trace
            .note(at, format!("harness: bridge {nick}: {command:?}"));
        if self.bridges.list[i].state != BridgeState::Running {
            return;
        }
        let now = self.clock.now();
        self.bridges.list[i].emulator.control(now, command);
        self.drain_bridge(i);
    }

    /// Bridge `id` stops cleanly: it leaves the brewery (unavailable
    /// presence), then closes its stream.
    pub fn stop_bridge(&mut self, id: BridgeId) {
        let i = id.0;
        if self.bridges.list[i].state != BridgeState::Running {
            return;
        }
        let at = self.clock.elapsed();
        let nick = self.bridges.list[i].emulator.options().nick.clone();
        self.trace.note(at, format!("harness: stop bridge {nick}"));
        let now = self.clock.now();
        self.bridges.list[i].emulator.stop(now);
        self.bridges.list[i].state = BridgeState::Stopped;
        self.drain_bridge(i);
        let session = self.bridges.list[i].session;
        self.close_gracefully(session);
    }

    /// Bridge `id`'s connection drops without a goodbye: the server sends
    /// the MUC unavailable (`Disconnected: connection closed`), as Prosody
    /// does for a dropped connection.
    pub fn crash_bridge(&mut self, id: BridgeId) {
        let i = id.0;
        if self.bridges.list[i].state != BridgeState::Running {
            return;
        }
        self.bridges.list[i].state = BridgeState::Crashed;
        self.bridges.disarm(i);
        let session = self.bridges.list[i].session;
        self.cut(session);
    }

    /// Bridge `id` restarts: if running, its connection drops (as
    /// [`Sim::crash_bridge`]); then a fresh emulator with the same options
    /// logs in again (a new session, same JID) and rejoins the brewery.
    pub fn restart_bridge(&mut self, id: BridgeId) {
        let options = self.bridges.list[id.0].emulator.options().clone();
        self.restart_bridge_with(id, options);
    }

    /// [`Sim::restart_bridge`] with new options (another version, region,
    /// nickname…).
    pub fn restart_bridge_with(&mut self, id: BridgeId, options: BridgeOptions) {
        let i = id.0;
        self.crash_bridge(id);
        self.bridges.disarm(i);
        let (emulator, session) = self.log_bridge_in(options);
        self.peers.insert(session, Peer::Bridge(i));
        self.bridges.list[i] = SimBridge {
            emulator,
            session,
            state: BridgeState::Running,
            timer: None,
        };
        self.start_bridge(i);
    }
}
