//! Tests of the test loop's pure parts: what is the environment's, the
//! numbered files, the round's lines, the failure report.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::super::inputs::numbered;
use super::repairs::{REPORT_BYTES, failure_report};
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
