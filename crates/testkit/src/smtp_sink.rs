//! `SmtpSink`: a local SMTP server that keeps every message it receives, so tests can read
//! the mail a service really sent over the wire.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mail_parser::MessageParser;
use sm_mailer::{MailConfig, SmtpTls, DEFAULT_MAIL_FROM};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

mod session;

/// One message as the sink received it, with headers and bodies decoded.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    /// Envelope sender (`MAIL FROM`).
    pub from: String,
    /// Envelope recipients (`RCPT TO`).
    pub to: Vec<String>,
    pub subject: String,
    /// The plain-text body, line endings as `\n`.
    pub text: String,
    /// The HTML alternative, if the message has one, line endings as `\n`.
    pub html: Option<String>,
    /// The message as transmitted, after dot-unstuffing.
    pub raw: String,
}

impl ReceivedMail {
    fn parse(from: String, to: Vec<String>, raw: &[u8]) -> ReceivedMail {
        let message = MessageParser::default().parse(raw);
        let message = message.as_ref();
        let subject = message.and_then(|m| m.subject()).unwrap_or_default();
        let text = message.and_then(|m| m.body_text(0)).unwrap_or_default();
        // `body_html` would render the text part as HTML when there is no HTML part.
        let html = message
            .and_then(|m| m.html_part(0))
            .filter(|part| part.is_text_html())
            .and_then(|part| part.text_contents());
        ReceivedMail {
            from,
            to,
            subject: subject.to_owned(),
            text: text.replace("\r\n", "\n"),
            html: html.map(|html| html.replace("\r\n", "\n")),
            raw: String::from_utf8_lossy(raw).into_owned(),
        }
    }
}

pub struct SmtpSink {
    port: u16,
    inbox: Arc<Inbox>,
    server: JoinHandle<()>,
}

impl SmtpSink {
    /// Starts listening on 127.0.0.1 on a free port.
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("SMTP sink could not bind 127.0.0.1:0");
        let port = listener.local_addr().expect("SMTP sink address").port();
        let inbox = Arc::new(Inbox::default());
        let server = tokio::spawn(serve(listener, inbox.clone()));
        SmtpSink {
            port,
            inbox,
            server,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Settings that make `sm_mailer::Mailer` deliver to this sink.
    pub fn mail_config(&self) -> MailConfig {
        MailConfig {
            smtp_host: Some("127.0.0.1".into()),
            smtp_port: self.port,
            smtp_user: None,
            smtp_pass: None,
            smtp_tls: SmtpTls::None,
            mail_from: DEFAULT_MAIL_FROM.into(),
            outbox_dir: None,
        }
    }

    /// Waits for the next message to `to` (case-insensitive) that no earlier call took.
    /// Panics when none arrives within `timeout`.
    pub async fn wait_for(&self, to: &str, timeout: Duration) -> ReceivedMail {
        let deadline = Instant::now() + timeout;
        // Subscribed before looking, so a message arriving in between still wakes us.
        let mut arrived = self.inbox.arrived.subscribe();
        loop {
            if let Some(mail) = self.inbox.take(to) {
                return mail;
            }
            if tokio::time::timeout_at(deadline, arrived.changed())
                .await
                .is_err()
            {
                let seen: Vec<_> = self
                    .messages()
                    .into_iter()
                    .map(|mail| format!("to {:?}: {:?}", mail.to, mail.subject))
                    .collect();
                panic!("no mail to {to} within {timeout:?}; the SMTP sink received {seen:#?}");
            }
        }
    }

    /// Every message received so far, taken or not, oldest first.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        let entries = self.inbox.entries.lock().unwrap();
        entries.iter().map(|entry| entry.mail.clone()).collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn serve(listener: TcpListener, inbox: Arc<Inbox>) {
    loop {
        if let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(session::run(stream, inbox.clone()));
        }
    }
}

#[derive(Default)]
struct Inbox {
    entries: Mutex<Vec<Entry>>,
    /// Bumped on every delivery to wake `wait_for`.
    arrived: watch::Sender<()>,
}

struct Entry {
    mail: ReceivedMail,
    taken: bool,
}

impl Inbox {
    fn deliver(&self, from: String, to: Vec<String>, raw: &[u8]) {
        let mail = ReceivedMail::parse(from, to, raw);
        self.entries
            .lock()
            .unwrap()
            .push(Entry { mail, taken: false });
        self.arrived.send_replace(());
    }

    fn take(&self, to: &str) -> Option<ReceivedMail> {
        let mut entries = self.entries.lock().unwrap();
        let entry = entries.iter_mut().find(|entry| {
            !entry.taken
                && entry
                    .mail
                    .to
                    .iter()
                    .any(|rcpt| rcpt.eq_ignore_ascii_case(to))
        })?;
        entry.taken = true;
        Some(entry.mail.clone())
    }
}
