//! Running cargo itself: checks and builds.

use std::{path::PathBuf, process::Stdio};

use anyhow::{bail, Context, Result};
use tokio::{io::AsyncReadExt, process::Command};

use crate::paths;

/// `cargo <args>` in the workspace root, using the cargo that runs xtask.
pub fn command(args: &[&str]) -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.args(args).current_dir(paths::root());
    cmd
}

/// Runs `cargo <args>` with `env` added, failing with the command line if it fails.
pub async fn run(args: &[&str], env: &[(&str, &str)]) -> Result<()> {
    let line = format!("cargo {}", args.join(" "));
    println!("==> {line}");
    let status = command(args)
        .envs(env.iter().copied())
        .status()
        .await
        .with_context(|| format!("could not start `{line}`"))?;
    if !status.success() {
        bail!("`{line}` failed ({status})");
    }
    Ok(())
}

/// Builds the given `(package, binary)` pairs and returns the executables' paths, in order.
pub async fn build_bins(bins: &[(&str, &str)], release: bool) -> Result<Vec<PathBuf>> {
    let mut args = vec!["build", "--message-format=json-render-diagnostics"];
    if release {
        args.push("--release");
    }
    for (package, bin) in bins {
        args.extend(["-p", package, "--bin", bin]);
    }
    println!("==> cargo {}", args.join(" "));
    // Diagnostics go to the terminal; stdout carries the JSON messages.
    let mut child = command(&args)
        .stdout(Stdio::piped())
        .spawn()
        .context("could not start cargo build")?;
    let mut messages = String::new();
    child
        .stdout
        .take()
        .context("cargo build has no stdout")?
        .read_to_string(&mut messages)
        .await?;
    let status = child.wait().await?;
    if !status.success() {
        bail!("cargo build failed ({status})");
    }

    // Cargo reports each built executable as a JSON `compiler-artifact` message.
    let mut built = Vec::new();
    for line in messages.lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if let (Some(name), Some(exe)) =
            (msg["target"]["name"].as_str(), msg["executable"].as_str())
        {
            built.push((name.to_owned(), PathBuf::from(exe)));
        }
    }
    bins.iter()
        .map(|(_, bin)| {
            built
                .iter()
                .find(|(name, _)| name == bin)
                .map(|(_, exe)| exe.clone())
                .with_context(|| format!("cargo build did not report the `{bin}` executable"))
        })
        .collect()
}
