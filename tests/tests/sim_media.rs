//! Conferences with media in the deterministic simulation: the real focus,
//! emulated bridges, and participants that answer Jingle like
//! lib-jitsi-meet (jingle.md, sources.md, colibri2.md).

use std::collections::BTreeSet;
use std::time::Duration;

use focus_proto::Event;
use focus_proto::conference::ConferenceEvent;
use focus_proto::http::{HttpRequest, Method};
use focus_tests::sim::{BREWERY_JID, BridgeId, BridgeOptions, ParticipantId, ParticipantSpec, Sim};

const ROOM: &str = "media@muc.meet.jitsi";

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A focus in the brewery with one bridge, ready.
fn sim_with_bridge(seed: u64) -> (Sim, BridgeId) {
    let mut sim = Sim::builder().seed(seed).with_brewery().build();
    let bridge = sim.add_ready_bridge("jvb-1", seed);
    (sim, bridge)
}

fn accepted(sim: &Sim, p: ParticipantId) -> bool {
    sim.participant(p).jingle().accepted
}

/// The SSRCs a receiver should see of `sender`: audio, and the first
/// simulcast layer with its RTX (simulcast is stripped for receivers).
fn expected_remote(sim: &Sim, sender: ParticipantId) -> BTreeSet<u32> {
    let own = sim.participant(sender).own_sources();
    let mut out = BTreeSet::new();
    for s in own.sources.iter().filter(|s| s.media == "audio") {
        out.insert(s.ssrc);
    }
    let sim_group = own.video_groups.iter().find(|(sem, _)| *sem == "SIM");
    let first_layer = sim_group.and_then(|(_, ssrcs)| ssrcs.first().copied());
    if let Some(first) = first_layer {
        out.insert(first);
        for (sem, ssrcs) in &own.video_groups {
            if *sem == "FID" && ssrcs.first() == Some(&first) {
                out.extend(ssrcs.iter().copied());
            }
        }
    }
    out
}

#[test]
fn two_participants_get_sessions_and_each_others_sources() {
    let (mut sim, bridge) = sim_with_bridge(11);
    let a = sim.add_participant(ParticipantSpec::new(ROOM));
    let b = sim.add_participant(ParticipantSpec::new(ROOM));
    let both = sim.run_until(|s| accepted(s, a) && accepted(s, b), secs(10));
    assert!(both, "sessions not accepted:\n{}", sim.trace_text());
    sim.run_for(secs(1));

    let (nick_a, nick_b) = (
        sim.participant(a).nick().to_owned(),
        sim.participant(b).nick().to_owned(),
    );
    let seen_by_a = &sim.participant(a).jingle().remote;
    assert_eq!(
        seen_by_a.get(&nick_b),
        Some(&expected_remote(&sim, b)),
        "what a sees of b: {seen_by_a:?}"
    );
    assert!(seen_by_a.contains_key("jvb"), "the bridge's own sources");
    assert!(!seen_by_a.contains_key(&nick_a), "never its own sources");
    let seen_by_b = &sim.participant(b).jingle().remote;
    assert_eq!(seen_by_b.get(&nick_a), Some(&expected_remote(&sim, a)));
    for p in [a, b] {
        let j = sim.participant(p).jingle();
        assert!(j.problems.is_empty(), "{:?}", j.problems);
        assert_eq!(j.offers, 1);
    }
    let emulator = sim.bridge(bridge);
    assert_eq!(emulator.conference_count(), 1);
    assert_eq!(emulator.endpoint_count(), 2);
    let invited = sim
        .events()
        .iter()
        .filter(|(_, e)| matches!(e, Event::Conference(ConferenceEvent::Invited { .. })))
        .count();
    assert_eq!(invited, 2);

    // The operator's view.
    let debug = sim.http(HttpRequest::new(
        Method::Get,
        &format!("/debug/conference/{ROOM}"),
    ));
    assert_eq!(debug.status, 200);
    let debug: serde_json::Value = serde_json::from_slice(&debug.body).expect("JSON");
    let manager = &debug["colibri_session_manager"];
    assert_eq!(manager["participants"][&nick_a]["session"], "Active");
    assert_eq!(manager["participants"][&nick_b]["bridge"], "jvb-1");
    assert_eq!(
        manager["sessions"]["jvb-1"]["participants"],
        serde_json::json!(
            [nick_a.clone(), nick_b.clone()]
                .iter()
                .collect::<BTreeSet<_>>()
        )
    );
    let metrics = sim.http(HttpRequest::new(Method::Get, "/metrics"));
    let metrics = String::from_utf8(metrics.body).expect("UTF-8");
    for line in [
        "jitsi_jicofo_jingle_session_initiate_sent_total 2",
        "jitsi_jicofo_jingle_session_accept_received_total 2",
        "jitsi_jicofo_bridge_endpoints{jvb=\"jvb-1\"} 2",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "no {line:?} in\n{metrics}"
        );
    }
    let stats = sim.http(HttpRequest::new(Method::Get, "/stats"));
    let stats: serde_json::Value = serde_json::from_slice(&stats.body).expect("JSON");
    assert_eq!(stats["jingle"]["sent"]["SESSION_INITIATE"], 2);
    let list = sim.http(HttpRequest::new(Method::Get, "/debug/conferences"));
    assert_eq!(list.body, format!("[\"{ROOM}\"]").into_bytes());

    // a leaves: its endpoint is expired, b is not told (the MUC tells it).
    sim.leave(a);
    sim.run_for(secs(2));
    assert_eq!(sim.bridge(bridge).endpoint_count(), 1);
    // b leaves too: the bridge conference is expired.
    sim.leave(b);
    sim.run_for(secs(2));
    assert_eq!(sim.bridge(bridge).conference_count(), 0);
    sim.assert_no_errors();
}

#[test]
fn a_third_participant_joins_a_running_conference() {
    let (mut sim, bridge) = sim_with_bridge(12);
    let a = sim.add_participant(ParticipantSpec::new(ROOM));
    let b = sim.add_participant(ParticipantSpec::new(ROOM));
    assert!(sim.run_until(|s| accepted(s, a) && accepted(s, b), secs(10)));
    let c = sim.add_participant(ParticipantSpec::new(ROOM));
    assert!(sim.run_until(|s| accepted(s, c), secs(10)));
    sim.run_for(secs(1));
    for (receiver, senders) in [(a, [b, c]), (b, [a, c]), (c, [a, b])] {
        for sender in senders {
            let nick = sim.participant(sender).nick().to_owned();
            assert_eq!(
                sim.participant(receiver).jingle().remote.get(&nick),
                Some(&expected_remote(&sim, sender)),
                "{receiver:?} about {sender:?}"
            );
        }
    }
    assert_eq!(sim.bridge(bridge).endpoint_count(), 3);
    sim.assert_no_errors();
}

#[test]
fn without_bridges_nobody_is_invited() {
    let mut sim = Sim::builder().seed(13).with_brewery().build();
    let a = sim.add_participant(ParticipantSpec::new(ROOM));
    let b = sim.add_participant(ParticipantSpec::new(ROOM));
    sim.run_for(secs(5));
    assert!(sim.participant(a).in_room() && sim.participant(b).in_room());
    assert_eq!(sim.participant(a).jingle().offers, 0);
    let no_bridge = |sim: &Sim| {
        sim.participant(a)
            .focus_presence()
            .is_some_and(|p| p.has_child("bridgeNotAvailable", "http://jitsi.org/protocol/focus"))
    };
    assert!(
        no_bridge(&sim),
        "the focus tells the room there is no bridge"
    );
    // A bridge appears: everybody is invited, the flag goes.
    let mut options = BridgeOptions::new(BREWERY_JID, "jvb-late");
    options.seed = 13;
    sim.add_bridge(options);
    assert!(sim.run_until(|s| accepted(s, a) && accepted(s, b), secs(10)));
    assert!(!no_bridge(&sim));
    sim.assert_no_errors();
}

#[test]
fn participants_move_when_their_bridge_crashes() {
    let (mut sim, first) = sim_with_bridge(14);
    let a = sim.add_participant(ParticipantSpec::new(ROOM));
    let b = sim.add_participant(ParticipantSpec::new(ROOM));
    assert!(sim.run_until(|s| accepted(s, a) && accepted(s, b), secs(10)));
    let mut options = BridgeOptions::new(BREWERY_JID, "jvb-2");
    options.seed = 99;
    let second = sim.add_bridge(options);
    sim.run_for(secs(2));
    assert_eq!(sim.bridge(first).endpoint_count(), 2);
    assert_eq!(sim.bridge(second).endpoint_count(), 0);

    sim.crash_bridge(first);
    let moved = sim.run_until(
        |s| {
            [a, b].iter().all(|p| {
                let j = s.participant(*p).jingle();
                j.offers == 2 && j.accepted
            })
        },
        secs(10),
    );
    assert!(moved, "not moved:\n{}", sim.trace_text());
    sim.run_for(secs(1));
    assert_eq!(sim.bridge(second).endpoint_count(), 2);
    for (receiver, sender) in [(a, b), (b, a)] {
        let nick = sim.participant(sender).nick().to_owned();
        assert_eq!(
            sim.participant(receiver).jingle().remote.get(&nick),
            Some(&expected_remote(&sim, sender)),
        );
    }
    // The first session was ended with success / moving.
    let terminated = sim
        .participant(a)
        .jingle()
        .actions
        .iter()
        .any(|x| x == "session-terminate");
    assert!(terminated);
    sim.assert_no_errors();
}

#[test]
fn a_conference_across_two_regions_is_relayed() {
    let mut sim = Sim::builder()
        .seed(15)
        .with_brewery()
        .config_hocon(
            "jicofo.octo.enabled = true\n\
             jicofo.bridge.selection-strategy = RegionBasedBridgeSelectionStrategy",
        )
        .build();
    let mut bridges = Vec::new();
    for (nick, region, seed) in [("jvb-eu", "eu-west", 1), ("jvb-us", "us-east", 2)] {
        let mut options = BridgeOptions::new(BREWERY_JID, nick);
        options.region = Some(region.into());
        options.relay_id = Some(format!("relay-{region}"));
        options.seed = seed;
        bridges.push(sim.add_bridge(options));
    }
    sim.run_for(secs(3));
    let mut spec = ParticipantSpec::new(ROOM);
    spec.region = Some("eu-west".into());
    let a = sim.add_participant(spec.clone());
    spec.region = Some("us-east".into());
    let b = sim.add_participant(spec);
    assert!(
        sim.run_until(|s| accepted(s, a) && accepted(s, b), secs(10)),
        "{}",
        sim.trace_text()
    );
    sim.run_for(secs(1));
    let (eu, us) = (bridges[0], bridges[1]);
    assert_eq!(sim.bridge(eu).endpoint_count(), 1, "a on the eu bridge");
    assert_eq!(sim.bridge(us).endpoint_count(), 1, "b on the us bridge");
    assert_eq!(sim.bridge(eu).relay_count(), 1);
    assert_eq!(sim.bridge(us).relay_count(), 1);
    for (receiver, sender) in [(a, b), (b, a)] {
        let nick = sim.participant(sender).nick().to_owned();
        assert_eq!(
            sim.participant(receiver).jingle().remote.get(&nick),
            Some(&expected_remote(&sim, sender)),
            "{}",
            sim.trace_text()
        );
    }
    // b leaves: its bridge's conference goes, and the relay towards it.
    sim.leave(b);
    sim.run_for(secs(2));
    assert_eq!(sim.bridge(us).conference_count(), 0);
    assert_eq!(sim.bridge(eu).relay_count(), 0);
    assert_eq!(sim.bridge(eu).endpoint_count(), 1);
    sim.assert_no_errors();
}

/// When the last source-add arrived, in a two-party conference configured
/// with `hocon` (the later accepter gets the earlier one's sources right
/// after its session-accept; the earlier one gets the later one's through
/// the signaling delay).
fn last_source_add_at(hocon: &str) -> Duration {
    let mut sim = Sim::builder()
        .seed(16)
        .with_brewery()
        .config_hocon(hocon)
        .build();
    let mut options = BridgeOptions::new(BREWERY_JID, "jvb-1");
    options.seed = 16;
    sim.add_bridge(options);
    sim.run_for(secs(3));
    let a = sim.add_participant(ParticipantSpec::new(ROOM));
    let b = sim.add_participant(ParticipantSpec::new(ROOM));
    assert!(sim.run_until(|s| accepted(s, a) && accepted(s, b), secs(10)));
    sim.run_for(secs(3));
    sim.participant(a)
        .received_iqs()
        .iter()
        .chain(sim.participant(b).received_iqs())
        .filter(|r| {
            r.stanza
                .get_child("jingle", "urn:xmpp:jingle:1")
                .is_some_and(|j| j.attr("action") == Some("source-add"))
        })
        .map(|r| r.at)
        .max()
        .expect("a source-add")
}

#[test]
fn source_signaling_is_delayed_by_conference_size() {
    let immediate = last_source_add_at("");
    let delayed = last_source_add_at("jicofo.conference.source-signaling-delays { 2 = 700 }");
    assert!(
        delayed >= immediate + Duration::from_millis(700),
        "{immediate:?} then {delayed:?}"
    );
    let not_applied = last_source_add_at("jicofo.conference.source-signaling-delays { 3 = 700 }");
    assert_eq!(
        not_applied, immediate,
        "2 participants are below the size 3"
    );
}

/// The `startmuted` flags of `p`'s (last) offer.
fn start_muted_flags(sim: &Sim, p: ParticipantId) -> Option<(String, String)> {
    let offer = sim
        .participant(p)
        .received_iqs()
        .iter()
        .rev()
        .filter_map(|r| r.stanza.get_child("jingle", "urn:xmpp:jingle:1"))
        .find(|j| j.attr("action") == Some("session-initiate"))?;
    let sm = offer.get_child("startmuted", "http://jitsi.org/jitmeet/start-muted")?;
    Some((
        sm.attr("audio").unwrap_or("").to_owned(),
        sm.attr("video").unwrap_or("").to_owned(),
    ))
}

#[test]
fn participants_beyond_start_audio_muted_start_muted() {
    let (mut sim, _bridge) = sim_with_bridge(17);
    let spec = ParticipantSpec::new(ROOM).property("startAudioMuted", "2");
    let a = sim.add_participant(spec.clone());
    let b = sim.add_participant(spec.clone());
    assert!(sim.run_until(|s| accepted(s, a) && accepted(s, b), secs(10)));
    let c = sim.add_participant(spec);
    assert!(sim.run_until(|s| accepted(s, c), secs(10)));
    assert_eq!(start_muted_flags(&sim, a), None);
    assert_eq!(start_muted_flags(&sim, b), None);
    assert_eq!(
        start_muted_flags(&sim, c),
        Some(("true".to_owned(), "false".to_owned()))
    );
    sim.assert_no_errors();
}

#[test]
fn ssrc_rewriting_clients_get_only_the_bridges_sources() {
    let (mut sim, _bridge) = sim_with_bridge(18);
    let mut rewriting = ParticipantSpec::new(ROOM);
    rewriting
        .features
        .push("http://jitsi.org/ssrc-rewriting-1".to_owned());
    let a = sim.add_participant(rewriting);
    let b = sim.add_participant(ParticipantSpec::new(ROOM));
    assert!(sim.run_until(|s| accepted(s, a) && accepted(s, b), secs(10)));
    sim.run_for(secs(1));
    let seen_by_a: Vec<&String> = sim.participant(a).jingle().remote.keys().collect();
    assert_eq!(seen_by_a, ["jvb"], "only the bridge's own sources");
    let nick_a = sim.participant(a).nick().to_owned();
    assert_eq!(
        sim.participant(b).jingle().remote.get(&nick_a),
        Some(&expected_remote(&sim, a)),
        "the others still see its sources"
    );
    let allocate_with_capability = sim.trace_text().lines().any(|l| {
        l.contains("conference-modify")
            && l.contains(&format!("id='{nick_a}'"))
            && l.contains("<capability name='ssrc-rewriting'/>")
    });
    assert!(allocate_with_capability, "the bridge is told");
    sim.assert_no_errors();
}

/// A session-terminate from `p` for its current session, with its
/// bridge-session `id` (its own by default) and `restart`.
fn terminate_from(sim: &mut Sim, p: ParticipantId, id: Option<&str>, restart: bool) -> String {
    let j = sim.participant(p).jingle();
    let sid = j.sid.clone().unwrap_or_default();
    let id = id
        .map(str::to_owned)
        .or_else(|| j.bridge_session.clone())
        .unwrap_or_default();
    let jingle = focus_tests::sim::xml(&format!(
        "<jingle xmlns='urn:xmpp:jingle:1' action='session-terminate' sid='{sid}'>\
           <reason><connectivity-error/><text>ICE FAILED</text></reason>\
           <bridge-session xmlns='http://jitsi.org/protocol/focus' id='{id}' restart='{restart}'/>\
         </jingle>"
    ));
    sim.send_jingle(p, jingle)
}

fn answer_of(sim: &Sim, p: ParticipantId, id: &str) -> (String, Option<String>, Option<String>) {
    let a = sim
        .participant(p)
        .jingle_answer(id)
        .unwrap_or_else(|| panic!("no answer to {id}"));
    (a.kind.clone(), a.condition.clone(), a.text.clone())
}

#[test]
fn restarts_are_rate_limited_and_foreign_bridge_sessions_refused() {
    let (mut sim, _bridge) = sim_with_bridge(19);
    let a = sim.add_participant(ParticipantSpec::new(ROOM));
    let b = sim.add_participant(ParticipantSpec::new(ROOM));
    assert!(sim.run_until(|s| accepted(s, a) && accepted(s, b), secs(10)));

    // A restart: ended, invited again.
    let first = terminate_from(&mut sim, a, None, true);
    assert!(sim.run_until(
        |s| s.participant(a).jingle().offers == 2 && accepted(s, a),
        secs(10)
    ));
    assert_eq!(answer_of(&sim, a, &first).0, "result");
    // Another one right away: refused by the rate limit, no new offer.
    let second = terminate_from(&mut sim, a, None, true);
    sim.run_for(secs(2));
    assert_eq!(
        answer_of(&sim, a, &second),
        (
            "error".to_owned(),
            Some("resource-constraint".to_owned()),
            Some("rate-limited".to_owned())
        )
    );
    assert_eq!(sim.participant(a).jingle().offers, 2);

    // b names a bridge session that is not its own: refused, and its
    // session is over all the same.
    let wrong = terminate_from(&mut sim, b, Some("deadbeef"), false);
    sim.run_for(secs(1));
    assert_eq!(
        answer_of(&sim, b, &wrong),
        (
            "error".to_owned(),
            Some("item-not-found".to_owned()),
            Some("deadbeef is not a currently active session".to_owned())
        )
    );
    let again = terminate_from(&mut sim, b, None, false);
    sim.run_for(secs(1));
    assert_eq!(
        answer_of(&sim, b, &again).2.as_deref(),
        Some("session ended")
    );
    sim.assert_no_errors();
}

#[test]
fn the_focus_publishes_the_bridge_count() {
    let (mut sim, _bridge) = sim_with_bridge(20);
    let a = sim.add_participant(ParticipantSpec::new(ROOM));
    let b = sim.add_participant(ParticipantSpec::new(ROOM));
    assert!(sim.run_until(|s| accepted(s, a) && accepted(s, b), secs(10)));
    let bridge_count = |sim: &Sim| {
        sim.participant(a)
            .focus_presence()
            .and_then(|p| p.get_child("conference-properties", "http://jitsi.org/protocol/focus"))
            .and_then(|props| {
                props
                    .children()
                    .find(|c| c.attr("key") == Some("bridge-count"))
                    .and_then(|c| c.attr("value").map(str::to_owned))
            })
    };
    assert_eq!(bridge_count(&sim).as_deref(), Some("1"));
    sim.leave(b);
    sim.run_for(secs(2));
    assert_eq!(bridge_count(&sim).as_deref(), Some("1"), "a is still on it");
    sim.assert_no_errors();
}
