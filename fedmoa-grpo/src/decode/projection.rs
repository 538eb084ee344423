//! [`Projection`]: a decode layer's matrix product, over dense `f32` weights or packed
//! frozen ones.

use burn::nn::Linear;
use burn::prelude::*;

use super::packed_cache::PackedCache;
use super::packed_projection::PackedProjection;
use crate::layers::linear;

/// Rows up to which a packed projection multiplies on the host; wider inputs (a prefill of
/// many prompt tokens) are bound by arithmetic, not by bytes, and take Burn's matmul over
/// the model's own `f32` weights.
pub(super) const PACKED_MAX_ROWS: usize = 32;

/// A projection of the decode layout: dense `f32` with adapters merged, or packed frozen
/// weights with adapters unmerged.
#[derive(Debug, Clone)]
pub(super) enum Projection {
    /// `[out, in]`, multiplied as `W·xᵀ` ([`project`]).
    Dense(Tensor<2>),
    /// Packed blocks, multiplied on the host for up to [`PACKED_MAX_ROWS`] rows.
    Packed {
        /// The frozen weights in blocks, adapters apart.
        packed: PackedProjection,
        /// The same projection over the model's `f32` weights, for wider inputs.
        wide: WideProjection,
    },
}

/// The `f32` form of a packed projection, sharing the model's weights.
#[derive(Debug, Clone)]
pub(super) enum WideProjection {
    /// Burn `Linear` layers (`[in, out]`, adapters unmerged), outputs side by side.
    Linears(Vec<Linear>),
    /// A weight laid out `[out, in]` (a tied embedding as the head).
    OutIn(Box<Tensor<2>>),
}

impl Projection {
    /// The projections `layers` side by side: packed (through the cache `pack`) when it is
    /// given and their frozen weights are exactly block values, dense otherwise.
    pub fn new(layers: &[&Linear], pack: Option<&PackedCache>) -> Self {
        match pack.and_then(|cache| PackedProjection::from_linears(layers, cache)) {
            Some(packed) => Self::Packed {
                packed,
                wide: WideProjection::Linears(layers.iter().map(|&l| l.clone()).collect()),
            },
            None => Self::Dense(Tensor::cat(
                layers.iter().map(|l| out_in(l.weight.val())).collect(),
                0,
            )),
        }
    }

    /// A weight laid out `[out, in]`: packed (through the cache `pack`) when it is given
    /// and the weight is exactly block values, dense otherwise.
    pub fn from_out_in(weight: Tensor<2>, pack: Option<&PackedCache>) -> Self {
        match pack.and_then(|cache| PackedProjection::from_out_in(&weight, cache)) {
            Some(packed) => Self::Packed {
                packed,
                wide: WideProjection::OutIn(Box::new(weight)),
            },
            None => Self::Dense(weight),
        }
    }

    /// `x·W`.
    ///
    /// # Shapes
    /// `x: [M, in]` → `[M, out]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        match self {
            Self::Dense(w) => project(x, w),
            Self::Packed { packed, .. } if x.dims()[0] <= PACKED_MAX_ROWS => packed.forward(x),
            Self::Packed {
                wide: WideProjection::Linears(layers),
                ..
            } => Tensor::cat(layers.iter().map(|l| linear(l, x.clone())).collect(), 1),
            Self::Packed {
                wide: WideProjection::OutIn(w),
                ..
            } => project(x, w),
        }
    }

    /// The packed weights, when the projection has them.
    pub fn packed(&self) -> Option<&PackedProjection> {
        match self {
            Self::Packed { packed, .. } => Some(packed),
            Self::Dense(_) => None,
        }
    }

    /// Bytes of weights a step of up to [`PACKED_MAX_ROWS`] rows reads.
    pub fn byte_len(&self) -> usize {
        match self {
            Self::Dense(w) => 4 * w.dims().iter().product::<usize>(),
            Self::Packed { packed, .. } => packed.byte_len(),
        }
    }
}

/// `x·W` for a weight held transposed as `[out, in]`: `(W·xᵀ)ᵀ`.
///
/// # Shapes
/// `x: [M, in]`, `w: [out, in]` → `[M, out]`.
pub(super) fn project(x: Tensor<2>, w: &Tensor<2>) -> Tensor<2> {
    w.clone().matmul(x.transpose()).transpose()
}

/// A contiguous `[out, in]` copy of a Burn `Linear` weight (`[in, out]`).
pub(super) fn out_in(weight: Tensor<2>) -> Tensor<2> {
    let device = weight.device();
    Tensor::from_data(weight.transpose().into_data(), &device)
}
