//! An API key in memory ([`Secret`]): the HTTP providers hold their key in
//! one, send it in a request header ([`Secret::expose`]) and redact it from
//! provider error text ([`Secret::redact`]); its `Debug` never shows it
//! (docs/design.md §6).

/// An API key, held in memory only; its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a key.
    pub fn new(key: String) -> Self {
        Secret(key)
    }

    /// The key, for a request header.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `text` with every occurrence of the key replaced by `***`: as is, and
    /// in every encoded form of [`super::redact::forms`] when the key has at
    /// least [`super::redact::MIN_SECRET_BYTES`] bytes (keys of 4 to 7 bytes
    /// only as is).
    pub fn redact(&self, text: &str) -> String {
        if self.0.len() < 4 {
            return text.to_string();
        }
        if self.0.len() < super::redact::MIN_SECRET_BYTES {
            return text.replace(&self.0, "***");
        }
        super::redact::Redactor::new([self.0.clone()])
            .redact_with(text, "***")
            .into_owned()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_redacted_and_never_debug_printed() {
        let k = Secret::new("sk-test-1234567890".into());
        assert_eq!(k.redact("bad key sk-test-1234567890!"), "bad key ***!");
        assert!(!format!("{k:?}").contains("sk-test"));
    }
}
