//! The vote phase: every agent of the phase casts a ballot on every
//! conflict not decided early by the person; a failed or cancelled ballot is
//! an abstention, so the vote completes once no ballot is still open. The
//! tally and what follows it are the resolve phase's (`resolve.rs`).

use super::super::actor::{Actor, Task};
use super::super::inputs;
use super::super::outputs::{self, Ballot};
use super::{PhaseStatus, TaskCounts};
use crate::config::workflow::Phase;
use crate::llm::TaskKind;
use crate::protocol::EventBody;
use crate::store::RecordKey;

/// Done once no ballot is open: a failed ballot is an abstention.
pub(super) fn status(c: &TaskCounts) -> PhaseStatus {
    if c.active == 0 {
        PhaseStatus::Done
    } else {
        PhaseStatus::Running
    }
}

impl Actor {
    /// Queues a ballot per agent and open conflict.
    pub(super) fn start_vote(&mut self, phase: &Phase) {
        let conflicts = match self.session.as_ref() {
            Some(s) => s.design.conflicts.clone(),
            None => return,
        };
        for conflict in &conflicts {
            if self
                .session
                .as_ref()
                .is_some_and(|s| s.design.decisions.contains_key(&conflict.id))
            {
                continue; // decided early by the person
            }
            for agent in &phase.agents {
                let context = self.input_of(|s| inputs::ballot(s, conflict, agent));
                let mut task = Actor::new_task(
                    format!("{}.{}.{agent}", phase.name, conflict.id),
                    agent,
                    &phase.name,
                    TaskKind::Ballot,
                    format!("ballot on {}", conflict.topic),
                    context,
                );
                task.subject = Some(conflict.id.clone());
                self.queue_task(task);
            }
        }
    }

    /// A ballot (or the chair's) reply, parsed and checked against the
    /// options of the conflict the task is about: (conflict, ballot).
    pub(super) fn checked_ballot(
        &self,
        task: &Task,
        text: &str,
    ) -> Result<(String, Ballot), String> {
        let ballot: Ballot = outputs::parse_json(text)?;
        let conflict = task.subject.clone().unwrap_or_default();
        let options = self
            .session
            .as_ref()
            .and_then(|s| s.design.conflicts.iter().find(|k| k.id == conflict))
            .map(|k| k.options.clone())
            .unwrap_or_default();
        outputs::check_ballot(&ballot, &options)?;
        Ok((conflict, ballot))
    }

    /// Keeps an agent's ballot.
    pub(super) fn accept_ballot(&mut self, task: &Task, text: &str) -> Result<(), String> {
        let (conflict, ballot) = self.checked_ballot(task, text)?;
        self.record(
            RecordKey::Output,
            &format!("ballot/{conflict}/{}", task.agent),
            &ballot,
        );
        self.emit(EventBody::VoteCast {
            conflict: conflict.clone(),
            agent: task.agent.clone(),
            option: Some(ballot.option.clone()),
            rationale: ballot.rationale.clone(),
        });
        if let Some(s) = self.s() {
            s.design
                .ballots
                .entry(conflict)
                .or_default()
                .insert(task.agent.clone(), Some(ballot));
        }
        Ok(())
    }

    /// A ballot task ended without a reply: its agent abstains.
    pub(super) fn abstain(&mut self, task: &Task) {
        let conflict = task.subject.clone().unwrap_or_default();
        if let Some(s) = self.s() {
            s.design
                .ballots
                .entry(conflict.clone())
                .or_default()
                .insert(task.agent.clone(), None);
        }
        self.emit(EventBody::VoteCast {
            conflict,
            agent: task.agent.clone(),
            option: None,
            rationale: format!(
                "abstained: {}",
                task.error
                    .clone()
                    .unwrap_or_else(|| "the ballot was cancelled".into())
            ),
        });
    }
}
