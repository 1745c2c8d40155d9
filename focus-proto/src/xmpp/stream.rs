//! [`XmppStream`]: a sans-IO client-to-server XMPP stream.
//!
//! Bytes from the socket go in through [`XmppStream::handle_input`]; bytes to
//! write come out of [`XmppStream::poll_transmit`], and what happened comes
//! out of [`XmppStream::poll_event`]. The stream negotiates as a real client
//! does with Prosody: stream header, STARTTLS (it asks the runtime to upgrade
//! the socket, then restarts the stream), SASL (SCRAM-SHA-256, SCRAM-SHA-1,
//! PLAIN over TLS only), resource binding, and then reports
//! [`StreamEvent::Ready`]. Once ready it carries stanzas both ways, answers
//! XEP-0199 pings, and pings the server itself to notice a dead connection.
//!
//! # Driving it
//!
//! After every `handle_*` call, first drain [`XmppStream::poll_transmit`] into
//! the socket, then drain [`XmppStream::poll_event`], then arm a timer for
//! [`XmppStream::poll_timeout`]. On [`StreamEvent::StartTls`] everything
//! already transmitted must be flushed before the TLS handshake starts; when
//! it is done, call [`XmppStream::handle_tls_established`]. After
//! [`StreamEvent::Closed`] the stream is finished: transmit what is left and
//! drop the socket.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use jid::FullJid;
use minidom::Element;
use tracing::{debug, warn};

use super::ns;
use super::sasl::{MechanismKind, SaslClient, SaslError};
use crate::rng::FocusRng;
use crate::xml::{self, Limits, StreamReader, XmlError, ncname};

/// How long to wait for the server's `</stream:stream>` after ours.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(3);

/// What a stream needs to know to log in.
#[derive(Debug, Clone)]
pub struct StreamConfig {
    /// The domain to log in to (`jicofo.xmpp.client.domain`), the stream's `to`.
    pub domain: String,
    /// The account's local part.
    pub username: String,
    /// The account's password.
    pub password: String,
    /// The resource to ask for when binding.
    pub resource: String,
    /// Whether to use STARTTLS (`use-tls`); the stream refuses to log in
    /// without TLS when this is set and the server does not offer it.
    pub use_tls: bool,
    /// Bounds on what the server may send.
    pub limits: Limits,
    /// Interval of keepalive pings once ready; zero turns them off.
    pub ping_interval: Duration,
    /// How long a ping may go unanswered (`reply-timeout`).
    pub reply_timeout: Duration,
    /// How long the whole negotiation may take before the stream gives up.
    pub negotiation_timeout: Duration,
}

impl StreamConfig {
    /// A configuration with the usual timings: a ping every 30 s, a 15 s reply
    /// timeout and 30 s to negotiate.
    pub fn new(domain: &str, username: &str, password: &str, resource: &str) -> Self {
        Self {
            domain: domain.to_owned(),
            username: username.to_owned(),
            password: password.to_owned(),
            resource: resource.to_owned(),
            use_tls: true,
            limits: Limits::default(),
            ping_interval: Duration::from_secs(30),
            reply_timeout: Duration::from_secs(15),
            negotiation_timeout: Duration::from_secs(30),
        }
    }

    /// The bare JID this stream logs in as, for messages.
    pub fn account(&self) -> String {
        format!("{}@{}", self.username, self.domain)
    }
}

/// What the stream reports to its driver.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// Flush all transmitted bytes, upgrade the socket to TLS, then call
    /// [`XmppStream::handle_tls_established`].
    StartTls,
    /// Negotiation finished: stanzas can flow.
    Ready {
        /// The full JID the server bound.
        jid: FullJid,
    },
    /// A stanza (`iq`, `message`, `presence` in `jabber:client`) arrived.
    Stanza(Element),
    /// The stream is over; the reason says whose fault it was.
    Closed(CloseReason),
}

/// Why a stream ended.
#[derive(Debug, Clone, PartialEq)]
pub enum CloseReason {
    /// We closed it and the server agreed (or did not answer in time).
    Local,
    /// The server ended the stream or the socket without an error.
    PeerClosed,
    /// The server sent a stream error.
    StreamError {
        /// The RFC 6120 condition, e.g. `conflict`, `system-shutdown`.
        condition: String,
        /// The server's text, if any.
        text: Option<String>,
    },
    /// The server refused our credentials.
    AuthFailed {
        /// The account that failed, `user@domain`.
        account: String,
        /// The SASL condition, e.g. `not-authorized`.
        condition: String,
        /// The server's text, if any.
        text: Option<String>,
    },
    /// The SASL exchange failed on our side (bad server messages).
    Sasl(SaslError),
    /// The server offered no mechanism we accept.
    NoMechanism {
        /// What it offered.
        offered: Vec<String>,
    },
    /// TLS is required by the config but the server does not offer STARTTLS.
    TlsUnavailable,
    /// The server requires TLS, which the config turned off (`use-tls = false`).
    TlsRequired,
    /// The server answered `<starttls/>` with `<failure/>`.
    TlsRefused,
    /// Resource binding failed.
    BindFailed {
        /// The stanza error condition.
        condition: String,
    },
    /// The server sent bytes that are not an acceptable XML stream; we sent a
    /// stream error.
    Xml(XmlError),
    /// The server broke the protocol; we sent a stream error.
    Protocol(String),
    /// Negotiation or a keepalive ping took too long.
    Timeout(&'static str),
}

impl CloseReason {
    /// Whether the failure is in our configuration rather than in the
    /// connection, so that retrying quickly is pointless (the driver still
    /// retries, with backoff).
    pub fn is_config_error(&self) -> bool {
        matches!(
            self,
            Self::AuthFailed { .. }
                | Self::NoMechanism { .. }
                | Self::TlsUnavailable
                | Self::TlsRequired
        )
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local => f.write_str("closed by us"),
            Self::PeerClosed => f.write_str("closed by the server"),
            Self::StreamError { condition, text } => {
                write!(f, "stream error from the server: {condition}")?;
                if let Some(text) = text {
                    write!(f, " ({text})")?;
                }
                Ok(())
            }
            Self::AuthFailed {
                account,
                condition,
                text,
            } => {
                write!(f, "authentication failed for {account}: {condition}")?;
                if let Some(text) = text {
                    write!(f, " ({text})")?;
                }
                Ok(())
            }
            Self::Sasl(e) => write!(f, "SASL failed: {e}"),
            Self::NoMechanism { offered } => write!(
                f,
                "no acceptable SASL mechanism (server offers: {}; PLAIN is used only over TLS)",
                offered.join(", ")
            ),
            Self::TlsUnavailable => {
                f.write_str("the server does not offer STARTTLS and use-tls is on")
            }
            Self::TlsRequired => f.write_str("the server requires TLS but use-tls is off"),
            Self::TlsRefused => f.write_str("the server refused STARTTLS"),
            Self::BindFailed { condition } => write!(f, "resource binding failed: {condition}"),
            Self::Xml(e) => write!(f, "bad XML from the server: {e}"),
            Self::Protocol(what) => write!(f, "protocol violation by the server: {what}"),
            Self::Timeout(what) => write!(f, "timed out: {what}"),
        }
    }
}

/// Returned by [`XmppStream::send`] when the stream cannot carry stanzas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the XMPP stream is not ready")]
pub struct NotReady;

/// Where the negotiation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Fresh stream, plain TCP.
    Plain,
    /// Restarted after STARTTLS.
    Secured,
    /// Restarted after SASL success.
    Authenticated,
}

#[derive(Debug)]
enum State {
    /// Waiting for the server's stream header.
    Header(Phase),
    /// Waiting for `<stream:features>`.
    Features(Phase),
    /// Sent `<starttls/>`, waiting for `<proceed/>`.
    StartTls,
    /// Told the driver to upgrade; waiting for it.
    TlsUpgrade,
    /// Sent `<auth>`.
    Auth(SaslClient),
    /// Sent the bind IQ.
    Bind { id: String, session: bool },
    /// Sent the legacy session IQ.
    Session { id: String, jid: FullJid },
    /// Carrying stanzas.
    Ready { jid: FullJid },
    /// Sent `</stream:stream>`, waiting for the server's.
    Closing { deadline: Instant },
    /// Over.
    Closed,
}

/// A sans-IO client-to-server XMPP stream. See the [module docs](self).
#[derive(Debug)]
pub struct XmppStream {
    config: StreamConfig,
    state: State,
    reader: StreamReader,
    rng: FocusRng,
    tls: bool,
    transmit: Vec<u8>,
    events: VecDeque<StreamEvent>,
    negotiation_deadline: Option<Instant>,
    /// When the next keepalive ping is due.
    next_ping: Option<Instant>,
    /// The outstanding keepalive ping: its id and answer deadline.
    pending_ping: Option<(String, Instant)>,
}

impl XmppStream {
    /// A new stream; the stream header is queued for transmission at once.
    /// `seed` feeds the SCRAM nonce and the ids of the stream's own IQs.
    pub fn new(config: StreamConfig, now: Instant, seed: [u8; 32]) -> Self {
        let reader = StreamReader::new(config.limits.clone());
        let mut stream = Self {
            negotiation_deadline: Some(now + config.negotiation_timeout),
            config,
            state: State::Header(Phase::Plain),
            reader,
            rng: FocusRng::from_seed(seed),
            tls: false,
            transmit: Vec::new(),
            events: VecDeque::new(),
            next_ping: None,
            pending_ping: None,
        };
        stream.write_header();
        stream
    }

    /// The bound JID once ready.
    pub fn jid(&self) -> Option<&FullJid> {
        match &self.state {
            State::Ready { jid } => Some(jid),
            _ => None,
        }
    }

    /// Whether stanzas can be sent.
    pub fn is_ready(&self) -> bool {
        matches!(self.state, State::Ready { .. })
    }

    /// Whether the stream has ended.
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// Whether the stream runs over TLS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// The configuration the stream was made with.
    pub fn config(&self) -> &StreamConfig {
        &self.config
    }

    /// Bytes read from the socket (after TLS decryption, if any).
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) {
        if matches!(self.state, State::Closed | State::TlsUpgrade) {
            if !data.is_empty() && matches!(self.state, State::TlsUpgrade) {
                debug!(len = data.len(), "ignoring plain bytes after <proceed/>");
            }
            return;
        }
        if let Err(e) = self.reader.feed(data) {
            self.fail_xml(e);
            return;
        }
        while let Some(event) = self.reader.next_event() {
            match event {
                xml::StreamEvent::Header(_) => self.on_header(),
                xml::StreamEvent::Element(el) => self.on_element(now, el),
                xml::StreamEvent::End => self.on_stream_end(),
            }
            if matches!(self.state, State::Closed | State::TlsUpgrade) {
                break;
            }
        }
    }

    /// The socket reached end of file or failed.
    pub fn handle_eof(&mut self) {
        match self.state {
            State::Closed => {}
            State::Closing { .. } => self.finish(CloseReason::Local),
            _ => self.finish(CloseReason::PeerClosed),
        }
    }

    /// The runtime finished the TLS handshake asked for by
    /// [`StreamEvent::StartTls`]; the stream restarts over TLS.
    pub fn handle_tls_established(&mut self, now: Instant) {
        if !matches!(self.state, State::TlsUpgrade) {
            warn!("TLS established in an unexpected state; ignored");
            return;
        }
        self.tls = true;
        self.reader.reset();
        self.state = State::Header(Phase::Secured);
        self.negotiation_deadline = Some(now + self.config.negotiation_timeout);
        self.write_header();
    }

    /// Fires what is due at `now`: negotiation deadline, keepalive ping, ping
    /// answer deadline, close deadline.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let State::Closing { deadline } = self.state {
            if now >= deadline {
                self.finish(CloseReason::Local);
            }
            return;
        }
        if self.negotiation_deadline.is_some_and(|d| now >= d) {
            self.fail(
                CloseReason::Timeout("stream negotiation"),
                "connection-timeout",
            );
            return;
        }
        if self.pending_ping.as_ref().is_some_and(|(_, d)| now >= *d) {
            self.fail(CloseReason::Timeout("keepalive ping"), "connection-timeout");
            return;
        }
        if self.next_ping.is_some_and(|d| now >= d) && self.pending_ping.is_none() {
            let id = format!("ping-{}", self.rng.token(10));
            let ping = Element::builder("iq", ns::CLIENT)
                .attr(ncname("type"), "get")
                .attr(ncname("id"), id.as_str())
                .attr(ncname("to"), self.config.domain.as_str())
                .append(Element::builder("ping", ns::PING).build())
                .build();
            self.write_element(&ping);
            self.pending_ping = Some((id, now + self.config.reply_timeout));
            self.next_ping = None;
        }
    }

    /// Queues a stanza. Fails unless the stream is ready.
    pub fn send(&mut self, stanza: &Element) -> Result<(), NotReady> {
        if !self.is_ready() {
            return Err(NotReady);
        }
        self.write_element(stanza);
        Ok(())
    }

    /// Starts a clean close: `</stream:stream>` is queued, and the stream
    /// reports [`CloseReason::Local`] when the server answers or after a
    /// short grace period.
    pub fn close(&mut self, now: Instant) {
        match self.state {
            State::Closed | State::Closing { .. } => {}
            State::TlsUpgrade => self.finish(CloseReason::Local),
            _ => {
                self.transmit
                    .extend_from_slice(xml::stream_close().as_bytes());
                self.state = State::Closing {
                    deadline: now + CLOSE_TIMEOUT,
                };
            }
        }
    }

    /// Bytes to write to the socket, if any.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        if self.transmit.is_empty() {
            None
        } else {
            Some(std::mem::take(&mut self.transmit))
        }
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<StreamEvent> {
        self.events.pop_front()
    }

    /// The earliest instant at which [`XmppStream::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Closed | State::TlsUpgrade => None,
            State::Closing { deadline } => Some(deadline),
            _ => [
                self.negotiation_deadline,
                self.pending_ping.as_ref().map(|(_, d)| *d),
                self.next_ping.filter(|_| self.pending_ping.is_none()),
            ]
            .into_iter()
            .flatten()
            .min(),
        }
    }

    fn on_header(&mut self) {
        match self.state {
            State::Header(phase) => self.state = State::Features(phase),
            _ => self.fail(
                CloseReason::Protocol("a second stream header".into()),
                "bad-format",
            ),
        }
    }

    fn on_stream_end(&mut self) {
        if matches!(self.state, State::Closing { .. }) {
            self.finish(CloseReason::Local);
        } else {
            self.transmit
                .extend_from_slice(xml::stream_close().as_bytes());
            self.finish(CloseReason::PeerClosed);
        }
    }

    fn on_element(&mut self, now: Instant, el: Element) {
        if el.is("error", ns::STREAM) {
            let (condition, text) = stream_error_details(&el);
            self.transmit
                .extend_from_slice(xml::stream_close().as_bytes());
            self.finish(CloseReason::StreamError { condition, text });
            return;
        }
        match std::mem::replace(&mut self.state, State::Closed) {
            State::Features(phase) if el.is("features", ns::STREAM) => {
                self.on_features(phase, &el);
            }
            State::StartTls if el.is("proceed", ns::TLS) => {
                self.state = State::TlsUpgrade;
                self.events.push_back(StreamEvent::StartTls);
            }
            State::StartTls if el.is("failure", ns::TLS) => {
                self.finish(CloseReason::TlsRefused);
            }
            State::Auth(sasl) => self.on_sasl(sasl, &el),
            State::Bind { id, session } if is_reply_to(&el, &id) => {
                self.on_bind_reply(now, &el, session);
            }
            State::Session { id, jid } if is_reply_to(&el, &id) => {
                if el.attr("type") == Some("result") {
                    self.become_ready(now, jid);
                } else {
                    let condition = stanza_error_condition(&el);
                    self.fail(CloseReason::BindFailed { condition }, "undefined-condition");
                }
            }
            State::Ready { jid } => {
                self.state = State::Ready { jid };
                self.on_ready_element(now, el);
            }
            State::Closing { deadline } => {
                // Stanzas still in flight while closing are dropped.
                self.state = State::Closing { deadline };
            }
            state => {
                let what = format!(
                    "unexpected <{} xmlns='{}'> in state {state:?}",
                    el.name(),
                    el.ns()
                );
                self.fail(CloseReason::Protocol(what), "unsupported-stanza-type");
            }
        }
    }

    fn on_features(&mut self, phase: Phase, features: &Element) {
        if phase == Phase::Authenticated {
            if !features.has_child("bind", ns::BIND) {
                self.fail(
                    CloseReason::Protocol("no resource binding offered after SASL".into()),
                    "unsupported-feature",
                );
                return;
            }
            let session = features
                .get_child("session", ns::SESSION)
                .is_some_and(|s| !s.has_child("optional", ns::SESSION));
            let id = format!("bind-{}", self.rng.token(8));
            let bind = Element::builder("iq", ns::CLIENT)
                .attr(ncname("type"), "set")
                .attr(ncname("id"), id.as_str())
                .append(Element::builder("bind", ns::BIND).append(
                    Element::builder("resource", ns::BIND).append(self.config.resource.as_str()),
                ))
                .build();
            self.write_element(&bind);
            self.state = State::Bind { id, session };
            return;
        }

        let starttls = features.get_child("starttls", ns::TLS);
        if !self.tls {
            match (starttls, self.config.use_tls) {
                (Some(_), true) => {
                    self.transmit
                        .extend_from_slice(format!("<starttls xmlns='{}'/>", ns::TLS).as_bytes());
                    self.state = State::StartTls;
                    return;
                }
                (None, true) => {
                    self.fail(CloseReason::TlsUnavailable, "policy-violation");
                    return;
                }
                (Some(s), false) if s.has_child("required", ns::TLS) => {
                    self.fail(CloseReason::TlsRequired, "policy-violation");
                    return;
                }
                _ => {}
            }
        }

        let offered: Vec<String> = features
            .get_child("mechanisms", ns::SASL)
            .map(|m| {
                m.children()
                    .filter(|c| c.is("mechanism", ns::SASL))
                    .map(|c| c.text().trim().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        let Some(kind) = MechanismKind::choose(offered.iter().map(String::as_str), self.tls) else {
            self.fail(CloseReason::NoMechanism { offered }, "policy-violation");
            return;
        };
        let nonce = self.rng.token(24);
        let mut sasl = SaslClient::new(kind, &self.config.username, &self.config.password, nonce);
        let initial = sasl.initial();
        let mut auth = Element::builder("auth", ns::SASL).attr(ncname("mechanism"), kind.name());
        auth = auth.append(encode_sasl(&initial));
        self.write_element(&auth.build());
        self.state = State::Auth(sasl);
    }

    fn on_sasl(&mut self, mut sasl: SaslClient, el: &Element) {
        if el.ns() != ns::SASL {
            let what = format!("<{}> during SASL", el.name());
            self.fail(CloseReason::Protocol(what), "not-authorized");
            return;
        }
        let payload = match decode_sasl(&el.text()) {
            Ok(p) => p,
            Err(()) => {
                self.fail(
                    CloseReason::Sasl(SaslError::Malformed("base64")),
                    "bad-format",
                );
                return;
            }
        };
        match el.name() {
            "challenge" => match sasl.respond(&payload) {
                Ok(answer) => {
                    let response = Element::builder("response", ns::SASL)
                        .append(encode_sasl(&answer))
                        .build();
                    self.write_element(&response);
                    self.state = State::Auth(sasl);
                }
                Err(e) => {
                    self.write_element(&Element::builder("abort", ns::SASL).build());
                    self.close_with(CloseReason::Sasl(e));
                }
            },
            "success" => match sasl.finish(&payload) {
                Ok(()) => {
                    debug!(mechanism = sasl.kind().name(), "authenticated");
                    self.reader.reset();
                    self.state = State::Header(Phase::Authenticated);
                    self.write_header();
                }
                Err(e) => self.close_with(CloseReason::Sasl(e)),
            },
            "failure" => {
                let condition = el
                    .children()
                    .find(|c| c.name() != "text")
                    .map(|c| c.name().to_owned())
                    .unwrap_or_else(|| "not-authorized".to_owned());
                let text = el.get_child("text", ns::SASL).map(Element::text);
                self.close_with(CloseReason::AuthFailed {
                    account: self.config.account(),
                    condition,
                    text,
                });
            }
            other => {
                let what = format!("unexpected SASL element <{other}>");
                self.fail(CloseReason::Protocol(what), "not-authorized");
            }
        }
    }

    fn on_bind_reply(&mut self, now: Instant, el: &Element, session: bool) {
        if el.attr("type") != Some("result") {
            let condition = stanza_error_condition(el);
            self.close_with(CloseReason::BindFailed { condition });
            return;
        }
        let jid = el
            .get_child("bind", ns::BIND)
            .and_then(|b| b.get_child("jid", ns::BIND))
            .and_then(|j| FullJid::new(j.text().trim()).ok());
        let Some(jid) = jid else {
            self.fail(
                CloseReason::Protocol("bind result without a full JID".into()),
                "bad-format",
            );
            return;
        };
        if session {
            let id = format!("sess-{}", self.rng.token(8));
            let iq = Element::builder("iq", ns::CLIENT)
                .attr(ncname("type"), "set")
                .attr(ncname("id"), id.as_str())
                .append(Element::builder("session", ns::SESSION))
                .build();
            self.write_element(&iq);
            self.state = State::Session { id, jid };
        } else {
            self.become_ready(now, jid);
        }
    }

    fn become_ready(&mut self, now: Instant, jid: FullJid) {
        self.negotiation_deadline = None;
        if !self.config.ping_interval.is_zero() {
            self.next_ping = Some(now + self.config.ping_interval);
        }
        self.state = State::Ready { jid: jid.clone() };
        self.events.push_back(StreamEvent::Ready { jid });
    }

    fn on_ready_element(&mut self, now: Instant, el: Element) {
        if el.ns() != ns::CLIENT {
            debug!(
                name = el.name(),
                ns = el.ns(),
                "ignoring stream-level element"
            );
            return;
        }
        if el.name() == "iq" {
            // The answer to our keepalive: any answer proves the link lives.
            let answers_ping = self
                .pending_ping
                .as_ref()
                .is_some_and(|(id, _)| el.attr("id") == Some(id.as_str()))
                && matches!(el.attr("type"), Some("result" | "error"));
            if answers_ping {
                self.pending_ping = None;
                if !self.config.ping_interval.is_zero() {
                    self.next_ping = Some(now + self.config.ping_interval);
                }
                return;
            }
            if el.attr("type") == Some("get") && is_lone_ping(&el) {
                let mut pong = Element::builder("iq", ns::CLIENT).attr(ncname("type"), "result");
                if let Some(id) = el.attr("id") {
                    pong = pong.attr(ncname("id"), id);
                }
                if let Some(from) = el.attr("from") {
                    pong = pong.attr(ncname("to"), from);
                }
                self.write_element(&pong.build());
                return;
            }
        }
        self.events.push_back(StreamEvent::Stanza(el));
    }

    fn write_header(&mut self) {
        self.transmit
            .extend_from_slice(xml::stream_header(&self.config.domain, None).as_bytes());
    }

    fn write_element(&mut self, el: &Element) {
        xml::write_element(el, &mut self.transmit);
    }

    /// Ends the stream because of bad XML: stream error, then close.
    fn fail_xml(&mut self, e: XmlError) {
        let condition = e.condition();
        self.fail(CloseReason::Xml(e), condition);
    }

    /// Ends the stream with a stream error of ours.
    fn fail(&mut self, reason: CloseReason, condition: &str) {
        warn!(%reason, condition, "closing the XMPP stream with a stream error");
        self.transmit
            .extend_from_slice(xml::stream_error(condition, None).as_bytes());
        self.transmit
            .extend_from_slice(xml::stream_close().as_bytes());
        self.finish(reason);
    }

    /// Ends the stream cleanly with `</stream:stream>`, reporting `reason`.
    fn close_with(&mut self, reason: CloseReason) {
        self.transmit
            .extend_from_slice(xml::stream_close().as_bytes());
        self.finish(reason);
    }

    fn finish(&mut self, reason: CloseReason) {
        self.state = State::Closed;
        self.next_ping = None;
        self.pending_ping = None;
        self.negotiation_deadline = None;
        self.events.push_back(StreamEvent::Closed(reason));
    }
}

fn encode_sasl(data: &[u8]) -> String {
    if data.is_empty() {
        "=".to_owned()
    } else {
        BASE64.encode(data)
    }
}

fn decode_sasl(text: &str) -> Result<Vec<u8>, ()> {
    let text = text.trim();
    if text.is_empty() || text == "=" {
        return Ok(Vec::new());
    }
    BASE64.decode(text).map_err(|_| ())
}

fn is_reply_to(el: &Element, id: &str) -> bool {
    el.is("iq", ns::CLIENT)
        && el.attr("id") == Some(id)
        && matches!(el.attr("type"), Some("result" | "error"))
}

fn is_lone_ping(iq: &Element) -> bool {
    let mut children = iq.children();
    matches!((children.next(), children.next()), (Some(c), None) if c.is("ping", ns::PING))
}

/// The condition of a stanza `<error>`, or `undefined-condition`.
fn stanza_error_condition(el: &Element) -> String {
    el.children()
        .find(|c| c.name() == "error")
        .and_then(|e| {
            e.children()
                .find(|c| c.ns() == ns::STANZAS && c.name() != "text")
        })
        .map(|c| c.name().to_owned())
        .unwrap_or_else(|| "undefined-condition".to_owned())
}

fn stream_error_details(el: &Element) -> (String, Option<String>) {
    let condition = el
        .children()
        .find(|c| c.ns() == ns::STREAM_ERRORS && c.name() != "text")
        .map(|c| c.name().to_owned())
        .unwrap_or_else(|| "undefined-condition".to_owned());
    let text = el.get_child("text", ns::STREAM_ERRORS).map(Element::text);
    (condition, text)
}

#[cfg(test)]
mod tests;
