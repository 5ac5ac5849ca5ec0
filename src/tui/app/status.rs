//! What the status bar says and which keys it offers: only keys that work
//! where and when they are shown (docs/tui.md, "The status bar"). Pure
//! reads of the [`App`].

use super::{App, Screen};
use crate::config::keymap::{Action, Context};

impl App {
    /// Whether `action`'s key does something now, so that its hint may show:
    /// the commit keys once the session waits at deliver (and not after the
    /// commit), the secret-scan override only after the scan refused a
    /// commit, the conflict keys with a conflict to act on, the answer key
    /// with a question open, the search keys with a search in this tab.
    pub fn hint_works(&self, action: Action) -> bool {
        let s = &self.session;
        let at_deliver = self.commit_message.is_some() && s.commit.is_none();
        let conflict = self.selected_conflict();
        match action {
            Action::Commit | Action::EditMessage | Action::EditFile => at_deliver,
            Action::CommitAnyway => at_deliver && self.files.secrets_blocked.is_some(),
            Action::ToggleAccept => s.commit.is_none() && !s.files.is_empty(),
            Action::Preview | Action::Diff => !s.files.is_empty(),
            Action::OptionPrev | Action::OptionNext | Action::Override => conflict.is_some(),
            Action::Decide => conflict.is_some_and(|c| c.decision.is_none()),
            Action::AcceptVotes | Action::NextOpen => s.open_conflicts() > 0,
            Action::Answer => self.open_questions().0 > 0,
            Action::SearchNext | Action::SearchPrev => self
                .search
                .as_ref()
                .is_some_and(|q| q.agent == self.transcripts.active_key()),
            Action::OpenSession => !self.past.list().is_empty(),
            _ => true,
        }
    }

    /// The refine phase's questions without an answer, and how many were
    /// asked: `(open, asked)`.
    pub fn open_questions(&self) -> (usize, usize) {
        let asked = self.session.questions.len();
        let open = self
            .session
            .questions
            .iter()
            .filter(|q| q.answer.is_none())
            .count();
        (open, asked)
    }

    /// While questions wait for the person (the session does not go on
    /// without their answers): "question 2 of 3 waits: A answers", naming
    /// the next one, and how to reach the answer key from where the person
    /// is. `None` when none is open.
    pub fn questions_status(&self) -> Option<String> {
        let (open, asked) = self.open_questions();
        if open == 0 || !self.session.running() {
            return None;
        }
        let next = self.session.questions.iter().find(|q| q.answer.is_none())?;
        let number = self
            .session
            .questions
            .iter()
            .position(|q| q.id == next.id)
            .map_or(1, |i| i + 1);
        let key = self
            .keymap
            .key_for(Context::Outside, Action::Answer)
            .unwrap_or("A");
        let how = if self.contexts().contains(&Context::Outside) {
            format!("{key} answers")
        } else {
            let leave = self
                .keymap
                .key_for(Context::Editor, Action::LeaveEditor)
                .unwrap_or("esc");
            format!("{leave}, then {key} answers")
        };
        let more = if open > 1 {
            format!(" ({} more after it)", open - 1)
        } else {
            String::new()
        };
        Some(format!(
            "question {number} of {asked} waits: “{}”{more} — {how}",
            next.text
        ))
    }

    /// The status while the session waits at deliver: in the files view,
    /// where the commit key works, it is named; elsewhere the way there.
    pub fn ready_status(&self) -> String {
        if self.screen == Screen::Files {
            let commit = self
                .keymap
                .key_for(Context::Files, Action::Commit)
                .unwrap_or("C");
            format!("ready to deliver: {commit} commits the accepted files")
        } else {
            let files = self
                .keymap
                .key_for(Context::Outside, Action::Files)
                .unwrap_or("f");
            format!("ready to deliver: {files} reviews the files and commits them")
        }
    }
}
