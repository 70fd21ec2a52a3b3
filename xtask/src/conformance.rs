//! `cargo xtask conformance --specs DIR`: the sandbox shops and the Shopify client's
//! queries checked against the vendors' own machine-readable specs (the Shopify Admin
//! GraphQL introspection, the SP-API models, Kaufland's OpenAPI document), which are not
//! part of this repository. `xtask/conformance/check.py` does the checking with jsonschema
//! and graphql-core, pinned in `xtask/conformance-requirements.txt`.

use std::{path::PathBuf, time::Duration};

use anyhow::{bail, Context, Result};
use tokio::process::Command;

use crate::{
    cargo, paths,
    process::{free_port, Supervisor},
    python::{self, Packages},
    secrets, services,
};

#[derive(clap::Args)]
pub struct Args {
    /// The folder holding `shopify/`, `amazon-sp-api/` and `kaufland/` specs.
    #[arg(long)]
    specs: PathBuf,
}

pub async fn run(args: Args) -> Result<()> {
    if !args.specs.join("kaufland").is_dir() {
        bail!(
            "{} does not hold the vendors' specs (shopify/, amazon-sp-api/, kaufland/)",
            args.specs.display()
        );
    }
    let packages = Packages::install("conformance").await?;
    let sandbox = services::get("sandbox");
    let bins = cargo::build_bins(&[(sandbox.package, sandbox.bin)], false).await?;
    let secret = secrets::generate()
        .into_iter()
        .find(|(name, _)| name == "SANDBOX_SECRET")
        .map(|(_, value)| value)
        .context("no SANDBOX_SECRET among the generated secrets")?;

    let work = tempfile::tempdir()?;
    let credentials = work.path().join("credentials.json");
    let printed = Command::new(&bins[0])
        .env("SANDBOX_SECRET", &secret)
        .args(["credentials", "--tenant", "conformance"])
        .output()
        .await?;
    if !printed.status.success() {
        bail!(
            "sandbox credentials failed: {}",
            String::from_utf8_lossy(&printed.stderr)
        );
    }
    std::fs::write(&credentials, printed.stdout)?;

    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let mut serve = Command::new(&bins[0]);
    serve
        .env("SANDBOX_SECRET", &secret)
        .env("PORT", port.to_string())
        .env("RUST_LOG", "warn");
    let mut sup = Supervisor::new()?;
    sup.spawn(sandbox.name, serve)?;
    let result = async {
        sup.wait_ready(
            sandbox.name,
            &format!("{base}/health/ready"),
            Duration::from_secs(30),
        )
        .await?;
        let mut check = packages.command();
        check
            .arg(paths::root().join("xtask/conformance/check.py"))
            .arg("--specs")
            .arg(&args.specs)
            .args(["--sandbox", &base])
            .arg("--credentials")
            .arg(&credentials)
            .arg("--shopify-queries")
            .arg(paths::root().join("crates/connectors/src/shopify/queries"));
        python::run(&mut check).await
    }
    .await;
    sup.shutdown().await;
    result
}
