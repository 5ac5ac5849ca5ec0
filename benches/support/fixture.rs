//! A TUI fixture for the benchmarks and the measuring examples: an [`App`]
//! with a running session, up to ten agents, and transcript lines as models
//! write them (long prose, fenced code, wide Unicode, JSON, retries).

#![allow(dead_code)]

use quorum::protocol::{
    Event, EventBody, LineKind, LoggedEvent, SessionId, TaskState, TranscriptLine,
};
use quorum::tui::app::{AgentInfo, App, UiOptions};
use quorum::tui::theme::Theme;

/// Agent names, the first `n` are used.
pub const AGENTS: [&str; 10] = [
    "pm", "backend", "frontend", "qa", "security", "docs", "ops", "data", "ux", "perf",
];

const TEXTS: [&str; 8] = [
    "Storage: SQLite in WAL mode gives us atomic writes, one file to back up, and enough throughput for a single user's todo list — measured at ~40k inserts/s on a laptop, three orders of magnitude above what we need.",
    "  \"rationale\": \"Plain REST over HTTP: resource URLs, standard verbs and status codes, testable with curl.\",",
    "多言語のタスク名（日本語・中文・한국어）も幅を正しく数えること ✅ 🚀",
    "```python",
    "def add(store: Store, title: str, *, tags: tuple[str, ...] = (), due: datetime | None = None) -> Task:  # one transaction",
    "    with store.tx() as tx: return tx.insert(Task(title=title.strip(), tags=sorted(set(tags)), due=due))",
    "```",
    "The review found no blocking issue; two low-severity notes on input validation are recorded for later.",
];

/// The `i`-th transcript line of a session (of `agents` agents).
pub fn line(seq: u64, agents: usize) -> TranscriptLine {
    let agent = AGENTS[(seq as usize / 7) % agents];
    TranscriptLine {
        seq,
        // Each run of 7 * agents lines gives every agent 7 lines in a row.
        agent_seq: (seq / (7 * agents as u64)) * 7 + seq % 7,
        agent: agent.to_string(),
        task: format!("implement.{agent}"),
        kind: if seq.is_multiple_of(97) {
            LineKind::Retry
        } else if seq.is_multiple_of(13) {
            LineKind::Note
        } else {
            LineKind::Text
        },
        text: format!("{} #{seq}", TEXTS[seq as usize % TEXTS.len()]),
        ends_call: false,
    }
}

fn event(seq: u64, body: EventBody) -> Event {
    Event::Logged(LoggedEvent {
        v: 1,
        seq,
        session: SessionId::parse("3f2a00c0ffee").unwrap_or_default(),
        at: format!("2026-11-21T12:{:02}:{:02}Z", seq / 60 % 60, seq % 60),
        body,
    })
}

/// A TUI with `agents` agents, a session in its implement phase, and every
/// agent running a task (so the spinner and the queues show).
pub fn app(agents: usize) -> App {
    let mut app = App::new(
        Theme::default(),
        AGENTS[..agents]
            .iter()
            .map(|a| AgentInfo {
                name: a.to_string(),
                provider: "offline (simulated)".into(),
                model: "offline".into(),
                budget_usd: None,
                models: vec!["offline:offline".into()],
            })
            .collect(),
        ["refine", "plan", "compare", "vote", "resolve", "implement"]
            .iter()
            .map(|p| (p.to_string(), "single".to_string()))
            .collect(),
        "offline (simulated)".into(),
        "/home/ada/todo".into(),
        UiOptions {
            confirm_decisions: true,
            mouse: false,
        },
    );
    let mut seq = 0;
    let mut ev = |app: &mut App, body: EventBody| {
        seq += 1;
        app.on_event(event(seq, body));
    };
    ev(
        &mut app,
        EventBody::SessionStarted {
            prompt: "Build a CLI todo app with tags, due dates and a JSON export".into(),
            dir: "/home/ada/todo".into(),
            workflow: "default".into(),
            agents: AGENTS[..agents].iter().map(|a| a.to_string()).collect(),
        },
    );
    ev(
        &mut app,
        EventBody::PhaseStarted {
            phase: "implement".into(),
            kind: "tasks".into(),
        },
    );
    for agent in &AGENTS[..agents] {
        ev(
            &mut app,
            EventBody::TaskQueued {
                task: format!("implement.{agent}"),
                agent: agent.to_string(),
                phase: "implement".into(),
                title: format!("the {agent} part"),
            },
        );
        ev(
            &mut app,
            EventBody::TaskStarted {
                task: format!("implement.{agent}"),
                agent: agent.to_string(),
                phase: "implement".into(),
            },
        );
    }
    debug_assert!(
        app.session
            .tasks
            .values()
            .all(|t| t.state == TaskState::Running)
    );
    app.toast = None;
    app.focus = quorum::tui::app::Focus::Transcript;
    app
}

/// Streams `n` lines into the app as the orchestrator would (in groups).
pub fn fill(app: &mut App, n: u64, agents: usize) {
    let mut from = 0;
    while from < n {
        let to = (from + 10_000).min(n);
        app.on_event(Event::TranscriptAppended {
            lines: (from..to).map(|s| line(s, agents)).collect(),
        });
        from = to;
    }
}
