package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/shopgraph/shopgraph/subgraphs/orders/order"
)

// StatusSink is what a StatusListener feeds: order.Feed.
type StatusSink interface {
	// Publish hands on one status change; it must not block.
	Publish(u *order.Update)
	// Resync catches subscribers up after a gap that started at gapStart
	// (zero for the first subscription).
	Resync(ctx context.Context, gapStart time.Time)
}

// Defaults of StatusListenerOptions.
const (
	DefaultHealthInterval = 5 * time.Second
	DefaultMinBackoff     = 100 * time.Millisecond
	DefaultMaxBackoff     = 10 * time.Second
)

// StatusListenerOptions configure a StatusListener.
type StatusListenerOptions struct {
	// HealthInterval: after this long without a message the listener pings
	// Redis, and after twice as long it takes the connection for dead
	// (DefaultHealthInterval if 0).
	HealthInterval time.Duration
	// MinBackoff and MaxBackoff bound the wait before reconnecting: it
	// doubles after each failed attempt (DefaultMinBackoff and
	// DefaultMaxBackoff if 0).
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// Log; slog.Default() if nil.
	Log *slog.Logger
}

// StatusListener holds the process's one subscription to the order status
// channel and hands every change to a sink. go-redis reconnects a PubSub on
// its own, but it retries at a fixed pace and hides the gap; this listener
// owns the connection instead, so that it backs off and knows when the
// subscription was down, and so can have the sink catch subscribers up.
type StatusListener struct {
	rdb     *goredis.Client
	channel string
	sink    StatusSink
	opts    StatusListenerOptions
	log     *slog.Logger
}

// NewStatusListener returns a listener of channel on rdb that feeds sink.
func NewStatusListener(rdb *goredis.Client, channel string, sink StatusSink, o StatusListenerOptions) *StatusListener {
	if o.HealthInterval <= 0 {
		o.HealthInterval = DefaultHealthInterval
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = DefaultMinBackoff
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(DefaultMaxBackoff, o.MinBackoff)
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return &StatusListener{rdb: rdb, channel: channel, sink: sink, opts: o, log: o.Log}
}

// Run listens until ctx ends, then returns nil. Each time the subscription
// is established (the first time and after every reconnection) it has the
// sink Resync, with the time the previous subscription was last known to
// work.
func (l *StatusListener) Run(ctx context.Context) error {
	var gapStart time.Time // zero: never subscribed
	backoff := l.opts.MinBackoff
	for {
		lastOK, subscribed, err := l.listen(ctx, gapStart)
		if ctx.Err() != nil {
			return nil
		}
		if subscribed {
			gapStart = lastOK
			backoff = l.opts.MinBackoff
			l.log.WarnContext(ctx, "order status subscription lost; reconnecting", "channel", l.channel, "err", err)
		} else {
			l.log.WarnContext(ctx, "order status subscription failed; retrying", "channel", l.channel, "in", backoff, "err", err)
		}
		// Full jitter in [backoff/2, backoff), so that many processes do
		// not reconnect at once.
		wait := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		backoff = min(2*backoff, l.opts.MaxBackoff)
	}
}

// listen subscribes and hands on messages until the connection fails or
// ctx ends. It reports when the connection was last known to work and
// whether it got as far as subscribing.
func (l *StatusListener) listen(ctx context.Context, gapStart time.Time) (lastOK time.Time, subscribed bool, err error) {
	ps := l.rdb.Subscribe(ctx, l.channel)
	defer ps.Close()
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() }) // unblocks a receive
	defer stop()

	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, l.opts.HealthInterval)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && !pinged && ctx.Err() == nil {
				// Quiet: ask for a sign of life; the pong (or anything
				// else) must come within one more interval.
				if err := ps.Ping(ctx); err != nil {
					return lastOK, subscribed, fmt.Errorf("ping: %w", err)
				}
				pinged = true
				continue
			}
			return lastOK, subscribed, err
		}
		pinged = false
		previous := lastOK
		lastOK = time.Now()
		switch m := msg.(type) {
		case *goredis.Subscription:
			if m.Kind != "subscribe" {
				continue
			}
			since := gapStart
			if subscribed {
				// go-redis reconnected underneath: the gap started after
				// the last sign of life.
				since = previous
			}
			l.log.InfoContext(ctx, "order status subscription established", "channel", l.channel, "resync_since", since)
			subscribed = true
			// Resync reads the store, so it runs beside the messages that
			// keep coming.
			go l.sink.Resync(ctx, since)
		case *goredis.Message:
			var c order.StatusChanged
			if err := json.Unmarshal([]byte(m.Payload), &c); err != nil || c.OrderID == "" {
				l.log.ErrorContext(ctx, "undecodable order status change dropped", "payload", m.Payload, "err", err)
				continue
			}
			l.sink.Publish(c.Update())
		case *goredis.Pong:
		}
	}
}
