// Package shipping is the shipping service: its GraphQL subgraph (shipping
// methods and rates, shipments and their tracking, Order.shipments, the
// admin's advanceShipment and cancelShipment), its side of the checkout saga
// (CreateShipment and CancelShipment from contract.ShippingCommands,
// answered on contract.ShippingEvents, which also carries ShipmentShipped
// and ShipmentDelivered as parcels move), and the background schedule that
// moves the sandbox carrier's parcels on.
package shipping

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/internal/contract"
	"github.com/shopgraph/shopgraph/internal/events"
	"github.com/shopgraph/shopgraph/internal/subgraph"
	"github.com/shopgraph/shopgraph/subgraphs/shipping/graph"
	shippingpg "github.com/shopgraph/shopgraph/subgraphs/shipping/postgres"
	"github.com/shopgraph/shopgraph/subgraphs/shipping/sandbox"
	"github.com/shopgraph/shopgraph/subgraphs/shipping/shipment"
)

// ConsumerGroup is the Redis consumer group of the shipping command consumer.
const ConsumerGroup = "shipping"

// maxTick is the longest wait between two runs of the schedule (and of the
// voiding of labels that could not be voided at once).
const maxTick = time.Second

// Config configures the shipping service.
type Config struct {
	// DB is the pool on the shipping schema, opened with
	// postgres.Open(ctx, url, "shipping", shippingpg.Migrations, log).
	// New adds the outbox tables (events.Migrate). Required.
	DB *pgxpool.Pool
	// Redis carries the saga's commands and events; Run needs it.
	Redis *redis.Client
	// StreamPrefix is prepended to the stream names.
	StreamPrefix string
	// Carrier labels parcels; nil means the sandbox carrier.
	Carrier shipment.Carrier
	// StepInterval is the sandbox schedule: a labelled shipment moves one
	// status on (LABEL_CREATED → IN_TRANSIT → OUT_FOR_DELIVERY → DELIVERED)
	// each time it has not changed for StepInterval. Zero: shipments move
	// only by the admin's advanceShipment (use that with a real carrier).
	StepInterval time.Duration
	// Verifier checks bearer tokens; nil accepts none.
	Verifier *auth.Verifier
	// Log; slog.Default() if nil.
	Log *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service is the running shipping service.
type Service struct {
	// Handler serves the subgraph: GraphQL at /graphql, /healthz.
	Handler http.Handler
	// Shipping is the domain service, for callers in the same process.
	Shipping *shipment.Service

	db     *pgxpool.Pool
	redis  *redis.Client
	prefix string
	step   time.Duration
	log    *slog.Logger
}

// New builds the shipping service. It creates the outbox tables if missing.
// It does not start the consumer, the relay or the schedule: Run does.
func New(ctx context.Context, c Config) (*Service, error) {
	if c.DB == nil {
		return nil, errors.New("shipping: Config.DB is required")
	}
	if c.StepInterval < 0 {
		return nil, fmt.Errorf("shipping: Config.StepInterval must not be negative, got %s", c.StepInterval)
	}
	log := c.Log
	if log == nil {
		log = slog.Default()
	}
	log = log.With("service", "shipping")
	if c.Now == nil {
		c.Now = time.Now
	}
	if err := events.Migrate(ctx, c.DB, log); err != nil {
		return nil, fmt.Errorf("shipping: %w", err)
	}
	carrier := c.Carrier
	if carrier == nil {
		carrier = sandbox.New()
	}
	svc := shipment.NewService(shipment.Config{
		Store:   shippingpg.NewStore(c.DB, c.Now),
		Carrier: carrier,
		Step:    c.StepInterval,
		Log:     log,
		Now:     c.Now,
	})
	es := graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{Shipping: svc}})
	h := subgraph.Handler(es, subgraph.Options{
		Name:       "shipping",
		Verifier:   c.Verifier,
		Log:        c.Log,
		Middleware: graph.Middleware(svc),
	})
	return &Service{
		Handler: h, Shipping: svc,
		db: c.DB, redis: c.Redis, prefix: c.StreamPrefix, step: c.StepInterval, log: log,
	}, nil
}

// Run consumes the saga's shipping commands, relays the outbox to Redis and
// runs the schedule until ctx ends; then it returns nil. It returns an error
// if one of them cannot run.
func (s *Service) Run(ctx context.Context) error {
	if s.redis == nil {
		return errors.New("shipping: Config.Redis is required to run the command consumer")
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		r := events.NewRelay(s.db, s.redis, events.RelayOptions{Prefix: s.prefix, Log: s.log})
		if err := r.Run(ctx); err != nil {
			return fmt.Errorf("shipping: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		c := events.NewConsumer(s.redis, events.ConsumerOptions{
			Stream: contract.ShippingCommands,
			Group:  ConsumerGroup,
			Prefix: s.prefix,
			// A command may wait on the carrier (up to its timeout per
			// attempt, with retries): the consumer's heartbeat keeps its
			// message from being claimed meanwhile, and a killed replica's
			// message is taken over after events.DefaultClaimIdle.
			Log: s.log,
		})
		if err := c.Run(ctx, s.HandleCommand); err != nil {
			return fmt.Errorf("shipping: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		s.schedule(ctx)
		return nil
	})
	return g.Wait()
}

// schedule moves due shipments on (when StepInterval is set), asks the
// carrier again for the labels it could not issue, and voids labels left
// unvoided, until ctx ends. It ticks every StepInterval, or
// every second if that is longer (or zero), so that a step is never late by
// more than a tick.
func (s *Service) schedule(ctx context.Context) {
	tick := maxTick
	if s.step > 0 {
		tick = min(s.step, maxTick)
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		if _, err := s.Shipping.StepDue(ctx); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "move due shipments on", "err", err)
		}
		if _, err := s.Shipping.RetryLabels(ctx); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "label pending shipments", "err", err)
		}
		if _, err := s.Shipping.VoidLabels(ctx); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "void labels", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// HandleCommand handles one saga command (contract.TypeCreateShipment or
// TypeCancelShipment). The commands are idempotent by construction (one
// shipment per order, the carrier's idempotency key, the shipment's state),
// so no inbox is needed, and no transaction is held while the carrier is
// called: see shipment.Service.Create. A message that can never be handled
// (unknown type, undecodable payload, a command the domain refuses) is
// marked permanent, so it goes to the dead-letter stream. A carrier that
// cannot be reached leaves the shipment PENDING for the schedule to label.
func (s *Service) HandleCommand(ctx context.Context, m events.Message) error {
	ctx = shippingpg.WithCause(ctx, m)
	var err error
	switch m.Type {
	case contract.TypeCreateShipment:
		cmd, derr := events.Decode[contract.CreateShipment](m)
		if derr != nil {
			return events.Permanent(derr)
		}
		_, err = s.Shipping.Create(ctx, cmd)
	case contract.TypeCancelShipment:
		cmd, derr := events.Decode[contract.CancelShipment](m)
		if derr != nil {
			return events.Permanent(derr)
		}
		_, err = s.Shipping.CancelForOrder(ctx, cmd)
	default:
		return events.Permanent(fmt.Errorf("unknown shipping command %q", m.Type))
	}
	if err == nil {
		return nil
	}
	err = fmt.Errorf("shipping: %s for order %s: %w", m.Type, m.Key, err)
	if _, ok := apperr.As(err); ok {
		// Asking again gives the same answer.
		return events.Permanent(err)
	}
	return err
}

// Close releases what New acquired. The pool and the Redis client belong to
// the caller and stay open.
func (s *Service) Close() {}
