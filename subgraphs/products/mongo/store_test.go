package mongo_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/internal/money"
	"github.com/shopgraph/shopgraph/internal/testenv"
	"github.com/shopgraph/shopgraph/subgraphs/products/catalog"
	mongostore "github.com/shopgraph/shopgraph/subgraphs/products/mongo"
)

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func newStore(t *testing.T, now func() time.Time) *mongostore.Store {
	t.Helper()
	db := testenv.Mongo(t, "catalog")
	if now == nil {
		now = func() time.Time { return t0 }
	}
	s, err := mongostore.NewStore(context.Background(), db, testenv.Logger(), now)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func product(name, slug string, skus ...string) *catalog.Product {
	p := &catalog.Product{Name: name, Slug: slug, Status: catalog.StatusActive,
		CategoryIDs: []string{}, CreatedAt: t0, UpdatedAt: t0}
	for i, sku := range skus {
		p.Variants = append(p.Variants, catalog.Variant{SKU: sku, Name: sku,
			Price: money.Money{Amount: int64(100 * (i + 1)), Currency: "USD"}})
	}
	return p
}

func TestCreateProductKeepsKeysUnique(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t, nil)
	first := product("First", "first", "A-1", "A-2")
	if err := s.CreateProduct(ctx, first); err != nil {
		t.Fatal(err)
	}
	if first.ID == "" {
		t.Fatal("no ID assigned")
	}
	tests := []struct {
		name  string
		p     *catalog.Product
		field string
	}{
		{"same SKU", product("Second", "second", "B-1", "A-2"), "sku"},
		{"same slug", product("Second", "first", "B-1"), "slug"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.CreateProduct(ctx, tt.p)
			ae, ok := apperr.As(err)
			if !ok || ae.Code != apperr.Conflict || ae.Field != tt.field {
				t.Fatalf("got %v, want CONFLICT on %s", err, tt.field)
			}
			ps, err := s.ProductsBySKUs(ctx, []string{"B-1"})
			if err != nil || len(ps) != 0 {
				t.Fatalf("rejected product stored: %v %v", ps, err)
			}
		})
	}
	// B-1 and "second" were released: they can be used now.
	if err := s.CreateProduct(ctx, product("Second", "second", "B-1")); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentCreatesOfOneSKU(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t, nil)
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = s.CreateProduct(ctx, product(fmt.Sprintf("P%d", i), fmt.Sprintf("p%d", i), fmt.Sprintf("OWN-%d", i), "SHARED"))
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch apperr.Code(err) {
		case "":
			won++
		case apperr.Conflict:
		default:
			t.Errorf("unexpected error %v", err)
		}
	}
	ps, err := s.ProductsBySKUs(ctx, []string{"SHARED"})
	if err != nil {
		t.Fatal(err)
	}
	if won != 1 || len(ps) != 1 {
		t.Fatalf("%d creates succeeded, %d products hold the SKU; want 1 and 1", won, len(ps))
	}
}

func TestConcurrentUpdatesLoseNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t, nil)
	p := product("Many", "many", "BASE")
	if err := s.CreateProduct(ctx, p); err != nil {
		t.Fatal(err)
	}
	const n = 6
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, err := s.UpdateProduct(ctx, p.ID, func(p *catalog.Product) error {
				p.Variants = append(p.Variants, catalog.Variant{SKU: fmt.Sprintf("ADD-%d", i), Name: "x",
					Price: money.Money{Amount: 1, Currency: "USD"}})
				return nil
			})
			if err != nil {
				t.Errorf("update %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	ps, err := s.ProductsByIDs(ctx, []string{p.ID})
	if err != nil || len(ps) != 1 {
		t.Fatal(ps, err)
	}
	got := ps[0].SKUs()
	slices.Sort(got)
	want := []string{"ADD-0", "ADD-1", "ADD-2", "ADD-3", "ADD-4", "ADD-5", "BASE"}
	if !slices.Equal(got, want) {
		t.Errorf("SKUs %v, want %v", got, want)
	}
	// Every added SKU is claimed: another product cannot take one.
	if err := s.CreateProduct(ctx, product("Other", "other", "ADD-3")); apperr.Code(err) != apperr.Conflict {
		t.Errorf("got %v, want CONFLICT", err)
	}
}

func TestUpdateProduct(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t, nil)
	a, b := product("A", "a", "A-1"), product("B", "b", "B-1")
	for _, p := range []*catalog.Product{a, b} {
		if err := s.CreateProduct(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("unknown product", func(t *testing.T) {
		_, err := s.UpdateProduct(ctx, "nope", func(*catalog.Product) error { return nil })
		if apperr.Code(err) != apperr.NotFound {
			t.Errorf("got %v", err)
		}
	})
	t.Run("fn's error", func(t *testing.T) {
		want := apperr.Invalid("name", "bad")
		_, err := s.UpdateProduct(ctx, a.ID, func(*catalog.Product) error { return want })
		if err != want {
			t.Errorf("got %v", err)
		}
	})
	t.Run("taken slug", func(t *testing.T) {
		_, err := s.UpdateProduct(ctx, a.ID, func(p *catalog.Product) error { p.Slug = "b"; return nil })
		if ae, ok := apperr.As(err); !ok || ae.Code != apperr.Conflict || ae.Field != "slug" {
			t.Errorf("got %v", err)
		}
	})
	t.Run("removing a variant is refused", func(t *testing.T) {
		_, err := s.UpdateProduct(ctx, a.ID, func(p *catalog.Product) error {
			p.Variants[0].SKU = "A-2"
			return nil
		})
		if err == nil {
			t.Fatal("a variant was removed")
		}
		// A-2 was not kept for A.
		if err := s.CreateProduct(ctx, product("C", "c", "A-2")); err != nil {
			t.Errorf("A-2: %v", err)
		}
	})
	t.Run("slug change", func(t *testing.T) {
		got, err := s.UpdateProduct(ctx, a.ID, func(p *catalog.Product) error { p.Slug = "a2"; return nil })
		if err != nil || got.Slug != "a2" || got.Variants[0].ProductID != a.ID {
			t.Fatalf("got %+v, %v", got, err)
		}
		if _, err := s.ProductBySlug(ctx, "a"); apperr.Code(err) != apperr.NotFound {
			t.Errorf("old slug: %v", err)
		}
		if err := s.CreateProduct(ctx, product("D", "a", "D-1")); err != nil {
			t.Errorf("old slug not released: %v", err)
		}
	})
}

// TestOrphanedClaimIsReclaimed stages what a crash between claiming a SKU
// and writing the product leaves behind.
func TestOrphanedClaimIsReclaimed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var mu sync.Mutex
	now := t0
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	db := testenv.Mongo(t, "catalog")
	s, err := mongostore.NewStore(ctx, db, testenv.Logger(), clock)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Collection("claims").InsertOne(ctx, bson.M{"_id": "sku:LOST-1", "productId": "crashed", "at": t0}); err != nil {
		t.Fatal(err)
	}
	// A fresh claim may belong to a create in flight: it holds.
	if err := s.CreateProduct(ctx, product("New", "new", "LOST-1")); apperr.Code(err) != apperr.Conflict {
		t.Fatalf("got %v, want CONFLICT", err)
	}
	mu.Lock()
	now = t0.Add(2 * time.Minute)
	mu.Unlock()
	if err := s.CreateProduct(ctx, product("New", "new", "LOST-1")); err != nil {
		t.Fatalf("orphaned claim not reclaimed: %v", err)
	}
	// A claim whose product holds the key is never reclaimed.
	mu.Lock()
	now = t0.Add(time.Hour)
	mu.Unlock()
	if err := s.CreateProduct(ctx, product("Newer", "newer", "LOST-1")); apperr.Code(err) != apperr.Conflict {
		t.Fatalf("got %v, want CONFLICT", err)
	}
}

func TestListProducts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t, nil)
	mk := func(name string, price int64, cur string, status catalog.Status, cats ...string) *catalog.Product {
		p := product(name, catalog.Slugify(name), catalog.NormalizeSKU(catalog.Slugify(name)))
		p.Variants[0].Price = money.Money{Amount: price, Currency: cur}
		p.Status, p.CategoryIDs = status, append([]string{}, cats...)
		p.Description = "about " + name
		if err := s.CreateProduct(ctx, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	mk("Apple", 300, "USD", catalog.StatusActive, "fruit")
	mk("banana", 100, "USD", catalog.StatusActive, "fruit")
	mk("Cherry", 200, "EUR", catalog.StatusActive, "fruit", "red")
	mk("Date", 200, "USD", catalog.StatusDraft)
	mk("Elder [berry]", 500, "USD", catalog.StatusArchived, "red")
	i64 := func(v int64) *int64 { return &v }
	tests := []struct {
		name string
		q    catalog.ProductQuery
		want []string
	}{
		{"all by name", catalog.ProductQuery{Sort: catalog.SortNameAsc}, []string{"Apple", "banana", "Cherry", "Date", "Elder [berry]"}},
		{"active", catalog.ProductQuery{Sort: catalog.SortNameDesc, Statuses: []catalog.Status{catalog.StatusActive}}, []string{"Cherry", "banana", "Apple"}},
		{"categories", catalog.ProductQuery{Sort: catalog.SortNameAsc, CategoryIDs: []string{"red"}}, []string{"Cherry", "Elder [berry]"}},
		{"no categories", catalog.ProductQuery{Sort: catalog.SortNameAsc, CategoryIDs: []string{}}, nil},
		{"currency and price", catalog.ProductQuery{Sort: catalog.SortPriceAsc, Currency: "USD", MinPrice: i64(150), MaxPrice: i64(300)}, []string{"Date", "Apple"}},
		{"search", catalog.ProductQuery{Sort: catalog.SortNameAsc, Search: "[BERRY]"}, []string{"Elder [berry]"}},
		{"search description", catalog.ProductQuery{Sort: catalog.SortNameAsc, Search: "about b"}, []string{"banana"}},
		{"limit", catalog.ProductQuery{Sort: catalog.SortPriceDesc, Limit: 2}, []string{"Elder [berry]", "Apple"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.q.Limit == 0 {
				tt.q.Limit = 100
			}
			ps, err := s.ListProducts(ctx, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range ps {
				got = append(got, p.Name)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			n, err := s.CountProducts(ctx, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if tt.q.Limit == 100 && n != len(tt.want) {
				t.Errorf("count %d, want %d", n, len(tt.want))
			}
		})
	}
}

// TestNewStoreAgain opens the store a second time on the same database, as
// every start after the first does: its indexes exist already.
func TestNewStoreAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testenv.Mongo(t, "catalog")
	first, err := mongostore.NewStore(ctx, db, testenv.Logger(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.CreateProduct(ctx, product("Kept", "kept", "KEPT-1")); err != nil {
		t.Fatal(err)
	}
	again, err := mongostore.NewStore(ctx, db, testenv.Logger(), nil)
	if err != nil {
		t.Fatalf("second start: %v", err)
	}
	if _, err := again.ProductBySlug(ctx, "kept"); err != nil {
		t.Fatal(err)
	}
	if err := again.CreateProduct(ctx, product("Other", "kept", "KEPT-2")); apperr.Code(err) != apperr.Conflict {
		t.Errorf("slug uniqueness lost: %v", err)
	}
}
