//! The Markdown report of `quorum sessions export --format md`: prompt,
//! requirements, plans, conflicts with ballots and decisions, tasks, test
//! results, findings, files, commit, tokens and cost, each a section read
//! from the session's stored outputs, records and events.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

use super::SessionExport;
use crate::commands::sessions::tokens;
use crate::orchestrator::outputs::{Conflict, Conflicts, Findings, Plan, Requirements};
use crate::protocol::EventBody;

impl SessionExport {
    /// The readable report: prompt, requirements, plans, conflicts with ballots
    /// and decisions, tasks, test results, findings, files, commit, tokens and cost.
    pub fn markdown(&self) -> String {
        let s = &self.session;
        let mut md = String::new();
        let _ = writeln!(md, "# quorum session {}\n", s.id);
        let _ = writeln!(md, "| | |\n|---|---|");
        let mut row = |k: &str, v: String| {
            let _ = writeln!(md, "| {k} | {} |", cell(&v));
        };
        row("Directory", format!("`{}`", s.dir));
        row("Status", s.status_label().to_string());
        row("Phase", s.phase.clone());
        row("Workflow", s.workflow.clone());
        row("Started", s.created_at.clone());
        row("Last change", s.updated_at.clone());
        if s.offline {
            row("Provider", crate::config::OFFLINE_LABEL.to_string());
        }
        row(
            "Commit",
            s.commit
                .as_deref()
                .map(|c| format!("`{c}`"))
                .unwrap_or_else(|| "none".into()),
        );
        row(
            "Tokens",
            format!("{} in · {} out", s.tokens_in, s.tokens_out),
        );
        row("Cost", format!("${:.4}", s.cost_usd));

        md.push_str("\n## Prompt\n\n");
        for line in s.prompt.lines() {
            let _ = writeln!(md, "> {line}");
        }
        self.phases_md(&mut md);
        self.requirements_md(&mut md);
        self.plans_md(&mut md);
        self.conflicts_md(&mut md);
        self.tasks_md(&mut md);
        self.tests_md(&mut md);
        self.findings_md(&mut md);
        self.files_md(&mut md);
        self.commit_md(&mut md);
        self.cost_md(&mut md);
        md
    }

    fn phases_md(&self, md: &mut String) {
        let mut rows: Vec<(String, String, String, Option<String>)> = Vec::new();
        for e in &self.events {
            match &e.body {
                EventBody::PhaseStarted { phase, kind } => {
                    rows.push((phase.clone(), kind.clone(), e.at.clone(), None));
                }
                EventBody::PhaseFinished { phase, .. } => {
                    if let Some(r) = rows.iter_mut().rev().find(|r| &r.0 == phase) {
                        r.3 = Some(e.at.clone());
                    }
                }
                _ => {}
            }
        }
        if rows.is_empty() {
            return;
        }
        md.push_str("\n## Phases\n\n| phase | kind | started (UTC) | took |\n|---|---|---|---|\n");
        for (phase, kind, start, end) in rows {
            let took = end
                .as_deref()
                .and_then(|end| seconds_between(&start, end))
                .map(|s| {
                    if s < 1.0 {
                        format!("{} ms", (s * 1000.0).round())
                    } else {
                        format!("{s:.1} s")
                    }
                })
                .unwrap_or_else(|| "unfinished".into());
            // `2026-01-05T14:02:03.123456Z` → `14:02:03.123`
            let clock: String = start.chars().skip(11).take(12).collect();
            let _ = writeln!(md, "| {phase} | {kind} | {clock} | {took} |");
        }
    }

    fn requirements_md(&self, md: &mut String) {
        let Some(value) = self.output("requirements") else {
            return;
        };
        md.push_str("\n## Requirements\n\n");
        let Ok(req) = serde_json::from_value::<Requirements>(value.clone()) else {
            raw_json(md, value);
            return;
        };
        let _ = writeln!(md, "{}\n", req.summary.trim());
        for (title, items) in [
            ("Goals", &req.goals),
            ("Constraints", &req.constraints),
            ("Acceptance criteria", &req.acceptance_criteria),
            ("Assumptions", &req.assumptions),
        ] {
            if items.is_empty() {
                continue;
            }
            let _ = writeln!(md, "### {title}\n");
            for item in items {
                let _ = writeln!(md, "- {}", one_line(item));
            }
            md.push('\n');
        }
        if !req.questions.is_empty() {
            md.push_str("### Questions\n\n");
            for q in &req.questions {
                let answered = self.bodies().find_map(|b| match b {
                    EventBody::QuestionAnswered { id, answer, by } if id == &q.id => {
                        Some((answer.clone(), by.clone()))
                    }
                    _ => None,
                });
                let answer = match answered {
                    Some((answer, by)) => format!("{} (answered by {by})", one_line(&answer)),
                    None => "not answered".into(),
                };
                let _ = writeln!(md, "- **{}** {} — {answer}", q.id, one_line(&q.text));
            }
        }
    }

    fn plans_md(&self, md: &mut String) {
        let plans: Vec<(&str, &Value)> = self.outputs_under("plan/").collect();
        if plans.is_empty() {
            return;
        }
        md.push_str("\n## Plans\n");
        for (agent, value) in plans {
            let _ = writeln!(md, "\n### {agent}\n");
            let Ok(plan) = serde_json::from_value::<Plan>(value.clone()) else {
                raw_json(md, value);
                continue;
            };
            let _ = writeln!(md, "{}\n", plan.summary.trim());
            let _ = writeln!(md, "- **Stack:** {}", plan.stack.join(", "));
            if !plan.components.is_empty() {
                md.push_str("- **Components:**\n");
                for c in &plan.components {
                    let _ = writeln!(md, "  - {}: {}", c.name, one_line(&c.responsibility));
                }
            }
            let _ = writeln!(md, "- **Data model:** {}", one_line(&plan.data_model));
            if !plan.api.is_empty() {
                md.push_str("- **API:**\n");
                for op in &plan.api {
                    let _ = writeln!(md, "  - `{}`", op.replace('`', "'"));
                }
            }
            if !plan.decisions.is_empty() {
                md.push_str("- **Decisions:**\n");
                for d in &plan.decisions {
                    let _ = writeln!(
                        md,
                        "  - {}: **{}** — {}",
                        d.topic,
                        d.choice,
                        one_line(&d.rationale)
                    );
                }
            }
        }
    }

    fn conflicts_md(&self, md: &mut String) {
        let Some(value) = self.output("conflicts") else {
            return;
        };
        md.push_str("\n## Conflicts\n");
        let Ok(conflicts) = serde_json::from_value::<Conflicts>(value.clone()) else {
            md.push('\n');
            raw_json(md, value);
            return;
        };
        if conflicts.conflicts.is_empty() {
            md.push_str("\nThe plans agreed: no conflict.\n");
        }
        for k in &conflicts.conflicts {
            self.conflict_md(md, k);
        }
    }

    /// One conflict: its options and positions, the ballots cast on it, the
    /// decision and the person's overrides.
    fn conflict_md(&self, md: &mut String, k: &Conflict) {
        let _ = writeln!(
            md,
            "\n### {} (`{}`{})\n",
            k.topic,
            k.id,
            if k.blocking { ", blocking" } else { "" }
        );
        let _ = writeln!(md, "Options: {}\n", k.options.join(" · "));
        if !k.positions.is_empty() {
            md.push_str("Positions:\n\n");
            for p in &k.positions {
                let _ = writeln!(
                    md,
                    "- **{}** → {}: “{}”",
                    p.agent,
                    p.option,
                    one_line(&p.quote)
                );
            }
            md.push('\n');
        }
        self.ballots_md(md, &k.id);
        self.decision_md(md, &k.id);
        for b in self.bodies() {
            if let EventBody::DecisionOverridden {
                conflict,
                from,
                to,
                note,
            } = b
                && conflict == &k.id
            {
                let _ = writeln!(
                    md,
                    "\nOverridden by the person: {} → {to}: {}",
                    from.as_deref().unwrap_or("undecided"),
                    one_line(note)
                );
            }
        }
    }

    /// The ballots cast on conflict `id`, as a table (nothing when none were).
    fn ballots_md(&self, md: &mut String, id: &str) {
        let ballots: Vec<(&String, &Option<String>, &String)> = self
            .bodies()
            .filter_map(|b| match b {
                EventBody::VoteCast {
                    conflict,
                    agent,
                    option,
                    rationale,
                } if conflict == id => Some((agent, option, rationale)),
                _ => None,
            })
            .collect();
        if !ballots.is_empty() {
            md.push_str("| voter | ballot | rationale |\n|---|---|---|\n");
            for (agent, option, rationale) in ballots {
                let option = option.as_deref().unwrap_or("abstained");
                let _ = writeln!(md, "| {agent} | {option} | {} |", cell(rationale));
            }
            md.push('\n');
        }
    }

    /// The decision on conflict `id`: the option, who decided, the tally
    /// and the rationale, or "none yet".
    fn decision_md(&self, md: &mut String, id: &str) {
        let resolved = self.bodies().find_map(|b| match b {
            EventBody::ConflictResolved {
                conflict,
                decided_by,
                tally,
                ..
            } if conflict == id => Some((*decided_by, tally.clone())),
            _ => None,
        });
        match self.output(&format!("decision/{id}")) {
            Some(d) => {
                let by = d["decided_by"].as_str().unwrap_or("?");
                let tally = resolved
                    .as_ref()
                    .map(|(_, t)| {
                        t.iter()
                            .map(|(o, n)| format!("{o} {n}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default();
                let _ = writeln!(
                    md,
                    "**Decision:** {} — by {by}{} — {}",
                    d["option"].as_str().unwrap_or("?"),
                    if tally.is_empty() {
                        String::new()
                    } else {
                        format!(" (tally: {tally})")
                    },
                    one_line(d["rationale"].as_str().unwrap_or(""))
                );
            }
            None => md.push_str("**Decision:** none yet\n"),
        }
    }

    fn tasks_md(&self, md: &mut String) {
        let Some(tasks) = self.records.get("task") else {
            return;
        };
        // In the order they were queued.
        let mut order: Vec<&str> = Vec::new();
        for b in self.bodies() {
            if let EventBody::TaskQueued { task, .. } = b
                && !order.contains(&task.as_str())
            {
                order.push(task);
            }
        }
        for name in tasks.keys() {
            if !order.contains(&name.as_str()) {
                order.push(name);
            }
        }
        md.push_str(
            "\n## Tasks\n\n| task | agent | phase | kind | state | tokens in | tokens out | title |\n|---|---|---|---|---|---|---|---|\n",
        );
        for name in order {
            let Some(t) = tasks.get(name) else {
                continue;
            };
            let mut state = t["state"].as_str().unwrap_or("?").to_string();
            if let Some(error) = t["error"].as_str() {
                state = format!("{state}: {error}");
            }
            let _ = writeln!(
                md,
                "| `{name}` | {} | {} | {} | {} | {} | {} | {} |",
                t["agent"].as_str().unwrap_or(""),
                t["phase"].as_str().unwrap_or(""),
                t["kind"].as_str().unwrap_or(""),
                cell(&state),
                t["usage"]["input_tokens"].as_u64().unwrap_or(0),
                t["usage"]["output_tokens"].as_u64().unwrap_or(0),
                cell(t["title"].as_str().unwrap_or(""))
            );
        }
    }

    fn tests_md(&self, md: &mut String) {
        // `test/ROUND/COMPONENT` (older sessions: `test/ROUND`).
        let mut rounds: Vec<(u64, &Value)> = self
            .outputs_under("test/")
            .filter_map(|(n, v)| {
                let round = n.split('/').next().unwrap_or(n);
                round.parse().ok().map(|n| (n, v))
            })
            .collect();
        if rounds.is_empty() {
            return;
        }
        rounds.sort_by_key(|(n, _)| *n);
        md.push_str("\n## Test results\n\n| round | component | command | status | passed | failed |\n|---|---|---|---|---|---|\n");
        for (n, t) in &rounds {
            let _ = writeln!(
                md,
                "| {n} | {} | `{}` | {} | {} | {} |",
                t["component"]
                    .as_str()
                    .unwrap_or("project")
                    .replace('|', "\\|"),
                t["command"].as_str().unwrap_or("").replace('`', "'"),
                t["status"].as_str().unwrap_or("?"),
                t["passed"].as_u64().unwrap_or(0),
                t["failed"].as_u64().unwrap_or(0)
            );
        }
        for (n, t) in &rounds {
            if t["status"] == "passed" {
                continue;
            }
            let failures: Vec<&str> = t["failures"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let _ = writeln!(md, "\nRound {n} failed: {}", failures.join(", "));
            let output = t["output"].as_str().unwrap_or("");
            let lines: Vec<&str> = output.lines().collect();
            let tail = &lines[lines.len().saturating_sub(20)..];
            let _ = writeln!(
                md,
                "\n```text\n{}\n```",
                tail.join("\n").replace("```", "'''")
            );
        }
    }

    fn findings_md(&self, md: &mut String) {
        let Some(value) = self.output("findings") else {
            return;
        };
        md.push_str("\n## Review findings\n\n");
        let Ok(findings) = serde_json::from_value::<Findings>(value.clone()) else {
            raw_json(md, value);
            return;
        };
        if findings.findings.is_empty() {
            md.push_str("No findings.\n");
            return;
        }
        md.push_str("| severity | file | line | blocking | finding |\n|---|---|---|---|---|\n");
        for f in &findings.findings {
            let _ = writeln!(
                md,
                "| {} | `{}` | {} | {} | {} |",
                f.severity,
                f.path,
                f.line,
                if f.blocking { "yes" } else { "no" },
                cell(&f.text)
            );
        }
    }

    fn committed_files(&self) -> Option<&Vec<String>> {
        self.bodies().find_map(|b| match b {
            EventBody::CommitCreated { files, .. } => Some(files),
            _ => None,
        })
    }

    fn files_md(&self, md: &mut String) {
        let Some(files) = self.records.get("file") else {
            return;
        };
        let committed = self.committed_files();
        md.push_str(
            "\n## Files\n\n| path | agent | change | bytes | delivered |\n|---|---|---|---|---|\n",
        );
        for (path, f) in files {
            let accepted = f["accepted"].as_bool().unwrap_or(false);
            let delivered = match committed {
                Some(c) if c.contains(path) => "committed",
                Some(_) => "no",
                None if accepted => "accepted",
                None => "no",
            };
            let _ = writeln!(
                md,
                "| `{path}` | {} | {} | {} | {delivered} |",
                f["agent"].as_str().unwrap_or(""),
                f["change"].as_str().unwrap_or(""),
                f["content"].as_str().map(str::len).unwrap_or(0)
            );
        }
    }

    fn commit_md(&self, md: &mut String) {
        md.push_str("\n## Commit\n\n");
        let created = self.bodies().find_map(|b| match b {
            EventBody::CommitCreated { sha, files, repo } => Some((sha, files, repo)),
            _ => None,
        });
        match (created, &self.session.commit) {
            (Some((sha, files, repo)), _) => {
                let _ = writeln!(md, "`{sha}` in `{repo}`: {} file(s).", files.len());
            }
            (None, Some(sha)) => {
                let _ = writeln!(md, "`{sha}`.");
            }
            (None, None) => md.push_str("No commit.\n"),
        }
        if let Some(undo) = self.records.get("undo").and_then(|u| u.get("revert")) {
            let _ = writeln!(
                md,
                "\nUndone by the revert commit `{}` on {}.",
                undo["sha"].as_str().unwrap_or("?"),
                undo["at"].as_str().unwrap_or("?")
            );
        }
        if let Some(pushes) = self.records.get("push") {
            for p in pushes.values() {
                let _ = writeln!(
                    md,
                    "\nPushed to `{}` (`{}`) as `{}` on {}.",
                    p["remote"].as_str().unwrap_or("?"),
                    p["url"].as_str().unwrap_or("?"),
                    p["ref"].as_str().unwrap_or("?"),
                    p["at"].as_str().unwrap_or("?")
                );
            }
        }
    }

    fn cost_md(&self, md: &mut String) {
        let mut per_agent: BTreeMap<&str, (u64, u64, f64, u32)> = BTreeMap::new();
        for b in self.bodies() {
            if let EventBody::TaskFinished {
                agent,
                tokens_in,
                tokens_out,
                cost_usd,
                ..
            } = b
            {
                let e = per_agent.entry(agent).or_default();
                e.0 += tokens_in;
                e.1 += tokens_out;
                e.2 += cost_usd;
                e.3 += 1;
            }
        }
        md.push_str("\n## Tokens and cost\n\n| agent | tasks | tokens in | tokens out | cost |\n|---|---|---|---|---|\n");
        for (agent, (i, o, c, n)) in &per_agent {
            let _ = writeln!(md, "| {agent} | {n} | {i} | {o} | ${c:.4} |");
        }
        let s = &self.session;
        let _ = writeln!(
            md,
            "| **session** | | **{}** | **{}** | **${:.4}** |",
            s.tokens_in, s.tokens_out, s.cost_usd
        );
        let _ = writeln!(
            md,
            "\n{} tokens in all; {} events; {} transcript lines.",
            tokens(s.tokens_in + s.tokens_out),
            self.events.len(),
            self.transcript.len()
        );
    }
}

/// Seconds from one RFC 3339 time to another.
pub(super) fn seconds_between(from: &str, to: &str) -> Option<f64> {
    use time::format_description::well_known::Rfc3339;
    let a = time::OffsetDateTime::parse(from, &Rfc3339).ok()?;
    let b = time::OffsetDateTime::parse(to, &Rfc3339).ok()?;
    Some((b - a).as_seconds_f64())
}

/// Text fit for a Markdown table cell: one line, no bare `|`.
pub(super) fn cell(text: &str) -> String {
    one_line(text).replace('|', "\\|")
}

/// Text on one line.
pub(super) fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub(super) fn raw_json(md: &mut String, value: &Value) {
    let _ = writeln!(
        md,
        "```json\n{}\n```",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}
