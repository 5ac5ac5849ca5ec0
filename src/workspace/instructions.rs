//! The project's own instruction files (docs/design.md §1, "Project
//! instructions"): `AGENTS.md` at DIR's root and in its subdirectories, each
//! applying to its subtree (the convention of Codex and opencode); in a
//! directory without one, its `CLAUDE.md`, else its `CONVENTIONS.md`; and
//! `.github/copilot-instructions.md` for the whole project when the root has
//! no `AGENTS.md`. Found by the repository map's walk (so `.git/`, the state
//! directory and what `.gitignore` ignores are skipped), read through the path
//! rules ([`paths::read_confined`]) and cut at [`INSTRUCTIONS_MAX_BYTES`] each.

use std::collections::BTreeMap;
use std::path::Path;

use super::paths;
use super::repomap::walk;
use crate::protocol::inputs::Instruction;

/// Largest part of one instruction file given to the agents, in bytes: Codex's
/// default `project_doc_max_bytes` (32 KiB). The rest is cut with a note.
pub const INSTRUCTIONS_MAX_BYTES: usize = 32 * 1024;

/// Most instruction files read: one per directory, so a monorepo's dozens fit.
pub const INSTRUCTIONS_MAX_FILES: usize = 64;

/// The names read in a directory, the first present winning.
const NAMES: [&str; 3] = ["AGENTS.md", "CLAUDE.md", "CONVENTIONS.md"];

/// GitHub Copilot's repository instructions, read when the root has no `AGENTS.md`.
const COPILOT: &str = ".github/copilot-instructions.md";

/// The instruction files under `dir` (state directory `state` skipped), the
/// root's first, then by depth and path. A file that is not UTF-8 is read
/// lossily; one that cannot be read (a symlink, say) is left out.
pub fn read(dir: &Path, state: &Path) -> Vec<Instruction> {
    let files = walk(dir, state);
    let present: std::collections::BTreeSet<&str> =
        files.iter().map(|(path, _)| path.as_str()).collect();
    // Directory → its instruction file (the first of NAMES present).
    let mut chosen: BTreeMap<String, String> = BTreeMap::new();
    for (path, _) in &files {
        let (parent, name) = match path.rsplit_once('/') {
            Some((parent, name)) => (parent.to_string(), name),
            None => (String::new(), path.as_str()),
        };
        let Some(rank) = NAMES.iter().position(|n| *n == name) else {
            continue;
        };
        let better = chosen.get(&parent).is_none_or(|current| {
            let current = current.rsplit('/').next().unwrap_or(current);
            NAMES
                .iter()
                .position(|n| *n == current)
                .unwrap_or(usize::MAX)
                > rank
        });
        if better {
            chosen.insert(parent, path.clone());
        }
    }
    let mut found: Vec<(String, String)> =
        chosen.into_iter().map(|(dir, path)| (path, dir)).collect();
    if !present.contains("AGENTS.md") && present.contains(COPILOT) {
        found.push((COPILOT.to_string(), String::new()));
    }
    found.sort_by(|(a, da), (b, db)| {
        let depth = |d: &str| {
            if d.is_empty() {
                0
            } else {
                d.matches('/').count() + 1
            }
        };
        (depth(da), da, a).cmp(&(depth(db), db, b))
    });
    found.truncate(INSTRUCTIONS_MAX_FILES);
    found
        .into_iter()
        .filter_map(|(path, applies_to)| {
            let bytes = paths::read_confined(dir, &path).ok()??;
            Some(Instruction {
                text: cut(&bytes, INSTRUCTIONS_MAX_BYTES),
                path,
                applies_to,
            })
        })
        .collect()
}

/// `bytes` as text, cut at `max` bytes (on a character boundary) with a note
/// naming how many were left out.
fn cut(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    if text.len() <= max {
        return text.into_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}\n(cut: the last {} of {} bytes were left out)",
        &text[..end],
        text.len() - end,
        text.len()
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, text: &str) {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn agents_md_wins_per_directory_and_nested_ones_apply_to_their_subtree() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write(d, "AGENTS.md", "use tabs\n");
        write(d, "CLAUDE.md", "shadowed by AGENTS.md\n");
        write(
            d,
            ".github/copilot-instructions.md",
            "not read: AGENTS.md exists\n",
        );
        write(d, "web/CLAUDE.md", "web rules\n");
        write(d, "web/CONVENTIONS.md", "shadowed by CLAUDE.md\n");
        write(d, "api/v1/CONVENTIONS.md", "api rules\n");
        write(d, "ignored/AGENTS.md", "never read\n");
        write(d, ".gitignore", "ignored/\n");
        write(d, ".quorum/AGENTS.md", "state, never read\n");
        let read = read(d, &d.join(".quorum"));
        let got: Vec<(&str, &str)> = read
            .iter()
            .map(|i| (i.path.as_str(), i.applies_to.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("AGENTS.md", ""),
                ("web/CLAUDE.md", "web"),
                ("api/v1/CONVENTIONS.md", "api/v1"),
            ]
        );
        assert_eq!(read[0].text, "use tabs\n");
    }

    #[test]
    fn copilot_instructions_stand_in_for_a_missing_root_agents_md_and_long_files_are_cut() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write(d, ".github/copilot-instructions.md", "copilot rules\n");
        write(d, "CLAUDE.md", &"é".repeat(INSTRUCTIONS_MAX_BYTES));
        let read = read(d, &d.join(".quorum"));
        assert_eq!(read.len(), 2);
        assert_eq!(read[0].path, ".github/copilot-instructions.md");
        assert_eq!(read[0].applies_to, "");
        assert_eq!(read[1].path, "CLAUDE.md");
        assert!(
            read[1].text.ends_with(&format!(
                "(cut: the last {} of {} bytes were left out)",
                INSTRUCTIONS_MAX_BYTES,
                2 * INSTRUCTIONS_MAX_BYTES
            )),
            "{}",
            &read[1].text[read[1].text.len() - 80..]
        );
        assert!(read[1].text.len() < INSTRUCTIONS_MAX_BYTES + 100);
    }
}
