//! Opening the db (docs/design.md §4, "Durable"): the seal checked before
//! sled opens it and kept while it is open ([`seal`]), sled's file lock
//! waited for, the schema version checked and a schema-1 db marked 2, and the
//! transcript [`journal`] a crash left replayed into sled.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::apply::JOURNAL_MARK;
use super::codec::u64_of;
use super::{SCHEMA_VERSION, Store, StoreError, Write, index, journal, seal};
use crate::protocol::SessionId;

/// What the seal holds of what was made durable: the last event, and every
/// session's last durable seq.
#[derive(Debug, Default)]
pub(super) struct SealState {
    /// The last durable event: its session and seq.
    pub(super) last: Option<(String, u64)>,
    /// Every session's last durable seq.
    pub(super) sessions: BTreeMap<String, u64>,
}

/// Keeps the seal of one open db; when dropped (with the last handle on
/// the store, after sled's), seals the db as closed with every file's sum.
#[derive(Debug)]
pub(super) struct Sealer {
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
    pub(super) fn state(&self) -> std::sync::MutexGuard<'_, SealState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes the seal as open (a failure only costs a check of a copy on
    /// the next open).
    pub(super) fn write(&self) {
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

/// How long [`Store::open`] waits for sled's file lock before giving up.
pub(super) const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Whether `e` is sled's "could not acquire lock" error: sled 0.34 reports a
/// held lock on its data file only as an `io::ErrorKind::Other` with that
/// message (sled 0.34's `Config::try_lock`).
pub(super) fn is_lock_error(e: &sled::Error) -> bool {
    matches!(e, sled::Error::Io(io) if io.to_string().contains("could not acquire lock"))
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
    pub(super) fn open_unchecked(path: &Path) -> Result<Store, StoreError> {
        let db = open_sled(path)?;
        let meta = check_schema(&db, path)?;
        Ok(Store {
            path: path.to_path_buf(),
            sessions: db.open_tree("sessions")?,
            events: db.open_tree("events")?,
            lines: db.open_tree("lines")?,
            agent_lines: db.open_tree("agent_lines")?,
            records: db.open_tree("records")?,
            memory: db.open_tree("memory")?,
            symbols: db.open_tree("symbols")?,
            meta,
            db,
            journal: None,
            index: None,
            sealer: None,
        })
    }

    /// Applies and flushes the [`journal`] entries that sled does not hold
    /// yet (what a crash left there) and returns the mark of the last one
    /// sled now holds. The caller then empties the journal.
    pub(super) fn replay_journal(&self) -> Result<u64, StoreError> {
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
}

/// sled's db at `path`, its file lock waited for up to [`LOCK_WAIT`].
///
/// Errors: [`StoreError::Open`] when sled cannot open it (corrupt, or still
/// locked after the wait).
fn open_sled(path: &Path) -> Result<sled::Db, StoreError> {
    let config = sled::Config::new()
        .path(path)
        .mode(sled::Mode::LowSpace)
        .cache_capacity(16 * 1024 * 1024)
        // No periodic background flush: the committer flushes every group
        // itself (docs/design.md §4), and without the flusher thread dropping the
        // db releases its file lock at once.
        .flush_every_ms(None);
    // The state directory's own lock keeps other quorums out, so a held
    // sled lock is this process's db just dropped: one of sled's I/O
    // threads can still hold the file for a moment (seen under load, in
    // tests that reopen a db). Retried for at most LOCK_WAIT.
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    loop {
        match config.open() {
            Ok(db) => return Ok(db),
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
    }
}

/// The db's `meta` tree once its schema version was checked: a new db is
/// marked [`SCHEMA_VERSION`], a schema-1 db is upgraded to it.
///
/// Errors: [`StoreError::Foreign`] for a db with data but no quorum schema
/// version, or a newer one; [`StoreError::Sled`] when sled fails.
fn check_schema(db: &sled::Db, path: &Path) -> Result<sled::Tree, StoreError> {
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
            let foreign = db
                .tree_names()
                .iter()
                .any(|name| name.as_ref() != b"__sled__default" && name.as_ref() != b"meta")
                || !db.is_empty();
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
    Ok(meta)
}
