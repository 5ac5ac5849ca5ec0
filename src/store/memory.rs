//! The `memory` tree: each agent's notes per target directory, written through
//! [`super::Write::Memory`].

use std::collections::BTreeMap;

use super::codec::memory_key;
use super::{Store, StoreError};

impl Store {
    /// The agents' memories for target directory `dir`: agent → notes, by
    /// agent. Agents without notes are absent.
    pub fn memories(&self, dir: &str) -> Result<BTreeMap<String, String>, StoreError> {
        let prefix = memory_key(dir, "");
        let mut all = BTreeMap::new();
        for item in self.memory.scan_prefix(&prefix) {
            let (key, value) = item?;
            let agent = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
            all.insert(agent, String::from_utf8_lossy(&value).into_owned());
        }
        Ok(all)
    }
}
