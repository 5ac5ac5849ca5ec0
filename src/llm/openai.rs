//! `kind = "openai"`: Chat Completions over SSE (docs/wire-formats.md §1), and with
//! `base_url` every OpenAI-compatible server: Ollama `/v1`, llama.cpp's server,
//! vLLM, DeepSeek, Mistral, OpenRouter (§5).
//!
//! Request: `POST {base_url}/chat/completions` with `stream: true`,
//! `stream_options.include_usage` (unless `include_usage = false`, for servers
//! that reject unknown fields), and for structured output `response_format:
//! {"type": "json_schema", "json_schema": {name, schema, strict: true}}`.
//! `Authorization: Bearer` only when the provider names a key variable.
//!
//! Stream: `data: <chunk JSON>` … `data: [DONE]`; text in
//! `choices[0].delta.content` (a `<think>…</think>` block at its start is
//! reasoning, `think.rs`), reasoning in `delta.reasoning_content` (DeepSeek,
//! vLLM) or `delta.reasoning` (OpenRouter, Ollama); usage in a chunk whose `choices` is empty, null,
//! or (Mistral) in the last content chunk; an `error` object in a chunk is a
//! mid-stream error; a stream that ends without `[DONE]` or a `finish_reason`
//! was dropped.

use std::sync::Arc;

use futures::stream::BoxStream;
use serde_json::{Value, json};

use super::http::{self, Decoded, Decoder, Http, Secret};
use super::sse::SseItem;
use super::{ChatRequest, Chunk, LlmError, Provider, Role};
use crate::config::ProviderSpec;
use crate::protocol::Usage;

/// The public endpoint used without `base_url`.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

/// An OpenAI-compatible provider.
#[derive(Debug)]
pub struct OpenAi {
    name: String,
    base_url: String,
    include_usage: bool,
    http: Arc<Http>,
}

impl OpenAi {
    /// A client for `spec`, with its key when it names one.
    pub fn new(spec: &ProviderSpec, key: Option<Secret>) -> Result<Self, String> {
        Ok(OpenAi {
            name: spec.name.clone(),
            base_url: spec
                .base_url
                .clone()
                .unwrap_or_else(|| DEFAULT_BASE_URL.to_string()),
            include_usage: spec.include_usage,
            http: Arc::new(Http::new(spec, key)?),
        })
    }

    /// The request body for a call.
    pub fn body(&self, request: &ChatRequest) -> Value {
        let messages: Vec<Value> = request
            .messages
            .iter()
            .map(|m| {
                let role = match m.role {
                    Role::System => "system",
                    Role::User => "user",
                    Role::Assistant => "assistant",
                };
                json!({"role": role, "content": m.content})
            })
            .collect();
        let mut body = json!({
            "model": request.model,
            "messages": messages,
            "stream": true,
        });
        if self.include_usage {
            body["stream_options"] = json!({"include_usage": true});
        }
        // Chat Completions' `reasoning_effort` (OpenAI API reference); a
        // thinking budget alone has no OpenAI field and sends nothing.
        if let Some(effort) = request.reasoning.effort {
            body["reasoning_effort"] = json!(effort.as_str());
        }
        if let Some(schema) = &request.json {
            body["response_format"] = json!({
                "type": "json_schema",
                "json_schema": {"name": schema.name, "schema": schema.schema, "strict": true},
            });
        }
        body
    }
}

impl Provider for OpenAi {
    fn name(&self) -> &str {
        &self.name
    }

    fn label(&self) -> String {
        self.name.clone()
    }

    fn stream(&self, request: ChatRequest) -> BoxStream<'static, Result<Chunk, LlmError>> {
        let url = format!("{}/chat/completions", self.base_url);
        let mut headers = Vec::new();
        if let Some(key) = &self.http.key {
            headers.push(("authorization", format!("Bearer {}", key.expose())));
        }
        http::call(
            Arc::clone(&self.http),
            url,
            headers,
            self.body(&request),
            OpenAiDecoder::default(),
        )
    }
}

/// Most bytes of a refusal kept for its error message.
const REFUSAL_BYTES: usize = 4096;

/// Decodes Chat Completions chunks.
#[derive(Debug, Default)]
pub struct OpenAiDecoder {
    usage: Option<Usage>,
    /// A `finish_reason` arrived.
    finished: bool,
    /// `[DONE]` arrived.
    done: bool,
    refusal: String,
    cut: bool,
    /// Splits a leading `<think>` block off the content.
    think: super::think::ThinkSplitter,
}

/// The usual chunk: text (or a refusal) in the first choice's delta,
/// perhaps a finish reason, no usage and no error; read without building a
/// `Value` tree (which took most of the CPU of a reply streamed a token per
/// event, issue 20). Any other shape or type (an `error` or `usage` that is
/// not null, `choices: null`, a number where text goes, a duplicate key)
/// fails to read as this or is set aside, and takes the general path,
/// which decides as before.
#[derive(serde::Deserialize)]
struct PlainChunk<'a> {
    #[serde(default)]
    error: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    usage: Option<serde::de::IgnoredAny>,
    #[serde(default, borrow)]
    choices: Vec<PlainChoice<'a>>,
}

/// A choice of a [`PlainChunk`].
#[derive(serde::Deserialize)]
struct PlainChoice<'a> {
    #[serde(default, borrow)]
    delta: Option<PlainDelta<'a>>,
    #[serde(default, borrow)]
    finish_reason: Option<std::borrow::Cow<'a, str>>,
}

/// The delta of a [`PlainChoice`].
#[derive(serde::Deserialize)]
struct PlainDelta<'a> {
    #[serde(default, borrow)]
    content: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    refusal: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    reasoning_content: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    reasoning: Option<std::borrow::Cow<'a, str>>,
}

/// The texts of a choice's delta: the reply's, a refusal's, the reasoning's.
#[derive(Default)]
struct DeltaText<'a> {
    content: Option<&'a str>,
    refusal: Option<&'a str>,
    reasoning: Option<&'a str>,
}

impl OpenAiDecoder {
    /// Any chunk, as a `Value`: a mid-stream error, usage, then the first
    /// choice.
    fn general(&mut self, data: &str) -> Result<Decoded, LlmError> {
        let chunk: Value = serde_json::from_str(data).map_err(|e| {
            let head = crate::secrets::redact::clip(data, 80);
            LlmError::Stream(format!("malformed chunk ({e}): `{head}`"))
        })?;
        if let Some(error) = chunk.get("error").filter(|e| !e.is_null()) {
            let message = match &error["message"] {
                Value::String(m) => m.clone(),
                Value::Null => error.to_string(),
                other => other.to_string(),
            };
            return Err(match error["code"].as_u64() {
                Some(code) => LlmError::StreamStatus {
                    status: code as u16,
                    message,
                },
                None => LlmError::Stream(message),
            });
        }
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            // Cached prompt tokens: OpenAI's `prompt_tokens_details.cached_tokens`,
            // DeepSeek's `prompt_cache_hit_tokens` (docs/wire-formats.md §1, §5).
            let cached = usage["prompt_tokens_details"]["cached_tokens"]
                .as_u64()
                .or_else(|| usage["prompt_cache_hit_tokens"].as_u64())
                .unwrap_or(0);
            self.usage = Some(Usage {
                input_tokens: usage["prompt_tokens"].as_u64().unwrap_or(0),
                output_tokens: usage["completion_tokens"].as_u64().unwrap_or(0),
                cache_read_tokens: cached,
                cache_write_tokens: 0,
            });
        }
        Ok(match chunk["choices"].as_array().and_then(|c| c.first()) {
            Some(choice) => {
                let delta = &choice["delta"];
                let text = DeltaText {
                    content: delta["content"].as_str(),
                    refusal: delta["refusal"].as_str(),
                    reasoning: delta["reasoning_content"]
                        .as_str()
                        .or_else(|| delta["reasoning"].as_str()),
                };
                self.choice(text, choice["finish_reason"].as_str())
            }
            None => Decoded::default(),
        })
    }

    /// The first choice of a chunk: its reasoning, text, refusal and finish
    /// reason.
    fn choice(&mut self, text: DeltaText<'_>, finish: Option<&str>) -> Decoded {
        let mut chunks = Vec::new();
        if let Some(reasoning) = text.reasoning
            && !reasoning.is_empty()
        {
            chunks.push(Chunk::Reasoning(reasoning.to_string()));
        }
        if let Some(content) = text.content
            && !content.is_empty()
        {
            chunks.extend(self.think.push(content));
        }
        if let Some(refusal) = text.refusal {
            // Kept for the error message only: at most 4 KiB of it, so
            // an endless refusal cannot grow memory.
            if self.refusal.len() + refusal.len() <= REFUSAL_BYTES {
                self.refusal.push_str(refusal);
            }
        }
        match finish {
            Some("length") => {
                self.cut = true;
                self.finished = true;
            }
            Some(_) => self.finished = true,
            None => {}
        }
        Decoded {
            chunks,
            done: false,
        }
    }
}

impl Decoder for OpenAiDecoder {
    fn item(&mut self, item: SseItem) -> Result<Decoded, LlmError> {
        let data = match item {
            SseItem::Event(e) => e.data,
            // Not an SSE field: tolerated (docs/wire-formats.md §0, rule 5).
            SseItem::Other(_) => return Ok(Decoded::default()),
        };
        let data = data.trim();
        if data == "[DONE]" {
            self.done = true;
            return Ok(Decoded {
                chunks: Vec::new(),
                done: true,
            });
        }
        // Proxies rewrap keep-alive comments as data (§6 #6).
        if data.is_empty() || data.starts_with(':') {
            return Ok(Decoded::default());
        }
        match serde_json::from_str::<PlainChunk>(data) {
            Ok(plain) if plain.error.is_none() && plain.usage.is_none() => {
                let first = plain.choices.into_iter().next();
                let (delta, finish) = first.map_or((None, None), |c| (c.delta, c.finish_reason));
                let text = delta
                    .as_ref()
                    .map_or_else(DeltaText::default, |d| DeltaText {
                        content: d.content.as_deref(),
                        refusal: d.refusal.as_deref(),
                        reasoning: d.reasoning_content.as_deref().or(d.reasoning.as_deref()),
                    });
                Ok(self.choice(text, finish.as_deref()))
            }
            _ => self.general(data),
        }
    }

    fn end(&mut self) -> Result<Vec<Chunk>, LlmError> {
        if !self.done && !self.finished {
            return Err(LlmError::Connection(
                "the stream ended before [DONE]".into(),
            ));
        }
        if !self.refusal.is_empty() {
            return Err(LlmError::StreamStatus {
                status: 400,
                message: format!("the model refused: {}", self.refusal),
            });
        }
        if self.cut {
            return Err(LlmError::StreamStatus {
                status: 400,
                message: "the reply was cut at the output token limit (finish_reason \"length\")"
                    .into(),
            });
        }
        let mut chunks = self.think.finish();
        chunks.extend(self.usage.take().map(Chunk::Usage));
        Ok(chunks)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::llm::sse::parse_all;

    fn run(bytes: &str) -> Result<Vec<Chunk>, LlmError> {
        let mut d = OpenAiDecoder::default();
        let mut out = Vec::new();
        for item in parse_all(bytes.as_bytes()).unwrap() {
            let step = d.item(item)?;
            out.extend(step.chunks);
            if step.done {
                out.extend(d.end()?);
                return Ok(out);
            }
        }
        out.extend(d.end()?);
        Ok(out)
    }

    #[test]
    fn the_recorded_stream_decodes_to_text_and_usage() {
        let out = run(crate::llm::sse::tests::RECORDED[0]).unwrap();
        assert_eq!(
            out,
            vec![
                Chunk::Text("I'm".into()),
                Chunk::Usage(Usage {
                    input_tokens: 14,
                    output_tokens: 30,
                    ..Usage::default()
                })
            ]
        );
    }

    #[test]
    fn mistral_usage_in_the_last_chunk_and_null_choices() {
        let s = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ok\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1}}\n\ndata: {\"choices\":null}\n\ndata: [DONE]\n\n";
        assert_eq!(
            run(s).unwrap(),
            vec![
                Chunk::Text("ok".into()),
                Chunk::Usage(Usage {
                    input_tokens: 3,
                    output_tokens: 1,
                    ..Usage::default()
                })
            ]
        );
    }

    #[test]
    fn errors_drops_refusals_and_cuts() {
        let mid = "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: {\"error\": {\"message\": \"boom\", \"code\": 500}}\n\n";
        assert!(matches!(
            run(mid),
            Err(LlmError::StreamStatus { status: 500, .. })
        ));
        let dropped = "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n";
        assert!(matches!(run(dropped), Err(LlmError::Connection(_))));
        let malformed = "data: {\"choices\":[{\"delta\":\n\n";
        assert!(matches!(run(malformed), Err(LlmError::Stream(m)) if m.contains("malformed")));
        let refused = "data: {\"choices\":[{\"delta\":{\"refusal\":\"I can't\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
        assert!(
            matches!(run(refused), Err(LlmError::StreamStatus { status: 400, message }) if message.contains("I can't"))
        );
        let cut = "data: {\"choices\":[{\"delta\":{\"content\":\"{\\\"\"},\"finish_reason\":\"length\"}]}\n\ndata: [DONE]\n\n";
        assert!(matches!(
            run(cut),
            Err(LlmError::StreamStatus { status: 400, .. })
        ));
        // Keep-alives rewrapped as data are skipped.
        assert!(
            run("data: : keepalive\n\ndata: [DONE]\n\n")
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn the_plain_path_decides_every_chunk_as_the_general_one() {
        let chunks = [
            r#"{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"word "},"logprobs":null,"finish_reason":null}]}"#,
            r#"{"choices":[{"delta":{"content":"esc\"aped \u00e9\n"}}]}"#,
            r#"{"choices":[{"delta":{"content":""},"finish_reason":"stop"}]}"#,
            r#"{"choices":[{"delta":{"content":"x"},"finish_reason":"length"}]}"#,
            r#"{"choices":[{"delta":{"refusal":"no"}}]}"#,
            r#"{"choices":[{"delta":{"role":"assistant"}}],"usage":null,"error":null}"#,
            r#"{"choices":[{"delta":null,"finish_reason":null}]}"#,
            r#"{"choices":[{"finish_reason":7}]}"#,
            r#"{"choices":[{"delta":{"content":5}}]}"#,
            r#"{"choices":[{"delta":"text"}]}"#,
            r#"{"choices":[1,{"delta":{"content":"second"}}]}"#,
            r#"{"choices":[{"delta":{"content":"a"}},{"delta":{"content":7}}]}"#,
            r#"{"choices":[{"delta":{"content":"a","content":"b"}}]}"#,
            r#"{"choices":[]}"#,
            r#"{"choices":null}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}"#,
            r#"{"choices":[],"usage":12}"#,
            r#"{"choices":[{"delta":{"content":"ok"}}],"usage":{"prompt_tokens":1}}"#,
            r#"{"error":{"message":"boom","code":529}}"#,
            r#"{"error":"plain"}"#,
            r#"[1,2]"#,
            r#""just a string""#,
            r#"{"choices":[{"delta":{"content":"unfinished"#,
        ];
        for chunk in chunks {
            let mut fast = OpenAiDecoder::default();
            let mut general = OpenAiDecoder::default();
            let event = |data: &str| {
                SseItem::Event(crate::llm::sse::SseEvent {
                    event: "message".into(),
                    data: data.into(),
                })
            };
            let a = fast.item(event(chunk));
            let b = general.general(chunk);
            assert_eq!(a, b, "{chunk}");
            assert_eq!(format!("{fast:?}"), format!("{general:?}"), "{chunk}");
        }
    }

    #[test]
    fn the_body_asks_for_streaming_usage_and_the_schema() {
        let spec = ProviderSpec::defaults("local", crate::config::ProviderKind::Openai);
        let p = OpenAi::new(&spec, None).unwrap();
        let req = ChatRequest {
            model: "m".into(),
            messages: vec![
                crate::llm::Message::new(Role::System, "s"),
                crate::llm::Message::new(Role::System, "r"),
                crate::llm::Message::new(Role::User, "u"),
            ],
            json: crate::protocol::documents::schema_for(crate::protocol::TaskKind::Ballot),
            meta: crate::llm::CallMeta {
                agent: "a".into(),
                role: "a".into(),
                phase: "p".into(),
                task: "t".into(),
                kind: crate::protocol::TaskKind::Ballot,
                inputs: None,
            },
            reasoning: Default::default(),
        };
        let body = p.body(&req);
        assert_eq!(body["stream"], true);
        assert_eq!(body["stream_options"]["include_usage"], true);
        // System messages go as they are, in order.
        assert_eq!(body["messages"][0]["role"], "system");
        assert_eq!(body["messages"][1]["role"], "system");
        assert_eq!(body["messages"][1]["content"], "r");
        assert_eq!(body["response_format"]["json_schema"]["name"], "ballot");
        assert_eq!(body["response_format"]["json_schema"]["strict"], true);
        // No reasoning configured: no field.
        assert!(body.get("reasoning_effort").is_none());
        let mut req = req;
        req.reasoning.effort = Some(crate::llm::ReasoningEffort::High);
        req.reasoning.thinking_budget = Some(5_000);
        assert_eq!(p.body(&req)["reasoning_effort"], "high");
        req.reasoning.effort = None;
        assert!(p.body(&req).get("reasoning_effort").is_none());
    }

    #[test]
    fn cached_prompt_tokens_are_read_from_openai_and_deepseek_usage() {
        let openai = "data: {\"choices\":[{\"delta\":{\"content\":\"ok\"},\"finish_reason\":\"stop\"}]}\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":2006,\"completion_tokens\":300,\"prompt_tokens_details\":{\"cached_tokens\":1920}}}\n\ndata: [DONE]\n\n";
        let deepseek = "data: {\"choices\":[{\"delta\":{\"content\":\"ok\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":2006,\"completion_tokens\":300,\"prompt_cache_hit_tokens\":1920,\"prompt_cache_miss_tokens\":86}}\n\ndata: [DONE]\n\n";
        for s in [openai, deepseek] {
            assert_eq!(
                run(s).unwrap().last(),
                Some(&Chunk::Usage(Usage {
                    input_tokens: 2006,
                    output_tokens: 300,
                    cache_read_tokens: 1920,
                    cache_write_tokens: 0,
                })),
                "{s}"
            );
        }
    }

    #[test]
    fn reasoning_fields_and_a_think_block_are_reasoning_not_text() {
        let fields = "data: {\"choices\":[{\"delta\":{\"reasoning_content\":\"Think \"}}]}\n\ndata: {\"choices\":[{\"delta\":{\"reasoning\":\"more.\",\"content\":null}}]}\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"{}\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
        assert_eq!(
            run(fields).unwrap(),
            vec![
                Chunk::Reasoning("Think ".into()),
                Chunk::Reasoning("more.".into()),
                Chunk::Text("{}".into()),
            ]
        );
        let tagged = "data: {\"choices\":[{\"delta\":{\"content\":\"<thi\"}}]}\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"nk>plan it</th\"}}]}\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"ink>\\n{\\\"a\\\":1}\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
        assert_eq!(
            run(tagged).unwrap(),
            vec![
                Chunk::Reasoning("plan it".into()),
                Chunk::Text("{\"a\":1}".into()),
            ]
        );
    }
}
