//! DAPO-style dynamic sampling: groups whose primary reward has no variance carry no
//! primary gradient (every completion gets the same advantage), so they can be replaced by
//! fresh prompts before the update (Yu et al., "DAPO", 2025, §3.2; requested of TRL in
//! trl#3708).
//!
//! [`SampledGroups`] holds one generation batch — prompts, their G completions each, the
//! decoded texts and the rewards — in group order; [`SampledGroups::zero_variance_groups`]
//! finds the groups to replace and [`SampledGroups::replace`] swaps newly sampled ones in,
//! so that the batch keeps its size and its group layout.

use crate::sampling::Completion;

use fedmoa_rewards::ScoreMatrix;

/// A generation batch in group order: group `i` is `prompt_ids[i]` and the completions
/// `i·G .. (i+1)·G`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SampledGroups {
    /// The encoded prompts.
    pub prompt_ids: Vec<Vec<u32>>,
    /// The completions; `prompt_index` is the group's position in this batch.
    pub completions: Vec<Completion>,
    /// Rewards, `values[k][j]` for objective k and completion j.
    pub scored: ScoreMatrix,
}

impl SampledGroups {
    /// Number of groups (prompts).
    pub fn n_groups(&self) -> usize {
        self.prompt_ids.len()
    }

    /// The groups whose primary reward (objective 0) is the same for every completion.
    pub fn zero_variance_groups(&self, g: usize) -> Vec<usize> {
        let Some(primary) = self.scored.rewards.first() else {
            return Vec::new();
        };
        (0..self.n_groups())
            .filter(|&i| {
                let group = &primary[i * g..(i + 1) * g];
                group.iter().all(|&v| v == group[0])
            })
            .collect()
    }

    /// Fraction of groups without primary-reward variance (TRL's `frac_reward_zero_std`,
    /// taken on the primary objective); 0 for an empty batch.
    pub fn zero_variance_fraction(&self, g: usize) -> f64 {
        if self.n_groups() == 0 {
            return 0.0;
        }
        self.zero_variance_groups(g).len() as f64 / self.n_groups() as f64
    }

    /// Puts group `i` of `fresh` in place of group `slots[i]`, for every `i` (`fresh` holds
    /// exactly `slots.len()` groups of `g` completions). Failed-sample counts add up: the
    /// replaced groups were scored too.
    pub fn replace(&mut self, slots: &[usize], fresh: SampledGroups, g: usize) {
        debug_assert_eq!(fresh.n_groups(), slots.len());
        for (i, &slot) in slots.iter().enumerate() {
            self.prompt_ids[slot] = fresh.prompt_ids[i].clone();
            for j in 0..g {
                let mut completion = fresh.completions[i * g + j].clone();
                completion.prompt_index = slot;
                self.completions[slot * g + j] = completion;
                for (row, new_row) in self.scored.rewards.iter_mut().zip(&fresh.scored.rewards) {
                    row[slot * g + j] = new_row[i * g + j];
                }
            }
        }
        for (errors, new) in self.scored.errors.iter_mut().zip(&fresh.scored.errors) {
            *errors += new;
        }
        for (first, new) in self
            .scored
            .first_errors
            .iter_mut()
            .zip(fresh.scored.first_errors)
        {
            if first.is_none() {
                *first = new;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` groups of two completions with the given primary and auxiliary rewards; group i
    /// is prompt `base + i`, its completions' single token is `10 · (base + i) + j`.
    fn batch(base: usize, primary: &[f32], aux: &[f32]) -> SampledGroups {
        let n = primary.len() / 2;
        SampledGroups {
            prompt_ids: (base..base + n).map(|p| vec![p as u32]).collect(),
            completions: (0..2 * n)
                .map(|r| Completion {
                    prompt_index: r / 2,
                    tokens: vec![(10 * (base + r / 2) + r % 2) as u32],
                    finished: true,
                })
                .collect(),
            scored: ScoreMatrix {
                ids: vec!["primary".into(), "aux".into()],
                ranges: vec![fedmoa_core::RewardRange::UNIT; 2],
                rewards: vec![primary.to_vec(), aux.to_vec()],
                errors: vec![1, 0],
                first_errors: vec![None; 2],
            },
        }
    }

    #[test]
    fn groups_without_primary_variance_are_found() {
        // Groups: (1, 1) no variance, (0, 1) variance, (0, 0) no variance. The auxiliary
        // reward's variance does not count.
        let b = batch(
            0,
            &[1.0, 1.0, 0.0, 1.0, 0.0, 0.0],
            &[0.0, 1.0, 0.0, 0.0, 1.0, 0.5],
        );
        assert_eq!(b.zero_variance_groups(2), vec![0, 2]);
        assert!((b.zero_variance_fraction(2) - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn replacing_keeps_the_layout_and_moves_every_field() {
        let mut b = batch(
            0,
            &[1.0, 1.0, 0.0, 1.0, 0.0, 0.0],
            &[0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
        );
        let fresh = batch(7, &[0.0, 1.0, 1.0, 0.0], &[0.7, 0.8, 0.9, 1.0]);
        b.replace(&[0, 2], fresh, 2);
        // Group 0 is now prompt 7, group 2 prompt 8; group 1 is untouched.
        assert_eq!(b.prompt_ids, vec![vec![7], vec![1], vec![8]]);
        let tokens: Vec<u32> = b.completions.iter().map(|c| c.tokens[0]).collect();
        assert_eq!(tokens, vec![70, 71, 10, 11, 80, 81]);
        let owners: Vec<usize> = b.completions.iter().map(|c| c.prompt_index).collect();
        assert_eq!(owners, vec![0, 0, 1, 1, 2, 2]);
        assert_eq!(b.scored.rewards[0], vec![0.0, 1.0, 0.0, 1.0, 1.0, 0.0]);
        assert_eq!(b.scored.rewards[1], vec![0.7, 0.8, 0.3, 0.4, 0.9, 1.0]);
        // One failed primary sample in each batch.
        assert_eq!(b.scored.errors, vec![2, 0]);
        assert!(b.zero_variance_groups(2).is_empty());
    }
}
