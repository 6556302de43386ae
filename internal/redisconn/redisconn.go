// Package redisconn opens Shopgraph's Redis client.
package redisconn

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultPoolSize is the client's most connections unless the URL sets
// pool_size. Every stream consumer (each saga worker: events.SagaWorkers per
// stream) holds one connection in its blocking XREADGROUP most of the time,
// so go-redis's default (10 per CPU, 20 on two cores) left a whole process's
// other commands (carts, XADDs, publishes) waiting for a free connection.
// Connections are opened only as they are needed. The size is also how many
// failed dials open go-redis's dial circuit breaker, which then refuses every
// new connection until its probe (once a second) gets through: with a
// hundred, the stream readers' retries during a Redis restart of a few
// seconds opened it, and the first requests after Redis was back (and
// /readyz was 200) failed UNAVAILABLE. A thousand keeps it for outages long
// enough that a second more does not matter.
const DefaultPoolSize = 1000

// Open returns a client for url ("redis://host:port/db") after a ping.
func Open(ctx context.Context, url string) (*redis.Client, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("parse Redis URL: %w", err)
	}
	if !strings.Contains(url, "pool_size=") {
		opts.PoolSize = DefaultPoolSize
	}
	c := redis.NewClient(opts)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := c.Ping(pctx).Err(); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("ping Redis at %s: %w", opts.Addr, err)
	}
	return c, nil
}
