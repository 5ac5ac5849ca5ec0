//! The top level: from parsed arguments to an exit code. Everything the user
//! gave is validated (DIR, config, keys, workflow, providers, prompt, theme)
//! before anything is created, so bad input exits 2 with a message naming the
//! problem and leaves nothing behind (no `.quorum/`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::cli::{AskArgs, Cli, Command, Global, ResumeArgs, RunArgs};
use crate::commands;
use crate::config::theme::Theme;
use crate::config::workflow::Workflow;
use crate::config::{LoadOptions, Settings};
use crate::llm::SharedProvider;
use crate::orchestrator::{self, OrchestratorHandle, Parts};
use crate::protocol::{Op, SessionOptions};
use crate::state::{StateDir, StateError};
use crate::store::Store;
use crate::workspace::Workspace;

/// Exit codes (DESIGN.md §5).
pub mod exit {
    /// Succeeded.
    pub const OK: i32 = 0;
    /// Failed.
    pub const FAILED: i32 = 1;
    /// Usage or config error, or a corrupt state db.
    pub const USAGE: i32 = 2;
    /// DIR's state is in use by another quorum.
    pub const IN_USE: i32 = 4;
}

/// A reason to stop before or outside a session, with its exit code.
#[derive(Debug)]
pub struct Failure {
    /// The exit code.
    pub code: i32,
    /// The message for stderr.
    pub message: String,
}

impl Failure {
    /// A usage or config error (exit 2).
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Failure {
            code: exit::USAGE,
            message: message.into(),
        }
    }

    /// A failure (exit 1).
    pub(crate) fn failed(message: impl Into<String>) -> Self {
        Failure {
            code: exit::FAILED,
            message: message.into(),
        }
    }
}

/// The failure for a db that does not open: exit 2 when it is corrupt
/// ([`StoreError::Corrupt`], docs/commands.md), else 1.
pub(crate) fn store_failure(e: crate::store::StoreError) -> Failure {
    match e {
        crate::store::StoreError::Corrupt { .. } => Failure::usage(e.to_string()),
        other => Failure::failed(other.to_string()),
    }
}

impl From<StateError> for Failure {
    fn from(e: StateError) -> Self {
        let code = match e {
            StateError::InUse { .. } => exit::IN_USE,
            StateError::Io { .. } | StateError::Symlink { .. } => exit::FAILED,
        };
        Failure {
            code,
            message: e.to_string(),
        }
    }
}

/// Everything validated for a session command.
struct Prepared {
    dir: PathBuf,
    settings: Arc<Settings>,
    workflow: Workflow,
    providers: BTreeMap<String, SharedProvider>,
}

/// Checks `--dir` (or the current directory): it must be a directory, or not
/// exist yet below an existing parent. Returns it absolute.
pub(crate) fn target_dir(global: &Global) -> Result<PathBuf, Failure> {
    let dir = match &global.dir {
        Some(d) => d.clone(),
        None => std::env::current_dir()
            .map_err(|e| Failure::failed(format!("cannot read the current directory: {e}")))?,
    };
    let absolute = if dir.is_absolute() {
        dir.clone()
    } else {
        std::env::current_dir()
            .map(|c| c.join(&dir))
            .unwrap_or(dir.clone())
    };
    match std::fs::metadata(&absolute) {
        Ok(meta) if meta.is_dir() => Ok(absolute.canonicalize().unwrap_or(absolute)),
        Ok(_) => Err(Failure::usage(format!(
            "--dir {}: is a file, not a directory",
            dir.display()
        ))),
        Err(_) => match absolute.parent() {
            Some(parent) if parent.is_dir() => Ok(absolute),
            _ => Err(Failure::usage(format!(
                "--dir {}: neither it nor its parent directory exists",
                dir.display()
            ))),
        },
    }
}

/// The validated settings of `--config` or DIR's config, with the command
/// line's overrides; the roster is resolved only when `roster`
/// ([`Settings::load_without_roster`]).
fn load_settings(global: &Global, dir: &Path, roster: bool) -> Result<Settings, Failure> {
    if let Some(config) = &global.config
        && !config.is_file()
    {
        return Err(Failure::usage(format!(
            "--config {}: no such file",
            config.display()
        )));
    }
    let options = LoadOptions {
        config: global.config.clone(),
        dir: dir.to_path_buf(),
        offline: global.offline,
        user_config_dir: crate::logging::xdg_config_dir(),
    };
    let env = |var: &str| std::env::var(var).ok();
    let mut settings = if roster {
        Settings::load(&options, &env)
    } else {
        Settings::load_without_roster(&options, &env)
    }
    .map_err(|e| Failure::usage(e.to_string()))?;
    if global.no_setup_network {
        settings.test.setup_network = false;
    }
    settings.test.allow_unconfined = global.allow_unconfined_tests;
    Ok(settings)
}

fn prepare(global: &Global, workflow: Option<&Path>) -> Result<Prepared, Failure> {
    let dir = target_dir(global)?;
    let settings = load_settings(global, &dir, true)?;
    let roster: Vec<String> = settings.agents.iter().map(|a| a.name.clone()).collect();
    let workflow = match workflow {
        Some(path) => Workflow::load(path, &roster),
        None => Workflow::default_for(&roster),
    }
    .map_err(|e| Failure::usage(e.to_string()))?;
    let providers = crate::llm::build_providers(&settings).map_err(Failure::usage)?;
    Ok(Prepared {
        dir,
        settings: Arc::new(settings),
        workflow,
        providers,
    })
}

/// Creates DIR if needed, takes the state lock, starts logging and opens the db.
fn open_state(
    dir: &Path,
    global: &Global,
) -> Result<
    (
        StateDir,
        Store,
        Option<tracing_appender::non_blocking::WorkerGuard>,
    ),
    Failure,
> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Failure::failed(format!("cannot create {}: {e}", dir.display())))?;
    // DIR's own lock too, whatever the state directory (state.rs).
    let state = StateDir::open_in(dir, &StateDir::location(dir, global.state_dir.as_deref()))?;
    let guard = crate::logging::init(&state.logs_dir(), global.verbose);
    let store = Store::open(&state.db_path()).map_err(store_failure)?;
    Ok((state, store, guard))
}

fn spawn(prepared: &Prepared, state: &StateDir, store: Store) -> OrchestratorHandle {
    orchestrator::spawn(Parts {
        settings: Arc::clone(&prepared.settings),
        workflow: prepared.workflow.clone(),
        store,
        workspace: Workspace::new(&prepared.dir, state.root()),
        providers: prepared.providers.clone(),
    })
}

fn joined(words: &[String]) -> String {
    words.join(" ").trim().to_string()
}

fn read_answers(path: &Path) -> Result<BTreeMap<String, String>, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::usage(format!("--answers {}: {e}", path.display())))?;
    toml::from_str(&text).map_err(|e| {
        Failure::usage(format!(
            "--answers {}: expected a TOML table of `id = \"answer\"`: {}",
            path.display(),
            e.to_string().trim_end()
        ))
    })
}

/// Logs an early error to the XDG state directory (never to `.quorum/`).
fn log_early(global: &Global, failure: &Failure) {
    if let Some(dir) = crate::logging::xdg_state_dir() {
        let _guard = crate::logging::init(&dir, global.verbose);
        tracing::warn!(code = failure.code, message = %failure.message, "quorum stopped early");
    }
}

/// What the offline (simulated) team is, said on stderr before a headless
/// session starts (unless `--quiet` or `--offline`, which asks for the demo),
/// and why the prompt is not what it builds. Returns that reason when the team runs only because no provider is
/// configured (not `--offline`, which asks for the demo): the session then
/// ends `demo` (docs/offline-script.md, "The demo").
fn demo_notice(global: &Global, settings: &Settings, prompt: &str) -> Option<String> {
    if !settings.offline_demo() {
        return None;
    }
    let unbuilt = crate::llm::offline::project::unbuilt(prompt);
    // With --offline the person asked for the demo: the README and the
    // commit still say what it is.
    if !global.quiet && !global.offline {
        crate::errln!("{DEMO_NOTICE}");
        if let Some(why) = &unbuilt {
            crate::errln!(
                "quorum: the prompt is not what it builds ({why}): you get its Python demo instead"
            );
        }
    }
    unbuilt.filter(|_| !global.offline)
}

/// Refuses a headless session at once, before any model is called, when its
/// workflow runs model-written code (a test phase: setup and tests) and this
/// machine cannot confine it, unless `--allow-unconfined-tests` (exit 1,
/// naming the reason and the flag; docs/sandbox.md). Without this a session
/// would spend its tokens and then stop at the test gate.
fn refuse_unconfined(prepared: &Prepared) -> Result<(), Failure> {
    let runs_code = prepared
        .workflow
        .phases
        .iter()
        .any(|p| p.kind == crate::config::workflow::PhaseKind::Test);
    if !runs_code || prepared.settings.test.allow_unconfined {
        return Ok(());
    }
    match crate::workspace::sandbox::probe() {
        Ok(_) => Ok(()),
        Err(reason) => Err(Failure::failed(format!(
            "{} ({reason}); nothing was started. Rerun with --allow-unconfined-tests to run its setup and tests without the jail, or enable user namespaces (docs/sandbox.md; `quorum doctor` shows why)",
            crate::workspace::sandbox::UNCONFINED_REFUSED
        ))),
    }
}

/// The line that says what the offline (simulated) team is.
pub const DEMO_NOTICE: &str = "quorum: offline (simulated) team: it builds its demo item service, whatever the prompt; configure a provider for real work — `quorum init`";

async fn run_headless(global: &Global, args: RunArgs) -> Result<i32, Failure> {
    let prompt = joined(&args.prompt);
    if prompt.is_empty() {
        return Err(Failure::usage("the prompt is empty: say what to build"));
    }
    let answers = match &args.answers {
        Some(path) => read_answers(path)?,
        None => BTreeMap::new(),
    };
    let prepared = prepare(global, args.workflow.as_deref())?;
    refuse_unconfined(&prepared)?;
    let (state, store, _guard) = open_state(&prepared.dir, global)?;
    tracing::info!(dir = %prepared.dir.display(), "headless session");
    let handle = spawn(&prepared, &state, store);
    let unbuilt = demo_notice(global, &prepared.settings, &prompt);
    let options = SessionOptions {
        interactive: false,
        no_commit: args.no_commit,
        dry_run: args.dry_run,
        allow_overwrite: args.allow_overwrite,
        allow_secrets: args.allow_secrets,
        answers,
        allow_unconfined: global.allow_unconfined_tests,
        unbuilt,
    };
    let output = crate::headless::Output {
        json: args.json,
        quiet: global.quiet,
        phases: prepared.workflow.phases.len(),
    };
    Ok(crate::headless::run(channels(handle), Op::Start { prompt, options }, output).await)
}

/// A frontend's end of the orchestrator behind `handle`: its op sender, a
/// subscription to its events, and its stop.
fn channels(handle: crate::orchestrator::OrchestratorHandle) -> crate::protocol::Channels {
    crate::protocol::Channels {
        events: handle.subscribe(),
        ops: handle.sender(),
        stopped: Box::pin(handle.join()),
    }
}

/// `quorum resume`: the stored session's own workflow is used (the actor
/// loads it from the db); the config and providers are today's.
async fn run_resume(global: &Global, args: ResumeArgs) -> Result<i32, Failure> {
    let prepared = prepare(global, None)?;
    let location = StateDir::location(&prepared.dir, global.state_dir.as_deref());
    StateDir::check(&location)?;
    let db = location.join("db");
    if !db.exists() {
        return Err(Failure::usage(format!(
            "no session to resume: {} holds no quorum state ({} does not exist)",
            prepared.dir.display(),
            db.display()
        )));
    }
    if !args.headless {
        return run_tui_with(global, prepared, None, Some(args.session)).await;
    }
    let (state, store, _guard) = open_state(&prepared.dir, global)?;
    tracing::info!(dir = %prepared.dir.display(), "headless resume");
    let handle = spawn(&prepared, &state, store);
    let output = crate::headless::Output {
        json: args.json,
        quiet: global.quiet,
        phases: prepared.workflow.phases.len(),
    };
    let begin = Op::Resume {
        session: args.session,
        interactive: false,
        allow_overwrite: args.allow_overwrite,
        allow_secrets: args.allow_secrets,
    };
    Ok(crate::headless::run(channels(handle), begin, output).await)
}

async fn run_tui(global: &Global, prompt: Vec<String>) -> Result<i32, Failure> {
    let prompt = joined(&prompt);
    let prepared = prepare(global, None)?;
    run_tui_with(
        global,
        prepared,
        (!prompt.is_empty()).then_some(prompt),
        None,
    )
    .await
}

/// The TUI on a validated setup: starting on `prompt` if given, or resuming
/// `resume` (`Some(None)`: the newest resumable session).
async fn run_tui_with(
    global: &Global,
    prepared: Prepared,
    prompt: Option<String>,
    resume: Option<Option<String>>,
) -> Result<i32, Failure> {
    // Whether this machine can confine model-written code is asked only when
    // the person has not allowed it already. A prompt from the command line
    // starts at once, so it needs the answer now; otherwise the probe runs
    // beside the TUI's start, which does not wait for it (`unconfined_pending`).
    let ask = !prepared.settings.test.allow_unconfined;
    let at_once = prompt.is_some();
    if ask && !at_once {
        std::thread::spawn(|| {
            let _ = crate::workspace::sandbox::probe();
        });
    }
    let theme_name = global
        .theme
        .clone()
        .unwrap_or_else(|| prepared.settings.ui.theme.clone());
    let theme = Theme::builtin(&theme_name).map_err(|e| Failure::usage(e.to_string()))?;
    let (state, store, _guard) = open_state(&prepared.dir, global)?;
    let handle = spawn(&prepared, &state, store);
    let setup = crate::tui::Setup {
        settings: Arc::clone(&prepared.settings),
        workflow: prepared.workflow.clone(),
        theme,
        dir: prepared.dir.clone(),
        prompt,
        resume,
        unconfined: (ask && at_once)
            .then(crate::workspace::sandbox::probe)
            .and_then(Result::err),
        unconfined_pending: ask && !at_once,
        implicit_demo: prepared.settings.offline_demo() && !global.offline,
    };
    crate::tui::run(channels(handle), setup)
        .await
        .map_err(|e| Failure::failed(format!("terminal: {e}")))
}

/// `quorum ask`: never creates `.quorum/`; logs go to the XDG state directory.
async fn run_ask(global: &Global, args: AskArgs) -> Result<i32, Failure> {
    let prompt = joined(&args.prompt);
    if prompt.is_empty() {
        return Err(Failure::usage("the question is empty"));
    }
    // A provider and model asked directly need no roster (docs/commands.md).
    let direct = args.agent.is_none() && args.provider.is_some() && args.model.is_some();
    let settings = load_settings(global, &target_dir(global)?, !direct)?;
    let providers = crate::llm::build_providers(&settings).map_err(Failure::usage)?;
    let _guard =
        crate::logging::xdg_state_dir().and_then(|d| crate::logging::init(&d, global.verbose));
    let who = match (
        args.agent.clone(),
        args.provider.clone(),
        args.model.clone(),
    ) {
        (Some(agent), _, _) => crate::ask::Asked::Agent(agent),
        (None, Some(provider), Some(model)) => {
            crate::ask::Asked::Model(crate::config::ModelRef { provider, model })
        }
        _ => match settings.agents.first() {
            Some(a) => crate::ask::Asked::Agent(a.name.clone()),
            None => return Err(Failure::usage("the roster is empty")),
        },
    };
    let raw = args.raw && !std::io::IsTerminal::is_terminal(&std::io::stdout());
    crate::ask::ask(&settings, &providers, who, &prompt, raw)
        .await
        .map_err(Failure::usage)
}

/// Runs the command line and returns the process exit code.
pub fn main(cli: Cli) -> i32 {
    let global = cli.global.clone();
    // Before anything is created: a typo must not start a (paid) session.
    if let Some(message) = cli.mistyped_subcommand() {
        let failure = Failure::usage(message);
        crate::errln!("quorum: {}", crate::sanitize::text(&failure.message));
        log_early(&global, &failure);
        return failure.code;
    }
    let prompt = cli.prompt_words();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            crate::errln!("quorum: cannot start the async runtime: {e}");
            return exit::FAILED;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            None => run_tui(&global, prompt).await,
            Some(Command::Run(args)) => run_headless(&global, args).await,
            Some(Command::Resume(args)) => run_resume(&global, args).await,
            Some(Command::Ask(args)) => run_ask(&global, args).await,
            Some(Command::Sessions { command }) => commands::sessions::run(&global, command),
            Some(Command::Db { command }) => commands::db::run(&global, command),
            Some(Command::Undo { session }) => commands::undo::run(&global, session.as_deref()),
            Some(Command::Memory { agent, set, clear }) => {
                commands::memory::run(&global, agent.as_deref(), set.as_deref(), clear)
            }
            Some(Command::Init { force, user }) => commands::init::run(&global, force, user),
            Some(Command::Doctor { json }) => commands::doctor::run(&global, json).await,
            Some(Command::Completions { shell }) => Ok(commands::completions::completions(shell)),
            Some(Command::Man) => Ok(commands::completions::man()),
        }
    });
    // Calls still streaming when a session ends must not hold the process.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    match result {
        Ok(code) => code,
        Err(failure) => {
            // It may quote model or project text (docs/troubleshooting.md).
            crate::errln!("quorum: {}", crate::sanitize::text(&failure.message));
            log_early(&global, &failure);
            failure.code
        }
    }
}
