package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/subgraphs/users/user"
)

// CreateRefreshToken implements user.Store.
func (s *PGStore) CreateRefreshToken(ctx context.Context, t user.RefreshToken) error {
	return wrap("create refresh token", storeRefreshToken(ctx, s.q, t))
}

func storeRefreshToken(ctx context.Context, q *Queries, t user.RefreshToken) error {
	return q.InsertRefreshToken(ctx, InsertRefreshTokenParams{
		TokenHash: t.Hash, FamilyID: t.FamilyID, UserID: t.UserID, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt,
	})
}

// RefreshToken implements user.Store.
func (s *PGStore) RefreshToken(ctx context.Context, hash []byte) (user.RefreshToken, error) {
	r, err := s.q.GetRefreshToken(ctx, hash)
	if err != nil {
		return user.RefreshToken{}, wrap("get refresh token", notFound("refresh token", err))
	}
	return user.RefreshToken{
		Hash: r.TokenHash, FamilyID: r.FamilyID, UserID: r.UserID, CreatedAt: r.CreatedAt.UTC(),
		ExpiresAt: r.ExpiresAt.UTC(), UsedAt: utc(r.UsedAt), RevokedAt: utc(r.RevokedAt),
	}, nil
}

// RotateRefreshToken implements user.Store. The conditional UPDATE takes the
// token's row lock, so of two concurrent rotations of one token exactly one
// succeeds.
func (s *PGStore) RotateRefreshToken(ctx context.Context, hash []byte, next user.RefreshToken) error {
	err := s.inTx(ctx, func(q *Queries) error {
		family, err := q.MarkRefreshTokenUsed(ctx, MarkRefreshTokenUsedParams{TokenHash: hash, UsedAt: next.CreatedAt})
		if errors.Is(err, pgx.ErrNoRows) {
			if _, gerr := q.GetRefreshToken(ctx, hash); gerr != nil {
				return notFound("refresh token", gerr)
			}
			return apperr.Errorf(apperr.Conflict, "refresh token already used")
		} else if err != nil {
			return err
		}
		if family != next.FamilyID {
			return errors.New("rotated refresh token into another family")
		}
		return storeRefreshToken(ctx, q, next)
	})
	return wrap("rotate refresh token", err)
}

// RevokeRefreshFamily implements user.Store.
func (s *PGStore) RevokeRefreshFamily(ctx context.Context, familyID string, at time.Time) (bool, error) {
	expiries, err := s.q.RevokeRefreshFamily(ctx, RevokeRefreshFamilyParams{FamilyID: familyID, RevokedAt: at})
	if err != nil {
		return false, wrap("revoke refresh family", err)
	}
	for _, exp := range expiries {
		if at.Before(exp) {
			return true, nil
		}
	}
	return false, nil
}

// DeleteExpiredRefreshTokens implements user.Store.
func (s *PGStore) DeleteExpiredRefreshTokens(ctx context.Context, userID string, before time.Time) error {
	return wrap("delete expired refresh tokens", s.q.DeleteExpiredRefreshTokens(ctx, DeleteExpiredRefreshTokensParams{UserID: userID, Before: before}))
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
