//! The sources and groups of one endpoint.

use std::collections::BTreeSet;
use std::fmt;

use super::group::SsrcGroup;
use super::source::{MediaType, Source, Ssrc};

/// A set of [`Source`]s and [`SsrcGroup`]s, usually one endpoint's.
///
/// Both halves are sets (identical elements collapse) that keep the order
/// in which elements were first inserted, as Jicofo's `LinkedHashSet`s do:
/// that order reaches the wire (source-add, JSON) and decides which error a
/// validation reports first. Equality ignores the order.
#[derive(Debug, Clone, Default, Eq)]
pub struct EndpointSourceSet {
    sources: Vec<Source>,
    groups: Vec<SsrcGroup>,
}

/// `items` without repeats, keeping the first occurrence of each, in order.
fn dedup_keep_first<T: Ord>(items: Vec<T>) -> Vec<T> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    // Stable: among equal items the first index comes first.
    order.sort_by(|&a, &b| items[a].cmp(&items[b]));
    let mut keep = vec![true; items.len()];
    for pair in order.windows(2) {
        if let [a, b] = *pair
            && items[a] == items[b]
        {
            keep[b] = false;
        }
    }
    items
        .into_iter()
        .zip(keep)
        .filter_map(|(item, keep)| keep.then_some(item))
        .collect()
}

impl EndpointSourceSet {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// A set of `sources` and `groups`; repeats collapse, first one wins.
    pub fn from_parts(
        sources: impl IntoIterator<Item = Source>,
        groups: impl IntoIterator<Item = SsrcGroup>,
    ) -> Self {
        EndpointSourceSet {
            sources: dedup_keep_first(sources.into_iter().collect()),
            groups: dedup_keep_first(groups.into_iter().collect()),
        }
    }

    /// A set of `sources` and no groups.
    pub fn from_sources(sources: impl IntoIterator<Item = Source>) -> Self {
        Self::from_parts(sources, [])
    }

    /// The sources, in insertion order.
    pub fn sources(&self) -> &[Source] {
        &self.sources
    }

    /// The groups, in insertion order.
    pub fn groups(&self) -> &[SsrcGroup] {
        &self.groups
    }

    /// Whether there are neither sources nor groups.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty() && self.groups.is_empty()
    }

    /// Whether any source is audio.
    pub fn has_audio(&self) -> bool {
        self.sources
            .iter()
            .any(|s| s.media_type == MediaType::Audio)
    }

    /// Whether any source is video.
    pub fn has_video(&self) -> bool {
        self.sources
            .iter()
            .any(|s| s.media_type == MediaType::Video)
    }

    /// The SSRCs of the sources of `media_type`, in order.
    pub fn ssrcs(&self, media_type: MediaType) -> impl Iterator<Item = Ssrc> + '_ {
        self.sources
            .iter()
            .filter(move |s| s.media_type == media_type)
            .map(|s| s.ssrc)
    }

    /// The first source with SSRC `ssrc`.
    pub fn source(&self, ssrc: Ssrc) -> Option<&Source> {
        self.sources.iter().find(|s| s.ssrc == ssrc)
    }

    /// Whether the set has this exact source.
    pub fn contains_source(&self, source: &Source) -> bool {
        self.sources.contains(source)
    }

    /// Whether the set has this exact group.
    pub fn contains_group(&self, group: &SsrcGroup) -> bool {
        self.groups.contains(group)
    }

    /// The union: this set's elements, then `other`'s new ones.
    pub fn union(&self, other: &EndpointSourceSet) -> EndpointSourceSet {
        let mut out = self.clone();
        out.extend(other);
        out
    }

    /// Adds `other`'s elements that this set does not have yet, in order.
    pub fn extend(&mut self, other: &EndpointSourceSet) {
        let have: BTreeSet<&Source> = self.sources.iter().collect();
        let new: Vec<Source> = other
            .sources
            .iter()
            .filter(|s| !have.contains(s))
            .cloned()
            .collect();
        let have: BTreeSet<&SsrcGroup> = self.groups.iter().collect();
        let new_groups: Vec<SsrcGroup> = other
            .groups
            .iter()
            .filter(|g| !have.contains(g))
            .cloned()
            .collect();
        self.sources.extend(dedup_keep_first(new));
        self.groups.extend(dedup_keep_first(new_groups));
    }

    /// The difference: this set's elements that `other` does not have.
    pub fn difference(&self, other: &EndpointSourceSet) -> EndpointSourceSet {
        let theirs: BTreeSet<&Source> = other.sources.iter().collect();
        let their_groups: BTreeSet<&SsrcGroup> = other.groups.iter().collect();
        EndpointSourceSet {
            sources: self
                .sources
                .iter()
                .filter(|s| !theirs.contains(s))
                .cloned()
                .collect(),
            groups: self
                .groups
                .iter()
                .filter(|g| !their_groups.contains(g))
                .cloned()
                .collect(),
        }
    }

    /// Only the sources and groups whose media type `keep` accepts; empty
    /// (groups dropped too) when no source is kept, as Jicofo's
    /// `stripByMediaType` does.
    pub fn filter_media(&self, keep: impl Fn(MediaType) -> bool) -> EndpointSourceSet {
        let sources: Vec<Source> = self
            .sources
            .iter()
            .filter(|s| keep(s.media_type))
            .cloned()
            .collect();
        if sources.is_empty() {
            return EndpointSourceSet::new();
        }
        let groups = self
            .groups
            .iter()
            .filter(|g| keep(g.media_type))
            .cloned()
            .collect();
        EndpointSourceSet { sources, groups }
    }

    /// Builds a set from parts already known to have no repeats.
    pub(crate) fn from_unique(sources: Vec<Source>, groups: Vec<SsrcGroup>) -> Self {
        debug_assert_eq!(dedup_keep_first(sources.clone()).len(), sources.len());
        debug_assert_eq!(dedup_keep_first(groups.clone()).len(), groups.len());
        EndpointSourceSet { sources, groups }
    }
}

/// Set equality: the same sources and groups, in any order.
impl PartialEq for EndpointSourceSet {
    fn eq(&self, other: &Self) -> bool {
        self.sources.len() == other.sources.len()
            && self.groups.len() == other.groups.len()
            && self.sources.iter().collect::<BTreeSet<_>>()
                == other.sources.iter().collect::<BTreeSet<_>>()
            && self.groups.iter().collect::<BTreeSet<_>>()
                == other.groups.iter().collect::<BTreeSet<_>>()
    }
}

/// Jicofo's log form: `[audio=[1], video=[2, 3], groups=[FID[2, 3]]]`.
impl fmt::Display for EndpointSourceSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |media| {
            let ssrcs: Vec<Ssrc> = self.ssrcs(media).collect();
            super::source::SsrcList(&ssrcs).to_string()
        };
        write!(
            f,
            "[audio={}, video={}, groups=[",
            list(MediaType::Audio),
            list(MediaType::Video)
        )?;
        for (i, g) in self.groups.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{g}")?;
        }
        f.write_str("]]")
    }
}
