//! The focus loop: owns the [`Focus`], feeds it what the connection and HTTP
//! tasks report, and routes its outputs.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use futures::channel::{mpsc, oneshot};
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use minidom::Element;
use tracing::{Instrument, debug, error, info, info_span, warn};

use super::conn::{ConnTask, FromConn, Stop};
use super::http::{HttpCall, serve};
use super::settings::{SettingsError, connection_settings};
use super::tls::{TlsSetupError, Verification, client_config};
use super::{DeadlineTimer, Runtime, timeout_at};
use crate::config::Config;
use crate::http::HttpResponse;
use crate::rng::FocusRng;
use crate::{ConnId, Focus, HttpId, Input, Output};

/// How long the XMPP connections get to close cleanly on shutdown: a little
/// more than the stream's own 3 s wait for the server's `</stream:stream>`.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(3500);

/// Why [`run`] could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DriverError {
    /// The configuration lacks something the connections need.
    #[error("configuration: {0}")]
    Settings(#[from] SettingsError),
    /// TLS could not be set up.
    #[error("{0}")]
    Tls(#[from] TlsSetupError),
    /// The REST API port could not be opened.
    #[error("cannot listen for the REST API on {host}:{port}: {source}")]
    Bind {
        /// `jicofo.rest.host`.
        host: String,
        /// `jicofo.rest.port`.
        port: u16,
        /// The system's answer.
        source: std::io::Error,
    },
}

/// Runs the focus until `shutdown` completes: the XMPP connections, the focus
/// loop and the REST listener. On shutdown every XMPP stream is closed
/// cleanly (within a few seconds) before this returns.
///
/// Fails only at startup: a configuration the connections cannot use, no
/// trust store, or a REST port that cannot be opened.
pub async fn run<R: Runtime>(
    rt: R,
    config: Arc<Config>,
    shutdown: BoxFuture<'static, ()>,
) -> Result<(), DriverError> {
    let settings = connection_settings(&config)?;
    let mut tls = Vec::with_capacity(settings.len());
    for s in &settings {
        if !s.stream.use_tls {
            warn!(conn = %s.conn, "use-tls is off: the XMPP connection and its password travel unencrypted");
            tls.push(None);
            continue;
        }
        if s.verification == Verification::Disabled {
            warn!(
                conn = %s.conn,
                "!!! TLS CERTIFICATE VERIFICATION IS DISABLED for the {} XMPP connection \
                 (disable-certificate-verification = true): anyone on the path to {}:{} can \
                 impersonate the server and read the focus's credentials !!!",
                s.conn, s.host, s.port
            );
        }
        tls.push(Some(client_config(s.verification)?));
    }

    let (stop_tx, stop) = Stop::new();
    let (http_tx, http_rx) = mpsc::channel::<HttpCall>(64);
    let mut listener_done = None;
    if let Some(port) = config.rest.listen_port() {
        let host = config.rest.host.clone();
        let listener = rt
            .bind(&host, port)
            .await
            .map_err(|source| DriverError::Bind {
                host: host.clone(),
                port,
                source,
            })?;
        let addr = rt
            .local_addr(&listener)
            .map(|a| a.to_string())
            .unwrap_or_else(|_| format!("{host}:{port}"));
        info!("REST API listening on {addr}");
        let (done_tx, done) = oneshot::channel::<()>();
        let serve = serve(rt.clone(), listener, http_tx, stop.clone());
        rt.spawn(Box::pin(async move {
            serve.await;
            drop(done_tx);
        }));
        listener_done = Some(done);
    } else {
        info!("REST API disabled");
        drop(http_tx);
    }

    let mut rng = FocusRng::from_seed(rt.random_seed());
    let focus = Focus::new(config.clone(), rng.child_seed(), rt.now(), rt.wall_now());
    let (to_focus, from_conns) = mpsc::channel::<FromConn>(256);
    for (s, tls) in settings.into_iter().zip(tls) {
        let span = info_span!("xmpp", conn = %s.conn);
        let task = ConnTask::new(
            rt.clone(),
            s,
            tls,
            to_focus.clone(),
            stop.clone(),
            rng.child_seed(),
        );
        rt.spawn(Box::pin(task.run().instrument(span)));
    }
    drop(to_focus);

    let mut focus_loop = FocusLoop {
        rt,
        focus,
        links: BTreeMap::new(),
        service_is_client: config.xmpp.service_is_client(),
        waiting: BTreeMap::new(),
        next_http: 0,
    };
    focus_loop.run(from_conns, http_rx, shutdown, stop_tx).await;
    // Once `run` returns, the REST port is free again.
    if let Some(done) = listener_done {
        let rt = &focus_loop.rt;
        let _ = timeout_at(rt, rt.now() + Duration::from_secs(1), done).await;
    }
    Ok(())
}

/// What woke the focus loop up.
enum Wake {
    Conn(Option<FromConn>),
    Http(Option<HttpCall>),
    Timer(Instant),
    Shutdown,
    GraceOver,
}

struct FocusLoop<R: Runtime> {
    rt: R,
    focus: Focus,
    /// Outbound stanza queues of the connections that are up.
    links: BTreeMap<ConnId, mpsc::UnboundedSender<Element>>,
    /// No separate service connection: its stanzas go on the client one.
    service_is_client: bool,
    /// HTTP requests waiting for the focus's answer.
    waiting: BTreeMap<HttpId, oneshot::Sender<HttpResponse>>,
    next_http: u64,
}

impl<R: Runtime> FocusLoop<R> {
    async fn run(
        &mut self,
        mut from_conns: mpsc::Receiver<FromConn>,
        mut http_rx: mpsc::Receiver<HttpCall>,
        mut shutdown: BoxFuture<'static, ()>,
        stop_tx: oneshot::Sender<()>,
    ) {
        let mut stop_tx = Some(stop_tx);
        let mut http_open = true;
        let mut timer = DeadlineTimer::default();
        let mut grace = DeadlineTimer::default();
        loop {
            self.drain();
            timer.set(&self.rt, self.focus.poll_timeout());
            let rt = &self.rt;
            let shutting_down = stop_tx.is_none();
            let wake = futures::future::poll_fn(|cx| {
                if !shutting_down && shutdown.poll_unpin(cx).is_ready() {
                    return Poll::Ready(Wake::Shutdown);
                }
                if grace.poll(rt, cx).is_ready() {
                    return Poll::Ready(Wake::GraceOver);
                }
                if let Poll::Ready(msg) = from_conns.poll_next_unpin(cx) {
                    return Poll::Ready(Wake::Conn(msg));
                }
                if http_open && let Poll::Ready(call) = http_rx.poll_next_unpin(cx) {
                    return Poll::Ready(Wake::Http(call));
                }
                timer.poll(rt, cx).map(Wake::Timer)
            })
            .await;
            match wake {
                Wake::Shutdown => {
                    info!("shutting down: leaving the conferences, closing the XMPP connections");
                    // Leave every room first; the links send what is queued
                    // before they close.
                    self.focus.shutdown(self.rt.now());
                    self.drain();
                    // Dropping the sender fires every task's stop signal.
                    stop_tx = None;
                    grace.set(&self.rt, Some(self.rt.now() + SHUTDOWN_GRACE));
                }
                Wake::GraceOver => {
                    warn!("XMPP connections did not close in time; stopping anyway");
                    return;
                }
                Wake::Conn(None) => {
                    // Every connection task has finished: only on shutdown.
                    info!("all XMPP connections closed");
                    return;
                }
                Wake::Conn(Some(msg)) => self.on_conn(msg),
                Wake::Http(None) => http_open = false,
                Wake::Http(Some(call)) => {
                    let id = HttpId(self.next_http);
                    self.next_http += 1;
                    self.waiting.insert(id, call.reply);
                    let input = Input::Http {
                        id,
                        request: call.request,
                    };
                    self.input(input);
                }
                Wake::Timer(now) => self.focus.handle_timeout(now),
            }
        }
    }

    fn input(&mut self, input: Input) {
        let now = self.rt.now();
        if let Err(e) = self.focus.handle_input(now, input) {
            error!(error = %e, "driver bug: the focus refused an input");
        }
    }

    fn on_conn(&mut self, msg: FromConn) {
        match msg {
            FromConn::Up { conn, jid, tx } => {
                self.links.insert(conn.clone(), tx);
                let bound = jid.to_string();
                self.input(Input::Connected {
                    conn: conn.clone(),
                    jid,
                });
                // Logged once the core has the connection: from here on it
                // serves requests on it (tests and operators wait for this).
                info!(conn = %conn, jid = %bound, "XMPP connection ready");
            }
            FromConn::Down { conn, reason } => {
                self.links.remove(&conn);
                self.input(Input::Disconnected { conn, reason });
            }
            FromConn::Stanza { conn, stanza } => self.input(Input::Stanza { conn, stanza }),
        }
    }

    /// Routes every output of the focus.
    fn drain(&mut self) {
        while let Some(output) = self.focus.poll_output() {
            match output {
                Output::Send { conn, stanza } => {
                    let via = match conn {
                        ConnId::Service if self.service_is_client => ConnId::Client,
                        other => other,
                    };
                    match self.links.get(&via) {
                        Some(tx) if tx.unbounded_send(stanza).is_ok() => {}
                        _ => debug!(conn = %via, "connection down; stanza dropped"),
                    }
                }
                Output::Http { id, response } => match self.waiting.remove(&id) {
                    // The client may have gone away meanwhile.
                    Some(reply) => {
                        let _ = reply.send(response);
                    }
                    None => warn!(?id, "answer to an unknown HTTP request"),
                },
                Output::Event(event) => info!(?event, "focus event"),
            }
        }
    }
}
