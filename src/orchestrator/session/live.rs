//! The live part of a [`super::Session`]: what exists only while the actor
//! runs, or is stored in records of its own, and so is never part of the
//! `state`/`session` record (the scheduler, the calls' cancel tokens, partial
//! transcript lines, the sequence numbers, the map of DIR's project). A
//! resume rebuilds it (`resume.rs`).

use std::collections::HashMap;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::super::scheduler::Scheduler;
use crate::protocol::TaskState;

/// The session's runtime state.
#[derive(Default)]
pub(crate) struct Live {
    /// The last event's seq (the event log's).
    pub seq: u64,
    pub scheduler: Scheduler,
    /// Running task → its call's cancel token.
    pub cancels: HashMap<String, CancellationToken>,
    /// Task → the text of its reply after the last complete line.
    pub partial: HashMap<String, String>,
    /// Task → its reasoning after the last complete line.
    pub thinking: HashMap<String, String>,
    /// The next transcript line's seq (the store's).
    pub line_seq: u64,
    /// Agent → the next seq of a line in its transcript.
    pub agent_line_seq: HashMap<String, u64>,
    /// The project already in DIR (files and key contents), when there is one
    /// (stored once, as the `state`/`project` record).
    pub project: Option<Value>,
}

impl Live {
    /// Takes task `id` (of `agent`, in `state`) off its agent: a queued task
    /// leaves the queue; a running or retrying one has its call cancelled,
    /// its agent's slot freed and its partial line dropped. Other states hold
    /// nothing here.
    pub fn halt(&mut self, id: &str, agent: &str, state: TaskState) {
        match state {
            TaskState::Queued => {
                self.scheduler.remove(id);
            }
            TaskState::Running | TaskState::Retrying => {
                if let Some(token) = self.cancels.remove(id) {
                    token.cancel();
                }
                self.scheduler.release(agent);
                self.partial.remove(id);
                self.thinking.remove(id);
            }
            TaskState::Paused | TaskState::Done | TaskState::Failed | TaskState::Cancelled => {}
        }
    }
}
