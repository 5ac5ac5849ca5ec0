//! `docs/DECISIONS.md` in the delivered project: an architecture decision record
//! per conflict — options, each agent's position, the ballots, the tally, the
//! outcome and who decided (vote, chair or the person, with the person's note).
//! It is staged when implementation starts, when the decisions are final.
//! A session in a DIR whose project already has the file appends its own
//! section. The text holds no session id, time or path, so the offline team's
//! projects stay identical from run to run.

use std::fmt::Write as _;

use super::super::actor::{Actor, StagedFile};
use crate::protocol::{DecidedBy, EventBody, FileChange};
use crate::store::RecordKey;

/// Where the record goes, relative to DIR.
pub const DECISIONS_PATH: &str = "docs/DECISIONS.md";

const INTRO: &str = "# Architecture decisions\n\nThe decisions the team of agents took with quorum, one record per \
conflict between their plans: the options, each agent's position, the ballots, the tally, and who \
decided — the vote (more than half of the valid ballots), the chair (after a tie) or a person.\n";

impl Actor {
    /// This session's section of the record, through the sanitiser
    /// ([`crate::sanitize::text`]); `None` without conflicts.
    pub(crate) fn decisions_section(&self) -> Option<String> {
        let s = self.session.as_ref()?;
        if s.design.conflicts.is_empty() {
            return None;
        }
        let title = s.prompt.lines().next().unwrap_or("").trim();
        let mut out = format!("\n## {title}\n");
        for (n, k) in s.design.conflicts.iter().enumerate() {
            let _ = write!(out, "\n### {}. {}\n\n", n + 1, k.topic);
            let decision = s.design.decisions.get(&k.id);
            let counts = |tally: &std::collections::BTreeMap<String, u32>| {
                tally
                    .values()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join("–")
            };
            match decision {
                Some(d) => {
                    let how = match d.decided_by {
                        DecidedBy::Vote => format!("by vote, {}", counts(&d.tally)),
                        DecidedBy::Chair => {
                            format!("by the chair after a tie, {}", counts(&d.tally))
                        }
                        DecidedBy::Human => "by a person".to_string(),
                    };
                    let _ = writeln!(out, "- **Decision:** {} — decided {how}", d.option);
                }
                None => {
                    let _ = writeln!(out, "- **Decision:** none yet");
                }
            }
            let _ = writeln!(out, "- **Options:** {}", k.options.join(", "));
            let _ = writeln!(
                out,
                "- **Blocking:** {}",
                if k.blocking { "yes" } else { "no" }
            );
            if !k.positions.is_empty() {
                out.push_str("\nPositions:\n\n");
                for p in &k.positions {
                    let _ = writeln!(out, "- {} ({}): “{}”", p.agent, p.option, p.quote.trim());
                }
            }
            if let Some(ballots) = s.design.ballots.get(&k.id).filter(|b| !b.is_empty()) {
                out.push_str("\nBallots:\n\n| agent | ballot | rationale |\n|---|---|---|\n");
                for (agent, ballot) in ballots {
                    let (option, why) = match ballot {
                        Some(b) => (b.option.as_str(), b.rationale.as_str()),
                        None => ("abstained", "the ballot failed"),
                    };
                    let why = why.replace('|', "\\|").replace('\n', " ");
                    let _ = writeln!(out, "| {agent} | {option} | {why} |");
                }
                if let Some(d) = decision {
                    let tally: Vec<String> =
                        d.tally.iter().map(|(o, n)| format!("{o} {n}")).collect();
                    let _ = writeln!(out, "\nTally: {}.", tally.join(", "));
                }
            }
            if let Some((from, note)) = s.design.overrides.get(&k.id) {
                let from = from.as_deref().unwrap_or("no result");
                let _ = writeln!(
                    out,
                    "\nOverridden by a person (instead of {from}): {}",
                    note.trim()
                );
            } else if let Some(d) = decision.filter(|d| d.decided_by == DecidedBy::Chair) {
                let _ = writeln!(out, "\nThe chair's rationale: {}", d.rationale.trim());
            }
        }
        // What the tests ran, per component, once they have run.
        if !s.tests.last_tests.is_empty() {
            out.push_str("\n### Tests\n\n");
            for line in super::super::testing::round_lines(&s.tests.last_tests) {
                let _ = writeln!(out, "- {line}");
            }
            if let Some(t) = s
                .tests
                .last_tests
                .iter()
                .find(|t| t.isolation != Default::default())
            {
                let _ = writeln!(out, "\nSandbox: {}", t.isolation.summary());
            }
        }
        // Topics, quotes and rationales are model text; the record is read
        // on terminals (docs/troubleshooting.md).
        Some(crate::sanitize::text(&out).into_owned())
    }

    /// Stages `docs/DECISIONS.md` again when the tests have passed (at the end
    /// of the test phase, and of a review whose repairs were tested), when
    /// this session staged it: its section then says what the tests ran. The
    /// file keeps its owner and whether the person accepted it.
    pub(crate) async fn restage_decisions(&mut self) {
        let staged = self.session.as_ref().and_then(|s| {
            let f = s.work.files.get(DECISIONS_PATH)?;
            Some((f.agent.clone(), f.task.clone()))
        });
        if let Some((agent, task)) = staged {
            self.stage_decisions(&agent, &task).await;
        }
    }

    /// Stages `docs/DECISIONS.md` for `agent` (the chair), appending to the
    /// project's existing record if there is one.
    pub(crate) async fn stage_decisions(&mut self, agent: &str, task: &str) {
        let Some(section) = self.decisions_section() else {
            return;
        };
        let Some(session) = self.session.as_ref().map(|s| s.id.clone()) else {
            return;
        };
        // Staged again: the text before this session's section, and what DIR
        // held, are those of the first staging (DIR may since hold this very
        // file, written by a delivery that a crash cut short).
        let first = self.session.as_ref().and_then(|s| {
            let staged = s.work.files.get(DECISIONS_PATH)?;
            Some((s.design.decisions_prefix.clone()?, staged.clone()))
        });
        let prefix = match &first {
            Some((prefix, _)) => prefix.clone(),
            None => {
                let workspace = self.workspace.clone();
                let existing = tokio::task::spawn_blocking(move || workspace.read(DECISIONS_PATH))
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .flatten()
                    .map(|b| String::from_utf8_lossy(&b).into_owned());
                match existing {
                    Some(old) => format!("{}\n", old.trim_end()),
                    None => INTRO.to_string(),
                }
            }
        };
        let content = format!("{prefix}{section}");
        let workspace = self.workspace.clone();
        let bytes = content.clone();
        let staged = tokio::task::spawn_blocking(move || {
            workspace.stage(&session, DECISIONS_PATH, bytes.as_bytes())
        })
        .await;
        let change = match staged {
            Ok(Ok(change)) => change,
            Ok(Err(e)) => {
                let reason = e.reason();
                self.emit(EventBody::PathRefused {
                    path: DECISIONS_PATH.into(),
                    agent: agent.into(),
                    reason,
                });
                return;
            }
            Err(e) => {
                self.emit(EventBody::Error {
                    message: format!("cannot stage {DECISIONS_PATH}: {e}"),
                });
                return;
            }
        };
        let file = match first {
            // Staged again: the first staging's change and base stand, and
            // the person's accept or reject.
            Some((_, staged)) => StagedFile {
                content: content.clone(),
                ..staged
            },
            None => StagedFile {
                content: content.clone(),
                agent: agent.to_string(),
                task: task.to_string(),
                change,
                accepted: change == FileChange::New,
                base: self.workspace.content_id(DECISIONS_PATH).ok(),
            },
        };
        let change = file.change;
        if let Some(s) = self.s() {
            s.design.decisions_prefix = Some(prefix);
        }
        self.record(RecordKey::File, DECISIONS_PATH, &file);
        if let Some(s) = self.s() {
            s.work.files.insert(DECISIONS_PATH.to_string(), file);
        }
        self.note(
            agent,
            task,
            &format!("✚ staged {DECISIONS_PATH} ({} bytes)", content.len()),
        );
        self.emit(EventBody::FileStaged {
            path: DECISIONS_PATH.into(),
            agent: agent.into(),
            bytes: content.len() as u64,
            change,
        });
    }
}
