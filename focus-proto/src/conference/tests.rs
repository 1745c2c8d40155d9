//! Unit tests of the conference rules, driving a [`Focus`] with raw
//! stanzas as Prosody would deliver them. Whole scenarios with a simulated
//! MUC live in the `focus-tests` simulation.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use jid::{BareJid, FullJid};
use minidom::Element;

use super::{ConferenceEvent, EndReason, JoinState};
use crate::config::Config;
use crate::focus::{ConnId, Event, Focus, Input, Output};

const FOCUS_FULL: &str = "focus@auth.meet.jitsi/focus";
const PROXY: &str = "focus.meet.jitsi";

struct Bench {
    focus: Focus,
    now: Instant,
    out: Vec<Output>,
}

fn config(extra: &str) -> Arc<Config> {
    let text = format!(
        "jicofo.xmpp.client {{ xmpp-domain = meet.jitsi, domain = auth.meet.jitsi, client-proxy = {PROXY} }}\n{extra}"
    );
    Arc::new(
        Config::from_hocon_str(&text, "test.conf")
            .expect("test config parses")
            .config,
    )
}

impl Bench {
    /// A focus connected, with what it sent on connecting discarded.
    fn new(extra: &str) -> Self {
        let mut bench = Self::connected(extra);
        bench.out.clear();
        bench
    }

    /// A focus connected, with what it sent on connecting kept in `out`.
    fn connected(extra: &str) -> Self {
        let now = Instant::now();
        let mut focus = Focus::new(config(extra), [1; 32], now, SystemTime::UNIX_EPOCH);
        focus
            .handle_input(
                now,
                Input::Connected {
                    conn: ConnId::Client,
                    jid: FullJid::new(FOCUS_FULL).expect("valid"),
                },
            )
            .expect("connected");
        let mut bench = Self {
            focus,
            now,
            out: Vec::new(),
        };
        bench.drain();
        bench
    }

    fn drain(&mut self) {
        while let Some(o) = self.focus.poll_output() {
            self.out.push(o);
        }
    }

    fn input(&mut self, xml: &str) {
        let stanza: Element = xml.parse().expect("test stanza parses");
        self.focus
            .handle_input(
                self.now,
                Input::Stanza {
                    conn: ConnId::Client,
                    stanza,
                },
            )
            .expect("accepted");
        self.drain();
    }

    fn advance(&mut self, secs: u64) {
        let end = self.now + Duration::from_secs(secs);
        while let Some(at) = self.focus.poll_timeout().filter(|at| *at <= end) {
            self.now = self.now.max(at);
            self.focus.handle_timeout(self.now);
            self.drain();
        }
        self.now = end;
    }

    fn take_sent(&mut self) -> Vec<Element> {
        let out = std::mem::take(&mut self.out);
        out.into_iter()
            .filter_map(|o| match o {
                Output::Send { stanza, .. } => Some(stanza),
                Output::Event(e) => {
                    self.out.push(Output::Event(e));
                    None
                }
                _ => None,
            })
            .collect()
    }

    fn events(&self) -> Vec<ConferenceEvent> {
        self.out
            .iter()
            .filter_map(|o| match o {
                Output::Event(Event::Conference(e)) => Some(e.clone()),
                _ => None,
            })
            .collect()
    }

    /// A conference request from `user` through the client proxy.
    fn request(&mut self, id: &str, user: &str, room: &str) {
        self.input(&format!(
            "<iq xmlns='jabber:client' type='set' id='{id}' from='{PROXY}/{user}' to='{FOCUS_FULL}'>\
               <conference xmlns='http://jitsi.org/protocol/focus' room='{room}' machine-uid='m1'>\
                 <property name='rtcstatsEnabled' value='false'/><property name='visitors-version' value='1'/>\
               </conference></iq>"
        ));
    }

    /// Plays the MUC's side of the focus's join of `room`: self-presence as
    /// owner, the configuration form and its acceptance.
    fn complete_join(&mut self, room: &str) {
        self.complete_join_with(room, "");
    }

    /// [`Bench::complete_join`] with extra fields in the room's form.
    fn complete_join_with(&mut self, room: &str, extra_fields: &str) {
        let sent = self.take_sent();
        assert!(
            sent.iter().any(|s| s.name() == "presence"
                && s.attr("to") == Some(&format!("{room}/focus"))
                && s.has_child("x", "http://jabber.org/protocol/muc")),
            "join presence sent: {sent:?}"
        );
        self.input(&format!(
            "<presence xmlns='jabber:client' from='{room}/focus' to='{FOCUS_FULL}'>\
               <x xmlns='http://jabber.org/protocol/muc#user'>\
                 <item affiliation='owner' role='moderator' jid='{FOCUS_FULL}'/>\
                 <status code='110'/><status code='201'/></x></presence>"
        ));
        let sent = self.take_sent();
        let get = sent
            .iter()
            .find(|s| s.name() == "iq" && s.attr("type") == Some("get"))
            .expect("owner form requested");
        let id = get.attr("id").expect("id").to_owned();
        self.input(&format!(
            "<iq xmlns='jabber:client' type='result' id='{id}' from='{room}' to='{FOCUS_FULL}'>\
               <query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='form'>\
                 <field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/muc#roomconfig</value></field>\
                 <field var='muc#roominfo_meetingId'><value>0d6f1c9e-1111-4222-8333-444455556666</value></field>\
                 <field var='muc#roomconfig_whois' type='list-single'><value>moderators</value></field>{extra_fields}\
               </x></query></iq>"
        ));
        let sent = self.take_sent();
        let set = sent
            .iter()
            .find(|s| s.name() == "iq" && s.attr("type") == Some("set"))
            .expect("form submitted");
        let xml = String::from(set);
        assert!(
            xml.contains("muc#roomconfig_whois") && xml.contains("anyone"),
            "{xml}"
        );
        let id = set.attr("id").expect("id").to_owned();
        self.input(&format!(
            "<iq xmlns='jabber:client' type='result' id='{id}' from='{room}' to='{FOCUS_FULL}'/>"
        ));
    }

    fn member(&mut self, room: &str, nick: &str, jid: &str, affiliation: &str, role: &str) {
        self.input(&format!(
            "<presence xmlns='jabber:client' from='{room}/{nick}' to='{FOCUS_FULL}'>\
               <x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='{affiliation}' role='{role}' jid='{jid}'/></x>\
               <stats-id>Stat-{nick}</stats-id><SourceInfo>{{}}</SourceInfo></presence>"
        ));
    }

    fn leave(&mut self, room: &str, nick: &str) {
        self.input(&format!(
            "<presence xmlns='jabber:client' type='unavailable' from='{room}/{nick}' to='{FOCUS_FULL}'>\
               <x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='none' role='none'/></x></presence>"
        ));
    }

    fn conference(&self, room: &str) -> Option<&super::Conference> {
        self.focus
            .conferences()
            .get(&BareJid::new(room).expect("valid room"))
    }
}

fn answer_of(sent: &[Element], id: &str) -> Element {
    sent.iter()
        .find(|s| s.name() == "iq" && s.attr("id") == Some(id))
        .cloned()
        .unwrap_or_else(|| panic!("an answer to {id} in {sent:?}"))
}

const ROOM: &str = "standup@muc.meet.jitsi";
const ALICE: &str = "alice@meet.jitsi/web1";
const BOB: &str = "bob@meet.jitsi/web2";

#[test]
fn request_creates_joins_as_owner_then_answers_ready() {
    let mut b = Bench::new("");
    b.request("c1", ALICE, ROOM);
    assert_eq!(
        b.conference(ROOM).map(|c| c.state),
        Some(JoinState::Joining)
    );
    // A second request while joining: ready=false at once.
    b.request("c2", BOB, ROOM);
    let sent = b.take_sent();
    let c2 = answer_of(&sent, "c2");
    assert_eq!(c2.attr("to"), Some(format!("{PROXY}/{BOB}").as_str()));
    let conf = c2.children().next().expect("conference");
    assert_eq!(conf.attr("ready"), Some("false"));
    // Replay the join presence check against a fresh take: re-request.
    b.request("c3", ALICE, ROOM);
    b.input(&format!(
        "<presence xmlns='jabber:client' from='{ROOM}/focus'>\
           <x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='owner' role='moderator'/>\
           <status code='110'/></x></presence>"
    ));
    let sent = b.take_sent();
    let get = sent
        .iter()
        .find(|s| s.attr("type") == Some("get"))
        .expect("form requested");
    let id = get.attr("id").expect("id").to_owned();
    b.input(&format!(
        "<iq xmlns='jabber:client' type='result' id='{id}' from='{ROOM}'><query xmlns='http://jabber.org/protocol/muc#owner'/></iq>"
    ));
    let sent = b.take_sent();
    let set = sent
        .iter()
        .find(|s| s.attr("type") == Some("set"))
        .expect("form submitted");
    let id = set.attr("id").expect("id").to_owned();
    // An impostor's result does not complete the join.
    b.input(&format!(
        "<iq xmlns='jabber:client' type='result' id='{id}' from='{ALICE}'/>"
    ));
    assert_eq!(
        b.conference(ROOM).map(|c| c.state),
        Some(JoinState::SubmittingForm)
    );
    b.input(&format!(
        "<iq xmlns='jabber:client' type='result' id='{id}' from='{ROOM}'/>"
    ));
    let sent = b.take_sent();
    let c1 = answer_of(&sent, "c1");
    assert_eq!(c1.attr("type"), Some("result"));
    let conf = c1.children().next().expect("conference");
    assert_eq!(conf.attr("ready"), Some("true"));
    assert_eq!(conf.attr("focusjid"), Some("focus@auth.meet.jitsi"));
    assert_eq!(conf.attr("room"), Some(ROOM));
    // Focus presence with the conference properties.
    let presence = sent
        .iter()
        .find(|s| s.name() == "presence")
        .expect("focus presence");
    let xml = String::from(presence);
    assert!(xml.contains("support-terminate-restart"), "{xml}");
    assert!(xml.contains(">standup<"), "etherpad = room name: {xml}");
    let joined = b.conference(ROOM).expect("conference");
    assert!(joined.is_joined());
    assert!(joined.meeting_id.is_some(), "a meeting id is generated");
}

#[test]
fn bad_requests_get_jicofos_errors() {
    let mut b = Bench::new("");
    b.input(&format!(
        "<iq xmlns='jabber:client' type='set' id='e1' from='{PROXY}/{ALICE}'>\
           <conference xmlns='http://jitsi.org/protocol/focus'/></iq>"
    ));
    b.request("e2", ALICE, "no-at-sign");
    b.request("e3", ALICE, "a@b@muc.meet.jitsi");
    let sent = b.take_sent();
    for id in ["e1", "e2", "e3"] {
        let e = answer_of(&sent, id);
        assert_eq!(e.attr("type"), Some("error"), "{id}");
        let xml = String::from(&e);
        assert!(xml.contains("bad-request"), "{id}: {xml}");
    }
    assert!(
        String::from(&answer_of(&sent, "e1")).contains("No &apos;room&apos; specified.")
            || String::from(&answer_of(&sent, "e1")).contains("No 'room' specified.")
    );
    assert!(b.focus.conferences().is_empty());
}

#[test]
fn auto_owner_picks_the_first_member_then_the_next() {
    let mut b = Bench::new("");
    b.request("c1", ALICE, ROOM);
    b.complete_join(ROOM);
    b.take_sent();
    b.member(ROOM, "aaaa1111", ALICE, "none", "participant");
    let sent = b.take_sent();
    let grant = sent
        .iter()
        .find(|s| String::from(*s).contains("muc#admin"))
        .expect("grant to the first member");
    let xml = String::from(grant);
    assert!(
        xml.contains("affiliation='owner'") && xml.contains("alice@meet.jitsi"),
        "{xml}"
    );
    assert_eq!(grant.attr("to"), Some(ROOM));
    b.member(ROOM, "aaaa1111", ALICE, "owner", "moderator");
    b.member(ROOM, "bbbb2222", BOB, "none", "participant");
    assert!(
        !b.take_sent()
            .iter()
            .any(|s| String::from(s).contains("muc#admin")),
        "one owner is enough"
    );
    b.leave(ROOM, "aaaa1111");
    let sent = b.take_sent();
    let xml: Vec<String> = sent.iter().map(String::from).collect();
    assert!(
        xml.iter()
            .any(|x| x.contains("muc#admin") && x.contains("bob@meet.jitsi")),
        "the next member becomes owner: {xml:?}"
    );
}

#[test]
fn auto_owner_off_grants_nothing() {
    let mut b = Bench::new("jicofo.conference.enable-auto-owner = false");
    b.request("c1", ALICE, ROOM);
    b.complete_join(ROOM);
    b.member(ROOM, "aaaa1111", ALICE, "none", "participant");
    assert!(
        !b.take_sent()
            .iter()
            .any(|s| String::from(s).contains("muc#admin"))
    );
}

#[test]
fn initial_timeout_ends_an_unjoined_conference() {
    let mut b = Bench::new("jicofo.conference.initial-timeout = 5 seconds");
    b.request("c1", ALICE, ROOM);
    b.complete_join(ROOM);
    b.take_sent();
    b.advance(4);
    assert!(b.conference(ROOM).is_some());
    // A new request re-arms the timer.
    b.request("c2", ALICE, ROOM);
    b.advance(4);
    assert!(b.conference(ROOM).is_some());
    b.advance(2);
    assert!(b.conference(ROOM).is_none());
    let sent = b.take_sent();
    assert!(sent.iter().any(|s| s.attr("type") == Some("unavailable")
        && s.attr("to") == Some(format!("{ROOM}/focus").as_str())));
    assert!(b.events().contains(&ConferenceEvent::Ended {
        room: BareJid::new(ROOM).expect("valid"),
        reason: EndReason::InitialTimeout
    }));
    assert_eq!(b.focus.conferences().pending_work(), 0);
}

#[test]
fn last_member_leaving_ends_the_conference_and_single_timeout_fires() {
    let mut b = Bench::new(
        "jicofo.conference { single-participant-timeout = 10 seconds, min-participants = 2 }",
    );
    b.request("c1", ALICE, ROOM);
    b.complete_join(ROOM);
    b.member(ROOM, "aaaa1111", ALICE, "none", "participant");
    b.member(ROOM, "bbbb2222", BOB, "none", "participant");
    assert!(b.events().contains(&ConferenceEvent::MediaReady {
        room: BareJid::new(ROOM).expect("valid")
    }));
    b.leave(ROOM, "bbbb2222");
    b.advance(11);
    assert!(b.events().iter().any(|e| matches!(e, ConferenceEvent::SingleParticipantTimeout { endpoint, .. } if endpoint == "aaaa1111")));
    assert!(
        b.conference(ROOM).is_some(),
        "the lone member keeps the room"
    );
    b.leave(ROOM, "aaaa1111");
    assert!(b.conference(ROOM).is_none());
    assert_eq!(b.focus.conferences().pending_work(), 0);
}

#[test]
fn join_failures_answer_an_error_and_leave_nothing() {
    let mut b = Bench::new("");
    b.request("c1", ALICE, ROOM);
    // Not owner: the focus leaves and the requester gets an error.
    b.input(&format!(
        "<presence xmlns='jabber:client' from='{ROOM}/focus'>\
           <x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='none' role='participant'/>\
           <status code='110'/></x></presence>"
    ));
    let sent = b.take_sent();
    let e = answer_of(&sent, "c1");
    assert_eq!(e.attr("type"), Some("error"));
    assert!(sent.iter().any(|s| s.attr("type") == Some("unavailable")));
    assert!(b.conference(ROOM).is_none());

    // No answer from the room at all: reply-timeout.
    b.request("c2", ALICE, "other@muc.meet.jitsi");
    b.advance(20);
    let sent = b.take_sent();
    assert_eq!(answer_of(&sent, "c2").attr("type"), Some("error"));
    assert!(b.focus.conferences().is_empty());
    assert_eq!(b.focus.conferences().pending_work(), 0);
}

#[test]
fn forged_presences_change_nothing() {
    let mut b = Bench::new("");
    b.request("c1", ALICE, ROOM);
    b.complete_join(ROOM);
    b.member(ROOM, "aaaa1111", ALICE, "owner", "moderator");
    b.take_sent();
    // A direct presence from a user claiming to be an occupant.
    b.input(&format!(
        "<presence xmlns='jabber:client' type='unavailable' from='{BOB}'>\
           <x xmlns='http://jabber.org/protocol/muc#user'><item jid='{FOCUS_FULL}' affiliation='none'/></x></presence>"
    ));
    // A presence from the bare room.
    b.input(&format!(
        "<presence xmlns='jabber:client' type='unavailable' from='{ROOM}'/>"
    ));
    let conf = b.conference(ROOM).expect("still there");
    assert!(conf.is_joined());
    assert_eq!(conf.member_count(), 1);
}

#[test]
fn rest_conference_request() {
    use crate::focus::HttpId;
    use crate::http::{HttpRequest, Method};
    let mut b = Bench::new("");
    let mut req = HttpRequest::new(Method::Post, "/conference-request/v1");
    req.body = format!("{{\"room\":\"{ROOM}\",\"properties\":{{\"rtcstatsEnabled\":false}}}}")
        .into_bytes();
    b.focus
        .handle_input(
            b.now,
            Input::Http {
                id: HttpId(1),
                request: req,
            },
        )
        .expect("accepted");
    b.drain();
    b.complete_join(ROOM);
    let answer = b
        .out
        .iter()
        .find_map(|o| match o {
            Output::Http {
                id: HttpId(1),
                response,
            } => Some(response.clone()),
            _ => None,
        })
        .expect("answered after the join");
    assert_eq!(answer.status, 200);
    let json: serde_json::Value = serde_json::from_slice(&answer.body).expect("json");
    assert_eq!(json["ready"], true);
    assert_eq!(json["focusJid"], "focus@auth.meet.jitsi");
    assert_eq!(json["properties"]["authentication"], "false");

    let mut bad = HttpRequest::new(Method::Post, "/conference-request/v1");
    bad.body = b"{\"room\":\"nope\"}".to_vec();
    b.focus
        .handle_input(
            b.now,
            Input::Http {
                id: HttpId(2),
                request: bad,
            },
        )
        .expect("accepted");
    b.drain();
    let answer = b
        .out
        .iter()
        .find_map(|o| match o {
            Output::Http {
                id: HttpId(2),
                response,
            } => Some(response.clone()),
            _ => None,
        })
        .expect("answered");
    assert_eq!(answer.status, 400);
}

#[test]
fn floods_of_new_rooms_are_refused() {
    let mut b = Bench::new("");
    for i in 0..40 {
        b.request(&format!("f{i}"), ALICE, &format!("room{i}@muc.meet.jitsi"));
    }
    let sent = b.take_sent();
    let refused = sent
        .iter()
        .filter(|s| {
            s.attr("type") == Some("error") && String::from(*s).contains("policy-violation")
        })
        .count();
    assert_eq!(refused, 40 - super::request::MAX_UNJOINED_PER_REQUESTER);
    assert_eq!(
        b.focus.conferences().len(),
        super::request::MAX_UNJOINED_PER_REQUESTER
    );
    // Another user is still served.
    b.request("other", BOB, "room0@muc.meet.jitsi");
    let sent = b.take_sent();
    assert_eq!(answer_of(&sent, "other").attr("type"), Some("result"));
}

#[test]
fn connection_loss_ends_every_conference() {
    let mut b = Bench::new("");
    b.request("c1", ALICE, ROOM);
    b.complete_join(ROOM);
    b.focus
        .handle_input(
            b.now,
            Input::Disconnected {
                conn: ConnId::Client,
                reason: "test".into(),
            },
        )
        .expect("accepted");
    b.drain();
    assert!(b.focus.conferences().is_empty());
    assert_eq!(b.focus.conferences().pending_work(), 0);
}

/// A MUC that answers the focus at once, as Prosody would: self-presence
/// as owner on join, the owner form, form acceptance, grants.
fn auto_muc(b: &mut Bench) {
    for _ in 0..1000 {
        let sent = b.take_sent();
        if sent.is_empty() {
            return;
        }
        for s in sent {
            let to = s.attr("to").unwrap_or_default().to_owned();
            let xml = String::from(&s);
            if s.name() == "presence" && s.has_child("x", "http://jabber.org/protocol/muc") {
                b.input(&format!(
                    "<presence xmlns='jabber:client' from='{to}'>\
                       <x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='owner' role='moderator'/>\
                       <status code='110'/></x></presence>"
                ));
            } else if s.name() == "iq" && (xml.contains("muc#owner") || xml.contains("muc#admin")) {
                let id = s.attr("id").unwrap_or_default().to_owned();
                b.input(&format!(
                    "<iq xmlns='jabber:client' type='result' id='{id}' from='{to}'/>"
                ));
            }
        }
    }
    panic!("the focus and the MUC never settled");
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Request { room: u8, user: u8 },
        Join { room: u8, user: u8 },
        Leave { room: u8, user: u8 },
        Advance { secs: u8 },
        Reconnect,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u8..4, 0u8..5).prop_map(|(room, user)| Op::Request { room, user }),
            (0u8..4, 0u8..5).prop_map(|(room, user)| Op::Join { room, user }),
            (0u8..4, 0u8..5).prop_map(|(room, user)| Op::Leave { room, user }),
            (0u8..40).prop_map(|secs| Op::Advance { secs }),
            Just(Op::Reconnect),
        ]
    }

    fn room(i: u8) -> String {
        format!("room{i}@muc.meet.jitsi")
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// Any interleaving of requests, joins, leaves, time and connection
        /// loss leaves nothing behind once every room is empty and the
        /// timeouts have passed.
        #[test]
        fn nothing_left_behind(ops in proptest::collection::vec(op(), 1..60)) {
            let mut b = Bench::new("jicofo.conference { initial-timeout = 15 seconds, single-participant-timeout = 20 seconds }");
            // Who is in which room, as the MUC sees it.
            let mut present: std::collections::BTreeSet<(u8, u8)> = Default::default();
            for op in ops {
                match op {
                    Op::Request { room: r, user } => {
                        b.request(&format!("q{r}{user}"), &format!("u{user}@meet.jitsi/r"), &room(r));
                    }
                    Op::Join { room: r, user } => {
                        // Only possible while the focus is in the room.
                        if b.conference(&room(r)).is_some_and(|c| c.is_joined()) && present.insert((r, user)) {
                            b.member(&room(r), &format!("nick{user}"), &format!("u{user}@meet.jitsi/r"), "none", "participant");
                        }
                    }
                    Op::Leave { room: r, user } => {
                        if present.remove(&(r, user)) {
                            b.leave(&room(r), &format!("nick{user}"));
                        }
                    }
                    Op::Advance { secs } => b.advance(u64::from(secs)),
                    Op::Reconnect => {
                        b.focus.handle_input(b.now, Input::Disconnected { conn: ConnId::Client, reason: "test".into() }).expect("ok");
                        b.focus.handle_input(b.now, Input::Connected { conn: ConnId::Client, jid: FullJid::new(FOCUS_FULL).expect("valid") }).expect("ok");
                        b.drain();
                        // The MUC drops the old session's occupants.
                        present.clear();
                    }
                }
                auto_muc(&mut b);
                // A room the focus left has no members it tracks.
                present.retain(|(r, _)| b.conference(&room(*r)).is_some());
            }
            for (r, user) in std::mem::take(&mut present) {
                b.leave(&room(r), &format!("nick{user}"));
                auto_muc(&mut b);
            }
            b.advance(60);
            auto_muc(&mut b);
            prop_assert!(b.focus.conferences().is_empty());
            prop_assert_eq!(b.focus.conferences().pending_work(), 0);
        }
    }
}

#[test]
fn presets_rooms_wait_for_metadata_which_then_applies() {
    let mut b = Bench::connected("");
    let sent = b.take_sent();
    let disco = sent
        .iter()
        .find(|s| String::from(*s).contains("disco#info"))
        .expect("component discovery");
    assert_eq!(disco.attr("to"), Some("meet.jitsi"));
    let id = disco.attr("id").expect("id").to_owned();
    b.input(&format!(
        "<iq xmlns='jabber:client' type='result' id='{id}' from='meet.jitsi'>\
           <query xmlns='http://jabber.org/protocol/disco#info'>\
             <identity category='server' type='im' name='Prosody'/>\
             <identity category='component' type='room_metadata' name='metadata.meet.jitsi'/>\
           </query></iq>"
    ));
    b.request("c1", ALICE, ROOM);
    b.complete_join_with(
        ROOM,
        "<field var='muc#roominfo_conference_presets_service_enabled'><value>1</value></field>",
    );
    assert_eq!(
        b.conference(ROOM).map(|c| c.state),
        Some(JoinState::WaitingForMetadata)
    );
    assert!(
        !b.take_sent().iter().any(|s| s.attr("id") == Some("c1")),
        "not answered before the metadata"
    );
    let metadata = |from: &str| {
        format!(
            "<message xmlns='jabber:client' from='{from}' to='{FOCUS_FULL}'>\
               <json-message xmlns='http://jitsi.org/jitmeet' room='{ROOM}'>\
                 {{\"type\":\"room_metadata\",\"metadata\":{{\"recording\":{{\"isTranscribingEnabled\":true}},\"asyncTranscription\":true}}}}\
               </json-message></message>"
        )
    };
    // From anyone but the component: ignored.
    b.input(&metadata("mallory@meet.jitsi/x"));
    assert_eq!(
        b.conference(ROOM).map(|c| c.state),
        Some(JoinState::WaitingForMetadata)
    );
    b.input(&metadata("metadata.meet.jitsi"));
    let sent = b.take_sent();
    let c1 = answer_of(&sent, "c1");
    assert_eq!(c1.attr("type"), Some("result"));
    let conf = b.conference(ROOM).expect("conference");
    assert!(conf.is_joined() && conf.transcription());
    // Transcription: media with a single participant.
    b.member(ROOM, "aaaa1111", ALICE, "none", "participant");
    assert!(b.events().contains(&ConferenceEvent::MediaReady {
        room: BareJid::new(ROOM).expect("valid")
    }));
}

#[test]
fn presets_wait_is_bounded() {
    let mut b = Bench::new("");
    b.request("c1", ALICE, ROOM);
    b.complete_join_with(
        ROOM,
        "<field var='muc#roominfo_conference_presets_service_enabled'><value>true</value></field>",
    );
    b.advance(9);
    assert!(!b.take_sent().iter().any(|s| s.attr("id") == Some("c1")));
    b.advance(2);
    let sent = b.take_sent();
    assert_eq!(answer_of(&sent, "c1").attr("type"), Some("result"));
    assert!(b.conference(ROOM).is_some_and(|c| c.is_joined()));
}
