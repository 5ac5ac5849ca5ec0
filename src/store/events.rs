//! The `events` tree: a session's event log, keyed by session id and seq.

use super::codec::{decode, u64_of};
use super::{Store, StoreError};
use crate::protocol::{LoggedEvent, SessionId};

impl Store {
    /// The seq of a session's last logged event (0 when it has none).
    pub fn last_event_seq(&self, session: &SessionId) -> Result<u64, StoreError> {
        let prefix = session.as_str().as_bytes();
        Ok(match self.events.scan_prefix(prefix).next_back() {
            Some(item) => u64_of(&item?.0[prefix.len()..]),
            None => 0,
        })
    }

    /// A session's events, in seq order.
    pub fn events(&self, session: &SessionId) -> Result<Vec<LoggedEvent>, StoreError> {
        let mut all = Vec::new();
        for item in self.events.scan_prefix(session.as_str().as_bytes()) {
            let (key, value) = item?;
            all.push(decode::<LoggedEvent>(&key, &value)?);
        }
        Ok(all)
    }
}
