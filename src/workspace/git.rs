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
/// else `$XDG_CONFIG_HOME/git/config` and `~/.gitconfig`), then the repository's.
/// libgit2's own lookup ignores both variables, so a commit made with it could
/// carry another identity than `git commit` would (git-config(1), ENVIRONMENT).
fn config_for(repo: &Repository) -> Result<git2::Config, git2::Error> {
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
    add(repo.path().join("config"), git2::ConfigLevel::Local)?;
    Ok(config)
}

/// The author and committer of a commit, as git picks them: `GIT_AUTHOR_NAME` /
/// `GIT_AUTHOR_EMAIL` (`GIT_COMMITTER_*` for the committer), then `user.name` /
/// `user.email` from the config files of `config_for`, else
/// `quorum <quorum@localhost>` (a clean CI machine has no identity).
pub fn identity(
    repo: &Repository,
) -> Result<(Signature<'static>, Signature<'static>), git2::Error> {
    let config = config_for(repo)?;
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
}
