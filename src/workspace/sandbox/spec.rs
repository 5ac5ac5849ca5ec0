//! What a sandboxed run is started with (docs/sandbox.md): its environment
//! (an allowlist, never a key), its shell, and the jail it gets — the tree it
//! may write, what is hidden, the toolchains under `$HOME` shown again, the
//! package managers' caches — as the supervisor's [`supervisor::Spec`].

#[cfg(target_os = "linux")]
use std::path::{Path, PathBuf};

#[cfg(target_os = "linux")]
use super::{Limits, Policy, jail, supervisor};

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

/// The environment a test run gets: the allowlisted variables of ours, minus
/// any that looks like a secret or is named in `scrub`, plus `CI=1` and
/// `PYTHONDONTWRITEBYTECODE=1`.
pub(super) fn sandbox_env(scrub: &[String]) -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
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

/// `$HOME`'s toolchain roots and the like, as `(variable, default under
/// $HOME)`: passed to the jail explicitly (its `$HOME` is another) and shown
/// read-only inside the hidden home.
#[cfg(target_os = "linux")]
const TOOLCHAIN_HOMES: [(&str, &str); 5] = [
    ("CARGO_HOME", ".cargo"),
    ("RUSTUP_HOME", ".rustup"),
    ("PYENV_ROOT", ".pyenv"),
    ("NVM_DIR", ".nvm"),
    ("GOPATH", "go"),
];

/// The jail's `$HOME` (inside its private `/tmp`).
#[cfg(target_os = "linux")]
const JAIL_HOME: &str = "/tmp/home";

/// The jail and environment for a run under `policy` (`setup`: the package
/// managers' caches are writable).
#[cfg(target_os = "linux")]
fn jail_for(
    cwd: &Path,
    limits: &Limits,
    policy: &Policy,
    setup: bool,
    env: &mut Vec<(std::ffi::OsString, std::ffi::OsString)>,
) -> jail::Jail {
    let home = policy
        .home
        .clone()
        .or_else(|| std::env::var_os("HOME").map(PathBuf::from))
        .filter(|h| h.is_absolute() && h != Path::new("/"));
    let mut jail = jail::Jail {
        writable: vec![policy.tree.clone().unwrap_or_else(|| cwd.to_path_buf())],
        hide: vec![PathBuf::from("/run")],
        home: PathBuf::from(JAIL_HOME),
        memory_bytes: limits.memory_bytes,
        processes: limits.extra_processes,
        ..jail::Jail::default()
    };
    if std::fs::symlink_metadata("/var/run").is_ok_and(|m| m.is_dir()) {
        jail.hide.push("/var/run".into());
    }
    jail.hide.extend(policy.hide.iter().cloned());
    // resolv.conf kept under /run (systemd-resolved) stays visible.
    if let Ok(resolv) = std::fs::canonicalize("/etc/resolv.conf")
        && (resolv.starts_with("/run") || resolv.starts_with("/var/run"))
    {
        jail.expose.push(resolv);
    }
    let set = |env: &mut Vec<(std::ffi::OsString, std::ffi::OsString)>, k: &str, v: &Path| {
        env.retain(|(name, _)| name != k);
        env.push((k.into(), v.as_os_str().to_os_string()));
    };
    if let Some(home) = &home {
        jail.hide.push(home.clone());
        for (var, default) in TOOLCHAIN_HOMES {
            let path = std::env::var_os(var)
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .unwrap_or_else(|| home.join(default));
            // Setup fills cargo's registry, as cargo would outside (a cargo
            // from the distribution has no ~/.cargo yet): it must exist to be
            // shown, writable, and to hold what the tests build from.
            if setup && var == "CARGO_HOME" {
                let _ = std::fs::create_dir_all(path.join("registry"));
                let _ = std::fs::create_dir_all(path.join("git"));
            }
            if path.is_dir() {
                set(env, var, &path);
                jail.expose.push(path.clone());
                if var == "CARGO_HOME" {
                    jail.mask.push(path.join("credentials.toml"));
                    jail.mask.push(path.join("credentials"));
                    if setup {
                        jail.writable.push(path.join("registry"));
                        jail.writable.push(path.join("git"));
                    }
                }
                if var == "GOPATH" && setup {
                    let _ = std::fs::create_dir_all(path.join("pkg"));
                    jail.writable.push(path.join("pkg"));
                }
            }
        }
        if let Some((_, path)) = env.iter().find(|(k, _)| k == "PATH") {
            for dir in std::env::split_paths(path) {
                if dir.starts_with(home) && dir.is_dir() && !jail.expose.contains(&dir) {
                    jail.expose.push(dir);
                }
            }
        }
        // The package managers' caches, kept between sessions; written by
        // setup only.
        let caches = home.join(".cache/quorum/sandbox");
        for (var, name) in [
            ("npm_config_cache", "npm"),
            ("PIP_CACHE_DIR", "pip"),
            ("GOCACHE", "go-build"),
        ] {
            let dir = caches.join(name);
            if std::fs::create_dir_all(&dir).is_ok() {
                set(env, var, &dir);
                if setup {
                    jail.writable.push(dir);
                } else {
                    jail.expose.push(dir);
                }
            }
        }
    }
    jail.writable.retain(|p| p.is_dir());
    set(env, "HOME", Path::new(JAIL_HOME));
    set(env, "TMPDIR", Path::new("/tmp"));
    jail
}

/// The supervisor's spec for a run: confined when `confine`, unconfined (the
/// person allowed it) otherwise.
#[cfg(target_os = "linux")]
#[allow(clippy::too_many_arguments)]
#[allow(clippy::unnecessary_cast)] // the resource is u32 on glibc, c_int on musl
pub(super) fn build_spec(
    cwd: &Path,
    command: &str,
    limits: &Limits,
    isolate: bool,
    scrub: &[String],
    policy: &Policy,
    setup: bool,
    confine: bool,
) -> Result<supervisor::Spec, String> {
    let mut env = sandbox_env(scrub);
    let jail = confine.then(|| jail_for(cwd, limits, policy, setup, &mut env));
    let shell = find_shell(&env);
    let mut rlimits = vec![
        (libc::RLIMIT_CPU as u32, limits.cpu_seconds),
        (libc::RLIMIT_FSIZE as u32, limits.file_bytes),
        (libc::RLIMIT_CORE as u32, 0),
        (libc::RLIMIT_DATA as u32, limits.memory_bytes),
    ];
    // Outside a user namespace RLIMIT_NPROC counts all the user's processes
    // (and does not bind root).
    // SAFETY: getuid cannot fail.
    if !confine
        && unsafe { libc::getuid() } != 0
        && let Some(now) = user_tasks()
    {
        rlimits.push((libc::RLIMIT_NPROC as u32, now + limits.extra_processes));
    }
    Ok(supervisor::Spec {
        shell,
        command: command.to_string(),
        env,
        cwd: cwd.to_path_buf(),
        rlimits,
        isolate_network: isolate,
        jail,
    })
}
