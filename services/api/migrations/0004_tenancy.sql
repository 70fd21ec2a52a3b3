-- Tenancy in the schema: a product, order or sync log may only point at a connection of its
-- own merchant. Composite foreign keys (connection_id, user_id) replace the ones on the
-- connection id alone; rows without a connection (cockpit products, manual orders) are not
-- checked (MATCH SIMPLE).
--
-- Rows that already point at another merchant's connection (only a bug could have written
-- them) are repaired first, or the constraints could not be added and the service would not
-- start. Nothing may write in between.
LOCK TABLE connections, products, orders, sync_logs IN SHARE ROW EXCLUSIVE MODE;

-- Products stay with their owner as cockpit-only products (no channel, no external id). A
-- SKU the owner already uses there, or another detached product of the owner uses, gets the
-- product's id appended, so that nothing is lost to the one-SKU-per-channel rule.
UPDATE products p
   SET connection_id = NULL,
       external_id = NULL,
       synced_at = NULL,
       has_local_changes = false,
       sku = CASE WHEN EXISTS (
                 SELECT 1 FROM products q LEFT JOIN connections qc ON qc.id = q.connection_id
                  WHERE q.user_id = p.user_id AND q.sku = p.sku AND q.id <> p.id
                    AND (q.connection_id IS NULL OR qc.user_id <> q.user_id))
                  THEN left(p.sku, 63) || '-' || p.id::text
                  ELSE p.sku END
  FROM connections c
 WHERE c.id = p.connection_id AND c.user_id <> p.user_id;

-- Orders are the owner's business records: kept, detached from the channel (as manual orders
-- are; the channel name and external id stay for reference).
UPDATE orders o
   SET connection_id = NULL
  FROM connections c
 WHERE c.id = o.connection_id AND c.user_id <> o.user_id;

-- A sync log is a diagnostic of one run: whose it is cannot be told, so it is deleted rather
-- than shown to either merchant.
DELETE FROM sync_logs s
 USING connections c
 WHERE c.id = s.connection_id AND c.user_id <> s.user_id;

ALTER TABLE connections ADD CONSTRAINT connections_id_owner UNIQUE (id, user_id);

ALTER TABLE products
    DROP CONSTRAINT products_connection_id_fkey,
    ADD CONSTRAINT products_connection_of_owner FOREIGN KEY (connection_id, user_id)
        REFERENCES connections (id, user_id) ON DELETE CASCADE;

ALTER TABLE orders
    DROP CONSTRAINT orders_connection_id_fkey,
    ADD CONSTRAINT orders_connection_of_owner FOREIGN KEY (connection_id, user_id)
        REFERENCES connections (id, user_id) ON DELETE CASCADE;

ALTER TABLE sync_logs
    DROP CONSTRAINT sync_logs_connection_id_fkey,
    ADD CONSTRAINT sync_logs_connection_of_owner FOREIGN KEY (connection_id, user_id)
        REFERENCES connections (id, user_id) ON DELETE CASCADE;
