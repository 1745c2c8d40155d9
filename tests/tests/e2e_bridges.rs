//! The focus and its bridges end to end: two `bridge-emulator` processes in
//! two regions join a real Prosody's brewery, and the focus (each runtime)
//! lists them on `GET /debug` and `GET /stats` with their stats, health
//! checks them over XMPP, and marks them failed when they stop answering
//! or say they are unhealthy (brewery.md, health.md).
//!
//! Skipped (with a message) when Prosody is not installed, unless
//! `FOCUS_E2E_REQUIRED` is set; `scripts/test.sh` sets it.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use focus_tests::e2e::{
    BridgeEmulatorProcess, FocusProcess, Prosody, ProsodyOptions, Runtime, brewery_jid,
    e2e_enabled, focus_binary, free_port, jicofo_conf,
};
use focus_tests::emulator::BridgeOptions;
use serde_json::Value;

/// Generous for a slow CI machine.
const CONNECT: Duration = Duration::from_secs(30);
/// How long a state the focus reaches by its timers may take: a health
/// check every 2 s, a 3 s reply timeout, a 1 s second chance, 3 s again.
const VERDICT: Duration = Duration::from_secs(30);

const READY: &str = "XMPP connection ready";

/// Calls `probe` every 200 ms until it gives `Ok`, and returns that;
/// panics with the last `Err` once `within` has passed.
fn poll<T>(within: Duration, mut probe: impl FnMut() -> Result<T, String>) -> T {
    let end = Instant::now() + within;
    loop {
        match probe() {
            Ok(found) => return found,
            Err(last) => assert!(Instant::now() < end, "{last}"),
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

struct Deployment {
    // Dropped first: killed while Prosody still runs.
    focus: FocusProcess,
    bridges: Vec<BridgeEmulatorProcess>,
    prosody: Prosody,
}

/// Prosody, two emulated bridges (`jvb-eu` in eu-west, `jvb-us` in
/// us-east), and the focus with fast health checks.
fn deploy(rt: Runtime) -> Deployment {
    let prosody = Prosody::start(ProsodyOptions::default());
    let brewery = brewery_jid(&prosody);
    let mut bridges = Vec::new();
    for (nick, region, relay, stress, seed) in [
        ("jvb-eu", "eu-west", "relay-eu", 0.1, 1),
        ("jvb-us", "us-east", "relay-us", 0.3, 2),
    ] {
        let mut opts = BridgeOptions::new(&brewery, nick);
        opts.region = Some(region.into());
        opts.relay_id = Some(relay.into());
        opts.stress = Some(stress);
        opts.seed = seed;
        opts.stats_interval = Duration::from_secs(1);
        let bridge = BridgeEmulatorProcess::spawn(&prosody, &opts);
        assert!(
            bridge.wait_ready(CONNECT),
            "{nick} never joined the brewery"
        );
        bridges.push(bridge);
    }
    let conf = jicofo_conf(
        &prosody,
        free_port(),
        &[
            ("jicofo.xmpp.client.reply-timeout", "3 seconds"),
            ("jicofo.bridge.health-checks.interval", "2 seconds"),
            ("jicofo.bridge.health-checks.retry-delay", "1 second"),
            ("jicofo.health.enabled", "true"),
            ("jicofo.health.interval", "1 second"),
        ],
    );
    let env: [(&str, Option<PathBuf>); 1] = [("SSL_CERT_FILE", Some(prosody.ca_cert()))];
    let focus = FocusProcess::spawn(focus_binary(rt), &conf, env);
    assert!(
        focus.wait_for_log(READY, CONNECT),
        "the focus never connected"
    );
    Deployment {
        focus,
        bridges,
        prosody,
    }
}

impl Deployment {
    fn bridge_jid(&self, nick: &str) -> String {
        format!("{}/{nick}", brewery_jid(&self.prosody))
    }

    fn json(&self, path: &str) -> Value {
        let (status, body) = self
            .focus
            .http_get(path)
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }

    /// The `/debug` object of bridge `nick`, if listed.
    fn debug_bridge(&self, nick: &str) -> Option<Value> {
        let debug = self.json("/debug");
        let bridge = &debug["bridge_selector"]["bridge"][self.bridge_jid(nick)];
        (!bridge.is_null()).then(|| bridge.clone())
    }

    /// Polls until `pred` holds for bridge `nick`'s `/debug` object.
    fn wait_bridge(&self, nick: &str, within: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        poll(within, || {
            let seen = self.debug_bridge(nick);
            match seen.as_ref().filter(|b| pred(b)) {
                Some(b) => Ok(b.clone()),
                None => Err(format!(
                    "bridge {nick} never reached the expected state; last seen: {seen:?}"
                )),
            }
        })
    }

    /// Polls until `pred` holds for `/stats`.
    fn wait_stats(&self, within: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        poll(within, || {
            let stats = self.json("/stats");
            if pred(&stats) {
                Ok(stats)
            } else {
                Err(format!(
                    "/stats never reached the expected state; last: {stats}"
                ))
            }
        })
    }
}

/// Both bridges are listed with what they publish; the focus is healthy.
fn focus_lists_both_bridges_with_their_stats(rt: Runtime) {
    if !e2e_enabled() {
        return;
    }
    let mut d = deploy(rt);
    for (nick, region, relay, stress) in [
        ("jvb-eu", "eu-west", "relay-eu", 0.1),
        ("jvb-us", "us-east", "relay-us", 0.3),
    ] {
        let b = d.wait_bridge(nick, CONNECT, |_| true);
        assert_eq!(b["region"], region, "{nick}: {b}");
        assert_eq!(b["relay-id"], relay, "{nick}: {b}");
        assert_eq!(b["stress"], stress, "{nick}: {b}");
        assert_eq!(b["drain"], false, "{nick}: {b}");
        assert_eq!(b["graceful-shutdown"], false, "{nick}: {b}");
        assert_eq!(b["operational"], true, "{nick}: {b}");
        assert_ne!(b["version"], "null", "{nick}: {b}");
    }
    let stats = d.wait_stats(CONNECT, |s| s["bridge_selector"]["bridge_count"] == 2);
    assert_eq!(
        stats["bridge_selector"]["operational_bridge_count"], 2,
        "{stats}"
    );
    assert_eq!(stats["bridge_selector"]["lost_bridges"], 0, "{stats}");
    assert!(
        d.focus.wait_for_http_status("/about/health", 200, CONNECT),
        "never healthy with two bridges"
    );
    // The emulators answered the focus's health checks.
    assert!(
        d.bridges[0].wait_for_log("health", VERDICT),
        "no health check reached jvb-eu:\n{}",
        d.bridges[0].logs()
    );
}

/// A bridge that stops answering is marked failed after the second chance;
/// one that says it is unhealthy is marked failed at its next check; with
/// neither operational the focus is unhealthy.
fn silent_and_unhealthy_bridges_are_marked_failed(rt: Runtime) {
    if !e2e_enabled() {
        return;
    }
    let mut d = deploy(rt);
    d.wait_bridge("jvb-eu", CONNECT, |b| b["operational"] == true);
    d.wait_bridge("jvb-us", CONNECT, |b| b["operational"] == true);

    assert!(d.bridges[1].control("unresponsive on"));
    let us = d.wait_bridge("jvb-us", VERDICT, |b| b["operational"] == false);
    assert_eq!(us["healthy"], true, "it still publishes healthy: {us}");
    assert!(
        d.focus.wait_for_log("health check timed out", VERDICT),
        "the timeout is not logged"
    );
    let eu = d.debug_bridge("jvb-eu").expect("still listed");
    assert_eq!(
        eu["operational"], true,
        "the other bridge is unaffected: {eu}"
    );

    assert!(d.bridges[0].control("healthy off"));
    d.wait_bridge("jvb-eu", VERDICT, |b| b["operational"] == false);
    assert!(
        d.focus.wait_for_log("health check failed", VERDICT),
        "the failure is not logged"
    );
    let body = poll(VERDICT, || {
        let (status, body) = d.focus.http_get("/about/health").expect("health answers");
        if status == 500 {
            Ok(body)
        } else {
            Err(format!("still {status} {body}"))
        }
    });
    assert_eq!(
        body.trim(),
        "No operational bridges available (total bridge count: 2)"
    );
}

/// A crashed bridge is removed and counted lost; one that shuts down
/// gracefully and leaves is removed without being lost.
fn crashed_and_departed_bridges_are_removed(rt: Runtime) {
    if !e2e_enabled() {
        return;
    }
    let mut d = deploy(rt);
    d.wait_stats(CONNECT, |s| s["bridge_selector"]["bridge_count"] == 2);

    assert!(d.bridges[1].control("graceful-shutdown"));
    d.wait_bridge("jvb-us", CONNECT, |b| b["graceful-shutdown"] == true);
    let status = d.bridges[1].quit();
    assert!(status.success(), "the emulator's clean exit: {status:?}");
    let stats = d.wait_stats(CONNECT, |s| s["bridge_selector"]["bridge_count"] == 1);
    assert_eq!(stats["bridge_selector"]["lost_bridges"], 0, "{stats}");

    d.bridges[0].crash();
    let stats = d.wait_stats(VERDICT, |s| s["bridge_selector"]["bridge_count"] == 0);
    assert_eq!(stats["bridge_selector"]["lost_bridges"], 1, "{stats}");
    assert!(d.debug_bridge("jvb-eu").is_none());
}

// Each test once per runtime: `tokio::<name>` and `async_std::<name>`.
focus_tests::on_both_runtimes!(
    focus_lists_both_bridges_with_their_stats,
    silent_and_unhealthy_bridges_are_marked_failed,
    crashed_and_departed_bridges_are_removed,
);
