//! Input: keys, bracketed pastes and the mouse, turned into updates of the
//! [`App`]: the overlays take keys first (help, quit confirmation, palette,
//! editors), then the prompt editor, then the key table's action.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};

use super::{App, EditorPurpose, External, Focus, Overlay, Screen, prompt_area};
use crate::config::keymap::Action;
use crate::protocol::Op;

impl App {
    /// A bracketed paste: inserted into the focused editor, never submitted.
    ///
    /// A NUL byte is refused at once (git cannot hold it in a commit
    /// message, and no prompt needs one): nothing is inserted and the status
    /// bar says why.
    pub fn on_paste(&mut self, text: &str) {
        if text.contains('\0') {
            self.toast(
                "the pasted text holds a NUL byte (\\0), which a prompt cannot carry: nothing was pasted; remove it and paste again",
                true,
            );
            return;
        }
        let text = text.replace("\r\n", "\n").replace('\r', "\n");
        if self.overlay.is_none() && self.screen == Screen::Main && self.focus == Focus::Prompt {
            self.prompt_active = true;
        }
        match &mut self.overlay {
            Some(Overlay::Editor(editor)) => {
                editor.area.insert_str(&text);
            }
            Some(Overlay::Palette(p)) => {
                p.input.push_str(text.lines().next().unwrap_or(""));
                p.sel = 0;
            }
            Some(_) => {}
            None if self.screen == Screen::Main && self.focus == Focus::Prompt => {
                self.prompt.insert_str(&text);
            }
            None => {}
        }
    }

    /// A mouse event (only with `[ui] mouse = true`): the wheel scrolls what is under it.
    pub fn on_mouse(&mut self, event: MouseEvent) {
        if !self.options.mouse || self.overlay.is_some() {
            return;
        }
        let action = match event.kind {
            MouseEventKind::ScrollUp => Action::Up,
            MouseEventKind::ScrollDown => Action::Down,
            _ => return,
        };
        if self.screen == Screen::Main {
            let area = self.frame.transcript_area;
            let inside = event.column >= area.x
                && event.column < area.x + area.width
                && event.row >= area.y
                && event.row < area.y + area.height;
            if !inside {
                return;
            }
            let rows = u64::from(self.frame.transcript_rows);
            let req = if action == Action::Up {
                self.transcripts.scroll_up(3, rows)
            } else {
                self.transcripts.scroll_down(3, rows)
            };
            self.request_page(req);
            return;
        }
        if self.screen == Screen::Files {
            self.files.scroll = if action == Action::Up {
                self.files.scroll.saturating_sub(3)
            } else {
                self.files.scroll.saturating_add(3)
            };
            return;
        }
        self.on_list(action);
    }

    /// A key press.
    pub fn on_key(&mut self, key: KeyEvent) {
        let contexts = self.contexts();
        let action = self.keymap.action(&contexts, &key);
        match self.overlay.take() {
            Some(Overlay::Help { scroll }) => {
                let max = self.frame.help_max_scroll;
                let scroll = match action {
                    Some(Action::Down) => scroll.saturating_add(1),
                    Some(Action::Up) => scroll.saturating_sub(1),
                    Some(Action::PageDown) => scroll.saturating_add(10),
                    Some(Action::PageUp) => scroll.saturating_sub(10),
                    Some(Action::Top) => 0,
                    Some(Action::Bottom) => max,
                    _ => scroll,
                };
                if !matches!(
                    key.code,
                    KeyCode::Char('?') | KeyCode::Esc | KeyCode::Char('q')
                ) {
                    self.overlay = Some(Overlay::Help {
                        scroll: scroll.min(max),
                    });
                }
                match action {
                    Some(Action::CancelSession) => self.cancel_or_quit(),
                    Some(Action::Suspend) => self.external = Some(External::Suspend),
                    _ => {}
                }
                return;
            }
            Some(Overlay::ConfirmUnconfined { prompt }) => {
                match key.code {
                    KeyCode::Char('y') | KeyCode::Char('Y') => self.start_session(&prompt, true),
                    KeyCode::Char('n') | KeyCode::Char('N') => self.start_session(&prompt, false),
                    // Back to the prompt, which still holds the text.
                    KeyCode::Esc => {}
                    _ => self.overlay = Some(Overlay::ConfirmUnconfined { prompt }),
                }
                return;
            }
            Some(Overlay::ConfirmCancel) => {
                match key.code {
                    _ if action == Some(Action::CancelSession) => self.cancel_confirmed(),
                    KeyCode::Char('y') | KeyCode::Char('Y') => self.cancel_confirmed(),
                    KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => {}
                    _ => self.overlay = Some(Overlay::ConfirmCancel),
                }
                return;
            }
            Some(Overlay::ConfirmQuit) => {
                match key.code {
                    KeyCode::Char('y') | KeyCode::Char('Y') => {
                        // At deliver with failing tests, the run loop's
                        // shutdown ends the session failed, DIR untouched;
                        // otherwise the session stops as interrupted.
                        if self.tests_verdict().is_none() {
                            self.outbox.push(Op::Interrupt);
                        }
                        self.quit = true;
                    }
                    KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => {}
                    _ => self.overlay = Some(Overlay::ConfirmQuit),
                }
                return;
            }
            Some(Overlay::Palette(mut palette)) => {
                let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
                let up = key.code == KeyCode::Up || (ctrl && key.code == KeyCode::Char('p'));
                let down = key.code == KeyCode::Down || (ctrl && key.code == KeyCode::Char('n'));
                match key.code {
                    _ if action == Some(Action::CancelSession) => self.cancel_or_quit(),
                    _ if action == Some(Action::Suspend) => {
                        self.external = Some(External::Suspend);
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
                return;
            }
            Some(Overlay::Memory(view)) => return self.memory_key(view, key, action),
            Some(Overlay::Budget) => return self.budget_key(key, action),
            Some(Overlay::Models(picker)) => return self.models_key(picker, key, action),
            Some(Overlay::Editor(mut editor)) => {
                match action {
                    Some(Action::Submit) => self.editor_submitted(editor),
                    Some(Action::Newline) if editor.purpose != EditorPurpose::Search => {
                        editor.area.insert_newline();
                        self.overlay = Some(Overlay::Editor(editor));
                    }
                    Some(Action::Newline) => self.overlay = Some(Overlay::Editor(editor)),
                    Some(Action::LeaveEditor) => {}
                    Some(Action::CancelSession) => self.cancel_or_quit(),
                    Some(Action::Suspend) => {
                        self.external = Some(External::Suspend);
                        self.overlay = Some(Overlay::Editor(editor));
                    }
                    _ => {
                        editor.area.input(key);
                        self.overlay = Some(Overlay::Editor(editor));
                    }
                }
                return;
            }
            None => {}
        }
        if self.screen == Screen::Main && self.focus == Focus::Prompt {
            if !self.prompt_active && self.idle_prompt_key(&key, action) {
                return;
            }
            match action {
                Some(Action::Submit) => {
                    let text = self.prompt.lines().join("\n");
                    self.submit_prompt(&text);
                }
                Some(Action::Newline) => self.prompt.insert_newline(),
                Some(Action::LeaveEditor) | Some(Action::FocusNext) => self.focus = Focus::Agents,
                Some(Action::FocusPrev) => self.focus = Focus::Transcript,
                Some(Action::CancelSession) => self.cancel_or_quit(),
                Some(Action::Suspend) => self.external = Some(External::Suspend),
                _ => {
                    let empty = self.prompt.is_empty() || self.prompt_history.pos.is_some();
                    match key.code {
                        KeyCode::Up if empty && !self.prompt_history.entries.is_empty() => {
                            self.history_step(-1)
                        }
                        KeyCode::Down if self.prompt_history.pos.is_some() => self.history_step(1),
                        _ => {
                            self.prompt_history.pos = None;
                            self.prompt.input(key);
                        }
                    }
                }
            }
            return;
        }
        let Some(action) = action else {
            return;
        };
        self.on_action(action);
    }

    /// A key while the prompt editor has not taken the keys yet
    /// ([`App::prompt_active`]): the help and quit keys act, `Enter` and `i`
    /// give the editor the keys, and any other character starts the prompt
    /// (it is typed, returning `false`). Returns whether the key was used.
    fn idle_prompt_key(&mut self, key: &KeyEvent, action: Option<Action>) -> bool {
        let outside = self
            .keymap
            .action(&[crate::config::keymap::Context::Outside], key);
        let plain = !key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
        match (outside, key.code) {
            (Some(Action::Help), _) => {
                self.on_action(Action::Help);
                true
            }
            (Some(Action::Quit), _) => {
                self.on_action(Action::Quit);
                true
            }
            (_, KeyCode::Char('i')) if plain => {
                self.prompt_active = true;
                true
            }
            _ if action == Some(Action::Submit) && self.prompt.is_empty() => {
                self.prompt_active = true;
                true
            }
            (_, KeyCode::Char(_)) if plain => {
                self.prompt_active = true;
                false
            }
            _ => false,
        }
    }

    fn history_step(&mut self, delta: isize) {
        let n = self.prompt_history.entries.len() as isize;
        let pos = match self.prompt_history.pos {
            None => n - 1,
            Some(p) => p as isize + delta,
        };
        if pos < 0 {
            return;
        }
        if pos >= n {
            self.prompt_history.pos = None;
            self.prompt = prompt_area(&self.theme, "");
            return;
        }
        self.prompt_history.pos = Some(pos as usize);
        let text = self.prompt_history.entries[pos as usize].clone();
        self.prompt = prompt_area(&self.theme, &text);
    }
}
