-- name: InsertEvent :exec
INSERT INTO payment_events (payment_id, version, type, data, occurred_at)
VALUES ($1, $2, $3, $4, $5);

-- name: StreamEvents :many
SELECT payment_id, version, type, data, occurred_at
FROM payment_events
WHERE payment_id = $1
ORDER BY version;

-- name: EventsOfPayments :many
SELECT payment_id, version, type, data, occurred_at
FROM payment_events
WHERE payment_id = ANY(@ids::uuid[])
ORDER BY payment_id, version;

-- name: InsertPayment :exec
INSERT INTO payments (
    id, order_id, customer_id, idempotency_key, provider, reference, currency,
    amount, captured_amount, refunded_amount, status, decline_code,
    decline_reason, failure_reason, version, created_at, updated_at, client_secret
) VALUES (
    $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18
);

-- name: UpdatePayment :execrows
UPDATE payments SET
    reference = @reference,
    captured_amount = @captured_amount,
    refunded_amount = @refunded_amount,
    status = @status,
    decline_code = @decline_code,
    decline_reason = @decline_reason,
    failure_reason = @failure_reason,
    client_secret = @client_secret,
    version = @version,
    updated_at = @updated_at
WHERE id = @id AND version = @expected_version;

-- name: PaymentIDByIdempotencyKey :one
SELECT id FROM payments WHERE customer_id = $1 AND idempotency_key = $2;

-- name: LatestPaymentIDForOrder :one
SELECT id FROM payments WHERE order_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1;

-- name: PaymentsByIDs :many
SELECT * FROM payments WHERE id = ANY(@ids::uuid[]);

-- name: LatestPaymentsForOrders :many
SELECT DISTINCT ON (order_id) *
FROM payments
WHERE order_id = ANY(@order_ids::text[])
ORDER BY order_id, created_at DESC, id DESC;

-- name: InsertRefund :exec
INSERT INTO refunds (id, payment_id, currency, amount, reason, created_at)
VALUES ($1, $2, $3, $4, $5, $6);

-- name: RefundsOfPayments :many
SELECT * FROM refunds
WHERE payment_id = ANY(@payment_ids::uuid[])
ORDER BY payment_id, created_at, id;

-- name: RefundsByIDs :many
SELECT * FROM refunds WHERE id = ANY(@ids::uuid[]);

-- name: PaymentIDByReference :one
SELECT id FROM payments WHERE reference = $1 AND reference <> '' ORDER BY created_at DESC LIMIT 1;

-- name: ProviderEventSeen :one
SELECT EXISTS (SELECT 1 FROM provider_events WHERE id = $1);

-- name: MarkProviderEvent :exec
INSERT INTO provider_events (id) VALUES ($1) ON CONFLICT (id) DO NOTHING;
