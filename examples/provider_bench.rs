//! Provider figures for the README's performance section (issue 3): SSE
//! parsing throughput for each wire format, and the CPU time quorum spends per
//! 1,000 tokens streamed from a loopback server, end to end through a real
//! provider client (HTTP, SSE, JSON decoding).
//!
//! Run: `cargo run --release --example provider_bench`
//!
//! The client runs on a current-thread tokio runtime on the main thread, and its
//! CPU time is read from that thread's clock (`CLOCK_THREAD_CPUTIME_ID`), so
//! the fake server's own threads are not counted.

// Measurement scaffolding, like the tests it borrows the fake server from.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// A function over 100 lines (clippy.toml) is split into named steps (docs/style.md).
#![warn(clippy::too_many_lines)]

#[path = "../tests/all/fake_llm.rs"]
#[allow(dead_code)]
mod fake_llm;

use std::time::Instant;

use futures::StreamExt;
use quorum::llm::http::Decoder;
use quorum::llm::sse::{SseItem, SseParser};

fn thread_cpu() -> std::time::Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe {
        libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts);
    }
    std::time::Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// About `bytes` of a format's stream, built from its recorded event shapes.
fn stream_of(format: &str, bytes: usize) -> Vec<u8> {
    let mut out = String::new();
    let mut i = 0u64;
    while out.len() < bytes {
        i += 1;
        let text = format!("word{i} and some more words to stream ");
        match format {
            "openai" => out.push_str(&format!(
                "data: {{\"id\":\"chatcmpl-ABfw031mOJeYCSHe4yI2ZjOA6kMJL\",\"object\":\"chat.completion.chunk\",\"created\":1727346168,\"model\":\"gpt-4o-2024-08-06\",\"system_fingerprint\":\"fp_5050236cbd\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{text}\"}},\"logprobs\":null,\"finish_reason\":null}}]}}\n\n"
            )),
            "anthropic" => out.push_str(&format!(
                "event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":\"{text}\"}}}}\n\n"
            )),
            _ => out.push_str(&format!(
                "data: {{\"candidates\": [{{\"content\": {{\"parts\": [{{\"text\": \"{text}\"}}],\"role\": \"model\"}}}}],\"usageMetadata\": {{\"promptTokenCount\": 7,\"totalTokenCount\": 7}},\"modelVersion\": \"gemini-2.0-flash\"}}\r\n\r\n"
            )),
        }
    }
    out.into_bytes()
}

fn decoder(format: &str) -> Box<dyn FnMut(SseItem)> {
    match format {
        "openai" => {
            let mut d = quorum::llm::openai::OpenAiDecoder::default();
            Box::new(move |item| {
                let _ = d.item(item);
            })
        }
        "anthropic" => {
            let mut d = quorum::llm::anthropic::AnthropicDecoder::default();
            Box::new(move |item| {
                let _ = d.item(item);
            })
        }
        _ => {
            let mut d = quorum::llm::gemini::GeminiDecoder::default();
            Box::new(move |item| {
                let _ = d.item(item);
            })
        }
    }
}

fn main() {
    sse_parsing();
    end_to_end();
}

/// Step: SSE parsing throughput, parser alone and with JSON decoding, per wire format.
fn sse_parsing() {
    println!("SSE parsing (16 KiB network chunks, 32 MiB per format, best of 5):");
    for format in ["openai", "anthropic", "gemini"] {
        let bytes = stream_of(format, 32 << 20);
        let mb = bytes.len() as f64 / (1 << 20) as f64;
        let mut best_parse = f64::MAX;
        let mut best_decode = f64::MAX;
        let mut events = 0;
        for _ in 0..5 {
            let t = Instant::now();
            let mut p = SseParser::new();
            let mut out = Vec::new();
            events = 0;
            for chunk in bytes.chunks(16 * 1024) {
                p.feed(chunk, &mut out).expect("valid stream");
                events += out.len();
                out.clear();
            }
            p.finish(&mut out).expect("valid stream");
            best_parse = best_parse.min(t.elapsed().as_secs_f64());

            let t = Instant::now();
            let mut p = SseParser::new();
            let mut d = decoder(format);
            for chunk in bytes.chunks(16 * 1024) {
                p.feed(chunk, &mut out).expect("valid stream");
                for item in out.drain(..) {
                    d(item);
                }
            }
            best_decode = best_decode.min(t.elapsed().as_secs_f64());
        }
        println!(
            "  {format:<9} parser {:>7.0} MB/s   parser + JSON decoding {:>6.0} MB/s   ({events} events)",
            mb / best_parse,
            mb / best_decode
        );
    }
}

/// Step: client-thread CPU per 1,000 tokens streamed from a loopback server, per provider kind.
fn end_to_end() {
    println!("End to end from a loopback server (HTTP + SSE + decoding, client thread CPU):");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for kind in ["openai", "anthropic", "gemini"] {
        let server = fake_llm::FakeLlm::start();
        // About 20,000 tokens of varied words.
        let reply: String = (0..20_000u32)
            .map(|i| format!("w{} ", i.wrapping_mul(2_654_435_761) % 100_000))
            .collect();
        server.reply_with(&reply);
        let base = if kind == "openai" {
            format!("{}/v1", server.url())
        } else {
            server.url()
        };
        let key = if kind == "openai" {
            ""
        } else {
            "api_key_env = \"BENCH_KEY\"\n"
        };
        let toml = format!(
            "[providers.p]\nkind = \"{kind}\"\nbase_url = \"{base}\"\n{key}max_tokens = 65536\n{}",
            ["pm", "backend", "frontend", "qa", "security"]
                .iter()
                .map(|a| format!("[agents.{a}]\nmodel = \"{a}\"\n"))
                .collect::<String>()
        );
        let env = |v: &str| (v == "BENCH_KEY").then(|| "bench-key".to_string());
        let settings = quorum::config::Settings::from_toml(
            &toml,
            std::path::Path::new("bench.toml"),
            false,
            &env,
        )
        .expect("config");
        let providers = quorum::orchestrator::providers::build_providers_with(&settings, &env)
            .expect("providers");
        let provider = std::sync::Arc::clone(&providers["p"]);
        let mut best = f64::MAX;
        let mut tokens = 0u64;
        for _ in 0..5 {
            let request = quorum::llm::ChatRequest {
                model: "backend".into(),
                messages: vec![quorum::llm::Message::new(quorum::llm::Role::User, "go")],
                json: None,
                meta: quorum::llm::CallMeta {
                    agent: "backend".into(),
                    role: "backend".into(),
                    phase: "bench".into(),
                    task: "bench".into(),
                    kind: quorum::llm::TaskKind::Chat,
                    inputs: None,
                },
                reasoning: Default::default(),
            };
            let cpu0 = thread_cpu();
            let (text, usage) = rt.block_on(async {
                let mut s = provider.stream(request);
                let mut text = String::new();
                let mut usage = None;
                while let Some(item) = s.next().await {
                    match item.expect("stream") {
                        quorum::llm::Chunk::Text(t) => text.push_str(&t),
                        quorum::llm::Chunk::Usage(u) => usage = Some(u),
                        quorum::llm::Chunk::Reasoning(_) => {}
                    }
                }
                (text, usage)
            });
            let cpu = (thread_cpu() - cpu0).as_secs_f64();
            assert_eq!(text, reply, "{kind}: the reply arrived intact");
            tokens = usage.map(|u| u.output_tokens).unwrap_or(0);
            best = best.min(cpu);
        }
        println!(
            "  {kind:<9} {:.2} ms CPU per 1,000 tokens ({tokens} tokens, {:.1} ms CPU for the reply)",
            best * 1000.0 / (tokens as f64 / 1000.0),
            best * 1000.0
        );
    }
}
