//! Secrets (docs/design.md §6, issue 6 acceptance 4): a configured key value that a
//! model echoes is redacted from everything quorum persists, and a staged file
//! holding a private key blocks delivery — headless until `--allow-secrets`,
//! interactively until `Op::Commit` carries the override.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use quorum::config::workflow::Workflow;
use quorum::config::{LoadOptions, Settings};
use quorum::orchestrator::{self, Parts};
use quorum::protocol::{Event, EventBody, Op, SessionOptions, SessionStatus};
use quorum::store::Store;
use quorum::workspace::Workspace;
use quorum::workspace::state_dir::StateDir;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::common::{Env, path_str, read_fixture, run, tempdir, tree, write};

/// A recognisable fake key.
const KEY: &str = "sk-test-QUORUMFAKEKEY0123456789";

/// Every file under `dir` (recursively) that holds `needle`.
fn files_holding(dir: &Path, needle: &str) -> Vec<String> {
    tree(dir)
        .into_iter()
        .filter(|rel| {
            std::fs::read(dir.join(rel))
                .is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
        })
        .collect()
}

/// A key value in a log line is redacted: here a path the person typed holds
/// it, and the early error that names the path is logged to the XDG state
/// directory. The variable is known as a key by its name alone (no config).
#[test]
fn a_key_value_never_reaches_a_log_file() {
    let env = Env::new();
    let dir = tempdir();
    let answers = dir.path().join(format!("{KEY}.toml"));
    let mut cmd = env.quorum([
        "run",
        "--offline",
        "a prompt",
        "--answers",
        path_str(&answers),
        "--dir",
        path_str(&dir.path().join("project")),
    ]);
    cmd.env("QUORUM_TEST_API_KEY", KEY);
    let out = run(cmd);
    assert_eq!(out.code, 2, "{out}");
    // The person's own terminal shows what they typed …
    assert!(out.stderr.contains(KEY), "{out}");
    // … the log only where it was.
    let logs = env.state_home().join("quorum");
    let files = tree(&logs);
    assert!(!files.is_empty(), "no log under {}", logs.display());
    let text: String = files
        .iter()
        .map(|f| std::fs::read_to_string(logs.join(f)).unwrap())
        .collect();
    assert!(text.contains("quorum stopped early"), "{text}");
    assert!(text.contains("[redacted].toml"), "{text}");
    assert!(!text.contains(KEY), "{text}");
}

#[test]
fn a_key_echoed_by_a_model_is_redacted_from_everything_persisted() {
    let env = Env::new();
    let dir = tempdir();
    let d = dir.path();
    // Every agent on the scripted offline provider; a second provider whose
    // key variable holds KEY (its address is never called).
    let mut config = crate::common::offline_config_with_script("script.toml");
    config.push_str(
        "[providers.cloud]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\napi_key_env = \"QUORUM_FAKE_KEY\"\n",
    );
    for agent in ["pm", "backend", "frontend", "qa", "security"] {
        config.push_str(&format!("[agents.{agent}]\nprovider = \"sim\"\n"));
    }
    write(d, "quorum.toml", &config);
    // The pm's requirements repeat the key, as a careless model might.
    let requirements = serde_json::json!({
        "summary": "A URL shortener REST API with tests.",
        "goals": ["shorten URLs", "redirect"],
        "constraints": ["standard library only"],
        "acceptance_criteria": ["the tests pass"],
        "assumptions": [format!("the deploy key is {KEY}")],
        "questions": []
    });
    write(
        d,
        "script.toml",
        &format!(
            "[[reply]]\nagent = \"pm\"\nkind = \"requirements\"\ntext = '''\n{requirements}\n'''\n"
        ),
    );
    let mut cmd = env.quorum(["run", crate::common::PROMPT, "--dir", path_str(d), "--json"]);
    cmd.env("QUORUM_FAKE_KEY", KEY);
    let session = crate::common::Session::from_output(run(cmd));
    session.assert_succeeded();
    assert!(!session.out.stdout.contains(KEY) && !session.out.stderr.contains(KEY));

    // Not in the db (events, transcripts, records), the logs, the scratch
    // trees or the generated files …
    assert_eq!(
        files_holding(d, KEY),
        vec!["script.toml".to_string()],
        "only the test's own script holds the key"
    );
    assert!(d.join(".quorum/logs").is_dir());
    // … nor in the commits (decompressed, through git) …
    let log = env.git(d, &["log", "-p", "--format=%B"]);
    assert!(!log.contains(KEY));
    // … nor in any export; the transcript shows where it was.
    for format in ["md", "json", "tar"] {
        let out_file = d.join(format!("../export-{}.{format}", session.id()));
        let mut export = env.quorum([
            "sessions",
            "export",
            session.id(),
            "--format",
            format,
            "--output",
            path_str(&out_file),
            "--dir",
            path_str(d),
        ]);
        export.env("QUORUM_FAKE_KEY", KEY);
        let out = run(export);
        assert_eq!(out.code, 0, "export {format}: {out}");
        let bytes = if format == "tar" {
            let unpacked = std::process::Command::new("tar")
                .arg("-xzOf")
                .arg(&out_file)
                .output()
                .unwrap();
            assert!(unpacked.status.success());
            unpacked.stdout
        } else {
            std::fs::read(&out_file).unwrap()
        };
        let _ = std::fs::remove_file(&out_file);
        assert!(
            !bytes.windows(KEY.len()).any(|w| w == KEY.as_bytes()),
            "the key leaked into the {format} export"
        );
        if format == "json" {
            let text = String::from_utf8_lossy(&bytes);
            assert!(
                text.contains("the deploy key is [redacted]"),
                "the stored transcript holds the redaction marker"
            );
        }
    }
}

#[test]
fn a_staged_private_key_blocks_the_headless_commit_until_allowed() {
    let env = Env::new();
    let dir = tempdir();
    let d = dir.path();
    write(
        d,
        "quorum.toml",
        &crate::common::offline_config_with_script("script.toml"),
    );
    write(d, "script.toml", &read_fixture("scripts/secret.toml"));

    let blocked = env.run_json(d, &[]);
    assert_eq!(blocked.out.code, 1, "{}", blocked.out);
    assert_eq!(blocked.status(), "failed");
    let finding = blocked
        .of("finding")
        .into_iter()
        .find(|f| f["severity"] == "critical")
        .unwrap_or_else(|| panic!("a critical finding: {}", blocked.out));
    assert_eq!(finding["path"], "README.md");
    assert_eq!(finding["line"], 3);
    assert_eq!(finding["blocking"], true);
    let text = finding["text"].as_str().unwrap();
    assert!(text.contains("private key"), "{text}");
    assert!(
        !text.contains("MIIE"),
        "the finding never quotes the key: {text}"
    );
    let error = blocked.one("error")["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        error.contains("README.md") && error.contains("--allow-secrets"),
        "{error}"
    );
    assert!(blocked.of("commit_created").is_empty());
    assert!(!d.join("README.md").exists(), "nothing was written");
    assert!(
        !d.join("url_shortener").exists(),
        "no file at all was written"
    );
    let head = env.git_output(d, &["rev-parse", "--verify", "HEAD"]);
    assert_ne!(head.code, 0, "no commit: {head}");

    // The explicit override delivers it.
    let allowed = env.run_json(d, &["--allow-secrets"]);
    allowed.assert_succeeded();
    assert!(
        allowed
            .of("finding")
            .iter()
            .all(|f| f["severity"] != "critical")
    );
    let committed = env.git(d, &["ls-tree", "-r", "--name-only", "HEAD"]);
    assert!(committed.lines().any(|l| l == "README.md"), "{committed}");
    assert!(
        std::fs::read_to_string(d.join("README.md"))
            .unwrap()
            .contains("BEGIN RSA PRIVATE KEY")
    );
}

/// Issue 17: a staged file holding the configured provider key blocks
/// delivery, and the key is not left in plain text in the scratch tree (nor
/// anywhere else under `.quorum/`): the scratch tree holds the redacted
/// content, which is what the tests ran on.
#[test]
fn a_staged_key_is_redacted_in_the_scratch_tree_when_delivery_is_blocked() {
    let env = Env::new();
    let dir = tempdir();
    let d = dir.path();
    let mut config = crate::common::offline_config_with_script("script.toml");
    config.push_str(
        "[providers.cloud]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\napi_key_env = \"QUORUM_FAKE_KEY\"\n",
    );
    for agent in ["pm", "backend", "frontend", "qa", "security"] {
        config.push_str(&format!("[agents.{agent}]\nprovider = \"sim\"\n"));
    }
    write(d, "quorum.toml", &config);
    // The pm's README quotes the key, as a careless model might.
    write(
        d,
        "script.toml",
        &format!(
            "[[reply]]\nagent = \"pm\"\nkind = \"implement\"\ntask = \"docs\"\ntext = '''\n### `README.md`\n```markdown\n# URL shortener\n\nexport OPENAI_API_KEY={KEY}\n```\n'''\n"
        ),
    );
    let mut cmd = env.quorum(["run", crate::common::PROMPT, "--dir", path_str(d), "--json"]);
    cmd.env("QUORUM_FAKE_KEY", KEY);
    let blocked = crate::common::Session::from_output(run(cmd));
    assert_eq!(blocked.out.code, 1, "{}", blocked.out);
    assert_eq!(blocked.status(), "failed");
    let finding = blocked
        .of("finding")
        .into_iter()
        .find(|f| f["severity"] == "critical")
        .unwrap_or_else(|| panic!("a critical finding: {}", blocked.out));
    assert_eq!(finding["path"], "README.md");
    assert!(blocked.of("commit_created").is_empty());
    assert!(!d.join("README.md").exists(), "nothing was delivered");

    // Every file under .quorum/ (db, logs, scratch trees): no key.
    let state = d.join(".quorum");
    assert_eq!(files_holding(&state, KEY), Vec::<String>::new());
    // The scratch tree holds the README, redacted.
    let readme = state.join("work").join(blocked.id()).join("README.md");
    assert_eq!(
        std::fs::read_to_string(&readme).unwrap(),
        "# URL shortener\n\nexport OPENAI_API_KEY=[redacted]\n"
    );
}

async fn until<T>(
    rx: &mut UnboundedReceiver<Event>,
    what: &str,
    mut pick: impl FnMut(&Event) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let event = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
            .unwrap_or_else(|| panic!("the orchestrator stopped before {what}"));
        if let Event::Logged(e) = &event {
            crate::common::check_event(&serde_json::to_value(e).unwrap());
        }
        if std::env::var_os("QUORUM_TEST_TRACE").is_some() {
            eprintln!("{event:?}");
        }
        if let Some(found) = pick(&event) {
            return found;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interactive_commit_with_a_secret_is_rejected_until_overridden() {
    let dir = tempdir();
    let d = dir.path();
    write(
        d,
        "quorum.toml",
        &crate::common::offline_config_with_script("script.toml"),
    );
    write(d, "script.toml", &read_fixture("scripts/secret.toml"));
    let settings = Settings::load(
        &LoadOptions {
            config: None,
            dir: d.to_path_buf(),
            offline: false,
            user_config_dir: None,
        },
        &|_| None,
    )
    .unwrap();
    let settings = Arc::new(settings);
    let state = StateDir::open(&StateDir::location(d, None)).unwrap();
    let store = Store::open(&state.db_path()).unwrap();
    let roster: Vec<String> = settings.agents.iter().map(|a| a.name.clone()).collect();
    let handle = orchestrator::spawn(Parts {
        workflow: Workflow::default_for(&roster).unwrap(),
        providers: quorum::orchestrator::providers::build_providers(&settings).unwrap(),
        settings,
        store,
        workspace: Workspace::new(d, state.root()),
    });
    let mut rx = handle.subscribe();
    handle.send(Op::Start {
        prompt: "Build a CLI todo app".into(),
        options: SessionOptions {
            interactive: true,
            ..SessionOptions::default()
        },
    });
    votes_are_accepted_and_the_session_reaches_deliver(&handle, &mut rx).await;
    a_commit_without_the_override_is_refused(&handle, &mut rx, d).await;
    a_second_plain_attempt_is_refused_quietly(&handle, &mut rx).await;
    the_override_commits(&handle, &mut rx).await;
    handle.send(Op::Shutdown);
    until(&mut rx, "closed", |e| (e == &Event::Closed).then_some(())).await;
    handle.join().await;
    assert!(d.join("README.md").is_file());
}

/// Step: at resolve the votes are accepted and the tie picked; the session reaches deliver.
async fn votes_are_accepted_and_the_session_reaches_deliver(
    handle: &orchestrator::OrchestratorHandle,
    rx: &mut UnboundedReceiver<Event>,
) {
    until(rx, "resolve", |e| match e {
        Event::Logged(l) => {
            matches!(&l.body, EventBody::PhaseStarted { phase, .. } if phase == "resolve")
                .then_some(())
        }
        _ => None,
    })
    .await;
    handle.send(Op::AcceptVotes);
    handle.send(Op::Pick {
        conflict: "storage".into(),
        option: "json-file".into(),
    });
    until(rx, "deliver", |e| {
        matches!(e, Event::DeliveryReady { .. }).then_some(())
    })
    .await;
}

/// Step: without the override, a blocking finding, and the commit is refused with nothing written.
async fn a_commit_without_the_override_is_refused(
    handle: &orchestrator::OrchestratorHandle,
    rx: &mut UnboundedReceiver<Event>,
    d: &Path,
) {
    // Without the override: a blocking finding, and the commit is refused.
    handle.send(Op::Commit {
        message: None,
        allow_secrets: false,
    });
    let (path, severity, blocking) = until(rx, "the finding", |e| match e {
        Event::Logged(l) => match &l.body {
            EventBody::Finding {
                path,
                severity,
                blocking,
                ..
            } if severity == "critical" => Some((path.clone(), severity.clone(), *blocking)),
            _ => None,
        },
        _ => None,
    })
    .await;
    assert_eq!(
        (path.as_str(), severity.as_str(), blocking),
        ("README.md", "critical", true)
    );
    let reason = until(rx, "the refusal", |e| match e {
        Event::Rejected { op, reason } if op == "commit" => Some(reason.clone()),
        _ => None,
    })
    .await;
    assert!(reason.contains("README.md"), "{reason}");
    assert!(!d.join("README.md").exists(), "nothing was written");
}

/// Step: a second plain attempt is refused again, without repeating the finding.
async fn a_second_plain_attempt_is_refused_quietly(
    handle: &orchestrator::OrchestratorHandle,
    rx: &mut UnboundedReceiver<Event>,
) {
    // A second plain attempt is refused again, without repeating the finding.
    handle.send(Op::Commit {
        message: None,
        allow_secrets: false,
    });
    let mut findings_again = 0;
    until(rx, "the second refusal", |e| match e {
        Event::Logged(l) if matches!(l.body, EventBody::Finding { .. }) => {
            findings_again += 1;
            None
        }
        Event::Rejected { op, .. } if op == "commit" => Some(()),
        _ => None,
    })
    .await;
    assert_eq!(findings_again, 0);
}

/// Step: with the override the commit is made and the session succeeds.
async fn the_override_commits(
    handle: &orchestrator::OrchestratorHandle,
    rx: &mut UnboundedReceiver<Event>,
) {
    // With the override: committed.
    handle.send(Op::Commit {
        message: None,
        allow_secrets: true,
    });
    let files = until(rx, "the commit", |e| match e {
        Event::Logged(l) => match &l.body {
            EventBody::CommitCreated { files, .. } => Some(files.clone()),
            _ => None,
        },
        _ => None,
    })
    .await;
    assert!(files.contains(&"README.md".to_string()), "{files:?}");
    let status = until(rx, "the end", |e| match e {
        Event::Logged(l) => match &l.body {
            EventBody::SessionFinished { status, .. } => Some(*status),
            _ => None,
        },
        _ => None,
    })
    .await;
    assert_eq!(status, SessionStatus::Succeeded);
}
