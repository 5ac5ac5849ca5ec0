//! Prices and costs: `assets/pricing.toml` (US dollars per million tokens, with
//! the providers' pricing pages as sources) overridden by the config's
//! `[pricing."MODEL"]` tables. A model is priced by its exact name, else by the
//! longest listed name it starts with (dated snapshots such as
//! `gpt-4o-2024-08-06` take `gpt-4o`, and `gpt-4o-mini-…` takes `gpt-4o-mini`).

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
        self.lookup(model).map(|p| {
            (usage.input_tokens as f64 * p.input + usage.output_tokens as f64 * p.output)
                / 1_000_000.0
        })
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
        };
        assert!((t.cost("gpt-4o", usage).unwrap() - 7.5).abs() < 1e-9);
        let t = t.with_overrides(&BTreeMap::from([(
            "llama3".to_string(),
            Price {
                input: 0.0,
                output: 1.0,
            },
        )]));
        assert!((t.cost("llama3:8b", usage).unwrap() - 0.5).abs() < 1e-9);
    }
}
