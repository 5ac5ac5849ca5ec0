//! Group commit (DESIGN.md §4): the actor hands over each step's writes and
//! events as a [`Group`]; the committer applies the writes of all groups that
//! arrived, flushes sled once (at most every [`GROUP_INTERVAL`], or at once when
//! [`GROUP_RECORDS`] records wait), and only then releases the groups' events to
//! the subscribers, in order. A consumer therefore never sees an event that a
//! crash could lose. Groups without writes (answers to requests) are released
//! without waiting, after any group queued before them.
//!
//! It is also the one place where every persisted text passes: before a group
//! is applied, a [`Redactor`] replaces each configured key value (the values
//! of the providers' `api_key_env` variables) in its events, transcript lines,
//! records, session summaries and memory notes — and in the released events,
//! so that what consumers see matches what is stored.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio::time::Instant;

use crate::protocol::{Event, EventBody, LoggedEvent};
use crate::store::{Store, Write};

/// What a key value is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Replaces configured key values in everything a group persists.
#[derive(Clone, Debug, Default)]
pub struct Redactor {
    /// The values, longest first (so a key containing another goes whole).
    secrets: Vec<String>,
}

impl Redactor {
    /// A redactor for these values; values shorter than 8 bytes are ignored
    /// (too likely to occur by chance).
    pub fn new(values: impl IntoIterator<Item = String>) -> Self {
        let mut secrets: Vec<String> = values.into_iter().filter(|v| v.len() >= 8).collect();
        secrets.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        secrets.dedup();
        Redactor { secrets }
    }

    /// `true` when there is nothing to redact.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// Redacts `text` in place; `true` when it changed.
    pub fn text(&self, text: &mut String) -> bool {
        let mut changed = false;
        for secret in &self.secrets {
            if text.contains(secret.as_str()) {
                *text = text.replace(secret.as_str(), REDACTED);
                changed = true;
            }
        }
        changed
    }

    /// Redacts every string (and key) of a JSON value in place.
    pub fn value(&self, value: &mut serde_json::Value) -> bool {
        use serde_json::Value;
        match value {
            Value::String(s) => self.text(s),
            Value::Array(items) => items.iter_mut().fold(false, |c, v| self.value(v) | c),
            Value::Object(map) => {
                let mut changed = false;
                let keys: Vec<String> = map.keys().cloned().collect();
                for key in keys {
                    let mut new_key = key.clone();
                    let key_changed = self.text(&mut new_key);
                    if let Some(mut v) = map.remove(&key) {
                        changed |= self.value(&mut v) | key_changed;
                        map.insert(new_key, v);
                    }
                }
                changed
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => false,
        }
    }

    fn logged(&self, event: &mut LoggedEvent) {
        let Ok(mut value) = serde_json::to_value(&*event) else {
            return;
        };
        if self.value(&mut value) {
            match serde_json::from_value::<LoggedEvent>(value) {
                Ok(redacted) => *event = redacted,
                Err(_) => {
                    event.body = EventBody::Error {
                        message: format!("an event holding a key value was {REDACTED}"),
                    }
                }
            }
        }
    }

    /// Redacts a group's writes and the events it releases.
    pub fn group(&self, group: &mut Group) {
        if self.is_empty() {
            return;
        }
        for write in &mut group.writes {
            match write {
                Write::Session(record) => {
                    if let Ok(mut value) = serde_json::to_value(&*record)
                        && self.value(&mut value)
                        && let Ok(redacted) = serde_json::from_value(value)
                    {
                        *record = redacted;
                    }
                }
                Write::Event(event) => self.logged(event),
                Write::Line { line, .. } => {
                    self.text(&mut line.text);
                }
                Write::Record { value, .. } => {
                    self.value(value);
                }
                Write::Memory { notes, .. } => {
                    self.text(notes);
                }
            }
        }
        for event in &mut group.events {
            match event {
                Event::Logged(e) => self.logged(e),
                Event::TranscriptAppended { lines } => {
                    for line in lines {
                        self.text(&mut line.text);
                    }
                }
                _ => {}
            }
        }
    }
}

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
/// group's events are not released. Every group goes through `redactor` first.
pub fn spawn(
    store: Store,
    mut groups: UnboundedReceiver<Group>,
    subscribers: Subscribers,
    failures: UnboundedSender<String>,
    redactor: Redactor,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut last_flush = Instant::now() - GROUP_INTERVAL;
        while let Some(mut first) = groups.recv().await {
            redactor.group(&mut first);
            let mut records = first.writes.len();
            let mut batch = vec![first];
            if records > 0 {
                let deadline = last_flush + GROUP_INTERVAL;
                while records < GROUP_RECORDS {
                    match tokio::time::timeout_at(deadline, groups.recv()).await {
                        Ok(Some(mut group)) => {
                            redactor.group(&mut group);
                            records += group.writes.len();
                            batch.push(group);
                        }
                        Ok(None) | Err(_) => break,
                    }
                }
            } else {
                while let Ok(mut group) = groups.try_recv() {
                    redactor.group(&mut group);
                    records += group.writes.len();
                    batch.push(group);
                }
            }
            if records > 0 {
                let writes: Vec<Write> = batch
                    .iter_mut()
                    .flat_map(|g| std::mem::take(&mut g.writes))
                    .collect();
                // The last event of the group, sealed once durable.
                let last = writes.iter().rev().find_map(|w| match w {
                    Write::Event(e) => Some((e.session.clone(), e.seq)),
                    _ => None,
                });
                let store = store.clone();
                let result = tokio::task::spawn_blocking(move || {
                    store.apply(&writes)?;
                    let flushed = store.flush()?;
                    if let Some((session, seq)) = last {
                        // A missing seal only skips a check on the next open.
                        let _ = crate::store::seal::write(store.path(), Some((&session, seq)));
                    }
                    Ok::<_, crate::store::StoreError>(flushed)
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
    use crate::protocol::{LineKind, SessionId, TranscriptLine};

    const KEY: &str = "sk-test-QUORUMFAKEKEY0123456789";

    #[test]
    fn key_values_are_redacted_from_every_write_and_released_event() {
        let redactor = Redactor::new([KEY.to_string(), "short".to_string()]);
        let session = SessionId::new();
        let event = LoggedEvent {
            v: 1,
            seq: 1,
            session: session.clone(),
            at: "2026-01-01T00:00:00Z".into(),
            body: EventBody::Error {
                message: format!("HTTP 401: bad key {KEY}"),
            },
        };
        let line = TranscriptLine {
            seq: 0,
            agent_seq: 0,
            agent: "pm".into(),
            task: "refine".into(),
            kind: LineKind::Text,
            text: format!("echo {KEY} short"),
            ends_call: false,
        };
        let mut group = Group {
            writes: vec![
                Write::Event(event.clone()),
                Write::Line {
                    session: session.clone(),
                    line: line.clone(),
                },
                Write::Record {
                    session: session.clone(),
                    kind: "task",
                    name: "refine".into(),
                    value: serde_json::json!({"output": [KEY], KEY: 1}),
                },
                Write::Memory {
                    dir: "/d".into(),
                    agent: "pm".into(),
                    notes: KEY.into(),
                },
            ],
            events: vec![
                Event::Logged(event),
                Event::TranscriptAppended { lines: vec![line] },
            ],
        };
        redactor.group(&mut group);
        let text = format!("{group:?}");
        assert!(!text.contains(KEY), "{text}");
        assert!(text.contains("bad key [redacted]"), "{text}");
        assert!(
            text.contains("short"),
            "values under 8 bytes are left alone"
        );
        let mut untouched = String::from("nothing to hide");
        assert!(!redactor.text(&mut untouched));
        assert!(Redactor::new(Vec::new()).is_empty());
    }
}
