//! The `sessions` and `records` trees: each session's summary row, its
//! per-session records (`kind`/`name` → JSON: tasks, staged files, phase
//! outputs…), and removing a session with everything stored under it.

use serde::de::DeserializeOwned;

use super::codec::{decode, record_prefix};
use super::transcript::chunk_len;
use super::{Removed, SessionRecord, Store, StoreError, index, seal};
use crate::protocol::SessionId;

impl Store {
    /// Every session, newest first.
    pub fn sessions(&self) -> Result<Vec<SessionRecord>, StoreError> {
        let mut all = Vec::new();
        for item in self.sessions.iter() {
            let (key, value) = item?;
            all.push(decode::<SessionRecord>(&key, &value)?);
        }
        Ok(index::sorted(all))
    }

    /// The session whose id is `id` or starts with `id` (a unique prefix).
    pub fn find_session(&self, id: &str) -> Result<SessionRecord, StoreError> {
        let matches: Vec<SessionRecord> = self
            .sessions()?
            .into_iter()
            .filter(|s| s.id.as_str().starts_with(id))
            .collect();
        match matches.len() {
            1 => Ok(matches
                .into_iter()
                .next()
                .ok_or_else(|| StoreError::NoSuchSession(format!("no session matches `{id}`")))?),
            0 => Err(StoreError::NoSuchSession(format!(
                "no session matches `{id}` in {}",
                self.path.display()
            ))),
            n => Err(StoreError::NoSuchSession(format!(
                "`{id}` matches {n} sessions; give more characters"
            ))),
        }
    }

    /// Deletes a session and everything stored under it (events, transcript,
    /// records), then flushes. Returns how many entries went, per tree.
    pub fn remove_session(&self, session: &SessionId) -> Result<Removed, StoreError> {
        let prefix = session.as_str().as_bytes();
        let mut removed = Removed::default();
        // The seal may name one of these events: it goes first.
        seal::remove(&self.path);
        let clear = |tree: &sled::Tree| -> Result<usize, StoreError> {
            let keys: Vec<sled::IVec> =
                tree.scan_prefix(prefix).keys().collect::<Result<_, _>>()?;
            let mut batch = sled::Batch::default();
            for key in &keys {
                batch.remove(key);
            }
            tree.apply_batch(batch)?;
            Ok(keys.len())
        };
        removed.events = clear(&self.events)?;
        removed.lines = 0;
        for item in self.lines.scan_prefix(prefix) {
            let (key, value) = item?;
            removed.lines += chunk_len(&key, &value)? as usize;
        }
        clear(&self.lines)?;
        clear(&self.agent_lines)?;
        removed.records = clear(&self.records)?;
        self.sessions.remove(prefix)?;
        if let Some(index) = &self.index {
            index.applied([(session.clone(), None)]);
        }
        self.flush()?;
        if let Some(sealer) = &self.sealer {
            {
                let mut state = sealer.state();
                state.sessions.remove(session.as_str());
                if state
                    .last
                    .as_ref()
                    .is_some_and(|(s, _)| s == session.as_str())
                {
                    state.last = None;
                }
            }
            sealer.write();
        }
        Ok(removed)
    }
}

impl Store {
    /// One per-session record.
    pub fn record<T: DeserializeOwned>(
        &self,
        session: &SessionId,
        kind: &str,
        name: &str,
    ) -> Result<Option<T>, StoreError> {
        let mut key = record_prefix(session, kind);
        key.extend_from_slice(name.as_bytes());
        match self.records.get(&key)? {
            Some(value) => Ok(Some(decode(&key, &value)?)),
            None => Ok(None),
        }
    }

    /// Every record of `kind` in a session, by name.
    pub fn records<T: DeserializeOwned>(
        &self,
        session: &SessionId,
        kind: &str,
    ) -> Result<Vec<(String, T)>, StoreError> {
        let prefix = record_prefix(session, kind);
        let mut all = Vec::new();
        for item in self.records.scan_prefix(&prefix) {
            let (key, value) = item?;
            let name = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
            all.push((name, decode(&key, &value)?));
        }
        Ok(all)
    }

    /// Every per-session record of a session, as (kind, name, JSON value), by kind
    /// then name. Kinds are those [`Write::Record`] wrote (`task`, `file`, `output`,
    /// and `undo`/`push` from the commands of that name).
    pub fn all_records(
        &self,
        session: &SessionId,
    ) -> Result<Vec<(String, String, serde_json::Value)>, StoreError> {
        let prefix = session.as_str().as_bytes();
        let mut all = Vec::new();
        for item in self.records.scan_prefix(prefix) {
            let (key, value) = item?;
            let rest = &key[prefix.len()..];
            let Some(split) = rest.iter().position(|b| *b == 0) else {
                continue;
            };
            let kind = String::from_utf8_lossy(&rest[..split]).into_owned();
            let name = String::from_utf8_lossy(&rest[split + 1..]).into_owned();
            all.push((kind, name, decode(&key, &value)?));
        }
        Ok(all)
    }
}
