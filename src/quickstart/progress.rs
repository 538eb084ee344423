//! [`ProgressBoard`]: one terminal progress bar per arm (round, client, local step), with
//! the round lines printed above it.

use std::sync::{Arc, Mutex, PoisonError};

use fedmoa_grpo::{StepEvent, StepObserver};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::experiment::{ArmStart, ExperimentObserver};

/// The running arm's bar and its size.
struct ArmBar {
    bar: ProgressBar,
    rounds: u32,
    steps_per_round: u64,
}

/// Progress bars for an experiment on a terminal. When standard error is not a terminal
/// the bars stay hidden and only the lines are printed.
pub struct ProgressBoard {
    multi: MultiProgress,
    current: Mutex<Option<ArmBar>>,
}

impl ProgressBoard {
    /// A board drawing on standard error.
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            multi: MultiProgress::new(),
            current: Mutex::new(None),
        })
    }

    /// The callback to give each client's trainer: advances the current bar by one step.
    pub fn step_observer(self: &Arc<Self>) -> StepObserver {
        let board = Arc::clone(self);
        Arc::new(move |event: &StepEvent<'_>| board.on_step(event))
    }

    fn on_step(&self, event: &StepEvent<'_>) {
        let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(arm) = current.as_ref() {
            arm.bar.inc(1);
            let round = (arm.bar.position().saturating_sub(1) / arm.steps_per_round.max(1)) + 1;
            arm.bar.set_message(format!(
                "round {}/{} · {} step {}/{}",
                round.min(u64::from(arm.rounds)),
                arm.rounds,
                event.client_id,
                event.step,
                event.steps
            ));
        }
    }
}

impl ExperimentObserver for ProgressBoard {
    fn line(&self, line: &str) {
        self.multi.suspend(|| println!("{line}"));
    }

    fn arm_started(&self, start: &ArmStart<'_>) {
        let steps_per_round = start.clients as u64 * u64::from(start.local_steps.unwrap_or(1));
        let bar = self
            .multi
            .add(ProgressBar::new(steps_per_round * u64::from(start.rounds)));
        let style = ProgressStyle::with_template(
            "{prefix:>18} [{bar:28}] {pos}/{len} steps  {msg}  ({elapsed}, ~{eta} left)",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(format!("{} seed {}", start.arm, start.seed_index));
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        *current = Some(ArmBar {
            bar,
            rounds: start.rounds,
            steps_per_round,
        });
    }

    fn arm_finished(&self, _arm: &str, _seed_index: u32) {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(arm) = current.take() {
            arm.bar.finish_with_message("done");
        }
    }
}
