//! The state directory of a target directory: `DIR/.quorum/` by default, or
//! `--state-dir`. It holds the sled db, the logs, the scratch trees and a pid
//! lock, and a `.gitignore` of `*` so that none of it is ever committed.
//!
//! Invariant: while a [`StateDir`] value lives, this process holds an exclusive
//! advisory lock on `<state>/lock`; a second quorum gets [`StateError::InUse`]
//! naming the pid (exit code 4), never a half-opened db.
//!
//! The lock is `flock(2)`: the kernel lets it go when its holder exits in any
//! way (SIGKILL included), so a dead owner never keeps DIR locked, and a lock
//! file left behind names a pid that nobody trusts without the lock being
//! held. The file holds the holder's pid on its first line and, once a
//! session runs, that session's id on the second ([`note_session`]), so that
//! readers tell the running session from ones a dead owner left without an
//! end ([`holder`]; `sessions list` shows those `interrupted`).
//!
//! DIR's own lock: a process that writes DIR (a session, `undo`, `rm`,
//! `push`) also locks `DIR/.quorum/lock` when its state directory is
//! elsewhere (`--state-dir`), so that two quorums on one DIR are refused
//! whatever their state directories ([`StateDir::open_in`]). That file lives
//! in `DIR/.quorum/`, whose `.gitignore` of `*` keeps it out of `git status`
//! (a lock in `.git/` would need DIR to be a repository, which it is not
//! before the first delivery, and would be shared by every DIR of one
//! repository).

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
    /// `DIR/.quorum/lock` when the state directory is elsewhere.
    _dir_lock: Option<File>,
}

/// Who holds a state directory's lock, as its lock file names them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Holder {
    /// The holder's process id (the file's first line), when it parses.
    pub pid: Option<u32>,
    /// The session it runs (the second line), once one started.
    pub session: Option<String>,
    /// Whether that pid is a live quorum: `false` when the process is gone,
    /// or its pid was reused by another program (on Linux its
    /// `/proc/PID/exe` has another file name than this program's). The lock
    /// is then held by a process it left behind.
    pub alive: bool,
}

/// The lock file of the state directory `root`.
pub fn lock_path(root: &Path) -> PathBuf {
    root.join("lock")
}

/// Parses a lock file's text: the pid on the first line, the session on
/// the second.
fn parse_lock(text: &str) -> (Option<u32>, Option<String>) {
    let mut lines = text.lines().map(str::trim);
    let pid = lines.next().and_then(|l| l.parse().ok());
    let session = lines.next().filter(|l| !l.is_empty()).map(str::to_string);
    (pid, session)
}

/// Whether `pid` is a live process running this program (see
/// [`Holder::alive`]). `kill(pid, 0)` answers whether it exists (EPERM: it
/// does, under another user).
pub fn quorum_alive(pid: u32) -> bool {
    let Ok(raw) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists; nothing is sent.
    let exists = unsafe { libc::kill(raw, 0) } == 0
        || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    if !exists {
        return false;
    }
    let name = |p: PathBuf| p.file_name().map(|n| n.to_os_string());
    match (
        std::fs::read_link(format!("/proc/{pid}/exe")).ok(),
        std::env::current_exe().ok(),
    ) {
        // A program whose file was replaced shows ` (deleted)` after its name.
        (Some(theirs), Some(ours)) => match (name(theirs), name(ours)) {
            (Some(theirs), Some(ours)) => theirs
                .to_string_lossy()
                .trim_end_matches(" (deleted)")
                .eq(&*ours.to_string_lossy()),
            _ => true,
        },
        // Not Linux, or not ours to read: it exists, which is all we know.
        _ => true,
    }
}

/// Who holds the lock of the state directory `root`: `None` when no
/// process holds it (free, or its holder exited: the kernel let it go).
/// Looked at without taking it for longer than the look.
pub fn holder(root: &Path) -> Option<Holder> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    no_follow(&mut options);
    let mut file = options.open(lock_path(root)).ok()?;
    match file.try_lock_shared() {
        Ok(()) => return None,
        Err(std::fs::TryLockError::WouldBlock) => {}
        Err(std::fs::TryLockError::Error(_)) => return None,
    }
    let mut text = String::new();
    let _ = file.read_to_string(&mut text);
    let (pid, session) = parse_lock(&text);
    Some(Holder {
        pid,
        session,
        alive: pid.is_some_and(quorum_alive),
    })
}

/// Writes the session this process runs into the lock file of the state
/// directory `root` (second line, after the pid), so that readers tell it
/// from sessions left without an end ([`holder`]). The caller holds the
/// lock; a missing or linked lock file is left alone (a library use without
/// a [`StateDir`]). Best effort: a failure only makes readers show the
/// session `interrupted` while it runs.
pub fn note_session(root: &Path, session: &str) {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    no_follow(&mut options);
    let Ok(mut file) = options.open(lock_path(root)) else {
        return;
    };
    let text = format!("{}\n{session}\n", std::process::id());
    let _ = file
        .set_len(0)
        .and_then(|()| file.write_all(text.as_bytes()))
        .and_then(|()| file.flush());
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
        Ok(StateDir {
            root: root.to_path_buf(),
            _lock: StateDir::take(root)?,
            _dir_lock: None,
        })
    }

    /// [`StateDir::open`] for a process that writes DIR `dir`: when `root`
    /// is not `dir/.quorum` (`--state-dir`), `dir/.quorum/lock` is taken
    /// too (creating `dir/.quorum/` with its `.gitignore`), so that a
    /// second quorum on `dir` is refused whatever its state directory. A
    /// `dir` that cannot hold it (read-only, not ours to write, absent) is
    /// left unlocked: nothing can be delivered there either.
    ///
    /// Errors: those of [`StateDir::open`]; [`StateError::InUse`] naming
    /// `dir/.quorum` and the pid when another quorum holds `dir`.
    pub fn open_in(dir: &Path, root: &Path) -> Result<StateDir, StateError> {
        let mut state = StateDir::open(root)?;
        let own = StateDir::location(dir, None);
        let same = |a: &Path, b: &Path| {
            use std::os::unix::fs::MetadataExt as _;
            match (std::fs::metadata(a), std::fs::metadata(b)) {
                (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
                _ => false,
            }
        };
        if same(&own, root) || !dir.is_dir() {
            return Ok(state);
        }
        match StateDir::take(&own) {
            Ok(lock) => state._dir_lock = Some(lock),
            Err(StateError::Io { source, .. })
                if matches!(
                    source.kind(),
                    std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
                ) => {}
            Err(e) => return Err(e),
        }
        Ok(state)
    }

    /// Prepares `root` and takes its lock (see [`StateDir::open`]).
    fn take(root: &Path) -> Result<File, StateError> {
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
        let lock_file = lock_path(root);
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        no_follow(&mut options);
        let mut lock = options.open(&lock_file).map_err(io)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = lock.read_to_string(&mut text);
                let pid = match parse_lock(&text).0 {
                    Some(pid) if quorum_alive(pid) => pid.to_string(),
                    // The kernel drops a lock with its holder, so a held lock
                    // whose pid is gone is held by a process it left behind.
                    Some(pid) => format!(
                        "{pid}, which has exited: a process it started still holds {}",
                        lock_path(root).display()
                    ),
                    None => "unknown".into(),
                };
                return Err(StateError::InUse {
                    path: root.to_path_buf(),
                    pid,
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        lock.set_len(0).map_err(io)?;
        lock.rewind().map_err(io)?;
        writeln!(lock, "{}", std::process::id()).map_err(io)?;
        lock.flush().map_err(io)?;
        Ok(lock)
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

    #[test]
    fn a_second_quorum_on_one_dir_is_refused_whatever_its_state_dir() {
        let dir = tempfile::tempdir().unwrap();
        let states = tempfile::tempdir().unwrap();
        let first = StateDir::open_in(dir.path(), &states.path().join("one")).unwrap();
        let own = StateDir::location(dir.path(), None);
        assert_eq!(
            std::fs::read_to_string(own.join(".gitignore")).unwrap(),
            "*\n"
        );
        for root in [states.path().join("two"), own.clone()] {
            let err = StateDir::open_in(dir.path(), &root).unwrap_err();
            assert!(
                matches!(&err, StateError::InUse { path, pid }
                    if path == &own && pid == &std::process::id().to_string()),
                "{err}"
            );
        }
        // The refused one took nothing: its state directory is free.
        StateDir::open(&states.path().join("two")).unwrap();
        drop(first);
        // The default state directory is DIR's lock itself: one lock, taken once.
        let default = StateDir::open_in(dir.path(), &own).unwrap();
        assert!(default._dir_lock.is_none());
    }

    #[test]
    fn the_lock_names_its_live_holder_and_session_and_nobody_once_it_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let root = StateDir::location(dir.path(), None);
        assert_eq!(holder(&root), None, "no lock file yet");
        let state = StateDir::open(&root).unwrap();
        let me = std::process::id();
        assert_eq!(
            holder(&root),
            Some(Holder {
                pid: Some(me),
                session: None,
                alive: true
            })
        );
        note_session(&root, "0123456789ab");
        assert_eq!(
            holder(&root).unwrap().session.as_deref(),
            Some("0123456789ab")
        );
        assert_eq!(parse_lock("12\nabc\n"), (Some(12), Some("abc".to_string())));
        assert_eq!(parse_lock(""), (None, None));
        drop(state);
        // The kernel let the lock go with its holder; the file stays behind.
        assert!(lock_path(&root).exists());
        assert_eq!(holder(&root), None);
    }

    #[test]
    fn a_pid_is_a_live_quorum_only_while_it_runs_this_program() {
        assert!(quorum_alive(std::process::id()));
        let mut other = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        // Another program under that pid (a pid reused): not a quorum.
        assert!(!quorum_alive(other.id()));
        other.kill().unwrap();
        other.wait().unwrap();
        // Gone.
        assert!(!quorum_alive(other.id()));
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
