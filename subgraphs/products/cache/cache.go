// Package cache is the products service's catalog read cache: a
// catalog.Store that serves reads (products by ID, slug and SKU, product
// pages and counts, categories) from a bounded in-process otter cache in
// front of the real store, and forgets everything it holds on every
// catalog change.
//
// Invalidation and staleness:
//
//   - A write through this Store (create or update of a product, which
//     includes archiving, or a new category) empties this replica's cache
//     before the write returns, and publishes a message on a Redis pub/sub
//     channel; every other replica (see Listen) empties its cache when the
//     message arrives, normally within a millisecond or two.
//   - A read that started before an invalidation does not put what it read
//     into the cache after it (entries carry the epoch they were read in).
//   - While a replica is not subscribed (at start, or after its Redis
//     connection broke) it does not use its cache at all: it reads the
//     store, and it empties the cache when it subscribes again.
//   - Every entry also expires TTL after it was read, a last bound should a
//     message be lost some other way.
//
// So a read on the writer's replica never sees data older than its own last
// write, and a read elsewhere is stale for at most the pub/sub delivery
// time (bounded by TTL). Checkout prices with variantsBySku, which is served
// from here: from the store or from an entry read after the last change
// this replica has heard of.
package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/subgraphs/products/catalog"
)

// Defaults of Options.
const (
	DefaultSize = 100_000
	DefaultTTL  = time.Minute
)

// Options configure a Store.
type Options struct {
	// Size is the most entries held; DefaultSize if 0.
	Size int
	// TTL is how long an entry is served at most; DefaultTTL if 0.
	TTL time.Duration
	// Redis carries invalidations between replicas on Channel. Nil for a
	// single replica: the cache is then used from the start, invalidated
	// by this replica's own writes only.
	Redis   *redis.Client
	Channel string
	// Log defaults to slog.Default().
	Log *slog.Logger
}

// Store is a catalog.Store that caches the reads of another.
type Store struct {
	next    catalog.Store
	c       *otter.Cache[string, entry]
	epoch   atomic.Uint64
	enabled atomic.Bool
	rdb     *redis.Client
	channel string
	id      string
	log     *slog.Logger
	// loads lets one read of a key reach the store at a time: the others
	// wait for it (a product page missed by many requests at once, after a
	// change, is one scan).
	loads singleflight.Group
}

var _ catalog.Store = (*Store)(nil)

type entry struct {
	epoch uint64
	v     any
}

// New returns a cache in front of next. With o.Redis, it serves nothing from
// memory until Listen has subscribed.
func New(next catalog.Store, o Options) (*Store, error) {
	if o.Size <= 0 {
		o.Size = DefaultSize
	}
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Redis != nil && o.Channel == "" {
		return nil, errors.New("catalog cache: a Redis client needs a channel")
	}
	c, err := otter.New(&otter.Options[string, entry]{
		MaximumSize:      o.Size,
		ExpiryCalculator: otter.ExpiryWriting[string, entry](o.TTL),
	})
	if err != nil {
		return nil, fmt.Errorf("catalog cache: %w", err)
	}
	s := &Store{next: next, c: c, rdb: o.Redis, channel: o.Channel, log: o.Log,
		id: fmt.Sprintf("%d-%d", time.Now().UnixNano(), randSeq.Add(1))}
	s.enabled.Store(o.Redis == nil)
	return s, nil
}

var randSeq atomic.Uint64

// Subscribed reports whether the cache is in use: always without Redis,
// else while Listen holds its subscription.
func (s *Store) Subscribed() bool { return s.enabled.Load() }

// Invalidate empties the cache: nothing read before it is served after it.
func (s *Store) Invalidate() {
	s.epoch.Add(1)
	s.c.InvalidateAll()
}

// changed invalidates this replica's cache and tells the others. A failed
// publish is logged: the others then serve what they hold for at most TTL.
func (s *Store) changed(ctx context.Context) {
	s.Invalidate()
	if s.rdb == nil {
		return
	}
	if err := s.rdb.Publish(context.WithoutCancel(ctx), s.channel, s.id).Err(); err != nil {
		s.log.ErrorContext(ctx, "catalog cache: publish invalidation", "err", err)
	}
}

// Listen keeps this replica subscribed to the invalidations of the others
// until ctx ends. The cache is used only while the subscription stands: it
// is emptied and bypassed when the connection breaks, and emptied again
// and used once subscribed again.
func (s *Store) Listen(ctx context.Context) error {
	if s.rdb == nil {
		<-ctx.Done()
		return nil
	}
	ps := s.rdb.Subscribe(ctx, s.channel)
	defer ps.Close()
	backoff := 50 * time.Millisecond
	for {
		msg, err := ps.ReceiveTimeout(ctx, 5*time.Second)
		if ctx.Err() != nil {
			return nil
		}
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout():
			// Quiet: check that the connection still answers.
			if err := ps.Ping(ctx); err != nil {
				s.down(ctx, err)
			}
			continue
		case err != nil:
			s.down(ctx, err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 2*time.Second)
			continue
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				s.Invalidate()
				s.enabled.Store(true)
				backoff = 50 * time.Millisecond
			}
		case *redis.Message:
			if m.Payload != s.id {
				s.Invalidate()
			}
		}
	}
}

func (s *Store) down(ctx context.Context, err error) {
	if s.enabled.Swap(false) {
		s.log.WarnContext(ctx, "catalog cache: invalidation feed lost; reading the store until it is back", "err", err)
	}
	s.Invalidate()
}

// cached returns the value under key, loading it with load on a miss. What
// load returns is kept only if no invalidation happened meanwhile.
func cached[T any](s *Store, key string, load func() (T, error)) (T, error) {
	if !s.enabled.Load() {
		return load()
	}
	epoch := s.epoch.Load()
	if e, ok := s.c.GetIfPresent(key); ok && e.epoch == epoch {
		return e.v.(T), nil
	}
	shared, err, _ := s.loads.Do(fmt.Sprintf("%d/%s", epoch, key), func() (any, error) {
		v, err := load()
		if err != nil {
			return nil, err
		}
		if s.epoch.Load() == epoch {
			s.c.Set(key, entry{epoch: epoch, v: v})
		}
		return v, nil
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return shared.(T), nil
}

// each returns the products under prefix+key for keys, loading the missing
// ones with one call of load. Keys load does not return are cached as
// absent.
func (s *Store) each(prefix string, keys []string, keyOf func(*catalog.Product) []string,
	load func([]string) ([]*catalog.Product, error)) ([]*catalog.Product, error) {
	if !s.enabled.Load() {
		return load(keys)
	}
	epoch := s.epoch.Load()
	found := map[string]*catalog.Product{}
	var missing []string
	for _, k := range keys {
		e, ok := s.c.GetIfPresent(prefix + k)
		if ok && e.epoch == epoch {
			if p := e.v.(*catalog.Product); p != nil {
				found[p.ID] = p
			}
			continue
		}
		missing = append(missing, k)
	}
	if len(missing) > 0 {
		ps, err := load(missing)
		if err != nil {
			return nil, err
		}
		byKey := map[string]*catalog.Product{}
		for _, p := range ps {
			found[p.ID] = p
			for _, k := range keyOf(p) {
				byKey[k] = p
			}
		}
		if s.epoch.Load() == epoch {
			for _, k := range missing {
				s.c.Set(prefix+k, entry{epoch: epoch, v: byKey[k]})
			}
		}
	}
	out := make([]*catalog.Product, 0, len(found))
	for _, p := range found {
		out = append(out, p)
	}
	return out, nil
}

// CreateProduct implements catalog.Store.
func (s *Store) CreateProduct(ctx context.Context, p *catalog.Product) error {
	defer s.changed(ctx)
	return s.next.CreateProduct(ctx, p)
}

// UpdateProduct implements catalog.Store.
func (s *Store) UpdateProduct(ctx context.Context, id string, fn func(*catalog.Product) error) (*catalog.Product, error) {
	defer s.changed(ctx)
	return s.next.UpdateProduct(ctx, id, fn)
}

// CreateCategory implements catalog.Store.
func (s *Store) CreateCategory(ctx context.Context, c *catalog.Category) error {
	defer s.changed(ctx)
	return s.next.CreateCategory(ctx, c)
}

// ProductsByIDs implements catalog.Store.
func (s *Store) ProductsByIDs(ctx context.Context, ids []string) ([]*catalog.Product, error) {
	return s.each("id:", ids, func(p *catalog.Product) []string { return []string{p.ID} },
		func(ids []string) ([]*catalog.Product, error) { return s.next.ProductsByIDs(ctx, ids) })
}

// ProductsBySKUs implements catalog.Store.
func (s *Store) ProductsBySKUs(ctx context.Context, skus []string) ([]*catalog.Product, error) {
	return s.each("sku:", skus, (*catalog.Product).SKUs,
		func(skus []string) ([]*catalog.Product, error) { return s.next.ProductsBySKUs(ctx, skus) })
}

// ProductBySlug implements catalog.Store.
func (s *Store) ProductBySlug(ctx context.Context, slug string) (*catalog.Product, error) {
	p, err := cached(s, "slug:"+slug, func() (*catalog.Product, error) {
		p, err := s.next.ProductBySlug(ctx, slug)
		if apperr.Code(err) == apperr.NotFound {
			return nil, nil
		}
		return p, err
	})
	if err == nil && p == nil {
		return nil, apperr.Errorf(apperr.NotFound, "there is no product with slug %q", slug)
	}
	return p, err
}

// ListProducts implements catalog.Store.
func (s *Store) ListProducts(ctx context.Context, q catalog.ProductQuery) ([]*catalog.Product, error) {
	key, err := json.Marshal(q)
	if err != nil {
		return s.next.ListProducts(ctx, q)
	}
	return cached(s, "list:"+string(key), func() ([]*catalog.Product, error) { return s.next.ListProducts(ctx, q) })
}

// CountProducts implements catalog.Store.
func (s *Store) CountProducts(ctx context.Context, q catalog.ProductQuery) (int, error) {
	q.After, q.Limit = nil, 0
	key, err := json.Marshal(q)
	if err != nil {
		return s.next.CountProducts(ctx, q)
	}
	return cached(s, "count:"+string(key), func() (int, error) { return s.next.CountProducts(ctx, q) })
}

// Categories implements catalog.Store.
func (s *Store) Categories(ctx context.Context) ([]*catalog.Category, error) {
	cs, err := cached(s, "categories", func() ([]*catalog.Category, error) { return s.next.Categories(ctx) })
	if err != nil {
		return nil, err
	}
	// Callers sort what they get: give each its own slice.
	return append([]*catalog.Category(nil), cs...), nil
}

// CategoriesByIDs implements catalog.Store: from the cached list of all
// categories, which is small.
func (s *Store) CategoriesByIDs(ctx context.Context, ids []string) ([]*catalog.Category, error) {
	all, err := s.Categories(ctx)
	if err != nil {
		return nil, err
	}
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	var out []*catalog.Category
	for _, c := range all {
		if want[c.ID] {
			out = append(out, c)
		}
	}
	return out, nil
}
