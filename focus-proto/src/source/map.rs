//! Sources of several endpoints, by owner, without validation; what each
//! receiver may see; the signaled-versus-desired difference (section 6).

use std::collections::BTreeMap;

use super::set::EndpointSourceSet;
use super::source::MediaType;
use super::strip::strip_simulcast;

/// The owner of the bridge's own feedback sources.
pub const JVB_OWNER: &str = "jvb";

/// Sources by owner (endpoint id), ordered by owner so that what reaches
/// the wire is deterministic. Never holds an empty set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConferenceSourceMap {
    by_owner: BTreeMap<String, EndpointSourceSet>,
}

impl ConferenceSourceMap {
    /// The empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// A map holding `set` for `owner` (empty if `set` is).
    pub fn single(owner: impl Into<String>, set: EndpointSourceSet) -> Self {
        let mut map = Self::new();
        map.add(owner, &set);
        map
    }

    /// The set of `owner`, if it has any source or group.
    pub fn get(&self, owner: &str) -> Option<&EndpointSourceSet> {
        self.by_owner.get(owner)
    }

    /// Owners and their sets, by owner.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &EndpointSourceSet)> + '_ {
        self.by_owner.iter().map(|(o, s)| (o.as_str(), s))
    }

    /// The owners, in order.
    pub fn owners(&self) -> impl Iterator<Item = &str> + '_ {
        self.by_owner.keys().map(String::as_str)
    }

    /// Whether no owner has anything.
    pub fn is_empty(&self) -> bool {
        self.by_owner.is_empty()
    }

    /// The number of owners.
    pub fn len(&self) -> usize {
        self.by_owner.len()
    }

    /// Adds `set` to what `owner` has (a union).
    pub fn add(&mut self, owner: impl Into<String>, set: &EndpointSourceSet) {
        if set.is_empty() {
            return;
        }
        self.by_owner.entry(owner.into()).or_default().extend(set);
    }

    /// Adds every owner's set of `other`.
    pub fn add_map(&mut self, other: &ConferenceSourceMap) {
        for (owner, set) in other.iter() {
            self.add(owner, set);
        }
    }

    /// Removes the sources and groups of `set` from `owner`'s (a set
    /// difference); the owner goes when nothing is left.
    pub fn remove(&mut self, owner: &str, set: &EndpointSourceSet) {
        if let Some(existing) = self.by_owner.get_mut(owner) {
            let rest = existing.difference(set);
            if rest.is_empty() {
                self.by_owner.remove(owner);
            } else {
                *existing = rest;
            }
        }
    }

    /// Removes every owner's set of `other`.
    pub fn remove_map(&mut self, other: &ConferenceSourceMap) {
        for (owner, set) in other.iter() {
            self.remove(owner, set);
        }
    }

    /// Removes everything of `owner`, returning it.
    pub fn remove_owner(&mut self, owner: &str) -> Option<EndpointSourceSet> {
        self.by_owner.remove(owner)
    }

    /// This map minus `other`, owner by owner.
    pub fn minus(&self, other: &ConferenceSourceMap) -> ConferenceSourceMap {
        let mut out = self.clone();
        out.remove_map(other);
        out
    }

    /// This map with `transform` applied to each set; empty results go.
    pub fn map_sets(
        &self,
        mut transform: impl FnMut(&str, &EndpointSourceSet) -> EndpointSourceSet,
    ) -> ConferenceSourceMap {
        let by_owner = self
            .by_owner
            .iter()
            .map(|(owner, set)| (owner.clone(), transform(owner, set)))
            .filter(|(_, set)| !set.is_empty())
            .collect();
        ConferenceSourceMap { by_owner }
    }

    /// Every set with simulcast stripped (section 5).
    pub fn strip_simulcast(&self) -> ConferenceSourceMap {
        self.map_sets(|_, set| strip_simulcast(set))
    }

    /// Only the media types `audio`/`video` says to keep; when both are
    /// kept nothing changes (data sources stay), as in Jicofo.
    pub fn filter_media(&self, audio: bool, video: bool) -> ConferenceSourceMap {
        if audio && video {
            return self.clone();
        }
        self.map_sets(|_, set| {
            set.filter_media(|m| {
                (audio && m == MediaType::Audio) || (video && m == MediaType::Video)
            })
        })
    }
}

impl FromIterator<(String, EndpointSourceSet)> for ConferenceSourceMap {
    fn from_iter<T: IntoIterator<Item = (String, EndpointSourceSet)>>(iter: T) -> Self {
        let mut map = ConferenceSourceMap::new();
        for (owner, set) in iter {
            map.add(owner, &set);
        }
        map
    }
}

/// What one receiver may be sent of the other endpoints' sources (section
/// 5, "Per receiver").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiverFilter {
    /// The receiver supports audio (else audio sources are left out).
    pub audio: bool,
    /// The receiver supports video (else video sources are left out).
    pub video: bool,
    /// `jicofo.conference.strip-simulcast` (default true).
    pub strip_simulcast: bool,
    /// The receiver uses SSRC rewriting (feature and config both on): it is
    /// sent no endpoint's sources, only the bridge's ([`JVB_OWNER`]).
    pub ssrc_rewriting: bool,
}

impl Default for ReceiverFilter {
    /// Audio, video, simulcast stripped, no SSRC rewriting.
    fn default() -> Self {
        ReceiverFilter {
            audio: true,
            video: true,
            strip_simulcast: true,
            ssrc_rewriting: false,
        }
    }
}

impl ReceiverFilter {
    /// What of `map` the receiver `receiver` (an endpoint id) may see: never
    /// its own sources, only `jvb`'s under SSRC rewriting, then the media
    /// filter, then simulcast stripping.
    pub fn apply(&self, receiver: &str, map: &ConferenceSourceMap) -> ConferenceSourceMap {
        let visible = map.map_sets(|owner, set| {
            if owner == receiver || (self.ssrc_rewriting && owner != JVB_OWNER) {
                EndpointSourceSet::new()
            } else {
                set.clone()
            }
        });
        self.filter(&visible)
    }

    /// The media filter and simulcast stripping alone (Jicofo's
    /// `SourceSignaling.filter`).
    pub fn filter(&self, map: &ConferenceSourceMap) -> ConferenceSourceMap {
        let map = map.filter_media(self.audio, self.video);
        if self.strip_simulcast {
            map.strip_simulcast()
        } else {
            map
        }
    }
}

/// What to send a receiver to go from one source map to another: first a
/// source-remove, then a source-add (either may be empty: send nothing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceDiff {
    /// The sources to remove (one `source-remove` for all owners).
    pub to_remove: ConferenceSourceMap,
    /// The sources to add (one `source-add` for all owners).
    pub to_add: ConferenceSourceMap,
}

impl SourceDiff {
    /// Whether there is nothing to send.
    pub fn is_empty(&self) -> bool {
        self.to_remove.is_empty() && self.to_add.is_empty()
    }
}

/// The difference between what a receiver was sent (`signaled`) and what
/// it should have (`desired`), owner by owner, both already filtered.
pub fn diff(signaled: &ConferenceSourceMap, desired: &ConferenceSourceMap) -> SourceDiff {
    SourceDiff {
        to_remove: signaled.minus(desired),
        to_add: desired.minus(signaled),
    }
}

/// One receiver's source signaling state (Jicofo's `SourceSignaling`):
/// the sources it was sent and the sources it should have, both before
/// filtering; changes accumulate until [`SourceSignaling::update`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSignaling {
    filter: ReceiverFilter,
    signaled: ConferenceSourceMap,
    desired: ConferenceSourceMap,
}

impl SourceSignaling {
    /// Nothing signaled yet; `filter` is the receiver's (its
    /// `ssrc_rewriting` flag is not used here: such receivers get no
    /// updates at all, the caller skips them).
    pub fn new(filter: ReceiverFilter) -> Self {
        SourceSignaling {
            filter,
            signaled: ConferenceSourceMap::new(),
            desired: ConferenceSourceMap::new(),
        }
    }

    /// Other endpoints' sources were added.
    pub fn add_sources(&mut self, sources: &ConferenceSourceMap) {
        self.desired.add_map(sources);
    }

    /// Other endpoints' sources were removed.
    pub fn remove_sources(&mut self, sources: &ConferenceSourceMap) {
        self.desired.remove_map(sources);
    }

    /// Whether [`SourceSignaling::update`] would send something.
    pub fn has_pending(&self) -> bool {
        !diff(
            &self.filter.filter(&self.signaled),
            &self.filter.filter(&self.desired),
        )
        .is_empty()
    }

    /// What to send now (filtered), and the desired set becomes the signaled one.
    pub fn update(&mut self) -> SourceDiff {
        let out = diff(
            &self.filter.filter(&self.signaled),
            &self.filter.filter(&self.desired),
        );
        self.signaled = self.desired.clone();
        out
    }

    /// What to send to bring the receiver to `desired` (unfiltered; the
    /// caller computes it from the conference at the time of sending, so
    /// nothing per receiver but what it was sent is kept): the filtered
    /// difference, and the filtered `desired` becomes the signaled set.
    pub fn update_to(&mut self, desired: &ConferenceSourceMap) -> SourceDiff {
        let desired = self.filter.filter(desired);
        let out = diff(&self.filter.filter(&self.signaled), &desired);
        self.signaled = desired;
        out
    }

    /// A new session (session-initiate, transport-replace) carries `sources`
    /// (unfiltered): both sets become them; returns what the offer carries
    /// (filtered).
    pub fn reset(&mut self, sources: &ConferenceSourceMap) -> ConferenceSourceMap {
        let offered = self.filter.filter(sources);
        self.signaled = offered.clone();
        self.desired = sources.clone();
        offered
    }

    /// Other endpoints' sources that the receiver learned are gone some
    /// other way (their owner left the MUC): dropped from what it was sent
    /// and what it should have, so nothing is signaled for them.
    pub fn forget(&mut self, sources: &ConferenceSourceMap) {
        self.signaled.remove_map(sources);
        self.desired.remove_map(sources);
    }

    /// The desired sources, unfiltered.
    pub fn desired(&self) -> &ConferenceSourceMap {
        &self.desired
    }
}
