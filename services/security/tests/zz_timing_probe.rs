mod common;
use common::{TestApp, PASSWORD};
use serde_json::json;
use sqlx::PgPool;
use std::time::Instant;

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn probe(db: PgPool) {
    let app = TestApp::spawn(db).await;
    app.verified_user("known@example.de").await;
    let mut new = Vec::new(); let mut taken = Vec::new(); let mut rk = Vec::new(); let mut ru = Vec::new();
    for i in 0..80 {
        let t = Instant::now();
        app.post("/api/auth/register", json!({"email": format!("n{i}@example.de"), "password": PASSWORD, "full_name": "A"})).await;
        new.push(t.elapsed().as_secs_f64()*1000.0);
        let t = Instant::now();
        app.post("/api/auth/register", json!({"email": "known@example.de", "password": PASSWORD, "full_name": "A"})).await;
        taken.push(t.elapsed().as_secs_f64()*1000.0);
        if std::env::var("PROBE_COOLDOWN").is_err() { sqlx::query("UPDATE verification_codes SET created_at = now() - interval '2 minutes'").execute(&app.db).await.unwrap(); }
        let t = Instant::now();
        app.post("/api/auth/password-reset/request", json!({"email": "known@example.de"})).await;
        rk.push(t.elapsed().as_secs_f64()*1000.0);
        let t = Instant::now();
        app.post("/api/auth/password-reset/request", json!({"email": format!("u{i}@example.de")})).await;
        ru.push(t.elapsed().as_secs_f64()*1000.0);
    }
    for (n, v) in [("new", &mut new), ("taken", &mut taken), ("reset known", &mut rk), ("reset unknown", &mut ru)] {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        eprintln!("PROBE {n}: median {:.2} ms p25 {:.2} p75 {:.2}", v[v.len()/2], v[v.len()/4], v[3*v.len()/4]);
    }
}
