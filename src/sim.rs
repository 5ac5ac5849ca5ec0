//! The simulated team: the offline provider (`kind = "offline"`),
//! deterministic, in process, labelled "offline (simulated)" wherever it is
//! shown. It sits above the transport (it implements [`Provider`]) and below
//! the orchestrator, whose `providers.rs` builds it; it reads a call's typed
//! inputs ([`crate::protocol::inputs::TaskInputs`]), never the orchestrator.
//!
//! It answers every task kind with structurally valid output computed from the
//! call's structured context: the planning agents disagree on two real topics
//! (storage and API style) so that compare, vote and resolve do real work — with
//! the default roster storage ends in a 2–2 tie and API style in a 3–1
//! majority — and implementation yields a small Python project (standard library
//! only, with a `unittest` suite) shaped by the prompt's nouns and by the
//! decisions actually taken ([`project`]).
//!
//! With `script = "file.toml"` it first replays canned replies per agent and
//! phase ([`script`]; format in `docs/offline-script.md`), which lets tests and
//! users replay any scenario, a faulty or malicious one included.

pub mod project;
mod replies;
pub mod script;
mod target;

pub use self::replies::{reply, reply_in};
pub use crate::protocol::file_blocks::file_blocks;

use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;

use self::script::{Script, ScriptedReply};
use crate::config::OFFLINE_LABEL;
use crate::llm::{CallMeta, ChatRequest, Chunk, LlmError, Provider, estimate_tokens};
use crate::protocol::Usage;

/// The built-in simulated provider.
pub struct OfflineProvider {
    name: String,
    script: Option<Script>,
}

impl OfflineProvider {
    /// A provider named `name`, replaying `script` first when given.
    pub fn new(name: &str, script: Option<Script>) -> Self {
        OfflineProvider {
            name: name.to_string(),
            script,
        }
    }
}

impl Provider for OfflineProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn label(&self) -> String {
        OFFLINE_LABEL.to_string()
    }

    fn stream(&self, request: ChatRequest) -> BoxStream<'static, Result<Chunk, LlmError>> {
        log_call(&request.meta);
        let input_tokens: u64 = request
            .messages
            .iter()
            .map(|m| estimate_tokens(&m.content))
            .sum();
        let format = edit_format_asked(&request);
        let scripted = self.script.as_ref().and_then(|s| s.take(&request.meta));
        let (text, delay, latency, error) = match scripted {
            Some(ScriptedReply {
                text,
                delay_ms,
                latency_ms,
                error,
            }) => (
                text.unwrap_or_else(|| reply_in(&request.meta, format)),
                Duration::from_millis(delay_ms),
                Duration::from_millis(latency_ms),
                error,
            ),
            None => (
                reply_in(&request.meta, format),
                Duration::ZERO,
                Duration::ZERO,
                None,
            ),
        };
        let wait = futures::stream::once(async move {
            if !latency.is_zero() {
                tokio::time::sleep(latency).await;
            }
        })
        .filter_map(|()| async { None::<Result<Chunk, LlmError>> });
        if let Some(error) = error {
            return wait
                .chain(futures::stream::once(async move { Err(error) }))
                .boxed();
        }
        let output_tokens = estimate_tokens(&text);
        let pieces = split_tokens(&text);
        let body = futures::stream::iter(pieces)
            .then(move |piece| async move {
                if delay.is_zero() {
                    tokio::task::yield_now().await;
                } else {
                    tokio::time::sleep(delay).await;
                }
                Ok(Chunk::Text(piece))
            })
            .chain(futures::stream::once(async move {
                Ok(Chunk::Usage(Usage {
                    input_tokens,
                    output_tokens,
                    ..Usage::default()
                }))
            }));
        wait.chain(body).boxed()
    }
}

/// The edit format a request asks for: SEARCH/REPLACE when a user message
/// (the task's) shows the format's `<<<<<<< SEARCH` marker (`orchestrator/prompts.rs`), else whole files.
/// The offline team reads the prompt's format as a model would: it is not
/// among the task's typed inputs.
fn edit_format_asked(request: &ChatRequest) -> crate::protocol::file_blocks::EditFormat {
    let asked = request
        .messages
        .iter()
        .filter(|m| m.role == crate::llm::Role::User)
        .any(|m| m.content.contains("\n<<<<<<< SEARCH\n"));
    if asked {
        crate::protocol::file_blocks::EditFormat::SearchReplace
    } else {
        crate::protocol::file_blocks::EditFormat::Whole
    }
}

/// The environment variable naming the offline call log: when set, every
/// call the offline provider answers appends one line `TASK\tAGENT\n` to that
/// file. The fault-injection tests count calls with it (a call repeated after
/// a resume shows twice); it holds no prompt or reply text.
pub const CALL_LOG_VAR: &str = "QUORUM_OFFLINE_CALL_LOG";

/// Appends a call to the offline call log, if one is configured.
fn log_call(meta: &CallMeta) {
    static LOG: std::sync::OnceLock<Option<std::path::PathBuf>> = std::sync::OnceLock::new();
    let Some(path) = LOG.get_or_init(|| std::env::var_os(CALL_LOG_VAR).map(Into::into)) else {
        return;
    };
    use std::io::Write as _;
    let line = format!("{}\t{}\n", meta.task, meta.agent);
    // One write(2) of a short line with O_APPEND: lines never interleave.
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = file.write_all(line.as_bytes());
    }
}

/// Splits text into token-sized pieces (a word with its trailing whitespace),
/// grouped so a reply streams in a few hundred chunks at most.
fn split_tokens(text: &str) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut current = String::new();
    let mut words = 0;
    let mut in_space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            in_space = true;
        } else if in_space {
            in_space = false;
            words += 1;
            if words >= 4 {
                pieces.push(std::mem::take(&mut current));
                words = 0;
            }
        }
        current.push(c);
    }
    if !current.is_empty() {
        pieces.push(current);
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_rejoin_to_the_text() {
        let text = "one two  three\nfour five six seven eight nine";
        assert_eq!(split_tokens(text).concat(), text);
        assert!(split_tokens(text).len() >= 2);
    }
}
