-- Tenancy in the schema: a product, order or sync log may only point at a connection of its
-- own merchant. Composite foreign keys (connection_id, user_id) replace the ones on the
-- connection id alone; rows without a connection (cockpit products, manual orders) are not
-- checked (MATCH SIMPLE).
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
