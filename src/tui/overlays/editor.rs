//! The text editor overlay: an override's note, the commit message, the
//! answer to a question, a transcript search. Enter submits (the text goes
//! where its [`EditorPurpose`] says), Alt-Enter adds a line, Esc leaves.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::widgets::{Block, BorderType, Borders, Clear};
use ratatui_textarea::{TextArea, WrapMode};

use crate::protocol::Op;
use crate::tui::app::{App, External, Overlay};
use crate::tui::keymap::Action;
use crate::tui::search::Search;
use crate::tui::theme::Theme;
use crate::tui::widgets::centered;

/// What an editor overlay's text is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EditorPurpose {
    /// The note of an override of `conflict` with `option`.
    Override {
        /// The id of the conflict being overridden.
        conflict: String,
        /// The option that replaces the decision, one of the conflict's options.
        option: String,
    },
    /// The commit message.
    CommitMessage,
    /// The answer to a question.
    Answer {
        /// The id of the question answered, from its `question_asked` event.
        question: String,
    },
    /// A transcript search.
    Search,
}

/// A text editor overlay.
pub struct Editor {
    /// What it is for.
    pub purpose: EditorPurpose,
    /// Title and instructions.
    pub title: String,
    /// The text.
    pub area: TextArea<'static>,
}

/// A styled editor.
fn text_area(theme: &Theme, title: &str, text: &str) -> TextArea<'static> {
    let lines: Vec<String> = if text.is_empty() {
        vec![String::new()]
    } else {
        text.lines().map(String::from).collect()
    };
    let mut area = TextArea::new(lines);
    area.set_wrap_mode(WrapMode::WordOrGlyph);
    area.set_cursor_line_style(ratatui::style::Style::default());
    area.set_cursor_style(theme.style("ui.cursor"));
    area.set_style(theme.style("ui.text"));
    area.set_block(
        Block::default()
            .borders(Borders::ALL)
            .border_type(BorderType::Rounded)
            .border_style(theme.style("ui.popup.border"))
            .title(title.to_string()),
    );
    area.move_cursor(ratatui_textarea::CursorMove::Bottom);
    area.move_cursor(ratatui_textarea::CursorMove::End);
    area
}

impl App {
    /// Opens the editor overlay for `purpose`, titled `title`, holding `text`.
    pub(crate) fn open_editor(&mut self, purpose: EditorPurpose, title: &str, text: &str) {
        let area = text_area(&self.theme, title, text);
        self.overlay = Some(Overlay::Editor(Box::new(Editor {
            purpose,
            title: title.to_string(),
            area,
        })));
    }

    /// A key while the editor is up.
    pub(crate) fn editor_key(
        &mut self,
        mut editor: Box<Editor>,
        key: KeyEvent,
        action: Option<Action>,
    ) {
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
                self.run.external = Some(External::Suspend);
                self.overlay = Some(Overlay::Editor(editor));
            }
            _ => {
                editor.area.input(key);
                self.overlay = Some(Overlay::Editor(editor));
            }
        }
    }

    fn editor_submitted(&mut self, editor: Box<Editor>) {
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
                    self.screens.commit_message = Some(text);
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

    /// `a`: the editor for the first open question's answer.
    pub(crate) fn answer_question(&mut self) {
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
}

/// The editor overlay.
pub fn draw_editor(app: &App, frame: &mut Frame, body: Rect) {
    let Some(Overlay::Editor(editor)) = &app.overlay else {
        return;
    };
    let lines = editor.area.lines().len() as u16;
    let area = centered(
        body,
        body.width.saturating_sub(8).max(30),
        (lines + 2).clamp(3, 14),
    );
    frame.render_widget(Clear, area);
    frame.render_widget(&editor.area, area);
}
