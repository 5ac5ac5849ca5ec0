//! `quorum undo [SESSION]`: reverts a session's commit with a new revert commit
//! on the current branch, the way `git revert` does. Never a reset: later
//! commits stay, and uncommitted work is never touched (a revert that would
//! change a file with uncommitted changes is refused, as is one that conflicts
//! with later commits). The state lock is held throughout, so no session can
//! commit in DIR meanwhile; the undo is recorded with the session. It acts on
//! the repository of `--dir` only, and refuses when the session ran elsewhere
//! (`repository_of`).

use std::path::Path;

use serde_json::json;

use crate::cli::args::Global;
use crate::cli::exit::{self, Failure};
use crate::store::{SessionRecord, Write};
use crate::workspace::git;

use super::sessions::short_sha;
use crate::cli::exit::db;
use crate::cli::setup::{find, open_existing};

/// The trailer of a revert commit made by `quorum undo`.
pub const TRAILER: &str = "Quorum-Reverted-Session";

/// The repository a session command (`undo`, `sessions push`) acts on: the
/// one holding `dir`, the `--dir` of the command (the current directory by
/// default) — never the directory recorded with the session, which may be
/// another repository (docs/commands.md, `undo`).
///
/// Errors (exit 1), naming the session's recorded directory and `dir`:
/// `dir` is in no git repository; the session ran in another directory that
/// still exists (`dir` is a copy, or the state was shared with
/// `--state-dir`), so its commit is not this repository's to revert or push;
/// or the session's commit `sha` is not in the repository of `dir`.
pub(crate) fn repository_of(
    dir: &Path,
    session: &SessionRecord,
    sha: &str,
    what: &str,
) -> Result<(git2::Repository, git::RepoInfo), Failure> {
    let recorded = Path::new(&session.dir);
    let canonical = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let here = canonical(dir);
    let refuse = |why: String| {
        Failure::failed(format!(
            "cannot {what} session {} from {}: {why}; the session ran in {}",
            session.id,
            here.display(),
            recorded.display()
        ))
    };
    if recorded.exists() && canonical(recorded) != here {
        return Err(refuse(format!(
            "it is not the directory the session committed in (a copy?), so its commit {} is not this repository's; run the command with --dir {}",
            short_sha(sha),
            recorded.display()
        )));
    }
    let (repo, info) = git::discover(&here)
        .map_err(|e| refuse(format!("git: {}", e.message())))?
        .ok_or_else(|| refuse("it is not in a git repository".to_string()))?;
    let present = git2::Oid::from_str(sha)
        .ok()
        .is_some_and(|oid| repo.find_commit(oid).is_ok());
    if !present {
        return Err(refuse(format!(
            "its commit {} is not in the repository at {}",
            short_sha(sha),
            info.workdir.display()
        )));
    }
    Ok((repo, info))
}

/// Runs `undo` and returns the exit code.
pub fn run(global: &Global, session: Option<&str>) -> Result<i32, Failure> {
    let Some(opened) = open_existing(global)? else {
        let dir = crate::cli::exit::target_dir(global)?;
        return Err(match session {
            Some(id) => Failure::usage(format!(
                "no session `{id}`: {} has no quorum state",
                dir.display()
            )),
            None => Failure::failed(format!(
                "nothing to undo: no session ran in {}",
                dir.display()
            )),
        });
    };
    let store = &opened.store;
    let undone = |s: &SessionRecord| {
        store
            .record::<serde_json::Value>(&s.id, "undo", "revert")
            .ok()
            .flatten()
    };
    let target: SessionRecord = match session {
        Some(id) => find(store, id)?,
        None => store
            .sessions()
            .map_err(db)?
            .into_iter()
            .find(|s| s.commit.is_some() && undone(s).is_none())
            .ok_or_else(|| {
                Failure::failed(format!(
                    "nothing to undo: no session of {} has a commit that is not undone yet",
                    opened.dir.display()
                ))
            })?,
    };
    let Some(sha) = target.commit.clone() else {
        return Err(Failure::failed(format!(
            "session {} made no commit (status {}); there is nothing to revert",
            target.id,
            target.status_label()
        )));
    };
    if let Some(previous) = undone(&target) {
        return Err(Failure::failed(format!(
            "session {} is already undone by {}",
            target.id,
            previous["sha"].as_str().unwrap_or("an earlier revert")
        )));
    }
    let (repo, _info) = repository_of(&opened.dir, &target, &sha, "undo")?;
    let reverted = git::revert(&repo, &sha, &format!("{TRAILER}: {}\n", target.id))
        .map_err(|e| Failure::failed(format!("cannot undo session {}: {e}", target.id)))?;
    let record = json!({
        "sha": reverted.sha,
        "reverts": sha,
        "branch": reverted.branch,
        "paths": reverted.paths,
        "at": crate::orchestrator::now(),
    });
    store
        .apply(&[Write::Record {
            session: target.id.clone(),
            kind: "undo",
            name: "revert".into(),
            value: record,
        }])
        .and_then(|()| store.flush().map(|_| ()))
        .map_err(db)?;
    tracing::info!(session = %target.id, revert = %reverted.sha, "session undone");
    crate::outln!(
        "reverted session {} ({}) with {} on {}: {} file(s) changed",
        target.id,
        short_sha(&sha),
        short_sha(&reverted.sha),
        reverted.branch,
        reverted.paths.len()
    );
    Ok(exit::OK)
}
