//! The token ids of a client's [`Dataset`], encoded once.

use fedmoa_core::{Prompt, Split};
use fedmoa_rewards::Dataset;

use crate::{GrpoError, PolicyTokenizer};

/// Token ids of every prompt of every split, encoded once.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct EncodedData {
    pub train: Vec<Vec<u32>>,
    pub validation: Vec<Vec<u32>>,
    pub test: Vec<Vec<u32>>,
}

impl EncodedData {
    /// Encodes every prompt; each must leave `room` tokens below `max_seq_len`.
    pub fn new(
        data: &Dataset,
        tokenizer: &dyn PolicyTokenizer,
        max_prompt_len: usize,
    ) -> Result<Self, GrpoError> {
        let encode = |prompts: &[Prompt]| -> Result<Vec<Vec<u32>>, GrpoError> {
            prompts
                .iter()
                .map(|p| {
                    let ids = tokenizer.encode_prompt(&p.text)?;
                    if ids.len() > max_prompt_len {
                        return Err(GrpoError::Input(format!(
                            "prompt {:?} has {} tokens; at most {max_prompt_len} fit",
                            p.id,
                            ids.len()
                        )));
                    }
                    Ok(ids)
                })
                .collect()
        };
        Ok(Self {
            train: encode(&data.train)?,
            validation: encode(&data.validation)?,
            test: encode(&data.test)?,
        })
    }

    /// The ids of `split`.
    pub fn get(&self, split: Split) -> &[Vec<u32>] {
        match split {
            Split::Train => &self.train,
            Split::Validation => &self.validation,
            Split::Test => &self.test,
        }
    }
}
