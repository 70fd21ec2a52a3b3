//! Development secrets: random, generated once and kept in `target/xtask/dev-secrets.env`
//! so that tokens survive restarts. Never printed.

use std::{fs, io::Write, os::unix::fs::OpenOptionsExt, path::Path};

use anyhow::{Context, Result};
use base64::{
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
    Engine,
};
use rand::{rngs::OsRng, RngCore};

/// Name and value of each secret the services share.
pub type Secrets = Vec<(String, String)>;

/// Fresh random secrets.
pub fn generate() -> Secrets {
    vec![
        ("JWT_SECRET".into(), URL_SAFE_NO_PAD.encode(random::<48>())),
        (
            "SERVICE_TOKEN".into(),
            URL_SAFE_NO_PAD.encode(random::<32>()),
        ),
        (
            "TOTP_ENCRYPTION_KEY".into(),
            STANDARD.encode(random::<32>()),
        ),
        ("CREDENTIALS_KEYS".into(), STANDARD.encode(random::<32>())),
        (
            "SANDBOX_SECRET".into(),
            URL_SAFE_NO_PAD.encode(random::<32>()),
        ),
    ]
}

/// The secrets kept in `path`, creating the file (mode 0600) or adding missing entries.
pub fn load_or_create(path: &Path) -> Result<Secrets> {
    let kept = fs::read_to_string(path).unwrap_or_default();
    let mut secrets: Secrets = kept
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let missing: Secrets = generate()
        .into_iter()
        .filter(|(name, _)| !secrets.iter().any(|(k, _)| k == name))
        .collect();
    if !missing.is_empty() {
        secrets.extend(missing);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("writing {}", path.display()))?;
        writeln!(
            file,
            "# Development secrets made by `cargo xtask up`; delete to renew."
        )?;
        for (name, value) in &secrets {
            writeln!(file, "{name}={value}")?;
        }
    }
    Ok(secrets)
}

fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0; N];
    OsRng.fill_bytes(&mut bytes);
    bytes
}
