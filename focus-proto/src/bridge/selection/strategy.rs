//! The strategies Jicofo ships, over the ranked candidates.
//!
//! Every helper walks the candidates in rank order (least loaded first) and
//! returns the first that fits; a strategy tries helpers in turn.

use super::{
    BridgeSelector, Candidate, Member, ParticipantProperties, SelectorConfigError, member_of,
};
use crate::bridge::Bridge;
use crate::config::SelectionStrategy;

/// A strategy that chooses by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// `SingleBridgeSelectionStrategy`.
    SingleBridge,
    /// `SplitBridgeSelectionStrategy`.
    Split,
    /// `RegionBasedBridgeSelectionStrategy`.
    RegionBased,
    /// `IntraRegionBridgeSelectionStrategy`.
    IntraRegion,
}

/// The configured strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Strategy {
    Simple(Kind),
    /// `VisitorSelectionStrategy`: one strategy for participants, one for
    /// visitors, each preferring bridges the conference uses for its own
    /// kind.
    Visitor {
        participant: Kind,
        visitor: Kind,
    },
}

impl Kind {
    fn from_config(s: SelectionStrategy) -> Option<Self> {
        match s {
            SelectionStrategy::SingleBridgeSelectionStrategy => Some(Self::SingleBridge),
            SelectionStrategy::SplitBridgeSelectionStrategy => Some(Self::Split),
            SelectionStrategy::RegionBasedBridgeSelectionStrategy => Some(Self::RegionBased),
            SelectionStrategy::IntraRegionBridgeSelectionStrategy => Some(Self::IntraRegion),
            SelectionStrategy::VisitorSelectionStrategy => None,
        }
    }

    pub(super) fn config_name(self) -> SelectionStrategy {
        match self {
            Self::SingleBridge => SelectionStrategy::SingleBridgeSelectionStrategy,
            Self::Split => SelectionStrategy::SplitBridgeSelectionStrategy,
            Self::RegionBased => SelectionStrategy::RegionBasedBridgeSelectionStrategy,
            Self::IntraRegion => SelectionStrategy::IntraRegionBridgeSelectionStrategy,
        }
    }

    /// Jicofo's `doSelect` of this strategy.
    fn choose<'r>(
        self,
        sel: &BridgeSelector,
        candidates: &[Candidate<'r>],
        conference: &[Member<'r>],
        participant: &ParticipantProperties<'_>,
    ) -> Option<&'r Bridge> {
        let h = Helpers {
            sel,
            candidates,
            conference,
        };
        match self {
            Self::SingleBridge => match conference {
                [] => h
                    .least_loaded_in_region(participant.region)
                    .or_else(|| h.least_loaded()),
                // Members are operational by construction.
                [only] => Some(only.bridge),
                _ => None,
            },
            Self::Split => candidates
                .iter()
                .find(|c| member_of(c.bridge, conference).is_none())
                .map(|c| c.bridge)
                .or_else(|| {
                    // The conference bridge with the fewest participants
                    // (the first such), among the candidates.
                    let mut best: Option<&Member<'r>> = None;
                    for m in conference {
                        if !candidates.iter().any(|c| std::ptr::eq(c.bridge, m.bridge)) {
                            continue;
                        }
                        if best.is_none_or(|b| m.participants < b.participants) {
                            best = Some(m);
                        }
                    }
                    best.map(|m| m.bridge)
                }),
            Self::RegionBased => {
                if candidates.is_empty() {
                    return None;
                }
                let mut region = participant.region.or(sel.local_region.as_deref());
                if let Some(local) = sel.local_region.as_deref() {
                    let group = sel.region_group(region);
                    // A first bridge for a participant outside the local
                    // region but inside its group: the next participant is
                    // probably local, so start in the local region.
                    if conference.is_empty() && region != Some(local) && group.contains(Some(local))
                    {
                        region = Some(local);
                    }
                    // Nothing in the participant's group: use the local
                    // region instead.
                    if !candidates
                        .iter()
                        .any(|c| group.contains(c.bridge.region.as_deref()))
                    {
                        region = Some(local);
                    }
                }
                h.not_loaded_in_conference_in_region(region)
                    .or_else(|| h.not_loaded_in_conference_in_group(region))
                    .or_else(|| h.not_loaded_in_region(region))
                    .or_else(|| h.not_loaded_in_group(region))
                    .or_else(|| h.not_loaded_in_conference())
                    .or_else(|| h.not_loaded())
                    .or_else(|| h.least_loaded_not_maxed_in_conference())
                    .or_else(|| h.least_loaded())
            }
            Self::IntraRegion => {
                if candidates.is_empty() {
                    return None;
                }
                match conference.first() {
                    None => h
                        .not_loaded_in_region(participant.region)
                        .or_else(|| h.least_loaded()),
                    Some(first) => {
                        let region = first.bridge.region.as_deref();
                        h.not_loaded_in_conference_in_region(region)
                            .or_else(|| h.not_loaded_in_region(region))
                            .or_else(|| h.least_loaded_in_conference_in_region(region))
                    }
                }
            }
        }
    }
}

impl Strategy {
    pub(super) fn from_config(
        top: SelectionStrategy,
        participant: Option<SelectionStrategy>,
        visitor: Option<SelectionStrategy>,
    ) -> Result<Self, SelectorConfigError> {
        if let Some(kind) = Kind::from_config(top) {
            return Ok(Self::Simple(kind));
        }
        match (
            participant.and_then(Kind::from_config),
            visitor.and_then(Kind::from_config),
        ) {
            (Some(participant), Some(visitor)) => Ok(Self::Visitor {
                participant,
                visitor,
            }),
            _ => Err(SelectorConfigError::VisitorStrategies),
        }
    }

    /// Whether the strategy uses several bridges even with Octo disabled
    /// (Jicofo force-enables it for the split strategy).
    pub(super) fn forces_multi_bridge(self) -> bool {
        self == Self::Simple(Kind::Split)
    }

    /// Jicofo's `doSelect` of the configured strategy.
    pub(super) fn select<'r>(
        self,
        sel: &BridgeSelector,
        candidates: &[Candidate<'r>],
        conference: &[Member<'r>],
        participant: &ParticipantProperties<'_>,
    ) -> Option<&'r Bridge> {
        match self {
            Self::Simple(kind) => kind.choose(sel, candidates, conference, participant),
            Self::Visitor {
                participant: for_participants,
                visitor: for_visitors,
            } => {
                let kind = if participant.visitor {
                    for_visitors
                } else {
                    for_participants
                };
                // Bridges not in the conference or used for the same kind
                // of endpoint first; mixing only when that finds nothing.
                let eligible: Vec<Candidate<'r>> = candidates
                    .iter()
                    .filter(|c| {
                        member_of(c.bridge, conference)
                            .is_none_or(|m| m.visitor == participant.visitor)
                    })
                    .copied()
                    .collect();
                let same_kind: Vec<Member<'r>> = conference
                    .iter()
                    .filter(|m| m.visitor == participant.visitor)
                    .copied()
                    .collect();
                kind.choose(sel, &eligible, &same_kind, participant)
                    .or_else(|| kind.choose(sel, candidates, conference, participant))
            }
        }
    }
}

/// Jicofo's selection helpers over one candidate list and one conference.
struct Helpers<'h, 'r> {
    sel: &'h BridgeSelector,
    candidates: &'h [Candidate<'r>],
    conference: &'h [Member<'r>],
}

impl<'r> Helpers<'_, 'r> {
    fn in_conference(&self, c: &Candidate<'_>) -> bool {
        member_of(c.bridge, self.conference).is_some()
    }

    fn not_overloaded(&self, c: &Candidate<'_>) -> bool {
        !self.sel.overloaded_for(c, self.conference)
    }

    fn first(&self, pred: impl Fn(&Candidate<'r>) -> bool) -> Option<&'r Bridge> {
        self.candidates.iter().find(|c| pred(c)).map(|c| c.bridge)
    }

    fn not_loaded_in_conference_in_region(&self, region: Option<&str>) -> Option<&'r Bridge> {
        self.first(|c| self.not_overloaded(c) && self.in_conference(c) && in_region(c, region))
    }

    fn not_loaded_in_conference_in_group(&self, region: Option<&str>) -> Option<&'r Bridge> {
        let group = self.sel.region_group(region);
        self.first(|c| {
            self.not_overloaded(c)
                && self.in_conference(c)
                && group.contains(c.bridge.region.as_deref())
        })
    }

    fn not_loaded_in_region(&self, region: Option<&str>) -> Option<&'r Bridge> {
        self.first(|c| self.not_overloaded(c) && in_region(c, region))
    }

    fn not_loaded_in_group(&self, region: Option<&str>) -> Option<&'r Bridge> {
        let group = self.sel.region_group(region);
        self.first(|c| self.not_overloaded(c) && group.contains(c.bridge.region.as_deref()))
    }

    fn not_loaded_in_conference(&self) -> Option<&'r Bridge> {
        self.first(|c| self.not_overloaded(c) && self.in_conference(c))
    }

    /// Not overloaded by its own stress; the conference's limits do not
    /// count here.
    fn not_loaded(&self) -> Option<&'r Bridge> {
        self.first(|c| !c.overloaded)
    }

    fn least_loaded_in_conference_in_region(&self, region: Option<&str>) -> Option<&'r Bridge> {
        self.first(|c| self.in_conference(c) && in_region(c, region))
    }

    /// Only `max-bridge-participants` counts here: neither stress nor the
    /// per-interval limit.
    fn least_loaded_not_maxed_in_conference(&self) -> Option<&'r Bridge> {
        self.first(|c| {
            member_of(c.bridge, self.conference).is_some_and(|m| !self.sel.has_max_participants(m))
        })
    }

    fn least_loaded_in_region(&self, region: Option<&str>) -> Option<&'r Bridge> {
        self.first(|c| in_region(c, region))
    }

    fn least_loaded(&self) -> Option<&'r Bridge> {
        self.first(|_| true)
    }
}

/// In `region` exactly; nothing is in no region.
fn in_region(c: &Candidate<'_>, region: Option<&str>) -> bool {
    region.is_some() && c.bridge.region.as_deref() == region
}
