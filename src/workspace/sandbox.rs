//! Runs the test command on generated code (docs/sandbox.md): in the scratch
//! tree, inside the jail ([`jail`]: namespaces, a read-only filesystem but the
//! tree, Landlock, a cgroup, no capabilities), with a timeout, rlimits (CPU,
//! data segment, file size, no core), an environment scrubbed of provider
//! keys and no network. The supervisor ([`supervisor`]) is quorum's binary
//! executed again; every process of a run is gone at its end. Where the kernel
//! cannot build the jail a run is refused unless the person allowed it
//! ([`Policy::allow_unconfined`]); elsewhere than Linux there is no jail.
//!
//! Also here: the setup step ([`run_setup`]), the same sandbox with the
//! network. What a run's output means is [`crate::workspace::report`]'s; which
//! commands a tree's components run is [`crate::workspace::stack`]'s.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::protocol::TestStatus;

#[cfg(target_os = "linux")]
mod cgroup;
#[cfg(target_os = "linux")]
pub mod jail;
mod output;
mod spec;
#[cfg(target_os = "linux")]
pub mod supervisor;

pub use crate::protocol::Isolation;
use output::{read_capped, trim_output};
#[cfg(target_os = "linux")]
use spec::build_spec;
#[cfg(not(target_os = "linux"))]
use spec::sandbox_env;

/// Most bytes of test output kept (head and tail are kept when it is longer).
pub const MAX_OUTPUT_BYTES: usize = 64 * 1024;

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
    /// What confined the run (empty in records older than the jail).
    #[serde(default)]
    pub isolation: Isolation,
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
            isolation: setup.isolation.clone(),
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
    /// What confined the step (empty in records older than the jail).
    #[serde(default)]
    pub isolation: Isolation,
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

/// The line a report starts with when the run had the network.
pub const NETWORK_NOT_ISOLATED: &str =
    "quorum: network not isolated (no private network namespace on this machine)";

/// What a run may write and what it must not see (docs/sandbox.md). The
/// default confines a run to its working directory and hides `$HOME`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Policy {
    /// The tree the run may write (the session's scratch tree); `None`: the
    /// working directory.
    pub tree: Option<PathBuf>,
    /// Directories hidden from the run besides `$HOME` and `/run`: the
    /// target's `.git` and quorum's state directory.
    pub hide: Vec<PathBuf>,
    /// The home directory to hide; `None`: `$HOME`.
    pub home: Option<PathBuf>,
    /// Run model-written code without the jail where the kernel cannot
    /// confine it (`--allow-unconfined-tests`); without it such a run is
    /// refused.
    pub allow_unconfined: bool,
}

impl Policy {
    /// The policy of a session's runs: `tree` writable; the target `dir`
    /// (its `.git`, the person's uncommitted files, sockets a dev server left
    /// there) and the `state` directory hidden, the tree excepted; unconfined
    /// runs refused unless `allow_unconfined`.
    pub fn for_session(tree: &Path, dir: &Path, state: &Path, allow_unconfined: bool) -> Policy {
        Policy {
            tree: Some(tree.to_path_buf()),
            hide: vec![dir.to_path_buf(), dir.join(".git"), state.to_path_buf()],
            home: None,
            allow_unconfined,
        }
    }
}

/// The start of the message of a run refused because the filesystem cannot
/// be confined here.
pub const UNCONFINED_REFUSED: &str =
    "quorum: model-written code was not run: this machine cannot confine it";

/// The answer of [`probe`], once it has been given.
static PROBE: OnceLock<Result<Isolation, String>> = OnceLock::new();

/// [`probe`]'s answer if it is known already, without waiting: for the
/// TUI, which starts the probe on a thread of its own so that its first
/// frame does not wait for a jail to be built (about 10–20 ms).
pub fn probe_if_done() -> Option<Result<Isolation, String>> {
    PROBE.get().cloned()
}

/// Whether this machine can run commands in the jail: the isolation a run
/// gets, or why there is none (probed once per process by running `true` in
/// it; `quorum doctor` shows the answer).
pub fn probe() -> Result<Isolation, String> {
    PROBE
        .get_or_init(|| {
            #[cfg(target_os = "linux")]
            {
                protect_self();
                let dir = std::env::temp_dir().join(format!("quorum-probe-{}", std::process::id()));
                std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                let policy = Policy::default();
                let limits = Limits::for_timeout(Duration::from_secs(10));
                let spec = build_spec(&dir, "true", &limits, true, &[], &policy, false, true);
                let status = spec.and_then(|spec| {
                    let mut sup = supervisor::spawn(&spec).map_err(|e| e.to_string())?;
                    let status = supervisor::read_status(sup.status);
                    let _ = sup.child.wait();
                    drop(sup.lifeline);
                    Ok(status)
                });
                let _ = std::fs::remove_dir_all(&dir);
                match status? {
                    supervisor::Status::Started(isolation) => Ok(isolation),
                    supervisor::Status::Failed(reason) => Err(reason),
                }
            }
            #[cfg(not(target_os = "linux"))]
            {
                Err("the jail needs Linux (namespaces, Landlock)".to_string())
            }
        })
        .clone()
}

/// Runs `command` with `sh -c` in `cwd` under the sandbox rules and quorum's
/// default [`Limits`] for `timeout`, confined to `cwd` ([`Policy::default`]).
/// `scrub` names extra environment variables to drop (the configured provider
/// key variables; they are never passed anyway, as only the allowlisted
/// variables are).
///
/// Never fails: a command that cannot start gives [`TestStatus::Error`] with the
/// reason in `output`.
pub async fn run_tests(
    cwd: &Path,
    command: &str,
    timeout: Duration,
    scrub: &[String],
) -> TestOutcome {
    run_sandboxed(
        cwd,
        command,
        &Limits::for_timeout(timeout),
        scrub,
        &Policy::default(),
    )
    .await
}

/// Runs `command` with `sh -c` in `cwd` under `limits` and `policy`
/// (docs/sandbox.md): in the jail (new namespaces, a read-only root with
/// the policy's tree the only writable place, hidden `.git`, state
/// directory, `$HOME` and `/run`, Landlock, a cgroup or `RLIMIT_NPROC`, no
/// capabilities), with an environment scrubbed of secrets and rlimits, no
/// network unless `limits.isolate_network` is false; every descendant is
/// killed when the command ends, at the timeout, or when this future is
/// dropped. Where the jail is impossible the run is refused
/// ([`UNCONFINED_REFUSED`]) unless `policy.allow_unconfined`.
///
/// Never fails: a command that cannot start gives [`TestStatus::Error`] with the
/// reason in `output`.
pub async fn run_sandboxed(
    cwd: &Path,
    command: &str,
    limits: &Limits,
    scrub: &[String],
    policy: &Policy,
) -> TestOutcome {
    run_classified(cwd, command, limits, scrub, &[], policy).await
}

/// [`run_tests`] for a session's tree under `policy`, whose project-relative
/// file paths are `known`: the run is classified with them
/// ([`crate::workspace::report::classify`]: a missing module that is one of
/// the project's own is a build problem, not a missing package).
pub async fn run_tests_in(
    cwd: &Path,
    command: &str,
    timeout: Duration,
    scrub: &[String],
    known: &[String],
    policy: &Policy,
) -> TestOutcome {
    run_classified(
        cwd,
        command,
        &Limits::for_timeout(timeout),
        scrub,
        known,
        policy,
    )
    .await
}

/// [`run_sandboxed`], classified with the tree's `known` paths.
async fn run_classified(
    cwd: &Path,
    command: &str,
    limits: &Limits,
    scrub: &[String],
    known: &[String],
    policy: &Policy,
) -> TestOutcome {
    let started = Instant::now();
    let ran = run_platform(cwd, command, limits, scrub, policy, false).await;
    let blank = |status, output: String, isolation: Isolation| TestOutcome {
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
        network_isolated: isolation.network,
        isolation,
    };
    let (code, mut output, isolation) = match ran {
        Ran::Error(reason) => {
            let mut outcome = blank(
                TestStatus::Error,
                format!("cannot start `{command}`: {reason}"),
                Isolation::default(),
            );
            outcome.network_isolated = limits.isolate_network;
            outcome.lines = vec![crate::workspace::report::clean_line(&outcome.output)];
            return outcome;
        }
        Ran::Exited {
            code,
            output,
            isolation,
        } => (Some(code), output, isolation),
        Ran::TimedOut { output, isolation } => (None, output, isolation),
    };
    if !isolation.network {
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
    let mut outcome = blank(verdict.status, output, isolation);
    outcome.passed = report.passed;
    outcome.failed = report.failed;
    outcome.skipped = report.skipped;
    outcome.failures = report.failures;
    outcome.lines = verdict.lines;
    outcome
}

/// Runs a component's setup step (`command` with `sh -c` in `cwd`) in the
/// same jail as its tests under `policy` (the package managers' caches
/// writable too) and `timeout`, with the network when `network` is true
/// (the step installs dependencies; docs/sandbox.md), without it otherwise
/// (people who vendor their dependencies: `[test] setup_network = false`).
///
/// Never fails: a command that cannot start (or is refused, see
/// [`run_sandboxed`]) is [`SetupStatus::Failed`] with the reason in `output`
/// and `lines`.
///
/// [`SetupStatus::Failed`]: crate::protocol::SetupStatus::Failed
pub async fn run_setup(
    cwd: &Path,
    command: &str,
    timeout: Duration,
    network: bool,
    scrub: &[String],
    policy: &Policy,
) -> SetupOutcome {
    use crate::protocol::SetupStatus;
    let started = Instant::now();
    let mut limits = Limits::for_timeout(timeout);
    limits.isolate_network = !network;
    let ran = run_platform(cwd, command, &limits, scrub, policy, true).await;
    let (status, output, isolation) = match ran {
        Ran::Error(reason) => (
            SetupStatus::Failed,
            format!("cannot start `{command}`: {reason}"),
            Isolation::default(),
        ),
        Ran::Exited {
            code: 0,
            output,
            isolation,
        } => (SetupStatus::Ok, output, isolation),
        Ran::Exited {
            output, isolation, ..
        } => (SetupStatus::Failed, output, isolation),
        Ran::TimedOut { output, isolation } => (
            SetupStatus::Timeout,
            format!(
                "{output}\n`{command}` timed out after {} s",
                timeout.as_secs_f64()
            ),
            isolation,
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
        isolation,
    }
}

/// How a run ended, before its report is read.
enum Ran {
    /// Did not start (or was refused); the reason.
    Error(String),
    /// Exited with `code` (`128 + signal` when killed, e.g. by `RLIMIT_CPU`).
    Exited {
        code: i32,
        output: String,
        isolation: Isolation,
    },
    /// Killed at the timeout.
    TimedOut {
        output: String,
        isolation: Isolation,
    },
}

/// Marks this process non-dumpable (once), so that no process of the same
/// user — a test run among them — may read its memory or environment
/// through `/proc` or ptrace.
pub fn protect_self() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        #[cfg(target_os = "linux")]
        // SAFETY: prctl on this process.
        unsafe {
            libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
        }
    });
}

#[cfg(target_os = "linux")]
async fn run_platform(
    cwd: &Path,
    command: &str,
    limits: &Limits,
    scrub: &[String],
    policy: &Policy,
    setup: bool,
) -> Ran {
    protect_self();
    let confine = match probe() {
        Ok(_) => true,
        Err(_) if policy.allow_unconfined => false,
        Err(reason) => {
            return Ran::Error(format!(
                "{UNCONFINED_REFUSED} ({reason}); rerun with --allow-unconfined-tests to run it without the jail (docs/sandbox.md)"
            ));
        }
    };
    // Unconfined, a network namespace needs root; confined, the user
    // namespace allows it.
    let isolate = limits.isolate_network && (confine || can_isolate_network());
    let spec = match build_spec(cwd, command, limits, isolate, scrub, policy, setup, confine) {
        Ok(spec) => spec,
        Err(e) => return Ran::Error(e),
    };
    let sup = match supervisor::spawn(&spec) {
        Ok(sup) => sup,
        Err(e) => return Ran::Error(e.to_string()),
    };
    let supervisor::Supervisor {
        mut child,
        lifeline,
        status,
    } = sup;
    let pid = child.id() as libc::pid_t;
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Ran::Error("the supervisor's output pipes are missing".into());
    };
    let out_task = tokio::task::spawn_blocking(move || read_capped(stdout));
    let err_task = tokio::task::spawn_blocking(move || read_capped(stderr));
    // One blocking task learns whether the command started, then reaps the
    // supervisor (by its pid only).
    let mut waiter = tokio::task::spawn_blocking(move || {
        let started = supervisor::read_status(status);
        let code = child
            .wait()
            .map(|s| {
                use std::os::unix::process::ExitStatusExt;
                s.code()
                    .unwrap_or_else(|| 128 + s.signal().unwrap_or(libc::SIGKILL))
            })
            .unwrap_or(128 + libc::SIGKILL);
        (started, code)
    });
    let waited = tokio::time::timeout(limits.timeout, &mut waiter).await;
    // Closing the lifeline tells the supervisor to kill everything and exit;
    // on a normal end it has done so already.
    drop(lifeline);
    let (started, code, timed_out) = match waited {
        Ok(Ok((started, code))) => (started, code, false),
        Ok(Err(e)) => (supervisor::Status::Failed(e.to_string()), 128, false),
        Err(_) => match tokio::time::timeout(GRACE, &mut waiter).await {
            Ok(Ok((started, code))) => (started, code, true),
            _ => {
                // The supervisor did not stop: kill it.
                // SAFETY: signalling our own child, not yet reaped (the waiter still waits).
                unsafe { libc::kill(pid, libc::SIGKILL) };
                (
                    supervisor::Status::Failed("the supervisor did not stop".into()),
                    128 + libc::SIGKILL,
                    true,
                )
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
    let isolation = match started {
        supervisor::Status::Started(isolation) => isolation,
        supervisor::Status::Failed(reason) => return Ran::Error(reason),
    };
    let output = trim_output(&all);
    if timed_out {
        Ran::TimedOut { output, isolation }
    } else {
        Ran::Exited {
            code,
            output,
            isolation,
        }
    }
}

#[cfg(not(target_os = "linux"))]
async fn run_platform(
    cwd: &Path,
    command: &str,
    limits: &Limits,
    scrub: &[String],
    policy: &Policy,
    _setup: bool,
) -> Ran {
    if !policy.allow_unconfined {
        return Ran::Error(format!(
            "{UNCONFINED_REFUSED} (the jail needs Linux); rerun with --allow-unconfined-tests to run it without the jail (docs/sandbox.md)"
        ));
    }
    let isolation = Isolation::unconfined(false, &[]);
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
            isolation,
        },
        Err(_) => Ran::TimedOut { output, isolation },
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
