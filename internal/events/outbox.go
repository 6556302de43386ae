package events

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// notifyChannel is the SQL expression for the LISTEN/NOTIFY channel of the
// current schema's outbox (channel names are limited to 63 bytes).
const notifyChannel = `left('events_outbox:' || current_schema(), 63)`

const insertOutbox = `
INSERT INTO events_outbox (stream, id, type, key, payload, metadata, occurred_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)`

// Add writes msgs to the outbox in tx, the caller's transaction, for the
// stream named stream (without the Redis prefix, e.g. "inventory.commands").
// They are published by a [Relay] once, and only if, tx commits; the commit
// also wakes the relays, so publication does not wait for a poll: through
// NOTIFY, or, when [BeginFunc] runs tx and a relay of its pool runs in this
// process, by waking that relay directly after the commit (see nudge.go).
func Add(ctx context.Context, tx pgx.Tx, stream string, msgs ...Message) error {
	if stream == "" {
		return errors.New("add to outbox: empty stream name")
	}
	if len(msgs) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for _, m := range msgs {
		if err := m.validate(); err != nil {
			return fmt.Errorf("add to outbox: %w", err)
		}
		payload := m.Payload
		if len(payload) == 0 {
			payload = []byte("null")
		}
		md := withTraceContext(ctx, m.Metadata) // see trace.go
		b.Queue(insertOutbox, stream, m.ID, m.Type, m.Key, payload, md, m.OccurredAt)
	}
	if p := pendingFor(tx); p != nil {
		// BeginFunc wakes the in-process relay after the commit.
		p.skipped.Store(true)
	} else {
		// Delivered at commit, collapsed into one per transaction.
		b.Queue(`SELECT pg_notify(` + notifyChannel + `, '')`)
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("add to outbox %s: %w", stream, err)
	}
	return nil
}
