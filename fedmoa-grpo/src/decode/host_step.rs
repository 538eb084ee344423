//! [`HostDecoder`]: a decode step of one new column computed entirely on the host, for a
//! decode model whose projections are all packed.
//!
//! With packed weights the projections already run on the host, so a step on the device
//! would move its activations there and back four times per layer, and pay the device's
//! per-operation cost for each norm, rotation, cache append and attention. Here the
//! activations stay on the host from the embedding lookup to the logits; the keys and
//! values move to the host once, after the prefill ([`crate::layers::KvCache`]). The
//! operations are those of [`super::layer::DecodeLayer::forward`], with sums in another
//! order.

use burn::nn::RmsNorm;
use burn::prelude::*;
use rayon::prelude::*;

use super::layer::{DecodeLayer, HeadShape};
use super::packed_projection::PackedProjection;
use crate::layers::{HostLayerKv, KvCache};

/// The host weights a host decode step needs beyond the packed projections: the norms.
#[derive(Debug, Clone)]
pub(super) struct HostDecoder {
    /// Per layer: the attention norm and the MLP norm.
    layer_norms: Vec<[HostNorm; 2]>,
    final_norm: HostNorm,
}

/// An RMS norm's scale and epsilon on the host.
#[derive(Debug, Clone)]
struct HostNorm {
    gamma: Vec<f32>,
    epsilon: f32,
}

/// The model pieces a host step runs through.
pub(super) struct HostModel<'a> {
    pub layers: &'a [DecodeLayer],
    pub head: &'a PackedProjection,
    pub embed: &'a Tensor<2>,
    /// The rotary table `[max_seq_len, head_dim, 2]` (cosine, sine).
    pub rope: &'a Tensor<3>,
    pub heads: HeadShape,
}

impl HostDecoder {
    /// The host norms of a model with these layers and final norm.
    pub fn new(layers: &[DecodeLayer], final_norm: &RmsNorm) -> Option<Self> {
        Some(Self {
            layer_norms: layers
                .iter()
                .map(|l| {
                    let [attn, ffn] = l.norms();
                    Some([HostNorm::new(attn)?, HostNorm::new(ffn)?])
                })
                .collect::<Option<_>>()?,
            final_norm: HostNorm::new(final_norm)?,
        })
    }

    /// The logits `[B, vocab]` of one new column `tokens: [B, 1]`, appending its keys and
    /// values to `cache`; `None` (nothing changed) when the step cannot run on the host:
    /// more than one column, a projection that is not packed, or a cache of other rows.
    pub fn step(
        &self,
        model: &HostModel<'_>,
        tokens: &Tensor<2, Int>,
        cache: &mut KvCache,
    ) -> Option<Tensor<2>> {
        let [b, t] = tokens.dims();
        let HeadShape {
            n_kv_heads,
            head_dim,
            ..
        } = model.heads;
        if t != 1 || b == 0 || b > super::projection::PACKED_MAX_ROWS {
            return None;
        }
        let projections = model
            .layers
            .iter()
            .map(DecodeLayer::packed_projections)
            .collect::<Option<Vec<_>>>()?;
        let start = cache.len();
        let pads = match cache.left_pad() {
            [] => vec![0; b],
            pads if pads.len() == b => pads.to_vec(),
            _ => return None,
        };
        let device = tokens.device();
        if start >= model.rope.dims()[0] {
            return None;
        }
        let rope: Vec<f32> = model
            .rope
            .clone()
            .narrow(0, start, 1)
            .into_data()
            .try_to_vec()
            .ok()?;
        let ids = tokens.clone().reshape([b]);
        let mut x: Vec<f32> = model
            .embed
            .clone()
            .select(0, ids)
            .into_data()
            .try_to_vec()
            .ok()?;
        let kv = cache.host_mut([b, n_kv_heads, head_dim], &device)?;
        if kv.n_layers() != projections.len() {
            return None;
        }
        for (i, ([attn_norm, ffn_norm], [qkv, wo, gate_up, down])) in
            self.layer_norms.iter().zip(&projections).enumerate()
        {
            let layer_kv = kv.layer_mut(i)?;
            let mut qkv_out = qkv.forward_host(&attn_norm.apply(&x), b);
            let attended = attend(&mut qkv_out, b, model.heads, &rope, &pads, start, layer_kv);
            add_into(&mut x, &wo.forward_host(&attended, b));
            let gate_up_out = gate_up.forward_host(&ffn_norm.apply(&x), b);
            add_into(&mut x, &down.forward_host(&swiglu(&gate_up_out, b), b));
        }
        cache.advance(1);
        let logits = model.head.forward_host(&self.final_norm.apply(&x), b);
        let vocab = logits.len() / b;
        Some(Tensor::from_data(
            TensorData::new(logits, [b, vocab]),
            &device,
        ))
    }
}

impl HostNorm {
    fn new(norm: &RmsNorm) -> Option<Self> {
        Some(Self {
            gamma: norm.gamma.val().into_data().try_to_vec().ok()?,
            epsilon: norm.epsilon as f32,
        })
    }

    /// `x / sqrt(mean(x²) + ε) · γ` over each row of `x` (rows of `γ`'s width).
    fn apply(&self, x: &[f32]) -> Vec<f32> {
        let width = self.gamma.len();
        let mut out = Vec::with_capacity(x.len());
        for row in x.chunks_exact(width) {
            let mean_square = dot(row, row) / width as f32;
            let rms = (mean_square + self.epsilon).sqrt();
            out.extend(row.iter().zip(&self.gamma).map(|(v, g)| v / rms * g));
        }
        out
    }
}

/// Rotates the new column's queries and keys (`qkv`: `[B, (H + 2·H_kv)·D]`, `q|k|v`),
/// appends its keys and values to `kv`, and returns the attention output `[B, H·D]`.
fn attend(
    qkv: &mut [f32],
    b: usize,
    heads: HeadShape,
    rope: &[f32],
    pads: &[usize],
    start: usize,
    kv: &mut HostLayerKv,
) -> Vec<f32> {
    let HeadShape {
        n_heads: h,
        n_kv_heads: h_kv,
        head_dim: d,
    } = heads;
    let width = (h + 2 * h_kv) * d;
    for row in qkv.chunks_exact_mut(width) {
        for head in row[..(h + h_kv) * d].chunks_exact_mut(d) {
            rotate(head, rope);
        }
    }
    for (r, row) in qkv.chunks_exact(width).enumerate() {
        for g in 0..h_kv {
            let k = &row[(h + g) * d..(h + g + 1) * d];
            let v = &row[(h + h_kv + g) * d..(h + h_kv + g + 1) * d];
            kv.k[r * h_kv + g].extend_from_slice(k);
            kv.v[r * h_kv + g].extend_from_slice(v);
        }
    }
    let group = h / h_kv;
    let scale = 1.0 / (d as f32).sqrt();
    let len = start + 1;
    let mut out = vec![0.0f32; b * h * d];
    out.par_chunks_mut(group * d)
        .enumerate()
        .for_each(|(task, out)| {
            let (r, g) = (task / h_kv, task % h_kv);
            let (keys, values) = (&kv.k[task], &kv.v[task]);
            // A key in the row's pad prefix is hidden from its real queries.
            let first = if start >= pads[r] { pads[r] } else { 0 };
            let queries = &qkv[r * width + g * group * d..r * width + (g + 1) * group * d];
            let mut weights = vec![0.0f32; len - first];
            for (q, out) in queries.chunks_exact(d).zip(out.chunks_exact_mut(d)) {
                for (w, key) in weights.iter_mut().zip(keys[first * d..].chunks_exact(d)) {
                    *w = dot(q, key) * scale;
                }
                softmax_in_place(&mut weights);
                for (&w, value) in weights.iter().zip(values[first * d..].chunks_exact(d)) {
                    for (o, v) in out.iter_mut().zip(value) {
                        *o += w * v;
                    }
                }
            }
        });
    out
}

/// Burn's rotary encoding of one head at one position: pairs `(a, b)` of the head become
/// `(a·cos − b·sin, b·cos + a·sin)`, with `rope` = `[D, 2]` (cosine, sine) per feature.
fn rotate(head: &mut [f32], rope: &[f32]) {
    for (pair, freq) in head.chunks_exact_mut(2).zip(rope.chunks_exact(4)) {
        let (a, b) = (pair[0], pair[1]);
        pair[0] = a * freq[0] - b * freq[1];
        pair[1] = b * freq[2] + a * freq[3];
    }
}

/// `silu(gate) · up` for rows of `gate|up` side by side.
fn swiglu(gate_up: &[f32], b: usize) -> Vec<f32> {
    let hidden = gate_up.len() / b / 2;
    gate_up
        .chunks_exact(2 * hidden)
        .flat_map(|row| {
            let (gate, up) = row.split_at(hidden);
            gate.iter()
                .zip(up)
                .map(|(&g, &u)| g / (1.0 + (-g).exp()) * u)
        })
        .collect()
}

/// `x += y`.
fn add_into(x: &mut [f32], y: &[f32]) {
    x.iter_mut().zip(y).for_each(|(a, b)| *a += b);
}

/// A softmax in place.
fn softmax_in_place(x: &mut [f32]) {
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for v in x.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    x.iter_mut().for_each(|v| *v /= sum);
}

/// A dot product in eight independent lanes (so that it vectorises).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (a_body, b_body) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a_body
        .remainder()
        .iter()
        .zip(b_body.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a_body.zip(b_body) {
        for i in 0..8 {
            lanes[i] += x[i] * y[i];
        }
    }
    lanes.iter().sum::<f32>() + tail
}
