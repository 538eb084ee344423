//! [`ExperimentObserver`]: what an experiment reports while it runs.

/// An arm × seed run that starts: what a progress display needs to size itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArmStart<'a> {
    /// The arm's name.
    pub arm: &'a str,
    /// The seed index.
    pub seed_index: u32,
    /// Clients in the federation.
    pub clients: usize,
    /// Rounds left to run (after a resume, fewer than configured).
    pub rounds: u32,
    /// Local steps per round, when the config fixes them.
    pub local_steps: Option<u32>,
}

/// Receives an experiment's progress: structured arm boundaries and one line per event
/// (round results, warm-start accuracy, …). Any `Fn(&str) + Sync` closure is an observer
/// that only prints lines.
pub trait ExperimentObserver: Sync {
    /// A human-readable progress line.
    fn line(&self, line: &str);

    /// An arm × seed run starts (not called for one that a resume restores finished).
    fn arm_started(&self, start: &ArmStart<'_>) {
        let _ = start;
    }

    /// `arm` with seed `seed_index` is done.
    fn arm_finished(&self, arm: &str, seed_index: u32) {
        let _ = (arm, seed_index);
    }
}

impl<F: Fn(&str) + Sync> ExperimentObserver for F {
    fn line(&self, line: &str) {
        self(line);
    }
}
