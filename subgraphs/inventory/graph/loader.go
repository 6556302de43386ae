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
	}
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
