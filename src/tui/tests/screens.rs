//! The views added after the first cut — metrics, history, palette, search —
//! as text snapshots at 80x24 and 120x40; the main and conflicts screens in
//! every theme with their styles; every size from 1x1 to 200x60; and the key
//! flows behind them (palette, search, history, `$EDITOR`, Ctrl-Z, mouse,
//! key overrides).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Style;

use super::{app, at_deliver, at_resolve, code, key, render, screen_text};
use crate::config::keymap::Keymap;
use crate::config::theme::Theme;
use crate::protocol::{
    Event, EventBody, LineKind, LoggedEvent, Op, SessionId, SessionStatus, SessionSummary,
};
use crate::tui::app::{App, External, Overlay, Screen};

/// The resolve fixture with times on its events and tokens streamed, so the
/// metrics have something to draw: phases one to five seconds apart, a retry.
fn with_metrics() -> App {
    let (mut app, mut f) = at_resolve();
    app.agents[1].budget_usd = Some(0.05);
    let mut m = crate::tui::metrics::Metrics::default();
    let at = |s: u32| format!("2026-11-21T12:00:{s:02}Z");
    let session = SessionId::parse("3f2a00c0ffee").unwrap();
    let mut seq = 0;
    let mut ev = |m: &mut crate::tui::metrics::Metrics, s: u32, body: EventBody| {
        seq += 1;
        m.apply(&LoggedEvent {
            v: 1,
            seq,
            session: session.clone(),
            at: at(s),
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
            },
        );
    }
    app.metrics = m;
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
fn history_opened() -> App {
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
fn searched() -> App {
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
                .draw(|frame| crate::tui::view::draw(&mut main, frame))
                .unwrap();
            if (w <= 44 && h <= 14) || (u32::from(w) * 61 + u32::from(h)) % 13 == 0 {
                for app in screens.iter_mut() {
                    terminal
                        .draw(|frame| crate::tui::view::draw(app, frame))
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
fn the_palette_filters_and_runs_actions() {
    let mut app = at_deliver();
    app.focus = crate::tui::app::Focus::Agents;
    app.on_key(key(':'));
    assert!(matches!(app.overlay, Some(Overlay::Palette(_))));
    for c in "commit msg".chars() {
        app.on_key(key(c));
    }
    app.on_key(code(KeyCode::Backspace));
    app.on_key(key('g'));
    app.on_key(code(KeyCode::Enter));
    // "edit the commit message" runs in the files view and opens its editor.
    assert_eq!(app.screen, Screen::Files);
    assert!(matches!(app.overlay, Some(Overlay::Editor(_))));
    app.on_key(code(KeyCode::Esc));
    app.on_key(key(':'));
    for c in "metrics".chars() {
        app.on_key(key(c));
    }
    app.on_key(code(KeyCode::Enter));
    assert_eq!(app.screen, Screen::Metrics);
    assert!(app.overlay.is_none());
    // Esc closes the palette without running anything.
    app.on_key(key(':'));
    app.on_key(key('q'));
    app.on_key(code(KeyCode::Esc));
    assert!(app.overlay.is_none() && !app.quit);
}

#[test]
fn search_asks_the_store_jumps_and_steps_through_matches() {
    let mut app = searched();
    let s = app.search.clone().unwrap();
    assert_eq!(s.positions.len(), 2, "{:?}", s.positions);
    let text = screen_text(&render(&mut app, 120, 40));
    assert!(text.contains("match"), "{text}");
    // The highlighted cells carry ui.search.match.
    let t = render(&mut app, 120, 40);
    let buf = t.backend().buffer();
    let hit = app.theme.style("ui.search.match");
    let highlighted = (0..buf.area.height)
        .flat_map(|y| (0..buf.area.width).map(move |x| (x, y)))
        .filter(|p| buf[*p].style().bg == hit.bg && buf[*p].style().fg == hit.fg)
        .count();
    assert!(highlighted >= 6, "{highlighted} highlighted cells");
    let before = app.search.as_ref().unwrap().current;
    app.on_key(key('n'));
    let after = app.search.as_ref().unwrap().current;
    assert_ne!(before, after);
    app.on_key(key('N'));
    assert_eq!(app.search.as_ref().unwrap().current, before);
    // Another tab has no search: n says so instead of jumping.
    app.on_key(key(']'));
    app.on_key(key('n'));
    assert!(app.toast.as_ref().unwrap().text.contains("no search"));
    // A stale answer is dropped.
    app.on_key(key('['));
    let current = app.search.clone();
    app.on_event(Event::SearchResults {
        req: 999,
        agent: None,
        query: "SQLite".into(),
        positions: vec![1],
        truncated: false,
    });
    assert_eq!(app.search, current);
}

#[test]
fn a_far_search_match_pages_the_window_from_the_store() {
    let (mut app, mut f) = at_resolve();
    app.focus = crate::tui::app::Focus::Transcript;
    let texts: Vec<String> = (0..6000).map(|i| format!("line {i}")).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    f.lines(&mut app, "qa", "t", LineKind::Text, &refs);
    let _ = render(&mut app, 80, 24);
    app.on_key(key('/'));
    app.on_key(key('x'));
    app.on_key(code(KeyCode::Enter));
    let req = match app.outbox.pop() {
        Some(Op::SearchTranscript { req, .. }) => req,
        other => panic!("{other:?}"),
    };
    app.on_event(Event::SearchResults {
        req,
        agent: None,
        query: "x".into(),
        positions: vec![3],
        truncated: true,
    });
    match app.outbox.pop() {
        Some(Op::LoadTranscript {
            agent: None,
            from_seq: 0,
            ..
        }) => {}
        other => panic!("expected a page around the match, got {other:?}"),
    }
    assert!(app.search.as_ref().unwrap().status().contains("1/1+"));
}

#[test]
fn history_lists_and_opens_a_past_session_read_only() {
    let app = history_opened();
    let opened = app.past.opened.as_ref().unwrap();
    let folded = opened.view.as_ref().unwrap().as_ref().unwrap();
    let (view, metrics) = (&folded.0, &folded.1);
    assert_eq!(view.prompt, "Build a URL shortener REST API with tests");
    assert_eq!(view.status, Some(SessionStatus::Succeeded));
    assert_eq!(view.conflicts.len(), 2);
    assert!(view.conflicts.iter().all(|c| c.decision.is_some()));
    assert_eq!(view.files.len(), 2);
    assert_eq!(metrics.phases.len(), 9);
    // Read-only: keys that act on a session send nothing from here.
    let mut app = app;
    app.outbox.clear();
    for k in ['a', 'C', ' ', 'p'] {
        app.on_key(key(k));
    }
    assert!(app.outbox.is_empty(), "{:?}", app.outbox);
    // The live session is untouched by the fold.
    assert_eq!(app.session.prompt, "Build a CLI todo app");
    // An error reading the store is shown, not lost.
    app.on_key(code(KeyCode::Enter));
    let (session, req) = match app.outbox.pop() {
        Some(Op::LoadSession { session, req }) => (session, req),
        other => panic!("{other:?}"),
    };
    app.on_event(Event::SessionLoaded {
        req,
        session,
        events: Err("state db record … does not decode".into()),
    });
    let text = screen_text(&render(&mut app, 120, 40));
    assert!(text.contains("does not decode"), "{text}");
}

#[test]
fn e_hands_the_staged_file_to_the_editor_and_sends_a_change_back() {
    let mut app = at_deliver();
    app.on_key(key('f'));
    let req = match app.outbox.pop() {
        Some(Op::LoadFile { req, .. }) => req,
        other => panic!("{other:?}"),
    };
    // Before the content arrives, e only loads it.
    app.on_key(key('e'));
    assert!(app.external.is_none());
    app.outbox.clear();
    app.on_event(Event::FileLoaded {
        req,
        file: Ok(crate::protocol::FileView {
            path: ".gitignore".into(),
            content: "__pycache__/\n".into(),
            diff: None,
        }),
    });
    app.on_key(key('e'));
    let (path, content) = match app.external.take() {
        Some(External::Edit { path, content }) => (path, content),
        other => panic!("expected an edit, got {other:?}"),
    };
    assert_eq!(
        (path.as_str(), content.as_str()),
        (".gitignore", "__pycache__/\n")
    );
    app.edited(&path, &content, Ok(content.clone()));
    assert!(app.outbox.is_empty(), "an unchanged file sends nothing");
    app.edited(&path, &content, Err("`vi` exited with 1".into()));
    assert!(app.toast.as_ref().unwrap().error);
    app.edited(&path, &content, Ok("__pycache__/\n*.db\n".into()));
    assert_eq!(
        app.outbox.pop(),
        Some(Op::AcceptEdited {
            path: ".gitignore".into(),
            content: "__pycache__/\n*.db\n".into()
        })
    );
    // The answer updates the entry and reloads the preview.
    app.on_event(Event::FileEdited {
        path: ".gitignore".into(),
        bytes: 18,
    });
    assert_eq!(app.session.files[".gitignore"].bytes, 18);
    assert!(matches!(app.outbox.pop(), Some(Op::LoadFile { path, .. }) if path == ".gitignore"));
    // A refused path cannot be edited.
    app.on_key(key('G'));
    app.on_key(key('e'));
    assert!(app.external.is_none());
}

#[test]
fn ctrl_z_asks_the_run_loop_to_suspend_from_anywhere() {
    let ctrl_z = KeyEvent::new(KeyCode::Char('z'), KeyModifiers::CONTROL);
    let mut idle = app();
    idle.on_key(ctrl_z);
    assert_eq!(
        idle.external,
        Some(External::Suspend),
        "from the prompt editor"
    );
    let (mut a, _) = at_resolve();
    a.on_key(key('c'));
    a.on_key(ctrl_z);
    assert_eq!(a.external, Some(External::Suspend));
}

#[test]
fn the_mouse_wheel_scrolls_only_when_enabled() {
    let (mut app, mut f) = at_resolve();
    let texts: Vec<String> = (0..100).map(|i| format!("line {i}")).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    f.lines(&mut app, "qa", "t", LineKind::Text, &refs);
    let _ = render(&mut app, 80, 24);
    let area = app.frame.transcript_area;
    let wheel = MouseEvent {
        kind: MouseEventKind::ScrollUp,
        column: area.x + 2,
        row: area.y + 1,
        modifiers: KeyModifiers::NONE,
    };
    app.on_mouse(wheel);
    assert!(app.transcripts.window().following, "mouse is opt-in");
    app.options.mouse = true;
    app.on_mouse(MouseEvent { row: 0, ..wheel });
    assert!(app.transcripts.window().following, "outside the transcript");
    app.on_mouse(wheel);
    assert!(!app.transcripts.window().following);
    let bottom = app.transcripts.window().bottom_pos();
    app.on_mouse(MouseEvent {
        kind: MouseEventKind::ScrollDown,
        ..wheel
    });
    assert!(app.transcripts.window().bottom_pos() > bottom || app.transcripts.window().following);
}

#[test]
fn key_overrides_change_what_keys_do_and_what_the_screen_says() {
    let mut over = std::collections::BTreeMap::new();
    over.insert("files.commit".to_string(), vec!["ctrl-s".to_string()]);
    over.insert("outside.metrics".to_string(), vec!["m".to_string()]);
    let mut app = at_deliver();
    app.keymap = Keymap::default().with_overrides(&over).unwrap();
    app.focus = crate::tui::app::Focus::Agents;
    app.on_key(key('m'));
    assert_eq!(app.screen, Screen::Metrics);
    app.on_key(key('f'));
    app.on_key(key('C'));
    assert!(!app.outbox.iter().any(|op| matches!(op, Op::Commit { .. })));
    app.on_key(KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL));
    assert!(matches!(app.outbox.pop(), Some(Op::Commit { .. })));
    app.on_key(key('?'));
    let text = screen_text(&render(&mut app, 120, 40));
    assert!(
        text.contains("ctrl-s"),
        "the help shows the override:\n{text}"
    );
}

#[test]
fn the_spinner_ticks_at_most_ten_times_a_second_and_idle_wakes_nothing() {
    let (mut app, mut f) = at_resolve();
    app.toast = None;
    let now = std::time::Instant::now();
    assert_eq!(app.next_wake(now), None, "idle: no timer at all");
    f.task(
        &mut app,
        "implement.core",
        "backend",
        "implement",
        "store",
        false,
    );
    app.toast = None;
    let wake = app.next_wake(now).unwrap();
    assert!(wake >= now + crate::tui::app::SPIN);
    let before = app.frame.spinner;
    assert!(app.tick(wake));
    assert_eq!(app.frame.spinner, before + 1);
    // A toast alone wakes once, when it expires.
    let (mut quiet, _) = at_resolve();
    quiet.toast("hello", false);
    let at = quiet.toast.as_ref().unwrap().at;
    assert_eq!(quiet.next_wake(now), Some(at + crate::tui::app::TOAST_FOR));
    assert!(quiet.tick(at + crate::tui::app::TOAST_FOR));
    assert_eq!(quiet.next_wake(now), None);
}

#[test]
fn streamed_tokens_feed_the_metrics_and_the_partial_line() {
    let (mut app, mut f) = at_resolve();
    f.task(
        &mut app,
        "implement.core",
        "backend",
        "implement",
        "store",
        false,
    );
    for chunk in ["def add(", "store, title", "):\n    pass"] {
        app.on_event(Event::Token {
            agent: "backend".into(),
            task: "implement.core".into(),
            text: chunk.into(),
        });
    }
    assert_eq!(app.metrics.token_events, 3);
    assert!(app.metrics.agents["backend"].buckets.iter().sum::<u64>() >= 3);
    assert_eq!(app.transcripts.partials(), vec![("backend", "    pass")]);
    // The end of the session is what the run loop logs the terminal bytes at.
    f.ev(
        &mut app,
        EventBody::SessionFinished {
            status: SessionStatus::Cancelled,
            tokens_in: 1,
            tokens_out: 1,
            cost_usd: 0.0,
        },
    );
    assert!(!app.animating());
}

#[test]
fn a_streaming_line_keeps_to_one_row_so_rows_above_never_move() {
    let (mut app, mut f) = at_resolve();
    f.task(
        &mut app,
        "implement.core",
        "backend",
        "implement",
        "store",
        false,
    );
    app.focus = crate::tui::app::Focus::Transcript;
    let before = screen_text(&render(&mut app, 80, 24));
    let mut text = String::new();
    for i in 0..40 {
        let word = format!(" word{i}");
        text.push_str(&word);
        app.on_event(Event::Token {
            agent: "backend".into(),
            task: "implement.core".into(),
            text: word,
        });
        let screen = screen_text(&render(&mut app, 80, 24));
        let rows: Vec<&str> = screen.lines().collect();
        // The pane's last text row (above its border and the status bar) is
        // the streaming line; every row above it is one row higher than
        // before the stream started, and stays there.
        let last = rows[rows.len() - 3];
        assert!(last.contains("backend  ▸"), "{screen}");
        assert!(last.contains(&format!("word{i}")), "{screen}");
        let old: Vec<&str> = before.lines().collect();
        assert_eq!(rows[9..rows.len() - 3], old[10..old.len() - 2], "{screen}");
    }
    assert!(text.len() > 200, "the line wrapped several times");
    let screen = screen_text(&render(&mut app, 80, 24));
    assert!(
        screen.contains("▸ …"),
        "a wrapped streaming line starts with …:\n{screen}"
    );
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
