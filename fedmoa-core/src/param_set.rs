//! [`ParamSet`]: named f32 tensors, the unit that crosses the client/server boundary.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::ParamError;

/// One named tensor: a shape and its row-major f32 data.
///
/// Invariant (checked by [`ParamTensor::new`]): `data.len()` equals the product of `shape`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawParamTensor")]
pub struct ParamTensor {
    shape: Vec<usize>,
    data: Vec<f32>,
}

/// Unchecked wire form of [`ParamTensor`]; deserialisation validates it.
#[derive(Deserialize)]
struct RawParamTensor {
    shape: Vec<usize>,
    data: Vec<f32>,
}

impl TryFrom<RawParamTensor> for ParamTensor {
    type Error = ParamError;
    fn try_from(raw: RawParamTensor) -> Result<Self, ParamError> {
        ParamTensor::new(raw.shape, raw.data)
    }
}

impl ParamTensor {
    /// Builds a tensor, checking that `data` has exactly `shape.iter().product()` elements.
    ///
    /// # Errors
    /// [`ParamError::DataLength`] when the lengths disagree.
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Result<Self, ParamError> {
        let expected = shape.iter().product::<usize>();
        if expected != data.len() {
            return Err(ParamError::DataLength {
                name: String::new(),
                expected,
                got: data.len(),
            });
        }
        Ok(Self { shape, data })
    }

    /// A tensor of zeros with the given shape.
    pub fn zeros(shape: Vec<usize>) -> Self {
        let n = shape.iter().product();
        Self {
            shape,
            data: vec![0.0; n],
        }
    }

    /// The tensor's shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The tensor's row-major data.
    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// Mutable access to the data (the shape cannot change).
    pub fn data_mut(&mut self) -> &mut [f32] {
        &mut self.data
    }

    /// Consumes the tensor, returning its shape and data.
    pub fn into_parts(self) -> (Vec<usize>, Vec<f32>) {
        (self.shape, self.data)
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.data.len()
    }
}

/// Named f32 tensors with shapes, ordered by name.
///
/// Used for global parameters, client deltas and server-optimizer moments. All binary
/// operations require both sides to have the same names and shapes ("the same layout")
/// and return [`ParamError`] otherwise.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ParamSet {
    tensors: BTreeMap<String, ParamTensor>,
}

impl ParamSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Inserts (or replaces) a tensor.
    ///
    /// # Errors
    /// [`ParamError::InvalidName`] for an empty name or one with control characters or
    /// surrounding whitespace; [`ParamError::DataLength`] when data and shape disagree.
    pub fn insert(
        &mut self,
        name: impl Into<String>,
        shape: Vec<usize>,
        data: Vec<f32>,
    ) -> Result<(), ParamError> {
        let name = name.into();
        validate_name(&name)?;
        let tensor = ParamTensor::new(shape, data).map_err(|e| match e {
            ParamError::DataLength { expected, got, .. } => ParamError::DataLength {
                name: name.clone(),
                expected,
                got,
            },
            other => other,
        })?;
        self.tensors.insert(name, tensor);
        Ok(())
    }

    /// Builder form of [`ParamSet::insert`].
    ///
    /// # Errors
    /// As [`ParamSet::insert`].
    pub fn with(
        mut self,
        name: impl Into<String>,
        shape: Vec<usize>,
        data: Vec<f32>,
    ) -> Result<Self, ParamError> {
        self.insert(name, shape, data)?;
        Ok(self)
    }

    /// The tensor called `name`, if any.
    pub fn get(&self, name: &str) -> Option<&ParamTensor> {
        self.tensors.get(name)
    }

    /// Mutable access to the tensor called `name`, if any.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut ParamTensor> {
        self.tensors.get_mut(name)
    }

    /// Iterates over `(name, tensor)` in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ParamTensor)> {
        self.tensors.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Iterates mutably over `(name, tensor)` in name order.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&str, &mut ParamTensor)> {
        self.tensors.iter_mut().map(|(k, v)| (k.as_str(), v))
    }

    /// Tensor names in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    /// Number of tensors.
    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    /// True when the set holds no tensor.
    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// Total number of scalar parameters.
    pub fn numel(&self) -> usize {
        self.tensors.values().map(ParamTensor::numel).sum()
    }

    /// A set with the same layout, filled with zeros.
    pub fn zeros_like(&self) -> Self {
        Self {
            tensors: self
                .tensors
                .iter()
                .map(|(k, v)| (k.clone(), ParamTensor::zeros(v.shape.clone())))
                .collect(),
        }
    }

    /// Checks that `other` has exactly the same names and shapes as `self`.
    ///
    /// # Errors
    /// [`ParamError::MissingTensor`], [`ParamError::UnexpectedTensor`] or
    /// [`ParamError::ShapeMismatch`], naming the first offending tensor.
    pub fn check_same_layout(&self, other: &ParamSet) -> Result<(), ParamError> {
        for (name, t) in &self.tensors {
            match other.tensors.get(name) {
                None => return Err(ParamError::MissingTensor { name: name.clone() }),
                Some(o) if o.shape != t.shape => {
                    return Err(ParamError::ShapeMismatch {
                        name: name.clone(),
                        expected: t.shape.clone(),
                        got: o.shape.clone(),
                    });
                }
                Some(_) => {}
            }
        }
        if let Some(name) = other
            .tensors
            .keys()
            .find(|k| !self.tensors.contains_key(*k))
        {
            return Err(ParamError::UnexpectedTensor { name: name.clone() });
        }
        Ok(())
    }

    /// Checks that every value is finite.
    ///
    /// # Errors
    /// [`ParamError::NonFinite`] with the tensor name and flat index of the first bad value.
    pub fn check_finite(&self) -> Result<(), ParamError> {
        for (name, t) in &self.tensors {
            if let Some(index) = t.data.iter().position(|v| !v.is_finite()) {
                return Err(ParamError::NonFinite {
                    name: name.clone(),
                    index,
                });
            }
        }
        Ok(())
    }

    /// Element-wise `self += other`.
    ///
    /// # Errors
    /// A layout error when the sets differ in names or shapes (nothing is modified).
    pub fn add_assign(&mut self, other: &ParamSet) -> Result<(), ParamError> {
        self.axpy(1.0, other)
    }

    /// Element-wise `self -= other`.
    ///
    /// # Errors
    /// As [`ParamSet::add_assign`].
    pub fn sub_assign(&mut self, other: &ParamSet) -> Result<(), ParamError> {
        self.axpy(-1.0, other)
    }

    /// Returns `self + other`.
    ///
    /// # Errors
    /// As [`ParamSet::add_assign`].
    pub fn add(&self, other: &ParamSet) -> Result<ParamSet, ParamError> {
        let mut out = self.clone();
        out.add_assign(other)?;
        Ok(out)
    }

    /// Returns `self - other` (e.g. a client delta `local - global`).
    ///
    /// # Errors
    /// As [`ParamSet::add_assign`].
    pub fn sub(&self, other: &ParamSet) -> Result<ParamSet, ParamError> {
        let mut out = self.clone();
        out.sub_assign(other)?;
        Ok(out)
    }

    /// Multiplies every value by `alpha`.
    pub fn scale(&mut self, alpha: f32) {
        for t in self.tensors.values_mut() {
            t.data.iter_mut().for_each(|v| *v *= alpha);
        }
    }

    /// `self += alpha * other` (BLAS axpy), the core of every weighted aggregation.
    ///
    /// # Errors
    /// As [`ParamSet::add_assign`].
    pub fn axpy(&mut self, alpha: f32, other: &ParamSet) -> Result<(), ParamError> {
        self.check_same_layout(other)?;
        for (t, o) in self.tensors.values_mut().zip(other.tensors.values()) {
            axpy_slice(&mut t.data, alpha, &o.data);
        }
        Ok(())
    }

    /// Dot product over all parameters, accumulated in f64.
    ///
    /// # Errors
    /// As [`ParamSet::add_assign`].
    pub fn dot(&self, other: &ParamSet) -> Result<f64, ParamError> {
        self.check_same_layout(other)?;
        Ok(self
            .tensors
            .values()
            .zip(other.tensors.values())
            .map(|(a, b)| dot_slice(&a.data, &b.data))
            .sum())
    }

    /// Euclidean norm over all parameters, accumulated in f64.
    pub fn norm(&self) -> f64 {
        self.tensors
            .values()
            .map(|t| dot_slice(&t.data, &t.data))
            .sum::<f64>()
            .sqrt()
    }

    /// All values concatenated in name order (e.g. for a flat gradient vector).
    pub fn flatten(&self) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.numel());
        for t in self.tensors.values() {
            out.extend_from_slice(&t.data);
        }
        out
    }
}

/// `y += alpha * x` on slices of equal length; written so the compiler vectorises it.
pub fn axpy_slice(y: &mut [f32], alpha: f32, x: &[f32]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += alpha * xi;
    }
}

/// Dot product of two slices, accumulated in f64 over f32 chunks for speed and accuracy.
pub fn dot_slice(a: &[f32], b: &[f32]) -> f64 {
    let mut total = 0.0f64;
    for (ca, cb) in a.chunks(1024).zip(b.chunks(1024)) {
        let mut acc = [0.0f32; 8];
        let mut ia = ca.chunks_exact(8);
        let mut ib = cb.chunks_exact(8);
        for (x, y) in (&mut ia).zip(&mut ib) {
            for k in 0..8 {
                acc[k] += x[k] * y[k];
            }
        }
        let tail: f32 = ia
            .remainder()
            .iter()
            .zip(ib.remainder())
            .map(|(x, y)| x * y)
            .sum();
        total += acc.iter().map(|&v| f64::from(v)).sum::<f64>() + f64::from(tail);
    }
    total
}

fn validate_name(name: &str) -> Result<(), ParamError> {
    if name.is_empty() || name.trim() != name || name.chars().any(char::is_control) {
        return Err(ParamError::InvalidName {
            name: name.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(a: &[f32], b: &[f32]) -> ParamSet {
        ParamSet::new()
            .with("a", vec![a.len()], a.to_vec())
            .and_then(|s| s.with("b", vec![1, b.len()], b.to_vec()))
            .expect("valid set")
    }

    #[test]
    fn arithmetic_matches_hand_computed_values() {
        let x = set(&[1.0, 2.0], &[3.0]);
        let y = set(&[0.5, -1.0], &[2.0]);
        assert_eq!(x.add(&y).unwrap().flatten(), vec![1.5, 1.0, 5.0]);
        assert_eq!(x.sub(&y).unwrap().flatten(), vec![0.5, 3.0, 1.0]);
        let mut z = x.clone();
        z.axpy(2.0, &y).unwrap();
        assert_eq!(z.flatten(), vec![2.0, 0.0, 7.0]);
        z.scale(0.5);
        assert_eq!(z.flatten(), vec![1.0, 0.0, 3.5]);
        // 1*0.5 + 2*(-1) + 3*2 = 4.5
        assert_eq!(x.dot(&y).unwrap(), 4.5);
        // sqrt(1 + 4 + 9)
        assert!((x.norm() - 14f64.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn dot_handles_long_vectors_with_tails() {
        let a: Vec<f32> = (0..2051).map(|i| (i % 7) as f32 - 3.0).collect();
        let b: Vec<f32> = (0..2051).map(|i| (i % 5) as f32 * 0.5).collect();
        let naive: f64 = a.iter().zip(&b).map(|(x, y)| f64::from(*x * *y)).sum();
        assert!((dot_slice(&a, &b) - naive).abs() < 1e-6);
    }

    #[test]
    fn layout_errors_name_the_tensor() {
        let x = set(&[1.0, 2.0], &[3.0]);
        let wrong_shape = set(&[1.0, 2.0, 3.0], &[3.0]);
        let err = x.clone().add(&wrong_shape).unwrap_err();
        assert!(matches!(err, ParamError::ShapeMismatch { ref name, .. } if name == "a"));
        let extra = x.clone().with("c", vec![1], vec![0.0]).unwrap();
        assert!(matches!(
            x.dot(&extra).unwrap_err(),
            ParamError::UnexpectedTensor { ref name } if name == "c"
        ));
        assert!(matches!(
            extra.dot(&x).unwrap_err(),
            ParamError::MissingTensor { ref name } if name == "c"
        ));
    }

    #[test]
    fn insert_rejects_bad_names_and_lengths() {
        let mut s = ParamSet::new();
        assert!(matches!(
            s.insert("", vec![1], vec![0.0]),
            Err(ParamError::InvalidName { .. })
        ));
        assert!(matches!(
            s.insert(" a", vec![1], vec![0.0]),
            Err(ParamError::InvalidName { .. })
        ));
        let err = s.insert("w", vec![2, 2], vec![0.0; 3]).unwrap_err();
        assert!(
            matches!(err, ParamError::DataLength { ref name, expected: 4, got: 3 } if name == "w")
        );
        assert!(s.is_empty());
    }

    #[test]
    fn check_finite_reports_first_bad_value() {
        let x = set(&[1.0, f32::NAN], &[f32::INFINITY]);
        assert!(matches!(
            x.check_finite(),
            Err(ParamError::NonFinite { ref name, index: 1 }) if name == "a"
        ));
    }

    #[test]
    fn deserialising_checks_lengths() {
        let bad = r#"{"tensors":{"a":{"shape":[2],"data":[1.0]}}}"#;
        assert!(serde_json::from_str::<ParamSet>(bad).is_err());
    }

    #[test]
    fn serde_round_trip_is_exact() {
        let x = set(&[0.1, -2.5e-8], &[3.402_823_5e38]);
        let json = serde_json::to_string(&x).unwrap();
        let back: ParamSet = serde_json::from_str(&json).unwrap();
        assert_eq!(back, x);
    }
}
