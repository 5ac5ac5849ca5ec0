//! Models used well (issue 21, acceptance line 3), whole sessions against the
//! fake server (`fake_llm.rs`): Anthropic requests carry `cache_control` on
//! every system block, the fake's cache reads and writes are recorded on
//! `task_finished` and priced at their own rates; OpenAI requests carry
//! `reasoning_effort` only when configured (per agent, per phase); a
//! reasoning model's `reasoning_content` deltas or leading `<think>` block
//! never reach a parsed reply, and its reasoning is in the transcript.
//! (The metrics view's cache figures: the `metrics_*` insta snapshots of
//! `src/tui/tests/screens.rs`, fed cache reads and writes.)

use serde_json::Value;

use crate::common::{Env, PROMPT, Session, path_str, run, tempdir, write};
use crate::fake_llm::{FakeLlm, Format, Framing};

const KEY: &str = "sk-quorum-models-KEY-51ac";

const AGENTS: [&str; 5] = ["pm", "backend", "frontend", "qa", "security"];

/// `[providers.NAME]` on the fake server, with test timeouts.
fn provider(name: &str, format: Format, server: &FakeLlm) -> String {
    let (kind, base, key) = match format {
        Format::OpenAi => ("openai", format!("{}/v1", server.url()), ""),
        Format::Anthropic => (
            "anthropic",
            server.url(),
            "api_key_env = \"QUORUM_FAKE_KEY\"\n",
        ),
        Format::Gemini => (
            "gemini",
            server.url(),
            "api_key_env = \"QUORUM_FAKE_KEY\"\n",
        ),
    };
    format!(
        "[providers.{name}]\nkind = \"{kind}\"\nbase_url = \"{base}\"\n{key}backoff_ms = 1\nfirst_byte_timeout_s = 5\nidle_timeout_s = 5\n"
    )
}

/// Every agent on provider `p`, its model named after it (the fake answers
/// as the offline team's agent of that name); `extra` is added to each
/// agent's table by name.
fn agents_on(p: &str, extra: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for agent in AGENTS {
        out.push_str(&format!(
            "[agents.{agent}]\nprovider = \"{p}\"\nmodel = \"{agent}\"\n"
        ));
        for (name, text) in extra {
            if *name == agent {
                out.push_str(text);
            }
        }
    }
    out
}

/// Runs a session on `config` and returns it (succeeded) with the env and
/// the directory, for the export.
fn session(config: &str) -> (Session, Env, tempfile::TempDir) {
    let env = Env::new();
    let dir = tempdir();
    write(dir.path(), "quorum.toml", config);
    let mut cmd = env.quorum(["run", PROMPT, "--dir", path_str(dir.path()), "--json"]);
    cmd.env("QUORUM_FAKE_KEY", KEY);
    let session = Session::from_output(run(cmd));
    session.assert_succeeded();
    (session, env, dir)
}

/// The session's transcript lines of `kind`, from its JSON export.
fn transcript(env: &Env, dir: &std::path::Path, id: &str, kind: &str) -> Vec<String> {
    let export = run(env.quorum([
        "sessions",
        "export",
        id,
        "--format",
        "json",
        "--dir",
        path_str(dir),
    ]));
    assert_eq!(export.code, 0, "{export}");
    let doc: Value = serde_json::from_str(&export.stdout).unwrap();
    doc["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["kind"] == kind)
        .map(|l| l["text"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn anthropic_requests_mark_the_system_blocks_and_cache_usage_is_priced_as_such() {
    let server = FakeLlm::start();
    // Of each prompt: 1,000 tokens read from the cache, 200 written to it.
    server.framing(Framing {
        cache: Some((1_000, 200)),
        ..Framing::default()
    });
    let mut config = provider("claude", Format::Anthropic, &server) + &agents_on("claude", &[]);
    // Anthropic's rates for Sonnet: input 3, output 15, 5-minute cache
    // writes 1.25x input, reads 0.1x input.
    for agent in AGENTS {
        config.push_str(&format!(
            "[pricing.\"{agent}\"]\ninput = 3.0\noutput = 15.0\ncache_read = 0.30\ncache_write = 3.75\n"
        ));
    }
    let (session, _env, _dir) = session(&config);

    let requests = server.received();
    assert!(!requests.is_empty());
    for r in &requests {
        let system = r.body["system"].as_array().expect("system blocks");
        assert!(!system.is_empty(), "{}", r.body);
        assert!(system.len() <= 4, "within Anthropic's 4 breakpoints");
        for block in system {
            assert_eq!(block["type"], "text");
            assert_eq!(block["cache_control"]["type"], "ephemeral", "{block}");
        }
    }

    let finished = session.of("task_finished");
    assert!(!finished.is_empty());
    let mut total = 0.0;
    for t in &finished {
        let n = |k: &str| t[k].as_u64().unwrap();
        let (input, output) = (n("tokens_in"), n("tokens_out"));
        let (read, wrote) = (n("cache_read_tokens"), n("cache_write_tokens"));
        assert!(read >= 1_000 && read % 1_000 == 0, "{t}");
        assert_eq!(wrote * 5, read, "200 written per 1,000 read: {t}");
        assert!(
            input >= read + wrote,
            "the cached parts are within the prompt: {t}"
        );
        let want = ((input - read - wrote) as f64 * 3.0
            + read as f64 * 0.30
            + wrote as f64 * 3.75
            + output as f64 * 15.0)
            / 1e6;
        let cost = t["cost_usd"].as_f64().unwrap();
        assert!((cost - want).abs() < 1e-9, "cost {cost} != {want}: {t}");
        // Cheaper than the same tokens all priced as input.
        assert!(cost < (input as f64 * 3.0 + output as f64 * 15.0) / 1e6);
        total += cost;
    }
    let spent = session.one("session_finished")["cost_usd"]
        .as_f64()
        .unwrap();
    assert!((spent - total).abs() < 1e-6, "{spent} != {total}");
}

#[test]
fn reasoning_effort_reaches_openai_requests_only_where_configured_and_reasoning_stays_out_of_replies()
 {
    let server = FakeLlm::start();
    // Braces in the reasoning: appended to a reply, they would break its JSON.
    let thought = "The user wants {\"not\": \"this\"} weighed first. ";
    server.framing(Framing {
        reasoning_content: Some(thought.repeat(3)),
        ..Framing::default()
    });
    let config = provider("local", Format::OpenAi, &server)
        + &agents_on(
            "local",
            &[
                ("pm", "reasoning_effort = \"high\"\n"),
                (
                    "backend",
                    "[agents.backend.phases.plan]\nreasoning_effort = \"low\"\n",
                ),
            ],
        );
    let (session, env, dir) = session(&config);

    let requests = server.received();
    // Each request's `reasoning_effort` (null when absent), by model.
    let effort = |model: &str| -> Vec<Value> {
        requests
            .iter()
            .filter(|r| r.body["model"] == model)
            .map(|r| {
                r.body
                    .get("reasoning_effort")
                    .cloned()
                    .unwrap_or(Value::Null)
            })
            .collect()
    };
    let pm = effort("pm");
    assert!(!pm.is_empty() && pm.iter().all(|e| e == "high"), "{pm:?}");
    let backend = effort("backend");
    assert!(backend.contains(&Value::from("low")), "{backend:?}");
    assert!(
        backend.contains(&Value::Null),
        "backend's other phases send none: {backend:?}"
    );
    for agent in ["frontend", "qa", "security"] {
        let got = effort(agent);
        assert!(got.iter().all(Value::is_null), "{agent}: {got:?}");
    }

    // The replies parsed: no task was asked again for an invalid reply.
    assert!(session.of("task_failed").is_empty());
    let retried: Vec<_> = session
        .of("task_retrying")
        .into_iter()
        .filter(|e| e["reason"].as_str().unwrap_or("").contains("invalid"))
        .collect();
    assert!(retried.is_empty(), "{retried:?}");
    // The reasoning is in the transcript, as reasoning lines only.
    let id = session.id().to_string();
    let reasoning = transcript(&env, dir.path(), &id, "reasoning");
    assert!(
        reasoning.iter().any(|l| l.contains("weighed first")),
        "{reasoning:?}"
    );
    let text = transcript(&env, dir.path(), &id, "text");
    assert!(!text.iter().any(|l| l.contains("weighed first")));
}

#[test]
fn a_leading_think_block_is_reasoning_and_the_reply_after_it_parses() {
    let server = FakeLlm::start();
    server.framing(Framing {
        think: Some("First {\"draft\": 1} then the plan.".into()),
        ..Framing::default()
    });
    let config = provider("ollama", Format::OpenAi, &server) + &agents_on("ollama", &[]);
    let (session, env, dir) = session(&config);
    assert!(session.of("task_failed").is_empty());
    let id = session.id().to_string();
    let reasoning = transcript(&env, dir.path(), &id, "reasoning");
    assert!(
        reasoning.iter().any(|l| l.contains("then the plan")),
        "{reasoning:?}"
    );
    let text = transcript(&env, dir.path(), &id, "text");
    assert!(
        !text
            .iter()
            .any(|l| l.contains("<think>") || l.contains("then the plan")),
        "no reasoning in the reply text"
    );
}
