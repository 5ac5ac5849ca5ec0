//! Each task kind's input: one struct per kind, built here from the session
//! and nowhere else, then serialised as the `# Inputs` JSON of the task's
//! prompt (`prompts.rs`). The keys are the prompts' contract with the models
//! (and with the offline team, which reads them back): `prompt`,
//! `requirements`, `decisions`, `answers`, `environment`, `summaries`,
//! `project`, and per kind the rest.
//!
//! Shared rules: each refine question appears once (as an answer, not again
//! among the requirements' questions and assumptions); files shown for
//! reference to a reviewer or a repair carry line numbers.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::actor::{Session, Task};
use super::outputs::{Conflict, ImplTask, Plan, Requirements};
use super::testing::environment;
use crate::protocol::TestStatus;

/// Bytes of staged files shown to the test writer or the reviewer, at most.
pub(crate) const STAGED_BYTES: usize = 96 * 1024;

/// Bytes of the files of the tasks an implementer builds on, at most.
pub(crate) const DEPENDENCY_BYTES: usize = 96 * 1024;

/// `text` with each line numbered from 1, right-aligned, as `  12 | code`.
pub(crate) fn numbered(text: &str) -> String {
    let width = text.lines().count().max(1).to_string().len();
    text.lines()
        .enumerate()
        .map(|(i, line)| format!("{:>width$} | {line}\n", i + 1))
        .collect()
}

/// A refine question with its answer (the person's, or the default assumed).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct Answer {
    pub question: String,
    pub answer: String,
}

/// What every kind past refine carries.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Shared {
    /// The person's prompt.
    pub prompt: String,
    /// The requirements without their questions, and without the assumptions
    /// that only restate a question's default (the answers say it).
    pub requirements: Option<Requirements>,
    /// Conflict id → the option decided.
    pub decisions: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub answers: Vec<Answer>,
    /// Tools and versions, how tests run, the components' commands.
    pub environment: Value,
    /// Task id → the summary line its reply began with.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub summaries: BTreeMap<String, String>,
    /// The project already in DIR.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<Value>,
}

impl Shared {
    /// The shared inputs as the session stands.
    pub fn of(s: &Session) -> Shared {
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
            project: s.live.project.clone(),
        }
    }
}

/// A file shown in a prompt.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct FileView {
    pub path: String,
    /// The content, or `(omitted: prompt budget)`.
    pub content: String,
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

/// Refine: the prompt, and DIR's project.
#[derive(Debug, Serialize)]
pub(crate) struct RequirementsInput {
    pub prompt: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<Value>,
}

/// Plan: the shared inputs.
#[derive(Debug, Serialize)]
pub(crate) struct PlanInput {
    #[serde(flatten)]
    pub shared: Shared,
}

/// Compare: the plans and who wrote them.
#[derive(Debug, Serialize)]
pub(crate) struct CompareInput {
    #[serde(flatten)]
    pub shared: Shared,
    pub plans: BTreeMap<String, Plan>,
    pub planners: Vec<String>,
}

/// Ballot: the conflict, what the project must do, and the voter's own plan.
#[derive(Debug, Serialize)]
pub(crate) struct BallotInput {
    pub prompt: String,
    pub requirements: Option<Requirements>,
    pub conflict: Conflict,
    pub plan: Option<Plan>,
}

/// One voter's ballot as the chair sees it (`None`: abstained).
#[derive(Debug, Serialize)]
pub(crate) struct CastBallot {
    pub agent: String,
    pub ballot: Option<super::outputs::Ballot>,
}

/// Chair: a tied conflict, its tally and ballots, and the requirements.
#[derive(Debug, Serialize)]
pub(crate) struct ChairInput {
    pub prompt: String,
    pub requirements: Option<Requirements>,
    pub conflict: Conflict,
    pub tally: BTreeMap<String, u32>,
    pub ballots: Vec<CastBallot>,
}

/// Repair: the files under repair (line-numbered in `current`), the failure
/// and the output's tail; for a failing test round also the failure per
/// component, other files it names and the components' manifests.
#[derive(Debug, Serialize)]
pub(crate) struct RepairInput {
    #[serde(flatten)]
    pub shared: Shared,
    pub files: Vec<String>,
    pub report: String,
    pub current: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<Value>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub named: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub manifest: BTreeMap<String, String>,
}

/// Breakdown: the plans and the agents that may own tasks.
#[derive(Debug, Serialize)]
pub(crate) struct BreakdownInput {
    #[serde(flatten)]
    pub shared: Shared,
    pub plans: BTreeMap<String, Plan>,
    pub agents: Vec<String>,
}

/// Implement: the task, its files, and the files the tasks it depends on
/// wrote (filled in when it starts, when they exist).
#[derive(Debug, Serialize)]
pub(crate) struct ImplementInput {
    #[serde(flatten)]
    pub shared: Shared,
    pub task: ImplTask,
    pub files: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<FileView>,
}

/// Tests: where tests may go, and the staged code.
#[derive(Debug, Serialize)]
pub(crate) struct TestsInput {
    #[serde(flatten)]
    pub shared: Shared,
    pub files: Vec<String>,
    pub staged: Vec<FileView>,
}

/// One component's last test run, as the reviewer sees it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct TestView {
    pub component: String,
    pub command: String,
    pub status: TestStatus,
    pub passed: u32,
    pub failed: u32,
    pub skipped: u32,
    pub failures: Vec<String>,
}

/// Review: the staged files with line numbers (findings name lines) and the
/// last test round's results.
#[derive(Debug, Serialize)]
pub(crate) struct ReviewInput {
    #[serde(flatten)]
    pub shared: Shared,
    pub files: Vec<FileView>,
    pub tests: Vec<TestView>,
}

impl RequirementsInput {
    /// Refine's input.
    pub fn of(s: &Session) -> Self {
        RequirementsInput {
            prompt: s.prompt.clone(),
            project: s.live.project.clone(),
        }
    }
}

impl CompareInput {
    /// Compare's input.
    pub fn of(s: &Session) -> Self {
        CompareInput {
            shared: Shared::of(s),
            plans: s.design.plans.clone(),
            planners: s.design.plans.keys().cloned().collect(),
        }
    }
}

impl BallotInput {
    /// `voter`'s ballot on `conflict`.
    pub fn of(s: &Session, conflict: &Conflict, voter: &str) -> Self {
        BallotInput {
            prompt: s.prompt.clone(),
            requirements: Shared::of(s).requirements,
            conflict: conflict.clone(),
            plan: s.design.plans.get(voter).cloned(),
        }
    }
}

impl ChairInput {
    /// The chair's input on tied `conflict`.
    pub fn of(s: &Session, conflict: &Conflict, tally: &BTreeMap<String, u32>) -> Self {
        ChairInput {
            prompt: s.prompt.clone(),
            requirements: Shared::of(s).requirements,
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
        }
    }
}

impl BreakdownInput {
    /// The breakdown's input; `agents` may own tasks.
    pub fn of(s: &Session, agents: &[String]) -> Self {
        BreakdownInput {
            shared: Shared::of(s),
            plans: s.design.plans.clone(),
            agents: agents.to_vec(),
        }
    }
}

impl ImplementInput {
    /// `task`'s input, before its dependencies are known.
    pub fn of(s: &Session, task: &ImplTask) -> Self {
        ImplementInput {
            shared: Shared::of(s),
            task: task.clone(),
            files: task.files.clone(),
            dependencies: Vec::new(),
        }
    }
}

impl TestsInput {
    /// The test writer's input; it may write `files`.
    pub fn of(s: &Session, files: &[String]) -> Self {
        TestsInput {
            shared: Shared::of(s),
            files: files.to_vec(),
            staged: staged(s, STAGED_BYTES, false),
        }
    }
}

impl ReviewInput {
    /// The reviewer's input.
    pub fn of(s: &Session) -> Self {
        ReviewInput {
            shared: Shared::of(s),
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

/// An input as the task's JSON context.
pub(crate) fn context<T: Serialize>(input: &T) -> Value {
    serde_json::to_value(input).unwrap_or(Value::Null)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::orchestrator::actor::{Decision, StagedFile};
    use crate::orchestrator::outputs::Question;
    use crate::orchestrator::scheduler::Scheduler;
    use crate::protocol::{DecidedBy, FileChange, Position, SessionId, SessionOptions};
    use crate::workspace::sandbox::TestOutcome;

    fn requirements() -> Requirements {
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
        s.design.requirements = Some(requirements());
        s.design.questions = requirements().questions;
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
                crate::llm::TaskKind::Implement,
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
        let shared = context(&Shared::of(&session()));
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
        let mut input = ImplementInput::of(&s, &task);
        input.dependencies = deps;
        let value = context(&input);
        assert_eq!(value["files"], serde_json::json!(["src/main.rs"]));
        assert_eq!(value["task"]["id"], "cli");
        assert_eq!(value["dependencies"][1]["path"], "src/lib.rs");
        assert_eq!(value["decisions"]["binary-name"], "wcu");
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
        let value = context(&BallotInput::of(&s, &conflict, "backend"));
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
        let value = context(&ReviewInput::of(&session()));
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
        let value = context(&TestsInput::of(&session(), &files));
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
        let compare = context(&CompareInput::of(&s));
        assert_eq!(compare["planners"], serde_json::json!([]));
        assert!(compare["plans"].is_object());
        let breakdown = context(&BreakdownInput::of(&s, &["backend".into(), "pm".into()]));
        assert_eq!(breakdown["agents"], serde_json::json!(["backend", "pm"]));
        let plan = context(&PlanInput {
            shared: Shared::of(&s),
        });
        assert_eq!(plan["prompt"], "Rust CLI that counts words");
        let refine = context(&RequirementsInput::of(&s));
        assert_eq!(
            refine,
            serde_json::json!({"prompt": "Rust CLI that counts words"})
        );
    }
}
