//! The deliver phase's commit message: a subject line from the prompt, then
//! the decisions, the files, what the tests ran and the findings, through the
//! sanitiser; the person's own message when they wrote one; and the trailers
//! (`Quorum-Session:`, `Quorum-Provider: offline`).

use std::fmt::Write as _;

use super::super::super::actor::{Actor, Session};
use crate::protocol::{DecidedBy, FileChange};

/// The commit message's decisions: each decided conflict, its option and
/// how it was decided.
fn summarise_decisions(s: &Session, out: &mut String) {
    if !s.design.decisions.is_empty() {
        out.push_str("\nDecisions:\n");
        for k in &s.design.conflicts {
            if let Some(d) = s.design.decisions.get(&k.id) {
                let by = match d.decided_by {
                    DecidedBy::Vote => {
                        let counts: Vec<String> = d.tally.values().map(u32::to_string).collect();
                        format!("vote {}", counts.join("–"))
                    }
                    DecidedBy::Chair => "chair, after a tie".to_string(),
                    DecidedBy::Human => "decided by the person".to_string(),
                };
                let _ = writeln!(out, "- {}: {} ({by})", k.topic, d.option);
            }
        }
    }
}

/// The commit message's tests: what ran, per component, and the staged files
/// left out of the commit that the tests ran with.
fn summarise_tests(s: &Session, out: &mut String) {
    // What ran, per component; "passed" only for a run that executed
    // tests and passed them.
    let runs: Vec<&crate::workspace::sandbox::TestOutcome> = if s.tests.last_tests.is_empty() {
        s.tests.last_test.iter().collect()
    } else {
        s.tests.last_tests.iter().collect()
    };
    match runs.as_slice() {
        [] => out.push_str(
            "Tests: none ran
",
        ),
        [t] => {
            let _ = writeln!(
                out,
                "Tests: {}, {} passed, {} failed ({})",
                t.status.describe(),
                t.passed,
                t.failed,
                if t.command.is_empty() {
                    s.tests.test_command.as_deref().unwrap_or("")
                } else {
                    &t.command
                }
            );
        }
        many => {
            out.push_str(
                "Tests:
",
            );
            for line in super::super::super::testing::round_lines(
                &many.iter().map(|t| (*t).clone()).collect::<Vec<_>>(),
            ) {
                let _ = writeln!(out, "- {}", line.replace('`', ""));
            }
        }
    }
    // The tests ran on every staged file: the files left out of the
    // commit were part of the tested tree (a rejected test file may leave
    // the committed suite with nothing to run).
    let left_out: Vec<&str> = s
        .work
        .files
        .iter()
        .filter(|(_, f)| !f.accepted)
        .map(|(p, _)| p.as_str())
        .collect();
    if !runs.is_empty() && !left_out.is_empty() {
        let mut names = left_out
            .iter()
            .take(5)
            .copied()
            .collect::<Vec<_>>()
            .join(", ");
        if left_out.len() > 5 {
            let _ = write!(names, " and {} more", left_out.len() - 5);
        }
        let _ = writeln!(
            out,
            "The tests ran with every staged file; left out of this commit: {names} (the committed files were not tested without them)"
        );
    }
}

impl Actor {
    /// The generated commit message without its trailers: a subject line from the
    /// prompt, then the decisions, files, tests and findings; through the
    /// sanitiser ([`crate::sanitize::text`]), as topics and options are model
    /// text.
    pub(crate) fn commit_summary(&self) -> String {
        let Some(s) = self.session.as_ref() else {
            return String::new();
        };
        let first = s.prompt.lines().next().unwrap_or("").trim();
        let subject = crate::secrets::redact::clip(first, 61);
        let mut out = format!("quorum: {subject}\n");
        // The offline team says what it built (docs/offline-script.md, "The demo").
        if self.settings.offline_demo() {
            out.push_str(
                "\nBuilt by quorum's offline (simulated) team: its demo item service, which it\nbuilds whatever the prompt asks.\n",
            );
            if let Some(why) = &s.options.unbuilt {
                let _ = writeln!(
                    out,
                    "The request was not built ({why}); configure a provider (`quorum init`)."
                );
            }
        }
        summarise_decisions(s, &mut out);
        let accepted: Vec<_> = s.work.files.values().filter(|f| f.accepted).collect();
        let new = accepted
            .iter()
            .filter(|f| f.change == FileChange::New)
            .count();
        let _ = write!(
            out,
            "\nFiles: {} ({new} new, {} modified)\n",
            accepted.len(),
            accepted.len() - new
        );
        summarise_tests(s, &mut out);
        if !s.work.findings.is_empty() {
            let blocking = s.work.findings.iter().filter(|f| f.blocking).count();
            let _ = writeln!(
                out,
                "Review: {} finding(s), {blocking} blocking",
                s.work.findings.len()
            );
        }
        crate::sanitize::text(&out).into_owned()
    }

    pub(super) fn trailers(&self) -> String {
        let Some(s) = self.session.as_ref() else {
            return String::new();
        };
        let mut t = format!("Quorum-Session: {}\n", s.id);
        if self.settings.any_offline() {
            t.push_str("Quorum-Provider: offline\n");
        }
        t
    }

    /// The person changed what is accepted (or edited a file) while the
    /// session waits at deliver in the TUI: the commit message is generated
    /// again (files and tests as they now stand) and sent as a new
    /// `DeliveryReady`, so that the prefill follows the accepted files.
    pub(crate) fn refresh_delivery_message(&mut self) {
        let waiting = self.session.as_ref().is_some_and(|s| {
            s.options.interactive
                && s.progress.phase_started
                && !s.progress.delivered
                && s.progress.finished.is_none()
                && self.workflow.phases.get(s.progress.phase).map(|p| p.kind)
                    == Some(crate::config::workflow::PhaseKind::Deliver)
        });
        if waiting {
            let message = self.commit_summary();
            self.ephemeral(crate::protocol::Event::DeliveryReady { message });
        }
    }

    /// The commit message: the person's (else the generated summary), then
    /// the trailers, through the sanitiser.
    pub(super) fn commit_message(&self, message: Option<String>) -> String {
        let mut text = message
            .filter(|m| !m.trim().is_empty())
            .unwrap_or_else(|| self.commit_summary());
        while text.ends_with("\n\n") {
            text.pop();
        }
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text.push('\n');
        text.push_str(&self.trailers());
        // Decisions, topics and test lines are model text: a commit message
        // is shown by `git log` on a terminal.
        crate::sanitize::text(&text).into_owned()
    }
}
