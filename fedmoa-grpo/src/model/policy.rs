//! The [`Policy`] trait: what the GRPO trainer needs from a language model.

use burn::prelude::*;
use fedmoa_core::ParamSet;

use crate::GrpoError;
use crate::decode::DecodeModel;
use crate::layers::KvCache;

/// A causal language model the trainer can sample from and optimise.
///
/// **Not object-safe, by design.** Burn's optimizers and gradient extraction
/// (`ModuleOptimizer::step`, `GradientsParams::from_grads`) need the concrete
/// [`Module`] type, and `Module` itself has generic methods and a `Clone` bound. The trainer
/// is therefore generic, `GrpoTrainer<P: Policy>`; a new architecture implements this trait.
///
/// Input convention: rows are **left-padded** (see [`crate::layers`]); `left_pad[b]` counts
/// the leading pad tokens of row `b`, whose token ids are ignored.
pub trait Policy: Module + Sized + 'static {
    /// Vocabulary size (the logits' last dimension).
    fn vocab_size(&self) -> usize;

    /// Longest sequence (prompt + completion) the model accepts.
    fn max_seq_len(&self) -> usize;

    /// An empty KV cache for this model.
    fn new_cache(&self) -> KvCache;

    /// Logits for every input position.
    ///
    /// Without a cache the tokens are a whole left-padded batch starting at column 0. With
    /// a cache they continue it at column `cache.len()` (the first call is the prefill and
    /// records `left_pad`; later calls ignore `left_pad`) and the cache is extended.
    ///
    /// # Shapes
    /// `tokens: [B, T]` → `[B, T, vocab_size]`.
    fn forward(
        &self,
        tokens: Tensor<2, Int>,
        left_pad: &[usize],
        cache: Option<&mut KvCache>,
    ) -> Tensor<3>;

    /// Runs `tokens` as the start of a cached batch for their keys and values only, as
    /// [`Policy::forward`] with a cache does, without the logits. The default calls
    /// `forward` and drops them; a model overrides it to skip its output head.
    ///
    /// # Shapes
    /// `tokens: [B, T]`.
    fn prefill(&self, tokens: Tensor<2, Int>, left_pad: &[usize], cache: &mut KvCache) {
        let _ = self.forward(tokens, left_pad, Some(cache));
    }

    /// A plain-device copy for inference only: sampling, evaluation and the frozen KL
    /// reference. The default is [`Module::valid`]; a model with LoRA adapters returns
    /// them merged into dense weights, so the merge happens once per use instead of in
    /// every forward.
    fn inference_copy(&self) -> Self {
        self.valid()
    }

    /// A copy laid out for sampling and greedy evaluation ([`DecodeModel`]), when the
    /// architecture has one; the default, `None`, decodes through [`Policy::forward`] on
    /// [`Policy::inference_copy`].
    fn decode_model(&self) -> Option<DecodeModel> {
        None
    }

    /// A plain-device copy to hold as the frozen KL reference for a round. The default is
    /// [`Policy::inference_copy`]; a model with LoRA adapters keeps them unmerged, so the
    /// reference shares the frozen base weights instead of holding a dense copy of them.
    fn reference_copy(&self) -> Self {
        self.inference_copy()
    }

    /// True for the parameters the trainer optimises and exchanges (default: all).
    fn is_trainable(&self, _path: &str) -> bool {
        true
    }

    /// The trainable parameters under their module paths (`blocks.0.attn.wq.weight`, …).
    ///
    /// # Errors
    /// [`GrpoError::Params`] when a path is not a valid tensor name.
    fn to_param_set(&self) -> Result<ParamSet, GrpoError> {
        super::to_param_set(self, &|p| self.is_trainable(p))
    }

    /// Replaces the trainable parameters by `params`, which must match them exactly in
    /// names and shapes; autodiff tracking and parameter ids are kept.
    ///
    /// # Errors
    /// [`GrpoError::Params`] on a missing, unexpected or mis-shaped tensor, or a
    /// non-finite value; the model is then dropped.
    fn load_param_set(self, params: &ParamSet) -> Result<Self, GrpoError> {
        let names: Vec<String> = self.to_param_set()?.names().map(str::to_string).collect();
        super::load_param_set(self, params, &|p| names.iter().any(|n| n == p))
    }
}
