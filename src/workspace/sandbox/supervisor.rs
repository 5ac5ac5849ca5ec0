//! The test command's supervisor (Linux): a small process forked from quorum
//! that makes itself a *child subreaper* (`prctl(PR_SET_CHILD_SUBREAPER)`),
//! forks the command, and kills every descendant at the end — also ones that
//! double-forked and called `setsid()`, which a process-group kill misses.
//!
//! Why a separate process: the subreaper flag is process-wide. Set on quorum
//! itself, every orphan of every child (git, `$EDITOR`, other test runs) would
//! become quorum's child, and reaping them with `waitpid(-1)` would steal the
//! exit statuses of the children tokio waits for. The supervisor is a process
//! of its own, so it may `waitpid(-1)` freely; quorum waits for the supervisor
//! alone, by its pid.
//!
//! ```text
//! quorum ──fork──▶ supervisor (setsid, subreaper, waits) ──fork──▶ sh -c COMMAND
//!    │  lifeline pipe (quorum holds the write end)    ▲          (own process group,
//!    └─ closing it = stop now ───────────────────────┘           rlimits, netns)
//! ```
//!
//! The supervisor ends when the command exits or when the *lifeline* pipe
//! hangs up — quorum closes it at the timeout, when the run is cancelled
//! (the future is dropped), and the kernel closes it when quorum dies. Either
//! way it kills the command's process group, then scans `/proc` for every
//! descendant (orphans reparent to it, so none escapes) and `SIGKILL`s them
//! until `waitpid` reports no child left; then it exits with the command's
//! status (`128 + signal` when the command was killed).
//!
//! Everything after `fork` runs in a copy of a multithreaded process, so it
//! makes only async-signal-safe system calls: no allocation, no locks, no
//! panics (no indexing that can fail, no overflowing arithmetic). All strings
//! are prepared before the fork.

use std::ffi::{CString, c_char, c_int};
use std::os::fd::{FromRawFd, OwnedFd};

/// The type `setrlimit` takes for a resource.
#[cfg(target_env = "gnu")]
pub type Resource = libc::__rlimit_resource_t;
/// The type `setrlimit` takes for a resource.
#[cfg(not(target_env = "gnu"))]
pub type Resource = c_int;

/// The fd the supervisor keeps the lifeline's read end on.
const LIFELINE_FD: c_int = 3;
/// The fd of the error pipe's write end in the supervisor and the command.
const ERROR_FD: c_int = 4;
/// Most descendants killed per cleanup round (more are found in later rounds).
const TREE_CAP: usize = 4096;
/// Cleanup rounds before the supervisor gives up (each sleeps 2 ms).
const MAX_ROUNDS: u32 = 5000;

/// A step that failed before the command was running; reported through the
/// error pipe as `(step, errno)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum Step {
    /// Becoming a subreaper or session leader.
    Supervise = 1,
    /// Forking the command.
    Fork = 2,
    /// Setting a resource limit.
    Rlimit = 3,
    /// Creating the network namespace.
    Unshare = 4,
    /// Bringing loopback up in it.
    Loopback = 5,
    /// Changing to the working directory.
    Chdir = 6,
    /// Executing the shell.
    Exec = 7,
    /// Arranging the file descriptors.
    Fds = 8,
}

impl Step {
    fn from_i32(n: i32) -> &'static str {
        match n {
            1 => "becoming a subreaper",
            2 => "fork",
            3 => "setrlimit",
            4 => "unshare(CLONE_NEWNET)",
            5 => "bringing loopback up",
            6 => "chdir",
            7 => "exec",
            _ => "arranging file descriptors",
        }
    }
}

/// What the command is started with, prepared before the fork.
pub struct Spec {
    /// The shell's absolute path (`sh` found on `PATH`, else `/bin/sh`).
    pub shell: CString,
    /// `argv`: the shell, `-c`, the command.
    pub argv: Vec<CString>,
    /// `envp`: `NAME=value` entries.
    pub envp: Vec<CString>,
    /// The working directory.
    pub cwd: CString,
    /// `(resource, limit)` pairs set as both soft and hard limit.
    pub rlimits: Vec<(Resource, u64)>,
    /// Start the command in a fresh network namespace with loopback up.
    pub isolate_network: bool,
}

/// A running supervisor.
pub struct Supervisor {
    /// The supervisor's pid (the command runs in a process group of its own below it).
    pub pid: libc::pid_t,
    /// Read end of the command's stdout.
    pub stdout: OwnedFd,
    /// Read end of the command's stderr.
    pub stderr: OwnedFd,
    /// Write end of the lifeline: dropping it stops the run.
    pub lifeline: OwnedFd,
    /// Read end of the error pipe: EOF once the command runs, else `(step, errno)`.
    pub errors: OwnedFd,
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

/// Forks the supervisor, which forks `spec`'s command.
///
/// Errors: creating the pipes or the fork failed. Failures after the fork
/// arrive on [`Supervisor::errors`] (see [`read_error`]).
pub fn spawn(spec: &Spec) -> std::io::Result<Supervisor> {
    use std::os::fd::AsRawFd;
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let (life_r, life_w) = pipe()?;
    let (fail_r, fail_w) = pipe()?;
    let mut argv: Vec<*const c_char> = spec.argv.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const c_char> = spec.envp.iter().map(|e| e.as_ptr()).collect();
    envp.push(std::ptr::null());
    let mut rlimits = [(0 as Resource, 0u64); 8];
    let n_limits = spec.rlimits.len().min(rlimits.len());
    rlimits[..n_limits].copy_from_slice(&spec.rlimits[..n_limits]);
    let fds = Fds {
        out: out_w.as_raw_fd(),
        err: err_w.as_raw_fd(),
        life: life_r.as_raw_fd(),
        fail: fail_w.as_raw_fd(),
    };
    let devnull = c"/dev/null";
    // SAFETY: fork; the child runs only async-signal-safe code (see the module
    // comment) and always ends in `_exit`.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: in the child; every pointer was prepared before the fork.
        unsafe {
            supervise(
                &fds,
                devnull.as_ptr(),
                spec.shell.as_ptr(),
                argv.as_ptr(),
                envp.as_ptr(),
                spec.cwd.as_ptr(),
                &rlimits[..n_limits],
                spec.isolate_network,
            )
        }
    }
    drop((out_w, err_w, life_r, fail_w));
    Ok(Supervisor {
        pid,
        stdout: out_r,
        stderr: err_r,
        lifeline: life_w,
        errors: fail_r,
    })
}

/// Reads the error pipe to its end (blocking): `None` when the command
/// started, else a message such as `exec: No such file or directory`.
pub fn read_error(errors: OwnedFd) -> Option<String> {
    use std::io::Read as _;
    let mut buf = Vec::new();
    let _ = std::fs::File::from(errors).read_to_end(&mut buf);
    let word = |i: usize| -> Option<i32> {
        let bytes: [u8; 4] = buf.get(i..i + 4)?.try_into().ok()?;
        Some(i32::from_ne_bytes(bytes))
    };
    let (step, errno) = (word(0)?, word(4)?);
    Some(format!(
        "{}: {}",
        Step::from_i32(step),
        std::io::Error::from_raw_os_error(errno)
    ))
}

/// Waits for the supervisor to exit (blocking); returns its exit code
/// (`128 + signal` when it was killed). Only this pid is waited for, so no
/// other child's status is taken.
pub fn wait(pid: libc::pid_t) -> i32 {
    let mut status: c_int = 0;
    loop {
        // SAFETY: waiting for our own child by pid.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            return decode_status(status);
        }
        if r < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return 128 + libc::SIGKILL;
        }
    }
}

fn decode_status(status: c_int) -> i32 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        128
    }
}

struct Fds {
    out: c_int,
    err: c_int,
    life: c_int,
    fail: c_int,
}

/// Reports a failed step on the error pipe and exits.
unsafe fn fail(step: Step) -> ! {
    // SAFETY: errno location, write and _exit are async-signal-safe.
    unsafe {
        let errno = *libc::__errno_location();
        let mut msg = [0u8; 8];
        let (a, b) = msg.split_at_mut(4);
        a.copy_from_slice(&(step as i32).to_ne_bytes());
        b.copy_from_slice(&errno.to_ne_bytes());
        libc::write(ERROR_FD, msg.as_ptr().cast(), msg.len());
        libc::_exit(127)
    }
}

/// The supervisor's body, in the forked child. Never returns.
#[allow(clippy::too_many_arguments)]
unsafe fn supervise(
    fds: &Fds,
    devnull: *const c_char,
    shell: *const c_char,
    argv: *const *const c_char,
    envp: *const *const c_char,
    cwd: *const c_char,
    rlimits: &[(Resource, u64)],
    isolate_network: bool,
) -> ! {
    // SAFETY (whole body): only system calls on fds and memory prepared
    // before the fork; see the module comment.
    unsafe {
        // Move the fds we keep above the standard ones, then into place.
        let high = |fd: c_int| libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10);
        let (out, err, life, failw) =
            (high(fds.out), high(fds.err), high(fds.life), high(fds.fail));
        let null = libc::open(devnull, libc::O_RDONLY | libc::O_CLOEXEC);
        if out < 0 || err < 0 || life < 0 || failw < 0 || null < 0 {
            libc::_exit(127);
        }
        if libc::dup3(failw, ERROR_FD, libc::O_CLOEXEC) < 0 {
            libc::_exit(127);
        }
        if libc::dup2(null, 0) < 0
            || libc::dup2(out, 1) < 0
            || libc::dup2(err, 2) < 0
            || libc::dup3(life, LIFELINE_FD, libc::O_CLOEXEC) < 0
        {
            fail(Step::Fds);
        }
        // Every other fd of quorum (the db, other children's pipes) is closed,
        // so that this process keeps nothing of quorum's open.
        if libc::syscall(libc::SYS_close_range, ERROR_FD + 1, c_int::MAX, 0) != 0 {
            let mut max = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut max);
            let top = if max.rlim_cur > 65_536 {
                65_536
            } else {
                max.rlim_cur as c_int
            };
            let mut fd = ERROR_FD + 1;
            while fd < top {
                libc::close(fd);
                fd += 1;
            }
        }
        // Default signal dispositions and an empty mask (quorum's handlers and
        // its ignored SIGPIPE must not reach the command).
        let mut sig = 1;
        while sig < 32 {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::signal(sig, libc::SIG_DFL);
            }
            sig += 1;
        }
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());

        if libc::setsid() < 0 || libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0 {
            fail(Step::Supervise);
        }
        let child = libc::fork();
        if child < 0 {
            fail(Step::Fork);
        }
        if child == 0 {
            // The command: its own process group, limits, namespace, exec.
            libc::setpgid(0, 0);
            for &(resource, value) in rlimits {
                let rl = libc::rlimit {
                    rlim_cur: value as libc::rlim_t,
                    rlim_max: value as libc::rlim_t,
                };
                if libc::setrlimit(resource, &rl) != 0 {
                    fail(Step::Rlimit);
                }
            }
            if isolate_network {
                if libc::unshare(libc::CLONE_NEWNET) != 0 {
                    fail(Step::Unshare);
                }
                if super::loopback_up().is_err() {
                    fail(Step::Loopback);
                }
            }
            if libc::chdir(cwd) != 0 {
                fail(Step::Chdir);
            }
            libc::execve(shell, argv, envp);
            fail(Step::Exec);
        }
        libc::close(ERROR_FD);
        // The command's exit wakes the loop below at once through a pidfd
        // (Linux 5.3); without one (-1, which poll(2) skips) the loop looks
        // every 20 ms, which cost every test run 10-20 ms (issue 7).
        let pidfd = libc::syscall(libc::SYS_pidfd_open, child, 0) as c_int;

        let me = libc::getpid();
        let mut status: c_int = 0;
        let mut command: Option<c_int> = None;
        'run: loop {
            loop {
                let r = libc::waitpid(-1, &mut status, libc::WNOHANG);
                if r == child {
                    command = Some(status);
                    break 'run;
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
                break 'run;
            }
        }
        libc::killpg(child, libc::SIGKILL);
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
        libc::_exit(match command {
            Some(status) => decode_status(status),
            None => 128 + libc::SIGKILL,
        })
    }
}

/// `SIGKILL`s every live descendant of `me` that `/proc` shows, walking the
/// tree by parent pid (scans repeat until a scan adds no process). Returns how
/// many were signalled.
unsafe fn kill_descendants(me: libc::pid_t) -> usize {
    let mut tree = [0 as libc::pid_t; TREE_CAP];
    let mut len = 0usize;
    let mut passes = 0;
    loop {
        let before = len;
        // SAFETY: scan_proc only makes system calls on its own buffers.
        unsafe {
            scan_proc(&mut |pid, ppid| {
                let known = ppid == me || tree.get(..len).is_some_and(|t| t.contains(&ppid));
                let seen = tree.get(..len).is_some_and(|t| t.contains(&pid));
                if known && !seen && pid != me {
                    libc::kill(pid, libc::SIGKILL);
                    if let Some(slot) = tree.get_mut(len) {
                        *slot = pid;
                        len += 1;
                    }
                }
            });
        }
        passes += 1;
        if len == before || len >= TREE_CAP || passes > 64 {
            return len;
        }
    }
}

/// Calls `visit(pid, ppid)` for every process in `/proc`.
unsafe fn scan_proc(visit: &mut dyn FnMut(libc::pid_t, libc::pid_t)) {
    // SAFETY: open/getdents64/read/close on buffers of this frame.
    unsafe {
        let dir = libc::open(
            c"/proc".as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        );
        if dir < 0 {
            return;
        }
        let mut buf = [0u8; 8192];
        loop {
            let n = libc::syscall(libc::SYS_getdents64, dir, buf.as_mut_ptr(), buf.len());
            if n <= 0 {
                break;
            }
            let n = n as usize;
            let mut at = 0usize;
            while at < n {
                let Some(reclen) = buf.get(at + 16..at + 18) else {
                    break;
                };
                let reclen = u16::from_ne_bytes([reclen[0], reclen[1]]) as usize;
                if reclen == 0 {
                    break;
                }
                if let Some(name) = buf.get(at + 19..at + reclen)
                    && let Some(pid) = parse_pid(name)
                    && let Some(ppid) = parent_of(pid)
                {
                    visit(pid, ppid);
                }
                at += reclen;
            }
        }
        libc::close(dir);
    }
}

/// The leading decimal number of a NUL-terminated name, if it is all digits.
fn parse_pid(name: &[u8]) -> Option<libc::pid_t> {
    let mut pid: libc::pid_t = 0;
    let mut digits = 0;
    for &b in name {
        if b == 0 {
            break;
        }
        if !b.is_ascii_digit() {
            return None;
        }
        pid = pid
            .checked_mul(10)?
            .checked_add((b - b'0') as libc::pid_t)?;
        digits += 1;
    }
    (digits > 0).then_some(pid)
}

/// The parent pid from `/proc/PID/stat` (the field after the state, which
/// follows the last `)`).
unsafe fn parent_of(pid: libc::pid_t) -> Option<libc::pid_t> {
    let mut path = [0u8; 32];
    let prefix = b"/proc/";
    path.get_mut(..prefix.len())?.copy_from_slice(prefix);
    let mut at = prefix.len();
    let mut digits = [0u8; 12];
    let mut n = 0;
    let mut p = pid;
    loop {
        *digits.get_mut(n)? = b'0' + (p % 10) as u8;
        n += 1;
        p /= 10;
        if p == 0 {
            break;
        }
    }
    while n > 0 {
        n -= 1;
        *path.get_mut(at)? = *digits.get(n)?;
        at += 1;
    }
    for &b in b"/stat\0" {
        *path.get_mut(at)? = b;
        at += 1;
    }
    let mut stat = [0u8; 512];
    // SAFETY: open/read/close on buffers of this frame.
    let len = unsafe {
        let fd = libc::open(path.as_ptr().cast(), libc::O_RDONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return None;
        }
        let len = libc::read(fd, stat.as_mut_ptr().cast(), stat.len());
        libc::close(fd);
        len
    };
    let stat = stat.get(..usize::try_from(len).ok()?)?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    // ") S 1234 ..."
    let rest = stat.get(close + 1..)?;
    let mut fields = rest.split(|&b| b == b' ').filter(|f| !f.is_empty());
    let _state = fields.next()?;
    parse_pid(fields.next()?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn proc_is_read_without_allocating_helpers() {
        assert_eq!(parse_pid(b"123\0\0"), Some(123));
        assert_eq!(parse_pid(b"self\0"), None);
        assert_eq!(parse_pid(b"\0"), None);
        let me = std::process::id() as libc::pid_t;
        // SAFETY: reads /proc only.
        let parent = unsafe { parent_of(me) };
        assert_eq!(parent, Some(unsafe { libc::getppid() }));
        let mut seen = false;
        // SAFETY: reads /proc only.
        unsafe { scan_proc(&mut |pid, _| seen |= pid == me) };
        assert!(seen, "this process is listed");
    }
}
