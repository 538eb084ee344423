//! The streaming weighted sum `out += Σ_k c_k · x_k`, the kernel behind every weighted-mean
//! rule (FedAvg, FedMOA's task/accuracy weighting, the server optimizers' pseudo-gradient).
//!
//! The output is walked in chunks of [`MIX_CHUNK`] values that stay in L1 cache while all
//! deltas are folded into them, four deltas per pass, so each delta is read exactly once
//! from memory and nothing is cloned. Chunks are spread over threads (see
//! [`crate::Threads`]); the result is bit-identical whatever the thread count.
//!
//! The same pass finds non-finite deltas at almost no cost: a NaN or ±∞ in any `x_k`
//! always makes the output non-finite (`0·∞` is NaN, NaN and ∞ survive `+` and `·`), so
//! only chunks whose output came out non-finite are rescanned to name the culprits.

use fedmoa_core::{ParamError, ParamSet, axpy_slice};

use crate::Threads;
use crate::parallel::{Chunk, for_each_out_chunk};

/// Number of f32 values per chunk: 16 KiB of output, which stays in L1 data cache.
pub const MIX_CHUNK: usize = 4096;

/// Adds `Σ_k c_k · x_k` to `out` in place, for `terms = [(x_k, c_k)]`.
///
/// Returns the indices (into `terms`, ascending) of the deltas that hold a NaN or ±∞; their
/// values have then been added too, so a caller that wants to drop them must start again
/// from a fresh `out`.
///
/// # Errors
/// A layout [`ParamError`] when a delta's names or shapes differ from `out` (nothing is
/// modified).
///
/// # Example
/// ```
/// use fedmoa_agg::{Threads, weighted_sum_into};
/// use fedmoa_core::ParamSet;
/// # fn main() -> Result<(), fedmoa_core::ParamError> {
/// let mut out = ParamSet::new().with("w", vec![2], vec![1.0, 1.0])?;
/// let x = ParamSet::new().with("w", vec![2], vec![2.0, 4.0])?;
/// let y = ParamSet::new().with("w", vec![2], vec![f32::NAN, 0.0])?;
/// // 1 + 0.5·2 = 2 and 1 + 0.5·4 = 3
/// let bad = weighted_sum_into(&mut out, &[(&x, 0.5)], Threads::Auto)?;
/// assert_eq!(out.flatten(), vec![2.0, 3.0]);
/// assert!(bad.is_empty());
/// assert_eq!(weighted_sum_into(&mut out, &[(&x, 1.0), (&y, 1.0)], Threads::Auto)?, vec![1]);
/// # Ok(())
/// # }
/// ```
pub fn weighted_sum_into(
    out: &mut ParamSet,
    terms: &[(&ParamSet, f32)],
    threads: Threads,
) -> Result<Vec<usize>, ParamError> {
    for (x, _) in terms {
        out.check_same_layout(x)?;
    }
    Ok(mix_same_layout(out, terms, threads))
}

/// [`weighted_sum_into`] for terms already known to share `out`'s layout.
pub(crate) fn mix_same_layout(
    out: &mut ParamSet,
    terms: &[(&ParamSet, f32)],
    threads: Threads,
) -> Vec<usize> {
    if terms.is_empty() {
        return Vec::new();
    }
    let inputs: Vec<Vec<&[f32]>> = terms
        .iter()
        .map(|(x, _)| x.iter().map(|(_, t)| t.data()).collect())
        .collect();
    let coefs: Vec<f32> = terms.iter().map(|(_, c)| *c).collect();
    let numel = out.numel();
    let n_chunks = numel.div_ceil(MIX_CHUNK) + out.len();
    let threads = threads.resolve(numel.saturating_mul(terms.len()), n_chunks);
    let buffers: Vec<&mut [f32]> = out.iter_mut().map(|(_, t)| t.data_mut()).collect();
    let per_thread = for_each_out_chunk(buffers, MIX_CHUNK, threads, Vec::new, |bad, c, data| {
        accumulate(data, c, &inputs, &coefs, bad);
    });
    let mut bad: Vec<usize> = per_thread.into_iter().flatten().collect();
    bad.sort_unstable();
    bad.dedup();
    bad
}

/// Folds every term's slice for chunk `c` into `out`, four terms per pass; records in `bad`
/// the terms with a non-finite value in this chunk.
fn accumulate(
    out: &mut [f32],
    c: &Chunk,
    inputs: &[Vec<&[f32]>],
    coefs: &[f32],
    bad: &mut Vec<usize>,
) {
    let x = |k: usize| &inputs[k][c.tensor][c.range.clone()];
    let n = coefs.len();
    let mut k = 0;
    while k + 4 <= n {
        let (xa, xb, xc, xd) = (x(k), x(k + 1), x(k + 2), x(k + 3));
        let (ca, cb, cc, cd) = (coefs[k], coefs[k + 1], coefs[k + 2], coefs[k + 3]);
        for ((((o, a), b), c), d) in out.iter_mut().zip(xa).zip(xb).zip(xc).zip(xd) {
            *o += ca * a + cb * b + cc * c + cd * d;
        }
        k += 4;
    }
    for (k, &ck) in coefs.iter().enumerate().skip(k) {
        axpy_slice(out, ck, x(k));
    }
    if !all_finite(out) {
        bad.extend((0..n).filter(|&k| !all_finite(x(k))));
    }
}

/// True when every value is finite; branch-free so that it vectorises.
pub(crate) fn all_finite(data: &[f32]) -> bool {
    data.iter().fold(true, |ok, v| ok & v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::num::NonZeroUsize;

    fn set(values: Vec<f32>) -> ParamSet {
        let n = values.len();
        ParamSet::new()
            .with("a", vec![n - 3], values[..n - 3].to_vec())
            .and_then(|s| s.with("b", vec![3], values[n - 3..].to_vec()))
            .unwrap()
    }

    #[test]
    fn small_sum_matches_hand_computed_values() {
        // out = [1, 1, 1, 1] + 2·[1, 2, 3, 4] + (−1)·[0.5, 0.5, 0.5, 0.5]
        //     = [1 + 2 − 0.5, 1 + 4 − 0.5, 1 + 6 − 0.5, 1 + 8 − 0.5] = [2.5, 4.5, 6.5, 8.5]
        let mut out = set(vec![1.0; 4]);
        let x = set(vec![1.0, 2.0, 3.0, 4.0]);
        let y = set(vec![0.5; 4]);
        let bad = weighted_sum_into(&mut out, &[(&x, 2.0), (&y, -1.0)], Threads::Auto).unwrap();
        assert!(bad.is_empty());
        assert_eq!(out.flatten(), vec![2.5, 4.5, 6.5, 8.5]);
    }

    #[test]
    fn grouped_passes_agree_with_naive_sum_and_any_thread_count() {
        // 7 terms (one pass of four, three single axpys) over 10 003 values.
        let n = 10_003;
        let xs: Vec<ParamSet> = (0..7)
            .map(|k| {
                set((0..n)
                    .map(|i| ((i * 7 + k * 13) % 11) as f32 - 5.0)
                    .collect())
            })
            .collect();
        let coefs = [0.5f32, -0.25, 1.0, 0.125, 2.0, -1.0, 0.75];
        let terms: Vec<(&ParamSet, f32)> = xs.iter().zip(coefs).collect();
        let mut naive = vec![0.0f64; n];
        for (x, c) in &terms {
            for (o, v) in naive.iter_mut().zip(x.flatten()) {
                *o += f64::from(*c) * f64::from(v);
            }
        }
        let mut serial = set(vec![0.0; n]);
        let one = Threads::Fixed(NonZeroUsize::new(1).unwrap());
        assert!(mix_same_layout(&mut serial, &terms, one).is_empty());
        for (got, want) in serial.flatten().iter().zip(&naive) {
            assert!((f64::from(*got) - want).abs() < 1e-4, "{got} vs {want}");
        }
        let mut threaded = set(vec![0.0; n]);
        let three = Threads::Fixed(NonZeroUsize::new(3).unwrap());
        mix_same_layout(&mut threaded, &terms, three);
        assert_eq!(threaded, serial);
    }

    #[test]
    fn names_every_term_with_a_non_finite_value() {
        let n = 9000;
        let mut values = vec![1.0f32; n];
        let good = set(values.clone());
        values[8000] = f32::INFINITY;
        let inf = set(values.clone());
        values[8000] = 1.0;
        values[5] = f32::NAN;
        let nan = set(values);
        let mut out = set(vec![0.0; n]);
        // A zero coefficient does not hide a NaN: 0·NaN is NaN.
        let terms = [
            (&good, 1.0),
            (&nan, 0.0),
            (&good, 1.0),
            (&inf, 1.0),
            (&good, 1.0),
        ];
        assert_eq!(mix_same_layout(&mut out, &terms, Threads::Auto), vec![1, 3]);
    }

    #[test]
    fn overflow_of_finite_values_names_no_term() {
        let big = set(vec![f32::MAX; 5]);
        let mut out = set(vec![0.0; 5]);
        assert!(mix_same_layout(&mut out, &[(&big, 1.0), (&big, 1.0)], Threads::Auto).is_empty());
        assert!(out.flatten().iter().all(|v| v.is_infinite()));
    }

    #[test]
    fn layout_mismatch_is_an_error_and_changes_nothing() {
        let mut out = set(vec![0.0; 4]);
        let other = ParamSet::new().with("a", vec![4], vec![1.0; 4]).unwrap();
        assert!(weighted_sum_into(&mut out, &[(&other, 1.0)], Threads::Auto).is_err());
        assert_eq!(out.flatten(), vec![0.0; 4]);
    }
}
