package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/internal/events"
	pg "github.com/shopgraph/shopgraph/internal/postgres"
	"github.com/shopgraph/shopgraph/subgraphs/users/user"
)

// PGStore is the users store in PostgreSQL.
type PGStore struct {
	pool *pgxpool.Pool
	q    *Queries
	log  *slog.Logger
}

var _ user.Store = (*PGStore)(nil)

// NewStore returns a store on pool, whose schema has Migrations applied.
func NewStore(pool *pgxpool.Pool, log *slog.Logger) *PGStore {
	if log == nil {
		log = slog.Default()
	}
	return &PGStore{pool: pool, q: New(pool), log: log}
}

// inTx runs fn in a transaction, committed if fn returns nil.
func (s *PGStore) inTx(ctx context.Context, fn func(q *Queries) error) error {
	return events.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		return fn(s.q.WithTx(tx))
	})
}

func notFound(what string, err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return apperr.Errorf(apperr.NotFound, "no such %s", what)
	}
	return err
}

// emailTaken is the error for a unique violation of users_email_key.
func emailTaken(err error) error {
	if pg.IsUniqueViolation(err, "users_email_key") {
		return apperr.Errorf(apperr.Conflict, "email already registered")
	}
	return err
}

func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := apperr.As(err); ok {
		return err
	}
	return fmt.Errorf("%s: %w", op, err)
}
