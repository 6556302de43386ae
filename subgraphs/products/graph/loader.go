package graph

import (
	"context"
	"net/http"
	"time"

	"github.com/vikstrous/dataloadgen"

	"github.com/shopgraph/shopgraph/subgraphs/products/catalog"
)

// DefaultLoaderWait is how long a loader collects keys before it fetches
// them: gqlgen resolves the fields of a list's elements concurrently, so
// their lookups arrive within it.
const DefaultLoaderWait = 2 * time.Millisecond

// Loaders batch and cache, for one request, the lookups that a list can
// multiply: one store query per type per batch. They resolve references (see
// catalog.Service): a value is nil where there is no such object or the
// caller may not see it.
type Loaders struct {
	Products   *dataloadgen.Loader[string, *catalog.Product]
	Variants   *dataloadgen.Loader[string, *catalog.Variant]
	Categories *dataloadgen.Loader[string, *catalog.Category]
}

// NewLoaders returns fresh loaders on svc that collect keys for wait
// (DefaultLoaderWait if 0).
func NewLoaders(svc *catalog.Service, wait time.Duration) *Loaders {
	if wait <= 0 {
		wait = DefaultLoaderWait
	}
	return &Loaders{
		Products:   dataloadgen.NewLoader(fetch(svc.ResolveProducts), dataloadgen.WithWait(wait)),
		Variants:   dataloadgen.NewLoader(fetch(svc.ResolveVariants), dataloadgen.WithWait(wait)),
		Categories: dataloadgen.NewLoader(fetch(svc.ResolveCategories), dataloadgen.WithWait(wait)),
	}
}

// fetch adapts a service lookup, which returns values aligned with the keys,
// to a loader's fetch function.
func fetch[V any](lookup func(context.Context, []string) ([]V, error)) func(context.Context, []string) ([]V, []error) {
	return func(ctx context.Context, keys []string) ([]V, []error) {
		vs, err := lookup(ctx, keys)
		if err != nil {
			return nil, []error{err}
		}
		return vs, nil
	}
}

type loadersKey struct{}

// Middleware gives each request its own Loaders (see NewLoaders for wait).
func Middleware(svc *catalog.Service, wait time.Duration) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := context.WithValue(r.Context(), loadersKey{}, NewLoaders(svc, wait))
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// loaders returns the request's Loaders; without Middleware, fresh ones
// (which then batch nothing across fields).
func (r *Resolver) loaders(ctx context.Context) *Loaders {
	if l, ok := ctx.Value(loadersKey{}).(*Loaders); ok {
		return l
	}
	return NewLoaders(r.Catalog, 0)
}

// primeProducts caches products the request already has, so that their
// variants' product field needs no lookup.
func (r *Resolver) primeProducts(ctx context.Context, ps ...*catalog.Product) {
	l := r.loaders(ctx)
	for _, p := range ps {
		if p != nil {
			l.Products.Prime(p.ID, p)
		}
	}
}
