//! Re-invites with `jicofo.conference.reinvite-method = ReplaceTransport`
//! (jingle.md 7), and `transport-accept` / `transport-reject` from a
//! participant, in the deterministic simulation. The default method
//! (`RestartJingle`: session-terminate, then a new session-initiate) is
//! covered in `sim_media.rs` and `sim_media_faults.rs`.

use std::collections::BTreeSet;
use std::time::Duration;

use focus_proto::conference::media::SessionState;
use focus_tests::emulator::Endpoint;
use focus_tests::sim::{BridgeId, MediaSpec, ParticipantId, ParticipantSpec, Sim, xml};
use jid::BareJid;
use minidom::Element;

const ROOM: &str = "reinvite@muc.meet.jitsi";
const NS_JINGLE: &str = "urn:xmpp:jingle:1";
const NS_ICE: &str = "urn:xmpp:jingle:transports:ice-udp:1";
const NS_FOCUS: &str = "http://jitsi.org/protocol/focus";
const REPLACE: &str = "jicofo.conference.reinvite-method = ReplaceTransport";

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A focus (with `hocon`) and bridge `jvb-1`, ready.
fn sim_with_bridge(seed: u64, hocon: &str) -> (Sim, BridgeId) {
    let mut sim = Sim::builder()
        .seed(seed)
        .with_brewery()
        .config_hocon(hocon)
        .build();
    let bridge = sim.add_ready_bridge("jvb-1", seed);
    (sim, bridge)
}

fn with_media(media: MediaSpec) -> ParticipantSpec {
    let mut spec = ParticipantSpec::new(ROOM);
    spec.media = media;
    spec
}

/// Participants with these specs, all with accepted sessions.
fn active(sim: &mut Sim, specs: Vec<ParticipantSpec>) -> Vec<ParticipantId> {
    let ps: Vec<ParticipantId> = specs.into_iter().map(|s| sim.add_participant(s)).collect();
    sim.wait_for("every session accepted", secs(10), |s| {
        ps.iter().all(|p| s.participant(*p).jingle().accepted)
    });
    sim.run_for(secs(1));
    ps
}

fn nick(sim: &Sim, p: ParticipantId) -> String {
    sim.participant(p).nick().to_owned()
}

fn sid(sim: &Sim, p: ParticipantId) -> String {
    sim.participant(p).jingle().sid.clone().expect("a session")
}

fn focus_state(sim: &Sim, p: ParticipantId) -> Option<SessionState> {
    sim.media_state(&BareJid::new(ROOM).expect("room JID"), p)
}

fn endpoint(sim: &Sim, bridge: BridgeId, p: ParticipantId) -> Option<&Endpoint> {
    let nick = nick(sim, p);
    sim.bridge(bridge)
        .conferences()
        .into_iter()
        .find_map(|c| c.endpoints.get(&nick))
}

fn bridge_ssrcs(sim: &Sim, bridge: BridgeId, p: ParticipantId) -> BTreeSet<u32> {
    endpoint(sim, bridge, p)
        .map(|e| {
            e.sources
                .iter()
                .flat_map(|m| m.sources.iter().map(|s| s.ssrc))
                .collect()
        })
        .unwrap_or_default()
}

/// The Jingle actions `p` received.
fn actions(sim: &Sim, p: ParticipantId) -> Vec<String> {
    sim.participant(p).jingle().actions.clone()
}

/// The last `<jingle>` of `action` that `p` received.
fn last_received(sim: &Sim, p: ParticipantId, action: &str) -> Option<Element> {
    sim.participant(p)
        .received_iqs()
        .iter()
        .rev()
        .filter_map(|r| r.stanza.get_child("jingle", NS_JINGLE))
        .find(|j| j.attr("action") == Some(action))
        .cloned()
}

/// With ReplaceTransport, participants moved off a crashed bridge keep
/// their Jingle session and sources: each gets a `transport-replace` on
/// its session with the new bridge's transport and bridge session, its
/// new endpoint is allocated with its sources, and nobody is told of
/// sources going or coming.
#[test]
fn replace_transport_moves_participants_within_their_sessions() {
    let (mut sim, first) = sim_with_bridge(21, REPLACE);
    let ps = active(
        &mut sim,
        vec![ParticipantSpec::new(ROOM), ParticipantSpec::new(ROOM)],
    );
    let (a, b) = (ps[0], ps[1]);
    let second = sim.add_ready_bridge("jvb-2", 22);
    let sids = [sid(&sim, a), sid(&sim, b)];
    let remote = [
        sim.participant(a).jingle().remote.clone(),
        sim.participant(b).jingle().remote.clone(),
    ];
    let own: Vec<BTreeSet<u32>> = [a, b]
        .iter()
        .map(|p| bridge_ssrcs(&sim, first, *p))
        .collect();
    assert!(own.iter().all(|s| !s.is_empty()));
    let old_session = sim.participant_bridge_session(a).map(str::to_owned);

    sim.crash_bridge(first);
    sim.wait_for("both get a transport-replace", secs(10), |s| {
        [a, b].iter().all(|p| {
            s.participant(*p)
                .jingle()
                .actions
                .iter()
                .any(|x| x == "transport-replace")
        })
    });
    sim.run_for(secs(2));

    for (i, p) in [a, b].into_iter().enumerate() {
        assert_eq!(sid(&sim, p), sids[i], "the same session");
        assert_eq!(sim.participant(p).jingle().offers, 1, "no new session");
        let got = actions(&sim, p);
        assert!(
            !got.iter()
                .any(|x| x == "session-terminate" || x == "source-remove"),
            "{got:?}"
        );
        assert_eq!(
            sim.participant(p).jingle().remote,
            remote[i],
            "nothing to learn about the others"
        );
        assert_eq!(focus_state(&sim, p), Some(SessionState::Active));
        assert_eq!(
            bridge_ssrcs(&sim, second, p),
            own[i],
            "allocated with its sources"
        );

        let replace = last_received(&sim, p, "transport-replace").expect("transport-replace");
        assert_eq!(replace.attr("sid"), Some(sids[i].as_str()));
        assert!(replace.attr("initiator").is_some());
        let ufrag = replace
            .children()
            .filter(|c| c.is("content", NS_JINGLE))
            .find_map(|c| c.get_child("transport", NS_ICE))
            .and_then(|t| t.attr("ufrag"))
            .map(str::to_owned);
        let endpoint = endpoint(&sim, second, p).expect("the new endpoint");
        assert_eq!(
            ufrag,
            Some(endpoint.ice().ufrag),
            "the new bridge's transport"
        );
        let session = replace
            .get_child("bridge-session", NS_FOCUS)
            .and_then(|b| b.attr("id"))
            .map(str::to_owned);
        assert!(session.is_some() && session != old_session, "{session:?}");
    }
    assert_eq!(sim.bridge(second).endpoint_count(), 2);
    sim.assert_no_errors();
}

/// A participant that refuses the transport-replace: its session ends
/// (`general-error`, "jingle session failed"), its endpoint is expired and
/// its sources leave; the other one moves untouched.
#[test]
fn a_refused_transport_replace_ends_the_session() {
    let (mut sim, first) = sim_with_bridge(23, REPLACE);
    let ps = active(
        &mut sim,
        vec![
            ParticipantSpec::new(ROOM),
            with_media(MediaSpec {
                refuse_transport_replace: true,
                ..MediaSpec::default()
            }),
        ],
    );
    let (a, b) = (ps[0], ps[1]);
    let second = sim.add_ready_bridge("jvb-2", 24);
    let sid_a = sid(&sim, a);
    let nick_b = nick(&sim, b);

    sim.crash_bridge(first);
    sim.wait_for("b's session ends", secs(10), |s| {
        s.participant(b).jingle().terminated.is_some()
    });
    sim.run_for(secs(2));
    let terminate = last_received(&sim, b, "session-terminate").expect("session-terminate");
    let reason = terminate.get_child("reason", NS_JINGLE).expect("reason");
    assert!(reason.has_child("general-error", NS_JINGLE), "{reason:?}");
    assert_eq!(
        reason
            .get_child("text", NS_JINGLE)
            .map(Element::text)
            .as_deref(),
        Some("jingle session failed")
    );
    assert_eq!(focus_state(&sim, b), Some(SessionState::Ended));
    assert!(endpoint(&sim, second, b).is_none(), "b's endpoint expired");

    assert_eq!(sid(&sim, a), sid_a);
    assert_eq!(focus_state(&sim, a), Some(SessionState::Active));
    assert!(endpoint(&sim, second, a).is_some());
    assert!(actions(&sim, a).iter().any(|x| x == "source-remove"));
    assert!(
        sim.participant(a)
            .jingle()
            .remote
            .get(&nick_b)
            .is_none_or(BTreeSet::is_empty),
        "b's sources left"
    );
}

/// A `transport-accept` from a participant: like a session-accept (the
/// transport goes to the bridge, new sources are validated and signaled)
/// except that a refusal leaves the session as it was.
#[test]
fn a_transport_accept_is_handled_like_a_session_accept() {
    let (mut sim, bridge) = sim_with_bridge(25, "");
    let ps = active(
        &mut sim,
        vec![ParticipantSpec::new(ROOM), ParticipantSpec::new(ROOM)],
    );
    let (a, b) = (ps[0], ps[1]);
    let nick_a = nick(&sim, a);
    let share = 4_000_000_001u32;
    let accept = |sid: &str, ssrc: u32| {
        xml(&format!(
            "<jingle xmlns='{NS_JINGLE}' action='transport-accept' sid='{sid}'>\
             <content creator='responder' name='video'>\
             <description xmlns='urn:xmpp:jingle:apps:rtp:1' media='video'>\
             <source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='{ssrc}' name='{nick_a}-v1'>\
             <parameter name='msid' value='share-{nick_a} track'/></source></description>\
             <transport xmlns='{NS_ICE}' ufrag='tacc' pwd='transportacceptpassword1'>\
             <fingerprint xmlns='urn:xmpp:jingle:apps:dtls:0' hash='sha-256' setup='active'>AB:CD</fingerprint>\
             </transport></content></jingle>"
        ))
    };

    let sid_a = sid(&sim, a);
    let answer = sim.ask_jingle(a, accept(&sid_a, share));
    assert!(answer.is_result(), "{:?}", answer.stanza);
    let ep = endpoint(&sim, bridge, a).expect("a's endpoint");
    assert_eq!(
        ep.remote.as_ref().and_then(|r| r.ufrag.as_deref()),
        Some("tacc")
    );
    assert!(bridge_ssrcs(&sim, bridge, a).contains(&share));
    sim.wait_for("b learns the new source", secs(5), |s| {
        s.participant(b)
            .jingle()
            .remote
            .get(&nick_a)
            .is_some_and(|ssrcs| ssrcs.contains(&share))
    });

    // The same SSRC again is refused, and the session stays active.
    let again = sim.ask_jingle(a, accept(&sid_a, share));
    assert_eq!(
        again.condition.as_deref(),
        Some("bad-request"),
        "{:?}",
        again.stanza
    );
    assert_eq!(focus_state(&sim, a), Some(SessionState::Active));

    // transport-reject: logged, answered result, nothing changes.
    let reject = xml(&format!(
        "<jingle xmlns='{NS_JINGLE}' action='transport-reject' sid='{sid_a}'/>"
    ));
    assert!(sim.ask_jingle(a, reject).is_result());
    assert_eq!(focus_state(&sim, a), Some(SessionState::Active));
    sim.assert_no_errors();
}

/// With ReplaceTransport and no bridge left to move to, participants wait
/// with their session; when a bridge appears each is offered a
/// `transport-replace` on that same session (its sources kept), not a new
/// session whose accept would clash with its own sources.
#[test]
fn replace_transport_waits_for_a_bridge_with_the_session_kept() {
    let (mut sim, first) = sim_with_bridge(26, REPLACE);
    let ps = active(
        &mut sim,
        vec![ParticipantSpec::new(ROOM), ParticipantSpec::new(ROOM)],
    );
    let sids: Vec<String> = ps.iter().map(|p| sid(&sim, *p)).collect();
    let own: Vec<BTreeSet<u32>> = ps.iter().map(|p| bridge_ssrcs(&sim, first, *p)).collect();

    sim.crash_bridge(first);
    sim.wait_for("both wait for a bridge", secs(10), |s| {
        ps.iter()
            .all(|p| focus_state(s, *p) == Some(SessionState::Failed))
    });
    sim.run_for(secs(2));
    assert!(
        ps.iter()
            .all(|p| !actions(&sim, *p).iter().any(|x| x == "transport-replace"))
    );

    let second = sim.add_ready_bridge("jvb-2", 27);
    sim.wait_for("both get a transport-replace", secs(10), |s| {
        ps.iter()
            .all(|p| actions(s, *p).iter().any(|x| x == "transport-replace"))
    });
    sim.run_for(secs(2));
    for (i, p) in ps.iter().enumerate() {
        assert_eq!(sid(&sim, *p), sids[i]);
        assert_eq!(sim.participant(*p).jingle().offers, 1, "no new session");
        assert_eq!(focus_state(&sim, *p), Some(SessionState::Active));
        assert_eq!(bridge_ssrcs(&sim, second, *p), own[i]);
    }
    sim.assert_no_errors();
}
