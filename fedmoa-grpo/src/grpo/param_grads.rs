//! A module's gradient as one flat vector, and global-norm gradient clipping.
//!
//! The trainable parameters of a module are its float parameters that require a gradient, in
//! the order [`Module::visit`] meets them (field order, recursively; with LoRA, the frozen base
//! is skipped and the adapter factors come right after it). That order is stable for a given
//! module type, so flat vectors from different steps line up. The module must live on an
//! autodiff device (`Device::flex().autodiff()`, or after `Module::train`), otherwise nothing
//! counts as trainable.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::TensorData;

use super::error::GrpoInputError;

/// Number of trainable scalars: the length of [`flatten_gradients`]' output.
pub fn trainable_len<M: Module>(module: &M) -> usize {
    struct Count(usize);
    impl ModuleVisitor for Count {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if param.is_require_grad() {
                self.0 += param.shape().num_elements();
            }
        }
    }
    let mut count = Count(0);
    module.visit(&mut count);
    count.0
}

/// Concatenates the gradients of `module`'s trainable parameters into one vector; a parameter
/// without a gradient (unused in the loss) contributes zeros.
pub fn flatten_gradients<M: Module>(module: &M, grads: &GradientsParams) -> Vec<f32> {
    struct Flatten<'a> {
        grads: &'a GradientsParams,
        out: Vec<f32>,
    }
    impl ModuleVisitor for Flatten<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if !param.is_require_grad() {
                return;
            }
            let n = param.shape().num_elements();
            match self.grads.get::<D>(param.id) {
                Some(grad) => {
                    let start = self.out.len();
                    self.out.extend(grad.into_data().iter::<f32>().take(n));
                    self.out.resize(start + n, 0.0);
                }
                None => self.out.resize(self.out.len() + n, 0.0),
            }
        }
    }
    let mut flatten = Flatten {
        grads,
        out: Vec::with_capacity(trainable_len(module)),
    };
    module.visit(&mut flatten);
    flatten.out
}

/// The inverse of [`flatten_gradients`]: one gradient tensor per trainable parameter, on the
/// parameter's device without autodiff (where backward puts gradients).
///
/// # Errors
/// [`GrpoInputError::Shape`] when `flat` does not have [`trainable_len`] values.
pub fn unflatten_gradients<M: Module>(
    module: &M,
    flat: &[f32],
) -> Result<GradientsParams, GrpoInputError> {
    let expected = trainable_len(module);
    if flat.len() != expected {
        return Err(GrpoInputError::Shape {
            what: "flat gradient",
            expected: vec![expected],
            got: vec![flat.len()],
        });
    }
    struct Unflatten<'a> {
        flat: &'a [f32],
        offset: usize,
        out: GradientsParams,
    }
    impl ModuleVisitor for Unflatten<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if !param.is_require_grad() {
                return;
            }
            let shape = param.shape();
            let n = shape.num_elements();
            let values = self.flat[self.offset..self.offset + n].to_vec();
            self.offset += n;
            let device = param.device().without_autodiff();
            let grad = Tensor::<D>::from_data(TensorData::new(values, shape), &device);
            self.out.register(param.id, grad);
        }
    }
    let mut unflatten = Unflatten {
        flat,
        offset: 0,
        out: GradientsParams::new(),
    };
    module.visit(&mut unflatten);
    Ok(unflatten.out)
}

/// Global L2 norm of the trainable parameters' gradients (accumulated in f64 across tensors).
pub fn gradient_norm<M: Module>(module: &M, grads: &GradientsParams) -> f64 {
    struct SquaredNorm<'a> {
        grads: &'a GradientsParams,
        total: f64,
    }
    impl ModuleVisitor for SquaredNorm<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(grad) = self.grads.get::<D>(param.id) {
                let squares: f32 = grad.square().sum().into_scalar();
                self.total += f64::from(squares);
            }
        }
    }
    let mut norm = SquaredNorm { grads, total: 0.0 };
    module.visit(&mut norm);
    norm.total.sqrt()
}

/// What [`clip_gradient_norm`] did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClipReport {
    /// Global gradient norm before clipping.
    pub norm: f64,
    /// Factor every gradient was multiplied by (1 when the norm was within bounds).
    pub scale: f64,
}

/// Scales all gradients by `min(1, max_norm / (‖g‖ + 1e-6))`, ‖g‖ being the global norm over
/// every parameter together (as PyTorch's `clip_grad_norm_` and TRL's `max_grad_norm`).
///
/// Burn's own `GradientClippingConfig::Norm` clips each parameter tensor separately, which
/// changes the update direction; this keeps it.
pub fn clip_gradient_norm<M: Module>(
    module: &M,
    mut grads: GradientsParams,
    max_norm: f64,
) -> (GradientsParams, ClipReport) {
    let norm = gradient_norm(module, &grads);
    let scale = (max_norm / (norm + 1e-6)).min(1.0);
    if scale < 1.0 {
        struct Scale<'a> {
            grads: &'a mut GradientsParams,
            scale: f64,
        }
        impl ModuleVisitor for Scale<'_> {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                if let Some(grad) = self.grads.remove::<D>(param.id) {
                    self.grads.register(param.id, grad.mul_scalar(self.scale));
                }
            }
        }
        module.visit(&mut Scale {
            grads: &mut grads,
            scale,
        });
    }
    (grads, ClipReport { norm, scale })
}

#[cfg(test)]
mod tests {
    use burn::nn::{Linear, LinearConfig};

    use super::*;

    /// A 2 → 1 linear layer with weight (0.5, −1)ᵀ and bias 0.25 on the autodiff device.
    fn layer() -> Linear {
        let dev = Device::flex().autodiff();
        let mut linear = LinearConfig::new(2, 1).init(&dev);
        linear.weight =
            Param::from_tensor(Tensor::<2>::from_floats([[0.5], [-1.0]], &dev).require_grad());
        linear.bias = Some(Param::from_tensor(
            Tensor::<1>::from_floats([0.25], &dev).require_grad(),
        ));
        linear
    }

    /// Gradients of `sum(layer(x))` for x = [[3, 4]]: ∂/∂W = xᵀ = (3, 4), ∂/∂b = 1.
    fn grads_of(linear: &Linear) -> GradientsParams {
        let x = Tensor::<2>::from_floats([[3.0, 4.0]], &Device::flex().autodiff());
        let loss = linear.forward(x).sum();
        GradientsParams::from_grads(loss.backward(), linear)
    }

    #[test]
    fn flatten_follows_field_order() {
        let linear = layer();
        assert_eq!(trainable_len(&linear), 3);
        let flat = flatten_gradients(&linear, &grads_of(&linear));
        assert_eq!(flat, vec![3.0, 4.0, 1.0]);
    }

    #[test]
    fn frozen_parameters_are_skipped_and_missing_grads_are_zero() {
        let mut linear = layer();
        linear.weight = linear.weight.set_require_grad(false);
        assert_eq!(trainable_len(&linear), 1);
        assert_eq!(flatten_gradients(&linear, &grads_of(&linear)), vec![1.0]);
        let linear = layer();
        assert_eq!(
            flatten_gradients(&linear, &GradientsParams::new()),
            vec![0.0; 3]
        );
    }

    #[test]
    fn unflatten_round_trips_and_drives_the_optimizer_like_backward_grads() {
        use burn::optim::SgdConfig;
        let linear = layer();
        let grads = grads_of(&linear);
        let flat = flatten_gradients(&linear, &grads);
        let rebuilt = unflatten_gradients(&linear, &flat).unwrap();
        assert_eq!(flatten_gradients(&linear, &rebuilt), flat);
        // SGD with lr 0.1: W = (0.5 − 0.3, −1 − 0.4) = (0.2, −1.4), b = 0.25 − 0.1 = 0.15.
        let mut sgd = SgdConfig::new().init();
        let a = sgd.step(0.1, linear.clone(), grads);
        let mut sgd = SgdConfig::new().init();
        let b = sgd.step(0.1, linear, rebuilt);
        for model in [a, b] {
            let w: Vec<f32> = model.weight.val().into_data().try_to_vec().unwrap();
            let bias: Vec<f32> = model.bias.unwrap().val().into_data().try_to_vec().unwrap();
            assert!(
                (w[0] - 0.2).abs() < 1e-6 && (w[1] + 1.4).abs() < 1e-6,
                "{w:?}"
            );
            assert!((bias[0] - 0.15).abs() < 1e-6, "{bias:?}");
        }
        assert!(matches!(
            unflatten_gradients(&layer(), &[1.0, 2.0]),
            Err(GrpoInputError::Shape { .. })
        ));
    }

    #[test]
    fn global_norm_clipping_by_hand() {
        // ‖(3, 4, 1)‖ = √26 = 5.0990195.
        let linear = layer();
        let grads = grads_of(&linear);
        assert!((gradient_norm(&linear, &grads) - 26f64.sqrt()).abs() < 1e-6);
        // max 1: scale 1 / (5.0990195 + 1e-6) = 0.1961161, clipped (0.5883484, 0.7844645, 0.1961161).
        let (clipped, report) = clip_gradient_norm(&linear, grads, 1.0);
        assert!((report.norm - 26f64.sqrt()).abs() < 1e-6);
        let scale = 1.0 / (26f64.sqrt() + 1e-6);
        assert!((report.scale - scale).abs() < 1e-9);
        let flat = flatten_gradients(&linear, &clipped);
        for (got, raw) in flat.iter().zip([3.0, 4.0, 1.0]) {
            assert!((f64::from(*got) - raw * scale).abs() < 1e-6, "{flat:?}");
        }
        // max 10 > norm: unchanged.
        let (same, report) = clip_gradient_norm(&linear, grads_of(&linear), 10.0);
        assert_eq!(report.scale, 1.0);
        assert_eq!(flatten_gradients(&linear, &same), vec![3.0, 4.0, 1.0]);
    }

    #[test]
    fn lora_adapters_are_the_only_trainable_parameters() {
        use burn::module::Lora;
        // Rank 1 on a 2 → 1 layer: a is [2, 1], b is [1, 1]; the base and bias are frozen.
        let linear = layer().apply_lora(Lora::new(1, 1.0));
        assert_eq!(trainable_len(&linear), 3);
        let grads = grads_of(&linear);
        let flat = flatten_gradients(&linear, &grads);
        assert_eq!(flat.len(), 3);
        // b starts at zero, so ∂/∂a = x · bᵀ = 0 while ∂/∂b = aᵀ xᵀ ≠ 0 in general.
        assert_eq!(&flat[..2], &[0.0, 0.0]);
    }
}
