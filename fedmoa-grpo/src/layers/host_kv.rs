//! [`HostKv`]: a KV cache's keys and values held on the host, one growing vector per row
//! and key/value head, for decode steps computed on the host.

use burn::prelude::*;

use super::LayerKv;

/// The keys and values of every layer on the host; each layer's `k` and `v` hold one
/// vector per row and key/value head (index `row · kv_heads + head`), of `len · head_dim`
/// values, appended in place as columns are decoded.
#[derive(Debug, Clone)]
pub struct HostKv {
    layers: Vec<HostLayerKv>,
    shape: [usize; 3],
    device: Device,
}

/// One layer's keys and values on the host (see [`HostKv`]).
#[derive(Debug, Clone, Default)]
pub struct HostLayerKv {
    /// Rotated keys, one vector per row and key/value head.
    pub k: Vec<Vec<f32>>,
    /// Values, one vector per row and key/value head.
    pub v: Vec<Vec<f32>>,
}

impl HostKv {
    /// An empty cache of `n_layers` layers for `[rows, kv_heads, head_dim]`.
    pub fn empty(n_layers: usize, shape: [usize; 3], device: &Device) -> Self {
        let [rows, kv_heads, _] = shape;
        let empty = HostLayerKv {
            k: vec![Vec::new(); rows * kv_heads],
            v: vec![Vec::new(); rows * kv_heads],
        };
        Self {
            layers: vec![empty; n_layers],
            shape,
            device: device.clone(),
        }
    }

    /// The host copy of filled device layers (`[rows, kv_heads, T, head_dim]` each); `None`
    /// when a layer is empty, a shape differs from `shape` or a value is not `f32`.
    pub fn from_layers(layers: &[Option<LayerKv>], shape: [usize; 3]) -> Option<Self> {
        let device = layers.first()?.as_ref()?.k.device();
        let [rows, kv_heads, head_dim] = shape;
        let split = |t: &Tensor<4>| -> Option<Vec<Vec<f32>>> {
            let [b, h, len, d] = t.dims();
            if [b, h, d] != shape || len * d == 0 {
                return None;
            }
            let data = t.clone().into_data();
            let values = data.as_slice::<f32>().ok()?;
            Some(values.chunks_exact(len * d).map(<[f32]>::to_vec).collect())
        };
        let layers = layers
            .iter()
            .map(|layer| {
                let layer = layer.as_ref()?;
                Some(HostLayerKv {
                    k: split(&layer.k)?,
                    v: split(&layer.v)?,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        let filled = layers.iter().all(|l| l.k.len() == rows * kv_heads);
        filled.then_some(Self {
            layers,
            shape: [rows, kv_heads, head_dim],
            device,
        })
    }

    /// `[rows, kv_heads, head_dim]`.
    pub fn shape(&self) -> [usize; 3] {
        self.shape
    }

    /// Number of layers.
    pub fn n_layers(&self) -> usize {
        self.layers.len()
    }

    /// Layer `i`.
    pub fn layer_mut(&mut self, i: usize) -> Option<&mut HostLayerKv> {
        self.layers.get_mut(i)
    }

    /// Keeps rows `rows` only, in that order (each below the row count, as
    /// [`super::KvCache::retain_host_rows`] checks).
    pub fn retain_rows(&mut self, rows: &[usize]) {
        let [_, kv_heads, head_dim] = self.shape;
        let pick = |all: &mut Vec<Vec<f32>>| {
            let mut old = std::mem::take(all);
            for &r in rows {
                for vector in &mut old[r * kv_heads..(r + 1) * kv_heads] {
                    all.push(std::mem::take(vector));
                }
            }
        };
        for layer in &mut self.layers {
            pick(&mut layer.k);
            pick(&mut layer.v);
        }
        self.shape = [rows.len(), kv_heads, head_dim];
    }

    /// The same keys and values as device layers `[rows, kv_heads, T, head_dim]`.
    pub fn into_layers(self) -> Vec<Option<LayerKv>> {
        let [rows, kv_heads, head_dim] = self.shape;
        let device = self.device;
        let join = |parts: Vec<Vec<f32>>| {
            let len = parts.first().map_or(0, |p| p.len() / head_dim.max(1));
            let data = TensorData::new(parts.concat(), [rows, kv_heads, len, head_dim]);
            Tensor::<4>::from_data(data, &device)
        };
        self.layers
            .into_iter()
            .map(|layer| {
                Some(LayerKv {
                    k: join(layer.k),
                    v: join(layer.v),
                })
            })
            .collect()
    }
}
