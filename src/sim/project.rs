//! The real Python project the offline (simulated) provider generates.
//!
//! This module owns four things: deriving project [`Names`] from a prompt
//! ([`names_from_prompt`]), the two design decisions the simulated team
//! argues about ([`Storage`] and [`ApiStyle`]), rendering the resulting
//! project ([`render`]) from the template files in
//! `assets/offline/templates/`, which are compiled in with `include_str!`,
//! and follow-up changes to a project that already exists ([`Feature`],
//! [`detect`], [`render_with`]).
//!
//! The generated project is small but real: a standard-library-only Python
//! 3.9+ package with a store, a JSON HTTP API, a command line and unittest
//! suites that pass. Templates use `{{name}}` placeholders; a placeholder
//! alone on a line is a block that is dropped when its value is empty.
//! Rendering is byte-for-byte deterministic.
//!
//! A follow-up session (say "add a count endpoint") reads the existing
//! project back with [`detect`], asks [`Feature::from_prompt`] what to add,
//! and renders the project again with [`render_with`] and the union of the
//! old and new features, which changes only the lines those features need.
//! Each feature has one template, `feature_ID.tmpl`, made of `@@ SLOT`
//! sections; a section is rendered like any template and fills the block
//! placeholder `{{SLOT}}` of the project templates (store methods, routes,
//! commands, README lines, tests). Without features every slot is empty, so
//! [`render_with`] gives exactly what [`render`] always gave.

use self::template::{
    CLI_PY, GITIGNORE, INIT_PY, MAIN_PY, README, SERVER_REST, SERVER_RPC, STORE_JSON, STORE_SQLITE,
    TEST_CLI, TEST_SERVER_REST, TEST_SERVER_RPC, TEST_STORE, TESTS_INIT, substitute, variables,
};

mod design;
mod detect;
mod features;
mod names;
mod template;

pub use self::design::{ApiStyle, Storage};
pub use self::detect::{Existing, detect};
pub use self::features::Feature;
pub use self::names::{Names, Resource, names_from_prompt, unbuilt};

/// One generated file; `owner` is the agent role that writes it: "pm", "backend", "frontend" or "qa".
///
/// `path` is relative to the project root with `/` separators (e.g.
/// `"url_shortener/store.py"`); `content` is UTF-8 text ending in a newline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProjectFile {
    /// Path relative to the project root, `/`-separated.
    pub path: String,
    /// The role that writes the file: "pm", "backend", "frontend" or "qa".
    pub owner: &'static str,
    /// The whole file.
    pub content: String,
}

/// Renders the whole project for `names` with the chosen decisions.
///
/// Returns 11 files sorted by path: `.gitignore` and `README.md` (pm),
/// `PKG/__init__.py`, `PKG/store.py` and `PKG/server.py` (backend),
/// `PKG/__main__.py` and `PKG/cli.py` (frontend), and `tests/__init__.py`,
/// `tests/test_cli.py`, `tests/test_server.py` and `tests/test_store.py`
/// (qa), where PKG is `names.package`.
/// The output depends only on the arguments. `names` should come from
/// [`names_from_prompt`], which guarantees identifier-safe names.
pub fn render(names: &Names, storage: Storage, api: ApiStyle) -> Vec<ProjectFile> {
    render_with(names, storage, api, &[])
}

/// [`render`] plus the given follow-up [`Feature`]s.
///
/// Returns the same 11 paths with the same owners as [`render`]; each
/// feature extends `PKG/store.py`, `PKG/server.py` (backend), `PKG/cli.py`
/// (frontend), `README.md` (pm) and `tests/test_store.py`,
/// `tests/test_server.py` and `tests/test_cli.py` (qa) with its code, its
/// documentation and its tests. The other four files never change. The
/// order and repetitions of `features` do not matter, and with no features
/// the result is exactly [`render`]'s. So rendering an existing project
/// (see [`detect`]) again with one more feature changes exactly the lines
/// that feature needs.
pub fn render_with(
    names: &Names,
    storage: Storage,
    api: ApiStyle,
    features: &[Feature],
) -> Vec<ProjectFile> {
    let mut features = features.to_vec();
    features.sort_unstable();
    features.dedup();
    let vars = variables(names, storage, api, &features);
    let pkg = &names.package;
    let store = match storage {
        Storage::Sqlite => STORE_SQLITE,
        Storage::JsonFile => STORE_JSON,
    };
    let (server, test_server) = match api {
        ApiStyle::Rest => (SERVER_REST, TEST_SERVER_REST),
        ApiStyle::Rpc => (SERVER_RPC, TEST_SERVER_RPC),
    };
    let file = |path: String, owner: &'static str, template: &str| ProjectFile {
        path,
        owner,
        content: substitute(template, &vars),
    };
    let mut files = vec![
        file(String::from("README.md"), "pm", README),
        file(String::from(".gitignore"), "pm", GITIGNORE),
        file(format!("{pkg}/__init__.py"), "backend", INIT_PY),
        file(format!("{pkg}/store.py"), "backend", store),
        file(format!("{pkg}/server.py"), "backend", server),
        file(format!("{pkg}/cli.py"), "frontend", CLI_PY),
        file(format!("{pkg}/__main__.py"), "frontend", MAIN_PY),
        file(String::from("tests/__init__.py"), "qa", TESTS_INIT),
        file(String::from("tests/test_store.py"), "qa", TEST_STORE),
        file(String::from("tests/test_server.py"), "qa", test_server),
        file(String::from("tests/test_cli.py"), "qa", TEST_CLI),
    ];
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

#[cfg(test)]
mod tests;
