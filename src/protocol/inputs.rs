//! Each task kind's inputs as types: one struct per [`TaskKind`], gathered in
//! [`TaskInputs`]. The orchestrator builds them from the session
//! (`orchestrator/inputs.rs`), the prompt shows them as the `# Inputs` JSON
//! (their serialised form is the prompts' contract with the models:
//! `prompt`, `requirements`, `decisions`, `answers`, `environment`,
//! `summaries`, `project`, `instructions`, `memory`, and per kind the rest),
//! and the
//! simulated team reads them back as these types.
//!
//! The context budget (`orchestrator/context.rs`) may cut long strings and
//! replace a whole bulky input with a note: such inputs are [`Shown`], whole
//! or omitted. Every field reads as its default when absent (a prompt's
//! inputs read back by a test's fake model need not be complete).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::documents::{Ballot, Conflict, ImplTask, Plan, Requirements};
use super::{TaskKind, TestStatus};

/// An input the context budget may replace whole by a note saying how much
/// was left out (`(omitted to fit the model's context window: N characters)`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Shown<T> {
    /// The input as built.
    Whole(T),
    /// The note that replaced it.
    Omitted(String),
}

impl<T> Shown<T> {
    /// The input, unless it was omitted.
    pub fn whole(&self) -> Option<&T> {
        match self {
            Shown::Whole(value) => Some(value),
            Shown::Omitted(_) => None,
        }
    }
}

impl<T: Default> Default for Shown<T> {
    fn default() -> Self {
        Shown::Whole(T::default())
    }
}

impl<T> From<T> for Shown<T> {
    fn from(value: T) -> Self {
        Shown::Whole(value)
    }
}

/// `true` for a whole, empty list (left out of the JSON).
fn no_items<T>(shown: &Shown<Vec<T>>) -> bool {
    shown.whole().is_some_and(Vec::is_empty)
}

/// `true` for a whole, empty map (left out of the JSON).
fn no_entries<K, V>(shown: &Shown<BTreeMap<K, V>>) -> bool {
    shown.whole().is_some_and(BTreeMap::is_empty)
}

/// A file shown in a prompt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FileView {
    /// Relative to DIR, `/`-separated.
    pub path: String,
    /// The content (line-numbered where the kind says so), or `(omitted: prompt budget)`.
    pub content: String,
}

/// The project already in DIR, as the agents see it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProjectView {
    /// Every file, relative to DIR, sorted.
    pub files: Vec<String>,
    /// The key files' contents that fit the map's budget, by path.
    pub key_files: Vec<FileView>,
    /// How many files were listed or readable but left out of `key_files`.
    pub omitted: usize,
    /// The repository map: the source files most relevant to the prompt,
    /// each as its path then one symbol signature a line, within
    /// `[session] map_tokens` (docs/design.md §1, "Existing code"); empty
    /// when DIR holds no source file a grammar reads.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub map: String,
}

/// A project instruction file (`AGENTS.md`, `CLAUDE.md`, `CONVENTIONS.md`,
/// `.github/copilot-instructions.md`) as every agent sees it
/// (docs/design.md §1, "Project instructions").
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Instruction {
    /// The file, relative to DIR, `/`-separated.
    pub path: String,
    /// The subtree it applies to, relative to DIR (`""`: the whole project).
    pub applies_to: String,
    /// Its text, cut at the size limit with a note saying how much was left out.
    pub text: String,
}

/// A refine question with its answer (the person's, or the default assumed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    /// The question's text.
    pub question: String,
    /// The answer.
    pub answer: String,
}

/// What every kind past refine carries.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Shared {
    /// The person's prompt.
    pub prompt: String,
    /// The requirements without their questions, and without the assumptions
    /// that only restate a question's default (the answers say it).
    #[serde(default)]
    pub requirements: Option<Requirements>,
    /// Conflict id → the option decided.
    #[serde(default)]
    pub decisions: BTreeMap<String, String>,
    /// The refine questions answered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub answers: Vec<Answer>,
    /// Tools and versions, how tests run, the components' commands (free
    /// form, for the model).
    #[serde(default)]
    pub environment: Value,
    /// Task id → the summary line its reply began with.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub summaries: BTreeMap<String, String>,
    /// The project already in DIR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<Shown<ProjectView>>,
    /// The project's own instruction files, root first.
    #[serde(default, skip_serializing_if = "no_items")]
    pub instructions: Shown<Vec<Instruction>>,
    /// The agent's notes from earlier sessions in DIR, added as the call starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
}

/// Refine: the prompt, and DIR's project.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RequirementsInput {
    /// The person's prompt.
    pub prompt: String,
    /// The project already in DIR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<Shown<ProjectView>>,
    /// The project's own instruction files, as in [`Shared`].
    #[serde(default, skip_serializing_if = "no_items")]
    pub instructions: Shown<Vec<Instruction>>,
    /// The agent's notes from earlier sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
}

/// Plan: the shared inputs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PlanInput {
    /// What every kind carries.
    #[serde(flatten)]
    pub shared: Shared,
}

/// Compare: the plans and who wrote them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CompareInput {
    /// What every kind carries.
    #[serde(flatten)]
    pub shared: Shared,
    /// Planning agent → its plan.
    pub plans: Shown<BTreeMap<String, Plan>>,
    /// The planning agents.
    pub planners: Vec<String>,
}

/// Ballot: the conflict, what the project must do, and the voter's own plan.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BallotInput {
    /// The person's prompt.
    pub prompt: String,
    /// The requirements, as in [`Shared`].
    pub requirements: Option<Requirements>,
    /// The conflict voted on.
    pub conflict: Conflict,
    /// The voter's own plan, if it wrote one.
    pub plan: Option<Plan>,
    /// The project's own instruction files, as in [`Shared`].
    #[serde(default, skip_serializing_if = "no_items")]
    pub instructions: Shown<Vec<Instruction>>,
    /// The agent's notes from earlier sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
}

/// One voter's ballot as the chair sees it (`None`: abstained).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CastBallot {
    /// The voter.
    pub agent: String,
    /// Its ballot.
    pub ballot: Option<Ballot>,
}

/// Chair: a tied conflict, its tally and ballots, and the requirements.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChairInput {
    /// The person's prompt.
    pub prompt: String,
    /// The requirements, as in [`Shared`].
    pub requirements: Option<Requirements>,
    /// The tied conflict.
    pub conflict: Conflict,
    /// Option → votes.
    pub tally: BTreeMap<String, u32>,
    /// Every voter's ballot.
    pub ballots: Vec<CastBallot>,
    /// The project's own instruction files, as in [`Shared`].
    #[serde(default, skip_serializing_if = "no_items")]
    pub instructions: Shown<Vec<Instruction>>,
    /// The agent's notes from earlier sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
}

/// Repair: the files under repair (line-numbered in `current`), the failure
/// and the output's tail; for a failing test round also the failure per
/// component, other files it names and the components' manifests.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RepairInput {
    /// What every kind carries.
    #[serde(flatten)]
    pub shared: Shared,
    /// The files the repair may write.
    pub files: Vec<String>,
    /// The failure report (its tail is kept when trimmed).
    pub report: String,
    /// Path → the file under repair, line-numbered.
    pub current: BTreeMap<String, String>,
    /// Per component, how the round failed (free form, for the model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Value>,
    /// Path → other files the failure names, line-numbered.
    #[serde(default, skip_serializing_if = "no_entries")]
    pub named: Shown<BTreeMap<String, String>>,
    /// Path → the components' manifests.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub manifest: BTreeMap<String, String>,
}

/// Breakdown: the plans and the agents that may own tasks.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BreakdownInput {
    /// What every kind carries.
    #[serde(flatten)]
    pub shared: Shared,
    /// Planning agent → its plan.
    pub plans: Shown<BTreeMap<String, Plan>>,
    /// The agents that may own tasks.
    pub agents: Vec<String>,
}

/// Implement: the task, its files, the declared files that already exist,
/// and the files the tasks it depends on wrote (these two filled in when it
/// starts).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImplementInput {
    /// What every kind carries.
    #[serde(flatten)]
    pub shared: Shared,
    /// The task from the breakdown.
    pub task: ImplTask,
    /// The files it may write.
    pub files: Vec<String>,
    /// The files of the tasks it builds on.
    #[serde(default, skip_serializing_if = "no_items")]
    pub dependencies: Shown<Vec<FileView>>,
    /// The declared files that already exist (staged earlier in the
    /// session, else in DIR), whole and without line numbers: a SEARCH/REPLACE
    /// edit copies its SEARCH text from them (docs/design.md §1, "Edits").
    #[serde(default, skip_serializing_if = "no_items")]
    pub existing: Shown<Vec<FileView>>,
}

/// Tests: where tests may go, and the staged code.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TestsInput {
    /// What every kind carries.
    #[serde(flatten)]
    pub shared: Shared,
    /// Where tests may be written.
    pub files: Vec<String>,
    /// The staged files.
    pub staged: Shown<Vec<FileView>>,
}

/// One component's last test run, as the reviewer sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TestView {
    /// The component's name.
    pub component: String,
    /// The test command.
    pub command: String,
    /// How the run ended.
    pub status: TestStatus,
    /// Tests passed.
    pub passed: u32,
    /// Tests failed.
    pub failed: u32,
    /// Tests skipped.
    pub skipped: u32,
    /// The failing tests' names (at most 20).
    pub failures: Vec<String>,
}

/// Review: the staged files with line numbers (findings name lines) and the
/// last test round's results.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReviewInput {
    /// What every kind carries.
    #[serde(flatten)]
    pub shared: Shared,
    /// The staged files, line-numbered.
    pub files: Vec<FileView>,
    /// The last test round.
    pub tests: Vec<TestView>,
}

/// Chat (`quorum ask`, the doctor's probe): the question.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChatInput {
    /// The question.
    pub prompt: String,
}

/// A task's inputs, one variant per [`TaskKind`]. Serialised, a variant is
/// its struct's JSON object (no tag: the task's kind says which it is; see
/// [`TaskInputs::from_value`]).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum TaskInputs {
    /// [`TaskKind::Requirements`].
    Requirements(RequirementsInput),
    /// [`TaskKind::Plan`].
    Plan(PlanInput),
    /// [`TaskKind::Compare`].
    Compare(CompareInput),
    /// [`TaskKind::Ballot`].
    Ballot(BallotInput),
    /// [`TaskKind::Chair`].
    Chair(ChairInput),
    /// [`TaskKind::Breakdown`].
    Breakdown(BreakdownInput),
    /// [`TaskKind::Implement`].
    Implement(ImplementInput),
    /// [`TaskKind::Tests`].
    Tests(TestsInput),
    /// [`TaskKind::Repair`].
    Repair(RepairInput),
    /// [`TaskKind::Review`].
    Review(ReviewInput),
    /// [`TaskKind::Chat`].
    Chat(ChatInput),
}

impl TaskInputs {
    /// Reads the JSON form of `kind`'s inputs (as a task record keeps them,
    /// or as a prompt shows them). Errors: the JSON does not have that
    /// kind's shape (serde's message).
    pub fn from_value(kind: TaskKind, value: Value) -> Result<TaskInputs, String> {
        fn read<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, String> {
            serde_json::from_value(value).map_err(|e| e.to_string())
        }
        Ok(match kind {
            TaskKind::Requirements => TaskInputs::Requirements(read(value)?),
            TaskKind::Plan => TaskInputs::Plan(read(value)?),
            TaskKind::Compare => TaskInputs::Compare(read(value)?),
            TaskKind::Ballot => TaskInputs::Ballot(read(value)?),
            TaskKind::Chair => TaskInputs::Chair(read(value)?),
            TaskKind::Breakdown => TaskInputs::Breakdown(read(value)?),
            TaskKind::Implement => TaskInputs::Implement(read(value)?),
            TaskKind::Tests => TaskInputs::Tests(read(value)?),
            TaskKind::Repair => TaskInputs::Repair(read(value)?),
            TaskKind::Review => TaskInputs::Review(read(value)?),
            TaskKind::Chat => TaskInputs::Chat(read(value)?),
        })
    }

    /// The JSON form (an object; `Null` if it cannot be written, which a
    /// struct of strings, numbers and maps never hits).
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The kind these inputs are for.
    pub fn kind(&self) -> TaskKind {
        match self {
            TaskInputs::Requirements(_) => TaskKind::Requirements,
            TaskInputs::Plan(_) => TaskKind::Plan,
            TaskInputs::Compare(_) => TaskKind::Compare,
            TaskInputs::Ballot(_) => TaskKind::Ballot,
            TaskInputs::Chair(_) => TaskKind::Chair,
            TaskInputs::Breakdown(_) => TaskKind::Breakdown,
            TaskInputs::Implement(_) => TaskKind::Implement,
            TaskInputs::Tests(_) => TaskKind::Tests,
            TaskInputs::Repair(_) => TaskKind::Repair,
            TaskInputs::Review(_) => TaskKind::Review,
            TaskInputs::Chat(_) => TaskKind::Chat,
        }
    }

    /// The shared inputs, for the kinds that carry them.
    pub fn shared(&self) -> Option<&Shared> {
        match self {
            TaskInputs::Plan(i) => Some(&i.shared),
            TaskInputs::Compare(i) => Some(&i.shared),
            TaskInputs::Breakdown(i) => Some(&i.shared),
            TaskInputs::Implement(i) => Some(&i.shared),
            TaskInputs::Tests(i) => Some(&i.shared),
            TaskInputs::Repair(i) => Some(&i.shared),
            TaskInputs::Review(i) => Some(&i.shared),
            TaskInputs::Requirements(_)
            | TaskInputs::Ballot(_)
            | TaskInputs::Chair(_)
            | TaskInputs::Chat(_) => None,
        }
    }

    fn shared_mut(&mut self) -> Option<&mut Shared> {
        match self {
            TaskInputs::Plan(i) => Some(&mut i.shared),
            TaskInputs::Compare(i) => Some(&mut i.shared),
            TaskInputs::Breakdown(i) => Some(&mut i.shared),
            TaskInputs::Implement(i) => Some(&mut i.shared),
            TaskInputs::Tests(i) => Some(&mut i.shared),
            TaskInputs::Repair(i) => Some(&mut i.shared),
            TaskInputs::Review(i) => Some(&mut i.shared),
            TaskInputs::Requirements(_)
            | TaskInputs::Ballot(_)
            | TaskInputs::Chair(_)
            | TaskInputs::Chat(_) => None,
        }
    }

    /// The person's prompt (every kind carries it).
    pub fn prompt(&self) -> &str {
        match self {
            TaskInputs::Requirements(i) => &i.prompt,
            TaskInputs::Ballot(i) => &i.prompt,
            TaskInputs::Chair(i) => &i.prompt,
            TaskInputs::Chat(i) => &i.prompt,
            other => other.shared().map_or("", |s| s.prompt.as_str()),
        }
    }

    /// The project in DIR, when the inputs show it whole.
    pub fn project(&self) -> Option<&ProjectView> {
        let shown = match self {
            TaskInputs::Requirements(i) => i.project.as_ref(),
            other => other.shared().and_then(|s| s.project.as_ref()),
        };
        shown.and_then(Shown::whole)
    }

    /// The project's instruction files, when the inputs show them whole.
    pub fn instructions(&self) -> &[Instruction] {
        let shown = match self {
            TaskInputs::Requirements(i) => &i.instructions,
            TaskInputs::Ballot(i) => &i.instructions,
            TaskInputs::Chair(i) => &i.instructions,
            TaskInputs::Chat(_) => return &[],
            other => match other.shared() {
                Some(s) => &s.instructions,
                None => return &[],
            },
        };
        shown.whole().map_or(&[], Vec::as_slice)
    }

    /// The conflict a ballot or the chair decides.
    pub fn conflict(&self) -> Option<&Conflict> {
        match self {
            TaskInputs::Ballot(i) => Some(&i.conflict),
            TaskInputs::Chair(i) => Some(&i.conflict),
            _ => None,
        }
    }

    /// The agent's notes, if the inputs carry them.
    pub fn memory(&self) -> Option<&str> {
        match self {
            TaskInputs::Requirements(i) => i.memory.as_deref(),
            TaskInputs::Ballot(i) => i.memory.as_deref(),
            TaskInputs::Chair(i) => i.memory.as_deref(),
            TaskInputs::Chat(_) => None,
            other => other.shared().and_then(|s| s.memory.as_deref()),
        }
    }

    /// Adds the agent's notes from earlier sessions (not to a chat, which
    /// carries none).
    pub fn set_memory(&mut self, notes: &str) {
        let slot = match self {
            TaskInputs::Requirements(i) => &mut i.memory,
            TaskInputs::Ballot(i) => &mut i.memory,
            TaskInputs::Chair(i) => &mut i.memory,
            TaskInputs::Chat(_) => return,
            other => match other.shared_mut() {
                Some(s) => &mut s.memory,
                None => return,
            },
        };
        *slot = Some(notes.to_string());
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn inputs_read_back_as_written_and_omitted_inputs_stay_notes() {
        let value = json!({
            "prompt": "p",
            "decisions": {"storage": "sqlite"},
            "environment": {"tests": "offline"},
            "requirements": null,
            "plans": "(omitted to fit the model's context window: 12 characters)",
            "agents": ["pm"],
            "memory": "notes",
        });
        let inputs = TaskInputs::from_value(TaskKind::Breakdown, value.clone()).unwrap();
        let TaskInputs::Breakdown(b) = &inputs else {
            panic!("{inputs:?}")
        };
        assert!(b.plans.whole().is_none());
        assert_eq!(inputs.memory(), Some("notes"));
        assert_eq!(inputs.prompt(), "p");
        assert_eq!(inputs.to_value(), value);
        assert!(TaskInputs::from_value(TaskKind::Ballot, json!("text")).is_err());
    }

    #[test]
    fn empty_lists_stay_out_and_memory_goes_where_the_kind_keeps_it() {
        let mut inputs = TaskInputs::Implement(ImplementInput {
            shared: Shared::default(),
            task: ImplTask {
                id: "core".into(),
                agent: "backend".into(),
                title: "t".into(),
                files: vec!["a.py".into()],
                depends_on: Vec::new(),
                description: "d".into(),
            },
            files: vec!["a.py".into()],
            dependencies: Shown::default(),
            existing: Shown::default(),
        });
        assert!(inputs.to_value().get("dependencies").is_none());
        assert!(inputs.to_value().get("existing").is_none());
        inputs.set_memory("m");
        assert_eq!(inputs.to_value()["memory"], "m");
        let mut chat = TaskInputs::Chat(ChatInput { prompt: "q".into() });
        chat.set_memory("m");
        assert_eq!(chat.to_value(), json!({"prompt": "q"}));
        assert_eq!(chat.kind(), TaskKind::Chat);
    }
}
