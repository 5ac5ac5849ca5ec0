//! Unit tests of the generated project: names, rendering, detection and
//! follow-up features.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use super::{design::*, detect::*, features::*, names::*, template::*};
use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const URL_PROMPT: &str = "Build a URL shortener REST API with tests";
const TODO_PROMPT: &str = "Build a CLI todo app";
const ALL_COMBINATIONS: [(Storage, ApiStyle); 4] = [
    (Storage::Sqlite, ApiStyle::Rest),
    (Storage::Sqlite, ApiStyle::Rpc),
    (Storage::JsonFile, ApiStyle::Rest),
    (Storage::JsonFile, ApiStyle::Rpc),
];
const TEMPLATES: [(&str, &str); 25] = [
    ("README.md.tmpl", README),
    ("readme_rest.md.tmpl", README_REST),
    ("readme_rpc.md.tmpl", README_RPC),
    ("gitignore.tmpl", GITIGNORE),
    ("init.py.tmpl", INIT_PY),
    ("main.py.tmpl", MAIN_PY),
    ("cli.py.tmpl", CLI_PY),
    ("store_sqlite.py.tmpl", STORE_SQLITE),
    ("store_json.py.tmpl", STORE_JSON),
    ("validate_text.py.tmpl", VALIDATE_TEXT),
    ("validate_url.py.tmpl", VALIDATE_URL),
    ("server_rest.py.tmpl", SERVER_REST),
    ("server_rpc.py.tmpl", SERVER_RPC),
    ("tests_init.py.tmpl", TESTS_INIT),
    ("test_store.py.tmpl", TEST_STORE),
    ("test_store_sqlite.py.tmpl", TEST_STORE_SQLITE),
    ("test_store_json.py.tmpl", TEST_STORE_JSON),
    ("test_server_rest.py.tmpl", TEST_SERVER_REST),
    ("test_server_rpc.py.tmpl", TEST_SERVER_RPC),
    ("test_cli.py.tmpl", TEST_CLI),
    ("test_cli_rest.py.tmpl", TEST_CLI_REST),
    ("test_cli_rpc.py.tmpl", TEST_CLI_RPC),
    ("feature_clear.tmpl", FEATURE_CLEAR),
    ("feature_count.tmpl", FEATURE_COUNT),
    ("feature_search.tmpl", FEATURE_SEARCH),
];

fn resource(singular: &str, plural: &str, field: &str) -> Resource {
    Resource {
        singular: singular.into(),
        plural: plural.into(),
        field: field.into(),
    }
}

fn is_python_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[test]
fn url_shortener_prompt() {
    let names = names_from_prompt(URL_PROMPT);
    assert_eq!(names.title, "URL shortener");
    assert_eq!(names.package, "url_shortener");
    assert_eq!(names.resource, resource("link", "links", "url"));
}

#[test]
fn todo_prompt() {
    let names = names_from_prompt(TODO_PROMPT);
    assert_eq!(names.title, "Todo");
    assert_eq!(names.package, "todo");
    assert_eq!(names.resource, resource("task", "tasks", "title"));
    assert_eq!(names_from_prompt("Make a to-do list").package, "todo_list");
}

#[test]
fn empty_and_punctuation_only_prompts_fall_back() {
    for prompt in ["", "   ", "?!...", "Build a REST API with tests.", "🚀 ✨"] {
        let names = names_from_prompt(prompt);
        assert_eq!(names.title, "Items", "{prompt:?}");
        assert_eq!(names.package, "app", "{prompt:?}");
        assert_eq!(
            names.resource,
            resource("item", "items", "name"),
            "{prompt:?}"
        );
    }
}

#[test]
fn non_ascii_prompts() {
    let names = names_from_prompt("Build a Café menu API");
    assert_eq!(names.title, "Café menu");
    assert_eq!(names.package, "cafe_menu");
    let names = names_from_prompt("Écrire des notes rapides");
    assert_eq!(names.package, "ecrire_des_notes_rapides");
    assert_eq!(names.resource, resource("note", "notes", "text"));
    let names = names_from_prompt("构建一个待办事项应用");
    assert_eq!(names.title, "构建一个待办事项应用");
    assert_eq!(names.package, "app");
}

#[test]
fn punctuation_apostrophes_and_stop_words_are_dropped() {
    let names = names_from_prompt("Please write me a simple, tested recipe-box service!!!");
    assert_eq!(names.title, "Recipe box");
    assert_eq!(names.package, "recipe_box");
    let names = names_from_prompt("Build a user's bookmark manager with JSON storage");
    assert_eq!(names.title, "Users bookmark manager");
    assert_eq!(names.resource, resource("bookmark", "bookmarks", "url"));
}

#[test]
fn known_domains_shape_the_resource() {
    let cases = [
        ("Create a link tracker", ("link", "links", "url")),
        ("Build a task board", ("task", "tasks", "title")),
        ("Simple notes app", ("note", "notes", "text")),
        ("Bookmarks service", ("bookmark", "bookmarks", "url")),
        ("Write a blog engine", ("post", "posts", "title")),
        ("Build an address book", ("contact", "contacts", "name")),
        ("Contacts CLI", ("contact", "contacts", "name")),
        ("Inventory management", ("product", "products", "name")),
        ("Build a recipe box", ("item", "items", "name")),
    ];
    for (prompt, (singular, plural, field)) in cases {
        assert_eq!(
            names_from_prompt(prompt).resource,
            resource(singular, plural, field),
            "{prompt:?}"
        );
    }
}

#[test]
fn packages_never_shadow_python_names() {
    assert_eq!(names_from_prompt("Build a queue").package, "queue_app");
    assert_eq!(
        names_from_prompt("Make a string tool").package,
        "string_app"
    );
    assert_eq!(names_from_prompt("email").package, "email_app");
    assert_eq!(names_from_prompt("select").package, "select_app");
    assert_eq!(names_from_prompt("Lambda").package, "lambda_app");
    assert_eq!(
        names_from_prompt("Build a 2048 game").package,
        "app_2048_game"
    );
    assert_eq!(names_from_prompt("email sender").package, "email_sender");
    assert_eq!(
        names_from_prompt("Build an app to manage contacts").title,
        "Contacts"
    );
}

#[test]
fn titles_and_packages_are_bounded() {
    let long = "word ".repeat(50) + &"x".repeat(300);
    for prompt in [long.as_str(), &"y".repeat(500)] {
        let names = names_from_prompt(prompt);
        assert!(names.title.chars().count() <= MAX_TITLE_CHARS, "{names:?}");
        assert!(
            names.title.split(' ').count() <= MAX_TITLE_WORDS,
            "{names:?}"
        );
        assert!(names.package.len() <= MAX_PACKAGE_LEN + 4, "{names:?}");
    }
}

#[test]
fn names_are_deterministic_and_identifiers() {
    let prompts = [
        URL_PROMPT,
        TODO_PROMPT,
        "",
        "!!!",
        "Build a Café menu API",
        "123",
        "tests",
        "Make a JSON http string queue",
        "ünïcödé ñame",
        "class def return",
    ];
    for prompt in prompts {
        let names = names_from_prompt(prompt);
        assert_eq!(names, names_from_prompt(prompt));
        assert!(
            is_python_identifier(&names.package),
            "{prompt:?} -> {names:?}"
        );
        assert!(!listed(RESERVED_PACKAGES, &names.package), "{names:?}");
        assert!(!names.title.is_empty());
        for part in [
            &names.resource.singular,
            &names.resource.plural,
            &names.resource.field,
        ] {
            assert!(is_python_identifier(part), "{names:?}");
        }
    }
}

#[test]
fn options_round_trip() {
    for id in Storage::OPTIONS {
        assert_eq!(Storage::from_option(id).map(Storage::option), Some(id));
    }
    for id in ApiStyle::OPTIONS {
        assert_eq!(ApiStyle::from_option(id).map(ApiStyle::option), Some(id));
    }
    assert_eq!(Storage::from_option("postgres"), None);
    assert_eq!(ApiStyle::from_option("REST"), None);
    assert_eq!(Storage::Sqlite.option(), "sqlite");
    assert_eq!(Storage::JsonFile.option(), "json-file");
    assert_eq!(ApiStyle::Rpc.option(), "rpc");
}

#[test]
fn substitute_replaces_known_and_keeps_unknown_placeholders() {
    let vars = vec![
        ("a", String::from("1")),
        ("empty", String::new()),
        ("block", String::from("x\ny")),
    ];
    assert_eq!(substitute("{{a}}+{{a}}={{b}}\n", &vars), "1+1={{b}}\n");
    assert_eq!(
        substitute("keep {{ braces }} and {{", &vars),
        "keep {{ braces }} and {{"
    );
    assert_eq!(substitute("one\n{{empty}}\ntwo\n", &vars), "one\ntwo\n");
    assert_eq!(substitute("one\n{{block}}\ntwo", &vars), "one\nx\ny\ntwo");
    assert_eq!(substitute("  {{empty}}\n", &vars), "  \n");
    // Values are inserted verbatim, never expanded again.
    let nested = [("a", String::from("{{a}}"))];
    assert_eq!(substitute("x {{a}}", &nested), "x {{a}}");
}

#[test]
fn every_template_placeholder_is_known() {
    let names = names_from_prompt(URL_PROMPT);
    let mut known: BTreeSet<&str> =
        variables(&names, Storage::Sqlite, ApiStyle::Rest, &Feature::ALL)
            .iter()
            .map(|(name, _)| *name)
            .collect();
    // Set per feature while its sections are rendered.
    known.insert("rpc_id");
    for (file, template) in TEMPLATES {
        let mut rest = template;
        while let Some(start) = rest.find("{{") {
            let after = &rest[start + 2..];
            let end = after.find("}}").expect("unclosed placeholder");
            assert!(
                known.contains(&after[..end]),
                "{file}: unknown placeholder {{{{{}}}}}",
                &after[..end]
            );
            rest = &after[end + 2..];
        }
    }
}

#[test]
fn templates_are_tidy() {
    for (file, template) in TEMPLATES {
        assert!(template.ends_with('\n'), "{file} must end with a newline");
        for (number, line) in template.lines().enumerate() {
            assert!(!line.contains('\t'), "{file}:{} has a tab", number + 1);
            assert_eq!(
                line.trim_end(),
                line,
                "{file}:{} trailing space",
                number + 1
            );
        }
    }
}

#[test]
fn render_is_deterministic_sorted_and_complete() {
    for prompt in [URL_PROMPT, TODO_PROMPT, "", "Build a notes service"] {
        let names = names_from_prompt(prompt);
        for (storage, api) in ALL_COMBINATIONS {
            let files = render(&names, storage, api);
            assert_eq!(files, render(&names, storage, api));
            let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
            let mut sorted = paths.clone();
            sorted.sort_unstable();
            assert_eq!(paths, sorted);
            let pkg = &names.package;
            let expected = [
                ".gitignore".to_owned(),
                "README.md".to_owned(),
                format!("{pkg}/__init__.py"),
                format!("{pkg}/__main__.py"),
                format!("{pkg}/cli.py"),
                format!("{pkg}/server.py"),
                format!("{pkg}/store.py"),
                "tests/__init__.py".to_owned(),
                "tests/test_cli.py".to_owned(),
                "tests/test_server.py".to_owned(),
                "tests/test_store.py".to_owned(),
            ];
            let mut expected = expected.to_vec();
            expected.sort();
            assert_eq!(paths, expected);
            for file in &files {
                assert!(
                    ["pm", "backend", "frontend", "qa"].contains(&file.owner),
                    "{}: owner {}",
                    file.path,
                    file.owner
                );
                assert!(
                    !file.content.contains("{{"),
                    "{}: placeholder left",
                    file.path
                );
                assert!(file.content.ends_with('\n'), "{}", file.path);
                assert!(!file.content.contains("\n\n\n\n"), "{}", file.path);
                assert!(!file.content.contains("/work/"), "{}", file.path);
            }
            let owner = |path: &str| files.iter().find(|f| f.path == path).unwrap().owner;
            assert_eq!(owner("README.md"), "pm");
            assert_eq!(owner(&format!("{pkg}/store.py")), "backend");
            assert_eq!(owner(&format!("{pkg}/cli.py")), "frontend");
            assert_eq!(owner("tests/test_store.py"), "qa");
        }
    }
}

#[test]
fn render_reflects_the_decisions() {
    let names = names_from_prompt(URL_PROMPT);
    let content = |files: &[ProjectFile], path: &str| {
        files
            .iter()
            .find(|f| f.path == path)
            .unwrap()
            .content
            .clone()
    };
    let sqlite_rest = render(&names, Storage::Sqlite, ApiStyle::Rest);
    let json_rpc = render(&names, Storage::JsonFile, ApiStyle::Rpc);
    assert!(content(&sqlite_rest, "url_shortener/store.py").contains("import sqlite3"));
    assert!(content(&json_rpc, "url_shortener/store.py").contains("os.replace"));
    assert!(content(&sqlite_rest, "url_shortener/server.py").contains("\"/links\""));
    assert!(content(&json_rpc, "url_shortener/server.py").contains("-32601"));
    assert!(content(&sqlite_rest, "url_shortener/store.py").contains("URL_SHORTENER_DB"));
    let gitignore = content(&json_rpc, ".gitignore");
    assert!(gitignore.contains("__pycache__/\n") && gitignore.contains("/url_shortener.json\n"));
    let readme = content(&sqlite_rest, "README.md");
    assert!(readme.starts_with("# URL shortener\n"));
    assert!(readme.contains("python3 -m url_shortener serve --port 8000"));
    assert!(readme.contains("python3 -m unittest discover"));
    assert!(readme.contains("- Storage: SQLite"));
    assert!(readme.contains("- API: REST"));
    // A non-URL field must not require http(s).
    let todo = render(
        &names_from_prompt(TODO_PROMPT),
        Storage::Sqlite,
        ApiStyle::Rest,
    );
    assert!(!content(&todo, "todo/store.py").contains("urlsplit"));
}

mod generated;
