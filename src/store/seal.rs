//! The db's seal: a small file beside the db directory (`<db>.seal`, by
//! default `DIR/.quorum/db.seal`) that says the db is quorum's, and names the
//! last event made durable and the size of sled's data file (`<db>/db`) right
//! after that flush.
//!
//! sled recovers a data file that was cut short as if a crash had torn its
//! tail — silently dropping flushed data — and any open may rewrite parts of
//! the file. The seal lets [`super::Store::open`] check *before* sled touches
//! the real db: when the data file is shorter than sealed, or when there is no
//! seal at all (a db of an older quorum, or not quorum's), the db is first
//! opened as a *copy* in the temp directory, where it must be a quorum db and
//! hold the sealed event. A short file that passes merely had free segments
//! reclaimed by sled. One that fails is refused, naming the db, which is left
//! byte-for-byte as it was.
//!
//! Written by the committer after each flush that made events durable, by
//! `Store::open` when there is none, and by `Store::remove_session` (without
//! an event); atomically (a temporary file renamed over the seal), without
//! fsync: a seal lost in a power cut only costs one check of a copy.

use std::path::{Path, PathBuf};

use super::StoreError;
use crate::protocol::SessionId;

/// The seal format this build writes; a seal of a higher version means a
/// newer quorum wrote the db.
const VERSION: u32 = 1;

/// What the seal records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seal {
    /// The data file's size in bytes when the seal was written.
    pub size: u64,
    /// The session and seq of the last durable event, if one was sealed.
    pub last: Option<(String, u64)>,
}

/// What is found where the seal should be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Found {
    /// No seal, or one that does not parse.
    None,
    /// A seal of this build's format.
    Seal(Seal),
    /// A seal of a newer format (its version).
    Newer(u32),
}

/// The seal of the db at `db`: `<db>.seal`.
pub fn path(db: &Path) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push(".seal");
    db.with_file_name(name)
}

fn data_file(db: &Path) -> PathBuf {
    db.join("db")
}

/// Seals the db at `db` at its current size, naming `last` (session, seq) as
/// its last durable event, or no event.
///
/// Errors: the seal could not be written (the caller may ignore it: a
/// missing seal only costs a check of a copy on the next open).
pub fn write(db: &Path, last: Option<(&SessionId, u64)>) -> std::io::Result<()> {
    let size = std::fs::metadata(data_file(db)).map_or(0, |m| m.len());
    let (session, seq) = last.map_or(("-".to_string(), 0), |(s, n)| (s.to_string(), n));
    let seal = path(db);
    let tmp = seal.with_extension("seal.tmp");
    std::fs::write(
        &tmp,
        format!("quorum-seal {VERSION}\n{size}\n{session}\n{seq}\n"),
    )?;
    std::fs::rename(&tmp, &seal)
}

/// Reads the seal.
pub fn read(db: &Path) -> Found {
    let Ok(text) = std::fs::read_to_string(path(db)) else {
        return Found::None;
    };
    let mut lines = text.lines();
    let version = lines
        .next()
        .and_then(|l| l.strip_prefix("quorum-seal "))
        .and_then(|v| v.parse::<u32>().ok());
    match version {
        Some(v) if v > VERSION => return Found::Newer(v),
        Some(_) => {}
        None => return Found::None,
    }
    let parsed = (|| {
        let size = lines.next()?.parse().ok()?;
        let session = lines.next()?.to_string();
        let seq = lines.next()?.parse().ok()?;
        Some(Seal {
            size,
            last: (session != "-").then_some((session, seq)),
        })
    })();
    parsed.map_or(Found::None, Found::Seal)
}

/// Removes the seal.
pub fn remove(db: &Path) {
    let _ = std::fs::remove_file(path(db));
}

/// Copies the db directory `from` to `to` (files and subdirectories, as
/// sled lays them out).
fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Checks the db at `db` against its seal before sled opens it (see the
/// module comment). Never writes to `db`; may remove a seal whose db is gone.
///
/// Errors: [`StoreError::Foreign`] naming the db when a newer quorum sealed
/// it, when it is not a quorum db, or when its data file was truncated or is
/// corrupt.
pub fn verify(db: &Path) -> Result<(), StoreError> {
    let found = read(db);
    if !db.exists() {
        // No db (yet, or any more): sled creates a new one.
        remove(db);
        return Ok(());
    }
    let size = std::fs::metadata(data_file(db)).map_or(0, |m| m.len());
    let want = match found {
        Found::Newer(version) => {
            return Err(StoreError::Foreign {
                path: db.to_path_buf(),
                problem: format!(
                    "was written by a newer quorum (seal version {version}, this quorum's {VERSION})"
                ),
            });
        }
        Found::Seal(seal) if size >= seal.size => return Ok(()),
        Found::Seal(seal) => Some((seal, size)),
        Found::None => None,
    };
    check_copy(db, want)
}

/// Opens a copy of the db and checks it is quorum's and holds the sealed
/// event (when `want` names a seal, with the data file's current size).
fn check_copy(db: &Path, want: Option<(Seal, u64)>) -> Result<(), StoreError> {
    let problem = |why: String| match &want {
        Some((seal, size)) => {
            let event = seal.last.as_ref().map_or(String::new(), |(session, seq)| {
                format!(" when event {seq} of session {session} was made durable")
            });
            format!(
                "is truncated or corrupt: its data file {} holds {size} bytes, {} bytes{event}, and {why}",
                data_file(db).display(),
                seal.size,
            )
        }
        None => format!("is corrupt: {why}"),
    };
    let copy = std::env::temp_dir().join(format!(
        "quorum-db-check-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    let checked = (|| -> Result<(), String> {
        copy_dir(db, &copy).map_err(|e| format!("it could not be copied for a check ({e})"))?;
        let store = match super::Store::open_unchecked(&copy) {
            Ok(store) => store,
            // Not quorum's, or a newer quorum's: that problem, as it is.
            Err(StoreError::Foreign { problem, .. }) => return Err(problem),
            Err(StoreError::Open { source, .. }) => {
                return Err(problem(format!("sled cannot read it ({source})")));
            }
            Err(other) => return Err(problem(format!("it does not open ({other})"))),
        };
        if let Some((seal, _)) = &want
            && let Some((session, seq)) = &seal.last
        {
            // The events tree's key: session id ‖ seq (u64 BE), as `seq_key` makes it.
            let mut key = session.as_bytes().to_vec();
            key.extend_from_slice(&seq.to_be_bytes());
            let present = store
                .events
                .contains_key(key)
                .map_err(|e| problem(format!("a copy of it cannot be read ({e})")))?;
            if !present {
                return Err(problem("that event is gone".into()));
            }
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&copy);
    checked.map_err(|problem| StoreError::Foreign {
        path: db.to_path_buf(),
        problem,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn seals_round_trip_and_bad_or_newer_ones_are_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        std::fs::create_dir(&db).unwrap();
        std::fs::write(db.join("db"), vec![0u8; 100]).unwrap();
        let s = SessionId::new();
        write(&db, Some((&s, 7))).unwrap();
        assert_eq!(path(&db), dir.path().join("db.seal"));
        assert_eq!(
            read(&db),
            Found::Seal(Seal {
                size: 100,
                last: Some((s.to_string(), 7))
            })
        );
        write(&db, None).unwrap();
        assert_eq!(
            read(&db),
            Found::Seal(Seal {
                size: 100,
                last: None
            })
        );
        std::fs::write(path(&db), "garbage").unwrap();
        assert_eq!(read(&db), Found::None);
        std::fs::write(path(&db), "quorum-seal 9\n1\n-\n0\n").unwrap();
        assert_eq!(read(&db), Found::Newer(9));
        let err = verify(&db).unwrap_err();
        assert!(err.to_string().contains("newer quorum"), "{err}");
        remove(&db);
        assert!(!path(&db).exists());
    }
}
