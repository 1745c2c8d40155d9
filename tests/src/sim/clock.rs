//! Virtual time and the ordered queue of things that will happen.
//!
//! The [`Clock`] captures one real `Instant` when the simulation is built and
//! only ever moves forward when the harness says so. The [`Timeline`] orders
//! pending items by `(time, sequence number)`, so two items due at the same
//! instant always come out in the order they were scheduled.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The simulation's clock: a fixed start and a current instant.
#[derive(Debug, Clone)]
pub struct Clock {
    start: Instant,
    now: Instant,
}

impl Clock {
    /// A clock at `start`.
    pub fn new(start: Instant) -> Self {
        Self { start, now: start }
    }

    /// The instant the simulation started.
    pub fn start(&self) -> Instant {
        self.start
    }

    /// The current virtual instant.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Virtual time since the start.
    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// `at` as time since the start (zero before the start).
    pub fn since_start(&self, at: Instant) -> Duration {
        at.saturating_duration_since(self.start)
    }

    /// Moves to `at`; never backwards.
    pub fn advance_to(&mut self, at: Instant) {
        if at > self.now {
            self.now = at;
        }
    }
}

/// Items ordered by `(time, sequence)`: ties keep scheduling order.
#[derive(Debug)]
pub struct Timeline<T> {
    items: BTreeMap<(Instant, u64), T>,
    next_seq: u64,
}

impl<T> Default for Timeline<T> {
    fn default() -> Self {
        Self {
            items: BTreeMap::new(),
            next_seq: 0,
        }
    }
}

impl<T> Timeline<T> {
    /// An empty timeline.
    pub fn new() -> Self {
        Self::default()
    }

    /// Schedules `item` at `at`.
    pub fn push(&mut self, at: Instant, item: T) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.items.insert((at, seq), item);
    }

    /// When the earliest item is due.
    pub fn next_time(&self) -> Option<Instant> {
        self.items.keys().next().map(|(at, _)| *at)
    }

    /// Removes and returns the earliest item if it is due at or before `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<(Instant, T)> {
        let (&(at, seq), _) = self.items.iter().next()?;
        if at > now {
            return None;
        }
        self.items.remove(&(at, seq)).map(|item| (at, item))
    }

    /// How many items are pending.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The pending items in order.
    pub fn iter(&self) -> impl Iterator<Item = (Instant, &T)> {
        self.items.iter().map(|((at, _), item)| (*at, item))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_keep_scheduling_order() {
        let t0 = Instant::now();
        let mut tl = Timeline::new();
        tl.push(t0 + Duration::from_millis(5), "late");
        tl.push(t0 + Duration::from_millis(1), "a");
        tl.push(t0 + Duration::from_millis(1), "b");
        assert_eq!(tl.next_time(), Some(t0 + Duration::from_millis(1)));
        assert!(tl.pop_due(t0).is_none());
        let now = t0 + Duration::from_millis(1);
        assert_eq!(tl.pop_due(now).map(|x| x.1), Some("a"));
        assert_eq!(tl.pop_due(now).map(|x| x.1), Some("b"));
        assert!(tl.pop_due(now).is_none());
        assert_eq!(tl.len(), 1);
    }

    #[test]
    fn clock_never_goes_back() {
        let t0 = Instant::now();
        let mut c = Clock::new(t0);
        c.advance_to(t0 + Duration::from_secs(2));
        c.advance_to(t0 + Duration::from_secs(1));
        assert_eq!(c.elapsed(), Duration::from_secs(2));
    }
}
