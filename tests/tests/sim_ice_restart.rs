//! ICE failures and in-place ICE restarts in the deterministic simulation
//! (jingle.md 8, colibri2.md 2.5): a participant asks for a restart with
//! `session-info` + `bridge-session ice-restart='true'`, the focus asks its
//! bridge for a new ICE agent and relays the new transport with
//! `transport-info`; the participant's answer reaches the bridge. Refusals
//! (disabled, rate-limited, another bridge session), a bridge that declines,
//! an endpoint whose ICE never connected, and the legacy `ice-state failed`
//! notice are each checked on the participant's answers, the bridge's
//! endpoint and the focus's counters.

use std::time::Duration;

use focus_proto::conference::ConferenceStats;
use focus_proto::conference::media::SessionState;
use focus_proto::http::{HttpRequest, Method};
use focus_tests::emulator::EndpointIce;
use focus_tests::sim::{
    BREWERY_JID, BridgeId, BridgeOptions, Control, JingleAnswer, MediaSpec, ParticipantId,
    ParticipantSpec, Sim,
};
use jid::{BareJid, FullJid};

const ROOM: &str = "ice@muc.meet.jitsi";

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A focus in the brewery (with `hocon` over the base config) and one
/// bridge, ready.
fn sim_with_bridge(seed: u64, hocon: &str) -> (Sim, BridgeId) {
    let mut sim = Sim::builder()
        .seed(seed)
        .with_brewery()
        .config_hocon(hocon)
        .build();
    let bridge = sim.add_ready_bridge("jvb-1", seed);
    (sim, bridge)
}

/// Two default participants with accepted sessions.
fn two_active(sim: &mut Sim) -> [ParticipantId; 2] {
    let a = sim.add_participant(ParticipantSpec::new(ROOM));
    let b = sim.add_participant(ParticipantSpec::new(ROOM));
    sim.wait_for("a and b accepted", secs(10), |s| {
        [a, b].iter().all(|p| s.participant(*p).jingle().accepted)
    });
    sim.run_for(secs(1));
    [a, b]
}

fn room() -> BareJid {
    BareJid::new(ROOM).expect("room JID")
}

/// Restart requests the focus counted against `bridge`.
fn restart_requests(sim: &Sim, bridge: BridgeId) -> u64 {
    let jid = FullJid::new(&sim.bridge_jid(bridge)).expect("bridge JID");
    sim.focus()
        .bridges()
        .and_then(|r| r.get(&jid))
        .map_or(0, |b| b.restart_requests)
}

fn stats(sim: &Sim) -> ConferenceStats {
    sim.focus().conferences().stats()
}

fn focus_state(sim: &Sim, p: ParticipantId) -> Option<SessionState> {
    sim.media_state(&room(), p)
}

/// The ICE state of `p`'s endpoint on the bridge.
fn bridge_ice(sim: &Sim, bridge: BridgeId, p: ParticipantId) -> Option<EndpointIce> {
    let nick = sim.participant(p).nick().to_owned();
    sim.bridge(bridge)
        .conferences()
        .into_iter()
        .find_map(|c| c.endpoints.get(&nick))
        .map(|e| e.ice())
}

/// The bridge's endpoint ids.
fn endpoint_count(sim: &Sim, bridge: BridgeId) -> usize {
    sim.bridge(bridge)
        .conferences()
        .into_iter()
        .map(|c| c.endpoints.len())
        .sum()
}

/// The answer to the session-info request `id` of `p`, once it came.
fn answer_to(sim: &Sim, p: ParticipantId, id: &str) -> Option<JingleAnswer> {
    sim.participant_session_info_answers(p)
        .into_iter()
        .find(|a| a.id == id)
        .cloned()
}

/// Sends an ICE restart request for `p` and waits for its answer.
fn request_restart(sim: &mut Sim, p: ParticipantId, bridge_session: Option<&str>) -> JingleAnswer {
    let id = sim
        .participant_request_ice_restart(p, bridge_session)
        .expect("the participant has a session");
    sim.wait_for("the restart request is answered", secs(5), |s| {
        answer_to(s, p, &id).is_some()
    });
    answer_to(sim, p, &id).expect("answer")
}

fn assert_error(answer: &JingleAnswer, condition: &str, text: &str) {
    assert!(!answer.is_result(), "{:?}", answer.stanza);
    assert_eq!(
        answer.condition.as_deref(),
        Some(condition),
        "{:?}",
        answer.stanza
    );
    assert_eq!(answer.text.as_deref(), Some(text), "{:?}", answer.stanza);
}

#[test]
fn an_in_place_restart_relays_new_credentials_both_ways() {
    let (mut sim, bridge) = sim_with_bridge(1, "");
    let [a, b] = two_active(&mut sim);
    let before = bridge_ice(&sim, bridge, a).expect("a's endpoint");
    assert_eq!(before.generation, 0);
    assert!(before.established, "the focus relayed a's transport");
    assert_eq!(
        sim.participant_remote_ice(a),
        Some((before.ufrag.as_str(), 0))
    );
    let offers = sim.participant(a).jingle().offers;

    let answer = request_restart(&mut sim, a, None);
    assert!(answer.is_result(), "{:?}", answer.stanza);
    sim.wait_for("the bridge learns a's answer", secs(5), |s| {
        bridge_ice(s, bridge, a).is_some_and(|i| i.remote_generation == Some(1))
    });

    let after = bridge_ice(&sim, bridge, a).expect("a's endpoint");
    assert_eq!(after.generation, 1);
    assert_eq!(after.restarts, 1);
    assert!(!after.restart_pending, "a answered the restart");
    assert_ne!(after.ufrag, before.ufrag, "a new ICE agent");
    assert_eq!(
        sim.participant_remote_ice(a),
        Some((after.ufrag.as_str(), 1)),
        "a holds the bridge's new credentials"
    );
    assert_eq!(sim.participant_transport_infos(a), 1);
    // Nothing else changed: same session, b untouched.
    assert_eq!(sim.participant(a).jingle().offers, offers);
    assert_eq!(focus_state(&sim, a), Some(SessionState::Active));
    assert_eq!(sim.participant_transport_infos(b), 0);
    assert_eq!(bridge_ice(&sim, bridge, b).map(|i| i.restarts), Some(0));
    let s = stats(&sim);
    assert_eq!(
        (
            s.ice_restarts_requested,
            s.ice_restarts_relayed,
            s.ice_restarts_not_needed,
            s.ice_restarts_failed
        ),
        (1, 1, 0, 0)
    );
    sim.assert_no_errors();
}

#[test]
fn a_restart_for_another_bridge_session_is_item_not_found() {
    let (mut sim, bridge) = sim_with_bridge(2, "");
    let [a, _] = two_active(&mut sim);
    let answer = request_restart(&mut sim, a, Some("stale-session"));
    assert_error(
        &answer,
        "item-not-found",
        "stale-session is not a currently active session",
    );
    sim.run_for(secs(2));
    assert_eq!(bridge_ice(&sim, bridge, a).map(|i| i.restarts), Some(0));
    assert_eq!(sim.participant_transport_infos(a), 0);
    assert_eq!(focus_state(&sim, a), Some(SessionState::Active));
    let s = stats(&sim);
    assert_eq!((s.ice_restarts_requested, s.ice_restarts_failed), (1, 1));

    // The refusal used the participant's budget; after the minimum
    // interval a valid request goes through.
    sim.run_for(secs(6));
    assert!(request_restart(&mut sim, a, None).is_result());
    sim.wait_for("the restart is relayed", secs(5), |s| {
        s.participant_remote_ice(a).is_some_and(|(_, g)| g == 1)
    });
}

#[test]
fn a_disabled_restart_is_feature_not_implemented() {
    let (mut sim, bridge) = sim_with_bridge(3, "jicofo.conference.enable-ice-restart = false");
    let [a, _] = two_active(&mut sim);
    let answer = request_restart(&mut sim, a, None);
    assert_error(
        &answer,
        "feature-not-implemented",
        "in-place ICE restart is disabled",
    );
    sim.run_for(secs(2));
    assert_eq!(bridge_ice(&sim, bridge, a).map(|i| i.restarts), Some(0));
    assert_eq!(sim.participant_transport_infos(a), 0);
    assert_eq!(stats(&sim).ice_restarts_failed, 1);
    sim.assert_no_errors();
}

#[test]
fn restarts_are_rate_limited_per_participant() {
    let (mut sim, bridge) = sim_with_bridge(4, "");
    let [a, b] = two_active(&mut sim);
    assert!(request_restart(&mut sim, a, None).is_result());
    let second = request_restart(&mut sim, a, None);
    assert_error(&second, "resource-constraint", "rate-limited");
    // Another participant has its own budget.
    assert!(request_restart(&mut sim, b, None).is_result());
    sim.wait_for("both restarts relayed", secs(5), |s| {
        [a, b]
            .iter()
            .all(|p| s.participant_remote_ice(*p).is_some_and(|(_, g)| g == 1))
    });
    sim.run_for(secs(6));
    assert!(request_restart(&mut sim, a, None).is_result());
    sim.wait_for("the third restart relayed", secs(5), |s| {
        bridge_ice(s, bridge, a).is_some_and(|i| i.remote_generation == Some(2))
    });
    assert_eq!(sim.participant_remote_ice(a).map(|(_, g)| g), Some(2));
    let s = stats(&sim);
    assert_eq!(
        (
            s.ice_restarts_requested,
            s.ice_restarts_relayed,
            s.ice_restarts_failed
        ),
        (4, 3, 1)
    );
    assert_eq!(
        restart_requests(&sim, bridge),
        0,
        "in-place restarts do not count"
    );
    sim.assert_no_errors();
}

#[test]
fn a_bridge_that_declines_the_restart_gets_the_participant_reinvited() {
    let (mut sim, bridge) = sim_with_bridge(5, "");
    let [a, b] = two_active(&mut sim);
    sim.control_bridge(bridge, Control::IceRestart(false));
    let offers = sim.participant(a).jingle().offers;
    let b_offers = sim.participant(b).jingle().offers;

    assert!(request_restart(&mut sim, a, None).is_result());
    sim.wait_for("a is offered a new session", secs(5), |s| {
        s.participant(a).jingle().offers > offers
    });
    sim.wait_for("a accepts it", secs(10), |s| {
        s.participant(a).jingle().accepted && focus_state(s, a) == Some(SessionState::Active)
    });
    sim.run_for(secs(2));
    assert_eq!(sim.participant_transport_infos(a), 0);
    assert_eq!(endpoint_count(&sim, bridge), 2, "no endpoint leaked");
    assert_eq!(sim.participant(b).jingle().offers, b_offers, "b untouched");
    assert_eq!(stats(&sim).ice_restarts_failed, 1);
    sim.assert_no_errors();
}

#[test]
fn a_restart_before_ice_connected_is_not_needed() {
    let (mut sim, bridge) = sim_with_bridge(6, "");
    two_active(&mut sim);
    let mut spec = ParticipantSpec::new(ROOM);
    spec.media = MediaSpec {
        accept: false,
        ..MediaSpec::default()
    };
    let c = sim.add_participant(spec);
    sim.wait_for("c offered", secs(10), |s| {
        s.participant(c).jingle().sid.is_some()
    });
    assert!(bridge_ice(&sim, bridge, c).is_some_and(|i| !i.established));

    assert!(request_restart(&mut sim, c, None).is_result());
    sim.run_for(secs(2));
    assert_eq!(sim.participant_transport_infos(c), 0);
    let ice = bridge_ice(&sim, bridge, c).expect("c's endpoint");
    assert_eq!((ice.generation, ice.restarts), (0, 0));
    let s = stats(&sim);
    assert_eq!((s.ice_restarts_not_needed, s.ice_restarts_relayed), (1, 0));
}

#[test]
fn the_legacy_ice_failed_notice_reinvites_only_for_the_current_session() {
    let (mut sim, bridge) = sim_with_bridge(7, "");
    let [a, b] = two_active(&mut sim);
    let offers = sim.participant(a).jingle().offers;

    let id = sim
        .participant_send_ice_failed(a, Some("another-session"))
        .expect("sent");
    sim.wait_for("answered", secs(5), |s| answer_to(s, a, &id).is_some());
    assert!(answer_to(&sim, a, &id).is_some_and(|x| x.is_result()));
    sim.run_for(secs(2));
    assert_eq!(sim.participant(a).jingle().offers, offers, "ignored");

    let first_sid = sim.participant(a).jingle().sid.clone();
    let bridge_session = sim.participant_bridge_session(a).map(str::to_owned);
    let id = sim.participant_send_ice_failed(a, None).expect("sent");
    sim.wait_for("a is offered a new session", secs(5), |s| {
        s.participant(a).jingle().offers > offers
    });
    assert!(answer_to(&sim, a, &id).is_some_and(|x| x.is_result()));
    sim.wait_for("a accepts it", secs(10), |s| {
        s.participant(a).jingle().accepted && focus_state(s, a) == Some(SessionState::Active)
    });
    assert_ne!(sim.participant(a).jingle().sid, first_sid, "a new session");
    // The bridge session is the conference's on that bridge (as Jicofo's):
    // the same one after a re-invite to the same bridge.
    assert_eq!(
        sim.participant_bridge_session(a).map(str::to_owned),
        bridge_session
    );
    sim.run_for(secs(2));
    assert_eq!(endpoint_count(&sim, bridge), 2, "no endpoint leaked");
    assert_eq!(sim.participant(b).jingle().offers, 1, "b untouched");
    assert_eq!(stats(&sim).participants_ice_failed, 2);
    assert_eq!(
        restart_requests(&sim, bridge),
        1,
        "only the current session's"
    );
    sim.assert_no_errors();
}

/// Waits until `p` was offered a new session and accepted it, with an
/// endpoint on `bridge` again.
fn wait_reinvited(sim: &mut Sim, bridge: BridgeId, p: ParticipantId, offers: u32) {
    sim.wait_for("a new offer", secs(5), |s| {
        s.participant(p).jingle().offers > offers
    });
    sim.wait_for("the new session accepted", secs(10), |s| {
        s.participant(p).jingle().accepted
            && focus_state(s, p) == Some(SessionState::Active)
            && bridge_ice(s, bridge, p).is_some_and(|i| i.established)
    });
}

/// colibri2.md 2.5: a restart whose COLIBRI2 request fails with
/// `unknown_endpoint` (the bridge expired the endpoint) re-invites the
/// participant, on the same bridge; nobody else is touched.
#[test]
fn a_restart_for_an_endpoint_the_bridge_lost_reinvites_the_participant() {
    let (mut sim, bridge) = sim_with_bridge(8, "");
    let [a, b] = two_active(&mut sim);
    let nick = sim.participant(a).nick().to_owned();
    assert!(sim.bridge_forget_endpoint(bridge, &nick));
    let offers = sim.participant(a).jingle().offers;

    assert!(request_restart(&mut sim, a, None).is_result());
    wait_reinvited(&mut sim, bridge, a, offers);
    sim.run_for(secs(2));
    assert_eq!(sim.participant_transport_infos(a), 0);
    assert_eq!(endpoint_count(&sim, bridge), 2);
    assert_eq!(sim.participant(b).jingle().offers, 1, "b untouched");
    sim.assert_no_errors();
}

/// The same for a fire-and-forget update: a participant's transport-info
/// relayed to an endpoint the bridge no longer has.
#[test]
fn an_update_for_an_endpoint_the_bridge_lost_reinvites_the_participant() {
    let (mut sim, bridge) = sim_with_bridge(9, "");
    let [a, b] = two_active(&mut sim);
    let nick = sim.participant(a).nick().to_owned();
    assert!(sim.bridge_forget_endpoint(bridge, &nick));
    let offers = sim.participant(a).jingle().offers;
    let sid = sim
        .participant(a)
        .jingle()
        .sid
        .clone()
        .expect("a's session");

    let info = focus_tests::sim::xml(&format!(
        "<jingle xmlns='urn:xmpp:jingle:1' action='transport-info' sid='{sid}'>\
         <content creator='responder' name='audio'>\
         <transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' ufrag='trk1' pwd='tricklepasswordtrickle12'>\
         <candidate component='1' foundation='1' generation='0' id='c1' network='0' priority='1' \
           protocol='udp' type='host' ip='192.0.2.7' port='10000'/>\
         </transport></content></jingle>"
    ));
    let id = sim.send_jingle(a, info);
    sim.wait_for("the transport-info answered", secs(5), |s| {
        s.participant(a).jingle_answer(&id).is_some()
    });
    assert!(
        sim.participant(a)
            .jingle_answer(&id)
            .is_some_and(|x| x.is_result())
    );
    wait_reinvited(&mut sim, bridge, a, offers);
    sim.run_for(secs(2));
    assert_eq!(endpoint_count(&sim, bridge), 2);
    assert_eq!(sim.participant(b).jingle().offers, 1, "b untouched");
    sim.assert_no_errors();
}

/// A conference on `jvb-1` (reported stress 0.1) whose participant `a`
/// reports ICE failed, `jvb-2` (stress 0.5) beside it, then a new
/// conference of two: where do its endpoints go? With
/// `ice-failure-detection` on (`detect`), returns the sim and both bridges.
fn failing_ice_scenario(detect: bool) -> (Sim, BridgeId, BridgeId) {
    let hocon = format!(
        "jicofo.bridge.ice-failure-detection {{ enabled = {detect}, min-endpoints = 2, threshold = 0.1 }}"
    );
    let (mut sim, first) = sim_with_bridge(10, &hocon);
    sim.control_bridge(first, Control::Stress(Some(0.1)));
    let [a, _] = two_active(&mut sim);
    let mut options = BridgeOptions::new(BREWERY_JID, "jvb-2");
    options.seed = 11;
    options.stress = Some(0.5);
    let second = sim.add_bridge(options);
    sim.run_for(secs(3));
    let offers = sim.participant(a).jingle().offers;

    sim.participant_send_ice_failed(a, None).expect("sent");
    sim.wait_for("a re-invited", secs(10), |s| {
        s.participant(a).jingle().offers > offers && s.participant(a).jingle().accepted
    });
    assert_eq!(restart_requests(&sim, first), 1);
    assert_eq!(
        endpoint_count(&sim, first),
        2,
        "the conference keeps its bridge"
    );

    let c = sim.add_participant(ParticipantSpec::new("other@muc.meet.jitsi"));
    let d = sim.add_participant(ParticipantSpec::new("other@muc.meet.jitsi"));
    sim.wait_for("c and d accepted", secs(10), |s| {
        [c, d].iter().all(|p| s.participant(*p).jingle().accepted)
    });
    (sim, first, second)
}

/// `ice-failure-detection`: ICE failures of its participants make a bridge
/// "failing ICE"; new conferences go elsewhere while it lasts, and the
/// metric and `/debug` show it. Without detection the less loaded bridge
/// is chosen as usual.
#[test]
fn a_bridge_failing_ice_is_avoided_by_new_conferences() {
    let (sim, first, second) = failing_ice_scenario(false);
    assert_eq!(
        (endpoint_count(&sim, first), endpoint_count(&sim, second)),
        (4, 0),
        "without detection the least loaded bridge"
    );

    let (mut sim, first, second) = failing_ice_scenario(true);
    assert_eq!(
        (endpoint_count(&sim, first), endpoint_count(&sim, second)),
        (2, 2),
        "the failing bridge is avoided"
    );
    let metrics = sim.http(HttpRequest::new(Method::Get, "/metrics"));
    let text = String::from_utf8_lossy(&metrics.body).into_owned();
    assert!(
        text.contains("jitsi_jicofo_bridge_failing_ice{jvb=\"jvb-1\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("jitsi_jicofo_bridge_failing_ice{jvb=\"jvb-2\"} 0"),
        "{text}"
    );
    assert!(
        text.contains("jitsi_jicofo_bridge_restart_requests_total{jvb=\"jvb-1\"} 1"),
        "{text}"
    );
    let debug = sim.http(HttpRequest::new(Method::Get, "/debug"));
    let debug: serde_json::Value = serde_json::from_slice(&debug.body).expect("JSON");
    let bridges = &debug["bridge_selector"]["bridge"];
    let failing: Vec<bool> = bridges
        .as_object()
        .map(|m| {
            m.values()
                .map(|b| b["failing-ice"].as_bool().unwrap_or(false))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(failing.iter().filter(|f| **f).count(), 1, "{debug}");
    sim.assert_no_errors();
}
