//! Bodies of the orchestration benchmarks (issue 7), shared by
//! `benches/orchestration.rs` (divan, full size) and the integration suite's
//! smoke test (`tests/all/perf.rs`, a handful of tasks, no timing asserted).
//!
//! * [`scheduler_run`]: the scheduler moving tasks through per-agent queues
//!   with an instant provider, every state change persisted to sled through
//!   the real group committer, as the actor does it: one group per handled
//!   message, each with the session summary.
//! * [`event_log_run`]: events appended to the log through the committer, one
//!   event per group (the actor's worst case), batched by the group commit.

use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::BoxStream;
use quorum::config::ModelRef;
use quorum::llm::health::Health;
use quorum::llm::{
    CallMeta, ChatRequest, Chunk, LlmError, Message, Provider, RetryPolicy, Role, TaskKind, Usage,
};
use quorum::orchestrator::call::{self, CallEvent, CallMsg, CallPolicy, Link};
use quorum::orchestrator::committer::{self, Group, Redactor, Subscribers};
use quorum::orchestrator::scheduler::Scheduler;
use quorum::protocol::{
    Event, EventBody, LineKind, LoggedEvent, SCHEMA_VERSION, SessionId, SessionStatus,
    TranscriptLine,
};
use quorum::store::{SessionRecord, Store, Write};
use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Agents of the run (each with two slots; the provider has eight).
pub const AGENTS: [&str; 5] = ["pm", "backend", "frontend", "qa", "security"];

/// What a run did and how long it took.
#[derive(Clone, Copy, Debug)]
pub struct Figures {
    /// Task state changes persisted (queued, running, done: three per task),
    /// or events appended for [`event_log_run`].
    pub changes: u64,
    /// Groups handed to the committer.
    pub groups: u64,
    /// Durable events the subscriber received (after their flush).
    pub released: u64,
    /// From the first group to the last event released (everything flushed).
    pub elapsed: Duration,
}

impl Figures {
    /// State changes (or events) per second.
    pub fn per_second(&self) -> f64 {
        self.changes as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// A provider that answers at once with one short line.
struct Instant0;

impl Provider for Instant0 {
    fn name(&self) -> &str {
        "instant"
    }

    fn label(&self) -> String {
        "instant".to_string()
    }

    fn stream(&self, _request: ChatRequest) -> BoxStream<'static, Result<Chunk, LlmError>> {
        futures::stream::iter([
            Ok(Chunk::Text("done: the task's file is written.".to_string())),
            Ok(Chunk::Usage(Usage {
                input_tokens: 120,
                output_tokens: 9,
                ..Usage::default()
            })),
        ])
        .boxed()
    }
}

/// A session summary as the actor writes it with every group.
pub fn session_record(id: &SessionId) -> SessionRecord {
    SessionRecord {
        id: id.clone(),
        prompt: "Build a URL shortener REST API with tests".to_string(),
        dir: "/home/ada/projects/shortener".to_string(),
        workflow: "default".to_string(),
        created_at: quorum::orchestrator::now(),
        updated_at: quorum::orchestrator::now(),
        status: None,
        phase: "implement".to_string(),
        tokens_in: 0,
        tokens_out: 0,
        cost_usd: 0.0,
        commit: None,
        last_seq: 0,
        offline: true,
    }
}

/// A task record shaped like the actor's (`Task`, serialised whole on every
/// state change), with a small context.
fn task_record(id: &str, agent: &str, state: &str) -> serde_json::Value {
    json!({
        "id": id,
        "agent": agent,
        "phase": "implement",
        "kind": "implement",
        "title": format!("Implement {id}: the handler, its storage and its tests"),
        "state": state,
        "deps": [],
        "priority": 0,
        "declared": [format!("src/{id}.py")],
        "subject": null,
        "context": {"prompt": "Build a URL shortener REST API with tests",
                    "task": {"id": id, "files": [format!("src/{id}.py")]}},
        "generation": 1,
        "invalid_retries": 0,
        "extra": [],
        "usage": {"input_tokens": 0, "output_tokens": 0},
        "cost_usd": 0.0,
        "model": null,
        "error": null,
    })
}

/// The actor's side of a run: the session's counters and the group being built.
struct Driver {
    session: SessionId,
    record: SessionRecord,
    seq: u64,
    line_seq: u64,
    group: Group,
    groups: u64,
    tx: mpsc::UnboundedSender<Group>,
}

impl Driver {
    fn emit(&mut self, body: EventBody) {
        self.seq += 1;
        let event = LoggedEvent {
            v: SCHEMA_VERSION,
            seq: self.seq,
            session: self.session.clone(),
            at: quorum::orchestrator::now(),
            body,
        };
        self.group.writes.push(Write::Event(event.clone()));
        self.group.events.push(Event::Logged(event));
    }

    fn task(&mut self, id: &str, agent: &str, state: &str) {
        self.group.writes.push(Write::Record {
            session: self.session.clone(),
            kind: "task",
            name: id.to_string(),
            value: task_record(id, agent, state),
        });
    }

    fn line(&mut self, agent: &str, task: &str, kind: LineKind, text: String) {
        let line = TranscriptLine {
            seq: self.line_seq,
            agent_seq: self.line_seq,
            agent: agent.to_string(),
            task: task.to_string(),
            kind,
            text,
            ends_call: false,
        };
        self.line_seq += 1;
        self.group.writes.push(Write::Line {
            session: self.session.clone(),
            line,
        });
    }

    /// Hands the group to the committer, with the session summary (as the
    /// actor's `commit_group` does).
    fn commit(&mut self) {
        if self.group.is_empty() {
            return;
        }
        if !self.group.writes.is_empty() {
            self.record.updated_at = quorum::orchestrator::now();
            self.record.last_seq = self.seq;
            self.group.writes.push(Write::Session(self.record.clone()));
        }
        self.groups += 1;
        let _ = self.tx.send(std::mem::take(&mut self.group));
    }
}

fn link() -> Link {
    Link {
        provider: std::sync::Arc::new(Instant0),
        model: ModelRef {
            provider: "instant".to_string(),
            model: "instant-1".to_string(),
        },
        policy: CallPolicy {
            retry: RetryPolicy {
                max_retries: 0,
                base: Duration::from_millis(1),
                cap: Duration::from_millis(1),
            },
            first_byte_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(30),
            ..CallPolicy::default()
        },
        health: std::sync::Arc::new(Health::new()),
    }
}

fn request(task: &str, agent: &str) -> ChatRequest {
    ChatRequest {
        model: "instant-1".to_string(),
        messages: vec![Message::new(Role::User, format!("Implement {task}"))],
        json: None,
        meta: CallMeta {
            agent: agent.to_string(),
            role: agent.to_string(),
            phase: "implement".to_string(),
            task: task.to_string(),
            kind: TaskKind::Implement,
            inputs: None,
        },
        reasoning: Default::default(),
    }
}

/// Counts the durable events released to a subscriber until the committer closes.
async fn drain(mut events: mpsc::UnboundedReceiver<Event>) -> u64 {
    let mut released = 0;
    while let Some(event) = events.recv().await {
        match event {
            Event::Logged(_) => released += 1,
            Event::Fatal { message } => panic!("the store failed: {message}"),
            Event::Closed => break,
            _ => {}
        }
    }
    released
}

/// Moves `tasks` tasks through the agents' queues with an instant provider:
/// every task is queued, started (its call runs on the real call runner) and
/// finished, and each of those three state changes is persisted (the task
/// record, the event, and the transcript lines the actor writes) through the
/// group committer into `store`. The clock stops when the last event is
/// released, so every change is flushed by then.
pub async fn scheduler_run(store: Store, tasks: usize) -> Figures {
    let (tx, rx) = mpsc::unbounded_channel();
    let (failures_tx, _failures_rx) = mpsc::unbounded_channel();
    let subscribers = Subscribers::default();
    let events = subscribers.add();
    let committer = committer::spawn(store, rx, subscribers, failures_tx, Redactor::default());
    let drained = tokio::spawn(drain(events));
    let session = SessionId::new();
    let mut d = Driver {
        record: session_record(&session),
        session,
        seq: 0,
        line_seq: 0,
        group: Group::default(),
        groups: 0,
        tx,
    };
    let start = Instant::now();
    let mut scheduler = Scheduler::default();
    scheduler.add_provider("instant", 8);
    for agent in AGENTS {
        scheduler.add_agent(agent, 2, "instant");
    }
    let owner = queue_the_breakdown(&mut d, &mut scheduler, tasks);
    let (calls_tx, mut calls_rx) = mpsc::unbounded_channel::<CallMsg>();
    let mut finished = 0usize;
    loop {
        start_the_ready_tasks(&mut d, &mut scheduler, &calls_tx);
        d.commit();
        if finished == tasks {
            break;
        }
        let Some(msg) = calls_rx.recv().await else {
            break;
        };
        if take_the_call_event(&mut d, &mut scheduler, &owner, msg) {
            finished += 1;
        }
    }
    d.record.status = Some(SessionStatus::Succeeded);
    d.emit(EventBody::SessionFinished {
        status: SessionStatus::Succeeded,
        tokens_in: 0,
        tokens_out: 0,
        cost_usd: 0.0,
    });
    d.commit();
    let groups = d.groups;
    drop(d);
    let released = drained.await.unwrap_or(0);
    let elapsed = start.elapsed();
    let _ = committer.await;
    Figures {
        changes: 3 * tasks as u64,
        groups,
        released,
        elapsed,
    }
}

/// Step: the breakdown's `tasks` tasks queued in one step, as the actor does;
/// returns each task's agent.
fn queue_the_breakdown(
    d: &mut Driver,
    scheduler: &mut Scheduler,
    tasks: usize,
) -> std::collections::HashMap<String, &'static str> {
    // The breakdown's tasks are queued in one step, as the actor does.
    let mut owner = std::collections::HashMap::new();
    for i in 0..tasks {
        let agent = AGENTS[i % AGENTS.len()];
        let id = format!("implement.t{i}");
        scheduler.enqueue(agent, &id, 0);
        d.task(&id, agent, "queued");
        d.emit(EventBody::TaskQueued {
            task: id.clone(),
            agent: agent.to_string(),
            phase: "implement".to_string(),
            title: format!("Implement t{i}"),
        });
        owner.insert(id, agent);
    }
    owner
}

/// Step: every task the scheduler can start is started, its call spawned on the real call runner.
fn start_the_ready_tasks(
    d: &mut Driver,
    scheduler: &mut Scheduler,
    calls_tx: &mpsc::UnboundedSender<CallMsg>,
) {
    for (agent, task) in scheduler.start_ready(&|_| true) {
        d.task(&task, &agent, "running");
        d.emit(EventBody::TaskStarted {
            task: task.clone(),
            agent: agent.clone(),
            phase: "implement".to_string(),
        });
        d.line(
            &agent,
            &task,
            LineKind::Prompt,
            format!("▸ Implement {task} · instant"),
        );
        tokio::spawn(call::run(
            task.clone(),
            1,
            vec![link()],
            request(&task, &agent),
            calls_tx.clone(),
            CancellationToken::new(),
        ));
    }
}

/// Step: a call's delta becomes a token, its end finishes the task; `true` when a task finished.
fn take_the_call_event(
    d: &mut Driver,
    scheduler: &mut Scheduler,
    owner: &std::collections::HashMap<String, &'static str>,
    msg: CallMsg,
) -> bool {
    let agent = owner.get(&msg.task).copied().unwrap_or("pm");
    match msg.event {
        CallEvent::Delta(delta) => {
            d.group.events.push(Event::Token {
                agent: agent.to_string(),
                task: msg.task,
                text: delta,
            });
            false
        }
        CallEvent::Finished { text: reply, .. } => {
            d.line(agent, &msg.task, LineKind::Text, reply);
            d.task(&msg.task, agent, "done");
            d.line(agent, &msg.task, LineKind::Note, "✓ done".to_string());
            d.emit(EventBody::TaskFinished {
                task: msg.task.clone(),
                agent: agent.to_string(),
                phase: "implement".to_string(),
                tokens_in: 120,
                tokens_out: 9,
                cost_usd: 0.0,
                cache_read_tokens: 0,
                cache_write_tokens: 0,
            });
            scheduler.release(agent);
            true
        }
        other => panic!("the instant provider does not {other:?}"),
    }
}

/// Appends `events` events to the log through the group committer, one event
/// per group (each with the session summary, as the actor sends them), as
/// fast as they come. The clock stops when the last one is released (flushed).
pub async fn event_log_run(store: Store, events: usize) -> Figures {
    let (tx, rx) = mpsc::unbounded_channel();
    let (failures_tx, _failures_rx) = mpsc::unbounded_channel();
    let subscribers = Subscribers::default();
    let received = subscribers.add();
    let committer = committer::spawn(store, rx, subscribers, failures_tx, Redactor::default());
    let drained = tokio::spawn(drain(received));
    let session = SessionId::new();
    let mut d = Driver {
        record: session_record(&session),
        session,
        seq: 0,
        line_seq: 0,
        group: Group::default(),
        groups: 0,
        tx,
    };
    let start = Instant::now();
    for i in 0..events {
        let agent = AGENTS[i % AGENTS.len()];
        d.emit(EventBody::TaskFinished {
            task: format!("implement.t{i}"),
            agent: agent.to_string(),
            phase: "implement".to_string(),
            tokens_in: 1_200,
            tokens_out: 340,
            cost_usd: 0.0042,
            cache_read_tokens: 0,
            cache_write_tokens: 0,
        });
        d.commit();
        // The actor handles one message per iteration; let the committer run
        // between them as it would.
        if i % 64 == 63 {
            tokio::task::yield_now().await;
        }
    }
    let groups = d.groups;
    drop(d);
    let released = drained.await.unwrap_or(0);
    let elapsed = start.elapsed();
    let _ = committer.await;
    Figures {
        changes: events as u64,
        groups,
        released,
        elapsed,
    }
}
