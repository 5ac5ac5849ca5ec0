//! The commands beside a session run: `init`, `doctor`, `db verify`, `sessions
//! list|show|export|rm|push`, `undo`, `memory`, `completions` and `man`. Each module
//! turns its arguments into an exit code (DESIGN.md §5) through
//! [`crate::app::Failure`]; `app.rs` only dispatches to them.
//!
//! Invariants: `init` and `doctor` never create `DIR/.quorum/` (they log to the
//! XDG state directory); the session commands open an existing state directory
//! only (taking its lock, so they refuse with exit 4 while a session runs in
//! DIR); nothing here prints an API key's value.

pub mod completions;
pub mod db;
pub mod doctor;
pub mod export;
pub mod init;
pub mod memory;
pub mod push;
pub mod sessions;
pub mod undo;

use std::path::PathBuf;

use crate::app::Failure;
use crate::cli::Global;
use crate::state::StateDir;
use crate::store::{SessionRecord, Store, StoreError};

/// DIR's opened state: the lock is held while this lives.
pub(crate) struct Opened {
    /// The target directory (absolute).
    pub dir: PathBuf,
    /// The locked state directory.
    pub state: StateDir,
    /// The db.
    pub store: Store,
    /// Flushes the session log on drop.
    _log: Option<tracing_appender::non_blocking::WorkerGuard>,
}

/// Opens DIR's existing state (never creating it). `Ok(None)` when DIR has no
/// quorum state yet; exit 4 when another quorum holds it.
pub(crate) fn open_existing(global: &Global) -> Result<Option<Opened>, Failure> {
    let dir = crate::app::target_dir(global)?;
    let location = StateDir::location(&dir, global.state_dir.as_deref());
    // A linked state directory is refused, never followed (not even to look).
    StateDir::check(&location)?;
    if !location.join("db").exists() {
        return Ok(None);
    }
    let state = StateDir::open(&location)?;
    let log = crate::logging::init(&state.logs_dir(), global.verbose);
    let store = Store::open(&state.db_path()).map_err(crate::app::store_failure)?;
    Ok(Some(Opened {
        dir,
        state,
        store,
        _log: log,
    }))
}

/// Like [`open_existing`], for commands that need a session: no state is an
/// error naming DIR and the id.
pub(crate) fn open_for(global: &Global, id: &str) -> Result<Opened, Failure> {
    match open_existing(global)? {
        Some(opened) => Ok(opened),
        None => {
            let dir = crate::app::target_dir(global)?;
            Err(Failure::usage(format!(
                "no session `{id}`: {} has no quorum state (no session ran there; see --dir, --state-dir)",
                dir.display()
            )))
        }
    }
}

/// The session `id` names (an id or a unique prefix): an unknown or ambiguous id
/// is a usage error (exit 2), a db error a failure (exit 1).
pub(crate) fn find(store: &Store, id: &str) -> Result<SessionRecord, Failure> {
    store.find_session(id).map_err(|e| match e {
        StoreError::NoSuchSession(message) => Failure::usage(message),
        other => Failure::failed(other.to_string()),
    })
}

/// A store error as a failure (exit 1).
pub(crate) fn db(e: StoreError) -> Failure {
    Failure::failed(e.to_string())
}
