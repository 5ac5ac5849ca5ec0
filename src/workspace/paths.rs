//! Path rules for generated files (docs/design.md §6), and the one function that
//! writes a generated file to disk, [`write_confined`].
//!
//! A generated path is relative, normalised, inside the root, not under `.git/`
//! or `.quorum/`, within the task's declared files, not a device or reserved
//! name, not over-long, and never written through a symlink; a generated file
//! is at most [`MAX_FILE_BYTES`], and a session stages at most
//! [`MAX_SESSION_BYTES`]. The symlink check happens at write time: on Unix
//! every directory is opened relative to the previous one with `O_NOFOLLOW`
//! (`openat`), and the file itself too, so a link planted after staging — or
//! between the check and the write — is refused, never followed.

use std::path::{Component, Path, PathBuf};

/// Longest accepted path, in bytes.
pub const MAX_PATH_BYTES: usize = 1024;
/// Longest accepted path component, in bytes (common file system limit).
pub const MAX_COMPONENT_BYTES: usize = 255;
/// Largest generated file, in bytes (10 MiB): source code, docs and fixtures
/// fit easily; a larger reply is an accident or an attack
/// ([`PathRefusal::TooLarge`]). The person's own files (HEAD's tree copied
/// into the scratch tree) have no limit.
pub const MAX_FILE_BYTES: usize = 10 << 20;
/// Most bytes a session stages across all its files, in bytes (64 MiB;
/// [`PathRefusal::SessionTooLarge`]). A file staged again counts once, with its
/// newest content.
pub const MAX_SESSION_BYTES: u64 = 64 << 20;

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
    /// The file is over [`MAX_FILE_BYTES`]; the size in bytes.
    #[error("file too large: {0} bytes (limit {MAX_FILE_BYTES})")]
    TooLarge(u64),
    /// Staging the file would take the session over [`MAX_SESSION_BYTES`];
    /// the session's total in bytes with this file.
    #[error("the session's staged files would reach {0} bytes (limit {MAX_SESSION_BYTES})")]
    SessionTooLarge(u64),
    /// A name git refuses to put in a tree or check out (see [`check_name`]);
    /// what it is taken for, e.g. `` `.git` on NTFS (`.git.`) ``.
    #[error("git refuses this path: {0}")]
    Git(String),
    /// A name holding a character that hides or disguises text: a control
    /// character, a bidirectional control, an invisible (zero-width) character
    /// or a line separator; which one, e.g. `bidirectional control U+202E`.
    #[error("the name holds a {0}")]
    Invisible(String),
    /// The file would take the session over its file limit (`[session]
    /// max_files`, docs/configuration.md); the limit.
    #[error("the session already stages the most files it may ({0}, [session] max_files)")]
    TooManyFiles(usize),
}

/// Windows device names, reserved with any extension (`aux.txt`) and in any
/// directory; refused everywhere so that a project stays portable.
const DEVICE_NAMES: [&str; 25] = [
    "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8",
    "com9", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9", "conin$",
    "conout$", "clock$",
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
    if let Some(c) = raw.chars().find(|c| c.is_control()) {
        return Err(PathRefusal::Forbidden(format!(
            "control character U+{:04X}",
            u32::from(c)
        )));
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
        // Windows ignores trailing spaces before the extension: `aux .txt` is AUX.
        let stem = part
            .split('.')
            .next()
            .unwrap_or(part)
            .trim_end()
            .to_ascii_lowercase();
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

/// Checks a normalised generated path (see [`normalize`]) against the rules git
/// applies to the paths of a tree, with its NTFS and HFS+ protections on, and
/// against characters that hide or disguise a name. Applied at staging only:
/// the person's own files (HEAD's tree) are copied whatever their names.
///
/// The git rules are libgit2's (1.9, as vendored by the `git2` crate;
/// `git_path_is_valid` with `GIT_PATH_REJECT_DOT_GIT_NTFS`,
/// `GIT_PATH_REJECT_DOT_GIT_HFS` and the Windows file-system flags), which
/// `git2` does not expose, so they are restated here (docs/design.md §6), per
/// `/`-separated component:
///
/// * **`.git` on NTFS**: a component that starts, in any case, with `.git` or
///   its 8.3 short name `GIT~1` and continues with only dots and spaces (which
///   Windows drops: `.git.`, `.git `, `GIT~1`), a backslash or a `:` (an
///   alternate data stream: `.git::$INDEX_ALLOCATION`).
/// * **`.git` on HFS+**: a component that is `.git` in any case once the code
///   points HFS+ ignores are dropped (U+200C–200F, U+202A–202E, U+206A–206F,
///   U+FEFF: `.git\u{200c}`).
/// * **Windows file names**: a component ending with a dot or a space, or
///   holding `:` `<` `>` `"` `|` `?` `*` (Windows forbids them; the device
///   names are [`normalize`]'s).
///
/// (libgit2's further rules for `.gitmodules`, `.gitignore` and
/// `.gitattributes` and their short names concern symlinks only, which staging
/// never writes.)
///
/// Beyond git: a component that is `.git` (or, first, `.quorum`) after Unicode
/// compatibility normalisation (NFKC) and lower-casing (`．ＧＩＴ`), and any
/// control character (C0, DEL, C1), bidirectional control (U+061C,
/// U+200E–200F, U+202A–202E, U+2066–2069), invisible character (U+200B–200D,
/// U+2060–2064, U+206A–206F, U+FEFF) or line or paragraph separator (U+2028,
/// U+2029) anywhere in the path.
///
/// Errors: [`PathRefusal::Git`], [`PathRefusal::Reserved`] or
/// [`PathRefusal::Invisible`], naming the rule.
pub fn check_name(path: &str) -> Result<(), PathRefusal> {
    for (i, part) in path.split('/').enumerate() {
        if let Some(why) = git_refuses(part) {
            return Err(PathRefusal::Git(why));
        }
        let folded = fold(part);
        if folded == ".git" || (i == 0 && folded == ".quorum") {
            return Err(PathRefusal::Reserved(folded));
        }
    }
    if let Some((c, kind)) = path.chars().find_map(|c| hidden_kind(c).map(|k| (c, k))) {
        return Err(PathRefusal::Invisible(format!(
            "{kind} U+{:04X}",
            u32::from(c)
        )));
    }
    Ok(())
}

/// What a character that hides or disguises text is, or `None` for an
/// ordinary one (see [`check_name`]).
fn hidden_kind(c: char) -> Option<&'static str> {
    match c {
        c if c.is_control() => Some("control character"),
        '\u{061c}'
        | '\u{200e}'
        | '\u{200f}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}' => Some("bidirectional control"),
        '\u{200b}'..='\u{200d}'
        | '\u{2060}'..='\u{2064}'
        | '\u{206a}'..='\u{206f}'
        | '\u{feff}' => Some("invisible character"),
        '\u{2028}' | '\u{2029}' => Some("line or paragraph separator"),
        _ => None,
    }
}

/// Code points HFS+ ignores when it compares names (libgit2's
/// `next_hfs_char`).
fn hfs_ignored(c: char) -> bool {
    matches!(c, '\u{200c}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{206a}'..='\u{206f}' | '\u{feff}')
}

/// A component as a case- and compatibility-insensitive file system may see
/// it: HFS+'s ignored code points dropped, NFKC, lower-cased, NFKC again.
fn fold(part: &str) -> String {
    use unicode_normalization::UnicodeNormalization as _;
    let kept: String = part.chars().filter(|&c| !hfs_ignored(c)).collect();
    let lower = kept.nfkc().collect::<String>().to_lowercase();
    lower.nfkc().collect()
}

/// Why git refuses one path component (the rules of [`check_name`]), or `None`.
fn git_refuses(part: &str) -> Option<String> {
    let lower = part.to_ascii_lowercase();
    // Quoted with its hidden characters shown.
    let shown = shown(part);
    // NTFS: `.git` or `GIT~1`, then nothing but dots and spaces, or `\` or `:`.
    for reserved in [".git", "git~1"] {
        if let Some(rest) = lower.strip_prefix(reserved) {
            if rest.starts_with('\\') || rest.starts_with(':') {
                return Some(format!(
                    "`{shown}` reaches `.git` on NTFS (an alternate data stream or a Windows separator)"
                ));
            }
            if rest.chars().all(|c| c == '.' || c == ' ') {
                return Some(format!(
                    "`{shown}` is `.git` on NTFS (its short name, or with the trailing dots and spaces Windows drops)"
                ));
            }
        }
    }
    // HFS+: `.git` once the ignored code points are dropped.
    let hfs: String = part
        .chars()
        .filter(|&c| !hfs_ignored(c))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if hfs == ".git" {
        return Some(format!(
            "`{shown}` is `.git` on HFS+, which ignores its invisible characters"
        ));
    }
    if part.ends_with('.') || part.ends_with(' ') {
        return Some(format!(
            "`{shown}` ends with a dot or a space, which Windows drops"
        ));
    }
    if let Some(c) = part
        .chars()
        .find(|c| matches!(c, ':' | '<' | '>' | '"' | '|' | '?' | '*'))
    {
        return Some(format!(
            "`{shown}` holds `{c}`, which Windows forbids in file names"
        ));
    }
    None
}

/// A name with its hidden characters shown as `\u{…}` escapes, so that a
/// message quoting it shows what it holds.
fn shown(part: &str) -> String {
    part.chars()
        .map(|c| {
            if hidden_kind(c).is_some() || hfs_ignored(c) {
                format!("\\u{{{:x}}}", u32::from(c))
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// A declaration that allows any test file, wherever its runner looks for it
/// (see [`is_test_file`]): the test-writing task's, so that tests go where each
/// component's runner finds them rather than into a directory forced on them.
pub const TEST_FILES: &str =
    "(any test file: tests/…, test_x.py, x_test.go, x.test.js, conftest.py, vitest.config.*)";

/// Whether a project path is a test file or a test runner's configuration: a
/// path [`crate::workspace::stack::is_test_path`] accepts, `conftest.py`,
/// `pytest.ini`, or a `vitest.config.*`, `jest.config.*` or
/// `vitest.setup.*` file.
pub fn is_test_file(path: &str) -> bool {
    let file = path.rsplit('/').next().unwrap_or(path);
    crate::workspace::stack::is_test_path(path)
        || file == "conftest.py"
        || file == "pytest.ini"
        || [
            "vitest.config.",
            "jest.config.",
            "vitest.setup.",
            "setupTests.",
        ]
        .iter()
        .any(|p| file.starts_with(p))
}

/// Checks a normalised path against a task's declared files: an exact path, a
/// directory prefix written with a trailing `/`, or [`TEST_FILES`].
pub fn check_declared(path: &str, declared: &[String]) -> Result<(), PathRefusal> {
    let ok = declared.iter().any(|d| {
        if d == TEST_FILES {
            is_test_file(path)
        } else if let Some(dir) = d.strip_suffix('/') {
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

/// Checks a generated file's size: at most [`MAX_FILE_BYTES`], and with the
/// `staged_elsewhere` bytes of the session's other staged files, at most
/// [`MAX_SESSION_BYTES`].
pub fn check_size(bytes: usize, staged_elsewhere: u64) -> Result<(), PathRefusal> {
    if bytes > MAX_FILE_BYTES {
        return Err(PathRefusal::TooLarge(bytes as u64));
    }
    let total = staged_elsewhere.saturating_add(bytes as u64);
    if total > MAX_SESSION_BYTES {
        return Err(PathRefusal::SessionTooLarge(total));
    }
    Ok(())
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

/// Writes a generated file: `content` to `rel` under `root`, creating
/// directories as needed, refusing any path the rules reject, content over
/// [`MAX_FILE_BYTES`], and any path that passes through a symlink or ends at
/// one (see [`write_confined_any_size`]).
pub fn write_confined(root: &Path, rel: &str, content: &[u8]) -> Result<(), WriteError> {
    if content.len() > MAX_FILE_BYTES {
        return Err(WriteError::Refused {
            path: normalize(rel).unwrap_or_else(|_| rel.to_string()),
            refusal: PathRefusal::TooLarge(content.len() as u64),
        });
    }
    write_confined_any_size(root, rel, content)
}

/// [`write_confined`] without the size limit, for the person's own files
/// (HEAD's tree copied into the scratch tree).
///
/// On Unix each directory is opened relative to its parent with
/// `O_NOFOLLOW | O_DIRECTORY` (created first when absent), and the file with
/// `O_NOFOLLOW | O_NONBLOCK` and checked to be a regular file before it is
/// truncated, so neither a symlinked directory, a symlinked file, a FIFO nor a
/// device is ever written, even if planted between a check and the write.
pub fn write_confined_any_size(root: &Path, rel: &str, content: &[u8]) -> Result<(), WriteError> {
    let norm = normalize(rel).map_err(|refusal| WriteError::Refused {
        path: rel.to_string(),
        refusal,
    })?;
    let parts: Vec<&str> = norm.split('/').collect();
    #[cfg(unix)]
    {
        unix::write(root, &norm, &parts, content)
    }
    #[cfg(not(unix))]
    {
        portable_write(root, &norm, &parts, content)
    }
}

#[cfg(not(unix))]
fn portable_write(
    root: &Path,
    norm: &str,
    parts: &[&str],
    content: &[u8],
) -> Result<(), WriteError> {
    let refused = |part: &str| WriteError::Refused {
        path: norm.to_string(),
        refusal: PathRefusal::Symlink(part.to_string()),
    };
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
    use std::io::Write as _;
    let mut file = std::fs::File::create(&at).map_err(|source| WriteError::Io {
        path: at.clone(),
        source,
    })?;
    file.write_all(content)
        .map_err(|source| WriteError::Io { path: at, source })
}

#[cfg(unix)]
mod unix {
    //! Confined writes with `openat(2)`: one directory fd at a time, never
    //! following a symlink.

    use std::ffi::CString;
    use std::io::Write as _;
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::os::unix::ffi::OsStrExt;
    use std::path::{Path, PathBuf};

    use super::{PathRefusal, WriteError};

    fn open_at(
        dir: Option<&OwnedFd>,
        path: &CString,
        flags: libc::c_int,
        mode: libc::mode_t,
    ) -> std::io::Result<OwnedFd> {
        use std::os::fd::AsRawFd;
        let dirfd = dir.map_or(libc::AT_FDCWD, |d| d.as_raw_fd());
        // SAFETY: openat with a valid dir fd (or AT_FDCWD) and a NUL-terminated path.
        let fd = unsafe { libc::openat(dirfd, path.as_ptr(), flags | libc::O_CLOEXEC, mode) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: the fd was just opened and is owned by nobody else.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    pub(super) fn write(
        root: &Path,
        norm: &str,
        parts: &[&str],
        content: &[u8],
    ) -> Result<(), WriteError> {
        let refused = |part: &str| WriteError::Refused {
            path: norm.to_string(),
            refusal: PathRefusal::Symlink(part.to_string()),
        };
        let mut at = root.to_path_buf();
        let io = |at: &PathBuf, source| WriteError::Io {
            path: at.clone(),
            source,
        };
        let c = |s: &[u8], at: &PathBuf| {
            CString::new(s).map_err(|_| io(at, std::io::Error::other("NUL byte in path")))
        };
        // The root itself is DIR or our scratch tree: it may be reached
        // through a symlink the person made (e.g. DIR under a linked home).
        let mut dir = open_at(
            None,
            &c(root.as_os_str().as_bytes(), &at)?,
            libc::O_RDONLY | libc::O_DIRECTORY,
            0,
        )
        .map_err(|e| io(&at, e))?;
        let (last, dirs) = parts.split_last().ok_or_else(|| WriteError::Refused {
            path: norm.to_string(),
            refusal: PathRefusal::Empty,
        })?;
        for part in dirs {
            at.push(part);
            let name = c(part.as_bytes(), &at)?;
            {
                use std::os::fd::AsRawFd;
                // SAFETY: mkdirat on a valid dir fd and a NUL-terminated name.
                let made = unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), 0o777) };
                if made != 0 {
                    let e = std::io::Error::last_os_error();
                    if e.kind() != std::io::ErrorKind::AlreadyExists {
                        return Err(io(&at, e));
                    }
                }
            }
            dir = match open_at(
                Some(&dir),
                &name,
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
                0,
            ) {
                Ok(fd) => fd,
                Err(e) if matches!(e.raw_os_error(), Some(libc::ELOOP) | Some(libc::ENOTDIR)) => {
                    return Err(refused(part));
                }
                Err(e) => return Err(io(&at, e)),
            };
        }
        at.push(last);
        let name = c(last.as_bytes(), &at)?;
        let file = match open_at(
            Some(&dir),
            &name,
            libc::O_WRONLY | libc::O_CREAT | libc::O_NOFOLLOW | libc::O_NONBLOCK,
            0o666,
        ) {
            Ok(fd) => fd,
            // ELOOP: a symlink; ENXIO: a FIFO without reader; EISDIR: a directory.
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ELOOP) | Some(libc::ENXIO) | Some(libc::EISDIR)
                ) =>
            {
                return Err(refused(last));
            }
            Err(e) => return Err(io(&at, e)),
        };
        let mut file = std::fs::File::from(file);
        let meta = file.metadata().map_err(|e| io(&at, e))?;
        if !meta.is_file() {
            return Err(refused(last));
        }
        file.set_len(0).map_err(|e| io(&at, e))?;
        file.write_all(content).map_err(|e| io(&at, e))
    }
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

        // A symlinked directory deeper down, and a FIFO, are refused too.
        std::fs::create_dir(root.path().join("d")).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("d/inner")).unwrap();
        let err = write_confined(root.path(), "d/inner/deep/x.py", b"x").unwrap_err();
        assert!(
            matches!(&err, WriteError::Refused { refusal: PathRefusal::Symlink(p), .. } if p == "inner"),
            "{err}"
        );
        let fifo = std::ffi::CString::new(root.path().join("pipe").to_str().unwrap()).unwrap();
        // SAFETY: mkfifo on a NUL-terminated path in a temp dir.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
        let err = write_confined(root.path(), "pipe", b"x").unwrap_err();
        assert!(
            err.to_string().contains("symlink or not a directory"),
            "{err}"
        );
        // A file where a directory is expected.
        let err = write_confined(root.path(), "a/b/c.txt/x", b"x").unwrap_err();
        assert!(matches!(err, WriteError::Refused { .. }), "{err}");
        assert!(std::fs::read_dir(outside.path()).unwrap().next().is_none());
        // An existing file is replaced whole, not appended to.
        write_confined(root.path(), "a/b/c.txt", b"hi").unwrap();
        assert_eq!(std::fs::read(root.path().join("a/b/c.txt")).unwrap(), b"hi");
    }

    #[test]
    fn sizes_are_limited_per_file_and_per_session() {
        assert_eq!(check_size(MAX_FILE_BYTES, 0), Ok(()));
        assert_eq!(
            check_size(MAX_FILE_BYTES + 1, 0),
            Err(PathRefusal::TooLarge(MAX_FILE_BYTES as u64 + 1))
        );
        assert_eq!(check_size(10, MAX_SESSION_BYTES - 10), Ok(()));
        assert_eq!(
            check_size(11, MAX_SESSION_BYTES - 10),
            Err(PathRefusal::SessionTooLarge(MAX_SESSION_BYTES + 1))
        );
        let root = tempfile::tempdir().unwrap();
        let big = vec![b'x'; MAX_FILE_BYTES + 1];
        let err = write_confined(root.path(), "big.txt", &big).unwrap_err();
        assert!(err.to_string().contains("file too large"), "{err}");
        assert!(!root.path().join("big.txt").exists());
        // The person's own files have no limit.
        write_confined_any_size(root.path(), "big.txt", &big).unwrap();
        assert_eq!(
            std::fs::metadata(root.path().join("big.txt"))
                .unwrap()
                .len(),
            big.len() as u64
        );
    }

    #[test]
    fn device_names_control_characters_and_long_paths_are_refused() {
        for bad in [
            "CON",
            "nul",
            "aux.txt",
            "src/Com1.py",
            "lpt9.md",
            "aux .txt",
            "CONOUT$",
            "a/clock$.x",
        ] {
            assert!(
                matches!(normalize(bad), Err(PathRefusal::Forbidden(_))),
                "{bad}: {:?}",
                normalize(bad)
            );
        }
        for ok in [
            "console.py",
            "auxiliary.txt",
            "com10.txt",
            "nullable/x.rs",
            "con_test.py",
        ] {
            assert!(normalize(ok).is_ok(), "{ok}");
        }
        for bad in ["a\0b", "a\u{1b}[31m", "tab\tname", "x\u{7f}"] {
            assert!(normalize(bad).is_err(), "{bad:?}");
        }
        assert_eq!(normalize(&"a".repeat(255)).map(|p| p.len()), Ok(255));
        assert_eq!(normalize(&"a".repeat(256)), Err(PathRefusal::TooLong));
        let long = vec!["d".repeat(200); 6].join("/");
        assert_eq!(normalize(&long), Err(PathRefusal::TooLong));
        assert_eq!(normalize(&"x/".repeat(3000)), Err(PathRefusal::TooLong));
    }

    /// Normalised, then checked as git sees it (as staging does).
    fn staged(raw: &str) -> Result<String, PathRefusal> {
        let norm = normalize(raw)?;
        check_name(&norm).map(|()| norm)
    }

    #[test]
    fn paths_git_refuses_are_refused_with_their_reason() {
        for (raw, says) in [
            (".git.", "`.git.` is `.git` on NTFS"),
            ("src/.git ./x", "on NTFS"),
            ("GIT~1", "`GIT~1` is `.git` on NTFS"),
            ("a/git~1/config", "on NTFS"),
            (".git::$INDEX_ALLOCATION", "alternate data stream"),
            (".Git::$INDEX_ALLOCATION/hooks/x", "alternate data stream"),
            (".git\u{200c}/x", "`.git\\u{200c}` is `.git` on HFS+"),
            ("d/.g\u{200d}it/x", "on HFS+"),
            ("\u{feff}.GIT/x", "on HFS+"),
            ("readme.", "ends with a dot or a space"),
            ("a/b /c", "ends with a dot or a space"),
            ("ab:c.txt", "holds `:`"),
            ("what?.md", "holds `?`"),
            ("x|y", "holds `|`"),
        ] {
            let err = staged(raw).unwrap_err();
            assert!(matches!(err, PathRefusal::Git(_)), "{raw:?}: {err:?}");
            assert!(
                err.to_string().starts_with("git refuses this path: "),
                "{err}"
            );
            assert!(err.to_string().contains(says), "{raw:?}: {err}");
        }
        // `.git` in any case, and its compatibility and case variants.
        for raw in [
            ".GIT/x",
            "a/.Git/config",
            "\u{ff0e}\u{ff47}\u{ff49}\u{ff54}/x",
            "\u{ff0e}GIT",
            ".\u{1d420}it/x",
            "\u{ff0e}QUORUM/db",
        ] {
            assert!(
                matches!(staged(raw), Err(PathRefusal::Reserved(_))),
                "{raw:?}: {:?}",
                staged(raw)
            );
        }
        // Names that merely look alike are fine.
        for ok in [
            ".gitignore",
            ".github/workflows/ci.yml",
            ".gitattributes",
            "src/git~2.txt",
            "git~1x",
            "docs/.quorum/x",
            "caf\u{e9}.md",
            "\u{65e5}\u{672c}/\u{8a9e}.txt",
            "v1.2/x.py",
            "[id].tsx",
        ] {
            assert_eq!(staged(ok), Ok(ok.to_string()), "{ok:?}");
        }
    }

    #[test]
    fn names_with_hidden_characters_are_refused() {
        for (raw, says) in [
            ("evil\u{202e}txt.exe", "bidirectional control U+202E"),
            ("a/\u{2066}b", "bidirectional control U+2066"),
            ("x\u{61c}y", "bidirectional control U+061C"),
            ("x\u{200e}.py", "bidirectional control U+200E"),
            ("zero\u{200b}width.py", "invisible character U+200B"),
            ("w\u{2060}j", "invisible character U+2060"),
            ("bom\u{feff}.py", "invisible character U+FEFF"),
            ("z\u{200d}j.py", "invisible character U+200D"),
            ("line\u{2028}sep.py", "line or paragraph separator U+2028"),
        ] {
            let err = staged(raw).unwrap_err();
            assert_eq!(err, PathRefusal::Invisible(says.to_string()), "{raw:?}");
            assert_eq!(err.to_string(), format!("the name holds a {says}"));
        }
        // Control characters (C0, DEL, C1; a newline too) are refused by
        // `normalize` already, and by `check_name` alone as well.
        for (raw, code) in [
            ("new\nline.py", "U+000A"),
            ("cr\rx", "U+000D"),
            ("del\u{7f}", "U+007F"),
            ("esc\u{1b}[2J", "U+001B"),
            ("c1\u{85}next.py", "U+0085"),
            ("c1\u{9b}csi.py", "U+009B"),
        ] {
            let err = staged(raw).unwrap_err();
            assert!(
                err.to_string()
                    .contains(&format!("control character {code}")),
                "{raw:?}: {err}"
            );
            assert_eq!(
                check_name(raw),
                Err(PathRefusal::Invisible(format!("control character {code}")))
            );
        }
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
