//! Conference scenarios in the deterministic simulation: the real focus,
//! a simulated Prosody with its MUC, and simulated lib-jitsi-meet clients.

use std::time::Duration;

use focus_proto::conference::{ConferenceEvent, EndReason};
use focus_proto::http::{HttpRequest, Method};
use focus_proto::{Event, Focus};
use focus_tests::sim::{Faults, LinkFaults, MucOptions, ParticipantSpec, Phase, Received, Sim};
use minidom::Element;

const ROOM: &str = "standup@muc.meet.jitsi";

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn sim(hocon: &str) -> Sim {
    let mut sim = Sim::builder().seed(42).config_hocon(hocon).build();
    sim.run_for(secs(1));
    sim
}

/// The stanza answering IQ `id` in a raw session's inbox.
fn reply_to(inbox: &[Received], id: &str) -> Element {
    inbox
        .iter()
        .map(|r| &r.stanza)
        .find(|s| s.attr("id") == Some(id))
        .cloned()
        .unwrap_or_else(|| panic!("a reply to {id}"))
}

fn conference_count(focus: &Focus) -> usize {
    focus.conferences().len()
}

fn ended(sim: &Sim, room: &str) -> Vec<EndReason> {
    sim.events()
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Conference(ConferenceEvent::Ended { room: r, reason }) if r.as_str() == room => {
                Some(reason.clone())
            }
            _ => None,
        })
        .collect()
}

#[test]
fn a_participant_gets_ready_joins_and_becomes_owner() {
    let mut sim = sim("");
    let a = sim.add_participant(ParticipantSpec::new(ROOM));
    assert!(sim.run_until(|s| s.participant(a).in_room(), secs(5)));
    sim.run_for(secs(1));
    let p = sim.participant(a);
    let answer = p.answers().last().expect("an answer");
    assert!(answer.ready);
    assert_eq!(answer.focus_jid.as_deref(), Some("focus@auth.meet.jitsi"));
    assert_eq!(
        answer.properties.get("authentication").map(String::as_str),
        Some("false")
    );
    assert!(
        p.focus_present(),
        "the client recognizes the focus by its real JID"
    );
    let focus = p.occupant("focus").expect("the focus is an occupant");
    assert_eq!(focus.affiliation, "owner");
    assert!(
        focus
            .jid
            .as_deref()
            .is_some_and(|j| j.starts_with("focus@auth.meet.jitsi/"))
    );
    assert_eq!(p.affiliation(), Some("owner"), "auto-owner");
    assert!(p.is_moderator());
    // The focus published its presence extensions.
    let presence = p.focus_presence().expect("focus presence");
    let xml = String::from(presence);
    assert!(xml.contains("support-terminate-restart"), "{xml}");
    // The room is non-anonymous and has a meeting id the focus adopted.
    let room = sim.room(ROOM).expect("room");
    let conf = sim
        .focus()
        .conferences()
        .iter()
        .next()
        .expect("one conference");
    assert_eq!(conf.meeting_id.as_deref(), Some(room.meeting_id()));
    sim.assert_no_errors();
}

#[test]
fn concurrent_requests_create_one_conference_and_retry_until_ready() {
    // A slow link to the focus makes the join take a while.
    let faults = Faults::none().focus_link(LinkFaults {
        latency: Duration::from_millis(300),
        ..LinkFaults::default()
    });
    let mut sim = Sim::builder().seed(3).faults(faults).build();
    sim.run_for(secs(2));
    let ids: Vec<_> = (0..3)
        .map(|_| sim.add_participant(ParticipantSpec::new(ROOM)))
        .collect();
    assert!(sim.run_until(
        |s| ids.iter().all(|id| s.participant(*id).in_room()),
        secs(20)
    ));
    let created = sim
        .events()
        .iter()
        .filter(|(_, e)| matches!(e, Event::Conference(ConferenceEvent::Created { .. })))
        .count();
    assert_eq!(created, 1);
    let retried = ids
        .iter()
        .filter(|id| sim.participant(**id).answers().iter().any(|a| !a.ready))
        .count();
    assert!(retried >= 1, "requests during the join get ready=false");
    let owners = ids
        .iter()
        .filter(|id| sim.participant(**id).affiliation() == Some("owner"))
        .count();
    assert_eq!(owners, 1, "exactly one elected owner");
    sim.assert_no_errors();
}

#[test]
fn auto_owner_hands_over_when_the_owner_leaves() {
    let mut sim = sim("");
    let a = sim.add_participant(ParticipantSpec::new(ROOM));
    assert!(sim.run_until(|s| s.participant(a).affiliation() == Some("owner"), secs(5)));
    let b = sim.add_participant(ParticipantSpec::new(ROOM));
    let c = sim.add_participant(ParticipantSpec::new(ROOM));
    assert!(sim.run_until(
        |s| s.participant(b).in_room() && s.participant(c).in_room(),
        secs(5)
    ));
    sim.run_for(secs(1));
    assert_eq!(sim.participant(b).affiliation(), Some("none"));
    sim.leave(a);
    assert!(sim.run_until(|s| s.participant(b).affiliation() == Some("owner"), secs(5)));
    assert_eq!(
        sim.participant(c).affiliation(),
        Some("none"),
        "only the earliest"
    );
    sim.assert_no_errors();
}

#[test]
fn auto_owner_disabled_grants_nothing() {
    let mut sim = sim("jicofo.conference.enable-auto-owner = false");
    let a = sim.add_participant(ParticipantSpec::new(ROOM));
    assert!(sim.run_until(|s| s.participant(a).in_room(), secs(5)));
    sim.run_for(secs(2));
    assert_eq!(sim.participant(a).affiliation(), Some("none"));
    sim.assert_no_errors();
}

#[test]
fn initial_timeout_when_nobody_joins() {
    let mut sim = sim("jicofo.conference.initial-timeout = 5 seconds");
    let a = sim.add_participant(ParticipantSpec::new(ROOM).no_join());
    assert!(sim.run_until(
        |s| matches!(s.participant(a).phase(), Phase::Ready),
        secs(3)
    ));
    assert!(sim.room(ROOM).is_some());
    sim.run_for(secs(3));
    assert_eq!(conference_count(sim.focus()), 1, "not before the timeout");
    sim.run_for(secs(3));
    assert_eq!(conference_count(sim.focus()), 0);
    assert!(sim.room(ROOM).is_none(), "the focus left, the room is gone");
    assert_eq!(ended(&sim, ROOM), vec![EndReason::InitialTimeout]);
    assert_eq!(sim.focus().conferences().pending_work(), 0);
    sim.assert_no_errors();
}

#[test]
fn single_participant_timeout_and_the_end_of_the_conference() {
    let mut sim =
        sim("jicofo.conference { single-participant-timeout = 10 seconds, min-participants = 2 }");
    let a = sim.add_participant(ParticipantSpec::new(ROOM));
    let b = sim.add_participant(ParticipantSpec::new(ROOM));
    assert!(sim.run_until(
        |s| s.participant(a).in_room() && s.participant(b).in_room(),
        secs(5)
    ));
    let media = |sim: &Sim| {
        sim.events()
            .iter()
            .filter(|(_, e)| matches!(e, Event::Conference(ConferenceEvent::MediaReady { .. })))
            .count()
    };
    assert_eq!(media(&sim), 1, "min-participants reached");
    sim.leave(b);
    sim.run_for(secs(9));
    let lone = |sim: &Sim| {
        sim.events()
            .iter()
            .filter(|(_, e)| {
                matches!(
                    e,
                    Event::Conference(ConferenceEvent::SingleParticipantTimeout { .. })
                )
            })
            .count()
    };
    assert_eq!(lone(&sim), 0);
    sim.run_for(secs(2));
    assert_eq!(lone(&sim), 1);
    assert!(sim.participant(a).in_room(), "the lone participant stays");
    assert!(sim.participant(a).focus_present());
    // Someone joins again: media again.
    let c = sim.add_participant(ParticipantSpec::new(ROOM));
    assert!(sim.run_until(|s| s.participant(c).in_room(), secs(5)));
    sim.run_for(secs(1));
    assert_eq!(media(&sim), 2);
    sim.leave(a);
    sim.leave(c);
    sim.run_for(secs(2));
    assert_eq!(conference_count(sim.focus()), 0);
    assert!(sim.room(ROOM).is_none());
    assert_eq!(ended(&sim, ROOM), vec![EndReason::LastMemberLeft]);
    assert_eq!(sim.focus().conferences().pending_work(), 0);
    sim.assert_no_errors();
}

#[test]
fn rooms_on_other_muc_domains_and_breakout_rooms() {
    let mut sim = Sim::builder()
        .seed(5)
        .muc_domain("breakout.meet.jitsi", MucOptions::breakout())
        .muc_domain("conference.tenant.meet.jitsi", MucOptions::default())
        .build();
    sim.run_for(secs(1));
    let main = sim.add_participant(ParticipantSpec::new(ROOM));
    assert!(sim.run_until(|s| s.participant(main).in_room(), secs(5)));
    let tenant = sim.add_participant(ParticipantSpec::new("x@conference.tenant.meet.jitsi"));
    assert!(sim.run_until(
        |s| s.participant(tenant).affiliation() == Some("owner"),
        secs(5)
    ));

    let breakout_room = "standup_abc@breakout.meet.jitsi";
    assert!(sim.register_breakout_room(breakout_room, ROOM));
    let br = sim.add_participant(ParticipantSpec::new(breakout_room));
    assert!(sim.run_until(|s| s.participant(br).in_room(), secs(5)));
    sim.run_for(secs(2));
    assert!(sim.participant(br).focus_present());
    assert_eq!(
        sim.participant(br).affiliation(),
        Some("none"),
        "no auto-owner in breakout rooms"
    );
    let conf = sim
        .focus()
        .conferences()
        .iter()
        .find(|c| c.room.as_str() == breakout_room)
        .expect("breakout conference");
    assert!(conf.is_breakout);
    // The main room empties while its breakout room lives: it is kept.
    sim.leave(main);
    sim.run_for(secs(30));
    assert!(
        sim.room(ROOM).is_some(),
        "main room kept while a breakout room exists"
    );
    sim.leave(br);
    sim.run_for(secs(30));
    assert!(sim.room(breakout_room).is_none());
    assert!(sim.room(ROOM).is_none(), "then the main room ends too");
    sim.assert_no_errors();
}

#[test]
fn bad_requests_get_jicofos_errors_and_do_not_disturb_others() {
    let mut sim = Sim::builder().seed(9).allow_errors().build();
    sim.run_for(secs(1));
    let good = sim.add_participant(ParticipantSpec::new(ROOM));
    assert!(sim.run_until(|s| s.participant(good).in_room(), secs(5)));
    let raw = sim.connect_raw("mallory@meet.jitsi/x");
    sim.raw_send_xml(
        raw,
        "<iq type='set' id='r1' to='focus.meet.jitsi'><conference xmlns='http://jitsi.org/protocol/focus'/></iq>",
    );
    sim.raw_send_xml(
        raw,
        "<iq type='set' id='r2' to='focus.meet.jitsi'><conference xmlns='http://jitsi.org/protocol/focus' room='not a room'/></iq>",
    );
    sim.raw_send_xml(
        raw,
        "<iq type='set' id='r3' to='focus.meet.jitsi'><conference xmlns='http://jitsi.org/protocol/focus' room='a@b@muc.meet.jitsi'/></iq>",
    );
    // A flood of new rooms.
    for i in 0..100 {
        sim.raw_send_xml(
            raw,
            &format!(
                "<iq type='set' id='f{i}' to='focus.meet.jitsi'><conference xmlns='http://jitsi.org/protocol/focus' room='flood{i}@muc.meet.jitsi'/></iq>"
            ),
        );
    }
    // Presences forged to look like the focus or an occupant.
    sim.raw_send_xml(
        raw,
        &format!("<presence to='focus@auth.meet.jitsi/focus' type='unavailable'><x xmlns='http://jabber.org/protocol/muc#user'><item jid='{}' role='none'/></x></presence>", sim.participant(good).jid()),
    );
    sim.run_for(secs(3));
    let inbox = sim.take_inbox(raw);
    let reply = |id: &str| reply_to(&inbox, id);
    for id in ["r1", "r2", "r3"] {
        let r = reply(id);
        assert_eq!(r.attr("type"), Some("error"));
        assert!(String::from(&r).contains("bad-request"), "{id}");
    }
    assert!(
        String::from(&reply("r1")).contains("No 'room' specified.")
            || String::from(&reply("r1")).contains("No &apos;room&apos; specified.")
    );
    let refused = (0..100)
        .filter(|i| String::from(&reply(&format!("f{i}"))).contains("policy-violation"))
        .count();
    assert!(refused >= 80, "the flood is refused ({refused} of 100)");
    assert!(conference_count(sim.focus()) <= 1 + 16);
    // The good participant is untouched and new users are served.
    assert!(sim.participant(good).in_room());
    assert_eq!(sim.participant(good).affiliation(), Some("owner"));
    let other = sim.add_participant(ParticipantSpec::new("other@muc.meet.jitsi"));
    assert!(sim.run_until(|s| s.participant(other).in_room(), secs(5)));
    // A room on a domain the server cannot reach: the join fails and the
    // requester gets an error instead of silence.
    let foreign = sim.add_participant(ParticipantSpec::new("x@muc.example.org"));
    assert!(sim.run_until(
        |s| matches!(s.participant(foreign).phase(), Phase::RequestFailed(_)),
        secs(20)
    ));
    assert_eq!(
        sim.participant(foreign).phase(),
        &Phase::RequestFailed("internal-server-error".into())
    );
    // The flood rooms time out and leave nothing.
    sim.run_for(secs(30));
    assert_eq!(conference_count(sim.focus()), 2);
}

#[test]
fn focus_connection_loss_ends_conferences_and_clients_can_start_again() {
    let mut sim = Sim::builder().seed(13).allow_errors().build();
    sim.run_for(secs(1));
    let a = sim.add_participant(ParticipantSpec::new(ROOM));
    assert!(sim.run_until(|s| s.participant(a).in_room(), secs(5)));
    sim.disconnect_focus(Some(secs(2)));
    sim.run_for(secs(1));
    assert_eq!(conference_count(sim.focus()), 0);
    assert_eq!(ended(&sim, ROOM), vec![EndReason::ConnectionLost]);
    sim.run_for(secs(3));
    // lib-jitsi-meet reloads the conference: a new request.
    sim.request_conference(a);
    assert!(sim.run_until(
        |s| conference_count(s.focus()) == 1
            && s.focus().conferences().iter().all(|c| c.is_joined()),
        secs(10)
    ));
}

#[test]
fn rest_conference_request_creates_and_answers() {
    let mut sim = sim("");
    let mut req = HttpRequest::new(Method::Post, "/conference-request/v1");
    req.body =
        format!("{{\"room\":\"{ROOM}\",\"properties\":{{\"visitors-version\":1}}}}").into_bytes();
    let response = sim.http(req);
    assert_eq!(response.status, 200);
    let json: serde_json::Value = serde_json::from_slice(&response.body).expect("json");
    assert_eq!(json["ready"], true);
    assert_eq!(json["focusJid"], "focus@auth.meet.jitsi");
    assert_eq!(json["properties"]["visitors-supported"], "false");
    assert!(sim.room(ROOM).is_some());
    let mut bad = HttpRequest::new(Method::Post, "/conference-request/v1");
    bad.body = b"{\"room\":\"no-at\"}".to_vec();
    assert_eq!(sim.http(bad).status, 400);
    let mut garbage = HttpRequest::new(Method::Post, "/conference-request/v1");
    garbage.body = b"{not json".to_vec();
    let r = sim.http(garbage);
    assert_eq!(r.status, 400);
    assert!(String::from_utf8_lossy(&r.body).starts_with("Bad request: "));
    sim.assert_no_errors();
}

#[test]
fn xmpp_authentication_sessions() {
    let mut sim = sim(
        "jicofo.authentication { enabled = true, type = XMPP, login-url = \"auth.meet.jitsi\" }",
    );
    // A guest cannot create the room.
    let guest = sim.add_participant(ParticipantSpec::new(ROOM));
    assert!(sim.run_until(
        |s| matches!(s.participant(guest).phase(), Phase::AuthenticationRequired),
        secs(5)
    ));
    // A user logged in on the authentication domain creates it, gets a
    // session, and is made owner.
    let user = sim.add_participant(ParticipantSpec::new(ROOM).login("alice@auth.meet.jitsi/web"));
    assert!(sim.run_until(|s| s.participant(user).in_room(), secs(5)));
    let answer = sim
        .participant(user)
        .answers()
        .last()
        .cloned()
        .expect("answer");
    assert_eq!(
        answer.properties.get("authentication").map(String::as_str),
        Some("true")
    );
    assert_eq!(
        answer.properties.get("externalAuth").map(String::as_str),
        Some("false")
    );
    assert_eq!(answer.identity.as_deref(), Some("alice@auth.meet.jitsi"));
    let session = answer.session_id.clone().expect("a session id");
    assert!(sim.run_until(
        |s| s.participant(user).affiliation() == Some("owner"),
        secs(5)
    ));
    // The same person as a guest, presenting the session: recognized.
    let machine = sim.participant(user).machine_uid().to_owned();
    let again = sim.add_participant(
        ParticipantSpec::new(ROOM)
            .session_id(session.clone())
            .machine_uid(machine),
    );
    assert!(sim.run_until(
        |s| s.participant(again).affiliation() == Some("owner"),
        secs(5)
    ));
    // A wrong session id gets session-invalid.
    let wrong = sim.add_participant(ParticipantSpec::new(ROOM).session_id("nope"));
    assert!(sim.run_until(|s| !s.participant(wrong).errors().is_empty(), secs(5)));
    let e = &sim.participant(wrong).errors()[0];
    assert_eq!(e.condition, "not-acceptable");
    assert!(String::from(&e.stanza).contains("session-invalid"));
    // A guest may join the existing room, but is not made owner.
    let late = sim.add_participant(ParticipantSpec::new(ROOM));
    assert!(sim.run_until(|s| s.participant(late).in_room(), secs(5)));
    sim.run_for(secs(1));
    assert_eq!(sim.participant(late).affiliation(), Some("none"));
}

#[test]
fn jwt_authentication() {
    let mut sim =
        sim("jicofo.authentication { enabled = true, type = JWT, login-url = \"meet.jitsi\" }");
    let user = sim.add_participant(ParticipantSpec::new(ROOM));
    assert!(sim.run_until(|s| s.participant(user).in_room(), secs(5)));
    let answer = sim
        .participant(user)
        .answers()
        .last()
        .cloned()
        .expect("answer");
    assert_eq!(
        answer.properties.get("externalAuth").map(String::as_str),
        Some("true")
    );
    assert!(answer.session_id.is_some());
    assert!(sim.run_until(
        |s| s.participant(user).affiliation() == Some("owner"),
        secs(5)
    ));
    // Users of another domain (guests) cannot create rooms.
    let guest = sim.add_participant(
        ParticipantSpec::new("other@muc.meet.jitsi").login("guest@auth.meet.jitsi/x"),
    );
    assert!(sim.run_until(
        |s| matches!(s.participant(guest).phase(), Phase::AuthenticationRequired),
        secs(5)
    ));
}

/// A busy run with faults: many participants in several rooms, joining
/// and leaving, a focus reconnect. Returns the whole trace.
fn faulty_crowd(seed: u64) -> String {
    let faults = Faults::chaotic(0.01, 0.02, Duration::from_millis(20));
    let mut sim = Sim::builder()
        .seed(seed)
        .faults(faults)
        .allow_errors()
        .build();
    sim.run_for(secs(1));
    let ids: Vec<_> = (0..100)
        .map(|i| {
            sim.add_participant(
                ParticipantSpec::new(format!("room{}@muc.meet.jitsi", i % 7))
                    .start_after(Duration::from_millis(37 * i)),
            )
        })
        .collect();
    sim.run_for(secs(10));
    for id in ids.iter().step_by(3) {
        sim.leave(*id);
    }
    sim.disconnect_focus(Some(secs(1)));
    sim.run_for(secs(5));
    for id in ids.iter().step_by(5) {
        sim.request_conference(*id);
    }
    sim.run_for(secs(60));
    sim.trace_text()
}

#[test]
fn determinism_a_hundred_participants_with_faults() {
    let a = faulty_crowd(77);
    let b = faulty_crowd(77);
    assert!(a.lines().count() > 1000, "a busy trace");
    assert!(a == b, "the same seed gives a byte-identical trace");
    assert_ne!(a, faulty_crowd(78));
}

#[test]
fn login_url_and_logout() {
    let mut sim = sim(
        "jicofo.authentication { enabled = true, type = XMPP, login-url = \"auth.meet.jitsi\" }",
    );
    let user = sim.add_participant(ParticipantSpec::new(ROOM).login("alice@auth.meet.jitsi/web"));
    assert!(sim.run_until(|s| s.participant(user).in_room(), secs(5)));
    let session = sim
        .participant(user)
        .session_id()
        .expect("a session")
        .to_owned();
    let raw = sim.connect_raw("guest@meet.jitsi/x");
    sim.raw_send_xml(
        raw,
        &format!("<iq type='get' id='l1' to='focus.meet.jitsi'><login-url xmlns='http://jitsi.org/protocol/focus' room='{ROOM}' machine-uid='m1'/></iq>"),
    );
    sim.raw_send_xml(
        raw,
        &format!("<iq type='get' id='l2' to='focus.meet.jitsi'><login-url xmlns='http://jitsi.org/protocol/focus' room='{ROOM}'/></iq>"),
    );
    sim.raw_send_xml(
        raw,
        "<iq type='set' id='o1' to='focus.meet.jitsi'><logout xmlns='http://jitsi.org/protocol/focus' session-id='unknown'/></iq>",
    );
    sim.raw_send_xml(
        raw,
        &format!("<iq type='set' id='o2' to='focus.meet.jitsi'><logout xmlns='http://jitsi.org/protocol/focus' session-id='{session}'/></iq>"),
    );
    sim.run_for(secs(1));
    let inbox = sim.take_inbox(raw);
    let reply = |id: &str| reply_to(&inbox, id);
    let l1 = reply("l1");
    assert_eq!(l1.attr("type"), Some("result"));
    let url = l1
        .get_child("login-url", "http://jitsi.org/protocol/focus")
        .and_then(|e| e.attr("url"))
        .expect("a login url");
    assert!(url.contains("standup"), "{url}");
    let l2 = reply("l2");
    assert_eq!(l2.attr("type"), Some("error"));
    assert!(String::from(&l2).contains("bad-request"));
    let o1 = reply("o1");
    assert!(String::from(&o1).contains("session-invalid"));
    assert_eq!(reply("o2").attr("type"), Some("result"));
    // The session is gone: presenting it again is refused.
    let again = sim.add_participant(ParticipantSpec::new(ROOM).session_id(session));
    assert!(sim.run_until(|s| !s.participant(again).errors().is_empty(), secs(5)));
    assert_eq!(
        sim.participant(again).errors()[0].condition,
        "not-acceptable"
    );
}

#[test]
fn without_authentication_login_url_is_unsupported() {
    let mut sim = sim("");
    let raw = sim.connect_raw("guest@meet.jitsi/x");
    sim.raw_send_xml(
        raw,
        &format!("<iq type='get' id='l1' to='focus.meet.jitsi'><login-url xmlns='http://jitsi.org/protocol/focus' room='{ROOM}' machine-uid='m1'/></iq>"),
    );
    sim.run_for(secs(1));
    let inbox = sim.take_inbox(raw);
    assert!(String::from(&reply_to(&inbox, "l1")).contains("service-unavailable"));
}
