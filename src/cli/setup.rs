//! What every session command does before its session: validate everything
//! the user gave (DIR, config, keys, workflow, providers) before anything is
//! created, so that bad input exits 2 with a message naming the problem and
//! leaves nothing behind (no `.quorum/`; docs/design.md §5); then open DIR's
//! state (lock, logs, db) and start the orchestrator on it.
//!
//! The commands beside a session open DIR's existing state only, never
//! creating it: those that write (`sessions rm|push`, `undo`, `memory
//! --set`) take its lock and DIR's (`open_existing`), so they refuse with
//! exit 4 while a session runs in DIR; those that only read (`sessions
//! list|show|export`) read a copy of the db then (`open_read`,
//! `store/snapshot.rs`), never exit 4.
//!
//! Called by `commands/`; it calls the config, the providers, the state
//! directory, the store and the orchestrator, never a command.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::cli::args::Global;
use crate::cli::exit::{Failure, store_failure, target_dir};
use crate::cli::logging;
use crate::config::workflow::Workflow;
use crate::config::{LoadOptions, Settings};
use crate::llm::SharedProvider;
use crate::orchestrator::{self, OrchestratorHandle, Parts};
use crate::protocol::SessionStatus;
use crate::store::snapshot::Snapshot;
use crate::store::{SessionRecord, Store, StoreError};
use crate::workspace::Workspace;
use crate::workspace::state_dir::{self, Holder, StateDir, StateError};

/// Everything validated for a session command: nothing is created yet.
pub(crate) struct Prepared {
    /// The target directory (absolute; it may not exist yet).
    pub(crate) dir: PathBuf,
    /// The settings, command-line overrides applied.
    pub(crate) settings: Arc<Settings>,
    /// `--workflow`'s, or the built-in one for the roster.
    pub(crate) workflow: Workflow,
    /// One built provider per `[providers.NAME]` table.
    pub(crate) providers: BTreeMap<String, SharedProvider>,
}

/// The validated settings of `--config` or DIR's config, with the command
/// line's overrides; the roster is resolved only when `roster`
/// ([`Settings::load_without_roster`]).
///
/// Errors: exit 2 for a `--config` that is not a file or a config that does
/// not validate.
pub(crate) fn load_settings(
    global: &Global,
    dir: &Path,
    roster: bool,
) -> Result<Settings, Failure> {
    if let Some(config) = &global.config
        && !config.is_file()
    {
        return Err(Failure::usage(format!(
            "--config {}: no such file",
            config.display()
        )));
    }
    let options = LoadOptions {
        config: global.config.clone(),
        dir: dir.to_path_buf(),
        offline: global.offline,
        user_config_dir: logging::xdg_config_dir(),
    };
    let env = |var: &str| std::env::var(var).ok();
    let mut settings = if roster {
        Settings::load(&options, &env)
    } else {
        Settings::load_without_roster(&options, &env)
    }
    .map_err(|e| Failure::usage(e.to_string()))?;
    if global.no_setup_network {
        settings.test.setup_network = false;
    }
    settings.test.allow_unconfined = global.allow_unconfined_tests;
    Ok(settings)
}

/// Validates DIR, the settings, the workflow (`workflow`'s file, else the
/// built-in one) and the providers, creating nothing.
///
/// Errors: those of [`crate::cli::exit::target_dir`] and [`load_settings`];
/// exit 2 for a workflow or a provider that does not validate.
pub(crate) fn prepare(global: &Global, workflow: Option<&Path>) -> Result<Prepared, Failure> {
    let dir = target_dir(global)?;
    let settings = load_settings(global, &dir, true)?;
    let roster: Vec<String> = settings.agents.iter().map(|a| a.name.clone()).collect();
    let workflow = match workflow {
        Some(path) => Workflow::load(path, &roster),
        None => Workflow::default_for(&roster),
    }
    .map_err(|e| Failure::usage(e.to_string()))?;
    crate::config::reasoning::check_phases(&settings, &workflow).map_err(Failure::usage)?;
    let providers =
        crate::orchestrator::providers::build_providers(&settings).map_err(Failure::usage)?;
    Ok(Prepared {
        dir,
        settings: Arc::new(settings),
        workflow,
        providers,
    })
}

/// DIR's state as a session holds it: the lock, the db, and the guard that
/// flushes the session log on drop (`None` when logging is off).
pub(crate) type OpenState = (
    StateDir,
    Store,
    Option<tracing_appender::non_blocking::WorkerGuard>,
);

/// Creates DIR if needed, takes the state lock, starts logging and opens the db.
///
/// Errors: exit 1 when DIR cannot be created; exit 4 when another quorum
/// holds DIR's state; exit 2 for a corrupt db.
pub(crate) fn open_state(dir: &Path, global: &Global) -> Result<OpenState, Failure> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Failure::failed(format!("cannot create {}: {e}", dir.display())))?;
    // DIR's own lock too, whatever the state directory (workspace/state_dir.rs).
    let state = StateDir::open_in(dir, &StateDir::location(dir, global.state_dir.as_deref()))?;
    let guard = logging::init(&state.logs_dir(), global.verbose);
    let store = Store::open(&state.db_path()).map_err(store_failure)?;
    Ok((state, store, guard))
}

/// Starts the orchestrator on a validated setup and DIR's opened state.
pub(crate) fn spawn(prepared: &Prepared, state: &StateDir, store: Store) -> OrchestratorHandle {
    orchestrator::spawn(Parts {
        settings: Arc::clone(&prepared.settings),
        workflow: prepared.workflow.clone(),
        store,
        workspace: Workspace::new(&prepared.dir, state.root()),
        providers: prepared.providers.clone(),
    })
}

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
    let dir = target_dir(global)?;
    let location = StateDir::location(&dir, global.state_dir.as_deref());
    // A linked state directory is refused, never followed (not even to look).
    StateDir::check(&location)?;
    if !location.join("db").exists() {
        return Ok(None);
    }
    // DIR's lock too: these commands write DIR or its db (workspace/state_dir.rs).
    let state = StateDir::open_in(&dir, &location)?;
    let log = logging::init(&state.logs_dir(), global.verbose);
    let store = Store::open(&state.db_path()).map_err(store_failure)?;
    Ok(Some(Opened {
        dir,
        state,
        store,
        _log: log,
    }))
}

/// DIR's state as a read-only command sees it: the db itself when no other
/// quorum holds DIR's state (its lock is then held while this lives), or a
/// copy of it while a session runs there ([`Snapshot`]).
pub(crate) struct Reading {
    /// The target directory (absolute).
    pub dir: PathBuf,
    /// The db, or the copy.
    source: Source,
    /// The quorum that holds DIR's state while this reads a copy: it runs
    /// the session its lock names.
    live: Option<Holder>,
    /// Held while the db itself is read.
    _state: Option<StateDir>,
    /// Flushes the session log on drop (the db itself only).
    _log: Option<tracing_appender::non_blocking::WorkerGuard>,
}

enum Source {
    Store(Store),
    Snapshot(Snapshot),
}

impl Reading {
    /// The store to read.
    pub fn store(&self) -> &Store {
        match &self.source {
            Source::Store(store) => store,
            Source::Snapshot(snapshot) => snapshot.store(),
        }
    }

    /// `record` as it stands now: a session stored without an end
    /// (`status: null`) that the quorum holding DIR's lock is not running is
    /// one whose owner died (SIGKILL, a crash, a lost machine): it is
    /// `interrupted` (resumable), never `running` forever.
    pub fn settle(&self, record: SessionRecord) -> SessionRecord {
        settle(record, self.live.as_ref())
    }
}

/// [`Reading::settle`] for a `live` holder of DIR's lock (`None`: none).
pub(crate) fn settle(mut record: SessionRecord, live: Option<&Holder>) -> SessionRecord {
    let running = live.is_some_and(|h| h.alive && h.session.as_deref() == Some(record.id.as_str()));
    if record.status.is_none() && !running {
        record.status = Some(SessionStatus::Interrupted);
    }
    record
}

/// Opens DIR's existing state to read it (never creating it): the db itself
/// when its lock is free, else a consistent copy, so that reading never
/// waits for nor refuses because of a running session. `Ok(None)` when DIR
/// has no quorum state yet.
pub(crate) fn open_read(global: &Global) -> Result<Option<Reading>, Failure> {
    let dir = target_dir(global)?;
    let location = StateDir::location(&dir, global.state_dir.as_deref());
    StateDir::check(&location)?;
    let db_path = location.join("db");
    if !db_path.exists() {
        return Ok(None);
    }
    match StateDir::open(&location) {
        Ok(state) => {
            let log = logging::init(&state.logs_dir(), global.verbose);
            let store = Store::open(&state.db_path()).map_err(store_failure)?;
            Ok(Some(Reading {
                dir,
                source: Source::Store(store),
                live: None,
                _state: Some(state),
                _log: log,
            }))
        }
        Err(StateError::InUse { .. }) => {
            let live = state_dir::holder(&location);
            let snapshot = Snapshot::take(&db_path).map_err(store_failure)?;
            Ok(Some(Reading {
                dir,
                source: Source::Snapshot(snapshot),
                live,
                _state: None,
                _log: None,
            }))
        }
        Err(e) => Err(e.into()),
    }
}

/// `open_read` for a command that needs a session: no state is an error
/// naming DIR and the id.
pub(crate) fn read_for(global: &Global, id: &str) -> Result<Reading, Failure> {
    match open_read(global)? {
        Some(reading) => Ok(reading),
        None => Err(no_state(global, id)?),
    }
}

/// The error for a session `id` asked of a DIR without quorum state.
fn no_state(global: &Global, id: &str) -> Result<Failure, Failure> {
    let dir = target_dir(global)?;
    Ok(Failure::usage(format!(
        "no session `{id}`: {} has no quorum state (no session ran there; see --dir, --state-dir)",
        dir.display()
    )))
}

/// Like `open_existing`, for commands that need a session: no state is an
/// error naming DIR and the id.
pub(crate) fn open_for(global: &Global, id: &str) -> Result<Opened, Failure> {
    match open_existing(global)? {
        Some(opened) => Ok(opened),
        None => Err(no_state(global, id)?),
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn a_session_without_an_end_runs_only_while_the_live_holder_names_it() {
        let record = SessionRecord {
            id: crate::protocol::SessionId::parse("0123456789ab").unwrap(),
            prompt: String::new(),
            dir: String::new(),
            workflow: String::new(),
            created_at: String::new(),
            updated_at: String::new(),
            status: None,
            phase: String::new(),
            tokens_in: 0,
            tokens_out: 0,
            cost_usd: 0.0,
            commit: None,
            last_seq: 0,
            offline: true,
        };
        let holder = |session: &str, alive| Holder {
            pid: Some(1),
            session: Some(session.to_string()),
            alive,
        };
        let status = |live: Option<&Holder>| settle(record.clone(), live).status;
        assert_eq!(status(Some(&holder("0123456789ab", true))), None);
        for live in [
            None,
            Some(&holder("0123456789ab", false)),
            Some(&holder("ba9876543210", true)),
        ] {
            assert_eq!(status(live), Some(SessionStatus::Interrupted));
        }
        let mut done = record.clone();
        done.status = Some(SessionStatus::Succeeded);
        assert_eq!(
            settle(done, None).status,
            Some(SessionStatus::Succeeded),
            "an ended session keeps its end"
        );
    }
}
