//! HTTP load from `wrk` (a C load generator, `apt-get install wrk`) where it is installed:
//! it costs the shared cores far less than this process' own loop, so the server's number
//! is the server's. Requests that do not answer 2xx count as failures.

use anyhow::{bail, Context, Result};
use tokio::process::Command;

use super::load::Window;

/// What one wrk run measured.
pub struct Measured {
    pub per_second: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    /// Non-2xx answers and socket errors.
    pub failures: u64,
}

pub async fn installed() -> bool {
    Command::new("wrk").arg("--version").output().await.is_ok()
}

/// GETs `url` with `header` from `clients` connections on two threads.
pub async fn get(url: &str, header: &str, clients: usize, window: Window) -> Result<Measured> {
    run(url, header, clients, window.warmup.as_secs().max(1)).await?;
    let output = run(url, header, clients, window.measure.as_secs().max(1)).await?;
    parse(&output)
}

async fn run(url: &str, header: &str, clients: usize, seconds: u64) -> Result<String> {
    let output = Command::new("wrk")
        .args(["--threads=2", "--latency"])
        .arg(format!("--connections={clients}"))
        .arg(format!("--duration={seconds}s"))
        .arg(format!("--header={header}"))
        .arg(url)
        .output()
        .await
        .context("running wrk")?;
    if !output.status.success() {
        bail!(
            "wrk failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Reads wrk's summary: `Requests/sec:`, the `--latency` percentiles, and the error lines.
fn parse(output: &str) -> Result<Measured> {
    let field = |label: &str| {
        output
            .lines()
            .map(str::trim)
            .find_map(|line| line.strip_prefix(label))
            .map(str::trim)
            .with_context(|| format!("wrk printed no `{label}`:\n{output}"))
    };
    let per_second: f64 = field("Requests/sec:")?.parse()?;
    let p50_us = micros(field("50%")?)?;
    let p99_us = micros(field("99%")?)?;
    let non_2xx = field("Non-2xx or 3xx responses:")
        .ok()
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0);
    // "Socket errors: connect 0, read 0, write 0, timeout 0"
    let socket = field("Socket errors:").map_or(0, |errors| {
        errors
            .split(',')
            .filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok())
            .sum()
    });
    Ok(Measured {
        per_second,
        p50_us,
        p99_us,
        failures: non_2xx + socket,
    })
}

/// wrk's `123.45us`, `1.23ms` or `1.02s`, in microseconds.
fn micros(value: &str) -> Result<u64> {
    let (number, scale) = if let Some(n) = value.strip_suffix("us") {
        (n, 1.0)
    } else if let Some(n) = value.strip_suffix("ms") {
        (n, 1_000.0)
    } else if let Some(n) = value.strip_suffix('s') {
        (n, 1_000_000.0)
    } else {
        bail!("unexpected wrk latency `{value}`");
    };
    Ok((number.parse::<f64>()? * scale).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_summary() {
        let output = "Running 10s test @ http://127.0.0.1:4100/api/products?limit=50
  2 threads and 64 connections
  Latency Distribution
     50%   16.05ms
     75%   18.00ms
     90%   20.00ms
     99%  823.17us
  38524 requests in 10.00s, 1.14GB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 7
Requests/sec:   3852.39
Transfer/sec:    116.88MB
";
        let m = parse(output).unwrap();
        assert_eq!(m.per_second, 3852.39);
        assert_eq!(m.p50_us, 16_050);
        assert_eq!(m.p99_us, 823);
        assert_eq!(m.failures, 12);
    }
}
