//! [`linear`]: a bias-free projection that keeps LoRA adapters unmerged.

use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::module;

/// `x·W` for `layer`, with a LoRA adapter computed as `x·W₀ + s·(x·A)·B`.
///
/// Burn's [`Linear::forward`] reads the weight through `Param::val`, which materialises
/// `W₀ + s·A·B` as a dense matrix in every forward; its backward then forms the dense
/// gradient of that matrix (as costly as the input gradient) before reducing it to `A` and
/// `B`. Here the frozen `W₀` takes part as a constant, so the backward computes the input
/// gradient and the factors' small gradients only. Without an adapter this is
/// [`Linear::forward`].
///
/// # Shapes
/// `x: [..., d_in]` → `[..., d_out]`.
pub fn linear<const D: usize>(layer: &Linear, x: Tensor<D>) -> Tensor<D> {
    match layer.weight.adapter() {
        Some(adapter) => {
            let bias = layer.bias.as_ref().map(|b| b.val());
            let base = module::linear(x.clone(), layer.weight.base(), bias);
            let low = module::linear(x, adapter.a.val(), None);
            base + module::linear(low, adapter.b.val(), None).mul_scalar(adapter.scale)
        }
        None => layer.forward(x),
    }
}

#[cfg(test)]
mod tests {
    use burn::module::Lora;
    use burn::nn::LinearConfig;
    use burn::tensor::Distribution;

    use super::*;
    use crate::model::{load_param_set, to_param_set};

    /// A 3 → 2 projection with a rank-2 adapter whose factors are both non-zero.
    fn adapted(device: &Device) -> Linear {
        let lin = LinearConfig::new(3, 2)
            .with_bias(false)
            .init(device)
            .apply_lora(Lora::new(2, 4.0));
        let mut params = to_param_set(&lin, &|p| p.contains(".lora.")).unwrap();
        let mut next = 0.0f32;
        for (_, t) in params.iter_mut() {
            for v in t.data_mut() {
                next += 0.37;
                *v = (next * 7.0).sin();
            }
        }
        load_param_set(lin, &params, &|p| p.contains(".lora.")).unwrap()
    }

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec().unwrap()
    }

    #[test]
    fn unmerged_adapter_gives_the_merged_output_and_factor_gradients() {
        let dev = Device::flex().autodiff();
        let lin = adapted(&dev);
        let adapter = lin.weight.adapter().unwrap();
        assert_eq!(adapter.scale, 2.0);
        let x =
            Tensor::<3>::random([2, 4, 3], Distribution::Uniform(-1.0, 1.0), &dev).require_grad();
        let r = Tensor::<3>::random([2, 4, 2], Distribution::Uniform(-1.0, 1.0), &dev);
        // Burn's own forward materialises W₀ + s·A·B: the reference.
        let ours = linear(&lin, x.clone());
        let merged = lin.forward(x.clone());
        let d: f32 = (ours.clone() - merged.clone()).abs().max().into_scalar();
        assert!(d < 1e-5, "{d}");
        let g_ours = (ours * r.clone()).sum().backward();
        let g_merged = (merged * r).sum().backward();
        for (name, ours, merged) in [
            (
                "a",
                adapter.a.val().grad(&g_ours),
                adapter.a.val().grad(&g_merged),
            ),
            (
                "b",
                adapter.b.val().grad(&g_ours),
                adapter.b.val().grad(&g_merged),
            ),
        ] {
            let (ours, merged) = (values(ours.unwrap()), values(merged.unwrap()));
            assert!(merged.iter().any(|g| g.abs() > 1e-3), "{name}: {merged:?}");
            for (o, m) in ours.iter().zip(&merged) {
                assert!((o - m).abs() < 1e-4, "{name}: {ours:?} vs {merged:?}");
            }
        }
        let (gx, gx_merged) = (x.grad(&g_ours).unwrap(), x.grad(&g_merged).unwrap());
        let d: f32 = (gx - gx_merged).abs().max().into_scalar();
        assert!(d < 1e-5, "{d}");
    }

    #[test]
    fn without_an_adapter_it_is_the_plain_forward() {
        let dev = Device::flex();
        let lin = LinearConfig::new(3, 2).init(&dev);
        let x = Tensor::<2>::from_floats([[1.0, -2.0, 0.5]], &dev);
        assert_eq!(values(linear(&lin, x.clone())), values(lin.forward(x)));
    }
}
