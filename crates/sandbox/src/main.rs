//! `sandbox`: the stand-in Shopify, Amazon and Kaufland shops of a fresh install.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use secrecy::SecretString;
use sm_connectors::sandbox::SandboxSecret;
use sm_sandbox::catalogue::CatalogueSize;
use sm_sandbox::SandboxConfig;

/// Sandbox shops: Shopify, Amazon SP-API and Kaufland stand-ins over a seeded German
/// catalogue. Not a vendor: nothing here reaches a real shop.
#[derive(Parser)]
#[command(name = "sandbox", version)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// Port to listen on.
    #[arg(long, env = "PORT", default_value_t = 3010)]
    port: u16,
    /// Address to bind.
    #[arg(long = "bind", env = "BIND_ADDR", default_value = "127.0.0.1")]
    bind: std::net::IpAddr,
    /// Shared with the api: sandbox credentials are derived from it.
    #[arg(
        long = "sandbox-secret",
        env = "SANDBOX_SECRET",
        hide_env_values = true
    )]
    secret: SecretString,
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
    /// Where browsers reach the sandbox (for product image URLs).
    #[arg(long = "public-url", env = "SANDBOX_PUBLIC_URL")]
    public_url: Option<url::Url>,
    #[command(flatten)]
    telemetry: sm_telemetry::TelemetryArgs,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Serve the sandbox shops (what runs without a subcommand).
    Serve,
    /// Print a tenant's sandbox credentials for all three vendors as JSON, for calling the
    /// sandbox by hand (`curl`) or from outside tools.
    Credentials {
        /// Any name; each tenant has its own shops.
        #[arg(long, default_value = "demo")]
        tenant: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(Command::Credentials { tenant }) = &args.command {
        let secret = SandboxSecret::new(args.secret.clone());
        println!(
            "{}",
            serde_json::to_string_pretty(&sm_sandbox::credentials(&secret, tenant))?
        );
        return Ok(());
    }
    sm_telemetry::init(&args.telemetry);
    anyhow::ensure!(
        args.rate_scale.is_finite() && args.rate_scale > 0.0,
        "SANDBOX_RATE_SCALE must be a positive number"
    );
    let mut config = SandboxConfig::new(SandboxSecret::new(args.secret));
    config.size = CatalogueSize {
        products: args.products as usize,
        orders: args.orders as usize,
    };
    config.seed = args.seed;
    config.rate_scale = args.rate_scale;
    config.fault_delay = Duration::from_secs(60);
    config.public_url = args.public_url;
    let addr = SocketAddr::new(args.bind, args.port);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "sandbox shops listening");
    let app = sm_sandbox::router(sm_sandbox::Sandbox::new(config));
    sm_http::serve(listener, app, sm_http::shutdown_signal()).await?;
    Ok(())
}
