//! `quorum doctor`'s state lines: whether the state and log directories
//! can be written (checked with `access(2)`, never by writing into them),
//! who holds DIR's lock, and whether the db is intact.

use std::path::{Path, PathBuf};

use super::{Check, Status};
use crate::cli::args::Global;
use crate::workspace::state_dir::StateDir;

/// Whether this process may create files in `dir` (`access(2)`: no file is made).
pub(super) fn writable(dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt as _;
    let Ok(path) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: a valid NUL-terminated path; access(2) only reads it.
    unsafe { libc::access(path.as_ptr(), libc::W_OK | libc::X_OK) == 0 }
}

/// The nearest existing directory at or above `path`.
pub(super) fn existing_ancestor(path: &Path) -> Option<PathBuf> {
    path.ancestors().find(|p| p.is_dir()).map(Path::to_path_buf)
}

/// Checks that a directory quorum writes is writable, without creating it.
pub(super) fn dir_check(name: &str, path: &Path, required: bool) -> Check {
    if path.is_dir() {
        return if writable(path) {
            Check::new(
                "state",
                name,
                Status::Ok,
                required,
                format!("{} is writable", path.display()),
            )
        } else {
            Check::new(
                "state",
                name,
                Status::Fail,
                required,
                format!("{} is not writable", path.display()),
            )
        };
    }
    if path.exists() {
        return Check::new(
            "state",
            name,
            Status::Fail,
            required,
            format!("{} exists and is not a directory", path.display()),
        );
    }
    match existing_ancestor(path) {
        Some(parent) if writable(&parent) => Check::new(
            "state",
            name,
            Status::Ok,
            required,
            format!(
                "{} does not exist yet; it can be created ({} is writable)",
                path.display(),
                parent.display()
            ),
        ),
        Some(parent) => Check::new(
            "state",
            name,
            Status::Fail,
            required,
            format!(
                "{} cannot be created: {} is not writable",
                path.display(),
                parent.display()
            ),
        ),
        None => Check::new(
            "state",
            name,
            Status::Fail,
            required,
            format!("{}: no existing parent directory", path.display()),
        ),
    }
}

/// Whether another quorum holds the state lock (read-only: the lock file is
/// opened, never created).
pub(super) fn lock_holder(state: &Path) -> Option<String> {
    let file = std::fs::File::open(state.join("lock")).ok()?;
    match file.try_lock() {
        Ok(()) => None,
        Err(std::fs::TryLockError::WouldBlock) => {
            // The pid is the first line (the session it runs follows, workspace/state_dir.rs).
            let text = std::fs::read_to_string(state.join("lock")).unwrap_or_default();
            let pid = text.lines().next().unwrap_or("").trim();
            Some(if pid.is_empty() {
                "unknown".into()
            } else {
                pid.to_string()
            })
        }
        Err(std::fs::TryLockError::Error(_)) => None,
    }
}

/// The state db checked against its seal, as `quorum db verify` does
/// (never changing it); skipped while another quorum holds DIR's lock.
pub(super) fn db_check(state: &Path) -> Check {
    if lock_holder(state).is_some() {
        return Check::new(
            "state",
            "db",
            Status::Warn,
            false,
            "not verified: a session is running",
        );
    }
    let db = state.join("db");
    match crate::store::seal::verify(&db) {
        Ok(_) => Check::new(
            "state",
            "db",
            Status::Ok,
            true,
            format!("{} intact (checked against its seal)", db.display()),
        ),
        Err(e) => Check::new("state", "db", Status::Fail, true, e.to_string()),
    }
}

pub(super) fn state_checks(global: &Global, dir: &Path) -> Vec<Check> {
    let state = StateDir::location(dir, global.state_dir.as_deref());
    let mut checks = vec![dir_check("state dir", &state, true)];
    if let Some(pid) = lock_holder(&state) {
        checks.push(Check::new(
            "state",
            "lock",
            Status::Warn,
            false,
            format!(
                "{} is in use by another quorum (pid {pid})",
                state.display()
            ),
        ));
    }
    if state.join("db").exists() {
        checks.push(db_check(&state));
    }
    match crate::cli::logging::xdg_state_dir() {
        Some(logs) => checks.push(dir_check("log dir", &logs, false)),
        None => checks.push(Check::new(
            "state",
            "log dir",
            Status::Warn,
            false,
            "no XDG state directory (is HOME set?): commands without a session do not log",
        )),
    }
    checks
}
