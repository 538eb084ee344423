//! Seeded randomness helpers: every generator draws from a [`ChaCha8Rng`] built here.

use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A ChaCha8 generator for `seed` and an independent `stream` (so that, e.g., each client
/// or each split gets its own sequence from one scenario seed).
pub fn rng_for(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// FNV-1a's offset basis: the hash of no bytes.
pub(crate) const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a continued over `bytes` from `hash` (start from [`FNV_OFFSET`]).
pub(crate) fn fnv1a(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A uniformly chosen element of a non-empty slice.
///
/// Callers pass constant word lists or validated, non-empty config lists.
pub(crate) fn pick<'a, T, R: Rng + ?Sized>(rng: &mut R, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_deterministic_and_distinct() {
        let a: Vec<u32> = (0..4).map(|_| rng_for(7, 0).random()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        let x: u64 = rng_for(7, 0).random();
        let y: u64 = rng_for(7, 1).random();
        let z: u64 = rng_for(8, 0).random();
        assert_ne!(x, y);
        assert_ne!(x, z);
    }
}
