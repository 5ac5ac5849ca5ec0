//! The TUI tests' fixture: an [`App`] with the default roster and workflow, a
//! [`Feed`] of durable events with consecutive seqs and transcript lines, and
//! two sessions — one waiting at resolve after a 2–2 tie and a 3–1 vote, one
//! staged and waiting at deliver — with realistic transcript content.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use crate::protocol::{
    DecidedBy, Event, EventBody, FileChange, LineKind, LoggedEvent, Position, SessionId,
    TestStatus, TranscriptLine,
};
use crate::tui::app::{AgentInfo, App};
use crate::tui::theme::Theme;

pub(super) const AGENTS: [&str; 5] = ["pm", "backend", "frontend", "qa", "security"];
pub(super) const PHASES: [(&str, &str); 9] = [
    ("refine", "single"),
    ("plan", "fan-out"),
    ("compare", "compare"),
    ("vote", "vote"),
    ("resolve", "resolve"),
    ("implement", "tasks"),
    ("test", "test"),
    ("review", "review"),
    ("deliver", "deliver"),
];

pub(super) fn app() -> App {
    App::new(
        Theme::default(),
        AGENTS
            .iter()
            .map(|a| AgentInfo {
                name: a.to_string(),
                provider: "offline (simulated)".into(),
                model: "offline".into(),
                budget_usd: None,
                models: if *a == "backend" {
                    vec![
                        "anthropic:claude-sonnet-4-5".into(),
                        "ollama:qwen2.5-coder:14b".into(),
                    ]
                } else {
                    vec!["anthropic:claude-sonnet-4-5".into()]
                },
            })
            .collect(),
        PHASES
            .iter()
            .map(|(n, k)| (n.to_string(), k.to_string()))
            .collect(),
        "offline (simulated)".into(),
        "/home/ada/todo".into(),
        crate::tui::app::UiOptions {
            confirm_decisions: true,
            mouse: false,
        },
    )
}

/// Feeds durable events with consecutive seqs.
pub(super) struct Feed {
    seq: u64,
    line: u64,
    agent_lines: std::collections::HashMap<String, u64>,
}

impl Feed {
    pub(super) fn new() -> Self {
        Feed {
            seq: 0,
            line: 0,
            agent_lines: Default::default(),
        }
    }

    pub(super) fn ev(&mut self, app: &mut App, body: EventBody) {
        self.seq += 1;
        app.on_event(Event::Logged(LoggedEvent {
            v: 1,
            seq: self.seq,
            session: SessionId::parse("3f2a00c0ffee").unwrap(),
            at: "2026-11-21T12:00:00Z".into(),
            body,
        }));
    }

    pub(super) fn lines(
        &mut self,
        app: &mut App,
        agent: &str,
        task: &str,
        kind: LineKind,
        texts: &[&str],
    ) {
        let event = self.lines_event(agent, task, kind, texts);
        app.on_event(event);
    }

    /// The `TranscriptAppended` that [`Feed::lines`] would send.
    pub(super) fn lines_event(
        &mut self,
        agent: &str,
        task: &str,
        kind: LineKind,
        texts: &[&str],
    ) -> Event {
        let mut lines = Vec::new();
        for t in texts {
            let n = self.agent_lines.entry(agent.to_string()).or_insert(0);
            lines.push(TranscriptLine {
                seq: self.line,
                agent_seq: *n,
                agent: agent.into(),
                task: task.into(),
                kind,
                text: t.to_string(),
                ends_call: false,
            });
            self.line += 1;
            *n += 1;
        }
        Event::TranscriptAppended { lines }
    }

    pub(super) fn task(
        &mut self,
        app: &mut App,
        task: &str,
        agent: &str,
        phase: &str,
        title: &str,
        finish: bool,
    ) {
        self.ev(
            app,
            EventBody::TaskQueued {
                task: task.into(),
                agent: agent.into(),
                phase: phase.into(),
                title: title.into(),
            },
        );
        self.ev(
            app,
            EventBody::TaskStarted {
                task: task.into(),
                agent: agent.into(),
                phase: phase.into(),
            },
        );
        self.lines(
            app,
            agent,
            task,
            LineKind::Prompt,
            &[&format!("▸ {title} · offline (simulated)")],
        );
        if finish {
            self.ev(
                app,
                EventBody::TaskFinished {
                    task: task.into(),
                    agent: agent.into(),
                    phase: phase.into(),
                    tokens_in: 600,
                    tokens_out: 250,
                    cost_usd: 0.0,
                    cache_read_tokens: 0,
                    cache_write_tokens: 0,
                },
            );
        }
    }
}

/// Transcript content as models write it: long lines, wide Unicode, a fenced
/// code block with a line longer than any pane, a retry and a fallback.
pub(super) fn realistic_lines(app: &mut App, f: &mut Feed) {
    f.lines(
        app,
        "backend",
        "plan.backend",
        LineKind::Text,
        &[
            "Storage: SQLite in WAL mode gives us atomic writes, one file to back up, and enough throughput for a single user's todo list — measured at ~40k inserts/s on a laptop, which is three orders of magnitude above what we need.",
            "多言語のタスク名（日本語・中文・한국어）も幅を正しく数えること ✅ 🚀",
            "```python",
            "def add(store: Store, title: str, *, tags: tuple[str, ...] = (), due: datetime | None = None) -> Task:  # one transaction",
            "    with store.tx() as tx:",
            "        return tx.insert(Task(title=title.strip(), tags=sorted(set(tags)), due=due))",
            "    # sqlite3 ships with Python: no dependency to install",
            "```",
        ],
    );
    f.lines(
        app,
        "qa",
        "plan.qa",
        LineKind::Retry,
        &["↻ retry 1 in 0.5 s: HTTP 429: rate limited (retry-after: 0.5)"],
    );
    f.lines(
        app,
        "security",
        "plan.security",
        LineKind::Retry,
        &["⇢ falling back from offline:primary to offline:backup: connection dropped"],
    );
}

/// [`at_resolve`] with the backend's task `implement.core` running: what
/// streams tokens and turns the spinner.
pub(super) fn implementing() -> (App, Feed) {
    let (mut app, mut f) = at_resolve();
    f.task(
        &mut app,
        "implement.core",
        "backend",
        "implement",
        "store",
        false,
    );
    (app, f)
}

/// The two conflicts of the resolve fixtures (storage, API style), each
/// agent's position and ballot.
fn conflicts_and_votes(app: &mut App, f: &mut Feed) {
    let storage = [
        (
            "backend",
            "sqlite",
            "SQLite: one file, no server, transactions for free.",
        ),
        (
            "frontend",
            "json-file",
            "A JSON file is enough at this size and trivially backed up.",
        ),
        (
            "qa",
            "sqlite",
            "Atomic writes: a crash mid-test leaves no half-written data.",
        ),
        (
            "security",
            "json-file",
            "Smallest attack surface: no query language at all.",
        ),
    ];
    let api = [
        (
            "backend",
            "rest",
            "Plain REST: resource URLs and standard verbs.",
        ),
        (
            "frontend",
            "rest",
            "REST is what every client library expects.",
        ),
        ("qa", "rest", "REST is testable with curl and urllib."),
        (
            "security",
            "rpc",
            "One JSON-RPC endpoint is one place to validate input.",
        ),
    ];
    for (id, topic, options, positions) in [
        (
            "storage",
            "Storage engine",
            ["json-file", "sqlite"],
            &storage,
        ),
        ("api", "API style", ["rest", "rpc"], &api),
    ] {
        f.ev(
            app,
            EventBody::ConflictDetected {
                conflict: id.into(),
                topic: topic.into(),
                options: options.iter().map(|s| s.to_string()).collect(),
                blocking: true,
                needs_human: false,
                positions: positions
                    .iter()
                    .map(|(a, o, q)| Position {
                        agent: a.to_string(),
                        option: o.to_string(),
                        quote: q.to_string(),
                    })
                    .collect(),
            },
        );
    }
    for (id, positions) in [("storage", &storage), ("api", &api)] {
        for (agent, option, why) in positions.iter() {
            f.ev(
                app,
                EventBody::VoteCast {
                    conflict: id.into(),
                    agent: agent.to_string(),
                    option: Some(option.to_string()),
                    rationale: why.to_string(),
                },
            );
        }
    }
}

/// A session that has voted and waits at resolve.
pub(super) fn at_resolve() -> (App, Feed) {
    let mut app = app();
    let mut f = Feed::new();
    app.submit_prompt("Build a CLI todo app");
    app.outbox.clear();
    f.ev(
        &mut app,
        EventBody::SessionStarted {
            prompt: "Build a CLI todo app".into(),
            dir: "/home/ada/todo".into(),
            workflow: "default".into(),
            agents: AGENTS.iter().map(|s| s.to_string()).collect(),
        },
    );
    for (phase, kind) in &PHASES[..4] {
        f.ev(
            &mut app,
            EventBody::PhaseStarted {
                phase: phase.to_string(),
                kind: kind.to_string(),
            },
        );
    }
    f.task(
        &mut app,
        "refine",
        "pm",
        "refine",
        "requirements from the prompt",
        true,
    );
    for agent in &AGENTS[1..] {
        f.task(
            &mut app,
            &format!("plan.{agent}"),
            agent,
            "plan",
            "technical plan",
            true,
        );
        f.lines(&mut app, agent, &format!("plan.{agent}"), LineKind::Text, &["{", "  \"summary\": \"Todo from this agent's view, with a store, a server and a CLI.\",", "}"]);
    }
    realistic_lines(&mut app, &mut f);
    conflicts_and_votes(&mut app, &mut f);
    f.ev(
        &mut app,
        EventBody::PhaseStarted {
            phase: "resolve".into(),
            kind: "resolve".into(),
        },
    );
    f.lines(
        &mut app,
        "pm",
        "resolve",
        LineKind::Note,
        &["⏳ waiting for the person to confirm the decisions (c: conflicts)"],
    );
    app.toast = None;
    (app, f)
}

/// A session staged and waiting at deliver, with one refused path.
pub(super) fn at_deliver() -> App {
    let (mut app, mut f) = at_resolve();
    f.ev(
        &mut app,
        EventBody::ConflictResolved {
            conflict: "storage".into(),
            option: "sqlite".into(),
            decided_by: DecidedBy::Human,
            tally: [("json-file".to_string(), 2), ("sqlite".to_string(), 2)].into(),
        },
    );
    f.ev(
        &mut app,
        EventBody::ConflictResolved {
            conflict: "api".into(),
            option: "rest".into(),
            decided_by: DecidedBy::Vote,
            tally: [("rest".to_string(), 3), ("rpc".to_string(), 1)].into(),
        },
    );
    for (phase, kind) in &PHASES[5..] {
        f.ev(
            &mut app,
            EventBody::PhaseStarted {
                phase: phase.to_string(),
                kind: kind.to_string(),
            },
        );
    }
    for (path, agent) in [
        (".gitignore", "pm"),
        ("README.md", "pm"),
        ("todo/__init__.py", "backend"),
        ("todo/store.py", "backend"),
        ("todo/cli.py", "frontend"),
        ("tests/test_store.py", "qa"),
    ] {
        f.ev(
            &mut app,
            EventBody::FileStaged {
                path: path.into(),
                agent: agent.into(),
                bytes: 1200,
                change: FileChange::New,
            },
        );
    }
    f.ev(
        &mut app,
        EventBody::FileStaged {
            path: "Makefile".into(),
            agent: "pm".into(),
            bytes: 80,
            change: FileChange::Modified,
        },
    );
    f.ev(
        &mut app,
        EventBody::PathRefused {
            path: "../escape.py".into(),
            agent: "backend".into(),
            reason: "`..` escapes the target directory".into(),
        },
    );
    f.ev(
        &mut app,
        EventBody::TestRun {
            round: 1,
            component: "project".into(),
            command: "python3 -m unittest discover -v".into(),
            passed: 37,
            failed: 0,
            skipped: 0,
            status: TestStatus::Passed,
            failures: Vec::new(),
            lines: Vec::new(),
            isolation: Default::default(),
        },
    );
    f.ev(
        &mut app,
        EventBody::Finding {
            severity: "low".into(),
            path: "todo/store.py".into(),
            line: 12,
            text: "No authentication.".into(),
            blocking: false,
        },
    );
    app.on_event(Event::DeliveryReady {
        message: "quorum: Build a CLI todo app\n\nDecisions:\n- Storage engine: sqlite\n".into(),
    });
    app.toast = None;
    app
}

pub(super) fn render(app: &mut App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal
        .draw(|frame| crate::tui::frame::draw(app, frame))
        .unwrap();
    terminal
}

pub(super) fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

pub(super) fn code(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

pub(super) fn screen_text(t: &Terminal<TestBackend>) -> String {
    let buf = t.backend().buffer();
    let mut s = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            s.push_str(buf[(x, y)].symbol());
        }
        s.push('\n');
    }
    s
}
