//! The FedProx proximal term, added to the gradients of the trainable parameters.

use std::collections::BTreeMap;

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::prelude::*;
use fedmoa_core::ParamSet;

/// The global parameters of a round, kept on the device for the proximal term.
#[derive(Debug, Clone)]
pub struct ProximalAnchor {
    tensors: BTreeMap<String, Tensor<1>>,
    mu: f32,
}

impl ProximalAnchor {
    /// Uploads `global` once; `mu` is FedProx's coefficient.
    pub fn new(global: &ParamSet, mu: f32, device: &Device) -> Self {
        let tensors = global
            .iter()
            .map(|(name, t)| {
                let data = TensorData::new(t.data().to_vec(), [t.numel()]);
                (name.to_string(), Tensor::<1>::from_data(data, device))
            })
            .collect();
        Self { tensors, mu }
    }

    /// Adds `μ (θ − θ_global)`, the gradient of `μ/2 ‖θ − θ_global‖²`, to `grads`.
    pub fn add_to<M: Module>(&self, module: &M, grads: &mut GradientsParams) {
        let mut v = Proximal {
            anchor: self,
            grads,
            path: Vec::new(),
        };
        module.visit(&mut v);
    }
}

struct Proximal<'a> {
    anchor: &'a ProximalAnchor,
    grads: &'a mut GradientsParams,
    path: Vec<String>,
}

impl ModuleVisitor for Proximal<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let Some(global) = self.anchor.tensors.get(&self.path.join(".")) else {
            return;
        };
        let theta = param.val().detach().without_autodiff();
        let dims = theta.dims();
        let global = global.clone().to_device(&theta.device()).reshape(dims);
        let pull = (theta - global).mul_scalar(self.anchor.mu);
        let grad = match self.grads.remove::<D>(param.id) {
            Some(g) => g + pull,
            None => pull,
        };
        self.grads.register(param.id, grad);
    }
}
