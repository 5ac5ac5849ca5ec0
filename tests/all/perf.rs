//! The performance benchmarks' bodies (issue 7), each run once at a small
//! size as a smoke check: `benches/orchestration.rs` and the examples
//! `session_perf`, `sessions_list` and `ask_perf` share them through
//! `benches/support/`. Nothing here is timed; the tests check that each body
//! does the work its figure counts.

#[path = "../../benches/support/ask.rs"]
#[allow(dead_code)]
mod ask;
#[path = "../../benches/support/orchestration.rs"]
#[allow(dead_code)]
mod bodies;
#[path = "../../benches/support/session.rs"]
#[allow(dead_code)]
mod session;
#[path = "../../benches/support/sessions.rs"]
#[allow(dead_code)]
mod sessions;

use quorum::protocol::SessionStatus;
use quorum::store::Store;

fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn the_scheduler_body_persists_every_state_change() {
    let dir = crate::common::tempdir();
    let store = Store::open(&dir.path().join("db")).unwrap();
    let figures = multi_thread().block_on(bodies::scheduler_run(store.clone(), 200));
    assert_eq!(figures.changes, 600);
    assert_eq!(figures.released, 601, "three events per task and the end");
    let sessions = store.sessions().unwrap();
    assert_eq!(sessions.len(), 1);
    let id = &sessions[0].id;
    assert_eq!(sessions[0].status, Some(SessionStatus::Succeeded));
    let tasks = store.records::<serde_json::Value>(id, "task").unwrap();
    assert_eq!(tasks.len(), 200);
    assert!(tasks.iter().all(|(_, t)| t["state"] == "done"), "{tasks:?}");
    assert_eq!(store.events(id).unwrap().len(), 601);
    assert_eq!(store.transcript(id).unwrap().len(), 600);
}

#[test]
fn the_event_log_body_releases_every_event_after_storing_it() {
    let dir = crate::common::tempdir();
    let store = Store::open(&dir.path().join("db")).unwrap();
    let figures = multi_thread().block_on(bodies::event_log_run(store.clone(), 1_000));
    assert_eq!(figures.released, 1_000);
    assert!(figures.groups >= 1_000, "one group per event");
    let sessions = store.sessions().unwrap();
    assert_eq!(sessions[0].last_seq, 1_000);
    assert_eq!(store.events(&sessions[0].id).unwrap().len(), 1_000);
}

#[test]
fn the_session_body_splits_a_whole_offline_session() {
    let rt = current_thread();
    let dir = crate::common::tempdir();
    let plain = rt.block_on(session::run_session(
        dir.path(),
        session::settings(session::TRIVIAL_SUITE),
        None,
    ));
    assert_eq!(plain.status, Some(SessionStatus::Succeeded));
    assert!(plain.test_runs >= 1 && plain.calls >= 10, "{plain:?}");
    assert!(plain.providers > std::time::Duration::ZERO && plain.providers < plain.wall);
    assert!(plain.db_bytes > 0);
    assert!(rt.block_on(session::test_run_cost(dir.path())) > std::time::Duration::ZERO);

    // A streamed preamble of 2,000 tokens in front of the refine reply: the
    // reply still parses, and its lines are in the transcript.
    // A runtime of its own, dropped before the db is opened again: tasks the
    // session spawned may hold the store until their runtime goes.
    drop(rt);
    let dir = crate::common::tempdir();
    let long = current_thread().block_on(session::run_session(
        dir.path(),
        session::settings(session::TRIVIAL_SUITE),
        Some(session::Preamble {
            task: "refine".into(),
            tokens: 2_000,
            rate: None,
        }),
    ));
    assert_eq!(long.status, Some(SessionStatus::Succeeded), "{long:?}");
    let store = session::reopen(&dir.path().join(".quorum/db"));
    let id = store.sessions().unwrap()[0].id.clone();
    let text: Vec<String> = store
        .transcript(&id)
        .unwrap()
        .into_iter()
        .filter(|l| l.task == "refine")
        .map(|l| l.text)
        .collect();
    let preamble = session::varied_text(2_000);
    assert!(
        text.len() > preamble.lines().count(),
        "{} lines",
        text.len()
    );
    assert!(text.iter().any(|l| l == preamble.lines().next().unwrap()));
}

#[test]
fn the_sessions_list_body_lists_every_copied_session() {
    let rt = current_thread();
    let dir = crate::common::tempdir();
    let db = dir.path().join(".quorum/db");
    let one = rt.block_on(session::run_session(
        dir.path(),
        session::settings(session::TRIVIAL_SUITE),
        None,
    ));
    drop(rt);
    assert_eq!(one.status, Some(SessionStatus::Succeeded));
    let store = session::reopen(&db);
    let template = store.sessions().unwrap()[0].id.clone();
    let events = store.events(&template).unwrap().len();
    sessions::replicate(&store, &template, 20);
    let all = store.sessions().unwrap();
    assert_eq!(all.len(), 20);
    assert!(
        all.iter()
            .all(|s| store.events(&s.id).unwrap().len() == events)
    );
    drop(store);
    let (_, printed) = sessions::list_once(crate::common::bin().as_ref(), dir.path(), true);
    assert_eq!(printed, 20);
    let (_, printed) = sessions::list_once(crate::common::bin().as_ref(), dir.path(), false);
    assert!(printed > 20, "a header and 20 rows: {printed}");
}

#[test]
fn the_ask_body_streams_a_long_reply_from_loopback() {
    let figures = ask::ask_once(crate::common::bin().as_ref(), 2_000);
    assert_eq!(figures.code, 0);
    assert!(figures.stdout_bytes >= 8_000, "{figures:?}");
    assert!(figures.max_rss_kb > 0, "{figures:?}");
}
