package gateway

import (
	"fmt"
	"net/http"

	"golang.org/x/oauth2"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/internal/auth"
)

// authenticate verifies the bearer token of a request, if it carries one, and
// puts the identity in the request's context, from which forwardHeaders
// copies the token onto every upstream request. A request with an invalid,
// expired or forged token, or another kind of credentials, is refused with
// 401 UNAUTHENTICATED and goes no further. A request without credentials
// passes anonymous: each service decides what an anonymous caller may do.
func (g *Gateway) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" {
			next.ServeHTTP(w, r)
			return
		}
		token := auth.BearerToken(r)
		if token == "" {
			unauthenticated(w, "the Authorization header must carry a Bearer token")
			return
		}
		id, err := g.cfg.Verifier.VerifyUser(r.Context(), token)
		if err != nil {
			if apperr.Code(err) == apperr.Unauthenticated {
				unauthenticated(w, apperr.Message(err))
				return
			}
			// The keys could not be loaded: not the client's fault.
			g.log.ErrorContext(r.Context(), "verify token", "err", err, "request_id", infoFrom(r.Context()).requestID)
			writeErrors(w, http.StatusServiceUnavailable,
				requestError(codeUnavailable, "tokens cannot be verified right now; try again later"))
			return
		}
		next.ServeHTTP(w, r.WithContext(auth.WithIdentity(r.Context(), id)))
	})
}

func unauthenticated(w http.ResponseWriter, message string) {
	w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	writeErrors(w, http.StatusUnauthorized, requestError(codeUnauthenticated, message))
}

// forwardHeaders sets the headers every request to a service carries: the
// caller's verified token (the service verifies it again), the caller's
// address (X-Forwarded-For, which the users service rate-limits logins by)
// and the request ID, all taken from the incoming request's context, which
// the upstream request has. With tokens (the gateway's own service
// identity), Authorization carries the gateway's service token and the
// caller's token goes in X-Forwarded-Authorization.
func forwardHeaders(req *http.Request, tokens oauth2.TokenSource) error {
	ctx := req.Context()
	userHeader := "Authorization"
	if tokens != nil {
		tok, err := tokens.Token()
		if err != nil {
			return fmt.Errorf("get a service token: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		userHeader = auth.ForwardedAuthorization
	}
	if id, ok := auth.FromContext(ctx); ok && id.Token != "" {
		req.Header.Set(userHeader, "Bearer "+id.Token)
	}
	if info := infoFrom(ctx); info != nil {
		if info.clientAddr != "" {
			req.Header.Set("X-Forwarded-For", info.clientAddr)
		}
		req.Header.Set("X-Request-ID", info.requestID)
	}
	return nil
}
