//! Structured fuzzing of the focus through the simulation: the fuzz target
//! `jingle_session` (`fuzz/fuzz_targets/jingle_session.rs`), also replayed
//! over its corpus and on random input by `tests/tests/fuzz_replay.rs`.
//!
//! [`jingle_session`] starts a conference with media (the real focus with
//! the brewery, one emulated bridge, two or three participants whose
//! sessions are accepted), then reads the rest of its input as a sequence
//! of operations: Jingle requests a participant sends on its own session
//! (so the server stamps `from`), joins, leaves, dropped connections,
//! virtual time, the bridge crashing and coming back. After every
//! operation it lets virtual time settle for a second and checks the
//! invariants listed on [`jingle_session`].
//!
//! # Input format
//!
//! Every read past the end of the input is a zero byte.
//!
//! | bytes | meaning |
//! |-------|---------|
//! | 0–1   | seed of the simulation (`u16`, little endian) |
//! | 2     | set-up: bit 0 three participants (else two); bit 1 the last one without simulcast |
//! | 3…    | operations, at most [`MAX_OPS`], until the input ends |
//!
//! An operation is an opcode byte `op` and operands; `op % 16`:
//!
//! - `0..=9` — a Jingle request, operands `who action count (kind idx)* groups (g)*`:
//!   - `who`: the sender is the `(who & 15) % n`-th participant still in
//!     the room; `who >> 4 & 3` picks the `sid`: 0, 1 its current one, 2
//!     another participant's, 3 garbage;
//!   - `(action & 15) % 12`: 0 `session-accept`, 1 `source-add`, 2
//!     `source-remove`, 3 `session-terminate`, 4 `session-terminate` asking
//!     for a restart (`bridge-session restart='true'`), 5
//!     `transport-info`, 6 `session-info` (an in-place ICE restart request,
//!     `bridge-session ice-restart='true'`, or with bit 6 the legacy
//!     `ice-state` failed), 7 an unknown action, 8 no action, 9
//!     `addsource`, 10 `transport-accept`, 11 `transport-reject`; bit 7
//!     adds an ICE transport to the first content, bit 6 a `json-message`,
//!     bit 5 makes the `bridge-session` id garbage (it is the participant's
//!     current one otherwise), bit 4 leaves the `bridge-session` out
//!     (`session-terminate` and `session-info` carry one);
//!   - `count % 8` sources: 0 → none, 1–4 → that many, 5 → 6, 7 → 2, 6 →
//!     `100 + 10 * (count >> 3)` generated audio sources (100–410, no
//!     further operand bytes); each of the others reads `kind idx`: the
//!     SSRC by `kind & 7` (0, 6 one of its own, the `idx`-th; 1 another
//!     participant's; 2, 3, 7 a shared pool `10000 + idx % 32`; 4 zero; 5
//!     `u32::MAX - idx % 4`), the media by `kind >> 3 & 3` (audio,
//!     video, video, garbage), `msid` unless bit 5, the name by
//!     `kind >> 6` (`<nick>-a0`/`<nick>-v0`, `<nick>-v<idx % 3>`, none,
//!     one shared by everybody with a shared `msid`);
//!   - `groups % 4` groups, each one byte `g`: semantics by `g % 4` (FID,
//!     SIM, FID, garbage), `2 + (g >> 2) % 2` SSRCs: the message's own
//!     sources when bit 3, else the pool (mostly not signaled).
//! - `10` — `who`: the participant leaves;
//! - `11` — a new participant joins (at most [`MAX_PARTICIPANTS`] ever);
//! - `12` — `who`: the participant's connection drops;
//! - `13` — `t`: virtual time advances `100 ms * t`;
//! - `14` — the bridge crashes;
//! - `15` — the bridge comes back (a fresh emulator, when it is down).
//!
//! With `JINGLE_SESSION_VERBOSE` set, every operation (and the focus's
//! answer) is printed to stderr.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::Duration;

use focus_proto::conference::media::SessionState;
use focus_proto::source::{MediaType, strip_simulcast};
use jid::BareJid;
use minidom::Element;

use crate::sim::{
    BridgeId, BridgeState, MediaSpec, ParticipantId, ParticipantSpec, Sim, to_xml, xml,
};

/// The conference of every run.
pub const ROOM: &str = "fuzz@muc.meet.jitsi";
/// Most operations read from one input.
pub const MAX_OPS: usize = 48;
/// Most participants one run ever adds.
pub const MAX_PARTICIPANTS: usize = 6;

const NS_JINGLE: &str = "urn:xmpp:jingle:1";
const NS_RTP: &str = "urn:xmpp:jingle:apps:rtp:1";
const NS_SSMA: &str = "urn:xmpp:jingle:apps:rtp:ssma:0";
const NS_FOCUS_PROTO: &str = "http://jitsi.org/protocol/focus";
/// The shared pool of "fresh" SSRCs.
const POOL: u32 = 10_000;
/// The bridge's own sources in a receiver's view.
const JVB: &str = "jvb";

/// The input, read a byte at a time (zero past the end).
struct Reader<'a> {
    data: &'a [u8],
}

impl Reader<'_> {
    fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

/// The simulation with an active conference with media, seeded from the
/// first bytes of `data`, then the operations of the rest (see the
/// [module docs](self) for the format). After the set-up and after every
/// operation (and a settling second of virtual time) it checks:
///
/// - nothing panicked (the focus, the simulation);
/// - every Jingle request a participant sent was answered, with a `result`
///   or an `error` (a participant that left or dropped may lose its answer);
///   so were the session-accepts the clients sent by themselves;
/// - in every view of a participant in the room: no SSRC under two owners,
///   never its own endpoint as an owner; when its session is active (the
///   focus says `Active`, same `sid` as the client), for every other owner
///   exactly the audio and video SSRCs the focus accepted for it, simulcast
///   stripped;
/// - the focus's source map holds each SSRC once, only for occupants;
/// - no participant in the room failed to understand a Jingle request of
///   the focus (a source without owner, a request for another session...);
/// - the running bridge's endpoints are exactly the participants the focus
///   has an endpoint allocated for on it, each with the audio and video
///   SSRCs the focus accepted for it;
/// - no ERROR log of the focus ([`Sim::errors`] is empty).
///
/// # Panics
///
/// When an invariant does not hold, with the trace of the run.
pub fn jingle_session(data: &[u8]) {
    let mut input = Reader { data };
    let seed = u64::from(u16::from_le_bytes([input.byte(), input.byte()]));
    let setup = input.byte();
    // JINGLE_SESSION_VERBOSE=1: every operation and its answer on stderr.
    let verbose = std::env::var_os("JINGLE_SESSION_VERBOSE").is_some();
    let mut run = Run::start(seed, setup);
    run.check("set-up");
    for n in 0..MAX_OPS {
        if input.is_empty() {
            break;
        }
        let what = run.op(&mut input);
        if verbose {
            eprintln!("jingle_session: operation {n}: {what}");
        }
        run.settle();
        run.check(&format!("operation {n}: {what}"));
    }
}

/// One run: the simulation and what the harness remembers.
struct Run {
    sim: Sim,
    bridge: BridgeId,
    room: BareJid,
    /// Every participant added, in order.
    all: Vec<ParticipantId>,
    /// Every Jingle request sent by the harness: who, id, action.
    sent: Vec<(ParticipantId, String, String)>,
}

impl Run {
    fn start(seed: u64, setup: u8) -> Self {
        let mut sim = Sim::builder()
            .seed(seed)
            .with_brewery()
            .allow_errors()
            .build();
        let bridge = sim.add_ready_bridge("jvb-1", seed);
        let count = if setup & 1 == 1 { 3 } else { 2 };
        let mut all = Vec::new();
        for i in 0..count {
            let mut spec = ParticipantSpec::new(ROOM);
            if i == count - 1 && setup & 2 == 2 {
                spec.media = MediaSpec {
                    simulcast: false,
                    ..MediaSpec::default()
                };
            }
            all.push(sim.add_participant(spec));
        }
        let accepted = sim.run_until(
            |s| all.iter().all(|p| s.participant(*p).jingle().accepted),
            Duration::from_secs(10),
        );
        assert!(accepted, "sessions not accepted:\n{}", sim.trace_text());
        let mut run = Self {
            sim,
            bridge,
            room: BareJid::new(ROOM).expect("the room JID"),
            all,
            sent: Vec::new(),
        };
        run.settle();
        run
    }

    fn settle(&mut self) {
        self.sim.run_for(Duration::from_secs(1));
    }

    /// The participants in the room, in order.
    fn present(&self) -> Vec<ParticipantId> {
        self.all
            .iter()
            .copied()
            .filter(|p| self.sim.participant(*p).in_room())
            .collect()
    }

    fn nick(&self, p: ParticipantId) -> String {
        self.sim.participant(p).nick().to_owned()
    }

    /// Reads and performs one operation; what it was, for failures.
    fn op(&mut self, input: &mut Reader<'_>) -> String {
        let op = input.byte();
        match op % 16 {
            0..=9 => self.jingle(input),
            10 | 12 => {
                let who = input.byte();
                let present = self.present();
                if present.is_empty() {
                    return "nobody to leave".into();
                }
                let p = present[usize::from(who) % present.len()];
                if op % 16 == 10 {
                    self.sim.leave(p);
                    format!("#{} leaves", p.0)
                } else {
                    self.sim.disconnect(p);
                    format!("#{} drops", p.0)
                }
            }
            11 => {
                if self.all.len() >= MAX_PARTICIPANTS {
                    return "no more joins".into();
                }
                let p = self.sim.add_participant(ParticipantSpec::new(ROOM));
                self.all.push(p);
                format!("#{} joins", p.0)
            }
            13 => {
                let t = input.byte();
                self.sim.run_for(Duration::from_millis(100) * u32::from(t));
                format!("{} ms pass", 100 * u32::from(t))
            }
            14 => {
                self.sim.crash_bridge(self.bridge);
                "the bridge crashes".into()
            }
            _ => {
                if self.sim.bridge_state(self.bridge) != BridgeState::Running {
                    self.sim.restart_bridge(self.bridge);
                }
                "the bridge comes back".into()
            }
        }
    }

    /// A crafted Jingle request from a participant in the room, and its
    /// answer awaited.
    fn jingle(&mut self, input: &mut Reader<'_>) -> String {
        let who = input.byte();
        let action_byte = input.byte();
        let present = self.present();
        if present.is_empty() {
            // Still read the operands, so that the format stays aligned.
            let _ = self.sources(input, None);
            return "Jingle with nobody in the room".into();
        }
        let p = present[usize::from(who & 0x0f) % present.len()];
        let nick = self.nick(p);
        let sid = match (who >> 4) % 4 {
            0 | 1 => self.sim.participant(p).jingle().sid.clone(),
            2 => present
                .iter()
                .filter(|o| **o != p)
                .find_map(|o| self.sim.participant(*o).jingle().sid.clone()),
            _ => Some("garbage-sid".into()),
        }
        .unwrap_or_else(|| "no-sid".into());
        let action_code = (action_byte & 0x0f) % 12;
        let action = match action_code {
            0 => Some("session-accept"),
            1 => Some("source-add"),
            2 => Some("source-remove"),
            3 | 4 => Some("session-terminate"),
            5 => Some("transport-info"),
            6 => Some("session-info"),
            7 => Some("content-bogus"),
            8 => None,
            9 => Some("addsource"),
            10 => Some("transport-accept"),
            _ => Some("transport-reject"),
        };
        let body = self.sources(input, Some(p));
        let mut text = format!("<jingle xmlns='{NS_JINGLE}' sid='{}'", escape(&sid));
        if let Some(a) = action {
            let _ = write!(text, " action='{a}'");
        }
        text.push('>');
        let transport = action_byte & 0x80 != 0;
        let mut first = true;
        for (media, inner) in &body.contents {
            let _ = write!(
                text,
                "<content creator='responder' name='{media}' senders='both'>\
                 <description xmlns='{NS_RTP}' media='{media}'>{inner}</description>"
            );
            if transport && first {
                text.push_str(TRANSPORT);
            }
            first = false;
            text.push_str("</content>");
        }
        if transport && first {
            let _ = write!(
                text,
                "<content creator='responder' name='audio'>{TRANSPORT}</content>"
            );
        }
        if action_byte & 0x40 != 0 {
            let ssrc = body.ssrcs.first().copied().unwrap_or(POOL);
            let _ = write!(
                text,
                "<json-message xmlns='http://jitsi.org/jitmeet'>\
                 {{\"sources\":{{\"{nick}\":[[{{\"s\":{ssrc}}}],[],[{{\"s\":{}}}]]}}}}\
                 </json-message>",
                ssrc.wrapping_add(1)
            );
        }
        if action_code == 6 && action_byte & 0x40 != 0 {
            let _ = write!(
                text,
                "<ice-state xmlns='{NS_FOCUS_PROTO}'>failed</ice-state>"
            );
        }
        if matches!(action_code, 3 | 4 | 6) && action_byte & 0x10 == 0 {
            let id = if action_byte & 0x20 != 0 {
                Some("deadbeefdeadbeef".to_owned())
            } else {
                self.sim.participant(p).jingle().bridge_session.clone()
            };
            text.push_str("<bridge-session xmlns='");
            text.push_str(NS_FOCUS_PROTO);
            text.push('\'');
            if let Some(id) = id {
                let _ = write!(text, " id='{}'", escape(&id));
            }
            if action_code == 4 {
                text.push_str(" restart='true'");
            }
            if action_code == 6 && action_byte & 0x40 == 0 {
                text.push_str(" ice-restart='true'");
            }
            text.push_str("/>");
        }
        if matches!(action_code, 3 | 4) {
            text.push_str("<reason><success/></reason>");
        }
        text.push_str("</jingle>");
        let jingle: Element = xml(&text);
        let id = self.sim.send_jingle(p, jingle.clone());
        let answered = self.sim.run_until(
            |s| s.participant(p).jingle_answer(&id).is_some(),
            Duration::from_secs(5),
        );
        let described = format!(
            "#{} ({nick}) sends {} sources: {}",
            p.0,
            body.ssrcs.len(),
            abbreviate(&to_xml(&jingle))
        );
        if !answered && self.sim.participant(p).in_room() {
            self.fail(&format!("{described}: no answer to {id}"));
        }
        let answer = self.sim.participant(p).jingle_answer(&id).map_or_else(
            || "no answer".to_owned(),
            |a| format!("{} {:?} {:?}", a.kind, a.condition, a.text),
        );
        let described = format!("{described} → {answer}");
        self.sent.push((p, id, action.unwrap_or("").to_owned()));
        described
    }

    /// Reads the sources and groups of a Jingle request from `p` (`None`:
    /// only consume the operands): contents by media, and the SSRCs.
    fn sources(&self, input: &mut Reader<'_>, p: Option<ParticipantId>) -> Body {
        let count = input.byte();
        let n = match count % 8 {
            0 => 0,
            c @ 1..=4 => usize::from(c),
            5 => 6,
            6 => 100 + 10 * usize::from(count >> 3),
            _ => 2,
        };
        let nick = p.map(|p| self.nick(p)).unwrap_or_default();
        let own: Vec<u32> = p
            .map(|p| {
                self.sim
                    .participant(p)
                    .own_sources()
                    .sources
                    .iter()
                    .map(|s| s.ssrc)
                    .collect()
            })
            .unwrap_or_default();
        let others: Vec<u32> = self
            .all
            .iter()
            .filter(|o| Some(**o) != p)
            .flat_map(|o| self.sim.participant(*o).own_sources().ssrcs())
            .collect();
        let mut contents: BTreeMap<&'static str, String> = BTreeMap::new();
        let mut ssrcs = Vec::new();
        if count % 8 == 6 {
            let inner = contents.entry("audio").or_default();
            for i in 0..n {
                let ssrc = 20_000 + i as u32;
                ssrcs.push(ssrc);
                let _ = write!(
                    inner,
                    "<source xmlns='{NS_SSMA}' ssrc='{ssrc}' name='{nick}-a{i}'>\
                     <parameter name='msid' value='m{i} t{i}'/></source>"
                );
            }
        } else {
            for _ in 0..n {
                let kind = input.byte();
                let idx = input.byte();
                let pick = |list: &[u32]| match list.len() {
                    0 => POOL,
                    len => list[usize::from(idx) % len],
                };
                let ssrc = match kind & 7 {
                    0 | 6 => pick(&own),
                    1 => pick(&others),
                    2 | 3 | 7 => POOL + u32::from(idx % 32),
                    4 => 0,
                    _ => u32::MAX - u32::from(idx % 4),
                };
                let media = match (kind >> 3) & 3 {
                    0 => "audio",
                    1 | 2 => "video",
                    _ => "text",
                };
                let letter = if media == "audio" { 'a' } else { 'v' };
                let (name, msid) = match kind >> 6 {
                    0 => (
                        Some(format!("{nick}-{letter}0")),
                        format!("{nick}-{media}-0 {nick}-track-{letter}0"),
                    ),
                    1 => (
                        Some(format!("{nick}-v{}", idx % 3)),
                        format!("{nick}-video-{} {nick}-track-v{}", idx % 3, idx % 3),
                    ),
                    2 => (None, format!("{nick}-{media}-9 {nick}-track-9")),
                    _ => (Some("shared".to_owned()), "shared stream".to_owned()),
                };
                ssrcs.push(ssrc);
                let inner = contents.entry(media).or_default();
                let _ = write!(inner, "<source xmlns='{NS_SSMA}' ssrc='{ssrc}'");
                if let Some(name) = name {
                    let _ = write!(inner, " name='{name}'");
                }
                inner.push('>');
                if kind & 0x20 == 0 {
                    let _ = write!(inner, "<parameter name='msid' value='{msid}'/>");
                }
                inner.push_str("</source>");
            }
        }
        let groups = input.byte() % 4;
        for _ in 0..groups {
            let g = input.byte();
            let semantics = match g % 4 {
                0 | 2 => "FID",
                1 => "SIM",
                _ => "XYZ",
            };
            let size = 2 + usize::from((g >> 2) % 2);
            let members: Vec<u32> = (0..size)
                .map(|j| {
                    if g & 0x08 != 0 && !ssrcs.is_empty() {
                        ssrcs[j % ssrcs.len()]
                    } else {
                        POOL + (u32::from(g >> 4) + j as u32) % 32
                    }
                })
                .collect();
            let mut group = format!("<ssrc-group xmlns='{NS_SSMA}' semantics='{semantics}'>");
            for s in members {
                let _ = write!(group, "<source ssrc='{s}'/>");
            }
            group.push_str("</ssrc-group>");
            contents.entry("video").or_default().push_str(&group);
        }
        Body { contents, ssrcs }
    }

    // ----- invariants --------------------------------------------------------

    /// Checks every invariant (see [`jingle_session`]).
    fn check(&self, when: &str) {
        let errors = self.sim.errors();
        if !errors.is_empty() {
            self.fail(&format!("{when}: ERROR logs:\n  {}", errors.join("\n  ")));
        }
        self.check_answers(when);
        self.check_views(when);
        self.check_bridge(when);
    }

    fn check_answers(&self, when: &str) {
        for (p, id, action) in &self.sent {
            let participant = self.sim.participant(*p);
            match participant.jingle_answer(id) {
                Some(a) if a.kind == "result" || a.kind == "error" => {}
                Some(a) => self.fail(&format!(
                    "{when}: the answer to #{}'s {action} is neither result nor error: {}",
                    p.0,
                    to_xml(&a.stanza)
                )),
                None if participant.in_room() => self.fail(&format!(
                    "{when}: #{}'s {action} ({id}) was never answered",
                    p.0
                )),
                None => {}
            }
        }
        for p in &self.all {
            for a in self.sim.participant(*p).jingle_answers() {
                if a.kind != "result" && a.kind != "error" {
                    self.fail(&format!(
                        "{when}: #{} got an answer of type {:?}: {}",
                        p.0,
                        a.kind,
                        to_xml(&a.stanza)
                    ));
                }
            }
        }
    }

    fn check_views(&self, when: &str) {
        let conference = self.sim.focus().conferences().get(&self.room);
        let map = conference.map(|c| c.media.sources.map());
        let present = self.present();
        let nicks: BTreeSet<String> = present.iter().map(|p| self.nick(*p)).collect();
        // The focus's map: each SSRC once, only occupants.
        let mut owner_of: BTreeMap<u32, &str> = BTreeMap::new();
        if let Some(map) = map {
            for (owner, set) in map.iter() {
                if !nicks.contains(owner) {
                    self.fail(&format!(
                        "{when}: the focus holds sources of {owner}, not in the room"
                    ));
                }
                for s in set.sources() {
                    if let Some(other) = owner_of.insert(s.ssrc.get(), owner) {
                        self.fail(&format!(
                            "{when}: the focus has SSRC {} for {other} and {owner}",
                            s.ssrc
                        ));
                    }
                }
            }
        }
        for r in &present {
            let me = self.nick(*r);
            let participant = self.sim.participant(*r);
            let j = participant.jingle();
            // A client drops the sources of occupants that left the MUC
            // (the focus sends no source-remove then, sources.md 4).
            let told: BTreeMap<&str, &BTreeSet<u32>> = j
                .remote
                .iter()
                .filter(|(owner, _)| *owner == JVB || participant.occupant(owner).is_some())
                .map(|(o, s)| (o.as_str(), s))
                .collect();
            let mut seen: BTreeMap<u32, &str> = BTreeMap::new();
            for (owner, ssrcs) in told.iter().map(|(o, s)| (*o, *s)) {
                if owner == me.as_str() {
                    self.fail(&format!("{when}: #{} ({me}) is told of itself", r.0));
                }
                for s in ssrcs {
                    if let Some(other) = seen.insert(*s, owner) {
                        self.fail(&format!(
                            "{when}: #{} ({me}) sees SSRC {s} under {other} and {owner}",
                            r.0
                        ));
                    }
                }
            }
            if let Some(problem) = j.problems.first() {
                self.fail(&format!(
                    "{when}: #{} ({me}) could not understand the focus: {problem}",
                    r.0
                ));
            }
            let focus_side = conference.and_then(|c| c.media.participants.get(&me));
            let active = focus_side.is_some_and(|m| {
                m.state == SessionState::Active && m.sid.is_some() && m.sid == j.sid
            }) && j.accepted
                && j.terminated.is_none();
            if !active {
                continue;
            }
            let Some(map) = map else { continue };
            let mut expected: BTreeMap<&str, BTreeSet<u32>> = BTreeMap::new();
            for (owner, set) in map.iter() {
                if owner == me {
                    continue;
                }
                let ssrcs: BTreeSet<u32> = strip_simulcast(set)
                    .sources()
                    .iter()
                    .filter(|s| matches!(s.media_type, MediaType::Audio | MediaType::Video))
                    .map(|s| s.ssrc.get())
                    .collect();
                if !ssrcs.is_empty() {
                    expected.insert(owner, ssrcs);
                }
            }
            let told: BTreeMap<&str, BTreeSet<u32>> = told
                .into_iter()
                .filter(|(owner, _)| *owner != JVB)
                .map(|(o, s)| (o, s.clone()))
                .collect();
            if told != expected {
                self.fail(&format!(
                    "{when}: #{} ({me}) was told {told:?}, the focus accepted {expected:?}",
                    r.0
                ));
            }
        }
    }

    fn check_bridge(&self, when: &str) {
        if self.sim.bridge_state(self.bridge) != BridgeState::Running {
            return;
        }
        let emulator = self.sim.bridge(self.bridge);
        if !emulator.is_joined() {
            return;
        }
        let on_bridge: BTreeSet<String> = emulator
            .conferences()
            .into_iter()
            .flat_map(|c| c.endpoints.keys().cloned())
            .collect();
        let jid = self.sim.bridge_jid(self.bridge);
        let allocated: BTreeSet<String> = self
            .sim
            .focus()
            .conferences()
            .get(&self.room)
            .map(|c| {
                c.media
                    .participants
                    .iter()
                    .filter(|(_, m)| m.bridge.as_ref().is_some_and(|b| b.as_str() == jid))
                    .map(|(nick, _)| nick.clone())
                    .collect()
            })
            .unwrap_or_default();
        if on_bridge != allocated {
            self.fail(&format!(
                "{when}: the bridge has endpoints {on_bridge:?}, the focus allocated {allocated:?}"
            ));
        }
        // Each endpoint's sources on the bridge are what the focus accepted.
        let map = self
            .sim
            .focus()
            .conferences()
            .get(&self.room)
            .map(|c| c.media.sources.map());
        for endpoint in emulator
            .conferences()
            .into_iter()
            .flat_map(|c| c.endpoints.values())
        {
            let on_bridge: BTreeSet<u32> = endpoint
                .sources
                .iter()
                .flat_map(|m| m.sources.iter().map(|s| s.ssrc))
                .collect();
            let accepted: BTreeSet<u32> = map
                .and_then(|m| m.get(&endpoint.id))
                .map(|set| {
                    set.sources()
                        .iter()
                        .filter(|s| matches!(s.media_type, MediaType::Audio | MediaType::Video))
                        .map(|s| s.ssrc.get())
                        .collect()
                })
                .unwrap_or_default();
            if on_bridge != accepted {
                self.fail(&format!(
                    "{when}: the bridge has SSRCs {on_bridge:?} for {}, the focus accepted {accepted:?}",
                    endpoint.id
                ));
            }
        }
    }

    #[track_caller]
    fn fail(&self, what: &str) -> ! {
        panic!(
            "jingle_session: {what}\n--- trace ---\n{}",
            self.sim.trace_text()
        );
    }
}

/// The sources of one request.
struct Body {
    /// `<source>`/`<ssrc-group>` elements by media (a content each).
    contents: BTreeMap<&'static str, String>,
    /// Every SSRC named by a `<source>`, in order.
    ssrcs: Vec<u32>,
}

/// An ICE transport as a client sends it.
const TRANSPORT: &str = "<transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' \
    ufrag='fuzz' pwd='fuzzfuzzfuzzfuzzfuzzfuzz'>\
    <fingerprint xmlns='urn:xmpp:jingle:apps:dtls:0' hash='sha-256' setup='active'>\
    AB:CD:EF:01</fingerprint>\
    <candidate component='1' foundation='1' generation='0' id='c1' ip='192.0.2.1' \
    network='0' port='10000' priority='1' protocol='udp' type='host'/>\
    </transport>";

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('\'', "&apos;")
        .replace('<', "&lt;")
}

/// At most 600 characters of `text`.
fn abbreviate(text: &str) -> String {
    match text.char_indices().nth(600) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}
