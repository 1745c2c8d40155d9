//! Bridge selection: which bridge a new participant of a conference goes to.
//!
//! [`BridgeSelector`] is a pure function of its inputs, built once from the
//! configuration. It reproduces Jicofo's `BridgeSelector.selectBridge` and
//! the selection strategies it ships, decision for decision:
//!
//! 1. The pool is ranked: operational bridges not in graceful shutdown
//!    first, then operational bridges in graceful shutdown, then the rest;
//!    within a rank by corrected stress (lowest first). Jicofo sorts a hash
//!    map's values, so its order on equal keys is arbitrary; here equal keys
//!    are ordered by occupant JID, which makes the result reproducible.
//! 2. The conference's bridges are resolved against the pool. Those not
//!    operational are left out, as Jicofo's COLIBRI session manager leaves
//!    them out of what it passes to the selector; so are those no longer in
//!    the pool (Jicofo would still see a removed bridge until its session
//!    is torn down).
//! 3. The bridge version is fixed by the conference's first bridge, or by
//!    the pinned version; asking for another one is an error.
//! 4. Filters: operational, then not shutting down, then (unless
//!    `octo.allow-mixed-versions`) the version. Each empty result is an
//!    error. Then two preferences, kept only when they leave something:
//!    not draining, then not in graceful shutdown.
//! 5. The configured strategy chooses among the remaining candidates (see
//!    [`SelectionStrategy`]). A conference that already has a bridge stays
//!    on its first bridge unless Octo is enabled (always, for the split
//!    strategy) and that bridge has a relay id.
//!
//! Nothing here reads a clock: `now` is an argument, and the same inputs
//! always give the same answer.

mod strategy;
#[cfg(test)]
mod tests;

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use jid::FullJid;

use super::Bridge;
use crate::config::{Config, SelectionStrategy};
use strategy::Strategy;

/// What the conference knows about one bridge it uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConferenceBridge<'a> {
    /// The bridge's occupant JID in the brewery.
    pub jid: &'a FullJid,
    /// The conference's participants on that bridge.
    pub participants: u32,
    /// Whether the conference uses the bridge for visitors (Jicofo looks at
    /// the first participant the conference has on it).
    pub visitor: bool,
    /// Participants the conference added to the bridge within
    /// `max-bridge-participants-interval`; see [`Self::count_recent`].
    pub recently_added: u32,
}

impl<'a> ConferenceBridge<'a> {
    /// A bridge with `participants` non-visitor participants and none added
    /// recently.
    pub fn new(jid: &'a FullJid, participants: u32) -> Self {
        Self {
            jid,
            participants,
            visitor: false,
            recently_added: 0,
        }
    }

    /// How many of the instants in `added` lie within `interval` before
    /// `now`: the value of [`Self::recently_added`] when `added` holds the
    /// times the conference added participants to the bridge and
    /// `interval` is `max-bridge-participants-interval`.
    pub fn count_recent<I>(added: I, now: Instant, interval: Duration) -> u32
    where
        I: IntoIterator<Item = Instant>,
    {
        let n = added
            .into_iter()
            .filter(|at| now.saturating_duration_since(*at) < interval)
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }
}

/// What selection needs to know about the participant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ParticipantProperties<'a> {
    /// The region the participant reported, if any.
    pub region: Option<&'a str>,
    /// Whether the participant joins as a visitor.
    pub visitor: bool,
}

/// A successful selection.
#[derive(Debug, Clone, Copy)]
pub struct Selected<'r> {
    /// The chosen bridge, one of the pool's.
    pub bridge: &'r Bridge,
    /// The conference had reached `max-bridge-participants-per-interval` on
    /// at least one of its bridges, so the strategy treated those as full.
    /// Each such selection counts once in `bridge_selection_rate_limited`.
    pub rate_limited: bool,
}

/// Why no bridge was selected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectionError {
    /// A version was pinned, but the conference already uses bridges of
    /// another version.
    #[error("version {requested} requested, but the conference uses version {conference}")]
    InconsistentVersion {
        /// The pinned version.
        requested: String,
        /// The version of the conference's first bridge.
        conference: String,
    },
    /// The pool has no operational bridge.
    #[error("no operational bridge")]
    NoOperationalBridge,
    /// Every operational bridge is shutting down.
    #[error("every operational bridge is shutting down")]
    AllShuttingDown,
    /// No operational bridge that is not shutting down has the version the
    /// conference needs.
    #[error("no bridge with version {0}")]
    NoBridgeWithVersion(String),
    /// There were candidates, but the strategy accepted none of them.
    #[error("the selection strategy found no suitable bridge")]
    NoSuitableBridge {
        /// As [`Selected::rate_limited`]: the selection still counts in
        /// `bridge_selection_rate_limited`.
        rate_limited: bool,
    },
}

impl SelectionError {
    /// Whether this failed selection counts in
    /// `bridge_selection_rate_limited` (see [`Selected::rate_limited`]).
    pub fn rate_limited(&self) -> bool {
        matches!(self, Self::NoSuitableBridge { rate_limited: true })
    }
}

/// The configuration cannot be used for selection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorConfigError {
    /// `VisitorSelectionStrategy` needs both `participant-selection-strategy`
    /// and `visitor-selection-strategy`, and neither may be
    /// `VisitorSelectionStrategy` itself.
    #[error(
        "VisitorSelectionStrategy needs participant-selection-strategy and \
         visitor-selection-strategy, neither of them VisitorSelectionStrategy"
    )]
    VisitorStrategies,
}

/// Jicofo's bridge selection, as a pure function; see the
/// [module docs](self).
#[derive(Debug, Clone)]
pub struct BridgeSelector {
    strategy: Strategy,
    octo_enabled: bool,
    allow_mixed_versions: bool,
    local_region: Option<String>,
    /// Region → index in `groups`; a region in several groups belongs to
    /// the last of them, as in Jicofo.
    group_of: BTreeMap<String, usize>,
    groups: Vec<Vec<String>>,
    max_bridge_participants: i32,
    max_participants_per_interval: i32,
    rampup: Duration,
    stress_threshold: f64,
    failure_reset_threshold: Duration,
}

impl BridgeSelector {
    /// A selector for `config` (`jicofo.bridge`, `jicofo.octo` and
    /// `jicofo.local-region`).
    pub fn new(config: &Config) -> Result<Self, SelectorConfigError> {
        let bridge = &config.bridge;
        let strategy = Strategy::from_config(
            bridge.selection_strategy,
            bridge.participant_selection_strategy,
            bridge.visitor_selection_strategy,
        )?;
        let mut group_of = BTreeMap::new();
        for (i, group) in bridge.region_groups.iter().enumerate() {
            for region in group {
                group_of.insert(region.clone(), i);
            }
        }
        Ok(Self {
            strategy,
            octo_enabled: config.octo.enabled,
            allow_mixed_versions: config.octo.allow_mixed_versions,
            local_region: config.local_region.clone(),
            group_of,
            groups: bridge.region_groups.clone(),
            max_bridge_participants: bridge.max_bridge_participants,
            max_participants_per_interval: bridge.max_bridge_participants_per_interval,
            rampup: bridge.participant_rampup_interval,
            stress_threshold: bridge.stress_threshold,
            failure_reset_threshold: bridge.failure_reset_threshold,
        })
    }

    /// The configured top-level strategy.
    pub fn strategy(&self) -> SelectionStrategy {
        match self.strategy {
            Strategy::Simple(kind) => kind.config_name(),
            Strategy::Visitor { .. } => SelectionStrategy::VisitorSelectionStrategy,
        }
    }

    /// Selects a bridge from `pool` for a new participant of a conference
    /// that uses `conference` (in the order it started using them: the
    /// first one fixes the version and is the one kept without Octo).
    /// `pinned_version` is the conference's pinned bridge version, if any.
    ///
    /// The answer is always one of `pool`'s bridges. A bridge of
    /// `conference` that is not in `pool` is ignored.
    pub fn select<'r, I>(
        &self,
        pool: I,
        conference: &[ConferenceBridge<'_>],
        participant: &ParticipantProperties<'_>,
        pinned_version: Option<&str>,
        now: Instant,
    ) -> Result<Selected<'r>, SelectionError>
    where
        I: IntoIterator<Item = &'r Bridge>,
    {
        let ranked = self.rank(pool, now);

        // The conference's bridges, as the session manager would report
        // them: known and operational, each once.
        let mut members: Vec<Member<'r>> = Vec::with_capacity(conference.len());
        for cb in conference {
            let Some(r) = ranked.iter().find(|r| r.bridge.jid == *cb.jid) else {
                continue;
            };
            if !r.operational || members.iter().any(|m| std::ptr::eq(m.bridge, r.bridge)) {
                continue;
            }
            members.push(Member {
                bridge: r.bridge,
                participants: cb.participants,
                visitor: cb.visitor,
                recently_added: cb.recently_added,
            });
        }

        let conference_version = members.first().and_then(|m| m.bridge.full_version());
        let version = match (conference_version, pinned_version) {
            (Some(have), Some(want)) if have != want => {
                return Err(SelectionError::InconsistentVersion {
                    requested: want.to_owned(),
                    conference: have,
                });
            }
            (Some(have), _) => Some(have),
            (None, want) => want.map(str::to_owned),
        };

        let mut candidates: Vec<Candidate<'r>> = ranked
            .iter()
            .filter(|r| r.operational)
            .map(|r| Candidate {
                bridge: r.bridge,
                overloaded: r.stress >= self.stress_threshold,
            })
            .collect();
        if candidates.is_empty() {
            return Err(SelectionError::NoOperationalBridge);
        }
        candidates.retain(|c| !c.bridge.shutting_down);
        if candidates.is_empty() {
            return Err(SelectionError::AllShuttingDown);
        }
        if let Some(v) = &version
            && !self.allow_mixed_versions
        {
            candidates.retain(|c| full_version_is(c.bridge, v));
            if candidates.is_empty() {
                return Err(SelectionError::NoBridgeWithVersion(v.clone()));
            }
        }
        prefer(&mut candidates, |c| !c.bridge.draining);
        prefer(&mut candidates, |c| !c.bridge.graceful_shutdown);

        let limit = self.max_participants_per_interval;
        let rate_limited = limit > 0
            && members
                .iter()
                .any(|m| i64::from(m.recently_added) >= i64::from(limit));

        let chosen = match members.first() {
            None => self
                .strategy
                .select(self, &candidates, &members, participant),
            Some(first) => {
                let multi = self.octo_enabled || self.strategy.forces_multi_bridge();
                if !multi || first.bridge.relay_id.is_none() {
                    Some(first.bridge)
                } else {
                    self.strategy
                        .select(self, &candidates, &members, participant)
                }
            }
        };
        match chosen {
            Some(bridge) => Ok(Selected {
                bridge,
                rate_limited,
            }),
            None => Err(SelectionError::NoSuitableBridge { rate_limited }),
        }
    }

    /// The pool in Jicofo's order (see the [module docs](self)).
    fn rank<'r, I>(&self, pool: I, now: Instant) -> Vec<Ranked<'r>>
    where
        I: IntoIterator<Item = &'r Bridge>,
    {
        let mut ranked: Vec<Ranked<'r>> = pool
            .into_iter()
            .map(|bridge| {
                let operational = bridge.is_operational(now, self.failure_reset_threshold);
                let priority = match (operational, bridge.graceful_shutdown) {
                    (true, false) => 1,
                    (true, true) => 2,
                    (false, _) => 3,
                };
                Ranked {
                    bridge,
                    operational,
                    priority,
                    stress: bridge.corrected_stress(now, self.rampup),
                }
            })
            .collect();
        ranked.sort_by(|a, b| {
            a.priority
                .cmp(&b.priority)
                .then_with(|| java_double_cmp(a.stress, b.stress))
                .then_with(|| a.bridge.jid.cmp(&b.bridge.jid))
        });
        ranked
    }

    /// The regions close to `region`, Jicofo's way: none for no region, its
    /// configured group, or the region alone.
    fn region_group<'s>(&'s self, region: Option<&'s str>) -> RegionGroup<'s> {
        match region {
            None => RegionGroup::Empty,
            Some(r) => match self.group_of.get(r).and_then(|i| self.groups.get(*i)) {
                Some(group) => RegionGroup::Group(group),
                None => RegionGroup::Single(r),
            },
        }
    }

    /// Overloaded for this conference: by stress, or because the
    /// conference has `max-bridge-participants` on it, or has added
    /// `max-bridge-participants-per-interval` to it recently.
    fn overloaded_for(&self, c: &Candidate<'_>, conference: &[Member<'_>]) -> bool {
        if c.overloaded {
            return true;
        }
        let Some(m) = member_of(c.bridge, conference) else {
            return false;
        };
        self.has_max_participants(m)
            || (self.max_participants_per_interval > 0
                && i64::from(m.recently_added) >= i64::from(self.max_participants_per_interval))
    }

    fn has_max_participants(&self, m: &Member<'_>) -> bool {
        self.max_bridge_participants > 0
            && i64::from(m.participants) >= i64::from(self.max_bridge_participants)
    }
}

/// One pool bridge with what ranking computed.
struct Ranked<'r> {
    bridge: &'r Bridge,
    operational: bool,
    priority: u8,
    stress: f64,
}

/// A bridge that passed the filters, in rank order.
#[derive(Clone, Copy)]
struct Candidate<'r> {
    bridge: &'r Bridge,
    /// Overloaded by its own stress (not yet for the conference).
    overloaded: bool,
}

/// A bridge of the conference, resolved against the pool.
#[derive(Clone, Copy)]
struct Member<'r> {
    bridge: &'r Bridge,
    participants: u32,
    visitor: bool,
    recently_added: u32,
}

fn member_of<'a, 'r>(bridge: &Bridge, conference: &'a [Member<'r>]) -> Option<&'a Member<'r>> {
    conference.iter().find(|m| std::ptr::eq(m.bridge, bridge))
}

/// Keeps the candidates satisfying `keep`, unless none does.
fn prefer<'r>(candidates: &mut Vec<Candidate<'r>>, keep: impl Fn(&Candidate<'r>) -> bool) {
    if candidates.iter().any(&keep) {
        candidates.retain(keep);
    }
}

/// A region group as Jicofo builds it.
#[derive(Clone, Copy)]
enum RegionGroup<'s> {
    Empty,
    Single(&'s str),
    Group(&'s [String]),
}

impl RegionGroup<'_> {
    fn contains(&self, region: Option<&str>) -> bool {
        let Some(region) = region else {
            return false;
        };
        match self {
            Self::Empty => false,
            Self::Single(r) => *r == region,
            Self::Group(g) => g.iter().any(|r| r == region),
        }
    }
}

/// `bridge.full_version() == Some(v)`, without building the string.
fn full_version_is(bridge: &Bridge, v: &str) -> bool {
    match (&bridge.version, &bridge.release) {
        (Some(version), Some(release)) => v
            .strip_prefix(version.as_str())
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(|rest| rest == release),
        (Some(version), None) => version == v,
        (None, _) => false,
    }
}

/// Java's `Double.compare`: NaN above everything (and equal to itself),
/// -0.0 below 0.0.
fn java_double_cmp(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => a.total_cmp(&b),
    }
}
