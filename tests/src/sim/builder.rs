//! [`SimBuilder`]: seed, focus configuration, faults and server layout of a
//! simulation.

use std::sync::Arc;

use focus_proto::config::Config;

use super::Sim;
use super::bridge::BREWERY_JID;
use super::muc::MucOptions;
use super::net::Faults;
use super::server::ServerConfig;

/// The focus configuration every simulation starts from: the focus account
/// `focus@auth.meet.jitsi` behind the `focus.meet.jitsi` client proxy, as
/// `scripts/prosody/start.sh` lays out the server. Scenario HOCON given to
/// [`SimBuilder::config_hocon`] is merged over it.
pub const BASE_HOCON: &str = r#"
jicofo {
  xmpp {
    client {
      hostname = "meet.jitsi"
      xmpp-domain = "meet.jitsi"
      domain = "auth.meet.jitsi"
      username = "focus"
      password = "focuspass"
      conference-muc-jid = "muc.meet.jitsi"
      client-proxy = "focus.meet.jitsi"
    }
  }
}
"#;

/// Sets up a [`Sim`].
#[derive(Debug, Clone)]
pub struct SimBuilder {
    seed: [u8; 32],
    config: Option<Config>,
    hocon: Vec<String>,
    faults: Faults,
    with_focus: bool,
    server: ServerConfig,
    trace: bool,
    fail_on_errors: bool,
}

impl Default for SimBuilder {
    fn default() -> Self {
        Self {
            seed: seed_from_u64(0),
            config: None,
            hocon: Vec::new(),
            faults: Faults::none(),
            with_focus: true,
            server: ServerConfig::default(),
            trace: true,
            fail_on_errors: true,
        }
    }
}

/// Spreads a `u64` over a 32-byte seed.
pub(crate) fn seed_from_u64(seed: u64) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut x = seed ^ 0x5eed_0f0c_u64;
    for chunk in out.chunks_mut(8) {
        // splitmix64
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        chunk.copy_from_slice(&z.to_le_bytes());
    }
    out
}

impl SimBuilder {
    /// The seed of every random choice (focus ids, nicknames, faults).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed_from_u64(seed);
        self
    }

    /// The seed as 32 bytes.
    pub fn seed_bytes(mut self, seed: [u8; 32]) -> Self {
        self.seed = seed;
        self
    }

    /// The focus's configuration as is (replaces [`BASE_HOCON`] and any
    /// [`SimBuilder::config_hocon`]).
    pub fn config(mut self, config: Config) -> Self {
        self.config = Some(config);
        self
    }

    /// `jicofo.conf` text merged over [`BASE_HOCON`] (and over earlier
    /// calls), e.g. `jicofo.conference.initial-timeout = 5 seconds`.
    pub fn config_hocon(mut self, text: &str) -> Self {
        self.hocon.push(text.to_owned());
        self
    }

    /// The focus joins the bridge brewery [`BREWERY_JID`]
    /// (docker-jitsi-meet's): the same as
    /// `config_hocon(r#"jicofo.bridge.brewery-jid = "jvbbrewery@internal-muc.meet.jitsi""#)`.
    /// Without it (or that key) the focus knows no bridges.
    pub fn with_brewery(self) -> Self {
        self.config_hocon(&format!("jicofo.bridge.brewery-jid = \"{BREWERY_JID}\""))
    }

    /// Link latency and faults (default: [`Faults::none`]).
    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    /// No focus: tests play it with a raw session.
    pub fn without_focus(mut self) -> Self {
        self.with_focus = false;
        self
    }

    /// The server's layout (default: docker-jitsi-meet's on `meet.jitsi`).
    pub fn server(mut self, server: ServerConfig) -> Self {
        self.server = server;
        self
    }

    /// Adds (or reconfigures) the MUC component at `host`, e.g.
    /// `breakout.meet.jitsi` with [`MucOptions::breakout`].
    pub fn muc_domain(mut self, host: &str, options: MucOptions) -> Self {
        self.server.mucs.retain(|(h, _)| h != host);
        self.server.mucs.push((host.to_owned(), options));
        self
    }

    /// Whether to record the trace (default on; off saves time in load
    /// scenarios).
    pub fn trace(mut self, on: bool) -> Self {
        self.trace = on;
        self
    }

    /// Does not fail the test when the simulation is dropped with
    /// [`Sim::errors`] left (by default it does, as sans-io-style.md §11
    /// asks for ERROR logs of the focus).
    pub fn allow_errors(mut self) -> Self {
        self.fail_on_errors = false;
        self
    }

    /// The configuration the focus will get.
    ///
    /// # Panics
    ///
    /// When the HOCON does not parse (a scenario bug).
    pub fn focus_config(&self) -> Config {
        if let Some(c) = &self.config {
            return c.clone();
        }
        let mut text = BASE_HOCON.to_owned();
        for h in &self.hocon {
            text.push('\n');
            text.push_str(h);
        }
        match Config::from_hocon_str(&text, "sim.conf") {
            Ok(loaded) => loaded.config,
            Err(e) => panic!("sim: the scenario configuration does not load: {e}"),
        }
    }

    /// Builds the simulation at virtual time zero. The focus connects at
    /// once (its `Input::Connected` is the first thing that happens).
    pub fn build(self) -> Sim {
        let config = Arc::new(self.focus_config());
        Sim::new(
            config,
            self.seed,
            self.faults,
            self.with_focus,
            self.server,
            self.trace,
            self.fail_on_errors,
        )
    }
}
