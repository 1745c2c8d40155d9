//! Conferences end to end, against a real Prosody shaped like
//! docker-jitsi-meet, on both runtimes (each test runs as `tokio::<name>` and
//! `async_std::<name>`). Participants log in anonymously on `meet.jitsi` and
//! talk to the focus as lib-jitsi-meet does (conference-iq.md, muc.md, the
//! stanzas in `captures/`):
//!
//! - the conference request to `focus.meet.jitsi` (the client proxy) is
//!   answered `ready='true'` with `focusjid='focus@auth.meet.jitsi'`, retried
//!   after 1 s, 2 s, … on `ready='false'`;
//! - the room then has a `focus` occupant, owner, whose real JID is the
//!   focus's; the first participant is made owner (auto-owner), a second one
//!   stays participant until the first leaves;
//! - the focus leaves a room nobody joined (initial timeout) and a room
//!   everybody left;
//! - the HTTP variant `POST /conference-request/v1`;
//! - a request without `room` is a `bad-request`.
//!
//! No bridge is configured: none of this needs one (no participant is ever
//! invited to Jingle with fewer than `min-participants`, and the conference
//! request does not wait for a bridge).
//!
//! Skipped (with a message) when Prosody is not installed, unless
//! `FOCUS_E2E_REQUIRED` is set; `scripts/test.sh` sets it. A failure prints
//! the focus's output and the end of Prosody's log.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use focus_tests::e2e::participant::{
    Joined, MACHINE_UID, Occupant, join, leave_all, new_nick, new_room, occupant, parse, property,
    request_conference, stanza_error, unique_digits,
};
use focus_tests::e2e::{
    FocusProcess, Prosody, ProsodyOptions, Runtime, e2e_enabled, focus_binary, free_port,
    http_post_json, jicofo_conf,
};
use focus_tests::xmpp_client::TestClient;

/// Generous for a slow CI machine; the normal case takes a second or two.
const CONNECT: Duration = Duration::from_secs(15);
/// How long a conference request may take in all (with its retries).
const REQUEST: Duration = Duration::from_secs(10);
/// How long an expected stanza may take.
const STANZA: Duration = Duration::from_secs(5);
/// How long "nothing happens" is watched for.
const QUIET: Duration = Duration::from_millis(1500);
/// The focus's timeouts in these tests (jicofo.conference.*).
const INITIAL_TIMEOUT_SECS: u64 = 2;
const SINGLE_PARTICIPANT_TIMEOUT_SECS: u64 = 2;

const READY: &str = "XMPP connection ready";
const NS_FOCUS: &str = "http://jitsi.org/protocol/focus";
const NS_DISCO_INFO: &str = "http://jabber.org/protocol/disco#info";

// ---------------------------------------------------------------------------
// Set-up

/// A Prosody and a focus logged in to it, with short conference timeouts.
struct Deployment {
    // Dropped first: killed (and its output printed when failing) while
    // Prosody still runs.
    focus: FocusProcess,
    prosody: Prosody,
}

fn deploy(rt: Runtime) -> Deployment {
    let prosody = Prosody::start(ProsodyOptions::default());
    let initial = format!("{INITIAL_TIMEOUT_SECS} seconds");
    let single = format!("{SINGLE_PARTICIPANT_TIMEOUT_SECS} seconds");
    let conf = jicofo_conf(
        &prosody,
        free_port(),
        &[
            ("jicofo.conference.initial-timeout", &initial),
            ("jicofo.conference.single-participant-timeout", &single),
        ],
    );
    let env: [(&str, Option<PathBuf>); 1] = [("SSL_CERT_FILE", Some(prosody.ca_cert()))];
    let focus = FocusProcess::spawn(focus_binary(rt), &conf, env);
    assert!(
        focus.wait_for_log(READY, CONNECT),
        "the focus never connected (see its output below)"
    );
    Deployment { focus, prosody }
}

impl Deployment {
    /// A participant logged in anonymously on `meet.jitsi`.
    fn participant(&self) -> TestClient {
        TestClient::login_anonymous(
            self.prosody.xmpp_port(),
            &self.prosody.ca_cert(),
            self.prosody.domain(),
        )
        .unwrap_or_else(|e| panic!("a participant cannot log in anonymously: {e}"))
    }

    /// A fresh room name on `muc.meet.jitsi`, lower case like lib-jitsi-meet's
    /// (`rc` + digits, as in the captures).
    fn new_room(&self) -> String {
        new_room(&self.prosody)
    }

    /// `focus@auth.meet.jitsi`.
    fn focus_jid(&self) -> &str {
        self.prosody.focus_jid()
    }
}

// ---------------------------------------------------------------------------
// The MUC (muc.md)

/// Waits for our own presence in `room` to show owner affiliation.
fn wait_until_owner(client: &mut TestClient, room: &str, nick: &str) -> Occupant {
    let me = format!("{room}/{nick}");
    let presence = client
        .wait_for(STANZA, |el| {
            el.attr("from") == Some(me.as_str())
                && occupant(el, room).is_some_and(|o| o.is_self && o.affiliation == "owner")
        })
        .unwrap_or_else(|e| panic!("{me} was never made owner: {e}"));
    occupant(&presence, room).expect("matched above")
}

/// The focus's occupant, checked: nick `focus`, owner, real JID
/// `focus@auth.meet.jitsi/…`.
fn assert_focus_occupant(d: &Deployment, joined: &Joined) {
    let focus = joined
        .others
        .iter()
        .find(|o| o.nick == "focus")
        .unwrap_or_else(|| panic!("no `focus` occupant in the room: {:?}", joined.others));
    let real = focus.jid.as_deref().unwrap_or_default();
    assert!(
        real.starts_with(&format!("{}/", d.focus_jid())),
        "the focus occupant's real JID is {real:?}: {focus:?}"
    );
    assert_eq!(focus.affiliation, "owner", "{focus:?}");
    assert_eq!(focus.role, "moderator", "{focus:?}");
}

/// The number of occupants of `room` from its disco#info (any user may ask,
/// without joining, so the focus sees nothing); `None` when the room does
/// not exist.
fn room_occupants(client: &mut TestClient, room: &str) -> Option<u32> {
    let id = format!("disco-{}", unique_digits());
    let query = parse(&format!(
        r#"<iq xmlns="jabber:client" type="get" to="{room}" id="{id}"><query xmlns="{NS_DISCO_INFO}"/></iq>"#
    ));
    let answer = client
        .iq(&query, STANZA)
        .unwrap_or_else(|e| panic!("no answer to disco#info on {room}: {e}"));
    if answer.attr("type") == Some("error") {
        let (condition, _) = stanza_error(&answer).unwrap_or_default();
        assert_eq!(
            condition,
            "item-not-found",
            "disco#info on {room}: {}",
            String::from(&answer)
        );
        return None;
    }
    let form = answer
        .get_child("query", NS_DISCO_INFO)
        .and_then(|q| q.get_child("x", "jabber:x:data"))
        .unwrap_or_else(|| {
            panic!(
                "disco#info of {room} without a form: {}",
                String::from(&answer)
            )
        });
    let count = form
        .children()
        .find(|f| f.attr("var") == Some("muc#roominfo_occupants"))
        .and_then(|f| f.get_child("value", "jabber:x:data"))
        .and_then(|v| v.text().parse().ok())
        .unwrap_or_else(|| panic!("no occupant count for {room}: {}", String::from(form)));
    Some(count)
}

/// Waits until `room` no longer exists (the focus, its last occupant, left
/// and Prosody destroyed it), watching it from outside with disco#info
/// every 100 ms; returns when that was seen. Panics after `within`.
///
/// Then checks what a fresh client sees when it joins without a conference
/// request: creating the room is refused (`restrict_room_creation`), or at
/// least there is no `focus` in it.
fn wait_until_the_focus_left(d: &Deployment, room: &str, within: Duration) -> Instant {
    let deadline = Instant::now() + within;
    let mut watcher = d.participant();
    let gone = loop {
        match room_occupants(&mut watcher, room) {
            None => break Instant::now(),
            Some(n) => assert!(
                Instant::now() < deadline,
                "{room} still exists with {n} occupant(s) {within:?} later: the focus did not leave"
            ),
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    match join(&mut watcher, room, &new_nick()) {
        Err(error) => {
            let (condition, _) = stanza_error(&error).unwrap_or_default();
            assert_eq!(
                condition,
                "not-allowed",
                "joining the abandoned room failed otherwise: {}",
                String::from(&error)
            );
        }
        Ok(joined) => assert!(
            joined.others.iter().all(|o| o.nick != "focus"),
            "the focus is back in {room}: {:?}",
            joined.others
        ),
    }
    watcher.close();
    gone
}

// ---------------------------------------------------------------------------
// The tests

/// (1) The conference request is answered `ready='true'` with the focus's
/// bare JID, through the client proxy.
fn conference_request_is_answered_ready(rt: Runtime) {
    if !e2e_enabled() {
        return;
    }
    let d = deploy(rt);
    let mut client = d.participant();
    let room = d.new_room();
    let conference = request_conference(&d.prosody, &mut client, &room);
    assert_eq!(
        property(&conference, "authentication"),
        Some("false"),
        "{}",
        String::from(&conference)
    );
    assert_eq!(property(&conference, "externalAuth"), None);
    assert_eq!(conference.attr("session-id"), None);
    assert_eq!(conference.attr("vnode"), None);
    // Asking again for the same, now existing, room is ready at once.
    let again = request_conference(&d.prosody, &mut client, &room);
    assert_eq!(again.attr("ready"), Some("true"));
    client.close();
}

/// (2) After `ready='true'` the room has the focus as owner, under the nick
/// `focus` with its real JID.
fn focus_is_an_owner_occupant_of_the_room(rt: Runtime) {
    if !e2e_enabled() {
        return;
    }
    let d = deploy(rt);
    let mut client = d.participant();
    let room = d.new_room();
    request_conference(&d.prosody, &mut client, &room);
    let nick = new_nick();
    let joined = join(&mut client, &room, &nick).unwrap_or_else(|e| {
        panic!(
            "cannot join {room} after ready='true': {}",
            String::from(&e)
        )
    });
    assert_focus_occupant(&d, &joined);
    // Our own presence shows our real JID (the room is non-anonymous).
    assert_eq!(
        joined.me.jid.as_deref(),
        Some(client.jid()),
        "{:?}",
        joined.me
    );
    client.close();
}

/// (3) Auto-owner (the default): the first participant is made owner.
fn first_participant_is_made_owner(rt: Runtime) {
    if !e2e_enabled() {
        return;
    }
    let d = deploy(rt);
    let mut client = d.participant();
    let room = d.new_room();
    request_conference(&d.prosody, &mut client, &room);
    let nick = new_nick();
    let joined = join(&mut client, &room, &nick).expect("join");
    let me = if joined.me.affiliation == "owner" {
        joined.me
    } else {
        wait_until_owner(&mut client, &room, &nick)
    };
    assert_eq!(
        (me.affiliation.as_str(), me.role.as_str()),
        ("owner", "moderator"),
        "{me:?}"
    );
    client.close();
}

/// (4) A second participant stays participant while the first (owner) is
/// there, and is made owner when the first leaves.
fn second_participant_is_made_owner_when_the_first_leaves(rt: Runtime) {
    if !e2e_enabled() {
        return;
    }
    let d = deploy(rt);
    let room = d.new_room();

    let mut first = d.participant();
    request_conference(&d.prosody, &mut first, &room);
    let first_nick = new_nick();
    join(&mut first, &room, &first_nick).expect("first join");
    wait_until_owner(&mut first, &room, &first_nick);

    let mut second = d.participant();
    request_conference(&d.prosody, &mut second, &room);
    let second_nick = new_nick();
    let joined = join(&mut second, &room, &second_nick).expect("second join");
    assert_focus_occupant(&d, &joined);
    assert!(
        joined
            .others
            .iter()
            .any(|o| o.nick == first_nick && o.affiliation == "owner"),
        "the first participant is not shown as owner: {:?}",
        joined.others
    );
    assert_ne!(joined.me.affiliation, "owner", "{:?}", joined.me);
    assert_eq!(joined.me.role, "participant", "{:?}", joined.me);
    let me = format!("{room}/{second_nick}");
    let promoted: Vec<Occupant> = second
        .collect_for(QUIET, |el| el.attr("from") == Some(me.as_str()))
        .iter()
        .filter_map(|p| occupant(p, &room))
        .filter(|o| o.affiliation == "owner" || o.role == "moderator")
        .collect();
    assert!(
        promoted.is_empty(),
        "the second participant was promoted while the first owner is there: {promoted:?}"
    );

    leave_all(&mut first).expect("send unavailable presence");
    let left = format!("{room}/{first_nick}");
    second
        .wait_for(STANZA, |el| {
            el.attr("from") == Some(left.as_str()) && el.attr("type") == Some("unavailable")
        })
        .expect("the second participant sees the first leave");
    let me = wait_until_owner(&mut second, &room, &second_nick);
    assert_eq!(me.role, "moderator", "{me:?}");
    first.close();
    second.close();
}

/// (5a) Everybody leaves: the focus leaves the room too (Jicofo does at once
/// when the MUC has no members left; at the latest after the
/// single-participant and initial timeouts).
fn focus_leaves_when_everybody_left(rt: Runtime) {
    if !e2e_enabled() {
        return;
    }
    let d = deploy(rt);
    let room = d.new_room();
    let mut a = d.participant();
    let mut b = d.participant();
    request_conference(&d.prosody, &mut a, &room);
    let joined = join(&mut a, &room, &new_nick()).expect("join");
    assert_focus_occupant(&d, &joined);
    request_conference(&d.prosody, &mut b, &room);
    join(&mut b, &room, &new_nick()).expect("join");
    assert_eq!(room_occupants(&mut a, &room), Some(3), "focus, a and b");
    leave_all(&mut a).expect("send unavailable presence");
    // Leaving is a presence: make sure Prosody has it before b's.
    assert_eq!(room_occupants(&mut a, &room), Some(2), "focus and b");
    leave_all(&mut b).expect("send unavailable presence");
    let left = Instant::now();
    let within = Duration::from_secs(INITIAL_TIMEOUT_SECS + SINGLE_PARTICIPANT_TIMEOUT_SECS + 3);
    let gone = wait_until_the_focus_left(&d, &room, within);
    eprintln!(
        "the focus left {:?} after the last participant",
        gone - left
    );
    a.close();
    b.close();
}

/// (5b) Nobody joins after the conference request: the focus stays for the
/// initial timeout, then leaves.
fn focus_leaves_an_unused_room_after_the_initial_timeout(rt: Runtime) {
    if !e2e_enabled() {
        return;
    }
    let d = deploy(rt);
    let room = d.new_room();
    let mut client = d.participant();
    request_conference(&d.prosody, &mut client, &room);
    let answered = Instant::now();
    assert_eq!(
        room_occupants(&mut client, &room),
        Some(1),
        "the focus is in the room once the answer is ready"
    );
    client.close();
    let initial = Duration::from_secs(INITIAL_TIMEOUT_SECS);
    let gone = wait_until_the_focus_left(&d, &room, initial + Duration::from_secs(3));
    let after = gone - answered;
    // The timer starts when the conference is created, a little before the
    // answer; allow for that.
    assert!(
        after + Duration::from_millis(500) >= initial,
        "the focus left after {after:?}, before the initial timeout ({initial:?})"
    );
}

/// (6) `POST /conference-request/v1`: 200 with `ready` and `focusJid`; the
/// focus is then in the room. A bad room is a 400.
fn rest_conference_request(rt: Runtime) {
    if !e2e_enabled() {
        return;
    }
    let d = deploy(rt);
    let port = d.focus.rest_port();
    let room = d.new_room();
    let body = format!(
        r#"{{"room":"{room}","machineUid":"{MACHINE_UID}","properties":{{"rtcstatsEnabled":false,"visitors-version":1}}}}"#
    );
    let deadline = Instant::now() + REQUEST;
    let mut backoff = Duration::from_secs(1);
    let answer = loop {
        let response = http_post_json(port, "/conference-request/v1", &body, REQUEST)
            .unwrap_or_else(|e| panic!("POST /conference-request/v1: {e}"));
        assert_eq!(response.status, 200, "{response:?}");
        assert!(
            response
                .header("content-type")
                .is_some_and(|t| t.starts_with("application/json")),
            "{response:?}"
        );
        let json: serde_json::Value = serde_json::from_str(&response.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", response.body));
        if json["ready"] == serde_json::json!(true) {
            break json;
        }
        assert_eq!(json["ready"], serde_json::json!(false), "{json}");
        assert!(
            Instant::now() + backoff < deadline,
            "never ready over HTTP: {json}"
        );
        std::thread::sleep(backoff);
        backoff *= 2;
    };
    assert_eq!(
        answer["focusJid"],
        serde_json::json!(d.focus_jid()),
        "{answer}"
    );
    assert_eq!(answer["room"], serde_json::json!(room), "{answer}");
    assert_eq!(
        answer["properties"]["authentication"],
        serde_json::json!("false"),
        "{answer}"
    );

    // The conference exists: a participant can join and finds the focus.
    let mut client = d.participant();
    let joined = join(&mut client, &room, &new_nick()).unwrap_or_else(|e| {
        panic!(
            "cannot join {room} after the HTTP request: {}",
            String::from(&e)
        )
    });
    assert_focus_occupant(&d, &joined);
    client.close();

    for bad in [
        r#"{"room":"no-at-sign"}"#.to_owned(),
        r#"{"room":"a@b@muc.meet.jitsi"}"#.to_owned(),
        "{not json".to_owned(),
    ] {
        let response = http_post_json(port, "/conference-request/v1", &bad, REQUEST)
            .unwrap_or_else(|e| panic!("POST {bad}: {e}"));
        assert_eq!(response.status, 400, "{bad}: {response:?}");
        assert!(
            response.body.starts_with("Bad request"),
            "{bad}: {response:?}"
        );
    }
}

/// (7) A conference request without `room` is a `bad-request`.
fn conference_request_without_room_is_a_bad_request(rt: Runtime) {
    if !e2e_enabled() {
        return;
    }
    let d = deploy(rt);
    let mut client = d.participant();
    let request = parse(&format!(
        r#"<iq xmlns="jabber:client" to="{}" type="set" id="no-room-1:sendIQ">
  <conference xmlns="{NS_FOCUS}" machine-uid="{MACHINE_UID}">
    <property name="visitors-version" value="1"/>
  </conference>
</iq>"#,
        d.prosody.focus_domain()
    ));
    let deadline = Instant::now() + REQUEST;
    let answer = loop {
        let answer = client.iq(&request, REQUEST).expect("an answer");
        let (_, text) = stanza_error(&answer).unwrap_or_default();
        if text == "The focus is not connected" && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
            continue;
        }
        break answer;
    };
    assert_eq!(
        answer.attr("type"),
        Some("error"),
        "{}",
        String::from(&answer)
    );
    let (condition, text) = stanza_error(&answer).expect("an error element");
    assert_eq!(condition, "bad-request", "{}", String::from(&answer));
    assert_eq!(text, "No 'room' specified.", "{}", String::from(&answer));
    let error = answer
        .get_child("error", "jabber:client")
        .expect("checked above");
    assert_eq!(
        error.attr("type"),
        Some("modify"),
        "{}",
        String::from(&answer)
    );
    client.close();
}

// Each test once per runtime: `tokio::<name>` and `async_std::<name>`.
focus_tests::on_both_runtimes!(
    conference_request_is_answered_ready,
    focus_is_an_owner_occupant_of_the_room,
    first_participant_is_made_owner,
    second_participant_is_made_owner_when_the_first_leaves,
    focus_leaves_when_everybody_left,
    focus_leaves_an_unused_room_after_the_initial_timeout,
    rest_conference_request,
    conference_request_without_room_is_a_bad_request,
);
