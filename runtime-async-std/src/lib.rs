//! The focus on async-std: the [`Runtime`] the shared driver runs on.
//!
//! Everything else (the connection tasks, the focus loop, the REST listener,
//! the command line) is in [`focus_proto::driver`]; this crate only maps its
//! [`Runtime`] trait onto async-std's `TcpStream`/`TcpListener` and tasks,
//! futures-rustls, async-io timers and signal-hook.
//!
//! async-std is discontinued upstream (RUSTSEC-2025-0052; smol is its
//! successor). It is kept because deployments and the design ask for it.
//! Moving to smol touches only this crate: the same `Runtime` impl over
//! `smol::net`, `smol::spawn` and `async_io::Timer`.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime};

use async_io::Timer as IoTimer;
use async_std::net::{TcpListener, TcpStream};
use focus_proto::driver::{BoxedIo, Runtime, Timer};
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use rustls::ClientConfig;
use rustls_pki_types::ServerName;

pub use focus_proto::driver::{main_with, run};

/// The async-std runtime of the focus.
#[derive(Debug, Clone, Copy, Default)]
pub struct AsyncStd;

/// An async-io timer, moved in place.
struct AsyncIoTimer(IoTimer);

impl Timer for AsyncIoTimer {
    fn reset(self: Pin<&mut Self>, at: Instant) {
        self.get_mut().0.set_at(at);
    }

    fn poll_fired(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.get_mut().0.poll_unpin(cx).map(|_| ())
    }
}

impl Runtime for AsyncStd {
    type Tcp = TcpStream;
    type Listener = TcpListener;

    fn now(&self) -> Instant {
        Instant::now()
    }

    fn wall_now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn timer(&self, at: Instant) -> Pin<Box<dyn Timer>> {
        Box::pin(AsyncIoTimer(IoTimer::at(at)))
    }

    fn spawn(&self, task: BoxFuture<'static, ()>) {
        // Dropping the handle detaches the task.
        async_std::task::spawn(task);
    }

    fn connect(&self, host: &str, port: u16) -> BoxFuture<'static, io::Result<Self::Tcp>> {
        let host = host.to_owned();
        Box::pin(async move {
            let tcp = TcpStream::connect((host.as_str(), port)).await?;
            tcp.set_nodelay(true)?;
            Ok(tcp)
        })
    }

    fn start_tls(
        &self,
        tcp: Self::Tcp,
        name: ServerName<'static>,
        config: Arc<ClientConfig>,
    ) -> BoxFuture<'static, io::Result<BoxedIo>> {
        Box::pin(async move {
            let connector = futures_rustls::TlsConnector::from(config);
            let tls = connector.connect(name, tcp).await?;
            Ok(Box::new(tls) as BoxedIo)
        })
    }

    fn bind(&self, host: &str, port: u16) -> BoxFuture<'static, io::Result<Self::Listener>> {
        let host = host.to_owned();
        Box::pin(async move { TcpListener::bind((host.as_str(), port)).await })
    }

    fn local_addr(&self, listener: &Self::Listener) -> io::Result<SocketAddr> {
        listener.local_addr()
    }

    fn accept<'a>(
        &self,
        listener: &'a Self::Listener,
    ) -> BoxFuture<'a, io::Result<(Self::Tcp, SocketAddr)>> {
        Box::pin(async move {
            let (tcp, peer) = listener.accept().await?;
            tcp.set_nodelay(true)?;
            Ok((tcp, peer))
        })
    }

    fn shutdown_signal(&self) -> BoxFuture<'static, ()> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        Box::pin(async {
            match signal_hook_async_std::Signals::new([SIGTERM, SIGINT]) {
                Ok(mut signals) => {
                    let name = match signals.next().await {
                        Some(SIGTERM) => "SIGTERM",
                        Some(_) => "SIGINT",
                        None => return std::future::pending().await,
                    };
                    tracing::info!("{name} received");
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot install the SIGTERM/SIGINT handlers");
                    std::future::pending::<()>().await;
                }
            }
        })
    }

    fn random_seed(&self) -> [u8; 32] {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).expect("the OS random source is unavailable");
        seed
    }
}

/// Runs the `focus-async-std` binary under [`main_with`]. Returns the exit
/// code.
pub fn main() -> i32 {
    main_with(AsyncStd, async_std::task::block_on)
}
