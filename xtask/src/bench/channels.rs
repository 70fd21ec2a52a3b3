//! The API service checking a sandbox connection with its channel, under load: the path a
//! merchant's "test connection" takes (api → connector → the sandbox's Kaufland, signed
//! request and all) and what the sync engine's calls will cost per request.

use anyhow::{ensure, Result};
use serde_json::{json, Value};

use super::{
    api::{self, Session},
    load::{self, Window},
    memory,
    products::Target,
    report::{Report, Row},
};

const CLIENTS: usize = 16;

pub async fn scenarios(
    target: &Target,
    session: &Session,
    window: Window,
    report: &mut Report,
) -> Result<()> {
    let http = api::client()?;
    api::sign_avv(&target.base, &session.access_token).await?;
    let created: Value = http
        .post(format!("{}/api/connections", target.base))
        .bearer_auth(&session.access_token)
        .json(&json!({ "platform": "kaufland", "sandbox": true }))
        .send()
        .await?
        .json()
        .await?;
    ensure!(
        created["status"] == "active",
        "the sandbox Kaufland connection is not active: {created}"
    );
    let url = format!(
        "{}/api/connections/{}/test",
        target.base,
        created["id"].as_str().unwrap_or_default()
    );
    let token = session.access_token.clone();
    println!("==> connection test against the sandbox Kaufland, {CLIENTS} clients");
    memory::reset_peak(target.pid);
    let stats = load::run(
        CLIENTS,
        window,
        api::expect_ok(move |_| http.post(&url).bearer_auth(&token)),
    )
    .await;
    report.rows.push(Row::new(
        &format!("api connections/{{id}}/test, sandbox Kaufland ({CLIENTS} clients)"),
        &stats,
        memory::peak(target.pid),
    ));
    Ok(())
}
