//! Building the providers a session calls: the one place that knows every
//! provider kind, the simulated team's included (`quorum.toml`'s
//! `[providers.NAME]` tables → [`SharedProvider`]s by name).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::config::{ProviderKind, Settings};
use crate::llm::{SharedProvider, build_http, provider_key};
use crate::sim::{OfflineProvider, script::Script};

/// Builds every configured provider, reading each key from its environment
/// variable (`env` looks one up). Errors name the provider: an offline script
/// that cannot be loaded, a key variable that is unset or empty, a client that
/// cannot be built.
pub fn build_providers_with(
    settings: &Settings,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<BTreeMap<String, SharedProvider>, String> {
    let mut providers = BTreeMap::new();
    for (name, spec) in &settings.providers {
        let key = provider_key(name, spec, env)?;
        let provider: SharedProvider = match spec.kind {
            ProviderKind::Offline => {
                let script = match &spec.script {
                    Some(path) => Some(Script::load(path).map_err(|e| e.to_string())?),
                    None => None,
                };
                Arc::new(OfflineProvider::new(name, script))
            }
            ProviderKind::Openai | ProviderKind::Anthropic | ProviderKind::Gemini => {
                match build_http(spec, key)? {
                    Some(provider) => provider,
                    None => return Err(format!("provider `{name}` could not be built")),
                }
            }
        };
        providers.insert(name.clone(), provider);
    }
    Ok(providers)
}

/// [`build_providers_with`] on the process environment.
pub fn build_providers(settings: &Settings) -> Result<BTreeMap<String, SharedProvider>, String> {
    build_providers_with(settings, &|var| std::env::var(var).ok())
}
