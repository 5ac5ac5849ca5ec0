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
    tokio::spawn(async move {
        let mut last_flush = Instant::now() - GROUP_INTERVAL;
        while let Some(first) = groups.recv().await {
            let mut records = first.writes.len();
            let mut batch = vec![first];
            if records > 0 {
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
            } else {
                while let Ok(group) = groups.try_recv() {
                    records += group.writes.len();
                    batch.push(group);
                }
            }
            if records > 0 {
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
