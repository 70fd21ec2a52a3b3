//! The services `cargo xtask up` runs. Adding one is one entry in [`SERVICES`].

pub struct Service {
    pub name: &'static str,
    pub package: &'static str,
    pub bin: &'static str,
    pub port: u16,
    /// Its own Postgres database, created if missing.
    pub database: Option<&'static str>,
    /// Extra environment, unless the developer already set the variable.
    pub env: &'static [(&'static str, &'static str)],
    /// Whether it publishes `/api/openapi.json` (the sandbox speaks the vendors' APIs).
    pub openapi: bool,
}

/// In start order: the API service needs the security service and the sandbox shops.
pub const SERVICES: &[Service] = &[
    Service {
        name: "sandbox",
        package: "sm-sandbox",
        bin: "sandbox",
        port: 3010,
        database: None,
        env: &[("SANDBOX_FAULTS", "true")],
        openapi: false,
    },
    Service {
        name: "security",
        package: "security",
        bin: "security",
        port: 3001,
        database: Some("security"),
        env: &[],
        openapi: true,
    },
    Service {
        name: "api",
        package: "api",
        bin: "api",
        port: 3000,
        database: Some("api"),
        env: &[
            ("SECURITY_SERVICE_URL", "http://localhost:3001"),
            ("SANDBOX_URL", "http://localhost:3010"),
            // The api's own workers (SYNC_WORKERS, 2 by default) sync every connection
            // every 5 minutes: an order placed at a sandbox shop shows up soon.
            ("SYNC_INTERVAL_SECS", "300"),
        ],
        openapi: true,
    },
];

pub fn get(name: &str) -> &'static Service {
    SERVICES
        .iter()
        .find(|s| s.name == name)
        .expect("service is listed in SERVICES")
}
