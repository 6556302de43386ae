package cache_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/shopgraph/shopgraph/internal/money"
	"github.com/shopgraph/shopgraph/internal/testenv"
	"github.com/shopgraph/shopgraph/subgraphs/products/cache"
	"github.com/shopgraph/shopgraph/subgraphs/products/catalog"
	mongostore "github.com/shopgraph/shopgraph/subgraphs/products/mongo"
)

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// countingStore counts the reads that reach the real store, and lets a test
// step into them.
type countingStore struct {
	catalog.Store
	reads atomic.Int64
	// scans counts the passes over the catalog that have ended.
	scans atomic.Int64
	// afterRead, if set, runs after each read of the real store, before
	// the read returns what it read.
	afterRead atomic.Pointer[func()]
	// duringScan, if set, runs before a pass over the catalog gives its nth
	// product (from 0).
	duringScan atomic.Pointer[func(n int, p *catalog.Product)]
}

func (s *countingStore) read() {
	s.reads.Add(1)
	if f := s.afterRead.Load(); f != nil {
		(*f)()
	}
}

func (s *countingStore) ProductsBySKUs(ctx context.Context, skus []string) ([]*catalog.Product, error) {
	defer s.read()
	return s.Store.ProductsBySKUs(ctx, skus)
}

func (s *countingStore) ProductsByIDs(ctx context.Context, ids []string) ([]*catalog.Product, error) {
	defer s.read()
	return s.Store.ProductsByIDs(ctx, ids)
}

func (s *countingStore) ProductBySlug(ctx context.Context, slug string) (*catalog.Product, error) {
	defer s.read()
	return s.Store.ProductBySlug(ctx, slug)
}

func (s *countingStore) ListProducts(ctx context.Context, q catalog.ProductQuery) ([]*catalog.Product, error) {
	defer s.read()
	return s.Store.ListProducts(ctx, q)
}

func (s *countingStore) CountProducts(ctx context.Context, q catalog.ProductQuery) (int, error) {
	defer s.read()
	return s.Store.CountProducts(ctx, q)
}

func (s *countingStore) Categories(ctx context.Context) ([]*catalog.Category, error) {
	defer s.read()
	return s.Store.Categories(ctx)
}

// EachProduct implements catalog.Scanner with the real store's.
func (s *countingStore) EachProduct(ctx context.Context, fn func(*catalog.Product) error) error {
	defer s.scans.Add(1)
	n := 0
	return s.Store.(catalog.Scanner).EachProduct(ctx, func(p *catalog.Product) error {
		if f := s.duringScan.Load(); f != nil {
			(*f)(n, p)
		}
		n++
		return fn(p)
	})
}

// newStore returns a counting store over a mongo store on db, which holds
// seed (the seed products get their IDs).
func newStore(t *testing.T, db *mongo.Database, seed ...*catalog.Product) *countingStore {
	t.Helper()
	ms, err := mongostore.NewStore(context.Background(), db, testenv.Logger(), func() time.Time { return t0 })
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range seed {
		if err := ms.CreateProduct(context.Background(), p); err != nil {
			t.Fatal(err)
		}
	}
	return &countingStore{Store: ms}
}

// listen runs c.Listen until the test ends.
func listen(t *testing.T, c *cache.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.Listen(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// replicaSet is caches over one database, as replicas of the products
// service are, subscribed to each other on channel.
type replicaSet struct {
	caches  []*cache.Store
	stores  []*countingStore
	rdb     *redis.Client
	channel string
}

// replicas returns n replicas, each a cache over its own store, on a
// database that holds seed.
func replicas(t *testing.T, n int, seed ...*catalog.Product) *replicaSet {
	t.Helper()
	db := testenv.Mongo(t, "cache")
	rdb, prefix := testenv.Redis(t)
	r := &replicaSet{rdb: rdb, channel: prefix + "catalog:changed"}
	for i := range n {
		var st *countingStore
		if i == 0 {
			st = newStore(t, db, seed...)
		} else {
			st = newStore(t, db)
		}
		c, err := cache.New(st, cache.Options{Redis: rdb, Channel: r.channel, Log: testenv.Logger()})
		if err != nil {
			t.Fatal(err)
		}
		listen(t, c)
		r.caches, r.stores = append(r.caches, c), append(r.stores, st)
	}
	for _, c := range r.caches {
		waitFor(t, time.Second, c.Subscribed)
	}
	return r
}

// alone returns a cache without Redis, not yet listening, over a store on
// a database that holds seed.
func alone(t *testing.T, seed ...*catalog.Product) (*cache.Store, *countingStore) {
	t.Helper()
	st := newStore(t, testenv.Mongo(t, "cache"), seed...)
	c, err := cache.New(st, cache.Options{Log: testenv.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	return c, st
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

// storeReads returns how many reads of st read makes.
func storeReads(st *countingStore, read func()) int64 {
	before := st.reads.Load()
	read()
	return st.reads.Load() - before
}

// fromMemory waits until read is served without a store read: at most one
// more pub/sub delivery of what went before.
func fromMemory(t *testing.T, st *countingStore, read func()) {
	t.Helper()
	waitFor(t, time.Second, func() bool { return storeReads(st, read) == 0 })
}

func priceOf(t *testing.T, s catalog.Store, sku string) int64 {
	t.Helper()
	p := bySKU(t, s, sku)
	if p == nil {
		t.Fatalf("no product has SKU %s", sku)
	}
	return p.Variant(sku).Price.Amount
}

func byID(t *testing.T, s catalog.Store, id string) *catalog.Product {
	t.Helper()
	ps, err := s.ProductsByIDs(context.Background(), []string{id})
	if err != nil || len(ps) > 1 {
		t.Fatalf("ProductsByIDs(%s) = %v, %v", id, ps, err)
	}
	if len(ps) == 0 {
		return nil
	}
	return ps[0]
}

func bySKU(t *testing.T, s catalog.Store, sku string) *catalog.Product {
	t.Helper()
	ps, err := s.ProductsBySKUs(context.Background(), []string{sku})
	if err != nil || len(ps) > 1 {
		t.Fatalf("ProductsBySKUs(%s) = %v, %v", sku, ps, err)
	}
	if len(ps) == 0 {
		return nil
	}
	return ps[0]
}

func bySlug(s catalog.Store, slug string) *catalog.Product {
	p, err := s.ProductBySlug(context.Background(), slug)
	if err != nil {
		return nil
	}
	return p
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
	r := replicas(t, 2)
	a, b := r.caches[0], r.caches[1]
	p := newProduct("mug", "MUG-1", 1000)
	if err := a.CreateProduct(ctx, p); err != nil {
		t.Fatal(err)
	}
	// b reads the store once, then serves from memory (once the create's
	// own invalidation has reached it).
	waitFor(t, time.Second, func() bool {
		before := r.stores[1].reads.Load()
		for range 5 {
			if got := priceOf(t, b, "MUG-1"); got != 1000 {
				t.Fatalf("price %d, want 1000", got)
			}
		}
		return r.stores[1].reads.Load()-before <= 1
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
		p := byID(t, a, p.ID)
		return p != nil && p.Variants[0].Price.Amount == 900
	})
}

// TestCacheKeepsNothingReadAcrossAChange: what a create touches on the
// writer, lists and the SKU and slug that were absent, is read anew.
func TestCacheKeepsNothingReadAcrossAChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := replicas(t, 1)
	c, st := r.caches[0], r.stores[0]
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
	for _, tt := range tests {
		if n := storeReads(st, func() { tt.read() }); n != 0 {
			t.Fatalf("%s: %d store reads for a cached read, want 0", tt.name, n)
		}
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

// TestChangeForgetsOnlyWhatItTouches: an update of one product (price,
// slug and a new SKU) is served at once by the writer and within the bound
// by the other replica, by ID, by each SKU and by slug, while another
// product stays in both replicas' memory.
func TestChangeForgetsOnlyWhatItTouches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	apple, bean := newProduct("apple", "APPLE-1", 100), newProduct("bean", "BEAN-1", 200)
	r := replicas(t, 2, apple, bean)
	readAll := func(c *cache.Store) func() {
		return func() {
			byID(t, c, apple.ID)
			byID(t, c, bean.ID)
			bySKU(t, c, "APPLE-1")
			bySKU(t, c, "APPLE-2")
			bySKU(t, c, "BEAN-1")
			bySlug(c, "apple")
			bySlug(c, "green-apple")
			bySlug(c, "bean")
		}
	}
	for i, c := range r.caches {
		fromMemory(t, r.stores[i], readAll(c))
	}

	_, err := r.caches[0].UpdateProduct(ctx, apple.ID, func(p *catalog.Product) error {
		p.Slug = "green-apple"
		p.Variant("APPLE-1").Price.Amount = 150
		p.Variants = append(p.Variants, catalog.Variant{SKU: "APPLE-2", Name: "APPLE-2",
			Price: money.Money{Amount: 300, Currency: "USD"}})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// updated describes how c's view of apple differs from the update; ""
	// when it does not.
	updated := func(c *cache.Store) string {
		if p := byID(t, c, apple.ID); p == nil || p.Slug != "green-apple" || len(p.Variants) != 2 {
			return fmt.Sprintf("by ID: %+v", p)
		}
		if got := priceOf(t, c, "APPLE-1"); got != 150 {
			return fmt.Sprintf("APPLE-1 costs %d", got)
		}
		if p := bySKU(t, c, "APPLE-2"); p == nil || p.ID != apple.ID {
			return fmt.Sprintf("APPLE-2 is %+v", p)
		}
		if p := bySlug(c, "green-apple"); p == nil || p.ID != apple.ID {
			return fmt.Sprintf("green-apple is %+v", p)
		}
		if p := bySlug(c, "apple"); p != nil {
			return "the old slug still finds it"
		}
		return ""
	}
	if diff := updated(r.caches[0]); diff != "" {
		t.Errorf("the writer right after its update: %s", diff)
	}
	start := time.Now()
	waitFor(t, time.Second, func() bool { return updated(r.caches[1]) == "" })
	t.Logf("the other replica served the update after %s", time.Since(start))

	// The other replica has handled the message (its cached apple is gone):
	// bean is still in memory on both.
	for i, c := range r.caches {
		n := storeReads(r.stores[i], func() {
			if p := byID(t, c, bean.ID); p == nil {
				t.Fatal("bean is gone")
			}
			if got := priceOf(t, c, "BEAN-1"); got != 200 {
				t.Errorf("BEAN-1 costs %d, want 200", got)
			}
			if p := bySlug(c, "bean"); p == nil {
				t.Error("bean is gone by slug")
			}
		})
		if n != 0 {
			t.Errorf("replica %d: %d store reads for the product that did not change, want 0", i, n)
		}
	}
}

// TestViewsFollowChanges: product pages, counts and the categories, read
// from memory, are read anew after a change, at once by the writer and
// within the bound by the other replica.
func TestViewsFollowChanges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	apple := newProduct("apple", "APPLE-1", 100)
	r := replicas(t, 2, apple)
	q := catalog.ProductQuery{Statuses: []catalog.Status{catalog.StatusActive}, Sort: catalog.SortNameAsc, Limit: 10}
	tests := []struct {
		name          string
		read          func(c *cache.Store) int
		before, after int
	}{
		{"product page", func(c *cache.Store) int {
			ps, err := c.ListProducts(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			return len(ps)
		}, 1, 0},
		{"count", func(c *cache.Store) int {
			n, err := c.CountProducts(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}, 1, 0},
		{"categories", func(c *cache.Store) int {
			cs, err := c.Categories(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return len(cs)
		}, 0, 1},
	}
	for i, c := range r.caches {
		for _, tt := range tests {
			if got := tt.read(c); got != tt.before {
				t.Fatalf("%s: %d before, want %d", tt.name, got, tt.before)
			}
			fromMemory(t, r.stores[i], func() { tt.read(c) })
		}
	}

	archived := catalog.StatusArchived
	if _, err := r.caches[0].UpdateProduct(ctx, apple.ID, func(p *catalog.Product) error {
		p.Status = archived
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := r.caches[0].CreateCategory(ctx, &catalog.Category{Slug: "fruit", Name: "Fruit", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		if got := tt.read(r.caches[0]); got != tt.after {
			t.Errorf("%s on the writer: %d after the changes, want %d", tt.name, got, tt.after)
		}
		waitFor(t, time.Second, func() bool { return tt.read(r.caches[1]) == tt.after })
	}
}

// TestCreateIsWrittenThrough: the writer serves a product it created by
// ID, SKU and slug without reading the store.
func TestCreateIsWrittenThrough(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := replicas(t, 1)
	c, st := r.caches[0], r.stores[0]
	p := newProduct("kettle", "KETTLE-1", 2500)
	if err := c.CreateProduct(ctx, p); err != nil {
		t.Fatal(err)
	}
	n := storeReads(st, func() {
		for name, got := range map[string]*catalog.Product{
			"by ID": byID(t, c, p.ID), "by SKU": bySKU(t, c, "KETTLE-1"), "by slug": bySlug(c, "kettle"),
		} {
			if got == nil || got.ID != p.ID || got.Variants[0].Price.Amount != 2500 || got.Variants[0].ProductID != p.ID {
				t.Errorf("%s: %+v", name, got)
			}
		}
	})
	if n != 0 {
		t.Errorf("%d store reads for the product just created, want 0", n)
	}
}

// TestWarmUp: a cache over a store that holds products serves them by ID,
// SKU and slug without reading the store once warmed up, by one pass over
// the catalog; with Redis (once subscribed) or without.
func TestWarmUp(t *testing.T) {
	t.Parallel()
	seed := func() []*catalog.Product {
		ps := make([]*catalog.Product, 40)
		for i := range ps {
			ps[i] = newProduct(fmt.Sprintf("p-%d", i), fmt.Sprintf("P%d-S", i), int64(100+i))
			ps[i].Variants = append(ps[i].Variants, catalog.Variant{SKU: fmt.Sprintf("P%d-M", i), Name: "M",
				Price: money.Money{Amount: int64(200 + i), Currency: "USD"}})
		}
		return ps
	}
	tests := []struct {
		name  string
		start func(t *testing.T, seed []*catalog.Product) (*cache.Store, *countingStore)
	}{
		{"subscribed", func(t *testing.T, seed []*catalog.Product) (*cache.Store, *countingStore) {
			r := replicas(t, 1, seed...)
			return r.caches[0], r.stores[0]
		}},
		{"without Redis", func(t *testing.T, seed []*catalog.Product) (*cache.Store, *countingStore) {
			c, st := alone(t, seed...)
			listen(t, c)
			return c, st
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			ps := seed()
			c, st := tt.start(t, ps)
			waitFor(t, 5*time.Second, func() bool { return c.Warmed() >= 1 })
			var ids, skus []string
			for _, p := range ps {
				ids = append(ids, p.ID)
				skus = append(skus, p.SKUs()...)
			}
			n := storeReads(st, func() {
				got, err := c.ProductsByIDs(ctx, ids)
				if err != nil || len(got) != len(ps) {
					t.Errorf("ProductsByIDs: %d products, %v; want %d", len(got), err, len(ps))
				}
				got, err = c.ProductsBySKUs(ctx, skus)
				if err != nil || len(got) != len(ps) {
					t.Errorf("ProductsBySKUs: %d products, %v; want %d", len(got), err, len(ps))
				}
				if p := bySlug(c, "p-7"); p == nil || p.ID != ps[7].ID {
					t.Errorf("by slug: %+v", p)
				}
				if got := priceOf(t, c, "P7-M"); got != 207 {
					t.Errorf("P7-M costs %d, want 207", got)
				}
			})
			if n != 0 {
				t.Errorf("%d store reads once warmed up, want 0", n)
			}
			if n := st.scans.Load(); n != 1 {
				t.Errorf("%d passes over the catalog, want 1", n)
			}
		})
	}
}

// TestWarmUpStopsAtAChange: a change during the warm-up stops it: the
// product changed is not put as it was read before the change, nor is
// anything read after it; what was put before stays.
func TestWarmUpStopsAtAChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ps := make([]*catalog.Product, 20)
	for i := range ps {
		ps[i] = newProduct(fmt.Sprintf("p-%d", i), fmt.Sprintf("P%d", i), 100)
	}
	c, st := alone(t, ps...)
	var order []*catalog.Product // as the pass gives them
	hook := func(n int, p *catalog.Product) {
		order = append(order, p)
		if n == 10 {
			if _, err := c.UpdateProduct(ctx, p.ID, setPrice(p.Variants[0].SKU, 175)); err != nil {
				t.Error(err)
			}
		}
	}
	st.duringScan.Store(&hook)
	listen(t, c)
	waitFor(t, 5*time.Second, func() bool { return st.scans.Load() == 1 })
	if c.Warmed() != 0 {
		t.Error("the warm-up ran to its end")
	}
	if len(order) != 11 {
		t.Fatalf("the pass gave %d products, want 11 (it stops at the change)", len(order))
	}
	for _, p := range order[:10] {
		if n := storeReads(st, func() { byID(t, c, p.ID) }); n != 0 {
			t.Errorf("%s, warmed before the change: %d store reads", p.Slug, n)
		}
	}
	if got := priceOf(t, c, order[10].Variants[0].SKU); got != 175 {
		t.Errorf("the product changed during the warm-up costs %d, want 175", got)
	}
	given := map[string]bool{}
	for _, p := range order {
		given[p.ID] = true
	}
	for _, p := range ps {
		if given[p.ID] {
			continue
		}
		if n := storeReads(st, func() { byID(t, c, p.ID) }); n != 1 {
			t.Errorf("%s, not reached by the warm-up: %d store reads, want 1", p.Slug, n)
		}
	}
}

// TestReadAcrossAChangeIsNotKept: a read that reached the store before a
// change and returns after it is not kept: the next read gets the change.
func TestReadAcrossAChangeIsNotKept(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := replicas(t, 1)
	c, st := r.caches[0], r.stores[0]
	waitFor(t, time.Second, func() bool { return c.Warmed() >= 1 })
	q := catalog.ProductQuery{Sort: catalog.SortNewest, Limit: 100}
	tests := []struct {
		name string
		// read returns the price c gives for the product with slug and SKU.
		read func(id, slug, sku string) int64
	}{
		{"by ID", func(id, _, _ string) int64 { return byID(t, c, id).Variants[0].Price.Amount }},
		{"by SKU", func(_, _, sku string) int64 { return priceOf(t, c, sku) }},
		{"by slug", func(_, slug, _ string) int64 {
			if p := bySlug(c, slug); p != nil {
				return p.Variants[0].Price.Amount
			}
			return -1
		}},
		{"product page", func(id, _, _ string) int64 {
			ps, err := c.ListProducts(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range ps {
				if p.ID == id {
					return p.Variants[0].Price.Amount
				}
			}
			t.Fatalf("%s is not listed", id)
			return 0
		}},
	}
	for i, tt := range tests {
		// Not parallel: the store's hook is shared.
		t.Run(tt.name, func(t *testing.T) {
			slug, sku := fmt.Sprintf("p-%d", i), fmt.Sprintf("P%d", i)
			p := newProduct(slug, sku, 100)
			// Behind the cache's back, so that it holds nothing of it.
			if err := st.Store.CreateProduct(ctx, p); err != nil {
				t.Fatal(err)
			}
			read, release := make(chan struct{}), make(chan struct{})
			hold := func() {
				st.afterRead.Store(nil)
				close(read)
				<-release
			}
			st.afterRead.Store(&hold)
			old := make(chan int64)
			go func() { old <- tt.read(p.ID, slug, sku) }()
			<-read
			if _, err := c.UpdateProduct(ctx, p.ID, setPrice(sku, 120)); err != nil {
				t.Fatal(err)
			}
			close(release)
			if got := <-old; got != 100 {
				t.Errorf("the read that began before the change got %d, want 100", got)
			}
			if got := tt.read(p.ID, slug, sku); got != 120 {
				t.Errorf("a read after the change got %d, want 120", got)
			}
		})
	}
}

// TestUnreadableMessageEmptiesTheCache: a message that does not say
// exactly what changed (garbage, an older replica's bare ID, a field this
// version does not know) empties the cache; one that does deletes only
// that.
func TestUnreadableMessageEmptiesTheCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	apple := newProduct("apple", "APPLE-1", 100)
	r := replicas(t, 1, apple)
	c, st := r.caches[0], r.stores[0]
	publish := func(payload string) {
		t.Helper()
		if err := r.rdb.Publish(ctx, r.channel, payload).Err(); err != nil {
			t.Fatal(err)
		}
	}
	readID := func() { byID(t, c, apple.ID) }
	for _, payload := range []string{
		"not json",
		"1767323045000000000-3",
		`{"writer":"other","product":"x","everything":true}`,
		`{"writer":"other"}`,
		`{"product":"` + apple.ID + `"}`,
		`{"writer":"other","product":"x"} {"writer":"other","product":"y"}`,
	} {
		fromMemory(t, st, readID)
		publish(payload)
		waitFor(t, time.Second, func() bool { return storeReads(st, readID) > 0 })
	}

	// A readable message deletes what it names only; messages are handled
	// in order.
	fromMemory(t, st, readID)
	fromMemory(t, st, func() { bySKU(t, c, "APPLE-1") })
	publish(`{"writer":"other","product":"000000000000000000000000"}`)
	publish(`{"writer":"other","skus":["APPLE-1"]}`)
	waitFor(t, time.Second, func() bool { return storeReads(st, func() { bySKU(t, c, "APPLE-1") }) > 0 })
	if n := storeReads(st, readID); n != 0 {
		t.Errorf("%d store reads by ID after messages that did not name it, want 0", n)
	}
}
