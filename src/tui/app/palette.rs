//! The command palette (`:`): every action of the key table, filtered by a
//! fuzzy query (the query's characters in order, anywhere in the item's text),
//! best matches first; Enter runs the selected one as its key would. Actions
//! about one agent (its memory) are listed once per agent ("memory: backend").

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
    /// The agent it is about, for actions listed once per agent.
    pub agent: Option<String>,
}

/// Contexts whose actions make no sense from the palette (typing, moving,
/// the keys of an overlay that the palette would have to open first).
fn runnable(context: Context, action: Action) -> bool {
    !matches!(
        context,
        Context::Editor | Context::List | Context::Memory | Context::Budget
    ) && !matches!(action, Action::Palette | Action::Back)
}

/// Whether an action is listed once per agent.
fn per_agent(action: Action) -> bool {
    action == Action::Memory
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
    /// then table order); per-agent actions once for each of `agents`.
    pub fn matches(&self, keymap: &Keymap, agents: &[String]) -> Vec<Item> {
        let mut candidates: Vec<(String, Item)> = Vec::new();
        for b in keymap.bindings().filter(|b| runnable(b.context, b.action)) {
            let item = |help: String, agent: Option<String>| Item {
                context: b.context,
                action: b.action,
                help,
                keys: b.keys.join("/"),
                agent,
            };
            if per_agent(b.action) {
                for agent in agents {
                    let help = format!("memory: {agent}");
                    let text = format!("{help} {} {}", b.context.title(), b.action.name());
                    candidates.push((text, item(help, Some(agent.clone()))));
                }
            } else {
                let text = format!("{} {} {}", b.help, b.context.title(), b.action.name());
                candidates.push((text, item(b.help.to_string(), None)));
            }
        }
        let mut items: Vec<((usize, usize, usize), Item)> = candidates
            .into_iter()
            .enumerate()
            .filter_map(|(i, (text, item))| {
                score(&self.input, &text).map(|s| ((s, text.chars().count(), i), item))
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
        let agents = ["pm".to_string(), "backend".to_string()];
        let all = Palette::default().matches(&map, &agents);
        assert!(
            all.iter()
                .any(|i| i.action == Action::Commit && i.keys == "C")
        );
        assert!(all.iter().all(|i| i.context != Context::Editor));
        let p = Palette {
            input: "metr".into(),
            sel: 0,
        };
        assert_eq!(p.matches(&map, &agents)[0].action, Action::Metrics);
        let p = Palette {
            input: "commit".into(),
            sel: 0,
        };
        assert_eq!(p.matches(&map, &agents)[0].action, Action::Commit);
        // One memory entry per agent; none for an overlay's own keys.
        let p = Palette {
            input: "memory: back".into(),
            sel: 0,
        };
        let first = &p.matches(&map, &agents)[0];
        assert_eq!(first.action, Action::Memory);
        assert_eq!(first.help, "memory: backend");
        assert_eq!(first.agent.as_deref(), Some("backend"));
        assert_eq!(all.iter().filter(|i| i.action == Action::Memory).count(), 2);
        assert!(
            all.iter()
                .all(|i| !matches!(i.action, Action::EditMemory | Action::RaiseBudget))
        );
    }
}
