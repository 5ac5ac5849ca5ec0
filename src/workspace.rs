//! Everything that touches DIR and the scratch trees: path rules and confined
//! writes ([`paths`]), git ([`git`]), the sandboxed test runner ([`sandbox`]),
//! the pre-commit secret scan ([`secrets`]),
//! staging into `.quorum/work/<session>/` and delivery into DIR.
//!
//! These are blocking functions; the orchestrator calls them through
//! `spawn_blocking` (the sandbox is async). Nothing here writes into DIR except
//! [`Workspace::deliver`], and that only through [`paths::write_confined`].

pub mod git;
pub mod paths;
pub mod report;
pub mod sandbox;
pub mod secrets;
pub mod stack;

use std::path::{Path, PathBuf};

use crate::protocol::{FileChange, SessionId};

/// A workspace failure; messages name the path or the git operation.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    /// A path was refused or a write failed.
    #[error(transparent)]
    Write(#[from] paths::WriteError),
    /// An I/O error outside a confined write.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory involved, e.g. the scratch tree `<state>/work/<session>/`.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A git operation failed.
    #[error("git: {0}")]
    Git(#[from] git2::Error),
}

impl WorkspaceError {
    /// The reason alone, without the path (for `path_refused.reason`, whose
    /// event already names the path).
    pub fn reason(&self) -> String {
        match self {
            WorkspaceError::Write(paths::WriteError::Refused { refusal, .. }) => {
                refusal.to_string()
            }
            WorkspaceError::Write(paths::WriteError::Io { source, .. }) => source.to_string(),
            WorkspaceError::Io { source, .. } => source.to_string(),
            WorkspaceError::Git(e) => format!("git: {e}"),
        }
    }
}

/// Most paths a project map lists.
pub const MAP_MAX_FILES: usize = 2_000;
/// Largest file whose content a project map includes, in bytes.
pub const MAP_MAX_FILE_BYTES: usize = 64 * 1024;

/// The project already in DIR, as agents see it.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct ProjectMap {
    /// Every file, relative to DIR, `/`-separated, sorted.
    pub files: Vec<String>,
    /// (path, content) of the key files that fit the budget, sorted by path.
    pub key_files: Vec<(String, String)>,
    /// Files listed or readable but left out of `key_files` (budget, size).
    pub omitted: usize,
}

impl ProjectMap {
    /// `true` when DIR holds no project file at all.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// A commit made by [`Workspace::commit`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Commit {
    /// The commit's sha (40 hex digits).
    pub sha: String,
    /// The repository's work tree.
    pub repo: PathBuf,
    /// `true` when the repository was created for this commit.
    pub created_repo: bool,
}

/// DIR and its state directory.
#[derive(Clone, Debug)]
pub struct Workspace {
    dir: PathBuf,
    state: PathBuf,
}

impl Workspace {
    /// A workspace for the target directory `dir` (absolute) with state in `state`.
    pub fn new(dir: &Path, state: &Path) -> Self {
        Workspace {
            dir: dir.to_path_buf(),
            state: state.to_path_buf(),
        }
    }

    /// The target directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// quorum's state directory for the target (`DIR/.quorum` by default).
    pub fn state(&self) -> &Path {
        &self.state
    }

    /// The session's scratch tree: `<state>/work/<session>/`.
    pub fn scratch(&self, session: &SessionId) -> PathBuf {
        self.state.join("work").join(session.as_str())
    }

    /// Fills the scratch tree with HEAD's tree (the files under DIR), replacing
    /// whatever an earlier attempt left there. An unborn or absent repo gives an
    /// empty tree.
    pub fn prepare_scratch(&self, session: &SessionId) -> Result<(), WorkspaceError> {
        let scratch = self.scratch(session);
        if scratch.exists() {
            // Only ever inside our own state directory.
            if !paths::is_inside(&self.state.join("work"), &scratch) {
                return Err(WorkspaceError::Io {
                    path: scratch,
                    source: std::io::Error::other("scratch tree outside the state directory"),
                });
            }
            std::fs::remove_dir_all(&scratch).map_err(|source| WorkspaceError::Io {
                path: scratch.clone(),
                source,
            })?;
        }
        std::fs::create_dir_all(&scratch).map_err(|source| WorkspaceError::Io {
            path: scratch.clone(),
            source,
        })?;
        if let Some((repo, info)) = git::discover(&self.dir)? {
            for (path, content) in git::head_files(&repo, &info.prefix)? {
                // HEAD may hold paths our rules refuse (a `.quorum` entry, say):
                // the scratch tree simply goes without them.
                if paths::normalize(&path).is_ok() {
                    paths::write_confined_any_size(&scratch, &path, &content)?;
                }
            }
        }
        Ok(())
    }

    /// Writes a staged file into the scratch tree and tells whether it is new in
    /// DIR or changes an existing file there.
    pub fn stage(
        &self,
        session: &SessionId,
        path: &str,
        content: &[u8],
    ) -> Result<FileChange, WorkspaceError> {
        // DIR first: a path through a symlink there is refused before anything
        // lands in the scratch tree.
        let existing = paths::read_confined(&self.dir, path)?;
        paths::write_confined(&self.scratch(session), path, content)?;
        Ok(match existing {
            Some(_) => FileChange::Modified,
            None => FileChange::New,
        })
    }

    /// What a file in DIR holds now, as an id to compare: its git blob id
    /// (SHA-1 of the content, hex), or `""` when it is absent. Used to tell
    /// whether the person changed a file between staging and delivery.
    ///
    /// Errors: a refused path or an unreadable file.
    pub fn content_id(&self, path: &str) -> Result<String, WorkspaceError> {
        Ok(match paths::read_confined(&self.dir, path)? {
            Some(bytes) => blob_id(&bytes),
            None => String::new(),
        })
    }

    /// The commit a session already made (HEAD's last 200 commits are searched
    /// for its `Quorum-Session:` trailer), with the repository's work tree:
    /// how a resumed session knows it must not commit again.
    ///
    /// Errors: the repository cannot be opened.
    pub fn session_commit(
        &self,
        session: &SessionId,
    ) -> Result<Option<(String, PathBuf)>, WorkspaceError> {
        let Some((repo, info)) = git::discover(&self.dir)? else {
            return Ok(None);
        };
        let trailer = format!("Quorum-Session: {session}");
        Ok(git::find_trailer(&repo, &trailer, 200).map(|sha| (sha, info.workdir)))
    }

    /// A file's current content in DIR (`None` when absent).
    pub fn read(&self, path: &str) -> Result<Option<Vec<u8>>, WorkspaceError> {
        Ok(paths::read_confined(&self.dir, path)?)
    }

    /// A map of the project already in DIR (DESIGN.md §1, "Existing code"): every
    /// file's path (at most [`MAP_MAX_FILES`]), and the contents of the key files
    /// within `budget_bytes` — manifests and READMEs first, then the other text
    /// files in path order, each under [`MAP_MAX_FILE_BYTES`]. Skipped: `.git/`,
    /// the state directory, what git ignores, links, binary files.
    pub fn project_map(&self, budget_bytes: usize) -> Result<ProjectMap, WorkspaceError> {
        let ignored = git::discover(&self.dir)?;
        let mut files = Vec::new();
        let mut stack = vec![self.dir.clone()];
        while let Some(dir) = stack.pop() {
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(source) => return Err(WorkspaceError::Io { path: dir, source }),
            };
            let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
            entries.sort_by_key(|e| e.file_name());
            for entry in entries {
                let path = entry.path();
                let Ok(rel) = path.strip_prefix(&self.dir) else {
                    continue;
                };
                let rel = rel.to_string_lossy().replace('\\', "/");
                // quorum's own config is no part of the project.
                if rel == ".git"
                    || rel == "quorum.toml"
                    || path == self.state
                    || rel.starts_with(".git/")
                {
                    continue;
                }
                if let Some((repo, info)) = &ignored
                    && repo
                        .is_path_ignored(Path::new(&info.repo_path(&rel)))
                        .unwrap_or(false)
                {
                    continue;
                }
                let Ok(meta) = std::fs::symlink_metadata(&path) else {
                    continue;
                };
                if meta.is_dir() {
                    stack.push(path);
                } else if meta.is_file() {
                    files.push((rel, meta.len()));
                }
            }
        }
        files.sort();
        let total = files.len();
        files.truncate(MAP_MAX_FILES);
        let rank = |p: &str| {
            let name = p.rsplit('/').next().unwrap_or(p).to_ascii_lowercase();
            let manifest = [
                "cargo.toml",
                "package.json",
                "pyproject.toml",
                "setup.cfg",
                "setup.py",
                "go.mod",
                "requirements.txt",
                "makefile",
            ];
            if manifest.contains(&name.as_str()) {
                0
            } else if name.starts_with("readme") {
                1
            } else {
                2
            }
        };
        let mut order: Vec<&(String, u64)> = files.iter().collect();
        order.sort_by_key(|(p, _)| (rank(p), p.clone()));
        let mut used = 0usize;
        let mut key_files = Vec::new();
        let mut omitted = 0usize;
        for (path, len) in order {
            let len = *len as usize;
            if len > MAP_MAX_FILE_BYTES || used + len > budget_bytes {
                omitted += 1;
                continue;
            }
            let Ok(Some(bytes)) = paths::read_confined(&self.dir, path) else {
                continue;
            };
            if bytes.contains(&0) {
                continue;
            }
            let Ok(text) = String::from_utf8(bytes) else {
                continue;
            };
            used += len;
            key_files.push((path.clone(), text));
        }
        key_files.sort();
        Ok(ProjectMap {
            files: files.into_iter().map(|(p, _)| p).collect(),
            key_files,
            omitted: omitted + total.saturating_sub(MAP_MAX_FILES),
        })
    }

    /// Writes the accepted files into DIR through the path rules, each one
    /// atomically: the content goes to a temporary file beside it
    /// (`.NAME.quorum-SESSION.tmp`), is synced, and is renamed over the path.
    /// A crash therefore leaves every file either as it was or complete, never
    /// torn (a torn file would look like a hand edit to the resumed session
    /// and be kept); a temporary file a crash leaves behind is replaced and
    /// renamed by the resumed delivery. The rename replaces a symlink planted
    /// at the path instead of writing through it.
    ///
    /// Errors: a refused path, or an I/O error naming the file.
    pub fn deliver(
        &self,
        session: &SessionId,
        files: &[(String, Vec<u8>)],
    ) -> Result<(), WorkspaceError> {
        for (path, content) in files {
            let (parent, name) = match path.rsplit_once('/') {
                Some((parent, name)) => (format!("{parent}/"), name),
                None => (String::new(), path.as_str()),
            };
            let temp = format!("{parent}.{name}.quorum-{session}.tmp");
            let to = self.dir.join(path);
            // Never replace the person's symlink (or a directory) either.
            let not_a_file = |to: &Path| {
                std::fs::symlink_metadata(to)
                    .is_ok_and(|m| m.file_type().is_symlink() || !m.is_file())
            };
            let refused = || {
                WorkspaceError::Write(paths::WriteError::Refused {
                    path: path.clone(),
                    refusal: paths::PathRefusal::Symlink(name.to_string()),
                })
            };
            if not_a_file(&to) {
                return Err(refused());
            }
            paths::write_confined(&self.dir, &temp, content)?;
            let io = |at: &Path| {
                let at = at.to_path_buf();
                move |source| WorkspaceError::Io { path: at, source }
            };
            let from = self.dir.join(&temp);
            if not_a_file(&to) {
                // Planted meanwhile: our own temporary file goes, nothing else.
                let _ = std::fs::remove_file(&from);
                return Err(refused());
            }
            std::fs::File::open(&from)
                .and_then(|f| f.sync_all())
                .map_err(io(&from))?;
            std::fs::rename(&from, &to).map_err(io(&to))?;
        }
        Ok(())
    }

    /// Commits the delivered files (HEAD plus these files), initialising a
    /// repository at DIR when it is in none.
    pub fn commit(
        &self,
        files: &[(String, Vec<u8>)],
        message: &str,
    ) -> Result<Commit, WorkspaceError> {
        let (repo, info) = git::open_or_init(&self.dir)?;
        let sha = git::commit_files(&repo, &info, files, message)?;
        Ok(Commit {
            sha,
            repo: info.workdir,
            created_repo: info.created,
        })
    }
}

/// The git blob id of `bytes` (SHA-1, hex): the content ids of
/// [`Workspace::content_id`].
pub fn blob_id(bytes: &[u8]) -> String {
    git2::Oid::hash_object(git2::ObjectType::Blob, bytes)
        .map(|oid| oid.to_string())
        .unwrap_or_default()
}

/// A unified diff of `old` → `new` for `path`, with 3 lines of context.
pub fn unified_diff(path: &str, old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{path}"), &format!("b/{path}"))
        .to_string()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn staging_never_touches_dir_and_knows_new_from_modified() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join(".quorum");
        std::fs::write(dir.path().join("existing.py"), "old\n").unwrap();
        let ws = Workspace::new(dir.path(), &state);
        let s = SessionId::new();
        ws.prepare_scratch(&s).unwrap();
        assert_eq!(ws.stage(&s, "new.py", b"x").unwrap(), FileChange::New);
        assert_eq!(
            ws.stage(&s, "existing.py", b"new\n").unwrap(),
            FileChange::Modified
        );
        assert!(!dir.path().join("new.py").exists());
        assert_eq!(
            std::fs::read_to_string(dir.path().join("existing.py")).unwrap(),
            "old\n"
        );
        assert!(ws.scratch(&s).join("new.py").is_file());
        assert!(ws.stage(&s, "../escape.py", b"x").is_err());
    }

    #[test]
    fn the_project_map_lists_files_and_key_contents_and_skips_state_and_ignored_files() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join(".quorum");
        std::fs::create_dir_all(&state).unwrap();
        std::fs::write(state.join("db"), "state").unwrap();
        std::fs::create_dir(dir.path().join("src")).unwrap();
        std::fs::write(dir.path().join("src/app.py"), "print(1)\n").unwrap();
        std::fs::write(dir.path().join("README.md"), "# App\n").unwrap();
        std::fs::write(dir.path().join("big.bin"), [0u8, 1, 2]).unwrap();
        std::fs::write(dir.path().join("notes.log"), "x").unwrap();
        std::fs::write(dir.path().join(".gitignore"), "*.log\n").unwrap();
        git::open_or_init(dir.path()).unwrap();
        let ws = Workspace::new(dir.path(), &state);
        let map = ws.project_map(1024).unwrap();
        assert_eq!(
            map.files,
            vec![".gitignore", "README.md", "big.bin", "src/app.py"]
        );
        let keys: Vec<&str> = map.key_files.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            keys,
            vec![".gitignore", "README.md", "src/app.py"],
            "binary files are left out"
        );
        let small = ws.project_map(8).unwrap();
        assert_eq!(
            small.key_files.len(),
            1,
            "README first, then the budget is spent"
        );
        assert_eq!(small.key_files[0].0, "README.md");
        assert!(small.omitted >= 2);
        let empty = tempfile::tempdir().unwrap();
        assert!(
            Workspace::new(empty.path(), &empty.path().join(".quorum"))
                .project_map(100)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn diffs_are_unified() {
        let d = unified_diff("a.txt", "one\ntwo\n", "one\nthree\n");
        assert!(d.contains("--- a/a.txt"), "{d}");
        assert!(d.contains("-two"), "{d}");
        assert!(d.contains("+three"), "{d}");
    }
}
