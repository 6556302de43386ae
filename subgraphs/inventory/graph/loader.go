package graph

import (
	"context"
	"net/http"

	"github.com/vikstrous/dataloadgen"

	"github.com/shopgraph/shopgraph/subgraphs/inventory/stock"
)

// ledgerKey asks for one page of one SKU's ledger.
type ledgerKey struct {
	SKU   string
	First int
	After int64
}

// loaders batch the lookups of one request.
type loaders struct {
	// stock loads stock levels by SKU (public).
	stock *dataloadgen.Loader[string, stock.Item]
	// ledger loads ledger pages; keys with the same page arguments share a query.
	ledger *dataloadgen.Loader[ledgerKey, stock.LedgerPage]
	// item loads stock items by SKU (admin); nil for a SKU never stocked.
	item *dataloadgen.Loader[string, *stock.Item]
	// reservation loads reservations by ID (admin); nil for none.
	reservation *dataloadgen.Loader[string, *stock.Reservation]
}

type loadersKey struct{}

func newLoaders(svc *stock.Service) *loaders {
	return &loaders{
		stock: dataloadgen.NewLoader(func(ctx context.Context, skus []string) ([]stock.Item, []error) {
			items, err := svc.Stock(ctx, skus)
			if err != nil {
				return nil, []error{err}
			}
			return items, nil
		}),
		ledger: dataloadgen.NewLoader(func(ctx context.Context, keys []ledgerKey) ([]stock.LedgerPage, []error) {
			type args struct {
				first int
				after int64
			}
			groups := map[args][]string{}
			for _, k := range keys {
				a := args{k.First, k.After}
				groups[a] = append(groups[a], k.SKU)
			}
			pages := map[ledgerKey]stock.LedgerPage{}
			for a, skus := range groups {
				got, err := svc.Ledgers(ctx, skus, stock.LedgerQuery{First: a.first, After: a.after})
				if err != nil {
					return nil, []error{err}
				}
				for sku, p := range got {
					pages[ledgerKey{sku, a.first, a.after}] = p
				}
			}
			out := make([]stock.LedgerPage, len(keys))
			for i, k := range keys {
				out[i] = pages[k]
			}
			return out, nil
		}),
		item: dataloadgen.NewLoader(byKey(func(ctx context.Context, skus []string) (map[string]*stock.Item, error) {
			items, err := svc.Items(ctx, skus)
			if err != nil {
				return nil, err
			}
			m := make(map[string]*stock.Item, len(items))
			for i := range items {
				m[items[i].SKU] = &items[i]
			}
			return m, nil
		})),
		reservation: dataloadgen.NewLoader(byKey(func(ctx context.Context, ids []string) (map[string]*stock.Reservation, error) {
			rs, err := svc.Reservations(ctx, ids)
			if err != nil {
				return nil, err
			}
			m := make(map[string]*stock.Reservation, len(rs))
			for i := range rs {
				m[rs[i].ID] = &rs[i]
			}
			return m, nil
		})),
	}
}

// byKey adapts a fetch that returns what exists by key to dataloadgen: a
// missing key is the zero value (nil), not an error.
func byKey[V any](fetch func(context.Context, []string) (map[string]V, error)) func(context.Context, []string) ([]V, []error) {
	return func(ctx context.Context, keys []string) ([]V, []error) {
		m, err := fetch(ctx, keys)
		if err != nil {
			return nil, []error{err}
		}
		out := make([]V, len(keys))
		for i, k := range keys {
			out[i] = m[k]
		}
		return out, nil
	}
}

// loadMany loads the non-empty keys together, in one batch; the value of an
// empty key is the zero value. It returns the first error.
func loadMany[V any](ctx context.Context, l *dataloadgen.Loader[string, V], keys []string) ([]V, error) {
	thunks := make([]func() (V, error), len(keys))
	for i, k := range keys {
		if k != "" {
			thunks[i] = l.LoadThunk(ctx, k)
		}
	}
	out := make([]V, len(keys))
	for i, th := range thunks {
		if th == nil {
			continue
		}
		v, err := th()
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// Middleware gives each request its own loaders.
func Middleware(svc *stock.Service) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := context.WithValue(r.Context(), loadersKey{}, newLoaders(svc))
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// loadersFor returns the request's loaders, or unbatched ones if the request
// did not come through Middleware.
func (r *Resolver) loadersFor(ctx context.Context) *loaders {
	if l, ok := ctx.Value(loadersKey{}).(*loaders); ok {
		return l
	}
	return newLoaders(r.Stock)
}
