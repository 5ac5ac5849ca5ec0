//! Key → op flows and screens of the session's controls (issue 4): pausing
//! the whole session, budget warnings and the budget prompt, an agent's
//! memory, retrying a failed task on another model, and failing tests at
//! deliver.

use crossterm::event::KeyCode;

use super::{Feed, app, at_deliver, at_resolve, code, key, render, screen_text};
use crate::protocol::{Event, EventBody, Op, SessionStatus, TestStatus};
use crate::tui::app::{App, External, Focus, Overlay};

fn header(app: &mut App, w: u16) -> String {
    screen_text(&render(app, w, 24))
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// The status bar's rows (the rows below the last pane), joined with spaces.
fn status_bar(app: &mut App, w: u16) -> String {
    let text = screen_text(&render(app, w, 24));
    let mut rows: Vec<&str> = text
        .lines()
        .rev()
        .take_while(|l| !l.starts_with('╰') && !l.starts_with('│'))
        .map(str::trim)
        .collect();
    rows.reverse();
    rows.join(" ")
}

/// A budget of $1.00 and 40k tokens, `spent` of it spent (dollars and tokens).
fn budget(scope: &str, spent: f64, exhausted: bool) -> EventBody {
    let (scope, spent_usd, budget_usd, spent_tokens, budget_tokens) = (
        scope.to_string(),
        spent,
        Some(1.0),
        (40_000.0 * spent) as u64,
        Some(40_000),
    );
    if exhausted {
        EventBody::BudgetExhausted {
            scope,
            spent_usd,
            budget_usd,
            spent_tokens,
            budget_tokens,
        }
    } else {
        EventBody::BudgetWarning {
            scope,
            spent_usd,
            budget_usd,
            spent_tokens,
            budget_tokens,
        }
    }
}

#[test]
fn p_pauses_and_resumes_the_whole_session_and_the_header_says_so() {
    let (mut app, mut f) = at_resolve();
    app.focus = Focus::Agents;
    assert!(!header(&mut app, 80).contains("paused"));
    app.on_key(key('P'));
    assert_eq!(app.outbox.pop(), Some(Op::PauseSession));
    assert!(app.control.paused);
    assert!(
        header(&mut app, 80).contains("‖ paused"),
        "{}",
        header(&mut app, 80)
    );
    assert!(header(&mut app, 80).contains("offline (simulated)"));
    // The other views show it too.
    app.on_key(key('c'));
    assert!(header(&mut app, 120).contains("‖ paused"));
    app.on_key(key('P'));
    assert_eq!(app.outbox.pop(), Some(Op::ResumeSession));
    assert!(!header(&mut app, 80).contains("paused"));

    // The orchestrator corrects what the TUI believed.
    app.on_key(key('P'));
    app.on_event(Event::Rejected {
        op: "pause session".into(),
        reason: "the session is paused already".into(),
    });
    assert!(app.control.paused);
    app.on_key(key('P'));
    app.on_event(Event::Rejected {
        op: "resume session".into(),
        reason: "the session is not paused".into(),
    });
    assert!(!app.control.paused);
    app.on_key(key('P'));
    app.on_event(Event::Rejected {
        op: "pause session".into(),
        reason: "the session has ended".into(),
    });
    assert!(!app.control.paused);
    assert!(app.toast.as_ref().unwrap().error, "the refusal is shown");

    // The session's end clears the pause.
    app.on_key(key('P'));
    assert!(app.control.paused);
    f.ev(
        &mut app,
        EventBody::SessionFinished {
            status: SessionStatus::Cancelled,
            tokens_in: 0,
            tokens_out: 0,
            cost_usd: 0.0,
        },
    );
    assert!(!app.control.paused);
    app.outbox.clear();
    app.on_key(key('P'));
    assert!(app.outbox.is_empty(), "nothing to pause once it ended");

    // Without a session, P only says so.
    let mut idle = app_outside_the_prompt();
    idle.on_key(key('P'));
    assert!(idle.outbox.is_empty());
    assert!(idle.toast.as_ref().unwrap().text.contains("no session"));
}

fn app_outside_the_prompt() -> App {
    let mut a = app();
    a.on_key(code(KeyCode::Esc));
    a
}

#[test]
fn a_spent_budget_asks_to_continue_or_stop_and_warnings_show() {
    let (mut app, mut f) = at_resolve();
    app.focus = Focus::Agents;
    f.ev(&mut app, budget("session", 0.85, false));
    assert!(app.overlay.is_none(), "a warning asks nothing");
    let toast = &app.toast.as_ref().unwrap().text;
    assert_eq!(
        toast,
        "budget: the session has spent 85 % ($0.85 of $1.00 · 34.0k of 40.0k tokens)"
    );
    app.toast = None;
    // The conflicts come first in the status bar; once decided, the warning.
    assert!(status_bar(&mut app, 80).contains("2 conflicts open"));
    for c in app.session.conflicts.iter_mut() {
        c.decision = Some(("x".into(), crate::protocol::DecidedBy::Human));
    }
    assert!(
        status_bar(&mut app, 80).contains("budget: the session at 85 %"),
        "{}",
        status_bar(&mut app, 80)
    );

    // An agent's budget is spent: the prompt opens; c raises it by half.
    f.ev(&mut app, budget("backend", 1.02, true));
    assert!(matches!(app.overlay, Some(Overlay::Budget)));
    app.toast = None;
    let t = render(&mut app, 80, 24);
    insta::assert_snapshot!("budget_prompt_80x24", t.backend());
    let text = screen_text(&t);
    assert!(
        text.contains("The budget of agent backend is spent"),
        "{text}"
    );
    assert!(
        text.contains("$1.02 of $1.00 · 40.8k of 40.0k tokens"),
        "{text}"
    );
    assert!(text.contains("budget spent"), "the header says so:\n{text}");
    // Keys outside the prompt's own do nothing while it is up.
    app.on_key(key('f'));
    assert!(matches!(app.overlay, Some(Overlay::Budget)));
    app.on_key(key('c'));
    assert_eq!(
        app.outbox.pop(),
        Some(Op::RaiseBudget {
            scope: "backend".into(),
            usd: None,
            tokens: None
        })
    );
    assert!(app.overlay.is_none());
    assert!(app.control.exhausted.is_empty());

    // The session's budget: Esc decides later, B brings it back, s stops.
    f.ev(&mut app, budget("session", 1.01, true));
    assert!(matches!(app.overlay, Some(Overlay::Budget)));
    app.on_key(code(KeyCode::Esc));
    assert!(app.overlay.is_none());
    assert!(app.outbox.is_empty());
    assert!(header(&mut app, 80).contains("budget spent"));
    app.toast = None;
    assert!(
        status_bar(&mut app, 80).contains("budget of the session spent: B decides"),
        "{}",
        status_bar(&mut app, 80)
    );
    app.on_key(key('B'));
    assert!(matches!(app.overlay, Some(Overlay::Budget)));
    app.on_key(key('s'));
    assert_eq!(app.outbox.pop(), Some(Op::CancelSession));
    assert!(app.overlay.is_none());
    app.on_key(key('B'));
    assert!(app.overlay.is_none(), "nothing left to decide");

    // Two spent budgets: one decision each, oldest first.
    f.ev(&mut app, budget("qa", 1.0, true));
    f.ev(&mut app, budget("security", 1.0, true));
    app.on_key(key('c'));
    assert!(matches!(app.overlay, Some(Overlay::Budget)));
    app.on_key(key('c'));
    assert!(app.overlay.is_none());
    let scopes: Vec<String> = app
        .outbox
        .iter()
        .filter_map(|op| match op {
            Op::RaiseBudget { scope, .. } => Some(scope.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(scopes, ["qa", "security"]);

    // An open editor is not taken over: the header and status bar tell.
    let (mut busy, mut f) = at_resolve();
    busy.focus = Focus::Transcript;
    busy.on_key(key('/'));
    f.ev(&mut busy, budget("session", 1.0, true));
    assert!(matches!(busy.overlay, Some(Overlay::Editor(_))));
    assert!(header(&mut busy, 80).contains("budget spent"));
}

/// `e` on the selected agent (backend): its memory is asked for, and shows
/// as loading; a second `e` before it arrives edits nothing.
fn memory_asked_for() -> App {
    let mut app = app_outside_the_prompt();
    assert_eq!(app.focus, Focus::Agents);
    app.on_key(key('j'));
    app.on_key(key('e'));
    assert_eq!(
        app.outbox.pop(),
        Some(Op::LoadMemory {
            agent: "backend".into()
        })
    );
    assert!(screen_text(&render(&mut app, 80, 24)).contains("loading…"));
    // Not loaded yet: nothing to edit.
    app.on_key(key('e'));
    assert!(app.run.external.is_none());
    app
}

#[test]
fn e_shows_an_agents_memory_edits_it_in_the_editor_and_shows_refusals() {
    let mut app = memory_asked_for();
    // Another agent's memory (notes added at delivery) changes nothing here.
    app.on_event(Event::Memory {
        agent: "qa".into(),
        notes: "qa notes".into(),
    });
    let notes = "Storage: SQLite in WAL mode, decided by the person (2026-11-21).\nTests: python3 -m unittest discover -v\nCLI entry point: todo/cli.py; keep argparse, no click.\n";
    app.on_event(Event::Memory {
        agent: "backend".into(),
        notes: notes.into(),
    });
    app.toast = None;
    let t = render(&mut app, 80, 24);
    insta::assert_snapshot!("memory_80x24", t.backend());
    let text = screen_text(&t);
    assert!(text.contains("memory: backend"), "{text}");
    assert!(text.contains("Storage: SQLite in WAL mode"), "{text}");
    assert!(
        text.contains(&format!("{} of 4096 bytes", notes.len())),
        "{text}"
    );
    assert!(text.contains("e edit in $EDITOR"), "{text}");

    // e hands the notes to the editor; unchanged notes send nothing.
    app.on_key(key('e'));
    assert_eq!(
        app.run.external.take(),
        Some(External::EditMemory {
            agent: "backend".into(),
            notes: notes.into()
        })
    );
    app.memory_edited("backend", notes, Ok(notes.into()));
    assert!(app.outbox.is_empty());
    app.memory_edited("backend", notes, Err("`vi` exited with 1".into()));
    assert!(app.outbox.is_empty());
    assert!(app.toast.as_ref().unwrap().error);

    // Too long: sent, refused, the refusal shown, the text kept for the next edit.
    let long = format!("{notes}{}\n", "x".repeat(5000));
    app.memory_edited("backend", notes, Ok(long.clone()));
    assert_eq!(
        app.outbox.pop(),
        Some(Op::SetMemory {
            agent: "backend".into(),
            notes: long.clone()
        })
    );
    app.on_event(Event::Rejected {
        op: "set memory".into(),
        reason: "the notes for `backend` are 5177 bytes; at most 4096 fit in its prompts".into(),
    });
    let text = screen_text(&render(&mut app, 80, 24));
    assert!(text.contains("refused: the notes for `backend`"), "{text}");
    app.on_key(key('e'));
    assert_eq!(
        app.run.external.take(),
        Some(External::EditMemory {
            agent: "backend".into(),
            notes: long
        })
    );
    // Shorter: saved, the overlay shows the stored notes.
    let short = format!("{notes}Dates in ISO 8601.\n");
    app.memory_edited("backend", notes, Ok(short.clone()));
    assert!(matches!(app.outbox.pop(), Some(Op::SetMemory { .. })));
    app.on_event(Event::Memory {
        agent: "backend".into(),
        notes: short.clone(),
    });
    assert!(app.toast.as_ref().unwrap().text.contains("saved"));
    match &app.overlay {
        Some(Overlay::Memory(view)) => {
            assert_eq!(view.notes.as_deref(), Some(short.as_str()));
            assert!(view.sent.is_none() && view.error.is_none());
        }
        _ => panic!("the memory overlay stays"),
    }
    // Esc closes; a later memory event opens nothing.
    app.on_key(code(KeyCode::Esc));
    assert!(app.overlay.is_none());
    app.on_event(Event::Memory {
        agent: "backend".into(),
        notes: "added at delivery".into(),
    });
    assert!(app.overlay.is_none());

    // The palette lists one memory entry per agent.
    app.on_key(key(':'));
    for c in "memory: qa".chars() {
        app.on_key(key(c));
    }
    app.on_key(code(KeyCode::Enter));
    assert_eq!(
        app.outbox.pop(),
        Some(Op::LoadMemory { agent: "qa".into() })
    );
    assert!(matches!(&app.overlay, Some(Overlay::Memory(v)) if v.agent == "qa"));
}

#[test]
fn r_retries_a_failed_task_and_shift_r_on_a_picked_or_typed_model() {
    let (mut app, mut f) = at_resolve();
    f.task(
        &mut app,
        "implement.core",
        "backend",
        "implement",
        "the store part",
        false,
    );
    app.focus = Focus::Agents;
    app.screens.agent_sel = 1;
    // Running: nothing to retry.
    app.on_key(key('R'));
    assert!(app.overlay.is_none());
    assert!(app.toast.as_ref().unwrap().text.contains("no failed task"));
    f.ev(
        &mut app,
        EventBody::TaskFailed {
            task: "implement.core".into(),
            agent: "backend".into(),
            phase: "implement".into(),
            error: "anthropic:claude-sonnet-4-5: HTTP 529: overloaded".into(),
        },
    );
    app.on_key(key('r'));
    assert_eq!(
        app.outbox.pop(),
        Some(Op::RetryTask {
            task: "implement.core".into()
        })
    );
    app.on_key(key('R'));
    let Some(Overlay::Models(picker)) = &app.overlay else {
        panic!("the model picker opens");
    };
    assert_eq!(
        picker.choices(),
        ["anthropic:claude-sonnet-4-5", "ollama:qwen2.5-coder:14b"]
    );
    for c in "qwen".chars() {
        app.on_key(key(c));
    }
    app.toast = None;
    let t = render(&mut app, 80, 24);
    insta::assert_snapshot!("retry_on_80x24", t.backend());
    let text = screen_text(&t);
    assert!(text.contains("retry implement.core on"), "{text}");
    assert!(
        text.contains("failed: anthropic:claude-sonnet-4-5: HTTP 529"),
        "{text}"
    );
    app.on_key(code(KeyCode::Enter));
    assert_eq!(
        app.outbox.pop(),
        Some(Op::RetryTaskOn {
            task: "implement.core".into(),
            model: "ollama:qwen2.5-coder:14b".into()
        })
    );
    assert!(app.overlay.is_none());

    // A model of one's own, typed; Down/Up choose; Esc sends nothing.
    app.on_key(key('R'));
    for c in "openai:gpt-4o".chars() {
        app.on_key(key(c));
    }
    app.on_key(code(KeyCode::Down));
    app.on_key(code(KeyCode::Up));
    app.on_key(code(KeyCode::Enter));
    assert_eq!(
        app.outbox.pop(),
        Some(Op::RetryTaskOn {
            task: "implement.core".into(),
            model: "openai:gpt-4o".into()
        })
    );
    app.on_key(key('R'));
    app.on_key(key('z'));
    app.on_key(code(KeyCode::Enter));
    assert!(app.outbox.is_empty(), "nothing matches `z`");
    assert!(matches!(app.overlay, Some(Overlay::Models(_))));
    app.on_key(code(KeyCode::Esc));
    assert!(app.overlay.is_none() && app.outbox.is_empty());
}

/// At deliver after the last repair round, with the tests still failing.
fn at_deliver_tests_failing() -> App {
    let mut app = at_deliver();
    let mut f = Feed::new();
    f.ev(
        &mut app,
        EventBody::TestRun {
            round: 3,
            component: "project".into(),
            command: "python3 -m unittest discover -v".into(),
            passed: 35,
            failed: 2,
            skipped: 0,
            status: TestStatus::Failed,
            failures: Vec::new(),
            lines: Vec::new(),
            isolation: Default::default(),
        },
    );
    // The session reaches deliver with this run (not a refresh of the
    // message after an accept or reject).
    app.screens.files.generated_message = None;
    app.on_event(Event::DeliveryReady {
        message: "quorum: Build a CLI todo app\n\nTests: failed\n".into(),
    });
    app
}

#[test]
fn failing_tests_at_deliver_say_that_c_commits_anyway_and_q_ends_it_failed() {
    // Outside the files view the commit key does nothing: the way there is named.
    let elsewhere =
        "tests failed: 2 failing — f: the files, to commit anyway, q quits (session ends failed)";
    let verdict = "tests failed: 2 failing — C commits anyway, q quits (session ends failed)";
    let mut app = at_deliver_tests_failing();
    assert!(app.toast.as_ref().unwrap().text.contains(elsewhere));
    app.toast = None;
    app.focus = Focus::Agents;
    assert!(
        status_bar(&mut app, 120).contains(elsewhere),
        "{}",
        status_bar(&mut app, 120)
    );
    app.on_key(key('f'));
    assert!(status_bar(&mut app, 120).contains(verdict));
    let t = render(&mut app, 80, 24);
    insta::assert_snapshot!("files_tests_failed_80x24", t.backend());
    assert!(screen_text(&t).contains("tests failed: 2 failing — C commits anyway"));
    // q asks, and says what quitting means; y quits without interrupting, so
    // the run loop's shutdown ends the session failed.
    app.on_key(key('q'));
    let text = screen_text(&render(&mut app, 80, 24));
    assert!(
        text.contains("The tests failed. Quit without committing?"),
        "{text}"
    );
    assert!(text.contains("The session ends failed"), "{text}");
    app.on_key(key('y'));
    assert!(app.run.quit);
    assert!(!app.outbox.contains(&Op::Interrupt), "{:?}", app.outbox);
    // C commits anyway.
    let mut app = at_deliver_tests_failing();
    app.on_key(code(KeyCode::Esc));
    app.on_key(key('f'));
    app.on_key(key('C'));
    assert!(matches!(app.outbox.pop(), Some(Op::Commit { .. })));

    // Passing tests: no verdict, and quitting interrupts as before.
    let mut ok = at_deliver();
    assert!(ok.tests_verdict().is_none());
    ok.focus = Focus::Agents;
    ok.on_key(key('q'));
    ok.on_key(key('y'));
    assert_eq!(ok.outbox.pop(), Some(Op::Interrupt));
    // A timeout reads as one.
    let mut timed_out = at_deliver();
    Feed::new().ev(
        &mut timed_out,
        EventBody::TestRun {
            round: 1,
            component: "project".into(),
            command: "cargo test".into(),
            passed: 0,
            failed: 1,
            skipped: 0,
            status: TestStatus::Timeout,
            failures: Vec::new(),
            lines: Vec::new(),
            isolation: Default::default(),
        },
    );
    assert!(
        timed_out
            .tests_verdict()
            .unwrap()
            .starts_with("tests timed out — f: the files, to commit anyway")
    );
}

#[test]
fn a_commit_the_secret_scan_refused_goes_through_only_with_the_override_key() {
    let mut app = at_deliver();
    app.on_key(key('f'));
    // `!` before any refusal commits nothing.
    app.outbox.clear();
    app.on_key(key('!'));
    assert!(app.outbox.is_empty(), "{:?}", app.outbox);
    app.on_key(key('C'));
    assert!(matches!(
        app.outbox.pop(),
        Some(Op::Commit {
            allow_secrets: false,
            ..
        })
    ));
    app.on_event(Event::Rejected {
        op: "commit".into(),
        reason: "1 accepted file(s) look like they hold a secret: .env; reject those files, or commit again with the override".into(),
    });
    let toast = app
        .toast
        .as_ref()
        .map(|t| t.text.clone())
        .unwrap_or_default();
    assert!(
        toast.contains(".env") && toast.contains("! commits them anyway"),
        "{toast}"
    );
    app.on_key(key('!'));
    assert!(matches!(
        app.outbox.pop(),
        Some(Op::Commit {
            allow_secrets: true,
            ..
        })
    ));
    // The override is spent: a second `!` sends nothing.
    app.on_key(key('!'));
    assert!(app.outbox.is_empty(), "{:?}", app.outbox);
}

#[test]
fn a_declined_repair_is_shown_with_its_reason_and_a_later_component_keeps_the_rounds_failure() {
    let mut app = at_deliver();
    let mut f = Feed::new();
    f.ev(
        &mut app,
        EventBody::RepairDeclined {
            task: "test.repair1.qa".into(),
            agent: "qa".into(),
            reason: "No change in these files can fix this: clap cannot be downloaded".into(),
        },
    );
    let toast = app.toast.as_ref().unwrap();
    assert!(toast.error, "a declined repair is an error to look at");
    assert!(
        toast
            .text
            .starts_with("qa declined the repair: No change in these files"),
        "{}",
        toast.text
    );
    assert!(toast.text.contains("clap cannot be downloaded"));
    // Two components in one round: the failing one stays the round's verdict
    // even when the passing one reports after it.
    let run = |round, component: &str, status, passed, failed| EventBody::TestRun {
        round,
        component: component.into(),
        command: "x".into(),
        passed,
        failed,
        skipped: 0,
        status,
        failures: Vec::new(),
        lines: Vec::new(),
        isolation: Default::default(),
    };
    f.ev(&mut app, run(4, "frontend", TestStatus::BuildFailed, 0, 0));
    f.ev(&mut app, run(4, "backend", TestStatus::Passed, 68, 0));
    assert_eq!(app.session.tests, Some((4, 0, 0, TestStatus::BuildFailed)));
    f.ev(&mut app, run(4, "frontend", TestStatus::Passed, 26, 0));
    assert_eq!(app.session.tests, Some((4, 0, 0, TestStatus::BuildFailed)));
    f.ev(&mut app, run(5, "frontend", TestStatus::Passed, 26, 0));
    assert_eq!(app.session.tests, Some((5, 26, 0, TestStatus::Passed)));
}

#[test]
fn ctrl_backslash_detaches_a_client_and_the_header_counts_the_attached() {
    use crossterm::event::{KeyEvent, KeyModifiers};
    // Terminals send Ctrl-\ as 0x1c, which crossterm reads as Ctrl-4.
    let ctrl_4 = KeyEvent::new(KeyCode::Char('4'), KeyModifiers::CONTROL);
    let mut alone = app_outside_the_prompt();
    alone.on_key(ctrl_4);
    assert!(
        !alone.run.quit && !alone.run.detached,
        "nothing to detach from"
    );
    assert!(
        alone
            .toast
            .as_ref()
            .is_some_and(|t| t.text.contains("nothing to detach")),
        "{:?}",
        alone.toast
    );
    let mut client = app_outside_the_prompt();
    client.about.client = true;
    client.on_event(Event::Clients { attached: 2 });
    assert!(header(&mut client, 120).contains("· 2 attached"));
    client.on_event(Event::Clients { attached: 1 });
    assert!(!header(&mut client, 120).contains("attached"));
    client.on_key(KeyEvent::new(KeyCode::Char('\\'), KeyModifiers::CONTROL));
    assert!(client.run.quit && client.run.detached);
    assert!(
        client.outbox.is_empty(),
        "a detach sends no op: {:?}",
        client.outbox
    );
}

#[test]
fn q_with_another_terminal_attached_leaves_the_session_running() {
    let (mut app, _) = at_resolve();
    assert!(app.session.running());
    app.about.client = true;
    app.on_event(Event::Clients { attached: 2 });
    app.on_key(code(KeyCode::Esc));
    app.on_key(key('q'));
    assert!(app.run.quit, "quits at once, nothing to confirm");
    assert!(app.overlay.is_none());
    assert!(!app.outbox.contains(&Op::Interrupt), "{:?}", app.outbox);
    // Alone, it asks, and `y` interrupts as before.
    let (mut alone, _) = at_resolve();
    alone.about.client = true;
    alone.on_event(Event::Clients { attached: 1 });
    alone.on_key(code(KeyCode::Esc));
    alone.on_key(key('q'));
    assert!(matches!(alone.overlay, Some(Overlay::ConfirmQuit)));
    alone.on_key(key('y'));
    assert!(alone.outbox.contains(&Op::Interrupt));
}
