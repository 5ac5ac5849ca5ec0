//! The orchestrator's persistence figures (issue 7), with divan:
//!
//! * the scheduler moving 10,000 tasks through the agents' queues with an
//!   instant provider, every state change (queued, running, done) persisted
//!   to sled through the group committer: task state changes per second
//!   (budget: at least 10,000/s);
//! * events appended to the log per second, one event per group, batched by
//!   the group commit (at most every 50 ms or 256 records, docs/design.md §4);
//! * the scheduler alone (queues, no I/O) for scale.
//!
//! Each run opens a fresh db in a temporary directory (on the disk of
//! `TMPDIR`) and stops the clock when the last event is released, that is
//! after its flush. Divan prints the rate as `item/s` (items are state
//! changes, or events).
//!
//! Run with `cargo bench --bench orchestration`. `cargo test --benches` runs
//! each body once; the integration suite runs them at small sizes
//! (`tests/all/perf.rs`).

// A function over 100 lines (clippy.toml) is split into named steps (docs/style.md).
#![warn(clippy::too_many_lines)]

#[path = "support/orchestration.rs"]
#[allow(dead_code)]
mod orchestration;

use divan::Bencher;
use divan::counter::ItemsCount;
use quorum::orchestrator::scheduler::Scheduler;
use quorum::store::Store;

fn main() {
    divan::main();
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"))
}

fn fresh_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let store = Store::open(&dir.path().join("db")).unwrap_or_else(|e| panic!("store: {e}"));
    (dir, store)
}

/// 10,000 tasks queued, started and finished: 30,000 persisted state changes.
#[divan::bench(sample_count = 5, sample_size = 1)]
fn scheduler_10k_tasks_persisted(bencher: Bencher) {
    const TASKS: usize = 10_000;
    let rt = runtime();
    bencher
        .counter(ItemsCount::new(3 * TASKS))
        .with_inputs(fresh_store)
        .bench_local_values(|(dir, store)| {
            let figures = rt.block_on(orchestration::scheduler_run(store, TASKS));
            assert_eq!(figures.released, 3 * TASKS as u64 + 1);
            dir
        });
}

/// 100,000 events appended to the log, one per group.
#[divan::bench(sample_count = 5, sample_size = 1)]
fn event_log_100k_appends(bencher: Bencher) {
    const EVENTS: usize = 100_000;
    let rt = runtime();
    bencher
        .counter(ItemsCount::new(EVENTS))
        .with_inputs(fresh_store)
        .bench_local_values(|(dir, store)| {
            let figures = rt.block_on(orchestration::event_log_run(store, EVENTS));
            assert_eq!(figures.released, EVENTS as u64);
            dir
        });
}

/// The queues alone: 10,000 tasks enqueued on five agents, then started and
/// released two at a time per agent.
#[divan::bench(sample_count = 20)]
fn scheduler_10k_tasks_no_io(bencher: Bencher) {
    const TASKS: usize = 10_000;
    bencher.counter(ItemsCount::new(TASKS)).bench_local(|| {
        let mut s = Scheduler::default();
        s.add_provider("instant", 8);
        for agent in orchestration::AGENTS {
            s.add_agent(agent, 2, "instant");
        }
        for i in 0..TASKS {
            s.enqueue(
                orchestration::AGENTS[i % orchestration::AGENTS.len()],
                &format!("implement.t{i}"),
                0,
            );
        }
        let mut done = 0;
        while done < TASKS {
            let started = s.start_ready(&|_| true);
            assert!(!started.is_empty(), "the queues moved");
            for (agent, _) in started {
                s.release(&agent);
                done += 1;
            }
        }
    });
}
