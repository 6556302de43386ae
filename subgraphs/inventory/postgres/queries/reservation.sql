-- name: InsertReservation :one
-- No row if the order already has a reservation.
INSERT INTO reservations (order_id, status, reason, shortages, expires_at, created_at, updated_at)
VALUES (@order_id, @status, @reason, @shortages, @expires_at, @now, @now)
ON CONFLICT (order_id) DO NOTHING
RETURNING *;

-- name: InsertReservationLines :exec
INSERT INTO reservation_lines (reservation_id, sku, quantity)
SELECT @reservation_id::uuid, l.sku, l.quantity
FROM (SELECT unnest(@skus::text[]) AS sku, unnest(@quantities::integer[]) AS quantity) AS l;

-- name: GetReservationByOrder :one
SELECT * FROM reservations WHERE order_id = @order_id;

-- name: LockReservationByOrder :one
SELECT * FROM reservations WHERE order_id = @order_id FOR UPDATE;

-- name: GetReservations :many
SELECT * FROM reservations WHERE id = ANY(@ids::uuid[]);

-- name: GetReservationLines :many
SELECT * FROM reservation_lines WHERE reservation_id = ANY(@ids::uuid[]) ORDER BY reservation_id, sku;

-- name: SetReservationStatus :exec
UPDATE reservations SET status = @status, reason = @reason, updated_at = @now WHERE id = @id;

-- name: LockDueReservations :many
-- The ACTIVE reservations due at @now, the oldest first, skipping those
-- another transaction holds (another replica's sweeper, a commit).
SELECT * FROM reservations
WHERE status = 'ACTIVE' AND expires_at <= @now
ORDER BY expires_at
LIMIT @lim
FOR UPDATE SKIP LOCKED;
