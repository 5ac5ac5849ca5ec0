//! `quorum serve`: one process per DIR that owns the state lock, the store
//! and the orchestrator, and serves its sessions to any number of clients
//! over a Unix socket in DIR's state directory (docs/design.md §4, "Server
//! and clients"; docs/commands.md, "quorum serve").
//!
//! Like the TUI and the headless runner, it takes the orchestrator as
//! [`Channels`] and imports only the protocol (and the floors below):
//! `commands/serve.rs` opens the state and spawns the orchestrator.
//!
//! Here: [`serve`], the accept loop and the server's lifetime; `listen` the
//! socket, the uid check and the handshake; `hub` the one task between the
//! clients and the orchestrator; `snapshot` what a client attaching is sent
//! first; `client` a client's end of the socket.

pub mod client;
pub mod hub;
pub mod listen;
pub mod snapshot;

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::mpsc::unbounded_channel;

use crate::protocol::Channels;
use hub::{Hub, HubMsg};

/// How often the server checks that its socket is still there: a server
/// whose state directory was removed can no longer be reached, and stops.
const SOCKET_CHECK: Duration = Duration::from_secs(30);

/// How long a stopping server waits for its clients' last frames.
const WRITERS_LIMIT: Duration = Duration::from_secs(2);

/// What a server runs with.
#[derive(Clone)]
pub struct ServeOptions {
    /// The socket's path ([`listen::socket_path`]).
    pub socket: PathBuf,
    /// How long the server waits without clients and without a running
    /// session before it stops.
    pub idle: Duration,
    /// The person's `[notify] command` (docs/configuration.md,
    /// "Notifications"), run by the server when a session needs the person
    /// or ends; `None` for none.
    pub notify: Option<crate::notify::NotifyCommand>,
    /// `[ui] confirm_decisions`: whether every decision waits for the person.
    pub confirm_decisions: bool,
}

/// Why the server could not run.
pub type ServeError = listen::BindError;

/// Serves the orchestrator behind `channels` on `options.socket` until `serve
/// --stop`, the last client quitting with nothing running, the idle time, a
/// SIGTERM/SIGINT, or the socket's removal; then the orchestrator is shut
/// down (its last group flushed), the socket removed, and this returns.
/// SIGHUP is ignored: the server outlives the terminal that started it.
///
/// Errors: [`ServeError`] when the socket cannot be made (nothing was
/// served; the orchestrator is shut down).
pub async fn serve(channels: Channels, options: ServeOptions) -> Result<(), ServeError> {
    let Channels {
        ops,
        events,
        stopped,
    } = channels;
    let listener = match listen::bind(&options.socket) {
        Ok(listener) => listener,
        Err(e) => {
            let _ = ops.send(crate::protocol::Op::Shutdown);
            stopped.await;
            return Err(e);
        }
    };
    tracing::info!(socket = %options.socket.display(), pid = std::process::id(), "server listening");
    let (hub_tx, hub_rx) = unbounded_channel::<HubMsg>();
    // The server's sessions are the TUI's (interactive) or `run --detach`'s,
    // which decide without the person: their questions are answered at once.
    let notify = crate::notify::Host::new(options.notify.clone(), true, options.confirm_decisions);
    let hub = tokio::spawn(Hub::new(ops, options.idle, notify).run(hub_rx, events));
    tokio::pin!(hub);
    let signals = stop_signals();
    tokio::pin!(signals);
    let mut check = tokio::time::interval(SOCKET_CHECK);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let inode = socket_inode(&options.socket);
    let mut next_id = 1;
    let mut signalled = false;
    // Every connection's writer holds a clone until its last frame is out.
    let (writing, mut written) = tokio::sync::mpsc::channel::<()>(1);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(listen::connection(
                        stream,
                        next_id,
                        hub_tx.clone(),
                        writing.clone(),
                    ));
                    next_id += 1;
                }
                Err(e) => tracing::warn!(error = %e, "accept failed"),
            },
            _ = &mut hub => break,
            () = &mut signals, if !signalled => {
                signalled = true;
                let _ = hub_tx.send(HubMsg::From(0, crate::protocol::wire::ClientMsg::Stop));
            }
            _ = check.tick() => {
                if inode.is_some() && socket_inode(&options.socket) != inode {
                    tracing::warn!("the server's socket is gone: stopping");
                    let _ = hub_tx.send(HubMsg::From(0, crate::protocol::wire::ClientMsg::Stop));
                }
            }
        }
    }
    drop(listener);
    if socket_inode(&options.socket) == inode {
        let _ = std::fs::remove_file(&options.socket);
    }
    stopped.await;
    // The clients' last frames (`Event::Closed`) go out before the
    // process ends; a client that reads nothing is not waited for long.
    drop(writing);
    let _ = tokio::time::timeout(WRITERS_LIMIT, written.recv()).await;
    tracing::info!("server stopped");
    Ok(())
}

/// The socket file's inode, to tell it from one another server made.
fn socket_inode(path: &std::path::Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::symlink_metadata(path).ok().map(|m| m.ino())
}

/// Resolves at the first SIGTERM or SIGINT; SIGHUP is taken and ignored.
async fn stop_signals() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        return std::future::pending().await;
    };
    loop {
        tokio::select! {
            _ = term.recv() => return,
            _ = int.recv() => return,
            _ = hup.recv() => {}
        }
    }
}
