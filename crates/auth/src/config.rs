use secrecy::SecretString;

/// How a service reaches the security service to check tokens.
#[derive(clap::Args, Clone)]
pub struct AuthClientArgs {
    /// Base URL of the security service.
    #[arg(
        long = "security-service-url",
        env = "SECURITY_SERVICE_URL",
        default_value = "http://localhost:3001"
    )]
    pub security_service_url: String,
    /// Credential for the security service's introspection endpoint (the same value there).
    #[arg(long = "service-token", env = "SERVICE_TOKEN", hide_env_values = true)]
    pub service_token: SecretString,
    /// Seconds a positive token check is reused (never past the token's expiry).
    #[arg(
        long = "auth-cache-ttl-secs",
        env = "AUTH_CACHE_TTL_SECS",
        default_value_t = 10
    )]
    pub cache_ttl_secs: u64,
    /// Seconds a negative token check (invalid, expired or ended) is reused; 0 turns it off.
    #[arg(
        long = "auth-negative-cache-ttl-secs",
        env = "AUTH_NEGATIVE_CACHE_TTL_SECS",
        default_value_t = 5
    )]
    pub negative_cache_ttl_secs: u64,
    /// Most token checks kept in the cache.
    #[arg(
        long = "auth-cache-capacity",
        env = "AUTH_CACHE_CAPACITY",
        default_value_t = 100_000
    )]
    pub cache_capacity: u64,
    /// Milliseconds to wait for the security service before answering 503.
    #[arg(
        long = "auth-timeout-ms",
        env = "AUTH_TIMEOUT_MS",
        default_value_t = 2_000
    )]
    pub timeout_ms: u64,
    /// Failed authentications a client network may have a minute (in bursts of as many);
    /// past that its unknown tokens get 429 without a call to the security service.
    #[arg(
        long = "auth-failures-per-minute",
        env = "AUTH_FAILURES_PER_MINUTE",
        default_value_t = 30
    )]
    pub failures_per_minute: u32,
}

impl std::fmt::Debug for AuthClientArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthClientArgs")
            .field("security_service_url", &self.security_service_url)
            .field("cache_ttl_secs", &self.cache_ttl_secs)
            .field("negative_cache_ttl_secs", &self.negative_cache_ttl_secs)
            .field("cache_capacity", &self.cache_capacity)
            .field("timeout_ms", &self.timeout_ms)
            .field("failures_per_minute", &self.failures_per_minute)
            .finish_non_exhaustive()
    }
}
