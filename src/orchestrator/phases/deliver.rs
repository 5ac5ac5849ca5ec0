//! The deliver phase: the accepted files are scanned for secrets, written into
//! DIR (through the path rules) and committed, with a message that summarises
//! the session and ends with the `Quorum-Session:` trailer (and
//! `Quorum-Provider: offline` when the offline provider contributed).
//!
//! The secret scan ([`crate::secrets`]) runs before anything is
//! written: each hit is a blocking `finding` (severity `critical`), and
//! delivery stops — headless, the session fails with a message naming the
//! files (exit 1) unless `--allow-secrets` was given; interactively,
//! `Op::Commit` is answered by `Event::Rejected` naming the files until it is
//! sent again with `allow_secrets: true`.

use super::super::actor::{Actor, Session};
use super::PhaseStatus;

mod message;
use crate::protocol::{Event, EventBody, FileChange};
use crate::store::RecordKey;

/// Done once the files are delivered (committed, or written and the
/// session told why not).
pub(super) fn status(s: &Session) -> PhaseStatus {
    if s.progress.delivered {
        PhaseStatus::Done
    } else {
        PhaseStatus::Running
    }
}

impl Actor {
    /// Headless, delivers at once; interactive, offers the commit message
    /// and waits for the person's `Op::Commit`.
    pub(super) async fn start_deliver(&mut self) {
        let interactive = self.session.as_ref().is_some_and(|s| s.options.interactive);
        if interactive {
            let message = self.commit_summary();
            self.ephemeral(Event::DeliveryReady { message });
        } else {
            self.deliver(None).await;
        }
    }

    /// `Op::Commit` from the TUI: deliver now, if the session waits at deliver;
    /// `allow_secrets` is the person's override of the secret scan.
    pub(crate) async fn commit_requested(&mut self, message: Option<String>, allow_secrets: bool) {
        let at_deliver = self
            .session
            .as_ref()
            .is_some_and(|s| s.progress.finished.is_none() && !s.progress.delivered)
            && self
                .workflow
                .phases
                .get(
                    self.session
                        .as_ref()
                        .map(|s| s.progress.phase)
                        .unwrap_or(usize::MAX),
                )
                .is_some_and(|p| p.kind == crate::config::workflow::PhaseKind::Deliver);
        if !at_deliver {
            self.ephemeral(crate::protocol::Event::Rejected {
                op: "commit".into(),
                reason: "nothing to commit yet: the session is not at deliver".into(),
            });
            return;
        }
        let any = self
            .session
            .as_ref()
            .is_some_and(|s| s.work.files.values().any(|f| f.accepted));
        if !any {
            self.ephemeral(crate::protocol::Event::Rejected {
                op: "commit".into(),
                reason: "no file is accepted".into(),
            });
            return;
        }
        self.deliver_with(message, allow_secrets).await;
    }

    /// The values of the configured key variables that are set (8 bytes or
    /// more), for the secret scan and redaction.
    pub(crate) fn configured_key_values(&self) -> Vec<String> {
        self.settings
            .key_variables()
            .iter()
            .filter_map(|name| std::env::var(name).ok())
            .filter(|v| v.len() >= 8)
            .collect()
    }

    /// Scans `files` for secrets; reports each hit as a blocking `finding`
    /// (once per session) and returns the files that hold one, sorted.
    fn secrets_in(&mut self, files: &[(String, Vec<u8>)]) -> Vec<String> {
        let known = self.configured_key_values();
        let mut blocked = std::collections::BTreeSet::new();
        for (path, content) in files {
            for hit in crate::secrets::scan::scan_with(path, content, &known) {
                blocked.insert(hit.path.clone());
                let finding = crate::orchestrator::outputs::FindingOut {
                    severity: "critical".into(),
                    path: hit.path.clone(),
                    line: hit.line,
                    text: hit.text(),
                    blocking: true,
                };
                let seen = self
                    .session
                    .as_ref()
                    .is_some_and(|s| s.work.findings.contains(&finding));
                if seen {
                    continue;
                }
                self.emit(EventBody::Finding {
                    severity: finding.severity.clone(),
                    path: finding.path.clone(),
                    line: finding.line,
                    text: finding.text.clone(),
                    blocking: true,
                });
                if let Some(s) = self.s() {
                    s.work.findings.push(finding);
                }
            }
        }
        blocked.into_iter().collect()
    }

    /// The person's files are sacred (docs/design.md §6): an accepted file whose
    /// path in DIR changed since it was staged or accepted (edited by hand,
    /// created, or deleted) and does not already hold the staged content (as
    /// after a crash during an earlier delivery) is left out of the delivery:
    /// the person's version stays, and a `finding` names the file.
    async fn keep_hand_edits(&mut self) {
        let Some(s) = self.session.as_ref() else {
            return;
        };
        let candidates: Vec<(String, String, String)> = s
            .work
            .files
            .iter()
            .filter(|(_, f)| f.accepted)
            .filter_map(|(p, f)| {
                let base = f.base.clone()?;
                Some((
                    p.clone(),
                    base,
                    crate::workspace::blob_id(f.content.as_bytes()),
                ))
            })
            .collect();
        let workspace = self.workspace.clone();
        let changed = tokio::task::spawn_blocking(move || {
            candidates
                .into_iter()
                .filter(|(path, base, staged)| {
                    let now = workspace.content_id(path).unwrap_or_default();
                    &now != base && &now != staged
                })
                .map(|(path, _, _)| path)
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
        for path in changed {
            let agent = match self.s().and_then(|s| s.work.files.get_mut(&path)) {
                Some(file) => {
                    file.accepted = false;
                    file.agent.clone()
                }
                None => continue,
            };
            if let Some(file) = self.session.as_ref().and_then(|s| s.work.files.get(&path)) {
                let file = file.clone();
                self.record(RecordKey::File, &path, &file);
            }
            let text = format!(
                "{path} changed in DIR after it was staged (edited by hand?): your version is kept and the staged one is left out of the delivery"
            );
            self.note(&agent, "deliver", &format!("⚠ {text}"));
            self.emit(EventBody::Finding {
                severity: "medium".into(),
                path,
                line: 1,
                text,
                blocking: false,
            });
        }
    }

    /// Refuses the delivery when any of `files` (path, content about to be
    /// written) would overwrite uncommitted work in DIR
    /// ([`crate::workspace::Workspace::uncommitted`]); `true` when it did.
    /// Headless, the session stops resumable at deliver (`awaiting_delivery`,
    /// exit 3) with a message listing the files; interactively, `Op::Commit`
    /// is answered by `Event::Rejected` with the same list (docs/commands.md,
    /// "quorum run"; docs/tui.md). A check that cannot be made refuses too.
    async fn refuse_uncommitted(&mut self, files: Vec<(String, Vec<u8>)>) -> bool {
        let workspace = self.workspace.clone();
        let dirty = tokio::task::spawn_blocking(move || workspace.uncommitted(&files))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()));
        let dir = self.workspace.dir().display().to_string();
        let what = match dirty {
            Ok(dirty) if dirty.is_empty() => return false,
            Ok(dirty) => format!(
                "{} file(s) in {dir} have uncommitted changes that the delivery would overwrite: {}; nothing was written (--allow-overwrite covers committed files only). Commit or stash them (`git stash`), then",
                dirty.len(),
                dirty.join(", ")
            ),
            Err(e) => format!(
                "cannot tell whether the files in {dir} hold uncommitted changes ({e}); nothing was written. Fix the cause, then"
            ),
        };
        self.stop_delivery(what);
        true
    }

    /// Stops a delivery that could not be made, nothing lost and the session
    /// resumable. `what` says why and ends with what to do, to be completed
    /// by how to go on. Headless: an `error` event, then the session ends
    /// `awaiting_delivery` (exit 3, docs/commands.md) and `quorum resume`
    /// delivers; interactively, `Op::Commit` is answered by
    /// `Event::Rejected` and the session stays at deliver.
    fn stop_delivery(&mut self, what: String) {
        let Some(s) = self.session.as_ref() else {
            return;
        };
        if s.options.interactive {
            self.ephemeral(crate::protocol::Event::Rejected {
                op: "commit".into(),
                reason: format!("{what} commit again"),
            });
            return;
        }
        let message = format!("{what} `quorum resume {}`", s.id);
        self.emit(EventBody::Error { message });
        self.finish(crate::protocol::SessionStatus::AwaitingDelivery);
    }

    /// Headless: staged changes to committed files are delivered only with
    /// `--allow-overwrite` (and never over uncommitted work); without it the
    /// session fails naming them. Returns whether delivery stops.
    async fn refuse_overwrites(&mut self) -> bool {
        let Some(s) = self.session.as_mut() else {
            return true;
        };
        let overwrites: Vec<(String, Vec<u8>)> = s
            .work
            .files
            .iter()
            .filter(|(_, f)| f.change == FileChange::Modified)
            .map(|(p, f)| (p.clone(), f.content.as_bytes().to_vec()))
            .collect();
        if !overwrites.is_empty() {
            let allowed = s.options.allow_overwrite;
            // Without the flag, files that hold uncommitted work are
            // named for what they need (a commit or a stash), not the
            // flag; with it, the check below sees them.
            if !allowed && self.refuse_uncommitted(overwrites.clone()).await {
                return true;
            }
            let Some(s) = self.session.as_mut() else {
                return true;
            };
            if allowed {
                for (path, _) in &overwrites {
                    if let Some(f) = s.work.files.get_mut(path) {
                        f.accepted = true;
                    }
                }
            } else {
                let paths: Vec<&str> = overwrites.iter().map(|(p, _)| p.as_str()).collect();
                let id = s.id.clone();
                self.fail_session(format!(
                    "{} staged file(s) would overwrite committed files in {}: {}; nothing was written. Rerun with --allow-overwrite (their current content stays in git history), or deliver from the TUI: `quorum resume {id}` opens the session there to choose the files",
                    paths.len(),
                    self.workspace.dir().display(),
                    paths.join(", ")
                ));
                return true;
            }
        }
        false
    }

    /// The secret scan of the files to deliver: a hit stops delivery (the
    /// person is told, interactive; the session fails, headless). Returns
    /// whether delivery stops.
    fn refuse_secrets(&mut self, files: &[(String, Vec<u8>)], interactive: bool) -> bool {
        let blocked = self.secrets_in(files);
        if !blocked.is_empty() {
            let what = format!(
                "{} accepted file(s) look like they hold a secret: {}",
                blocked.len(),
                blocked.join(", ")
            );
            if interactive {
                self.ephemeral(crate::protocol::Event::Rejected {
                    op: "commit".into(),
                    reason: format!(
                        "{what}; reject those files, or commit again with the override to commit them anyway"
                    ),
                });
            } else {
                self.fail_session(format!(
                    "{what}; nothing was written. Remove them, or rerun with --allow-secrets to commit them anyway"
                ));
            }
            return true;
        }
        false
    }

    /// Writes the accepted files and commits them (unless `--no-commit`; nothing
    /// at all with `--dry-run`), after the secret scan.
    pub(crate) async fn deliver(&mut self, message: Option<String>) {
        self.deliver_with(message, false).await;
    }

    /// [`Actor::deliver`]; `allow_secrets` overrides the secret scan (as
    /// `--allow-secrets` does for the whole session).
    pub(crate) async fn deliver_with(&mut self, message: Option<String>, allow_secrets: bool) {
        let Some(s) = self.session.as_mut() else {
            return;
        };
        if s.progress.delivered {
            return;
        }
        if s.options.dry_run {
            s.progress.delivered = true;
            return;
        }
        let interactive = s.options.interactive;
        if !interactive && self.refuse_overwrites().await {
            return;
        }
        self.keep_hand_edits().await;
        let Some(s) = self.session.as_ref() else {
            return;
        };
        let files: Vec<(String, Vec<u8>)> = s
            .work
            .files
            .iter()
            .filter(|(_, f)| f.accepted)
            .map(|(p, f)| (p.clone(), f.content.as_bytes().to_vec()))
            .collect();
        if files.is_empty() {
            self.fail_session(
                "nothing to deliver: every staged file was left out (see the findings)".into(),
            );
            return;
        }
        // Uncommitted work is never overwritten, whatever the flag; files
        // changed since they were staged were left out just above.
        if self.refuse_uncommitted(files.clone()).await {
            return;
        }
        let Some(s) = self.session.as_ref() else {
            return;
        };
        let no_commit = s.options.no_commit;
        let session = s.id.clone();
        let allowed = allow_secrets || s.options.allow_secrets;
        if !allowed && self.refuse_secrets(&files, interactive) {
            return;
        }
        let workspace = self.workspace.clone();
        let to_write = files.clone();
        let written = tokio::task::spawn_blocking(move || workspace.deliver(&session, &to_write))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()));
        if let Err(e) = written {
            let dir = self.workspace.dir().display().to_string();
            self.stop_delivery(format!(
                "delivery stopped, nothing was written: {e}; {dir} is as it was. Free space or make {dir} writable, then"
            ));
            return;
        }
        if no_commit {
            if let Some(s) = self.s() {
                s.progress.delivered = true;
            }
            self.remember_delivery().await;
            return;
        }
        let text = self.commit_message(message);
        let workspace = self.workspace.clone();
        let committed = tokio::task::spawn_blocking(move || workspace.commit(&files, &text))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()));
        match committed {
            Ok(commit) => {
                let paths = self
                    .session
                    .as_ref()
                    .map(|s| s.work.accepted_paths())
                    .unwrap_or_default();
                if let Some(s) = self.s() {
                    s.progress.delivered = true;
                    s.record.commit = Some(commit.sha.clone());
                }
                self.emit(EventBody::CommitCreated {
                    sha: commit.sha,
                    files: paths,
                    repo: commit.repo.display().to_string(),
                });
                self.remember_delivery().await;
            }
            Err(e) => self.stop_delivery(format!(
                "the commit failed: {e}; the files are written in {}. Fix the cause (free space, say), then",
                self.workspace.dir().display()
            )),
        }
    }
}
