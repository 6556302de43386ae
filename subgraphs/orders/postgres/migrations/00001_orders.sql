-- +goose Up

-- order_numbers gives each order its number for people (SG-000123).
CREATE SEQUENCE order_numbers;

-- order_events is the event store: each order is a stream of events numbered
-- from 1. The primary key is the optimistic concurrency check: two writers
-- that both append version n to one stream cannot both commit.
CREATE TABLE order_events (
    order_id    uuid        NOT NULL,
    version     integer     NOT NULL CHECK (version > 0),
    type        text        NOT NULL,
    data        jsonb       NOT NULL,
    occurred_at timestamptz NOT NULL,
    PRIMARY KEY (order_id, version)
);

-- orders is the projection of every stream (the state after its last event,
-- updated in the same transaction as the append), which serves queries, and
-- the state of the order's checkout saga.
CREATE TABLE orders (
    id                   uuid        PRIMARY KEY,
    number               bigint      NOT NULL UNIQUE,
    customer_id          text        NOT NULL,
    email                text        NOT NULL DEFAULT '',
    idempotency_key      text        NOT NULL,
    status               text        NOT NULL,
    status_reason        text        NOT NULL DEFAULT '',
    currency             text        NOT NULL,
    subtotal             bigint      NOT NULL CHECK (subtotal >= 0),
    shipping_cost        bigint      NOT NULL CHECK (shipping_cost >= 0),
    total                bigint      NOT NULL CHECK (total >= 0),
    shipping_address     jsonb       NOT NULL,
    shipping_method      text        NOT NULL,
    shipping_method_name text        NOT NULL,
    version              integer     NOT NULL,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    -- The saga: what it waits for, until when, how often it asked again,
    -- and the card token until AuthorizePayment is sent.
    saga_step            text        NOT NULL DEFAULT '',
    saga_deadline        timestamptz,
    saga_attempts        integer     NOT NULL DEFAULT 0,
    payment_token        text        NOT NULL DEFAULT '',
    CHECK ((saga_step = '') = (saga_deadline IS NULL))
);

-- One order per customer and idempotency key: a retried placeOrder finds the
-- order it placed the first time, also when the retries race.
CREATE UNIQUE INDEX orders_idempotency_key ON orders (customer_id, idempotency_key);

-- myOrders, orders and orders(filter: {status}): newest first, keyset pages.
CREATE INDEX orders_customer ON orders (customer_id, created_at DESC, id DESC);
CREATE INDEX orders_created ON orders (created_at DESC, id DESC);
CREATE INDEX orders_status ON orders (status, created_at DESC, id DESC);

-- The deadline sweeper.
CREATE INDEX orders_saga_deadline ON orders (saga_deadline) WHERE saga_deadline IS NOT NULL;

-- order_lines is the projection of the lines of OrderPlaced.
CREATE TABLE order_lines (
    order_id     uuid    NOT NULL REFERENCES orders (id),
    position     integer NOT NULL,
    sku          text    NOT NULL,
    product_id   text    NOT NULL DEFAULT '',
    product_name text    NOT NULL,
    variant_name text    NOT NULL,
    quantity     integer NOT NULL CHECK (quantity > 0),
    currency     text    NOT NULL,
    unit_price   bigint  NOT NULL CHECK (unit_price >= 0),
    PRIMARY KEY (order_id, position)
);

-- +goose Down
DROP TABLE order_lines;
DROP TABLE orders;
DROP TABLE order_events;
DROP SEQUENCE order_numbers;
