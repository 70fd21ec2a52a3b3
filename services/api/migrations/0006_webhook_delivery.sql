-- Webhooks reach only connections the shop approved, and a replayed body is recognised.
-- A new migration rather than an edit of 0005: development databases may have applied it.

ALTER TABLE connections
    -- Made (or last given its token) through the Shopify app install, the sandbox's
    -- stand-in app included: the shop approved this account, so the shop's webhooks may
    -- reach it. A pasted token proves nothing about who may read the shop's events.
    ADD COLUMN via_app boolean NOT NULL DEFAULT false;
CREATE INDEX connections_by_app_account ON connections (platform, account_ref, sandbox)
    WHERE via_app;

ALTER TABLE channel_events
    -- SHA-256 of the topic and the raw body: the same body under a new webhook id is a
    -- replay, recorded once. Events recorded before this migration have none.
    ADD COLUMN body_sha256 text CHECK (body_sha256 ~ '^[0-9a-f]{64}$'),
    ADD CONSTRAINT channel_events_body_once UNIQUE (connection_id, body_sha256);
