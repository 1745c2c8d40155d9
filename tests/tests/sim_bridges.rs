//! Bridges in the deterministic simulation: emulated Jitsi Videobridges
//! (`focus_tests::emulator`) join the brewery next to the real focus, which
//! keeps its pool and health-checks them. The expectations are the
//! protocol notes: `brewery.md` (section 2) and `health.md` (sections 1
//! and 2). Bridges that must say something the emulator never says (no
//! `drain` stat, flags going back to false, garbage) are played by raw
//! sessions.

use std::time::Duration;

use focus_proto::Event;
use focus_proto::bridge::{Bridge, BridgeEvent, BridgeRegistry};
use focus_proto::http::{HttpRequest, HttpResponse, Method};
use focus_tests::emulator::presence_with_stats;
use focus_tests::sim::{
    BREWERY_JID, BridgeId, BridgeOptions, BridgeState, Control, Faults, LinkFaults, SessionId, Sim,
    TraceKind, xml,
};
use jid::FullJid;
use minidom::Element;

const FOCUS: &str = "focus@auth.meet.jitsi/focus";
/// The focus's own occupant in the brewery (its nickname is its username).
const FOCUS_OCCUPANT: &str = "jvbbrewery@internal-muc.meet.jitsi/focus";

/// Health checks every 2 s (retry after 1 s), a failed bridge stays
/// non-operational for 10 s.
const FAST_HEALTH: &str = "
jicofo.bridge.health-checks.interval = 2 seconds
jicofo.bridge.failure-reset-threshold = 10 seconds
";

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn full(jid: &str) -> FullJid {
    FullJid::new(jid).unwrap_or_else(|e| panic!("{jid:?} is not a full JID: {e}"))
}

fn occupant(nick: &str) -> String {
    format!("{BREWERY_JID}/{nick}")
}

/// A simulation whose focus uses the brewery, with `hocon` over it, run
/// until the focus is in the brewery.
fn brewery_sim(seed: u64, hocon: &str) -> Sim {
    let mut sim = Sim::builder()
        .seed(seed)
        .with_brewery()
        .config_hocon(hocon)
        .build();
    let joined = sim.run_until(
        |s| {
            bridge_events(s)
                .iter()
                .any(|(_, e)| *e == BridgeEvent::BreweryJoined)
        },
        secs(10),
    );
    assert!(
        joined,
        "the focus did not join the brewery: {:?}\n{}",
        bridge_events(&sim),
        sim.trace_text()
    );
    sim
}

/// Options of bridge `nick` (its seed derived from the nick).
fn jvb(nick: &str) -> BridgeOptions {
    let mut o = BridgeOptions::new(BREWERY_JID, nick);
    o.seed = nick
        .bytes()
        .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    o
}

fn bridge_events(sim: &Sim) -> Vec<(Duration, BridgeEvent)> {
    sim.events()
        .iter()
        .filter_map(|(at, e)| match e {
            Event::Bridge(b) => Some((*at, b.clone())),
            _ => None,
        })
        .collect()
}

fn count_events(sim: &Sim, ev: &BridgeEvent) -> usize {
    bridge_events(sim).iter().filter(|(_, e)| e == ev).count()
}

fn registry(sim: &Sim) -> &BridgeRegistry {
    sim.focus()
        .bridges()
        .expect("a brewery is configured, so the focus has a bridge pool")
}

fn entry<'a>(sim: &'a Sim, jid: &str) -> Option<&'a Bridge> {
    registry(sim).get(&full(jid))
}

fn known<'a>(sim: &'a Sim, jid: &str) -> &'a Bridge {
    entry(sim, jid).unwrap_or_else(|| {
        panic!(
            "the focus does not know {jid}; its pool: {:?}\nevents: {:?}",
            registry(sim)
                .iter()
                .map(|b| b.jid.to_string())
                .collect::<Vec<_>>(),
            bridge_events(sim)
        )
    })
}

fn operational(sim: &Sim, jid: &str) -> bool {
    let threshold = sim.config().bridge.failure_reset_threshold;
    known(sim, jid).is_operational(sim.now(), threshold)
}

/// Runs until the focus knows the bridge `jid` (a stats presence is out
/// at once on start; JVB republishes every 5 s).
fn wait_known(sim: &mut Sim, jid: &str) {
    let ok = sim.run_until(|s| entry(s, jid).is_some(), secs(7));
    assert!(
        ok,
        "the focus never listed {jid}; events: {:?}\nbridge sent: {:?}",
        bridge_events(sim),
        sim.trace().sent_by(&format!(
            "jvb@auth.meet.jitsi/{}",
            jid.rsplit('/').next().unwrap_or("")
        ))
    );
}

/// Adds bridges of `options` (all at once) and runs until the focus knows
/// each; their ids and occupant JIDs.
fn add_known_bridges<const N: usize>(
    sim: &mut Sim,
    options: [BridgeOptions; N],
) -> [(BridgeId, String); N] {
    let added = options.map(|o| {
        let id = sim.add_bridge(o);
        (id, sim.bridge_jid(id))
    });
    for (_, jid) in &added {
        wait_known(sim, jid);
    }
    added
}

/// Runs until `ev` has been emitted (after `since`), up to `limit`;
/// returns when.
fn wait_event(sim: &mut Sim, ev: &BridgeEvent, since: Duration, limit: Duration) -> Duration {
    let found = |s: &Sim| {
        bridge_events(s)
            .into_iter()
            .find(|(at, e)| *at >= since && e == ev)
            .map(|(at, _)| at)
    };
    sim.run_until(|s| found(s).is_some(), limit);
    found(sim).unwrap_or_else(|| {
        panic!(
            "no {ev:?} within {limit:?} after {since:?}; bridge events: {:?}",
            bridge_events(sim)
        )
    })
}

/// Runs until bridge `jid` passed its first health check (one interval
/// after it appeared); that event.
fn wait_first_pass(sim: &mut Sim, jid: &str) -> BridgeEvent {
    let passed = BridgeEvent::HealthCheckPassed { jid: full(jid) };
    wait_event(sim, &passed, Duration::ZERO, secs(3));
    passed
}

/// Puts bridge `id` in graceful shutdown and runs until the focus sees it.
fn graceful_shutdown(sim: &mut Sim, id: BridgeId) {
    let jid = sim.bridge_jid(id);
    sim.control_bridge(id, Control::GracefulShutdown);
    let ok = sim.run_until(|s| known(s, &jid).graceful_shutdown, secs(6));
    assert!(ok, "graceful_shutdown=true did not reach the focus");
}

fn get(sim: &mut Sim, path: &str) -> HttpResponse {
    sim.http(HttpRequest::new(Method::Get, path))
}

fn body(r: &HttpResponse) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

fn debug_bridges(sim: &mut Sim) -> serde_json::Map<String, serde_json::Value> {
    let r = get(sim, "/debug");
    assert_eq!(r.status, 200, "{}", body(&r));
    let v: serde_json::Value = serde_json::from_slice(&r.body)
        .unwrap_or_else(|e| panic!("/debug is not JSON ({e}): {}", body(&r)));
    v["bridge_selector"]["bridge"]
        .as_object()
        .cloned()
        .unwrap_or_else(|| panic!("/debug has no bridge_selector.bridge object: {v}"))
}

/// The health-check IQs the server received from the focus for `to`, after
/// `since`: (arrival time, id).
fn health_checks_to(sim: &Sim, to: &str, since: Duration) -> Vec<(Duration, String)> {
    sim.trace()
        .entries()
        .iter()
        .filter(|e| e.at >= since)
        .filter_map(|e| match &e.kind {
            TraceKind::Sent { from, xml: text }
                if from == FOCUS && text.contains("healthcheck") =>
            {
                let iq = xml(text);
                (iq.attr("to") == Some(to)).then(|| (e.at, iq.attr("id").unwrap_or("").to_owned()))
            }
            _ => None,
        })
        .collect()
}

/// A stats presence of `stats` (name, value) pairs to occupant `nick`, with
/// the MUC join element when `join` (values may be longer than the XML
/// parser allows).
fn stats_presence(nick: &str, stats: &[(&str, &str)], join: bool) -> Element {
    presence_with_stats(&occupant(nick), join, stats)
}

// ----- the harness itself (independent of the emulator's behaviour) -----

#[test]
fn bridge_sessions_follow_their_lifecycle() {
    let mut sim = Sim::builder().seed(3).with_brewery().build();
    sim.run_for(ms(100));
    let a = sim.add_bridge(jvb("jvb-a"));
    assert_eq!(a, BridgeId(0));
    assert_eq!(sim.bridge_ids(), vec![a]);
    assert_eq!(sim.bridge_jid(a), occupant("jvb-a"));
    assert_eq!(sim.bridge(a).options().nick, "jvb-a");
    let s1 = sim.bridge_session(a);
    let session = sim.server().session(s1).expect("the bridge's session");
    assert_eq!(session.jid(), "jvb@auth.meet.jitsi/jvb-a");
    assert!(session.is_open());
    assert_eq!(sim.bridge_state(a), BridgeState::Running);

    sim.run_for(secs(1));
    sim.crash_bridge(a);
    assert_eq!(sim.bridge_state(a), BridgeState::Crashed);
    assert!(!sim.server().session(s1).is_some_and(|s| s.is_open()));
    // Commands to a dead bridge are ignored.
    sim.control_bridge(a, Control::Drain(true));

    sim.restart_bridge(a);
    let s2 = sim.bridge_session(a);
    assert_ne!(s1, s2);
    assert_eq!(sim.bridge_state(a), BridgeState::Running);
    assert!(sim.server().session(s2).is_some_and(|s| s.is_open()));
    sim.run_for(secs(1));

    sim.stop_bridge(a);
    assert_eq!(sim.bridge_state(a), BridgeState::Stopped);
    sim.run_for(ms(100));
    assert!(!sim.server().session(s2).is_some_and(|s| s.is_open()));
    let text = sim.trace_text();
    assert!(text.contains("note bridge jvb-a logged in as jvb@auth.meet.jitsi/jvb-a"));
    assert!(text.contains("note harness: cut jvb@auth.meet.jitsi/jvb-a"));
    assert!(text.contains("note jvb@auth.meet.jitsi/jvb-a closed its stream"));
    // A second bridge gets its own id and session.
    let b = sim.add_bridge(jvb("jvb-b"));
    assert_eq!(b, BridgeId(1));
    sim.disconnect_session(sim.bridge_session(b));
    assert_eq!(sim.bridge_state(b), BridgeState::Crashed);
    sim.assert_no_errors();
}

#[test]
fn a_focus_without_a_brewery_has_no_bridge_pool() {
    let mut sim = Sim::builder().seed(3).build();
    sim.run_for(secs(1));
    assert!(sim.focus().bridges().is_none());
    let a = sim.add_bridge(jvb("jvb-a"));
    sim.run_for(secs(6));
    assert!(sim.focus().bridges().is_none());
    assert!(bridge_events(&sim).is_empty(), "{:?}", bridge_events(&sim));
    sim.stop_bridge(a);
    sim.run_for(secs(1));
    sim.assert_no_errors();
}

// ----- scenarios ---------------------------------------------------------

/// brewery.md 1.2-1.3, 2.2: two bridges join; the focus lists both with
/// what they publish; `/debug` shows them.
#[test]
fn two_bridges_in_two_regions_join() {
    let mut sim = brewery_sim(11, "");
    let mut eu = jvb("jvb-eu");
    eu.region = Some("eu-west".into());
    eu.relay_id = Some("relay-eu".into());
    eu.stress = Some(0.1);
    eu.version = "2.3.250-geu".into();
    let mut us = jvb("jvb-us");
    us.region = Some("us-east".into());
    us.relay_id = Some("relay-us".into());
    us.stress = Some(0.3);
    us.release = Some("9955".into());
    let [(_, ja), (_, jb)] = add_known_bridges(&mut sim, [eu, us]);
    sim.run_for(secs(1));

    assert_eq!(registry(&sim).len(), 2);
    let ba = known(&sim, &ja);
    assert_eq!(ba.name(), "jvb-eu");
    assert_eq!(ba.region.as_deref(), Some("eu-west"));
    assert_eq!(ba.relay_id.as_deref(), Some("relay-eu"));
    assert_eq!(ba.version.as_deref(), Some("2.3.250-geu"));
    assert_eq!(ba.full_version().as_deref(), Some("2.3.250-geu"));
    assert!((ba.stress_level - 0.1).abs() < 1e-9, "{}", ba.stress_level);
    assert!(!ba.draining && !ba.graceful_shutdown && !ba.shutting_down);
    let bb = known(&sim, &jb);
    assert_eq!(bb.region.as_deref(), Some("us-east"));
    assert_eq!(bb.relay_id.as_deref(), Some("relay-us"));
    assert_eq!(bb.version.as_deref(), Some("2.3.250-gemulator"));
    assert_eq!(bb.release.as_deref(), Some("9955"));
    assert_eq!(bb.full_version().as_deref(), Some("2.3.250-gemulator-9955"));
    assert!((bb.stress_level - 0.3).abs() < 1e-9, "{}", bb.stress_level);
    assert!(!bb.draining);
    assert!(operational(&sim, &ja) && operational(&sim, &jb));
    assert_eq!(sim.focus().bridge_counts(sim.now()), (2, 2));
    for jid in [&ja, &jb] {
        assert_eq!(
            count_events(&sim, &BridgeEvent::Added { jid: full(jid) }),
            1
        );
    }

    let debug = debug_bridges(&mut sim);
    assert_eq!(debug.len(), 2, "{debug:?}");
    let da = &debug[&ja];
    assert_eq!(da["region"], "eu-west");
    assert_eq!(da["relay-id"], "relay-eu");
    assert_eq!(da["version"], "2.3.250-geu");
    assert_eq!(da["release"], "null");
    assert_eq!(da["drain"], false);
    assert_eq!(da["graceful-shutdown"], false);
    assert_eq!(da["shutting-down"], false);
    assert_eq!(da["operational"], true);
    assert_eq!(da["healthy"], true);
    assert_eq!(da["overloaded"], false);
    assert_eq!(da["endpoints"], 0);
    assert!(
        (da["stress"].as_f64().unwrap_or(-1.0) - 0.1).abs() < 1e-9,
        "{da}"
    );
    let db = &debug[&jb];
    assert_eq!(db["region"], "us-east");
    assert_eq!(db["relay-id"], "relay-us");
    assert_eq!(db["release"], "9955");
    assert!(
        (db["stress"].as_f64().unwrap_or(-1.0) - 0.3).abs() < 1e-9,
        "{db}"
    );

    // Their stanzas are in the trace like anybody's.
    assert!(!sim.trace().sent_by("jvb@auth.meet.jitsi/jvb-eu").is_empty());
    assert!(
        sim.trace_text()
            .contains("send jvb@auth.meet.jitsi/jvb-us: <presence")
    );
    sim.assert_no_errors();
}

/// brewery.md 1.3: `drain` is initially true, so a bridge that never sends
/// it is draining; `drain` is not sticky. (`BridgeOptions::drain` is a
/// bool: the emulator always sends the stat, so a raw session plays the
/// bridge without it.)
#[test]
fn a_bridge_that_never_sends_drain_is_draining() {
    let mut sim = brewery_sim(12, "");
    let raw = sim.connect_raw("jvb@auth.meet.jitsi/nodrain");
    sim.raw_send(
        raw,
        stats_presence(
            "nodrain",
            &[
                ("stress_level", "0.05"),
                ("region", "eu-west"),
                ("relay_id", "relay-x"),
                ("version", "2.3.250-gold"),
                ("healthy", "true"),
            ],
            true,
        ),
    );
    let nodrain = occupant("nodrain");
    wait_known(&mut sim, &nodrain);
    assert!(known(&sim, &nodrain).draining, "no drain stat: draining");
    assert_eq!(debug_bridges(&mut sim)[&nodrain]["drain"], true);
    // Still draining after a later presence without the stat.
    sim.raw_send(
        raw,
        stats_presence("nodrain", &[("stress_level", "0.06")], false),
    );
    sim.run_for(secs(1));
    assert!(known(&sim, &nodrain).draining);

    // The emulator says drain=false; then drains and stops draining.
    let [(a, ja)] = add_known_bridges(&mut sim, [jvb("jvb-a")]);
    assert!(!known(&sim, &ja).draining);
    sim.control_bridge(a, Control::Drain(true));
    let ok = sim.run_until(|s| known(s, &ja).draining, secs(6));
    assert!(ok, "Control::Drain(true) did not reach the focus");
    sim.control_bridge(a, Control::Drain(false));
    let ok = sim.run_until(|s| !known(s, &ja).draining, secs(6));
    assert!(
        ok,
        "drain is not sticky: Control::Drain(false) must reach the focus"
    );
    sim.assert_no_errors();
}

/// brewery.md 2.2: a bridge that announced its shutdown and leaves is not
/// lost; one whose connection drops is.
#[test]
fn clean_leave_after_graceful_shutdown_is_not_lost_and_a_crash_is() {
    let mut sim = brewery_sim(13, "");
    let [(a, ja), (b, jb)] = add_known_bridges(&mut sim, [jvb("jvb-a"), jvb("jvb-b")]);

    graceful_shutdown(&mut sim, a);
    // In graceful shutdown: not counted as operational for new conferences.
    assert_eq!(sim.focus().bridge_counts(sim.now()), (1, 2));
    let t = sim.elapsed();
    sim.stop_bridge(a);
    let removed_a = BridgeEvent::Removed {
        jid: full(&ja),
        lost: false,
    };
    wait_event(&mut sim, &removed_a, t, secs(2));
    assert!(entry(&sim, &ja).is_none());
    assert_eq!(registry(&sim).lost_bridges, 0);

    let t = sim.elapsed();
    sim.crash_bridge(b);
    let removed_b = BridgeEvent::Removed {
        jid: full(&jb),
        lost: true,
    };
    wait_event(&mut sim, &removed_b, t, secs(2));
    assert!(registry(&sim).is_empty());
    assert_eq!(registry(&sim).lost_bridges, 1);
    // The server told the focus, as Prosody does for a dropped connection.
    let told = sim.trace().received_by(FOCUS).into_iter().any(|x| {
        x.contains(&format!("from='{jb}'"))
            && x.contains("type='unavailable'")
            && x.contains("Disconnected: connection closed")
    });
    assert!(told, "no unavailable with 'Disconnected:' for {jb}");
    assert_eq!(count_events(&sim, &removed_a), 1);
    assert_eq!(count_events(&sim, &removed_b), 1);
    sim.assert_no_errors();
}

/// brewery.md 1.3, 2.2: `graceful_shutdown` and `shutting_down` are sticky;
/// the move away happens once, on the false→true transition.
#[test]
fn shutdown_flags_are_sticky_and_shutting_down_is_announced_once() {
    let mut sim = brewery_sim(14, "");
    let [(a, ja)] = add_known_bridges(&mut sim, [jvb("jvb-a")]);
    graceful_shutdown(&mut sim, a);
    assert!(!known(&sim, &ja).shutting_down);
    let t = sim.elapsed();
    sim.control_bridge(a, Control::ShuttingDown);
    let shutting = BridgeEvent::ShuttingDown { jid: full(&ja) };
    wait_event(&mut sim, &shutting, t, secs(6));
    assert!(known(&sim, &ja).shutting_down && known(&sim, &ja).graceful_shutdown);
    // Several republished presences later: still one event.
    sim.run_for(secs(16));
    assert_eq!(count_events(&sim, &shutting), 1);
    let debug = debug_bridges(&mut sim);
    assert_eq!(debug[&ja]["graceful-shutdown"], true);
    assert_eq!(debug[&ja]["shutting-down"], true);

    // A bridge that takes its flags back: they stay.
    let raw = sim.connect_raw("jvb@auth.meet.jitsi/fickle");
    let fickle = occupant("fickle");
    let send = |sim: &mut Sim, raw: SessionId, g: &str, s: &str, d: &str, join: bool| {
        let stats = [
            ("graceful_shutdown", g),
            ("shutting_down", s),
            ("drain", d),
            ("version", "2.3.250-gx"),
        ];
        sim.raw_send(raw, stats_presence("fickle", &stats, join));
        sim.run_for(ms(200));
    };
    send(&mut sim, raw, "false", "false", "false", true);
    let b = known(&sim, &fickle);
    assert!(!b.graceful_shutdown && !b.shutting_down && !b.draining);
    send(&mut sim, raw, "TRUE", "false", "false", false);
    assert!(
        known(&sim, &fickle).graceful_shutdown,
        "'TRUE' parses as true"
    );
    send(&mut sim, raw, "false", "false", "false", false);
    assert!(
        known(&sim, &fickle).graceful_shutdown,
        "graceful_shutdown is sticky"
    );
    send(&mut sim, raw, "false", "true", "true", false);
    send(&mut sim, raw, "false", "false", "false", false);
    send(&mut sim, raw, "false", "true", "false", false);
    let b = known(&sim, &fickle);
    assert!(b.graceful_shutdown && b.shutting_down, "both sticky");
    let fickle_shutting = BridgeEvent::ShuttingDown { jid: full(&fickle) };
    assert_eq!(count_events(&sim, &fickle_shutting), 1);
    // It announced its shutdown: leaving is not a loss.
    sim.raw_send_xml(
        raw,
        &format!("<presence type='unavailable' to='{fickle}'/>"),
    );
    sim.run_for(ms(200));
    assert_eq!(
        count_events(
            &sim,
            &BridgeEvent::Removed {
                jid: full(&fickle),
                lost: false
            }
        ),
        1
    );
    assert_eq!(registry(&sim).lost_bridges, 0);
    // Coming back with the same nickname: a fresh bridge, flags reset.
    send(&mut sim, raw, "false", "false", "false", true);
    let b = known(&sim, &fickle);
    assert!(!b.graceful_shutdown && !b.shutting_down);
    sim.assert_no_errors();
}

/// health.md 1.3: an unhealthy answer fails the check within one interval;
/// a later pass does not make the bridge operational before
/// failure-reset-threshold after the last failure.
#[test]
fn failed_health_check_then_recovery_after_failure_reset_threshold() {
    let mut sim = brewery_sim(15, FAST_HEALTH);
    let [(a, ja)] = add_known_bridges(&mut sim, [jvb("jvb-a")]);
    let failed = BridgeEvent::HealthCheckFailed { jid: full(&ja) };
    // The first check one interval after the bridge appeared.
    let passed = wait_first_pass(&mut sim, &ja);
    assert!(operational(&sim, &ja));

    let t0 = sim.elapsed();
    sim.control_bridge(a, Control::Healthy(false));
    let t_fail = wait_event(&mut sim, &failed, t0, secs(2) + ms(100));
    assert!(t_fail - t0 <= secs(2) + ms(10), "{t_fail:?} - {t0:?}");
    assert!(!operational(&sim, &ja));
    assert_eq!(sim.focus().bridge_counts(sim.now()), (0, 1));
    assert_eq!(debug_bridges(&mut sim)[&ja]["operational"], false);

    let t1 = sim.elapsed();
    sim.control_bridge(a, Control::Healthy(true));
    let t_pass = wait_event(&mut sim, &passed, t1, secs(2) + ms(100));
    assert!(
        !operational(&sim, &ja),
        "passed at {t_pass:?}, but the last failure ({t_fail:?}) is < 10 s old"
    );
    // No other failure since: the threshold counts from the last one.
    let last_fail = bridge_events(&sim)
        .iter()
        .filter(|(_, e)| *e == failed)
        .map(|(at, _)| *at)
        .max()
        .unwrap_or(t_fail);
    let until = last_fail + secs(10) - ms(50);
    sim.run_for(until.saturating_sub(sim.elapsed()));
    assert!(!operational(&sim, &ja), "still within the threshold");
    sim.run_for(ms(100));
    assert!(
        operational(&sim, &ja),
        "threshold over and the last check passed"
    );
    assert_eq!(sim.focus().bridge_counts(sim.now()), (1, 1));
    assert_eq!(count_events(&sim, &failed), 1, "{:?}", bridge_events(&sim));
    sim.assert_no_errors();
}

/// health.md 1.3: an unanswered check is retried after retry-delay; a
/// second silence times the bridge out (non-operational), nobody moved.
/// The IQ waits the connection's reply-timeout (the client's, 15 s, as no
/// service connection is configured).
#[test]
fn an_unresponsive_bridge_times_out_without_moving_anyone() {
    let mut sim = brewery_sim(16, FAST_HEALTH);
    let [(a, ja)] = add_known_bridges(&mut sim, [jvb("jvb-a")]);
    let passed = wait_first_pass(&mut sim, &ja);

    let t0 = sim.elapsed();
    sim.control_bridge(a, Control::Unresponsive(true));
    let timed_out = BridgeEvent::HealthCheckTimedOut { jid: full(&ja) };
    let t_out = wait_event(&mut sim, &timed_out, t0, secs(40));
    let checks = health_checks_to(&sim, &ja, t0);
    assert!(checks.len() >= 2, "{checks:?}");
    let (c1, c2) = (checks[0].0, checks[1].0);
    // reply-timeout 15 s, retry-delay interval/2 = 1 s, reply-timeout 15 s.
    assert_eq!(c2 - c1, secs(16), "{checks:?}");
    let expected = c1 + secs(31);
    assert!(
        t_out + ms(5) >= expected && t_out <= expected + ms(5),
        "timed out at {t_out:?}, first check reached the server at {c1:?}"
    );
    assert!(!operational(&sim, &ja));
    assert!(
        entry(&sim, &ja).is_some(),
        "a timeout does not remove the bridge"
    );
    let after = |s: &Sim| -> Vec<Event> {
        s.events()
            .iter()
            .filter(|(at, _)| *at >= t0)
            .map(|(_, e)| e.clone())
            .collect()
    };
    let evs = after(&sim);
    assert!(
        !evs.iter().any(|e| matches!(
            e,
            Event::Conference(_) | Event::Bridge(BridgeEvent::HealthCheckFailed { .. })
        )),
        "a timeout moves nobody: {evs:?}"
    );

    // Answering again: the next check passes.
    let t1 = sim.elapsed();
    sim.control_bridge(a, Control::Unresponsive(false));
    wait_event(&mut sim, &passed, t1, secs(20));
    sim.assert_no_errors();
}

/// health.md 2.2-2.3: the focus is unhealthy without an operational
/// bridge, healthy once one joined, unhealthy again when it fails.
#[test]
fn about_health_needs_an_operational_bridge() {
    let mut sim = brewery_sim(
        17,
        &format!("jicofo.health.enabled = true\njicofo.health.interval = 2 seconds\n{FAST_HEALTH}"),
    );
    sim.run_for(secs(3));
    let r = get(&mut sim, "/about/health");
    assert_eq!(
        (r.status, body(&r).as_str()),
        (
            500,
            "No operational bridges available (total bridge count: 0)"
        )
    );

    let [(a, _)] = add_known_bridges(&mut sim, [jvb("jvb-a")]);
    let healthy = |sim: &mut Sim| {
        for _ in 0..30 {
            let r = get(sim, "/about/health");
            if r.status == 200 {
                return Some(r);
            }
            sim.run_for(secs(1));
        }
        None
    };
    let r = healthy(&mut sim).expect("/about/health never became 200 with a healthy bridge");
    assert_eq!(body(&r), "OK");

    sim.control_bridge(a, Control::Healthy(false));
    let mut last = None;
    for _ in 0..10 {
        sim.run_for(secs(1));
        let r = get(&mut sim, "/about/health");
        if r.status != 200 {
            last = Some(r);
            break;
        }
    }
    let r = last.expect("/about/health stayed 200 with a failed bridge");
    assert_eq!(
        (r.status, body(&r).as_str()),
        (
            500,
            "No operational bridges available (total bridge count: 1)"
        )
    );
    sim.assert_no_errors();
}

/// brewery.md 2.1: losing the connection empties the pool; after the
/// reconnection the focus rejoins and the bridges come back as new ones
/// (a failure before does not follow them).
#[test]
fn focus_reconnect_rejoins_the_brewery_and_bridges_come_back_as_new() {
    // Default failure-reset-threshold (1 minute), fast health checks.
    let mut sim = brewery_sim(18, "jicofo.bridge.health-checks.interval = 2 seconds");
    let [(a, ja), (_, jb)] = add_known_bridges(&mut sim, [jvb("jvb-a"), jvb("jvb-b")]);
    let failed = BridgeEvent::HealthCheckFailed { jid: full(&ja) };
    sim.control_bridge(a, Control::Healthy(false));
    wait_event(&mut sim, &failed, Duration::ZERO, secs(3));
    sim.control_bridge(a, Control::Healthy(true));
    sim.run_for(secs(1));
    assert!(!operational(&sim, &ja));

    let t0 = sim.elapsed();
    // Long enough for a focus that waits reply-timeout (15 s) before
    // dropping the pool, as Jicofo does.
    sim.disconnect_focus(Some(secs(20)));
    wait_event(&mut sim, &BridgeEvent::BreweryLeft, t0, secs(16));
    assert!(registry(&sim).is_empty());
    assert_eq!(debug_bridges(&mut sim).len(), 0);

    let t_rejoin = wait_event(&mut sim, &BridgeEvent::BreweryJoined, t0, secs(30));
    assert!(t_rejoin >= t0 + secs(20));
    wait_known(&mut sim, &ja);
    wait_known(&mut sim, &jb);
    for jid in [&ja, &jb] {
        assert_eq!(
            count_events(&sim, &BridgeEvent::Added { jid: full(jid) }),
            2
        );
    }
    // A fresh Bridge object: the failure 20 s ago (< 1 minute) is gone.
    assert!(operational(&sim, &ja), "jvb-a came back as a new bridge");
    assert!(operational(&sim, &jb));
    sim.assert_no_errors();
}

/// Hostile brewery members: garbage stats and impostor health answers break
/// nothing, and no bridge becomes usable by them.
#[test]
fn hostile_brewery_input_breaks_nothing() {
    let mut sim = brewery_sim(19, FAST_HEALTH);
    let evil = sim.connect_raw("jvb@auth.meet.jitsi/evil");
    let big_region = "r".repeat(10 * 1024);
    let many: Vec<(String, String)> = (0..3000)
        .map(|i| (format!("junk_{i}"), format!("{i}")))
        .collect();
    let mut stats: Vec<(&str, &str)> = vec![
        ("stress_level", "NaN"),
        ("average_participant_stress", "-Infinity"),
        ("participants", "-5"),
        ("conferences", "1e400"),
        ("region", &big_region),
        ("drain", "false"),
        ("stress_level", "0.0"),
        ("flux_capacitor", "1.21 GW"),
    ];
    stats.extend(many.iter().map(|(n, v)| (n.as_str(), v.as_str())));
    sim.raw_send(evil, stats_presence("evil", &stats, true));
    // Stats that are not stats, and presence without any.
    sim.raw_send_xml(
        evil,
        &format!(
            "<presence to='{}'><stats xmlns='http://jitsi.org/protocol/colibri'>\
             <stat/><stat name='stress_level'/><stat value='1'/>\
             <foo xmlns='urn:x'><stat name='drain' value='true'/></foo>\
             </stats><stats xmlns='urn:not-colibri'/></presence>",
            occupant("evil")
        ),
    );
    sim.raw_send_xml(evil, &format!("<presence to='{}'/>", occupant("evil")));
    let evil2 = sim.connect_raw("jvb@auth.meet.jitsi/evil2");
    sim.raw_send(
        evil2,
        stats_presence(
            "evil2",
            &[("stress_level", "inf"), ("drain", "false")],
            true,
        ),
    );
    // An occupant without stats at all is no bridge.
    let nostats = sim.connect_raw("jvb@auth.meet.jitsi/nostats");
    sim.raw_send_xml(
        nostats,
        &format!(
            "<presence to='{}'><x xmlns='http://jabber.org/protocol/muc'/></presence>",
            occupant("nostats")
        ),
    );
    sim.run_for(secs(1));
    assert!(entry(&sim, &occupant("nostats")).is_none());
    let rampup = sim.config().bridge.participant_rampup_interval;
    for b in registry(&sim).iter() {
        assert!(
            b.stress_level.is_finite() && b.stress_level >= 0.0,
            "{}: stress {}",
            b.jid,
            b.stress_level
        );
        let corrected = b.corrected_stress(sim.now(), rampup);
        assert!(
            corrected.is_finite(),
            "{}: corrected stress {corrected}",
            b.jid
        );
        assert!(
            b.average_participant_stress.is_finite() && b.average_participant_stress >= 0.0,
            "{}: average participant stress {}",
            b.jid,
            b.average_participant_stress
        );
    }
    let debug = debug_bridges(&mut sim);
    for (jid, d) in &debug {
        assert!(d["stress"].is_number(), "{jid}: {d}");
        assert!(d["corrected-stress"].is_number(), "{jid}: {d}");
    }

    // A real bridge that stops answering, and impostors answering its
    // health checks with the right id (read off the wire) or guessed ones.
    let [(a, ja)] = add_known_bridges(&mut sim, [jvb("jvb-a")]);
    let passed = wait_first_pass(&mut sim, &ja);
    let t0 = sim.elapsed();
    sim.control_bridge(a, Control::Unresponsive(true));
    let mallory = sim.connect_raw("mallory@meet.jitsi/x");
    sim.raw_send_xml(mallory, "<presence/>");
    let in_room = sim.connect_raw("jvb@auth.meet.jitsi/evil3");
    sim.raw_send(
        in_room,
        stats_presence("evil3", &[("drain", "false")], true),
    );
    let mut answered = Vec::new();
    let timed_out = BridgeEvent::HealthCheckTimedOut { jid: full(&ja) };
    let deadline = t0 + secs(40);
    while sim.elapsed() < deadline && count_events(&sim, &timed_out) == 0 {
        sim.run_for(ms(50));
        for (_, id) in health_checks_to(&sim, &ja, t0) {
            if answered.contains(&id) {
                continue;
            }
            for guess in [id.as_str(), "1", "hc-1", "0", ""] {
                sim.raw_send_xml(
                    mallory,
                    &format!("<iq type='result' id='{guess}' to='{FOCUS}'/>"),
                );
                sim.raw_send_xml(
                    in_room,
                    &format!("<iq type='result' id='{guess}' to='{FOCUS_OCCUPANT}'/>"),
                );
            }
            answered.push(id);
        }
    }
    assert!(
        answered.len() >= 2,
        "the focus should have checked twice: {answered:?}"
    );
    let t_out = wait_event(&mut sim, &timed_out, t0, secs(1));
    let fooled = bridge_events(&sim)
        .iter()
        .any(|(at, e)| *at > t0 && *at <= t_out && *e == passed);
    assert!(
        !fooled,
        "an impostor's answer passed jvb-a's health check: {:?}",
        bridge_events(&sim)
    );
    assert!(!operational(&sim, &ja));

    // After all that, a new bridge still joins and is usable.
    let [(_, jb)] = add_known_bridges(&mut sim, [jvb("jvb-b")]);
    assert!(operational(&sim, &jb) && !known(&sim, &jb).draining);
    let errors = sim.take_errors();
    assert!(
        errors.is_empty(),
        "hostile peers are no focus bug, nothing to log at ERROR: {errors:#?}"
    );
}

/// The same seed gives the same transcript, bridges included (with jitter
/// on every link, health checks, shutdowns, a crash and a restart).
#[test]
fn same_seed_same_trace_with_bridges() {
    fn run(seed: u64) -> String {
        let mut sim = Sim::builder()
            .seed(seed)
            .with_brewery()
            .config_hocon(FAST_HEALTH)
            .faults(Faults::everywhere(
                LinkFaults::none().jitter(ms(30)).reorder(false),
            ))
            .build();
        sim.run_for(secs(1));
        let mut eu = jvb("jvb-eu");
        eu.region = Some("eu-west".into());
        let a = sim.add_bridge(eu);
        let b = sim.add_bridge(jvb("jvb-us"));
        sim.run_for(secs(7));
        sim.control_bridge(a, Control::Healthy(false));
        sim.control_bridge(b, Control::Stress(Some(0.5)));
        sim.run_for(secs(5));
        sim.control_bridge(a, Control::Healthy(true));
        sim.control_bridge(b, Control::GracefulShutdown);
        sim.run_for(secs(5));
        sim.crash_bridge(a);
        sim.run_for(secs(2));
        sim.restart_bridge(a);
        sim.stop_bridge(b);
        sim.run_for(secs(10));
        let _ = sim.http(HttpRequest::new(Method::Get, "/debug"));
        sim.run_for(secs(1));
        // Determinism does not depend on the focus side being complete.
        let _ = sim.take_errors();
        sim.trace_text()
    }
    let one = run(42);
    let two = run(42);
    assert!(one.contains("note bridge jvb-eu logged in as jvb@auth.meet.jitsi/jvb-eu"));
    assert!(one.contains("harness: bridge jvb-us: GracefulShutdown"));
    if one != two {
        let line = one
            .lines()
            .zip(two.lines())
            .position(|(x, y)| x != y)
            .unwrap_or(0);
        panic!(
            "traces differ from line {line}:\n{}\n---\n{}",
            one.lines().nth(line).unwrap_or(""),
            two.lines().nth(line).unwrap_or("")
        );
    }
    // And the bridges actually spoke (once the emulator does).
    assert!(
        one.contains("send jvb@auth.meet.jitsi/jvb-eu: <presence"),
        "the emulated bridge sent nothing"
    );
}
