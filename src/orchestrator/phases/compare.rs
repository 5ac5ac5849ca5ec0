//! The compare phase: the lead compares the plans and lists the conflicts
//! between them (options, each planner's position, whether it blocks or needs
//! a person); done when the comparison is in.

use super::super::actor::Actor;
use super::super::inputs;
use super::super::outputs::{self, Conflicts};
use super::{PhaseStatus, TaskCounts};
use crate::config::workflow::Phase;
use crate::llm::TaskKind;
use crate::protocol::EventBody;
use crate::store::RecordKey;

/// Done when the comparison task is.
pub(super) fn status(phase: &Phase, c: &TaskCounts) -> PhaseStatus {
    c.status_when(&phase.name, true)
}

impl Actor {
    /// Queues the comparison task.
    pub(super) fn start_compare(&mut self, phase: &Phase, lead: &str) {
        let context = self.input_of(inputs::compare);
        let task = Actor::new_task(
            phase.name.clone(),
            lead,
            &phase.name,
            TaskKind::Compare,
            "compare the plans".into(),
            context,
        );
        self.queue_task(task);
    }

    /// Applies the conflicts (each option named by a planner's position).
    pub(super) fn accept_conflicts(&mut self, text: &str) -> Result<(), String> {
        let conflicts: Conflicts = outputs::parse_json(text)?;
        let planners: Vec<String> = self
            .session
            .as_ref()
            .map(|s| s.design.plans.keys().cloned().collect())
            .unwrap_or_default();
        outputs::check_conflicts(&conflicts, &planners)?;
        self.record(RecordKey::Output, "conflicts", &conflicts);
        for k in &conflicts.conflicts {
            self.emit(EventBody::ConflictDetected {
                conflict: k.id.clone(),
                topic: k.topic.clone(),
                options: k.options.clone(),
                blocking: k.blocking,
                needs_human: k.needs_human,
                positions: k.positions.clone(),
            });
        }
        if let Some(s) = self.s() {
            s.design.conflicts = conflicts.conflicts;
        }
        Ok(())
    }
}
