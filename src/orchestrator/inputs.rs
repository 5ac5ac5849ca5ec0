//! Each task kind's input, built here from the session and nowhere else: the
//! types are [`crate::protocol::inputs`] (one per kind, gathered in
//! [`TaskInputs`]); their JSON is the `# Inputs` of the task's prompt
//! (`prompts.rs`) and what the offline team reads back, typed.
//!
//! Shared rules: each refine question appears once (as an answer, not again
//! among the requirements' questions and assumptions); files shown for
//! reference to a reviewer or a repair carry line numbers.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::actor::{Session, Task};
use super::testing::environment;
use crate::protocol::documents::{Conflict, ImplTask};
pub(crate) use crate::protocol::inputs::{
    Answer, BallotInput, BreakdownInput, CastBallot, ChairInput, CompareInput, FileView,
    ImplementInput, Instruction, PlanInput, ProjectView, RepairInput, RequirementsInput,
    ReviewInput, Shared, Shown, TestView, TestsInput,
};

/// Bytes of staged files shown to the test writer or the reviewer, at most.
pub(crate) const STAGED_BYTES: usize = 96 * 1024;

/// Bytes of the files of the tasks an implementer builds on, at most.
pub(crate) const DEPENDENCY_BYTES: usize = 96 * 1024;

/// Bytes of an implementer's declared files that already exist, at most
/// (a 2,000-line source file is about 80 KiB).
pub(crate) const EXISTING_BYTES: usize = 256 * 1024;

/// `text` with each line numbered from 1, right-aligned, as `  12 | code`.
pub(crate) fn numbered(text: &str) -> String {
    let width = text.lines().count().max(1).to_string().len();
    text.lines()
        .enumerate()
        .map(|(i, line)| format!("{:>width$} | {line}\n", i + 1))
        .collect()
}

/// DIR's project map as the session keeps it (the `state`/`project` record),
/// typed; `None` without one (or, never expected, with one of another shape).
fn project(s: &Session) -> Option<Shown<ProjectView>> {
    let map = serde_json::from_value(s.live.project.clone()?).ok()?;
    Some(Shown::Whole(map))
}

/// The project's instruction files as the session keeps them (beside the
/// project map in the `state`/`project` record, read once at the start).
fn instructions(s: &Session) -> Shown<Vec<Instruction>> {
    let found = s
        .live
        .project
        .as_ref()
        .and_then(|p| p.get("instructions"))
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    Shown::Whole(found)
}

/// The shared inputs as the session stands.
pub(crate) fn shared(s: &Session) -> Shared {
    let answers = s
        .design
        .questions
        .iter()
        .filter_map(|q| {
            Some(Answer {
                question: q.text.clone(),
                answer: s.design.answers.get(&q.id)?.clone(),
            })
        })
        .collect();
    let requirements = s.design.requirements.as_ref().map(|r| {
        let mut r = r.clone();
        r.questions.clear();
        r.assumptions.retain(|a| {
            !s.design
                .questions
                .iter()
                .any(|q| a.starts_with(&format!("{} — assumed:", q.text)))
        });
        r
    });
    Shared {
        prompt: s.prompt.clone(),
        requirements,
        decisions: s
            .design
            .decisions
            .iter()
            .map(|(k, d)| (k.clone(), d.option.clone()))
            .collect(),
        answers,
        environment: environment(&s.tests.components),
        summaries: s.work.summaries.clone(),
        project: project(s),
        instructions: instructions(s),
        memory: None,
    }
}

/// The staged files in path order, whole (or, with `numbers`, line-numbered)
/// while they fit in `limit` bytes; the rest named with their content
/// omitted.
fn staged(s: &Session, limit: usize, numbers: bool) -> Vec<FileView> {
    let mut used = 0;
    s.work
        .files
        .iter()
        .map(|(path, file)| {
            let content = if used + file.content.len() > limit {
                "(omitted: prompt budget)".to_string()
            } else {
                used += file.content.len();
                if numbers {
                    numbered(&file.content)
                } else {
                    file.content.clone()
                }
            };
            FileView {
                path: path.clone(),
                content,
            }
        })
        .collect()
}

/// Refine's input: the prompt, and DIR's project.
pub(crate) fn requirements(s: &Session) -> RequirementsInput {
    RequirementsInput {
        prompt: s.prompt.clone(),
        project: project(s),
        instructions: instructions(s),
        memory: None,
    }
}

/// A planner's input: the shared inputs.
pub(crate) fn plan(s: &Session) -> PlanInput {
    PlanInput { shared: shared(s) }
}

/// Compare's input: the plans and who wrote them.
pub(crate) fn compare(s: &Session) -> CompareInput {
    CompareInput {
        shared: shared(s),
        plans: Shown::Whole(s.design.plans.clone()),
        planners: s.design.plans.keys().cloned().collect(),
    }
}

/// `voter`'s ballot on `conflict`: the conflict, what the project must do,
/// and the voter's own plan.
pub(crate) fn ballot(s: &Session, conflict: &Conflict, voter: &str) -> BallotInput {
    BallotInput {
        prompt: s.prompt.clone(),
        requirements: shared(s).requirements,
        conflict: conflict.clone(),
        plan: s.design.plans.get(voter).cloned(),
        instructions: instructions(s),
        memory: None,
    }
}

/// The chair's input on tied `conflict`: its tally and ballots, and the
/// requirements.
pub(crate) fn chair(s: &Session, conflict: &Conflict, tally: &BTreeMap<String, u32>) -> ChairInput {
    ChairInput {
        prompt: s.prompt.clone(),
        requirements: shared(s).requirements,
        conflict: conflict.clone(),
        tally: tally.clone(),
        ballots: s
            .design
            .ballots
            .get(&conflict.id)
            .map(|b| {
                b.iter()
                    .map(|(agent, ballot)| CastBallot {
                        agent: agent.clone(),
                        ballot: ballot.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        instructions: instructions(s),
        memory: None,
    }
}

/// The breakdown's input: the plans; `agents` may own tasks.
pub(crate) fn breakdown(s: &Session, agents: &[String]) -> BreakdownInput {
    BreakdownInput {
        shared: shared(s),
        plans: Shown::Whole(s.design.plans.clone()),
        agents: agents.to_vec(),
    }
}

/// `task`'s input, before its dependencies are known (see [`dependencies`]).
pub(crate) fn implement(s: &Session, task: &ImplTask) -> ImplementInput {
    ImplementInput {
        shared: shared(s),
        task: task.clone(),
        files: task.files.clone(),
        dependencies: Shown::default(),
        existing: Shown::default(),
    }
}

/// The test writer's input: it may write `files`; the staged code.
pub(crate) fn tests(s: &Session, files: &[String]) -> TestsInput {
    TestsInput {
        shared: shared(s),
        files: files.to_vec(),
        staged: Shown::Whole(staged(s, STAGED_BYTES, false)),
    }
}

/// The reviewer's input: the staged files with line numbers (findings name
/// lines) and the last test round's results.
pub(crate) fn review(s: &Session) -> ReviewInput {
    ReviewInput {
        shared: shared(s),
        files: staged(s, STAGED_BYTES, true),
        tests: s
            .tests
            .last_tests
            .iter()
            .map(|t| TestView {
                component: t.component.clone(),
                command: t.command.clone(),
                status: t.status,
                passed: t.passed,
                failed: t.failed,
                skipped: t.skipped,
                failures: t.failures.iter().take(20).cloned().collect(),
            })
            .collect(),
    }
}

/// The files that `task`'s dependencies (the tasks it waits for, and theirs)
/// staged, smallest first within [`DEPENDENCY_BYTES`] (the interfaces a task
/// builds on are usually the short modules), then in path order; the rest
/// named with their content omitted. Empty for a task without dependencies.
pub(crate) fn dependencies(s: &Session, task: &Task) -> Vec<FileView> {
    let mut ancestors: Vec<&str> = Vec::new();
    let mut stack: Vec<&str> = task.deps.iter().map(String::as_str).collect();
    while let Some(id) = stack.pop() {
        if ancestors.contains(&id) {
            continue;
        }
        ancestors.push(id);
        if let Some(t) = s.work.tasks.get(id) {
            stack.extend(t.deps.iter().map(String::as_str));
        }
    }
    let mut files: Vec<(&String, &String)> = s
        .work
        .files
        .iter()
        .filter(|(_, f)| ancestors.contains(&f.task.as_str()))
        .map(|(p, f)| (p, &f.content))
        .collect();
    files.sort_by_key(|(p, c)| (c.len(), p.as_str()));
    let mut used = 0;
    let mut views: Vec<FileView> = files
        .into_iter()
        .map(|(path, content)| {
            let shown = if used + content.len() > DEPENDENCY_BYTES {
                "(omitted: prompt budget)".to_string()
            } else {
                used += content.len();
                content.clone()
            };
            FileView {
                path: path.clone(),
                content: shown,
            }
        })
        .collect();
    views.sort_by(|a, b| a.path.cmp(&b.path));
    views
}

/// The files `task` declares (not its directories) that already exist: as
/// staged earlier in the session, else as `read` finds them in DIR (`None`:
/// absent, or not text). Whole and without line numbers, in path order,
/// while they fit in [`EXISTING_BYTES`]; the rest named with their content
/// omitted. An implementer's SEARCH text is copied from these
/// (docs/design.md §1, "Edits").
pub(crate) fn existing(
    s: &Session,
    task: &Task,
    read: &dyn Fn(&str) -> Option<String>,
) -> Vec<FileView> {
    let mut paths: Vec<String> = task
        .declared
        .iter()
        .filter(|d| !d.ends_with('/'))
        .filter_map(|d| crate::workspace::paths::normalize(d).ok())
        .collect();
    paths.sort();
    paths.dedup();
    let mut used = 0;
    paths
        .into_iter()
        .filter_map(|path| {
            let content = match s.work.files.get(&path) {
                Some(staged) => staged.content.clone(),
                None => read(&path)?,
            };
            let shown = if used + content.len() > EXISTING_BYTES {
                "(omitted: prompt budget)".to_string()
            } else {
                used += content.len();
                content
            };
            Some(FileView {
                path,
                content: shown,
            })
        })
        .collect()
}

/// An input as the task's JSON context.
pub(crate) fn context<T: Serialize>(input: &T) -> Value {
    serde_json::to_value(input).unwrap_or(Value::Null)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::orchestrator::actor::{Decision, StagedFile};
    use crate::orchestrator::scheduler::Scheduler;
    use crate::protocol::TestStatus;
    use crate::protocol::documents::Question;
    use crate::protocol::documents::Requirements;
    use crate::protocol::inputs::TaskInputs;
    use crate::protocol::{DecidedBy, FileChange, Position, SessionId, SessionOptions};
    use crate::workspace::sandbox::TestOutcome;

    fn sample_requirements() -> Requirements {
        Requirements {
            summary: "A word counter.".into(),
            goals: vec!["Count words like wc.".into()],
            constraints: vec!["Rust.".into()],
            acceptance_criteria: vec!["`wcu -w` prints 3 for `a b c`.".into()],
            assumptions: vec![
                "UTF-8 input.".into(),
                "Count graphemes? — assumed: code points".into(),
            ],
            questions: vec![Question {
                id: "q1".into(),
                text: "Count graphemes?".into(),
                default: "code points".into(),
            }],
        }
    }

    /// A session at implement: requirements with one question answered by
    /// its default, one decision, two tasks (`cli` depends on `core`, whose
    /// files are staged), and a test round.
    fn session() -> Session {
        let record = crate::orchestrator::session::placeholder_record();
        let mut s = Session::new(
            SessionId::new(),
            "Rust CLI that counts words".into(),
            SessionOptions::default(),
            record,
            Scheduler::default(),
            None,
        );
        s.design.requirements = Some(sample_requirements());
        s.design.questions = sample_requirements().questions;
        s.design.answers.insert("q1".into(), "code points".into());
        s.design.decisions.insert(
            "binary-name".into(),
            Decision {
                option: "wcu".into(),
                decided_by: DecidedBy::Vote,
                tally: BTreeMap::new(),
                rationale: String::new(),
            },
        );
        let task = |id: &str, deps: &[&str]| {
            let mut t = Actor::new_task(
                id.into(),
                "backend",
                "implement",
                crate::protocol::TaskKind::Implement,
                id.into(),
                Value::Null,
            );
            t.deps = deps.iter().map(|d| d.to_string()).collect();
            t
        };
        s.work
            .tasks
            .insert("implement.core".into(), task("implement.core", &[]));
        s.work.tasks.insert(
            "implement.cli".into(),
            task("implement.cli", &["implement.core"]),
        );
        for (path, task, content) in [
            (
                "src/lib.rs",
                "implement.core",
                "pub fn count(s: &str) -> usize {\n    s.split_whitespace().count()\n}\n",
            ),
            (
                "Cargo.toml",
                "implement.core",
                "[package]\nname = \"wcu\"\n",
            ),
            ("README.md", "implement.docs", "# wcu\n"),
        ] {
            s.work.files.insert(
                path.into(),
                StagedFile {
                    content: content.into(),
                    agent: "backend".into(),
                    task: task.into(),
                    change: FileChange::New,
                    accepted: true,
                    base: None,
                },
            );
        }
        s.tests.last_tests = vec![TestOutcome {
            component: "project".into(),
            command: "cargo test --offline".into(),
            status: TestStatus::Passed,
            passed: 39,
            failed: 0,
            skipped: 0,
            failures: Vec::new(),
            lines: Vec::new(),
            paths: Vec::new(),
            output: "test result: ok. 39 passed".into(),
            duration: std::time::Duration::ZERO,
            network_isolated: true,
            isolation: Default::default(),
        }];
        s
    }

    use super::super::actor::Actor;

    /// How often `needle` appears in the JSON of `value`.
    fn count(value: &Value, needle: &str) -> usize {
        value.to_string().matches(needle).count()
    }

    #[test]
    fn the_shared_inputs_carry_each_refine_question_once() {
        let shared = context(&shared(&session()));
        assert_eq!(count(&shared, "Count graphemes?"), 1, "{shared}");
        assert_eq!(shared["answers"][0]["answer"], "code points");
        assert_eq!(
            shared["requirements"]["assumptions"],
            serde_json::json!(["UTF-8 input."])
        );
        assert_eq!(shared["requirements"]["questions"], serde_json::json!([]));
        assert_eq!(shared["decisions"]["binary-name"], "wcu");
        assert!(
            shared["environment"]["tests"]
                .as_str()
                .unwrap()
                .contains("without the network")
        );
        assert!(shared.get("project").is_none());
    }

    #[test]
    fn an_implementer_sees_the_files_of_the_tasks_it_depends_on() {
        let s = session();
        let cli = s.work.tasks["implement.cli"].clone();
        let deps = dependencies(&s, &cli);
        let paths: Vec<&str> = deps.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            ["Cargo.toml", "src/lib.rs"],
            "core's files, not docs'"
        );
        assert!(deps[1].content.contains("pub fn count"));
        let core = s.work.tasks["implement.core"].clone();
        assert!(dependencies(&s, &core).is_empty());
        let task = ImplTask {
            id: "cli".into(),
            agent: "frontend".into(),
            title: "the binary".into(),
            files: vec!["src/main.rs".into()],
            depends_on: vec!["core".into()],
            description: "Call `wcu::count`.".into(),
        };
        let mut input = implement(&s, &task);
        input.dependencies = deps.into();
        let value = context(&input);
        assert_eq!(value["files"], serde_json::json!(["src/main.rs"]));
        assert_eq!(value["task"]["id"], "cli");
        assert_eq!(value["dependencies"][1]["path"], "src/lib.rs");
        assert_eq!(value["decisions"]["binary-name"], "wcu");
    }

    #[test]
    fn an_implementer_sees_its_declared_files_that_exist_whole() {
        let s = session();
        let mut task = s.work.tasks["implement.cli"].clone();
        task.declared = vec![
            "src/lib.rs".into(),
            "./src/main.rs".into(),
            "src/new.rs".into(),
            "docs/".into(),
        ];
        // DIR holds main.rs and an older lib.rs; the staged lib.rs wins.
        let read = |p: &str| match p {
            "src/main.rs" => Some("fn main() {}\n".to_string()),
            "src/lib.rs" => Some("// old\n".to_string()),
            _ => None,
        };
        let files = existing(&s, &task, &read);
        let shown: Vec<(&str, &str)> = files
            .iter()
            .map(|f| (f.path.as_str(), f.content.as_str()))
            .collect();
        assert_eq!(
            shown,
            [
                (
                    "src/lib.rs",
                    "pub fn count(s: &str) -> usize {\n    s.split_whitespace().count()\n}\n"
                ),
                ("src/main.rs", "fn main() {}\n"),
            ],
            "whole, unnumbered, staged first; no directory, nothing absent"
        );
        let big = "x".repeat(EXISTING_BYTES);
        let read_big = |p: &str| (p == "src/main.rs").then(|| big.clone());
        let files = existing(&s, &task, &read_big);
        assert_eq!(files[1].content, "(omitted: prompt budget)");
    }

    #[test]
    fn a_voter_sees_the_requirements_the_conflict_and_its_own_plan() {
        let s = session();
        let conflict = Conflict {
            id: "binary-name".into(),
            topic: "Name of the binary".into(),
            options: vec!["wcu".into(), "wc-rs".into()],
            positions: vec![Position {
                agent: "backend".into(),
                option: "wcu".into(),
                quote: "wcu".into(),
            }],
            blocking: false,
            needs_human: false,
        };
        let value = context(&ballot(&s, &conflict, "backend"));
        assert_eq!(value["requirements"]["goals"][0], "Count words like wc.");
        assert_eq!(
            value["conflict"]["options"],
            serde_json::json!(["wcu", "wc-rs"])
        );
        assert!(value["plan"].is_null(), "no plan was written");
        assert_eq!(count(&value, "Count graphemes?"), 0);
    }

    #[test]
    fn the_reviewer_sees_line_numbered_files_and_the_test_results() {
        let value = context(&review(&session()));
        let lib = value["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == "src/lib.rs")
            .unwrap();
        assert_eq!(
            lib["content"],
            "1 | pub fn count(s: &str) -> usize {\n2 |     s.split_whitespace().count()\n3 | }\n"
        );
        assert_eq!(value["tests"][0]["component"], "project");
        assert_eq!(value["tests"][0]["status"], "passed");
        assert_eq!(value["tests"][0]["passed"], 39);
    }

    #[test]
    fn the_test_writer_sees_where_tests_may_go_and_the_staged_code() {
        let files = vec!["tests/".to_string()];
        let value = context(&tests(&session(), &files));
        assert_eq!(value["files"], serde_json::json!(["tests/"]));
        assert_eq!(value["staged"].as_array().unwrap().len(), 3);
        assert_eq!(value["staged"][2]["path"], "src/lib.rs");
        assert!(
            value["staged"][2]["content"]
                .as_str()
                .unwrap()
                .starts_with("pub fn count")
        );
    }

    #[test]
    fn compare_and_breakdown_carry_the_plans_and_refine_the_prompt() {
        let s = session();
        let compare = context(&compare(&s));
        assert_eq!(compare["planners"], serde_json::json!([]));
        assert!(compare["plans"].is_object());
        let breakdown = context(&breakdown(&s, &["backend".into(), "pm".into()]));
        assert_eq!(breakdown["agents"], serde_json::json!(["backend", "pm"]));
        let plan = context(&plan(&s));
        assert_eq!(plan["prompt"], "Rust CLI that counts words");
        let refine = context(&requirements(&s));
        assert_eq!(
            refine,
            serde_json::json!({"prompt": "Rust CLI that counts words"})
        );
    }

    #[test]
    fn every_kind_reads_back_from_its_json_as_it_was_built() {
        let s = session();
        let conflict = Conflict {
            id: "storage".into(),
            options: vec!["a".into(), "b".into()],
            ..Conflict::default()
        };
        let task = ImplTask {
            id: "core".into(),
            files: vec!["a.py".into()],
            ..ImplTask::default()
        };
        let built = [
            TaskInputs::Requirements(requirements(&s)),
            TaskInputs::Plan(plan(&s)),
            TaskInputs::Compare(compare(&s)),
            TaskInputs::Ballot(ballot(&s, &conflict, "backend")),
            TaskInputs::Chair(chair(&s, &conflict, &BTreeMap::new())),
            TaskInputs::Breakdown(breakdown(&s, &["pm".into()])),
            TaskInputs::Implement(implement(&s, &task)),
            TaskInputs::Tests(tests(&s, &["tests/".into()])),
            TaskInputs::Review(review(&s)),
        ];
        for inputs in built {
            let json = context(&inputs);
            let back = TaskInputs::from_value(inputs.kind(), json.clone()).unwrap();
            assert_eq!(back, inputs, "{json}");
            assert_eq!(back.prompt(), "Rust CLI that counts words");
        }
    }
}
