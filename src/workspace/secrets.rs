//! Moved to [`crate::secrets::scan`] (the pre-commit secret scan) and
//! [`crate::secrets::redact::is_key_variable`] (docs/architecture.md); this
//! path re-exports them for the callers not yet moved to the new ones.

pub use crate::secrets::redact::is_key_variable;
pub use crate::secrets::scan::*;
