//! The update shared by FedAdagrad, FedAdam and FedYogi; they differ only in how the
//! second moment `v` follows the squared pseudo-gradient.

use fedmoa_core::{AggError, Aggregated, AggregatorState, ParamSet};

use super::{check_fits, load, pseudo_gradient, save};
use crate::batch::UpdateBatch;

/// How `v` is updated from its old value, the squared pseudo-gradient `g²` and `β2`.
pub(super) type SecondMoment = fn(v: f32, g2: f32, beta2: f32) -> f32;

/// Hyper-parameters and state of an adaptive server optimizer (Reddi et al., Algorithm 2):
///
/// ```text
/// m ← β1·m + (1 − β1)·Δ
/// v ← rule(v, Δ², β2)            (v starts at τ², m at 0)
/// θ ← θ + η·m / (√v + τ)
/// ```
///
/// No bias correction, as in the paper.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Adaptive {
    pub(super) server_lr: f64,
    pub(super) beta1: f64,
    pub(super) beta2: f64,
    pub(super) tau: f64,
    m: Option<ParamSet>,
    v: Option<ParamSet>,
    step: u64,
}

impl Adaptive {
    pub(super) fn new(server_lr: f64, beta1: f64, beta2: f64, tau: f64) -> Self {
        Self {
            server_lr,
            beta1,
            beta2,
            tau,
            m: None,
            v: None,
            step: 0,
        }
    }

    /// Number of server steps taken so far.
    pub(super) fn step(&self) -> u64 {
        self.step
    }

    pub(super) fn aggregate(
        &mut self,
        global: &ParamSet,
        mut batch: UpdateBatch<'_>,
        rule: SecondMoment,
    ) -> Result<Aggregated, AggError> {
        check_fits(global, &[("m", &self.m), ("v", &self.v)])?;
        let (delta, weights) = pseudo_gradient(global, &mut batch)?;
        let tau = self.tau as f32;
        let m = self.m.get_or_insert_with(|| global.zeros_like());
        let v = self.v.get_or_insert_with(|| {
            let mut v = global.zeros_like();
            for (_, t) in v.iter_mut() {
                t.data_mut().fill(tau * tau);
            }
            v
        });
        let (b1, b2, lr) = (self.beta1 as f32, self.beta2 as f32, self.server_lr as f32);
        let mut params = global.clone();
        let tensors = params
            .iter_mut()
            .zip(delta.iter())
            .zip(m.iter_mut())
            .zip(v.iter_mut());
        for ((((_, p), (_, g)), (_, m)), (_, v)) in tensors {
            let lanes = p
                .data_mut()
                .iter_mut()
                .zip(g.data())
                .zip(m.data_mut())
                .zip(v.data_mut());
            for (((p, &g), m), v) in lanes {
                *m = b1 * *m + (1.0 - b1) * g;
                *v = rule(*v, g * g, b2);
                *p += lr * *m / (v.sqrt() + tau);
            }
        }
        self.step += 1;
        Ok(batch.finish(params, &weights))
    }

    pub(super) fn state(&self) -> AggregatorState {
        save(self.step, &[("m", &self.m), ("v", &self.v)])
    }

    pub(super) fn load_state(&mut self, state: &AggregatorState) -> Result<(), AggError> {
        let (step, mut moments) = load(state, &["m", "v"])?;
        let v = moments.pop().flatten();
        let m = moments.pop().flatten();
        if let Some(v) = &v
            && v.iter().any(|(_, t)| t.data().iter().any(|x| *x < 0.0))
        {
            return Err(AggError::BadState(
                "moment \"v\" has a negative value".into(),
            ));
        }
        (self.step, self.m, self.v) = (step, m, v);
        Ok(())
    }
}

/// Implements the public face of an adaptive server optimizer `$ty` whose `inner` field is
/// an [`Adaptive`]: its `step()` accessor and its [`fedmoa_core::Aggregator`] (named
/// `$name`, screening the updates' metadata) and [`crate::BatchAggregator`] impls, which
/// run [`Adaptive`] with the second-moment rule `$rule`.
macro_rules! adaptive_optimizer {
    ($ty:ident, $name:literal, $rule:path) => {
        impl $ty {
            /// Number of server steps taken (restored by `load_state`).
            pub fn step(&self) -> u64 {
                self.inner.step()
            }
        }

        crate::batch::aggregator_via_batch!($ty, $name {
            fn state(&self) -> ::fedmoa_core::AggregatorState {
                self.inner.state()
            }

            fn load_state(
                &mut self,
                state: &::fedmoa_core::AggregatorState,
            ) -> Result<(), ::fedmoa_core::AggError> {
                self.inner.load_state(state)
            }
        });

        impl crate::batch::BatchAggregator for $ty {
            fn aggregate_batch(
                &mut self,
                global: &::fedmoa_core::ParamSet,
                batch: crate::batch::UpdateBatch<'_>,
            ) -> Result<::fedmoa_core::Aggregated, ::fedmoa_core::AggError> {
                self.inner.aggregate(global, batch, $rule)
            }
        }
    };
}

pub(super) use adaptive_optimizer;
