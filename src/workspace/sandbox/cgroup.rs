//! A cgroup for one sandboxed run (Linux; docs/sandbox.md): `pids.max` and a
//! memory limit for the run's whole process tree, where this process may
//! create one — cgroup v2 when its own cgroup delegates the `memory` and
//! `pids` controllers to children, else the v1 `memory` and `pids`
//! hierarchies (typically as root). Best effort: `None` when neither works,
//! and the jail falls back to `RLIMIT_NPROC` and per-process limits.
//!
//! Paths come from `/proc/self/mountinfo` (where each hierarchy is mounted)
//! and `/proc/self/cgroup` (this process's place in it), as cgroups(7)
//! describes them.

use std::path::{Path, PathBuf};

/// A cgroup created for one run; [`Cgroup::destroy`] removes it.
#[derive(Debug)]
pub struct Cgroup {
    /// The directories (one for v2; one per v1 hierarchy).
    dirs: Vec<PathBuf>,
    /// `v1` or `v2`.
    pub version: &'static str,
    /// The memory limit is in force.
    pub memory: bool,
    /// `pids.max` is in force.
    pub pids: bool,
}

/// Mount points of cgroup hierarchies: `(mount point, filesystem type,
/// super options)` from mountinfo.
fn mounts() -> Vec<(PathBuf, String, String)> {
    let Ok(text) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let point = left.split(' ').nth(4)?;
            let mut right = right.split(' ');
            let fstype = right.next()?.to_string();
            let options = right.nth(1).unwrap_or("").to_string();
            (fstype == "cgroup" || fstype == "cgroup2")
                .then(|| (PathBuf::from(point), fstype, options))
        })
        .collect()
}

/// This process's path in the hierarchy with `controller` (`""` for v2).
fn own_path(controller: &str) -> Option<String> {
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    text.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let _id = parts.next()?;
        let controllers = parts.next()?;
        let path = parts.next()?;
        let matches = if controller.is_empty() {
            controllers.is_empty()
        } else {
            controllers.split(',').any(|c| c == controller)
        };
        matches.then(|| path.to_string())
    })
}

fn join(mount: &Path, path: &str) -> PathBuf {
    mount.join(path.trim_start_matches('/'))
}

fn name() -> String {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("quorum-sandbox-{}-{n}", std::process::id())
}

/// Creates a cgroup limited to `memory_bytes` and `processes` tasks. `None`
/// when this process cannot create one.
pub fn create(memory_bytes: u64, processes: u64) -> Option<Cgroup> {
    let mounts = mounts();
    // cgroup v2: a child of our own cgroup, when it delegates both controllers.
    if let Some((point, _, _)) = mounts.iter().find(|(_, t, _)| t == "cgroup2")
        && let Some(own) = own_path("")
    {
        let parent = join(point, &own);
        let delegated =
            std::fs::read_to_string(parent.join("cgroup.subtree_control")).unwrap_or_default();
        let has = |c: &str| delegated.split_whitespace().any(|d| d == c);
        if has("memory") && has("pids") {
            let dir = parent.join(name());
            if std::fs::create_dir(&dir).is_ok() {
                let memory =
                    std::fs::write(dir.join("memory.max"), memory_bytes.to_string()).is_ok();
                let _ = std::fs::write(dir.join("memory.swap.max"), "0");
                let pids = std::fs::write(dir.join("pids.max"), processes.to_string()).is_ok();
                return Some(Cgroup {
                    dirs: vec![dir],
                    version: "v2",
                    memory,
                    pids,
                });
            }
        }
    }
    // cgroup v1: the memory and pids hierarchies.
    let mut group = Cgroup {
        dirs: Vec::new(),
        version: "v1",
        memory: false,
        pids: false,
    };
    for controller in ["memory", "pids"] {
        let Some((point, _, _)) = mounts
            .iter()
            .find(|(_, t, o)| t == "cgroup" && o.split(',').any(|c| c == controller))
        else {
            continue;
        };
        let Some(own) = own_path(controller) else {
            continue;
        };
        let dir = join(point, &own).join(name());
        if std::fs::create_dir(&dir).is_err() {
            continue;
        }
        let ok = if controller == "memory" {
            let set = std::fs::write(dir.join("memory.limit_in_bytes"), memory_bytes.to_string());
            let _ = std::fs::write(
                dir.join("memory.memsw.limit_in_bytes"),
                memory_bytes.to_string(),
            );
            set.is_ok()
        } else {
            std::fs::write(dir.join("pids.max"), processes.to_string()).is_ok()
        };
        if controller == "memory" {
            group.memory = ok;
        } else {
            group.pids = ok;
        }
        group.dirs.push(dir);
    }
    (!group.dirs.is_empty()).then_some(group)
}

impl Cgroup {
    /// Moves `pid` into the cgroup (its later children follow).
    pub fn add(&self, pid: libc::pid_t) {
        for dir in &self.dirs {
            let _ = std::fs::write(dir.join("cgroup.procs"), pid.to_string());
        }
    }

    /// Kills whatever is left in the cgroup and removes it (bounded: about a
    /// second at most).
    pub fn destroy(&self) {
        for dir in &self.dirs {
            for _ in 0..200 {
                let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
                for pid in procs
                    .lines()
                    .filter_map(|l| l.trim().parse::<libc::pid_t>().ok())
                {
                    // SAFETY: killing a process of this run's cgroup.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
                if std::fs::remove_dir(dir).is_ok() || !dir.exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_paths_and_mounts_are_read() {
        // Every Linux process is in some cgroup; mountinfo lists the
        // hierarchies this machine mounted (there may be none in a container).
        let text = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        if text.lines().any(|l| l.starts_with("0::")) {
            assert!(own_path("").is_some());
        }
        for (point, fstype, _) in mounts() {
            assert!(point.is_absolute());
            assert!(fstype.starts_with("cgroup"));
        }
    }
}
