//! The local outbox: one RFC 5322 `.eml` file per message.

use std::path::{Path, PathBuf};

use chrono::Utc;
use uuid::Uuid;

use crate::MailError;

#[derive(Debug)]
pub(crate) struct Outbox {
    dir: PathBuf,
}

impl Outbox {
    pub(crate) fn new(dir: &Path) -> Result<Self, MailError> {
        // Absolute, so the startup log says exactly where to look.
        let dir = std::path::absolute(dir).map_err(|source| MailError::Io {
            path: dir.to_owned(),
            source,
        })?;
        Ok(Outbox { dir })
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes the message and returns the path of the new file.
    pub(crate) async fn write(&self, message: &[u8]) -> Result<PathBuf, MailError> {
        let io_error = |path: &Path| {
            let path = path.to_owned();
            move |source| MailError::Io { path, source }
        };
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(io_error(&self.dir))?;

        let stem = format!(
            "{}-{}",
            Utc::now().format("%Y%m%dT%H%M%S%.3fZ"),
            Uuid::new_v4()
        );
        let path = self.dir.join(format!("{stem}.eml"));
        // Written under another name first, so whoever watches for *.eml never reads half a file.
        let partial = self.dir.join(format!("{stem}.partial"));
        tokio::fs::write(&partial, message)
            .await
            .map_err(io_error(&partial))?;
        tokio::fs::rename(&partial, &path)
            .await
            .map_err(io_error(&path))?;
        Ok(path)
    }
}
