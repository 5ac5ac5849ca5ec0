//! The confirmations: quitting while a session runs, cancelling the running
//! session (the first `Ctrl-C`; a second one confirms), and running
//! model-written code unconfined on a machine that cannot jail it
//! (docs/sandbox.md).

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use crate::protocol::Op;
use crate::tui::app::{App, Overlay};
use crate::tui::keymap::Action;
use crate::tui::widgets::{centered, popup};

impl App {
    /// `Ctrl-C`: while a session runs, asks whether to cancel it
    /// ([`Overlay::ConfirmCancel`]; a second `Ctrl-C` confirms); otherwise quits.
    pub(crate) fn cancel_or_quit(&mut self) {
        if self.session.running() {
            self.overlay = Some(Overlay::ConfirmCancel);
        } else {
            self.run.quit = true;
        }
    }

    /// The cancel was confirmed: the session is cancelled (resumable).
    fn cancel_confirmed(&mut self) {
        if self.session.running() {
            self.outbox.push(Op::CancelSession);
            let quit = self
                .keymap
                .key_for(
                    crate::config::keymap::Context::Outside,
                    crate::config::keymap::Action::Quit,
                )
                .unwrap_or("q");
            self.toast(
                format!("cancelling the session — {quit} or Ctrl-C quits; `quorum resume` continues it later"),
                false,
            );
        }
    }

    /// A key while "run unconfined?" is up: `y` starts the session
    /// unconfined, `n` starts it confined, `Esc` goes back to the prompt.
    pub(crate) fn unconfined_key(&mut self, prompt: String, key: KeyEvent) {
        match key.code {
            KeyCode::Char('y') | KeyCode::Char('Y') => self.start_session(&prompt, true),
            KeyCode::Char('n') | KeyCode::Char('N') => self.start_session(&prompt, false),
            // Back to the prompt, which still holds the text.
            KeyCode::Esc => {}
            _ => self.overlay = Some(Overlay::ConfirmUnconfined { prompt }),
        }
    }

    /// A key while "cancel the running session?" is up.
    pub(crate) fn confirm_cancel_key(&mut self, key: KeyEvent, action: Option<Action>) {
        match key.code {
            _ if action == Some(Action::CancelSession) => self.cancel_confirmed(),
            KeyCode::Char('y') | KeyCode::Char('Y') => self.cancel_confirmed(),
            KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => {}
            _ => self.overlay = Some(Overlay::ConfirmCancel),
        }
    }

    /// A key while "quit while a session runs?" is up.
    pub(crate) fn confirm_quit_key(&mut self, key: KeyEvent) {
        match key.code {
            KeyCode::Char('y') | KeyCode::Char('Y') => {
                // At deliver with failing tests, the run loop's
                // shutdown ends the session failed, DIR untouched;
                // otherwise the session stops as interrupted.
                if self.tests_verdict().is_none() && !self.others_attached() {
                    self.outbox.push(Op::Interrupt);
                }
                self.run.quit = true;
            }
            KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => {}
            _ => self.overlay = Some(Overlay::ConfirmQuit),
        }
    }
}

/// "Quit while a session runs?"
pub fn draw_confirm(app: &App, frame: &mut Frame, body: Rect) {
    // At deliver with failing tests, quitting ends the session failed.
    let failing = app.tests_verdict().is_some();
    let area = centered(
        body,
        if failing { 60 } else { 50 },
        if failing { 6 } else { 5 },
    );
    frame.render_widget(Clear, area);
    let block = popup(&app.theme, " quit? ");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let question = if failing {
        vec![
            Line::styled(
                "The tests failed. Quit without committing?",
                app.theme.style("ui.text"),
            ),
            Line::styled(
                "The session ends failed; DIR is left untouched.",
                app.theme.style("ui.warning"),
            ),
        ]
    } else {
        vec![Line::styled(
            "A session is running. Stop it and quit?",
            app.theme.style("ui.text"),
        )]
    };
    let mut text = question;
    text.extend([Line::from(vec![
        Span::styled("y", app.theme.style("ui.hint.key")),
        Span::styled(" quit · ", app.theme.style("ui.hint.text")),
        Span::styled("n", app.theme.style("ui.hint.key")),
        Span::styled(" stay", app.theme.style("ui.hint.text")),
    ])]);
    frame.render_widget(Paragraph::new(text).alignment(Alignment::Center), inner);
}

/// "Cancel the running session?"
/// "Cancel the running session?": a second `Ctrl-C` (or `y`) cancels it
/// (`quorum resume` can go on with it later), `n`/`Esc` keeps it running.
pub fn draw_confirm_cancel(app: &App, frame: &mut Frame, body: Rect) {
    let area = centered(body, 60, 6);
    frame.render_widget(Clear, area);
    let block = popup(&app.theme, " cancel the session? ");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let text = vec![
        Line::styled(
            "A session is running. Cancel it?",
            app.theme.style("ui.text"),
        ),
        Line::styled(
            "`quorum resume` can go on with it later.",
            app.theme.style("ui.hint.text"),
        ),
        Line::from(vec![
            Span::styled("Ctrl-C/y", app.theme.style("ui.hint.key")),
            Span::styled(" cancel it · ", app.theme.style("ui.hint.text")),
            Span::styled("n/Esc", app.theme.style("ui.hint.key")),
            Span::styled(" keep it running", app.theme.style("ui.hint.text")),
        ]),
    ];
    frame.render_widget(
        Paragraph::new(text)
            .alignment(Alignment::Center)
            .wrap(ratatui::widgets::Wrap { trim: true }),
        inner,
    );
}

/// "This machine cannot confine model-written code: run it anyway?"
/// "This machine cannot confine model-written code": run it anyway (`y`),
/// keep the rule and have the session stop before its setup and tests (`n`),
/// or go back to the prompt (`Esc`).
pub fn draw_unconfined(app: &App, frame: &mut Frame, body: Rect) {
    let area = centered(body, 72, 9);
    frame.render_widget(Clear, area);
    let block = popup(&app.theme, " no sandbox on this machine ");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let reason = app.gate.unconfined.as_deref().unwrap_or_default();
    let text = vec![
        Line::styled(
            "quorum cannot confine the code the agents write here:",
            app.theme.style("ui.text"),
        ),
        Line::styled(reason.to_string(), app.theme.style("ui.warning")),
        Line::styled(
            "Unconfined, its setup and tests can read and write what you can.",
            app.theme.style("ui.text"),
        ),
        Line::styled(
            "docs/sandbox.md says how to enable it.",
            app.theme.style("ui.hint.text"),
        ),
        Line::from(vec![
            Span::styled("y", app.theme.style("ui.hint.key")),
            Span::styled(" run unconfined · ", app.theme.style("ui.hint.text")),
            Span::styled("n", app.theme.style("ui.hint.key")),
            Span::styled(
                " start, stop before running code · ",
                app.theme.style("ui.hint.text"),
            ),
            Span::styled("Esc", app.theme.style("ui.hint.key")),
            Span::styled(" back", app.theme.style("ui.hint.text")),
        ]),
    ];
    frame.render_widget(
        Paragraph::new(text)
            .alignment(Alignment::Center)
            .wrap(ratatui::widgets::Wrap { trim: true }),
        inner,
    );
}
