//! [`Focus`]: the top-level state machine of the process.
//!
//! Stanzas per connection, HTTP requests and time go in; stanzas, HTTP
//! answers, events and one wake-up deadline come out. See the crate docs for
//! the run loop.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use jid::FullJid;
use minidom::Element;
use tracing::{debug, info, warn};

use crate::config::Config;
use crate::http::{HttpRequest, HttpResponse};
use crate::rest;
use crate::rng::FocusRng;
use crate::xml::ncname;
use crate::xmpp::ns;

/// How long the self-check's XMPP ping may take (Jicofo's fixed 5 s).
const HEALTH_PING_TIMEOUT: Duration = Duration::from_secs(5);

/// Names one XMPP connection of the focus.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum ConnId {
    /// `jicofo.xmpp.client`: clients, conferences, Jibri, Jigasi.
    Client,
    /// `jicofo.xmpp.service`: bridges, when configured apart.
    Service,
}

impl ConnId {
    /// The name used in logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Service => "service",
        }
    }
}

impl std::fmt::Display for ConnId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Identifies one HTTP request until it is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HttpId(pub u64);

/// Something that happened outside the core.
#[derive(Debug, Clone)]
pub enum Input {
    /// A connection finished negotiating and can carry stanzas.
    Connected {
        /// Which connection.
        conn: ConnId,
        /// The JID the server bound.
        jid: FullJid,
    },
    /// A connection was lost; the runtime reconnects on its own.
    Disconnected {
        /// Which connection.
        conn: ConnId,
        /// Why, for logs and health messages.
        reason: String,
    },
    /// A stanza arrived on a connection.
    Stanza {
        /// Which connection.
        conn: ConnId,
        /// The stanza.
        stanza: Element,
    },
    /// An HTTP request to answer with [`Output::Http`] carrying the same id.
    Http {
        /// The request's id.
        id: HttpId,
        /// The request.
        request: HttpRequest,
    },
}

/// Something the runtime must do or may observe.
#[derive(Debug, Clone)]
pub enum Output {
    /// Send a stanza on a connection.
    Send {
        /// Which connection.
        conn: ConnId,
        /// The stanza.
        stanza: Element,
    },
    /// Answer an HTTP request.
    Http {
        /// The request's id.
        id: HttpId,
        /// The answer.
        response: HttpResponse,
    },
    /// Something observable happened.
    Event(Event),
}

/// Observable happenings, for metrics, logs and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A connection became usable.
    ConnectionUp {
        /// Which connection.
        conn: ConnId,
    },
    /// A connection went away.
    ConnectionDown {
        /// Which connection.
        conn: ConnId,
    },
    /// The self-check result changed.
    HealthChanged {
        /// Whether the focus is now healthy.
        healthy: bool,
    },
}

/// Misuse of the API by the runtime: the only errors `handle_input` returns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiMisuse {
    /// A stanza arrived on a connection that was never reported connected.
    #[error("stanza on connection {0}, which is not connected")]
    NotConnected(ConnId),
    /// An HTTP id was reused while its request is still open.
    #[error("HTTP request id {0:?} is already open")]
    DuplicateHttpId(HttpId),
}

/// The outcome of the last self-check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthStatus {
    /// All checks passed.
    Healthy,
    /// A check failed in a way that may pass by itself (HTTP 503).
    SoftFailure(String),
    /// The focus cannot work (HTTP 500).
    HardFailure(String),
}

impl HealthStatus {
    /// The HTTP answer for `/about/health`.
    pub fn to_response(&self) -> HttpResponse {
        match self {
            Self::Healthy => HttpResponse::text(200, "OK"),
            Self::SoftFailure(msg) => HttpResponse::text(503, msg.clone()),
            Self::HardFailure(msg) => HttpResponse::text(500, msg.clone()),
        }
    }
}

#[derive(Debug)]
struct Connection {
    /// The bound JID, for the focus's own address in later stanzas.
    #[allow(dead_code)]
    jid: FullJid,
}

/// The self-check's XMPP ping in flight.
#[derive(Debug)]
struct HealthPing {
    id: String,
    deadline: Instant,
}

/// The focus. See the [module docs](self).
#[derive(Debug)]
pub struct Focus {
    config: Arc<Config>,
    rng: FocusRng,
    start: Instant,
    wall_start: SystemTime,
    last_now: Instant,
    connections: BTreeMap<ConnId, Connection>,
    /// Why each connection was last lost, for health messages.
    last_disconnect: BTreeMap<ConnId, String>,
    outputs: VecDeque<Output>,
    /// When the next self-check starts.
    next_health_check: Option<Instant>,
    health_ping: Option<HealthPing>,
    /// The last finished self-check: when, and its verdict.
    health: Option<(Instant, HealthStatus)>,
    last_reported_health: Option<bool>,
}

impl Focus {
    /// A focus with `config`; `seed` makes every id, `now` and `wall_now` are
    /// the same moment on the monotonic and the wall clock.
    pub fn new(config: Arc<Config>, seed: [u8; 32], now: Instant, wall_now: SystemTime) -> Self {
        Self {
            config,
            rng: FocusRng::from_seed(seed),
            start: now,
            wall_start: wall_now,
            last_now: now,
            connections: BTreeMap::new(),
            last_disconnect: BTreeMap::new(),
            outputs: VecDeque::new(),
            next_health_check: None,
            health_ping: None,
            health: None,
            last_reported_health: None,
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Wall-clock time at `now`, derived from the start.
    pub fn wall_time(&self, now: Instant) -> SystemTime {
        self.wall_start + now.saturating_duration_since(self.start)
    }

    /// Feeds one input. Afterwards drain [`Focus::poll_output`].
    pub fn handle_input(&mut self, now: Instant, input: Input) -> Result<(), ApiMisuse> {
        let now = self.advance(now);
        match input {
            Input::Connected { conn, jid } => self.on_connected(now, conn, jid),
            Input::Disconnected { conn, reason } => self.on_disconnected(now, conn, reason),
            Input::Stanza { conn, stanza } => {
                if !self.connections.contains_key(&conn) {
                    return Err(ApiMisuse::NotConnected(conn));
                }
                self.on_stanza(now, conn, stanza);
            }
            Input::Http { id, request } => {
                let response = rest::route(self, now, &request);
                self.outputs.push_back(Output::Http { id, response });
            }
        }
        Ok(())
    }

    /// Fires everything due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let now = self.advance(now);
        if self.health_ping.as_ref().is_some_and(|p| now >= p.deadline) {
            self.health_ping = None;
            let status = HealthStatus::SoftFailure("XMPP ping failed: no answer in time".into());
            self.record_health(now, status);
        }
        if self.next_health_check.is_some_and(|at| now >= at) {
            self.start_health_check(now);
        }
    }

    /// The next output, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When [`Focus::handle_timeout`] next has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.next_health_check,
            self.health_ping.as_ref().map(|p| p.deadline),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Whether connection `conn` is up.
    pub fn is_connected(&self, conn: &ConnId) -> bool {
        self.connections.contains_key(conn)
    }

    /// The focus's health at `now`, as `/about/health` reports it.
    pub fn health(&self, now: Instant) -> HealthStatus {
        if !self.connections.contains_key(&ConnId::Client) {
            let why = self
                .last_disconnect
                .get(&ConnId::Client)
                .map(|r| format!(": {r}"))
                .unwrap_or_default();
            return HealthStatus::HardFailure(format!(
                "XMPP client connection is not established{why}"
            ));
        }
        match &self.health {
            None => HealthStatus::Healthy,
            Some((at, status)) => {
                let age = now.saturating_duration_since(*at);
                let timeout = self.config.health.timeout;
                if self.config.health.interval > Duration::ZERO && age > timeout {
                    HealthStatus::HardFailure(format!(
                        "No health checks performed recently, the last result was {} s ago.",
                        age.as_secs()
                    ))
                } else {
                    status.clone()
                }
            }
        }
    }

    /// Seconds since the focus started, for logs.
    pub fn uptime(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.start)
    }

    fn advance(&mut self, now: Instant) -> Instant {
        if now > self.last_now {
            self.last_now = now;
        }
        self.last_now
    }

    fn on_connected(&mut self, now: Instant, conn: ConnId, jid: FullJid) {
        info!(conn = %conn, %jid, "focus connection up");
        // Initial presence: Prosody's client_proxy forwards only to sessions
        // that are available.
        self.send(
            conn.clone(),
            Element::builder("presence", ns::CLIENT).build(),
        );
        self.connections.insert(conn.clone(), Connection { jid });
        self.last_disconnect.remove(&conn);
        self.outputs
            .push_back(Output::Event(Event::ConnectionUp { conn: conn.clone() }));
        if conn == ConnId::Client {
            // Check at once, then every interval.
            self.start_health_check(now);
        }
        self.report_health(now);
    }

    fn on_disconnected(&mut self, now: Instant, conn: ConnId, reason: String) {
        if self.connections.remove(&conn).is_some() {
            self.outputs
                .push_back(Output::Event(Event::ConnectionDown { conn: conn.clone() }));
        }
        if conn == ConnId::Client {
            self.health_ping = None;
            self.next_health_check = None;
        }
        self.last_disconnect.insert(conn, reason);
        self.report_health(now);
    }

    fn on_stanza(&mut self, now: Instant, conn: ConnId, stanza: Element) {
        if !stanza.is("iq", ns::CLIENT) {
            debug!(conn = %conn, name = stanza.name(), "stanza ignored for now");
            return;
        }
        match stanza.attr("type") {
            Some("result") | Some("error") => self.on_iq_reply(now, &stanza),
            Some("get") | Some("set") => self.on_iq_request(conn, &stanza),
            other => {
                debug!(conn = %conn, kind = ?other, "IQ without a valid type dropped");
            }
        }
    }

    fn on_iq_reply(&mut self, now: Instant, iq: &Element) {
        let Some(ping) = &self.health_ping else {
            return;
        };
        if iq.attr("id") != Some(ping.id.as_str()) {
            return;
        }
        self.health_ping = None;
        // Any answer, even an error, proves the server and our stanza path
        // work, which is what the check is for.
        self.record_health(now, HealthStatus::Healthy);
    }

    fn on_iq_request(&mut self, conn: ConnId, iq: &Element) {
        let mut children = iq.children();
        let payload = match (children.next(), children.next()) {
            (Some(p), None) => Some(p),
            _ => None,
        };
        let reply = match payload {
            Some(p) if iq.attr("type") == Some("get") && p.is("query", ns::DISCO_INFO) => {
                Some(self.disco_info(p))
            }
            Some(p) if iq.attr("type") == Some("get") && p.is("ping", ns::PING) => None,
            None => {
                self.send(conn, iq_error(iq, "modify", "bad-request"));
                return;
            }
            _ => {
                self.send(conn, iq_error(iq, "cancel", "service-unavailable"));
                return;
            }
        };
        let mut result = Element::builder("iq", ns::CLIENT).attr(ncname("type"), "result");
        if let Some(id) = iq.attr("id") {
            result = result.attr(ncname("id"), id);
        }
        if let Some(from) = iq.attr("from") {
            result = result.attr(ncname("to"), from);
        }
        if let Some(payload) = reply {
            result = result.append(payload);
        }
        self.send(conn, result.build());
    }

    fn disco_info(&self, query: &Element) -> Element {
        let mut q = Element::builder("query", ns::DISCO_INFO);
        if let Some(node) = query.attr("node") {
            q = q.attr(ncname("node"), node);
        }
        q = q.append(
            Element::builder("identity", ns::DISCO_INFO)
                .attr(ncname("category"), "component")
                .attr(ncname("type"), "focus")
                .attr(ncname("name"), "Jitsi Meet focus"),
        );
        for feature in [ns::DISCO_INFO, ns::PING] {
            q = q.append(Element::builder("feature", ns::DISCO_INFO).attr(ncname("var"), feature));
        }
        q.build()
    }

    fn start_health_check(&mut self, now: Instant) {
        let interval = self.config.health.interval;
        self.next_health_check = (!interval.is_zero()).then(|| now + interval);
        if self.health_ping.is_some() || !self.connections.contains_key(&ConnId::Client) {
            return;
        }
        let Some(domain) = self.config.xmpp.client.xmpp_domain.clone() else {
            return;
        };
        let id = format!("health-{}", self.rng.token(10));
        let ping = Element::builder("iq", ns::CLIENT)
            .attr(ncname("type"), "get")
            .attr(ncname("id"), id.as_str())
            .attr(ncname("to"), domain)
            .append(Element::builder("ping", ns::PING))
            .build();
        self.send(ConnId::Client, ping);
        self.health_ping = Some(HealthPing {
            id,
            deadline: now + HEALTH_PING_TIMEOUT,
        });
    }

    fn record_health(&mut self, now: Instant, status: HealthStatus) {
        if status != HealthStatus::Healthy {
            warn!(?status, "self-check failed");
        }
        self.health = Some((now, status));
        self.report_health(now);
    }

    fn report_health(&mut self, now: Instant) {
        let healthy = self.health(now) == HealthStatus::Healthy;
        if self.last_reported_health != Some(healthy) {
            self.last_reported_health = Some(healthy);
            self.outputs
                .push_back(Output::Event(Event::HealthChanged { healthy }));
        }
    }

    fn send(&mut self, conn: ConnId, stanza: Element) {
        self.outputs.push_back(Output::Send { conn, stanza });
    }
}

/// An IQ error answering `iq`.
pub(crate) fn iq_error(iq: &Element, kind: &str, condition: &str) -> Element {
    let mut reply = Element::builder("iq", ns::CLIENT).attr(ncname("type"), "error");
    if let Some(id) = iq.attr("id") {
        reply = reply.attr(ncname("id"), id);
    }
    if let Some(from) = iq.attr("from") {
        reply = reply.attr(ncname("to"), from);
    }
    reply
        .append(
            Element::builder("error", ns::CLIENT)
                .attr(ncname("type"), kind)
                .append(Element::builder(condition, ns::STANZAS)),
        )
        .build()
}

#[cfg(test)]
mod tests;
