//! A client's prompts, split into train / validation / test, with their token ids.

use fedmoa_core::{Prompt, Split};

use crate::{GrpoError, PolicyTokenizer};

/// A client's private prompts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientData {
    /// Prompts GRPO samples from.
    pub train: Vec<Prompt>,
    /// Held-out prompts for the accuracy sent to the server.
    pub validation: Vec<Prompt>,
    /// Prompts for final reporting only.
    pub test: Vec<Prompt>,
}

impl ClientData {
    /// Splits `prompts` in order: the first `n_validation` to validation, the next `n_test`
    /// to test, the rest to train.
    ///
    /// # Errors
    /// [`GrpoError::Input`] when fewer than `n_validation + n_test + 1` prompts are given.
    pub fn split(
        mut prompts: Vec<Prompt>,
        n_validation: usize,
        n_test: usize,
    ) -> Result<Self, GrpoError> {
        if prompts.len() <= n_validation + n_test {
            return Err(GrpoError::Input(format!(
                "{} prompts cannot give {n_validation} validation, {n_test} test and any train",
                prompts.len()
            )));
        }
        let train = prompts.split_off(n_validation + n_test);
        let test = prompts.split_off(n_validation);
        Ok(Self {
            train,
            validation: prompts,
            test,
        })
    }

    /// The prompts of `split`.
    pub fn get(&self, split: Split) -> &[Prompt] {
        match split {
            Split::Train => &self.train,
            Split::Validation => &self.validation,
            Split::Test => &self.test,
        }
    }
}

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
        data: &ClientData,
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

#[cfg(test)]
mod tests {
    use fedmoa_core::Reference;

    use super::*;

    #[test]
    fn splits_in_order() {
        let prompts: Vec<Prompt> = (0..5)
            .map(|i| Prompt {
                id: format!("p{i}"),
                task: "math".into(),
                text: "q".into(),
                reference: Reference::None,
                solution: None,
            })
            .collect();
        let d = ClientData::split(prompts.clone(), 2, 1).unwrap();
        assert_eq!(d.validation, prompts[0..2]);
        assert_eq!(d.test, prompts[2..3]);
        assert_eq!(d.train, prompts[3..5]);
        assert!(ClientData::split(prompts, 3, 2).is_err());
    }
}
