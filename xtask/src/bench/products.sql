-- The catalogue for the products scenario: $2 products, every tenth owned by the bench
-- user ($1), the rest spread over $3 other merchants. Ids are UUIDv7-like (a millisecond
-- timestamp rising with n, then random bits) like the service's own, so "newest first"
-- walks the same index the same way.
WITH others AS (SELECT array_agg(gen_random_uuid()) AS ids FROM generate_series(1, $3::int))
INSERT INTO products (id, user_id, sku, title, description, price_cents, stock, images,
                      created_at, updated_at)
SELECT
    (lpad(to_hex(ms), 12, '0') || '7' || substr(h, 1, 3) || '8' || substr(h, 4, 15))::uuid,
    CASE WHEN n % 10 = 0 THEN $1::uuid ELSE others.ids[1 + (n / 10 % $3)::int] END,
    'SKU-' || n,
    title,
    title || ', hand-finished in small batches and packed in recycled cardboard. Ships within '
        || 'two working days from our warehouse in Hamburg; returns are free for thirty days. '
        || 'Care instructions are on the label.',
    199 + n * 7919 % 20000,
    n * 31 % 250,
    CASE WHEN n % 2 = 0 THEN ARRAY[img || '1.jpg', img || '2.jpg'] ELSE ARRAY[img || '1.jpg'] END,
    to_timestamp(ms / 1000.0),
    to_timestamp(ms / 1000.0)
FROM others,
    generate_series(1, $2::bigint) AS n,
    LATERAL (SELECT
        (extract(epoch FROM now()) * 1000)::bigint - $2 + n AS ms,
        md5(random()::text) AS h,
        (ARRAY['Linen shirt', 'Ceramic mug', 'Leather wallet', 'Wool scarf', 'Oak board'])
            [1 + ((n + n / 10) % 5)::int] || ' no. ' || n AS title,
        'https://cdn.example.com/products/' || n || '/' AS img) AS product
