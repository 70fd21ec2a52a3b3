//! What can go wrong talking to a channel, in terms the merchant can act on.

use std::time::Duration;

/// A failure the sync engine records and the merchant sees. Messages never carry
/// credentials or tokens.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    /// The channel refused the credentials: reconnect the shop.
    #[error("the channel refused the credentials: {message}")]
    InvalidCredentials { message: String },
    /// The credentials work but lack a permission (a Shopify access scope, an Amazon role).
    #[error("the credentials lack the permission {scope}")]
    MissingScope { scope: String },
    /// Still throttled after the retries; try again after `retry_after`.
    #[error("the channel is rate limiting this account")]
    RateLimited { retry_after: Option<Duration> },
    /// Timeouts, connection failures or 5xx answers that outlasted the retries.
    #[error("the channel is unavailable: {message}")]
    Unavailable { message: String },
    /// The channel refused an item, with its reason.
    #[error("the channel rejected {item}: {reason}")]
    Rejected { item: String, reason: String },
    /// The channel answered something this client cannot read.
    #[error("the channel sent an answer that cannot be read: {message}")]
    Protocol { message: String },
    /// A sandbox connection while the operator has not configured a sandbox.
    #[error("the sandbox shops are not configured on this installation")]
    SandboxUnavailable,
}

impl ChannelError {
    /// Stable snake_case code for API answers and sync logs.
    pub fn code(&self) -> &'static str {
        match self {
            ChannelError::InvalidCredentials { .. } => "channel_credentials_invalid",
            ChannelError::MissingScope { .. } => "channel_scope_missing",
            ChannelError::RateLimited { .. } => "channel_rate_limited",
            ChannelError::Unavailable { .. } => "channel_unavailable",
            ChannelError::Rejected { .. } => "channel_rejected_item",
            ChannelError::Protocol { .. } => "channel_protocol_error",
            ChannelError::SandboxUnavailable => "sandbox_unavailable",
        }
    }

    /// Worth trying again later without the merchant doing anything.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ChannelError::RateLimited { .. } | ChannelError::Unavailable { .. }
        )
    }

    pub(crate) fn unavailable(message: impl Into<String>) -> Self {
        ChannelError::Unavailable {
            message: message.into(),
        }
    }

    pub(crate) fn protocol(message: impl Into<String>) -> Self {
        ChannelError::Protocol {
            message: message.into(),
        }
    }

    pub(crate) fn credentials(message: impl Into<String>) -> Self {
        ChannelError::InvalidCredentials {
            message: message.into(),
        }
    }
}

/// Longest piece of vendor text an error carries.
const MAX_VENDOR_TEXT: usize = 300;

/// Vendor text (an error description, a refusal's message) cut to [`MAX_VENDOR_TEXT`]
/// characters at a char boundary, so a vendor cannot fill logs and answers with its prose.
pub(crate) fn clip(text: &str) -> String {
    match text.char_indices().nth(MAX_VENDOR_TEXT) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendor_text_is_clipped_at_a_char_boundary() {
        assert_eq!(clip("short"), "short");
        let long = "ü".repeat(400);
        let clipped = clip(&long);
        assert_eq!(clipped.chars().count(), MAX_VENDOR_TEXT + 1);
        assert!(clipped.ends_with('…'));
        assert_eq!(clip(&"a".repeat(300)), "a".repeat(300));
    }
}
