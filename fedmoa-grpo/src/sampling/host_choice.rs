//! The inverse-CDF choice of [`super::choose_with_uniforms`], computed on the host from
//! the probabilities alone: the sorted probabilities come from a radix sort of their bits,
//! and no token ids are sorted.
//!
//! Every step of the device version is reproduced in the same `f32` operations and the
//! same order (softmax by Burn, descending sort, sequential cumulative sums, the top-p and
//! top-k masks, `u · total`, the count below the threshold), so the chosen rank and its
//! probability are the same bit for bit. The rank names a token unless its probability is
//! tied with another token's: then the id depends on the device sort's order of equal
//! values, and the batch is left to the device version.

use rayon::prelude::*;

/// Picks one token per row of `probs` (`rows × vocab`, row-major softmax probabilities)
/// with the uniforms `u`, as [`super::choose_with_uniforms`] does. `None` when some row
/// needs the device sort's order of tied probabilities, or holds a value that is negative
/// or not finite (the device version decides those).
pub(super) fn choose_on_host(
    probs: &[f32],
    vocab: usize,
    u: &[f32],
    top_p: f32,
    top_k: usize,
) -> Option<Vec<i64>> {
    if vocab == 0 || probs.len() != vocab * u.len() {
        return None;
    }
    // Rows in parallel, each thread with its own buffers.
    probs
        .par_chunks_exact(vocab)
        .zip(u)
        .map_init(
            || {
                (
                    Vec::with_capacity(vocab),
                    vec![0u32; vocab],
                    Vec::with_capacity(vocab),
                )
            },
            |(keys, scratch, sorted), (row, &u)| {
                keys.clear();
                keys.extend(row.iter().map(|p| p.to_bits()));
                // Non-negative finite floats sort as their bits; anything else goes to the
                // device.
                if keys.iter().any(|&k| k >= f32::INFINITY.to_bits()) {
                    return None;
                }
                radix_sort(keys, scratch);
                sorted.clear();
                sorted.extend(keys.iter().rev().map(|&k| f32::from_bits(k)));
                let rank = rank_in_sorted(sorted, u, top_p, top_k);
                token_of(row, sorted[rank])
            },
        )
        .collect()
}

/// The device version's rank over probabilities sorted in descending order (not empty).
fn rank_in_sorted(sorted: &[f32], u: f32, top_p: f32, top_k: usize) -> usize {
    let vocab = sorted.len();
    let top_k = if top_k > 0 && top_k < vocab {
        top_k
    } else {
        vocab
    };
    // The kept values, in order: rank r is kept when r < top_k and the mass before it
    // (cumulative sum minus the value, as the device computes it) is below top_p.
    let kept = || {
        sorted.iter().enumerate().scan(0.0f32, move |cdf, (r, &p)| {
            *cdf += p;
            let keep = *cdf - p < top_p && r < top_k;
            Some((keep, if keep { p } else { 0.0 }))
        })
    };
    let (mut n_kept, mut total) = (0usize, 0.0f32);
    for (keep, p) in kept() {
        n_kept += usize::from(keep);
        total += p;
    }
    let threshold = u * total;
    let mut cdf = 0.0f32;
    let mut below = 0usize;
    for (_, p) in kept() {
        cdf += p;
        below += usize::from(cdf < threshold);
    }
    below.min(n_kept.saturating_sub(1))
}

/// The only token of `row` whose probability is `prob`, or `None` when several are.
fn token_of(row: &[f32], prob: f32) -> Option<i64> {
    let mut hits = row
        .iter()
        .enumerate()
        .filter(|(_, p)| p.to_bits() == prob.to_bits());
    let (id, _) = hits.next()?;
    match hits.next() {
        Some(_) => None,
        None => i64::try_from(id).ok(),
    }
}

/// Sorts `keys` ascending, least significant 11 bits first (three stable passes).
fn radix_sort(keys: &mut [u32], scratch: &mut [u32]) {
    const BITS: u32 = 11;
    const BUCKETS: usize = 1 << BITS;
    for pass in 0..3 {
        let shift = pass * BITS;
        let digit = |k: u32| ((k >> shift) as usize) & (BUCKETS - 1);
        let mut starts = [0usize; BUCKETS + 1];
        for &k in keys.iter() {
            starts[digit(k) + 1] += 1;
        }
        for d in 0..BUCKETS {
            starts[d + 1] += starts[d];
        }
        for &k in keys.iter() {
            let slot = &mut starts[digit(k)];
            scratch[*slot] = k;
            *slot += 1;
        }
        keys.copy_from_slice(scratch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn radix_sort_orders_any_keys() {
        let mut state = 12345u64;
        let mut keys: Vec<u32> = (0..5000)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (state >> 32) as u32
            })
            .collect();
        let mut expected = keys.clone();
        expected.sort_unstable();
        let mut scratch = vec![0; keys.len()];
        radix_sort(&mut keys, &mut scratch);
        assert_eq!(keys, expected);
    }

    #[test]
    fn ranks_by_hand() {
        // sorted 0.4, 0.3, 0.2, 0.1: cdf 0.4, 0.7, 0.9, 1.0.
        let sorted = [0.4f32, 0.3, 0.2, 0.1];
        let rank = |u, top_p, top_k| rank_in_sorted(&sorted, u, top_p, top_k);
        assert_eq!(rank(0.05, 1.0, 0), 0);
        assert_eq!(rank(0.5, 1.0, 0), 1);
        assert_eq!(rank(0.8, 1.0, 0), 2);
        assert_eq!(rank(0.95, 1.0, 0), 3);
        // top_p 0.6 keeps ranks 0 and 1 (mass before: 0, 0.4); u 0.95 → 0.665 → rank 1.
        assert_eq!(rank(0.95, 0.6, 0), 1);
        // top_k 1 keeps the argmax whatever u is.
        assert_eq!(rank(0.99, 1.0, 1), 0);
    }

    /// Random logits of several shapes and spreads, some with tied values.
    fn logit_rows(seed: u64, rows: usize, vocab: usize, spread: f32, ties: bool) -> Vec<f32> {
        let mut state = seed;
        let mut next = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 40) as f32 / (1u64 << 24) as f32
        };
        (0..rows * vocab)
            .map(|i| {
                let x = (next() - 0.5) * spread;
                // Ties: a third of the logits on a coarse grid, as untrained tokens' repeat.
                if ties && i % 3 == 0 {
                    (x * 2.0).round() / 2.0
                } else {
                    x
                }
            })
            .collect()
    }

    #[test]
    fn host_choice_equals_the_device_choice() {
        use crate::sampling::{SamplingConfig, choose_with_uniforms, sampling_probs};
        use burn::prelude::*;

        let dev = Device::flex();
        // Rows decided on the host / rows, without and with tied logits.
        let mut counts = [[0, 0]; 2];
        for (case, &(vocab, spread, ties)) in [
            (7, 2.0, false),
            (100, 6.0, false),
            (100, 4.0, true),
            (5000, 12.0, false),
            (5000, 30.0, true),
        ]
        .iter()
        .enumerate()
        {
            for (temperature, top_p, top_k) in [
                (1.0, 1.0, 0),
                (0.7, 1.0, 0),
                (1.3, 0.9, 0),
                (1.0, 0.5, 0),
                (1.0, 1.0, 5),
                (0.8, 0.95, 50),
            ] {
                let rows = 16;
                let seed = case as u64 * 1000 + (temperature * 10.0) as u64 + top_k as u64;
                let logits = logit_rows(seed, rows, vocab, spread, ties);
                let u: Vec<f32> = logit_rows(seed + 7, rows, 1, 1.0, false)
                    .iter()
                    .map(|x| x + 0.5)
                    .collect();
                let config = SamplingConfig {
                    temperature,
                    top_p,
                    top_k,
                    ..Default::default()
                };
                let logits = Tensor::<2>::from_data(TensorData::new(logits, [rows, vocab]), &dev);
                let probs = sampling_probs(logits.clone(), &config).into_data();
                let probs = probs.as_slice::<f32>().unwrap();
                let device_ids: Vec<i64> = choose_with_uniforms(
                    logits,
                    Tensor::from_data(TensorData::new(u.clone(), [rows, 1]), &dev),
                    &config,
                )
                .into_data()
                .iter::<i64>()
                .collect();
                for r in 0..rows {
                    counts[usize::from(ties)][1] += 1;
                    let row = &probs[r * vocab..(r + 1) * vocab];
                    if let Some(ids) = choose_on_host(row, vocab, &u[r..=r], top_p, top_k) {
                        counts[usize::from(ties)][0] += 1;
                        assert_eq!(
                            ids,
                            vec![device_ids[r]],
                            "vocab {vocab}, row {r}, {config:?}"
                        );
                    }
                }
            }
        }
        // Rows without ties are all decided on the host; tied ones exercise both paths.
        let [[untied, untied_rows], [tied, tied_rows]] = counts;
        assert_eq!(untied, untied_rows);
        assert!(
            tied > 0 && tied < tied_rows,
            "{tied} of {tied_rows} tied rows on the host"
        );
    }

    #[test]
    fn tied_probabilities_are_left_to_the_device() {
        assert_eq!(token_of(&[0.25, 0.5, 0.25], 0.5), Some(1));
        assert_eq!(token_of(&[0.25, 0.5, 0.25], 0.25), None);
        assert_eq!(choose_on_host(&[0.5, -0.1, 0.6], 3, &[0.5], 1.0, 0), None);
        assert_eq!(
            choose_on_host(&[0.5, f32::NAN, 0.5], 3, &[0.5], 1.0, 0),
            None
        );
    }
}
