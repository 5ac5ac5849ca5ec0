//! The orchestrator actor: owns the session state, the scheduler, and (through
//! the committer) the store; receives [`Op`]s from consumers and reports from its
//! child tasks (model calls, test runs); emits every change as an event.
//!
//! One loop iteration handles one message, lets the phases advance, and hands the
//! iteration's writes and events to the committer as one group. The actor never
//! waits for a flush; consumers see events only after theirs.
//!
//! This file keeps the loop, the routing of ops and reports, and the
//! session's start and end; a task's lifecycle is `tasks.rs`, the group
//! `group.rs`, the phases `phases/`.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use super::call::CallMsg;
use super::committer::Group;
use super::scheduler::Scheduler;
use crate::config::Settings;
use crate::config::workflow::{PhaseKind, Workflow};
use crate::llm::SharedProvider;
use crate::protocol::{
    EventBody, Op, SessionId, SessionOptions, SessionStatus, TaskState, TranscriptLine,
};
use crate::store::{RecordKey, SessionRecord, Store};
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

/// The receivers the actor's loop selects over.
pub(crate) struct Mailboxes {
    /// Ops from consumers.
    pub ops: UnboundedReceiver<Op>,
    /// The model calls' events.
    pub calls: UnboundedReceiver<CallMsg>,
    /// Reports of test runs and probes.
    pub inbox: UnboundedReceiver<Inbox>,
    /// The committer's store failures.
    pub failures: UnboundedReceiver<String>,
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
    /// What the loop waits on.
    pub mail: Mailboxes,
    /// The model calls' end of [`Mailboxes::calls`].
    pub calls_tx: UnboundedSender<CallMsg>,
    /// The child tasks' end of [`Mailboxes::inbox`].
    pub inbox_tx: UnboundedSender<Inbox>,
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
pub const PROJECT_MAP_BYTES: usize = crate::workspace::PROJECT_MAP_BYTES;

/// The session's `state`/`project` record: what DIR held at the start, as
/// the agents see it (the file list, key files and repository map as
/// `project`'s fields, the instruction files as `instructions`); `None` for
/// an empty DIR. Read once, so a resumed session shows the same.
fn project_record(survey: &crate::workspace::Survey) -> Option<serde_json::Value> {
    let m = &survey.project;
    if m.is_empty() {
        return None;
    }
    Some(serde_json::json!({
        "files": m.files,
        "key_files": m
            .key_files
            .iter()
            .map(|(path, content)| serde_json::json!({"path": path, "content": content}))
            .collect::<Vec<_>>(),
        "omitted": m.omitted,
        "map": survey.map.text,
        "instructions": survey.instructions,
    }))
}

impl Actor {
    /// Runs until [`Op::Shutdown`] or until every op sender is gone.
    pub async fn run(mut self) {
        loop {
            tokio::select! {
                op = self.mail.ops.recv() => match op {
                    Some(op) => self.on_op(op).await,
                    None => self.shutting_down = true,
                },
                Some(msg) = self.mail.calls.recv() => self.on_call(msg).await,
                Some(msg) = self.mail.inbox.recv() => self.on_inbox(msg),
                Some(message) = self.mail.failures.recv() => self.on_store_failure(message),
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
                self.end_as_at_shutdown();
                self.shutting_down = true;
            }
            Op::Quit => self.end_as_at_shutdown(),
            Op::SearchTranscript { agent, query, req } => self.search_transcript(agent, query, req),
            Op::ListSessions { req } => self.list_sessions(req),
            Op::LoadSession { session, req } => self.load_session(session, req),
            Op::AcceptEdited { path, content } => self.accept_edited(&path, content),
        }
    }

    /// Ends a running session as a shutdown does ([`Op::Shutdown`],
    /// [`Op::Quit`]): waiting at deliver, `awaiting_delivery`; after failed
    /// tests, `failed`; else `interrupted`. Nothing when none runs.
    fn end_as_at_shutdown(&mut self) {
        let waiting = self
            .session
            .as_ref()
            .is_some_and(|s| s.progress.finished.is_none());
        if !waiting {
            return;
        }
        let at_deliver = self.session.as_ref().is_some_and(|s| {
            self.workflow.phases.get(s.progress.phase).map(|p| p.kind) == Some(PhaseKind::Deliver)
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
        // What DIR already holds: the agents' map of existing code, the
        // project's instruction files and the repository map (off the
        // actor's thread: it reads and parses files).
        let workspace = self.workspace.clone();
        let cache = self.store.clone();
        let (task, map_tokens) = (prompt.clone(), self.settings.session.map_tokens);
        let survey = tokio::task::spawn_blocking(move || {
            workspace.survey(&task, PROJECT_MAP_BYTES, map_tokens, &cache)
        })
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
        let project = project_record(&survey);
        let id = SessionId::new();
        // Readers of DIR's state tell this session from ones left without
        // an end by the lock naming it (workspace/state_dir.rs).
        crate::workspace::state_dir::note_session(self.workspace.state(), id.as_str());
        let created = now();
        let scheduler = self.new_scheduler();
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
        self.record(RecordKey::State, "workflow", &workflow);
        let project = self.session.as_ref().and_then(|s| s.live.project.clone());
        self.record(RecordKey::State, "project", &project);
        self.snapshot = None;
        self.emit(EventBody::SessionStarted {
            prompt,
            dir: self.workspace.dir().display().to_string(),
            workflow: self.workflow.name.clone(),
            agents,
        });
        self.surveyed(&survey);
    }

    /// Says what the survey of DIR found: `instructions_read` and a note in
    /// the first agent's transcript naming the instruction files, and
    /// `repo_map` with what building the map cost.
    fn surveyed(&mut self, survey: &crate::workspace::Survey) {
        let first = self.settings.agents.first().map(|a| a.name.clone());
        if !survey.instructions.is_empty() {
            let files: Vec<String> = survey.instructions.iter().map(|i| i.path.clone()).collect();
            if let Some(agent) = &first {
                let text = format!(
                    "Every agent follows the project's instructions: {}",
                    files.join(", ")
                );
                self.note(agent, "session", &crate::sanitize::line(&text));
            }
            self.emit(EventBody::InstructionsRead {
                files,
                cut: survey.cut.clone(),
            });
        }
        let map = &survey.map;
        if map.files > 0 {
            self.emit(EventBody::RepoMap {
                files: map.files as u64,
                parsed: map.parsed as u64,
                cached: map.cached as u64,
                symbols: map.symbols as u64,
                shown: map.shown as u64,
                tokens: map.tokens as u64,
            });
        }
    }

    /// A scheduler with a queue per configured provider and agent.
    pub(crate) fn new_scheduler(&self) -> Scheduler {
        let mut scheduler = Scheduler::default();
        for (name, spec) in &self.settings.providers {
            scheduler.add_provider(name, spec.max_concurrency);
        }
        for agent in &self.settings.agents {
            scheduler.add_agent(&agent.name, agent.max_concurrency, &agent.model.provider);
        }
        scheduler
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
