package main

import (
	"net/http"
	"time"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"

	"github.com/shopgraph/shopgraph/internal/events"
	"github.com/shopgraph/shopgraph/internal/observability"
)

// observe serves the process's metrics at /metrics next to h, and wraps h
// so that each request is traced (as the child of the caller's W3C
// traceparent) and, for a service, recorded as that service's (see
// observability.GraphQL).
func (a *app) observe(name string, h http.Handler) http.Handler {
	scope := a.tel.Scope(name)
	if name != "gateway" { // the gateway has its scope in its Config
		h = scope.Attach(h)
	}
	return observability.MetricsRoute(a.tel.MetricsHandler(), scope.ServerMiddleware(h))
}

// collectPool exposes service s's pool usage and outbox, and for orders the
// orders by status and the sagas that timed out, at scrape time.
func (a *app) collectPool(s string, p *pgxpool.Pool) {
	reg := a.tel.Registry()
	reg.MustRegister(observability.PoolCollector(s, p), events.OutboxCollector(s, p))
	if s != "orders" {
		return
	}
	reg.MustRegister(
		observability.QueryCollector(p, "shopgraph_orders", "Orders by status (CONFIRMED, CANCELLED, REJECTED, …).",
			"status", `SELECT status, count(*)::float8 FROM orders GROUP BY status`, nil),
		observability.QueryCollector(p, "shopgraph_saga_timeouts", "Orders cancelled because a saga step timed out.",
			"", `SELECT '', count(*)::float8 FROM orders WHERE status = 'CANCELLED' AND status_reason LIKE 'timed out%'`, nil),
	)
}

// tracePgx returns what makes service s's pool trace its queries (as
// client spans of s, inside a request's or a message's span: otelpgx
// records nothing without a recording parent), or nothing when tracing is
// off, so that the pool has no tracer to call.
func (a *app) tracePgx(s string) []func(*pgxpool.Config) {
	if !a.tel.Tracing() {
		return nil
	}
	tracer := otelpgx.NewTracer(otelpgx.WithTracerProvider(a.tel.TracerProvider(s)))
	return []func(*pgxpool.Config){func(c *pgxpool.Config) { c.ConnConfig.Tracer = tracer }}
}

// traceRedis makes the process's one Redis client trace its commands, each
// as the service's whose request or message it serves (see
// observability.ClientTracerProvider); nothing when tracing is off. The
// commands' arguments (carts, rate-limit keys naming emails) stay out of
// the spans: their names say what ran.
func (a *app) traceRedis(c *redis.Client) error {
	if !a.tel.Tracing() {
		return nil
	}
	return redisotel.InstrumentTracing(c,
		redisotel.WithTracerProvider(a.tel.ClientTracerProvider(a.processName())),
		redisotel.WithDBStatement(false))
}

// processName names the process in what it shares between its services
// (the Redis and MongoDB clients): its target, or "shopgraph" when it runs
// them all.
func (a *app) processName() string {
	if a.cfg.Target == "all" || a.cfg.Target == "" {
		return "shopgraph"
	}
	return a.cfg.Target
}

// statusDelivered records the fan-out delay of order status changes.
func (a *app) statusDelivered(d time.Duration) {
	a.tel.Metrics().StatusDelivered("orders", d)
}
