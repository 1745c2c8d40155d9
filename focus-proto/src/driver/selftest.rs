//! Checks of a [`Runtime`] implementation over loopback, run by each
//! runtime crate's tests so that both runtimes are held to the same
//! behaviour. Each check panics on failure and takes a few seconds at most.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::channel::oneshot;
use futures::io::{AsyncReadExt, AsyncWriteExt};

use super::{Runtime, run, sleep_until, timeout_at};
use crate::config::Config;

/// A configuration whose client connection goes to `127.0.0.1:xmpp_port`
/// without TLS and whose REST API listens on `127.0.0.1:rest_port`.
pub fn loopback_config(xmpp_port: u16, rest_port: u16) -> Config {
    let mut config = Config::default();
    let client = &mut config.xmpp.client;
    client.enabled = true;
    client.hostname = "127.0.0.1".to_owned();
    client.port = xmpp_port;
    client.domain = Some("auth.meet.jitsi".to_owned());
    client.xmpp_domain = Some("meet.jitsi".to_owned());
    client.username = "focus".to_owned();
    client.password = Some("focuspass".to_owned());
    client.use_tls = false;
    config.xmpp.service.enabled = false;
    config.rest.enabled = true;
    config.rest.host = "127.0.0.1".to_owned();
    config.rest.port = i32::from(rest_port);
    config
}

/// A port on 127.0.0.1 that nothing listens on (bound, then released).
pub async fn free_port<R: Runtime>(rt: &R) -> u16 {
    let listener = rt.bind("127.0.0.1", 0).await.expect("bind 127.0.0.1:0");
    rt.local_addr(&listener).expect("local address").port()
}

/// Sends one HTTP/1.1 request to `127.0.0.1:port` and returns the whole
/// answer (the server closes after it).
pub async fn http_get<R: Runtime>(rt: &R, port: u16, path: &str) -> std::io::Result<String> {
    let mut tcp = rt.connect("127.0.0.1", port).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    tcp.write_all(request.as_bytes()).await?;
    tcp.flush().await?;
    let mut answer = Vec::new();
    tcp.read_to_end(&mut answer).await?;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

/// The runtime's timers fire at their deadline, not before, and can be
/// moved; spawned tasks run.
pub async fn timers_and_tasks<R: Runtime>(rt: R) {
    let start = rt.now();
    sleep_until(&rt, start + Duration::from_millis(50)).await;
    assert!(rt.now() >= start + Duration::from_millis(50));

    let mut timer = rt.timer(start + Duration::from_secs(3600));
    timer.as_mut().reset(rt.now() + Duration::from_millis(20));
    let fired = timeout_at(
        &rt,
        rt.now() + Duration::from_secs(2),
        futures::future::poll_fn(|cx| timer.as_mut().poll_fired(cx)),
    )
    .await;
    assert!(
        fired.is_some(),
        "a reset timer must fire at its new deadline"
    );

    let (tx, rx) = oneshot::channel();
    rt.spawn(Box::pin(async move {
        let _ = tx.send(7);
    }));
    assert_eq!(rx.await, Ok(7));
    assert_ne!(rt.random_seed(), rt.random_seed());
}

/// The REST API answers over a real socket while the XMPP server is
/// unreachable (`/about/version` 200, `/about/health` 500 naming the
/// failure), and [`run`] returns promptly after the shutdown signal.
pub async fn rest_while_xmpp_down<R: Runtime>(rt: R) {
    let xmpp_port = free_port(&rt).await;
    let rest_port = free_port(&rt).await;
    let config = Arc::new(loopback_config(xmpp_port, rest_port));
    let (stop, stopped) = oneshot::channel::<()>();
    let (done_tx, done) = oneshot::channel();
    let driver = run(rt.clone(), config, Box::pin(stopped.map(|_| ())));
    rt.spawn(Box::pin(async move {
        let _ = done_tx.send(driver.await);
    }));

    let deadline = rt.now() + Duration::from_secs(5);
    let version = loop {
        match http_get(&rt, rest_port, "/about/version").await {
            Ok(answer) => break answer,
            Err(e) if rt.now() < deadline => {
                let _ = e;
                sleep_until(&rt, rt.now() + Duration::from_millis(20)).await;
            }
            Err(e) => panic!("REST API not reachable: {e}"),
        }
    };
    assert!(version.starts_with("HTTP/1.1 200 "), "{version}");
    assert!(version.contains("\"version\""), "{version}");

    let health = http_get(&rt, rest_port, "/about/health").await.unwrap();
    assert!(health.starts_with("HTTP/1.1 500 "), "{health}");
    assert!(health.contains("not established"), "{health}");

    let missing = http_get(&rt, rest_port, "/nope").await.unwrap();
    assert!(missing.starts_with("HTTP/1.1 404 "), "{missing}");

    let started = rt.now();
    stop.send(()).unwrap();
    let result = timeout_at(&rt, started + Duration::from_secs(5), done)
        .await
        .expect("run must return soon after shutdown")
        .expect("the driver task ended");
    assert!(result.is_ok(), "{result:?}");
    assert!(rt.now() - started < Duration::from_secs(4));
    assert!(
        http_get(&rt, rest_port, "/about/version").await.is_err(),
        "the REST listener must be closed after shutdown"
    );
}

/// A server that drops every connection at once gets reconnection attempts
/// about a second apart (the first backoff step), and shutdown interrupts
/// the wait.
pub async fn reconnects_after_loss<R: Runtime>(rt: R) {
    let listener = rt.bind("127.0.0.1", 0).await.expect("bind");
    let xmpp_port = rt.local_addr(&listener).unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let times = Arc::new(std::sync::Mutex::new(Vec::<Instant>::new()));
    {
        let (rt2, accepted, times) = (rt.clone(), accepted.clone(), times.clone());
        rt.spawn(Box::pin(async move {
            while let Ok((tcp, _)) = rt2.accept(&listener).await {
                times.lock().unwrap().push(rt2.now());
                accepted.fetch_add(1, Ordering::SeqCst);
                drop(tcp);
            }
        }));
    }
    let mut config = loopback_config(xmpp_port, 0);
    config.rest.enabled = false;
    let (stop, stopped) = oneshot::channel::<()>();
    let (done_tx, done) = oneshot::channel();
    let driver = run(rt.clone(), Arc::new(config), Box::pin(stopped.map(|_| ())));
    rt.spawn(Box::pin(async move {
        let _ = done_tx.send(driver.await);
    }));

    let deadline = rt.now() + Duration::from_secs(5);
    while accepted.load(Ordering::SeqCst) < 2 {
        assert!(rt.now() < deadline, "no reconnection within 5 s");
        sleep_until(&rt, rt.now() + Duration::from_millis(20)).await;
    }
    let gap = {
        let t = times.lock().unwrap();
        t[1] - t[0]
    };
    assert!(
        gap >= Duration::from_millis(700) && gap <= Duration::from_millis(1600),
        "first backoff step should be about 1 s, was {gap:?}"
    );

    // Shut down while the task waits to reconnect.
    let started = rt.now();
    stop.send(()).unwrap();
    let result = timeout_at(&rt, started + Duration::from_secs(4), done)
        .await
        .expect("run must return soon after shutdown")
        .expect("the driver task ended");
    assert!(result.is_ok(), "{result:?}");
}
