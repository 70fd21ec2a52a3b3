//! The journeys users make, end to end: real HTTP, real Postgres, mail over real SMTP.

mod common;

use common::{error_code, tokens, TestApp, PASSWORD};
use reqwest::StatusCode;
use security::domain::totp::{Totp, DIGITS};
use serde_json::{json, Value};
use sqlx::PgPool;

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn register_verify_login_refresh_logout(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let email = "anna@example.de";

    app.register(email).await;
    let mail = app
        .sink
        .wait_for(email, std::time::Duration::from_secs(10))
        .await;
    assert_eq!(
        mail.subject, "Please confirm your email address",
        "English as asked at sign-up"
    );
    let code = sm_testkit::extract_code(&mail.text);

    // Unverified accounts cannot log in (same answer as a wrong password).
    let res = app
        .post(
            "/api/auth/login",
            json!({ "email": email, "password": PASSWORD }),
        )
        .await;
    assert_eq!(error_code(res).await, "invalid_credentials");

    let res = app
        .post(
            "/api/auth/verify-email",
            json!({ "email": email, "code": code }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);

    // Password step: a ticket, and a code by mail.
    let res = app
        .post(
            "/api/auth/login",
            json!({ "email": email, "password": PASSWORD }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["method"], "email");
    let ticket = body["ticket"].as_str().unwrap().to_owned();
    let code = app.code_for(email).await;

    let res = app
        .post(
            "/api/auth/verify-2fa",
            json!({ "ticket": ticket, "code": code }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = res
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("sm_refresh="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict")
            && cookie.contains("Path=/api/auth"),
        "{cookie}"
    );
    let first = tokens(res).await;
    assert_eq!(first.body["token_type"], "Bearer");
    assert_eq!(first.body["expires_in"], 900);
    assert!(
        cookie.contains(&first.refresh),
        "the cookie carries the refresh token"
    );

    let res = app.get_auth("/api/auth/me", &first.access).await;
    assert_eq!(res.status(), StatusCode::OK);
    let me: Value = res.json().await.unwrap();
    assert_eq!(me["email"], email);
    assert_eq!(me["role"], "merchant");
    assert_eq!(me["is_verified"], true);
    assert!(me.get("password_hash").is_none());

    let info = app.introspect(&first.access).await;
    assert_eq!(info["active"], true);
    assert_eq!(info["email"], email);
    assert_eq!(info["role"], "merchant");
    assert_eq!(info["sub"], me["id"]);

    // Refresh rotates: a new pair, and the old refresh token is spent.
    let res = app.refresh(&first.refresh).await;
    assert_eq!(res.status(), StatusCode::OK);
    let second = tokens(res).await;
    assert_ne!(second.refresh, first.refresh);
    assert_eq!(
        app.get_auth("/api/auth/me", &second.access).await.status(),
        StatusCode::OK
    );

    // The browser way: the refresh token from the cookie, no body.
    let res = app
        .http
        .post(app.url("/api/auth/refresh-token"))
        .header("cookie", format!("sm_refresh={}", second.refresh))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let third = tokens(res).await;

    // Logout ends the session at once: the access token no longer works anywhere.
    let res = app
        .post_auth("/api/auth/logout", &third.access, json!({}))
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.introspect(&third.access).await,
        json!({ "active": false })
    );
    assert_eq!(
        error_code(app.get_auth("/api/auth/me", &third.access).await).await,
        "unauthenticated"
    );
    assert_eq!(
        error_code(app.refresh(&third.refresh).await).await,
        "invalid_refresh_token"
    );
}

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn mails_follow_the_users_language(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let res = app
        .post("/api/auth/register", json!({ "email": "jonas@example.de", "password": PASSWORD, "full_name": "Jonas Müller" }))
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let mail = app
        .sink
        .wait_for("jonas@example.de", std::time::Duration::from_secs(10))
        .await;
    assert_eq!(mail.subject, "Bitte bestätigen Sie Ihre E-Mail-Adresse");
    assert!(mail.text.contains("Hallo Jonas Müller"));
    assert!(mail.from.contains("support@shopmarkets.app"));
}

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn password_reset_sets_a_new_password_and_ends_sessions(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let email = "reset@example.de";
    let session = app.signed_in(email).await;

    let res = app
        .post(
            "/api/auth/password-reset/request",
            json!({ "email": email }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let mail = app
        .sink
        .wait_for(email, std::time::Duration::from_secs(10))
        .await;
    assert_eq!(mail.subject, "Reset your password");
    let code = sm_testkit::extract_code(&mail.text);

    // A weak new password is refused without spending the code.
    let res = app
        .post(
            "/api/auth/password-reset/confirm",
            json!({ "email": email, "code": code, "new_password": "password" }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let new_password = "Neues-Fahrrad-Blau-7";
    let res = app
        .post(
            "/api/auth/password-reset/confirm",
            json!({ "email": email, "code": code, "new_password": new_password }),
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    assert_eq!(
        app.sink
            .wait_for(email, std::time::Duration::from_secs(10))
            .await
            .subject,
        "Your password was changed"
    );

    // The old session is over, the old password is dead, the new one works.
    assert_eq!(app.introspect(&session.access).await["active"], false);
    assert_eq!(
        error_code(app.refresh(&session.refresh).await).await,
        "invalid_refresh_token"
    );
    let res = app
        .post(
            "/api/auth/login",
            json!({ "email": email, "password": PASSWORD }),
        )
        .await;
    assert_eq!(error_code(res).await, "invalid_credentials");
    app.login_ticket(email, new_password).await;

    // The code was single use.
    let res = app
        .post(
            "/api/auth/password-reset/confirm",
            json!({ "email": email, "code": code, "new_password": "Noch-ein-Passwort-99" }),
        )
        .await;
    assert_eq!(error_code(res).await, "invalid_code");
}

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn change_password_needs_the_current_one_and_ends_other_sessions(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let email = "change@example.de";
    let laptop = app.signed_in(email).await;
    let phone = app.login(email).await;

    let res = app
        .post_auth("/api/auth/change-password", &laptop.access, json!({ "current_password": "wrong-password-123", "new_password": "Neues-Fahrrad-Blau-7" }))
        .await;
    assert_eq!(error_code(res).await, "wrong_password");

    let res = app
        .post_auth(
            "/api/auth/change-password",
            &laptop.access,
            json!({ "current_password": PASSWORD, "new_password": "Neues-Fahrrad-Blau-7" }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        app.introspect(&laptop.access).await["active"],
        true,
        "the current session stays"
    );
    assert_eq!(
        app.introspect(&phone.access).await["active"],
        false,
        "other sessions end"
    );
}

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn sessions_can_be_listed_and_ended_one_by_one_or_all(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let email = "devices@example.de";
    let laptop = app.signed_in(email).await;
    let phone = app.login(email).await;

    let res = app.get_auth("/api/auth/sessions", &laptop.access).await;
    let sessions: Vec<Value> = res.json().await.unwrap();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    let phone_sid = app.introspect(&phone.access).await["sid"]
        .as_str()
        .unwrap()
        .to_owned();

    // Another user cannot see or end these sessions.
    let mallory = app.signed_in("mallory@example.de").await;
    let res = app
        .http
        .delete(app.url(&format!("/api/auth/sessions/{phone_sid}")))
        .bearer_auth(&mallory.access)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res).await, "not_found");
    assert_eq!(app.introspect(&phone.access).await["active"], true);

    let res = app
        .http
        .delete(app.url(&format!("/api/auth/sessions/{phone_sid}")))
        .bearer_auth(&laptop.access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.introspect(&phone.access).await["active"], false);
    assert_eq!(app.introspect(&laptop.access).await["active"], true);

    let tablet = app.login(email).await;
    let res = app
        .post_auth("/api/auth/logout-all", &laptop.access, json!({}))
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.introspect(&laptop.access).await["active"], false);
    assert_eq!(app.introspect(&tablet.access).await["active"], false);
    assert_eq!(
        app.introspect(&mallory.access).await["active"],
        true,
        "other users are untouched"
    );
}

fn totp_from_uri(uri: &str) -> Totp {
    let secret = uri
        .split("secret=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let bytes = totp_rs::Secret::Encoded(secret.to_owned())
        .to_bytes()
        .unwrap();
    Totp::new(bytes, DIGITS, "ShopMarkets", "x@example.de").unwrap()
}

fn now() -> u64 {
    chrono::Utc::now().timestamp() as u64
}

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn totp_second_factor_with_recovery_codes(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let email = "totp@example.de";
    let session = app.signed_in(email).await;

    // A stolen access token is not enough: the password is asked for.
    let res = app
        .post_auth(
            "/api/auth/totp/setup",
            &session.access,
            json!({ "password": "Geraten-Passwort-1" }),
        )
        .await;
    assert_eq!(error_code(res).await, "wrong_password");
    // Setting up again replaces the pending secret: the first app's codes no longer count.
    let res = app
        .post_auth(
            "/api/auth/totp/setup",
            &session.access,
            json!({ "password": PASSWORD }),
        )
        .await;
    let abandoned = totp_from_uri(
        res.json::<Value>().await.unwrap()["otpauth_uri"]
            .as_str()
            .unwrap(),
    );
    let res = app
        .post_auth(
            "/api/auth/totp/setup",
            &session.access,
            json!({ "password": PASSWORD }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let setup: Value = res.json().await.unwrap();
    let uri = setup["otpauth_uri"].as_str().unwrap();
    assert!(
        uri.starts_with("otpauth://totp/ShopMarkets:totp%40example.de?"),
        "{uri}"
    );
    let authenticator = totp_from_uri(uri);

    // The secret is stored encrypted, not in the clear.
    let stored: Vec<u8> = sqlx::query_scalar("SELECT totp_pending_enc FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(&app.db)
        .await
        .unwrap();
    let secret = setup["secret"].as_str().unwrap();
    assert!(!String::from_utf8_lossy(&stored).contains(secret));

    let res = app
        .post_auth(
            "/api/auth/totp/enable",
            &session.access,
            json!({ "code": abandoned.code_at(now()) }),
        )
        .await;
    assert_eq!(error_code(res).await, "invalid_code");
    let res = app
        .post_auth(
            "/api/auth/totp/enable",
            &session.access,
            json!({ "code": "000000x" }),
        )
        .await;
    assert_eq!(error_code(res).await, "invalid_code");
    let res = app
        .post_auth(
            "/api/auth/totp/enable",
            &session.access,
            json!({ "code": authenticator.code_at(now()) }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let recovery: Vec<String> =
        serde_json::from_value(res.json::<Value>().await.unwrap()["recovery_codes"].clone())
            .unwrap();
    assert_eq!(recovery.len(), 10);

    // Login now asks for the authenticator; no mail is sent.
    let mails_before = app.sink.messages().len();
    let res = app
        .post(
            "/api/auth/login",
            json!({ "email": email, "password": PASSWORD }),
        )
        .await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["method"], "totp");
    let ticket = body["ticket"].as_str().unwrap().to_owned();

    // The code used to enable is spent: the same step is not accepted twice.
    let res = app
        .post(
            "/api/auth/verify-2fa",
            json!({ "ticket": ticket, "code": authenticator.code_at(now()) }),
        )
        .await;
    assert_eq!(error_code(res).await, "invalid_code");
    // The next step's code (one step of drift) works.
    let res = app
        .post(
            "/api/auth/verify-2fa",
            json!({ "ticket": ticket, "code": authenticator.code_at(now() + 30) }),
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    assert_eq!(app.sink.messages().len(), mails_before);

    // A recovery code works once.
    let ticket = app.login_ticket(email, PASSWORD).await;
    let res = app
        .post(
            "/api/auth/verify-2fa",
            json!({ "ticket": ticket, "recovery_code": recovery[3].to_lowercase() }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let ticket = app.login_ticket(email, PASSWORD).await;
    let res = app
        .post(
            "/api/auth/verify-2fa",
            json!({ "ticket": ticket, "recovery_code": recovery[3] }),
        )
        .await;
    assert_eq!(error_code(res).await, "invalid_code");

    // New recovery codes replace the old ones.
    let res = app
        .post_auth(
            "/api/auth/totp/recovery-codes",
            &session.access,
            json!({ "password": PASSWORD }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .post(
            "/api/auth/verify-2fa",
            json!({ "ticket": ticket, "recovery_code": recovery[4] }),
        )
        .await;
    assert_eq!(error_code(res).await, "invalid_code");

    // Disabling needs the password; then logins use mailed codes again.
    let res = app
        .post_auth(
            "/api/auth/totp/disable",
            &session.access,
            json!({ "password": "nope-nope-nope" }),
        )
        .await;
    assert_eq!(error_code(res).await, "wrong_password");
    let res = app
        .post_auth(
            "/api/auth/totp/disable",
            &session.access,
            json!({ "password": PASSWORD }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    app.login(email).await;
}

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn disabling_an_account_ends_its_sessions_at_once(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let admin = app.signed_in("admin@example.de").await;
    let user = app.signed_in("merchant@example.de").await;
    let user_id = app.user_id("merchant@example.de").await;

    // Only admins may.
    let res = app
        .post_auth(
            &format!("/api/admin/users/{user_id}/disable"),
            &user.access,
            json!({}),
        )
        .await;
    assert_eq!(error_code(res).await, "forbidden");

    sqlx::query("UPDATE users SET role = 'admin' WHERE email = 'admin@example.de'")
        .execute(&app.db)
        .await
        .unwrap();
    let res = app
        .post_auth(
            &format!("/api/admin/users/{user_id}/disable"),
            &admin.access,
            json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.introspect(&user.access).await["active"], false);
    assert_eq!(
        error_code(app.refresh(&user.refresh).await).await,
        "invalid_refresh_token"
    );
    let res = app
        .post(
            "/api/auth/login",
            json!({ "email": "merchant@example.de", "password": PASSWORD }),
        )
        .await;
    assert_eq!(error_code(res).await, "invalid_credentials");

    let res = app
        .post_auth(
            &format!("/api/admin/users/{}/disable", uuid::Uuid::now_v7()),
            &admin.access,
            json!({}),
        )
        .await;
    assert_eq!(error_code(res).await, "not_found");

    let res = app
        .post_auth(
            &format!("/api/admin/users/{user_id}/enable"),
            &admin.access,
            json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    app.login("merchant@example.de").await;
}

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn operators_make_the_first_admin_from_the_command_line(db: PgPool) {
    let app = TestApp::spawn(db.clone()).await;
    let session = app.signed_in("Chefin@Example.de").await;
    security::set_role(&db, " chefin@example.de ", "admin")
        .await
        .unwrap();
    // The role travels in the next token, and introspection reports it at once.
    assert_eq!(app.introspect(&session.access).await["role"], "admin");
    let refreshed = tokens(app.refresh(&session.refresh).await).await;
    assert_eq!(refreshed.body["user"]["role"], "admin");
    let err = security::set_role(&db, "nobody@example.de", "admin")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no account"), "{err}");
}
