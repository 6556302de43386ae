-- name: GetItems :many
SELECT * FROM stock_items WHERE sku = ANY(@skus::text[]);

-- name: ListItems :many
-- A page of stock items after the SKU @after, optionally only those with
-- fewer than @below units available.
SELECT * FROM stock_items
WHERE sku > @after::text
  AND (sqlc.narg(below)::integer IS NULL OR on_hand - reserved < sqlc.narg(below)::integer)
ORDER BY sku
LIMIT @lim;

-- name: LockItems :many
-- Locks the stock rows of @skus in SKU order: every transaction that changes
-- several rows takes their locks in this order first, so that none deadlock.
SELECT * FROM stock_items WHERE sku = ANY(@skus::text[]) ORDER BY sku FOR UPDATE;

-- name: EnsureItem :exec
INSERT INTO stock_items (sku, created_at, updated_at) VALUES (@sku, @now, @now)
ON CONFLICT (sku) DO NOTHING;

-- name: AdjustOnHand :one
-- Guarded: no row if on hand would go below zero or below reserved.
UPDATE stock_items
SET on_hand = on_hand + @delta::integer, updated_at = @now
WHERE sku = @sku AND on_hand + @delta::integer >= 0 AND on_hand + @delta::integer >= reserved
RETURNING *;

-- name: ReserveItems :many
-- Guarded: a line whose SKU has fewer than its quantity available is not
-- updated (and returns no row).
UPDATE stock_items AS s
SET reserved = s.reserved + l.quantity, updated_at = @now
FROM (SELECT unnest(@skus::text[]) AS sku, unnest(@quantities::integer[]) AS quantity) AS l
WHERE s.sku = l.sku AND s.on_hand - s.reserved >= l.quantity
RETURNING s.*;

-- name: CommitItems :many
-- Takes reserved units out of on hand and reserved.
UPDATE stock_items AS s
SET on_hand = s.on_hand - l.quantity, reserved = s.reserved - l.quantity, updated_at = @now
FROM (SELECT unnest(@skus::text[]) AS sku, unnest(@quantities::integer[]) AS quantity) AS l
WHERE s.sku = l.sku AND s.reserved >= l.quantity
RETURNING s.*;

-- name: ReleaseItems :many
-- Makes reserved units available again.
UPDATE stock_items AS s
SET reserved = s.reserved - l.quantity, updated_at = @now
FROM (SELECT unnest(@skus::text[]) AS sku, unnest(@quantities::integer[]) AS quantity) AS l
WHERE s.sku = l.sku AND s.reserved >= l.quantity
RETURNING s.*;

-- name: RestockItems :many
-- Returns committed units to on hand.
UPDATE stock_items AS s
SET on_hand = s.on_hand + l.quantity, updated_at = @now
FROM (SELECT unnest(@skus::text[]) AS sku, unnest(@quantities::integer[]) AS quantity) AS l
WHERE s.sku = l.sku
RETURNING s.*;
