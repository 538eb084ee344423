//! Coordinate-wise statistics over the (scaled) deltas, for the median and trimmed mean.
//!
//! For a chunk of [`COORD_CHUNK`] coordinates, the members' values are gathered into a
//! scratch buffer laid out coordinate-major (`n` values per coordinate, ~100 KiB for 100
//! clients, so it stays in L2), then the statistic is taken per coordinate.

use fedmoa_core::{AggError, Aggregated, ParamSet};

use crate::Threads;
use crate::batch::{Member, UpdateBatch};
use crate::parallel::for_each_out_chunk;
use crate::weighted::uniform_weights;

/// Coordinates per chunk.
const COORD_CHUNK: usize = 256;

/// Returns `global + step·stat(s_1·Δ_1[j], …, s_n·Δ_n[j])` for every coordinate j; `stat`
/// may reorder the slice it is given. Members must share `global`'s layout.
pub(crate) fn coordinate_stat<F>(
    global: &ParamSet,
    members: &[Member<'_>],
    step: f32,
    threads: Threads,
    stat: F,
) -> ParamSet
where
    F: Fn(&mut [f32]) -> f32 + Sync,
{
    let mut out = global.clone();
    let n = members.len();
    if n == 0 {
        return out;
    }
    let inputs: Vec<Vec<&[f32]>> = members
        .iter()
        .map(|m| m.update().delta.iter().map(|(_, t)| t.data()).collect())
        .collect();
    let scales: Vec<f32> = members.iter().map(Member::scale).collect();
    let numel = out.numel();
    // A selection costs a few operations per value: count it as such.
    let threads = threads.resolve(
        numel.saturating_mul(n).saturating_mul(4),
        numel.div_ceil(COORD_CHUNK) + out.len(),
    );
    let buffers: Vec<&mut [f32]> = out.iter_mut().map(|(_, t)| t.data_mut()).collect();
    for_each_out_chunk(
        buffers,
        COORD_CHUNK,
        threads,
        || vec![0.0f32; COORD_CHUNK * n],
        |scratch, c, data| {
            for (k, (x, s)) in inputs.iter().zip(&scales).enumerate() {
                let x = &x[c.tensor][c.range.clone()];
                for (j, v) in x.iter().enumerate() {
                    scratch[j * n + k] = s * v;
                }
            }
            for (j, o) in data.iter_mut().enumerate() {
                *o += step * stat(&mut scratch[j * n..(j + 1) * n]);
            }
        },
    );
    out
}

/// The whole aggregation of a coordinate-wise rule: screens `batch` with
/// [`UpdateBatch::require_finite_members`], then moves `global` by
/// `server_lr · stat(…)` on every coordinate (see [`coordinate_stat`]), where
/// `stat = stat_for(n)` for the `n` members left, and reports uniform weights.
///
/// # Errors
/// [`AggError::NoValidUpdates`] when no member is left.
pub(crate) fn aggregate_coordinatewise<F>(
    global: &ParamSet,
    mut batch: UpdateBatch<'_>,
    server_lr: f64,
    stat_for: impl FnOnce(usize) -> F,
) -> Result<Aggregated, AggError>
where
    F: Fn(&mut [f32]) -> f32 + Sync,
{
    batch.require_finite_members(global)?;
    let stat = stat_for(batch.len());
    let params = coordinate_stat(
        global,
        batch.members(),
        server_lr as f32,
        Threads::Auto,
        stat,
    );
    Ok(batch.finish(params, &uniform_weights(batch.len())))
}

/// The median of `values` (mean of the two middle values when their number is even);
/// 0 for an empty slice. Reorders `values`.
pub(crate) fn median(values: &mut [f32]) -> f32 {
    let n = values.len();
    if n == 0 {
        return 0.0;
    }
    let (lower, mid, _) = values.select_nth_unstable_by(n / 2, f32::total_cmp);
    let hi = *mid;
    if n % 2 == 1 {
        return hi;
    }
    let lo = lower.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    0.5 * lo + 0.5 * hi
}

/// The mean of `values` without their `trim` smallest and `trim` largest entries
/// (requires `2·trim < values.len()`; 0 otherwise). Reorders `values`.
pub(crate) fn trimmed_mean(values: &mut [f32], trim: usize) -> f32 {
    let n = values.len();
    if 2 * trim >= n {
        return 0.0;
    }
    values.sort_unstable_by(f32::total_cmp);
    let kept = &values[trim..n - trim];
    let sum: f64 = kept.iter().map(|&v| f64::from(v)).sum();
    (sum / kept.len() as f64) as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::UpdateBatch;
    use crate::test_util::{params, update};
    use std::num::NonZeroUsize;

    #[test]
    fn thread_count_does_not_change_the_result() {
        // 3000 coordinates (12 chunks), five clients, median and trimmed mean.
        let n = 3000;
        let ups: Vec<_> = (0..5)
            .map(|k| {
                let d: Vec<f32> = (0..n)
                    .map(|i| ((i * 13 + k * 5) % 17) as f32 - 8.0)
                    .collect();
                update(&format!("c{k}"), "m", 1, 0.5, &d)
            })
            .collect();
        let g = params(&vec![0.5; n]);
        let batch = UpdateBatch::screen(&g, &ups);
        let fixed = |t: usize| Threads::Fixed(NonZeroUsize::new(t).unwrap());
        let one = coordinate_stat(&g, batch.members(), 0.5, fixed(1), median);
        let three = coordinate_stat(&g, batch.members(), 0.5, fixed(3), median);
        assert_eq!(one, three);
        // Coordinate 0: (5k mod 17) − 8 for k = 0..5 is −8, −3, 2, 7, −5 → median −3;
        // θ = 0.5 + 0.5·(−3) = −1.
        assert_eq!(one.flatten()[0], -1.0);
        let trim = |v: &mut [f32]| trimmed_mean(v, 1);
        let one = coordinate_stat(&g, batch.members(), 1.0, fixed(1), trim);
        let two = coordinate_stat(&g, batch.members(), 1.0, fixed(2), trim);
        assert_eq!(one, two);
        // Coordinate 0 without −8 and 7: (−5 − 3 + 2)/3 = −2; θ = 0.5 − 2 = −1.5.
        assert!((one.flatten()[0] + 1.5).abs() < 1e-6);
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        // [3, 1, 2] → sorted [1, 2, 3] → 2.
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        // [4, 1, 3, 2] → sorted [1, 2, 3, 4] → (2 + 3)/2 = 2.5.
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&mut [7.0]), 7.0);
        assert_eq!(median(&mut []), 0.0);
    }

    #[test]
    fn trimmed_mean_drops_both_tails() {
        // sorted [−100, 1, 2, 3, 100], trim 1 → (1 + 2 + 3)/3 = 2.
        assert_eq!(trimmed_mean(&mut [100.0, 2.0, -100.0, 3.0, 1.0], 1), 2.0);
        // trim 0 is the plain mean: (1 + 2 + 6)/3 = 3.
        assert_eq!(trimmed_mean(&mut [1.0, 2.0, 6.0], 0), 3.0);
        assert_eq!(trimmed_mean(&mut [1.0, 2.0], 1), 0.0);
    }
}
