//! What attackers and broken clients try. None of it may produce a 500.

mod common;

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::{error_code, tokens, TestApp, PASSWORD, SERVICE_TOKEN};
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

const NO_LIMITS: &str = "--auth-rate-limit-per-minute=100000";
const NO_REUSE_INTERVAL: &str = "--refresh-reuse-interval-secs=0";

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn replayed_refresh_token_ends_the_session(db: PgPool) {
    let app = TestApp::spawn_with(db, &[NO_LIMITS, NO_REUSE_INTERVAL]).await;
    let first = app.signed_in("replay@example.de").await;
    let second = tokens(app.refresh(&first.refresh).await).await;

    // The thief replays the spent token: refused, and the whole session ends.
    assert_eq!(
        error_code(app.refresh(&first.refresh).await).await,
        "invalid_refresh_token"
    );
    assert_eq!(app.introspect(&second.access).await["active"], false);
    assert_eq!(
        error_code(app.refresh(&second.refresh).await).await,
        "invalid_refresh_token"
    );
    let reason: String = sqlx::query_scalar("SELECT revoked_reason FROM sessions")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(reason, "refresh_token_reuse");
}

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn concurrent_refreshes_with_one_token_leave_no_live_chain(db: PgPool) {
    // Without the reuse interval (hardening.rs tests it) every loser is a replay.
    let app = TestApp::spawn_with(db, &[NO_LIMITS, NO_REUSE_INTERVAL]).await;
    let session = app.signed_in("race@example.de").await;

    let answers = join_all((0..10).map(|_| app.refresh(&session.refresh))).await;
    let mut winners = Vec::new();
    for res in answers {
        match res.status() {
            StatusCode::OK => winners.push(tokens(res).await),
            StatusCode::UNAUTHORIZED => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert!(winners.len() <= 1, "at most one refresh can win");
    // The losers were replays, so the session is over — including the winner's new tokens.
    for winner in &winners {
        assert_eq!(
            error_code(app.refresh(&winner.refresh).await).await,
            "invalid_refresh_token"
        );
        assert_eq!(app.introspect(&winner.access).await["active"], false);
    }
    let live: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions WHERE revoked_at IS NULL")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(live, 0);
}

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn fifty_concurrent_guesses_get_five_attempts(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let email = "brute@example.de";
    app.register(email).await;
    let code = app.code_for(email).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };

    let answers = join_all((0..50).map(|_| {
        app.post(
            "/api/auth/verify-email",
            json!({ "email": email, "code": wrong }),
        )
    }))
    .await;
    for res in answers {
        assert_eq!(error_code(res).await, "invalid_code");
    }
    let attempts: i32 = sqlx::query_scalar("SELECT attempts FROM verification_codes")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(
        attempts, 5,
        "attempts are counted atomically and stop at the limit"
    );

    // The sixth attempt fails even with the right code.
    let res = app
        .post(
            "/api/auth/verify-email",
            json!({ "email": email, "code": code }),
        )
        .await;
    assert_eq!(error_code(res).await, "invalid_code");
}

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn a_correct_code_sent_twice_at_once_succeeds_once(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let email = "twice@example.de";
    app.verified_user(email).await;
    let ticket = app.login_ticket(email, PASSWORD).await;
    let code = app.code_for(email).await;

    let answers = join_all((0..8).map(|_| {
        app.post(
            "/api/auth/verify-2fa",
            json!({ "ticket": ticket, "code": code }),
        )
    }))
    .await;
    let ok = answers
        .iter()
        .filter(|r| r.status() == StatusCode::OK)
        .count();
    assert_eq!(ok, 1);
    assert!(answers
        .iter()
        .all(|r| r.status().is_client_error() || r.status() == StatusCode::OK));
    let sessions: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(sessions, 1);
}

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn expired_and_superseded_codes_are_refused(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let email = "old@example.de";
    app.register(email).await;
    let first = app.code_for(email).await;

    // Within a minute no second mail is sent; the first code stays the live one.
    app.post("/api/auth/resend-verification", json!({ "email": email }))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.sink.messages().len(), 1, "resend cooldown");

    // After the cooldown a new code kills the old one.
    sqlx::query("UPDATE verification_codes SET created_at = now() - interval '61 seconds'")
        .execute(&app.db)
        .await
        .unwrap();
    let res = app
        .post("/api/auth/resend-verification", json!({ "email": email }))
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let second = app.code_for(email).await;
    if first != second {
        let res = app
            .post(
                "/api/auth/verify-email",
                json!({ "email": email, "code": first }),
            )
            .await;
        assert_eq!(error_code(res).await, "invalid_code", "superseded code");
    }

    // An expired code is refused even when right.
    sqlx::query("UPDATE verification_codes SET expires_at = now() - interval '1 second'")
        .execute(&app.db)
        .await
        .unwrap();
    let res = app
        .post(
            "/api/auth/verify-email",
            json!({ "email": email, "code": second }),
        )
        .await;
    assert_eq!(error_code(res).await, "invalid_code", "expired code");
    let stored: Vec<u8> = sqlx::query_scalar("SELECT code_hash FROM verification_codes")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(stored.len(), 32, "only a keyed hash is stored");
    assert_ne!(&stored[..6], second.as_bytes());
}

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn codes_only_work_for_their_purpose_and_user(db: PgPool) {
    let app = TestApp::spawn(db).await;
    app.verified_user("alice@example.de").await;
    app.register("bob@example.de").await;
    let bob_code = app.code_for("bob@example.de").await;

    // Alice's reset code cannot verify anything else, nor Bob's address.
    app.post(
        "/api/auth/password-reset/request",
        json!({ "email": "alice@example.de" }),
    )
    .await;
    let reset_code = app.code_for("alice@example.de").await;
    let ticket = app.login_ticket("alice@example.de", PASSWORD).await;
    let login_code = app.code_for("alice@example.de").await;

    let res = app
        .post(
            "/api/auth/verify-email",
            json!({ "email": "bob@example.de", "code": reset_code }),
        )
        .await;
    if reset_code != bob_code {
        assert_eq!(error_code(res).await, "invalid_code");
    }
    if reset_code != login_code {
        let res = app
            .post(
                "/api/auth/verify-2fa",
                json!({ "ticket": ticket, "code": reset_code }),
            )
            .await;
        assert_eq!(
            error_code(res).await,
            "invalid_code",
            "a reset code is not a login code"
        );
    }
    if login_code != reset_code {
        let res = app
            .post("/api/auth/password-reset/confirm", json!({ "email": "alice@example.de", "code": login_code, "new_password": "Anderes-Passwort-55" }))
            .await;
        assert_eq!(
            error_code(res).await,
            "invalid_code",
            "a login code is not a reset code"
        );
    }
    if bob_code != login_code {
        let res = app
            .post(
                "/api/auth/verify-2fa",
                json!({ "ticket": ticket, "code": bob_code }),
            )
            .await;
        assert_eq!(
            error_code(res).await,
            "invalid_code",
            "Bob's code is not Alice's"
        );
    }
    // The right code still works afterwards (the failures above stayed under the limit).
    let res = app
        .post(
            "/api/auth/verify-2fa",
            json!({ "ticket": ticket, "code": login_code }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn the_second_step_cannot_be_skipped(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let email = "skip@example.de";
    app.verified_user(email).await;
    let ticket = app.login_ticket(email, PASSWORD).await;

    // The ticket opens nothing but verify-2fa.
    assert_eq!(
        error_code(app.get_auth("/api/auth/me", &ticket).await).await,
        "unauthenticated"
    );
    assert_eq!(
        error_code(app.refresh(&ticket).await).await,
        "invalid_refresh_token"
    );
    assert_eq!(app.introspect(&ticket).await, json!({ "active": false }));
    // No code, an empty code, a made-up ticket.
    let res = app
        .post("/api/auth/verify-2fa", json!({ "ticket": ticket }))
        .await;
    assert_eq!(error_code(res).await, "invalid_code");
    let res = app
        .post(
            "/api/auth/verify-2fa",
            json!({ "ticket": ticket, "code": "" }),
        )
        .await;
    assert_eq!(error_code(res).await, "invalid_code");
    let res = app
        .post(
            "/api/auth/verify-2fa",
            json!({ "ticket": "made-up", "code": "123456" }),
        )
        .await;
    assert_eq!(error_code(res).await, "invalid_ticket");
    // An expired ticket is dead even with the right code.
    let code = app.code_for(email).await;
    sqlx::query("UPDATE login_tickets SET expires_at = now() - interval '1 second'")
        .execute(&app.db)
        .await
        .unwrap();
    let res = app
        .post(
            "/api/auth/verify-2fa",
            json!({ "ticket": ticket, "code": code }),
        )
        .await;
    assert_eq!(error_code(res).await, "invalid_ticket");
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn forged_and_misused_tokens_are_refused(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let session = app.signed_in("jwt@example.de").await;
    let parts: Vec<&str> = session.access.split('.').collect();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();

    let mut attacks = vec![
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(&json!({"alg": "none", "typ": "JWT"})),
                parts[1]
            ),
        ),
        (
            "alg switched",
            format!(
                "{}.{}.{}",
                b64(&json!({"alg": "HS512", "typ": "JWT"})),
                parts[1],
                parts[2]
            ),
        ),
        (
            "wrong signature",
            format!(
                "{}.{}.{}",
                parts[0],
                parts[1],
                URL_SAFE_NO_PAD.encode([7u8; 32])
            ),
        ),
        ("refresh token as access token", session.refresh.clone()),
        ("garbage", "not.a.token".to_owned()),
    ];
    // Tampered claims keep the original signature, so they must fail on it.
    for (name, field, value) in [
        ("admin role", "role", json!("admin")),
        (
            "expired",
            "exp",
            json!(claims["iat"].as_i64().unwrap() - 10),
        ),
        ("wrong audience", "aud", json!("someone-else")),
        ("wrong issuer", "iss", json!("https://evil.example")),
    ] {
        let mut forged = claims.clone();
        forged[field] = value;
        attacks.push((name, format!("{}.{}.{}", parts[0], b64(&forged), parts[2])));
    }
    for (name, token) in attacks {
        let res = app.get_auth("/api/auth/me", &token).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(
            app.introspect(&token).await,
            json!({ "active": false }),
            "{name}"
        );
    }
    // Correctly signed but expired, wrong audience or issuer: see crypto::jwt unit tests, which
    // hold the secret. Here: the real token still works.
    assert_eq!(
        app.get_auth("/api/auth/me", &session.access).await.status(),
        StatusCode::OK
    );
}

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn introspection_is_only_for_services(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let session = app.signed_in("intro@example.de").await;
    // A user's own token is not the service credential.
    let res = app
        .post_auth(
            "/api/auth/introspect",
            &session.access,
            json!({ "token": session.access }),
        )
        .await;
    assert_eq!(error_code(res).await, "invalid_service_credential");
    let res = app
        .post("/api/auth/introspect", json!({ "token": session.access }))
        .await;
    assert_eq!(error_code(res).await, "invalid_service_credential");
    let res = app
        .post_auth(
            "/api/auth/introspect",
            &SERVICE_TOKEN[..SERVICE_TOKEN.len() - 1],
            json!({ "token": session.access }),
        )
        .await;
    assert_eq!(error_code(res).await, "invalid_service_credential");
}

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn answers_do_not_reveal_which_accounts_exist(db: PgPool) {
    let app = TestApp::spawn(db).await;
    app.verified_user("known@example.de").await;
    app.register("unverified@example.de").await;
    sqlx::query("INSERT INTO users (id, email, password_hash, full_name, is_verified, is_active) SELECT gen_random_uuid(), 'disabled@example.de', password_hash, 'X', true, false FROM users LIMIT 1")
        .execute(&app.db)
        .await
        .unwrap();

    async fn shape(res: reqwest::Response) -> (StatusCode, Value) {
        let status = res.status();
        let mut body: Value = res.json().await.unwrap();
        if let Some(error) = body.get_mut("error") {
            error.as_object_mut().unwrap().remove("request_id");
        }
        (status, body)
    }

    // Login: unknown, wrong password, unverified, disabled: one answer.
    let mut logins = Vec::new();
    for (email, password) in [
        ("nobody@example.de", PASSWORD),
        ("known@example.de", "Falsches-Passwort-1"),
        ("unverified@example.de", PASSWORD),
        ("disabled@example.de", PASSWORD),
    ] {
        logins.push(
            shape(
                app.post(
                    "/api/auth/login",
                    json!({ "email": email, "password": password }),
                )
                .await,
            )
            .await,
        );
    }
    assert_eq!(logins[0].0, StatusCode::UNAUTHORIZED);
    assert!(logins.iter().all(|l| *l == logins[0]), "{logins:?}");

    // Register and reset: the same answer for new and taken addresses.
    let body = |email: &str| json!({ "email": email, "password": "Ganz-Neues-Konto-77", "full_name": "Eve" });
    let new = shape(
        app.post("/api/auth/register", body("fresh@example.de"))
            .await,
    )
    .await;
    let taken = shape(
        app.post("/api/auth/register", body("known@example.de"))
            .await,
    )
    .await;
    assert_eq!(new, taken);
    assert_eq!(new.0, StatusCode::ACCEPTED);
    // The owner of the taken address hears about it.
    let notice = app
        .sink
        .wait_for("known@example.de", Duration::from_secs(10))
        .await;
    assert!(
        notice.subject.contains("already have"),
        "{}",
        notice.subject
    );

    let unknown = shape(
        app.post(
            "/api/auth/password-reset/request",
            json!({ "email": "nobody@example.de" }),
        )
        .await,
    )
    .await;
    let known = shape(
        app.post(
            "/api/auth/password-reset/request",
            json!({ "email": "known@example.de" }),
        )
        .await,
    )
    .await;
    assert_eq!(unknown, known);
    let unknown = shape(
        app.post(
            "/api/auth/resend-verification",
            json!({ "email": "nobody@example.de" }),
        )
        .await,
    )
    .await;
    let known = shape(
        app.post(
            "/api/auth/resend-verification",
            json!({ "email": "unverified@example.de" }),
        )
        .await,
    )
    .await;
    assert_eq!(unknown, known);
}

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn hostile_email_addresses_and_passwords_get_clear_4xx(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let register = |email: String, password: String| {
        app.post(
            "/api/auth/register",
            json!({ "email": email, "password": password, "full_name": "Test" }),
        )
    };
    for email in [
        "a@b.de\r\nBcc: victim@example.de",
        "x@example.de\nSubject: hi",
        &format!("{}@example.de", "a".repeat(300)),
        "' OR 1=1 --",
    ] {
        let res = register(email.to_owned(), PASSWORD.to_owned()).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{email:?}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["fields"][0]["field"], "email");
    }
    for (password, code) in [
        (String::new(), "too_short"),
        ("Kq9#xLp".to_owned(), "too_short"),
        ("Zq7!mW3x".repeat(16) + "a", "too_long"),
        ("x".repeat(10_000), "too_long"),
        ("🦀🦀🦀".to_owned(), "too_short"),
    ] {
        let res = register(format!("p{}@example.de", password.len()), password.clone()).await;
        assert_eq!(
            res.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{} chars",
            password.chars().count()
        );
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["fields"][0]["code"], code);
    }
    // 64 and 128 characters and emoji are fine, and a 128-character password logs in.
    let long = "Zq7!mW3x".repeat(16);
    for (i, password) in [
        "Zq7!mW3x".repeat(8),
        long.clone(),
        "Grüße🦀aus🦀Köln🦀2026".to_owned(),
    ]
    .into_iter()
    .enumerate()
    {
        let res = register(format!("ok{i}@example.de"), password).await;
        assert_eq!(res.status(), StatusCode::ACCEPTED);
    }
    let code = app.code_for("ok1@example.de").await;
    app.post(
        "/api/auth/verify-email",
        json!({ "email": "ok1@example.de", "code": code }),
    )
    .await;
    app.login_ticket("ok1@example.de", &long).await;
    // No truncation: the first 127 characters are not the password.
    let res = app
        .post(
            "/api/auth/login",
            json!({ "email": "ok1@example.de", "password": &long[..127] }),
        )
        .await;
    assert_eq!(error_code(res).await, "invalid_credentials");
}

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn malformed_requests_get_json_errors(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let raw = |body: &'static str| {
        app.http
            .post(app.url("/api/auth/login"))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    assert_eq!(
        error_code(raw("{\"email\": ").await.unwrap()).await,
        "malformed_json"
    );
    assert_eq!(
        error_code(raw("{\"email\": 42, \"password\": []}").await.unwrap()).await,
        "invalid_body"
    );
    assert_eq!(error_code(raw("{}").await.unwrap()).await, "invalid_body");
    let res = app
        .http
        .post(app.url("/api/auth/login"))
        .body("email=a")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res).await, "unsupported_media_type");
    let res = app
        .http
        .post(app.url("/api/auth/login"))
        .header("content-type", "application/json")
        .body(vec![0xff, 0xfe, b'{'])
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error());
    let huge = format!(
        "{{\"email\": \"a@b.de\", \"password\": \"{}\"}}",
        "x".repeat(200_000)
    );
    let res = app
        .http
        .post(app.url("/api/auth/login"))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_code(res).await, "payload_too_large");
    let res = app
        .http
        .get(app.url("/api/nothing-here"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res).await, "not_found");
    let res = app
        .http
        .get(app.url("/api/auth/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res).await, "method_not_allowed");
    let res = app
        .http
        .delete(app.url("/api/auth/sessions/not-a-uuid"))
        .bearer_auth("x")
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error());
}

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn sql_metacharacters_are_plain_text(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let name = "Robert'); DROP TABLE users;--";
    let email = "o'brien+test@example.de";
    let res = app
        .post(
            "/api/auth/register",
            json!({ "email": email, "password": PASSWORD, "full_name": name }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let code = app.code_for(email).await;
    app.post(
        "/api/auth/verify-email",
        json!({ "email": email, "code": code }),
    )
    .await;
    let session = app.login(email).await;
    let me: Value = app
        .get_auth("/api/auth/me", &session.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["full_name"], name);
    assert_eq!(me["email"], email);
    let res = app
        .post(
            "/api/auth/login",
            json!({ "email": "x@example.de' OR '1'='1", "password": "' OR '1'='1" }),
        )
        .await;
    assert_eq!(error_code(res).await, "invalid_credentials");
}

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn per_ip_limits_answer_429_with_retry_after(db: PgPool) {
    let app = TestApp::spawn_with(db, &["--auth-rate-limit-per-minute=3"]).await;
    let login = || {
        app.post(
            "/api/auth/login",
            json!({ "email": "who@example.de", "password": "Whatever-123-abc" }),
        )
    };
    for _ in 0..3 {
        assert_eq!(login().await.status(), StatusCode::UNAUTHORIZED);
    }
    let res = login().await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    assert_eq!(error_code(res).await, "too_many_requests");
    // A forged X-Forwarded-For from an untrusted peer does not buy a fresh budget.
    let res = app
        .http
        .post(app.url("/api/auth/login"))
        .header("x-forwarded-for", "203.0.113.77")
        .json(&json!({ "email": "who@example.de", "password": "Whatever-123-abc" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    // Other groups have their own budget.
    let res = app
        .post(
            "/api/auth/password-reset/request",
            json!({ "email": "who@example.de" }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
}

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn trusted_proxy_forwards_the_client_address(db: PgPool) {
    let app = TestApp::spawn_with(
        db,
        &[
            "--auth-rate-limit-per-minute=2",
            "--trusted-proxies=127.0.0.1/32",
        ],
    )
    .await;
    let login = |client: &'static str| {
        app.http
            .post(app.url("/api/auth/login"))
            .header("x-forwarded-for", client)
            .json(&json!({ "email": "who@example.de", "password": "Whatever-123-abc" }))
            .send()
    };
    for _ in 0..2 {
        assert_eq!(
            login("198.51.100.1").await.unwrap().status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        login("198.51.100.1").await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        login("198.51.100.2").await.unwrap().status(),
        StatusCode::UNAUTHORIZED,
        "another client behind the proxy"
    );
}

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn repeated_wrong_passwords_slow_down_that_network_only(db: PgPool) {
    let app = TestApp::spawn_with(
        db,
        &[
            "--auth-rate-limit-per-minute=100000",
            "--trusted-proxies=127.0.0.1/32",
        ],
    )
    .await;
    let email = "target@example.de";
    app.verified_user(email).await;
    let login = |client: &'static str, password: &'static str| {
        app.http
            .post(app.url("/api/auth/login"))
            .header("x-forwarded-for", client)
            .json(&json!({ "email": email, "password": password }))
            .send()
    };
    for _ in 0..5 {
        assert_eq!(
            login("203.0.113.5", "Falsch-Falsch-1")
                .await
                .unwrap()
                .status(),
            StatusCode::UNAUTHORIZED
        );
    }
    // The attacker's network now waits, even with the right password...
    let res = login("203.0.113.5", PASSWORD).await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
    // ...but the owner elsewhere is not locked out.
    assert_eq!(
        login("198.51.100.9", PASSWORD).await.unwrap().status(),
        StatusCode::OK
    );
    // Unknown accounts are throttled the same way, so the 429 reveals nothing.
    for _ in 0..5 {
        app.http
            .post(app.url("/api/auth/login"))
            .header("x-forwarded-for", "203.0.113.5")
            .json(&json!({ "email": "ghost@example.de", "password": "Falsch-Falsch-1" }))
            .send()
            .await
            .unwrap();
    }
    let res = app
        .http
        .post(app.url("/api/auth/login"))
        .header("x-forwarded-for", "203.0.113.5")
        .json(&json!({ "email": "ghost@example.de", "password": "Falsch-Falsch-1" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn guessing_the_current_password_with_a_stolen_token_is_rate_limited(db: PgPool) {
    let app = TestApp::spawn_with(db, &["--auth-rate-limit-per-minute=3"]).await;
    let session = app.signed_in("stolen@example.de").await; // one login used
    let guess = || {
        app.post_auth(
            "/api/auth/change-password",
            &session.access,
            json!({ "current_password": "Rate-Mal-Passwort-1", "new_password": "Neues-Fahrrad-Blau-7" }),
        )
    };
    assert_eq!(error_code(guess().await).await, "wrong_password");
    assert_eq!(error_code(guess().await).await, "wrong_password");
    let res = guess().await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let res = app
        .post_auth(
            "/api/auth/totp/disable",
            &session.access,
            json!({ "password": "Rate-Mal-Passwort-2" }),
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the same budget for every password check"
    );
}

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn a_burst_of_parallel_guesses_gets_five_tries_at_most(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let email = "burst@example.de";
    app.verified_user(email).await;
    let answers = join_all((0..30).map(|_| {
        app.post(
            "/api/auth/login",
            json!({ "email": email, "password": "Falsch-Falsch-1" }),
        )
    }))
    .await;
    let tried = answers
        .iter()
        .filter(|r| r.status() == StatusCode::UNAUTHORIZED)
        .count();
    let refused = answers
        .iter()
        .filter(|r| r.status() == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert!(tried <= 5, "{tried} guesses were checked");
    assert_eq!(tried + refused, 30);
}

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn repeated_sign_ups_do_not_flood_the_owner_with_notices(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let email = "owner@example.de";
    app.verified_user(email).await;
    for _ in 0..5 {
        let res = app
            .post(
                "/api/auth/register",
                json!({ "email": email, "password": "Ganz-Neues-Konto-77", "full_name": "Eve" }),
            )
            .await;
        assert_eq!(res.status(), StatusCode::ACCEPTED);
    }
    let notice = app.sink.wait_for(email, Duration::from_secs(10)).await;
    assert!(notice.subject.contains("already have"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let notices = app
        .sink
        .messages()
        .iter()
        .filter(|m| m.subject.contains("already have"))
        .count();
    assert_eq!(notices, 1, "one notice an hour");
}

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn knowing_the_password_buys_only_ten_guesses_at_the_second_factor(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let email = "phished@example.de";
    app.verified_user(email).await;
    let mut code = String::new();
    for round in 0..2 {
        let ticket = app.login_ticket(email, PASSWORD).await;
        if round == 0 {
            code = app.code_for(email).await;
        }
        let wrong = if code == "000000" { "111111" } else { "000000" };
        for _ in 0..5 {
            let res = app
                .post(
                    "/api/auth/verify-2fa",
                    json!({ "ticket": ticket, "code": wrong }),
                )
                .await;
            assert_eq!(error_code(res).await, "invalid_code");
        }
    }
    // Even the right code on a fresh ticket now waits.
    let ticket = app.login_ticket(email, PASSWORD).await;
    let res = app
        .post(
            "/api/auth/verify-2fa",
            json!({ "ticket": ticket, "code": code }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
}
