//! The pre-commit secret scan (docs/design.md §6, issue 6): staged files are
//! searched for private keys, cloud and API access keys, `.env` files with
//! values, and the values of the configured provider key variables. A hit
//! blocks delivery until the person overrides it (`--allow-secrets`, or the
//! override of `Op::Commit`).
//!
//! Pure functions over `(path, bytes)`; no I/O. A finding never carries the
//! secret itself, only where it is and a masked preview, so that the
//! `finding` event which reports it leaks nothing.

/// What kind of secret a finding looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretKind {
    /// A PEM block `-----BEGIN … PRIVATE KEY-----` (RSA, EC, DSA, OpenSSH, PKCS#8, PGP).
    PrivateKey,
    /// An AWS access key id: `AKIA` or `ASIA` and 16 upper-case letters or digits.
    AwsAccessKey,
    /// A GitHub token: `ghp_`, `gho_`, `ghu_`, `ghs_` or `ghr_` and 36 letters or
    /// digits, or `github_pat_` and at least 22 more.
    GithubToken,
    /// An OpenAI-style key: `sk-` followed by at least 20 letters, digits, `-`
    /// or `_`, with at least one digit (also `sk-proj-…`, `sk-ant-…`).
    ApiKey,
    /// A Slack token: `xoxb-`, `xoxp-`, `xoxa-`, `xoxr-` or `xoxs-` and at least 10 more.
    SlackToken,
    /// A Google API key: `AIza` and 35 letters, digits, `-` or `_`.
    GoogleApiKey,
    /// A line `NAME=value` with a non-empty value in a `.env` file (not in
    /// `.env.example`, `.env.sample`, `.env.template` or `.env.dist`).
    EnvValue,
    /// The value of a configured provider key variable (`api_key_env`).
    ConfiguredKey,
}

impl SecretKind {
    /// A short name for messages, e.g. `private key`.
    pub fn label(self) -> &'static str {
        match self {
            SecretKind::PrivateKey => "private key",
            SecretKind::AwsAccessKey => "AWS access key id",
            SecretKind::GithubToken => "GitHub token",
            SecretKind::ApiKey => "API key (sk-…)",
            SecretKind::SlackToken => "Slack token",
            SecretKind::GoogleApiKey => "Google API key",
            SecretKind::EnvValue => ".env value",
            SecretKind::ConfiguredKey => "a configured provider key",
        }
    }
}

/// One suspected secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretFinding {
    /// The file, as given to [`scan`] (relative to DIR, `/`-separated).
    pub path: String,
    /// 1-based line.
    pub line: u32,
    /// What it looks like.
    pub kind: SecretKind,
    /// A masked preview: the first 4 characters and `…` (for `.env`, the
    /// variable's name); never the secret.
    pub preview: String,
}

impl SecretFinding {
    /// The text of the `finding` event: what, where, and how to override.
    pub fn text(&self) -> String {
        format!(
            "possible secret ({}: {}) at {}:{}; it blocks the commit unless overridden (--allow-secrets)",
            self.kind.label(),
            self.preview,
            self.path,
            self.line
        )
    }
}

/// Whether `path` names a `.env` file whose values are real (not an example).
fn is_env_file(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    if name == ".env" {
        return true;
    }
    let Some(suffix) = name.strip_prefix(".env.") else {
        return false;
    };
    !["example", "sample", "template", "dist", "defaults"]
        .iter()
        .any(|s| suffix == *s || suffix.ends_with(&format!(".{s}")))
}

fn token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

fn masked(token: &[u8]) -> String {
    let head: String = String::from_utf8_lossy(token).chars().take(4).collect();
    format!("{head}…")
}

/// Tokens of `line` that start with `prefix` at a word boundary; yields the
/// whole run of token characters from the prefix on.
fn tokens_after<'a>(line: &'a [u8], prefix: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut from = 0;
    std::iter::from_fn(move || {
        while from + prefix.len() <= line.len() {
            let at = from
                + line[from..]
                    .windows(prefix.len())
                    .position(|w| w == prefix)?;
            from = at + 1;
            if at > 0 && token_char(line[at - 1]) {
                continue;
            }
            let end = line[at..]
                .iter()
                .position(|b| !token_char(*b))
                .map_or(line.len(), |n| at + n);
            return Some(&line[at..end]);
        }
        None
    })
}

/// The secret kinds found in one line (by pattern).
fn scan_line(line: &[u8]) -> Vec<(SecretKind, String)> {
    let mut hits = Vec::new();
    let text = String::from_utf8_lossy(line);
    if text.contains("-----BEGIN ") && text.contains("PRIVATE KEY") {
        hits.push((
            SecretKind::PrivateKey,
            "-----BEGIN … PRIVATE KEY-----".into(),
        ));
    }
    for prefix in [&b"AKIA"[..], b"ASIA"] {
        for t in tokens_after(line, prefix) {
            let rest = &t[4..];
            if rest.len() == 16
                && rest
                    .iter()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            {
                hits.push((SecretKind::AwsAccessKey, masked(t)));
            }
        }
    }
    for prefix in [&b"ghp_"[..], b"gho_", b"ghu_", b"ghs_", b"ghr_"] {
        for t in tokens_after(line, prefix) {
            let rest = &t[4..];
            if rest.len() >= 36 && rest.iter().all(u8::is_ascii_alphanumeric) {
                hits.push((SecretKind::GithubToken, masked(t)));
            }
        }
    }
    for t in tokens_after(line, b"github_pat_") {
        if t.len() >= "github_pat_".len() + 22 {
            hits.push((SecretKind::GithubToken, masked(t)));
        }
    }
    for t in tokens_after(line, b"sk-") {
        let rest = &t[3..];
        if rest.len() >= 20 && rest.iter().any(u8::is_ascii_digit) {
            hits.push((SecretKind::ApiKey, masked(t)));
        }
    }
    for prefix in [&b"xoxb-"[..], b"xoxp-", b"xoxa-", b"xoxr-", b"xoxs-"] {
        for t in tokens_after(line, prefix) {
            if t.len() >= prefix.len() + 10 {
                hits.push((SecretKind::SlackToken, masked(t)));
            }
        }
    }
    for t in tokens_after(line, b"AIza") {
        if t.len() == 39 {
            hits.push((SecretKind::GoogleApiKey, masked(t)));
        }
    }
    hits
}

/// The value of a `.env` line `[export ]NAME=value [# comment]`, unquoted;
/// `None` for blank lines, comments and lines without `=`.
fn env_value(line: &str) -> Option<(&str, &str)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let line = line.strip_prefix("export ").unwrap_or(line);
    let (name, value) = line.split_once('=')?;
    let mut value = value.trim();
    if let Some(q) = value.chars().next().filter(|c| *c == '"' || *c == '\'') {
        value = value[1..].split(q).next().unwrap_or("");
    } else if let Some(hash) = value.find(" #") {
        value = value[..hash].trim_end();
    } else if value.starts_with('#') {
        value = "";
    }
    Some((name.trim(), value))
}

/// Scans one staged file for secrets by pattern (see [`SecretKind`]). `path`
/// is relative to DIR; lines are split on `\n`; binary content is scanned as
/// lossy UTF-8.
pub fn scan(path: &str, bytes: &[u8]) -> Vec<SecretFinding> {
    scan_with(path, bytes, &[])
}

/// [`scan`], also reporting every line that holds one of `known` (the values
/// of the configured key variables; values shorter than 8 bytes are ignored).
pub fn scan_with(path: &str, bytes: &[u8], known: &[String]) -> Vec<SecretFinding> {
    let env = is_env_file(path);
    let mut findings = Vec::new();
    for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
        let number = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let mut push = |kind, preview| {
            findings.push(SecretFinding {
                path: path.to_string(),
                line: number,
                kind,
                preview,
            })
        };
        for (kind, preview) in scan_line(line) {
            push(kind, preview);
        }
        for value in known.iter().filter(|v| v.len() >= 8) {
            if line.windows(value.len()).any(|w| w == value.as_bytes()) {
                push(SecretKind::ConfiguredKey, masked(value.as_bytes()));
            }
        }
        if env
            && let Some((name, value)) = env_value(&String::from_utf8_lossy(line))
            && !value.is_empty()
        {
            push(SecretKind::EnvValue, name.to_string());
        }
    }
    findings
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn kinds(path: &str, text: &str) -> Vec<(u32, SecretKind)> {
        scan(path, text.as_bytes())
            .into_iter()
            .map(|f| (f.line, f.kind))
            .collect()
    }

    #[test]
    fn private_keys_and_access_keys_are_found_with_their_lines() {
        let pem = "notes\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
        assert_eq!(
            kinds("deploy/id_ed25519", pem),
            [(2, SecretKind::PrivateKey)]
        );
        assert_eq!(
            kinds("k.pem", "-----BEGIN RSA PRIVATE KEY-----\n"),
            [(1, SecretKind::PrivateKey)]
        );
        assert_eq!(
            kinds(
                "settings.py",
                "AWS_ACCESS_KEY_ID = \"AKIAIOSFODNN7EXAMPLE\"\n"
            ),
            [(1, SecretKind::AwsAccessKey)]
        );
        let gh = format!("token: ghp_{}\n", "a1B2c3D4e5".repeat(4));
        assert_eq!(kinds("ci.yml", &gh), [(1, SecretKind::GithubToken)]);
        assert_eq!(
            kinds(
                "app.js",
                "\n\nconst key = 'sk-proj-Abc123def456ghi789jkl012mno';\n"
            ),
            [(3, SecretKind::ApiKey)]
        );
        assert_eq!(
            kinds("x.py", "KEY = 'sk-test-QUORUMFAKEKEY0123456789'"),
            [(1, SecretKind::ApiKey)]
        );
        assert_eq!(
            kinds(
                "s.txt",
                "xoxb-1234567890-abcdefghij\nAIzaSyA1234567890abcdefghijklmnopqrstuv\n"
            ),
            [(1, SecretKind::SlackToken), (2, SecretKind::GoogleApiKey)]
        );
    }

    #[test]
    fn findings_never_carry_the_secret() {
        let f = &scan("a.py", b"k = 'AKIAIOSFODNN7EXAMPLE'")[0];
        assert_eq!(f.preview, "AKIA…");
        assert!(!f.text().contains("IOSFODNN7EXAMPLE"), "{}", f.text());
        assert!(f.text().contains("a.py:1"), "{}", f.text());
        let f = &scan(".env", b"DB_PASSWORD=hunter2hunter2")[0];
        assert_eq!(f.preview, "DB_PASSWORD");
        assert!(!f.text().contains("hunter2"));
    }

    #[test]
    fn env_files_with_values_are_found_but_not_examples_or_empty_values() {
        let env = "# settings\nexport API_TOKEN=\"abc\"\nEMPTY=\nQUOTED=''\nDEBUG=1 # on\nCOMMENTED=# none\n";
        assert_eq!(
            kinds(".env", env),
            [(2, SecretKind::EnvValue), (5, SecretKind::EnvValue)]
        );
        assert_eq!(kinds("config/.env.production", "X=1\n").len(), 1);
        let example = "# copy to .env\nOPENAI_API_KEY=\nDATABASE_URL=\nPORT=8000\n";
        assert!(kinds(".env.example", example).is_empty());
        assert!(kinds("deploy/.env.sample", example).is_empty());
        assert!(kinds(".env.local.example", example).is_empty());
        // Not a .env file at all: `NAME=value` lines are ordinary.
        assert!(kinds("Makefile", "CC=gcc\nPORT=8000\n").is_empty());
    }

    #[test]
    fn ordinary_code_is_not_a_secret() {
        let code = r#"
import os

API_KEY = os.environ["OPENAI_API_KEY"]   # read from the environment
TASK_ID = "task-0123456789abcdefghijklmnop"  # `sk-` inside a word
disk = "disk-usage-1234567890123456789012"
AKIA = "AKIA"                      # too short
aws = "AKIAIOSFODNN7EXAMPL"        # 15 characters
lowercase = "AKIAiosfodnn7example"
html = '<div class="sk-spinner sk-fading-circle">'
sha = "0123456789abcdef0123456789abcdef01234567"
uuid = "123e4567-e89b-12d3-a456-426614174000"
doc = "Keys look like sk-... and are read from the environment."
-- BEGIN PUBLIC KEY is fine: -----BEGIN PUBLIC KEY-----
"#;
        assert_eq!(kinds("app/settings.py", code), []);
        assert!(kinds("README.md", "Set `OPENAI_API_KEY=sk-...` in your shell.\n").is_empty());
    }

    #[test]
    fn configured_key_values_are_found_anywhere() {
        let known = vec!["plainkeyvalue99".to_string(), "short".to_string()];
        let f = scan_with(
            "notes.txt",
            b"a\nthe key is plainkeyvalue99 ok\nshort\n",
            &known,
        );
        assert_eq!(f.len(), 1);
        assert_eq!((f[0].line, f[0].kind), (2, SecretKind::ConfiguredKey));
        assert_eq!(f[0].preview, "plai…");
    }
}
