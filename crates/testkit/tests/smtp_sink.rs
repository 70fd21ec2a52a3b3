//! The sink receives what `sm_mailer::Mailer` really sends over SMTP.

use std::time::Duration;

use sm_mailer::{Mailer, OutgoingMail};
use sm_testkit::{extract_code, SmtpSink};

const WAIT: Duration = Duration::from_secs(10);

fn mail(to: &str, subject: &str, text: &str, html: Option<&str>) -> OutgoingMail {
    OutgoingMail {
        to: to.into(),
        subject: subject.into(),
        text: text.into(),
        html: html.map(Into::into),
    }
}

#[tokio::test]
async fn receives_and_decodes_a_german_mail_with_html() {
    let sink = SmtpSink::start().await;
    let mailer = Mailer::from_config(&sink.mail_config()).unwrap();
    let text = "Hallo Jörg,\n\nIhr Bestätigungscode lautet 482913. Er ist 10 Minuten gültig.\n\nGrüße\nIhr ShopMarkets-Team";
    let html = "<p>Hallo Jörg,</p><p>Ihr Bestätigungscode lautet <strong>482913</strong>.</p>";
    mailer
        .send(mail(
            "Jörg Müller <joerg@example.com>",
            "Ihr Bestätigungscode für ShopMarkets – bitte prüfen",
            text,
            Some(html),
        ))
        .await
        .unwrap();

    let received = sink.wait_for("JOERG@Example.com", WAIT).await;
    assert_eq!(received.from, "support@shopmarkets.app");
    assert_eq!(received.to, ["joerg@example.com"]);
    assert_eq!(
        received.subject,
        "Ihr Bestätigungscode für ShopMarkets – bitte prüfen"
    );
    assert_eq!(received.text.trim_end(), text);
    assert_eq!(received.html.as_deref().map(str::trim_end), Some(html));
    assert!(received.raw.contains("multipart/alternative"));
    assert_eq!(extract_code(&received.text), "482913");
    assert_eq!(sink.messages().len(), 1);
}

#[tokio::test]
async fn plain_text_mail_keeps_lines_that_start_with_a_dot() {
    let sink = SmtpSink::start().await;
    let mailer = Mailer::from_config(&sink.mail_config()).unwrap();
    // The lone "." would end DATA early if the sink did not undo lettre's dot-stuffing.
    let text = "first\n.\n..two dots\n.one dot\nlast";
    mailer
        .send(mail("dots@example.com", "Dots", text, None))
        .await
        .unwrap();

    let received = sink.wait_for("dots@example.com", WAIT).await;
    assert_eq!(received.text.trim_end(), text);
    assert_eq!(received.html, None);
}

#[tokio::test]
async fn tells_recipients_and_successive_mails_apart() {
    let sink = SmtpSink::start().await;
    let mailer = Mailer::from_config(&sink.mail_config()).unwrap();
    for (to, code) in [
        ("anna@example.com", "111111"),
        ("ben@example.com", "222222"),
        ("anna@example.com", "333333"),
    ] {
        let text = format!("Ihr Code: {code}");
        mailer.send(mail(to, "Code", &text, None)).await.unwrap();
    }

    let ben = sink.wait_for("ben@example.com", WAIT).await;
    assert_eq!(extract_code(&ben.text), "222222");
    let anna_first = sink.wait_for("anna@example.com", WAIT).await;
    assert_eq!(extract_code(&anna_first.text), "111111");
    let anna_second = sink.wait_for("anna@example.com", WAIT).await;
    assert_eq!(extract_code(&anna_second.text), "333333");
    assert_eq!(sink.messages().len(), 3);
}

#[tokio::test]
async fn waits_for_a_mail_sent_later() {
    let sink = SmtpSink::start().await;
    let mailer = Mailer::from_config(&sink.mail_config()).unwrap();
    let send = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        mailer
            .send(mail("late@example.com", "Später", "Code 654321", None))
            .await
    });

    let received = sink.wait_for("late@example.com", WAIT).await;
    assert_eq!(received.subject, "Später");
    send.await.unwrap().unwrap();
}

#[tokio::test]
#[should_panic(expected = "no mail to nobody@example.com")]
async fn wait_for_panics_when_nothing_arrives_for_the_recipient() {
    let sink = SmtpSink::start().await;
    let mailer = Mailer::from_config(&sink.mail_config()).unwrap();
    mailer
        .send(mail("somebody@example.com", "Code", "Code 123456", None))
        .await
        .unwrap();
    sink.wait_for("nobody@example.com", Duration::from_millis(300))
        .await;
}
