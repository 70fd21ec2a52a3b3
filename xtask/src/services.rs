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
}

/// In start order: the API service needs the security service.
pub const SERVICES: &[Service] = &[
    Service {
        name: "security",
        package: "security",
        bin: "security",
        port: 3001,
        database: Some("security"),
        env: &[],
    },
    Service {
        name: "api",
        package: "api",
        bin: "api",
        port: 3000,
        database: Some("api"),
        env: &[("SECURITY_SERVICE_URL", "http://localhost:3001")],
    },
];

pub fn get(name: &str) -> &'static Service {
    SERVICES
        .iter()
        .find(|s| s.name == name)
        .expect("service is listed in SERVICES")
}
