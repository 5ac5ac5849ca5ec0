//! The project's templates (compiled in from `assets/offline/templates/`)
//! and how they are filled: the variables of a project, block
//! placeholders, feature sections and the small text helpers they use.

use super::features::feature_variables;
use super::names::capitalize;
use super::{ApiStyle, Feature, Names, Storage};

pub(super) const README: &str = include_str!("../../../assets/offline/templates/README.md.tmpl");
pub(super) const README_REST: &str =
    include_str!("../../../assets/offline/templates/readme_rest.md.tmpl");
pub(super) const README_RPC: &str =
    include_str!("../../../assets/offline/templates/readme_rpc.md.tmpl");
pub(super) const GITIGNORE: &str = include_str!("../../../assets/offline/templates/gitignore.tmpl");
pub(super) const INIT_PY: &str = include_str!("../../../assets/offline/templates/init.py.tmpl");
pub(super) const MAIN_PY: &str = include_str!("../../../assets/offline/templates/main.py.tmpl");
pub(super) const CLI_PY: &str = include_str!("../../../assets/offline/templates/cli.py.tmpl");
pub(super) const STORE_SQLITE: &str =
    include_str!("../../../assets/offline/templates/store_sqlite.py.tmpl");
pub(super) const STORE_JSON: &str =
    include_str!("../../../assets/offline/templates/store_json.py.tmpl");
pub(super) const VALIDATE_TEXT: &str =
    include_str!("../../../assets/offline/templates/validate_text.py.tmpl");
pub(super) const VALIDATE_URL: &str =
    include_str!("../../../assets/offline/templates/validate_url.py.tmpl");
pub(super) const SERVER_REST: &str =
    include_str!("../../../assets/offline/templates/server_rest.py.tmpl");
pub(super) const SERVER_RPC: &str =
    include_str!("../../../assets/offline/templates/server_rpc.py.tmpl");
pub(super) const TESTS_INIT: &str =
    include_str!("../../../assets/offline/templates/tests_init.py.tmpl");
pub(super) const TEST_STORE: &str =
    include_str!("../../../assets/offline/templates/test_store.py.tmpl");
pub(super) const TEST_STORE_SQLITE: &str =
    include_str!("../../../assets/offline/templates/test_store_sqlite.py.tmpl");
pub(super) const TEST_STORE_JSON: &str =
    include_str!("../../../assets/offline/templates/test_store_json.py.tmpl");
pub(super) const TEST_SERVER_REST: &str =
    include_str!("../../../assets/offline/templates/test_server_rest.py.tmpl");
pub(super) const TEST_SERVER_RPC: &str =
    include_str!("../../../assets/offline/templates/test_server_rpc.py.tmpl");
pub(super) const TEST_CLI: &str =
    include_str!("../../../assets/offline/templates/test_cli.py.tmpl");
pub(super) const TEST_CLI_REST: &str =
    include_str!("../../../assets/offline/templates/test_cli_rest.py.tmpl");
pub(super) const TEST_CLI_RPC: &str =
    include_str!("../../../assets/offline/templates/test_cli_rpc.py.tmpl");
pub(super) const FEATURE_CLEAR: &str =
    include_str!("../../../assets/offline/templates/feature_clear.tmpl");
pub(super) const FEATURE_COUNT: &str =
    include_str!("../../../assets/offline/templates/feature_count.tmpl");
pub(super) const FEATURE_SEARCH: &str =
    include_str!("../../../assets/offline/templates/feature_search.tmpl");

/// The block placeholders a feature template fills: each `@@ SLOT` section
/// of a feature template is rendered into the `{{SLOT}}` line of the
/// project templates, after the sections of the features before it.
pub(super) const FEATURE_SLOTS: [&str; 20] = [
    "sqlite_features",
    "json_features",
    "rest_doc",
    "rest_get_collection",
    "rest_collection",
    "rest_routes",
    "rpc_doc",
    "rpc_functions",
    "cli_doc",
    "cli_parsers",
    "cli_functions",
    "readme_cli",
    "readme_rest",
    "readme_rpc",
    "test_store_memory",
    "test_store_file",
    "test_rest",
    "test_rpc_invalid_params",
    "test_rpc",
    "test_cli",
];

/// The first JSON-RPC request id the README examples of features use (the
/// base README uses 1 to 4).
pub(super) const FIRST_FEATURE_RPC_ID: usize = 5;

/// Longest line the generated Python statements that grow with the features
/// keep on one line before they are wrapped.
pub(super) const MAX_PYTHON_LINE: usize = 100;

/// Every placeholder value for one project: plain names first, then what
/// the `features` (sorted, without repetitions) add, then blocks rendered
/// from fragment templates with all of those.
pub(super) fn variables(
    names: &Names,
    storage: Storage,
    api: ApiStyle,
    features: &[Feature],
) -> Vec<(&'static str, String)> {
    let resource = &names.resource;
    let is_url = resource.field == "url";
    let (default_ext, storage_label) = match storage {
        Storage::Sqlite => (".db", "SQLite"),
        Storage::JsonFile => (".json", "a JSON file"),
    };
    // Search terms for the samples: both match `search_both`; only
    // sample_b matches "SECOND" and the URL-encoded `search_query`.
    let (search_both, search_query) = if is_url {
        (
            String::from("example"),
            String::from("EXAMPLE.ORG%2FSECOND"),
        )
    } else {
        (
            resource.singular.clone(),
            format!("SECOND%20{}", resource.singular.to_ascii_uppercase()),
        )
    };
    let (sample_a, sample_b, invalid_sample) = if is_url {
        (
            String::from("https://example.com/first"),
            String::from("https://example.org/second"),
            String::from("ftp://example.com/file"),
        )
    } else {
        (
            format!("First {}", resource.singular),
            format!("Second {}", resource.singular),
            // A Python escape: the value holds a newline, which is refused.
            String::from("two\\nlines"),
        )
    };
    let mut vars: Vec<(&'static str, String)> = vec![
        ("title", names.title.clone()),
        ("package", names.package.clone()),
        ("PACKAGE_UPPER", names.package.to_ascii_uppercase()),
        ("singular", resource.singular.clone()),
        ("Singular", capitalize(&resource.singular)),
        ("plural", resource.plural.clone()),
        ("Plural", capitalize(&resource.plural)),
        ("field", resource.field.clone()),
        ("sample_a", sample_a),
        ("sample_b", sample_b),
        ("invalid_sample", invalid_sample),
        ("search_both", search_both),
        ("search_query", search_query),
        ("data_ext", String::from(default_ext)),
        ("default_file", format!("{}{default_ext}", names.package)),
        ("storage_label", String::from(storage_label)),
        (
            "api_label",
            String::from(match api {
                ApiStyle::Rest => "REST",
                ApiStyle::Rpc => "JSON-RPC 2.0",
            }),
        ),
        (
            "validate_imports",
            String::from(if is_url {
                "from urllib.parse import urlsplit"
            } else {
                ""
            }),
        ),
    ];
    vars.extend(feature_variables(&vars, features));
    let blocks = blocks(storage, api, is_url);
    let rendered: Vec<(&'static str, String)> = blocks
        .iter()
        .map(|(name, template)| (*name, substitute(template, &vars)))
        .collect();
    vars.extend(rendered);
    vars
}

/// The placeholders filled from fragment templates (rendered with the
/// plain variables): name → template, by storage, API style and whether
/// the resource is a URL.
fn blocks(storage: Storage, api: ApiStyle, is_url: bool) -> [(&'static str, &'static str); 7] {
    [
        (
            "validate_fn",
            if is_url { VALIDATE_URL } else { VALIDATE_TEXT },
        ),
        (
            "storage_tests",
            match storage {
                Storage::Sqlite => TEST_STORE_SQLITE,
                Storage::JsonFile => TEST_STORE_JSON,
            },
        ),
        (
            "storage_decision",
            match storage {
                Storage::Sqlite => {
                    "SQLite through the standard `sqlite3` module, one `{{plural}}` table in \
                     `{{default_file}}`: transactional, safe to share between threads, and ids \
                     are never reused."
                }
                Storage::JsonFile => {
                    "one JSON file, `{{default_file}}`, rewritten atomically (temporary file + \
                     `os.replace`) on every change: human-readable and needs no database."
                }
            },
        ),
        (
            "data_ignores",
            match storage {
                Storage::Sqlite => {
                    "/{{default_file}}\n/{{default_file}}-journal\n/{{default_file}}-wal\n/{{default_file}}-shm"
                }
                Storage::JsonFile => "/{{default_file}}\n/.{{default_file}}.*.tmp",
            },
        ),
        (
            "api_decision",
            match api {
                ApiStyle::Rest => {
                    "REST, one resource at `/{{plural}}` with plain HTTP status codes \
                     (201, 204, 400, 404, 405) and `{\"error\": \"...\"}` bodies."
                }
                ApiStyle::Rpc => {
                    "JSON-RPC 2.0 at `POST /rpc` with the methods {{rpc_method_list}}: one \
                     endpoint, standard error codes plus -32001 for an unknown id."
                }
            },
        ),
        (
            "readme_api",
            match api {
                ApiStyle::Rest => README_REST,
                ApiStyle::Rpc => README_RPC,
            },
        ),
        (
            "cli_fetch_all",
            match api {
                ApiStyle::Rest => TEST_CLI_REST,
                ApiStyle::Rpc => TEST_CLI_RPC,
            },
        ),
    ]
}

/// The section `@@ slot` of a feature template: the lines after that
/// marker up to the next `@@ ` line, leading blank lines kept and trailing
/// ones dropped; empty when the template has no such section.
pub(super) fn section<'a>(template: &'a str, slot: &str) -> &'a str {
    let mut start = None;
    let mut offset = 0;
    for line in template.split_inclusive('\n') {
        let bare = line.strip_suffix('\n').unwrap_or(line);
        if let Some(name) = bare.strip_prefix("@@ ") {
            if let Some(begin) = start {
                return trim_trailing_blank_lines(&template[begin..offset]);
            }
            if name == slot {
                start = Some(offset + line.len());
            }
        }
        offset += line.len();
    }
    start.map_or("", |begin| trim_trailing_blank_lines(&template[begin..]))
}

/// `text` without its trailing blank lines, still ending with a newline;
/// empty if it is all blank.
pub(super) fn trim_trailing_blank_lines(text: &str) -> &str {
    let kept = text.trim_end_matches('\n').len();
    if text[..kept].trim().is_empty() {
        ""
    } else {
        &text[..(kept + 1).min(text.len())]
    }
}

/// The words in backticks, joined with commas and a final "and":
/// `` `a`, `b` and `c` ``.
pub(super) fn english_list(words: &[&str]) -> String {
    let quoted: Vec<String> = words.iter().map(|word| format!("`{word}`")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

/// A Python dictionary `NAME = {"key": _key, ...}` mapping each key to the
/// function of the same name with a leading underscore: on one line if it
/// fits in [`MAX_PYTHON_LINE`] characters, else one entry per line.
pub(super) fn python_dict(name: &str, keys: &[&str]) -> String {
    let entries: Vec<String> = keys
        .iter()
        .map(|key| format!("\"{key}\": _{key}"))
        .collect();
    let line = format!("{name} = {{{}}}", entries.join(", "));
    if line.len() <= MAX_PYTHON_LINE {
        return line;
    }
    let lines: String = entries
        .iter()
        .map(|entry| format!("    {entry},\n"))
        .collect();
    format!("{name} = {{\n{lines}}}")
}

/// Replaces each `{{name}}` in `template` with its value from `vars`.
///
/// A line holding nothing but a known `{{name}}` is a block: it becomes the
/// value followed by a newline, or disappears when the value is empty.
/// Unknown placeholders are left in place (tests catch them). Values are
/// inserted verbatim, never substituted again.
pub(super) fn substitute(template: &str, vars: &[(&'static str, String)]) -> String {
    let lookup = |name: &str| {
        vars.iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.as_str())
    };
    let mut out = String::with_capacity(template.len() + template.len() / 4);
    for line in template.split_inclusive('\n') {
        let bare = line.strip_suffix('\n').unwrap_or(line);
        let block = bare
            .strip_prefix("{{")
            .and_then(|rest| rest.strip_suffix("}}"))
            .and_then(lookup);
        if let Some(value) = block {
            if !value.is_empty() {
                out.push_str(value);
                if !value.ends_with('\n') {
                    out.push('\n');
                }
            }
            continue;
        }
        let mut rest = line;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let value = after
                .find("}}")
                .and_then(|end| lookup(&after[..end]).map(|value| (end, value)));
            match value {
                Some((end, value)) => {
                    out.push_str(value);
                    rest = &after[end + 2..];
                }
                None => {
                    out.push_str("{{");
                    rest = after;
                }
            }
        }
        out.push_str(rest);
    }
    out
}
