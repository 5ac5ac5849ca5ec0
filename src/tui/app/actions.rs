//! What each action of the key table does to the [`App`]: navigation, task,
//! conflict and file actions, the editors' results, the palette, the search
//! and the history view. Ops go to the outbox; nothing here does I/O.

use super::past::Opened;
use super::search::Search;
use super::{App, Editor, EditorPurpose, External, Focus, Overlay, Preview, Screen};
use crate::config::keymap::{Action, Context};
use crate::protocol::{Op, RequestId, TaskState};
use crate::tui::transcript::PageRequest;

impl App {
    pub(super) fn editor_submitted(&mut self, editor: Box<Editor>) {
        let editor = *editor;
        let text = editor.area.lines().join("\n").trim().to_string();
        match editor.purpose {
            EditorPurpose::Override { conflict, option } => {
                if text.is_empty() {
                    self.toast("an override needs a note: say why", true);
                    self.overlay = Some(Overlay::Editor(Box::new(Editor {
                        purpose: EditorPurpose::Override { conflict, option },
                        title: editor.title,
                        area: editor.area,
                    })));
                    return;
                }
                self.outbox.push(Op::Override {
                    conflict,
                    option,
                    note: text,
                });
            }
            EditorPurpose::CommitMessage => {
                if !text.is_empty() {
                    self.commit_message = Some(text);
                }
            }
            EditorPurpose::Answer { question } => {
                let answer = if text.is_empty() {
                    self.session
                        .questions
                        .iter()
                        .find(|q| q.id == question)
                        .map(|q| q.default.clone())
                        .unwrap_or_default()
                } else {
                    text
                };
                self.outbox.push(Op::Answer { question, answer });
            }
            EditorPurpose::Search => {
                if text.is_empty() {
                    self.search = None;
                    return;
                }
                let req = self.req();
                let agent = self.transcripts.active_key();
                self.search = Some(Search::new(text.clone(), agent.clone(), req));
                self.outbox.push(Op::SearchTranscript {
                    agent,
                    query: text,
                    req,
                });
            }
        }
    }

    /// Runs an action picked in the palette: first moves to where its binding
    /// lives (a view, or a pane of the main screen), then acts as its key would.
    pub(super) fn run_from_palette(
        &mut self,
        context: Context,
        action: Action,
        agent: Option<String>,
    ) {
        if let Some(i) = agent.and_then(|a| self.agents.iter().position(|x| x.name == a)) {
            self.agent_sel = i;
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

    pub(super) fn on_action(&mut self, action: Action) {
        match action {
            Action::CancelSession => self.cancel_or_quit(),
            Action::Suspend => self.external = Some(External::Suspend),
            Action::FocusNext | Action::FocusPrev => {
                if self.screen == Screen::Main {
                    let order = [Focus::Prompt, Focus::Agents, Focus::Transcript];
                    let i = order.iter().position(|f| *f == self.focus).unwrap_or(0);
                    let step = if action == Action::FocusNext { 1 } else { 2 };
                    self.focus = order[(i + step) % 3];
                    // Moved there on purpose: the editor takes the keys.
                    self.prompt_active |= self.focus == Focus::Prompt;
                }
            }
            Action::Help => self.overlay = Some(Overlay::Help { scroll: 0 }),
            Action::Palette => self.overlay = Some(Overlay::Palette(Default::default())),
            Action::Conflicts => self.screen = Screen::Conflicts,
            Action::Files => {
                self.screen = Screen::Files;
                self.load_selected_file();
            }
            Action::Metrics => self.screen = Screen::Metrics,
            Action::History => {
                self.screen = Screen::History;
                let req = self.req();
                self.past.pending = Some(req);
                self.outbox.push(Op::ListSessions { req });
            }
            Action::OpenSession => {
                if let Some(id) = self.past.selected().map(|s| s.id.clone()) {
                    let req = self.req();
                    self.past.opened = Some(Opened {
                        id: id.clone(),
                        pending: Some(req),
                        view: None,
                    });
                    self.outbox.push(Op::LoadSession { session: id, req });
                }
            }
            Action::Answer => {
                match self
                    .session
                    .questions
                    .iter()
                    .find(|q| q.answer.is_none())
                    .cloned()
                {
                    Some(q) => {
                        let (open, asked) = self.open_questions();
                        let number = asked - open + 1;
                        self.open_editor(
                            EditorPurpose::Answer {
                                question: q.id.clone(),
                            },
                            &format!(
                                " question {number} of {asked}: {} — Enter answers (empty: “{}”) · Esc ",
                                q.text, q.default
                            ),
                            "",
                        )
                    }
                    None => self.toast("no open question", false),
                }
            }
            Action::Back => self.screen = Screen::Main,
            Action::Quit => {
                if self.session.running() {
                    self.overlay = Some(Overlay::ConfirmQuit);
                } else {
                    self.quit = true;
                }
            }
            Action::Down
            | Action::Up
            | Action::Top
            | Action::Bottom
            | Action::PageUp
            | Action::PageDown => self.on_list(action),
            Action::PauseTask | Action::CancelTask | Action::RetryTask => {
                self.on_task_action(action)
            }
            Action::PrevTab => self.transcripts.cycle(-1),
            Action::NextTab => self.transcripts.cycle(1),
            Action::Follow => {
                let req = self.transcripts.follow();
                self.request_page(req);
            }
            Action::Search => {
                let text = self
                    .search
                    .as_ref()
                    .map(|s| s.query.clone())
                    .unwrap_or_default();
                self.open_editor(
                    EditorPurpose::Search,
                    " search the transcript — Enter finds · Esc ",
                    &text,
                );
            }
            Action::SearchNext | Action::SearchPrev => {
                let view = self.transcripts.active_key();
                let Some(search) = self.search.as_mut().filter(|s| s.agent == view) else {
                    self.toast("no search in this tab: / searches", false);
                    return;
                };
                let target = search.step(action == Action::SearchNext);
                let status = search.status();
                match target {
                    Some(pos) => {
                        self.toast(status, false);
                        self.jump_to(pos);
                    }
                    None => self.toast(status, false),
                }
            }
            Action::OptionPrev | Action::OptionNext => {
                let n = self
                    .selected_conflict()
                    .map(|c| c.options.len())
                    .unwrap_or(0);
                if n > 0 {
                    let o = self.conflicts.option;
                    self.conflicts.option = if action == Action::OptionNext {
                        (o + 1) % n
                    } else {
                        (o + n - 1) % n
                    };
                }
            }
            Action::Decide => {
                if let Some((conflict, option)) = self.selected_option() {
                    self.outbox.push(Op::Pick { conflict, option });
                }
            }
            Action::AcceptVotes => self.outbox.push(Op::AcceptVotes),
            Action::Override => {
                if let Some((conflict, option)) = self.selected_option() {
                    let title =
                        format!(" override {conflict} with {option}: why? — Enter confirms · Esc ");
                    self.open_editor(EditorPurpose::Override { conflict, option }, &title, "");
                }
            }
            Action::NextOpen => {
                let n = self.session.conflicts.len();
                if let Some(i) = (1..=n)
                    .map(|d| (self.conflicts.sel + d) % n.max(1))
                    .find(|i| {
                        self.session
                            .conflicts
                            .get(*i)
                            .is_some_and(|c| c.decision.is_none())
                    })
                {
                    self.conflicts.sel = i;
                    self.conflicts.option = 0;
                    self.conflicts.scroll = 0;
                } else {
                    self.toast("no open conflict", false);
                }
            }
            Action::Preview => {
                self.files.show_diff = false;
                self.load_selected_file();
            }
            Action::Diff => {
                self.files.show_diff = !self.files.show_diff;
                self.files.scroll = 0;
                let shown = self.files.preview.as_ref().map(|p| p.path.clone());
                if shown != self.selected_path() {
                    self.load_selected_file();
                }
            }
            Action::ToggleAccept => {
                if let Some(f) = self.selected_file().cloned() {
                    if f.refused.is_some() {
                        self.toast("a refused path cannot be accepted", true);
                    } else {
                        self.outbox.push(Op::SetFileAccepted {
                            path: f.path,
                            accepted: !f.accepted,
                        });
                    }
                }
            }
            Action::EditFile => self.edit_selected_file(),
            Action::EditMessage => {
                let text = self.commit_message.clone().unwrap_or_default();
                self.open_editor(
                    EditorPurpose::CommitMessage,
                    " commit message — Enter saves · Alt-Enter newline · Esc ",
                    &text,
                );
            }
            Action::Commit => {
                if self.session.commit.is_some() {
                    self.toast("already committed", false);
                } else if self.commit_message.is_none() {
                    self.toast(
                        "nothing to commit yet: the session has not reached deliver",
                        true,
                    );
                } else {
                    // An unedited message is generated again at the commit,
                    // so its file counts follow the person's accept/reject.
                    let edited = self.commit_message != self.files.generated_message;
                    // A commit the secret scan blocks is answered by
                    // `Rejected` naming the files; `!` then overrides.
                    self.outbox.push(Op::Commit {
                        message: self.commit_message.clone().filter(|_| edited),
                        allow_secrets: false,
                    });
                    self.toast("committing…", false);
                }
            }
            Action::CommitAnyway => match self.files.secrets_blocked.take() {
                Some(_) if self.session.commit.is_none() => {
                    let edited = self.commit_message != self.files.generated_message;
                    self.outbox.push(Op::Commit {
                        message: self.commit_message.clone().filter(|_| edited),
                        allow_secrets: true,
                    });
                    self.toast("committing despite the secret scan…", false);
                }
                _ => self.toast("the secret scan blocked nothing: C commits as usual", false),
            },
            Action::PauseSession => self.toggle_pause(),
            Action::BudgetPrompt => self.show_budget_prompt(),
            Action::Memory => self.open_memory(),
            Action::RetryTaskOn => self.retry_on_another_model(),
            // The overlays' own keys (memory, budget prompt) and the
            // editors' keys are handled where they apply.
            Action::EditMemory
            | Action::RaiseBudget
            | Action::StopSession
            | Action::Submit
            | Action::Newline
            | Action::LeaveEditor => {}
        }
    }

    fn edit_selected_file(&mut self) {
        let Some(f) = self.selected_file().cloned() else {
            return;
        };
        if f.refused.is_some() {
            return self.toast("a refused path has no content to edit", true);
        }
        if self.session.commit.is_some() {
            return self.toast("already committed", false);
        }
        if self.commit_message.is_none() {
            return self.toast(
                "files can be edited once the session waits at deliver (after tests and review)",
                true,
            );
        }
        match &self.files.preview {
            Some(Preview {
                path,
                content: Some(Ok(content)),
                ..
            }) if *path == f.path => {
                self.external = Some(External::Edit {
                    path: f.path,
                    content: content.clone(),
                });
            }
            _ => {
                self.load_selected_file();
                self.toast("loading the file: press e again in a moment", false);
            }
        }
    }

    pub(super) fn on_list(&mut self, action: Action) {
        let page = self.frame.transcript_rows.max(2) as usize - 1;
        let step = |sel: usize, n: usize| -> usize {
            if n == 0 {
                return 0;
            }
            match action {
                Action::Down => (sel + 1).min(n - 1),
                Action::Up => sel.saturating_sub(1),
                Action::Top => 0,
                Action::Bottom => n - 1,
                Action::PageDown => (sel + page).min(n - 1),
                _ => sel.saturating_sub(page),
            }
        };
        match self.screen {
            Screen::Main => match self.focus {
                Focus::Agents => self.agent_sel = step(self.agent_sel, self.agents.len()),
                Focus::Transcript => {
                    let rows = u64::from(self.frame.transcript_rows);
                    let req = match action {
                        Action::Down => self.transcripts.scroll_down(1, rows),
                        Action::Up => self.transcripts.scroll_up(1, rows),
                        Action::PageDown => self.transcripts.scroll_down(page as u64, rows),
                        Action::PageUp => self.transcripts.scroll_up(page as u64, rows),
                        Action::Top => self.transcripts.jump_to(0, rows, false),
                        _ => self.transcripts.follow(),
                    };
                    self.request_page(req);
                }
                Focus::Prompt => {}
            },
            Screen::Conflicts => {
                let (max, page) = self.frame.conflicts_scroll;
                match action {
                    // The positions scroll (they may not fit at 80x24).
                    Action::PageDown => {
                        self.conflicts.scroll = self.conflicts.scroll.saturating_add(page).min(max)
                    }
                    Action::PageUp => {
                        self.conflicts.scroll = self.conflicts.scroll.min(max).saturating_sub(page)
                    }
                    _ => {
                        let before = self.conflicts.sel;
                        self.conflicts.sel = step(before, self.session.conflicts.len());
                        if before != self.conflicts.sel {
                            self.conflicts.option = 0;
                            self.conflicts.scroll = 0;
                        }
                    }
                }
            }
            Screen::Files => match action {
                Action::PageDown => {
                    self.files.scroll = self.files.scroll.saturating_add(page as u16)
                }
                Action::PageUp => self.files.scroll = self.files.scroll.saturating_sub(page as u16),
                _ => {
                    let before = self.files.sel;
                    self.files.sel = step(before, self.session.files.len());
                    if before != self.files.sel {
                        self.load_selected_file();
                    }
                }
            },
            Screen::History => self.past.sel = step(self.past.sel, self.past.list().len()),
            Screen::Metrics => {}
        }
    }

    /// Shows transcript position `pos` of the active view, centred.
    fn jump_to(&mut self, pos: u64) {
        let rows = u64::from(self.frame.transcript_rows);
        let req = self.transcripts.jump_to(pos, rows, true);
        self.request_page(req);
    }

    pub(super) fn on_search_results(
        &mut self,
        req: RequestId,
        agent: Option<String>,
        query: String,
        positions: Vec<u64>,
        truncated: bool,
    ) {
        let view = self.transcripts.active_key();
        let bottom = self.transcripts.window().bottom_pos();
        let Some(search) = self
            .search
            .as_mut()
            .filter(|s| s.pending == Some(req) && s.agent == agent && s.query == query)
        else {
            return;
        };
        search.pending = None;
        search.positions = positions;
        search.truncated = truncated;
        search.current = search.first_from(bottom);
        let target = search
            .current
            .and_then(|i| search.positions.get(i).copied());
        let status = search.status();
        self.toast(status, false);
        if let Some(pos) = target.filter(|_| view == agent) {
            self.jump_to(pos);
        }
    }

    pub(super) fn request_page(&mut self, req: Option<PageRequest>) {
        if let Some(page) = req {
            let id = self.req();
            self.transcripts.mark_pending(&page.agent, id);
            self.outbox.push(Op::LoadTranscript {
                agent: page.agent,
                from_seq: page.from,
                len: page.len,
                req: id,
            });
        }
    }

    fn on_task_action(&mut self, action: Action) {
        let Some(agent) = self.agents.get(self.agent_sel).map(|a| a.name.clone()) else {
            return;
        };
        let tasks: Vec<(String, TaskState)> = self
            .session
            .agent_tasks(&agent)
            .map(|(id, t)| (id.clone(), t.state))
            .collect();
        let find = |states: &[TaskState]| {
            tasks
                .iter()
                .rev()
                .find(|(_, s)| states.contains(s))
                .map(|(id, _)| id.clone())
        };
        let op = match action {
            Action::PauseTask => match find(&[TaskState::Paused]) {
                Some(task) => Some(Op::ResumeTask { task }),
                None => find(&[TaskState::Running, TaskState::Retrying, TaskState::Queued])
                    .map(|task| Op::PauseTask { task }),
            },
            Action::CancelTask => find(&[
                TaskState::Running,
                TaskState::Retrying,
                TaskState::Queued,
                TaskState::Paused,
            ])
            .map(|task| Op::CancelTask { task }),
            _ => {
                find(&[TaskState::Failed, TaskState::Cancelled]).map(|task| Op::RetryTask { task })
            }
        };
        match op {
            Some(op) => self.outbox.push(op),
            None => self.toast(format!("{agent} has no task for that"), false),
        }
    }

    /// The selected conflict.
    pub fn selected_conflict(&self) -> Option<&crate::protocol::session_view::ConflictView> {
        self.session.conflicts.get(self.conflicts.sel)
    }

    fn selected_option(&self) -> Option<(String, String)> {
        let c = self.selected_conflict()?;
        let option = c.options.get(self.conflicts.option)?;
        Some((c.id.clone(), option.clone()))
    }

    /// The selected file entry.
    pub fn selected_file(&self) -> Option<&crate::protocol::session_view::FileEntry> {
        self.session.files.values().nth(self.files.sel)
    }

    fn selected_path(&self) -> Option<String> {
        self.selected_file()
            .filter(|f| f.refused.is_none())
            .map(|f| f.path.clone())
    }

    pub(super) fn load_selected_file(&mut self) {
        self.files.scroll = 0;
        let Some(path) = self.selected_path() else {
            self.files.preview = None;
            return;
        };
        // Loaded or on its way: nothing to ask (a failed load is asked again).
        if self
            .files
            .preview
            .as_ref()
            .is_some_and(|p| p.path == path && !matches!(p.content, Some(Err(_))))
        {
            return;
        }
        let req = self.req();
        self.files.preview = Some(Preview {
            req,
            path: path.clone(),
            content: None,
            diff: None,
            lines: Vec::new(),
        });
        self.outbox.push(Op::LoadFile { path, req });
    }
}
