package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"

	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/nautilus/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/shopgraph/shopgraph/internal/apperr"
)

// Codes of the errors the gateway itself returns, in extensions.code.
const (
	codeBadRequest       = "BAD_REQUEST"
	codeParseFailed      = errcode.ParseFailed
	codeValidationFailed = errcode.ValidationFailed
	codeMethodNotAllowed = "METHOD_NOT_ALLOWED"
	// codePersistedQueryNotSupported tells Apollo-style clients that sent
	// only a persisted query's hash to send the query text instead.
	codePersistedQueryNotSupported = "PERSISTED_QUERY_NOT_SUPPORTED"
	codeUnauthenticated            = apperr.Unauthenticated
	codeUnavailable                = apperr.Unavailable
	codeTimeout                    = "TIMEOUT"
	codeInternal                   = apperr.Internal
)

// response is a GraphQL response. Data is omitted when the request failed
// before execution and is JSON null when execution failed as a whole.
type response struct {
	Errors     []*gqlerror.Error `json:"errors,omitempty"`
	Data       json.RawMessage   `json:"data,omitempty"`
	Extensions map[string]any    `json:"extensions,omitempty"`
}

// requestError returns the one error of a request refused before execution.
func requestError(code, message string) *gqlerror.Error {
	return &gqlerror.Error{Message: message, Extensions: map[string]any{"code": code}}
}

// writeJSON writes v as the JSON body of a response with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	writeJSONAs(w, status, mediaJSON, v)
}

// writeJSONAs writes v as the JSON body of a response with the given
// status and media type (application/json or
// application/graphql-response+json).
func writeJSONAs(w http.ResponseWriter, status int, media string, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL"}}]}`)
	}
	w.Header().Set("Content-Type", media+mediaTypeParamCharset)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeErrors writes a response that carries only errors.
func writeErrors(w http.ResponseWriter, status int, errs ...*gqlerror.Error) {
	writeJSON(w, status, response{Errors: errs})
}

// publicErrors turns the errors of an execution into the errors a client may
// see: a service's GraphQL errors pass through with their message, path and
// extensions; an unreachable or failing service becomes a generic message
// with code UNAVAILABLE or INTERNAL; anything else is INTERNAL. Everything
// that is not shown is logged, once, here.
func publicErrors(r *http.Request, log *slog.Logger, errs []error) []*gqlerror.Error {
	var out []*gqlerror.Error
	for _, e := range errs {
		var ge *graphql.Error
		var ue *upstreamError
		switch {
		case errors.As(e, &ue):
			if slices.ContainsFunc(out, func(o *gqlerror.Error) bool {
				return o.Message == ue.publicMessage() && o.Extensions["service"] == ue.service
			}) {
				continue // one per service is enough: nautilus calls a service once per object
			}
			log.ErrorContext(r.Context(), "upstream failed", "service", ue.service, "code", ue.code, "err", ue.cause)
			out = append(out, &gqlerror.Error{
				Message:    ue.publicMessage(),
				Path:       toPath(ue.path),
				Extensions: map[string]any{"code": ue.code, "service": ue.service},
			})
		case errors.As(e, &ge):
			pe := &gqlerror.Error{Message: ge.Message, Path: toPath(ge.Path), Extensions: ge.Extensions}
			if slices.ContainsFunc(out, func(o *gqlerror.Error) bool { return sameError(o, pe) }) {
				continue // the same fetch made twice (see batch.go)
			}
			out = append(out, pe)
		case errors.As(e, new(graphql.ErrorList)):
			out = append(out, publicErrors(r, log, flatten(e))...)
		default:
			log.ErrorContext(r.Context(), "execute query", "err", e)
			out = append(out, requestError(codeInternal, "internal error"))
		}
	}
	return out
}

// flatten returns the errors of err, expanding (nested) graphql.ErrorLists.
func flatten(err error) []error {
	list, ok := err.(graphql.ErrorList)
	if !ok {
		if err == nil {
			return nil
		}
		return []error{err}
	}
	var out []error
	for _, e := range list {
		out = append(out, flatten(e)...)
	}
	return out
}

// toPath converts a decoded JSON path into an ast.Path.
func toPath(p []any) ast.Path {
	if len(p) == 0 {
		return nil
	}
	out := make(ast.Path, 0, len(p))
	for _, el := range p {
		switch v := el.(type) {
		case string:
			out = append(out, ast.PathName(v))
		case float64:
			out = append(out, ast.PathIndex(int(v)))
		case int:
			out = append(out, ast.PathIndex(v))
		case json.Number:
			if n, err := v.Int64(); err == nil {
				out = append(out, ast.PathIndex(int(n)))
			}
		}
	}
	return out
}

// sameError reports errors with the same message, path and extensions.
func sameError(a, b *gqlerror.Error) bool {
	return a.Message == b.Message && a.Path.String() == b.Path.String() &&
		fmt.Sprint(a.Extensions) == fmt.Sprint(b.Extensions)
}
