//! Prices and costs: `assets/pricing.toml` (US dollars per million tokens, with
//! the providers' pricing pages as sources) overridden by the config's
//! `[pricing."MODEL"]` tables. A model is priced by its exact name, else by the
//! longest listed name it starts with (dated snapshots such as
//! `gpt-4o-2024-08-06` take `gpt-4o`, and `gpt-4o-mini-…` takes `gpt-4o-mini`).
//!
//! Prompt-cache reads and writes have prices of their own (`cache_read`,
//! `cache_write`); a model without them prices them as input.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::protocol::Usage;

/// The built-in price list's text.
pub const BUILTIN: &str = include_str!("../../assets/pricing.toml");

/// A model's price, US dollars per million tokens.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Per million input (prompt) tokens.
    pub input: f64,
    /// Per million output (completion) tokens.
    pub output: f64,
    /// Per million prompt tokens read from the provider's prompt cache
    /// (OpenAI and Gemini "cached input", Anthropic "cache hits"); `None`
    /// prices them as `input`.
    #[serde(default)]
    pub cache_read: Option<f64>,
    /// Per million prompt tokens written to the provider's prompt cache
    /// (Anthropic "5m cache writes"); `None` prices them as `input`.
    #[serde(default)]
    pub cache_write: Option<f64>,
}

impl Price {
    /// The cost of `usage` at this price in US dollars: the uncached input,
    /// the cache reads, the cache writes and the output, each at its rate.
    pub fn cost(&self, usage: Usage) -> f64 {
        let read = self.cache_read.unwrap_or(self.input);
        let write = self.cache_write.unwrap_or(self.input);
        (usage.uncached_input() as f64 * self.input
            + usage.cache_read_tokens as f64 * read
            + usage.cache_write_tokens as f64 * write
            + usage.output_tokens as f64 * self.output)
            / 1_000_000.0
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceFile {
    models: BTreeMap<String, Price>,
}

/// Prices by model name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PriceTable {
    prices: BTreeMap<String, Price>,
}

impl PriceTable {
    /// The built-in list (`assets/pricing.toml`); empty if it could not be
    /// parsed (a unit test proves it parses).
    pub fn builtin() -> Self {
        let prices = toml::from_str::<PriceFile>(BUILTIN)
            .map(|f| f.models)
            .unwrap_or_default();
        PriceTable { prices }
    }

    /// This table with `overrides` added or replacing entries.
    pub fn with_overrides(mut self, overrides: &BTreeMap<String, Price>) -> Self {
        for (model, price) in overrides {
            self.prices.insert(model.clone(), *price);
        }
        self
    }

    /// The price of `model`: exact name, else the longest listed prefix.
    pub fn lookup(&self, model: &str) -> Option<Price> {
        if let Some(p) = self.prices.get(model) {
            return Some(*p);
        }
        self.prices
            .iter()
            .filter(|(name, _)| model.starts_with(name.as_str()))
            .max_by_key(|(name, _)| name.len())
            .map(|(_, p)| *p)
    }

    /// The cost of a call in US dollars; `None` when the model is unpriced.
    pub fn cost(&self, model: &str, usage: Usage) -> Option<f64> {
        self.lookup(model).map(|p| p.cost(usage))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_list_parses_and_prefixes_pick_the_longest() {
        let t = PriceTable::builtin();
        assert!(toml::from_str::<PriceFile>(BUILTIN).is_ok());
        assert_eq!(t.lookup("gpt-4o").unwrap().input, 2.50);
        assert_eq!(t.lookup("gpt-4o-2024-08-06").unwrap().input, 2.50);
        assert_eq!(t.lookup("gpt-4o-mini-2024-07-18").unwrap().input, 0.15);
        assert_eq!(t.lookup("claude-sonnet-4-5-20250929").unwrap().output, 15.0);
        assert!(t.lookup("llama3.1:8b").is_none());
    }

    #[test]
    fn costs_are_per_million_tokens_and_overrides_win() {
        let t = PriceTable::builtin();
        let usage = Usage {
            input_tokens: 1_000_000,
            output_tokens: 500_000,
            ..Usage::default()
        };
        assert!((t.cost("gpt-4o", usage).unwrap() - 7.5).abs() < 1e-9);
        let t = t.with_overrides(&BTreeMap::from([(
            "llama3".to_string(),
            Price {
                input: 0.0,
                output: 1.0,
                cache_read: None,
                cache_write: None,
            },
        )]));
        assert!((t.cost("llama3:8b", usage).unwrap() - 0.5).abs() < 1e-9);
    }

    #[test]
    fn cache_reads_and_writes_are_priced_apart_from_input() {
        let t = PriceTable::builtin();
        // 10,000 prompt tokens: 6,000 read from the cache, 3,000 written to
        // it, 1,000 uncached; 2,000 output tokens.
        let usage = Usage {
            input_tokens: 10_000,
            output_tokens: 2_000,
            cache_read_tokens: 6_000,
            cache_write_tokens: 3_000,
        };
        let sonnet = t.lookup("claude-sonnet-4-5-20250929").unwrap();
        assert_eq!(
            (sonnet.cache_read, sonnet.cache_write),
            (Some(0.30), Some(3.75))
        );
        // 1,000 × $3 + 6,000 × $0.30 + 3,000 × $3.75 + 2,000 × $15, per million.
        let want = (1_000.0 * 3.0 + 6_000.0 * 0.30 + 3_000.0 * 3.75 + 2_000.0 * 15.0) / 1e6;
        let got = t.cost("claude-sonnet-4-5", usage).unwrap();
        assert!((got - want).abs() < 1e-12, "{got} != {want}");
        assert!((got - 0.04605).abs() < 1e-12, "{got}");
        // OpenAI lists cached input only: writes price as input.
        let gpt = t.lookup("gpt-4o").unwrap();
        assert_eq!((gpt.cache_read, gpt.cache_write), (Some(1.25), None));
        let want = (1_000.0 * 2.5 + 6_000.0 * 1.25 + 3_000.0 * 2.5 + 2_000.0 * 10.0) / 1e6;
        assert!((t.cost("gpt-4o", usage).unwrap() - want).abs() < 1e-12);
        // A price without cache rates prices the whole prompt as input.
        let plain = Price {
            input: 2.0,
            output: 6.0,
            cache_read: None,
            cache_write: None,
        };
        assert!((plain.cost(usage) - (10_000.0 * 2.0 + 2_000.0 * 6.0) / 1e6).abs() < 1e-12);
        // Counts that claim more cached than prompt tokens never go negative.
        let odd = Usage {
            input_tokens: 5,
            cache_read_tokens: 9,
            ..Usage::default()
        };
        assert!(plain.cost(odd) >= 0.0);
    }

    #[test]
    fn every_listed_cache_price_is_below_input_or_a_write_surcharge() {
        let t = PriceTable::builtin();
        for (name, p) in &t.prices {
            if let Some(read) = p.cache_read {
                assert!(read < p.input, "{name}: read {read} >= input {}", p.input);
            }
            if let Some(write) = p.cache_write {
                assert!(
                    (write - 1.25 * p.input).abs() < 1e-9,
                    "{name}: write {write}"
                );
            }
        }
        assert!(t.lookup("gemini-2.5-flash").unwrap().cache_read.is_some());
        assert!(t.lookup("deepseek-chat").unwrap().cache_read.is_some());
    }
}
