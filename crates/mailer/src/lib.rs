//! Mail delivery: SMTP, or a local outbox directory when no SMTP server is configured,
//! so the platform runs without any mail account.

mod config;
mod error;
mod mailer;
mod outbox;
mod templates;

pub use config::{MailConfig, SmtpTls, DEFAULT_MAIL_FROM};
pub use error::MailError;
pub use mailer::{Mailer, OutgoingMail};
pub use templates::Templates;
