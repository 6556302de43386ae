// Package payments wires the payments service: its GraphQL subgraph, the
// consumer of the checkout saga's payment commands and the relay of its
// outbox.
package payments

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
	"github.com/shopgraph/shopgraph/subgraphs/payments/graph"
	"github.com/shopgraph/shopgraph/subgraphs/payments/payment"
	paymentspg "github.com/shopgraph/shopgraph/subgraphs/payments/postgres"
	"github.com/shopgraph/shopgraph/subgraphs/payments/sandbox"
	"github.com/shopgraph/shopgraph/subgraphs/payments/stripe"
)

// ConsumerGroup is the Redis consumer group of the payments command consumer.
const ConsumerGroup = "payments"

// Config configures the payments service.
type Config struct {
	// DB is the pool on the payments schema, opened with
	// postgres.Open(ctx, url, "payments", paymentspg.Migrations, log).
	// New adds the outbox tables (events.Migrate).
	DB *pgxpool.Pool
	// Redis carries the saga's commands and events; Run needs it.
	Redis *redis.Client
	// StreamPrefix is prepended to the stream names.
	StreamPrefix string
	// Provider is the card provider; nil means the sandbox.
	Provider payment.Provider
	// StripeWebhookSecret, if set, serves Stripe's events at
	// /webhooks/stripe, checked with this signing secret (whsec_…).
	StripeWebhookSecret string
	// Verifier checks bearer tokens.
	Verifier *auth.Verifier
	// RetryBase is the first wait before a provider call is made again
	// after a transient failure (payment.DefaultRetryBase if 0).
	RetryBase time.Duration
	// Attempts is how many times in all a provider call that fails
	// transiently is made (payment.DefaultAttempts if 0).
	Attempts int
	Log      *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service is the running payments service.
type Service struct {
	// Handler serves the subgraph: GraphQL at /graphql, /healthz, and
	// Stripe's events at /webhooks/stripe when configured.
	Handler http.Handler
	// Payments is the domain service, for callers in the same process.
	Payments *payment.Service

	db     *pgxpool.Pool
	redis  *redis.Client
	prefix string
	log    *slog.Logger
}

// New builds the payments service. It creates the outbox tables if missing.
func New(ctx context.Context, c Config) (*Service, error) {
	if c.DB == nil {
		return nil, errors.New("payments: Config.DB is required")
	}
	log := c.Log
	if log == nil {
		log = slog.Default()
	}
	log = log.With("service", "payments")
	if c.Now == nil {
		c.Now = time.Now
	}
	if err := events.Migrate(ctx, c.DB, log); err != nil {
		return nil, fmt.Errorf("payments: %w", err)
	}
	provider, name := c.Provider, "sandbox"
	if provider == nil {
		provider = sandbox.New()
	} else if n, ok := provider.(interface{ Name() string }); ok {
		name = n.Name()
	} else {
		name = "external"
	}
	svc := payment.NewService(payment.Config{
		Store:        paymentspg.NewStore(c.DB, c.Now),
		Provider:     provider,
		ProviderName: name,
		Log:          log,
		Now:          c.Now,
		Attempts:     c.Attempts,
		RetryBase:    c.RetryBase,
	})
	es := graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{Payments: svc}})
	h := subgraph.Handler(es, subgraph.Options{
		Name:       "payments",
		Verifier:   c.Verifier,
		Log:        c.Log,
		Middleware: graph.Middleware(svc),
	})
	if c.StripeWebhookSecret != "" {
		mux := http.NewServeMux()
		mux.Handle(stripe.WebhookPath, stripe.Webhook(stripe.WebhookConfig{
			Secret: c.StripeWebhookSecret, Apply: svc.ApplyOutcome, Log: log,
		}))
		mux.Handle("/", h)
		h = mux
	}
	return &Service{Handler: h, Payments: svc, db: c.DB, redis: c.Redis, prefix: c.StreamPrefix, log: log}, nil
}

// Run consumes the saga's payment commands and relays the outbox to Redis
// until ctx ends; then it returns nil. It returns an error if either cannot
// start.
func (s *Service) Run(ctx context.Context) error {
	if s.redis == nil {
		return errors.New("payments: Config.Redis is required to run the command consumer")
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		r := events.NewRelay(s.db, s.redis, events.RelayOptions{Prefix: s.prefix, Log: s.log})
		return r.Run(ctx)
	})
	g.Go(func() error {
		c := events.NewConsumer(s.redis, events.ConsumerOptions{
			Stream: contract.PaymentCommands,
			Group:  ConsumerGroup,
			Prefix: s.prefix,
			// An authorization may take several provider attempts with
			// backoff: the consumer's heartbeat keeps its message from
			// being claimed meanwhile, and a killed replica's message is
			// taken over after events.DefaultClaimIdle.
			Log: s.log,
		})
		return c.Run(ctx, s.handle)
	})
	return g.Wait()
}

// Close releases what New acquired. The pool and the Redis client belong to
// the caller.
func (s *Service) Close() {}

// handle answers one payment command. The commands are idempotent by
// construction (the idempotency key, the payment's state), so no inbox is
// needed, and no transaction is held while the provider is called: see
// payment.Service.Authorize.
func (s *Service) handle(ctx context.Context, m events.Message) error {
	ctx = paymentspg.WithCause(ctx, m)
	var err error
	switch m.Type {
	case contract.TypeAuthorizePayment:
		cmd, derr := events.Decode[contract.AuthorizePayment](m)
		if derr != nil {
			return events.Permanent(derr)
		}
		_, err = s.Payments.Authorize(ctx, cmd)
	case contract.TypeCapturePayment:
		cmd, derr := events.Decode[contract.PaymentCommand](m)
		if derr != nil {
			return events.Permanent(derr)
		}
		_, err = s.Payments.Capture(ctx, cmd.OrderID)
	case contract.TypeVoidPayment:
		cmd, derr := events.Decode[contract.PaymentCommand](m)
		if derr != nil {
			return events.Permanent(derr)
		}
		_, err = s.Payments.Void(ctx, cmd.OrderID, cmd.Reason)
	default:
		return events.Permanent(fmt.Errorf("unknown payment command %q", m.Type))
	}
	if err == nil {
		return nil
	}
	err = fmt.Errorf("%s for order %s: %w", m.Type, m.Key, err)
	switch apperr.Code(err) {
	case apperr.InvalidInput, apperr.Conflict, apperr.NotFound:
		// Asking again gives the same answer.
		return events.Permanent(err)
	}
	return err
}
