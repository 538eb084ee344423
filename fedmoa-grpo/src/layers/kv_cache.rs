//! [`KvCache`]: the keys and values of past positions, kept outside the model.

use burn::prelude::*;

/// Cached keys and values of one attention layer, `[B, n_kv_heads, T, head_dim]` each.
#[derive(Debug, Clone)]
pub struct LayerKv {
    /// Rotated keys.
    pub k: Tensor<4>,
    /// Values.
    pub v: Tensor<4>,
}

/// Per-layer keys/values plus the batch's left padding; passed as `&mut` to decoding.
///
/// A fresh cache is empty; the first forward (the prompt "prefill") fills it and later
/// forwards append one or more columns.
#[derive(Debug, Clone)]
pub struct KvCache {
    layers: Vec<Option<LayerKv>>,
    left_pad: Vec<usize>,
    len: usize,
}

impl KvCache {
    /// An empty cache for a model with `n_layers` attention layers.
    pub fn new(n_layers: usize) -> Self {
        Self {
            layers: vec![None; n_layers],
            left_pad: Vec::new(),
            len: 0,
        }
    }

    /// Number of cached positions (the absolute column of the next token).
    pub fn len(&self) -> usize {
        self.len
    }

    /// True before the first forward.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Left padding of each row, fixed by the first forward.
    pub fn left_pad(&self) -> &[usize] {
        &self.left_pad
    }

    /// Records the batch's padding at prefill; later calls must not change it.
    pub(crate) fn set_left_pad(&mut self, left_pad: &[usize]) {
        if self.len == 0 {
            self.left_pad = left_pad.to_vec();
        }
    }

    /// Mutable slot of layer `i`.
    pub(crate) fn layer_mut(&mut self, i: usize) -> Option<&mut Option<LayerKv>> {
        self.layers.get_mut(i)
    }

    /// Marks `n` more positions as cached (after every layer appended them).
    pub(crate) fn advance(&mut self, n: usize) {
        self.len += n;
    }

    /// Repeats every row `n` times in place (row `b` becomes rows `b*n .. b*n+n`), so a
    /// prompt prefilled once serves `n` sampled completions.
    pub fn repeat_rows(&mut self, n: usize) {
        if n == 1 {
            return;
        }
        let rep = |x: Tensor<4>| {
            let [b, h, t, d] = x.dims();
            x.unsqueeze_dim::<5>(1)
                .expand([b, n, h, t, d])
                .reshape([b * n, h, t, d])
        };
        for kv in self.layers.iter_mut().flatten() {
            kv.k = rep(kv.k.clone());
            kv.v = rep(kv.v.clone());
        }
        self.left_pad = self
            .left_pad
            .iter()
            .flat_map(|&p| std::iter::repeat_n(p, n))
            .collect();
    }
}
