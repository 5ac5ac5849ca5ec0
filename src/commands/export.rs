//! `quorum sessions export ID --format md|json|tar`: one session out of the
//! state db, as a readable Markdown report, as the full stored record (one JSON
//! document: the summary, every event, every record, the transcript), or as the
//! generated project in a `.tar.gz` archive (the commit's tree under DIR; the
//! accepted staged files when the session made no commit).
//!
//! Invariant: an export never holds an API key's value. The store never holds
//! one (docs/design.md §6); as a second line of defence, the values of the
//! environment's key-like variables are redacted from md and json exports (in
//! every form [`crate::secrets::redact::forms`] lists: plain, JSON-escaped, base64,
//! hex), and a tar export that would hold one is refused.
//!
//! A Markdown export passes the sanitiser ([`crate::sanitize::text`]: controls
//! and bidi overrides shown visibly) and a JSON export has its DEL, C1 and
//! bidi controls `\u`-escaped ([`crate::sanitize::json`]), so neither drives
//! the terminal it is printed on.

use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::path::Path;

use serde_json::{Value, json};

use crate::cli::args::{ExportFormat, Global};
use crate::cli::exit::{self, Failure, db};
use crate::cli::setup::{Reading, find};
use crate::protocol::{EventBody, LoggedEvent, TranscriptLine};
use crate::store::{SessionRecord, Store, StoreError};

mod archive;
mod markdown;

pub use archive::write_tar;
use archive::{archive_root, project_files};

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
    use super::markdown::{cell, seconds_between};
    use super::*;
    use crate::workspace::git::TreeFile;

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
