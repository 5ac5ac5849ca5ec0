//! The implement phase (kind `tasks`): the scratch tree is prepared, the
//! decision record staged, and the lead breaks the design into tasks, each an
//! implementer's; their replies' file blocks are staged under the path rules
//! (so are the test phase's and the repairs': [`Actor::accept_files`]). Done
//! when the breakdown and every task of it are.

use serde_json::Value;

use super::super::actor::{Actor, Session, StagedFile, Task};
use super::super::inputs;
use super::super::outputs::{self, Breakdown};
use super::{PhaseStatus, TaskCounts};
use crate::config::workflow::Phase;
use crate::llm::TaskKind;
use crate::protocol::edits;
use crate::protocol::file_blocks::{FileBody, ReplyFile};
use crate::protocol::{EventBody, LineKind};
use crate::store::RecordKey;
use crate::workspace::paths;

/// Most `path_refused` events one reply gets for files past the session's
/// file limit; the rest are counted in one last event.
pub(crate) const LISTED_LIMIT_REFUSALS: usize = 100;

/// Done when the breakdown is in and every task of it is done.
pub(super) fn status(s: &Session, phase: &Phase, c: &TaskCounts) -> PhaseStatus {
    c.status_when(&phase.name, s.design.breakdown.is_some())
}

impl Actor {
    /// Prepares the scratch tree, stages the decision record and queues the
    /// breakdown task.
    pub(super) async fn start_implement(&mut self, phase: &Phase, lead: &str) {
        if let Some(s) = self.session.as_ref() {
            let workspace = self.workspace.clone();
            let id = s.id.clone();
            let prepared =
                tokio::task::spawn_blocking(move || workspace.prepare_scratch(&id)).await;
            let problem = match prepared {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e.to_string()),
                Err(e) => Some(e.to_string()),
            };
            if let Some(problem) = problem {
                self.fail_session(format!("cannot prepare the scratch tree: {problem}"));
                return;
            }
        }
        self.stage_decisions(lead, &phase.name).await;
        let context = self.input_of(|s| inputs::breakdown(s, &phase.agents));
        let mut task = Actor::new_task(
            format!("{}.breakdown", phase.name),
            lead,
            &phase.name,
            TaskKind::Breakdown,
            "break the design into tasks".into(),
            context,
        );
        task.priority = 10;
        self.queue_task(task);
    }

    /// Applies the breakdown: one implementation task per entry, with its
    /// dependencies and declared files.
    pub(super) fn accept_breakdown(&mut self, task: &Task, text: &str) -> Result<(), String> {
        let mut breakdown: Breakdown = outputs::parse_json(text)?;
        let phase = self.current_phase();
        let owners = phase.as_ref().map(|p| p.agents.clone()).unwrap_or_default();
        outputs::check_breakdown(&breakdown, &owners)?;
        for (later, earlier) in outputs::serialize_shared_files(&mut breakdown) {
            self.note(
                &task.agent,
                &task.id,
                &format!("⇢ `{later}` declares a file `{earlier}` declares too: it runs after it"),
            );
        }
        self.record(RecordKey::Output, "breakdown", &breakdown);
        for t in &breakdown.tasks {
            let context = self.input_of(|s| inputs::implement(s, t));
            let mut impl_task = Actor::new_task(
                format!("{}.{}", task.phase, t.id),
                &t.agent,
                &task.phase,
                TaskKind::Implement,
                t.title.clone(),
                context,
            );
            impl_task.deps = t
                .depends_on
                .iter()
                .map(|d| format!("{}.{d}", task.phase))
                .collect();
            impl_task.declared = t.files.clone();
            self.queue_task(impl_task);
        }
        if let Some(s) = self.s() {
            s.design.breakdown = Some(breakdown);
        }
        Ok(())
    }

    /// Stages a reply's file blocks (an implementation task's, the tests' or
    /// a repair's). Tests for a project that has some may be none; a repair
    /// may decline, or change nothing (the round is judged as a whole).
    pub(super) async fn accept_files(&mut self, task: &Task, text: &str) -> Result<(), String> {
        // Tests for a project that already has some may stand as they are.
        let has_tests = self.session.as_ref().is_some_and(|s| {
            s.live.project.as_ref().is_some_and(|p| {
                p["files"].as_array().is_some_and(|files| {
                    files
                        .iter()
                        .filter_map(Value::as_str)
                        .any(crate::workspace::stack::is_test_path)
                })
            })
        });
        // A repair may decline (no file blocks: its reason instead).
        let may_be_empty =
            (task.kind == TaskKind::Tests && has_tests) || task.kind == TaskKind::Repair;
        // Blocks past the session's file limit are only named, for
        // their refusals: a reply of 100,000 files costs its text.
        let (files, past) = outputs::parse_reply_at_most(text, self.settings.session.max_files)?;
        // Edits become whole files here, all or none: a block that does not
        // apply sends the whole reply back (docs/design.md §1, "Edits").
        let blocks = self.apply_edits(files).await?;
        if blocks.is_empty() && !may_be_empty {
            return Err(outputs::no_file_blocks(text));
        }
        if blocks.is_empty() && task.kind == TaskKind::Repair {
            self.repair_declined(task, text);
            return Ok(());
        }
        if let Some(summary) = outputs::summary_line(text) {
            self.note(&task.agent, &task.id, &format!("✎ {summary}"));
            self.emit(EventBody::TaskSummary {
                task: task.id.clone(),
                agent: task.agent.clone(),
                summary: summary.clone(),
            });
            if let Some(s) = self.s() {
                s.work.summaries.insert(task.id.clone(), summary);
            }
        }
        if blocks.is_empty() {
            self.note(
                &task.agent,
                &task.id,
                "= no new tests: the project's existing tests stand",
            );
            return Ok(());
        }
        if task.kind == TaskKind::Repair {
            let unchanged = self.session.as_ref().is_some_and(|s| {
                blocks.iter().all(|b| {
                    paths::normalize(&b.path)
                        .ok()
                        .and_then(|p| s.work.files.get(&p))
                        .is_some_and(|f| f.content == b.content)
                })
            });
            if unchanged {
                // Not every owner named in a failure is at fault; the
                // round as a whole must change something (step_phase).
                self.note(
                    &task.agent,
                    &task.id,
                    "= no change: the files are as they were",
                );
                return Ok(());
            }
            if let Some(s) = self.s() {
                s.tests.round_changed = true;
            }
        }
        self.stage_files(task, blocks, past).await?;
        Ok(())
    }

    /// The reply's files as whole files, in the order first named: SEARCH/
    /// REPLACE edits applied ([`edits::apply`]) to the file as it stands for
    /// this reply (an earlier block of the reply, else staged in the
    /// session, else DIR's); a path named twice keeps its last content in
    /// its first place. A path the rules refuse is passed on for its
    /// refusal. Errors: the problem of every block that did not apply
    /// ([`edits::problem`]); then nothing of the reply is staged.
    async fn apply_edits(&self, files: Vec<ReplyFile>) -> Result<Vec<outputs::FileBlock>, String> {
        let mut out: Vec<outputs::FileBlock> = Vec::new();
        let mut errors = Vec::new();
        let key = |p: &str| paths::normalize(p).unwrap_or_else(|_| p.to_string());
        for file in files {
            let content = match file.body {
                FileBody::Whole(content) => content,
                FileBody::Edits(list) => {
                    let Ok(path) = paths::normalize(&file.path) else {
                        // Refused by the path rules when staged.
                        out.push(outputs::FileBlock {
                            path: file.path,
                            content: String::new(),
                        });
                        continue;
                    };
                    let current = match out.iter().find(|b| key(&b.path) == path) {
                        Some(earlier) => Ok(Some(earlier.content.clone())),
                        None => self.current_text(&path).await,
                    };
                    // Off the runtime's workers: a miss looks for the
                    // nearest lines of a file that may be long.
                    let applied = match current {
                        Ok(c) => {
                            let shown = file.path.clone();
                            tokio::task::spawn_blocking(move || {
                                edits::apply(&shown, c.as_deref(), &list)
                            })
                            .await
                            .unwrap_or_else(|e| {
                                Err(edits::EditError::unreadable(&file.path, &e.to_string()))
                            })
                        }
                        Err(reason) => Err(edits::EditError::unreadable(&file.path, &reason)),
                    };
                    match applied {
                        Ok(content) => content,
                        Err(e) => {
                            errors.push(e);
                            continue;
                        }
                    }
                }
            };
            match out.iter_mut().find(|b| key(&b.path) == key(&file.path)) {
                Some(earlier) => earlier.content = content,
                None => out.push(outputs::FileBlock {
                    path: file.path,
                    content,
                }),
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(edits::problem(&errors))
        }
    }

    /// A file as it stands for the session (`path` normalised): staged,
    /// else DIR's (`None`: absent). Errors: DIR's file cannot be read or is
    /// not UTF-8 text (the reason).
    async fn current_text(&self, path: &str) -> Result<Option<String>, String> {
        if let Some(staged) = self.session.as_ref().and_then(|s| s.work.files.get(path)) {
            return Ok(Some(staged.content.clone()));
        }
        let workspace = self.workspace.clone();
        let p = path.to_string();
        let bytes = tokio::task::spawn_blocking(move || workspace.read(&p))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.reason())?;
        match bytes {
            None => Ok(None),
            Some(bytes) => String::from_utf8(bytes)
                .map(Some)
                .map_err(|_| "it is not UTF-8 text".to_string()),
        }
    }

    /// Stages a task's file blocks under the path rules (docs/design.md §6: the
    /// rules of [`paths::normalize`] and [`paths::check_name`], the declared
    /// files, the session's file limit `[session] max_files`, the sizes);
    /// refusals become `path_refused` events. `past` names the reply's blocks
    /// past the file limit, left unparsed: each is refused too. Refusals for
    /// the file limit past the first [`LISTED_LIMIT_REFUSALS`] of a reply are
    /// reported by one last `path_refused` that counts them, so that a reply
    /// of 100,000 files costs no more events than one of 100. The session's
    /// content in the scratch tree is redacted of the configured key values
    /// (docs/commands.md, the secret scan). Fails when every block was refused.
    pub(super) async fn stage_files(
        &mut self,
        task: &Task,
        blocks: Vec<outputs::FileBlock>,
        past: Vec<String>,
    ) -> Result<(), String> {
        let Some(session) = self.session.as_ref().map(|s| s.id.clone()) else {
            return Ok(());
        };
        let max_files = self.settings.session.max_files;
        let redactor = crate::orchestrator::committer::Redactor::new(self.configured_key_values());
        let mut staged = 0;
        let mut refused = Vec::new();
        let mut over_limit: Vec<String> = Vec::new();
        for block in blocks {
            // The file limit first: past it, no per-file work at all.
            let full = self.session.as_ref().is_some_and(|s| {
                s.work.files.len() >= max_files
                    && !paths::normalize(&block.path).is_ok_and(|p| s.work.files.contains_key(&p))
            });
            if full {
                over_limit.push(block.path);
                continue;
            }
            // Size limits: this file, and the session's other staged files.
            let elsewhere = |p: &str| -> u64 {
                self.session.as_ref().map_or(0, |s| {
                    s.work
                        .files
                        .iter()
                        .filter(|(k, _)| k.as_str() != p)
                        .map(|(_, f)| f.content.len() as u64)
                        .sum()
                })
            };
            let checked = paths::normalize(&block.path)
                .and_then(|p| paths::check_name(&p).map(|()| p))
                .and_then(|p| paths::check_declared(&p, &task.declared).map(|()| p))
                .and_then(|p| paths::check_size(block.content.len(), elsewhere(&p)).map(|()| p));
            let path = match checked {
                Ok(path) => path,
                Err(refusal) => {
                    refused.push(format!("{}: {refusal}", block.path));
                    self.refuse(&block.path, &task.agent, &task.id, &refusal.to_string());
                    continue;
                }
            };
            let workspace = self.workspace.clone();
            // The scratch tree gets the redacted text: a key the model wrote
            // never lands on disk, whether or not delivery is then blocked.
            let mut content = block.content.clone();
            redactor.text(&mut content);
            let (sid, p) = (session.clone(), path.clone());
            // Staged, with what DIR holds there now (the base a hand edit is
            // told from at delivery), off the actor's thread.
            let result = tokio::task::spawn_blocking(move || {
                let change = workspace.stage(&sid, &p, content.as_bytes())?;
                Ok((change, workspace.content_id(&p).ok()))
            })
            .await
            .map_err(|e| e.to_string())
            // The event names the path: the reason alone.
            .and_then(|r: Result<_, crate::workspace::WorkspaceError>| r.map_err(|e| e.reason()));
            let (change, base) = match result {
                Ok(staged) => staged,
                Err(reason) => {
                    refused.push(format!("{path}: {reason}"));
                    self.refuse(&path, &task.agent, &task.id, &reason);
                    continue;
                }
            };
            let accepted = match change {
                crate::protocol::FileChange::New => true,
                crate::protocol::FileChange::Modified => false,
            };
            let file = StagedFile {
                content: block.content.clone(),
                agent: task.agent.clone(),
                task: task.id.clone(),
                change,
                accepted,
                base,
            };
            self.record(RecordKey::File, &path, &file);
            if let Some(s) = self.s() {
                s.work.files.insert(path.clone(), file);
            }
            self.note(
                &task.agent,
                &task.id,
                &format!("✚ staged {path} ({} bytes)", block.content.len()),
            );
            self.emit(EventBody::FileStaged {
                path,
                agent: task.agent.clone(),
                bytes: block.content.len() as u64,
                change,
            });
            staged += 1;
        }
        over_limit.extend(past);
        self.refuse_over_limit(task, &over_limit, max_files, &mut refused);
        if staged == 0 {
            let shown = refused.len().min(LISTED_LIMIT_REFUSALS);
            let mut problem = format!("every file was refused: {}", refused[..shown].join("; "));
            if refused.len() > shown {
                problem.push_str(&format!("; and {} more", refused.len() - shown));
            }
            return Err(problem);
        }
        Ok(())
    }

    /// Refuses the blocks past the session's file limit: one `path_refused`
    /// each for the first [`LISTED_LIMIT_REFUSALS`], then one that counts the
    /// rest. Each refusal is added to `refused`.
    fn refuse_over_limit(
        &mut self,
        task: &Task,
        over_limit: &[String],
        max_files: usize,
        refused: &mut Vec<String>,
    ) {
        let limit = paths::PathRefusal::TooManyFiles(max_files).to_string();
        let listed = over_limit.len().min(LISTED_LIMIT_REFUSALS);
        for path in &over_limit[..listed] {
            refused.push(format!("{path}: {limit}"));
            self.refuse(path, &task.agent, &task.id, &limit);
        }
        if let Some(next) = over_limit.get(listed) {
            let more = over_limit.len() - listed - 1;
            refused.push(format!("{next} and {more} more: {limit}"));
            self.refuse(
                next,
                &task.agent,
                &task.id,
                &format!("{limit}; so are the {more} file(s) after it in the reply, not listed"),
            );
        }
    }

    pub(super) fn refuse(&mut self, path: &str, agent: &str, task: &str, reason: &str) {
        self.line(
            agent,
            task,
            LineKind::Error,
            &format!("⊘ refused {path}: {reason}"),
            false,
        );
        self.emit(EventBody::PathRefused {
            path: path.to_string(),
            agent: agent.to_string(),
            reason: reason.to_string(),
        });
    }
}
