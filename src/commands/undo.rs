//! `quorum undo [SESSION]`: reverts a session's commit with a new revert commit
//! on the current branch, the way `git revert` does. Never a reset: later
//! commits stay, and uncommitted work is never touched (a revert that would
//! change a file with uncommitted changes is refused, as is one that conflicts
//! with later commits). The state lock is held throughout, so no session can
//! commit in DIR meanwhile; the undo is recorded with the session.

use serde_json::json;

use crate::app::{Failure, exit};
use crate::cli::Global;
use crate::store::{SessionRecord, Write};
use crate::workspace::git;

use super::sessions::short_sha;
use super::{db, find, open_existing};

/// The trailer of a revert commit made by `quorum undo`.
pub const TRAILER: &str = "Quorum-Reverted-Session";

/// Runs `undo` and returns the exit code.
pub fn run(global: &Global, session: Option<&str>) -> Result<i32, Failure> {
    let Some(opened) = open_existing(global)? else {
        let dir = crate::app::target_dir(global)?;
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
    let dir = std::path::Path::new(&target.dir);
    let (repo, _info) = git::discover(dir)
        .map_err(|e| Failure::failed(format!("git: {}", e.message())))?
        .ok_or_else(|| {
            Failure::failed(format!(
                "{} is not in a git repository any more; cannot revert {}",
                target.dir,
                short_sha(&sha)
            ))
        })?;
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
    println!(
        "reverted session {} ({}) with {} on {}: {} file(s) changed",
        target.id,
        short_sha(&sha),
        short_sha(&reverted.sha),
        reverted.branch,
        reverted.paths.len()
    );
    Ok(exit::OK)
}
