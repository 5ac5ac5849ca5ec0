//! `quorum attach [SESSION]`: the session on DIR's server (docs/commands.md,
//! "quorum attach"), in the TUI, or with `--json` as the event stream `quorum
//! run --json` prints (from `--from-seq N`), until it ends. A session that is
//! not on the server is printed from the db with `--json`; the TUI says how
//! to resume it. The server is started when none runs.

use crate::cli::args::{AttachArgs, Global};
use crate::cli::connect::connect_or_start;
use crate::cli::exit::Failure;
use crate::cli::setup::prepare;
use crate::protocol::{Event, EventBody, Op, SessionId};
use crate::server::client::{Connection, OnShutdown};

/// Runs `quorum attach` and returns the exit code: with `--json`, the
/// session's (as `quorum run --json`); the TUI's otherwise.
///
/// Errors: those of `prepare` and of starting the server; exit 2 for a
/// SESSION that names no stored session; exit 1 for a session the TUI
/// cannot attach to (not on the server).
pub async fn run(global: &Global, args: AttachArgs) -> Result<i32, Failure> {
    let prepared = prepare(global, None)?;
    let connection = connect_or_start(&prepared.dir, global, args.json.is_some())
        .await?
        .ok_or_else(|| Failure::failed("the server's socket path is too long: name a shorter state directory with --state-dir"))?;
    let on_server = connection.welcome.session.clone();
    let wanted = args.session.clone();
    let here = match (&wanted, &on_server) {
        (None, Some(_)) => true,
        (Some(w), Some(s)) => s.as_str().starts_with(w.as_str()),
        (_, None) => false,
    };
    let Some(json) = args.json else {
        if !here && let Some(w) = &wanted {
            return Err(Failure::failed(format!(
                "session {} is not on DIR's server{}: `quorum resume {}` continues a stored session",
                crate::sanitize::line(w),
                on_server
                    .map(|s| format!(" (its session is {s})"))
                    .unwrap_or_default(),
                crate::sanitize::line(w),
            )));
        }
        drop(connection);
        return super::tui::run_with(global, prepared, None, None).await;
    };
    let output = crate::headless::Output {
        json: Some(json),
        quiet: true,
        phases: prepared.workflow.phases.len(),
        // The server runs the person's command, not a follower.
        notify: None,
    };
    if here {
        return Ok(crate::headless::run(
            connection.into_channels(OnShutdown::Detach),
            crate::headless::Begin::Attach {
                from_seq: args.from_seq,
            },
            output,
        )
        .await);
    }
    stored(connection, wanted, args.from_seq).await
}

/// A stored session's events from `from_seq`, read through the server, as
/// JSON lines; the exit code of how it ended (3 when it has no end: it was
/// interrupted and is resumable).
async fn stored(
    connection: Connection,
    wanted: Option<String>,
    from_seq: u64,
) -> Result<i32, Failure> {
    let Some(wanted) = wanted else {
        return Err(Failure::usage(
            "no session is on DIR's server: name one (`quorum sessions list`)",
        ));
    };
    let mut channels = connection.into_channels(OnShutdown::Detach);
    channels.send(Op::ListSessions { req: 1 });
    let id = loop {
        match channels.events.recv().await {
            Some(Event::SessionsListed { sessions, .. }) => {
                let sessions = sessions.map_err(Failure::failed)?;
                let found: Vec<SessionId> = sessions
                    .into_iter()
                    .map(|s| s.id)
                    .filter(|id| id.as_str().starts_with(wanted.as_str()))
                    .collect();
                match found.as_slice() {
                    [one] => break one.clone(),
                    [] => {
                        return Err(Failure::usage(format!(
                            "no session {} in DIR",
                            crate::sanitize::line(&wanted)
                        )));
                    }
                    _ => {
                        return Err(Failure::usage(format!(
                            "{} names {} sessions: give more of the id",
                            crate::sanitize::line(&wanted),
                            found.len()
                        )));
                    }
                }
            }
            Some(_) => {}
            None => return Err(Failure::failed("the server closed the connection")),
        }
    };
    channels.send(Op::LoadSession {
        session: id,
        req: 2,
    });
    let events = loop {
        match channels.events.recv().await {
            Some(Event::SessionLoaded { events, .. }) => break events.map_err(Failure::failed)?,
            Some(_) => {}
            None => return Err(Failure::failed("the server closed the connection")),
        }
    };
    let mut code = 3;
    for e in &events {
        if e.seq >= from_seq {
            crate::outln!(
                "{}",
                crate::sanitize::json(&serde_json::to_string(e).unwrap_or_default())
            );
        }
        if let EventBody::SessionFinished { status, .. } = &e.body {
            code = crate::headless::exit_code(*status);
        }
    }
    Ok(code)
}
