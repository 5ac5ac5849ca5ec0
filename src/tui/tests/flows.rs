//! Key → op flows of the newer features: the palette, transcript search
//! (incl. paging to a far match), the history view, `$EDITOR`, Ctrl-Z, the
//! mouse, key overrides, the spinner's wake-ups, streamed tokens.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};

use super::screens::{history_opened, searched};
use super::{app, at_deliver, at_resolve, code, implementing, key, render, screen_text};
use crate::config::keymap::Keymap;
use crate::protocol::{Event, EventBody, LineKind, Op, SessionStatus};
use crate::tui::app::{External, Overlay, Screen};

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
    assert!(app.overlay.is_none() && !app.run.quit);
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
    let opened = app.screens.past.opened.as_ref().unwrap();
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
    assert!(app.run.external.is_none());
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
    let (path, content) = match app.run.external.take() {
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
    assert!(app.run.external.is_none());
}

#[test]
fn ctrl_z_asks_the_run_loop_to_suspend_from_anywhere() {
    let ctrl_z = KeyEvent::new(KeyCode::Char('z'), KeyModifiers::CONTROL);
    let mut idle = app();
    idle.on_key(ctrl_z);
    assert_eq!(
        idle.run.external,
        Some(External::Suspend),
        "from the prompt editor"
    );
    let (mut a, _) = at_resolve();
    a.on_key(key('c'));
    a.on_key(ctrl_z);
    assert_eq!(a.run.external, Some(External::Suspend));
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
    app.about.options.mouse = true;
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
fn the_spinner_turns_with_a_streaming_replys_frames_and_adds_none() {
    let (mut app, _) = implementing();
    app.toast = None;
    let spin = crate::tui::app::SPIN;
    let start = std::time::Instant::now();
    let first = app.frame.spinner;
    // Frames every 50 ms for a second, as a streaming reply draws them: the
    // spinner's own wake-up always falls after the next of them …
    let step = std::time::Duration::from_millis(50);
    for k in 0..20u32 {
        let now = start + step * k;
        app.before_frame(now);
        let wake = app.next_wake(now).unwrap();
        assert!(
            wake > now + step,
            "frame {k}: the spinner would wake at +{:?}",
            wake - now
        );
    }
    // … and it turned every 100 ms all the same.
    assert_eq!(app.frame.spinner - first, 10);
    // No frames: it wakes SPIN after the last one and turns then.
    let last = start + step * 19;
    let wake = app.next_wake(last).unwrap();
    assert_eq!(wake, last + spin);
    assert!(app.tick(wake));
    assert_eq!(app.frame.spinner - first, 11);
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
    // Another tick before SPIN has passed moves nothing.
    assert!(!app.tick(wake + crate::tui::app::SPIN / 2));
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
    let (mut app, mut f) = implementing();
    for chunk in ["def add(", "store, title", "):\n    pass"] {
        app.on_event(Event::Token {
            agent: "backend".into(),
            task: "implement.core".into(),
            text: chunk.into(),
        });
    }
    assert_eq!(app.screens.metrics.token_events, 3);
    assert!(
        app.screens.metrics.agents["backend"]
            .buckets
            .iter()
            .sum::<u64>()
            >= 3
    );
    let partials = app.transcripts.partials();
    assert_eq!(partials.len(), 1);
    assert_eq!(partials[0].agent, "backend");
    assert_eq!(partials[0].lines, vec![("def add(store, title):", false)]);
    assert_eq!(partials[0].tail, "    pass");
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
fn a_streaming_line_shows_wrapped_as_it_will_stay_once_complete() {
    let (mut app, mut f) = implementing();
    app.focus = crate::tui::app::Focus::Transcript;
    let before = screen_text(&render(&mut app, 80, 24));
    let old: Vec<&str> = before.lines().collect();
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
        // The pane's last text rows (above its border and the status bar)
        // are the streaming line, wrapped; the rows above it are the rows
        // from before the stream, moved up by as many rows.
        let wrapped = crate::tui::transcript::wrap(&text, 80 - 2 - 11, false);
        let n = wrapped.len();
        // (The status bar may take more than one row.)
        let end = rows.iter().rposition(|r| r.starts_with('╰')).unwrap();
        assert!(rows[end - n].contains("backend  ▸"), "{screen}");
        for (row, part) in rows[end - n..end].iter().zip(&wrapped) {
            assert!(row.contains(part.as_str()), "{part:?}:\n{screen}");
        }
        assert_eq!(rows[9..end - n], old[9 + n..end], "{screen}");
    }
    assert!(text.len() > 200, "the line wrapped several times");
    // The line completes: the screen does not change.
    let streaming = screen_text(&render(&mut app, 80, 24));
    app.on_event(Event::Token {
        agent: "backend".into(),
        task: "implement.core".into(),
        text: "\n".into(),
    });
    f.lines(
        &mut app,
        "backend",
        "implement.core",
        LineKind::Text,
        &[&text],
    );
    assert_eq!(screen_text(&render(&mut app, 80, 24)), streaming);
}

#[test]
fn durable_copies_of_streamed_lines_leave_the_screen_as_is() {
    let (mut app, mut f) = implementing();
    app.focus = crate::tui::app::Focus::Transcript;
    let token = |text: &str| Event::Token {
        agent: "backend".into(),
        task: "implement.core".into(),
        text: text.into(),
    };
    for chunk in ["def add(", "store,\ttitle):\n", "    pass\n", "    retu"] {
        app.on_event(token(chunk));
    }
    let streaming = render(&mut app, 120, 40);
    // The two complete lines arrive durable, as the actor cut them (the tab
    // unexpanded): nothing changes on screen, cell for cell.
    let settle = f.lines_event(
        "backend",
        "implement.core",
        LineKind::Text,
        &["def add(store,\ttitle):", "    pass"],
    );
    assert!(app.leaves_screen_as_is(&settle));
    app.on_event(settle);
    let settled = render(&mut app, 120, 40);
    assert_eq!(settled.backend().buffer(), streaming.backend().buffer());

    app.on_event(token("rn x\n"));
    let mut cases = vec![
        // More lines than the partial holds complete.
        f.lines_event(
            "backend",
            "implement.core",
            LineKind::Text,
            &["    return x", "more"],
        ),
        // Not the text streamed.
        f.lines_event(
            "backend",
            "implement.core",
            LineKind::Text,
            &["    return y"],
        ),
        // Not a model's text line.
        f.lines_event(
            "backend",
            "implement.core",
            LineKind::Note,
            &["    return x"],
        ),
        // A task that streamed nothing.
        f.lines_event(
            "backend",
            "implement.other",
            LineKind::Text,
            &["    return x"],
        ),
        // Not lines at all.
        token("more"),
    ];
    // The line that ends the call.
    let mut ends = f.lines_event(
        "backend",
        "implement.core",
        LineKind::Text,
        &["    return x"],
    );
    if let Event::TranscriptAppended { lines } = &mut ends {
        lines[0].ends_call = true;
    }
    cases.push(ends);
    for event in &cases {
        assert!(!app.leaves_screen_as_is(event), "{event:?}");
    }
    let returns = f.lines_event(
        "backend",
        "implement.core",
        LineKind::Text,
        &["    return x"],
    );
    assert!(app.leaves_screen_as_is(&returns));
    // Scrolled back from the live end, lines are not judged.
    app.on_key(key('k'));
    assert!(!app.transcripts.window().following);
    assert!(!app.leaves_screen_as_is(&returns));
}
