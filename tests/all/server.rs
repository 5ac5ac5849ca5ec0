//! `quorum serve` and its clients (docs/design.md §4, "Server and clients";
//! issue 20): two clients on one session, the socket's modes and the uid
//! and version checks, `sessions list` while the server runs a session,
//! `run --detach` followed by `attach --json`, and a server killed
//! mid-session that resumes to the same commit.
//!
//! The server is the built binary (`quorum serve --foreground`, a child of
//! the test, killed on drop); the clients are the library's
//! (`quorum::server::client`) or the binary's commands.

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Duration;

use quorum::protocol::wire::{ClientMsg, Hello, ServerMsg, codec, decode, encode};
use quorum::protocol::{Channels, DecidedBy, Event, EventBody, Op, SessionOptions, SessionView};
use quorum::server::client::{OnShutdown, connect};
use serde_json::Value;

use crate::common::{
    Env, PROMPT, TIMEOUT, bin, parse_stream, path_str, poll, run, tempdir, write_scripted,
};
use crate::tui_tmux::{AFTER, Tmux};

/// `quorum serve --foreground` for DIR, killed (and reaped) on drop.
struct Served {
    child: Child,
    socket: PathBuf,
}

impl Served {
    fn start(env: &Env, dir: &Path) -> Served {
        let mut cmd = env.quorum(["serve", "--foreground", "--offline", "--dir", path_str(dir)]);
        cmd.stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let child = cmd.spawn().unwrap();
        let socket = dir.join(".quorum/serve.sock");
        poll(TIMEOUT, "the server's socket", || {
            std::thread::sleep(Duration::from_millis(10));
            std::os::unix::net::UnixStream::connect(&socket).ok()
        });
        Served { child, socket }
    }

    /// A client attached as `label`.
    async fn attach(&self, label: &str) -> Channels {
        let hello = Hello::new(true, label.to_string());
        connect(&self.socket, hello)
            .await
            .unwrap()
            .into_channels(OnShutdown::Quit)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client's view of the session: every event folded, until `done` holds
/// for one (within the suite's timeout); returns that event.
async fn until(
    client: &mut Channels,
    view: &mut SessionView,
    what: &str,
    done: impl Fn(&Event, &SessionView) -> bool,
) -> Event {
    let wait = async {
        loop {
            let Some(event) = client.events.recv().await else {
                panic!("the connection closed while waiting for {what}");
            };
            match &event {
                Event::Logged(e) => view.apply(e),
                Event::Attached { events, .. } => events.iter().for_each(|e| view.apply(e)),
                _ => {}
            }
            if done(&event, view) {
                return event;
            }
        }
    };
    tokio::time::timeout(TIMEOUT, wait)
        .await
        .unwrap_or_else(|_| panic!("no {what} within {TIMEOUT:?}"))
}

fn is_logged(event: &Event, kind: &str) -> bool {
    matches!(event, Event::Logged(e) if e.body.type_name() == kind)
}

/// Issue 20, acceptance 1: the terminal dies in the plan phase; the session
/// goes on to resolve (in the db, and in `sessions show` from another
/// shell); `quorum attach` in a new terminal shows it waiting, the person
/// decides and commits there; one commit.
#[test]
fn a_hangup_in_the_plan_phase_leaves_the_session_running_and_attach_finishes_it() {
    let dir = tempdir();
    let d = dir.path();
    // The planners' built-in plans, streamed slowly (docs/offline-script.md):
    // the plan phase lasts long enough to hang up in its middle.
    write_scripted(
        d,
        "[[reply]]\nphase = \"plan\"\ndelay_ms = 5\ntimes = 0\n",
        "",
    );
    let command = format!(
        "{} --dir {} 'Build a CLI todo app'; {AFTER}",
        bin(),
        path_str(d)
    );
    let first = Tmux::start(Env::new(), d, 100, 30, &command);
    first.wait_for("/9 plan");
    first.kill_terminal();

    let env = Env::new();
    let id = poll(TIMEOUT, "the session in the db", || {
        std::thread::sleep(Duration::from_millis(50));
        let out = run(env.quorum(["sessions", "list", "--json", "--dir", path_str(d)]));
        let line = out.stdout.lines().next()?.to_string();
        let row: Value = serde_json::from_str(&line).ok()?;
        row["id"].as_str().map(str::to_string)
    });
    let stored = poll(TIMEOUT, "the session at resolve", || {
        std::thread::sleep(Duration::from_millis(100));
        let events = env.stored_events(d, &id);
        events
            .iter()
            .any(|e| e["type"] == "phase_started" && e["phase"] == "resolve")
            .then_some(events)
    });
    assert!(
        !stored.iter().any(|e| e["type"] == "session_finished"),
        "the hangup did not end the session"
    );
    let shown = run(env.quorum(["sessions", "show", &id, "--dir", path_str(d)]));
    assert_eq!(shown.code, 0, "{shown}");
    assert!(shown.stdout.contains("resolve"), "{shown}");

    let command = format!("{} --dir {} attach; {AFTER}", bin(), path_str(d));
    let second = Tmux::start(Env::new(), d, 100, 30, &command);
    second.wait_for("waiting for the person to confirm");
    second.keys("c", true);
    second.wait_for("Tie: choose");
    second.keys("Right", false);
    second.keys("Enter", false);
    second.wait_for("sqlite (you)");
    second.keys("a", true);
    second.wait_for("ready to deliver");
    second.keys("f", true);
    second.wait_for("Commit");
    second.keys("C", true);
    second.wait_for("committed ");
    second.keys("q", true);
    second.assert_restored("EXIT=0");
    let log = env.git(d, &["log", "--format=%H %s"]);
    assert_eq!(log.lines().count(), 1, "one commit: {log}");
}

/// Both clients see the session; a pick in one shows in the other; the
/// other's pick of the same conflict is refused naming the first; both see
/// the commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_share_one_session_and_a_stale_pick_names_who_decided() {
    let env = Env::new();
    let dir = tempdir();
    let served = Served::start(&env, dir.path());
    let mut alice = served.attach("alice on /dev/pts/1").await;
    let mut bob = served.attach("bob on /dev/pts/2").await;
    let (mut va, mut vb) = (SessionView::default(), SessionView::default());
    until(&mut alice, &mut va, "two clients", |e, _| {
        *e == Event::Clients { attached: 2 }
    })
    .await;
    alice.send(Op::Start {
        prompt: PROMPT.into(),
        options: SessionOptions {
            interactive: true,
            allow_unconfined: true,
            ..SessionOptions::default()
        },
    });
    let at_resolve = |e: &Event, v: &SessionView| {
        matches!(e, Event::Logged(l) if matches!(&l.body, EventBody::PhaseStarted { phase, .. } if phase == "resolve"))
            && !v.conflicts.is_empty()
    };
    until(&mut alice, &mut va, "resolve in alice's", at_resolve).await;
    until(&mut bob, &mut vb, "resolve in bob's", at_resolve).await;
    // The offline team's `storage` conflict is a 2–2 tie (docs/offline-script.md).
    let tie = va
        .conflicts
        .iter()
        .find(|k| k.is_tie())
        .expect("a tie waits for the person")
        .clone();
    let option = tie.options[0].clone();
    alice.send(Op::Pick {
        conflict: tie.id.clone(),
        option: option.clone(),
    });
    let resolved = |e: &Event, _: &SessionView| matches!(e, Event::Logged(l) if matches!(&l.body, EventBody::ConflictResolved { conflict, .. } if *conflict == tie.id));
    until(
        &mut bob,
        &mut vb,
        "alice's decision in bob's view",
        resolved,
    )
    .await;
    bob.send(Op::Pick {
        conflict: tie.id.clone(),
        option: tie.options[1].clone(),
    });
    let refused = until(
        &mut bob,
        &mut vb,
        "bob's pick refused",
        |e, _| matches!(e, Event::Rejected { op, .. } if op == "pick"),
    )
    .await;
    let Event::Rejected { reason, .. } = refused else {
        unreachable!()
    };
    assert!(reason.contains("alice on /dev/pts/1"), "{reason}");
    assert!(reason.contains(&format!("`{option}`")), "{reason}");
    alice.send(Op::AcceptVotes);
    until(&mut alice, &mut va, "delivery", |e, _| {
        matches!(e, Event::DeliveryReady { .. })
    })
    .await;
    alice.send(Op::Commit {
        message: None,
        allow_secrets: false,
    });
    for (client, view, who) in [(&mut alice, &mut va, "alice"), (&mut bob, &mut vb, "bob")] {
        until(
            client,
            view,
            &format!("commit_created in {who}'s"),
            |e, _| is_logged(e, "commit_created"),
        )
        .await;
        let by_person = view
            .conflicts
            .iter()
            .filter(|k| matches!(k.decision, Some((_, DecidedBy::Human))))
            .count();
        assert_eq!(by_person, 1, "{who}: one decision by the person");
    }
    let log = env.git(dir.path(), &["log", "--format=%H"]);
    assert_eq!(log.lines().count(), 1, "one commit: {log}");
}

/// The socket is `0600` in a `0700` directory; a client of another
/// protocol version is refused naming both; a client of another uid is
/// refused (where this test runs as root and can become `nobody`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_socket_is_private_and_other_versions_and_users_are_refused() {
    use std::os::unix::fs::PermissionsExt as _;
    let env = Env::new();
    let dir = tempdir();
    let served = Served::start(&env, dir.path());
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&served.socket), 0o600);
    assert_eq!(mode(served.socket.parent().unwrap()), 0o700);

    // Another protocol version.
    let stream = tokio::net::UnixStream::connect(&served.socket)
        .await
        .unwrap();
    let mut framed = tokio_util::codec::Framed::new(stream, codec());
    let mut hello = Hello::new(true, "old client".into());
    hello.protocol = 99;
    hello.quorum = "9.9.9".into();
    use futures::{SinkExt as _, StreamExt as _};
    framed.send(encode(&ClientMsg::Hello(hello))).await.unwrap();
    let frame = framed.next().await.unwrap().unwrap();
    let ServerMsg::Refused { reason } = decode::<ServerMsg>(&frame).unwrap() else {
        panic!("not refused")
    };
    assert!(reason.contains("protocol 1 (quorum "), "{reason}");
    assert!(reason.contains("protocol 99 (quorum 9.9.9)"), "{reason}");
    assert!(framed.next().await.is_none(), "the connection is closed");

    // Another user: only root can become one here.
    // SAFETY: geteuid(2) has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        another_uid_is_refused(dir.path(), &served.socket);
    }
}

/// Step: with the directory and socket opened to everyone (as a careless
/// `chmod` would), a client running as `nobody` still gets the uid refusal
/// from `SO_PEERCRED`.
fn another_uid_is_refused(dir: &Path, socket: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    use std::os::unix::process::CommandExt as _;
    let open = |p: &Path, m: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m));
    let mut up = Some(socket.parent().unwrap());
    while let Some(p) = up {
        if p == Path::new("/tmp") || p == Path::new("/") {
            break;
        }
        let _ = open(p, 0o755);
        up = p.parent();
    }
    open(socket, 0o666).unwrap();
    let script = "import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.connect(sys.argv[1])\nn=int.from_bytes(s.recv(4),'big')\nb=b''\nwhile len(b)<n:\n  c=s.recv(n-len(b))\n  if not c: break\n  b+=c\nprint(b.decode())";
    let out = std::process::Command::new("python3")
        .args(["-c", script, path_str(socket)])
        .uid(65534)
        .gid(65534)
        .current_dir(dir)
        .output()
        .expect("python3 runs (.ci/run installs it)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Refused"),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("uid 65534 may not attach"), "{text}");
}

/// While the server runs a session, `sessions list` exits 0 and shows it
/// running; `run --detach` returns with the id, and `attach --json` prints
/// the session's log (schema-valid, gapless, equal to the stored one) from
/// any seq.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_list_sees_the_running_session_and_attach_json_follows_a_detached_run() {
    let env = Env::new();
    let dir = tempdir();
    let d = dir.path();
    {
        let served = Served::start(&env, d);
        let mut client = served.attach("tester").await;
        let mut view = SessionView::default();
        client.send(Op::Start {
            prompt: PROMPT.into(),
            options: SessionOptions {
                interactive: true,
                allow_unconfined: true,
                ..SessionOptions::default()
            },
        });
        until(&mut client, &mut view, "resolve", |e, _| {
            matches!(e, Event::Logged(l) if matches!(&l.body, EventBody::PhaseStarted { phase, .. } if phase == "resolve"))
        })
        .await;
        let out = run(env.quorum(["sessions", "list", "--dir", path_str(d)]));
        assert_eq!(out.code, 0, "{out}");
        let row = out
            .stdout
            .lines()
            .find(|l| l.starts_with(&view.id))
            .unwrap_or_else(|| panic!("the session is listed: {out}"));
        assert!(row.contains("running"), "{row}");
        client.send(Op::CancelSession);
        until(&mut client, &mut view, "the end", |e, _| {
            is_logged(e, "session_finished")
        })
        .await;
    }
    detached_run_is_followed(&env, d);
}

/// Step: `run --detach` (the server started on demand), `attach --json`
/// from seq 1 and from seq 10, both equal to the stored log.
fn detached_run_is_followed(env: &Env, d: &Path) {
    let out = run(env.quorum(["run", "--detach", PROMPT, "--offline", "--dir", path_str(d)]));
    assert_eq!(out.code, 0, "{out}");
    let id = out.stdout.trim().to_string();
    assert_eq!(
        out.stdout.lines().count(),
        1,
        "only the id on stdout: {out}"
    );
    assert!(out.stderr.contains("quorum attach"), "{out}");
    let followed = run(env.quorum(["attach", &id, "--json", "--dir", path_str(d)]));
    assert_eq!(followed.code, 0, "{followed}");
    let stream = parse_stream(&followed.stdout);
    assert_eq!(stream.durable.last().unwrap()["type"], "session_finished");
    assert_eq!(stream.durable.last().unwrap()["status"], "succeeded");
    let stored = env.stored_events(d, &id);
    assert_eq!(
        stream.durable, stored,
        "attach --json prints the session's log"
    );
    let later = run(env.quorum([
        "attach",
        &id,
        "--json",
        "--from-seq",
        "10",
        "--dir",
        path_str(d),
    ]));
    assert_eq!(later.code, 0, "{later}");
    let lines: Vec<Value> = later
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[..], stored[9..], "from seq 10");
    // The server holds DIR: an in-process run is refused, naming it.
    let refused = run(env.quorum(["run", PROMPT, "--offline", "--dir", path_str(d)]));
    assert_eq!(refused.code, 4, "{refused}");
    assert!(refused.stderr.contains("quorum run --detach"), "{refused}");
    // `sessions list` asks the server while it runs, and reads the db once
    // it is gone: the same lines.
    let listed = |what: &str| {
        let out = run(env.quorum(["sessions", "list", "--json", "--dir", path_str(d)]));
        assert_eq!(out.code, 0, "{what}: {out}");
        out.stdout
    };
    let by_server = listed("through the server");
    let stop = run(env.quorum(["serve", "--stop", "--dir", path_str(d)]));
    assert_eq!(stop.code, 0, "{stop}");
    assert!(stop.stderr.contains("stopped the server"), "{stop}");
    assert_eq!(by_server, listed("from the db"));
    assert_eq!(by_server.lines().count(), 2, "{by_server}");
}

/// A TUI that cannot reach a server (another quorum holds DIR's lock, so
/// the server it starts is refused) draws at once, then gives the terminal
/// back and exits 4 naming the holder.
#[test]
fn a_tui_whose_server_cannot_take_the_lock_exits_4_naming_why() {
    use std::os::fd::AsRawFd as _;
    let dir = tempdir();
    let d = dir.path();
    std::fs::create_dir_all(d.join(".quorum")).unwrap();
    let lock = std::fs::File::create(d.join(".quorum/lock")).unwrap();
    // SAFETY: flock(2) on a descriptor this test owns.
    assert_eq!(
        unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) },
        0
    );
    let command = format!("{} --dir {} --offline; {AFTER}", bin(), path_str(d));
    let t = Tmux::start(Env::new(), d, 100, 30, &command);
    let screen = t.assert_restored("EXIT=4");
    assert!(screen.contains("in use by another quorum"), "{screen}");
    drop(lock);
}
