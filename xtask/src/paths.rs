//! Where things live: the workspace root and xtask's scratch space under `target/`.

use std::path::{Path, PathBuf};

/// The workspace root (the parent of this crate).
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives inside the workspace")
}

/// Cargo's target directory, honouring `CARGO_TARGET_DIR`.
pub fn target() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root().join(dir),
        None => root().join("target"),
    }
}

/// xtask's own state: dev secrets, the private Postgres cluster.
pub fn xtask() -> PathBuf {
    target().join("xtask")
}
