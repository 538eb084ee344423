//! Policies: the [`Policy`] trait the trainer uses, the embedded [`TinyLm`], and the
//! conversion between Burn modules and [`fedmoa_core::ParamSet`].

mod params;
mod policy;
mod tiny_lm;

pub use params::{load_param_set, to_param_set};
pub use policy::Policy;
pub use tiny_lm::{TinyLm, TinyLmConfig};
