//! The prefix-cache simulation behind issue 21's measurement
//! (`examples/prefix_cache.rs`, `benches/support/prefix_cache.rs`): its
//! arithmetic, unit by unit; `replay.rs` checks it end to end through
//! quorum's client. Nothing here is timed.

#[path = "../../benches/support/prefix_cache.rs"]
mod support;

pub use support::*;

use serde_json::json;

#[test]
fn hits_need_1024_tokens_and_count_in_steps_of_128() {
    assert_eq!(cached_tokens(1023, 1023), 0, "too short to cache");
    assert_eq!(cached_tokens(5000, 1023), 0, "too short a shared prefix");
    assert_eq!(cached_tokens(5000, 1024), 1024);
    assert_eq!(cached_tokens(5000, 1151), 1024);
    assert_eq!(cached_tokens(5000, 1152), 1152);
    assert_eq!(cached_tokens(5000, 4999), 4992);
    assert_eq!(
        cached_tokens(2000, 9000),
        1920,
        "never more than the prompt"
    );
}

#[test]
fn a_request_hits_on_its_longest_prefix_shared_with_any_earlier_one() {
    let body = |system: &str, user: &str| {
        json!({"messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": user},
        ]})
    };
    let shared = "s".repeat(6000);
    let mut cache = PrefixCache::default();
    let (first, cached) = cache.lookup(&body(&shared, "a task"));
    assert_eq!(cached, 0, "nothing earlier");
    // "<|im_start|>system\n" + 6000 + "<|im_end|>\n<|im_start|>user\n" + "a task" + "<|im_end|>\n"
    assert_eq!(first, (19u64 + 6000 + 28 + 6 + 11).div_ceil(4));
    // Another task after the same system message: the shared bytes are the
    // system message and the user message's opening (19 + 6000 + 28).
    let (_, cached) = cache.lookup(&body(&shared, "another task"));
    assert_eq!(cached, (19 + 6000 + 28) / 4 / 128 * 128);
    // Another system message shares only its role line: no hit.
    let (_, cached) = cache.lookup(&body(&"t".repeat(6000), "a task"));
    assert_eq!(cached, 0);
    // A structured output schema comes before the messages.
    let mut with_schema = body(&shared, "a task");
    with_schema["response_format"] = json!({"type": "json_schema"});
    assert_eq!(
        cache.lookup(&with_schema).1,
        0,
        "the schema breaks the prefix"
    );
    assert_eq!(cache.requests, 4);
    assert!(
        cache.hit_share() > 0.2 && cache.hit_share() < 0.3,
        "{}",
        cache.hit_share()
    );
}

#[test]
fn the_usage_carries_the_cached_tokens_as_openai_reports_them() {
    let mut cache = PrefixCache::default();
    let body = json!({"messages": [{"role": "user", "content": "x".repeat(8000)}]});
    let usage = cache.usage(&body, json!({"prompt_tokens": 1, "completion_tokens": 10}));
    assert_eq!(usage["prompt_tokens_details"]["cached_tokens"], 0);
    let usage = cache.usage(&body, json!({"prompt_tokens": 1, "completion_tokens": 10}));
    let prompt = usage["prompt_tokens"].as_u64().unwrap();
    assert_eq!(prompt, (8000u64 + 28).div_ceil(4));
    assert_eq!(usage["total_tokens"], prompt + 10);
    assert_eq!(
        usage["prompt_tokens_details"]["cached_tokens"],
        prompt / 128 * 128
    );
}
