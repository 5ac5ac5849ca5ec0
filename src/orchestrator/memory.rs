//! Agent memory: short notes each agent keeps per target directory across
//! sessions (conventions, past decisions, the files it owns), stored in the
//! db's `memory` tree, carried in its prompts as the `memory` input, added to
//! at each delivery and editable by the person ([`Op::LoadMemory`],
//! [`Op::SetMemory`]).
//!
//! Notes are lines. A line `key: text` whose key quorum writes (`decision
//! TOPIC`, `owns`, `tests`) is replaced when a later delivery writes the same
//! key; any other line is the person's and stays until they remove it. The
//! notes keep to [`MEMORY_MAX_BYTES`] by dropping their oldest lines.
//!
//! [`Op::LoadMemory`]: crate::protocol::Op::LoadMemory
//! [`Op::SetMemory`]: crate::protocol::Op::SetMemory

use std::collections::{BTreeMap, BTreeSet};

use super::actor::Actor;
use crate::protocol::{DecidedBy, Event, MEMORY_MAX_BYTES};
use crate::store::Write;

/// The key of a note line: the text before its first `": "`, if any.
fn key_of(line: &str) -> Option<&str> {
    line.split_once(": ").map(|(k, _)| k.trim())
}

/// `old` notes with `new` lines merged in: a new line replaces the old lines
/// with its key (an `owns` line lists the union of both), then the oldest
/// lines go until the notes fit in `max` bytes. Blank lines are dropped.
pub fn merge_notes(old: &str, new: &[String], max: usize) -> String {
    let new_keys: BTreeSet<&str> = new.iter().filter_map(|l| key_of(l)).collect();
    let mut owned: BTreeSet<String> = BTreeSet::new();
    let mut lines: Vec<String> = Vec::new();
    for line in old
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
    {
        match key_of(line) {
            Some("owns") if new_keys.contains("owns") => {
                owned.extend(owns(line));
            }
            Some(key) if new_keys.contains(key) => {}
            _ => lines.push(line.to_string()),
        }
    }
    for line in new {
        if key_of(line) == Some("owns") {
            owned.extend(owns(line));
            let all: Vec<String> = owned.iter().cloned().collect();
            lines.push(format!("owns: {}", all.join(", ")));
        } else if !line.trim().is_empty() {
            lines.push(line.trim_end().to_string());
        }
    }
    let mut size: usize = lines.iter().map(|l| l.len() + 1).sum();
    let mut first = 0;
    while size > max && first < lines.len() {
        size -= lines[first].len() + 1;
        first += 1;
    }
    let mut out = lines[first..].join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

fn owns(line: &str) -> impl Iterator<Item = String> + '_ {
    line.split_once(": ")
        .map(|(_, rest)| rest)
        .unwrap_or("")
        .split(", ")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(String::from)
}

impl Actor {
    /// The target directory's key in the `memory` tree.
    fn memory_dir(&self) -> String {
        self.workspace.dir().display().to_string()
    }

    /// Every agent's notes for this DIR (read from the db the first time).
    pub(crate) async fn memories(&mut self) -> &BTreeMap<String, String> {
        if self.memory.is_none() {
            let store = self.store.clone();
            let dir = self.memory_dir();
            let loaded = tokio::task::spawn_blocking(move || store.memories(&dir))
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default();
            self.memory = Some(loaded);
        }
        self.memory.get_or_insert_default()
    }

    /// An agent's notes, when it has any (from the cache [`Actor::memories`]
    /// filled; tasks only start after a session started, which fills it).
    pub(crate) fn memory_of(&self, agent: &str) -> Option<&str> {
        self.memory
            .as_ref()
            .and_then(|m| m.get(agent))
            .map(String::as_str)
            .filter(|n| !n.trim().is_empty())
    }

    fn in_roster(&mut self, op: &str, agent: &str) -> bool {
        if self.settings.agent(agent).is_some() {
            return true;
        }
        let roster: Vec<String> = self
            .settings
            .agents
            .iter()
            .map(|a| a.name.clone())
            .collect();
        self.ephemeral(Event::Rejected {
            op: op.into(),
            reason: format!("no agent `{agent}` in the roster ({})", roster.join(", ")),
        });
        false
    }

    /// `Op::LoadMemory`.
    pub(crate) async fn load_memory(&mut self, agent: &str) {
        if !self.in_roster("load memory", agent) {
            return;
        }
        let notes = self
            .memories()
            .await
            .get(agent)
            .cloned()
            .unwrap_or_default();
        self.ephemeral(Event::Memory {
            agent: agent.to_string(),
            notes,
        });
    }

    /// `Op::SetMemory`.
    pub(crate) async fn set_memory(&mut self, agent: &str, notes: &str) {
        if !self.in_roster("set memory", agent) {
            return;
        }
        if notes.len() > MEMORY_MAX_BYTES {
            self.ephemeral(Event::Rejected {
                op: "set memory".into(),
                reason: format!(
                    "the notes for `{agent}` are {} bytes; at most {MEMORY_MAX_BYTES} fit in its prompts",
                    notes.len()
                ),
            });
            return;
        }
        let notes = merge_notes(notes, &[], MEMORY_MAX_BYTES);
        self.store_memory(agent, notes.clone()).await;
        self.ephemeral(Event::Memory {
            agent: agent.to_string(),
            notes,
        });
    }

    async fn store_memory(&mut self, agent: &str, notes: String) {
        let dir = self.memory_dir();
        self.memories().await;
        if let Some(m) = self.memory.as_mut() {
            if notes.is_empty() {
                m.remove(agent);
            } else {
                m.insert(agent.to_string(), notes.clone());
            }
        }
        self.group.writes.push(Write::Memory {
            dir,
            agent: agent.to_string(),
            notes,
        });
    }

    /// After a delivery: each agent notes the session's decisions, the files
    /// it wrote, and (the test phase's agents) the test command that passed.
    pub(crate) async fn remember_delivery(&mut self) {
        let Some(s) = self.session.as_ref() else {
            return;
        };
        let date = crate::orchestrator::now()
            .split('T')
            .next()
            .unwrap_or("")
            .to_string();
        let mut decisions = Vec::new();
        for k in &s.design.conflicts {
            if let Some(d) = s.design.decisions.get(&k.id) {
                let how = match d.decided_by {
                    DecidedBy::Vote => "by vote",
                    DecidedBy::Chair => "by the chair",
                    DecidedBy::Human => "by the person",
                };
                decisions.push(format!("decision {}: {} ({how}, {date})", k.id, d.option));
            }
        }
        let mut owned: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (path, f) in &s.work.files {
            if f.accepted {
                owned.entry(f.agent.clone()).or_default().push(path.clone());
            }
        }
        let tests = s
            .tests
            .last_test
            .as_ref()
            .filter(|t| t.status == crate::protocol::TestStatus::Passed)
            .and_then(|t| {
                Some(format!(
                    "tests: `{}` ({} passed, {date})",
                    s.tests.test_command.as_deref()?,
                    t.passed
                ))
            });
        let testers: BTreeSet<String> = self
            .workflow
            .phases
            .iter()
            .filter(|p| p.kind == crate::config::workflow::PhaseKind::Test)
            .flat_map(|p| p.agents.iter().cloned())
            .collect();
        let agents: Vec<String> = self
            .settings
            .agents
            .iter()
            .map(|a| a.name.clone())
            .collect();
        self.memories().await;
        let mut changed = Vec::new();
        for agent in agents {
            let mut new = decisions.clone();
            if let Some(paths) = owned.get(&agent) {
                new.push(format!("owns: {}", paths.join(", ")));
            }
            if testers.contains(&agent)
                && let Some(line) = &tests
            {
                new.push(line.clone());
            }
            // Ids are slugs (outputs::check_slug), but an option the person
            // typed or a test command could hold a line: each note is one
            // line, controls shown (no reply plants a line in every prompt).
            for line in &mut new {
                if let std::borrow::Cow::Owned(safe) = crate::sanitize::line(line) {
                    *line = safe;
                }
            }
            if new.is_empty() {
                continue;
            }
            let old = self.memory_of(&agent).unwrap_or("").to_string();
            let notes = merge_notes(&old, &new, MEMORY_MAX_BYTES);
            if notes != old {
                self.store_memory(&agent, notes.clone()).await;
                changed.push((agent, notes));
            }
        }
        for (agent, notes) in changed {
            self.ephemeral(Event::Memory { agent, notes });
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn new_notes_replace_their_key_and_keep_the_persons_lines() {
        let old =
            "prefer small functions\ndecision storage: json (by vote, 2026-01-01)\nowns: a.py\n";
        let new = vec![
            "decision storage: sqlite (by the person, 2026-02-01)".to_string(),
            "owns: b.py".to_string(),
        ];
        assert_eq!(
            merge_notes(old, &new, 4096),
            "prefer small functions\ndecision storage: sqlite (by the person, 2026-02-01)\nowns: a.py, b.py\n"
        );
        assert_eq!(merge_notes("", &[], 4096), "");
        assert_eq!(merge_notes("  \n\nkeep me  \n", &[], 4096), "keep me\n");
    }

    #[test]
    fn the_oldest_lines_go_when_the_notes_are_full() {
        let old: String = (0..10).map(|i| format!("note {i}\n")).collect();
        let merged = merge_notes(&old, &["tests: `make test` (3 passed)".into()], 50);
        assert!(merged.len() <= 50, "{merged}");
        assert!(merged.ends_with("tests: `make test` (3 passed)\n"));
        assert!(merged.contains("note 9") && !merged.contains("note 0"));
    }
}
