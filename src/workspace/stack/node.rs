//! Node components: a `package.json` root, its install command and the test
//! runner it uses (vitest, jest, `npm test`, `node --test`), with vitest and jest
//! configs kept outside every root attached to the component they name.

use super::*;

/// A JavaScript test runner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Runner {
    Vitest,
    Jest,
}

/// The runner a file name is a config of: `vitest.config.mjs`, `jest.config.js`, ….
pub(super) fn config_kind(file: &str) -> Option<Runner> {
    let (stem, ext) = file.rsplit_once('.')?;
    if !CONFIG_EXTENSIONS.contains(&ext) {
        return None;
    }
    match stem {
        "vitest.config" => Some(Runner::Vitest),
        "jest.config" => Some(Runner::Jest),
        _ => None,
    }
}

/// Whether `text` names `root` as a whole path segment (`../../frontend/`
/// names `frontend`, `frontend-admin` does not).
pub(super) fn names_root(text: &str, root: &str) -> bool {
    let part = |c: char| c.is_alphanumeric() || c == '-' || c == '_';
    text.match_indices(root).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + root.len()..].chars().next();
        !before.is_some_and(part) && !after.is_some_and(part)
    })
}

/// Node components, with test configs kept outside every root attached.
pub(super) fn node<'a>(
    paths: &[&str],
    content: &impl Fn(&str) -> Option<&'a str>,
) -> Vec<Component> {
    let packages = dirs_with(paths, "package.json");
    let parsed = |dir: &str| -> Option<serde_json::Value> {
        content(&join(dir, "package.json")).and_then(|c| serde_json::from_str(c).ok())
    };
    let workspaces: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|dir| parsed(dir).is_some_and(|p| p.get("workspaces").is_some()))
        .collect();
    let roots: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|dir| !workspaces.iter().any(|w| strictly_contains(w, dir)))
        .collect();
    let mut components: Vec<Component> = roots
        .iter()
        .map(|dir| component(dir, paths, &packages, &roots, &parsed))
        .collect();
    attach_outside_configs(paths, &roots, &mut components, content);
    components
}

/// The component of one package root `dir`: its test runner (vitest, jest,
/// `npm test` or `node --test`), its setup (`npm ci` with a lock file) and its
/// manifests (the nested packages' included).
fn component(
    dir: &str,
    paths: &[&str],
    packages: &[&str],
    roots: &[&str],
    parsed: &impl Fn(&str) -> Option<serde_json::Value>,
) -> Component {
    let has_config = |runner: Runner| {
        paths
            .iter()
            .any(|p| dir_of(p) == dir && config_kind(file_name(p)) == Some(runner))
    };
    let package = parsed(dir);
    let depends = |name: &str| {
        package.as_ref().is_some_and(|p| {
            ["dependencies", "devDependencies"]
                .iter()
                .any(|key| p.get(key).and_then(|d| d.get(name)).is_some())
        })
    };
    let script = package
        .as_ref()
        .and_then(|p| p.get("scripts")?.get("test")?.as_str().map(str::to_string));
    let test = if depends("vitest") || has_config(Runner::Vitest) {
        "npx vitest run"
    } else if depends("jest")
        || has_config(Runner::Jest)
        || package.as_ref().is_some_and(|p| p.get("jest").is_some())
    {
        "npx jest"
    } else if package.is_none()
        || script.is_some_and(|s| !s.contains(NPM_PLACEHOLDER) && !s.trim().is_empty())
    {
        "npm test"
    } else {
        "node --test"
    };
    let lock = join(dir, "package-lock.json");
    let locked = paths.contains(&lock.as_str());
    let mut manifests = vec![join(dir, "package.json")];
    if locked {
        manifests.push(lock);
    }
    manifests.extend(
        packages
            .iter()
            .filter(|m| strictly_contains(dir, m) && !roots.contains(m))
            .map(|m| join(m, "package.json")),
    );
    manifests.sort();
    Component {
        name: name_of(dir),
        root: dir.to_string(),
        setup: Some(
            if locked {
                "npm ci --no-audit --no-fund"
            } else {
                "npm install --no-audit --no-fund"
            }
            .into(),
        ),
        test: test.into(),
        manifests,
    }
}

/// Attaches each test config kept outside every root to the one component it
/// names (by content, by a directory named after it, or the only one), at
/// most one config per component.
fn attach_outside_configs<'a>(
    paths: &[&str],
    roots: &[&str],
    components: &mut [Component],
    content: &impl Fn(&str) -> Option<&'a str>,
) {
    let mut configured = vec![false; components.len()];
    let mut outside: Vec<&str> = paths
        .iter()
        .copied()
        .filter(|p| config_kind(file_name(p)).is_some())
        .filter(|p| !roots.iter().any(|root| is_under(p, root)))
        .collect();
    outside.sort_unstable();
    for config in outside {
        let Some(runner) = config_kind(file_name(config)) else {
            continue;
        };
        let dir = dir_of(config);
        let only = |hits: Vec<usize>| (hits.len() == 1).then(|| hits[0]);
        let by_content = content(config).and_then(|text| {
            only(
                (0..components.len())
                    .filter(|&i| names_root(text, &components[i].root))
                    .collect(),
            )
        });
        let by_name = || {
            only(
                (0..components.len())
                    .filter(|&i| dir.split('/').any(|seg| seg == components[i].name))
                    .collect(),
            )
        };
        let sole = || (components.len() == 1).then_some(0);
        let Some(i) = by_content.or_else(by_name).or_else(sole) else {
            continue;
        };
        if configured[i] {
            continue;
        }
        configured[i] = true;
        let path = format!("{}/{config}", up(&components[i].root));
        components[i].test = match runner {
            Runner::Vitest => format!("npx vitest run --config {path}"),
            Runner::Jest => format!("npx jest --config {path}"),
        };
    }
}
