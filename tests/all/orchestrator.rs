//! The orchestrator in process, driven through its public `Op`/`Event` API the
//! way the TUI drives it: an interactive session waits at resolve, takes the
//! person's override, pick and file choices, refuses late changes, and commits
//! exactly the accepted files with the person's message.

use std::sync::Arc;
use std::time::Duration;

use quorum::config::Settings;
use quorum::config::workflow::Workflow;
use quorum::orchestrator::{self, Parts};
use quorum::protocol::{
    DecidedBy, Event, EventBody, LoggedEvent, Op, SessionOptions, SessionStatus,
};
use quorum::store::Store;
use quorum::workspace::Workspace;
use quorum::workspace::state_dir::StateDir;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::common::tempdir;

/// Waits (bounded) for the first event that `pick` accepts; checks every
/// durable event against the schema on the way.
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
        if let Event::Logged(e) = &event {
            crate::common::check_event(&serde_json::to_value(e).unwrap());
        }
        if let Some(found) = pick(&event) {
            return found;
        }
    }
}

fn logged(event: &Event) -> Option<&LoggedEvent> {
    match event {
        Event::Logged(e) => Some(e),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interactive_session_waits_takes_decisions_and_commits_only_accepted_files() {
    let dir = tempdir();
    let state = StateDir::open(&StateDir::location(dir.path(), None)).unwrap();
    let store = Store::open(&state.db_path()).unwrap();
    let settings = Arc::new(Settings::offline_defaults());
    let roster: Vec<String> = settings.agents.iter().map(|a| a.name.clone()).collect();
    let handle = orchestrator::spawn(Parts {
        workflow: Workflow::default_for(&roster).unwrap(),
        providers: quorum::orchestrator::providers::build_providers(&settings).unwrap(),
        settings,
        store,
        workspace: Workspace::new(dir.path(), state.root()),
    });
    let mut rx = handle.subscribe();
    handle.send(Op::Start {
        prompt: "Build a CLI todo app".into(),
        options: SessionOptions {
            interactive: true,
            ..SessionOptions::default()
        },
    });

    the_session_waits_at_resolve(&mut rx).await;
    an_override_is_taken(&handle, &mut rx).await;
    bad_picks_are_refused(&handle, &mut rx).await;
    the_tie_is_settled_and_decisions_are_final(&handle, &mut rx).await;
    the_code_follows_the_decisions(&handle, &mut rx).await;
    a_rejected_file_stays_out_of_the_commit(&handle, &mut rx).await;
    handle.send(Op::Shutdown);
    until(&mut rx, "closed", |e| (e == &Event::Closed).then_some(())).await;
    handle.join().await;

    the_commit_holds_the_persons_message(dir.path());
}

/// Step: the session waits at resolve: no decision is made without the person.
async fn the_session_waits_at_resolve(rx: &mut UnboundedReceiver<Event>) {
    // The session waits at resolve: no decision is made without the person.
    until(rx, "resolve", |e| {
        logged(e).and_then(|e| {
            matches!(&e.body, EventBody::PhaseStarted { phase, .. } if phase == "resolve")
                .then_some(())
        })
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut early = Vec::new();
    while let Ok(e) = rx.try_recv() {
        early.push(e);
    }
    assert!(
        !early.iter().filter_map(logged).any(|e| matches!(
            e.body,
            EventBody::ConflictResolved { .. } | EventBody::PhaseStarted { .. }
        )),
        "nothing is decided and no phase starts while the person has not confirmed: {early:?}"
    );
}

/// Step: an override of the 3–1 majority (rest) with rpc is recorded and decided by the person.
async fn an_override_is_taken(
    handle: &orchestrator::OrchestratorHandle,
    rx: &mut UnboundedReceiver<Event>,
) {
    // Override the 3–1 majority (rest) with rpc, with a note.
    handle.send(Op::Override {
        conflict: "api".into(),
        option: "rpc".into(),
        note: "one endpoint to secure".into(),
    });
    let (from, to) = until(rx, "the override", |e| match logged(e).map(|e| &e.body) {
        Some(EventBody::DecisionOverridden { from, to, .. }) => Some((from.clone(), to.clone())),
        _ => None,
    })
    .await;
    assert_eq!((from.as_deref(), to.as_str()), (Some("rest"), "rpc"));
    until(rx, "the api decision", |e| {
        match logged(e).map(|e| &e.body) {
            Some(EventBody::ConflictResolved {
                conflict,
                option,
                decided_by,
                ..
            }) if conflict == "api" => {
                assert_eq!((option.as_str(), *decided_by), ("rpc", DecidedBy::Human));
                Some(())
            }
            _ => None,
        }
    })
    .await;
}

/// Step: a pick on a decided conflict and an option that does not exist are refused.
async fn bad_picks_are_refused(
    handle: &orchestrator::OrchestratorHandle,
    rx: &mut UnboundedReceiver<Event>,
) {
    // A pick on a decided conflict and an option that does not exist are refused.
    handle.send(Op::Pick {
        conflict: "api".into(),
        option: "rest".into(),
    });
    until(rx, "a refusal", |e| {
        matches!(e, Event::Rejected { op, .. } if op == "pick").then_some(())
    })
    .await;
    handle.send(Op::Pick {
        conflict: "storage".into(),
        option: "mongodb".into(),
    });
    until(rx, "a refusal", |e| {
        matches!(e, Event::Rejected { reason, .. } if reason.contains("mongodb")).then_some(())
    })
    .await;
}

/// Step: settling the tie starts implementation; decisions are then final.
async fn the_tie_is_settled_and_decisions_are_final(
    handle: &orchestrator::OrchestratorHandle,
    rx: &mut UnboundedReceiver<Event>,
) {
    // Settle the tie: implementation starts only now.
    handle.send(Op::Pick {
        conflict: "storage".into(),
        option: "json-file".into(),
    });
    let message = until(rx, "deliver", |e| match e {
        Event::DeliveryReady { message } => Some(message.clone()),
        _ => None,
    })
    .await;
    assert!(
        message.contains("Storage engine: json-file (decided by the person)"),
        "{message}"
    );
    assert!(
        message.contains("API style: rpc (decided by the person)"),
        "{message}"
    );

    // Decisions are final once implementation started.
    handle.send(Op::Override {
        conflict: "storage".into(),
        option: "sqlite".into(),
        note: "late".into(),
    });
    until(rx, "a refusal", |e| {
        matches!(e, Event::Rejected { op, .. } if op == "override").then_some(())
    })
    .await;
}

/// Step: the generated code follows the person's decisions.
async fn the_code_follows_the_decisions(
    handle: &orchestrator::OrchestratorHandle,
    rx: &mut UnboundedReceiver<Event>,
) {
    // The generated code follows the person's decisions.
    handle.send(Op::LoadFile {
        path: "todo/server.py".into(),
        req: 1,
    });
    let server = until(rx, "server.py", |e| match e {
        Event::FileLoaded { req: 1, file } => Some(file.clone().unwrap().content),
        _ => None,
    })
    .await;
    assert!(server.contains("/rpc"), "an RPC server was generated");
    handle.send(Op::LoadFile {
        path: "todo/store.py".into(),
        req: 2,
    });
    let store_py = until(rx, "store.py", |e| match e {
        Event::FileLoaded { req: 2, file } => Some(file.clone().unwrap().content),
        _ => None,
    })
    .await;
    assert!(
        store_py.contains("json") && !store_py.contains("sqlite3"),
        "a JSON-file store was generated"
    );
}

/// Step: the README is rejected, then the commit leaves it out and the session succeeds.
async fn a_rejected_file_stays_out_of_the_commit(
    handle: &orchestrator::OrchestratorHandle,
    rx: &mut UnboundedReceiver<Event>,
) {
    // Reject the README, then commit with the person's own message.
    handle.send(Op::SetFileAccepted {
        path: "README.md".into(),
        accepted: false,
    });
    until(rx, "the file decision", |e| {
        matches!(e, Event::FileDecided { path, accepted: false } if path == "README.md")
            .then_some(())
    })
    .await;
    handle.send(Op::Commit {
        message: Some("Todo app, JSON-RPC flavour".into()),
        allow_secrets: false,
    });
    let files = until(rx, "the commit", |e| match logged(e).map(|e| &e.body) {
        Some(EventBody::CommitCreated { files, .. }) => Some(files.clone()),
        _ => None,
    })
    .await;
    assert!(!files.contains(&"README.md".to_string()));
    assert!(files.contains(&"todo/server.py".to_string()));
    let status = until(rx, "the end", |e| match logged(e).map(|e| &e.body) {
        Some(EventBody::SessionFinished { status, .. }) => Some(*status),
        _ => None,
    })
    .await;
    assert_eq!(status, SessionStatus::Succeeded);
}

/// Step: the rejected file is not written and the commit has the person's message and the trailers.
fn the_commit_holds_the_persons_message(dir: &std::path::Path) {
    assert!(
        !dir.join("README.md").exists(),
        "a rejected file is not written"
    );
    assert!(dir.join("todo/server.py").is_file());
    let repo = git2::Repository::open(dir).unwrap();
    let head = repo.head().unwrap().peel_to_commit().unwrap();
    let message = head.message().unwrap();
    assert!(
        message.starts_with("Todo app, JSON-RPC flavour\n"),
        "{message}"
    );
    assert!(message.contains("\nQuorum-Session: "), "{message}");
    assert!(
        message.trim_end().ends_with("Quorum-Provider: offline"),
        "{message}"
    );
}
