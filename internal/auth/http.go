package auth

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"

	"github.com/shopgraph/shopgraph/internal/apperr"
)

// BearerToken returns the token of an "Authorization: Bearer …" header.
func BearerToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// Middleware verifies the bearer token of each request, if there is one, and
// puts the identity in the request's context. A request with an invalid token
// is refused with a GraphQL error (UNAUTHENTICATED, HTTP 401) and goes no
// further; a request without a token passes through anonymous.
func Middleware(v *Verifier, log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			token := BearerToken(r)
			if token == "" {
				next.ServeHTTP(w, r)
				return
			}
			id, err := v.VerifyUser(r.Context(), token)
			if err != nil {
				if apperr.Code(err) == apperr.Internal {
					log.ErrorContext(r.Context(), "verify token", "err", err)
				}
				WriteGraphQLError(w, http.StatusUnauthorized, apperr.Code(err), apperr.Message(err))
				return
			}
			next.ServeHTTP(w, r.WithContext(WithIdentity(r.Context(), id)))
		})
	}
}

// ForwardedAuthorization is the header in which a service passes on the
// token of the user it acts for, while its own service token is in
// Authorization (the name Google's API gateways use for the same purpose).
const ForwardedAuthorization = "X-Forwarded-Authorization"

// ServiceMiddleware verifies the tokens of a request to the service named
// audience. A service token (role SERVICE) in Authorization must have been
// minted for audience (else FORBIDDEN); it becomes the request's caller
// (CallerFrom), and the user token in X-Forwarded-Authorization, if any, its
// identity. A user token in Authorization becomes the identity, unless
// requireService is set: then every request needs a service token, so that
// only the gateway and the other services can call this service (no token:
// UNAUTHENTICATED; a user's token: FORBIDDEN). Refused requests go no further.
func ServiceMiddleware(v *Verifier, audience string, requireService bool, log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := r.Context()
			fail := func(err error) {
				if apperr.Code(err) == apperr.Internal {
					log.ErrorContext(ctx, "verify token", "err", err)
				}
				status := http.StatusUnauthorized
				if apperr.Code(err) == apperr.Forbidden {
					status = http.StatusForbidden
				}
				if status == http.StatusUnauthorized {
					w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
				}
				WriteGraphQLError(w, status, apperr.Code(err), apperr.Message(err))
			}
			token := BearerToken(r)
			if token == "" {
				if requireService {
					fail(apperr.Errorf(apperr.Unauthenticated, "this service answers only other services: a service token is required"))
					return
				}
				next.ServeHTTP(w, r)
				return
			}
			id, err := v.Verify(ctx, token)
			if err != nil {
				fail(err)
				return
			}
			if id.Role != RoleService {
				if requireService {
					fail(apperr.Errorf(apperr.Forbidden, "this service answers only other services: call the gateway"))
					return
				}
				next.ServeHTTP(w, r.WithContext(WithIdentity(ctx, id)))
				return
			}
			if !id.For(audience) {
				fail(apperr.Errorf(apperr.Forbidden, "the service token was not issued for this service"))
				return
			}
			ctx = WithCaller(ctx, id)
			if h := r.Header.Get(ForwardedAuthorization); h != "" {
				user := ""
				if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
					user = strings.TrimSpace(h[7:])
				}
				uid, err := v.Verify(ctx, user)
				if err != nil {
					fail(err)
					return
				}
				if uid.Role == RoleService {
					fail(apperr.Errorf(apperr.Forbidden, "a service token cannot be forwarded as a user's"))
					return
				}
				ctx = WithIdentity(ctx, uid)
			}
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// WriteGraphQLError writes a GraphQL response that carries one error with
// extensions.code.
func WriteGraphQLError(w http.ResponseWriter, status int, code, message string) {
	if code == apperr.Internal {
		message = "internal error"
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]any{{
			"message":    message,
			"extensions": map[string]any{"code": code},
		}},
	})
}
