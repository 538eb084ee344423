//! Explicit compute-device selection.
//!
//! The crate never calls `Device::default()`: with a GPU feature compiled in, that would
//! silently move CPU runs onto the GPU. A device is named by [`DeviceChoice`] (from a config
//! string or the `BURN_DEVICE` environment variable) and built by [`DeviceChoice::device`];
//! a backend whose Cargo feature is not compiled in is a clear [`GrpoError::Device`].

use std::fmt;
use std::str::FromStr;

use burn::prelude::Device;
use serde::{Deserialize, Serialize};

use crate::GrpoError;

/// Environment variable that overrides the configured device (same names as Burn's).
pub const DEVICE_ENV: &str = "BURN_DEVICE";

/// A compute backend this crate can run on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// Burn's pure-Rust CPU backend (SIMD, rayon); always available, the default.
    #[default]
    Flex,
    /// wgpu with automatic graphics-API choice (Cargo feature `wgpu`).
    Wgpu,
    /// wgpu pinned to Vulkan (Cargo feature `vulkan`).
    Vulkan,
    /// NVIDIA CUDA, device 0 (Cargo feature `cuda`; its first build needs network access).
    Cuda,
}

impl DeviceChoice {
    /// Every choice, in documentation order.
    pub const ALL: [DeviceChoice; 4] = [Self::Flex, Self::Wgpu, Self::Vulkan, Self::Cuda];

    /// The lowercase name used in configs and `BURN_DEVICE`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Flex => "flex",
            Self::Wgpu => "wgpu",
            Self::Vulkan => "vulkan",
            Self::Cuda => "cuda",
        }
    }

    /// True when the backend's Cargo feature is compiled into this build.
    pub fn is_compiled(self) -> bool {
        match self {
            Self::Flex => true,
            Self::Wgpu => cfg!(feature = "wgpu"),
            Self::Vulkan => cfg!(feature = "vulkan"),
            Self::Cuda => cfg!(feature = "cuda"),
        }
    }

    /// Reads `BURN_DEVICE`, falling back to `fallback` when it is unset.
    ///
    /// # Errors
    /// [`GrpoError::Device`] when the variable names an unknown backend.
    pub fn from_env_or(fallback: DeviceChoice) -> Result<Self, GrpoError> {
        match std::env::var(DEVICE_ENV) {
            Ok(s) if !s.trim().is_empty() => s.parse(),
            _ => Ok(fallback),
        }
    }

    /// Builds the (plain, non-autodiff) Burn device.
    ///
    /// # Errors
    /// [`GrpoError::Device`] when the backend's feature is not compiled in.
    pub fn device(self) -> Result<Device, GrpoError> {
        match self {
            Self::Flex => Ok(Device::flex()),
            #[cfg(feature = "wgpu")]
            Self::Wgpu => Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)),
            #[cfg(feature = "vulkan")]
            Self::Vulkan => Ok(Device::vulkan(burn::tensor::DeviceKind::DefaultDevice)),
            #[cfg(feature = "cuda")]
            Self::Cuda => Ok(Device::cuda(0)),
            #[allow(unreachable_patterns)]
            other => Err(GrpoError::Device {
                requested: other.name().to_string(),
                reason: format!(
                    "this build lacks the `{}` Cargo feature of fedmoa-grpo",
                    other.name()
                ),
            }),
        }
    }
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DeviceChoice {
    type Err = GrpoError;

    fn from_str(s: &str) -> Result<Self, GrpoError> {
        let wanted = s.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|c| c.name() == wanted)
            .ok_or_else(|| GrpoError::Device {
                requested: s.to_string(),
                reason: "unknown backend; expected one of flex, wgpu, vulkan, cuda".to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back() {
        for c in DeviceChoice::ALL {
            assert_eq!(c.name().parse::<DeviceChoice>().unwrap(), c);
        }
        assert_eq!(
            " FLEX ".parse::<DeviceChoice>().unwrap(),
            DeviceChoice::Flex
        );
    }

    #[test]
    fn unknown_backend_is_an_error() {
        let err = "tpu".parse::<DeviceChoice>().unwrap_err();
        assert!(err.to_string().contains("tpu"), "{err}");
    }

    #[test]
    fn flex_is_always_available() {
        assert!(DeviceChoice::Flex.is_compiled());
        assert!(DeviceChoice::Flex.device().is_ok());
    }

    #[test]
    fn missing_feature_is_a_clear_error() {
        if !cfg!(feature = "cuda") {
            let err = DeviceChoice::Cuda.device().unwrap_err();
            assert!(err.to_string().contains("`cuda` Cargo feature"), "{err}");
        }
    }

    #[test]
    fn serde_uses_lowercase_names() {
        assert_eq!(
            serde_json::to_string(&DeviceChoice::Vulkan).unwrap(),
            "\"vulkan\""
        );
    }
}
