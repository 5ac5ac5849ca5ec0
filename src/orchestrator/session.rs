//! The state of one session: the [`Session`] the actor owns (serialised as
//! the `state`/`session` record so that `quorum resume` can rebuild it), its
//! tasks, staged files and decisions.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::outputs::{Ballot, Breakdown, Conflict, FindingOut, Plan, Question, Requirements};
use super::scheduler::Scheduler;
use crate::llm::{Message, TaskKind, Usage};
use crate::protocol::{DecidedBy, FileChange, SessionId, SessionOptions, SessionStatus, TaskState};
use crate::store::SessionRecord;
use crate::workspace::sandbox::TestOutcome;

/// A task of the session.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Task {
    pub id: String,
    pub agent: String,
    pub phase: String,
    pub kind: TaskKind,
    pub title: String,
    pub state: TaskState,
    pub deps: Vec<String>,
    pub priority: i32,
    /// Files the task may write (exact paths, or directories ending in `/`).
    pub declared: Vec<String>,
    /// The conflict a ballot or chair task is about.
    pub subject: Option<String>,
    pub context: Value,
    pub generation: u64,
    pub invalid_retries: u32,
    /// A validation retry's exchange, appended to the task's messages.
    pub extra: Vec<Message>,
    pub usage: Usage,
    /// Cost of the task's calls, US dollars.
    #[serde(default)]
    pub cost_usd: f64,
    /// A model the person chose for a rerun, tried before the agent's fallbacks.
    #[serde(default)]
    pub model: Option<crate::config::ModelRef>,
    // No copy of the accepted reply: the transcript holds it, and what it
    // yields (requirements, plans, ballots, files…) has its own records; a
    // second copy here was rewritten with every sled leaf this record shares
    // (issue 7: about 180 KB written per 20,000-token reply). Records of
    // older quorums hold an `output` field, ignored when they are read.
    pub error: Option<String>,
}

/// A staged file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct StagedFile {
    pub content: String,
    pub agent: String,
    pub task: String,
    pub change: FileChange,
    /// Delivered when accepted; new files start accepted, changes to existing
    /// files start rejected until the person (or `--allow-overwrite`) accepts them.
    pub accepted: bool,
    /// What DIR held at this path when the file was staged or accepted
    /// ([`crate::workspace::Workspace::content_id`]: a blob id, `""` for
    /// absent); `None` in records of older quorums. Delivery writes the file
    /// only while DIR still holds that (or already this file's content): a
    /// hand edit made since is kept and reported.
    #[serde(default)]
    pub base: Option<String>,
}

/// A conflict's decision.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Decision {
    pub option: String,
    pub decided_by: DecidedBy,
    pub tally: BTreeMap<String, u32>,
    pub rationale: String,
}

/// Where the test phase (and the review's re-test) is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Stage {
    /// Agents are writing (tests, or fixes).
    Writing,
    /// The test command runs.
    Running,
    /// The phase's work is complete.
    Passed,
    /// The phase failed for good.
    Failed,
}

/// One running session. Serialised (without the fields marked `skip`, which
/// live in their own records or are rebuilt) as the `state`/`session` record
/// of every group that changes it, so that `quorum resume` can rebuild it from
/// the db alone (see `resume.rs`).
#[derive(Serialize, Deserialize)]
pub(crate) struct Session {
    pub id: SessionId,
    pub prompt: String,
    pub options: SessionOptions,
    /// The `sessions` row (stored there).
    #[serde(skip, default = "placeholder_record")]
    pub record: SessionRecord,
    /// The last event's seq (the event log's).
    #[serde(skip)]
    pub seq: u64,
    pub phase: usize,
    pub phase_started: bool,
    /// The tasks (each stored as its own `task` record).
    #[serde(skip)]
    pub tasks: BTreeMap<String, Task>,
    #[serde(skip)]
    pub scheduler: Scheduler,
    #[serde(skip)]
    pub cancels: HashMap<String, CancellationToken>,
    #[serde(skip)]
    pub partial: HashMap<String, String>,
    /// The next transcript line's seq (the store's).
    #[serde(skip)]
    pub line_seq: u64,
    #[serde(skip)]
    pub agent_line_seq: HashMap<String, u64>,
    pub requirements: Option<Requirements>,
    pub questions: Vec<Question>,
    pub answers: BTreeMap<String, String>,
    pub plans: BTreeMap<String, Plan>,
    pub conflicts: Vec<Conflict>,
    /// conflict → voter → ballot (`None`: abstained).
    pub ballots: BTreeMap<String, BTreeMap<String, Option<Ballot>>>,
    pub decisions: BTreeMap<String, Decision>,
    /// conflict → (the option overridden, if any; the person's note).
    pub overrides: BTreeMap<String, (Option<String>, String)>,
    pub breakdown: Option<Breakdown>,
    /// The staged files (each stored as its own `file` record).
    #[serde(skip)]
    pub files: BTreeMap<String, StagedFile>,
    pub findings: Vec<FindingOut>,
    pub test_round: u32,
    pub test_stage: Stage,
    pub review_stage: Stage,
    /// The failing (else the last) component run of the last round.
    pub last_test: Option<TestOutcome>,
    /// Every component's run of the last finished round.
    #[serde(default)]
    pub last_tests: Vec<TestOutcome>,
    /// The runs of the round under way.
    #[serde(default)]
    pub round_tests: Vec<TestOutcome>,
    /// The components of the last round.
    #[serde(default)]
    pub components: Vec<crate::workspace::stack::Component>,
    /// A component's root and setup command → the fingerprint of its last
    /// successful setup (a setup whose inputs are unchanged is not run again).
    #[serde(default)]
    pub setups: BTreeMap<String, String>,
    /// Repair rounds run so far (test and review), against `[test] max_repair_rounds`.
    #[serde(default)]
    pub repair_rounds: u32,
    /// This round's declined repairs: (task, agent, reason).
    #[serde(default)]
    pub declined: Vec<(String, String, String)>,
    /// Reviews queued so far (the first, then one per repaired round).
    #[serde(default)]
    pub reviews: u32,
    /// A repair round was queued since the last test run: its files are to be
    /// tested again (the review phase reads it; `testing.rs` sets and clears it).
    #[serde(default)]
    pub retest: bool,
    /// The text `docs/DECISIONS.md` had before this session's section, as
    /// first staged (the section is staged again with the test results).
    #[serde(default)]
    pub decisions_prefix: Option<String>,
    /// Task id → the summary line its reply began with.
    #[serde(default)]
    pub summaries: BTreeMap<String, String>,
    pub test_command: Option<String>,
    pub delivered: bool,
    pub usage: Usage,
    pub cost_usd: f64,
    /// Cost per agent, US dollars.
    pub agent_cost: BTreeMap<String, f64>,
    /// Tokens (input and output) per agent.
    pub agent_tokens: BTreeMap<String, u64>,
    /// Budgets raised by the person: scope → (dollars, tokens).
    pub budgets: BTreeMap<String, (Option<f64>, Option<u64>)>,
    /// Scopes past 80 % of their budget (warned once).
    pub budget_warned: std::collections::BTreeSet<String>,
    /// Scopes past their budget.
    pub budget_exhausted: std::collections::BTreeSet<String>,
    /// Tasks paused by a budget, resumed when it is raised.
    pub budget_paused: std::collections::BTreeSet<String>,
    pub finished: Option<SessionStatus>,
    pub failure: Option<String>,
    /// Interactive only: the test or review phase failed for good and the
    /// session moved on to deliver so the person can decide; the session ends
    /// `failed` unless they commit.
    pub tests_failed: Option<String>,
    /// The project already in DIR (files and key contents), when there is one
    /// (stored once, as the `state`/`project` record).
    #[serde(skip)]
    pub project: Option<Value>,
    /// Paused by the person ([`Op::PauseSession`]): no task starts.
    pub paused: bool,
    /// The tasks that pause stopped, queued again on resume.
    pub paused_by_session: Vec<String>,
    /// The last stall reported (so it is reported once).
    pub stall: Option<String>,
    /// A repair round was queued and has not been judged yet.
    pub awaiting_repairs: bool,
    /// A repair of the current round changed a file.
    pub round_changed: bool,
    /// The current round's task-id part (`.repair1.`, `.fix.`).
    pub round_label: String,
    /// The states of the tasks that were still open when the session ended
    /// resumably (interrupted, cancelled, paused by a budget, waiting at
    /// deliver): `quorum resume` puts them back.
    #[serde(default)]
    pub interrupted: BTreeMap<String, TaskState>,
}

impl Session {
    /// A session that has not started its first phase: `record` is its
    /// `sessions` row, `project` the map of DIR's project, if any.
    pub fn new(
        id: SessionId,
        prompt: String,
        options: SessionOptions,
        record: SessionRecord,
        scheduler: Scheduler,
        project: Option<Value>,
    ) -> Session {
        Session {
            id,
            prompt,
            options,
            record,
            seq: 0,
            phase: 0,
            phase_started: false,
            tasks: BTreeMap::new(),
            scheduler,
            cancels: HashMap::new(),
            partial: HashMap::new(),
            line_seq: 0,
            agent_line_seq: HashMap::new(),
            requirements: None,
            questions: Vec::new(),
            answers: BTreeMap::new(),
            plans: BTreeMap::new(),
            conflicts: Vec::new(),
            ballots: BTreeMap::new(),
            decisions: BTreeMap::new(),
            overrides: BTreeMap::new(),
            breakdown: None,
            files: BTreeMap::new(),
            findings: Vec::new(),
            test_round: 0,
            test_stage: Stage::Writing,
            review_stage: Stage::Writing,
            last_test: None,
            last_tests: Vec::new(),
            round_tests: Vec::new(),
            components: Vec::new(),
            setups: BTreeMap::new(),
            repair_rounds: 0,
            declined: Vec::new(),
            reviews: 0,
            retest: false,
            decisions_prefix: None,
            summaries: BTreeMap::new(),
            test_command: None,
            delivered: false,
            usage: Usage::default(),
            cost_usd: 0.0,
            agent_cost: BTreeMap::new(),
            agent_tokens: BTreeMap::new(),
            budgets: BTreeMap::new(),
            budget_warned: Default::default(),
            budget_exhausted: Default::default(),
            budget_paused: Default::default(),
            finished: None,
            failure: None,
            tests_failed: None,
            paused: false,
            paused_by_session: Vec::new(),
            stall: None,
            project,
            awaiting_repairs: false,
            round_changed: false,
            round_label: String::new(),
            interrupted: BTreeMap::new(),
        }
    }

    /// The paths of the staged files accepted for delivery, in path order.
    pub fn accepted_paths(&self) -> Vec<String> {
        self.files
            .iter()
            .filter(|(_, f)| f.accepted)
            .map(|(p, _)| p.clone())
            .collect()
    }
}

/// The stand-in `sessions` row of a deserialised [`Session`] until the stored
/// row replaces it.
pub(crate) fn placeholder_record() -> SessionRecord {
    SessionRecord {
        id: SessionId::new(),
        prompt: String::new(),
        dir: String::new(),
        workflow: String::new(),
        created_at: String::new(),
        updated_at: String::new(),
        status: None,
        phase: String::new(),
        tokens_in: 0,
        tokens_out: 0,
        cost_usd: 0.0,
        commit: None,
        last_seq: 0,
        offline: false,
    }
}
