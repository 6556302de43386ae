package graph

import (
	"context"
	"net/http"
	"time"

	"github.com/vikstrous/dataloadgen"

	"github.com/shopgraph/shopgraph/subgraphs/notifications/notification"
)

// wait is how long a loader collects keys before it fetches: gqlgen
// resolves a list's elements concurrently, so their lookups arrive within it.
const wait = time.Millisecond

// loaders batch, for one request, the lookups that a list can multiply: the
// notifications named by node and _entities. A value is nil where there is
// no such notification or the caller may not see it.
type loaders struct {
	notifications *dataloadgen.Loader[string, *notification.Notification]
}

func newLoaders(s *notification.Service) *loaders {
	return &loaders{
		notifications: dataloadgen.NewLoader(byKey(s.Notifications), dataloadgen.WithWait(wait)),
	}
}

// byKey adapts a fetch that returns what exists by key to dataloadgen: a
// missing key is nil, not an error.
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
func Middleware(s *notification.Service) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := context.WithValue(r.Context(), loadersKey{}, newLoaders(s))
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// loadersFor returns the request's loaders, or new ones (for a context that
// did not pass through Middleware).
func (r *Resolver) loadersFor(ctx context.Context) *loaders {
	if l, ok := ctx.Value(loadersKey{}).(*loaders); ok {
		return l
	}
	return newLoaders(r.Notifications)
}
