//! What each phase kind does (DESIGN.md §1): the tasks it starts and when a
//! phase is complete; `accept` applies its tasks' replies, `resolve` takes the
//! decisions at resolve (and the answers at refine); the test-and-repair loop
//! is `super::testing`. These are `impl Actor` blocks: the state lives in the
//! actor's [`Session`].

use serde_json::Value;

use super::actor::{Actor, Session, Stage, Task};
use super::inputs;
use crate::config::workflow::{Phase, PhaseKind};
use crate::llm::TaskKind;
use crate::protocol::{Event, EventBody, TaskState};
use crate::workspace::paths;

mod accept;
mod resolve;

/// Where the current phase stands.
#[derive(Clone, Debug, PartialEq)]
enum PhaseStatus {
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
struct TaskCounts {
    total: usize,
    done: usize,
    active: usize,
    failed: Vec<String>,
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
                    crate::protocol::SessionStatus::Demo
                } else {
                    crate::protocol::SessionStatus::Succeeded
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
            match self.phase_status(&phase) {
                PhaseStatus::Running => return,
                PhaseStatus::Done => {
                    // The decision record says what the tests ran: once they
                    // passed, and again after a review's repairs were tested.
                    let retested = self.session.as_ref().is_some_and(|s| s.tests.reviews > 1);
                    if phase.kind == PhaseKind::Test
                        || (phase.kind == PhaseKind::Review && retested)
                    {
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
                PhaseStatus::Stalled(message) => {
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
                    return;
                }
                PhaseStatus::Failed(message) => {
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
                        }
                        _ => {
                            self.fail_session(message);
                            return;
                        }
                    }
                }
            }
        }
    }

    /// Whether a task can never start: a dependency (directly or through
    /// another dependency) failed or was cancelled.
    fn blocked(&self, id: &str) -> bool {
        let Some(s) = self.session.as_ref() else {
            return false;
        };
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

    /// A phase's tasks by state. Queued tasks behind a failed dependency are
    /// neither active nor failed: they wait for a retry of that dependency.
    fn counts(&self, phase: &str) -> TaskCounts {
        let mut c = TaskCounts {
            total: 0,
            done: 0,
            active: 0,
            failed: Vec::new(),
        };
        if let Some(s) = self.session.as_ref() {
            for t in s.work.tasks.values().filter(|t| t.phase == phase) {
                c.total += 1;
                match t.state {
                    TaskState::Done => c.done += 1,
                    TaskState::Queued | TaskState::Paused if self.blocked(&t.id) => {}
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
        }
        c
    }

    fn phase_status(&self, phase: &Phase) -> PhaseStatus {
        let Some(s) = self.session.as_ref() else {
            return PhaseStatus::Running;
        };
        let c = self.counts(&phase.name);
        let tasks_done = c.active == 0 && c.failed.is_empty() && c.done == c.total;
        let stalled = c.active == 0 && !c.failed.is_empty();
        let stall =
            || PhaseStatus::Stalled(format!("phase {}: {}", phase.name, c.failed.join("; ")));
        match phase.kind {
            PhaseKind::Single => {
                let answered = s
                    .design
                    .questions
                    .iter()
                    .all(|q| s.design.answers.contains_key(&q.id));
                if tasks_done && s.design.requirements.is_some() && answered {
                    PhaseStatus::Done
                } else if stalled {
                    stall()
                } else {
                    PhaseStatus::Running
                }
            }
            PhaseKind::FanOut | PhaseKind::Compare | PhaseKind::Tasks => {
                let tasks_ready = phase.kind != PhaseKind::Tasks || s.design.breakdown.is_some();
                if tasks_done && tasks_ready {
                    PhaseStatus::Done
                } else if stalled {
                    stall()
                } else {
                    PhaseStatus::Running
                }
            }
            // A failed ballot is an abstention: the vote completes regardless.
            PhaseKind::Vote => {
                if c.active == 0 {
                    PhaseStatus::Done
                } else {
                    PhaseStatus::Running
                }
            }
            PhaseKind::Resolve => {
                if s.design
                    .conflicts
                    .iter()
                    .all(|k| s.design.decisions.contains_key(&k.id))
                {
                    PhaseStatus::Done
                } else if stalled {
                    stall()
                } else {
                    PhaseStatus::Running
                }
            }
            PhaseKind::Test | PhaseKind::Review => {
                let stage = if phase.kind == PhaseKind::Test {
                    s.tests.test_stage
                } else {
                    s.tests.review_stage
                };
                match stage {
                    Stage::Passed => PhaseStatus::Done,
                    Stage::Failed => PhaseStatus::Failed(
                        s.progress
                            .failure
                            .clone()
                            .unwrap_or_else(|| format!("phase {} failed", phase.name)),
                    ),
                    Stage::Writing if stalled => stall(),
                    Stage::Writing | Stage::Running => PhaseStatus::Running,
                }
            }
            PhaseKind::Deliver => {
                if s.progress.delivered {
                    PhaseStatus::Done
                } else {
                    PhaseStatus::Running
                }
            }
        }
    }

    /// Stage transitions that happen when a phase's tasks are all done.
    fn step_phase(&mut self, phase: &Phase) {
        let c = self.counts(&phase.name);
        let all_done = c.active == 0 && c.failed.is_empty() && c.total > 0;
        let Some(s) = self.session.as_ref() else {
            return;
        };
        // A repair round is over: if none of its repairs changed a file, another
        // test run would only fail the same way — stop with a finding instead
        // of burning tokens.
        if all_done
            && s.tests.awaiting_repairs
            && matches!(phase.kind, PhaseKind::Test | PhaseKind::Review)
        {
            let changed = s.tests.round_changed;
            let round: Vec<&Task> = s
                .work
                .tasks
                .values()
                .filter(|t| {
                    t.phase == phase.name
                        && t.kind == TaskKind::Repair
                        && t.id.contains(&s.tests.round_label)
                })
                .collect();
            let owners: Vec<String> = round.iter().map(|t| t.agent.clone()).collect();
            let path = round
                .iter()
                .find_map(|t| t.declared.first().cloned())
                .unwrap_or_default();
            if let Some(s) = self.s() {
                s.tests.awaiting_repairs = false;
            }
            if !changed {
                if self.chair_on_declined(phase) {
                    return;
                }
                let Some(s) = self.session.as_ref() else {
                    return;
                };
                let declined: Vec<String> = s
                    .tests
                    .declined
                    .iter()
                    .map(|(_, agent, reason)| format!("{agent}: {reason}"))
                    .collect();
                let unchanged: Vec<String> = owners
                    .iter()
                    .filter(|o| !s.tests.declined.iter().any(|(_, a, _)| a == *o))
                    .cloned()
                    .collect();
                let mut causes = Vec::new();
                if !declined.is_empty() {
                    causes.push(format!(
                        "no change in the files under repair can fix the failure, say {}",
                        declined.join("; ")
                    ));
                }
                if !unchanged.is_empty() {
                    causes.push(format!(
                        "{} returned the failing files unchanged",
                        unchanged.join(", ")
                    ));
                }
                let text = format!(
                    "the repair round changed nothing ({}); repairs stop here",
                    causes.join("; ")
                );
                self.emit(EventBody::Finding {
                    severity: "medium".into(),
                    path,
                    line: 1,
                    text: text.clone(),
                    blocking: false,
                });
                if let Some(s) = self.s() {
                    s.progress.failure = Some(text);
                    match phase.kind {
                        PhaseKind::Review => s.tests.review_stage = Stage::Failed,
                        _ => s.tests.test_stage = Stage::Failed,
                    }
                }
                return;
            }
        }
        let Some(s) = self.session.as_ref() else {
            return;
        };
        match phase.kind {
            PhaseKind::Test if s.tests.test_stage == Stage::Writing && all_done => {
                self.run_tests(phase)
            }
            // Blocking findings were repaired: test the changed files (then
            // review them again, `testing.rs`); else the review is done.
            PhaseKind::Review if s.tests.review_stage == Stage::Writing && all_done => {
                if s.tests.retest {
                    self.run_tests(phase);
                } else if let Some(s) = self.s() {
                    s.tests.review_stage = Stage::Passed;
                }
            }
            _ => {}
        }
    }

    /// Queues a review of the staged files: `PHASE` the first time, then
    /// `PHASE.N` for the review of repaired files.
    pub(crate) fn queue_review(&mut self, phase: &Phase) {
        let lead = phase.agents.first().cloned().unwrap_or_default();
        let Some(s) = self.s() else {
            return;
        };
        s.tests.review_stage = Stage::Writing;
        s.tests.reviews += 1;
        let id = match s.tests.reviews {
            1 => phase.name.clone(),
            n => format!("{}.{n}", phase.name),
        };
        let context = self.input_of(inputs::ReviewInput::of);
        let task = Actor::new_task(
            id,
            &lead,
            &phase.name,
            TaskKind::Review,
            "review the staged files".into(),
            context,
        );
        self.queue_task(task);
    }

    /// The JSON input that `build` makes of the session, `Null` without one.
    fn input_of<T: serde::Serialize>(&self, build: impl FnOnce(&Session) -> T) -> Value {
        match self.session.as_ref() {
            Some(s) => inputs::context(&build(s)),
            None => Value::Null,
        }
    }

    async fn start_phase(&mut self, phase: &Phase) {
        let lead = phase.agents.first().cloned().unwrap_or_default();
        match phase.kind {
            PhaseKind::Single => {
                let context = self.input_of(inputs::RequirementsInput::of);
                let task = Actor::new_task(
                    phase.name.clone(),
                    &lead,
                    &phase.name,
                    TaskKind::Requirements,
                    "requirements from the prompt".into(),
                    context,
                );
                self.queue_task(task);
            }
            PhaseKind::FanOut => {
                let base = self.input_of(|s| inputs::PlanInput {
                    shared: inputs::Shared::of(s),
                });
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
            PhaseKind::Compare => {
                let context = self.input_of(inputs::CompareInput::of);
                let task = Actor::new_task(
                    phase.name.clone(),
                    &lead,
                    &phase.name,
                    TaskKind::Compare,
                    "compare the plans".into(),
                    context,
                );
                self.queue_task(task);
            }
            PhaseKind::Vote => {
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
                        let context =
                            self.input_of(|s| inputs::BallotInput::of(s, conflict, agent));
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
            PhaseKind::Resolve => self.start_resolve(phase, &lead),
            PhaseKind::Tasks => {
                if let Some(s) = self.session.as_ref() {
                    let workspace = self.workspace.clone();
                    let id = s.id.clone();
                    let prepared =
                        tokio::task::spawn_blocking(move || workspace.prepare_scratch(&id)).await;
                    let problem = match prepared {
                        Ok(Ok(())) => None,
                        Ok(Err(e)) => Some(e.to_string()),
                        Err(e) => Some(e.to_string()),
                    };
                    if let Some(problem) = problem {
                        self.fail_session(format!("cannot prepare the scratch tree: {problem}"));
                        return;
                    }
                }
                self.stage_decisions(&lead, &phase.name).await;
                let context = self.input_of(|s| inputs::BreakdownInput::of(s, &phase.agents));
                let mut task = Actor::new_task(
                    format!("{}.breakdown", phase.name),
                    &lead,
                    &phase.name,
                    TaskKind::Breakdown,
                    "break the design into tasks".into(),
                    context,
                );
                task.priority = 10;
                self.queue_task(task);
            }
            PhaseKind::Test => {
                if let Some(s) = self.s() {
                    s.tests.test_stage = Stage::Writing;
                }
                self.plan_components();
                let files = ["tests/".to_string(), paths::TEST_FILES.to_string()];
                let context = self.input_of(|s| inputs::TestsInput::of(s, &files));
                let mut task = Actor::new_task(
                    format!("{}.write", phase.name),
                    &lead,
                    &phase.name,
                    TaskKind::Tests,
                    "write the tests".into(),
                    context,
                );
                task.declared = files.to_vec();
                self.queue_task(task);
            }
            PhaseKind::Review => self.queue_review(phase),
            PhaseKind::Deliver => {
                let interactive = self.session.as_ref().is_some_and(|s| s.options.interactive);
                if interactive {
                    let message = self.commit_summary();
                    self.ephemeral(Event::DeliveryReady { message });
                } else {
                    self.deliver(None).await;
                }
            }
        }
    }
}
