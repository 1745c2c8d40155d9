//! The one deterministic random source of the core.
//!
//! Every id the core makes (IQ ids, SCRAM nonces, later Jingle sids and
//! meeting ids) comes from a [`FocusRng`] seeded by the caller, so the same
//! seed and the same inputs replay byte for byte.

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

/// A seeded ChaCha8 generator with the helpers the core needs.
///
/// ChaCha8 is named explicitly (rather than a "standard" generator) so that a
/// dependency upgrade cannot silently change the stream a seed produces.
#[derive(Debug, Clone)]
pub struct FocusRng(ChaCha8Rng);

impl FocusRng {
    /// A generator seeded with `seed`.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self(ChaCha8Rng::from_seed(seed))
    }

    /// A seed for a sub-component, drawn from this generator.
    pub fn child_seed(&mut self) -> [u8; 32] {
        let mut seed = [0u8; 32];
        self.0.fill_bytes(&mut seed);
        seed
    }

    /// A uniformly random `u64`.
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// A random token of `len` characters from `[A-Za-z0-9]`.
    pub fn token(&mut self, len: usize) -> String {
        const ALPHABET: &[u8; 62] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        (0..len)
            .map(|_| {
                // 62 does not divide 2^64, but the bias of one part in 2^58 is
                // irrelevant for ids and nonces.
                let i = (self.0.next_u64() % ALPHABET.len() as u64) as usize;
                char::from(ALPHABET[i])
            })
            .collect()
    }

    /// A random (version 4) UUID in its lower-case hyphenated form, as
    /// Jicofo makes meeting ids and session ids.
    pub fn uuid(&mut self) -> String {
        let mut b = [0u8; 16];
        self.0.fill_bytes(&mut b);
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
        format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        )
    }

    /// A value in `0..=max`, for jitter.
    pub fn below_inclusive(&mut self, max: u64) -> u64 {
        if max == u64::MAX {
            return self.0.next_u64();
        }
        self.0.next_u64() % (max + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let mut a = FocusRng::from_seed([7; 32]);
        let mut b = FocusRng::from_seed([7; 32]);
        assert_eq!(a.token(16), b.token(16));
        assert_eq!(a.child_seed(), b.child_seed());
        let mut c = FocusRng::from_seed([8; 32]);
        assert_ne!(a.token(16), c.token(16));
    }

    #[test]
    fn token_alphabet_and_bounds() {
        let mut r = FocusRng::from_seed([1; 32]);
        let t = r.token(64);
        assert_eq!(t.len(), 64);
        assert!(t.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert!((0..1000).all(|_| r.below_inclusive(3) <= 3));
        let u = r.uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"));
    }
}
