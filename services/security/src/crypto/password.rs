//! argon2id password hashing, off the async threads and with a bounded number at once so a
//! burst of logins cannot starve the server.
//!
//! Each hash needs a 19 MiB work area. One area per permit is allocated once and reused:
//! allocating it per hash costs fresh pages every time, and glibc would keep the freed areas
//! in per-thread arenas (hundreds of MiB under load).

use std::sync::{Arc, Mutex};

use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;
use tokio::sync::{OnceCell, Semaphore};

/// OWASP's argon2id minimum: 19 MiB, 2 passes, 1 lane.
pub const MEMORY_KIB: u32 = 19 * 1024;
pub const ITERATIONS: u32 = 2;
pub const PARALLELISM: u32 = 1;
const SALT_BYTES: usize = 16;
const OUTPUT_BYTES: usize = 32;

#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    work_areas: Arc<Mutex<Vec<Vec<Block>>>>,
    /// Verified against when the email is unknown, so the answer takes as long as for a real account.
    dummy_hash: Arc<OnceCell<String>>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("available", &self.permits.available_permits())
            .finish()
    }
}

fn params() -> Params {
    Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, Some(OUTPUT_BYTES))
        .expect("valid argon2 params")
}

/// Runs argon2 in `area`, growing it if these parameters need more.
fn compute(
    argon: &Argon2<'_>,
    block_count: usize,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
    area: &mut Vec<Block>,
) -> bool {
    if area.len() < block_count {
        area.resize(block_count, Block::default());
    }
    argon
        .hash_password_into_with_memory(password, salt, out, &mut area[..block_count])
        .is_ok()
}

fn hash_in(password: &[u8], area: &mut Vec<Block>) -> anyhow::Result<String> {
    let mut salt = [0u8; SALT_BYTES];
    OsRng.fill_bytes(&mut salt);
    let params = params();
    let mut out = [0u8; OUTPUT_BYTES];
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    anyhow::ensure!(
        compute(
            &argon,
            params.block_count(),
            password,
            &salt,
            &mut out,
            area
        ),
        "argon2 failed"
    );
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    let phc = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| anyhow::anyhow!("params: {e}"))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| anyhow::anyhow!("output: {e}"))?),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches the PHC string `stored` (whatever argon2 parameters it names).
fn verify_in(password: &[u8], stored: &str, area: &mut Vec<Block>) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::V0x13,
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    let argon = Argon2::new(algorithm, version, params.clone());
    compute(&argon, params.block_count(), password, salt, &mut out, area)
        && bool::from(out.ct_eq(expected.as_bytes()))
}

impl PasswordHasher {
    pub fn new(max_concurrent: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            work_areas: Arc::new(Mutex::new(Vec::new())),
            dummy_hash: Arc::new(OnceCell::new()),
        }
    }

    pub async fn hash(&self, password: SecretString) -> anyhow::Result<String> {
        self.blocking(move |area| hash_in(password.expose_secret().as_bytes(), area))
            .await?
    }

    /// Whether `password` matches `stored`. With `stored == None` (unknown account) a dummy
    /// hash is checked instead and the answer is always false.
    pub async fn verify(
        &self,
        password: SecretString,
        stored: Option<String>,
    ) -> anyhow::Result<bool> {
        let (hash, real) = match stored {
            Some(hash) => (hash, true),
            None => (self.dummy().await?, false),
        };
        let matches = self
            .blocking(move |area| verify_in(password.expose_secret().as_bytes(), &hash, area))
            .await?;
        Ok(real && matches)
    }

    async fn dummy(&self) -> anyhow::Result<String> {
        self.dummy_hash
            .get_or_try_init(|| {
                self.hash(SecretString::from("dummy password for unknown accounts"))
            })
            .await
            .cloned()
    }

    /// Runs `job` on the blocking pool with a work area, at most `max_concurrent` at once.
    async fn blocking<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> anyhow::Result<T> {
        let _permit = self.permits.acquire().await?;
        let mut area = self
            .work_areas
            .lock()
            .expect("work area list")
            .pop()
            .unwrap_or_default();
        let (result, area) = tokio::task::spawn_blocking(move || {
            let result = job(&mut area);
            (result, area)
        })
        .await?;
        self.work_areas.lock().expect("work area list").push(area);
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher as _, PasswordVerifier};

    #[tokio::test]
    async fn hashes_with_the_required_parameters_and_verifies() {
        let hasher = PasswordHasher::new(2);
        let hash = hasher
            .hash(SecretString::from("Grüße aus Köln 2026"))
            .await
            .unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(hasher
            .verify(
                SecretString::from("Grüße aus Köln 2026"),
                Some(hash.clone())
            )
            .await
            .unwrap());
        assert!(!hasher
            .verify(SecretString::from("Grüße aus Köln 2027"), Some(hash))
            .await
            .unwrap());
    }

    #[tokio::test]
    async fn interoperates_with_the_standard_phc_implementation() {
        let hasher = PasswordHasher::new(1);
        let ours = hasher
            .hash(SecretString::from("Sonnenblume-Kaffee-42"))
            .await
            .unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default()
            .verify_password(b"Sonnenblume-Kaffee-42", &parsed)
            .is_ok());

        // A hash made elsewhere, with other parameters, still verifies (and grows the area).
        let salt = SaltString::generate(&mut OsRng);
        let theirs = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(32 * 1024, 3, 1, None).unwrap(),
        )
        .hash_password(b"Andere-Parameter-7", &salt)
        .unwrap()
        .to_string();
        assert!(hasher
            .verify(
                SecretString::from("Andere-Parameter-7"),
                Some(theirs.clone())
            )
            .await
            .unwrap());
        assert!(!hasher
            .verify(SecretString::from("Andere-Parameter-8"), Some(theirs))
            .await
            .unwrap());
        assert!(!hasher
            .verify(SecretString::from("x"), Some("not a hash".into()))
            .await
            .unwrap());
    }

    #[tokio::test]
    async fn unknown_account_never_matches() {
        let hasher = PasswordHasher::new(1);
        assert!(!hasher
            .verify(
                SecretString::from("dummy password for unknown accounts"),
                None
            )
            .await
            .unwrap());
    }
}
