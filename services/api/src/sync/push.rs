//! TODO(helper): see the brief.

use super::run::RunContext;
use super::SyncError;

/// Runs this phase from `ctx.job.cursor` to its end, one committed page at a time; the
/// last [`RunContext::commit_page`] has `next: None` and moves the job to the next phase.
pub async fn run(ctx: &mut RunContext) -> Result<(), SyncError> {
    let _ = ctx;
    todo!("sync::push::run")
}
