//! Runs the test command on generated code (DESIGN.md §6): in the scratch tree,
//! with a timeout, rlimits (CPU, data segment, file size, processes, no core),
//! an environment scrubbed of provider keys, no network where the OS allows it
//! (a fresh network namespace with only loopback, as root), in its own session
//! and process group. On Linux a forked subreaper supervisor
//! ([`supervisor`]) kills every descendant at the end, including processes
//! that double-forked and called `setsid()`; elsewhere the process group is
//! killed.
//!
//! Also here: the setup step ([`run_setup`]), the same sandbox with the
//! network. What a run's output means is [`crate::workspace::report`]'s; which
//! commands a tree's components run is [`crate::workspace::stack`]'s.

use std::path::Path;
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::protocol::TestStatus;

#[cfg(target_os = "linux")]
pub mod supervisor;

/// Most bytes of test output kept (head and tail are kept when it is longer).
pub const MAX_OUTPUT_BYTES: usize = 64 * 1024;

/// Variables passed through to the test command; everything else is dropped.
const ENV_ALLOW: [&str; 16] = [
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "SHELL",
    "CARGO_HOME",
    "RUSTUP_HOME",
    "GOPATH",
    "GOCACHE",
    "PYENV_ROOT",
    "PYENV_VERSION",
];

/// What a test run produced (stored with the session's state, serde).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TestOutcome {
    /// The component the run tested (`project` for a single root; empty in
    /// records older than components).
    #[serde(default)]
    pub component: String,
    /// The command run.
    #[serde(default)]
    pub command: String,
    /// The run's class ([`crate::workspace::report::classify`]).
    pub status: TestStatus,
    /// Tests that passed, as the runner reported them (0 when unknown).
    pub passed: u32,
    /// Tests that failed or errored.
    pub failed: u32,
    /// Tests the runner skipped.
    #[serde(default)]
    pub skipped: u32,
    /// Names of failing tests, as the runner printed them.
    pub failures: Vec<String>,
    /// The decisive lines of a run that did not pass, cleaned of control
    /// characters (at most 12).
    #[serde(default)]
    pub lines: Vec<String>,
    /// Project paths the output names (tracebacks, compiler locations), first
    /// mention first; filled by the caller that knows the tree.
    #[serde(default)]
    pub paths: Vec<String>,
    /// Combined stdout and stderr, trimmed to [`MAX_OUTPUT_BYTES`].
    pub output: String,
    /// Wall time.
    pub duration: Duration,
    /// `false` when the OS did not allow a private network namespace.
    pub network_isolated: bool,
}

impl TestOutcome {
    /// An outcome for a component whose tests did not run because its setup
    /// failed: status [`TestStatus::SetupFailed`], the setup's decisive lines
    /// and output.
    pub fn setup_failed(component: &str, command: &str, setup: &SetupOutcome) -> TestOutcome {
        TestOutcome {
            component: component.to_string(),
            command: command.to_string(),
            status: TestStatus::SetupFailed,
            passed: 0,
            failed: 0,
            skipped: 0,
            failures: Vec::new(),
            lines: setup.lines.clone(),
            paths: Vec::new(),
            output: setup.output.clone(),
            duration: setup.duration,
            network_isolated: true,
        }
    }
}

/// What a setup step produced.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SetupOutcome {
    /// ok, failed (including a command that could not start) or timeout.
    pub status: crate::protocol::SetupStatus,
    /// The decisive lines of a failed step ([`crate::workspace::report::setup_lines`]).
    pub lines: Vec<String>,
    /// Combined stdout and stderr, trimmed to [`MAX_OUTPUT_BYTES`].
    pub output: String,
    /// Wall time.
    pub duration: Duration,
}

/// Whether this process may give test runs a private network namespace
/// (probed once by starting `true` in one).
pub fn can_isolate_network() -> bool {
    static PROBE: OnceLock<bool> = OnceLock::new();
    *PROBE.get_or_init(|| {
        let mut cmd = std::process::Command::new("true");
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::process::CommandExt;
            // SAFETY: the closure only makes async-signal-safe system calls.
            unsafe {
                cmd.pre_exec(|| {
                    if libc::unshare(libc::CLONE_NEWNET) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            return false;
        }
        cmd.stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    })
}

/// Brings the loopback interface up inside a fresh network namespace, so tests
/// can still listen on 127.0.0.1. Async-signal-safe (a socket and two ioctls).
#[cfg(target_os = "linux")]
fn loopback_up() -> std::io::Result<()> {
    // SAFETY: plain system calls on a zeroed ifreq whose name we fill in.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut req: libc::ifreq = std::mem::zeroed();
        for (i, b) in b"lo\0".iter().enumerate() {
            req.ifr_name[i] = *b as libc::c_char;
        }
        let mut result = Ok(());
        if libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req) < 0 {
            result = Err(std::io::Error::last_os_error());
        } else {
            req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            if libc::ioctl(fd, libc::SIOCSIFFLAGS, &req) < 0 {
                result = Err(std::io::Error::last_os_error());
            }
        }
        libc::close(fd);
        result
    }
}

/// Largest data segment of each test process, in bytes (`RLIMIT_DATA`: heap
/// and private writable mappings; 4 GiB). `RLIMIT_DATA` rather than
/// `RLIMIT_AS`, because runtimes such as V8 and Go reserve far more address
/// space than they use; allocation beyond the limit fails (Python raises
/// `MemoryError`, C's `malloc` returns NULL).
pub const MEMORY_LIMIT_BYTES: u64 = 4 << 30;
/// Largest file a test process may write, in bytes (`RLIMIT_FSIZE`; 256 MiB).
pub const FILE_LIMIT_BYTES: u64 = 256 << 20;
/// Processes (threads, as Linux counts them) a test run may add to those its
/// user already has (`RLIMIT_NPROC`, which counts per user; root is exempt).
pub const EXTRA_PROCESSES: u64 = 1024;
/// Seconds a stopped run's processes get to die before quorum stops waiting
/// for its output.
const GRACE: Duration = Duration::from_secs(5);

/// The limits of one sandboxed run. [`Limits::for_timeout`] gives quorum's
/// defaults; tests lower them.
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// Wall time until the whole run is killed ([`TestStatus::Timeout`]).
    pub timeout: Duration,
    /// CPU seconds per process (`RLIMIT_CPU`; SIGKILL when exceeded).
    pub cpu_seconds: u64,
    /// Data segment per process, in bytes (`RLIMIT_DATA`).
    pub memory_bytes: u64,
    /// Largest file written, in bytes (`RLIMIT_FSIZE`).
    pub file_bytes: u64,
    /// Processes beyond the user's current count (`RLIMIT_NPROC`; not applied to root).
    pub extra_processes: u64,
    /// Give the run a private network namespace when the OS allows it.
    pub isolate_network: bool,
}

impl Limits {
    /// quorum's limits for a run of at most `timeout`: CPU time the timeout
    /// plus 5 s, [`MEMORY_LIMIT_BYTES`], [`FILE_LIMIT_BYTES`],
    /// [`EXTRA_PROCESSES`], network isolated where possible.
    pub fn for_timeout(timeout: Duration) -> Self {
        Limits {
            timeout,
            cpu_seconds: timeout.as_secs().saturating_add(5),
            memory_bytes: MEMORY_LIMIT_BYTES,
            file_bytes: FILE_LIMIT_BYTES,
            extra_processes: EXTRA_PROCESSES,
            isolate_network: true,
        }
    }
}

/// The environment a test run gets: the allowlisted variables of ours, minus
/// any that looks like a secret or is named in `scrub`, plus `CI=1` and
/// `PYTHONDONTWRITEBYTECODE=1`.
fn sandbox_env(scrub: &[String]) -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
    let mut env = Vec::new();
    for (key, value) in std::env::vars_os() {
        let name = key.to_string_lossy();
        let secret = ["KEY", "TOKEN", "SECRET", "PASSWORD"]
            .iter()
            .any(|s| name.to_ascii_uppercase().contains(s));
        if ENV_ALLOW.contains(&name.as_ref()) && !secret && !scrub.iter().any(|s| s == &name) {
            env.push((key, value));
        }
    }
    env.push(("PYTHONDONTWRITEBYTECODE".into(), "1".into()));
    env.push(("CI".into(), "1".into()));
    env
}

/// Reads a pipe to its end (blocking), keeping at most [`MAX_OUTPUT_BYTES`]:
/// the head and the tail, with a note of what was dropped between them.
fn read_capped(mut pipe: impl std::io::Read) -> Vec<u8> {
    let half = MAX_OUTPUT_BYTES / 2;
    let mut head = Vec::new();
    let mut tail = std::collections::VecDeque::new();
    let mut dropped = 0usize;
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match pipe.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let mut chunk = &buf[..n];
        if head.len() < half {
            let take = chunk.len().min(half - head.len());
            head.extend_from_slice(&chunk[..take]);
            chunk = &chunk[take..];
        }
        tail.extend(chunk.iter().copied());
        while tail.len() > half {
            tail.pop_front();
            dropped += 1;
        }
    }
    if dropped > 0 {
        head.extend_from_slice(format!("\n[… {dropped} bytes of output omitted …]\n").as_bytes());
    }
    head.extend(tail);
    head
}

/// Keeps the head and tail of long output.
fn trim_output(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    if text.len() <= MAX_OUTPUT_BYTES {
        return text.into_owned();
    }
    let half = MAX_OUTPUT_BYTES / 2;
    let mut head_end = half;
    while !text.is_char_boundary(head_end) {
        head_end -= 1;
    }
    let mut tail_start = text.len() - half;
    while !text.is_char_boundary(tail_start) {
        tail_start += 1;
    }
    format!(
        "{}\n[… {} bytes of output omitted …]\n{}",
        &text[..head_end],
        tail_start - head_end,
        &text[tail_start..]
    )
}

/// The line a report starts with when the run had the network.
pub const NETWORK_NOT_ISOLATED: &str =
    "quorum: network not isolated (no private network namespace on this machine)";

/// Runs `command` with `sh -c` in `cwd` under the sandbox rules and quorum's
/// default [`Limits`] for `timeout`. `scrub` names extra environment variables
/// to drop (the configured provider key variables; they are never passed
/// anyway, as only the allowlisted variables are).
///
/// Never fails: a command that cannot start gives [`TestStatus::Error`] with the
/// reason in `output`.
pub async fn run_tests(
    cwd: &Path,
    command: &str,
    timeout: Duration,
    scrub: &[String],
) -> TestOutcome {
    run_sandboxed(cwd, command, &Limits::for_timeout(timeout), scrub).await
}

/// Runs `command` with `sh -c` in `cwd` under `limits` (DESIGN.md §6): an
/// environment scrubbed of secrets, rlimits, a private network namespace where
/// the OS allows it, its own session and process group, and — on Linux — a
/// subreaper supervisor (`sandbox/supervisor.rs`) that kills every descendant
/// when the command ends, at the timeout, or when this future is dropped,
/// including processes that double-forked and called `setsid()`.
///
/// Never fails: a command that cannot start gives [`TestStatus::Error`] with the
/// reason in `output`.
pub async fn run_sandboxed(
    cwd: &Path,
    command: &str,
    limits: &Limits,
    scrub: &[String],
) -> TestOutcome {
    run_classified(cwd, command, limits, scrub, &[]).await
}

/// [`run_tests`] for a tree whose project-relative file paths are `known`:
/// the run is classified with them ([`crate::workspace::report::classify`]:
/// a missing module that is one of the project's own is a build problem, not
/// a missing package).
pub async fn run_tests_in(
    cwd: &Path,
    command: &str,
    timeout: Duration,
    scrub: &[String],
    known: &[String],
) -> TestOutcome {
    run_classified(cwd, command, &Limits::for_timeout(timeout), scrub, known).await
}

/// [`run_sandboxed`], classified with the tree's `known` paths.
async fn run_classified(
    cwd: &Path,
    command: &str,
    limits: &Limits,
    scrub: &[String],
    known: &[String],
) -> TestOutcome {
    let started = Instant::now();
    let isolate = limits.isolate_network && can_isolate_network();
    let ran = run_platform(cwd, command, limits, isolate, scrub).await;
    let blank = |status, output: String| TestOutcome {
        component: String::new(),
        command: command.to_string(),
        status,
        passed: 0,
        failed: 0,
        skipped: 0,
        failures: Vec::new(),
        lines: Vec::new(),
        paths: Vec::new(),
        output,
        duration: started.elapsed(),
        network_isolated: isolate,
    };
    let (code, mut output) = match ran {
        Ran::Error(reason) => {
            let mut outcome = blank(
                TestStatus::Error,
                format!("cannot start `{command}`: {reason}"),
            );
            outcome.lines = vec![crate::workspace::report::clean_line(&outcome.output)];
            return outcome;
        }
        Ran::Exited { code, output } => (Some(code), output),
        Ran::TimedOut { output } => (None, output),
    };
    if !isolate {
        output = format!("{NETWORK_NOT_ISOLATED}\n{output}");
    }
    let report = crate::workspace::report::parse(&output);
    let verdict = crate::workspace::report::classify(&output, code, &report, known);
    if code.is_none() {
        output = format!(
            "{output}\n`{command}` timed out after {} s",
            limits.timeout.as_secs_f64()
        );
    }
    let mut outcome = blank(verdict.status, output);
    outcome.passed = report.passed;
    outcome.failed = report.failed;
    outcome.skipped = report.skipped;
    outcome.failures = report.failures;
    outcome.lines = verdict.lines;
    outcome
}

/// Runs a component's setup step (`command` with `sh -c` in `cwd`) under the
/// same sandbox as its tests (scrubbed environment, rlimits, every descendant
/// killed) and `timeout`, with the network when `network` is true (the step
/// installs dependencies; DESIGN.md §6), without it otherwise (people who
/// vendor their dependencies: `[test] setup_network = false`).
///
/// Never fails: a command that cannot start is [`SetupStatus::Failed`] with
/// the reason in `output` and `lines`.
///
/// [`SetupStatus::Failed`]: crate::protocol::SetupStatus::Failed
pub async fn run_setup(
    cwd: &Path,
    command: &str,
    timeout: Duration,
    network: bool,
    scrub: &[String],
) -> SetupOutcome {
    use crate::protocol::SetupStatus;
    let started = Instant::now();
    let mut limits = Limits::for_timeout(timeout);
    limits.isolate_network = !network;
    let isolate = limits.isolate_network && can_isolate_network();
    let ran = run_platform(cwd, command, &limits, isolate, scrub).await;
    let (status, output) = match ran {
        Ran::Error(reason) => (
            SetupStatus::Failed,
            format!("cannot start `{command}`: {reason}"),
        ),
        Ran::Exited { code: 0, output } => (SetupStatus::Ok, output),
        Ran::Exited { output, .. } => (SetupStatus::Failed, output),
        Ran::TimedOut { output } => (
            SetupStatus::Timeout,
            format!(
                "{output}\n`{command}` timed out after {} s",
                timeout.as_secs_f64()
            ),
        ),
    };
    let lines = if status == SetupStatus::Ok {
        Vec::new()
    } else {
        crate::workspace::report::setup_lines(&output)
    };
    SetupOutcome {
        status,
        lines,
        output,
        duration: started.elapsed(),
    }
}

/// How a run ended, before its report is read.
enum Ran {
    /// Did not start; the reason.
    Error(String),
    /// Exited with `code` (`128 + signal` when killed, e.g. by `RLIMIT_CPU`).
    Exited { code: i32, output: String },
    /// Killed at the timeout.
    TimedOut { output: String },
}

/// Finds `sh` on the sandbox's `PATH` (absolute directories only).
#[cfg(target_os = "linux")]
fn find_shell(env: &[(std::ffi::OsString, std::ffi::OsString)]) -> std::path::PathBuf {
    env.iter()
        .find(|(k, _)| k == "PATH")
        .into_iter()
        .flat_map(|(_, v)| std::env::split_paths(v).collect::<Vec<_>>())
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join("sh"))
        .find(|sh| sh.is_file())
        .unwrap_or_else(|| "/bin/sh".into())
}

/// Tasks (threads) the real user owns now, from `/proc/*/stat`; `None` when
/// `/proc` cannot be read.
#[cfg(target_os = "linux")]
fn user_tasks() -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    let mut count = 0u64;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let path = entry.path();
        if std::fs::metadata(&path).is_ok_and(|m| m.uid() == uid) {
            let threads = std::fs::read_to_string(path.join("stat"))
                .ok()
                .and_then(|s| {
                    let rest = s.get(s.rfind(')')? + 1..)?.to_string();
                    rest.split_whitespace().nth(17)?.parse::<u64>().ok()
                })
                .unwrap_or(1);
            count += threads;
        }
    }
    Some(count)
}

#[cfg(target_os = "linux")]
async fn run_platform(
    cwd: &Path,
    command: &str,
    limits: &Limits,
    isolate: bool,
    scrub: &[String],
) -> Ran {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let env = sandbox_env(scrub);
    let cstr = |bytes: &[u8]| {
        CString::new(bytes)
            .map_err(|_| "a NUL byte in the command, a path or the environment".to_string())
    };
    let shell = find_shell(&env);
    let spec = (|| -> Result<supervisor::Spec, String> {
        let mut envp = Vec::new();
        for (k, v) in &env {
            let mut entry = k.as_bytes().to_vec();
            entry.push(b'=');
            entry.extend_from_slice(v.as_bytes());
            envp.push(cstr(&entry)?);
        }
        let mut rlimits = vec![
            (libc::RLIMIT_CPU, limits.cpu_seconds),
            (libc::RLIMIT_FSIZE, limits.file_bytes),
            (libc::RLIMIT_CORE, 0),
            (libc::RLIMIT_DATA, limits.memory_bytes),
        ];
        // SAFETY: getuid cannot fail.
        if unsafe { libc::getuid() } != 0
            && let Some(now) = user_tasks()
        {
            rlimits.push((libc::RLIMIT_NPROC, now + limits.extra_processes));
        }
        Ok(supervisor::Spec {
            shell: cstr(shell.as_os_str().as_bytes())?,
            argv: vec![cstr(b"sh")?, cstr(b"-c")?, cstr(command.as_bytes())?],
            envp,
            cwd: cstr(cwd.as_os_str().as_bytes())?,
            rlimits,
            isolate_network: isolate,
        })
    })();
    let spec = match spec {
        Ok(spec) => spec,
        Err(e) => return Ran::Error(e),
    };
    let sup = match supervisor::spawn(&spec) {
        Ok(sup) => sup,
        Err(e) => return Ran::Error(e.to_string()),
    };
    let supervisor::Supervisor {
        pid,
        stdout,
        stderr,
        lifeline,
        errors,
    } = sup;
    let out_task = tokio::task::spawn_blocking(move || read_capped(std::fs::File::from(stdout)));
    let err_task = tokio::task::spawn_blocking(move || read_capped(std::fs::File::from(stderr)));
    // One blocking task learns whether the command started, then reaps the
    // supervisor (by its pid only).
    let mut waiter = tokio::task::spawn_blocking(move || {
        (supervisor::read_error(errors), supervisor::wait(pid))
    });
    let waited = tokio::time::timeout(limits.timeout, &mut waiter).await;
    // Closing the lifeline tells the supervisor to kill everything and exit;
    // on a normal end it has done so already.
    drop(lifeline);
    let (started, code, timed_out) = match waited {
        Ok(Ok((error, code))) => (error, code, false),
        Ok(Err(e)) => (Some(e.to_string()), 128, false),
        Err(_) => match tokio::time::timeout(GRACE, &mut waiter).await {
            Ok(Ok((error, code))) => (error, code, true),
            _ => {
                // The supervisor did not stop: kill it (its process group too,
                // which the command left for one of its own).
                // SAFETY: signalling our own child, not yet reaped (the waiter still waits).
                unsafe { libc::kill(pid, libc::SIGKILL) };
                (None, 128 + libc::SIGKILL, true)
            }
        },
    };
    let mut all = tokio::time::timeout(GRACE, out_task)
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    all.extend(
        tokio::time::timeout(GRACE, err_task)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default(),
    );
    if let Some(reason) = started {
        return Ran::Error(reason);
    }
    let output = trim_output(&all);
    if timed_out {
        Ran::TimedOut { output }
    } else {
        Ran::Exited { code, output }
    }
}

#[cfg(not(target_os = "linux"))]
async fn run_platform(
    cwd: &Path,
    command: &str,
    limits: &Limits,
    _isolate: bool,
    scrub: &[String],
) -> Ran {
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .current_dir(cwd)
        .env_clear()
        .envs(sandbox_env(scrub))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let (cpu, fsize, data) = (limits.cpu_seconds, limits.file_bytes, limits.memory_bytes);
    #[cfg(unix)]
    // SAFETY: the closure only makes async-signal-safe system calls.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            for (resource, value) in [
                (libc::RLIMIT_CPU, cpu),
                (libc::RLIMIT_FSIZE, fsize),
                (libc::RLIMIT_CORE, 0),
                (libc::RLIMIT_DATA, data),
            ] {
                let rl = libc::rlimit {
                    rlim_cur: value as libc::rlim_t,
                    rlim_max: value as libc::rlim_t,
                };
                libc::setrlimit(resource, &rl);
            }
            Ok(())
        });
    }
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => return Ran::Error(e.to_string()),
    };
    let pgid = child.id().map(|pid| pid as i32);
    let out = child.stdout.take();
    let err = child.stderr.take();
    let read = |pipe: Option<tokio::process::ChildStdout>| async move {
        let mut buf = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = tokio::io::AsyncReadExt::read_to_end(&mut pipe, &mut buf).await;
        }
        buf
    };
    let out_task = tokio::spawn(read(out));
    let err_task = tokio::spawn(async move {
        let mut buf = Vec::new();
        if let Some(mut pipe) = err {
            let _ = tokio::io::AsyncReadExt::read_to_end(&mut pipe, &mut buf).await;
        }
        buf
    });
    let waited = tokio::time::timeout(limits.timeout, child.wait()).await;
    #[cfg(unix)]
    if let Some(pgid) = pgid {
        // SAFETY: signalling a process group we created.
        unsafe {
            libc::killpg(pgid, libc::SIGKILL);
        }
    }
    let _ = child.kill().await;
    let mut all = tokio::time::timeout(GRACE, out_task)
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    all.extend(
        tokio::time::timeout(GRACE, err_task)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default(),
    );
    let output = trim_output(&all);
    match waited {
        Ok(status) => Ran::Exited {
            code: status.ok().and_then(|s| s.code()).unwrap_or(128),
            output,
        },
        Err(_) => Ran::TimedOut { output },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_are_scrubbed_timed_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        // SAFETY: tests in this module do not read this variable concurrently.
        unsafe { std::env::set_var("QUORUM_TEST_FAKE_API_KEY", "sk-secret") };
        let out = run_tests(
            dir.path(),
            "echo \"key=${QUORUM_TEST_FAKE_API_KEY:-none}\"; echo 'Ran 3 tests in 0s'; echo OK",
            Duration::from_secs(10),
            &[],
        )
        .await;
        assert_eq!(out.status, TestStatus::Passed);
        assert!(out.output.contains("key=none"), "{}", out.output);
        assert_eq!(out.passed, 3);

        let out = run_tests(
            dir.path(),
            "echo '2 passed, 1 failed'; exit 3",
            Duration::from_secs(10),
            &[],
        )
        .await;
        assert_eq!(out.status, TestStatus::Failed);
        assert_eq!((out.passed, out.failed), (2, 1));

        // A command that executes no test never passes, whatever its exit.
        for command in ["exit 3", "true"] {
            let out = run_tests(dir.path(), command, Duration::from_secs(10), &[]).await;
            assert_eq!(out.status, TestStatus::NoTests, "{command}");
            assert!(!out.lines.is_empty(), "{command}: the line that says so");
        }

        let out = run_tests(dir.path(), "sleep 30", Duration::from_millis(300), &[]).await;
        assert_eq!(out.status, TestStatus::Timeout);
        assert!(out.duration < Duration::from_secs(10));
    }

    #[tokio::test]
    async fn background_children_are_killed_at_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("alive");
        let cmd = format!(
            "(sleep 1; touch {}) & echo started; echo '1 passed, 0 failed'",
            marker.display()
        );
        let out = run_tests(dir.path(), &cmd, Duration::from_secs(10), &[]).await;
        assert_eq!(out.status, TestStatus::Passed);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(!marker.exists(), "the background child outlived the run");
    }
}
