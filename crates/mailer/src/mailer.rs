//! The `Mailer`: builds a MIME message and hands it to SMTP or the outbox.

use std::fmt;
use std::sync::Arc;

use lettre::message::{header::ContentType, Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;

use crate::outbox::Outbox;
use crate::{MailConfig, MailError, SmtpTls};

/// One mail to one recipient.
#[derive(Debug, Clone)]
pub struct OutgoingMail {
    pub to: String,
    pub subject: String,
    pub text: String,
    /// When set, the mail is multipart/alternative with `text` as the plain part.
    pub html: Option<String>,
}

/// Sends mail; cheap to clone.
#[derive(Clone)]
pub struct Mailer {
    inner: Arc<Inner>,
}

struct Inner {
    from: Mailbox,
    transport: Transport,
}

enum Transport {
    Smtp {
        client: AsyncSmtpTransport<Tokio1Executor>,
        description: String,
    },
    Outbox(Outbox),
}

impl Mailer {
    pub fn from_config(cfg: &MailConfig) -> Result<Self, MailError> {
        let from = parse_mailbox("sender (MAIL_FROM)", &cfg.mail_from)?;
        // A file outbox only when asked for: a production deployment that forgot SMTP_HOST
        // must not quietly write login codes to disk.
        let transport = match (&cfg.smtp_host, &cfg.outbox_dir) {
            (Some(host), _) => Transport::Smtp {
                client: smtp_client(host, cfg)?,
                description: format!("smtp {host}:{} ({})", cfg.smtp_port, cfg.smtp_tls.as_str()),
            },
            (None, Some(dir)) => Transport::Outbox(Outbox::new(dir)?),
            (None, None) => return Err(MailError::NoTransport),
        };
        Ok(Mailer {
            inner: Arc::new(Inner { from, transport }),
        })
    }

    pub async fn send(&self, mail: OutgoingMail) -> Result<(), MailError> {
        let message = self.build(&mail)?;
        // Log recipient and subject only: bodies hold one-time codes.
        match &self.inner.transport {
            Transport::Smtp { client, .. } => {
                client.send(message).await?;
                tracing::info!(to = %mail.to, subject = %mail.subject, "mail sent over smtp");
            }
            Transport::Outbox(outbox) => {
                let path = outbox.write(&message.formatted()).await?;
                tracing::info!(
                    to = %mail.to,
                    subject = %mail.subject,
                    path = %path.display(),
                    "mail written to outbox"
                );
            }
        }
        Ok(())
    }

    /// Where mail goes, for the startup log.
    pub fn describe(&self) -> String {
        match &self.inner.transport {
            Transport::Smtp { description, .. } => description.clone(),
            Transport::Outbox(outbox) => format!("outbox {}", outbox.dir().display()),
        }
    }

    fn build(&self, mail: &OutgoingMail) -> Result<Message, MailError> {
        let builder = Message::builder()
            .from(self.inner.from.clone())
            .to(parse_mailbox("recipient", &mail.to)?)
            .subject(&mail.subject);
        let message = match &mail.html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(
                mail.text.clone(),
                html.clone(),
            ))?,
            None => builder
                .header(ContentType::TEXT_PLAIN)
                .body(mail.text.clone())?,
        };
        Ok(message)
    }
}

impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailer")
            .field("from", &self.inner.from.to_string())
            .field("transport", &self.describe())
            .finish()
    }
}

fn parse_mailbox(role: &'static str, value: &str) -> Result<Mailbox, MailError> {
    value.parse().map_err(|source| MailError::InvalidAddress {
        role,
        value: value.to_owned(),
        source,
    })
}

fn smtp_client(
    host: &str,
    cfg: &MailConfig,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailError> {
    let tls = match cfg.smtp_tls {
        SmtpTls::Starttls => Tls::Required(TlsParameters::new(host.to_owned())?),
        SmtpTls::Tls => Tls::Wrapper(TlsParameters::new(host.to_owned())?),
        SmtpTls::None => Tls::None,
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        .port(cfg.smtp_port)
        .tls(tls);
    match (&cfg.smtp_user, &cfg.smtp_pass) {
        (Some(user), Some(pass)) => {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                pass.expose_secret().to_owned(),
            ));
        }
        (None, None) => {}
        _ => return Err(MailError::IncompleteCredentials),
    }
    Ok(builder.build())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::DEFAULT_MAIL_FROM;

    fn outbox_config(dir: &Path) -> MailConfig {
        MailConfig {
            smtp_host: None,
            smtp_port: 587,
            smtp_user: None,
            smtp_pass: None,
            smtp_tls: SmtpTls::Starttls,
            mail_from: DEFAULT_MAIL_FROM.into(),
            outbox_dir: Some(dir.to_owned()),
        }
    }

    fn smtp_config() -> MailConfig {
        MailConfig {
            smtp_host: Some("smtp.example.com".into()),
            smtp_user: Some("shop".into()),
            smtp_pass: Some("hunter2-very-secret".into()),
            ..outbox_config(Path::new("unused"))
        }
    }

    fn temp_outbox() -> std::path::PathBuf {
        std::env::temp_dir()
            .join(format!("sm-mailer-test-{}", uuid::Uuid::new_v4()))
            .join("outbox")
    }

    #[tokio::test]
    async fn outbox_writes_a_parseable_eml_file() {
        let dir = temp_outbox();
        let mailer = Mailer::from_config(&outbox_config(&dir)).unwrap();
        assert!(mailer.describe().starts_with("outbox /"), "{mailer:?}");

        mailer
            .send(OutgoingMail {
                to: "Jörg Müller <joerg@example.com>".into(),
                subject: "Ihr Bestätigungscode".into(),
                text: "Grüße! Ihr Code lautet 123456.".into(),
                html: Some("<p>Grüße! Ihr Code lautet <b>123456</b>.</p>".into()),
            })
            .await
            .unwrap();

        let files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        assert_eq!(files.len(), 1, "{files:?}");
        let name = files[0].file_name().unwrap().to_str().unwrap();
        // e.g. 20261124T101500.123Z-<36-char uuid>.eml
        assert!(name.ends_with(".eml"), "{name}");
        assert_eq!(name.len(), "20261124T101500.123Z-".len() + 36 + 4, "{name}");
        assert_eq!(&name[8..9], "T", "{name}");
        assert_eq!(&name[19..21], "Z-", "{name}");

        let raw = std::fs::read(&files[0]).unwrap();
        let parsed = mail_parser::MessageParser::default().parse(&raw).unwrap();
        assert_eq!(parsed.subject(), Some("Ihr Bestätigungscode"));
        let to = parsed.to().unwrap().first().unwrap();
        assert_eq!(to.address(), Some("joerg@example.com"));
        let from = parsed.from().unwrap().first().unwrap();
        assert_eq!(from.address(), Some("support@shopmarkets.app"));
        assert_eq!(
            parsed.body_text(0).unwrap().trim_end(),
            "Grüße! Ihr Code lautet 123456."
        );
        assert!(parsed.html_part(0).unwrap().is_text_html());
        assert_eq!(
            parsed.body_html(0).unwrap().trim_end(),
            "<p>Grüße! Ihr Code lautet <b>123456</b>.</p>"
        );

        std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    #[test]
    fn rejects_an_invalid_from_address() {
        let cfg = MailConfig {
            mail_from: "ShopMarkets <not-an-address>".into(),
            ..outbox_config(Path::new("unused"))
        };
        let err = Mailer::from_config(&cfg).unwrap_err();
        assert!(matches!(err, MailError::InvalidAddress { .. }), "{err}");
        assert!(err.to_string().contains("MAIL_FROM"), "{err}");
    }

    #[test]
    fn accepts_a_plain_from_address() {
        let cfg = MailConfig {
            mail_from: "noreply@shopmarkets.app".into(),
            ..outbox_config(Path::new("unused"))
        };
        assert!(Mailer::from_config(&cfg).is_ok());
    }

    #[tokio::test]
    async fn rejects_an_invalid_recipient_without_writing() {
        let dir = temp_outbox();
        let mailer = Mailer::from_config(&outbox_config(&dir)).unwrap();
        let err = mailer
            .send(OutgoingMail {
                to: "no at sign".into(),
                subject: "x".into(),
                text: "x".into(),
                html: None,
            })
            .await
            .unwrap_err();
        assert!(matches!(err, MailError::InvalidAddress { .. }), "{err}");
        assert!(!dir.exists());
    }

    #[test]
    fn without_smtp_or_an_explicit_outbox_there_is_no_mailer() {
        let cfg = MailConfig {
            outbox_dir: None,
            ..outbox_config(Path::new("unused"))
        };
        let err = Mailer::from_config(&cfg).unwrap_err();
        assert!(matches!(err, MailError::NoTransport), "{err}");
        let message = err.to_string();
        assert!(
            message.contains("SMTP_HOST") && message.contains("MAIL_OUTBOX_DIR"),
            "{message}"
        );
    }

    #[test]
    fn user_without_password_is_rejected() {
        let cfg = MailConfig {
            smtp_pass: None,
            ..smtp_config()
        };
        let err = Mailer::from_config(&cfg).unwrap_err();
        assert!(matches!(err, MailError::IncompleteCredentials), "{err}");
    }

    #[test]
    fn smtp_mailer_describes_itself_without_the_password() {
        let mailer = Mailer::from_config(&smtp_config()).unwrap();
        assert_eq!(mailer.describe(), "smtp smtp.example.com:587 (starttls)");
        let debug = format!("{mailer:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("support@shopmarkets.app"), "{debug}");
    }
}
