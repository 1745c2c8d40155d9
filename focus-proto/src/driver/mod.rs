//! The event loop of the focus process, written once for every executor.
//!
//! The sans-IO state machines ([`XmppStream`](crate::xmpp::XmppStream),
//! [`Focus`](crate::Focus), [`HttpConnection`](crate::http::HttpConnection))
//! need sockets, TLS, timers, tasks and signals around them. All of that
//! logic lives here, written against the small [`Runtime`] trait and the
//! `futures` traits; each runtime crate (`runtime-tokio`,
//! `runtime-async-std`) only implements [`Runtime`] and calls
//! [`main_with`].
//!
//! What runs:
//!
//! - one task per XMPP connection (`client`, and `service` when it is
//!   configured apart): TCP, STARTTLS through [`Runtime::start_tls`], the
//!   [`XmppStream`](crate::xmpp::XmppStream), reconnection with jittered
//!   exponential [`Backoff`];
//! - the focus loop, which owns the [`Focus`](crate::Focus) and routes its
//!   outputs;
//! - the REST listener and one task per HTTP connection;
//! - shutdown on SIGTERM/SIGINT: every stream is closed cleanly, then
//!   [`run`] returns.
//!
//! This module is behind the `driver` cargo feature; the core itself stays
//! free of I/O.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime};

use futures::future::BoxFuture;
use futures::io::{AsyncRead, AsyncWrite};
use rustls::ClientConfig;
use rustls_pki_types::ServerName;

mod backoff;
mod cli;
mod conn;
mod focus_loop;
mod http;
pub mod selftest;
mod settings;
mod tls;

pub use backoff::Backoff;
pub use cli::main_with;
pub use focus_loop::{DriverError, run};
pub use settings::{ConnSettings, SettingsError, connection_settings};
pub use tls::{TlsSetupError, Verification, client_config, verifier};

/// A byte stream the driver can read and write: plain TCP or TLS over TCP,
/// through the `futures-io` traits.
pub trait ByteStream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> ByteStream for T {}

/// A type-erased [`ByteStream`], as returned by [`Runtime::start_tls`].
pub type BoxedIo = Box<dyn ByteStream>;

/// A resettable one-shot timer of a runtime.
///
/// The driver keeps one per state machine and resets it only when the
/// machine's deadline changes. It checks the clock itself before polling, so
/// a timer that stays pending after it fired once is fine.
pub trait Timer: Send {
    /// Re-arms the timer for `at`.
    fn reset(self: Pin<&mut Self>, at: Instant);
    /// Ready once the deadline has passed.
    fn poll_fired(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()>;
}

/// What an executor provides to the driver.
///
/// Implemented by `runtime-tokio` and `runtime-async-std` in about a hundred
/// lines each; everything else is shared. Clocks and OS randomness live here
/// so that tests can replace them.
pub trait Runtime: Clone + Send + Sync + 'static {
    /// A connected TCP socket.
    type Tcp: ByteStream;
    /// A listening TCP socket.
    type Listener: Send + Sync + 'static;

    /// The monotonic clock.
    fn now(&self) -> Instant;
    /// The wall clock.
    fn wall_now(&self) -> SystemTime;
    /// A timer firing at `at`.
    fn timer(&self, at: Instant) -> Pin<Box<dyn Timer>>;
    /// Runs `task` in the background.
    fn spawn(&self, task: BoxFuture<'static, ()>);
    /// Resolves `host` and connects to it over TCP.
    fn connect(&self, host: &str, port: u16) -> BoxFuture<'static, io::Result<Self::Tcp>>;
    /// Runs a TLS client handshake on `tcp`, verifying the server as `name`
    /// with `config` (tokio-rustls or futures-rustls).
    fn start_tls(
        &self,
        tcp: Self::Tcp,
        name: ServerName<'static>,
        config: Arc<ClientConfig>,
    ) -> BoxFuture<'static, io::Result<BoxedIo>>;
    /// Listens on `host:port` (`host` is a name or an address).
    fn bind(&self, host: &str, port: u16) -> BoxFuture<'static, io::Result<Self::Listener>>;
    /// The address `listener` is bound to.
    fn local_addr(&self, listener: &Self::Listener) -> io::Result<SocketAddr>;
    /// Accepts one connection on `listener`.
    fn accept<'a>(
        &self,
        listener: &'a Self::Listener,
    ) -> BoxFuture<'a, io::Result<(Self::Tcp, SocketAddr)>>;
    /// Completes when the process is asked to stop (SIGTERM or SIGINT).
    fn shutdown_signal(&self) -> BoxFuture<'static, ()>;
    /// 32 bytes from the operating system's random source.
    fn random_seed(&self) -> [u8; 32];
}

/// Completes at `at` on `rt`'s clock.
pub async fn sleep_until<R: Runtime>(rt: &R, at: Instant) {
    let mut timer = DeadlineTimer::default();
    timer.set(rt, Some(at));
    futures::future::poll_fn(|cx| timer.poll(rt, cx)).await;
}

/// The one timer a driver task keeps for a state machine's `poll_timeout`:
/// re-armed only when the deadline changes, and the clock is checked before
/// the runtime's timer is polled.
#[derive(Default)]
pub(crate) struct DeadlineTimer {
    deadline: Option<Instant>,
    timer: Option<Pin<Box<dyn Timer>>>,
}

impl DeadlineTimer {
    /// Arms the timer for `at` (or disarms it for `None`).
    pub(crate) fn set<R: Runtime>(&mut self, rt: &R, at: Option<Instant>) {
        if self.deadline == at {
            return;
        }
        self.deadline = at;
        if let Some(at) = at {
            match &mut self.timer {
                Some(t) => t.as_mut().reset(at),
                None => self.timer = Some(rt.timer(at)),
            }
        }
    }

    /// Ready with the deadline once it has passed. The instant returned is
    /// never before the deadline, so a state machine handed it always finds
    /// its timer due (an early wake-up cannot make the loop spin).
    pub(crate) fn poll<R: Runtime>(&mut self, rt: &R, cx: &mut Context<'_>) -> Poll<Instant> {
        let Some(deadline) = self.deadline else {
            return Poll::Pending;
        };
        let now = rt.now();
        if now >= deadline {
            return Poll::Ready(now);
        }
        let fired = match &mut self.timer {
            Some(t) => t.as_mut().poll_fired(cx).is_ready(),
            None => false,
        };
        if fired {
            Poll::Ready(rt.now().max(deadline))
        } else {
            Poll::Pending
        }
    }
}

/// Resolves with `fut`'s output, or `None` once `deadline` passes.
pub(crate) async fn timeout_at<R: Runtime, F: Future>(
    rt: &R,
    deadline: Instant,
    fut: F,
) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    let mut timer = DeadlineTimer::default();
    timer.set(rt, Some(deadline));
    futures::future::poll_fn(|cx| {
        if let Poll::Ready(v) = fut.as_mut().poll(cx) {
            return Poll::Ready(Some(v));
        }
        timer.poll(rt, cx).map(|_| None)
    })
    .await
}
