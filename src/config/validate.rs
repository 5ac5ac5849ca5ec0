//! Checking `quorum.toml` and resolving it into [`Settings`]
//! (docs/configuration.md, "Errors"): one function per table, each noting
//! every problem it finds with its line ([`Problems`]), so that one run names
//! them all; a key variable that is not set is named on its own when the file
//! is otherwise valid.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use toml::de::DeTable;

use super::raw::{RawAgent, RawConfig, RawProvider, roster_names};
use super::reasoning::AgentReasoning;
use super::{AgentSpec, ConfigError, ModelRef, ProviderKind, ProviderSpec, Settings, keymap};

/// Problems found in a config file, each with its line.
pub(super) struct Problems<'a> {
    /// The file's text, for lines.
    pub(super) text: &'a str,
    /// `(line, message)` in the order found.
    pub(super) found: Vec<(Option<usize>, String)>,
}

impl Problems<'_> {
    /// Notes a problem at `span` (byte offsets into the text; `None`: no line).
    pub(super) fn at(&mut self, span: Option<std::ops::Range<usize>>, message: impl Into<String>) {
        let line = span.map(|s| line_at(self.text, s.start));
        self.found.push((line, message.into()));
    }

    /// The error naming every problem, by line.
    pub(super) fn into_error(mut self, path: &Path) -> ConfigError {
        self.found.sort_by_key(|(line, _)| line.unwrap_or(0));
        ConfigError::Problems {
            path: path.display().to_string(),
            problems: self
                .found
                .into_iter()
                .map(|(line, message)| match line {
                    Some(n) => format!("line {n}: {message}"),
                    None => message,
                })
                .collect(),
        }
    }
}

/// The 1-based line of byte `offset` in `text`.
fn line_at(text: &str, offset: usize) -> usize {
    text.as_bytes()
        .iter()
        .take(offset.min(text.len()))
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// The span of the deepest key of `keys` (a path from the document's root)
/// that the file holds: the key itself when written, else its table's.
fn span_of(doc: &toml::de::DeTable<'_>, keys: &[&str]) -> Option<std::ops::Range<usize>> {
    let mut table = doc;
    let mut span = None;
    for key in keys {
        let Some((k, v)) = table.get_key_value(*key) else {
            break;
        };
        span = Some(k.span());
        match v.get_ref().as_table() {
            Some(t) => table = t,
            None => break,
        }
    }
    span
}

/// The file's text, or every line holding bytes that are not UTF-8 (its
/// line and column, and the byte), with how to fix it.
pub(super) fn utf8(bytes: Vec<u8>, path: &Path) -> Result<String, ConfigError> {
    let bytes = match String::from_utf8(bytes) {
        Ok(text) => return Ok(text),
        Err(e) => e.into_bytes(),
    };
    let mut problems = Vec::new();
    for (n, line) in bytes.split(|b| *b == b'\n').enumerate() {
        let mut column = 1;
        for chunk in line.utf8_chunks() {
            column += chunk.valid().chars().count();
            if let Some(byte) = chunk.invalid().first() {
                problems.push(format!(
                    "line {}, column {column}: byte 0x{byte:02x} is not UTF-8 (save the file as UTF-8)",
                    n + 1
                ));
                break;
            }
        }
    }
    Err(ConfigError::Problems {
        path: path.display().to_string(),
        problems,
    })
}

impl Settings {
    /// [`Settings::from_toml`], resolving the roster only when `roster`.
    /// Every problem is collected with its line (docs/configuration.md,
    /// "Errors"), so that one run names them all.
    pub(super) fn resolve(
        text: &str,
        path: &Path,
        offline: bool,
        env: &dyn Fn(&str) -> Option<String>,
        roster: bool,
    ) -> Result<Settings, ConfigError> {
        let doc = parse(text, path)?;
        let mut problems = Problems {
            text,
            found: Vec::new(),
        };
        let raw = RawConfig::from_doc(&doc, &mut problems);
        let base = path.parent().unwrap_or(Path::new("."));
        let providers = providers(&raw, &doc, base, &mut problems);
        check_session(&raw, &doc, &mut problems);
        check_test(&raw, &doc, &mut problems);
        check_notify(&raw, &doc, &mut problems);
        let mut settings = Settings {
            providers,
            agents: Vec::new(),
            session: raw.session.clone(),
            test: raw.test.clone(),
            git: raw.git.clone(),
            ui: raw.ui.clone(),
            notify: raw.notify.clone(),
            keys: raw
                .keys
                .iter()
                .map(|(k, v)| (k.clone(), v.keys()))
                .collect(),
            pricing: crate::config::pricing::PriceTable::builtin().with_overrides(&raw.pricing),
            models: crate::config::models::ModelTable::new(raw.models.clone()),
            source: Some(path.to_path_buf()),
        };
        if let Err(message) = keymap::Keymap::default().with_overrides(&settings.keys) {
            problems.at(span_of(&doc, &["keys"]), message);
        }
        if offline || no_team(&doc) {
            if !problems.found.is_empty() {
                return Err(problems.into_error(path));
            }
            let scripts: Option<PathBuf> = settings
                .providers
                .values()
                .find(|p| p.kind == ProviderKind::Offline)
                .and_then(|p| p.script.clone());
            settings.use_offline_everywhere(&raw.agents, scripts);
            return Ok(settings);
        }
        // Providers whose table did not parse are named by the problems
        // already; references to them are not problems of their own.
        let written: Vec<String> = doc
            .get("providers")
            .and_then(|p| p.get_ref().as_table())
            .map(|t| t.keys().map(|k| k.get_ref().to_string()).collect())
            .unwrap_or_default();
        if written.is_empty() {
            problems.at(
                span_of(&doc, &["agents"]),
                "[agents] tables but no [providers.NAME] table: define one (kind = \"offline\" for the simulated provider), or run with --offline",
            );
            return Err(problems.into_error(path));
        }
        let team = Team {
            doc: &doc,
            only_provider: (written.len() == 1).then(|| written[0].clone()),
            written: &written,
            providers: &settings.providers,
        };
        let names = if roster {
            roster_names(&raw.agents)
        } else {
            Vec::new()
        };
        let mut agents = Vec::new();
        for name in names {
            let agent = raw.agents.get(&name).cloned().unwrap_or_default();
            agents.extend(team.agent(name, &agent, &mut problems));
        }
        settings.agents = agents;
        with_keys(settings, env, &doc, problems, path)
    }
}

/// The document of `text`, or its syntax errors: what follows a syntax
/// error is a guess of the parser's, so only the syntax is reported, the
/// first error of each line (the parser's recovery may find a second one in
/// the same mistake).
fn parse<'t>(text: &'t str, path: &Path) -> Result<DeTable<'t>, ConfigError> {
    let (doc, syntax) = DeTable::parse_recoverable(text);
    if !syntax.is_empty() {
        let mut problems = Problems {
            text,
            found: Vec::new(),
        };
        let mut lines = std::collections::BTreeSet::new();
        for e in &syntax {
            let line = e.span().map(|s| line_at(text, s.start));
            if line.is_none() || lines.insert(line) {
                problems.at(e.span(), e.message().trim());
            }
        }
        return Err(problems.into_error(path));
    }
    Ok(doc.into_inner())
}

/// `[providers.NAME]`: each provider checked and resolved (`base`: the
/// config's directory, which relative `script` paths start from).
fn providers(
    raw: &RawConfig,
    doc: &DeTable<'_>,
    base: &Path,
    problems: &mut Problems<'_>,
) -> BTreeMap<String, ProviderSpec> {
    let mut providers = BTreeMap::new();
    for (name, p) in &raw.providers {
        check_provider(name, p, doc, problems);
        providers.insert(name.clone(), provider_spec(name, p, base));
    }
    providers
}

/// Notes the problems of one `[providers.NAME]` table's values.
fn check_provider(name: &str, p: &RawProvider, doc: &DeTable<'_>, problems: &mut Problems<'_>) {
    let mut bad = |key: &str, message: String| {
        problems.at(span_of(doc, &["providers", name, key]), message);
    };
    if p.max_concurrency == Some(0) {
        bad(
            "max_concurrency",
            format!("providers.{name}.max_concurrency must be at least 1"),
        );
    }
    if p.script.is_some() && p.kind != ProviderKind::Offline {
        bad(
            "script",
            format!("providers.{name}.script is only valid for kind = \"offline\""),
        );
    }
    if p.requests_per_minute == Some(0) {
        bad(
            "requests_per_minute",
            format!("providers.{name}.requests_per_minute must be at least 1"),
        );
    }
    for (key, value) in [
        ("timeout_s", p.timeout_s),
        ("connect_timeout_s", p.connect_timeout_s),
        ("first_byte_timeout_s", p.first_byte_timeout_s),
        ("idle_timeout_s", p.idle_timeout_s),
        ("call_timeout_s", p.call_timeout_s),
    ] {
        if value == Some(0) {
            bad(key, format!("providers.{name}.{key} must be at least 1"));
        }
    }
    if p.max_reply_bytes.is_some_and(|b| b < 1024) {
        bad(
            "max_reply_bytes",
            format!("providers.{name}.max_reply_bytes must be at least 1024"),
        );
    }
    if let Some(window) = p.context_tokens {
        let reply = p
            .max_tokens
            .unwrap_or(ProviderSpec::defaults(name, p.kind).max_tokens);
        if window <= reply {
            bad(
                "context_tokens",
                format!(
                    "providers.{name}.context_tokens = {window} must be larger than max_tokens ({reply}), which is kept free for the reply"
                ),
            );
        }
    }
    if let Some(url) = &p.base_url
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        bad(
            "base_url",
            format!("providers.{name}.base_url = \"{url}\" must start with http:// or https://"),
        );
    }
}

/// One `[providers.NAME]` table resolved: every value not written at the
/// kind's default ([`ProviderSpec::defaults`]).
fn provider_spec(name: &str, p: &RawProvider, base: &Path) -> ProviderSpec {
    let d = ProviderSpec::defaults(name, p.kind);
    ProviderSpec {
        name: name.to_string(),
        kind: p.kind,
        base_url: p
            .base_url
            .clone()
            .map(|u| u.trim_end_matches('/').to_string()),
        api_key_env: p.api_key_env.clone(),
        max_concurrency: p.max_concurrency.unwrap_or(d.max_concurrency),
        timeout_s: p.timeout_s.unwrap_or(d.timeout_s),
        script: p.script.as_ref().map(|s| base.join(s)),
        requests_per_minute: p.requests_per_minute,
        max_tokens: p.max_tokens.unwrap_or(d.max_tokens),
        context_tokens: p
            .context_tokens
            .unwrap_or_else(|| ProviderSpec::default_context_tokens(p.kind, p.base_url.as_deref())),
        connect_timeout_s: p.connect_timeout_s.unwrap_or(d.connect_timeout_s),
        first_byte_timeout_s: p.first_byte_timeout_s.unwrap_or(d.first_byte_timeout_s),
        idle_timeout_s: p.idle_timeout_s.unwrap_or(d.idle_timeout_s),
        max_retries: p.max_retries.unwrap_or(d.max_retries),
        backoff_ms: p.backoff_ms.unwrap_or(d.backoff_ms),
        include_usage: p.include_usage.unwrap_or(d.include_usage),
        max_reply_bytes: p.max_reply_bytes.unwrap_or_else(|| {
            ProviderSpec::default_reply_bytes(p.max_tokens.unwrap_or(d.max_tokens))
        }),
        call_timeout_s: p.call_timeout_s.unwrap_or(d.call_timeout_s),
    }
}

/// Notes the problems of `[session]`.
fn check_session(raw: &RawConfig, doc: &DeTable<'_>, problems: &mut Problems<'_>) {
    let span = |keys: &[&str]| span_of(doc, keys);
    if raw.session.max_files == 0 {
        problems.at(
            span(&["session", "max_files"]),
            "session.max_files must be at least 1",
        );
    }
}

/// Notes the problems of `[notify]`: an empty command.
fn check_notify(raw: &RawConfig, doc: &DeTable<'_>, problems: &mut Problems<'_>) {
    if raw
        .notify
        .command
        .as_deref()
        .is_some_and(|c| c.trim().is_empty())
    {
        problems.at(
            span_of(doc, &["notify", "command"]),
            "notify.command is empty: leave it out for no command",
        );
    }
}

/// The error for a `[notify] command` in `DIR/quorum.toml` (at `path`,
/// holding `text`): the command would run outside the sandbox with the
/// person's environment, and that file may come with a repository, so it is
/// read only from the user config or `--config FILE` (docs/configuration.md,
/// "Notifications").
pub(super) fn command_in_dir(text: &str, path: &Path) -> ConfigError {
    let (doc, _) = DeTable::parse_recoverable(text);
    let mut problems = Problems {
        text,
        found: Vec::new(),
    };
    problems.at(
        span_of(doc.get_ref(), &["notify", "command"]),
        "notify.command is not read from DIR/quorum.toml, which may come with a repository: \
         the command would run outside the sandbox with your environment. Put it in the user \
         config ($XDG_CONFIG_HOME/quorum/config.toml) or a file given with --config",
    );
    problems.into_error(path)
}

/// Notes the problems of `[test]`.
fn check_test(raw: &RawConfig, doc: &DeTable<'_>, problems: &mut Problems<'_>) {
    let span = |keys: &[&str]| span_of(doc, keys);
    if raw.test.timeout_s == 0 {
        problems.at(
            span(&["test", "timeout_s"]),
            "test.timeout_s must be at least 1",
        );
    }
    if raw.test.setup_timeout_s == 0 {
        problems.at(
            span(&["test", "setup_timeout_s"]),
            "test.setup_timeout_s must be at least 1",
        );
    }
    if raw.test.command.trim().is_empty() {
        problems.at(
            span(&["test", "command"]),
            "test.command is empty (use \"auto\" or a command)",
        );
    }
}

/// Whether the file has no provider and no agent (only `[ui]`, `[keys]`,
/// …): it then keeps the built-in offline team, as no file at all does.
fn no_team(doc: &DeTable<'_>) -> bool {
    doc.get("providers")
        .is_none_or(|p| p.get_ref().as_table().is_some_and(|t| t.is_empty()))
        && doc
            .get("agents")
            .is_none_or(|a| a.get_ref().as_table().is_some_and(|t| t.is_empty()))
}

/// What resolving `[agents.NAME]` needs to know of the file.
struct Team<'a, 't> {
    /// The document, for lines.
    doc: &'a DeTable<'t>,
    /// The providers the file names, whether their tables parsed or not.
    written: &'a [String],
    /// The provider an agent without `provider` uses: the only one written.
    only_provider: Option<String>,
    /// The resolved providers.
    providers: &'a BTreeMap<String, ProviderSpec>,
}

impl Team<'_, '_> {
    /// One agent of the roster resolved, or `None` with its problems noted.
    fn agent(
        &self,
        name: String,
        agent: &RawAgent,
        problems: &mut Problems<'_>,
    ) -> Option<AgentSpec> {
        let at = |key: &str| span_of(self.doc, &["agents", &name, key]);
        let written = self.written;
        let provider = match (&agent.provider, &self.only_provider) {
            (Some(p), _) => p.clone(),
            (None, Some(p)) => p.clone(),
            (None, None) => {
                problems.at(
                        at("provider"),
                        format!(
                            "agents.{name}.provider is not set and the config defines {} providers; name one in [agents.{name}] (`quorum ask` can take --provider P --model M instead)",
                            written.len()
                        ),
                    );
                return None;
            }
        };
        let Some(spec) = self.providers.get(&provider) else {
            if !written.contains(&provider) {
                problems.at(
                        at("provider"),
                        format!(
                            "agents.{name}.provider = \"{provider}\" names no [providers.{provider}] table"
                        ),
                    );
            }
            return None;
        };
        let model = match (&agent.model, spec.kind) {
            (Some(m), _) => m.clone(),
            (None, ProviderKind::Offline) => "offline".to_string(),
            (None, _) => {
                problems.at(at("model"), format!("agents.{name}.model is not set"));
                return None;
            }
        };
        let fallback = self.fallback(&name, agent, problems);
        if agent.max_concurrency == Some(0) {
            problems.at(
                at("max_concurrency"),
                format!("agents.{name}.max_concurrency must be at least 1"),
            );
        }
        let reasoning = self.reasoning(&name, agent, problems);
        Some(AgentSpec {
            role: agent.role.clone().unwrap_or_else(|| name.clone()),
            name,
            model: ModelRef { provider, model },
            fallback,
            budget_usd: agent.budget_usd,
            budget_tokens: agent.budget_tokens,
            max_concurrency: agent.max_concurrency.unwrap_or(2),
            reasoning,
        })
    }

    /// `[agents.NAME] reasoning_effort`/`thinking_budget` and their
    /// `[agents.NAME.phases.PHASE]` overrides; a budget under Anthropic's
    /// least is a problem (the phases' names are checked against the
    /// workflow: [`super::reasoning::check_phases`]).
    fn reasoning(
        &self,
        name: &str,
        agent: &RawAgent,
        problems: &mut Problems<'_>,
    ) -> AgentReasoning {
        use super::reasoning::{MIN_THINKING_BUDGET, Reasoning};
        let check = |keys: &[&str], r: Reasoning, problems: &mut Problems<'_>| {
            if let Some(b) = r.thinking_budget.filter(|b| *b < MIN_THINKING_BUDGET) {
                let mut path = vec!["agents", name];
                path.extend_from_slice(keys);
                problems.at(
                    span_of(self.doc, &[path.as_slice(), &["thinking_budget"]].concat()),
                    format!(
                        "{}.thinking_budget = {b} is under {MIN_THINKING_BUDGET} tokens, the least a thinking budget may be",
                        path.join(".")
                    ),
                );
            }
        };
        let default = Reasoning {
            effort: agent.reasoning_effort,
            thinking_budget: agent.thinking_budget,
        };
        check(&[], default, problems);
        // Phase names are checked against the session's workflow once it is
        // known (`reasoning::check_phases`): a `--workflow` file may name others.
        let mut phases = std::collections::BTreeMap::new();
        for (phase, raw) in &agent.phases {
            check(&["phases", phase], raw.reasoning(), problems);
            phases.insert(phase.clone(), raw.reasoning());
        }
        AgentReasoning { default, phases }
    }

    /// `[agents.NAME] fallback`: each `provider:model` entry that names a
    /// provider the file writes; the others noted as problems.
    fn fallback(&self, name: &str, agent: &RawAgent, problems: &mut Problems<'_>) -> Vec<ModelRef> {
        let at = |key: &str| span_of(self.doc, &["agents", name, key]);
        let written = self.written;
        let mut fallback = Vec::new();
        for entry in &agent.fallback {
            let Some((p, m)) = entry.split_once(':') else {
                problems.at(
                    at("fallback"),
                    format!("agents.{name}.fallback entry \"{entry}\" is not \"provider:model\""),
                );
                continue;
            };
            if !written.iter().any(|w| w == p) {
                problems.at(
                    at("fallback"),
                    format!(
                        "agents.{name}.fallback entry \"{entry}\" names no [providers.{p}] table"
                    ),
                );
                continue;
            }
            fallback.push(ModelRef {
                provider: p.to_string(),
                model: m.to_string(),
            });
        }
        fallback
    }
}

/// `settings` once every provider's key variable is set in `env`; else the
/// missing ones named: among the other problems when the file has some,
/// else on their own ([`ConfigError::MissingKey`], the first one).
fn with_keys(
    settings: Settings,
    env: &dyn Fn(&str) -> Option<String>,
    doc: &DeTable<'_>,
    mut problems: Problems<'_>,
    path: &Path,
) -> Result<Settings, ConfigError> {
    let mut missing = settings.providers.values().filter_map(|spec| {
        let var = spec.api_key_env.as_ref()?;
        env(var)
            .is_none_or(|v| v.is_empty())
            .then(|| (spec.name.clone(), var.clone()))
    });
    if !problems.found.is_empty() {
        for (provider, var) in missing {
            problems.at(
                span_of(doc, &["providers", &provider, "api_key_env"]),
                ConfigError::MissingKey { provider, var }.to_string(),
            );
        }
        return Err(problems.into_error(path));
    }
    if let Some((provider, var)) = missing.next() {
        return Err(ConfigError::MissingKey { provider, var });
    }
    Ok(settings)
}
