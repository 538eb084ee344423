//! [`KvCache`]: the keys and values of past positions, kept outside the model.

use burn::prelude::*;

use super::host_kv::HostKv;

/// Cached keys and values of one attention layer, `[B, n_kv_heads, T, head_dim]` each.
#[derive(Debug, Clone)]
pub struct LayerKv {
    /// Rotated keys.
    pub k: Tensor<4>,
    /// Values.
    pub v: Tensor<4>,
}

impl LayerKv {
    /// Appends new keys and values (`[B, n_kv_heads, T_new, head_dim]`) to `slot`, filling
    /// it on the first call, and returns every cached key and value.
    pub(crate) fn append(
        slot: &mut Option<LayerKv>,
        k: Tensor<4>,
        v: Tensor<4>,
    ) -> (Tensor<4>, Tensor<4>) {
        let (k, v) = match slot.take() {
            Some(past) => (
                Tensor::cat(vec![past.k, k], 2),
                Tensor::cat(vec![past.v, v], 2),
            ),
            None => (k, v),
        };
        *slot = Some(LayerKv {
            k: k.clone(),
            v: v.clone(),
        });
        (k, v)
    }
}

/// Per-layer keys/values plus the batch's left padding; passed as `&mut` to decoding.
///
/// A fresh cache is empty; the first forward (the prompt "prefill") fills it and later
/// forwards append one or more columns. Decode steps computed on the host move the keys
/// and values to the host (`KvCache::host_mut`); any other use moves them back.
#[derive(Debug, Clone)]
pub struct KvCache {
    layers: Vec<Option<LayerKv>>,
    host: Option<HostKv>,
    left_pad: Vec<usize>,
    len: usize,
}

impl KvCache {
    /// An empty cache for a model with `n_layers` attention layers.
    pub fn new(n_layers: usize) -> Self {
        Self {
            layers: vec![None; n_layers],
            host: None,
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
        self.move_to_device();
        self.layers.get_mut(i)
    }

    /// The keys and values on the host, for rows of `shape` = `[rows, kv_heads,
    /// head_dim]`: moved there from the device on the first call, empty when nothing is
    /// cached yet. `None` when the cached rows have another shape.
    pub(crate) fn host_mut(&mut self, shape: [usize; 3], device: &Device) -> Option<&mut HostKv> {
        if self.host.is_none() {
            self.host = Some(if self.len == 0 {
                HostKv::empty(self.layers.len(), shape, device)
            } else {
                HostKv::from_layers(&self.layers, shape)?
            });
            self.layers.iter_mut().for_each(|l| *l = None);
        }
        self.host.as_mut().filter(|host| host.shape() == shape)
    }

    /// Moves keys and values held on the host back to the device.
    fn move_to_device(&mut self) {
        if let Some(host) = self.host.take() {
            self.layers = host.into_layers();
        }
    }

    /// Marks `n` more positions as cached (after every layer appended them).
    pub(crate) fn advance(&mut self, n: usize) {
        self.len += n;
    }

    /// Replaces the rows by `rows[i]` for each `i` (a row may be taken several times), so
    /// prompts prefilled once serve groups of completions of any sizes. Differentiable: on
    /// an autodiff device the gradient of a taken row sums over its copies. Every entry of
    /// `rows` must be below the cache's row count.
    pub(crate) fn select_rows(&mut self, rows: &[usize]) {
        self.move_to_device();
        for kv in self.layers.iter_mut().flatten() {
            let device = kv.k.device();
            let ids: Vec<i64> = rows.iter().map(|&r| r as i64).collect();
            let ids = Tensor::<1, Int>::from_data(TensorData::new(ids, [rows.len()]), &device);
            kv.k = kv.k.clone().select(0, ids.clone());
            kv.v = kv.v.clone().select(0, ids);
        }
        self.left_pad = rows
            .iter()
            .map(|&r| self.left_pad.get(r).copied().unwrap_or(0))
            .collect();
    }

    /// The cached keys and values on the device, layer by layer (`k`, then `v`).
    pub(crate) fn tensors(&self) -> Vec<Tensor<4>> {
        self.layers
            .iter()
            .flatten()
            .flat_map(|kv| [kv.k.clone(), kv.v.clone()])
            .collect()
    }

    /// A copy whose keys and values are new leaves that require gradients, detached from
    /// the forward that computed them: a backward through the copy stops at the cache.
    pub(crate) fn detached_leaves(&self) -> Self {
        let mut copy = self.clone();
        copy.move_to_device();
        for kv in copy.layers.iter_mut().flatten() {
            kv.k = kv.k.clone().detach().require_grad();
            kv.v = kv.v.clone().detach().require_grad();
        }
        copy
    }

    /// Rows of a cache whose keys and values are on the host; `None` when they are not.
    pub(crate) fn host_rows(&self) -> Option<usize> {
        self.host.as_ref().map(|host| host.shape()[0])
    }

    /// Keeps only rows `rows` (strictly increasing, each below the row count) of a cache
    /// whose keys and values are on the host ([`KvCache::host_mut`]), so that later host
    /// steps run those rows alone; `false`, and nothing changed, when the cache is not on
    /// the host or `rows` is not such a list.
    pub(crate) fn retain_host_rows(&mut self, rows: &[usize]) -> bool {
        let Some(host) = self.host.as_mut() else {
            return false;
        };
        let n = host.shape()[0];
        let increasing = rows.windows(2).all(|w| w[0] < w[1]);
        if rows.is_empty() || !increasing || rows.last().is_some_and(|&r| r >= n) {
            return false;
        }
        host.retain_rows(rows);
        if self.left_pad.len() == n {
            self.left_pad = rows.iter().map(|&r| self.left_pad[r]).collect();
        }
        true
    }

    /// Repeats every row `n` times in place (row `b` becomes rows `b*n .. b*n+n`), so a
    /// prompt prefilled once serves `n` sampled completions.
    pub fn repeat_rows(&mut self, n: usize) {
        if n == 1 {
            return;
        }
        self.move_to_device();
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
