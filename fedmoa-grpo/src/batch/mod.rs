//! Left-padded token batches: prompts alone (for sampling) and prompt + completion pairs
//! (for log-probs, SFT and the GRPO loss).
//!
//! Layout of a [`SequenceBatch`] row, with `P` prompt columns and `C` completion columns:
//!
//! ```text
//! [pad … pad, prompt tokens][completion tokens, pad … pad]
//!  └──── P columns ────────┘└──────── C columns ────────┘
//! ```
//!
//! Every completion starts at column `P`, so the logits that predict completion token `c`
//! are those of column `P - 1 + c` for every row.

use burn::prelude::*;

use crate::{GrpoError, Policy};

mod prompt_prefix;

pub use prompt_prefix::PromptPrefix;

/// Prompts left-padded to a common width.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptBatch {
    /// Row-major `[n_rows, width]` token ids.
    pub tokens: Vec<u32>,
    /// Leading pad tokens of each row.
    pub left_pad: Vec<usize>,
    /// Columns.
    pub width: usize,
}

impl PromptBatch {
    /// Left-pads `prompts` with `pad_id`.
    ///
    /// # Errors
    /// [`GrpoError::Input`] when there is no prompt or a prompt is empty.
    pub fn new(prompts: &[Vec<u32>], pad_id: u32) -> Result<Self, GrpoError> {
        if prompts.is_empty() || prompts.iter().any(Vec::is_empty) {
            return Err(GrpoError::Input("empty prompt batch or prompt".into()));
        }
        let width = prompts.iter().map(Vec::len).max().unwrap_or(0);
        let mut tokens = Vec::with_capacity(prompts.len() * width);
        let mut left_pad = Vec::with_capacity(prompts.len());
        for p in prompts {
            let pad = width - p.len();
            tokens.extend(std::iter::repeat_n(pad_id, pad));
            tokens.extend_from_slice(p);
            left_pad.push(pad);
        }
        Ok(Self {
            tokens,
            left_pad,
            width,
        })
    }

    /// Number of prompts.
    pub fn n_rows(&self) -> usize {
        self.left_pad.len()
    }

    /// The ids as a `[n_rows, width]` tensor.
    pub fn tensor(&self, device: &Device) -> Tensor<2, Int> {
        int_tensor(&self.tokens, [self.n_rows(), self.width], device)
    }
}

/// Prompt + completion pairs laid out as in the module docs.
#[derive(Debug, Clone, PartialEq)]
pub struct SequenceBatch {
    /// Row-major `[n_rows, prompt_width + completion_width]` token ids.
    pub tokens: Vec<u32>,
    /// Leading pad tokens of each row.
    pub left_pad: Vec<usize>,
    /// Prompt columns `P`.
    pub prompt_width: usize,
    /// Completion columns `C` (the longest completion).
    pub completion_width: usize,
    /// Row-major `[n_rows, C]`: 1 for real completion tokens, 0 for padding.
    pub completion_mask: Vec<f32>,
    /// Real completion tokens of each row.
    pub completion_lens: Vec<usize>,
}

impl SequenceBatch {
    /// Lays out `prompts[i]` followed by `completions[i]`.
    ///
    /// # Errors
    /// [`GrpoError::Input`] on mismatched lengths, an empty prompt or all-empty completions.
    pub fn new(prompts: &[&[u32]], completions: &[&[u32]], pad_id: u32) -> Result<Self, GrpoError> {
        if prompts.len() != completions.len() || prompts.is_empty() {
            return Err(GrpoError::Input(format!(
                "{} prompts for {} completions",
                prompts.len(),
                completions.len()
            )));
        }
        if prompts.iter().any(|p| p.is_empty()) {
            return Err(GrpoError::Input("empty prompt".into()));
        }
        let prompt_width = prompts.iter().map(|p| p.len()).max().unwrap_or(0);
        let completion_width = completions.iter().map(|c| c.len()).max().unwrap_or(0);
        if completion_width == 0 {
            return Err(GrpoError::Input("every completion is empty".into()));
        }
        let n = prompts.len();
        let width = prompt_width + completion_width;
        let mut tokens = Vec::with_capacity(n * width);
        let mut left_pad = Vec::with_capacity(n);
        let mut completion_mask = Vec::with_capacity(n * completion_width);
        for (p, c) in prompts.iter().zip(completions) {
            let pad = prompt_width - p.len();
            tokens.extend(std::iter::repeat_n(pad_id, pad));
            tokens.extend_from_slice(p);
            tokens.extend_from_slice(c);
            tokens.extend(std::iter::repeat_n(pad_id, completion_width - c.len()));
            left_pad.push(pad);
            completion_mask.extend((0..completion_width).map(|i| f32::from(u8::from(i < c.len()))));
        }
        Ok(Self {
            tokens,
            left_pad,
            prompt_width,
            completion_width,
            completion_mask,
            completion_lens: completions.iter().map(|c| c.len()).collect(),
        })
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.left_pad.len()
    }

    /// The batch of rows `rows` (in that order), with the same prompt and completion widths
    /// so that every row is laid out exactly as here: a pass over a few rows then computes
    /// what the whole batch computes for them.
    ///
    /// # Errors
    /// [`GrpoError::Input`] when `rows` is empty or names a row out of range.
    pub fn select_rows(&self, rows: &[usize]) -> Result<Self, GrpoError> {
        if rows.is_empty() {
            return Err(GrpoError::Input("no row selected".into()));
        }
        if let Some(&bad) = rows.iter().find(|&&r| r >= self.n_rows()) {
            return Err(GrpoError::Input(format!(
                "row {bad} selected from a batch of {} rows",
                self.n_rows()
            )));
        }
        let width = self.prompt_width + self.completion_width;
        let c = self.completion_width;
        Ok(Self {
            tokens: rows
                .iter()
                .flat_map(|&r| self.tokens[r * width..(r + 1) * width].iter().copied())
                .collect(),
            left_pad: rows.iter().map(|&r| self.left_pad[r]).collect(),
            prompt_width: self.prompt_width,
            completion_width: c,
            completion_mask: rows
                .iter()
                .flat_map(|&r| self.completion_mask[r * c..(r + 1) * c].iter().copied())
                .collect(),
            completion_lens: rows.iter().map(|&r| self.completion_lens[r]).collect(),
        })
    }

    /// The same rows with `width` completion columns: the trailing columns past every
    /// row's completion, padding only, are dropped. A pass over rows whose completions are
    /// all short then runs fewer columns; the columns it keeps compute the same values, up
    /// to float rounding (its matmuls have other shapes).
    ///
    /// # Errors
    /// [`GrpoError::Input`] when `width` is 0, wider than the batch, or shorter than a
    /// completion.
    pub fn with_completion_width(&self, width: usize) -> Result<Self, GrpoError> {
        if width == 0 || width > self.completion_width {
            return Err(GrpoError::Input(format!(
                "completion width {width} for a batch of {} completion columns",
                self.completion_width
            )));
        }
        if let Some(&len) = self.completion_lens.iter().find(|&&len| len > width) {
            return Err(GrpoError::Input(format!(
                "completion width {width} cuts a completion of {len} tokens"
            )));
        }
        let row_width = self.prompt_width + self.completion_width;
        let keep = self.prompt_width + width;
        Ok(Self {
            tokens: self
                .tokens
                .chunks(row_width)
                .flat_map(|row| row[..keep].iter().copied())
                .collect(),
            left_pad: self.left_pad.clone(),
            prompt_width: self.prompt_width,
            completion_width: width,
            completion_mask: self
                .completion_mask
                .chunks(self.completion_width)
                .flat_map(|row| row[..width].iter().copied())
                .collect(),
            completion_lens: self.completion_lens.clone(),
        })
    }

    /// Every row index once: the runs of rows that share a prompt in their order, and within
    /// a run the longest completion first (ties in row order). Micro-batches cut in this
    /// order keep each prompt's rows together and hold completions of similar lengths, so
    /// each can drop the padding columns past its own longest completion.
    pub fn rows_by_length(&self) -> Vec<usize> {
        let mut order = Vec::with_capacity(self.n_rows());
        for (first, len) in self.prompt_runs() {
            let mut run: Vec<usize> = (first..first + len).collect();
            run.sort_by_key(|&r| std::cmp::Reverse(self.completion_lens[r]));
            order.extend(run);
        }
        order
    }

    /// The model input: every column but the last, `[n_rows, P + C − 1]`.
    pub fn input_tensor(&self, device: &Device) -> Tensor<2, Int> {
        let width = self.prompt_width + self.completion_width;
        let inputs: Vec<u32> = self
            .tokens
            .chunks(width)
            .flat_map(|row| row[..width - 1].iter().copied())
            .collect();
        int_tensor(&inputs, [self.n_rows(), width - 1], device)
    }

    /// The completion tokens, `[n_rows, C]`.
    pub fn target_tensor(&self, device: &Device) -> Tensor<2, Int> {
        let width = self.prompt_width + self.completion_width;
        let targets: Vec<u32> = self
            .tokens
            .chunks(width)
            .flat_map(|row| row[self.prompt_width..].iter().copied())
            .collect();
        int_tensor(&targets, [self.n_rows(), self.completion_width], device)
    }

    /// The completion mask, `[n_rows, C]`.
    pub fn mask_tensor(&self, device: &Device) -> Tensor<2> {
        Tensor::from_data(
            TensorData::new(
                self.completion_mask.clone(),
                [self.n_rows(), self.completion_width],
            ),
            device,
        )
    }

    /// Logits that predict each completion token, `[n_rows, C, vocab]`, in one forward
    /// pass (tracked when `policy` lives on an autodiff device).
    pub fn completion_logits<P: Policy>(&self, policy: &P, device: &Device) -> Tensor<3> {
        let logits = policy.forward(self.input_tensor(device), &self.left_pad, None);
        let [n, t, v] = logits.dims();
        logits.slice([0..n, self.prompt_width - 1..t, 0..v])
    }

    /// The same logits as [`SequenceBatch::completion_logits`], with every prompt that
    /// consecutive rows share (the G completions of a group) run once.
    ///
    /// The shared prompts but their last column are prefilled into a KV cache, one row
    /// each ([`SequenceBatch::prefill_prompts`]); the cache's rows are then gathered to the
    /// batch's rows, and one forward over the last prompt column and the completion
    /// columns continues it. The prompt's activations are computed once per group instead
    /// of once per row, and in training its gradient sums over the group's rows through
    /// the gather. Falls back to the single forward when no two consecutive rows share a
    /// prompt or the prompt has one column.
    pub fn shared_prompt_logits<P: Policy>(&self, policy: &P, device: &Device) -> Tensor<3> {
        match self.prefill_prompts(policy, device) {
            Some(prefix) => {
                let (cache, owner) = prefix.into_parts();
                self.continue_prompts(cache, &owner, policy, device)
            }
            None => self.completion_logits(policy, device),
        }
    }

    /// Runs of consecutive rows with the same prompt (columns and padding), as
    /// `(first row, length)`.
    pub(crate) fn prompt_runs(&self) -> Vec<(usize, usize)> {
        let width = self.prompt_width + self.completion_width;
        let prompt = |r: usize| &self.tokens[r * width..r * width + self.prompt_width];
        let mut runs: Vec<(usize, usize)> = Vec::new();
        for r in 0..self.n_rows() {
            match runs.last_mut() {
                Some((first, len))
                    if prompt(*first) == prompt(r) && self.left_pad[*first] == self.left_pad[r] =>
                {
                    *len += 1
                }
                _ => runs.push((r, 1)),
            }
        }
        runs
    }
}

/// Builds an Int tensor from u32 ids.
pub(crate) fn int_tensor<const D: usize>(
    ids: &[u32],
    shape: [usize; D],
    device: &Device,
) -> Tensor<D, Int> {
    let data: Vec<i64> = ids.iter().map(|&i| i64::from(i)).collect();
    Tensor::from_data(TensorData::new(data, shape), device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lays_out_left_padded_prompts_and_right_padded_completions() {
        let b = SequenceBatch::new(&[&[1, 2], &[3]], &[&[4], &[5, 6, 7]], 0).unwrap();
        assert_eq!(b.prompt_width, 2);
        assert_eq!(b.completion_width, 3);
        assert_eq!(b.tokens, [1, 2, 4, 0, 0, 0, 3, 5, 6, 7]);
        assert_eq!(b.left_pad, [0, 1]);
        assert_eq!(b.completion_mask, [1.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
        let dev = Device::flex();
        let inp: Vec<i64> = b.input_tensor(&dev).into_data().iter::<i64>().collect();
        assert_eq!(inp, [1, 2, 4, 0, 0, 3, 5, 6]);
        let tgt: Vec<i64> = b.target_tensor(&dev).into_data().iter::<i64>().collect();
        assert_eq!(tgt, [4, 0, 0, 5, 6, 7]);
    }

    #[test]
    fn a_narrower_batch_drops_only_padding_columns() {
        let b = SequenceBatch::new(&[&[1, 2], &[3]], &[&[4, 5, 6], &[7]], 0).unwrap();
        let narrow = b
            .select_rows(&[1])
            .unwrap()
            .with_completion_width(1)
            .unwrap();
        assert_eq!(narrow.tokens, vec![0, 3, 7]);
        assert_eq!(narrow.completion_mask, vec![1.0]);
        assert_eq!((narrow.prompt_width, narrow.completion_width), (2, 1));
        assert!(b.with_completion_width(2).is_err(), "cuts a completion");
        assert!(b.with_completion_width(0).is_err());
        assert!(b.with_completion_width(4).is_err());
        assert_eq!(b.with_completion_width(3).unwrap(), b);
    }

    #[test]
    fn rows_by_length_keep_prompt_runs_and_put_long_completions_first() {
        let (p, q): (&[u32], &[u32]) = (&[1, 2], &[3, 4]);
        let b = SequenceBatch::new(
            &[p, p, p, q, q],
            &[&[5], &[5, 6, 7], &[5, 6], &[8], &[8, 9]],
            0,
        )
        .unwrap();
        assert_eq!(b.rows_by_length(), vec![1, 2, 0, 4, 3]);
    }

    #[test]
    fn selected_rows_keep_their_layout() {
        let b =
            SequenceBatch::new(&[&[1, 2], &[3], &[8]], &[&[4], &[5, 6, 7], &[9, 9]], 0).unwrap();
        let s = b.select_rows(&[2, 0]).unwrap();
        assert_eq!((s.prompt_width, s.completion_width), (2, 3));
        assert_eq!(s.tokens, [0, 8, 9, 9, 0, 1, 2, 4, 0, 0]);
        assert_eq!(s.left_pad, [1, 0]);
        assert_eq!(s.completion_mask, [1.0, 1.0, 0.0, 1.0, 0.0, 0.0]);
        assert_eq!(s.completion_lens, [2, 1]);
        assert!(b.select_rows(&[]).is_err());
        assert!(b.select_rows(&[3]).is_err());
    }

    /// Rows are independent in the forward pass: the logits of selected rows equal those
    /// rows of the whole batch's logits.
    #[test]
    fn a_row_subset_computes_the_same_logits() {
        let dev = Device::flex();
        let model = crate::TinyLmConfig {
            vocab_size: 16,
            d_model: 16,
            n_layers: 2,
            n_heads: 2,
            n_kv_heads: 1,
            d_hidden: 32,
            max_seq_len: 16,
            ..Default::default()
        }
        .init_seeded(&dev, 3)
        .unwrap();
        let b = SequenceBatch::new(
            &[&[1, 2, 3], &[4], &[5, 6]],
            &[&[7, 8], &[9, 10, 11], &[12]],
            0,
        )
        .unwrap();
        let full: Vec<f32> = b
            .completion_logits(&model, &dev)
            .into_data()
            .iter::<f32>()
            .collect();
        let s = b.select_rows(&[2, 0]).unwrap();
        let sub: Vec<f32> = s
            .completion_logits(&model, &dev)
            .into_data()
            .iter::<f32>()
            .collect();
        let row = full.len() / 3;
        for (k, &r) in [2usize, 0].iter().enumerate() {
            for (a, e) in sub[k * row..(k + 1) * row]
                .iter()
                .zip(&full[r * row..(r + 1) * row])
            {
                assert!((a - e).abs() < 1e-5, "row {r}: {a} vs {e}");
            }
        }
    }

    #[test]
    fn prompt_batch_pads_on_the_left() {
        let b = PromptBatch::new(&[vec![1, 2, 3], vec![4]], 9).unwrap();
        assert_eq!(b.tokens, [1, 2, 3, 9, 9, 4]);
        assert_eq!(b.left_pad, [0, 2]);
        assert!(PromptBatch::new(&[vec![]], 0).is_err());
    }
}
