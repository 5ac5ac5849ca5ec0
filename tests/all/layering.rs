//! The shape of `src/` as a test (docs/architecture.md, "Floors"): every
//! `crate::` import goes to the importer's own floor or a lower one, no file
//! holds more than 800 lines of code before its tests (600 in
//! `orchestrator/`), and no struct has more than 20 fields. The checks read
//! the sources as text; each has a test of its own below that shows it failing
//! on a bad input.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// The floors, lowest first: a module may import from its own floor or a lower
/// one. Leaf utilities (floor 0) import nothing of quorum above them.
const FLOORS: &[&[&str]] = &[
    &["output", "sanitize"],
    &["protocol"],
    &["config", "notify", "secrets", "store", "workspace"],
    &["llm"],
    &["sim"],
    &["orchestrator"],
    &["tui", "headless", "server"],
    &["cli"],
    &["commands"],
];

/// The frontends speak `Op`/`Event` over channels (docs/design.md §4): below
/// their floor they may not reach the engine, the transport or the simulated
/// team, only the vocabulary and the local resources.
const FRONTENDS: &[&str] = &["tui", "headless", "server"];
/// What a frontend may not import although it is on a lower floor.
const BEHIND_THE_CHANNELS: &[&str] = &["orchestrator", "llm", "sim"];

/// Lines of code before a file's tests, at most.
const MAX_LINES: usize = 800;
/// The same for files under `src/orchestrator/`.
const MAX_LINES_ORCHESTRATOR: usize = 600;
/// Fields of one struct, at most.
const MAX_FIELDS: usize = 20;

/// The floor of a top-level module, `None` for `lib`/`main` (above every floor).
fn floor(module: &str) -> Option<usize> {
    FLOORS.iter().position(|f| f.contains(&module))
}

/// Every `.rs` file under `dir`, sorted.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The top-level module a file belongs to: `src/tui/app.rs` → `tui`,
/// `src/headless.rs` → `headless`.
fn module_of(relative: &Path) -> String {
    let first = relative.components().next().unwrap();
    let name = first.as_os_str().to_string_lossy();
    name.trim_end_matches(".rs").to_string()
}

/// The text with `//` comments (doc comments included) and string literals'
/// contents removed, so a path named in prose or in a string is not an import.
fn code_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let mut kept = String::new();
        let mut in_string = false;
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            if in_string {
                if c == '\\' {
                    chars.next();
                } else if c == '"' {
                    in_string = false;
                    kept.push('"');
                }
                continue;
            }
            if c == '/' && chars.peek() == Some(&'/') {
                break;
            }
            if c == '"' {
                in_string = true;
            }
            kept.push(c);
        }
        out.push_str(&kept);
        out.push('\n');
    }
    out
}

/// The top-level modules a source names through `crate::`: `crate::llm::X`
/// and each first name inside `use crate::{a::X, b}`.
fn imports(text: &str) -> BTreeSet<String> {
    let code = code_only(text);
    let mut out = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().last();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // e.g. `$crate::` in a macro or `quorum_crate::`
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut item = String::new();
            let mut at_start = true;
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    break;
                }
                if depth == 1 && c == ',' {
                    at_start = true;
                    continue;
                }
                if at_start && (c.is_alphanumeric() || c == '_') {
                    item.push(c);
                } else if at_start && !item.is_empty() {
                    out.insert(std::mem::take(&mut item));
                    at_start = false;
                }
            }
            if !item.is_empty() {
                out.insert(item);
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            // `crate::outln!` is a macro at the crate's root, not a module.
            let is_macro = rest[name.len()..].starts_with('!');
            if !name.is_empty() && !is_macro {
                out.insert(name);
            }
        }
    }
    out
}

/// Each import of `text` (a file of module `module`) that breaks the layering,
/// as `"module → target"`: one that goes up a floor, or a frontend's import of
/// what lies behind the channels.
fn upward(module: &str, text: &str) -> Vec<String> {
    let Some(own) = floor(module) else {
        return Vec::new();
    };
    let frontend = FRONTENDS.contains(&module);
    imports(text)
        .into_iter()
        .filter(|target| {
            // A name with no floor is an alias at the crate's root, which
            // would hide where the import really goes.
            floor(target).is_none_or(|f| f > own)
                || (frontend && BEHIND_THE_CHANNELS.contains(&target.as_str()))
        })
        .map(|target| format!("{module} → {target}"))
        .collect()
}

/// Lines before the file's first column-0 `#[cfg(test)]`; a file that is a
/// test module itself (`tests.rs`, or under a `tests/` folder) counts 0.
fn code_lines(relative: &Path, text: &str) -> usize {
    let is_test_file = relative.file_name().is_some_and(|n| n == "tests.rs")
        || relative.components().any(|c| c.as_os_str() == "tests");
    if is_test_file {
        return 0;
    }
    text.lines()
        .take_while(|line| !line.starts_with("#[cfg(test)]"))
        .count()
}

/// Each struct of `text` with more than [`MAX_FIELDS`] named fields, as
/// `"Name (N fields)"`. A field is a line at the struct's top level that
/// starts with an optional `pub`/`pub(…)` and `name:`.
fn wide_structs(text: &str) -> Vec<String> {
    let code = code_only(text);
    let mut out = Vec::new();
    let mut lines = code.lines();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        let decl = trimmed
            .strip_prefix("pub(crate) struct ")
            .or_else(|| trimmed.strip_prefix("pub(super) struct "))
            .or_else(|| trimmed.strip_prefix("pub struct "))
            .or_else(|| trimmed.strip_prefix("struct "));
        let Some(decl) = decl else { continue };
        if !decl.trim_end().ends_with('{') {
            continue; // a tuple or unit struct, or a brace on the next line
        }
        let name: String = decl
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let mut depth: i64 = 1;
        let mut fields = 0;
        for body in lines.by_ref() {
            if depth == 1 && is_field(body) {
                fields += 1;
            }
            depth += body.matches(['{', '(', '[']).count() as i64;
            depth -= body.matches(['}', ')', ']']).count() as i64;
            if depth <= 0 {
                break;
            }
        }
        if fields > MAX_FIELDS {
            out.push(format!("{name} ({fields} fields)"));
        }
    }
    out
}

/// Whether a line inside a struct's braces declares a named field.
fn is_field(line: &str) -> bool {
    let mut rest = line.trim_start();
    if let Some(after) = rest.strip_prefix("pub") {
        rest = after.trim_start();
        if let Some(after) = rest.strip_prefix('(') {
            let Some(close) = after.find(')') else {
                return false;
            };
            rest = after[close + 1..].trim_start();
        }
    }
    let name: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    !name.is_empty()
        && rest[name.len()..].trim_start().starts_with(':')
        && !rest[name.len()..].trim_start().starts_with("::")
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn no_module_imports_from_a_higher_floor() {
    let root = src();
    let mut found = Vec::new();
    for path in sources(&root) {
        let relative = path.strip_prefix(&root).unwrap();
        let module = module_of(relative);
        let text = fs::read_to_string(&path).unwrap();
        for hit in upward(&module, &text) {
            found.push(format!("{}: {hit}", relative.display()));
        }
    }
    assert!(
        found.is_empty(),
        "imports that go up a floor (docs/architecture.md):\n{}",
        found.join("\n")
    );
}

#[test]
fn every_top_level_module_has_a_floor() {
    let root = src();
    let mut unplaced = BTreeSet::new();
    for path in sources(&root) {
        let module = module_of(path.strip_prefix(&root).unwrap());
        if floor(&module).is_none() && module != "lib" && module != "main" {
            unplaced.insert(module);
        }
    }
    assert!(
        unplaced.is_empty(),
        "modules with no floor in FLOORS (add them here and to docs/architecture.md): {unplaced:?}"
    );
}

#[test]
fn an_upward_import_is_found_in_each_form() {
    // The check itself: these sources would break the rule, and each is caught.
    let plain = "use crate::orchestrator::outputs::schema_for;\n";
    assert_eq!(upward("llm", plain), ["llm → orchestrator"]);
    let grouped = "use crate::{\n    protocol::Op,\n    orchestrator::OrchestratorHandle,\n};\n";
    assert_eq!(upward("tui", grouped), ["tui → orchestrator"]);
    let inline = "let x = crate::commands::run(args);\ncrate::errln!(\"{x}\");\n";
    assert_eq!(upward("cli", inline), ["cli → commands"]);
    // Downward and same-floor imports, prose and strings are not imports up.
    let fine = "use crate::protocol::Event;\nuse crate::headless::Progress;\n\
                /// crate::commands in a doc comment\nlet s = \"crate::tui\";\n";
    assert!(upward("tui", fine).is_empty(), "{:?}", upward("tui", fine));
    assert_eq!(
        upward("headless", "use crate::llm::Usage;\n"),
        ["headless → llm"],
        "a frontend reaches the transport only through the channels"
    );
}

#[test]
fn no_file_is_over_its_line_limit() {
    let root = src();
    let mut over = Vec::new();
    for path in sources(&root) {
        let relative = path.strip_prefix(&root).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        let limit = if relative.starts_with("orchestrator") {
            MAX_LINES_ORCHESTRATOR
        } else {
            MAX_LINES
        };
        let lines = code_lines(relative, &text);
        if lines > limit {
            over.push(format!(
                "{}: {lines} lines (limit {limit})",
                relative.display()
            ));
        }
    }
    assert!(
        over.is_empty(),
        "files over their limit:\n{}",
        over.join("\n")
    );
}

#[test]
fn no_struct_has_more_than_twenty_fields() {
    let root = src();
    let mut wide = Vec::new();
    for path in sources(&root) {
        let relative = path.strip_prefix(&root).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        for hit in wide_structs(&text) {
            wide.push(format!("{}: {hit}", relative.display()));
        }
    }
    assert!(
        wide.is_empty(),
        "structs over {MAX_FIELDS} fields:\n{}",
        wide.join("\n")
    );
}

#[test]
fn the_size_checks_count_what_they_say() {
    let fields: String = (0..21).map(|i| format!("    pub f{i}: u8,\n")).collect();
    let wide = format!("pub struct Wide {{\n{fields}}}\n");
    assert_eq!(wide_structs(&wide), ["Wide (21 fields)"]);
    let narrow = format!(
        "struct Narrow {{\n{}    nested: Vec<(u8, u8)>,\n    map: std::collections::BTreeMap<u8, u8>,\n}}\n",
        (0..18)
            .map(|i| format!("    f{i}: u8,\n"))
            .collect::<String>()
    );
    assert!(wide_structs(&narrow).is_empty(), "20 fields are allowed");
    let text = "fn a() {}\nfn b() {}\n#[cfg(test)]\nmod tests {}\n";
    assert_eq!(code_lines(Path::new("x.rs"), text), 2);
    assert_eq!(code_lines(Path::new("tui/tests/flows.rs"), text), 0);
}

#[test]
fn the_architecture_doc_names_every_folder_and_file() {
    let root = src();
    let doc = fs::read_to_string(root.parent().unwrap().join("docs/architecture.md")).unwrap();
    let mut missing = Vec::new();
    for path in sources(&root) {
        let relative = path.strip_prefix(&root).unwrap();
        let name = format!("`src/{}`", relative.display());
        if !doc.contains(&name) {
            missing.push(name);
        }
        if let Some(parent) = relative.parent().filter(|p| !p.as_os_str().is_empty()) {
            let folder = format!("`src/{}/`", parent.display());
            if !doc.contains(&folder) && !missing.contains(&folder) {
                missing.push(folder);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "docs/architecture.md does not name (one line each):\n{}",
        missing.join("\n")
    );
}
