//! Configuration: `quorum.toml` (in DIR, else `$XDG_CONFIG_HOME/quorum/config.toml`,
//! or `--config FILE`) parsed, validated and resolved into [`Settings`]: the
//! providers, the roster of agents, and the session, test, git and UI settings.
//!
//! Invariants: a [`Settings`] value has been fully validated — every agent names
//! an existing provider, every fallback parses, every configured key variable is
//! set — so later stages never re-check. Key *values* are never read or stored
//! here; only the names of their environment variables.
//!
//! This file keeps [`Settings`], [`LoadOptions`], [`Settings::load`] and the
//! resolved types; `raw.rs` reads the tables as written, `validate.rs` checks
//! and resolves them, one function per table (docs/configuration.md,
//! "Errors").

pub mod demo;
pub mod estimate;
pub mod keymap;
pub mod models;
pub mod pricing;
mod raw;
pub mod reasoning;
mod validate;
pub mod workflow;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use raw::{RawAgent, RawConfig, roster_names};
use validate::utf8;

/// The default roster, in display order: project manager (chair), backend,
/// frontend, QA and security (docs/design.md §2).
pub const DEFAULT_ROSTER: [&str; 5] = ["pm", "backend", "frontend", "qa", "security"];

/// Name of the provider used when no config file exists or `--offline` is given.
pub const OFFLINE_PROVIDER: &str = "offline";

/// How the offline provider is labelled wherever a provider is shown.
pub const OFFLINE_LABEL: &str = "offline (simulated)";

/// A configuration problem; every message names the file, key or variable at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The config file: `--config FILE` as given, else the `DIR/quorum.toml` or user config.
        path: PathBuf,
        /// The I/O error from reading it.
        source: std::io::Error,
    },
    /// Every problem of the file, found at once: bytes that are not UTF-8,
    /// TOML syntax, unknown or mistyped keys, unacceptable values,
    /// references to unknown providers.
    #[error("invalid config {path}: {}", problem_list(problems))]
    Problems {
        /// The config file, displayed as text (lossy for non-UTF-8 paths).
        path: String,
        /// One message per problem, each beginning `line N: ` when it has a
        /// line (`line N, column C: ` for bytes that are not UTF-8), in the
        /// order of the lines; syntax messages come from the toml crate.
        problems: Vec<String>,
    },
    /// A provider's key variable is not set in the environment.
    #[error(
        "provider `{provider}` needs the environment variable {var}, which is not set (set it, or run with --offline)"
    )]
    MissingKey {
        /// The provider's name, the `NAME` of its `[providers.NAME]` table.
        provider: String,
        /// The unset variable, the provider's `api_key_env` value (e.g. `OPENAI_API_KEY`).
        var: String,
    },
}

/// How [`ConfigError::Problems`] shows its list: one problem on the same
/// line, several on lines of their own.
fn problem_list(problems: &[String]) -> String {
    match problems {
        [one] => one.clone(),
        many => format!("{} problems:\n    {}", many.len(), many.join("\n    ")),
    }
}

/// The kind of a provider (docs/design.md §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// Chat Completions and every OpenAI-compatible server.
    Openai,
    /// Anthropic Messages API.
    Anthropic,
    /// Google Gemini `streamGenerateContent`.
    Gemini,
    /// The built-in deterministic provider.
    Offline,
}

impl ProviderKind {
    /// The kind's name as written in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Openai => "openai",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Gemini => "gemini",
            ProviderKind::Offline => "offline",
        }
    }
}

/// A resolved provider.
#[derive(Clone, Debug, PartialEq)]
pub struct ProviderSpec {
    /// The `[providers.NAME]` table's name.
    pub name: String,
    /// Its kind.
    pub kind: ProviderKind,
    /// Base URL for HTTP kinds (`None`: the kind's public endpoint).
    pub base_url: Option<String>,
    /// Name of the environment variable holding the key (never the key itself).
    pub api_key_env: Option<String>,
    /// Calls in flight at once on this provider.
    pub max_concurrency: usize,
    /// Whole-request timeout in seconds.
    pub timeout_s: u64,
    /// Offline only: a script of canned replies (absolute path).
    pub script: Option<PathBuf>,
    /// Requests started per minute at most (`None`: no limit).
    pub requests_per_minute: Option<u32>,
    /// Most output tokens per reply (Anthropic requires it; 8,192 by default).
    pub max_tokens: u32,
    /// The model's context window in tokens: prompts are assembled to fit in
    /// it with `max_tokens` left for the reply (see
    /// [`ProviderSpec::default_context_tokens`] for the defaults).
    pub context_tokens: u32,
    /// Seconds to establish a connection.
    pub connect_timeout_s: u64,
    /// Seconds without a first byte before a call counts as dropped (docs/design.md §3: 60).
    pub first_byte_timeout_s: u64,
    /// Seconds without a byte between chunks before a call counts as dropped (30).
    pub idle_timeout_s: u64,
    /// Retries after a failed attempt (docs/design.md §3: 4).
    pub max_retries: u32,
    /// First backoff in milliseconds, doubled per retry up to 30 s (500).
    pub backoff_ms: u64,
    /// OpenAI kind: ask for the usage chunk (`stream_options.include_usage`).
    /// Servers that reject unknown fields (Mistral) need `false`.
    pub include_usage: bool,
    /// Most bytes of one reply's text; past it the stream is cut and the
    /// attempt fails as `reply too large` (no retry, the fallback is tried).
    /// One SSE event of the wire may take twice that plus 64 KiB. Default:
    /// [`ProviderSpec::default_reply_bytes`] of `max_tokens`.
    pub max_reply_bytes: u64,
    /// Most seconds one attempt may take from its request to its last byte;
    /// past it the stream is cut and the attempt fails as `call timeout` (no
    /// retry, the fallback is tried). Default 900.
    pub call_timeout_s: u64,
}

impl ProviderSpec {
    /// The built-in offline provider.
    pub fn offline() -> Self {
        ProviderSpec {
            name: OFFLINE_PROVIDER.to_string(),
            kind: ProviderKind::Offline,
            base_url: None,
            api_key_env: None,
            max_concurrency: 8,
            timeout_s: 120,
            script: None,
            ..ProviderSpec::defaults(OFFLINE_PROVIDER, ProviderKind::Offline)
        }
    }

    /// A provider of `kind` with every optional setting at its default.
    pub fn defaults(name: &str, kind: ProviderKind) -> Self {
        ProviderSpec {
            name: name.to_string(),
            kind,
            base_url: None,
            api_key_env: None,
            max_concurrency: 4,
            timeout_s: 120,
            script: None,
            requests_per_minute: None,
            max_tokens: 8192,
            context_tokens: Self::default_context_tokens(kind, None),
            connect_timeout_s: 10,
            first_byte_timeout_s: 60,
            idle_timeout_s: 30,
            max_retries: 4,
            backoff_ms: 500,
            include_usage: true,
            max_reply_bytes: Self::default_reply_bytes(8192),
            call_timeout_s: 900,
        }
    }

    /// The reply cap when `max_reply_bytes` is not set, in bytes: 16 bytes
    /// per output token (a token is about four bytes of text, OpenAI's
    /// "What are tokens and how to count them"; four times that leaves room
    /// for long tokens and multi-byte characters), and at least 4 MiB.
    pub fn default_reply_bytes(max_tokens: u32) -> u64 {
        (u64::from(max_tokens) * 16).max(4 << 20)
    }

    /// The context window assumed when `context_tokens` is not set, in
    /// tokens: OpenAI 128,000 (the GPT-4o family, OpenAI's model docs), an
    /// OpenAI-compatible server on Ollama's port 11434 4,096 (Ollama's default
    /// on small GPUs, its `docs/context-length`), Anthropic 200,000 (Claude's
    /// window, Anthropic's model docs), Gemini 1,048,576 (the 1.5/2.x input
    /// limit, Google's model docs), offline 128,000.
    pub fn default_context_tokens(kind: ProviderKind, base_url: Option<&str>) -> u32 {
        match kind {
            ProviderKind::Openai if base_url.is_some_and(|u| u.contains(":11434")) => 4_096,
            ProviderKind::Openai | ProviderKind::Offline => 128_000,
            ProviderKind::Anthropic => 200_000,
            ProviderKind::Gemini => 1_048_576,
        }
    }

    /// How the provider is shown: its name, or "offline (simulated)".
    pub fn label(&self) -> String {
        match self.kind {
            ProviderKind::Offline => OFFLINE_LABEL.to_string(),
            ProviderKind::Openai | ProviderKind::Anthropic | ProviderKind::Gemini => {
                self.name.clone()
            }
        }
    }
}

/// A `provider:model` pair of a fallback chain.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct ModelRef {
    /// Provider name.
    pub provider: String,
    /// Model name.
    pub model: String,
}

impl ModelRef {
    /// Parses `provider:model` (the model may itself hold colons: `ollama:qwen2.5:14b`).
    pub fn parse(text: &str) -> Option<ModelRef> {
        let (provider, model) = text.split_once(':')?;
        (!provider.is_empty() && !model.is_empty()).then(|| ModelRef {
            provider: provider.to_string(),
            model: model.to_string(),
        })
    }
}

impl std::fmt::Display for ModelRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.provider, self.model)
    }
}

/// A resolved agent.
#[derive(Clone, Debug, PartialEq)]
pub struct AgentSpec {
    /// The agent's name (`pm`, `backend`, …).
    pub name: String,
    /// Its role: picks the system prompt `assets/prompts/<role>.md`.
    pub role: String,
    /// Primary provider and model.
    pub model: ModelRef,
    /// Fallback chain, tried in order after the primary fails.
    pub fallback: Vec<ModelRef>,
    /// Spending limit in US dollars.
    pub budget_usd: Option<f64>,
    /// Token limit (input and output tokens together).
    pub budget_tokens: Option<u64>,
    /// Tasks of this agent running at once.
    pub max_concurrency: usize,
    /// `reasoning_effort` and `thinking_budget`, the agent's and per phase.
    pub reasoning: reasoning::AgentReasoning,
}

/// `[session]`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionSettings {
    /// Spending limit of a session in US dollars.
    pub budget_usd: Option<f64>,
    /// Token limit of a session (input and output tokens together).
    pub budget_tokens: Option<u64>,
    /// Most clarifying questions the refine phase may ask (3 by default).
    #[serde(default = "default_max_questions")]
    pub max_questions: usize,
    /// Most files a session stages (at least 1; [`DEFAULT_MAX_FILES`] by
    /// default): a file past it is refused at staging (`path_refused`), and a
    /// reply's file blocks past it are not parsed (docs/configuration.md).
    #[serde(default = "default_max_files")]
    pub max_files: usize,
    /// The repository map's budget in tokens (one per three characters;
    /// 4,096 by default; 0 leaves the map out): docs/design.md §1,
    /// "Existing code".
    #[serde(default = "default_map_tokens")]
    pub map_tokens: usize,
}

fn default_map_tokens() -> usize {
    crate::workspace::repomap::DEFAULT_MAP_TOKENS
}

fn default_max_questions() -> usize {
    3
}

/// The default of `[session] max_files`: 2,000 files, more than a generated
/// project needs and few enough to stage in seconds (issue 17).
pub const DEFAULT_MAX_FILES: usize = 2_000;

fn default_max_files() -> usize {
    DEFAULT_MAX_FILES
}

impl Default for SessionSettings {
    fn default() -> Self {
        SessionSettings {
            budget_usd: None,
            budget_tokens: None,
            max_questions: default_max_questions(),
            max_files: default_max_files(),
            map_tokens: default_map_tokens(),
        }
    }
}

/// `[test]`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TestSettings {
    /// `auto` (each component's test command from the plan or detected from the
    /// tree; docs/workflows.md, "Setup and tests") or a shell command run at the
    /// tree's root, which then is the only component.
    pub command: String,
    /// `auto` (each component's setup command from the plan or detected), `""`
    /// for none, or a shell command run at the tree's root before `command`.
    pub setup: String,
    /// Whether the setup step has the network (it installs dependencies); tests
    /// never have it. `false` for people who vendor their dependencies
    /// (`--no-setup-network` on the command line).
    pub setup_network: bool,
    /// Seconds before a setup step is killed.
    pub setup_timeout_s: u64,
    /// Seconds before a test command is killed.
    pub timeout_s: u64,
    /// Repair rounds after a failing test run.
    pub max_repair_rounds: u32,
    /// Run model-written setup and tests without the jail on a machine that
    /// cannot confine them (docs/sandbox.md). Only the command line sets it
    /// (`--allow-unconfined-tests`): a configuration file, which may come
    /// with a repository, cannot.
    #[serde(skip)]
    pub allow_unconfined: bool,
}

impl Default for TestSettings {
    fn default() -> Self {
        TestSettings {
            command: "auto".to_string(),
            setup: "auto".to_string(),
            setup_network: true,
            setup_timeout_s: 900,
            timeout_s: 300,
            max_repair_rounds: 2,
            allow_unconfined: false,
        }
    }
}

/// `[git]`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GitSettings {
    /// Remote that `sessions push` pushes to.
    pub remote: String,
}

impl Default for GitSettings {
    fn default() -> Self {
        GitSettings {
            remote: "origin".to_string(),
        }
    }
}

/// `[ui]`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UiSettings {
    /// Theme name (`default`, `light`, `high-contrast`, `mono`).
    pub theme: String,
    /// In the TUI, wait at resolve until the person confirms the decisions.
    pub confirm_decisions: bool,
    /// Capture the mouse in the TUI (wheel scrolling); off by default, so the
    /// terminal's own selection keeps working.
    pub mouse: bool,
}

impl Default for UiSettings {
    fn default() -> Self {
        UiSettings {
            theme: "default".to_string(),
            confirm_decisions: true,
            mouse: false,
        }
    }
}

/// `notify = false`, or the `[notify]` table (docs/configuration.md,
/// "Notifications"): how the session calls the person when it waits for them
/// or ends (docs/design.md §5, "Notifications").
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifySettings {
    /// `false` when the file says `notify = false`: no bell, no desktop
    /// notification, no command.
    #[serde(skip)]
    pub enabled: bool,
    /// The TUI rings the terminal's bell (BEL).
    pub bell: bool,
    /// The TUI sends a desktop notification through the terminal (OSC 9 and
    /// OSC 777).
    pub desktop: bool,
    /// A shell command (`sh -c`) run in DIR with `QUORUM_SESSION`,
    /// `QUORUM_REASON`, `QUORUM_SUMMARY` and `QUORUM_DIR` in its environment;
    /// read only from the user config or `--config FILE`, never from
    /// `DIR/quorum.toml`, which may come with a repository.
    pub command: Option<String>,
}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings {
            enabled: true,
            bell: true,
            desktop: true,
            command: None,
        }
    }
}

impl NotifySettings {
    /// The command to run with each notice: `command`, unless `notify = false`.
    pub fn command(&self) -> Option<&str> {
        self.command.as_deref().filter(|_| self.enabled)
    }
}

/// Validated configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// Providers by name.
    pub providers: BTreeMap<String, ProviderSpec>,
    /// The roster, in display order (default roster first, then added agents by name).
    pub agents: Vec<AgentSpec>,
    /// `[session]`.
    pub session: SessionSettings,
    /// `[test]`.
    pub test: TestSettings,
    /// `[git]`.
    pub git: GitSettings,
    /// `[ui]`.
    pub ui: UiSettings,
    /// `notify = false` or `[notify]`.
    pub notify: NotifySettings,
    /// `[keys]`: key binding overrides, `context.action` → keys, validated
    /// against the TUI's key table ([`keymap::Keymap::with_overrides`]).
    pub keys: BTreeMap<String, Vec<String>>,
    /// Prices per model: `assets/pricing.toml` overridden by the config's
    /// `[pricing."MODEL"]` tables.
    pub pricing: crate::config::pricing::PriceTable,
    /// Per-model settings: the config's `[models."MODEL"]` tables.
    pub models: models::ModelTable,
    /// The file the settings came from; `None` for the built-in defaults.
    pub source: Option<PathBuf>,
}

/// Where to look for configuration.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// `--config FILE`: must exist.
    pub config: Option<PathBuf>,
    /// The target directory; `DIR/quorum.toml` is looked at first.
    pub dir: PathBuf,
    /// `--offline`: every agent uses the offline provider; keys are not needed.
    pub offline: bool,
    /// The user config directory (normally `$XDG_CONFIG_HOME/quorum`).
    pub user_config_dir: Option<PathBuf>,
}

impl Settings {
    /// The built-in defaults: the default roster on the offline provider.
    pub fn offline_defaults() -> Self {
        let raw = RawConfig::default();
        let mut settings = Settings {
            providers: BTreeMap::new(),
            agents: Vec::new(),
            session: raw.session,
            test: raw.test,
            git: raw.git,
            ui: raw.ui,
            notify: raw.notify,
            keys: BTreeMap::new(),
            pricing: crate::config::pricing::PriceTable::builtin(),
            models: models::ModelTable::default(),
            source: None,
        };
        settings.use_offline_everywhere(&BTreeMap::new(), None);
        settings
    }

    /// Finds, reads and validates the configuration. `env` looks up environment
    /// variables (so tests need not touch the process environment).
    ///
    /// Errors: an unreadable file ([`ConfigError::Read`]); every problem of
    /// the file at once, each with its line ([`ConfigError::Problems`]:
    /// bytes that are not UTF-8, TOML syntax, unknown or mistyped keys,
    /// unacceptable values, references to unknown providers); a missing key
    /// variable ([`ConfigError::MissingKey`]).
    pub fn load(
        options: &LoadOptions,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Settings, ConfigError> {
        Self::load_with(options, env, true)
    }

    /// [`Settings::load`] without the roster: the providers and every other
    /// setting, checked the same way, but no agent resolved (`agents` is
    /// empty). For `quorum ask --provider P --model M`, which asks no agent,
    /// so that a config with several providers and no `[agents]` serves it.
    pub fn load_without_roster(
        options: &LoadOptions,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Settings, ConfigError> {
        Self::load_with(options, env, false)
    }

    fn load_with(
        options: &LoadOptions,
        env: &dyn Fn(&str) -> Option<String>,
        roster: bool,
    ) -> Result<Settings, ConfigError> {
        let path = match &options.config {
            Some(path) => Some(path.clone()),
            None => {
                let in_dir = options.dir.join("quorum.toml");
                let in_user = options
                    .user_config_dir
                    .as_ref()
                    .map(|d| d.join("config.toml"));
                if in_dir.is_file() {
                    Some(in_dir)
                } else {
                    in_user.filter(|p| p.is_file())
                }
            }
        };
        let Some(path) = path else {
            return Ok(Settings::offline_defaults());
        };
        let bytes = std::fs::read(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        let text = utf8(bytes, &path)?;
        let settings = Settings::resolve(&text, &path, options.offline, env, roster)?;
        let in_dir = options.config.is_none() && path == options.dir.join("quorum.toml");
        if in_dir && settings.notify.command.is_some() {
            return Err(validate::command_in_dir(&text, &path));
        }
        Ok(settings)
    }

    /// Parses and validates config text; `path` is used in messages and to
    /// resolve relative `script` paths. Errors as [`Settings::load`].
    pub fn from_toml(
        text: &str,
        path: &Path,
        offline: bool,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Settings, ConfigError> {
        Settings::resolve(text, path, offline, env, true)
    }

    /// Replaces the providers with the offline one and points every agent at it,
    /// keeping per-agent budgets and roles.
    fn use_offline_everywhere(
        &mut self,
        raw_agents: &BTreeMap<String, RawAgent>,
        script: Option<PathBuf>,
    ) {
        let mut offline = ProviderSpec::offline();
        offline.script = script;
        self.providers = BTreeMap::from([(OFFLINE_PROVIDER.to_string(), offline)]);
        self.agents = roster_names(raw_agents)
            .into_iter()
            .map(|name| {
                let raw = raw_agents.get(&name).cloned().unwrap_or_default();
                AgentSpec {
                    role: raw.role.clone().unwrap_or_else(|| name.clone()),
                    name,
                    model: ModelRef {
                        provider: OFFLINE_PROVIDER.to_string(),
                        model: "offline".to_string(),
                    },
                    fallback: Vec::new(),
                    budget_usd: raw.budget_usd,
                    budget_tokens: raw.budget_tokens,
                    max_concurrency: raw.max_concurrency.unwrap_or(2).max(1),
                    // Reasoning is for real models: the simulated team has none.
                    reasoning: reasoning::AgentReasoning::default(),
                }
            })
            .collect();
    }

    /// How `model` is asked to write a file that already exists
    /// (`[models."MODEL"] edit_format`, else the default of its provider's
    /// kind and its family; docs/configuration.md, "Models"). A model whose
    /// provider is not configured writes whole files.
    pub fn edit_format(&self, model: &ModelRef) -> crate::protocol::file_blocks::EditFormat {
        match self.providers.get(&model.provider) {
            Some(p) => self.models.edit_format(p.kind, &model.model),
            None => crate::protocol::file_blocks::EditFormat::Whole,
        }
    }

    /// The agent named `name`.
    pub fn agent(&self, name: &str) -> Option<&AgentSpec> {
        self.agents.iter().find(|a| a.name == name)
    }

    /// `true` when every agent runs on the offline provider.
    pub fn all_offline(&self) -> bool {
        self.agents.iter().all(|a| {
            self.providers
                .get(&a.model.provider)
                .is_some_and(|p| p.kind == ProviderKind::Offline)
        })
    }

    /// `true` when every agent runs on the offline provider without a script:
    /// the offline (simulated) team, which builds its demo item service
    /// whatever the prompt (docs/offline-script.md covers scripted runs).
    pub fn offline_demo(&self) -> bool {
        self.all_offline()
            && self.agents.iter().all(|a| {
                self.providers
                    .get(&a.model.provider)
                    .is_some_and(|p| p.script.is_none())
            })
    }

    /// `true` when any agent (or fallback) uses the offline provider.
    pub fn any_offline(&self) -> bool {
        self.agents.iter().any(|a| {
            std::iter::once(&a.model).chain(&a.fallback).any(|m| {
                self.providers
                    .get(&m.provider)
                    .is_some_and(|p| p.kind == ProviderKind::Offline)
            })
        })
    }

    /// How an agent's provider is shown ("offline (simulated)" or the provider's name).
    pub fn provider_label(&self, agent: &AgentSpec) -> String {
        self.providers
            .get(&agent.model.provider)
            .map(ProviderSpec::label)
            .unwrap_or_else(|| agent.model.provider.clone())
    }

    /// Every environment variable that holds a provider key, for scrubbing the
    /// environment of test runs.
    pub fn key_variables(&self) -> Vec<String> {
        self.providers
            .values()
            .filter_map(|p| p.api_key_env.clone())
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn parse(text: &str) -> Result<Settings, ConfigError> {
        Settings::from_toml(text, Path::new("/tmp/q/quorum.toml"), false, &no_env)
    }

    #[test]
    fn defaults_are_the_offline_roster() {
        let s = Settings::offline_defaults();
        let names: Vec<_> = s.agents.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, DEFAULT_ROSTER);
        assert!(s.all_offline());
        assert_eq!(s.provider_label(&s.agents[0]), OFFLINE_LABEL);
        assert_eq!(s.test.command, "auto");
        assert!(s.ui.confirm_decisions);
    }

    #[test]
    fn a_session_stages_at_most_2000_files_unless_configured() {
        assert_eq!(DEFAULT_MAX_FILES, 2_000);
        assert_eq!(Settings::offline_defaults().session.max_files, 2_000);
        let s = parse("[providers.x]\nkind = \"offline\"\n").unwrap();
        assert_eq!(s.session.max_files, 2_000);
        let s = parse("[providers.x]\nkind = \"offline\"\n[session]\nmax_files = 5\n").unwrap();
        assert_eq!(s.session.max_files, 5);
        let err =
            parse("[providers.x]\nkind = \"offline\"\n[session]\nmax_files = 0\n").unwrap_err();
        assert!(
            err.to_string()
                .contains("session.max_files must be at least 1"),
            "{err}"
        );
    }

    #[test]
    fn malformed_toml_names_the_line() {
        let err = parse("[providers.x]\nkind = \"offline\"\nmax_concurrency = = 3\n").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("line 3"), "{msg}");
        assert!(msg.contains("quorum.toml"), "{msg}");
    }

    #[test]
    fn every_problem_of_a_file_is_named_with_its_line() {
        let text = "[providers.x]\nkind = \"offline\"\nkindd = 1\n[session]\nmax_files = 0\n[test]\ntimeout_s = \"long\"\n[ui]\nmouse = \"yes\"\n[wat]\n";
        let err = parse(text).unwrap_err().to_string();
        assert!(err.contains("5 problems:"), "{err}");
        for line in [
            "line 3: providers.x.kindd: unknown field `kindd`",
            "line 5: session.max_files must be at least 1",
            "line 7: test.timeout_s: invalid type: string \"long\"",
            "line 9: ui.mouse: invalid type: string \"yes\", expected a boolean",
            "line 10: unknown table or key `wat`",
        ] {
            assert!(err.contains(line), "{line}\n{err}");
        }
        // Two syntax errors are both named.
        let err = parse("a = = 1\n[ok]\nb = = 2\n").unwrap_err().to_string();
        assert!(err.contains("line 1:") && err.contains("line 3:"), "{err}");
        // Two bad agents of one file, each on its line.
        let err = parse(
            "[providers.x]\nkind = \"offline\"\n[agents.pm]\nprovider = \"nope\"\n[agents.qa]\nmax_concurrency = 0\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("line 4: agents.pm.provider = \"nope\""),
            "{err}"
        );
        assert!(
            err.contains("line 6: agents.qa.max_concurrency must be at least 1"),
            "{err}"
        );
    }

    #[test]
    fn bytes_that_are_not_utf8_are_named_by_line_and_column() {
        let err = utf8(
            b"[ui]\nmouse = true # caf\xe9\n\xff\n".to_vec(),
            Path::new("q.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("q.toml"), "{err}");
        assert!(
            err.contains("line 2, column 19: byte 0xe9 is not UTF-8 (save the file as UTF-8)"),
            "{err}"
        );
        assert!(err.contains("line 3, column 1: byte 0xff"), "{err}");
        assert_eq!(utf8(b"ok".to_vec(), Path::new("q")).unwrap(), "ok");
    }

    #[test]
    fn a_file_without_providers_or_agents_keeps_the_offline_team() {
        let s = parse("[ui]\nmouse = true\n[keys]\n\"files.commit\" = \"ctrl-s\"\n").unwrap();
        assert!(s.ui.mouse);
        assert!(s.all_offline(), "{:?}", s.agents);
        let names: Vec<_> = s.agents.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, DEFAULT_ROSTER);
        assert_eq!(s.source.as_deref(), Some(Path::new("/tmp/q/quorum.toml")));
        // Agents without a provider are still a problem.
        let err = parse("[agents.pm]\nmodel = \"m\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("no [providers.NAME] table"), "{err}");
    }

    #[test]
    fn several_providers_without_agents_serve_a_direct_question() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("quorum.toml"),
            "[providers.a]\nkind = \"offline\"\n[providers.b]\nkind = \"offline\"\n",
        )
        .unwrap();
        let options = LoadOptions {
            dir: dir.path().to_path_buf(),
            ..LoadOptions::default()
        };
        let err = Settings::load(&options, &no_env).unwrap_err().to_string();
        assert!(err.contains("agents.pm.provider is not set"), "{err}");
        assert!(err.contains("--provider P --model M"), "{err}");
        let s = Settings::load_without_roster(&options, &no_env).unwrap();
        assert!(s.agents.is_empty());
        assert_eq!(s.providers.len(), 2);
    }

    #[test]
    fn unknown_keys_are_rejected_by_name() {
        let err = parse("[providers.x]\nkind = \"offline\"\nkindd = 1\n").unwrap_err();
        assert!(err.to_string().contains("kindd"), "{err}");
        let err = parse("[providers.x]\nkind = \"telepathy\"\n").unwrap_err();
        assert!(err.to_string().contains("telepathy"), "{err}");
    }

    #[test]
    fn a_missing_key_variable_is_named() {
        let text = "[providers.openai]\nkind = \"openai\"\napi_key_env = \"QUORUM_TEST_NO_SUCH_KEY\"\n[agents.pm]\nmodel = \"gpt-4o\"\n";
        // With the file's own problems (the other agents have no model),
        // named with them at once.
        let err = parse(text).unwrap_err().to_string();
        assert!(err.contains("QUORUM_TEST_NO_SUCH_KEY"), "{err}");
        assert!(
            err.contains("line 4: agents.backend.model is not set"),
            "{err}"
        );
        // Alone: the key variable.
        let complete: String = DEFAULT_ROSTER
            .iter()
            .map(|a| format!("[agents.{a}]\nmodel = \"gpt-4o\"\n"))
            .collect();
        let err = parse(&format!(
            "{}{complete}",
            &text[..text.find("[agents").unwrap()]
        ))
        .unwrap_err();
        assert!(matches!(err, ConfigError::MissingKey { .. }), "{err}");
        assert!(err.to_string().contains("QUORUM_TEST_NO_SUCH_KEY"));
        // --offline does not need the key.
        let s =
            Settings::from_toml(text, Path::new("quorum.toml"), true, &no_env).expect("offline");
        assert!(s.all_offline());
    }

    #[test]
    fn agents_resolve_providers_models_and_fallbacks() {
        let env = |v: &str| (v == "K").then(|| "secret".to_string());
        let text = r#"
[providers.a]
kind = "openai"
api_key_env = "K"
[providers.local]
kind = "openai"
base_url = "http://127.0.0.1:11434/v1"
[agents.backend]
provider = "a"
model = "gpt-4o"
fallback = ["local:llama3"]
budget_usd = 2.0
[agents.pm]
provider = "local"
model = "llama3"
[agents.frontend]
provider = "local"
model = "llama3"
[agents.qa]
provider = "local"
model = "llama3"
[agents.security]
provider = "local"
model = "llama3"
[agents.docs]
provider = "local"
model = "llama3"
"#;
        let s = Settings::from_toml(text, Path::new("quorum.toml"), false, &env).unwrap();
        let backend = s.agent("backend").unwrap();
        assert_eq!(backend.model.to_string(), "a:gpt-4o");
        assert_eq!(backend.fallback[0].to_string(), "local:llama3");
        assert_eq!(backend.budget_usd, Some(2.0));
        assert_eq!(s.agents.last().unwrap().name, "docs");
        assert!(!s.any_offline());
        assert_eq!(s.key_variables(), vec!["K".to_string()]);
    }

    #[test]
    fn bad_references_are_named() {
        let err = parse("[providers.x]\nkind = \"offline\"\n[agents.pm]\nprovider = \"y\"\n")
            .unwrap_err();
        assert!(err.to_string().contains("agents.pm.provider"), "{err}");
        let err = parse("[providers.x]\nkind = \"offline\"\n[agents.pm]\nfallback = [\"nope\"]\n")
            .unwrap_err();
        assert!(err.to_string().contains("\"nope\""), "{err}");
    }

    #[test]
    fn offline_script_paths_are_relative_to_the_config() {
        let s = parse("[providers.sim]\nkind = \"offline\"\nscript = \"s.toml\"\n").unwrap();
        assert_eq!(
            s.providers["sim"].script.as_deref(),
            Some(Path::new("/tmp/q/s.toml"))
        );
        assert!(s.all_offline());
    }

    #[test]
    fn keys_overrides_and_mouse_are_read_and_checked() {
        let base = "[providers.x]\nkind = \"offline\"\n";
        let s = parse(&format!(
            "{base}[ui]\nmouse = true\n[keys]\n\"files.commit\" = \"ctrl-s\"\n\"outside.metrics\" = [\"m\", \"f2\"]\n"
        ))
        .unwrap();
        assert!(s.ui.mouse);
        assert_eq!(s.keys["files.commit"], vec!["ctrl-s".to_string()]);
        assert_eq!(s.keys["outside.metrics"].len(), 2);
        assert!(!parse(base).unwrap().ui.mouse, "mouse is opt-in");
        let err = parse(&format!("{base}[keys]\n\"files.launch\" = \"x\"\n")).unwrap_err();
        assert!(err.to_string().contains("files.launch"), "{err}");
        let err = parse(&format!("{base}[keys]\n\"files.commit\" = \"d\"\n")).unwrap_err();
        assert!(err.to_string().contains("bound twice"), "{err}");
        let err = parse(&format!("{base}[ui]\nmouse = \"yes\"\n")).unwrap_err();
        assert!(err.to_string().contains("mouse"), "{err}");
        let err = parse(&format!("{base}[ui]\nmuose = true\n")).unwrap_err();
        assert!(err.to_string().contains("muose"), "{err}");
    }

    #[test]
    fn notifications_are_on_by_default_and_notify_false_silences_them() {
        let base = "[providers.x]\nkind = \"offline\"\n";
        let s = parse(base).unwrap();
        assert_eq!(s.notify, NotifySettings::default());
        assert!(s.notify.enabled && s.notify.bell && s.notify.desktop);
        assert_eq!(s.notify.command(), None);
        assert_eq!(
            Settings::offline_defaults().notify,
            NotifySettings::default()
        );
        let s = parse(&format!("notify = false\n{base}")).unwrap();
        assert!(!s.notify.enabled);
        let s = parse(&format!(
            "{base}[notify]\nbell = false\ndesktop = false\ncommand = \"notify-send quorum\"\n"
        ))
        .unwrap();
        assert!(s.notify.enabled && !s.notify.bell && !s.notify.desktop);
        assert_eq!(s.notify.command(), Some("notify-send quorum"));
        let s = parse(&format!("notify = true\n{base}")).unwrap();
        assert_eq!(s.notify, NotifySettings::default());
    }

    #[test]
    fn a_mistake_in_notify_is_named_with_its_line() {
        let base = "[providers.x]\nkind = \"offline\"\n";
        let err = parse(&format!("{base}[notify]\nbel = true\n"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 4: notify.bel: unknown field `bel`"),
            "{err}"
        );
        let err = parse(&format!("{base}[notify]\ncommand = \" \"\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 4: notify.command is empty"), "{err}");
        let err = parse(&format!("notify = \"off\"\n{base}"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 1: `notify` must be `false`"), "{err}");
        let err = parse(&format!("{base}[notify]\nbell = \"yes\"\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 4: notify.bell: invalid type"), "{err}");
    }

    #[test]
    fn the_notify_command_is_read_from_the_user_config_or_config_but_not_from_dir() {
        let text = "[providers.x]\nkind = \"offline\"\n[notify]\ncommand = \"true\"\n";
        let dir = tempfile::tempdir().unwrap();
        let user = tempfile::tempdir().unwrap();
        std::fs::write(user.path().join("config.toml"), text).unwrap();
        let options = LoadOptions {
            dir: dir.path().to_path_buf(),
            user_config_dir: Some(user.path().to_path_buf()),
            ..LoadOptions::default()
        };
        let s = Settings::load(&options, &no_env).unwrap();
        assert_eq!(s.notify.command(), Some("true"));
        // In DIR/quorum.toml (which wins over the user config) it is refused.
        std::fs::write(dir.path().join("quorum.toml"), text).unwrap();
        let err = Settings::load(&options, &no_env).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("line 4: notify.command is not read from DIR/quorum.toml"),
            "{msg}"
        );
        assert!(msg.contains("--config"), "{msg}");
        // The same file given with --config is the person's choice.
        let s = Settings::load(
            &LoadOptions {
                config: Some(dir.path().join("quorum.toml")),
                ..options.clone()
            },
            &no_env,
        )
        .unwrap();
        assert_eq!(s.notify.command(), Some("true"));
        // bell, desktop and `notify = false` are fine anywhere.
        std::fs::write(
            dir.path().join("quorum.toml"),
            "notify = false\n[providers.x]\nkind = \"offline\"\n",
        )
        .unwrap();
        assert!(!Settings::load(&options, &no_env).unwrap().notify.enabled);
    }

    #[test]
    fn reasoning_settings_resolve_per_agent_and_phase() {
        use reasoning::ReasoningEffort;
        let text = "[providers.o]\nkind = \"offline\"\n[agents.pm]\nmodel = \"o3\"\nreasoning_effort = \"low\"\nthinking_budget = 4096\n[agents.pm.phases.plan]\nreasoning_effort = \"high\"\n";
        let s = parse(text).unwrap();
        let pm = s.agent("pm").unwrap();
        assert_eq!(
            pm.reasoning.for_phase("refine").effort,
            Some(ReasoningEffort::Low)
        );
        let plan = pm.reasoning.for_phase("plan");
        assert_eq!(plan.effort, Some(ReasoningEffort::High));
        assert_eq!(plan.thinking_budget, Some(4096));
        // An agent without the keys asks for nothing.
        assert!(!s.agent("qa").unwrap().reasoning.for_phase("plan").is_set());
    }

    #[test]
    fn unknown_reasoning_values_and_phases_are_errors_with_their_lines() {
        let text = "[providers.o]\nkind = \"offline\"\n[agents.pm]\nmodel = \"o3\"\nreasoning_effort = \"huge\"\n[agents.qa]\nmodel = \"o3\"\n[agents.qa.phases.planning]\nreasoning_effort = \"low\"\n[agents.backend]\nmodel = \"o3\"\nthinking_budget = 10\n";
        let err = parse(text).unwrap_err();
        let msg = err.to_string();
        for want in [
            "line 5: agents.pm.reasoning_effort: unknown variant `huge`",
            "line 12: agents.backend.thinking_budget = 10 is under 1024 tokens",
        ] {
            assert!(msg.contains(want), "{want}\n{msg}");
        }
        // A config error: the command line exits 2 with it.
        assert!(matches!(err, ConfigError::Problems { .. }), "{msg}");
        // A phase's name is checked against the session's workflow: the
        // default one has no `planning`, a workflow file may.
        let text = "[providers.o]\nkind = \"offline\"\n[agents.qa]\nmodel = \"o3\"\n[agents.qa.phases.planning]\nreasoning_effort = \"low\"\n";
        let settings = parse(text).unwrap();
        let roster: Vec<String> = settings.agents.iter().map(|a| a.name.clone()).collect();
        let default = workflow::Workflow::default_for(&roster).unwrap();
        let err = reasoning::check_phases(&settings, &default).unwrap_err();
        assert!(
            err.starts_with("agents.qa.phases.planning: no phase `planning` in the workflow `default` (phases: refine, plan,"),
            "{err}"
        );
        let mut custom = default.clone();
        custom.phases[1].name = "planning".into();
        assert_eq!(reasoning::check_phases(&settings, &custom), Ok(()));
    }
}
