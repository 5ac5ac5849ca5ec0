//! A read-only copy of a db that another quorum has open: how `quorum
//! sessions list|show|export` read DIR's sessions while a session runs
//! there (issue 18: read-only commands never exit 4).
//!
//! Why a copy: sled 0.34 takes an exclusive lock on its data file for as
//! long as a process has the db open and has no read-only mode, so no
//! second process can open it. The session index ([`super::index`]) holds
//! summaries only, and only those of sessions closed before the running
//! process opened the db; events, transcripts and records live in sled alone.
//!
//! How: the transcript journal (`<db>.journal`) is copied first, then the
//! db directory, into a fresh directory under the system's temporary
//! directory (`$TMPDIR`); sled opens the copy and recovers it as it would
//! after a crash (a write torn by the copy is cut, as a torn tail is); the
//! journal's lines above the mark the copy holds are applied, as
//! [`super::Store::open`] does after a crash. The copy is checked against
//! the seal ([`super::seal`]) read before it was taken: the running process
//! writes the seal after each flush that made events durable, so every
//! session's sealed last event must be in the copy. A copy that fails the
//! check (taken in the middle of a write that sled's recovery cannot tell
//! from a complete one) is taken again, at most [`ATTEMPTS`] times. Nothing
//! is written to the real db, its seal, index or journal; the copy is
//! removed when the [`Snapshot`] is dropped.
//!
//! Cost: one copy of the db's files (a session's db is a few hundred KB;
//! `std::fs::copy` uses the kernel's `copy_file_range` where it can).

use std::path::{Path, PathBuf};

use super::{Store, StoreError, journal, seal};

/// Copies taken before giving up.
pub const ATTEMPTS: usize = 5;

/// Removes the copy's directory when dropped (after the store on it).
#[derive(Debug)]
struct Copy(PathBuf);

impl Drop for Copy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A consistent copy of a db, open read-only (nothing writes to it but
/// sled's own recovery and the journal's replay).
pub struct Snapshot {
    store: Store,
    // After `store`: fields drop in order, so sled lets the copy go before
    // its directory is removed.
    _copy: Copy,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("copy", &self._copy.0)
            .finish()
    }
}

impl Snapshot {
    /// Takes a copy of the db at `db` (which another process may have open
    /// and be writing) and opens it; see the module's docs.
    ///
    /// Errors: [`StoreError::Corrupt`] when the seal was altered;
    /// [`StoreError::Foreign`] when the db is a newer quorum's or not
    /// quorum's; [`StoreError::Busy`] when no copy of [`ATTEMPTS`] was
    /// consistent, or the copy cannot be made (the temporary directory is
    /// full or not writable).
    pub fn take(db: &Path) -> Result<Snapshot, StoreError> {
        let mut last = String::new();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                std::thread::sleep(std::time::Duration::from_millis(20 * attempt as u64));
            }
            match Snapshot::attempt(db) {
                Ok(snapshot) => return Ok(snapshot),
                Err(Problem::Fatal(e)) => return Err(e),
                Err(Problem::Retry(why)) => last = why,
            }
        }
        Err(StoreError::Busy(format!(
            "no consistent copy of the state db {} could be read while another quorum writes it ({last}); try again",
            db.display()
        )))
    }

    /// The copy's store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    fn attempt(db: &Path) -> Result<Snapshot, Problem> {
        let sealed = match seal::read(db) {
            seal::Found::Seal(seal) => Some(seal),
            seal::Found::None => None,
            seal::Found::Newer(version) => {
                return Err(Problem::Fatal(StoreError::Foreign {
                    path: db.to_path_buf(),
                    problem: format!("was written by a newer quorum (seal version {version})"),
                }));
            }
            seal::Found::Corrupt(why) => {
                return Err(Problem::Fatal(StoreError::Corrupt {
                    path: db.to_path_buf(),
                    problem: format!(
                        "is corrupt: its seal {} was altered ({why})",
                        seal::path(db).display()
                    ),
                }));
            }
        };
        let root = std::env::temp_dir().join(format!(
            "quorum-db-read-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        let copy = Copy(root);
        let into = copy.0.join("db");
        let io = |e: std::io::Error| {
            Problem::Fatal(StoreError::Busy(format!(
                "cannot copy the state db {} to {} to read it: {e}",
                db.display(),
                copy.0.display()
            )))
        };
        std::fs::create_dir_all(&copy.0).map_err(io)?;
        // The journal before the db: lines it holds that a flush took over
        // meanwhile are in the db's copy under a mark at least as high, and
        // are not applied twice.
        match std::fs::copy(journal::path(db), journal::path(&into)) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
        seal::copy_dir(db, &into).map_err(io)?;
        let store = match Store::open_unchecked(&into) {
            Ok(store) => store,
            Err(StoreError::Foreign { problem, .. }) => {
                return Err(Problem::Fatal(StoreError::Foreign {
                    path: db.to_path_buf(),
                    problem,
                }));
            }
            Err(e) => return Err(Problem::Retry(format!("the copy does not open: {e}"))),
        };
        if let Some(seal) = &sealed {
            for (session, seq) in &seal.sessions {
                let last = match store.events.scan_prefix(session.as_bytes()).next_back() {
                    Some(Ok((key, _))) => key
                        .get(session.len()..)
                        .and_then(|b| <[u8; 8]>::try_from(b).ok())
                        .map_or(0, u64::from_be_bytes),
                    Some(Err(e)) => {
                        return Err(Problem::Retry(format!("the copy reads badly: {e}")));
                    }
                    None => 0,
                };
                if last < *seq {
                    return Err(Problem::Retry(format!(
                        "the copy holds event {last} of session {session}, {seq} were durable"
                    )));
                }
            }
        }
        store
            .replay_journal()
            .map_err(|e| Problem::Retry(format!("its journal does not apply: {e}")))?;
        Ok(Snapshot { store, _copy: copy })
    }
}

/// Why one copy failed.
enum Problem {
    /// For good (the db is foreign, the seal altered, no room for a copy).
    Fatal(StoreError),
    /// This copy only: taken again.
    Retry(String),
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::protocol::{EventBody, LoggedEvent, SessionId};
    use crate::store::Write;

    #[test]
    fn a_db_held_open_by_a_writer_is_read_through_a_copy_that_is_then_removed() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        let store = Store::open(&db).unwrap();
        let session = SessionId::new();
        let mut writes = vec![Write::Session(crate::store::SessionRecord {
            id: session.clone(),
            prompt: "p".into(),
            dir: "/d".into(),
            workflow: "default".into(),
            created_at: "2026-01-05T14:02:03Z".into(),
            updated_at: "2026-01-05T14:02:03Z".into(),
            status: None,
            phase: "refine".into(),
            tokens_in: 0,
            tokens_out: 0,
            cost_usd: 0.0,
            commit: None,
            last_seq: 3,
            offline: true,
        })];
        for seq in 1..=3 {
            writes.push(Write::Event(LoggedEvent {
                v: crate::protocol::SCHEMA_VERSION,
                seq,
                session: session.clone(),
                at: String::new(),
                body: EventBody::PhaseStarted {
                    phase: format!("p{seq}"),
                    kind: "single".into(),
                },
            }));
        }
        store.apply(&writes).unwrap();
        store.flush().unwrap();
        store.seal_durable(&session, 3);
        // The writer still holds sled's lock: the db itself cannot be opened.
        assert!(Store::open_unchecked(&db).is_err());
        let snapshot = Snapshot::take(&db).unwrap();
        let copy = snapshot._copy.0.clone();
        assert!(copy.is_dir());
        assert_eq!(snapshot.store().events(&session).unwrap().len(), 3);
        assert_eq!(snapshot.store().sessions().unwrap().len(), 1);
        drop(snapshot);
        assert!(!copy.exists(), "the copy is removed");
        // The writer goes on, unharmed.
        store.apply(&writes[..1]).unwrap();
        store.flush().unwrap();
    }
}
