//! Everything that touches DIR and the scratch trees: path rules and confined
//! writes ([`paths`]), git ([`git`]), the sandboxed test runner ([`sandbox`]),
//! staging into `.quorum/work/<session>/` and delivery into DIR.
//!
//! These are blocking functions; the orchestrator calls them through
//! `spawn_blocking` (the sandbox is async). Nothing here writes into DIR except
//! [`Workspace::deliver`], and that only through [`paths::write_confined`].

pub mod git;
pub mod instructions;
pub mod paths;
pub mod repomap;
pub mod report;
pub mod sandbox;
pub mod stack;
pub mod state_dir;

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

/// Bytes of existing files' contents a project map carries (about 24k
/// tokens): the key files' budget of [`Workspace::project_map`] at a
/// session's start.
pub const PROJECT_MAP_BYTES: usize = 96 * 1024;

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

/// What DIR holds at a session's start, as the agents see it: the project
/// map, the project's instruction files and the repository map
/// ([`Workspace::survey`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Survey {
    /// The file list and key files.
    pub project: ProjectMap,
    /// The instruction files, root first ([`instructions::read`]).
    pub instructions: Vec<crate::protocol::inputs::Instruction>,
    /// Paths of the instruction files cut at their size limit.
    pub cut: Vec<String>,
    /// The repository map and what building it cost.
    pub map: repomap::RepoMap,
}

/// `true` for a manifest or a README: the key files a big project still
/// shows whole beside its repository map.
fn is_manifest_or_readme(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    MANIFESTS.contains(&name.as_str()) || name.starts_with("readme")
}

/// The manifests' file names, lower case: key files shown first.
const MANIFESTS: [&str; 8] = [
    "cargo.toml",
    "package.json",
    "pyproject.toml",
    "setup.cfg",
    "setup.py",
    "go.mod",
    "requirements.txt",
    "makefile",
];

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

    /// A map of the project already in DIR (docs/design.md §1, "Existing code"): every
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
            if MANIFESTS.contains(&name.as_str()) {
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

    /// About how many tokens the agents are shown of DIR's project, for the
    /// cost estimate before a session (docs/commands.md, `run --estimate`;
    /// docs/tui.md, "Cost estimate"): the project map of
    /// [`PROJECT_MAP_BYTES`] as JSON, at 4 bytes a token, plus the
    /// repository map counted at `map_tokens` or, when less, at a token per
    /// 4 bytes of the source files it reads (a map holds only their
    /// signatures). Cheap: no file is parsed. 0 for an empty DIR or one that
    /// cannot be listed.
    pub fn shown_tokens(&self, map_tokens: usize) -> u64 {
        let Ok(map) = self.project_map(PROJECT_MAP_BYTES) else {
            return 0;
        };
        if map.is_empty() {
            return 0;
        }
        let json = serde_json::to_string_pretty(&map).unwrap_or_default();
        let source_bytes: u64 = repomap::walk(&self.dir, &self.state)
            .iter()
            .filter(|(p, _)| repomap::extract::Lang::of(p).is_some())
            .map(|(_, len)| len)
            .sum();
        (json.len() as u64).div_ceil(4) + (map_tokens as u64).min(source_bytes.div_ceil(4))
    }

    /// What DIR holds for a session started with `prompt`
    /// (docs/design.md §1, "Existing code" and "Project instructions"): the
    /// project map within `budget_bytes` ([`Workspace::project_map`]), the
    /// instruction files ([`instructions::read`]) and the repository map
    /// within `map_tokens` ([`repomap::build`], symbols cached in `cache`;
    /// none when `map_tokens` is 0). A project too big to show whole (some
    /// file left out of the key files, or of the map for its budget) shows
    /// only its manifests and READMEs whole beside the repository map; the
    /// instruction files are never repeated among the key files.
    ///
    /// Errors: DIR cannot be listed.
    pub fn survey(
        &self,
        prompt: &str,
        budget_bytes: usize,
        map_tokens: usize,
        cache: &dyn repomap::SymbolCache,
    ) -> Result<Survey, WorkspaceError> {
        let mut project = self.project_map(budget_bytes)?;
        let instructions = instructions::read(&self.dir, &self.state);
        let map = if map_tokens == 0 {
            repomap::RepoMap::default()
        } else {
            repomap::build(&self.dir, &self.state, prompt, map_tokens, cache)
        };
        if (project.omitted > 0 || !map.complete) && !map.text.is_empty() {
            let before = project.key_files.len();
            project.key_files.retain(|(p, _)| is_manifest_or_readme(p));
            project.omitted += before - project.key_files.len();
        }
        project
            .key_files
            .retain(|(p, _)| !instructions.iter().any(|i| i.path == *p));
        let cut = instructions
            .iter()
            .filter(|i| i.text.len() > instructions::INSTRUCTIONS_MAX_BYTES)
            .map(|i| i.path.clone())
            .collect();
        Ok(Survey {
            project,
            instructions,
            cut,
            map,
        })
    }

    /// The files among `files` (path relative to DIR, the content about to
    /// be written) whose content in DIR is uncommitted work: the file exists,
    /// differs from HEAD's version (or HEAD has none: untracked, an unborn
    /// HEAD, no repository at all), and does not already hold the content
    /// about to be written (as after an interrupted delivery). Writing over
    /// such a file would lose work that is in no commit, so delivery never
    /// does, whatever `--allow-overwrite` says (docs/commands.md, "quorum
    /// run"). Sorted as given.
    ///
    /// Errors: a refused path, an unreadable file, or a repository that
    /// cannot be read.
    pub fn uncommitted(&self, files: &[(String, Vec<u8>)]) -> Result<Vec<String>, WorkspaceError> {
        let repo = git::discover(&self.dir)?;
        let mut dirty = Vec::new();
        for (path, content) in files {
            let now = self.content_id(path)?;
            if now.is_empty() || now == blob_id(content) {
                continue;
            }
            let committed = match &repo {
                Some((repo, info)) => git::head_blob_id(repo, &info.repo_path(path))?,
                None => None,
            };
            if committed.as_deref() != Some(now.as_str()) {
                dirty.push(path.clone());
            }
        }
        Ok(dirty)
    }

    /// Writes the accepted files into DIR through the path rules, all or
    /// nothing (docs/commands.md, "quorum resume"): every file's content goes
    /// first to a temporary file beside it (`.NAME.quorum-SESSION.tmp`) and is
    /// synced; only when every one was written are they renamed over their
    /// paths. A failed write (a full disk, a read-only DIR, a refused path)
    /// removes the temporary files and the directories this call created, so
    /// DIR is left as it was. A crash leaves every file either as it was or
    /// complete, never torn (a torn file would look like a hand edit to the
    /// resumed session and be kept); a temporary file a crash leaves behind is
    /// replaced and renamed by the resumed delivery. The rename replaces a
    /// symlink planted at the path instead of writing through it. Should a
    /// rename itself fail (same directory, same filesystem: not for lack of
    /// space), the files renamed before it are complete and the rest are as
    /// they were; the resumed delivery finishes the job.
    ///
    /// Errors: a refused path, or an I/O error naming the file in DIR (never
    /// the temporary name) and the OS error.
    pub fn deliver(
        &self,
        session: &SessionId,
        files: &[(String, Vec<u8>)],
    ) -> Result<(), WorkspaceError> {
        // Directories missing now, deepest last: what a failure removes.
        let mut created: Vec<PathBuf> = Vec::new();
        for (path, _) in files {
            let mut at = self.dir.clone();
            if let Some((parent, _)) = path.rsplit_once('/') {
                for part in parent.split('/') {
                    at.push(part);
                    if !created.contains(&at) && std::fs::symlink_metadata(&at).is_err() {
                        created.push(at.clone());
                    }
                }
            }
        }
        let mut temps: Vec<(PathBuf, PathBuf)> = Vec::new();
        let written = self.write_temps(session, files, &mut temps);
        let undo = |temps: &[(PathBuf, PathBuf)], created: &[PathBuf]| {
            for (from, _) in temps {
                let _ = std::fs::remove_file(from);
            }
            for dir in created.iter().rev() {
                // Only ever empty directories: anything else put there stays.
                let _ = std::fs::remove_dir(dir);
            }
        };
        if let Err(e) = written {
            undo(&temps, &created);
            return Err(e);
        }
        for (i, (from, to)) in temps.iter().enumerate() {
            if let Err(source) = std::fs::rename(from, to) {
                undo(&temps[i..], &[]);
                return Err(WorkspaceError::Io {
                    path: to.clone(),
                    source,
                });
            }
        }
        Ok(())
    }

    /// The first half of [`Workspace::deliver`]: writes and syncs each
    /// file's temporary file, pushing (temporary, final) paths to `temps` as
    /// it goes (the one being written included, so that a failure removes a
    /// partial temporary file too).
    fn write_temps(
        &self,
        session: &SessionId,
        files: &[(String, Vec<u8>)],
        temps: &mut Vec<(PathBuf, PathBuf)>,
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
            let from = self.dir.join(&temp);
            // A temporary file planted as a symlink is refused by the write
            // and not ours to remove.
            if std::fs::symlink_metadata(&from).is_ok_and(|m| m.file_type().is_symlink()) {
                return Err(refused());
            }
            temps.push((from.clone(), to.clone()));
            // The person is told about their file, not our temporary name.
            let io = |source| WorkspaceError::Io {
                path: to.clone(),
                source,
            };
            match paths::write_confined(&self.dir, &temp, content) {
                Ok(()) => {}
                Err(paths::WriteError::Io { source, .. }) => return Err(io(source)),
                Err(e) => return Err(e.into()),
            }
            if not_a_file(&to) {
                // Planted meanwhile.
                return Err(refused());
            }
            std::fs::File::open(&from)
                .and_then(|f| f.sync_all())
                .map_err(io)?;
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

    /// The estimate's count of what the agents are shown: nothing for an
    /// empty DIR; the project map's JSON plus the repository map at its
    /// budget or, for a small project, at its source files' size.
    #[test]
    fn shown_tokens_count_the_project_map_and_the_repository_map_at_most_its_budget() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join(".quorum");
        let ws = Workspace::new(dir.path(), &state);
        assert_eq!(ws.shown_tokens(4096), 0);
        std::fs::write(dir.path().join("README.md"), "# x\n").unwrap();
        let json = |ws: &Workspace| {
            let map = ws.project_map(PROJECT_MAP_BYTES).unwrap();
            (serde_json::to_string_pretty(&map).unwrap().len() as u64).div_ceil(4)
        };
        // No source file: no repository map.
        assert_eq!(ws.shown_tokens(4096), json(&ws));
        let source = "pub fn parse_config() {}\n".repeat(100);
        std::fs::write(dir.path().join("lib.rs"), &source).unwrap();
        let small = (source.len() as u64).div_ceil(4);
        assert_eq!(ws.shown_tokens(4096), json(&ws) + small);
        assert_eq!(ws.shown_tokens(100), json(&ws) + 100);
        assert_eq!(ws.shown_tokens(0), json(&ws));
    }

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
    fn delivery_is_all_or_nothing_and_never_overwrites_uncommitted_work() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let ws = Workspace::new(d, &d.join(".quorum"));
        let s = SessionId::new();
        std::fs::write(d.join("blocker"), "a file, not a directory\n").unwrap();
        std::fs::write(d.join("kept.txt"), "old\n").unwrap();
        let files = vec![
            ("kept.txt".to_string(), b"new\n".to_vec()),
            ("a/b/new.txt".to_string(), b"x".to_vec()),
            ("blocker/x.txt".to_string(), b"y".to_vec()),
        ];
        assert!(ws.deliver(&s, &files).is_err());
        let mut left: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            vec!["blocker", "kept.txt"],
            "no temp file, no new dir"
        );
        assert_eq!(
            std::fs::read_to_string(d.join("kept.txt")).unwrap(),
            "old\n"
        );

        // No repository: every existing file is uncommitted, unless it
        // already holds what is about to be written.
        let ok = &files[..2];
        assert_eq!(ws.uncommitted(ok).unwrap(), vec!["kept.txt"]);
        std::fs::write(d.join("kept.txt"), "new\n").unwrap();
        assert!(ws.uncommitted(ok).unwrap().is_empty());
        // Committed: overwriting it loses nothing.
        std::fs::write(d.join("kept.txt"), "old\n").unwrap();
        let c = ws
            .commit(&[("kept.txt".to_string(), b"old\n".to_vec())], "m")
            .unwrap();
        assert!(c.created_repo);
        assert!(ws.uncommitted(ok).unwrap().is_empty());
        ws.deliver(&s, ok).unwrap();
        assert_eq!(
            std::fs::read_to_string(d.join("kept.txt")).unwrap(),
            "new\n"
        );
        assert!(d.join("a/b/new.txt").is_file());
    }

    #[test]
    fn diffs_are_unified() {
        let d = unified_diff("a.txt", "one\ntwo\n", "one\nthree\n");
        assert!(d.contains("--- a/a.txt"), "{d}");
        assert!(d.contains("-two"), "{d}");
        assert!(d.contains("+three"), "{d}");
    }
}
