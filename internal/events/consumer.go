package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill-redisstream/pkg/redisstream"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/shopgraph/shopgraph/internal/observability"
)

// Handler handles one message. Its effect must be idempotent by construction
// (a message may be delivered more than once); use [Consumer.RunTx] when it
// is not. Returning an error retries the message; see [Permanent].
type Handler func(ctx context.Context, m Message) error

// TxHandler handles one message inside a transaction that also records the
// message in the inbox; a message already in the inbox is not handed to it
// again. Returning an error rolls both back and retries the message. Write
// follow-up messages with [Add] in tx.
type TxHandler func(ctx context.Context, tx pgx.Tx, m Message) error

// ConsumerOptions configures a Consumer. Stream and Group are required; the
// zero value of every other field is a reasonable default.
type ConsumerOptions struct {
	// Stream is the stream to read, without the prefix.
	Stream string
	// Group is the consumer group: the replicas of one service that share the
	// work (each message goes to one of them). Name it after the service and
	// its purpose, e.g. "orders.saga".
	Group string
	// Name identifies this consumer within the group. Default: host name
	// plus a random suffix. A consumer handles one message at a time; for more
	// throughput set Workers, or run several, each with its own Name.
	Name string
	// Workers is how many messages this process handles at once: Run starts
	// that many consumers of the group, named Name-1 … Name-N, each reading
	// and handling its own messages as another replica's consumer would. So
	// messages are no longer handled in stream order (nor are they across
	// replicas): only handlers that are safe for concurrent and out-of-order
	// delivery may use more than one (see SagaWorkers). Each worker
	// reads ReadCount messages at a time (default 1 with several workers, so
	// that one does not hold a batch while the others wait). Default 1.
	Workers int
	// Prefix is prepended to Stream and DeadLetterStream to form Redis keys.
	Prefix string
	// MaxRetries is how many times a failing message is retried after its
	// first attempt before it is dead-lettered. Default 5; negative: none.
	MaxRetries int
	// Backoff is the wait before the first retry; it doubles with each retry
	// (with ±20% jitter) up to MaxBackoff. Defaults 100ms and 10s.
	Backoff    time.Duration
	MaxBackoff time.Duration
	// DeadLetterStream receives messages that failed every attempt, with
	// MetaDeadLetterReason set. Default Stream + ".dead-letter".
	DeadLetterStream string
	// ClaimIdle is how long a message may stay delivered but unacknowledged
	// by a consumer that is gone (crashed, killed) before another consumer of
	// the group claims it. A live consumer keeps a heartbeat key in Redis
	// (refreshed every ClaimIdle/3, expiring after ClaimIdle), and its
	// messages are never claimed while the key lives, however long its
	// handler runs; so ClaimIdle only bounds how fast a dead consumer's work
	// is taken over. Default 5 seconds.
	ClaimIdle time.Duration
	// ReadCount is how many messages one XREADGROUP reads at most; the
	// consumer hands them to its handler one at a time, in stream order.
	// They are delivered to this consumer (pending) from the read on, so a
	// crash or a stop leaves them to be claimed or handed back like the one
	// being handled. Default 10 (1 with Workers); 1 reads one message per
	// round trip.
	ReadCount int
	// Log receives handler failures and dead-lettered messages. Default: discard.
	Log *slog.Logger
}

// SagaWorkers is ConsumerOptions.Workers for the saga's steps whose
// handlers lock what they change in PostgreSQL and accept messages in any
// order (the orders service's event handling, the inventory's commands): a
// step spends most of its time waiting on PostgreSQL, so one consumer per
// process capped a service at one message per chain of round trips. The
// payments and shipping commands keep one worker: each calls an outside
// provider, and handled one at a time a duplicate delivery finds the first
// one's result instead of calling the provider again.
const SagaWorkers = 4

// DefaultReadCount is ConsumerOptions.ReadCount's default.
const DefaultReadCount = 10

// DefaultClaimIdle is ConsumerOptions.ClaimIdle's default: a message held by
// a dead consumer is handed to another well inside a saga step's deadline.
const DefaultClaimIdle = 5 * time.Second

// Consumer reads a stream as a member of a consumer group, one message at a
// time, acknowledging each once handled (or dead-lettered).
type Consumer struct {
	rdb  *redis.Client
	opts ConsumerOptions
	log  *slog.Logger
}

// NewConsumer returns a consumer of opts.Stream; Run or RunTx starts it.
func NewConsumer(rdb *redis.Client, opts ConsumerOptions) *Consumer {
	if opts.Name == "" {
		host, _ := os.Hostname()
		opts.Name = host + "-" + watermill.NewShortUUID()
	}
	if opts.MaxRetries == 0 {
		opts.MaxRetries = 5
	} else if opts.MaxRetries < 0 {
		opts.MaxRetries = 0
	}
	if opts.Backoff <= 0 {
		opts.Backoff = 100 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 10 * time.Second
	}
	if opts.DeadLetterStream == "" {
		opts.DeadLetterStream = opts.Stream + ".dead-letter"
	}
	if opts.ClaimIdle <= 0 {
		opts.ClaimIdle = DefaultClaimIdle
	}
	if opts.Workers <= 0 {
		opts.Workers = 1
	}
	if opts.ReadCount <= 0 {
		opts.ReadCount = DefaultReadCount
		if opts.Workers > 1 {
			opts.ReadCount = 1
		}
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Consumer{
		rdb:  rdb,
		opts: opts,
		log:  log.With("component", "events.consumer", "stream", opts.Stream, "group", opts.Group, "consumer", opts.Name),
	}
}

// RunTx handles messages with h until ctx is done, then returns nil; see
// [TxHandler]. The inbox lives in pool's schema (see [Migrate]).
func (c *Consumer) RunTx(ctx context.Context, pool *pgxpool.Pool, h TxHandler) error {
	if pool == nil || h == nil {
		return errors.New("events consumer: RunTx needs a pool and a handler")
	}
	return c.Run(ctx, func(ctx context.Context, m Message) error {
		return c.handleOnce(ctx, pool, m, h)
	})
}

// handleOnce runs h in a transaction that first records m in the inbox.
func (c *Consumer) handleOnce(ctx context.Context, pool *pgxpool.Pool, m Message, h TxHandler) error {
	// BeginFunc: follow-up messages wake the in-process relay on commit.
	return BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		// A concurrent delivery of the same message waits here on the primary
		// key until this transaction ends, then sees it handled.
		tag, err := tx.Exec(ctx, `
			INSERT INTO events_inbox (stream, consumer_group, message_id) VALUES ($1, $2, $3)
			ON CONFLICT DO NOTHING`, c.opts.Stream, c.opts.Group, m.ID)
		if err != nil {
			return fmt.Errorf("record message %s in inbox: %w", m.ID, err)
		}
		if tag.RowsAffected() == 0 {
			c.log.Debug("dropped duplicate message", "message_id", m.ID, "type", m.Type)
			return nil
		}
		return h(ctx, tx, m)
	})
}

// Run handles messages with h until ctx is done, then returns nil. A message
// whose handler fails is retried with backoff, then dead-lettered and
// logged; the consumer goes on with the next message. Run returns an error
// if it cannot start, or if the subscription ends while ctx is not done.
func (c *Consumer) Run(ctx context.Context, h Handler) error {
	if c.opts.Stream == "" || c.opts.Group == "" || h == nil {
		return errors.New("events consumer: Stream, Group and a handler are required")
	}
	if c.opts.Workers > 1 {
		return c.runWorkers(ctx, h)
	}
	// The service whose telemetry records this consumer's work (see trace.go).
	scope := observability.ScopeFrom(ctx)
	// Watermill logs its routine lifecycle at Info; keep that at Debug.
	wlog := newQuietLogger(watermill.NewSlogLoggerWithLevelMapping(c.log, map[slog.Level]slog.Level{slog.LevelInfo: slog.LevelDebug}))
	client := &groupClient{Client: c.rdb, c: c}
	if err := c.beat(ctx); err != nil {
		c.log.Warn("consumer heartbeat", "error", err)
	}
	hbCtx, cancelHeartbeat := context.WithCancel(context.WithoutCancel(ctx))
	hbDone := make(chan struct{})
	go c.heartbeat(hbCtx, hbDone)
	stopHeartbeat := func() { cancelHeartbeat(); <-hbDone }
	defer stopHeartbeat()
	sub, err := redisstream.NewSubscriber(redisstream.SubscriberConfig{
		Client:        client,
		Unmarshaller:  unmarshaller{},
		Consumer:      c.opts.Name,
		ConsumerGroup: c.opts.Group,
		ClaimInterval: min(c.opts.ClaimIdle/2, time.Second),
		MaxIdleTime:   c.opts.ClaimIdle,
		// Claim only from consumers whose heartbeat has expired: a live one
		// may be running a long handler.
		ShouldClaimPendingMessage: c.ownerGone,
		// A new group starts at the beginning of the stream, so that what was
		// published before the group's first start is not skipped.
		OldestId: "0",
		// Block for BlockTime (100ms) rather than forever, so that Run stops.
		DisableIndefiniteInitialBlock: true,
	}, wlog)
	if err != nil {
		return fmt.Errorf("events consumer: %w", err)
	}
	pub, err := redisstream.NewPublisher(redisstream.PublisherConfig{Client: client}, wlog)
	if err != nil {
		return fmt.Errorf("events consumer: %w", err)
	}
	router, err := message.NewRouter(message.RouterConfig{}, wlog)
	if err != nil {
		return fmt.Errorf("events consumer: %w", err)
	}
	// A message interrupted by shutdown is not dead-lettered: it stays
	// pending, and is claimed after ClaimIdle.
	running := func(error) bool { return ctx.Err() == nil }
	poison, err := middleware.PoisonQueueWithFilter(pub, c.opts.Prefix+c.opts.DeadLetterStream, running)
	if err != nil {
		return fmt.Errorf("events consumer: %w", err)
	}
	retry := middleware.Retry{
		MaxRetries:          c.opts.MaxRetries,
		InitialInterval:     c.opts.Backoff,
		MaxInterval:         c.opts.MaxBackoff,
		Multiplier:          2,
		RandomizationFactor: 0.2,
		ShouldRetry: func(p middleware.RetryParams) bool {
			return !isPermanent(p.Err) && ctx.Err() == nil
		},
		OnRetryHook: func(int, time.Duration) {
			if scope != nil {
				scope.Metrics.Retried(scope.Service, c.opts.Stream, c.opts.Group)
			}
		},
	}
	// Outermost first: dead-letter, log the give-up, retry, log each failure,
	// turn a panic into an error.
	router.AddMiddleware(poison, c.logGiveUp(ctx), retry.Middleware, c.logFailure, middleware.Recoverer)
	router.AddConsumerHandler(c.opts.Group, c.opts.Prefix+c.opts.Stream, sub, func(msg *message.Message) error {
		m, err := fromWatermill(msg)
		if err != nil {
			return Permanent(err)
		}
		return c.handle(msg.Context(), scope, m, h)
	})
	if err := router.Run(ctx); err != nil {
		return fmt.Errorf("events consumer: %w", err)
	}
	if ctx.Err() == nil {
		return fmt.Errorf("events consumer %s/%s: subscription ended unexpectedly", c.opts.Stream, c.opts.Group)
	}
	stopHeartbeat()
	c.handBack()
	return nil
}

// runWorkers runs Workers consumers of the group, each with its own name,
// heartbeat and pending messages, until ctx is done or one of them fails.
func (c *Consumer) runWorkers(ctx context.Context, h Handler) error {
	g, gctx := errgroup.WithContext(ctx)
	for i := range c.opts.Workers {
		opts := c.opts
		opts.Name, opts.Workers = fmt.Sprintf("%s-%d", c.opts.Name, i+1), 1
		w := NewConsumer(c.rdb, opts)
		g.Go(func() error { return w.Run(gctx, h) })
	}
	return g.Wait()
}

// handBack makes the messages this consumer was given but did not
// acknowledge — one interrupted by shutdown, or one delivered by the read
// still in flight when Run stopped — claimable at once by the group's next
// consumer (a restarted service), instead of after ClaimIdle. Redis has no
// "unclaim": XCLAIM with IDLE back-dates the message's last delivery.
// Written by hand: Watermill's subscriber does not do this on close.
func (c *Consumer) handBack() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	time.Sleep(150 * time.Millisecond) // the subscriber's last read blocks up to 100ms
	stream := c.opts.Prefix + c.opts.Stream
	pending, err := c.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{
		Stream: stream, Group: c.opts.Group, Consumer: c.opts.Name, Start: "-", End: "+", Count: 1000,
	}).Result()
	if err != nil || len(pending) == 0 {
		return
	}
	args := []any{"XCLAIM", stream, c.opts.Group, c.opts.Name, 0}
	for _, p := range pending {
		args = append(args, p.ID)
	}
	args = append(args, "IDLE", (c.opts.ClaimIdle + time.Second).Milliseconds(), "JUSTID")
	if err := c.rdb.Do(ctx, args...).Err(); err != nil {
		c.log.Warn("could not hand back pending messages", "count", len(pending), "error", err)
		return
	}
	c.log.Debug("handed back pending messages", "count", len(pending))
}

// logFailure logs each failed attempt.
func (c *Consumer) logFailure(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		out, err := h(msg)
		if err != nil && msg.Context().Err() == nil {
			c.log.Warn("message handler failed", "message_id", msg.UUID, "type", messageType(msg), "error", err)
		}
		return out, err
	}
}

// logGiveUp logs a message that is about to be dead-lettered.
func (c *Consumer) logGiveUp(ctx context.Context) message.HandlerMiddleware {
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			out, err := h(msg)
			if err != nil && ctx.Err() == nil {
				if scope := observability.ScopeFrom(ctx); scope != nil {
					scope.Metrics.DeadLettered(scope.Service, c.opts.Stream, c.opts.Group)
				}
				c.log.Error("giving up on message; sending it to the dead-letter stream",
					"message_id", msg.UUID, "type", messageType(msg),
					"dead_letter_stream", c.opts.DeadLetterStream, "permanent", isPermanent(err), "error", err)
			}
			return out, err
		}
	}
}

func messageType(msg *message.Message) string {
	m, err := fromWatermill(msg)
	if err != nil {
		return ""
	}
	return m.Type
}

// quietOnCancel logs at Debug the errors Watermill reports at Error when the
// consumer is being stopped ("read fail: context canceled" on every stream at
// every shutdown), so that Error stays for real failures. While Redis is
// unreachable Watermill reports a failed read every 500ms: the same message
// is logged at Error once per errorEvery, the repeats at Debug.
type quietOnCancel struct {
	watermill.LoggerAdapter
	last *errorTimes
}

// errorEvery is how often one Watermill error message is logged at Error.
const errorEvery = 10 * time.Second

type errorTimes struct {
	mu   sync.Mutex
	last map[string]time.Time
}

func newQuietLogger(l watermill.LoggerAdapter) quietOnCancel {
	return quietOnCancel{l, &errorTimes{last: map[string]time.Time{}}}
}

func (q quietOnCancel) Error(msg string, err error, fields watermill.LogFields) {
	if errors.Is(err, context.Canceled) || !q.last.due(msg, time.Now()) {
		q.LoggerAdapter.Debug(msg, fields.Add(watermill.LogFields{"err": err}))
		return
	}
	q.LoggerAdapter.Error(msg, err, fields)
}

// due reports whether msg was not logged at Error in the last errorEvery,
// and if so records now.
func (e *errorTimes) due(msg string, now time.Time) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if t, ok := e.last[msg]; ok && now.Sub(t) < errorEvery {
		return false
	}
	e.last[msg] = now
	return true
}

func (q quietOnCancel) With(fields watermill.LogFields) watermill.LoggerAdapter {
	return quietOnCancel{q.LoggerAdapter.With(fields), q.last}
}
