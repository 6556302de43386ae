package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shopgraph/shopgraph/internal/contract"
	"github.com/shopgraph/shopgraph/internal/events"
	"github.com/shopgraph/shopgraph/subgraphs/shipping/shipment"
)

// orderLockClass is the first key of the per-order advisory lock that
// serializes Open and CancelOrder; the second is the hash of the order ID.
const orderLockClass = 0x73686970 // "ship"

// Store is the shipment.Store in PostgreSQL. It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
	q    *Queries
	now  func() time.Time
}

var _ shipment.Store = (*Store)(nil)

// NewStore returns a store on pool, whose schema has Migrations and
// internal/events' tables. now stamps the outbox messages; nil means
// time.Now. (New is sqlc's constructor of Queries.)
func NewStore(pool *pgxpool.Pool, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{pool: pool, q: New(pool), now: now}
}

type causeKey struct{}

// WithCause returns a context whose outbox messages answer m: they carry
// m's correlation ID and name m as their cause.
func WithCause(ctx context.Context, m events.Message) context.Context {
	return context.WithValue(ctx, causeKey{}, m)
}

// Publish implements shipment.Store.
func (s *Store) Publish(ctx context.Context, notices ...shipment.Notice) error {
	if len(notices) == 0 {
		return nil
	}
	return events.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		return s.outbox(ctx, tx, notices)
	})
}

// outbox writes notices to the outbox in tx, as messages on
// contract.ShippingEvents keyed by the order ID, following up on the
// context's cause, if any.
func (s *Store) outbox(ctx context.Context, tx pgx.Tx, notices []shipment.Notice) error {
	if len(notices) == 0 {
		return nil
	}
	cause, hasCause := ctx.Value(causeKey{}).(events.Message)
	at := s.now()
	msgs := make([]events.Message, len(notices))
	for i, n := range notices {
		var err error
		if hasCause {
			msgs[i], err = cause.FollowUp(n.Type, n.Result.OrderID, n.Result, at)
		} else {
			msgs[i], err = events.New(n.Type, n.Result.OrderID, n.Result, at)
		}
		if err != nil {
			return err
		}
	}
	return events.Add(ctx, tx, contract.ShippingEvents, msgs...)
}
