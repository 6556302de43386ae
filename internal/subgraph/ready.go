package subgraph

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"

	"github.com/shopgraph/shopgraph/internal/apperr"
)

// ReadyTimeout bounds each readiness check.
const ReadyTimeout = 2 * time.Second

// Check is one store a service needs to serve: its name in /readyz ("postgres",
// "redis", "mongodb") and how to ping it.
type Check struct {
	Name string
	Ping func(ctx context.Context) error
}

// WithReadiness serves readiness at GET /readyz in front of h: 200 when every
// check answers within ReadyTimeout, else 503. The body lists each check's
// status; why one failed is logged, not shown.
func WithReadiness(h http.Handler, log *slog.Logger, checks ...Check) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	mux := http.NewServeMux()
	mux.Handle("GET /readyz", readyHandler(log, checks)) // GET patterns also match HEAD
	mux.Handle("/", h)
	return mux
}

type checkState struct {
	Name   string `json:"name"`
	Status string `json:"status"` // "ok" or "unavailable"
}

func readyHandler(log *slog.Logger, checks []Check) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), ReadyTimeout)
		defer cancel()
		states := make([]checkState, len(checks))
		var wg sync.WaitGroup
		for i, c := range checks {
			wg.Go(func() {
				states[i] = checkState{Name: c.Name, Status: "ok"}
				if err := c.Ping(ctx); err != nil {
					states[i].Status = "unavailable"
					log.WarnContext(ctx, "not ready", "store", c.Name, "err", err)
				}
			})
		}
		wg.Wait()
		status, overall := http.StatusOK, "ok"
		for _, s := range states {
			if s.Status != "ok" {
				status, overall = http.StatusServiceUnavailable, "unavailable"
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(struct {
			Status string       `json:"status"`
			Checks []checkState `json:"checks"`
		}{overall, states})
	}
}

// StoreUnavailable reports whether err says that a store (PostgreSQL, Redis,
// MongoDB) could not be reached or dropped the connection, rather than that
// the request or the code was wrong: the client may retry later, and sees
// UNAVAILABLE instead of INTERNAL.
func StoreUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var connectErr *pgconn.ConnectError
	var opErr *net.OpError
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &connectErr), errors.As(err, &opErr):
		return true
	case errors.As(err, &pgErr):
		// Class 08 (connection exception), 57P01–57P03 (shutting down,
		// cannot connect now), 53300 (too many connections).
		c := pgErr.Code
		return len(c) == 5 && (c[:2] == "08" || c == "57P01" || c == "57P02" || c == "57P03" || c == "53300")
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed), errors.Is(err, redis.ErrPoolTimeout):
		return true
	case mongo.IsNetworkError(err):
		return true
	}
	var sel topology.ServerSelectionError
	if errors.As(err, &sel) {
		return true
	}
	// pgx reports a connection lost mid-query as a plain error it marks
	// safe to retry or as a timeout while the client's context is alive.
	return pgconn.SafeToRetry(err)
}

// unavailableError is what a client sees for a store outage.
var unavailableError = apperr.Errorf(apperr.Unavailable, "service temporarily unavailable; try again shortly")
