-- Webhook events reach every connection whose credentials check confirmed the shop (not
-- only app installs); merchants list a connection's events; per-merchant caps on
-- connections and pending Shopify installs.

-- Webhooks now look connections up by (platform, account_ref, sandbox) whatever via_app
-- says: connections_by_account serves that.
DROP INDEX connections_by_app_account;

-- A connection's events, newest first.
CREATE INDEX channel_events_by_connection ON channel_events (connection_id, received_at DESC, id DESC);

-- A merchant's pending installs, oldest first (the oldest go beyond the cap).
CREATE INDEX shopify_installs_by_user ON shopify_installs (user_id, expires_at);
