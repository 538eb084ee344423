//! Burn module ⇄ [`ParamSet`]: trainable float parameters by module path.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;
use fedmoa_core::{ParamError, ParamSet};

use crate::GrpoError;

/// Reads the float parameters of `module` whose path passes `trainable` into a
/// [`ParamSet`] named by their module paths (`blocks.0.attn.wq.weight`).
///
/// # Errors
/// [`GrpoError::Params`] when a path is not a valid tensor name.
pub fn to_param_set<M: Module>(
    module: &M,
    trainable: &dyn Fn(&str) -> bool,
) -> Result<ParamSet, GrpoError> {
    collect(module, trainable, true)
}

/// Loads `params` into the float parameters of `module` whose path passes `trainable`.
///
/// The set must hold exactly the module's trainable parameters with the same shapes
/// (what [`to_param_set`] returns). Values are copied bit for bit; parameter ids, devices
/// and gradient tracking are kept, so optimizer state keyed by id stays valid.
///
/// # Errors
/// [`GrpoError::Params`] on a layout mismatch or a non-finite value.
pub fn load_param_set<M: Module>(
    module: M,
    params: &ParamSet,
    trainable: &dyn Fn(&str) -> bool,
) -> Result<M, GrpoError> {
    params.check_finite()?;
    let expected = to_layout(&module, trainable)?;
    expected.check_same_layout(params)?;
    let mut writer = Writer {
        trainable,
        path: Vec::new(),
        params,
    };
    Ok(module.map(&mut writer))
}

/// Names and shapes of the trainable parameters (values zeroed; cheap for small models).
fn to_layout<M: Module>(
    module: &M,
    trainable: &dyn Fn(&str) -> bool,
) -> Result<ParamSet, GrpoError> {
    collect(module, trainable, false)
}

/// The trainable parameters of `module` by path: their values when `read_values`, else
/// zeros of the same shapes (without reading the tensors).
fn collect<M: Module>(
    module: &M,
    trainable: &dyn Fn(&str) -> bool,
    read_values: bool,
) -> Result<ParamSet, GrpoError> {
    let mut collector = Collector {
        trainable,
        read_values,
        path: Vec::new(),
        out: ParamSet::new(),
        error: None,
    };
    module.visit(&mut collector);
    match collector.error {
        Some(e) => Err(e.into()),
        None => Ok(collector.out),
    }
}

struct Collector<'a> {
    trainable: &'a dyn Fn(&str) -> bool,
    read_values: bool,
    path: Vec<String>,
    out: ParamSet,
    error: Option<ParamError>,
}

impl ModuleVisitor for Collector<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let name = self.path.join(".");
        if self.error.is_some() || !(self.trainable)(&name) {
            return;
        }
        let result = if self.read_values {
            let value = param.val();
            let shape = value.dims().to_vec();
            match value.into_data().convert::<f32>().try_into_vec::<f32>() {
                Ok(data) => self.out.insert(name, shape, data),
                Err(_) => Err(ParamError::InvalidName { name }),
            }
        } else {
            let shape = param.lazy_shape().dims::<D>().to_vec();
            let n = shape.iter().product();
            self.out.insert(name, shape, vec![0.0; n])
        };
        if let Err(e) = result {
            self.error = Some(e);
        }
    }
}

struct Writer<'a> {
    trainable: &'a dyn Fn(&str) -> bool,
    path: Vec<String>,
    params: &'a ParamSet,
}

impl ModuleMapper for Writer<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let name = self.path.join(".");
        if !(self.trainable)(&name) {
            return param;
        }
        // The layout was checked before mapping, so the tensor exists with this shape.
        let Some(t) = self.params.get(&name) else {
            return param;
        };
        let device = param.lazy_device();
        let data = TensorData::new(t.data().to_vec(), t.shape().to_vec());
        let id = param.id;
        param.transform_for_load(Tensor::<D>::from_data(data, &device), id)
    }
}
