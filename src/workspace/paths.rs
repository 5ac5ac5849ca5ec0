//! Path rules for generated files (DESIGN.md §6), and the one function that
//! writes a generated file to disk, [`write_confined`].
//!
//! A generated path is relative, normalised, inside the root, not under `.git/`
//! or `.quorum/`, within the task's declared files, and never written through a
//! symlink. The symlink check happens at write time, component by component, and
//! the final open uses `O_NOFOLLOW`, so a link planted after staging is refused.

use std::io::Write as _;
use std::path::{Component, Path, PathBuf};

/// Longest accepted path, in bytes.
pub const MAX_PATH_BYTES: usize = 1024;
/// Longest accepted path component, in bytes (common file system limit).
pub const MAX_COMPONENT_BYTES: usize = 255;

/// Why a path was refused; the `Display` text is the `reason` of `path_refused`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PathRefusal {
    /// Empty path.
    #[error("empty path")]
    Empty,
    /// Starts at the root, or with a drive or UNC prefix.
    #[error("absolute path")]
    Absolute,
    /// Contains a `..` component.
    #[error("`..` escapes the target directory")]
    ParentDir,
    /// Under `.git/` or `.quorum/`.
    #[error("inside `{0}/`, which quorum never writes")]
    Reserved(String),
    /// A backslash, NUL, control character, or a Windows device name.
    #[error("forbidden character or name: {0}")]
    Forbidden(String),
    /// Longer than [`MAX_PATH_BYTES`] or with a component over [`MAX_COMPONENT_BYTES`].
    #[error("path too long")]
    TooLong,
    /// Not among the task's declared files.
    #[error("not among the task's declared files ({0})")]
    NotDeclared(String),
    /// A component exists and is a symlink (or is not a directory).
    #[error("`{0}` is a symlink or not a directory")]
    Symlink(String),
}

const DEVICE_NAMES: [&str; 22] = [
    "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8",
    "com9", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
];

/// Normalises a generated path: `/`-separated, no `.` or empty components.
///
/// Errors: see [`PathRefusal`].
pub fn normalize(raw: &str) -> Result<String, PathRefusal> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(PathRefusal::Empty);
    }
    if raw.len() > MAX_PATH_BYTES {
        return Err(PathRefusal::TooLong);
    }
    if raw.contains('\\') {
        return Err(PathRefusal::Forbidden("backslash".into()));
    }
    if raw.chars().any(|c| c.is_control()) {
        return Err(PathRefusal::Forbidden("control character".into()));
    }
    if raw.starts_with('/') || raw.starts_with('~') || raw.as_bytes().get(1) == Some(&b':') {
        return Err(PathRefusal::Absolute);
    }
    let mut parts = Vec::new();
    for part in raw.split('/') {
        match part {
            "" | "." => continue,
            ".." => return Err(PathRefusal::ParentDir),
            _ => {}
        }
        if part.len() > MAX_COMPONENT_BYTES {
            return Err(PathRefusal::TooLong);
        }
        let stem = part.split('.').next().unwrap_or(part).to_ascii_lowercase();
        if DEVICE_NAMES.contains(&stem.as_str()) {
            return Err(PathRefusal::Forbidden(format!("device name `{part}`")));
        }
        parts.push(part);
    }
    let Some(first) = parts.first() else {
        return Err(PathRefusal::Empty);
    };
    let first_lower = first.to_ascii_lowercase();
    if first_lower == ".git" || first_lower == ".quorum" {
        return Err(PathRefusal::Reserved(first.to_string()));
    }
    if parts.iter().any(|p| p.eq_ignore_ascii_case(".git")) {
        return Err(PathRefusal::Reserved(".git".into()));
    }
    Ok(parts.join("/"))
}

/// Checks a normalised path against a task's declared files: an exact path, or a
/// directory prefix written with a trailing `/`.
pub fn check_declared(path: &str, declared: &[String]) -> Result<(), PathRefusal> {
    let ok = declared.iter().any(|d| {
        if let Some(dir) = d.strip_suffix('/') {
            path.strip_prefix(dir)
                .is_some_and(|rest| rest.starts_with('/'))
        } else {
            d == path
        }
    });
    if ok {
        Ok(())
    } else {
        Err(PathRefusal::NotDeclared(declared.join(", ")))
    }
}

/// A failure to write a generated file.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Refused by the path rules.
    #[error("{path}: {refusal}")]
    Refused {
        /// The path as given when it did not normalise, else its normalised form (relative,
        /// `/`-separated).
        path: String,
        /// The rule it broke.
        refusal: PathRefusal,
    },
    /// An I/O error.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file or directory on disk: the root joined with the path's components so far.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
}

/// Reads `rel` under `root` without following symlinks; `Ok(None)` when absent.
pub fn read_confined(root: &Path, rel: &str) -> Result<Option<Vec<u8>>, WriteError> {
    let rel = normalize(rel).map_err(|refusal| WriteError::Refused {
        path: rel.to_string(),
        refusal,
    })?;
    let mut at = root.to_path_buf();
    for part in rel.split('/') {
        at.push(part);
        match std::fs::symlink_metadata(&at) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(WriteError::Refused {
                    path: rel.clone(),
                    refusal: PathRefusal::Symlink(part.to_string()),
                });
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(WriteError::Io { path: at, source }),
        }
    }
    if !at.is_file() {
        return Ok(None);
    }
    std::fs::read(&at)
        .map(Some)
        .map_err(|source| WriteError::Io { path: at, source })
}

/// Writes `content` to `rel` under `root`, creating directories as needed, and
/// refusing any path the rules reject or that passes through a symlink — checked
/// now, component by component, and enforced at the open with `O_NOFOLLOW`.
pub fn write_confined(root: &Path, rel: &str, content: &[u8]) -> Result<(), WriteError> {
    let norm = normalize(rel).map_err(|refusal| WriteError::Refused {
        path: rel.to_string(),
        refusal,
    })?;
    let refused = |part: &str| WriteError::Refused {
        path: norm.clone(),
        refusal: PathRefusal::Symlink(part.to_string()),
    };
    let parts: Vec<&str> = norm.split('/').collect();
    let mut at = root.to_path_buf();
    for part in &parts[..parts.len() - 1] {
        at.push(part);
        match std::fs::symlink_metadata(&at) {
            Ok(meta) if meta.file_type().is_symlink() || !meta.is_dir() => {
                return Err(refused(part));
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir(&at).map_err(|source| WriteError::Io {
                    path: at.clone(),
                    source,
                })?;
            }
            Err(source) => return Err(WriteError::Io { path: at, source }),
        }
    }
    let last = parts[parts.len() - 1];
    at.push(last);
    if let Ok(meta) = std::fs::symlink_metadata(&at)
        && (meta.file_type().is_symlink() || !meta.is_file())
    {
        return Err(refused(last));
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW);
    }
    let mut file = options.open(&at).map_err(|source| WriteError::Io {
        path: at.clone(),
        source,
    })?;
    file.write_all(content)
        .map_err(|source| WriteError::Io { path: at, source })
}

/// `true` when `path` is the root or below it, compared component-wise.
pub fn is_inside(root: &Path, path: &Path) -> bool {
    let root: Vec<Component> = root.components().collect();
    let path: Vec<Component> = path.components().collect();
    path.len() >= root.len() && path[..root.len()] == root[..]
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn normalisation_accepts_ordinary_paths() {
        assert_eq!(normalize("a/b.py").unwrap(), "a/b.py");
        assert_eq!(normalize("./a//b/./c.txt").unwrap(), "a/b/c.txt");
        assert_eq!(normalize(".gitignore").unwrap(), ".gitignore");
        assert_eq!(normalize("docs/.github/x").unwrap(), "docs/.github/x");
    }

    #[test]
    fn normalisation_refuses_escapes_and_reserved_places() {
        let cases = [
            ("", PathRefusal::Empty),
            ("/etc/passwd", PathRefusal::Absolute),
            ("~/x", PathRefusal::Absolute),
            ("C:/x", PathRefusal::Absolute),
            ("../x", PathRefusal::ParentDir),
            ("a/../../x", PathRefusal::ParentDir),
            (
                ".git/hooks/pre-commit",
                PathRefusal::Reserved(".git".into()),
            ),
            (".GIT/config", PathRefusal::Reserved(".GIT".into())),
            ("sub/.git/config", PathRefusal::Reserved(".git".into())),
            (".quorum/state", PathRefusal::Reserved(".quorum".into())),
            ("./.", PathRefusal::Empty),
        ];
        for (input, want) in cases {
            assert_eq!(normalize(input), Err(want), "{input}");
        }
        assert!(matches!(normalize("a\\b"), Err(PathRefusal::Forbidden(_))));
        assert!(matches!(
            normalize("x/NUL.txt"),
            Err(PathRefusal::Forbidden(_))
        ));
        assert!(matches!(normalize("a\nb"), Err(PathRefusal::Forbidden(_))));
        assert_eq!(normalize(&"a".repeat(300)), Err(PathRefusal::TooLong));
    }

    #[test]
    fn declared_files_are_exact_or_directory_prefixes() {
        let declared = vec!["app.py".to_string(), "tests/".to_string()];
        assert!(check_declared("app.py", &declared).is_ok());
        assert!(check_declared("tests/test_a.py", &declared).is_ok());
        assert!(check_declared("tests", &declared).is_err());
        assert!(check_declared("testsx/a.py", &declared).is_err());
        assert!(check_declared("other.py", &declared).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn writes_never_pass_through_symlinks() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("link")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("f"), root.path().join("file-link"))
            .unwrap();
        let err = write_confined(root.path(), "link/x.py", b"x").unwrap_err();
        assert!(matches!(
            err,
            WriteError::Refused {
                refusal: PathRefusal::Symlink(_),
                ..
            }
        ));
        let err = write_confined(root.path(), "file-link", b"x").unwrap_err();
        assert!(err.to_string().contains("symlink"), "{err}");
        assert!(std::fs::read_dir(outside.path()).unwrap().next().is_none());
        assert!(read_confined(root.path(), "link/x.py").is_err());

        write_confined(root.path(), "a/b/c.txt", b"hello").unwrap();
        assert_eq!(
            read_confined(root.path(), "a/b/c.txt").unwrap().unwrap(),
            b"hello"
        );
        assert_eq!(read_confined(root.path(), "a/none").unwrap(), None);
    }

    proptest! {
        #[test]
        fn normalised_paths_never_escape(raw in "[a-z./\\\\]{0,24}") {
            if let Ok(norm) = normalize(&raw) {
                prop_assert!(!norm.starts_with('/'));
                prop_assert!(!norm.split('/').any(|p| p == ".." || p.is_empty() || p == "."));
                prop_assert!(!norm.starts_with(".git") || norm.starts_with(".gitignore") || norm.starts_with(".git") && !norm.split('/').next().unwrap_or("").eq_ignore_ascii_case(".git"));
                prop_assert!(is_inside(Path::new("/r"), &Path::new("/r").join(&norm)));
            }
        }
    }
}
