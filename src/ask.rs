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

use crate::config::{ModelRef, Settings};
use crate::llm::health::Health;
use crate::llm::{CallMeta, ChatRequest, Message, Role, SharedProvider, TaskKind};
use crate::orchestrator::call::{self, CallEvent, CallPolicy, Link};

/// Who answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Asked {
    /// An agent of the roster, with its role prompt and fallbacks.
    Agent(String),
    /// A provider and model, no role prompt.
    Model(ModelRef),
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
    let (role, chain_models): (Option<String>, Vec<ModelRef>) = match &who {
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
            (Some(agent.role.clone()), chain)
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
            (None, vec![model.clone()])
        }
    };
    let chain: Vec<Link> = chain_models
        .iter()
        .filter_map(|m| {
            Some(Link {
                provider: Arc::clone(providers.get(&m.provider)?),
                model: m.clone(),
                policy: CallPolicy::for_provider(settings.providers.get(&m.provider)?),
                health: Arc::new(Health::new()),
            })
        })
        .collect();
    let mut messages = Vec::new();
    if let Some(role) = &role {
        messages.push(Message::new(
            Role::System,
            crate::orchestrator::prompts::system_prompt(role),
        ));
    }
    messages.push(Message::new(Role::User, prompt));
    let request = ChatRequest {
        model: chain_models
            .first()
            .map(|m| m.model.clone())
            .unwrap_or_default(),
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
    };
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
    let mut stdout = std::io::stdout().lock();
    let mut ended_with_newline = true;
    // A CR that ended the previous delta: a line end if a LF follows.
    let mut held_cr = false;
    let safe = crate::sanitize::text;
    let code = loop {
        let msg = tokio::select! {
            msg = rx.recv() => msg,
            _ = tokio::signal::ctrl_c() => {
                cancel.cancel();
                crate::errln!("\nquorum: interrupted");
                break 3;
            }
        };
        let Some(msg) = msg else {
            break 1;
        };
        match msg.event {
            CallEvent::Delta(text) => {
                let written = if raw {
                    stdout.write_all(text.as_bytes())
                } else {
                    let mut whole = String::with_capacity(text.len() + 1);
                    if std::mem::take(&mut held_cr) {
                        whole.push('\r');
                    }
                    whole.push_str(&text);
                    if whole.ends_with('\r') {
                        whole.pop();
                        held_cr = true;
                    }
                    stdout.write_all(safe(&whole).as_bytes())
                };
                let written = crate::output::note(written.and_then(|()| stdout.flush()));
                if written.is_err() && crate::output::pipe_closed() {
                    // Nobody reads the reply any more (`| head -1`): stop
                    // paying for it, quietly (docs/commands.md, `ask`).
                    cancel.cancel();
                    break 3;
                }
                ended_with_newline = text.ends_with('\n');
            }
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
                if std::mem::take(&mut held_cr) {
                    let _ = stdout.write_all(b"^M");
                }
                if !ended_with_newline {
                    let _ = writeln!(stdout);
                }
                let offline = settings
                    .providers
                    .get(&model.provider)
                    .is_some_and(|p| p.kind == crate::config::ProviderKind::Offline);
                let cost = if offline {
                    "$0 (offline, simulated)".to_string()
                } else {
                    match settings.pricing.cost(&model.model, usage) {
                        Some(c) => format!("${c:.4}"),
                        None => "unpriced".to_string(),
                    }
                };
                crate::errln!(
                    "tokens: {} in, {} out · {cost} · {model}",
                    usage.input_tokens,
                    usage.output_tokens
                );
                break 0;
            }
            CallEvent::Failed { error } => {
                crate::errln!("\nquorum: {}", safe(&error.to_string()));
                break 1;
            }
        }
    };
    runner.abort();
    Ok(code)
}
