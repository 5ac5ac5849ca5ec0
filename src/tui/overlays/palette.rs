//! The command palette (`:`): every action of the key table, filtered by a
//! fuzzy query (the query's characters in order, anywhere in the item's text),
//! best matches first; Enter runs the selected one as its key would. Actions
//! about one agent (its memory) are listed once per agent ("memory: backend").

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use crate::tui::app::{App, External, Focus, Overlay, Screen};
use crate::tui::keymap::{Action, Context, Keymap};
use crate::tui::widgets::{centered, popup};

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

impl App {
    /// A key while the palette is up: type to filter, ↑/↓ choose, Enter runs
    /// the selected action, Esc closes.
    pub(crate) fn palette_key(
        &mut self,
        mut palette: Palette,
        key: KeyEvent,
        action: Option<Action>,
    ) {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let up = key.code == KeyCode::Up || (ctrl && key.code == KeyCode::Char('p'));
        let down = key.code == KeyCode::Down || (ctrl && key.code == KeyCode::Char('n'));
        match key.code {
            _ if action == Some(Action::CancelSession) => self.cancel_or_quit(),
            _ if action == Some(Action::Suspend) => {
                self.run.external = Some(External::Suspend);
                self.overlay = Some(Overlay::Palette(palette));
            }
            KeyCode::Esc => {}
            KeyCode::Enter => {
                let items = palette.matches(&self.keymap, &self.agent_names());
                if let Some(item) = items.into_iter().nth(palette.sel) {
                    self.run_from_palette(item.context, item.action, item.agent);
                }
            }
            _ if up => {
                palette.sel = palette.sel.saturating_sub(1);
                self.overlay = Some(Overlay::Palette(palette));
            }
            _ if down => {
                let n = palette.matches(&self.keymap, &self.agent_names()).len();
                palette.sel = (palette.sel + 1).min(n.saturating_sub(1));
                self.overlay = Some(Overlay::Palette(palette));
            }
            KeyCode::Backspace => {
                palette.input.pop();
                palette.sel = 0;
                self.overlay = Some(Overlay::Palette(palette));
            }
            KeyCode::Char(c) if !ctrl => {
                palette.input.push(c);
                palette.sel = 0;
                self.overlay = Some(Overlay::Palette(palette));
            }
            _ => self.overlay = Some(Overlay::Palette(palette)),
        }
    }

    /// Runs an action picked in the palette: first moves to where its binding
    /// lives (a view, or a pane of the main screen), then acts as its key would.
    fn run_from_palette(&mut self, context: Context, action: Action, agent: Option<String>) {
        if let Some(i) = agent.and_then(|a| self.agents.iter().position(|x| x.name == a)) {
            self.screens.agent_sel = i;
        }
        match context {
            Context::Conflicts => self.screen = Screen::Conflicts,
            Context::Files if self.screen != Screen::Files => self.on_action(Action::Files),
            Context::History if self.screen != Screen::History => self.on_action(Action::History),
            Context::Agents => {
                self.screen = Screen::Main;
                self.focus = Focus::Agents;
            }
            Context::Transcript => {
                self.screen = Screen::Main;
                self.focus = Focus::Transcript;
            }
            _ => {}
        }
        self.on_action(action);
    }
}

/// The palette overlay: the query, then the matching actions with their keys.
/// The command palette: the query, then the matching actions with their keys.
pub fn draw_palette(app: &App, palette: &Palette, frame: &mut Frame, body: Rect) {
    let theme = &app.theme;
    let items = palette.matches(&app.keymap, &app.agent_names());
    let area = centered(
        body,
        body.width.saturating_sub(8).clamp(30, 72),
        (items.len() as u16 + 4).clamp(5, 18),
    );
    frame.render_widget(Clear, area);
    let block = popup(
        &app.theme,
        " : run an action — ↑/↓ choose · Enter runs · Esc ",
    );
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height == 0 {
        return;
    }
    let mut lines = vec![Line::from(vec![
        Span::styled(": ", theme.style("ui.hint.key")),
        Span::styled(palette.input.clone(), theme.style("ui.text")),
        Span::styled(" ", theme.style("ui.cursor")),
    ])];
    let rows = inner.height.saturating_sub(1) as usize;
    let skip = palette.sel.saturating_sub(rows.saturating_sub(1));
    let width = inner.width as usize;
    if items.is_empty() {
        lines.push(Line::styled(
            "no action matches",
            theme.style("ui.text.dim"),
        ));
    }
    for (i, item) in items.iter().enumerate().skip(skip).take(rows) {
        let selected = i == palette.sel;
        let base = if selected {
            theme.style("ui.selection")
        } else {
            ratatui::style::Style::default()
        };
        let keys = format!(" {:<12}", item.keys);
        let where_ = format!("{} ", item.context.title());
        let room = width.saturating_sub(keys.chars().count() + where_.chars().count());
        let help: String = item.help.chars().take(room).collect();
        let pad = room.saturating_sub(help.chars().count());
        lines.push(Line::from(vec![
            Span::styled(keys, base.patch(theme.style("ui.hint.key"))),
            Span::styled(
                format!("{help}{}", " ".repeat(pad)),
                base.patch(theme.style("ui.text")),
            ),
            Span::styled(where_, base.patch(theme.style("ui.text.dim"))),
        ]));
    }
    frame.render_widget(Paragraph::new(lines), inner);
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
