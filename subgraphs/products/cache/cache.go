// Package cache is the products service's catalog read cache: a
// catalog.Store that serves reads (products by ID, slug and SKU, product
// pages and counts, categories) from bounded in-process otter caches in
// front of the real store. A change forgets only what it touches.
//
// What it holds:
//
//   - Products by ID, by each SKU and by slug (and that there is none), and
//     the list of categories. A change of a product deletes the entries
//     under its ID, under every SKU it had before or has after, and under
//     its old and new slug; a new category deletes the list of categories.
//   - Views read from many products at once, product pages and counts, in
//     a second cache that every change empties as a whole.
//   - A product created through this Store is put under its ID, SKUs and
//     slug at once (write-through): no one can hold an older version of a
//     product that did not exist, and its ID is unknown to clients until
//     the create returns. An update only deletes, so that two updates do not
//     race to put their results.
//   - When the cache becomes usable (see Listen), the catalog is loaded into
//     it in the background in one pass over the store, if the store is a
//     catalog.Scanner, up to the cache's size. The pass stops at the first
//     change; reads fill in the rest.
//
// Invalidation and staleness:
//
//   - A write through this Store (create or update of a product, which
//     includes archiving, or a new category) deletes what it touched from
//     this replica's cache before the write returns, and publishes a
//     message naming it on a Redis pub/sub channel; every other replica
//     (see Listen) deletes the same when the message arrives, normally
//     within a millisecond or two. A message a replica cannot read (from
//     an older version, say, which sends only its own ID) empties its
//     whole cache.
//   - A read that started before an invalidation does not put what it read
//     into the cache after it: every change bumps an epoch, and a read puts
//     only if the epoch is the one it started in, checked and written under
//     a lock that a change holds while it bumps the epoch and deletes.
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
// of that product this replica has heard of.
package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
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
	DefaultTTL  = 10 * time.Minute
)

// Options configure a Store.
type Options struct {
	// Size is the most entries held; DefaultSize if 0. A tenth of them (at
	// least one) are views, the rest products by ID, SKU or slug.
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
	next catalog.Store
	// scan is next as a catalog.Scanner, for the warm-up; nil if it is none.
	scan catalog.Scanner
	// keys holds products by "id:", "sku:" and "slug:" keys (a nil product
	// where there is none) and the categories; at most keysMax entries.
	keys    *otter.Cache[string, any]
	keysMax int
	// views holds product pages and counts.
	views *otter.Cache[string, any]
	// mu orders puts against changes: a put checks the epoch and writes
	// under mu.RLock; a change bumps the epoch and deletes under mu.Lock.
	mu      sync.RWMutex
	epoch   atomic.Uint64
	enabled atomic.Bool
	warmed  atomic.Uint64
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
	viewsMax := max(o.Size/10, 1)
	keysMax := max(o.Size-viewsMax, 1)
	newCache := func(size int) (*otter.Cache[string, any], error) {
		return otter.New(&otter.Options[string, any]{
			MaximumSize:      size,
			ExpiryCalculator: otter.ExpiryWriting[string, any](o.TTL),
		})
	}
	keys, err := newCache(keysMax)
	if err != nil {
		return nil, fmt.Errorf("catalog cache: %w", err)
	}
	views, err := newCache(viewsMax)
	if err != nil {
		return nil, fmt.Errorf("catalog cache: %w", err)
	}
	s := &Store{next: next, keys: keys, keysMax: keysMax, views: views,
		rdb: o.Redis, channel: o.Channel, log: o.Log,
		id: fmt.Sprintf("%d-%d", time.Now().UnixNano(), randSeq.Add(1))}
	s.scan, _ = next.(catalog.Scanner)
	s.enabled.Store(o.Redis == nil)
	return s, nil
}

var randSeq atomic.Uint64

// Subscribed reports whether the cache is in use: always without Redis,
// else while Listen holds its subscription.
func (s *Store) Subscribed() bool { return s.enabled.Load() }

// Warmed returns how many warm-ups have run to their end: through the
// whole catalog, or until the cache was full.
func (s *Store) Warmed() uint64 { return s.warmed.Load() }

// Invalidate empties the cache: nothing read before it is served after it.
func (s *Store) Invalidate() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.epoch.Add(1)
	s.keys.InvalidateAll()
	s.views.InvalidateAll()
}

// Keys of the keys cache.
func idKey(id string) string     { return "id:" + id }
func skuKey(sku string) string   { return "sku:" + sku }
func slugKey(slug string) string { return "slug:" + slug }

const categoriesKey = "categories"

// productKeys returns the keys p is cached under: those a change of p
// touches.
func productKeys(p *catalog.Product) []string {
	ch := change{Product: p.ID}
	ch.add(p)
	return ch.keys()
}

// change is what a catalog change touched, and the message that tells the
// other replicas, as JSON. A message that does not decode into it, field
// for field, empties the cache of the replica that gets it.
type change struct {
	// Writer is the ID of the replica that made the change.
	Writer string `json:"writer"`
	// Product is the changed product's ID; SKUs the SKUs it had before or
	// has after, Slugs its slugs before and after.
	Product string   `json:"product,omitempty"`
	SKUs    []string `json:"skus,omitempty"`
	Slugs   []string `json:"slugs,omitempty"`
	// Categories is set for a change of the categories.
	Categories bool `json:"categories,omitempty"`
}

// add records p's SKUs and slug.
func (ch *change) add(p *catalog.Product) {
	for _, v := range p.Variants {
		if !slices.Contains(ch.SKUs, v.SKU) {
			ch.SKUs = append(ch.SKUs, v.SKU)
		}
	}
	if p.Slug != "" && !slices.Contains(ch.Slugs, p.Slug) {
		ch.Slugs = append(ch.Slugs, p.Slug)
	}
}

// keys returns the keys of the keys cache that ch touched.
func (ch *change) keys() []string {
	var keys []string
	if ch.Product != "" {
		keys = append(keys, idKey(ch.Product))
	}
	for _, sku := range ch.SKUs {
		keys = append(keys, skuKey(sku))
	}
	for _, slug := range ch.Slugs {
		keys = append(keys, slugKey(slug))
	}
	if ch.Categories {
		keys = append(keys, categoriesKey)
	}
	return keys
}

// parseChange decodes a message; ok is false unless it is one JSON change
// that names its writer and something it touched.
func parseChange(payload string) (ch change, ok bool) {
	d := json.NewDecoder(strings.NewReader(payload))
	d.DisallowUnknownFields()
	if err := d.Decode(&ch); err != nil || d.More() {
		return change{}, false
	}
	if ch.Writer == "" || len(ch.keys()) == 0 {
		return change{}, false
	}
	return ch, true
}

// forget deletes what ch touched and every view, then puts created (a
// product that did not exist before) under its keys unless the cache is
// bypassed.
func (s *Store) forget(ch change, created *catalog.Product) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.epoch.Add(1)
	for _, k := range ch.keys() {
		s.keys.Invalidate(k)
	}
	s.views.InvalidateAll()
	if created != nil && s.enabled.Load() {
		for _, k := range productKeys(created) {
			s.keys.Set(k, created)
		}
	}
}

// changed forgets ch on this replica (putting created, if not nil) and
// tells the others. A failed publish is logged: the others then serve what
// they hold for at most TTL.
func (s *Store) changed(ctx context.Context, ch change, created *catalog.Product) {
	s.forget(ch, created)
	if s.rdb == nil {
		return
	}
	ch.Writer = s.id
	msg, err := json.Marshal(ch)
	if err != nil {
		s.log.ErrorContext(ctx, "catalog cache: encode invalidation", "err", err)
		return
	}
	if err := s.rdb.Publish(context.WithoutCancel(ctx), s.channel, msg).Err(); err != nil {
		s.log.ErrorContext(ctx, "catalog cache: publish invalidation", "err", err)
	}
}

// put runs set, which writes entries read since epoch, unless the cache is
// bypassed or something changed since then; it reports whether it ran.
func (s *Store) put(epoch uint64, set func()) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.enabled.Load() || s.epoch.Load() != epoch {
		return false
	}
	set()
	return true
}

// Listen keeps this replica subscribed to the invalidations of the others
// until ctx ends. The cache is used only while the subscription stands: it
// is emptied and bypassed when the connection breaks, and emptied again
// and used once subscribed again. Each time it becomes usable (at once
// without Redis), Listen warms it up in the background; a warm-up ends with
// ctx, and before Listen returns.
func (s *Store) Listen(ctx context.Context) error {
	if s.rdb == nil {
		s.warm(ctx)
		<-ctx.Done()
		return nil
	}
	var warming sync.WaitGroup
	stopWarm := func() {}
	defer func() {
		stopWarm()
		warming.Wait()
	}()
	ps := s.rdb.Subscribe(ctx, s.channel)
	defer ps.Close()
	// A receive waits on the connection, not on ctx: closing it ends the
	// wait at once.
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() })
	defer stop()
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
				stopWarm()
				wctx, cancel := context.WithCancel(ctx)
				stopWarm = cancel
				warming.Go(func() { s.warm(wctx) })
			}
		case *redis.Message:
			ch, ok := parseChange(m.Payload)
			switch {
			case !ok:
				s.log.WarnContext(ctx, "catalog cache: unreadable invalidation; emptying the cache",
					"payload", m.Payload[:min(len(m.Payload), 200)])
				s.Invalidate()
			case ch.Writer != s.id:
				s.forget(ch, nil)
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

// Why a warm-up stopped early.
var (
	errFull    = errors.New("the cache is full")
	errChanged = errors.New("the catalog changed")
)

// warm loads the catalog into the cache in one pass over the store, if it
// is a catalog.Scanner: as many products as fit, and only while nothing
// changes (what was read before a change may be stale after it).
func (s *Store) warm(ctx context.Context) {
	if s.scan == nil {
		return
	}
	start := time.Now()
	epoch := s.epoch.Load()
	products, entries := 0, 0
	err := s.scan.EachProduct(ctx, func(p *catalog.Product) error {
		keys := productKeys(p)
		if entries+len(keys) > s.keysMax {
			return errFull
		}
		if !s.put(epoch, func() {
			for _, k := range keys {
				s.keys.Set(k, p)
			}
		}) {
			return errChanged
		}
		products++
		entries += len(keys)
		return nil
	})
	took := time.Since(start).Round(time.Millisecond)
	switch {
	case err == nil || errors.Is(err, errFull):
		s.warmed.Add(1)
		s.log.InfoContext(ctx, "catalog cache: warmed up", "products", products, "took", took, "full", err != nil)
	case errors.Is(err, errChanged):
		s.log.InfoContext(ctx, "catalog cache: warm-up stopped by a change; reads fill in the rest",
			"products", products, "took", took)
	case ctx.Err() != nil:
		s.log.DebugContext(ctx, "catalog cache: warm-up cancelled", "products", products, "took", took)
	default:
		s.log.WarnContext(ctx, "catalog cache: warm-up failed; reads fill in the rest",
			"products", products, "took", took, "err", err)
	}
}

// cached returns the value under key in c, loading it with load on a miss.
// What load returns is kept only if nothing changed meanwhile.
func cached[T any](s *Store, c *otter.Cache[string, any], key string, load func() (T, error)) (T, error) {
	if !s.enabled.Load() {
		return load()
	}
	epoch := s.epoch.Load()
	if v, ok := c.GetIfPresent(key); ok {
		return v.(T), nil
	}
	shared, err, _ := s.loads.Do(fmt.Sprintf("%d/%s", epoch, key), func() (any, error) {
		v, err := load()
		if err != nil {
			return nil, err
		}
		s.put(epoch, func() { c.Set(key, v) })
		return v, nil
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return shared.(T), nil
}

// each returns the products cached under key(k) for each of keys, loading
// the missing ones with one call of load; keyOf gives the keys a product
// answers to. Keys load does not return are cached as absent.
func (s *Store) each(key func(string) string, keys []string, keyOf func(*catalog.Product) []string,
	load func([]string) ([]*catalog.Product, error)) ([]*catalog.Product, error) {
	if !s.enabled.Load() {
		return load(keys)
	}
	epoch := s.epoch.Load()
	found := map[string]*catalog.Product{}
	var missing []string
	for _, k := range keys {
		if v, ok := s.keys.GetIfPresent(key(k)); ok {
			if p := v.(*catalog.Product); p != nil {
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
		s.put(epoch, func() {
			for _, k := range missing {
				s.keys.Set(key(k), byKey[k])
			}
		})
	}
	out := make([]*catalog.Product, 0, len(found))
	for _, p := range found {
		out = append(out, p)
	}
	return out, nil
}

// CreateProduct implements catalog.Store. The new product is put into this
// replica's cache. A create that failed may still have been stored (an
// answer lost on the way), so it is forgotten all the same.
func (s *Store) CreateProduct(ctx context.Context, p *catalog.Product) error {
	err := s.next.CreateProduct(ctx, p)
	ch := change{Product: p.ID}
	ch.add(p)
	var created *catalog.Product
	if err == nil {
		created = p.Clone()
		for i := range created.Variants {
			created.Variants[i].ProductID = created.ID
		}
	}
	s.changed(ctx, ch, created)
	return err
}

// UpdateProduct implements catalog.Store. It forgets the product under its
// ID and under the SKUs and slugs of the states fn saw and made, once fn
// has accepted a change (the store may have written it even if it then
// fails).
func (s *Store) UpdateProduct(ctx context.Context, id string, fn func(*catalog.Product) error) (*catalog.Product, error) {
	ch := change{Product: id}
	accepted := false
	p, err := s.next.UpdateProduct(ctx, id, func(p *catalog.Product) error {
		ch.add(p)
		if err := fn(p); err != nil {
			return err
		}
		ch.add(p)
		accepted = true
		return nil
	})
	if accepted || err == nil {
		s.changed(ctx, ch, nil)
	}
	return p, err
}

// CreateCategory implements catalog.Store.
func (s *Store) CreateCategory(ctx context.Context, c *catalog.Category) error {
	err := s.next.CreateCategory(ctx, c)
	s.changed(ctx, change{Categories: true}, nil)
	return err
}

// ProductsByIDs implements catalog.Store.
func (s *Store) ProductsByIDs(ctx context.Context, ids []string) ([]*catalog.Product, error) {
	return s.each(idKey, ids, func(p *catalog.Product) []string { return []string{p.ID} },
		func(ids []string) ([]*catalog.Product, error) { return s.next.ProductsByIDs(ctx, ids) })
}

// ProductsBySKUs implements catalog.Store.
func (s *Store) ProductsBySKUs(ctx context.Context, skus []string) ([]*catalog.Product, error) {
	return s.each(skuKey, skus, (*catalog.Product).SKUs,
		func(skus []string) ([]*catalog.Product, error) { return s.next.ProductsBySKUs(ctx, skus) })
}

// ProductBySlug implements catalog.Store.
func (s *Store) ProductBySlug(ctx context.Context, slug string) (*catalog.Product, error) {
	p, err := cached(s, s.keys, slugKey(slug), func() (*catalog.Product, error) {
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
	return cached(s, s.views, "list:"+string(key), func() ([]*catalog.Product, error) { return s.next.ListProducts(ctx, q) })
}

// CountProducts implements catalog.Store.
func (s *Store) CountProducts(ctx context.Context, q catalog.ProductQuery) (int, error) {
	q.After, q.Limit = nil, 0
	key, err := json.Marshal(q)
	if err != nil {
		return s.next.CountProducts(ctx, q)
	}
	return cached(s, s.views, "count:"+string(key), func() (int, error) { return s.next.CountProducts(ctx, q) })
}

// Categories implements catalog.Store.
func (s *Store) Categories(ctx context.Context) ([]*catalog.Category, error) {
	cs, err := cached(s, s.keys, categoriesKey, func() ([]*catalog.Category, error) { return s.next.Categories(ctx) })
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
