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

use std::path::Path;

use serde::Serialize;
use serde_json::json;

use crate::cli::args::Global;
use crate::cli::exit::{self, Failure};
use crate::config::{LoadOptions, ProviderKind, Settings};
use crate::workspace::git;

mod project;
mod sandbox;
mod state;
mod terminal;

use project::stack_checks;
use sandbox::sandbox_checks;
use state::state_checks;
pub use terminal::colour_depth;
use terminal::terminal_checks;

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
        user_config_dir: crate::cli::logging::xdg_config_dir(),
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
                    crate::cli::logging::xdg_config_dir()
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
/// built-in one ([`crate::tui::theme::Theme::BUILTIN`]): the TUI refuses
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
    Some(match crate::tui::theme::Theme::builtin(&name) {
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
    let _log = crate::cli::logging::xdg_state_dir()
        .and_then(|d| crate::cli::logging::init(&d, global.verbose));
    let dir = crate::cli::exit::target_dir(global)?;
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
    use super::project::{project_files, stack_report};
    use super::sandbox::{network_check, rlimits_apply};
    use super::state::{dir_check, lock_holder};
    use super::*;
    use crate::workspace::stack::{Component, Tool};

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
