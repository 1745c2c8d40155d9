//! Reconnection delays: exponential, capped, jittered from a seeded RNG.

use std::time::Duration;

use crate::rng::FocusRng;

/// Delays between reconnection attempts: `initial`, doubling up to `max`,
/// each drawn uniformly within ±25 % of that base and never above `max`.
///
/// Pure arithmetic over a seeded [`FocusRng`]: the same seed gives the same
/// delays.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    base: Duration,
    rng: FocusRng,
}

impl Backoff {
    /// The focus's usual backoff: 1 s doubling to 60 s.
    pub fn standard(seed: [u8; 32]) -> Self {
        Self::new(seed, Duration::from_secs(1), Duration::from_secs(60))
    }

    /// A backoff starting at `initial` and capped at `max`.
    pub fn new(seed: [u8; 32], initial: Duration, max: Duration) -> Self {
        let initial = initial.min(max);
        Self {
            initial,
            max,
            base: initial,
            rng: FocusRng::from_seed(seed),
        }
    }

    /// The delay before the next attempt; the one after will be longer.
    pub fn next_delay(&mut self) -> Duration {
        let base = self.base.as_millis() as u64;
        // Uniform in [0.75 base, 1.25 base].
        let jittered = base - base / 4 + self.rng.below_inclusive(base / 2);
        self.base = (self.base * 2).min(self.max);
        Duration::from_millis(jittered).min(self.max)
    }

    /// Back to the initial delay, after a connection that stayed up.
    pub fn reset(&mut self) {
        self.base = self.initial;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(d: Duration) -> f64 {
        d.as_secs_f64()
    }

    #[test]
    fn doubles_within_jitter_and_caps() {
        let mut b = Backoff::standard([3; 32]);
        let mut base = 1.0_f64;
        for _ in 0..20 {
            let d = secs(b.next_delay());
            assert!(d >= base * 0.75 - 1e-9, "{d} below {base}");
            assert!(d <= (base * 1.25).min(60.0) + 1e-9, "{d} above {base}");
            assert!(d <= 60.0);
            base = (base * 2.0).min(60.0);
        }
    }

    #[test]
    fn jitter_spreads() {
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..50u8 {
            let mut b = Backoff::standard([seed; 32]);
            seen.insert(b.next_delay());
        }
        assert!(seen.len() > 10, "jitter should vary with the seed");
        assert!(seen.iter().all(|d| secs(*d) >= 0.75 && secs(*d) <= 1.25));
    }

    #[test]
    fn reset_goes_back_to_initial() {
        let mut b = Backoff::standard([9; 32]);
        for _ in 0..10 {
            b.next_delay();
        }
        assert!(secs(b.next_delay()) >= 45.0);
        b.reset();
        let d = secs(b.next_delay());
        assert!((0.75..=1.25).contains(&d), "{d}");
    }

    #[test]
    fn same_seed_same_delays() {
        let mut a = Backoff::standard([42; 32]);
        let mut b = Backoff::standard([42; 32]);
        let da: Vec<_> = (0..12).map(|_| a.next_delay()).collect();
        let db: Vec<_> = (0..12).map(|_| b.next_delay()).collect();
        assert_eq!(da, db);
        let mut c = Backoff::standard([43; 32]);
        let dc: Vec<_> = (0..12).map(|_| c.next_delay()).collect();
        assert_ne!(da, dc);
    }

    #[test]
    fn tiny_and_inverted_bounds() {
        let mut b = Backoff::new([0; 32], Duration::ZERO, Duration::from_secs(1));
        assert_eq!(b.next_delay(), Duration::ZERO);
        let mut b = Backoff::new([0; 32], Duration::from_secs(10), Duration::from_secs(2));
        assert!(b.next_delay() <= Duration::from_secs(2));
    }
}
