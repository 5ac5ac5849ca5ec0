//! Per-model settings: the config's `[models."MODEL"]` tables
//! (docs/configuration.md, "Models"), matched like `[pricing."MODEL"]`: a
//! model takes the table of its exact name, else of the longest listed name
//! it starts with. Today a table holds one key, `edit_format`: how the
//! model is asked to write a file that already exists. Unset, it follows
//! the model's provider kind and family ([`default_edit_format`]).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::ProviderKind;
use crate::protocol::file_blocks::EditFormat;

/// One `[models."MODEL"]` table as written.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSettings {
    /// `edit_format = "search-replace" | "whole"`.
    pub edit_format: Option<EditFormat>,
}

/// The `[models."MODEL"]` tables by model name (or name prefix).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModelTable {
    models: BTreeMap<String, ModelSettings>,
}

/// Model families asked for SEARCH/REPLACE edits by default, as name
/// prefixes (after any `vendor/` of a router such as OpenRouter): the
/// hosted models that follow Aider's `diff` format well in its edit-format
/// benchmarks (aider.chat/docs/leaderboards/). Every other model of an
/// OpenAI-compatible server, a small local model among them, writes whole
/// files unless its `[models."MODEL"]` table says otherwise.
pub const SEARCH_REPLACE_FAMILIES: &[&str] = &[
    "gpt-4o",
    "chatgpt-4o",
    "gpt-4.1",
    "gpt-4-turbo",
    "gpt-5",
    "o1",
    "o3",
    "o4",
    "claude-",
    "gemini-1.5",
    "gemini-2",
    "gemini-3",
    "deepseek",
    "qwen-coder",
    "qwen2.5-coder",
    "qwen3-coder",
    "codestral",
    "mistral-large",
    "grok-3",
    "grok-4",
];

/// The edit format of `model` on a provider of `kind` when the config sets
/// none: whole files for the offline provider; SEARCH/REPLACE for every
/// Anthropic model and for the families of [`SEARCH_REPLACE_FAMILIES`];
/// whole files for the rest (an unknown model, a small local one).
pub fn default_edit_format(kind: ProviderKind, model: &str) -> EditFormat {
    let name = model
        .rsplit('/')
        .next()
        .unwrap_or(model)
        .to_ascii_lowercase();
    match kind {
        ProviderKind::Offline => EditFormat::Whole,
        ProviderKind::Anthropic => EditFormat::SearchReplace,
        ProviderKind::Openai | ProviderKind::Gemini => {
            if SEARCH_REPLACE_FAMILIES
                .iter()
                .any(|family| name.starts_with(family))
            {
                EditFormat::SearchReplace
            } else {
                EditFormat::Whole
            }
        }
    }
}

impl ModelTable {
    /// The tables as the config wrote them.
    pub fn new(models: BTreeMap<String, ModelSettings>) -> Self {
        ModelTable { models }
    }

    /// The table of `model`: its exact name, else the longest listed prefix.
    pub fn lookup(&self, model: &str) -> Option<&ModelSettings> {
        if let Some(settings) = self.models.get(model) {
            return Some(settings);
        }
        self.models
            .iter()
            .filter(|(name, _)| model.starts_with(name.as_str()))
            .max_by_key(|(name, _)| name.len())
            .map(|(_, settings)| settings)
    }

    /// How `model` on a provider of `kind` is asked to write an existing
    /// file: its table's `edit_format`, else [`default_edit_format`].
    pub fn edit_format(&self, kind: ProviderKind, model: &str) -> EditFormat {
        self.lookup(model)
            .and_then(|s| s.edit_format)
            .unwrap_or_else(|| default_edit_format(kind, model))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_provider_kind_and_the_model_family() {
        use EditFormat::{SearchReplace, Whole};
        use ProviderKind::{Anthropic, Gemini, Offline, Openai};
        for (kind, model, want) in [
            (Openai, "gpt-4o-2024-08-06", SearchReplace),
            (Openai, "gpt-4.1-mini", SearchReplace),
            (Openai, "o3-mini", SearchReplace),
            (Openai, "deepseek/deepseek-chat", SearchReplace),
            (Openai, "qwen2.5-coder:32b", SearchReplace),
            (Openai, "llama3.2:3b", Whole),
            (Openai, "gpt-3.5-turbo", Whole),
            (Anthropic, "claude-sonnet-4-5-20250929", SearchReplace),
            (Gemini, "gemini-2.5-pro", SearchReplace),
            (Gemini, "gemma-3-4b-it", Whole),
            (Offline, "backend", Whole),
        ] {
            assert_eq!(default_edit_format(kind, model), want, "{kind:?} {model}");
        }
    }

    #[test]
    fn a_table_matches_by_exact_name_else_the_longest_prefix() {
        let set = |f| ModelSettings {
            edit_format: Some(f),
        };
        let table = ModelTable::new(BTreeMap::from([
            ("llama3".to_string(), set(EditFormat::SearchReplace)),
            ("llama3.2:1b".to_string(), set(EditFormat::Whole)),
            ("gpt-4o".to_string(), set(EditFormat::Whole)),
            ("gpt-4o-mini".to_string(), ModelSettings::default()),
        ]));
        let format = |m| table.edit_format(ProviderKind::Openai, m);
        assert_eq!(format("llama3.1:70b"), EditFormat::SearchReplace);
        assert_eq!(format("llama3.2:1b"), EditFormat::Whole);
        assert_eq!(format("gpt-4o-2024-08-06"), EditFormat::Whole);
        // A table without the key leaves the default.
        assert_eq!(format("gpt-4o-mini"), EditFormat::SearchReplace);
        assert_eq!(format("mistral:7b"), EditFormat::Whole);
    }
}
