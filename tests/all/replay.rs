//! Replays a session recorded with a real model (`tests/fixtures/recordings/`)
//! through a fake OpenAI-compatible server: HTTP/1.1 on 127.0.0.1, Chat
//! Completions streaming, built from `fake_llm.rs`'s listener (which stops by
//! itself: when dropped, and after its idle limit), request reader and
//! response writer.
//!
//! A request is matched by the agent's role (the system message's first
//! sentence) and the task title (the `# Task: <title>` line that starts the
//! last user message carrying one), never by its number or whole body, since
//! the requests change as quorum improves:
//! * every repair of a role (`repair (<label>)`, whatever the label) is served
//!   that role's recorded repair replies in recording order, then the last again;
//! * a validation retry (a request carrying an assistant message) gets the next recorded reply
//!   for the same task if the recording has one, else the same reply again;
//! * [`Replay::reply_for`] scripts a reply the recording lacks,
//!   [`Replay::adapt`] rewrites a recorded reply given the request;
//! * anything else gets an HTTP 400 with an OpenAI error naming the role and
//!   the title, and is listed in [`Replay::unmatched`].

use std::collections::BTreeMap;
use std::net::TcpStream;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::common;
use crate::fake_llm::{self, Format, Framing, Listener};

/// Replies are streamed in content chunks of at most this many bytes.
pub const CHUNK_BYTES: usize = 2048;

/// Titles of repair tasks start with this; the label after it is ignored.
const REPAIR: &str = "repair (";

/// The roles of the default roster, by the words after "You are the " that
/// start their system prompt.
const ROLES: [(&str, &str); 5] = [
    ("project manager", "pm"),
    ("backend engineer", "backend"),
    ("frontend engineer", "frontend"),
    ("QA engineer", "qa"),
    ("security and devops engineer", "security"),
];

/// A request's agent role, from the first sentence of the system message
/// holding the role prompt (a request may have two system messages: the
/// shared context first, then the role prompt).
pub fn role_of(body: &Value) -> Option<&'static str> {
    messages(body)
        .iter()
        .filter(|m| m["role"] == "system")
        .filter_map(|m| m["content"].as_str())
        .find_map(|system| {
            let first = system.split(". ").next().unwrap_or(system);
            let rest = first.trim_start().strip_prefix("You are the ")?;
            ROLES
                .iter()
                .find(|(words, _)| rest.starts_with(words))
                .map(|(_, role)| *role)
        })
}

/// A request's task title: the `# Task: <title>` line at the start of the last
/// user message that has one (a validation retry's last message is the
/// complaint; its task is the first user message's).
pub fn title_of(body: &Value) -> Option<String> {
    messages(body)
        .iter()
        .rev()
        .filter(|m| m["role"] == "user")
        .filter_map(|m| m["content"].as_str())
        .find_map(|c| c.lines().next()?.strip_prefix("# Task: "))
        .map(|t| t.trim().to_string())
}

/// Whether a request is a validation retry: it carries an earlier reply
/// (…, user, assistant, user).
pub fn is_retry(body: &Value) -> bool {
    messages(body).iter().any(|m| m["role"] == "assistant")
}

fn messages(body: &Value) -> &[Value] {
    body["messages"].as_array().map_or(&[], Vec::as_slice)
}

/// The table key of (role, title): every repair of a role shares one.
fn key(role: &str, title: &str) -> (String, String) {
    let title = if title.starts_with(REPAIR) {
        REPAIR
    } else {
        title
    };
    (role.to_string(), title.to_string())
}

/// One recorded request and its reply.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// `0001`, `0002`, … (the order quorum sent them in).
    pub number: String,
    pub role: String,
    pub title: String,
    /// The request was a validation retry.
    pub retry: bool,
    pub request: Value,
    pub reply: String,
}

/// A recorded session: every `NNNN.request.json` + `NNNN.reply` pair, in order.
#[derive(Clone, Debug)]
pub struct Recording {
    pub name: String,
    pub entries: Vec<Recorded>,
}

impl Recording {
    /// Loads `tests/fixtures/recordings/<name>/`. Panics on a pair whose role
    /// or title cannot be read, and on two first attempts with the same
    /// (role, title) outside repairs, which would make the replay ambiguous.
    pub fn load(name: &str) -> Recording {
        let dir = common::fixture(&format!("recordings/{name}"));
        let mut numbers: Vec<String> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(|e| {
                let name = e.unwrap().file_name().into_string().ok()?;
                name.strip_suffix(".request.json").map(String::from)
            })
            .collect();
        numbers.sort();
        let mut entries = Vec::new();
        for number in numbers {
            let path = dir.join(format!("{number}.request.json"));
            let request: Value = serde_json::from_slice(&std::fs::read(&path).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let reply = std::fs::read_to_string(dir.join(format!("{number}.reply")))
                .unwrap_or_else(|e| panic!("{name}/{number}.reply: {e}"));
            let role = role_of(&request)
                .unwrap_or_else(|| panic!("{name}/{number}: no role in the system message"));
            let title =
                title_of(&request).unwrap_or_else(|| panic!("{name}/{number}: no `# Task:` line"));
            entries.push(Recorded {
                number,
                role: role.to_string(),
                title,
                retry: is_retry(&request),
                request,
                reply,
            });
        }
        let mut firsts: BTreeMap<(String, String), &str> = BTreeMap::new();
        for e in entries.iter().filter(|e| !e.retry) {
            if e.title.starts_with(REPAIR) {
                continue;
            }
            if let Some(other) = firsts.insert((e.role.clone(), e.title.clone()), &e.number) {
                panic!(
                    "{name}: {other} and {} are both ({}, {:?})",
                    e.number, e.role, e.title
                );
            }
        }
        Recording {
            name: name.to_string(),
            entries,
        }
    }

    /// The reply recorded as `number`.
    pub fn reply(&self, number: &str) -> &str {
        &self
            .entries
            .iter()
            .find(|e| e.number == number)
            .unwrap_or_else(|| panic!("{}: no {number}", self.name))
            .reply
    }

    /// The prompt the session was run with (the requirements request's input).
    pub fn prompt(&self) -> String {
        let user = self.entries[0].request["messages"][1]["content"]
            .as_str()
            .unwrap_or("");
        let inputs = user
            .split_once("# Inputs\n\n```json\n")
            .and_then(|(_, rest)| rest.split_once("\n```"))
            .and_then(|(json, _)| serde_json::from_str::<Value>(json).ok())
            .unwrap_or(Value::Null);
        inputs["prompt"].as_str().unwrap_or("").to_string()
    }
}

/// The files of a reply in the `### \`path\`` + fenced block format, each
/// content line followed by `\n` (the test's own reading, independent of
/// quorum's parser).
pub fn file_blocks(reply: &str) -> Vec<(String, String)> {
    let lines: Vec<&str> = reply.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let path = lines[i]
            .strip_prefix("### `")
            .and_then(|rest| rest.strip_suffix('`'));
        let fence: String = lines
            .get(i + 1)
            .map(|l| l.chars().take_while(|&c| c == '`').collect())
            .unwrap_or_default();
        let (Some(path), true) = (path, fence.len() >= 3) else {
            i += 1;
            continue;
        };
        let mut content = String::new();
        let mut j = i + 2;
        while j < lines.len() && lines[j].trim_end() != fence {
            content.push_str(lines[j]);
            content.push('\n');
            j += 1;
        }
        assert!(j < lines.len(), "the block of {path} is not closed");
        out.push((path.to_string(), content));
        i = j + 1;
    }
    out
}

/// Rewrites a reply given the request body.
type Adapter = Box<dyn Fn(&Value, &str) -> String + Send + Sync>;

/// Rewrites the usage a reply reports, given the request body.
type UsageHook = Box<dyn Fn(&Value, Value) -> Value + Send + Sync>;

/// What the server knows and what it did.
#[derive(Default)]
struct State {
    /// Recorded entries by key, in recording order.
    table: BTreeMap<(String, String), Vec<Recorded>>,
    /// The index last served per key.
    last: BTreeMap<(String, String), usize>,
    /// (role, title prefix, reply).
    scripted: Vec<(String, String, String)>,
    /// (role, title prefix, adapter).
    adapters: Vec<(String, String, Adapter)>,
    /// Rewrites the `usage` object of every reply (see [`Replay::usage_with`]).
    usage: Option<UsageHook>,
    served: Vec<(String, String, String)>,
    unmatched: Vec<(String, String)>,
}

impl State {
    /// The reply for a request and where it came from (a recording number or
    /// `scripted`); `None` when nothing matches.
    fn answer(&mut self, role: &str, title: &str, retry: bool) -> Option<(String, String)> {
        let k = key(role, title);
        if let Some(entries) = self.table.get(&k) {
            let at = pick(entries, self.last.get(&k).copied(), retry);
            self.last.insert(k, at);
            let e = &entries[at];
            return Some((e.reply.clone(), e.number.clone()));
        }
        self.scripted
            .iter()
            .find(|(r, prefix, _)| r == role && title.starts_with(prefix.as_str()))
            .map(|(_, _, text)| (text.clone(), "scripted".to_string()))
    }
}

/// Which of a key's entries answers: a first attempt takes the next recorded
/// first attempt (then the last one again); a retry takes the recorded retry
/// that followed the last served entry, else that entry again.
fn pick(entries: &[Recorded], last: Option<usize>, retry: bool) -> usize {
    if retry {
        return match last {
            Some(i) if entries.get(i + 1).is_some_and(|e| e.retry) => i + 1,
            Some(i) => i,
            None => 0,
        };
    }
    let from = last.map_or(0, |i| i + 1);
    (from..entries.len())
        .find(|&i| !entries[i].retry)
        .or_else(|| entries.iter().rposition(|e| !e.retry))
        .unwrap_or_else(|| from.min(entries.len() - 1))
}

/// A running replay server.
pub struct Replay {
    pub recording: Recording,
    state: Arc<Mutex<State>>,
    listener: Listener,
}

impl Replay {
    /// Loads the recording `name` and serves it on an ephemeral port.
    pub fn start(name: &str) -> Replay {
        let recording = Recording::load(name);
        let mut state = State::default();
        for e in &recording.entries {
            state
                .table
                .entry(key(&e.role, &e.title))
                .or_default()
                .push(e.clone());
        }
        let state = Arc::new(Mutex::new(state));
        let shared = Arc::clone(&state);
        let listener = Listener::start(move |stream| serve(stream, &shared));
        Replay {
            recording,
            state,
            listener,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.listener.url()
    }

    /// Answers requests of `role` whose title starts with `title_prefix` with
    /// `text` when the recording has no reply for them.
    pub fn reply_for(&self, role: &str, title_prefix: &str, text: &str) {
        self.state.lock().unwrap().scripted.push((
            role.to_string(),
            title_prefix.to_string(),
            text.to_string(),
        ));
    }

    /// Rewrites the replies (recorded or scripted) to requests of `role` whose
    /// title starts with `title_prefix`: `f(request body, reply)`.
    pub fn adapt(
        &self,
        role: &str,
        title_prefix: &str,
        f: impl Fn(&Value, &str) -> String + Send + Sync + 'static,
    ) {
        self.state.lock().unwrap().adapters.push((
            role.to_string(),
            title_prefix.to_string(),
            Box::new(f),
        ));
    }

    /// Rewrites the `usage` object each streamed reply ends with:
    /// `f(request body, usage as the fake computed it)` (the prefix-cache
    /// simulation of `benches/support/prefix_cache.rs` adds
    /// `prompt_tokens_details.cached_tokens`).
    pub fn usage_with(&self, f: impl Fn(&Value, Value) -> Value + Send + Sync + 'static) {
        self.state.lock().unwrap().usage = Some(Box::new(f));
    }

    /// (role, title, recording number or `scripted`) of every reply served, in order.
    pub fn served(&self) -> Vec<(String, String, String)> {
        self.state.lock().unwrap().served.clone()
    }

    /// (role, title) of every request that matched nothing, in order.
    pub fn unmatched(&self) -> Vec<(String, String)> {
        self.state.lock().unwrap().unmatched.clone()
    }
}

/// Config for DIR's `quorum.toml`: one keyless OpenAI-compatible provider at
/// `url` for all five agents, with the recordings' context window.
pub fn replay_config(url: &str) -> String {
    let mut config = format!(
        "[providers.replay]\nkind = \"openai\"\nbase_url = \"{url}/v1\"\ncontext_tokens = 200000\nbackoff_ms = 1\n"
    );
    for (_, agent) in ROLES {
        config.push_str(&format!(
            "[agents.{agent}]\nprovider = \"replay\"\nmodel = \"live\"\n"
        ));
    }
    config
}

/// Splits text into pieces of at most `max` bytes, on char boundaries.
fn chunks(text: &str, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut end = max.min(rest.len());
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        out.push(rest[..end].to_string());
        rest = &rest[end..];
    }
    out
}

fn serve(mut stream: TcpStream, state: &Mutex<State>) {
    let _ = stream.set_nodelay(true);
    let Some((path, _headers, body)) = fake_llm::read_request(&mut stream) else {
        return;
    };
    if fake_llm::format_of(&path) != Some(Format::OpenAi) {
        fake_llm::write_status(
            &mut stream,
            Format::OpenAi,
            404,
            &[],
            &format!("replay: only /v1/chat/completions is served, not {path}"),
        );
        return;
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let role = role_of(&body).unwrap_or("?");
    let title = title_of(&body).unwrap_or_else(|| "?".into());
    let answer = {
        let mut s = state.lock().unwrap();
        match s.answer(role, &title, is_retry(&body)) {
            Some((reply, source)) => {
                let reply = s
                    .adapters
                    .iter()
                    .filter(|(r, prefix, _)| r == role && title.starts_with(prefix.as_str()))
                    .fold(reply, |reply, (_, _, f)| f(&body, &reply));
                s.served.push((role.to_string(), title.clone(), source));
                Some(reply)
            }
            None => {
                s.unmatched.push((role.to_string(), title.clone()));
                None
            }
        }
    };
    let Some(text) = answer else {
        fake_llm::write_status(
            &mut stream,
            Format::OpenAi,
            400,
            &[],
            &format!("replay: no recorded or scripted reply for role `{role}`, task `{title}`"),
        );
        return;
    };
    let (_, prompt) = fake_llm::model_and_prompt(Format::OpenAi, &path, &body);
    let input_tokens = (prompt.len() as u64).div_ceil(4);
    let include_usage = body["stream_options"]["include_usage"] == json!(true);
    let pieces = chunks(&text, CHUNK_BYTES);
    let s = state.lock().unwrap();
    let Some(hook) = &s.usage else {
        drop(s);
        fake_llm::write_reply(
            &mut stream,
            Format::OpenAi,
            &text,
            &pieces,
            input_tokens,
            include_usage,
            &Framing::default(),
        );
        return;
    };
    let mut evs = fake_llm::events(Format::OpenAi, &text, &pieces, input_tokens, include_usage);
    {
        for ev in &mut evs {
            let Some(mut chunk) = ev
                .strip_prefix("data: ")
                .and_then(|data| serde_json::from_str::<Value>(data).ok())
                .filter(|chunk| chunk.get("usage").is_some())
            else {
                continue;
            };
            chunk["usage"] = hook(&body, chunk["usage"].take());
            *ev = format!("data: {chunk}");
        }
    }
    drop(s);
    let _ = fake_llm::write_stream_head(&mut stream, Format::OpenAi)
        && fake_llm::write_events(&mut stream, Format::OpenAi, &evs, &Framing::default(), None);
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use futures::StreamExt;
    use quorum::config::Settings;
    use quorum::llm::{CallMeta, ChatRequest, Chunk, Message, Role, TaskKind, Usage};

    use super::*;

    const ROLE_NAMES: [&str; 5] = ["pm", "backend", "frontend", "qa", "security"];

    #[test]
    fn both_recordings_load_with_one_reply_per_role_and_title() {
        let rust = Recording::load("rust-wc-cli");
        let todo = Recording::load("todo-react-flask");
        assert_eq!(rust.entries.len(), 21);
        assert_eq!(todo.entries.len(), 16);
        assert_eq!(
            rust.prompt(),
            "Rust CLI that counts words in files, like wc, with unicode support"
        );
        assert_eq!(
            todo.prompt(),
            "Todo app with a React frontend and a Flask backend, JWT login"
        );
        for r in [&rust, &todo] {
            let roles: BTreeSet<&str> = r.entries.iter().map(|e| e.role.as_str()).collect();
            assert_eq!(roles, ROLE_NAMES.into_iter().collect(), "{}", r.name);
        }
        // Ballots share a role and "ballot on …" but not the topic.
        let ballots: Vec<(&str, &str)> = rust
            .entries
            .iter()
            .filter(|e| e.title.starts_with("ballot on "))
            .map(|e| (e.role.as_str(), e.title.as_str()))
            .collect();
        assert_eq!(ballots.len(), 8, "{ballots:?}");
        let topics: BTreeSet<&str> = ballots.iter().map(|(_, t)| *t).collect();
        assert_eq!(topics.len(), 2, "{topics:?}");
        assert_eq!(
            ballots.iter().collect::<BTreeSet<_>>().len(),
            8,
            "each (role, ballot title) once"
        );
        // The one retry is qa's second repair reply.
        let retries: Vec<(&str, &str, &str)> = rust
            .entries
            .iter()
            .chain(&todo.entries)
            .filter(|e| e.retry)
            .map(|e| (e.number.as_str(), e.role.as_str(), e.title.as_str()))
            .collect();
        assert_eq!(retries, [("0021", "qa", "repair (repair1)")]);
        assert_eq!(todo.entries[15].title, "repair (fix)");
        assert_eq!(todo.entries[15].role, "frontend");
    }

    #[test]
    fn file_blocks_read_paths_and_whole_contents() {
        let todo = Recording::load("todo-react-flask");
        let blocks = file_blocks(todo.reply("0012"));
        let paths: Vec<&str> = blocks.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            [
                "frontend/src/App.jsx",
                "frontend/src/components/AuthForm.jsx",
                "frontend/src/components/TodoPage.jsx",
                "frontend/src/components/NewTodoForm.jsx",
                "frontend/src/components/TodoItem.jsx",
            ]
        );
        let page = &blocks[2].1;
        assert!(page.starts_with("import "), "{page}");
        assert!(page.contains("getTodos(token)"));
        assert!(!page.contains("```"));
        assert_eq!(
            file_blocks("x\n\n### `a.md`\n````md\n```sh\nrun\n```\n````\n"),
            [("a.md".to_string(), "```sh\nrun\n```\n".to_string())]
        );
    }

    /// A request like the recorded one, with other inputs (the replay must not
    /// match on them) and, for a retry, the complaint appended.
    fn request_like(e: &Recorded, title: &str, retry_of: Option<&str>) -> Vec<Message> {
        let system = e.request["messages"][0]["content"].as_str().unwrap();
        let mut m = vec![
            Message::new(Role::System, system),
            Message::new(
                Role::User,
                format!(
                    "# Task: {title}\n\nOther instructions.\n\n# Inputs\n\n```json\n{{}}\n```\n"
                ),
            ),
        ];
        if let Some(previous) = retry_of {
            m.push(Message::new(Role::Assistant, previous));
            m.push(Message::new(
                Role::User,
                "That reply cannot be used: no file blocks found\nReply again, in the required format.",
            ));
        }
        m
    }

    /// One call through quorum's own OpenAI client: (text, usage) or the error.
    async fn call(url: &str, messages: Vec<Message>) -> Result<(String, Option<Usage>), String> {
        let settings = Settings::from_toml(
            &replay_config(url),
            std::path::Path::new("/tmp/quorum.toml"),
            false,
            &|_| None,
        )
        .unwrap();
        let providers =
            quorum::orchestrator::providers::build_providers_with(&settings, &|_| None).unwrap();
        let mut s = providers["replay"].stream(ChatRequest {
            model: "live".into(),
            messages,
            json: None,
            meta: CallMeta {
                agent: "qa".into(),
                role: "qa".into(),
                phase: "test".into(),
                task: "t".into(),
                kind: TaskKind::Repair,
                inputs: None,
            },
            reasoning: Default::default(),
        });
        let mut text = String::new();
        let mut usage = None;
        while let Some(item) = s.next().await {
            match item.map_err(|e| e.to_string())? {
                Chunk::Text(t) => text.push_str(&t),
                Chunk::Usage(u) => usage = Some(u),
                Chunk::Reasoning(_) => {}
            }
        }
        Ok((text, usage))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn replay_matches_by_role_and_title_repairs_by_role_and_retries_in_order() {
        let replay = Replay::start("rust-wc-cli");
        let url = replay.url();
        let rec = replay.recording.clone();

        recorded_replies_match_by_role_and_title(&url, &rec).await;
        repairs_and_their_retries_go_in_order(&url, &rec).await;
        unmatched_requests_get_a_400_naming_them(&url, &rec).await;
        scripted_then_adapted_replies_win(&replay, &url, &rec).await;
        the_served_and_the_unmatched_are_logged(&replay);
    }

    /// Step: a ballot (same role and topic, other inputs) and a long reply come
    /// back as recorded, intact through quorum's client, with usage.
    async fn recorded_replies_match_by_role_and_title(url: &str, rec: &Recording) {
        let entry = |n: &str| rec.entries.iter().find(|e| e.number == n).unwrap();
        // A ballot: same role, same topic, other inputs → the recorded reply,
        // intact through quorum's client, with usage.
        let (text, usage) = call(url, request_like(entry("0012"), &entry("0012").title, None))
            .await
            .unwrap();
        assert_eq!(text, rec.reply("0012"));
        assert!(usage.is_some_and(|u| u.output_tokens > 0), "{usage:?}");
        // The same topic from another role is that role's ballot.
        let (text, _) = call(url, request_like(entry("0008"), &entry("0012").title, None))
            .await
            .unwrap();
        assert_eq!(text, rec.reply("0008"));

        // A long reply (src/lib.rs and Cargo.toml) arrives whole.
        let (text, _) = call(url, request_like(entry("0016"), &entry("0016").title, None))
            .await
            .unwrap();
        assert!(text.len() > 4 * CHUNK_BYTES, "{}", text.len());
        assert_eq!(text, rec.reply("0016"));
    }

    /// Step: a repair under another label, its retries and a later round pick
    /// the recorded replies in order.
    async fn repairs_and_their_retries_go_in_order(url: &str, rec: &Recording) {
        let entry = |n: &str| rec.entries.iter().find(|e| e.number == n).unwrap();
        // qa's repair under another label: 0020; its retry: 0021; a retry
        // again: 0021 again; a later repair round: 0020 again.
        let repair = entry("0020");
        let first = call(url, request_like(repair, "repair (fix)", None))
            .await
            .unwrap()
            .0;
        assert_eq!(first, rec.reply("0020"));
        let retry = call(url, request_like(repair, "repair (fix)", Some(&first)))
            .await
            .unwrap()
            .0;
        assert_eq!(retry, rec.reply("0021"));
        let again = call(url, request_like(repair, "repair (fix)", Some(&retry)))
            .await
            .unwrap()
            .0;
        assert_eq!(again, rec.reply("0021"));
        let later = call(url, request_like(repair, "repair (repair2)", None))
            .await
            .unwrap()
            .0;
        assert_eq!(later, rec.reply("0020"));
    }

    /// Step: a repair of a role that never repaired and a review never reached
    /// are unmatched: a 400 that names role and title.
    async fn unmatched_requests_get_a_400_naming_them(url: &str, rec: &Recording) {
        let entry = |n: &str| rec.entries.iter().find(|e| e.number == n).unwrap();
        // A repair of a role that never repaired, and a review the session
        // never reached: unmatched, a 400 that names role and title.
        let err = call(url, request_like(entry("0016"), "repair (fix)", None))
            .await
            .unwrap_err();
        assert!(
            err.contains("400") && err.contains("`backend`") && err.contains("repair (fix)"),
            "{err}"
        );
        let err = call(
            url,
            request_like(entry("0002"), "review the staged files", None),
        )
        .await
        .unwrap_err();
        assert!(err.contains("review the staged files"), "{err}");
    }

    /// Step: a scripted reply, then adapted (the adapter sees the request), is served.
    async fn scripted_then_adapted_replies_win(replay: &Replay, url: &str, rec: &Recording) {
        let entry = |n: &str| rec.entries.iter().find(|e| e.number == n).unwrap();
        // Scripted, then adapted (the adapter sees the request).
        replay.reply_for("security", "review the staged", "{\"findings\": []}");
        replay.adapt("security", "review", |body, reply| {
            let n = body["messages"].as_array().unwrap().len();
            format!("{reply} <!-- {n} messages -->")
        });
        let (text, _) = call(
            url,
            request_like(entry("0002"), "review the staged files", None),
        )
        .await
        .unwrap();
        assert_eq!(text, "{\"findings\": []} <!-- 2 messages -->");
    }

    /// Step: the replay logs what it served (titles cut to 30 bytes) and what it could not match.
    fn the_served_and_the_unmatched_are_logged(replay: &Replay) {
        // Titles cut to 30 bytes (all ASCII here).
        let served: Vec<(String, String, String)> = replay
            .served()
            .into_iter()
            .map(|(r, t, n)| (r, t.chars().take(30).collect(), n))
            .collect();
        let served: Vec<(&str, &str, &str)> = served
            .iter()
            .map(|(r, t, n)| (r.as_str(), t.as_str(), n.as_str()))
            .collect();
        assert_eq!(
            served,
            [
                ("qa", "ballot on Whether invalid UTF-", "0012"),
                ("backend", "ballot on Whether invalid UTF-", "0008"),
                ("backend", "Cargo package and counting lib", "0016"),
                ("qa", "repair (fix)", "0020"),
                ("qa", "repair (fix)", "0021"),
                ("qa", "repair (fix)", "0021"),
                ("qa", "repair (repair2)", "0020"),
                ("security", "review the staged files", "scripted"),
            ]
        );
        assert_eq!(
            replay.unmatched(),
            [
                ("backend".to_string(), "repair (fix)".to_string()),
                (
                    "security".to_string(),
                    "review the staged files".to_string()
                ),
            ]
        );
    }

    /// The usage hook with the prefix-cache simulation
    /// (`benches/support/prefix_cache.rs`): a first request is not cached, a
    /// second sharing a long prefix is, in 128-token steps; quorum's client
    /// reads the simulated prompt tokens.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_usage_hook_reports_the_simulated_prefix_cache() {
        use crate::prefix_cache::{BYTES_PER_TOKEN, PrefixCache};
        let replay = Replay::start("rust-wc-cli");
        let cache = Arc::new(Mutex::new(PrefixCache::default()));
        let shared = Arc::clone(&cache);
        replay.usage_with(move |body, usage| shared.lock().unwrap().usage(body, usage));
        let rec = replay.recording.clone();
        let ballot = rec.entries.iter().find(|e| e.number == "0012").unwrap();
        let context = "x".repeat(8000);
        let request = || {
            let mut m = request_like(ballot, &ballot.title, None);
            m.insert(0, Message::new(Role::System, context.as_str()));
            m
        };
        let (_, first) = call(&replay.url(), request()).await.unwrap();
        let (_, second) = call(&replay.url(), request()).await.unwrap();
        let c = cache.lock().unwrap();
        assert_eq!(c.requests, 2);
        let prompt = c.prompt_tokens / 2;
        assert!(prompt > 8000 / BYTES_PER_TOKEN, "{prompt}");
        assert_eq!(first.unwrap().input_tokens, prompt);
        assert_eq!(second.unwrap().input_tokens, prompt);
        // The whole prompt is shared, cut down to a multiple of 128.
        assert_eq!(c.cached_tokens, prompt / 128 * 128);
    }

    #[test]
    fn replies_stream_in_chunks_of_at_most_2_kib_on_char_boundaries() {
        let text = "é".repeat(CHUNK_BYTES) + "x";
        let parts = chunks(&text, CHUNK_BYTES);
        assert_eq!(parts.concat(), text);
        assert_eq!(parts.len(), 3);
        assert!(parts.iter().all(|p| p.len() <= CHUNK_BYTES));
        assert!(chunks("", CHUNK_BYTES).is_empty());
    }

    #[test]
    fn roles_and_titles_are_read_from_the_messages() {
        let body = json!({"messages": [
            {"role": "system", "content": "You are the project manager of a small team of software agents (backend, frontend, QA, security). More."},
            {"role": "user", "content": "# Task: compare the plans\n\nCompare."},
        ]});
        assert_eq!(role_of(&body), Some("pm"));
        assert_eq!(title_of(&body).as_deref(), Some("compare the plans"));
        assert!(!is_retry(&body));
        let body = json!({"messages": [
            {"role": "system", "content": "You are the security and devops engineer of a team."},
            {"role": "user", "content": "# Task: repair (fix)\n\nFix."},
            {"role": "assistant", "content": "no"},
            {"role": "user", "content": "That reply cannot be used."},
        ]});
        assert_eq!(role_of(&body), Some("security"));
        assert_eq!(title_of(&body).as_deref(), Some("repair (fix)"));
        assert!(is_retry(&body));
        // Today's order: the shared context, then the role prompt.
        let body = json!({"messages": [
            {"role": "system", "content": "You work in a team of software agents on one session. Shared."},
            {"role": "system", "content": "You are the backend engineer of a team."},
            {"role": "user", "content": "# Task: the API\n\nDo."},
        ]});
        assert_eq!(role_of(&body), Some("backend"));
        assert_eq!(title_of(&body).as_deref(), Some("the API"));
        assert!(!is_retry(&body), "three messages, no earlier reply");
        let body = json!({"messages": [{"role": "system", "content": "You are a pirate."}]});
        assert_eq!(role_of(&body), None);
        assert_eq!(title_of(&body), None);
    }
}
