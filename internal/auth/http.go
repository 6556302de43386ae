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
			id, err := v.Verify(r.Context(), token)
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
