//! The focus on tokio: the [`Runtime`] the shared driver runs on.
//!
//! Everything else (the connection tasks, the focus loop, the REST listener,
//! the command line) is in [`focus_proto::driver`]; this crate only maps its
//! [`Runtime`] trait onto tokio: `TcpStream` (seen through `futures-io` via
//! tokio-util's compat layer), tokio-rustls, `tokio::time`, `tokio::spawn`,
//! `TcpListener` and `tokio::signal`.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime};

use focus_proto::driver::{BoxedIo, Runtime, Timer};
use futures::future::BoxFuture;
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Sleep;
use tokio_util::compat::{Compat, TokioAsyncReadCompatExt};

pub use focus_proto::driver::{main_with, run};

/// The tokio runtime of the focus. Its futures must be polled, and its
/// methods called, inside a tokio runtime with I/O and time enabled.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tokio;

/// A tokio `Sleep`, reset in place.
struct TokioTimer(Pin<Box<Sleep>>);

impl Timer for TokioTimer {
    fn reset(self: Pin<&mut Self>, at: Instant) {
        self.get_mut()
            .0
            .as_mut()
            .reset(tokio::time::Instant::from_std(at));
    }

    fn poll_fired(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.get_mut().0.as_mut().poll(cx)
    }
}

impl Runtime for Tokio {
    type Tcp = Compat<TcpStream>;
    type Listener = TcpListener;

    fn now(&self) -> Instant {
        Instant::now()
    }

    fn wall_now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn timer(&self, at: Instant) -> Pin<Box<dyn Timer>> {
        let sleep = tokio::time::sleep_until(tokio::time::Instant::from_std(at));
        Box::pin(TokioTimer(Box::pin(sleep)))
    }

    fn spawn(&self, task: BoxFuture<'static, ()>) {
        tokio::spawn(task);
    }

    fn connect(&self, host: &str, port: u16) -> BoxFuture<'static, io::Result<Self::Tcp>> {
        let host = host.to_owned();
        Box::pin(async move {
            let tcp = TcpStream::connect((host.as_str(), port)).await?;
            tcp.set_nodelay(true)?;
            Ok(tcp.compat())
        })
    }

    fn start_tls(
        &self,
        tcp: Self::Tcp,
        name: ServerName<'static>,
        config: Arc<ClientConfig>,
    ) -> BoxFuture<'static, io::Result<BoxedIo>> {
        Box::pin(async move {
            let connector = tokio_rustls::TlsConnector::from(config);
            let tls = connector.connect(name, tcp.into_inner()).await?;
            Ok(Box::new(tls.compat()) as BoxedIo)
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
            Ok((tcp.compat(), peer))
        })
    }

    fn shutdown_signal(&self) -> BoxFuture<'static, ()> {
        Box::pin(async {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut term), Ok(mut int)) = (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) else {
                tracing::error!("cannot install the SIGTERM/SIGINT handlers");
                return std::future::pending().await;
            };
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM received"),
                _ = int.recv() => tracing::info!("SIGINT received"),
            }
        })
    }

    fn random_seed(&self) -> [u8; 32] {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).expect("the OS random source is unavailable");
        seed
    }
}

/// Runs the `focus` binary: a multi-threaded tokio runtime under
/// [`main_with`]. Returns the exit code.
pub fn main() -> i32 {
    main_with(Tokio, |main| {
        match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => {
                let code = runtime.block_on(main);
                // Do not wait for a DNS lookup stuck in a blocking thread.
                runtime.shutdown_timeout(std::time::Duration::from_millis(500));
                code
            }
            Err(e) => {
                eprintln!("error: cannot start the tokio runtime: {e}");
                1
            }
        }
    })
}
