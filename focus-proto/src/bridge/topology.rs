//! Relay topology between the bridges of one conference: Jicofo's cascade
//! and its two topology strategies, as plain data.
//!
//! A [`Cascade`] holds the conference's bridges (nodes, keyed by relay id,
//! in the order they joined) and the relays between them. Every relay
//! belongs to a mesh: within a mesh every pair of nodes is linked, and
//! meshes meet at single nodes, so there is exactly one path between two
//! nodes. The methods return the relays to create; opening and closing them
//! (COLIBRI2 `relay` requests) is the caller's business.
//!
//! * [`TopologyStrategy::SingleMeshTopologyStrategy`]: every bridge in mesh
//!   `"0"`.
//! * [`TopologyStrategy::VisitorTopologyStrategy`]: participant bridges in
//!   the core mesh `"0"`; each visitor bridge starts a new mesh hanging off
//!   the best existing bridge (closest to the core, then not overloaded and
//!   in its region, then least stressed). When a bridge joining several
//!   meshes goes away, the pieces are reattached to the piece holding the
//!   core the same way.
//!
//! Differences from Jicofo, on purpose: mesh numbers count per conference
//! (Jicofo's count per process; they only need to differ within a
//! conference), and where Jicofo walks hash sets the order here is the
//! order nodes joined the cascade, so a repair is reproducible.

use std::time::Instant;

use jid::FullJid;

use super::Bridge;
use crate::config::{BridgeConfig, TopologyStrategy};

/// The mesh every bridge joins under the single-mesh strategy, and the
/// core mesh of the visitor strategy.
pub const CORE_MESH: &str = "0";

/// One relay of a node: the node at the other end and the mesh it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The relay id of the other bridge.
    pub relay_id: String,
    /// The mesh.
    pub mesh: String,
}

/// One bridge of the cascade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The bridge's relay id (what relays name it by).
    pub relay_id: String,
    /// The bridge's occupant JID.
    pub bridge: FullJid,
    /// Whether the conference uses the bridge for visitors.
    pub visitor: bool,
    /// Its relays, in the order they were created.
    pub links: Vec<Link>,
}

impl Node {
    /// A node without relays.
    pub fn new(relay_id: impl Into<String>, bridge: FullJid, visitor: bool) -> Self {
        Self {
            relay_id: relay_id.into(),
            bridge,
            visitor,
            links: Vec::new(),
        }
    }

    fn link_to(&self, relay_id: &str) -> Option<&Link> {
        self.links.iter().find(|l| l.relay_id == relay_id)
    }

    fn in_mesh(&self, mesh: &str) -> bool {
        self.links.iter().any(|l| l.mesh == mesh)
    }
}

/// A relay to open between two bridges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLink {
    /// The bridge that initiates the relay (already in the cascade).
    pub initiator: String,
    /// The other bridge.
    pub responder: String,
    /// The mesh of the relay.
    pub mesh: String,
}

/// Where a new node joins, as Jicofo's `TopologySelectionResult`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopologySelection {
    /// The existing node to connect to when the mesh is new.
    pub existing: Option<String>,
    /// The mesh the node joins.
    pub mesh: String,
}

/// What the visitor topology weighs about a bridge.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeLoad {
    /// The bridge's region.
    pub region: Option<String>,
    /// Its corrected stress.
    pub stress: f64,
    /// Whether it is overloaded.
    pub overloaded: bool,
}

impl NodeLoad {
    /// The load of `bridge` at `now`.
    pub fn of(bridge: &Bridge, now: Instant, config: &BridgeConfig) -> Self {
        let stress = bridge.corrected_stress(now, config.participant_rampup_interval);
        Self {
            region: bridge.region.clone(),
            stress,
            overloaded: stress >= config.stress_threshold,
        }
    }
}

/// What removing a node did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Removal {
    /// The remaining nodes that had a relay to the removed one (each must
    /// expire it).
    pub expired: Vec<String>,
    /// Relays opened to reconnect the pieces the removal separated.
    pub repairs: Vec<NewLink>,
}

/// An operation on the cascade that does not fit its state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CascadeError {
    /// A node with this relay id is already in the cascade.
    #[error("relay {0} is already in the cascade")]
    AlreadyPresent(String),
    /// The node named to connect to is not in the cascade.
    #[error("relay {0} is not in the cascade")]
    UnknownNode(String),
    /// A new mesh needs an existing node to hang from.
    #[error("mesh {0} is new and no existing node was given")]
    NoExistingNode(String),
    /// A node links to itself.
    #[error("relay {0} links to itself")]
    SelfLink(String),
    /// A link without its reverse, or the reverse in another mesh.
    #[error("the link between {0} and {1} is one-sided or its ends disagree on the mesh")]
    Asymmetric(String, String),
    /// Two nodes of a mesh are not linked.
    #[error("{0} and {1} are both in mesh {2} but not linked in it")]
    IncompleteMesh(String, String, String),
    /// The meshes form a loop: some node is reached by two paths.
    #[error("the meshes form a loop")]
    Loop,
    /// Some node cannot be reached.
    #[error("{0} cannot be reached from the first node")]
    Disconnected(String),
}

/// The bridges of one conference and the relays between them; see the
/// [module docs](self).
#[derive(Debug, Clone, Default)]
pub struct Cascade {
    nodes: Vec<Node>,
    /// The next mesh number the visitor strategy hands out.
    next_mesh: u32,
}

impl Cascade {
    /// An empty cascade.
    pub fn new() -> Self {
        Self {
            nodes: Vec::new(),
            next_mesh: 1,
        }
    }

    /// The nodes, in the order they joined.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// A node by relay id.
    pub fn node(&self, relay_id: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.relay_id == relay_id)
    }

    /// How many nodes there are.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The nodes with a relay in `mesh`, in joining order.
    pub fn mesh_nodes<'s>(&'s self, mesh: &'s str) -> impl Iterator<Item = &'s Node> + 's {
        self.nodes.iter().filter(move |n| n.in_mesh(mesh))
    }

    fn index(&self, relay_id: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.relay_id == relay_id)
    }

    fn next_mesh(&mut self) -> String {
        let m = self.next_mesh.to_string();
        self.next_mesh = self.next_mesh.saturating_add(1);
        m
    }

    /// Where `node` (not yet in the cascade) should join under `strategy`.
    /// `load` tells the visitor strategy about existing bridges and the
    /// new one. Under the visitor strategy, each call for a visitor node
    /// uses up a mesh number.
    pub fn place(
        &mut self,
        strategy: TopologyStrategy,
        node: &Node,
        load: impl Fn(&Node) -> NodeLoad,
    ) -> TopologySelection {
        let first = self.nodes.first().map(|n| n.relay_id.clone());
        match strategy {
            TopologyStrategy::SingleMeshTopologyStrategy => TopologySelection {
                existing: first,
                mesh: CORE_MESH.to_owned(),
            },
            TopologyStrategy::VisitorTopologyStrategy => {
                if !node.visitor {
                    return TopologySelection {
                        existing: first,
                        mesh: CORE_MESH.to_owned(),
                    };
                }
                let existing = if self.nodes.is_empty() {
                    None
                } else {
                    let all: Vec<usize> = (0..self.nodes.len()).collect();
                    self.pick_connection(node, &all, &load)
                };
                TopologySelection {
                    existing,
                    mesh: self.next_mesh(),
                }
            }
        }
    }

    /// [`Self::place`] then [`Self::add_to_mesh`]: the relays to open.
    pub fn add(
        &mut self,
        strategy: TopologyStrategy,
        node: Node,
        load: impl Fn(&Node) -> NodeLoad,
    ) -> Result<Vec<NewLink>, CascadeError> {
        if self.index(&node.relay_id).is_some() {
            return Err(CascadeError::AlreadyPresent(node.relay_id));
        }
        let at = self.place(strategy, &node, load);
        self.add_to_mesh(node, &at.mesh, at.existing.as_deref())
    }

    /// Adds `node` to `mesh`: linked to every node already in the mesh, or
    /// (a new mesh) to `existing`, or to the only node there is.
    pub fn add_to_mesh(
        &mut self,
        mut node: Node,
        mesh: &str,
        existing: Option<&str>,
    ) -> Result<Vec<NewLink>, CascadeError> {
        if self.index(&node.relay_id).is_some() {
            return Err(CascadeError::AlreadyPresent(node.relay_id));
        }
        node.links.clear();
        let peers: Vec<usize> = match self.nodes.as_slice() {
            [] => Vec::new(),
            [only] => {
                if let Some(e) = existing
                    && e != only.relay_id
                {
                    return Err(CascadeError::UnknownNode(e.to_owned()));
                }
                vec![0]
            }
            _ => {
                let in_mesh: Vec<usize> = (0..self.nodes.len())
                    .filter(|i| self.nodes[*i].in_mesh(mesh))
                    .collect();
                if in_mesh.is_empty() {
                    let e =
                        existing.ok_or_else(|| CascadeError::NoExistingNode(mesh.to_owned()))?;
                    vec![
                        self.index(e)
                            .ok_or_else(|| CascadeError::UnknownNode(e.to_owned()))?,
                    ]
                } else {
                    in_mesh
                }
            }
        };
        let mut created = Vec::with_capacity(peers.len());
        for i in peers {
            let peer = &mut self.nodes[i];
            peer.links.push(Link {
                relay_id: node.relay_id.clone(),
                mesh: mesh.to_owned(),
            });
            node.links.push(Link {
                relay_id: peer.relay_id.clone(),
                mesh: mesh.to_owned(),
            });
            created.push(NewLink {
                initiator: peer.relay_id.clone(),
                responder: node.relay_id.clone(),
                mesh: mesh.to_owned(),
            });
        }
        self.nodes.push(node);
        Ok(created)
    }

    /// Removes a node. If it joined several meshes, the pieces left are
    /// reconnected as `strategy` says (the single-mesh strategy never
    /// leaves pieces). `None` if there is no such node.
    pub fn remove(
        &mut self,
        relay_id: &str,
        strategy: TopologyStrategy,
        load: impl Fn(&Node) -> NodeLoad,
    ) -> Option<Removal> {
        let removed = self.nodes.remove(self.index(relay_id)?);
        let mut removal = Removal::default();
        for link in &removed.links {
            if let Some(i) = self.index(&link.relay_id) {
                self.nodes[i]
                    .links
                    .retain(|l| l.relay_id != removed.relay_id);
                removal.expired.push(link.relay_id.clone());
            }
        }
        let mut meshes: Vec<&str> = Vec::new();
        for l in &removed.links {
            if !meshes.contains(&l.mesh.as_str()) {
                meshes.push(&l.mesh);
            }
        }
        if meshes.len() < 2 {
            return Some(removal);
        }
        // The pieces: per mesh of the removed node, everything behind its
        // links in that mesh.
        let mut pieces: Vec<Vec<usize>> = Vec::new();
        for mesh in meshes {
            let mut piece = Vec::new();
            for l in removed.links.iter().filter(|l| l.mesh == mesh) {
                if let Some(i) = self.index(&l.relay_id) {
                    self.collect_behind(i, mesh, &mut piece);
                }
            }
            piece.sort_unstable();
            if !piece.is_empty() && !pieces.contains(&piece) {
                pieces.push(piece);
            }
        }
        if strategy == TopologyStrategy::VisitorTopologyStrategy && pieces.len() > 1 {
            let core_at = pieces
                .iter()
                .position(|p| p.iter().any(|i| !self.nodes[*i].visitor))
                .unwrap_or(0);
            let core = pieces.remove(core_at);
            for piece in pieces {
                let Some(&connect) = piece.first() else {
                    continue;
                };
                let joining = self.nodes[connect].clone();
                let Some(best) = self.pick_connection(&joining, &core, &load) else {
                    continue;
                };
                let mesh = self.next_mesh();
                let Some(b) = self.index(&best) else {
                    continue;
                };
                self.nodes[connect].links.push(Link {
                    relay_id: best.clone(),
                    mesh: mesh.clone(),
                });
                self.nodes[b].links.push(Link {
                    relay_id: joining.relay_id.clone(),
                    mesh: mesh.clone(),
                });
                removal.repairs.push(NewLink {
                    initiator: joining.relay_id,
                    responder: best,
                    mesh,
                });
            }
        }
        Some(removal)
    }

    /// Indices of `toward` and every node reached from it without going
    /// back through `mesh`.
    fn collect_behind(&self, toward: usize, mesh: &str, out: &mut Vec<usize>) {
        if out.contains(&toward) {
            return;
        }
        out.push(toward);
        for l in &self.nodes[toward].links {
            if l.mesh != mesh
                && let Some(next) = self.index(&l.relay_id)
            {
                self.collect_behind(next, &l.mesh, out);
            }
        }
    }

    /// The nodes reached from `from` through its link to `toward` (
    /// `toward` included), or `None` if there is no such link.
    pub fn nodes_behind(&self, from: &str, toward: &str) -> Option<Vec<&Node>> {
        let link = self.node(from)?.link_to(toward)?;
        let start = self.index(toward)?;
        let mut out = Vec::new();
        self.collect_behind(start, &link.mesh, &mut out);
        out.sort_unstable();
        Some(out.into_iter().map(|i| &self.nodes[i]).collect())
    }

    /// Every node with the node it is reached from on the way from
    /// `relay_id` (`None` for the start), in traversal order: through which
    /// relay each bridge sees the start's endpoints.
    pub fn paths_from(&self, relay_id: &str) -> Vec<(&Node, Option<&Node>)> {
        let mut out = Vec::new();
        let Some(start) = self.index(relay_id) else {
            return out;
        };
        let mut seen = vec![start];
        out.push((&self.nodes[start], None));
        let mut stack: Vec<(usize, Option<&str>)> = vec![(start, None)];
        while let Some((at, via_mesh)) = stack.pop() {
            for l in &self.nodes[at].links {
                if via_mesh == Some(l.mesh.as_str()) {
                    continue;
                }
                let Some(next) = self.index(&l.relay_id) else {
                    continue;
                };
                if seen.contains(&next) {
                    continue;
                }
                seen.push(next);
                out.push((&self.nodes[next], Some(&self.nodes[at])));
                stack.push((next, Some(&l.mesh)));
            }
        }
        out
    }

    /// Hops from `relay_id` to the first node found satisfying `pred`
    /// (not necessarily the nearest, as in Jicofo), or `None`.
    pub fn distance_from(&self, relay_id: &str, pred: impl Fn(&Node) -> bool) -> Option<u32> {
        let start = self.index(relay_id)?;
        self.distance(start, None, &pred, self.nodes.len())
    }

    fn distance(
        &self,
        at: usize,
        via_mesh: Option<&str>,
        pred: &impl Fn(&Node) -> bool,
        budget: usize,
    ) -> Option<u32> {
        let node = &self.nodes[at];
        if pred(node) {
            return Some(0);
        }
        // The budget bounds the walk on a malformed cascade (a loop).
        let budget = budget.checked_sub(1)?;
        for l in &node.links {
            if via_mesh == Some(l.mesh.as_str()) {
                continue;
            }
            let Some(next) = self.index(&l.relay_id) else {
                continue;
            };
            if let Some(d) = self.distance(next, Some(&l.mesh), pred, budget) {
                return Some(d.saturating_add(1));
            }
        }
        None
    }

    /// Jicofo's choice of the node a visitor node (or a piece of the
    /// cascade) hangs from, among `among`.
    fn pick_connection(
        &self,
        node: &Node,
        among: &[usize],
        load: &impl Fn(&Node) -> NodeLoad,
    ) -> Option<String> {
        let region = load(node).region;
        let mut ranked: Vec<(u32, NodeLoad, usize)> = among
            .iter()
            .map(|&i| {
                let d = self
                    .distance(i, None, &|n: &Node| !n.visitor, self.nodes.len())
                    .unwrap_or(u32::MAX);
                (d, load(&self.nodes[i]), i)
            })
            .collect();
        ranked.sort_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| a.1.stress.total_cmp(&b.1.stress))
        });
        let pick = ranked
            .iter()
            .find(|(_, l, _)| !l.overloaded && l.region == region)
            .or_else(|| ranked.iter().find(|(_, l, _)| !l.overloaded))
            .or_else(|| ranked.iter().find(|(_, l, _)| l.region == region))
            .map(|(_, _, i)| *i)
            .or_else(|| among.first().copied())?;
        Some(self.nodes[pick].relay_id.clone())
    }

    /// Checks the cascade's invariants: links are mutual and agree on the
    /// mesh, every mesh is complete, exactly one path reaches each node.
    pub fn validate(&self) -> Result<(), CascadeError> {
        for node in &self.nodes {
            for l in &node.links {
                if l.relay_id == node.relay_id {
                    return Err(CascadeError::SelfLink(node.relay_id.clone()));
                }
                let other = self
                    .node(&l.relay_id)
                    .ok_or_else(|| CascadeError::UnknownNode(l.relay_id.clone()))?;
                if other
                    .link_to(&node.relay_id)
                    .is_none_or(|back| back.mesh != l.mesh)
                {
                    return Err(CascadeError::Asymmetric(
                        node.relay_id.clone(),
                        other.relay_id.clone(),
                    ));
                }
            }
        }
        let mut meshes: Vec<&str> = Vec::new();
        for l in self.nodes.iter().flat_map(|n| &n.links) {
            if !meshes.contains(&l.mesh.as_str()) {
                meshes.push(&l.mesh);
            }
        }
        for mesh in &meshes {
            let members: Vec<&Node> = self.mesh_nodes(mesh).collect();
            for a in &members {
                for b in &members {
                    if a.relay_id != b.relay_id
                        && a.link_to(&b.relay_id).is_none_or(|l| l.mesh != *mesh)
                    {
                        return Err(CascadeError::IncompleteMesh(
                            a.relay_id.clone(),
                            b.relay_id.clone(),
                            (*mesh).to_owned(),
                        ));
                    }
                }
            }
        }
        // Nodes and meshes form a tree (connected, no loop) exactly when
        // the sizes s_i of the meshes satisfy sum(s_i - 1) + 1 = n.
        let Some(first) = self.nodes.first() else {
            return Ok(());
        };
        let reached = self.paths_from(&first.relay_id);
        if let Some(missing) = self
            .nodes
            .iter()
            .find(|n| !reached.iter().any(|(r, _)| r.relay_id == n.relay_id))
        {
            return Err(CascadeError::Disconnected(missing.relay_id.clone()));
        }
        let expected: usize = meshes
            .iter()
            .map(|m| self.mesh_nodes(m).count().saturating_sub(1))
            .sum::<usize>()
            + 1;
        if expected != self.nodes.len() {
            return Err(CascadeError::Loop);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bridge::test_support::bridge_jid;

    fn node(id: &str, visitor: bool) -> Node {
        Node::new(id, bridge_jid(id), visitor)
    }

    fn flat(_: &Node) -> NodeLoad {
        NodeLoad {
            region: None,
            stress: 0.0,
            overloaded: false,
        }
    }

    fn ids<'a>(nodes: impl IntoIterator<Item = &'a Node>) -> Vec<&'a str> {
        let mut v: Vec<&str> = nodes.into_iter().map(|n| n.relay_id.as_str()).collect();
        v.sort_unstable();
        v
    }

    fn single_mesh(n: usize) -> Cascade {
        let mut c = Cascade::new();
        for i in 0..n {
            c.add_to_mesh(node(&i.to_string(), false), "A", None)
                .expect("added");
        }
        c
    }

    /// 0, 1, 2 in mesh A; 3 and 4 in mesh B hanging from 0.
    fn two_meshes() -> Cascade {
        let mut c = single_mesh(3);
        c.add_to_mesh(node("3", false), "B", Some("0"))
            .expect("added");
        c.add_to_mesh(node("4", false), "B", None).expect("added");
        c
    }

    /// Removes leaf `id` under the visitor strategy, which needs no repair.
    fn remove_leaf(c: &mut Cascade, id: &str) -> Removal {
        let r = c
            .remove(id, TopologyStrategy::VisitorTopologyStrategy, flat)
            .expect("present");
        assert!(r.repairs.is_empty());
        r
    }

    /// Links `a` and `b` in `mesh` on both sides, without any check.
    fn link_both_ways(c: &mut Cascade, a: &str, b: &str, mesh: &str) {
        for (x, y) in [(a, b), (b, a)] {
            if let Some(i) = c.index(x) {
                c.nodes[i].links.push(Link {
                    relay_id: y.into(),
                    mesh: mesh.into(),
                });
            }
        }
    }

    #[test]
    fn a_single_mesh_connects_everything() {
        let c = single_mesh(5);
        c.validate().expect("valid");
        for n in c.nodes() {
            assert_eq!(n.links.len(), 4);
            assert!(n.link_to(&n.relay_id).is_none());
            for other in c.nodes().iter().filter(|o| o.relay_id != n.relay_id) {
                assert_eq!(
                    c.nodes_behind(&n.relay_id, &other.relay_id).map(ids),
                    Some(vec![other.relay_id.as_str()])
                );
                assert_eq!(
                    c.distance_from(&n.relay_id, |x| x.relay_id == other.relay_id),
                    Some(1)
                );
            }
            let paths = c.paths_from(&n.relay_id);
            assert_eq!(paths.len(), 5);
            for (reached, from) in paths {
                if reached.relay_id == n.relay_id {
                    assert!(from.is_none());
                } else {
                    assert_eq!(from.map(|f| f.relay_id.as_str()), Some(n.relay_id.as_str()));
                }
            }
            assert_eq!(
                c.distance_from(&n.relay_id, |x| x.relay_id == n.relay_id),
                Some(0)
            );
        }
        assert_eq!(c.distance_from("1", |_| false), None);
    }

    #[test]
    fn removing_from_a_single_mesh_needs_no_repair() {
        let mut c = single_mesh(5);
        let mut expired = 0;
        for i in 0..5 {
            expired += remove_leaf(&mut c, &i.to_string()).expired.len();
            c.validate().expect("valid");
        }
        assert_eq!(expired, 4 + 3 + 2 + 1);
        assert!(
            c.remove("0", TopologyStrategy::SingleMeshTopologyStrategy, flat)
                .is_none()
        );
    }

    #[test]
    fn two_meshes_share_one_node() {
        let c = two_meshes();
        c.validate().expect("valid");
        assert_eq!(ids(c.mesh_nodes("A")), ["0", "1", "2"]);
        assert_eq!(ids(c.mesh_nodes("B")), ["0", "3", "4"]);
        assert_eq!(c.node("0").map(|n| n.links.len()), Some(4));
        for i in 1..5 {
            let id = i.to_string();
            assert_eq!(c.node(&id).map(|n| n.links.len()), Some(2));
            assert_eq!(c.nodes_behind("0", &id).map(ids), Some(vec![id.as_str()]));
            assert_eq!(c.distance_from(&id, |n| n.relay_id == "0"), Some(1));
            assert_eq!(c.distance_from("0", |n| n.relay_id == id), Some(1));
        }
        assert_eq!(c.nodes_behind("1", "0").map(ids), Some(vec!["0", "3", "4"]));
        assert_eq!(c.nodes_behind("4", "0").map(ids), Some(vec!["0", "1", "2"]));
        assert_eq!(c.distance_from("1", |n| n.relay_id == "2"), Some(1));
        assert_eq!(c.distance_from("1", |n| n.relay_id == "3"), Some(2));
        // From a leaf, the far mesh is reached through the shared node.
        for (reached, from) in c.paths_from("1") {
            let from = from.map(|f| f.relay_id.as_str());
            match reached.relay_id.as_str() {
                "1" => assert_eq!(from, None),
                "0" | "2" => assert_eq!(from, Some("1")),
                _ => assert_eq!(from, Some("0")),
            }
        }
        assert_eq!(c.paths_from("1").len(), 5);
    }

    #[test]
    fn adding_needs_a_known_anchor_for_a_new_mesh() {
        let mut c = two_meshes();
        assert_eq!(
            c.add_to_mesh(node("5", true), "C", None),
            Err(CascadeError::NoExistingNode("C".into()))
        );
        assert_eq!(
            c.add_to_mesh(node("5", true), "C", Some("9")),
            Err(CascadeError::UnknownNode("9".into()))
        );
        assert_eq!(
            c.add_to_mesh(node("3", true), "C", Some("0")),
            Err(CascadeError::AlreadyPresent("3".into()))
        );
        let mut one = single_mesh(1);
        assert_eq!(
            one.add_to_mesh(node("x", false), "A", Some("nope")),
            Err(CascadeError::UnknownNode("nope".into()))
        );
    }

    #[test]
    fn removing_the_shared_node_splits_and_the_visitor_strategy_repairs() {
        // Leaves go without repair.
        let mut c = two_meshes();
        for i in 1..5 {
            remove_leaf(&mut c, &i.to_string());
        }
        c.validate().expect("valid");

        // Under the single-mesh strategy nothing is repaired: two pieces.
        let mut c = two_meshes();
        let r = c
            .remove("0", TopologyStrategy::SingleMeshTopologyStrategy, flat)
            .expect("present");
        assert_eq!(r.expired, ["1", "2", "3", "4"]);
        assert!(r.repairs.is_empty());
        assert_eq!(c.validate(), Err(CascadeError::Disconnected("3".into())));

        // The visitor strategy hangs the other piece from the core piece.
        let mut c = two_meshes();
        let load = |n: &Node| NodeLoad {
            region: None,
            stress: if n.relay_id == "1" { 0.5 } else { 0.1 },
            overloaded: false,
        };
        let r = c
            .remove("0", TopologyStrategy::VisitorTopologyStrategy, load)
            .expect("present");
        assert_eq!(
            r.repairs,
            [NewLink {
                initiator: "3".into(),
                responder: "2".into(),
                mesh: "1".into()
            }]
        );
        c.validate().expect("repaired");
    }

    #[test]
    fn validation_catches_bad_repairs() {
        let mut c = two_meshes();
        c.remove("0", TopologyStrategy::SingleMeshTopologyStrategy, flat);
        // 1-3 and 2-4 in one new mesh C: C is not complete.
        let mut bad = c.clone();
        for (a, b) in [("1", "3"), ("2", "4")] {
            link_both_ways(&mut bad, a, b, "C");
        }
        assert!(matches!(
            bad.validate(),
            Err(CascadeError::IncompleteMesh(..))
        ));
        // A loop: 1-3 in C and 2-4 in D.
        let mut looped = c.clone();
        for (a, b, m) in [("1", "3", "C"), ("2", "4", "D")] {
            link_both_ways(&mut looped, a, b, m);
        }
        assert_eq!(looped.validate(), Err(CascadeError::Loop));
        // One-sided link.
        let mut one_sided = c;
        one_sided.nodes[0].links.push(Link {
            relay_id: "3".into(),
            mesh: "C".into(),
        });
        assert!(matches!(
            one_sided.validate(),
            Err(CascadeError::Asymmetric(..))
        ));
    }

    #[test]
    fn single_mesh_strategy_puts_everyone_in_mesh_0() {
        let mut c = Cascade::new();
        let s = TopologyStrategy::SingleMeshTopologyStrategy;
        assert!(c.add(s, node("a", false), flat).expect("ok").is_empty());
        let links = c.add(s, node("b", true), flat).expect("ok");
        assert_eq!(
            links,
            [NewLink {
                initiator: "a".into(),
                responder: "b".into(),
                mesh: CORE_MESH.into()
            }]
        );
        assert_eq!(c.add(s, node("c", false), flat).expect("ok").len(), 2);
        assert_eq!(ids(c.mesh_nodes(CORE_MESH)), ["a", "b", "c"]);
        c.validate().expect("valid");
        assert_eq!(
            c.add(s, node("c", false), flat),
            Err(CascadeError::AlreadyPresent("c".into()))
        );
    }

    #[test]
    fn visitor_strategy_hangs_visitor_bridges_off_the_core() {
        let s = TopologyStrategy::VisitorTopologyStrategy;
        let loads = |n: &Node| match n.relay_id.as_str() {
            "core1" => NodeLoad {
                region: Some("eu".into()),
                stress: 0.2,
                overloaded: false,
            },
            "core2" => NodeLoad {
                region: Some("us".into()),
                stress: 0.9,
                overloaded: true,
            },
            "v-us" | "v-us2" => NodeLoad {
                region: Some("us".into()),
                stress: 0.1,
                overloaded: false,
            },
            _ => NodeLoad {
                region: Some("eu".into()),
                stress: 0.0,
                overloaded: false,
            },
        };
        let mut c = Cascade::new();
        c.add(s, node("core1", false), loads).expect("ok");
        c.add(s, node("core2", false), loads).expect("ok");
        assert_eq!(ids(c.mesh_nodes(CORE_MESH)), ["core1", "core2"]);
        // core2 is in the region but overloaded: core1 wins.
        let links = c.add(s, node("v-us", true), loads).expect("ok");
        assert_eq!(
            links,
            [NewLink {
                initiator: "core1".into(),
                responder: "v-us".into(),
                mesh: "1".into()
            }]
        );
        // Core nodes are closer than visitor nodes; then region and load.
        let links = c.add(s, node("v-eu", true), loads).expect("ok");
        assert_eq!(links[0].initiator, "core1");
        assert_eq!(links[0].mesh, "2");
        // A new participant bridge joins the core mesh.
        let links = c.add(s, node("core3", false), loads).expect("ok");
        assert_eq!(links.len(), 2);
        assert!(links.iter().all(|l| l.mesh == CORE_MESH));
        c.validate().expect("valid");

        // core1 goes: its visitor meshes hang off the rest of the core.
        let r = c.remove("core1", s, loads).expect("present");
        assert_eq!(r.repairs.len(), 2);
        for repair in &r.repairs {
            // core3 (not overloaded) over core2.
            assert_eq!(repair.responder, "core3");
        }
        assert_eq!(
            r.repairs
                .iter()
                .map(|l| l.initiator.as_str())
                .collect::<Vec<_>>(),
            ["v-us", "v-eu"]
        );
        c.validate().expect("repaired");
    }

    #[test]
    fn a_visitor_bridge_first() {
        let s = TopologyStrategy::VisitorTopologyStrategy;
        let mut c = Cascade::new();
        let at = c.place(s, &node("v", true), flat);
        assert_eq!(
            at,
            TopologySelection {
                existing: None,
                mesh: "1".into()
            }
        );
        c.add_to_mesh(node("v", true), &at.mesh, None).expect("ok");
        // A participant bridge after it joins mesh 0, linked to the only node.
        let links = c.add(s, node("p", false), flat).expect("ok");
        assert_eq!(links.len(), 1);
        assert_eq!(links[0].mesh, CORE_MESH);
        c.validate().expect("valid");
    }
}
