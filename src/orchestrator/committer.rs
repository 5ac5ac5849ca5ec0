//! Group commit (DESIGN.md §4): the actor hands over each step's writes and
//! events as a [`Group`]; the committer applies the writes of all groups that
//! arrived, flushes sled once (at most every [`GROUP_INTERVAL`], or at once when
//! [`GROUP_RECORDS`] records wait), and only then releases the groups' events to
//! the subscribers, in order. A consumer therefore never sees an event that a
//! crash could lose. Groups without writes (answers to requests) are released
//! without waiting, after any group queued before them.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio::time::Instant;

use crate::protocol::Event;
use crate::store::{Store, Write};

/// Longest time records wait for their flush (after the previous flush).
pub const GROUP_INTERVAL: Duration = Duration::from_millis(50);
/// Records that close a group at once.
pub const GROUP_RECORDS: usize = 256;

/// One step's writes and the events they make durable.
#[derive(Debug, Default)]
pub struct Group {
    /// Records to apply.
    pub writes: Vec<Write>,
    /// Events to release after the flush.
    pub events: Vec<Event>,
}

impl Group {
    /// `true` when there is nothing to write or send.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty() && self.events.is_empty()
    }
}

/// The consumers of events; each gets every event, in order, on its own
/// unbounded channel (nothing is dropped for a slow consumer).
#[derive(Clone, Debug, Default)]
pub struct Subscribers(Arc<Mutex<Vec<UnboundedSender<Event>>>>);

impl Subscribers {
    /// A new consumer; it receives the events released from now on.
    pub fn add(&self) -> UnboundedReceiver<Event> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(tx);
        rx
    }

    /// Sends to every consumer still listening.
    pub fn send(&self, event: &Event) {
        let mut subs = self.0.lock().unwrap_or_else(|p| p.into_inner());
        subs.retain(|tx| tx.send(event.clone()).is_ok());
    }
}

/// The test hook of the fault-injection tests (issue 6): with
/// `QUORUM_CRASH_AFTER_SEQ=N` in the environment, the process kills itself
/// (SIGKILL: no destructor, no flush, as a power cut would) right after the
/// flush that made an event with seq ≥ N durable, before that group's events
/// are released. Read once per committer; unset or unparsable means off.
pub const CRASH_AFTER_SEQ_VAR: &str = "QUORUM_CRASH_AFTER_SEQ";

/// The other fault-injection hook: with `QUORUM_CRASH_BEFORE_SEQ=N` the process
/// kills itself before it applies the group holding an event with seq ≥ N, so
/// that group is lost while its effects outside the db (files in DIR, a
/// commit, the scratch tree) remain: what a resume must reconcile.
pub const CRASH_BEFORE_SEQ_VAR: &str = "QUORUM_CRASH_BEFORE_SEQ";

fn env_seq(var: &str) -> Option<u64> {
    std::env::var(var).ok().and_then(|v| v.trim().parse().ok())
}

/// The highest event seq in `batch`.
fn last_seq(batch: &[Group]) -> Option<u64> {
    batch
        .iter()
        .flat_map(|g| &g.events)
        .filter_map(|e| match e {
            Event::Logged(e) => Some(e.seq),
            _ => None,
        })
        .max()
}

/// Dies at once, as a crash would.
fn crash_now(why: &str) -> ! {
    eprintln!("quorum: crashing {why}");
    // SAFETY: kill(2) on our own pid has no memory-safety preconditions.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGKILL);
    }
    std::process::abort()
}

/// Starts the committer. It ends when `groups` closes, after flushing and
/// releasing everything, and then sends [`Event::Closed`]. A store failure is
/// reported to `failures` and to the subscribers as [`Event::Fatal`]; the failed
/// group's events are not released.
pub fn spawn(
    store: Store,
    mut groups: UnboundedReceiver<Group>,
    subscribers: Subscribers,
    failures: UnboundedSender<String>,
) -> tokio::task::JoinHandle<()> {
    let crash_after = env_seq(CRASH_AFTER_SEQ_VAR);
    let crash_before = env_seq(CRASH_BEFORE_SEQ_VAR);
    let hooked = crash_after.is_some() || crash_before.is_some();
    tokio::spawn(async move {
        let mut last_flush = Instant::now() - GROUP_INTERVAL;
        while let Some(first) = groups.recv().await {
            let mut records = first.writes.len();
            let mut batch = vec![first];
            // With the crash hook on, every group is flushed by itself, so
            // that each group boundary is a distinct crash point.
            if records > 0 && !hooked {
                let deadline = last_flush + GROUP_INTERVAL;
                while records < GROUP_RECORDS {
                    match tokio::time::timeout_at(deadline, groups.recv()).await {
                        Ok(Some(group)) => {
                            records += group.writes.len();
                            batch.push(group);
                        }
                        Ok(None) | Err(_) => break,
                    }
                }
            } else if records == 0 {
                while let Ok(group) = groups.try_recv() {
                    records += group.writes.len();
                    batch.push(group);
                }
            }
            if records > 0 {
                if let Some(seq) = crash_before.and_then(|n| last_seq(&batch).filter(|s| *s >= n)) {
                    crash_now(&format!(
                        "before event {seq} was stored ({CRASH_BEFORE_SEQ_VAR})"
                    ));
                }
                let writes: Vec<Write> = batch
                    .iter_mut()
                    .flat_map(|g| std::mem::take(&mut g.writes))
                    .collect();
                let store = store.clone();
                let result = tokio::task::spawn_blocking(move || {
                    store.apply(&writes)?;
                    store.flush()
                })
                .await;
                last_flush = Instant::now();
                let failure = match result {
                    Ok(Ok(_)) => None,
                    Ok(Err(e)) => Some(e.to_string()),
                    Err(e) => Some(format!("the store task failed: {e}")),
                };
                if let Some(message) = failure {
                    tracing::error!(%message, "group commit failed");
                    subscribers.send(&Event::Fatal {
                        message: message.clone(),
                    });
                    let _ = failures.send(message);
                    continue;
                }
                if let Some(seq) = crash_after.and_then(|n| last_seq(&batch).filter(|s| *s >= n)) {
                    crash_now(&format!(
                        "after event {seq} was flushed ({CRASH_AFTER_SEQ_VAR})"
                    ));
                }
            }
            for group in batch {
                for event in &group.events {
                    subscribers.send(event);
                }
            }
        }
        subscribers.send(&Event::Closed);
    })
}
