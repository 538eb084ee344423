//! Seeded client sampling and per-client seeds.
//!
//! The sampling stream is counter-based: round `r` draws from a ChaCha8 generator seeded
//! with `mix(seed, r)`. Its whole state is therefore `(seed, round)`, which the checkpoint
//! stores, and a resumed run draws exactly what an uninterrupted one would.

use rand::SeedableRng;
use rand::seq::index;
use rand_chacha::ChaCha8Rng;

use crate::seeds::SeedStream;

/// SplitMix64 finaliser: a well-mixed 64-bit hash of `x`.
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Derives an independent seed from a base seed and a list of indices.
pub fn derive_seed(seed: u64, parts: &[u64]) -> u64 {
    parts
        .iter()
        .fold(splitmix64(seed), |acc, &p| splitmix64(acc ^ splitmix64(p)))
}

/// How many of `n_clients` to sample: `max(min_clients, ceil(fraction · n))`, at most `n`.
pub fn sample_size(n_clients: usize, fraction: f64, min_clients: usize) -> usize {
    // fraction ∈ (0, 1] after validation, so the product is a small non-negative number.
    let by_fraction = (fraction * n_clients as f64).ceil() as usize;
    by_fraction.max(min_clients).min(n_clients)
}

/// The sorted client indices sampled in `round` (without replacement).
pub fn sample_clients(
    seed: u64,
    round: u32,
    n_clients: usize,
    fraction: f64,
    min_clients: usize,
) -> Vec<usize> {
    let k = sample_size(n_clients, fraction, min_clients);
    if k == n_clients {
        return (0..n_clients).collect();
    }
    let mut rng = ChaCha8Rng::seed_from_u64(SeedStream::ClientSampling(round).seed(seed));
    let mut picked = index::sample(&mut rng, n_clients, k).into_vec();
    picked.sort_unstable();
    picked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_size_rounds_up_and_respects_minimum() {
        assert_eq!(sample_size(10, 0.25, 1), 3); // ceil(2.5)
        assert_eq!(sample_size(10, 0.1, 4), 4);
        assert_eq!(sample_size(3, 0.5, 5), 3);
        assert_eq!(sample_size(8, 1.0, 1), 8);
    }

    #[test]
    fn sampling_is_seeded_and_distinct() {
        let a = sample_clients(7, 3, 20, 0.3, 1);
        let b = sample_clients(7, 3, 20, 0.3, 1);
        assert_eq!(a, b);
        assert_eq!(a.len(), 6);
        let mut dedup = a.clone();
        dedup.dedup();
        assert_eq!(dedup, a);
        assert!(a.iter().all(|&i| i < 20));
        // Different rounds draw different subsets (with overwhelming probability).
        let rounds: Vec<_> = (1..6).map(|r| sample_clients(7, r, 20, 0.3, 1)).collect();
        assert!(rounds.windows(2).any(|w| w[0] != w[1]));
    }

    #[test]
    fn derived_seeds_differ_per_part() {
        assert_ne!(derive_seed(1, &[1, 2]), derive_seed(1, &[2, 1]));
        assert_ne!(derive_seed(1, &[1]), derive_seed(2, &[1]));
    }
}
