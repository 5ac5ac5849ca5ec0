//! The TUI's key bindings: one table that the TUI dispatches from and that the
//! status bar's hints and the `?` overlay are generated from, so the three can
//! never disagree (docs/design.md §7, "Default keys").

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Where a binding applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Context {
    /// Everywhere, also inside editors.
    Global,
    /// Outside any editor.
    Outside,
    /// The prompt editor (and the other text editors).
    Editor,
    /// Any list.
    List,
    /// The agents pane.
    Agents,
    /// The transcript pane.
    Transcript,
    /// The conflicts view.
    Conflicts,
    /// The files view.
    Files,
    /// The history view (past sessions of DIR).
    History,
    /// The agent memory overlay (an agent's notes for DIR).
    Memory,
    /// The budget prompt (a budget is spent).
    Budget,
}

impl Context {
    /// The context's title in the help overlay.
    pub fn title(self) -> &'static str {
        match self {
            Context::Global => "everywhere",
            Context::Outside => "outside an editor",
            Context::Editor => "prompt editor",
            Context::List => "lists",
            Context::Agents => "agents/queues",
            Context::Transcript => "transcript",
            Context::Conflicts => "conflicts",
            Context::Files => "files",
            Context::History => "history",
            Context::Memory => "agent memory",
            Context::Budget => "budget prompt",
        }
    }

    /// The context's name in a `[keys]` override (`files` in `files.commit`).
    pub fn name(self) -> &'static str {
        match self {
            Context::Global => "global",
            Context::Outside => "outside",
            Context::Editor => "editor",
            Context::List => "list",
            Context::Agents => "agents",
            Context::Transcript => "transcript",
            Context::Conflicts => "conflicts",
            Context::Files => "files",
            Context::History => "history",
            Context::Memory => "memory",
            Context::Budget => "budget",
        }
    }
}

/// What a key does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Next pane.
    FocusNext,
    /// Previous pane.
    FocusPrev,
    /// The help overlay.
    Help,
    /// Cancel the session; a second press quits.
    CancelSession,
    /// The conflicts view.
    Conflicts,
    /// The files view.
    Files,
    /// Answer the refine phase's questions.
    Answer,
    /// Back to the main screen.
    Back,
    /// Quit (asks while a session runs).
    Quit,
    /// Submit the editor's text.
    Submit,
    /// A newline in the editor.
    Newline,
    /// Leave the editor.
    LeaveEditor,
    /// Down one row.
    Down,
    /// Up one row.
    Up,
    /// First row.
    Top,
    /// Last row.
    Bottom,
    /// A page up.
    PageUp,
    /// A page down.
    PageDown,
    /// Pause or resume the selected task.
    PauseTask,
    /// Cancel the selected task.
    CancelTask,
    /// Retry the selected task.
    RetryTask,
    /// Previous transcript tab.
    PrevTab,
    /// Next transcript tab.
    NextTab,
    /// Follow the transcript's end again.
    Follow,
    /// Previous option.
    OptionPrev,
    /// Next option.
    OptionNext,
    /// Decide the conflict with the selected option.
    Decide,
    /// Accept every vote majority.
    AcceptVotes,
    /// Override the decision with the selected option and a note.
    Override,
    /// Next open conflict.
    NextOpen,
    /// Preview the selected file.
    Preview,
    /// Show the selected file's diff.
    Diff,
    /// Accept or reject the selected file.
    ToggleAccept,
    /// Edit the commit message.
    EditMessage,
    /// Commit the accepted files.
    Commit,
    /// Commit although the secret scan flagged accepted files (after a
    /// commit it refused).
    CommitAnyway,
    /// The metrics view.
    Metrics,
    /// The history view.
    History,
    /// The command palette.
    Palette,
    /// Suspend to the shell (Ctrl-Z); `fg` resumes.
    Suspend,
    /// Detach from `quorum serve` (Ctrl-\\): the TUI ends and the session
    /// goes on in the server; `quorum attach` comes back.
    Detach,
    /// Search the transcript.
    Search,
    /// The next search match.
    SearchNext,
    /// The previous search match.
    SearchPrev,
    /// Open the selected file in `$EDITOR`.
    EditFile,
    /// Open the selected past session, read-only.
    OpenSession,
    /// Pause the whole session, or resume it when paused.
    PauseSession,
    /// Show the budget prompt again (a budget is spent).
    BudgetPrompt,
    /// Show the selected agent's memory for DIR.
    Memory,
    /// Retry the selected agent's failed task on a model the person picks.
    RetryTaskOn,
    /// Edit the shown agent memory in `$EDITOR`.
    EditMemory,
    /// Raise the spent budget by half and go on.
    RaiseBudget,
    /// Stop the session at the budget prompt.
    StopSession,
}

impl Action {
    /// The action's name in a `[keys]` override (`commit` in `files.commit`).
    pub fn name(self) -> &'static str {
        match self {
            Action::FocusNext => "focus_next",
            Action::FocusPrev => "focus_prev",
            Action::Help => "help",
            Action::CancelSession => "cancel_session",
            Action::Conflicts => "conflicts",
            Action::Files => "files",
            Action::Answer => "answer",
            Action::Back => "back",
            Action::Quit => "quit",
            Action::Submit => "submit",
            Action::Newline => "newline",
            Action::LeaveEditor => "leave_editor",
            Action::Down => "down",
            Action::Up => "up",
            Action::Top => "top",
            Action::Bottom => "bottom",
            Action::PageUp => "page_up",
            Action::PageDown => "page_down",
            Action::PauseTask => "pause_task",
            Action::CancelTask => "cancel_task",
            Action::RetryTask => "retry_task",
            Action::PrevTab => "prev_tab",
            Action::NextTab => "next_tab",
            Action::Follow => "follow",
            Action::OptionPrev => "option_prev",
            Action::OptionNext => "option_next",
            Action::Decide => "decide",
            Action::AcceptVotes => "accept_votes",
            Action::Override => "override",
            Action::NextOpen => "next_open",
            Action::Preview => "preview",
            Action::Diff => "diff",
            Action::ToggleAccept => "toggle_accept",
            Action::EditMessage => "edit_message",
            Action::Commit => "commit",
            Action::CommitAnyway => "commit_anyway",
            Action::Metrics => "metrics",
            Action::History => "history",
            Action::Palette => "palette",
            Action::Suspend => "suspend",
            Action::Detach => "detach",
            Action::Search => "search",
            Action::SearchNext => "search_next",
            Action::SearchPrev => "search_prev",
            Action::EditFile => "edit_file",
            Action::OpenSession => "open_session",
            Action::PauseSession => "pause_session",
            Action::BudgetPrompt => "budget",
            Action::Memory => "memory",
            Action::RetryTaskOn => "retry_on",
            Action::EditMemory => "edit_memory",
            Action::RaiseBudget => "raise_budget",
            Action::StopSession => "stop_session",
        }
    }
}

/// A key with its modifiers, written like `ctrl-c`, `shift-tab`, `alt-enter`, `G`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key {
    /// The key.
    pub code: KeyCode,
    /// Ctrl, Alt (Shift only for non-character keys).
    pub modifiers: KeyModifiers,
}

impl Key {
    /// Parses `ctrl-c`, `alt-enter`, `shift-tab`, `pgup`, `space`, `?`, `G`,
    /// `f1`…`f12`, `backspace`, `delete` …
    pub fn parse(text: &str) -> Option<Key> {
        let mut modifiers = KeyModifiers::NONE;
        let mut rest = text;
        loop {
            if let Some(r) = rest.strip_prefix("ctrl-") {
                modifiers |= KeyModifiers::CONTROL;
                rest = r;
            } else if let Some(r) = rest.strip_prefix("alt-") {
                modifiers |= KeyModifiers::ALT;
                rest = r;
            } else if let Some(r) = rest.strip_prefix("shift-") {
                modifiers |= KeyModifiers::SHIFT;
                rest = r;
            } else {
                break;
            }
        }
        let code = match rest {
            "enter" => KeyCode::Enter,
            "esc" => KeyCode::Esc,
            "tab" if modifiers.contains(KeyModifiers::SHIFT) => {
                modifiers -= KeyModifiers::SHIFT;
                KeyCode::BackTab
            }
            "tab" => KeyCode::Tab,
            "space" => KeyCode::Char(' '),
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "pgup" => KeyCode::PageUp,
            "pgdn" => KeyCode::PageDown,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "backspace" => KeyCode::Backspace,
            "delete" => KeyCode::Delete,
            one if one.chars().count() == 1 => KeyCode::Char(one.chars().next()?),
            f if f.starts_with('f') && f.len() > 1 => match f[1..].parse::<u8>() {
                Ok(n @ 1..=12) => KeyCode::F(n),
                _ => return None,
            },
            _ => return None,
        };
        Some(Key { code, modifiers })
    }

    /// Whether a terminal key event is this key. Shift is ignored for
    /// characters (`G` arrives as Shift+`G` on some terminals, plain `G` on others).
    pub fn matches(&self, event: &KeyEvent) -> bool {
        let relevant = KeyModifiers::CONTROL | KeyModifiers::ALT;
        // Shift is part of the key itself for characters (`G`) and for BackTab,
        // which terminals report with or without the Shift flag.
        let shift_in_key = matches!(event.code, KeyCode::Char(_) | KeyCode::BackTab);
        let mods = if shift_in_key {
            event.modifiers & relevant
        } else {
            event.modifiers & (relevant | KeyModifiers::SHIFT)
        };
        let want = if shift_in_key {
            self.modifiers & relevant
        } else {
            self.modifiers
        };
        let code = match (event.code, self.code) {
            (KeyCode::Char(a), KeyCode::Char(b)) => a == b,
            (a, b) => a == b,
        };
        code && mods == want
    }
}

/// One binding.
#[derive(Clone, Debug, PartialEq)]
pub struct Binding {
    /// Where it applies.
    pub context: Context,
    /// Its keys as written (`j`, `down`).
    pub keys: Vec<String>,
    /// What it does.
    pub action: Action,
    /// A short description for hints and help.
    pub help: &'static str,
}

/// The key table.
#[derive(Clone, Debug, PartialEq)]
pub struct Keymap {
    bindings: Vec<(Binding, Vec<Key>)>,
}

const DEFAULTS: &[(Context, &[&str], Action, &str)] = &[
    (Context::Global, &["tab"], Action::FocusNext, "focus"),
    (
        Context::Global,
        &["shift-tab"],
        Action::FocusPrev,
        "focus back",
    ),
    (
        Context::Global,
        &["ctrl-c"],
        Action::CancelSession,
        "cancel the session (asks first); quit",
    ),
    (
        Context::Global,
        &["ctrl-z"],
        Action::Suspend,
        "suspend (fg resumes)",
    ),
    (
        Context::Global,
        // Ctrl-4 (how crossterm reads the Ctrl-\ byte, 0x1c) is taken as
        // Ctrl-\ by the TUI before the table is read.
        &["ctrl-\\"],
        Action::Detach,
        "detach: the session goes on (quorum attach)",
    ),
    (Context::Outside, &["?"], Action::Help, "help"),
    (Context::Outside, &["c"], Action::Conflicts, "conflicts"),
    (Context::Outside, &["f"], Action::Files, "files"),
    (Context::Outside, &["M"], Action::Metrics, "metrics"),
    (Context::Outside, &["h"], Action::History, "history"),
    (Context::Outside, &[":"], Action::Palette, "command palette"),
    (Context::Outside, &["A"], Action::Answer, "answer questions"),
    (
        Context::Outside,
        &["P"],
        Action::PauseSession,
        "pause/resume session",
    ),
    (
        Context::Outside,
        &["B"],
        Action::BudgetPrompt,
        "budget prompt",
    ),
    (Context::Outside, &["esc"], Action::Back, "back to main"),
    (Context::Outside, &["q"], Action::Quit, "quit"),
    (Context::Editor, &["enter"], Action::Submit, "submit"),
    (
        Context::Editor,
        &["alt-enter", "ctrl-j"],
        Action::Newline,
        "newline",
    ),
    (
        Context::Editor,
        &["esc"],
        Action::LeaveEditor,
        "leave editor",
    ),
    (Context::List, &["j", "down"], Action::Down, "down"),
    (Context::List, &["k", "up"], Action::Up, "up"),
    (Context::List, &["g", "home"], Action::Top, "top"),
    (Context::List, &["G", "end"], Action::Bottom, "bottom"),
    (Context::List, &["pgup"], Action::PageUp, "page up"),
    (Context::List, &["pgdn"], Action::PageDown, "page down"),
    (
        Context::Agents,
        &["p"],
        Action::PauseTask,
        "pause/resume task",
    ),
    (Context::Agents, &["x"], Action::CancelTask, "cancel task"),
    (Context::Agents, &["r"], Action::RetryTask, "retry task"),
    (
        Context::Agents,
        &["R"],
        Action::RetryTaskOn,
        "retry on model",
    ),
    (Context::Agents, &["e"], Action::Memory, "memory"),
    (
        Context::Transcript,
        &["["],
        Action::PrevTab,
        "previous agent",
    ),
    (Context::Transcript, &["]"], Action::NextTab, "next agent"),
    (Context::Transcript, &["F"], Action::Follow, "follow"),
    (Context::Transcript, &["/"], Action::Search, "search"),
    (
        Context::Transcript,
        &["n"],
        Action::SearchNext,
        "next match",
    ),
    (
        Context::Transcript,
        &["N"],
        Action::SearchPrev,
        "previous match",
    ),
    (
        Context::Conflicts,
        &["left", "h"],
        Action::OptionPrev,
        "option",
    ),
    (
        Context::Conflicts,
        &["right", "l"],
        Action::OptionNext,
        "option",
    ),
    (Context::Conflicts, &["enter"], Action::Decide, "decide"),
    (
        Context::Conflicts,
        &["a"],
        Action::AcceptVotes,
        "accept votes",
    ),
    (
        Context::Conflicts,
        &["o"],
        Action::Override,
        "override + note",
    ),
    (Context::Conflicts, &["n"], Action::NextOpen, "next open"),
    (Context::Files, &["C"], Action::Commit, "commit"),
    (
        Context::Files,
        &["!"],
        Action::CommitAnyway,
        "commit despite the secret scan",
    ),
    (
        Context::Files,
        &["space"],
        Action::ToggleAccept,
        "accept/reject",
    ),
    (Context::Files, &["enter"], Action::Preview, "preview"),
    (Context::Files, &["d"], Action::Diff, "diff"),
    (
        Context::Files,
        &["m"],
        Action::EditMessage,
        "commit message",
    ),
    (Context::Files, &["e"], Action::EditFile, "edit in $EDITOR"),
    (Context::History, &["enter"], Action::OpenSession, "open"),
    (
        Context::Memory,
        &["e"],
        Action::EditMemory,
        "edit in $EDITOR",
    ),
    (
        Context::Budget,
        &["c"],
        Action::RaiseBudget,
        "continue (raise it by half)",
    ),
    (
        Context::Budget,
        &["s"],
        Action::StopSession,
        "stop the session",
    ),
];

impl Default for Keymap {
    fn default() -> Self {
        let bindings = DEFAULTS
            .iter()
            .map(|(context, keys, action, help)| {
                let parsed = keys.iter().filter_map(|k| Key::parse(k)).collect();
                (
                    Binding {
                        context: *context,
                        keys: keys.iter().map(|k| k.to_string()).collect(),
                        action: *action,
                        help,
                    },
                    parsed,
                )
            })
            .collect();
        Keymap { bindings }
    }
}

impl Keymap {
    /// The action bound to `event` in the first of `contexts` that binds it.
    pub fn action(&self, contexts: &[Context], event: &KeyEvent) -> Option<Action> {
        contexts.iter().find_map(|context| {
            self.bindings
                .iter()
                .filter(|(b, _)| b.context == *context)
                .find(|(_, keys)| keys.iter().any(|k| k.matches(event)))
                .map(|(b, _)| b.action)
        })
    }

    /// Every binding, in table order.
    pub fn bindings(&self) -> impl Iterator<Item = &Binding> {
        self.bindings.iter().map(|(b, _)| b)
    }

    /// `(keys, help)` pairs for the hints of a context, keys joined with `/`.
    pub fn hints(&self, context: Context) -> Vec<(String, &'static str)> {
        self.bindings()
            .filter(|b| b.context == context)
            .map(|b| (b.keys.join("/"), b.help))
            .collect()
    }

    /// The first key written for an action in a context (for hints in prose).
    pub fn key_for(&self, context: Context, action: Action) -> Option<&str> {
        self.bindings()
            .find(|b| b.context == context && b.action == action)
            .and_then(|b| b.keys.first().map(String::as_str))
    }

    /// The default table with `[keys]` overrides applied. Each override is
    /// `"context.action" = ["key", …]` (names from [`Context::name`] and
    /// [`Action::name`]) and replaces that binding's keys.
    ///
    /// # Errors
    ///
    /// A message naming the override: an unknown `context.action`, a key that
    /// does not parse, an empty key list, or a key bound twice in one context.
    pub fn with_overrides(
        mut self,
        overrides: &std::collections::BTreeMap<String, Vec<String>>,
    ) -> Result<Keymap, String> {
        for (name, keys) in overrides {
            let Some((binding, parsed)) = self
                .bindings
                .iter_mut()
                .find(|(b, _)| format!("{}.{}", b.context.name(), b.action.name()) == *name)
            else {
                return Err(format!(
                    "keys.\"{name}\" is not a binding; bindings are named context.action, e.g. files.commit (docs/tui.md lists them)"
                ));
            };
            if keys.is_empty() {
                return Err(format!("keys.\"{name}\" has no key"));
            }
            let mut new = Vec::new();
            for key in keys {
                let Some(k) = Key::parse(key) else {
                    return Err(format!(
                        "keys.\"{name}\": `{key}` is not a key (keys look like `x`, `G`, `ctrl-x`, `alt-enter`, `shift-tab`, `pgdn`, `space`, `f5`)"
                    ));
                };
                new.push(k);
            }
            binding.keys = keys.clone();
            *parsed = new;
        }
        // One key, one action per context.
        for (i, (a, a_keys)) in self.bindings.iter().enumerate() {
            for (b, b_keys) in self.bindings.iter().skip(i + 1) {
                if a.context != b.context {
                    continue;
                }
                if let Some(k) = a_keys.iter().find(|k| b_keys.contains(k)) {
                    let written = a
                        .keys
                        .iter()
                        .zip(a_keys)
                        .find(|(_, p)| *p == k)
                        .map(|(w, _)| w.clone())
                        .unwrap_or_default();
                    return Err(format!(
                        "keys: `{written}` is bound twice in {}: {}.{} and {}.{}",
                        a.context.title(),
                        a.context.name(),
                        a.action.name(),
                        b.context.name(),
                        b.action.name()
                    ));
                }
            }
        }
        Ok(self)
    }

    /// Every binding's override name (`context.action`), in table order.
    pub fn names(&self) -> impl Iterator<Item = String> + '_ {
        self.bindings()
            .map(|b| format!("{}.{}", b.context.name(), b.action.name()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn key(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn every_default_key_parses() {
        for (_, keys, _, _) in DEFAULTS {
            for k in *keys {
                assert!(Key::parse(k).is_some(), "{k}");
            }
        }
    }

    #[test]
    fn contexts_are_searched_in_order() {
        let map = Keymap::default();
        let enter = key(KeyCode::Enter, KeyModifiers::NONE);
        assert_eq!(
            map.action(&[Context::Files, Context::Conflicts], &enter),
            Some(Action::Preview)
        );
        assert_eq!(
            map.action(&[Context::Conflicts], &enter),
            Some(Action::Decide)
        );
        assert_eq!(map.action(&[Context::Outside], &enter), None);
    }

    #[test]
    fn modifiers_and_shifted_characters_match() {
        let map = Keymap::default();
        let g = [Context::List];
        assert_eq!(
            map.action(&g, &key(KeyCode::Char('G'), KeyModifiers::SHIFT)),
            Some(Action::Bottom)
        );
        assert_eq!(
            map.action(&g, &key(KeyCode::Char('G'), KeyModifiers::NONE)),
            Some(Action::Bottom)
        );
        assert_eq!(
            map.action(&g, &key(KeyCode::Char('g'), KeyModifiers::NONE)),
            Some(Action::Top)
        );
        let ed = [Context::Editor];
        assert_eq!(
            map.action(&ed, &key(KeyCode::Enter, KeyModifiers::ALT)),
            Some(Action::Newline)
        );
        assert_eq!(
            map.action(&ed, &key(KeyCode::Char('j'), KeyModifiers::CONTROL)),
            Some(Action::Newline)
        );
        assert_eq!(
            map.action(&ed, &key(KeyCode::Enter, KeyModifiers::NONE)),
            Some(Action::Submit)
        );
        assert_eq!(
            map.action(
                &[Context::Global],
                &key(KeyCode::BackTab, KeyModifiers::SHIFT)
            ),
            Some(Action::FocusPrev)
        );
        assert_eq!(
            map.action(
                &[Context::Global],
                &key(KeyCode::Char('c'), KeyModifiers::NONE)
            ),
            None
        );
    }

    #[test]
    fn hints_come_from_the_table() {
        let map = Keymap::default();
        let hints = map.hints(Context::Conflicts);
        assert!(hints.contains(&("a".to_string(), "accept votes")));
        assert_eq!(map.key_for(Context::Files, Action::Commit), Some("C"));
    }

    #[test]
    fn overrides_replace_keys_and_the_hints_follow() {
        let mut over = std::collections::BTreeMap::new();
        over.insert("files.commit".to_string(), vec!["ctrl-s".to_string()]);
        over.insert(
            "outside.metrics".to_string(),
            vec!["m".to_string(), "hyper-x".to_string()],
        );
        let err = Keymap::default().with_overrides(&over).unwrap_err();
        assert!(err.contains("`hyper-x` is not a key"), "{err}");
        over.insert("outside.metrics".to_string(), vec!["m".to_string()]);
        let map = Keymap::default().with_overrides(&over).unwrap();
        let ctrl_s = key(KeyCode::Char('s'), KeyModifiers::CONTROL);
        assert_eq!(map.action(&[Context::Files], &ctrl_s), Some(Action::Commit));
        assert_eq!(
            map.action(
                &[Context::Files],
                &key(KeyCode::Char('C'), KeyModifiers::NONE)
            ),
            None,
            "the default key is replaced"
        );
        assert!(
            map.hints(Context::Files)
                .contains(&("ctrl-s".to_string(), "commit"))
        );
        assert_eq!(
            map.action(
                &[Context::Outside],
                &key(KeyCode::Char('m'), KeyModifiers::NONE)
            ),
            Some(Action::Metrics)
        );
    }

    #[test]
    fn bad_overrides_are_named() {
        let one = |name: &str, keys: &[&str]| {
            let mut over = std::collections::BTreeMap::new();
            over.insert(
                name.to_string(),
                keys.iter().map(|k| k.to_string()).collect(),
            );
            Keymap::default().with_overrides(&over).unwrap_err()
        };
        assert!(one("files.launch", &["x"]).contains("files.launch"));
        assert!(one("files.commit", &[]).contains("no key"));
        let twice = one("files.commit", &["d"]);
        assert!(twice.contains("`d` is bound twice in files"), "{twice}");
        assert!(
            twice.contains("files.diff") && twice.contains("files.commit"),
            "{twice}"
        );
    }

    #[test]
    fn docs_tui_md_names_every_binding() {
        let docs = include_str!("../../docs/tui.md");
        for name in Keymap::default().names() {
            assert!(
                docs.contains(&format!("`{name}`")),
                "docs/tui.md does not name {name}"
            );
        }
    }

    #[test]
    fn the_defaults_bind_no_key_twice_in_a_context_and_names_are_unique() {
        let map = Keymap::default()
            .with_overrides(&Default::default())
            .unwrap();
        let names: Vec<String> = map.names().collect();
        let unique: std::collections::BTreeSet<&String> = names.iter().collect();
        assert_eq!(unique.len(), names.len());
    }
}
