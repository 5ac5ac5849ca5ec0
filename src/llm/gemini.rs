//! `kind = "gemini"`: `streamGenerateContent?alt=sse` (docs/wire-formats.md §3).
//!
//! Request: `POST {base_url}/v1beta/models/{model}:streamGenerateContent?alt=sse`
//! with `x-goog-api-key`, system messages as `systemInstruction`, roles `user`
//! and `model`; structured output with `responseMimeType: application/json` and
//! `responseJsonSchema` (standard JSON Schema, so `additionalProperties` is kept).
//!
//! Stream: `data: <GenerateContentResponse>` events with CRLF framing, no
//! terminal event (the connection closes); text in every part of
//! `candidates[0].content.parts`, reasoning in those marked `thought: true`
//! (thought summaries); `usageMetadata` is
//! cumulative on every chunk (the last one counts); a blocked prompt has
//! `promptFeedback.blockReason` and no candidates; a mid-stream error arrives as
//! a bare JSON object outside any `data:` line. A stream that ends without any
//! `finishReason` was dropped.

use std::sync::Arc;

use futures::stream::BoxStream;
use serde_json::{Value, json};

use super::http::{self, Decoded, Decoder, Http, Secret};
use super::sse::SseItem;
use super::{ChatRequest, Chunk, LlmError, Provider, Role};
use crate::config::ProviderSpec;
use crate::protocol::Usage;

/// The public endpoint used without `base_url`.
pub const DEFAULT_BASE_URL: &str = "https://generativelanguage.googleapis.com";

/// A Gemini provider.
#[derive(Debug)]
pub struct Gemini {
    name: String,
    base_url: String,
    max_tokens: u32,
    http: Arc<Http>,
}

impl Gemini {
    /// A client for `spec` with its key.
    pub fn new(spec: &ProviderSpec, key: Option<Secret>) -> Result<Self, String> {
        Ok(Gemini {
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
        let system: Vec<Value> = request
            .messages
            .iter()
            .filter(|m| m.role == Role::System)
            .map(|m| json!({"text": m.content}))
            .collect();
        let contents: Vec<Value> = request
            .messages
            .iter()
            .filter(|m| m.role != Role::System)
            .map(|m| {
                let role = if m.role == Role::Assistant {
                    "model"
                } else {
                    "user"
                };
                json!({"role": role, "parts": [{"text": m.content}]})
            })
            .collect();
        let mut config = json!({"maxOutputTokens": self.max_tokens});
        if let Some(schema) = &request.json {
            config["responseMimeType"] = json!("application/json");
            config["responseJsonSchema"] = schema.schema.clone();
        }
        // `thinkingConfig` (Gemini API docs, "Thinking"): the budget, and
        // thought summaries in the stream (shown as reasoning, not parsed).
        if let Some(budget) = request.reasoning.budget() {
            config["thinkingConfig"] = json!({"thinkingBudget": budget, "includeThoughts": true});
        }
        let mut body = json!({"contents": contents, "generationConfig": config});
        if !system.is_empty() {
            body["systemInstruction"] = json!({"parts": system});
        }
        body
    }
}

impl Provider for Gemini {
    fn name(&self) -> &str {
        &self.name
    }

    fn label(&self) -> String {
        self.name.clone()
    }

    fn stream(&self, request: ChatRequest) -> BoxStream<'static, Result<Chunk, LlmError>> {
        let url = format!(
            "{}/v1beta/models/{}:streamGenerateContent?alt=sse",
            self.base_url, request.model
        );
        let mut headers = Vec::new();
        if let Some(key) = &self.http.key {
            headers.push(("x-goog-api-key", key.expose().to_string()));
        }
        http::call(
            Arc::clone(&self.http),
            url,
            headers,
            self.body(&request),
            GeminiDecoder::default(),
        )
    }
}

/// Most bytes of lines outside `data:` events buffered as a bare JSON error.
const OTHER_BYTES: usize = 64 << 10;

/// Decodes Gemini stream chunks.
#[derive(Debug, Default)]
pub struct GeminiDecoder {
    usage: Option<Usage>,
    finish: Option<String>,
    /// Lines outside `data:` events: the pieces of a bare JSON error.
    other: String,
}

/// The error a Google RPC error object stands for; `CANCELLED` (499) counts as
/// a retryable server fault.
fn rpc_error(error: &Value) -> LlmError {
    let code = error["code"].as_u64().unwrap_or(500) as u16;
    let status = if code == 499 { 500 } else { code };
    let message = error["message"].as_str().unwrap_or("error").to_string();
    LlmError::StreamStatus { status, message }
}

impl Decoder for GeminiDecoder {
    fn item(&mut self, item: SseItem) -> Result<Decoded, LlmError> {
        let data = match item {
            SseItem::Event(e) => e.data,
            SseItem::Other(line) => {
                // A bare JSON error is small: past 64 KiB of such lines the
                // stream is not one, and is refused rather than buffered.
                if self.other.len() + line.len() > OTHER_BYTES {
                    let head: String = self.other.trim().chars().take(120).collect();
                    return Err(LlmError::Stream(format!(
                        "unexpected text in the stream: `{head}`"
                    )));
                }
                self.other.push_str(&line);
                self.other.push('\n');
                if let Ok(v) = serde_json::from_str::<Value>(&self.other)
                    && v.get("error").is_some()
                {
                    return Err(rpc_error(&v["error"]));
                }
                return Ok(Decoded::default());
            }
        };
        let chunk: Value = serde_json::from_str(&data).map_err(|e| {
            let head = crate::secrets::redact::clip(&data, 80);
            LlmError::Stream(format!("malformed chunk ({e}): `{head}`"))
        })?;
        if let Some(error) = chunk.get("error") {
            return Err(rpc_error(error));
        }
        if let Some(reason) = chunk["promptFeedback"]["blockReason"].as_str() {
            return Err(LlmError::StreamStatus {
                status: 400,
                message: format!("the prompt was blocked ({reason})"),
            });
        }
        let meta = &chunk["usageMetadata"];
        if meta.is_object() {
            self.usage = Some(Usage {
                input_tokens: meta["promptTokenCount"].as_u64().unwrap_or(0),
                output_tokens: meta["candidatesTokenCount"].as_u64().unwrap_or(0)
                    + meta["thoughtsTokenCount"].as_u64().unwrap_or(0),
                // Part of `promptTokenCount` (docs/wire-formats.md §3).
                cache_read_tokens: meta["cachedContentTokenCount"].as_u64().unwrap_or(0),
                cache_write_tokens: 0,
            });
        }
        let mut chunks = Vec::new();
        if let Some(candidate) = chunk["candidates"].as_array().and_then(|c| c.first()) {
            for part in candidate["content"]["parts"]
                .as_array()
                .into_iter()
                .flatten()
            {
                if let Some(text) = part["text"].as_str().filter(|t| !t.is_empty()) {
                    // Thought summaries (`includeThoughts`) are reasoning.
                    chunks.push(if part["thought"].as_bool() == Some(true) {
                        Chunk::Reasoning(text.to_string())
                    } else {
                        Chunk::Text(text.to_string())
                    });
                }
            }
            if let Some(reason) = candidate["finishReason"].as_str() {
                self.finish = Some(reason.to_string());
            }
        }
        Ok(Decoded {
            chunks,
            done: false,
        })
    }

    fn end(&mut self) -> Result<Vec<Chunk>, LlmError> {
        if !self.other.trim().is_empty() {
            let head = crate::secrets::redact::clip(self.other.trim(), 120);
            return Err(LlmError::Stream(format!(
                "unexpected text in the stream: `{head}`"
            )));
        }
        match self.finish.as_deref() {
            None => Err(LlmError::Connection(
                "the stream ended without a finishReason".into(),
            )),
            Some("STOP") => Ok(self.usage.take().map(Chunk::Usage).into_iter().collect()),
            Some("MAX_TOKENS") => Err(LlmError::StreamStatus {
                status: 400,
                message: "the reply was cut at maxOutputTokens; raise max_tokens for this provider"
                    .into(),
            }),
            Some(other) => Err(LlmError::StreamStatus {
                status: 400,
                message: format!("the model stopped: {other}"),
            }),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::llm::sse::parse_all;

    fn run(bytes: &str) -> Result<Vec<Chunk>, LlmError> {
        let mut d = GeminiDecoder::default();
        let mut out = Vec::new();
        for item in parse_all(bytes.as_bytes()).unwrap() {
            out.extend(d.item(item)?.chunks);
        }
        out.extend(d.end()?);
        Ok(out)
    }

    #[test]
    fn the_recorded_crlf_stream_decodes() {
        let out = run(crate::llm::sse::tests::RECORDED[2]).unwrap();
        assert_eq!(
            out,
            vec![
                Chunk::Text("The".into()),
                Chunk::Text(" capital — Cheyenne".into())
            ]
        );
    }

    #[test]
    fn usage_is_the_last_cumulative_one_and_thoughts_are_reasoning() {
        let s = "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"hmm\",\"thought\":true}]}}],\"usageMetadata\":{\"promptTokenCount\":10,\"thoughtsTokenCount\":5}}\r\n\r\ndata: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Blue.\"}]},\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":10,\"candidatesTokenCount\":2,\"thoughtsTokenCount\":5}}\r\n\r\n";
        assert_eq!(
            run(s).unwrap(),
            vec![
                Chunk::Reasoning("hmm".into()),
                Chunk::Text("Blue.".into()),
                Chunk::Usage(Usage {
                    input_tokens: 10,
                    output_tokens: 7,
                    ..Usage::default()
                })
            ]
        );
    }

    #[test]
    fn bare_json_errors_blocks_and_drops() {
        let mid = "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"First \"}]}}]}\r\n\r\n{\n  \"error\": {\n    \"code\": 503,\n    \"message\": \"The model is overloaded.\",\n    \"status\": \"UNAVAILABLE\"\n  }\n}\n";
        let e = run(mid).unwrap_err();
        assert!(
            matches!(&e, LlmError::StreamStatus { status: 503, .. }),
            "{e:?}"
        );
        let blocked = "data: {\"promptFeedback\": {\"blockReason\": \"SAFETY\"}}\r\n\r\n";
        assert!(
            matches!(run(blocked), Err(LlmError::StreamStatus { status: 400, message }) if message.contains("SAFETY"))
        );
        let dropped =
            "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]}}]}\r\n\r\n";
        assert!(matches!(run(dropped), Err(LlmError::Connection(_))));
    }

    #[test]
    fn the_body_uses_system_instruction_model_role_and_json_schema() {
        let spec = ProviderSpec::defaults("g", crate::config::ProviderKind::Gemini);
        let p = Gemini::new(&spec, None).unwrap();
        let req = ChatRequest {
            model: "gemini-2.5-flash".into(),
            messages: vec![
                crate::llm::Message::new(Role::System, "sys"),
                crate::llm::Message::new(Role::System, "role"),
                crate::llm::Message::new(Role::User, "u"),
                crate::llm::Message::new(Role::Assistant, "a"),
            ],
            json: crate::protocol::documents::schema_for(crate::protocol::TaskKind::Review),
            meta: crate::llm::CallMeta {
                agent: "a".into(),
                role: "a".into(),
                phase: "p".into(),
                task: "t".into(),
                kind: crate::protocol::TaskKind::Review,
                inputs: None,
            },
            reasoning: Default::default(),
        };
        let body = p.body(&req);
        // Every system message is a part of `systemInstruction`.
        assert_eq!(body["systemInstruction"]["parts"][0]["text"], "sys");
        assert_eq!(body["systemInstruction"]["parts"][1]["text"], "role");
        assert_eq!(body["contents"].as_array().unwrap().len(), 2);
        assert_eq!(body["contents"][1]["role"], "model");
        assert_eq!(
            body["generationConfig"]["responseMimeType"],
            "application/json"
        );
        assert_eq!(
            body["generationConfig"]["responseJsonSchema"]["additionalProperties"],
            false
        );
        assert!(body["generationConfig"].get("thinkingConfig").is_none());
        let mut req = req;
        req.reasoning.effort = Some(crate::llm::ReasoningEffort::Low);
        assert_eq!(
            p.body(&req)["generationConfig"]["thinkingConfig"],
            json!({"thinkingBudget": 2048, "includeThoughts": true})
        );
    }

    #[test]
    fn cached_content_tokens_are_cache_reads() {
        let s = "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"ok\"}]},\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":11500,\"candidatesTokenCount\":1000,\"cachedContentTokenCount\":10000}}\r\n\r\n";
        assert_eq!(
            run(s).unwrap().last(),
            Some(&Chunk::Usage(Usage {
                input_tokens: 11500,
                output_tokens: 1000,
                cache_read_tokens: 10000,
                cache_write_tokens: 0,
            }))
        );
    }
}
