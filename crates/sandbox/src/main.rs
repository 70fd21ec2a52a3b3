//! `sandbox`: the stand-in Shopify, Amazon and Kaufland shops of a fresh install.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use secrecy::{ExposeSecret, SecretString};
use sm_connectors::sandbox::SandboxSecret;
use sm_sandbox::catalogue::CatalogueSize;
use sm_sandbox::SandboxConfig;
use url::Url;

/// Shortest SANDBOX_SECRET: the api's rule (it derives every sandbox shop's credentials,
/// so it is as strong as a key; `cargo xtask up` makes 32 random bytes).
const MIN_SECRET_BYTES: usize = 32;

/// Sandbox shops: Shopify, Amazon SP-API and Kaufland stand-ins over a seeded German
/// catalogue. Not a vendor: nothing here reaches a real shop.
#[derive(Parser)]
#[command(name = "sandbox", version)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// Shared with the api: sandbox credentials are derived from it. At least 32 bytes.
    #[arg(
        long = "sandbox-secret",
        env = "SANDBOX_SECRET",
        hide_env_values = true,
        global = true
    )]
    secret: Option<SecretString>,
    /// Port to listen on.
    #[arg(long, env = "PORT", default_value_t = 3010)]
    port: u16,
    /// Address to bind.
    #[arg(long = "bind", env = "BIND_ADDR", default_value = "127.0.0.1")]
    bind: std::net::IpAddr,
    /// Products in each sandbox shop (at most 100,000).
    #[arg(long, env = "SANDBOX_PRODUCTS", default_value_t = 1_000,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    products: u32,
    /// Orders in each sandbox shop, spread over the last 90 days (at most 100,000).
    #[arg(long, env = "SANDBOX_ORDERS", default_value_t = 500,
          value_parser = clap::value_parser!(u32).range(0..=100_000))]
    orders: u32,
    /// Seed of every shop's catalogue.
    #[arg(long, env = "SANDBOX_SEED", default_value_t = 2026)]
    seed: u64,
    /// Multiplies the vendors' documented rate limits (1 = the real pace).
    #[arg(
        long = "rate-scale",
        env = "SANDBOX_RATE_SCALE",
        default_value_t = 10.0
    )]
    rate_scale: f64,
    /// Serve the fault switch `/_sandbox/faults`: it has no credentials and acts on every
    /// tenant, so only for a sandbox nobody else reaches (`cargo xtask up`). Off: 404.
    #[arg(long, env = "SANDBOX_FAULTS")]
    faults: bool,
    /// Seconds a `timeout` fault holds its answer back (at most an hour).
    #[arg(long = "fault-delay-secs", env = "SANDBOX_FAULT_DELAY_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=3_600))]
    fault_delay_secs: u64,
    /// Where browsers reach the sandbox (for product image URLs).
    #[arg(long = "public-url", env = "SANDBOX_PUBLIC_URL")]
    public_url: Option<Url>,
    #[command(flatten)]
    telemetry: sm_telemetry::TelemetryArgs,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Serve the sandbox shops (what runs without a subcommand).
    Serve,
    /// Print a tenant's sandbox credentials for all three vendors as JSON, with the URLs to
    /// call, for calling the sandbox by hand (`curl`) or from outside tools.
    Credentials {
        /// Any name; each tenant has its own shops.
        #[arg(long, default_value = "demo")]
        tenant: String,
        /// Where the sandbox serves, as the caller reaches it.
        #[arg(long = "base-url", default_value = "http://localhost:3010")]
        base_url: Url,
    },
}

impl Args {
    fn secret(&self) -> anyhow::Result<SandboxSecret> {
        let secret = self
            .secret
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("SANDBOX_SECRET (or --sandbox-secret) is required"))?;
        anyhow::ensure!(
            secret.expose_secret().len() >= MIN_SECRET_BYTES,
            "SANDBOX_SECRET: must be at least {MIN_SECRET_BYTES} bytes"
        );
        Ok(SandboxSecret::new(secret.clone()))
    }

    fn config(&self) -> anyhow::Result<SandboxConfig> {
        anyhow::ensure!(
            self.rate_scale.is_finite() && self.rate_scale > 0.0,
            "SANDBOX_RATE_SCALE must be a positive number"
        );
        let mut config = SandboxConfig::new(self.secret()?);
        config.size = CatalogueSize {
            products: self.products as usize,
            orders: self.orders as usize,
        };
        config.seed = self.seed;
        config.rate_scale = self.rate_scale;
        config.fault_delay = Duration::from_secs(self.fault_delay_secs);
        config.fault_switch = self.faults;
        config.public_url = self.public_url.clone();
        Ok(config)
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(Command::Credentials { tenant, base_url }) = &args.command {
        let credentials = sm_sandbox::credentials(&args.secret()?, tenant, base_url);
        println!("{}", serde_json::to_string_pretty(&credentials)?);
        return Ok(());
    }
    sm_telemetry::init(&args.telemetry);
    let config = args.config()?;
    if config.fault_switch {
        tracing::warn!("the fault switch /_sandbox/faults is on: anyone reaching it can fail every tenant's requests");
    }
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(args.bind, args.port)).await?;
    tracing::info!(addr = %listener.local_addr()?, "sandbox shops listening");
    let app = sm_sandbox::router(sm_sandbox::Sandbox::new(config));
    sm_http::serve(listener, app, sm_http::shutdown_signal()).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn parse(args: &[&str]) -> Args {
        Args::try_parse_from(std::iter::once("sandbox").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    #[test]
    fn the_fault_switch_is_off_unless_asked_for() {
        let config = parse(&["--sandbox-secret", SECRET]).config().unwrap();
        assert!(!config.fault_switch);
        assert_eq!(config.fault_delay, Duration::from_secs(60));
        let config = parse(&[
            "--sandbox-secret",
            SECRET,
            "--faults",
            "--fault-delay-secs",
            "7",
        ])
        .config()
        .unwrap();
        assert!(config.fault_switch);
        assert_eq!(config.fault_delay, Duration::from_secs(7));
    }

    #[test]
    fn the_secret_is_taken_before_or_after_the_subcommand_and_must_be_long() {
        for args in [
            ["--sandbox-secret", SECRET, "credentials"],
            ["credentials", "--sandbox-secret", SECRET],
        ] {
            let args = parse(&args);
            assert!(matches!(args.command, Some(Command::Credentials { .. })));
            assert!(args.secret().is_ok());
        }
        let short = parse(&["credentials", "--sandbox-secret", &SECRET[1..]]);
        let error = short
            .secret()
            .expect_err("31 bytes are refused")
            .to_string();
        assert!(error.contains("SANDBOX_SECRET"), "{error}");
        assert!(
            !error.contains(&SECRET[1..]),
            "the secret stays out of errors"
        );
    }
}
