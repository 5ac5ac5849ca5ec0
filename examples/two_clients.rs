//! Issue 20's figure for several viewers: two clients attached to one
//! session on DIR's server (the release binary, `quorum serve --foreground`,
//! on the offline team); the first picks the tie at resolve; how long until
//! the decision (`conflict_resolved`) reaches the second client, measured
//! from just before the pick is sent. Median of several runs, each with a
//! fresh DIR and server.
//!
//! Run with `cargo build --release && cargo run --release --example
//! two_clients [-- --runs N]` (default 9); it runs `target/release/quorum`
//! (or `QUORUM_BIN`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use quorum::protocol::wire::Hello;
use quorum::protocol::{Channels, Event, EventBody, Op, SessionOptions, SessionView};
use quorum::server::client::{OnShutdown, connect};

/// The longest wait for one step of a run.
const STEP: Duration = Duration::from_secs(120);

#[tokio::main]
async fn main() -> Result<(), String> {
    let bin = std::env::var_os("QUORUM_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/quorum"));
    let mut runs = 9;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match (flag.as_str(), args.next()) {
            ("--runs", Some(n)) => runs = n.parse().map_err(|e| format!("--runs {n}: {e}"))?,
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    let mut seen = Vec::new();
    for _ in 0..runs {
        seen.push(one_run(&bin).await?);
    }
    seen.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "a pick in one client, seen by the other: median {:.2} ms ({:.2}–{:.2}), {runs} runs; budget < 100 ms; load {}",
        ms(seen[seen.len() / 2]),
        ms(seen[0]),
        ms(seen[seen.len() - 1]),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    Ok(())
}

/// One run: a server, two clients, a session to resolve, the pick; the
/// time until the second client has the decision.
async fn one_run(bin: &Path) -> Result<Duration, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut server = std::process::Command::new(bin)
        .args(["serve", "--foreground", "--offline", "--dir"])
        .arg(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    let socket = dir.path().join(".quorum/serve.sock");
    let result = async {
        let deadline = Instant::now() + STEP;
        while std::os::unix::net::UnixStream::connect(&socket).is_err() {
            if Instant::now() > deadline {
                return Err("the server did not listen".to_string());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let attach = |label: &str| {
            let hello = Hello::new(true, label.to_string());
            let socket = socket.clone();
            async move {
                connect(&socket, hello)
                    .await
                    .map(|c| c.into_channels(OnShutdown::Quit))
                    .map_err(|e| e.to_string())
            }
        };
        let mut a = attach("a").await?;
        let mut b = attach("b").await?;
        a.send(Op::Start {
            prompt: "Build a URL shortener".into(),
            options: SessionOptions {
                interactive: true,
                allow_unconfined: true,
                ..SessionOptions::default()
            },
        });
        let mut va = SessionView::default();
        let mut vb = SessionView::default();
        until(&mut a, &mut va, |_, v| v.phase == "resolve" && v.conflicts.iter().any(|k| k.is_tie())).await?;
        until(&mut b, &mut vb, |_, v| v.phase == "resolve").await?;
        let tie = va
            .conflicts
            .iter()
            .find(|k| k.is_tie())
            .ok_or("no tie")?
            .clone();
        let sent = Instant::now();
        a.send(Op::Pick {
            conflict: tie.id.clone(),
            option: tie.options[0].clone(),
        });
        until(&mut b, &mut vb, |e, _| {
            matches!(e, Event::Logged(l) if matches!(&l.body, EventBody::ConflictResolved { conflict, .. } if *conflict == tie.id))
        })
        .await?;
        Ok(sent.elapsed())
    }
    .await;
    let _ = server.kill();
    let _ = server.wait();
    result
}

/// Folds `client`'s events into `view` until `done` holds (within [`STEP`]).
async fn until(
    client: &mut Channels,
    view: &mut SessionView,
    done: impl Fn(&Event, &SessionView) -> bool,
) -> Result<(), String> {
    let wait = async {
        while let Some(event) = client.events.recv().await {
            match &event {
                Event::Logged(e) => view.apply(e),
                Event::Attached { events, .. } => events.iter().for_each(|e| view.apply(e)),
                _ => {}
            }
            if done(&event, view) {
                return Ok(());
            }
        }
        Err("the connection closed".to_string())
    };
    tokio::time::timeout(STEP, wait)
        .await
        .map_err(|_| "a step took too long".to_string())?
}
