//! Group commit (docs/design.md §4): the actor hands over each step's writes and
//! events as a [`Group`]; the committer applies the writes of all groups that
//! arrived, flushes sled once (at most every [`GROUP_INTERVAL`], or at once when
//! [`GROUP_RECORDS`] records wait), and only then releases the groups' events to
//! the subscribers, in order. A consumer therefore never sees an event that a
//! crash could lose. Groups without writes (answers to requests) are released
//! without waiting, after any group queued before them. A group that ends the
//! session (`session_finished`) is flushed at once: nothing follows it that
//! could share the flush, and the headless runner waits for it to exit.
//!
//! A reply streaming is the exception in timing, not in order: while a batch
//! holds nothing but its transcript lines, it waits up to
//! [`TRANSCRIPT_INTERVAL`] (250 ms, issue 6) instead of [`GROUP_INTERVAL`],
//! and its tokens, which are ephemeral, go out at once rather than after the
//! flush. The first other group in the batch ends both. Such a batch's lines
//! are then appended to the store's transcript journal
//! ([`crate::store::journal`]: written, not synced, so a crash of the process
//! no longer loses them) and its events released; sled takes the lines over
//! with the next flush, the next other group's or [`SYNC_INTERVAL`] (10 s)
//! after the first of them at the latest. At 200 tokens/s that is a flush
//! every 10 s instead of every 250 ms (issue 7's disk budget).
//!
//! Each group carries the session's summary (and often its resume state); of
//! the writes of one key in a batch — a summary, a task's record, the state —
//! only the last is applied (the earlier ones it replaces would never be
//! read), so a batch of many small groups — a streamed reply's transcript
//! lines — costs one summary, not one per group.
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

use crate::protocol::{Event, EventBody, LineKind, LoggedEvent};
use crate::store::journal::SYNC_INTERVAL;
use crate::store::{Store, Write};

pub use crate::secrets::{REDACTED, Redactor};

/// How the committer applies a [`Redactor`] to what it persists and releases.
trait RedactGroup {
    /// Redacts one logged event (replaced by an error event when the
    /// redacted JSON no longer reads as an event).
    fn logged(&self, event: &mut LoggedEvent);
    /// Redacts a group's writes and the events it releases.
    fn group(&self, group: &mut Group);
}

impl RedactGroup for Redactor {
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

    fn group(&self, group: &mut Group) {
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
/// Longest time a batch of streaming groups (transcript lines, tokens and
/// the session's summary, nothing else) waits for its flush: issue 6 asks
/// transcripts to be flushed at least every 250 ms. At 200 tokens/s a line
/// completes about every 75 ms, and each sled flush writes about 9 KB to the
/// disk however small the batch, so lines are flushed a few at a time.
pub const TRANSCRIPT_INTERVAL: Duration = Duration::from_millis(250);
/// Records that close a group at once.
pub const GROUP_RECORDS: usize = 256;
/// A streaming batch of at least this many writes goes to sled at once
/// instead of the journal: a flush's fixed cost (about 9 KB) is small beside
/// it, and journaling it would write its lines twice. At 200 tokens/s a
/// 250 ms batch holds a few lines; a reply at full speed fills whole batches.
pub const JOURNAL_RECORDS: usize = 64;

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

/// Whether a group only streams a reply: its writes are lines of a model's
/// text (not the line that ends a call's attempt) and the session's summary,
/// its events tokens and the lines' announcement. Such groups may wait
/// [`TRANSCRIPT_INTERVAL`] for their flush, and their tokens (ephemeral,
/// docs/design.md §4) are released before it: a consumer keeps the text of a
/// token until the line holding it arrives.
fn streaming(group: &Group) -> bool {
    group.writes.iter().all(|w| match w {
        Write::Line { line, .. } => line.kind == LineKind::Text && !line.ends_call,
        Write::Session(_) => true,
        _ => false,
    }) && group
        .events
        .iter()
        .all(|e| matches!(e, Event::Token { .. } | Event::TranscriptAppended { .. }))
}

/// Sends `group`'s tokens to the subscribers now and keeps its other events.
fn release_tokens(group: &mut Group, subscribers: &Subscribers) {
    group.events.retain(|event| {
        let token = matches!(event, Event::Token { .. });
        if token {
            subscribers.send(event);
        }
        !token
    });
}

/// `writes` without the writes that a later write of the same key in `writes`
/// replaces: session summaries and per-session records (a task's record is
/// written at each state change, the session's resume state at most groups).
/// Every other write is kept, in order; the values stored are the same.
fn latest_writes(mut writes: Vec<Write>) -> Vec<Write> {
    let mut seen = std::collections::HashSet::new();
    let mut keep = vec![true; writes.len()];
    for (i, write) in writes.iter().enumerate().rev() {
        let key = match write {
            Write::Session(record) => (record.id.clone(), "", ""),
            Write::Record {
                session,
                kind,
                name,
                ..
            } => (session.clone(), *kind, name.as_str()),
            Write::Event(_) | Write::Line { .. } | Write::Memory { .. } => continue,
        };
        if !seen.insert(key) {
            keep[i] = false;
        }
    }
    let mut keep = keep.into_iter();
    writes.retain(|_| keep.next().unwrap_or(true));
    writes
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
    crate::errln!("quorum: crashing {why}");
    // SAFETY: kill(2) on our own pid has no memory-safety preconditions.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGKILL);
    }
    std::process::abort()
}

/// Applies `writes` (with every journaled line: the journal's mark goes
/// with them), flushes, empties the journal, and seals `last` (the last
/// event's session and seq) if given. Runs on a blocking thread.
async fn commit(
    store: &Store,
    writes: Vec<Write>,
    last: Option<(crate::protocol::SessionId, u64)>,
) -> Result<(), String> {
    let store = store.clone();
    let result = tokio::task::spawn_blocking(move || {
        let mark = store.apply_journaled(&writes)?;
        store.flush()?;
        store.journal_taken(mark);
        if let Some((session, seq)) = last {
            store.seal_durable(&session, seq);
        }
        Ok::<_, crate::store::StoreError>(())
    })
    .await;
    match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(e) => Err(format!("the store task failed: {e}")),
    }
}

/// Reports a failed group commit to the log, the subscribers
/// ([`Event::Fatal`]) and the actor.
fn fail(subscribers: &Subscribers, failures: &UnboundedSender<String>, message: String) {
    tracing::error!(%message, "group commit failed");
    subscribers.send(&Event::Fatal {
        message: message.clone(),
    });
    let _ = failures.send(message);
}

/// Gathers a batch from `first` on: more groups until [`GROUP_RECORDS`]
/// records, a session's end or the group interval (the transcript interval
/// while every group only streams); with the crash hook on, `first` alone.
/// Each group is redacted as it comes, and the tokens of streaming groups
/// are released at once. Returns the batch, its record count and whether it
/// only streams.
async fn gather(
    mut first: Group,
    groups: &mut UnboundedReceiver<Group>,
    redactor: &Redactor,
    subscribers: &Subscribers,
    last_flush: Instant,
    hooked: bool,
) -> (Vec<Group>, usize, bool) {
    redactor.group(&mut first);
    let mut records = first.writes.len();
    let mut ends = ends_session(&first);
    // While every group of the batch only streams, the batch may wait
    // longer, and tokens go out before the flush: nothing durable is
    // held that they could overtake but transcript lines, which the
    // consumers match to the tokens they already showed.
    let mut streams = streaming(&first) && !hooked;
    if streams {
        release_tokens(&mut first, subscribers);
    }
    let mut batch = vec![first];
    // With the crash hook on, every group is flushed by itself, so
    // that each group boundary is a distinct crash point.
    if records > 0 && !hooked {
        while records < GROUP_RECORDS && !ends {
            let deadline = last_flush
                + if streams {
                    TRANSCRIPT_INTERVAL
                } else {
                    GROUP_INTERVAL
                };
            match tokio::time::timeout_at(deadline, groups.recv()).await {
                Ok(Some(mut group)) => {
                    redactor.group(&mut group);
                    records += group.writes.len();
                    ends = ends_session(&group);
                    streams = streams && streaming(&group);
                    if streams {
                        release_tokens(&mut group, subscribers);
                    }
                    batch.push(group);
                }
                Ok(None) | Err(_) => break,
            }
        }
    } else if records == 0 {
        while let Ok(mut group) = groups.try_recv() {
            redactor.group(&mut group);
            records += group.writes.len();
            streams = streams && streaming(&group);
            batch.push(group);
        }
    }
    (batch, records, streams)
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
    let crash_after = env_seq(CRASH_AFTER_SEQ_VAR);
    let crash_before = env_seq(CRASH_BEFORE_SEQ_VAR);
    let hooked = crash_after.is_some() || crash_before.is_some();
    tokio::spawn(async move {
        let mut last_flush = Instant::now() - GROUP_INTERVAL;
        // Streamed lines (and summaries) in the journal, not yet in sled, and
        // when the first of them was journaled.
        let mut pending: Vec<Write> = Vec::new();
        let mut pending_since: Option<Instant> = None;
        loop {
            let next = match pending_since {
                Some(since) => {
                    match tokio::time::timeout_at(since + SYNC_INTERVAL, groups.recv()).await {
                        Ok(next) => next,
                        Err(_) => {
                            // Nothing else came: the journaled lines go to sled.
                            let writes = latest_writes(std::mem::take(&mut pending));
                            pending_since = None;
                            if let Err(message) = commit(&store, writes, None).await {
                                fail(&subscribers, &failures, message);
                            }
                            last_flush = Instant::now();
                            continue;
                        }
                    }
                }
                None => groups.recv().await,
            };
            let Some(first) = next else {
                break;
            };
            let (mut batch, records, streams) = gather(
                first,
                &mut groups,
                &redactor,
                &subscribers,
                last_flush,
                hooked,
            )
            .await;
            if records > 0 {
                if let Some(seq) = crash_before.and_then(|n| last_seq(&batch).filter(|s| *s >= n)) {
                    crash_now(&format!(
                        "before event {seq} was stored ({CRASH_BEFORE_SEQ_VAR})"
                    ));
                }
                // Checked on the whole batch, whichever way it was gathered:
                // a group with anything else in it must be flushed before its
                // events go out.
                let streams = streams && batch.iter().all(streaming);
                let writes: Vec<Write> = batch
                    .iter_mut()
                    .flat_map(|g| std::mem::take(&mut g.writes))
                    .collect();
                // A reply streaming: its lines go to the journal (a crash of
                // the process no longer loses them) and to sled with the next
                // flush, at the latest after SYNC_INTERVAL.
                let since = *pending_since.get_or_insert_with(Instant::now);
                let journaled = streams && writes.len() < JOURNAL_RECORDS && store.journal(&writes);
                pending.extend(writes);
                if journaled && since.elapsed() < SYNC_INTERVAL {
                    last_flush = Instant::now();
                    for group in batch {
                        for event in &group.events {
                            subscribers.send(event);
                        }
                    }
                    continue;
                }
                let writes = latest_writes(std::mem::take(&mut pending));
                pending_since = None;
                // The last event of the group, sealed once durable.
                let last = writes.iter().rev().find_map(|w| match w {
                    Write::Event(e) => Some((e.session.clone(), e.seq)),
                    _ => None,
                });
                let result = commit(&store, writes, last).await;
                last_flush = Instant::now();
                if let Err(message) = result {
                    fail(&subscribers, &failures, message);
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
        if !pending.is_empty()
            && let Err(message) = commit(&store, latest_writes(pending), None).await
        {
            fail(&subscribers, &failures, message);
        }
        subscribers.send(&Event::Closed);
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::protocol::{LineKind, SessionId, SessionStatus, TranscriptLine};
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

    /// A line of the pm's reply to `refine`, with seq and agent_seq `seq`.
    fn pm_line(seq: u64, kind: LineKind) -> TranscriptLine {
        TranscriptLine {
            seq,
            agent_seq: seq,
            agent: "pm".into(),
            task: "refine".into(),
            kind,
            text: format!("line {seq}"),
            ends_call: false,
        }
    }

    /// A group writing `lines` and the session's summary, announcing them.
    fn lines_group(id: &SessionId, lines: Vec<TranscriptLine>) -> Group {
        let mut writes: Vec<Write> = lines
            .iter()
            .map(|line| Write::Line {
                session: id.clone(),
                line: line.clone(),
            })
            .collect();
        writes.push(summary(id, 1));
        Group {
            writes,
            events: vec![Event::TranscriptAppended { lines }],
        }
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
    fn only_the_last_write_of_each_summary_and_record_in_a_batch_is_applied() {
        let (a, b) = (SessionId::new(), SessionId::new());
        let event = Write::Event(logged(
            &a,
            1,
            EventBody::Error {
                message: "x".into(),
            },
        ));
        let task = |session: &SessionId, name: &str, state: &str| Write::Record {
            session: session.clone(),
            kind: "task",
            name: name.into(),
            value: serde_json::json!({ "state": state }),
        };
        let kept = latest_writes(vec![
            summary(&a, 1),
            task(&a, "plan.qa", "queued"),
            event.clone(),
            task(&b, "plan.qa", "queued"),
            summary(&b, 7),
            task(&a, "plan.qa", "running"),
            summary(&a, 2),
            task(&a, "plan.pm", "queued"),
            task(&a, "plan.qa", "done"),
            summary(&a, 3),
        ]);
        let shape: Vec<String> = kept
            .iter()
            .map(|w| {
                let who = |id: &SessionId| if *id == a { "a" } else { "b" };
                match w {
                    Write::Session(r) => format!("{}:{}", who(&r.id), r.last_seq),
                    Write::Record {
                        session,
                        name,
                        value,
                        ..
                    } => format!("{}:{name}={}", who(session), value["state"]),
                    Write::Event(_) => "event".into(),
                    other => panic!("unexpected {other:?}"),
                }
            })
            .collect();
        assert_eq!(
            shape,
            vec![
                "event",
                "b:plan.qa=\"queued\"",
                "b:7",
                "a:plan.pm=\"queued\"",
                "a:plan.qa=\"done\"",
                "a:3"
            ]
        );
    }

    /// A committer on a new db: the db's directory (kept alive), the store,
    /// the groups' sender, a subscriber, the committer's task.
    fn started() -> (
        tempfile::TempDir,
        Store,
        UnboundedSender<Group>,
        UnboundedReceiver<Event>,
        tokio::task::JoinHandle<()>,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let (tx, rx) = mpsc::unbounded_channel();
        // No failure is expected; the committer ignores a closed channel.
        let (failures, _) = mpsc::unbounded_channel();
        let subscribers = Subscribers::default();
        let events = subscribers.add();
        let committer = spawn(
            store.clone(),
            rx,
            subscribers,
            failures,
            Redactor::default(),
        );
        (dir, store, tx, events, committer)
    }

    /// The end of a session does not wait for the group interval: on tokio's
    /// paused clock, waiting would move the clock by 50 ms.
    #[tokio::test(start_paused = true)]
    async fn the_group_that_ends_a_session_is_flushed_at_once() {
        let (_dir, store, tx, mut events, committer) = started();
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

    /// A reply's lines wait up to 250 ms for their flush while its tokens go
    /// out at once; an event that is not streaming ends the wait at 50 ms.
    #[tokio::test(start_paused = true)]
    async fn streaming_lines_wait_a_quarter_second_and_their_tokens_do_not() {
        let (_dir, store, tx, mut events, committer) = started();
        let id = SessionId::new();
        let logged_group = |seq: u64| {
            let event = logged(
                &id,
                seq,
                EventBody::Error {
                    message: format!("event {seq}"),
                },
            );
            Group {
                writes: vec![Write::Event(event.clone()), summary(&id, seq)],
                events: vec![Event::Logged(event)],
            }
        };
        let line_group = |seq: u64, kind: LineKind| {
            let mut group = lines_group(&id, vec![pm_line(seq, kind)]);
            group.events.insert(
                0,
                Event::Token {
                    agent: "pm".into(),
                    task: "refine".into(),
                    text: format!("line {seq}\n"),
                },
            );
            group
        };
        tx.send(logged_group(1)).unwrap();
        assert!(matches!(events.recv().await, Some(Event::Logged(e)) if e.seq == 1));
        let flushed = Instant::now();

        tx.send(line_group(0, LineKind::Text)).unwrap();
        assert!(matches!(events.recv().await, Some(Event::Token { .. })));
        assert!(
            flushed.elapsed() < GROUP_INTERVAL,
            "the token goes out at once"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        tx.send(line_group(1, LineKind::Text)).unwrap();
        assert!(matches!(events.recv().await, Some(Event::Token { .. })));
        assert!(flushed.elapsed() < Duration::from_millis(150));
        assert!(store.transcript(&id).unwrap().is_empty(), "not flushed yet");
        for seq in [0, 1] {
            match events.recv().await {
                Some(Event::TranscriptAppended { lines }) => assert_eq!(lines[0].seq, seq),
                other => panic!("{other:?}"),
            }
        }
        let waited = flushed.elapsed();
        assert!(
            waited >= Duration::from_millis(200) && waited <= TRANSCRIPT_INTERVAL,
            "both lines in one append, a quarter second after the last: {waited:?}"
        );
        let journaled = |store: &Store| -> Vec<u64> {
            crate::store::journal::read(store.path(), 0)
                .unwrap()
                .into_iter()
                .flat_map(|e| e.lines)
                .map(|(_, line)| line.seq)
                .collect()
        };
        assert_eq!(journaled(&store), [0, 1], "journaled before release");
        assert!(store.transcript(&id).unwrap().is_empty(), "sled waits");

        // A batch that holds anything else waits the group interval, and
        // holds its tokens behind the flush.
        let flushed = Instant::now();
        tx.send(line_group(2, LineKind::Text)).unwrap();
        assert!(matches!(events.recv().await, Some(Event::Token { .. })));
        tx.send(logged_group(2)).unwrap();
        tx.send(line_group(3, LineKind::Text)).unwrap();
        let mut order = Vec::new();
        for _ in 0..4 {
            order.push(match events.recv().await.unwrap() {
                Event::Token { text, .. } => format!("token {}", text.trim()),
                Event::TranscriptAppended { lines } => format!("lines {}", lines[0].seq),
                Event::Logged(e) => format!("event {}", e.seq),
                other => panic!("{other:?}"),
            });
        }
        assert_eq!(order, ["lines 2", "event 2", "token line 3", "lines 3"]);
        // That flush took the journaled lines over, and emptied the journal.
        assert_eq!(store.transcript(&id).unwrap().len(), 4);
        assert!(journaled(&store).is_empty());
        assert!(
            flushed.elapsed() <= GROUP_INTERVAL,
            "{:?}",
            flushed.elapsed()
        );
        // A note (not the model's text) is not streaming either.
        let flushed = Instant::now();
        tx.send(line_group(4, LineKind::Note)).unwrap();
        assert!(matches!(events.recv().await, Some(Event::Token { .. })));
        assert!(
            flushed.elapsed() >= Duration::from_millis(40),
            "held behind the flush"
        );
        assert!(flushed.elapsed() <= GROUP_INTERVAL);
        drop(tx);
        committer.await.unwrap();
    }

    /// A token group without writes, then an event, both waiting when the
    /// committer wakes: the event is stored before it goes out (the journal
    /// takes streamed lines only).
    #[tokio::test(start_paused = true)]
    async fn an_event_drained_behind_a_token_is_stored_before_release() {
        let (_dir, store, tx, mut events, committer) = started();
        let id = SessionId::new();
        tx.send(Group {
            writes: Vec::new(),
            events: vec![Event::Token {
                agent: "pm".into(),
                task: "refine".into(),
                text: "to".into(),
            }],
        })
        .unwrap();
        let event = logged(
            &id,
            1,
            EventBody::Error {
                message: "x".into(),
            },
        );
        tx.send(Group {
            writes: vec![Write::Event(event.clone()), summary(&id, 1)],
            events: vec![Event::Logged(event)],
        })
        .unwrap();
        assert!(matches!(events.recv().await, Some(Event::Token { .. })));
        assert!(matches!(events.recv().await, Some(Event::Logged(e)) if e.seq == 1));
        assert_eq!(
            store.last_event_seq(&id).unwrap(),
            1,
            "stored before release"
        );
        drop(tx);
        committer.await.unwrap();
    }

    /// Journaled lines go to sled after [`SYNC_INTERVAL`] even when nothing
    /// else comes, and at the latest with the batch that finds them that old.
    #[tokio::test(start_paused = true)]
    async fn journaled_lines_reach_sled_within_the_sync_interval() {
        let (_dir, store, tx, mut events, committer) = started();
        let id = SessionId::new();
        let line_group = |seq: u64| lines_group(&id, vec![pm_line(seq, LineKind::Text)]);
        let start = Instant::now();
        tx.send(line_group(0)).unwrap();
        assert!(matches!(
            events.recv().await,
            Some(Event::TranscriptAppended { .. })
        ));
        assert!(store.transcript(&id).unwrap().is_empty());
        // Nothing else: the timer hands it to sled.
        tokio::time::sleep(SYNC_INTERVAL + Duration::from_millis(1)).await;
        tokio::task::yield_now().await;
        let stored = || store.transcript(&id).unwrap().len();
        for _ in 0..100 {
            if stored() == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(stored(), 1, "synced {:?} after the line", start.elapsed());
        assert!(
            crate::store::journal::read(store.path(), 0)
                .unwrap()
                .is_empty()
        );
        // A steady stream: each batch is journaled, and the one that finds
        // the first older than SYNC_INTERVAL goes to sled with all of them.
        let mut seq = 1;
        let since = Instant::now();
        while since.elapsed() < SYNC_INTERVAL {
            tx.send(line_group(seq)).unwrap();
            assert!(matches!(
                events.recv().await,
                Some(Event::TranscriptAppended { .. })
            ));
            seq += 1;
            tokio::time::sleep(TRANSCRIPT_INTERVAL).await;
        }
        assert!(
            stored() < seq as usize,
            "not all in sled before the interval"
        );
        tx.send(line_group(seq)).unwrap();
        assert!(matches!(
            events.recv().await,
            Some(Event::TranscriptAppended { .. })
        ));
        assert_eq!(stored(), seq as usize + 1);
        assert!(
            crate::store::journal::read(store.path(), 0)
                .unwrap()
                .is_empty()
        );
        // A batch as big as a reply at full speed makes goes to sled at once.
        let lines: Vec<TranscriptLine> = (seq + 1..seq + 1 + JOURNAL_RECORDS as u64)
            .map(|seq| pm_line(seq, LineKind::Text))
            .collect();
        tx.send(lines_group(&id, lines)).unwrap();
        assert!(matches!(
            events.recv().await,
            Some(Event::TranscriptAppended { .. })
        ));
        assert_eq!(stored(), seq as usize + 1 + JOURNAL_RECORDS);
        assert!(
            crate::store::journal::read(store.path(), 0)
                .unwrap()
                .is_empty()
        );
        drop(tx);
        committer.await.unwrap();
    }

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
