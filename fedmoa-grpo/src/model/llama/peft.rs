//! Exporting a [`Llama`]'s LoRA adapters as a Hugging Face PEFT adapter directory
//! (`adapter_config.json` + `adapter_model.safetensors`), loadable with
//! `peft.PeftModel.from_pretrained` on the Hugging Face export of the same base model.
//!
//! The mapping, per adapted projection of layer `N`:
//!
//! | fedmoa | PEFT |
//! |---|---|
//! | `blocks.N.attn.wq.weight.lora.a`, `[d_in, r]` | `base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight`, `[r, d_in]` |
//! | `blocks.N.attn.wq.weight.lora.b`, `[r, d_out]` | `… .q_proj.lora_B.weight`, `[d_out, r]` |
//!
//! Both factors are transposed (Burn's `Linear` stores `[in, out]`, PyTorch `[out, in]`), and
//! for `q_proj`/`k_proj` the output rows of `lora_B` go back from the interleaved RoPE layout
//! used here to Hugging Face's `rotate_half` layout (the inverse of the permutation applied
//! when loading). The scaling is PEFT's `lora_alpha / r`, the same as [`LoraConfig::alpha`]
//! over [`LoraConfig::rank`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ::safetensors::{Dtype, tensor::TensorView};
use serde_json::json;

use super::layout::{rope_rows_to_rotate_half, transpose};
use super::{Llama, LoraConfig, LoraTarget};
use crate::GrpoError;
use crate::model::Policy;

/// File names of a PEFT adapter directory.
pub const PEFT_CONFIG_FILE: &str = "adapter_config.json";
/// The adapter weights' file name.
pub const PEFT_WEIGHTS_FILE: &str = "adapter_model.safetensors";

impl LoraTarget {
    /// The Hugging Face Llama module path of the projection (`self_attn.q_proj`).
    pub fn hf_module_path(self) -> &'static str {
        match self {
            Self::Q => "self_attn.q_proj",
            Self::K => "self_attn.k_proj",
            Self::V => "self_attn.v_proj",
            Self::O => "self_attn.o_proj",
            Self::Gate => "mlp.gate_proj",
            Self::Up => "mlp.up_proj",
            Self::Down => "mlp.down_proj",
        }
    }

    /// PEFT's `target_modules` entry (`q_proj`).
    pub fn hf_module_name(self) -> &'static str {
        let path = self.hf_module_path();
        path.rsplit('.').next().unwrap_or(path)
    }
}

/// One exported tensor: PEFT name, shape `[rows, cols]`, row-major data.
type PeftTensor = (String, [usize; 2], Vec<f32>);

impl Llama {
    /// Writes the adapters as a PEFT LoRA adapter into `dir` (created if needed):
    /// `adapter_config.json` (`base_model_name_or_path` = `base_model`, when given) and
    /// `adapter_model.safetensors` (f32). Returns the two paths.
    ///
    /// # Errors
    /// [`GrpoError::Input`] when the model has no adapters; [`GrpoError::Io`] when a file
    /// cannot be written; [`GrpoError::Params`] when the parameters cannot be read.
    pub fn save_peft_adapter(
        &self,
        dir: &Path,
        base_model: Option<&str>,
    ) -> Result<Vec<PathBuf>, GrpoError> {
        let Some(lora) = self.lora() else {
            return Err(GrpoError::Input(
                "the model has no LoRA adapters to export (see Llama::with_lora)".into(),
            ));
        };
        let tensors = self.peft_tensors(lora)?;
        std::fs::create_dir_all(dir).map_err(|e| GrpoError::io(dir, e))?;

        let config_path = dir.join(PEFT_CONFIG_FILE);
        let text = serde_json::to_string_pretty(&peft_config(lora, base_model))
            .map_err(|e| GrpoError::Input(format!("adapter config: {e}")))?;
        std::fs::write(&config_path, text).map_err(|e| GrpoError::io(&config_path, e))?;

        let weights_path = dir.join(PEFT_WEIGHTS_FILE);
        let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
            .into_iter()
            .map(|(name, shape, data)| {
                let raw = data.iter().flat_map(|v| v.to_le_bytes()).collect();
                (name, shape.to_vec(), raw)
            })
            .collect();
        let views = bytes
            .iter()
            .map(|(name, shape, raw)| {
                TensorView::new(Dtype::F32, shape.clone(), raw)
                    .map(|view| (name.clone(), view))
                    .map_err(|e| GrpoError::Input(format!("adapter tensor {name}: {e}")))
            })
            .collect::<Result<Vec<_>, GrpoError>>()?;
        let metadata = Some(std::collections::HashMap::from([(
            "format".to_string(),
            "pt".to_string(),
        )]));
        ::safetensors::serialize_to_file(views, metadata, &weights_path).map_err(|e| {
            GrpoError::io(
                &weights_path,
                std::io::Error::other(format!("writing safetensors: {e}")),
            )
        })?;
        Ok(vec![config_path, weights_path])
    }

    /// The adapters under PEFT's names, shapes and layouts.
    fn peft_tensors(&self, lora: &LoraConfig) -> Result<Vec<PeftTensor>, GrpoError> {
        let params = self.to_param_set()?;
        let config = self.config();
        // Each target once, in a fixed order, however the config lists them.
        let targets: BTreeMap<&str, LoraTarget> = lora
            .targets
            .iter()
            .map(|t| (t.hf_module_path(), *t))
            .collect();
        let mut out = Vec::new();
        for layer in 0..config.n_layers {
            for (&hf_path, &target) in &targets {
                let ours = format!("blocks.{layer}.{}.weight.lora", target.module_path());
                let peft = format!("base_model.model.model.layers.{layer}.{hf_path}");
                let factor = |suffix: &str| {
                    let name = format!("{ours}.{suffix}");
                    params
                        .get(&name)
                        .filter(|t| t.shape().len() == 2)
                        .map(|t| (t.shape()[0], t.shape()[1], t.data().to_vec()))
                        .ok_or_else(|| GrpoError::Input(format!("missing adapter factor {name}")))
                };
                // A: [d_in, r] → lora_A [r, d_in]; B: [r, d_out] → lora_B [d_out, r].
                let (d_in, rank, a) = factor("a")?;
                out.push((
                    format!("{peft}.lora_A.weight"),
                    [rank, d_in],
                    transpose(&a, d_in, rank),
                ));
                let (rank_b, d_out, b) = factor("b")?;
                let mut b_t = transpose(&b, rank_b, d_out);
                let heads = match target {
                    LoraTarget::Q => Some(config.n_heads),
                    LoraTarget::K => Some(config.n_kv_heads),
                    _ => None,
                };
                if let Some(heads) = heads {
                    b_t = rope_rows_to_rotate_half(&b_t, heads, config.head_dim, rank_b);
                }
                out.push((format!("{peft}.lora_B.weight"), [d_out, rank_b], b_t));
            }
        }
        Ok(out)
    }
}

/// PEFT's `adapter_config.json` for these adapters.
fn peft_config(lora: &LoraConfig, base_model: Option<&str>) -> serde_json::Value {
    let mut targets: Vec<&str> = lora.targets.iter().map(|t| t.hf_module_name()).collect();
    targets.sort_unstable();
    targets.dedup();
    // An integral alpha is written as an integer, as PEFT writes it.
    let alpha = if lora.alpha.fract() == 0.0 && lora.alpha.abs() < 1e15 {
        json!(lora.alpha as i64)
    } else {
        json!(lora.alpha)
    };
    json!({
        "base_model_name_or_path": base_model,
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "r": lora.rank,
        "lora_alpha": alpha,
        "lora_dropout": 0.0,
        "target_modules": targets,
        "bias": "none",
        "fan_in_fan_out": false,
        "inference_mode": true,
        "use_rslora": false,
        "use_dora": false,
        "init_lora_weights": true,
        "modules_to_save": null,
        "layers_to_transform": null,
        "revision": null,
    })
}
