//! The test command's supervisor (Linux): a process that quorum forks and
//! *executes* again (`/proc/self/exe`, with only the sandbox's environment), so
//! that it holds none of quorum's memory or environment. It makes itself a
//! session leader and a *child subreaper*, starts the command inside the jail
//! (`jail.rs`) or, where the person allowed it, without one, and makes sure
//! every descendant is gone at the end (docs/sandbox.md).
//!
//! ```text
//! quorum ──fork+exec──▶ supervisor ──clone(new user, mount, PID, IPC, UTS, net ns)──▶ init (PID 1)
//!   │ lifeline pipe        (cgroup,        uid/gid map, cgroup, then "go")            │ mounts, Landlock,
//!   └─ closing it = stop    waits)                                                    │ no capabilities
//!                                                                                     └─fork─▶ sh -c COMMAND
//! ```
//!
//! Confined, the command's tree lives in its own PID namespace: when its init
//! exits (the command ended) or is killed (the timeout, the lifeline hung up,
//! quorum died), the kernel kills every process in it, and `waitpid` on init
//! returns only once they are all gone. Unconfined, the supervisor kills the
//! command's process group and scans `/proc` for the descendants that
//! reparented to it, as before the jail existed.
//!
//! How the supervisor is entered: [`ENTRY`] is a function in the binary's
//! `.init_array`, which the C runtime calls before `main` in every program
//! linking this library (quorum, its tests, its examples). It returns at once
//! unless `argv[0]` is [`ARG0`] and [`MARKER`] is set; then it runs the
//! supervisor and exits. The spec arrives on fd [`SPEC_FD`] (a memfd of JSON).
//!
//! Fds in the supervisor: 0 `/dev/null`, 1 and 2 the output pipes, 3 the
//! lifeline, 4 the status pipe ([`STATUS_FD`]), 5 the spec.

use std::ffi::{CString, OsString, c_char, c_int};
use std::io::{Read as _, Write as _};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::jail::{self, Jail};

/// `argv[0]` of the supervisor process.
pub const ARG0: &str = "quorum-sandbox-supervisor";
/// The environment variable that, with [`ARG0`], makes a process the supervisor.
pub const MARKER: &str = "QUORUM_SANDBOX_SUPERVISOR";
/// The fd of the lifeline's read end in the supervisor.
const LIFELINE_FD: c_int = 3;
/// The fd of the status pipe's write end in the supervisor and the jail's init.
pub const STATUS_FD: c_int = 4;
/// The fd the spec is read from.
const SPEC_FD: c_int = 5;
/// Most descendants killed per cleanup round (more are found in later rounds).
const TREE_CAP: usize = 4096;
/// Cleanup rounds before the supervisor gives up (each sleeps 2 ms).
const MAX_ROUNDS: u32 = 5000;

/// What the supervisor runs, serialised by quorum and read from [`SPEC_FD`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Spec {
    /// The shell's absolute path (`sh` found on `PATH`, else `/bin/sh`).
    pub shell: PathBuf,
    /// The command, run as `sh -c COMMAND`.
    pub command: String,
    /// The command's whole environment.
    pub env: Vec<(OsString, OsString)>,
    /// The working directory.
    pub cwd: PathBuf,
    /// `(resource, limit)` pairs set as both soft and hard limit on the
    /// command (resource numbers as `setrlimit(2)` takes them).
    pub rlimits: Vec<(u32, u64)>,
    /// Run without a network: a fresh network namespace with only loopback.
    pub isolate_network: bool,
    /// Run inside the jail; `None` runs unconfined (the person allowed it).
    pub jail: Option<Jail>,
}

/// The status line a run starts with: what isolation it got, or why it could
/// not start.
#[derive(Clone, Debug, PartialEq)]
pub enum Status {
    /// The command is running with this isolation.
    Started(crate::protocol::Isolation),
    /// A step before the command failed: the step and the OS's reason.
    Failed(String),
}

/// Writes one status line on [`STATUS_FD`] (`ok JSON` or `err TEXT`).
pub fn send_status(status: &Status) {
    let line = match status {
        Status::Started(isolation) => format!(
            "ok {}\n",
            serde_json::to_string(isolation).unwrap_or_default()
        ),
        Status::Failed(reason) => format!("err {}\n", reason.replace('\n', " ")),
    };
    // SAFETY: a write to an fd this process owns; a closed fd only fails.
    unsafe { libc::write(STATUS_FD, line.as_ptr().cast(), line.len()) };
}

/// Reads the status pipe to its end (blocking; the end comes when the command
/// has started or the run is over): the first `ok` or `err` line, or a
/// failure when the supervisor died before saying anything.
pub fn read_status(pipe: OwnedFd) -> Status {
    let mut text = String::new();
    let _ = std::fs::File::from(pipe).read_to_string(&mut text);
    // A failure wins over an earlier `ok`: the exec after it failed.
    let mut started = None;
    for line in text.lines() {
        if let Some(json) = line.strip_prefix("ok ") {
            if let Ok(isolation) = serde_json::from_str(json) {
                started.get_or_insert(Status::Started(isolation));
            }
        } else if let Some(reason) = line.strip_prefix("err ") {
            return Status::Failed(reason.to_string());
        }
    }
    started.unwrap_or_else(|| {
        Status::Failed("the sandbox's supervisor ended before starting the command".into())
    })
}

/// A running supervisor.
pub struct Supervisor {
    /// The supervisor process (waited for by its pid only).
    pub child: std::process::Child,
    /// Write end of the lifeline: dropping it stops the run.
    pub lifeline: OwnedFd,
    /// Read end of the status pipe ([`read_status`]).
    pub status: OwnedFd,
}

fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as c_int; 2];
    // SAFETY: pipe2 fills the two-element array on success.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both fds were just created and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// An anonymous file holding `bytes`, positioned at its start.
fn memfd(bytes: &[u8]) -> std::io::Result<OwnedFd> {
    // SAFETY: memfd_create with a static name; the fd is new and ours.
    let fd = unsafe { libc::memfd_create(c"quorum-sandbox-spec".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: just created.
    let mut file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    file.write_all(bytes)?;
    std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(0))?;
    Ok(file.into())
}

/// Starts the supervisor for `spec`: quorum's own executable again
/// (`/proc/self/exe`), with `argv[0]` [`ARG0`], the environment `spec.env`
/// plus [`MARKER`], stdin `/dev/null` and stdout/stderr piped.
///
/// Errors: the spec does not serialise, or the pipes, the memfd or the
/// process could not be created. Failures after the exec arrive on
/// [`Supervisor::status`].
pub fn spawn(spec: &Spec) -> std::io::Result<Supervisor> {
    use std::os::unix::process::CommandExt;
    let json = serde_json::to_vec(spec).map_err(std::io::Error::other)?;
    let spec_fd = memfd(&json)?;
    let (life_r, life_w) = pipe()?;
    let (status_r, status_w) = pipe()?;
    let sources = [
        life_r.as_raw_fd(),
        status_w.as_raw_fd(),
        spec_fd.as_raw_fd(),
    ];
    let mut cmd = std::process::Command::new("/proc/self/exe");
    cmd.arg0(ARG0)
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .env(MARKER, "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    // SAFETY: the closure makes only async-signal-safe system calls (fcntl,
    // dup2) on fds that exist in the child.
    unsafe {
        cmd.pre_exec(move || {
            // Above the standard fds first, so that no dup2 below overwrites
            // a source that happens to be numbered 3 to 5.
            let mut high = [0 as c_int; 3];
            for (slot, fd) in high.iter_mut().zip(sources) {
                *slot = libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10);
                if *slot < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            for (fd, target) in high.into_iter().zip([LIFELINE_FD, STATUS_FD, SPEC_FD]) {
                if libc::dup2(fd, target) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let child = cmd.spawn()?;
    drop((life_r, status_w, spec_fd));
    Ok(Supervisor {
        child,
        lifeline: life_w,
        status: status_r,
    })
}

/// The supervisor's entry, in `.init_array` (see the module comment): called
/// by the C runtime with `argc`, `argv` and `envp` before `main`.
#[used]
#[unsafe(link_section = ".init_array")]
pub static ENTRY: extern "C" fn(c_int, *const *const c_char, *const *const c_char) = entry;

extern "C" fn entry(argc: c_int, argv: *const *const c_char, envp: *const *const c_char) {
    // SAFETY: the C runtime passes valid, NUL-terminated argv and envp arrays.
    let chosen = unsafe {
        argc > 0
            && !argv.is_null()
            && !(*argv).is_null()
            && std::ffi::CStr::from_ptr(*argv).to_bytes() == ARG0.as_bytes()
            && has_marker(envp)
    };
    if chosen {
        let code = supervise();
        // SAFETY: ends this process without running quorum's main.
        unsafe { libc::_exit(code) }
    }
}

/// Whether `envp` holds [`MARKER`].
unsafe fn has_marker(envp: *const *const c_char) -> bool {
    if envp.is_null() {
        return false;
    }
    let mut at = envp;
    // SAFETY: envp is a NULL-terminated array of C strings.
    unsafe {
        while !(*at).is_null() {
            let entry = std::ffi::CStr::from_ptr(*at).to_bytes();
            if entry
                .strip_prefix(MARKER.as_bytes())
                .is_some_and(|rest| rest.first() == Some(&b'='))
            {
                return true;
            }
            at = at.add(1);
        }
    }
    false
}

/// The supervisor's body; returns its exit code: the command's, `128 +
/// signal` when it was killed, 127 when it could not start.
fn supervise() -> c_int {
    // SAFETY: plain system calls in a freshly executed, single-threaded process.
    unsafe {
        // Nothing of quorum's stays open (its fds were close-on-exec anyway).
        libc::syscall(libc::SYS_close_range, SPEC_FD + 1, c_int::MAX, 0);
        let mut sig = 1;
        while sig < 32 {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::signal(sig, libc::SIG_DFL);
            }
            sig += 1;
        }
    }
    let mut json = Vec::new();
    // SAFETY: SPEC_FD was placed by `spawn`; this process owns it.
    let read = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(SPEC_FD) }).read_to_end(&mut json);
    let spec: Spec = match read
        .map_err(|e| e.to_string())
        .and_then(|_| serde_json::from_slice(&json).map_err(|e| e.to_string()))
    {
        Ok(spec) => spec,
        Err(e) => {
            send_status(&Status::Failed(format!("reading the sandbox spec: {e}")));
            return 127;
        }
    };
    // SAFETY: setsid/prctl on this process.
    if unsafe { libc::setsid() } < 0
        || unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0
    {
        send_status(&Status::Failed(format!(
            "becoming a subreaper: {}",
            std::io::Error::last_os_error()
        )));
        return 127;
    }
    let prepared = match Prepared::new(&spec) {
        Ok(p) => p,
        Err(e) => {
            send_status(&Status::Failed(e));
            return 127;
        }
    };
    match &spec.jail {
        Some(jail) => jail::run_confined(&spec, jail, &prepared),
        None => run_unconfined(&spec, &prepared),
    }
}

/// The command's `execve` arguments, prepared once.
pub struct Prepared {
    shell: CString,
    argv: Vec<CString>,
    envp: Vec<CString>,
    cwd: CString,
}

impl Prepared {
    fn new(spec: &Spec) -> Result<Prepared, String> {
        let c = |bytes: &[u8]| {
            CString::new(bytes)
                .map_err(|_| "a NUL byte in the command, a path or the environment".to_string())
        };
        let mut envp = Vec::new();
        for (k, v) in &spec.env {
            let mut entry = k.as_bytes().to_vec();
            entry.push(b'=');
            entry.extend_from_slice(v.as_bytes());
            envp.push(c(&entry)?);
        }
        Ok(Prepared {
            shell: c(spec.shell.as_os_str().as_bytes())?,
            argv: vec![c(b"sh")?, c(b"-c")?, c(spec.command.as_bytes())?],
            envp,
            cwd: c(spec.cwd.as_os_str().as_bytes())?,
        })
    }

    /// In the command's process: its own process group, the limits, the
    /// working directory, then `execve`. Reports a failure on the status
    /// pipe and exits 127; never returns.
    pub fn exec(&self, rlimits: &[(u32, u64)]) -> ! {
        // SAFETY: system calls on prepared C strings; ends in execve or _exit.
        unsafe {
            libc::setpgid(0, 0);
            for &(resource, value) in rlimits {
                let rl = libc::rlimit {
                    rlim_cur: value as libc::rlim_t,
                    rlim_max: value as libc::rlim_t,
                };
                if libc::setrlimit(resource as _, &rl) != 0 {
                    fail("setrlimit");
                }
            }
            if libc::chdir(self.cwd.as_ptr()) != 0 {
                fail("chdir");
            }
            let mut argv: Vec<*const c_char> = self.argv.iter().map(|a| a.as_ptr()).collect();
            argv.push(std::ptr::null());
            let mut envp: Vec<*const c_char> = self.envp.iter().map(|e| e.as_ptr()).collect();
            envp.push(std::ptr::null());
            libc::execve(self.shell.as_ptr(), argv.as_ptr(), envp.as_ptr());
            fail("exec")
        }
    }
}

/// Reports `step` with the last OS error and exits 127.
pub fn fail(step: &str) -> ! {
    let error = std::io::Error::last_os_error();
    send_status(&Status::Failed(format!("{step}: {error}")));
    // SAFETY: ends this process.
    unsafe { libc::_exit(127) }
}

/// Waits until `pid` exits or the lifeline hangs up; returns the command's
/// wait status when it exited. Reaps any other child on the way (orphans
/// that reparented to this subreaper).
pub fn wait_or_hangup(pid: libc::pid_t) -> Option<c_int> {
    // SAFETY: waitpid/poll/pidfd_open on our own children and fds.
    unsafe {
        // The command's exit wakes the loop at once through a pidfd (Linux
        // 5.3); without one (-1, which poll skips) it looks every 20 ms.
        let pidfd = libc::syscall(libc::SYS_pidfd_open, pid, 0) as c_int;
        let mut status: c_int = 0;
        loop {
            loop {
                let r = libc::waitpid(-1, &mut status, libc::WNOHANG);
                if r == pid {
                    if pidfd >= 0 {
                        libc::close(pidfd);
                    }
                    return Some(status);
                }
                if r <= 0 {
                    break;
                }
            }
            let mut pfds = [
                libc::pollfd {
                    fd: LIFELINE_FD,
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: pidfd,
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            if libc::poll(pfds.as_mut_ptr(), 2, 20) > 0 && pfds[0].revents != 0 {
                if pidfd >= 0 {
                    libc::close(pidfd);
                }
                return None;
            }
        }
    }
}

/// A wait status as an exit code (`128 + signal` when killed).
pub fn decode_status(status: c_int) -> c_int {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        128
    }
}

/// Runs the command without the jail (the person allowed it): a network
/// namespace where the OS allows one without a user namespace (as root), its
/// own process group, every descendant killed at the end.
fn run_unconfined(spec: &Spec, prepared: &Prepared) -> c_int {
    let network = spec.isolate_network;
    // SAFETY: fork in a single-threaded process.
    let child = unsafe { libc::fork() };
    if child < 0 {
        fail("fork");
    }
    if child == 0 {
        if network {
            // SAFETY: unshare in the child.
            if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                fail("unshare(CLONE_NEWNET)");
            }
            if let Err(e) = super::loopback_up() {
                send_status(&Status::Failed(format!("bringing loopback up: {e}")));
                // SAFETY: ends the child.
                unsafe { libc::_exit(127) };
            }
        }
        send_status(&Status::Started(crate::protocol::Isolation::unconfined(
            network,
            &spec.rlimits,
        )));
        prepared.exec(&spec.rlimits);
    }
    // SAFETY: our copy of the status pipe; the child keeps its own until exec.
    unsafe { libc::close(STATUS_FD) };
    let mut command = wait_or_hangup(child);
    // SAFETY: signals and waits on our own descendants.
    unsafe {
        libc::killpg(child, libc::SIGKILL);
        let me = libc::getpid();
        let mut status: c_int = 0;
        let mut round = 0;
        while round < MAX_ROUNDS {
            kill_descendants(me);
            let none_left = loop {
                let r = libc::waitpid(-1, &mut status, libc::WNOHANG);
                if r == child && command.is_none() {
                    command = Some(status);
                }
                if r <= 0 {
                    // -1 (ECHILD): no child at all, so no descendant is left.
                    break r < 0;
                }
            };
            if none_left {
                break;
            }
            let pause = libc::timespec {
                tv_sec: 0,
                tv_nsec: 2_000_000,
            };
            libc::nanosleep(&pause, std::ptr::null_mut());
            round += 1;
        }
    }
    match command {
        Some(status) => decode_status(status),
        None => 128 + libc::SIGKILL,
    }
}

/// `SIGKILL`s every live descendant of `me` that `/proc` shows, walking the
/// tree by parent pid (scans repeat until a scan adds no process). Returns how
/// many were signalled.
fn kill_descendants(me: libc::pid_t) -> usize {
    let mut tree: Vec<libc::pid_t> = Vec::new();
    let mut passes = 0;
    loop {
        let before = tree.len();
        for (pid, ppid) in scan_proc() {
            if (ppid == me || tree.contains(&ppid)) && !tree.contains(&pid) && pid != me {
                // SAFETY: signalling a descendant.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                tree.push(pid);
            }
        }
        passes += 1;
        if tree.len() == before || tree.len() >= TREE_CAP || passes > 64 {
            return tree.len();
        }
    }
}

/// Every process `/proc` shows, as `(pid, parent pid)`.
fn scan_proc() -> Vec<(libc::pid_t, libc::pid_t)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<libc::pid_t>().ok())
        .filter_map(|pid| Some((pid, parent_of(pid)?)))
        .collect()
}

/// The parent pid from `/proc/PID/stat` (the field after the state, which
/// follows the last `)`).
fn parent_of(pid: libc::pid_t) -> Option<libc::pid_t> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn proc_is_scanned_for_parents() {
        let me = std::process::id() as libc::pid_t;
        // SAFETY: getppid cannot fail.
        assert_eq!(parent_of(me), Some(unsafe { libc::getppid() }));
        assert!(scan_proc().iter().any(|&(pid, _)| pid == me));
    }

    #[test]
    fn status_lines_round_trip() {
        let (r, w) = pipe().unwrap();
        let line = "err mount /proc: Operation not permitted\n";
        std::fs::File::from(w).write_all(line.as_bytes()).unwrap();
        assert_eq!(
            read_status(r),
            Status::Failed("mount /proc: Operation not permitted".into())
        );
        let (r, w) = pipe().unwrap();
        drop(w);
        assert!(matches!(read_status(r), Status::Failed(reason) if reason.contains("ended")));
    }
}
