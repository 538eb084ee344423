//! Micro-batches of a rollout's rows ([`GrpoTrainerConfig::micro_batch_rows`]), cut to
//! their own completion width, and the per-token tensors they produce put back in row
//! order.
//!
//! The rows are taken in [`SequenceBatch::rows_by_length`] order: each prompt's rows stay
//! together, longest completion first. A micro-batch then drops the padding columns past
//! its own longest completion ([`SequenceBatch::with_completion_width`]), so a micro-batch
//! of short completions runs fewer columns.
//!
//! [`GrpoTrainerConfig::micro_batch_rows`]: super::GrpoTrainerConfig::micro_batch_rows

use burn::prelude::*;

use crate::GrpoError;
use crate::batch::SequenceBatch;

/// One micro-batch: which rows of the whole batch, and their narrowed batch.
pub(super) struct RowChunk {
    /// The rows' indices in the whole batch.
    pub rows: Tensor<1, Int>,
    /// The same indices on the host.
    pub indices: Vec<usize>,
    /// The rows, cut to `width` completion columns.
    pub batch: SequenceBatch,
    /// Completion columns kept: the chunk's longest completion (at least 1).
    pub width: usize,
}

impl RowChunk {
    /// The chunk's rows and first `width` columns of a per-token `[n, C]` tensor of the
    /// whole batch.
    pub fn cut(&self, t: Tensor<2>) -> Tensor<2> {
        t.select(0, self.rows.clone()).narrow(1, 0, self.width)
    }

    /// [`RowChunk::cut`] for token ids.
    pub fn cut_ids(&self, t: Tensor<2, Int>) -> Tensor<2, Int> {
        t.select(0, self.rows.clone()).narrow(1, 0, self.width)
    }
}

/// Micro-batches of at most `size` rows of `batch`, with their indices on `device`.
///
/// # Errors
/// [`GrpoError::Input`] for an empty batch (from [`SequenceBatch::select_rows`]).
pub(super) fn row_chunks(
    batch: &SequenceBatch,
    size: usize,
    device: &Device,
) -> Result<(Vec<RowChunk>, RowOrder), GrpoError> {
    let all: Vec<usize> = (0..batch.n_rows()).collect();
    let chunks = row_chunks_among(batch, &all, size, device)?;
    let order = RowOrder::of(&chunks, batch.completion_width);
    Ok((chunks, order))
}

/// Micro-batches of at most `size` of the rows `rows` of `batch`, in
/// [`SequenceBatch::rows_by_length`] order.
///
/// # Errors
/// [`GrpoError::Input`] for an empty batch (from [`SequenceBatch::select_rows`]).
pub(super) fn row_chunks_among(
    batch: &SequenceBatch,
    rows: &[usize],
    size: usize,
    device: &Device,
) -> Result<Vec<RowChunk>, GrpoError> {
    let mut wanted = vec![false; batch.n_rows()];
    for &r in rows {
        if let Some(w) = wanted.get_mut(r) {
            *w = true;
        }
    }
    let order: Vec<usize> = batch
        .rows_by_length()
        .into_iter()
        .filter(|&r| wanted[r])
        .collect();
    order
        .chunks(size.max(1))
        .map(|rows| {
            let width = rows
                .iter()
                .map(|&r| batch.completion_lens[r])
                .max()
                .unwrap_or(0)
                .max(1);
            Ok(RowChunk {
                rows: index_tensor(rows, device),
                indices: rows.to_vec(),
                batch: batch.select_rows(rows)?.with_completion_width(width)?,
                width,
            })
        })
        .collect()
}

/// How to put per-chunk results back into the whole batch's rows and columns.
pub(super) struct RowOrder {
    /// Row indices in the order the chunks hold them.
    order: Vec<usize>,
    /// The whole batch's completion columns `C`.
    columns: usize,
}

impl RowOrder {
    /// The order of `chunks` (of a batch with `columns` completion columns), in which they
    /// hold its rows.
    pub fn of<'a>(chunks: impl IntoIterator<Item = &'a RowChunk>, columns: usize) -> Self {
        Self {
            order: chunks
                .into_iter()
                .flat_map(|c| c.indices.iter().copied())
                .collect(),
            columns,
        }
    }

    /// The `[n, C]` tensor whose row `r` is row `r`'s part of `parts` (one `[rows, width]`
    /// tensor per chunk, in chunk order), zero in the columns a chunk dropped.
    pub fn reassemble(&self, parts: Vec<Tensor<2>>, device: &Device) -> Tensor<2> {
        let padded: Vec<Tensor<2>> = parts
            .into_iter()
            .map(|part| {
                let [rows, width] = part.dims();
                if width < self.columns {
                    let pad = Tensor::<2>::zeros([rows, self.columns - width], device);
                    Tensor::cat(vec![part, pad], 1)
                } else {
                    part
                }
            })
            .collect();
        let mut position = vec![0usize; self.order.len()];
        for (i, &r) in self.order.iter().enumerate() {
            position[r] = i;
        }
        Tensor::cat(padded, 0).select(0, index_tensor(&position, device))
    }
}

/// `indices` as an `Int` tensor on `device`.
fn index_tensor(indices: &[usize], device: &Device) -> Tensor<1, Int> {
    let ids: Vec<i64> = indices
        .iter()
        .map(|&i| i64::try_from(i).unwrap_or(i64::MAX))
        .collect();
    Tensor::from_data(TensorData::new(ids, [indices.len()]), device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_cut_to_their_completions_and_reassemble_in_row_order() {
        let dev = Device::flex();
        let p: &[u32] = &[1, 2];
        let b = SequenceBatch::new(&[p, p, p], &[&[3], &[4, 5, 6], &[7, 8]], 0).unwrap();
        let (chunks, order) = row_chunks(&b, 2, &dev).unwrap();
        // Longest first: rows 1 and 2 (3 columns), then row 0 alone (1 column).
        assert_eq!(
            chunks.iter().map(|c| c.width).collect::<Vec<_>>(),
            vec![3, 1]
        );
        assert_eq!(chunks[1].batch.tokens, vec![1, 2, 3]);
        let whole =
            Tensor::<2>::from_floats([[1.0, 0.0, 0.0], [2.0, 3.0, 4.0], [5.0, 6.0, 0.0]], &dev);
        let parts: Vec<Tensor<2>> = chunks.iter().map(|c| c.cut(whole.clone())).collect();
        assert_eq!(parts[1].to_data().try_to_vec::<f32>().unwrap(), vec![1.0]);
        let back = order.reassemble(parts, &dev);
        assert_eq!(back.into_data(), whole.into_data());
    }
}
