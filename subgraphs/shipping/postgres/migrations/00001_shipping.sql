-- +goose Up

-- shipping_methods are the ways to ship an order; shipping_rates their
-- price in each currency shipping is priced in. A method is retired by
-- marking it inactive, never deleted: shipments name it.
CREATE TABLE shipping_methods (
    code           text    PRIMARY KEY CHECK (code ~ '^[A-Z][A-Z0-9_]{0,31}$'),
    name           text    NOT NULL CHECK (name <> ''),
    description    text    NOT NULL,
    estimated_days integer NOT NULL CHECK (estimated_days > 0),
    position       integer NOT NULL,
    active         boolean NOT NULL DEFAULT true
);

CREATE TABLE shipping_rates (
    method_code text   NOT NULL REFERENCES shipping_methods (code),
    currency    text   NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    -- In the currency's minor units.
    amount      bigint NOT NULL CHECK (amount >= 0),
    PRIMARY KEY (method_code, currency)
);

INSERT INTO shipping_methods (code, name, description, estimated_days, position) VALUES
    ('STANDARD',  'Standard',  'Ground shipping, tracked.',                          5, 1),
    ('EXPRESS',   'Express',   'Priority shipping, tracked.',                        2, 2),
    ('OVERNIGHT', 'Overnight', 'Next business day for orders placed before 2 pm.',   1, 3);

INSERT INTO shipping_rates (method_code, currency, amount) VALUES
    ('STANDARD',  'USD',  599), ('STANDARD',  'EUR',  549), ('STANDARD',  'GBP',  499),
    ('EXPRESS',   'USD', 1499), ('EXPRESS',   'EUR', 1299), ('EXPRESS',   'GBP', 1199),
    ('OVERNIGHT', 'USD', 2999), ('OVERNIGHT', 'EUR', 2699), ('OVERNIGHT', 'GBP', 2499);

-- shipments: at most one per order (the saga's idempotency key).
CREATE TABLE shipments (
    id              uuid        PRIMARY KEY,
    order_id        text        NOT NULL CHECK (order_id <> ''),
    customer_id     text        NOT NULL CHECK (customer_id <> ''),
    method          text        NOT NULL REFERENCES shipping_methods (code),
    carrier         text        NOT NULL DEFAULT '',
    tracking_number text        NOT NULL DEFAULT '',
    status          text        NOT NULL
        CHECK (status IN ('PENDING', 'LABEL_CREATED', 'IN_TRANSIT', 'OUT_FOR_DELIVERY', 'DELIVERED', 'CANCELLED')),
    -- {"recipient", "line1", "line2", "city", "region", "postalCode", "country", "phone"}
    address         jsonb       NOT NULL,
    -- [{"sku", "quantity"}]
    lines           jsonb       NOT NULL DEFAULT '[]',
    cancel_reason   text        NOT NULL DEFAULT '',
    -- When the carrier was last asked for the label of a PENDING shipment
    -- and failed; the schedule asks again a while later.
    label_attempted_at timestamptz,
    -- When the label of a cancelled shipment was voided with the carrier.
    label_voided_at timestamptz,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    CONSTRAINT shipments_order_id_key UNIQUE (order_id)
);

CREATE INDEX shipments_customer_id ON shipments (customer_id);

-- The schedule's queue: labelled shipments on their way, by last change.
CREATE INDEX shipments_moving_updated_at ON shipments (updated_at)
    WHERE status IN ('LABEL_CREATED', 'IN_TRANSIT', 'OUT_FOR_DELIVERY');

-- Shipments still waiting for their label.
CREATE INDEX shipments_pending_updated_at ON shipments (updated_at) WHERE status = 'PENDING';

-- Labels of cancelled shipments still to void.
CREATE INDEX shipments_labels_to_void ON shipments (updated_at)
    WHERE status = 'CANCELLED' AND tracking_number <> '' AND label_voided_at IS NULL;

-- tracking_events: every step of a shipment, written in the transaction
-- that makes it.
CREATE TABLE tracking_events (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shipment_id uuid        NOT NULL REFERENCES shipments (id) ON DELETE CASCADE,
    status      text        NOT NULL,
    description text        NOT NULL,
    location    text        NOT NULL DEFAULT '',
    at          timestamptz NOT NULL
);

CREATE INDEX tracking_events_shipment_id ON tracking_events (shipment_id, id);

-- cancelled_orders: orders cancelled (CancelShipment) before they had a
-- shipment, so that a CreateShipment arriving later creates none.
CREATE TABLE cancelled_orders (
    order_id     text        PRIMARY KEY CHECK (order_id <> ''),
    customer_id  text        NOT NULL DEFAULT '',
    reason       text        NOT NULL,
    cancelled_at timestamptz NOT NULL
);

-- +goose Down
DROP TABLE cancelled_orders;
DROP TABLE tracking_events;
DROP TABLE shipments;
DROP TABLE shipping_rates;
DROP TABLE shipping_methods;
