//! Host-side weight layout fixes applied once at load time: PyTorch `[out, in]` →
//! Burn `[in, out]` transposition into contiguous memory, and the Hugging Face
//! `rotate_half` → interleaved RoPE row permutation of `q_proj` / `k_proj`.
//!
//! Transposing eagerly matters: Burn `Linear` layers over lazily transposed views made
//! decoding about 2.3× slower on the Flex CPU backend (design notes, §3.2).

/// Tile edge of the blocked transpose (keeps both sides in cache).
const TILE: usize = 32;

/// Transposes a row-major `[rows, cols]` matrix into a new row-major `[cols, rows]` one.
///
/// # Panics
/// When `data.len() != rows * cols` (callers check shapes first).
pub(crate) fn transpose(data: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    assert_eq!(data.len(), rows * cols, "transpose: shape mismatch");
    let mut out = vec![0.0; data.len()];
    for r0 in (0..rows).step_by(TILE) {
        for c0 in (0..cols).step_by(TILE) {
            for r in r0..(r0 + TILE).min(rows) {
                for c in c0..(c0 + TILE).min(cols) {
                    out[c * rows + r] = data[r * cols + c];
                }
            }
        }
    }
    out
}

/// Reorders the rows of a Hugging Face `q_proj`/`k_proj` weight (`[n_heads·head_dim, cols]`)
/// from the `rotate_half` layout, where dimension `i` of a head pairs with `i + head_dim/2`,
/// to the interleaved layout Burn's RoPE and GGUF use, where `2i` pairs with `2i + 1`:
/// new row `h·d + 2i + j` = old row `h·d + j·d/2 + i` (`j ∈ {0, 1}`, `i < d/2`).
///
/// # Panics
/// When `data.len() != n_heads * head_dim * cols` (callers check shapes first).
pub(crate) fn rope_rows_to_interleaved(
    data: &[f32],
    n_heads: usize,
    head_dim: usize,
    cols: usize,
) -> Vec<f32> {
    permute_head_rows(data, n_heads, head_dim, cols, |k, half| {
        (k % 2) * half + k / 2
    })
}

/// Inverse of [`rope_rows_to_interleaved`]: interleaved RoPE rows back to the Hugging Face
/// `rotate_half` layout (for exports): new row `h·d + j·d/2 + i` = old row `h·d + 2i + j`.
///
/// # Panics
/// When `data.len() != n_heads * head_dim * cols` (callers check shapes first).
pub(crate) fn rope_rows_to_rotate_half(
    data: &[f32],
    n_heads: usize,
    head_dim: usize,
    cols: usize,
) -> Vec<f32> {
    permute_head_rows(data, n_heads, head_dim, cols, |k, half| {
        2 * (k % half) + k / half
    })
}

/// Row `h·d + k` of the result is row `h·d + old_row(k, d/2)` of `data`, per head `h`.
fn permute_head_rows(
    data: &[f32],
    n_heads: usize,
    head_dim: usize,
    cols: usize,
    old_row: impl Fn(usize, usize) -> usize,
) -> Vec<f32> {
    assert_eq!(
        data.len(),
        n_heads * head_dim * cols,
        "rope permutation: shape mismatch"
    );
    let half = head_dim / 2;
    let mut out = Vec::with_capacity(data.len());
    for h in 0..n_heads {
        for k in 0..head_dim {
            let old = h * head_dim + old_row(k, half);
            out.extend_from_slice(&data[old * cols..(old + 1) * cols]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transposes_a_2x3() {
        // [[1, 2, 3], [4, 5, 6]] → [[1, 4], [2, 5], [3, 6]]
        let t = transpose(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3);
        assert_eq!(t, [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    }

    #[test]
    fn transposes_across_tile_edges() {
        let (rows, cols) = (TILE + 3, TILE * 2 + 1);
        let data: Vec<f32> = (0..rows * cols).map(|i| i as f32).collect();
        let t = transpose(&data, rows, cols);
        for r in 0..rows {
            for c in 0..cols {
                assert_eq!(t[c * rows + r], data[r * cols + c]);
            }
        }
    }

    #[test]
    fn interleaves_rotate_half_rows() {
        // 2 heads of width 4, one column: head rows (a0 a1 | b0 b1) with pairs (a_i, b_i)
        // become (a0 b0 a1 b1). Head 0 rows 0..4 = [0, 1, 2, 3] → [0, 2, 1, 3];
        // head 1 rows 4..8 = [4, 5, 6, 7] → [4, 6, 5, 7].
        let rows: Vec<f32> = (0..8).map(|i| i as f32).collect();
        let p = rope_rows_to_interleaved(&rows, 2, 4, 1);
        assert_eq!(p, [0.0, 2.0, 1.0, 3.0, 4.0, 6.0, 5.0, 7.0]);
        // with 2 columns each row moves as a whole
        let rows: Vec<f32> = (0..8).map(|i| i as f32).collect();
        assert_eq!(
            rope_rows_to_interleaved(&rows, 1, 4, 2),
            [0.0, 1.0, 4.0, 5.0, 2.0, 3.0, 6.0, 7.0]
        );
    }

    #[test]
    fn rotate_half_undoes_the_interleaving() {
        // Head rows (a0 b0 a1 b1) go back to (a0 a1 | b0 b1): [0, 2, 1, 3] → [0, 1, 2, 3].
        assert_eq!(
            rope_rows_to_rotate_half(&[0.0, 2.0, 1.0, 3.0], 1, 4, 1),
            [0.0, 1.0, 2.0, 3.0]
        );
        let data: Vec<f32> = (0..3 * 8 * 2).map(|i| i as f32).collect();
        let there = rope_rows_to_interleaved(&data, 3, 8, 2);
        assert_eq!(rope_rows_to_rotate_half(&there, 3, 8, 2), data);
    }
}
