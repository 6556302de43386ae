// Package inventory is the inventory service: its GraphQL subgraph (stock
// levels, the Variant.stock field, admin stock queries and adjustStock), its
// side of the checkout saga (ReserveStock, CommitStock and ReleaseStock from
// contract.InventoryCommands, answered on contract.InventoryEvents), and the
// sweeper that expires reservations.
package inventory

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/internal/contract"
	"github.com/shopgraph/shopgraph/internal/events"
	"github.com/shopgraph/shopgraph/internal/graphqlclient"
	"github.com/shopgraph/shopgraph/internal/observability"
	"github.com/shopgraph/shopgraph/internal/subgraph"
	"github.com/shopgraph/shopgraph/subgraphs/inventory/catalog"
	"github.com/shopgraph/shopgraph/subgraphs/inventory/graph"
	inventorypg "github.com/shopgraph/shopgraph/subgraphs/inventory/postgres"
	"github.com/shopgraph/shopgraph/subgraphs/inventory/stock"
)

// ConsumerGroup is the consumer group of the inventory's command consumer.
const ConsumerGroup = "inventory"

// Config is what the inventory service needs.
type Config struct {
	// DB is the pool on the service's schema, opened with
	// postgres.Open(ctx, url, "inventory", inventorypg.Migrations, log).
	// New adds internal/events' outbox and inbox tables to it. Required.
	DB *pgxpool.Pool
	// Redis carries the saga's streams. Required by Run.
	Redis *redis.Client
	// StreamPrefix starts every stream name (the deployment's Redis prefix,
	// the same for every service so that their streams meet).
	StreamPrefix string
	// Catalog tells which SKUs exist; if nil, ProductsURL is asked.
	Catalog stock.Catalog
	// ProductsURL is the products subgraph's GraphQL endpoint, used when
	// Catalog is nil.
	ProductsURL string
	// Credentials, if set, get the service tokens that the calls to
	// products carry (OAuth2 client credentials); HTTPClient, if set, makes
	// those calls (e.g. one that trusts the services' CA).
	Credentials *auth.ServiceCredentials
	HTTPClient  *http.Client
	// Verifier checks bearer tokens; nil accepts none (every caller is
	// anonymous).
	Verifier *auth.Verifier
	// ReservationTTL is how long a reservation lasts when ReserveStock names
	// no expiry. Default stock.DefaultReservationTTL.
	ReservationTTL time.Duration
	// ReservationSweep is how often expired reservations are released.
	// Default 1 s.
	ReservationSweep time.Duration
	// Log; slog.Default() if nil.
	Log *slog.Logger
	// Now is the clock; time.Now if nil.
	Now func() time.Time
}

// Service is a running inventory service.
type Service struct {
	// Handler serves the subgraph: GraphQL at /graphql, liveness at /healthz.
	Handler http.Handler
	// Stock is the domain service, for callers in the same process.
	Stock *stock.Service

	cfg   Config
	store *inventorypg.Store
	log   *slog.Logger
}

// New builds the inventory service. It does not start the consumer, the
// relay or the sweeper: Run does.
func New(ctx context.Context, c Config) (*Service, error) {
	if c.DB == nil {
		return nil, errors.New("inventory: Config.DB is required")
	}
	if c.Catalog == nil {
		if c.ProductsURL == "" {
			return nil, errors.New("inventory: Config.Catalog or Config.ProductsURL is required")
		}
		var opts []graphqlclient.Option
		if c.Credentials != nil {
			opts = append(opts, graphqlclient.WithServiceToken(c.Credentials.TokenSource("products", auth.ScopeVariantsRead)))
		}
		c.Catalog = catalog.New(c.ProductsURL, c.HTTPClient, opts...)
	}
	if c.ReservationSweep <= 0 {
		c.ReservationSweep = time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if err := events.Migrate(ctx, c.DB, c.Log); err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	store := inventorypg.NewStore(c.DB)
	svc := stock.NewService(store, c.Catalog, stock.Options{ReservationTTL: c.ReservationTTL, Now: c.Now, Log: c.Log})
	es := graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{Stock: svc}})
	h := subgraph.Handler(es, subgraph.Options{
		Name:       "inventory",
		Verifier:   c.Verifier,
		Log:        c.Log,
		Middleware: graph.Middleware(svc),
	})
	return &Service{Handler: h, Stock: svc, cfg: c, store: store, log: c.Log}, nil
}

// Run consumes the saga's commands, relays the outbox to Redis and expires
// reservations until ctx ends; then it returns nil. It returns an error if
// one of them cannot run.
func (s *Service) Run(ctx context.Context) error {
	if s.cfg.Redis == nil {
		return errors.New("inventory: Config.Redis is required to run the saga's consumer")
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		relay := events.NewRelay(s.cfg.DB, s.cfg.Redis, events.RelayOptions{Prefix: s.cfg.StreamPrefix, Log: s.log})
		if err := relay.Run(ctx); err != nil {
			return fmt.Errorf("inventory: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		c := events.NewConsumer(s.cfg.Redis, events.ConsumerOptions{
			Stream: contract.InventoryCommands, Group: ConsumerGroup, Prefix: s.cfg.StreamPrefix, Log: s.log,
			Workers: events.SagaWorkers,
		})
		if err := c.RunTx(ctx, s.cfg.DB, s.HandleCommand); err != nil {
			return fmt.Errorf("inventory: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		s.sweep(ctx)
		return nil
	})
	return g.Wait()
}

// sweep expires due reservations every ReservationSweep until ctx ends,
// counting its passes and what they expired in the metrics of the scope ctx
// carries (shopgraph_reservation_sweeps_total,
// shopgraph_reservations_expired_total).
func (s *Service) sweep(ctx context.Context) {
	t := time.NewTicker(s.cfg.ReservationSweep)
	defer t.Stop()
	for {
		n, err := s.Stock.ExpireDue(ctx)
		if err != nil && ctx.Err() != nil {
			return
		}
		if err != nil {
			s.log.ErrorContext(ctx, "expire reservations", "err", err)
		}
		observability.MetricsFrom(ctx).ReservationSweep("inventory", n, err)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// HandleCommand handles one saga command (contract.TypeReserveStock,
// TypeCommitStock or TypeReleaseStock) inside tx, the consumer's transaction
// that also records m in the inbox: the stock change, its ledger entries and
// the answering event (in the outbox, following up on m) commit together. A
// message that can never be handled (unknown type, undecodable payload, no
// order ID) is marked permanent, so it goes to the dead-letter stream.
func (s *Service) HandleCommand(ctx context.Context, tx pgx.Tx, m events.Message) error {
	svc := s.Stock.WithStore(s.store.WithTx(tx, m))
	var err error
	switch m.Type {
	case contract.TypeReserveStock:
		err = handle(ctx, m, svc.Reserve)
	case contract.TypeCommitStock:
		err = handle(ctx, m, svc.Commit)
	case contract.TypeReleaseStock:
		err = handle(ctx, m, svc.Release)
	default:
		err = events.Permanent(fmt.Errorf("unknown command type %q", m.Type))
	}
	if err != nil {
		return fmt.Errorf("inventory: %s %s: %w", m.Type, m.ID, err)
	}
	return nil
}

// handle decodes m's payload as a C and runs do with it. An undecodable
// payload and an application error (a command the domain refuses, such as
// one without an order ID) are permanent: retrying cannot fix them.
func handle[C any](ctx context.Context, m events.Message, do func(context.Context, C) (stock.Outcome, error)) error {
	cmd, err := events.Decode[C](m)
	if err != nil {
		return events.Permanent(err)
	}
	if _, err := do(ctx, cmd); err != nil {
		if _, ok := apperr.As(err); ok {
			return events.Permanent(err)
		}
		return err
	}
	return nil
}

// Close releases what New acquired. The pool and the Redis client belong to
// the caller and stay open.
func (s *Service) Close() {}
