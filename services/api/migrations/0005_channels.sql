-- Shop channels: sandbox connections, credentials checks, the Shopify install flow and
-- webhook deliveries.

ALTER TABLE connections
    -- Talks to the operator's sandbox shops instead of the vendor; shown in every answer.
    ADD COLUMN sandbox boolean NOT NULL DEFAULT false,
    -- The account at the channel, in clear (shop domain, seller id, client key): what a
    -- webhook names the shop by. Older rows get it at their next credentials check (the
    -- credentials are sealed, SQL cannot read them).
    ADD COLUMN account_ref text,
    ADD COLUMN last_checked_at timestamptz,
    -- The stable code of `last_error` (a channel error code, or `app_uninstalled`).
    ADD COLUMN last_error_code text;
CREATE INDEX connections_by_account ON connections (platform, account_ref);

-- Started Shopify installs, until the callback comes back (single use, short-lived). Only
-- the SHA-256 of the state is kept: a copy of the table cannot complete anyone's install.
CREATE TABLE shopify_installs (
    state_sha256    text PRIMARY KEY CHECK (state_sha256 ~ '^[0-9a-f]{64}$'),
    user_id         uuid NOT NULL,
    shop_domain     text NOT NULL,
    sandbox         boolean NOT NULL,
    expires_at      timestamptz NOT NULL
);
CREATE INDEX shopify_installs_by_expiry ON shopify_installs (expires_at);

-- Webhook deliveries, one row per connection of the shop they name. A delivery repeated by
-- the channel (same event id) is recorded once per connection.
CREATE TABLE channel_events (
    id              uuid PRIMARY KEY,
    user_id         uuid NOT NULL,
    connection_id   uuid NOT NULL,
    platform        text NOT NULL CHECK (platform IN ('shopify', 'amazon', 'kaufland')),
    topic           text NOT NULL,
    event_id        text NOT NULL,
    payload         jsonb NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT channel_events_once UNIQUE (connection_id, event_id),
    CONSTRAINT channel_events_connection_of_owner FOREIGN KEY (connection_id, user_id)
        REFERENCES connections (id, user_id) ON DELETE CASCADE
);
CREATE INDEX channel_events_by_event ON channel_events (platform, event_id);
