//! Flows of a whole session on the TUI: the config reaching the app, a
//! conflict handed to the person, a resumed session folded and paged in,
//! streamed lines against their durable copies, and the header's team label.

use super::{app, at_resolve, code, implementing, key, render, screen_text};
use crate::protocol::{Event, EventBody, LineKind, Op, TranscriptLine};
use crate::tui::App;
use crate::tui::app::Screen;
use crossterm::event::KeyCode;

#[test]
fn the_config_reaches_the_app_budgets_mouse_and_key_overrides() {
    let settings = crate::config::Settings::from_toml(
        "[providers.sim]\nkind = \"offline\"\n[agents.backend]\nbudget_usd = 2.5\n[ui]\nmouse = true\n[keys]\n\"outside.metrics\" = \"m\"\n",
        std::path::Path::new("/tmp/quorum.toml"),
        false,
        &|_| None,
    )
    .unwrap();
    let setup = setup_for(settings, false);
    let mut app = crate::tui::app_for(&setup);
    assert!(app.about.options.mouse);
    assert_eq!(
        app.agents
            .iter()
            .find(|a| a.name == "backend")
            .unwrap()
            .budget_usd,
        Some(2.5)
    );
    assert_eq!(app.about.phases.len(), 9);
    app.on_key(code(KeyCode::Esc));
    app.on_key(key('m'));
    assert_eq!(app.screen, Screen::Metrics);
}

#[test]
fn a_conflict_the_chair_hands_to_the_person_says_so() {
    let (mut app, mut f) = at_resolve();
    f.ev(
        &mut app,
        EventBody::ConflictDetected {
            conflict: "auth".into(),
            topic: "Authentication".into(),
            options: vec!["none".into(), "token".into()],
            blocking: true,
            needs_human: true,
            positions: vec![],
        },
    );
    f.ev(
        &mut app,
        EventBody::VoteCast {
            conflict: "auth".into(),
            agent: "qa".into(),
            option: Some("token".into()),
            rationale: "tests need a user".into(),
        },
    );
    assert!(app.session.conflicts[2].needs_human);
    app.focus = crate::tui::app::Focus::Agents;
    app.on_key(key('c'));
    app.on_key(key('G'));
    let text = screen_text(&render(&mut app, 120, 40));
    assert!(text.contains("needs you"), "{text}");
    assert!(text.contains("The chair asks you to decide"), "{text}");
}

/// The stored events of a session resumed at implement: its start, the
/// phase, one staged file.
fn stored_session() -> Vec<crate::protocol::LoggedEvent> {
    use crate::protocol::{LoggedEvent, SessionId};
    let session = SessionId::parse("3f2a00c0ffee").unwrap();
    let event = |seq: u64, body: EventBody| LoggedEvent {
        v: 1,
        seq,
        session: session.clone(),
        at: "2026-11-21T12:00:00Z".into(),
        body,
    };
    vec![
        event(
            1,
            EventBody::SessionStarted {
                prompt: "Build a URL shortener".into(),
                dir: "/tmp/p".into(),
                workflow: "default".into(),
                agents: ["pm", "backend", "frontend", "qa", "security"]
                    .map(String::from)
                    .to_vec(),
            },
        ),
        event(
            2,
            EventBody::PhaseStarted {
                phase: "implement".into(),
                kind: "tasks".into(),
            },
        ),
        event(
            3,
            EventBody::FileStaged {
                path: "src/main.rs".into(),
                agent: "backend".into(),
                bytes: 10,
                change: crate::protocol::FileChange::New,
            },
        ),
    ]
}

#[test]
fn a_resumed_session_is_folded_and_its_transcripts_page_in_at_their_ends() {
    use crate::protocol::TranscriptLine;
    let mut app = app();
    let stored = stored_session();
    let agent_lines = [("backend".to_string(), 700u64), ("pm".to_string(), 40)]
        .into_iter()
        .collect();
    app.on_event(Event::Resumed {
        events: stored,
        lines: 1200,
        agent_lines,
    });
    assert_eq!(app.session.prompt, "Build a URL shortener");
    assert_eq!(app.session.phase, "implement");
    assert!(app.session.files.contains_key("src/main.rs"));
    // The last page of each view with stored lines: all, backend, pm.
    let pages: Vec<(Option<String>, u64, u64)> = app
        .outbox
        .iter()
        .filter_map(|op| match op {
            Op::LoadTranscript {
                agent,
                from_seq,
                len,
                ..
            } => Some((agent.clone(), *from_seq, *len)),
            _ => None,
        })
        .collect();
    assert_eq!(
        pages,
        vec![
            (None, 700, 500),
            (Some("backend".into()), 200, 500),
            (Some("pm".into()), 0, 40),
        ]
    );
    // A live line continues the view after the stored ones.
    app.on_event(Event::TranscriptAppended {
        lines: vec![TranscriptLine {
            seq: 1200,
            agent_seq: 700,
            agent: "backend".into(),
            task: "implement.core".into(),
            kind: LineKind::Text,
            text: "resumed work".into(),
            ends_call: false,
        }],
    });
    let w = app.transcripts.window();
    assert_eq!((w.start, w.total), (1200, 1201));
    assert!(w.following);
    // Then the stored page arrives and goes in front of it.
    let req = app
        .outbox
        .iter()
        .find_map(|op| match op {
            Op::LoadTranscript {
                agent: None, req, ..
            } => Some(*req),
            _ => None,
        })
        .unwrap();
    let page: Vec<TranscriptLine> = (700..1200)
        .map(|seq| TranscriptLine {
            seq,
            agent_seq: seq,
            agent: "pm".into(),
            task: "refine".into(),
            kind: LineKind::Text,
            text: format!("stored line {seq}"),
            ends_call: false,
        })
        .collect();
    app.on_event(Event::TranscriptPage {
        req,
        agent: None,
        lines: page,
        total: 1200,
    });
    let w = app.transcripts.window();
    assert_eq!((w.start, w.end(), w.total), (700, 1201, 1201));
    assert_eq!(w.get(1199).unwrap().line.text, "stored line 1199");
    assert_eq!(w.get(1200).unwrap().line.text, "resumed work");
}

/// Lines a reply completes show from its tokens at once, and do not move or
/// change when their durable copies arrive later (the committer may hold
/// them up to a quarter of a second).
#[test]
fn a_streamed_line_shows_before_its_durable_copy_and_stays_put_after() {
    let (mut app, _) = implementing();
    app.toast = None;
    let token = |app: &mut App, text: &str| {
        app.on_event(Event::Token {
            agent: "backend".into(),
            task: "implement.core".into(),
            text: text.into(),
        })
    };
    token(&mut app, "The store keeps ");
    token(&mut app, "every task.\n```python\n");
    token(&mut app, "x = 1\nand the rest");
    let shown = |app: &mut App| {
        let terminal = render(app, 120, 40);
        let buffer = terminal.backend().buffer().clone();
        (0..40u16)
            .map(|y| {
                (0..120u16)
                    .map(|x| buffer[(x, y)].symbol().to_string())
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
    };
    let before = shown(&mut app);
    let text = before.join("\n");
    for expected in [
        "The store keeps every task.",
        "```python",
        "x = 1",
        "and the rest",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} shows before it is durable:\n{text}"
        );
    }
    let next = app.transcripts.window().total;
    let durable: Vec<TranscriptLine> = ["The store keeps every task.", "```python", "x = 1"]
        .iter()
        .enumerate()
        .map(|(i, text)| TranscriptLine {
            seq: next + i as u64,
            agent_seq: 100 + i as u64,
            agent: "backend".into(),
            task: "implement.core".into(),
            kind: LineKind::Text,
            text: (*text).into(),
            ends_call: false,
        })
        .collect();
    app.on_event(Event::TranscriptAppended {
        lines: durable[..1].to_vec(),
    });
    assert_eq!(
        shown(&mut app),
        before,
        "the first durable line changes nothing"
    );
    app.on_event(Event::TranscriptAppended {
        lines: durable[1..].to_vec(),
    });
    assert_eq!(shown(&mut app), before, "nor the others, code included");
    let partials = app.transcripts.partials();
    assert_eq!(partials[0].lines, vec![]);
    assert_eq!(partials[0].tail, "and the rest");
}

#[test]
fn the_newest_line_stays_at_the_bottom_when_the_top_line_only_partly_fits() {
    let (mut app, mut f) = at_resolve();
    // Fill the pane with one-row lines, then a line that wraps over several
    // rows, then a short one: whatever the top shows, the short (newest) line
    // is the pane's last text row.
    for i in 0..30 {
        f.lines(
            &mut app,
            "backend",
            "plan.backend",
            LineKind::Text,
            &[&format!("filler {i}")],
        );
        let long = format!("wrapped {i} {}", "word ".repeat(40));
        f.lines(
            &mut app,
            "backend",
            "plan.backend",
            LineKind::Text,
            &[&long],
        );
        f.lines(
            &mut app,
            "backend",
            "plan.backend",
            LineKind::Text,
            &[&format!("newest {i}")],
        );
        let screen = screen_text(&render(&mut app, 80, 24));
        let rows: Vec<&str> = screen.lines().collect();
        let border = rows.iter().rposition(|r| r.starts_with('╰')).unwrap();
        assert!(
            rows[border - 1].contains(&format!("newest {i}")),
            "step {i}:\n{screen}"
        );
    }
}

#[test]
fn the_header_names_the_offline_demo_team_and_a_scripted_team_plainly() {
    let setup = |settings| setup_for(settings, true);
    let mut demo = crate::tui::app_for(&setup(crate::config::Settings::offline_defaults()));
    assert_eq!(demo.about.provider_label, "offline (simulated) demo team");
    let screen = screen_text(&render(&mut demo, 80, 24));
    assert!(
        screen.lines().next().unwrap().contains("demo team"),
        "{screen}"
    );
    // A session on a prompt the demo does not build is marked so.
    demo.submit_prompt("Rust CLI that counts words in files");
    match demo.outbox.pop() {
        Some(Op::Start { options, .. }) => {
            assert_eq!(options.unbuilt.as_deref(), Some("it asks for Rust"))
        }
        other => panic!("expected start, got {other:?}"),
    }
    let scripted = crate::config::Settings::from_toml(
        "[providers.sim]\nkind = \"offline\"\nscript = \"s.toml\"\n",
        std::path::Path::new("/tmp/quorum.toml"),
        false,
        &|_| None,
    )
    .unwrap();
    let app = crate::tui::app_for(&setup(scripted));
    assert_eq!(app.about.provider_label, crate::config::OFFLINE_LABEL);
}

/// Before a session, the prompt editor's lower border carries the cost
/// estimate for the prompt typed so far (from the configured models' prices
/// and the project's size); the offline team says it costs nothing; a
/// running session hides it.
#[test]
fn the_prompt_editor_shows_the_cost_estimate_before_a_session() {
    let setup = |settings| setup_for(settings, false);
    let priced = crate::config::Settings::from_toml(
        "[providers.oa]\nkind = \"openai\"\napi_key_env = \"OA_KEY\"\n[agents.pm]\nprovider = \"oa\"\nmodel = \"gpt-4o\"\n[agents.backend]\nprovider = \"oa\"\nmodel = \"gpt-4o-mini\"\n[agents.frontend]\nprovider = \"oa\"\nmodel = \"gpt-4o-mini\"\n[agents.qa]\nprovider = \"oa\"\nmodel = \"gpt-4o-mini\"\n[agents.security]\nprovider = \"oa\"\nmodel = \"gpt-4o-mini\"\n",
        std::path::Path::new("/tmp/quorum.toml"),
        false,
        &|name| (name == "OA_KEY").then(|| "sk-test-estimate".to_string()),
    )
    .unwrap();
    let mut app = crate::tui::app_for(&setup(priced));
    let basis = app.gate.estimate.as_ref().unwrap();
    basis.project_tokens.set(3_000).unwrap();
    // Nothing typed: no estimate.
    let screen = screen_text(&render(&mut app, 120, 40));
    assert!(!screen.contains(" calls "), "{screen}");
    let prompt = "a todo app with a flask backend";
    app.prompt.insert_str(prompt);
    let short = app.gate.estimate.as_ref().unwrap().short(prompt).unwrap();
    let e = crate::config::estimate::estimate(
        &app.gate.estimate.as_ref().unwrap().settings,
        &app.gate.estimate.as_ref().unwrap().workflow,
        prompt,
        3_000,
    );
    assert!(e.usd.high > 0.0 && e.usd.low <= e.usd.high, "{e:?}");
    assert_eq!(
        short,
        format!(
            "≈ ${:.2}–{:.2} · {}–{} calls",
            e.usd.low, e.usd.high, e.calls.low, e.calls.high
        )
    );
    let screen = screen_text(&render(&mut app, 120, 40));
    assert!(screen.contains(&short), "{screen}");
    let buffer = render(&mut app, 80, 24);
    assert!(screen_text(&buffer).contains(&short));
    insta::assert_snapshot!(screen_text(&buffer));
    // A longer prompt costs at least as much.
    let longer = format!("{prompt} {}", "and more ".repeat(2_000));
    let more = crate::config::estimate::estimate(
        &app.gate.estimate.as_ref().unwrap().settings,
        &app.gate.estimate.as_ref().unwrap().workflow,
        &longer,
        3_000,
    );
    assert!(more.usd.low > e.usd.low, "{more:?} vs {e:?}");
    // A running session hides it.
    super::fixture::Feed::new().ev(
        &mut app,
        EventBody::SessionStarted {
            prompt: prompt.into(),
            dir: "/tmp".into(),
            workflow: "default".into(),
            agents: ["pm", "backend", "frontend", "qa", "security"]
                .map(String::from)
                .to_vec(),
        },
    );
    assert!(app.session.running());
    let screen = screen_text(&render(&mut app, 120, 40));
    assert!(!screen.contains(&short), "{screen}");
    // The offline team costs nothing.
    let mut offline = crate::tui::app_for(&setup(crate::config::Settings::offline_defaults()));
    offline.prompt.insert_str(prompt);
    let screen = screen_text(&render(&mut offline, 120, 40));
    assert!(screen.contains("offline team: no cost"), "{screen}");
}

/// The TUI's setup for `settings` with the default workflow, in `/tmp`
/// (`implicit_demo`: the offline team runs for want of a provider).
fn setup_for(settings: crate::config::Settings, implicit_demo: bool) -> crate::tui::Setup {
    let roster: Vec<String> = settings.agents.iter().map(|a| a.name.clone()).collect();
    crate::tui::Setup {
        settings: std::sync::Arc::new(settings),
        workflow: crate::config::workflow::Workflow::default_for(&roster).unwrap(),
        theme: crate::tui::theme::Theme::default(),
        dir: "/tmp".into(),
        prompt: None,
        resume: None,
        unconfined: None,
        unconfined_pending: false,
        implicit_demo,
        client: false,
        run_notify_command: true,
    }
}
