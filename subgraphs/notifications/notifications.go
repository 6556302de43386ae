// Package notifications wires the notifications service: its GraphQL
// subgraph (myNotifications, the preferences, Notification by node), the
// consumers of the order and user events that make notifications, and the
// worker that sends them by email and SMS.
package notifications

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"golang.org/x/sync/errgroup"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/internal/contract"
	"github.com/shopgraph/shopgraph/internal/events"
	"github.com/shopgraph/shopgraph/internal/subgraph"
	"github.com/shopgraph/shopgraph/subgraphs/notifications/graph"
	mongostore "github.com/shopgraph/shopgraph/subgraphs/notifications/mongo"
	"github.com/shopgraph/shopgraph/subgraphs/notifications/notification"
)

// ConsumerGroup is the Redis consumer group of the notifications service on
// the order and user event streams.
const ConsumerGroup = "notifications"

// Config configures the notifications service.
type Config struct {
	// DB is the service's own database; the caller owns the client.
	DB *mongo.Database
	// Redis carries the order and user events; Run needs it.
	Redis *redis.Client
	// StreamPrefix is prepended to the stream names.
	StreamPrefix string
	// Mailer sends email (email.New); nil logs each email instead and
	// records it as LOGGED (all-in-one mode without SMTP settings).
	Mailer notification.Mailer
	// SMS sends text messages (sms.NewHTTP, or sms.NewSandbox); nil logs
	// each one instead and records it as LOGGED.
	SMS notification.SMSProvider
	// Verifier checks bearer tokens; nil accepts none.
	Verifier *auth.Verifier
	// RetryBase is the wait after a notification's first failed attempt; it
	// doubles with each further one (notification.DefaultRetryBase if 0).
	RetryBase time.Duration
	// MaxAttempts is how many attempts a notification gets before it is
	// FAILED (notification.DefaultMaxAttempts if 0).
	MaxAttempts int
	// Log defaults to slog.Default().
	Log *slog.Logger
	// Now defaults to time.Now.
	Now func() time.Time
}

// Service is the notifications service.
type Service struct {
	// Handler serves the subgraph: GraphQL at /graphql, /healthz.
	Handler http.Handler
	// Notifications is the domain service, for callers in the same process.
	Notifications *notification.Service

	worker *notification.Worker
	redis  *redis.Client
	prefix string
	log    *slog.Logger
}

// New creates the store's indexes and returns the service; Run starts its
// consumers and worker.
func New(ctx context.Context, c Config) (*Service, error) {
	if c.DB == nil {
		return nil, errors.New("notifications: Config.DB is required")
	}
	log := c.Log
	if log == nil {
		log = slog.Default()
	}
	log = log.With("service", "notifications")
	if c.Now == nil {
		c.Now = time.Now
	}
	store, err := mongostore.NewStore(ctx, c.DB, log)
	if err != nil {
		return nil, fmt.Errorf("notifications: %w", err)
	}
	worker := notification.NewWorker(notification.WorkerConfig{
		Store:       store,
		Mailer:      c.Mailer,
		SMS:         c.SMS,
		RetryBase:   c.RetryBase,
		MaxAttempts: c.MaxAttempts,
		Log:         log,
		Now:         c.Now,
	})
	svc := notification.NewService(notification.Config{
		Store:   store,
		Created: worker.Enqueue,
		Log:     log,
		Now:     c.Now,
	})
	es := graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{Notifications: svc}})
	h := subgraph.Handler(es, subgraph.Options{
		Name:       "notifications",
		Verifier:   c.Verifier,
		Log:        c.Log,
		Middleware: graph.Middleware(svc),
	})
	return &Service{Handler: h, Notifications: svc, worker: worker, redis: c.Redis, prefix: c.StreamPrefix, log: log}, nil
}

// Run consumes the order and user events (consumer group "notifications")
// and sends the notifications they make, until ctx ends; then it returns
// nil. It returns an error if a consumer cannot start.
func (s *Service) Run(ctx context.Context) error {
	if s.redis == nil {
		return errors.New("notifications: Config.Redis is required to consume events")
	}
	g, ctx := errgroup.WithContext(ctx)
	for _, stream := range []string{contract.OrderEvents, contract.UserEvents} {
		g.Go(func() error {
			c := events.NewConsumer(s.redis, events.ConsumerOptions{
				Stream: stream,
				Group:  ConsumerGroup,
				Prefix: s.prefix,
				Log:    s.log,
			})
			return c.Run(ctx, s.Handle)
		})
	}
	g.Go(func() error { return s.worker.Run(ctx) })
	return g.Wait()
}

// Close releases what New acquired. The database and Redis clients belong
// to the caller, so there is nothing yet; it is here so that every service
// is closed the same way.
func (s *Service) Close() {}

// Handle makes the notifications that one event calls for. Its effect is
// idempotent by construction (the notifications' IDs derive from the
// message's), so no inbox is needed. Messages of other types are ignored.
func (s *Service) Handle(ctx context.Context, m events.Message) error {
	src := notification.Source{MessageID: m.ID, At: m.OccurredAt}
	var err error
	switch m.Type {
	case contract.TypeOrderStatusChanged:
		e, derr := events.Decode[contract.OrderStatusChanged](m)
		if derr != nil {
			return events.Permanent(derr)
		}
		err = s.Notifications.OrderStatusChanged(ctx, src, e)
	case contract.TypeUserRegistered:
		e, derr := events.Decode[contract.UserRegistered](m)
		if derr != nil {
			return events.Permanent(derr)
		}
		err = s.Notifications.UserRegistered(ctx, src, e)
	default:
		return nil
	}
	if err == nil {
		return nil
	}
	err = fmt.Errorf("%s %s: %w", m.Type, m.ID, err)
	if apperr.Code(err) == apperr.InvalidInput {
		// Handling it again gives the same answer.
		return events.Permanent(err)
	}
	return err
}
