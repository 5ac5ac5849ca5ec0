//! Key values out of everything quorum writes (docs/design.md §6; the rules are in
//! docs/troubleshooting.md, "Model text on your terminal"): one [`Redactor`]
//! knows each value in every form a careless model or test may have copied
//! it in — as is, escaped inside a JSON string, base64 (standard and URL-safe,
//! at each of the three byte alignments a value can have inside a longer
//! encoded text) and hex (lower and upper case) — and replaces each with
//! [`REDACTED`].
//!
//! Redaction cannot be cut around: text is redacted **before** it is cut
//! short, because a value cut in the middle no longer matches. Every place
//! that shortens model or provider text for a message uses [`clip`], which
//! redacts with the process's registry ([`register`]: the values of the
//! configured providers' `api_key_env` variables, and of the environment's
//! key-like variables when logging starts) and only then cuts.
//!
//! Which environment variables hold keys is told by their names
//! ([`is_key_variable`]); logging and exports redact those variables' values.

use std::borrow::Cow;
use std::sync::{Arc, RwLock};

use base64::Engine as _;

/// Whether an environment variable's name says it holds a secret: it
/// contains `KEY`, `TOKEN`, `SECRET` or `PASSWORD` (any case), as
/// `OPENAI_API_KEY`, `ANTHROPIC_API_KEY`, `GEMINI_API_KEY` and `GITHUB_TOKEN`
/// do. Exports and log files are redacted of such variables' values.
pub fn is_key_variable(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    ["KEY", "TOKEN", "SECRET", "PASSWORD"]
        .iter()
        .any(|word| upper.contains(word))
}

/// What a key value is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Values shorter than this (in bytes) are never redacted: too likely to
/// occur by chance.
pub const MIN_SECRET_BYTES: usize = 8;

/// The forms of `value` that are redacted, longest first, deduplicated: the
/// value; its JSON-escaped form (when it differs); for each byte offset 0, 1
/// and 2 of the value inside a longer base64 text, the base64 characters that
/// depend on the value's bytes only, standard and URL-safe alphabets; its hex
/// encoding, lower and upper case.
pub fn forms(value: &str) -> Vec<String> {
    let bytes = value.as_bytes();
    let mut out = vec![value.to_string()];
    if let Ok(json) = serde_json::to_string(value) {
        out.push(json.trim_matches('"').to_string());
    }
    for offset in 0..3usize {
        // Encode `offset` filler bytes then the value; keep the characters
        // whose 6 bits all come from the value: character i covers bits
        // 6i..6i+6, the value bits 8*offset..8*(offset+len).
        let mut padded = vec![0u8; offset];
        padded.extend_from_slice(bytes);
        let encoded = base64::engine::general_purpose::STANDARD_NO_PAD.encode(&padded);
        let first = (8 * offset).div_ceil(6);
        let end = (8 * (offset + bytes.len())) / 6;
        if let Some(inner) = encoded.get(first..end) {
            out.push(inner.to_string());
            out.push(inner.replace('+', "-").replace('/', "_"));
        }
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    out.push(hex.to_ascii_uppercase());
    out.push(hex);
    out.retain(|f| f.len() >= MIN_SECRET_BYTES);
    out.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
    out.dedup();
    out
}

/// Replaces key values, in all their [`forms`], in text and JSON values.
#[derive(Clone, Debug, Default)]
pub struct Redactor {
    /// The values, longest first (so a key containing another goes whole).
    secrets: Vec<String>,
    /// Every form of every value, longest first.
    forms: Vec<String>,
}

impl Redactor {
    /// A redactor for these values; values shorter than
    /// [`MIN_SECRET_BYTES`] are ignored.
    pub fn new(values: impl IntoIterator<Item = String>) -> Self {
        let mut secrets: Vec<String> = values
            .into_iter()
            .filter(|v| v.len() >= MIN_SECRET_BYTES)
            .collect();
        secrets.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        secrets.dedup();
        let mut all: Vec<String> = secrets.iter().flat_map(|s| forms(s)).collect();
        all.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        all.dedup();
        Redactor {
            secrets,
            forms: all,
        }
    }

    /// The values redacted (not their other forms), longest first.
    pub fn values(&self) -> &[String] {
        &self.secrets
    }

    /// `true` when there is nothing to redact.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// `text` with every form of every value replaced by `marker`; borrowed
    /// when it holds none.
    pub fn redact_with<'a>(&self, text: &'a str, marker: &str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for form in &self.forms {
            if out.contains(form.as_str()) {
                out = Cow::Owned(out.replace(form.as_str(), marker));
            }
        }
        out
    }

    /// `text` with every form of every value replaced by [`REDACTED`].
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        self.redact_with(text, REDACTED)
    }

    /// Redacts `text` in place; `true` when it changed.
    pub fn text(&self, text: &mut String) -> bool {
        match self.redact(text) {
            Cow::Borrowed(_) => false,
            Cow::Owned(new) => {
                *text = new;
                true
            }
        }
    }

    /// Redacts every string (and key) of a JSON value in place; `true` when
    /// it changed.
    pub fn value(&self, value: &mut serde_json::Value) -> bool {
        use serde_json::Value;
        match value {
            Value::String(s) => self.text(s),
            Value::Array(items) => items.iter_mut().fold(false, |c, v| self.value(v) | c),
            Value::Object(map) => {
                let mut changed = false;
                let keys: Vec<String> = map.keys().cloned().collect();
                for key in keys {
                    let mut new_key = key.clone();
                    let key_changed = self.text(&mut new_key);
                    if let Some(mut v) = map.remove(&key) {
                        changed |= self.value(&mut v) | key_changed;
                        map.insert(new_key, v);
                    }
                }
                changed
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => false,
        }
    }
}

/// The key values redacted by [`redacted`] and [`clip`], for the whole
/// process.
static REGISTRY: RwLock<Option<Arc<Redactor>>> = RwLock::new(None);

/// Adds `values` (key values; those under [`MIN_SECRET_BYTES`] are ignored)
/// to what [`redacted`], [`clip`] and the log files are redacted of, for the
/// rest of the process.
pub fn register(values: impl IntoIterator<Item = String>) {
    let Ok(mut registry) = REGISTRY.write() else {
        return;
    };
    let mut all: Vec<String> = registry
        .as_deref()
        .map(|r| r.values().to_vec())
        .unwrap_or_default();
    let before = all.len();
    all.extend(values);
    if all.len() > before || registry.is_none() {
        *registry = Some(Arc::new(Redactor::new(all)));
    }
}

/// The process's registry ([`register`]), `None` before anything was
/// registered.
pub fn registry() -> Option<Arc<Redactor>> {
    REGISTRY.read().ok()?.clone()
}

/// `text` redacted of every registered value; borrowed when it holds none.
pub fn redacted(text: &str) -> Cow<'_, str> {
    match registry() {
        Some(r) => r.redact(text),
        None => Cow::Borrowed(text),
    }
}

/// At most `max_chars` characters of `text` for a message, redacted first
/// (see the module doc): `…` ends a text that was cut (and counts in
/// `max_chars`).
pub fn clip(text: &str, max_chars: usize) -> String {
    let text = redacted(text);
    if text.chars().count() <= max_chars {
        return text.into_owned();
    }
    let mut out: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const KEY: &str = "sk-test-QUORUMFAKEKEY0123456789";

    #[test]
    fn key_variables_are_told_by_their_names() {
        for name in [
            "OPENAI_API_KEY",
            "ANTHROPIC_API_KEY",
            "gemini_api_key",
            "GITHUB_TOKEN",
            "DB_PASSWORD",
            "AWS_SECRET_ACCESS_KEY",
        ] {
            assert!(is_key_variable(name), "{name}");
        }
        for name in ["PATH", "HOME", "LANG", "QUORUM_LOG", "SSH_AUTH_SOCK"] {
            assert!(!is_key_variable(name), "{name}");
        }
    }

    #[test]
    fn every_base64_alignment_and_hex_form_is_redacted() {
        let r = Redactor::new([KEY.to_string()]);
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
        let url = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE.encode(bytes);
        for prefix in ["", "O", "OP", "OPENAI_API_KEY=", "x\0"] {
            for suffix in ["", "\0", "\npath=/usr/bin"] {
                let whole = format!("{prefix}{KEY}{suffix}");
                for encoded in [
                    b64(whole.as_bytes()),
                    url(whole.as_bytes()),
                    whole
                        .bytes()
                        .map(|b| format!("{b:02x}"))
                        .collect::<String>(),
                    whole
                        .bytes()
                        .map(|b| format!("{b:02X}"))
                        .collect::<String>(),
                ] {
                    let out = r.redact(&format!("environ: {encoded} end")).into_owned();
                    assert!(out.contains(REDACTED), "{prefix:?}{suffix:?}: {out}");
                    for form in forms(KEY) {
                        assert!(!out.contains(&form), "{form} in {out}");
                    }
                }
            }
        }
        // JSON-escaped and plain.
        let quoted = "sk-\"quoted\"-12345";
        let r2 = Redactor::new([quoted.to_string()]);
        let json = serde_json::to_string(&serde_json::json!({ "m": quoted })).unwrap();
        assert!(!r2.redact(&json).contains("quoted"), "{}", r2.redact(&json));
        assert!(matches!(r.redact("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn short_values_are_ignored_and_values_kept() {
        let r = Redactor::new(["short".to_string(), KEY.to_string(), KEY.to_string()]);
        assert_eq!(r.values(), [KEY.to_string()]);
        assert_eq!(r.redact("short"), "short");
        assert!(Redactor::new(Vec::new()).is_empty());
    }

    #[test]
    fn clip_redacts_before_it_cuts() {
        let key = "sk-clip-test-9f8e7d6c5b4a3210";
        register([key.to_string()]);
        let message = format!("{}{key} and more text after it", "x".repeat(60));
        // Cut in the middle of the key: nothing of it survives.
        let cut = clip(&message, 70);
        assert!(cut.ends_with('…') && cut.chars().count() == 70, "{cut}");
        assert!(!cut.contains(&key[..8]), "{cut}");
        assert!(cut.contains("[redac"), "{cut}");
        assert_eq!(clip("short", 70), "short");
        assert_eq!(redacted(&format!("a {key} b")), "a [redacted] b");
    }
}
