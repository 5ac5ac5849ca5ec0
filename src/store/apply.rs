//! The group commit's side of the db (docs/design.md §4, "Durable"): a
//! group of [`Write`]s applied as one sled transaction across the trees, the
//! transcript lines appended to the [`super::journal`] in between, and the flush
//! that makes them durable.

use super::codec::{encode, memory_key, record_prefix, seq_key};
use super::transcript::{agent_line_chunks, line_chunks};
use super::{Store, StoreError, Write};
use crate::protocol::{SessionId, TranscriptLine};

/// The `meta` key holding the number of the last [`super::journal`] entry that sled
/// holds (u64 big-endian; absent: none yet).
pub(super) const JOURNAL_MARK: &[u8] = b"journal";

impl Store {
    /// Applies a group of writes as one sled transaction across the trees, so
    /// a crash keeps either all of a group or none of it (sled writes a
    /// transaction under one batch manifest; recovery cuts a torn batch). It
    /// stays in memory until [`Store::flush`]. Resume relies on this: a group's
    /// events, records and session snapshot are never split by a crash.
    ///
    /// Errors: [`StoreError::Sled`] when sled fails (the group is not applied).
    pub fn apply(&self, writes: &[Write]) -> Result<(), StoreError> {
        self.apply_marked(writes, None)
    }

    /// [`Store::apply`], storing `mark` (a [`super::journal`] entry's number) as the
    /// mark of the journal entries sled holds, in the same transaction.
    pub(super) fn apply_marked(
        &self,
        writes: &[Write],
        mark: Option<u64>,
    ) -> Result<(), StoreError> {
        let ops = ops_of(writes, mark);
        if ops.is_empty() {
            return Ok(());
        }
        let applied = self.transact(&ops);
        if let Some(index) = &self.index {
            match &applied {
                Ok(()) => index.applied(writes.iter().filter_map(|write| match write {
                    Write::Session(record) => Some((record.id.clone(), Some(record.clone()))),
                    _ => None,
                })),
                // Whatever sled kept of it, the index cannot vouch for the db.
                Err(_) => index.poison(),
            }
        }
        applied
    }

    /// Applies `ops` as one sled transaction over the trees [`ops_of`]
    /// numbers.
    fn transact(&self, ops: &[Op]) -> Result<(), StoreError> {
        let trees = [
            self.sessions.clone(),
            self.events.clone(),
            self.lines.clone(),
            self.agent_lines.clone(),
            self.records.clone(),
            self.memory.clone(),
            self.meta.clone(),
        ];
        use sled::Transactional as _;
        trees
            .as_slice()
            .transaction(|tx| {
                for (tree, key, value) in ops {
                    match value {
                        Some(value) => {
                            tx[*tree].insert(key.as_slice(), value.as_slice())?;
                        }
                        None => {
                            tx[*tree].remove(key.as_slice())?;
                        }
                    }
                }
                Ok::<(), sled::transaction::ConflictableTransactionError<()>>(())
            })
            .map_err(|e| match e {
                sled::transaction::TransactionError::Storage(e) => StoreError::Sled(e),
                sled::transaction::TransactionError::Abort(()) => {
                    StoreError::Sled(sled::Error::Unsupported("transaction aborted".into()))
                }
            })
    }

    /// Appends the transcript lines among `writes` to the [`super::journal`] (one
    /// `write(2)`, not synced: they then survive a crash of the process),
    /// for a later [`Store::apply_journaled`] to hand to sled. Returns
    /// `false` when the store has no journal or the append failed (logged):
    /// the caller then applies and flushes `writes` itself.
    pub fn journal(&self, writes: &[Write]) -> bool {
        let Some(journal) = &self.journal else {
            return false;
        };
        let lines: Vec<(SessionId, TranscriptLine)> = writes
            .iter()
            .filter_map(|w| match w {
                Write::Line { session, line } => Some((session.clone(), line.clone())),
                _ => None,
            })
            .collect();
        if lines.is_empty() {
            return true;
        }
        let mut journal = journal.lock().unwrap_or_else(|p| p.into_inner());
        match journal.append(lines) {
            Ok(_) => true,
            Err(e) => {
                tracing::warn!(error = %e, "transcript journal append failed; flushing to sled");
                false
            }
        }
    }

    /// [`Store::apply`] for writes that include every line journaled since
    /// the last call (and any writes after them): also stores the journal's
    /// mark, so that once [`Store::flush`] has made this durable,
    /// [`Store::journal_taken`] can empty the journal. Returns that mark.
    ///
    /// Errors: as [`Store::apply`].
    pub fn apply_journaled(&self, writes: &[Write]) -> Result<Option<u64>, StoreError> {
        let mark = self
            .journal
            .as_ref()
            .and_then(|j| j.lock().unwrap_or_else(|p| p.into_inner()).last());
        self.apply_marked(writes, mark)?;
        Ok(mark)
    }

    /// Empties the journal after a flush made `mark` (from
    /// [`Store::apply_journaled`]) durable, unless entries came after it.
    /// A failure is logged: the entries stay, and their numbers keep the
    /// next open from applying them twice.
    pub fn journal_taken(&self, mark: Option<u64>) {
        let (Some(journal), Some(mark)) = (&self.journal, mark) else {
            return;
        };
        let mut journal = journal.lock().unwrap_or_else(|p| p.into_inner());
        if journal.last() == Some(mark)
            && let Err(e) = journal.clear()
        {
            tracing::warn!(error = %e, "cannot empty the transcript journal");
        }
    }

    /// Makes everything applied so far durable (fsync). Returns the bytes flushed.
    pub fn flush(&self) -> Result<usize, StoreError> {
        let Some(index) = &self.index else {
            return Ok(self.db.flush()?);
        };
        let changes = index.take_applied();
        match self.db.flush() {
            Ok(bytes) => {
                index.flushed(changes);
                Ok(bytes)
            }
            Err(e) => {
                index.unflushed(changes);
                Err(e.into())
            }
        }
    }
}

/// One sled operation of a group: the tree's index in [`Store::transact`]'s
/// array, the key, and the value to insert (`None`: remove the key).
type Op = (usize, Vec<u8>, Option<Vec<u8>>);

/// The sled operations of a group of `writes` (and of the journal `mark`),
/// encoded once, outside the transaction closure (which sled may rerun).
fn ops_of(writes: &[Write], mark: Option<u64>) -> Vec<Op> {
    // Tree indexes in `Store::transact`'s array.
    const SESSIONS: usize = 0;
    const EVENTS: usize = 1;
    const LINES: usize = 2;
    const AGENT_LINES: usize = 3;
    const RECORDS: usize = 4;
    const MEMORY: usize = 5;
    const META: usize = 6;
    let mut ops: Vec<Op> = Vec::with_capacity(writes.len());
    for write in writes {
        match write {
            Write::Session(record) => {
                ops.push((
                    SESSIONS,
                    record.id.as_str().as_bytes().to_vec(),
                    Some(encode(record)),
                ));
            }
            Write::Event(event) => {
                ops.push((
                    EVENTS,
                    seq_key(&event.session, event.seq),
                    Some(encode(event)),
                ));
            }
            // Chunked below, after the loop.
            Write::Line { .. } => {}
            Write::Record {
                session,
                kind,
                name,
                value,
            } => {
                let mut key = record_prefix(session, kind);
                key.extend_from_slice(name.as_bytes());
                ops.push((RECORDS, key, Some(encode(value))));
            }
            Write::Memory { dir, agent, notes } => {
                let value = (!notes.is_empty()).then(|| notes.as_bytes().to_vec());
                ops.push((MEMORY, memory_key(dir, agent), value));
            }
        }
    }
    for (key, value) in line_chunks(writes) {
        ops.push((LINES, key, Some(value)));
    }
    for (key, value) in agent_line_chunks(writes) {
        ops.push((AGENT_LINES, key, Some(value)));
    }
    if let Some(mark) = mark {
        ops.push((
            META,
            JOURNAL_MARK.to_vec(),
            Some(mark.to_be_bytes().to_vec()),
        ));
    }
    ops
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::protocol::LineKind;

    #[test]
    fn a_group_is_one_op_per_write_its_lines_chunked_and_the_mark_last() {
        let session = SessionId::new();
        let line = |seq: u64| Write::Line {
            session: session.clone(),
            line: TranscriptLine {
                seq,
                agent_seq: seq,
                agent: "pm".into(),
                task: "t".into(),
                kind: LineKind::Text,
                text: "x".into(),
                ends_call: false,
            },
        };
        let memory = |notes: &str| Write::Memory {
            dir: "/d".into(),
            agent: "pm".into(),
            notes: notes.into(),
        };
        let writes = [line(0), memory(""), line(1), memory("n")];
        let ops = ops_of(&writes, Some(7));
        let trees: Vec<usize> = ops.iter().map(|(tree, _, _)| *tree).collect();
        // Memory, memory, one lines chunk, one agent_lines chunk, the mark.
        assert_eq!(trees, [5, 5, 2, 3, 6]);
        // Empty notes remove the agent's memory.
        assert_eq!(ops[0], (5, memory_key("/d", "pm"), None));
        assert_eq!(ops[1].2.as_deref(), Some(&b"n"[..]));
        assert_eq!(ops[2].1, seq_key(&session, 0));
        assert_eq!(
            ops[4],
            (6, JOURNAL_MARK.to_vec(), Some(7u64.to_be_bytes().to_vec()))
        );
        assert!(ops_of(&[], None).is_empty());
    }
}
