//! The security service's mails: one-time codes and notices, in the user's language.
//! A mail is queued in the outbox inside the transaction that makes what it carries (a code),
//! and delivered by the [`worker`].

pub mod worker;

use serde::Serialize;
use sm_mailer::{MailError, Mailer, OutgoingMail, Templates};
use sqlx::PgExecutor;

use crate::db;
use sm_domain::Language;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    VerifyEmail,
    LoginCode,
    PasswordReset,
    AccountExists,
    PasswordChanged,
}

impl MailKind {
    /// Whether anyone, without an account, can cause this mail (sign-up, resend, reset): such
    /// mail counts against the platform-wide budget.
    fn budgeted(self) -> bool {
        match self {
            MailKind::VerifyEmail | MailKind::PasswordReset | MailKind::AccountExists => true,
            MailKind::LoginCode | MailKind::PasswordChanged => false,
        }
    }

    fn name(self) -> &'static str {
        match self {
            MailKind::VerifyEmail => "verify_email",
            MailKind::LoginCode => "login_code",
            MailKind::PasswordReset => "password_reset",
            MailKind::AccountExists => "account_exists",
            MailKind::PasswordChanged => "password_changed",
        }
    }
}

macro_rules! templates {
    ($($lang:literal / $name:literal),* $(,)?) => {
        &[$((concat!($lang, "/", $name, ".txt"), include_str!(concat!("../templates/", $lang, "/", $name, ".txt")))),*]
    };
}

const TEMPLATES: &[(&str, &str)] = templates![
    "de" / "verify_email",
    "en" / "verify_email",
    "de" / "login_code",
    "en" / "login_code",
    "de" / "password_reset",
    "en" / "password_reset",
    "de" / "account_exists",
    "en" / "account_exists",
    "de" / "password_changed",
    "en" / "password_changed",
];

#[derive(Clone)]
pub struct Mail {
    mailer: Mailer,
    templates: std::sync::Arc<Templates>,
}

#[derive(Serialize)]
struct Context<'a> {
    name: &'a str,
    code: Option<&'a str>,
    minutes: i64,
}

impl Mail {
    pub fn new(mailer: Mailer) -> Result<Self, MailError> {
        Ok(Self {
            mailer,
            templates: std::sync::Arc::new(Templates::new(TEMPLATES)?),
        })
    }

    pub fn describe(&self) -> String {
        self.mailer.describe()
    }

    /// Renders the mail: the template's first line is the subject, the rest the body.
    pub fn render(
        &self,
        kind: MailKind,
        language: Language,
        to: &str,
        name: &str,
        code: Option<&str>,
    ) -> Result<OutgoingMail, MailError> {
        let template = format!("{}/{}.txt", language.as_str(), kind.name());
        let context = Context {
            name,
            code,
            minutes: crate::mailed_codes::TTL_MINUTES,
        };
        let rendered = self.templates.render(&template, context)?;
        let (subject, text) = rendered
            .split_once("\n\n")
            .unwrap_or((rendered.as_str(), ""));
        Ok(OutgoingMail {
            to: to.to_owned(),
            subject: subject.trim().to_owned(),
            text: text.to_owned(),
            html: None,
        })
    }

    /// Queues the mail in the outbox on `db` — the transaction that stores the code it
    /// carries, so both are kept or neither. The worker delivers it once that commits; the
    /// answer to the request neither waits for nor reveals delivery.
    pub async fn queue(
        &self,
        db: impl PgExecutor<'_>,
        kind: MailKind,
        language: Language,
        to: &str,
        name: &str,
        code: Option<&str>,
    ) -> crate::error::Result<()> {
        let mail = self
            .render(kind, language, to, name, code)
            .map_err(anyhow::Error::from)?;
        let queued = db::mail_outbox::NewMail {
            kind: kind.name(),
            recipient: &mail.to,
            subject: &mail.subject,
            body: &mail.text,
            budgeted: kind.budgeted(),
        };
        db::mail_outbox::insert(db, queued).await?;
        Ok(())
    }

    pub(crate) fn mailer(&self) -> &Mailer {
        &self.mailer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_renders_in_both_languages() {
        let config = <sm_mailer::MailConfig as clap::FromArgMatches>::from_arg_matches(
            &<sm_mailer::MailConfig as clap::Args>::augment_args(clap::Command::new("t"))
                .get_matches_from(["t", "--mail-outbox-dir", "unused"]),
        )
        .unwrap();
        let mail = Mail::new(Mailer::from_config(&config).unwrap()).unwrap();
        for kind in [
            MailKind::VerifyEmail,
            MailKind::LoginCode,
            MailKind::PasswordReset,
            MailKind::AccountExists,
            MailKind::PasswordChanged,
        ] {
            for language in [Language::De, Language::En] {
                let m = mail
                    .render(kind, language, "a@example.de", "Anna", Some("123456"))
                    .unwrap();
                assert!(!m.subject.is_empty() && !m.subject.contains('\n'));
                assert!(m.text.contains("Anna"));
                if matches!(
                    kind,
                    MailKind::VerifyEmail | MailKind::LoginCode | MailKind::PasswordReset
                ) {
                    assert!(m.text.contains("123456"));
                }
            }
        }
        let de = mail
            .render(
                MailKind::LoginCode,
                Language::De,
                "a@example.de",
                "Anna",
                Some("1"),
            )
            .unwrap();
        assert_eq!(de.subject, "Ihr Anmeldecode für ShopMarkets");
    }
}
