//! The db's seal: a small file beside the db directory (`<db>.seal`, by
//! default `DIR/.quorum/db.seal`) that says the db is quorum's and records
//! what was last made durable: the size of sled's data file (`<db>/db`)
//! after the last flush, the last durable event, every session's last
//! durable event seq, and — when the last process let the db go cleanly —
//! the length and CRC-32 of every file of the db directory. The seal ends
//! with a CRC-32 of its own text, so a seal that was altered is told apart
//! from one that is missing.
//!
//! sled recovers a data file that was cut short as if a crash had torn its
//! tail — silently dropping flushed data — reads a flipped bit as other data
//! or as a torn tail, recreates a missing `conf`, and any open may rewrite
//! parts of the files. The seal lets [`super::Store::open`] check *before*
//! sled touches the real db ([`verify`]):
//! * a db closed cleanly must be byte for byte as it was closed: every file
//!   listed with its length and CRC (reading the files once: O(db size), a
//!   few ms for a session's db of a few hundred KB; sled itself reads its
//!   whole page table at open). Only sled's own truncation of free segments
//!   at the data file's end, which can land after its last handle went, is
//!   let through, to the next check;
//! * a db left open (a crash), cut short, or without a seal (an older
//!   quorum's) is opened as a *copy* in the temp directory, where it must be
//!   a quorum db and hold every sealed session's last durable event (a
//!   rollback loses one);
//! * `conf` and `db` must exist.
//!
//! A db that fails is refused as corrupt ([`StoreError::Corrupt`], exit 2),
//! naming the file, and left byte for byte as it was.
//!
//! Written by `Store::open` after the check and before sled opens (state
//! `open`: no file sums), by the committer after each flush that made events
//! durable (O(sessions): one line per session), by `Store::remove_session`,
//! and when the last handle on the store goes (state `closed`, with the file
//! sums); atomically (a temporary file renamed over the seal), without
//! fsync: a seal lost in a power cut only costs one check of a copy.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::StoreError;

/// The seal format this build writes; a seal of a higher version means a
/// newer quorum wrote the db. Version 1 (no checksum, no sessions, no file
/// sums) is still read.
const VERSION: u32 = 2;

/// One file of the db directory when the db was closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileSum {
    /// Its path relative to the db directory (`db`, `conf`, `blobs/…`).
    pub name: String,
    /// Its length in bytes.
    pub len: u64,
    /// The CRC-32 (IEEE) of its bytes.
    pub crc: u32,
}

/// What the seal records.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Seal {
    /// The data file's size in bytes when the seal was written.
    pub size: u64,
    /// The session and seq of the last durable event, if one was sealed.
    pub last: Option<(String, u64)>,
    /// Every session's last durable event seq, by session id.
    pub sessions: BTreeMap<String, u64>,
    /// The files of the db directory when the last process let it go
    /// cleanly; `None` while a process has it open (or after a crash).
    pub closed: Option<Vec<FileSum>>,
}

/// What is found where the seal should be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Found {
    /// No seal.
    None,
    /// A seal of this build's format (or version 1).
    Seal(Seal),
    /// A seal of a newer format (its version).
    Newer(u32),
    /// A seal that was altered: what is wrong with it.
    Corrupt(String),
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

/// The size of the data file `<db>/db` in bytes (0 when missing).
pub fn data_size(db: &Path) -> u64 {
    std::fs::metadata(data_file(db)).map_or(0, |m| m.len())
}

/// Every file under the db directory, relative and sorted.
fn files(db: &Path) -> std::io::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec![(db.to_path_buf(), String::new())];
    while let Some((dir, rel)) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push((entry.path(), rel));
            } else if kind.is_file() {
                out.push(rel);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The length and CRC-32 of one file.
fn sum(file: &Path) -> std::io::Result<(u64, u32)> {
    let bytes = std::fs::read(file)?;
    Ok((bytes.len() as u64, crc32fast::hash(&bytes)))
}

/// The sums of every file of the db directory, read twice over when a file
/// changed length meanwhile (sled truncating its free segments); `None`
/// when it keeps changing or cannot be read.
pub fn sums(db: &Path) -> Option<Vec<FileSum>> {
    for _ in 0..3 {
        let mut out = Vec::new();
        let mut steady = true;
        for name in files(db).ok()? {
            let file = db.join(&name);
            let (len, crc) = sum(&file).ok()?;
            steady &= std::fs::metadata(&file).ok()?.len() == len;
            out.push(FileSum { name, len, crc });
        }
        if steady {
            return Some(out);
        }
    }
    None
}

impl Seal {
    /// The seal's text, its own CRC-32 last.
    fn encode(&self) -> String {
        let mut text = format!("quorum-seal {VERSION}\nsize {}\n", self.size);
        match &self.last {
            Some((session, seq)) => text.push_str(&format!("last {session} {seq}\n")),
            None => text.push_str("last -\n"),
        }
        for (session, seq) in &self.sessions {
            text.push_str(&format!("session {session} {seq}\n"));
        }
        match &self.closed {
            Some(files) => {
                text.push_str("state closed\n");
                for f in files {
                    text.push_str(&format!("file {:08x} {} {}\n", f.crc, f.len, f.name));
                }
            }
            None => text.push_str("state open\n"),
        }
        let crc = crc32fast::hash(text.as_bytes());
        text.push_str(&format!("crc32 {crc:08x}\n"));
        text
    }

    /// Parses a version-2 body (the lines between the version and the CRC).
    fn decode(lines: &[&str]) -> Option<Seal> {
        let mut seal = Seal::default();
        let mut state = None;
        for line in lines {
            let (key, rest) = line.split_once(' ')?;
            match key {
                "size" => seal.size = rest.parse().ok()?,
                "last" if rest == "-" => seal.last = None,
                "last" => {
                    let (session, seq) = rest.split_once(' ')?;
                    seal.last = Some((session.to_string(), seq.parse().ok()?));
                }
                "session" => {
                    let (session, seq) = rest.split_once(' ')?;
                    seal.sessions.insert(session.to_string(), seq.parse().ok()?);
                }
                "state" => state = Some(rest == "closed"),
                "file" => {
                    let mut parts = rest.splitn(3, ' ');
                    let crc = u32::from_str_radix(parts.next()?, 16).ok()?;
                    let len = parts.next()?.parse().ok()?;
                    let name = parts.next()?.to_string();
                    seal.closed
                        .get_or_insert_with(Vec::new)
                        .push(FileSum { name, len, crc });
                }
                _ => return None,
            }
        }
        match state? {
            true => {
                seal.closed.get_or_insert_with(Vec::new);
            }
            false if seal.closed.is_some() => return None,
            false => {}
        }
        Some(seal)
    }
}

/// Seals the db at `db` as open (no file sums): its data file's current
/// size, `last` as its last durable event, `sessions` as every session's
/// last durable seq.
///
/// Errors: the seal could not be written.
pub fn write(
    db: &Path,
    last: Option<(String, u64)>,
    sessions: &BTreeMap<String, u64>,
) -> std::io::Result<()> {
    store(
        db,
        &Seal {
            size: data_size(db),
            last,
            sessions: sessions.clone(),
            closed: None,
        },
    )
}

/// Seals the db at `db` as closed: as [`write`], with every file's length
/// and CRC-32 (falls back to an open seal when the files keep changing).
///
/// Errors: the seal could not be written.
pub fn write_closed(
    db: &Path,
    last: Option<(String, u64)>,
    sessions: &BTreeMap<String, u64>,
) -> std::io::Result<()> {
    let closed = sums(db);
    store(
        db,
        &Seal {
            size: data_size(db),
            last,
            sessions: sessions.clone(),
            closed,
        },
    )
}

fn store(db: &Path, seal: &Seal) -> std::io::Result<()> {
    let file = path(db);
    let tmp = file.with_extension("seal.tmp");
    std::fs::write(&tmp, seal.encode())?;
    std::fs::rename(&tmp, &file)
}

/// Reads the seal.
pub fn read(db: &Path) -> Found {
    let bytes = match std::fs::read(path(db)) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Found::None,
        Err(e) => return Found::Corrupt(format!("it cannot be read ({e})")),
    };
    let Ok(text) = String::from_utf8(bytes) else {
        return Found::Corrupt("it is not text".into());
    };
    // The CRC line covers every byte before it.
    let body_end = text.trim_end_matches('\n').rfind('\n').map_or(0, |i| i + 1);
    let crc_line = text[body_end..].trim_end_matches('\n');
    let checked = match crc_line.strip_prefix("crc32 ") {
        Some(hex) => match u32::from_str_radix(hex, 16) {
            Ok(crc) if crc == crc32fast::hash(&text.as_bytes()[..body_end]) => true,
            _ => return Found::Corrupt("its checksum does not match its text".into()),
        },
        None => false,
    };
    let mut lines = text[..body_end].lines();
    let version = lines
        .next()
        .and_then(|l| l.strip_prefix("quorum-seal "))
        .and_then(|v| v.parse::<u32>().ok());
    match (version, checked) {
        (Some(v), true) if v > VERSION => Found::Newer(v),
        (Some(VERSION), true) => {
            let body: Vec<&str> = lines.collect();
            Seal::decode(&body).map_or_else(
                || Found::Corrupt("its text does not parse".into()),
                Found::Seal,
            )
        }
        // Version 1, as an older quorum wrote it: no checksum.
        (Some(1), false) => {
            let mut lines = text.lines().skip(1);
            let parsed = (|| {
                let size = lines.next()?.parse().ok()?;
                let session = lines.next()?.to_string();
                let seq = lines.next()?.parse().ok()?;
                Some(Seal {
                    size,
                    last: (session != "-").then_some((session, seq)),
                    ..Seal::default()
                })
            })();
            parsed.map_or_else(
                || Found::Corrupt("its text does not parse".into()),
                Found::Seal,
            )
        }
        (Some(v), false) if v > VERSION => Found::Newer(v),
        _ => Found::Corrupt("it has no valid checksum".into()),
    }
}

/// Removes the seal.
pub fn remove(db: &Path) {
    let _ = std::fs::remove_file(path(db));
}

/// Copies the db directory `from` to `to` (files and subdirectories, as
/// sled lays them out).
pub(crate) fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
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
/// Returns the seal found (`None`: no db, or no seal).
///
/// Errors: [`StoreError::Corrupt`] naming the file when a file of the db is
/// missing or differs from how it was closed, when the seal was altered,
/// or when a copy of the db lacks a sealed event or cannot be read;
/// [`StoreError::Foreign`] when a newer quorum sealed it or it is not a
/// quorum db.
pub fn verify(db: &Path) -> Result<Option<Seal>, StoreError> {
    let found = read(db);
    if !db.exists() {
        // No db (yet, or any more): sled creates a new one.
        remove(db);
        return Ok(None);
    }
    let corrupt = |problem: String| StoreError::Corrupt {
        path: db.to_path_buf(),
        problem,
    };
    let seal = match found {
        Found::Newer(version) => {
            return Err(StoreError::Foreign {
                path: db.to_path_buf(),
                problem: format!(
                    "was written by a newer quorum (seal version {version}, this quorum's {VERSION})"
                ),
            });
        }
        Found::Corrupt(why) => {
            return Err(corrupt(format!(
                "is corrupt: its seal {} was altered ({why})",
                path(db).display()
            )));
        }
        Found::None => None,
        Found::Seal(seal) => Some(seal),
    };
    for required in ["conf", "db"] {
        if !db.join(required).is_file() {
            return Err(corrupt(format!(
                "is corrupt: its file {} is missing",
                db.join(required).display()
            )));
        }
    }
    let Some(seal) = seal else {
        // No seal (an older quorum's db, or not quorum's): a copy must open.
        check_copy(db, None)?;
        return Ok(None);
    };
    let size = data_size(db);
    if let Some(files) = &seal.closed {
        let mut truncated = false;
        for f in files {
            let file = db.join(&f.name);
            let (len, crc) = match sum(&file) {
                Ok(found) => found,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(corrupt(format!(
                        "is corrupt: its file {} is missing",
                        file.display()
                    )));
                }
                Err(e) => {
                    return Err(corrupt(format!(
                        "is corrupt: its file {} cannot be read ({e})",
                        file.display()
                    )));
                }
            };
            if f.name == "db" && len < f.len && sled_could_have_cut(db, f.len, len) {
                // sled's own truncation after its last handle went: the
                // copy check below decides.
                truncated = true;
                continue;
            }
            if len < f.len {
                return Err(corrupt(format!(
                    "is truncated or corrupt: its file {} holds {len} bytes, {} when quorum closed it",
                    file.display(),
                    f.len
                )));
            }
            if (len, crc) != (f.len, f.crc) {
                return Err(corrupt(format!(
                    "is corrupt: its file {} changed since quorum closed it ({len} bytes with CRC-32 {crc:08x}, sealed {} bytes with {:08x})",
                    file.display(),
                    f.len,
                    f.crc
                )));
            }
        }
        if !truncated {
            return Ok(Some(seal));
        }
    }
    check_copy(db, Some((seal.clone(), size)))?;
    Ok(Some(seal))
}

/// Whether sled could have cut its data file from `closed` to `now` bytes:
/// at a segment boundary (segment size from `<db>/conf`), as sled truncates
/// free segments at the file's end (see `index.rs`).
fn sled_could_have_cut(db: &Path, closed: u64, now: u64) -> bool {
    let segment = std::fs::read_to_string(db.join("conf"))
        .ok()
        .and_then(|conf| {
            conf.lines()
                .find_map(|line| line.strip_prefix("segment_size:"))
                .and_then(|v| v.trim().parse::<u64>().ok())
        })
        .filter(|size| *size > 0);
    segment.is_some_and(|segment| now < closed && now.is_multiple_of(segment))
}

/// Opens a copy of the db and checks it is quorum's and holds the sealed
/// events (when `want` names a seal, with the data file's current size):
/// the last durable event, and every sealed session's last durable seq.
fn check_copy(db: &Path, want: Option<(Seal, u64)>) -> Result<(), StoreError> {
    let problem = |why: String| match &want {
        Some((seal, size)) if *size < seal.size => {
            let event = seal.last.as_ref().map_or(String::new(), |(session, seq)| {
                format!(" when event {seq} of session {session} was made durable")
            });
            format!(
                "is truncated or corrupt: its data file {} holds {size} bytes, {} bytes{event}, and {why}",
                data_file(db).display(),
                seal.size,
            )
        }
        _ => format!("is corrupt: {why}"),
    };
    let copy = std::env::temp_dir().join(format!(
        "quorum-db-check-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    let mut foreign = false;
    let checked = (|| -> Result<(), String> {
        copy_dir(db, &copy).map_err(|e| format!("it could not be copied for a check ({e})"))?;
        let store = match super::Store::open_unchecked(&copy) {
            Ok(store) => store,
            // Not quorum's, or a newer quorum's: that problem, as it is.
            Err(StoreError::Foreign { problem, .. }) => {
                foreign = true;
                return Err(problem);
            }
            Err(StoreError::Open { source, .. }) => {
                return Err(problem(format!(
                    "sled cannot read its data file {} ({source})",
                    data_file(db).display()
                )));
            }
            Err(other) => return Err(problem(format!("it does not open ({other})"))),
        };
        let Some((seal, _)) = &want else {
            return Ok(());
        };
        if let Some((session, seq)) = &seal.last {
            // The events tree's key: session id ‖ seq (u64 BE), as `seq_key` makes it.
            let mut key = session.as_bytes().to_vec();
            key.extend_from_slice(&seq.to_be_bytes());
            let present = store
                .events
                .contains_key(key)
                .map_err(|e| problem(format!("a copy of it cannot be read ({e})")))?;
            if !present {
                return Err(problem(format!(
                    "event {seq} of session {session} is gone from its data file {}",
                    data_file(db).display()
                )));
            }
        }
        for (session, seq) in &seal.sessions {
            let last = match store.events.scan_prefix(session.as_bytes()).next_back() {
                Some(Ok((key, _))) => key
                    .get(session.len()..)
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .map_or(0, u64::from_be_bytes),
                Some(Err(e)) => return Err(problem(format!("a copy of it cannot be read ({e})"))),
                None => 0,
            };
            let listed = store
                .sessions
                .contains_key(session.as_bytes())
                .map_err(|e| problem(format!("a copy of it cannot be read ({e})")))?;
            if last < *seq || !listed {
                return Err(problem(format!(
                    "session {session} lost events in its data file {} (last event {last}, {seq} were made durable)",
                    data_file(db).display()
                )));
            }
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&copy);
    checked.map_err(|problem| {
        if foreign {
            StoreError::Foreign {
                path: db.to_path_buf(),
                problem,
            }
        } else {
            StoreError::Corrupt {
                path: db.to_path_buf(),
                problem,
            }
        }
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::protocol::SessionId;

    #[test]
    fn seals_round_trip_and_altered_or_newer_ones_are_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        std::fs::create_dir(&db).unwrap();
        std::fs::write(db.join("db"), vec![0u8; 100]).unwrap();
        std::fs::write(db.join("conf"), "segment_size: 524288\n").unwrap();
        let s = SessionId::new();
        let sessions = BTreeMap::from([(s.to_string(), 7)]);
        write(&db, Some((s.to_string(), 7)), &sessions).unwrap();
        assert_eq!(path(&db), dir.path().join("db.seal"));
        assert_eq!(
            read(&db),
            Found::Seal(Seal {
                size: 100,
                last: Some((s.to_string(), 7)),
                sessions: sessions.clone(),
                closed: None,
            })
        );
        write_closed(&db, None, &BTreeMap::new()).unwrap();
        let Found::Seal(closed) = read(&db) else {
            panic!("{:?}", read(&db))
        };
        assert_eq!(closed.last, None);
        let names: Vec<_> = closed.closed.unwrap().into_iter().map(|f| f.name).collect();
        assert_eq!(names, ["conf", "db"]);
        assert!(verify(&db).is_ok());
        // Every single flipped byte of the seal is seen.
        let text = std::fs::read(path(&db)).unwrap();
        for at in 0..text.len() {
            let mut bad = text.clone();
            bad[at] ^= 0x01;
            std::fs::write(path(&db), &bad).unwrap();
            assert!(matches!(read(&db), Found::Corrupt(_)), "byte {at}");
        }
        std::fs::write(path(&db), &text).unwrap();
        // A flipped byte of a file, or a missing file, is corruption.
        let mut data = std::fs::read(db.join("db")).unwrap();
        data[50] ^= 0x80;
        std::fs::write(db.join("db"), &data).unwrap();
        let err = verify(&db).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("db/db changed"), "{err}");
        std::fs::remove_file(db.join("conf")).unwrap();
        let err = verify(&db).unwrap_err();
        assert!(err.to_string().contains("conf is missing"), "{err}");
        // Version 1 still reads; garbage is an altered seal; newer is newer.
        std::fs::write(path(&db), format!("quorum-seal 1\n100\n{s}\n7\n")).unwrap();
        assert!(matches!(read(&db), Found::Seal(Seal { size: 100, .. })));
        std::fs::write(path(&db), "garbage").unwrap();
        assert!(matches!(read(&db), Found::Corrupt(_)));
        std::fs::write(path(&db), "quorum-seal 9\n1\n-\n0\n").unwrap();
        assert_eq!(read(&db), Found::Newer(9));
        let err = verify(&db).unwrap_err();
        assert!(err.to_string().contains("newer quorum"), "{err}");
        remove(&db);
        assert!(!path(&db).exists());
        assert_eq!(read(&db), Found::None);
    }
}
