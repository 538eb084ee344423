//! [`DecodeModel`]: a decoder-only policy's weights laid out for generation.

use burn::nn::{Embedding, Linear, RmsNorm, RotaryEncoding};
use burn::prelude::*;

use super::Decode;
use super::host_step::{HostDecoder, HostModel};
use super::layer::{DecodeLayer, HeadShape, last_column_logits};
use super::packed_cache::PackedCache;
use super::projection::Projection;
use crate::layers::{DecoderBlock, KvCache};

/// A plain-device copy of a decoder-only model for sampling and greedy evaluation; build
/// it with [`crate::Policy::decode_model`]. It computes the policy's function up to float
/// rounding (the sums run in another order), with fused `[out, in]` projections and
/// grouped-query attention without repeated heads (see [`crate::decode`]).
#[derive(Debug, Clone)]
pub struct DecodeModel {
    embed: Tensor<2>,
    layers: Vec<DecodeLayer>,
    norm: RmsNorm,
    /// `d_model → vocab`: the embedding itself when tied.
    head: Projection,
    rope: RotaryEncoding,
    heads: HeadShape,
    max_seq_len: usize,
    /// Set when every projection is packed: decode steps of one column then run on the
    /// host ([`HostDecoder`]).
    host: Option<HostDecoder>,
}

/// The parts of a decoder-only model a [`DecodeModel`] is built from, on a plain device;
/// projections with LoRA adapters are copied merged.
#[derive(Debug)]
pub struct DecoderParts<'a> {
    /// Token embeddings `[vocab, d_model]`.
    pub embed: &'a Embedding,
    /// Decoder blocks.
    pub blocks: &'a [DecoderBlock],
    /// Final norm.
    pub norm: &'a RmsNorm,
    /// Untied output head (`[d_model, vocab]`); `None` when tied to `embed`.
    pub lm_head: Option<&'a Linear>,
    /// Rotary table.
    pub rope: &'a RotaryEncoding,
    /// Query heads, key/value heads and head width.
    pub heads: [usize; 3],
    /// Longest sequence the model accepts.
    pub max_seq_len: usize,
}

impl DecodeModel {
    /// Copies the weights of `parts` into the decoding layout. A frozen weight whose `f32`
    /// values are exactly those of a ggml block format (`Q4_1`, `Q8_0`: every model read
    /// from such a GGUF file) is also kept in that format, its LoRA adapter unmerged, and
    /// multiplied on the host for up to 32 rows at a time: decoding a few rows is bound by
    /// the bytes of weights read, and these are 3–5× fewer (SmolLM2: 115 MB instead of
    /// 538 MB). Wider inputs (a long prefill) use the model's own `f32` weights. Every other
    /// weight, and every weight of a model on a GPU, is copied in `f32`, adapters merged.
    pub fn new(parts: DecoderParts<'_>) -> Self {
        Self::build(parts, Some(&PackedCache::default()))
    }

    /// [`DecodeModel::new`], taking the packed weights from `cache` where it holds them and
    /// leaving there those it packs, so that the next decode model of the same frozen
    /// weights does not pack them again (a trainer builds one every step).
    pub fn with_cache(parts: DecoderParts<'_>, cache: &PackedCache) -> Self {
        Self::build(parts, Some(cache))
    }

    /// [`DecodeModel::new`] with every weight in `f32` (adapters merged), for comparison.
    pub fn new_dense(parts: DecoderParts<'_>) -> Self {
        Self::build(parts, None)
    }

    /// Bytes of projection and head weights a decode step reads (adapter factors
    /// included; the embedding rows a step looks up are not counted).
    pub fn weight_bytes(&self) -> usize {
        let layers: usize = self
            .layers
            .iter()
            .flat_map(|l| l.projections())
            .map(Projection::byte_len)
            .sum();
        layers + self.head.byte_len()
    }

    /// Whether a decode step of one new column (up to 32 rows) runs on the host, from
    /// the embedding lookup to the logits: true when every projection and the head are
    /// packed. The keys and values then move to the host after the prefill.
    pub fn steps_on_host(&self) -> bool {
        self.host.is_some()
    }

    fn build(parts: DecoderParts<'_>, pack: Option<&PackedCache>) -> Self {
        // The packed weights are multiplied on the host: on a GPU they would move there
        // and back every step, so a GPU decode model stays in `f32`.
        let on_host = parts.embed.weight.val().device().inner() == Device::flex();
        let pack = pack.filter(|_| on_host);
        if let Some(cache) = pack {
            cache.start_build();
        }
        let model = Self::build_with(parts, pack);
        if let Some(cache) = pack {
            cache.finish_build();
        }
        model
    }

    fn build_with(parts: DecoderParts<'_>, pack: Option<&PackedCache>) -> Self {
        let [n_heads, n_kv_heads, head_dim] = parts.heads;
        let embed = parts.embed.weight.val();
        let head = match parts.lm_head {
            Some(head) => Projection::new(&[head], pack),
            None => Projection::from_out_in(embed.clone(), pack),
        };
        let layers: Vec<DecodeLayer> = parts
            .blocks
            .iter()
            .map(|b| DecodeLayer::new(b, pack))
            .collect();
        let all_packed =
            head.packed().is_some() && layers.iter().all(|l| l.packed_projections().is_some());
        let host = all_packed
            .then(|| HostDecoder::new(&layers, parts.norm))
            .flatten();
        Self {
            head,
            embed,
            layers,
            host,
            norm: parts.norm.clone(),
            rope: parts.rope.clone(),
            heads: HeadShape {
                n_heads,
                n_kv_heads,
                head_dim,
            },
            max_seq_len: parts.max_seq_len,
        }
    }
}

impl Decode for DecodeModel {
    fn max_seq_len(&self) -> usize {
        self.max_seq_len
    }

    fn new_cache(&self) -> KvCache {
        KvCache::new(self.layers.len())
    }

    fn last_logits(
        &self,
        tokens: Tensor<2, Int>,
        left_pad: &[usize],
        cache: &mut KvCache,
    ) -> Tensor<2> {
        cache.set_left_pad(left_pad);
        if let (Some(host), Some(head)) = (&self.host, self.head.packed()) {
            let model = HostModel {
                layers: &self.layers,
                head,
                embed: &self.embed,
                rope: &self.rope.freq_complex,
                heads: self.heads,
            };
            if let Some(logits) = host.step(&model, &tokens, cache) {
                return logits;
            }
        }
        let [b, t] = tokens.dims();
        let start = cache.len();
        let pads = cache.left_pad().to_vec();
        let mut x = self.embed.clone().select(0, tokens.reshape([b * t]));
        for (i, layer) in self.layers.iter().enumerate() {
            let mut unused = None;
            let kv = cache.layer_mut(i).unwrap_or(&mut unused);
            x = layer.forward(x, [b, t], self.heads, &self.rope, start, &pads, kv);
        }
        cache.advance(t);
        last_column_logits(x, [b, t], &self.norm, &self.head)
    }

    /// Drops rows of a cache held on the host: a host step computes every row on its own
    /// (the same kernels and order of sums for any number of rows), except a single row,
    /// which sums by blocks in another order; so a lone row keeps a companion (the first
    /// other row) and two rows stay at least.
    fn retain_rows(&self, cache: &mut KvCache, rows: &[usize]) -> Option<Vec<usize>> {
        self.host.as_ref()?;
        let n = cache.host_rows()?;
        let mut kept = rows.to_vec();
        if let [row] = kept[..] {
            kept.push(usize::from(row == 0));
            kept.sort_unstable();
        }
        (kept.len() < n && cache.retain_host_rows(&kept)).then_some(kept)
    }
}
