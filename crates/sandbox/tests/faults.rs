//! The HTTP fault switch: off unless the sandbox is configured with it, bounded when on.

use secrecy::SecretString;
use serde_json::{json, Value};
use sm_connectors::sandbox::SandboxSecret;
use sm_sandbox::faults::{Fault, Vendor, MAX_QUEUED};
use sm_sandbox::{Running, SandboxConfig};

async fn sandbox(fault_switch: bool) -> Running {
    let mut config = SandboxConfig::new(SandboxSecret::new(SecretString::from(
        "faults-test-secret-0123456789abcdef",
    )));
    config.fault_switch = fault_switch;
    sm_sandbox::spawn(config).await.expect("the sandbox starts")
}

async fn inject(running: &Running, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(running.url.join("_sandbox/faults").unwrap())
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_switch_is_not_served_unless_enabled() {
    let running = sandbox(false).await;
    let (status, _) = inject(
        &running,
        json!({"vendor": "kaufland", "fault": "server_error", "times": 3}),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(running.sandbox.faults().queued(Vendor::Kaufland), 0);
    let response = reqwest::Client::new()
        .delete(running.url.join("_sandbox/faults").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);

    // The in-process handle works regardless.
    running
        .sandbox
        .faults()
        .inject(Vendor::Kaufland, Fault::ServerError, 1);
    let ping = reqwest::get(running.url.join("kaufland/v2/status/ping").unwrap())
        .await
        .unwrap();
    assert_eq!(ping.status().as_u16(), 500);
}

#[tokio::test]
async fn an_enabled_switch_queues_at_most_max_queued_per_vendor() {
    let running = sandbox(true).await;
    let faults = running.sandbox.faults();
    let (status, _) = inject(
        &running,
        json!({"vendor": "amazon", "fault": "throttle", "times": MAX_QUEUED - 5}),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(faults.queued(Vendor::Amazon), MAX_QUEUED - 5);

    let (status, body) = inject(
        &running,
        json!({"vendor": "amazon", "fault": "throttle", "times": 6}),
    )
    .await;
    assert_eq!(status, 400);
    let error = body["error"].as_str().unwrap_or_default();
    assert!(error.contains(&MAX_QUEUED.to_string()), "{body}");
    assert_eq!(
        faults.queued(Vendor::Amazon),
        MAX_QUEUED - 5,
        "nothing queued"
    );

    // Far beyond the cap (it used to be clamped, now it is refused).
    let (status, _) = inject(
        &running,
        json!({"vendor": "shopify", "fault": "timeout", "times": u64::MAX}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(faults.queued(Vendor::Shopify), 0);

    let (status, _) = inject(
        &running,
        json!({"vendor": "amazon", "fault": "throttle", "times": 5}),
    )
    .await;
    assert_eq!(status, 204, "up to the cap is fine");

    let response = reqwest::Client::new()
        .delete(running.url.join("_sandbox/faults").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 204);
    assert_eq!(faults.queued(Vendor::Amazon), 0);
}
