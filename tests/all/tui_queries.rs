//! The orchestrator's answers to the TUI's questions, in process through
//! `Op`/`Event`: transcript search runs in the store and its positions point
//! at matching lines; DIR's sessions are listed and a past one's events load
//! and fold; an edited file is accepted only at deliver and is what gets
//! committed.

use std::sync::Arc;
use std::time::Duration;

use quorum::config::Settings;
use quorum::config::workflow::Workflow;
use quorum::orchestrator::{self, OrchestratorHandle, Parts};
use quorum::protocol::session_view::SessionView;
use quorum::protocol::{Event, EventBody, Op, SessionOptions};
use quorum::store::Store;
use quorum::workspace::Workspace;
use quorum::workspace::state_dir::StateDir;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::common::tempdir;

async fn until<T>(
    rx: &mut UnboundedReceiver<Event>,
    what: &str,
    mut pick: impl FnMut(&Event) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let event = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
            .unwrap_or_else(|| panic!("the orchestrator stopped before {what}"));
        if let Some(found) = pick(&event) {
            return found;
        }
    }
}

fn start(dir: &std::path::Path) -> OrchestratorHandle {
    let state = StateDir::open(&StateDir::location(dir, None)).unwrap();
    let store = Store::open(&state.db_path()).unwrap();
    let settings = Arc::new(Settings::offline_defaults());
    let roster: Vec<String> = settings.agents.iter().map(|a| a.name.clone()).collect();
    orchestrator::spawn(Parts {
        workflow: Workflow::default_for(&roster).unwrap(),
        providers: quorum::orchestrator::providers::build_providers(&settings).unwrap(),
        settings,
        store,
        workspace: Workspace::new(dir, state.root()),
    })
}

fn rejected(e: &Event, op_name: &str) -> Option<String> {
    match e {
        Event::Rejected { op, reason } if op == op_name => Some(reason.clone()),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_history_and_edits_are_answered_from_the_store() {
    let dir = tempdir();
    let handle = start(dir.path());
    let mut rx = handle.subscribe();

    nothing_to_search_or_list_before_any_session(&handle, &mut rx).await;
    start_and_reach_resolve(&handle, &mut rx).await;
    search_positions_point_at_matching_lines(&handle, &mut rx).await;
    an_edit_before_deliver_is_refused(&handle, &mut rx).await;
    the_session_is_listed_and_its_events_fold(&handle, &mut rx).await;
    reach_deliver_and_refuse_an_unknown_file(&handle, &mut rx).await;
    an_edited_file_is_accepted_and_committed(&handle, &mut rx, dir.path()).await;

    handle.send(Op::Shutdown);
    handle.join().await;
}

/// Step: before any session, no transcript to search and no past session.
async fn nothing_to_search_or_list_before_any_session(
    handle: &OrchestratorHandle,
    rx: &mut UnboundedReceiver<Event>,
) {
    // Before any session: no transcript to search, and no past session.
    handle.send(Op::SearchTranscript {
        agent: None,
        query: "sqlite".into(),
        req: 1,
    });
    let reason = until(rx, "a refused search", |e| rejected(e, "search")).await;
    assert!(reason.contains("no session"), "{reason}");
    handle.send(Op::ListSessions { req: 2 });
    let listed = until(rx, "the list", |e| match e {
        Event::SessionsListed { req: 2, sessions } => Some(sessions.clone()),
        _ => None,
    })
    .await;
    assert_eq!(listed, Ok(vec![]));
}

/// Step: an interactive session starts and waits at resolve.
async fn start_and_reach_resolve(handle: &OrchestratorHandle, rx: &mut UnboundedReceiver<Event>) {
    handle.send(Op::Start {
        prompt: "Build a CLI todo app".into(),
        options: SessionOptions {
            interactive: true,
            ..SessionOptions::default()
        },
    });
    until(rx, "resolve", |e| match e {
        Event::Logged(l) => {
            matches!(&l.body, EventBody::PhaseStarted { phase, .. } if phase == "resolve")
                .then_some(())
        }
        _ => None,
    })
    .await;
}

/// Step: search all agents, then one agent; every position is a matching line.
async fn search_positions_point_at_matching_lines(
    handle: &OrchestratorHandle,
    rx: &mut UnboundedReceiver<Event>,
) {
    // Search all agents, then one agent; every position is a matching line.
    for (agent, req) in [(None, 3u64), (Some("qa".to_string()), 4)] {
        handle.send(Op::SearchTranscript {
            agent: agent.clone(),
            query: "SQLite".into(),
            req,
        });
        let positions = until(rx, "the results", |e| match e {
            Event::SearchResults {
                req: r,
                positions,
                truncated,
                ..
            } if *r == req => {
                assert!(!truncated);
                Some(positions.clone())
            }
            _ => None,
        })
        .await;
        assert!(!positions.is_empty(), "{agent:?}: the plans mention SQLite");
        for pos in positions.iter().take(5) {
            handle.send(Op::LoadTranscript {
                agent: agent.clone(),
                from_seq: *pos,
                len: 1,
                req: 100 + req * 10 + pos,
            });
            let want = 100 + req * 10 + pos;
            let line = until(rx, "the page", |e| match e {
                Event::TranscriptPage { req, lines, .. } if *req == want => Some(lines[0].clone()),
                _ => None,
            })
            .await;
            assert!(
                line.text.to_lowercase().contains("sqlite"),
                "{agent:?} {pos}: {}",
                line.text
            );
            if let Some(a) = &agent {
                assert_eq!(&line.agent, a);
            }
        }
    }
}

/// Step: editing before deliver is refused: the tests would not have seen it.
async fn an_edit_before_deliver_is_refused(
    handle: &OrchestratorHandle,
    rx: &mut UnboundedReceiver<Event>,
) {
    // Editing before deliver is refused: the tests would not have seen it.
    handle.send(Op::AcceptEdited {
        path: "README.md".into(),
        content: "x".into(),
    });
    let reason = until(rx, "a refused edit", |e| rejected(e, "edit")).await;
    assert!(reason.contains("deliver"), "{reason}");
}

/// Step: the session is listed and its stored events fold like live ones.
async fn the_session_is_listed_and_its_events_fold(
    handle: &OrchestratorHandle,
    rx: &mut UnboundedReceiver<Event>,
) {
    // The session is listed and its stored events fold like live ones.
    handle.send(Op::ListSessions { req: 5 });
    let listed = until(rx, "the list", |e| match e {
        Event::SessionsListed { req: 5, sessions } => Some(sessions.clone().unwrap()),
        _ => None,
    })
    .await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].prompt, "Build a CLI todo app");
    assert_eq!(listed[0].status, None, "still running");
    handle.send(Op::LoadSession {
        session: listed[0].id.clone(),
        req: 6,
    });
    let events = until(rx, "the events", |e| match e {
        Event::SessionLoaded { req: 6, events, .. } => Some(events.clone().unwrap()),
        _ => None,
    })
    .await;
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    let mut view = SessionView::default();
    for e in &events {
        view.apply(e);
    }
    assert_eq!(view.prompt, "Build a CLI todo app");
    assert_eq!(view.conflicts.len(), 2);
    assert_eq!(view.phase, "resolve");
}

/// Step: on to deliver; an edit of a file that is not staged is refused.
async fn reach_deliver_and_refuse_an_unknown_file(
    handle: &OrchestratorHandle,
    rx: &mut UnboundedReceiver<Event>,
) {
    // To deliver; then edit a staged file and commit it.
    handle.send(Op::AcceptVotes);
    handle.send(Op::Pick {
        conflict: "storage".into(),
        option: "sqlite".into(),
    });
    until(rx, "deliver", |e| {
        matches!(e, Event::DeliveryReady { .. }).then_some(())
    })
    .await;
    handle.send(Op::AcceptEdited {
        path: "nope.py".into(),
        content: "x".into(),
    });
    let reason = until(rx, "a refused edit", |e| rejected(e, "edit")).await;
    assert!(reason.contains("nope.py"), "{reason}");
}

/// Step: an edited staged file is accepted, loaded, committed as edited, and
/// refused once the session ended.
async fn an_edited_file_is_accepted_and_committed(
    handle: &OrchestratorHandle,
    rx: &mut UnboundedReceiver<Event>,
    dir: &std::path::Path,
) {
    handle.send(Op::SetFileAccepted {
        path: "README.md".into(),
        accepted: false,
    });
    handle.send(Op::AcceptEdited {
        path: "README.md".into(),
        content: "# Todo\n\nEdited by the person.\n".into(),
    });
    let bytes = until(rx, "the edit", |e| match e {
        Event::FileEdited { path, bytes } if path == "README.md" => Some(*bytes),
        _ => None,
    })
    .await;
    assert_eq!(bytes, "# Todo\n\nEdited by the person.\n".len() as u64);
    until(rx, "the acceptance", |e| match e {
        Event::FileDecided { path, accepted } if path == "README.md" => {
            assert!(accepted, "an edited file is accepted");
            Some(())
        }
        _ => None,
    })
    .await;
    handle.send(Op::LoadFile {
        path: "README.md".into(),
        req: 7,
    });
    let content = until(rx, "the file", |e| match e {
        Event::FileLoaded { req: 7, file } => Some(file.clone().unwrap().content),
        _ => None,
    })
    .await;
    assert_eq!(content, "# Todo\n\nEdited by the person.\n");
    handle.send(Op::Commit {
        message: None,
        allow_secrets: false,
    });
    until(rx, "the commit", |e| match e {
        Event::Logged(l) => matches!(l.body, EventBody::CommitCreated { .. }).then_some(()),
        _ => None,
    })
    .await;
    assert_eq!(
        std::fs::read_to_string(dir.join("README.md")).unwrap(),
        "# Todo\n\nEdited by the person.\n"
    );
    handle.send(Op::AcceptEdited {
        path: "README.md".into(),
        content: "late".into(),
    });
    let reason = until(rx, "a refused edit", |e| rejected(e, "edit")).await;
    assert!(reason.contains("ended"), "{reason}");
}
