//! Moved to [`crate::secrets::redact`] (docs/architecture.md); this path
//! re-exports it for the callers not yet moved to the new one.

pub use crate::secrets::redact::*;
