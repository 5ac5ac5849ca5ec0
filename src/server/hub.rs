//! The server's one task between its clients and its orchestrator
//! (docs/design.md §4, "Server and clients"). Every client's ops reach the
//! orchestrator through here, one at a time in arrival order, so an op is
//! applied once whoever sent it; every event the orchestrator releases is
//! encoded once and sent to each attached client, except the answers to one
//! client's request (a transcript page, a file, search results, a stored
//! session), which go to that client alone with its own request id.
//!
//! A client attaching is handled between two events: it gets the snapshot of
//! the session ([`Snapshot::for_new_client`]) and then every event after it,
//! none twice and none missed.
//!
//! A decision already taken is refused here, before the orchestrator,
//! naming the decision and who took it (the other client's label, the vote
//! or the chair); a rejection from the orchestrator goes to the client that
//! last sent an op of that kind.
//!
//! The hub ends, and with it the server, on `serve --stop`, when the last
//! client quits (not detaches) with no session running, or after
//! [`super::ServeOptions::idle`] without clients and without a running
//! session: it sends the orchestrator [`Op::Shutdown`] and waits for its
//! [`Event::Closed`] (the last group flushed).

use std::collections::BTreeMap;

use bytes::Bytes;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::snapshot::Snapshot;
use crate::protocol::wire::{ClientMsg, ServerMsg, Welcome, encode};
use crate::protocol::{DecidedBy, Event, EventBody, Op, RequestId};

/// A client's number on this server, from 1.
pub type ClientId = u64;

/// What the listener and the clients' readers tell the hub.
pub enum HubMsg {
    /// A client passed the handshake.
    Join {
        /// Its number.
        id: ClientId,
        /// Who it is (already sanitised), for the others' messages.
        label: String,
        /// It receives the session and its events.
        attach: bool,
        /// Where its frames go (its writer task).
        frames: UnboundedSender<Bytes>,
        /// The hub's [`Welcome`], sent once the client is registered.
        welcome: oneshot::Sender<Welcome>,
    },
    /// A message from a client.
    From(ClientId, ClientMsg),
    /// A client's connection closed (a detach, a dropped link).
    Left(ClientId),
}

struct Client {
    label: String,
    attach: bool,
    frames: UnboundedSender<Bytes>,
    /// It quit: it gets [`Event::Closed`] once the session has ended.
    quitting: bool,
}

/// How the hub ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// Still serving.
    No,
    /// Asked to stop, or idle: [`Op::Shutdown`] was sent; the hub ends at
    /// the orchestrator's [`Event::Closed`].
    Stopping,
}

/// The hub's state.
pub struct Hub {
    ops: UnboundedSender<Op>,
    clients: BTreeMap<ClientId, Client>,
    snapshot: Snapshot,
    /// Requests in flight: the hub's request id → (client, its own id).
    requests: BTreeMap<RequestId, (ClientId, RequestId)>,
    next_req: RequestId,
    /// The client that last sent an op of each kind (the rejection's `op`).
    senders: BTreeMap<&'static str, ClientId>,
    /// Conflicts picked by a client and not yet answered: conflict → label.
    picking: BTreeMap<String, String>,
    /// Conflicts a client decided: conflict → its label.
    deciders: BTreeMap<String, String>,
    ending: Ending,
    /// The last client to leave quit (rather than detached).
    last_quit: bool,
    /// When the server stops for want of clients and sessions.
    idle_at: Option<Instant>,
    idle: std::time::Duration,
    /// The person's `[notify] command`, run by the server for every session
    /// it hosts (its clients ring their own terminals).
    notify: crate::notify::Host,
}

impl Hub {
    /// A hub sending ops to `ops`, ending after `idle` without clients or a
    /// running session, running `notify`'s command when a session needs the
    /// person.
    pub fn new(
        ops: UnboundedSender<Op>,
        idle: std::time::Duration,
        notify: crate::notify::Host,
    ) -> Hub {
        Hub {
            ops,
            clients: BTreeMap::new(),
            snapshot: Snapshot::default(),
            requests: BTreeMap::new(),
            next_req: 1,
            senders: BTreeMap::new(),
            picking: BTreeMap::new(),
            deciders: BTreeMap::new(),
            ending: Ending::No,
            last_quit: false,
            idle_at: Some(Instant::now() + idle),
            idle,
            notify,
        }
    }

    /// Runs until the orchestrator has closed (after a stop, the last quit
    /// or the idle time) or its events end.
    pub async fn run(
        mut self,
        mut inbox: UnboundedReceiver<HubMsg>,
        mut events: UnboundedReceiver<Event>,
    ) {
        loop {
            let idle = self.idle_at;
            tokio::select! {
                event = events.recv() => match event {
                    Some(Event::Closed) | None => break,
                    Some(event) => self.on_event(event),
                },
                Some(msg) = inbox.recv() => self.on_msg(msg),
                () = sleep_until(idle) => self.stop(),
            }
            self.check_idle();
        }
        self.broadcast_all(&Event::Closed);
        // No notify command is left running after the server (at most 30 s).
        let notify = self.notify;
        let _ = tokio::task::spawn_blocking(move || notify.wait()).await;
    }

    /// Sends the orchestrator [`Op::Shutdown`] once.
    fn stop(&mut self) {
        if self.ending == Ending::No {
            tracing::info!("server stopping");
            self.ending = Ending::Stopping;
            self.idle_at = None;
            let _ = self.ops.send(Op::Shutdown);
        }
    }

    /// Arms or disarms the idle stop; stops at once when the last client
    /// quit with nothing running.
    fn check_idle(&mut self) {
        if self.ending != Ending::No {
            return;
        }
        if !self.clients.is_empty() || self.snapshot.running() {
            self.idle_at = None;
        } else if self.last_quit {
            self.stop();
        } else if self.idle_at.is_none() {
            self.idle_at = Some(Instant::now() + self.idle);
        }
    }

    fn on_msg(&mut self, msg: HubMsg) {
        match msg {
            HubMsg::Join {
                id,
                label,
                attach,
                frames,
                welcome,
            } => {
                if attach && let Some(event) = self.snapshot.for_new_client() {
                    let _ = frames.send(encode(&ServerMsg::Event(event)));
                }
                let _ = welcome.send(Welcome {
                    protocol: crate::protocol::wire::PROTOCOL_VERSION,
                    quorum: env!("CARGO_PKG_VERSION").to_string(),
                    pid: std::process::id(),
                    session: self.snapshot.session(),
                    running: self.snapshot.running(),
                });
                tracing::info!(client = id, %label, attach, "client joined");
                self.clients.insert(
                    id,
                    Client {
                        label,
                        attach,
                        frames,
                        quitting: false,
                    },
                );
                self.last_quit = false;
                if attach {
                    self.send_count();
                }
            }
            HubMsg::From(id, ClientMsg::Op(op)) => self.on_op(id, op),
            HubMsg::From(id, ClientMsg::Quit) => self.on_quit(id),
            HubMsg::From(_, ClientMsg::Stop) => self.stop(),
            // A second hello is ignored: the handshake is over.
            HubMsg::From(_, ClientMsg::Hello(_)) => {}
            HubMsg::Left(id) => {
                if let Some(client) = self.clients.remove(&id) {
                    tracing::info!(client = id, label = %client.label, "client left");
                    self.last_quit = client.quitting;
                    if client.attach {
                        self.send_count();
                    }
                }
            }
        }
    }

    /// The person quit client `id`: when it is the last one attached, the
    /// running session ends as [`Op::Quit`] says and the client gets
    /// [`Event::Closed`] after its end; with nothing running, or while
    /// other clients watch the session, at once (the session goes on for
    /// them).
    fn on_quit(&mut self, id: ClientId) {
        let others = self
            .clients
            .iter()
            .any(|(other, c)| *other != id && c.attach && !c.quitting);
        if self.snapshot.running() && !others {
            if let Some(client) = self.clients.get_mut(&id) {
                client.quitting = true;
            }
            let _ = self.ops.send(Op::Quit);
        } else {
            self.close_client(id, true);
        }
    }

    /// Sends `id` [`Event::Closed`] and forgets it; the writer closes the
    /// connection once the frame is out.
    fn close_client(&mut self, id: ClientId, quit: bool) {
        if let Some(client) = self.clients.remove(&id) {
            let _ = client.frames.send(encode(&ServerMsg::Event(Event::Closed)));
            self.last_quit = quit;
            if client.attach {
                self.send_count();
            }
        }
    }

    fn on_op(&mut self, id: ClientId, op: Op) {
        let Some(label) = self.clients.get(&id).map(|c| c.label.clone()) else {
            return;
        };
        if let Op::Pick { conflict, .. } = &op
            && let Some(reason) = self.stale_pick(conflict)
        {
            self.send_to(
                id,
                Event::Rejected {
                    op: "pick".into(),
                    reason,
                },
            );
            return;
        }
        if let Op::Pick { conflict, .. } = &op {
            self.picking.insert(conflict.clone(), label);
        }
        let op = self.own_request(id, op);
        self.senders.insert(rejection_name(&op), id);
        // A client never stops the server's orchestrator: its Shutdown is a
        // quit ([`ClientMsg::Quit`] is what clients send).
        let op = if op == Op::Shutdown { Op::Quit } else { op };
        let _ = self.ops.send(op);
    }

    /// Why a pick of `conflict` comes too late: it was decided (by whom), or
    /// another client's pick of it is on its way.
    fn stale_pick(&self, conflict: &str) -> Option<String> {
        if let Some((option, by)) = self.snapshot.decision(conflict) {
            let who = match by {
                DecidedBy::Human => self
                    .deciders
                    .get(conflict)
                    .cloned()
                    .unwrap_or_else(|| "the person".into()),
                DecidedBy::Vote => "the vote".into(),
                DecidedBy::Chair => "the chair".into(),
            };
            return Some(format!(
                "`{conflict}` was already decided: `{option}`, by {who} (override it with o to change it)"
            ));
        }
        self.picking
            .get(conflict)
            .map(|who| format!("`{conflict}` is being decided by {who}"))
    }

    /// A request with an id gets the hub's own id, remembered with the
    /// client's, so that its answer goes to that client alone.
    fn own_request(&mut self, id: ClientId, mut op: Op) -> Op {
        let req = match &mut op {
            Op::LoadTranscript { req, .. }
            | Op::LoadFile { req, .. }
            | Op::SearchTranscript { req, .. }
            | Op::ListSessions { req }
            | Op::LoadSession { req, .. } => req,
            _ => return op,
        };
        let own = self.next_req;
        self.next_req += 1;
        self.requests.insert(own, (id, *req));
        *req = own;
        op
    }

    fn on_event(&mut self, event: Event) {
        self.snapshot.take(&event);
        self.notify.take(&event);
        match event {
            Event::TranscriptPage { req, .. }
            | Event::FileLoaded { req, .. }
            | Event::SearchResults { req, .. }
            | Event::SessionsListed { req, .. }
            | Event::SessionLoaded { req, .. } => self.answer(req, event),
            Event::Rejected { op, reason } => {
                let to = self.senders.get(op.as_str()).copied();
                if op == "pick" {
                    let label = to
                        .and_then(|id| self.clients.get(&id))
                        .map(|c| c.label.clone());
                    self.picking.retain(|_, who| Some(&*who) != label.as_ref());
                }
                let event = Event::Rejected { op, reason };
                match to {
                    Some(id) if self.clients.contains_key(&id) => self.send_to(id, event),
                    _ => self.broadcast(&event),
                }
            }
            Event::Logged(e) => {
                let finished = matches!(e.body, EventBody::SessionFinished { .. });
                if let EventBody::ConflictResolved {
                    conflict,
                    decided_by: DecidedBy::Human,
                    ..
                } = &e.body
                    && let Some(who) = self.picking.remove(conflict)
                {
                    self.deciders.insert(conflict.clone(), who);
                }
                if matches!(e.body, EventBody::SessionStarted { .. }) {
                    self.deciders.clear();
                    self.picking.clear();
                }
                self.broadcast(&Event::Logged(e));
                if finished {
                    let quitting: Vec<ClientId> = self
                        .clients
                        .iter()
                        .filter(|(_, c)| c.quitting)
                        .map(|(id, _)| *id)
                        .collect();
                    for id in quitting {
                        self.close_client(id, true);
                    }
                }
            }
            other => self.broadcast(&other),
        }
    }

    /// An answer to a request: to its client, with its own id.
    fn answer(&mut self, req: RequestId, mut event: Event) {
        let Some((id, own)) = self.requests.remove(&req) else {
            return self.broadcast(&event);
        };
        match &mut event {
            Event::TranscriptPage { req, .. }
            | Event::FileLoaded { req, .. }
            | Event::SearchResults { req, .. }
            | Event::SessionsListed { req, .. }
            | Event::SessionLoaded { req, .. } => *req = own,
            _ => {}
        }
        self.send_to(id, event);
    }

    fn send_to(&self, id: ClientId, event: Event) {
        if let Some(client) = self.clients.get(&id) {
            let _ = client.frames.send(encode(&ServerMsg::Event(event)));
        }
    }

    /// To every attached client, encoded once.
    fn broadcast(&self, event: &Event) {
        let mut frame: Option<Bytes> = None;
        for client in self.clients.values().filter(|c| c.attach) {
            let frame = frame.get_or_insert_with(|| encode(&ServerMsg::Event(event.clone())));
            let _ = client.frames.send(frame.clone());
        }
    }

    /// To every client, attached or not (the server's end).
    fn broadcast_all(&self, event: &Event) {
        let frame = encode(&ServerMsg::Event(event.clone()));
        for client in self.clients.values() {
            let _ = client.frames.send(frame.clone());
        }
    }

    /// Every attached client learns how many are attached.
    fn send_count(&self) {
        let attached = self.clients.values().filter(|c| c.attach).count() as u32;
        self.broadcast(&Event::Clients { attached });
    }
}

/// Sleeps until `at`; forever when `None`.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The `op` of the [`Event::Rejected`] the orchestrator answers `op` with,
/// when it refuses it (the names in `src/orchestrator/`): the hub sends a
/// rejection to the client that last sent an op of its kind.
pub fn rejection_name(op: &Op) -> &'static str {
    match op {
        Op::Start { .. } => "start",
        Op::Resume { .. } => "resume",
        Op::Answer { .. } => "answer",
        Op::Pick { .. } => "pick",
        Op::AcceptVotes => "accept votes",
        Op::Override { .. } => "override",
        Op::PauseTask { .. } => "pause",
        Op::ResumeTask { .. } => "resume task",
        Op::CancelTask { .. } => "cancel",
        Op::RetryTask { .. } | Op::RetryTaskOn { .. } => "retry",
        Op::SetFileAccepted { .. } => "accept",
        Op::Commit { .. } => "commit",
        Op::LoadTranscript { .. } => "load transcript",
        Op::LoadFile { .. } => "load file",
        Op::PauseSession => "pause session",
        Op::ResumeSession => "resume session",
        Op::CancelSession | Op::Interrupt | Op::Shutdown | Op::Quit => "cancel session",
        Op::RaiseBudget { .. } => "raise budget",
        Op::LoadMemory { .. } => "load memory",
        Op::SetMemory { .. } => "set memory",
        Op::SearchTranscript { .. } => "search",
        Op::ListSessions { .. } => "list sessions",
        Op::LoadSession { .. } => "load session",
        Op::AcceptEdited { .. } => "edit",
    }
}
