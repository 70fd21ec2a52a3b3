use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

/// How the service listens and whom it trusts at the network edge.
#[derive(clap::Args, Debug, Clone)]
pub struct ServerArgs {
    /// Port to listen on (defaults to the service's own port).
    #[arg(long, env = "PORT")]
    pub port: Option<u16>,
    /// Address to bind.
    #[arg(long = "bind", env = "BIND_ADDR", default_value = "0.0.0.0")]
    pub bind: IpAddr,
    /// Browser origins allowed to call this service with credentials (comma separated).
    #[arg(
        long = "cors-origin",
        env = "CORS_ORIGIN",
        value_delimiter = ',',
        default_value = "http://localhost:3002"
    )]
    pub cors_origin: Vec<String>,
    /// Reverse proxies whose X-Forwarded-For is believed (comma separated CIDRs, e.g. 10.0.0.0/8).
    #[arg(
        long = "trusted-proxies",
        env = "TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<IpNet>,
    /// Seconds before a request is aborted with 408.
    #[arg(
        long = "request-timeout-secs",
        env = "REQUEST_TIMEOUT_SECS",
        default_value_t = 30
    )]
    pub request_timeout_secs: u64,
    /// Largest accepted request body in bytes.
    #[arg(long = "body-limit-bytes", env = "BODY_LIMIT_BYTES", default_value_t = 64 * 1024)]
    pub body_limit_bytes: usize,
}

impl ServerArgs {
    pub fn addr(&self, default_port: u16) -> SocketAddr {
        SocketAddr::new(self.bind, self.port.unwrap_or(default_port))
    }
}
