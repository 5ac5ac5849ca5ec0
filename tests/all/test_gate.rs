//! The test gate on the offline team, scripted (docs/workflows.md, "The test
//! gate" and "Repairs"): a suite that no runner finds is `no_tests`, never
//! passed, goes back to qa and ends the session failed without a commit; a
//! repair that says no change in its files can fix the failure is taken as
//! such, reaches the chair and the event stream; the offline project's own
//! component runs its setup step before its tests.

use crate::common::{Env, run_scripted, tempdir, tree};

/// A qa reply (tests or repair) writing one file.
fn qa_file(kind: &str, summary: &str, path: &str, content: &str) -> String {
    format!(
        "[[reply]]\nagent = \"qa\"\nkind = \"{kind}\"\ntimes = 1\ntext = '''\n{summary}\n\n### `{path}`\n```python\n{content}\n```\n'''\n"
    )
}

#[test]
fn a_suite_no_runner_finds_is_no_tests_goes_back_to_qa_and_is_never_committed() {
    // The tests, and each repair, write a file unittest collects nothing from.
    let mut script = qa_file(
        "tests",
        "Checks.",
        "tests/test_nothing.py",
        "# v1: no test here",
    );
    script.push_str(&qa_file(
        "repair",
        "Still none.",
        "tests/test_nothing.py",
        "# v2",
    ));
    script.push_str(&qa_file(
        "repair",
        "Still none.",
        "tests/test_nothing.py",
        "# v3",
    ));
    let (_env, dir, run) = run_scripted(&script, "", &[]);
    let d = dir.path();
    assert_eq!(run.status(), "failed", "{}", run.out);
    assert_eq!(run.out.code, 1, "{}", run.out);

    let runs: Vec<(u64, &str, u64)> = run
        .of("test_run")
        .iter()
        .map(|e| {
            (
                e["round"].as_u64().unwrap(),
                e["status"].as_str().unwrap(),
                e["passed"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        runs,
        [(1, "no_tests", 0), (2, "no_tests", 0), (3, "no_tests", 0)],
        "every round ran no test and none passed; two repair rounds ran"
    );
    for e in run.of("test_run") {
        assert_eq!(e["component"], "project");
        assert!(
            !e["lines"].as_array().unwrap().is_empty(),
            "the line that says no test ran: {e}"
        );
    }
    // The repairs went to the test writer, one per round.
    let repairs: Vec<&str> = run
        .of("task_queued")
        .iter()
        .filter_map(|e| e["task"].as_str())
        .filter(|t| t.contains(".repair"))
        .collect();
    assert_eq!(repairs, ["test.repair1.qa", "test.repair2.qa"]);
    // The offline project's setup step ran once (then it was reused).
    let setups = run.of("setup_run");
    assert_eq!(setups.len(), 1, "{setups:?}");
    assert_eq!(setups[0]["status"], "ok");
    assert!(
        setups[0]["command"]
            .as_str()
            .unwrap()
            .starts_with("python3 -m compileall")
    );
    // Nothing committed, nothing written; stderr says why and where the work is.
    assert!(run.of("commit_created").is_empty());
    assert!(
        !tree(d).iter().any(|p| p.starts_with("tests/")),
        "{:?}",
        tree(d)
    );
    let error = run.of("error");
    let message = error.last().unwrap()["message"].as_str().unwrap();
    assert!(message.contains("ran no tests"), "{message}");
    assert!(
        run.out.stderr.contains("failed:") && run.out.stderr.contains("--format tar"),
        "{}",
        run.out.stderr
    );
}

#[test]
fn a_declined_repair_reaches_the_chair_and_the_stream_and_blames_no_one_falsely() {
    let failing = "import unittest\n\n\nclass Answer(unittest.TestCase):\n    def test_answer(self):\n        self.assertEqual(41, 42, \"the answer\")";
    let mut script = qa_file("tests", "One check.", "test_answer.py", failing);
    script.push_str(
        "[[reply]]\nagent = \"qa\"\nkind = \"repair\"\ntimes = 1\ntext = \"No change in these files can fix this: the expected value is the service's, set outside the code.\"\n",
    );
    let (_env, _dir, run) = run_scripted(&script, "", &[]);
    assert_eq!(run.status(), "failed", "{}", run.out);

    let first = &run.of("test_run")[0];
    assert_eq!(first["status"], "failed");
    assert_eq!(
        (first["passed"].as_u64(), first["failed"].as_u64()),
        (Some(0), Some(1))
    );
    // The only file the failure names is qa's test: qa gets the repair.
    let declined = run.one("repair_declined");
    assert_eq!(declined["agent"], "qa");
    assert_eq!(declined["task"], "test.repair1.qa");
    assert!(
        declined["reason"]
            .as_str()
            .unwrap()
            .starts_with("No change in these files can fix this: the expected value"),
        "{declined}"
    );
    // The chair had no file to reassign it to: the repairs stop, with qa's
    // reason, and no agent is said to have returned its files unchanged.
    let message = run.of("error").last().unwrap()["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.contains("say qa: No change in these files"),
        "{message}"
    );
    assert!(!message.contains("unchanged"), "{message}");
    assert_eq!(
        run.of("test_run").len(),
        1,
        "no second run of the same files"
    );
    assert!(run.of("commit_created").is_empty());
}

#[test]
fn the_offline_session_sets_up_its_component_then_tests_it_and_says_so_in_the_commit() {
    let env = Env::new();
    let dir = tempdir();
    let d = dir.path();
    let run = env.run_json(d, &[]);
    run.assert_succeeded();
    let setup = run.one("setup_run");
    assert_eq!(setup["component"], "project");
    assert_eq!(setup["status"], "ok");
    assert_eq!(setup["network"], true);
    let test = run.one("test_run");
    assert!(
        run.index("setup_run", "component", "project")
            < run.index("test_run", "component", "project")
    );
    assert_eq!(test["status"], "passed");
    assert!(test["passed"].as_u64().unwrap() > 0);
    let message = env.git(d, &["log", "-1", "--format=%B"]);
    let line = message
        .lines()
        .find(|l| l.starts_with("Tests:"))
        .unwrap_or_else(|| panic!("{message}"));
    assert!(
        line.starts_with(&format!(
            "Tests: passed, {} passed, 0 failed",
            test["passed"]
        )),
        "{line}"
    );
    // The decision record says what ran too.
    let record = env.git(d, &["show", "HEAD:docs/DECISIONS.md"]);
    assert!(
        record.contains(&format!(
            "### Tests\n\n- project (`python3 -m unittest discover -v`): passed, {} passed, 0 failed\n",
            test["passed"]
        )),
        "{record}"
    );
}

#[test]
fn blocking_findings_are_repaired_tested_and_reviewed_again_within_the_rounds() {
    // Every review finds the same blocking problem: each is repaired, the
    // files tested and reviewed again.
    let script = "[[reply]]\nagent = \"security\"\nkind = \"review\"\ntimes = 0\ntext = '''\n{\"findings\": [{\"severity\": \"high\", \"path\": \"url_shortener/server.py\", \"line\": 1, \"text\": \"Check the bind address.\", \"blocking\": true}]}\n'''\n";
    let reviews = |run: &crate::common::Session| -> Vec<String> {
        run.of("task_finished")
            .iter()
            .filter_map(|e| e["task"].as_str())
            .filter(|t| t.starts_with("review"))
            .map(String::from)
            .collect()
    };
    let last_error = |run: &crate::common::Session| {
        run.of("error").last().unwrap()["message"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // One repair round: the second review's finding is left, and says so.
    let (_env, _dir, run) = run_scripted(script, "[test]\nmax_repair_rounds = 1\n", &[]);
    assert_eq!(run.status(), "failed", "{}", run.out);
    assert_eq!(reviews(&run), ["review", "review.fix1.backend", "review.2"]);
    let rounds: Vec<&str> = run
        .of("test_run")
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        rounds,
        ["passed", "passed"],
        "the repaired files were tested"
    );
    let message = last_error(&run);
    assert!(
        message.contains("1 blocking finding(s) remain after 1 repair round(s)"),
        "{message}"
    );
    assert!(run.of("commit_created").is_empty());

    // Two rounds (the default): the second repair changes nothing, and the
    // repairs stop there.
    let (_env, _dir, run) = run_scripted(script, "", &[]);
    assert_eq!(run.status(), "failed", "{}", run.out);
    assert_eq!(
        reviews(&run),
        [
            "review",
            "review.fix1.backend",
            "review.2",
            "review.fix2.backend"
        ]
    );
    let message = last_error(&run);
    assert!(
        message.contains("backend returned the failing files unchanged"),
        "{message}"
    );
}
