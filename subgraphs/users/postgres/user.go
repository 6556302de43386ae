package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/shopgraph/shopgraph/internal/contract"
	"github.com/shopgraph/shopgraph/internal/events"
	"github.com/shopgraph/shopgraph/subgraphs/users/user"
)

func (r userRow) user() user.User {
	return user.User{
		ID: r.ID, Email: r.Email, Name: r.Name, Phone: r.Phone, Role: user.Role(r.Role),
		PasswordHash: r.PasswordHash, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
}

// CreateUser implements user.Store. UserRegistered goes to the outbox in
// the same transaction, for the notifications service's welcome email.
func (s *PGStore) CreateUser(ctx context.Context, u user.User) error {
	err := events.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := s.q.WithTx(tx).CreateUser(ctx, CreateUserParams{
			ID: u.ID, Email: u.Email, Name: u.Name, Phone: u.Phone, Role: string(u.Role),
			PasswordHash: u.PasswordHash, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
		}); err != nil {
			return err
		}
		m, err := events.New(contract.TypeUserRegistered, u.ID, contract.UserRegistered{UserID: u.ID, Email: u.Email, Name: u.Name}, u.CreatedAt)
		if err != nil {
			return err
		}
		return events.Add(ctx, tx, contract.UserEvents, m)
	})
	return wrap("create user", emailTaken(err))
}

// User implements user.Store.
func (s *PGStore) User(ctx context.Context, id string) (user.User, error) {
	r, err := s.q.GetUser(ctx, id)
	if err != nil {
		return user.User{}, wrap("get user", notFound("user", err))
	}
	return r.user(), nil
}

// UserByEmail implements user.Store.
func (s *PGStore) UserByEmail(ctx context.Context, email string) (user.User, error) {
	r, err := s.q.GetUserByEmail(ctx, email)
	if err != nil {
		return user.User{}, wrap("get user by email", notFound("user", err))
	}
	return r.user(), nil
}

// UsersByIDs implements user.Store.
func (s *PGStore) UsersByIDs(ctx context.Context, ids []string) (map[string]user.User, error) {
	rows, err := s.q.ListUsersByIDs(ctx, ids)
	if err != nil {
		return nil, wrap("list users", err)
	}
	out := make(map[string]user.User, len(rows))
	for _, r := range rows {
		out[r.ID] = r.user()
	}
	return out, nil
}

// UpdateUser implements user.Store.
func (s *PGStore) UpdateUser(ctx context.Context, id string, fn func(*user.User) error) (user.User, error) {
	var out user.User
	err := s.inTx(ctx, func(q *Queries) error {
		r, err := q.GetUserForUpdate(ctx, id)
		if err != nil {
			return notFound("user", err)
		}
		u := r.user()
		if err := fn(&u); err != nil {
			return err
		}
		u.ID, u.CreatedAt = r.ID, r.CreatedAt
		err = q.UpdateUser(ctx, UpdateUserParams{
			ID: u.ID, Email: u.Email, Name: u.Name, Phone: u.Phone, Role: string(u.Role),
			PasswordHash: u.PasswordHash, UpdatedAt: u.UpdatedAt,
		})
		if err != nil {
			return emailTaken(err)
		}
		out = u
		return nil
	})
	return out, wrap("update user", err)
}
