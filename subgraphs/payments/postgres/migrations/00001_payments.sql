-- +goose Up

-- payment_events is the event store: each payment is a stream of events
-- numbered from 1. The primary key is the optimistic concurrency check: two
-- writers that both append version n to one stream cannot both commit.
CREATE TABLE payment_events (
    payment_id  uuid        NOT NULL,
    version     integer     NOT NULL CHECK (version > 0),
    type        text        NOT NULL,
    data        jsonb       NOT NULL,
    occurred_at timestamptz NOT NULL,
    PRIMARY KEY (payment_id, version)
);

-- payments is the projection of every stream: the state after its last
-- event, updated in the same transaction as the append. It serves queries.
CREATE TABLE payments (
    id              uuid        PRIMARY KEY,
    order_id        text        NOT NULL,
    customer_id     text        NOT NULL,
    idempotency_key text        NOT NULL,
    provider        text        NOT NULL,
    reference       text        NOT NULL DEFAULT '',
    currency        text        NOT NULL,
    amount          bigint      NOT NULL CHECK (amount > 0),
    captured_amount bigint      NOT NULL DEFAULT 0 CHECK (captured_amount >= 0),
    refunded_amount bigint      NOT NULL DEFAULT 0 CHECK (refunded_amount >= 0),
    status          text        NOT NULL,
    decline_code    text        NOT NULL DEFAULT '',
    decline_reason  text        NOT NULL DEFAULT '',
    failure_reason  text        NOT NULL DEFAULT '',
    version         integer     NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);

-- One payment per customer and idempotency key: a repeated AuthorizePayment
-- finds the payment it recorded the first time.
CREATE UNIQUE INDEX payments_idempotency_key ON payments (customer_id, idempotency_key);

-- Order.payment: the latest payment of each order.
CREATE INDEX payments_order ON payments (order_id, created_at DESC, id DESC);

-- refunds is the projection of the PaymentRefunded events.
CREATE TABLE refunds (
    id         uuid        PRIMARY KEY,
    payment_id uuid        NOT NULL REFERENCES payments (id),
    currency   text        NOT NULL,
    amount     bigint      NOT NULL CHECK (amount > 0),
    reason     text        NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE INDEX refunds_payment ON refunds (payment_id, created_at);

-- +goose Down
DROP TABLE refunds;
DROP TABLE payments;
DROP TABLE payment_events;
