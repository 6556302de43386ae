// Package orders wires the orders service: the cart and order subgraph, the
// checkout saga's consumers of the inventory, payments and shipping events,
// the saga's deadline sweeper, the relay of its outbox, and the publisher of
// order status changes on Redis pub/sub.
package orders

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/internal/contract"
	"github.com/shopgraph/shopgraph/internal/events"
	"github.com/shopgraph/shopgraph/internal/graphqlclient"
	"github.com/shopgraph/shopgraph/internal/subgraph"
	"github.com/shopgraph/shopgraph/subgraphs/orders/cart"
	"github.com/shopgraph/shopgraph/subgraphs/orders/catalog"
	"github.com/shopgraph/shopgraph/subgraphs/orders/graph"
	"github.com/shopgraph/shopgraph/subgraphs/orders/order"
	orderspg "github.com/shopgraph/shopgraph/subgraphs/orders/postgres"
	ordersredis "github.com/shopgraph/shopgraph/subgraphs/orders/redis"
	"github.com/shopgraph/shopgraph/subgraphs/orders/shipping"
)

// ConsumerGroup is the consumer group in which the saga reads the
// inventory, payments and shipping event streams.
const ConsumerGroup = "orders"

// StatusGroup is the consumer group that relays OrderStatusChanged events
// from contract.OrderEvents to the pub/sub channel.
const StatusGroup = "orders.order-status"

// CartGroup is the consumer group that gives the cart back when an order
// is REJECTED or CANCELLED by a declined payment (order.Service.RestoreCart).
const CartGroup = "orders.cart-restore"

// StatusChannel is the Redis pub/sub channel, after the prefix, on which
// every order status change is published (the JSON of order.StatusChanged:
// contract.OrderStatusChanged and the order's version) once it is
// committed.
const StatusChannel = "order-status"

// Migrations are the orders store's migrations: open the pool with
// postgres.Open(ctx, url, "orders", orders.Migrations, log).
var Migrations fs.FS = orderspg.Migrations

// Config is what the orders service needs.
type Config struct {
	// DB is the pool on the service's schema, opened with
	// postgres.Open(ctx, url, "orders", Migrations, log). New adds
	// internal/events' outbox and inbox tables to it. Required.
	DB *pgxpool.Pool
	// Redis keeps the carts and carries the saga's streams and the status
	// channel. Required.
	Redis *redis.Client
	// Prefix starts every Redis key, stream and channel name: the
	// deployment's prefix, the same for every service so that their streams
	// meet. Carts are kept under Prefix + "orders:cart:".
	Prefix string
	// Catalog prices carts; if nil, the products subgraph at ProductsURL
	// (its /graphql endpoint) is asked.
	Catalog     cart.Catalog
	ProductsURL string
	// ShippingRates prices shipping; if nil, the shipping subgraph at
	// ShippingURL (its /graphql endpoint) is asked.
	ShippingRates order.ShippingRates
	ShippingURL   string
	// Credentials, if set, get the service tokens that the calls to
	// products and shipping carry (OAuth2 client credentials); HTTPClient,
	// if set, makes those calls (e.g. one that trusts the services' CA).
	Credentials *auth.ServiceCredentials
	HTTPClient  *http.Client
	// Verifier checks bearer tokens; nil accepts none (every caller is
	// anonymous).
	Verifier *auth.Verifier
	// CartTTL is how long a cart is kept after its last change
	// (cart.DefaultTTL, 30 days, if 0).
	CartTTL time.Duration
	// ReservationTTL is how long inventory holds an order's stock until the
	// order is paid (order.DefaultReservationTTL, 15 minutes, if 0).
	ReservationTTL time.Duration
	// StepTimeout is how long the saga waits for each reply before it
	// compensates (before the payment) or asks again (after it)
	// (order.DefaultStepTimeout, 2 minutes, if 0).
	StepTimeout time.Duration
	// SweepInterval is how often the saga's deadlines are checked (1 s if 0).
	SweepInterval time.Duration
	// ClaimIdle is how long a saga event delivered to a consumer that
	// stopped before acknowledging it waits before another consumer of the
	// group takes it over (events.DefaultClaimIdle, 5 s, if 0; a live
	// consumer's messages are never taken, see events.ConsumerOptions).
	ClaimIdle time.Duration
	// StatusBuffer is how many status updates a subscriber may fall behind
	// before it is resynced (order.DefaultFeedBuffer, 64, if 0).
	StatusBuffer int
	// StatusListener tunes the one pub/sub subscription to the status
	// channel: its health checks and reconnection backoff (its Log is
	// Log's).
	StatusListener ordersredis.StatusListenerOptions
	// StatusDelivered, if set, is told how long after it happened each
	// status change reached a subscriber (order.FeedConfig.Delivered): the
	// app records it as shopgraph_order_status_fanout_delay_seconds.
	StatusDelivered func(delay time.Duration)
	// Log; slog.Default() if nil.
	Log *slog.Logger
	// Now is the clock; time.Now if nil.
	Now func() time.Time
}

// Service is a running orders service.
type Service struct {
	// Handler serves the subgraph: GraphQL at /graphql, liveness at /healthz.
	Handler http.Handler
	// Carts and Orders are the domain services, for callers in the same
	// process.
	Carts  *cart.Service
	Orders *order.Service
	// Status fans the order status changes out to the subscriptions of
	// this process.
	Status *order.Feed

	cfg   Config
	store *orderspg.Store
	log   *slog.Logger
}

// New builds the orders service. It creates the outbox and inbox tables if
// missing. It starts nothing: Run does.
func New(ctx context.Context, c Config) (*Service, error) {
	switch {
	case c.DB == nil:
		return nil, errors.New("orders: Config.DB is required")
	case c.Redis == nil:
		return nil, errors.New("orders: Config.Redis is required")
	case c.Catalog == nil && c.ProductsURL == "":
		return nil, errors.New("orders: Config.Catalog or Config.ProductsURL is required")
	case c.ShippingRates == nil && c.ShippingURL == "":
		return nil, errors.New("orders: Config.ShippingRates or Config.ShippingURL is required")
	}
	if c.Catalog == nil {
		var opts []graphqlclient.Option
		if c.Credentials != nil {
			opts = append(opts, graphqlclient.WithServiceToken(c.Credentials.TokenSource("products", auth.ScopeVariantsRead)))
		}
		c.Catalog = catalog.New(c.ProductsURL, c.HTTPClient, opts...)
	}
	if c.ShippingRates == nil {
		var opts []graphqlclient.Option
		if c.Credentials != nil {
			opts = append(opts, graphqlclient.WithServiceToken(c.Credentials.TokenSource("shipping")))
		}
		c.ShippingRates = shipping.New(c.ShippingURL, c.HTTPClient, opts...)
	}
	if c.SweepInterval <= 0 {
		c.SweepInterval = time.Second
	}
	if c.ClaimIdle <= 0 {
		c.ClaimIdle = events.DefaultClaimIdle
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	log := c.Log.With("service", "orders")
	if err := events.Migrate(ctx, c.DB, log); err != nil {
		return nil, fmt.Errorf("orders: %w", err)
	}
	carts := ordersredis.NewCartStore(c.Redis, c.Prefix+"orders:cart:", c.CartTTL)
	store := orderspg.NewStore(c.DB)
	cartSvc := cart.NewService(carts, c.Catalog, cart.Options{Now: c.Now, Log: log})
	feed := order.NewFeed(order.FeedConfig{Store: store, Buffer: c.StatusBuffer, Now: c.Now, Log: log, Delivered: c.StatusDelivered})
	orderSvc := order.NewService(order.Config{
		Store: store, Carts: carts, Catalog: c.Catalog, Rates: c.ShippingRates,
		ReservationTTL: c.ReservationTTL, StepTimeout: c.StepTimeout, Now: c.Now, Log: log, Feed: feed,
	})
	es := graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{CartService: cartSvc, OrderService: orderSvc}})
	h := subgraph.Handler(graph.WithLoaders(es, orderSvc), subgraph.Options{
		Name:     "orders",
		Verifier: c.Verifier,
		Log:      c.Log,
	})
	return &Service{Handler: h, Carts: cartSvc, Orders: orderSvc, Status: feed, cfg: c, store: store, log: log}, nil
}

// Run runs the saga until ctx ends, then returns nil: it consumes the
// inventory, payments and shipping events, sweeps the saga's deadlines,
// relays the outbox to Redis, publishes order status changes, and holds
// the process's one subscription to them, which feeds Status (the
// subscriptions' current statuses are read again whenever it reconnects).
// It returns an error if one of them cannot run.
func (s *Service) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		relay := events.NewRelay(s.cfg.DB, s.cfg.Redis, events.RelayOptions{Prefix: s.cfg.Prefix, Log: s.log})
		if err := relay.Run(ctx); err != nil {
			return fmt.Errorf("orders: %w", err)
		}
		return nil
	})
	for _, stream := range []string{contract.InventoryEvents, contract.PaymentEvents, contract.ShippingEvents} {
		g.Go(func() error {
			c := events.NewConsumer(s.cfg.Redis, events.ConsumerOptions{
				Stream: stream, Group: ConsumerGroup, Prefix: s.cfg.Prefix, ClaimIdle: s.cfg.ClaimIdle, Log: s.log,
				Workers: events.SagaWorkers,
			})
			if err := c.RunTx(ctx, s.cfg.DB, s.HandleEvent); err != nil {
				return fmt.Errorf("orders: %w", err)
			}
			return nil
		})
	}
	g.Go(func() error {
		c := events.NewConsumer(s.cfg.Redis, events.ConsumerOptions{
			Stream: contract.OrderEvents, Group: StatusGroup, Prefix: s.cfg.Prefix, ClaimIdle: s.cfg.ClaimIdle, Log: s.log,
		})
		if err := c.Run(ctx, s.publishStatus); err != nil {
			return fmt.Errorf("orders: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		c := events.NewConsumer(s.cfg.Redis, events.ConsumerOptions{
			Stream: contract.OrderEvents, Group: CartGroup, Prefix: s.cfg.Prefix, ClaimIdle: s.cfg.ClaimIdle, Log: s.log,
		})
		if err := c.Run(ctx, s.restoreCart); err != nil {
			return fmt.Errorf("orders: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		o := s.cfg.StatusListener
		o.Log = s.log
		return ordersredis.NewStatusListener(s.cfg.Redis, s.cfg.Prefix+StatusChannel, s.Status, o).Run(ctx)
	})
	g.Go(func() error {
		s.sweep(ctx)
		return nil
	})
	return g.Wait()
}

// Close releases what New acquired. The pool and the Redis client belong to
// the caller and stay open.
func (s *Service) Close() {}

// HandleEvent handles one event of the inventory, payments or shipping
// stream inside tx, the consumer's transaction that also records m in the
// inbox: the order's events, its saga state and the commands it sends
// commit together. An event that can never be handled (undecodable) is
// marked permanent, so it goes to the dead-letter stream; one about an
// order this service does not know is dropped.
func (s *Service) HandleEvent(ctx context.Context, tx pgx.Tx, m events.Message) error {
	svc := s.Orders.WithStore(s.store.WithTx(tx, m))
	var err error
	switch m.Type {
	case contract.TypeStockReserved, contract.TypeStockRejected, contract.TypeStockCommitted,
		contract.TypeStockReleased, contract.TypeReservationExpired:
		err = handle(ctx, m, svc.HandleStock)
	case contract.TypePaymentAuthorized, contract.TypePaymentDeclined, contract.TypePaymentFailed,
		contract.TypePaymentCaptured, contract.TypePaymentVoided, contract.TypePaymentRefunded:
		err = handle(ctx, m, svc.HandlePayment)
	case contract.TypeShipmentCreated, contract.TypeShipmentShipped, contract.TypeShipmentDelivered,
		contract.TypeShipmentCancelled:
		err = handle(ctx, m, svc.HandleShipment)
	default:
		s.log.DebugContext(ctx, "ignored an event the saga does not wait for", "type", m.Type, "message_id", m.ID)
	}
	if err != nil {
		return fmt.Errorf("orders: %s %s: %w", m.Type, m.ID, err)
	}
	return nil
}

// handle decodes m's payload as an R and hands it to do.
func handle[R any](ctx context.Context, m events.Message, do func(context.Context, string, R) error) error {
	r, err := events.Decode[R](m)
	if err != nil {
		return events.Permanent(err)
	}
	return do(ctx, m.Type, r)
}

// publishStatus publishes an OrderStatusChanged event, committed and
// relayed, on the status channel, as it is (order.StatusChanged: the
// contract's fields and the order's version). Delivery is at least once: a
// listener may see a change twice, or an older one after a newer one; the
// order's version tells them apart.
func (s *Service) publishStatus(ctx context.Context, m events.Message) error {
	if m.Type != contract.TypeOrderStatusChanged {
		return nil
	}
	if err := s.cfg.Redis.Publish(ctx, s.cfg.Prefix+StatusChannel, []byte(m.Payload)).Err(); err != nil {
		return fmt.Errorf("publish order status: %w", err)
	}
	return nil
}

// restoreCart gives the cart back when a committed status change ends an
// order in a way that returns its lines (see order.Order.GivesCartBack);
// once per order, however often the event is delivered.
func (s *Service) restoreCart(ctx context.Context, m events.Message) error {
	if m.Type != contract.TypeOrderStatusChanged {
		return nil
	}
	c, err := events.Decode[contract.OrderStatusChanged](m)
	if err != nil {
		return events.Permanent(err)
	}
	if st := order.Status(c.Status); st != order.StatusRejected && st != order.StatusCancelled {
		return nil
	}
	if _, err := s.Orders.RestoreCart(ctx, c.OrderID); err != nil {
		return fmt.Errorf("order %s: %w", c.OrderID, err)
	}
	return nil
}

// sweep handles the saga's passed deadlines every SweepInterval until ctx
// ends.
func (s *Service) sweep(ctx context.Context) {
	t := time.NewTicker(s.cfg.SweepInterval)
	defer t.Stop()
	for {
		if _, err := s.Orders.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "sweep saga deadlines", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
