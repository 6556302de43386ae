package mongo_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/internal/testenv"
	"github.com/shopgraph/shopgraph/subgraphs/products/catalog"
	mongostore "github.com/shopgraph/shopgraph/subgraphs/products/mongo"
)

// commandLog records the commands a client sends.
type commandLog struct {
	mu   sync.Mutex
	cmds []bson.Raw
	name []string
}

func (l *commandLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cmds, l.name = nil, nil
}

func (l *commandLog) get() ([]string, []bson.Raw) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.name), slices.Clone(l.cmds)
}

// monitoredStore returns a store on a fresh database through its own client,
// whose commands log records.
func monitoredStore(t *testing.T) (*mongostore.Store, *commandLog) {
	t.Helper()
	log := &commandLog{}
	mon := &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		log.mu.Lock()
		defer log.mu.Unlock()
		log.name = append(log.name, e.CommandName)
		log.cmds = append(log.cmds, slices.Clone(e.Command))
	}}
	client, err := mongo.Connect(options.Client().ApplyURI(testenv.MongoURI(t)).SetMonitor(mon))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	db := client.Database(testenv.Mongo(t, "lookup").Name())
	s, err := mongostore.NewStore(context.Background(), db, testenv.Logger(), func() time.Time { return t0 })
	if err != nil {
		t.Fatal(err)
	}
	testenv.MongoIndexIDLookups(t, db)
	return s, log
}

// TestLookupsReadByIDEquality is the store's contract for the read path:
// every lookup (by ID, slug or SKU) sends only finds whose filter is one
// `_id` equality, the only query FerretDB v1 answers from an index, so a
// lookup costs the same whatever the size of the catalog (see
// BenchmarkLookup for the figures). A claim that its product does not
// hold (left by a create that died half-way) is ignored.
func TestLookupsReadByIDEquality(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, log := monitoredStore(t)
	mug := product("Mug", "mug", "MUG-1", "MUG-2")
	lamp := product("Lamp", "lamp", "LAMP-1")
	for _, p := range []*catalog.Product{mug, lamp} {
		if err := s.CreateProduct(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	// Dangling index entries: to a product that does not exist, and to one
	// that does not have the SKU.
	if err := s.Claim(ctx, "sku:GHOST-1", "000000000000000000000000"); err != nil {
		t.Fatal(err)
	}
	if err := s.Claim(ctx, "sku:GHOST-2", lamp.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.Claim(ctx, "slug:ghost", mug.ID); err != nil {
		t.Fatal(err)
	}

	names := func(ps []*catalog.Product) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Name)
		}
		slices.Sort(out)
		return out
	}
	tests := []struct {
		name   string
		lookup func() ([]string, error)
		want   []string
	}{
		{"by IDs", func() ([]string, error) {
			ps, err := s.ProductsByIDs(ctx, []string{lamp.ID, "000000000000000000000000", mug.ID})
			return names(ps), err
		}, []string{"Lamp", "Mug"}},
		{"by SKUs, two of one product", func() ([]string, error) {
			ps, err := s.ProductsBySKUs(ctx, []string{"MUG-2", "NOPE", "MUG-1", "LAMP-1"})
			return names(ps), err
		}, []string{"Lamp", "Mug"}},
		{"by SKUs, dangling claims", func() ([]string, error) {
			ps, err := s.ProductsBySKUs(ctx, []string{"GHOST-1", "GHOST-2"})
			return names(ps), err
		}, nil},
		{"by slug", func() ([]string, error) {
			p, err := s.ProductBySlug(ctx, "lamp")
			if err != nil {
				return nil, err
			}
			return []string{p.Name}, nil
		}, []string{"Lamp"}},
		{"by dangling slug", func() ([]string, error) {
			_, err := s.ProductBySlug(ctx, "ghost")
			if apperr.Code(err) == apperr.NotFound {
				return nil, nil
			}
			return nil, fmt.Errorf("got %v, want NOT_FOUND", err)
		}, nil},
	}
	for _, tt := range tests {
		// Not parallel: the command log is shared.
		t.Run(tt.name, func(t *testing.T) {
			log.reset()
			got, err := tt.lookup()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("found %v, want %v", got, tt.want)
			}
			names, cmds := log.get()
			if len(cmds) == 0 {
				t.Fatal("no commands sent")
			}
			for i, cmd := range cmds {
				if names[i] != "find" {
					t.Errorf("command %d is %s, want find: %s", i, names[i], cmd)
					continue
				}
				filter, ok := cmd.Lookup("filter").DocumentOK()
				if !ok {
					t.Errorf("find %d has no filter: %s", i, cmd)
					continue
				}
				elems, _ := filter.Elements()
				if len(elems) != 1 || elems[0].Key() != "_id" || elems[0].Value().Type != bson.TypeString {
					t.Errorf("find %d filter %s, want one _id equality", i, filter)
				}
			}
		})
	}
}

// BenchmarkLookup times the request-path lookups on catalogs of 100 and
// 10,000 products: the cost per lookup stays flat. "scan" is the query the
// store used before, {skus: {$in: …}}, for comparison: it grows with the
// catalog on FerretDB v1.
//
//	go test -run '^$' -bench BenchmarkLookup -benchtime 200x ./subgraphs/products/mongo/
func BenchmarkLookup(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{100, 10_000} {
		if n > 100 && testing.Short() {
			break
		}
		db := testenv.Mongo(b, "bench")
		s, err := mongostore.NewStore(ctx, db, testenv.Logger(), func() time.Time { return t0 })
		if err != nil {
			b.Fatal(err)
		}
		testenv.MongoIndexIDLookups(b, db)
		ps := make([]*catalog.Product, n)
		for i := range ps {
			ps[i] = product(fmt.Sprintf("P %d", i), fmt.Sprintf("p-%d", i), fmt.Sprintf("P%d-S", i), fmt.Sprintf("P%d-M", i))
		}
		if err := s.SeedBulk(ctx, ps); err != nil {
			b.Fatal(err)
		}
		pick := func(i int) *catalog.Product { return ps[(i*7919)%n] }
		b.Run(fmt.Sprintf("catalog=%d/bySKU", n), func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				p := pick(i)
				got, err := s.ProductsBySKUs(ctx, []string{p.Variants[0].SKU})
				if err != nil || len(got) != 1 {
					b.Fatal(got, err)
				}
			}
		})
		b.Run(fmt.Sprintf("catalog=%d/byID", n), func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				got, err := s.ProductsByIDs(ctx, []string{pick(i).ID})
				if err != nil || len(got) != 1 {
					b.Fatal(got, err)
				}
			}
		})
		b.Run(fmt.Sprintf("catalog=%d/scan", n), func(b *testing.B) {
			if n > 100 {
				b.Skip("the scan takes seconds per read on 10,000 products")
			}
			for i := 0; b.Loop(); i++ {
				cur, err := db.Collection("products").Find(ctx, bson.M{"skus": bson.M{"$in": []string{pick(i).Variants[0].SKU}}})
				if err != nil {
					b.Fatal(err)
				}
				var docs []bson.Raw
				if err := cur.All(ctx, &docs); err != nil || len(docs) != 1 {
					b.Fatal(len(docs), err)
				}
			}
		})
	}
}

// TestEachProductIsOneFind: a pass over the catalog is one find without
// filter or sort, continued by getMores, and gives every product once, with
// its variants pointing at it; an error of fn stops it.
func TestEachProductIsOneFind(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, log := monitoredStore(t)
	ps := make([]*catalog.Product, 600) // more than one batch
	for i := range ps {
		ps[i] = product(fmt.Sprintf("P %d", i), fmt.Sprintf("p-%d", i), fmt.Sprintf("P%d-S", i), fmt.Sprintf("P%d-M", i))
	}
	if err := s.SeedBulk(ctx, ps); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("enough")
	tests := []struct {
		name    string
		stopAt  int // fn fails on this call; 0 for never
		wantErr error
		want    int // calls of fn
	}{
		{"whole catalog", 0, nil, len(ps)},
		{"stopped by fn", 3, stop, 3},
	}
	for _, tt := range tests {
		// Not parallel: the command log is shared.
		t.Run(tt.name, func(t *testing.T) {
			log.reset()
			seen := map[string]bool{}
			calls := 0
			err := s.EachProduct(ctx, func(p *catalog.Product) error {
				if calls++; calls == tt.stopAt {
					return stop
				}
				if seen[p.ID] {
					t.Errorf("product %s given twice", p.ID)
				}
				seen[p.ID] = true
				for _, v := range p.Variants {
					if v.ProductID != p.ID {
						t.Errorf("variant %s points at %q, want %s", v.SKU, v.ProductID, p.ID)
					}
				}
				return nil
			})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("EachProduct = %v, want %v", err, tt.wantErr)
			}
			if calls != tt.want {
				t.Errorf("fn called %d times, want %d", calls, tt.want)
			}
			names, cmds := log.get()
			if len(names) == 0 || names[0] != "find" {
				t.Fatalf("commands %v, want a find first", names)
			}
			filter, _ := cmds[0].Lookup("filter").DocumentOK()
			if elems, _ := filter.Elements(); len(elems) != 0 {
				t.Errorf("find filter %s, want none", filter)
			}
			if _, err := cmds[0].LookupErr("sort"); err == nil {
				t.Errorf("find %s sorts", cmds[0])
			}
			for i, name := range names[1:] {
				if name != "getMore" && name != "killCursors" {
					t.Errorf("command %d is %s, want getMore or killCursors", i+1, name)
				}
			}
		})
	}
}
