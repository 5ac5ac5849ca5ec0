//! placeholder
use std::path::PathBuf;
use std::sync::Arc;
pub struct Setup {
    pub settings: Arc<crate::config::Settings>,
    pub workflow: crate::config::workflow::Workflow,
    pub theme: crate::config::theme::Theme,
    pub dir: PathBuf,
    pub prompt: Option<String>,
}
pub async fn run(_h: crate::orchestrator::OrchestratorHandle, _s: Setup) -> std::io::Result<i32> {
    Ok(0)
}
