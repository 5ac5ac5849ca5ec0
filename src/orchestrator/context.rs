//! The context budget: a task's inputs are cut to fit the model's context
//! window before the prompt is built.
//!
//! Material is trimmed oldest first — the project map that was there before
//! the session, then the design plans, the staged files shown for reference,
//! the files of the tasks an implementer builds on, the other files a failure
//! names, the agent's memory, the project's instruction files (after the
//! memory: the project's rules outrank an agent's notes), the manifests, the
//! test output (its head; the tail with the summary stays), then the existing
//! files an implementer edits, and last the files under repair. The prompt,
//! requirements, answers, decisions and the task itself are never trimmed: when they alone
//! do not fit, the inputs are sent whole and [`Fit::over`] says so.
//!
//! The cut works on the inputs' JSON (the form the prompt shows, so the
//! estimate is of what is sent) and the typed inputs are read back from it:
//! a bulky input dropped whole reads back as
//! [`crate::protocol::inputs::Shown::Omitted`], so the offline team sees
//! exactly what the prompt shows.

use serde_json::Value;

use crate::protocol::inputs::{FileView, TaskInputs};

/// Input keys in the order they are trimmed; keys not listed are never trimmed.
pub const TRIM_ORDER: &[&str] = &[
    "project",
    "plans",
    "staged",
    "dependencies",
    "named",
    "files",
    "memory",
    "instructions",
    "manifest",
    "report",
    "existing",
    "current",
];

/// Keys whose whole value may be replaced by a note when cutting their long
/// strings was not enough (the others keep their shape).
const DROPPABLE: &[&str] = &[
    "project",
    "plans",
    "staged",
    "dependencies",
    "named",
    "memory",
    "instructions",
];

/// Strings shorter than this (in characters) are not worth cutting: paths,
/// names, short notes.
const MIN_CUT: usize = 256;

/// What [`fit`] did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Fit {
    /// The input keys that were trimmed, in trim order.
    pub trimmed: Vec<String>,
    /// Estimated tokens of the inputs before and after, by the estimator given.
    pub before: usize,
    /// See `before`.
    pub after: usize,
    /// `true` when even the untrimmable inputs exceed the budget.
    pub over: bool,
}

/// Cuts `context` (a task's inputs, a JSON object) until `estimate` of its
/// pretty-printed form is at most `budget` tokens. Long strings are replaced
/// by a note naming how many characters were left out (test output keeps its
/// tail); keys are visited in [`TRIM_ORDER`].
pub fn fit(context: &mut Value, budget: usize, estimate: &dyn Fn(&str) -> usize) -> Fit {
    let size = |v: &Value| estimate(&serde_json::to_string_pretty(v).unwrap_or_default());
    let before = size(context);
    let mut out = Fit {
        before,
        after: before,
        ..Fit::default()
    };
    if before <= budget {
        return out;
    }
    for key in TRIM_ORDER {
        let Some(value) = context.get_mut(*key) else {
            continue;
        };
        let mut excess = out.after.saturating_sub(budget);
        let mut touched = false;
        if *key == "report"
            && let Value::String(text) = value
        {
            touched = keep_tail(text, excess, estimate);
        } else {
            let mut leaves = Vec::new();
            long_strings(value, &mut Vec::new(), &mut leaves);
            leaves.sort_by_key(|l| std::cmp::Reverse(l.1));
            for (path, _) in leaves {
                if excess == 0 {
                    break;
                }
                if let Some(Value::String(text)) = pointer_mut(value, &path) {
                    let saved = estimate(text);
                    let note = omitted(text.chars().count());
                    excess = excess.saturating_sub(saved.saturating_sub(estimate(&note)));
                    *text = note;
                    touched = true;
                }
            }
        }
        out.after = size(context);
        if out.after > budget
            && DROPPABLE.contains(key)
            && let Some(value) = context.get_mut(*key)
        {
            let chars = serde_json::to_string(value).map(|s| s.len()).unwrap_or(0);
            *value = Value::String(omitted(chars));
            touched = true;
            out.after = size(context);
        }
        if touched {
            out.trimmed.push((*key).to_string());
        }
        if out.after <= budget {
            return out;
        }
    }
    out.over = out.after > budget;
    out
}

fn omitted(chars: usize) -> String {
    format!("(omitted to fit the model's context window: {chars} characters)")
}

/// Drops the head of `text` (whole lines, fewest possible) until its
/// estimate, escaped as in the prompt, is about `excess` tokens smaller;
/// `true` when anything was cut.
fn keep_tail(text: &mut String, excess: usize, estimate: &dyn Fn(&str) -> usize) -> bool {
    if excess == 0 || text.is_empty() {
        return false;
    }
    let escaped = |s: &str| estimate(&serde_json::to_string(s).unwrap_or_default());
    let note = estimate(&omitted(text.chars().count())) + 1;
    let target = escaped(text).saturating_sub(excess + note);
    // Line starts after the first; the last candidate keeps nothing.
    let mut cuts: Vec<usize> = text.match_indices('\n').map(|(i, _)| i + 1).collect();
    cuts.push(text.len());
    let first = cuts.partition_point(|&cut| escaped(&text[cut..]) > target);
    let cut = cuts.get(first).copied().unwrap_or(text.len());
    let chars = text[..cut].chars().count();
    let rest = text[cut..].to_string();
    *text = format!("{}\n{rest}", omitted(chars));
    true
}

/// Paths (object keys / array indices) to every string of at least
/// [`MIN_CUT`] characters under `value`, with its length; strings under a
/// `path` key are skipped.
fn long_strings(value: &Value, at: &mut Vec<Step>, out: &mut Vec<(Vec<Step>, usize)>) {
    match value {
        Value::String(s) => {
            let n = s.chars().count();
            if n >= MIN_CUT {
                out.push((at.clone(), n));
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                at.push(Step::Index(i));
                long_strings(item, at, out);
                at.pop();
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                if k == "path" {
                    continue;
                }
                at.push(Step::Key(k.clone()));
                long_strings(item, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Index(usize),
}

fn pointer_mut<'a>(mut value: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    for step in path {
        value = match step {
            Step::Key(k) => value.get_mut(k.as_str())?,
            Step::Index(i) => value.get_mut(*i)?,
        };
    }
    Some(value)
}

/// A task's inputs for one call: read typed from the task ([`TaskInputs`]),
/// with the agent's `memory` and (for an implementer) the `dependencies`'
/// files and its `existing` declared files added, then cut to fit `window` = (context tokens, reply tokens)
/// when one is known (see [`fit`]). Returns the JSON the prompt shows, the
/// same inputs typed (as the offline team reads them: trimmed alike), and
/// the transcript note saying what was cut, if anything was.
///
/// A task record whose inputs do not read as its kind's (none is expected)
/// is shown as recorded, untrimmed, and its typed inputs are `None`.
pub(crate) fn call_inputs(
    task: &super::actor::Task,
    memory: Option<&str>,
    dependencies: Vec<FileView>,
    existing: Vec<FileView>,
    role: &str,
    format: crate::protocol::file_blocks::EditFormat,
    window: Option<(u32, u32)>,
) -> (Value, Option<TaskInputs>, Option<String>) {
    let Ok(mut inputs) = TaskInputs::from_value(task.kind, task.context.clone()) else {
        return (task.context.clone(), None, None);
    };
    if let Some(notes) = memory {
        inputs.set_memory(notes);
    }
    if let TaskInputs::Implement(input) = &mut inputs {
        if !dependencies.is_empty() {
            input.dependencies = dependencies.into();
        }
        if !existing.is_empty() {
            input.existing = existing.into();
        }
    }
    let mut context = inputs.to_value();
    let Some((window, reply)) = window else {
        return (context, Some(inputs), None);
    };
    let note = fit_task(task, &mut context, role, format, (window, reply));
    if note.is_some() {
        match TaskInputs::from_value(task.kind, context.clone()) {
            Ok(trimmed) => inputs = trimmed,
            Err(e) => tracing::warn!(task = task.id, error = e, "trimmed inputs do not read back"),
        }
    }
    (context, Some(inputs), note)
}

/// Cuts a task's inputs (`context`, their JSON) to fit a context window of
/// `window` tokens with `reply` tokens kept free (see [`fit`]); returns the
/// transcript note saying what was cut, if anything was.
fn fit_task(
    task: &super::actor::Task,
    context: &mut Value,
    role: &str,
    format: crate::protocol::file_blocks::EditFormat,
    (window, reply): (u32, u32),
) -> Option<String> {
    let estimate = crate::llm::prompt_tokens_upper_bound;
    // Everything in the prompt but the inputs, plus a little per message.
    let frame: usize = super::prompts::build(role, task.kind, &task.title, &Value::Null, format)
        .iter()
        .chain(task.extra.iter())
        .map(|m| estimate(&m.content) + 8)
        .sum();
    let budget = (window as usize).saturating_sub(reply as usize + frame);
    let fit = fit(context, budget, &estimate);
    if fit.over {
        Some(format!(
            "⚠ the inputs need about {} tokens and the context window leaves {budget}; even the prompt, requirements and decisions do not fit (raise context_tokens or pick a larger model)",
            fit.after
        ))
    } else if !fit.trimmed.is_empty() {
        Some(format!(
            "✂ inputs trimmed to fit the {window}-token context window: {} (about {} → {} tokens)",
            fit.trimmed.join(", "),
            fit.before,
            fit.after
        ))
    } else {
        None
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chars(s: &str) -> usize {
        s.chars().count().div_ceil(3)
    }

    fn big(c: char, n: usize) -> String {
        std::iter::repeat_n(c, n).collect()
    }

    #[test]
    fn inputs_within_the_budget_are_untouched() {
        let mut context = json!({"prompt": "p", "project": {"key_files": {"a.py": big('a', 900)}}});
        let copy = context.clone();
        let fit = fit(&mut context, 10_000, &chars);
        assert_eq!(context, copy);
        assert!(fit.trimmed.is_empty() && !fit.over);
        assert_eq!(fit.before, fit.after);
    }

    #[test]
    fn the_oldest_material_goes_first_and_requirements_and_decisions_never() {
        let requirements = big('r', 3000);
        let mut context = json!({
            "prompt": "add a delete endpoint",
            "requirements": requirements,
            "decisions": {"storage": "sqlite"},
            "project": {"tree": ["a.py", "b.py"], "key_files": {"a.py": big('a', 6000), "b.py": big('b', 600)}},
            "plans": {"backend": big('p', 3000)},
            "current": [{"path": "a.py", "content": big('c', 3000)}],
        });
        let full = chars(&serde_json::to_string_pretty(&context).unwrap());
        // Room for everything except about the project's biggest file.
        let budget = full - 1500;
        let fit = fit(&mut context, budget, &chars);
        assert_eq!(fit.trimmed, vec!["project".to_string()]);
        assert!(fit.after <= budget && !fit.over, "{fit:?}");
        assert!(
            context["project"]["key_files"]["a.py"]
                .as_str()
                .unwrap()
                .starts_with("(omitted to fit the model's context window: 6000 characters")
        );
        assert_eq!(context["project"]["tree"], json!(["a.py", "b.py"]));
        assert_eq!(context["plans"]["backend"].as_str().unwrap().len(), 3000);
        assert_eq!(context["requirements"].as_str().unwrap(), requirements);

        // A much smaller window takes the plans and the project whole, then
        // the file under repair, and still never the requirements.
        let fit2 = super::fit(&mut context, 1200, &chars);
        assert_eq!(
            fit2.trimmed,
            vec!["project".to_string(), "plans".into(), "current".into()]
        );
        assert_eq!(context["requirements"].as_str().unwrap(), requirements);
        assert_eq!(context["decisions"], json!({"storage": "sqlite"}));
        assert_eq!(context["current"][0]["path"], "a.py", "paths are kept");
        assert!(fit2.after <= 1200, "{fit2:?}");
    }

    #[test]
    fn the_project_s_instructions_are_trimmed_after_the_agent_s_memory() {
        let mut context = json!({
            "prompt": "p",
            "memory": big('m', 3000),
            "instructions": [{"path": "AGENTS.md", "applies_to": "", "text": big('i', 3000)}],
        });
        let full = chars(&serde_json::to_string_pretty(&context).unwrap());
        // Room for the instructions, not for the memory as well.
        let fit = fit(&mut context, full - 500, &chars);
        assert_eq!(fit.trimmed, vec!["memory".to_string()]);
        assert_eq!(
            context["instructions"][0]["text"].as_str().unwrap().len(),
            3000
        );
        let fit = super::fit(&mut context, 200, &chars);
        assert_eq!(
            fit.trimmed,
            vec!["memory".to_string(), "instructions".into()]
        );
    }

    #[test]
    fn test_output_keeps_its_tail() {
        let mut report = String::new();
        for i in 0..400 {
            report.push_str(&format!("line {i} of the traceback\n"));
        }
        report.push_str("FAILED (failures=1)\n");
        let mut context = json!({"requirements": "r", "report": report});
        let full = chars(&serde_json::to_string_pretty(&context).unwrap());
        let fit = fit(&mut context, full / 2, &chars);
        assert_eq!(fit.trimmed, vec!["report".to_string()]);
        let kept = context["report"].as_str().unwrap();
        assert!(kept.starts_with("(omitted to fit"), "{kept:.80}");
        assert!(kept.ends_with("FAILED (failures=1)\n"));
        assert!(!kept.contains("line 0 of"));
        assert!(fit.after <= full / 2, "{fit:?}");
    }

    #[test]
    fn untrimmable_inputs_over_the_budget_are_reported() {
        let mut context = json!({"requirements": big('r', 3000), "plans": {"pm": big('p', 600)}});
        let fit = fit(&mut context, 100, &chars);
        assert!(fit.over);
        assert_eq!(fit.trimmed, vec!["plans".to_string()]);
        assert_eq!(context["requirements"].as_str().unwrap().len(), 3000);
    }
}
