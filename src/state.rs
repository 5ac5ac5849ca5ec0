//! The state directory of a target directory: `DIR/.quorum/` by default, or
//! `--state-dir`. It holds the sled db, the logs, the scratch trees and a pid
//! lock, and a `.gitignore` of `*` so that none of it is ever committed.
//!
//! Invariant: while a [`StateDir`] value lives, this process holds an exclusive
//! advisory lock on `<state>/lock`; a second quorum gets [`StateError::InUse`]
//! naming the pid (exit code 4), never a half-opened db.

use std::fs::File;
use std::io::{Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};

/// Why the state directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Another quorum holds the lock.
    #[error("{path} is in use by another quorum (pid {pid})")]
    InUse {
        /// The locked state directory (DIR/.quorum or `--state-dir`).
        path: PathBuf,
        /// The holder's process id as read from `<state>/lock`, or `unknown` when it is empty.
        pid: String,
    },
    /// A file system error.
    #[error("cannot prepare the state directory {path}: {source}")]
    Io {
        /// The state directory being prepared.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
}

/// An open, locked state directory.
#[derive(Debug)]
pub struct StateDir {
    root: PathBuf,
    _lock: File,
}

impl StateDir {
    /// Where the state of `dir` lives: `override_dir` when given, else `dir/.quorum`.
    pub fn location(dir: &Path, override_dir: Option<&Path>) -> PathBuf {
        override_dir
            .map(Path::to_path_buf)
            .unwrap_or_else(|| dir.join(".quorum"))
    }

    /// Creates the directory (with its `.gitignore` of `*`, when absent) and takes
    /// the lock, writing this process's pid into it.
    pub fn open(root: &Path) -> Result<StateDir, StateError> {
        let io = |source| StateError::Io {
            path: root.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(root).map_err(io)?;
        let ignore = root.join(".gitignore");
        if !ignore.exists() {
            std::fs::write(&ignore, "*\n").map_err(io)?;
        }
        let lock_path = root.join("lock");
        let mut lock = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(io)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut pid = String::new();
                let _ = lock.read_to_string(&mut pid);
                let pid = pid.trim();
                return Err(StateError::InUse {
                    path: root.to_path_buf(),
                    pid: if pid.is_empty() {
                        "unknown".into()
                    } else {
                        pid.to_string()
                    },
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        lock.set_len(0).map_err(io)?;
        lock.rewind().map_err(io)?;
        write!(lock, "{}", std::process::id()).map_err(io)?;
        lock.flush().map_err(io)?;
        Ok(StateDir {
            root: root.to_path_buf(),
            _lock: lock,
        })
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The sled db's directory.
    pub fn db_path(&self) -> PathBuf {
        self.root.join("db")
    }

    /// Where session logs go.
    pub fn logs_dir(&self) -> PathBuf {
        self.root.join("logs")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn a_second_open_names_the_holder_and_the_first_drop_frees_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = StateDir::location(dir.path(), None);
        let first = StateDir::open(&root).unwrap();
        assert_eq!(
            std::fs::read_to_string(root.join(".gitignore")).unwrap(),
            "*\n"
        );
        let err = StateDir::open(&root).unwrap_err();
        assert!(
            err.to_string().contains(&std::process::id().to_string()),
            "{err}"
        );
        drop(first);
        StateDir::open(&root).unwrap();
    }
}
