//! `quorum serve`: DIR's server ([`crate::server`]; docs/commands.md,
//! "quorum serve"). `--foreground` serves in this process: everything is
//! validated as for a session, DIR's state is opened (its lock held while
//! the server lives) and the orchestrator spawned behind the socket.
//! Without it, a server is started in the background when none runs;
//! `--stop` ends the one that runs.

use std::time::Duration;

use crate::cli::args::{Global, ServeArgs};
use crate::cli::connect::{connect_or_start, connect_running, socket_for};
use crate::cli::exit::{self, Failure, target_dir};
use crate::cli::setup::{open_state, prepare, spawn};
use crate::protocol::wire::ClientMsg;
use crate::server::{ServeOptions, serve};

/// Runs `quorum serve` and returns the exit code.
///
/// Errors: those of `prepare` and `open_state` (exit 2, 4); exit 1 when the
/// socket cannot be made or a running server cannot be reached.
pub async fn run(global: &Global, args: ServeArgs) -> Result<i32, Failure> {
    if args.stop {
        return stop(global).await;
    }
    if !args.foreground {
        let dir = target_dir(global)?;
        crate::server::listen::fits(&socket_for(&dir, global))
            .map_err(|e| Failure::failed(e.to_string()))?;
        let Some(connection) = connect_or_start(&dir, global, false).await? else {
            return Err(Failure::failed("the server's socket path is too long"));
        };
        if !global.quiet {
            crate::outln!(
                "quorum server (pid {}) for {}: {}",
                connection.welcome.pid,
                dir.display(),
                socket_for(&dir, global).display()
            );
        }
        return Ok(exit::OK);
    }
    let prepared = prepare(global, None)?;
    let socket = socket_for(&prepared.dir, global);
    crate::server::listen::fits(&socket).map_err(|e| Failure::failed(e.to_string()))?;
    let (state, store, _guard) = open_state(&prepared.dir, global)?;
    tracing::info!(dir = %prepared.dir.display(), "server");
    let handle = spawn(&prepared, &state, store);
    let options = ServeOptions {
        socket,
        idle: Duration::from_secs(args.idle_exit),
        notify: crate::notify::NotifyCommand::from_settings(
            &prepared.settings.notify,
            &prepared.dir,
        ),
        confirm_decisions: prepared.settings.ui.confirm_decisions,
    };
    serve(handle.into_channels(), options)
        .await
        .map_err(|e| Failure::failed(e.to_string()))?;
    drop(state);
    Ok(exit::OK)
}

/// `quorum serve --stop`: asks DIR's server to stop and waits until it has
/// (its session ended as at a shutdown, its last group flushed).
async fn stop(global: &Global) -> Result<i32, Failure> {
    let dir = target_dir(global)?;
    let Some(connection) = connect_running(&dir, global, false).await? else {
        if !global.quiet {
            crate::errln!("quorum: no server runs for {}", dir.display());
        }
        return Ok(exit::OK);
    };
    let pid = connection.welcome.pid;
    connection
        .request(ClientMsg::Stop)
        .await
        .map_err(|e| Failure::failed(format!("the server (pid {pid}): {e}")))?;
    // The connection closes before the process has let go of DIR's lock.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while alive(pid) && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    if !global.quiet {
        crate::errln!(
            "quorum: stopped the server (pid {pid}) for {}",
            dir.display()
        );
    }
    Ok(exit::OK)
}

/// Whether process `pid` still runs: it exists and is not a zombie (a
/// process that ended and waits for its parent to read its status).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        // The state follows the command's closing parenthesis.
        .and_then(|stat| {
            stat.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().to_string())
        })
        .is_some_and(|rest| !rest.starts_with('Z') && !rest.starts_with('X'))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn a_running_process_is_alive_and_a_zombie_is_not() {
        assert!(alive(std::process::id()));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        // Not reaped yet: a zombie once it has exited.
        let mut tries = 0;
        while alive(pid) && tries < 500 {
            std::thread::sleep(Duration::from_millis(10));
            tries += 1;
        }
        assert!(!alive(pid), "an exited, unreaped child is not alive");
        child.wait().unwrap();
        assert!(!alive(pid));
    }
}
