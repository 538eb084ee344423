//! Rotary position embeddings (RoPE) on Burn's [`RotaryEncoding`].
//!
//! Burn rotates **interleaved pairs** `(x[2i], x[2i+1])`, the layout GGUF checkpoints use;
//! a loader of Hugging Face `rotate_half` weights must permute `wq`/`wk` rows first.

use burn::nn::{RotaryEncoding, RotaryEncodingConfig};
use burn::prelude::Device;

/// Builds the rotary table for `max_seq_len` positions of heads of width `head_dim`.
///
/// # Panics
/// When `head_dim` is odd or `theta` is not positive (validated by the model configs
/// before this is called).
pub fn rotary_encoding(
    max_seq_len: usize,
    head_dim: usize,
    theta: f32,
    device: &Device,
) -> RotaryEncoding {
    RotaryEncodingConfig::new(max_seq_len, head_dim)
        .with_theta(theta)
        .init(device)
}

#[cfg(test)]
mod tests {
    use burn::prelude::*;

    use super::*;

    #[test]
    fn rotates_interleaved_pairs_by_position() {
        // head_dim 2, theta irrelevant for i = 0: frequency 1/theta^0 = 1, so position p
        // rotates (x0, x1) by p radians: (x0 cos p − x1 sin p, x0 sin p + x1 cos p).
        let dev = Device::flex();
        let rope = rotary_encoding(4, 2, 10_000.0, &dev);
        let x = Tensor::<3>::from_floats([[[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]], &dev);
        let y: Vec<f32> = rope.apply(x, 1).into_data().try_to_vec().unwrap();
        // positions 1, 2, 3
        let (c1, s1) = (1f32.cos(), 1f32.sin());
        let (c2, s2) = (2f32.cos(), 2f32.sin());
        let (c3, s3) = (3f32.cos(), 3f32.sin());
        let want = [c1, s1, c2, s2, -s3, c3];
        for (a, b) in y.iter().zip(want) {
            assert!((a - b).abs() < 1e-5, "{y:?} vs {want:?}");
        }
    }
}
