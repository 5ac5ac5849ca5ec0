//! The command palette (`:`): every action of the key table, filtered by a
//! fuzzy query (the query's characters in order, anywhere in the item's text),
//! best matches first; Enter runs the selected one as its key would.

use crate::config::keymap::{Action, Context, Keymap};

/// The palette's state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Palette {
    /// What the person typed.
    pub input: String,
    /// The selected row of the filtered list.
    pub sel: usize,
}

/// One runnable action.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    /// Where the action's binding lives.
    pub context: Context,
    /// The action.
    pub action: Action,
    /// Its description, from the key table.
    pub help: String,
    /// Its keys, joined with `/`.
    pub keys: String,
}

/// Contexts whose actions make no sense from the palette (typing, moving).
fn runnable(context: Context, action: Action) -> bool {
    !matches!(context, Context::Editor | Context::List)
        && !matches!(action, Action::Palette | Action::Back)
}

/// A fuzzy score of `query` against `text`: `None` unless every query
/// character occurs in order (ignoring case); lower is better (matches that
/// start early and run together win).
pub fn score(query: &str, text: &str) -> Option<usize> {
    let text: Vec<char> = text.to_lowercase().chars().collect();
    let mut at = 0;
    let mut first = None;
    let mut gaps = 0;
    let mut last: Option<usize> = None;
    for q in query.to_lowercase().chars().filter(|c| !c.is_whitespace()) {
        let found = text.iter().skip(at).position(|c| *c == q)? + at;
        first.get_or_insert(found);
        if let Some(l) = last {
            gaps += found - l - 1;
        }
        last = Some(found);
        at = found + 1;
    }
    Some(first.unwrap_or(0) + 2 * gaps)
}

impl Palette {
    /// The actions matching the query, best first (ties: the shorter text,
    /// then table order).
    pub fn matches(&self, keymap: &Keymap) -> Vec<Item> {
        let mut items: Vec<((usize, usize, usize), Item)> = keymap
            .bindings()
            .filter(|b| runnable(b.context, b.action))
            .enumerate()
            .filter_map(|(i, b)| {
                let text = format!("{} {} {}", b.help, b.context.title(), b.action.name());
                score(&self.input, &text).map(|s| {
                    (
                        (s, text.chars().count(), i),
                        Item {
                            context: b.context,
                            action: b.action,
                            help: b.help.to_string(),
                            keys: b.keys.join("/"),
                        },
                    )
                })
            })
            .collect();
        items.sort_by_key(|(rank, _)| *rank);
        items.into_iter().map(|(_, item)| item).collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn fuzzy_scores_prefer_early_and_tight_matches() {
        assert_eq!(score("", "anything"), Some(0));
        assert_eq!(score("cmt", "commit"), Some(2 * (1 + 2)));
        assert!(score("cmt", "commit") < score("cmt", "accept votes commit"));
        assert_eq!(score("xyz", "commit"), None);
        assert_eq!(score("COM", "commit"), Some(0));
    }

    #[test]
    fn the_palette_lists_actions_from_the_key_table() {
        let map = Keymap::default();
        let all = Palette::default().matches(&map);
        assert!(
            all.iter()
                .any(|i| i.action == Action::Commit && i.keys == "C")
        );
        assert!(all.iter().all(|i| i.context != Context::Editor));
        let p = Palette {
            input: "metr".into(),
            sel: 0,
        };
        assert_eq!(p.matches(&map)[0].action, Action::Metrics);
        let p = Palette {
            input: "commit".into(),
            sel: 0,
        };
        assert_eq!(p.matches(&map)[0].action, Action::Commit);
    }
}
