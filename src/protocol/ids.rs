//! Identifiers shared by every layer: a session's [`SessionId`].

use serde::{Deserialize, Serialize};

/// A session's id: 12 lowercase hexadecimal characters (48 random bits).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(String);

impl SessionId {
    /// Length of an id in characters.
    pub const LEN: usize = 12;

    /// A fresh random id.
    pub fn new() -> Self {
        let hex = uuid::Uuid::new_v4().simple().to_string();
        SessionId(hex[..Self::LEN].to_string())
    }

    /// Parses an id; `None` unless it is exactly [`Self::LEN`] lowercase hex digits.
    pub fn parse(text: &str) -> Option<Self> {
        let ok = text.len() == Self::LEN
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        ok.then(|| SessionId(text.to_string()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 4 characters, as shown in the status bar.
    pub fn short(&self) -> &str {
        &self.0[..4]
    }
}

impl Default for SessionId {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Display for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
