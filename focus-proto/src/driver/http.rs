//! The REST listener: accepts TCP connections and moves bytes between them
//! and [`HttpConnection`]s; the focus loop answers the requests.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::SinkExt;
use futures::channel::{mpsc, oneshot};
use futures::io::{AsyncReadExt, AsyncWriteExt};
use tracing::{debug, warn};

use super::conn::Stop;
use super::{Runtime, timeout_at};
use crate::http::{HttpConnection, HttpEvent, HttpRequest, HttpResponse};

/// A connection silent this long (between or inside requests) is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long writing an answer may take.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Concurrent HTTP connections; more are closed at once.
const MAX_CONNECTIONS: usize = 256;
/// Read buffer size (the request itself is bounded by `HttpConnection`).
const READ_CHUNK: usize = 8 * 1024;

/// A request for the focus loop, with the way back.
pub(crate) struct HttpCall {
    pub(crate) request: HttpRequest,
    pub(crate) reply: oneshot::Sender<HttpResponse>,
}

/// Accepts connections on `listener` until `stop` fires.
pub(crate) async fn serve<R: Runtime>(
    rt: R,
    listener: R::Listener,
    calls: mpsc::Sender<HttpCall>,
    mut stop: Stop,
) {
    let open = Arc::new(AtomicUsize::new(0));
    loop {
        let accepted = stop.or(rt.accept(&listener)).await;
        match accepted {
            None => return,
            Some(Ok((tcp, peer))) => {
                if open.fetch_add(1, Ordering::Relaxed) >= MAX_CONNECTIONS {
                    open.fetch_sub(1, Ordering::Relaxed);
                    warn!(%peer, "too many HTTP connections; closing a new one");
                    continue;
                }
                let open = open.clone();
                let task = connection(rt.clone(), tcp, calls.clone(), stop.clone());
                rt.spawn(Box::pin(async move {
                    task.await;
                    open.fetch_sub(1, Ordering::Relaxed);
                }));
            }
            Some(Err(e)) => {
                // Out of file descriptors and the like: do not spin.
                warn!(error = %e, "accepting an HTTP connection failed");
                let at = rt.now() + Duration::from_millis(100);
                super::sleep_until(&rt, at).await;
            }
        }
    }
}

/// One HTTP connection: requests in order, one at a time.
async fn connection<R: Runtime>(
    rt: R,
    mut tcp: R::Tcp,
    mut calls: mpsc::Sender<HttpCall>,
    mut stop: Stop,
) {
    let mut http = HttpConnection::new();
    let mut buf = vec![0u8; READ_CHUNK];
    let mut fresh = 0;
    loop {
        let event = http.handle_input(&buf[..fresh]);
        fresh = 0;
        match event {
            Some(HttpEvent::Request(request)) => {
                let (method, path) = (request.method.clone(), request.path.clone());
                let (reply, answer) = oneshot::channel();
                let response = if calls.send(HttpCall { request, reply }).await.is_ok() {
                    answer.await.ok()
                } else {
                    None
                };
                let response = response.unwrap_or_else(|| HttpResponse::text(503, "shutting down"));
                debug!(?method, %path, status = response.status, "HTTP request");
                let bytes = http.respond(&response);
                if !write(&rt, &mut tcp, &bytes).await || http.is_closed() {
                    break;
                }
            }
            Some(HttpEvent::Reject(bytes)) => {
                write(&rt, &mut tcp, &bytes).await;
                break;
            }
            None if http.is_closed() => break,
            None => {
                let deadline = rt.now() + IDLE_TIMEOUT;
                let read = timeout_at(&rt, deadline, tcp.read(&mut buf));
                match stop.or(read).await {
                    Some(Some(Ok(n))) if n > 0 => fresh = n,
                    _ => break,
                }
            }
        }
    }
    let deadline = rt.now() + Duration::from_secs(1);
    let _ = timeout_at(&rt, deadline, tcp.close()).await;
}

/// Writes `bytes` within the write timeout; false on failure.
async fn write<R: Runtime>(rt: &R, tcp: &mut R::Tcp, bytes: &[u8]) -> bool {
    let deadline = rt.now() + WRITE_TIMEOUT;
    let done = timeout_at(rt, deadline, async {
        tcp.write_all(bytes).await?;
        tcp.flush().await
    })
    .await;
    matches!(done, Some(Ok(())))
}
