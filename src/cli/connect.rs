//! Reaching DIR's server from a command (docs/design.md §4, "Server and
//! clients"): connect to the socket in DIR's state directory, and start
//! `quorum serve` in the background first when none listens
//! ([`connect_or_start`]). The server is this same executable, started with
//! the command line's global options (DIR, `--config`, `--state-dir`,
//! `--offline`, …) and this process's environment (the provider keys), in a
//! session of its own so that the terminal's hangup does not reach it.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::cli::args::Global;
use crate::cli::exit::Failure;
use crate::server::client::{ClientError, Connection, connect, label};
use crate::server::listen::{fits, socket_path};
use crate::workspace::state_dir::StateDir;

/// How long a started server may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// The socket of DIR's server.
pub(crate) fn socket_for(dir: &Path, global: &Global) -> PathBuf {
    socket_path(&StateDir::location(dir, global.state_dir.as_deref()))
}

/// Connects to DIR's server when one runs: `Ok(None)` when none does.
///
/// Errors: exit 1 when the server refuses this client (another version,
/// another user) or the connection breaks.
pub(crate) async fn connect_running(
    dir: &Path,
    global: &Global,
    attach: bool,
) -> Result<Option<Connection>, Failure> {
    let socket = socket_for(dir, global);
    match connect(&socket, crate::protocol::wire::Hello::new(attach, label())).await {
        Ok(connection) => Ok(Some(connection)),
        Err(ClientError::NoServer(_)) => Ok(None),
        Err(e) => Err(Failure::failed(e.to_string())),
    }
}

/// Connects to DIR's server, starting one first when none runs. `Ok(None)`
/// when the socket's path is too long for a Unix socket (the caller then
/// runs in-process, as before the server existed).
///
/// Errors: exit 4 when another quorum holds DIR's state (the server could
/// not take the lock); exit 1 when the server could not start (its own
/// message), did not listen within 20 s, or refused this client.
pub(crate) async fn connect_or_start(
    dir: &Path,
    global: &Global,
    attach: bool,
) -> Result<Option<Connection>, Failure> {
    let socket = socket_for(dir, global);
    if fits(&socket).is_err() {
        tracing::warn!(socket = %socket.display(), "socket path too long: running in-process");
        return Ok(None);
    }
    if let Some(connection) = connect_running(dir, global, attach).await? {
        return Ok(Some(connection));
    }
    let mut child = start(dir, global)?;
    let deadline = tokio::time::Instant::now() + START_TIMEOUT;
    loop {
        if let Some(connection) = connect_running(dir, global, attach).await? {
            // Reaped when it ends, so that it never lingers as a zombie of
            // this (maybe long-lived) client.
            std::thread::spawn(move || {
                drop(child.stderr.take());
                let _ = child.wait();
            });
            return Ok(Some(connection));
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(start_failed(&mut child, status));
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(Failure::failed(format!(
                "the quorum server did not listen on {} within {} s; its log is in the state directory's logs/",
                socket.display(),
                START_TIMEOUT.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// What went wrong reaching the server in the background
/// ([`connect_in_background`]), for the command to exit with once the TUI
/// has given the terminal back.
pub(crate) type Failed = std::sync::Arc<std::sync::Mutex<Option<Failure>>>;

/// The TUI's channels to DIR's server, at once: the server is reached (or
/// started) in the background while the TUI draws its first frame, and the
/// ops the person sends meanwhile wait in the channel. When it cannot be
/// reached, the TUI gets [`crate::protocol::Event::Fatal`] naming why and
/// [`crate::protocol::Event::Closed`], and the failure (its exit code: 4
/// when another quorum holds DIR) is left in the returned slot.
pub(crate) fn connect_in_background(
    dir: &Path,
    global: &Global,
) -> (crate::protocol::Channels, Failed) {
    use crate::protocol::Event;
    let (channels, ends) = crate::server::client::channels();
    let failed: Failed = std::sync::Arc::default();
    let slot = std::sync::Arc::clone(&failed);
    let (dir, global) = (dir.to_path_buf(), global.clone());
    tokio::spawn(async move {
        let failure = match connect_or_start(&dir, &global, true).await {
            Ok(Some(connection)) => {
                connection.serve(ends, crate::server::client::OnShutdown::Quit);
                return;
            }
            Ok(None) => Failure::failed("the server's socket path is too long"),
            Err(failure) => failure,
        };
        let _ = ends.events.send(Event::Fatal {
            message: format!("quorum: {}", failure.message),
        });
        let _ = ends.events.send(Event::Closed);
        if let Ok(mut slot) = slot.lock() {
            *slot = Some(failure);
        }
    });
    (channels, failed)
}

/// Starts `quorum serve --foreground` for DIR in the background, in a
/// session of its own, with the global options of this command line.
fn start(dir: &Path, global: &Global) -> Result<std::process::Child, Failure> {
    use std::os::unix::process::CommandExt as _;
    let exe = std::env::current_exe()
        .map_err(|e| Failure::failed(format!("cannot find quorum's executable: {e}")))?;
    let mut command = std::process::Command::new(exe);
    command.arg("--dir").arg(dir);
    if let Some(config) = &global.config {
        command.arg("--config").arg(config);
    }
    if let Some(state) = &global.state_dir {
        command.arg("--state-dir").arg(state);
    }
    for (set, flag) in [
        (global.offline, "--offline"),
        (global.no_setup_network, "--no-setup-network"),
        (global.allow_unconfined_tests, "--allow-unconfined-tests"),
    ] {
        if set {
            command.arg(flag);
        }
    }
    for _ in 0..global.verbose {
        command.arg("-v");
    }
    command
        .args(["serve", "--foreground"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        // Read only when it exits before listening: it says why.
        .stderr(Stdio::piped())
        // Its own process group: the terminal's signals (Ctrl-C, the
        // hangup of a closed terminal) go to the foreground group only.
        .process_group(0);
    // Nothing of this process but the three descriptors above reaches the
    // server: a terminal descriptor some library left open without
    // close-on-exec would keep the terminal open as long as the server
    // lives (its reader never seeing the end).
    // SAFETY: the closure runs between fork and exec and only makes
    // async-signal-safe system calls (close_range(2), else fcntl(2)).
    unsafe {
        command.pre_exec(|| {
            mark_inherited_cloexec();
            Ok(())
        });
    }
    tracing::info!(dir = %dir.display(), "starting the server");
    command
        .spawn()
        .map_err(|e| Failure::failed(format!("cannot start the quorum server: {e}")))
}

/// Marks every descriptor from 3 up close-on-exec: `close_range(2)` with
/// `CLOSE_RANGE_CLOEXEC` (Linux 5.11), else `fcntl(2)` on the first 1,024.
/// Async-signal-safe: called between fork and exec.
fn mark_inherited_cloexec() {
    // SAFETY: plain system calls on this process's own descriptor table.
    unsafe {
        let all = libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        );
        if all != 0 {
            for fd in 3..1024 {
                libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
            }
        }
    }
}

/// The failure of a server that exited before it listened: its own message
/// and exit code (4: another quorum holds DIR's state).
fn start_failed(child: &mut std::process::Child, status: std::process::ExitStatus) -> Failure {
    use std::io::Read as _;
    let mut text = String::new();
    if let Some(stderr) = child.stderr.as_mut() {
        let _ = stderr.read_to_string(&mut text);
    }
    let message = text
        .lines()
        .map(|l| l.trim_start_matches("quorum: "))
        .collect::<Vec<_>>()
        .join("; ");
    let message = if message.is_empty() {
        format!("the quorum server exited before it listened ({status})")
    } else {
        message
    };
    Failure {
        code: status.code().filter(|c| *c != 0).unwrap_or(1),
        message,
    }
}
