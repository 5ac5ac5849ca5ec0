//! The plan phase (kind `fan_out`): every agent of the phase writes a
//! technical plan from the requirements; done when every plan is in.

use super::super::actor::{Actor, Task};
use super::super::inputs;
use super::super::outputs::{self, Plan};
use super::{PhaseStatus, TaskCounts};
use crate::config::workflow::Phase;
use crate::llm::TaskKind;
use crate::store::RecordKey;

/// Done when every planner's task is.
pub(super) fn status(phase: &Phase, c: &TaskCounts) -> PhaseStatus {
    c.status_when(&phase.name, true)
}

impl Actor {
    /// Queues one plan task per agent of the phase.
    pub(super) fn start_plan(&mut self, phase: &Phase) {
        let base = self.input_of(inputs::plan);
        for agent in &phase.agents {
            let task = Actor::new_task(
                format!("{}.{agent}", phase.name),
                agent,
                &phase.name,
                TaskKind::Plan,
                "technical plan".into(),
                base.clone(),
            );
            self.queue_task(task);
        }
    }

    /// Keeps an agent's plan.
    pub(super) fn accept_plan(&mut self, task: &Task, text: &str) -> Result<(), String> {
        let plan: Plan = outputs::parse_json(text)?;
        self.record(RecordKey::Output, &format!("plan/{}", task.agent), &plan);
        if let Some(s) = self.s() {
            s.design.plans.insert(task.agent.clone(), plan);
        }
        Ok(())
    }
}
