//! Per-token log-probabilities and entropies from logits.
//!
//! The logits should already be divided by the sampling temperature (as TRL does), so that the
//! log-probs describe the distribution the completions were sampled from.

use burn::prelude::*;
use burn::tensor::activation::log_softmax;

use super::error::GrpoInputError;

/// `log π(target | context)` for every position.
///
/// The same operations as Burn's `log_softmax` followed by a gather, in the same order
/// (shift by the detached row maximum, then subtract `ln Σ exp` of the shifted row), but the
/// subtraction runs on the gathered targets only: no `[B, T, V]` output is formed, and the
/// backward reduces no `[B, T, V]` gradient. The values and gradients are those of
/// `log_softmax(logits).gather(targets)`, bit for bit (tested).
///
/// # Shapes
/// `logits: [B, T, V]`, `targets: [B, T]` (token ids < V) → `[B, T]`.
///
/// # Errors
/// [`GrpoInputError::Shape`] when `targets` is not `[B, T]`.
pub fn token_logprobs(
    logits: Tensor<3>,
    targets: Tensor<2, Int>,
) -> Result<Tensor<2>, GrpoInputError> {
    check_targets(&logits, &targets)?;
    let max = logits.clone().detach().max_dim(2);
    let shifted = logits - max;
    let log_sum_exp = shifted.clone().exp().sum_dim(2).log();
    Ok((shifted.gather(2, targets.unsqueeze_dim::<3>(2)) - log_sum_exp).squeeze_dim::<2>(2))
}

/// [`token_logprobs`] (the same values and gradients, bit for bit) and, detached, the
/// entropy of every position's distribution, from the same exponentials.
///
/// With `s` the logits shifted by their row maximum, `H = ln Σ eˢ − Σ eˢ·s / Σ eˢ`: the
/// entropy costs one product and one sum over `[B, T, V]`, where [`token_entropy`] runs
/// a log-softmax and a second exponential of its own. It equals [`token_entropy`] up to
/// float rounding.
///
/// # Shapes
/// `logits: [B, T, V]`, `targets: [B, T]` → (`[B, T]`, `[B, T]`).
///
/// # Errors
/// [`GrpoInputError::Shape`] when `targets` is not `[B, T]`.
pub fn token_logprobs_and_entropy(
    logits: Tensor<3>,
    targets: Tensor<2, Int>,
) -> Result<(Tensor<2>, Tensor<2>), GrpoInputError> {
    check_targets(&logits, &targets)?;
    let max = logits.clone().detach().max_dim(2);
    let shifted = logits - max;
    let exp = shifted.clone().exp();
    let sum_exp = exp.clone().sum_dim(2);
    let log_sum_exp = sum_exp.clone().log();
    let weighted = (exp.detach() * shifted.clone().detach()).sum_dim(2);
    let entropy = (log_sum_exp.clone().detach() - weighted / sum_exp.detach()).squeeze_dim::<2>(2);
    let logprobs =
        (shifted.gather(2, targets.unsqueeze_dim::<3>(2)) - log_sum_exp).squeeze_dim::<2>(2);
    Ok((logprobs, entropy))
}

/// `logits` divided by the sampling temperature (`inv_temp` = 1 / T), as TRL does before
/// its log-probs; at T = 1 the logits themselves, with no pass over `[B, T, V]` in the
/// forward or the backward (multiplying by 1 changes no bit).
pub fn tempered_logits(logits: Tensor<3>, inv_temp: f64) -> Tensor<3> {
    if inv_temp == 1.0 {
        logits
    } else {
        logits.mul_scalar(inv_temp)
    }
}

/// [`GrpoInputError::Shape`] unless `targets` is `[B, T]` for `logits: [B, T, V]`.
fn check_targets(logits: &Tensor<3>, targets: &Tensor<2, Int>) -> Result<(), GrpoInputError> {
    let [b, t, _] = logits.dims();
    let got = targets.dims();
    if got != [b, t] {
        return Err(GrpoInputError::Shape {
            what: "targets",
            expected: vec![b, t],
            got: got.to_vec(),
        });
    }
    Ok(())
}

/// Entropy `−Σ_v p_v log p_v` of the next-token distribution at every position.
///
/// # Shapes
/// `logits: [B, T, V]` → `[B, T]`.
pub fn token_entropy(logits: Tensor<3>) -> Tensor<2> {
    let logp = log_softmax(logits, 2);
    (logp.clone().exp() * logp)
        .sum_dim(2)
        .squeeze_dim::<2>(2)
        .neg()
}

/// Mean of `values` over the positions where `mask` is 1 (0 when the mask is empty).
///
/// # Shapes
/// `values, mask: [B, T]` → `[1]`.
///
/// # Errors
/// [`GrpoInputError::Shape`] when the shapes differ.
pub fn masked_mean(values: Tensor<2>, mask: Tensor<2>) -> Result<Tensor<1>, GrpoInputError> {
    if values.dims() != mask.dims() {
        return Err(GrpoInputError::Shape {
            what: "mask",
            expected: values.dims().to_vec(),
            got: mask.dims().to_vec(),
        });
    }
    let count = mask.clone().sum().clamp_min(1.0);
    Ok((values * mask).sum() / count)
}

/// Mean next-token entropy over the completion tokens (a logging statistic).
///
/// # Shapes
/// `logits: [B, T, V]`, `mask: [B, T]` → `[1]`.
///
/// # Errors
/// [`GrpoInputError::Shape`] when `mask` is not `[B, T]`.
pub fn entropy(logits: Tensor<3>, mask: Tensor<2>) -> Result<Tensor<1>, GrpoInputError> {
    masked_mean(token_entropy(logits), mask)
}

#[cfg(test)]
mod tests {
    use burn::tensor::Distribution;

    use super::*;

    fn dev() -> Device {
        Device::flex()
    }

    fn values(t: Tensor<2>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn logprobs_pick_the_target_of_a_log_softmax() {
        // Row (0, ln 3): softmax = (1/4, 3/4). Row (ln 2, ln 2): (1/2, 1/2).
        let ln3 = 3f32.ln();
        let ln2 = 2f32.ln();
        let logits = Tensor::<3>::from_floats([[[0.0, ln3], [ln2, ln2]]], &dev());
        let targets = Tensor::<2, Int>::from_ints([[1, 0]], &dev());
        let lp = values(token_logprobs(logits, targets).unwrap());
        assert!((lp[0] - 0.75f32.ln()).abs() < 1e-6, "{lp:?}");
        assert!((lp[1] - 0.5f32.ln()).abs() < 1e-6, "{lp:?}");
    }

    #[test]
    fn logprobs_equal_the_gathered_log_softmax_bit_for_bit() {
        let adev = Device::flex().autodiff();
        let logits =
            Tensor::<3>::random([3, 5, 301], Distribution::Normal(0.0, 4.0), &adev).require_grad();
        let targets = Tensor::<2, Int>::random([3, 5], Distribution::Uniform(0.0, 301.0), &adev);
        let weights = Tensor::<2>::random([3, 5], Distribution::Normal(0.0, 1.0), &adev);
        let ours = token_logprobs(logits.clone(), targets.clone()).unwrap();
        let burns = log_softmax(logits.clone(), 2)
            .gather(2, targets.unsqueeze_dim::<3>(2))
            .squeeze_dim::<2>(2);
        let bits =
            |t: Tensor<2>| -> Vec<u32> { values(t.detach()).iter().map(|v| v.to_bits()).collect() };
        assert_eq!(bits(ours.clone()), bits(burns.clone()));
        let g_ours = (ours * weights.clone()).sum().backward();
        let g_burns = (burns * weights).sum().backward();
        let grad_bits = |t: Tensor<3>| -> Vec<u32> {
            let v = t.into_data().try_to_vec::<f32>().unwrap();
            v.iter().map(|v| v.to_bits()).collect()
        };
        let (ours, burns) = (
            logits.grad(&g_ours).unwrap(),
            logits.grad(&g_burns).unwrap(),
        );
        assert!(ours.clone().abs().max().into_scalar::<f32>() > 0.1);
        assert_eq!(grad_bits(ours), grad_bits(burns));
    }

    #[test]
    fn logprobs_reject_mismatched_targets() {
        let logits = Tensor::<3>::zeros([2, 3, 4], &dev());
        let targets = Tensor::<2, Int>::zeros([2, 2], &dev());
        assert_eq!(
            token_logprobs(logits, targets).unwrap_err(),
            GrpoInputError::Shape {
                what: "targets",
                expected: vec![2, 3],
                got: vec![2, 2]
            }
        );
    }

    #[test]
    fn entropy_of_known_distributions() {
        // Uniform over 3: ln 3 = 1.098612. p = (1/4, 1/4, 1/2) from logits (0, 0, ln 2):
        // −(2 · ¼ ln ¼ + ½ ln ½) = ½ ln 4 + ½ ln 2 = 1.5 ln 2 = 1.039721.
        let ln2 = 2f32.ln();
        let logits = Tensor::<3>::from_floats([[[5.0, 5.0, 5.0], [0.0, 0.0, ln2]]], &dev());
        let h = values(token_entropy(logits.clone()));
        assert!((h[0] - 3f32.ln()).abs() < 1e-6, "{h:?}");
        assert!((h[1] - 1.5 * ln2).abs() < 1e-6, "{h:?}");
        // Masked mean over both positions: (1.098612 + 1.039721) / 2 = 1.069167; over the
        // second only: 1.039721.
        let both = Tensor::<2>::from_floats([[1.0, 1.0]], &dev());
        let second = Tensor::<2>::from_floats([[0.0, 1.0]], &dev());
        let mean: f32 = entropy(logits.clone(), both).unwrap().into_scalar();
        assert!((mean - 1.0691667).abs() < 1e-6, "{mean}");
        let mean: f32 = entropy(logits, second).unwrap().into_scalar();
        assert!((mean - 1.5 * ln2).abs() < 1e-6, "{mean}");
    }

    #[test]
    fn fused_entropy_matches_by_hand_and_the_logprobs_stay_bit_for_bit() {
        // The two rows of `entropy_of_known_distributions`: ln 3 and 1.5 ln 2.
        let ln2 = 2f32.ln();
        let logits = Tensor::<3>::from_floats([[[5.0, 5.0, 5.0], [0.0, 0.0, ln2]]], &dev());
        let targets = Tensor::<2, Int>::from_ints([[0, 2]], &dev());
        let (_, h) = token_logprobs_and_entropy(logits, targets).unwrap();
        let h = values(h);
        assert!((h[0] - 3f32.ln()).abs() < 1e-6, "{h:?}");
        assert!((h[1] - 1.5 * ln2).abs() < 1e-6, "{h:?}");
        // Wide random rows: the entropy agrees with `token_entropy`, and the log-probs and
        // their gradients are those of `token_logprobs`, bit for bit.
        let adev = Device::flex().autodiff();
        let logits =
            Tensor::<3>::random([3, 5, 301], Distribution::Normal(0.0, 4.0), &adev).require_grad();
        let targets = Tensor::<2, Int>::random([3, 5], Distribution::Uniform(0.0, 301.0), &adev);
        let weights = Tensor::<2>::random([3, 5], Distribution::Normal(0.0, 1.0), &adev);
        let (fused, h) = token_logprobs_and_entropy(logits.clone(), targets.clone()).unwrap();
        let plain = token_logprobs(logits.clone(), targets).unwrap();
        let reference = values(token_entropy(logits.clone().detach()));
        for (ours, theirs) in values(h).iter().zip(&reference) {
            assert!(
                (ours - theirs).abs() < 1e-5 * theirs.abs().max(1.0),
                "{ours} vs {theirs}"
            );
        }
        let bits = |v: Vec<f32>| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(
            bits(values(fused.clone().detach())),
            bits(values(plain.clone().detach()))
        );
        let g_fused = (fused * weights.clone()).sum().backward();
        let g_plain = (plain * weights).sum().backward();
        let grad = |g| {
            let v = logits
                .grad(&g)
                .unwrap()
                .into_data()
                .try_to_vec::<f32>()
                .unwrap();
            bits(v)
        };
        assert_eq!(grad(g_fused), grad(g_plain));
    }

    #[test]
    fn temperature_one_leaves_the_logits_as_they_are() {
        let logits = Tensor::<3>::from_floats([[[0.3, -1.7]]], &dev());
        assert_eq!(
            values(tempered_logits(logits.clone(), 1.0).squeeze_dim::<2>(0)),
            vec![0.3, -1.7]
        );
        let halved = values(tempered_logits(logits, 0.5).squeeze_dim::<2>(0));
        assert_eq!(halved, vec![0.15, -0.85]);
    }

    #[test]
    fn masked_mean_of_empty_mask_is_zero() {
        let v = Tensor::<2>::from_floats([[3.0, 4.0]], &dev());
        let m = Tensor::<2>::zeros([1, 2], &dev());
        let mean: f32 = masked_mean(v.clone(), m).unwrap().into_scalar();
        assert_eq!(mean, 0.0);
        let bad = Tensor::<2>::zeros([2, 1], &dev());
        assert!(matches!(
            masked_mean(v, bad),
            Err(GrpoInputError::Shape { what: "mask", .. })
        ));
    }
}
