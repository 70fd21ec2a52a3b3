//! argon2id password hashing, off the async threads and with a bounded number at once so a
//! burst of logins cannot starve the server.
//!
//! Each hash needs a 19 MiB work area. One area per permit is allocated once and reused:
//! allocating it per hash costs fresh pages every time, and glibc would keep the freed areas
//! in per-thread arenas (hundreds of MiB under load). The permit and the area travel into the
//! blocking job, so a request that is dropped mid-hash neither frees its permit early nor loses
//! its area.
//!
//! A stored hash names its own parameters; one naming more than [`Bounds`] allow (a tampered
//! row asking for 4 GiB) is refused like a wrong password instead of being computed.

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
/// Longest hash output a stored hash may have.
const MAX_OUTPUT_BYTES: usize = 64;

/// The largest argon2 parameters a stored hash may name (`PASSWORD_HASH_MAX_*`).
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    pub max_memory_kib: u32,
    pub max_iterations: u32,
    pub max_parallelism: u32,
}

impl Bounds {
    fn admit(&self, params: &Params) -> bool {
        params.m_cost() <= self.max_memory_kib
            && params.t_cost() <= self.max_iterations
            && params.p_cost() <= self.max_parallelism
    }
}

#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    work_areas: Arc<Mutex<Vec<Vec<Block>>>>,
    bounds: Bounds,
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

/// Whether `password` matches the PHC string `stored`, if the argon2 parameters it names are
/// within `bounds`.
fn verify_in(password: &[u8], stored: &str, bounds: Bounds, area: &mut Vec<Block>) -> bool {
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
    if !bounds.admit(&params) || params.output_len().unwrap_or(0) > MAX_OUTPUT_BYTES {
        tracing::warn!(
            m_cost = params.m_cost(),
            t_cost = params.t_cost(),
            p_cost = params.p_cost(),
            "stored password hash names argon2 parameters beyond the configured bounds; refused"
        );
        return false;
    }
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
    pub fn new(max_concurrent: usize, bounds: Bounds) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            work_areas: Arc::new(Mutex::new(Vec::new())),
            bounds,
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
        let bounds = self.bounds;
        let matches = self
            .blocking(move |area| {
                verify_in(password.expose_secret().as_bytes(), &hash, bounds, area)
            })
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
    /// The permit and the area belong to the job, not to this future: dropping the future
    /// (client gone, timeout) lets the job finish, return its area and only then free the permit.
    async fn blocking<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> anyhow::Result<T> {
        let permit = self.permits.clone().acquire_owned().await?;
        let areas = self.work_areas.clone();
        // Log lines from the job (a refused hash) keep the request's span.
        let span = tracing::Span::current();
        let result = tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let mut area = areas
                .lock()
                .expect("work area list")
                .pop()
                .unwrap_or_default();
            let result = job(&mut area);
            areas.lock().expect("work area list").push(area);
            drop(permit);
            result
        })
        .await?;
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher as _, PasswordVerifier};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    const BOUNDS: Bounds = Bounds {
        max_memory_kib: 64 * 1024,
        max_iterations: 8,
        max_parallelism: 4,
    };

    /// A PHC string made by the reference implementation with the given parameters.
    fn foreign_hash(password: &[u8], params: Params) -> String {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(password, &SaltString::generate(&mut OsRng))
            .unwrap()
            .to_string()
    }

    #[tokio::test]
    async fn refuses_stored_hashes_beyond_the_bounds() {
        let hasher = PasswordHasher::new(1, BOUNDS);
        // The right password, but the row asks for more memory / passes / lanes than allowed.
        for params in [
            Params::new(64 * 1024 + 8, 1, 1, None).unwrap(),
            Params::new(8 * 1024, 9, 1, None).unwrap(),
            Params::new(8 * 1024, 1, 5, None).unwrap(),
        ] {
            let tampered = foreign_hash(b"Richtiges-Passwort-1", params.clone());
            assert!(
                !hasher
                    .verify(SecretString::from("Richtiges-Passwort-1"), Some(tampered))
                    .await
                    .unwrap(),
                "{params:?} must be refused"
            );
        }
        // Within the bounds the same kind of hash is fine.
        let fine = foreign_hash(
            b"Richtiges-Passwort-1",
            Params::new(64 * 1024, 1, 4, None).unwrap(),
        );
        assert!(hasher
            .verify(SecretString::from("Richtiges-Passwort-1"), Some(fine))
            .await
            .unwrap());
        // A row edited to ask for 4 GiB is refused at once, without allocating anything.
        let ours = hasher.hash(SecretString::from("x-y-z-1234")).await.unwrap();
        let huge = ours.replace("m=19456", "m=4194304");
        let started = Instant::now();
        assert!(!hasher
            .verify(SecretString::from("x-y-z-1234"), Some(huge))
            .await
            .unwrap());
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dropped_requests_keep_the_permit_and_the_work_area_until_the_hash_ends() {
        const LIMIT: usize = 2;
        let hasher = PasswordHasher::new(LIMIT, BOUNDS);
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let job = || {
            let (running, most) = (running.clone(), most.clone());
            move |area: &mut Vec<Block>| {
                area.resize(area.len().max(1), Block::default());
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(100));
                running.fetch_sub(1, Ordering::SeqCst);
            }
        };
        // Three waves of requests that give up mid-hash, each wave while the last still runs.
        for _ in 0..3 {
            for _ in 0..4 {
                let _ =
                    tokio::time::timeout(Duration::from_millis(10), hasher.blocking(job())).await;
            }
        }
        // And some that wait for their answer.
        let finished = futures::future::join_all((0..4).map(|_| hasher.blocking(job()))).await;
        assert!(finished.iter().all(Result::is_ok));
        while running.load(Ordering::SeqCst) > 0 || hasher.permits.available_permits() < LIMIT {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(
            most.load(Ordering::SeqCst) <= LIMIT,
            "more jobs ran at once than permits"
        );
        let areas = hasher.work_areas.lock().unwrap();
        assert_eq!(areas.len(), LIMIT, "every work area came back");
        assert!(areas.iter().all(|area| !area.is_empty()));
    }

    #[tokio::test]
    async fn hashes_with_the_required_parameters_and_verifies() {
        let hasher = PasswordHasher::new(2, BOUNDS);
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
        let hasher = PasswordHasher::new(1, BOUNDS);
        let ours = hasher
            .hash(SecretString::from("Sonnenblume-Kaffee-42"))
            .await
            .unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default()
            .verify_password(b"Sonnenblume-Kaffee-42", &parsed)
            .is_ok());

        // A hash made elsewhere, with other parameters, still verifies (and grows the area).
        let theirs = foreign_hash(
            b"Andere-Parameter-7",
            Params::new(32 * 1024, 3, 1, None).unwrap(),
        );
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
        let hasher = PasswordHasher::new(1, BOUNDS);
        assert!(!hasher
            .verify(
                SecretString::from("dummy password for unknown accounts"),
                None
            )
            .await
            .unwrap());
    }
}
