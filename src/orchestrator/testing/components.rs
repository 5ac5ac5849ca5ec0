//! Which components a round runs and what the agents are told of the
//! environment (docs/workflows.md, "Setup and tests"): the config's
//! commands, else the breakdown's components, else those detected from the
//! tree; the tools on this machine.

use serde_json::{Value, json};

use super::super::actor::Actor;
use crate::workspace::stack::{self, Component};

/// The tools on this machine, one line ([`stack::tools_line`]), once probed.
static TOOLS: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Probes the tools on a thread of its own (each `--version` once per
/// process, about half a second of CPU), so that prompts can name them
/// without the actor waiting, and without holding the process at its exit
/// (a runtime waits for its blocking tasks).
pub(crate) fn warm_tools() {
    if TOOLS.get().is_none() {
        let _ = std::thread::Builder::new()
            .name("quorum-tools".into())
            .spawn(|| TOOLS.get_or_init(|| stack::tools_line(stack::tools())));
    }
}

/// The `environment` input of a task: the tools and versions on this machine,
/// how tests run, and the components' exact setup and test commands when they
/// are known.
pub(crate) fn environment(components: &[Component]) -> Value {
    let mut env = json!({
        "tools": TOOLS.get().cloned().unwrap_or_else(|| "(not probed yet)".into()),
        "tests": "Each component's setup command runs first, in its root, with the network; then its test command runs in its root without the network, in a sandbox (scrubbed environment, time and memory limits). A run that executes no test fails, as does a setup that fails.",
    });
    if !components.is_empty() {
        env["components"] = json!(
            components
                .iter()
                .map(|c| json!({"name": c.name, "root": c.root, "setup": c.setup, "test": c.test}))
                .collect::<Vec<_>>()
        );
    }
    env
}

/// A component name from a reply as a slug: letters, digits, `-`, `_` and
/// `.` kept, anything else `-`, at most 40 characters; `None` when nothing is
/// left (model text names events and records).
fn slug(name: &str) -> Option<String> {
    let slug: String = name
        .trim()
        .chars()
        .take(40)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let slug = slug.trim_matches('-').to_string();
    (!slug.is_empty()).then_some(slug)
}

impl Actor {
    /// Resolves the components before qa writes the tests, so the test
    /// writer's `environment` names the commands that will run them.
    pub(crate) fn plan_components(&mut self) {
        if let Some(components) = self.components()
            && let Some(s) = self.s()
        {
            s.tests.components = components;
        }
    }

    /// The components the next round runs, or `None` while the pytest probe
    /// runs (asked again once its answer is cached). `[test] command` other
    /// than `auto` makes one component at the root; else the breakdown's
    /// components when it named any whose roots exist in the tree, else the
    /// ones detected from the tree ([`stack::detect`]). `[test] setup` other
    /// than `auto` replaces every detected setup (`""`: none).
    pub(super) fn components(&mut self) -> Option<Vec<Component>> {
        let test = self.settings.test.clone();
        let s = self.session.as_ref()?;
        let mut paths: Vec<String> = s.work.files.keys().cloned().collect();
        if let Some(files) = s.live.project.as_ref().and_then(|p| p["files"].as_array()) {
            paths.extend(files.iter().filter_map(Value::as_str).map(String::from));
        }
        paths.sort();
        paths.dedup();
        let files = &s.work.files;
        let mut probe = false;
        let pytest = || {
            stack::pytest_probed().unwrap_or_else(|| {
                probe = true;
                false
            })
        };
        let detected = stack::detect(
            &paths,
            |path: &str| files.get(path).map(|f| f.content.as_str()),
            pytest,
        );
        let planned: Vec<Component> = s
            .design
            .breakdown
            .as_ref()
            .map(|b| b.components.clone())
            .unwrap_or_default()
            .into_iter()
            .filter(|c| !c.test.trim().is_empty())
            .filter_map(|c: super::super::outputs::PlannedComponent| {
                let root = if c.root.trim().trim_matches('/').is_empty() || c.root.trim() == "." {
                    String::new()
                } else {
                    crate::workspace::paths::normalize(c.root.trim().trim_end_matches('/')).ok()?
                };
                let exists =
                    root.is_empty() || paths.iter().any(|p| p.starts_with(&format!("{root}/")));
                exists.then(|| Component {
                    name: slug(&c.name).unwrap_or_else(|| {
                        if root.is_empty() {
                            "project".into()
                        } else {
                            root.clone()
                        }
                    }),
                    manifests: detected
                        .iter()
                        .filter(|d| d.root == root)
                        .flat_map(|d| d.manifests.clone())
                        .collect(),
                    root,
                    setup: Some(c.setup.trim().to_string()).filter(|s| !s.is_empty()),
                    test: c.test.trim().to_string(),
                })
            })
            .collect();
        if probe && test.command == "auto" && planned.is_empty() {
            self.spawn_pytest_probe();
            return None;
        }
        let mut components = if test.command != "auto" {
            let setup = detected
                .iter()
                .find(|c| c.root.is_empty() && detected.len() == 1)
                .and_then(|c| c.setup.clone());
            vec![Component {
                name: "project".into(),
                root: String::new(),
                setup,
                test: test.command.clone(),
                manifests: detected.iter().flat_map(|c| c.manifests.clone()).collect(),
            }]
        } else if !planned.is_empty() {
            planned
        } else {
            detected
        };
        if test.setup != "auto" {
            let setup = Some(test.setup.trim().to_string()).filter(|s| !s.is_empty());
            for (i, c) in components.iter_mut().enumerate() {
                c.setup = if i == 0 { setup.clone() } else { None };
            }
        }
        Some(components)
    }
}

#[cfg(test)]
mod tests {
    use super::slug;

    #[test]
    fn component_names_from_replies_are_slugs() {
        assert_eq!(slug("backend").as_deref(), Some("backend"));
        assert_eq!(slug(" web app/ui ").as_deref(), Some("web-app-ui"));
        assert_eq!(slug("\u{1b}]52;c;x\u{7}api").as_deref(), Some("52-c-x-api"));
        assert_eq!(slug("  "), None);
        assert_eq!(slug(&"x".repeat(100)).map(|s| s.len()), Some(40));
    }
}
