-- +goose Up

-- stock_items holds the stock of every SKU that was ever stocked. The CHECK
-- constraints are the last line of defence of the rules every transaction
-- also guards: on hand never below zero, reserved never below zero nor above
-- on hand (so a unit is never sold twice).
CREATE TABLE stock_items (
    sku        text        PRIMARY KEY CHECK (sku <> ''),
    on_hand    integer     NOT NULL DEFAULT 0
        CONSTRAINT stock_items_on_hand_not_negative CHECK (on_hand >= 0),
    reserved   integer     NOT NULL DEFAULT 0
        CONSTRAINT stock_items_reserved_within_on_hand CHECK (reserved >= 0 AND reserved <= on_hand),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

-- reservations: at most one per order (the saga's idempotency key).
CREATE TABLE reservations (
    id         uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    order_id   text        NOT NULL CHECK (order_id <> ''),
    status     text        NOT NULL
        CHECK (status IN ('ACTIVE', 'COMMITTED', 'RELEASED', 'EXPIRED', 'REJECTED')),
    reason     text        NOT NULL DEFAULT '',
    -- For REJECTED: [{"sku": …, "requested": …, "available": …}].
    shortages  jsonb       NOT NULL DEFAULT '[]',
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    CONSTRAINT reservations_order_id_key UNIQUE (order_id)
);

-- The expiry sweeper's queue.
CREATE INDEX reservations_active_expires_at ON reservations (expires_at) WHERE status = 'ACTIVE';

CREATE TABLE reservation_lines (
    reservation_id uuid    NOT NULL REFERENCES reservations (id) ON DELETE CASCADE,
    sku            text    NOT NULL,
    quantity       integer NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (reservation_id, sku)
);

-- stock_ledger records every change to a SKU's stock, in the transaction
-- that makes it.
CREATE TABLE stock_ledger (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sku            text        NOT NULL REFERENCES stock_items (sku),
    kind           text        NOT NULL
        CHECK (kind IN ('ADJUSTMENT', 'RESERVATION', 'COMMIT', 'RELEASE', 'EXPIRY', 'RESTOCK')),
    delta          integer     NOT NULL,
    on_hand_after  integer     NOT NULL,
    reserved_after integer     NOT NULL,
    reason         text        NOT NULL,
    order_id       text        NOT NULL DEFAULT '',
    actor          text        NOT NULL,
    at             timestamptz NOT NULL
);

CREATE INDEX stock_ledger_sku_id ON stock_ledger (sku, id DESC);

-- +goose Down
DROP TABLE stock_ledger;
DROP TABLE reservation_lines;
DROP TABLE reservations;
DROP TABLE stock_items;
