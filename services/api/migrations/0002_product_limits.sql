-- The upper bounds the API checks on input also hold for values computed in the database
-- (bulk price and stock changes).
ALTER TABLE products
    ADD CONSTRAINT products_price_max CHECK (price_cents <= 10000000000),
    ADD CONSTRAINT products_stock_max CHECK (stock <= 1000000000);
