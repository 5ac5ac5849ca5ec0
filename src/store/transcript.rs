//! The `lines` and `agent_lines` trees: transcript lines stored in chunks
//! (one per run of consecutive lines in a group, at most [`CHUNK_LINES`]),
//! each agent's positions beside them, and the reads over them: pages,
//! search, the whole transcript, where a resumed session continues.

use std::collections::BTreeMap;

use super::codec::{ZSTD_MAGIC, agent_prefix, decode, encode, seq_key, u64_of, unpack};
use super::{CHUNK_LINES, Store, StoreError, Write};
use crate::protocol::{SessionId, TranscriptLine};

/// The `lines` entries for the transcript lines among `writes`: one per run
/// of consecutive seqs of a session (at most [`CHUNK_LINES`] lines), keyed by
/// its first seq, as a JSON array.
pub(super) fn line_chunks(writes: &[Write]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    let mut run: Vec<&TranscriptLine> = Vec::new();
    let mut run_session: Option<&SessionId> = None;
    let mut close = |session: Option<&SessionId>, run: &mut Vec<&TranscriptLine>| {
        if let (Some(session), Some(first)) = (session, run.first()) {
            out.push((seq_key(session, first.seq), encode(&*run)));
        }
        run.clear();
    };
    for write in writes {
        let Write::Line { session, line } = write else {
            continue;
        };
        let continues = run_session == Some(session)
            && run.len() < CHUNK_LINES
            && run.last().is_some_and(|last| last.seq + 1 == line.seq);
        if !continues {
            close(run_session, &mut run);
            run_session = Some(session);
        }
        run.push(line);
    }
    close(run_session, &mut run);
    out
}

/// The `agent_lines` entries for the transcript lines among `writes`: per
/// session and agent, one per run of consecutive agent_seqs (at most
/// [`CHUNK_LINES`]), keyed by its first agent_seq, holding the lines' seqs.
pub(super) fn agent_line_chunks(writes: &[Write]) -> Vec<(Vec<u8>, Vec<u8>)> {
    /// A run: its first agent_seq and its lines' seqs (u64 BE each).
    type Run = (u64, Vec<u8>);
    let mut runs: BTreeMap<(&SessionId, &str), Vec<Run>> = BTreeMap::new();
    for write in writes {
        let Write::Line { session, line } = write else {
            continue;
        };
        let agent_runs = runs.entry((session, line.agent.as_str())).or_default();
        match agent_runs.last_mut() {
            Some((first, seqs))
                if seqs.len() / 8 < CHUNK_LINES
                    && *first + (seqs.len() / 8) as u64 == line.agent_seq =>
            {
                seqs.extend_from_slice(&line.seq.to_be_bytes());
            }
            _ => agent_runs.push((line.agent_seq, line.seq.to_be_bytes().to_vec())),
        }
    }
    let mut out = Vec::new();
    for ((session, agent), agent_runs) in runs {
        for (first, seqs) in agent_runs {
            let mut key = agent_prefix(session, agent);
            key.extend_from_slice(&first.to_be_bytes());
            out.push((key, seqs));
        }
    }
    out
}

/// The lines of one `lines` entry (a chunk, or one line as older quorums
/// stored them).
pub(super) fn decode_chunk(key: &[u8], value: &[u8]) -> Result<Vec<TranscriptLine>, StoreError> {
    let json = unpack(key, value)?;
    if json.first() == Some(&b'[') {
        decode(key, &json)
    } else {
        Ok(vec![decode(key, &json)?])
    }
}

/// How many lines one `lines` entry holds, without decoding them.
pub(super) fn chunk_len(key: &[u8], value: &[u8]) -> Result<u64, StoreError> {
    if value.first() == Some(&b'[') || value.starts_with(&ZSTD_MAGIC) {
        Ok(decode::<Vec<serde::de::IgnoredAny>>(key, value)?.len() as u64)
    } else {
        Ok(1)
    }
}

/// The seqs one `agent_lines` entry holds.
pub(super) fn seqs_of(value: &[u8]) -> impl Iterator<Item = u64> + '_ {
    value.chunks_exact(8).map(u64_of)
}

impl Store {
    /// The next transcript positions of a session: the next `seq` over all
    /// agents, and each agent's next `agent_seq` (agents without lines are
    /// absent). Used to continue a resumed session's transcript without gaps.
    pub fn next_line_seqs(
        &self,
        session: &SessionId,
    ) -> Result<(u64, BTreeMap<String, u64>), StoreError> {
        let prefix = session.as_str().as_bytes();
        let next = self.line_total(session)?;
        let mut agents = BTreeMap::new();
        for item in self.agent_lines.scan_prefix(prefix) {
            let (key, seqs) = item?;
            let rest = &key[prefix.len()..];
            let Some(split) = rest.iter().position(|b| *b == 0) else {
                continue;
            };
            let agent = String::from_utf8_lossy(&rest[..split]).into_owned();
            let agent_seq = u64_of(&rest[split + 1..]);
            let entry = agents.entry(agent).or_insert(0);
            *entry = (*entry).max(agent_seq + (seqs.len() / 8) as u64);
        }
        Ok((next, agents))
    }

    /// A session's transcript length: its last line's seq + 1 (0 when empty).
    pub(super) fn line_total(&self, session: &SessionId) -> Result<u64, StoreError> {
        let prefix = session.as_str().as_bytes();
        Ok(match self.lines.scan_prefix(prefix).next_back() {
            Some(item) => {
                let (key, value) = item?;
                u64_of(&key[prefix.len()..]) + chunk_len(&key, &value)?
            }
            None => 0,
        })
    }

    /// An agent's transcript length: its last line's agent_seq + 1.
    pub(super) fn agent_line_total(
        &self,
        session: &SessionId,
        agent: &str,
    ) -> Result<u64, StoreError> {
        let prefix = agent_prefix(session, agent);
        Ok(match self.agent_lines.scan_prefix(&prefix).next_back() {
            Some(item) => {
                let (key, seqs) = item?;
                u64_of(&key[prefix.len()..]) + (seqs.len() / 8) as u64
            }
            None => 0,
        })
    }

    /// The chunks of a session's lines that hold seqs `from..to`, in order:
    /// the one holding `from` (it may start before it), then those after.
    pub(super) fn line_chunks_between(
        &self,
        session: &SessionId,
        from: u64,
        to: u64,
    ) -> Result<Vec<(sled::IVec, sled::IVec)>, StoreError> {
        let mut start = seq_key(session, from);
        if let Some(item) = self
            .lines
            .range(seq_key(session, 0)..=seq_key(session, from))
            .next_back()
        {
            start = item?.0.to_vec();
        }
        self.lines
            .range(start..seq_key(session, to))
            .map(|item| item.map_err(StoreError::from))
            .collect()
    }

    /// The lines with the given seqs (ascending), looked up chunk by chunk;
    /// seqs not stored are skipped.
    pub(super) fn lines_at(
        &self,
        session: &SessionId,
        seqs: impl IntoIterator<Item = u64>,
    ) -> Result<Vec<TranscriptLine>, StoreError> {
        let mut out = Vec::new();
        // The chunk last decoded: its first seq and lines.
        let mut chunk: Option<(u64, Vec<TranscriptLine>)> = None;
        for seq in seqs {
            let held = |c: &(u64, Vec<TranscriptLine>)| seq >= c.0 && seq < c.0 + c.1.len() as u64;
            if !chunk.as_ref().is_some_and(held) {
                chunk = None;
                if let Some(item) = self
                    .lines
                    .range(seq_key(session, 0)..=seq_key(session, seq))
                    .next_back()
                {
                    let (key, value) = item?;
                    let first = u64_of(&key[session.as_str().len()..]);
                    chunk = Some((first, decode_chunk(&key, &value)?));
                }
            }
            if let Some((first, lines)) = &chunk
                && let Some(line) = seq.checked_sub(*first).and_then(|i| lines.get(i as usize))
                && line.seq == seq
            {
                out.push(line.clone());
            }
        }
        Ok(out)
    }

    /// Up to `len` transcript lines from `from` (of `agent`, or of all agents),
    /// and the view's total line count.
    pub fn transcript_page(
        &self,
        session: &SessionId,
        agent: Option<&str>,
        from: u64,
        len: u64,
    ) -> Result<(Vec<TranscriptLine>, u64), StoreError> {
        let mut lines = Vec::new();
        let to = from.saturating_add(len);
        match agent {
            None => {
                let total = self.line_total(session)?;
                for (key, value) in self.line_chunks_between(session, from, to)? {
                    lines.extend(
                        decode_chunk(&key, &value)?
                            .into_iter()
                            .filter(|l| l.seq >= from && l.seq < to),
                    );
                }
                Ok((lines, total))
            }
            Some(agent) => {
                let total = self.agent_line_total(session, agent)?;
                let seqs = self.agent_seqs_between(session, agent, from, to)?;
                let lines = self.lines_at(session, seqs.into_iter().map(|(_, seq)| seq))?;
                Ok((lines, total))
            }
        }
    }

    /// (agent_seq, seq) of an agent's lines with agent_seqs `from..to`.
    pub(super) fn agent_seqs_between(
        &self,
        session: &SessionId,
        agent: &str,
        from: u64,
        to: u64,
    ) -> Result<Vec<(u64, u64)>, StoreError> {
        let prefix = agent_prefix(session, agent);
        let key_of = |agent_seq: u64| {
            let mut key = prefix.clone();
            key.extend_from_slice(&agent_seq.to_be_bytes());
            key
        };
        let mut start = key_of(from);
        if let Some(item) = self.agent_lines.range(key_of(0)..=key_of(from)).next_back() {
            start = item?.0.to_vec();
        }
        let mut out = Vec::new();
        for item in self.agent_lines.range(start..key_of(to)) {
            let (key, seqs) = item?;
            let first = u64_of(&key[prefix.len()..]);
            for (i, seq) in seqs_of(&seqs).enumerate() {
                let agent_seq = first + i as u64;
                if agent_seq >= from && agent_seq < to {
                    out.push((agent_seq, seq));
                }
            }
        }
        Ok(out)
    }

    /// Positions of the transcript lines (of `agent`, or of all agents) whose
    /// text contains `query`, ignoring case: `agent_seq`s for one agent, `seq`s
    /// for all, ascending, at most `limit`; the flag is `true` when more matched.
    /// An empty query matches nothing.
    pub fn search_transcript(
        &self,
        session: &SessionId,
        agent: Option<&str>,
        query: &str,
        limit: usize,
    ) -> Result<(Vec<u64>, bool), StoreError> {
        let needle = query.to_lowercase();
        if needle.is_empty() {
            return Ok((Vec::new(), false));
        }
        // A cheap test on the stored JSON first: for plain ASCII queries the
        // encoded line contains the query as written (case aside), so most
        // lines are skipped without decoding.
        let raw_filter = needle
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\' || b == b' ')
            .then(|| needle.as_bytes().to_vec());
        let matches =
            |key: &[u8], value: &[u8]| -> Result<Option<Vec<TranscriptLine>>, StoreError> {
                // Decompressed once, for the test and for decoding.
                let value = unpack(key, value)?;
                if let Some(raw) = &raw_filter {
                    let first = raw[0];
                    let found = value
                        .windows(raw.len())
                        .any(|w| w[0].to_ascii_lowercase() == first && w.eq_ignore_ascii_case(raw));
                    if !found {
                        return Ok(None);
                    }
                }
                Ok(Some(
                    decode_chunk(key, &value)?
                        .into_iter()
                        .filter(|line| line.text.to_lowercase().contains(&needle))
                        .collect::<Vec<_>>(),
                ))
            };
        let mut positions = Vec::new();
        let mut truncated = false;
        match agent {
            None => {
                'chunks: for item in self.lines.scan_prefix(session.as_str().as_bytes()) {
                    let (key, value) = item?;
                    for line in matches(&key, &value)?.unwrap_or_default() {
                        if positions.len() == limit {
                            truncated = true;
                            break 'chunks;
                        }
                        positions.push(line.seq);
                    }
                }
            }
            Some(agent) => {
                // The agent's seqs, then the chunks that hold them, each
                // filtered once.
                let seqs: Vec<u64> = self
                    .agent_seqs_between(session, agent, 0, u64::MAX)?
                    .into_iter()
                    .map(|(_, seq)| seq)
                    .collect();
                let wanted: std::collections::HashSet<u64> = seqs.iter().copied().collect();
                let (Some(&first), Some(&last)) = (seqs.first(), seqs.last()) else {
                    return Ok((positions, truncated));
                };
                'agent: for (key, value) in
                    self.line_chunks_between(session, first, last.saturating_add(1))?
                {
                    for line in matches(&key, &value)?.unwrap_or_default() {
                        if line.agent == agent && wanted.contains(&line.seq) {
                            if positions.len() == limit {
                                truncated = true;
                                break 'agent;
                            }
                            positions.push(line.agent_seq);
                        }
                    }
                }
            }
        }
        Ok((positions, truncated))
    }

    /// Every transcript line of a session, in seq order.
    pub fn transcript(&self, session: &SessionId) -> Result<Vec<TranscriptLine>, StoreError> {
        let mut all = Vec::new();
        for item in self.lines.scan_prefix(session.as_str().as_bytes()) {
            let (key, value) = item?;
            all.extend(decode_chunk(&key, &value)?);
        }
        Ok(all)
    }
}
