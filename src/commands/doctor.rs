//! `quorum doctor`: checks what a session needs and says what is wrong, one line
//! per check: the config, every provider (no key / unreachable / unauthorised /
//! ok), git and the commit identity, the sandbox (network namespace, rlimits),
//! the terminal, and the state and log directories. Exit 0 only when every
//! required check passes, else 1; `--json` prints one JSON object instead.
//!
//! Invariants: doctor creates nothing in DIR (no `.quorum/`: directories are
//! checked with `access(2)`, never by writing into them); it logs to the XDG
//! state directory; it never reads a key's value, only whether its variable is
//! set; its only network use is a TCP connect to each configured provider's
//! host.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::json;

use crate::app::{Failure, exit};
use crate::cli::Global;
use crate::config::{LoadOptions, ProviderKind, Settings};
use crate::state::StateDir;
use crate::workspace::git;

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
    /// The group: config, provider, git, sandbox, terminal or state.
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
            && let Err(e) = crate::llm::offline::script::Script::load(path)
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

fn sandbox_checks() -> Vec<Check> {
    let mut checks = vec![network_check(
        crate::workspace::sandbox::can_isolate_network(),
    )];
    checks.push(match rlimits_apply() {
        Ok(()) => Check::new(
            "sandbox",
            "rlimits",
            Status::Ok,
            true,
            "CPU time, memory (data segment), file size, process and core limits apply to test runs; a subreaper kills every descendant",
        ),
        Err(e) => Check::new("sandbox", "rlimits", Status::Fail, true, e),
    });
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
            let pid = std::fs::read_to_string(state.join("lock")).unwrap_or_default();
            Some(if pid.trim().is_empty() {
                "unknown".into()
            } else {
                pid.trim().to_string()
            })
        }
        Err(std::fs::TryLockError::Error(_)) => None,
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
    if let Some(settings) = &settings {
        all.extend(provider_checks(settings).await);
    }
    all.extend(git_checks(dir));
    all.extend(sandbox_checks());
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
        println!(
            "{}",
            json!({"dir": dir.display().to_string(), "ok": ok, "checks": checks})
        );
    } else {
        print!("{}", render(&dir, &checks));
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
}
