package graph

import (
	"context"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vikstrous/dataloadgen"

	"github.com/shopgraph/shopgraph/subgraphs/orders/order"
)

// loaders batch the lookups that a list multiplies: the orders of entity
// and node lookups, the lines and timeline of every order in a page. They
// live for one response (see WithLoaders), so they cache nothing across
// callers or events.
type loaders struct {
	order    *dataloadgen.Loader[string, *order.Order]
	lines    *dataloadgen.Loader[string, []order.Line]
	timeline *dataloadgen.Loader[string, []order.TimelineEntry]
}

// wait is how long a loader collects keys before it fetches.
const wait = time.Millisecond

func newLoaders(s *order.Service) *loaders {
	return &loaders{
		order:    dataloadgen.NewLoader(byKey(s.Orders), dataloadgen.WithWait(wait)),
		lines:    dataloadgen.NewLoader(byKey(s.Lines), dataloadgen.WithWait(wait)),
		timeline: dataloadgen.NewLoader(byKey(s.Timelines), dataloadgen.WithWait(wait)),
	}
}

// byKey adapts a fetch that returns what exists by key to dataloadgen: a
// missing key is the zero value (nil), not an error.
func byKey[V any](fetch func(context.Context, []string) (map[string]V, error)) func(context.Context, []string) ([]V, []error) {
	return func(ctx context.Context, keys []string) ([]V, []error) {
		m, err := fetch(ctx, keys)
		out := make([]V, len(keys))
		if err != nil {
			errs := make([]error, len(keys))
			for i := range errs {
				errs[i] = err
			}
			return out, errs
		}
		for i, k := range keys {
			out[i] = m[k]
		}
		return out, nil
	}
}

type loadersKey struct{}

// WithLoaders returns es answering with fresh loaders for every response:
// one set per query or mutation, and one per event of a subscription, so
// that a long-lived websocket or SSE operation never answers from an old
// cache.
func WithLoaders(es graphql.ExecutableSchema, s *order.Service) graphql.ExecutableSchema {
	return loadersSchema{ExecutableSchema: es, svc: s}
}

type loadersSchema struct {
	graphql.ExecutableSchema
	svc *order.Service
}

// Exec implements graphql.ExecutableSchema.
func (l loadersSchema) Exec(ctx context.Context) graphql.ResponseHandler {
	next := l.ExecutableSchema.Exec(ctx)
	return func(ctx context.Context) *graphql.Response {
		return next(context.WithValue(ctx, loadersKey{}, newLoaders(l.svc)))
	}
}

// loadersFor returns the response's loaders, or new ones (for a context
// that did not pass through WithLoaders).
func (r *Resolver) loadersFor(ctx context.Context) *loaders {
	if l, ok := ctx.Value(loadersKey{}).(*loaders); ok {
		return l
	}
	return newLoaders(r.OrderService)
}
