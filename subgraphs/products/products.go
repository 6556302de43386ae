// Package products is the products service: the catalog subgraph on
// MongoDB. New wires its store, domain and GraphQL handler.
package products

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/internal/subgraph"
	"github.com/shopgraph/shopgraph/subgraphs/products/cache"
	"github.com/shopgraph/shopgraph/subgraphs/products/catalog"
	"github.com/shopgraph/shopgraph/subgraphs/products/graph"
	mongostore "github.com/shopgraph/shopgraph/subgraphs/products/mongo"
)

// Config is what the products service needs.
type Config struct {
	// DB is the service's own database; the caller owns the client.
	DB *mongo.Database
	// Verifier checks bearer tokens; nil accepts none (everyone is anonymous).
	Verifier *auth.Verifier
	// Log defaults to slog.Default().
	Log *slog.Logger
	// Now defaults to time.Now.
	Now func() time.Time
	// Redis carries the read cache's invalidations between replicas, on
	// the channel RedisPrefix + "catalog:changed". Nil for one replica
	// only.
	Redis       *redis.Client
	RedisPrefix string
	// CacheSize is the most entries of the read cache; 0 for no cache.
	// CacheTTL is the longest an entry is served (cache.DefaultTTL if 0).
	CacheSize int
	CacheTTL  time.Duration
}

// Service is a running products service.
type Service struct {
	// Handler serves GraphQL at /graphql and liveness at /healthz.
	Handler http.Handler
	// Catalog is the domain service, for in-process callers such as seeding.
	Catalog *catalog.Service
	cache   *cache.Store
}

// New creates the store's indexes and returns the service.
func New(ctx context.Context, c Config) (*Service, error) {
	if c.DB == nil {
		return nil, errors.New("products: no database")
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	store, err := mongostore.NewStore(ctx, c.DB, c.Log, c.Now)
	if err != nil {
		return nil, err
	}
	var cs catalog.Store = store
	var rc *cache.Store
	if c.CacheSize > 0 {
		rc, err = cache.New(store, cache.Options{Size: c.CacheSize, TTL: c.CacheTTL,
			Redis: c.Redis, Channel: c.RedisPrefix + "catalog:changed", Log: c.Log})
		if err != nil {
			return nil, err
		}
		cs = rc
	}
	svc := catalog.NewService(cs, c.Now)
	es := graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{Catalog: svc}})
	h := subgraph.Handler(es, subgraph.Options{
		Name:       "products",
		Verifier:   c.Verifier,
		Log:        c.Log,
		Middleware: graph.Middleware(svc, graph.DefaultLoaderWait),
	})
	return &Service{Handler: h, Catalog: svc, cache: rc}, nil
}

// Run keeps the read cache subscribed to the other replicas' catalog
// changes until ctx ends (see cache.Store.Listen).
func (s *Service) Run(ctx context.Context) error {
	if s.cache == nil {
		<-ctx.Done()
		return nil
	}
	return s.cache.Listen(ctx)
}

// Close releases what the service holds. The database client belongs to the
// caller, so there is nothing yet; it is here so that every service is
// closed the same way.
func (s *Service) Close() {}
