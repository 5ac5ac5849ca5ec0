//! `kind = "anthropic"`: the Messages API over SSE (docs/wire-formats.md §2).
//!
//! Request: `POST {base_url}/v1/messages` with `x-api-key`,
//! `anthropic-version: 2023-06-01`, the required `max_tokens`, system messages
//! as text blocks of the top-level `system`, each a prompt-cache breakpoint
//! (`cache_control`), and `stream: true`. Structured output uses tool
//! use: one tool whose `input_schema` is the wanted schema, forced with
//! `tool_choice: {"type": "tool", "name": …}`; its `input_json_delta` fragments
//! are the reply's text.
//!
//! Stream: `message_start` (input tokens) → content blocks (`text_delta`,
//! `input_json_delta`, and `thinking_delta`: reasoning) → `message_delta` (cumulative output tokens, stop reason)
//! → `message_stop`, the terminal event; `ping` and unknown events are ignored;
//! an `error` event is classed by its type (`overloaded_error` as 529).

use std::sync::Arc;

use futures::stream::BoxStream;
use serde_json::{Value, json};

use super::http::{self, Decoded, Decoder, Http, Secret};
use super::sse::SseItem;
use super::{ChatRequest, Chunk, LlmError, Provider, Role};
use crate::config::ProviderSpec;
use crate::protocol::Usage;

/// The public endpoint used without `base_url`.
pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";

/// The API version header's value (Anthropic's docs, "Versioning").
pub const API_VERSION: &str = "2023-06-01";

/// An Anthropic provider.
#[derive(Debug)]
pub struct Anthropic {
    name: String,
    base_url: String,
    max_tokens: u32,
    http: Arc<Http>,
}

impl Anthropic {
    /// A client for `spec` with its key.
    pub fn new(spec: &ProviderSpec, key: Option<Secret>) -> Result<Self, String> {
        Ok(Anthropic {
            name: spec.name.clone(),
            base_url: spec
                .base_url
                .clone()
                .unwrap_or_else(|| DEFAULT_BASE_URL.to_string()),
            max_tokens: spec.max_tokens,
            http: Arc::new(Http::new(spec, key)?),
        })
    }

    /// The request body for a call.
    pub fn body(&self, request: &ChatRequest) -> Value {
        let system: Vec<&str> = request
            .messages
            .iter()
            .filter(|m| m.role == Role::System)
            .map(|m| m.content.as_str())
            .collect();
        let messages: Vec<Value> = request
            .messages
            .iter()
            .filter(|m| m.role != Role::System)
            .map(|m| {
                let role = if m.role == Role::Assistant {
                    "assistant"
                } else {
                    "user"
                };
                json!({"role": role, "content": m.content})
            })
            .collect();
        let mut body = json!({
            "model": request.model,
            "max_tokens": self.max_tokens,
            "messages": messages,
            "stream": true,
        });
        if !system.is_empty() {
            body["system"] = system_blocks(&system);
        }
        let thinking = request.reasoning.budget();
        if let Some(budget) = thinking {
            // Extended thinking (Anthropic's docs, "Extended thinking"):
            // `max_tokens` must exceed the budget, so the reply keeps the
            // provider's `max_tokens` on top of it.
            body["thinking"] = json!({"type": "enabled", "budget_tokens": budget});
            body["max_tokens"] = json!(self.max_tokens.saturating_add(budget));
        }
        if let Some(schema) = &request.json {
            body["tools"] = json!([{
                "name": schema.name,
                "description": format!("Reply with the {} as this tool's input.", schema.name),
                "input_schema": schema.schema,
            }]);
            // Thinking forbids forcing a tool (only `auto` or `none` may go
            // with it): the tool is offered, and its input or the reply's
            // text, whichever comes, is the JSON parsed.
            body["tool_choice"] = if thinking.is_some() {
                json!({"type": "auto"})
            } else {
                json!({"type": "tool", "name": schema.name})
            };
        }
        body
    }
}

/// Most `cache_control` breakpoints one request may carry (Anthropic's
/// prompt caching docs, "Cache limitations": up to 4 per request).
pub const MAX_CACHE_BREAKPOINTS: usize = 4;

/// The system messages as text blocks of `system`, each marked
/// `cache_control: {"type": "ephemeral"}` (a 5-minute cache breakpoint,
/// Anthropic's prompt caching docs) so that a later request with the same
/// leading blocks reads them from the cache: a request's first system
/// message is the context its phase's agents share, the second the role
/// prompt. Past [`MAX_CACHE_BREAKPOINTS`] the last blocks
/// carry none: a breakpoint caches everything before it, so the last
/// marked block still covers the earlier ones.
fn system_blocks(system: &[&str]) -> Value {
    Value::Array(
        system
            .iter()
            .enumerate()
            .map(|(i, text)| {
                let mut block = json!({"type": "text", "text": text});
                if i < MAX_CACHE_BREAKPOINTS {
                    block["cache_control"] = json!({"type": "ephemeral"});
                }
                block
            })
            .collect(),
    )
}

impl Provider for Anthropic {
    fn name(&self) -> &str {
        &self.name
    }

    fn label(&self) -> String {
        self.name.clone()
    }

    fn stream(&self, request: ChatRequest) -> BoxStream<'static, Result<Chunk, LlmError>> {
        let url = format!("{}/v1/messages", self.base_url);
        let mut headers = vec![("anthropic-version", API_VERSION.to_string())];
        if let Some(key) = &self.http.key {
            headers.push(("x-api-key", key.expose().to_string()));
        }
        http::call(
            Arc::clone(&self.http),
            url,
            headers,
            self.body(&request),
            AnthropicDecoder::default(),
        )
    }
}

/// Decodes Messages API events.
#[derive(Debug, Default)]
pub struct AnthropicDecoder {
    /// `input_tokens` (the uncached part of the prompt only).
    input_tokens: u64,
    /// `cache_read_input_tokens`.
    cache_read: u64,
    /// `cache_creation_input_tokens`.
    cache_write: u64,
    output_tokens: u64,
    stop_reason: Option<String>,
    stopped: bool,
}

/// `value`'s text as a chunk made by `make`, unless it is empty or not text.
fn text_of(value: &Value, make: fn(String) -> Chunk) -> Option<Chunk> {
    value
        .as_str()
        .filter(|t| !t.is_empty())
        .map(|t| make(t.to_string()))
}

/// The status an Anthropic error type stands for (docs/wire-formats.md §2.4).
fn status_of(kind: &str) -> u16 {
    match kind {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "billing_error" => 402,
        "permission_error" => 403,
        "not_found_error" => 404,
        "conflict_error" => 409,
        "request_too_large" => 413,
        "rate_limit_error" => 429,
        "timeout_error" => 504,
        "overloaded_error" => 529,
        _ => 500,
    }
}

impl Decoder for AnthropicDecoder {
    fn item(&mut self, item: SseItem) -> Result<Decoded, LlmError> {
        let SseItem::Event(event) = item else {
            return Ok(Decoded::default());
        };
        let data: Value = match serde_json::from_str(&event.data) {
            Ok(v) => v,
            Err(e) => {
                let head = crate::secrets::redact::clip(&event.data, 80);
                return Err(LlmError::Stream(format!("malformed event ({e}): `{head}`")));
            }
        };
        // The `type` inside the data is authoritative; `event:` repeats it.
        let kind = data["type"].as_str().unwrap_or(event.event.as_str());
        let mut chunks = Vec::new();
        match kind {
            "message_start" => {
                let usage = &data["message"]["usage"];
                self.input_tokens = usage["input_tokens"].as_u64().unwrap_or(0);
                self.cache_read = usage["cache_read_input_tokens"].as_u64().unwrap_or(0);
                self.cache_write = usage["cache_creation_input_tokens"].as_u64().unwrap_or(0);
                self.output_tokens = usage["output_tokens"].as_u64().unwrap_or(0);
            }
            "content_block_delta" => {
                let delta = &data["delta"];
                match delta["type"].as_str() {
                    Some("text_delta") => chunks.extend(text_of(&delta["text"], Chunk::Text)),
                    Some("input_json_delta") => {
                        chunks.extend(text_of(&delta["partial_json"], Chunk::Text));
                    }
                    // Extended thinking: shown, never parsed.
                    Some("thinking_delta") => {
                        chunks.extend(text_of(&delta["thinking"], Chunk::Reasoning));
                    }
                    _ => {}
                }
            }
            "message_delta" => {
                let usage = &data["usage"];
                if let Some(out) = usage["output_tokens"].as_u64() {
                    self.output_tokens = out;
                }
                // Newer servers repeat the prompt's counts here, cumulative.
                for (key, count) in [
                    ("input_tokens", &mut self.input_tokens),
                    ("cache_read_input_tokens", &mut self.cache_read),
                    ("cache_creation_input_tokens", &mut self.cache_write),
                ] {
                    if let Some(n) = usage[key].as_u64() {
                        *count = n;
                    }
                }
                if let Some(reason) = data["delta"]["stop_reason"].as_str() {
                    self.stop_reason = Some(reason.to_string());
                }
            }
            "message_stop" => {
                self.stopped = true;
                return Ok(Decoded { chunks, done: true });
            }
            "error" => {
                let error_type = data["error"]["type"].as_str().unwrap_or("api_error");
                let message = data["error"]["message"]
                    .as_str()
                    .unwrap_or(error_type)
                    .to_string();
                return Err(LlmError::StreamStatus {
                    status: status_of(error_type),
                    message: format!("{error_type}: {message}"),
                });
            }
            _ => {}
        }
        Ok(Decoded {
            chunks,
            done: false,
        })
    }

    fn end(&mut self) -> Result<Vec<Chunk>, LlmError> {
        if !self.stopped {
            return Err(LlmError::Connection(
                "the stream ended before message_stop".into(),
            ));
        }
        match self.stop_reason.as_deref() {
            Some("max_tokens") => Err(LlmError::StreamStatus {
                status: 400,
                message: "the reply was cut at max_tokens; raise max_tokens for this provider"
                    .into(),
            }),
            Some("refusal") => Err(LlmError::StreamStatus {
                status: 400,
                message: "the model refused to answer".into(),
            }),
            // Anthropic's `input_tokens` excludes the cached parts: the
            // whole prompt is the three together.
            _ => Ok(vec![Chunk::Usage(Usage {
                input_tokens: self.input_tokens + self.cache_read + self.cache_write,
                output_tokens: self.output_tokens,
                cache_read_tokens: self.cache_read,
                cache_write_tokens: self.cache_write,
            })]),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::llm::sse::parse_all;

    fn run(bytes: &str) -> Result<Vec<Chunk>, LlmError> {
        let mut d = AnthropicDecoder::default();
        let mut out = Vec::new();
        for item in parse_all(bytes.as_bytes()).unwrap() {
            let step = d.item(item)?;
            out.extend(step.chunks);
            if step.done {
                break;
            }
        }
        out.extend(d.end()?);
        Ok(out)
    }

    #[test]
    fn the_recorded_stream_with_padding_decodes() {
        let out = run(crate::llm::sse::tests::RECORDED[1]).unwrap();
        assert_eq!(
            out,
            vec![
                Chunk::Text("Hello ✓".into()),
                Chunk::Usage(Usage {
                    input_tokens: 11,
                    output_tokens: 1,
                    ..Usage::default()
                })
            ]
        );
    }

    #[test]
    fn tool_json_fragments_are_the_text_and_usage_is_cumulative() {
        let s = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":5,\"cache_read_input_tokens\":2,\"output_tokens\":1}}}\n\nevent: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}\n\nevent: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"option\\\":\"}}\n\nevent: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":9}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
        assert_eq!(
            run(s).unwrap(),
            vec![
                Chunk::Text("{\"option\":".into()),
                Chunk::Usage(Usage {
                    input_tokens: 7,
                    output_tokens: 9,
                    cache_read_tokens: 2,
                    cache_write_tokens: 0,
                })
            ]
        );
    }

    #[test]
    fn overloaded_errors_are_529_and_drops_are_connection_errors() {
        let s = "event: error\ndata: {\"type\":\"error\",\"error\":{\"details\":null,\"type\":\"overloaded_error\",\"message\":\"Overloaded\"} }\n\n";
        let e = run(s).unwrap_err();
        assert!(
            matches!(&e, LlmError::StreamStatus { status: 529, .. }),
            "{e:?}"
        );
        assert_eq!(e.class(), crate::llm::FaultClass::Retry);
        let dropped = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{}}}\n\n";
        assert!(matches!(run(dropped), Err(LlmError::Connection(_))));
    }

    #[test]
    fn the_body_puts_every_system_message_in_a_cached_block_and_forces_the_tool() {
        let spec = ProviderSpec::defaults("a", crate::config::ProviderKind::Anthropic);
        let p = Anthropic::new(&spec, None).unwrap();
        let req = ChatRequest {
            model: "claude-sonnet-4-5".into(),
            messages: vec![
                crate::llm::Message::new(Role::System, "shared"),
                crate::llm::Message::new(Role::System, "role"),
                crate::llm::Message::new(Role::User, "hi"),
            ],
            json: crate::protocol::documents::schema_for(crate::protocol::TaskKind::Plan),
            meta: crate::llm::CallMeta {
                agent: "a".into(),
                role: "a".into(),
                phase: "p".into(),
                task: "t".into(),
                kind: crate::protocol::TaskKind::Plan,
                inputs: None,
            },
            reasoning: Default::default(),
        };
        let body = p.body(&req);
        let system = body["system"].as_array().unwrap();
        assert_eq!(system.len(), 2);
        for (block, text) in system.iter().zip(["shared", "role"]) {
            assert_eq!(block["type"], "text");
            assert_eq!(block["text"], text);
            assert_eq!(block["cache_control"], json!({"type": "ephemeral"}));
        }
        assert_eq!(body["messages"].as_array().unwrap().len(), 1);
        assert_eq!(body["max_tokens"], 8192);
        assert_eq!(body["tool_choice"]["name"], "plan");
        assert_eq!(body["tools"][0]["input_schema"]["type"], "object");
        assert!(body.get("thinking").is_none());
        // With thinking: the budget, max_tokens above it, the tool offered
        // but not forced (Anthropic forbids forcing a tool while thinking).
        let mut req = req;
        req.reasoning.effort = Some(crate::llm::ReasoningEffort::Medium);
        let body = p.body(&req);
        assert_eq!(
            body["thinking"],
            json!({"type": "enabled", "budget_tokens": 8192})
        );
        assert_eq!(body["max_tokens"], 8192 + 8192);
        assert_eq!(body["tool_choice"], json!({"type": "auto"}));
        req.reasoning.thinking_budget = Some(3_000);
        assert_eq!(p.body(&req)["thinking"]["budget_tokens"], 3000);
    }

    #[test]
    fn breakpoints_stay_within_the_limit() {
        let texts = ["a", "b", "c", "d", "e", "f"];
        let blocks = system_blocks(&texts);
        let marked = blocks
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b.get("cache_control").is_some())
            .count();
        assert_eq!(marked, MAX_CACHE_BREAKPOINTS);
        assert_eq!(blocks[5]["text"], "f");
    }

    #[test]
    fn cache_reads_and_writes_are_parts_of_the_prompt() {
        let s = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":50,\"cache_creation_input_tokens\":1000,\"cache_read_input_tokens\":3000,\"output_tokens\":1}}}\n\nevent: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"ok\"}}\n\nevent: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":4}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
        assert_eq!(
            run(s).unwrap().last(),
            Some(&Chunk::Usage(Usage {
                input_tokens: 4050,
                output_tokens: 4,
                cache_read_tokens: 3000,
                cache_write_tokens: 1000,
            }))
        );
    }

    #[test]
    fn thinking_deltas_are_reasoning() {
        let s = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\nevent: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"Let me see.\"}}\n\nevent: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"signature_delta\",\"signature\":\"EqQ=\"}}\n\nevent: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"{}\"}}\n\nevent: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":9}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
        let out = run(s).unwrap();
        assert_eq!(out[0], Chunk::Reasoning("Let me see.".into()));
        assert_eq!(out[1], Chunk::Text("{}".into()));
        assert_eq!(out.len(), 3);
    }
}
