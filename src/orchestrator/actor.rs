//! The orchestrator actor: owns the session state, the scheduler, and (through
//! the committer) the store; receives [`Op`]s from consumers and reports from its
//! child tasks (model calls, test runs); emits every change as an event.
//!
//! One loop iteration handles one message, lets the phases advance, and hands the
//! iteration's writes and events to the committer as one group. The actor never
//! waits for a flush; consumers see events only after theirs.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio_util::sync::CancellationToken;

use super::call::{self, CallEvent, CallMsg};
use super::committer::Group;
use super::scheduler::Scheduler;
use crate::config::Settings;
use crate::config::workflow::{PhaseKind, Workflow};
use crate::llm::{CallMeta, ChatRequest, SharedProvider, TaskKind, Usage};
use crate::protocol::{
    Event, EventBody, LineKind, LoggedEvent, Op, SCHEMA_VERSION, SessionId, SessionOptions,
    SessionStatus, TaskState, TranscriptLine,
};
use crate::store::{SessionRecord, Store, Write};
use crate::workspace::Workspace;
use crate::workspace::sandbox::TestOutcome;

pub(crate) use super::session::{Decision, Session, Stage, StagedFile, Task};

/// Reports from the actor's child tasks.
#[derive(Debug)]
pub(crate) enum Inbox {
    /// A component's setup step of test round `round` finished; `fingerprint`
    /// names its inputs (see `testing.rs`).
    SetupDone {
        round: u32,
        component: crate::workspace::stack::Component,
        outcome: crate::workspace::sandbox::SetupOutcome,
        fingerprint: String,
    },
    /// A component's setup step was skipped: its inputs did not change since
    /// it last succeeded.
    SetupReused {
        round: u32,
        component: crate::workspace::stack::Component,
    },
    /// A component's test run of round `round` finished.
    TestDone { round: u32, outcome: TestOutcome },
    /// Every component of round `round` has run.
    RoundDone { round: u32 },
    /// The pytest probe ([`crate::workspace::stack::pytest_installed`])
    /// has its answer cached; the test run it held back can start.
    PytestProbed,
}

/// The actor.
pub(crate) struct Actor {
    pub settings: Arc<Settings>,
    pub workflow: Workflow,
    pub store: Store,
    pub workspace: Workspace,
    pub providers: BTreeMap<String, SharedProvider>,
    /// Each provider's health (circuit breaker, unauthorised mark), by name.
    pub health: BTreeMap<String, Arc<crate::llm::health::Health>>,
    /// Models already reported as missing from the price table.
    pub unpriced: std::collections::BTreeSet<String>,
    pub ops: UnboundedReceiver<Op>,
    pub calls_tx: UnboundedSender<CallMsg>,
    pub calls_rx: UnboundedReceiver<CallMsg>,
    pub inbox_tx: UnboundedSender<Inbox>,
    pub inbox_rx: UnboundedReceiver<Inbox>,
    pub failures: UnboundedReceiver<String>,
    pub committer: UnboundedSender<Group>,
    pub group: Group,
    pub group_lines: Vec<TranscriptLine>,
    pub session: Option<Session>,
    pub shutting_down: bool,
    /// The agents' notes for DIR (`None` until first read from the db).
    pub memory: Option<BTreeMap<String, String>>,
    /// A hash of the session state last stored (the `state`/`session` record),
    /// so that a group stores it only when it changed.
    pub snapshot: Option<u64>,
    /// The pytest probe runs on a blocking thread (it starts an interpreter,
    /// 50-150 ms); the test run waits for it instead of the actor.
    pub probing_pytest: bool,
}

pub(crate) use super::now;

/// Bytes of existing files' contents a project map carries (about 24k tokens).
pub const PROJECT_MAP_BYTES: usize = 96 * 1024;

/// Writes an event to the log file: the milestones at info, trouble at warn or
/// error, the rest at debug. Never a prompt's or reply's text, never a key.
fn log_event(session: &str, seq: u64, body: &EventBody) {
    let kind = body.type_name();
    match body {
        EventBody::SessionStarted {
            dir,
            workflow,
            agents,
            ..
        } => {
            tracing::info!(
                session,
                seq,
                dir,
                workflow,
                agents = agents.len(),
                "session started"
            );
        }
        EventBody::PhaseStarted { phase, kind } | EventBody::PhaseFinished { phase, kind } => {
            tracing::info!(session, seq, phase, kind, "{}", body.type_name());
        }
        EventBody::TaskFailed { task, error, .. } => {
            tracing::warn!(session, seq, task, error, "task failed");
        }
        EventBody::TaskRetrying {
            task,
            attempt,
            reason,
            delay_ms,
        } => {
            tracing::warn!(
                session,
                seq,
                task,
                attempt,
                reason,
                delay_ms,
                "task retrying"
            );
        }
        EventBody::ProviderFallback {
            task,
            from,
            to,
            reason,
        } => {
            tracing::warn!(session, seq, task, from, to, reason, "provider fallback");
        }
        EventBody::PathRefused {
            path,
            agent,
            reason,
        } => {
            tracing::warn!(session, seq, path, agent, reason, "path refused");
        }
        EventBody::ConflictResolved {
            conflict,
            option,
            decided_by,
            ..
        } => {
            tracing::info!(
                session,
                seq,
                conflict,
                option,
                ?decided_by,
                "conflict resolved"
            );
        }
        EventBody::TestRun {
            round,
            command,
            passed,
            failed,
            status,
            ..
        } => {
            tracing::info!(
                session,
                seq,
                round,
                command,
                passed,
                failed,
                ?status,
                "test run"
            );
        }
        EventBody::CommitCreated { sha, repo, files } => {
            tracing::info!(
                session,
                seq,
                sha,
                repo,
                files = files.len(),
                "commit created"
            );
        }
        EventBody::SessionFinished {
            status,
            tokens_in,
            tokens_out,
            ..
        } => {
            tracing::info!(
                session,
                seq,
                ?status,
                tokens_in,
                tokens_out,
                "session finished"
            );
        }
        EventBody::Error { message } => tracing::error!(session, seq, message, "session error"),
        _ => tracing::debug!(session, seq, kind, "event"),
    }
}

impl Actor {
    /// Runs until [`Op::Shutdown`] or until every op sender is gone.
    pub async fn run(mut self) {
        loop {
            tokio::select! {
                op = self.ops.recv() => match op {
                    Some(op) => self.on_op(op).await,
                    None => self.shutting_down = true,
                },
                Some(msg) = self.calls_rx.recv() => self.on_call(msg).await,
                Some(msg) = self.inbox_rx.recv() => self.on_inbox(msg),
                Some(message) = self.failures.recv() => self.on_store_failure(message),
            }
            self.advance().await;
            self.commit_group();
            if self.shutting_down {
                break;
            }
        }
        if let Some(s) = self.session.as_mut() {
            for token in s.live.cancels.values() {
                token.cancel();
            }
        }
        self.commit_group();
        // Dropping the committer's sender lets it flush, release and close.
    }

    /// The running session (`None` before `Op::Start`).
    pub fn s(&mut self) -> Option<&mut Session> {
        self.session.as_mut()
    }

    /// Records an event in the current group.
    pub fn emit(&mut self, body: EventBody) {
        let Some(s) = self.session.as_mut() else {
            return;
        };
        s.live.seq += 1;
        log_event(s.id.as_str(), s.live.seq, &body);
        let event = LoggedEvent {
            v: SCHEMA_VERSION,
            seq: s.live.seq,
            session: s.id.clone(),
            at: now(),
            body,
        };
        self.group.writes.push(Write::Event(event.clone()));
        self.group.events.push(Event::Logged(event));
    }

    /// Sends an ephemeral event (in order with the current group).
    pub fn ephemeral(&mut self, event: Event) {
        self.group.events.push(event);
    }

    /// Stores a per-session record in the current group.
    pub fn record<T: Serialize>(&mut self, kind: &'static str, name: &str, value: &T) {
        let Some(s) = self.session.as_ref() else {
            return;
        };
        let value = serde_json::to_value(value).unwrap_or(Value::Null);
        self.group.writes.push(Write::Record {
            session: s.id.clone(),
            kind,
            name: name.to_string(),
            value,
        });
    }

    /// Appends a transcript line.
    pub fn line(&mut self, agent: &str, task: &str, kind: LineKind, text: &str, ends_call: bool) {
        let Some(s) = self.session.as_mut() else {
            return;
        };
        let agent_seq = s.live.agent_line_seq.entry(agent.to_string()).or_insert(0);
        let line = TranscriptLine {
            seq: s.live.line_seq,
            agent_seq: *agent_seq,
            agent: agent.to_string(),
            task: task.to_string(),
            kind,
            text: text.to_string(),
            ends_call,
        };
        s.live.line_seq += 1;
        *agent_seq += 1;
        self.group.writes.push(Write::Line {
            session: s.id.clone(),
            line: line.clone(),
        });
        self.group_lines.push(line);
    }

    /// A note line in an agent's transcript.
    pub fn note(&mut self, agent: &str, task: &str, text: &str) {
        self.line(agent, task, LineKind::Note, text, false);
    }

    /// Hands the current group to the committer.
    fn commit_group(&mut self) {
        if !self.group_lines.is_empty() {
            let lines = std::mem::take(&mut self.group_lines);
            self.group.events.push(Event::TranscriptAppended { lines });
        }
        if self.group.is_empty() {
            return;
        }
        if let Some(s) = self.session.as_mut()
            && !self.group.writes.is_empty()
        {
            s.record.updated_at = now();
            s.record.last_seq = s.live.seq;
            s.record.tokens_in = s.spend.usage.input_tokens;
            s.record.tokens_out = s.spend.usage.output_tokens;
            s.record.cost_usd = s.spend.cost_usd;
            s.record.status = s.progress.finished;
            let shown = s
                .progress
                .phase
                .min(self.workflow.phases.len().saturating_sub(1));
            if let Some(phase) = self.workflow.phases.get(shown) {
                s.record.phase = phase.name.clone();
            }
            // The session's state, when it changed since the last group.
            // A group of transcript lines alone (a reply streaming) changes
            // nothing a resume reads (a test run's start, which writes only a
            // note, is undone by resume anyway), so it is not serialised.
            let lines_only = self
                .group
                .writes
                .iter()
                .all(|w| matches!(w, Write::Line { .. }));
            self.group.writes.push(Write::Session(s.record.clone()));
            if lines_only {
                let group = std::mem::take(&mut self.group);
                let _ = self.committer.send(group);
                return;
            }
            let state = serde_json::to_value(&*s).unwrap_or(Value::Null);
            let hash = {
                use std::hash::Hasher as _;
                /// Feeds serialised JSON to a hasher without building the text.
                struct Feed(std::collections::hash_map::DefaultHasher);
                impl std::io::Write for Feed {
                    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                        self.0.write(bytes);
                        Ok(bytes.len())
                    }
                    fn flush(&mut self) -> std::io::Result<()> {
                        Ok(())
                    }
                }
                let mut feed = Feed(Default::default());
                let _ = serde_json::to_writer(&mut feed, &state);
                feed.0.finish()
            };
            if self.snapshot != Some(hash) {
                self.snapshot = Some(hash);
                self.group.writes.push(Write::Record {
                    session: s.id.clone(),
                    kind: "state",
                    name: "session".into(),
                    value: state,
                });
            }
        }
        let group = std::mem::take(&mut self.group);
        let _ = self.committer.send(group);
    }

    fn reject(&mut self, op: &str, reason: impl Into<String>) {
        self.ephemeral(Event::Rejected {
            op: op.to_string(),
            reason: reason.into(),
        });
    }

    async fn on_op(&mut self, op: Op) {
        match op {
            Op::Start { prompt, options } => self.start_session(prompt, options).await,
            Op::Resume {
                session,
                interactive,
                allow_overwrite,
                allow_secrets,
            } => {
                self.resume(session, interactive, allow_overwrite, allow_secrets)
                    .await
            }
            Op::Answer { question, answer } => self.answer(&question, &answer, "person"),
            Op::Pick { conflict, option } => self.pick(&conflict, &option),
            Op::AcceptVotes => self.accept_votes(),
            Op::Override {
                conflict,
                option,
                note,
            } => self.override_decision(&conflict, &option, &note),
            Op::PauseTask { task } => self.pause_task(&task),
            Op::ResumeTask { task } => self.resume_task(&task),
            Op::CancelTask { task } => self.cancel_task(&task),
            Op::RetryTask { task } => self.retry_task(&task),
            Op::RetryTaskOn { task, model } => self.retry_task_on(&task, &model),
            Op::RaiseBudget { scope, usd, tokens } => self.raise_budget(&scope, usd, tokens),
            Op::LoadMemory { agent } => self.load_memory(&agent).await,
            Op::SetMemory { agent, notes } => self.set_memory(&agent, &notes).await,
            Op::SetFileAccepted { path, accepted } => self.set_file_accepted(&path, accepted),
            Op::Commit {
                message,
                allow_secrets,
            } => self.commit_requested(message, allow_secrets).await,
            Op::LoadTranscript {
                agent,
                from_seq,
                len,
                req,
            } => self.load_transcript(agent, from_seq, len, req),
            Op::LoadFile { path, req } => self.load_file(&path, req).await,
            Op::PauseSession => self.pause_session(),
            Op::ResumeSession => self.resume_session(),
            Op::CancelSession => self.finish(SessionStatus::Cancelled),
            Op::Interrupt => self.finish(SessionStatus::Interrupted),
            Op::Shutdown => {
                let waiting = self
                    .session
                    .as_ref()
                    .is_some_and(|s| s.progress.finished.is_none());
                if waiting {
                    let at_deliver = self.session.as_ref().is_some_and(|s| {
                        self.workflow.phases.get(s.progress.phase).map(|p| p.kind)
                            == Some(PhaseKind::Deliver)
                    });
                    let tests_failed = self
                        .session
                        .as_ref()
                        .is_some_and(|s| s.progress.tests_failed.is_some());
                    self.finish(if at_deliver && !tests_failed {
                        SessionStatus::AwaitingDelivery
                    } else if tests_failed {
                        SessionStatus::Failed
                    } else {
                        SessionStatus::Interrupted
                    });
                }
                self.shutting_down = true;
            }
            Op::SearchTranscript { agent, query, req } => self.search_transcript(agent, query, req),
            Op::ListSessions { req } => self.list_sessions(req),
            Op::LoadSession { session, req } => self.load_session(session, req),
            Op::AcceptEdited { path, content } => self.accept_edited(&path, content),
        }
    }

    async fn start_session(&mut self, prompt: String, options: SessionOptions) {
        if self
            .session
            .as_ref()
            .is_some_and(|s| s.progress.finished.is_none())
        {
            self.reject("start", "a session is already running");
            return;
        }
        // The simulated team reads no environment: no probe to pay for.
        if !self.settings.all_offline() {
            super::testing::warm_tools();
        }
        let prompt = prompt.trim().to_string();
        if prompt.is_empty() {
            self.reject("start", "the prompt is empty");
            return;
        }
        // The agents' notes from earlier sessions in DIR.
        self.memories().await;
        // What DIR already holds: the agents' map of existing code (off the
        // actor's thread: it reads files).
        let workspace = self.workspace.clone();
        let project = tokio::task::spawn_blocking(move || workspace.project_map(PROJECT_MAP_BYTES))
            .await
            .ok()
            .and_then(Result::ok)
            .filter(|m| !m.is_empty())
            .map(|m| {
                serde_json::json!({
                    "files": m.files,
                    "key_files": m
                        .key_files
                        .iter()
                        .map(|(path, content)| serde_json::json!({"path": path, "content": content}))
                        .collect::<Vec<_>>(),
                    "omitted": m.omitted,
                })
            });
        let id = SessionId::new();
        // Readers of DIR's state tell this session from ones left without
        // an end by the lock naming it (state.rs).
        crate::state::note_session(self.workspace.state(), id.as_str());
        let created = now();
        let mut scheduler = Scheduler::default();
        for (name, spec) in &self.settings.providers {
            scheduler.add_provider(name, spec.max_concurrency);
        }
        for agent in &self.settings.agents {
            scheduler.add_agent(&agent.name, agent.max_concurrency, &agent.model.provider);
        }
        let record = SessionRecord {
            id: id.clone(),
            prompt: prompt.clone(),
            dir: self.workspace.dir().display().to_string(),
            workflow: self.workflow.name.clone(),
            created_at: created.clone(),
            updated_at: created,
            status: None,
            phase: self
                .workflow
                .phases
                .first()
                .map(|p| p.name.clone())
                .unwrap_or_default(),
            tokens_in: 0,
            tokens_out: 0,
            cost_usd: 0.0,
            commit: None,
            last_seq: 0,
            offline: self.settings.all_offline(),
        };
        self.session = Some(Session::new(
            id,
            prompt.clone(),
            options,
            record,
            scheduler,
            project,
        ));
        let agents = self
            .settings
            .agents
            .iter()
            .map(|a| a.name.clone())
            .collect();
        // Stored once: what a resume needs beside the session's state.
        let workflow = self.workflow.clone();
        self.record("state", "workflow", &workflow);
        let project = self.session.as_ref().and_then(|s| s.live.project.clone());
        self.record("state", "project", &project);
        self.snapshot = None;
        self.emit(EventBody::SessionStarted {
            prompt,
            dir: self.workspace.dir().display().to_string(),
            workflow: self.workflow.name.clone(),
            agents,
        });
    }

    /// Ends the session: stops every call, cancels unfinished tasks, emits
    /// `session_finished`.
    pub fn finish(&mut self, status: SessionStatus) {
        let Some(s) = self.session.as_mut() else {
            return;
        };
        if s.progress.finished.is_some() {
            return;
        }
        let open: Vec<(String, String, String)> = s
            .work
            .tasks
            .values()
            .filter(|t| !t.state.is_terminal())
            .map(|t| (t.id.clone(), t.agent.clone(), t.phase.clone()))
            .collect();
        if status.is_resumable() {
            s.progress.interrupted = s
                .work
                .tasks
                .values()
                .filter(|t| !t.state.is_terminal())
                .map(|t| (t.id.clone(), t.state))
                .collect();
        }
        for token in s.live.cancels.values() {
            token.cancel();
        }
        s.live.cancels.clear();
        for (id, agent, phase) in open {
            self.set_state(&id, TaskState::Cancelled);
            self.emit(EventBody::TaskCancelled {
                task: id,
                agent,
                phase,
            });
        }
        let Some(s) = self.session.as_mut() else {
            return;
        };
        s.progress.finished = Some(status);
        let (tokens_in, tokens_out, cost_usd) = (
            s.spend.usage.input_tokens,
            s.spend.usage.output_tokens,
            s.spend.cost_usd,
        );
        self.emit(EventBody::SessionFinished {
            status,
            tokens_in,
            tokens_out,
            cost_usd,
        });
    }

    /// Ends the session as failed with a message (an `error` event first).
    pub fn fail_session(&mut self, message: String) {
        if let Some(s) = self.session.as_mut() {
            if s.progress.finished.is_some() {
                return;
            }
            s.progress.failure = Some(message.clone());
        }
        self.emit(EventBody::Error { message });
        self.finish(SessionStatus::Failed);
    }

    fn on_store_failure(&mut self, message: String) {
        if let Some(s) = self.session.as_mut() {
            for token in s.live.cancels.values() {
                token.cancel();
            }
            s.progress.failure = Some(message);
            s.progress.finished = Some(SessionStatus::Failed);
        }
        self.shutting_down = true;
    }

    /// Changes a task's state and stores the task.
    pub fn set_state(&mut self, id: &str, state: TaskState) {
        let Some(s) = self.session.as_mut() else {
            return;
        };
        let Some(task) = s.work.tasks.get_mut(id) else {
            return;
        };
        task.state = state;
        let task = task.clone();
        self.record("task", id, &task);
    }

    /// Adds a task to its agent's queue.
    pub fn queue_task(&mut self, task: Task) {
        let Some(s) = self.session.as_mut() else {
            return;
        };
        s.live
            .scheduler
            .enqueue(&task.agent, &task.id, task.priority);
        let body = EventBody::TaskQueued {
            task: task.id.clone(),
            agent: task.agent.clone(),
            phase: task.phase.clone(),
            title: task.title.clone(),
        };
        s.work.tasks.insert(task.id.clone(), task.clone());
        self.record("task", &task.id, &task);
        self.emit(body);
        if self.held_by_budget(&task.agent) {
            self.pause_by_budget(&task.id);
        }
    }

    /// A new task value with the defaults.
    pub fn new_task(
        id: String,
        agent: &str,
        phase: &str,
        kind: TaskKind,
        title: String,
        context: Value,
    ) -> Task {
        Task {
            id,
            agent: agent.to_string(),
            phase: phase.to_string(),
            kind,
            title,
            state: TaskState::Queued,
            deps: Vec::new(),
            priority: 0,
            declared: Vec::new(),
            subject: None,
            context,
            generation: 0,
            invalid_retries: 0,
            extra: Vec::new(),
            usage: Usage::default(),
            cost_usd: 0.0,
            model: None,
            error: None,
        }
    }

    /// Starts every queued task whose dependencies are done and whose agent and
    /// provider have a free slot.
    pub fn schedule(&mut self) {
        let Some(s) = self.session.as_mut() else {
            return;
        };
        if s.progress.finished.is_some() || s.progress.paused {
            return;
        }
        let tasks = &s.work.tasks;
        let ready = |id: &str| {
            tasks.get(id).is_some_and(|t| {
                t.state == TaskState::Queued
                    && t.deps
                        .iter()
                        .all(|d| tasks.get(d).is_some_and(|d| d.state == TaskState::Done))
            })
        };
        let started = s.live.scheduler.start_ready(&ready);
        for (_, task) in started {
            self.start_call(&task);
        }
    }

    /// Starts (or restarts) the model call of a task whose slot is held.
    fn start_call(&mut self, id: &str) {
        let settings = Arc::clone(&self.settings);
        let Some(s) = self.session.as_mut() else {
            return;
        };
        let Some(task) = s.work.tasks.get_mut(id) else {
            return;
        };
        task.generation += 1;
        let first_start = task.generation == 1 || task.state == TaskState::Queued;
        task.state = TaskState::Running;
        let task = task.clone();
        let Some(agent) = settings.agent(&task.agent) else {
            self.fail_task(id, format!("agent `{}` is not in the roster", task.agent));
            return;
        };
        let mut chain = Vec::new();
        // The smallest window and the largest reply along the chain: the
        // prompt must fit whichever model ends up answering.
        let mut window: Option<(u32, u32)> = None;
        let primary = task.model.as_ref().unwrap_or(&agent.model);
        let fallbacks = agent.fallback.iter().filter(|m| *m != primary);
        for model in std::iter::once(primary).chain(fallbacks) {
            if let (Some(p), Some(spec)) = (
                self.providers.get(&model.provider),
                settings.providers.get(&model.provider),
            ) {
                window = Some(match window {
                    None => (spec.context_tokens, spec.max_tokens),
                    Some((w, r)) => (w.min(spec.context_tokens), r.max(spec.max_tokens)),
                });
                let health = self.health.entry(model.provider.clone()).or_default();
                chain.push(call::Link {
                    provider: Arc::clone(p),
                    model: model.clone(),
                    policy: call::CallPolicy::for_provider(spec),
                    health: Arc::clone(health),
                });
            }
        }
        let mut task_in = task.clone();
        if let Some(notes) = self.memory_of(&task.agent)
            && task_in.context.is_object()
        {
            task_in.context["memory"] = Value::String(notes.to_string());
        }
        // An implementer builds on what the tasks it waits for wrote: known
        // only now that they are done.
        if task.kind == TaskKind::Implement
            && task_in.context.is_object()
            && let Some(s) = self.session.as_ref()
        {
            let deps = super::inputs::dependencies(s, &task);
            if !deps.is_empty() {
                task_in.context["dependencies"] = serde_json::json!(deps);
            }
        }
        let (context, trimmed) = match window {
            Some((window, reply)) => super::context::fit_task(&task_in, &agent.role, window, reply),
            None => (task_in.context.clone(), None),
        };
        let mut messages = super::prompts::build(&agent.role, task.kind, &task.title, &context);
        messages.extend(task.extra.iter().cloned());
        let request = ChatRequest {
            model: agent.model.model.clone(),
            messages,
            json: super::outputs::schema_for_task(task.kind, &context),
            meta: CallMeta {
                agent: task.agent.clone(),
                role: agent.role.clone(),
                phase: task.phase.clone(),
                task: task.id.clone(),
                kind: task.kind,
                context,
            },
        };
        let token = CancellationToken::new();
        if let Some(s) = self.session.as_mut() {
            s.live.cancels.insert(id.to_string(), token.clone());
        }
        self.record("task", id, &task);
        if first_start {
            self.emit(EventBody::TaskStarted {
                task: task.id.clone(),
                agent: task.agent.clone(),
                phase: task.phase.clone(),
            });
        }
        let model = match settings.providers.get(&primary.provider) {
            Some(p) if p.kind == crate::config::ProviderKind::Offline => p.label(),
            _ => primary.to_string(),
        };
        self.line(
            &task.agent,
            &task.id,
            LineKind::Prompt,
            &format!("▸ {} · {model}", task.title),
            false,
        );
        if let Some(text) = trimmed {
            self.note(&task.agent, &task.id, &text);
        }
        tokio::spawn(call::run(
            task.id.clone(),
            task.generation,
            chain,
            request,
            self.calls_tx.clone(),
            token,
        ));
    }

    fn on_inbox(&mut self, msg: Inbox) {
        match msg {
            Inbox::SetupDone {
                round,
                component,
                outcome,
                fingerprint,
            } => self.on_setup_done(round, component, outcome, fingerprint),
            Inbox::SetupReused { round, component } => self.on_setup_reused(round, component),
            Inbox::TestDone { round, outcome } => self.on_test_done(round, outcome),
            Inbox::RoundDone { round } => self.on_round_done(round),
            // `advance` runs next and starts the test run the probe held back.
            Inbox::PytestProbed => self.probing_pytest = false,
        }
    }

    /// Flushes a task's partial transcript line (the end of a call's text).
    fn flush_partial(&mut self, agent: &str, task: &str, ends_call: bool) {
        let rest = self
            .session
            .as_mut()
            .and_then(|s| s.live.partial.remove(task))
            .unwrap_or_default();
        if !rest.is_empty() {
            self.line(agent, task, LineKind::Text, &rest, ends_call);
        }
    }

    async fn on_call(&mut self, msg: CallMsg) {
        let Some(s) = self.session.as_mut() else {
            return;
        };
        let Some(task) = s.work.tasks.get(&msg.task) else {
            return;
        };
        let live = task.generation == msg.generation
            && matches!(task.state, TaskState::Running | TaskState::Retrying)
            && s.progress.finished.is_none();
        if !live {
            return;
        }
        let agent = task.agent.clone();
        let id = msg.task.clone();
        match msg.event {
            CallEvent::Delta(text) => {
                if let Some(t) = s.work.tasks.get_mut(&id) {
                    t.state = TaskState::Running;
                }
                let partial = s.live.partial.entry(id.clone()).or_default();
                partial.push_str(&text);
                let mut complete = Vec::new();
                if let Some(cut) = partial.rfind('\n') {
                    let done: String = partial.drain(..=cut).collect();
                    complete.extend(done.lines().map(String::from));
                }
                for line in complete {
                    self.line(&agent, &id, LineKind::Text, &line, false);
                }
                self.ephemeral(Event::Token {
                    agent,
                    task: id,
                    text,
                });
            }
            CallEvent::Discarded { reason } => {
                if let Some(s) = self.session.as_mut() {
                    s.live.partial.remove(&id);
                }
                self.line(
                    &agent,
                    &id,
                    LineKind::Retry,
                    &format!("✗ attempt failed ({reason}); its text above is discarded"),
                    true,
                );
            }
            CallEvent::Retrying {
                attempt,
                reason,
                delay,
            } => {
                self.set_state(&id, TaskState::Retrying);
                self.line(
                    &agent,
                    &id,
                    LineKind::Retry,
                    &format!(
                        "↻ retry {attempt} in {:.1} s: {reason}",
                        delay.as_secs_f64()
                    ),
                    false,
                );
                // The call runner goes on by itself after the delay.
                self.emit(EventBody::TaskRetrying {
                    task: id,
                    attempt,
                    reason,
                    delay_ms: delay.as_millis() as u64,
                });
            }
            CallEvent::Fallback { from, to, reason } => {
                self.line(
                    &agent,
                    &id,
                    LineKind::Retry,
                    &format!("⇢ falling back from {from} to {to}: {reason}"),
                    false,
                );
                self.emit(EventBody::ProviderFallback {
                    task: id,
                    from,
                    to,
                    reason,
                });
            }
            CallEvent::Finished { text, usage, model } => {
                self.flush_partial(&agent, &id, true);
                let cost = self.cost_of(&agent, &id, &model, usage);
                if let Some(s) = self.session.as_mut() {
                    s.live.cancels.remove(&id);
                    s.spend.usage.add(usage);
                    s.spend.cost_usd += cost;
                    *s.spend.agent_cost.entry(agent.clone()).or_insert(0.0) += cost;
                    *s.spend.agent_tokens.entry(agent.clone()).or_insert(0) +=
                        usage.input_tokens + usage.output_tokens;
                    if let Some(t) = s.work.tasks.get_mut(&id) {
                        t.usage.add(usage);
                        t.cost_usd += cost;
                    }
                }
                self.check_budgets(&agent);
                if self
                    .session
                    .as_ref()
                    .is_some_and(|s| s.progress.finished.is_some())
                {
                    return;
                }
                match self.accept_output(&id, &text).await {
                    Ok(()) => self.complete_task(&id),
                    Err(problem) => self.invalid_output(&id, &text, problem),
                }
            }
            CallEvent::Failed { error } => {
                self.flush_partial(&agent, &id, true);
                self.fail_task(&id, error);
            }
        }
    }

    /// The cost of a call in US dollars from the price table. The offline
    /// provider costs nothing; a model the table does not know costs nothing
    /// and says so once in the agent's transcript.
    fn cost_of(
        &mut self,
        agent: &str,
        task: &str,
        model: &crate::config::ModelRef,
        usage: Usage,
    ) -> f64 {
        let offline = self
            .settings
            .providers
            .get(&model.provider)
            .is_some_and(|p| p.kind == crate::config::ProviderKind::Offline);
        if offline {
            return 0.0;
        }
        match self.settings.pricing.cost(&model.model, usage) {
            Some(cost) => cost,
            None => {
                if self.unpriced.insert(model.model.clone()) {
                    self.note(
                        agent,
                        task,
                        &format!(
                            "model {} is not in the price table; its cost counts as $0 (add [pricing.\"{}\"] to quorum.toml)",
                            model.model, model.model
                        ),
                    );
                }
                0.0
            }
        }
    }

    /// Marks a task done after its output was accepted.
    fn complete_task(&mut self, id: &str) {
        let Some(s) = self.session.as_mut() else {
            return;
        };
        let Some(task) = s.work.tasks.get_mut(id) else {
            return;
        };
        task.state = TaskState::Done;
        let task = task.clone();
        s.live.scheduler.release(&task.agent);
        self.record("task", id, &task);
        self.note(&task.agent, id, "✓ done");
        self.emit(EventBody::TaskFinished {
            task: task.id.clone(),
            agent: task.agent.clone(),
            phase: task.phase.clone(),
            tokens_in: task.usage.input_tokens,
            tokens_out: task.usage.output_tokens,
            cost_usd: task.cost_usd,
        });
    }

    /// An output failed validation: ask once more with the problem, then fail.
    fn invalid_output(&mut self, id: &str, text: &str, problem: String) {
        let Some(s) = self.session.as_mut() else {
            return;
        };
        let Some(task) = s.work.tasks.get_mut(id) else {
            return;
        };
        let agent = task.agent.clone();
        // The same reply as the attempt being corrected: the agent is looping.
        let repeated = task
            .extra
            .first()
            .is_some_and(|previous| previous.content.trim() == text.trim());
        if repeated {
            self.fail_task(
                id,
                format!("loop: the agent returned the same invalid reply twice ({problem})"),
            );
        } else if task.invalid_retries == 0 {
            task.invalid_retries = 1;
            task.extra = super::prompts::validation_retry(text, &problem);
            self.line(
                &agent,
                id,
                LineKind::Error,
                &format!("✗ reply rejected: {problem}; asking again"),
                false,
            );
            self.start_call(id);
        } else {
            self.fail_task(id, format!("invalid reply: {problem}"));
        }
    }

    /// Marks a task failed and lets its phase react (a failed ballot is an abstention).
    pub fn fail_task(&mut self, id: &str, error: String) {
        let Some(s) = self.session.as_mut() else {
            return;
        };
        let Some(task) = s.work.tasks.get_mut(id) else {
            return;
        };
        let was_running = matches!(task.state, TaskState::Running | TaskState::Retrying);
        task.state = TaskState::Failed;
        task.error = Some(error.clone());
        let task = task.clone();
        s.live.cancels.remove(id);
        if was_running {
            s.live.scheduler.release(&task.agent);
        }
        self.record("task", id, &task);
        self.line(
            &task.agent,
            id,
            LineKind::Error,
            &format!("✗ failed: {error}"),
            false,
        );
        self.emit(EventBody::TaskFailed {
            task: task.id.clone(),
            agent: task.agent.clone(),
            phase: task.phase.clone(),
            error,
        });
        self.task_failed(&task);
    }

    fn pause_task(&mut self, id: &str) {
        let Some(s) = self.session.as_mut() else {
            return self.reject("pause", "no session");
        };
        let Some(task) = s.work.tasks.get(id).cloned() else {
            return self.reject("pause", format!("no task `{id}`"));
        };
        match task.state {
            TaskState::Queued => {
                s.live.scheduler.remove(id);
            }
            TaskState::Running | TaskState::Retrying => {
                if let Some(token) = s.live.cancels.remove(id) {
                    token.cancel();
                }
                s.live.scheduler.release(&task.agent);
                s.live.partial.remove(id);
            }
            TaskState::Paused | TaskState::Done | TaskState::Failed | TaskState::Cancelled => {
                return self.reject("pause", format!("task `{id}` is {}", task.state.as_str()));
            }
        }
        self.set_state(id, TaskState::Paused);
        self.note(&task.agent, id, "⏸ paused");
        self.emit(EventBody::TaskPaused {
            task: task.id,
            agent: task.agent,
            phase: task.phase,
        });
    }

    fn pause_session(&mut self) {
        let Some(s) = self.session.as_mut() else {
            return self.reject("pause session", "no session");
        };
        if s.progress.finished.is_some() {
            return self.reject("pause session", "the session has ended");
        }
        if s.progress.paused {
            return self.reject("pause session", "the session is paused already");
        }
        s.progress.paused = true;
        let running: Vec<String> = s
            .work
            .tasks
            .values()
            .filter(|t| matches!(t.state, TaskState::Running | TaskState::Retrying))
            .map(|t| t.id.clone())
            .collect();
        s.progress.paused_by_session = running.clone();
        for id in running {
            self.pause_task(&id);
        }
    }

    fn resume_session(&mut self) {
        let Some(s) = self.session.as_mut() else {
            return self.reject("resume session", "no session");
        };
        if !s.progress.paused {
            return self.reject("resume session", "the session is not paused");
        }
        s.progress.paused = false;
        let stopped = std::mem::take(&mut s.progress.paused_by_session);
        for id in stopped {
            let still = self.session.as_ref().is_some_and(|s| {
                !s.spend.budget_paused.contains(&id)
                    && s.work
                        .tasks
                        .get(&id)
                        .is_some_and(|t| t.state == TaskState::Paused)
            });
            if still {
                self.resume_task(&id);
            }
        }
    }

    /// Puts a paused, failed or cancelled task back in its queue.
    fn requeue(&mut self, id: &str, op: &str, allowed: &[TaskState]) {
        let Some(s) = self.session.as_mut() else {
            return self.reject(op, "no session");
        };
        if s.progress.finished.is_some() {
            return self.reject(op, "the session has ended");
        }
        let Some(task) = s.work.tasks.get_mut(id) else {
            return self.reject(op, format!("no task `{id}`"));
        };
        if !allowed.contains(&task.state) {
            let state = task.state.as_str();
            return self.reject(op, format!("task `{id}` is {state}"));
        }
        task.state = TaskState::Queued;
        task.invalid_retries = 0;
        task.extra.clear();
        task.error = None;
        let task = task.clone();
        s.live.scheduler.enqueue(&task.agent, id, task.priority);
        self.record("task", id, &task);
        self.emit(EventBody::TaskQueued {
            task: task.id,
            agent: task.agent,
            phase: task.phase,
            title: task.title,
        });
    }

    fn resume_task(&mut self, id: &str) {
        self.requeue(id, "resume", &[TaskState::Paused]);
    }

    /// Queues a paused task again (a budget raised).
    pub(crate) fn resume_paused(&mut self, id: &str) {
        self.requeue(id, "resume", &[TaskState::Paused]);
    }

    fn retry_task(&mut self, id: &str) {
        self.requeue(id, "retry", &[TaskState::Failed, TaskState::Cancelled]);
    }

    fn retry_task_on(&mut self, id: &str, model: &str) {
        let Some(parsed) = crate::config::ModelRef::parse(model) else {
            return self.reject("retry", format!("`{model}` is not provider:model"));
        };
        if !self.settings.providers.contains_key(&parsed.provider) {
            let names: Vec<&str> = self.settings.providers.keys().map(String::as_str).collect();
            return self.reject(
                "retry",
                format!(
                    "no provider `{}` (configured: {})",
                    parsed.provider,
                    names.join(", ")
                ),
            );
        }
        let Some(task) = self.s().and_then(|s| s.work.tasks.get_mut(id)) else {
            return self.reject("retry", format!("no task `{id}`"));
        };
        if !matches!(task.state, TaskState::Failed | TaskState::Cancelled) {
            let state = task.state.as_str();
            return self.reject("retry", format!("task `{id}` is {state}"));
        }
        task.model = Some(parsed.clone());
        let agent = task.agent.clone();
        self.note(
            &agent,
            id,
            &format!("↻ rerun on {parsed} (chosen by the person)"),
        );
        self.retry_task(id);
    }

    fn cancel_task(&mut self, id: &str) {
        let Some(s) = self.session.as_mut() else {
            return self.reject("cancel", "no session");
        };
        let Some(task) = s.work.tasks.get(id).cloned() else {
            return self.reject("cancel", format!("no task `{id}`"));
        };
        match task.state {
            TaskState::Queued => {
                s.live.scheduler.remove(id);
            }
            TaskState::Running | TaskState::Retrying => {
                if let Some(token) = s.live.cancels.remove(id) {
                    token.cancel();
                }
                s.live.scheduler.release(&task.agent);
                s.live.partial.remove(id);
            }
            TaskState::Paused => {}
            TaskState::Done | TaskState::Failed | TaskState::Cancelled => {
                return self.reject("cancel", format!("task `{id}` is {}", task.state.as_str()));
            }
        }
        self.set_state(id, TaskState::Cancelled);
        self.note(&task.agent, id, "■ cancelled");
        self.emit(EventBody::TaskCancelled {
            task: task.id.clone(),
            agent: task.agent.clone(),
            phase: task.phase.clone(),
        });
        self.task_failed(&task);
    }

    fn set_file_accepted(&mut self, path: &str, accepted: bool) {
        let Some(s) = self.session.as_mut() else {
            return self.reject("accept", "no session");
        };
        if s.progress.delivered {
            return self.reject("accept", "the files were already delivered");
        }
        let Some(file) = s.work.files.get_mut(path) else {
            return self.reject("accept", format!("no staged file `{path}`"));
        };
        file.accepted = accepted;
        if accepted {
            // The person accepted the diff against what DIR holds now.
            file.base = self.workspace.content_id(path).ok();
        }
        let file = file.clone();
        self.record("file", path, &file);
        self.ephemeral(Event::FileDecided {
            path: path.to_string(),
            accepted,
        });
        self.refresh_delivery_message();
    }

    fn load_transcript(&mut self, agent: Option<String>, from: u64, len: u64, req: u64) {
        let Some(s) = self.session.as_ref() else {
            return self.reject("load transcript", "no session");
        };
        let store = self.store.clone();
        let session = s.id.clone();
        let committer = self.committer.clone();
        let len = len.min(5_000);
        tokio::spawn(async move {
            let page = tokio::task::spawn_blocking(move || {
                let page = store.transcript_page(&session, agent.as_deref(), from, len);
                (agent, page)
            })
            .await;
            let event = match page {
                Ok((agent, Ok((lines, total)))) => Event::TranscriptPage {
                    req,
                    agent,
                    lines,
                    total,
                },
                Ok((_, Err(e))) => Event::Rejected {
                    op: "load transcript".into(),
                    reason: e.to_string(),
                },
                Err(e) => Event::Rejected {
                    op: "load transcript".into(),
                    reason: e.to_string(),
                },
            };
            let _ = committer.send(Group {
                writes: Vec::new(),
                events: vec![event],
            });
        });
    }

    async fn load_file(&mut self, path: &str, req: u64) {
        let Some(file) = self
            .session
            .as_ref()
            .and_then(|s| s.work.files.get(path).cloned())
        else {
            self.ephemeral(Event::FileLoaded {
                req,
                file: Err(format!("no staged file `{path}`")),
            });
            return;
        };
        let workspace = self.workspace.clone();
        let p = path.to_string();
        let existing = tokio::task::spawn_blocking(move || workspace.read(&p))
            .await
            .ok()
            .and_then(Result::ok)
            .flatten();
        let diff = existing.map(|old| {
            crate::workspace::unified_diff(path, &String::from_utf8_lossy(&old), &file.content)
        });
        self.ephemeral(Event::FileLoaded {
            req,
            file: Ok(crate::protocol::FileView {
                path: path.to_string(),
                content: file.content,
                diff,
            }),
        });
    }

    /// Starts the pytest probe on a blocking thread, once at a time; its
    /// answer is cached by the probe and announced as [`Inbox::PytestProbed`].
    pub fn spawn_pytest_probe(&mut self) {
        if std::mem::replace(&mut self.probing_pytest, true) {
            return;
        }
        let inbox = self.inbox_tx.clone();
        let dir = self.workspace.dir().to_path_buf();
        tokio::task::spawn_blocking(move || {
            crate::workspace::stack::pytest_installed(&dir);
            let _ = inbox.send(Inbox::PytestProbed);
        });
    }
}
