use std::fmt;
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

/// Where the service's Postgres database is: `DATABASE_URL`, or the seed's `DB_*` parts.
#[derive(clap::Args, Clone)]
pub struct DatabaseArgs {
    /// Full connection URL; when set, the DB_* settings are ignored.
    #[arg(long = "database-url", env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<SecretString>,
    /// Database host.
    #[arg(long = "db-host", env = "DB_HOST", default_value = "localhost")]
    pub db_host: String,
    /// Database port.
    #[arg(long = "db-port", env = "DB_PORT", default_value_t = 5432)]
    pub db_port: u16,
    /// Database name (defaults to the service's own database).
    #[arg(long = "db-name", env = "DB_NAME")]
    pub db_name: Option<String>,
    /// Database user.
    #[arg(long = "db-user", env = "DB_USER", default_value = "postgres")]
    pub db_user: String,
    /// Database password.
    #[arg(long = "db-password", env = "DB_PASSWORD", hide_env_values = true)]
    pub db_password: Option<SecretString>,
    /// Largest number of pooled connections.
    #[arg(
        long = "db-max-connections",
        env = "DB_MAX_CONNECTIONS",
        default_value_t = 16
    )]
    pub max_connections: u32,
    /// Milliseconds a request waits for a pooled connection (opening one included) before it
    /// answers 503 `database_unavailable`: keeps requests from hanging while the database is away.
    #[arg(
        long = "db-acquire-timeout-ms",
        env = "DB_ACQUIRE_TIMEOUT_MS",
        default_value_t = 1_500
    )]
    pub acquire_timeout_ms: u64,
    /// Seconds to wait at start-up for the database to accept connections before giving up
    /// (a service started beside its database must not fail because it came up first).
    #[arg(
        long = "db-startup-wait-secs",
        env = "DB_STARTUP_WAIT_SECS",
        default_value_t = 60
    )]
    pub startup_wait_secs: u64,
}

impl fmt::Debug for DatabaseArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseArgs")
            .field(
                "database_url",
                &self.database_url.as_ref().map(|_| "[redacted]"),
            )
            .field("db_host", &self.db_host)
            .field("db_port", &self.db_port)
            .field("db_name", &self.db_name)
            .field("db_user", &self.db_user)
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout_ms", &self.acquire_timeout_ms)
            .field("startup_wait_secs", &self.startup_wait_secs)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("DATABASE_URL is not a valid Postgres URL: {0}")]
pub struct InvalidDatabaseUrl(String);

impl DatabaseArgs {
    /// Connection options; `default_name` is the service's database when `DB_NAME` is unset.
    pub fn connect_options(
        &self,
        default_name: &str,
    ) -> Result<PgConnectOptions, InvalidDatabaseUrl> {
        if let Some(url) = &self.database_url {
            // The parse error names the problem but never echoes the URL (it may hold a password).
            return url
                .expose_secret()
                .parse::<PgConnectOptions>()
                .map_err(|e| InvalidDatabaseUrl(e.to_string().replace(url.expose_secret(), "…")));
        }
        let mut options = PgConnectOptions::new()
            .host(&self.db_host)
            .port(self.db_port)
            .username(&self.db_user)
            .database(self.db_name.as_deref().unwrap_or(default_name));
        if let Some(password) = &self.db_password {
            options = options.password(password.expose_secret());
        }
        Ok(options)
    }

    /// A lazily connecting pool: the service starts (and answers `/health/ready` with 503)
    /// even while the database is still coming up. sqlx has no separate connect timeout:
    /// opening a connection (retried while refused) is bounded by the acquire timeout, so
    /// while the database is away a request fails after at most that long. A connection idle
    /// for a second or more is pinged before use, so the pool recovers as soon as the
    /// database is back; one in steady use is not (sqlx's default pings on every acquire,
    /// a round trip per request; a broken connection is still dropped when it is released,
    /// where sqlx pings it anyway).
    pub fn pool(&self, default_name: &str) -> Result<PgPool, InvalidDatabaseUrl> {
        Ok(PgPoolOptions::new()
            .max_connections(self.max_connections)
            .acquire_timeout(Duration::from_millis(self.acquire_timeout_ms.max(1)))
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= Duration::from_secs(1) {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
            .connect_lazy_with(self.connect_options(default_name)?))
    }

    /// Waits until `pool` can open a connection, for at most `DB_STARTUP_WAIT_SECS` while
    /// the database is unreachable; any other error (a wrong password, say) fails at once.
    pub async fn wait_until_reachable(&self, pool: &PgPool) -> Result<(), sqlx::Error> {
        let deadline = Instant::now() + Duration::from_secs(self.startup_wait_secs);
        loop {
            match pool.acquire().await {
                Ok(_) => return Ok(()),
                Err(e @ (sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut))
                    if Instant::now() < deadline =>
                {
                    tracing::warn!(error = %e, "the database is not reachable yet; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
}
