package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/internal/gid"
	"github.com/shopgraph/shopgraph/internal/money"
	"github.com/shopgraph/shopgraph/internal/subgraph"
	"github.com/shopgraph/shopgraph/internal/testenv"
	"github.com/shopgraph/shopgraph/subgraphs/products/catalog"
	"github.com/shopgraph/shopgraph/subgraphs/products/graph"
	mongostore "github.com/shopgraph/shopgraph/subgraphs/products/mongo"
)

// countingStore counts the lookups that lists can multiply.
type countingStore struct {
	catalog.Store
	mu    sync.Mutex
	calls map[string]int
}

func (s *countingStore) count(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[name]++
}

func (s *countingStore) reset() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.calls
	s.calls = map[string]int{}
	return c
}

func (s *countingStore) ProductsByIDs(ctx context.Context, ids []string) ([]*catalog.Product, error) {
	s.count("ProductsByIDs")
	return s.Store.ProductsByIDs(ctx, ids)
}

func (s *countingStore) ProductsBySKUs(ctx context.Context, skus []string) ([]*catalog.Product, error) {
	s.count("ProductsBySKUs")
	return s.Store.ProductsBySKUs(ctx, skus)
}

func (s *countingStore) CategoriesByIDs(ctx context.Context, ids []string) ([]*catalog.Category, error) {
	s.count("CategoriesByIDs")
	return s.Store.CategoriesByIDs(ctx, ids)
}

func (s *countingStore) ListProducts(ctx context.Context, q catalog.ProductQuery) ([]*catalog.Product, error) {
	s.count("ListProducts")
	return s.Store.ListProducts(ctx, q)
}

func TestLookupsAreBatched(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	inner, err := mongostore.NewStore(ctx, testenv.Mongo(t, "graph"), testenv.Logger(), nil)
	if err != nil {
		t.Fatal(err)
	}
	store := &countingStore{Store: inner, calls: map[string]int{}}
	svc := catalog.NewService(store, nil)
	admin := auth.WithIdentity(ctx, auth.Identity{UserID: "a", Role: auth.RoleAdmin})

	top, err := svc.CreateCategory(admin, catalog.CategoryInput{Name: "Top"})
	if err != nil {
		t.Fatal(err)
	}
	var cats, catIDs []string
	for i := range 3 {
		c, err := svc.CreateCategory(admin, catalog.CategoryInput{Name: fmt.Sprintf("Sub %d", i), ParentID: top.ID})
		if err != nil {
			t.Fatal(err)
		}
		cats = append(cats, c.ID)
		catIDs = append(catIDs, gid.Encode("Category", c.ID))
	}
	var productIDs, skus []string
	for i := range 6 {
		p, err := svc.CreateProduct(admin, catalog.ProductInput{
			Name: fmt.Sprintf("Product %d", i), Status: catalog.StatusActive,
			CategoryIDs: []string{cats[i%3]},
			Variants: []catalog.VariantInput{
				{SKU: fmt.Sprintf("P%d-A", i), Name: "A", Price: money.Money{Amount: 100, Currency: "USD"}},
				{SKU: fmt.Sprintf("P%d-B", i), Name: "B", Price: money.Money{Amount: 200, Currency: "USD"}},
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		productIDs = append(productIDs, gid.Encode("Product", p.ID))
		skus = append(skus, gid.Encode("Variant", p.Variants[1].SKU))
	}

	es := graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{Catalog: svc}})
	key, verifier := testenv.SigningKey(t)
	// variantsBySku is for services: the orders service's token.
	service := testenv.ServiceToken(t, key, "orders", "products", time.Hour, auth.ScopeVariantsRead)
	srv := httptest.NewServer(subgraph.Handler(es, subgraph.Options{Name: "products", Log: testenv.Logger(), Verifier: verifier,
		// A generous wait, so that a busy test machine does not split batches.
		Middleware: graph.Middleware(svc, 50*time.Millisecond)}))
	t.Cleanup(srv.Close)
	post := func(t *testing.T, query string, vars map[string]any) string {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+service)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out struct {
			Data   json.RawMessage
			Errors []any
		}
		if err := json.NewDecoder(res.Body).Decode(&out); err != nil || len(out.Errors) > 0 {
			t.Fatalf("%v %v", err, out.Errors)
		}
		return string(out.Data)
	}
	reps := func(typ string, ids []string) []map[string]any {
		var out []map[string]any
		for _, id := range ids {
			out = append(out, map[string]any{"__typename": typ, "id": id})
		}
		return out
	}

	tests := []struct {
		name  string
		query string
		vars  map[string]any
		want  map[string]int
	}{
		{
			name: "a page with categories, parents and variants' products",
			query: `{ products(first: 10) { edges { node { name
				categories { name parent { name parent { name } } }
				variants { sku product { name categories { name } } } } } } }`,
			// The page's products are already at hand; categories and then
			// their parents take one query each.
			want: map[string]int{"ListProducts": 1, "CategoriesByIDs": 2},
		},
		{
			name: "entities of every type",
			query: `query($reps: [_Any!]!) { _entities(representations: $reps) {
				... on Product { name categories { name } }
				... on Variant { sku product { name } }
				... on Category { name parent { name } } } }`,
			vars: map[string]any{"reps": append(append(reps("Product", productIDs), reps("Variant", skus)...),
				reps("Category", catIDs)...)},
			// Products and variants' products share one query (the
			// products are cached); variants one; categories (of products,
			// the ones asked for, their parents) at most two.
			want: map[string]int{"ProductsByIDs": 1, "ProductsBySKUs": 1, "CategoriesByIDs": 2},
		},
		{
			name:  "variants by SKU with their products",
			query: `{ variantsBySku(skus: ["P0-A", "P1-A", "P2-B", "P3-B", "nope"]) { sku product { name } } }`,
			want:  map[string]int{"ProductsBySKUs": 1, "ProductsByIDs": 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store.reset()
			data := post(t, tt.query, tt.vars)
			got := store.reset()
			for k, w := range tt.want {
				if got[k] > w {
					t.Errorf("%s: %d queries, want at most %d (all: %v)", k, got[k], w, got)
				}
			}
			for k := range got {
				if _, ok := tt.want[k]; !ok {
					t.Errorf("unexpected %s queries: %v", k, got)
				}
			}
			if len(data) < 50 {
				t.Errorf("data %s", data)
			}
		})
	}
}
