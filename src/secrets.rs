//! Every way a key is hidden or found (docs/design.md §6), in one place:
//! [`secret`] holds an API key in memory and never prints it, [`redact`]
//! replaces key values in text and JSON (the process's registry that logs and
//! clipped messages use; which environment variables hold keys), and [`scan`]
//! is the pre-commit search of staged files for secrets.
//!
//! Floor 2 (docs/architecture.md): imports only `protocol`, std and crates.
//! The HTTP providers, the committer (whose walk over a group's writes,
//! `Redactor::group`, stays there), logging, exports and delivery use it.

pub mod redact;
pub mod scan;
pub mod secret;

pub use redact::{REDACTED, Redactor, is_key_variable};
pub use scan::{SecretFinding, SecretKind};
pub use secret::Secret;
