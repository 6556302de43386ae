-- name: InsertLedger :exec
-- One entry per SKU in @skus, with the matching delta and levels after.
INSERT INTO stock_ledger (sku, kind, delta, on_hand_after, reserved_after, reason, order_id, actor, at)
SELECT l.sku, @kind::text, l.delta, l.on_hand_after, l.reserved_after, @reason::text, @order_id::text, @actor::text, @at::timestamptz
FROM (SELECT unnest(@skus::text[]) AS sku, unnest(@deltas::integer[]) AS delta,
        unnest(@on_hand_after::integer[]) AS on_hand_after, unnest(@reserved_after::integer[]) AS reserved_after) AS l;

-- name: LedgerPages :many
-- Up to @lim entries of each SKU's ledger older than entry @after (0: from
-- the newest), the newest first.
SELECT e.id, e.sku, e.kind, e.delta, e.on_hand_after, e.reserved_after, e.reason, e.order_id, e.actor, e.at
FROM unnest(@skus::text[]) AS s (sku)
CROSS JOIN LATERAL (
    SELECT * FROM stock_ledger
    WHERE stock_ledger.sku = s.sku AND (@after::bigint = 0 OR stock_ledger.id < @after::bigint)
    ORDER BY stock_ledger.id DESC
    LIMIT @lim::integer
) AS e
ORDER BY e.sku, e.id DESC;
