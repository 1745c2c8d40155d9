//! One XMPP connection: TCP, STARTTLS, the [`XmppStream`], and reconnection.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::channel::{mpsc, oneshot};
use futures::future::{FutureExt, Shared};
use futures::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use futures::{SinkExt, StreamExt};
use jid::FullJid;
use minidom::Element;
use rustls::ClientConfig;
use tracing::{debug, error, info, warn};

use super::backoff::Backoff;
use super::settings::ConnSettings;
use super::{BoxedIo, DeadlineTimer, Runtime, timeout_at};
use crate::ConnId;
use crate::rng::FocusRng;
use crate::xmpp::{CloseReason, StreamEvent, XmppStream};

/// How long a TCP connect may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a TLS handshake may take.
const TLS_TIMEOUT: Duration = Duration::from_secs(15);
/// How long writing one batch of bytes may take before the link counts as
/// dead.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// A connection that stayed ready this long resets the backoff.
const STABLE_AFTER: Duration = Duration::from_secs(30);
/// Read buffer size.
const READ_CHUNK: usize = 16 * 1024;

/// What a connection task tells the focus loop.
pub(crate) enum FromConn {
    /// The stream is ready; stanzas for it go into `tx` until it is down.
    Up {
        conn: ConnId,
        jid: FullJid,
        tx: mpsc::UnboundedSender<Element>,
    },
    /// The stream (or the attempt to make one) ended.
    Down { conn: ConnId, reason: String },
    /// A stanza arrived.
    Stanza { conn: ConnId, stanza: Element },
}

/// Fires once when the process shuts down; cheap to clone.
#[derive(Clone)]
pub(crate) struct Stop(Shared<oneshot::Receiver<()>>);

impl Stop {
    /// A stop signal and the handle that fires it (by being dropped or
    /// used).
    pub(crate) fn new() -> (oneshot::Sender<()>, Self) {
        let (tx, rx) = oneshot::channel();
        (tx, Self(rx.shared()))
    }

    /// Ready once the signal has fired.
    pub(crate) fn poll_stopped(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.0.poll_unpin(cx).map(|_| ())
    }

    /// Resolves with `fut`'s output, or `None` if the stop fires first.
    pub(crate) async fn or<F: std::future::Future>(&mut self, fut: F) -> Option<F::Output> {
        let mut fut = std::pin::pin!(fut);
        futures::future::poll_fn(|cx| {
            if self.poll_stopped(cx).is_ready() {
                return Poll::Ready(None);
            }
            fut.as_mut().poll(cx).map(Some)
        })
        .await
    }
}

/// The socket of a session: plain TCP until STARTTLS, then TLS.
enum Sock<T> {
    Plain(T),
    Tls(BoxedIo),
    /// In the middle of the upgrade (or after a failed one).
    Gone,
}

fn gone() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::NotConnected, "socket in TLS upgrade")
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncRead for Sock<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s).poll_read(cx, buf),
            Self::Gone => Poll::Ready(Err(gone())),
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Sock<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s).poll_write(cx, buf),
            Self::Gone => Poll::Ready(Err(gone())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s).poll_flush(cx),
            Self::Gone => Poll::Ready(Err(gone())),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_close(cx),
            Self::Tls(s) => Pin::new(s).poll_close(cx),
            Self::Gone => Poll::Ready(Ok(())),
        }
    }
}

/// How a session ended.
struct SessionEnd {
    /// For the focus's health message and the log.
    reason: String,
    /// How long the stream had been ready, if it got there.
    ready_for: Option<Duration>,
    /// The process is shutting down: do not reconnect.
    stopped: bool,
}

/// What woke a session up.
enum Wake {
    Stop,
    Timer(Instant),
    Send(Option<Element>),
    Read(std::io::Result<usize>),
}

/// The task of one XMPP connection.
pub(crate) struct ConnTask<R: Runtime> {
    rt: R,
    settings: ConnSettings,
    /// Present when `use-tls` is on.
    tls: Option<Arc<ClientConfig>>,
    to_focus: mpsc::Sender<FromConn>,
    stop: Stop,
    rng: FocusRng,
    backoff: Backoff,
}

impl<R: Runtime> ConnTask<R> {
    pub(crate) fn new(
        rt: R,
        settings: ConnSettings,
        tls: Option<Arc<ClientConfig>>,
        to_focus: mpsc::Sender<FromConn>,
        stop: Stop,
        seed: [u8; 32],
    ) -> Self {
        let mut rng = FocusRng::from_seed(seed);
        let backoff = Backoff::standard(rng.child_seed());
        Self {
            rt,
            settings,
            tls,
            to_focus,
            stop,
            rng,
            backoff,
        }
    }

    fn conn(&self) -> &ConnId {
        &self.settings.conn
    }

    /// Connects, runs sessions and reconnects until the process stops.
    pub(crate) async fn run(mut self) {
        loop {
            let end = self.session().await;
            let down = FromConn::Down {
                conn: self.conn().clone(),
                reason: end.reason.clone(),
            };
            // The focus loop is gone only when shutting down.
            let _ = self.to_focus.send(down).await;
            if end.stopped {
                info!(conn = %self.conn(), "XMPP connection closed");
                return;
            }
            warn!(conn = %self.conn(), "XMPP connection lost: {}", end.reason);
            if end.ready_for.is_some_and(|d| d >= STABLE_AFTER) {
                self.backoff.reset();
            }
            let delay = self.backoff.next_delay();
            info!(conn = %self.conn(), "reconnecting in {delay:.1?}");
            let at = self.rt.now() + delay;
            let rt = self.rt.clone();
            if self.stop.or(super::sleep_until(&rt, at)).await.is_none() {
                info!(conn = %self.conn(), "XMPP connection stopped while waiting to reconnect");
                return;
            }
        }
    }

    /// One connection attempt and, if it works, the life of the stream.
    async fn session(&mut self) -> SessionEnd {
        let conn = self.conn().clone();
        let (host, port) = (self.settings.host.clone(), self.settings.port);
        let fail = |reason: String| SessionEnd {
            reason,
            ready_for: None,
            stopped: false,
        };
        let stopped = || SessionEnd {
            reason: "shutting down".to_owned(),
            ready_for: None,
            stopped: true,
        };

        debug!(conn = %conn, host = %host, port, "connecting");
        let deadline = self.rt.now() + CONNECT_TIMEOUT;
        let rt = self.rt.clone();
        let connect = timeout_at(&rt, deadline, rt.connect(&host, port));
        let tcp = match self.stop.or(connect).await {
            None => return stopped(),
            Some(None) => return fail(format!("TCP connect to {host}:{port} timed out")),
            Some(Some(Err(e))) => return fail(format!("TCP connect to {host}:{port} failed: {e}")),
            Some(Some(Ok(tcp))) => tcp,
        };

        let mut stream = XmppStream::new(
            self.settings.stream.clone(),
            self.rt.now(),
            self.rng.child_seed(),
        );
        let mut sock: Sock<R::Tcp> = Sock::Plain(tcp);
        let mut outbound: Option<mpsc::UnboundedReceiver<Element>> = None;
        let mut ready_at: Option<Instant> = None;
        let mut timer = DeadlineTimer::default();
        let mut stopping = false;
        let mut buf = vec![0u8; READ_CHUNK];
        let ready_for = |rt: &R, ready_at: Option<Instant>| {
            ready_at.map(|at| rt.now().saturating_duration_since(at))
        };

        'session: loop {
            // First what the stream wants written, then what it reports.
            if let Err(e) = self.flush(&mut stream, &mut sock).await {
                return SessionEnd {
                    reason: format!("write failed: {e}"),
                    ready_for: ready_for(&self.rt, ready_at),
                    stopped: stopping,
                };
            }
            while let Some(event) = stream.poll_event() {
                match event {
                    StreamEvent::StartTls => {
                        let result = self.start_tls(&mut sock).await;
                        match result {
                            TlsOutcome::Done => {
                                stream.handle_tls_established(self.rt.now());
                                continue 'session;
                            }
                            TlsOutcome::Stopped => return stopped(),
                            TlsOutcome::Failed(reason) => return fail(reason),
                        }
                    }
                    StreamEvent::Ready { jid } => {
                        info!(conn = %conn, jid = %jid, tls = stream.is_tls(), "XMPP stream negotiated");
                        let (tx, rx) = mpsc::unbounded();
                        outbound = Some(rx);
                        ready_at = Some(self.rt.now());
                        let up = FromConn::Up {
                            conn: conn.clone(),
                            jid,
                            tx,
                        };
                        let _ = self.to_focus.send(up).await;
                    }
                    StreamEvent::Stanza(stanza) => {
                        let msg = FromConn::Stanza {
                            conn: conn.clone(),
                            stanza,
                        };
                        let _ = self.to_focus.send(msg).await;
                    }
                    StreamEvent::Closed(reason) => {
                        // Our `</stream:stream>` (or stream error), then the
                        // TLS close_notify and the TCP FIN, best effort.
                        let _ = self.flush(&mut stream, &mut sock).await;
                        let deadline = self.rt.now() + Duration::from_secs(1);
                        let _ = timeout_at(&self.rt, deadline, sock.close()).await;
                        self.log_close(&reason);
                        return SessionEnd {
                            reason: reason.to_string(),
                            ready_for: ready_for(&self.rt, ready_at),
                            stopped: stopping || reason == CloseReason::Local,
                        };
                    }
                }
            }

            timer.set(&self.rt, stream.poll_timeout());
            let rt = &self.rt;
            let stop = &mut self.stop;
            let wake = futures::future::poll_fn(|cx| {
                if !stopping && stop.poll_stopped(cx).is_ready() {
                    return Poll::Ready(Wake::Stop);
                }
                if let Poll::Ready(now) = timer.poll(rt, cx) {
                    return Poll::Ready(Wake::Timer(now));
                }
                if let Some(rx) = &mut outbound
                    && let Poll::Ready(next) = rx.poll_next_unpin(cx)
                {
                    return Poll::Ready(Wake::Send(next));
                }
                Pin::new(&mut sock).poll_read(cx, &mut buf).map(Wake::Read)
            })
            .await;
            match wake {
                Wake::Stop => {
                    debug!(conn = %conn, "closing the XMPP stream");
                    stopping = true;
                    // Send what the focus queued before it stopped (e.g. the
                    // presences that leave its rooms).
                    if let Some(rx) = &mut outbound {
                        while let Ok(stanza) = rx.try_recv() {
                            let _ = stream.send(&stanza);
                        }
                    }
                    stream.close(self.rt.now());
                }
                Wake::Timer(now) => stream.handle_timeout(now),
                Wake::Send(Some(stanza)) => {
                    if stream.send(&stanza).is_err() {
                        debug!(conn = %conn, name = stanza.name(), "stream not ready; stanza dropped");
                    }
                }
                Wake::Send(None) => outbound = None,
                Wake::Read(Ok(0)) => stream.handle_eof(),
                Wake::Read(Ok(n)) => stream.handle_input(self.rt.now(), &buf[..n]),
                Wake::Read(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    // A TLS peer that closed without close_notify.
                    stream.handle_eof();
                }
                Wake::Read(Err(e)) => {
                    return SessionEnd {
                        reason: format!("read failed: {e}"),
                        ready_for: ready_for(&self.rt, ready_at),
                        stopped: stopping,
                    };
                }
            }
        }
    }

    /// Writes everything the stream has queued.
    async fn flush(&self, stream: &mut XmppStream, sock: &mut Sock<R::Tcp>) -> std::io::Result<()> {
        let mut wrote = false;
        while let Some(bytes) = stream.poll_transmit() {
            let deadline = self.rt.now() + WRITE_TIMEOUT;
            match timeout_at(&self.rt, deadline, sock.write_all(&bytes)).await {
                Some(r) => r?,
                None => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "write timed out",
                    ));
                }
            }
            wrote = true;
        }
        if wrote {
            let deadline = self.rt.now() + WRITE_TIMEOUT;
            match timeout_at(&self.rt, deadline, sock.flush()).await {
                Some(r) => r?,
                None => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "flush timed out",
                    ));
                }
            }
        }
        Ok(())
    }

    /// Upgrades `sock` to TLS through the runtime.
    async fn start_tls(&mut self, sock: &mut Sock<R::Tcp>) -> TlsOutcome {
        let conn = self.conn().clone();
        let Sock::Plain(tcp) = std::mem::replace(sock, Sock::Gone) else {
            return TlsOutcome::Failed("STARTTLS on a socket that is already TLS".to_owned());
        };
        let Some(config) = self.tls.clone() else {
            return TlsOutcome::Failed("STARTTLS asked for, but use-tls is off".to_owned());
        };
        let name = self.settings.tls_name.clone();
        let deadline = self.rt.now() + TLS_TIMEOUT;
        let rt = self.rt.clone();
        let handshake = timeout_at(&rt, deadline, rt.start_tls(tcp, name, config));
        let error = match self.stop.or(handshake).await {
            None => return TlsOutcome::Stopped,
            Some(Some(Ok(io))) => {
                debug!(conn = %conn, "TLS established");
                *sock = Sock::Tls(io);
                return TlsOutcome::Done;
            }
            Some(Some(Err(e))) => e.to_string(),
            Some(None) => "timed out".to_owned(),
        };
        let domain = &self.settings.stream.domain;
        error!(
            conn = %conn,
            server_name = %domain,
            "TLS handshake failed: {error}. The server's certificate must be valid for {domain} \
             and chain to a trusted CA: install the CA in the system store \
             (update-ca-certificates) or point SSL_CERT_FILE at it, or set \
             disable-certificate-verification = true for this connection"
        );
        TlsOutcome::Failed(format!("TLS handshake failed: {error}"))
    }

    fn log_close(&self, reason: &CloseReason) {
        let conn = self.conn();
        match reason {
            CloseReason::Local => {}
            CloseReason::AuthFailed { account, .. } => error!(
                conn = %conn,
                account = %account,
                "XMPP {reason}: check the username and password of this connection \
                 and that the account exists on the server"
            ),
            r if r.is_config_error() => error!(conn = %conn, "XMPP connection refused: {reason}"),
            _ => {}
        }
    }
}

enum TlsOutcome {
    Done,
    Stopped,
    Failed(String),
}
