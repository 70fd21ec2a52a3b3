//! The `sandbox` binary: its settings from flags and environment, as `cargo xtask` and
//! people at a terminal pass them.

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const SECRET: &str = "binary-test-secret-0123456789abcdef";

/// The binary with none of the caller's environment (no stray SANDBOX_*).
fn sandbox() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sandbox"));
    command.env_clear();
    command
}

fn run(command: &mut Command) -> Output {
    command.output().expect("the sandbox binary runs")
}

fn json(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

#[test]
fn credentials_take_the_secret_before_or_after_the_subcommand() {
    let before = json(&run(sandbox().args([
        "--sandbox-secret",
        SECRET,
        "credentials",
        "--tenant",
        "t1",
    ])));
    let after = json(&run(sandbox().args([
        "credentials",
        "--tenant",
        "t1",
        "--sandbox-secret",
        SECRET,
    ])));
    let from_env = json(&run(sandbox().env("SANDBOX_SECRET", SECRET).args([
        "credentials",
        "--tenant",
        "t1",
    ])));
    assert_eq!(before, after);
    assert_eq!(before, from_env);
}

#[test]
fn credentials_name_the_urls_to_call_beside_the_keys() {
    let printed = json(&run(sandbox().env("SANDBOX_SECRET", SECRET).args([
        "credentials",
        "--tenant",
        "t1",
    ])));
    let shop = printed["shopify"]["shop_domain"].as_str().unwrap();
    assert_eq!(
        printed["shopify"]["graphql_url"],
        format!("http://localhost:3010/shopify/{shop}/admin/api/2025-01/graphql.json")
    );
    assert_eq!(
        printed["amazon"]["endpoint"],
        "http://localhost:3010/amazon"
    );
    assert_eq!(
        printed["amazon"]["token_url"],
        "http://localhost:3010/amazon/auth/o2/token"
    );
    assert_eq!(
        printed["kaufland"]["base_url"],
        "http://localhost:3010/kaufland/v2"
    );
    // The keys outside tools read stay as they were.
    for (vendor, keys) in [
        (
            "shopify",
            &["shop_domain", "access_token", "api_key", "api_secret"][..],
        ),
        (
            "amazon",
            &[
                "seller_id",
                "refresh_token",
                "client_id",
                "client_secret",
                "region",
                "marketplace_id",
            ],
        ),
        ("kaufland", &["client_key", "secret_key", "storefront"]),
    ] {
        for key in keys {
            assert!(printed[vendor][key].is_string(), "{vendor}.{key}");
        }
    }

    let elsewhere = json(&run(sandbox().env("SANDBOX_SECRET", SECRET).args([
        "credentials",
        "--tenant",
        "t1",
        "--base-url",
        "https://sandbox.example/",
    ])));
    assert_eq!(
        elsewhere["kaufland"]["base_url"],
        "https://sandbox.example/kaufland/v2"
    );
}

#[test]
fn a_short_or_missing_secret_is_refused_by_name() {
    let short = &SECRET[..31];
    for output in [
        run(sandbox().args(["credentials", "--sandbox-secret", short])),
        // Serving: refused before it binds (this address is on no machine).
        run(sandbox()
            .env("SANDBOX_SECRET", short)
            .env("BIND_ADDR", "192.0.2.1")),
        run(sandbox().arg("credentials")),
    ] {
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("SANDBOX_SECRET"), "{stderr}");
        assert!(!stderr.contains(short), "the secret stays out of errors");
        assert!(output.stdout.is_empty());
    }
}

/// A served sandbox, killed when dropped.
struct Serving {
    child: Child,
    base: String,
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn serve(env: &[(&str, &str)]) -> Serving {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = sandbox()
        .env("SANDBOX_SECRET", SECRET)
        .env("PORT", port.to_string())
        .env("SANDBOX_PRODUCTS", "5")
        .env("SANDBOX_ORDERS", "5")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the sandbox starts");
    let serving = Serving {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while reqwest::get(format!("{}/health/live", serving.base))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "the sandbox never listened");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    serving
}

async fn inject_timeout(serving: &Serving) -> u16 {
    reqwest::Client::new()
        .post(format!("{}/_sandbox/faults", serving.base))
        .json(&serde_json::json!({"vendor": "kaufland", "fault": "timeout"}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn the_fault_switch_and_its_delay_come_from_the_environment() {
    let off = serve(&[]).await;
    assert_eq!(inject_timeout(&off).await, 404);
    drop(off);

    let on = serve(&[
        ("SANDBOX_FAULTS", "true"),
        ("SANDBOX_FAULT_DELAY_SECS", "1"),
    ])
    .await;
    assert_eq!(inject_timeout(&on).await, 204);
    let started = Instant::now();
    let ping = reqwest::Client::new()
        .get(format!("{}/kaufland/v2/status/ping", on.base))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("answered after the fault delay");
    assert_eq!(ping.status().as_u16(), 200);
    let waited = started.elapsed();
    assert!(
        (Duration::from_secs(1)..Duration::from_secs(5)).contains(&waited),
        "{waited:?}"
    );
}
