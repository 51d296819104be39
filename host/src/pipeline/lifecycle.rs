//! What a serving plugin's run of failures leads to: nothing yet, a rollback to the version
//! it replaced, or quarantine. Pure bookkeeping, so the rules can be tested alone.

use std::sync::Arc;

use crate::config::Lifecycle;
use crate::runtime::LoadedPlugin;

/// Batches after a swap during which repeated failures roll the version back.
pub const ROLLBACK_WINDOW: u32 = 10;

/// How one serving plugin is doing.
#[derive(Default, Clone)]
pub struct Health {
    pub consecutive_failures: u32,
    pub quarantined: bool,
    /// The version this one replaced at the last reload, kept for a rollback.
    pub previous: Option<Arc<LoadedPlugin>>,
    /// Batches run since this version was swapped in.
    pub batches_since_swap: u32,
}

/// What the pipeline must do after a failed batch.
pub enum Verdict {
    /// Keep serving.
    Continue,
    /// Put the previous version back (it is taken out of the health record).
    RollBack(Arc<LoadedPlugin>),
    /// Failures reached the quarantine threshold: quarantine unless a probe shows the
    /// plugin healthy (then the failures were the input's doing).
    Quarantine,
}

impl Health {
    /// A fresh record for a version just swapped in over `previous`.
    pub fn swapped_in(previous: Arc<LoadedPlugin>) -> Health {
        Health {
            previous: Some(previous),
            ..Health::default()
        }
    }

    pub fn after_success(&mut self) {
        self.consecutive_failures = 0;
        self.batches_since_swap = self.batches_since_swap.saturating_add(1);
    }

    pub fn after_failure(&mut self, rules: &Lifecycle) -> Verdict {
        self.consecutive_failures += 1;
        self.batches_since_swap = self.batches_since_swap.saturating_add(1);
        if self.batches_since_swap <= ROLLBACK_WINDOW
            && self.consecutive_failures >= rules.rollback_after
        {
            if let Some(previous) = self.previous.take() {
                return Verdict::RollBack(previous);
            }
        }
        if !self.quarantined && self.consecutive_failures >= rules.quarantine_after {
            return Verdict::Quarantine;
        }
        Verdict::Continue
    }

    /// The probe found the plugin healthy: its failures were caused by its input.
    pub fn forgive(&mut self) {
        self.consecutive_failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Lifecycle {
        Lifecycle {
            quarantine_after: 3,
            rollback_after: 2,
        }
    }

    #[test]
    fn failures_below_the_threshold_change_nothing() {
        let mut health = Health::default();
        assert!(matches!(health.after_failure(&rules()), Verdict::Continue));
        assert!(matches!(health.after_failure(&rules()), Verdict::Continue));
        assert!(matches!(
            health.after_failure(&rules()),
            Verdict::Quarantine
        ));
    }

    #[test]
    fn a_success_resets_the_count() {
        let mut health = Health::default();
        health.after_failure(&rules());
        health.after_failure(&rules());
        health.after_success();
        assert!(matches!(health.after_failure(&rules()), Verdict::Continue));
    }

    #[test]
    fn an_already_quarantined_plugin_is_not_quarantined_again() {
        let mut health = Health {
            quarantined: true,
            ..Health::default()
        };
        for _ in 0..5 {
            assert!(matches!(health.after_failure(&rules()), Verdict::Continue));
        }
    }

    #[test]
    fn forgiven_failures_start_over() {
        let mut health = Health::default();
        for _ in 0..2 {
            health.after_failure(&rules());
        }
        health.forgive();
        assert!(matches!(health.after_failure(&rules()), Verdict::Continue));
    }
}
