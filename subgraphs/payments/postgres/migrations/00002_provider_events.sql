-- +goose Up

-- The client secret of a payment that waits for the customer (3-D Secure).
ALTER TABLE payments ADD COLUMN client_secret text NOT NULL DEFAULT '';

-- The provider's webhook events reference payments by the provider's ID.
CREATE INDEX payments_reference ON payments (reference) WHERE reference <> '';

-- provider_events are the webhook events applied: one event, applied once.
CREATE TABLE provider_events (
    id          text        PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE provider_events;
DROP INDEX payments_reference;
ALTER TABLE payments DROP COLUMN client_secret;
