package cache_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopgraph/shopgraph/internal/money"
	"github.com/shopgraph/shopgraph/internal/testenv"
	"github.com/shopgraph/shopgraph/subgraphs/products/cache"
	"github.com/shopgraph/shopgraph/subgraphs/products/catalog"
	mongostore "github.com/shopgraph/shopgraph/subgraphs/products/mongo"
)

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// countingStore counts the reads that reach the real store.
type countingStore struct {
	catalog.Store
	reads atomic.Int64
}

func (s *countingStore) ProductsBySKUs(ctx context.Context, skus []string) ([]*catalog.Product, error) {
	s.reads.Add(1)
	return s.Store.ProductsBySKUs(ctx, skus)
}

func (s *countingStore) ProductsByIDs(ctx context.Context, ids []string) ([]*catalog.Product, error) {
	s.reads.Add(1)
	return s.Store.ProductsByIDs(ctx, ids)
}

func (s *countingStore) ListProducts(ctx context.Context, q catalog.ProductQuery) ([]*catalog.Product, error) {
	s.reads.Add(1)
	return s.Store.ListProducts(ctx, q)
}

// replicas returns n caches, each over its own store on one database, as n
// replicas of the products service would be, subscribed to each other.
func replicas(t *testing.T, n int) ([]*cache.Store, []*countingStore) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	db := testenv.Mongo(t, "cache")
	rdb, prefix := testenv.Redis(t)
	var cs []*cache.Store
	var stores []*countingStore
	for range n {
		ms, err := mongostore.NewStore(ctx, db, testenv.Logger(), func() time.Time { return t0 })
		if err != nil {
			t.Fatal(err)
		}
		st := &countingStore{Store: ms}
		c, err := cache.New(st, cache.Options{Redis: rdb, Channel: prefix + "catalog:changed", Log: testenv.Logger()})
		if err != nil {
			t.Fatal(err)
		}
		go func() { _ = c.Listen(ctx) }()
		cs, stores = append(cs, c), append(stores, st)
	}
	for _, c := range cs {
		waitFor(t, time.Second, c.Subscribed)
	}
	return cs, stores
}

func waitFor(t *testing.T, d time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s", d)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func priceOf(t *testing.T, s catalog.Store, sku string) int64 {
	t.Helper()
	ps, err := s.ProductsBySKUs(context.Background(), []string{sku})
	if err != nil || len(ps) != 1 {
		t.Fatalf("ProductsBySKUs(%s) = %v, %v", sku, ps, err)
	}
	return ps[0].Variant(sku).Price.Amount
}

func newProduct(slug, sku string, amount int64) *catalog.Product {
	return &catalog.Product{Name: slug, Slug: slug, Status: catalog.StatusActive, CategoryIDs: []string{},
		CreatedAt: t0, UpdatedAt: t0,
		Variants: []catalog.Variant{{SKU: sku, Name: sku, Price: money.Money{Amount: amount, Currency: "USD"}}}}
}

func setPrice(sku string, amount int64) func(*catalog.Product) error {
	return func(p *catalog.Product) error {
		p.Variant(sku).Price.Amount = amount
		return nil
	}
}

// TestReplicasSeeEachOthersChanges: two replicas on one store serve reads
// from memory; a price change on one is served at once by it and by the
// other within the bound (a pub/sub delivery; the test allows 1 s).
func TestReplicasSeeEachOthersChanges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cs, stores := replicas(t, 2)
	a, b := cs[0], cs[1]
	p := newProduct("mug", "MUG-1", 1000)
	if err := a.CreateProduct(ctx, p); err != nil {
		t.Fatal(err)
	}
	// b reads the store once, then serves from memory (once the create's
	// own invalidation has reached it).
	waitFor(t, time.Second, func() bool {
		before := stores[1].reads.Load()
		for range 5 {
			if got := priceOf(t, b, "MUG-1"); got != 1000 {
				t.Fatalf("price %d, want 1000", got)
			}
		}
		return stores[1].reads.Load()-before <= 1
	})
	if got := priceOf(t, a, "MUG-1"); got != 1000 {
		t.Fatalf("price on a %d, want 1000", got)
	}

	if _, err := a.UpdateProduct(ctx, p.ID, setPrice("MUG-1", 1250)); err != nil {
		t.Fatal(err)
	}
	if got := priceOf(t, a, "MUG-1"); got != 1250 {
		t.Errorf("the writer serves %d right after its change, want 1250", got)
	}
	start := time.Now()
	waitFor(t, time.Second, func() bool { return priceOf(t, b, "MUG-1") == 1250 })
	t.Logf("the other replica served the new price after %s", time.Since(start))

	// And the other way round, by ID.
	if _, err := b.UpdateProduct(ctx, p.ID, setPrice("MUG-1", 900)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Second, func() bool {
		ps, err := a.ProductsByIDs(ctx, []string{p.ID})
		return err == nil && len(ps) == 1 && ps[0].Variants[0].Price.Amount == 900
	})
}

// TestCacheKeepsNothingReadAcrossAChange: a change empties the writer's
// cache, lists and absent keys included.
func TestCacheKeepsNothingReadAcrossAChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cs, stores := replicas(t, 1)
	c := cs[0]
	q := catalog.ProductQuery{Statuses: []catalog.Status{catalog.StatusActive}, Sort: catalog.SortNewest, Limit: 10}
	tests := []struct {
		name string
		read func() int // how many products it finds
	}{
		{"list", func() int {
			ps, err := c.ListProducts(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			return len(ps)
		}},
		{"absent SKU", func() int {
			ps, err := c.ProductsBySKUs(ctx, []string{"LAMP-1"})
			if err != nil {
				t.Fatal(err)
			}
			return len(ps)
		}},
		{"absent slug", func() int {
			if _, err := c.ProductBySlug(ctx, "lamp"); err != nil {
				return 0
			}
			return 1
		}},
	}
	for _, tt := range tests {
		if got := tt.read(); got != 0 {
			t.Fatalf("%s: %d products before, want 0", tt.name, got)
		}
	}
	before := stores[0].reads.Load()
	tests[0].read()
	tests[1].read()
	if n := stores[0].reads.Load() - before; n != 0 {
		t.Fatalf("%d store reads for cached reads, want 0", n)
	}
	if err := c.CreateProduct(ctx, newProduct("lamp", "LAMP-1", 500)); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		if got := tt.read(); got != 1 {
			t.Errorf("%s: %d products after the create, want 1", tt.name, got)
		}
	}
}
