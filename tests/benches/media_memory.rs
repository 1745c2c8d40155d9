//! The focus's memory with media conferences (issue 5): live heap bytes of
//! the focus holding 10,000 participants in 1,000 conferences of ten, on
//! two emulated bridges.
//!
//! The simulation runs everything in one process, so the focus's share is
//! isolated by replay: the run is simulated once (trace on), then every
//! stanza the focus received is fed, at its virtual time and with the
//! focus's timeouts in between, to a fresh `focus_proto::Focus` with the
//! same seed (each parsed just before it is handed in; outputs dropped at
//! once, each checked against what the focus sent in the simulation). A
//! counting global allocator gives the live bytes before, after the bridges
//! joined (the empty focus), and once every participant has its session
//! accepted and its sources relayed. That difference is the focus's own
//! state, whatever keeps it: conferences, members, sources, bridge
//! sessions, pending IQs, timers.
//!
//! `cargo bench -p focus-tests --bench media_memory` prints the figures;
//! `-- --quick` uses 1,000 participants in 100 conferences.
#![allow(clippy::disallowed_methods)] // a benchmark reads the clock

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use focus_proto::bridge::BridgeEvent;
use focus_proto::config::Config;
use focus_proto::rng::FocusRng;
use focus_proto::{ConnId, Event, Focus, Input, Output};
use focus_tests::sim::{
    BREWERY_JID, BridgeOptions, ParticipantId, ParticipantSpec, Sim, TraceKind, to_xml,
    xml as sim_xml,
};

/// Counts the bytes and blocks the program holds.
struct Counting;

static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);
static LIVE_BLOCKS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call goes to `System` unchanged; the counters are only
// arithmetic on the sizes asked for.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
            LIVE_BLOCKS.fetch_add(1, Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
            LIVE_BLOCKS.fetch_add(1, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) };
        LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        LIVE_BLOCKS.fetch_sub(1, Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(new_size, Ordering::Relaxed);
            LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Live bytes and blocks now.
fn live() -> (usize, usize) {
    (
        LIVE_BYTES.load(Ordering::Relaxed),
        LIVE_BLOCKS.load(Ordering::Relaxed),
    )
}

const SEED: [u8; 32] = [6; 32];
const PER_ROOM: usize = 10;
const BRIDGES: usize = 2;

/// What the focus received and sent in one simulated run.
struct Capture {
    config: Arc<Config>,
    jid: jid::FullJid,
    /// Received stanzas with their virtual time since the start.
    inputs: Vec<(Duration, String)>,
    /// Sent stanzas, in order, as the trace has them.
    sent: Vec<String>,
    /// When the participants were added (the bridges were in by then).
    participants_from: Duration,
    /// Virtual time at the end of the run.
    end: Duration,
    /// Real time the simulation took from adding the participants.
    took: Duration,
}

/// Simulates `rooms` conferences of [`PER_ROOM`], all joined and idle, and
/// keeps the focus's traffic.
fn capture(rooms: usize) -> Capture {
    let builder = Sim::builder().seed_bytes(SEED).with_brewery();
    let config = builder.focus_config();
    let mut sim = builder.build();
    for i in 0..BRIDGES {
        let mut options = BridgeOptions::new(BREWERY_JID, &format!("jvb-{i}"));
        options.seed = i as u64;
        sim.add_bridge(options);
    }
    let ready = sim.run_until(
        |s| {
            s.events()
                .iter()
                .filter(|(_, e)| matches!(e, Event::Bridge(BridgeEvent::Added { .. })))
                .count()
                == BRIDGES
        },
        Duration::from_secs(10),
    );
    assert!(ready, "the bridges never joined");
    sim.run_for(Duration::from_secs(1));
    let participants_from = sim.elapsed();
    let started = Instant::now();
    let ids: Vec<Vec<ParticipantId>> = (0..rooms)
        .map(|r| {
            (0..PER_ROOM)
                .map(|_| {
                    sim.add_participant(ParticipantSpec::new(format!("room{r}@muc.meet.jitsi")))
                })
                .collect()
        })
        .collect();
    assert!(
        sim.run_until_idle_or(Duration::from_secs(600)),
        "the simulation never got idle"
    );
    let took = started.elapsed();
    for room in &ids {
        for &p in room {
            let jingle = sim.participant(p).jingle();
            assert!(jingle.accepted, "{p:?} never accepted");
            let seen = room
                .iter()
                .filter(|o| jingle.remote.contains_key(sim.participant(**o).nick()))
                .count();
            assert_eq!(seen, PER_ROOM - 1, "{p:?} misses sources");
        }
    }
    sim.assert_no_errors();
    let focus_jid = sim.focus_jid().to_owned();
    let mut inputs = Vec::new();
    let mut sent = Vec::new();
    for entry in sim.trace().entries() {
        match &entry.kind {
            TraceKind::Received { to, xml } if *to == focus_jid => {
                inputs.push((entry.at, xml.clone()));
            }
            TraceKind::Sent { from, xml } if *from == focus_jid => sent.push(xml.clone()),
            _ => {}
        }
    }
    inputs.shrink_to_fit();
    sent.shrink_to_fit();
    Capture {
        config: Arc::new(config),
        jid: jid::FullJid::new(&focus_jid).expect("the focus JID"),
        inputs,
        sent,
        participants_from,
        end: sim.elapsed(),
        took,
    }
}

/// A fresh focus fed as the simulation fed it.
struct Replay<'a> {
    c: &'a Capture,
    focus: Focus,
    start: Instant,
    now: Instant,
    sent: usize,
}

impl<'a> Replay<'a> {
    fn new(c: &'a Capture) -> Self {
        let start = Instant::now();
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600);
        let seed = FocusRng::from_seed(SEED).child_seed();
        let focus = Focus::new(c.config.clone(), seed, start, wall);
        let mut r = Self {
            c,
            focus,
            start,
            now: start,
            sent: 0,
        };
        let connected = Input::Connected {
            conn: ConnId::Client,
            jid: c.jid.clone(),
        };
        r.focus.handle_input(start, connected).expect("connected");
        r.drain();
        r
    }

    /// Drops the outputs, checking each stanza against the simulation's.
    fn drain(&mut self) {
        while let Some(o) = self.focus.poll_output() {
            if let Output::Send { stanza, .. } = o {
                if let Some(expected) = self.c.sent.get(self.sent) {
                    let got = to_xml(&stanza);
                    assert!(
                        got == *expected,
                        "the replay diverges at stanza {}:\n  sim:    {expected}\n  replay: {got}",
                        self.sent
                    );
                }
                self.sent += 1;
            }
        }
    }

    /// Fires the timeouts due before `t` (or at `t` when `inclusive`); at
    /// one instant the simulation hands the focus its stanzas first.
    fn fire(&mut self, t: Instant, inclusive: bool) {
        let mut fired = 0;
        while let Some(d) = self.focus.poll_timeout() {
            if d > t || (d == t && !inclusive) {
                break;
            }
            fired += 1;
            assert!(fired < 10_000, "the focus's deadline is stuck");
            self.focus.handle_timeout(d.max(self.now));
            self.drain();
        }
    }

    /// Feeds the inputs `range`.
    fn feed(&mut self, range: std::ops::Range<usize>) {
        for (at, xml) in &self.c.inputs[range] {
            let t = self.start + *at;
            self.fire(t, false);
            self.now = t;
            let input = Input::Stanza {
                conn: ConnId::Client,
                stanza: sim_xml(xml),
            };
            self.focus.handle_input(t, input).expect("a stanza");
            self.drain();
        }
    }

    fn finish(&mut self) {
        self.fire(self.start + self.c.end, true);
        assert!(
            self.sent >= self.c.sent.len(),
            "the replay sent {} stanzas, the simulation {}",
            self.sent,
            self.c.sent.len()
        );
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let rooms = if quick { 100 } else { 1_000 };
    let participants = rooms * PER_ROOM;
    println!(
        "focus memory: {participants} participants in {rooms} conferences of {PER_ROOM} on {BRIDGES} bridges"
    );
    let (before_sim, _) = live();
    let c = capture(rooms);
    let (after_capture, _) = live();
    println!(
        "  simulated in {:.1} s real time; the captured traffic of the focus: {} stanzas in, {} out ({:.0} MB kept)",
        c.took.as_secs_f64(),
        c.inputs.len(),
        c.sent.len(),
        (after_capture - before_sim) as f64 / 1e6
    );

    let split = c
        .inputs
        .partition_point(|(at, _)| *at < c.participants_from);
    let (bytes0, blocks0) = live();
    let mut replay = Replay::new(&c);
    replay.feed(0..split);
    let (bytes1, blocks1) = live();
    replay.feed(split..c.inputs.len());
    replay.finish();
    let (bytes2, blocks2) = live();

    let conferences = replay.focus.conferences().len();
    let per = |x: usize| x as f64 / participants as f64;
    println!(
        "  empty focus (connected, {BRIDGES} bridges):  {:>10} B in {:>7} blocks",
        bytes1 - bytes0,
        blocks1 - blocks0
    );
    println!(
        "  with the participants:               {:>10} B in {:>7} blocks ({conferences} conferences)",
        bytes2 - bytes0,
        blocks2 - blocks0
    );
    println!(
        "  per participant:                     {:>10.0} B in {:>7.1} blocks ({:.0} B with ~16 B of malloc overhead per block)",
        per(bytes2 - bytes1),
        per(blocks2 - blocks1),
        per(bytes2 - bytes1 + 16 * (blocks2 - blocks1))
    );
    drop(replay);
}
