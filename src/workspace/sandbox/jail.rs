//! The jail a setup or test run is confined in (Linux; docs/sandbox.md): new
//! user, mount, PID, IPC and UTS namespaces (and a network namespace when the
//! run has no network), a filesystem in which the root is read-only, the
//! scratch tree is the only writable place (plus, for setup, the package
//! managers' caches), `/proc`, `/tmp` and `/dev` are private, and the
//! target's `.git`, the state directory, `$HOME` and `/run` are hidden
//! (empty); Landlock as a second layer where the kernel has it; a cgroup for
//! the whole tree's processes and memory where one can be created, else
//! `RLIMIT_NPROC`, which the kernel counts per user namespace (it does not
//! bind the global root: see [`limits_of`]). The command runs with no
//! capabilities and `no_new_privs`.
//!
//! The supervisor ([`run_confined`]) clones the jail's init with the new
//! namespaces, writes its uid/gid map (the caller's own uid and gid, mapped to
//! themselves), puts it in the cgroup and lets it go; the init builds the
//! filesystem ([`enter`]), forks the command and waits. When the init exits,
//! the kernel kills every process of the PID namespace.
//!
//! Mounts use the new mount API (Linux 5.2: `open_tree`, `move_mount`; 5.12:
//! `mount_setattr`): the places to keep are cloned as detached mounts
//! *before* anything is hidden, then attached again on top of the hiding
//! tmpfs. Kernels without it cannot confine (the probe says why).

use std::ffi::{CString, c_int};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::cgroup::Cgroup;
use super::supervisor::{Prepared, STATUS_FD, Spec, Status, decode_status, fail, send_status};
use crate::protocol::Isolation;

/// What the jail lets a run see and write; built by quorum
/// (`sandbox::Policy`), carried in the [`Spec`].
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Jail {
    /// The only places the run may write (absolute): the scratch tree, and
    /// for setup the package managers' caches.
    pub writable: Vec<PathBuf>,
    /// Directories hidden behind an empty, read-only tmpfs: `$HOME`, `/run`,
    /// the target's `.git` and the state directory.
    pub hide: Vec<PathBuf>,
    /// Paths inside hidden directories shown again, read-only: the toolchains
    /// that live in `$HOME` (`~/.cargo`, `~/.rustup`, `~/.pyenv`, …) and a
    /// `resolv.conf` kept under `/run`.
    pub expose: Vec<PathBuf>,
    /// Files replaced by an empty `/dev/null` (credentials inside exposed
    /// toolchains, such as `~/.cargo/credentials.toml`).
    pub mask: Vec<PathBuf>,
    /// The run's `$HOME`, created empty inside the private `/tmp`.
    pub home: PathBuf,
    /// Memory for the whole tree, in bytes (a cgroup's limit).
    pub memory_bytes: u64,
    /// Processes (tasks) for the whole tree (a cgroup's `pids.max`, else
    /// `RLIMIT_NPROC` inside the user namespace).
    pub processes: u64,
}

// The new mount API's constants (linux/mount.h, linux/fcntl.h).
const OPEN_TREE_CLONE: u32 = 1;
const AT_RECURSIVE: u32 = 0x8000;
const AT_EMPTY_PATH: u32 = 0x1000;
const MOVE_MOUNT_F_EMPTY_PATH: u32 = 0x4;
const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_NOSUID: u64 = 0x2;

/// `struct mount_attr` (linux/mount.h, `MOUNT_ATTR_SIZE_VER0`).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// The devices a run's `/dev` holds.
const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];
/// Size of the private `/tmp`, `/var/tmp` and `/dev/shm` (each; tmpfs pages
/// count against the cgroup's memory where there is one).
const TMP_SIZE: &str = "size=1g,nr_inodes=262144";

fn c_path(path: &Path) -> Result<CString, String> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| format!("{}: a NUL byte", path.display()))
}

fn os_error(what: &str, path: &Path) -> String {
    format!(
        "{what} {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    )
}

/// A detached copy of the mount tree at `path` (`open_tree(OPEN_TREE_CLONE)`).
fn clone_tree(path: &Path, recursive: bool) -> Result<OwnedFd, String> {
    let c = c_path(path)?;
    let flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as u32 | if recursive { AT_RECURSIVE } else { 0 };
    // SAFETY: a system call on a C string; a non-negative result is a new fd.
    let fd = unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, c.as_ptr(), flags) };
    if fd < 0 {
        return Err(os_error("open_tree", path));
    }
    // SAFETY: the fd was just created.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as c_int) })
}

/// Sets (and clears) mount attributes on the mount at `fd` (and below it when
/// `recursive`).
fn set_attr_fd(fd: &OwnedFd, set: u64, clear: u64, recursive: bool) -> Result<(), String> {
    let attr = MountAttr {
        attr_set: set,
        attr_clr: clear,
        propagation: 0,
        userns_fd: 0,
    };
    let flags = AT_EMPTY_PATH | if recursive { AT_RECURSIVE } else { 0 };
    // SAFETY: mount_setattr on our fd with a properly sized struct.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r != 0 {
        return Err(format!(
            "mount_setattr: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// Sets mount attributes on the mount at `path`.
fn set_attr(path: &Path, set: u64, recursive: bool) -> Result<(), String> {
    let c = c_path(path)?;
    let fd = c_open(&c, libc::O_PATH | libc::O_DIRECTORY).map_err(|_| os_error("open", path))?;
    set_attr_fd(&fd, set, 0, recursive).map_err(|e| format!("{e} ({})", path.display()))
}

fn c_open(path: &CString, flags: c_int) -> std::io::Result<OwnedFd> {
    // SAFETY: open on a C string; a non-negative result is a new fd.
    let fd = unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: just opened.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Attaches the detached mount `fd` at `target`.
fn attach(fd: &OwnedFd, target: &Path) -> Result<(), String> {
    let c = c_path(target)?;
    // SAFETY: move_mount of our detached mount onto a path.
    let r = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_FDCWD,
            c.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    };
    if r != 0 {
        return Err(os_error("move_mount to", target));
    }
    Ok(())
}

/// Mounts a tmpfs at `target` with `options`.
fn tmpfs(target: &Path, options: &str) -> Result<(), String> {
    let c = c_path(target)?;
    let data = CString::new(options).map_err(|e| e.to_string())?;
    // SAFETY: mount(2) with C strings.
    let r = unsafe {
        libc::mount(
            c"tmpfs".as_ptr(),
            c.as_ptr(),
            c"tmpfs".as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV,
            data.as_ptr().cast(),
        )
    };
    if r != 0 {
        return Err(os_error("mount tmpfs on", target));
    }
    Ok(())
}

/// Creates `target` (and its parents) as a directory, or as an empty file
/// when `file`, so that a mount can be attached there.
fn make_target(target: &Path, file: bool) -> Result<(), String> {
    if file {
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("mkdir {}: {e}", parent.display()))?;
        }
        if std::fs::symlink_metadata(target).is_err() {
            std::fs::File::create(target)
                .map_err(|e| format!("create {}: {e}", target.display()))?;
        }
        Ok(())
    } else {
        std::fs::create_dir_all(target).map_err(|e| format!("mkdir {}: {e}", target.display()))
    }
}

fn depth(path: &Path) -> usize {
    path.components().count()
}

/// A place cloned before hiding, to attach again afterwards.
struct Kept {
    fd: OwnedFd,
    target: PathBuf,
    file: bool,
}

/// Clones `path` for attaching again later, read-only unless `writable`.
fn keep(path: &Path, writable: bool) -> Result<Option<Kept>, String> {
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(None);
    };
    let fd = clone_tree(path, true)?;
    if writable {
        set_attr_fd(&fd, MOUNT_ATTR_NOSUID, MOUNT_ATTR_RDONLY, false)
            .map_err(|e| format!("{e} (making {} writable)", path.display()))?;
    } else {
        set_attr_fd(&fd, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, 0, true)?;
    }
    Ok(Some(Kept {
        fd,
        target: path.to_path_buf(),
        file: !meta.is_dir(),
    }))
}

/// Builds the jail's filesystem and drops every privilege, in the jail's init
/// (PID 1 of the new namespaces, with all capabilities in its own user
/// namespace). Returns the isolation achieved, the cgroup's part excepted.
///
/// Errors: the step that failed and the OS's reason.
pub fn enter(spec: &Spec, jail: &Jail) -> Result<Isolation, String> {
    make_mounts_private()?;
    let clones = Clones::of(jail)?;
    // Everything read-only and without set-uid.
    set_attr(Path::new("/"), MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, true)?;
    let scratch = private_scratch(&clones.devices)?;
    clones.hide_and_show()?;
    mount_proc()?;
    std::fs::create_dir_all(&jail.home)
        .map_err(|e| format!("mkdir {}: {e}", jail.home.display()))?;
    // SAFETY: sethostname in our own UTS namespace.
    unsafe { libc::sethostname(c"quorum-sandbox".as_ptr(), "quorum-sandbox".len()) };

    let mut writable: Vec<PathBuf> = jail.writable.clone();
    writable.extend(scratch);
    drop_capabilities()?;
    let landlock = landlock(&writable)?;
    let mut namespaces: Vec<String> = ["user", "mount", "pid", "ipc", "uts"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    if spec.isolate_network {
        namespaces.push("net".into());
    }
    Ok(Isolation {
        namespaces,
        filesystem: true,
        landlock,
        processes: String::new(),
        memory: String::new(),
        network: spec.isolate_network,
    })
}

/// Stops mount events from propagating out of the new mount namespace.
fn make_mounts_private() -> Result<(), String> {
    // SAFETY: mount(2) changing propagation in our own mount namespace.
    if unsafe {
        libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        )
    } != 0
    {
        return Err(os_error("making mounts private:", Path::new("/")));
    }
    Ok(())
}

/// What stays visible and what is hidden, taken before anything is mounted
/// over (a clone keeps a tree reachable after its parent is hidden).
struct Clones<'a> {
    /// The trees shown again, read-only or writable, shallowest first.
    kept: Vec<Kept>,
    /// The devices of the private /dev, as clones and their paths.
    devices: Vec<(OwnedFd, PathBuf)>,
    /// The directories to hide, shallowest first.
    hide: Vec<&'a PathBuf>,
    /// The files masked by /dev/null (credentials), as clones and their paths.
    masks: Vec<(OwnedFd, PathBuf)>,
}

impl<'a> Clones<'a> {
    /// Clones what the jail shows and lists what it hides, as they are now
    /// (one under /tmp must stay hidden inside the private /tmp too).
    fn of(jail: &'a Jail) -> Result<Self, String> {
        let mut kept = Vec::new();
        for path in &jail.expose {
            kept.extend(keep(path, false)?);
        }
        for path in &jail.writable {
            kept.extend(keep(path, true)?);
        }
        kept.sort_by_key(|k| depth(&k.target));
        let mut devices = Vec::new();
        for name in DEVICES {
            let path = Path::new("/dev").join(name);
            if path.exists() {
                devices.push((clone_tree(&path, false)?, path));
            }
        }
        let mut hide: Vec<&PathBuf> = jail
            .hide
            .iter()
            .filter(|p| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir()))
            .collect();
        hide.sort_by_key(|p| depth(p));
        let mut masks = Vec::new();
        for path in &jail.mask {
            if path.is_file() {
                masks.push((clone_tree(Path::new("/dev/null"), false)?, path.clone()));
            }
        }
        Ok(Self {
            kept,
            devices,
            hide,
            masks,
        })
    }

    /// Hides the directories, the shallowest first, so that deeper ones
    /// inside them are already gone (and skipped); one under a private tmpfs
    /// (/tmp) is made there first, so that nobody can create it writable.
    /// Then shows the kept trees again and masks the credentials.
    fn hide_and_show(&self) -> Result<(), String> {
        let mut hidden = Vec::new();
        for path in &self.hide {
            let inside_hidden = hidden.iter().any(|h: &PathBuf| path.starts_with(h));
            if inside_hidden {
                continue;
            }
            make_target(path, false)?;
            tmpfs(path, "mode=755,size=1m")?;
            hidden.push((*path).clone());
        }
        for k in &self.kept {
            make_target(&k.target, k.file)?;
            attach(&k.fd, &k.target)?;
        }
        for (fd, path) in &self.masks {
            attach(fd, path)?;
        }
        for path in &hidden {
            set_attr(path, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, false)?;
        }
        Ok(())
    }
}

/// Mounts the private scratch space: /tmp, /var/tmp (where it is a
/// directory) and a /dev of a few devices (no terminals of the person's, no
/// disks) with its own /dev/shm. Returns the writable places it made.
fn private_scratch(devices: &[(OwnedFd, PathBuf)]) -> Result<Vec<PathBuf>, String> {
    let mut writable = vec![PathBuf::from("/tmp")];
    tmpfs(Path::new("/tmp"), &format!("mode=1777,{TMP_SIZE}"))?;
    let var_tmp = Path::new("/var/tmp");
    if std::fs::symlink_metadata(var_tmp).is_ok_and(|m| m.is_dir()) {
        tmpfs(var_tmp, &format!("mode=1777,{TMP_SIZE}"))?;
        writable.push(var_tmp.to_path_buf());
    }
    let dev = Path::new("/dev");
    tmpfs(dev, "mode=755,size=64k")?;
    for (fd, path) in devices {
        make_target(path, true)?;
        attach(fd, path)?;
    }
    for (link, to) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        let _ = std::os::unix::fs::symlink(to, dev.join(link));
    }
    let shm = dev.join("shm");
    make_target(&shm, false)?;
    tmpfs(&shm, &format!("mode=1777,{TMP_SIZE}"))?;
    set_attr(dev, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, false)?;
    writable.push(shm);
    Ok(writable)
}

/// Mounts a /proc of the new PID namespace only.
fn mount_proc() -> Result<(), String> {
    // SAFETY: mount(2) with static strings.
    if unsafe {
        libc::mount(
            c"proc".as_ptr(),
            c"/proc".as_ptr(),
            c"proc".as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            std::ptr::null(),
        )
    } != 0
    {
        return Err(os_error("mount", Path::new("/proc")));
    }
    Ok(())
}

/// Empties the capability bounding set, the ambient set and the process's own
/// sets, so that nothing the command executes regains a capability (not even
/// as uid 0 inside the namespace).
fn drop_capabilities() -> Result<(), String> {
    let last: c_int = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(63);
    // SAFETY: prctl and capset on this process with valid arguments.
    unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        );
        for cap in 0..=last {
            if libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) != 0
                && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINVAL)
            {
                return Err(format!(
                    "dropping capability {cap}: {}",
                    std::io::Error::last_os_error()
                ));
            }
        }
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            return Err(format!("no_new_privs: {}", std::io::Error::last_os_error()));
        }
        // linux/capability.h: _LINUX_CAPABILITY_VERSION_3 and two data words.
        #[repr(C)]
        struct Header {
            version: u32,
            pid: c_int,
        }
        #[repr(C)]
        struct Data {
            effective: u32,
            permitted: u32,
            inheritable: u32,
        }
        let header = Header {
            version: 0x2008_0522,
            pid: 0,
        };
        let data = [
            Data {
                effective: 0,
                permitted: 0,
                inheritable: 0,
            },
            Data {
                effective: 0,
                permitted: 0,
                inheritable: 0,
            },
        ];
        if libc::syscall(libc::SYS_capset, &header as *const Header, data.as_ptr()) != 0 {
            return Err(format!("capset: {}", std::io::Error::last_os_error()));
        }
    }
    Ok(())
}

/// The Landlock ABI version the kernel offers (0: none), from
/// `landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)`.
pub fn landlock_abi() -> u32 {
    // SAFETY: the documented version query; no pointer is dereferenced.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0usize,
            1u32,
        )
    };
    u32::try_from(v).unwrap_or(0)
}

/// Restricts this process and its descendants with Landlock: read and
/// execute everywhere, write only in `writable` and `/dev`'s devices;
/// abstract unix sockets and signals scoped to the jail (ABI 6). Best effort:
/// returns the kernel's ABI version when a ruleset was enforced, 0 when the
/// kernel has no Landlock.
fn landlock(writable: &[PathBuf]) -> Result<u32, String> {
    use landlock::{
        ABI, Access, AccessFs, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus, Scope,
        path_beneath_rules,
    };
    let abi = ABI::V9;
    let status = Ruleset::default()
        .handle_access(AccessFs::from_all(abi))
        .and_then(|r| r.scope(Scope::from_all(abi)))
        .and_then(|r| r.create())
        .and_then(|r| r.add_rules(path_beneath_rules(["/"], AccessFs::from_read(abi))))
        .and_then(|r| r.add_rules(path_beneath_rules(writable, AccessFs::from_all(abi))))
        .and_then(|r| {
            r.add_rules(path_beneath_rules(
                ["/dev"],
                AccessFs::from_read(abi) | AccessFs::WriteFile | AccessFs::IoctlDev,
            ))
        })
        .and_then(|r| r.restrict_self())
        .map_err(|e| format!("landlock: {e}"))?;
    Ok(match status.ruleset {
        RulesetStatus::NotEnforced => 0,
        _ => landlock_abi(),
    })
}

/// The jail's resource limits that do not come from a cgroup: with one,
/// `rlimits` as given; without, `RLIMIT_NPROC` at `jail.processes` too. The
/// kernel counts `RLIMIT_NPROC` per user *and user namespace*, so the bound
/// covers this run's processes only; it does not bind the global root
/// (uid 0 outside), whose runs rely on the cgroup or the timeout.
#[allow(clippy::unnecessary_cast)] // the resource is u32 on glibc, c_int on musl
fn limits_of(rlimits: &[(u32, u64)], jail: &Jail, cgroup: Option<&Cgroup>) -> Vec<(u32, u64)> {
    let mut limits: Vec<(u32, u64)> = rlimits
        .iter()
        .filter(|(r, _)| *r != libc::RLIMIT_NPROC as u32)
        .copied()
        .collect();
    if cgroup.is_none_or(|c| !c.pids) {
        limits.push((libc::RLIMIT_NPROC as u32, jail.processes));
    }
    limits
}

/// What bounds processes and memory, for the report.
#[allow(clippy::unnecessary_cast)] // the resource is u32 on glibc, c_int on musl
fn bounds(jail: &Jail, cgroup: Option<&Cgroup>, rlimits: &[(u32, u64)]) -> (String, String) {
    // SAFETY: geteuid cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    let processes = match cgroup {
        Some(c) if c.pids => format!("cgroup {} pids.max={}", c.version, jail.processes),
        _ if root => "timeout only (RLIMIT_NPROC does not bind root)".into(),
        _ => format!("RLIMIT_NPROC={} in the user namespace", jail.processes),
    };
    let per_process = rlimits
        .iter()
        .find(|(r, _)| *r == libc::RLIMIT_DATA as u32)
        .map(|(_, v)| format!("RLIMIT_DATA={} MiB per process", v >> 20));
    let memory = match (cgroup, per_process) {
        (Some(c), Some(p)) if c.memory => format!(
            "cgroup {} {} MiB for the whole tree, {p}",
            c.version,
            jail.memory_bytes >> 20
        ),
        (Some(c), None) if c.memory => {
            format!(
                "cgroup {} {} MiB for the whole tree",
                c.version,
                jail.memory_bytes >> 20
            )
        }
        (_, Some(p)) => p,
        (_, None) => "none".into(),
    };
    (processes, memory)
}

/// The supervisor's side of a confined run: clones the jail's init into new
/// namespaces, maps its uid and gid, puts it in the cgroup, waits for it (or
/// the lifeline), and kills the whole namespace at the end. Returns the
/// command's exit code (`128 + signal` when killed).
pub fn run_confined(spec: &Spec, jail: &Jail, prepared: &Prepared) -> c_int {
    let cgroup = super::cgroup::create(jail.memory_bytes, jail.processes);
    let rlimits = limits_of(&spec.rlimits, jail, cgroup.as_ref());
    let (processes, memory) = bounds(jail, cgroup.as_ref(), &rlimits);
    let mut sync = [0 as c_int; 2];
    // SAFETY: pipe2 fills the array.
    if unsafe { libc::pipe2(sync.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        fail("pipe");
    }
    let mut flags = libc::CLONE_NEWUSER
        | libc::CLONE_NEWNS
        | libc::CLONE_NEWPID
        | libc::CLONE_NEWIPC
        | libc::CLONE_NEWUTS;
    if spec.isolate_network {
        flags |= libc::CLONE_NEWNET;
    }
    // SAFETY: geteuid/getegid cannot fail.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    // SAFETY: clone without a new stack behaves as fork (the child runs on a
    // copy of this single-threaded process's stack).
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    } as libc::pid_t;
    if pid < 0 {
        if let Some(c) = &cgroup {
            c.destroy();
        }
        fail("creating namespaces (clone)");
    }
    if pid == 0 {
        init(spec, jail, prepared, sync, &rlimits, processes, memory);
    }
    // SAFETY: our ends of the pipes.
    unsafe { libc::close(sync[0]) };
    let mapped = write_maps(pid, uid, gid);
    if let Some(c) = &cgroup {
        c.add(pid);
    }
    match mapped {
        Ok(()) => {
            // SAFETY: one byte on our pipe tells the init to go on.
            unsafe { libc::write(sync[1], [1u8].as_ptr().cast(), 1) };
        }
        Err(e) => {
            send_status(&Status::Failed(e));
            // SAFETY: the init never started its command.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
    // SAFETY: closing our copies; the init holds its own status fd.
    unsafe {
        libc::close(sync[1]);
        libc::close(STATUS_FD);
    }
    let status = super::supervisor::wait_or_hangup(pid);
    // SAFETY: killing and reaping our own child; killing the init kills the
    // whole PID namespace, and the wait returns once it is empty.
    let status = unsafe {
        libc::kill(pid, libc::SIGKILL);
        match status {
            Some(s) => Some(s),
            None => {
                let mut s: c_int = 0;
                libc::waitpid(pid, &mut s, 0);
                None
            }
        }
    };
    if let Some(c) = &cgroup {
        c.destroy();
    }
    match status {
        Some(s) => decode_status(s),
        None => 128 + libc::SIGKILL,
    }
}

/// Maps `uid` and `gid` to themselves in the new user namespace of `pid`
/// (`setgroups` denied first, as an unprivileged map requires).
fn write_maps(pid: libc::pid_t, uid: libc::uid_t, gid: libc::gid_t) -> Result<(), String> {
    let proc = PathBuf::from(format!("/proc/{pid}"));
    let write = |name: &str, text: String| {
        std::fs::write(proc.join(name), text)
            .map_err(|e| format!("writing /proc/{pid}/{name}: {e}"))
    };
    write("setgroups", "deny".into())?;
    write("uid_map", format!("{uid} {uid} 1\n"))?;
    write("gid_map", format!("{gid} {gid} 1\n"))
}

/// The jail's init (PID 1): waits for the supervisor's go, builds the jail,
/// reports, forks the command and waits for it; exits with its status.
fn init(
    spec: &Spec,
    jail: &Jail,
    prepared: &Prepared,
    sync: [c_int; 2],
    rlimits: &[(u32, u64)],
    processes: String,
    memory: String,
) -> ! {
    // SAFETY: system calls in the freshly cloned, single-threaded child.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
        libc::close(sync[1]);
        let mut go = [0u8; 1];
        if libc::read(sync[0], go.as_mut_ptr().cast(), 1) != 1 {
            libc::_exit(127);
        }
        libc::close(sync[0]);
    }
    if spec.isolate_network
        && let Err(e) = super::loopback_up()
    {
        send_status(&Status::Failed(format!("bringing loopback up: {e}")));
        // SAFETY: ends the init.
        unsafe { libc::_exit(127) };
    }
    let mut isolation = match enter(spec, jail) {
        Ok(isolation) => isolation,
        Err(e) => {
            send_status(&Status::Failed(e));
            // SAFETY: ends the init.
            unsafe { libc::_exit(127) };
        }
    };
    isolation.processes = processes;
    isolation.memory = memory;
    send_status(&Status::Started(isolation));
    // SAFETY: fork in a single-threaded process.
    let child = unsafe { libc::fork() };
    if child < 0 {
        fail("fork");
    }
    if child == 0 {
        prepared.exec(rlimits);
    }
    // SAFETY: our copy of the status pipe; then reap every orphan until the
    // command exits.
    unsafe {
        libc::close(STATUS_FD);
        let mut status: c_int = 0;
        loop {
            let r = libc::waitpid(-1, &mut status, 0);
            if r == child {
                libc::_exit(decode_status(status));
            }
            if r < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                libc::_exit(128);
            }
        }
    }
}
