//! The embedded database (sled 0.34): sessions, the event log, transcripts and
//! every per-session record (tasks, phase outputs, conflicts, ballots, staged
//! files). Every sled call of quorum lives in this module, so that sled can be
//! replaced without touching the rest.
//!
//! Writers hand [`Write`] batches to [`Store::apply`] and then call
//! [`Store::flush`]; only after the flush returns are the batch's events released
//! to consumers (docs/design.md §4, "Durable"). The orchestrator's committer is the only
//! writer; readers may run concurrently (sled is thread-safe).
//!
//! Trees and keys (session ids are fixed-length, so prefixes never collide):
//! * `meta`: `schema_version` → u32 BE.
//! * `sessions`: session id → [`SessionRecord`] (JSON).
//! * `events`: session id ‖ seq (u64 BE) → [`LoggedEvent`] (JSON).
//! * `lines`: session id ‖ seq (u64 BE) → a chunk of transcript lines: a JSON
//!   array of [`TranscriptLine`]s with consecutive seqs from the key's, or one
//!   line as a JSON object (as quorum wrote them before chunks).
//! * `agent_lines`: session id ‖ agent ‖ 0x00 ‖ agent_seq (u64 BE) → the seqs
//!   (u64 BE each, concatenated) of that agent's lines with consecutive
//!   agent_seqs from the key's.
//! * `records`: session id ‖ kind ‖ 0x00 ‖ name → JSON value.
//! * `memory`: target directory ‖ 0x00 ‖ agent → the agent's notes (UTF-8).
//! * `symbols`: `v<extractor>/<language>/<blob id>` → a source file's
//!   symbols (JSON), the repository map's cache ([`symbols`]). A cache, so
//!   written at once, not through the committer; a new tree needs no schema
//!   version (an older quorum never opens it), and the extractor's version in
//!   the key retires the entries of an older one.
//!
//! Transcript lines are written in chunks, one per run of consecutive lines in
//! a group commit (at most [`CHUNK_LINES`]): sled rewrites a leaf node every
//! few inserts, so a reply streamed as one key per line cost about six times
//! its size in disk writes (issue 7).
//!
//! Values of [`COMPRESS_MIN`] bytes or more (transcript chunks, task records
//! with their context, staged files) are stored compressed: a zstd frame
//! (level [`COMPRESS_LEVEL`]) of their JSON, told apart by zstd's magic
//! number, which no JSON starts with. sled writes a value again each time it
//! rewrites the leaf that holds it, so a reply's text was written several
//! times over (issue 7). Schema 2; a schema-1 db (all values plain JSON) is
//! read as it is and marked 2 when opened, so an older quorum refuses it
//! instead of misreading it.
//!
//! Beside the db's directory live its [`seal`] (`<db>.seal`) and the session
//! [`index`] (`<db>.index`), which `sessions list` reads instead of opening
//! sled.
//!
//! The module's map: this file keeps [`Store`], [`Write`], [`StoreError`] and
//! [`SessionRecord`]; `open.rs` opens the db (seal check, lock wait, schema
//! upgrade, journal replay); `codec.rs` lays out keys and packs values;
//! `apply.rs` applies and flushes a group commit; one file per tree reads it
//! (`sessions.rs` with the `records` tree, `events.rs`, `transcript.rs` for
//! `lines` and `agent_lines`, `memory.rs`, `symbols.rs`); [`journal`], [`index`], [`seal`]
//! and [`snapshot`] are the files kept beside the db.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::protocol::{LoggedEvent, SessionId, SessionStatus, TranscriptLine};

mod apply;
mod codec;
mod events;
pub mod index;
pub mod journal;
mod memory;
mod open;
pub mod records;
pub mod seal;
mod sessions;
pub mod snapshot;
pub mod symbols;
mod transcript;

use open::Sealer;

pub use records::RecordKey;

/// Most transcript lines stored under one key (see the module docs).
pub const CHUNK_LINES: usize = 256;

/// The schema version this build reads and writes: 2 since values may be
/// compressed (1: plain JSON values, still read).
pub const SCHEMA_VERSION: u32 = 2;

/// Values at least this long (bytes of JSON) are stored compressed when that
/// makes them smaller. Below it the saving is a few hundred bytes at most and
/// not worth the CPU of the event log's many small values.
pub const COMPRESS_MIN: usize = 1024;

/// The zstd level of stored values: 1, the fastest, compresses quorum's JSON
/// and prose 2.5 to 4 times; higher levels gain little on values this small.
pub const COMPRESS_LEVEL: i32 = 1;

/// A store failure; messages name the db path or the record.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled could not open the db (corrupt, unreadable, or locked).
    #[error("cannot open the state db {path}: {source}")]
    Open {
        /// The db's directory, `<state>/db` (by default `DIR/.quorum/db`).
        path: PathBuf,
        /// sled's error.
        source: sled::Error,
    },
    /// The db is truncated or corrupt: a file differs from how quorum
    /// closed it, is missing, or lost durable events (see [`seal`]). Exit
    /// code 2 (docs/commands.md).
    #[error("the state db {path} {problem}; it was left untouched")]
    Corrupt {
        /// The db's directory.
        path: PathBuf,
        /// What is wrong, worded to follow the path and naming the file, e.g.
        /// `is corrupt: its file DIR/.quorum/db/conf is missing`.
        problem: String,
    },
    /// The db was written by a newer quorum or is not a quorum db (see
    /// [`seal`]).
    #[error("the state db {path} {problem}; it was left untouched")]
    Foreign {
        /// The db's directory.
        path: PathBuf,
        /// What is wrong, worded to follow the path, e.g. `has schema version 2, newer than this
        /// quorum's 1`.
        problem: String,
    },
    /// A read or write failed. Shown through [`sled_message`]: never Rust's
    /// debug text of an I/O error.
    #[error("state db error: {}", sled_message(.0))]
    Sled(#[from] sled::Error),
    /// A stored record does not decode.
    #[error("state db record {key} does not decode: {source}")]
    Decode {
        /// The record's sled key, decoded lossily as UTF-8 (binary seq bytes show as `�`).
        key: String,
        /// serde_json's error, naming the line and column.
        source: serde_json::Error,
    },
    /// No session matches, or a prefix matches several.
    #[error("{0}")]
    NoSuchSession(String),
    /// A read-only copy of a db another quorum writes could not be taken
    /// consistently ([`snapshot`]); the message says why and to try again.
    #[error("{0}")]
    Busy(String),
}

/// A session's summary row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// The session's id.
    pub id: SessionId,
    /// The prompt it started from.
    pub prompt: String,
    /// The target directory (absolute).
    pub dir: String,
    /// The workflow's name.
    pub workflow: String,
    /// When it started, RFC 3339 UTC.
    pub created_at: String,
    /// When it last changed, RFC 3339 UTC.
    pub updated_at: String,
    /// How it ended; `None` while it runs (or if it was interrupted by a crash).
    pub status: Option<SessionStatus>,
    /// The phase it is in (or ended in).
    pub phase: String,
    /// Input tokens so far.
    pub tokens_in: u64,
    /// Output tokens so far.
    pub tokens_out: u64,
    /// Cost so far in US dollars.
    pub cost_usd: f64,
    /// The commit it made, if any.
    pub commit: Option<String>,
    /// The last event's seq.
    pub last_seq: u64,
    /// Every agent ran on the offline provider.
    pub offline: bool,
}

impl SessionRecord {
    /// The status as shown in `sessions list`.
    pub fn status_label(&self) -> &'static str {
        self.status.map(SessionStatus::as_str).unwrap_or("running")
    }
}

/// One write of a group commit.
#[derive(Clone, Debug)]
pub enum Write {
    /// Insert or replace a session's summary.
    Session(SessionRecord),
    /// Append an event to the log.
    Event(LoggedEvent),
    /// Append a transcript line.
    Line {
        /// The session the line belongs to.
        session: SessionId,
        /// The line; its `seq` and `agent_seq` are its keys.
        line: TranscriptLine,
    },
    /// Insert or replace a per-session record (`kind`/`name` → JSON).
    Record {
        /// The session the record belongs to.
        session: SessionId,
        /// The record's kind: `task`, `file` or `output`.
        kind: &'static str,
        /// The record's name within its kind: a task id, a path relative to DIR, or e.g.
        /// `plan/backend`.
        name: String,
        /// The record, serialised as JSON.
        value: serde_json::Value,
    },
    /// Replace an agent's memory for a target directory (empty notes delete it).
    Memory {
        /// The target directory, as the workspace names it (absolute).
        dir: String,
        /// The agent.
        agent: String,
        /// The notes, UTF-8 text.
        notes: String,
    },
}

/// The open db.
#[derive(Clone)]
pub struct Store {
    path: PathBuf,
    db: sled::Db,
    sessions: sled::Tree,
    events: sled::Tree,
    lines: sled::Tree,
    agent_lines: sled::Tree,
    records: sled::Tree,
    memory: sled::Tree,
    /// The repository map's cache ([`symbols`]).
    symbols: sled::Tree,
    meta: sled::Tree,
    /// The transcript journal this process appends to ([`journal`]); `None`
    /// for a db opened without one, or when it could not be opened (lines
    /// then go to sled at once).
    journal: Option<std::sync::Arc<std::sync::Mutex<journal::Journal>>>,
    /// The session index this process keeps ([`index`]); `None` for a db
    /// opened without one (a copy checked against its seal). The last field:
    /// fields drop in order, so the last handle's sled trees are gone before
    /// the index is closed with the data file's final size.
    index: Option<std::sync::Arc<index::Writer>>,
    /// What the seal records and writes when the last handle goes
    /// ([`seal`]); `None` for a copy checked against its seal. After
    /// `index`: the db's files are final when it is closed.
    sealer: Option<std::sync::Arc<Sealer>>,
}

impl Store {
    /// The db's directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// `e` as a person reads it. sled 0.34 keeps a write that failed in the
/// background (its flusher) as an `io::Error` whose text is the debug form of
/// the OS error (`Os { code: 28, kind: StorageFull, message: "No space left
/// on device" }`); that form is turned back into the OS error's own text
/// (`No space left on device (os error 28)`). Other errors keep sled's text.
pub fn sled_message(e: &sled::Error) -> String {
    let text = e.to_string();
    let Some(at) = text.find("Os { code: ") else {
        return text;
    };
    let rest = &text[at + "Os { code: ".len()..];
    let code: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let message = rest
        .split_once("message: \"")
        .and_then(|(_, m)| m.split_once('"'))
        .map(|(m, _)| m.to_string());
    match (code.parse::<i32>(), message) {
        (Ok(code), Some(message)) => format!("{}{message} (os error {code})", &text[..at]),
        (Ok(code), None) => format!("{}{}", &text[..at], std::io::Error::from_raw_os_error(code)),
        _ => text,
    }
}

/// What [`Store::remove_session`] deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Removed {
    /// Events of the log.
    pub events: usize,
    /// Transcript lines.
    pub lines: usize,
    /// Per-session records (tasks, files, outputs).
    pub records: usize,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::codec::{ZSTD_MAGIC, agent_prefix, encode, record_prefix, seq_key, u64_of};
    use super::open::{LOCK_WAIT, is_lock_error};
    use super::*;
    use crate::protocol::{EventBody, LineKind};

    /// Opens the db at `db` again, waiting (up to 5 s) while sled's thread
    /// that truncates free segments after the last handle went still holds
    /// its lock.
    pub(crate) fn open_again(db: &Path) -> Store {
        for _ in 0..500 {
            match Store::open(db) {
                Ok(store) => return store,
                Err(StoreError::Open { .. }) => {
                    std::thread::sleep(std::time::Duration::from_millis(10))
                }
                Err(e) => panic!("{e}"),
            }
        }
        panic!("sled kept {} locked for 5 s", db.display())
    }

    #[test]
    fn journaled_lines_survive_a_crash_once_and_are_never_applied_twice() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        let session = SessionId::new();
        let w = |seq: u64| Write::Line {
            session: session.clone(),
            line: line(seq, seq, "pm"),
        };
        let seqs = |store: &Store| -> Vec<u64> {
            store
                .transcript(&session)
                .unwrap()
                .iter()
                .map(|l| l.seq)
                .collect()
        };
        let store = Store::open(&db).unwrap();
        store.apply(&[w(0)]).unwrap();
        store.flush().unwrap();
        // Lines 1 and 2 reach the journal, then the process dies before a
        // flush takes them over.
        assert!(store.journal(&[w(1)]));
        assert!(store.journal(&[w(2)]));
        assert_eq!(seqs(&store), [0]);
        drop(store);
        let store = open_again(&db);
        assert_eq!(seqs(&store), [0, 1, 2], "applied when the store opened");
        assert!(journal::read(&db, 0).unwrap().is_empty(), "and emptied");
        assert_eq!(store.next_line_seqs(&session).unwrap().0, 3);
        // Lines 3 and 4, journaled apart, go to sled as one chunk; the
        // process dies after that flush but before the journal is emptied.
        assert!(store.journal(&[w(3)]));
        assert!(store.journal(&[w(4)]));
        let mark = store.apply_journaled(&[w(3), w(4)]).unwrap();
        assert!(mark.is_some());
        store.flush().unwrap();
        assert_eq!(journal::read(&db, 0).unwrap().len(), 2);
        drop(store);
        let store = open_again(&db);
        assert_eq!(seqs(&store), [0, 1, 2, 3, 4], "each line once");
        // A flush that took everything over empties the journal, and the
        // numbers go on (a stale entry would be skipped by them).
        assert!(store.journal(&[w(5)]));
        let mark = store.apply_journaled(&[w(5)]).unwrap();
        store.flush().unwrap();
        store.journal_taken(mark);
        assert!(journal::read(&db, 0).unwrap().is_empty());
        drop(store);
        let store = open_again(&db);
        assert_eq!(seqs(&store), [0, 1, 2, 3, 4, 5]);
    }

    fn line(seq: u64, agent_seq: u64, agent: &str) -> TranscriptLine {
        TranscriptLine {
            seq,
            agent_seq,
            agent: agent.into(),
            task: "t".into(),
            kind: LineKind::Text,
            text: format!("line {seq}"),
            ends_call: false,
        }
    }

    #[test]
    fn open_waits_for_a_lock_being_released_and_names_one_that_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        let held = Store::open(&db).unwrap();
        // Released 100 ms later, as a just-dropped db's I/O thread would.
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(100));
            drop(held);
        });
        let store = Store::open(&db).unwrap();
        releaser.join().unwrap();
        // Held for good: refused once LOCK_WAIT has passed, naming the db.
        let started = std::time::Instant::now();
        let err = Store::open(&db).err().unwrap();
        assert!(started.elapsed() >= LOCK_WAIT);
        assert!(matches!(&err, StoreError::Open { source, .. } if is_lock_error(source)));
        assert!(err.to_string().contains(&db.display().to_string()), "{err}");
        drop(store);
    }

    #[test]
    fn writes_survive_reopen_and_pages_come_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let session = SessionId::new();
        {
            let store = Store::open(&dir.path().join("db")).unwrap();
            let mut writes = vec![Write::Event(LoggedEvent {
                v: 1,
                seq: 1,
                session: session.clone(),
                at: "now".into(),
                body: EventBody::Error {
                    message: "x".into(),
                },
            })];
            for i in 0..10 {
                let agent = if i % 2 == 0 { "pm" } else { "qa" };
                writes.push(Write::Line {
                    session: session.clone(),
                    line: line(i, i / 2, agent),
                });
            }
            writes.push(Write::Record {
                session: session.clone(),
                kind: "task",
                name: "plan.qa".into(),
                value: serde_json::json!({"state": "done"}),
            });
            store.apply(&writes).unwrap();
            store.flush().unwrap();
        }
        let store = Store::open(&dir.path().join("db")).unwrap();
        assert_eq!(store.events(&session).unwrap().len(), 1);
        let (page, total) = store.transcript_page(&session, None, 3, 4).unwrap();
        assert_eq!(total, 10);
        assert_eq!(
            page.iter().map(|l| l.seq).collect::<Vec<_>>(),
            vec![3, 4, 5, 6]
        );
        let (page, total) = store.transcript_page(&session, Some("qa"), 1, 100).unwrap();
        assert_eq!(total, 5);
        assert_eq!(
            page.iter().map(|l| l.seq).collect::<Vec<_>>(),
            vec![3, 5, 7, 9]
        );
        let rec: Option<serde_json::Value> = store.record(&session, "task", "plan.qa").unwrap();
        assert_eq!(rec.unwrap()["state"], "done");
        assert_eq!(
            store
                .records::<serde_json::Value>(&session, "task")
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn search_finds_lines_ignoring_case_per_view_and_caps_results() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let session = SessionId::new();
        let texts = [
            ("pm", "SQLite is enough"),
            ("qa", "use sqlite: atomic"),
            ("pm", "JSON file"),
            ("qa", "Ünïcode “sqlite” — ok"),
            ("pm", "a \"quoted\" sqlite word"),
        ];
        let mut per_agent = std::collections::HashMap::new();
        let writes: Vec<Write> = texts
            .iter()
            .enumerate()
            .map(|(i, (agent, text))| {
                let n = per_agent.entry(*agent).or_insert(0u64);
                let mut l = line(i as u64, *n, agent);
                *n += 1;
                l.text = text.to_string();
                Write::Line {
                    session: session.clone(),
                    line: l,
                }
            })
            .collect();
        store.apply(&writes).unwrap();
        let all = store
            .search_transcript(&session, None, "SQLITE", 100)
            .unwrap();
        assert_eq!(all, (vec![0, 1, 3, 4], false));
        let qa = store
            .search_transcript(&session, Some("qa"), "sqlite", 100)
            .unwrap();
        assert_eq!(qa, (vec![0, 1], false), "agent_seq positions");
        let quoted = store
            .search_transcript(&session, None, "\"quoted\"", 100)
            .unwrap();
        assert_eq!(quoted.0, vec![4], "queries that JSON escapes still match");
        let wide = store.search_transcript(&session, None, "ÜNÏ", 100).unwrap();
        assert_eq!(wide.0, vec![3]);
        let capped = store
            .search_transcript(&session, None, "sqlite", 2)
            .unwrap();
        assert_eq!(capped, (vec![0, 1], true));
        assert_eq!(
            store.search_transcript(&session, None, "", 10).unwrap(),
            (vec![], false)
        );
        assert_eq!(
            store
                .search_transcript(&SessionId::new(), None, "sqlite", 10)
                .unwrap(),
            (vec![], false)
        );
    }

    /// A raw sled handle without the background flusher, which would hold the
    /// file lock for a while after drop.
    /// sled itself on the db, as another program would open it: its seal
    /// goes (sled rewrites the files it sealed), so the next open checks a copy.
    fn raw(path: &Path) -> sled::Db {
        seal::remove(path);
        sled::Config::new()
            .path(path)
            .flush_every_ms(None)
            .open()
            .unwrap()
    }

    #[test]
    fn a_newer_schema_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        {
            let db = raw(&path);
            db.open_tree("meta")
                .unwrap()
                .insert("schema_version", &99u32.to_be_bytes())
                .unwrap();
            db.flush().unwrap();
        }
        let err = Store::open(&path).err().unwrap().to_string();
        assert!(err.contains("newer"), "{err}");
        let db = raw(&path);
        let v = db.open_tree("meta").unwrap().get("schema_version").unwrap();
        assert_eq!(u64_of(&v.unwrap()), 99);
    }

    #[test]
    fn long_values_are_stored_compressed_and_schema_1_dbs_still_read() {
        let long = "a line that says the same thing again and again ".repeat(40);
        let short = "a short line of plain JSON";
        let session = SessionId::new();
        let lines = |texts: &[&str], from: u64| -> Vec<Write> {
            texts
                .iter()
                .enumerate()
                .map(|(i, text)| {
                    let mut l = line(from + i as u64, from + i as u64, "pm");
                    l.text = text.to_string();
                    Write::Line {
                        session: session.clone(),
                        line: l,
                    }
                })
                .collect()
        };
        let file_holds = |db: &Path, text: &str| {
            let bytes = std::fs::read(db.join("db")).unwrap();
            bytes.windows(text.len()).any(|w| w == text.as_bytes())
        };
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        // A schema-1 db: every value plain JSON.
        {
            let raw = raw(&db);
            raw.open_tree("meta")
                .unwrap()
                .insert("schema_version", &1u32.to_be_bytes())
                .unwrap();
            let mut old = line(0, 0, "pm");
            old.text = long.clone();
            raw.open_tree("lines")
                .unwrap()
                .insert(seq_key(&session, 0), serde_json::to_vec(&[old]).unwrap())
                .unwrap();
            raw.flush().unwrap();
        }
        {
            let store = Store::open(&db).unwrap();
            assert_eq!(store.transcript(&session).unwrap()[0].text, long);
            store.apply(&lines(&[&long], 1)).unwrap();
            store.apply(&lines(&[short], 2)).unwrap();
            store.flush().unwrap();
        }
        // The long line written now is compressed (the schema-1 copy of the
        // same text is still there as it was); the short one is plain.
        let file = std::fs::read(db.join("db")).unwrap();
        let copies = file
            .windows(long.len())
            .filter(|w| *w == long.as_bytes())
            .count();
        assert_eq!(copies, 1, "the long line is stored as it is");
        assert!(file_holds(&db, short));
        let store = open_again(&db);
        let texts: Vec<String> = store
            .transcript(&session)
            .unwrap()
            .into_iter()
            .map(|l| l.text)
            .collect();
        assert_eq!(texts, [long.as_str(), long.as_str(), short]);
        assert_eq!(
            store
                .search_transcript(&session, None, "again and", 10)
                .unwrap(),
            (vec![0, 1], false)
        );
        drop(store);
        // Marked schema 2: a quorum that cannot read compressed values
        // refuses the db instead of misreading it.
        let v = raw(&db)
            .open_tree("meta")
            .unwrap()
            .get("schema_version")
            .unwrap();
        assert_eq!(u64_of(&v.unwrap()), 2);
        // A frame that does not decompress is an error naming its key.
        {
            let raw = raw(&db);
            let mut key = record_prefix(&session, "task");
            key.extend_from_slice(b"refine");
            let mut torn = ZSTD_MAGIC.to_vec();
            torn.extend_from_slice(b"not zstd");
            raw.open_tree("records").unwrap().insert(key, torn).unwrap();
            raw.flush().unwrap();
        }
        let store = open_again(&db);
        let err = store
            .record::<serde_json::Value>(&session, "task", "refine")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("refine") && err.contains("does not decode"),
            "{err}"
        );
    }

    #[test]
    fn session_prefixes_must_be_unique() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let mk = |id: &str, at: &str| SessionRecord {
            id: SessionId::parse(id).unwrap(),
            prompt: "p".into(),
            dir: "/d".into(),
            workflow: "default".into(),
            created_at: at.into(),
            updated_at: at.into(),
            status: None,
            phase: "refine".into(),
            tokens_in: 0,
            tokens_out: 0,
            cost_usd: 0.0,
            commit: None,
            last_seq: 0,
            offline: true,
        };
        store
            .apply(&[
                Write::Session(mk("aaaa00000000", "2026-01-01")),
                Write::Session(mk("aaab00000000", "2026-01-02")),
            ])
            .unwrap();
        assert_eq!(store.sessions().unwrap()[0].id.as_str(), "aaab00000000");
        assert!(store.find_session("aaa").is_err());
        assert_eq!(
            store.find_session("aaab").unwrap().id.as_str(),
            "aaab00000000"
        );
        assert!(
            store
                .find_session("ffff")
                .unwrap_err()
                .to_string()
                .contains("no session")
        );
    }

    #[test]
    fn a_removed_session_leaves_its_neighbours_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let (gone, kept) = (SessionId::new(), SessionId::new());
        let mut writes = Vec::new();
        for (i, id) in [&gone, &kept].into_iter().enumerate() {
            writes.push(Write::Session(SessionRecord {
                id: id.clone(),
                prompt: format!("p{i}"),
                dir: "/d".into(),
                workflow: "default".into(),
                created_at: format!("2026-01-0{}", i + 1),
                updated_at: "x".into(),
                status: None,
                phase: "refine".into(),
                tokens_in: 0,
                tokens_out: 0,
                cost_usd: 0.0,
                commit: None,
                last_seq: 1,
                offline: true,
            }));
            writes.push(Write::Event(LoggedEvent {
                v: 1,
                seq: 1,
                session: id.clone(),
                at: "now".into(),
                body: EventBody::Error {
                    message: "x".into(),
                },
            }));
            writes.push(Write::Line {
                session: id.clone(),
                line: line(0, 0, "pm"),
            });
            for (kind, name) in [("output", "plan/qa"), ("file", "app.py")] {
                writes.push(Write::Record {
                    session: id.clone(),
                    kind,
                    name: name.into(),
                    value: serde_json::json!({"n": i}),
                });
            }
        }
        store.apply(&writes).unwrap();
        let records = store.all_records(&kept).unwrap();
        assert_eq!(
            records
                .iter()
                .map(|(k, n, _)| format!("{k}:{n}"))
                .collect::<Vec<_>>(),
            vec!["file:app.py", "output:plan/qa"]
        );
        assert_eq!(store.transcript(&kept).unwrap().len(), 1);

        let removed = store.remove_session(&gone).unwrap();
        assert_eq!(
            removed,
            Removed {
                events: 1,
                lines: 1,
                records: 2
            }
        );
        assert!(store.find_session(gone.as_str()).is_err());
        assert!(store.events(&gone).unwrap().is_empty());
        assert!(store.all_records(&gone).unwrap().is_empty());
        assert_eq!(
            store.transcript_page(&gone, Some("pm"), 0, 10).unwrap().1,
            0
        );
        assert_eq!(store.events(&kept).unwrap().len(), 1);
        assert_eq!(store.all_records(&kept).unwrap().len(), 2);
        assert_eq!(store.sessions().unwrap().len(), 1);
    }

    /// 900 lines of `agents` interleaved, every 7th holding `Needle`, and
    /// each agent's line count.
    fn interleaved_lines(agents: [&str; 3]) -> (Vec<TranscriptLine>, [u64; 3]) {
        let mut next_agent_seq = [0u64; 3];
        let all: Vec<TranscriptLine> = (0..900u64)
            .map(|seq| {
                let a = ((seq * 7 + seq / 5) % 3) as usize;
                let agent_seq = next_agent_seq[a];
                next_agent_seq[a] += 1;
                TranscriptLine {
                    seq,
                    agent_seq,
                    agent: agents[a].into(),
                    task: format!("task.{a}"),
                    kind: LineKind::Text,
                    text: format!(
                        "line {seq} of {} {}",
                        agents[a],
                        if seq % 7 == 0 { "Needle" } else { "hay" }
                    ),
                    ends_call: false,
                }
            })
            .collect();
        (all, next_agent_seq)
    }

    /// Lines stored in chunks (several groups, interleaved agents, chunks cut
    /// at [`CHUNK_LINES`]) next to lines stored one per key as older quorums
    /// did read back exactly as the plain list they came from: whole, in
    /// pages from any position, per agent, searched, and continued.
    #[test]
    fn chunked_and_single_line_entries_read_back_as_one_transcript() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let session = SessionId::new();
        let agents = ["pm", "backend", "qa"];
        let (all, next_agent_seq) = interleaved_lines(agents);
        let line = |l: &TranscriptLine| Write::Line {
            session: session.clone(),
            line: l.clone(),
        };
        // The first 20 lines as an older quorum stored them: one key each.
        for l in &all[..20] {
            store
                .lines
                .insert(seq_key(&session, l.seq), encode(l))
                .unwrap();
            let mut key = agent_prefix(&session, &l.agent);
            key.extend_from_slice(&l.agent_seq.to_be_bytes());
            store.agent_lines.insert(key, &l.seq.to_be_bytes()).unwrap();
        }
        // Then groups of 1, 7 and 600 lines (600 is cut into 256 + 256 + 88).
        let mut at = 20;
        for size in [1, 7, 600, 3, 269] {
            let writes: Vec<Write> = all[at..at + size].iter().map(line).collect();
            store.apply(&writes).unwrap();
            at += size;
        }
        assert_eq!(at, all.len());
        assert_eq!(
            store.lines.scan_prefix(session.as_str()).count(),
            20 + 1 + 1 + 3 + 1 + 2,
            "one key per run, at most CHUNK_LINES each"
        );
        assert_eq!(store.transcript(&session).unwrap(), all);
        let (next, per_agent) = store.next_line_seqs(&session).unwrap();
        assert_eq!(next, 900);
        for (a, name) in agents.iter().enumerate() {
            assert_eq!(per_agent[*name], next_agent_seq[a]);
        }
        for (from, len) in [(0, 10), (15, 10), (250, 300), (276, 1), (899, 5), (950, 5)] {
            let (page, total) = store.transcript_page(&session, None, from, len).unwrap();
            assert_eq!(total, 900);
            let want: Vec<_> = all
                .iter()
                .filter(|l| l.seq >= from && l.seq < from + len)
                .cloned()
                .collect();
            assert_eq!(page, want, "all, from {from}");
            for (a, name) in agents.iter().enumerate() {
                let (page, total) = store
                    .transcript_page(&session, Some(name), from / 3, len)
                    .unwrap();
                assert_eq!(total, next_agent_seq[a]);
                let want: Vec<_> = all
                    .iter()
                    .filter(|l| {
                        l.agent == *name && l.agent_seq >= from / 3 && l.agent_seq < from / 3 + len
                    })
                    .cloned()
                    .collect();
                assert_eq!(page, want, "{name}, from {}", from / 3);
            }
        }
        let (found, more) = store
            .search_transcript(&session, None, "needle", 1000)
            .unwrap();
        assert_eq!(found, (0..900).step_by(7).collect::<Vec<u64>>());
        assert!(!more);
        let (found, more) = store
            .search_transcript(&session, None, "needle", 5)
            .unwrap();
        assert_eq!((found.len(), more), (5, true));
        let (found, _) = store
            .search_transcript(&session, Some("qa"), "NEEDLE", 1000)
            .unwrap();
        let want: Vec<u64> = all
            .iter()
            .filter(|l| l.agent == "qa" && l.text.contains("Needle"))
            .map(|l| l.agent_seq)
            .collect();
        assert!(!want.is_empty());
        assert_eq!(found, want);
        let removed = store.remove_session(&session).unwrap();
        assert_eq!(removed.lines, 900, "lines, not keys");
        assert!(store.transcript(&session).unwrap().is_empty());
    }

    #[test]
    fn a_failed_background_write_reads_as_the_os_error_never_as_debug_text() {
        let debug = format!("{:?}", std::io::Error::from_raw_os_error(28));
        let e = sled::Error::Io(std::io::Error::other(debug));
        let shown = StoreError::Sled(e).to_string();
        assert_eq!(
            shown,
            "state db error: IO error: No space left on device (os error 28)"
        );
        let plain = sled::Error::Io(std::io::Error::from_raw_os_error(30));
        assert_eq!(
            sled_message(&plain),
            "IO error: Read-only file system (os error 30)"
        );
    }
}
