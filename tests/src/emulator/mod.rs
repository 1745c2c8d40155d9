//! A Jitsi Videobridge stand-in, sans-IO: the logic shared by the
//! `bridge-emulator` binary (a real XMPP client) and the simulation (a
//! bridge without sockets).
//!
//! It joins the brewery and republishes its stats presence, answers the
//! health-check IQ and COLIBRI2 like JVB, and obeys [`Control`] commands.
//! (Being written; see the bridges issue. The signatures below are the
//! contract between the emulator, the binary and the simulation: extend
//! them, do not change them.)

use std::time::{Duration, Instant};

use minidom::Element;

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
}

/// One emulated bridge. See the [module docs](self).
#[derive(Debug)]
pub struct EmulatedBridge {
    options: BridgeOptions,
    out: std::collections::VecDeque<Element>,
}

impl EmulatedBridge {
    /// A bridge that has not joined yet; call [`EmulatedBridge::start`].
    pub fn new(options: BridgeOptions, _now: Instant) -> Self {
        Self {
            options,
            out: Default::default(),
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

    /// Joins the brewery (queues the first stats presence) once the XMPP
    /// session is up.
    pub fn start(&mut self, _now: Instant) {}

    /// Leaves the brewery (unavailable presence), as on a clean stop.
    pub fn stop(&mut self, _now: Instant) {}

    /// A stanza that arrived for the bridge (IQs to its occupant JID or
    /// its own JID, brewery presence).
    pub fn handle_stanza(&mut self, _now: Instant, _stanza: &Element) {}

    /// Fires what is due at `now` (stats republishing).
    pub fn handle_timeout(&mut self, _now: Instant) {}

    /// When [`EmulatedBridge::handle_timeout`] next has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    /// The next stanza to send, if any.
    pub fn poll_stanza(&mut self) -> Option<Element> {
        self.out.pop_front()
    }

    /// Applies a control command.
    pub fn control(&mut self, _now: Instant, _command: Control) {}
}
