//! TUI tests: key → op flows on the `App`, and whole screens rendered on
//! ratatui's `TestBackend`, snapshotted with insta at 80x24 and 120x40, from a
//! deterministic session fixture (no orchestrator, no clock).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod controls;
mod fixture;
mod flows;
mod paths;
mod screens;
mod sessions;

use self::fixture::*;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::app::{Overlay, Screen};
use crate::protocol::{Event, EventBody, FileView, LineKind, Op, SessionStatus, TranscriptLine};

#[test]
fn snapshots_of_every_view_at_80x24_and_120x40() {
    for (w, h) in [(80u16, 24u16), (120, 40)] {
        let mut empty = app();
        insta::assert_snapshot!(
            format!("main_empty_{w}x{h}"),
            render(&mut empty, w, h).backend()
        );

        let (mut resolve, _) = at_resolve();
        resolve.focus = super::app::Focus::Transcript;
        insta::assert_snapshot!(
            format!("main_resolve_{w}x{h}"),
            render(&mut resolve, w, h).backend()
        );

        resolve.on_key(key('c'));
        resolve.on_key(code(KeyCode::Right));
        insta::assert_snapshot!(
            format!("conflicts_{w}x{h}"),
            render(&mut resolve, w, h).backend()
        );

        resolve.on_key(key('o'));
        for c in "simpler to back up".chars() {
            resolve.on_key(key(c));
        }
        insta::assert_snapshot!(
            format!("override_editor_{w}x{h}"),
            render(&mut resolve, w, h).backend()
        );

        let mut deliver = at_deliver();
        deliver.on_key(key('f'));
        deliver.on_key(key('j'));
        deliver.on_key(key('j'));
        deliver.on_key(key('j'));
        let req = match deliver.outbox.last() {
            Some(Op::LoadFile { req, .. }) => *req,
            other => panic!("expected a file load, got {other:?}"),
        };
        deliver.on_event(Event::FileLoaded {
            req,
            file: Ok(FileView {
                path: "tests/test_store.py".into(),
                content: "\"\"\"Tests for the store.\"\"\"\n\nimport unittest\n\n\nclass StoreTest(unittest.TestCase):\n    def test_empty(self):\n        self.assertEqual([], [])  # nothing yet\n".into(),
                diff: None,
            }),
        });
        insta::assert_snapshot!(
            format!("files_{w}x{h}"),
            render(&mut deliver, w, h).backend()
        );

        deliver.on_key(key('?'));
        insta::assert_snapshot!(
            format!("help_{w}x{h}"),
            render(&mut deliver, w, h).backend()
        );
        if w == 80 {
            deliver.on_key(key('G'));
            let t = render(&mut deliver, w, h);
            assert!(
                screen_text(&t).contains("commit"),
                "scrolled help shows the last bindings"
            );
            assert!(deliver.frame.help_max_scroll > 0);
        }
    }
}

#[test]
fn a_tiny_terminal_says_so() {
    let t = render(&mut app(), 39, 12);
    assert!(screen_text(&t).contains("terminal too small (need 40x12)"));
    let t = render(&mut app(), 20, 5);
    let text = screen_text(&t);
    assert!(
        text.contains("terminal too") && text.contains("(need 40x12)"),
        "{text}"
    );
    let t = render(&mut app(), 40, 12);
    assert!(!screen_text(&t).contains("too small"));
}

#[test]
fn the_offline_label_and_selected_option_are_styled() {
    let (mut app, _) = at_resolve();
    app.on_key(key('c'));
    app.on_key(code(KeyCode::Right));
    let t = render(&mut app, 120, 40);
    let text = screen_text(&t);
    let first_line: String = text.lines().next().unwrap().to_string();
    let at = first_line
        .find("offline (simulated)")
        .expect("the header names the offline provider");
    let x = first_line[..at].chars().count() as u16;
    let buf = t.backend().buffer();
    assert_eq!(
        buf[(x, 0)].style().fg,
        app.theme.style("ui.statusbar.offline").fg
    );
    // The selected option's header ("sqlite · 2 votes") carries the selected style.
    let (sx, sy) = (0..buf.area.height)
        .find_map(|y| {
            let row: String = (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect();
            row.find(" sqlite · 2 votes")
                .map(|i| (row[..i].chars().count() as u16 + 1, y))
        })
        .unwrap();
    assert_eq!(
        buf[(sx, sy)].style().bg,
        app.theme.style("conflict.option.selected").bg
    );
}

#[test]
fn conflict_keys_send_picks_accepts_and_overrides() {
    let (mut app, _) = at_resolve();
    app.on_key(key('c'));
    assert_eq!(app.screen, Screen::Conflicts);
    app.on_key(code(KeyCode::Right));
    app.on_key(code(KeyCode::Enter));
    assert_eq!(
        app.outbox.pop(),
        Some(Op::Pick {
            conflict: "storage".into(),
            option: "sqlite".into()
        })
    );
    app.on_key(key('a'));
    assert_eq!(app.outbox.pop(), Some(Op::AcceptVotes));
    app.on_key(key('j'));
    app.on_key(key('o'));
    assert!(matches!(app.overlay, Some(Overlay::Editor(_))));
    // An empty note is refused; the editor stays.
    app.on_key(code(KeyCode::Enter));
    assert!(app.outbox.is_empty());
    assert!(matches!(app.overlay, Some(Overlay::Editor(_))));
    for c in "security".chars() {
        app.on_key(key(c));
    }
    app.on_key(code(KeyCode::Enter));
    assert_eq!(
        app.outbox.pop(),
        Some(Op::Override {
            conflict: "api".into(),
            option: "rest".into(),
            note: "security".into()
        })
    );
    assert!(app.overlay.is_none());
    app.on_key(code(KeyCode::Esc));
    assert_eq!(app.screen, Screen::Main);
}

#[test]
fn file_keys_preview_toggle_and_commit() {
    let mut app = at_deliver();
    app.on_key(key('f'));
    assert!(matches!(app.outbox.pop(), Some(Op::LoadFile { path, .. }) if path == ".gitignore"));
    app.on_key(key(' '));
    assert_eq!(
        app.outbox.pop(),
        Some(Op::SetFileAccepted {
            path: ".gitignore".into(),
            accepted: false
        })
    );
    // Unedited, the message is generated again at the commit (with the
    // file counts of that moment).
    app.on_key(key('C'));
    assert_eq!(
        app.outbox.pop(),
        Some(Op::Commit {
            message: None,
            allow_secrets: false,
        })
    );
    app.on_key(key('m'));
    app.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::ALT));
    for c in "More.".chars() {
        app.on_key(key(c));
    }
    app.on_key(code(KeyCode::Enter));
    assert!(
        app.screens
            .commit_message
            .as_deref()
            .unwrap()
            .ends_with("Storage engine: sqlite\nMore.")
    );
    app.on_key(key('C'));
    assert_eq!(
        app.outbox.pop(),
        Some(Op::Commit {
            message: app.screens.commit_message.clone(),
            allow_secrets: false,
        }),
        "an edited message is sent as written"
    );
}

#[test]
fn the_prompt_submits_on_enter_keeps_newlines_and_pastes_without_submitting() {
    let mut app = app();
    for c in "Build".chars() {
        app.on_key(key(c));
    }
    app.on_key(KeyEvent::new(KeyCode::Char('j'), KeyModifiers::CONTROL));
    app.on_paste("a todo app\nwith tags");
    assert!(app.outbox.is_empty(), "a paste never submits");
    app.on_key(code(KeyCode::Enter));
    match app.outbox.pop() {
        Some(Op::Start { prompt, options }) => {
            assert_eq!(prompt, "Build\na todo app\nwith tags");
            assert!(options.interactive);
        }
        other => panic!("expected start, got {other:?}"),
    }
    // At start, Enter gives the (empty) prompt editor the keys; an empty
    // prompt is then refused with a message, not sent.
    let mut app2 = super::tests::app();
    app2.on_key(code(KeyCode::Enter));
    assert!(app2.prompt_active && app2.toast.is_none());
    app2.on_key(code(KeyCode::Enter));
    assert!(app2.outbox.is_empty());
    assert!(app2.toast.as_ref().unwrap().error);
}

#[test]
fn at_start_question_mark_and_q_act_until_the_person_types_or_presses_enter_or_i() {
    // `?` opens the help, not a `?` in the prompt.
    let mut app = app();
    app.on_key(key('?'));
    assert!(matches!(app.overlay, Some(Overlay::Help { .. })));
    assert!(app.prompt.is_empty());
    let text = screen_text(&render(&mut app, 80, 24));
    assert!(text.contains("keys —"), "{text}");
    app.on_key(code(KeyCode::Esc));
    assert!(app.overlay.is_none());
    // The status bar says how to start writing.
    let text = screen_text(&render(&mut app, 80, 24));
    assert!(text.contains("write the prompt"), "{text}");
    // `q` quits (no session runs).
    app.on_key(key('q'));
    assert!(app.run.quit);
    // `i` gives the editor the keys: `?` and `q` are then typed.
    let mut app = super::tests::app();
    app.on_key(key('i'));
    assert!(app.prompt_active && app.prompt.is_empty());
    app.on_key(key('?'));
    app.on_key(key('q'));
    assert_eq!(app.prompt.lines().join(""), "?q");
    assert!(!app.run.quit && app.overlay.is_none());
    // Typing starts the prompt with that character.
    let mut app = super::tests::app();
    app.on_key(key('B'));
    app.on_key(key('q'));
    assert_eq!(app.prompt.lines().join(""), "Bq");
    assert!(!app.run.quit);
}

#[test]
fn a_nul_in_the_prompt_is_refused_at_once() {
    let mut app = app();
    app.on_paste("Build a tool\0 that counts");
    assert!(app.prompt.is_empty(), "nothing of the paste is inserted");
    let toast = app.toast.clone().unwrap();
    assert!(toast.error && toast.text.contains("NUL"), "{}", toast.text);
    // A NUL that got in some other way stops the start, with the same words.
    app.submit_prompt("Build\0");
    assert!(app.outbox.is_empty());
    assert!(app.toast.as_ref().unwrap().text.contains("NUL"));
    // A clean paste goes in and gives the editor the keys.
    app.on_paste("Build a tool");
    assert!(app.prompt_active);
    assert_eq!(app.prompt.lines().join(""), "Build a tool");
}

#[test]
fn without_a_sandbox_a_new_session_asks_before_running_model_written_code() {
    let submit = |app: &mut super::app::App| {
        for c in "Build a todo app".chars() {
            app.on_key(key(c));
        }
        app.on_key(code(KeyCode::Enter));
    };
    let mut app = app();
    app.gate.unconfined = Some("creating namespaces (clone): No space left on device".into());
    submit(&mut app);
    assert!(app.outbox.is_empty(), "nothing starts before the answer");
    assert!(
        matches!(&app.overlay, Some(Overlay::ConfirmUnconfined { prompt }) if prompt == "Build a todo app")
    );
    let screen = screen_text(&render(&mut app, 80, 24));
    assert!(screen.contains("cannot confine"), "{screen}");
    assert!(screen.contains("No space left on device"), "{screen}");
    // Another key keeps asking; `y` starts the session, allowed unconfined.
    app.on_key(key('x'));
    assert!(app.outbox.is_empty());
    app.on_key(key('y'));
    match app.outbox.pop() {
        Some(Op::Start { options, .. }) => assert!(options.allow_unconfined),
        other => panic!("expected start, got {other:?}"),
    }

    // `n` starts it under the rule (it stops before running that code);
    // Esc goes back to the prompt and starts nothing.
    let mut app = super::tests::app();
    app.gate.unconfined = Some("no user namespaces".into());
    submit(&mut app);
    app.on_key(code(KeyCode::Esc));
    assert!(app.overlay.is_none() && app.outbox.is_empty());
    app.on_key(code(KeyCode::Enter));
    app.on_key(key('n'));
    match app.outbox.pop() {
        Some(Op::Start { options, .. }) => assert!(!options.allow_unconfined),
        other => panic!("expected start, got {other:?}"),
    }

    // With a sandbox, nothing is asked.
    let mut app = super::tests::app();
    submit(&mut app);
    assert!(
        matches!(app.outbox.pop(), Some(Op::Start { options, .. }) if !options.allow_unconfined)
    );
}

#[test]
fn quitting_asks_while_a_session_runs_and_ctrl_c_cancels_then_quits() {
    let (mut app, mut f) = at_resolve();
    app.focus = super::app::Focus::Agents;
    app.on_key(key('q'));
    assert!(matches!(app.overlay, Some(Overlay::ConfirmQuit)));
    app.on_key(key('n'));
    assert!(!app.run.quit);
    // Ctrl-C asks first; n keeps the session; a second Ctrl-C cancels it.
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    app.on_key(ctrl_c);
    assert!(matches!(app.overlay, Some(Overlay::ConfirmCancel)));
    assert!(
        app.outbox.is_empty(),
        "nothing is cancelled before the answer"
    );
    let text = screen_text(&render(&mut app, 80, 24));
    assert!(text.contains("Cancel it?"), "{text}");
    app.on_key(key('n'));
    assert!(app.overlay.is_none() && app.outbox.is_empty());
    app.on_key(ctrl_c);
    app.on_key(ctrl_c);
    assert_eq!(app.outbox.pop(), Some(Op::CancelSession));
    assert!(!app.run.quit);
    // Once the session has stopped, Ctrl-C quits, and the way back is named.
    f.ev(
        &mut app,
        EventBody::SessionFinished {
            status: SessionStatus::Cancelled,
            tokens_in: 0,
            tokens_out: 0,
            cost_usd: 0.0,
        },
    );
    app.on_key(ctrl_c);
    assert!(app.run.quit);
    let hint = app.resume_hint(None).unwrap();
    assert_eq!(
        hint,
        format!(
            "quorum: session {} is cancelled; resume it with: quorum resume {}",
            app.session.id, app.session.id
        )
    );
    assert!(
        app.resume_hint(Some("/tmp/my dir"))
            .unwrap()
            .ends_with(" --dir '/tmp/my dir'")
    );

    let mut idle = super::tests::app();
    idle.on_key(code(KeyCode::Esc));
    assert_eq!(
        idle.focus,
        super::app::Focus::Agents,
        "Esc leaves the prompt editor"
    );
    idle.on_key(key('q'));
    assert!(idle.run.quit);
}

#[test]
fn agent_keys_target_the_selected_agents_tasks() {
    let (mut app, mut f) = implementing();
    app.on_key(code(KeyCode::Tab));
    assert_eq!(
        app.focus,
        super::app::Focus::Prompt,
        "Tab goes transcript → prompt"
    );
    app.on_key(code(KeyCode::Tab));
    assert_eq!(app.focus, super::app::Focus::Agents);
    app.on_key(key('j'));
    app.on_key(key('p'));
    assert_eq!(
        app.outbox.pop(),
        Some(Op::PauseTask {
            task: "implement.core".into()
        })
    );
    f.ev(
        &mut app,
        EventBody::TaskPaused {
            task: "implement.core".into(),
            agent: "backend".into(),
            phase: "implement".into(),
        },
    );
    app.on_key(key('p'));
    assert_eq!(
        app.outbox.pop(),
        Some(Op::ResumeTask {
            task: "implement.core".into()
        })
    );
    app.on_key(key('x'));
    assert_eq!(
        app.outbox.pop(),
        Some(Op::CancelTask {
            task: "implement.core".into()
        })
    );
    f.ev(
        &mut app,
        EventBody::TaskFailed {
            task: "implement.core".into(),
            agent: "backend".into(),
            phase: "implement".into(),
            error: "boom".into(),
        },
    );
    app.on_key(key('r'));
    assert_eq!(
        app.outbox.pop(),
        Some(Op::RetryTask {
            task: "implement.core".into()
        })
    );
}

#[test]
fn the_transcript_pages_back_and_follows_again() {
    let (mut app, mut f) = at_resolve();
    let texts: Vec<String> = (0..6000).map(|i| format!("line {i}")).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    f.lines(&mut app, "qa", "t", LineKind::Text, &refs);
    assert_eq!(
        app.transcripts.window().lines.len(),
        super::transcript::WINDOW_LINES
    );
    app.focus = super::app::Focus::Transcript;
    let _ = render(&mut app, 80, 24);
    // Up pages older lines in before the window's top.
    for _ in 0..(super::transcript::WINDOW_LINES) {
        app.on_key(key('k'));
    }
    let (req, from) = match app.outbox.iter().rev().find_map(|op| match op {
        Op::LoadTranscript {
            agent: None,
            req,
            from_seq,
            ..
        } => Some((*req, *from_seq)),
        _ => None,
    }) {
        Some(found) => found,
        None => panic!("expected a page request, got {:?}", app.outbox),
    };
    app.outbox.clear();
    assert!(from < app.transcripts.window().start);
    assert!(!app.transcripts.window().following);
    // A page arriving for the request extends the window backwards.
    let start = app.transcripts.window().start;
    let page: Vec<TranscriptLine> = (from..start)
        .map(|seq| TranscriptLine {
            seq,
            agent_seq: seq,
            agent: "qa".into(),
            task: "t".into(),
            kind: LineKind::Text,
            text: format!("old {seq}"),
            ends_call: false,
        })
        .collect();
    app.on_event(Event::TranscriptPage {
        req,
        agent: None,
        lines: page,
        total: app.transcripts.window().total,
    });
    assert_eq!(app.transcripts.window().start, from);
    // Home goes to the very first line: the window is refilled from 0.
    app.on_key(code(KeyCode::Home));
    let (req, len) = match app.outbox.pop() {
        Some(Op::LoadTranscript {
            agent: None,
            req,
            from_seq: 0,
            len,
        }) => (req, len),
        other => panic!("expected a page from 0, got {other:?}"),
    };
    assert!(app.transcripts.window().lines.is_empty());
    let page: Vec<TranscriptLine> = (0..len)
        .map(|seq| TranscriptLine {
            seq,
            agent_seq: seq,
            agent: "qa".into(),
            task: "t".into(),
            kind: LineKind::Text,
            text: format!("first {seq}"),
            ends_call: false,
        })
        .collect();
    app.on_event(Event::TranscriptPage {
        req,
        agent: None,
        lines: page,
        total: app.transcripts.window().total,
    });
    let text = screen_text(&render(&mut app, 80, 24));
    assert!(text.contains("first 0"), "{text}");
    // End follows the live end again.
    app.on_key(code(KeyCode::End));
    assert!(app.transcripts.window().following);
    assert!(matches!(app.outbox.pop(), Some(Op::LoadTranscript { .. })));
    app.on_key(key('F'));
    assert!(app.transcripts.window().following);
}

#[test]
fn the_session_end_sets_the_exit_code() {
    let (mut app, mut f) = at_resolve();
    assert_eq!(app.exit_code(), 0);
    f.ev(
        &mut app,
        EventBody::SessionFinished {
            status: SessionStatus::Cancelled,
            tokens_in: 1,
            tokens_out: 2,
            cost_usd: 0.0,
        },
    );
    assert_eq!(app.exit_code(), 3);
    assert!(!app.session.running());
}

#[test]
fn a_token_sooner_than_a_calls_delta_spacing_ends_its_stream() {
    use super::{DELTA_SPACING, StreamEnds};
    use std::time::Duration;
    let token = |task: &str| Event::Token {
        agent: "backend".into(),
        task: task.into(),
        text: "word ".into(),
    };
    let mut ends = StreamEnds::default();
    let t0 = tokio::time::Instant::now();
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    let spacing = DELTA_SPACING.as_millis() as u64;
    // A task's first text, and its deltas a spacing apart, are not ends.
    assert!(!ends.ends(&token("a"), at(0)));
    assert!(!ends.ends(&token("a"), at(spacing)));
    assert!(!ends.ends(&token("a"), at(3 * spacing)));
    // Another task's text does not count for this one.
    assert!(!ends.ends(&token("b"), at(3 * spacing + 5)));
    // Text sooner than the spacing after the task's last: the stream's end.
    assert!(ends.ends(&token("a"), at(3 * spacing + 10)));
    // Other events never end a stream.
    let line = Event::TranscriptAppended { lines: vec![] };
    assert!(!ends.ends(&line, at(3 * spacing + 11)));
    // Tasks long quiet are forgotten, not kept forever.
    for i in 0..200 {
        ends.ends(&token(&format!("t{i}")), at(10_000 + i * spacing));
    }
    assert!(ends.0.len() <= 64, "{}", ends.0.len());
}
