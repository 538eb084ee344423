//! SwiGLU feed-forward block: `down(silu(gate(x)) ⊙ up(x))`.

use burn::nn::{Initializer, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::silu;

use super::linear;

/// Sizes of a [`SwiGlu`] block.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SwiGluConfig {
    /// Model width.
    pub d_model: usize,
    /// Hidden width of the gated projection.
    pub d_hidden: usize,
    /// Standard deviation of the normal weight initialiser.
    pub init_std: f64,
}

impl SwiGluConfig {
    /// Builds the block with normal-initialised, bias-free projections.
    pub fn init(&self, device: &Device) -> SwiGlu {
        let lin = |i, o| {
            LinearConfig::new(i, o)
                .with_bias(false)
                .with_initializer(Initializer::Normal {
                    mean: 0.0,
                    std: self.init_std,
                })
                .init(device)
        };
        SwiGlu {
            gate: lin(self.d_model, self.d_hidden),
            up: lin(self.d_model, self.d_hidden),
            down: lin(self.d_hidden, self.d_model),
        }
    }
}

/// Gated feed-forward block (Shazeer 2020, "GLU Variants Improve Transformer").
#[derive(Module, Debug)]
pub struct SwiGlu {
    /// Gate projection `[d_model, d_hidden]`.
    pub gate: Linear,
    /// Up projection `[d_model, d_hidden]`.
    pub up: Linear,
    /// Down projection `[d_hidden, d_model]`.
    pub down: Linear,
}

impl SwiGlu {
    /// # Shapes
    /// `x: [B, T, d_model]` → `[B, T, d_model]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let gated = silu(linear(&self.gate, x.clone())) * linear(&self.up, x);
        linear(&self.down, gated)
    }
}

#[cfg(test)]
mod tests {
    use burn::module::Param;

    use super::*;

    #[test]
    fn matches_hand_computed_swiglu() {
        // d_model 1, d_hidden 1, all weights 1 except down = 2:
        // x = 1: silu(1) = 1/(1+e^-1) = 0.7310586; times up(1) = 1; down → 1.4621172.
        let dev = Device::flex();
        let mut m = SwiGluConfig {
            d_model: 1,
            d_hidden: 1,
            init_std: 0.1,
        }
        .init(&dev);
        let one = || Param::from_tensor(Tensor::<2>::from_floats([[1.0]], &dev));
        m.gate.weight = one();
        m.up.weight = one();
        m.down.weight = Param::from_tensor(Tensor::<2>::from_floats([[2.0]], &dev));
        let y: f32 = m
            .forward(Tensor::<3>::from_floats([[[1.0]]], &dev))
            .into_scalar::<f32>();
        assert!((y - 1.462_117_2).abs() < 1e-5, "{y}");
    }
}
