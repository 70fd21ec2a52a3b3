-- The merchant's business data. Every row carries the owner's user id (from the security
-- service); every query filters by it.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE profiles (
    user_id         uuid PRIMARY KEY,
    company_name    text NOT NULL DEFAULT '',
    street          text NOT NULL DEFAULT '',
    postal_code     text NOT NULL DEFAULT '',
    city            text NOT NULL DEFAULT '',
    country         text NOT NULL DEFAULT 'DE' CHECK (country ~ '^[A-Z]{2}$'),
    phone           text NOT NULL DEFAULT '',
    vat_id          text,
    billing_email   text NOT NULL DEFAULT '',
    billing_name    text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Signatures of the data-processing agreement (AVV, GDPR Art. 28): one per user and version.
CREATE TABLE avv_signatures (
    id              uuid PRIMARY KEY,
    user_id         uuid NOT NULL,
    version         text NOT NULL,
    language        text NOT NULL CHECK (language IN ('de', 'en')),
    text_sha256     text NOT NULL CHECK (text_sha256 ~ '^[0-9a-f]{64}$'),
    signer_name     text NOT NULL,
    signer_role     text NOT NULL,
    company_name    text NOT NULL,
    signed_at       timestamptz NOT NULL DEFAULT now(),
    ip              inet,
    user_agent      text,
    UNIQUE (user_id, version)
);

CREATE TABLE connections (
    id                  uuid PRIMARY KEY,
    user_id             uuid NOT NULL,
    platform            text NOT NULL CHECK (platform IN ('shopify', 'amazon', 'kaufland')),
    shop_name           text NOT NULL,
    -- AES-256-GCM (key id || nonce || ciphertext), bound to the connection id.
    credentials_enc     bytea NOT NULL,
    credentials_hint    text NOT NULL,
    settings            jsonb NOT NULL DEFAULT '{}',
    status              text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'active', 'error', 'paused')),
    last_sync_at        timestamptz,
    last_error          text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX connections_by_user ON connections (user_id, created_at);

CREATE TABLE products (
    id                  uuid PRIMARY KEY,
    user_id             uuid NOT NULL,
    connection_id       uuid REFERENCES connections (id) ON DELETE CASCADE,
    sku                 text NOT NULL CHECK (length(sku) BETWEEN 1 AND 100),
    title               text NOT NULL CHECK (length(title) BETWEEN 1 AND 500),
    description         text NOT NULL DEFAULT '',
    price_cents         bigint NOT NULL CHECK (price_cents >= 0),
    currency            text NOT NULL DEFAULT 'EUR' CHECK (currency ~ '^[A-Z]{3}$'),
    stock               integer NOT NULL DEFAULT 0 CHECK (stock >= 0),
    images              text[] NOT NULL DEFAULT '{}',
    external_id         text,
    synced_at           timestamptz,
    has_local_changes   boolean NOT NULL DEFAULT false,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
-- A SKU is unique per connection; cockpit-only products (no connection) per merchant.
CREATE UNIQUE INDEX products_sku_per_connection ON products (user_id, connection_id, sku) NULLS NOT DISTINCT;
-- Keyset pagination: one index per sort order, all led by the owner.
CREATE INDEX products_by_id ON products (user_id, id);
CREATE INDEX products_by_updated ON products (user_id, updated_at, id);
CREATE INDEX products_by_title ON products (user_id, title, id);
CREATE INDEX products_by_price ON products (user_id, price_cents, id);
CREATE INDEX products_by_stock ON products (user_id, stock, id);
CREATE INDEX products_search ON products USING gin (title gin_trgm_ops, sku gin_trgm_ops);

CREATE TABLE orders (
    id              uuid PRIMARY KEY,
    user_id         uuid NOT NULL,
    connection_id   uuid REFERENCES connections (id) ON DELETE CASCADE,
    channel         text NOT NULL CHECK (channel IN ('shopify', 'amazon', 'kaufland', 'manual')),
    external_id     text,
    order_number    text NOT NULL,
    status          text NOT NULL CHECK (status IN ('pending', 'paid', 'shipped', 'delivered', 'cancelled', 'refunded')),
    currency        text NOT NULL DEFAULT 'EUR' CHECK (currency ~ '^[A-Z]{3}$'),
    total_cents     bigint NOT NULL CHECK (total_cents >= 0),
    customer_name   text NOT NULL DEFAULT '',
    customer_email  text NOT NULL DEFAULT '',
    placed_at       timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (connection_id, external_id)
);
CREATE INDEX orders_by_placed ON orders (user_id, placed_at DESC, id DESC);

CREATE TABLE order_items (
    id                  uuid PRIMARY KEY,
    order_id            uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    product_id          uuid REFERENCES products (id) ON DELETE SET NULL,
    sku                 text NOT NULL,
    title               text NOT NULL,
    quantity            integer NOT NULL CHECK (quantity > 0),
    unit_price_cents    bigint NOT NULL CHECK (unit_price_cents >= 0),
    total_cents         bigint NOT NULL CHECK (total_cents >= 0)
);
CREATE INDEX order_items_by_order ON order_items (order_id);

CREATE TABLE sync_logs (
    id              uuid PRIMARY KEY,
    user_id         uuid NOT NULL,
    connection_id   uuid NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    kind            text NOT NULL,
    status          text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    items_synced    integer NOT NULL DEFAULT 0,
    errors          jsonb NOT NULL DEFAULT '[]',
    started_at      timestamptz NOT NULL DEFAULT now(),
    completed_at    timestamptz
);
CREATE INDEX sync_logs_by_connection ON sync_logs (connection_id, started_at DESC);
