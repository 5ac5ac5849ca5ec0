//! The real provider kinds against the fake server (`fake_llm.rs`): streamed
//! text intact and in order, usage and cost, and each injected fault ending as
//! docs/design.md §3's fault table says — retried then succeeded, failed over to the
//! fallback, failed fast with a clear message, circuit opened — for OpenAI,
//! Anthropic and Gemini; a whole headless session on real provider kinds; a
//! cancelled call closing its connection; and a fake key found nowhere.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use quorum::config::{ModelRef, Settings};
use quorum::llm::health::Health;
use quorum::llm::{CallMeta, ChatRequest, Chunk, Message, Role, SharedProvider, TaskKind, Usage};
use quorum::orchestrator::call::{self, CallEvent, CallPolicy, Link};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::common::{Env, PROMPT, Session, path_str, run, tempdir, write};
use crate::fake_llm::{FakeLlm, Fault, Format, Framing};

const KEY: &str = "sk-quorum-test-KEY-7f3a9c";
const FORMATS: [Format; 3] = [Format::OpenAi, Format::Anthropic, Format::Gemini];

fn kind(format: Format) -> &'static str {
    match format {
        Format::OpenAi => "openai",
        Format::Anthropic => "anthropic",
        Format::Gemini => "gemini",
    }
}

/// A `[providers.NAME]` table for `format` at the fake server; OpenAI is keyless
/// (a local server), the others name a key variable.
fn provider_table(name: &str, format: Format, server: &FakeLlm, extra: &str) -> String {
    let (base, key) = match format {
        Format::OpenAi => (format!("{}/v1", server.url()), String::new()),
        Format::Anthropic | Format::Gemini => {
            (server.url(), "api_key_env = \"QUORUM_FAKE_KEY\"\n".into())
        }
    };
    // Short timeouts and backoff for tests, unless `extra` sets its own.
    let mut defaults = String::new();
    for (k, v) in [
        ("backoff_ms", "1"),
        ("first_byte_timeout_s", "1"),
        ("idle_timeout_s", "1"),
    ] {
        if !extra.contains(k) {
            defaults.push_str(&format!("{k} = {v}\n"));
        }
    }
    format!(
        "[providers.{name}]\nkind = \"{}\"\nbase_url = \"{base}\"\n{key}{defaults}{extra}\n",
        kind(format)
    )
}

fn agents_on(provider: &str) -> String {
    ["pm", "backend", "frontend", "qa", "security"]
        .iter()
        .map(|a| format!("[agents.{a}]\nprovider = \"{provider}\"\nmodel = \"{a}\"\n"))
        .collect()
}

fn env_key(var: &str) -> Option<String> {
    (var == "QUORUM_FAKE_KEY").then(|| KEY.to_string())
}

fn settings(text: &str) -> Settings {
    Settings::from_toml(
        text,
        std::path::Path::new("/tmp/quorum.toml"),
        false,
        &env_key,
    )
    .unwrap()
}

fn providers(settings: &Settings) -> std::collections::BTreeMap<String, SharedProvider> {
    quorum::orchestrator::providers::build_providers_with(settings, &env_key).unwrap()
}

fn request(model: &str) -> ChatRequest {
    ChatRequest {
        model: model.into(),
        messages: vec![
            Message::new(Role::System, "You are terse."),
            Message::new(
                Role::User,
                "Say something long enough to split into many chunks.",
            ),
        ],
        json: None,
        meta: CallMeta {
            agent: "backend".into(),
            role: "backend".into(),
            phase: "plan".into(),
            task: "t".into(),
            kind: TaskKind::Plan,
            inputs: None,
        },
        reasoning: Default::default(),
    }
}

const REPLY: &str =
    "Hello, wörld — the reply streams in many pieces, ✓ every one in order, until the end.";

/// Streams one call straight from a provider; returns (text, usage).
async fn stream_once(p: &SharedProvider) -> Result<(String, Option<Usage>), quorum::llm::LlmError> {
    let mut s = p.stream(request("backend"));
    let mut text = String::new();
    let mut usage = None;
    while let Some(item) = s.next().await {
        match item? {
            Chunk::Text(t) => text.push_str(&t),
            Chunk::Usage(u) => usage = Some(u),
            Chunk::Reasoning(_) => {}
        }
    }
    Ok((text, usage))
}

/// Runs a call through `chain` the way the orchestrator does.
async fn call_through(chain: Vec<Link>) -> Vec<CallEvent> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    call::run(
        "t".into(),
        1,
        chain,
        request("backend"),
        tx,
        CancellationToken::new(),
    )
    .await;
    let mut events = Vec::new();
    while let Ok(m) = rx.try_recv() {
        events.push(m.event);
    }
    events
}

fn link(
    settings: &Settings,
    providers: &std::collections::BTreeMap<String, SharedProvider>,
    name: &str,
    health: Arc<Health>,
) -> Link {
    Link {
        provider: Arc::clone(&providers[name]),
        model: ModelRef {
            provider: name.into(),
            model: "backend".into(),
        },
        policy: CallPolicy::for_provider(&settings.providers[name]),
        health,
    }
}

fn finished_text(events: &[CallEvent]) -> Option<(String, Usage, String)> {
    events.iter().find_map(|e| match e {
        CallEvent::Finished { text, usage, model } => {
            Some((text.clone(), *usage, model.provider.clone()))
        }
        _ => None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_kind_streams_text_intact_with_usage_and_its_own_auth() {
    for format in FORMATS {
        let server = FakeLlm::start();
        server.reply_with(REPLY);
        let s = settings(&(provider_table("p", format, &server, "") + &agents_on("p")));
        let p = &providers(&s)["p"];
        let (text, usage) = stream_once(p).await.unwrap();
        assert_eq!(text, REPLY, "{format:?}");
        let usage = usage.unwrap_or_else(|| panic!("{format:?}: usage recorded"));
        assert!(
            usage.input_tokens > 0 && usage.output_tokens == (REPLY.len() as u64).div_ceil(4),
            "{format:?}: {usage:?}"
        );
        let req = &server.received()[0];
        match format {
            Format::OpenAi => {
                assert_eq!(req.path, "/v1/chat/completions");
                assert!(
                    req.header("authorization").is_none(),
                    "a keyless local server gets no auth header"
                );
                assert_eq!(req.body["stream_options"]["include_usage"], true);
            }
            Format::Anthropic => {
                assert_eq!(req.path, "/v1/messages");
                assert_eq!(req.header("x-api-key"), Some(KEY));
                assert_eq!(req.header("anthropic-version"), Some("2023-06-01"));
                assert_eq!(
                    req.body["system"],
                    serde_json::json!([{"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}])
                );
                assert!(req.body["max_tokens"].as_u64().unwrap() > 0);
            }
            Format::Gemini => {
                assert_eq!(
                    req.path,
                    "/v1beta/models/backend:streamGenerateContent?alt=sse"
                );
                assert_eq!(req.header("x-goog-api-key"), Some(KEY));
                assert!(!req.path.contains(KEY), "the key never goes in the URL");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn byte_splits_crlf_and_keepalives_change_nothing() {
    for format in FORMATS {
        let server = FakeLlm::start();
        server.reply_with(REPLY);
        server.framing(Framing {
            every_byte: true,
            crlf: true,
            keepalive: true,
            ..Framing::default()
        });
        let s = settings(&(provider_table("p", format, &server, "") + &agents_on("p")));
        let (text, usage) = stream_once(&providers(&s)["p"]).await.unwrap();
        assert_eq!(text, REPLY, "{format:?}");
        assert!(usage.is_some(), "{format:?}");
    }
}

/// Each retryable fault: the call is retried and then succeeds, the failed
/// attempt's partial text is discarded, and the delay honours `retry-after`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retryable_faults_are_retried_then_succeed() {
    for format in FORMATS {
        let mut faults = vec![
            Fault::Status {
                status: 429,
                headers: vec![("retry-after".into(), "0".into())],
                message: "Rate limit reached".into(),
            },
            Fault::Status {
                status: 500,
                headers: vec![],
                message: "The server had an error".into(),
            },
            Fault::Status {
                status: 503,
                headers: vec![("retry-after-ms".into(), "20".into())],
                message: "overloaded".into(),
            },
            Fault::MidStreamError,
            Fault::Drop,
            Fault::Malformed,
            Fault::Stall(Duration::from_secs(30)),
            Fault::StallMidStream(Duration::from_secs(30)),
        ];
        if format == Format::Anthropic {
            faults.push(Fault::Overloaded);
        }
        for fault in faults {
            let server = FakeLlm::start();
            server.reply_with(REPLY);
            server.fault(None, fault.clone());
            let s = settings(&(provider_table("p", format, &server, "") + &agents_on("p")));
            let ps = providers(&s);
            let started = std::time::Instant::now();
            let events = call_through(vec![link(&s, &ps, "p", Arc::new(Health::new()))]).await;
            let what = format!("{format:?} {fault:?}");
            let retrying: Vec<_> = events
                .iter()
                .filter(|e| matches!(e, CallEvent::Retrying { .. }))
                .collect();
            assert_eq!(retrying.len(), 1, "{what}: one retry: {events:?}");
            let (text, _, _) =
                finished_text(&events).unwrap_or_else(|| panic!("{what}: finished: {events:?}"));
            assert_eq!(text, REPLY, "{what}");
            if matches!(
                fault,
                Fault::MidStreamError | Fault::Drop | Fault::Malformed
            ) {
                assert!(
                    events
                        .iter()
                        .any(|e| matches!(e, CallEvent::Discarded { .. })),
                    "{what}: partial text discarded"
                );
            }
            if let Fault::Status { status: 429, .. } = fault {
                assert!(
                    matches!(retrying[0], CallEvent::Retrying { delay, .. } if *delay == Duration::ZERO),
                    "{what}: retry-after 0 honoured"
                );
            }
            if let Fault::Stall(_) = fault {
                assert!(
                    started.elapsed() < Duration::from_secs(10),
                    "{what}: the 1 s timeout cut the 30 s stall"
                );
                assert!(
                    matches!(retrying[0], CallEvent::Retrying { reason, .. } if reason.contains("timed out")),
                    "{what}"
                );
            }
            assert_eq!(server.received().len(), 2, "{what}");
        }
    }
}

/// 401/403 fail over without retrying and mark the provider unauthorised for
/// the session; 400/404 fail fast, with the provider's message, no fallback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_errors_fall_back_and_request_errors_fail_fast() {
    for format in FORMATS {
        let bad = FakeLlm::start();
        let good = FakeLlm::start();
        good.reply_with(REPLY);
        let text = provider_table("bad", format, &bad, "")
            + &provider_table("good", format, &good, "")
            + &agents_on("bad");
        let s = settings(&text);
        let ps = providers(&s);
        let health = Arc::new(Health::new());
        bad.fault(
            None,
            Fault::Status {
                status: 401,
                headers: vec![],
                message: "Incorrect API key provided".into(),
            },
        );
        let chain = || {
            vec![
                link(&s, &ps, "bad", Arc::clone(&health)),
                link(&s, &ps, "good", Arc::new(Health::new())),
            ]
        };
        let events = call_through(chain()).await;
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, CallEvent::Retrying { .. })),
            "{format:?}: no retry on 401"
        );
        assert!(
            events
                .iter()
                .any(|e| matches!(e, CallEvent::Fallback { reason, .. } if reason.contains("401"))),
            "{format:?}: {events:?}"
        );
        assert_eq!(finished_text(&events).unwrap().2, "good");
        // Unauthorised for the session: the next call skips the provider.
        let before = bad.received().len();
        let events = call_through(chain()).await;
        assert_eq!(
            bad.received().len(),
            before,
            "{format:?}: not contacted again"
        );
        assert!(events.iter().any(
            |e| matches!(e, CallEvent::Fallback { reason, .. } if reason.contains("unauthorised"))
        ));

        for status in [400u16, 404] {
            let server = FakeLlm::start();
            let fallback = FakeLlm::start();
            server.fault(
                None,
                Fault::Status {
                    status,
                    headers: vec![],
                    message: format!("model not usable ({status})"),
                },
            );
            let text = provider_table("p", format, &server, "")
                + &provider_table("f", format, &fallback, "")
                + &agents_on("p");
            let s = settings(&text);
            let ps = providers(&s);
            let events = call_through(vec![
                link(&s, &ps, "p", Arc::new(Health::new())),
                link(&s, &ps, "f", Arc::new(Health::new())),
            ])
            .await;
            assert_eq!(events.len(), 1, "{format:?} {status}: {events:?}");
            assert!(
                matches!(&events[0], CallEvent::Failed { error } if error.contains(&status.to_string()) && error.contains("model not usable")),
                "{events:?}"
            );
            assert!(fallback.received().is_empty(), "no fallback on {status}");
        }
    }
}

/// Five consecutive failures open the circuit: further calls go straight to
/// the fallback without contacting the provider.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failures_open_the_circuit() {
    for format in FORMATS {
        let flaky = FakeLlm::start();
        let good = FakeLlm::start();
        good.reply_with(REPLY);
        for _ in 0..5 {
            flaky.fault(
                None,
                Fault::Status {
                    status: 503,
                    headers: vec![],
                    message: "overloaded".into(),
                },
            );
        }
        let text = provider_table("flaky", format, &flaky, "max_retries = 4\n")
            + &provider_table("good", format, &good, "")
            + &agents_on("flaky");
        let s = settings(&text);
        let ps = providers(&s);
        let health = Arc::new(Health::new());
        let chain = || {
            vec![
                link(&s, &ps, "flaky", Arc::clone(&health)),
                link(&s, &ps, "good", Arc::new(Health::new())),
            ]
        };
        let events = call_through(chain()).await;
        assert!(events.iter().any(|e| matches!(e, CallEvent::Fallback { reason, .. } if reason.contains("circuit opened"))), "{format:?}: {events:?}");
        assert_eq!(flaky.received().len(), 5);
        let events = call_through(chain()).await;
        assert_eq!(
            flaky.received().len(),
            5,
            "{format:?}: an open circuit is not contacted"
        );
        assert!(events.iter().any(
            |e| matches!(e, CallEvent::Fallback { reason, .. } if reason.contains("circuit open"))
        ));
        assert_eq!(finished_text(&events).unwrap().2, "good");
    }
}

/// Cancelling a call closes its HTTP connection promptly: the server sees it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_call_closes_the_connection() {
    for format in FORMATS {
        let server = FakeLlm::start();
        server.reply_with(REPLY);
        server.fault(None, Fault::Trickle(Duration::from_millis(20)));
        let s = settings(
            &(provider_table("p", format, &server, "idle_timeout_s = 30\n") + &agents_on("p")),
        );
        let ps = providers(&s);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let cancel = CancellationToken::new();
        let chain = vec![link(&s, &ps, "p", Arc::new(Health::new()))];
        let task = tokio::spawn(call::run(
            "t".into(),
            1,
            chain,
            request("backend"),
            tx,
            cancel.clone(),
        ));
        // Wait for streamed text, then cancel.
        let got = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert!(matches!(got.event, CallEvent::Delta(_)), "{format:?}");
        cancel.cancel();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .unwrap()
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while server.hung_up() == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "{format:?}: the server never saw the connection close"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// A whole headless session on real provider kinds (a keyless local OpenAI
/// server, Anthropic and Gemini with a key), with costs from the config's
/// prices; the fake key appears nowhere under DIR afterwards.
#[test]
fn a_whole_session_runs_on_real_provider_kinds_and_never_stores_the_key() {
    let server = FakeLlm::start();
    let env = Env::new();
    let dir = tempdir();
    let mut config = provider_table("local", Format::OpenAi, &server, "")
        + &provider_table("claude", Format::Anthropic, &server, "")
        + &provider_table("gem", Format::Gemini, &server, "");
    for (agent, provider) in [
        ("pm", "claude"),
        ("backend", "local"),
        ("frontend", "gem"),
        ("qa", "local"),
        ("security", "claude"),
    ] {
        config.push_str(&format!("[agents.{agent}]\nprovider = \"{provider}\"\nmodel = \"{agent}\"\nfallback = [\"local:{agent}\"]\n"));
    }
    config.push_str("[pricing.\"pm\"]\ninput = 1.0\noutput = 2.0\n[pricing.\"security\"]\ninput = 1.0\noutput = 2.0\n");
    write(dir.path(), "quorum.toml", &config);
    // One transient fault on the way, to see a retry in a real session.
    server.fault(
        Some(Format::Gemini),
        Fault::Status {
            status: 503,
            headers: vec![("retry-after".into(), "0".into())],
            message: "overloaded".into(),
        },
    );
    let mut cmd = env.quorum(["run", PROMPT, "--dir", path_str(dir.path()), "--json"]);
    cmd.env("QUORUM_FAKE_KEY", KEY);
    let session = Session::from_output(run(cmd));
    session.assert_succeeded();
    assert!(
        !session.of("task_retrying").is_empty(),
        "the injected 503 was retried"
    );
    let finished = session.one("session_finished");
    let cost = finished["cost_usd"].as_f64().unwrap();
    assert!(cost > 0.0, "priced models cost something: {finished}");
    let formats: std::collections::BTreeSet<_> = server
        .received()
        .iter()
        .map(|r| format!("{:?}", r.format))
        .collect();
    assert_eq!(
        formats.len(),
        3,
        "all three wire formats were used: {formats:?}"
    );
    assert_eq!(session.one("test_run")["status"], "passed");

    // The key is nowhere: not in the db, the logs, the scratch trees, the
    // generated files, or the git objects (checked decompressed, via git).
    let mut stack = vec![dir.path().to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                assert!(
                    !bytes.windows(KEY.len()).any(|w| w == KEY.as_bytes()),
                    "the key leaked into {}",
                    path.display()
                );
            }
        }
    }
    let log = env.git(dir.path(), &["log", "-p", "--format=%B"]);
    assert!(!log.contains(KEY));
    // Nor in any export of the session (the archive is checked unpacked).
    for format in ["md", "json", "tar"] {
        let out_file = dir.path().join(format!("export.{format}"));
        let mut export = env.quorum([
            "sessions",
            "export",
            session.id(),
            "--format",
            format,
            "--output",
            path_str(&out_file),
            "--dir",
            path_str(dir.path()),
        ]);
        export.env("QUORUM_FAKE_KEY", KEY);
        let out = run(export);
        assert_eq!(out.code, 0, "export {format}: {out}");
        let bytes = if format == "tar" {
            let unpacked = std::process::Command::new("tar")
                .arg("-xzOf")
                .arg(&out_file)
                .output()
                .unwrap();
            assert!(unpacked.status.success());
            unpacked.stdout
        } else {
            std::fs::read(&out_file).unwrap()
        };
        assert!(bytes.len() > 100, "export {format} wrote something");
        assert!(
            !bytes.windows(KEY.len()).any(|w| w == KEY.as_bytes()),
            "the key leaked into the {format} export"
        );
    }
    let stdout = &session.out.stdout;
    assert!(!stdout.contains(KEY) && !session.out.stderr.contains(KEY));
}

/// `quorum ask`: text to stdout as it arrives, usage and cost to stderr, no
/// `.quorum/` created; a refused key fails with a clear message that never
/// shows the key.
#[test]
fn ask_streams_one_completion_and_creates_no_state() {
    let server = FakeLlm::start();
    server.reply_with(REPLY);
    let env = Env::new();
    let dir = tempdir();
    let mut config =
        provider_table("claude", Format::Anthropic, &server, "") + &agents_on("claude");
    config.push_str("[pricing.\"backend\"]\ninput = 1.0\noutput = 2.0\n");
    write(dir.path(), "quorum.toml", &config);
    let mut cmd = env.quorum([
        "ask",
        "--provider",
        "claude",
        "--model",
        "backend",
        "Say",
        "hello",
        "--dir",
        path_str(dir.path()),
    ]);
    cmd.env("QUORUM_FAKE_KEY", KEY);
    let out = run(cmd);
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(out.stdout.trim_end(), REPLY);
    assert!(
        out.stderr.contains("tokens:")
            && out.stderr.contains("claude:backend")
            && out.stderr.contains('$'),
        "{out}"
    );
    assert!(!dir.path().join(".quorum").exists(), "ask creates no state");
    let logs: String = std::fs::read_dir(env.state_home().join("quorum"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap_or_default())
        .collect();
    assert!(
        logs.contains("ask") && logs.contains("claude:backend"),
        "ask logs to XDG_STATE_HOME: {logs}"
    );
    let sent = &server.received()[0];
    assert_eq!(sent.body["messages"][0]["content"], "Say hello");

    // --agent uses the agent's role prompt as the system prompt.
    let mut cmd = env.quorum([
        "ask",
        "--agent",
        "qa",
        "check",
        "--dir",
        path_str(dir.path()),
    ]);
    cmd.env("QUORUM_FAKE_KEY", KEY);
    assert_eq!(run(cmd).code, 0);
    assert!(crate::fake_llm::system_text(&server.received()[1].body).contains("QA engineer"));

    server.fault(
        None,
        Fault::Status {
            status: 401,
            headers: vec![],
            message: format!("Incorrect API key provided: {KEY}"),
        },
    );
    let mut cmd = env.quorum([
        "ask",
        "--agent",
        "qa",
        "check",
        "--dir",
        path_str(dir.path()),
    ]);
    cmd.env("QUORUM_FAKE_KEY", KEY);
    let out = run(cmd);
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("401"), "{out}");
    assert!(
        !out.stderr.contains(KEY) && !out.stdout.contains(KEY),
        "the key is redacted: {out}"
    );

    let mut cmd = env.quorum([
        "ask",
        "--agent",
        "nobody",
        "hi",
        "--dir",
        path_str(dir.path()),
    ]);
    cmd.env("QUORUM_FAKE_KEY", KEY);
    let out = run(cmd);
    assert_eq!(out.code, 2, "{out}");
    assert!(out.stderr.contains("nobody"), "{out}");
}

/// The probe behind `quorum doctor`: ok, no key, unreachable, unauthorised.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_tell_ok_no_key_unreachable_and_unauthorised() {
    use quorum::llm::probe::{ProbeOutcome, probe};
    let server = FakeLlm::start();
    server.reply_with("ok");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let text = provider_table("good", Format::Gemini, &server, "")
        + &provider_table("local", Format::OpenAi, &server, "")
        + &format!(
            "[providers.gone]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:{closed_port}/v1\"\n"
        )
        + &agents_on("good");
    let s = settings(&text);
    assert!(matches!(
        probe(&s, "good", "m", &env_key).await,
        ProbeOutcome::Ok { .. }
    ));
    assert!(matches!(
        probe(&s, "local", "m", &env_key).await,
        ProbeOutcome::Ok { .. }
    ));
    let no_key = probe(&s, "good", "m", &|_| None).await;
    assert_eq!(
        no_key,
        ProbeOutcome::NoKey {
            var: "QUORUM_FAKE_KEY".into()
        }
    );
    assert_eq!(
        probe(&s, "gone", "m", &env_key).await.label(),
        "unreachable"
    );
    server.fault(
        None,
        Fault::Status {
            status: 403,
            headers: vec![],
            message: "API key not valid".into(),
        },
    );
    let denied = probe(&s, "good", "m", &env_key).await;
    assert!(
        matches!(&denied, ProbeOutcome::Unauthorized(m) if m.contains("API key not valid")),
        "{denied:?}"
    );
}

/// The inputs of one request, as the prompt carries them (the shared
/// context's and the task's own, merged).
fn request_inputs(req: &crate::fake_llm::Received) -> Value {
    let prompt: String = req.body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["content"].as_str())
        .collect::<Vec<_>>()
        .join("\n");
    crate::fake_llm::inputs(&prompt)
}

/// A model with a small context window next to a big existing project: every
/// prompt fits the window (with `max_tokens` left for the reply), the project
/// map is what gets cut, and the prompt, requirements and decisions arrive
/// whole.
#[test]
fn prompts_fit_the_context_window_and_keep_requirements_and_decisions() {
    let env = Env::new();
    let dir = tempdir();
    let server = FakeLlm::start();
    // About 90 KB of existing project, far more than the window below leaves.
    for part in 0..3 {
        let mut history = String::new();
        for i in 0..600 {
            history.push_str(&format!("- {i:04}: an old design note that nobody reads\n"));
        }
        write(dir.path(), &format!("notes/history{part}.md"), &history);
    }
    let (window, reply) = (30_000usize, 4_000usize);
    let config = provider_table(
        "small",
        Format::OpenAi,
        &server,
        &format!("context_tokens = {window}\nmax_tokens = {reply}\n"),
    ) + &agents_on("small");
    write(dir.path(), "quorum.toml", &config);
    let session = Session::from_output(run(env.quorum([
        "run",
        PROMPT,
        "--dir",
        path_str(dir.path()),
        "--json",
    ])));
    session.assert_succeeded();
    let received = server.received();
    assert!(!received.is_empty());
    let mut trimmed = 0;
    for req in &received {
        let chars: usize = req.body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["content"].as_str().unwrap_or_default().chars().count())
            .sum();
        assert!(
            chars.div_ceil(3) <= window - reply,
            "a prompt of {chars} characters overflows the window"
        );
        let inputs = request_inputs(req);
        assert_eq!(inputs["prompt"], PROMPT, "the prompt is never cut");
        for key in ["requirements", "decisions"] {
            if let Some(v) = inputs.get(key) {
                assert!(
                    !v.to_string().contains("omitted to fit"),
                    "{key} was cut: {v}"
                );
            }
        }
        if inputs["project"]
            .to_string()
            .contains("omitted to fit the model's context window")
        {
            trimmed += 1;
        }
    }
    assert!(trimmed > 0, "the big project map was cut at least once");
}

/// Agent memory: notes the person stores for an agent reach that agent's
/// prompts (and no other's); a delivery adds the session's decisions, the
/// files each agent wrote and the passing test command; bad input is refused
/// with a message naming it.
#[test]
fn agent_memory_reaches_the_prompts_and_grows_at_delivery() {
    let env = Env::new();
    let dir = tempdir();
    let server = FakeLlm::start();
    let config = provider_table("p", Format::OpenAi, &server, "") + &agents_on("p");
    write(dir.path(), "quorum.toml", &config);
    let memory = |args: &[&str]| {
        let mut all = vec!["memory", "--dir", path_str(dir.path())];
        all.extend_from_slice(args);
        run(env.quorum(all))
    };
    write(dir.path(), "notes.txt", "always use type hints\n");
    let set = memory(&["backend", "--set", path_str(&dir.path().join("notes.txt"))]);
    assert_eq!(set.code, 0, "{set}");
    assert_eq!(memory(&["backend"]).stdout, "always use type hints\n");

    let nobody = memory(&["nobody"]);
    assert_eq!(nobody.code, 2);
    assert!(nobody.stderr.contains("no agent `nobody`"), "{nobody}");
    write(dir.path(), "big.txt", &"x".repeat(5000));
    let big = memory(&["qa", "--set", path_str(&dir.path().join("big.txt"))]);
    assert_eq!(big.code, 2);
    assert!(big.stderr.contains("5000 bytes"), "{big}");

    let session = Session::from_output(run(env.quorum([
        "run",
        PROMPT,
        "--dir",
        path_str(dir.path()),
        "--json",
    ])));
    session.assert_succeeded();
    let mut backend_calls = 0;
    for req in server.received() {
        let inputs = request_inputs(&req);
        let prompt = req.body["messages"].to_string();
        if req.body["model"] == "backend" {
            backend_calls += 1;
            assert_eq!(inputs["memory"], "always use type hints\n", "{inputs}");
            assert!(prompt.contains("notes from earlier sessions"));
        } else {
            assert!(
                inputs.get("memory").is_none(),
                "{}: {inputs}",
                req.body["model"]
            );
        }
    }
    assert!(backend_calls > 0);

    let backend = memory(&["backend"]).stdout;
    assert!(backend.starts_with("always use type hints\n"), "{backend}");
    assert!(backend.contains("owns: url_shortener/"), "{backend}");
    assert!(backend.contains("decision storage: "), "{backend}");
    let qa = memory(&["qa"]).stdout;
    assert!(
        qa.contains("tests: `python3 -m unittest discover -v`"),
        "{qa}"
    );
    let all = memory(&[]).stdout;
    for agent in ["pm", "backend", "frontend", "qa", "security"] {
        assert!(all.contains(&format!("## {agent}\n")), "{all}");
    }
    let cleared = memory(&["backend", "--clear"]);
    assert_eq!(cleared.code, 0, "{cleared}");
    assert_eq!(memory(&["backend"]).stdout, "");
}
