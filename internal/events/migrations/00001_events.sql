-- +goose Up

-- events_outbox holds messages committed by the service and not yet moved to
-- Redis by a Relay. Rows are deleted once published.
CREATE TABLE events_outbox (
    seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream      text        NOT NULL,
    id          text        NOT NULL,
    type        text        NOT NULL,
    key         text        NOT NULL DEFAULT '',
    payload     json        NOT NULL, -- json, not jsonb: key order is kept
    metadata    jsonb       NOT NULL DEFAULT '{}',
    occurred_at timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- events_inbox records the messages a consumer group has handled, in the same
-- transaction as the handler's effect, so that a redelivery is dropped.
CREATE TABLE events_inbox (
    stream         text        NOT NULL,
    consumer_group text        NOT NULL,
    message_id     text        NOT NULL,
    handled_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (stream, consumer_group, message_id)
);

CREATE INDEX events_inbox_handled_at ON events_inbox (handled_at);

-- +goose Down
DROP TABLE events_inbox;
DROP TABLE events_outbox;
