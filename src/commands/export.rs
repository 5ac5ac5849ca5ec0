//! `quorum sessions export ID --format md|json|tar`: one session out of the
//! state db, as a readable Markdown report, as the full stored record (one JSON
//! document: the summary, every event, every record, the transcript), or as the
//! generated project in a `.tar.gz` archive (the commit's tree under DIR; the
//! accepted staged files when the session made no commit).
//!
//! Invariant: an export never holds an API key's value. The store never holds
//! one (DESIGN.md §6); as a second line of defence, the values of the
//! environment's key-like variables are redacted from md and json exports (in
//! every form [`crate::secrets::redact::forms`] lists: plain, JSON-escaped, base64,
//! hex), and a tar export that would hold one is refused.
//!
//! A Markdown export passes the sanitiser ([`crate::sanitize::text`]: controls
//! and bidi overrides shown visibly) and a JSON export has its DEL, C1 and
//! bidi controls `\u`-escaped ([`crate::sanitize::json`]), so neither drives
//! the terminal it is printed on.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::path::Path;

use serde_json::{Value, json};

use crate::cli::args::{ExportFormat, Global};
use crate::cli::exit::{self, Failure};
use crate::orchestrator::outputs::{Conflicts, Findings, Plan, Requirements};
use crate::protocol::{EventBody, LoggedEvent, TranscriptLine};
use crate::store::{SessionRecord, Store, StoreError};
use crate::workspace::git::{self, TreeFile};

use super::sessions::{short_sha, tokens};
use crate::cli::exit::db;
use crate::cli::setup::{Reading, find};

/// The `format` field of a JSON export.
pub const JSON_FORMAT: &str = "quorum-session";
/// The `version` field of a JSON export.
pub const JSON_VERSION: u32 = 1;

/// Everything stored about one session.
#[derive(Clone, Debug)]
pub struct SessionExport {
    /// The summary row.
    pub session: SessionRecord,
    /// The event log, in seq order.
    pub events: Vec<LoggedEvent>,
    /// Records by kind (`task`, `file`, `output`, `undo`, `push`), then name.
    pub records: BTreeMap<String, BTreeMap<String, Value>>,
    /// Every transcript line, in seq order.
    pub transcript: Vec<TranscriptLine>,
}

impl SessionExport {
    /// Reads everything stored about `session`.
    pub fn load(store: &Store, session: &SessionRecord) -> Result<SessionExport, StoreError> {
        let mut records: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
        for (kind, name, value) in store.all_records(&session.id)? {
            records.entry(kind).or_default().insert(name, value);
        }
        Ok(SessionExport {
            session: session.clone(),
            events: store.events(&session.id)?,
            records,
            transcript: store.transcript(&session.id)?,
        })
    }

    /// The full record as one JSON document:
    /// `{format, version, session, events, records, transcript}`.
    pub fn to_json(&self) -> Value {
        json!({
            "format": JSON_FORMAT,
            "version": JSON_VERSION,
            "session": self.session,
            "events": self.events,
            "records": self.records,
            "transcript": self.transcript,
        })
    }

    fn output(&self, name: &str) -> Option<&Value> {
        self.records.get("output").and_then(|o| o.get(name))
    }

    fn outputs_under<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a Value)> {
        self.records
            .get("output")
            .into_iter()
            .flat_map(|o| o.iter())
            .filter_map(move |(k, v)| k.strip_prefix(prefix).map(|rest| (rest, v)))
    }

    fn bodies(&self) -> impl Iterator<Item = &EventBody> {
        self.events.iter().map(|e| &e.body)
    }

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
            let ballots: Vec<(&String, &Option<String>, &String)> = self
                .bodies()
                .filter_map(|b| match b {
                    EventBody::VoteCast {
                        conflict,
                        agent,
                        option,
                        rationale,
                    } if conflict == &k.id => Some((agent, option, rationale)),
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
            let resolved = self.bodies().find_map(|b| match b {
                EventBody::ConflictResolved {
                    conflict,
                    decided_by,
                    tally,
                    ..
                } if conflict == &k.id => Some((*decided_by, tally.clone())),
                _ => None,
            });
            match self.output(&format!("decision/{}", k.id)) {
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
fn seconds_between(from: &str, to: &str) -> Option<f64> {
    use time::format_description::well_known::Rfc3339;
    let a = time::OffsetDateTime::parse(from, &Rfc3339).ok()?;
    let b = time::OffsetDateTime::parse(to, &Rfc3339).ok()?;
    Some((b - a).as_seconds_f64())
}

/// Text fit for a Markdown table cell: one line, no bare `|`.
fn cell(text: &str) -> String {
    one_line(text).replace('|', "\\|")
}

/// Text on one line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn raw_json(md: &mut String, value: &Value) {
    let _ = writeln!(
        md,
        "```json\n{}\n```",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

/// The key-like variables of the environment with values long enough to be
/// secrets (8 characters or more), as (name, value): names containing `KEY`,
/// `TOKEN`, `SECRET` or `PASSWORD`, and the configured providers' `api_key_env`.
pub fn secrets(extra_names: &[String]) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, v)| {
            (crate::secrets::is_key_variable(k) || extra_names.contains(k))
                && v.chars().count() >= 8
        })
        .collect();
    // Longest first, so a secret that contains another is replaced whole.
    found.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
    found
}

/// `text` with every secret value, in every form of [`crate::secrets::redact::forms`]
/// (as is, escaped inside a JSON string, base64, hex), replaced by
/// `[redacted $NAME]`.
pub fn redact(text: &str, secrets: &[(String, String)]) -> String {
    let mut out = text.to_string();
    for (name, value) in secrets {
        let marker = format!("[redacted ${name}]");
        let redactor = crate::secrets::redact::Redactor::new([value.clone()]);
        if let std::borrow::Cow::Owned(new) = redactor.redact_with(&out, &marker) {
            out = new;
        }
    }
    out
}

/// The key variable names the config of DIR declares (none when it does not parse).
fn configured_key_names(global: &Global, dir: &Path) -> Vec<String> {
    let options = crate::config::LoadOptions {
        config: global.config.clone(),
        dir: dir.to_path_buf(),
        offline: false,
        user_config_dir: crate::cli::logging::xdg_config_dir(),
    };
    crate::config::Settings::load(&options, &|_| Some("set".to_string()))
        .map(|s| s.key_variables())
        .unwrap_or_default()
}

/// The generated project of a session: its commit's tree under DIR, or (without
/// a commit) its accepted staged files; with the archive's mtime and a note
/// saying which it is.
fn project_files(export: &SessionExport) -> Result<(Vec<TreeFile>, i64, String), Failure> {
    let s = &export.session;
    if let Some(sha) = &s.commit {
        let dir = Path::new(&s.dir);
        let (repo, info) = git::discover(dir).ok().flatten().ok_or_else(|| {
            Failure::failed(format!(
                "session {} committed {} but {} is no longer in a git repository",
                s.id,
                short_sha(sha),
                s.dir
            ))
        })?;
        let (files, time) = git::files_of_commit(&repo, sha, &info.prefix).map_err(|e| {
            Failure::failed(format!(
                "cannot read commit {} in {}: {}",
                short_sha(sha),
                info.workdir.display(),
                e.message()
            ))
        })?;
        return Ok((
            files,
            time,
            format!("the tree of commit {}", short_sha(sha)),
        ));
    }
    let files: Vec<TreeFile> = export
        .records
        .get("file")
        .into_iter()
        .flat_map(|f| f.iter())
        .filter(|(_, f)| f["accepted"].as_bool().unwrap_or(false))
        .map(|(path, f)| TreeFile {
            path: path.clone(),
            mode: 0o100_644,
            content: f["content"].as_str().unwrap_or("").as_bytes().to_vec(),
        })
        .collect();
    let time = time::OffsetDateTime::parse(
        &s.updated_at,
        &time::format_description::well_known::Rfc3339,
    )
    .map(|t| t.unix_timestamp())
    .unwrap_or(0);
    Ok((
        files,
        time,
        "the session made no commit: its accepted staged files".to_string(),
    ))
}

/// The archive's top directory: DIR's name and the session id.
fn archive_root(export: &SessionExport) -> String {
    let base = Path::new(&export.session.dir)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "project".into());
    let base: String = base
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{base}-{}", export.session.id)
}

/// Writes `files` as a gzipped tar under `root/`: regular files 0644 or 0755,
/// symlinks as links, owner 0, every mtime `mtime`; the same input gives the
/// same bytes.
pub fn write_tar<W: std::io::Write>(
    out: W,
    root: &str,
    files: &[TreeFile],
    mtime: i64,
) -> std::io::Result<W> {
    let gz = flate2::write::GzEncoder::new(out, flate2::Compression::default());
    let mut builder = tar::Builder::new(gz);
    for file in files {
        let path = format!("{root}/{}", file.path);
        let mut header = tar::Header::new_gnu();
        header.set_mtime(u64::try_from(mtime).unwrap_or(0));
        header.set_uid(0);
        header.set_gid(0);
        if file.mode == 0o120_000 {
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_mode(0o777);
            header.set_size(0);
            let target = String::from_utf8_lossy(&file.content).into_owned();
            builder.append_link(&mut header, &path, target)?;
        } else {
            header.set_entry_type(tar::EntryType::Regular);
            header.set_mode(if file.mode == 0o100_755 { 0o755 } else { 0o644 });
            header.set_size(file.content.len() as u64);
            builder.append_data(&mut header, &path, file.content.as_slice())?;
        }
    }
    builder.into_inner()?.finish()
}

/// Runs `sessions export` and returns the exit code.
pub(crate) fn run(
    global: &Global,
    reading: &Reading,
    id: &str,
    format: ExportFormat,
    output: Option<&Path>,
) -> Result<i32, Failure> {
    let session = reading.settle(find(reading.store(), id)?);
    let export = SessionExport::load(reading.store(), &session).map_err(db)?;
    let secrets = secrets(&configured_key_names(global, &reading.dir));
    if let Some(path) = output
        && let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
        && !parent.is_dir()
    {
        return Err(Failure::usage(format!(
            "--output {}: the directory {} does not exist",
            path.display(),
            parent.display()
        )));
    }
    let bytes: Vec<u8> = match format {
        ExportFormat::Md => crate::sanitize::text(&redact(&export.markdown(), &secrets))
            .into_owned()
            .into_bytes(),
        ExportFormat::Json => {
            let text = serde_json::to_string_pretty(&export.to_json()).unwrap_or_default();
            let mut text = crate::sanitize::json(&redact(&text, &secrets)).into_owned();
            text.push('\n');
            text.into_bytes()
        }
        ExportFormat::Tar => {
            if output.is_none() && std::io::stdout().is_terminal() {
                return Err(Failure::usage(
                    "refusing to write a binary archive to the terminal: pass --output FILE.tar.gz or redirect stdout",
                ));
            }
            let (files, mtime, what) = project_files(&export)?;
            for file in &files {
                for (name, value) in &secrets {
                    if file
                        .content
                        .windows(value.len())
                        .any(|w| w == value.as_bytes())
                    {
                        return Err(Failure::failed(format!(
                            "refusing to archive: {} holds the value of ${name}",
                            file.path
                        )));
                    }
                }
            }
            let bytes = write_tar(Vec::new(), &archive_root(&export), &files, mtime)
                .map_err(|e| Failure::failed(format!("cannot build the archive: {e}")))?;
            crate::errln!("archiving {what}: {} file(s)", files.len());
            bytes
        }
    };
    match output {
        Some(path) => {
            std::fs::write(path, &bytes)
                .map_err(|e| Failure::failed(format!("cannot write {}: {e}", path.display())))?;
            crate::errln!("wrote {} ({} bytes)", path.display(), bytes.len());
        }
        None => {
            match crate::output::stdout_bytes(&bytes) {
                // A closed pipe (`| head`) is the reader's choice, not a failure.
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    return Err(Failure::failed(format!("cannot write to stdout: {e}")));
                }
                _ => {}
            }
        }
    }
    tracing::info!(session = %session.id, format = ?format, "session exported");
    Ok(exit::OK)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_raw_and_json_escaped() {
        let secrets = vec![
            ("A_KEY".to_string(), "sk-\"quoted\"-12345".to_string()),
            ("B_TOKEN".to_string(), "tok-abcdefgh".to_string()),
        ];
        let text = format!(
            "raw {} json {} and {}",
            secrets[0].1,
            serde_json::to_string(&secrets[0].1).unwrap(),
            secrets[1].1
        );
        let out = redact(&text, &secrets);
        assert!(!out.contains("12345") && !out.contains("abcdefgh"), "{out}");
        assert_eq!(out.matches("[redacted $A_KEY]").count(), 2, "{out}");
        assert!(out.contains("[redacted $B_TOKEN]"), "{out}");
    }

    #[test]
    fn the_archive_is_deterministic_and_keeps_modes_and_links() {
        let files = vec![
            TreeFile {
                path: "app.py".into(),
                mode: 0o100_644,
                content: b"print(1)\n".to_vec(),
            },
            TreeFile {
                path: "bin/run".into(),
                mode: 0o100_755,
                content: b"#!/bin/sh\n".to_vec(),
            },
            TreeFile {
                path: "link".into(),
                mode: 0o120_000,
                content: b"app.py".to_vec(),
            },
        ];
        let a = write_tar(Vec::new(), "p-1", &files, 1_700_000_000).unwrap();
        let b = write_tar(Vec::new(), "p-1", &files, 1_700_000_000).unwrap();
        assert_eq!(a, b);
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(a.as_slice()));
        let mut seen = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = entry.path().unwrap().to_string_lossy().into_owned();
            let mode = entry.header().mode().unwrap();
            let mtime = entry.header().mtime().unwrap();
            let mut content = String::new();
            std::io::Read::read_to_string(&mut entry, &mut content).unwrap();
            let link = entry
                .link_name()
                .unwrap()
                .map(|l| l.to_string_lossy().into_owned());
            seen.push((path, mode, mtime, content, link));
        }
        assert_eq!(
            seen,
            vec![
                (
                    "p-1/app.py".into(),
                    0o644,
                    1_700_000_000,
                    "print(1)\n".into(),
                    None
                ),
                (
                    "p-1/bin/run".into(),
                    0o755,
                    1_700_000_000,
                    "#!/bin/sh\n".into(),
                    None
                ),
                (
                    "p-1/link".into(),
                    0o777,
                    1_700_000_000,
                    String::new(),
                    Some("app.py".into())
                ),
            ]
        );
    }

    #[test]
    fn table_cells_stay_on_one_line() {
        assert_eq!(cell("a |b\n c"), "a \\|b c");
        assert_eq!(
            seconds_between("2026-01-01T00:00:00Z", "2026-01-01T00:00:01.5Z"),
            Some(1.5)
        );
    }
}
