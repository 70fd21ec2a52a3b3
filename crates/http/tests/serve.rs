//! The stack and the server as a service uses them, on a real socket.

use std::time::Duration;

use axum::routing::get;
use axum::Router;
use clap::Parser;
use sm_config::ServerArgs;
use tokio::sync::oneshot;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    server: ServerArgs,
}

async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_millis(500)).await;
    "done"
}

async fn boom() -> &'static str {
    panic!("secret detail that must not reach the client")
}

async fn start(
    args: &[&str],
) -> (
    String,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let server = Cli::parse_from(std::iter::once("t").chain(args.iter().copied())).server;
    let app = Router::new()
        .route("/slow", get(slow))
        .route("/boom", get(boom));
    let app = sm_http::middleware::stack(app, &server);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let handle = tokio::spawn(sm_http::serve(listener, app, async {
        let _ = stopped.await;
    }));
    (url, stop, handle)
}

#[tokio::test]
async fn shutdown_lets_requests_in_flight_finish() {
    let (url, stop, server) = start(&[]).await;
    let in_flight = tokio::spawn(reqwest::get(format!("{url}/slow")));
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.send(()).unwrap();
    let res = in_flight.await.unwrap().unwrap();
    assert_eq!(res.text().await.unwrap(), "done");
    tokio::time::timeout(Duration::from_secs(2), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        reqwest::get(format!("{url}/slow")).await.is_err(),
        "no new connections after shutdown"
    );
}

#[tokio::test]
async fn panics_and_timeouts_answer_json_without_internals() {
    let (url, _stop, _server) = start(&["--request-timeout-secs", "0"]).await;
    let res = reqwest::get(format!("{url}/slow")).await.unwrap();
    assert_eq!(res.status(), 408);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "request_timeout");

    let (url, _stop, _server) = start(&[]).await;
    let res = reqwest::get(format!("{url}/boom")).await.unwrap();
    assert_eq!(res.status(), 500);
    assert!(res.headers().contains_key("x-request-id"));
    let text = res.text().await.unwrap();
    assert!(!text.contains("secret detail"), "{text}");
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["error"]["code"], "internal_error");
    assert!(body["error"]["request_id"].is_string());
}
