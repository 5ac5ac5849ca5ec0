//! The work part of a [`super::Session`]: its tasks, the files they staged,
//! the review's findings and the summary lines of replies. Tasks and files
//! are stored as their own `task` and `file` records, not in the session's.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::super::outputs::FindingOut;
use crate::llm::{Message, TaskKind, Usage};
use crate::protocol::{FileChange, TaskState};

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

/// The session's work. Flattened into the `state`/`session` record.
#[derive(Default, Serialize, Deserialize)]
pub(crate) struct Work {
    /// The tasks (each stored as its own `task` record).
    #[serde(skip)]
    pub tasks: BTreeMap<String, Task>,
    /// The staged files (each stored as its own `file` record).
    #[serde(skip)]
    pub files: BTreeMap<String, StagedFile>,
    pub findings: Vec<FindingOut>,
    /// Task id → the summary line its reply began with.
    #[serde(default)]
    pub summaries: BTreeMap<String, String>,
}

impl Work {
    /// The paths of the staged files accepted for delivery, in path order.
    pub fn accepted_paths(&self) -> Vec<String> {
        self.files
            .iter()
            .filter(|(_, f)| f.accepted)
            .map(|(p, _)| p.clone())
            .collect()
    }
}
