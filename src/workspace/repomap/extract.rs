//! A source file's symbols, read with tree-sitter: each grammar crate's own
//! tags query (`TAGS_QUERY`, the queries GitHub's code navigation uses,
//! run by `tree-sitter-tags`) gives the definitions (functions, methods,
//! classes, structs, interfaces, traits, types) and the references (calls,
//! type and class uses). A definition's signature is its first line(s) up to
//! the body, whitespace collapsed.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use tree_sitter_tags::{TagsConfiguration, TagsContext};

/// Bumped when what [`extract`] returns changes, so that cached symbols of an
/// older extractor are not read back (it is part of the cache key).
pub const EXTRACTOR_VERSION: u32 = 1;

/// Longest signature kept, in characters.
const MAX_SIGNATURE: usize = 200;

/// Most lines of a definition read for its signature.
const MAX_SIGNATURE_LINES: usize = 6;

/// A language the map reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    /// `.rs`
    Rust,
    /// `.py`, `.pyi`
    Python,
    /// `.js`, `.jsx`, `.mjs`, `.cjs`
    JavaScript,
    /// `.ts`, `.mts`, `.cts`
    TypeScript,
    /// `.tsx`
    Tsx,
    /// `.go`
    Go,
    /// `.java`
    Java,
}

impl Lang {
    /// The language of `path`, by its extension; `None` for other files.
    pub fn of(path: &str) -> Option<Lang> {
        let ext = path.rsplit_once('.')?.1;
        Some(match ext {
            "rs" => Lang::Rust,
            "py" | "pyi" => Lang::Python,
            "js" | "jsx" | "mjs" | "cjs" => Lang::JavaScript,
            "ts" | "mts" | "cts" => Lang::TypeScript,
            "tsx" => Lang::Tsx,
            "go" => Lang::Go,
            "java" => Lang::Java,
            _ => return None,
        })
    }

    /// A short name, part of the cache key.
    pub fn name(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Python => "python",
            Lang::JavaScript => "javascript",
            Lang::TypeScript => "typescript",
            Lang::Tsx => "tsx",
            Lang::Go => "go",
            Lang::Java => "java",
        }
    }

    /// The tags configuration, built once per process; `None` if the
    /// grammar's query does not compile (never expected: the crates ship them).
    fn config(self) -> Option<&'static TagsConfiguration> {
        static CONFIGS: [OnceLock<Option<TagsConfiguration>>; 7] = [const { OnceLock::new() }; 7];
        let (slot, build): (usize, fn() -> Option<TagsConfiguration>) = match self {
            // Rust's query leaves out a trait's method signatures: added.
            Lang::Rust => (0, || {
                TagsConfiguration::new(
                    tree_sitter_rust::LANGUAGE.into(),
                    &format!("{}\n{RUST_EXTRA}", tree_sitter_rust::TAGS_QUERY),
                    "",
                )
                .ok()
            }),
            Lang::Python => (1, || {
                TagsConfiguration::new(
                    tree_sitter_python::LANGUAGE.into(),
                    tree_sitter_python::TAGS_QUERY,
                    "",
                )
                .ok()
            }),
            Lang::JavaScript => (2, || {
                TagsConfiguration::new(
                    tree_sitter_javascript::LANGUAGE.into(),
                    tree_sitter_javascript::TAGS_QUERY,
                    tree_sitter_javascript::LOCALS_QUERY,
                )
                .ok()
            }),
            // TypeScript's tags query extends JavaScript's (its grammar does).
            Lang::TypeScript => (3, || {
                TagsConfiguration::new(
                    tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
                    &typescript_query(),
                    "",
                )
                .ok()
            }),
            Lang::Tsx => (4, || {
                TagsConfiguration::new(
                    tree_sitter_typescript::LANGUAGE_TSX.into(),
                    &typescript_query(),
                    "",
                )
                .ok()
            }),
            Lang::Go => (5, || {
                TagsConfiguration::new(
                    tree_sitter_go::LANGUAGE.into(),
                    tree_sitter_go::TAGS_QUERY,
                    "",
                )
                .ok()
            }),
            Lang::Java => (6, || {
                TagsConfiguration::new(
                    tree_sitter_java::LANGUAGE.into(),
                    tree_sitter_java::TAGS_QUERY,
                    "",
                )
                .ok()
            }),
        };
        CONFIGS[slot].get_or_init(build).as_ref()
    }
}

/// What Rust's tags query lacks: the method signatures of a trait.
const RUST_EXTRA: &str =
    "(declaration_list (function_signature_item name: (identifier) @name) @definition.method)";

/// JavaScript's tags query followed by TypeScript's own.
fn typescript_query() -> String {
    format!(
        "{}\n{}",
        tree_sitter_javascript::TAGS_QUERY,
        tree_sitter_typescript::TAGS_QUERY
    )
}

/// One definition in a file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Symbol {
    /// Its name.
    pub name: String,
    /// The tags query's kind: `function`, `method`, `class`, `interface`, `type`, …
    pub kind: String,
    /// Its first line(s) up to the body, whitespace collapsed.
    pub signature: String,
    /// Its first line, from 1.
    pub line: usize,
    /// 0 at the top level, 1 for a method inside a class (or trait,
    /// interface, Rust `impl` block).
    pub depth: usize,
}

/// What a file defines and references.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSymbols {
    /// Its definitions in source order.
    pub symbols: Vec<Symbol>,
    /// Identifier → how often the file references it (calls, type uses).
    pub refs: std::collections::BTreeMap<String, u32>,
}

/// The kinds of definition the map shows.
const SHOWN: &[&str] = &[
    "function",
    "method",
    "class",
    "interface",
    "type",
    "enum",
    "struct",
    "trait",
    "macro",
];

/// `source`'s symbols in language `lang`; an empty set when the grammar
/// cannot read it.
pub fn extract(lang: Lang, source: &[u8]) -> FileSymbols {
    let mut out = FileSymbols::default();
    let Some(config) = lang.config() else {
        return out;
    };
    let mut context = TagsContext::new();
    let Ok((tags, _)) = context.generate_tags(config, source, None) else {
        return out;
    };
    // The enclosing definitions' (end byte, kind, name) as the tags come in order.
    let mut open: Vec<(usize, String, String)> = Vec::new();
    let mut tags: Vec<_> = tags.filter_map(Result::ok).collect();
    tags.sort_by_key(|t| (t.range.start, std::cmp::Reverse(t.range.end)));
    for tag in tags {
        let name = String::from_utf8_lossy(&source[tag.name_range.clone()]).into_owned();
        let mut kind = config.syntax_type_name(tag.syntax_type_id).to_string();
        if !tag.is_definition {
            // A Rust `impl` block holds methods: shown as their parent.
            let block = kind == "implementation" && lang == Lang::Rust;
            *out.refs.entry(name.clone()).or_default() += 1;
            if !block {
                continue;
            }
            kind = "impl".to_string();
        }
        if !SHOWN.contains(&kind.as_str()) && kind != "impl" && kind != "module" {
            continue;
        }
        while open
            .last()
            .is_some_and(|(end, _, _)| *end <= tag.range.start)
        {
            open.pop();
        }
        // A function inside a function is a local helper, not the file's
        // API; a Rust `mod tests` holds tests.
        let hidden = open
            .iter()
            .any(|(_, k, n)| k == "function" || k == "method" || (k == "module" && n == "tests"));
        let depth = open.iter().filter(|(_, k, _)| k != "module").count();
        open.push((tag.range.end, kind.clone(), name.clone()));
        if hidden || depth > 1 || kind == "module" {
            continue;
        }
        out.symbols.push(Symbol {
            signature: signature(lang, &source[tag.range.clone()]),
            line: tag.span.start.row + 1,
            name,
            kind,
            depth,
        });
    }
    out
}

/// A definition's text up to its body: up to the first `{` (or `;`) outside
/// brackets, for Python the `:` ending the header, for an arrow function the
/// `=>`; at most [`MAX_SIGNATURE_LINES`] lines, whitespace collapsed, cut at
/// [`MAX_SIGNATURE`] characters.
fn signature(lang: Lang, def: &[u8]) -> String {
    let text = String::from_utf8_lossy(def);
    let mut depth = 0i32;
    let mut end = text.len();
    let mut lines = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            '\n' => {
                lines += 1;
                if lines >= MAX_SIGNATURE_LINES {
                    end = i;
                    break;
                }
            }
            '{' | ';' if depth <= 0 && lang != Lang::Python => {
                end = i;
                break;
            }
            ':' if depth <= 0 && lang == Lang::Python => {
                let rest = text[i + 1..].split('\n').next().unwrap_or("");
                if rest.trim().is_empty() || rest.trim_start().starts_with('#') {
                    end = i;
                    break;
                }
            }
            '=' if depth <= 0 && chars.peek().is_some_and(|(_, n)| *n == '>') => {
                end = i + 2;
                break;
            }
            _ => {}
        }
    }
    let collapsed = text[..end].split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() > MAX_SIGNATURE {
        let cut: String = collapsed.chars().take(MAX_SIGNATURE).collect();
        format!("{cut}…")
    } else {
        collapsed
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn sigs(lang: Lang, src: &str) -> Vec<(usize, String)> {
        extract(lang, src.as_bytes())
            .symbols
            .into_iter()
            .map(|s| (s.depth, s.signature))
            .collect()
    }

    fn refs(lang: Lang, src: &str) -> Vec<String> {
        extract(lang, src.as_bytes()).refs.into_keys().collect()
    }

    #[test]
    fn rust_functions_types_traits_and_methods() {
        let src = "pub struct Config {\n    pub name: String,\n}\n\npub trait Load {\n    fn load(&self) -> Config;\n}\n\nimpl Config {\n    pub fn new(\n        name: &str,\n    ) -> Self {\n        helper();\n        Config { name: name.into() }\n    }\n}\n\npub fn parse_config(text: &str) -> Result<Config, String> {\n    fn inner() {}\n    Ok(Config::new(text))\n}\n";
        let got = sigs(Lang::Rust, src);
        assert!(got.contains(&(0, "pub struct Config".into())), "{got:?}");
        assert!(got.contains(&(0, "pub trait Load".into())), "{got:?}");
        assert!(
            got.contains(&(1, "fn load(&self) -> Config".into())),
            "{got:?}"
        );
        assert!(got.contains(&(0, "impl Config".into())), "{got:?}");
        assert!(
            got.contains(&(1, "pub fn new( name: &str, ) -> Self".into())),
            "{got:?}"
        );
        assert!(
            got.contains(&(
                0,
                "pub fn parse_config(text: &str) -> Result<Config, String>".into()
            )),
            "{got:?}"
        );
        assert!(
            !got.iter().any(|(_, s)| s.contains("inner")),
            "local fn: {got:?}"
        );
        let tests = "pub fn a() {}\n#[cfg(test)]\nmod tests {\n    fn t() {}\n}\n";
        assert_eq!(sigs(Lang::Rust, tests), vec![(0, "pub fn a()".to_string())]);
        assert!(refs(Lang::Rust, src).contains(&"helper".to_string()));
    }

    #[test]
    fn python_classes_methods_and_functions() {
        let src = "class Store(Base):\n    def get(self, key: str) -> dict[str, int]:\n        return load(key)\n\ndef parse_config(text: str,\n                 strict: bool = False) -> Config:  # parse\n    def inner():\n        pass\n    return Config()\n";
        let got = sigs(Lang::Python, src);
        assert_eq!(
            got,
            vec![
                (0, "class Store(Base)".to_string()),
                (1, "def get(self, key: str) -> dict[str, int]".to_string()),
                (
                    0,
                    "def parse_config(text: str, strict: bool = False) -> Config".to_string()
                ),
            ]
        );
        let r = refs(Lang::Python, src);
        assert!(r.contains(&"load".to_string()), "{r:?}");
    }

    #[test]
    fn javascript_and_typescript() {
        let js = "export function render(items) {\n  return items.map(format);\n}\nclass View {\n  draw(ctx) { paint(ctx); }\n}\n";
        let got = sigs(Lang::JavaScript, js);
        assert!(
            got.contains(&(0, "export function render(items)".into()))
                || got.contains(&(0, "function render(items)".into())),
            "{got:?}"
        );
        assert!(got.contains(&(0, "class View".into())), "{got:?}");
        assert!(got.contains(&(1, "draw(ctx)".into())), "{got:?}");
        assert!(refs(Lang::JavaScript, js).contains(&"paint".to_string()));
        let ts = "export interface Options {\n  verbose: boolean;\n}\nexport function parseArgs(argv: string[]): Options {\n  return { verbose: argv.includes('-v') };\n}\nexport class Cli {\n  run(opts: Options): number { return 0; }\n}\n";
        let got = sigs(Lang::TypeScript, ts);
        assert!(
            got.iter().any(|(_, s)| s.contains("interface Options")),
            "{got:?}"
        );
        assert!(
            got.iter()
                .any(|(d, s)| *d == 0 && s.contains("function parseArgs(argv: string[]): Options")),
            "{got:?}"
        );
        assert!(
            got.iter()
                .any(|(d, s)| *d == 1 && s == "run(opts: Options): number"),
            "{got:?}"
        );
        let tsx = "export function App(props: Props) {\n  return <div>{props.name}</div>;\n}\n";
        assert!(
            sigs(Lang::Tsx, tsx)
                .iter()
                .any(|(_, s)| s.contains("function App(props: Props)"))
        );
    }

    #[test]
    fn go_and_java() {
        let go = "package main\n\ntype Server struct {\n\tport int\n}\n\nfunc (s *Server) Handle(path string) error {\n\treturn route(path)\n}\n\nfunc ParseConfig(text string) (*Config, error) {\n\treturn nil, nil\n}\n";
        let got = sigs(Lang::Go, go);
        assert!(
            got.iter().any(|(_, s)| s.contains("Server struct")),
            "{got:?}"
        );
        assert!(
            got.contains(&(0, "func (s *Server) Handle(path string) error".into())),
            "{got:?}"
        );
        assert!(
            got.contains(&(0, "func ParseConfig(text string) (*Config, error)".into())),
            "{got:?}"
        );
        assert!(refs(Lang::Go, go).contains(&"route".to_string()));
        let java = "package app;\n\npublic class Parser extends Base {\n    public Config parseConfig(String text) throws IOException {\n        return load(text);\n    }\n}\ninterface Loader { Config load(String s); }\n";
        let got = sigs(Lang::Java, java);
        assert!(
            got.contains(&(0, "public class Parser extends Base".into())),
            "{got:?}"
        );
        assert!(
            got.contains(&(
                1,
                "public Config parseConfig(String text) throws IOException".into()
            )),
            "{got:?}"
        );
        assert!(
            got.iter().any(|(_, s)| s.contains("interface Loader")),
            "{got:?}"
        );
        assert!(refs(Lang::Java, java).contains(&"load".to_string()));
    }

    #[test]
    fn languages_by_extension() {
        assert_eq!(Lang::of("src/a.rs"), Some(Lang::Rust));
        assert_eq!(Lang::of("web/App.tsx"), Some(Lang::Tsx));
        assert_eq!(Lang::of("x.mjs"), Some(Lang::JavaScript));
        assert_eq!(Lang::of("README.md"), None);
        assert_eq!(Lang::of("Makefile"), None);
    }
}
