//! `quorum ask`: one streamed completion outside any session — text to stdout
//! as it arrives, usage and cost to stderr. It uses the agent's (or the named
//! provider's) retries and fallbacks, never creates `.quorum/`, and logs to the
//! XDG state directory.
//!
//! The reply is model text: it reaches stdout through the sanitiser
//! ([`crate::sanitize::text`]: controls and bidi overrides shown visibly),
//! unless `raw` (`--raw` with stdout not a terminal). What goes to stderr
//! (retry reasons, errors) always passes it.

use std::io::Write as _;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::cli::args::{AskArgs, Global, joined};
use crate::cli::exit::{self, Failure, target_dir};
use crate::cli::logging;
use crate::cli::setup::load_settings;
use crate::config::{ModelRef, Settings};
use crate::llm::health::Health;
use crate::llm::{CallMeta, ChatRequest, Message, Role, SharedProvider, TaskKind, Usage};
use crate::orchestrator::call::{self, CallEvent, CallPolicy, Link};

/// Who answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Asked {
    /// An agent of the roster, with its role prompt and fallbacks.
    Agent(String),
    /// A provider and model, no role prompt.
    Model(ModelRef),
}

/// Runs `quorum ask` and returns its exit code ([`ask`]'s). It never
/// creates `.quorum/`; logs go to the XDG state directory.
///
/// Errors: exit 2 for an empty question, a config that does not validate,
/// an empty roster or an unknown agent or provider.
pub async fn run(global: &Global, args: AskArgs) -> Result<i32, Failure> {
    let prompt = joined(&args.prompt);
    if prompt.is_empty() {
        return Err(Failure::usage("the question is empty"));
    }
    // A provider and model asked directly need no roster (docs/commands.md).
    let direct = args.agent.is_none() && args.provider.is_some() && args.model.is_some();
    let settings = load_settings(global, &target_dir(global)?, !direct)?;
    let providers =
        crate::orchestrator::providers::build_providers(&settings).map_err(Failure::usage)?;
    let _guard = logging::xdg_state_dir().and_then(|d| logging::init(&d, global.verbose));
    let who = match (
        args.agent.clone(),
        args.provider.clone(),
        args.model.clone(),
    ) {
        (Some(agent), _, _) => Asked::Agent(agent),
        (None, Some(provider), Some(model)) => Asked::Model(ModelRef { provider, model }),
        _ => match settings.agents.first() {
            Some(a) => Asked::Agent(a.name.clone()),
            None => return Err(Failure::usage("the roster is empty")),
        },
    };
    let raw = args.raw && !std::io::IsTerminal::is_terminal(&std::io::stdout());
    ask(&settings, &providers, who, &prompt, raw)
        .await
        .map_err(Failure::usage)
}

/// Runs one completion and returns the exit code (0 ok, 1 failed, 3
/// interrupted, or stdout closed); `raw` writes the reply's text unsanitised. Errors before the
/// call (unknown agent or provider) are returned as messages for exit 2.
pub async fn ask(
    settings: &Settings,
    providers: &std::collections::BTreeMap<String, SharedProvider>,
    who: Asked,
    prompt: &str,
    raw: bool,
) -> Result<i32, String> {
    let (role, chain_models) = chain_of(settings, &who)?;
    let chain = links(settings, providers, &chain_models);
    let request = request(role, &chain_models, prompt);
    tracing::info!(
        chain = %chain_models.iter().map(ToString::to_string).collect::<Vec<_>>().join(" → "),
        "ask"
    );
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let cancel = CancellationToken::new();
    // Text goes to stdout as it is read: a write costs next to nothing, and
    // the orchestrator's 50 ms batching would only delay the reply's end.
    let runner = tokio::spawn(call::run_with_interval(
        "ask".into(),
        1,
        chain,
        request,
        tx,
        cancel.clone(),
        std::time::Duration::ZERO,
    ));
    let mut printer = Printer::new(raw);
    let code = loop {
        let msg = tokio::select! {
            msg = rx.recv() => msg,
            _ = tokio::signal::ctrl_c() => {
                cancel.cancel();
                crate::errln!("\nquorum: interrupted");
                break exit::INTERRUPTED;
            }
        };
        let Some(msg) = msg else {
            break exit::FAILED;
        };
        match printer.event(msg.event, settings) {
            Next::Go => {}
            Next::Stop(code) => break code,
            Next::Cancel(code) => {
                cancel.cancel();
                break code;
            }
        }
    };
    runner.abort();
    Ok(code)
}

/// The role prompt (an agent's; none for a model asked directly) and the
/// chain of models to try, first to last.
fn chain_of(settings: &Settings, who: &Asked) -> Result<(Option<String>, Vec<ModelRef>), String> {
    match who {
        Asked::Agent(name) => {
            let agent = settings.agent(name).ok_or_else(|| {
                let names: Vec<&str> = settings.agents.iter().map(|a| a.name.as_str()).collect();
                format!(
                    "--agent {name}: no such agent (the roster: {})",
                    names.join(", ")
                )
            })?;
            let mut chain = vec![agent.model.clone()];
            chain.extend(agent.fallback.iter().cloned());
            Ok((Some(agent.role.clone()), chain))
        }
        Asked::Model(model) => {
            if !settings.providers.contains_key(&model.provider) {
                let names: Vec<&str> = settings.providers.keys().map(String::as_str).collect();
                return Err(format!(
                    "--provider {}: no [providers.{}] table (configured: {})",
                    model.provider,
                    model.provider,
                    names.join(", ")
                ));
            }
            Ok((None, vec![model.clone()]))
        }
    }
}

/// The call's chain: one link per model whose provider is built and
/// configured, each with a fresh health record.
fn links(
    settings: &Settings,
    providers: &std::collections::BTreeMap<String, SharedProvider>,
    models: &[ModelRef],
) -> Vec<Link> {
    models
        .iter()
        .filter_map(|m| {
            Some(Link {
                provider: Arc::clone(providers.get(&m.provider)?),
                model: m.clone(),
                policy: CallPolicy::for_provider(settings.providers.get(&m.provider)?),
                health: Arc::new(Health::new()),
            })
        })
        .collect()
}

/// The request: the role's system prompt (when there is a role), then the
/// question, for the chain's first model.
fn request(role: Option<String>, models: &[ModelRef], prompt: &str) -> ChatRequest {
    let mut messages = Vec::new();
    if let Some(role) = &role {
        messages.push(Message::new(
            Role::System,
            crate::orchestrator::prompts::system_prompt(role),
        ));
    }
    messages.push(Message::new(Role::User, prompt));
    ChatRequest {
        model: models.first().map(|m| m.model.clone()).unwrap_or_default(),
        messages,
        json: None,
        meta: CallMeta {
            agent: role.clone().unwrap_or_else(|| "ask".into()),
            role: role.unwrap_or_else(|| "ask".into()),
            phase: "ask".into(),
            task: "ask".into(),
            kind: TaskKind::Chat,
            inputs: Some(crate::protocol::inputs::TaskInputs::Chat(
                crate::protocol::inputs::ChatInput {
                    prompt: prompt.to_string(),
                },
            )),
        },
        reasoning: Default::default(),
    }
}

/// What the loop does after an event.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    /// Read the next event.
    Go,
    /// Stop with this exit code.
    Stop(i32),
    /// Cancel the call, then stop with this exit code.
    Cancel(i32),
}

/// Writes the reply to stdout as it streams, and its retries, fallbacks,
/// usage and errors to stderr.
struct Printer {
    stdout: std::io::StdoutLock<'static>,
    /// Write the reply's bytes unsanitised.
    raw: bool,
    /// Whether the last delta ended a line.
    ended_with_newline: bool,
    /// A CR that ended the previous delta: a line end if a LF follows.
    held_cr: bool,
}

impl Printer {
    fn new(raw: bool) -> Self {
        Printer {
            stdout: std::io::stdout().lock(),
            raw,
            ended_with_newline: true,
            held_cr: false,
        }
    }

    /// Handles one event of the call.
    fn event(&mut self, event: CallEvent, settings: &Settings) -> Next {
        let safe = crate::sanitize::text;
        match event {
            CallEvent::Delta(text) => return self.delta(&text),
            // The answer only: reasoning is not printed.
            CallEvent::Reasoning(_) => {}
            CallEvent::Discarded { reason } => {
                crate::errln!("\n[the text above is discarded: {}]", safe(&reason));
            }
            CallEvent::Retrying {
                attempt,
                reason,
                delay,
            } => {
                crate::errln!(
                    "[retry {attempt} in {:.1} s: {}]",
                    delay.as_secs_f64(),
                    safe(&reason)
                );
            }
            CallEvent::Fallback { from, to, reason } => {
                crate::errln!("[falling back from {from} to {to}: {}]", safe(&reason));
            }
            CallEvent::Finished { usage, model, .. } => {
                if std::mem::take(&mut self.held_cr) {
                    let _ = self.stdout.write_all(b"^M");
                }
                if !self.ended_with_newline {
                    let _ = writeln!(self.stdout);
                }
                crate::errln!(
                    "tokens: {} in, {} out · {} · {model}",
                    usage.input_tokens,
                    usage.output_tokens,
                    cost(settings, &model, usage)
                );
                return Next::Stop(exit::OK);
            }
            CallEvent::Failed { error } => {
                crate::errln!("\nquorum: {}", safe(&error.to_string()));
                return Next::Stop(exit::FAILED);
            }
        }
        Next::Go
    }

    /// Writes a delta of the reply; a closed stdout cancels the call.
    fn delta(&mut self, text: &str) -> Next {
        let written = if self.raw {
            self.stdout.write_all(text.as_bytes())
        } else {
            let whole = with_held_cr(&mut self.held_cr, text);
            self.stdout
                .write_all(crate::sanitize::text(&whole).as_bytes())
        };
        let written = crate::output::note(written.and_then(|()| self.stdout.flush()));
        if written.is_err() && crate::output::pipe_closed() {
            // Nobody reads the reply any more (`| head -1`): stop
            // paying for it, quietly (docs/commands.md, `ask`).
            return Next::Cancel(exit::INTERRUPTED);
        }
        self.ended_with_newline = text.ends_with('\n');
        Next::Go
    }
}

/// `text` with the CR that ended the previous delta in front (`held`), and
/// without a CR it ends with, which is held for the next one instead: a CR
/// and a LF split across two deltas are sanitised as one line end.
fn with_held_cr(held: &mut bool, text: &str) -> String {
    let mut whole = String::with_capacity(text.len() + 1);
    if std::mem::take(held) {
        whole.push('\r');
    }
    whole.push_str(text);
    if whole.ends_with('\r') {
        whole.pop();
        *held = true;
    }
    whole
}

/// The call's cost as the usage line says it: `$0 (offline, simulated)`
/// on the offline team, `$0.0123` when the model is priced, else `unpriced`.
fn cost(settings: &Settings, model: &ModelRef, usage: Usage) -> String {
    let offline = settings
        .providers
        .get(&model.provider)
        .is_some_and(|p| p.kind == crate::config::ProviderKind::Offline);
    if offline {
        "$0 (offline, simulated)".to_string()
    } else {
        match settings.pricing.cost(&model.model, usage) {
            Some(c) => format!("${c:.4}"),
            None => "unpriced".to_string(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn a_cr_at_a_delta_s_end_waits_for_the_next_delta() {
        let mut held = false;
        assert_eq!(with_held_cr(&mut held, "a\r"), "a");
        assert!(held);
        assert_eq!(with_held_cr(&mut held, "\nb"), "\r\nb");
        assert!(!held);
        assert_eq!(with_held_cr(&mut held, "c\rd"), "c\rd");
        assert!(!held);
        assert_eq!(with_held_cr(&mut held, "\r"), "");
        assert_eq!(with_held_cr(&mut held, "\r"), "\r");
        assert!(held);
    }
}
