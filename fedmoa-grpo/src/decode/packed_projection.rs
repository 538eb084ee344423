//! [`PackedProjection`]: a decode step's projection over packed frozen weights, with LoRA
//! adapters kept unmerged, computed on the host.
//!
//! The weights of 16 consecutive outputs are stored side by side ([`PackedMatrix`]), so one
//! vector instruction unpacks a code for each of them and multiplies it with a broadcast
//! input; the weights stream from memory once per call in their packed size. The code is
//! written with [`pulp`]'s portable vector types and run under [`pulp::Arch::dispatch`],
//! which compiles it for AVX2 (and AVX-512 with the `x86-v4` feature) and picks the widest
//! the CPU has at run time, without `unsafe` code.

use burn::nn::Linear;
use burn::prelude::*;
use pulp::{Arch, Simd, WithSimd};
use rayon::prelude::*;

use std::sync::Arc;

use super::packed_cache::{Fingerprint, PackedCache};
use super::packed_matrix::{BLOCK, GROUP, PackedFormat, PackedMatrix};

/// Outputs computed per parallel task (a multiple of [`GROUP`]).
const TASK_OUTPUTS: usize = 2 * GROUP;

/// `x·W` for one or more projections of the same input, their outputs side by side
/// (`q|k|v`, `gate|up`), each `W = W₀ + s·A·B` with `W₀` packed and `A`, `B` kept apart.
#[derive(Debug, Clone)]
pub(super) struct PackedProjection {
    parts: Vec<PackedPart>,
    inputs: usize,
    outputs: usize,
}

/// One projection: its packed frozen weight and its adapter.
#[derive(Debug, Clone)]
struct PackedPart {
    /// `W₀` as `[out, in]`.
    base: Arc<PackedMatrix>,
    adapter: Option<HostAdapter>,
}

/// A LoRA adapter's factors on the host.
#[derive(Debug, Clone)]
struct HostAdapter {
    /// `A`, `[in, rank]`.
    a: Vec<f32>,
    /// `B`, `[rank, out]` with `out` padded to whole groups of outputs with zeros.
    b: Vec<f32>,
    rank: usize,
    scale: f32,
}

impl PackedProjection {
    /// Packs the frozen weights of `layers` (each `[in, out]`, the same `in`), or finds
    /// them in `cache`; `None` when one of them is not exactly a block format's values
    /// ([`PackedMatrix::pack_exact`]) or carries a bias.
    pub fn from_linears(layers: &[&Linear], cache: &PackedCache) -> Option<Self> {
        let parts = layers
            .iter()
            .map(|layer| PackedPart::from_linear(layer, cache))
            .collect::<Option<Vec<_>>>()?;
        let inputs = parts.first()?.base.cols();
        if parts.iter().any(|p| p.base.cols() != inputs) {
            return None;
        }
        let outputs = parts.iter().map(|p| p.base.rows()).sum();
        Some(Self {
            parts,
            inputs,
            outputs,
        })
    }

    /// Packs a weight already laid out `[out, in]` (a tied embedding used as the head), or
    /// finds it in `cache`.
    pub fn from_out_in(weight: &Tensor<2>, cache: &PackedCache) -> Option<Self> {
        let [outputs, inputs] = weight.dims();
        if !first_block_may_pack(
            weight
                .clone()
                .narrow(0, 0, 1)
                .narrow(1, 0, BLOCK.min(inputs)),
        ) {
            return None;
        }
        let data = weight.clone().into_data();
        let values = data.as_slice::<f32>().ok()?;
        let key = Fingerprint::of(values, outputs, inputs, false);
        let base = cache.get_or_pack(key, || {
            PackedMatrix::pack_exact(outputs, inputs, |rows, buffer| {
                buffer.copy_from_slice(&values[rows.start * inputs..rows.end * inputs]);
            })
        })?;
        Some(Self {
            parts: vec![PackedPart {
                base,
                adapter: None,
            }],
            inputs,
            outputs,
        })
    }

    /// Bytes of packed weights and adapter factors.
    pub fn byte_len(&self) -> usize {
        self.parts
            .iter()
            .map(|p| {
                p.base.byte_len()
                    + p.adapter
                        .as_ref()
                        .map_or(0, |a| 4 * (a.a.len() + a.b.len()))
            })
            .sum()
    }

    /// `x·W` for every part, side by side.
    ///
    /// # Shapes
    /// `x: [M, in]` → `[M, out]` (`out` summed over the parts).
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let [m, _] = x.dims();
        let device = x.device();
        let x: Vec<f32> = x.into_data().iter::<f32>().collect();
        let out = self.forward_host(&x, m);
        Tensor::from_data(TensorData::new(out, [m, self.outputs]), &device)
    }

    /// [`PackedProjection::forward`] on host rows: `x` is `[m, in]` row-major, the result
    /// `[m, out]`.
    pub fn forward_host(&self, x: &[f32], m: usize) -> Vec<f32> {
        // Output-major while computing, so that each task owns a contiguous slice.
        let mut by_output = vec![0.0f32; self.outputs * m];
        let mut rest = by_output.as_mut_slice();
        let block_sums = if m == 1 {
            block_sums(x, self.inputs)
        } else {
            Vec::new()
        };
        for part in &self.parts {
            let (mine, tail) = rest.split_at_mut(part.base.rows() * m);
            rest = tail;
            let low = part.adapter.as_ref().map(|adapter| {
                Arch::new().dispatch(DownKernel {
                    adapter,
                    x,
                    inputs: self.inputs,
                })
            });
            mine.par_chunks_mut(TASK_OUTPUTS * m)
                .enumerate()
                .for_each(|(task, out)| {
                    let first = task * TASK_OUTPUTS;
                    let low = low.as_deref();
                    if m == 1 {
                        Arch::new().dispatch(RowKernel {
                            part,
                            first,
                            out,
                            x,
                            block_sums: &block_sums,
                            low,
                        });
                    } else if m >= BUFFERED_MIN_ROWS {
                        Arch::new().dispatch(OutputsKernel::<true> {
                            part,
                            first,
                            out,
                            x,
                            low,
                        });
                    } else {
                        Arch::new().dispatch(OutputsKernel::<false> {
                            part,
                            first,
                            out,
                            x,
                            low,
                        });
                    }
                });
        }
        let mut out = vec![0.0f32; m * self.outputs];
        for (o, column) in by_output.chunks_exact(m).enumerate() {
            for (r, &v) in column.iter().enumerate() {
                out[r * self.outputs + o] = v;
            }
        }
        out
    }
}

/// Whether the first block of a weight (its first output's first 32 inputs) is a block of
/// some format: when it is not, the weight cannot pack, and neither its copy to the host
/// nor its fingerprint is worth computing (a merged or safetensors model's decode model is
/// built every step).
fn first_block_may_pack<const D: usize>(block: Tensor<D>) -> bool {
    let values: Vec<f32> = block.into_data().iter::<f32>().collect();
    PackedMatrix::is_block(&values)
}

impl PackedPart {
    fn from_linear(layer: &Linear, cache: &PackedCache) -> Option<Self> {
        if layer.bias.is_some() {
            return None;
        }
        let weight = match layer.weight.adapter() {
            Some(_) => layer.weight.base(),
            None => layer.weight.val(),
        };
        let [inputs, outputs] = weight.dims();
        if !first_block_may_pack(
            weight
                .clone()
                .narrow(1, 0, 1)
                .narrow(0, 0, BLOCK.min(inputs)),
        ) {
            return None;
        }
        let data = weight.into_data();
        let values = data.as_slice::<f32>().ok()?;
        // Rows of `[out, in]` are columns of the `[in, out]` weight: copy a chunk of
        // columns input by input, reading each input's stretch contiguously.
        let key = Fingerprint::of(values, outputs, inputs, true);
        let base = cache.get_or_pack(key, || {
            PackedMatrix::pack_exact(outputs, inputs, |rows, buffer| {
                for i in 0..inputs {
                    let stretch = &values[i * outputs + rows.start..i * outputs + rows.end];
                    for (k, &v) in stretch.iter().enumerate() {
                        buffer[k * inputs + i] = v;
                    }
                }
            })
        })?;
        let adapter = match layer.weight.adapter() {
            Some(adapter) => Some(HostAdapter::new(
                adapter.a.val(),
                adapter.b.val(),
                adapter.scale as f32,
            )?),
            None => None,
        };
        Some(Self { base, adapter })
    }
}

/// The outputs `first..first + out.len() / M` of `part` for the `M` rows of `x`, written
/// output-major into `out`; `low` is `x·A` (`[M, rank]`) when there is an adapter.
/// `first` is a multiple of [`GROUP`]. With `BUFFERED`, through [`buffered_group_dots`]
/// (for [`BUFFERED_MIN_ROWS`] rows or more); a kernel of its own, so that the code of the
/// smaller cases stays as it was compiled before.
struct OutputsKernel<'a, const BUFFERED: bool> {
    part: &'a PackedPart,
    first: usize,
    out: &'a mut [f32],
    x: &'a [f32],
    low: Option<&'a [f32]>,
}

impl<const BUFFERED: bool> WithSimd for OutputsKernel<'_, BUFFERED> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let Self {
            part,
            first,
            out,
            x,
            low,
        } = self;
        let base = &part.base;
        let m = x.len() / base.cols();
        for (g, out) in (first / GROUP..).zip(out.chunks_mut(GROUP * m)) {
            if BUFFERED {
                let lora = part.adapter.as_ref().zip(low);
                let sums = match (base.format(), m % ROW_GROUP) {
                    (PackedFormat::Q4_1, 0) => {
                        buffered_group_dots::<S, 4, 0>(simd, base, lora, g, x)
                    }
                    (PackedFormat::Q4_1, 1) => {
                        buffered_group_dots::<S, 4, 1>(simd, base, lora, g, x)
                    }
                    (PackedFormat::Q4_1, 2) => {
                        buffered_group_dots::<S, 4, 2>(simd, base, lora, g, x)
                    }
                    (PackedFormat::Q4_1, _) => {
                        buffered_group_dots::<S, 4, 3>(simd, base, lora, g, x)
                    }
                    (PackedFormat::Q8_0, 0) => {
                        buffered_group_dots::<S, 8, 0>(simd, base, lora, g, x)
                    }
                    (PackedFormat::Q8_0, 1) => {
                        buffered_group_dots::<S, 8, 1>(simd, base, lora, g, x)
                    }
                    (PackedFormat::Q8_0, 2) => {
                        buffered_group_dots::<S, 8, 2>(simd, base, lora, g, x)
                    }
                    (PackedFormat::Q8_0, _) => {
                        buffered_group_dots::<S, 8, 3>(simd, base, lora, g, x)
                    }
                };
                for (lane, column) in out.chunks_exact_mut(m).enumerate() {
                    for (value, sums) in column.iter_mut().zip(&sums) {
                        *value = sums[lane];
                    }
                }
                continue;
            }
            let mut r = 0;
            while r < m {
                let rows = if m - r >= ROW_GROUP { ROW_GROUP } else { 1 };
                let mut store = |sums: &[[f32; GROUP]]| {
                    for (lane, column) in out.chunks_exact_mut(m).enumerate() {
                        for (j, sums) in sums.iter().enumerate() {
                            column[r + j] = sums[lane];
                        }
                    }
                };
                let lora = part.adapter.as_ref().zip(low);
                match (base.format(), rows) {
                    (PackedFormat::Q4_1, ROW_GROUP) => {
                        store(&group_dots::<S, ROW_GROUP, 4>(simd, base, lora, g, x, r))
                    }
                    (PackedFormat::Q4_1, _) => {
                        store(&group_dots::<S, 1, 4>(simd, base, lora, g, x, r))
                    }
                    (PackedFormat::Q8_0, ROW_GROUP) => {
                        store(&group_dots::<S, ROW_GROUP, 8>(simd, base, lora, g, x, r))
                    }
                    (PackedFormat::Q8_0, _) => {
                        store(&group_dots::<S, 1, 8>(simd, base, lora, g, x, r))
                    }
                }
                r += rows;
            }
        }
    }
}

/// [`OutputsKernel`] for a single row, through [`row_dots`].
struct RowKernel<'a> {
    part: &'a PackedPart,
    first: usize,
    out: &'a mut [f32],
    x: &'a [f32],
    /// The sum of each block of the row's inputs ([`block_sums`]).
    block_sums: &'a [f32],
    low: Option<&'a [f32]>,
}

impl WithSimd for RowKernel<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let lora = self.part.adapter.as_ref().zip(self.low);
        for (g, out) in (self.first / GROUP..).zip(self.out.chunks_mut(GROUP)) {
            let base = &self.part.base;
            let [sums] = match base.format() {
                PackedFormat::Q4_1 => {
                    row_dots::<S, 4>(simd, base, lora, g, self.x, self.block_sums)
                }
                PackedFormat::Q8_0 => {
                    row_dots::<S, 8>(simd, base, lora, g, self.x, self.block_sums)
                }
            };
            out.copy_from_slice(&sums[..out.len()]);
        }
    }
}

/// The codes of one group of a [`PackedMatrix`] with `BITS`-bit codes, as vectors of
/// [`GROUP`] consecutive outputs, and their exact unpacking.
struct GroupCodes<'a, S: Simd, const BITS: u32> {
    scales: &'a [S::f32s],
    mins: &'a [S::f32s],
    words: &'a [S::u32s],
    /// Vectors per group of outputs.
    vectors: usize,
    /// Codes per 32-bit word.
    per_word: usize,
    /// Words per block of [`BLOCK`] inputs (per output).
    words_per_block: usize,
    mask: S::u32s,
    magic: S::u32s,
    bias: S::f32s,
}

impl<'a, S: Simd, const BITS: u32> GroupCodes<'a, S, BITS> {
    #[inline(always)]
    fn new(simd: S, base: &'a PackedMatrix, g: usize) -> Self {
        let lanes = core::mem::size_of::<S::f32s>() / core::mem::size_of::<f32>();
        let per_word = 32 / BITS as usize;
        let (scales, mins, words) = base.group(g);
        Self {
            scales: S::as_simd_f32s(scales).0,
            mins: S::as_simd_f32s(mins).0,
            words: S::as_simd_u32s(words).0,
            vectors: GROUP / lanes,
            per_word,
            words_per_block: BLOCK / per_word,
            mask: simd.splat_u32s((1 << BITS) - 1),
            magic: simd.splat_u32s(0x4b00_0000),
            bias: simd.splat_f32s(8_388_608.0 + base.format().code_offset() as f32),
        }
    }

    /// The codes of block `b`, word `w`, vector `v`, at bit offset `shift` (`k · BITS`,
    /// splat), as floats: widened exactly (the bits under the exponent of 2²³, minus 2²³
    /// and the code offset).
    #[inline(always)]
    fn code(&self, simd: S, b: usize, w: usize, shift: S::u32s, v: usize) -> S::f32s {
        let word = self.words[(b * self.words_per_block + w) * self.vectors + v];
        let code = simd.and_u32s(simd.wrapping_dyn_shr_u32s(word, shift), self.mask);
        simd.sub_f32s(
            simd.transmute_f32s_u32s(simd.or_u32s(code, self.magic)),
            self.bias,
        )
    }

    /// [`GroupCodes::code`] scaled as the dequantiser does: `q·d + m`, unfused.
    #[inline(always)]
    fn weight(&self, simd: S, b: usize, w: usize, shift: S::u32s, v: usize) -> S::f32s {
        let i = b * self.vectors + v;
        simd.add_f32s(
            simd.mul_f32s(self.code(simd, b, w, shift, v), self.scales[i]),
            self.mins[i],
        )
    }
}

/// Rows of `x` whose products with a group's weights run together, sharing the unpacking.
const ROW_GROUP: usize = 4;

/// The [`GROUP`] outputs of group `g` for rows `first..first + R` of `x` (row-major,
/// `cols` per row), with codes of `BITS` bits: `[R][GROUP]`; with `lora`, an adapter and
/// `s·x·A` (`[M, rank]`), the adapter's `s·(x·A)·B` is added.
///
/// Each code is widened to a float exactly (its bits under the exponent of 2²³, minus
/// 2²³ and the code offset) and scaled as the dequantiser does (`q·d + m`, unfused);
/// the lanes of a vector are consecutive outputs, so a row's input is broadcast.
#[inline(always)]
fn group_dots<S: Simd, const R: usize, const BITS: u32>(
    simd: S,
    base: &PackedMatrix,
    lora: Option<(&HostAdapter, &[f32])>,
    g: usize,
    x: &[f32],
    first: usize,
) -> [[f32; GROUP]; R] {
    let cols = base.cols();
    let codes = GroupCodes::<S, BITS>::new(simd, base, g);
    let (vectors, per_word, words_per_block) =
        (codes.vectors, codes.per_word, codes.words_per_block);
    let zero = simd.splat_f32s(0.0);
    let mut acc = [[zero; GROUP]; R];
    let rows: [&[f32]; R] =
        core::array::from_fn(|j| &x[(first + j) * cols..(first + j + 1) * cols]);
    for b in 0..cols / BLOCK {
        for w in 0..words_per_block {
            for k in 0..per_word {
                let shift = simd.splat_u32s(k as u32 * BITS);
                let i = b * BLOCK + w * per_word + k;
                let xs: [S::f32s; R] = core::array::from_fn(|j| simd.splat_f32s(rows[j][i]));
                for v in 0..vectors {
                    let weight = codes.weight(simd, b, w, shift, v);
                    for (acc, &x) in acc.iter_mut().zip(&xs) {
                        acc[v] = simd.mul_add_e_f32s(weight, x, acc[v]);
                    }
                }
            }
        }
    }
    with_adapter(simd, lora, g, first, acc)
}

/// Rows from which [`buffered_group_dots`] unpacks each block once for all of them.
const BUFFERED_MIN_ROWS: usize = 2;

/// [`group_dots`] for every row of `x` at once, `[M][GROUP]`, with `M mod 4 = REST`: each
/// block of the group's weights is unpacked once into a buffer of vectors, then
/// multiplied with the inputs of every four rows and of the last `REST` rows together.
/// The accumulators wait in memory between blocks.
///
/// Bit for bit [`group_dots`]: the same unpacking, and each output's products are added
/// in the same order, with the same fused multiply-adds, whichever rows share a group.
/// Unpacking a code costs six vector operations, which [`group_dots`] repeats for every
/// four rows (and for each row past the last four); here it runs once per block for all
/// rows. `REST` is a constant so that the code for whole groups of four compiles without
/// the remainder's.
#[inline(always)]
fn buffered_group_dots<S: Simd, const BITS: u32, const REST: usize>(
    simd: S,
    base: &PackedMatrix,
    lora: Option<(&HostAdapter, &[f32])>,
    g: usize,
    x: &[f32],
) -> Vec<[f32; GROUP]> {
    let cols = base.cols();
    let m = x.len() / cols;
    let codes = GroupCodes::<S, BITS>::new(simd, base, g);
    let (vectors, per_word, words_per_block) =
        (codes.vectors, codes.per_word, codes.words_per_block);
    let zero = simd.splat_f32s(0.0);
    let fours = m / ROW_GROUP;
    let mut acc4 = vec![[[zero; GROUP]; ROW_GROUP]; fours];
    let mut acc_rest = [[zero; GROUP]; REST];
    // The block's weights: `weights[i * vectors + v]` for input i of the block.
    let mut weights = vec![zero; BLOCK * vectors];
    for b in 0..cols / BLOCK {
        for w in 0..words_per_block {
            for k in 0..per_word {
                let shift = simd.splat_u32s(k as u32 * BITS);
                let i = w * per_word + k;
                for v in 0..vectors {
                    weights[i * vectors + v] = codes.weight(simd, b, w, shift, v);
                }
            }
        }
        let inputs = |row: usize| &x[row * cols + b * BLOCK..row * cols + (b + 1) * BLOCK];
        for (four, acc) in acc4.iter_mut().enumerate() {
            block_products(simd, &weights, vectors, acc, |j| {
                inputs(four * ROW_GROUP + j)
            });
        }
        if REST > 0 {
            block_products(simd, &weights, vectors, &mut acc_rest, |j| {
                inputs(fours * ROW_GROUP + j)
            });
        }
    }
    let mut sums = Vec::with_capacity(m);
    for (four, acc) in acc4.into_iter().enumerate() {
        sums.extend(with_adapter(simd, lora, g, four * ROW_GROUP, acc));
    }
    if REST > 0 {
        sums.extend(with_adapter(simd, lora, g, fours * ROW_GROUP, acc_rest));
    }
    sums
}

/// Adds one block's products to the accumulators of `R` rows (`acc`: `[R][vectors]`):
/// `weights` holds the block's unpacked weights (`[BLOCK][vectors]`), `inputs(j)` row j's
/// [`BLOCK`] inputs.
#[inline(always)]
fn block_products<'x, S: Simd, const R: usize>(
    simd: S,
    weights: &[S::f32s],
    vectors: usize,
    acc: &mut [[S::f32s; GROUP]; R],
    inputs: impl Fn(usize) -> &'x [f32],
) {
    let rows: [&[f32]; R] = core::array::from_fn(&inputs);
    let mut a = *acc;
    for i in 0..BLOCK {
        let xs: [S::f32s; R] = core::array::from_fn(|j| simd.splat_f32s(rows[j][i]));
        for v in 0..vectors {
            let weight = weights[i * vectors + v];
            for j in 0..R {
                a[j][v] = simd.mul_add_e_f32s(weight, xs[j], a[j][v]);
            }
        }
    }
    *acc = a;
}

/// Adds the adapter's `s·(x·A)·B` for group `g` and rows `first..first + R` to the
/// accumulators `acc` (`[R][vectors]`) when there is one (`lora`: the adapter and `s·x·A`,
/// `[M, rank]`), and returns their sums per output.
#[inline(always)]
fn with_adapter<S: Simd, const R: usize>(
    simd: S,
    lora: Option<(&HostAdapter, &[f32])>,
    g: usize,
    first: usize,
    mut acc: [[S::f32s; GROUP]; R],
) -> [[f32; GROUP]; R] {
    let lanes = core::mem::size_of::<S::f32s>() / core::mem::size_of::<f32>();
    let vectors = GROUP / lanes;
    if let Some((adapter, low)) = lora {
        let padded = adapter.b.len() / adapter.rank;
        for k in 0..adapter.rank {
            let start = k * padded + g * GROUP;
            let (b, _) = S::as_simd_f32s(&adapter.b[start..start + GROUP]);
            let ls: [S::f32s; R] =
                core::array::from_fn(|j| simd.splat_f32s(low[(first + j) * adapter.rank + k]));
            for v in 0..vectors {
                for j in 0..R {
                    acc[j][v] = simd.mul_add_e_f32s(b[v], ls[j], acc[j][v]);
                }
            }
        }
    }
    let mut sums = [[0.0f32; GROUP]; R];
    for j in 0..R {
        let (out, _) = S::as_mut_simd_f32s(&mut sums[j]);
        for (out, &acc) in out.iter_mut().zip(&acc[j]) {
            *out = acc;
        }
    }
    sums
}

/// The sum of each block of [`BLOCK`] inputs of each row of `x` (`[M, cols]`): `[M, cols /
/// BLOCK]`.
fn block_sums(x: &[f32], cols: usize) -> Vec<f32> {
    x.chunks_exact(cols)
        .flat_map(|row| {
            row.chunks_exact(BLOCK)
                .map(|block| block.iter().sum::<f32>())
        })
        .collect()
}

/// [`group_dots`] for a single row (`x`, `[cols]`) of weights with `BITS`-bit codes, with
/// each block's scale and minimum taken out of the inner loop: `d·Σ q·x + m·Σ x` per block
/// (`m = 0` for `Q8_0`), where `Σ x` is the block's entry of `block_sums`. One row shares
/// no unpacking, so the inner loop's operations per code are what bounds it; this form has
/// five instead of seven. The sums round in another order than [`group_dots`]'s.
#[inline(always)]
fn row_dots<S: Simd, const BITS: u32>(
    simd: S,
    base: &PackedMatrix,
    lora: Option<(&HostAdapter, &[f32])>,
    g: usize,
    x: &[f32],
    block_sums: &[f32],
) -> [[f32; GROUP]; 1] {
    let cols = base.cols();
    let blocks = cols / BLOCK;
    let codes = GroupCodes::<S, BITS>::new(simd, base, g);
    let (vectors, per_word, words_per_block) =
        (codes.vectors, codes.per_word, codes.words_per_block);
    let zero = simd.splat_f32s(0.0);
    let mut acc = [zero; GROUP];
    for (b, &block_sum) in block_sums.iter().enumerate().take(blocks) {
        let mut dots = [zero; GROUP];
        for w in 0..words_per_block {
            for k in 0..per_word {
                let shift = simd.splat_u32s(k as u32 * BITS);
                let xs = simd.splat_f32s(x[b * BLOCK + w * per_word + k]);
                for (v, dot) in dots[..vectors].iter_mut().enumerate() {
                    *dot = simd.mul_add_e_f32s(codes.code(simd, b, w, shift, v), xs, *dot);
                }
            }
        }
        let sum = simd.splat_f32s(block_sum);
        for v in 0..vectors {
            let with_min = simd.mul_add_e_f32s(codes.mins[b * vectors + v], sum, acc[v]);
            acc[v] = simd.mul_add_e_f32s(codes.scales[b * vectors + v], dots[v], with_min);
        }
    }
    with_adapter(simd, lora, g, 0, [acc])
}

impl HostAdapter {
    /// The factors `a: [in, rank]` and `b: [rank, out]`.
    fn new(a: Tensor<2>, b: Tensor<2>, scale: f32) -> Option<Self> {
        let [_, rank] = a.dims();
        let [_, outputs] = b.dims();
        let a: Vec<f32> = a.into_data().iter::<f32>().collect();
        let b: Vec<f32> = b.into_data().iter::<f32>().collect();
        let padded = outputs.div_ceil(GROUP) * GROUP;
        let mut b_padded = vec![0.0; rank * padded];
        for (row, padded_row) in b
            .chunks_exact(outputs)
            .zip(b_padded.chunks_exact_mut(padded))
        {
            padded_row[..outputs].copy_from_slice(row);
        }
        (rank > 0).then_some(Self {
            a,
            b: b_padded,
            rank,
            scale,
        })
    }
}

/// `s·x·A` (`[M, rank]`) for the `M` rows of `x`, each a sum over the inputs of an input
/// times a row of `A`.
///
/// Rows run [`ROW_GROUP`] at a time: each input's row of `A` is loaded once for them, and
/// their sums are independent chains of fused multiply-adds, so that one chain's latency
/// does not stall the next input. Each sum adds its products in input order, as one row at
/// a time would.
struct DownKernel<'a> {
    adapter: &'a HostAdapter,
    x: &'a [f32],
    inputs: usize,
}

impl WithSimd for DownKernel<'_> {
    type Output = Vec<f32>;

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> Vec<f32> {
        let Self { adapter, x, inputs } = self;
        let rank = adapter.rank;
        let lanes = core::mem::size_of::<S::f32s>() / core::mem::size_of::<f32>();
        let vectors = rank / lanes;
        let mut low = vec![0.0f32; x.len() / inputs * rank];
        // The vector part of row j's sums: `acc[j * width..(j + 1) * width]` (the first
        // `vectors`; one unused when the rank is narrower than a vector).
        let width = vectors.max(1);
        let mut acc = vec![simd.splat_f32s(0.0); ROW_GROUP * width];
        for (rows, low) in x
            .chunks(ROW_GROUP * inputs)
            .zip(low.chunks_mut(ROW_GROUP * rank))
        {
            acc.fill(simd.splat_f32s(0.0));
            for (i, a) in adapter.a.chunks_exact(rank).enumerate() {
                let (a_v, a_tail) = S::as_simd_f32s(a);
                for ((row, acc), low) in rows
                    .chunks_exact(inputs)
                    .zip(acc.chunks_mut(width))
                    .zip(low.chunks_exact_mut(rank))
                {
                    let xi = row[i];
                    let xs = simd.splat_f32s(xi);
                    for (l, &a) in acc.iter_mut().zip(a_v) {
                        *l = simd.mul_add_e_f32s(xs, a, *l);
                    }
                    let (_, low_tail) = S::as_mut_simd_f32s(low);
                    for (l, &a) in low_tail.iter_mut().zip(a_tail) {
                        *l += xi * a;
                    }
                }
            }
            for (low, acc) in low.chunks_exact_mut(rank).zip(acc.chunks(width)) {
                let (low_v, _) = S::as_mut_simd_f32s(low);
                for (l, &a) in low_v.iter_mut().zip(acc) {
                    *l = a;
                }
                for l in low.iter_mut() {
                    *l *= adapter.scale;
                }
            }
        }
        low
    }
}

#[cfg(test)]
mod tests {
    use burn::module::Lora;
    use burn::nn::LinearConfig;
    use burn::tensor::Distribution;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::decode::packed_matrix::PackedFormat;
    use crate::decode::packed_matrix::tests::block_values;
    use crate::layers::linear;
    use crate::model::{load_param_set, to_param_set};

    /// An `inputs → outputs` projection whose weight columns (the `[out, in]` rows) are
    /// blocks of `format`, with a rank-3 adapter of non-zero factors when `adapted`.
    fn block_linear(
        inputs: usize,
        outputs: usize,
        format: PackedFormat,
        adapted: bool,
        seed: u64,
    ) -> Linear {
        let dev = Device::flex();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut lin = LinearConfig::new(inputs, outputs)
            .with_bias(false)
            .init(&dev);
        let mut params = to_param_set(&lin, &|_| true).unwrap();
        for (_, t) in params.iter_mut() {
            // Fill `[out, in]`, then store it transposed as Burn's `[in, out]`.
            let mut rows = vec![0.0; inputs * outputs];
            block_values(format, &mut rows, &mut rng);
            for (o, row) in rows.chunks_exact(inputs).enumerate() {
                for (i, &v) in row.iter().enumerate() {
                    t.data_mut()[i * outputs + o] = v;
                }
            }
        }
        lin = load_param_set(lin, &params, &|_| true).unwrap();
        if adapted {
            lin = lin.apply_lora(Lora::new(3, 6.0));
            let is_lora = |p: &str| p.contains(".lora.");
            let mut params = to_param_set(&lin, &is_lora).unwrap();
            let mut next = 0.0f32;
            for (_, t) in params.iter_mut() {
                for v in t.data_mut() {
                    next += 0.61;
                    *v = 0.2 * next.sin();
                }
            }
            lin = load_param_set(lin, &params, &is_lora).unwrap();
        }
        lin
    }

    fn max_abs<const D: usize>(t: Tensor<D>) -> f32 {
        t.abs().max().into_scalar()
    }

    #[test]
    fn packed_projections_compute_the_dense_ones() {
        let dev = Device::flex();
        // Input width 72: vector parts and a scalar tail on every instruction set.
        let q = block_linear(96, 40, PackedFormat::Q4_1, true, 1);
        let k = block_linear(96, 24, PackedFormat::Q8_0, false, 2);
        let v = block_linear(96, 72, PackedFormat::Q4_1, false, 3);
        let packed =
            PackedProjection::from_linears(&[&q, &k, &v], &PackedCache::default()).unwrap();
        assert_eq!(packed.outputs, 136);
        // One row (a decode step at batch 1), groups of four and a remainder, and more
        // rows than outputs per task.
        for m in [1, 6, 70] {
            let x = Tensor::<2>::random([m, 96], Distribution::Uniform(-1.0, 1.0), &dev);
            let dense = Tensor::cat(
                vec![
                    linear(&q, x.clone()),
                    linear(&k, x.clone()),
                    linear(&v, x.clone()),
                ],
                1,
            );
            let ours = packed.forward(x);
            assert_eq!(ours.dims(), [m, 136]);
            let scale = max_abs(dense.clone());
            let d = max_abs(ours - dense);
            assert!(scale > 0.5 && d < 1e-5 * scale, "m = {m}: {d} of {scale}");
        }
        // The adapter counts: without it the output differs.
        let bare = block_linear(96, 40, PackedFormat::Q4_1, false, 1);
        let bare = PackedProjection::from_linears(&[&bare], &PackedCache::default()).unwrap();
        let x = Tensor::<2>::random([2, 96], Distribution::Uniform(-1.0, 1.0), &dev);
        let d = max_abs(bare.forward(x.clone()) - linear(&q, x));
        assert!(d > 1e-2, "{d}");
    }

    /// Every part's outputs for the `m` rows of `x` through [`OutputsKernel`] with or
    /// without `BUFFERED`, output-major as [`PackedProjection::forward_host`] computes them.
    fn outputs_through<const BUFFERED: bool>(
        packed: &PackedProjection,
        x: &[f32],
        m: usize,
    ) -> Vec<f32> {
        let mut all = Vec::new();
        for part in &packed.parts {
            let low = part.adapter.as_ref().map(|adapter| {
                Arch::new().dispatch(DownKernel {
                    adapter,
                    x,
                    inputs: packed.inputs,
                })
            });
            let mut out = vec![0.0f32; part.base.rows() * m];
            Arch::new().dispatch(OutputsKernel::<BUFFERED> {
                part,
                first: 0,
                out: &mut out,
                x,
                low: low.as_deref(),
            });
            all.extend(out);
        }
        all
    }

    #[test]
    fn rows_unpacked_once_per_block_equal_the_rows_unpacked_per_four_bit_for_bit() {
        let q = block_linear(96, 40, PackedFormat::Q4_1, true, 6);
        let k = block_linear(96, 24, PackedFormat::Q8_0, true, 7);
        let packed = PackedProjection::from_linears(&[&q, &k], &PackedCache::default()).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let mut x = vec![0.0f32; 9 * 96];
        block_values(PackedFormat::Q8_0, &mut x, &mut rng);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        // Two to nine rows: groups of four and every remainder, against `group_dots` (four
        // rows, then one at a time).
        for m in 2..=9 {
            let x = &x[..m * 96];
            let buffered = outputs_through::<true>(&packed, x, m);
            assert!(buffered.iter().any(|v| v.abs() > 0.1));
            assert_eq!(
                bits(&buffered),
                bits(&outputs_through::<false>(&packed, x, m)),
                "{m} rows"
            );
        }
        // `forward_host` takes the buffered kernel from two rows.
        const { assert!(BUFFERED_MIN_ROWS == 2) };
        let mut parts = packed.forward_host(&x[..4 * 96], 4);
        parts.extend(packed.forward_host(&x[4 * 96..], 5));
        assert_eq!(bits(&packed.forward_host(&x, 9)), bits(&parts));
    }

    #[test]
    fn adapter_down_projection_of_row_groups_equals_one_row_at_a_time_bit_for_bit() {
        let dev = Device::flex();
        let inputs = 40;
        // Rank 3: a scalar tail only; rank 19: whole vectors and a tail on every
        // instruction set. Six rows: a group of four and two alone.
        for rank in [3, 19] {
            let a = Tensor::<2>::random([inputs, rank], Distribution::Uniform(-1.0, 1.0), &dev);
            let b = Tensor::<2>::random([rank, 8], Distribution::Uniform(-1.0, 1.0), &dev);
            let adapter = HostAdapter::new(a.clone(), b, 0.5).unwrap();
            let x = Tensor::<2>::random([6, inputs], Distribution::Uniform(-1.0, 1.0), &dev);
            let rows: Vec<f32> = x.clone().into_data().iter::<f32>().collect();
            let down = |x: &[f32]| {
                Arch::new().dispatch(DownKernel {
                    adapter: &adapter,
                    x,
                    inputs,
                })
            };
            let grouped = down(&rows);
            let alone: Vec<f32> = rows.chunks_exact(inputs).flat_map(down).collect();
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&grouped), bits(&alone), "rank {rank}");
            let dense: Vec<f32> = (x.matmul(a) * 0.5).into_data().iter::<f32>().collect();
            for (ours, dense) in grouped.iter().zip(&dense) {
                assert!(
                    (ours - dense).abs() < 1e-5,
                    "rank {rank}: {ours} vs {dense}"
                );
            }
        }
    }

    #[test]
    fn weights_that_are_not_block_values_or_have_a_bias_stay_dense() {
        let dev = Device::flex();
        let cache = PackedCache::default();
        let random = LinearConfig::new(64, 8).with_bias(false).init(&dev);
        assert!(PackedProjection::from_linears(&[&random], &cache).is_none());
        let block = block_linear(64, 8, PackedFormat::Q4_1, false, 4);
        assert!(PackedProjection::from_linears(&[&block], &cache).is_some());
        assert!(PackedProjection::from_linears(&[&block, &random], &cache).is_none());
        let mut biased = LinearConfig::new(64, 8).init(&dev);
        biased.weight = block.weight.clone();
        assert!(PackedProjection::from_linears(&[&biased], &cache).is_none());
        // Different input widths cannot share the input rows.
        let narrow = block_linear(32, 8, PackedFormat::Q4_1, false, 5);
        assert!(PackedProjection::from_linears(&[&block, &narrow], &cache).is_none());
    }
}
