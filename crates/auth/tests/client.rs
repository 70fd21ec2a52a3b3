//! The client against a stand-in security service that counts its calls.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use clap::Parser;
use http::{HeaderMap, StatusCode};
use serde_json::{json, Value};
use sm_auth::{AuthClientArgs, Role, SecurityClient};

#[derive(Default)]
struct StandIn {
    calls: AtomicUsize,
    /// What the stand-in answers: the status and body.
    answer: Mutex<(u16, Value)>,
    last_request_id: Mutex<Option<String>>,
    /// How long the stand-in takes to answer, so that checks overlap.
    delay_ms: AtomicU64,
}

const TOKEN: &str = "service-credential-for-tests-0123456789";

async fn introspect(
    State(s): State<Arc<StandIn>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    s.calls.fetch_add(1, Ordering::SeqCst);
    *s.last_request_id.lock().unwrap() = headers
        .get("x-request-id")
        .map(|v| v.to_str().unwrap().to_owned());
    if headers.get("authorization").map(|v| v.to_str().unwrap()) != Some(&format!("Bearer {TOKEN}"))
    {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "error": { "code": "invalid_service_credential" } })),
        );
    }
    assert!(body["token"].is_string());
    tokio::time::sleep(Duration::from_millis(s.delay_ms.load(Ordering::SeqCst))).await;
    let (status, answer) = s.answer.lock().unwrap().clone();
    (StatusCode::from_u16(status).unwrap(), Json(answer))
}

async fn stand_in() -> (String, Arc<StandIn>) {
    let state = Arc::new(StandIn::default());
    let app = Router::new()
        .route("/api/auth/introspect", post(introspect))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, state)
}

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    auth: AuthClientArgs,
}

fn client(url: &str, token: &str, extra: &[&str]) -> SecurityClient {
    let mut args = vec!["t", "--security-service-url", url, "--service-token", token];
    args.extend_from_slice(extra);
    SecurityClient::new(&Cli::parse_from(args).auth).unwrap()
}

fn active(exp_in: i64) -> Value {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    json!({ "active": true, "sub": uuid::Uuid::now_v7(), "email": "a@example.de", "role": "partner", "sid": uuid::Uuid::now_v7(), "exp": now + exp_in })
}

#[tokio::test]
async fn a_revoked_token_stops_working_once_the_positive_window_is_over() {
    let (url, s) = stand_in().await;
    let c = client(
        &url,
        TOKEN,
        &[
            "--auth-cache-ttl-secs",
            "1",
            "--auth-negative-cache-ttl-secs",
            "0",
        ],
    );
    *s.answer.lock().unwrap() = (200, active(900));
    let first = c.introspect("tok-a", Some("req-1")).await.unwrap().unwrap();
    assert_eq!(first.role, Some(Role::Partner));
    assert_eq!(
        s.last_request_id.lock().unwrap().as_deref(),
        Some("req-1"),
        "request id forwarded"
    );
    c.introspect("tok-a", None).await.unwrap().unwrap();
    assert_eq!(
        s.calls.load(Ordering::SeqCst),
        1,
        "second check served from the cache"
    );

    // The session ends: within the window the cache still answers, after it the truth does.
    *s.answer.lock().unwrap() = (200, json!({ "active": false }));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(c.introspect("tok-a", None).await.unwrap().is_none());
    assert!(c.introspect("tok-a", None).await.unwrap().is_none());
    assert_eq!(
        s.calls.load(Ordering::SeqCst),
        3,
        "with the negative window off, negative answers are not cached"
    );
}

#[tokio::test]
async fn concurrent_checks_of_a_new_token_make_one_call() {
    let (url, s) = stand_in().await;
    *s.answer.lock().unwrap() = (200, active(900));
    s.delay_ms.store(200, Ordering::SeqCst);
    let c = client(&url, TOKEN, &[]);
    let checks = (0..50).map(|_| {
        let c = c.clone();
        tokio::spawn(async move { c.introspect("tok-new", None).await })
    });
    for check in join_all(checks).await {
        assert!(check.unwrap().is_some());
    }
    assert_eq!(s.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_bogus_token_is_asked_about_once_within_the_negative_window() {
    let (url, s) = stand_in().await;
    *s.answer.lock().unwrap() = (200, json!({ "active": false }));
    s.delay_ms.store(100, Ordering::SeqCst);
    let c = client(&url, TOKEN, &["--auth-negative-cache-ttl-secs", "1"]);
    // Concurrently and one after another: one call.
    let checks = (0..20).map(|_| {
        let c = c.clone();
        tokio::spawn(async move { c.introspect("bogus.token.x", None).await })
    });
    for check in join_all(checks).await {
        assert!(check.unwrap().is_none());
    }
    assert!(c.introspect("bogus.token.x", None).await.unwrap().is_none());
    assert_eq!(s.calls.load(Ordering::SeqCst), 1);
    // After the window the security service is asked again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(c.introspect("bogus.token.x", None).await.unwrap().is_none());
    assert_eq!(s.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn errors_are_not_cached_and_malformed_tokens_cost_no_call() {
    let (url, s) = stand_in().await;
    *s.answer.lock().unwrap() = (500, json!({}));
    let c = client(&url, TOKEN, &[]);
    let err = c.introspect("tok-c", None).await.unwrap_err();
    assert_eq!(err.status, StatusCode::SERVICE_UNAVAILABLE);
    *s.answer.lock().unwrap() = (200, active(900));
    assert!(c.introspect("tok-c", None).await.unwrap().is_some());
    assert_eq!(s.calls.load(Ordering::SeqCst), 2, "the 503 was not cached");

    for junk in ["a b", "tok\u{e9}", &"x".repeat(70_000)] {
        assert!(c.introspect(junk, None).await.unwrap().is_none());
    }
    assert_eq!(s.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_network_with_too_many_failures_is_refused_without_a_call() {
    let (url, s) = stand_in().await;
    *s.answer.lock().unwrap() = (200, json!({ "active": false }));
    let c = client(&url, TOKEN, &["--auth-failures-per-minute", "5"]);
    let attacker: std::net::IpAddr = "203.0.113.9".parse().unwrap();
    for i in 0..5 {
        let answer = c.authenticate(&format!("guess-{i}"), attacker, None).await;
        assert!(answer.unwrap().is_none(), "failure {i} is a plain 401");
    }
    let err = c.authenticate("guess-5", attacker, None).await.unwrap_err();
    assert_eq!(err.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(err.code, "too_many_failed_authentications");
    assert!(err.retry_after_secs.unwrap() >= 1);
    let calls = s.calls.load(Ordering::SeqCst);
    let err = c.authenticate("guess-6", attacker, None).await.unwrap_err();
    assert_eq!(err.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        s.calls.load(Ordering::SeqCst),
        calls,
        "no call while blocked"
    );

    // Other networks are not affected, and a token already known to be valid still works.
    *s.answer.lock().unwrap() = (200, active(900));
    let other: std::net::IpAddr = "198.51.100.7".parse().unwrap();
    assert!(c
        .authenticate("valid", other, None)
        .await
        .unwrap()
        .is_some());
    assert!(c
        .authenticate("valid", attacker, None)
        .await
        .unwrap()
        .is_some());
}

#[tokio::test]
async fn an_ipv6_site_rotating_its_networks_is_blocked_as_a_whole() {
    let (url, s) = stand_in().await;
    *s.answer.lock().unwrap() = (200, json!({ "active": false }));
    let c = client(&url, TOKEN, &["--auth-failures-per-minute", "5"]);
    let in_site =
        |net: u32| -> std::net::IpAddr { format!("2001:db8:5:{net:x}::1").parse().unwrap() };
    // Each /64 fails once, far below its own limit, until the /48's wider one is spent.
    let mut refused_at = None;
    for net in 0..100 {
        match c
            .authenticate(&format!("guess-{net}"), in_site(net), None)
            .await
        {
            Ok(answer) => assert!(answer.is_none()),
            Err(err) => {
                assert_eq!(err.code, "too_many_failed_authentications");
                refused_at = Some(net);
                break;
            }
        }
    }
    let refused_at = refused_at.expect("the /48 was never limited");
    assert!(refused_at <= 5 * sm_http::V6_SITE_FACTOR);

    // From then on every /64 of the site is refused without a call.
    let calls = s.calls.load(Ordering::SeqCst);
    for net in 1000..1050 {
        let err = c
            .authenticate(&format!("guess-{net}"), in_site(net), None)
            .await
            .unwrap_err();
        assert_eq!(err.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(err.retry_after_secs.unwrap() >= 1);
    }
    assert_eq!(
        s.calls.load(Ordering::SeqCst),
        calls,
        "no call while blocked"
    );

    // Another /48 and IPv4 are not affected.
    for other in ["2001:db8:6::1", "203.0.113.9"] {
        let answer = c
            .authenticate("guess-x", other.parse().unwrap(), None)
            .await;
        assert!(answer.unwrap().is_none(), "{other}");
    }

    // A blocked /64 that opens its /48 (2001:db8:9:0::/64) blocks only itself.
    let first: std::net::IpAddr = "2001:db8:9::1".parse().unwrap();
    for i in 0..5 {
        let answer = c.authenticate(&format!("again-{i}"), first, None).await;
        assert!(answer.unwrap().is_none());
    }
    assert!(c.authenticate("again-5", first, None).await.is_err());
    let neighbour: std::net::IpAddr = "2001:db8:9:1::1".parse().unwrap();
    assert!(c
        .authenticate("again-6", neighbour, None)
        .await
        .unwrap()
        .is_none());
}

/// Awaits every task.
async fn join_all<T>(tasks: impl Iterator<Item = tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut results = Vec::new();
    for task in tasks.collect::<Vec<_>>() {
        results.push(task.await.unwrap());
    }
    results
}

#[tokio::test]
async fn a_token_about_to_expire_is_cached_no_longer_than_it_lives() {
    let (url, s) = stand_in().await;
    let c = client(&url, TOKEN, &["--auth-cache-ttl-secs", "60"]);
    *s.answer.lock().unwrap() = (200, active(1));
    c.introspect("tok-b", None).await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    c.introspect("tok-b", None).await.unwrap().unwrap();
    assert_eq!(s.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn refused_credential_and_unreachable_service_are_503() {
    let (url, s) = stand_in().await;
    *s.answer.lock().unwrap() = (200, active(900));
    let wrong = client(&url, "not-the-service-credential-0123456789", &[]);
    let err = wrong.introspect("tok", None).await.unwrap_err();
    assert_eq!(err.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(err.code, "security_unavailable");

    // Nothing listens here: a quick 503, not a hang.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = client(
        &format!("http://127.0.0.1:{port}"),
        TOKEN,
        &["--auth-timeout-ms", "500"],
    );
    let started = Instant::now();
    let err = down.introspect("tok", None).await.unwrap_err();
    assert_eq!(err.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(started.elapsed() < Duration::from_secs(3));
}
