//! Bridge selection throughput: selections per second on a 100-bridge pool
//! spread over five regions with varied stress, for each strategy, for a
//! conference on 0, 1 and 3 bridges.
//!
//! `cargo bench -p focus-proto --bench bridge_selection` prints the
//! figures; `-- --quick` runs briefly (as CI does).
#![allow(clippy::disallowed_methods)] // a benchmark reads the clock

use std::hint::black_box;
use std::time::{Duration, Instant};

use focus_proto::bridge::BridgeRegistry;
use focus_proto::bridge::selection::{BridgeSelector, ConferenceBridge, ParticipantProperties};
use focus_proto::config::{Config, SelectionStrategy};
use jid::{BareJid, FullJid};

const BREWERY: &str = "jvbbrewery@internal-muc.meet.jitsi";
const REGIONS: [&str; 5] = ["ap-south", "eu-central", "eu-west", "us-east", "us-west"];
const BRIDGES: usize = 100;

fn presence(i: usize) -> minidom::Element {
    // Stress spread over 0.0..0.99, some bridges overloaded; a few draining
    // or in graceful shutdown.
    let stress = (i * 37 % 100) as f64 / 100.0;
    let region = REGIONS[i % REGIONS.len()];
    let drain = i.is_multiple_of(17);
    let graceful = i.is_multiple_of(23);
    format!(
        "<presence xmlns='jabber:client' from='{BREWERY}/jvb-{i:03}' to='focus@auth.meet.jitsi/focus'>\
<stats xmlns='http://jitsi.org/protocol/colibri'>\
<stat name='stress_level' value='{stress}'/><stat name='region' value='{region}'/>\
<stat name='relay_id' value='relay-{i}'/><stat name='version' value='2.3.250'/>\
<stat name='drain' value='{drain}'/><stat name='graceful_shutdown' value='{graceful}'/>\
</stats></presence>"
    )
    .parse()
    .expect("valid presence")
}

fn pool(config: &Config, now: Instant) -> BridgeRegistry {
    let mut pool = BridgeRegistry::new(BareJid::new(BREWERY).expect("valid JID"));
    for i in 0..BRIDGES {
        pool.on_presence(now, &config.bridge, "focus", &presence(i))
            .expect("a bridge");
    }
    // Recent endpoints on some bridges, so corrected stress matters.
    let jids: Vec<FullJid> = pool.iter().map(|b| b.jid.clone()).collect();
    for (i, jid) in jids.iter().enumerate().filter(|(i, _)| i % 3 == 0) {
        if let Some(b) = pool.get_mut(jid) {
            for _ in 0..(i % 5) {
                b.endpoint_added(now);
            }
        }
    }
    pool
}

fn measure(name: &str, min_time: Duration, mut f: impl FnMut() -> bool) -> f64 {
    black_box(f());
    let start = Instant::now();
    let mut rounds = 0u64;
    let mut found = 0u64;
    while start.elapsed() < min_time || rounds < 100 {
        for _ in 0..100 {
            found += u64::from(black_box(f()));
        }
        rounds += 100;
    }
    let secs = start.elapsed().as_secs_f64();
    let per_sec = rounds as f64 / secs;
    println!(
        "{name:<52} {:>10.0} selections/s  ({:.2} µs each, {}% found)",
        per_sec,
        secs / rounds as f64 * 1e6,
        found * 100 / rounds
    );
    per_sec
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick" || a == "--test");
    let min_time = if quick {
        Duration::from_millis(30)
    } else {
        Duration::from_secs(1)
    };
    let now = Instant::now();
    let strategies: [(&str, SelectionStrategy, Option<SelectionStrategy>); 5] = [
        (
            "single",
            SelectionStrategy::SingleBridgeSelectionStrategy,
            None,
        ),
        (
            "split",
            SelectionStrategy::SplitBridgeSelectionStrategy,
            None,
        ),
        (
            "region-based",
            SelectionStrategy::RegionBasedBridgeSelectionStrategy,
            None,
        ),
        (
            "intra-region",
            SelectionStrategy::IntraRegionBridgeSelectionStrategy,
            None,
        ),
        (
            "visitor (region-based)",
            SelectionStrategy::VisitorSelectionStrategy,
            Some(SelectionStrategy::RegionBasedBridgeSelectionStrategy),
        ),
    ];
    let mut config = Config::default();
    config.octo.enabled = true;
    config.local_region = Some("us-east".into());
    config.bridge.region_groups = vec![
        vec!["us-east".into(), "us-west".into()],
        vec!["eu-central".into(), "eu-west".into()],
    ];
    config.bridge.max_bridge_participants_per_interval = 20;
    let registry = pool(&config, now);
    let jids: Vec<FullJid> = registry.iter().map(|b| b.jid.clone()).collect();
    // Conference bridges: a moderately loaded one per region.
    let on = |i: usize, n: u32| ConferenceBridge {
        recently_added: n % 25,
        ..ConferenceBridge::new(&jids[i], n)
    };
    let conferences: [(&str, Vec<ConferenceBridge<'_>>); 3] = [
        ("0 bridges", Vec::new()),
        ("1 bridge", vec![on(3, 12)]),
        ("3 bridges", vec![on(3, 30), on(11, 8), on(27, 81)]),
    ];
    println!(
        "pool: {} bridges in {} regions",
        registry.len(),
        REGIONS.len()
    );
    for (name, strategy, inner) in strategies {
        config.bridge.selection_strategy = strategy;
        config.bridge.participant_selection_strategy = inner;
        config.bridge.visitor_selection_strategy = inner;
        let selector = BridgeSelector::new(&config).expect("a valid strategy");
        for (conf_name, conference) in &conferences {
            for (who, region) in [("eu-west", Some("eu-west")), ("no region", None)] {
                let participant = ParticipantProperties {
                    region,
                    visitor: false,
                };
                measure(&format!("{name}, {conf_name}, {who}"), min_time, || {
                    selector
                        .select(registry.iter(), conference, &participant, None, now)
                        .is_ok()
                });
            }
        }
    }
}
