//! Real conference participants for end-to-end tests: a lib-jitsi-meet-like
//! client over a [`TestClient`] logged in anonymously to the test
//! [`Prosody`].
//!
//! - the conference request to the focus through the client proxy
//!   ([`request_conference`], conference-iq.md) and the MUC join
//!   ([`join`], muc.md), usable on their own;
//! - [`MediaParticipant`]: both, then a driver thread that answers ping
//!   and disco#info (with lib-jitsi-meet's features,
//!   [`DEFAULT_FEATURES`]), acks every IQ set, and runs a [`JingleClient`]
//!   (the simulation's): it sends the `session-accept` when due, keeps the
//!   remote sources the focus signals, records the answers to what it
//!   sent, and adds or removes a screen share on demand;
//! - [`bridge_status`]: what a `bridge-emulator` says it holds.
//!
//! ```no_run
//! use std::time::Duration;
//! use focus_tests::e2e::*;
//! use focus_tests::sim::MediaSpec;
//!
//! let prosody = Prosody::start(ProsodyOptions::default());
//! // ... a bridge emulator and the focus ...
//! let room = participant::new_room(&prosody);
//! let a = MediaParticipant::join(&prosody, &room, MediaSpec::default());
//! let b = MediaParticipant::join(&prosody, &room, MediaSpec::default());
//! // poll until a.session_accepted() && b.session_accepted() ...
//! let seen = a.view().jingle.remote;
//! assert_eq!(seen.get(b.nick()), Some(&b.view().own.receiver_view()));
//! a.leave();
//! b.leave();
//! ```

use std::collections::BTreeSet;
use std::io;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use focus_proto::rng::FocusRng;
use focus_proto::xml::ncname;
use minidom::Element;

use super::{BridgeEmulatorProcess, Prosody};
use crate::sim::{
    DEFAULT_FEATURES, JingleAnswer, JingleClient, JingleState, MediaSpec, OwnSources,
};
use crate::xmpp_client::TestClient;

/// How long a conference request may take in all (with its retries).
const REQUEST: Duration = Duration::from_secs(10);
/// How long an expected stanza may take.
const STANZA: Duration = Duration::from_secs(5);

const NS_CLIENT: &str = "jabber:client";
const NS_FOCUS: &str = "http://jitsi.org/protocol/focus";
const NS_MUC: &str = "http://jabber.org/protocol/muc";
const NS_MUC_USER: &str = "http://jabber.org/protocol/muc#user";
const NS_STANZAS: &str = "urn:ietf:params:xml:ns:xmpp-stanzas";
const NS_DISCO_INFO: &str = "http://jabber.org/protocol/disco#info";
const NS_PING: &str = "urn:xmpp:ping";
const NS_JINGLE: &str = "urn:xmpp:jingle:1";

/// The machine uid of `captures/conference-request.xml`.
pub const MACHINE_UID: &str = "c0258a0d656048c1aa38c37b37f17d26";

// ---------------------------------------------------------------------------
// Names

/// Digits unique in this process run (pid, nanoseconds, a counter).
pub fn unique_digits() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!("{}{:09}{n}", std::process::id(), nanos)
}

/// An endpoint id / MUC nick: 8 hex digits, as lib-jitsi-meet makes them.
pub fn new_nick() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!("{:08x}", nanos.wrapping_mul(2_654_435_761).wrapping_add(n))
}

/// A fresh room name on `prosody`'s MUC domain, lower case like
/// lib-jitsi-meet's (`rc` + digits, as in the captures).
pub fn new_room(prosody: &Prosody) -> String {
    format!("rc{}@{}", unique_digits(), prosody.muc_domain())
}

/// Parses a stanza written in a test; panics on invalid XML.
pub fn parse(xml: &str) -> Element {
    xml.parse()
        .unwrap_or_else(|e| panic!("invalid XML in the test: {e}: {xml}"))
}

// ---------------------------------------------------------------------------
// The conference request (conference-iq.md)

/// `captures/conference-request.xml` for `room`, with id `id`.
pub fn conference_request(focus_domain: &str, room: &str, id: &str) -> Element {
    parse(&format!(
        r#"<iq xmlns="jabber:client" to="{focus_domain}" type="set" id="{id}">
  <conference xmlns="{NS_FOCUS}" machine-uid="{MACHINE_UID}" room="{room}">
    <property name="rtcstatsEnabled" value="false"/>
    <property name="visitors-version" value="1"/>
  </conference>
</iq>"#
    ))
}

/// The value of the last `<property name=…>` of a `<conference>`.
pub fn property<'a>(conference: &'a Element, name: &str) -> Option<&'a str> {
    conference
        .children()
        .filter(|c| c.is("property", NS_FOCUS) && c.attr("name") == Some(name))
        .last()
        .and_then(|c| c.attr("value"))
}

/// The stanza error condition of an error answer, and its text.
pub fn stanza_error(answer: &Element) -> Option<(String, String)> {
    let error = answer.get_child("error", NS_CLIENT)?;
    let condition = error
        .children()
        .find(|c| c.ns() == NS_STANZAS && c.name() != "text")
        .map(|c| c.name().to_owned())
        .unwrap_or_default();
    let text = error
        .get_child("text", NS_STANZAS)
        .map(|t| t.text())
        .unwrap_or_default();
    Some((condition, text))
}

/// Asks the focus of `prosody` for a conference in `room` as
/// lib-jitsi-meet does (moderator.js): re-sends after 1 s, 2 s, 4 s… while
/// the answer is `ready='false'`; returns the `ready='true'` answer's
/// `<conference>`, checked to come from the client proxy with the focus's
/// JID. Panics on an error answer, on `live='false'` and after 10 s.
pub fn request_conference(prosody: &Prosody, client: &mut TestClient, room: &str) -> Element {
    let deadline = Instant::now() + REQUEST;
    let mut backoff = Duration::from_secs(1);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let id = format!("{}-{attempt}:sendIQ", unique_digits());
        let left = deadline.saturating_duration_since(Instant::now());
        let request = conference_request(prosody.focus_domain(), room, &id);
        let answer = client.iq(&request, left).unwrap_or_else(|e| {
            panic!("conference request {attempt} for {room}: no answer within {REQUEST:?}: {e}")
        });
        if answer.attr("type") == Some("error") {
            let (condition, text) = stanza_error(&answer).unwrap_or_default();
            // Prosody's client proxy before it has seen the focus's presence.
            let proxy_not_ready = text == "The focus is not connected";
            if proxy_not_ready && Instant::now() + Duration::from_millis(200) < deadline {
                std::thread::sleep(Duration::from_millis(200));
                continue;
            }
            panic!(
                "conference request {attempt} for {room} answered with error \
                 {condition:?} {text:?}: {}",
                String::from(&answer)
            );
        }
        assert_eq!(
            answer.attr("from"),
            Some(prosody.focus_domain()),
            "the answer comes back through the client proxy: {}",
            String::from(&answer)
        );
        let conference = answer
            .get_child("conference", NS_FOCUS)
            .unwrap_or_else(|| {
                panic!(
                    "conference request answered without <conference>: {}",
                    String::from(&answer)
                )
            })
            .clone();
        assert_eq!(
            conference.attr("focusjid"),
            Some(prosody.focus_jid()),
            "{}",
            String::from(&conference)
        );
        assert_eq!(
            conference.attr("room"),
            Some(room),
            "{}",
            String::from(&conference)
        );
        match conference.attr("ready") {
            Some("true") => return conference,
            Some("false") => {
                assert_ne!(
                    property(&conference, "live"),
                    Some("false"),
                    "sent to the visitor queue: {}",
                    String::from(&conference)
                );
                assert!(
                    Instant::now() + backoff < deadline,
                    "still not ready after {attempt} requests in {REQUEST:?}: {}",
                    String::from(&conference)
                );
                std::thread::sleep(backoff);
                backoff *= 2;
            }
            other => panic!(
                "ready={other:?} in the answer: {}",
                String::from(&conference)
            ),
        }
    }
}

// ---------------------------------------------------------------------------
// The MUC (muc.md)

/// An occupant as a presence from the room shows it.
#[derive(Debug, Clone)]
pub struct Occupant {
    /// Its nickname.
    pub nick: String,
    /// `owner`, `member`, `none`…
    pub affiliation: String,
    /// `moderator`, `participant`…
    pub role: String,
    /// Its real JID, when shown.
    pub jid: Option<String>,
    /// Status 110: the presence is our own.
    pub is_self: bool,
    /// An unavailable presence.
    pub unavailable: bool,
}

/// The occupant a presence from `room` shows; `None` for anything else.
pub fn occupant(presence: &Element, room: &str) -> Option<Occupant> {
    if presence.name() != "presence" || presence.attr("type") == Some("error") {
        return None;
    }
    let (from_room, nick) = presence.attr("from")?.split_once('/')?;
    if from_room != room {
        return None;
    }
    let x = presence.get_child("x", NS_MUC_USER)?;
    let item = x.get_child("item", NS_MUC_USER)?;
    Some(Occupant {
        nick: nick.to_owned(),
        affiliation: item.attr("affiliation").unwrap_or("none").to_owned(),
        role: item.attr("role").unwrap_or("none").to_owned(),
        jid: item.attr("jid").map(str::to_owned),
        is_self: x
            .children()
            .any(|c| c.is("status", NS_MUC_USER) && c.attr("code") == Some("110")),
        unavailable: presence.attr("type") == Some("unavailable"),
    })
}

/// Whether `el` is a presence from `room` or one of its occupants.
pub fn from_room(el: &Element, room: &str) -> bool {
    el.name() == "presence"
        && el
            .attr("from")
            .is_some_and(|f| f == room || f.starts_with(&format!("{room}/")))
}

/// What joining gave: the occupants already there (their last presence
/// each), and our own presence.
#[derive(Debug, Clone)]
pub struct Joined {
    /// The other occupants.
    pub others: Vec<Occupant>,
    /// Ourselves.
    pub me: Occupant,
}

/// Joins `room` as `nick` with `captures/muc-join-presence.xml` (the variant
/// without `<nick>`); `Err` with the error presence when refused. Panics
/// when nothing answers within 5 s.
pub fn join(client: &mut TestClient, room: &str, nick: &str) -> Result<Joined, Element> {
    let presence = parse(&format!(
        r#"<presence xmlns="jabber:client" to="{room}/{nick}">
  <x xmlns="{NS_MUC}"/>
  <stats-id>Samir-WWm</stats-id>
  <c xmlns="http://jabber.org/protocol/caps" hash="sha-1" node="https://jitsi.org/jitsi-meet" ver="dtzK/3xhISaXUMVg59IpXxdvKyQ="/>
  <SourceInfo>{{}}</SourceInfo>
  <jitsi_participant_codecList>av1,vp9,vp8,h264</jitsi_participant_codecList>
</presence>"#
    ));
    client.send(&presence).expect("send the join presence");
    let me = format!("{room}/{nick}");
    let own = client
        .wait_for(STANZA, |el| {
            el.name() == "presence"
                && el.attr("from") == Some(me.as_str())
                && (el.attr("type") == Some("error")
                    || occupant(el, room).is_some_and(|o| o.is_self))
        })
        .unwrap_or_else(|e| panic!("no answer to the join of {me}: {e}"));
    if own.attr("type") == Some("error") {
        return Err(own);
    }
    let mut others: Vec<Occupant> = Vec::new();
    for p in client.take_matching(|el| from_room(el, room)) {
        if let Some(o) = occupant(&p, room).filter(|o| o.nick != nick) {
            others.retain(|x| x.nick != o.nick);
            if !o.unavailable {
                others.push(o);
            }
        }
    }
    let me = occupant(&own, room).expect("own presence parsed above");
    Ok(Joined { others, me })
}

/// Leaves every room as a page close does (`captures/presence-unavailable.xml`).
pub fn leave_all(client: &mut TestClient) -> io::Result<()> {
    client.send(&parse(
        r#"<presence xmlns="jabber:client" type="unavailable"/>"#,
    ))
}

// ---------------------------------------------------------------------------
// A participant with media

/// What a [`MediaParticipant`] knows, as of its driver's last round.
#[derive(Debug, Clone, Default)]
pub struct MediaView {
    /// Its Jingle session (offers, remote sources by owner, actions…).
    pub jingle: JingleState,
    /// Its own sources (what it accepted with and added since).
    pub own: OwnSources,
    /// The answers to the Jingle requests it sent (session-accept,
    /// source-add, source-remove, session-info, transport-info), in order.
    pub answers: Vec<JingleAnswer>,
    /// disco#info queries it answered (the focus's feature discovery).
    pub disco_info: u32,
    /// Jingle sets it acked.
    pub jingle_sets: u32,
    /// Other occupants of the room it sees, by nickname.
    pub occupants: BTreeSet<String>,
    /// Why its connection ended, if it did.
    pub closed: Option<String>,
}

impl MediaView {
    /// Whether its session-accept was sent and answered `result`.
    pub fn session_accepted(&self) -> bool {
        self.jingle.accepted
            && self
                .answers
                .iter()
                .any(|a| a.action == "session-accept" && a.is_result())
    }

    /// The answers that are errors.
    pub fn refused(&self) -> Vec<&JingleAnswer> {
        self.answers.iter().filter(|a| !a.is_result()).collect()
    }
}

/// A Jingle request a [`MediaParticipant`] can be told to send.
#[derive(Debug, Clone, Copy)]
enum Request {
    /// Start (`true`) or stop the screen share.
    ScreenShare(bool),
    /// Ask for an in-place ICE restart of the current bridge session.
    IceRestart,
}

impl Request {
    fn action(self) -> &'static str {
        match self {
            Request::ScreenShare(true) => "source-add",
            Request::ScreenShare(false) => "source-remove",
            Request::IceRestart => "session-info",
        }
    }
}

enum Command {
    /// Send a Jingle request; the IQ id sent, if any, goes back.
    Send(Request, mpsc::Sender<Option<String>>),
    /// Leave the room and close the connection.
    Leave,
}

/// A conference participant over a real connection: logged in
/// anonymously, in the room after a conference request, and driven by a
/// thread of its own (ack, disco#info, Jingle) until it leaves or is
/// dropped. See the [module docs](self).
pub struct MediaParticipant {
    nick: String,
    room: String,
    jid: String,
    shared: Arc<Mutex<MediaView>>,
    commands: mpsc::Sender<Command>,
    driver: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for MediaParticipant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaParticipant")
            .field("nick", &self.nick)
            .field("room", &self.room)
            .field("jid", &self.jid)
            .finish_non_exhaustive()
    }
}

impl MediaParticipant {
    /// Logs in anonymously to `prosody`'s main domain, asks the focus for
    /// `room` ([`request_conference`]), joins it under a fresh nickname
    /// ([`new_nick`]) and starts answering with media `spec`. Panics when
    /// any of it fails.
    pub fn join(prosody: &Prosody, room: &str, spec: MediaSpec) -> Self {
        Self::join_as(prosody, room, &new_nick(), spec)
    }

    /// [`MediaParticipant::join`] as `nick` (its endpoint id).
    pub fn join_as(prosody: &Prosody, room: &str, nick: &str, spec: MediaSpec) -> Self {
        let mut client =
            TestClient::login_anonymous(prosody.xmpp_port(), &prosody.ca_cert(), prosody.domain())
                .unwrap_or_else(|e| panic!("a participant cannot log in anonymously: {e}"));
        request_conference(prosody, &mut client, room);
        let joined = join(&mut client, room, nick).unwrap_or_else(|e| {
            panic!(
                "{nick} cannot join {room} after ready='true': {}",
                String::from(&e)
            )
        });
        let jid = client.jid().to_owned();
        let mut rng = FocusRng::from_seed(seed_for(nick));
        let jingle = JingleClient::new(nick, spec, &mut rng);
        let shared = Arc::new(Mutex::new(MediaView {
            own: jingle.own.clone(),
            occupants: joined.others.iter().map(|o| o.nick.clone()).collect(),
            ..MediaView::default()
        }));
        let (commands, inbox) = mpsc::channel();
        let driver = Driver {
            client,
            jingle,
            rng,
            room: room.to_owned(),
            nick: nick.to_owned(),
            start: Instant::now(),
            shared: Arc::clone(&shared),
            disco_info: 0,
            jingle_sets: 0,
            occupants: joined.others.into_iter().map(|o| o.nick).collect(),
        };
        let handle = std::thread::Builder::new()
            .name(format!("participant {nick}"))
            .spawn(move || driver.run(&inbox))
            .expect("spawn the participant's thread");
        Self {
            nick: nick.to_owned(),
            room: room.to_owned(),
            jid,
            shared,
            commands,
            driver: Some(handle),
        }
    }

    /// Its nickname (the endpoint id).
    pub fn nick(&self) -> &str {
        &self.nick
    }

    /// The room.
    pub fn room(&self) -> &str {
        &self.room
    }

    /// Its full JID.
    pub fn jid(&self) -> &str {
        &self.jid
    }

    /// What it knows now.
    pub fn view(&self) -> MediaView {
        lock(&self.shared).clone()
    }

    /// Whether its session-accept was answered `result`.
    pub fn session_accepted(&self) -> bool {
        lock(&self.shared).session_accepted()
    }

    /// The SSRCs the others should know of it: its own sources with
    /// simulcast stripped ([`OwnSources::receiver_view`]).
    pub fn receiver_view(&self) -> BTreeSet<u32> {
        lock(&self.shared).own.receiver_view()
    }

    /// Starts a screen share (a `source-add` of `<nick>-v1`, desktop, with
    /// RTX and FID, [`JingleClient::start_screen_share`]) and waits up to
    /// `within` for the focus's answer. `Err` when there is no session, a
    /// share is already on, or no answer came.
    pub fn start_screen_share(&self, within: Duration) -> Result<JingleAnswer, String> {
        self.request(Request::ScreenShare(true), within)
    }

    /// Stops the screen share (`source-remove`) and waits for the answer.
    pub fn stop_screen_share(&self, within: Duration) -> Result<JingleAnswer, String> {
        self.request(Request::ScreenShare(false), within)
    }

    /// Asks the focus for an in-place ICE restart of its current bridge
    /// session (`session-info` with `bridge-session ice-restart='true'`,
    /// [`JingleClient::ice_restart_request`]) and waits up to `within` for
    /// the answer. The restarted transport, when it comes, shows in
    /// [`MediaView::jingle`] (`ice_generation`, `bridge_ufrag`).
    pub fn request_ice_restart(&self, within: Duration) -> Result<JingleAnswer, String> {
        self.request(Request::IceRestart, within)
    }

    fn request(&self, request: Request, within: Duration) -> Result<JingleAnswer, String> {
        let what = request.action();
        let (tx, rx) = mpsc::channel();
        self.commands
            .send(Command::Send(request, tx))
            .map_err(|_| format!("{}: the participant has stopped", self.nick))?;
        let id = rx
            .recv_timeout(within)
            .map_err(|e| format!("{}: no {what} sent: {e}", self.nick))?
            .ok_or_else(|| format!("{}: nothing to send as {what}", self.nick))?;
        let end = Instant::now() + within;
        loop {
            {
                let view = lock(&self.shared);
                if let Some(answer) = view.answers.iter().find(|a| a.id == id) {
                    return Ok(answer.clone());
                }
                if let Some(why) = &view.closed {
                    return Err(format!("{}: connection closed: {why}", self.nick));
                }
            }
            if Instant::now() >= end {
                return Err(format!(
                    "{}: {what} {id} unanswered after {within:?}",
                    self.nick
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Leaves the room (unavailable presence) and closes the connection;
    /// returns what it knew last.
    pub fn leave(mut self) -> MediaView {
        self.stop();
        self.view()
    }

    fn stop(&mut self) {
        let _ = self.commands.send(Command::Leave);
        if let Some(handle) = self.driver.take()
            && handle.join().is_err()
            && !std::thread::panicking()
        {
            panic!("the thread of participant {} panicked", self.nick);
        }
    }
}

impl Drop for MediaParticipant {
    fn drop(&mut self) {
        self.stop();
    }
}

fn lock(shared: &Mutex<MediaView>) -> MutexGuard<'_, MediaView> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

/// A seed for the participant's SSRCs and credentials, distinct per
/// participant and run.
fn seed_for(nick: &str) -> [u8; 32] {
    let mut seed = [0u8; 32];
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    seed[..16].copy_from_slice(&nanos.to_le_bytes());
    for (i, b) in nick
        .bytes()
        .chain(std::process::id().to_le_bytes())
        .enumerate()
    {
        seed[16 + i % 16] ^= b;
    }
    seed
}

/// The participant's thread.
struct Driver {
    client: TestClient,
    jingle: JingleClient,
    rng: FocusRng,
    room: String,
    nick: String,
    start: Instant,
    shared: Arc<Mutex<MediaView>>,
    disco_info: u32,
    jingle_sets: u32,
    occupants: BTreeSet<String>,
}

impl Driver {
    fn run(mut self, commands: &mpsc::Receiver<Command>) {
        loop {
            loop {
                match commands.try_recv() {
                    Ok(Command::Send(request, reply)) => {
                        let iq = match request {
                            Request::ScreenShare(true) => {
                                self.jingle.start_screen_share(&mut self.rng)
                            }
                            Request::ScreenShare(false) => self.jingle.stop_screen_share(),
                            Request::IceRestart => self.jingle.ice_restart_request(None),
                        };
                        let id = iq.as_ref().and_then(|iq| iq.attr("id")).map(str::to_owned);
                        if let Some(iq) = &iq {
                            self.send(iq);
                        }
                        self.publish();
                        let _ = reply.send(id);
                    }
                    Ok(Command::Leave) | Err(mpsc::TryRecvError::Disconnected) => {
                        return self.leave();
                    }
                    Err(mpsc::TryRecvError::Empty) => break,
                }
            }
            while let Some(due) = self.jingle.take_due(Instant::now()) {
                self.send(&due);
            }
            if lock(&self.shared).closed.is_some() {
                // Nothing more to read: wait for the leave.
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            let now = Instant::now();
            let wait = self
                .jingle
                .poll_timeout()
                .map_or(Duration::from_millis(50), |at| {
                    at.saturating_duration_since(now)
                })
                .clamp(Duration::from_millis(1), Duration::from_millis(50));
            match self.client.wait_for(wait, |_| true) {
                Ok(first) => {
                    self.handle(&first);
                    for more in self.client.take_matching(|_| true) {
                        self.handle(&more);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {}
                Err(e) => self.closed(format!("reading: {e}")),
            }
            self.publish();
        }
    }

    /// Leaves the room (when still connected) and closes the stream.
    fn leave(mut self) {
        if lock(&self.shared).closed.is_none() {
            let _ = leave_all(&mut self.client);
            self.closed("left".into());
        }
        self.client.close();
    }

    fn send(&mut self, stanza: &Element) {
        if let Err(e) = self.client.send(stanza) {
            self.closed(format!("sending: {e}"));
        }
    }

    fn closed(&mut self, why: String) {
        lock(&self.shared).closed.get_or_insert(why);
    }

    fn publish(&self) {
        let mut view = lock(&self.shared);
        view.jingle = self.jingle.state.clone();
        view.own = self.jingle.own.clone();
        view.answers = self.jingle.answers.clone();
        view.disco_info = self.disco_info;
        view.jingle_sets = self.jingle_sets;
        view.occupants = self.occupants.clone();
    }

    fn handle(&mut self, stanza: &Element) {
        match stanza.name() {
            "iq" => self.on_iq(stanza),
            "presence" => self.on_presence(stanza),
            _ => {}
        }
    }

    fn on_iq(&mut self, iq: &Element) {
        match iq.attr("type") {
            Some("get") => {
                let payload = iq.children().next();
                let reply = match payload {
                    Some(p) if p.is("ping", NS_PING) => reply(iq, "result", None),
                    Some(p) if p.is("query", NS_DISCO_INFO) => {
                        self.disco_info += 1;
                        reply(iq, "result", Some(disco_info(p.attr("node"))))
                    }
                    _ => reply(iq, "error", Some(service_unavailable())),
                };
                self.send(&reply);
            }
            Some("set") => {
                // Every set is acked at once (Jingle before the offer is
                // applied, as lib-jitsi-meet does).
                self.send(&reply(iq, "result", None));
                if let Some(jingle) = iq.get_child("jingle", NS_JINGLE) {
                    self.jingle_sets += 1;
                    let me = self.client.jid().to_owned();
                    self.jingle.on_jingle(Instant::now(), iq, jingle, &me);
                }
            }
            Some("result" | "error") => {
                let at = self.start.elapsed();
                self.jingle.on_answer(at, iq);
            }
            _ => {}
        }
    }

    fn on_presence(&mut self, presence: &Element) {
        let Some(o) = occupant(presence, &self.room) else {
            return;
        };
        if o.nick == self.nick {
            return;
        }
        if o.unavailable {
            self.occupants.remove(&o.nick);
        } else {
            self.occupants.insert(o.nick);
        }
    }
}

/// A `result` or `error` answer to `iq` (`from` is Prosody's to stamp).
fn reply(iq: &Element, kind: &str, payload: Option<Element>) -> Element {
    let mut answer = Element::builder("iq", NS_CLIENT)
        .attr(ncname("to"), iq.attr("from").unwrap_or_default())
        .attr(ncname("id"), iq.attr("id").unwrap_or_default())
        .attr(ncname("type"), kind)
        .build();
    if let Some(p) = payload {
        answer.append_child(p);
    }
    answer
}

fn service_unavailable() -> Element {
    Element::builder("error", NS_CLIENT)
        .attr(ncname("type"), "cancel")
        .append(Element::builder("service-unavailable", NS_STANZAS))
        .build()
}

/// lib-jitsi-meet's disco#info answer: [`DEFAULT_FEATURES`].
fn disco_info(node: Option<&str>) -> Element {
    let mut query = Element::builder("query", NS_DISCO_INFO);
    if let Some(node) = node {
        query = query.attr(ncname("node"), node);
    }
    for feature in DEFAULT_FEATURES {
        query =
            query.append(Element::builder("feature", NS_DISCO_INFO).attr(ncname("var"), *feature));
    }
    query.build()
}

// ---------------------------------------------------------------------------
// Participants of a deployment started elsewhere (the demo)

/// Where participants connect when no [`Prosody`] value describes the
/// server (a Prosody started by `scripts/demo.sh`, say).
#[derive(Debug, Clone)]
pub struct Deployment {
    /// The c2s port (STARTTLS) on 127.0.0.1.
    pub xmpp_port: u16,
    /// The PEM file of the CA that signed the server certificate.
    pub ca_cert: std::path::PathBuf,
    /// The anonymous login domain (`meet.jitsi`).
    pub domain: String,
    /// The focus's client proxy (`focus.meet.jitsi`).
    pub focus_domain: String,
    /// The `focusjid` the conference answers must carry; not checked when
    /// `None`.
    pub focus_jid: Option<String>,
}

impl Deployment {
    /// The deployment of a test's `prosody`.
    pub fn of(prosody: &Prosody) -> Self {
        Self {
            xmpp_port: prosody.xmpp_port(),
            ca_cert: prosody.ca_cert(),
            domain: prosody.domain().to_owned(),
            focus_domain: prosody.focus_domain().to_owned(),
            focus_jid: Some(prosody.focus_jid().to_owned()),
        }
    }
}

/// What a participant's join presence says of it besides lib-jitsi-meet's
/// defaults of [`join`].
#[derive(Debug, Clone, Default)]
pub struct JoinExtras {
    /// `<jitsi_participant_region>`: the region bridges are selected in.
    pub region: Option<String>,
    /// `<nick xmlns='http://jabber.org/protocol/nick'>`: the display name.
    pub display_name: Option<String>,
}

/// [`request_conference`] against `deployment`, with every failure as an
/// `Err` instead of a panic.
pub fn try_request_conference(
    deployment: &Deployment,
    client: &mut TestClient,
    room: &str,
) -> Result<Element, String> {
    let deadline = Instant::now() + REQUEST;
    let mut backoff = Duration::from_secs(1);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let id = format!("{}-{attempt}:sendIQ", unique_digits());
        let left = deadline.saturating_duration_since(Instant::now());
        let request = conference_request(&deployment.focus_domain, room, &id);
        let answer = client.iq(&request, left).map_err(|e| {
            format!("conference request {attempt} for {room}: no answer within {REQUEST:?}: {e}")
        })?;
        if answer.attr("type") == Some("error") {
            let (condition, text) = stanza_error(&answer).unwrap_or_default();
            let proxy_not_ready = text == "The focus is not connected";
            if proxy_not_ready && Instant::now() + Duration::from_millis(200) < deadline {
                std::thread::sleep(Duration::from_millis(200));
                continue;
            }
            return Err(format!(
                "conference request {attempt} for {room} answered with error \
                 {condition:?} {text:?}"
            ));
        }
        if answer.attr("from") != Some(deployment.focus_domain.as_str()) {
            return Err(format!(
                "the conference answer does not come from {}: {}",
                deployment.focus_domain,
                String::from(&answer)
            ));
        }
        let conference = answer
            .get_child("conference", NS_FOCUS)
            .ok_or_else(|| format!("answered without <conference>: {}", String::from(&answer)))?
            .clone();
        if let Some(focus_jid) = &deployment.focus_jid
            && conference.attr("focusjid") != Some(focus_jid.as_str())
        {
            return Err(format!(
                "focusjid is not {focus_jid}: {}",
                String::from(&conference)
            ));
        }
        match conference.attr("ready") {
            Some("true") => return Ok(conference),
            Some("false") if property(&conference, "live") == Some("false") => {
                return Err(format!(
                    "sent to the visitor queue: {}",
                    String::from(&conference)
                ));
            }
            Some("false") if Instant::now() + backoff < deadline => {
                std::thread::sleep(backoff);
                backoff *= 2;
            }
            _ => {
                return Err(format!(
                    "not ready after {attempt} requests: {}",
                    String::from(&conference)
                ));
            }
        }
    }
}

/// [`join`] with `extras` in the presence, and `Err` (with the error
/// presence or the timeout) instead of a panic.
pub fn try_join_with(
    client: &mut TestClient,
    room: &str,
    nick: &str,
    extras: &JoinExtras,
) -> Result<Joined, String> {
    let mut presence = parse(&format!(
        r#"<presence xmlns="jabber:client" to="{room}/{nick}">
  <x xmlns="{NS_MUC}"/>
  <stats-id>Samir-WWm</stats-id>
  <c xmlns="http://jabber.org/protocol/caps" hash="sha-1" node="https://jitsi.org/jitsi-meet" ver="dtzK/3xhISaXUMVg59IpXxdvKyQ="/>
  <SourceInfo>{{}}</SourceInfo>
  <jitsi_participant_codecList>av1,vp9,vp8,h264</jitsi_participant_codecList>
</presence>"#
    ));
    if let Some(region) = &extras.region {
        presence.append_child(
            Element::builder("jitsi_participant_region", NS_CLIENT)
                .append(region.as_str())
                .build(),
        );
    }
    if let Some(name) = &extras.display_name {
        presence.append_child(
            Element::builder("nick", "http://jabber.org/protocol/nick")
                .append(name.as_str())
                .build(),
        );
    }
    client
        .send(&presence)
        .map_err(|e| format!("sending the join presence: {e}"))?;
    let me = format!("{room}/{nick}");
    let own = client
        .wait_for(STANZA, |el| {
            el.name() == "presence"
                && el.attr("from") == Some(me.as_str())
                && (el.attr("type") == Some("error")
                    || occupant(el, room).is_some_and(|o| o.is_self))
        })
        .map_err(|e| format!("no answer to the join of {me}: {e}"))?;
    if own.attr("type") == Some("error") {
        return Err(format!("the join was refused: {}", String::from(&own)));
    }
    let mut others: Vec<Occupant> = Vec::new();
    for p in client.take_matching(|el| from_room(el, room)) {
        if let Some(o) = occupant(&p, room).filter(|o| o.nick != nick) {
            others.retain(|x| x.nick != o.nick);
            if !o.unavailable {
                others.push(o);
            }
        }
    }
    let me = occupant(&own, room).ok_or("own presence without an occupant")?;
    Ok(Joined { others, me })
}

impl MediaParticipant {
    /// [`MediaParticipant::join_as`] against `deployment`, with `extras` in
    /// its join presence; `Err` instead of a panic when the login, the
    /// conference request or the join fails.
    pub fn try_join_at(
        deployment: &Deployment,
        room: &str,
        nick: &str,
        spec: MediaSpec,
        extras: &JoinExtras,
    ) -> Result<Self, String> {
        let mut client = TestClient::login_anonymous(
            deployment.xmpp_port,
            &deployment.ca_cert,
            &deployment.domain,
        )
        .map_err(|e| format!("{nick} cannot log in anonymously: {e}"))?;
        try_request_conference(deployment, &mut client, room)
            .map_err(|e| format!("{nick}: {e}"))?;
        let joined = try_join_with(&mut client, room, nick, extras)
            .map_err(|e| format!("{nick} cannot join {room}: {e}"))?;
        let jid = client.jid().to_owned();
        let mut rng = FocusRng::from_seed(seed_for(nick));
        let jingle = JingleClient::new(nick, spec, &mut rng);
        let shared = Arc::new(Mutex::new(MediaView {
            own: jingle.own.clone(),
            occupants: joined.others.iter().map(|o| o.nick.clone()).collect(),
            ..MediaView::default()
        }));
        let (commands, inbox) = mpsc::channel();
        let driver = Driver {
            client,
            jingle,
            rng,
            room: room.to_owned(),
            nick: nick.to_owned(),
            start: Instant::now(),
            shared: Arc::clone(&shared),
            disco_info: 0,
            jingle_sets: 0,
            occupants: joined.others.into_iter().map(|o| o.nick).collect(),
        };
        let handle = std::thread::Builder::new()
            .name(format!("participant {nick}"))
            .spawn(move || driver.run(&inbox))
            .map_err(|e| format!("spawning the thread of {nick}: {e}"))?;
        Ok(Self {
            nick: nick.to_owned(),
            room: room.to_owned(),
            jid,
            shared,
            commands,
            driver: Some(handle),
        })
    }
}

// ---------------------------------------------------------------------------
// The bridge emulator's status

/// What a `bridge-emulator` reports on its `status` command (a stderr line
/// `bridge-emulator[<nick>]: status: joined=true conferences=1 endpoints=3
/// relays=0 stress=… drain=… …`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BridgeStatus {
    /// In the brewery.
    pub joined: bool,
    /// Conferences it holds.
    pub conferences: u64,
    /// Local endpoints, over all its conferences.
    pub endpoints: u64,
    /// Relays, over all its conferences.
    pub relays: u64,
}

/// What marks a status line.
const STATUS_NEEDLE: &str = "status: joined=";

impl BridgeStatus {
    /// Reads a status line; `None` when `line` is not one.
    pub fn parse(line: &str) -> Option<Self> {
        let (_, rest) = line.split_once("status: ")?;
        let mut status = BridgeStatus::default();
        let mut seen = 0;
        for (key, value) in rest.split_whitespace().filter_map(|kv| kv.split_once('=')) {
            match key {
                "joined" => status.joined = value.parse().ok()?,
                "conferences" => status.conferences = value.parse().ok()?,
                "endpoints" => status.endpoints = value.parse().ok()?,
                "relays" => status.relays = value.parse().ok()?,
                _ => continue,
            }
            seen += 1;
        }
        (seen == 4).then_some(status)
    }
}

/// Asks `bridge` for its `status` on stdin and reads the line it logs;
/// `None` when it has gone or said nothing within `within`.
pub fn bridge_status(bridge: &mut BridgeEmulatorProcess, within: Duration) -> Option<BridgeStatus> {
    let before = bridge.count_log(STATUS_NEEDLE);
    if !bridge.send_line("status") {
        return None;
    }
    if !bridge.wait_for_log_count(STATUS_NEEDLE, before + 1, within) {
        return None;
    }
    bridge
        .logs()
        .lines()
        .rev()
        .find(|l| l.contains(STATUS_NEEDLE))
        .and_then(BridgeStatus::parse)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_emulators_status_line() {
        let line = "bridge-emulator[jvb-1]: status: joined=true conferences=1 endpoints=3 \
                    relays=0 stress=0.01 drain=false graceful_shutdown=false \
                    shutting_down=false healthy=true unresponsive=false";
        assert_eq!(
            BridgeStatus::parse(line),
            Some(BridgeStatus {
                joined: true,
                conferences: 1,
                endpoints: 3,
                relays: 0
            })
        );
        assert_eq!(BridgeStatus::parse("bridge-emulator[jvb-1]: left"), None);
        assert_eq!(BridgeStatus::parse("status: joined=maybe"), None);
    }
}
