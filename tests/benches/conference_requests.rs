//! Conference requests handled per second in the simulation: the real
//! focus in virtual time with the simulated Prosody and lib-jitsi-meet
//! clients, no sockets and no parsing of the wire.
//!
//! `cargo bench -p focus-tests --bench conference_requests` prints, for a
//! few shapes of load, how many conference requests (each answered, each
//! client then joining the room as lib-jitsi-meet does) the whole simulated
//! deployment handles per second of real time. `-- --quick` runs smaller
//! rounds (the CI smoke run). In the one-room case the time goes mostly to
//! the simulated MUC, whose presence broadcast is quadratic in the room
//! size, as a real MUC's is.
#![allow(clippy::disallowed_methods)] // a benchmark reads the clock

use std::time::{Duration, Instant};

use focus_tests::sim::{ParticipantSpec, Sim};

/// Runs `clients` participants spread over `rooms` rooms until all are in
/// their rooms; returns the requests answered and the real time taken.
fn round(seed: u64, clients: usize, rooms: usize) -> (usize, Duration) {
    let mut sim = Sim::builder().seed(seed).build();
    sim.run_for(Duration::from_secs(1));
    let started = Instant::now();
    let ids: Vec<_> = (0..clients)
        .map(|i| {
            sim.add_participant(ParticipantSpec::new(format!(
                "room{}@muc.meet.jitsi",
                i % rooms
            )))
        })
        .collect();
    let all_in = sim.run_until(
        |s| ids.iter().all(|id| s.participant(*id).in_room()),
        Duration::from_secs(600),
    );
    let took = started.elapsed();
    assert!(all_in, "every client got into its room");
    let requests = sim.focus().conferences().stats().conference_requests as usize;
    (requests, took)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let scale = if quick { 1 } else { 5 };
    println!("conference requests in the simulation (real time, no I/O)");
    for (label, clients, rooms) in [
        ("one room", 60 * scale, 1),
        ("rooms of 4", 200 * scale, 50 * scale),
        ("a room each", 200 * scale, 200 * scale),
    ] {
        let mut best = f64::MAX;
        let mut requests = 0;
        for seed in 0..3 {
            let (n, took) = round(seed, clients, rooms);
            requests = n;
            best = best.min(took.as_secs_f64());
        }
        println!(
            "  {label:<12} {clients:>5} clients {rooms:>5} rooms: {requests:>5} requests in {:>7.1} ms, {:>9.0} requests/s",
            best * 1e3,
            requests as f64 / best
        );
    }
}
