//! The only types the TUI, the headless runner and the orchestrator share.
//!
//! Consumers send [`Op`]s (user intent) to the orchestrator actor and receive
//! [`Event`]s (what happened). [`Event::Logged`] carries a [`LoggedEvent`], the
//! durable, numbered record of the public event stream (DESIGN.md §5, "Headless
//! event stream"); every other [`Event`] variant is ephemeral: answers to
//! requests (pages of a transcript, a file's content) and token deltas.
//!
//! Invariants: a [`LoggedEvent`] reaches a consumer only after the sled flush that
//! holds it has completed; within one session `seq` starts at 1 and has no gaps.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Version of the event stream's schema (`v` on every JSON line).
pub const SCHEMA_VERSION: u32 = 1;

/// A session's id: 12 lowercase hexadecimal characters (48 random bits).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(String);

impl SessionId {
    /// Length of an id in characters.
    pub const LEN: usize = 12;

    /// A fresh random id.
    pub fn new() -> Self {
        let hex = uuid::Uuid::new_v4().simple().to_string();
        SessionId(hex[..Self::LEN].to_string())
    }

    /// Parses an id; `None` unless it is exactly [`Self::LEN`] lowercase hex digits.
    pub fn parse(text: &str) -> Option<Self> {
        let ok = text.len() == Self::LEN
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        ok.then(|| SessionId(text.to_string()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 4 characters, as shown in the status bar.
    pub fn short(&self) -> &str {
        &self.0[..4]
    }
}

impl Default for SessionId {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Display for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Options fixed when a session starts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionOptions {
    /// A person is at the keyboard: the session waits at resolve until the
    /// decisions are confirmed, and at deliver until [`Op::Commit`].
    pub interactive: bool,
    /// Write the accepted files into DIR but make no commit.
    pub no_commit: bool,
    /// Run through review and write nothing into DIR.
    pub dry_run: bool,
    /// Headless: overwrite files in DIR that quorum did not write in this session.
    pub allow_overwrite: bool,
    /// Deliver files that the secret scan flags (`--allow-secrets`).
    #[serde(default)]
    pub allow_secrets: bool,
    /// Answers to the refine phase's questions, by question id (`--answers FILE`).
    pub answers: BTreeMap<String, String>,
}

/// Who settled a conflict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecidedBy {
    /// More than half of the valid ballots.
    Vote,
    /// The chair agent broke a tie (headless).
    Chair,
    /// The person picked or overrode the option.
    Human,
}

/// A task's state (DESIGN.md §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// Waiting in its agent's queue.
    Queued,
    /// A provider call is under way.
    Running,
    /// Waiting for a retry after a failed attempt.
    Retrying,
    /// Held by the person; not started until resumed.
    Paused,
    /// Finished with a valid output.
    Done,
    /// Failed after retries and fallbacks.
    Failed,
    /// Cancelled by the person or by the end of the session.
    Cancelled,
}

impl TaskState {
    /// `true` for done, failed and cancelled.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TaskState::Done | TaskState::Failed | TaskState::Cancelled
        )
    }

    /// The state's name as shown on screen and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Queued => "queued",
            TaskState::Running => "running",
            TaskState::Retrying => "retrying",
            TaskState::Paused => "paused",
            TaskState::Done => "done",
            TaskState::Failed => "failed",
            TaskState::Cancelled => "cancelled",
        }
    }
}

/// How a session ended (`session_finished.status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    /// Delivered (written, and committed unless `--no-commit`; or a completed dry run).
    Succeeded,
    /// A phase failed; nothing was committed.
    Failed,
    /// Cancelled by the person.
    Cancelled,
    /// Interrupted by a signal or a lost terminal; resumable.
    Interrupted,
    /// Stopped at the budget prompt; resumable.
    PausedBudget,
    /// Everything is staged; the person left before delivering.
    AwaitingDelivery,
}

impl SessionStatus {
    /// The process exit code for a session that ended this way (DESIGN.md §5).
    pub fn exit_code(self) -> i32 {
        match self {
            SessionStatus::Succeeded | SessionStatus::AwaitingDelivery => 0,
            SessionStatus::Failed => 1,
            SessionStatus::Cancelled | SessionStatus::Interrupted | SessionStatus::PausedBudget => {
                3
            }
        }
    }

    /// Whether `quorum resume` can continue a session that ended so:
    /// interrupted, cancelled, paused by a budget, or waiting at deliver. A
    /// session that succeeded or failed is over.
    pub fn is_resumable(self) -> bool {
        !matches!(self, SessionStatus::Succeeded | SessionStatus::Failed)
    }

    /// The status's name as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Succeeded => "succeeded",
            SessionStatus::Failed => "failed",
            SessionStatus::Cancelled => "cancelled",
            SessionStatus::Interrupted => "interrupted",
            SessionStatus::PausedBudget => "paused_budget",
            SessionStatus::AwaitingDelivery => "awaiting_delivery",
        }
    }
}

/// Whether a staged file is new in DIR or changes an existing one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileChange {
    /// No file at that path in DIR.
    New,
    /// A file exists at that path in DIR; its change is shown as a diff.
    Modified,
}

/// Outcome of one component's test run (`test_run.status`): the run's class
/// (docs/workflows.md, "The test gate"). Only [`TestStatus::Passed`] lets a
/// session be committed as tested.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestStatus {
    /// Exit status 0 and at least one test executed.
    Passed,
    /// Tests ran and at least one failed (`tests_failed`).
    Failed,
    /// The runner executed no test (exit 0 or not): never counted as passed.
    NoTests,
    /// Dependencies could not be resolved or installed: the setup step failed,
    /// or the run could not fetch a package (no network, unknown package).
    SetupFailed,
    /// The code did not compile or import (compiler errors, `ImportError`,
    /// a bundler's missing export).
    BuildFailed,
    /// Killed at the timeout.
    Timeout,
    /// The command could not be started.
    Error,
}

impl TestStatus {
    /// The status as the event stream spells it (`no_tests`, `setup_failed`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            TestStatus::Passed => "passed",
            TestStatus::Failed => "failed",
            TestStatus::NoTests => "no_tests",
            TestStatus::SetupFailed => "setup_failed",
            TestStatus::BuildFailed => "build_failed",
            TestStatus::Timeout => "timeout",
            TestStatus::Error => "error",
        }
    }

    /// The status in words for people: `passed`, `failed`, `ran no tests`, `setup failed`,
    /// `did not build`, `timed out`, `could not run`.
    pub fn describe(self) -> &'static str {
        match self {
            TestStatus::Passed => "passed",
            TestStatus::Failed => "failed",
            TestStatus::NoTests => "ran no tests",
            TestStatus::SetupFailed => "setup failed",
            TestStatus::BuildFailed => "did not build",
            TestStatus::Timeout => "timed out",
            TestStatus::Error => "could not run",
        }
    }
}

/// Outcome of a component's setup step (`setup_run.status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SetupStatus {
    /// Exit status 0.
    Ok,
    /// Nonzero exit status, or the command could not be started.
    Failed,
    /// Killed at `[test] setup_timeout_s`.
    Timeout,
}

/// One agent's position on a conflict, quoted from its plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Position {
    /// The agent whose plan holds the position.
    pub agent: String,
    /// The option the agent's plan chose.
    pub option: String,
    /// The agent's words, quoted from its plan.
    pub quote: String,
}

/// The body of a durable event: the `type` and the fields beyond the common ones
/// of DESIGN.md §5's table. Some variants carry extra fields the table does not
/// name (`title`, `positions`, usage on `task_finished`, `repo`); the JSON Schema
/// in `assets/events.schema.json` describes them all.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventBody {
    /// A new session began.
    SessionStarted {
        /// The prompt the session started from, with surrounding whitespace trimmed.
        prompt: String,
        /// DIR, the target directory, as an absolute path.
        dir: String,
        /// The workflow's name: `default`, or the `name` of a `--workflow FILE`.
        workflow: String,
        /// The roster's agent names in config order (default `pm`, `backend`, `frontend`, `qa`,
        /// `security`).
        agents: Vec<String>,
    },
    /// A session continued from its stored state; `from_seq` is the first new seq.
    SessionResumed {
        /// The first seq written by this run (≥ 1); lower seqs are in the stored log.
        from_seq: u64,
    },
    /// A phase began.
    PhaseStarted {
        /// The phase's name from the workflow, e.g. `refine`, `plan` or `implement`.
        phase: String,
        /// The phase's kind: `single`, `fan-out`, `compare`, `vote`, `resolve`, `tasks`, `test`,
        /// `review` or `deliver`.
        kind: String,
    },
    /// A phase completed.
    PhaseFinished {
        /// The phase's name from the workflow, e.g. `refine`, `plan` or `implement`.
        phase: String,
        /// The phase's kind: `single`, `fan-out`, `compare`, `vote`, `resolve`, `tasks`, `test`,
        /// `review` or `deliver`.
        kind: String,
    },
    /// The refine phase asks the person something.
    QuestionAsked {
        /// The question's id from the refine reply, unique in the session (e.g. `q1`); its key in
        /// `--answers FILE`.
        id: String,
        /// The question as the refine agent (default `pm`) wrote it.
        text: String,
        /// The answer used when nobody answers (headless without `--answers`).
        default: String,
    },
    /// A question got its answer; `by` is `person`, `answers_file` or `default`.
    QuestionAnswered {
        /// The id of the answered question, as in its `question_asked`.
        id: String,
        /// The answer text; the question's `default` when `by` is `default`.
        answer: String,
        /// Where the answer came from: `person` (TUI), `answers_file` (`--answers`) or `default`.
        by: String,
    },
    /// A task entered its agent's queue.
    TaskQueued {
        /// The task's id, e.g. `refine`, `plan.qa`, `vote.<conflict>.<agent>`, `implement.<id>`.
        task: String,
        /// The agent that owns the task (its queue), a roster name such as `backend`.
        agent: String,
        /// The name of the workflow phase that created the task, e.g. `plan` or `implement`.
        phase: String,
        /// One line saying what the task does.
        title: String,
    },
    /// A provider call for the task began.
    TaskStarted {
        /// The task's id, e.g. `refine`, `plan.qa`, `vote.<conflict>.<agent>`, `implement.<id>`.
        task: String,
        /// The agent that owns the task (its queue), a roster name such as `backend`.
        agent: String,
        /// The name of the workflow phase that created the task, e.g. `plan` or `implement`.
        phase: String,
    },
    /// The person paused the task.
    TaskPaused {
        /// The task's id, e.g. `refine`, `plan.qa`, `vote.<conflict>.<agent>`, `implement.<id>`.
        task: String,
        /// The agent that owns the task (its queue), a roster name such as `backend`.
        agent: String,
        /// The name of the workflow phase that created the task, e.g. `plan` or `implement`.
        phase: String,
    },
    /// The task was cancelled.
    TaskCancelled {
        /// The task's id, e.g. `refine`, `plan.qa`, `vote.<conflict>.<agent>`, `implement.<id>`.
        task: String,
        /// The agent that owns the task (its queue), a roster name such as `backend`.
        agent: String,
        /// The name of the workflow phase that created the task, e.g. `plan` or `implement`.
        phase: String,
    },
    /// The task finished with a valid output.
    TaskFinished {
        /// The task's id, e.g. `refine`, `plan.qa`, `vote.<conflict>.<agent>`, `implement.<id>`.
        task: String,
        /// The agent that owns the task (its queue), a roster name such as `backend`.
        agent: String,
        /// The name of the workflow phase that created the task, e.g. `plan` or `implement`.
        phase: String,
        /// Input tokens of the task's calls.
        tokens_in: u64,
        /// Output tokens of the task's calls.
        tokens_out: u64,
        /// Cost of the task's calls in US dollars.
        cost_usd: f64,
    },
    /// The task failed after retries and fallbacks.
    TaskFailed {
        /// The task's id, e.g. `refine`, `plan.qa`, `vote.<conflict>.<agent>`, `implement.<id>`.
        task: String,
        /// The agent that owns the task (its queue), a roster name such as `backend`.
        agent: String,
        /// The name of the workflow phase that created the task, e.g. `plan` or `implement`.
        phase: String,
        /// Why the task failed: the last provider error as `provider:model: message`, or e.g.
        /// `invalid reply: …`.
        error: String,
    },
    /// An attempt failed and will be retried after `delay_ms` milliseconds.
    TaskRetrying {
        /// The task's id, e.g. `refine`, `plan.qa`, `vote.<conflict>.<agent>`, `implement.<id>`.
        task: String,
        /// The retry's number for the current model, from 1 (at most 4, DESIGN.md §3).
        attempt: u32,
        /// The failed attempt's error, e.g. `HTTP 429: …` or `timed out: no first byte for 60 s`.
        reason: String,
        /// Wait before the retry, in milliseconds: jittered backoff from 0.5 s capped at 30 s, or
        /// the server's `retry-after` (DESIGN.md §3).
        delay_ms: u64,
    },
    /// The task moved to the next `provider:model` of its agent's fallback chain.
    ProviderFallback {
        /// The task's id, e.g. `refine`, `plan.qa`, `vote.<conflict>.<agent>`, `implement.<id>`.
        task: String,
        /// The `provider:model` that failed, e.g. `anthropic:claude-sonnet-4-5`.
        from: String,
        /// The next `provider:model` of the agent's fallback chain, tried now.
        to: String,
        /// The last error of `from`, as `provider:model: message`.
        reason: String,
    },
    /// Spending reached 80 % of a budget (dollars or tokens, whichever is
    /// nearer); `scope` is an agent name or `session`.
    BudgetWarning {
        /// Whose budget: an agent's name, or `session` for the session's budget.
        scope: String,
        /// Spent so far in that scope, in US dollars.
        spent_usd: f64,
        /// The scope's budget in US dollars (`budget_usd` of `[agents.NAME]` or of
        /// `[session]`); `None` when the scope has only a token budget.
        budget_usd: Option<f64>,
        /// Tokens (input and output) spent so far in that scope.
        spent_tokens: u64,
        /// The scope's token budget (`budget_tokens`); `None` when it has none.
        budget_tokens: Option<u64>,
    },
    /// Spending reached a budget.
    BudgetExhausted {
        /// Whose budget: an agent's name, or `session` for the session's budget.
        scope: String,
        /// Spent so far in that scope, in US dollars.
        spent_usd: f64,
        /// The scope's budget in US dollars (`budget_usd` of `[agents.NAME]` or of
        /// `[session]`); `None` when the scope has only a token budget.
        budget_usd: Option<f64>,
        /// Tokens (input and output) spent so far in that scope.
        spent_tokens: u64,
        /// The scope's token budget (`budget_tokens`); `None` when it has none.
        budget_tokens: Option<u64>,
    },
    /// The compare phase found a disagreement between plans.
    ConflictDetected {
        /// The conflict's id from the compare reply, unique in the session, e.g. `storage`.
        conflict: String,
        /// A human title for the disagreement, e.g. `Storage engine`.
        topic: String,
        /// The options on offer: at least two, all distinct, e.g. `["sqlite", "postgres"]`.
        options: Vec<String>,
        /// `true` when implementation must wait for this conflict's decision.
        blocking: bool,
        /// `true` when the chair wants a person to decide, whatever the vote
        /// (headless: the chair decides).
        #[serde(default)]
        needs_human: bool,
        /// Each planning agent's position, quoted from its plan.
        positions: Vec<Position>,
    },
    /// A voter's ballot; `option` is `None` for a visible abstention.
    VoteCast {
        /// The id of the conflict voted on, as in its `conflict_detected`.
        conflict: String,
        /// The voter: a vote-phase agent (default `backend`, `frontend`, `qa`, `security`).
        agent: String,
        /// One of the conflict's `options`; `None` (JSON null) when the ballot failed or was
        /// cancelled.
        option: Option<String>,
        /// The voter's reason; for an abstention `abstained: ` followed by the error.
        rationale: String,
    },
    /// A conflict's decision; `tally` counts the valid ballots per option.
    ConflictResolved {
        /// The id of the decided conflict, as in its `conflict_detected`.
        conflict: String,
        /// The chosen option, one of the conflict's `options`.
        option: String,
        /// Who decided: a majority vote, the chair breaking a tie (headless), or the person.
        decided_by: DecidedBy,
        /// Valid ballots per option, every option listed (0 included); abstentions are not counted.
        tally: BTreeMap<String, u32>,
    },
    /// The person replaced a decision (or a vote result) with another option.
    DecisionOverridden {
        /// The id of the conflict whose decision changed.
        conflict: String,
        /// The option replaced: the earlier decision, else the vote majority; `None` (null) when
        /// there was neither.
        from: Option<String>,
        /// The option the person chose instead, one of the conflict's `options`.
        to: String,
        /// The person's note on why, free text; stored as the decision's rationale.
        note: String,
    },
    /// A file was staged (in the db and the scratch tree, not in DIR).
    FileStaged {
        /// The file's path, relative to DIR, normalised and `/`-separated.
        path: String,
        /// The agent whose task wrote the file.
        agent: String,
        /// The staged content's size in bytes (UTF-8).
        bytes: u64,
        /// `new` when DIR has no file at `path`, `modified` when it replaces one (shown as a diff).
        change: FileChange,
    },
    /// A generated path was refused by the path rules (DESIGN.md §6).
    PathRefused {
        /// The path as the model wrote it (may be absolute or hold `..`); normalised when staging
        /// itself failed.
        path: String,
        /// The agent whose task wrote the path.
        agent: String,
        /// The rule it broke (a `PathRefusal` message, e.g. "absolute path") or the error that
        /// stopped staging.
        reason: String,
    },
    /// A component's setup step (installing its dependencies) ran in the scratch tree, before
    /// its tests.
    SetupRun {
        /// The test round it belongs to (as `test_run.round`).
        round: u32,
        /// The component's name (`backend`, `frontend`, or `project` for a single root).
        component: String,
        /// The setup command, run with `sh -c` in the component's root.
        command: String,
        /// How it ended.
        status: SetupStatus,
        /// Whether the step had the network (`[test] setup_network`).
        network: bool,
        /// Wall time, milliseconds.
        #[serde(default)]
        duration_ms: u64,
        /// The lines that tell why it failed (empty when it did not), cleaned of control
        /// characters.
        #[serde(default)]
        lines: Vec<String>,
    },
    /// A component's test command ran in the scratch tree.
    TestRun {
        /// The run's number in the session, from 1; repair reruns and the review phase's runs
        /// continue the count. The components of one round share it.
        round: u32,
        /// The component's name (`project` for a single root).
        #[serde(default)]
        component: String,
        /// The command run: `[test] command`, the plan's, or the one detected from the tree.
        command: String,
        /// Tests that passed, read from the runner's report.
        passed: u32,
        /// Tests that failed or errored, read from the report.
        failed: u32,
        /// Tests the runner skipped.
        #[serde(default)]
        skipped: u32,
        /// The run's class: passed only when exit 0 and at least one test executed.
        status: TestStatus,
        /// Names of failing tests, as the runner printed them (at most 20).
        #[serde(default)]
        failures: Vec<String>,
        /// The decisive lines of a run that did not pass (the missing package, the compiler
        /// error), cleaned of control characters; at most 12.
        #[serde(default)]
        lines: Vec<String>,
    },
    /// A repair task's agent replied that no change in its files can fix the failure; the
    /// chair decides what follows (docs/workflows.md, "Repairs").
    RepairDeclined {
        /// The repair task.
        task: String,
        /// Its agent.
        agent: String,
        /// The agent's reason, cleaned of control characters.
        reason: String,
    },
    /// The summary line a task's reply began with (code replies: the text before the first
    /// file block), kept and given to the next phase.
    TaskSummary {
        /// The task.
        task: String,
        /// Its agent.
        agent: String,
        /// The summary, one line, cleaned of control characters.
        summary: String,
    },
    /// A review finding.
    Finding {
        /// One of `info`, `low`, `medium`, `high` or `critical`.
        severity: String,
        /// The file the finding is about, as the reviewer wrote it (normally relative to DIR).
        path: String,
        /// 1-based line in `path`; 0 when the finding is about the whole file.
        line: u32,
        /// What is wrong and why, in the reviewer's words.
        text: String,
        /// `true` when it must be fixed before delivery; blocking findings become repair tasks.
        blocking: bool,
    },
    /// The session's commit was made.
    CommitCreated {
        /// The new commit's id: 40 lowercase hex digits.
        sha: String,
        /// The committed (accepted) files, relative to DIR, `/`-separated.
        files: Vec<String>,
        /// The repository's work tree (DIR itself, or the parent repo holding DIR).
        repo: String,
    },
    /// The session ended.
    SessionFinished {
        /// How the session ended; it also gives the exit code ([`SessionStatus::exit_code`]).
        status: SessionStatus,
        /// Input tokens of all the session's calls, as providers reported them (estimated when
        /// they did not).
        tokens_in: u64,
        /// Output tokens of all the session's calls, as providers reported them (estimated when
        /// they did not).
        tokens_out: u64,
        /// Cost of all the session's calls in US dollars; currently always 0.0, as no pricing
        /// table exists yet.
        cost_usd: f64,
    },
    /// Something went wrong that is not tied to one task.
    Error {
        /// One human-readable line naming what went wrong, e.g. that no test command was found.
        message: String,
    },
}

impl EventBody {
    /// The event's `type` as it appears in JSON.
    pub fn type_name(&self) -> &'static str {
        match self {
            EventBody::SessionStarted { .. } => "session_started",
            EventBody::SessionResumed { .. } => "session_resumed",
            EventBody::PhaseStarted { .. } => "phase_started",
            EventBody::PhaseFinished { .. } => "phase_finished",
            EventBody::QuestionAsked { .. } => "question_asked",
            EventBody::QuestionAnswered { .. } => "question_answered",
            EventBody::TaskQueued { .. } => "task_queued",
            EventBody::TaskStarted { .. } => "task_started",
            EventBody::TaskPaused { .. } => "task_paused",
            EventBody::TaskCancelled { .. } => "task_cancelled",
            EventBody::TaskFinished { .. } => "task_finished",
            EventBody::TaskFailed { .. } => "task_failed",
            EventBody::TaskRetrying { .. } => "task_retrying",
            EventBody::ProviderFallback { .. } => "provider_fallback",
            EventBody::BudgetWarning { .. } => "budget_warning",
            EventBody::BudgetExhausted { .. } => "budget_exhausted",
            EventBody::ConflictDetected { .. } => "conflict_detected",
            EventBody::VoteCast { .. } => "vote_cast",
            EventBody::ConflictResolved { .. } => "conflict_resolved",
            EventBody::DecisionOverridden { .. } => "decision_overridden",
            EventBody::FileStaged { .. } => "file_staged",
            EventBody::PathRefused { .. } => "path_refused",
            EventBody::SetupRun { .. } => "setup_run",
            EventBody::TestRun { .. } => "test_run",
            EventBody::RepairDeclined { .. } => "repair_declined",
            EventBody::TaskSummary { .. } => "task_summary",
            EventBody::Finding { .. } => "finding",
            EventBody::CommitCreated { .. } => "commit_created",
            EventBody::SessionFinished { .. } => "session_finished",
            EventBody::Error { .. } => "error",
        }
    }
}

/// A durable event: one line of `quorum run --json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoggedEvent {
    /// Schema version, [`SCHEMA_VERSION`].
    pub v: u32,
    /// Per-session sequence number, from 1, gapless.
    pub seq: u64,
    /// The session the event belongs to.
    pub session: SessionId,
    /// When the event happened, RFC 3339 in UTC.
    pub at: String,
    /// The `type` and its fields.
    #[serde(flatten)]
    pub body: EventBody,
}

/// What kind of line a transcript holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    /// What the agent was asked (one summary line per call).
    Prompt,
    /// Text the model produced.
    Text,
    /// A note from quorum (task started, file staged, …).
    Note,
    /// A retry or fallback; text of the failed attempt is discarded.
    Retry,
    /// An error.
    Error,
}

/// One line of an agent's transcript, as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TranscriptLine {
    /// Position in the session's combined transcript ("all"), from 0.
    pub seq: u64,
    /// Position in this agent's transcript, from 0.
    pub agent_seq: u64,
    /// The agent.
    pub agent: String,
    /// The task the line belongs to.
    pub task: String,
    /// The line's kind.
    pub kind: LineKind,
    /// The text, without a line ending.
    pub text: String,
    /// The last line of a call's attempt: a consumer drops any partial line it
    /// built from [`Event::Token`]s of this task.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ends_call: bool,
}

/// A request id chosen by the consumer, echoed in the answer so stale answers can
/// be dropped.
pub type RequestId = u64;

/// Most positions one [`Event::SearchResults`] carries.
pub const SEARCH_LIMIT: usize = 10_000;

/// A stored session as the history lists it (answering [`Op::ListSessions`]).
#[derive(Clone, Debug, PartialEq)]
pub struct SessionSummary {
    /// The session's id.
    pub id: SessionId,
    /// The prompt it started from.
    pub prompt: String,
    /// How it ended; `None` while it runs (or when a crash interrupted it).
    pub status: Option<SessionStatus>,
    /// The phase it is in, or ended in.
    pub phase: String,
    /// When it started, RFC 3339 UTC.
    pub created_at: String,
    /// When it last changed, RFC 3339 UTC.
    pub updated_at: String,
    /// Input and output tokens of all its calls.
    pub tokens: (u64, u64),
    /// Its cost in US dollars.
    pub cost_usd: f64,
    /// The commit it made, 40 hex digits.
    pub commit: Option<String>,
    /// Its last event's seq (how many events it stored).
    pub last_seq: u64,
}

/// A file's content and its diff against DIR, answering [`Op::LoadFile`].
#[derive(Clone, Debug, PartialEq)]
pub struct FileView {
    /// Relative path in DIR.
    pub path: String,
    /// Staged content (UTF-8; binary content is shown as a note).
    pub content: String,
    /// Unified diff against the file in DIR, when one exists there.
    pub diff: Option<String>,
}

/// What happened. Only [`Event::Logged`] is durable and numbered.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// A durable event, released after its group commit was flushed.
    Logged(LoggedEvent),
    /// Text streamed by a model (ephemeral; the text reaches the transcript
    /// as [`Event::TranscriptAppended`] lines).
    Token {
        /// The agent whose model streamed the text.
        agent: String,
        /// The id of the task whose call streamed the text.
        task: String,
        /// The streamed fragment; it may end mid-line or mid-word.
        text: String,
    },
    /// Complete transcript lines that are now durable.
    TranscriptAppended {
        /// The new lines, in ascending `seq`.
        lines: Vec<TranscriptLine>,
    },
    /// Answer to [`Op::LoadTranscript`]: lines in ascending `seq`
    /// (`agent_seq` for one agent); `total` is the view's line count.
    TranscriptPage {
        /// The id of the [`Op::LoadTranscript`] this answers.
        req: RequestId,
        /// The agent whose transcript was read, or `None` for all agents combined, as requested.
        agent: Option<String>,
        /// At most 5,000 lines from the requested `from_seq`; empty past the end.
        lines: Vec<TranscriptLine>,
        /// The view's line count (its last position + 1), whatever part was loaded.
        total: u64,
    },
    /// Answer to [`Op::LoadFile`]; `Err` holds a message naming the problem.
    FileLoaded {
        /// The id of the [`Op::LoadFile`] this answers.
        req: RequestId,
        /// The file's content and diff, or a message such as "no staged file `x`".
        file: Result<FileView, String>,
    },
    /// The person's accept/reject choice for a staged file was stored.
    FileDecided {
        /// The staged file's path, relative to DIR, as in its `file_staged`.
        path: String,
        /// `true` when it will be written at deliver, `false` when it is left out.
        accepted: bool,
    },
    /// The session waits at deliver for [`Op::Commit`]; `message` is the
    /// generated commit message (without its trailers, which are always added).
    DeliveryReady {
        /// The generated commit message, without the trailers.
        message: String,
    },
    /// An agent's memory for this DIR, answering [`Op::LoadMemory`] and
    /// [`Op::SetMemory`], and sent when a delivery adds notes.
    Memory {
        /// The agent.
        agent: String,
        /// Its notes (UTF-8 text, one note per line; empty when it has none),
        /// at most [`MEMORY_MAX_BYTES`].
        notes: String,
    },
    /// An [`Op`] could not be applied (unknown conflict, wrong phase, …); the
    /// session is unchanged.
    Rejected {
        /// The op's short name, e.g. `pause`, `pick`, `commit` or `load transcript`.
        op: String,
        /// Why it was refused, e.g. "no task `x`" or "the session has ended".
        reason: String,
    },
    /// The store failed: durability can no longer be promised and the session
    /// stops. No further events are released.
    Fatal {
        /// The store's error message, naming the db path or the record.
        message: String,
    },
    /// The orchestrator stopped; no more events follow.
    Closed,
    /// Answer to [`Op::SearchTranscript`]: where `query` occurs in the view.
    SearchResults {
        /// The id of the [`Op::SearchTranscript`] this answers.
        req: RequestId,
        /// The view searched: an agent's transcript, or `None` for all agents combined.
        agent: Option<String>,
        /// The text searched for, as sent.
        query: String,
        /// Positions of the matching lines in ascending order: `agent_seq` for one agent, `seq`
        /// for all; at most [`SEARCH_LIMIT`].
        positions: Vec<u64>,
        /// `true` when more lines matched than `positions` holds.
        truncated: bool,
    },
    /// Answer to [`Op::ListSessions`]: the sessions stored for DIR, newest first.
    SessionsListed {
        /// The id of the [`Op::ListSessions`] this answers.
        req: RequestId,
        /// One summary per stored session, newest first; `Err` names why the store could not
        /// be read.
        sessions: Result<Vec<SessionSummary>, String>,
    },
    /// Answer to [`Op::LoadSession`]: a stored session's durable events.
    SessionLoaded {
        /// The id of the [`Op::LoadSession`] this answers.
        req: RequestId,
        /// The session asked for.
        session: SessionId,
        /// Its events in seq order, or a message naming why they could not be read.
        events: Result<Vec<LoggedEvent>, String>,
    },
    /// A stored session is being resumed ([`Op::Resume`]): its durable events so
    /// far, for a consumer to fold before the live ones (`session_resumed`
    /// follows at once), and the transcript's size, so that views continue at
    /// the right positions and page back into the stored lines.
    Resumed {
        /// The stored events, in seq order (1 to the last stored).
        events: Vec<LoggedEvent>,
        /// Transcript lines stored over all agents (the next line's `seq`).
        lines: u64,
        /// Lines stored per agent (the next line's `agent_seq`), by agent.
        agent_lines: std::collections::BTreeMap<String, u64>,
    },
    /// A staged file's content was replaced by the person's edit
    /// ([`Op::AcceptEdited`]); a [`Event::FileDecided`] accepting it follows.
    FileEdited {
        /// The staged file's path, relative to DIR, as in its `file_staged`.
        path: String,
        /// The new content's size in bytes.
        bytes: u64,
    },
}

/// User intent, sent to the orchestrator. Each variant names the events that
/// answer it.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// Start a session on `prompt`. Answered by `session_started`, then the phases'
    /// events, and at the end `session_finished`.
    Start {
        /// The person's prompt; surrounding whitespace is trimmed and an empty prompt is rejected.
        prompt: String,
        /// Options fixed for the whole session.
        options: SessionOptions,
    },
    /// Continue a stored session of DIR from the db alone (`quorum resume`):
    /// finished tasks stay finished, tasks that were running or queued are
    /// queued again, decisions and staged files are kept, and a commit the
    /// session already made (found by its `Quorum-Session:` trailer) is not
    /// made again. Answered by `session_resumed` (its own seq, `from_seq`,
    /// follows the last stored event's), then the session's events; or
    /// [`Event::Rejected`] (op
    /// `resume`) naming why: no such session, it succeeded or failed, a
    /// session is running, the db holds no state for it.
    Resume {
        /// The session's id or a unique prefix; `None` for the newest
        /// resumable session of DIR.
        session: Option<String>,
        /// A person is at the keyboard (the TUI): as in [`SessionOptions`].
        interactive: bool,
        /// Headless: overwrite existing files (`--allow-overwrite`), on top
        /// of what the session started with.
        allow_overwrite: bool,
        /// Headless: commit despite the secret scan (`--allow-secrets`), on
        /// top of what the session started with.
        allow_secrets: bool,
    },
    /// Answer a refine question. Answered by `question_answered`.
    Answer {
        /// The question's id, as in its `question_asked`.
        question: String,
        /// The person's answer text.
        answer: String,
    },
    /// Decide an open conflict with `option`. Answered by `conflict_resolved`
    /// (`decided_by` human).
    Pick {
        /// The open conflict's id, as in its `conflict_detected`.
        conflict: String,
        /// The chosen option, one of the conflict's `options`.
        option: String,
    },
    /// Accept every open conflict's vote majority. Answered by one
    /// `conflict_resolved` (`decided_by` vote) per conflict that has a majority.
    AcceptVotes,
    /// Replace a decision or vote result with `option`, with the person's note.
    /// Answered by `decision_overridden` (and `conflict_resolved` when the
    /// conflict was still open).
    Override {
        /// The conflict's id, as in its `conflict_detected`.
        conflict: String,
        /// The new option, one of the conflict's `options`.
        option: String,
        /// The person's note on why, stored as the decision's rationale.
        note: String,
    },
    /// Pause a queued or running task (a running call is cancelled and will start
    /// again on resume). Answered by `task_paused`.
    PauseTask {
        /// The task's id, e.g. `refine`, `plan.qa`, `vote.<conflict>.<agent>`, `implement.<id>`.
        task: String,
    },
    /// Resume a paused task. Answered by `task_queued`.
    ResumeTask {
        /// The task's id, e.g. `refine`, `plan.qa`, `vote.<conflict>.<agent>`, `implement.<id>`.
        task: String,
    },
    /// Cancel a task. Answered by `task_cancelled`.
    CancelTask {
        /// The task's id, e.g. `refine`, `plan.qa`, `vote.<conflict>.<agent>`, `implement.<id>`.
        task: String,
    },
    /// Queue a failed or cancelled task again. Answered by `task_queued`.
    RetryTask {
        /// The task's id, e.g. `refine`, `plan.qa`, `vote.<conflict>.<agent>`, `implement.<id>`.
        task: String,
    },
    /// Accept or reject a staged file for delivery. Answered by
    /// [`Event::FileDecided`].
    SetFileAccepted {
        /// The staged file's path, relative to DIR, as in its `file_staged`.
        path: String,
        /// `true` to write it at deliver, `false` to leave it out.
        accepted: bool,
    },
    /// Deliver: write the accepted files and commit with `message` (or the
    /// generated summary). Answered by `commit_created` and `session_finished`;
    /// when an accepted file looks like it holds a secret and `allow_secrets`
    /// is `false`, by a blocking `finding` per hit (once) and
    /// [`Event::Rejected`] (op `commit`) naming the files.
    Commit {
        /// The commit message; `None` for the generated summary. The trailers are always added.
        message: Option<String>,
        /// The person's explicit override of the secret scan: commit files that
        /// look like they hold a secret.
        allow_secrets: bool,
    },
    /// Load `len` transcript lines from `from_seq` (of one agent, or of all agents
    /// when `agent` is `None`). Answered by [`Event::TranscriptPage`].
    LoadTranscript {
        /// The agent whose transcript to read; `None` for all agents combined.
        agent: Option<String>,
        /// The first line's position, from 0: `agent_seq` for one agent, `seq` for all.
        from_seq: u64,
        /// How many lines at most; the actor caps it at 5,000.
        len: u64,
        /// The consumer's id for this request, echoed in [`Event::TranscriptPage`].
        req: RequestId,
    },
    /// Load a staged file and its diff. Answered by [`Event::FileLoaded`].
    LoadFile {
        /// The staged file's path, relative to DIR, as in its `file_staged`.
        path: String,
        /// The consumer's id for this request, echoed in [`Event::FileLoaded`].
        req: RequestId,
    },
    /// Pause the whole session: running tasks are paused (their calls
    /// stopped) and no queued task starts until [`Op::ResumeSession`].
    /// Answered by `task_paused` for each running task, or [`Event::Rejected`]
    /// when there is no running session or it is paused already.
    PauseSession,
    /// Resume a paused session: the tasks the pause stopped are queued again
    /// (those a budget paused stay paused until it is raised). Answered by
    /// `task_queued` for each, or [`Event::Rejected`] when it is not paused.
    ResumeSession,
    /// Cancel the session: running calls are stopped, state is flushed.
    /// Answered by `session_finished` with status `cancelled`.
    CancelSession,
    /// A signal or lost terminal: like [`Op::CancelSession`] with status
    /// `interrupted`.
    Interrupt,
    /// Queue a failed or cancelled task again on another model (`provider:model`,
    /// a configured provider), keeping the agent's fallbacks after it; the
    /// tasks that succeeded stay as they are. Answered by `task_queued`.
    RetryTaskOn {
        /// The task's id.
        task: String,
        /// `provider:model`, e.g. `ollama:qwen2.5-coder:14b`.
        model: String,
    },
    /// Raise an exhausted (or any) budget and resume what it paused: `scope` is
    /// an agent's name or `session`; `usd` and `tokens` are the new budgets, or
    /// `None` for the current one plus half. Answered by `task_queued` for each
    /// task the budget had paused.
    RaiseBudget {
        /// An agent's name, or `session`.
        scope: String,
        /// The new budget in US dollars.
        usd: Option<f64>,
        /// The new token budget.
        tokens: Option<u64>,
    },
    /// Load an agent's memory for this DIR. Answered by [`Event::Memory`], or
    /// [`Event::Rejected`] for an agent not in the roster. Needs no session.
    LoadMemory {
        /// The agent.
        agent: String,
    },
    /// Replace an agent's memory for this DIR (empty text clears it); it is
    /// stored at once and used from the agent's next task. Answered by
    /// [`Event::Memory`], or [`Event::Rejected`] for an agent not in the
    /// roster or notes over [`MEMORY_MAX_BYTES`].
    SetMemory {
        /// The agent.
        agent: String,
        /// The new notes.
        notes: String,
    },
    /// Stop the orchestrator after flushing. Answered by [`Event::Closed`].
    Shutdown,
    /// Find the lines of the current session's transcript (one agent's, or all
    /// agents' when `agent` is `None`) whose text contains `query`, ignoring
    /// case. The search runs in the store. Answered by [`Event::SearchResults`]
    /// (or [`Event::Rejected`] with op `search`).
    SearchTranscript {
        /// The agent whose transcript to search; `None` for all agents combined.
        agent: Option<String>,
        /// The text to find; an empty query matches nothing.
        query: String,
        /// The consumer's id for this request, echoed in [`Event::SearchResults`].
        req: RequestId,
    },
    /// List the sessions stored for DIR. Answered by [`Event::SessionsListed`].
    ListSessions {
        /// The consumer's id for this request, echoed in [`Event::SessionsListed`].
        req: RequestId,
    },
    /// Load a stored session's durable events (to fold them read-only).
    /// Answered by [`Event::SessionLoaded`].
    LoadSession {
        /// The session to read, as listed by [`Event::SessionsListed`].
        session: SessionId,
        /// The consumer's id for this request, echoed in [`Event::SessionLoaded`].
        req: RequestId,
    },
    /// Replace a staged file's content with the person's edit and accept it for
    /// delivery. Answered by [`Event::FileEdited`] then [`Event::FileDecided`]
    /// (accepted), or [`Event::Rejected`] with op `edit` (no such file, already
    /// delivered).
    AcceptEdited {
        /// The staged file's path, relative to DIR, as in its `file_staged`.
        path: String,
        /// The edited content (UTF-8), delivered in place of the staged content.
        content: String,
    },
}

/// Most bytes of notes an agent keeps per DIR: what its prompts carry at most
/// (about 1,400 tokens). Notes added at delivery push the oldest lines out.
pub const MEMORY_MAX_BYTES: usize = 4096;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_are_12_hex_and_parse_back() {
        let id = SessionId::new();
        assert_eq!(id.as_str().len(), SessionId::LEN);
        assert_eq!(SessionId::parse(id.as_str()), Some(id.clone()));
        assert_eq!(id.short().len(), 4);
        assert_eq!(SessionId::parse("ABCDEF012345"), None);
        assert_eq!(SessionId::parse("abc"), None);
        assert_ne!(SessionId::new(), SessionId::new());
    }

    #[test]
    fn logged_event_serialises_flat_with_type_tag() {
        let event = LoggedEvent {
            v: SCHEMA_VERSION,
            seq: 7,
            session: SessionId::parse("0123456789ab").unwrap(),
            at: "2026-01-01T00:00:00Z".into(),
            body: EventBody::VoteCast {
                conflict: "c1".into(),
                agent: "qa".into(),
                option: None,
                rationale: "failed".into(),
            },
        };
        let json: serde_json::Value = serde_json::to_value(&event).unwrap();
        assert_eq!(json["type"], "vote_cast");
        assert_eq!(json["seq"], 7);
        assert_eq!(json["v"], 1);
        assert!(json["option"].is_null());
        let back: LoggedEvent = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
        assert_eq!(back.body.type_name(), "vote_cast");
    }

    #[test]
    fn exit_codes_follow_the_design() {
        assert_eq!(SessionStatus::Succeeded.exit_code(), 0);
        assert_eq!(SessionStatus::Failed.exit_code(), 1);
        assert_eq!(SessionStatus::Interrupted.exit_code(), 3);
        assert_eq!(SessionStatus::PausedBudget.exit_code(), 3);
        assert_eq!(SessionStatus::Cancelled.exit_code(), 3);
    }
}
