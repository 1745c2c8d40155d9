//! A blocking XMPP client for end-to-end tests, built on the focus's own
//! sans-IO [`XmppStream`] over a std socket and rustls.
//!
//! It plays a peer of the focus (a bridge account, say) that logs in to the
//! test Prosody and exchanges stanzas with the focus, or a conference
//! participant logged in anonymously ([`TestClient::login_anonymous`], as
//! Jitsi Meet clients log in to docker-jitsi-meet's main domain).

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use focus_proto::xml::{StreamReader, stream_close, stream_header, write_element};
use focus_proto::xmpp::{StreamConfig, StreamEvent, XmppStream};
use minidom::Element;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

enum Socket {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
    Switching,
}

impl Socket {
    fn tcp(&self) -> &TcpStream {
        match self {
            Socket::Plain(s) => s,
            Socket::Tls(s) => s.get_ref(),
            Socket::Switching => unreachable!("only during the TLS upgrade"),
        }
    }
}

impl Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Socket::Plain(s) => s.read(buf),
            Socket::Tls(s) => s.read(buf),
            Socket::Switching => Err(io::ErrorKind::NotConnected.into()),
        }
    }
}

impl Write for Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Socket::Plain(s) => s.write(buf),
            Socket::Tls(s) => s.write(buf),
            Socket::Switching => Err(io::ErrorKind::NotConnected.into()),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Socket::Plain(s) => s.flush(),
            Socket::Tls(s) => s.flush(),
            Socket::Switching => Ok(()),
        }
    }
}

/// The XMPP layer of a [`TestClient`].
enum Engine {
    /// The focus's own client stream (STARTTLS, SCRAM, bind).
    Focus(Box<XmppStream>),
    /// A plain reader/writer pair, negotiated by hand (anonymous login).
    Raw(Box<RawStream>),
}

struct RawStream {
    reader: StreamReader,
    out: Vec<u8>,
    /// Why the stream ended, once it has.
    closed: Option<String>,
}

const NS_TLS: &str = "urn:ietf:params:xml:ns:xmpp-tls";
const NS_SASL: &str = "urn:ietf:params:xml:ns:xmpp-sasl";
const NS_BIND: &str = "urn:ietf:params:xml:ns:xmpp-bind";
const NS_STREAMS: &str = "http://etherx.jabber.org/streams";

/// A logged-in test client.
pub struct TestClient {
    socket: Socket,
    engine: Engine,
    inbox: Vec<Element>,
    jid: String,
}

impl TestClient {
    /// Connects to `127.0.0.1:port`, does STARTTLS trusting `ca_pem`, logs in
    /// as `user@domain` with `password`, and returns once bound.
    pub fn login(
        port: u16,
        ca_pem: &Path,
        domain: &str,
        user: &str,
        password: &str,
    ) -> io::Result<Self> {
        Self::login_with_resource(port, ca_pem, domain, user, password, "test")
    }

    /// [`TestClient::login`] binding `resource` instead of `test`, so that
    /// several clients can share one account (Prosody would replace an
    /// older session that binds the same resource).
    pub fn login_with_resource(
        port: u16,
        ca_pem: &Path,
        domain: &str,
        user: &str,
        password: &str,
        resource: &str,
    ) -> io::Result<Self> {
        let tcp = TcpStream::connect(("127.0.0.1", port))?;
        tcp.set_nodelay(true)?;
        tcp.set_read_timeout(Some(Duration::from_millis(100)))?;
        let mut config = StreamConfig::new(domain, user, password, resource);
        config.ping_interval = Duration::ZERO;
        let seed = [0x5a; 32];
        let stream = XmppStream::new(config, Instant::now(), seed);
        let mut client = TestClient {
            socket: Socket::Plain(tcp),
            engine: Engine::Focus(Box::new(stream)),
            inbox: Vec::new(),
            jid: String::new(),
        };
        let tls = tls_config(ca_pem)?;
        let deadline = Instant::now() + Duration::from_secs(20);
        while client.jid.is_empty() {
            if Instant::now() > deadline {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "login timed out"));
            }
            client.flush()?;
            while let Some(ev) = client.focus_stream().poll_event() {
                match ev {
                    StreamEvent::StartTls => {
                        let Socket::Plain(tcp) =
                            std::mem::replace(&mut client.socket, Socket::Switching)
                        else {
                            return Err(io::Error::other("STARTTLS twice"));
                        };
                        let name =
                            ServerName::try_from(domain.to_owned()).map_err(io::Error::other)?;
                        let conn = rustls::ClientConnection::new(tls.clone(), name)
                            .map_err(io::Error::other)?;
                        client.socket = Socket::Tls(Box::new(rustls::StreamOwned::new(conn, tcp)));
                        client.focus_stream().handle_tls_established(Instant::now());
                    }
                    StreamEvent::Ready { jid } => client.jid = jid.to_string(),
                    StreamEvent::Stanza(el) => client.inbox.push(el),
                    StreamEvent::Closed(reason) => {
                        return Err(io::Error::other(format!("login failed: {reason}")));
                    }
                }
            }
            if client.jid.is_empty() {
                client.read_once()?;
            }
        }
        client.flush()?;
        Ok(client)
    }

    /// Connects to `127.0.0.1:port`, does STARTTLS trusting `ca_pem`, logs in
    /// to `domain` with SASL ANONYMOUS (as Jitsi Meet participants do on
    /// docker-jitsi-meet's main domain), binds a server-chosen resource and
    /// returns. No initial presence is sent.
    pub fn login_anonymous(port: u16, ca_pem: &Path, domain: &str) -> io::Result<Self> {
        let tcp = TcpStream::connect(("127.0.0.1", port))?;
        tcp.set_nodelay(true)?;
        tcp.set_read_timeout(Some(Duration::from_millis(100)))?;
        let mut client = TestClient {
            socket: Socket::Plain(tcp),
            engine: Engine::Raw(Box::new(RawStream {
                reader: StreamReader::new(Default::default()),
                out: Vec::new(),
                closed: None,
            })),
            inbox: Vec::new(),
            jid: String::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        let fail = |what: String| io::Error::other(format!("anonymous login to {domain}: {what}"));

        // Plain-text stream: STARTTLS.
        client.raw_restart(domain)?;
        let features = client.next_negotiation_element(deadline)?;
        if features.get_child("starttls", NS_TLS).is_none() {
            return Err(fail(format!(
                "no STARTTLS offered: {}",
                String::from(&features)
            )));
        }
        client.send(&element(&format!("<starttls xmlns='{NS_TLS}'/>")))?;
        let proceed = client.next_negotiation_element(deadline)?;
        if !proceed.is("proceed", NS_TLS) {
            return Err(fail(format!(
                "STARTTLS refused: {}",
                String::from(&proceed)
            )));
        }
        let Socket::Plain(tcp) = std::mem::replace(&mut client.socket, Socket::Switching) else {
            return Err(fail("STARTTLS twice".into()));
        };
        let name = ServerName::try_from(domain.to_owned()).map_err(io::Error::other)?;
        let conn =
            rustls::ClientConnection::new(tls_config(ca_pem)?, name).map_err(io::Error::other)?;
        client.socket = Socket::Tls(Box::new(rustls::StreamOwned::new(conn, tcp)));

        // Over TLS: SASL ANONYMOUS.
        client.raw_restart(domain)?;
        let features = client.next_negotiation_element(deadline)?;
        let offered = features.get_child("mechanisms", NS_SASL).is_some_and(|m| {
            m.children()
                .any(|c| c.is("mechanism", NS_SASL) && c.text() == "ANONYMOUS")
        });
        if !offered {
            return Err(fail(format!(
                "ANONYMOUS not offered: {}",
                String::from(&features)
            )));
        }
        client.send(&element(&format!(
            "<auth xmlns='{NS_SASL}' mechanism='ANONYMOUS'>=</auth>"
        )))?;
        let outcome = client.next_negotiation_element(deadline)?;
        if !outcome.is("success", NS_SASL) {
            return Err(fail(format!(
                "authentication failed: {}",
                String::from(&outcome)
            )));
        }

        // Authenticated stream: bind.
        client.raw_restart(domain)?;
        let features = client.next_negotiation_element(deadline)?;
        if features.get_child("bind", NS_BIND).is_none() {
            return Err(fail(format!(
                "no resource binding offered: {}",
                String::from(&features)
            )));
        }
        let bind = element(&format!(
            "<iq xmlns='jabber:client' type='set' id='bind-1'><bind xmlns='{NS_BIND}'/></iq>"
        ));
        let left = deadline.saturating_duration_since(Instant::now());
        let answer = client.iq(&bind, left)?;
        let jid = answer
            .get_child("bind", NS_BIND)
            .and_then(|b| b.get_child("jid", NS_BIND))
            .map(|j| j.text())
            .filter(|j| !j.is_empty())
            .ok_or_else(|| fail(format!("bind failed: {}", String::from(&answer))))?;
        client.jid = jid;
        Ok(client)
    }

    /// The bound full JID.
    pub fn jid(&self) -> &str {
        &self.jid
    }

    /// Sends a stanza.
    pub fn send(&mut self, stanza: &Element) -> io::Result<()> {
        match &mut self.engine {
            Engine::Focus(stream) => stream.send(stanza).map_err(io::Error::other)?,
            Engine::Raw(raw) => write_element(stanza, &mut raw.out),
        }
        self.flush()
    }

    /// Waits up to `timeout` for a stanza matching `pred`.
    pub fn wait_for(
        &mut self,
        timeout: Duration,
        pred: impl Fn(&Element) -> bool,
    ) -> io::Result<Element> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(i) = self.inbox.iter().position(&pred) {
                return Ok(self.inbox.remove(i));
            }
            if Instant::now() > deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "no matching stanza",
                ));
            }
            self.pump()?;
        }
    }

    /// Reads for the whole of `duration` and returns every stanza matching
    /// `pred` that arrived (or was already waiting), in order; the others
    /// stay for later `wait_for` calls. Ends early only when the stream
    /// closes (then what was collected is returned).
    pub fn collect_for(
        &mut self,
        duration: Duration,
        pred: impl Fn(&Element) -> bool,
    ) -> Vec<Element> {
        let deadline = Instant::now() + duration;
        while Instant::now() < deadline {
            if self.pump().is_err() {
                break;
            }
        }
        self.take_matching(pred)
    }

    /// Removes and returns the stanzas already received that match `pred`,
    /// in order, without reading.
    pub fn take_matching(&mut self, pred: impl Fn(&Element) -> bool) -> Vec<Element> {
        let (taken, kept) = std::mem::take(&mut self.inbox)
            .into_iter()
            .partition(|el| pred(el));
        self.inbox = kept;
        taken
    }

    /// Sends an IQ and waits for the answer with the same id.
    pub fn iq(&mut self, iq: &Element, timeout: Duration) -> io::Result<Element> {
        let id = iq.attr("id").unwrap_or_default().to_owned();
        self.send(iq)?;
        self.wait_for(timeout, |el| {
            el.name() == "iq"
                && el.attr("id") == Some(id.as_str())
                && matches!(el.attr("type"), Some("result" | "error"))
        })
    }

    /// Closes the stream cleanly.
    pub fn close(mut self) {
        match &mut self.engine {
            Engine::Focus(stream) => stream.close(Instant::now()),
            Engine::Raw(raw) => raw.out.extend_from_slice(stream_close().as_bytes()),
        }
        let _ = self.flush();
        let _ = self.socket.tcp().shutdown(std::net::Shutdown::Both);
    }

    fn focus_stream(&mut self) -> &mut XmppStream {
        match &mut self.engine {
            Engine::Focus(stream) => stream,
            Engine::Raw(_) => unreachable!("only the password login uses XmppStream"),
        }
    }

    /// Starts a new stream (at the start, after STARTTLS and after SASL).
    fn raw_restart(&mut self, domain: &str) -> io::Result<()> {
        if let Engine::Raw(raw) = &mut self.engine {
            raw.reader.reset();
            raw.out
                .extend_from_slice(stream_header(domain, None).as_bytes());
        }
        self.flush()
    }

    /// The next depth-1 element during a hand-made negotiation; a stream
    /// error or the end of the stream is an error.
    fn next_negotiation_element(&mut self, deadline: Instant) -> io::Result<Element> {
        loop {
            if !self.inbox.is_empty() {
                let el = self.inbox.remove(0);
                if el.is("error", NS_STREAMS) {
                    return Err(io::Error::other(format!(
                        "stream error: {}",
                        String::from(&el)
                    )));
                }
                return Ok(el);
            }
            if Instant::now() > deadline {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "login timed out"));
            }
            self.pump()?;
        }
    }

    /// One read (up to 100 ms), then what it produced into the inbox; an
    /// error once the stream has closed.
    fn pump(&mut self) -> io::Result<()> {
        self.read_once()?;
        self.flush()?;
        match &mut self.engine {
            Engine::Focus(stream) => {
                while let Some(ev) = stream.poll_event() {
                    match ev {
                        StreamEvent::Stanza(el) => self.inbox.push(el),
                        StreamEvent::Closed(reason) => {
                            return Err(io::Error::other(format!("closed: {reason}")));
                        }
                        _ => {}
                    }
                }
                Ok(())
            }
            Engine::Raw(raw) => {
                while let Some(ev) = raw.reader.next_event() {
                    match ev {
                        focus_proto::xml::StreamEvent::Element(el) => self.inbox.push(el),
                        focus_proto::xml::StreamEvent::End => {
                            raw.closed
                                .get_or_insert_with(|| "the server closed the stream".into());
                        }
                        focus_proto::xml::StreamEvent::Header(_) => {}
                    }
                }
                match &raw.closed {
                    Some(reason) => Err(io::Error::other(format!("closed: {reason}"))),
                    None => Ok(()),
                }
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.engine {
            Engine::Focus(stream) => {
                while let Some(bytes) = stream.poll_transmit() {
                    self.socket.write_all(&bytes)?;
                }
            }
            Engine::Raw(raw) => {
                if !raw.out.is_empty() {
                    let out = std::mem::take(&mut raw.out);
                    self.socket.write_all(&out)?;
                }
            }
        }
        self.socket.flush()
    }

    fn read_once(&mut self) -> io::Result<()> {
        let mut buf = [0u8; 16 * 1024];
        let read = self.socket.read(&mut buf);
        let now = Instant::now();
        match (&mut self.engine, read) {
            (Engine::Focus(stream), Ok(0)) => stream.handle_eof(),
            (Engine::Focus(stream), Ok(n)) => stream.handle_input(now, &buf[..n]),
            (Engine::Raw(raw), Ok(0)) => {
                raw.closed.get_or_insert_with(|| "connection closed".into());
            }
            (Engine::Raw(raw), Ok(n)) => {
                if let Err(e) = raw.reader.feed(&buf[..n]) {
                    raw.closed
                        .get_or_insert_with(|| format!("bad XML from the server: {e}"));
                }
            }
            (engine, Err(e))
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                if let Engine::Focus(stream) = engine {
                    stream.handle_timeout(now);
                }
            }
            (_, Err(e)) => return Err(e),
        }
        Ok(())
    }
}

/// Parses a stanza written in a test; panics on invalid XML.
fn element(xml: &str) -> Element {
    xml.parse()
        .unwrap_or_else(|e| panic!("invalid XML in the test client: {e}: {xml}"))
}

fn tls_config(ca_pem: &Path) -> io::Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca_pem).map_err(io::Error::other)? {
        roots
            .add(cert.map_err(io::Error::other)?)
            .map_err(io::Error::other)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
