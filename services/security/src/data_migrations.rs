//! Rewrites of existing rows that SQL cannot express, scheduled by a migration (a row in
//! `pending_data_migrations`) and run once at start-up, right after the schema migrations.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::db;
use crate::domain::email::Email;

/// Runs the pending rewrites. Each runs in the transaction that deletes its row, so it runs
/// exactly once even when several instances start together.
pub async fn run(db: &PgPool) -> anyhow::Result<()> {
    let mut tx = db.begin().await?;
    let pending: Option<String> = sqlx::query_scalar(
        "DELETE FROM pending_data_migrations WHERE name = 'canonical_emails' RETURNING name",
    )
    .fetch_optional(&mut *tx)
    .await?;
    if pending.is_some() {
        canonical_emails(&mut tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Account {
    id: Uuid,
    email: String,
    is_verified: bool,
    created_at: DateTime<Utc>,
}

/// Gives every account its address's canonical spelling ([`Email::parse`]). Only addresses
/// with non-ASCII characters can change (the old parsing already lower-cased ASCII). Where
/// spellings of one mailbox meet, the verified account, else the oldest, keeps the address;
/// the others are disabled, signed out and renamed `<id>@duplicate.invalid`, and a security
/// event on each names the account kept and the old spelling, so an operator can merge by hand.
pub async fn canonical_emails(tx: &mut PgConnection) -> anyhow::Result<()> {
    let rows: Vec<Account> = sqlx::query_as(
        "SELECT id, email, is_verified, created_at FROM users WHERE octet_length(email) <> char_length(email)",
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut groups: BTreeMap<String, Vec<Account>> = BTreeMap::new();
    for row in rows {
        match Email::parse(&row.email) {
            Ok(email) if email.as_str() != row.email => {
                groups
                    .entry(email.as_str().to_owned())
                    .or_default()
                    .push(row);
            }
            Ok(_) => {}
            Err(_) => {
                tracing::warn!(user_id = %row.id, "stored email is not a valid address; left as it is")
            }
        }
    }
    for (canonical, mut accounts) in groups {
        // The account that already has the canonical spelling competes too.
        let holder: Option<Account> =
            sqlx::query_as("SELECT id, email, is_verified, created_at FROM users WHERE email = $1")
                .bind(&canonical)
                .fetch_optional(&mut *tx)
                .await?;
        accounts.extend(holder);
        // Verified first, then the oldest.
        accounts.sort_by_key(|a| (!a.is_verified, a.created_at, a.id));
        let (keeper, others) = accounts.split_first().expect("a group has an account");
        for other in others {
            disable_duplicate(tx, other, keeper.id).await?;
        }
        sqlx::query("UPDATE users SET email = $2, updated_at = now() WHERE id = $1")
            .bind(keeper.id)
            .bind(&canonical)
            .execute(&mut *tx)
            .await?;
        if !others.is_empty() {
            tracing::warn!(
                kept = %keeper.id,
                disabled = ?others.iter().map(|a| a.id).collect::<Vec<_>>(),
                "accounts with spellings of one address; all but one disabled"
            );
        }
    }
    Ok(())
}

async fn disable_duplicate(
    tx: &mut PgConnection,
    account: &Account,
    kept: Uuid,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE users SET email = id::text || '@duplicate.invalid', is_active = false, updated_at = now()
          WHERE id = $1",
    )
    .bind(account.id)
    .execute(&mut *tx)
    .await?;
    db::sessions::revoke_all(&mut *tx, account.id, "duplicate_email", None).await?;
    db::audit::record(
        &mut *tx,
        Some(account.id),
        "duplicate_email_disabled",
        None,
        serde_json::json!({ "kept": kept, "email": account.email }),
    )
    .await
}
