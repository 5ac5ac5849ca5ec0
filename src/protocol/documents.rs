//! The documents agents reply with: [`Requirements`], a [`Plan`], the
//! [`Conflicts`] between plans, a [`Ballot`], the [`Breakdown`] into tasks and
//! the review's [`Findings`], with the JSON Schema of each ([`schema_for`],
//! sent as structured output). Parsing a reply and the checks beyond its
//! shape live with the orchestrator (`orchestrator/outputs.rs`); the
//! simulated team writes these documents and the session keeps them.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Position, Severity, TaskKind};

/// A question for the person (refine).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Question {
    /// Short id (`q1`).
    pub id: String,
    /// The question.
    pub text: String,
    /// The assumption used when nobody answers.
    pub default: String,
}

/// The refine phase's output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Requirements {
    /// One paragraph.
    pub summary: String,
    /// What the project must do.
    pub goals: Vec<String>,
    /// Limits it must respect.
    pub constraints: Vec<String>,
    /// Checks that tell it is done.
    pub acceptance_criteria: Vec<String>,
    /// What was assumed.
    pub assumptions: Vec<String>,
    /// Questions for the person.
    #[serde(default)]
    pub questions: Vec<Question>,
}

/// A component of a plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Component {
    /// Module or service name.
    pub name: String,
    /// What it does.
    pub responsibility: String,
}

/// One design decision of a plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanDecision {
    /// Short topic id (`storage`).
    pub topic: String,
    /// The option chosen (`sqlite`).
    pub choice: String,
    /// Why.
    pub rationale: String,
}

/// A technical plan (fan-out).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// One paragraph.
    pub summary: String,
    /// Languages, libraries, tools.
    pub stack: Vec<String>,
    /// Components and responsibilities.
    pub components: Vec<Component>,
    /// The data model, in prose or pseudo-code.
    pub data_model: String,
    /// The API, one line per operation.
    pub api: Vec<String>,
    /// Decisions with rationale.
    pub decisions: Vec<PlanDecision>,
}

/// A disagreement between plans (compare).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Conflict {
    /// Short id, unique in the session (`storage`).
    pub id: String,
    /// Human title (`Storage engine`).
    pub topic: String,
    /// The options, at least two.
    pub options: Vec<String>,
    /// Each agent's position quoted from its plan.
    pub positions: Vec<Position>,
    /// Whether implementation must wait for a decision.
    pub blocking: bool,
    /// The chair wants a person to decide, whatever the vote: the TUI waits for
    /// the person; headless, the chair decides and says so.
    #[serde(default)]
    pub needs_human: bool,
}

/// The compare phase's output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Conflicts {
    /// The conflicts, possibly none.
    pub conflicts: Vec<Conflict>,
}

/// A ballot, or the chair's tie-break.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ballot {
    /// One of the conflict's options.
    pub option: String,
    /// Why.
    pub rationale: String,
}

/// One implementation task of the breakdown.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ImplTask {
    /// Short id, unique in the breakdown.
    pub id: String,
    /// The owning agent.
    pub agent: String,
    /// One line.
    pub title: String,
    /// Paths the task may write (exact, or a directory ending in `/`).
    pub files: Vec<String>,
    /// Ids of tasks that must finish first.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// What to do.
    pub description: String,
}

/// A component of the project as the breakdown names it: where it lives and
/// how its dependencies are installed and its tests run (docs/workflows.md,
/// "Setup and tests").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannedComponent {
    /// Short name (`backend`, `frontend`).
    pub name: String,
    /// Its root directory, relative to the project (`backend`; `""` or `.` for the project's root).
    pub root: String,
    /// Shell command run in `root` with the network before the tests (`""`: none), e.g.
    /// `python3 -m venv .venv && .venv/bin/pip install -r requirements.txt`.
    pub setup: String,
    /// Shell command run in `root` without the network, e.g. `.venv/bin/python -m pytest -q`.
    pub test: String,
}

/// The breakdown's output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Breakdown {
    /// The tasks.
    pub tasks: Vec<ImplTask>,
    /// The project's components with their setup and test commands; empty when
    /// the reply names none (they are then detected from the tree).
    #[serde(default)]
    pub components: Vec<PlannedComponent>,
}

/// One review finding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FindingOut {
    /// info, low, medium, high or critical.
    pub severity: String,
    /// The file.
    pub path: String,
    /// 1-based line.
    pub line: u32,
    /// What and why.
    pub text: String,
    /// Must be fixed before delivery.
    pub blocking: bool,
}

/// The review phase's output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Findings {
    /// The findings, possibly none.
    pub findings: Vec<FindingOut>,
}

/// A JSON Schema for a structured reply.
#[derive(Clone, Debug, PartialEq)]
pub struct JsonOutput {
    /// Schema name (`a-zA-Z0-9_-`, at most 64 characters, as OpenAI requires).
    pub name: &'static str,
    /// The JSON Schema.
    pub schema: serde_json::Value,
}

/// The JSON Schema of a JSON task kind's reply (`None` for file-block kinds).
pub fn schema_for(kind: TaskKind) -> Option<JsonOutput> {
    let strings = json!({"type": "array", "items": {"type": "string"}});
    let object = |props: Value, required: &[&str]| json!({"type": "object", "properties": props, "required": required, "additionalProperties": false});
    let (name, schema) = match kind {
        TaskKind::Requirements => (
            "requirements",
            object(
                json!({
                    "summary": {"type": "string"},
                    "goals": strings, "constraints": strings,
                    "acceptance_criteria": strings, "assumptions": strings,
                    "questions": {"type": "array", "items": object(json!({
                        "id": {"type": "string"}, "text": {"type": "string"}, "default": {"type": "string"}
                    }), &["id", "text", "default"])},
                }),
                &[
                    "summary",
                    "goals",
                    "constraints",
                    "acceptance_criteria",
                    "assumptions",
                    "questions",
                ],
            ),
        ),
        TaskKind::Plan => (
            "plan",
            object(
                json!({
                    "summary": {"type": "string"}, "stack": strings,
                    "components": {"type": "array", "items": object(json!({
                        "name": {"type": "string"}, "responsibility": {"type": "string"}
                    }), &["name", "responsibility"])},
                    "data_model": {"type": "string"}, "api": strings,
                    "decisions": {"type": "array", "items": object(json!({
                        "topic": {"type": "string"}, "choice": {"type": "string"}, "rationale": {"type": "string"}
                    }), &["topic", "choice", "rationale"])},
                }),
                &[
                    "summary",
                    "stack",
                    "components",
                    "data_model",
                    "api",
                    "decisions",
                ],
            ),
        ),
        TaskKind::Compare => (
            "conflicts",
            object(
                json!({"conflicts": {"type": "array", "items": object(json!({
                    "id": {"type": "string"}, "topic": {"type": "string"}, "options": strings,
                    "positions": {"type": "array", "items": object(json!({
                        "agent": {"type": "string"}, "option": {"type": "string"}, "quote": {"type": "string"}
                    }), &["agent", "option", "quote"])},
                    "blocking": {"type": "boolean"},
                    "needs_human": {"type": "boolean"},
                }), &["id", "topic", "options", "positions", "blocking", "needs_human"])}}),
                &["conflicts"],
            ),
        ),
        TaskKind::Ballot | TaskKind::Chair => (
            "ballot",
            object(
                json!({"option": {"type": "string"}, "rationale": {"type": "string"}}),
                &["option", "rationale"],
            ),
        ),
        TaskKind::Breakdown => (
            "breakdown",
            object(
                json!({
                    "tasks": {"type": "array", "items": object(json!({
                        "id": {"type": "string"}, "agent": {"type": "string"}, "title": {"type": "string"},
                        "files": strings, "depends_on": strings, "description": {"type": "string"},
                    }), &["id", "agent", "title", "files", "depends_on", "description"])},
                    "components": {"type": "array", "items": object(json!({
                        "name": {"type": "string"}, "root": {"type": "string"},
                        "setup": {"type": "string"}, "test": {"type": "string"},
                    }), &["name", "root", "setup", "test"])},
                }),
                &["tasks", "components"],
            ),
        ),
        TaskKind::Review => (
            "findings",
            object(
                json!({"findings": {"type": "array", "items": object(json!({
                    "severity": {"type": "string", "enum": Severity::names()},
                    "path": {"type": "string"}, "line": {"type": "integer"},
                    "text": {"type": "string"}, "blocking": {"type": "boolean"},
                }), &["severity", "path", "line", "text", "blocking"])}}),
                &["findings"],
            ),
        ),
        TaskKind::Implement | TaskKind::Tests | TaskKind::Repair | TaskKind::Chat => return None,
    };
    Some(JsonOutput { name, schema })
}
