//! `quorum sessions list|show|export|rm|push`: the sessions of DIR, read from
//! its state db. Tables for people on stdout, `--json` for scripts; `export`
//! and `push` live in their own modules. Everything printed passes the
//! sanitiser ([`crate::sanitize`]): prompts and event details are model and
//! project text.

use std::io::{IsTerminal as _, Write as _};

use crate::cli::args::{Global, SessionsCommand};
use crate::cli::exit::{self, Failure};
use crate::protocol::LoggedEvent;
use crate::store::{SessionRecord, Store};
use crate::workspace::state_dir::{StateDir, StateError};

use crate::cli::exit::db;
use crate::cli::setup::{Reading, find, open_for, open_read, read_for, settle};

/// Runs a `sessions` subcommand and returns the exit code.
pub async fn run(global: &Global, command: SessionsCommand) -> Result<i32, Failure> {
    match command {
        SessionsCommand::List { json } => {
            let dir = crate::cli::exit::target_dir(global)?;
            let location = StateDir::location(&dir, global.state_dir.as_deref());
            StateDir::check(&location)?;
            // DIR's server holds the db: it lists the sessions (no copy of
            // the db is read).
            if let Some(all) = listed_by_server(global, &dir).await? {
                return list(&all, json, &dir.display().to_string());
            }
            if !location.join("db").exists() {
                crate::errln!("no sessions in {}", dir.display());
                return Ok(exit::OK);
            }
            // DIR's lock first, so that no session writes while the index is
            // read; while a session runs, a copy of the db is read instead.
            let all: Option<Vec<SessionRecord>> = match StateDir::open(&location) {
                Ok(state) => {
                    // The db is checked against its seal even when the index is
                    // read instead of sled: a damaged db is reported, never listed.
                    crate::store::seal::verify(&state.db_path())
                        .map_err(crate::cli::exit::store_failure)?;
                    // Nobody runs a session now: one stored without an end
                    // was left so by an owner that died.
                    crate::store::index::read(&state.db_path())
                        .map(|all| all.into_iter().map(|r| settle(r, None)).collect())
                }
                Err(StateError::InUse { .. }) => None,
                Err(e) => return Err(e.into()),
            };
            let all: Vec<SessionRecord> = match all {
                Some(all) => all,
                None => {
                    // The index cannot be trusted (a crash, or an older quorum
                    // wrote the db), or a session runs: read sled (which also
                    // rebuilds the index), or a copy of it.
                    let Some(reading) = open_read(global)? else {
                        crate::errln!("no sessions in {}", dir.display());
                        return Ok(exit::OK);
                    };
                    let all = reading.store().sessions().map_err(db)?;
                    all.into_iter().map(|r| reading.settle(r)).collect()
                }
            };
            list(&all, json, &dir.display().to_string())
        }
        SessionsCommand::Show { id, json } => {
            let reading = read_for(global, &id)?;
            show(&reading, &id, json)
        }
        SessionsCommand::Export { id, format, output } => {
            let reading = read_for(global, &id)?;
            super::export::run(global, &reading, &id, format, output.as_deref())
        }
        SessionsCommand::Rm { id } => {
            let opened = open_for(global, &id)?;
            let session = find(&opened.store, &id)?;
            let removed = opened.store.remove_session(&session.id).map_err(db)?;
            let scratch = crate::workspace::Workspace::new(&opened.dir, opened.state.root())
                .scratch(&session.id);
            if scratch.is_dir() && crate::workspace::paths::is_inside(opened.state.root(), &scratch)
            {
                std::fs::remove_dir_all(&scratch).map_err(|e| {
                    Failure::failed(format!("cannot remove {}: {e}", scratch.display()))
                })?;
            }
            tracing::info!(session = %session.id, "session removed");
            crate::outln!(
                "removed session {} ({} events, {} transcript lines, {} records){}",
                session.id,
                removed.events,
                removed.lines,
                removed.records,
                match &session.commit {
                    Some(sha) => format!("; its commit {} stays", short_sha(sha)),
                    None => String::new(),
                }
            );
            Ok(exit::OK)
        }
        SessionsCommand::Push { id, remote, branch } => {
            let opened = open_for(global, &id)?;
            super::push::run(global, &opened, &id, remote.as_deref(), branch.as_deref())
        }
    }
}

/// The first 12 characters of a sha.
pub(crate) fn short_sha(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

/// A count of tokens for people: `950`, `12.3k`, `4.1M`.
pub(crate) fn tokens(n: u64) -> String {
    match n {
        0..=999 => n.to_string(),
        1_000..=999_999 => format!("{:.1}k", n as f64 / 1e3),
        _ => format!("{:.1}M", n as f64 / 1e6),
    }
}

/// `2026-01-05T14:02:03.123Z` → `2026-01-05 14:02`.
fn minute(at: &str) -> String {
    at.chars().take(16).collect::<String>().replace('T', " ")
}

/// The first line of `text`, controls shown visibly, redacted, at most
/// `width` characters (with `…` when cut).
fn clip(text: &str, width: usize) -> String {
    let line = text.lines().next().unwrap_or("");
    crate::secrets::redact::clip(&crate::sanitize::line(line), width)
}

/// The sessions of DIR as its server lists them, when a server runs
/// (`None` when none does).
///
/// Errors: exit 1 when the server refuses this client or cannot read its
/// store.
async fn listed_by_server(
    global: &Global,
    dir: &std::path::Path,
) -> Result<Option<Vec<SessionRecord>>, Failure> {
    use crate::protocol::{Event, Op};
    let Some(connection) = crate::cli::connect::connect_running(dir, global, false).await? else {
        return Ok(None);
    };
    let mut channels = connection.into_channels(crate::server::client::OnShutdown::Detach);
    channels.send(Op::ListSessions { req: 1 });
    while let Some(event) = channels.events.recv().await {
        if let Event::SessionsListed { sessions, .. } = event {
            let sessions = sessions.map_err(Failure::failed)?;
            return Ok(Some(sessions.into_iter().map(record).collect()));
        }
    }
    Err(Failure::failed(
        "DIR's server closed the connection before it listed the sessions",
    ))
}

/// A session as the server summarises it, as a stored record.
fn record(s: crate::protocol::SessionSummary) -> SessionRecord {
    SessionRecord {
        id: s.id,
        prompt: s.prompt,
        dir: s.dir,
        workflow: s.workflow,
        created_at: s.created_at,
        updated_at: s.updated_at,
        status: s.status,
        phase: s.phase,
        tokens_in: s.tokens.0,
        tokens_out: s.tokens.1,
        cost_usd: s.cost_usd,
        commit: s.commit,
        last_seq: s.last_seq,
        offline: s.offline,
    }
}

fn list(all: &[SessionRecord], json: bool, dir: &str) -> Result<i32, Failure> {
    let mut stdout = std::io::stdout().lock();
    if json {
        for s in all {
            let json = serde_json::to_string(s).unwrap_or_default();
            let _ = writeln!(stdout, "{}", crate::sanitize::json(&json));
        }
        return Ok(exit::OK);
    }
    if all.is_empty() {
        crate::errln!("no sessions in {dir}");
        return Ok(exit::OK);
    }
    let rows: Vec<[String; 7]> = all
        .iter()
        .map(|s: &SessionRecord| {
            [
                s.id.to_string(),
                s.status_label().to_string(),
                crate::sanitize::line(&s.phase).into_owned(),
                minute(&s.created_at),
                tokens(s.tokens_in + s.tokens_out),
                s.commit
                    .as_deref()
                    .map(|c| c[..c.len().min(8)].to_string())
                    .unwrap_or_else(|| "-".into()),
                String::new(),
            ]
        })
        .collect();
    let headers = ["ID", "STATUS", "PHASE", "STARTED (UTC)", "TOKENS", "COMMIT"];
    let mut widths = headers.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let used: usize = widths.iter().map(|w| w + 2).sum();
    // On a terminal the prompt fills the rest of the line; in a pipe it gets 72.
    let prompt_width = if std::io::stdout().is_terminal() {
        crossterm::terminal::size()
            .map(|(cols, _)| usize::from(cols).saturating_sub(used).max(20))
            .unwrap_or(72)
    } else {
        72
    };
    let line = |cells: &[&str], prompt: &str| {
        let mut out = String::new();
        for (cell, w) in cells.iter().zip(widths) {
            out.push_str(&format!("{cell:<w$}  "));
        }
        out.push_str(prompt);
        out
    };
    let _ = writeln!(stdout, "{}", line(&headers, "PROMPT"));
    for (row, s) in rows.iter().zip(all) {
        let cells: Vec<&str> = row[..6].iter().map(String::as_str).collect();
        let _ = writeln!(
            stdout,
            "{}",
            line(&cells, &clip(&s.prompt, prompt_width)).trim_end()
        );
    }
    Ok(exit::OK)
}

fn show(reading: &Reading, id: &str, json: bool) -> Result<i32, Failure> {
    let store = reading.store();
    let s = reading.settle(find(store, id)?);
    let events = store.events(&s.id).map_err(db)?;
    let mut stdout = std::io::stdout().lock();
    if json {
        for e in &events {
            let json = serde_json::to_string(e).unwrap_or_default();
            let _ = writeln!(stdout, "{}", crate::sanitize::json(&json));
        }
        return Ok(exit::OK);
    }
    let mut text = String::new();
    show_text(&mut text, store, &s, &events);
    let _ = stdout.write_all(crate::sanitize::text(&text).as_bytes());
    Ok(exit::OK)
}

/// The text of `sessions show` for people, before the sanitiser.
fn show_text(out: &mut String, store: &Store, s: &SessionRecord, events: &[LoggedEvent]) {
    use std::fmt::Write as _;
    let stdout = out;
    let _ = writeln!(stdout, "session   {}", s.id);
    let _ = writeln!(stdout, "prompt    {}", s.prompt);
    let _ = writeln!(stdout, "dir       {}", s.dir);
    let _ = writeln!(stdout, "status    {}", s.status_label());
    let _ = writeln!(stdout, "phase     {}", s.phase);
    let _ = writeln!(stdout, "started   {}", s.created_at);
    let _ = writeln!(stdout, "updated   {}", s.updated_at);
    let _ = writeln!(stdout, "tokens    {} in, {} out", s.tokens_in, s.tokens_out);
    let _ = writeln!(stdout, "cost      ${:.4}", s.cost_usd);
    if let Some(sha) = &s.commit {
        let _ = writeln!(stdout, "commit    {sha}");
    }
    if let Ok(Some(undo)) = store.record::<serde_json::Value>(&s.id, "undo", "revert") {
        let _ = writeln!(
            stdout,
            "undone    by {} on {}",
            undo["sha"].as_str().unwrap_or("?"),
            undo["at"].as_str().unwrap_or("?")
        );
    }
    if s.offline {
        let _ = writeln!(stdout, "provider  {}", crate::config::OFFLINE_LABEL);
    }
    let _ = writeln!(stdout, "events    {}", events.len());
    for e in events {
        let detail = serde_json::to_value(&e.body)
            .ok()
            .and_then(|v| v.as_object().cloned())
            .map(|o| {
                o.into_iter()
                    .filter(|(k, _)| k != "type")
                    .map(|(k, v)| match v {
                        serde_json::Value::String(s) => format!("{k}={s}"),
                        other => format!("{k}={other}"),
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default();
        // One line per event: controls (newlines too) shown, then redacted
        // before the cut.
        let detail = crate::secrets::redact::clip(&crate::sanitize::line(&detail), 120);
        let _ = writeln!(stdout, "  {:>4} {:<20} {detail}", e.seq, e.body.type_name());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_text_are_shortened_for_people() {
        assert_eq!(tokens(950), "950");
        assert_eq!(tokens(12_345), "12.3k");
        assert_eq!(tokens(4_100_000), "4.1M");
        assert_eq!(minute("2026-01-05T14:02:03.123Z"), "2026-01-05 14:02");
        assert_eq!(clip("abcdef\nsecond", 4), "abc…");
        assert_eq!(clip("abc", 4), "abc");
    }
}
