//! Participant joins per second with media (issue 5): the real focus with
//! the simulated Prosody, two emulated bridges and lib-jitsi-meet
//! participants that answer Jingle, no sockets; next to the floor, the cost
//! of parsing and writing the stanzas those joins need.
//!
//! `cargo bench -p focus-tests --bench media_joins` prints, for conferences
//! of four on two bridges (a join: from the participant's conference request
//! to its session-accept processed and its sources relayed to the bridge and
//! the others):
//!
//! - **whole simulation**: joins per second of real time for the whole
//!   simulated deployment (server, MUC, participants, bridges and focus);
//! - **focus core**: joins per second of the focus alone. The run is
//!   captured once (trace on), then the focus's inputs (every stanza it
//!   received, at its virtual time, with its timeouts) are replayed into a
//!   fresh `focus_proto::Focus` built with the same seed: the replay is
//!   checked to send exactly what the focus sent in the simulation, then
//!   timed (best of three), stanzas pre-parsed, outputs only moved out;
//! - **floor**: the same joins' stanzas parsed (what the focus received)
//!   and written (what it sent) with minidom, as joins per second, and the
//!   ratio core time / floor time.
//!
//! `-- --quick` runs 50 conferences instead of 500 (the CI smoke run).
//! `-- --replay-only N` captures once, then only replays the focus's inputs
//! N times and prints the time of each: a target for a profiler
//! (`perf record -g target/release/deps/media_joins-* --replay-only 20`).
#![allow(clippy::disallowed_methods)] // a benchmark reads the clock

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use focus_proto::bridge::BridgeEvent;
use focus_proto::config::Config;
use focus_proto::rng::FocusRng;
use focus_proto::{ConnId, Event, Focus, Input, Output};
use focus_tests::sim::{
    BREWERY_JID, BridgeOptions, ParticipantId, ParticipantSpec, Sim, TraceKind, xml as sim_xml,
};
use minidom::Element;

const SEED: [u8; 32] = [5; 32];
const PER_ROOM: usize = 4;
const BRIDGES: usize = 2;

/// A simulation with the brewery and [`BRIDGES`] bridges in it, the focus
/// connected; returns it with its configuration.
fn ready_sim(trace: bool) -> (Sim, Config) {
    let builder = Sim::builder().seed_bytes(SEED).with_brewery().trace(trace);
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
    (sim, config)
}

/// Adds `rooms` rooms of [`PER_ROOM`] participants and runs until the
/// simulation is idle; returns their ids by room and the real time taken.
fn join_all(sim: &mut Sim, rooms: usize) -> (Vec<Vec<ParticipantId>>, Duration) {
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
    let idle = sim.run_until_idle_or(Duration::from_secs(600));
    let took = started.elapsed();
    assert!(idle, "the simulation never got idle");
    (ids, took)
}

/// Every participant accepted its session and sees every other one's
/// sources.
fn check_joined(sim: &Sim, ids: &[Vec<ParticipantId>]) {
    for room in ids {
        for &p in room {
            let jingle = sim.participant(p).jingle();
            assert!(jingle.accepted, "{p:?} never accepted");
            assert!(jingle.problems.is_empty(), "{:?}", jingle.problems);
            for &other in room.iter().filter(|o| **o != p) {
                let nick = sim.participant(other).nick();
                assert!(
                    jingle.remote.contains_key(nick),
                    "{p:?} never got the sources of {other:?}"
                );
            }
        }
    }
    sim.assert_no_errors();
}

/// What the focus received and sent in one simulated run.
struct Capture {
    config: Arc<Config>,
    jid: jid::FullJid,
    /// Received stanzas, with their virtual time since the start.
    inputs: Vec<(Duration, String)>,
    /// Sent stanzas, in order, as the trace has them (without the stream's
    /// `jabber:client` namespace).
    sent: Vec<String>,
    /// Virtual time at the end of the run.
    end: Duration,
    joins: usize,
}

fn capture(rooms: usize) -> Capture {
    let (mut sim, config) = ready_sim(true);
    let (ids, _) = join_all(&mut sim, rooms);
    check_joined(&sim, &ids);
    let focus_jid = sim.focus_jid().to_owned();
    let mut inputs = Vec::new();
    let mut sent = Vec::new();
    for entry in sim.trace().entries() {
        match &entry.kind {
            TraceKind::Received { to, xml } if *to == focus_jid => {
                // As minidom writes it: with its namespace, parseable alone.
                inputs.push((entry.at, String::from(&sim_xml(xml))));
            }
            TraceKind::Sent { from, xml } if *from == focus_jid => sent.push(xml.clone()),
            TraceKind::Lost { session, .. } if *session == focus_jid => {
                panic!("a stanza of the focus was lost")
            }
            _ => {}
        }
    }
    Capture {
        config: Arc::new(config),
        jid: jid::FullJid::new(&focus_jid).expect("the focus JID"),
        inputs,
        sent,
        end: sim.elapsed(),
        joins: rooms * PER_ROOM,
    }
}

fn parse(xml: &str) -> Element {
    Element::from_str(xml).unwrap_or_else(|e| panic!("{e}: {xml}"))
}

/// Feeds `inputs` to a fresh focus as the simulation did (the same seed;
/// at each instant the stanzas before the timeouts due then), handing every
/// output to `out`.
fn replay(c: &Capture, inputs: Vec<(Duration, Element)>, mut out: impl FnMut(Output)) {
    let start = Instant::now();
    let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600);
    let seed = FocusRng::from_seed(SEED).child_seed();
    let mut focus = Focus::new(c.config.clone(), seed, start, wall);
    let mut now = start;
    let connected = Input::Connected {
        conn: ConnId::Client,
        jid: c.jid.clone(),
    };
    focus.handle_input(now, connected).expect("connected");
    drain(&mut focus, &mut out);
    for (at, stanza) in inputs {
        let t = start + at;
        fire(&mut focus, now, t, false, &mut out);
        now = t;
        let input = Input::Stanza {
            conn: ConnId::Client,
            stanza,
        };
        focus.handle_input(now, input).expect("a stanza");
        drain(&mut focus, &mut out);
    }
    fire(&mut focus, now, start + c.end, true, &mut out);
}

fn drain(focus: &mut Focus, out: &mut impl FnMut(Output)) {
    while let Some(o) = focus.poll_output() {
        out(o);
    }
}

/// Fires the focus's timeouts due before `t` (or at `t` when `inclusive`),
/// each at its deadline (or `now` when that is later).
fn fire(
    focus: &mut Focus,
    now: Instant,
    t: Instant,
    inclusive: bool,
    out: &mut impl FnMut(Output),
) {
    let mut fired = 0;
    while let Some(d) = focus.poll_timeout() {
        if d > t || (d == t && !inclusive) {
            break;
        }
        fired += 1;
        assert!(fired < 10_000, "the focus's deadline is stuck");
        focus.handle_timeout(d.max(now));
        drain(focus, out);
    }
}

fn parsed_inputs(c: &Capture) -> Vec<(Duration, Element)> {
    c.inputs.iter().map(|(at, x)| (*at, parse(x))).collect()
}

/// Replays once and checks the focus sent what it sent in the simulation
/// (the simulation's trace ends earlier: the last stanzas are in flight).
fn verify(c: &Capture) {
    let mut sent = Vec::new();
    replay(c, parsed_inputs(c), |o| {
        if let Output::Send { stanza, .. } = o {
            sent.push(focus_tests::sim::to_xml(&stanza));
        }
    });
    assert!(
        sent.len() >= c.sent.len(),
        "the replay sent {} stanzas, the simulation {}",
        sent.len(),
        c.sent.len()
    );
    if let Some(i) = (0..c.sent.len()).find(|&i| sent[i] != c.sent[i]) {
        panic!(
            "the replay diverges at stanza {i}:\n  sim:    {}\n  replay: {}",
            c.sent[i], sent[i]
        );
    }
}

/// Real time of one replay: inputs pre-parsed, outputs moved out and
/// dropped after the clock stops.
fn time_replay(c: &Capture) -> Duration {
    let inputs = parsed_inputs(c);
    let mut outputs = Vec::with_capacity(c.sent.len() * 2 + 1024);
    let started = Instant::now();
    replay(c, inputs, |o| outputs.push(o));
    let took = started.elapsed();
    drop(outputs);
    took
}

/// Real time to parse what the focus received and to write what it sent,
/// with minidom.
fn time_floor(c: &Capture) -> (Duration, Duration) {
    let to_write: Vec<Element> = c.sent.iter().map(|x| sim_xml(x)).collect();
    let mut buf = Vec::with_capacity(64 * 1024);
    let started = Instant::now();
    for (_, xml) in &c.inputs {
        std::hint::black_box(parse(xml));
    }
    let parsed = Instant::now();
    for el in &to_write {
        buf.clear();
        el.write_to(&mut buf).expect("written");
        std::hint::black_box(&buf);
    }
    (parsed - started, parsed.elapsed())
}

/// A short name for a stanza's kind: `iq set conference`, `iq result`,
/// `iq set jingle session-initiate`, `presence`...
fn kind(el: &Element) -> String {
    let mut k = el.name().to_owned();
    if let Some(t) = el.attr("type") {
        k = format!("{k} {t}");
    }
    if el.name() == "iq"
        && let Some(child) = el.children().next()
    {
        k = format!("{k} {}", child.name());
        if let Some(action) = child.attr("action") {
            k = format!("{k} {action}");
        }
        if child.name() == "query" {
            k = format!("{k} {}", child.ns());
        }
    }
    k
}

fn per_join_breakdown(c: &Capture) {
    let mut kinds: BTreeMap<(String, &str), (usize, usize)> = BTreeMap::new();
    for (dir, xmls) in [
        ("in ", c.inputs.iter().map(|(_, x)| x).collect::<Vec<_>>()),
        ("out", c.sent.iter().collect()),
    ] {
        for xml in xmls {
            let e = kinds.entry((kind(&sim_xml(xml)), dir)).or_default();
            e.0 += 1;
            e.1 += xml.len();
        }
    }
    let joins = c.joins as f64;
    println!("  stanzas of the focus per join (all traffic of the run / joins):");
    for ((k, dir), (n, bytes)) in &kinds {
        println!(
            "    {dir} {k:<60} {:>6.2} x {:>5} B",
            *n as f64 / joins,
            bytes / n
        );
    }
}

/// The N of `--replay-only N`.
fn replay_only() -> Option<usize> {
    let args: Vec<String> = std::env::args().collect();
    let i = args.iter().position(|a| a == "--replay-only")?;
    Some(args.get(i + 1).and_then(|n| n.parse().ok()).unwrap_or(10))
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let rooms = if quick { 50 } else { 500 };
    let joins = rooms * PER_ROOM;
    println!(
        "media joins: {rooms} conferences of {PER_ROOM} on {BRIDGES} bridges, {joins} joins (real time, no I/O)"
    );

    // The whole simulated deployment, trace off.
    let mut best_sim = Duration::MAX;
    for _ in 0..if replay_only().is_some() {
        0
    } else if quick {
        1
    } else {
        3
    } {
        let (mut sim, _) = ready_sim(false);
        let (ids, took) = join_all(&mut sim, rooms);
        check_joined(&sim, &ids);
        best_sim = best_sim.min(took);
    }

    // The focus alone, and the floor.
    let c = capture(rooms);
    verify(&c);
    if let Some(n) = replay_only() {
        for _ in 0..n {
            let took = time_replay(&c);
            println!(
                "  replay: {:.1} µs per join",
                took.as_secs_f64() * 1e6 / joins as f64
            );
        }
        return;
    }
    let rounds = if quick { 2 } else { 5 };
    let core = (0..rounds)
        .map(|_| time_replay(&c))
        .min()
        .unwrap_or_default();
    let (parse_time, write_time) = (0..rounds)
        .map(|_| time_floor(&c))
        .min_by_key(|(p, w)| *p + *w)
        .unwrap_or_default();
    let floor = parse_time + write_time;
    let in_bytes: usize = c.inputs.iter().map(|(_, x)| x.len()).sum();
    let out_bytes: usize = c.sent.iter().map(String::len).sum();

    let per_s = |d: Duration| joins as f64 / d.as_secs_f64();
    let us = |d: Duration| d.as_secs_f64() * 1e6 / joins as f64;
    println!(
        "  whole simulation   {:>9.0} joins/s  ({:>6.1} µs per join)",
        per_s(best_sim),
        us(best_sim)
    );
    println!(
        "  focus core         {:>9.0} joins/s  ({:>6.1} µs per join; {:.0}% of the simulation's time)",
        per_s(core),
        us(core),
        core.as_secs_f64() * 100.0 / best_sim.as_secs_f64()
    );
    println!(
        "  floor (parse+write){:>9.0} joins/s  ({:>6.1} µs per join: {:.1} stanzas in, {:.1} out, {:.0} B per join)",
        per_s(floor),
        us(floor),
        c.inputs.len() as f64 / joins as f64,
        c.sent.len() as f64 / joins as f64,
        (in_bytes + out_bytes) as f64 / joins as f64
    );
    println!(
        "    parse {:.1} µs ({:.0} MB/s) + write {:.1} µs ({:.0} MB/s)",
        us(parse_time),
        in_bytes as f64 / parse_time.as_secs_f64() / 1e6,
        us(write_time),
        out_bytes as f64 / write_time.as_secs_f64() / 1e6
    );
    println!(
        "  core / floor       {:>9.2}x  (core + floor: {:.0} joins/s)",
        core.as_secs_f64() / floor.as_secs_f64(),
        per_s(core + floor)
    );
    if !quick {
        per_join_breakdown(&c);
    }
}
