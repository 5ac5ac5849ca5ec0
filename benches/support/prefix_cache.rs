//! A simulation of OpenAI's automatic prompt caching, for the fake servers
//! that measure how much of a session's prompts a provider could serve from
//! its cache (`examples/prefix_cache.rs`, docs/performance.md "Prompt prefix
//! caching").
//!
//! The rules, from OpenAI's prompt caching guide
//! (<https://platform.openai.com/docs/guides/prompt-caching>): a prompt is
//! cached by its prefix; a request whose prompt is at least 1,024 tokens long
//! gets a cache hit on the longest prefix it shares exactly with an earlier
//! request, counted in increments of 128 tokens (1,024, 1,152, 1,280, …), and
//! reported as `usage.prompt_tokens_details.cached_tokens`; the structured
//! output schema is part of the prefix, before the messages. What is
//! simulated beyond the guide, stated so the figures can be judged:
//! * the prompt is rendered as the schema (`response_format`, when sent)
//!   followed by each message as `<|im_start|>ROLE\nCONTENT<|im_end|>\n`;
//! * tokens are bytes / 4 of that rendering (the prompt's tokens rounded up,
//!   a shared prefix's rounded down);
//! * every earlier request of the session is still cached (a session's
//!   requests are minutes apart at most; the guide keeps a prefix 5 to 10
//!   minutes after its last use).

use serde_json::{Value, json};

/// The shortest prompt, in tokens, that the cache serves.
pub const MIN_CACHED_TOKENS: u64 = 1024;

/// Cache hits are counted in steps of this many tokens.
pub const CACHE_INCREMENT: u64 = 128;

/// The token estimate: this many bytes of the rendered prompt per token.
pub const BYTES_PER_TOKEN: u64 = 4;

/// A Chat Completions request body's prompt as the cache sees it: the
/// structured output schema, then the messages in order.
pub fn rendered(body: &Value) -> String {
    let mut out = String::new();
    if let Some(format) = body.get("response_format") {
        out.push_str(&format.to_string());
        out.push('\n');
    }
    for m in body["messages"].as_array().into_iter().flatten() {
        out.push_str("<|im_start|>");
        out.push_str(m["role"].as_str().unwrap_or(""));
        out.push('\n');
        out.push_str(m["content"].as_str().unwrap_or(""));
        out.push_str("<|im_end|>\n");
    }
    out
}

/// The tokens served from the cache for a prompt of `prompt_tokens` whose
/// longest prefix shared with an earlier prompt is `shared_tokens` long.
pub fn cached_tokens(prompt_tokens: u64, shared_tokens: u64) -> u64 {
    let shared = shared_tokens.min(prompt_tokens);
    if prompt_tokens < MIN_CACHED_TOKENS || shared < MIN_CACHED_TOKENS {
        return 0;
    }
    shared / CACHE_INCREMENT * CACHE_INCREMENT
}

/// The length in bytes of the longest common prefix of `a` and `b`.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// The simulated cache of one session, and its totals.
#[derive(Debug, Default)]
pub struct PrefixCache {
    /// Every prompt seen, rendered.
    seen: Vec<String>,
    /// Requests looked up.
    pub requests: u64,
    /// Their prompt tokens (all of them, cached ones included).
    pub prompt_tokens: u64,
    /// The prompt tokens served from the cache.
    pub cached_tokens: u64,
}

impl PrefixCache {
    /// Looks a request up, remembers it, and returns its (prompt tokens,
    /// cached tokens).
    pub fn lookup(&mut self, body: &Value) -> (u64, u64) {
        let prompt = rendered(body);
        let prompt_tokens = (prompt.len() as u64).div_ceil(BYTES_PER_TOKEN);
        let shared = self
            .seen
            .iter()
            .map(|earlier| common_prefix(earlier.as_bytes(), prompt.as_bytes()))
            .max()
            .unwrap_or(0) as u64;
        let cached = cached_tokens(prompt_tokens, shared / BYTES_PER_TOKEN);
        self.seen.push(prompt);
        self.requests += 1;
        self.prompt_tokens += prompt_tokens;
        self.cached_tokens += cached;
        (prompt_tokens, cached)
    }

    /// The usage a reply to `body` reports: `usage` (as the fake computed
    /// it) with `prompt_tokens` set to the simulation's count and
    /// `prompt_tokens_details.cached_tokens` added, as OpenAI reports them.
    pub fn usage(&mut self, body: &Value, mut usage: Value) -> Value {
        let (prompt, cached) = self.lookup(body);
        let completion = usage["completion_tokens"].as_u64().unwrap_or(0);
        usage["prompt_tokens"] = json!(prompt);
        usage["total_tokens"] = json!(prompt + completion);
        usage["prompt_tokens_details"] = json!({"cached_tokens": cached});
        usage
    }

    /// The share of prompt tokens served from the cache, 0 to 1.
    pub fn hit_share(&self) -> f64 {
        if self.prompt_tokens == 0 {
            0.0
        } else {
            self.cached_tokens as f64 / self.prompt_tokens as f64
        }
    }
}
