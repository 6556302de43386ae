package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/internal/contract"
	"github.com/shopgraph/shopgraph/internal/events"
	"github.com/shopgraph/shopgraph/subgraphs/inventory/stock"
)

// conn is what the store runs on: the pool, or the transaction of the
// command consumer (whose Begin opens a savepoint).
type conn interface {
	DBTX
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Store is the stock.Store in PostgreSQL.
type Store struct {
	db conn
	// cause, if set, is the command message the store's changes answer: the
	// events it publishes follow up on it (correlation and causation IDs).
	cause *events.Message
}

var _ stock.Store = (*Store)(nil)

// NewStore returns a store on pool, whose schema has the store's Migrations
// and internal/events' tables.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{db: pool} }

// WithTx returns a store whose changes run inside tx, the transaction of the
// message consumer that delivered cause, and whose events follow up on cause.
// Each change runs in a savepoint of tx; committing tx commits them together
// with the consumer's inbox entry.
func (s *Store) WithTx(tx pgx.Tx, cause events.Message) *Store {
	return &Store{db: tx, cause: &cause}
}

// inTx runs fn in a transaction (a savepoint when the store is bound to an
// outer transaction) and commits it if fn returns nil.
func (s *Store) inTx(ctx context.Context, fn func(q *Queries, tx pgx.Tx) error) error {
	if pool, ok := s.db.(*pgxpool.Pool); ok {
		// events.BeginFunc wakes this process's relay after the commit.
		err := events.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return fn(New(tx), tx) })
		return translate(err)
	}
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if err := fn(New(tx), tx); err != nil {
		return translate(err)
	}
	if err := tx.Commit(ctx); err != nil {
		return translate(fmt.Errorf("commit: %w", err))
	}
	return nil
}

// publish writes evs to the outbox in tx, as messages on
// contract.InventoryEvents keyed by the order ID.
func (s *Store) publish(ctx context.Context, tx pgx.Tx, at time.Time, evs ...stock.Event) error {
	msgs := make([]events.Message, 0, len(evs))
	for _, ev := range evs {
		var m events.Message
		var err error
		if s.cause != nil {
			m, err = s.cause.FollowUp(ev.Type, ev.Result.OrderID, ev.Result, at)
		} else {
			m, err = events.New(ev.Type, ev.Result.OrderID, ev.Result, at)
		}
		if err != nil {
			return err
		}
		msgs = append(msgs, m)
	}
	return events.Add(ctx, tx, contract.InventoryEvents, msgs...)
}

// translate turns a violated stock CHECK constraint (the last line of
// defence behind the guarded updates) into CONFLICT.
func translate(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23514": // check_violation
			return apperr.Errorf(apperr.Conflict, "the change would take stock below zero or below the units reserved")
		case "22003": // numeric_value_out_of_range
			return apperr.Errorf(apperr.Conflict, "the change would take stock beyond the largest quantity kept")
		}
	}
	return err
}
