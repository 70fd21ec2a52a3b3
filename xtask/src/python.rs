//! Python tools pinned in `xtask/<name>-requirements.txt`, installed under
//! `target/xtask/<name>` with `pip install --target`: that needs neither a venv module nor
//! write access to the interpreter's own packages, so plain `python3` with pip is enough
//! (`PYTHON` picks another interpreter).

use std::{ffi::OsString, path::PathBuf};

use anyhow::{bail, Context, Result};
use tokio::process::Command;

use crate::paths;

/// A set of pinned packages in a directory of their own, run by the interpreter that
/// installed them.
pub struct Packages {
    python: OsString,
    dir: PathBuf,
}

impl Packages {
    /// Installs `xtask/<name>-requirements.txt` unless the same pins are installed already.
    pub async fn install(name: &str) -> Result<Self> {
        let requirements = paths::root().join(format!("xtask/{name}-requirements.txt"));
        let wanted = std::fs::read_to_string(&requirements)
            .with_context(|| format!("reading {}", requirements.display()))?;
        let python = std::env::var_os("PYTHON").unwrap_or_else(|| "python3".into());
        let found = Packages {
            python,
            dir: paths::xtask().join(name),
        };
        let installed = found.dir.join("installed-requirements.txt");
        if std::fs::read_to_string(&installed).is_ok_and(|pins| pins == wanted) {
            return Ok(found);
        }
        println!("==> installing {name} into {}", found.dir.display());
        if found.dir.exists() {
            std::fs::remove_dir_all(&found.dir)?;
        }
        run(Command::new(&found.python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(["--no-warn-script-location", "--target"])
            .arg(&found.dir)
            .arg("--requirement")
            .arg(&requirements))
        .await?;
        std::fs::write(&installed, wanted)?;
        Ok(found)
    }

    /// The interpreter with these packages first on its path (`-s`: no user site-packages).
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.python);
        cmd.arg("-s").env("PYTHONPATH", &self.dir);
        cmd
    }
}

/// Runs `cmd` to the end; an unsuccessful exit is an error.
pub async fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd
        .status()
        .await
        .with_context(|| format!("could not start {:?}", cmd.as_std().get_program()))?;
    if !status.success() {
        bail!("{:?} failed ({status})", cmd.as_std());
    }
    Ok(())
}
