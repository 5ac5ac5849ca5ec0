//! `quorum doctor`: checks what a session needs and says what is wrong, one line
//! per check: the config, every provider (no key / unreachable / unauthorised /
//! ok), git and the commit identity, the sandbox (network namespace, rlimits),
//! the tools the stacks use (python3, pip, node, npm, cargo, go) and the
//! components of the project in DIR with their setup and test commands, the
//! terminal, and the state and log directories. Exit 0 only when every
//! required check passes, else 1; `--json` prints one JSON object instead.
//!
//! Invariants: doctor creates nothing in DIR (no `.quorum/`: directories are
//! checked with `access(2)`, never by writing into them); it logs to the XDG
//! state directory; it never reads a key's value, only whether its variable is
//! set; its only network use is a TCP connect to each configured provider's
//! host. It reads DIR's manifests and test files (to find the components) and
//! runs each tool's `--version`.

use std::collections::HashMap;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::json;

use crate::app::{Failure, exit};
use crate::cli::Global;
use crate::config::{LoadOptions, ProviderKind, Settings};
use crate::state::StateDir;
use crate::workspace::git;
use crate::workspace::stack::{self, Component, Tool};

/// A check's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Passed.
    Ok,
    /// Works, with a limitation worth knowing.
    Warn,
    /// Failed.
    Fail,
    /// A fact, not a verdict.
    Info,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
            Status::Info => "info",
        }
    }
}

/// One line of the report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Check {
    /// The group: config, provider, git, sandbox, tools, project, terminal or state.
    pub group: &'static str,
    /// What was checked (a provider's name, `identity`, …).
    pub name: String,
    /// The verdict.
    pub status: Status,
    /// Whether a failure makes doctor exit 1.
    pub required: bool,
    /// What was found, and what to do about it.
    pub detail: String,
}

impl Check {
    fn new(
        group: &'static str,
        name: impl Into<String>,
        status: Status,
        required: bool,
        detail: impl Into<String>,
    ) -> Check {
        Check {
            group,
            name: name.into(),
            status,
            required,
            detail: detail.into(),
        }
    }
}

/// The config check, and the settings when they are valid. Key variables are
/// checked per provider afterwards, so the config is validated as if they were set.
fn config_check(global: &Global, dir: &Path) -> (Check, Option<Settings>) {
    if let Some(path) = &global.config
        && !path.is_file()
    {
        return (
            Check::new(
                "config",
                "config",
                Status::Fail,
                true,
                format!("--config {}: no such file", path.display()),
            ),
            None,
        );
    }
    let options = LoadOptions {
        config: global.config.clone(),
        dir: dir.to_path_buf(),
        offline: global.offline,
        user_config_dir: crate::logging::xdg_config_dir(),
    };
    match Settings::load(&options, &|_| Some("set".to_string())) {
        Ok(settings) => {
            let detail = match &settings.source {
                Some(path) => format!(
                    "{} is valid: {} provider(s), {} agent(s){}",
                    path.display(),
                    settings.providers.len(),
                    settings.agents.len(),
                    if global.offline {
                        "; --offline: every agent uses the offline provider"
                    } else {
                        ""
                    }
                ),
                None => format!(
                    "no config file ({} nor {}): every agent uses the built-in {}",
                    dir.join("quorum.toml").display(),
                    crate::logging::xdg_config_dir()
                        .map(|d| d.join("config.toml").display().to_string())
                        .unwrap_or_else(|| "the user config".into()),
                    crate::config::OFFLINE_LABEL
                ),
            };
            (
                Check::new("config", "config", Status::Ok, true, detail),
                Some(settings),
            )
        }
        Err(e) => (
            Check::new("config", "config", Status::Fail, true, e.to_string()),
            None,
        ),
    }
}

/// The theme the TUI would use (`--theme`, else `[ui] theme`) must be a
/// built-in one ([`crate::config::theme::Theme::BUILTIN`]): the TUI refuses
/// an unknown name (exit 2). Without valid settings only `--theme` is checked.
fn theme_check(global: &Global, settings: Option<&Settings>) -> Option<Check> {
    let (name, from) = match (&global.theme, settings) {
        (Some(name), _) => (name.clone(), "--theme".to_string()),
        (None, Some(s)) => (
            s.ui.theme.clone(),
            match &s.source {
                Some(path) => format!("ui.theme in {}", path.display()),
                None => "the default".to_string(),
            },
        ),
        (None, None) => return None,
    };
    Some(match crate::config::theme::Theme::builtin(&name) {
        Ok(_) => Check::new(
            "config",
            "theme",
            Status::Ok,
            true,
            format!("{name} ({from})"),
        ),
        Err(e) => Check::new(
            "config",
            "theme",
            Status::Fail,
            true,
            format!("{e} (set by {from}; the TUI would refuse to start)"),
        ),
    })
}

/// One check per provider, probed concurrently with one minimal request each
/// (`llm::probe`): ok, no key, unreachable, unauthorised, or failed. An offline
/// provider's script must also load.
async fn provider_checks(settings: &Settings) -> Vec<Check> {
    use crate::llm::probe::ProbeOutcome;
    let env = |var: &str| std::env::var(var).ok();
    let probes = settings.providers.values().map(|spec| async move {
        let users: Vec<String> = settings
            .agents
            .iter()
            .filter(|a| {
                a.model.provider == spec.name || a.fallback.iter().any(|f| f.provider == spec.name)
            })
            .map(|a| a.name.clone())
            .collect();
        let model = settings
            .agents
            .iter()
            .flat_map(|a| std::iter::once(&a.model).chain(&a.fallback))
            .find(|m| m.provider == spec.name)
            .map(|m| m.model.clone());
        let used = if users.is_empty() {
            " (no agent uses it)".to_string()
        } else {
            format!(" (used by {})", users.join(", "))
        };
        let name = format!("{} ({})", spec.name, spec.kind.as_str());
        if let Some(path) = &spec.script
            && let Err(e) = crate::sim::script::Script::load(path)
        {
            return Check::new(
                "provider",
                name,
                Status::Fail,
                true,
                format!("its script does not load: {e}"),
            );
        }
        let Some(model) = model else {
            return Check::new(
                "provider",
                name,
                Status::Warn,
                false,
                format!("not probed: no agent names a model on it{used}"),
            );
        };
        let (status, detail) =
            match crate::llm::probe::probe(settings, &spec.name, &model, &env).await {
                ProbeOutcome::Ok { .. } if spec.kind == ProviderKind::Offline => {
                    (Status::Ok, spec.label())
                }
                ProbeOutcome::Ok { ms } => (Status::Ok, format!("{model} answered in {ms} ms")),
                ProbeOutcome::NoKey { var } => (
                    Status::Fail,
                    format!("no key: {var} is not set (export it, or run with --offline)"),
                ),
                ProbeOutcome::Unreachable(d) => (Status::Fail, format!("unreachable: {d}")),
                ProbeOutcome::Unauthorized(d) => (Status::Fail, format!("unauthorised: {d}")),
                ProbeOutcome::Failed(d) => (Status::Fail, format!("failed: {d}")),
            };
        Check::new("provider", name, status, true, format!("{detail}{used}"))
    });
    futures::future::join_all(probes).await
}

fn git_checks(dir: &Path) -> Vec<Check> {
    let mut checks = Vec::new();
    match std::process::Command::new("git")
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .output()
    {
        Ok(out) if out.status.success() => checks.push(Check::new(
            "git",
            "git",
            Status::Ok,
            false,
            String::from_utf8_lossy(&out.stdout).trim().to_string(),
        )),
        _ => checks.push(Check::new(
            "git",
            "git",
            Status::Warn,
            false,
            "the git command is not on PATH: quorum commits without it (libgit2), but `sessions push` to https/ssh remotes needs it",
        )),
    }
    let found = git::discover(dir).ok().flatten();
    checks.push(match &found {
        Some((_, info)) => Check::new(
            "git",
            "repository",
            Status::Info,
            false,
            format!("DIR is in the repository {}", info.workdir.display()),
        ),
        None => Check::new(
            "git",
            "repository",
            Status::Info,
            false,
            "DIR is in no repository: the first delivery initialises one there",
        ),
    });
    match git::author_identity(found.as_ref().map(|(repo, _)| repo)) {
        Ok((name, email, git::IdentitySource::Fallback)) => checks.push(Check::new(
            "git",
            "identity",
            Status::Warn,
            false,
            format!(
                "not configured: commits will be authored by {name} <{email}>; set `git config --global user.name` and `user.email`"
            ),
        )),
        Ok((name, email, source)) => checks.push(Check::new(
            "git",
            "identity",
            Status::Ok,
            false,
            format!(
                "{name} <{email}> (from {})",
                match source {
                    git::IdentitySource::Environment => "GIT_AUTHOR_NAME/GIT_AUTHOR_EMAIL",
                    _ => "git config",
                }
            ),
        )),
        Err(e) => checks.push(Check::new(
            "git",
            "identity",
            Status::Warn,
            false,
            format!("cannot read the git config: {}", e.message()),
        )),
    }
    checks
}

/// Whether the rlimits the sandbox sets take effect: a child with them applied
/// reports them back through `ulimit`.
fn rlimits_apply() -> Result<(), String> {
    let mut cmd = std::process::Command::new("sh");
    cmd.args(["-c", "ulimit -t; ulimit -c"])
        .stdin(std::process::Stdio::null());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt as _;
        // SAFETY: the closure only makes async-signal-safe system calls.
        unsafe {
            cmd.pre_exec(|| {
                for (resource, value) in [(libc::RLIMIT_CPU, 305), (libc::RLIMIT_CORE, 0)] {
                    let rl = libc::rlimit {
                        rlim_cur: value,
                        rlim_max: value,
                    };
                    if libc::setrlimit(resource, &rl) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
    }
    let out = cmd.output().map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    let got: Vec<&str> = text.split_whitespace().collect();
    if out.status.success() && got == ["305", "0"] {
        Ok(())
    } else {
        Err(format!(
            "a child with CPU 305 s and core 0 reported {got:?} ({})",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The network line of the sandbox checks: ok with a private namespace, else
/// a warning that says "network not isolated".
fn network_check(isolated: bool) -> Check {
    if isolated {
        Check::new(
            "sandbox",
            "network",
            Status::Ok,
            false,
            "test runs get a private network namespace (loopback only)",
        )
    } else {
        Check::new(
            "sandbox",
            "network",
            Status::Warn,
            false,
            "network not isolated: no private network namespace (needs root or unprivileged user namespaces), so test runs can reach the network",
        )
    }
}

/// The jail line of the sandbox checks: what confines model-written code on
/// this machine, or why nothing can (then runs are refused unless
/// `--allow-unconfined-tests`; docs/sandbox.md).
fn jail_check(probe: &Result<crate::protocol::Isolation, String>, allowed: bool) -> Check {
    match probe {
        Ok(isolation) => Check::new("sandbox", "jail", Status::Ok, false, isolation.summary()),
        Err(reason) if allowed => Check::new(
            "sandbox",
            "jail",
            Status::Warn,
            false,
            format!(
                "model-written code cannot be confined here ({reason}); --allow-unconfined-tests runs it anyway, with only rlimits and a process-group kill"
            ),
        ),
        Err(reason) => Check::new(
            "sandbox",
            "jail",
            Status::Fail,
            false,
            format!(
                "model-written code cannot be confined here: {reason}. Setup and test runs are refused; enable unprivileged user namespaces (Linux 5.12 or later; e.g. sysctl kernel.unprivileged_userns_clone=1 or user.max_user_namespaces > 0) or rerun with --allow-unconfined-tests (docs/sandbox.md)"
            ),
        ),
    }
}

fn sandbox_checks(global: &Global) -> Vec<Check> {
    let probe = crate::workspace::sandbox::probe();
    let mut checks = vec![jail_check(&probe, global.allow_unconfined_tests)];
    checks.push(network_check(
        probe.as_ref().is_ok_and(|i| i.network) || crate::workspace::sandbox::can_isolate_network(),
    ));
    checks.push(match rlimits_apply() {
        Ok(()) => Check::new(
            "sandbox",
            "rlimits",
            Status::Ok,
            true,
            "CPU time, memory (data segment), file size and core limits apply to every process of a run; every descendant is killed at its end",
        ),
        Err(e) => Check::new("sandbox", "rlimits", Status::Fail, true, e),
    });
    checks
}

/// Most files the project walk lists: a DIR with more (a home directory, say)
/// is looked at in part.
const WALK_MAX_FILES: usize = 20_000;
/// Largest file whose content the project check reads, in bytes.
const WALK_MAX_FILE_BYTES: u64 = 256 * 1024;
/// Directories the project walk never enters: git's and quorum's state,
/// installed packages, virtual environments, build output.
const WALK_SKIP: [&str; 6] = [
    ".git",
    ".quorum",
    "node_modules",
    ".venv",
    "target",
    "__pycache__",
];

/// DIR's files, relative and `/`-separated, sorted: at most
/// [`WALK_MAX_FILES`], without links and the [`WALK_SKIP`] directories. A
/// missing or unreadable DIR has none.
fn project_files(dir: &Path) -> Vec<String> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                if !WALK_SKIP.contains(&entry.file_name().to_string_lossy().as_ref()) {
                    stack.push(path);
                }
            } else if meta.is_file()
                && let Ok(rel) = path.strip_prefix(dir)
            {
                files.push(rel.to_string_lossy().replace('\\', "/"));
                if files.len() >= WALK_MAX_FILES {
                    files.sort();
                    return files;
                }
            }
        }
    }
    files.sort();
    files
}

/// The tools and project lines for DIR: its files are walked, the files
/// [`stack::detect`] reads are read (up to [`WALK_MAX_FILE_BYTES`] each), and
/// the components found are set against [`stack::tools`]. Blocking: it walks
/// DIR and starts the tools (and, for Python tests without a Python root, the
/// pytest probe).
fn stack_checks(dir: &Path) -> Vec<Check> {
    let files = project_files(dir);
    let contents: HashMap<&str, String> = files
        .iter()
        .filter(|p| stack::reads_content(p))
        .filter_map(|p| {
            let path = dir.join(p);
            let small = std::fs::metadata(&path).is_ok_and(|m| m.len() <= WALK_MAX_FILE_BYTES);
            small
                .then(|| std::fs::read_to_string(&path).ok())
                .flatten()
                .map(|text| (p.as_str(), text))
        })
        .collect();
    let components = stack::detect(
        &files,
        |p| contents.get(p).map(String::as_str),
        || crate::workspace::stack::pytest_installed(dir),
    );
    stack_report(stack::tools(), files.len(), &components)
}

/// The report's tools and project lines: each tool with its version line (ok)
/// or missing (a warning when a component needs it, else a fact); each
/// component with its root and commands (a warning when it needs a missing
/// tool); a fact when `files` (DIR's file count) hold no component. Never a
/// required check: a missing tool fails the tests of a session, not doctor.
fn stack_report(tools: &[Tool], files: usize, components: &[Component]) -> Vec<Check> {
    let missing = |name: &str| tools.iter().any(|t| t.name == name && t.version.is_none());
    let mut checks: Vec<Check> = tools
        .iter()
        .map(|tool| {
            let users: Vec<&str> = components
                .iter()
                .filter(|c| stack::tools_needed(std::slice::from_ref(*c)).contains(&tool.name))
                .map(|c| c.name.as_str())
                .collect();
            match &tool.version {
                Some(version) => Check::new("tools", tool.name, Status::Ok, false, version.clone()),
                None if users.is_empty() => Check::new(
                    "tools",
                    tool.name,
                    Status::Info,
                    false,
                    "missing (not on PATH, or it failed); no component in DIR needs it",
                ),
                None => Check::new(
                    "tools",
                    tool.name,
                    Status::Warn,
                    false,
                    format!(
                        "missing (not on PATH, or it failed); needed by {}: their setup and tests cannot run",
                        users.join(", ")
                    ),
                ),
            }
        })
        .collect();
    if components.is_empty() {
        checks.push(Check::new(
            "project",
            "components",
            Status::Info,
            false,
            if files == 0 {
                "DIR holds no files yet".to_string()
            } else {
                format!(
                    "none in DIR's {files} file(s): no Cargo.toml, go.mod, package.json, Python root or Python tests"
                )
            },
        ));
    }
    for c in components {
        let place = if c.root.is_empty() {
            "in DIR".to_string()
        } else {
            format!("in {}/", c.root)
        };
        let setup = match &c.setup {
            Some(setup) => format!("setup `{setup}`"),
            None => "no setup".to_string(),
        };
        let absent: Vec<&str> = stack::tools_needed(std::slice::from_ref(c))
            .into_iter()
            .filter(|t| missing(t))
            .collect();
        let detail = format!("{place}: {setup}; test `{}`", c.test);
        checks.push(if absent.is_empty() {
            Check::new("project", c.name.clone(), Status::Ok, false, detail)
        } else {
            Check::new(
                "project",
                c.name.clone(),
                Status::Warn,
                false,
                format!("{detail}; needs {}, missing here", absent.join(", ")),
            )
        });
    }
    checks
}

/// The colour depth the environment announces: `NO_COLOR`, `COLORTERM`, `TERM`.
pub fn colour_depth(env: &dyn Fn(&str) -> Option<String>) -> (Status, String) {
    let term = env("TERM").unwrap_or_default();
    if env("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        return (
            Status::Info,
            "none: NO_COLOR is set (the mono theme fits)".into(),
        );
    }
    if term.is_empty() || term == "dumb" {
        return (
            Status::Warn,
            format!(
                "none: TERM is {}; the TUI needs a terminal that understands colour and cursor moves",
                if term.is_empty() { "unset" } else { "dumb" }
            ),
        );
    }
    let colorterm = env("COLORTERM").unwrap_or_default();
    if colorterm == "truecolor" || colorterm == "24bit" {
        return (
            Status::Ok,
            format!("24-bit (COLORTERM={colorterm}, TERM={term})"),
        );
    }
    if term.contains("256color") {
        return (Status::Ok, format!("256 colours (TERM={term})"));
    }
    (
        Status::Ok,
        format!("16 colours (TERM={term}); the default theme uses these 16"),
    )
}

fn terminal_checks() -> Vec<Check> {
    let (status, detail) = colour_depth(&|var| std::env::var(var).ok());
    let mut checks = vec![Check::new("terminal", "colours", status, false, detail)];
    if std::io::stdout().is_terminal() {
        if let Ok((cols, rows)) = crossterm::terminal::size() {
            let (status, note) = if cols < 40 || rows < 12 {
                (Status::Warn, "; the TUI needs 40x12")
            } else {
                (Status::Ok, "")
            };
            checks.push(Check::new(
                "terminal",
                "size",
                status,
                false,
                format!("{cols}x{rows}{note}"),
            ));
        }
    } else {
        checks.push(Check::new(
            "terminal",
            "size",
            Status::Info,
            false,
            "stdout is not a terminal",
        ));
    }
    checks
}

/// Whether this process may create files in `dir` (`access(2)`: no file is made).
fn writable(dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt as _;
    let Ok(path) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: a valid NUL-terminated path; access(2) only reads it.
    unsafe { libc::access(path.as_ptr(), libc::W_OK | libc::X_OK) == 0 }
}

/// The nearest existing directory at or above `path`.
fn existing_ancestor(path: &Path) -> Option<PathBuf> {
    path.ancestors().find(|p| p.is_dir()).map(Path::to_path_buf)
}

/// Checks that a directory quorum writes is writable, without creating it.
fn dir_check(name: &str, path: &Path, required: bool) -> Check {
    if path.is_dir() {
        return if writable(path) {
            Check::new(
                "state",
                name,
                Status::Ok,
                required,
                format!("{} is writable", path.display()),
            )
        } else {
            Check::new(
                "state",
                name,
                Status::Fail,
                required,
                format!("{} is not writable", path.display()),
            )
        };
    }
    if path.exists() {
        return Check::new(
            "state",
            name,
            Status::Fail,
            required,
            format!("{} exists and is not a directory", path.display()),
        );
    }
    match existing_ancestor(path) {
        Some(parent) if writable(&parent) => Check::new(
            "state",
            name,
            Status::Ok,
            required,
            format!(
                "{} does not exist yet; it can be created ({} is writable)",
                path.display(),
                parent.display()
            ),
        ),
        Some(parent) => Check::new(
            "state",
            name,
            Status::Fail,
            required,
            format!(
                "{} cannot be created: {} is not writable",
                path.display(),
                parent.display()
            ),
        ),
        None => Check::new(
            "state",
            name,
            Status::Fail,
            required,
            format!("{}: no existing parent directory", path.display()),
        ),
    }
}

/// Whether another quorum holds the state lock (read-only: the lock file is
/// opened, never created).
fn lock_holder(state: &Path) -> Option<String> {
    let file = std::fs::File::open(state.join("lock")).ok()?;
    match file.try_lock() {
        Ok(()) => None,
        Err(std::fs::TryLockError::WouldBlock) => {
            // The pid is the first line (the session it runs follows, state.rs).
            let text = std::fs::read_to_string(state.join("lock")).unwrap_or_default();
            let pid = text.lines().next().unwrap_or("").trim();
            Some(if pid.is_empty() {
                "unknown".into()
            } else {
                pid.to_string()
            })
        }
        Err(std::fs::TryLockError::Error(_)) => None,
    }
}

/// The state db checked against its seal, as `quorum db verify` does
/// (never changing it); skipped while another quorum holds DIR's lock.
fn db_check(state: &Path) -> Check {
    if lock_holder(state).is_some() {
        return Check::new(
            "state",
            "db",
            Status::Warn,
            false,
            "not verified: a session is running",
        );
    }
    let db = state.join("db");
    match crate::store::seal::verify(&db) {
        Ok(_) => Check::new(
            "state",
            "db",
            Status::Ok,
            true,
            format!("{} intact (checked against its seal)", db.display()),
        ),
        Err(e) => Check::new("state", "db", Status::Fail, true, e.to_string()),
    }
}

fn state_checks(global: &Global, dir: &Path) -> Vec<Check> {
    let state = StateDir::location(dir, global.state_dir.as_deref());
    let mut checks = vec![dir_check("state dir", &state, true)];
    if let Some(pid) = lock_holder(&state) {
        checks.push(Check::new(
            "state",
            "lock",
            Status::Warn,
            false,
            format!(
                "{} is in use by another quorum (pid {pid})",
                state.display()
            ),
        ));
    }
    if state.join("db").exists() {
        checks.push(db_check(&state));
    }
    match crate::logging::xdg_state_dir() {
        Some(logs) => checks.push(dir_check("log dir", &logs, false)),
        None => checks.push(Check::new(
            "state",
            "log dir",
            Status::Warn,
            false,
            "no XDG state directory (is HOME set?): commands without a session do not log",
        )),
    }
    checks
}

/// Runs every check.
pub async fn checks(global: &Global, dir: &Path) -> Vec<Check> {
    let (config, settings) = config_check(global, dir);
    let mut all = vec![config];
    all.extend(theme_check(global, settings.as_ref()));
    if let Some(settings) = &settings {
        all.extend(provider_checks(settings).await);
    }
    all.extend(git_checks(dir));
    all.extend(sandbox_checks(global));
    let walked = dir.to_path_buf();
    match tokio::task::spawn_blocking(move || stack_checks(&walked)).await {
        Ok(checks) => all.extend(checks),
        Err(e) => all.push(Check::new(
            "tools",
            "tools",
            Status::Warn,
            false,
            format!("the tool and project check did not finish: {e}"),
        )),
    }
    all.extend(terminal_checks());
    all.extend(state_checks(global, dir));
    all
}

/// The report for people: one line per check, then the verdict.
pub fn render(dir: &Path, checks: &[Check]) -> String {
    let width = checks
        .iter()
        .map(|c| c.name.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = format!("quorum doctor · {}\n", dir.display());
    let mut group = "";
    for c in checks {
        if c.group != group {
            group = c.group;
            out.push_str(&format!("\n{group}\n"));
        }
        out.push_str(&format!(
            "  {:<4}  {:<width$}  {}\n",
            c.status.label(),
            c.name,
            c.detail
        ));
    }
    let failed = checks
        .iter()
        .filter(|c| c.required && c.status == Status::Fail)
        .count();
    let warned = checks
        .iter()
        .filter(|c| c.status == Status::Warn || (!c.required && c.status == Status::Fail))
        .count();
    out.push('\n');
    out.push_str(&match failed {
        0 => format!("all required checks passed ({warned} warning(s))\n"),
        n => format!("{n} required check(s) failed ({warned} warning(s))\n"),
    });
    out
}

/// Runs `doctor` and returns the exit code.
pub async fn run(global: &Global, as_json: bool) -> Result<i32, Failure> {
    let _log =
        crate::logging::xdg_state_dir().and_then(|d| crate::logging::init(&d, global.verbose));
    let dir = crate::app::target_dir(global)?;
    let checks = checks(global, &dir).await;
    let ok = !checks
        .iter()
        .any(|c| c.required && c.status == Status::Fail);
    for c in &checks {
        tracing::info!(group = c.group, name = %c.name, status = c.status.label(), detail = %c.detail, "doctor");
    }
    if as_json {
        crate::outln!(
            "{}",
            json!({"dir": dir.display().to_string(), "ok": ok, "checks": checks})
        );
    } else {
        crate::out!("{}", render(&dir, &checks));
    }
    Ok(if ok { exit::OK } else { exit::FAILED })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |var| {
            pairs
                .iter()
                .find(|(k, _)| *k == var)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn colour_depth_follows_the_environment() {
        assert!(
            colour_depth(&env(&[("TERM", "xterm"), ("NO_COLOR", "1")]))
                .1
                .starts_with("none")
        );
        assert!(
            colour_depth(&env(&[("TERM", "dumb")]))
                .1
                .starts_with("none")
        );
        assert_eq!(colour_depth(&env(&[])).0, Status::Warn);
        assert!(
            colour_depth(&env(&[
                ("TERM", "xterm-256color"),
                ("COLORTERM", "truecolor")
            ]))
            .1
            .starts_with("24-bit")
        );
        assert!(
            colour_depth(&env(&[("TERM", "screen-256color")]))
                .1
                .starts_with("256")
        );
        assert!(colour_depth(&env(&[("TERM", "xterm")])).1.starts_with("16"));
    }

    #[test]
    fn directories_are_checked_without_creating_them() {
        let d = tempfile::tempdir().unwrap();
        let missing = d.path().join("a/b/.quorum");
        let c = dir_check("state dir", &missing, true);
        assert_eq!(c.status, Status::Ok, "{c:?}");
        assert!(!d.path().join("a").exists());
        let file = d.path().join("f");
        std::fs::write(&file, "").unwrap();
        assert_eq!(dir_check("x", &file, true).status, Status::Fail);
        assert_eq!(lock_holder(d.path()), None);
    }

    #[test]
    fn an_unisolated_network_is_reported_in_those_words() {
        let c = network_check(false);
        assert_eq!(c.status, Status::Warn);
        assert!(c.detail.starts_with("network not isolated"), "{c:?}");
        assert_eq!(network_check(true).status, Status::Ok);
    }

    #[test]
    fn rlimits_take_effect_in_children() {
        rlimits_apply().unwrap();
    }

    #[test]
    fn the_report_counts_required_failures_only() {
        let checks = vec![
            Check::new("config", "config", Status::Ok, true, "fine"),
            Check::new("provider", "p (openai)", Status::Fail, true, "no key"),
            Check::new("git", "identity", Status::Warn, false, "fallback"),
        ];
        let text = render(Path::new("/d"), &checks);
        assert!(text.contains("  FAIL  p (openai)  no key"), "{text}");
        assert!(
            text.ends_with("1 required check(s) failed (1 warning(s))\n"),
            "{text}"
        );
    }

    fn tool(name: &'static str, version: Option<&str>) -> Tool {
        Tool {
            name,
            version: version.map(str::to_string),
        }
    }

    #[test]
    fn missing_tools_are_a_warning_only_when_a_component_needs_them() {
        let tools = [
            tool("python3", Some("Python 3.11.7")),
            tool("node", None),
            tool("npm", None),
            tool("go", None),
        ];
        let components = [
            Component {
                name: "backend".into(),
                root: "backend".into(),
                setup: Some("python3 -m venv .venv".into()),
                test: ".venv/bin/python -m unittest discover -v".into(),
                manifests: vec!["backend/requirements.txt".into()],
            },
            Component {
                name: "frontend".into(),
                root: "frontend".into(),
                setup: Some("npm install --no-audit --no-fund".into()),
                test: "npx vitest run".into(),
                manifests: vec!["frontend/package.json".into()],
            },
        ];
        let checks = stack_report(&tools, 12, &components);
        let find = |name: &str| checks.iter().find(|c| c.name == name).unwrap();
        assert_eq!(find("python3").status, Status::Ok);
        assert_eq!(find("python3").detail, "Python 3.11.7");
        assert_eq!(find("node").status, Status::Warn);
        assert!(find("node").detail.starts_with("missing"), "{checks:?}");
        assert!(
            find("npm").detail.contains("needed by frontend"),
            "{checks:?}"
        );
        assert_eq!(find("go").status, Status::Info);
        assert!(find("go").detail.starts_with("missing"), "{checks:?}");
        assert_eq!(find("backend").status, Status::Ok);
        assert_eq!(
            find("backend").detail,
            "in backend/: setup `python3 -m venv .venv`; test `.venv/bin/python -m unittest discover -v`"
        );
        let frontend = find("frontend");
        assert_eq!(frontend.status, Status::Warn);
        assert!(
            frontend.detail.ends_with("; needs node, npm, missing here"),
            "{frontend:?}"
        );
        assert!(checks.iter().all(|c| !c.required), "never a failing exit");
        let text = render(Path::new("/d"), &checks);
        assert!(
            text.contains("\ntools\n") && text.contains("\nproject\n"),
            "{text}"
        );
        assert!(
            text.ends_with("all required checks passed (3 warning(s))\n"),
            "{text}"
        );

        let none = stack_report(&tools, 0, &[]);
        assert_eq!(none.last().unwrap().detail, "DIR holds no files yet");
        assert_eq!(find_status(&none, "node"), Status::Info);
    }

    fn find_status(checks: &[Check], name: &str) -> Status {
        checks.iter().find(|c| c.name == name).unwrap().status
    }

    #[test]
    fn the_project_in_dir_is_walked_and_its_components_listed() {
        let d = tempfile::tempdir().unwrap();
        let write = |path: &str, content: &str| {
            let path = d.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        };
        write("backend/requirements.txt", "flask\npytest\n");
        write("backend/app/__init__.py", "");
        write(
            "tests/backend/test_app.py",
            "def test_app():\n    assert True\n",
        );
        write(
            "frontend/package.json",
            r#"{"devDependencies": {"vitest": "^2"}, "scripts": {"test": "vitest run"}}"#,
        );
        write("frontend/node_modules/vitest/package.json", "{}");
        write("frontend/node_modules/vitest/vitest.config.js", "");
        write("backend/.venv/lib/site-packages/x/setup.py", "");
        write(".git/config", "");
        let files = project_files(d.path());
        assert_eq!(
            files,
            [
                "backend/app/__init__.py",
                "backend/requirements.txt",
                "frontend/package.json",
                "tests/backend/test_app.py"
            ]
        );
        let before = files.clone();
        let checks = stack_checks(d.path());
        let project: Vec<(&str, &str)> = checks
            .iter()
            .filter(|c| c.group == "project")
            .map(|c| (c.name.as_str(), c.detail.as_str()))
            .collect();
        assert_eq!(project.len(), 2, "{checks:?}");
        assert_eq!(project[0].0, "backend");
        assert!(
            project[0].1.starts_with(
                "in backend/: setup `python3 -m venv .venv && .venv/bin/pip install -q -r requirements.txt`; \
                 test `cd .. && PYTHONPATH=backend backend/.venv/bin/python -m pytest -q tests/backend`"
            ),
            "{project:?}"
        );
        assert_eq!(project[1].0, "frontend");
        assert!(
            project[1].1.contains("test `npx vitest run`"),
            "{project:?}"
        );
        let tools: Vec<&str> = checks
            .iter()
            .filter(|c| c.group == "tools")
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(tools, ["python3", "pip", "node", "npm", "cargo", "go"]);
        assert_eq!(project_files(d.path()), before, "doctor wrote nothing");
        assert!(project_files(&d.path().join("missing")).is_empty());
    }
}
