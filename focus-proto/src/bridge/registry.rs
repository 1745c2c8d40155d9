//! [`BridgeRegistry`]: bridges by occupant JID, from brewery presence.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use jid::{BareJid, FullJid};
use minidom::Element;
use tracing::{debug, info, warn};

use crate::config::{BridgeConfig, IceFailureDetection};
use crate::ext::brewery::{BridgeStats, names};
use crate::ext::presence::{OccupantPresence, PresenceKind};

/// One bridge, keyed by its occupant JID in the brewery
/// (`brewery@internal-muc.example.com/jvb-a`).
#[derive(Debug, Clone)]
pub struct Bridge {
    /// The occupant JID: the address of every request to the bridge.
    pub jid: FullJid,
    /// `stress_level` last reported (initially 0).
    pub stress_level: f64,
    /// `average_participant_stress` (initially the configured value).
    pub average_participant_stress: f64,
    /// Shutting down gracefully: sticky once seen.
    pub graceful_shutdown: bool,
    /// In the final shutdown phase: sticky once seen.
    pub shutting_down: bool,
    /// Drain mode (initially true, as in Jicofo: a bridge that never said
    /// `drain=false` is treated as draining).
    pub draining: bool,
    /// `healthy`, for presence-based health.
    pub healthy: bool,
    /// `version`.
    pub version: Option<String>,
    /// `release`.
    pub release: Option<String>,
    /// `region`.
    pub region: Option<String>,
    /// `relay_id`: a bridge without one never shares a conference.
    pub relay_id: Option<String>,
    /// When the last presence with stats arrived.
    pub last_presence: Instant,
    /// Endpoints this focus allocated on the bridge.
    pub endpoints: u32,
    operational: bool,
    last_failure: Option<Instant>,
    /// When recent endpoints were added, for the rampup stress.
    recent_allocations: VecDeque<Instant>,
    /// Participants' ICE-failed notices and full restart requests against
    /// the bridge, ever (`bridge_restart_requests_total`).
    pub restart_requests: u64,
    /// When the recent ones came (within the detection interval).
    recent_restart_requests: VecDeque<Instant>,
    /// Failing ICE until then (`ice-failure-detection`), its stress held at
    /// least at the paired floor meanwhile.
    failing_ice: Option<(Instant, f64)>,
}

/// Recent restart requests kept per bridge at most (a bound for hostile
/// floods; detection only needs the count to pass the threshold).
const MAX_RECENT_RESTART_REQUESTS: usize = 1 << 16;

impl Bridge {
    fn new(jid: FullJid, now: Instant, config: &BridgeConfig) -> Self {
        Self {
            jid,
            stress_level: 0.0,
            average_participant_stress: config.average_participant_stress,
            graceful_shutdown: false,
            shutting_down: false,
            draining: true,
            healthy: true,
            version: None,
            release: None,
            region: None,
            relay_id: None,
            last_presence: now,
            endpoints: 0,
            operational: true,
            last_failure: None,
            recent_allocations: VecDeque::new(),
            restart_requests: 0,
            recent_restart_requests: VecDeque::new(),
            failing_ice: None,
        }
    }

    /// The bridge's id in REST and metrics: the occupant nickname.
    pub fn name(&self) -> &str {
        self.jid.resource().as_str()
    }

    /// `VERSION-RELEASE`, or the version alone.
    pub fn full_version(&self) -> Option<String> {
        match (&self.version, &self.release) {
            (Some(v), Some(r)) => Some(format!("{v}-{r}")),
            (Some(v), None) => Some(v.clone()),
            _ => None,
        }
    }

    /// Applies published stats; whether `shutting_down` just became true.
    fn apply(&mut self, now: Instant, stats: &BridgeStats) -> bool {
        self.last_presence = now;
        if let Some(s) = stats.stress_level {
            self.stress_level = s;
        }
        if let Some(s) = stats.average_participant_stress {
            self.average_participant_stress = s;
        }
        if stats.graceful_shutdown == Some(true) {
            self.graceful_shutdown = true;
        }
        let started_shutdown = stats.shutting_down == Some(true) && !self.shutting_down;
        if started_shutdown {
            self.shutting_down = true;
        }
        if let Some(d) = stats.drain {
            self.draining = d;
        }
        if let Some(h) = stats.healthy {
            self.healthy = h;
        }
        for (field, value) in [
            (&mut self.version, &stats.version),
            (&mut self.release, &stats.release),
            (&mut self.region, &stats.region),
            (&mut self.relay_id, &stats.relay_id),
        ] {
            if value.is_some() {
                field.clone_from(value);
            }
        }
        started_shutdown
    }

    /// Whether the bridge is operational at `now`: after a failure it stays
    /// non-operational for `failure_reset_threshold` after the last
    /// failure, whatever happened in between.
    pub fn is_operational(&self, now: Instant, failure_reset_threshold: Duration) -> bool {
        if let Some(at) = self.last_failure
            && now.saturating_duration_since(at) < failure_reset_threshold
        {
            return false;
        }
        self.operational
    }

    /// Records a health check or allocation outcome.
    pub fn set_operational(&mut self, now: Instant, operational: bool) {
        if !operational {
            self.last_failure = Some(now);
        }
        self.operational = operational;
    }

    /// Counts an endpoint allocated on the bridge now.
    pub fn endpoint_added(&mut self, now: Instant) {
        self.endpoints = self.endpoints.saturating_add(1);
        self.recent_allocations.push_back(now);
    }

    /// Counts an endpoint removed from the bridge.
    pub fn endpoint_removed(&mut self) {
        self.endpoints = self.endpoints.saturating_sub(1);
    }

    /// A participant on the bridge reported ICE failed or asked for a
    /// full session restart (Jicofo's `endpointRequestedRestart`). With
    /// `ice-failure-detection` enabled, a bridge with at least
    /// `min-endpoints` whose requests within `interval` exceed `threshold`
    /// of its endpoints is failing ICE for `timeout` (renewed while it
    /// lasts): its stress reads above `stress_threshold` meanwhile.
    pub fn endpoint_requested_restart(
        &mut self,
        now: Instant,
        detection: &IceFailureDetection,
        stress_threshold: f64,
    ) {
        self.restart_requests = self.restart_requests.saturating_add(1);
        while self
            .recent_restart_requests
            .front()
            .is_some_and(|at| now.saturating_duration_since(*at) >= detection.interval)
            || self.recent_restart_requests.len() >= MAX_RECENT_RESTART_REQUESTS
        {
            self.recent_restart_requests.pop_front();
        }
        self.recent_restart_requests.push_back(now);
        if !detection.enabled || self.endpoints < detection.min_endpoints {
            return;
        }
        let recent = self.recent_restart_requests.len() as f64;
        if recent > f64::from(self.endpoints) * detection.threshold {
            if !self.is_failing_ice(now) {
                info!(bridge = %self.jid, requests = recent, endpoints = self.endpoints, "bridge failing ICE");
            }
            self.failing_ice = Some((now + detection.timeout, stress_threshold + 0.01));
        }
    }

    /// Whether the bridge is in the failing-ICE state at `now`.
    pub fn is_failing_ice(&self, now: Instant) -> bool {
        self.failing_ice.is_some_and(|(until, _)| now < until)
    }

    /// Restart requests within the detection `interval` before `now`
    /// (`endpoint-restart-requests` in `/debug`).
    pub fn recent_restart_requests(&self, now: Instant, interval: Duration) -> usize {
        self.recent_restart_requests
            .iter()
            .filter(|at| now.saturating_duration_since(**at) < interval)
            .count()
    }

    /// The stress selection sorts by: the reported stress plus
    /// `average_participant_stress` for every endpoint added within
    /// `rampup` (the bridge has not reported their load yet), held above
    /// the stress threshold while the bridge is failing ICE.
    pub fn corrected_stress(&self, now: Instant, rampup: Duration) -> f64 {
        let recent = self
            .recent_allocations
            .iter()
            .filter(|at| now.saturating_duration_since(**at) < rampup)
            .count();
        let stress = self.stress_level + recent as f64 * self.average_participant_stress;
        match self.failing_ice {
            Some((until, floor)) if now < until => stress.max(floor),
            _ => stress,
        }
    }

    /// Whether the corrected stress reaches `threshold`.
    pub fn is_overloaded(&self, now: Instant, rampup: Duration, threshold: f64) -> bool {
        self.corrected_stress(now, rampup) >= threshold
    }

    /// Forgets allocations older than `rampup` (keeps memory bounded).
    pub fn prune(&mut self, now: Instant, rampup: Duration) {
        while self
            .recent_allocations
            .front()
            .is_some_and(|at| now.saturating_duration_since(*at) >= rampup)
        {
            self.recent_allocations.pop_front();
        }
    }
}

/// What a brewery presence changed in the pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BridgeChange {
    /// A bridge appeared.
    Added(FullJid),
    /// A bridge's stats changed; `shutting_down_started` when it just
    /// entered the final shutdown phase (its participants must move).
    Updated {
        /// The bridge.
        jid: FullJid,
        /// `shutting_down` went from false to true.
        shutting_down_started: bool,
    },
    /// A bridge left the brewery; `lost` unless it was shutting down.
    Removed {
        /// The bridge.
        jid: FullJid,
        /// It went away without announcing a shutdown.
        lost: bool,
    },
}

/// The pool of bridges; see the [module docs](super).
#[derive(Debug, Clone)]
pub struct BridgeRegistry {
    brewery: BareJid,
    bridges: BTreeMap<FullJid, Bridge>,
    /// Bridges removed without announcing a shutdown
    /// (`bridge_selector_lost_bridges`).
    pub lost_bridges: u64,
}

impl BridgeRegistry {
    /// An empty pool for the brewery room `brewery`.
    pub fn new(brewery: BareJid) -> Self {
        Self {
            brewery,
            bridges: BTreeMap::new(),
            lost_bridges: 0,
        }
    }

    /// The brewery room.
    pub fn brewery(&self) -> &BareJid {
        &self.brewery
    }

    /// A bridge by occupant JID.
    pub fn get(&self, jid: &FullJid) -> Option<&Bridge> {
        self.bridges.get(jid)
    }

    /// A bridge by occupant JID, to record outcomes.
    pub fn get_mut(&mut self, jid: &FullJid) -> Option<&mut Bridge> {
        self.bridges.get_mut(jid)
    }

    /// Every bridge, in occupant JID order.
    pub fn iter(&self) -> impl Iterator<Item = &Bridge> {
        self.bridges.values()
    }

    /// How many bridges there are.
    pub fn len(&self) -> usize {
        self.bridges.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.bridges.is_empty()
    }

    /// A presence from the brewery room. Presences from elsewhere, from the
    /// focus's own occupant (`own_nick`), or without stats change nothing.
    pub fn on_presence(
        &mut self,
        now: Instant,
        config: &BridgeConfig,
        own_nick: &str,
        presence: &Element,
    ) -> Option<BridgeChange> {
        let from = FullJid::new(presence.attr("from")?).ok()?;
        if from.to_bare() != self.brewery || from.resource().as_str() == own_nick {
            return None;
        }
        let occupant = match OccupantPresence::parse(presence) {
            Ok(p) => p,
            Err(e) => {
                debug!(bridge = %from, error = %e, "unreadable brewery presence ignored");
                return None;
            }
        };
        match occupant.kind {
            PresenceKind::Error => None,
            PresenceKind::Unavailable => {
                let bridge = self.bridges.remove(&from)?;
                let lost = !bridge.graceful_shutdown && !bridge.shutting_down;
                if lost {
                    self.lost_bridges += 1;
                    warn!(bridge = %from, "bridge left without shutting down: lost");
                } else {
                    info!(bridge = %from, "bridge left");
                }
                Some(BridgeChange::Removed { jid: from, lost })
            }
            PresenceKind::Available => {
                let stats = match BridgeStats::parse(presence) {
                    Ok(s) => s,
                    Err(e) => {
                        debug!(bridge = %from, error = %e, "brewery presence without stats ignored");
                        return None;
                    }
                };
                // A load the focus cannot read must not make the bridge look
                // idle (Jicofo would sort a NaN stress last).
                if let Some(bad) = stats
                    .rejected
                    .iter()
                    .find(|n| [names::STRESS_LEVEL, names::AVERAGE_PARTICIPANT_STRESS].contains(n))
                {
                    warn!(bridge = %from, stat = bad, "brewery presence with an unusable load ignored");
                    return None;
                }
                if !stats.rejected.is_empty() {
                    debug!(bridge = %from, stats = ?stats.rejected, "unusable bridge stats read as absent");
                }
                if let Some(bridge) = self.bridges.get_mut(&from) {
                    let shutting_down_started = bridge.apply(now, &stats);
                    return Some(BridgeChange::Updated {
                        jid: from,
                        shutting_down_started,
                    });
                }
                let mut bridge = Bridge::new(from.clone(), now, config);
                bridge.apply(now, &stats);
                info!(
                    bridge = %from,
                    region = ?bridge.region,
                    version = ?bridge.full_version(),
                    "bridge added"
                );
                self.bridges.insert(from.clone(), bridge);
                Some(BridgeChange::Added(from))
            }
        }
    }

    /// The focus left the brewery (or lost its connection): every bridge is
    /// removed, and those not shutting down count as lost (as in Jicofo).
    pub fn remove_all(&mut self) -> Vec<BridgeChange> {
        let removed: Vec<BridgeChange> = std::mem::take(&mut self.bridges)
            .into_values()
            .map(|b| BridgeChange::Removed {
                lost: !b.graceful_shutdown && !b.shutting_down,
                jid: b.jid,
            })
            .collect();
        self.lost_bridges += removed
            .iter()
            .filter(|c| matches!(c, BridgeChange::Removed { lost: true, .. }))
            .count() as u64;
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bridge::test_support::{
        BREWERY, bridge_jid, empty_registry, stats_presence, unavailable,
    };
    use proptest::prelude::*;

    #[test]
    fn bridges_come_update_and_go() {
        let now = Instant::now();
        let config = crate::config::Config::default().bridge;
        let mut r = empty_registry();
        let stats = BridgeStats {
            stress_level: Some(0.3),
            region: Some("eu-west".into()),
            relay_id: Some("relay-a".into()),
            version: Some("2.3.250".into()),
            release: Some("9955".into()),
            drain: Some(false),
            ..BridgeStats::default()
        };
        let added = r.on_presence(now, &config, "focus", &stats_presence("jvb-a", &stats));
        assert!(matches!(added, Some(BridgeChange::Added(_))));
        let jid = bridge_jid("jvb-a");
        let b = r.get(&jid).expect("added");
        assert_eq!(b.name(), "jvb-a");
        assert_eq!(b.region.as_deref(), Some("eu-west"));
        assert_eq!(b.full_version().as_deref(), Some("2.3.250-9955"));
        assert!(!b.draining);
        // An update without region keeps it; graceful shutdown is sticky.
        let update = BridgeStats {
            stress_level: Some(0.5),
            graceful_shutdown: Some(true),
            ..BridgeStats::default()
        };
        r.on_presence(now, &config, "focus", &stats_presence("jvb-a", &update));
        let back = BridgeStats {
            graceful_shutdown: Some(false),
            shutting_down: Some(true),
            ..BridgeStats::default()
        };
        let change = r.on_presence(now, &config, "focus", &stats_presence("jvb-a", &back));
        assert_eq!(
            change,
            Some(BridgeChange::Updated {
                jid: jid.clone(),
                shutting_down_started: true
            })
        );
        let b = r.get(&jid).expect("there");
        assert!(b.graceful_shutdown && b.shutting_down);
        assert_eq!(b.region.as_deref(), Some("eu-west"));
        assert_eq!(b.stress_level, 0.5);
        let gone = r.on_presence(now, &config, "focus", &unavailable("jvb-a"));
        assert_eq!(gone, Some(BridgeChange::Removed { jid, lost: false }));
        assert_eq!(r.lost_bridges, 0);
    }

    /// brewery.md 2.3: restart requests against a bridge make it fail ICE
    /// once they pass `threshold` of its endpoints (with at least
    /// `min-endpoints`) within `interval`; it then reads as overloaded for
    /// `timeout`, and recovers.
    #[test]
    fn restart_requests_make_a_bridge_fail_ice_for_a_while() {
        let t0 = Instant::now();
        let mut config = crate::config::Config::default().bridge;
        let detection = IceFailureDetection {
            enabled: true,
            interval: Duration::from_secs(120),
            min_endpoints: 30,
            threshold: 0.1,
            timeout: Duration::from_secs(600),
        };
        config.ice_failure_detection = detection.clone();
        let rampup = config.participant_rampup_interval;
        let mut b = Bridge::new(bridge_jid("jvb-a"), t0, &config);
        b.stress_level = 0.2;
        // Too few endpoints: counted, not judged.
        for _ in 0..20 {
            b.endpoint_requested_restart(t0, &detection, config.stress_threshold);
        }
        assert!(!b.is_failing_ice(t0));
        assert_eq!(b.restart_requests, 20);
        // 40 endpoints: more than 4 requests within the interval fail it.
        b.endpoints = 40;
        let later = t0 + Duration::from_secs(300);
        for i in 0..4 {
            b.endpoint_requested_restart(later, &detection, config.stress_threshold);
            assert!(!b.is_failing_ice(later), "{i}");
        }
        assert_eq!(b.recent_restart_requests(later, detection.interval), 4);
        b.endpoint_requested_restart(later, &detection, config.stress_threshold);
        assert!(b.is_failing_ice(later));
        let stress = b.corrected_stress(later + rampup, rampup);
        assert!(stress > config.stress_threshold, "{stress}");
        assert!(b.is_overloaded(later + rampup, rampup, config.stress_threshold));
        // Until `timeout` after the last qualifying request.
        let end = later + detection.timeout;
        assert!(b.is_failing_ice(end - Duration::from_secs(1)));
        assert!(!b.is_failing_ice(end));
        assert_eq!(b.corrected_stress(end, rampup), 0.2);
        assert_eq!(b.restart_requests, 25);
        assert_eq!(b.recent_restart_requests(end, detection.interval), 0);

        // Disabled: counted only.
        let off = IceFailureDetection {
            enabled: false,
            ..detection
        };
        let mut c = Bridge::new(bridge_jid("jvb-b"), t0, &config);
        c.endpoints = 40;
        for _ in 0..40 {
            c.endpoint_requested_restart(t0, &off, config.stress_threshold);
        }
        assert!(!c.is_failing_ice(t0));
        assert_eq!(c.restart_requests, 40);
    }

    #[test]
    fn a_bridge_that_vanishes_is_lost_and_a_new_one_starts_fresh() {
        let now = Instant::now();
        let config = crate::config::Config::default().bridge;
        let mut r = empty_registry();
        r.on_presence(
            now,
            &config,
            "focus",
            &stats_presence("jvb-b", &BridgeStats::default()),
        );
        let jid = bridge_jid("jvb-b");
        assert!(
            r.get(&jid).expect("added").draining,
            "draining until it says otherwise"
        );
        r.on_presence(now, &config, "focus", &unavailable("jvb-b"));
        assert_eq!(r.lost_bridges, 1);
        assert!(r.is_empty());
    }

    #[test]
    fn ignores_what_is_not_a_bridge() {
        let now = Instant::now();
        let config = crate::config::Config::default().bridge;
        let mut r = empty_registry();
        let stats = BridgeStats::default();
        // Our own occupant, another room, no stats, an unknown leaver.
        assert!(
            r.on_presence(now, &config, "focus", &stats_presence("focus", &stats))
                .is_none()
        );
        let elsewhere = Element::builder("presence", crate::xmpp::ns::CLIENT)
            .attr(
                crate::xml::ncname("from"),
                "other@internal-muc.meet.jitsi/jvb-a",
            )
            .append(stats.to_element())
            .build();
        assert!(r.on_presence(now, &config, "focus", &elsewhere).is_none());
        let bare: Element = format!("<presence xmlns='jabber:client' from='{BREWERY}/jvb-a'/>")
            .parse()
            .expect("xml");
        assert!(r.on_presence(now, &config, "focus", &bare).is_none());
        assert!(
            r.on_presence(now, &config, "focus", &unavailable("nobody"))
                .is_none()
        );
        assert!(r.is_empty());
    }

    #[test]
    fn failure_reset_threshold_and_rampup_stress() {
        let t0 = Instant::now();
        let config = crate::config::Config::default().bridge;
        let mut r = empty_registry();
        r.on_presence(
            t0,
            &config,
            "focus",
            &stats_presence(
                "jvb-a",
                &BridgeStats {
                    stress_level: Some(0.1),
                    average_participant_stress: Some(0.05),
                    ..BridgeStats::default()
                },
            ),
        );
        let jid = bridge_jid("jvb-a");
        let threshold = Duration::from_secs(60);
        let b = r.get_mut(&jid).expect("there");
        assert!(b.is_operational(t0, threshold));
        b.set_operational(t0, false);
        b.set_operational(t0 + Duration::from_secs(10), true);
        assert!(!b.is_operational(t0 + Duration::from_secs(30), threshold));
        assert!(b.is_operational(t0 + Duration::from_secs(61), threshold));

        let rampup = Duration::from_secs(20);
        b.endpoint_added(t0);
        b.endpoint_added(t0 + Duration::from_secs(15));
        let s = b.corrected_stress(t0 + Duration::from_secs(16), rampup);
        assert!((s - 0.2).abs() < 1e-9, "{s}");
        let s = b.corrected_stress(t0 + Duration::from_secs(25), rampup);
        assert!((s - 0.15).abs() < 1e-9, "{s}");
        assert!(!b.is_overloaded(t0 + Duration::from_secs(25), rampup, 0.8));
        b.prune(t0 + Duration::from_secs(25), rampup);
        assert_eq!(b.recent_allocations.len(), 1);
        assert_eq!(b.endpoints, 2);
    }

    proptest! {
        #[test]
        fn sticky_flags_never_reset(flags in proptest::collection::vec((proptest::option::of(any::<bool>()), proptest::option::of(any::<bool>())), 1..20)) {
            let now = Instant::now();
            let config = crate::config::Config::default().bridge;
            let mut r = empty_registry();
            let jid = bridge_jid("jvb");
            let (mut graceful, mut shutting) = (false, false);
            for (g, s) in flags {
                let stats = BridgeStats { graceful_shutdown: g, shutting_down: s, ..BridgeStats::default() };
                r.on_presence(now, &config, "focus", &stats_presence("jvb", &stats));
                graceful |= g == Some(true);
                shutting |= s == Some(true);
                let b = r.get(&jid).expect("there");
                prop_assert_eq!(b.graceful_shutdown, graceful);
                prop_assert_eq!(b.shutting_down, shutting);
            }
        }
    }
}
