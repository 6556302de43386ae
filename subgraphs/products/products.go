// Package products is the products service: the catalog subgraph on
// MongoDB. New wires its store, domain and GraphQL handler.
package products

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/internal/subgraph"
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
}

// Service is a running products service.
type Service struct {
	// Handler serves GraphQL at /graphql and liveness at /healthz.
	Handler http.Handler
	// Catalog is the domain service, for in-process callers such as seeding.
	Catalog *catalog.Service
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
	svc := catalog.NewService(store, c.Now)
	es := graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{Catalog: svc}})
	h := subgraph.Handler(es, subgraph.Options{
		Name:       "products",
		Verifier:   c.Verifier,
		Log:        c.Log,
		Middleware: graph.Middleware(svc, graph.DefaultLoaderWait),
	})
	return &Service{Handler: h, Catalog: svc}, nil
}

// Close releases what the service holds. The database client belongs to the
// caller, so there is nothing yet; it is here so that every service is
// closed the same way.
func (s *Service) Close() {}
