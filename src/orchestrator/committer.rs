//! Group commit (DESIGN.md §4): the actor hands over each step's writes and
//! events as a [`Group`]; the committer applies the writes of all groups that
//! arrived, flushes sled once (at most every [`GROUP_INTERVAL`], or at once when
//! [`GROUP_RECORDS`] records wait), and only then releases the groups' events to
//! the subscribers, in order. A consumer therefore never sees an event that a
//! crash could lose. Groups without writes (answers to requests) are released
//! without waiting, after any group queued before them. A group that ends the
//! session (`session_finished`) is flushed at once: nothing follows it that
//! could share the flush, and the headless runner waits for it to exit.
//!
//! Each group carries the session's summary; of the summaries of one session
//! in a batch only the last is written (the earlier ones it replaces would
//! never be read), so a batch of many small groups — a streamed reply's
//! transcript lines — costs one summary, not one per group.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio::time::Instant;

use crate::protocol::{Event, EventBody};
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

/// Whether a group carries the event that ends its session.
fn ends_session(group: &Group) -> bool {
    group.events.iter().any(|e| {
        matches!(
            e,
            Event::Logged(logged) if matches!(logged.body, EventBody::SessionFinished { .. })
        )
    })
}

/// `writes` without the session summaries that a later summary of the same
/// session in `writes` replaces (every other write kept, in order).
fn latest_summaries(mut writes: Vec<Write>) -> Vec<Write> {
    let mut seen = std::collections::HashSet::new();
    let mut keep = vec![true; writes.len()];
    for (i, write) in writes.iter().enumerate().rev() {
        if let Write::Session(record) = write
            && !seen.insert(record.id.clone())
        {
            keep[i] = false;
        }
    }
    let mut keep = keep.into_iter();
    writes.retain(|_| keep.next().unwrap_or(true));
    writes
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
            let mut last = ends_session(&first);
            let mut batch = vec![first];
            if records > 0 {
                let deadline = last_flush + GROUP_INTERVAL;
                while records < GROUP_RECORDS && !last {
                    match tokio::time::timeout_at(deadline, groups.recv()).await {
                        Ok(Some(group)) => {
                            records += group.writes.len();
                            last = ends_session(&group);
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
                let writes = latest_summaries(
                    batch
                        .iter_mut()
                        .flat_map(|g| std::mem::take(&mut g.writes))
                        .collect(),
                );
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::protocol::{LoggedEvent, SessionId, SessionStatus};
    use crate::store::SessionRecord;

    fn summary(id: &SessionId, last_seq: u64) -> Write {
        Write::Session(SessionRecord {
            id: id.clone(),
            prompt: "p".into(),
            dir: "/d".into(),
            workflow: "default".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
            updated_at: "2026-01-01T00:00:00Z".into(),
            status: None,
            phase: "refine".into(),
            tokens_in: 0,
            tokens_out: 0,
            cost_usd: 0.0,
            commit: None,
            last_seq,
            offline: true,
        })
    }

    fn logged(id: &SessionId, seq: u64, body: EventBody) -> LoggedEvent {
        LoggedEvent {
            v: 1,
            seq,
            session: id.clone(),
            at: "2026-01-01T00:00:00Z".into(),
            body,
        }
    }

    #[test]
    fn only_the_last_summary_of_each_session_in_a_batch_is_written() {
        let (a, b) = (SessionId::new(), SessionId::new());
        let event = Write::Event(logged(
            &a,
            1,
            EventBody::Error {
                message: "x".into(),
            },
        ));
        let kept = latest_summaries(vec![
            summary(&a, 1),
            event.clone(),
            summary(&b, 7),
            summary(&a, 2),
            summary(&a, 3),
        ]);
        let shape: Vec<String> = kept
            .iter()
            .map(|w| match w {
                Write::Session(r) => {
                    format!("{}:{}", if r.id == a { "a" } else { "b" }, r.last_seq)
                }
                Write::Event(_) => "event".into(),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(shape, vec!["event", "b:7", "a:3"]);
    }

    /// The end of a session does not wait for the group interval: on tokio's
    /// paused clock, waiting would move the clock by 50 ms.
    #[tokio::test(start_paused = true)]
    async fn the_group_that_ends_a_session_is_flushed_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let (tx, rx) = mpsc::unbounded_channel();
        let (failures, _failures) = mpsc::unbounded_channel();
        let subscribers = Subscribers::default();
        let mut events = subscribers.add();
        let committer = spawn(store.clone(), rx, subscribers, failures);
        let id = SessionId::new();
        let group = |seq: u64, body: EventBody| {
            let event = logged(&id, seq, body);
            Group {
                writes: vec![Write::Event(event.clone()), summary(&id, seq)],
                events: vec![Event::Logged(event)],
            }
        };
        tx.send(group(
            1,
            EventBody::Error {
                message: "first".into(),
            },
        ))
        .unwrap();
        assert!(matches!(events.recv().await, Some(Event::Logged(e)) if e.seq == 1));
        let start = Instant::now();
        tx.send(group(
            2,
            EventBody::SessionFinished {
                status: SessionStatus::Succeeded,
                tokens_in: 0,
                tokens_out: 0,
                cost_usd: 0.0,
            },
        ))
        .unwrap();
        assert!(matches!(events.recv().await, Some(Event::Logged(e)) if e.seq == 2));
        assert!(
            start.elapsed() < GROUP_INTERVAL,
            "released after {:?}",
            start.elapsed()
        );
        assert_eq!(
            store.events(&id).unwrap().len(),
            2,
            "flushed before release"
        );
        assert_eq!(store.sessions().unwrap()[0].last_seq, 2);
        drop(tx);
        committer.await.unwrap();
    }
}
