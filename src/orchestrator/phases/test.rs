//! The test phase: the lead writes the tests, then the test loop
//! (`super::super::testing`) sets up and runs every component in the scratch
//! tree and turns a failing round into repairs, until a round passes or the
//! repair rounds run out. Done when the loop passed; failed for good when it
//! failed.

use super::super::actor::{Actor, Session, Stage};
use super::super::inputs;
use super::{PhaseStatus, TaskCounts};
use crate::config::workflow::Phase;
use crate::llm::TaskKind;
use crate::workspace::paths;

/// The status of a phase driven by the test loop at `stage` (the test
/// phase's, or the review's re-test).
pub(super) fn loop_status(s: &Session, phase: &Phase, c: &TaskCounts, stage: Stage) -> PhaseStatus {
    match stage {
        Stage::Passed => PhaseStatus::Done,
        Stage::Failed => PhaseStatus::Failed(
            s.progress
                .failure
                .clone()
                .unwrap_or_else(|| format!("phase {} failed", phase.name)),
        ),
        Stage::Writing if c.stalled() => c.stall(&phase.name),
        Stage::Writing | Stage::Running => PhaseStatus::Running,
    }
}

/// Where the test loop of the test phase stands.
pub(super) fn status(s: &Session, phase: &Phase, c: &TaskCounts) -> PhaseStatus {
    loop_status(s, phase, c, s.tests.test_stage)
}

impl Actor {
    /// Plans the components and queues the task that writes the tests.
    pub(super) fn start_test(&mut self, phase: &Phase, lead: &str) {
        if let Some(s) = self.s() {
            s.tests.test_stage = Stage::Writing;
        }
        self.plan_components();
        let files = ["tests/".to_string(), paths::TEST_FILES.to_string()];
        let context = self.input_of(|s| inputs::tests(s, &files));
        let mut task = Actor::new_task(
            format!("{}.write", phase.name),
            lead,
            &phase.name,
            TaskKind::Tests,
            "write the tests".into(),
            context,
        );
        task.declared = files.to_vec();
        self.queue_task(task);
    }

    /// Once the tests (or a round's repairs) are written, the next round runs.
    pub(super) fn step_test(&mut self, phase: &Phase, all_done: bool) {
        if self.judge_repair_round(phase, all_done) {
            return;
        }
        let writing = self
            .session
            .as_ref()
            .is_some_and(|s| s.tests.test_stage == Stage::Writing);
        if writing && all_done {
            self.run_tests(phase);
        }
    }
}
