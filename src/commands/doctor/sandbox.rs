//! `quorum doctor`'s sandbox lines: whether model-written code can be
//! confined here (the jail), whether test runs get a private network, and
//! whether the rlimits take effect (docs/sandbox.md).

use super::{Check, Status};
use crate::cli::args::Global;

/// Whether the rlimits the sandbox sets take effect: a child with them applied
/// reports them back through `ulimit`.
pub(super) fn rlimits_apply() -> Result<(), String> {
    let mut cmd = std::process::Command::new("sh");
    cmd.args(["-c", "ulimit -t; ulimit -c"])
        .stdin(std::process::Stdio::null());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt as _;
        // SAFETY: the closure only makes async-signal-safe system calls.
        unsafe {
            cmd.pre_exec(|| {
                for (resource, value) in [(libc::RLIMIT_CPU, 305), (libc::RLIMIT_CORE, 0)] {
                    let rl = libc::rlimit {
                        rlim_cur: value,
                        rlim_max: value,
                    };
                    if libc::setrlimit(resource, &rl) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
    }
    let out = cmd.output().map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    let got: Vec<&str> = text.split_whitespace().collect();
    if out.status.success() && got == ["305", "0"] {
        Ok(())
    } else {
        Err(format!(
            "a child with CPU 305 s and core 0 reported {got:?} ({})",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The network line of the sandbox checks: ok with a private namespace, else
/// a warning that says "network not isolated".
pub(super) fn network_check(isolated: bool) -> Check {
    if isolated {
        Check::new(
            "sandbox",
            "network",
            Status::Ok,
            false,
            "test runs get a private network namespace (loopback only)",
        )
    } else {
        Check::new(
            "sandbox",
            "network",
            Status::Warn,
            false,
            "network not isolated: no private network namespace (needs root or unprivileged user namespaces), so test runs can reach the network",
        )
    }
}

/// The jail line of the sandbox checks: what confines model-written code on
/// this machine, or why nothing can (then runs are refused unless
/// `--allow-unconfined-tests`; docs/sandbox.md).
pub(super) fn jail_check(
    probe: &Result<crate::protocol::Isolation, String>,
    allowed: bool,
) -> Check {
    match probe {
        Ok(isolation) => Check::new("sandbox", "jail", Status::Ok, false, isolation.summary()),
        Err(reason) if allowed => Check::new(
            "sandbox",
            "jail",
            Status::Warn,
            false,
            format!(
                "model-written code cannot be confined here ({reason}); --allow-unconfined-tests runs it anyway, with only rlimits and a process-group kill"
            ),
        ),
        Err(reason) => Check::new(
            "sandbox",
            "jail",
            Status::Fail,
            false,
            format!(
                "model-written code cannot be confined here: {reason}. Setup and test runs are refused; enable unprivileged user namespaces (Linux 5.12 or later; e.g. sysctl kernel.unprivileged_userns_clone=1 or user.max_user_namespaces > 0) or rerun with --allow-unconfined-tests (docs/sandbox.md)"
            ),
        ),
    }
}

pub(super) fn sandbox_checks(global: &Global) -> Vec<Check> {
    let probe = crate::workspace::sandbox::probe();
    let mut checks = vec![jail_check(&probe, global.allow_unconfined_tests)];
    checks.push(network_check(
        probe.as_ref().is_ok_and(|i| i.network) || crate::workspace::sandbox::can_isolate_network(),
    ));
    checks.push(match rlimits_apply() {
        Ok(()) => Check::new(
            "sandbox",
            "rlimits",
            Status::Ok,
            true,
            "CPU time, memory (data segment), file size and core limits apply to every process of a run; every descendant is killed at its end",
        ),
        Err(e) => Check::new("sandbox", "rlimits", Status::Fail, true, e),
    });
    checks
}
