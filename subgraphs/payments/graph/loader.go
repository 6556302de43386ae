package graph

import (
	"context"
	"net/http"
	"time"

	"github.com/vikstrous/dataloadgen"

	"github.com/shopgraph/shopgraph/subgraphs/payments/payment"
)

// loaders batch the lookups that a list multiplies: the payment of every
// order in a list, the refunds and timeline of every payment. They live for
// one request, so they cache nothing across callers.
type loaders struct {
	payment  *dataloadgen.Loader[string, *payment.Payment]
	latest   *dataloadgen.Loader[string, *payment.Payment]
	refunds  *dataloadgen.Loader[string, []payment.Refund]
	timeline *dataloadgen.Loader[string, []payment.Event]
	// refund loads refunds by ID, nil for one that does not exist or whose
	// payment the caller may not see.
	refund *dataloadgen.Loader[string, *payment.Refund]
}

// wait is how long a loader collects keys before it fetches. A variable
// so that tests on a busy machine can wait longer: they check batching, not
// how fast the scheduler starts a list's resolvers.
var wait = time.Millisecond

func newLoaders(s *payment.Service) *loaders {
	return &loaders{
		payment:  dataloadgen.NewLoader(byKey(s.Payments), dataloadgen.WithWait(wait)),
		latest:   dataloadgen.NewLoader(byKey(s.LatestPayments), dataloadgen.WithWait(wait)),
		refunds:  dataloadgen.NewLoader(byKey(s.Refunds), dataloadgen.WithWait(wait)),
		timeline: dataloadgen.NewLoader(byKey(s.Timelines), dataloadgen.WithWait(wait)),
		refund:   dataloadgen.NewLoader(byKey(refundsByIDs(s)), dataloadgen.WithWait(wait)),
	}
}

// refundsByIDs is s.RefundsByIDs with a nil for a missing refund.
func refundsByIDs(s *payment.Service) func(context.Context, []string) (map[string]*payment.Refund, error) {
	return func(ctx context.Context, ids []string) (map[string]*payment.Refund, error) {
		rs, err := s.RefundsByIDs(ctx, ids)
		if err != nil {
			return nil, err
		}
		out := make(map[string]*payment.Refund, len(rs))
		for id, r := range rs {
			out[id] = &r
		}
		return out, nil
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
func Middleware(s *payment.Service) func(http.Handler) http.Handler {
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
	return newLoaders(r.Payments)
}
