//! Named seed streams: every seed the workspace derives from another seed is one of these,
//! so that no two uses share a stream by accident and their tags live in one place.
//!
//! The tags are part of the reproducibility contract: changing one changes every run (and
//! every cached warm start) that uses the stream.

use crate::federation::derive_seed;

/// A stream of seeds derived from a base seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedStream {
    /// Repeat `n` of an experiment (its federation seed), from the experiment's seed.
    Repeat(u32),
    /// Client `index`'s train / validation / test prompts, from the scenario seed.
    ClientData(usize),
    /// Client `index`'s pool of warm-start demonstrations, from the scenario seed.
    WarmStartPool(usize),
    /// Client `index`'s GRPO seed (prompt order and sampling), from the repeat's seed.
    ClientTrainer(usize),
    /// Which clients take part in `round`, from the federation seed.
    ClientSampling(u32),
    /// The round plan's seed of client `client` in `round`, from the federation seed.
    RoundPlan {
        /// The round (1-based).
        round: u32,
        /// The client's index in the federation.
        client: u64,
    },
    /// The sampler of a trainer's local steps in a round, from the round plan's seed.
    RoundSampler,
    /// The sampler of `GrpoTrainer::fit` after `steps` optimizer steps, from the GRPO seed.
    Fit(u64),
}

/// Tag of [`SeedStream::ClientSampling`].
const CLIENT_SAMPLING: u64 = 0x5A3;
/// Mask of [`SeedStream::RoundSampler`] (XOR-ed into the round plan's seed).
const ROUND_SAMPLER: u64 = 0x5eed_5a3b_1e00_0000;
/// Tag of [`SeedStream::Fit`].
const FIT: u64 = 0xF17;

impl SeedStream {
    /// The stream's seed under `base`.
    pub fn seed(self, base: u64) -> u64 {
        match self {
            SeedStream::Repeat(n) => derive_seed(base, &[u64::from(n)]),
            SeedStream::ClientData(i) => derive_seed(base, &[i as u64, 1]),
            SeedStream::WarmStartPool(i) => derive_seed(base, &[i as u64, 2]),
            SeedStream::ClientTrainer(i) => derive_seed(base, &[i as u64, 3]),
            SeedStream::ClientSampling(round) => {
                derive_seed(base, &[u64::from(round), CLIENT_SAMPLING])
            }
            SeedStream::RoundPlan { round, client } => {
                derive_seed(base, &[u64::from(round), client])
            }
            SeedStream::RoundSampler => base ^ ROUND_SAMPLER,
            SeedStream::Fit(steps) => derive_seed(base, &[FIT, steps]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The streams keep the seeds the code used before they were named (so runs and cached
    /// warm starts reproduce), and differ from one another.
    #[test]
    fn streams_keep_their_seeds_and_differ() {
        let base = 42;
        let streams = [
            (SeedStream::Repeat(2), derive_seed(42, &[2])),
            (SeedStream::ClientData(3), derive_seed(42, &[3, 1])),
            (SeedStream::WarmStartPool(3), derive_seed(42, &[3, 2])),
            (SeedStream::ClientTrainer(3), derive_seed(42, &[3, 3])),
            (SeedStream::ClientSampling(4), derive_seed(42, &[4, 0x5A3])),
            (
                SeedStream::RoundPlan {
                    round: 4,
                    client: 3,
                },
                derive_seed(42, &[4, 3]),
            ),
            (SeedStream::RoundSampler, 42 ^ 0x5eed_5a3b_1e00_0000),
            (SeedStream::Fit(7), derive_seed(42, &[0xF17, 7])),
        ];
        let mut seen = std::collections::HashSet::new();
        for (stream, expected) in streams {
            assert_eq!(stream.seed(base), expected, "{stream:?}");
            assert!(seen.insert(expected), "{stream:?} repeats a seed");
        }
    }
}
