//! Edits instead of rewrites (issue 21, acceptance line 2): an implementer on
//! a fake OpenAI server (`fake_llm.rs`) changes a 2,000-line file that DIR
//! already holds. A SEARCH/REPLACE reply changes only the intended lines; a
//! block that matches twice, or nothing, goes back to the model with the
//! reason and the matching or nearest lines, and the corrected reply
//! applies; a whole-file reply of the same change still works; a repair's
//! edits fix a failing test. The refine and the breakdown come from the
//! scripted offline team; the session is refine → implement → deliver (→
//! test, for the repair).

use quorum::llm::TaskKind;
use serde_json::Value;

use crate::common::{Env, PROMPT, Session, path_str, run, tempdir, write};
use crate::fake_llm::{FakeLlm, Format, model_and_prompt};

/// A workflow without plans, votes, tests or review.
const WORKFLOW: &str = r#"
name = "edit"
[[phase]]
name = "refine"
kind = "single"
agents = ["pm"]
[[phase]]
name = "implement"
kind = "tasks"
agents = ["pm", "backend"]
inputs = ["refine"]
[[phase]]
name = "deliver"
kind = "deliver"
"#;

/// The lead's breakdown: one task, the backend's, on `app.py`.
const SCRIPT: &str = r#"
[[reply]]
agent = "pm"
kind = "breakdown"
text = '''
{"tasks": [
  {"id": "edit", "agent": "backend", "title": "give handler_120 a default", "files": ["app.py"], "depends_on": [], "description": "handler_120 takes `default`; handler_300 takes `strict`."}
]}
'''
"#;

/// DIR's `app.py`: 400 functions of five lines, 2,000 lines. Function `i`
/// is lines `5i+1..=5i+5`; its body is function `i % 200`'s, so every body
/// line is written twice (`k120` on lines 602 and 1602).
fn original() -> String {
    (0..400)
        .map(|i| {
            let k = i % 200;
            format!(
                "def handler_{i}(request):\n    value = request.get(\"k{k}\")\n    if value is None:\n        return {k}\n    return value * 2\n"
            )
        })
        .collect()
}

/// The original with lines 601, 602 and 1501 changed, and nothing else.
fn expected() -> String {
    let mut lines: Vec<String> = original().lines().map(String::from).collect();
    lines[600] = "def handler_120(request, default=0):".into();
    lines[601] = "    value = request.get(\"k120\", default)".into();
    lines[1500] = "def handler_300(request, strict=False):".into();
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// The right SEARCH/REPLACE reply: two fences of edits for `app.py`.
const EDITS: &str = "handler_120 takes a default; handler_300 takes strict.\n\n### `app.py`\n```python\n<<<<<<< SEARCH\ndef handler_120(request):\n    value = request.get(\"k120\")\n=======\ndef handler_120(request, default=0):\n    value = request.get(\"k120\", default)\n>>>>>>> REPLACE\n```\n\n```python\n<<<<<<< SEARCH\ndef handler_300(request):\n=======\ndef handler_300(request, strict=False):\n>>>>>>> REPLACE\n```\n";

/// DIR with `app.py` committed, the config (the backend on the fake OpenAI
/// server as `model`, everyone else on the scripted offline team plus
/// `extra`) and the script; the workflow beside it, outside DIR.
fn setup(
    env: &Env,
    server: &FakeLlm,
    model: &str,
    extra: &str,
) -> (tempfile::TempDir, tempfile::TempDir) {
    let dir = tempdir();
    let d = dir.path();
    write(d, "app.py", &original());
    commit_all(env, d, "the app");
    write(d, "script.toml", SCRIPT);
    let mut config = format!(
        "[providers.sim]\nkind = \"offline\"\nscript = \"script.toml\"\n[providers.fake]\nkind = \"openai\"\nbase_url = \"{}/v1\"\nbackoff_ms = 1\n",
        server.url()
    );
    for agent in ["pm", "frontend", "qa", "security"] {
        config.push_str(&format!("[agents.{agent}]\nprovider = \"sim\"\n"));
    }
    config.push_str(&format!(
        "[agents.backend]\nprovider = \"fake\"\nmodel = \"{model}\"\n{extra}"
    ));
    write(d, "quorum.toml", &config);
    let other = tempdir();
    write(other.path(), "edit.toml", WORKFLOW);
    (dir, other)
}

/// DIR (`d`) as a git repository with everything in it committed.
fn commit_all(env: &Env, d: &std::path::Path, message: &str) {
    env.git(d, &["init", "-q"]);
    env.commit_all(d, message);
}

/// Runs the session headless, overwriting `app.py` (committed, so allowed).
fn session(env: &Env, dir: &tempfile::TempDir, other: &tempfile::TempDir) -> Session {
    let workflow = other.path().join("edit.toml");
    Session::from_output(run(env.quorum([
        "run",
        PROMPT,
        "--dir",
        path_str(dir.path()),
        "--workflow",
        path_str(&workflow),
        "--allow-overwrite",
        "--json",
    ])))
}

/// The prompt text of every request the implementer sent, in order.
fn implement_prompts(server: &FakeLlm) -> Vec<String> {
    server
        .received()
        .iter()
        .filter(|r| r.format == Format::OpenAi)
        .map(|r| model_and_prompt(r.format, &r.path, &r.body).1)
        .filter(|p| p.contains("# Task: give handler_120 a default"))
        .collect()
}

/// The JSON inputs shown in a prompt.
fn inputs_of(prompt: &str) -> Value {
    let inputs = crate::fake_llm::inputs(prompt);
    assert!(inputs.is_object(), "no inputs in {prompt}");
    inputs
}

/// DIR's `app.py` after the session equals [`expected`], committed, and
/// staged as a modification of the file.
fn assert_delivered(env: &Env, dir: &tempfile::TempDir, session: &Session) {
    session.assert_succeeded();
    let d = dir.path();
    let now = std::fs::read_to_string(d.join("app.py")).unwrap();
    let (before, after) = (original(), expected());
    let changed: Vec<usize> = before
        .lines()
        .zip(now.lines())
        .enumerate()
        .filter(|(_, (a, b))| a != b)
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(changed, [601, 602, 1501], "only the intended lines changed");
    assert!(
        now == after,
        "app.py is the original with exactly those lines changed"
    );
    assert_eq!(env.git(d, &["show", "HEAD:app.py"]), after, "and committed");
    let staged = session
        .of("file_staged")
        .into_iter()
        .find(|e| e["path"] == "app.py")
        .expect("app.py is staged");
    assert_eq!(staged["change"], "modified");
    assert_eq!(staged["bytes"], after.len() as u64);
}

#[test]
fn a_search_replace_reply_to_a_2000_line_file_changes_only_the_intended_lines() {
    let server = FakeLlm::start();
    server.replies_for(TaskKind::Implement, &[EDITS]);
    let env = Env::new();
    let (dir, other) = setup(&env, &server, "gpt-4o", "");
    let session = session(&env, &dir, &other);
    assert_delivered(&env, &dir, &session);
    let prompts = implement_prompts(&server);
    assert_eq!(prompts.len(), 1, "applied at the first reply");
    // The implementer saw the file whole, unnumbered, and the format's rules.
    let inputs = inputs_of(&prompts[0]);
    assert_eq!(inputs["existing"][0]["path"], "app.py");
    assert_eq!(inputs["existing"][0]["content"], original().as_str());
    assert!(prompts[0].contains("SEARCH must match exactly one place in the file"));
    assert!(prompts[0].contains("<<<<<<< SEARCH"));
}

#[test]
fn a_block_that_matches_twice_goes_back_with_the_matching_lines_and_the_correction_applies() {
    let server = FakeLlm::start();
    let twice = "Done.\n\n### `app.py`\n```python\n<<<<<<< SEARCH\ndef handler_120(request):\n=======\ndef handler_120(request, default=0):\n>>>>>>> REPLACE\n\n<<<<<<< SEARCH\n    value = request.get(\"k120\")\n=======\n    value = request.get(\"k120\", default)\n>>>>>>> REPLACE\n```\n";
    server.replies_for(TaskKind::Implement, &[twice, EDITS]);
    let env = Env::new();
    let (dir, other) = setup(&env, &server, "gpt-4o", "");
    let session = session(&env, &dir, &other);
    assert_delivered(&env, &dir, &session);
    let prompts = implement_prompts(&server);
    assert_eq!(prompts.len(), 2, "one retry");
    let retry = &prompts[1];
    assert!(
        retry.contains(twice.trim()),
        "the rejected reply is sent back"
    );
    assert!(
        retry.contains(
            "- `app.py`, edit block 2 (SEARCH starting `value = request.get(\"k120\")`): matches 2 places: lines 602 and 1602."
        ),
        "{retry}"
    );
    assert!(retry.contains("none of the reply's files was staged"));
    // Nothing of the first reply was staged, not even its good block.
    assert_eq!(session.of("file_staged").len(), 1);
}

#[test]
fn a_block_that_matches_nothing_goes_back_with_the_nearest_lines_and_the_correction_applies() {
    let server = FakeLlm::start();
    let nothing = "Done.\n\n### `app.py`\n```python\n<<<<<<< SEARCH\ndef handler_120(req):\n    value = request.get(\"k120\")\n=======\ndef handler_120(request, default=0):\n    value = request.get(\"k120\", default)\n>>>>>>> REPLACE\n```\n";
    server.replies_for(TaskKind::Implement, &[nothing, EDITS]);
    let env = Env::new();
    let (dir, other) = setup(&env, &server, "gpt-4o", "");
    let session = session(&env, &dir, &other);
    assert_delivered(&env, &dir, &session);
    let prompts = implement_prompts(&server);
    assert_eq!(prompts.len(), 2, "one retry");
    let retry = &prompts[1];
    assert!(
        retry.contains(
            "- `app.py`, edit block 1 (SEARCH starting `def handler_120(req):`): matches nothing. The nearest lines of the current file:\n    601 | def handler_120(request):\n    602 |     value = request.get(\"k120\")\n"
        ),
        "{retry}"
    );
    assert!(session.of("task_failed").is_empty(), "the retry succeeded");
}

#[test]
fn the_same_change_as_a_whole_file_reply_still_works() {
    let server = FakeLlm::start();
    let whole = format!(
        "Rewrote app.py.\n\n### `app.py`\n```python\n{}```\n",
        expected()
    );
    server.replies_for(TaskKind::Implement, &[&whole]);
    let env = Env::new();
    // A model asked for whole files, by the config.
    let (dir, other) = setup(
        &env,
        &server,
        "gpt-4o",
        "[models.\"gpt-4o\"]\nedit_format = \"whole\"\n",
    );
    let session = session(&env, &dir, &other);
    assert_delivered(&env, &dir, &session);
    let prompts = implement_prompts(&server);
    assert_eq!(prompts.len(), 1);
    assert!(
        !prompts[0].contains("<<<<<<< SEARCH"),
        "asked for whole files"
    );
    assert!(prompts[0].contains("is rewritten whole"));
}

#[test]
fn a_bad_edit_format_is_a_config_error_naming_its_line() {
    let env = Env::new();
    let dir = tempdir();
    write(
        dir.path(),
        "quorum.toml",
        "[providers.sim]\nkind = \"offline\"\n\n[models.\"gpt-4o\"]\nedit_format = \"diff\"\n",
    );
    let out = run(env.quorum(["run", PROMPT, "--dir", path_str(dir.path())]));
    assert_eq!(out.code, 2, "{out}");
    assert!(out.stderr.contains("line 5"), "{out}");
    assert!(
        out.stderr.contains("models.\"gpt-4o\".edit_format"),
        "{out}"
    );
    assert!(out.stderr.contains("search-replace"), "{out}");
}

/// The offline team asked for edits (`[models."offline"] edit_format`): a
/// follow-up session on the project a first session built changes the
/// existing files with SEARCH/REPLACE blocks, and the result still passes
/// its tests.
#[test]
fn the_offline_team_asked_for_edits_changes_an_existing_project_with_them() {
    let env = Env::new();
    let dir = tempdir();
    let d = dir.path();
    write(
        d,
        "quorum.toml",
        "[providers.sim]\nkind = \"offline\"\n[models.\"offline\"]\nedit_format = \"search-replace\"\n",
    );
    let first = env.run_json(d, &[]);
    first.assert_succeeded();
    let second = Session::from_output(run(env.quorum([
        "run",
        "add a delete endpoint with tests",
        "--dir",
        path_str(d),
        "--json=tokens",
        "--allow-overwrite",
    ])));
    second.assert_succeeded();
    let implement: String = second
        .tokens
        .iter()
        .filter(|t| t["task"].as_str().unwrap().starts_with("implement."))
        .map(|t| t["text"].as_str().unwrap())
        .collect();
    assert!(implement.contains("<<<<<<< SEARCH\n"), "{implement}");
    let staged = second.of("file_staged");
    assert!(
        staged.iter().all(|f| f["change"] == "modified"),
        "{staged:?}"
    );
    assert_eq!(second.one("test_run")["status"], "passed");
}

/// [`WORKFLOW`] with a test phase before deliver, whose run of the
/// project's own tests turns a failure into a repair.
fn repair_workflow() -> String {
    let deliver = "[[phase]]\nname = \"deliver\"";
    assert!(WORKFLOW.contains(deliver));
    WORKFLOW.replace(
        deliver,
        &format!("[[phase]]\nname = \"test\"\nkind = \"test\"\nagents = [\"qa\"]\ninputs = [\"refine\", \"implement\"]\n{deliver}"),
    )
}

/// A repair may send SEARCH/REPLACE edits too: the implementer's edit of
/// `calc.py` breaks the project's own test (a name error the traceback
/// places in `calc.py`), the failing run becomes a repair for the backend
/// (the file's owner), whose edit is copied from `current` without its line
/// numbers, applies, and the second run passes; only the edited lines differ
/// from DIR's file in the commit.
#[test]
fn a_repair_reply_of_search_replace_edits_fixes_the_failing_test() {
    let env = Env::new();
    let server = FakeLlm::start();
    let dir = tempdir();
    let d = dir.path();
    let calc: String = (0..60)
        .map(|i| format!("def f{i}(x):\n    return x + {i}\n\n\n"))
        .collect::<String>()
        + "def total(items):\n    return sum(items)\n";
    write(d, "calc.py", &calc);
    write(
        d,
        "test_calc.py",
        "import unittest\n\nimport calc\n\n\nclass TotalTest(unittest.TestCase):\n    def test_total_with_tax(self):\n        self.assertEqual(calc.total([10, 20], tax=0.5), 45)\n\n    def test_f3(self):\n        self.assertEqual(calc.f3(1), 4)\n\n\nif __name__ == \"__main__\":\n    unittest.main()\n",
    );
    commit_all(&env, d, "calc");
    write(
        d,
        "script.toml",
        r#"
[[reply]]
agent = "pm"
kind = "breakdown"
text = '''
{"tasks": [
  {"id": "tax", "agent": "backend", "title": "total takes a tax", "files": ["calc.py"], "depends_on": [], "description": "total(items, tax=0) returns the sum times 1 + tax."}
]}
'''
[[reply]]
agent = "qa"
kind = "tests"
text = "The existing tests in test_calc.py cover the change."
"#,
    );
    write_repair_config(d, &server);
    // The implementer's edit names a variable that does not exist: the
    // traceback names `calc.py`, the backend's file.
    let broken = "total takes a tax.\n\n### `calc.py`\n```python\n<<<<<<< SEARCH\ndef total(items):\n    return sum(items)\n=======\ndef total(items, tax=0):\n    return sum(items) * (1 + taxes)\n>>>>>>> REPLACE\n```\n";
    // The repair: SEARCH copied from `current` without its numbers.
    let fixed = "total uses its tax.\n\n### `calc.py`\n```python\n<<<<<<< SEARCH\n    return sum(items) * (1 + taxes)\n=======\n    return sum(items) * (1 + tax)\n>>>>>>> REPLACE\n```\n";
    server.replies_for(TaskKind::Implement, &[broken]);
    server.replies_for(TaskKind::Repair, &[fixed]);
    let other = tempdir();
    write(other.path(), "repair.toml", &repair_workflow());
    let session = Session::from_output(run(env.quorum([
        "run",
        "let total take a tax",
        "--dir",
        path_str(d),
        "--workflow",
        path_str(&other.path().join("repair.toml")),
        "--allow-overwrite",
        "--json",
    ])));
    session.assert_succeeded();
    let runs: Vec<String> = session
        .of("test_run")
        .iter()
        .map(|r| r["status"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(runs, ["failed", "passed"], "{}", session.out);
    // The repair's prompt showed `calc.py` numbered and asked for edits.
    let repair = server
        .received()
        .iter()
        .map(|r| model_and_prompt(r.format, &r.path, &r.body).1)
        .find(|p| p.contains("\"report\""))
        .expect("a repair request");
    assert!(repair.contains("<<<<<<< SEARCH"), "{repair}");
    assert!(repair.contains("copied from `current` without the line numbers"));
    let now = std::fs::read_to_string(d.join("calc.py")).unwrap();
    let changed: Vec<(usize, &str)> = calc
        .lines()
        .zip(now.lines())
        .enumerate()
        .filter(|(_, (a, b))| a != b)
        .map(|(i, (_, b))| (i + 1, b))
        .collect();
    assert_eq!(
        changed,
        [
            (241, "def total(items, tax=0):"),
            (242, "    return sum(items) * (1 + tax)")
        ]
    );
    assert_eq!(calc.lines().count(), now.lines().count());
}

/// The repair test's `quorum.toml`: the backend on the fake OpenAI server as
/// `gpt-4o` (search-replace), everyone else on the scripted offline team,
/// and the project's own tests as the test command.
fn write_repair_config(d: &std::path::Path, server: &FakeLlm) {
    let mut config = format!(
        "[providers.sim]\nkind = \"offline\"\nscript = \"script.toml\"\n[providers.fake]\nkind = \"openai\"\nbase_url = \"{}/v1\"\nbackoff_ms = 1\n[test]\ncommand = \"python3 -m unittest -v\"\n",
        server.url()
    );
    for agent in ["pm", "frontend", "qa", "security"] {
        config.push_str(&format!("[agents.{agent}]\nprovider = \"sim\"\n"));
    }
    config.push_str("[agents.backend]\nprovider = \"fake\"\nmodel = \"gpt-4o\"\n");
    write(d, "quorum.toml", &config);
}
