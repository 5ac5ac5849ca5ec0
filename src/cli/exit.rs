//! Every exit code quorum ends with (docs/design.md §5) and [`Failure`], the
//! reason a command stops before or outside a session, which carries one.
//! A session's own end gives its code through
//! [`crate::protocol::SessionStatus::exit_code`], which agrees with the
//! constants here (checked below).
//!
//! Also `target_dir`, the check of `--dir` that every command starts
//! with, since its refusals are exit codes too.

use std::path::PathBuf;

use crate::cli::args::Global;
use crate::store::StoreError;
use crate::workspace::state_dir::StateError;

pub use crate::protocol::exit::{FAILED, IN_USE, INTERRUPTED, OK, USAGE};

/// A reason to stop before or outside a session, with its exit code.
#[derive(Debug)]
pub struct Failure {
    /// The exit code.
    pub code: i32,
    /// The message for stderr.
    pub message: String,
}

impl Failure {
    /// A usage or config error (exit 2).
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Failure {
            code: USAGE,
            message: message.into(),
        }
    }

    /// A failure (exit 1).
    pub(crate) fn failed(message: impl Into<String>) -> Self {
        Failure {
            code: FAILED,
            message: message.into(),
        }
    }
}

/// The failure for a db that does not open: exit 2 when it is corrupt
/// ([`StoreError::Corrupt`], docs/commands.md), else 1.
pub(crate) fn store_failure(e: StoreError) -> Failure {
    match e {
        StoreError::Corrupt { .. } => Failure::usage(e.to_string()),
        other => Failure::failed(other.to_string()),
    }
}

/// A store error as a failure (exit 1).
pub(crate) fn db(e: StoreError) -> Failure {
    Failure::failed(e.to_string())
}

impl From<StateError> for Failure {
    fn from(e: StateError) -> Self {
        let code = match e {
            StateError::InUse { .. } => IN_USE,
            StateError::Io { .. } | StateError::Symlink { .. } => FAILED,
        };
        // The holder may be DIR's server (`quorum serve`): then say how to
        // use it instead.
        let server = match &e {
            StateError::InUse { path, .. } => {
                std::os::unix::net::UnixStream::connect(path.join("serve.sock")).is_ok()
            }
            StateError::Io { .. } | StateError::Symlink { .. } => false,
        };
        let mut message = e.to_string();
        if server {
            message.push_str(": it is DIR's server (`quorum serve`); `quorum run --detach` and `quorum attach` run sessions there, `quorum serve --stop` ends it");
        }
        Failure { code, message }
    }
}

/// Checks `--dir` (or the current directory): it must be a directory, or not
/// exist yet below an existing parent. Returns it absolute.
pub(crate) fn target_dir(global: &Global) -> Result<PathBuf, Failure> {
    let dir = match &global.dir {
        Some(d) => d.clone(),
        None => std::env::current_dir()
            .map_err(|e| Failure::failed(format!("cannot read the current directory: {e}")))?,
    };
    let absolute = if dir.is_absolute() {
        dir.clone()
    } else {
        std::env::current_dir()
            .map(|c| c.join(&dir))
            .unwrap_or(dir.clone())
    };
    match std::fs::metadata(&absolute) {
        Ok(meta) if meta.is_dir() => Ok(absolute.canonicalize().unwrap_or(absolute)),
        Ok(_) => Err(Failure::usage(format!(
            "--dir {}: is a file, not a directory",
            dir.display()
        ))),
        Err(_) => match absolute.parent() {
            Some(parent) if parent.is_dir() => Ok(absolute),
            _ => Err(Failure::usage(format!(
                "--dir {}: neither it nor its parent directory exists",
                dir.display()
            ))),
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::protocol::SessionStatus;

    #[test]
    fn a_session_s_end_and_the_constants_give_the_same_codes() {
        assert_eq!(SessionStatus::Succeeded.exit_code(), OK);
        assert_eq!(SessionStatus::Failed.exit_code(), FAILED);
        for status in [
            SessionStatus::Interrupted,
            SessionStatus::Cancelled,
            SessionStatus::PausedBudget,
        ] {
            assert_eq!(status.exit_code(), INTERRUPTED, "{status:?}");
        }
    }

    #[test]
    fn a_lock_held_elsewhere_is_exit_4_and_a_linked_state_dir_exit_1() {
        let in_use = Failure::from(StateError::InUse {
            path: PathBuf::from("/d/.quorum"),
            pid: "12".into(),
        });
        assert_eq!(in_use.code, IN_USE);
        assert!(in_use.message.contains("pid 12"), "{}", in_use.message);
        let linked = Failure::from(StateError::Symlink {
            path: PathBuf::from("/d/.quorum"),
        });
        assert_eq!(linked.code, FAILED);
    }

    #[test]
    fn dir_must_be_a_directory_or_a_new_child_of_one() {
        let root = tempfile::tempdir().unwrap();
        let global = |dir: PathBuf| Global {
            config: None,
            dir: Some(dir),
            state_dir: None,
            theme: None,
            offline: false,
            no_setup_network: false,
            allow_unconfined_tests: false,
            verbose: 0,
            quiet: false,
        };
        let real = root.path().canonicalize().unwrap();
        assert_eq!(target_dir(&global(root.path().into())).unwrap(), real);
        let fresh = root.path().join("new");
        assert_eq!(target_dir(&global(fresh.clone())).unwrap(), fresh);
        let file = root.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let failure = target_dir(&global(file)).unwrap_err();
        assert_eq!(failure.code, USAGE);
        assert!(failure.message.contains("is a file"), "{}", failure.message);
        let failure = target_dir(&global(root.path().join("a/b"))).unwrap_err();
        assert_eq!(failure.code, USAGE);
        assert!(failure.message.contains("neither it nor its parent"));
    }
}
