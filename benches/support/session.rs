//! A whole session on the offline provider, in process, with its time split
//! between the providers and the rest (issue 7). Shared by
//! `examples/session_perf.rs` (the figures) and the integration suite's smoke
//! test (`tests/all/perf.rs`).
//!
//! Method. The session runs on a current-thread tokio runtime, as one actor,
//! one committer and one consumer on one thread, so that time spent inside
//! the providers is exclusive: each provider is wrapped in [`Timed`], which
//! adds up the wall time of its `stream()` call (the offline provider computes
//! its whole reply there, project files included) and of every poll of the
//! stream it returns. Blocking work (sled, git, file writes) runs on tokio's
//! blocking pool as in the binary; the actor waits for it, so it is in the
//! wall time and not in the providers' time. With the test command set to
//! `true` the test runs cost only their process start, measured separately
//! ([`test_run_cost`]). Orchestration is then the wall time minus the
//! providers' time minus the test runs.
//!
//! [`Timed`] can also put a long streamed preamble (varied words, lines of 8
//! to 20 words) in front of one task's reply, optionally paced, for the disk
//! figure: the bytes the process writes (`/proc/self/io` `write_bytes`) with
//! and without it.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use quorum::config::Settings;
use quorum::config::workflow::Workflow;
use quorum::llm::{ChatRequest, Chunk, LlmError, Provider, SharedProvider};
use quorum::orchestrator::{self, Parts};
use quorum::protocol::{Event, EventBody, Op, SessionOptions, SessionStatus};
use quorum::store::Store;
use quorum::workspace::Workspace;

/// The prompt of the acceptance criteria.
pub const PROMPT: &str = "Build a URL shortener REST API with tests";

/// A long streamed preamble for one task's reply.
#[derive(Clone, Debug)]
pub struct Preamble {
    /// The task it goes in front of (e.g. `refine`).
    pub task: String,
    /// About this many tokens (four bytes each, as quorum estimates them).
    pub tokens: usize,
    /// Tokens per second; `None` streams at full speed.
    pub rate: Option<f64>,
}

/// Wraps a provider and adds up the time spent inside it, in nanoseconds.
pub struct Timed {
    inner: SharedProvider,
    busy: Arc<AtomicU64>,
    preamble: Option<Preamble>,
}

struct TimedStream {
    inner: BoxStream<'static, Result<Chunk, LlmError>>,
    busy: Arc<AtomicU64>,
}

impl Stream for TimedStream {
    type Item = Result<Chunk, LlmError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let start = Instant::now();
        let poll = self.inner.poll_next_unpin(cx);
        self.busy
            .fetch_add(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
        poll
    }
}

/// Words for varied text (no braces or fences, which would confuse the JSON
/// span of the reply after them).
const WORDS: [&str; 48] = [
    "the",
    "store",
    "keeps",
    "one",
    "row",
    "per",
    "task",
    "and",
    "writes",
    "are",
    "atomic",
    "handler",
    "returns",
    "a",
    "short",
    "code",
    "for",
    "each",
    "long",
    "URL",
    "redirects",
    "with",
    "status",
    "301",
    "when",
    "found",
    "otherwise",
    "404",
    "tests",
    "cover",
    "expiry",
    "collisions",
    "unicode",
    "paths",
    "we",
    "chose",
    "SQLite",
    "because",
    "it",
    "ships",
    "with",
    "Python",
    "so",
    "deployment",
    "stays",
    "simple",
    "indexes",
    "matter",
];

/// Syllables for made-up words (consonant, vowel).
const CONSONANTS: &[u8] = b"bcdfghklmnprstvw";
/// See [`CONSONANTS`].
const VOWELS: &[u8] = b"aeiou";

/// About `tokens` tokens of varied text in lines of 8 to 20 words: half of
/// them (on average) from [`WORDS`], the others made up of one to three
/// random syllables, so that the text compresses no better than prose (zstd
/// -5: 2.5 times, where the README and docs/ compress 2.7 times; words from
/// `WORDS` alone compress 3.8 times and would flatter a compressed db).
pub fn varied_text(tokens: usize) -> String {
    let mut out = String::new();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    while out.len() < tokens * 4 {
        let words = 8 + (next() % 13) as usize;
        for w in 0..words {
            if w > 0 {
                out.push(' ');
            }
            let pick = next();
            if pick % 2 == 0 {
                out.push_str(WORDS[((pick >> 8) % WORDS.len() as u64) as usize]);
            } else {
                for _ in 0..1 + (pick >> 8) % 3 {
                    let syllable = next();
                    out.push(char::from(
                        CONSONANTS[(syllable % CONSONANTS.len() as u64) as usize],
                    ));
                    out.push(char::from(
                        VOWELS[((syllable >> 8) % VOWELS.len() as u64) as usize],
                    ));
                }
            }
        }
        out.push('\n');
    }
    out
}

/// Pieces of about four words, as the offline provider streams them.
fn pieces(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for (i, word) in text.split_inclusive(' ').enumerate() {
        current.push_str(word);
        if i % 4 == 3 {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

impl Provider for Timed {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn label(&self) -> String {
        self.inner.label()
    }

    fn stream(&self, request: ChatRequest) -> BoxStream<'static, Result<Chunk, LlmError>> {
        let preamble = self
            .preamble
            .clone()
            .filter(|p| p.task == request.meta.task);
        let start = Instant::now();
        let inner = self.inner.stream(request);
        self.busy
            .fetch_add(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
        let inner = match preamble {
            None => inner,
            Some(p) => {
                let text = varied_text(p.tokens);
                let parts = pieces(&text);
                let delay = p.rate.map(|rate| {
                    Duration::from_secs_f64(text.len() as f64 / 4.0 / rate / parts.len() as f64)
                });
                // Piece i is due i delays after the first, as from a server
                // that sends at its own pace however late it is read.
                let start = std::sync::OnceLock::new();
                let head = futures::stream::iter(parts.into_iter().enumerate())
                    .then(move |(i, piece)| {
                        let due = delay
                            .map(|d| *start.get_or_init(tokio::time::Instant::now) + d * i as u32);
                        async move {
                            match due {
                                Some(due) => tokio::time::sleep_until(due).await,
                                None => tokio::task::yield_now().await,
                            }
                            Ok(Chunk::Text(piece))
                        }
                    })
                    .chain(futures::stream::iter([Ok(Chunk::Text(
                        "\n```json\n".to_string(),
                    ))]));
                let tail = inner.flat_map(|chunk| {
                    let items = match chunk {
                        Ok(Chunk::Usage(u)) => {
                            vec![Ok(Chunk::Text("\n```\n".into())), Ok(Chunk::Usage(u))]
                        }
                        other => vec![other],
                    };
                    futures::stream::iter(items)
                });
                head.chain(tail).boxed()
            }
        };
        TimedStream {
            inner,
            busy: Arc::clone(&self.busy),
        }
        .boxed()
    }
}

/// What one session did and how long it took.
#[derive(Clone, Debug)]
pub struct SessionFigures {
    /// How it ended.
    pub status: Option<SessionStatus>,
    /// From `Op::Start` to the `session_finished` event (released after its flush).
    pub wall: Duration,
    /// Time inside the providers (reply and file generation, streaming).
    pub providers: Duration,
    /// Test runs the session made.
    pub test_runs: u32,
    /// Model calls started.
    pub calls: u32,
    /// Durable events received.
    pub events: u64,
    /// CPU time of the runtime's thread (actor, committer, consumer, providers).
    pub thread_cpu: Duration,
    /// Bytes the process caused to be written to storage during the session
    /// (`/proc/self/io` `write_bytes`; 0 where unavailable).
    pub write_bytes: u64,
    /// Size of the db directory afterwards, bytes.
    pub db_bytes: u64,
    /// For each durable event, from `Op::Start`: when the consumer received
    /// it, when the actor made it (its `at`), and its type.
    pub timeline: Vec<(Duration, Duration, &'static str)>,
}

/// The CPU time of the calling thread.
pub fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe {
        libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts);
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// `write_bytes` of `/proc/self/io` (0 where unavailable).
pub fn write_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("write_bytes:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Bytes of the files under `path`.
pub fn dir_bytes(path: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            _ => e.metadata().map(|m| m.len()).unwrap_or(0),
        })
        .sum()
}

/// A test command that runs no interpreter and reports one passing test in
/// the plain `N passed, N failed` line (a command that executes no test, such
/// as `true`, is `no_tests` and fails the session): the session without its
/// Python suite.
pub const TRIVIAL_SUITE: &str = "echo '1 passed, 0 failed'";

/// The offline team with `test_command` (`auto` detects `python3 -m unittest`).
pub fn settings(test_command: &str) -> Settings {
    let mut settings = Settings::offline_defaults();
    settings.test.command = test_command.to_string();
    settings
}

/// Runs one headless session in `dir` (state in `dir/.quorum`) on a
/// current-thread runtime built by the caller, to its end.
pub async fn run_session(
    dir: &std::path::Path,
    settings: Settings,
    preamble: Option<Preamble>,
) -> SessionFigures {
    let state = dir.join(".quorum");
    let db = state.join("db");
    let store = Store::open(&db).unwrap_or_else(|e| panic!("store: {e}"));
    let roster: Vec<String> = settings.agents.iter().map(|a| a.name.clone()).collect();
    let workflow = Workflow::default_for(&roster).unwrap_or_else(|e| panic!("workflow: {e}"));
    let busy = Arc::new(AtomicU64::new(0));
    let providers = quorum::orchestrator::providers::build_providers_with(&settings, &|_| None)
        .unwrap_or_else(|e| panic!("providers: {e}"))
        .into_iter()
        .map(|(name, inner)| {
            let timed: SharedProvider = Arc::new(Timed {
                inner,
                busy: Arc::clone(&busy),
                preamble: preamble.clone(),
            });
            (name, timed)
        })
        .collect();
    let handle = orchestrator::spawn(Parts {
        settings: Arc::new(settings),
        workflow,
        store,
        workspace: Workspace::new(dir, &state),
        providers,
    });
    let mut events = handle.subscribe();
    let io_before = write_bytes();
    let cpu_before = thread_cpu();
    let start = Instant::now();
    let started_at = time::OffsetDateTime::now_utc();
    handle.send(Op::Start {
        prompt: PROMPT.to_string(),
        options: SessionOptions {
            interactive: false,
            no_commit: false,
            dry_run: false,
            allow_overwrite: false,
            allow_secrets: false,
            answers: Default::default(),
            allow_unconfined: false,
            unbuilt: None,
        },
    });
    let mut figures = SessionFigures {
        status: None,
        wall: Duration::ZERO,
        providers: Duration::ZERO,
        test_runs: 0,
        calls: 0,
        events: 0,
        thread_cpu: Duration::ZERO,
        write_bytes: 0,
        db_bytes: 0,
        timeline: Vec::new(),
    };
    while let Some(event) = events.recv().await {
        match event {
            Event::Logged(e) => {
                figures.events += 1;
                let made = time::OffsetDateTime::parse(
                    &e.at,
                    &time::format_description::well_known::Rfc3339,
                )
                .map(|at| (at - started_at).unsigned_abs())
                .unwrap_or_default();
                figures
                    .timeline
                    .push((start.elapsed(), made, e.body.type_name()));
                match e.body {
                    EventBody::TestRun { .. } => figures.test_runs += 1,
                    EventBody::TaskStarted { .. } => figures.calls += 1,
                    EventBody::SessionFinished { status, .. } => {
                        figures.status = Some(status);
                        break;
                    }
                    _ => {}
                }
            }
            Event::Fatal { message } => panic!("the store failed: {message}"),
            Event::Closed => break,
            _ => {}
        }
    }
    figures.wall = start.elapsed();
    figures.thread_cpu = thread_cpu().saturating_sub(cpu_before);
    figures.providers = Duration::from_nanos(busy.load(Ordering::Relaxed));
    handle.send(Op::Shutdown);
    handle.join().await;
    figures.write_bytes = write_bytes().saturating_sub(io_before);
    figures.db_bytes = dir_bytes(&db);
    figures
}

/// The wall time of one test run of `true` through the sandbox, as the
/// session runs it (a shell, a new session, limits, a network namespace).
pub async fn test_run_cost(dir: &std::path::Path) -> Duration {
    let start = Instant::now();
    let outcome =
        quorum::workspace::sandbox::run_tests(dir, TRIVIAL_SUITE, Duration::from_secs(60), &[])
            .await;
    assert_eq!(
        outcome.status,
        quorum::protocol::TestStatus::Passed,
        "the trivial suite passes: {}",
        outcome.output
    );
    start.elapsed()
}

/// Opens the db at `db` once the session that used it has let it go
/// ([`Store::open`] waits for sled's file lock, which a just-dropped db's I/O
/// threads can hold a moment longer).
pub fn reopen(db: &std::path::Path) -> Store {
    Store::open(db).unwrap_or_else(|e| panic!("store: {e}"))
}
