//! Simulcast stripping (sources.md section 5): receivers see one SSRC (and
//! its RTX) per video stream.

use std::collections::BTreeSet;

use super::group::{Semantics, SsrcGroup};
use super::set::EndpointSourceSet;
use super::source::Ssrc;

/// `set` without simulcast: each `SIM` group goes with all its SSRCs but the
/// first, and each `FID` group whose first SSRC went goes with its second.
///
/// Total on any input: Jicofo throws on a `FID` group without exactly two
/// SSRCs (never the case once validated); here such a group whose first SSRC
/// goes takes all its other SSRCs with it.
pub fn strip_simulcast(set: &EndpointSourceSet) -> EndpointSourceSet {
    let mut removed_groups: BTreeSet<&SsrcGroup> = BTreeSet::new();
    let mut removed_ssrcs: BTreeSet<Ssrc> = BTreeSet::new();
    for sim in set
        .groups()
        .iter()
        .filter(|g| g.semantics == Semantics::Sim)
    {
        removed_groups.insert(sim);
        removed_ssrcs.extend(sim.ssrcs.iter().skip(1));
    }
    for fid in set
        .groups()
        .iter()
        .filter(|g| g.semantics == Semantics::Fid)
    {
        if fid.ssrcs.first().is_some_and(|s| removed_ssrcs.contains(s)) {
            removed_ssrcs.extend(fid.ssrcs.iter().skip(1));
            removed_groups.insert(fid);
        }
    }
    EndpointSourceSet::from_unique(
        set.sources()
            .iter()
            .filter(|s| !removed_ssrcs.contains(&s.ssrc))
            .cloned()
            .collect(),
        set.groups()
            .iter()
            .filter(|g| !removed_groups.contains(g))
            .cloned()
            .collect(),
    )
}
