-- name: NextOrderNumber :one
SELECT nextval('order_numbers')::bigint;

-- name: InsertEvent :exec
INSERT INTO order_events (order_id, version, type, data, occurred_at)
VALUES ($1, $2, $3, $4, $5);

-- name: StreamEvents :many
SELECT * FROM order_events WHERE order_id = $1 ORDER BY version;

-- name: EventsOfOrders :many
SELECT * FROM order_events
WHERE order_id = ANY(@ids::uuid[])
ORDER BY order_id, version;

-- name: InsertOrder :exec
INSERT INTO orders (
    id, number, customer_id, email, idempotency_key, status, status_reason,
    currency, subtotal, shipping_cost, total, shipping_address,
    shipping_method, shipping_method_name, version, created_at, updated_at,
    saga_step, saga_deadline, saga_attempts, payment_token
) VALUES (
    $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
    $18, $19, $20, $21
);

-- name: InsertLine :exec
INSERT INTO order_lines (order_id, position, sku, product_id, product_name, variant_name, quantity, currency, unit_price)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9);

-- name: UpdateOrder :execrows
UPDATE orders SET
    status = @status,
    status_reason = @status_reason,
    version = @version,
    updated_at = @updated_at,
    saga_step = @saga_step,
    saga_deadline = @saga_deadline,
    saga_attempts = @saga_attempts,
    payment_token = @payment_token
WHERE id = @id AND version = @expected_version;

-- name: LockOrder :one
SELECT saga_step, saga_deadline, saga_attempts, payment_token
FROM orders WHERE id = $1
FOR UPDATE;

-- name: LockDueOrder :one
-- unsent: a command of the order's is still in the outbox (the relay or
-- Redis is down), so its step could not run yet.
SELECT id, saga_step, saga_deadline, saga_attempts, payment_token,
       EXISTS (SELECT 1 FROM events_outbox ob
               WHERE ob.key = orders.id::text AND ob.stream = ANY(@command_streams::text[]))::boolean AS unsent
FROM orders
WHERE saga_deadline <= @now
ORDER BY saga_deadline
LIMIT 1
FOR UPDATE SKIP LOCKED;

-- name: SagaOfOrder :one
SELECT saga_step, saga_deadline, saga_attempts, payment_token
FROM orders WHERE id = $1;

-- name: OrderIDByIdempotencyKey :one
SELECT id FROM orders WHERE customer_id = $1 AND idempotency_key = $2;

-- name: OrdersByIDs :many
SELECT * FROM orders WHERE id = ANY(@ids::uuid[]);

-- name: LinesOfOrders :many
SELECT * FROM order_lines
WHERE order_id = ANY(@ids::uuid[])
ORDER BY order_id, position;

-- The lists are keyset pages, newest first: rows before the cursor
-- (after_created_at, after_id); the first page passes a cursor after every
-- row.

-- name: ListOrders :many
SELECT * FROM orders
WHERE (created_at, id) < (@after_created_at, @after_id::uuid)
ORDER BY created_at DESC, id DESC
LIMIT @lim;

-- name: ListOrdersByStatus :many
SELECT * FROM orders
WHERE status = @status AND (created_at, id) < (@after_created_at, @after_id::uuid)
ORDER BY created_at DESC, id DESC
LIMIT @lim;

-- name: ListCustomerOrders :many
SELECT * FROM orders
WHERE customer_id = @customer_id AND (created_at, id) < (@after_created_at, @after_id::uuid)
ORDER BY created_at DESC, id DESC
LIMIT @lim;

-- name: ListCustomerOrdersByStatus :many
SELECT * FROM orders
WHERE customer_id = @customer_id AND status = @status
  AND (created_at, id) < (@after_created_at, @after_id::uuid)
ORDER BY created_at DESC, id DESC
LIMIT @lim;

-- name: ChangedCustomerOrders :many
SELECT * FROM orders
WHERE customer_id = ANY(@customer_ids::text[]) AND updated_at >= @since;
