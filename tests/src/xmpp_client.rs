//! A blocking XMPP client for end-to-end tests, built on the focus's own
//! sans-IO [`XmppStream`] over a std socket and rustls.
//!
//! It plays a peer of the focus (a bridge account, say) that logs in to the
//! test Prosody and exchanges stanzas with the focus.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// A logged-in test client.
pub struct TestClient {
    socket: Socket,
    stream: XmppStream,
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
        let tcp = TcpStream::connect(("127.0.0.1", port))?;
        tcp.set_read_timeout(Some(Duration::from_millis(100)))?;
        let mut config = StreamConfig::new(domain, user, password, "test");
        config.ping_interval = Duration::ZERO;
        let seed = [0x5a; 32];
        let stream = XmppStream::new(config, Instant::now(), seed);
        let mut client = TestClient {
            socket: Socket::Plain(tcp),
            stream,
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
            while let Some(ev) = client.stream.poll_event() {
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
                        client.stream.handle_tls_established(Instant::now());
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

    /// The bound full JID.
    pub fn jid(&self) -> &str {
        &self.jid
    }

    /// Sends a stanza.
    pub fn send(&mut self, stanza: &Element) -> io::Result<()> {
        self.stream.send(stanza).map_err(io::Error::other)?;
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
            self.read_once()?;
            self.flush()?;
            while let Some(ev) = self.stream.poll_event() {
                match ev {
                    StreamEvent::Stanza(el) => self.inbox.push(el),
                    StreamEvent::Closed(reason) => {
                        return Err(io::Error::other(format!("closed: {reason}")));
                    }
                    _ => {}
                }
            }
        }
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
        self.stream.close(Instant::now());
        let _ = self.flush();
        let _ = self.socket.tcp().shutdown(std::net::Shutdown::Both);
    }

    fn flush(&mut self) -> io::Result<()> {
        while let Some(bytes) = self.stream.poll_transmit() {
            self.socket.write_all(&bytes)?;
        }
        self.socket.flush()
    }

    fn read_once(&mut self) -> io::Result<()> {
        let mut buf = [0u8; 16 * 1024];
        match self.socket.read(&mut buf) {
            Ok(0) => {
                self.stream.handle_eof();
                Ok(())
            }
            Ok(n) => {
                self.stream.handle_input(Instant::now(), &buf[..n]);
                Ok(())
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                self.stream.handle_timeout(Instant::now());
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
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
