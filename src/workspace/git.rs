//! Git, through git2, as plain blocking functions (the orchestrator calls them in
//! `spawn_blocking`). Tested against real temporary repositories and checked with
//! the `git` command line.
//!
//! The commit's tree is HEAD's tree plus the accepted files; the person's index
//! keeps every entry except the committed paths, which are updated to the
//! committed content, so `git status` shows neither a staged nor an unstaged
//! change for them and the person's own staged work stays as it was.

use std::path::{Path, PathBuf};

use git2::{Repository, Signature};

/// Author used when neither the repo nor the user config names one.
pub const FALLBACK_NAME: &str = "quorum";
/// E-mail used when neither the repo nor the user config names one.
pub const FALLBACK_EMAIL: &str = "quorum@localhost";

/// Where DIR sits in its repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepoInfo {
    /// The repository's work tree.
    pub workdir: PathBuf,
    /// DIR relative to the work tree, `/`-separated; empty when DIR is the work tree.
    pub prefix: String,
    /// `true` when quorum initialised the repository just now.
    pub created: bool,
}

impl RepoInfo {
    /// `path` (relative to DIR) as a path relative to the work tree.
    pub fn repo_path(&self, path: &str) -> String {
        if self.prefix.is_empty() {
            path.to_string()
        } else {
            format!("{}/{}", self.prefix, path)
        }
    }
}

/// Finds the repository holding `dir` without creating anything.
pub fn discover(dir: &Path) -> Result<Option<(Repository, RepoInfo)>, git2::Error> {
    match Repository::discover(dir) {
        Ok(repo) => {
            let info = info_for(&repo, dir, false)?;
            Ok(Some((repo, info)))
        }
        Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Opens the repository holding `dir`, or initialises one at `dir` when it is in none.
pub fn open_or_init(dir: &Path) -> Result<(Repository, RepoInfo), git2::Error> {
    if let Some(found) = discover(dir)? {
        return Ok(found);
    }
    let repo = Repository::init(dir)?;
    let info = info_for(&repo, dir, true)?;
    Ok((repo, info))
}

fn info_for(repo: &Repository, dir: &Path, created: bool) -> Result<RepoInfo, git2::Error> {
    let Some(workdir) = repo.workdir() else {
        return Err(git2::Error::from_str(
            "the repository holding the target directory is bare",
        ));
    };
    let workdir = workdir
        .canonicalize()
        .unwrap_or_else(|_| workdir.to_path_buf());
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let prefix = dir
        .strip_prefix(&workdir)
        .map(|p| {
            p.components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/")
        })
        .unwrap_or_default();
    Ok(RepoInfo {
        workdir,
        prefix,
        created,
    })
}

/// The blob id (hex) that HEAD's tree holds at `repo_path` (relative to the
/// work tree, `/`-separated), or `None` when HEAD is unborn or has no file
/// there. What [`crate::workspace::Workspace::uncommitted`] compares DIR's
/// files with.
///
/// Errors: HEAD cannot be read.
pub fn head_blob_id(repo: &Repository, repo_path: &str) -> Result<Option<String>, git2::Error> {
    let head = match repo.head() {
        Ok(head) => head,
        Err(e)
            if e.code() == git2::ErrorCode::UnbornBranch
                || e.code() == git2::ErrorCode::NotFound =>
        {
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let tree = head.peel_to_tree()?;
    Ok(match tree.get_path(Path::new(repo_path)) {
        Ok(entry) if entry.kind() == Some(git2::ObjectType::Blob) => Some(entry.id().to_string()),
        Ok(_) => None,
        Err(e) if e.code() == git2::ErrorCode::NotFound => None,
        Err(e) => return Err(e),
    })
}

/// Every file of HEAD's tree under `prefix`, as (path relative to the prefix,
/// content). Empty for an unborn HEAD.
pub fn head_files(repo: &Repository, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, git2::Error> {
    let head = match repo.head() {
        Ok(head) => head,
        Err(e)
            if e.code() == git2::ErrorCode::UnbornBranch
                || e.code() == git2::ErrorCode::NotFound =>
        {
            return Ok(Vec::new());
        }
        Err(e) => return Err(e),
    };
    let tree = head.peel_to_tree()?;
    let mut files = Vec::new();
    let mut failure = None;
    tree.walk(git2::TreeWalkMode::PreOrder, |root, entry| {
        if entry.kind() != Some(git2::ObjectType::Blob) {
            return git2::TreeWalkResult::Ok;
        }
        let full = format!("{root}{}", entry.name().unwrap_or(""));
        let rel = if prefix.is_empty() {
            Some(full.as_str())
        } else {
            full.strip_prefix(prefix).and_then(|r| r.strip_prefix('/'))
        };
        if let Some(rel) = rel {
            match repo.find_blob(entry.id()) {
                Ok(blob) => files.push((rel.to_string(), blob.content().to_vec())),
                Err(e) => {
                    failure = Some(e);
                    return git2::TreeWalkResult::Abort;
                }
            }
        }
        git2::TreeWalkResult::Ok
    })?;
    match failure {
        Some(e) => Err(e),
        None => Ok(files),
    }
}

/// The config files git would read for `repo`, most specific last: the system
/// file (unless `GIT_CONFIG_NOSYSTEM`), the user's (`GIT_CONFIG_GLOBAL` when set,
/// else `$XDG_CONFIG_HOME/git/config` and `~/.gitconfig`), then the repository's
/// (none without a repository).
/// libgit2's own lookup ignores both variables, so a commit made with it could
/// carry another identity than `git commit` would (git-config(1), ENVIRONMENT).
fn config_for(repo: Option<&Repository>) -> Result<git2::Config, git2::Error> {
    let mut config = git2::Config::new()?;
    let set = |var: &str| std::env::var_os(var).filter(|v| !v.is_empty());
    let mut add = |path: std::path::PathBuf, level: git2::ConfigLevel| -> Result<(), git2::Error> {
        if path.is_file() {
            config.add_file(&path, level, false)?;
        }
        Ok(())
    };
    if set("GIT_CONFIG_NOSYSTEM").is_none()
        && let Ok(path) = git2::Config::find_system()
    {
        add(path, git2::ConfigLevel::System)?;
    }
    match set("GIT_CONFIG_GLOBAL") {
        Some(path) => add(path.into(), git2::ConfigLevel::Global)?,
        None => {
            if let Ok(path) = git2::Config::find_xdg() {
                add(path, git2::ConfigLevel::XDG)?;
            }
            if let Ok(path) = git2::Config::find_global() {
                add(path, git2::ConfigLevel::Global)?;
            }
        }
    }
    if let Some(repo) = repo {
        add(repo.path().join("config"), git2::ConfigLevel::Local)?;
    }
    Ok(config)
}

/// The author and committer of a commit, as git picks them: `GIT_AUTHOR_NAME` /
/// `GIT_AUTHOR_EMAIL` (`GIT_COMMITTER_*` for the committer), then `user.name` /
/// `user.email` from the config files of `config_for`, else
/// `quorum <quorum@localhost>` (a clean CI machine has no identity).
pub fn identity(
    repo: &Repository,
) -> Result<(Signature<'static>, Signature<'static>), git2::Error> {
    let config = config_for(Some(repo))?;
    let from_config = |key: &str| config.get_string(key).ok().filter(|v| !v.trim().is_empty());
    let env = |var: &str| std::env::var(var).ok().filter(|v| !v.trim().is_empty());
    let name = from_config("user.name").unwrap_or_else(|| FALLBACK_NAME.to_string());
    let email = from_config("user.email").unwrap_or_else(|| FALLBACK_EMAIL.to_string());
    let author = Signature::now(
        &env("GIT_AUTHOR_NAME").unwrap_or_else(|| name.clone()),
        &env("GIT_AUTHOR_EMAIL").unwrap_or_else(|| email.clone()),
    )?;
    let committer = Signature::now(
        &env("GIT_COMMITTER_NAME").unwrap_or(name),
        &env("GIT_COMMITTER_EMAIL").unwrap_or(email),
    )?;
    Ok((author, committer))
}

/// Commits `files` (paths relative to DIR, with their content) on top of HEAD,
/// updates HEAD's branch and the index entries of exactly those paths, and
/// returns the new commit's sha (40 hex digits).
pub fn commit_files(
    repo: &Repository,
    info: &RepoInfo,
    files: &[(String, Vec<u8>)],
    message: &str,
) -> Result<String, git2::Error> {
    let parent = match repo.head() {
        Ok(head) => Some(head.peel_to_commit()?),
        Err(e)
            if e.code() == git2::ErrorCode::UnbornBranch
                || e.code() == git2::ErrorCode::NotFound =>
        {
            None
        }
        Err(e) => return Err(e),
    };
    // An in-memory index holding HEAD's tree plus the files: no empty tree is
    // ever written for an unborn HEAD, so `git fsck` finds nothing dangling.
    let mut tree_index = git2::Index::new()?;
    if let Some(commit) = &parent {
        tree_index.read_tree(&commit.tree()?)?;
    }
    for (path, content) in files {
        let repo_path = info.repo_path(path);
        let entry = git2::IndexEntry {
            ctime: git2::IndexTime::new(0, 0),
            mtime: git2::IndexTime::new(0, 0),
            dev: 0,
            ino: 0,
            mode: 0o100_644,
            uid: 0,
            gid: 0,
            file_size: u32::try_from(content.len()).unwrap_or(u32::MAX),
            id: repo.blob(content)?,
            flags: u16::try_from(repo_path.len().min(0xfff)).unwrap_or(0xfff),
            flags_extended: 0,
            path: repo_path.into_bytes(),
        };
        tree_index.add(&entry)?;
    }
    let tree_oid = tree_index.write_tree_to(repo)?;
    let tree = repo.find_tree(tree_oid)?;
    let (author, committer) = identity(repo)?;
    let parents: Vec<&git2::Commit> = parent.iter().collect();
    let oid = repo.commit(Some("HEAD"), &author, &committer, message, &tree, &parents)?;

    let mut index = repo.index()?;
    for (path, _) in files {
        let repo_path = info.repo_path(path);
        // The file was written into the work tree before the commit; add_path takes
        // its stat data so `git status` does not see it as modified.
        index.add_path(Path::new(&repo_path))?;
    }
    index.write()?;
    Ok(oid.to_string())
}

/// The commit HEAD points at, if any, whose message carries `trailer`.
pub fn head_has_trailer(repo: &Repository, trailer: &str) -> bool {
    repo.head()
        .and_then(|h| h.peel_to_commit())
        .map(|c| {
            c.message()
                .unwrap_or("")
                .lines()
                .any(|l| l.trim() == trailer)
        })
        .unwrap_or(false)
}

/// The newest of HEAD's last `limit` commits (first parents) whose message
/// carries the trailer line `trailer` (e.g. `Quorum-Session: 3f2a…`), as a
/// hex sha. `None` when there is none, HEAD is unborn, or the walk fails.
pub fn find_trailer(repo: &Repository, trailer: &str, limit: usize) -> Option<String> {
    let mut commit = repo.head().ok()?.peel_to_commit().ok()?;
    for _ in 0..limit {
        let found = commit
            .message()
            .unwrap_or("")
            .lines()
            .any(|l| l.trim() == trailer);
        if found {
            return Some(commit.id().to_string());
        }
        commit = commit.parent(0).ok()?;
    }
    None
}

/// Where the name and e-mail of [`identity`] come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdentitySource {
    /// `GIT_AUTHOR_NAME` and `GIT_AUTHOR_EMAIL`.
    Environment,
    /// `user.name` and `user.email` of the git config files.
    Config,
    /// Neither: quorum's fallback `quorum <quorum@localhost>` (at least in part).
    Fallback,
}

/// The author name and e-mail a commit made in `repo` (or, without a repository,
/// in a new one) would carry, by the rules of [`identity`], and where they come
/// from. Reads config files only; creates nothing.
pub fn author_identity(
    repo: Option<&Repository>,
) -> Result<(String, String, IdentitySource), git2::Error> {
    let config = config_for(repo)?;
    let from_config = |key: &str| config.get_string(key).ok().filter(|v| !v.trim().is_empty());
    let env = |var: &str| std::env::var(var).ok().filter(|v| !v.trim().is_empty());
    let (name_env, email_env) = (env("GIT_AUTHOR_NAME"), env("GIT_AUTHOR_EMAIL"));
    let (name_cfg, email_cfg) = (from_config("user.name"), from_config("user.email"));
    let source = if name_env.is_some() && email_env.is_some() {
        IdentitySource::Environment
    } else if name_env.as_ref().or(name_cfg.as_ref()).is_some()
        && email_env.as_ref().or(email_cfg.as_ref()).is_some()
    {
        IdentitySource::Config
    } else {
        IdentitySource::Fallback
    };
    let name = name_env
        .or(name_cfg)
        .unwrap_or_else(|| FALLBACK_NAME.to_string());
    let email = email_env
        .or(email_cfg)
        .unwrap_or_else(|| FALLBACK_EMAIL.to_string());
    Ok((name, email, source))
}

/// A file of a commit's tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeFile {
    /// Path relative to the prefix it was read under, `/`-separated.
    pub path: String,
    /// Git file mode: `0o100644`, `0o100755` or `0o120000` (a symlink, whose
    /// content is the link's target).
    pub mode: i32,
    /// The blob's bytes.
    pub content: Vec<u8>,
}

/// Every file of commit `sha`'s tree under `prefix` (empty: the whole tree), in
/// tree order, with the commit's time (seconds since the epoch). Submodule
/// entries are skipped.
pub fn files_of_commit(
    repo: &Repository,
    sha: &str,
    prefix: &str,
) -> Result<(Vec<TreeFile>, i64), git2::Error> {
    let commit = repo.find_commit(git2::Oid::from_str(sha)?)?;
    let tree = commit.tree()?;
    let mut files = Vec::new();
    let mut failure = None;
    tree.walk(git2::TreeWalkMode::PreOrder, |root, entry| {
        if entry.kind() != Some(git2::ObjectType::Blob) {
            return git2::TreeWalkResult::Ok;
        }
        let full = format!("{root}{}", entry.name().unwrap_or(""));
        let rel = if prefix.is_empty() {
            Some(full.as_str())
        } else {
            full.strip_prefix(prefix).and_then(|r| r.strip_prefix('/'))
        };
        if let Some(rel) = rel {
            match repo.find_blob(entry.id()) {
                Ok(blob) => files.push(TreeFile {
                    path: rel.to_string(),
                    mode: entry.filemode(),
                    content: blob.content().to_vec(),
                }),
                Err(e) => {
                    failure = Some(e);
                    return git2::TreeWalkResult::Abort;
                }
            }
        }
        git2::TreeWalkResult::Ok
    })?;
    match failure {
        Some(e) => Err(e),
        None => Ok((files, commit.time().seconds())),
    }
}

/// Why a commit cannot be reverted; every message says what to do instead.
#[derive(Debug, thiserror::Error)]
pub enum RevertError {
    /// HEAD is not on a branch, or the branch has no commit.
    #[error("HEAD is {0}; check out the branch that holds the commit first")]
    NoBranch(&'static str),
    /// The commit is not in the repository at all.
    #[error("commit {0} is not in the repository {1}")]
    Missing(String, PathBuf),
    /// The commit is not reachable from HEAD.
    #[error(
        "commit {sha} is not on the current branch {branch}; check out the branch that holds it first"
    )]
    NotOnBranch {
        /// The commit to revert.
        sha: String,
        /// HEAD's branch, e.g. `main`.
        branch: String,
    },
    /// A merge commit has no single change to undo.
    #[error("commit {0} is a merge commit; quorum reverts only the commits it made")]
    Merge(String),
    /// Later commits changed the same lines.
    #[error(
        "later commits changed the same lines, so {sha} cannot be reverted cleanly (conflicts in {}); revert it by hand with `git revert {sha}`",
        paths.join(", ")
    )]
    Conflicts {
        /// The commit to revert.
        sha: String,
        /// Paths with conflicts, relative to the work tree.
        paths: Vec<String>,
    },
    /// HEAD already lacks the commit's changes.
    #[error("nothing to revert: the changes of {0} are already undone on the current branch")]
    NothingToRevert(String),
    /// Files the revert would change hold uncommitted work.
    #[error(
        "uncommitted changes in {}; commit or stash them first (undo never touches uncommitted work)",
        paths.join(", ")
    )]
    Dirty {
        /// The paths, relative to the work tree.
        paths: Vec<String>,
    },
    /// A git operation failed.
    #[error("git: {0}")]
    Git(#[from] git2::Error),
}

/// A revert commit made by [`revert`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reverted {
    /// The new commit's sha.
    pub sha: String,
    /// The branch it was made on (`main`).
    pub branch: String,
    /// Paths it changed, relative to the work tree.
    pub paths: Vec<String>,
}

/// Reverts commit `sha` with a new commit on top of HEAD's branch, the way
/// `git revert` does: never a reset, later commits stay. The work tree and the
/// index change only at the paths the revert changes, and only when those paths
/// have no uncommitted change; anything else refuses with a [`RevertError`]
/// before anything is written. `trailers` (lines like `Key: value`) end the
/// message.
pub fn revert(repo: &Repository, sha: &str, trailers: &str) -> Result<Reverted, RevertError> {
    let head = match repo.head() {
        Ok(head) => head,
        Err(e)
            if e.code() == git2::ErrorCode::UnbornBranch
                || e.code() == git2::ErrorCode::NotFound =>
        {
            return Err(RevertError::NoBranch("an unborn branch"));
        }
        Err(e) => return Err(e.into()),
    };
    if !head.is_branch() {
        return Err(RevertError::NoBranch("detached"));
    }
    let branch = head.shorthand().unwrap_or("HEAD").to_string();
    let head_commit = head.peel_to_commit()?;
    let workdir = repo.workdir().map(Path::to_path_buf).unwrap_or_default();
    let target = git2::Oid::from_str(sha)
        .and_then(|oid| repo.find_commit(oid))
        .map_err(|_| RevertError::Missing(sha.to_string(), workdir.clone()))?;
    if target.id() != head_commit.id()
        && !repo.graph_descendant_of(head_commit.id(), target.id())?
    {
        return Err(RevertError::NotOnBranch {
            sha: sha.to_string(),
            branch,
        });
    }
    if target.parent_count() > 1 {
        return Err(RevertError::Merge(sha.to_string()));
    }
    let mut index = repo.revert_commit(&target, &head_commit, 0, None)?;
    if index.has_conflicts() {
        let mut paths: Vec<String> = index
            .conflicts()?
            .filter_map(Result::ok)
            .filter_map(|c| c.our.or(c.their).or(c.ancestor))
            .map(|e| String::from_utf8_lossy(&e.path).into_owned())
            .collect();
        paths.dedup();
        return Err(RevertError::Conflicts {
            sha: sha.to_string(),
            paths,
        });
    }
    let tree = repo.find_tree(index.write_tree_to(repo)?)?;
    let head_tree = head_commit.tree()?;
    if tree.id() == head_tree.id() {
        return Err(RevertError::NothingToRevert(sha.to_string()));
    }
    let diff = repo.diff_tree_to_tree(Some(&head_tree), Some(&tree), None)?;
    let mut paths: Vec<String> = Vec::new();
    for delta in diff.deltas() {
        for file in [delta.old_file(), delta.new_file()] {
            if let Some(p) = file.path().and_then(Path::to_str)
                && !paths.iter().any(|q| q == p)
            {
                paths.push(p.to_string());
            }
        }
    }
    let mut dirty = Vec::new();
    for path in &paths {
        match repo.status_file(Path::new(path)) {
            Ok(status) if status.is_empty() => {}
            Ok(_) => dirty.push(path.clone()),
            Err(e) if e.code() == git2::ErrorCode::NotFound => {}
            Err(e) => return Err(e.into()),
        }
    }
    if !dirty.is_empty() {
        return Err(RevertError::Dirty { paths: dirty });
    }

    let summary = target.summary().ok().flatten().unwrap_or("").to_string();
    let mut message = format!(
        "Revert \"{summary}\"\n\nThis reverts commit {}.\n",
        target.id()
    );
    if !trailers.is_empty() {
        message.push('\n');
        message.push_str(trailers);
        if !trailers.ends_with('\n') {
            message.push('\n');
        }
    }
    let (author, committer) = identity(repo)?;
    let oid = repo.commit(None, &author, &committer, &message, &tree, &[&head_commit])?;
    // Only the changed paths are checked out (safe mode: a file changed since the
    // status check above makes it fail instead of overwriting it); then the
    // branch moves. The person's other work and index entries stay as they were.
    let mut checkout = git2::build::CheckoutBuilder::new();
    checkout.safe().disable_pathspec_match(true);
    for path in &paths {
        checkout.path(path);
    }
    repo.checkout_tree(tree.as_object(), Some(&mut checkout))?;
    let mut reference = repo.head()?;
    reference.set_target(oid, &format!("quorum undo: revert {sha}"))?;
    Ok(Reverted {
        sha: oid.to_string(),
        branch,
        paths,
    })
}

/// Pushes commit `sha` to `refname` (e.g. `refs/heads/main`) on the remote
/// named `remote`, never forcing. Returns the remote's URL.
///
/// Errors name the remote: it does not exist, it refused the update (e.g. not
/// a fast-forward), or the transport failed. This build's libgit2 has no
/// https or ssh transport: use it for remotes where [`is_local_url`] holds.
pub fn push(
    repo: &Repository,
    remote: &str,
    sha: &str,
    refname: &str,
) -> Result<String, git2::Error> {
    let mut handle = repo.find_remote(remote).map_err(|e| {
        if e.code() == git2::ErrorCode::NotFound {
            git2::Error::from_str(&format!("the repository has no remote named `{remote}`"))
        } else {
            e
        }
    })?;
    let url = handle.url().unwrap_or("").to_string();
    let rejected = std::cell::RefCell::new(None);
    let mut callbacks = git2::RemoteCallbacks::new();
    callbacks.push_update_reference(|name, status| {
        if let Some(status) = status {
            *rejected.borrow_mut() = Some(format!("{name}: {status}"));
        }
        Ok(())
    });
    let mut options = git2::PushOptions::new();
    options.remote_callbacks(callbacks);
    handle.push(&[format!("{sha}:{refname}")], Some(&mut options))?;
    drop(options);
    if let Some(reason) = rejected.into_inner() {
        return Err(git2::Error::from_str(&format!(
            "`{remote}` refused the update of {reason}"
        )));
    }
    Ok(url)
}

/// Whether this build's libgit2 can reach a remote at `url`: local paths and
/// `file://` URLs only (no https or ssh transport is compiled in; those need
/// system TLS and ssh libraries).
pub fn is_local_url(url: &str) -> bool {
    if let Some(rest) = url.strip_prefix("file://") {
        return !rest.is_empty();
    }
    if url.contains("://") {
        return false;
    }
    // scp-like `host:path` (`git@github.com:o/r.git`) has a colon before any slash.
    match (url.find(':'), url.find('/')) {
        (Some(colon), Some(slash)) => slash < colon,
        (Some(_), None) => false,
        (None, _) => !url.is_empty(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::process::Command;

    fn git(dir: &Path, args: &[&str]) -> String {
        let out = Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn write(dir: &Path, files: &[(String, Vec<u8>)]) {
        for (p, c) in files {
            crate::workspace::paths::write_confined(dir, p, c).unwrap();
        }
    }

    #[test]
    fn a_new_dir_becomes_a_repo_with_one_clean_commit() {
        let d = tempfile::tempdir().unwrap();
        let (repo, info) = open_or_init(d.path()).unwrap();
        assert!(info.created);
        assert_eq!(info.prefix, "");
        let files = vec![
            ("app.py".to_string(), b"print(1)\n".to_vec()),
            ("pkg/mod.py".to_string(), b"x = 1\n".to_vec()),
        ];
        write(d.path(), &files);
        let sha = commit_files(&repo, &info, &files, "Add app\n\nQuorum-Session: abc\n").unwrap();
        assert_eq!(sha.len(), 40);
        assert_eq!(git(d.path(), &["rev-parse", "HEAD"]).trim(), sha);
        assert_eq!(git(d.path(), &["status", "--porcelain"]), "");
        let fsck = Command::new("git")
            .args(["fsck", "--full"])
            .current_dir(d.path())
            .output()
            .unwrap();
        assert!(fsck.status.success());
        let report = format!(
            "{}{}",
            String::from_utf8_lossy(&fsck.stdout),
            String::from_utf8_lossy(&fsck.stderr)
        );
        assert!(
            !report.contains("dangling") && !report.contains("error"),
            "{report}"
        );
        assert_eq!(
            git(d.path(), &["ls-tree", "-r", "--name-only", "HEAD"]),
            "app.py\npkg/mod.py\n"
        );
        assert!(head_has_trailer(&repo, "Quorum-Session: abc"));
        let log = git(d.path(), &["log", "--format=%an <%ae>%n%B"]);
        assert!(log.contains("Quorum-Session: abc"), "{log}");
    }

    #[test]
    fn a_subdir_of_a_parent_repo_keeps_the_persons_index_and_changes() {
        let d = tempfile::tempdir().unwrap();
        git(d.path(), &["init", "-q"]);
        git(d.path(), &["config", "user.name", "Ada"]);
        git(d.path(), &["config", "user.email", "ada@example.com"]);
        std::fs::write(d.path().join("mine.txt"), "v1\n").unwrap();
        std::fs::write(d.path().join("other.txt"), "v1\n").unwrap();
        git(d.path(), &["add", "."]);
        git(d.path(), &["commit", "-qm", "base"]);
        // The person's own work: one staged change, one unstaged change.
        std::fs::write(d.path().join("mine.txt"), "v2 staged\n").unwrap();
        git(d.path(), &["add", "mine.txt"]);
        std::fs::write(d.path().join("other.txt"), "v2 unstaged\n").unwrap();

        let sub = d.path().join("svc");
        std::fs::create_dir(&sub).unwrap();
        let (repo, info) = open_or_init(&sub).unwrap();
        assert!(!info.created);
        assert_eq!(info.prefix, "svc");
        let files = vec![("main.py".to_string(), b"print(2)\n".to_vec())];
        write(&sub, &files);
        commit_files(&repo, &info, &files, "Add svc\n").unwrap();

        let status = git(d.path(), &["status", "--porcelain"]);
        assert_eq!(status, "M  mine.txt\n M other.txt\n", "{status}");
        let tree = git(d.path(), &["ls-tree", "-r", "--name-only", "HEAD"]);
        assert_eq!(tree, "mine.txt\nother.txt\nsvc/main.py\n");
        // HEAD keeps the committed version of mine.txt, not the staged one.
        assert_eq!(git(d.path(), &["show", "HEAD:mine.txt"]), "v1\n");
        assert_eq!(git(d.path(), &["log", "-1", "--format=%an"]).trim(), "Ada");
        assert_eq!(head_files(&repo, "svc").unwrap(), files);
    }

    /// A repo with a base commit (a.txt, b.txt) and a "session" commit that adds
    /// gen/app.py and changes a.txt; returns the session commit's sha.
    fn repo_with_session(d: &Path) -> (Repository, String) {
        git(d, &["init", "-q", "-b", "main"]);
        git(d, &["config", "user.name", "Ada"]);
        git(d, &["config", "user.email", "ada@example.com"]);
        std::fs::write(d.join("a.txt"), "one\ntwo\nthree\n").unwrap();
        std::fs::write(d.join("b.txt"), "b\n").unwrap();
        git(d, &["add", "."]);
        git(d, &["commit", "-qm", "base"]);
        let (repo, info) = open_or_init(d).unwrap();
        let files = vec![
            ("gen/app.py".to_string(), b"print(1)\n".to_vec()),
            ("a.txt".to_string(), b"one\nTWO\nthree\n".to_vec()),
        ];
        write(d, &files);
        let sha =
            commit_files(&repo, &info, &files, "quorum: app\n\nQuorum-Session: s1\n").unwrap();
        (repo, sha)
    }

    #[test]
    fn revert_adds_a_commit_and_keeps_later_commits_and_other_work() {
        let d = tempfile::tempdir().unwrap();
        let (repo, sha) = repo_with_session(d.path());
        // A later commit on another file, then the person's uncommitted work.
        std::fs::write(d.path().join("b.txt"), "b2\n").unwrap();
        git(d.path(), &["commit", "-qam", "later"]);
        let later = git(d.path(), &["rev-parse", "HEAD"]).trim().to_string();
        std::fs::write(d.path().join("b.txt"), "b3 unstaged\n").unwrap();
        std::fs::write(d.path().join("notes.txt"), "mine\n").unwrap();
        git(d.path(), &["add", "notes.txt"]);

        let reverted = revert(&repo, &sha, "Quorum-Reverted-Session: s1").unwrap();
        assert_eq!(reverted.branch, "main");
        assert_eq!(
            git(d.path(), &["rev-parse", "HEAD"]).trim(),
            reverted.sha.as_str()
        );
        assert_eq!(git(d.path(), &["rev-parse", "HEAD~1"]).trim(), later);
        let message = git(d.path(), &["log", "-1", "--format=%B"]);
        assert!(message.starts_with("Revert \"quorum: app\""), "{message}");
        assert!(message.contains(&format!("This reverts commit {sha}.")));
        assert!(message.contains("Quorum-Reverted-Session: s1"), "{message}");
        // The session's changes are gone from HEAD and from the work tree.
        assert_eq!(
            git(d.path(), &["ls-tree", "-r", "--name-only", "HEAD"]),
            "a.txt\nb.txt\n"
        );
        assert!(!d.path().join("gen/app.py").exists());
        assert!(!d.path().join("gen").exists(), "the emptied dir is removed");
        assert_eq!(
            std::fs::read_to_string(d.path().join("a.txt")).unwrap(),
            "one\ntwo\nthree\n"
        );
        // The later commit and the person's work are untouched.
        assert_eq!(git(d.path(), &["show", "HEAD:b.txt"]), "b2\n");
        let status = git(d.path(), &["status", "--porcelain"]);
        assert_eq!(status, " M b.txt\nA  notes.txt\n", "{status}");

        // A second undo has nothing left to do.
        let again = revert(&repo, &sha, "").unwrap_err();
        assert!(matches!(again, RevertError::NothingToRevert(_)), "{again}");
    }

    #[test]
    fn revert_refuses_dirty_files_conflicts_and_foreign_commits() {
        let d = tempfile::tempdir().unwrap();
        let (repo, sha) = repo_with_session(d.path());
        let head = git(d.path(), &["rev-parse", "HEAD"]);

        // Uncommitted work in a file the revert would change.
        std::fs::write(d.path().join("gen/app.py"), "print(2)\n").unwrap();
        let err = revert(&repo, &sha, "").unwrap_err();
        assert!(
            matches!(&err, RevertError::Dirty { paths } if paths == &["gen/app.py"]),
            "{err}"
        );
        assert!(err.to_string().contains("gen/app.py"), "{err}");
        assert_eq!(
            git(d.path(), &["rev-parse", "HEAD"]),
            head,
            "nothing committed"
        );
        assert_eq!(
            std::fs::read_to_string(d.path().join("gen/app.py")).unwrap(),
            "print(2)\n"
        );
        git(d.path(), &["checkout", "--", "gen/app.py"]);

        // A later commit on the same lines: conflicts, nothing written.
        std::fs::write(d.path().join("a.txt"), "one\nTWO!\nthree\n").unwrap();
        git(d.path(), &["commit", "-qam", "later edit"]);
        let head = git(d.path(), &["rev-parse", "HEAD"]);
        let err = revert(&repo, &sha, "").unwrap_err();
        assert!(
            matches!(&err, RevertError::Conflicts { paths, .. } if paths == &["a.txt"]),
            "{err}"
        );
        assert_eq!(git(d.path(), &["rev-parse", "HEAD"]), head);
        assert_eq!(git(d.path(), &["status", "--porcelain"]), "");

        // Not in the repository; not on the branch.
        let err = revert(&repo, &"f".repeat(40), "").unwrap_err();
        assert!(matches!(err, RevertError::Missing(..)), "{err}");
        git(d.path(), &["checkout", "-q", "-b", "side", "HEAD~2"]);
        let err = revert(&repo, &sha, "").unwrap_err();
        assert!(matches!(err, RevertError::NotOnBranch { .. }), "{err}");
        git(d.path(), &["checkout", "-q", "--detach", "main"]);
        let err = revert(&repo, &sha, "").unwrap_err();
        assert!(matches!(err, RevertError::NoBranch("detached")), "{err}");
    }

    #[test]
    fn a_root_commit_reverts_to_an_empty_tree() {
        let d = tempfile::tempdir().unwrap();
        let (repo, info) = open_or_init(d.path()).unwrap();
        let files = vec![("app.py".to_string(), b"print(1)\n".to_vec())];
        write(d.path(), &files);
        let sha = commit_files(&repo, &info, &files, "quorum: app\n").unwrap();
        revert(&repo, &sha, "").unwrap();
        assert_eq!(git(d.path(), &["ls-tree", "-r", "HEAD"]), "");
        assert!(!d.path().join("app.py").exists());
        assert_eq!(git(d.path(), &["status", "--porcelain"]), "");
    }

    #[test]
    fn push_sends_the_commit_to_a_bare_remote_and_never_forces() {
        let d = tempfile::tempdir().unwrap();
        let bare = tempfile::tempdir().unwrap();
        git(bare.path(), &["init", "-q", "--bare"]);
        let (repo, sha) = repo_with_session(d.path());
        git(
            d.path(),
            &["remote", "add", "origin", bare.path().to_str().unwrap()],
        );
        let url = push(&repo, "origin", &sha, "refs/heads/main").unwrap();
        assert_eq!(Path::new(&url), bare.path());
        let log = git(bare.path(), &["log", "--format=%H %s", "main"]);
        assert!(log.starts_with(&format!("{sha} quorum: app")), "{log}");

        // The remote moved on: a push of an older commit is refused, not forced.
        let other = tempfile::tempdir().unwrap();
        git(
            other.path(),
            &[
                "clone",
                "-q",
                "-b",
                "main",
                bare.path().to_str().unwrap(),
                ".",
            ],
        );
        git(
            other.path(),
            &[
                "-c",
                "user.name=B",
                "-c",
                "user.email=b@x",
                "commit",
                "-q",
                "--allow-empty",
                "-m",
                "remote work",
            ],
        );
        git(other.path(), &["push", "-q", "origin", "main"]);
        let err = push(&repo, "origin", &sha, "refs/heads/main").unwrap_err();
        assert!(!err.message().is_empty());
        assert!(
            git(bare.path(), &["log", "-1", "--format=%s", "main"]).contains("remote work"),
            "the remote kept its commit"
        );
        let err = push(&repo, "nope", &sha, "refs/heads/main").unwrap_err();
        assert!(err.message().contains("`nope`"), "{err}");
    }

    #[test]
    fn identity_reports_its_source_without_a_repository() {
        // The test process may have any git config; only the shape is checked here
        // (the integration suite checks the fallback in a hermetic environment).
        let (name, email, _source) = author_identity(None).unwrap();
        assert!(!name.is_empty() && !email.is_empty());
        let d = tempfile::tempdir().unwrap();
        let (repo, _) = repo_with_session(d.path());
        let (name, email, source) = author_identity(Some(&repo)).unwrap();
        if std::env::var_os("GIT_AUTHOR_NAME").is_none() {
            assert_eq!((name.as_str(), email.as_str()), ("Ada", "ada@example.com"));
            assert_eq!(source, IdentitySource::Config);
        }
    }

    #[test]
    fn local_urls_are_told_from_network_ones() {
        for url in ["/srv/git/p.git", "../p.git", "p.git", "file:///srv/p.git"] {
            assert!(is_local_url(url), "{url}");
        }
        for url in [
            "https://github.com/o/p.git",
            "ssh://git@host/p.git",
            "git@github.com:o/p.git",
            "host:p.git",
            "file://",
            "",
        ] {
            assert!(!is_local_url(url), "{url}");
        }
    }
}
