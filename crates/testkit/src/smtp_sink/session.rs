//! One SMTP conversation: just enough ESMTP (RFC 5321) for lettre without TLS.

use std::io;
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::Inbox;

/// Serves one client until it quits or hangs up.
pub(super) async fn run(stream: TcpStream, inbox: Arc<Inbox>) {
    // A client that hangs up mid-conversation gets its own error; the sink has nothing to add.
    let _ = converse(stream, &inbox).await;
}

async fn converse(stream: TcpStream, inbox: &Inbox) -> io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let mut reply = async |text: &str| write.write_all(format!("{text}\r\n").as_bytes()).await;

    reply("220 smtp-sink ESMTP ready").await?;
    let mut sender: Option<String> = None;
    let mut recipients: Vec<String> = Vec::new();
    loop {
        let Some(line) = read_line(&mut read).await? else {
            return Ok(());
        };
        let line = String::from_utf8_lossy(&line);
        let line = line.trim_end();
        let (verb, arg) = line.split_once(' ').unwrap_or((line, ""));
        match verb.to_ascii_uppercase().as_str() {
            "EHLO" => {
                reply(&format!(
                    "250-smtp-sink greets {arg}\r\n250-8BITMIME\r\n250 SMTPUTF8"
                ))
                .await?
            }
            "HELO" => reply("250 smtp-sink").await?,
            "MAIL" => match path(arg, "FROM:") {
                Some(address) => {
                    sender = Some(address);
                    recipients.clear();
                    reply("250 OK").await?
                }
                None => reply("501 syntax: MAIL FROM:<address>").await?,
            },
            "RCPT" if sender.is_none() => reply("503 send MAIL first").await?,
            "RCPT" => match path(arg, "TO:") {
                Some(address) => {
                    recipients.push(address);
                    reply("250 OK").await?
                }
                None => reply("501 syntax: RCPT TO:<address>").await?,
            },
            "DATA" if recipients.is_empty() => reply("503 send RCPT first").await?,
            "DATA" => {
                reply("354 end data with <CR><LF>.<CR><LF>").await?;
                let data = read_data(&mut read).await?;
                let from = sender.take().unwrap_or_default();
                inbox.deliver(from, std::mem::take(&mut recipients), &data);
                reply("250 OK").await?
            }
            "RSET" => {
                sender = None;
                recipients.clear();
                reply("250 OK").await?
            }
            "NOOP" => reply("250 OK").await?,
            "QUIT" => return reply("221 bye").await,
            _ => reply("502 command not implemented").await?,
        }
    }
}

/// The address in `FROM:<a@b> PARAMS` (with `prefix` "FROM:"), ignoring ESMTP parameters.
fn path(arg: &str, prefix: &str) -> Option<String> {
    let head = arg.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    let rest = arg[prefix.len()..].trim_start().strip_prefix('<')?;
    let (address, _params) = rest.split_once('>')?;
    Some(address.to_owned())
}

/// Reads the message after DATA up to the lone "." line, undoing dot-stuffing.
async fn read_data(read: &mut BufReader<impl tokio::io::AsyncRead + Unpin>) -> io::Result<Vec<u8>> {
    let mut data = Vec::new();
    loop {
        let line = read_line(read)
            .await?
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "hung up in DATA"))?;
        if line == b".\r\n" || line == b".\n" {
            return Ok(data);
        }
        data.extend_from_slice(line.strip_prefix(b".").unwrap_or(&line));
    }
}

/// One line including its line ending, or `None` at end of stream.
async fn read_line(
    read: &mut BufReader<impl tokio::io::AsyncRead + Unpin>,
) -> io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    let n = read.read_until(b'\n', &mut line).await?;
    Ok((n > 0).then_some(line))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SmtpSink;

    #[test]
    fn path_reads_the_address_and_skips_parameters() {
        assert_eq!(
            path("FROM:<a@b.de> BODY=8BITMIME", "FROM:").as_deref(),
            Some("a@b.de")
        );
        assert_eq!(path("to: <X@Y.de>", "TO:").as_deref(), Some("X@Y.de"));
        assert_eq!(path("FROM:<>", "FROM:").as_deref(), Some(""));
        assert_eq!(path("FROM:a@b.de", "FROM:"), None);
        assert_eq!(path("TO:<a@b.de>", "FROM:"), None);
    }

    #[tokio::test]
    async fn answers_the_commands_it_knows_and_rejects_the_rest() {
        let sink = SmtpSink::start().await;
        let stream = TcpStream::connect(("127.0.0.1", sink.port()))
            .await
            .unwrap();
        let (read, mut write) = stream.into_split();
        let mut read = BufReader::new(read);
        let mut line = String::new();
        read.read_line(&mut line).await.unwrap();
        assert!(line.starts_with("220 "), "{line}");
        let mut say = async |command: &str| -> String {
            write
                .write_all(format!("{command}\r\n").as_bytes())
                .await
                .unwrap();
            line.clear();
            read.read_line(&mut line).await.unwrap();
            line.clone()
        };

        assert_eq!(say("HELO test").await, "250 smtp-sink\r\n");
        assert!(say("RCPT TO:<a@b.de>").await.starts_with("503 "));
        assert!(say("MAIL FROM:<a@b.de>").await.starts_with("250 "));
        assert!(say("DATA").await.starts_with("503 "));
        assert!(say("VRFY a@b.de").await.starts_with("502 "));
        assert!(say("NOOP").await.starts_with("250 "));
        assert!(say("RSET").await.starts_with("250 "));
        assert!(
            say("RCPT TO:<a@b.de>").await.starts_with("503 "),
            "RSET forgets the sender"
        );
        assert!(say("QUIT").await.starts_with("221 "));
        assert!(sink.messages().is_empty());
    }
}
