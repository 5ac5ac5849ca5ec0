//! `quorum sessions list` over a db holding 10,000 sessions, and the db's
//! size on disk per session (issue 7). One real offline session is run, then
//! copied under fresh ids until the db holds the number asked for (method in
//! `benches/support/sessions.rs`); `quorum sessions list` (the table and
//! `--json`) is timed from outside as a process, median of the runs (budget:
//! under 100 ms).
//!
//! Run with `cargo build --release && cargo run --release --example
//! sessions_list [-- SESSIONS [RUNS [DIR]]]`; it runs `target/release/quorum` (or
//! `QUORUM_BIN`).

// A function over 100 lines (clippy.toml) is split into named steps (docs/style.md).
#![warn(clippy::too_many_lines)]

#[path = "../benches/support/session.rs"]
#[allow(dead_code)]
mod session;
#[path = "../benches/support/sessions.rs"]
mod sessions;

use std::path::{Path, PathBuf};
use std::time::Duration;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn kb(bytes: u64) -> String {
    format!("{:.1} KB", bytes as f64 / 1024.0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let total: usize = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let runs: usize = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(7);
    let bin: PathBuf = std::env::var_os("QUORUM_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/quorum"));
    assert!(
        bin.is_file(),
        "{} not found: run `cargo build --release` first",
        bin.display()
    );
    let temp = tempfile::Builder::new()
        .prefix("quorum-sessions-")
        .tempdir()
        .unwrap_or_else(|e| panic!("tempdir: {e}"));
    // A third argument keeps the db there (and reuses it on the next run).
    let kept = args.get(3).map(PathBuf::from);
    let dir = kept.as_deref().unwrap_or(temp.path());
    let db = dir.join(".quorum/db");
    if db.exists() {
        report(&bin, dir, total, runs);
        return;
    }
    // One real session.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let one = rt.block_on(session::run_session(
        dir,
        session::settings(session::TRIVIAL_SUITE),
        None,
    ));
    // Tasks the session spawned may hold the store until their runtime goes.
    drop(rt);
    let one_bytes = session::dir_bytes(&db);
    let store = session::reopen(&db);
    let template = store
        .sessions()
        .unwrap_or_else(|e| panic!("sessions: {e}"))
        .first()
        .map(|s| s.id.clone())
        .unwrap_or_else(|| panic!("the session is stored"));
    let events = store.events(&template).map(|e| e.len()).unwrap_or(0);
    let lines = store.transcript(&template).map(|l| l.len()).unwrap_or(0);
    let records = store.all_records(&template).map(|r| r.len()).unwrap_or(0);
    println!(
        "one offline session: {events} events, {lines} transcript lines, {records} records; db {} (written {} by the session)",
        kb(one_bytes),
        kb(one.write_bytes),
    );
    let took = sessions::replicate(&store, &template, total);
    drop(store);
    let full = session::dir_bytes(&db);
    println!(
        "{total} sessions written in {:.1} s: db {:.1} MB on disk, {} per session",
        took.as_secs_f64(),
        full as f64 / 1048576.0,
        kb(full / total as u64),
    );
    let compacted = compacted_bytes(&db);
    println!(
        "after compaction (the db exported into a fresh one): {:.1} MB, {} per session",
        compacted as f64 / 1048576.0,
        kb(compacted / total as u64),
    );
    report(&bin, dir, total, runs);
    // What compaction gives back once sessions are removed (`quorum sessions
    // rm` calls the same `Store::remove_session`).
    let store = session::reopen(&db);
    let ids: Vec<_> = store
        .sessions()
        .unwrap_or_else(|e| panic!("sessions: {e}"))
        .into_iter()
        .map(|s| s.id)
        .collect();
    let removed = ids.len() / 2;
    for id in ids.iter().step_by(2).take(removed) {
        store
            .remove_session(id)
            .unwrap_or_else(|e| panic!("remove {id}: {e}"));
    }
    drop(store);
    let after_rm = session::dir_bytes(&db);
    let compacted = compacted_bytes(&db);
    println!(
        "{removed} of the {total} sessions removed: db {:.1} MB on disk; after compaction {:.1} MB, {} per session left",
        after_rm as f64 / 1048576.0,
        compacted as f64 / 1048576.0,
        kb(compacted / (total - removed).max(1) as u64),
    );
}

/// The db's size on disk after compaction, in bytes. sled 0.34 has no
/// compaction call (its segment cleaner reclaims space in the background), so
/// the db is exported into a fresh one with the store's settings
/// (`Db::export`/`Db::import`, sled's documented way to rewrite a db), which
/// is measured and removed; the db itself is left as it was (a copy of its
/// files is exported).
fn compacted_bytes(db: &Path) -> u64 {
    let open = |path: &Path| {
        sled::Config::new()
            .path(path)
            .mode(sled::Mode::LowSpace)
            .cache_capacity(16 * 1024 * 1024)
            .flush_every_ms(None)
            .open()
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    let fresh = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let target = fresh.path().join("db");
    // sled rewrites the files it opens, and the seal beside the db
    // (`store/seal.rs`) would then report it as corrupt: a copy is read.
    let source = fresh.path().join("source");
    std::fs::create_dir(&source).unwrap_or_else(|e| panic!("mkdir: {e}"));
    for entry in std::fs::read_dir(db).unwrap_or_else(|e| panic!("{}: {e}", db.display())) {
        let entry = entry.unwrap_or_else(|e| panic!("read_dir: {e}"));
        if entry.path().is_file() {
            std::fs::copy(entry.path(), source.join(entry.file_name()))
                .unwrap_or_else(|e| panic!("copy: {e}"));
        }
    }
    {
        let old = open(&source);
        let new = open(&target);
        new.import(old.export());
        new.flush().unwrap_or_else(|e| panic!("flush: {e}"));
    }
    session::dir_bytes(&target)
}

/// Times `quorum sessions list` (the table, then `--json`) over the db in `dir`,
/// then once without the session index (as after a crash: sled is read, and
/// the index rebuilt).
fn report(bin: &Path, dir: &Path, total: usize, runs: usize) {
    report_indexed(bin, dir, total, runs);
    let index = dir.join(".quorum/db.index");
    let _ = std::fs::remove_file(&index);
    let (took, printed) = sessions::list_once(bin, dir, false);
    println!(
        "quorum sessions list over {total} sessions without the index ({printed} lines; reads sled and rebuilds the index): {}; index rebuilt: {}",
        ms(took),
        index.is_file(),
    );
    let (took, _) = sessions::list_once(bin, dir, false);
    println!("the next quorum sessions list: {}", ms(took));
}

/// Times `quorum sessions list` (the table, then `--json`) over the db in `dir`.
fn report_indexed(bin: &Path, dir: &Path, total: usize, runs: usize) {
    for json in [false, true] {
        let (_, printed) = sessions::list_once(bin, dir, json); // warm
        let times: Vec<Duration> = (0..runs)
            .map(|_| sessions::list_once(bin, dir, json).0)
            .collect();
        println!(
            "quorum sessions list{} over {total} sessions ({printed} lines): median {} of {runs} runs, fastest {}, slowest {} (budget 100 ms)",
            if json { " --json" } else { "" },
            ms(median(times.clone())),
            ms(times.iter().copied().min().unwrap_or_default()),
            ms(times.iter().copied().max().unwrap_or_default()),
        );
    }
}
