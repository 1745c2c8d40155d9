//! Conferences with media end to end, on both runtimes (each test runs as
//! `tokio::<name>` and `async_std::<name>`): a real Prosody, one
//! `bridge-emulator` in the brewery, the focus, and participants that log
//! in anonymously and answer Jingle like lib-jitsi-meet
//! ([`MediaParticipant`], the simulation's `JingleClient` over a real
//! connection). The simulated counterpart is `sim_media.rs`.
//!
//! - three participants in one room: each is sent a `session-initiate`
//!   after its features were discovered, accepts it, and ends up knowing
//!   every other participant's sources as receivers get them (audio, the
//!   first simulcast layer and its RTX) and the bridge's `jvb` sources;
//!   the bridge holds one conference with three endpoints, none once all
//!   left;
//! - a screen share added mid-call (`source-add` of `<ep>-v1`, desktop,
//!   with RTX and FID) reaches the others, and its `source-remove` takes
//!   it away again;
//! - an in-place ICE restart asked for by a participant: the bridge's new
//!   credentials reach it in a `transport-info`, its answer reaches the
//!   bridge, the session stays.
//!
//! No timing is asserted: states are polled with generous deadlines.
//! Skipped (with a message) when Prosody is not installed, unless
//! `FOCUS_E2E_REQUIRED` is set; `scripts/test.sh` sets it.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use focus_tests::e2e::participant::new_room;
use focus_tests::e2e::{
    BridgeEmulatorProcess, BridgeStatus, FocusProcess, MediaParticipant, Prosody, ProsodyOptions,
    Runtime, brewery_jid, bridge_status, e2e_enabled, focus_binary, free_port, jicofo_conf,
};
use focus_tests::emulator::BridgeOptions;
use focus_tests::sim::MediaSpec;
use serde_json::Value;

/// Generous for a slow CI machine.
const CONNECT: Duration = Duration::from_secs(30);
/// How long signaling may take to settle (normally well under a second).
const SETTLE: Duration = Duration::from_secs(15);
/// How long one answer may take.
const ANSWER: Duration = Duration::from_secs(10);

const READY: &str = "XMPP connection ready";
const BRIDGE: &str = "jvb-media";

/// Calls `probe` every 100 ms until it gives `Ok`, and returns that;
/// panics with the last `Err` once `within` has passed.
fn poll<T>(within: Duration, mut probe: impl FnMut() -> Result<T, String>) -> T {
    let end = Instant::now() + within;
    loop {
        match probe() {
            Ok(found) => return found,
            Err(last) => assert!(Instant::now() < end, "after {within:?}: {last}"),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

struct Deployment {
    // Dropped first: killed while Prosody still runs.
    focus: FocusProcess,
    bridge: BridgeEmulatorProcess,
    prosody: Prosody,
}

/// Prosody, one emulated bridge, and the focus, which has seen the bridge.
fn deploy(rt: Runtime) -> Deployment {
    let prosody = Prosody::start(ProsodyOptions::default());
    let mut opts = BridgeOptions::new(&brewery_jid(&prosody), BRIDGE);
    opts.stats_interval = Duration::from_secs(1);
    let bridge = BridgeEmulatorProcess::spawn(&prosody, &opts);
    assert!(bridge.wait_ready(CONNECT), "the bridge never joined");
    let conf = jicofo_conf(&prosody, free_port(), &[]);
    let env: [(&str, Option<PathBuf>); 1] = [("SSL_CERT_FILE", Some(prosody.ca_cert()))];
    let focus = FocusProcess::spawn(focus_binary(rt), &conf, env);
    assert!(
        focus.wait_for_log(READY, CONNECT),
        "the focus never connected"
    );
    let d = Deployment {
        focus,
        bridge,
        prosody,
    };
    poll(CONNECT, || {
        let stats = d.stats();
        let selector = &stats["bridge_selector"];
        if selector["operational_bridge_count"] == 1 {
            Ok(())
        } else {
            Err(format!("the focus does not list the bridge: {stats}"))
        }
    });
    d
}

impl Deployment {
    fn stats(&self) -> Value {
        let (status, body) = self
            .focus
            .http_get("/stats")
            .unwrap_or_else(|e| panic!("GET /stats: {e}"));
        assert_eq!(status, 200, "GET /stats: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET /stats: {e}: {body}"))
    }

    /// `count` participants in a fresh room, each with lib-jitsi-meet's
    /// default media (audio and a simulcast camera), all joined.
    fn participants(&self, count: usize) -> Vec<MediaParticipant> {
        let room = new_room(&self.prosody);
        (0..count)
            .map(|_| MediaParticipant::join(&self.prosody, &room, MediaSpec::default()))
            .collect()
    }

    /// Polls the bridge's status until `pred` holds.
    fn wait_bridge(&mut self, what: &str, pred: impl Fn(&BridgeStatus) -> bool) -> BridgeStatus {
        let bridge = &mut self.bridge;
        poll(SETTLE, || match bridge_status(bridge, ANSWER) {
            Some(s) if pred(&s) => Ok(s),
            other => Err(format!(
                "the bridge never got to {what}; last status {other:?}"
            )),
        })
    }
}

/// Waits until every participant's session-accept was answered `result`.
fn wait_all_accepted(ps: &[MediaParticipant]) {
    poll(SETTLE, || {
        let pending: Vec<String> = ps
            .iter()
            .filter(|p| !p.session_accepted())
            .map(|p| format!("{}: {:?}", p.nick(), p.view()))
            .collect();
        if pending.is_empty() {
            Ok(())
        } else {
            Err(format!("sessions not accepted:\n{}", pending.join("\n")))
        }
    });
}

/// Where a receiver's view of the others differs from what they send
/// (simulcast stripped); empty when it matches. The bridge's `jvb` sources
/// must be there; its own never.
fn mismatches(receiver: &MediaParticipant, all: &[MediaParticipant]) -> Vec<String> {
    let seen = receiver.view().jingle.remote;
    let mut out = Vec::new();
    for sender in all.iter().filter(|s| s.nick() != receiver.nick()) {
        let expected = sender.receiver_view();
        let got = seen.get(sender.nick());
        if got != Some(&expected) {
            out.push(format!(
                "{} sees {:?} of {}, expected {expected:?}",
                receiver.nick(),
                got,
                sender.nick()
            ));
        }
    }
    if seen.get("jvb").is_none_or(|s| s.is_empty()) {
        out.push(format!("{} has no jvb sources: {seen:?}", receiver.nick()));
    }
    if seen.contains_key(receiver.nick()) {
        out.push(format!("{} was sent its own sources", receiver.nick()));
    }
    let owners: BTreeSet<&str> = all.iter().map(|p| p.nick()).chain(["jvb"]).collect();
    if let Some(stranger) = seen.keys().find(|k| !owners.contains(k.as_str())) {
        out.push(format!(
            "{} knows sources of a stranger {stranger}",
            receiver.nick()
        ));
    }
    out
}

/// Waits until every participant knows exactly the others' sources.
fn wait_converged(ps: &[MediaParticipant], what: &str) {
    poll(SETTLE, || {
        let wrong: Vec<String> = ps.iter().flat_map(|p| mismatches(p, ps)).collect();
        if wrong.is_empty() {
            Ok(())
        } else {
            Err(format!("{what}:\n{}", wrong.join("\n")))
        }
    });
}

/// Nothing went wrong in any participant's Jingle session.
fn assert_clean(ps: &[MediaParticipant]) {
    for p in ps {
        let v = p.view();
        assert!(
            v.jingle.problems.is_empty(),
            "{}: {:?}",
            p.nick(),
            v.jingle.problems
        );
        assert!(
            v.refused().is_empty(),
            "{}: refused {:?}",
            p.nick(),
            v.refused()
        );
        assert_eq!(v.jingle.offers, 1, "{}: {:?}", p.nick(), v.jingle.actions);
        assert_eq!(
            v.jingle.terminated,
            None,
            "{}: {:?}",
            p.nick(),
            v.jingle.actions
        );
        assert!(v.closed.is_none(), "{}: {:?}", p.nick(), v.closed);
    }
}

/// (1) Three participants: every session is accepted, everybody knows
/// everybody else's sources and the bridge's, the bridge holds three
/// endpoints in one conference, and nothing once all left.
fn three_participants_share_sources_through_one_bridge(rt: Runtime) {
    if !e2e_enabled() {
        return;
    }
    let mut d = deploy(rt);
    let ps = d.participants(3);
    wait_all_accepted(&ps);
    wait_converged(&ps, "sources after three joins");
    assert_clean(&ps);
    for p in &ps {
        let v = p.view();
        assert!(
            v.disco_info >= 1,
            "{}: the focus never asked its features",
            p.nick()
        );
        assert_eq!(
            v.jingle.actions.first().map(String::as_str),
            Some("session-initiate")
        );
        assert!(
            v.jingle.bridge_session.is_some(),
            "{}: no bridge-session",
            p.nick()
        );
        assert_eq!(
            v.occupants.len(),
            3,
            "{}: the focus and two others: {:?}",
            p.nick(),
            v.occupants
        );
    }
    let status = d.wait_bridge("three endpoints", |s| s.endpoints == 3);
    assert_eq!(
        status,
        BridgeStatus {
            joined: true,
            conferences: 1,
            endpoints: 3,
            relays: 0
        }
    );

    for p in ps {
        let last = p.leave();
        assert!(last.refused().is_empty(), "{:?}", last.refused());
    }
    let status = d.wait_bridge("no conference", |s| s.conferences == 0);
    assert_eq!(status.endpoints, 0, "{status:?}");
    assert!(status.joined, "{status:?}");
}

/// (2) A screen share: its `source-add` is accepted and the others learn
/// its SSRCs (desktop and RTX: nothing to strip); its `source-remove` is
/// accepted and the others drop them. The camera is untouched.
fn screen_share_reaches_the_others_and_goes_away(rt: Runtime) {
    if !e2e_enabled() {
        return;
    }
    let mut d = deploy(rt);
    let ps = d.participants(3);
    wait_all_accepted(&ps);
    wait_converged(&ps, "sources after three joins");
    let sharer = &ps[0];
    let before = sharer.receiver_view();

    let answer = sharer
        .start_screen_share(ANSWER)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(answer.is_result(), "source-add refused: {answer:?}");
    let own = sharer.view().own;
    let share: BTreeSet<u32> = own
        .sources
        .iter()
        .filter(|s| s.name == format!("{}-v1", sharer.nick()))
        .map(|s| s.ssrc)
        .collect();
    assert_eq!(share.len(), 2, "primary and RTX: {own:?}");
    let with_share = sharer.receiver_view();
    assert_eq!(
        with_share,
        before.union(&share).copied().collect::<BTreeSet<u32>>(),
        "a screen share is not simulcast"
    );
    wait_converged(&ps, "sources after the screen share started");
    for p in &ps[1..] {
        assert_eq!(
            p.view().jingle.actions.last().map(String::as_str),
            Some("source-add"),
            "{}",
            p.nick()
        );
    }

    let answer = sharer
        .stop_screen_share(ANSWER)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(answer.is_result(), "source-remove refused: {answer:?}");
    assert_eq!(sharer.receiver_view(), before);
    wait_converged(&ps, "sources after the screen share stopped");
    for p in &ps[1..] {
        let v = p.view();
        assert_eq!(
            v.jingle.actions.last().map(String::as_str),
            Some("source-remove"),
            "{}",
            p.nick()
        );
        let remote = &v.jingle.remote[sharer.nick()];
        assert!(remote.is_disjoint(&share), "{}: {remote:?}", p.nick());
    }
    assert_clean(&ps);
    let status = d.wait_bridge("three endpoints", |s| s.endpoints == 3);
    assert_eq!(status.conferences, 1, "{status:?}");
}

/// (3) An in-place ICE restart (jingle.md 8): the participant's
/// `session-info` is accepted, the bridge hands out new credentials with
/// `ice-generation` 1, the focus relays them in a `transport-info`, and the
/// participant's answering `transport-info` reaches the bridge. The
/// session and everyone's sources stay as they were.
fn ice_restart_is_relayed_both_ways(rt: Runtime) {
    if !e2e_enabled() {
        return;
    }
    let mut d = deploy(rt);
    let ps = d.participants(2);
    wait_all_accepted(&ps);
    wait_converged(&ps, "sources after two joins");
    let restarting = &ps[0];
    let before = restarting.view().jingle;
    assert_eq!(before.ice_generation, 0);

    let answer = restarting
        .request_ice_restart(ANSWER)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(answer.is_result(), "ICE restart refused: {answer:?}");
    let after = poll(SETTLE, || {
        let jingle = restarting.view().jingle;
        if jingle.ice_generation == 1 {
            Ok(jingle)
        } else {
            Err(format!("no restarted transport applied: {jingle:?}"))
        }
    });
    assert_ne!(after.bridge_ufrag, before.bridge_ufrag, "new credentials");
    assert_eq!(after.sid, before.sid, "the same Jingle session");
    assert_eq!(after.offers, 1, "no re-invite");
    let answered = format!("ICE restart of {} in ", restarting.nick());
    assert!(
        d.bridge
            .wait_for_log("answered by the participant (generation 1)", SETTLE)
            && d.bridge.count_log(&answered) >= 2,
        "the bridge never got the participant's answer:\n{}",
        d.bridge.logs()
    );
    poll(ANSWER, || {
        let answers = restarting.view().answers;
        if answers
            .iter()
            .any(|a| a.action == "transport-info" && a.is_result())
        {
            Ok(())
        } else {
            Err(format!(
                "the focus did not accept the answering transport-info: {answers:?}"
            ))
        }
    });
    assert_eq!(
        ps[1].view().jingle.transport_infos,
        0,
        "the other untouched"
    );
    wait_converged(&ps, "sources after the restart");
    assert_clean(&ps);
    let (status, metrics) = d
        .focus
        .http_get("/metrics")
        .unwrap_or_else(|e| panic!("GET /metrics: {e}"));
    assert_eq!(status, 200, "{metrics}");
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("jitsi_jicofo_ice_restarts_relayed") && l.ends_with(" 1")),
        "{metrics}"
    );
    let status = d.wait_bridge("two endpoints", |s| s.endpoints == 2);
    assert_eq!(status.conferences, 1, "{status:?}");
}

// Each test once per runtime: `tokio::<name>` and `async_std::<name>`.
focus_tests::on_both_runtimes!(
    three_participants_share_sources_through_one_bridge,
    screen_share_reaches_the_others_and_goes_away,
    ice_restart_is_relayed_both_ways,
);
