//! [`TimerQueue`]: named deadlines, fired in a deterministic order.
//!
//! Each key has at most one deadline. Deadlines are kept in one ordered set
//! keyed by `(deadline, key)`, so timers due at the same instant fire in key
//! order, and the same inputs fire the same timers in the same order.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

/// Deadlines by key; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct TimerQueue<K: Ord + Clone> {
    by_key: BTreeMap<K, Instant>,
    by_time: BTreeSet<(Instant, K)>,
}

impl<K: Ord + Clone> Default for TimerQueue<K> {
    fn default() -> Self {
        Self {
            by_key: BTreeMap::new(),
            by_time: BTreeSet::new(),
        }
    }
}

impl<K: Ord + Clone> TimerQueue<K> {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets (or moves) `key`'s deadline to `at`.
    pub fn set(&mut self, key: K, at: Instant) {
        if let Some(old) = self.by_key.insert(key.clone(), at) {
            self.by_time.remove(&(old, key.clone()));
        }
        self.by_time.insert((at, key));
    }

    /// Removes `key`'s deadline; whether it had one.
    pub fn cancel(&mut self, key: &K) -> bool {
        match self.by_key.remove(key) {
            Some(at) => {
                self.by_time.remove(&(at, key.clone()));
                true
            }
            None => false,
        }
    }

    /// `key`'s deadline, if it has one.
    pub fn get(&self, key: &K) -> Option<Instant> {
        self.by_key.get(key).copied()
    }

    /// The earliest deadline.
    pub fn next(&self) -> Option<Instant> {
        self.by_time.first().map(|(at, _)| *at)
    }

    /// Removes and returns the earliest key due at or before `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<K> {
        let (at, _) = self.by_time.first()?;
        if *at > now {
            return None;
        }
        let (_, key) = self.by_time.pop_first()?;
        self.by_key.remove(&key);
        Some(key)
    }

    /// How many deadlines are set.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// Whether no deadline is set.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// Cancels every key for which `pred` holds.
    pub fn cancel_where(&mut self, mut pred: impl FnMut(&K) -> bool) {
        let doomed: Vec<K> = self.by_key.keys().filter(|k| pred(k)).cloned().collect();
        for key in doomed {
            self.cancel(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::time::Duration;

    #[test]
    fn fires_in_time_then_key_order() {
        let t0 = Instant::now();
        let mut q = TimerQueue::new();
        q.set("b", t0 + Duration::from_secs(1));
        q.set("a", t0 + Duration::from_secs(1));
        q.set("c", t0);
        assert_eq!(q.next(), Some(t0));
        assert_eq!(q.pop_due(t0), Some("c"));
        assert_eq!(q.pop_due(t0), None);
        let later = t0 + Duration::from_secs(2);
        assert_eq!(q.pop_due(later), Some("a"));
        assert_eq!(q.pop_due(later), Some("b"));
        assert!(q.is_empty());
    }

    #[test]
    fn set_moves_and_cancel_removes() {
        let t0 = Instant::now();
        let mut q = TimerQueue::new();
        q.set(1, t0 + Duration::from_secs(5));
        q.set(1, t0 + Duration::from_secs(1));
        assert_eq!(q.len(), 1);
        assert_eq!(q.get(&1), Some(t0 + Duration::from_secs(1)));
        assert!(q.cancel(&1));
        assert!(!q.cancel(&1));
        assert_eq!(q.next(), None);
    }

    proptest! {
        #[test]
        fn both_indexes_agree(ops in proptest::collection::vec((0u8..8, 0u64..100, any::<bool>()), 0..200)) {
            let t0 = Instant::now();
            let mut q = TimerQueue::new();
            let mut model = BTreeMap::new();
            for (key, at, cancel) in ops {
                if cancel {
                    prop_assert_eq!(q.cancel(&key), model.remove(&key).is_some());
                } else {
                    q.set(key, t0 + Duration::from_millis(at));
                    model.insert(key, at);
                }
                prop_assert_eq!(q.len(), model.len());
                prop_assert_eq!(q.next(), model.values().min().map(|m| t0 + Duration::from_millis(*m)));
            }
            let mut fired = Vec::new();
            while let Some(k) = q.pop_due(t0 + Duration::from_secs(1)) {
                fired.push(k);
            }
            prop_assert_eq!(fired.len(), model.len());
        }
    }
}
