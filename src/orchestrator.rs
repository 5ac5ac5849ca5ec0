//! The orchestrator: an actor (tokio task) that owns the session, the scheduler,
//! the store (through its committer) and the workspace. Consumers — the TUI and
//! the headless runner — talk to it only through an [`OrchestratorHandle`]:
//! [`Op`]s in, [`Event`]s out (docs/design.md §4).
//!
//! Inside: `actor` (the select! loop and the routing of ops and reports),
//! `group` (events, records and transcript lines of one iteration, handed to
//! the committer), `log` (events as log lines), `tasks` (a task's lifecycle;
//! `tasks/run.rs` its model call), `session` (the state it owns, in named
//! parts), `phases` (one file per phase kind: its start, its replies, its
//! status; delivery and the decision record among them), `budget`, `memory`,
//! `resume`, `queries` (answers to consumers' requests), `inputs` (each task
//! kind's input), `testing` (setup, tests, the gate and repairs), [`call`]
//! (one model call with retries and fallbacks), [`scheduler`] (per-agent
//! queues), [`committer`] (group commit), [`outputs`] (reply formats and
//! checks), [`prompts`] (messages).

pub mod call;
pub mod committer;
pub mod outputs;
pub mod prompts;
pub mod providers;
pub mod scheduler;

mod actor;
mod budget;
mod context;
mod group;
mod inputs;
mod log;
pub mod memory;
mod phases;
mod queries;
mod resume;
mod session;
mod tasks;
mod testing;

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};

use self::actor::Actor;
use self::committer::{Group, Subscribers};
use crate::config::Settings;
use crate::config::workflow::Workflow;
use crate::llm::SharedProvider;
use crate::protocol::{Event, Op};
use crate::store::Store;
use crate::workspace::Workspace;

/// The current time, RFC 3339 in UTC (the `at` of events).
pub use crate::protocol::now;
pub use actor::PROJECT_MAP_BYTES;

/// Everything the orchestrator needs.
pub struct Parts {
    /// Validated settings.
    pub settings: Arc<Settings>,
    /// The workflow to run.
    pub workflow: Workflow,
    /// The open db.
    pub store: Store,
    /// DIR and its state directory.
    pub workspace: Workspace,
    /// Providers by name.
    pub providers: BTreeMap<String, SharedProvider>,
}

/// The consumers' end of the orchestrator.
pub struct OrchestratorHandle {
    ops: UnboundedSender<Op>,
    subscribers: Subscribers,
    actor: tokio::task::JoinHandle<()>,
    committer: tokio::task::JoinHandle<()>,
}

/// A clonable sender of [`Op`]s.
pub type OpSender = UnboundedSender<Op>;

impl OrchestratorHandle {
    /// A sender for ops (the TUI keeps one).
    pub fn sender(&self) -> OpSender {
        self.ops.clone()
    }

    /// Sends an op; ignored once the orchestrator has stopped.
    pub fn send(&self, op: Op) {
        let _ = self.ops.send(op);
    }

    /// A new event consumer; subscribe before sending [`Op::Start`] to see every event.
    pub fn subscribe(&self) -> UnboundedReceiver<Event> {
        self.subscribers.add()
    }

    /// Waits for the actor and the committer to stop (after [`Op::Shutdown`]).
    pub async fn join(self) {
        drop(self.ops);
        let _ = self.actor.await;
        let _ = self.committer.await;
    }

    /// A frontend's end of the orchestrator (docs/design.md §4): its op
    /// sender, a subscription to its events from now on, and its stop. The
    /// TUI and the headless runner take these, never the handle.
    pub fn into_channels(self) -> crate::protocol::Channels {
        crate::protocol::Channels {
            events: self.subscribe(),
            ops: self.sender(),
            stopped: Box::pin(self.join()),
        }
    }
}

/// Starts the orchestrator on the current tokio runtime.
pub fn spawn(parts: Parts) -> OrchestratorHandle {
    let (ops_tx, ops_rx) = mpsc::unbounded_channel();
    let (calls_tx, calls_rx) = mpsc::unbounded_channel();
    let (inbox_tx, inbox_rx) = mpsc::unbounded_channel();
    let (failures_tx, failures_rx) = mpsc::unbounded_channel();
    let (groups_tx, groups_rx) = mpsc::unbounded_channel::<Group>();
    let subscribers = Subscribers::default();
    // The configured key values, replaced in everything persisted.
    let redactor = committer::Redactor::new(
        parts
            .settings
            .key_variables()
            .iter()
            .filter_map(|name| std::env::var(name).ok()),
    );
    crate::secrets::redact::register(redactor.values().to_vec());
    let committer = committer::spawn(
        parts.store.clone(),
        groups_rx,
        subscribers.clone(),
        failures_tx,
        redactor,
    );
    let actor = Actor {
        settings: parts.settings,
        workflow: parts.workflow,
        store: parts.store,
        workspace: parts.workspace,
        providers: parts.providers,
        health: BTreeMap::new(),
        unpriced: Default::default(),
        mail: actor::Mailboxes {
            ops: ops_rx,
            calls: calls_rx,
            inbox: inbox_rx,
            failures: failures_rx,
        },
        calls_tx,
        inbox_tx,
        committer: groups_tx,
        group: Group::default(),
        group_lines: Vec::new(),
        session: None,
        shutting_down: false,
        memory: None,
        snapshot: None,
        probing_pytest: false,
    };
    let actor = tokio::spawn(actor.run());
    OrchestratorHandle {
        ops: ops_tx,
        subscribers,
        actor,
        committer,
    }
}
