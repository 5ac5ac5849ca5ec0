//! A db holding many sessions, and `quorum sessions list` over it (issue 7),
//! shared by `examples/sessions_list.rs` and the integration suite's smoke
//! test.
//!
//! The db is made from one real session: an offline session is run (see
//! `session.rs`), and everything stored under its id — summary, events,
//! transcript lines, records — is written again under fresh ids until the db
//! holds the number of sessions asked for. Every session is therefore a real
//! one in size and shape; only the ids (and so the keys) differ.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use quorum::protocol::SessionId;
use quorum::store::{Store, Write};

/// Copies the session `template` until `store` holds `total` sessions,
/// flushing every few copies. Returns the time it took.
pub fn replicate(store: &Store, template: &SessionId, total: usize) -> Duration {
    let start = Instant::now();
    let summary = store
        .find_session(template.as_str())
        .unwrap_or_else(|e| panic!("template: {e}"));
    let events = store
        .events(template)
        .unwrap_or_else(|e| panic!("events: {e}"));
    let lines = store
        .transcript(template)
        .unwrap_or_else(|e| panic!("transcript: {e}"));
    let records = store
        .all_records(template)
        .unwrap_or_else(|e| panic!("records: {e}"));
    let mut kinds: HashMap<String, &'static str> = HashMap::new();
    let records: Vec<(&'static str, String, serde_json::Value)> = records
        .into_iter()
        .map(|(kind, name, value)| {
            let kind = *kinds
                .entry(kind.clone())
                .or_insert_with(|| Box::leak(kind.into_boxed_str()));
            (kind, name, value)
        })
        .collect();
    let have = store.sessions().map(|s| s.len()).unwrap_or(0);
    let mut writes = Vec::new();
    for i in have..total {
        let id = SessionId::new();
        let mut record = summary.clone();
        record.id = id.clone();
        // Distinct creation times, a second apart, so the list has an order.
        record.created_at = time::OffsetDateTime::from_unix_timestamp(1_767_225_600 + i as i64)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_default();
        writes.push(Write::Session(record));
        for event in &events {
            let mut event = event.clone();
            event.session = id.clone();
            writes.push(Write::Event(event));
        }
        for line in &lines {
            writes.push(Write::Line {
                session: id.clone(),
                line: line.clone(),
            });
        }
        for (kind, name, value) in &records {
            writes.push(Write::Record {
                session: id.clone(),
                kind,
                name: name.clone(),
                value: value.clone(),
            });
        }
        if writes.len() >= 20_000 {
            store
                .apply(&std::mem::take(&mut writes))
                .unwrap_or_else(|e| panic!("apply: {e}"));
            store.flush().unwrap_or_else(|e| panic!("flush: {e}"));
        }
    }
    store
        .apply(&writes)
        .unwrap_or_else(|e| panic!("apply: {e}"));
    store.flush().unwrap_or_else(|e| panic!("flush: {e}"));
    // The store seals the db when it is dropped, as after a real session.
    start.elapsed()
}

/// One `quorum sessions list --dir DIR` (`--json` when asked), from outside;
/// returns its wall time and the lines it printed.
pub fn list_once(bin: &Path, dir: &Path, json: bool) -> (Duration, usize) {
    let home = dir.join(".home");
    let mut cmd = Command::new(bin);
    cmd.args(["sessions", "list", "--dir"])
        .arg(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if json {
        cmd.arg("--json");
    }
    let start = Instant::now();
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
    let wall = start.elapsed();
    assert!(
        out.status.success(),
        "sessions list failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = out.stdout.iter().filter(|b| **b == b'\n').count();
    (wall, lines)
}
