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
    /// The state directory, or one of quorum's entries in it (`db`,
    /// `db.seal`, `logs`, `work`, `lock`, `.gitignore`), is a symbolic link:
    /// quorum never follows one there, so that nothing it writes lands
    /// elsewhere (issue 17).
    #[error(
        "{path} is a symbolic link; quorum never follows one for its state (remove it, or name a real directory with --state-dir)"
    )]
    Symlink {
        /// The link (DIR/.quorum, `--state-dir` or an entry in it).
        path: PathBuf,
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

/// quorum's entries in a state directory, none of which may be a symbolic link.
const ENTRIES: [&str; 6] = ["db", "db.seal", "logs", "work", "lock", ".gitignore"];

/// Makes `options` refuse to open a symbolic link (`O_NOFOLLOW`, on Unix).
fn no_follow(options: &mut std::fs::OpenOptions) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.custom_flags(libc::O_NOFOLLOW);
    }
    #[cfg(not(unix))]
    let _ = options;
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

    /// Refuses a state directory that is a symbolic link, or holds one where
    /// quorum keeps its entries (`db`, `db.seal`, `logs`, `work`, `lock`,
    /// `.gitignore`); looked at with `symlink_metadata`, never followed. An
    /// absent directory passes (it is created by [`StateDir::open`]).
    ///
    /// Errors: [`StateError::Symlink`] naming the link; [`StateError::Io`]
    /// when `root` exists and is not a directory.
    pub fn check(root: &Path) -> Result<(), StateError> {
        let is_link = |p: &Path| {
            std::fs::symlink_metadata(p)
                .map(|m| m.file_type().is_symlink())
                .unwrap_or(false)
        };
        if is_link(root) {
            return Err(StateError::Symlink {
                path: root.to_path_buf(),
            });
        }
        match std::fs::symlink_metadata(root) {
            Ok(meta) if !meta.is_dir() => {
                return Err(StateError::Io {
                    path: root.to_path_buf(),
                    source: std::io::Error::other("it is not a directory"),
                });
            }
            _ => {}
        }
        for entry in ENTRIES {
            let path = root.join(entry);
            if is_link(&path) {
                return Err(StateError::Symlink { path });
            }
        }
        Ok(())
    }

    /// Creates the directory (with its `.gitignore` of `*`, when absent) and takes
    /// the lock, writing this process's pid into it. Neither the directory nor
    /// its entries may be symbolic links ([`StateDir::check`], before and
    /// after creating it); the `.gitignore` and the lock are opened with
    /// `O_NOFOLLOW` besides.
    pub fn open(root: &Path) -> Result<StateDir, StateError> {
        let io = |source| StateError::Io {
            path: root.to_path_buf(),
            source,
        };
        StateDir::check(root)?;
        std::fs::create_dir_all(root).map_err(io)?;
        StateDir::check(root)?;
        let ignore = root.join(".gitignore");
        if std::fs::symlink_metadata(&ignore).is_err() {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            no_follow(&mut options);
            let mut file = options.open(&ignore).map_err(io)?;
            file.write_all(b"*\n").map_err(io)?;
        }
        let lock_path = root.join("lock");
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        no_follow(&mut options);
        let mut lock = options.open(&lock_path).map_err(io)?;
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

    #[cfg(unix)]
    #[test]
    fn a_linked_state_directory_or_entry_is_refused_and_never_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let root = StateDir::location(dir.path(), None);
        std::os::unix::fs::symlink(outside.path(), &root).unwrap();
        let err = StateDir::open(&root).unwrap_err();
        assert!(
            matches!(&err, StateError::Symlink { path } if path == &root),
            "{err}"
        );
        assert!(err.to_string().contains(root.to_str().unwrap()), "{err}");
        assert!(err.to_string().contains("symbolic link"), "{err}");
        // A dangling link too: nothing is created at its target.
        std::fs::remove_file(&root).unwrap();
        let target = outside.path().join("made");
        std::os::unix::fs::symlink(&target, &root).unwrap();
        assert!(matches!(
            StateDir::open(&root),
            Err(StateError::Symlink { .. })
        ));
        assert!(!target.exists());
        assert!(std::fs::read_dir(outside.path()).unwrap().next().is_none());

        // A real directory whose entries are links.
        std::fs::remove_file(&root).unwrap();
        std::fs::create_dir(&root).unwrap();
        for entry in ENTRIES {
            let link = root.join(entry);
            std::os::unix::fs::symlink(outside.path().join(entry), &link).unwrap();
            let err = StateDir::open(&root).unwrap_err();
            assert!(
                matches!(&err, StateError::Symlink { path } if path == &link),
                "{err}"
            );
            std::fs::remove_file(&link).unwrap();
        }
        assert!(std::fs::read_dir(outside.path()).unwrap().next().is_none());
        // A file where the directory should be.
        let file = dir.path().join("plain");
        std::fs::write(&file, "x").unwrap();
        assert!(matches!(StateDir::open(&file), Err(StateError::Io { .. })));
        StateDir::open(&root).unwrap();
    }
}
