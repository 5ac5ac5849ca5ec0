//! `quorum init [--force] [--user]`: writes the commented example config
//! (`assets/quorum.example.toml`: every provider kind, the default roster) to
//! DIR/quorum.toml, to `--config FILE`, or with `--user` to
//! `$XDG_CONFIG_HOME/quorum/config.toml`. An existing file is kept unless
//! `--force` is given (exit 2 naming it). Never creates `DIR/.quorum/`; logs go to
//! the XDG state directory.

use std::path::PathBuf;

use crate::cli::args::Global;
use crate::cli::exit::{self, Failure};

/// The commented config `init` writes.
pub const EXAMPLE: &str = include_str!("../../assets/quorum.example.toml");

/// Where `init` writes: `--config FILE`, the user config with `--user`, else DIR/quorum.toml.
fn destination(global: &Global, user: bool) -> Result<PathBuf, Failure> {
    if let Some(path) = &global.config {
        return Ok(path.clone());
    }
    if user {
        return crate::cli::logging::xdg_config_dir()
            .map(|d| d.join("config.toml"))
            .ok_or_else(|| {
                Failure::failed("cannot find the user config directory (is HOME set?)")
            });
    }
    Ok(crate::cli::exit::target_dir(global)?.join("quorum.toml"))
}

/// Runs `init` and returns the exit code.
pub fn run(global: &Global, force: bool, user: bool) -> Result<i32, Failure> {
    let _log = crate::cli::logging::xdg_state_dir()
        .and_then(|d| crate::cli::logging::init(&d, global.verbose));
    let path = destination(global, user)?;
    if path.is_dir() {
        return Err(Failure::usage(format!(
            "{} is a directory, not a config file",
            path.display()
        )));
    }
    let existed = path.exists();
    if existed && !force {
        return Err(Failure::usage(format!(
            "{} already exists; pass --force to overwrite it",
            path.display()
        )));
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| Failure::failed(format!("cannot create {}: {e}", parent.display())))?;
    }
    std::fs::write(&path, EXAMPLE)
        .map_err(|e| Failure::failed(format!("cannot write {}: {e}", path.display())))?;
    tracing::info!(path = %path.display(), overwrote = existed, "init wrote the config");
    crate::outln!(
        "{} {}",
        if existed { "overwrote" } else { "wrote" },
        path.display()
    );
    crate::errln!(
        "every agent runs on the offline (simulated) provider; uncomment a provider to use a real model, then check with `quorum doctor`"
    );
    Ok(exit::OK)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::config::{DEFAULT_ROSTER, ProviderKind, Settings};
    use std::path::Path;

    /// The example with every commented-out TOML line (`#[table]`, `#key = …`)
    /// switched on; prose comments start with `# ` and stay.
    fn uncommented() -> String {
        EXAMPLE
            .lines()
            .map(|l| match l.strip_prefix('#') {
                Some(rest) if rest.starts_with(|c: char| c == '[' || c.is_ascii_lowercase()) => {
                    rest
                }
                _ => l,
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn the_example_runs_offline_as_written() {
        let s =
            Settings::from_toml(EXAMPLE, Path::new("/p/quorum.toml"), false, &|_| None).unwrap();
        let names: Vec<&str> = s.agents.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, DEFAULT_ROSTER);
        assert!(s.all_offline());
        assert_eq!(s.git.remote, "origin");
        assert!(crate::orchestrator::providers::build_providers(&s).is_ok());
    }

    #[test]
    fn every_commented_example_is_valid_config_with_every_kind() {
        let text = uncommented();
        let s = Settings::from_toml(&text, Path::new("/p/quorum.toml"), false, &|_| {
            Some("set".to_string())
        })
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
        for kind in [
            ProviderKind::Openai,
            ProviderKind::Anthropic,
            ProviderKind::Gemini,
            ProviderKind::Offline,
        ] {
            assert!(
                s.providers.values().any(|p| p.kind == kind),
                "no {kind:?} provider"
            );
        }
        for (name, url) in [
            ("ollama", "11434/v1"),
            ("llamacpp", "8080/v1"),
            ("vllm", "8000/v1"),
        ] {
            let p = &s.providers[name];
            assert!(p.base_url.as_deref().unwrap().ends_with(url), "{name}");
            assert_eq!(p.api_key_env, None, "{name} is keyless");
        }
        assert!(s.agent("docs").is_some());
        // Without the keys, the uncommented file names the first unset variable.
        let err =
            Settings::from_toml(&text, Path::new("/p/quorum.toml"), false, &|_| None).unwrap_err();
        assert!(err.to_string().contains("_API_KEY"), "{err}");
    }

    #[test]
    fn the_example_holds_no_key_value() {
        for line in EXAMPLE.lines() {
            assert!(!line.contains("sk-"), "{line}");
            if let Some((key, _)) = line.trim_start_matches('#').split_once('=') {
                let key = key.trim();
                assert!(
                    key == "api_key_env" || !key.contains("key"),
                    "only variable names: {line}"
                );
            }
        }
    }
}
