//! Why a job attempt stopped, and whether the job is tried again.

use sm_connectors::ChannelError;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The channel failed the call (after the connector's own retries).
    #[error(transparent)]
    Channel(#[from] ChannelError),
    /// Another worker holds the job now (this worker's lease ran out): stop, write nothing.
    #[error("the job's lease was lost to another worker")]
    LeaseLost,
    /// The connection was deleted or its credentials no longer open.
    #[error("{message}")]
    Connection { code: &'static str, message: String },
    /// The attempt committed no page for `SyncSettings::stall` (`SYNC_STALL_SECS`).
    #[error("the sync attempt took too long and was stopped")]
    TimedOut,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl SyncError {
    /// Stable code shown to the merchant.
    pub fn code(&self) -> &'static str {
        match self {
            SyncError::Channel(e) => e.code(),
            SyncError::LeaseLost => "lease_lost",
            SyncError::Connection { code, .. } => code,
            SyncError::TimedOut => "sync_timed_out",
            SyncError::Db(_) | SyncError::Other(_) => "internal_error",
        }
    }

    /// Worth another attempt (with backoff) without the merchant doing anything. A
    /// malformed page is retried too: the next read of it may well be whole.
    pub fn is_retryable(&self) -> bool {
        match self {
            SyncError::Channel(e) => e.is_transient() || matches!(e, ChannelError::Protocol { .. }),
            SyncError::LeaseLost | SyncError::Connection { .. } => false,
            SyncError::TimedOut | SyncError::Db(_) | SyncError::Other(_) => true,
        }
    }

    /// What the merchant reads: never SQL or internal detail.
    pub fn public_message(&self) -> String {
        match self {
            SyncError::Channel(e) => e.to_string(),
            SyncError::Connection { message, .. } => message.clone(),
            SyncError::LeaseLost => "another worker took the job over".to_owned(),
            SyncError::TimedOut => self.to_string(),
            SyncError::Db(_) | SyncError::Other(_) => {
                "an internal error interrupted the sync".to_owned()
            }
        }
    }
}
