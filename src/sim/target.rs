//! What the simulated team builds for a call ([`Target`]): a new project
//! shaped by the prompt and the decisions, or the features a follow-up
//! asks for added to the project it finds in DIR.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::project::{self, ApiStyle, Feature, Names, ProjectFile, Storage};
use super::replies::{decisions, prompt_of};
use crate::llm::CallMeta;
use crate::protocol::inputs::TaskInputs;

/// What the offline team builds for a call: a new project shaped by the
/// prompt and the decisions, or — when DIR already holds a project it
/// generated (the `project` input's key files, see [`project::detect`]) — the
/// features the prompt asks for ([`Feature::from_prompt`]) added to it,
/// keeping its names, storage and API.
pub(super) struct Target {
    pub(super) names: Names,
    pub(super) storage: Storage,
    pub(super) api: ApiStyle,
    /// Every feature the result has (the project's and the new ones).
    pub(super) features: Vec<Feature>,
    /// A follow-up: the project's files as they are in DIR.
    pub(super) existing: Option<BTreeMap<String, String>>,
    /// A follow-up: the features the prompt adds.
    pub(super) added: Vec<Feature>,
    /// A follow-up: some files in DIR differ from what the offline team
    /// would have generated (edited by hand); they are rewritten whole.
    pub(super) edited: Vec<String>,
}

impl Target {
    pub(super) fn of(meta: &CallMeta) -> Target {
        let prompt = prompt_of(meta);
        let files: Vec<(String, String)> = meta
            .inputs
            .as_ref()
            .and_then(TaskInputs::project)
            .map(|project| {
                project
                    .key_files
                    .iter()
                    .map(|file| (file.path.clone(), file.content.clone()))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(found) = project::detect(&files) {
            let asked = Feature::from_prompt(&prompt);
            let added: Vec<Feature> = asked
                .iter()
                .copied()
                .filter(|f| !found.features.contains(f))
                .collect();
            let mut features = found.features.clone();
            features.extend(added.iter().copied());
            features.sort_unstable();
            let on_disk: BTreeMap<String, String> = files.into_iter().collect();
            let mut expected =
                project::render_with(&found.names, found.storage, found.api, &found.features);
            keep_open_requests(&mut expected, &on_disk);
            let edited = expected
                .into_iter()
                .filter(|f| on_disk.get(&f.path).is_some_and(|c| *c != f.content))
                .map(|f| f.path)
                .collect();
            return Target {
                names: found.names,
                storage: found.storage,
                api: found.api,
                features,
                existing: Some(on_disk),
                added,
                edited,
            };
        }
        let (storage, api) = decisions(meta);
        Target {
            names: project::names_from_prompt(&prompt),
            storage,
            api,
            features: Vec::new(),
            existing: None,
            added: Vec::new(),
            edited: Vec::new(),
        }
    }

    /// The whole project as the offline team would write it now. A
    /// follow-up that asks for nothing the team can build records the
    /// request in the README instead, so the work is visible and honest.
    pub(super) fn files(&self, prompt: &str) -> Vec<ProjectFile> {
        let mut files = project::render_with(&self.names, self.storage, self.api, &self.features);
        if let Some(existing) = &self.existing {
            keep_open_requests(&mut files, existing);
            if self.added.is_empty()
                && let Some(readme) = files.iter_mut().find(|f| f.path == "README.md")
            {
                if !readme.content.contains(OPEN_REQUESTS) {
                    readme.content.push_str(OPEN_REQUESTS);
                }
                let _ = writeln!(
                    readme.content,
                    "- {} (not done: the offline (simulated) team can only add {})",
                    prompt.trim().lines().next().unwrap_or(""),
                    Feature::ALL.map(Feature::id).join(", ")
                );
            }
        }
        files
    }

    /// The files that differ from DIR: all of them for a new project.
    pub(super) fn changed(&self, prompt: &str) -> Vec<ProjectFile> {
        self.files(prompt)
            .into_iter()
            .filter(|f| {
                self.existing
                    .as_ref()
                    .is_none_or(|e| e.get(&f.path) != Some(&f.content))
            })
            .collect()
    }
}

/// The README section where follow-ups the offline team cannot build are
/// recorded.
const OPEN_REQUESTS: &str = "\n## Open requests\n\n";

/// Carries the open requests recorded in DIR's README over to the rendered
/// README (they stay until someone deletes them).
fn keep_open_requests(files: &mut [ProjectFile], existing: &BTreeMap<String, String>) {
    let Some(section) = existing
        .get("README.md")
        .and_then(|old| old.find(OPEN_REQUESTS).map(|i| &old[i..]))
    else {
        return;
    };
    if let Some(readme) = files.iter_mut().find(|f| f.path == "README.md") {
        let mut content = readme.content.trim_end().to_string();
        content.push('\n');
        content.push_str(section.trim_end());
        content.push('\n');
        readme.content = content;
    }
}
