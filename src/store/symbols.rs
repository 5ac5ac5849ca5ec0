//! The `symbols` tree: the repository map's cache of each source file's
//! symbols by its content's git blob id (docs/design.md §1, "Existing
//! code"), read and written through [`SymbolCache`]. Written at once, not
//! through the committer: an entry lost in a crash costs one parse.

use super::Store;
use crate::workspace::repomap::SymbolCache;

impl SymbolCache for Store {
    fn get(&self, key: &str) -> Option<Vec<u8>> {
        match self.symbols.get(key) {
            Ok(value) => value.map(|v| v.to_vec()),
            Err(e) => {
                tracing::warn!(error = %e, "repository map cache unreadable");
                None
            }
        }
    }

    fn put(&self, key: &str, value: &[u8]) {
        if let Err(e) = self.symbols.insert(key, value) {
            tracing::warn!(error = %e, "repository map cache not written");
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn symbols_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        {
            let store = Store::open(&path).unwrap();
            assert_eq!(store.get("v1/rust/abc"), None);
            store.put("v1/rust/abc", b"{}");
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.get("v1/rust/abc"), Some(b"{}".to_vec()));
    }
}
