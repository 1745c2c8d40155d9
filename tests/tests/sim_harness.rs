//! The simulation harness itself: the simulated Prosody (routing, `from`
//! stamping, `client_proxy`, MUC), the simulated lib-jitsi-meet
//! participants, faults, determinism and speed. These tests drive the MUC
//! and the participants with raw sessions playing the focus, so they hold
//! whatever the real focus does with conferences.

use std::time::Duration;

use focus_proto::http::{HttpRequest, Method};
use focus_proto::{ConnId, Event};
use focus_tests::sim::{
    Faults, LeftReason, LinkFaults, MucOptions, NS_DATA, NS_DISCO_INFO, NS_FOCUS, NS_MUC_OWNER,
    NS_MUC_USER, ParticipantSpec, Phase, Role, SessionId, Sim, TraceKind, Whois, error_condition,
    error_text, to_xml, xml,
};
use minidom::Element;

const ROOM: &str = "room1@muc.meet.jitsi";
const FOCUS: &str = "focus@auth.meet.jitsi/focus";

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A simulation without the real focus, for tests that play every role.
fn raw_sim() -> Sim {
    Sim::builder().seed(1).without_focus().build()
}

fn received(sim: &mut Sim, s: SessionId) -> Vec<Element> {
    sim.take_inbox(s).into_iter().map(|r| r.stanza).collect()
}

fn status_codes(p: &Element) -> Vec<u16> {
    p.get_child("x", NS_MUC_USER)
        .map(|x| {
            x.children()
                .filter(|c| c.name() == "status")
                .filter_map(|c| c.attr("code")?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

fn item(p: &Element) -> Element {
    p.get_child("x", NS_MUC_USER)
        .and_then(|x| x.get_child("item", NS_MUC_USER))
        .cloned()
        .unwrap_or_else(|| panic!("no muc#user item in {}", to_xml(p)))
}

fn join(sim: &mut Sim, s: SessionId, occupant: &str) {
    sim.raw_send_xml(
        s,
        &format!(
            "<presence to='{occupant}'><x xmlns='http://jabber.org/protocol/muc'/>\
             <stats-id>Test-abc</stats-id></presence>"
        ),
    );
    sim.run_for(ms(10));
}

fn presences_from<'a>(stanzas: &'a [Element], from: &str) -> Vec<&'a Element> {
    stanzas
        .iter()
        .filter(|s| s.name() == "presence" && s.attr("from") == Some(from))
        .collect()
}

/// A raw session playing the focus account, available for the proxy.
struct FakeFocus {
    session: SessionId,
}

impl FakeFocus {
    fn connect(sim: &mut Sim) -> Self {
        let session = sim.connect_raw(FOCUS);
        sim.raw_send_xml(session, "<presence/>");
        sim.run_for(ms(5));
        Self { session }
    }

    /// Runs until conference requests arrive; returns them (and drops the
    /// rest of the inbox).
    fn wait_requests(&self, sim: &mut Sim, limit: Duration) -> Vec<Element> {
        let s = self.session;
        sim.run_until(|sim| !sim.inbox(s).is_empty(), limit);
        received(sim, s)
            .into_iter()
            .filter(|st| st.name() == "iq" && st.has_child("conference", NS_FOCUS))
            .collect()
    }

    fn answer(&self, sim: &mut Sim, req: &Element, ready: bool, extra: &str) {
        let conf = req.get_child("conference", NS_FOCUS).expect("conference");
        let room = conf.attr("room").unwrap_or_default();
        sim.raw_send_xml(
            self.session,
            &format!(
                "<iq type='result' to='{}' id='{}'>\
                 <conference xmlns='http://jitsi.org/protocol/focus' room='{room}' \
                 focusjid='focus@auth.meet.jitsi' ready='{ready}'>\
                 <property name='authentication' value='false'/>{extra}</conference></iq>",
                req.attr("from").unwrap_or_default(),
                req.attr("id").unwrap_or_default()
            ),
        );
    }

    fn answer_error(&self, sim: &mut Sim, req: &Element, error: &str) {
        sim.raw_send_xml(
            self.session,
            &format!(
                "<iq type='error' to='{}' id='{}'>{error}</iq>",
                req.attr("from").unwrap_or_default(),
                req.attr("id").unwrap_or_default()
            ),
        );
    }

    fn create_room(&self, sim: &mut Sim, room: &str) {
        join(sim, self.session, &format!("{room}/focus"));
        sim.take_inbox(self.session);
    }
}

// ----- the server ----------------------------------------------------------

#[test]
fn server_stamps_from_and_routes_by_jid() {
    let mut sim = raw_sim();
    let alice = sim.connect_raw("alice@meet.jitsi/a");
    let bob = sim.connect_raw("bob@meet.jitsi/b");
    // A forged `from` is overwritten with the session's full JID.
    sim.raw_send_xml(
        alice,
        "<message to='bob@meet.jitsi/b' from='mallory@evil.example/x' type='chat'><body>hi</body></message>",
    );
    sim.raw_send_xml(
        alice,
        "<iq type='get' id='q1' to='bob@meet.jitsi/b'><query xmlns='urn:example'/></iq>",
    );
    sim.run_for(ms(10));
    let got = received(&mut sim, bob);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].attr("from"), Some("alice@meet.jitsi/a"));
    assert_eq!(got[1].attr("from"), Some("alice@meet.jitsi/a"));
    assert_eq!(got[1].attr("id"), Some("q1"));
    // The answer goes back by JID.
    sim.raw_send_xml(bob, "<iq type='result' id='q1' to='alice@meet.jitsi/a'/>");
    sim.run_for(ms(10));
    let got = received(&mut sim, alice);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].attr("type"), Some("result"));
    assert_eq!(got[0].attr("from"), Some("bob@meet.jitsi/b"));

    // An IQ to a full JID nobody holds: service-unavailable, like mod_iq.
    sim.raw_send_xml(
        alice,
        "<iq type='set' id='q2' to='carol@meet.jitsi/c'><x xmlns='urn:example'/></iq>",
    );
    // Remote domains are not reachable (s2s off).
    sim.raw_send_xml(
        alice,
        "<iq type='get' id='q3' to='someone@remote.example/r'><x xmlns='urn:example'/></iq>",
    );
    // The server answers ping and disco#info itself.
    sim.raw_send_xml(
        alice,
        "<iq type='get' id='q4' to='meet.jitsi'><ping xmlns='urn:xmpp:ping'/></iq>",
    );
    sim.raw_send_xml(
        alice,
        "<iq type='get' id='q5' to='meet.jitsi'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>",
    );
    // c2s validation: an IQ without id.
    sim.raw_send_xml(
        alice,
        "<iq type='get' to='meet.jitsi'><ping xmlns='urn:xmpp:ping'/></iq>",
    );
    sim.raw_send_xml(
        alice,
        "<iq type='get' id='q7' to='meet.jitsi'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>",
    );
    sim.run_for(ms(10));
    let got = received(&mut sim, alice);
    let by_id = |id: Option<&str>| {
        got.iter()
            .find(|s| s.attr("id") == id)
            .unwrap_or_else(|| panic!("no answer {id:?} in {got:?}"))
            .clone()
    };
    let q2 = by_id(Some("q2"));
    assert_eq!(q2.attr("type"), Some("error"));
    assert_eq!(q2.attr("from"), Some("carol@meet.jitsi/c"));
    assert_eq!(error_condition(&q2).as_deref(), Some("service-unavailable"));
    let q3 = by_id(Some("q3"));
    assert_eq!(error_condition(&q3).as_deref(), Some("not-allowed"));
    assert_eq!(
        error_text(&q3).as_deref(),
        Some("Communication with remote domains is not enabled")
    );
    let q4 = by_id(Some("q4"));
    assert_eq!(q4.attr("type"), Some("result"));
    assert_eq!(q4.attr("from"), Some("meet.jitsi"));
    let q5 = by_id(Some("q5"));
    let identity = q5
        .get_child("query", NS_DISCO_INFO)
        .and_then(|q| q.get_child("identity", NS_DISCO_INFO))
        .expect("identity");
    assert_eq!(identity.attr("category"), Some("server"));
    let no_id = by_id(None);
    assert_eq!(error_condition(&no_id).as_deref(), Some("bad-request"));
    let items = by_id(Some("q7"));
    let listed: Vec<&str> = items
        .children()
        .flat_map(|q| q.children())
        .filter_map(|i| i.attr("jid"))
        .collect();
    assert!(listed.contains(&"focus.meet.jitsi"), "{listed:?}");
    assert!(listed.contains(&"muc.meet.jitsi"), "{listed:?}");

    // Anything but iq/message/presence closes the stream.
    sim.raw_send_xml(alice, "<foo/>");
    sim.run_for(ms(10));
    assert!(!sim.server().session(alice).unwrap().is_open());
}

#[test]
fn client_proxy_forwards_to_the_real_focus_and_back() {
    let mut sim = Sim::builder().seed(3).build();
    assert!(
        sim.run_until_idle_or(secs(1)),
        "the focus connects and settles"
    );
    assert!(sim.focus().is_connected(&ConnId::Client));
    assert!(sim.events().iter().any(|(_, e)| matches!(
        e,
        Event::ConnectionUp {
            conn: ConnId::Client
        }
    )));
    let focus_session = sim.server().session_by_jid(FOCUS).expect("focus session");
    assert!(
        focus_session.is_available(),
        "the focus sent initial presence"
    );

    let guest = sim.connect_raw("guest@meet.jitsi/web1");
    sim.raw_send_xml(
        guest,
        "<iq type='set' id='u1' to='focus.meet.jitsi'><unknown xmlns='urn:example:nothing'/></iq>",
    );
    sim.run_for(ms(50));
    // The focus got it from the proxy's address carrying the real sender.
    let to_focus = sim.trace().received_by(FOCUS).join("\n");
    assert!(
        to_focus.contains("from='focus.meet.jitsi/guest@meet.jitsi/web1'")
            && to_focus.contains("id='u1'"),
        "{to_focus}"
    );
    // Its answer went to that address, and the proxy returned it.
    let from_focus = sim.trace().sent_by(FOCUS).join("\n");
    assert!(
        from_focus.contains("to='focus.meet.jitsi/guest@meet.jitsi/web1'"),
        "{from_focus}"
    );
    let got = received(&mut sim, guest);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].attr("from"), Some("focus.meet.jitsi"));
    assert_eq!(got[0].attr("id"), Some("u1"));
    assert_eq!(got[0].attr("type"), Some("error"));
    // The focus's own error, not the proxy's "not connected".
    assert_ne!(
        error_text(&got[0]).as_deref(),
        Some("The focus is not connected")
    );
    assert_eq!(
        error_condition(&got[0]).as_deref(),
        Some("service-unavailable")
    );

    // Connected, but no bridge brewery: Jicofo's health verdict.
    let health = sim.http(HttpRequest::new(Method::Get, "/about/health"));
    assert_eq!(
        (
            health.status,
            String::from_utf8_lossy(&health.body).as_ref()
        ),
        (
            500,
            "No operational bridges available (total bridge count: 0)"
        ),
    );
    sim.assert_no_errors();
}

#[test]
fn client_proxy_rules_without_a_focus() {
    let mut sim = raw_sim();
    let guest = sim.connect_raw("guest@meet.jitsi/web1");
    let ping = "<iq type='get' id='p1' to='focus.meet.jitsi'><ping xmlns='urn:xmpp:ping'/></iq>";
    sim.raw_send_xml(guest, ping);
    sim.run_for(ms(10));
    let got = received(&mut sim, guest);
    assert_eq!(
        error_condition(&got[0]).as_deref(),
        Some("service-unavailable")
    );
    assert_eq!(
        error_text(&got[0]).as_deref(),
        Some("The focus is not connected")
    );
    assert_eq!(got[0].attr("from"), Some("focus.meet.jitsi"));

    // A focus session that is not available yet does not count.
    let focus = sim.connect_raw("focus@auth.meet.jitsi/fake");
    sim.raw_send_xml(guest, ping);
    sim.run_for(ms(10));
    assert_eq!(
        error_text(&received(&mut sim, guest)[0]).as_deref(),
        Some("The focus is not connected")
    );
    sim.raw_send_xml(focus, "<presence/>");
    sim.raw_send_xml(guest, ping);
    sim.run_for(ms(10));
    let got = received(&mut sim, focus);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        got[0].attr("from"),
        Some("focus.meet.jitsi/guest@meet.jitsi/web1")
    );
    assert_eq!(got[0].attr("to"), Some("focus@auth.meet.jitsi/fake"));
    assert_eq!(got[0].attr("id"), Some("p1"));

    // Only the target may answer through the proxy.
    let other = sim.connect_raw("other@meet.jitsi/x");
    sim.raw_send_xml(
        other,
        "<iq type='result' id='p1' to='focus.meet.jitsi/guest@meet.jitsi/web1'/>",
    );
    sim.run_for(ms(10));
    assert!(received(&mut sim, guest).is_empty());
    sim.raw_send_xml(
        focus,
        "<iq type='result' id='p1' to='focus.meet.jitsi/guest@meet.jitsi/web1'/>",
    );
    sim.run_for(ms(10));
    let got = received(&mut sim, guest);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].attr("from"), Some("focus.meet.jitsi"));
    assert_eq!(got[0].attr("to"), Some("guest@meet.jitsi/web1"));
    assert_eq!(got[0].attr("type"), Some("result"));

    // Requests from the target through the proxy are not supported.
    sim.raw_send_xml(
        focus,
        "<iq type='get' id='r1' to='focus.meet.jitsi/guest@meet.jitsi/web1'><ping xmlns='urn:xmpp:ping'/></iq>",
    );
    sim.run_for(ms(10));
    let got = received(&mut sim, focus);
    assert_eq!(
        error_condition(&got[0]).as_deref(),
        Some("feature-not-implemented")
    );
}

// ----- the MUC --------------------------------------------------------------

#[test]
fn muc_only_admins_create_rooms() {
    let mut sim = raw_sim();
    let guest = sim.connect_raw("guest@meet.jitsi/a");
    join(&mut sim, guest, &format!("{ROOM}/guest"));
    let got = received(&mut sim, guest);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].attr("type"), Some("error"));
    assert_eq!(got[0].attr("from"), Some("room1@muc.meet.jitsi/guest"));
    assert_eq!(error_condition(&got[0]).as_deref(), Some("not-allowed"));
    assert_eq!(
        error_text(&got[0]).as_deref(),
        Some("Room creation is restricted")
    );
    assert_eq!(
        got[0]
            .get_child("error", "jabber:client")
            .unwrap()
            .attr("type"),
        Some("cancel")
    );
    assert!(sim.room(ROOM).is_none());

    let admin = sim.connect_raw(FOCUS);
    join(&mut sim, admin, &format!("{ROOM}/focus"));
    let got = received(&mut sim, admin);
    assert_eq!(got.len(), 1, "{got:?}");
    let own = &got[0];
    assert_eq!(own.attr("from"), Some("room1@muc.meet.jitsi/focus"));
    assert_eq!(status_codes(own), vec![201, 100, 110]);
    let it = item(own);
    assert_eq!(it.attr("affiliation"), Some("owner"));
    assert_eq!(it.attr("role"), Some("moderator"));
    assert_eq!(it.attr("jid"), Some(FOCUS));
    // The MUC `x` is stripped, the rest of the presence kept.
    assert!(!own.has_child("x", "http://jabber.org/protocol/muc"));
    assert!(own.has_child("stats-id", "jabber:client"));
    let room = sim.room(ROOM).expect("room created");
    let occ = room.occupant("focus").expect("focus occupant");
    assert_eq!(occ.affiliation, "owner");
    assert_eq!(occ.role, Role::Moderator);
    assert_eq!(room.meeting_id().len(), 36);
}

#[test]
fn muc_joins_updates_conflicts_and_leaves() {
    let mut sim = raw_sim();
    let admin = sim.connect_raw(FOCUS);
    join(&mut sim, admin, &format!("{ROOM}/focus"));
    received(&mut sim, admin);

    let alice = sim.connect_raw("alice@meet.jitsi/a");
    join(&mut sim, alice, &format!("{ROOM}/alice"));
    let got = received(&mut sim, alice);
    assert_eq!(got.len(), 2, "{got:?}");
    // Existing occupants first, then the self-presence.
    assert_eq!(got[0].attr("from"), Some("room1@muc.meet.jitsi/focus"));
    assert_eq!(item(&got[0]).attr("jid"), Some(FOCUS));
    assert_eq!(item(&got[0]).attr("affiliation"), Some("owner"));
    assert!(status_codes(&got[0]).is_empty());
    assert_eq!(got[1].attr("from"), Some("room1@muc.meet.jitsi/alice"));
    assert_eq!(status_codes(&got[1]), vec![100, 110]);
    assert_eq!(item(&got[1]).attr("role"), Some("participant"));
    assert_eq!(item(&got[1]).attr("affiliation"), Some("none"));
    // The others see the new occupant.
    let got = received(&mut sim, admin);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].attr("from"), Some("room1@muc.meet.jitsi/alice"));
    assert_eq!(item(&got[0]).attr("jid"), Some("alice@meet.jitsi/a"));
    assert_eq!(
        got[0]
            .get_child("stats-id", "jabber:client")
            .unwrap()
            .text(),
        "Test-abc"
    );

    // A presence update is broadcast (with 110 for the sender).
    sim.raw_send_xml(
        alice,
        "<presence to='room1@muc.meet.jitsi/alice'><SourceInfo>{\"a-a0\":{\"muted\":false}}</SourceInfo></presence>",
    );
    sim.run_for(ms(10));
    let to_admin = received(&mut sim, admin);
    assert_eq!(to_admin.len(), 1);
    assert!(to_admin[0].has_child("SourceInfo", "jabber:client"));
    assert_eq!(status_codes(&received(&mut sim, alice)[0]), vec![110]);

    // Nickname taken: conflict.
    let bob = sim.connect_raw("bob@meet.jitsi/b");
    join(&mut sim, bob, &format!("{ROOM}/alice"));
    let got = received(&mut sim, bob);
    assert_eq!(error_condition(&got[0]).as_deref(), Some("conflict"));
    // Presence without the MUC x from a non-occupant: item-not-found.
    sim.raw_send_xml(bob, "<presence to='room1@muc.meet.jitsi/bob'/>");
    sim.run_for(ms(10));
    let got = received(&mut sim, bob);
    assert_eq!(error_condition(&got[0]).as_deref(), Some("item-not-found"));
    assert_eq!(sim.room(ROOM).unwrap().len(), 2);

    // Leaving: unavailable broadcast, 110 to the leaver.
    sim.raw_send_xml(
        alice,
        "<presence type='unavailable' to='room1@muc.meet.jitsi/alice'><status>switch_room</status></presence>",
    );
    sim.run_for(ms(10));
    let got = received(&mut sim, admin);
    assert_eq!(got[0].attr("type"), Some("unavailable"));
    assert_eq!(item(&got[0]).attr("role"), Some("none"));
    assert_eq!(
        got[0].get_child("status", "jabber:client").unwrap().text(),
        "switch_room"
    );
    let got = received(&mut sim, alice);
    assert_eq!(status_codes(&got[0]), vec![110]);
    assert!(sim.room(ROOM).unwrap().occupant("alice").is_none());

    // The last occupant leaving (unavailable without `to`) destroys it.
    sim.raw_send_xml(admin, "<presence type='unavailable'/>");
    sim.run_for(ms(10));
    let got = received(&mut sim, admin);
    assert_eq!(got[0].attr("type"), Some("unavailable"));
    assert_eq!(status_codes(&got[0]), vec![110]);
    assert!(sim.room(ROOM).is_none());
}

#[test]
fn muc_owner_form_and_whois() {
    let mut sim = Sim::builder()
        .seed(2)
        .without_focus()
        .muc_domain(
            "muc.meet.jitsi",
            MucOptions {
                public_jids: false,
                ..MucOptions::default()
            },
        )
        .build();
    let admin = sim.connect_raw(FOCUS);
    join(&mut sim, admin, &format!("{ROOM}/focus"));
    assert_eq!(status_codes(&received(&mut sim, admin)[0]), vec![201, 110]);
    let alice = sim.connect_raw("alice@meet.jitsi/a");
    join(&mut sim, alice, &format!("{ROOM}/alice"));
    let got = received(&mut sim, alice);
    // Semi-anonymous: a participant does not see real JIDs…
    assert_eq!(item(&got[0]).attr("jid"), None);
    assert_eq!(status_codes(&got[1]), vec![110]);
    // …a moderator does.
    assert_eq!(
        item(&received(&mut sim, admin)[0]).attr("jid"),
        Some("alice@meet.jitsi/a")
    );

    // Only owners get the form.
    let get_form = "<iq type='get' id='f1' to='room1@muc.meet.jitsi'>\
                    <query xmlns='http://jabber.org/protocol/muc#owner'/></iq>";
    sim.raw_send_xml(alice, get_form);
    sim.raw_send_xml(admin, get_form);
    sim.run_for(ms(10));
    let denied = received(&mut sim, alice);
    assert_eq!(error_condition(&denied[0]).as_deref(), Some("forbidden"));
    let form = received(&mut sim, admin).remove(0);
    assert_eq!(form.attr("type"), Some("result"));
    let x = form
        .get_child("query", NS_MUC_OWNER)
        .and_then(|q| q.get_child("x", NS_DATA))
        .expect("form");
    let value = |var: &str| {
        x.children()
            .find(|f| f.attr("var") == Some(var))
            .and_then(|f| f.get_child("value", NS_DATA))
            .map(|v| v.text())
    };
    assert_eq!(
        value("FORM_TYPE").as_deref(),
        Some("http://jabber.org/protocol/muc#roomconfig")
    );
    assert_eq!(value("muc#roomconfig_whois").as_deref(), Some("moderators"));
    let meeting_id = sim.room(ROOM).unwrap().meeting_id().to_owned();
    assert_eq!(value("muc#roominfo_meetingId"), Some(meeting_id.clone()));
    assert_eq!(value("muc#roominfo_isbreakout"), None);

    // Submitting whois=anyone applies it and announces 172.
    sim.raw_send_xml(
        admin,
        "<iq type='set' id='f2' to='room1@muc.meet.jitsi'>\
         <query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'>\
         <field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>\
         <field var='muc#roomconfig_whois'><value>anyone</value></field></x></query></iq>",
    );
    sim.run_for(ms(10));
    let got = received(&mut sim, admin);
    assert_eq!(got[0].attr("type"), Some("result"));
    assert_eq!(got[0].attr("id"), Some("f2"));
    let announce = received(&mut sim, alice);
    assert_eq!(announce[0].name(), "message");
    assert_eq!(announce[0].attr("type"), Some("groupchat"));
    assert_eq!(status_codes(&announce[0]), vec![172]);
    assert_eq!(sim.room(ROOM).unwrap().whois(), Whois::Anyone);
    // Now a newcomer sees every real JID.
    let bob = sim.connect_raw("bob@meet.jitsi/b");
    join(&mut sim, bob, &format!("{ROOM}/bob"));
    let got = received(&mut sim, bob);
    assert_eq!(item(&got[0]).attr("jid"), Some(FOCUS));
    assert_eq!(item(&got[1]).attr("jid"), Some("alice@meet.jitsi/a"));
    assert_eq!(status_codes(&got[2]), vec![100, 110]);

    // The room's disco#info carries the meeting id.
    sim.raw_send_xml(
        bob,
        "<iq type='get' id='d1' to='room1@muc.meet.jitsi'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>",
    );
    sim.run_for(ms(10));
    let info = to_xml(&received(&mut sim, bob)[0]);
    assert!(info.contains("muc_nonanonymous"), "{info}");
    assert!(info.contains(&meeting_id), "{info}");
}

#[test]
fn muc_breakout_rooms_report_their_main_room() {
    let mut sim = Sim::builder()
        .without_focus()
        .muc_domain("breakout.meet.jitsi", MucOptions::breakout())
        .build();
    assert!(sim.register_breakout_room("b1@breakout.meet.jitsi", ROOM));
    let admin = sim.connect_raw(FOCUS);
    join(&mut sim, admin, "b1@breakout.meet.jitsi/focus");
    received(&mut sim, admin);
    sim.raw_send_xml(
        admin,
        "<iq type='get' id='f1' to='b1@breakout.meet.jitsi'><query xmlns='http://jabber.org/protocol/muc#owner'/></iq>",
    );
    sim.run_for(ms(10));
    let form = to_xml(&received(&mut sim, admin)[0]);
    assert!(
        form.contains("var='muc#roominfo_isbreakout'><value>1</value>"),
        "{form}"
    );
    assert!(form.contains(&format!("<value>{ROOM}</value>")), "{form}");
    let room = sim.room("b1@breakout.meet.jitsi").unwrap();
    assert!(room.is_breakout());
    assert_eq!(room.main_room(), Some(ROOM));
}

#[test]
fn muc_affiliation_grants_and_kicks() {
    let mut sim = raw_sim();
    let admin = sim.connect_raw(FOCUS);
    join(&mut sim, admin, &format!("{ROOM}/focus"));
    let alice = sim.connect_raw("alice@meet.jitsi/a");
    join(&mut sim, alice, &format!("{ROOM}/alice"));
    let bob = sim.connect_raw("bob@meet.jitsi/b");
    join(&mut sim, bob, &format!("{ROOM}/bob"));
    for s in [admin, alice, bob] {
        received(&mut sim, s);
    }
    let grant = |jid: &str| {
        format!(
            "<iq type='set' id='g1' to='room1@muc.meet.jitsi'>\
             <query xmlns='http://jabber.org/protocol/muc#admin'>\
             <item affiliation='owner' jid='{jid}'/></query></iq>"
        )
    };
    // A participant may not grant ownership (Prosody: not-allowed).
    sim.raw_send_xml(bob, &grant("bob@meet.jitsi"));
    sim.run_for(ms(10));
    let got = received(&mut sim, bob);
    let err = got.iter().find(|s| s.name() == "iq").unwrap();
    assert_eq!(error_condition(err).as_deref(), Some("not-allowed"));
    // The owner may.
    sim.raw_send_xml(admin, &grant("alice@meet.jitsi"));
    sim.run_for(ms(10));
    let got = received(&mut sim, admin);
    let result = got.iter().find(|s| s.name() == "iq").unwrap();
    assert_eq!(result.attr("type"), Some("result"));
    let update = presences_from(&got, "room1@muc.meet.jitsi/alice");
    let it = item(update[0]);
    assert_eq!(it.attr("affiliation"), Some("owner"));
    assert_eq!(it.attr("role"), Some("moderator"));
    let actor = it.get_child("actor", NS_MUC_USER).expect("actor");
    assert_eq!(actor.attr("nick"), Some("focus"));
    let own = received(&mut sim, alice);
    assert_eq!(status_codes(own.last().unwrap()), vec![110]);
    assert_eq!(item(own.last().unwrap()).attr("affiliation"), Some("owner"));
    assert_eq!(
        sim.room(ROOM).unwrap().occupant("alice").unwrap().role,
        Role::Moderator
    );
    // Admins stay owners.
    sim.raw_send_xml(
        alice,
        "<iq type='set' id='g2' to='room1@muc.meet.jitsi'><query xmlns='http://jabber.org/protocol/muc#admin'>\
         <item affiliation='member' jid='focus@auth.meet.jitsi'/></query></iq>",
    );
    sim.run_for(ms(10));
    let got = received(&mut sim, alice);
    let err = got.iter().find(|s| s.name() == "iq").unwrap();
    assert_eq!(error_condition(err).as_deref(), Some("not-acceptable"));

    // Kick by the harness: 307 for everyone, 110 for the kicked.
    received(&mut sim, bob);
    received(&mut sim, admin);
    assert!(sim.kick(ROOM, "bob"));
    sim.run_for(ms(10));
    let got = received(&mut sim, bob);
    assert_eq!(got[0].attr("type"), Some("unavailable"));
    assert_eq!(status_codes(&got[0]), vec![307, 110]);
    let got = received(&mut sim, admin);
    assert_eq!(status_codes(&got[0]), vec![307]);
    assert_eq!(item(&got[0]).attr("role"), Some("none"));
    assert!(sim.room(ROOM).unwrap().occupant("bob").is_none());
    assert!(!sim.kick(ROOM, "nobody"));
    // An owner may kick another owner through muc#admin, even the focus
    // (Prosody's may_set_role only refuses a lower affiliation).
    received(&mut sim, admin);
    sim.raw_send_xml(
        alice,
        "<iq type='set' id='k1' to='room1@muc.meet.jitsi'><query xmlns='http://jabber.org/protocol/muc#admin'>\
         <item role='none' nick='focus'><reason>test</reason></item></query></iq>",
    );
    sim.run_for(ms(10));
    let got = received(&mut sim, alice);
    let result = got.iter().find(|s| s.name() == "iq").unwrap();
    assert_eq!(result.attr("type"), Some("result"));
    let got = received(&mut sim, admin);
    assert_eq!(status_codes(&got[0]), vec![307, 110]);
    let it = item(&got[0]);
    assert_eq!(
        it.get_child("actor", NS_MUC_USER).unwrap().attr("nick"),
        Some("alice")
    );
    assert_eq!(it.get_child("reason", NS_MUC_USER).unwrap().text(), "test");
    assert_eq!(sim.room(ROOM).unwrap().len(), 1);
}

#[test]
fn muc_disconnects_destroys_and_iqs_between_occupants() {
    let mut sim = raw_sim();
    let admin = sim.connect_raw(FOCUS);
    join(&mut sim, admin, &format!("{ROOM}/focus"));
    let alice = sim.connect_raw("alice@meet.jitsi/a");
    join(&mut sim, alice, &format!("{ROOM}/alice"));
    for s in [admin, alice] {
        received(&mut sim, s);
    }
    // IQ from one occupant to another: the MUC mangles the id, and the
    // answer finds its way back with the original id.
    sim.raw_send_xml(
        admin,
        "<iq type='set' id='j1' to='room1@muc.meet.jitsi/alice'><jingle xmlns='urn:xmpp:jingle:1' action='session-initiate'/></iq>",
    );
    sim.run_for(ms(10));
    let got = received(&mut sim, alice);
    assert_eq!(got[0].attr("from"), Some("room1@muc.meet.jitsi/focus"));
    assert_eq!(got[0].attr("to"), Some("alice@meet.jitsi/a"));
    let mangled = got[0].attr("id").unwrap().to_owned();
    assert_ne!(mangled, "j1");
    sim.raw_send_xml(
        alice,
        &format!("<iq type='result' id='{mangled}' to='room1@muc.meet.jitsi/focus'/>"),
    );
    sim.run_for(ms(10));
    let got = received(&mut sim, admin);
    assert_eq!(got[0].attr("id"), Some("j1"));
    assert_eq!(got[0].attr("from"), Some("room1@muc.meet.jitsi/alice"));
    assert_eq!(got[0].attr("type"), Some("result"));

    // A dropped connection: the server sends unavailable for it.
    sim.disconnect_session(alice);
    sim.run_for(ms(10));
    let got = received(&mut sim, admin);
    assert_eq!(got[0].attr("type"), Some("unavailable"));
    assert_eq!(got[0].attr("from"), Some("room1@muc.meet.jitsi/alice"));
    assert_eq!(
        got[0].get_child("status", "jabber:client").unwrap().text(),
        "Disconnected: connection closed"
    );
    assert_eq!(sim.room(ROOM).unwrap().len(), 1);

    // Destroy: every occupant gets its own unavailable with <destroy/>.
    let bob = sim.connect_raw("bob@meet.jitsi/b");
    join(&mut sim, bob, &format!("{ROOM}/bob"));
    for s in [admin, bob] {
        received(&mut sim, s);
    }
    assert!(sim.destroy_room(ROOM, Some("bye")));
    sim.run_for(ms(10));
    for s in [admin, bob] {
        let got = received(&mut sim, s);
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].attr("type"), Some("unavailable"));
        assert_eq!(status_codes(&got[0]), vec![110]);
        let x = got[0].get_child("x", NS_MUC_USER).unwrap();
        let destroy = x.get_child("destroy", NS_MUC_USER).expect("destroy");
        assert_eq!(
            destroy.get_child("reason", NS_MUC_USER).unwrap().text(),
            "bye"
        );
    }
    assert!(sim.room(ROOM).is_none());
    // Stanzas to a room that does not exist: item-not-found.
    sim.raw_send_xml(
        bob,
        "<iq type='get' id='x' to='room1@muc.meet.jitsi'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>",
    );
    sim.run_for(ms(10));
    assert_eq!(
        error_condition(&received(&mut sim, bob)[0]).as_deref(),
        Some("item-not-found")
    );
}

// ----- participants ----------------------------------------------------------

#[test]
fn participant_retries_on_ready_false_with_backoff() {
    let mut sim = raw_sim();
    let focus = FakeFocus::connect(&mut sim);
    let a = sim.add_participant(ParticipantSpec::new(ROOM).display_name("Ann"));
    // 1, 2, 4, … 64 s, then capped at 120 s.
    let delays = [1u64, 2, 4, 8, 16, 32, 64, 120, 120];
    for _ in delays {
        let reqs = focus.wait_requests(&mut sim, secs(200));
        assert_eq!(reqs.len(), 1);
        assert_eq!(*sim.participant(a).phase(), Phase::Requesting);
        focus.answer(&mut sim, &reqs[0], false, "");
    }
    let reqs = focus.wait_requests(&mut sim, secs(200));
    assert_eq!(reqs.len(), 1);
    // The request is the capture's, sent through the proxy.
    let req = &reqs[0];
    let jid = sim.participant(a).jid().to_owned();
    assert_eq!(
        req.attr("from"),
        Some(format!("focus.meet.jitsi/{jid}").as_str())
    );
    let conf = req.get_child("conference", NS_FOCUS).unwrap();
    assert_eq!(conf.attr("room"), Some(ROOM));
    let uid = conf.attr("machine-uid").unwrap();
    assert_eq!(uid.len(), 32);
    assert!(uid.bytes().all(|b| b.is_ascii_hexdigit()));
    let props: Vec<(String, String)> = conf
        .children()
        .map(|p| {
            (
                p.attr("name").unwrap().into(),
                p.attr("value").unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        props,
        vec![
            ("rtcstatsEnabled".into(), "false".into()),
            ("visitors-version".into(), "1".into())
        ]
    );
    assert!(req.attr("id").unwrap().ends_with(":sendIQ"));

    let times = sim.participant(a).request_times().to_vec();
    let gaps: Vec<Duration> = times.windows(2).map(|w| w[1] - w[0]).collect();
    // Each retry waits the back-off after the answer, which takes 4 ms
    // (two hops each way at 1 ms).
    let expected: Vec<Duration> = delays.iter().map(|d| secs(*d) + ms(4)).collect();
    assert_eq!(gaps, expected);

    // ready='true': the participant joins with the capture's presence.
    focus.create_room(&mut sim, ROOM);
    focus.answer(&mut sim, req, true, "");
    sim.run_for(ms(50));
    let p = sim.participant(a);
    assert!(p.in_room(), "{:?}", p.phase());
    assert_eq!(p.role(), Some("participant"));
    assert_eq!(p.join_status_codes(), &[100, 110]);
    assert!(p.focus_present(), "{:?}", p.occupants());
    assert!(p.focus_jids().contains("focus@auth.meet.jitsi"));
    assert_eq!(p.nick().len(), 8);
    let meeting = sim.room(ROOM).unwrap().meeting_id().to_owned();
    assert_eq!(sim.participant(a).meeting_id(), Some(meeting.as_str()));
    let join = sim
        .trace()
        .sent_by(&jid)
        .into_iter()
        .find(|x| x.starts_with("<presence"))
        .unwrap()
        .to_owned();
    for part in [
        "<x xmlns='http://jabber.org/protocol/muc'/>",
        "<stats-id>",
        "<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='https://jitsi.org/jitsi-meet'",
        "<SourceInfo>{}</SourceInfo>",
        "<jitsi_participant_codecList>av1,vp9,vp8,h264</jitsi_participant_codecList>",
        "<nick xmlns='http://jabber.org/protocol/nick'>Ann</nick>",
    ] {
        assert!(join.contains(part), "{part} missing in {join}");
    }
    // The fake focus sees the participant join.
    let seen = received(&mut sim, focus.session);
    let nick = sim.participant(a).occupant_jid();
    assert_eq!(presences_from(&seen, &nick).len(), 1);

    // Presence updates go to the room; leaving closes the stream.
    sim.set_source_info(a, "{\"x-a0\":{\"muted\":false}}");
    sim.run_for(ms(10));
    let seen = received(&mut sim, focus.session);
    let update = presences_from(&seen, &nick);
    assert!(to_xml(update[0]).contains("muted"));
    sim.leave(a);
    sim.run_for(ms(10));
    assert_eq!(
        *sim.participant(a).phase(),
        Phase::Left(LeftReason::Voluntary)
    );
    let seen = received(&mut sim, focus.session);
    assert_eq!(
        presences_from(&seen, &nick)[0].attr("type"),
        Some("unavailable")
    );
    let session = sim.participant_session(a);
    assert!(!sim.server().session(session).unwrap().is_open());
}

#[test]
fn participant_answers_errors_and_live_false() {
    let mut sim = raw_sim();
    let focus = FakeFocus::connect(&mut sim);
    let not_live = sim.add_participant(ParticipantSpec::new(ROOM));
    let r = focus.wait_requests(&mut sim, secs(1));
    focus.answer(
        &mut sim,
        &r[0],
        false,
        "<property name='live' value='false'/>",
    );
    let auth = sim.add_participant(ParticipantSpec::new(ROOM));
    let r = focus.wait_requests(&mut sim, secs(1));
    focus.answer_error(
        &mut sim,
        &r[0],
        "<error type='auth'><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>",
    );
    let session = sim.add_participant(ParticipantSpec::new(ROOM).session_id("old-session"));
    let r = focus.wait_requests(&mut sim, secs(1));
    assert_eq!(
        r[0].get_child("conference", NS_FOCUS)
            .unwrap()
            .attr("session-id"),
        Some("old-session")
    );
    focus.answer_error(
        &mut sim,
        &r[0],
        "<error type='modify'><not-acceptable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>\
         <session-invalid xmlns='http://jitsi.org/protocol/focus'/></error>",
    );
    let failed = sim.add_participant(ParticipantSpec::new(ROOM));
    let r = focus.wait_requests(&mut sim, secs(1));
    focus.answer_error(
        &mut sim,
        &r[0],
        "<error type='cancel'><internal-server-error xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>",
    );
    sim.run_for(ms(20));
    assert_eq!(*sim.participant(not_live).phase(), Phase::NotLive);
    assert_eq!(
        *sim.participant(auth).phase(),
        Phase::AuthenticationRequired
    );
    assert_eq!(
        sim.participant(auth).errors()[0].condition,
        "not-authorized"
    );
    assert_eq!(
        *sim.participant(failed).phase(),
        Phase::RequestFailed("internal-server-error".into())
    );
    // An invalid session is forgotten and the request retried after 1 s.
    assert_eq!(*sim.participant(session).phase(), Phase::WaitingToRetry);
    let r = focus.wait_requests(&mut sim, secs(2));
    assert_eq!(r.len(), 1);
    assert_eq!(
        r[0].get_child("conference", NS_FOCUS)
            .unwrap()
            .attr("session-id"),
        None
    );
    // Nobody else retried.
    sim.run_for(secs(300));
    assert_eq!(sim.participant(not_live).request_times().len(), 1);
    assert_eq!(sim.participant(auth).request_times().len(), 1);
    // Joining a room nobody created: refused by restrict_room_creation.
    let joiner = sim.add_participant(ParticipantSpec::new("other@muc.meet.jitsi"));
    let r = focus.wait_requests(&mut sim, secs(1));
    focus.answer(&mut sim, &r[0], true, "");
    sim.run_for(ms(20));
    assert_eq!(
        *sim.participant(joiner).phase(),
        Phase::JoinFailed("not-allowed".into())
    );
}

#[test]
fn participant_answers_ping_disco_and_acks_sets() {
    let mut sim = raw_sim();
    let focus = FakeFocus::connect(&mut sim);
    let a = sim.add_participant(ParticipantSpec::new(ROOM));
    let r = focus.wait_requests(&mut sim, secs(1));
    focus.create_room(&mut sim, ROOM);
    focus.answer(&mut sim, &r[0], true, "");
    sim.run_for(ms(20));
    assert!(sim.participant(a).in_room());
    received(&mut sim, focus.session);
    let occupant = sim.participant(a).occupant_jid();
    let jid = sim.participant(a).jid().to_owned();
    sim.raw_send_xml(
        focus.session,
        &format!("<iq type='get' id='p1' to='{jid}'><ping xmlns='urn:xmpp:ping'/></iq>"),
    );
    sim.raw_send_xml(
        focus.session,
        &format!(
            "<iq type='get' id='d1' to='{occupant}'><query xmlns='http://jabber.org/protocol/disco#info' node='n#v'/></iq>"
        ),
    );
    sim.raw_send_xml(
        focus.session,
        &format!(
            "<iq type='set' id='s1' to='{occupant}'><jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' sid='x'/></iq>"
        ),
    );
    sim.run_for(ms(20));
    let got = received(&mut sim, focus.session);
    let ping = got.iter().find(|s| s.attr("id") == Some("p1")).unwrap();
    assert_eq!(ping.attr("type"), Some("result"));
    let disco = got.iter().find(|s| s.attr("id") == Some("d1")).unwrap();
    assert_eq!(disco.attr("from"), Some(occupant.as_str()));
    let q = disco.get_child("query", NS_DISCO_INFO).unwrap();
    assert_eq!(q.attr("node"), Some("n#v"));
    let features: Vec<&str> = q.children().filter_map(|f| f.attr("var")).collect();
    for f in [
        "urn:xmpp:jingle:apps:rtp:audio",
        "urn:xmpp:jingle:apps:rtp:video",
        "urn:xmpp:jingle:transports:dtls-sctp:1",
        "urn:ietf:rfc:4588",
        "http://jitsi.org/tcc",
        "http://jitsi.org/opus-red",
        "http://jitsi.org/source-name",
        "http://jitsi.org/json-encoded-sources",
    ] {
        assert!(features.contains(&f), "{f} missing");
    }
    let ack = got.iter().find(|s| s.attr("id") == Some("s1")).unwrap();
    assert_eq!(ack.attr("type"), Some("result"));
    assert!(ack.children().next().is_none());
    let iqs = sim.participant(a).received_iqs();
    assert_eq!(iqs.len(), 1);
    assert!(iqs[0].stanza.has_child("jingle", "urn:xmpp:jingle:1"));

    // Kicked and destroyed rooms show in the participant's phase.
    let b = sim.add_participant(ParticipantSpec::new(ROOM));
    let r = focus.wait_requests(&mut sim, secs(1));
    focus.answer(&mut sim, &r[0], true, "");
    sim.run_for(ms(20));
    assert!(sim.participant(b).in_room());
    assert_eq!(sim.participant(a).occupants().len(), 2, "focus and b");
    let nick_b = sim.participant(b).nick().to_owned();
    assert!(sim.kick(ROOM, &nick_b));
    sim.run_for(ms(10));
    assert_eq!(*sim.participant(b).phase(), Phase::Left(LeftReason::Kicked));
    assert!(sim.participant(a).occupant(&nick_b).is_none());
    sim.destroy_room(ROOM, Some("over"));
    sim.run_for(ms(10));
    assert_eq!(
        *sim.participant(a).phase(),
        Phase::Left(LeftReason::Destroyed(Some("over".into())))
    );
}

// ----- the focus's connection ------------------------------------------------

#[test]
fn focus_disconnect_loses_in_flight_stanzas_and_reconnects() {
    let mut sim = Sim::builder().seed(5).build();
    sim.run_for(secs(1));
    let first = sim.focus_session().unwrap();
    let guest = sim.connect_raw("guest@meet.jitsi/g");
    sim.raw_send_xml(
        guest,
        "<iq type='get' id='i1' to='focus.meet.jitsi'><ping xmlns='urn:xmpp:ping'/></iq>",
    );
    // At the server after 1 ms, forwarded; cut before it reaches the focus.
    sim.run_for(ms(1));
    sim.disconnect_focus(Some(secs(2)));
    assert!(!sim.focus().is_connected(&ConnId::Client));
    sim.run_for(ms(10));
    assert!(sim.trace().entries().iter().any(|e| matches!(
        &e.kind,
        TraceKind::Lost { why, xml, .. } if why == "connection closed" && xml.contains("id='i1'")
    )));
    assert!(received(&mut sim, guest).is_empty(), "the request was lost");
    // While the focus is away the proxy says so.
    sim.raw_send_xml(
        guest,
        "<iq type='get' id='i2' to='focus.meet.jitsi'><ping xmlns='urn:xmpp:ping'/></iq>",
    );
    sim.run_for(ms(10));
    assert_eq!(
        error_text(&received(&mut sim, guest)[0]).as_deref(),
        Some("The focus is not connected")
    );
    sim.run_for(secs(3));
    assert!(sim.focus().is_connected(&ConnId::Client));
    let second = sim.focus_session().unwrap();
    assert_ne!(first, second);
    assert!(!sim.server().session(first).unwrap().is_open());
    let downs: Vec<Duration> = sim
        .events()
        .iter()
        .filter(|(_, e)| matches!(e, Event::ConnectionDown { .. }))
        .map(|(t, _)| *t)
        .collect();
    let ups: Vec<Duration> = sim
        .events()
        .iter()
        .filter(|(_, e)| matches!(e, Event::ConnectionUp { .. }))
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(downs.len(), 1);
    assert_eq!(ups.len(), 2);
    assert_eq!(ups[1] - downs[0], secs(2));
    sim.raw_send_xml(
        guest,
        "<iq type='get' id='i3' to='focus.meet.jitsi'><ping xmlns='urn:xmpp:ping'/></iq>",
    );
    sim.run_for(ms(10));
    let got = received(&mut sim, guest);
    assert_eq!(got[0].attr("type"), Some("result"), "{got:?}");
    sim.assert_no_errors();
}

// ----- faults ----------------------------------------------------------------

/// Sends `n` numbered messages from alice to bob and returns the numbers bob
/// got, in arrival order, with the trace's lost and duplicated counts.
fn message_run(seed: u64, faults: Faults, n: usize) -> (Vec<usize>, usize, usize, String) {
    let mut sim = Sim::builder()
        .seed(seed)
        .without_focus()
        .faults(faults)
        .build();
    let alice = sim.connect_raw("alice@meet.jitsi/a");
    let bob = sim.connect_raw("bob@meet.jitsi/b");
    for i in 0..n {
        sim.raw_send_xml(
            alice,
            &format!("<message to='bob@meet.jitsi/b' id='m{i}'><body>{i}</body></message>"),
        );
        sim.run_for(Duration::from_micros(200));
    }
    sim.run_for(secs(5));
    let got = sim
        .inbox(bob)
        .iter()
        .filter_map(|r| r.stanza.attr("id")?.strip_prefix('m')?.parse().ok())
        .collect();
    (
        got,
        sim.trace().lost_count(),
        sim.trace().duplicated_count(),
        sim.trace_text(),
    )
}

#[test]
fn faults_off_by_default_and_clean_links_lose_nothing() {
    assert_eq!(Faults::none(), Faults::default());
    assert!(!Faults::none().link.is_faulty());
    let (got, lost, dup, _) = message_run(1, Faults::none(), 300);
    assert_eq!(got, (0..300).collect::<Vec<_>>());
    assert_eq!((lost, dup), (0, 0));
    // Jitter alone keeps each link in order, like TCP.
    let jitter = Faults::everywhere(LinkFaults::none().jitter(ms(20)));
    let (got, lost, dup, _) = message_run(1, jitter, 300);
    assert_eq!(got, (0..300).collect::<Vec<_>>());
    assert_eq!((lost, dup), (0, 0));
}

#[test]
fn faults_reorder_duplicate_and_drop_when_enabled() {
    let reorder = Faults::everywhere(LinkFaults::none().jitter(ms(20)).reorder(true));
    let (got, lost, dup, _) = message_run(2, reorder, 300);
    assert_eq!(got.len(), 300, "drop=0 loses nothing");
    assert_eq!((lost, dup), (0, 0));
    let mut sorted = got.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..300).collect::<Vec<_>>());
    assert_ne!(got, sorted, "jitter larger than the gaps swaps messages");

    let dups = Faults::everywhere(LinkFaults::none().duplicate(0.2));
    let (got, lost, dup, _) = message_run(3, dups, 300);
    assert_eq!(lost, 0);
    assert!(dup > 0);
    assert_eq!(got.len(), 300 + dup);

    let drops = Faults::everywhere(LinkFaults::none().drop(0.2));
    let (got, lost, dup, _) = message_run(4, drops, 300);
    assert!(lost > 0);
    assert_eq!(dup, 0);
    assert_eq!(got.len(), 300 - lost);
    // A participant's own link overrides the defaults.
    let mut sim = Sim::builder()
        .without_focus()
        .faults(Faults::chaotic(1.0, 0.0, ms(1)))
        .build();
    let focus = sim.connect_raw(FOCUS);
    let a = sim.add_participant(ParticipantSpec::new(ROOM).link(LinkFaults::none()));
    sim.run_for(ms(10));
    assert_eq!(sim.participant(a).request_times().len(), 1);
    assert!(sim.trace().sent_by(sim.participant(a).jid()).len() == 1);
    let _ = focus;
}

// ----- determinism and speed ---------------------------------------------------

fn busy_scenario(seed: u64, faults: Faults) -> String {
    let mut sim = Sim::builder().seed(seed).faults(faults).build();
    sim.run_for(secs(1));
    let fake = sim.connect_raw("admin-helper@meet.jitsi/x");
    let ids: Vec<_> = (0..5)
        .map(|i| {
            sim.add_participant(
                ParticipantSpec::new(format!("room{}@muc.meet.jitsi", i % 2))
                    .start_after(ms(7 * i)),
            )
        })
        .collect();
    sim.run_for(secs(3));
    sim.raw_send_xml(
        fake,
        "<iq type='get' id='h' to='meet.jitsi'><ping xmlns='urn:xmpp:ping'/></iq>",
    );
    sim.leave(ids[0]);
    sim.disconnect(ids[1]);
    sim.disconnect_focus(Some(secs(1)));
    sim.run_for(secs(30));
    sim.trace_text()
}

#[test]
fn same_seed_same_trace_different_seed_different_trace() {
    let faults = Faults::chaotic(0.05, 0.05, ms(15));
    let a = busy_scenario(11, faults.clone());
    let b = busy_scenario(11, faults.clone());
    assert!(a.lines().count() > 20, "{a}");
    assert_eq!(a, b, "same seed and faults give the same trace");
    let c = busy_scenario(12, faults);
    assert_ne!(a, c);
    // Without faults too.
    assert_eq!(
        busy_scenario(11, Faults::none()),
        busy_scenario(11, Faults::none())
    );
}

#[test]
fn a_hundred_participants_join_see_each_other_and_leave() {
    let mut sim = Sim::builder().seed(100).without_focus().build();
    let focus = FakeFocus::connect(&mut sim);
    focus.create_room(&mut sim, ROOM);
    let ids: Vec<_> = (0..100)
        .map(|_| sim.add_participant(ParticipantSpec::new(ROOM)))
        .collect();
    let mut answered = 0;
    while answered < 100 {
        let reqs = focus.wait_requests(&mut sim, secs(5));
        assert!(!reqs.is_empty(), "requests stopped after {answered}");
        for r in &reqs {
            focus.answer(&mut sim, r, true, "");
        }
        answered += reqs.len();
    }
    sim.run_for(secs(1));
    for id in &ids {
        let p = sim.participant(*id);
        assert!(p.in_room(), "{:?}", p.phase());
        assert_eq!(p.occupants().len(), 100, "99 others and the focus");
        assert!(p.focus_present());
    }
    assert_eq!(sim.room(ROOM).unwrap().len(), 101);
    // Everyone leaves; the room goes with the focus.
    for id in &ids {
        sim.leave(*id);
    }
    sim.run_for(secs(1));
    assert_eq!(sim.room(ROOM).unwrap().len(), 1);
    sim.raw_send_xml(focus.session, "<presence type='unavailable'/>");
    sim.run_for(secs(1));
    assert!(sim.room(ROOM).is_none());

    // The same crowd against the real focus runs as fast, whatever the
    // focus answers.
    let mut sim = Sim::builder().seed(101).build();
    sim.run_for(secs(1));
    let ids: Vec<_> = (0..100)
        .map(|_| sim.add_participant(ParticipantSpec::new(ROOM)))
        .collect();
    sim.run_for(secs(60));
    for id in &ids {
        assert!(!sim.participant(*id).request_times().is_empty());
    }
}

#[test]
fn xml_helper_and_serialization_are_stable() {
    let a = xml("<iq type='get' id='1' to='x'><ping xmlns='urn:xmpp:ping'/></iq>");
    let b = xml("<iq to='x' id='1' type='get'><ping xmlns='urn:xmpp:ping'/></iq>");
    assert_eq!(to_xml(&a), to_xml(&b), "attribute order does not matter");
    assert_eq!(
        to_xml(&a),
        "<iq id='1' to='x' type='get'><ping xmlns='urn:xmpp:ping'/></iq>"
    );
}
