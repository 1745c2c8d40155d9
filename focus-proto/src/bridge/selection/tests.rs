//! The cases of Jicofo's selector tests (`BridgeSelectorTest`,
//! `BridgeSelectionStrategyTest`, `RegionBasedSelectionTest`,
//! `MaxParticipantsPerIntervalTest`, `BridgeTest`), rewritten against this
//! API, plus properties. The pool is always built from brewery presence.

use std::time::{Duration, Instant};

use jid::FullJid;
use proptest::prelude::{Just, any, prop, prop_assert, prop_assert_eq, prop_oneof, proptest};
use proptest::strategy::Strategy as Gen;

use super::*;
use crate::bridge::BridgeRegistry;
use crate::bridge::test_support::{bridge_jid, empty_registry, stats_presence, unavailable};
use crate::config::SelectionStrategy as S;
use crate::ext::brewery::BridgeStats;

/// Stats as Jicofo's test helper sets them: the relay id is the region,
/// and the bridge is not draining.
fn stats(stress: f64, region: Option<&str>) -> BridgeStats {
    BridgeStats {
        stress_level: Some(stress),
        region: region.map(str::to_owned),
        relay_id: region.map(str::to_owned),
        drain: Some(false),
        ..BridgeStats::default()
    }
}

/// A pool, a configuration and a virtual clock.
struct Fixture {
    config: Config,
    pool: BridgeRegistry,
    now: Instant,
}

impl Fixture {
    fn new(strategy: S) -> Self {
        let mut config = Config::default();
        config.bridge.selection_strategy = strategy;
        Self {
            config,
            pool: empty_registry(),
            now: Instant::now(),
        }
    }

    fn octo(mut self) -> Self {
        self.config.octo.enabled = true;
        self
    }

    /// Adds or updates a bridge by presence.
    fn presence(&mut self, nick: &str, stats: &BridgeStats) -> FullJid {
        self.pool
            .on_presence(
                self.now,
                &self.config.bridge,
                "focus",
                &stats_presence(nick, stats),
            )
            .expect("a bridge presence");
        bridge_jid(nick)
    }

    fn bridge(&mut self, nick: &str, stress: f64, region: Option<&str>) -> FullJid {
        self.presence(nick, &stats(stress, region))
    }

    fn remove(&mut self, nick: &str) {
        self.pool
            .on_presence(self.now, &self.config.bridge, "focus", &unavailable(nick))
            .expect("a known bridge");
    }

    fn get(&mut self, nick: &str) -> &mut Bridge {
        self.pool.get_mut(&bridge_jid(nick)).expect("known bridge")
    }

    fn peek(&self, nick: &str) -> &Bridge {
        self.pool.get(&bridge_jid(nick)).expect("known bridge")
    }

    fn fail(&mut self, nick: &str) {
        let now = self.now;
        self.get(nick).set_operational(now, false);
    }

    fn recover(&mut self, nick: &str) {
        let now = self.now;
        self.get(nick).set_operational(now, true);
    }

    fn elapse(&mut self, d: Duration) {
        self.now += d;
    }

    fn selector(&self) -> BridgeSelector {
        BridgeSelector::new(&self.config).expect("a valid strategy")
    }

    fn select_full(
        &self,
        conference: &[ConferenceBridge<'_>],
        participant: ParticipantProperties<'_>,
        version: Option<&str>,
    ) -> Result<Selected<'_>, SelectionError> {
        self.selector().select(
            self.pool.iter(),
            conference,
            &participant,
            version,
            self.now,
        )
    }

    /// The nickname of the selected bridge.
    fn pick(
        &self,
        conference: &[ConferenceBridge<'_>],
        participant: ParticipantProperties<'_>,
    ) -> Result<String, SelectionError> {
        self.select_full(conference, participant, None)
            .map(|s| s.bridge.name().to_owned())
    }

    fn pick_in(&self, conference: &[ConferenceBridge<'_>], region: Option<&str>) -> Option<String> {
        self.pick(
            conference,
            ParticipantProperties {
                region,
                visitor: false,
            },
        )
        .ok()
    }

    fn first(&self) -> Option<String> {
        self.pick_in(&[], None)
    }
}

fn on(j: &FullJid, participants: u32) -> ConferenceBridge<'_> {
    ConferenceBridge::new(j, participants)
}

fn some(nick: &str) -> Option<String> {
    Some(nick.to_owned())
}

// ---------------------------------------------------------------------------
// BridgeSelectorTest

#[test]
fn new_endpoints_add_stress_and_move_selection() {
    let mut f = Fixture::new(S::SingleBridgeSelectionStrategy);
    f.bridge("jvb1", 0.0, None);
    f.bridge("jvb2", 0.0, None);
    assert_eq!(f.first(), some("jvb1"), "equal stress: JID order");
    let now = f.now;
    f.get("jvb1").endpoint_added(now);
    assert!(
        f.peek("jvb1")
            .corrected_stress(now, f.config.bridge.participant_rampup_interval)
            > 0.0
    );
    assert_eq!(f.first(), some("jvb2"));
    // Once the rampup interval is over, the endpoint no longer counts.
    f.elapse(f.config.bridge.participant_rampup_interval);
    assert_eq!(f.first(), some("jvb1"));
}

#[test]
fn selection_follows_operational_status() {
    let mut f = Fixture::new(S::SingleBridgeSelectionStrategy);
    for nick in ["jvb1", "jvb2", "jvb3"] {
        f.bridge(nick, 0.0, None);
    }
    assert!(f.first().is_some());
    f.fail("jvb1");
    assert_ne!(f.first(), some("jvb1"));
    f.fail("jvb2");
    assert_eq!(f.first(), some("jvb3"));
    // jvb1 recovers but a failure is sticky for failure-reset-threshold.
    f.recover("jvb1");
    f.fail("jvb3");
    assert_eq!(
        f.pick(&[], ParticipantProperties::default()),
        Err(SelectionError::NoOperationalBridge)
    );
    f.elapse(f.config.bridge.failure_reset_threshold);
    assert_eq!(f.first(), some("jvb1"));
}

#[test]
fn selection_follows_stress() {
    let mut f = Fixture::new(S::SingleBridgeSelectionStrategy);
    f.bridge("jvb1", 0.1, None);
    f.bridge("jvb2", 0.23, None);
    f.bridge("jvb3", 0.0, None);
    assert_eq!(f.first(), some("jvb3"));
    f.bridge("jvb3", 0.3, None);
    assert_eq!(f.first(), some("jvb1"));
    f.fail("jvb1");
    assert_eq!(f.first(), some("jvb2"));
    f.fail("jvb2");
    f.fail("jvb3");
    assert_eq!(f.first(), None);
    for nick in ["jvb1", "jvb2", "jvb3"] {
        f.recover(nick);
    }
    f.elapse(f.config.bridge.failure_reset_threshold);
    f.bridge("jvb1", 0.01, None);
    f.bridge("jvb2", 0.0, None);
    f.bridge("jvb3", 0.0, None);
    assert_eq!(f.first(), some("jvb2"), "tie on stress: JID order");
    f.bridge("jvb3", 0.01, None);
    assert_eq!(f.first(), some("jvb2"));
}

#[test]
fn versions_pinned_and_from_the_conference() {
    let mut f = Fixture::new(S::RegionBasedBridgeSelectionStrategy).octo();
    let with_version = |stress, version: &str| BridgeStats {
        version: Some(version.to_owned()),
        ..stats(stress, Some("r"))
    };
    let jvb1 = f.presence("jvb1", &with_version(0.9, "v1"));
    f.presence("jvb2", &with_version(0.1, "v2"));
    let p = ParticipantProperties::default();
    let pinned = |f: &Fixture, v| {
        f.select_full(&[], p, Some(v))
            .map(|s| s.bridge.name().to_owned())
    };
    assert_eq!(pinned(&f, "v1"), Ok("jvb1".into()));
    assert_eq!(pinned(&f, "v2"), Ok("jvb2".into()));
    assert_eq!(
        pinned(&f, "v-nonexistent"),
        Err(SelectionError::NoBridgeWithVersion("v-nonexistent".into()))
    );
    // The conference's bridge fixes the version: jvb1 is overloaded, but
    // jvb2 has the wrong version.
    assert_eq!(f.pick_in(&[on(&jvb1, 1)], None), some("jvb1"));
    f.presence("jvb3", &with_version(0.1, "v1"));
    assert_eq!(f.pick_in(&[on(&jvb1, 1)], None), some("jvb3"));
    // Pinning another version than the conference's is an error.
    assert_eq!(
        f.select_full(&[on(&jvb1, 1)], p, Some("v2"))
            .map(|s| s.bridge.name().to_owned()),
        Err(SelectionError::InconsistentVersion {
            requested: "v2".into(),
            conference: "v1".into()
        })
    );
    // Pinning the conference's own version is fine.
    assert!(f.select_full(&[on(&jvb1, 1)], p, Some("v1")).is_ok());
    // Mixed versions allowed: no version filter at all.
    f.config.octo.allow_mixed_versions = true;
    assert_eq!(pinned(&f, "v-nonexistent"), Ok("jvb2".into()));
}

#[test]
fn full_version_includes_the_release() {
    let mut f = Fixture::new(S::SingleBridgeSelectionStrategy);
    f.presence(
        "jvb1",
        &BridgeStats {
            version: Some("2.3".into()),
            release: Some("99".into()),
            ..stats(0.0, None)
        },
    );
    let p = ParticipantProperties::default();
    assert!(f.select_full(&[], p, Some("2.3-99")).is_ok());
    assert_eq!(
        f.select_full(&[], p, Some("2.3"))
            .map(|s| s.bridge.name().to_owned()),
        Err(SelectionError::NoBridgeWithVersion("2.3".into()))
    );
}

#[test]
fn conference_bridge_gone_from_the_pool() {
    let mut f = Fixture::new(S::RegionBasedBridgeSelectionStrategy).octo();
    let jvb1 = f.bridge("jvb1", 0.2, Some("r1"));
    let jvb2 = f.bridge("jvb2", 0.5, Some("r2"));
    let jvb3 = f.bridge("jvb3", 0.1, Some("r3"));
    f.remove("jvb3");
    let conf = [on(&jvb1, 1), on(&jvb2, 1), on(&jvb3, 1)];
    assert_eq!(f.pick_in(&conf, None), some("jvb1"));
    assert_eq!(f.pick_in(&conf, Some("r2")), some("jvb2"));
}

#[test]
fn split_strategy() {
    // Octo disabled: the split strategy enables it anyway.
    let mut f = Fixture::new(S::SplitBridgeSelectionStrategy);
    let jvb1 = f.bridge("jvb1", 0.2, Some("r1"));
    let jvb2 = f.bridge("jvb2", 0.5, Some("r2"));
    let jvb3 = f.bridge("jvb3", 0.1, Some("r3"));
    assert_eq!(f.first(), some("jvb3"));
    assert_eq!(f.pick_in(&[on(&jvb1, 1)], None), some("jvb3"));
    assert_eq!(f.pick_in(&[on(&jvb3, 1)], None), some("jvb1"));
    assert_eq!(f.pick_in(&[on(&jvb1, 1), on(&jvb2, 1)], None), some("jvb3"));
    let all = [on(&jvb1, 1), on(&jvb2, 2), on(&jvb3, 3)];
    assert_eq!(f.pick_in(&all, None), some("jvb1"));
    f.remove("jvb1");
    assert_eq!(f.pick_in(&all, None), some("jvb2"));
    // Ties on participants: the conference's order.
    assert_eq!(f.pick_in(&[on(&jvb3, 2), on(&jvb2, 2)], None), some("jvb3"));
    // A first bridge without a relay id keeps the conference on it.
    let solo = f.presence("solo", &stats(0.0, None));
    assert_eq!(f.pick_in(&[on(&solo, 1)], None), some("solo"));
}

#[test]
fn visitor_strategy_separates_visitors() {
    let mut f = Fixture::new(S::VisitorSelectionStrategy).octo();
    f.config.bridge.visitor_selection_strategy = Some(S::SingleBridgeSelectionStrategy);
    f.config.bridge.participant_selection_strategy = Some(S::SingleBridgeSelectionStrategy);
    f.bridge("jvb1", 0.2, Some("r1"));
    f.bridge("jvb2", 0.2, Some("r1"));
    f.bridge("jvb3", 0.1, Some("r1"));
    let participant = ParticipantProperties {
        region: None,
        visitor: false,
    };
    let visitor = ParticipantProperties {
        region: None,
        visitor: true,
    };
    let first = f.pick(&[], participant).expect("a bridge");
    assert_eq!(first, "jvb3");
    let j3 = bridge_jid(&first);
    let conf = [on(&j3, 1)];
    assert_eq!(f.pick(&conf, visitor), Ok("jvb1".into()));
    // Participants stay together.
    assert_eq!(f.pick(&conf, participant), Ok("jvb3".into()));
    // A visitor bridge exists: visitors go there, participants elsewhere.
    let j1 = bridge_jid("jvb1");
    let conf = [
        on(&j3, 1),
        ConferenceBridge {
            visitor: true,
            ..on(&j1, 5)
        },
    ];
    assert_eq!(f.pick(&conf, visitor), Ok("jvb1".into()));
    assert_eq!(f.pick(&conf, participant), Ok("jvb3".into()));
    // Out of bridges for visitors: they mix with participants.
    f.remove("jvb1");
    f.remove("jvb2");
    assert_eq!(f.pick(&[on(&j3, 1)], visitor), Ok("jvb3".into()));
}

#[test]
fn visitor_strategy_needs_both_strategies() {
    let mut config = Config::default();
    config.bridge.selection_strategy = S::VisitorSelectionStrategy;
    assert_eq!(
        BridgeSelector::new(&config).err(),
        Some(SelectorConfigError::VisitorStrategies)
    );
    config.bridge.visitor_selection_strategy = Some(S::RegionBasedBridgeSelectionStrategy);
    config.bridge.participant_selection_strategy = Some(S::VisitorSelectionStrategy);
    assert!(BridgeSelector::new(&config).is_err());
    config.bridge.participant_selection_strategy = Some(S::IntraRegionBridgeSelectionStrategy);
    let s = BridgeSelector::new(&config).expect("valid");
    assert_eq!(s.strategy(), S::VisitorSelectionStrategy);
}

// ---------------------------------------------------------------------------
// The selector's filters and Bridge.compareTo

#[test]
fn draining_graceful_and_shutting_down() {
    let mut f = Fixture::new(S::SingleBridgeSelectionStrategy);
    f.bridge("a", 0.5, None);
    f.bridge("b", 0.1, None);
    f.bridge("c", 0.3, None);
    assert_eq!(f.first(), some("b"));
    // Draining bridges are avoided while another fits.
    f.presence(
        "b",
        &BridgeStats {
            drain: Some(true),
            ..BridgeStats::default()
        },
    );
    assert_eq!(f.first(), some("c"));
    // So are bridges in graceful shutdown, even less loaded ones.
    f.presence(
        "c",
        &BridgeStats {
            graceful_shutdown: Some(true),
            ..BridgeStats::default()
        },
    );
    assert_eq!(f.first(), some("a"));
    // Shutting down is a hard filter.
    f.presence(
        "a",
        &BridgeStats {
            shutting_down: Some(true),
            ..BridgeStats::default()
        },
    );
    // Left: b (draining, 0.1) and c (graceful, 0.3). Not draining first.
    assert_eq!(f.first(), some("c"));
    f.presence(
        "c",
        &BridgeStats {
            shutting_down: Some(true),
            ..BridgeStats::default()
        },
    );
    assert_eq!(f.first(), some("b"), "draining, but the only one");
    f.presence(
        "b",
        &BridgeStats {
            shutting_down: Some(true),
            ..BridgeStats::default()
        },
    );
    assert_eq!(
        f.pick(&[], ParticipantProperties::default()),
        Err(SelectionError::AllShuttingDown)
    );
}

#[test]
fn a_new_bridge_is_draining_until_it_says_otherwise() {
    let mut f = Fixture::new(S::SingleBridgeSelectionStrategy);
    f.presence("quiet", &BridgeStats::default());
    f.bridge("zeta", 0.7, None);
    assert_eq!(f.first(), some("zeta"));
    f.remove("zeta");
    assert_eq!(f.first(), some("quiet"));
}

#[test]
fn empty_pool() {
    let f = Fixture::new(S::RegionBasedBridgeSelectionStrategy);
    assert_eq!(
        f.pick(&[], ParticipantProperties::default()),
        Err(SelectionError::NoOperationalBridge)
    );
}

#[test]
fn graceful_bridges_rank_after_running_ones() {
    // compareTo: operational & running < operational & graceful <
    // non-operational, whatever the stress. With only graceful bridges
    // left, the least stressed of them.
    let mut f = Fixture::new(S::SingleBridgeSelectionStrategy);
    for (nick, stress) in [("a", 0.6), ("b", 0.2)] {
        f.presence(
            nick,
            &BridgeStats {
                graceful_shutdown: Some(true),
                ..stats(stress, None)
            },
        );
    }
    assert_eq!(f.first(), some("b"));
    f.bridge("c", 0.95, None);
    assert_eq!(
        f.first(),
        some("c"),
        "overloaded but running beats graceful"
    );
}

#[test]
fn without_octo_a_conference_keeps_its_bridge() {
    let mut f = Fixture::new(S::RegionBasedBridgeSelectionStrategy);
    let a = f.bridge("a", 0.95, Some("eu"));
    f.bridge("b", 0.1, Some("us"));
    // Even overloaded, draining or in graceful shutdown.
    f.presence(
        "a",
        &BridgeStats {
            drain: Some(true),
            graceful_shutdown: Some(true),
            ..BridgeStats::default()
        },
    );
    assert_eq!(f.pick_in(&[on(&a, 200)], Some("us")), some("a"));
    // With Octo, the region-based strategy moves on.
    f.config.octo.enabled = true;
    assert_eq!(f.pick_in(&[on(&a, 200)], Some("us")), some("b"));
    // Unless the conference's bridge has no relay id.
    let solo = f.presence("solo", &stats(0.9, None));
    assert_eq!(f.pick_in(&[on(&solo, 1)], Some("us")), some("solo"));
    // A conference bridge that is not operational is not the conference's.
    f.fail("a");
    assert_eq!(f.pick_in(&[on(&a, 1)], Some("eu")), some("b"));
}

#[test]
fn single_bridge_with_octo() {
    let mut f = Fixture::new(S::SingleBridgeSelectionStrategy).octo();
    let a = f.bridge("a", 0.9, Some("eu"));
    let b = f.bridge("b", 0.1, Some("eu"));
    assert_eq!(f.pick_in(&[on(&a, 3)], Some("eu")), some("a"));
    assert_eq!(
        f.pick(&[on(&a, 3), on(&b, 1)], ParticipantProperties::default()),
        Err(SelectionError::NoSuitableBridge {
            rate_limited: false
        })
    );
    // The initial choice prefers the participant's region, even loaded.
    f.bridge("c", 0.0, Some("us"));
    assert_eq!(f.pick_in(&[], Some("eu")), some("b"));
    f.bridge("b", 0.95, Some("eu"));
    assert_eq!(f.pick_in(&[], Some("eu")), some("a"));
    assert_eq!(f.pick_in(&[], Some("ap")), some("c"));
}

// ---------------------------------------------------------------------------
// BridgeSelectionStrategyTest (region-based with a local region)

#[test]
fn region_based_with_local_region() {
    let mut f = Fixture::new(S::RegionBasedBridgeSelectionStrategy).octo();
    f.config.local_region = Some("local-region".into());
    let b1 = f.bridge("bridge1", 0.0, Some("region1"));
    let b2 = f.bridge("bridge2", 0.0, Some("local-region"));
    let b3 = f.bridge("bridge3", 0.0, Some("region3"));
    assert_eq!(f.pick_in(&[], Some("region1")), some("bridge1"));
    assert_eq!(f.pick_in(&[], Some("local-region")), some("bridge2"));
    assert_eq!(f.pick_in(&[], Some("invalid region")), some("bridge2"));
    assert_eq!(f.pick_in(&[], None), some("bridge2"));

    let conf = [on(&b3, 1)];
    assert_eq!(f.pick_in(&conf, Some("region3")), some("bridge3"));
    assert_eq!(f.pick_in(&conf, Some("local-region")), some("bridge2"));
    assert_eq!(f.pick_in(&conf, None), some("bridge2"));

    let conf = [on(&b3, 1), on(&b2, 1)];
    assert_eq!(f.pick_in(&conf, None), some("bridge2"));
    assert_eq!(f.pick_in(&conf, Some("invalid region")), some("bridge2"));
    let _ = b1;
}

#[test]
fn region_based_prefers_lowest_stress() {
    let mut f = Fixture::new(S::RegionBasedBridgeSelectionStrategy).octo();
    f.config.local_region = Some("local-region".into());
    let low = f.bridge("lowStressRegion", 0.1, Some("lowStressRegion"));
    let medium = f.bridge("mediumStressRegion", 0.3, Some("mediumStressRegion"));
    f.bridge("highStressRegion", 0.8, Some("highStressRegion"));
    assert_eq!(
        f.pick_in(&[], Some("highStressRegion")),
        some("lowStressRegion")
    );
    assert_eq!(
        f.pick_in(&[], Some("mediumStressRegion")),
        some("mediumStressRegion")
    );
    assert_eq!(
        f.pick_in(&[], Some("invalid region")),
        some("lowStressRegion")
    );
    assert_eq!(f.pick_in(&[], None), some("lowStressRegion"));

    let conf = [on(&low, 1)];
    assert_eq!(
        f.pick_in(&conf, Some("lowStressRegion")),
        some("lowStressRegion")
    );
    assert_eq!(
        f.pick_in(&conf, Some("mediumStressRegion")),
        some("mediumStressRegion")
    );
    assert_eq!(f.pick_in(&conf, None), some("lowStressRegion"));

    let conf = [on(&low, 1), on(&medium, 1)];
    assert_eq!(f.pick_in(&conf, None), some("lowStressRegion"));
    assert_eq!(
        f.pick_in(&conf, Some("invalid region")),
        some("lowStressRegion")
    );
}

#[test]
fn region_based_prefers_region_when_stress_is_equal() {
    let mut f = Fixture::new(S::RegionBasedBridgeSelectionStrategy).octo();
    f.config.local_region = Some("local-region".into());
    f.bridge("m1", 0.25, Some("mediumStressRegion1"));
    let m2 = f.bridge("m2", 0.3, Some("mediumStressRegion2"));
    let high = f.bridge("high", 0.8, Some("highStressRegion"));
    assert_eq!(f.pick_in(&[], Some("highStressRegion")), some("m1"));
    assert_eq!(f.pick_in(&[], Some("mediumStressRegion2")), some("m2"));
    assert_eq!(f.pick_in(&[], Some("invalid region")), some("m1"));
    assert_eq!(f.pick_in(&[], None), some("m1"));

    let conf = [on(&m2, 1)];
    assert_eq!(f.pick_in(&conf, Some("mediumStressRegion1")), some("m1"));
    assert_eq!(f.pick_in(&conf, Some("mediumStressRegion2")), some("m2"));
    assert_eq!(f.pick_in(&conf, None), some("m2"));

    let conf = [on(&m2, 1), on(&high, 1)];
    assert_eq!(f.pick_in(&conf, None), some("m2"));
    assert_eq!(f.pick_in(&conf, Some("invalid region")), some("m2"));
}

// ---------------------------------------------------------------------------
// RegionBasedSelectionTest

const MAX_BP: u32 = 10;
const REGIONS: [&str; 5] = ["ap-south", "eu-central", "eu-west", "us-east", "us-west"];
const LEVELS: [(&str, f64); 3] = [("low", 0.0), ("medium", 0.3), ("high", 0.9)];

/// A low (0.0), medium (0.3) and high (0.9, overloaded) stress bridge in
/// each region, named `REGION-LEVEL`, all with a relay id.
fn regional(local: Option<&str>, groups: Vec<Vec<String>>) -> Fixture {
    let mut f = Fixture::new(S::RegionBasedBridgeSelectionStrategy).octo();
    f.config.bridge.max_bridge_participants = MAX_BP as i32;
    f.config.local_region = local.map(str::to_owned);
    f.config.bridge.region_groups = groups;
    for region in REGIONS {
        for (level, stress) in LEVELS {
            f.presence(
                &format!("{region}-{level}"),
                &BridgeStats {
                    relay_id: Some("dummy".into()),
                    ..stats(stress, Some(region))
                },
            );
        }
    }
    f
}

#[test]
fn region_based_in_a_single_region() {
    let f = regional(None, Vec::new());
    let (low, medium) = (bridge_jid("ap-south-low"), bridge_jid("ap-south-medium"));
    assert_eq!(f.first(), some("ap-south-low"));
    let ap = Some("ap-south");
    assert_eq!(f.pick_in(&[], ap), some("ap-south-low"));
    assert_eq!(f.pick_in(&[on(&medium, 1)], ap), some("ap-south-medium"));
    assert_eq!(f.pick_in(&[on(&medium, MAX_BP)], ap), some("ap-south-low"));
    assert_eq!(f.pick_in(&[on(&low, MAX_BP)], ap), some("ap-south-medium"));
    let both = [on(&low, 2), on(&medium, 1)];
    assert_eq!(f.pick_in(&both, ap), some("ap-south-low"));
    assert_eq!(f.pick_in(&both, None), some("ap-south-low"));
}

#[test]
fn region_based_in_multiple_regions() {
    let f = regional(None, Vec::new());
    let (ap_low, eu_w_med, eu_w_high, eu_c_low) = (
        bridge_jid("ap-south-low"),
        bridge_jid("eu-west-medium"),
        bridge_jid("eu-west-high"),
        bridge_jid("eu-central-low"),
    );
    let conf = [on(&ap_low, 2), on(&eu_w_med, 1), on(&eu_w_high, 1)];
    assert_eq!(f.pick_in(&conf, None), some("ap-south-low"));
    assert_eq!(f.pick_in(&conf, Some("eu-west")), some("eu-west-medium"));
    assert_eq!(f.pick_in(&conf, Some("eu-central")), some("eu-central-low"));
    let conf = [
        on(&ap_low, 2),
        on(&eu_w_med, 1),
        on(&eu_w_high, 1),
        on(&eu_c_low, MAX_BP),
    ];
    assert_eq!(
        f.pick_in(&conf, Some("eu-central")),
        some("eu-central-medium")
    );
}

fn groups() -> Vec<Vec<String>> {
    vec![
        vec!["us-east".into(), "us-west".into()],
        vec!["eu-central".into(), "eu-west".into()],
    ]
}

#[test]
fn region_based_with_region_groups() {
    let mut f = regional(Some("us-east"), groups());
    assert_eq!(f.pick_in(&[], Some("ap-south")), some("ap-south-low"));
    assert_eq!(f.pick_in(&[], Some("eu-west")), some("eu-west-low"));

    let jids = [
        bridge_jid("ap-south-low"),
        bridge_jid("eu-west-medium"),
        bridge_jid("eu-west-high"),
        bridge_jid("eu-central-low"),
    ];
    let conf = [
        on(&jids[0], 2),
        on(&jids[1], 1),
        on(&jids[2], 1),
        on(&jids[3], MAX_BP),
    ];
    assert_eq!(f.pick_in(&conf, Some("eu-central")), some("eu-west-medium"));
    assert_eq!(f.pick_in(&conf, Some("us-east")), some("us-east-low"));
    // First bridge for someone in the local group but not the local region.
    assert_eq!(f.pick_in(&[], Some("us-west")), some("us-east-low"));

    // No bridge in the region: the rest of its group.
    for level in ["low", "medium", "high"] {
        f.remove(&format!("eu-west-{level}"));
    }
    assert_eq!(f.pick_in(&[], Some("eu-west")), some("eu-central-low"));
    let us = bridge_jid("us-east-low");
    assert_eq!(
        f.pick_in(&[on(&us, 1)], Some("eu-west")),
        some("eu-central-low")
    );
    // No bridge in the participant's group: the local region.
    assert_eq!(f.pick_in(&[], Some("sa-east")), some("us-east-low"));
}

#[test]
fn a_region_in_two_groups_belongs_to_the_last() {
    let mut f = Fixture::new(S::RegionBasedBridgeSelectionStrategy).octo();
    f.config.bridge.region_groups =
        vec![vec!["a".into(), "b".into()], vec!["a".into(), "c".into()]];
    f.bridge("in-b", 0.0, Some("b"));
    f.bridge("in-c", 0.1, Some("c"));
    assert_eq!(f.pick_in(&[], Some("a")), some("in-c"));
}

// ---------------------------------------------------------------------------
// MaxParticipantsPerIntervalTest

const PER_INTERVAL: u32 = 10;

fn rate_fixture(strategy: S, limit: i32) -> Fixture {
    let mut f = Fixture::new(strategy).octo();
    f.config.bridge.max_bridge_participants_per_interval = limit;
    f.bridge("bridge1", 0.0, Some("region"));
    f.bridge("bridge2", 0.1, Some("region"));
    f
}

fn recent(j: &FullJid, recently_added: u32) -> ConferenceBridge<'_> {
    ConferenceBridge {
        recently_added,
        ..ConferenceBridge::new(j, 1)
    }
}

#[test]
fn per_interval_limit_disabled() {
    let f = rate_fixture(S::RegionBasedBridgeSelectionStrategy, -1);
    let b1 = bridge_jid("bridge1");
    let s = f
        .select_full(
            &[recent(&b1, 1000)],
            ParticipantProperties {
                region: Some("region"),
                visitor: false,
            },
            None,
        )
        .expect("a bridge");
    assert_eq!(s.bridge.name(), "bridge1");
    assert!(!s.rate_limited);
}

#[test]
fn per_interval_limit() {
    let mut f = rate_fixture(S::RegionBasedBridgeSelectionStrategy, PER_INTERVAL as i32);
    let p = ParticipantProperties {
        region: Some("region"),
        visitor: false,
    };
    let b1 = bridge_jid("bridge1");
    let b2 = bridge_jid("bridge2");
    let run = |f: &Fixture, conf: &[ConferenceBridge<'_>]| {
        let s = f.select_full(conf, p, None).expect("a bridge");
        (s.bridge.name().to_owned(), s.rate_limited)
    };
    assert_eq!(
        run(&f, &[recent(&b1, PER_INTERVAL - 1)]),
        ("bridge1".into(), false)
    );
    assert_eq!(
        run(&f, &[recent(&b1, PER_INTERVAL)]),
        ("bridge2".into(), true)
    );
    assert_eq!(
        run(&f, &[recent(&b1, PER_INTERVAL + 100)]),
        ("bridge2".into(), true)
    );
    assert_eq!(run(&f, &[]), ("bridge1".into(), false));
    // All over the limit: the least loaded.
    assert_eq!(
        run(&f, &[recent(&b1, PER_INTERVAL), recent(&b2, PER_INTERVAL)]),
        ("bridge1".into(), true)
    );
    // Another conference on bridge1 is not affected.
    assert_eq!(run(&f, &[recent(&b1, 0)]), ("bridge1".into(), false));
    assert!(
        !f.peek("bridge1")
            .is_overloaded(f.now, Duration::from_secs(20), 0.8)
    );
    // Another bridge of the conference is preferred.
    let b3 = f.bridge("bridge3", 0.2, Some("region"));
    assert_eq!(
        run(&f, &[recent(&b1, PER_INTERVAL), recent(&b3, 0)]),
        ("bridge3".into(), true)
    );
}

#[test]
fn per_interval_limit_intra_region() {
    let f = rate_fixture(S::IntraRegionBridgeSelectionStrategy, PER_INTERVAL as i32);
    let b1 = bridge_jid("bridge1");
    let p = ParticipantProperties {
        region: Some("region"),
        visitor: false,
    };
    let name = |conf: &[ConferenceBridge<'_>]| f.pick(conf, p).ok();
    assert_eq!(name(&[recent(&b1, PER_INTERVAL - 1)]), some("bridge1"));
    assert_eq!(name(&[recent(&b1, PER_INTERVAL)]), some("bridge2"));
}

#[test]
fn per_interval_limit_with_everything_overloaded() {
    let mut f = Fixture::new(S::RegionBasedBridgeSelectionStrategy).octo();
    f.config.bridge.max_bridge_participants_per_interval = PER_INTERVAL as i32;
    let o1 = f.bridge("overloaded1", 0.9, Some("region"));
    let o2 = f.bridge("overloaded2", 0.95, Some("region"));
    let s = f
        .select_full(
            &[recent(&o1, PER_INTERVAL), recent(&o2, PER_INTERVAL)],
            ParticipantProperties {
                region: Some("region"),
                visitor: false,
            },
            None,
        )
        .expect("a bridge");
    assert_eq!(s.bridge.name(), "overloaded1");
    assert!(s.rate_limited);
}

#[test]
fn a_failed_selection_may_still_count_as_rate_limited() {
    let mut f = Fixture::new(S::IntraRegionBridgeSelectionStrategy).octo();
    f.config.bridge.max_bridge_participants_per_interval = 1;
    // The conference's bridge has a relay id but no region: the
    // intra-region strategy finds nothing.
    let a = f.presence(
        "a",
        &BridgeStats {
            relay_id: Some("relay-a".into()),
            ..stats(0.0, None)
        },
    );
    f.bridge("b", 0.0, Some("r"));
    let err = f
        .pick(&[recent(&a, 3)], ParticipantProperties::default())
        .expect_err("nothing in the conference's region");
    assert_eq!(err, SelectionError::NoSuitableBridge { rate_limited: true });
    assert!(err.rate_limited());
}

// ---------------------------------------------------------------------------
// IntraRegionBridgeSelectionStrategy

#[test]
fn intra_region() {
    let mut f = Fixture::new(S::IntraRegionBridgeSelectionStrategy).octo();
    let eu1 = f.bridge("eu1", 0.5, Some("eu"));
    f.bridge("eu2", 0.6, Some("eu"));
    f.bridge("us1", 0.1, Some("us"));
    // Initial: a non-overloaded bridge in the participant's region, else the
    // least loaded anywhere.
    assert_eq!(f.pick_in(&[], Some("eu")), some("eu1"));
    assert_eq!(f.pick_in(&[], Some("ap")), some("us1"));
    assert_eq!(f.pick_in(&[], None), some("us1"));
    // Later: the conference's region, whatever the participant's.
    assert_eq!(f.pick_in(&[on(&eu1, 3)], Some("us")), some("eu1"));
    f.bridge("eu1", 0.85, Some("eu"));
    assert_eq!(f.pick_in(&[on(&eu1, 3)], Some("us")), some("eu2"));
    f.bridge("eu2", 0.9, Some("eu"));
    // Everything in the region overloaded: stay on the conference's bridge.
    assert_eq!(f.pick_in(&[on(&eu1, 3)], Some("us")), some("eu1"));
    // If the conference's bridge is no longer a candidate and the rest of
    // its region is overloaded, the strategy gives up (as Jicofo's does).
    f.presence(
        "eu1",
        &BridgeStats {
            drain: Some(true),
            ..BridgeStats::default()
        },
    );
    assert_eq!(f.pick_in(&[on(&eu1, 3)], None), None);
    f.bridge("eu2", 0.7, Some("eu"));
    assert_eq!(f.pick_in(&[on(&eu1, 3)], None), some("eu2"));
    // Initial with everything in the region overloaded: least loaded overall.
    f.bridge("eu2", 0.9, Some("eu"));
    assert_eq!(f.pick_in(&[], Some("eu")), some("us1"));
}

#[test]
fn count_recent_additions() {
    let t0 = Instant::now();
    let times = [
        t0,
        t0 + Duration::from_secs(30),
        t0 + Duration::from_secs(50),
    ];
    let n = ConferenceBridge::count_recent(
        times,
        t0 + Duration::from_secs(70),
        Duration::from_secs(60),
    );
    assert_eq!(n, 2);
}

// ---------------------------------------------------------------------------
// Properties

#[derive(Debug, Clone)]
struct Spec {
    stress: f64,
    region: Option<&'static str>,
    relay: bool,
    version: Option<&'static str>,
    drain: bool,
    graceful: bool,
    shutting_down: bool,
    failed: bool,
    endpoints: u8,
}

fn spec() -> impl Gen<Value = Spec> {
    (
        (0u32..=120, 0usize..4, any::<bool>(), 0usize..3),
        (
            prop::bool::weighted(0.2),
            prop::bool::weighted(0.2),
            prop::bool::weighted(0.15),
            prop::bool::weighted(0.2),
            0u8..4,
        ),
    )
        .prop_map(
            |(
                (stress, region, relay, version),
                (drain, graceful, shutting_down, failed, endpoints),
            )| {
                Spec {
                    stress: f64::from(stress) / 100.0,
                    region: [None, Some("r0"), Some("r1"), Some("r2")][region],
                    relay,
                    version: [None, Some("v1"), Some("v2")][version],
                    drain,
                    graceful,
                    shutting_down,
                    failed,
                    endpoints,
                }
            },
        )
}

const KINDS: [S; 4] = [
    S::SingleBridgeSelectionStrategy,
    S::SplitBridgeSelectionStrategy,
    S::RegionBasedBridgeSelectionStrategy,
    S::IntraRegionBridgeSelectionStrategy,
];

/// A strategy: one of the four simple ones, or visitor over two of them.
fn strategy() -> impl Gen<Value = (S, Option<(S, S)>)> {
    prop_oneof![
        (0usize..4).prop_map(|i| (KINDS[i], None)),
        (0usize..4, 0usize..4)
            .prop_map(|(p, v)| (S::VisitorSelectionStrategy, Some((KINDS[p], KINDS[v])))),
    ]
}

fn build(
    specs: &[Spec],
    strategy: (S, Option<(S, S)>),
    octo: bool,
    local: Option<&str>,
) -> Fixture {
    let mut f = Fixture::new(strategy.0);
    if let Some((p, v)) = strategy.1 {
        f.config.bridge.participant_selection_strategy = Some(p);
        f.config.bridge.visitor_selection_strategy = Some(v);
    }
    f.config.octo.enabled = octo;
    f.config.local_region = local.map(str::to_owned);
    f.config.bridge.max_bridge_participants = 20;
    f.config.bridge.max_bridge_participants_per_interval = 5;
    f.config.bridge.region_groups = vec![vec!["r0".into(), "r1".into()]];
    for (i, s) in specs.iter().enumerate() {
        let nick = format!("jvb{i:02}");
        f.presence(
            &nick,
            &BridgeStats {
                stress_level: Some(s.stress),
                region: s.region.map(str::to_owned),
                relay_id: s.relay.then(|| format!("relay{i}")),
                version: s.version.map(str::to_owned),
                drain: Some(s.drain),
                graceful_shutdown: Some(s.graceful),
                shutting_down: Some(s.shutting_down),
                ..BridgeStats::default()
            },
        );
        let now = f.now;
        let b = f.get(&nick);
        for _ in 0..s.endpoints {
            b.endpoint_added(now);
        }
        if s.failed {
            b.set_operational(now, false);
        }
    }
    f
}

/// What selection must respect, from the pool alone: the tiers selectBridge
/// narrows the pool to, for a conference without bridges and no pinned
/// version.
fn best_tier(f: &Fixture) -> Vec<&Bridge> {
    let threshold = f.config.bridge.failure_reset_threshold;
    let mut tier: Vec<&Bridge> = f
        .pool
        .iter()
        .filter(|b| b.is_operational(f.now, threshold) && !b.shutting_down)
        .collect();
    if tier.iter().any(|b| !b.draining) {
        tier.retain(|b| !b.draining);
    }
    if tier.iter().any(|b| !b.graceful_shutdown) {
        tier.retain(|b| !b.graceful_shutdown);
    }
    tier
}

fn overloaded(f: &Fixture, b: &Bridge) -> bool {
    let c = &f.config.bridge;
    b.is_overloaded(f.now, c.participant_rampup_interval, c.stress_threshold)
}

proptest! {
    #[test]
    fn initial_selection_respects_the_filters(
        specs in proptest::collection::vec(spec(), 0..12),
        strategy in strategy(),
        octo in any::<bool>(),
        local in proptest::option::of(prop_oneof![Just("r0"), Just("r2"), Just("r9")]),
        region in proptest::option::of(prop_oneof![Just("r0"), Just("r1"), Just("r2"), Just("r9")]),
        visitor in any::<bool>(),
    ) {
        let f = build(&specs, strategy, octo, local);
        let p = ParticipantProperties { region, visitor };
        let result = f.select_full(&[], p, None);
        // Deterministic, and independent of the order the pool comes in.
        let again = f.select_full(&[], p, None);
        let backwards: Vec<&Bridge> = f.pool.iter().collect();
        let reversed = f
            .selector()
            .select(backwards.into_iter().rev(), &[], &p, None, f.now);
        let name = |r: &Result<Selected<'_>, SelectionError>| r.as_ref().map(|s| s.bridge.jid.clone()).map_err(Clone::clone);
        prop_assert_eq!(name(&result), name(&again));
        prop_assert_eq!(name(&result), name(&reversed));

        let tier = best_tier(&f);
        match &result {
            Err(e) => {
                prop_assert!(tier.is_empty(), "{e} with candidates {tier:?}");
            }
            Ok(s) => {
                prop_assert!(f.pool.get(&s.bridge.jid).is_some_and(|b| std::ptr::eq(b, s.bridge)));
                prop_assert!(!s.rate_limited);
                prop_assert!(
                    tier.iter().any(|b| std::ptr::eq(*b, s.bridge)),
                    "{} is operational, not shutting down, and draining or in \
                     graceful shutdown only if every candidate is",
                    s.bridge.jid
                );
                // The single-bridge strategy prefers the participant's
                // region even when it is loaded; everything else avoids an
                // overloaded bridge while another fits.
                let kind = match strategy.1 {
                    Some((p, v)) => if visitor { v } else { p },
                    None => strategy.0,
                };
                let prefers_region = kind == S::SingleBridgeSelectionStrategy && region.is_some();
                if !prefers_region && tier.iter().any(|b| !overloaded(&f, b)) {
                    prop_assert!(!overloaded(&f, s.bridge), "{} is overloaded", s.bridge.jid);
                }
            }
        }
    }

    #[test]
    fn selection_for_a_running_conference_is_sane(
        specs in proptest::collection::vec(spec(), 1..12),
        strategy in strategy(),
        octo in any::<bool>(),
        members in proptest::collection::vec((0usize..12, 0u32..30, any::<bool>(), 0u32..8), 1..4),
        region in proptest::option::of(prop_oneof![Just("r0"), Just("r1"), Just("r2")]),
        visitor in any::<bool>(),
        pinned in proptest::option::of(prop_oneof![Just("v1"), Just("v2")]),
    ) {
        let f = build(&specs, strategy, octo, Some("r0"));
        let jids: Vec<FullJid> = (0..specs.len()).map(|i| bridge_jid(&format!("jvb{i:02}"))).collect();
        let conference: Vec<ConferenceBridge<'_>> = members
            .iter()
            .filter_map(|(i, participants, visitor, recently_added)| {
                Some(ConferenceBridge {
                    jid: jids.get(*i)?,
                    participants: *participants,
                    visitor: *visitor,
                    recently_added: *recently_added,
                })
            })
            .collect();
        let p = ParticipantProperties { region, visitor };
        let result = f.select_full(&conference, p, pinned);
        let again = f.select_full(&conference, p, pinned);
        let name = |r: &Result<Selected<'_>, SelectionError>| r.as_ref().map(|s| (s.bridge.jid.clone(), s.rate_limited)).map_err(Clone::clone);
        prop_assert_eq!(name(&result), name(&again));
        if let Ok(s) = &result {
            let threshold = f.config.bridge.failure_reset_threshold;
            prop_assert!(f.pool.get(&s.bridge.jid).is_some_and(|b| std::ptr::eq(b, s.bridge)));
            prop_assert!(s.bridge.is_operational(f.now, threshold));
            let member = conference.iter().any(|c| *c.jid == s.bridge.jid);
            // Only a bridge the conference already uses may be shutting down.
            prop_assert!(member || !s.bridge.shutting_down);
            // Without Octo (or a relay), the conference stays where it is.
            if !octo && strategy.0 != S::SplitBridgeSelectionStrategy {
                let first = conference
                    .iter()
                    .find(|c| f.pool.get(c.jid).is_some_and(|b| b.is_operational(f.now, threshold)));
                if let Some(first) = first {
                    prop_assert_eq!(first.jid, &s.bridge.jid);
                }
            }
        }
    }
}
