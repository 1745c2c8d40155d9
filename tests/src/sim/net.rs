//! Links between each session and the server, and the faults on them.
//!
//! Every stanza travels two hops: from the sending session up to the server
//! (which routes it at arrival, instantly), then down from the server to the
//! receiving session. Each hop waits the link's latency plus a random jitter,
//! may be dropped or duplicated, and keeps its order unless reordering is
//! switched on: like a TCP connection, a link is FIFO by default even with
//! jitter. All randomness comes from the network's own seeded generator, so
//! switching faults on does not change the ids the peers draw.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use focus_proto::rng::FocusRng;

use super::server::SessionId;

/// Latency and faults of one link (both directions).
#[derive(Debug, Clone, PartialEq)]
pub struct LinkFaults {
    /// One-way delay of every hop.
    pub latency: Duration,
    /// Extra delay drawn uniformly from `0..=jitter` per stanza.
    pub jitter: Duration,
    /// Probability (0.0–1.0) that a stanza is lost on a hop.
    pub drop: f64,
    /// Probability (0.0–1.0) that a stanza arrives twice.
    pub duplicate: f64,
    /// Whether jitter may swap stanzas (otherwise each direction is FIFO).
    pub reorder: bool,
}

impl LinkFaults {
    /// The latency of a link without faults.
    pub const DEFAULT_LATENCY: Duration = Duration::from_millis(1);

    /// A clean link: 1 ms per hop, no jitter, no loss, in order.
    pub fn none() -> Self {
        Self {
            latency: Self::DEFAULT_LATENCY,
            jitter: Duration::ZERO,
            drop: 0.0,
            duplicate: 0.0,
            reorder: false,
        }
    }

    /// With a one-way latency of `d`.
    pub fn latency(mut self, d: Duration) -> Self {
        self.latency = d;
        self
    }

    /// With a uniform jitter of up to `d`.
    pub fn jitter(mut self, d: Duration) -> Self {
        self.jitter = d;
        self
    }

    /// Losing each stanza with probability `p`.
    pub fn drop(mut self, p: f64) -> Self {
        self.drop = p;
        self
    }

    /// Duplicating each stanza with probability `p`.
    pub fn duplicate(mut self, p: f64) -> Self {
        self.duplicate = p;
        self
    }

    /// Letting jitter reorder stanzas.
    pub fn reorder(mut self, on: bool) -> Self {
        self.reorder = on;
        self
    }

    /// Whether this link can lose, duplicate or reorder anything.
    pub fn is_faulty(&self) -> bool {
        self.drop > 0.0 || self.duplicate > 0.0 || (self.reorder && !self.jitter.is_zero())
    }
}

impl Default for LinkFaults {
    fn default() -> Self {
        Self::none()
    }
}

/// The faults of the whole simulation: one profile for every link, and an
/// optional one for the focus's connection.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    /// Links of participants and raw sessions (unless their spec overrides).
    pub link: LinkFaults,
    /// The focus's client connection; `None` uses [`Faults::link`].
    pub focus: Option<LinkFaults>,
}

impl Faults {
    /// No faults anywhere (1 ms latency per hop).
    pub fn none() -> Self {
        Self::default()
    }

    /// `link` on every connection, the focus's included.
    pub fn everywhere(link: LinkFaults) -> Self {
        Self { link, focus: None }
    }

    /// A lossy, jittery network: drops with probability `drop`, duplicates
    /// with `duplicate`, 1–`jitter` of extra delay that may reorder.
    pub fn chaotic(drop: f64, duplicate: f64, jitter: Duration) -> Self {
        Self::everywhere(
            LinkFaults::none()
                .drop(drop)
                .duplicate(duplicate)
                .jitter(jitter)
                .reorder(true),
        )
    }

    /// With `link` on the focus's connection only.
    pub fn focus_link(mut self, link: LinkFaults) -> Self {
        self.focus = Some(link);
        self
    }

    /// The profile for a new link.
    pub(crate) fn for_link(&self, is_focus: bool) -> LinkFaults {
        match (&self.focus, is_focus) {
            (Some(f), true) => f.clone(),
            _ => self.link.clone(),
        }
    }
}

/// Which way a stanza travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dir {
    /// Session to server.
    Up,
    /// Server to session.
    Down,
}

#[derive(Debug)]
struct Link {
    faults: LinkFaults,
    /// Set by a participant spec: not changed by [`Network::set_faults`].
    explicit: bool,
    is_focus: bool,
    last_up: Option<Instant>,
    last_down: Option<Instant>,
}

/// The links of all sessions and the generator of their faults.
#[derive(Debug)]
pub(crate) struct Network {
    rng: FocusRng,
    defaults: Faults,
    links: BTreeMap<SessionId, Link>,
}

impl Network {
    pub(crate) fn new(seed: [u8; 32], defaults: Faults) -> Self {
        Self {
            rng: FocusRng::from_seed(seed),
            defaults,
            links: BTreeMap::new(),
        }
    }

    /// Adds the link of a new session.
    pub(crate) fn add_link(
        &mut self,
        session: SessionId,
        explicit: Option<LinkFaults>,
        is_focus: bool,
    ) {
        let link = Link {
            explicit: explicit.is_some(),
            faults: explicit.unwrap_or_else(|| self.defaults.for_link(is_focus)),
            is_focus,
            last_up: None,
            last_down: None,
        };
        self.links.insert(session, link);
    }

    /// Replaces the defaults, and the faults of every link that uses them.
    pub(crate) fn set_faults(&mut self, faults: Faults) {
        for link in self.links.values_mut().filter(|l| !l.explicit) {
            link.faults = faults.for_link(link.is_focus);
        }
        self.defaults = faults;
    }

    /// The faults of `session`'s link.
    pub(crate) fn faults(&self, session: SessionId) -> LinkFaults {
        self.links
            .get(&session)
            .map(|l| l.faults.clone())
            .unwrap_or_else(|| self.defaults.link.clone())
    }

    /// When copies of something sent at `now` over `session`'s link in
    /// direction `dir` arrive: none (dropped), one, or two (duplicated).
    /// `faultable = false` (connection control) is never dropped or
    /// duplicated.
    pub(crate) fn schedule(
        &mut self,
        session: SessionId,
        dir: Dir,
        now: Instant,
        faultable: bool,
    ) -> Vec<Instant> {
        let faults = self.faults(session);
        let copies = if !faultable {
            1
        } else if self.chance(faults.drop) {
            0
        } else if self.chance(faults.duplicate) {
            2
        } else {
            1
        };
        let mut times = Vec::with_capacity(copies);
        for _ in 0..copies {
            let jitter = if faults.jitter.is_zero() {
                Duration::ZERO
            } else {
                let max = u64::try_from(faults.jitter.as_micros()).unwrap_or(u64::MAX);
                Duration::from_micros(self.rng.below_inclusive(max))
            };
            let mut at = now + faults.latency + jitter;
            if let Some(link) = self.links.get_mut(&session) {
                let last = match dir {
                    Dir::Up => &mut link.last_up,
                    Dir::Down => &mut link.last_down,
                };
                if let Some(prev) = *last
                    && (!faults.reorder || !faultable)
                {
                    at = at.max(prev);
                }
                *last = Some(last.map_or(at, |prev| prev.max(at)));
            }
            times.push(at);
        }
        times
    }

    /// `true` with probability `p` (draws nothing when `p <= 0`).
    fn chance(&mut self, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        if p >= 1.0 {
            return true;
        }
        let x = (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        x < p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_links_are_fifo_and_lossless() {
        let t0 = Instant::now();
        let mut net = Network::new([1; 32], Faults::none());
        let s = SessionId(1);
        net.add_link(s, None, false);
        let a = net.schedule(s, Dir::Up, t0, true);
        let b = net.schedule(s, Dir::Up, t0, true);
        assert_eq!(a, vec![t0 + LinkFaults::DEFAULT_LATENCY]);
        assert_eq!(a, b);
    }

    #[test]
    fn jitter_without_reorder_stays_fifo() {
        let t0 = Instant::now();
        let link = LinkFaults::none().jitter(Duration::from_millis(50));
        let mut net = Network::new([2; 32], Faults::everywhere(link));
        let s = SessionId(1);
        net.add_link(s, None, false);
        let mut last = t0;
        for i in 0..200 {
            let at = net.schedule(s, Dir::Down, t0 + Duration::from_micros(i), true)[0];
            assert!(at >= last);
            last = at;
        }
    }
}
