-- name: LockOrder :exec
-- Serializes Open and CancelOrder for one order until the transaction ends,
-- so that an order gets a shipment or a cancellation, never both.
SELECT pg_advisory_xact_lock(@lock_class::integer, hashtext(@order_id::text));

-- name: GetCancelledOrder :one
SELECT * FROM cancelled_orders WHERE order_id = @order_id;

-- name: InsertCancelledOrder :exec
INSERT INTO cancelled_orders (order_id, customer_id, reason, cancelled_at)
VALUES (@order_id, @customer_id, @reason, @cancelled_at)
ON CONFLICT (order_id) DO NOTHING;

-- name: InsertShipment :execrows
-- No row if the order already has a shipment.
INSERT INTO shipments (
    id, order_id, customer_id, method, carrier, tracking_number, status,
    address, lines, cancel_reason, created_at, updated_at
) VALUES (
    @id, @order_id, @customer_id, @method, @carrier, @tracking_number, @status,
    @address, @lines, @cancel_reason, @created_at, @updated_at
)
ON CONFLICT (order_id) DO NOTHING;

-- name: GetShipmentByOrder :one
SELECT * FROM shipments WHERE order_id = @order_id;

-- name: LockShipmentByOrder :one
SELECT * FROM shipments WHERE order_id = @order_id FOR UPDATE;

-- name: LockShipment :one
SELECT * FROM shipments WHERE id = @id FOR UPDATE;

-- name: GetShipments :many
SELECT * FROM shipments WHERE id = ANY(@ids::uuid[]);

-- name: GetShipmentsByOrders :many
SELECT * FROM shipments WHERE order_id = ANY(@order_ids::text[]);

-- name: UpdateShipment :exec
UPDATE shipments SET
    carrier = @carrier,
    tracking_number = @tracking_number,
    status = @status,
    cancel_reason = @cancel_reason,
    updated_at = @updated_at
WHERE id = @id;

-- name: LockDueShipment :one
-- The labelled shipment on its way that changed longest ago, at or before
-- @due, skipping those another transaction holds (another replica's
-- schedule, an admin's change).
SELECT * FROM shipments
WHERE status IN ('LABEL_CREATED', 'IN_TRANSIT', 'OUT_FOR_DELIVERY') AND updated_at <= @due
ORDER BY updated_at
LIMIT 1
FOR UPDATE SKIP LOCKED;

-- name: PendingLabels :many
-- PENDING shipments whose label was last asked for (or which were recorded)
-- at or before @before, the oldest first.
SELECT * FROM shipments
WHERE status = 'PENDING' AND coalesce(label_attempted_at, updated_at) <= @before::timestamptz
ORDER BY updated_at
LIMIT @lim;

-- name: SetLabelAttempted :exec
UPDATE shipments SET label_attempted_at = @attempted_at WHERE id = @id AND status = 'PENDING';

-- name: LabelsToVoid :many
SELECT * FROM shipments
WHERE status = 'CANCELLED' AND tracking_number <> '' AND label_voided_at IS NULL
ORDER BY updated_at
LIMIT @lim;

-- name: SetLabelVoided :exec
UPDATE shipments SET label_voided_at = @voided_at WHERE id = @id AND label_voided_at IS NULL;

-- name: GetTrackingEvents :many
SELECT * FROM tracking_events WHERE shipment_id = ANY(@shipment_ids::uuid[]) ORDER BY shipment_id, id;

-- name: InsertTrackingEvent :exec
INSERT INTO tracking_events (shipment_id, status, description, location, at)
VALUES (@shipment_id, @status, @description, @location, @at);
