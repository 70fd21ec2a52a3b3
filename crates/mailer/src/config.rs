//! Mail settings, read from the command line or the environment.

use std::fmt;
use std::path::PathBuf;

use secrecy::SecretString;

/// Sender used when `MAIL_FROM` is not set.
pub const DEFAULT_MAIL_FROM: &str = "ShopMarkets <support@shopmarkets.app>";

/// How the SMTP connection is secured.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS (usually port 587).
    Starttls,
    /// TLS from the first byte (usually port 465).
    Tls,
    /// No encryption; only for local SMTP sinks.
    None,
}

impl SmtpTls {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SmtpTls::Starttls => "starttls",
            SmtpTls::Tls => "tls",
            SmtpTls::None => "none",
        }
    }
}

#[derive(clap::Args, Clone)]
pub struct MailConfig {
    /// SMTP server host. Mail needs it, or MAIL_OUTBOX_DIR for a local file outbox: with
    /// neither the service refuses to start.
    #[arg(long = "smtp-host", env = "SMTP_HOST")]
    pub smtp_host: Option<String>,
    /// SMTP server port.
    #[arg(long = "smtp-port", env = "SMTP_PORT", default_value_t = 587)]
    pub smtp_port: u16,
    /// SMTP user name; set together with SMTP_PASS.
    #[arg(long = "smtp-user", env = "SMTP_USER")]
    pub smtp_user: Option<String>,
    /// SMTP password.
    #[arg(long = "smtp-pass", env = "SMTP_PASS", hide_env_values = true)]
    pub smtp_pass: Option<SecretString>,
    /// starttls (default, port 587), tls (implicit, port 465) or none (only for local sinks).
    #[arg(long = "smtp-tls", env = "SMTP_TLS", default_value = "starttls")]
    pub smtp_tls: SmtpTls,
    /// Sender address of every mail.
    #[arg(long = "mail-from", env = "MAIL_FROM", default_value = DEFAULT_MAIL_FROM)]
    pub mail_from: String,
    /// Directory that receives mail as .eml files instead of an SMTP server (development
    /// only; ignored when SMTP_HOST is set). Must be chosen explicitly.
    #[arg(long = "mail-outbox-dir", env = "MAIL_OUTBOX_DIR")]
    pub outbox_dir: Option<PathBuf>,
}

impl fmt::Debug for MailConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailConfig")
            .field("smtp_host", &self.smtp_host)
            .field("smtp_port", &self.smtp_port)
            .field("smtp_user", &self.smtp_user)
            .field("smtp_pass", &self.smtp_pass.as_ref().map(|_| "[redacted]"))
            .field("smtp_tls", &self.smtp_tls)
            .field("mail_from", &self.mail_from)
            .field("outbox_dir", &self.outbox_dir)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        mail: MailConfig,
    }

    #[test]
    fn parses_flags() {
        Cli::command().debug_assert();
        // Explicit flags win over any SMTP_* variables set where the tests run.
        let cli = Cli::parse_from([
            "svc",
            "--smtp-host=smtp.ionos.de",
            "--smtp-port=465",
            "--smtp-tls=tls",
            "--mail-from=Shop <shop@example.com>",
        ]);
        assert_eq!(cli.mail.smtp_host.as_deref(), Some("smtp.ionos.de"));
        assert_eq!(cli.mail.smtp_port, 465);
        assert_eq!(cli.mail.smtp_tls, SmtpTls::Tls);
        assert_eq!(cli.mail.mail_from, "Shop <shop@example.com>");
    }

    #[test]
    fn debug_hides_the_password() {
        let cfg = MailConfig {
            smtp_host: Some("smtp.example.com".into()),
            smtp_port: 587,
            smtp_user: Some("shop".into()),
            smtp_pass: Some("hunter2-very-secret".into()),
            smtp_tls: SmtpTls::Starttls,
            mail_from: DEFAULT_MAIL_FROM.into(),
            outbox_dir: None,
        };
        let debug = format!("{cfg:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("[redacted]"), "{debug}");
        assert!(debug.contains("smtp.example.com"), "{debug}");
    }
}
