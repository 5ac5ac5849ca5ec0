//! What each phase kind does (DESIGN.md §1): the tasks it starts, how its tasks'
//! outputs are accepted, the person's decisions at resolve, the test-and-repair
//! loop, and when a phase is complete. These are `impl Actor` blocks: the state
//! lives in the actor's [`Session`].

use std::collections::BTreeMap;

use serde_json::Value;

use super::actor::{Actor, Decision, Session, Stage, StagedFile, Task};
use super::inputs;
use super::outputs::{self, Ballot, Breakdown, Conflicts, Findings, Plan, Requirements};
use crate::config::workflow::{Phase, PhaseKind};
use crate::llm::TaskKind;
use crate::protocol::{DecidedBy, Event, EventBody, LineKind, TaskState};
use crate::workspace::paths;

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
        self.workflow.phases.get(s.phase).cloned()
    }

    /// Moves the session forward as far as it can go now.
    pub(crate) async fn advance(&mut self) {
        loop {
            let Some(s) = self.session.as_ref() else {
                return;
            };
            if s.finished.is_some() {
                return;
            }
            let Some(phase) = self.current_phase() else {
                self.finish(crate::protocol::SessionStatus::Succeeded);
                return;
            };
            if !s.phase_started {
                if let Some(s) = self.s() {
                    s.phase_started = true;
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
                    self.emit(EventBody::PhaseFinished {
                        phase: phase.name.clone(),
                        kind: phase.kind.as_str().to_string(),
                    });
                    if let Some(s) = self.s() {
                        s.phase += 1;
                        s.phase_started = false;
                        s.stall = None;
                    }
                }
                PhaseStatus::Stalled(message) => {
                    let interactive = self.session.as_ref().is_some_and(|s| s.options.interactive);
                    if !interactive {
                        self.fail_session(message);
                    } else if self.session.as_ref().and_then(|s| s.stall.as_ref()) != Some(&message)
                    {
                        if let Some(s) = self.s() {
                            s.stall = Some(message.clone());
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
                                    "{message}; the files stay staged: review them and commit anyway (C), or quit to leave DIR untouched (after fixing the cause, `quorum resume` tests them again)"
                                ),
                            });
                            self.emit(EventBody::PhaseFinished {
                                phase: phase.name.clone(),
                                kind: phase.kind.as_str().to_string(),
                            });
                            if let Some(s) = self.s() {
                                s.tests_failed = Some(message);
                                s.phase = index;
                                s.phase_started = false;
                                s.stall = None;
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
            let Some(task) = s.tasks.get(id) else {
                continue;
            };
            for dep in &task.deps {
                match s.tasks.get(dep).map(|d| d.state) {
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
            for t in s.tasks.values().filter(|t| t.phase == phase) {
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
                let answered = s.questions.iter().all(|q| s.answers.contains_key(&q.id));
                if tasks_done && s.requirements.is_some() && answered {
                    PhaseStatus::Done
                } else if stalled {
                    stall()
                } else {
                    PhaseStatus::Running
                }
            }
            PhaseKind::FanOut | PhaseKind::Compare | PhaseKind::Tasks => {
                let tasks_ready = phase.kind != PhaseKind::Tasks || s.breakdown.is_some();
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
                if s.conflicts.iter().all(|k| s.decisions.contains_key(&k.id)) {
                    PhaseStatus::Done
                } else if stalled {
                    stall()
                } else {
                    PhaseStatus::Running
                }
            }
            PhaseKind::Test | PhaseKind::Review => {
                let stage = if phase.kind == PhaseKind::Test {
                    s.test_stage
                } else {
                    s.review_stage
                };
                match stage {
                    Stage::Passed => PhaseStatus::Done,
                    Stage::Failed => PhaseStatus::Failed(
                        s.failure
                            .clone()
                            .unwrap_or_else(|| format!("phase {} failed", phase.name)),
                    ),
                    Stage::Writing if stalled => stall(),
                    Stage::Writing | Stage::Running => PhaseStatus::Running,
                }
            }
            PhaseKind::Deliver => {
                if s.delivered {
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
            && s.awaiting_repairs
            && matches!(phase.kind, PhaseKind::Test | PhaseKind::Review)
        {
            let changed = s.round_changed;
            let round: Vec<&Task> = s
                .tasks
                .values()
                .filter(|t| {
                    t.phase == phase.name
                        && t.kind == TaskKind::Repair
                        && t.id.contains(&s.round_label)
                })
                .collect();
            let owners: Vec<String> = round.iter().map(|t| t.agent.clone()).collect();
            let path = round
                .iter()
                .find_map(|t| t.declared.first().cloned())
                .unwrap_or_default();
            if let Some(s) = self.s() {
                s.awaiting_repairs = false;
            }
            if !changed {
                if self.chair_on_declined(phase) {
                    return;
                }
                let Some(s) = self.session.as_ref() else {
                    return;
                };
                let declined: Vec<String> = s
                    .declined
                    .iter()
                    .map(|(_, agent, reason)| format!("{agent}: {reason}"))
                    .collect();
                let unchanged: Vec<String> = owners
                    .iter()
                    .filter(|o| !s.declined.iter().any(|(_, a, _)| a == *o))
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
                    s.failure = Some(text);
                    match phase.kind {
                        PhaseKind::Review => s.review_stage = Stage::Failed,
                        _ => s.test_stage = Stage::Failed,
                    }
                }
                return;
            }
        }
        let Some(s) = self.session.as_ref() else {
            return;
        };
        match phase.kind {
            PhaseKind::Test if s.test_stage == Stage::Writing && all_done => self.run_tests(phase),
            PhaseKind::Review if s.review_stage == Stage::Writing && all_done => {
                let repaired = s
                    .tasks
                    .values()
                    .any(|t| t.phase == phase.name && t.kind == TaskKind::Repair);
                if repaired {
                    self.run_tests(phase);
                } else if let Some(s) = self.s() {
                    s.review_stage = Stage::Passed;
                }
            }
            _ => {}
        }
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
                    Some(s) => s.conflicts.clone(),
                    None => return,
                };
                for conflict in &conflicts {
                    if self
                        .session
                        .as_ref()
                        .is_some_and(|s| s.decisions.contains_key(&conflict.id))
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
                    s.test_stage = Stage::Writing;
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
            PhaseKind::Review => {
                if let Some(s) = self.s() {
                    s.review_stage = Stage::Writing;
                }
                let context = self.input_of(inputs::ReviewInput::of);
                let task = Actor::new_task(
                    phase.name.clone(),
                    &lead,
                    &phase.name,
                    TaskKind::Review,
                    "review the staged files".into(),
                    context,
                );
                self.queue_task(task);
            }
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

    /// The valid ballots per option, and the option with more than half of them.
    pub(crate) fn tally(&self, conflict: &str) -> (BTreeMap<String, u32>, Option<String>) {
        let mut counts: BTreeMap<String, u32> = BTreeMap::new();
        let Some(s) = self.session.as_ref() else {
            return (counts, None);
        };
        if let Some(k) = s.conflicts.iter().find(|k| k.id == conflict) {
            for option in &k.options {
                counts.insert(option.clone(), 0);
            }
        }
        let mut valid = 0;
        for ballot in s
            .ballots
            .get(conflict)
            .into_iter()
            .flat_map(|b| b.values())
            .flatten()
        {
            *counts.entry(ballot.option.clone()).or_insert(0) += 1;
            valid += 1;
        }
        let winner = counts
            .iter()
            .find(|(_, n)| **n * 2 > valid)
            .map(|(o, _)| o.clone());
        (counts, winner)
    }

    fn start_resolve(&mut self, phase: &Phase, chair: &str) {
        let Some(s) = self.session.as_ref() else {
            return;
        };
        let interactive = s.options.interactive;
        let confirm = self.settings.ui.confirm_decisions;
        let open: Vec<_> = s
            .conflicts
            .iter()
            .filter(|k| !s.decisions.contains_key(&k.id))
            .cloned()
            .collect();
        for conflict in open {
            let (tally, winner) = self.tally(&conflict.id);
            // A conflict the chair flagged for a person is settled like a tie.
            let winner = winner.filter(|_| !conflict.needs_human);
            match winner {
                Some(option) if !interactive || !confirm => {
                    self.decide(
                        &conflict.id,
                        &option,
                        DecidedBy::Vote,
                        "majority of the ballots".into(),
                    );
                }
                Some(_) => {}
                None if interactive => {}
                None => {
                    let context = self.input_of(|s| inputs::ChairInput::of(s, &conflict, &tally));
                    let mut task = Actor::new_task(
                        format!("{}.{}", phase.name, conflict.id),
                        chair,
                        &phase.name,
                        TaskKind::Chair,
                        format!("break the tie on {}", conflict.topic),
                        context,
                    );
                    task.subject = Some(conflict.id.clone());
                    self.queue_task(task);
                }
            }
        }
        let waiting = self
            .session
            .as_ref()
            .is_some_and(|s| s.conflicts.iter().any(|k| !s.decisions.contains_key(&k.id)));
        if interactive && waiting {
            self.note(
                chair,
                &phase.name,
                "⏳ waiting for the person to confirm the decisions (c: conflicts)",
            );
        }
    }

    /// Records a conflict's decision.
    pub(crate) fn decide(
        &mut self,
        conflict: &str,
        option: &str,
        by: DecidedBy,
        rationale: String,
    ) {
        let (tally, _) = self.tally(conflict);
        let decision = Decision {
            option: option.to_string(),
            decided_by: by,
            tally: tally.clone(),
            rationale,
        };
        if let Some(s) = self.s() {
            s.decisions.insert(conflict.to_string(), decision.clone());
        }
        self.record("output", &format!("decision/{conflict}"), &decision);
        self.emit(EventBody::ConflictResolved {
            conflict: conflict.to_string(),
            option: option.to_string(),
            decided_by: by,
            tally,
        });
    }

    fn in_phase(&self, kind: PhaseKind) -> bool {
        self.current_phase().is_some_and(|p| p.kind == kind)
    }

    /// Whether decisions may still change: implementation has not started.
    fn decisions_open(&self) -> bool {
        let Some(s) = self.session.as_ref() else {
            return false;
        };
        let tasks_at = self
            .workflow
            .position(PhaseKind::Tasks)
            .unwrap_or(usize::MAX);
        s.finished.is_none() && s.phase < tasks_at
    }

    pub(crate) fn pick(&mut self, conflict: &str, option: &str) {
        if !self.in_phase(PhaseKind::Resolve) {
            return self.reject_op("pick", "decisions are picked in the resolve phase");
        }
        let Some(s) = self.session.as_ref() else {
            return;
        };
        let Some(k) = s.conflicts.iter().find(|k| k.id == conflict) else {
            return self.reject_op("pick", format!("no conflict `{conflict}`"));
        };
        if !k.options.iter().any(|o| o == option) {
            return self.reject_op(
                "pick",
                format!("`{option}` is not an option of `{conflict}`"),
            );
        }
        if s.decisions.contains_key(conflict) {
            return self.reject_op(
                "pick",
                format!("`{conflict}` is decided; override it (o) to change it"),
            );
        }
        self.decide(
            conflict,
            option,
            DecidedBy::Human,
            "picked by the person".into(),
        );
    }

    pub(crate) fn accept_votes(&mut self) {
        if !self.in_phase(PhaseKind::Resolve) {
            return self.reject_op(
                "accept votes",
                "vote results are accepted in the resolve phase",
            );
        }
        let open: Vec<String> = self
            .session
            .as_ref()
            .map(|s| {
                s.conflicts
                    .iter()
                    .filter(|k| !s.decisions.contains_key(&k.id))
                    .map(|k| k.id.clone())
                    .collect()
            })
            .unwrap_or_default();
        for id in open {
            let for_a_person = self
                .session
                .as_ref()
                .and_then(|s| s.conflicts.iter().find(|k| k.id == id))
                .is_some_and(|k| k.needs_human);
            if for_a_person {
                continue;
            }
            if let (_, Some(option)) = self.tally(&id) {
                self.decide(
                    &id,
                    &option,
                    DecidedBy::Vote,
                    "majority of the ballots".into(),
                );
            }
        }
    }

    pub(crate) fn override_decision(&mut self, conflict: &str, option: &str, note: &str) {
        if !self.decisions_open() {
            return self.reject_op(
                "override",
                "implementation has started; decisions are final",
            );
        }
        let Some(s) = self.session.as_ref() else {
            return;
        };
        let Some(k) = s.conflicts.iter().find(|k| k.id == conflict) else {
            return self.reject_op("override", format!("no conflict `{conflict}`"));
        };
        if !k.options.iter().any(|o| o == option) {
            return self.reject_op(
                "override",
                format!("`{option}` is not an option of `{conflict}`"),
            );
        }
        let previous = s.decisions.get(conflict).map(|d| d.option.clone());
        let from = previous.clone().or_else(|| self.tally(conflict).1);
        if let Some(s) = self.s() {
            s.overrides
                .insert(conflict.to_string(), (from.clone(), note.to_string()));
        }
        self.emit(EventBody::DecisionOverridden {
            conflict: conflict.to_string(),
            from,
            to: option.to_string(),
            note: note.to_string(),
        });
        if previous.is_some() {
            let updated = self.s().and_then(|s| {
                let d = s.decisions.get_mut(conflict)?;
                d.option = option.to_string();
                d.decided_by = DecidedBy::Human;
                d.rationale = note.to_string();
                Some(d.clone())
            });
            if let Some(d) = updated {
                self.record("output", &format!("decision/{conflict}"), &d);
            }
        } else {
            self.decide(conflict, option, DecidedBy::Human, note.to_string());
        }
    }

    fn reject_op(&mut self, op: &str, reason: impl Into<String>) {
        self.ephemeral(Event::Rejected {
            op: op.to_string(),
            reason: reason.into(),
        });
    }

    pub(crate) fn answer(&mut self, question: &str, answer: &str, by: &str) {
        let Some(s) = self.session.as_ref() else {
            return self.reject_op("answer", "no session");
        };
        if !s.questions.iter().any(|q| q.id == question) {
            return self.reject_op("answer", format!("no question `{question}`"));
        }
        if s.answers.contains_key(question) {
            return self.reject_op("answer", format!("question `{question}` is answered"));
        }
        let assumed = by == "default";
        let updated = self.s().and_then(|s| {
            s.answers.insert(question.to_string(), answer.to_string());
            let text = s.questions.iter().find(|q| q.id == question)?.text.clone();
            let req = s.requirements.as_mut()?;
            // An unanswered question proceeds on its stated assumption, which
            // the requirements then record (headless without --answers).
            if assumed {
                req.assumptions.push(format!("{text} — assumed: {answer}"));
            }
            Some(req.clone())
        });
        if let Some(req) = updated {
            self.record("output", "requirements", &req);
        }
        let answers = self
            .session
            .as_ref()
            .map(|s| s.answers.clone())
            .unwrap_or_default();
        self.record("output", "answers", &answers);
        self.emit(EventBody::QuestionAnswered {
            id: question.to_string(),
            answer: answer.to_string(),
            by: by.to_string(),
        });
    }

    /// Validates a finished task's reply and applies it. `Err` holds the problem
    /// (quoting the reply) for the validation retry.
    pub(crate) async fn accept_output(&mut self, id: &str, text: &str) -> Result<(), String> {
        let Some(task) = self.session.as_ref().and_then(|s| s.tasks.get(id).cloned()) else {
            return Ok(());
        };
        match task.kind {
            TaskKind::Requirements => {
                let req: Requirements = outputs::parse_json(text)?;
                let mut ids = std::collections::BTreeSet::new();
                if let Some(q) = req.questions.iter().find(|q| !ids.insert(q.id.clone())) {
                    return Err(format!("question id `{}` is used twice", q.id));
                }
                let mut req = req;
                let cap = self.settings.session.max_questions;
                if req.questions.len() > cap {
                    let dropped = req.questions.len() - cap;
                    req.questions.truncate(cap);
                    self.note(
                        &task.agent,
                        &task.id,
                        &format!("{dropped} question(s) over the limit of {cap} ([session] max_questions) were dropped"),
                    );
                }
                self.record("output", "requirements", &req);
                let questions = req.questions.clone();
                if let Some(s) = self.s() {
                    s.requirements = Some(req);
                    s.questions = questions.clone();
                }
                for q in questions {
                    self.emit(EventBody::QuestionAsked {
                        id: q.id.clone(),
                        text: q.text.clone(),
                        default: q.default.clone(),
                    });
                    let (given, interactive) = match self.session.as_ref() {
                        Some(s) => (s.options.answers.get(&q.id).cloned(), s.options.interactive),
                        None => (None, false),
                    };
                    match given {
                        Some(answer) => self.answer(&q.id, &answer, "answers_file"),
                        None if !interactive => self.answer(&q.id, &q.default, "default"),
                        None => {}
                    }
                }
            }
            TaskKind::Plan => {
                let plan: Plan = outputs::parse_json(text)?;
                self.record("output", &format!("plan/{}", task.agent), &plan);
                if let Some(s) = self.s() {
                    s.plans.insert(task.agent.clone(), plan);
                }
            }
            TaskKind::Compare => {
                let conflicts: Conflicts = outputs::parse_json(text)?;
                let planners: Vec<String> = self
                    .session
                    .as_ref()
                    .map(|s| s.plans.keys().cloned().collect())
                    .unwrap_or_default();
                outputs::check_conflicts(&conflicts, &planners)?;
                self.record("output", "conflicts", &conflicts);
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
                    s.conflicts = conflicts.conflicts;
                }
            }
            TaskKind::Ballot | TaskKind::Chair => {
                let ballot: Ballot = outputs::parse_json(text)?;
                let conflict = task.subject.clone().unwrap_or_default();
                let options = self
                    .session
                    .as_ref()
                    .and_then(|s| s.conflicts.iter().find(|k| k.id == conflict))
                    .map(|k| k.options.clone())
                    .unwrap_or_default();
                outputs::check_ballot(&ballot, &options)?;
                if task.kind == TaskKind::Chair {
                    self.decide(
                        &conflict,
                        &ballot.option,
                        DecidedBy::Chair,
                        ballot.rationale.clone(),
                    );
                } else {
                    self.record(
                        "output",
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
                        s.ballots
                            .entry(conflict)
                            .or_default()
                            .insert(task.agent.clone(), Some(ballot));
                    }
                }
            }
            TaskKind::Breakdown => {
                let mut breakdown: Breakdown = outputs::parse_json(text)?;
                let phase = self.current_phase();
                let owners = phase.as_ref().map(|p| p.agents.clone()).unwrap_or_default();
                outputs::check_breakdown(&breakdown, &owners)?;
                for (later, earlier) in outputs::serialize_shared_files(&mut breakdown) {
                    self.note(
                        &task.agent,
                        &task.id,
                        &format!(
                            "⇢ `{later}` declares a file `{earlier}` declares too: it runs after it"
                        ),
                    );
                }
                self.record("output", "breakdown", &breakdown);
                for t in &breakdown.tasks {
                    let context = self.input_of(|s| inputs::ImplementInput::of(s, t));
                    let mut impl_task = Actor::new_task(
                        format!("{}.{}", task.phase, t.id),
                        &t.agent,
                        &task.phase,
                        TaskKind::Implement,
                        t.title.clone(),
                        context,
                    );
                    impl_task.deps = t
                        .depends_on
                        .iter()
                        .map(|d| format!("{}.{d}", task.phase))
                        .collect();
                    impl_task.declared = t.files.clone();
                    self.queue_task(impl_task);
                }
                if let Some(s) = self.s() {
                    s.breakdown = Some(breakdown);
                }
            }
            TaskKind::Implement | TaskKind::Tests | TaskKind::Repair => {
                // Tests for a project that already has some may stand as they are.
                let has_tests = self.session.as_ref().is_some_and(|s| {
                    s.project.as_ref().is_some_and(|p| {
                        p["files"].as_array().is_some_and(|files| {
                            files
                                .iter()
                                .filter_map(Value::as_str)
                                .any(crate::workspace::stack::is_test_path)
                        })
                    })
                });
                // A repair may decline (no file blocks: its reason instead).
                let blocks = if (task.kind == TaskKind::Tests && has_tests)
                    || task.kind == TaskKind::Repair
                {
                    outputs::parse_file_blocks_or_none(text)?
                } else {
                    outputs::parse_file_blocks(text)?
                };
                if blocks.is_empty() && task.kind == TaskKind::Repair {
                    self.repair_declined(&task, text);
                    return Ok(());
                }
                if let Some(summary) = outputs::summary_line(text) {
                    self.note(&task.agent, &task.id, &format!("✎ {summary}"));
                    self.emit(EventBody::TaskSummary {
                        task: task.id.clone(),
                        agent: task.agent.clone(),
                        summary: summary.clone(),
                    });
                    if let Some(s) = self.s() {
                        s.summaries.insert(task.id.clone(), summary);
                    }
                }
                if blocks.is_empty() {
                    self.note(
                        &task.agent,
                        &task.id,
                        "= no new tests: the project's existing tests stand",
                    );
                    return Ok(());
                }
                if task.kind == TaskKind::Repair {
                    let unchanged = self.session.as_ref().is_some_and(|s| {
                        blocks.iter().all(|b| {
                            paths::normalize(&b.path)
                                .ok()
                                .and_then(|p| s.files.get(&p))
                                .is_some_and(|f| f.content == b.content)
                        })
                    });
                    if unchanged {
                        // Not every owner named in a failure is at fault; the
                        // round as a whole must change something (step_phase).
                        self.note(
                            &task.agent,
                            &task.id,
                            "= no change: the files are as they were",
                        );
                        return Ok(());
                    }
                    if let Some(s) = self.s() {
                        s.round_changed = true;
                    }
                }
                self.stage_files(&task, blocks).await?;
            }
            // Sessions never queue a free question; its text needs no checks.
            TaskKind::Chat => {}
            TaskKind::Review => {
                let findings: Findings = outputs::parse_json(text)?;
                outputs::check_findings(&findings)?;
                self.record("output", "findings", &findings);
                for f in &findings.findings {
                    self.emit(EventBody::Finding {
                        severity: f.severity.clone(),
                        path: f.path.clone(),
                        line: f.line,
                        text: f.text.clone(),
                        blocking: f.blocking,
                    });
                }
                let blocking: Vec<_> = findings
                    .findings
                    .iter()
                    .filter(|f| f.blocking)
                    .cloned()
                    .collect();
                if let Some(s) = self.s() {
                    s.findings = findings.findings;
                }
                if !blocking.is_empty() {
                    let report = blocking
                        .iter()
                        .map(|f| format!("{} {}:{}: {}", f.severity, f.path, f.line, f.text))
                        .collect::<Vec<_>>()
                        .join("\n");
                    let paths: Vec<String> = blocking.iter().map(|f| f.path.clone()).collect();
                    let label = match self.s() {
                        Some(s) => {
                            s.repair_rounds += 1;
                            format!("fix{}", s.repair_rounds)
                        }
                        None => "fix".into(),
                    };
                    self.queue_repairs(&task.phase, &label, &paths, &report, &task.agent);
                }
            }
        }
        Ok(())
    }

    /// Stages a task's file blocks under the path rules; refusals become
    /// `path_refused` events. Fails when every block was refused.
    async fn stage_files(
        &mut self,
        task: &Task,
        blocks: Vec<outputs::FileBlock>,
    ) -> Result<(), String> {
        let Some(session) = self.session.as_ref().map(|s| s.id.clone()) else {
            return Ok(());
        };
        let mut staged = 0;
        let mut refused = Vec::new();
        for block in blocks {
            // Size limits: this file, and the session's other staged files.
            let elsewhere = |p: &str| -> u64 {
                self.session.as_ref().map_or(0, |s| {
                    s.files
                        .iter()
                        .filter(|(k, _)| k.as_str() != p)
                        .map(|(_, f)| f.content.len() as u64)
                        .sum()
                })
            };
            let checked = paths::normalize(&block.path)
                .and_then(|p| paths::check_declared(&p, &task.declared).map(|()| p))
                .and_then(|p| paths::check_size(block.content.len(), elsewhere(&p)).map(|()| p));
            let path = match checked {
                Ok(path) => path,
                Err(refusal) => {
                    refused.push(format!("{}: {refusal}", block.path));
                    self.refuse(&block.path, &task.agent, &task.id, &refusal.to_string());
                    continue;
                }
            };
            let workspace = self.workspace.clone();
            let (sid, p, content) = (session.clone(), path.clone(), block.content.clone());
            // Staged, with what DIR holds there now (the base a hand edit is
            // told from at delivery), off the actor's thread.
            let result = tokio::task::spawn_blocking(move || {
                let change = workspace.stage(&sid, &p, content.as_bytes())?;
                Ok((change, workspace.content_id(&p).ok()))
            })
            .await
            .map_err(|e| e.to_string())
            // The event names the path: the reason alone.
            .and_then(|r: Result<_, crate::workspace::WorkspaceError>| r.map_err(|e| e.reason()));
            let (change, base) = match result {
                Ok(staged) => staged,
                Err(reason) => {
                    refused.push(format!("{path}: {reason}"));
                    self.refuse(&path, &task.agent, &task.id, &reason);
                    continue;
                }
            };
            let accepted = match change {
                crate::protocol::FileChange::New => true,
                crate::protocol::FileChange::Modified => false,
            };
            let file = StagedFile {
                content: block.content.clone(),
                agent: task.agent.clone(),
                task: task.id.clone(),
                change,
                accepted,
                base,
            };
            self.record("file", &path, &file);
            if let Some(s) = self.s() {
                s.files.insert(path.clone(), file);
            }
            self.note(
                &task.agent,
                &task.id,
                &format!("✚ staged {path} ({} bytes)", block.content.len()),
            );
            self.emit(EventBody::FileStaged {
                path,
                agent: task.agent.clone(),
                bytes: block.content.len() as u64,
                change,
            });
            staged += 1;
        }
        if staged == 0 {
            return Err(format!("every file was refused: {}", refused.join("; ")));
        }
        Ok(())
    }

    fn refuse(&mut self, path: &str, agent: &str, task: &str, reason: &str) {
        self.line(
            agent,
            task,
            LineKind::Error,
            &format!("⊘ refused {path}: {reason}"),
            false,
        );
        self.emit(EventBody::PathRefused {
            path: path.to_string(),
            agent: agent.to_string(),
            reason: reason.to_string(),
        });
    }

    /// A task ended without an output.
    pub(crate) fn task_failed(&mut self, task: &Task) {
        if task.kind == TaskKind::Ballot {
            let conflict = task.subject.clone().unwrap_or_default();
            if let Some(s) = self.s() {
                s.ballots
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
}
