//! The views added after the first cut — metrics, history, palette, search,
//! the diff, the quit confirmation, a question — as text snapshots at 80x24
//! and 120x40; the main and conflicts screens in every theme with their
//! styles; every size from 1x1 to 200x60. The key flows are in `flows.rs`.

use crossterm::event::KeyCode;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Style;

use super::{app, at_deliver, at_resolve, code, key, render};
use crate::protocol::{
    Event, EventBody, LoggedEvent, Op, SessionId, SessionStatus, SessionSummary,
};
use crate::tui::app::{App, Screen};
use crate::tui::theme::Theme;

/// The resolve fixture with times on its events and tokens streamed, so the
/// metrics have something to draw: phases one to five seconds apart, a retry.
fn with_metrics() -> App {
    let (mut app, mut f) = at_resolve();
    app.agents[1].budget_usd = Some(0.05);
    let mut m = crate::tui::metrics::Metrics::default();
    let mut seq = 0;
    let mut ev = |m: &mut crate::tui::metrics::Metrics, s: u32, body: EventBody| {
        seq += 1;
        m.apply(&LoggedEvent {
            v: 1,
            seq,
            session: SessionId::parse("3f2a00c0ffee").unwrap(),
            at: format!("2026-11-21T12:00:{s:02}Z"),
            body,
        });
    };
    for (i, (phase, kind)) in super::PHASES[..5].iter().enumerate() {
        let t = [0, 3, 11, 14, 19][i];
        ev(
            &mut m,
            t,
            EventBody::PhaseStarted {
                phase: phase.to_string(),
                kind: kind.to_string(),
            },
        );
        if i < 4 {
            ev(
                &mut m,
                [3, 11, 14, 19][i],
                EventBody::PhaseFinished {
                    phase: phase.to_string(),
                    kind: kind.to_string(),
                },
            );
        }
    }
    for (agent, start, end, out, cost) in [
        ("pm", 0, 2, 300, 0.004),
        ("backend", 3, 9, 1800, 0.041),
        ("frontend", 3, 8, 1500, 0.020),
        ("qa", 4, 10, 1200, 0.012),
        ("security", 3, 11, 900, 0.010),
    ] {
        let task = format!("plan.{agent}");
        ev(
            &mut m,
            start,
            EventBody::TaskQueued {
                task: task.clone(),
                agent: agent.into(),
                phase: "plan".into(),
                title: "technical plan".into(),
            },
        );
        ev(
            &mut m,
            start,
            EventBody::TaskStarted {
                task: task.clone(),
                agent: agent.into(),
                phase: "plan".into(),
            },
        );
        if agent == "qa" {
            ev(
                &mut m,
                6,
                EventBody::TaskRetrying {
                    task: task.clone(),
                    attempt: 1,
                    reason: "HTTP 429".into(),
                    delay_ms: 500,
                },
            );
        }
        ev(
            &mut m,
            end,
            EventBody::TaskFinished {
                task,
                agent: agent.into(),
                phase: "plan".into(),
                tokens_in: 900,
                tokens_out: out,
                cost_usd: cost,
                cache_read_tokens: 600,
                cache_write_tokens: 100,
            },
        );
    }
    app.screens.metrics = m;
    f.ev(
        &mut app,
        EventBody::TaskQueued {
            task: "vote.storage.qa".into(),
            agent: "qa".into(),
            phase: "vote".into(),
            title: "ballot on Storage engine".into(),
        },
    );
    app
}

fn summaries() -> Vec<SessionSummary> {
    let mk = |id: &str, prompt: &str, status, at: &str, commit: Option<&str>| SessionSummary {
        id: SessionId::parse(id).unwrap(),
        prompt: prompt.into(),
        status,
        phase: "deliver".into(),
        created_at: at.into(),
        updated_at: at.into(),
        tokens: (12_000, 4_300),
        cost_usd: 0.0,
        commit: commit.map(String::from),
        last_seq: 180,
        dir: "/tmp/d".into(),
        workflow: "default".into(),
        offline: true,
    };
    vec![
        mk(
            "3f2a00c0ffee",
            "Build a CLI todo app with tags, due dates and a JSON export — 多言語",
            None,
            "2026-11-21T12:00:00Z",
            None,
        ),
        mk(
            "9c41d2e07b13",
            "Build a URL shortener REST API with tests",
            Some(SessionStatus::Succeeded),
            "2026-11-20T09:14:03Z",
            Some("4b825dc642cb6eb9a060e54bf8d69288fbee4904"),
        ),
        mk(
            "0a0b0c0d0e0f",
            "A markdown wiki",
            Some(SessionStatus::Cancelled),
            "2026-11-19T18:40:55Z",
            None,
        ),
    ]
}

/// The events of a past session, as the store would return them.
fn past_events() -> Vec<LoggedEvent> {
    // The resolve fixture's events, with a decision and a commit.
    let (mut app, _) = at_resolve();
    let mut events = Vec::new();
    let session = SessionId::parse("9c41d2e07b13").unwrap();
    let mut push = |body: EventBody| {
        events.push(LoggedEvent {
            v: 1,
            seq: events.len() as u64 + 1,
            session: session.clone(),
            at: format!("2026-11-20T09:14:{:02}Z", events.len() / 3),
            body,
        });
    };
    push(EventBody::SessionStarted {
        prompt: "Build a URL shortener REST API with tests".into(),
        dir: "/home/ada/short".into(),
        workflow: "default".into(),
        agents: vec!["pm".into()],
    });
    for (phase, kind) in super::PHASES {
        push(EventBody::PhaseStarted {
            phase: phase.into(),
            kind: kind.into(),
        });
        push(EventBody::PhaseFinished {
            phase: phase.into(),
            kind: kind.into(),
        });
    }
    for c in app.session.conflicts.drain(..) {
        push(EventBody::ConflictDetected {
            conflict: c.id.clone(),
            topic: c.topic.clone(),
            options: c.options.clone(),
            blocking: true,
            needs_human: false,
            positions: c.positions.clone(),
        });
        push(EventBody::ConflictResolved {
            conflict: c.id.clone(),
            option: c.options[1].clone(),
            decided_by: crate::protocol::DecidedBy::Human,
            tally: Default::default(),
        });
    }
    for path in ["shortener/app.py", "tests/test_app.py"] {
        push(EventBody::FileStaged {
            path: path.into(),
            agent: "backend".into(),
            bytes: 900,
            change: crate::protocol::FileChange::New,
        });
    }
    push(EventBody::CommitCreated {
        sha: "4b825dc642cb6eb9a060e54bf8d69288fbee4904".into(),
        files: vec!["shortener/app.py".into()],
        repo: "/home/ada/short".into(),
    });
    push(EventBody::SessionFinished {
        status: SessionStatus::Succeeded,
        tokens_in: 12_000,
        tokens_out: 4_300,
        cost_usd: 0.0,
    });
    events
}

/// The history view with the list loaded and the second session opened.
pub(super) fn history_opened() -> App {
    let (mut app, _) = at_resolve();
    app.focus = crate::tui::app::Focus::Transcript;
    app.on_key(key('h'));
    let req = match app.outbox.pop() {
        Some(Op::ListSessions { req }) => req,
        other => panic!("expected a session list request, got {other:?}"),
    };
    app.on_event(Event::SessionsListed {
        req,
        sessions: Ok(summaries()),
    });
    app.on_key(key('j'));
    app.on_key(code(KeyCode::Enter));
    let (session, req) = match app.outbox.pop() {
        Some(Op::LoadSession { session, req }) => (session, req),
        other => panic!("expected a session load, got {other:?}"),
    };
    assert_eq!(session.as_str(), "9c41d2e07b13");
    app.on_event(Event::SessionLoaded {
        req,
        session,
        events: Ok(past_events()),
    });
    app
}

/// The resolve fixture with a search for "sqlite" answered and shown.
pub(super) fn searched() -> App {
    let (mut app, _) = at_resolve();
    app.focus = crate::tui::app::Focus::Transcript;
    let _ = render(&mut app, 80, 24);
    app.on_key(key('/'));
    for c in "SQLite".chars() {
        app.on_key(key(c));
    }
    app.on_key(code(KeyCode::Enter));
    let (req, query) = match app.outbox.pop() {
        Some(Op::SearchTranscript {
            agent: None,
            query,
            req,
        }) => (req, query),
        other => panic!("expected a search, got {other:?}"),
    };
    assert_eq!(query, "SQLite");
    let positions: Vec<u64> = app
        .transcripts
        .window()
        .lines
        .iter()
        .filter(|l| l.line.text.to_lowercase().contains("sqlite"))
        .map(|l| l.line.seq)
        .collect();
    assert!(!positions.is_empty());
    app.on_event(Event::SearchResults {
        req,
        agent: None,
        query,
        positions,
        truncated: false,
    });
    app.toast = None;
    app
}

#[test]
fn snapshots_of_the_metrics_history_palette_and_search_views() {
    for (w, h) in [(80u16, 24u16), (120, 40)] {
        let mut m = with_metrics();
        m.on_key(key('M'));
        assert_eq!(m.screen, Screen::Metrics);
        insta::assert_snapshot!(format!("metrics_{w}x{h}"), render(&mut m, w, h).backend());

        let mut hist = history_opened();
        insta::assert_snapshot!(
            format!("history_{w}x{h}"),
            render(&mut hist, w, h).backend()
        );

        let (mut pal, _) = at_resolve();
        pal.focus = crate::tui::app::Focus::Agents;
        pal.on_key(key(':'));
        for c in "co".chars() {
            pal.on_key(key(c));
        }
        insta::assert_snapshot!(format!("palette_{w}x{h}"), render(&mut pal, w, h).backend());

        let mut found = searched();
        insta::assert_snapshot!(
            format!("search_{w}x{h}"),
            render(&mut found, w, h).backend()
        );
    }
}

/// The buffer's text, then per row the runs of identical style:
/// `row: [from..to) fg bg +modifiers`.
fn styled(buf: &Buffer) -> String {
    let mut out = String::new();
    for y in 0..buf.area.height {
        // A wide character's second cell is part of it, not a column of its own.
        let mut row = String::new();
        let mut skip = 0;
        for x in 0..buf.area.width {
            if skip > 0 {
                skip -= 1;
                continue;
            }
            let symbol = buf[(x, y)].symbol();
            skip = unicode_width::UnicodeWidthStr::width(symbol).saturating_sub(1);
            row.push_str(symbol);
        }
        out.push_str(&format!("{y:02} |{row}|\n"));
    }
    for y in 0..buf.area.height {
        let mut runs: Vec<String> = Vec::new();
        let mut start = 0;
        let style_at = |x: u16| -> Style { buf[(x, y)].style() };
        for x in 1..=buf.area.width {
            if x == buf.area.width || style_at(x) != style_at(start) {
                let s = style_at(start);
                let fg = s.fg.map(|c| format!("{c:?}")).unwrap_or("-".into());
                let bg = s.bg.map(|c| format!("{c:?}")).unwrap_or("-".into());
                let mods = if s.add_modifier.is_empty() {
                    String::new()
                } else {
                    format!(" +{:?}", s.add_modifier)
                };
                runs.push(format!("[{start}..{x}) {fg}/{bg}{mods}"));
                start = x;
            }
        }
        out.push_str(&format!("{y:02} {}\n", runs.join(" · ")));
    }
    out
}

/// No visible character is drawn in its own background colour.
fn assert_legible(theme: &str, buf: &Buffer) {
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            let cell = &buf[(x, y)];
            let s = cell.style();
            if cell.symbol().trim().is_empty() {
                continue;
            }
            if let (Some(fg), Some(bg)) = (s.fg, s.bg) {
                assert!(
                    fg != bg || fg == ratatui::style::Color::Reset,
                    "{theme}: `{}` at {x},{y} is {fg:?} on {bg:?}",
                    cell.symbol()
                );
            }
        }
    }
}

#[test]
fn snapshots_of_the_main_and_conflicts_screens_in_every_theme_with_styles() {
    for name in Theme::BUILTIN {
        let (mut main, _) = at_resolve();
        main.theme = Theme::builtin(name).unwrap();
        main.focus = crate::tui::app::Focus::Transcript;
        let t = render(&mut main, 80, 24);
        assert_legible(name, t.backend().buffer());
        insta::assert_snapshot!(format!("styled_main_{name}"), styled(t.backend().buffer()));

        main.on_key(key('c'));
        main.on_key(code(KeyCode::Right));
        let t = render(&mut main, 80, 24);
        assert_legible(name, t.backend().buffer());
        insta::assert_snapshot!(
            format!("styled_conflicts_{name}"),
            styled(t.backend().buffer())
        );
    }
}

/// Renders the main screen at every size from 1x1 to 200x60 whose width
/// is `lane` modulo `lanes`, and the other screens and overlays on a sparser
/// grid (all of the smallest sizes, then one size in 13).
fn render_every_size(lane: u16, lanes: u16) {
    let (mut main, _) = at_resolve();
    main.focus = crate::tui::app::Focus::Transcript;
    let mut screens: Vec<App> = Vec::new();
    for k in ['c', 'f', 'M', '?'] {
        let mut a = at_deliver();
        a.focus = crate::tui::app::Focus::Transcript;
        a.on_key(key(k));
        screens.push(a);
    }
    screens.push(history_opened());
    let mut palette = searched();
    palette.on_key(key(':'));
    screens.push(palette);
    let mut terminal = Terminal::new(TestBackend::new(1, 1)).unwrap();
    for w in (1..=200u16).filter(|w| w % lanes == lane) {
        for h in 1..=60u16 {
            terminal.backend_mut().resize(w, h);
            terminal
                .resize(ratatui::layout::Rect::new(0, 0, w, h))
                .unwrap();
            terminal
                .draw(|frame| crate::tui::frame::draw(&mut main, frame))
                .unwrap();
            if (w <= 44 && h <= 14) || (u32::from(w) * 61 + u32::from(h)) % 13 == 0 {
                for app in screens.iter_mut() {
                    terminal
                        .draw(|frame| crate::tui::frame::draw(app, frame))
                        .unwrap();
                }
            }
        }
    }
}

#[test]
fn every_size_from_1x1_to_200x60_renders_without_panicking() {
    // Two lanes: the machine has two cores.
    std::thread::scope(|scope| {
        let lanes: Vec<_> = (0..2)
            .map(|lane| scope.spawn(move || render_every_size(lane, 2)))
            .collect();
        for lane in lanes {
            lane.join().unwrap();
        }
    });
}

#[test]
fn snapshots_of_the_diff_the_quit_question_and_an_empty_conflicts_view() {
    for (w, h) in [(80u16, 24u16), (120, 40)] {
        let mut diff = at_deliver();
        diff.on_key(key('f'));
        diff.on_key(key('j'));
        let req = match diff.outbox.pop() {
            Some(Op::LoadFile { path, req }) if path == "Makefile" => req,
            other => panic!("{other:?}"),
        };
        diff.on_event(Event::FileLoaded {
            req,
            file: Ok(crate::protocol::FileView {
                path: "Makefile".into(),
                content: "test:\n\tpython3 -m unittest discover -v\n\nrun:\n\tpython3 -m todo serve --port 8000\n".into(),
                diff: Some("--- a/Makefile\n+++ b/Makefile\n@@ -1,2 +1,5 @@\n test:\n-\tpytest\n+\tpython3 -m unittest discover -v\n+\n+run:\n+\tpython3 -m todo serve --port 8000\n".into()),
            }),
        });
        diff.on_key(key('d'));
        insta::assert_snapshot!(
            format!("files_diff_{w}x{h}"),
            render(&mut diff, w, h).backend()
        );

        let (mut quit, _) = at_resolve();
        quit.focus = crate::tui::app::Focus::Agents;
        quit.on_key(key('q'));
        insta::assert_snapshot!(
            format!("confirm_quit_{w}x{h}"),
            render(&mut quit, w, h).backend()
        );

        let (mut asked, mut f) = at_resolve();
        f.ev(
            &mut asked,
            EventBody::QuestionAsked {
                id: "q1".into(),
                text: "Should tasks have due dates?".into(),
                default: "no".into(),
            },
        );
        asked.focus = crate::tui::app::Focus::Transcript;
        asked.on_key(key('A'));
        for c in "yes, optional".chars() {
            asked.on_key(key(c));
        }
        insta::assert_snapshot!(
            format!("question_{w}x{h}"),
            render(&mut asked, w, h).backend()
        );
        asked.on_key(code(KeyCode::Enter));
        assert_eq!(
            asked.outbox.pop(),
            Some(Op::Answer {
                question: "q1".into(),
                answer: "yes, optional".into()
            })
        );

        let mut empty = app();
        empty.on_key(code(KeyCode::Esc));
        empty.on_key(key('c'));
        insta::assert_snapshot!(
            format!("conflicts_empty_{w}x{h}"),
            render(&mut empty, w, h).backend()
        );
    }
}
