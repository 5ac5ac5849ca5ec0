//! Tests of the test loop's pure parts: what is the environment's, the
//! numbered files, the round's lines, the failure report, the routing of
//! repairs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::super::inputs::numbered;
use std::collections::{BTreeMap, BTreeSet};

use super::super::actor::StagedFile;
use super::repairs::{REPORT_BYTES, failure_report, route, under_repair};
use super::*;

fn outcome(status: TestStatus, output: &str) -> TestOutcome {
    TestOutcome {
        component: "project".into(),
        command: "cargo test --offline".into(),
        status,
        passed: 0,
        failed: 0,
        skipped: 0,
        failures: Vec::new(),
        lines: vec!["error: failed to get `clap` as a dependency of package `wcu v0.1.0`".into()],
        paths: Vec::new(),
        output: output.into(),
        duration: Duration::ZERO,
        network_isolated: true,
        isolation: Default::default(),
    }
}

#[test]
fn a_setup_that_could_not_reach_the_registry_is_the_environments() {
    let offline = outcome(
        TestStatus::SetupFailed,
        "error: failed to get `clap`\nCaused by: [6] Could not resolve host: index.crates.io",
    );
    let why = environmental(&offline, true).unwrap();
    assert!(why.contains("Could not resolve host"), "{why}");
    assert!(why.contains("clap"), "{why}");
    // Without the network, any setup failure is.
    let other = outcome(TestStatus::SetupFailed, "no matching package named `clapp`");
    assert!(environmental(&other, true).is_none());
    assert!(
        environmental(&other, false)
            .unwrap()
            .contains("without the network")
    );
    // A build failure never is.
    let build = outcome(TestStatus::BuildFailed, "Could not resolve host");
    assert!(environmental(&build, true).is_none());
}

#[test]
fn a_run_the_sandbox_refused_is_the_environments_and_names_the_flag() {
    // As the sandbox reports a run it would not start unconfined (a test run
    // gives `error`, a setup `setup_failed`): the session stops, naming no
    // agent, and says how to go on.
    let refused = format!(
        "cannot start `pytest`: {} (creating namespaces (clone): No space left on device); rerun with --allow-unconfined-tests to run it without the jail (docs/sandbox.md)",
        sandbox::UNCONFINED_REFUSED
    );
    for status in [TestStatus::Error, TestStatus::SetupFailed] {
        let why = environmental(&outcome(status, &refused), true).unwrap();
        assert!(
            why.starts_with("project: quorum: model-written code"),
            "{why}"
        );
        assert!(why.contains("--allow-unconfined-tests"), "{why}");
    }
}

#[test]
fn numbered_lines_are_aligned_and_start_at_one() {
    let text: String = (1..=10).map(|i| format!("l{i}\n")).collect();
    let n = numbered(&text);
    assert!(n.starts_with(" 1 | l1\n"), "{n}");
    assert!(n.ends_with("10 | l10\n"), "{n}");
    assert_eq!(numbered(""), "");
}

#[test]
fn round_lines_name_each_component_its_class_and_counts() {
    let mut a = outcome(TestStatus::Passed, "");
    a.component = "backend".into();
    a.command = ".venv/bin/python -m pytest -q".into();
    a.passed = 68;
    let mut b = outcome(TestStatus::NoTests, "");
    b.component = "frontend".into();
    b.command = "npx vitest run".into();
    b.skipped = 2;
    let lines = round_lines(&[a, b]);
    assert_eq!(
        lines[0],
        "backend (`.venv/bin/python -m pytest -q`): passed, 68 passed, 0 failed"
    );
    assert_eq!(
        lines[1],
        "frontend (`npx vitest run`): ran no tests, 0 passed, 0 failed, 2 skipped"
    );
}

#[test]
fn a_failure_report_says_what_ran_and_keeps_the_outputs_tail() {
    let mut t = outcome(TestStatus::NoTests, &format!("{}END", "x".repeat(20_000)));
    t.lines = vec!["Ran 0 tests in 0.000s".into()];
    let report = failure_report(&[t]);
    assert!(
        report.starts_with("## project — no_tests (`cargo test --offline`)"),
        "{report}"
    );
    assert!(report.contains("executed no test"), "{report}");
    assert!(report.contains("> Ran 0 tests"), "{report}");
    assert!(report.trim_end().ends_with("END"), "{report}");
    assert!(report.len() < REPORT_BYTES + 1024);
}

/// Staged files by path → owner.
fn staged(owners: &[(&str, &str)]) -> BTreeMap<String, StagedFile> {
    owners
        .iter()
        .map(|(path, agent)| {
            let file = StagedFile {
                content: String::new(),
                agent: agent.to_string(),
                task: String::new(),
                change: crate::protocol::FileChange::New,
                accepted: true,
                base: None,
            };
            (path.to_string(), file)
        })
        .collect()
}

fn failing(status: TestStatus, component: &str, paths: &[&str]) -> TestOutcome {
    let mut t = outcome(status, "");
    t.component = component.into();
    t.paths = paths.iter().map(|p| p.to_string()).collect();
    t
}

fn component(name: &str, root: &str, manifests: &[&str]) -> Component {
    Component {
        name: name.into(),
        root: root.into(),
        setup: None,
        test: "pytest".into(),
        manifests: manifests.iter().map(|m| m.to_string()).collect(),
    }
}

fn routed(pairs: &[(&str, &[&str])]) -> BTreeMap<String, BTreeSet<String>> {
    pairs
        .iter()
        .map(|(agent, paths)| {
            let paths = paths.iter().map(|p| p.to_string()).collect();
            (agent.to_string(), paths)
        })
        .collect()
}

#[test]
fn a_failure_goes_to_the_owners_of_the_sources_it_names_not_of_the_tests() {
    let files = staged(&[
        ("app/core.py", "ada"),
        ("app/cli.py", "bob"),
        ("tests/test_core.py", "qa"),
    ]);
    let t = failing(
        TestStatus::Failed,
        "project",
        &["tests/test_core.py", "app/core.py"],
    );
    let to = route(&files, &[], &[t], "qa", "lead");
    assert_eq!(to, routed(&[("ada", &["app/core.py"])]));
    // Only a test named: its owner, the test writer.
    let t = failing(TestStatus::Failed, "project", &["tests/test_core.py"]);
    let to = route(&files, &[], &[t], "qa", "lead");
    assert_eq!(to, routed(&[("qa", &["tests/test_core.py"])]));
}

#[test]
fn a_failure_naming_no_staged_file_goes_to_the_test_writer() {
    let files = staged(&[("app/core.py", "ada")]);
    let t = failing(
        TestStatus::BuildFailed,
        "project",
        &["/usr/lib/python3/x.py"],
    );
    assert_eq!(
        route(&files, &[], &[t], "qa", "lead"),
        routed(&[("qa", &[])])
    );
    let t = failing(TestStatus::NoTests, "project", &["app/core.py"]);
    assert_eq!(
        route(&files, &[], &[t], "qa", "lead"),
        routed(&[("qa", &[])]),
        "no tests ran: the writer's, whatever is named"
    );
}

#[test]
fn a_failed_setup_goes_to_the_manifests_owner_else_the_lead() {
    let files = staged(&[
        ("backend/requirements.txt", "ada"),
        ("backend/app.py", "bob"),
    ]);
    let backend = component("backend", "backend", &["backend/requirements.txt"]);
    let frontend = component("frontend", "frontend", &["frontend/package.json"]);
    let t = failing(TestStatus::SetupFailed, "backend", &["backend/app.py"]);
    let to = route(&files, &[&backend, &frontend], &[t], "qa", "lead");
    assert_eq!(to, routed(&[("ada", &["backend/requirements.txt"])]));
    let t = failing(TestStatus::SetupFailed, "frontend", &[]);
    let to = route(&files, &[&backend, &frontend], &[t], "qa", "lead");
    assert_eq!(to, routed(&[("lead", &[])]), "nobody staged its manifest");
}

#[test]
fn the_files_under_repair_are_the_agents_in_the_failing_roots_and_the_named() {
    let files = staged(&[
        ("backend/app.py", "ada"),
        ("frontend/ui.js", "ada"),
        ("shared/util.py", "ada"),
        ("tests/test_app.py", "qa"),
        ("backend/other.py", "bob"),
    ]);
    let named: BTreeSet<String> = ["shared/util.py".to_string()].into();
    let files_of = under_repair(&files, "ada", &named, &["backend"], "qa");
    assert_eq!(files_of, vec!["backend/app.py", "shared/util.py"]);
    // The test writer repairs its tests wherever they are.
    let files_of = under_repair(&files, "qa", &BTreeSet::new(), &["backend"], "qa");
    assert_eq!(files_of, vec!["tests/test_app.py"]);
    // Nothing of the agent's in the roots or named: all of its files.
    let files_of = under_repair(&files, "ada", &BTreeSet::new(), &["nowhere"], "qa");
    assert_eq!(
        files_of,
        vec!["backend/app.py", "frontend/ui.js", "shared/util.py"]
    );
}
