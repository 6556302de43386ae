package graph

import (
	"context"
	"net/http"
	"time"

	"github.com/vikstrous/dataloadgen"

	"github.com/shopgraph/shopgraph/subgraphs/shipping/shipment"
)

// loaders batch the lookups that a list multiplies: the shipments of every
// order in a list, and shipments by ID. They live for one request, so they
// cache nothing across callers.
type loaders struct {
	shipment *dataloadgen.Loader[string, *shipment.Shipment]
	byOrder  *dataloadgen.Loader[string, []shipment.Shipment]
}

// wait is how long a loader collects keys before it fetches. A variable
// so that tests on a busy machine can wait longer: they check batching, not
// how fast the scheduler starts a list's resolvers.
var wait = time.Millisecond

func newLoaders(s *shipment.Service) *loaders {
	return &loaders{
		shipment: dataloadgen.NewLoader(byKey(s.Shipments), dataloadgen.WithWait(wait)),
		byOrder:  dataloadgen.NewLoader(byKey(s.OrderShipments), dataloadgen.WithWait(wait)),
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

// Middleware gives each request its own loaders.
func Middleware(s *shipment.Service) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := context.WithValue(r.Context(), loadersKey{}, newLoaders(s))
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// loadersFor returns the request's loaders, or new ones (for a context that
// did not pass through Middleware, such as a websocket operation).
func (r *Resolver) loadersFor(ctx context.Context) *loaders {
	if l, ok := ctx.Value(loadersKey{}).(*loaders); ok {
		return l
	}
	return newLoaders(r.Shipping)
}
