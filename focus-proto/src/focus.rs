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

use crate::auth::AuthSessions;
use crate::bridge::brewery::{Brewery, BreweryCtx};
use crate::bridge::{BridgeEvent, BridgeRegistry};
use crate::conference::manager::Ctx;
use crate::conference::{ConferenceEvent, Conferences, request};
use crate::config::Config;
use crate::ext::conference_iq::{
    LoginUrlRequest, LogoutRequest, NS_FOCUS, login_url_answer, logout_answer, parse_room_jid,
    session_invalid,
};
use crate::ext::error::{Condition, IqKind, StanzaError, iq_error, iq_request, iq_result};
use crate::http::{HttpRequest, HttpResponse, Method};
use crate::rest;
use crate::rng::FocusRng;
use crate::xml::ncname;
use crate::xmpp::iq::{IqOutcome, IqTracker};
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
    /// Something happened to a conference.
    Conference(ConferenceEvent),
    /// Something happened to the bridge pool.
    Bridge(BridgeEvent),
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
    jid: FullJid,
}

/// What an IQ request of the focus itself (not of a conference) was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FocusIq {
    /// The self-check's XMPP ping.
    HealthPing,
    /// disco#info on the XMPP domain, for Jitsi's components.
    DiscoverComponents,
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
    /// The focus's own requests in flight (the health ping, the component discovery).
    iqs: IqTracker<FocusIq>,
    conferences: Conferences,
    /// The bridge brewery and its pool, when `jicofo.bridge.brewery-jid` is set.
    brewery: Option<Brewery>,
    auth: AuthSessions,
    /// The last finished self-check: when, and its verdict.
    health: Option<(Instant, HealthStatus)>,
    last_reported_health: Option<bool>,
    /// Connections lost since the start (`xmpp_disconnects_total`).
    xmpp_disconnects: u64,
}

impl Focus {
    /// A focus with `config`; `seed` makes every id, `now` and `wall_now` are
    /// the same moment on the monotonic and the wall clock.
    pub fn new(config: Arc<Config>, seed: [u8; 32], now: Instant, wall_now: SystemTime) -> Self {
        Self {
            auth: AuthSessions::new(&config.authentication),
            brewery: Brewery::from_config(&config),
            config,
            rng: FocusRng::from_seed(seed),
            start: now,
            wall_start: wall_now,
            last_now: now,
            connections: BTreeMap::new(),
            last_disconnect: BTreeMap::new(),
            outputs: VecDeque::new(),
            next_health_check: None,
            iqs: IqTracker::new(),
            conferences: Conferences::new(),
            health: None,
            last_reported_health: None,
            xmpp_disconnects: 0,
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
            Input::Http { id, request } => self.on_http(now, id, request),
        }
        Ok(())
    }

    /// Fires everything due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let now = self.advance(now);
        while let Some(expired) = self.iqs.pop_expired(now) {
            match expired {
                FocusIq::HealthPing => {
                    let status =
                        HealthStatus::SoftFailure("XMPP ping failed: no answer in time".into());
                    self.record_health(now, status);
                }
                FocusIq::DiscoverComponents => {
                    warn!(
                        "no answer to the component discovery; no room metadata or breakout component"
                    );
                }
            }
        }
        if self.next_health_check.is_some_and(|at| now >= at) {
            self.start_health_check(now);
        }
        self.with_brewery(now, |brewery, ctx| brewery.handle_timeout(now, ctx));
        let (mut ctx, conferences) = self.split();
        conferences.handle_timeout(now, &mut ctx);
        for expired in self.auth.handle_timeout(now) {
            debug!(session = %expired.id, identity = %expired.identity, "authentication session expired");
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
            self.iqs.next_deadline(),
            self.conferences.poll_timeout(),
            self.brewery.as_ref().and_then(Brewery::poll_timeout),
            self.auth.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Leaves every conference room, for a clean shutdown; drain
    /// [`Focus::poll_output`] and send what it gives before closing the
    /// connections.
    pub fn shutdown(&mut self, now: Instant) {
        let now = self.advance(now);
        let (mut ctx, conferences) = self.split();
        conferences.shutdown(now, &mut ctx);
        if let Some((brewery, mut ctx)) = self.brewery_ctx() {
            brewery.shutdown(&mut ctx);
        }
    }

    /// Whether connection `conn` is up.
    pub fn is_connected(&self, conn: &ConnId) -> bool {
        self.connections.contains_key(conn)
    }

    /// The conferences.
    pub fn conferences(&self) -> &Conferences {
        &self.conferences
    }

    /// The bridge pool; `None` when no bridge brewery is configured.
    pub fn bridges(&self) -> Option<&BridgeRegistry> {
        self.brewery.as_ref().map(Brewery::registry)
    }

    /// XMPP connections lost since the start.
    pub fn xmpp_disconnects(&self) -> u64 {
        self.xmpp_disconnects
    }

    /// The authentication sessions.
    pub fn auth_sessions(&self) -> &AuthSessions {
        &self.auth
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

    /// Bridges that can take new conferences (operational and not shutting
    /// down gracefully, as Jicofo's health check counts them), and all
    /// bridges.
    pub fn bridge_counts(&self, now: Instant) -> (usize, usize) {
        let Some(registry) = self.bridges() else {
            return (0, 0);
        };
        let threshold = self.config.bridge.failure_reset_threshold;
        let operational = registry
            .iter()
            .filter(|b| b.is_operational(now, threshold) && !b.graceful_shutdown)
            .count();
        (operational, registry.len())
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

    /// The conference manager and what it borrows from the rest.
    fn split(&mut self) -> (Ctx<'_>, &mut Conferences) {
        (
            Ctx {
                config: &self.config,
                rng: &mut self.rng,
                out: &mut self.outputs,
                auth: &mut self.auth,
                bridges: self.brewery.as_mut().map(Brewery::registry_mut),
                client_jid: self.connections.get(&ConnId::Client).map(|c| &c.jid),
            },
            &mut self.conferences,
        )
    }

    /// The brewery and what it borrows from the rest.
    fn brewery_ctx(&mut self) -> Option<(&mut Brewery, BreweryCtx<'_>)> {
        let brewery = self.brewery.as_mut()?;
        Some((
            brewery,
            BreweryCtx {
                config: &self.config,
                rng: &mut self.rng,
                out: &mut self.outputs,
            },
        ))
    }

    /// Runs `f` on the brewery, then lets the conferences react to the
    /// bridge events it produced (bridges gone, failed, shutting down, or
    /// new).
    fn with_brewery<R>(
        &mut self,
        now: Instant,
        f: impl FnOnce(&mut Brewery, &mut BreweryCtx<'_>) -> R,
    ) -> Option<R> {
        let before = self.outputs.len();
        let result = {
            let (brewery, mut ctx) = self.brewery_ctx()?;
            f(brewery, &mut ctx)
        };
        let events: Vec<BridgeEvent> = self
            .outputs
            .iter()
            .skip(before)
            .filter_map(|o| match o {
                Output::Event(Event::Bridge(e)) => Some(e.clone()),
                _ => None,
            })
            .collect();
        for event in events {
            let (mut ctx, conferences) = self.split();
            conferences.on_bridge_event(now, &mut ctx, &event);
        }
        Some(result)
    }

    /// `focusjid` of conference answers: the client account's bare JID.
    fn focus_jid(&self) -> String {
        match self.connections.get(&ConnId::Client) {
            Some(c) => c.jid.to_bare().to_string(),
            None => {
                let client = &self.config.xmpp.client;
                let domain = client
                    .domain
                    .as_deref()
                    .or(client.xmpp_domain.as_deref())
                    .unwrap_or_default();
                format!("{}@{}", client.username, domain)
            }
        }
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
        self.with_brewery(now, |brewery, ctx| brewery.on_connected(now, ctx, &conn));
        if conn == ConnId::Client {
            // Check at once, then every interval.
            self.start_health_check(now);
            self.discover_components(now);
        }
        self.report_health(now);
    }

    fn on_disconnected(&mut self, now: Instant, conn: ConnId, reason: String) {
        if self.connections.remove(&conn).is_some() {
            self.xmpp_disconnects += 1;
            self.outputs
                .push_back(Output::Event(Event::ConnectionDown { conn: conn.clone() }));
        }
        self.iqs.drain_conn(&conn);
        self.with_brewery(now, |brewery, ctx| brewery.on_disconnected(ctx, &conn));
        if conn == ConnId::Client {
            self.next_health_check = None;
            // No stream resumption: every conference ends; clients ask again.
            let (mut ctx, conferences) = self.split();
            conferences.connection_lost(now, &mut ctx);
        }
        self.last_disconnect.insert(conn, reason);
        self.report_health(now);
    }

    fn on_stanza(&mut self, now: Instant, conn: ConnId, stanza: Element) {
        if stanza.is("presence", ns::CLIENT) {
            let taken = self.with_brewery(now, |brewery, ctx| {
                brewery.on_presence(now, ctx, &conn, &stanza)
            });
            if taken == Some(true) {
                return;
            }
            if conn == ConnId::Client {
                let (mut ctx, conferences) = self.split();
                conferences.on_presence(now, &mut ctx, &stanza);
            }
            return;
        }
        if stanza.is("message", ns::CLIENT) {
            if conn == ConnId::Client {
                let (mut ctx, conferences) = self.split();
                conferences.on_message(now, &mut ctx, &stanza);
            }
            return;
        }
        if !stanza.is("iq", ns::CLIENT) {
            debug!(conn = %conn, name = stanza.name(), "stanza ignored");
            return;
        }
        match stanza.attr("type") {
            Some("result") | Some("error") => self.on_iq_reply(now, conn, stanza),
            Some("get") | Some("set") => self.on_iq_request(now, conn, &stanza),
            other => {
                debug!(conn = %conn, kind = ?other, "IQ without a valid type dropped");
            }
        }
    }

    fn on_iq_reply(&mut self, now: Instant, conn: ConnId, iq: Element) {
        // Each layer is asked whether the answer is its own before it
        // takes the IQ: the reply moves into the outcome, uncopied.
        if !self.iqs.expects(&conn, &iq) {
            self.on_layer_reply(now, conn, iq);
            return;
        }
        match self.iqs.on_reply(&conn, iq) {
            Some((FocusIq::DiscoverComponents, outcome)) => self.on_components(&outcome),
            Some((FocusIq::HealthPing, outcome)) => {
                if let IqOutcome::Error { error: e, .. } = &outcome {
                    debug!(
                        condition = e.condition.as_str(),
                        "health ping answered with an error"
                    );
                }
                // Any answer, even an error, proves the server and our
                // stanza path work, which is what the check is for.
                self.record_health(now, HealthStatus::Healthy);
            }
            None => {}
        }
    }

    /// An IQ answer the focus itself did not ask for: the brewery's, the
    /// conferences', or nobody's.
    fn on_layer_reply(&mut self, now: Instant, conn: ConnId, iq: Element) {
        if self
            .brewery
            .as_ref()
            .is_some_and(|b| b.expects_reply(&conn, &iq))
        {
            self.with_brewery(now, |brewery, ctx| brewery.on_iq_reply(now, ctx, &conn, iq));
            return;
        }
        let id = iq.attr("id").map(str::to_owned);
        let (mut ctx, conferences) = self.split();
        if !conferences.on_iq_reply(now, &mut ctx, &conn, iq) {
            debug!(conn = %conn, id = ?id, "IQ reply to nothing we asked; ignored");
        }
    }

    fn on_iq_request(&mut self, now: Instant, conn: ConnId, iq: &Element) {
        let mut children = iq.children();
        let payload = match (children.next(), children.next()) {
            (Some(p), None) => p,
            _ => {
                let error = StanzaError::new(Condition::BadRequest);
                self.send(conn, iq_error(iq, &error, None));
                return;
            }
        };
        let get = iq.attr("type") == Some("get");
        let reply = if get && payload.is("query", ns::DISCO_INFO) {
            iq_result(iq, Some(self.disco_info(payload)))
        } else if get && payload.is("ping", ns::PING) {
            iq_result(iq, None)
        } else if !get
            && payload.is("jingle", crate::ext::jingle::NS_JINGLE)
            && conn == ConnId::Client
        {
            let (mut ctx, conferences) = self.split();
            conferences.on_jingle(now, &mut ctx, iq, payload);
            return;
        } else if !get && payload.is("conference", NS_FOCUS) && conn == ConnId::Client {
            let focus_jid = self.focus_jid();
            let (mut ctx, conferences) = self.split();
            request::handle_iq(now, &mut ctx, conferences, &focus_jid, conn, iq, payload);
            return;
        } else if get && payload.is("login-url", NS_FOCUS) && self.auth.enabled() {
            self.login_url(iq, payload)
        } else if !get && payload.is("logout", NS_FOCUS) && self.auth.enabled() {
            self.logout(iq, payload)
        } else {
            iq_error(iq, &StanzaError::new(Condition::ServiceUnavailable), None)
        };
        self.send(conn, reply);
    }

    fn login_url(&mut self, iq: &Element, payload: &Element) -> Element {
        let request = match LoginUrlRequest::parse(payload) {
            Ok(r) => r,
            Err(e) => {
                let error = StanzaError::new(Condition::BadRequest).with_text(e.to_string());
                return iq_error(iq, &error, None);
            }
        };
        let Some(room) = request.room.as_deref().and_then(|r| parse_room_jid(r).ok()) else {
            return iq_error(iq, &StanzaError::new(Condition::NotAcceptable), None);
        };
        match self.auth.login_url(&room, request.machine_uid.as_deref()) {
            Ok(url) => iq_result(iq, Some(login_url_answer(url.as_deref()))),
            Err(e) => {
                let error = StanzaError::new(Condition::BadRequest).with_text(e.to_string());
                iq_error(iq, &error, None)
            }
        }
    }

    fn logout(&mut self, iq: &Element, payload: &Element) -> Element {
        let session = LogoutRequest::parse(payload)
            .ok()
            .and_then(|r| r.session_id)
            .unwrap_or_default();
        match self.auth.logout(&session) {
            Ok(()) => iq_result(iq, Some(logout_answer(None))),
            Err(e) => {
                let error = StanzaError::new(Condition::NotAcceptable)
                    .with_text(e.to_string())
                    .with_app(session_invalid());
                iq_error(iq, &error, None)
            }
        }
    }

    fn on_http(&mut self, now: Instant, id: HttpId, request: HttpRequest) {
        let path = request.path.trim_end_matches('/');
        if path == "/conference-request/v1" && self.config.rest.conference_request.enabled {
            match request.method {
                Method::Post if !self.connections.contains_key(&ConnId::Client) => {
                    // Jicofo answers 400 when creating the conference fails.
                    self.outputs.push_back(Output::Http {
                        id,
                        response: HttpResponse::text(
                            400,
                            "Bad request: the XMPP client connection is down",
                        ),
                    });
                }
                Method::Post => {
                    let focus_jid = self.focus_jid();
                    let (mut ctx, conferences) = self.split();
                    request::handle_http(now, &mut ctx, conferences, &focus_jid, id, &request);
                }
                Method::Options => self.outputs.push_back(Output::Http {
                    id,
                    response: HttpResponse::text(200, ""),
                }),
                _ => self.outputs.push_back(Output::Http {
                    id,
                    response: HttpResponse::text(405, "Method Not Allowed"),
                }),
            }
            return;
        }
        let response = rest::route(self, now, &request);
        self.outputs.push_back(Output::Http { id, response });
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
        for feature in [ns::DISCO_INFO, ns::PING, NS_FOCUS] {
            q = q.append(Element::builder("feature", ns::DISCO_INFO).attr(ncname("var"), feature));
        }
        q.build()
    }

    fn start_health_check(&mut self, now: Instant) {
        let interval = self.config.health.interval;
        self.next_health_check = (!interval.is_zero()).then(|| now + interval);
        let pinging = self.iqs.any(|c| *c == FocusIq::HealthPing);
        if pinging || !self.connections.contains_key(&ConnId::Client) {
            return;
        }
        let (operational, total) = self.bridge_counts(now);
        if operational == 0 {
            let message = format!("No operational bridges available (total bridge count: {total})");
            self.record_health(now, HealthStatus::HardFailure(message));
            return;
        }
        let Some(domain) = self.config.xmpp.client.xmpp_domain.clone() else {
            return;
        };
        let id = self.iqs.register(
            &mut self.rng,
            now,
            HEALTH_PING_TIMEOUT,
            ConnId::Client,
            &domain,
            FocusIq::HealthPing,
        );
        let ping = iq_request(
            IqKind::Get,
            &id,
            &domain,
            Element::builder("ping", ns::PING).build(),
        );
        self.send(ConnId::Client, ping);
    }

    /// Asks the XMPP domain for its identities: Jitsi's Prosody modules
    /// announce their components there (`room_metadata`,
    /// `breakout_rooms`, ...), with the address as the identity's name.
    fn discover_components(&mut self, now: Instant) {
        let Some(domain) = self.config.xmpp.client.xmpp_domain.clone() else {
            return;
        };
        let id = self.iqs.register(
            &mut self.rng,
            now,
            self.config.xmpp.client.reply_timeout,
            ConnId::Client,
            &domain,
            FocusIq::DiscoverComponents,
        );
        let query = Element::builder("query", ns::DISCO_INFO).build();
        self.send(ConnId::Client, iq_request(IqKind::Get, &id, &domain, query));
    }

    fn on_components(&mut self, outcome: &IqOutcome) {
        let IqOutcome::Result(iq) = outcome else {
            warn!(
                ?outcome,
                "component discovery failed; no room metadata or breakout component"
            );
            return;
        };
        let component = |kind: &str| -> Option<String> {
            iq.get_child("query", ns::DISCO_INFO)?
                .children()
                .filter(|c| c.is("identity", ns::DISCO_INFO))
                .find(|c| c.attr("category") == Some("component") && c.attr("type") == Some(kind))
                .and_then(|c| c.attr("name"))
                .filter(|n| !n.is_empty())
                .map(str::to_owned)
        };
        let metadata = component("room_metadata");
        let breakout = component("breakout_rooms");
        info!(room_metadata = ?metadata, breakout_rooms = ?breakout, "components discovered");
        self.conferences.room_metadata_component = metadata;
        self.conferences.breakout_component = breakout;
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

#[cfg(test)]
mod tests;
