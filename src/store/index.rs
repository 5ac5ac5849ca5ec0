//! The session index: a small file beside the db (`<db>.index`, by default
//! `DIR/.quorum/db.index`) holding every session's summary, so that `quorum
//! sessions list` reads it alone instead of opening sled. sled 0.34 reads its
//! whole page table when it opens a db, so an open grows with the db, not with
//! the sessions tree: about 1.9 s for a db of 10,000 sessions (13 GB), where
//! the summaries are 4 MB of JSON (issue 7: `sessions list` under 100 ms).
//!
//! The index is a cache of the `sessions` tree, never the truth: it is only
//! trusted when it provably matches the db, and rebuilt from the tree
//! otherwise.
//!
//! Format: JSON lines. The first is the header, naming the format's
//! version and the db it belongs to (device and inode of sled's `db` and
//! `conf` files: a db restored or copied in has new ones). Then summaries and
//! removals, last one per session wins, and markers: a process that opens the
//! db appends `open`; when its last handle on the store goes, with everything
//! it wrote flushed, it appends the summaries it changed and `closed`, in one
//! write, then fsyncs.
//!
//! A reader ([`read`]) holds DIR's lock, so no writer is active; it trusts the
//! index only when its last line is `closed`, the header names the db on disk
//! and sled's data file has the size `closed` names, or sled's own
//! truncation of it (a db cut short or grown since goes to `Store::open` and
//! its seal check). A crash leaves `open` last (or a torn line), so the next reader falls
//! back to sled, and the next open of the store rebuilds the index. Every open
//! of the store also compares the index with the tree and rewrites it (a
//! temporary file renamed over it) when they differ or when appends have made
//! it more than twice its compact size.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::SessionRecord;
use crate::protocol::SessionId;

/// The index format this build reads and writes.
const VERSION: u32 = 1;

/// One line of the index.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Line {
    /// The first line: the format and the db it indexes.
    Index {
        /// The format's version ([`VERSION`]).
        version: u32,
        /// The db's identity when the index was written.
        db: Identity,
    },
    /// A session's summary (replaces any earlier one of that session).
    Session(Box<SessionRecord>),
    /// A session was removed.
    Removed(SessionId),
    /// A process opened the db (its pid).
    Open(u32),
    /// That process let the db go with everything it wrote indexed; sled's
    /// data file then held this many bytes.
    Closed {
        /// The size of `<db>/db` after sled let it go, in bytes.
        data_len: u64,
    },
}

/// Which db files an index belongs to: device and inode of sled's `db` and
/// `conf` files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Identity {
    dev: u64,
    data: u64,
    conf: u64,
}

impl Identity {
    /// The identity of the db at `db`; `None` when its files are missing.
    fn of(db: &Path) -> Option<Identity> {
        let data = std::fs::metadata(db.join("db")).ok()?;
        let conf = std::fs::metadata(db.join("conf")).ok()?;
        Some(Identity {
            dev: data.dev(),
            data: data.ino(),
            conf: conf.ino(),
        })
    }
}

/// The index of the db at `db`: `<db>.index`.
pub fn path(db: &Path) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push(".index");
    db.with_file_name(name)
}

/// What an index file holds, as parsed.
struct Parsed {
    /// The header's identity.
    identity: Identity,
    /// The summaries, by session.
    sessions: BTreeMap<SessionId, SessionRecord>,
    /// When the last line is `closed` and the file ends with a newline: the
    /// data file's size it names.
    closed: Option<u64>,
    /// The file's size in bytes.
    size: u64,
}

/// Parses the index at `file`; `None` when it is missing, of another
/// version, or any line does not parse (a torn last line included).
fn parse(file: &Path) -> Option<Parsed> {
    let text = std::fs::read_to_string(file).ok()?;
    let mut lines = text.lines();
    let Ok(Line::Index { version, db }) = serde_json::from_str(lines.next()?) else {
        return None;
    };
    if version != VERSION {
        return None;
    }
    let mut sessions = BTreeMap::new();
    let mut closed = None;
    for line in lines {
        closed = None;
        match serde_json::from_str(line).ok()? {
            Line::Session(record) => {
                sessions.insert(record.id.clone(), *record);
            }
            Line::Removed(id) => {
                sessions.remove(&id);
            }
            Line::Open(_) => {}
            Line::Closed { data_len } => closed = Some(data_len),
            Line::Index { .. } => return None,
        }
    }
    Some(Parsed {
        identity: db,
        sessions,
        closed: closed.filter(|_| text.ends_with('\n')),
        size: text.len() as u64,
    })
}

/// Every session of the db at `db`, newest first (as [`super::Store::sessions`]
/// orders them), read from its index alone; `None` when the index cannot be
/// trusted (missing, torn, left open by a crash, of another db, or sled's
/// data file is no longer the size it was when the index was closed), and
/// the caller must open the store instead. The caller must hold DIR's lock,
/// so that no writer is active.
pub fn read(db: &Path) -> Option<Vec<SessionRecord>> {
    let parsed = parse(&path(db))?;
    // A db cut short, grown or replaced since must reach `Store::open`,
    // which checks it against its seal (and refuses it when it is damaged).
    let (Some(closed), Some(now)) = (parsed.closed, data_len(db)) else {
        return None;
    };
    if !sled_could_have_left(db, closed, now) || Identity::of(db) != Some(parsed.identity) {
        return None;
    }
    Some(sorted(parsed.sessions.into_values().collect()))
}

/// Whether sled itself could have left its data file at `now` bytes after
/// it was `closed` bytes when the index was closed: the same size, or cut
/// at a segment boundary. sled truncates free segments at the file's end on
/// a thread of its own, so that can land after its last handle went (sled
/// 0.34's segment accountant: `truncate(tip - segment_size)`, with the
/// segment size from `<db>/conf`). A file cut anywhere else was not cut by sled.
fn sled_could_have_left(db: &Path, closed: u64, now: u64) -> bool {
    if now == closed {
        return true;
    }
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

/// The size of sled's data file `<db>/db` in bytes, `None` when it is missing.
fn data_len(db: &Path) -> Option<u64> {
    std::fs::metadata(db.join("db")).ok().map(|m| m.len())
}

/// `all` newest first, ties by id (descending).
pub(crate) fn sorted(mut all: Vec<SessionRecord>) -> Vec<SessionRecord> {
    all.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    all
}

fn encode_line(line: &Line, out: &mut Vec<u8>) {
    // Our own plain structs: serialising them cannot fail.
    if serde_json::to_writer(&mut *out, line).is_ok() {
        out.push(b'\n');
    }
}

/// What a writer tracks between its open and its last handle going.
#[derive(Default)]
struct Pending {
    /// Summaries and removals applied to sled but not yet flushed
    /// (`None` = removed).
    applied: BTreeMap<SessionId, Option<SessionRecord>>,
    /// Those flushed since the open: appended at the close.
    durable: BTreeMap<SessionId, Option<SessionRecord>>,
    /// An append or rewrite failed: the index was removed and stays so.
    broken: bool,
}

/// The index as kept by a process that has the store open. Dropping the
/// last handle on it closes the index (see the module's docs).
pub struct Writer {
    db: PathBuf,
    pending: Mutex<Pending>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").field("db", &self.db).finish()
    }
}

impl Writer {
    /// Opens the index of the db at `db`, whose `sessions` tree holds
    /// `tree` right now: keeps the file when it matches the tree and is
    /// compact enough, rewrites it otherwise, then appends `open`. Never
    /// fails: an index that cannot be written is removed, and readers fall
    /// back to sled.
    pub fn open(db: &Path, tree: Vec<SessionRecord>) -> Writer {
        let writer = Writer {
            db: db.to_path_buf(),
            pending: Mutex::new(Pending::default()),
        };
        let file = path(db);
        let tree: BTreeMap<SessionId, SessionRecord> =
            tree.into_iter().map(|r| (r.id.clone(), r)).collect();
        let identity = Identity::of(db);
        let mut compact = Vec::new();
        if let Some(identity) = identity {
            encode_line(
                &Line::Index {
                    version: VERSION,
                    db: identity,
                },
                &mut compact,
            );
            for record in tree.values() {
                encode_line(&Line::Session(Box::new(record.clone())), &mut compact);
            }
        }
        let keep = match (parse(&file), identity) {
            (Some(parsed), Some(identity)) => {
                parsed.identity == identity
                    && parsed.sessions == tree
                    && parsed.size <= 2 * compact.len() as u64 + 4096
            }
            _ => false,
        };
        let mut open = Vec::new();
        encode_line(&Line::Open(std::process::id()), &mut open);
        let written = if identity.is_none() {
            Err(std::io::Error::other("the db's files are missing"))
        } else if keep {
            append(&file, &open, false)
        } else {
            compact.extend_from_slice(&open);
            replace(&file, &compact)
        };
        if let Err(e) = written {
            writer.break_index(&e);
        }
        writer
    }

    /// Notes summaries and removals applied to sled (not yet flushed).
    pub fn applied(&self, changes: impl IntoIterator<Item = (SessionId, Option<SessionRecord>)>) {
        if let Ok(mut pending) = self.pending.lock() {
            pending.applied.extend(changes);
        }
    }

    /// What was applied so far, taken before a flush: hand it back to
    /// [`Writer::flushed`] once the flush succeeded, or to
    /// [`Writer::unflushed`] when it failed.
    pub fn take_applied(&self) -> BTreeMap<SessionId, Option<SessionRecord>> {
        match self.pending.lock() {
            Ok(mut pending) => std::mem::take(&mut pending.applied),
            Err(_) => BTreeMap::new(),
        }
    }

    /// Marks changes taken by [`Writer::take_applied`] as durable.
    pub fn flushed(&self, changes: BTreeMap<SessionId, Option<SessionRecord>>) {
        if let Ok(mut pending) = self.pending.lock() {
            pending.durable.extend(changes);
        }
    }

    /// Puts changes taken by [`Writer::take_applied`] back (their flush
    /// failed), under any applied since.
    pub fn unflushed(&self, changes: BTreeMap<SessionId, Option<SessionRecord>>) {
        if let Ok(mut pending) = self.pending.lock() {
            for (id, change) in changes {
                pending.applied.entry(id).or_insert(change);
            }
        }
    }

    /// Keeps the index from being closed by this process (a write to sled
    /// failed, so what sled holds is unknown): the next reader asks sled,
    /// and the next open rebuilds the index.
    pub fn poison(&self) {
        if let Ok(mut pending) = self.pending.lock() {
            pending.broken = true;
        }
    }

    fn break_index(&self, error: &std::io::Error) {
        tracing::warn!(index = %path(&self.db).display(), %error, "session index not written; `sessions list` will read the db");
        let _ = std::fs::remove_file(path(&self.db));
        if let Ok(mut pending) = self.pending.lock() {
            pending.broken = true;
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        let Ok(pending) = self.pending.get_mut() else {
            return;
        };
        // Something applied was never flushed: sled may or may not keep it,
        // so the index stays open and the next reader asks sled.
        if pending.broken || !pending.applied.is_empty() {
            return;
        }
        let mut out = Vec::new();
        for (id, change) in std::mem::take(&mut pending.durable) {
            match change {
                Some(record) => encode_line(&Line::Session(Box::new(record)), &mut out),
                None => encode_line(&Line::Removed(id), &mut out),
            }
        }
        // The Store's sled handles went before this (they are its earlier
        // fields), so the data file's size is final.
        let Some(data_len) = data_len(&self.db) else {
            return;
        };
        encode_line(&Line::Closed { data_len }, &mut out);
        if let Err(e) = append(&path(&self.db), &out, true) {
            self.break_index(&e);
        }
    }
}

/// Appends `bytes` to the existing file (never creating it: an index that
/// vanished stays absent), with fsync when `sync`.
fn append(file: &Path, bytes: &[u8], sync: bool) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new().append(true).open(file)?;
    f.write_all(bytes)?;
    if sync {
        f.sync_data()?;
    }
    Ok(())
}

/// Writes `bytes` as the whole file: a temporary file beside it, renamed over it.
fn replace(file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = file.as_os_str().to_os_string();
    tmp.push(format!(".{}.tmp", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let written = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, file));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::store::Write;
    use crate::store::tests::open_again;

    fn record(id: &SessionId, at: &str, phase: &str) -> SessionRecord {
        SessionRecord {
            id: id.clone(),
            prompt: format!("prompt of {id}"),
            dir: "/d".into(),
            workflow: "default".into(),
            created_at: at.into(),
            updated_at: at.into(),
            status: None,
            phase: phase.into(),
            tokens_in: 3,
            tokens_out: 4,
            cost_usd: 0.25,
            commit: None,
            last_seq: 1,
            offline: true,
        }
    }

    /// Opens the store at `db`, waiting (up to 5 s) for sled to let go of
    /// the handle this process dropped just before: sled finishes some work
    /// (truncating free segments) on a thread of its own, holding the file's
    /// lock meanwhile.
    /// A db with two sessions written and flushed, the store dropped.
    fn two_sessions(db: &Path) -> (SessionId, SessionId) {
        let (a, b) = (SessionId::new(), SessionId::new());
        let store = open_again(db);
        store
            .apply(&[
                Write::Session(record(&a, "2026-01-01", "refine")),
                Write::Session(record(&b, "2026-01-02", "refine")),
            ])
            .unwrap();
        store.flush().unwrap();
        store
            .apply(&[Write::Session(record(&a, "2026-01-01", "deliver"))])
            .unwrap();
        store.flush().unwrap();
        (a, b)
    }

    #[test]
    fn a_closed_index_lists_what_the_db_holds_without_sled() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        let (a, b) = two_sessions(&db);
        let listed = read(&db).unwrap_or_else(|| {
            panic!(
                "not trusted: index {:?}, data file {:?} bytes",
                std::fs::read_to_string(path(&db)),
                data_len(&db),
            )
        });
        let ids: Vec<_> = listed.iter().map(|r| r.id.clone()).collect();
        assert_eq!(ids, vec![b, a], "newest first");
        assert_eq!(listed[1].phase, "deliver", "the last summary wins");
        assert_eq!(listed, open_again(&db).sessions().unwrap());
    }

    #[test]
    fn an_index_left_open_by_a_crash_is_not_trusted_and_the_next_open_rebuilds_it() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        let (a, _) = two_sessions(&db);
        let store = open_again(&db);
        store
            .apply(&[Write::Session(record(&a, "2026-01-01", "test"))])
            .unwrap();
        store.flush().unwrap();
        // A crash: the process dies with the store open, its index as it is now.
        let at_crash = std::fs::read(path(&db)).unwrap();
        drop(store);
        std::fs::write(path(&db), &at_crash).unwrap();
        assert_eq!(read(&db), None, "left open");
        let text = String::from_utf8(at_crash).unwrap();
        assert!(
            text.trim_end()
                .ends_with(&format!("{{\"open\":{}}}", std::process::id()))
        );
        assert!(
            !text.contains("\"test\""),
            "the flushed summary is not in it yet"
        );
        let reopened = open_again(&db);
        let truth = reopened.sessions().unwrap();
        drop(reopened);
        let listed = read(&db).expect("rebuilt and closed");
        assert_eq!(listed, truth);
        assert!(listed.iter().any(|r| r.id == a && r.phase == "test"));
    }

    #[test]
    fn a_torn_or_foreign_index_is_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        two_sessions(&db);
        let file = path(&db);
        let whole = std::fs::read_to_string(&file).unwrap();
        // Torn: the final newline (or more) missing.
        std::fs::write(&file, &whole[..whole.len() - 1]).unwrap();
        assert_eq!(read(&db), None);
        std::fs::write(&file, &whole[..whole.len() - 5]).unwrap();
        assert_eq!(read(&db), None);
        // Of another db: the same bytes beside a db with other files.
        let other = dir.path().join("other");
        two_sessions(&other);
        std::fs::write(path(&other), &whole).unwrap();
        assert_eq!(read(&other), None, "names another db's files");
        // Not an index at all.
        std::fs::write(&file, "{\"closed\"}\n").unwrap();
        assert_eq!(read(&db), None);
    }

    #[test]
    fn only_a_data_file_as_sled_could_leave_it_is_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        std::fs::create_dir(&db).unwrap();
        std::fs::write(
            db.join("conf"),
            "segment_size: 524288\nuse_compression: false\n",
        )
        .unwrap();
        let mb = 1024 * 1024;
        assert!(sled_could_have_left(&db, 3 * mb, 3 * mb));
        assert!(
            sled_could_have_left(&db, 3 * mb + 17, 2 * mb + 524288),
            "sled's own truncation"
        );
        assert!(
            !sled_could_have_left(&db, 3 * mb, 3 * mb - 4096),
            "cut off a segment"
        );
        assert!(
            !sled_could_have_left(&db, 3 * mb, 3 * mb / 2 + 1),
            "cut in half"
        );
        assert!(!sled_could_have_left(&db, 3 * mb, 4 * mb), "grown");
        std::fs::write(db.join("conf"), "no segment size\n").unwrap();
        assert!(!sled_could_have_left(&db, 3 * mb, 2 * mb));
    }

    #[test]
    fn an_index_that_disagrees_with_the_tree_is_rewritten_at_the_next_open() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        let (a, b) = two_sessions(&db);
        let file = path(&db);
        // A summary the db never held, made to look closed.
        let mut text = std::fs::read_to_string(&file).unwrap();
        let mut forged = record(&b, "2026-01-02", "forged");
        forged.prompt = "forged".into();
        text.push_str(&serde_json::to_string(&Line::Session(Box::new(forged))).unwrap());
        text.push('\n');
        let closed = Line::Closed {
            data_len: data_len(&db).unwrap(),
        };
        text.push_str(&serde_json::to_string(&closed).unwrap());
        text.push('\n');
        std::fs::write(&file, text).unwrap();
        assert!(read(&db).unwrap().iter().any(|r| r.phase == "forged"));
        drop(open_again(&db));
        let listed = read(&db).unwrap();
        assert!(listed.iter().all(|r| r.phase != "forged"));
        assert_eq!(listed.len(), 2);
        assert!(listed.iter().any(|r| r.id == a && r.phase == "deliver"));
    }

    #[test]
    fn a_removed_session_leaves_the_index() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        let (a, b) = two_sessions(&db);
        let store = open_again(&db);
        store.remove_session(&a).unwrap();
        drop(store);
        let listed = read(&db).unwrap();
        assert_eq!(listed.iter().map(|r| &r.id).collect::<Vec<_>>(), vec![&b]);
    }

    #[test]
    fn a_summary_applied_but_never_flushed_keeps_the_index_open() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        let (a, _) = two_sessions(&db);
        let store = open_again(&db);
        store
            .apply(&[Write::Session(record(&a, "2026-01-01", "unflushed"))])
            .unwrap();
        drop(store);
        assert_eq!(read(&db), None);
    }

    #[test]
    fn appends_are_compacted_at_an_open_once_they_double_the_index() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        let (a, _) = two_sessions(&db);
        let compact = std::fs::metadata(path(&db)).unwrap().len();
        for round in 0..20 {
            let store = open_again(&db);
            store
                .apply(&[Write::Session(record(
                    &a,
                    "2026-01-01",
                    &format!("r{round}"),
                ))])
                .unwrap();
            store.flush().unwrap();
        }
        let size = std::fs::metadata(path(&db)).unwrap().len();
        assert!(
            size <= 2 * compact + 4096 + 1024,
            "{size} bytes after 20 rounds (compact: {compact})"
        );
        assert!(read(&db).unwrap().iter().any(|r| r.phase == "r19"));
    }
}
