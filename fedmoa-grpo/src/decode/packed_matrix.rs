//! [`PackedMatrix`]: a frozen `[out, in]` weight held in a ggml block format when that
//! loses nothing.
//!
//! A model read from a quantised GGUF file holds, in `f32`, values that are exactly the
//! dequantised blocks (`x = q·d + m` for `Q4_1`, `x = q·d` for `Q8_0`). Packed back, they
//! take 0.75 (`Q4_1`) or 1.25 (`Q8_0`) bytes per value instead of 4, and decoding at small
//! batch sizes is bound by the bytes of weights it reads. Packing is checked value by
//! value: a matrix packs only if every value unpacks to the same `f32`, so the packed
//! matrix is the same matrix.

use std::ops::Range;

use half::f16;
use rayon::prelude::*;

/// Values per block of both formats (ggml's `QK4_1` and `QK8_0`).
pub(super) const BLOCK: usize = 32;

/// The formats tried, in order.
const FORMATS: [PackedFormat; 2] = [PackedFormat::Q4_1, PackedFormat::Q8_0];

/// Rows packed per parallel task (a multiple of [`GROUP`]).
const PACK_ROWS: usize = 4 * GROUP;

/// How a packed matrix stores its blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackedFormat {
    /// Per block of 32: a scale `d`, a minimum `m`, 4-bit codes; `x = q·d + m`.
    Q4_1,
    /// Per block of 32: a scale `d`, 8-bit signed codes; `x = q·d`.
    Q8_0,
}

/// Outputs whose weights are stored side by side: a vector instruction then computes
/// that many outputs at once, one per lane (16 is the widest vector of `f32`).
pub(super) const GROUP: usize = 16;

/// A `[rows, cols]` matrix (one row per output) stored in blocks of 32 along `cols`, the
/// blocks of [`GROUP`] consecutive rows interleaved: for each group of rows, each block,
/// the group's scales and minima side by side, then for each run of codes that fits in a
/// 32-bit word (8 `Q4_1` codes, 4 `Q8_0` ones) one word per row. The last group is padded
/// with zero rows.
#[derive(Debug, Clone)]
pub(super) struct PackedMatrix {
    format: PackedFormat,
    rows: usize,
    cols: usize,
    /// `d`, `[groups, blocks, GROUP]`.
    scales: Vec<f32>,
    /// `m` (`Q8_0`: 0), `[groups, blocks, GROUP]`.
    mins: Vec<f32>,
    /// Codes, `[groups, blocks, words per block, GROUP]`; a `Q8_0` code `q` is stored as
    /// `q + 128`.
    words: Vec<u32>,
}

impl PackedFormat {
    /// Bits per code.
    pub(super) const fn bits(self) -> u32 {
        match self {
            Self::Q4_1 => 4,
            Self::Q8_0 => 8,
        }
    }

    /// Codes per 32-bit word.
    pub(super) const fn codes_per_word(self) -> usize {
        32 / self.bits() as usize
    }

    /// What is added to a code before it is stored (codes are stored unsigned).
    pub(super) const fn code_offset(self) -> u32 {
        match self {
            Self::Q4_1 => 0,
            Self::Q8_0 => 128,
        }
    }
}

impl PackedMatrix {
    /// Packs the `rows × cols` matrix in the first format that reproduces every value
    /// exactly, trying `Q4_1` then `Q8_0`; `None` when neither does or `cols` is not a
    /// multiple of 32. `fill(first..end, buffer)` writes rows `first..end` into `buffer`
    /// (row-major, `cols` per row); it is called for chunks of rows in parallel.
    pub fn pack_exact(
        rows: usize,
        cols: usize,
        fill: impl Fn(Range<usize>, &mut [f32]) + Sync,
    ) -> Option<Self> {
        if rows == 0 || cols == 0 || !cols.is_multiple_of(BLOCK) {
            return None;
        }
        FORMATS
            .into_iter()
            .find_map(|format| Self::pack_in(format, rows, cols, &fill))
    }

    /// Whether `values` are exactly the 32 values of a block of some format.
    pub fn is_block(values: &[f32]) -> bool {
        values.len() == BLOCK
            && FORMATS
                .into_iter()
                .any(|format| pack_block(format, values).is_some())
    }

    /// [`Self::pack_exact`] in one format.
    fn pack_in(
        format: PackedFormat,
        rows: usize,
        cols: usize,
        fill: &(impl Fn(Range<usize>, &mut [f32]) + Sync),
    ) -> Option<Self> {
        let chunks: Vec<Range<usize>> = (0..rows)
            .step_by(PACK_ROWS)
            .map(|first| first..(first + PACK_ROWS).min(rows))
            .collect();
        let parts = chunks
            .into_par_iter()
            .map(|range| {
                let mut buffer = vec![0.0; range.len() * cols];
                fill(range.clone(), &mut buffer);
                let blocks = buffer
                    .chunks_exact(BLOCK)
                    .map(|values| pack_block(format, values))
                    .collect::<Option<Vec<Block>>>()?;
                Some(Self::interleave(format, range.len(), cols, &blocks))
            })
            .collect::<Option<Vec<Self>>>()?;
        let mut packed = Self::interleave(format, 0, cols, &[]);
        packed.rows = rows;
        for part in parts {
            packed.scales.extend(part.scales);
            packed.mins.extend(part.mins);
            packed.words.extend(part.words);
        }
        Some(packed)
    }

    /// The interleaved layout of `rows` rows of `blocks` (row-major, `cols / 32` per row);
    /// `rows` is a multiple of [`GROUP`] except for the matrix's last rows.
    fn interleave(format: PackedFormat, rows: usize, cols: usize, blocks: &[Block]) -> Self {
        let per_row = cols / BLOCK;
        let groups = rows.div_ceil(GROUP);
        let per_word = format.codes_per_word();
        let mut packed = Self {
            format,
            rows,
            cols,
            scales: Vec::with_capacity(groups * per_row * GROUP),
            mins: Vec::with_capacity(groups * per_row * GROUP),
            words: Vec::with_capacity(groups * per_row * GROUP * BLOCK / per_word),
        };
        let zero = Block {
            d: 0.0,
            m: 0.0,
            codes: [0; BLOCK],
        };
        for g in 0..groups {
            for b in 0..per_row {
                let block = |lane: usize| {
                    let row = g * GROUP + lane;
                    if row < rows {
                        &blocks[row * per_row + b]
                    } else {
                        &zero
                    }
                };
                for lane in 0..GROUP {
                    packed.scales.push(block(lane).d);
                    packed.mins.push(block(lane).m);
                }
                for w in 0..BLOCK / per_word {
                    for lane in 0..GROUP {
                        let codes = &block(lane).codes[w * per_word..(w + 1) * per_word];
                        let word = codes.iter().enumerate().fold(0u32, |word, (k, &c)| {
                            let stored = (u32::from(c) + format.code_offset()) & 0xff;
                            word | stored << (k as u32 * format.bits())
                        });
                        packed.words.push(word);
                    }
                }
            }
        }
        packed
    }

    /// The storage format.
    pub fn format(&self) -> PackedFormat {
        self.format
    }

    /// Number of rows (outputs).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns (inputs).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Bytes held by the blocks (scales and minima as `f32`).
    pub fn byte_len(&self) -> usize {
        4 * (self.scales.len() + self.mins.len() + self.words.len())
    }

    /// Group `g`'s scales, minima and code words, in the layout described on the type.
    #[inline(always)]
    pub fn group(&self, g: usize) -> (&[f32], &[f32], &[u32]) {
        let per_row = self.cols / BLOCK;
        let scales = per_row * GROUP;
        let words = scales * BLOCK / self.format.codes_per_word();
        (
            &self.scales[g * scales..(g + 1) * scales],
            &self.mins[g * scales..(g + 1) * scales],
            &self.words[g * words..(g + 1) * words],
        )
    }

    /// Row `r`'s values, bit for bit the values packed (`Q8_0`: up to the sign of zero).
    #[cfg(test)]
    pub fn unpack_row(&self, r: usize) -> Vec<f32> {
        let (scales, mins, words) = self.group(r / GROUP);
        let lane = r % GROUP;
        let per_word = self.format.codes_per_word();
        let mask = (1u32 << self.format.bits()) - 1;
        (0..self.cols)
            .map(|i| {
                let (b, w, k) = (i / BLOCK, i % BLOCK / per_word, i % per_word);
                let word = words[(b * BLOCK / per_word + w) * GROUP + lane];
                let stored = word >> (k as u32 * self.format.bits()) & mask;
                let q = stored as f32 - self.format.code_offset() as f32;
                q * scales[b * GROUP + lane] + mins[b * GROUP + lane]
            })
            .collect()
    }
}

/// One block's scale, minimum and codes.
struct Block {
    d: f32,
    m: f32,
    codes: [u8; BLOCK],
}

/// Packs 32 values in `format` when they are exactly such a block's values.
fn pack_block(format: PackedFormat, values: &[f32]) -> Option<Block> {
    if values.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let (lo, hi) = values
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    match format {
        // The smallest value has code 0, so it is `m`; the largest has code 15 (ggml rounds
        // `(max − min) / d` to 15), so `d` is `(max − m) / 15` up to the rounding of the
        // f32 sum, which the neighbouring halves cover.
        PackedFormat::Q4_1 => {
            let m = lo;
            if f16::from_f32(m).to_f32() != m {
                return None;
            }
            scale_candidates((hi - m) / 15.0).find_map(|d| {
                let mut codes = [0u8; BLOCK];
                for (c, &v) in codes.iter_mut().zip(values) {
                    let q = code(v - m, d, 0.0, 15.0)? as u8;
                    if f32::from(q) * d + m != v {
                        return None;
                    }
                    *c = q;
                }
                Some(Block { d, m, codes })
            })
        }
        // The value of largest magnitude has code ±127 (ggml's `d = amax / 127`).
        PackedFormat::Q8_0 => {
            let amax = lo.abs().max(hi.abs());
            scale_candidates(amax / 127.0).find_map(|d| {
                let mut codes = [0u8; BLOCK];
                for (c, &v) in codes.iter_mut().zip(values) {
                    let q = code(v, d, -128.0, 127.0)? as i8;
                    if f32::from(q) * d != v {
                        return None;
                    }
                    *c = q as u8;
                }
                Some(Block { d, m: 0.0, codes })
            })
        }
    }
}

/// The half nearest `d` and its two neighbours, as `f32`.
fn scale_candidates(d: f32) -> impl Iterator<Item = f32> {
    let bits = f16::from_f32(d).to_bits();
    [bits, bits.wrapping_add(1), bits.wrapping_sub(1)]
        .into_iter()
        .map(|b| f16::from_bits(b).to_f32())
        .filter(|d| d.is_finite() && *d >= 0.0)
}

/// `offset / d` rounded, when it is a code in `[lo, hi]` (0 when `d` is 0 and so is
/// `offset`).
fn code(offset: f32, d: f32, lo: f32, hi: f32) -> Option<i32> {
    let q = if d == 0.0 {
        if offset != 0.0 {
            return None;
        }
        0.0
    } else {
        (offset / d).round()
    };
    (lo..=hi).contains(&q).then_some(q as i32)
}

#[cfg(test)]
pub(super) mod tests {
    use half::f16;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;

    /// Overwrites `values` (blocks of 32 consecutive values) with the values of random
    /// `format` blocks, as ggml's quantisers produce them: a `Q4_1` block holds codes 0
    /// and 15, a `Q8_0` block a code of ±127.
    pub fn block_values(format: PackedFormat, values: &mut [f32], rng: &mut ChaCha8Rng) {
        let half = |v: f32| f16::from_f32(v).to_f32();
        for block in values.chunks_exact_mut(BLOCK) {
            let d = half(rng.random_range(0.002..0.05));
            match format {
                PackedFormat::Q4_1 => {
                    let m = half(rng.random_range(-0.4..0.0));
                    for (j, v) in block.iter_mut().enumerate() {
                        let q = match j {
                            3 => 0,
                            17 => 15,
                            _ => rng.random_range(0..16u8),
                        };
                        *v = f32::from(q) * d + m;
                    }
                }
                PackedFormat::Q8_0 => {
                    for (j, v) in block.iter_mut().enumerate() {
                        let q = if j == 5 {
                            -127
                        } else {
                            rng.random_range(-127..=127i8)
                        };
                        *v = f32::from(q) * d;
                    }
                }
            }
        }
    }

    fn pack_rows(values: &[f32], rows: usize, cols: usize) -> Option<PackedMatrix> {
        PackedMatrix::pack_exact(rows, cols, |range, buffer| {
            buffer.copy_from_slice(&values[range.start * cols..range.end * cols]);
        })
    }

    fn unpack_all(p: &PackedMatrix) -> Vec<f32> {
        (0..p.rows()).flat_map(|r| p.unpack_row(r)).collect()
    }

    #[test]
    fn block_values_pack_in_their_format_and_unpack_bit_for_bit() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        // 130 rows: more than two parallel chunks of 64, the last one short.
        let (rows, cols) = (130, 96);
        for format in [PackedFormat::Q4_1, PackedFormat::Q8_0] {
            let mut values = vec![0.0; rows * cols];
            block_values(format, &mut values, &mut rng);
            let packed = pack_rows(&values, rows, cols).unwrap();
            assert_eq!(packed.format(), format);
            let back = unpack_all(&packed);
            // Bit for bit, but for the sign of a zero `Q8_0` value (`q·d + 0`).
            assert!(
                values
                    .iter()
                    .zip(&back)
                    .all(|(a, b)| a.to_bits() == b.to_bits() || a == b)
            );
            assert_eq!(values, back);
            // Per block: d and m, then 4-bit codes in 4 words or 8-bit ones in 8; the rows
            // padded to 144, a multiple of 16.
            let per_block = match format {
                PackedFormat::Q4_1 => 4 + 4 + 16,
                PackedFormat::Q8_0 => 4 + 4 + 32,
            };
            assert_eq!(packed.byte_len(), 144 * cols / 32 * per_block);
        }
    }

    #[test]
    fn hand_made_blocks_give_their_codes() {
        // Q4_1: d = 0.5, m = −1: values −1 + 0.5·q for q = j mod 16.
        let q4: Vec<f32> = (0..32).map(|j| -1.0 + 0.5 * (j % 16) as f32).collect();
        let p = pack_rows(&q4, 1, 32).unwrap();
        assert_eq!(p.format(), PackedFormat::Q4_1);
        assert_eq!((p.scales[0], p.mins[0]), (0.5, -1.0));
        // Codes 0..7 in the first word, lowest nibble first; lanes 1–15 are padding.
        assert_eq!(p.words[0], 0x7654_3210);
        assert_eq!(p.words[1], 0);
        assert_eq!(p.unpack_row(0), q4);
        // Q8_0: codes −127, −126, … (not a Q4_1 block: 32 distinct values).
        let q8: Vec<f32> = (0..32).map(|j| 0.25 * (j as f32 - 127.0)).collect();
        let p = pack_rows(&q8, 1, 32).unwrap();
        assert_eq!(p.format(), PackedFormat::Q8_0);
        assert_eq!(p.scales[0], 0.25);
        // −127 + 128 = 1, −126 + 128 = 2, … one byte each, lowest first.
        assert_eq!(p.words[0], 0x0403_0201);
        assert_eq!(p.unpack_row(0), q8);
    }

    #[test]
    fn values_that_no_block_holds_are_not_packed() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut values = vec![0.0; 4 * 64];
        block_values(PackedFormat::Q4_1, &mut values, &mut rng);
        assert!(pack_rows(&values, 4, 64).is_some());
        // One value in the last row nudged by one ulp: no format reproduces it.
        let last = values.len() - 7;
        values[last] = f32::from_bits(values[last].to_bits() + 1);
        assert!(pack_rows(&values, 4, 64).is_none());
        // Random floats, a width that is not whole blocks, non-finite values.
        let random: Vec<f32> = (0..64).map(|_| rng.random_range(-1.0..1.0)).collect();
        assert!(pack_rows(&random, 2, 32).is_none());
        assert!(pack_rows(&[0.5; 48], 1, 48).is_none());
        let mut nan = vec![0.5; 32];
        nan[4] = f32::NAN;
        assert!(pack_rows(&nan, 1, 32).is_none());
        // A block of equal values is a Q4_1 block with d = 0.
        let p = pack_rows(&[0.5; 32], 1, 32).unwrap();
        assert_eq!(unpack_all(&p), vec![0.5; 32]);
    }
}
