//! Reading one-time codes out of the service's mail outbox (one `.eml` file per message).

use std::{
    collections::HashSet,
    ffi::OsString,
    path::{Path, PathBuf},
    time::{Duration, SystemTime},
};

use anyhow::{bail, Result};
use mail_parser::MessageParser;
use tokio::time::{sleep, Instant};

/// The names of the files in the outbox now, to tell new mail from old.
pub fn snapshot(outbox: &Path) -> HashSet<OsString> {
    std::fs::read_dir(outbox)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.file_name())
        .collect()
}

/// Waits for new mail to `email` (not in `seen`) and returns the code in the newest one.
pub async fn wait_for_code(outbox: &Path, email: &str, seen: &HashSet<OsString>) -> Result<String> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(code) = newest_code(outbox, email, seen) {
            return Ok(code);
        }
        if Instant::now() >= deadline {
            bail!("no mail with a code for {email} in {}", outbox.display());
        }
        sleep(Duration::from_millis(50)).await;
    }
}

fn newest_code(outbox: &Path, email: &str, seen: &HashSet<OsString>) -> Option<String> {
    let mut new: Vec<(SystemTime, PathBuf)> = std::fs::read_dir(outbox)
        .ok()?
        .flatten()
        .filter(|entry| !seen.contains(&entry.file_name()))
        .filter(|entry| entry.path().extension().is_some_and(|ext| ext == "eml"))
        .filter_map(|entry| Some((entry.metadata().ok()?.modified().ok()?, entry.path())))
        .collect();
    new.sort_by_key(|(modified, _)| std::cmp::Reverse(*modified));
    new.iter()
        .find_map(|(_, path)| code_for(&std::fs::read(path).ok()?, email))
}

/// The code in a message addressed to `email`: the first standalone six-digit number
/// of its text (decoded, so quoted-printable does not matter).
fn code_for(raw: &[u8], email: &str) -> Option<String> {
    let message = MessageParser::default().parse(raw)?;
    let addressed = message.to()?.iter().any(|to| {
        to.address()
            .is_some_and(|address| address.eq_ignore_ascii_case(email))
    });
    if !addressed {
        return None;
    }
    six_digits(&message.body_text(0)?).map(str::to_owned)
}

fn six_digits(text: &str) -> Option<&str> {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|run| run.len() == 6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_standalone_code_in_quoted_printable_mail() {
        let raw = b"From: ShopMarkets <no-reply@shopmarkets.app>\r\n\
            To: Bench0@Example.com\r\n\
            Subject: Your code 2025\r\n\
            Content-Type: text/plain; charset=utf-8\r\n\
            Content-Transfer-Encoding: quoted-printable\r\n\
            \r\n\
            Order 1234567 is not a code. Gr=C3=BC=C3=9Fe, your code=3D 4820=\r\n\
            19 is valid for 15 minutes.\r\n";
        assert_eq!(
            code_for(raw, "bench0@example.com").as_deref(),
            Some("482019")
        );
        assert_eq!(code_for(raw, "someone@example.com"), None);
    }
}
