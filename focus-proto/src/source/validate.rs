//! The conference source map with validation (sources.md sections 3 and 4;
//! Jicofo's `ValidatingConferenceSourceMap`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::group::{Semantics, SsrcGroup};
use super::map::ConferenceSourceMap;
use super::set::EndpointSourceSet;
use super::source::{MediaType, Source, Ssrc, SsrcList};

/// Why an addition or removal was refused. `Display` is Jicofo's exact
/// message, sent as the text of the `bad-request` answer.
///
/// Rule 1 (`Invalid SSRC: <ssrc>.`) cannot fail here: an [`Ssrc`] is never
/// out of range; parsing reports it instead (with the same text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// Rule 2: the SSRC belongs to an endpoint already (possibly the
    /// sender), or appears twice in the request.
    #[error("SSRC is already used: {0}.")]
    SsrcAlreadyUsed(Ssrc),
    /// Rules 3 and 11: the msid belongs to another endpoint, or to another
    /// stream of the same media type of this endpoint.
    #[error("MSID is already used: {0}.")]
    MsidConflict(String),
    /// Rule 4: more sources than `max-ssrcs-per-user`.
    #[error("SSRC limit ({0}) exceeded.")]
    SsrcLimitExceeded(usize),
    /// Rule 6: a group names an SSRC the endpoint has no source for.
    #[error("An SSRC group contains an SSRC, which hasn't been signaled as a source: {}.", SsrcList(.0))]
    GroupContainsUnknownSource(Vec<Ssrc>),
    /// Rule 7: more groups than `max-ssrc-groups-per-user`.
    #[error("ssrc-group limit ({0}) exceeded.")]
    SsrcGroupLimitExceeded(usize),
    /// Rule 8: a `FID` group without exactly two SSRCs.
    #[error("Invalid FID group: {}.", SsrcList(.0))]
    InvalidFidGroup(Vec<Ssrc>),
    /// Rule 9: a grouped source without this parameter (always `msid`).
    #[error("Required source parameter '{0}' is not present.")]
    RequiredParameterMissing(&'static str),
    /// Rule 10: the sources of a group have different msids.
    #[error("SsrcGroup contains sources with different MSIDs: {}.", SsrcList(.0))]
    GroupMsidMismatch(Vec<Ssrc>),
    /// Removal: the endpoint has no sources (`None`, printed `null` as in
    /// Jicofo) or not this SSRC.
    #[error("Source does not exist or is not owned by endpoint {}.", SsrcOrNull(*.0))]
    SourceDoesNotExist(Option<Ssrc>),
    /// Removal: the endpoint has no such group (same semantics, SSRCs and
    /// media type).
    #[error("Source group does not exist")]
    SourceGroupDoesNotExist,
}

/// `(ssrc=N)`, or `null`.
struct SsrcOrNull(Option<Ssrc>);

impl fmt::Display for SsrcOrNull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(ssrc) => write!(f, "(ssrc={ssrc})"),
            None => f.write_str("null"),
        }
    }
}

/// The conference's sources by owner, changed only through validated
/// additions and removals, so that it always holds:
///
/// * no SSRC owned twice (by two endpoints or twice by one);
/// * no msid used by two endpoints;
/// * groups non-empty, referencing their owner's SSRCs, passing rules 8-11;
/// * at most the configured number of sources and groups per owner.
#[derive(Debug, Clone)]
pub struct ValidatingConferenceSourceMap {
    map: ConferenceSourceMap,
    ssrc_owner: BTreeMap<Ssrc, String>,
    msid_owner: BTreeMap<String, String>,
    max_ssrcs_per_user: usize,
    max_ssrc_groups_per_user: usize,
}

impl ValidatingConferenceSourceMap {
    /// An empty map with limits `max-ssrcs-per-user` (Jicofo default 20)
    /// and `max-ssrc-groups-per-user` (default: the same as the former).
    pub fn new(max_ssrcs_per_user: usize, max_ssrc_groups_per_user: usize) -> Self {
        ValidatingConferenceSourceMap {
            map: ConferenceSourceMap::new(),
            ssrc_owner: BTreeMap::new(),
            msid_owner: BTreeMap::new(),
            max_ssrcs_per_user,
            max_ssrc_groups_per_user,
        }
    }

    /// All sources, by owner.
    pub fn map(&self) -> &ConferenceSourceMap {
        &self.map
    }

    /// The sources of `owner`, if any.
    pub fn get(&self, owner: &str) -> Option<&EndpointSourceSet> {
        self.map.get(owner)
    }

    /// The owner of `ssrc`, if any.
    pub fn owner_of(&self, ssrc: Ssrc) -> Option<&str> {
        self.ssrc_owner.get(&ssrc).map(String::as_str)
    }

    /// Adds `to_add` to `owner`'s sources if rules 2-11 allow it, all or
    /// nothing, checking in Jicofo's order. Returns the accepted part:
    /// `to_add` without empty groups and groups the owner already has.
    pub fn try_to_add(
        &mut self,
        owner: &str,
        to_add: &EndpointSourceSet,
    ) -> Result<EndpointSourceSet, ValidationError> {
        let empty = EndpointSourceSet::new();
        let existing = self.map.get(owner).unwrap_or(&empty);

        let mut new_ssrcs = BTreeSet::new();
        for source in to_add.sources() {
            // Jicofo only checks the SSRCs already stored, so two sources
            // with one SSRC in a single request would both be stored; we
            // refuse the second one.
            if self.ssrc_owner.contains_key(&source.ssrc) || !new_ssrcs.insert(source.ssrc) {
                return Err(ValidationError::SsrcAlreadyUsed(source.ssrc));
            }
            if let Some(msid) = &source.msid
                && self.msid_owner.get(msid).is_some_and(|o| o != owner)
            {
                return Err(ValidationError::MsidConflict(msid.clone()));
            }
            if existing.sources().len() + to_add.sources().len() > self.max_ssrcs_per_user {
                return Err(ValidationError::SsrcLimitExceeded(self.max_ssrcs_per_user));
            }
        }

        let resulting_ssrcs: BTreeSet<Ssrc> = existing
            .sources()
            .iter()
            .map(|s| s.ssrc)
            .chain(new_ssrcs.iter().copied())
            .collect();
        let mut accepted_groups = Vec::new();
        for group in to_add.groups() {
            if group.ssrcs.is_empty() || existing.contains_group(group) {
                // Empty and repeated groups are ignored, as in Jicofo.
                continue;
            }
            if !group.ssrcs.iter().all(|s| resulting_ssrcs.contains(s)) {
                return Err(ValidationError::GroupContainsUnknownSource(
                    group.ssrcs.clone(),
                ));
            }
            accepted_groups.push(group.clone());
        }
        if existing.groups().len() + accepted_groups.len() > self.max_ssrc_groups_per_user {
            return Err(ValidationError::SsrcGroupLimitExceeded(
                self.max_ssrc_groups_per_user,
            ));
        }

        let accepted = EndpointSourceSet::from_unique(to_add.sources().to_vec(), accepted_groups);
        let resulting = existing.union(&accepted);
        validate_set(&resulting)?;

        for source in accepted.sources() {
            self.ssrc_owner.insert(source.ssrc, owner.to_owned());
            if let Some(msid) = &source.msid {
                self.msid_owner.insert(msid.clone(), owner.to_owned());
            }
        }
        self.map.add(owner, &accepted);
        Ok(accepted)
    }

    /// Removes `to_remove` from `owner`'s sources if section 4 allows it,
    /// all or nothing. Sources are matched by SSRC only; groups must match
    /// exactly; groups holding a removed SSRC go too. Returns what was
    /// removed (the stored sources, and all removed groups).
    pub fn try_to_remove(
        &mut self,
        owner: &str,
        to_remove: &EndpointSourceSet,
    ) -> Result<EndpointSourceSet, ValidationError> {
        if to_remove.is_empty() {
            return Ok(EndpointSourceSet::new());
        }
        let Some(existing) = self.map.get(owner) else {
            return Err(ValidationError::SourceDoesNotExist(None));
        };

        let mut removed_sources: Vec<Source> = Vec::new();
        for source in to_remove.sources() {
            let stored = existing
                .source(source.ssrc)
                .ok_or(ValidationError::SourceDoesNotExist(Some(source.ssrc)))?;
            if !removed_sources.contains(stored) {
                removed_sources.push(stored.clone());
            }
        }
        if !to_remove
            .groups()
            .iter()
            .all(|g| existing.contains_group(g))
        {
            return Err(ValidationError::SourceGroupDoesNotExist);
        }
        let removed_ssrcs: BTreeSet<Ssrc> = removed_sources.iter().map(|s| s.ssrc).collect();
        let mut removed_groups: Vec<SsrcGroup> = to_remove.groups().to_vec();
        for group in existing.groups() {
            if group.ssrcs.iter().any(|s| removed_ssrcs.contains(s))
                && !removed_groups.contains(group)
            {
                removed_groups.push(group.clone());
            }
        }

        let removed = EndpointSourceSet::from_unique(removed_sources, removed_groups);
        let resulting = existing.difference(&removed);
        validate_set(&resulting)?;

        self.map.remove(owner, &removed);
        self.forget(owner, &removed);
        Ok(removed)
    }

    /// Removes everything `owner` has (it left, or its session ended),
    /// returning it.
    pub fn remove_owner(&mut self, owner: &str) -> Option<EndpointSourceSet> {
        let removed = self.map.remove_owner(owner)?;
        self.forget(owner, &removed);
        Some(removed)
    }

    /// Drops the index entries of `removed`, already gone from `owner`.
    fn forget(&mut self, owner: &str, removed: &EndpointSourceSet) {
        let remaining = self.map.get(owner);
        for source in removed.sources() {
            self.ssrc_owner.remove(&source.ssrc);
            if let Some(msid) = &source.msid {
                let still_used = remaining.is_some_and(|set| {
                    set.sources()
                        .iter()
                        .any(|s| s.msid.as_deref() == Some(msid.as_str()))
                });
                if !still_used {
                    self.msid_owner.remove(msid);
                }
            }
        }
    }

    /// Checks every invariant listed on the type; `Err` names the first
    /// broken one. For tests and fuzzing.
    #[cfg(any(test, feature = "fuzzing"))]
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut ssrcs = BTreeMap::new();
        let mut msids: BTreeMap<&str, &str> = BTreeMap::new();
        for (owner, set) in self.map.iter() {
            if set.is_empty() {
                return Err(format!("empty set stored for {owner}"));
            }
            if set.sources().len() > self.max_ssrcs_per_user {
                return Err(format!("{owner} has too many sources"));
            }
            if set.groups().len() > self.max_ssrc_groups_per_user {
                return Err(format!("{owner} has too many groups"));
            }
            for source in set.sources() {
                if ssrcs.insert(source.ssrc, owner).is_some() {
                    return Err(format!("SSRC {} owned twice", source.ssrc));
                }
                if let Some(msid) = &source.msid
                    && let Some(other) = msids.insert(msid, owner)
                    && other != owner
                {
                    return Err(format!("msid {msid} used by {other} and {owner}"));
                }
            }
            for group in set.groups() {
                if group.ssrcs.is_empty() {
                    return Err(format!("empty group stored for {owner}"));
                }
                if let Some(s) = group.ssrcs.iter().find(|s| set.source(**s).is_none()) {
                    return Err(format!("group of {owner} names foreign SSRC {s}"));
                }
            }
            validate_set(set).map_err(|e| format!("{owner}: {e}"))?;
        }
        let index: BTreeMap<Ssrc, &str> = self
            .ssrc_owner
            .iter()
            .map(|(s, o)| (*s, o.as_str()))
            .collect();
        if index != ssrcs {
            return Err("SSRC index out of date".to_owned());
        }
        let msid_index: BTreeMap<&str, &str> = self
            .msid_owner
            .iter()
            .map(|(m, o)| (m.as_str(), o.as_str()))
            .collect();
        if msid_index != msids {
            return Err("msid index out of date".to_owned());
        }
        Ok(())
    }
}

/// What a source counts as for rule 11: the SIM group it belongs to (with
/// the FID groups hanging off it), a lone FID group, or itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stream<'a> {
    Group(&'a SsrcGroup),
    Single(Ssrc),
}

/// Rules 8-11 on one endpoint's resulting set, in Jicofo's order.
fn validate_set(set: &EndpointSourceSet) -> Result<(), ValidationError> {
    let by_ssrc: BTreeMap<Ssrc, &Source> =
        set.sources().iter().rev().map(|s| (s.ssrc, s)).collect(); // reversed so that the first source of an SSRC wins
    for group in set.groups() {
        let mut group_msid: Option<&str> = None;
        for ssrc in &group.ssrcs {
            let Some(source) = by_ssrc.get(ssrc) else {
                // Cannot happen for sets built by the map (rule 6 and the
                // automatic group removal); refuse rather than panic.
                return Err(ValidationError::GroupContainsUnknownSource(
                    group.ssrcs.clone(),
                ));
            };
            if group.semantics == Semantics::Fid && group.ssrcs.len() != 2 {
                return Err(ValidationError::InvalidFidGroup(group.ssrcs.clone()));
            }
            let Some(msid) = source.msid.as_deref() else {
                return Err(ValidationError::RequiredParameterMissing("msid"));
            };
            if *group_msid.get_or_insert(msid) != msid {
                return Err(ValidationError::GroupMsidMismatch(group.ssrcs.clone()));
            }
        }
    }

    // The first SIM and the first FID group of each SSRC, in set order.
    let mut sim_of: BTreeMap<Ssrc, &SsrcGroup> = BTreeMap::new();
    let mut fid_of: BTreeMap<Ssrc, &SsrcGroup> = BTreeMap::new();
    for group in set.groups() {
        let index = match group.semantics {
            Semantics::Sim => &mut sim_of,
            Semantics::Fid => &mut fid_of,
        };
        for ssrc in &group.ssrcs {
            index.entry(*ssrc).or_insert(group);
        }
    }
    let stream_of = |ssrc: Ssrc| -> Stream<'_> {
        if let Some(sim) = sim_of.get(&ssrc) {
            return Stream::Group(sim);
        }
        if let Some(fid) = fid_of.get(&ssrc) {
            if fid.ssrcs.get(1) == Some(&ssrc)
                && let Some(sim) = fid.ssrcs.first().and_then(|first| sim_of.get(first))
            {
                return Stream::Group(sim);
            }
            return Stream::Group(fid);
        }
        Stream::Single(ssrc)
    };

    // Audio and video may share an msid.
    for media_type in [MediaType::Audio, MediaType::Video] {
        let mut streams_seen = BTreeSet::new();
        let mut msids_seen = BTreeSet::new();
        for source in set.sources().iter().filter(|s| s.media_type == media_type) {
            let Some(msid) = source.msid.as_deref() else {
                continue;
            };
            if streams_seen.insert(stream_of(source.ssrc)) && !msids_seen.insert(msid) {
                return Err(ValidationError::MsidConflict(msid.to_owned()));
            }
        }
    }
    Ok(())
}
