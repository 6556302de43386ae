package subgraph

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/shopgraph/shopgraph/internal/gqllimit"
)

// Limits of every subgraph on a request, checked before gqlgen validates
// it. A subgraph can be reached without the gateway, whose limits are
// tighter; these are wide enough for the gateway's own documents, which
// fetch the objects of a whole list level as aliased node fields at once.
const (
	// MaxBodyBytes bounds a request's body.
	MaxBodyBytes = 4 << 20
	// MaxTokens bounds the tokens of a query.
	MaxTokens = 200_000
	// MaxFields bounds the fields of a query, fragments expanded.
	MaxFields = 50_000
	// MaxSameNameFields bounds the fields of one response name in one
	// selection set: gqlparser's validation compares every pair of them
	// (10,000 took 17.5 s).
	MaxSameNameFields = 100
)

var limits = gqllimit.Limits{MaxTokens: MaxTokens, MaxFields: MaxFields, MaxSameName: MaxSameNameFields}

// queryLimits refuses a query over the limits before gqlgen parses and
// validates it. A query gqlgen has already cached passed them.
type queryLimits struct {
	cache graphql.Cache[*ast.QueryDocument]
}

var (
	_ graphql.HandlerExtension          = queryLimits{}
	_ graphql.OperationParameterMutator = queryLimits{}
)

func (queryLimits) ExtensionName() string                   { return "QueryLimits" }
func (queryLimits) Validate(graphql.ExecutableSchema) error { return nil }

func (l queryLimits) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	if _, ok := l.cache.Get(ctx, p.Query); ok {
		return nil
	}
	if _, err := gqllimit.Parse(p.Query, limits); err != nil && err.Extensions["code"] != gqllimit.CodeParseFailed {
		return err
	}
	// A syntax error is gqlgen's to report.
	return nil
}

// limitBody refuses a body larger than MaxBodyBytes with 413 and
// QUERY_TOO_LARGE, and cuts off one that grows past it unannounced.
func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > MaxBodyBytes {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			_ = json.NewEncoder(w).Encode(map[string]any{"errors": []any{map[string]any{
				"message":    fmt.Sprintf("the request body is %d bytes long; at most %d are allowed", r.ContentLength, MaxBodyBytes),
				"extensions": map[string]any{"code": gqllimit.CodeQueryTooLarge},
			}}})
			return
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		}
		next.ServeHTTP(w, r)
	})
}
