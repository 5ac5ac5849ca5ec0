//! What each phase kind does (docs/design.md §1), one file per kind under
//! `phases/`: its start (the tasks it queues), its acceptance of its tasks'
//! replies and its status. This file holds what they share: [`PhaseStatus`],
//! the counts of a phase's tasks, [`advance`](Actor::advance) (which moves
//! the session through the workflow) and the one dispatch on
//! [`PhaseKind`] (start, step, status) and on [`TaskKind`] (accept).
//!
//! | kind (`quorum.toml`) | file |
//! |---|---|
//! | `single` (refine) | `refine.rs`: requirements, questions, answers |
//! | `fan_out` (plan) | `plan.rs` |
//! | `compare` | `compare.rs` |
//! | `vote` | `vote.rs`: ballots, abstentions |
//! | `resolve` | `resolve.rs`: tally, chair, picks, overrides |
//! | `tasks` (implement) | `implement.rs`: breakdown, staged files |
//! | `test` | `test.rs` (the loop itself is `super::testing`) |
//! | `review` | `review.rs` |
//! | `deliver` | `deliver.rs`; `decision_record.rs` writes docs/DECISIONS.md |
//!
//! These are `impl Actor` blocks over the actor's [`Session`]; the statuses
//! are pure functions of the session.

use serde_json::Value;

use super::actor::{Actor, Session};
use super::inputs;
use crate::config::workflow::{Phase, PhaseKind};
use crate::llm::TaskKind;
use crate::protocol::{EventBody, SessionStatus, TaskState};

mod compare;
mod decision_record;
mod deliver;
mod implement;
mod plan;
mod refine;
mod resolve;
mod review;
mod test;
mod vote;

/// Where the current phase stands.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum PhaseStatus {
    /// Work is under way, or the phase waits for the person.
    Running,
    /// Complete.
    Done,
    /// A task failed and nothing else can run; a retry could unblock it.
    Stalled(String),
    /// Failed for good.
    Failed(String),
}

/// Counts of a phase's tasks.
#[derive(Debug, Default)]
pub(crate) struct TaskCounts {
    pub total: usize,
    pub done: usize,
    /// Queued (and not blocked), running, retrying or paused.
    pub active: usize,
    /// One line per failed or cancelled task.
    pub failed: Vec<String>,
}

impl TaskCounts {
    /// A phase's tasks by state. Queued tasks behind a failed dependency are
    /// neither active nor failed: they wait for a retry of that dependency.
    pub fn of(s: &Session, phase: &str) -> TaskCounts {
        let mut c = TaskCounts::default();
        for t in s.work.tasks.values().filter(|t| t.phase == phase) {
            c.total += 1;
            match t.state {
                TaskState::Done => c.done += 1,
                TaskState::Queued | TaskState::Paused if blocked(s, &t.id) => {}
                TaskState::Queued
                | TaskState::Running
                | TaskState::Retrying
                | TaskState::Paused => c.active += 1,
                TaskState::Failed | TaskState::Cancelled => c.failed.push(format!(
                    "task {} {}{}",
                    t.id,
                    t.state.as_str(),
                    t.error
                        .as_ref()
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default()
                )),
            }
        }
        c
    }

    /// Every task is done (none active, none failed).
    pub fn all_done(&self) -> bool {
        self.active == 0 && self.failed.is_empty() && self.done == self.total
    }

    /// Nothing runs and a task failed.
    pub fn stalled(&self) -> bool {
        self.active == 0 && !self.failed.is_empty()
    }

    /// The stall of phase `phase`, naming its failed tasks.
    pub fn stall(&self, phase: &str) -> PhaseStatus {
        PhaseStatus::Stalled(format!("phase {phase}: {}", self.failed.join("; ")))
    }

    /// The status of a phase that is done when its tasks are and `ready`.
    pub fn status_when(&self, phase: &str, ready: bool) -> PhaseStatus {
        if self.all_done() && ready {
            PhaseStatus::Done
        } else if self.stalled() {
            self.stall(phase)
        } else {
            PhaseStatus::Running
        }
    }
}

/// Whether a task can never start: a dependency (directly or through
/// another dependency) failed or was cancelled.
pub(crate) fn blocked(s: &Session, id: &str) -> bool {
    let mut stack: Vec<&str> = vec![id];
    let mut seen = std::collections::BTreeSet::new();
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        let Some(task) = s.work.tasks.get(id) else {
            continue;
        };
        for dep in &task.deps {
            match s.work.tasks.get(dep).map(|d| d.state) {
                Some(TaskState::Failed | TaskState::Cancelled) => return true,
                Some(_) => stack.push(dep),
                None => {}
            }
        }
    }
    false
}

/// Where phase `phase` of session `s` stands: the one dispatch on its kind.
pub(crate) fn status(s: &Session, phase: &Phase) -> PhaseStatus {
    let c = TaskCounts::of(s, &phase.name);
    match phase.kind {
        PhaseKind::Single => refine::status(s, phase, &c),
        PhaseKind::FanOut => plan::status(phase, &c),
        PhaseKind::Compare => compare::status(phase, &c),
        PhaseKind::Vote => vote::status(&c),
        PhaseKind::Resolve => resolve::status(s, phase, &c),
        PhaseKind::Tasks => implement::status(s, phase, &c),
        PhaseKind::Test => test::status(s, phase, &c),
        PhaseKind::Review => review::status(s, phase, &c),
        PhaseKind::Deliver => deliver::status(s),
    }
}

impl Actor {
    pub(crate) fn current_phase(&self) -> Option<Phase> {
        let s = self.session.as_ref()?;
        self.workflow.phases.get(s.progress.phase).cloned()
    }

    /// Moves the session forward as far as it can go now.
    pub(crate) async fn advance(&mut self) {
        loop {
            let Some(s) = self.session.as_ref() else {
                return;
            };
            if s.progress.finished.is_some() {
                return;
            }
            let Some(phase) = self.current_phase() else {
                // The offline team's demo is not what was asked for.
                self.finish(if s.options.unbuilt.is_some() {
                    SessionStatus::Demo
                } else {
                    SessionStatus::Succeeded
                });
                return;
            };
            if !s.progress.phase_started {
                if let Some(s) = self.s() {
                    s.progress.phase_started = true;
                }
                self.emit(EventBody::PhaseStarted {
                    phase: phase.name.clone(),
                    kind: phase.kind.as_str().to_string(),
                });
                self.start_phase(&phase).await;
                continue;
            }
            self.step_phase(&phase);
            self.schedule();
            if self.stop_if_budget_blocks() {
                return;
            }
            let Some(s) = self.session.as_ref() else {
                return;
            };
            match status(s, &phase) {
                PhaseStatus::Running => return,
                PhaseStatus::Done => self.phase_done(&phase).await,
                PhaseStatus::Stalled(message) => {
                    self.phase_stalled(message);
                    return;
                }
                PhaseStatus::Failed(message) => {
                    if !self.phase_failed(&phase, message) {
                        return;
                    }
                }
            }
        }
    }

    /// The phase is complete: the next one starts.
    async fn phase_done(&mut self, phase: &Phase) {
        // The decision record says what the tests ran: once they
        // passed, and again after a review's repairs were tested.
        let retested = self.session.as_ref().is_some_and(|s| s.tests.reviews > 1);
        if phase.kind == PhaseKind::Test || (phase.kind == PhaseKind::Review && retested) {
            self.restage_decisions().await;
        }
        self.emit(EventBody::PhaseFinished {
            phase: phase.name.clone(),
            kind: phase.kind.as_str().to_string(),
        });
        if let Some(s) = self.s() {
            s.progress.phase += 1;
            s.progress.phase_started = false;
            s.progress.stall = None;
        }
    }

    /// A task failed and nothing else can run: headless, the session fails;
    /// interactive, the stall is reported once and the person may retry.
    fn phase_stalled(&mut self, message: String) {
        let interactive = self.session.as_ref().is_some_and(|s| s.options.interactive);
        if !interactive {
            self.fail_session(message);
        } else if self
            .session
            .as_ref()
            .and_then(|s| s.progress.stall.as_ref())
            != Some(&message)
        {
            if let Some(s) = self.s() {
                s.progress.stall = Some(message.clone());
            }
            self.emit(EventBody::Error {
                message: format!("{message}; retry the task (r) or cancel the session"),
            });
        }
    }

    /// The phase failed for good. Interactive, a failed test or review moves
    /// on to deliver for the person to decide (returns `true`: advance goes
    /// on); else the session fails (returns `false`).
    fn phase_failed(&mut self, phase: &Phase, message: String) -> bool {
        let interactive = self.session.as_ref().is_some_and(|s| s.options.interactive);
        let deliver = self
            .workflow
            .phases
            .iter()
            .position(|p| p.kind == PhaseKind::Deliver);
        let at_tests = matches!(phase.kind, PhaseKind::Test | PhaseKind::Review);
        match deliver {
            // Interactive: the person decides. The files stay staged,
            // the report is in the transcript, and nothing is
            // committed unless they press commit.
            Some(index) if interactive && at_tests => {
                self.emit(EventBody::Error {
                    message: format!(
                        "{message}; the files stay staged: review them in the files view (f) and commit anyway from there, or quit to leave DIR untouched (after fixing the cause, `quorum resume` tests them again)"
                    ),
                });
                self.emit(EventBody::PhaseFinished {
                    phase: phase.name.clone(),
                    kind: phase.kind.as_str().to_string(),
                });
                if let Some(s) = self.s() {
                    s.progress.tests_failed = Some(message);
                    s.progress.phase = index;
                    s.progress.phase_started = false;
                    s.progress.stall = None;
                }
                true
            }
            _ => {
                self.fail_session(message);
                false
            }
        }
    }

    /// Stage transitions that happen when a phase's tasks are all done.
    fn step_phase(&mut self, phase: &Phase) {
        let Some(s) = self.session.as_ref() else {
            return;
        };
        let c = TaskCounts::of(s, &phase.name);
        let all_done = c.active == 0 && c.failed.is_empty() && c.total > 0;
        match phase.kind {
            PhaseKind::Test => self.step_test(phase, all_done),
            PhaseKind::Review => self.step_review(phase, all_done),
            PhaseKind::Single
            | PhaseKind::FanOut
            | PhaseKind::Compare
            | PhaseKind::Vote
            | PhaseKind::Resolve
            | PhaseKind::Tasks
            | PhaseKind::Deliver => {}
        }
    }

    /// The JSON input that `build` makes of the session, `Null` without one.
    pub(crate) fn input_of<T: serde::Serialize>(&self, build: impl FnOnce(&Session) -> T) -> Value {
        match self.session.as_ref() {
            Some(s) => inputs::context(&build(s)),
            None => Value::Null,
        }
    }

    /// Queues the tasks a phase starts with.
    async fn start_phase(&mut self, phase: &Phase) {
        let lead = phase.agents.first().cloned().unwrap_or_default();
        match phase.kind {
            PhaseKind::Single => self.start_refine(phase, &lead),
            PhaseKind::FanOut => self.start_plan(phase),
            PhaseKind::Compare => self.start_compare(phase, &lead),
            PhaseKind::Vote => self.start_vote(phase),
            PhaseKind::Resolve => self.start_resolve(phase, &lead),
            PhaseKind::Tasks => self.start_implement(phase, &lead).await,
            PhaseKind::Test => self.start_test(phase, &lead),
            PhaseKind::Review => self.queue_review(phase),
            PhaseKind::Deliver => self.start_deliver().await,
        }
    }

    /// Validates a finished task's reply and applies it: the one dispatch on
    /// the task's kind, to the file of the phase that owns it. `Err` holds the
    /// problem (quoting the reply) for the validation retry.
    pub(crate) async fn accept_output(&mut self, id: &str, text: &str) -> Result<(), String> {
        let Some(task) = self
            .session
            .as_ref()
            .and_then(|s| s.work.tasks.get(id).cloned())
        else {
            return Ok(());
        };
        match task.kind {
            TaskKind::Requirements => self.accept_requirements(&task, text),
            TaskKind::Plan => self.accept_plan(&task, text),
            TaskKind::Compare => self.accept_conflicts(text),
            TaskKind::Ballot => self.accept_ballot(&task, text),
            TaskKind::Chair => self.accept_chair(&task, text),
            TaskKind::Breakdown => self.accept_breakdown(&task, text),
            TaskKind::Implement | TaskKind::Tests | TaskKind::Repair => {
                self.accept_files(&task, text).await
            }
            // Sessions never queue a free question; its text needs no checks.
            TaskKind::Chat => Ok(()),
            TaskKind::Review => self.accept_findings(&task, text),
        }
    }

    /// A task ended without an output (failed or cancelled).
    pub(crate) fn task_failed(&mut self, task: &super::actor::Task) {
        if task.kind == TaskKind::Ballot {
            self.abstain(task);
        }
    }
}

#[cfg(test)]
mod tests;
