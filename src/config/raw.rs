//! The tables of `quorum.toml` as written (docs/configuration.md): one
//! `Raw…` type per table, read table by table ([`RawConfig::from_doc`]) so
//! that a problem in one table does not hide those of the others. Checking
//! and resolving them into [`super::Settings`] is [`super::validate`]'s.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::validate::Problems;
use super::{
    DEFAULT_ROSTER, GitSettings, NotifySettings, ProviderKind, SessionSettings, TestSettings,
    UiSettings,
};

/// `[providers.NAME]` as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProvider {
    pub(super) kind: ProviderKind,
    pub(super) base_url: Option<String>,
    pub(super) api_key_env: Option<String>,
    pub(super) max_concurrency: Option<usize>,
    pub(super) timeout_s: Option<u64>,
    pub(super) script: Option<PathBuf>,
    pub(super) requests_per_minute: Option<u32>,
    pub(super) max_tokens: Option<u32>,
    pub(super) context_tokens: Option<u32>,
    pub(super) connect_timeout_s: Option<u64>,
    pub(super) first_byte_timeout_s: Option<u64>,
    pub(super) idle_timeout_s: Option<u64>,
    pub(super) max_retries: Option<u32>,
    pub(super) backoff_ms: Option<u64>,
    pub(super) include_usage: Option<bool>,
    pub(super) max_reply_bytes: Option<u64>,
    pub(super) call_timeout_s: Option<u64>,
}

/// `[agents.NAME]` as written.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAgent {
    pub(super) provider: Option<String>,
    pub(super) model: Option<String>,
    #[serde(default)]
    pub(super) fallback: Vec<String>,
    pub(super) budget_usd: Option<f64>,
    pub(super) budget_tokens: Option<u64>,
    pub(super) max_concurrency: Option<usize>,
    pub(super) role: Option<String>,
    pub(super) reasoning_effort: Option<super::reasoning::ReasoningEffort>,
    pub(super) thinking_budget: Option<u32>,
    /// `[agents.NAME.phases.PHASE]`: reasoning settings for one phase.
    #[serde(default)]
    pub(super) phases: BTreeMap<String, super::reasoning::RawPhase>,
}

/// The whole file as written, read table by table ([`RawConfig::from_doc`]).
#[derive(Clone, Debug, Default)]
pub(super) struct RawConfig {
    pub(super) providers: BTreeMap<String, RawProvider>,
    pub(super) agents: BTreeMap<String, RawAgent>,
    pub(super) session: SessionSettings,
    pub(super) test: TestSettings,
    pub(super) git: GitSettings,
    pub(super) ui: UiSettings,
    /// `notify = false` or `[notify]`.
    pub(super) notify: NotifySettings,
    /// `[keys]`: `"context.action" = "key"` or `["key", …]` (docs/tui.md).
    pub(super) keys: BTreeMap<String, KeyList>,
    pub(super) pricing: BTreeMap<String, crate::config::pricing::Price>,
    /// `[models."MODEL"]`, each table read on its own.
    pub(super) models: BTreeMap<String, crate::config::models::ModelSettings>,
}

/// The top-level tables of a config file.
pub(super) const TABLES: [&str; 10] = [
    "providers",
    "agents",
    "session",
    "test",
    "git",
    "ui",
    "notify",
    "keys",
    "pricing",
    "models",
];

/// `value` as a `T`, or `None` with the problem noted (`what`: the table's
/// dotted name, for the message).
pub(super) fn section<T: serde::de::DeserializeOwned>(
    value: &toml::Spanned<toml::de::DeValue<'_>>,
    what: &str,
    problems: &mut Problems<'_>,
) -> Option<T> {
    match T::deserialize(toml::de::ValueDeserializer::from(value.clone())) {
        Ok(v) => Some(v),
        Err(e) => {
            let span = e.span().unwrap_or(value.span());
            let mut path = vec![what.to_string()];
            path.extend(key_at(value.get_ref(), span.start));
            problems.at(
                Some(span),
                format!("{}: {}", path.join("."), e.message().trim()),
            );
            None
        }
    }
}

/// The keys, from `value` down, of the innermost value written at byte
/// `offset` (for naming the key of a mistyped value).
pub(super) fn key_at(value: &toml::de::DeValue<'_>, offset: usize) -> Vec<String> {
    let Some(table) = value.as_table() else {
        return Vec::new();
    };
    for (key, v) in table {
        if v.span().contains(&offset) || key.span().contains(&offset) {
            let mut path = vec![key.get_ref().to_string()];
            path.extend(key_at(v.get_ref(), offset));
            return path;
        }
    }
    Vec::new()
}

impl RawConfig {
    /// The parsed document table by table (each provider and agent on its
    /// own), so that a problem in one does not hide those of the others; a
    /// table with a problem keeps its defaults (or is left out).
    pub(super) fn from_doc(doc: &toml::de::DeTable<'_>, problems: &mut Problems<'_>) -> RawConfig {
        let mut raw = RawConfig::default();
        for (key, value) in doc {
            let name: &str = key.get_ref();
            match name {
                "providers" | "agents" => {
                    let Some(table) = value.get_ref().as_table() else {
                        problems.at(
                            Some(value.span()),
                            format!("`{name}` must be a table of [{name}.NAME] tables"),
                        );
                        continue;
                    };
                    for (entry, v) in table {
                        let entry: &str = entry.get_ref();
                        let what = format!("{name}.{entry}");
                        if name == "providers" {
                            if let Some(p) = section(v, &what, problems) {
                                raw.providers.insert(entry.to_string(), p);
                            }
                        } else if let Some(a) = section(v, &what, problems) {
                            raw.agents.insert(entry.to_string(), a);
                        }
                    }
                }
                "session" => {
                    if let Some(v) = section(value, name, problems) {
                        raw.session = v;
                    }
                }
                "test" => {
                    if let Some(v) = section(value, name, problems) {
                        raw.test = v;
                    }
                }
                "git" => {
                    if let Some(v) = section(value, name, problems) {
                        raw.git = v;
                    }
                }
                "ui" => {
                    if let Some(v) = section(value, name, problems) {
                        raw.ui = v;
                    }
                }
                "notify" => match value.get_ref().as_bool() {
                    Some(enabled) => raw.notify.enabled = enabled,
                    None if value.get_ref().as_table().is_some() => {
                        if let Some(v) = section(value, name, problems) {
                            raw.notify = v;
                        }
                    }
                    None => problems.at(
                        Some(value.span()),
                        "`notify` must be `false` (no notifications) or a [notify] table",
                    ),
                },
                "keys" => {
                    if let Some(v) = section(value, name, problems) {
                        raw.keys = v;
                    }
                }
                "pricing" => {
                    if let Some(v) = section(value, name, problems) {
                        raw.pricing = v;
                    }
                }
                "models" => raw.models = models(value, problems),
                other => problems.at(
                    Some(key.span()),
                    format!(
                        "unknown table or key `{other}` (known: {})",
                        TABLES.join(", ")
                    ),
                ),
            }
        }
        raw
    }
}

/// `[models."MODEL"]`: each table read on its own, so that a mistake in
/// one names its line without hiding the others.
fn models(
    value: &toml::Spanned<toml::de::DeValue<'_>>,
    problems: &mut Problems<'_>,
) -> BTreeMap<String, crate::config::models::ModelSettings> {
    let Some(table) = value.get_ref().as_table() else {
        problems.at(
            Some(value.span()),
            "`models` must be a table of [models.\"MODEL\"] tables",
        );
        return BTreeMap::new();
    };
    let mut out = BTreeMap::new();
    for (entry, v) in table {
        let entry: &str = entry.get_ref();
        if let Some(m) = section(v, &format!("models.\"{entry}\""), problems) {
            out.insert(entry.to_string(), m);
        }
    }
    out
}

/// A `[keys]` value: one key or several.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum KeyList {
    One(String),
    Many(Vec<String>),
}

impl KeyList {
    pub(super) fn keys(&self) -> Vec<String> {
        match self {
            KeyList::One(k) => vec![k.clone()],
            KeyList::Many(ks) => ks.clone(),
        }
    }
}

/// The default roster followed by any extra agents of the config, by name.
pub(super) fn roster_names(raw_agents: &BTreeMap<String, RawAgent>) -> Vec<String> {
    let mut names: Vec<String> = DEFAULT_ROSTER.iter().map(|s| s.to_string()).collect();
    for name in raw_agents.keys() {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    names
}
