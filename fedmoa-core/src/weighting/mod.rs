//! Objective weighters (implementations of [`crate::ObjectiveWeighter`]).
//!
//! - [`Hypergradient`]: FedMOA's hypergradient descent on the weights (the default).
//! - [`Fixed`]: static weights, the FedAvg baseline.
//! - [`GradientInfluence`]: same-step Gram-matrix rule.
//! - [`SaturationAware`]: weights shrunk by reward saturation.
//!
//! Pick one in a config with [`WeighterConfig`] and `build` it for a client's number of
//! objectives. The adaptive weighters keep their weights on the floored simplex
//! `{Σ w = 1, w_k ≥ w_min, w_0 ≥ w0_min}` and persist them with `state`/`load_state`.
//! `docs/WEIGHTING.md` explains each rule, its cost and when to use it.

mod config;
mod fixed;
mod floors;
mod gradient_influence;
mod hypergradient;
mod registry;
mod saturation_aware;
mod signals;
mod simplex;
mod state;

#[cfg(test)]
mod contract_tests;
#[cfg(test)]
mod dynamics_tests;
#[cfg(test)]
mod stream;
#[cfg(test)]
mod test_util;

pub use config::WeighterConfig;
pub use fixed::{Fixed, FixedConfig};
pub use floors::{DEFAULT_W_MIN, DEFAULT_W0_MIN};
pub use gradient_influence::{DEFAULT_ETA, GradientInfluence, GradientInfluenceConfig};
pub use hypergradient::{
    DEFAULT_BETA_W, DotProduct, Hypergradient, HypergradientConfig, UpdateRule,
};
pub use registry::{WeighterConstructor, WeighterContext, WeighterRegistry};
pub use saturation_aware::{
    DEFAULT_GAMMA, DEFAULT_SMOOTHING, SaturationAware, SaturationAwareConfig,
};
