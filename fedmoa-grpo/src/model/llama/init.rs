//! [`Llama::init`]: a seeded, randomly initialised model (tests, training from scratch).

use burn::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::load::{Dense, Naming, TensorSource, build};
use super::lora::standard_normal;
use super::{Llama, LlamaConfig};
use crate::GrpoError;

/// Standard deviation of the random projections and embedding.
const INIT_STD: f64 = 0.02;

/// Weights drawn on demand: `N(0, INIT_STD²)` for matrices, 1 for RMSNorm gains; each
/// tensor from its own stream, seeded by `seed` and its name.
struct RandomWeights {
    seed: u64,
}

impl TensorSource for RandomWeights {
    fn read(&self, name: &str, expected: &[usize]) -> Result<Option<Dense>, GrpoError> {
        let n = expected.iter().product();
        let values = if name.contains("norm") {
            vec![1.0; n]
        } else {
            let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ fnv1a(name));
            (0..n)
                .map(|_| (standard_normal(&mut rng) * INIT_STD) as f32)
                .collect()
        };
        Ok(Some((expected.to_vec(), values)))
    }
}

/// 64-bit FNV-1a of a tensor name (a stable per-tensor seed offset).
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl Llama {
    /// A model of `config`'s sizes with seeded random weights: projections and embedding
    /// `N(0, 0.02²)`, RMSNorm gains 1. The same seed gives the same weights.
    ///
    /// # Errors
    /// [`GrpoError::Config`] for inconsistent sizes.
    pub fn init(config: &LlamaConfig, seed: u64, device: &Device) -> Result<Self, GrpoError> {
        build(config, &RandomWeights { seed }, Naming::Gguf, device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Policy;

    fn config() -> LlamaConfig {
        LlamaConfig {
            vocab_size: 16,
            d_model: 8,
            n_layers: 2,
            n_heads: 2,
            n_kv_heads: 1,
            head_dim: 4,
            d_hidden: 12,
            max_seq_len: 32,
            rope_theta: 10_000.0,
            norm_eps: 1e-5,
            tie_embeddings: true,
        }
    }

    #[test]
    fn init_is_seeded_and_shaped() {
        let dev = Device::flex();
        let a = Llama::init(&config(), 3, &dev)
            .unwrap()
            .to_param_set()
            .unwrap();
        let b = Llama::init(&config(), 3, &dev)
            .unwrap()
            .to_param_set()
            .unwrap();
        let c = Llama::init(&config(), 4, &dev)
            .unwrap()
            .to_param_set()
            .unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        let embed = a.get("embed.weight").unwrap();
        assert_eq!(embed.shape(), [16, 8]);
        let n = embed.data().len() as f64;
        let var = embed
            .data()
            .iter()
            .map(|v| f64::from(*v).powi(2))
            .sum::<f64>()
            / n;
        assert!((var.sqrt() - INIT_STD).abs() < 0.005, "std {}", var.sqrt());
        assert!(
            a.get("norm.gamma")
                .unwrap()
                .data()
                .iter()
                .all(|&v| v == 1.0)
        );
        let bad = LlamaConfig {
            n_kv_heads: 3,
            ..config()
        };
        assert!(Llama::init(&bad, 0, &dev).is_err());
    }
}
