//! The durable event stream: [`EventBody`] per `type` (docs/design.md §5), and
//! [`LoggedEvent`], one line of `quorum run --json`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::*;

/// The body of a durable event: the `type` and the fields beyond the common ones
/// of docs/design.md §5's table. Some variants carry extra fields the table does not
/// name (`title`, `positions`, usage and cache usage on `task_finished`, `repo`); the JSON Schema
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
    /// The project's instruction files were read at the session's start
    /// (docs/design.md §1, "Project instructions"); every agent gets them.
    InstructionsRead {
        /// The files read, relative to DIR, `/`-separated, the root's first
        /// (`AGENTS.md`, `web/AGENTS.md`, `CLAUDE.md`, …).
        files: Vec<String>,
        /// Those cut at the size limit (32 KiB each).
        cut: Vec<String>,
    },
    /// The repository map was built at the session's start (docs/design.md
    /// §1, "Existing code").
    RepoMap {
        /// Source files read (`parsed` + `cached`).
        files: u64,
        /// Of those, the ones parsed now.
        parsed: u64,
        /// Of those, the ones whose symbols came from the store's cache (an
        /// earlier session saw the same content).
        cached: u64,
        /// Symbols (functions, types, methods) of all the files read.
        symbols: u64,
        /// Files the map shows within its budget.
        shown: u64,
        /// The map's size in tokens (one per three characters), at most
        /// `[session] map_tokens`.
        tokens: u64,
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
        /// Input tokens of the task's calls read from the provider's prompt
        /// cache (part of `tokens_in`; 0 in sessions recorded before it was kept).
        #[serde(default)]
        cache_read_tokens: u64,
        /// Input tokens of the task's calls written to the provider's prompt
        /// cache (part of `tokens_in`; Anthropic reports them).
        #[serde(default)]
        cache_write_tokens: u64,
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
        /// The retry's number for the current model, from 1 (at most 4, docs/design.md §3).
        attempt: u32,
        /// The failed attempt's error, e.g. `HTTP 429: …` or `timed out: no first byte for 60 s`.
        reason: String,
        /// Wait before the retry, in milliseconds: jittered backoff from 0.5 s capped at 30 s, or
        /// the server's `retry-after` (docs/design.md §3).
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
    /// A generated path was refused by the path rules (docs/design.md §6).
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
        /// What confined the step (docs/sandbox.md).
        #[serde(default)]
        isolation: crate::protocol::Isolation,
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
        /// What confined the run (docs/sandbox.md).
        #[serde(default)]
        isolation: crate::protocol::Isolation,
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
            EventBody::InstructionsRead { .. } => "instructions_read",
            EventBody::RepoMap { .. } => "repo_map",
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
