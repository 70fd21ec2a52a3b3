//! `cargo xtask test`: every check, in order, stopping at the first failure: lints,
//! schemathesis against the running services, then the test suites (last, so that their
//! summary closes the run).

use anyhow::Result;

use crate::{cargo, postgres::Postgres, process::StopSignal, schemathesis};

pub async fn run(no_lint: bool) -> Result<()> {
    // Catch Ctrl-C so that a private Postgres cluster is still stopped on the way out.
    let _stop = StopSignal::listen()?;
    // First, so that a machine without Python and pip fails at once, not after the suites.
    let schemathesis = schemathesis::install().await?;
    if !no_lint {
        cargo::run(&["fmt", "--all", "--", "--check"], &[]).await?;
        cargo::run(
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ],
            &[],
        )
        .await?;
    }

    // #[sqlx::test] makes a throwaway database per test from this URL.
    let pg = Postgres::find().await?;
    // The services as outside clients see them: every answer as their documents say.
    schemathesis::run_on(&pg, &schemathesis).await?;
    let env = [("DATABASE_URL", pg.admin_url())];
    if has_nextest().await {
        // nextest skips doctests, so run those first; nextest's summary closes the run.
        cargo::run(&["test", "--workspace", "--doc"], &env).await?;
        cargo::run(&["nextest", "run", "--workspace"], &env).await?;
    } else {
        cargo::run(&["test", "--workspace"], &env).await?;
    }
    Ok(())
}

async fn has_nextest() -> bool {
    cargo::command(&["nextest", "--version"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .await
        .is_ok_and(|s| s.success())
}
