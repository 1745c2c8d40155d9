//! `demo-participants`: simulated conference participants for the demo
//! (`scripts/demo.sh`), against a running Prosody, focus and bridges.
//!
//! Each participant is a [`MediaParticipant`]: a real XMPP client that
//! behaves like lib-jitsi-meet (conference request to the focus, MUC join
//! with its region and display name, disco#info, `session-accept` with its
//! own audio and simulcast video, screen share on demand). They are spread
//! over `--conferences` rooms with the `--regions` alternating inside each
//! room, join over the first seconds, one shares its screen for a while,
//! and they leave at random (seeded) times; some come back as new
//! endpoints.
//!
//! ```text
//! demo-participants --port 25222 --ca-cert ca.pem --rest http://127.0.0.1:8888 \
//!     --conferences 3 --participants 8 --regions us-east,eu-west --seconds 60
//! ```
//!
//! stdout: every `--interval` seconds a view of the conferences (from the
//! focus's `GET /debug/conferences-full`: members, each participant's
//! session and bridge, the bridge sessions and their relays), the bridges
//! (`GET /debug`) and what each participant sees (accepted, remote owners
//! and sources, in sync with the others or not); at the end a summary.
//! Exit status 0 when no participant recorded a problem or an error answer
//! and every check passed; 1 otherwise; 2 on bad arguments; 130 when
//! interrupted (SIGINT/SIGTERM).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::exit;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use focus_proto::rng::FocusRng;
use focus_tests::e2e::http_get;
use focus_tests::e2e::participant::{Deployment, JoinExtras, new_nick};
use focus_tests::e2e::{MediaParticipant, MediaView};
use focus_tests::sim::MediaSpec;
use serde_json::Value;

const USAGE: &str = "\
usage: demo-participants --ca-cert PATH [options]
  --port N             c2s port of Prosody on 127.0.0.1 (5222)
  --ca-cert PATH       PEM of the CA that signed the server certificate
  --domain D           anonymous login domain (meet.jitsi)
  --muc D              conference MUC domain (muc.meet.jitsi)
  --focus-domain D     the focus's client proxy (focus.meet.jitsi)
  --focus-jid JID      check the focusjid of the conference answers
  --rest URL           the focus's REST API (http://127.0.0.1:8888)
  --conferences N      rooms (3)
  --participants N     participants (8)
  --regions A,B        regions, alternating inside each room (us-east,eu-west)
  --seconds N          how long the demo runs (60)
  --interval N         seconds between two views (2)
  --seed N             seed of the schedule (default: from the clock)";

/// Parsed command line.
struct Args {
    deployment: Deployment,
    muc: String,
    rest_port: u16,
    conferences: usize,
    participants: usize,
    regions: Vec<String>,
    seconds: u64,
    interval: u64,
    seed: u64,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut port = 5222;
    let mut ca_cert = None;
    let mut domain = "meet.jitsi".to_owned();
    let mut muc = "muc.meet.jitsi".to_owned();
    let mut focus_domain = "focus.meet.jitsi".to_owned();
    let mut focus_jid = None;
    let mut rest = "http://127.0.0.1:8888".to_owned();
    let mut conferences = 3;
    let mut participants = 8;
    let mut regions = "us-east,eu-west".to_owned();
    let mut seconds = 60;
    let mut interval = 2;
    let mut seed = None;
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = || -> Result<String, String> {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        fn number<T: std::str::FromStr>(flag: &str, v: String) -> Result<T, String> {
            v.parse().map_err(|_| format!("{flag}: not a number: {v}"))
        }
        match flag.as_str() {
            "--port" => port = number(&flag, value()?)?,
            "--ca-cert" => ca_cert = Some(PathBuf::from(value()?)),
            "--domain" => domain = value()?,
            "--muc" => muc = value()?,
            "--focus-domain" => focus_domain = value()?,
            "--focus-jid" => focus_jid = Some(value()?),
            "--rest" => rest = value()?,
            "--conferences" => conferences = number(&flag, value()?)?,
            "--participants" => participants = number(&flag, value()?)?,
            "--regions" => regions = value()?,
            "--seconds" => seconds = number(&flag, value()?)?,
            "--interval" => interval = number(&flag, value()?)?,
            "--seed" => seed = Some(number(&flag, value()?)?),
            "-h" | "--help" => {
                println!("{USAGE}");
                exit(0);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let rest_port = rest
        .strip_prefix("http://")
        .unwrap_or(&rest)
        .trim_end_matches('/')
        .rsplit_once(':')
        .and_then(|(host, port)| {
            matches!(host, "127.0.0.1" | "localhost")
                .then(|| port.parse().ok())
                .flatten()
        })
        .ok_or_else(|| format!("--rest: http://127.0.0.1:PORT, not {rest}"))?;
    let regions: Vec<String> = regions
        .split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect();
    if conferences == 0 || participants == 0 {
        return Err("--conferences and --participants must be at least 1".into());
    }
    if regions.is_empty() {
        return Err("--regions names no region".into());
    }
    let seed = seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() % 100_000)
            .unwrap_or_default()
    });
    Ok(Args {
        deployment: Deployment {
            xmpp_port: port,
            ca_cert: ca_cert.ok_or("--ca-cert is required")?,
            domain,
            focus_domain,
            focus_jid,
        },
        muc,
        rest_port,
        conferences,
        participants,
        regions,
        seconds: seconds.max(4),
        interval: interval.max(1),
        seed,
    })
}

/// Set by SIGTERM / SIGINT.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_signal: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

fn install_signal_handlers() {
    let handler = on_signal as extern "C" fn(libc::c_int);
    for signal in [libc::SIGTERM, libc::SIGINT] {
        // SAFETY: the handler only stores to an atomic, which is
        // async-signal-safe; signal(2) has no other preconditions.
        unsafe { libc::signal(signal, handler as libc::sighandler_t) };
    }
}

// ---------------------------------------------------------------------------
// The schedule

/// Display names, as people would type them.
const NAMES: [&str; 12] = [
    "Ada", "Kofi", "Ines", "Taro", "Vera", "Samir", "Lula", "Murl", "Noor", "Emil", "Zoe", "Ravi",
];

/// One simulated person: a display name in a room and a region. Each time
/// it joins it is a new endpoint (a page load makes a new id).
struct Person {
    name: String,
    room: String,
    region: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Action {
    Join(usize),
    ShareOn(usize),
    ShareOff(usize),
    Leave(usize),
}

/// When each person joins, shares, leaves and comes back: every action
/// within the first `seconds - settle` seconds, so that the end sees a
/// settled conference.
fn schedule(
    people: usize,
    seconds: u64,
    rng: &mut FocusRng,
) -> (Vec<(Duration, Action)>, Duration) {
    let total = Duration::from_secs(seconds);
    let join_window = (total / 4).min(Duration::from_secs(10));
    let settle = (total / 4).min(Duration::from_secs(12));
    let churn_end = total - settle;
    let ms = |d: Duration| d.as_millis() as u64;
    let between = |rng: &mut FocusRng, a: Duration, b: Duration| {
        a + Duration::from_millis(rng.below_inclusive(ms(b.saturating_sub(a))))
    };
    let mut plan = Vec::new();
    for i in 0..people {
        let at = join_window * i as u32 / people as u32;
        plan.push((at, Action::Join(i)));
    }
    // The sharer stays to the end; it shares over the middle of the churn.
    let sharer = (rng.below_inclusive(people as u64 - 1)) as usize;
    let share_on = join_window + Duration::from_secs(2);
    let share_off = (share_on + (churn_end.saturating_sub(share_on)) / 2).max(share_on);
    if share_off > share_on {
        plan.push((share_on, Action::ShareOn(sharer)));
        plan.push((share_off, Action::ShareOff(sharer)));
    }
    // Leaves: about half of the others, at random; most come back.
    let earliest_leave = join_window + Duration::from_secs(3);
    let mut leavers = 0;
    for i in (0..people).filter(|&i| i != sharer) {
        let leaves = rng.below_inclusive(1) == 0 || (leavers == 0 && i + 2 >= people);
        if !leaves || earliest_leave + Duration::from_secs(1) >= churn_end {
            continue;
        }
        leavers += 1;
        let at = between(rng, earliest_leave, churn_end - Duration::from_secs(1));
        plan.push((at, Action::Leave(i)));
        let back = at + Duration::from_millis(2_000 + rng.below_inclusive(4_000));
        if rng.below_inclusive(3) > 0 && back < churn_end {
            plan.push((back, Action::Join(i)));
        }
    }
    plan.sort();
    (plan, total)
}

// ---------------------------------------------------------------------------
// Participants and what they saw

/// A participant in the room now.
struct Live {
    person: usize,
    p: MediaParticipant,
    sharing: bool,
    /// Problems of its view already reported.
    reported: BTreeSet<String>,
    /// Its session ended by the single-participant timeout (and not
    /// offered again since).
    idle: bool,
}

impl Live {
    fn new(person: usize, p: MediaParticipant) -> Self {
        Self {
            person,
            p,
            sharing: false,
            reported: BTreeSet::new(),
            idle: false,
        }
    }
}

/// What the demo counts and checks.
#[derive(Default)]
struct Tally {
    joins: u32,
    leaves: u32,
    shares: u32,
    problems: Vec<String>,
    rest_failures: u32,
    relays_seen: bool,
    bridges_used: BTreeSet<String>,
    max_members: usize,
}

/// Whether the focus ended the session because the participant was alone
/// (Jicofo's `single-participant-timeout`: `expired`, "Idle session
/// timeout"); it offers a new one when someone joins.
fn idle_timeout(view: &MediaView) -> bool {
    view.jingle.terminated.as_deref() == Some("expired")
}

/// What is wrong in a participant's view: unreadable Jingle, error
/// answers, a session the focus ended (other than for being alone), a
/// connection that closed by itself.
fn view_problems(nick: &str, view: &MediaView, live: bool) -> Vec<String> {
    let mut out: Vec<String> = view
        .jingle
        .problems
        .iter()
        .map(|p| format!("{nick}: could not read a Jingle request: {p}"))
        .collect();
    for answer in view.refused() {
        out.push(format!(
            "{nick}: its {} was answered with error {} {}",
            answer.action,
            answer.condition.as_deref().unwrap_or("?"),
            answer.text.as_deref().unwrap_or("")
        ));
    }
    if let Some(reason) = view
        .jingle
        .terminated
        .as_ref()
        .filter(|_| !idle_timeout(view))
    {
        out.push(format!(
            "{nick}: the focus terminated its session ({reason})"
        ));
    }
    if live && let Some(why) = &view.closed {
        out.push(format!("{nick}: its connection closed ({why})"));
    }
    out
}

/// Whether `l` is the only participant of its room.
fn alone(l: &Live, live: &[Live]) -> bool {
    !live
        .iter()
        .any(|o| o.p.room() == l.p.room() && o.p.nick() != l.p.nick())
}

/// The problems of `view` not reported yet for `l`.
fn take_new(l: &mut Live, view: &MediaView) -> Vec<String> {
    let mut out = Vec::new();
    for p in view_problems(l.p.nick(), view, true) {
        if l.reported.insert(p.clone()) {
            out.push(p);
        }
    }
    out
}

/// The remote sources `viewer` should know: each other live participant
/// of its room with its receiver view.
fn expected_remote<'a>(viewer: &Live, live: &'a [Live]) -> BTreeMap<&'a str, BTreeSet<u32>> {
    live.iter()
        .filter(|o| o.p.room() == viewer.p.room() && o.p.nick() != viewer.p.nick())
        .map(|o| (o.p.nick(), o.p.receiver_view()))
        .collect()
}

/// How `viewer`'s knowledge of the others compares with theirs: owners
/// known, owners expected, SSRCs known, and what differs. Like
/// lib-jitsi-meet it forgets the sources of an occupant that left the MUC
/// (the focus sends no `source-remove` for a member that left, as Jicofo).
struct Sync {
    known: usize,
    expected: usize,
    ssrcs: usize,
    wrong: Vec<String>,
}

fn sync_of(viewer: &Live, view: &MediaView, live: &[Live]) -> Sync {
    let expected = expected_remote(viewer, live);
    let remote: BTreeMap<&str, &BTreeSet<u32>> = view
        .jingle
        .remote
        .iter()
        .filter(|(owner, _)| view.occupants.contains(*owner))
        .map(|(owner, ssrcs)| (owner.as_str(), ssrcs))
        .collect();
    let mut wrong = Vec::new();
    let mut known = 0;
    for (nick, ssrcs) in &expected {
        match remote.get(nick) {
            Some(have) if *have == ssrcs => known += 1,
            Some(have) => wrong.push(format!(
                "{} knows {} of {nick}'s SSRCs, {} expected",
                viewer.p.nick(),
                have.len(),
                ssrcs.len()
            )),
            None => wrong.push(format!(
                "{} does not know the sources of {nick}",
                viewer.p.nick()
            )),
        }
    }
    for owner in remote.keys().filter(|o| !expected.contains_key(*o)) {
        wrong.push(format!(
            "{} has sources of {owner}, who is not in its room",
            viewer.p.nick()
        ));
    }
    Sync {
        known,
        expected: expected.len(),
        ssrcs: remote.values().map(|s| s.len()).sum(),
        wrong,
    }
}

// ---------------------------------------------------------------------------
// The focus's REST API

/// `GET path` as JSON; `None` (counted) when the focus does not answer.
fn rest_json(port: u16, path: &str, tally: &mut Tally) -> Option<Value> {
    match http_get(port, path, Duration::from_secs(3)) {
        Ok(r) if r.status == 200 => serde_json::from_str(&r.body).ok(),
        _ => {
            tally.rest_failures += 1;
            None
        }
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// `jvbbrewery@internal-muc.meet.jitsi/jvb-us-east` → `jvb-us-east`.
fn resource(jid: &str) -> &str {
    jid.rsplit_once('/').map_or(jid, |(_, r)| r)
}

/// `demo-1@muc.meet.jitsi` → `demo-1`.
fn local(jid: &str) -> &str {
    jid.split_once('@').map_or(jid, |(l, _)| l)
}

// ---------------------------------------------------------------------------
// The view

struct Demo {
    args: Args,
    people: Vec<Person>,
    rooms: Vec<String>,
    live: Vec<Live>,
    joining: BTreeSet<usize>,
    /// What the participants that left knew last.
    gone: Vec<MediaView>,
    tally: Tally,
    events: Vec<String>,
    start: Instant,
}

impl Demo {
    fn at(&self) -> String {
        format!("{:5.1}s", self.start.elapsed().as_secs_f64())
    }

    fn event(&mut self, what: String) {
        self.events.push(format!("{} {what}", self.at()));
    }

    fn problem(&mut self, what: String) {
        self.events.push(format!("{} PROBLEM {what}", self.at()));
        self.tally.problems.push(what);
    }

    /// New problems in the live participants' views, and their sessions
    /// ended or offered again for being alone.
    fn collect_problems(&mut self) {
        let mut found = Vec::new();
        let mut events = Vec::new();
        for l in &mut self.live {
            let view = l.p.view();
            found.extend(take_new(l, &view));
            let who = format!("{} {}", l.p.nick(), self.people[l.person].name);
            if idle_timeout(&view) && !l.idle {
                l.idle = true;
                events.push(format!(
                    "{who} is alone: the focus ended its media session \
                     (single-participant timeout)"
                ));
            } else if l.idle && view.jingle.terminated.is_none() {
                l.idle = false;
                events.push(format!(
                    "{who} is not alone any more: offered a new session"
                ));
            }
        }
        for e in events {
            self.event(e);
        }
        for p in found {
            self.problem(p);
        }
    }

    /// `l` leaves; what it saw goes to `gone`.
    fn leave(&mut self, mut l: Live) {
        let view = l.p.view();
        let found = take_new(&mut l, &view);
        for p in found {
            self.problem(p);
        }
        let view = l.p.leave();
        self.gone.push(view);
    }

    fn label(&self, person: usize, nick: &str) -> String {
        let p = &self.people[person];
        format!("{nick} {:<6} {:<8}", p.name, p.region)
    }

    /// One frame of the live view.
    fn render(&mut self, title: &str) -> String {
        let port = self.args.rest_port;
        let full = rest_json(port, "/debug/conferences-full", &mut self.tally);
        let debug = rest_json(port, "/debug", &mut self.tally);
        let mut out = String::new();
        let in_rooms = self.live.len();
        let _ = writeln!(
            out,
            "\n━━ {} ━━ {title}: {in_rooms} participants in {} rooms, {} joining, {} left so far ━━",
            self.at(),
            self.rooms.len(),
            self.joining.len(),
            self.gone.len()
        );
        // The bridges.
        match debug
            .as_ref()
            .and_then(|d| d.pointer("/bridge_selector/bridge"))
            .and_then(Value::as_object)
        {
            Some(bridges) if !bridges.is_empty() => {
                for (jid, b) in bridges {
                    let _ = writeln!(
                        out,
                        "bridge {:<12} region {:<8} stress {:<5} endpoints {:<3} relay-id {:<14} {}",
                        resource(jid),
                        text(&b["region"]),
                        b["stress"]
                            .as_f64()
                            .map_or_else(|| "-".into(), |s| format!("{s:.3}")),
                        text(&b["endpoints"]),
                        text(&b["relay-id"]),
                        if b["operational"].as_bool() == Some(true) {
                            "operational"
                        } else {
                            "NOT OPERATIONAL"
                        }
                    );
                }
            }
            Some(_) => out.push_str("bridges: none in the brewery\n"),
            None => out.push_str("bridges: the focus's GET /debug did not answer\n"),
        }
        // The conferences.
        let empty = serde_json::Map::new();
        let conferences = full.as_ref().and_then(Value::as_object);
        if conferences.is_none() {
            out.push_str("conferences: GET /debug/conferences-full did not answer\n");
        }
        let conferences = conferences.unwrap_or(&empty);
        let rooms: BTreeSet<String> = self
            .rooms
            .iter()
            .cloned()
            .chain(conferences.keys().cloned())
            .collect();
        for room in &rooms {
            let c = conferences.get(room);
            let members = c.and_then(|c| c["members"].as_array()).map_or(0, Vec::len);
            self.tally.max_members = self.tally.max_members.max(members);
            let _ = writeln!(
                out,
                "conference {:<8} {}",
                local(room),
                match c {
                    Some(c) => format!(
                        "{members} members, media {}, meeting {}",
                        if c["media_ready"].as_bool() == Some(true) {
                            "ready"
                        } else {
                            "not ready"
                        },
                        text(&c["meeting_id"]).chars().take(8).collect::<String>()
                    ),
                    None => "(no conference on the focus)".into(),
                }
            );
            let csm = c.map(|c| &c["colibri_session_manager"]);
            let sessions = csm.and_then(|m| m["sessions"].as_object());
            if let Some(sessions) = sessions {
                for (bridge, s) in sessions {
                    let relays: Vec<String> = s["relays"]
                        .as_array()
                        .map(|r| r.iter().map(text).collect())
                        .unwrap_or_default();
                    if !relays.is_empty() {
                        self.tally.relays_seen = true;
                    }
                    let endpoints: Vec<String> = s["participants"]
                        .as_array()
                        .map(|r| r.iter().map(text).collect())
                        .unwrap_or_default();
                    let _ = writeln!(
                        out,
                        "  on {:<12} ({:<7}) endpoints [{}]  relays → [{}]",
                        bridge,
                        text(&s["bridge"]["region"]),
                        endpoints.join(" "),
                        relays.join(" ")
                    );
                }
            }
            let focus_side = csm
                .and_then(|m| m["participants"].as_object())
                .cloned()
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {:<8} {:<6} {:<8} │ {:<11} {:<12} {:>4} │ {:<8} {:<7} {:>5}",
                "endpoint",
                "name",
                "region",
                "focus says",
                "bridge",
                "ssrc",
                "it sees",
                "others",
                "ssrc"
            );
            let mut shown = BTreeSet::new();
            for l in self.live.iter().filter(|l| l.p.room() == room) {
                let nick = l.p.nick();
                shown.insert(nick.to_owned());
                let f = focus_side.get(nick);
                if let Some(b) = f.and_then(|f| f["bridge"].as_str()) {
                    self.tally.bridges_used.insert(b.to_owned());
                }
                let view = l.p.view();
                let sync = sync_of(l, &view, &self.live);
                let _ = writeln!(
                    out,
                    "  {} │ {:<11} {:<12} {:>4} │ {:<8} {:<7} {:>5} {}{}",
                    self.label(l.person, nick),
                    f.map_or("-".into(), |f| text(&f["session"])),
                    f.map_or("-".into(), |f| text(&f["bridge"])),
                    f.and_then(|f| f["sources"].as_array()).map_or(0, Vec::len),
                    if idle_timeout(&view) {
                        "idle"
                    } else if view.jingle.terminated.is_some() {
                        "ended"
                    } else if view.session_accepted() {
                        "accepted"
                    } else if view.jingle.offers > 0 {
                        "offered"
                    } else {
                        "waiting"
                    },
                    format!("{}/{}", sync.known, sync.expected),
                    sync.ssrcs,
                    if sync.wrong.is_empty() { "✓" } else { "…" },
                    if l.sharing { " (sharing screen)" } else { "" }
                );
            }
            for (nick, f) in focus_side.iter().filter(|(n, _)| !shown.contains(*n)) {
                let _ = writeln!(
                    out,
                    "  {nick} {:<15} │ {:<11} {:<12} {:>4} │ (left)",
                    "",
                    text(&f["session"]),
                    text(&f["bridge"]),
                    f["sources"].as_array().map_or(0, Vec::len),
                );
            }
        }
        if !self.events.is_empty() {
            out.push_str("events:\n");
            for e in self.events.drain(..) {
                let _ = writeln!(out, "  {e}");
            }
        }
        out
    }
}

// ---------------------------------------------------------------------------
// Running it

/// A finished join, from its thread.
type JoinResult = (usize, Result<MediaParticipant, String>, Duration);

fn spawn_join(demo: &Demo, person: usize, done: &mpsc::Sender<JoinResult>) {
    let p = &demo.people[person];
    let deployment = demo.args.deployment.clone();
    let room = p.room.clone();
    let extras = JoinExtras {
        region: Some(p.region.clone()),
        display_name: Some(p.name.clone()),
    };
    let done = done.clone();
    std::thread::spawn(move || {
        let began = Instant::now();
        let nick = new_nick();
        let result =
            MediaParticipant::try_join_at(&deployment, &room, &nick, MediaSpec::default(), &extras);
        let _ = done.send((person, result, began.elapsed()));
    });
}

fn main() {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("demo-participants: {e}\n{USAGE}");
            exit(2);
        }
    };
    install_signal_handlers();
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&args.seed.to_le_bytes());
    let mut rng = FocusRng::from_seed(seed);
    let rooms: Vec<String> = (1..=args.conferences)
        .map(|i| format!("demo-{i}@{}", args.muc))
        .collect();
    let people: Vec<Person> = (0..args.participants)
        .map(|i| {
            let conference = i % rooms.len();
            let k = i / rooms.len();
            Person {
                name: match i / NAMES.len() {
                    0 => NAMES[i].to_owned(),
                    n => format!("{}{}", NAMES[i % NAMES.len()], n + 1),
                },
                room: rooms[conference].clone(),
                region: args.regions[(k + conference) % args.regions.len()].clone(),
            }
        })
        .collect();
    let (plan, total) = schedule(people.len(), args.seconds, &mut rng);
    println!(
        "demo-participants: {} participants in {} rooms ({}), regions {}, {} s, seed {} \
         (--seed {} replays this schedule)",
        people.len(),
        rooms.len(),
        rooms
            .iter()
            .map(|r| local(r))
            .collect::<Vec<_>>()
            .join(", "),
        args.regions.join(" and "),
        args.seconds,
        args.seed,
        args.seed
    );
    println!(
        "Every {} s: the bridges and the conferences as the focus's REST API shows them \
         (GET /debug, /debug/conferences-full), the bridge sessions with their relays, and \
         per participant what the focus says (its session, bridge and the SSRCs it signals \
         for it) │ what the participant itself sees (its session, the others whose sources \
         it knows / should know, their SSRCs; ✓: exactly what they send).",
        args.interval
    );
    let interval = Duration::from_secs(args.interval);
    let mut demo = Demo {
        args,
        people,
        rooms,
        live: Vec::new(),
        joining: BTreeSet::new(),
        gone: Vec::new(),
        tally: Tally::default(),
        events: Vec::new(),
        start: Instant::now(),
    };
    let (done_tx, done_rx) = mpsc::channel::<JoinResult>();
    let mut plan = std::collections::VecDeque::from(plan);
    let mut next_frame = demo.start + interval;
    while demo.start.elapsed() < total && !STOP.load(Ordering::SeqCst) {
        // Finished joins.
        while let Ok((person, result, took)) = done_rx.try_recv() {
            demo.joining.remove(&person);
            match result {
                Ok(p) => {
                    demo.tally.joins += 1;
                    let who = demo.label(person, p.nick());
                    demo.event(format!(
                        "{} joined {} ({} ms)",
                        who.trim_end(),
                        local(p.room()),
                        took.as_millis()
                    ));
                    demo.live.push(Live::new(person, p));
                }
                Err(e) => demo.problem(format!("a join failed: {e}")),
            }
        }
        // Due actions.
        while let Some(&(at, action)) = plan.front() {
            if demo.start.elapsed() < at {
                break;
            }
            plan.pop_front();
            let find =
                |demo: &Demo, person: usize| demo.live.iter().position(|l| l.person == person);
            match action {
                Action::Join(person) => {
                    demo.joining.insert(person);
                    spawn_join(&demo, person, &done_tx);
                }
                Action::Leave(person) | Action::ShareOn(person) | Action::ShareOff(person)
                    if find(&demo, person).is_none() =>
                {
                    // Still joining: a little later.
                    if demo.joining.contains(&person) {
                        let later = demo.start.elapsed() + Duration::from_millis(500);
                        let i = plan.partition_point(|(t, _)| *t <= later);
                        plan.insert(i, (later, action));
                    }
                }
                Action::Leave(person) => {
                    let i = find(&demo, person).unwrap_or_default();
                    let l = demo.live.remove(i);
                    let who = demo.label(person, l.p.nick());
                    demo.leave(l);
                    demo.tally.leaves += 1;
                    demo.event(format!(
                        "{} left {}",
                        who.trim_end(),
                        local(&demo.people[person].room)
                    ));
                }
                Action::ShareOn(person) | Action::ShareOff(person) => {
                    let on = matches!(action, Action::ShareOn(_));
                    let i = find(&demo, person).unwrap_or_default();
                    let nick = demo.live[i].p.nick().to_owned();
                    let who = demo.label(person, &nick);
                    let within = Duration::from_secs(5);
                    let answer = if on {
                        demo.live[i].p.start_screen_share(within)
                    } else {
                        demo.live[i].p.stop_screen_share(within)
                    };
                    let what = if on { "started" } else { "stopped" };
                    match answer {
                        Ok(a) if a.is_result() => {
                            demo.live[i].sharing = on;
                            if on {
                                demo.tally.shares += 1;
                            }
                            demo.event(format!(
                                "{} {what} sharing its screen ({} answered result)",
                                who.trim_end(),
                                a.action
                            ));
                        }
                        // The error answer itself is one of its view's problems.
                        Ok(_) => demo.event(format!(
                            "{} could not have {what} its share",
                            who.trim_end()
                        )),
                        Err(e) => demo.problem(format!("screen share: {e}")),
                    }
                }
            }
        }
        demo.collect_problems();
        if Instant::now() >= next_frame {
            next_frame += interval;
            let frame = demo.render("live");
            print!("{frame}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let interrupted = STOP.load(Ordering::SeqCst);
    // Joins still under way finish (or fail) first.
    let join_deadline = Instant::now() + Duration::from_secs(15);
    while !demo.joining.is_empty() && Instant::now() < join_deadline {
        if let Ok((person, result, _)) = done_rx.recv_timeout(Duration::from_millis(200)) {
            demo.joining.remove(&person);
            match result {
                Ok(p) => {
                    demo.tally.joins += 1;
                    demo.live.push(Live::new(person, p));
                }
                Err(e) => demo.problem(format!("a join failed: {e}")),
            }
        }
    }
    let mut checks: Vec<(String, bool)> = Vec::new();
    if !interrupted {
        // The end: everyone present should know everyone else's sources.
        let deadline = Instant::now() + Duration::from_secs(15);
        let mismatches = loop {
            let wrong: Vec<String> = demo
                .live
                .iter()
                .flat_map(|l| {
                    let view = l.p.view();
                    let mut w = sync_of(l, &view, &demo.live).wrong;
                    // Alone, its session may have ended by the
                    // single-participant timeout.
                    let alone = alone(l, &demo.live);
                    let accepted = view.session_accepted() && view.jingle.terminated.is_none();
                    if !accepted && !alone {
                        w.push(format!("{} has no accepted session", l.p.nick()));
                    }
                    w
                })
                .collect();
            if wrong.is_empty() || Instant::now() >= deadline {
                break wrong;
            }
            std::thread::sleep(Duration::from_millis(250));
        };
        demo.collect_problems();
        let frame = demo.render("final");
        print!("{frame}");
        for m in &mismatches {
            println!("  MISMATCH {m}");
        }
        checks.push((
            format!(
                "every active participant knew every other's sources at the end ({} participants)",
                demo.live.len()
            ),
            mismatches.is_empty() && !demo.live.is_empty(),
        ));
        // The focus agrees: members and active sessions.
        let full = rest_json(
            demo.args.rest_port,
            "/debug/conferences-full",
            &mut demo.tally,
        );
        let mut focus_wrong = Vec::new();
        for l in &demo.live {
            let f = full
                .as_ref()
                .and_then(|v| v.get(l.p.room()))
                .map(|c| &c["colibri_session_manager"]["participants"][l.p.nick()]);
            match f.map(|f| text(&f["session"])) {
                Some(s) if s == "Active" => {}
                // Alone: not invited yet, or ended by the
                // single-participant timeout.
                _ if alone(l, &demo.live) => {}
                other => focus_wrong.push(format!("{}: {other:?}", l.p.nick())),
            }
        }
        checks.push((
            format!(
                "the focus has an active session for each of them (unless alone){}",
                if focus_wrong.is_empty() {
                    String::new()
                } else {
                    format!(" (not: {})", focus_wrong.join(", "))
                }
            ),
            focus_wrong.is_empty() && full.is_some(),
        ));
        if demo.args.regions.len() > 1 {
            checks.push((
                format!(
                    "participants were on {} bridges ({})",
                    demo.tally.bridges_used.len(),
                    demo.tally
                        .bridges_used
                        .iter()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                demo.tally.bridges_used.len() >= 2,
            ));
            checks.push((
                "a conference spanned two bridges with relays between them".into(),
                demo.tally.relays_seen,
            ));
        }
    }
    // Everyone leaves; the focus should end every conference.
    let leaving = std::mem::take(&mut demo.live);
    for l in leaving {
        demo.leave(l);
    }
    if !interrupted {
        let deadline = Instant::now() + Duration::from_secs(10);
        let ended = loop {
            let left = rest_json(demo.args.rest_port, "/debug/conferences", &mut demo.tally)
                .and_then(|v| v.as_array().map(Vec::len));
            if left == Some(0) || Instant::now() >= deadline {
                break left == Some(0);
            }
            std::thread::sleep(Duration::from_millis(250));
        };
        checks.push((
            "the focus ended every conference once everyone had left".into(),
            ended,
        ));
        checks.push((
            format!(
                "the focus's REST API answered every time ({} failures)",
                demo.tally.rest_failures
            ),
            demo.tally.rest_failures == 0,
        ));
    }
    // The summary.
    let views: Vec<&MediaView> = demo.gone.iter().collect();
    let accepted = views.iter().filter(|v| v.session_accepted()).count();
    let count = |action: &str| {
        views
            .iter()
            .map(|v| v.jingle.actions.iter().filter(|a| *a == action).count())
            .sum::<usize>()
    };
    let error_answers: usize = views.iter().map(|v| v.refused().len()).sum();
    println!(
        "\n━━ summary after {:.0} s (seed {}) ━━",
        demo.start.elapsed().as_secs_f64(),
        demo.args.seed
    );
    println!(
        "  joins: {} ({} distinct people, {} came back), leaves before the end: {}",
        demo.tally.joins,
        demo.people.len(),
        demo.tally.joins as usize - demo.people.len().min(demo.tally.joins as usize),
        demo.tally.leaves
    );
    println!(
        "  sessions accepted: {accepted} of {} endpoints",
        views.len()
    );
    println!(
        "  Jingle received: {} session-initiate, {} source-add, {} source-remove, {} session-terminate",
        count("session-initiate"),
        count("source-add"),
        count("source-remove"),
        count("session-terminate")
    );
    println!(
        "  screen shares: {}, largest conference: {} members, error answers: {error_answers}",
        demo.tally.shares, demo.tally.max_members
    );
    if demo.tally.problems.is_empty() {
        println!("  problems seen by participants: none");
    } else {
        println!(
            "  problems seen by participants: {}",
            demo.tally.problems.len()
        );
        for p in &demo.tally.problems {
            println!("    - {p}");
        }
    }
    checks.insert(
        0,
        (
            "no participant recorded a problem or an error answer".into(),
            demo.tally.problems.is_empty() && error_answers == 0,
        ),
    );
    for (what, ok) in &checks {
        println!("  [{}] {what}", if *ok { " ok " } else { "FAIL" });
    }
    if interrupted {
        println!("  interrupted: the end checks were skipped");
        exit(130);
    }
    let ok = checks.iter().all(|(_, ok)| *ok);
    println!(
        "  {}",
        if ok {
            "all good"
        } else {
            "SOMETHING WENT WRONG (see above)"
        }
    );
    exit(if ok { 0 } else { 1 });
}
