//! Checking a provider with one minimal request (`quorum doctor`): is its key
//! set, does it answer, does it accept the key. One attempt, no retries, no
//! fallbacks, a short time limit.

use std::time::Duration;

use futures::StreamExt;

use super::{CallMeta, ChatRequest, Chunk, LlmError, Message, Role};
use crate::config::{ProviderKind, ProviderSpec, Settings};
use crate::protocol::TaskKind;

/// How long a probe may take, whole.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(20);

/// What a probe found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProbeOutcome {
    /// The provider answered.
    Ok {
        /// Milliseconds to the end of its reply.
        ms: u64,
    },
    /// The key variable the provider names is unset or empty.
    NoKey {
        /// The variable's name.
        var: String,
    },
    /// No connection, or no answer in time.
    Unreachable(String),
    /// The provider refused the key (401/403) or its quota is exhausted.
    Unauthorized(String),
    /// Any other failure (a wrong model name, a 400, a broken stream).
    Failed(String),
}

impl ProbeOutcome {
    /// One word for tables: `ok`, `no key`, `unreachable`, `unauthorised`, `failed`.
    pub fn label(&self) -> &'static str {
        match self {
            ProbeOutcome::Ok { .. } => "ok",
            ProbeOutcome::NoKey { .. } => "no key",
            ProbeOutcome::Unreachable(_) => "unreachable",
            ProbeOutcome::Unauthorized(_) => "unauthorised",
            ProbeOutcome::Failed(_) => "failed",
        }
    }
}

/// Probes the provider `name` of `settings` with `model` (the model of an agent
/// that uses it). `env` looks up the key variable.
pub async fn probe(
    settings: &Settings,
    name: &str,
    model: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> ProbeOutcome {
    let Some(spec) = settings.providers.get(name) else {
        return ProbeOutcome::Failed(format!("no provider `{name}` in the config"));
    };
    if let Some(var) = &spec.api_key_env
        && env(var).is_none_or(|k| k.is_empty())
    {
        return ProbeOutcome::NoKey { var: var.clone() };
    }
    if spec.kind == ProviderKind::Offline {
        return ProbeOutcome::Ok { ms: 0 };
    }
    // A small reply is enough; one provider alone, with the same key.
    let spec = ProviderSpec {
        max_tokens: 16,
        ..spec.clone()
    };
    let built = super::provider_key(name, &spec, env).and_then(|key| super::build_http(&spec, key));
    let provider = match built {
        Ok(Some(p)) => p,
        Ok(None) => return ProbeOutcome::Failed(format!("provider `{name}` could not be built")),
        Err(e) => return ProbeOutcome::Failed(e),
    };
    let request = ChatRequest {
        model: model.to_string(),
        messages: vec![Message::new(Role::User, "Reply with the single word: ok")],
        json: None,
        meta: CallMeta {
            agent: "doctor".into(),
            role: "doctor".into(),
            phase: "doctor".into(),
            task: "probe".into(),
            kind: TaskKind::Chat,
            inputs: Some(crate::protocol::inputs::TaskInputs::Chat(
                crate::protocol::inputs::ChatInput {
                    prompt: "Reply with the single word: ok".into(),
                },
            )),
        },
        reasoning: Default::default(),
    };
    let started = std::time::Instant::now();
    let outcome = tokio::time::timeout(PROBE_TIMEOUT, async {
        let mut stream = provider.stream(request);
        while let Some(item) = stream.next().await {
            // Any chunk will do; the reply's end is what counts.
            let _: Chunk = item?;
        }
        Ok::<(), LlmError>(())
    })
    .await;
    match outcome {
        Err(_) => {
            ProbeOutcome::Unreachable(format!("no answer within {} s", PROBE_TIMEOUT.as_secs()))
        }
        Ok(Ok(())) => ProbeOutcome::Ok {
            ms: started.elapsed().as_millis() as u64,
        },
        Ok(Err(e)) => match e {
            LlmError::Connection(m) | LlmError::Timeout(m) => ProbeOutcome::Unreachable(m),
            LlmError::Quota(m) => ProbeOutcome::Unauthorized(format!("quota exhausted: {m}")),
            e if e.is_unauthorized() => ProbeOutcome::Unauthorized(e.to_string()),
            e => ProbeOutcome::Failed(e.to_string()),
        },
    }
}
