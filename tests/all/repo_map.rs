//! Issue 21, acceptance line 1: on a fixture repository of a few thousand
//! lines over Rust, Python, TypeScript, JavaScript, Go and Java with an
//! `AGENTS.md` (and a nested one), a headless session's requests (captured by
//! a fake OpenAI server answering as the offline team) carry the project's
//! instructions and a repository map naming the functions the task must
//! change, within `[session] map_tokens`; a second session re-parses no
//! unchanged file, and after one file changes exactly one is parsed.

use std::path::Path;

use serde_json::Value;

use crate::common::{Env, Session, path_str, run, tempdir, write};
use crate::fake_llm::FakeLlm;

/// The task: names the Rust and Python functions it must change.
const TASK: &str = "Make `parse_config` in src/config.rs accept tab-separated keys, and make `load_settings` in app/settings.py read them too.";

/// The map's budget in the test's config: small enough that the fixture's
/// map does not fit whole.
const MAP_TOKENS: usize = 1500;

/// A workflow that stops after the tasks (the default one would run the
/// offline team's tests); `--dry-run` leaves DIR as it was.
const WORKFLOW: &str = r#"
name = "survey"
[[phase]]
name = "refine"
kind = "single"
agents = ["pm"]
[[phase]]
name = "plan"
kind = "fan-out"
agents = ["backend", "frontend"]
inputs = ["refine"]
[[phase]]
name = "implement"
kind = "tasks"
agents = ["pm", "backend"]
inputs = ["refine", "plan"]
[[phase]]
name = "deliver"
kind = "deliver"
"#;

/// Writes the fixture: hand-written files holding the functions the task
/// names, and generated but realistic filler modules in each language.
/// Returns how many source files it holds.
fn fixture(d: &Path) -> usize {
    write(
        d,
        "AGENTS.md",
        "# Conventions\n\n- Indent with tabs: use tabs, never spaces.\n- Before you finish, run `make check`.\n",
    );
    write(
        d,
        "web/AGENTS.md",
        "Front-end rules: TypeScript strict mode, single quotes.\n",
    );
    write(
        d,
        "README.md",
        "# Fixture\n\nA service in many languages.\n",
    );
    write(
        d,
        "Cargo.toml",
        "[package]\nname = \"fixture\"\nversion = \"0.1.0\"\n",
    );
    write(d, "Makefile", "check:\n\tcargo test\n");
    write(d, ".gitignore", "build/\n");
    write(d, "build/gen.py", "def never_mapped():\n    pass\n");
    write(
        d,
        "src/config.rs",
        "//! Reading the config file.\n\nuse std::collections::BTreeMap;\n\n/// A parsed config.\npub struct Config {\n    pub values: BTreeMap<String, String>,\n}\n\n/// Parses `key = value` lines.\npub fn parse_config(text: &str) -> Result<Config, String> {\n    let mut values = BTreeMap::new();\n    for line in text.lines() {\n        let (k, v) = line.split_once('=').ok_or(\"no =\")?;\n        values.insert(k.trim().to_string(), v.trim().to_string());\n    }\n    Ok(Config { values })\n}\n",
    );
    write(
        d,
        "app/settings.py",
        "\"\"\"Settings.\"\"\"\n\n\nclass Settings:\n    def __init__(self, values):\n        self.values = values\n\n\ndef load_settings(path: str) -> Settings:\n    with open(path) as f:\n        return Settings(dict(line.split('=', 1) for line in f))\n",
    );
    let mut count = 2;
    // Filler: 12 modules per language, 12 functions each, about 3,500 lines.
    for m in 0..12 {
        let mut rs = String::from("//! A filler module.\n\n");
        let mut py = String::from("\"\"\"A filler module.\"\"\"\n\n");
        let mut ts = String::from("// A filler module.\n\n");
        let mut js = String::from("// A filler module.\n\n");
        let mut go = format!("package pkg{m}\n\n");
        let mut java = format!("package fill;\n\npublic class Worker{m} {{\n");
        for f in 0..12 {
            rs.push_str(&format!(
                "/// Step {f}.\npub fn step_{m}_{f}(input: u64) -> u64 {{\n    let doubled = input * 2;\n    doubled + {f}\n}}\n\n"
            ));
            py.push_str(&format!(
                "def step_{m}_{f}(value: int) -> int:\n    doubled = value * 2\n    return doubled + {f}\n\n\n"
            ));
            ts.push_str(&format!(
                "export function render{m}x{f}(items: string[]): string {{\n  const joined = items.join(',');\n  return joined + '{f}';\n}}\n\n"
            ));
            js.push_str(&format!(
                "export function format{m}x{f}(value) {{\n  const text = String(value);\n  return text.padStart({f});\n}}\n\n"
            ));
            go.push_str(&format!(
                "// Handle{f} handles step {f}.\nfunc Handle{m}x{f}(path string) (int, error) {{\n\tn := len(path)\n\treturn n + {f}, nil\n}}\n\n"
            ));
            java.push_str(&format!(
                "    public int process{f}(String input) {{\n        int n = input.length();\n        return n + {f};\n    }}\n\n"
            ));
        }
        java.push_str("}\n");
        write(d, &format!("src/fill/step_{m:02}.rs"), &rs);
        write(d, &format!("app/fill/step_{m:02}.py"), &py);
        write(d, &format!("web/src/render_{m:02}.ts"), &ts);
        write(d, &format!("web/lib/format_{m:02}.js"), &js);
        write(d, &format!("cmd/pkg{m}/handle.go"), &go);
        write(d, &format!("java/fill/Worker{m}.java"), &java);
        count += 6;
    }
    count
}

/// Every fenced JSON block of every message of a request (the inputs, in
/// whichever message the prompt puts them), parsed.
fn input_blocks(body: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    for m in body["messages"].as_array().into_iter().flatten() {
        let mut rest = m["content"].as_str().unwrap_or_default();
        while let Some((_, after)) = rest.split_once("```json\n") {
            let Some((json, tail)) = after.split_once("\n```") else {
                break;
            };
            if let Ok(v) = serde_json::from_str(json) {
                out.push(v);
            }
            rest = tail;
        }
    }
    out
}

fn session(env: &Env, dir: &Path, workflow: &Path) -> Session {
    let out = run(env.quorum([
        "run",
        TASK,
        "--dir",
        path_str(dir),
        "--workflow",
        path_str(workflow),
        "--dry-run",
        "--json",
    ]));
    Session::from_output(out)
}

#[test]
fn requests_carry_the_instructions_and_a_map_of_the_task_s_functions_and_a_second_session_parses_nothing_unchanged()
 {
    let env = Env::new();
    let dir = tempdir();
    let d = dir.path();
    let sources = fixture(d);
    let lines: usize = ["src", "app", "web", "cmd", "java"]
        .iter()
        .flat_map(|top| walk(&d.join(top)))
        .map(|p| std::fs::read_to_string(p).unwrap().lines().count())
        .sum();
    assert!(lines > 3000, "a few thousand lines: {lines}");
    let server = FakeLlm::start();
    let agents: String = ["pm", "backend", "frontend", "qa", "security"]
        .iter()
        .map(|a| format!("[agents.{a}]\nprovider = \"fake\"\nmodel = \"{a}\"\n"))
        .collect();
    write(
        d,
        "quorum.toml",
        &format!(
            "[providers.fake]\nkind = \"openai\"\nbase_url = \"{}/v1\"\nbackoff_ms = 1\n\n[session]\nmap_tokens = {MAP_TOKENS}\n\n{agents}",
            server.url()
        ),
    );
    let workflow = d.join("build/survey.toml");
    write(d, "build/survey.toml", WORKFLOW);

    let first = session(&env, d, &workflow);
    assert_eq!(first.status(), "succeeded", "{}", first.out);
    let read = first.one("instructions_read");
    assert_eq!(
        read["files"],
        serde_json::json!(["AGENTS.md", "web/AGENTS.md"])
    );
    let map = first.one("repo_map");
    assert_eq!(map["files"], sources, "{map}");
    assert_eq!(
        (map["parsed"].as_u64(), map["cached"].as_u64()),
        (Some(sources as u64), Some(0))
    );
    assert!(
        map["tokens"].as_u64().unwrap() <= MAP_TOKENS as u64,
        "{map}"
    );
    assert!(
        map["shown"].as_u64().unwrap() < sources as u64,
        "the budget binds: {map}"
    );

    check_requests(&server);

    // The same DIR again: every file's symbols come from the store.
    let second = session(&env, d, &workflow);
    assert_eq!(second.status(), "succeeded", "{}", second.out);
    let map = second.one("repo_map");
    assert_eq!(
        (map["parsed"].as_u64(), map["cached"].as_u64()),
        (Some(0), Some(sources as u64))
    );

    // One file changed: exactly that one is parsed.
    write(
        d,
        "app/fill/step_03.py",
        "def changed(value: int) -> int:\n    return value\n",
    );
    let third = session(&env, d, &workflow);
    let map = third.one("repo_map");
    assert_eq!(
        (map["parsed"].as_u64(), map["cached"].as_u64()),
        (Some(1), Some(sources as u64 - 1))
    );
}

/// Every request carries both instruction files; every request with the
/// project carries a map that names the task's functions first, within the
/// budget, beside the manifests and README only; pm and backend asked.
fn check_requests(server: &FakeLlm) {
    let received = server.received();
    assert!(received.len() >= 5, "{} requests", received.len());
    let mut kinds = std::collections::BTreeSet::new();
    for req in &received {
        let text = req.body["messages"].to_string();
        assert!(
            text.contains("use tabs") && text.contains("run `make check`"),
            "{text}"
        );
        assert!(text.contains("project's own instruction files"));
        let blocks = input_blocks(&req.body);
        let instructions: Vec<&Value> = blocks
            .iter()
            .filter_map(|b| b.get("instructions"))
            .flat_map(|i| i.as_array().unwrap())
            .collect();
        assert_eq!(instructions.len(), 2, "{blocks:?}");
        assert_eq!(instructions[1]["applies_to"], "web");
        let Some(project) = blocks.iter().find_map(|b| b.get("project")) else {
            continue;
        };
        let map = project["map"]
            .as_str()
            .unwrap_or_else(|| panic!("{project}"));
        assert!(
            map.starts_with("src/config.rs:\n") || map.starts_with("app/settings.py:\n"),
            "the task's files first: {map}"
        );
        assert!(
            map.contains("  pub fn parse_config(text: &str) -> Result<Config, String>\n"),
            "{map}"
        );
        assert!(
            map.contains("  def load_settings(path: str) -> Settings\n"),
            "{map}"
        );
        assert!(!map.contains("never_mapped"), "ignored files stay out");
        assert!(map.chars().count().div_ceil(3) <= MAP_TOKENS);
        // A big project's key files are its manifests and README only.
        let keys: Vec<&str> = project["key_files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["path"].as_str().unwrap())
            .collect();
        assert_eq!(
            keys,
            vec!["Cargo.toml", "Makefile", "README.md"],
            "{keys:?}"
        );
        kinds.insert(req.body["model"].as_str().unwrap().to_string());
    }
    assert!(
        kinds.contains("pm") && kinds.contains("backend"),
        "{kinds:?}"
    );
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
