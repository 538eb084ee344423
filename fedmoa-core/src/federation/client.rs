//! The [`Client`] handle the loop talks to, and its in-process implementation.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Mutex, MutexGuard, TryLockError};

use super::ClientError;
use crate::{ClientId, ClientUpdate, EvalReport, LocalTrainer, ParamSet, RoundPlan, Split};

/// A participant of the federation as the server sees it. [`InProcessClient`] is the one
/// implementation; a client reached over the network would implement it too.
///
/// Methods take `&self` so the loop can call many clients from worker threads.
pub trait Client: Send + Sync {
    /// The client's id.
    fn id(&self) -> &ClientId;

    /// Trains from `global` for one round.
    ///
    /// # Errors
    /// [`ClientError`]; the loop drops the client from the round.
    fn train(&self, global: &ParamSet, plan: &RoundPlan) -> Result<ClientUpdate, ClientError>;

    /// Evaluates `params` on the client's `split`.
    ///
    /// # Errors
    /// [`ClientError`].
    fn evaluate(&self, params: &ParamSet, split: Split) -> Result<EvalReport, ClientError>;

    /// Client state to checkpoint (objective weights, …), if any.
    ///
    /// # Errors
    /// [`ClientError`] when the client cannot be reached.
    fn state(&self) -> Result<Option<serde_json::Value>, ClientError>;

    /// Restores state from [`Client::state`].
    ///
    /// # Errors
    /// [`ClientError`] when the state does not fit.
    fn load_state(&self, state: &serde_json::Value) -> Result<(), ClientError>;
}

/// Runs a [`LocalTrainer`] in this process; panics in the trainer become
/// [`ClientError::Panicked`], and a call while an earlier one (e.g. one that timed out)
/// is still running returns [`ClientError::Busy`] instead of blocking.
pub struct InProcessClient {
    id: ClientId,
    trainer: Mutex<Box<dyn LocalTrainer>>,
}

impl InProcessClient {
    /// Wraps `trainer` as the client `id`.
    pub fn new(id: impl Into<ClientId>, trainer: Box<dyn LocalTrainer>) -> Self {
        Self {
            id: id.into(),
            trainer: Mutex::new(trainer),
        }
    }

    fn lock(&self) -> Result<MutexGuard<'_, Box<dyn LocalTrainer>>, ClientError> {
        match self.trainer.try_lock() {
            Ok(guard) => Ok(guard),
            // A trainer that panicked earlier is still usable: its round was dropped.
            Err(TryLockError::Poisoned(p)) => Ok(p.into_inner()),
            Err(TryLockError::WouldBlock) => Err(ClientError::Busy),
        }
    }

    fn contained<T>(
        &self,
        f: impl FnOnce(&mut dyn LocalTrainer) -> Result<T, ClientError>,
    ) -> Result<T, ClientError> {
        let mut guard = self.lock()?;
        catch_unwind(AssertUnwindSafe(|| f(guard.as_mut())))
            .unwrap_or_else(|payload| Err(ClientError::Panicked(panic_message(payload.as_ref()))))
    }
}

impl Client for InProcessClient {
    fn id(&self) -> &ClientId {
        &self.id
    }

    fn train(&self, global: &ParamSet, plan: &RoundPlan) -> Result<ClientUpdate, ClientError> {
        let mut update = self.contained(|t| Ok(t.train(global, plan)?))?;
        update.client_id = self.id.clone();
        Ok(update)
    }

    fn evaluate(&self, params: &ParamSet, split: Split) -> Result<EvalReport, ClientError> {
        self.contained(|t| Ok(t.evaluate(params, split)?))
    }

    fn state(&self) -> Result<Option<serde_json::Value>, ClientError> {
        self.contained(|t| Ok(t.state()))
    }

    fn load_state(&self, state: &serde_json::Value) -> Result<(), ClientError> {
        self.contained(|t| Ok(t.load_state(state)?))
    }
}

/// The text of a caught panic payload.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}
