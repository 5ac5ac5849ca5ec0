//! `quorum memory [AGENT] [--set FILE | --clear]`: shows or replaces the notes
//! each agent keeps for DIR across sessions (see
//! [`crate::orchestrator::memory`]). One agent's notes print as they are, so
//! `quorum memory backend > notes.txt`, an edit, and `quorum memory backend
//! --set notes.txt` round-trip; `--set -` reads stdin. Notes are written
//! by models: they are printed through the sanitiser
//! ([`crate::sanitize::text`]), so a control character in them shows as
//! `^[`-style text (and would round-trip as that text).

use std::io::Read as _;
use std::path::Path;

use crate::cli::args::Global;
use crate::cli::exit::Failure;
use crate::config::{LoadOptions, Settings};
use crate::orchestrator::memory::merge_notes;
use crate::protocol::MEMORY_MAX_BYTES;
use crate::store::{Store, Write};
use crate::workspace::state_dir::StateDir;

use crate::cli::exit::db;

/// The roster's agent names, from the config (no provider key needed).
fn roster(global: &Global, dir: &Path) -> Result<Vec<String>, Failure> {
    let options = LoadOptions {
        config: global.config.clone(),
        dir: dir.to_path_buf(),
        offline: true,
        user_config_dir: crate::cli::logging::xdg_config_dir(),
    };
    let settings =
        Settings::load(&options, &|_| None).map_err(|e| Failure::usage(e.to_string()))?;
    Ok(settings.agents.iter().map(|a| a.name.clone()).collect())
}

/// Reads the new notes from FILE, or stdin for `-`.
fn read_notes(file: &Path) -> Result<String, Failure> {
    let bytes = if file == Path::new("-") {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| Failure::failed(format!("cannot read the notes from stdin: {e}")))?;
        buf
    } else {
        std::fs::read(file)
            .map_err(|e| Failure::usage(format!("--set {}: cannot read it: {e}", file.display())))?
    };
    let text = String::from_utf8(bytes).map_err(|_| {
        Failure::usage(format!(
            "--set {}: the notes are not UTF-8 text",
            file.display()
        ))
    })?;
    if text.len() > MEMORY_MAX_BYTES {
        return Err(Failure::usage(format!(
            "--set {}: {} bytes of notes; at most {MEMORY_MAX_BYTES} fit in an agent's prompts",
            file.display(),
            text.len()
        )));
    }
    Ok(text)
}

/// Runs `memory` and returns the exit code.
pub fn run(
    global: &Global,
    agent: Option<&str>,
    set: Option<&Path>,
    clear: bool,
) -> Result<i32, Failure> {
    let dir = crate::cli::exit::target_dir(global)?;
    let roster = roster(global, &dir)?;
    if let Some(agent) = agent
        && !roster.iter().any(|a| a == agent)
    {
        return Err(Failure::usage(format!(
            "no agent `{agent}` in the roster ({})",
            roster.join(", ")
        )));
    }
    let key = dir.display().to_string();
    let location = StateDir::location(&dir, global.state_dir.as_deref());
    if let (Some(agent), true) = (agent, set.is_some() || clear) {
        let notes = match set {
            Some(file) => merge_notes(&read_notes(file)?, &[], MEMORY_MAX_BYTES),
            None => String::new(),
        };
        let state = StateDir::open(&location)?;
        let store = Store::open(&state.db_path()).map_err(crate::cli::exit::store_failure)?;
        store
            .apply(&[Write::Memory {
                dir: key,
                agent: agent.to_string(),
                notes: notes.clone(),
            }])
            .and_then(|()| store.flush().map(|_| ()))
            .map_err(db)?;
        crate::errln!(
            "{agent}: {}",
            if notes.is_empty() {
                "notes cleared".to_string()
            } else {
                format!("{} line(s) stored", notes.lines().count())
            }
        );
        return Ok(0);
    }
    let memories = match crate::cli::setup::open_existing(global)? {
        Some(opened) => opened.store.memories(&key).map_err(db)?,
        None => Default::default(),
    };
    let mut text = String::new();
    match agent {
        Some(agent) => text.push_str(memories.get(agent).map(String::as_str).unwrap_or("")),
        None => {
            for agent in &roster {
                match memories.get(agent) {
                    Some(notes) => text.push_str(&format!("## {agent}\n\n{notes}\n")),
                    None => text.push_str(&format!("## {agent}\n\n(no notes)\n\n")),
                }
            }
        }
    }
    crate::out!("{}", crate::sanitize::text(&text));
    Ok(0)
}
