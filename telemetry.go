package main

import (
	"net/http"

	"github.com/jackc/pgx/v5/pgxpool"

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
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", a.tel.MetricsHandler())
	mux.Handle("/", scope.ServerMiddleware(h))
	return mux
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
