-- The sync engine: jobs in Postgres, their per-item ledger, what each channel last had for
-- every product, one stock per SKU across a merchant's channels, orders with their lines.

-- The seed's sync_logs table was never written (there was no engine): the jobs below are
-- the logs (`GET /api/sync/logs` lists them in the seed's shape).
DROP TABLE sync_logs;

-- One row per sync job. A worker takes a job with FOR UPDATE SKIP LOCKED and holds it by a
-- lease (lease_owner, lease_until) that it renews while it works; a job whose lease ran out
-- (its worker died) is taken again and resumes from the committed `phase` and `cursor`.
CREATE TABLE sync_jobs (
    id              uuid PRIMARY KEY,
    user_id         uuid NOT NULL,
    connection_id   uuid NOT NULL,
    -- What to sync: products and/or orders in (each followed by pushing local changes
    -- out), or only the push.
    kind            text NOT NULL CHECK (kind IN ('products', 'orders', 'both', 'push')),
    -- full: the whole catalogue (products gone from the channel are marked removed) and
    -- every order of the import window; incremental: what changed since the last sync.
    mode            text NOT NULL CHECK (mode IN ('full', 'incremental')),
    -- Who asked: the merchant, the schedule, a channel webhook, or a stock change elsewhere.
    origin          text NOT NULL CHECK (origin IN ('merchant', 'schedule', 'webhook', 'stock')),
    state           text NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'running', 'succeeded', 'failed')),
    -- Where the job is: phases run in the order orders, products, push.
    phase           text NOT NULL CHECK (phase IN ('orders', 'products', 'push', 'done')),
    -- The channel's cursor after the last committed page of the current phase.
    cursor          text CHECK (length(cursor) <= 4096),
    -- The orders phase reads the orders changed since this instant (fixed when the job is
    -- made, so that a resumed job reads the same window).
    orders_since    timestamptz,
    -- The newest order change committed so far; becomes the connection's high-water mark.
    orders_seen_until timestamptz,
    items_done      integer NOT NULL DEFAULT 0 CHECK (items_done >= 0),
    -- Items handled in the current phase (reset with items_total when the phase changes):
    -- the progress of a job whose phases count different things.
    phase_done      integer NOT NULL DEFAULT 0 CHECK (phase_done >= 0),
    -- The current phase's item count, where the channel tells it (the catalogue size);
    -- else NULL.
    items_total     integer CHECK (items_total >= 0),
    items_failed    integer NOT NULL DEFAULT 0 CHECK (items_failed >= 0),
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts    integer NOT NULL CHECK (max_attempts >= 1),
    run_after       timestamptz NOT NULL DEFAULT now(),
    lease_owner     uuid,
    lease_until     timestamptz,
    -- Why the last attempt failed (stable code and message); kept after a retried success
    -- only in the ledger.
    error_code      text,
    error           text,
    -- Ledger entries written for the job (kept here so the budget check reads one row).
    ledger_written  integer NOT NULL DEFAULT 0 CHECK (ledger_written >= 0),
    -- Ledger entries not written because the job had written the most one job keeps.
    ledger_omitted  integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    completed_at    timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT sync_jobs_connection_of_owner FOREIGN KEY (connection_id, user_id)
        REFERENCES connections (id, user_id) ON DELETE CASCADE,
    CONSTRAINT sync_jobs_lease CHECK ((state = 'running') = (lease_owner IS NOT NULL))
);
-- At most one job waits or runs per connection: a second trigger finds the first.
CREATE UNIQUE INDEX sync_jobs_one_active ON sync_jobs (connection_id) WHERE state IN ('queued', 'running');
-- What workers look for: due jobs, and running jobs whose lease ran out.
CREATE INDEX sync_jobs_due ON sync_jobs (run_after) WHERE state = 'queued';
CREATE INDEX sync_jobs_leases ON sync_jobs (lease_until) WHERE state = 'running';
-- Finished jobs, oldest first: what the retention deletes.
CREATE INDEX sync_jobs_finished ON sync_jobs (completed_at) WHERE state IN ('succeeded', 'failed');
-- The merchant's logs, newest first (ids are UUIDv7), overall and per connection.
CREATE INDEX sync_jobs_by_user ON sync_jobs (user_id, id DESC);
CREATE INDEX sync_jobs_by_connection ON sync_jobs (user_id, connection_id, id DESC);

-- What a job did to each item: what changed (old and new values), what the channel
-- answered, whether it will be retried. Bounded per job (sync_jobs.ledger_omitted counts
-- the rest).
CREATE TABLE sync_ledger (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id          uuid NOT NULL REFERENCES sync_jobs (id) ON DELETE CASCADE,
    user_id         uuid NOT NULL,
    entity          text NOT NULL CHECK (entity IN ('product', 'order')),
    -- created, updated, removed, conflict, skipped, pushed, rejected, imported,
    -- status_changed, stock_lowered, stock_returned
    action          text NOT NULL,
    product_id      uuid,
    order_id        uuid,
    sku             text,
    external_id     text,
    -- {"price_cents": {"old": 1999, "new": 2499}, ...}
    changes         jsonb NOT NULL DEFAULT '{}',
    channel_code    text,
    channel_message text,
    will_retry      boolean NOT NULL DEFAULT false,
    at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sync_ledger_by_job ON sync_ledger (job_id, id);

ALTER TABLE connections
    -- List this many fewer units on the channel than are on hand (never below 0).
    ADD COLUMN stock_buffer integer NOT NULL DEFAULT 0 CHECK (stock_buffer BETWEEN 0 AND 1000000),
    -- Orders changed up to here are imported: the next incremental orders sync starts here.
    ADD COLUMN orders_synced_until timestamptz,
    -- When the first completed orders import started: orders placed before it are history
    -- (the channel's stock already reflects them) and never lower the stock, even when an
    -- incremental import sees one for the first time (shipped or refunded long after).
    ADD COLUMN orders_stock_from timestamptz,
    -- When the last products pass ended; the next incremental one reads changes since.
    ADD COLUMN products_synced_at timestamptz,
    DROP CONSTRAINT connections_status_check,
    ADD CONSTRAINT connections_status_check
        CHECK (status IN ('pending', 'active', 'error', 'paused', 'disconnected'));

-- What the channel had for each product at the last sync (pulled or pushed): the "old"
-- side of a pending change, and how a pull tells that the channel changed.
ALTER TABLE products
    ADD COLUMN channel_price_cents bigint,
    ADD COLUMN channel_stock integer,
    -- SHA-256 of title, description and images as the channel last had them.
    ADD COLUMN channel_content_sha bytea,
    ADD COLUMN channel_state text CHECK (channel_state IN ('active', 'inactive', 'removed')),
    -- The channel's product and stock-record ids (Shopify), where they differ.
    ADD COLUMN parent_external_id text,
    ADD COLUMN inventory_external_id text,
    -- When a pull last saw the product at its channel.
    ADD COLUMN pulled_at timestamptz,
    -- Why the channel refused the last push of the product (it stays pending).
    ADD COLUMN push_error_code text,
    ADD COLUMN push_error text;
-- Pulls upsert by the channel's id of the sellable unit.
CREATE UNIQUE INDEX products_by_external ON products (connection_id, external_id);
-- One stock per SKU: every product of a merchant with the SKU.
CREATE INDEX products_by_sku ON products (user_id, sku);
-- What the next push sends.
CREATE INDEX products_pending ON products (connection_id) WHERE has_local_changes;
-- Order lines may only point at their merchant's products.
ALTER TABLE products ADD CONSTRAINT products_id_owner UNIQUE (id, user_id);

-- One stock per SKU: a statement that sets the stock of some products sets it on every
-- product of the merchant with the same SKU, and marks the channel ones for the push. Held
-- here so every write (single edit, bulk edit, CSV import, order import) keeps it.
-- A product that only joins a SKU by a SKU change (its stock untouched) takes the stock
-- the SKU's other products have: a renamed channel variant does not impose its old
-- stock on them. An insert states its stock (the products pull adopts the merchant's
-- under a lock before it inserts). Writers lock the rows of the SKUs they touch first.
CREATE FUNCTION products_one_stock() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The trigger's own update does not cascade again.
    IF pg_trigger_depth() > 1 THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        -- A real stock change sets the SKU.
        UPDATE products p
           SET stock = n.stock,
               has_local_changes = p.has_local_changes OR p.connection_id IS NOT NULL,
               push_error_code = NULL, push_error = NULL,
               updated_at = now()
          FROM (SELECT DISTINCT ON (c.user_id, c.sku) c.user_id, c.sku, c.stock
                  FROM changed_rows c JOIN previous_rows o ON o.id = c.id
                 WHERE o.stock <> c.stock
                 ORDER BY c.user_id, c.sku, c.updated_at DESC, c.id DESC) n
         WHERE p.user_id = n.user_id AND p.sku = n.sku AND p.stock <> n.stock;
        -- A SKU joined by a SKU change keeps the stock of the products it had; only joiners
        -- (no other product has the SKU) agree on the latest joiner's.
        WITH joined AS (
            SELECT c.id, c.user_id, c.sku
              FROM changed_rows c JOIN previous_rows o ON o.id = c.id
             WHERE o.sku <> c.sku AND o.stock = c.stock
        )
        UPDATE products p
           SET stock = n.stock,
               has_local_changes = p.has_local_changes OR p.connection_id IS NOT NULL,
               push_error_code = NULL, push_error = NULL,
               updated_at = now()
          FROM (SELECT DISTINCT ON (g.user_id, g.sku) g.user_id, g.sku, g.stock
                  FROM products g
                 WHERE (g.user_id, g.sku) IN (SELECT user_id, sku FROM joined)
                 ORDER BY g.user_id, g.sku, g.id IN (SELECT id FROM joined),
                          g.updated_at DESC, g.id DESC) n
         WHERE p.user_id = n.user_id AND p.sku = n.sku AND p.stock <> n.stock;
    ELSE
        UPDATE products p
           SET stock = n.stock,
               has_local_changes = p.has_local_changes OR p.connection_id IS NOT NULL,
               push_error_code = NULL, push_error = NULL,
               updated_at = now()
          FROM (SELECT DISTINCT ON (c.user_id, c.sku) c.user_id, c.sku, c.stock
                  FROM changed_rows c
                 ORDER BY c.user_id, c.sku, c.updated_at DESC, c.id DESC) n
         WHERE p.user_id = n.user_id AND p.sku = n.sku AND p.stock <> n.stock;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER products_one_stock_on_update AFTER UPDATE ON products
    REFERENCING OLD TABLE AS previous_rows NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION products_one_stock();
CREATE TRIGGER products_one_stock_on_insert AFTER INSERT ON products
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION products_one_stock();

-- Orders: the channel's last change time (what incremental imports page by), and the
-- lines tied to their merchant.
ALTER TABLE orders
    ADD COLUMN channel_updated_at timestamptz,
    -- An import lowered the stock by this order's lines: a cancellation or refund gives
    -- them back (once).
    ADD COLUMN stock_taken boolean NOT NULL DEFAULT false,
    ADD CONSTRAINT orders_id_owner UNIQUE (id, user_id);

ALTER TABLE order_items ADD COLUMN user_id uuid, ADD COLUMN external_id text;
UPDATE order_items i SET user_id = o.user_id FROM orders o WHERE o.id = i.order_id;
-- A line pointing at another merchant's product (only a bug could have written it) loses
-- the link, keeps its SKU and title.
UPDATE order_items i SET product_id = NULL
  FROM products p WHERE p.id = i.product_id AND p.user_id <> i.user_id;
ALTER TABLE order_items
    ALTER COLUMN user_id SET NOT NULL,
    DROP CONSTRAINT order_items_order_id_fkey,
    ADD CONSTRAINT order_items_order_of_owner FOREIGN KEY (order_id, user_id)
        REFERENCES orders (id, user_id) ON DELETE CASCADE,
    DROP CONSTRAINT order_items_product_id_fkey,
    ADD CONSTRAINT order_items_product_of_owner FOREIGN KEY (product_id, user_id)
        REFERENCES products (id, user_id) ON DELETE SET NULL (product_id);
CREATE INDEX order_items_by_product ON order_items (product_id) WHERE product_id IS NOT NULL;
-- Lines whose product was not imported yet, found again by SKU when it is.
CREATE INDEX order_items_unlinked ON order_items (user_id, sku) WHERE product_id IS NULL;
