//! `quorum sessions push ID [--remote NAME] [--branch NAME]`: sends a session's
//! commit to a git remote with git2, never forced. The remote is `--remote`,
//! else `[git] remote` of the config (default `origin`); the remote branch is
//! `--branch`, else the current branch, which must hold the commit. The
//! repository is that of `--dir`, under the conditions of
//! `super::undo::repository_of`.
//!
//! This build's libgit2 speaks the local transports only (paths and `file://`;
//! no https or ssh, which would need system TLS and ssh libraries). Other
//! remotes are pushed with the `git` command line, which knows the person's
//! credentials; the output says which one pushed.

use serde_json::json;

use crate::cli::args::Global;
use crate::cli::exit::{self, Failure};
use crate::config::{LoadOptions, Settings};
use crate::store::Write;
use crate::workspace::git;

use super::sessions::short_sha;
use crate::cli::exit::db;
use crate::cli::setup::{Opened, find};

/// The configured remote: `[git] remote` (read without needing provider keys).
fn configured_remote(global: &Global, opened: &Opened) -> Result<String, Failure> {
    let options = LoadOptions {
        config: global.config.clone(),
        dir: opened.dir.clone(),
        offline: true,
        user_config_dir: crate::cli::logging::xdg_config_dir(),
    };
    Settings::load(&options, &|_| None)
        .map(|s| s.git.remote)
        .map_err(|e| Failure::usage(e.to_string()))
}

/// Runs `sessions push` and returns the exit code.
pub(crate) fn run(
    global: &Global,
    opened: &Opened,
    id: &str,
    remote: Option<&str>,
    branch: Option<&str>,
) -> Result<i32, Failure> {
    let session = find(&opened.store, id)?;
    let Some(sha) = session.commit.clone() else {
        return Err(Failure::failed(format!(
            "session {} made no commit (status {}); there is nothing to push",
            session.id,
            session.status_label()
        )));
    };
    let remote = match remote {
        Some(r) => r.to_string(),
        None => configured_remote(global, opened)?,
    };
    let (repo, info) = super::undo::repository_of(&opened.dir, &session, &sha, "push")?;
    let refname = match branch {
        Some(b) => {
            let name = format!("refs/heads/{b}");
            if !git2::Reference::is_valid_name(&name) {
                return Err(Failure::usage(format!(
                    "--branch {b}: not a valid branch name"
                )));
            }
            name
        }
        None => {
            let head = repo
                .head()
                .map_err(|e| Failure::failed(format!("git: {}", e.message())))?;
            let holds = head.target().is_some_and(|tip| {
                tip.to_string() == sha
                    || git2::Oid::from_str(&sha)
                        .and_then(|c| repo.graph_descendant_of(tip, c))
                        .unwrap_or(false)
            });
            match (head.is_branch(), head.name(), holds) {
                (true, Ok(name), true) => name.to_string(),
                _ => {
                    return Err(Failure::failed(format!(
                        "the current branch of {} does not hold commit {}; name the remote branch with --branch",
                        info.workdir.display(),
                        short_sha(&sha)
                    )));
                }
            }
        }
    };
    let url = match repo.find_remote(&remote) {
        Ok(r) => r.url().unwrap_or("").to_string(),
        Err(_) => {
            return Err(Failure::usage(format!(
                "{} has no git remote named `{remote}` (add one with `git remote add {remote} URL`, or pass --remote NAME)",
                info.workdir.display()
            )));
        }
    };
    let how = if git::is_local_url(&url) {
        git::push(&repo, &remote, &sha, &refname).map_err(|e| {
            Failure::failed(format!(
                "cannot push to `{remote}` ({url}): {}",
                e.message()
            ))
        })?;
        "git2"
    } else {
        let status = std::process::Command::new("git")
            .arg("-C")
            .arg(&info.workdir)
            .args(["push", "--", &remote, &format!("{sha}:{refname}")])
            .stdin(std::process::Stdio::null())
            .status()
            .map_err(|e| {
                Failure::failed(format!(
                    "`{remote}` ({url}) is not a local remote, which this build pushes to with the git command, and git could not run: {e}"
                ))
            })?;
        if !status.success() {
            return Err(Failure::failed(format!(
                "git push to `{remote}` ({url}) failed ({status}); git's message is above"
            )));
        }
        "the git command (not a local remote)"
    };
    opened
        .store
        .apply(&[Write::Record {
            session: session.id.clone(),
            kind: "push",
            name: remote.clone(),
            value: json!({
                "remote": remote, "url": url, "ref": refname, "sha": sha,
                "at": crate::orchestrator::now(),
            }),
        }])
        .and_then(|()| opened.store.flush().map(|_| ()))
        .map_err(db)?;
    tracing::info!(session = %session.id, remote = %remote, refname = %refname, "pushed");
    crate::outln!(
        "pushed {} to {remote} ({url}) as {refname} with {how}",
        short_sha(&sha)
    );
    Ok(exit::OK)
}
