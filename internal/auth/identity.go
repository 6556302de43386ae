// Package auth issues and verifies Shopgraph's access tokens (JWTs signed with
// EdDSA or RS256, keys published as a JWKS), carries the verified identity in
// a request's context, and answers the questions every service asks: who is
// calling, and may they do this.
package auth

import (
	"context"
	"slices"
	"time"

	"github.com/shopgraph/shopgraph/internal/apperr"
)

// Roles a user may have.
const (
	RoleCustomer = "CUSTOMER"
	RoleAdmin    = "ADMIN"
	// RoleService is the role of a service token: one Shopgraph service
	// calling another.
	RoleService = "SERVICE"
)

// Identity is a verified caller.
type Identity struct {
	// UserID is the users service's local key of the user (the JWT subject).
	UserID string
	// Email of the user, if the token carries it.
	Email string
	// Role is RoleCustomer, RoleAdmin or RoleService.
	Role string
	// Token is the raw bearer token, to forward to other services.
	Token string
	// Expires is when Token expires (its exp claim), set by Verify; zero
	// when the token has no exp. Holders of long-lived connections, such as
	// the gateway's subscriptions, end them then.
	Expires time.Time
	// Scopes and Audience of a service token (role SERVICE): what it may
	// do, and the services it may do it at.
	Scopes   []string
	Audience []string
}

// HasScope reports whether a service token grants scope.
func (id Identity) HasScope(scope string) bool { return slices.Contains(id.Scopes, scope) }

// For reports whether a service token was minted for service aud.
func (id Identity) For(aud string) bool { return slices.Contains(id.Audience, aud) }

// IsAdmin reports whether the caller may administer the shop.
func (id Identity) IsAdmin() bool { return id.Role == RoleAdmin }

type ctxKey struct{}

// WithIdentity returns a context that carries id.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// FromContext returns the verified identity in ctx, if any.
func FromContext(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(ctxKey{}).(Identity)
	return id, ok
}

// Require returns the caller's identity.
// Returns UNAUTHENTICATED if the request carries no valid token.
func Require(ctx context.Context) (Identity, error) {
	id, ok := FromContext(ctx)
	if !ok || id.UserID == "" {
		return Identity{}, apperr.Errorf(apperr.Unauthenticated, "sign in required")
	}
	return id, nil
}

// RequireAdmin returns the caller's identity if the caller is an admin.
// Returns UNAUTHENTICATED without a valid token and FORBIDDEN for non-admins.
func RequireAdmin(ctx context.Context) (Identity, error) {
	id, err := Require(ctx)
	if err != nil {
		return id, err
	}
	if !id.IsAdmin() {
		return id, apperr.Errorf(apperr.Forbidden, "admin role required")
	}
	return id, nil
}

type callerKey struct{}

// WithCaller returns a context that carries the verified service token of
// the service making the request (role SERVICE).
func WithCaller(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, callerKey{}, id)
}

// CallerFrom returns the calling service's identity in ctx, if the request
// carried a service token.
func CallerFrom(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(callerKey{}).(Identity)
	return id, ok
}

// RequireScope returns the calling service's identity if its service token
// grants scope.
// Returns UNAUTHENTICATED without any token, and FORBIDDEN for a user's
// token or a service token without scope.
func RequireScope(ctx context.Context, scope string) (Identity, error) {
	c, ok := CallerFrom(ctx)
	if !ok {
		if _, user := FromContext(ctx); user {
			return Identity{}, apperr.Errorf(apperr.Forbidden, "only services may ask for this: a service token with scope %s is required", scope)
		}
		return Identity{}, apperr.Errorf(apperr.Unauthenticated, "a service token with scope %s is required", scope)
	}
	if !c.HasScope(scope) {
		return Identity{}, apperr.Errorf(apperr.Forbidden, "the service token lacks scope %s", scope)
	}
	return c, nil
}
