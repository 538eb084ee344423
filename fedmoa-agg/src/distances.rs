//! Norms of the (scaled) deltas and their pairwise squared distances, for [`crate::NormClip`]
//! and [`crate::Krum`].
//!
//! Both sum over coordinates in fixed blocks of [`BLOCK`] values: each block's partial
//! sums are kept and added in block order, so the result does not depend on how many
//! threads shared the blocks.

use fedmoa_core::ParamSet;

use crate::Threads;
use crate::batch::Member;
use crate::parallel::{Chunk, fold_chunks};

/// Coordinates per block of partial sums.
const BLOCK: usize = 1 << 16;
/// Coordinates per inner pass of the pairwise distances (all members' slices stay in L2).
const PAIR_CHUNK: usize = 1024;

/// `‖s_k·Δ_k‖₂` for every member, in f64 (finite deltas cannot overflow it); NaN or ∞ for a
/// delta with a non-finite value.
pub(crate) fn norms(layout: &ParamSet, members: &[Member<'_>], threads: Threads) -> Vec<f64> {
    let n = members.len();
    let inputs = slices(members);
    let sums = sum_blocks(layout, threads, n, n, |c| {
        inputs
            .iter()
            .map(|x| {
                x[c.tensor][c.range.clone()]
                    .iter()
                    .map(|&v| f64::from(v) * f64::from(v))
                    .sum::<f64>()
            })
            .collect()
    });
    sums.iter()
        .zip(members)
        .map(|(s, m)| s.sqrt() * f64::from(m.scale()))
        .collect()
}

/// Squared distances `‖s_i·Δ_i − s_j·Δ_j‖²` as a symmetric `n × n` row-major matrix with a
/// zero diagonal. Squares are taken in f32 lanes, so deltas beyond ~1e19 saturate to ∞.
pub(crate) fn pairwise_sq_distances(
    layout: &ParamSet,
    members: &[Member<'_>],
    threads: Threads,
) -> Vec<f64> {
    let n = members.len();
    let inputs = slices(members);
    let scales: Vec<f32> = members.iter().map(Member::scale).collect();
    let pairs = n * n.saturating_sub(1) / 2;
    let upper = sum_blocks(layout, threads, pairs, pairs, |c| {
        let mut d = vec![0.0f64; pairs];
        let mut start = c.range.start;
        while start < c.range.end {
            let end = (start + PAIR_CHUNK).min(c.range.end);
            let mut p = 0;
            for i in 0..n {
                let xi = &inputs[i][c.tensor][start..end];
                for j in i + 1..n {
                    let xj = &inputs[j][c.tensor][start..end];
                    d[p] += sq_dist(xi, scales[i], xj, scales[j]);
                    p += 1;
                }
            }
            start = end;
        }
        d
    });
    let mut matrix = vec![0.0f64; n * n];
    let mut p = 0;
    for i in 0..n {
        for j in i + 1..n {
            matrix[i * n + j] = upper[p];
            matrix[j * n + i] = upper[p];
            p += 1;
        }
    }
    matrix
}

/// Adds up per-block partial sums: `partial(block)` gives `width` sums over one block of
/// [`BLOCK`] coordinates of `layout`'s tensors (blocks are spread over `threads`, for
/// `work_per_coordinate` operations per coordinate), and the blocks' sums are added in
/// block order, so the result does not depend on the thread count.
fn sum_blocks(
    layout: &ParamSet,
    threads: Threads,
    work_per_coordinate: usize,
    width: usize,
    partial: impl Fn(&Chunk) -> Vec<f64> + Sync,
) -> Vec<f64> {
    let lens: Vec<usize> = layout.iter().map(|(_, t)| t.numel()).collect();
    let numel: usize = lens.iter().sum();
    let threads = threads.resolve(
        numel.saturating_mul(work_per_coordinate),
        numel.div_ceil(BLOCK),
    );
    let blocks = fold_chunks(
        &lens,
        BLOCK,
        threads,
        Vec::new,
        |out: &mut Vec<Vec<f64>>, c| out.push(partial(c)),
    );
    let mut sums = vec![0.0f64; width];
    for block in blocks.iter().flatten() {
        for (s, b) in sums.iter_mut().zip(block) {
            *s += b;
        }
    }
    sums
}

fn slices<'a>(members: &[Member<'a>]) -> Vec<Vec<&'a [f32]>> {
    members
        .iter()
        .map(|m| m.update().delta.iter().map(|(_, t)| t.data()).collect())
        .collect()
}

/// `Σ (sa·a − sb·b)²` over equal-length slices, in eight f32 lanes summed in f64.
fn sq_dist(a: &[f32], sa: f32, b: &[f32], sb: f32) -> f64 {
    let mut acc = [0.0f32; 8];
    let mut ia = a.chunks_exact(8);
    let mut ib = b.chunks_exact(8);
    for (x, y) in (&mut ia).zip(&mut ib) {
        for k in 0..8 {
            let d = sa * x[k] - sb * y[k];
            acc[k] += d * d;
        }
    }
    let tail: f32 = ia
        .remainder()
        .iter()
        .zip(ib.remainder())
        .map(|(x, y)| (sa * x - sb * y) * (sa * x - sb * y))
        .sum();
    acc.iter().map(|&v| f64::from(v)).sum::<f64>() + f64::from(tail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::UpdateBatch;
    use crate::test_util::{params, update};

    #[test]
    fn hand_computed_norms_and_distances() {
        // a = [3, 4], b = [0, 0], c = [3, 0].
        // ‖a‖ = 5, ‖b‖ = 0, ‖c‖ = 3; d(a,b) = 25, d(a,c) = 16, d(b,c) = 9.
        let g = params(&[0.0, 0.0]);
        let ups = [
            update("a", "m", 1, 0.5, &[3.0, 4.0]),
            update("b", "m", 1, 0.5, &[0.0, 0.0]),
            update("c", "m", 1, 0.5, &[3.0, 0.0]),
        ];
        let batch = UpdateBatch::screen(&g, &ups);
        assert_eq!(
            norms(&g, batch.members(), Threads::Auto),
            vec![5.0, 0.0, 3.0]
        );
        let d = pairwise_sq_distances(&g, batch.members(), Threads::Auto);
        assert_eq!(d, vec![0.0, 25.0, 16.0, 25.0, 0.0, 9.0, 16.0, 9.0, 0.0]);
    }

    #[test]
    fn long_vectors_match_naive_sums() {
        // 200 003 coordinates: several blocks and a ragged tail.
        let n = 200_003;
        let a: Vec<f32> = (0..n).map(|i| ((i % 13) as f32 - 6.0) * 0.1).collect();
        let b: Vec<f32> = (0..n).map(|i| ((i % 7) as f32 - 3.0) * 0.2).collect();
        let g = params(&vec![0.0; n]);
        let ups = [update("a", "m", 1, 0.5, &a), update("b", "m", 1, 0.5, &b)];
        let batch = UpdateBatch::screen(&g, &ups);
        let naive_norm: f64 = a
            .iter()
            .map(|&v| f64::from(v) * f64::from(v))
            .sum::<f64>()
            .sqrt();
        let naive_d: f64 = a
            .iter()
            .zip(&b)
            .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
            .sum();
        assert!(
            (norms(&g, batch.members(), Threads::Auto)[0] - naive_norm).abs() < 1e-9 * naive_norm
        );
        let d = pairwise_sq_distances(&g, batch.members(), Threads::Auto);
        assert!((d[1] - naive_d).abs() < 1e-5 * naive_d);
        // Fixed blocks: any thread count gives the same bits.
        let three = Threads::Fixed(std::num::NonZeroUsize::new(3).unwrap());
        assert_eq!(pairwise_sq_distances(&g, batch.members(), three), d);
        assert_eq!(
            norms(&g, batch.members(), three),
            norms(&g, batch.members(), Threads::Auto)
        );
    }
}
