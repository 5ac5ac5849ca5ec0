//! Every path of the TUI leads somewhere (issue 18): hints only for keys that
//! work where they show, every open question announced, the commit message
//! following the accepted files, long messages wrapped, the conflicts'
//! positions scrolled, findings explained, a failed session delivered anyway.

use crossterm::event::KeyCode;

use super::*;
use crate::tui::app::Focus;

/// The status bar's rows (below the last pane), trimmed and joined with spaces.
fn status(app: &mut crate::tui::app::App, w: u16, h: u16) -> String {
    let text = screen_text(&render(app, w, h));
    let mut rows: Vec<&str> = text
        .lines()
        .rev()
        .take_while(|l| !l.starts_with('╰') && !l.starts_with('│'))
        .map(str::trim)
        .collect();
    rows.reverse();
    rows.join(" ")
}

#[test]
fn the_commit_key_is_offered_only_in_the_files_view_where_it_works() {
    for (w, h) in [(80u16, 24u16), (120, 40)] {
        let mut app = at_deliver();
        app.focus = Focus::Transcript;
        let main = screen_text(&render(&mut app, w, h));
        assert!(!main.contains("C commit"), "{w}x{h} main:\n{main}");
        assert!(
            status(&mut app, w, h).contains("f reviews the files and commits them"),
            "{main}"
        );
        app.on_key(key('c'));
        let conflicts = screen_text(&render(&mut app, w, h));
        assert!(!conflicts.contains("C commit"), "{w}x{h}:\n{conflicts}");
        // C does nothing outside the files view.
        app.on_key(key('C'));
        assert!(app.outbox.iter().all(|op| !matches!(op, Op::Commit { .. })));
        app.on_key(code(KeyCode::Esc));
        app.on_key(key('f'));
        let files = status(&mut app, w, h);
        assert!(files.contains("C commit"), "{w}x{h} files: {files}");
        // The secret-scan override shows only once the scan refused a commit.
        assert!(!files.contains("commit despite"), "{files}");
        // Before deliver, the files view offers no commit.
        let (mut early, _) = at_resolve();
        early.on_key(key('f'));
        let text = status(&mut early, w, h);
        assert!(!text.contains("C commit"), "{text}");
    }
}

#[test]
fn at_80x24_every_view_keeps_all_its_key_hints() {
    let mut app = at_deliver();
    app.on_key(key('f'));
    let text = status(&mut app, 80, 24);
    for hint in [
        "? help",
        "C commit",
        "space accept/reject",
        "enter preview",
        "d diff",
        "m commit message",
        "e edit in $EDITOR",
        "esc back",
    ] {
        assert!(text.contains(hint), "{hint} missing: {text}");
    }
    let (mut resolve, _) = at_resolve();
    resolve.on_key(key('c'));
    let text = status(&mut resolve, 80, 24);
    for hint in [
        "option",
        "enter decide",
        "a accept votes",
        "o override + note",
        "n next open",
        "esc back",
    ] {
        assert!(text.contains(hint), "{hint} missing: {text}");
    }
}

#[test]
fn a_long_message_wraps_instead_of_being_cut() {
    let mut app = at_deliver();
    app.on_key(key('f'));
    app.on_event(Event::Rejected {
        op: "commit".into(),
        reason: "1 accepted file(s) look like they hold a secret: todo/settings.py; reject those files, or commit again with the override to commit them anyway".into(),
    });
    let text = status(&mut app, 80, 24);
    assert!(text.contains("todo/settings.py"), "{text}");
    assert!(
        text.contains("in files, ! commits them anyway"),
        "the key shows at 80 columns: {text}"
    );
    assert!(text.contains("! commit despite the secret scan"), "{text}");
}

#[test]
fn every_open_question_is_announced_and_the_next_after_an_answer() {
    let (mut app, mut f) = at_resolve();
    app.focus = Focus::Transcript;
    for (id, text) in [("port", "Which port?"), ("auth", "Add authentication?")] {
        f.ev(
            &mut app,
            EventBody::QuestionAsked {
                id: id.into(),
                text: text.into(),
                default: "no".into(),
            },
        );
    }
    app.toast = None;
    let text = status(&mut app, 80, 24);
    assert!(
        text.contains("question 1 of 2 waits: “Which port?” (1 more after it) — A answers"),
        "{text}"
    );
    app.on_key(key('A'));
    let screen = screen_text(&render(&mut app, 80, 24));
    assert!(screen.contains("question 1 of 2: Which port?"), "{screen}");
    for c in "8080".chars() {
        app.on_key(key(c));
    }
    app.on_key(code(KeyCode::Enter));
    assert_eq!(
        app.outbox.pop(),
        Some(Op::Answer {
            question: "port".into(),
            answer: "8080".into()
        })
    );
    f.ev(
        &mut app,
        EventBody::QuestionAnswered {
            id: "port".into(),
            answer: "8080".into(),
            by: "person".into(),
        },
    );
    // The second is announced at once, and stays in the status bar.
    assert!(
        app.toast
            .as_ref()
            .unwrap()
            .text
            .contains("question 2 of 2 waits: “Add authentication?”")
    );
    app.toast = None;
    let text = status(&mut app, 120, 40);
    assert!(text.contains("question 2 of 2 waits"), "{text}");
    assert!(text.contains("A answer"), "the key is offered: {text}");
    app.on_key(key('A'));
    let screen = screen_text(&render(&mut app, 120, 40));
    assert!(
        screen.contains("question 2 of 2: Add authentication?"),
        "{screen}"
    );
    // In the prompt editor, the way out is named first.
    app.overlay = None;
    app.focus = Focus::Prompt;
    app.prompt_active = true;
    assert!(
        app.questions_status()
            .unwrap()
            .contains("esc, then A answers")
    );
}

#[test]
fn the_commit_message_follows_a_refreshed_delivery_unless_the_person_wrote_one() {
    let mut app = at_deliver();
    let fresh = "quorum: Build a CLI todo app\n\nFiles: 5 (5 new, 0 modified)\n";
    app.on_event(Event::FileDecided {
        path: "tests/test_store.py".into(),
        accepted: false,
    });
    app.on_event(Event::DeliveryReady {
        message: fresh.into(),
    });
    assert_eq!(app.screens.commit_message.as_deref(), Some(fresh));
    assert!(app.toast.is_none(), "a refresh says nothing");
    // The person's own message stays.
    app.screens.commit_message = Some("my words".into());
    app.on_event(Event::DeliveryReady {
        message: "quorum: again\n".into(),
    });
    assert_eq!(app.screens.commit_message.as_deref(), Some("my words"));
    // An unedited message is generated again at the commit itself.
    let mut app = at_deliver();
    app.on_event(Event::DeliveryReady {
        message: fresh.into(),
    });
    app.on_key(key('f'));
    app.on_key(key('C'));
    assert!(matches!(
        app.outbox.pop(),
        Some(Op::Commit { message: None, .. })
    ));
}

#[test]
fn the_conflicts_positions_scroll_when_they_do_not_fit() {
    let (mut app, _) = at_resolve();
    app.on_key(key('c'));
    let text = screen_text(&render(&mut app, 80, 18));
    assert!(text.contains("pgup/pgdn"), "{text}");
    assert!(!text.contains("half-written data"), "{text}");
    for _ in 0..3 {
        app.on_key(code(KeyCode::PageDown));
        render(&mut app, 80, 18);
    }
    let text = screen_text(&render(&mut app, 80, 18));
    assert!(text.contains("half-written data"), "{text}");
    assert_eq!(
        app.screens.conflicts.sel, 0,
        "PgDn scrolls, it does not select"
    );
    for _ in 0..3 {
        app.on_key(code(KeyCode::PageUp));
    }
    let text = screen_text(&render(&mut app, 80, 18));
    assert!(text.contains("“A JSON file is enough"), "{text}");
}

#[test]
fn findings_markers_are_explained_and_listed_with_the_file() {
    let mut app = at_deliver();
    app.on_key(key('f'));
    let text = screen_text(&render(&mut app, 80, 24));
    assert!(text.contains("store.py      !1"), "{text}");
    assert!(text.contains("!N: N review findings"), "{text}");
    // todo/store.py is the last staged file (above the refused one): its
    // findings head its preview.
    app.on_key(key('G'));
    app.on_key(key('k'));
    let text = screen_text(&render(&mut app, 120, 40));
    assert!(
        text.contains("!1 review finding on todo/store.py:"),
        "{text}"
    );
    assert!(text.contains("low (line 12): No authentication."), "{text}");
}

#[test]
fn the_preview_wraps_long_lines() {
    let mut app = at_deliver();
    app.on_key(key('f'));
    app.on_key(key('j'));
    let req = match app.outbox.last() {
        Some(Op::LoadFile { req, .. }) => *req,
        other => panic!("expected a file load, got {other:?}"),
    };
    let long = format!("# {} the end", "word ".repeat(40));
    app.on_event(Event::FileLoaded {
        req,
        file: Ok(FileView {
            path: "README.md".into(),
            content: format!("{long}\n"),
            diff: None,
        }),
    });
    let text = screen_text(&render(&mut app, 80, 24));
    assert!(text.contains("the end"), "the line's end shows:\n{text}");
}

#[test]
fn a_failed_session_resumed_for_delivery_shows_why_it_failed() {
    let id = crate::protocol::SessionId::parse("3f2a00000000").unwrap();
    let mut events = vec![crate::protocol::LoggedEvent {
        v: 1,
        seq: 1,
        session: id.clone(),
        at: String::new(),
        body: EventBody::SessionStarted {
            prompt: "Build a CLI todo app".into(),
            dir: "/d".into(),
            workflow: "default".into(),
            agents: Vec::new(),
        },
    }];
    for (seq, body) in [
        EventBody::Error {
            message: "1 staged file(s) would overwrite existing files in /d: README.md".into(),
        },
        EventBody::SessionFinished {
            status: SessionStatus::Failed,
            tokens_in: 0,
            tokens_out: 0,
            cost_usd: 0.0,
        },
    ]
    .into_iter()
    .enumerate()
    {
        events.push(crate::protocol::LoggedEvent {
            v: 1,
            seq: seq as u64 + 2,
            session: id.clone(),
            at: String::new(),
            body,
        });
    }
    let mut app = app();
    app.on_event(Event::Resumed {
        events,
        lines: 0,
        agent_lines: Default::default(),
    });
    app.on_event(Event::Logged(crate::protocol::LoggedEvent {
        v: 1,
        seq: 4,
        session: id,
        at: String::new(),
        body: EventBody::SessionResumed { from_seq: 4 },
    }));
    app.on_event(Event::DeliveryReady {
        message: "quorum: Build a CLI todo app\n".into(),
    });
    let toast = app.toast.clone().unwrap().text;
    assert!(
        toast.starts_with("this session had failed: 1 staged file(s) would overwrite"),
        "{toast}"
    );
    assert!(
        toast.contains("f reviews the files and commits them"),
        "{toast}"
    );
    app.on_key(key('f'));
    let text = screen_text(&render(&mut app, 120, 40));
    assert!(
        text.contains("it had failed: 1 staged file(s) would overwrite"),
        "{text}"
    );
}
