//! The person's notify command (`[notify] command`, docs/configuration.md,
//! "Notifications"): run with each [`Notice`] by the process that hosts the
//! orchestrator — DIR's server (`quorum serve`, for the TUI's sessions and
//! `run --detach`'s), headless `quorum run` (at the session's end), or a TUI
//! that runs its session itself (docs/design.md §5, "Notifications").
//!
//! The command is the person's own, run the way a shell runs one: `sh -c
//! COMMAND` in DIR, with the environment quorum has (provider keys included,
//! as in any command the person runs in that shell), plus `QUORUM_SESSION`,
//! `QUORUM_REASON`, `QUORUM_SUMMARY` and `QUORUM_DIR`. It gets no terminal:
//! stdin, stdout and stderr are null, so nothing it prints reaches the TUI.
//! It never blocks the caller: it is spawned, reaped by a thread of its own,
//! and killed with every process it started after [`COMMAND_TIMEOUT`].

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::config::NotifySettings;
use crate::protocol::Event;
use crate::protocol::notice::{Notice, Watch};

/// Longest a notify command may run before it is killed (with every process
/// of its process group).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// How often the reaper looks whether the command ended.
const POLL: Duration = Duration::from_millis(50);

/// The person's command and DIR, where it runs: what a host of the
/// orchestrator keeps to run it with each notice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotifyCommand {
    /// The shell command, run with `sh -c`.
    pub command: String,
    /// DIR: the command's working directory and its `QUORUM_DIR`.
    pub dir: PathBuf,
}

impl NotifyCommand {
    /// The command of `settings` for a session in `dir`; `None` without one
    /// (or with `notify = false`).
    pub fn from_settings(settings: &NotifySettings, dir: &Path) -> Option<NotifyCommand> {
        settings.command().map(|command| NotifyCommand {
            command: command.to_string(),
            dir: dir.to_path_buf(),
        })
    }

    /// [`run_command`] for `notice`.
    pub fn run(&self, notice: &Notice) -> Option<JoinHandle<()>> {
        run_command(&self.command, notice, &self.dir)
    }
}

/// The notify command of a process that hosts the orchestrator (headless
/// `quorum run`, the server): the fold that says when the session
/// needs the person ([`Watch`]), the command to run then, and the commands
/// still running.
pub struct Host {
    watch: Watch,
    command: Option<NotifyCommand>,
    running: Vec<JoinHandle<()>>,
}

impl Host {
    /// A host running `command` (none: the host does nothing) for a session
    /// that is `interactive` (a person answers its questions and decisions)
    /// or not (only its end is a notice), with `[ui] confirm_decisions`.
    pub fn new(command: Option<NotifyCommand>, interactive: bool, confirm_decisions: bool) -> Host {
        Host {
            watch: Watch::new(interactive, confirm_decisions),
            command,
            running: Vec::new(),
        }
    }

    /// Takes one orchestrator event; runs the command for each notice it
    /// gives, without waiting for it.
    pub fn take(&mut self, event: &Event) {
        let Some(command) = &self.command else {
            return;
        };
        for notice in self.watch.take(event) {
            self.running.extend(command.run(&notice));
        }
        self.running.retain(|r| !r.is_finished());
    }

    /// Blocks until every command started has ended or was killed (at most
    /// [`COMMAND_TIMEOUT`]): before the process exits, so that none is left
    /// running unwatched.
    pub fn wait(self) {
        for reaper in self.running {
            let _ = reaper.join();
        }
    }
}

/// The variables a notify command gets for `notice` in `dir`, in this order:
/// `QUORUM_SESSION` (the session's 12-hex id), `QUORUM_REASON` (`question`,
/// `conflict`, `budget`, `delivery` or `finished`), `QUORUM_SUMMARY` (one line,
/// at most 120 characters, no control characters) and `QUORUM_DIR` (DIR).
pub fn variables(notice: &Notice, dir: &Path) -> [(&'static str, String); 4] {
    [
        ("QUORUM_SESSION", notice.session.as_str().to_string()),
        ("QUORUM_REASON", notice.reason.as_str().to_string()),
        ("QUORUM_SUMMARY", notice.summary.clone()),
        ("QUORUM_DIR", dir.display().to_string()),
    ]
}

/// Runs `command` with `sh -c` in `dir` for `notice` (module doc), without
/// waiting for it. Returns the reaper's handle: joining it waits until the
/// command ended or was killed (at most [`COMMAND_TIMEOUT`]), which the
/// headless runner does before it exits; the TUI lets it run. `None` when the
/// command could not be started (logged, never an error to the person's
/// session).
pub fn run_command(command: &str, notice: &Notice, dir: &Path) -> Option<JoinHandle<()>> {
    run_for(command, notice, dir, COMMAND_TIMEOUT)
}

/// [`run_command`] with the command killed after `timeout`.
fn run_for(
    command: &str,
    notice: &Notice,
    dir: &Path,
    timeout: Duration,
) -> Option<JoinHandle<()>> {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .current_dir(dir)
        .envs(variables(notice, dir))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt as _;
        // A group of its own, so that the timeout kills what it started too.
        cmd.process_group(0);
    }
    let child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => {
            tracing::warn!(error = %e, "the notify command could not start");
            return None;
        }
    };
    let reason = notice.reason.as_str();
    let reaper = std::thread::Builder::new()
        .name("notify-command".into())
        .spawn(move || reap(child, reason, timeout));
    match reaper {
        Ok(handle) => Some(handle),
        Err(e) => {
            tracing::warn!(error = %e, "no thread to wait for the notify command");
            None
        }
    }
}

/// Waits for `child` to end, killing it (and its process group) after
/// `timeout`; logs how it ended.
fn reap(mut child: Child, reason: &'static str, timeout: Duration) {
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => {
                tracing::debug!(reason, "the notify command ran");
                return;
            }
            Ok(Some(status)) => {
                tracing::warn!(reason, %status, "the notify command failed");
                return;
            }
            Ok(None) if started.elapsed() >= timeout => {
                kill(&mut child);
                tracing::warn!(
                    reason,
                    timeout_ms = timeout.as_millis() as u64,
                    "the notify command was killed"
                );
                return;
            }
            Ok(None) => std::thread::sleep(POLL),
            Err(e) => {
                tracing::warn!(reason, error = %e, "cannot wait for the notify command");
                return;
            }
        }
    }
}

/// Kills `child`'s process group (it leads one: `process_group(0)`), then
/// reaps it.
fn kill(child: &mut Child) {
    #[cfg(unix)]
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: killpg only sends a signal; the group is the child's own,
        // made at spawn, and the child is not reaped yet, so its id is not
        // reused.
        unsafe {
            libc::killpg(pid, libc::SIGKILL);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::protocol::SessionId;
    use crate::protocol::notice::Reason;

    fn notice() -> Notice {
        Notice {
            session: SessionId::parse("0123456789ab").unwrap(),
            reason: Reason::Conflict,
            summary: "1 conflict waits for your decision — Build it; \"now\"".into(),
        }
    }

    #[test]
    fn the_command_runs_in_dir_with_the_variables() {
        let dir = tempfile::tempdir().unwrap();
        let handle = run_command(
            "env | grep ^QUORUM_ | sort > out.txt; pwd >> out.txt",
            &notice(),
            dir.path(),
        )
        .unwrap();
        handle.join().unwrap();
        let out = std::fs::read_to_string(dir.path().join("out.txt")).unwrap();
        let here = dir.path().canonicalize().unwrap();
        assert_eq!(
            out,
            format!(
                "QUORUM_DIR={}\nQUORUM_REASON=conflict\nQUORUM_SESSION=0123456789ab\n\
                 QUORUM_SUMMARY=1 conflict waits for your decision — Build it; \"now\"\n{}\n",
                dir.path().display(),
                here.display()
            )
        );
    }

    #[test]
    fn a_command_gets_no_terminal_and_a_failing_one_is_no_error() {
        let dir = tempfile::tempdir().unwrap();
        // stdin is null: `read` gets end of file at once.
        run_command(
            "read line; echo \"[$line]\" > in.txt; exit 3",
            &notice(),
            dir.path(),
        )
        .unwrap()
        .join()
        .unwrap();
        let got = std::fs::read_to_string(dir.path().join("in.txt")).unwrap();
        assert_eq!(got, "[]\n");
    }

    #[test]
    fn the_caller_does_not_wait_for_the_command() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("done");
        let handle = run_command(
            "while [ ! -e go ]; do sleep 0.05; done; touch done",
            &notice(),
            dir.path(),
        )
        .unwrap();
        // run_command returned while the command still waits for `go`.
        assert!(!marker.exists());
        assert!(!handle.is_finished());
        std::fs::write(dir.path().join("go"), "").unwrap();
        handle.join().unwrap();
        assert!(marker.exists());
    }

    /// Whether process `pid` is gone (or a zombie nobody reaped yet).
    fn gone(pid: i32) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => true,
            Ok(stat) => stat
                .rsplit(')')
                .next()
                .is_some_and(|rest| rest.trim_start().starts_with('Z')),
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_command_past_its_time_is_killed_with_what_it_started() {
        let dir = tempfile::tempdir().unwrap();
        let handle = run_for(
            "sleep 300 & echo $! > pid; wait",
            &notice(),
            dir.path(),
            Duration::from_secs(2),
        )
        .unwrap();
        // The reaper returns once it killed the command (after 2 s, not 300).
        handle.join().unwrap();
        let pid: i32 = std::fs::read_to_string(dir.path().join("pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // The background `sleep` was in the command's process group.
        let deadline = Instant::now() + Duration::from_secs(20);
        while !gone(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(gone(pid), "the command's child {pid} outlived the kill");
    }
}
