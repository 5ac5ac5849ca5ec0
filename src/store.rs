//! The embedded database (sled 0.34): sessions, the event log, transcripts and
//! every per-session record (tasks, phase outputs, conflicts, ballots, staged
//! files). Every sled call of quorum lives in this module, so that sled can be
//! replaced without touching the rest.
//!
//! Writers hand [`Write`] batches to [`Store::apply`] and then call
//! [`Store::flush`]; only after the flush returns are the batch's events released
//! to consumers (DESIGN.md §4, "Durable"). The orchestrator's committer is the only
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

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::protocol::{LoggedEvent, SessionId, SessionStatus, TranscriptLine};

pub mod index;
pub mod journal;
pub mod records;
pub mod seal;
pub mod snapshot;

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

/// The first bytes of a zstd frame (RFC 8878 §3.1.1, little-endian
/// 0xFD2FB528). `(` cannot start a JSON document.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

/// The `meta` key holding the number of the last [`journal`] entry that sled
/// holds (u64 big-endian; absent: none yet).
const JOURNAL_MARK: &[u8] = b"journal";

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

/// What the seal holds of what was made durable: the last event, and every
/// session's last durable seq.
#[derive(Debug, Default)]
struct SealState {
    last: Option<(String, u64)>,
    sessions: BTreeMap<String, u64>,
}

/// Keeps the seal of one open db; when dropped (with the last handle on
/// the store, after sled's), seals the db as closed with every file's sum.
#[derive(Debug)]
struct Sealer {
    path: PathBuf,
    state: std::sync::Mutex<SealState>,
    _opening: Opening,
}

/// The stores of this process that are open, or opening, per db path: a
/// store let go while another one of the same db is open (tests reopen a
/// db before the last handle went) leaves the seal to the last one.
static OPEN: std::sync::Mutex<BTreeMap<PathBuf, usize>> = std::sync::Mutex::new(BTreeMap::new());

/// One store of [`OPEN`], counted from the start of [`Store::open`] until
/// its [`Sealer`] goes.
#[derive(Debug)]
struct Opening(PathBuf);

impl Opening {
    fn new(path: &Path) -> Opening {
        let mut open = OPEN.lock().unwrap_or_else(|p| p.into_inner());
        *open.entry(path.to_path_buf()).or_default() += 1;
        Opening(path.to_path_buf())
    }

    /// How many stores of this db are open or opening, this one included.
    fn count(&self) -> usize {
        let open = OPEN.lock().unwrap_or_else(|p| p.into_inner());
        open.get(&self.0).copied().unwrap_or(0)
    }
}

impl Drop for Opening {
    fn drop(&mut self) {
        let mut open = OPEN.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.0) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.0);
            }
        }
    }
}

impl Sealer {
    fn state(&self) -> std::sync::MutexGuard<'_, SealState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes the seal as open (a failure only costs a check of a copy on
    /// the next open).
    fn write(&self) {
        let state = self.state();
        let _ = seal::write(&self.path, state.last.clone(), &state.sessions);
    }
}

impl Drop for Sealer {
    fn drop(&mut self) {
        if self._opening.count() > 1 {
            // Another store of this db is open in this process: it seals.
            return;
        }
        // sled's I/O threads may still write the data file after its last
        // handle went (seen: a same-length rewrite, and the truncation of
        // free segments); they hold its file lock until they are done. The
        // files are summed only under that lock, else the seal stays open
        // (the next open checks a copy).
        let locked = wait_for_sled_lock(&self.path.join("db"), LOCK_WAIT);
        let state = self.state();
        let written = match &locked {
            Some(_) => seal::write_closed(&self.path, state.last.clone(), &state.sessions),
            None => seal::write(&self.path, state.last.clone(), &state.sessions),
        };
        if written.is_err() {
            tracing::warn!(db = %self.path.display(), "the db's seal was not written");
        }
    }
}

/// Takes the exclusive lock sled holds on its data file (`flock`, as sled
/// 0.34's `Config::try_lock` takes it) once sled let go, waiting at most
/// `wait`; `None` when it is still held (or the file is missing).
fn wait_for_sled_lock(data: &Path, wait: std::time::Duration) -> Option<std::fs::File> {
    let file = std::fs::OpenOptions::new().read(true).open(data).ok()?;
    let deadline = std::time::Instant::now() + wait;
    loop {
        match file.try_lock() {
            Ok(()) => return Some(file),
            Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            Err(_) => return None,
        }
    }
}

fn memory_key(dir: &str, agent: &str) -> Vec<u8> {
    let mut key = dir.as_bytes().to_vec();
    key.push(0);
    key.extend_from_slice(agent.as_bytes());
    key
}

fn seq_key(session: &SessionId, seq: u64) -> Vec<u8> {
    let mut key = session.as_str().as_bytes().to_vec();
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

fn agent_prefix(session: &SessionId, agent: &str) -> Vec<u8> {
    let mut key = session.as_str().as_bytes().to_vec();
    key.extend_from_slice(agent.as_bytes());
    key.push(0);
    key
}

fn record_prefix(session: &SessionId, kind: &str) -> Vec<u8> {
    let mut key = session.as_str().as_bytes().to_vec();
    key.extend_from_slice(kind.as_bytes());
    key.push(0);
    key
}

fn u64_of(bytes: &[u8]) -> u64 {
    let mut buf = [0u8; 8];
    let n = bytes.len().min(8);
    buf[8 - n..].copy_from_slice(&bytes[bytes.len() - n..]);
    u64::from_be_bytes(buf)
}

fn decode<T: DeserializeOwned>(key: &[u8], value: &[u8]) -> Result<T, StoreError> {
    let json = unpack(key, value)?;
    serde_json::from_slice(&json).map_err(|source| StoreError::Decode {
        key: String::from_utf8_lossy(key).into_owned(),
        source,
    })
}

/// The JSON of the value stored under `key`: decompressed when it is a zstd
/// frame.
///
/// Errors: [`StoreError::Decode`] naming `key` when the frame does not
/// decompress.
fn unpack<'a>(key: &[u8], value: &'a [u8]) -> Result<std::borrow::Cow<'a, [u8]>, StoreError> {
    if value.starts_with(&ZSTD_MAGIC) {
        zstd::decode_all(value)
            .map(std::borrow::Cow::Owned)
            .map_err(|e| StoreError::Decode {
                key: String::from_utf8_lossy(key).into_owned(),
                source: serde_json::Error::io(e),
            })
    } else {
        Ok(std::borrow::Cow::Borrowed(value))
    }
}

/// `json` as stored: compressed when it is at least [`COMPRESS_MIN`] bytes
/// and that makes it smaller, else as it is.
fn pack(json: Vec<u8>) -> Vec<u8> {
    if json.len() < COMPRESS_MIN {
        return json;
    }
    thread_local! {
        /// One compression context per thread (making one costs more than
        /// compressing a small value).
        static COMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
            const { std::cell::RefCell::new(None) };
    }
    let packed = COMPRESSOR.with(|cell| {
        let mut cell = cell.borrow_mut();
        if cell.is_none() {
            *cell = zstd::bulk::Compressor::new(COMPRESS_LEVEL).ok();
        }
        cell.as_mut()?.compress(&json).ok()
    });
    match packed {
        Some(packed) if packed.len() < json.len() => packed,
        _ => json,
    }
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising our own plain structs to JSON cannot fail (no maps with
    // non-string keys, no failing Serialize impls).
    pack(serde_json::to_vec(value).unwrap_or_default())
}

/// The `lines` entries for the transcript lines among `writes`: one per run
/// of consecutive seqs of a session (at most [`CHUNK_LINES`] lines), keyed by
/// its first seq, as a JSON array.
fn line_chunks(writes: &[Write]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    let mut run: Vec<&TranscriptLine> = Vec::new();
    let mut run_session: Option<&SessionId> = None;
    let mut close = |session: Option<&SessionId>, run: &mut Vec<&TranscriptLine>| {
        if let (Some(session), Some(first)) = (session, run.first()) {
            out.push((seq_key(session, first.seq), encode(&*run)));
        }
        run.clear();
    };
    for write in writes {
        let Write::Line { session, line } = write else {
            continue;
        };
        let continues = run_session == Some(session)
            && run.len() < CHUNK_LINES
            && run.last().is_some_and(|last| last.seq + 1 == line.seq);
        if !continues {
            close(run_session, &mut run);
            run_session = Some(session);
        }
        run.push(line);
    }
    close(run_session, &mut run);
    out
}

/// The `agent_lines` entries for the transcript lines among `writes`: per
/// session and agent, one per run of consecutive agent_seqs (at most
/// [`CHUNK_LINES`]), keyed by its first agent_seq, holding the lines' seqs.
fn agent_line_chunks(writes: &[Write]) -> Vec<(Vec<u8>, Vec<u8>)> {
    /// A run: its first agent_seq and its lines' seqs (u64 BE each).
    type Run = (u64, Vec<u8>);
    let mut runs: BTreeMap<(&SessionId, &str), Vec<Run>> = BTreeMap::new();
    for write in writes {
        let Write::Line { session, line } = write else {
            continue;
        };
        let agent_runs = runs.entry((session, line.agent.as_str())).or_default();
        match agent_runs.last_mut() {
            Some((first, seqs))
                if seqs.len() / 8 < CHUNK_LINES
                    && *first + (seqs.len() / 8) as u64 == line.agent_seq =>
            {
                seqs.extend_from_slice(&line.seq.to_be_bytes());
            }
            _ => agent_runs.push((line.agent_seq, line.seq.to_be_bytes().to_vec())),
        }
    }
    let mut out = Vec::new();
    for ((session, agent), agent_runs) in runs {
        for (first, seqs) in agent_runs {
            let mut key = agent_prefix(session, agent);
            key.extend_from_slice(&first.to_be_bytes());
            out.push((key, seqs));
        }
    }
    out
}

/// The lines of one `lines` entry (a chunk, or one line as older quorums
/// stored them).
fn decode_chunk(key: &[u8], value: &[u8]) -> Result<Vec<TranscriptLine>, StoreError> {
    let json = unpack(key, value)?;
    if json.first() == Some(&b'[') {
        decode(key, &json)
    } else {
        Ok(vec![decode(key, &json)?])
    }
}

/// How many lines one `lines` entry holds, without decoding them.
fn chunk_len(key: &[u8], value: &[u8]) -> Result<u64, StoreError> {
    if value.first() == Some(&b'[') || value.starts_with(&ZSTD_MAGIC) {
        Ok(decode::<Vec<serde::de::IgnoredAny>>(key, value)?.len() as u64)
    } else {
        Ok(1)
    }
}

/// The seqs one `agent_lines` entry holds.
fn seqs_of(value: &[u8]) -> impl Iterator<Item = u64> + '_ {
    value.chunks_exact(8).map(u64_of)
}

impl Store {
    /// Opens (or creates) the db at `path`.
    ///
    /// Errors: [`StoreError::Open`] when sled cannot open it (corrupt or locked),
    /// [`StoreError::Foreign`] when it holds data but no quorum schema version, or
    /// a newer one, or when it is truncated or corrupt (checked against its
    /// [`seal`] before sled opens it). A db that fails to open is never modified.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let opening = Opening::new(path);
        let found = seal::verify(path)?;
        let state = found.map_or_else(SealState::default, |s| SealState {
            last: s.last,
            sessions: s.sessions,
        });
        // Checked; before sled opens (and may write), the seal says the db
        // is open, so that a crash from now on leads to a check of a copy.
        if seal::write(path, state.last.clone(), &state.sessions).is_err() {
            seal::remove(path);
        }
        let mut store = Store::open_unchecked(path)?;
        store.sealer = Some(std::sync::Arc::new(Sealer {
            path: path.to_path_buf(),
            state: std::sync::Mutex::new(state),
            _opening: opening,
        }));
        let mark = store.replay_journal()?;
        store.journal = match journal::Journal::open(path, mark) {
            Ok(journal) => Some(std::sync::Arc::new(std::sync::Mutex::new(journal))),
            Err(e) => {
                tracing::warn!(error = %e, "no transcript journal; streamed lines go to sled at once");
                None
            }
        };
        let tree = store.sessions()?;
        store.index = Some(std::sync::Arc::new(index::Writer::open(path, tree)));
        Ok(store)
    }

    /// [`Store::open`] without the seal check.
    fn open_unchecked(path: &Path) -> Result<Store, StoreError> {
        let config = sled::Config::new()
            .path(path)
            .mode(sled::Mode::LowSpace)
            .cache_capacity(16 * 1024 * 1024)
            // No periodic background flush: the committer flushes every group
            // itself (DESIGN.md §4), and without the flusher thread dropping the
            // db releases its file lock at once.
            .flush_every_ms(None);
        // The state directory's own lock keeps other quorums out, so a held
        // sled lock is this process's db just dropped: one of sled's I/O
        // threads can still hold the file for a moment (seen under load, in
        // tests that reopen a db). Retried for at most LOCK_WAIT.
        let deadline = std::time::Instant::now() + LOCK_WAIT;
        let db = loop {
            match config.open() {
                Ok(db) => break db,
                Err(source) if is_lock_error(&source) && std::time::Instant::now() < deadline => {
                    drop(source);
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                Err(source) => {
                    return Err(StoreError::Open {
                        path: path.to_path_buf(),
                        source,
                    });
                }
            }
        };
        // A db without our `meta` tree but with data is foreign: refused before
        // `open_tree` would add that tree to it.
        let names = db.tree_names();
        if !names.iter().any(|n| n.as_ref() == b"meta")
            && (names.iter().any(|n| n.as_ref() != b"__sled__default") || !db.is_empty())
        {
            return Err(StoreError::Foreign {
                path: path.to_path_buf(),
                problem: "is not a quorum db (no schema version)".to_string(),
            });
        }
        let meta = db.open_tree("meta")?;
        match meta.get("schema_version")? {
            Some(v) => {
                let version = u64_of(&v) as u32;
                if version > SCHEMA_VERSION {
                    return Err(StoreError::Foreign {
                        path: path.to_path_buf(),
                        problem: format!(
                            "has schema version {version}, newer than this quorum's {SCHEMA_VERSION}"
                        ),
                    });
                }
                if version < SCHEMA_VERSION {
                    // Schema 1 differs only in never compressing a value:
                    // read as it is; marked 2 before anything compressed is
                    // written, so that an older quorum refuses it.
                    meta.insert("schema_version", &SCHEMA_VERSION.to_be_bytes())?;
                    db.flush()?;
                    tracing::info!(
                        from = version,
                        to = SCHEMA_VERSION,
                        "state db schema upgraded"
                    );
                }
            }
            None => {
                let foreign =
                    db.tree_names().iter().any(|name| {
                        name.as_ref() != b"__sled__default" && name.as_ref() != b"meta"
                    }) || !db.is_empty();
                if foreign {
                    return Err(StoreError::Foreign {
                        path: path.to_path_buf(),
                        problem: "is not a quorum db (no schema version)".to_string(),
                    });
                }
                meta.insert("schema_version", &SCHEMA_VERSION.to_be_bytes())?;
                db.flush()?;
            }
        }
        Ok(Store {
            path: path.to_path_buf(),
            sessions: db.open_tree("sessions")?,
            events: db.open_tree("events")?,
            lines: db.open_tree("lines")?,
            agent_lines: db.open_tree("agent_lines")?,
            records: db.open_tree("records")?,
            memory: db.open_tree("memory")?,
            meta,
            db,
            journal: None,
            index: None,
            sealer: None,
        })
    }

    /// The db's directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Applies a group of writes as one sled transaction across the trees, so
    /// a crash keeps either all of a group or none of it (sled writes a
    /// transaction under one batch manifest; recovery cuts a torn batch). It
    /// stays in memory until [`Store::flush`]. Resume relies on this: a group's
    /// events, records and session snapshot are never split by a crash.
    ///
    /// Errors: [`StoreError::Sled`] when sled fails (the group is not applied).
    pub fn apply(&self, writes: &[Write]) -> Result<(), StoreError> {
        self.apply_marked(writes, None)
    }

    /// [`Store::apply`], storing `mark` (a [`journal`] entry's number) as the
    /// mark of the journal entries sled holds, in the same transaction.
    fn apply_marked(&self, writes: &[Write], mark: Option<u64>) -> Result<(), StoreError> {
        // Tree indexes in `trees` below.
        const SESSIONS: usize = 0;
        const EVENTS: usize = 1;
        const LINES: usize = 2;
        const AGENT_LINES: usize = 3;
        const RECORDS: usize = 4;
        const MEMORY: usize = 5;
        const META: usize = 6;
        // Encoded once, outside the transaction closure (which sled may rerun).
        let mut ops: Vec<(usize, Vec<u8>, Option<Vec<u8>>)> = Vec::with_capacity(writes.len());
        for write in writes {
            match write {
                Write::Session(record) => {
                    ops.push((
                        SESSIONS,
                        record.id.as_str().as_bytes().to_vec(),
                        Some(encode(record)),
                    ));
                }
                Write::Event(event) => {
                    ops.push((
                        EVENTS,
                        seq_key(&event.session, event.seq),
                        Some(encode(event)),
                    ));
                }
                // Chunked below, after the loop.
                Write::Line { .. } => {}
                Write::Record {
                    session,
                    kind,
                    name,
                    value,
                } => {
                    let mut key = record_prefix(session, kind);
                    key.extend_from_slice(name.as_bytes());
                    ops.push((RECORDS, key, Some(encode(value))));
                }
                Write::Memory { dir, agent, notes } => {
                    let value = (!notes.is_empty()).then(|| notes.as_bytes().to_vec());
                    ops.push((MEMORY, memory_key(dir, agent), value));
                }
            }
        }
        for (key, value) in line_chunks(writes) {
            ops.push((LINES, key, Some(value)));
        }
        for (key, value) in agent_line_chunks(writes) {
            ops.push((AGENT_LINES, key, Some(value)));
        }
        if let Some(mark) = mark {
            ops.push((
                META,
                JOURNAL_MARK.to_vec(),
                Some(mark.to_be_bytes().to_vec()),
            ));
        }
        if ops.is_empty() {
            return Ok(());
        }
        let trees = [
            self.sessions.clone(),
            self.events.clone(),
            self.lines.clone(),
            self.agent_lines.clone(),
            self.records.clone(),
            self.memory.clone(),
            self.meta.clone(),
        ];
        use sled::Transactional as _;
        let applied = trees
            .as_slice()
            .transaction(|tx| {
                for (tree, key, value) in &ops {
                    match value {
                        Some(value) => {
                            tx[*tree].insert(key.as_slice(), value.as_slice())?;
                        }
                        None => {
                            tx[*tree].remove(key.as_slice())?;
                        }
                    }
                }
                Ok::<(), sled::transaction::ConflictableTransactionError<()>>(())
            })
            .map_err(|e| match e {
                sled::transaction::TransactionError::Storage(e) => StoreError::Sled(e),
                sled::transaction::TransactionError::Abort(()) => {
                    StoreError::Sled(sled::Error::Unsupported("transaction aborted".into()))
                }
            });
        if let Some(index) = &self.index {
            match &applied {
                Ok(()) => index.applied(writes.iter().filter_map(|write| match write {
                    Write::Session(record) => Some((record.id.clone(), Some(record.clone()))),
                    _ => None,
                })),
                // Whatever sled kept of it, the index cannot vouch for the db.
                Err(_) => index.poison(),
            }
        }
        applied
    }

    /// Applies and flushes the [`journal`] entries that sled does not hold
    /// yet (what a crash left there) and returns the mark of the last one
    /// sled now holds. The caller then empties the journal.
    fn replay_journal(&self) -> Result<u64, StoreError> {
        let mut mark = self
            .meta
            .get(JOURNAL_MARK)?
            .map(|v| u64_of(&v))
            .unwrap_or(0);
        let entries = match journal::read(&self.path, mark) {
            Ok(entries) => entries,
            Err(e) => {
                // Refused rather than emptied: its lines may be the only copy.
                return Err(StoreError::Foreign {
                    path: journal::path(&self.path),
                    problem: format!("cannot be read ({e})"),
                });
            }
        };
        let Some(last) = entries.last().map(|e| e.n) else {
            return Ok(mark);
        };
        let writes: Vec<Write> = entries
            .into_iter()
            .flat_map(|e| e.lines)
            .map(|(session, line)| Write::Line { session, line })
            .collect();
        tracing::info!(
            lines = writes.len(),
            "applying the transcript journal left by a crash"
        );
        self.apply_marked(&writes, Some(last))?;
        self.db.flush()?;
        mark = last;
        Ok(mark)
    }

    /// Appends the transcript lines among `writes` to the [`journal`] (one
    /// `write(2)`, not synced: they then survive a crash of the process),
    /// for a later [`Store::apply_journaled`] to hand to sled. Returns
    /// `false` when the store has no journal or the append failed (logged):
    /// the caller then applies and flushes `writes` itself.
    pub fn journal(&self, writes: &[Write]) -> bool {
        let Some(journal) = &self.journal else {
            return false;
        };
        let lines: Vec<(SessionId, TranscriptLine)> = writes
            .iter()
            .filter_map(|w| match w {
                Write::Line { session, line } => Some((session.clone(), line.clone())),
                _ => None,
            })
            .collect();
        if lines.is_empty() {
            return true;
        }
        let mut journal = journal.lock().unwrap_or_else(|p| p.into_inner());
        match journal.append(lines) {
            Ok(_) => true,
            Err(e) => {
                tracing::warn!(error = %e, "transcript journal append failed; flushing to sled");
                false
            }
        }
    }

    /// [`Store::apply`] for writes that include every line journaled since
    /// the last call (and any writes after them): also stores the journal's
    /// mark, so that once [`Store::flush`] has made this durable,
    /// [`Store::journal_taken`] can empty the journal. Returns that mark.
    ///
    /// Errors: as [`Store::apply`].
    pub fn apply_journaled(&self, writes: &[Write]) -> Result<Option<u64>, StoreError> {
        let mark = self
            .journal
            .as_ref()
            .and_then(|j| j.lock().unwrap_or_else(|p| p.into_inner()).last());
        self.apply_marked(writes, mark)?;
        Ok(mark)
    }

    /// Empties the journal after a flush made `mark` (from
    /// [`Store::apply_journaled`]) durable, unless entries came after it.
    /// A failure is logged: the entries stay, and their numbers keep the
    /// next open from applying them twice.
    pub fn journal_taken(&self, mark: Option<u64>) {
        let (Some(journal), Some(mark)) = (&self.journal, mark) else {
            return;
        };
        let mut journal = journal.lock().unwrap_or_else(|p| p.into_inner());
        if journal.last() == Some(mark)
            && let Err(e) = journal.clear()
        {
            tracing::warn!(error = %e, "cannot empty the transcript journal");
        }
    }

    /// The next transcript positions of a session: the next `seq` over all
    /// agents, and each agent's next `agent_seq` (agents without lines are
    /// absent). Used to continue a resumed session's transcript without gaps.
    pub fn next_line_seqs(
        &self,
        session: &SessionId,
    ) -> Result<(u64, BTreeMap<String, u64>), StoreError> {
        let prefix = session.as_str().as_bytes();
        let next = self.line_total(session)?;
        let mut agents = BTreeMap::new();
        for item in self.agent_lines.scan_prefix(prefix) {
            let (key, seqs) = item?;
            let rest = &key[prefix.len()..];
            let Some(split) = rest.iter().position(|b| *b == 0) else {
                continue;
            };
            let agent = String::from_utf8_lossy(&rest[..split]).into_owned();
            let agent_seq = u64_of(&rest[split + 1..]);
            let entry = agents.entry(agent).or_insert(0);
            *entry = (*entry).max(agent_seq + (seqs.len() / 8) as u64);
        }
        Ok((next, agents))
    }

    /// A session's transcript length: its last line's seq + 1 (0 when empty).
    fn line_total(&self, session: &SessionId) -> Result<u64, StoreError> {
        let prefix = session.as_str().as_bytes();
        Ok(match self.lines.scan_prefix(prefix).next_back() {
            Some(item) => {
                let (key, value) = item?;
                u64_of(&key[prefix.len()..]) + chunk_len(&key, &value)?
            }
            None => 0,
        })
    }

    /// An agent's transcript length: its last line's agent_seq + 1.
    fn agent_line_total(&self, session: &SessionId, agent: &str) -> Result<u64, StoreError> {
        let prefix = agent_prefix(session, agent);
        Ok(match self.agent_lines.scan_prefix(&prefix).next_back() {
            Some(item) => {
                let (key, seqs) = item?;
                u64_of(&key[prefix.len()..]) + (seqs.len() / 8) as u64
            }
            None => 0,
        })
    }

    /// The chunks of a session's lines that hold seqs `from..to`, in order:
    /// the one holding `from` (it may start before it), then those after.
    fn line_chunks_between(
        &self,
        session: &SessionId,
        from: u64,
        to: u64,
    ) -> Result<Vec<(sled::IVec, sled::IVec)>, StoreError> {
        let mut start = seq_key(session, from);
        if let Some(item) = self
            .lines
            .range(seq_key(session, 0)..=seq_key(session, from))
            .next_back()
        {
            start = item?.0.to_vec();
        }
        self.lines
            .range(start..seq_key(session, to))
            .map(|item| item.map_err(StoreError::from))
            .collect()
    }

    /// The lines with the given seqs (ascending), looked up chunk by chunk;
    /// seqs not stored are skipped.
    fn lines_at(
        &self,
        session: &SessionId,
        seqs: impl IntoIterator<Item = u64>,
    ) -> Result<Vec<TranscriptLine>, StoreError> {
        let mut out = Vec::new();
        // The chunk last decoded: its first seq and lines.
        let mut chunk: Option<(u64, Vec<TranscriptLine>)> = None;
        for seq in seqs {
            let held = |c: &(u64, Vec<TranscriptLine>)| seq >= c.0 && seq < c.0 + c.1.len() as u64;
            if !chunk.as_ref().is_some_and(held) {
                chunk = None;
                if let Some(item) = self
                    .lines
                    .range(seq_key(session, 0)..=seq_key(session, seq))
                    .next_back()
                {
                    let (key, value) = item?;
                    let first = u64_of(&key[session.as_str().len()..]);
                    chunk = Some((first, decode_chunk(&key, &value)?));
                }
            }
            if let Some((first, lines)) = &chunk
                && let Some(line) = seq.checked_sub(*first).and_then(|i| lines.get(i as usize))
                && line.seq == seq
            {
                out.push(line.clone());
            }
        }
        Ok(out)
    }

    /// The seq of a session's last logged event (0 when it has none).
    pub fn last_event_seq(&self, session: &SessionId) -> Result<u64, StoreError> {
        let prefix = session.as_str().as_bytes();
        Ok(match self.events.scan_prefix(prefix).next_back() {
            Some(item) => u64_of(&item?.0[prefix.len()..]),
            None => 0,
        })
    }

    /// Seals `seq` as the last durable event of `session` (after a flush that
    /// made it durable): the seal is rewritten with every session's last
    /// durable seq, O(sessions). A seal not written only costs a check of a
    /// copy of the db on the next open.
    pub fn seal_durable(&self, session: &SessionId, seq: u64) {
        let Some(sealer) = &self.sealer else {
            return;
        };
        {
            let mut state = sealer.state();
            state.last = Some((session.to_string(), seq));
            state.sessions.insert(session.to_string(), seq);
        }
        sealer.write();
    }

    /// Makes everything applied so far durable (fsync). Returns the bytes flushed.
    pub fn flush(&self) -> Result<usize, StoreError> {
        let Some(index) = &self.index else {
            return Ok(self.db.flush()?);
        };
        let changes = index.take_applied();
        match self.db.flush() {
            Ok(bytes) => {
                index.flushed(changes);
                Ok(bytes)
            }
            Err(e) => {
                index.unflushed(changes);
                Err(e.into())
            }
        }
    }

    /// Every session, newest first.
    pub fn sessions(&self) -> Result<Vec<SessionRecord>, StoreError> {
        let mut all = Vec::new();
        for item in self.sessions.iter() {
            let (key, value) = item?;
            all.push(decode::<SessionRecord>(&key, &value)?);
        }
        Ok(index::sorted(all))
    }

    /// The session whose id is `id` or starts with `id` (a unique prefix).
    pub fn find_session(&self, id: &str) -> Result<SessionRecord, StoreError> {
        let matches: Vec<SessionRecord> = self
            .sessions()?
            .into_iter()
            .filter(|s| s.id.as_str().starts_with(id))
            .collect();
        match matches.len() {
            1 => Ok(matches
                .into_iter()
                .next()
                .ok_or_else(|| StoreError::NoSuchSession(format!("no session matches `{id}`")))?),
            0 => Err(StoreError::NoSuchSession(format!(
                "no session matches `{id}` in {}",
                self.path.display()
            ))),
            n => Err(StoreError::NoSuchSession(format!(
                "`{id}` matches {n} sessions; give more characters"
            ))),
        }
    }

    /// A session's events, in seq order.
    pub fn events(&self, session: &SessionId) -> Result<Vec<LoggedEvent>, StoreError> {
        let mut all = Vec::new();
        for item in self.events.scan_prefix(session.as_str().as_bytes()) {
            let (key, value) = item?;
            all.push(decode::<LoggedEvent>(&key, &value)?);
        }
        Ok(all)
    }

    /// Up to `len` transcript lines from `from` (of `agent`, or of all agents),
    /// and the view's total line count.
    pub fn transcript_page(
        &self,
        session: &SessionId,
        agent: Option<&str>,
        from: u64,
        len: u64,
    ) -> Result<(Vec<TranscriptLine>, u64), StoreError> {
        let mut lines = Vec::new();
        let to = from.saturating_add(len);
        match agent {
            None => {
                let total = self.line_total(session)?;
                for (key, value) in self.line_chunks_between(session, from, to)? {
                    lines.extend(
                        decode_chunk(&key, &value)?
                            .into_iter()
                            .filter(|l| l.seq >= from && l.seq < to),
                    );
                }
                Ok((lines, total))
            }
            Some(agent) => {
                let total = self.agent_line_total(session, agent)?;
                let seqs = self.agent_seqs_between(session, agent, from, to)?;
                let lines = self.lines_at(session, seqs.into_iter().map(|(_, seq)| seq))?;
                Ok((lines, total))
            }
        }
    }

    /// (agent_seq, seq) of an agent's lines with agent_seqs `from..to`.
    fn agent_seqs_between(
        &self,
        session: &SessionId,
        agent: &str,
        from: u64,
        to: u64,
    ) -> Result<Vec<(u64, u64)>, StoreError> {
        let prefix = agent_prefix(session, agent);
        let key_of = |agent_seq: u64| {
            let mut key = prefix.clone();
            key.extend_from_slice(&agent_seq.to_be_bytes());
            key
        };
        let mut start = key_of(from);
        if let Some(item) = self.agent_lines.range(key_of(0)..=key_of(from)).next_back() {
            start = item?.0.to_vec();
        }
        let mut out = Vec::new();
        for item in self.agent_lines.range(start..key_of(to)) {
            let (key, seqs) = item?;
            let first = u64_of(&key[prefix.len()..]);
            for (i, seq) in seqs_of(&seqs).enumerate() {
                let agent_seq = first + i as u64;
                if agent_seq >= from && agent_seq < to {
                    out.push((agent_seq, seq));
                }
            }
        }
        Ok(out)
    }

    /// The agents' memories for target directory `dir`: agent → notes, by
    /// agent. Agents without notes are absent.
    pub fn memories(&self, dir: &str) -> Result<BTreeMap<String, String>, StoreError> {
        let prefix = memory_key(dir, "");
        let mut all = BTreeMap::new();
        for item in self.memory.scan_prefix(&prefix) {
            let (key, value) = item?;
            let agent = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
            all.insert(agent, String::from_utf8_lossy(&value).into_owned());
        }
        Ok(all)
    }

    /// One per-session record.
    pub fn record<T: DeserializeOwned>(
        &self,
        session: &SessionId,
        kind: &str,
        name: &str,
    ) -> Result<Option<T>, StoreError> {
        let mut key = record_prefix(session, kind);
        key.extend_from_slice(name.as_bytes());
        match self.records.get(&key)? {
            Some(value) => Ok(Some(decode(&key, &value)?)),
            None => Ok(None),
        }
    }

    /// Every record of `kind` in a session, by name.
    pub fn records<T: DeserializeOwned>(
        &self,
        session: &SessionId,
        kind: &str,
    ) -> Result<Vec<(String, T)>, StoreError> {
        let prefix = record_prefix(session, kind);
        let mut all = Vec::new();
        for item in self.records.scan_prefix(&prefix) {
            let (key, value) = item?;
            let name = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
            all.push((name, decode(&key, &value)?));
        }
        Ok(all)
    }

    /// Positions of the transcript lines (of `agent`, or of all agents) whose
    /// text contains `query`, ignoring case: `agent_seq`s for one agent, `seq`s
    /// for all, ascending, at most `limit`; the flag is `true` when more matched.
    /// An empty query matches nothing.
    pub fn search_transcript(
        &self,
        session: &SessionId,
        agent: Option<&str>,
        query: &str,
        limit: usize,
    ) -> Result<(Vec<u64>, bool), StoreError> {
        let needle = query.to_lowercase();
        if needle.is_empty() {
            return Ok((Vec::new(), false));
        }
        // A cheap test on the stored JSON first: for plain ASCII queries the
        // encoded line contains the query as written (case aside), so most
        // lines are skipped without decoding.
        let raw_filter = needle
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\' || b == b' ')
            .then(|| needle.as_bytes().to_vec());
        let matches =
            |key: &[u8], value: &[u8]| -> Result<Option<Vec<TranscriptLine>>, StoreError> {
                // Decompressed once, for the test and for decoding.
                let value = unpack(key, value)?;
                if let Some(raw) = &raw_filter {
                    let first = raw[0];
                    let found = value
                        .windows(raw.len())
                        .any(|w| w[0].to_ascii_lowercase() == first && w.eq_ignore_ascii_case(raw));
                    if !found {
                        return Ok(None);
                    }
                }
                Ok(Some(
                    decode_chunk(key, &value)?
                        .into_iter()
                        .filter(|line| line.text.to_lowercase().contains(&needle))
                        .collect::<Vec<_>>(),
                ))
            };
        let mut positions = Vec::new();
        let mut truncated = false;
        match agent {
            None => {
                'chunks: for item in self.lines.scan_prefix(session.as_str().as_bytes()) {
                    let (key, value) = item?;
                    for line in matches(&key, &value)?.unwrap_or_default() {
                        if positions.len() == limit {
                            truncated = true;
                            break 'chunks;
                        }
                        positions.push(line.seq);
                    }
                }
            }
            Some(agent) => {
                // The agent's seqs, then the chunks that hold them, each
                // filtered once.
                let seqs: Vec<u64> = self
                    .agent_seqs_between(session, agent, 0, u64::MAX)?
                    .into_iter()
                    .map(|(_, seq)| seq)
                    .collect();
                let wanted: std::collections::HashSet<u64> = seqs.iter().copied().collect();
                let (Some(&first), Some(&last)) = (seqs.first(), seqs.last()) else {
                    return Ok((positions, truncated));
                };
                'agent: for (key, value) in
                    self.line_chunks_between(session, first, last.saturating_add(1))?
                {
                    for line in matches(&key, &value)?.unwrap_or_default() {
                        if line.agent == agent && wanted.contains(&line.seq) {
                            if positions.len() == limit {
                                truncated = true;
                                break 'agent;
                            }
                            positions.push(line.agent_seq);
                        }
                    }
                }
            }
        }
        Ok((positions, truncated))
    }

    /// Every per-session record of a session, as (kind, name, JSON value), by kind
    /// then name. Kinds are those [`Write::Record`] wrote (`task`, `file`, `output`,
    /// and `undo`/`push` from the commands of that name).
    pub fn all_records(
        &self,
        session: &SessionId,
    ) -> Result<Vec<(String, String, serde_json::Value)>, StoreError> {
        let prefix = session.as_str().as_bytes();
        let mut all = Vec::new();
        for item in self.records.scan_prefix(prefix) {
            let (key, value) = item?;
            let rest = &key[prefix.len()..];
            let Some(split) = rest.iter().position(|b| *b == 0) else {
                continue;
            };
            let kind = String::from_utf8_lossy(&rest[..split]).into_owned();
            let name = String::from_utf8_lossy(&rest[split + 1..]).into_owned();
            all.push((kind, name, decode(&key, &value)?));
        }
        Ok(all)
    }

    /// Every transcript line of a session, in seq order.
    pub fn transcript(&self, session: &SessionId) -> Result<Vec<TranscriptLine>, StoreError> {
        let mut all = Vec::new();
        for item in self.lines.scan_prefix(session.as_str().as_bytes()) {
            let (key, value) = item?;
            all.extend(decode_chunk(&key, &value)?);
        }
        Ok(all)
    }

    /// Deletes a session and everything stored under it (events, transcript,
    /// records), then flushes. Returns how many entries went, per tree.
    pub fn remove_session(&self, session: &SessionId) -> Result<Removed, StoreError> {
        let prefix = session.as_str().as_bytes();
        let mut removed = Removed::default();
        // The seal may name one of these events: it goes first.
        seal::remove(&self.path);
        let clear = |tree: &sled::Tree| -> Result<usize, StoreError> {
            let keys: Vec<sled::IVec> =
                tree.scan_prefix(prefix).keys().collect::<Result<_, _>>()?;
            let mut batch = sled::Batch::default();
            for key in &keys {
                batch.remove(key);
            }
            tree.apply_batch(batch)?;
            Ok(keys.len())
        };
        removed.events = clear(&self.events)?;
        removed.lines = 0;
        for item in self.lines.scan_prefix(prefix) {
            let (key, value) = item?;
            removed.lines += chunk_len(&key, &value)? as usize;
        }
        clear(&self.lines)?;
        clear(&self.agent_lines)?;
        removed.records = clear(&self.records)?;
        self.sessions.remove(prefix)?;
        if let Some(index) = &self.index {
            index.applied([(session.clone(), None)]);
        }
        self.flush()?;
        if let Some(sealer) = &self.sealer {
            {
                let mut state = sealer.state();
                state.sessions.remove(session.as_str());
                if state
                    .last
                    .as_ref()
                    .is_some_and(|(s, _)| s == session.as_str())
                {
                    state.last = None;
                }
            }
            sealer.write();
        }
        Ok(removed)
    }
}

/// How long [`Store::open`] waits for sled's file lock before giving up.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Whether `e` is sled's "could not acquire lock" error: sled 0.34 reports a
/// held lock on its data file only as an `io::ErrorKind::Other` with that
/// message (`sled/src/config.rs`, `Config::try_lock`).
fn is_lock_error(e: &sled::Error) -> bool {
    matches!(e, sled::Error::Io(io) if io.to_string().contains("could not acquire lock"))
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
