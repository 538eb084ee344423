//! [`ExperimentObserver`]: what an experiment reports while it runs.

/// Receives an experiment's progress: structured arm boundaries and one line per event
/// (round results, warm-start accuracy, …). Any `Fn(&str) + Sync` closure is an observer
/// that only prints lines.
pub trait ExperimentObserver: Sync {
    /// A human-readable progress line.
    fn line(&self, line: &str);

    /// `arm` with seed `seed_index` starts: `clients` clients, `rounds` rounds (those left
    /// to run, after a resume) of `local_steps` local steps each (when the config fixes
    /// them). Not called for an arm that a resume restores finished.
    fn arm_started(
        &self,
        arm: &str,
        seed_index: u32,
        clients: usize,
        rounds: u32,
        local_steps: Option<u32>,
    ) {
        let _ = (arm, seed_index, clients, rounds, local_steps);
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
