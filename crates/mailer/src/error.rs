use std::path::PathBuf;

/// Why a mail could not be prepared or delivered. No variant carries the SMTP password.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("invalid {role} address {value:?}: {source}")]
    InvalidAddress {
        /// Which address was wrong: "sender (MAIL_FROM)" or "recipient".
        role: &'static str,
        value: String,
        #[source]
        source: lettre::address::AddressError,
    },
    #[error(
        "no mail transport: set SMTP_HOST (with SMTP_PORT, SMTP_TLS, SMTP_USER, SMTP_PASS) to send \
         mail, or MAIL_OUTBOX_DIR to write it to files there (development only)"
    )]
    NoTransport,
    #[error("SMTP_USER and SMTP_PASS must be set together")]
    IncompleteCredentials,
    #[error("could not build the message: {0}")]
    Message(#[from] lettre::error::Error),
    #[error("smtp transport: {0}")]
    Transport(#[from] lettre::transport::smtp::Error),
    #[error("mail outbox {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("mail template: {0}")]
    Template(#[from] minijinja::Error),
}
