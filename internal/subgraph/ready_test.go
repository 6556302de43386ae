package subgraph_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/internal/subgraph"
)

func TestReadiness(t *testing.T) {
	t.Parallel()
	ok := func(context.Context) error { return nil }
	down := func(context.Context) error { return errors.New("dial tcp: connection refused") }
	hangs := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
	tests := []struct {
		name       string
		checks     []subgraph.Check
		wantStatus int
		want       map[string]string
	}{
		{"every store answers", []subgraph.Check{{"postgres", ok}, {"redis", ok}}, 200, map[string]string{"postgres": "ok", "redis": "ok"}},
		{"redis is down", []subgraph.Check{{"postgres", ok}, {"redis", down}}, 503, map[string]string{"postgres": "ok", "redis": "unavailable"}},
		{"postgres hangs", []subgraph.Check{{"postgres", hangs}, {"redis", ok}}, 503, map[string]string{"postgres": "unavailable", "redis": "ok"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
			srv := httptest.NewServer(subgraph.WithReadiness(next, slog.New(slog.DiscardHandler), tc.checks...))
			defer srv.Close()
			began := time.Now()
			res, err := http.Get(srv.URL + "/readyz")
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if took := time.Since(began); took > subgraph.ReadyTimeout+time.Second {
				t.Errorf("/readyz took %v, want at most about %v", took, subgraph.ReadyTimeout)
			}
			var body struct {
				Status string
				Checks []struct{ Name, Status string }
			}
			if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, c := range body.Checks {
				got[c.Name] = c.Status
			}
			if res.StatusCode != tc.wantStatus || fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("/readyz = %d %v, want %d %v", res.StatusCode, got, tc.wantStatus, tc.want)
			}
			// Every other path goes to the service.
			res2, err := http.Get(srv.URL + "/graphql")
			if err != nil {
				t.Fatal(err)
			}
			res2.Body.Close()
			if res2.StatusCode != http.StatusTeapot {
				t.Errorf("/graphql = %d, want the service's answer", res2.StatusCode)
			}
		})
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().(*net.TCPAddr)
	l.Close()
	return "127.0.0.1:" + strconv.Itoa(addr.Port)
}

// TestPresenterStoreUnavailable: the errors real store clients return when
// their server is down reach the client as UNAVAILABLE, not INTERNAL.
func TestPresenterStoreUnavailable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	addr := closedPort(t)
	tests := []struct {
		name string
		err  func(t *testing.T) error
		want string
	}{
		{"postgres down", func(t *testing.T) error {
			_, err := pgx.Connect(ctx, "postgres://postgres@"+addr+"/x?connect_timeout=2")
			return fmt.Errorf("place order: %w", err)
		}, apperr.Unavailable},
		{"redis down", func(t *testing.T) error {
			rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
			defer rdb.Close()
			return fmt.Errorf("load cart: %w", rdb.Get(ctx, "k").Err())
		}, apperr.Unavailable},
		{"mongodb down", func(t *testing.T) error {
			c, err := mongo.Connect(options.Client().ApplyURI("mongodb://" + addr).SetServerSelectionTimeout(300 * time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Disconnect(ctx)
			return fmt.Errorf("find product: %w", c.Database("x").Collection("y").FindOne(ctx, map[string]any{}).Err())
		}, apperr.Unavailable},
		{"a bug", func(t *testing.T) error { return errors.New("nil map") }, apperr.Internal},
		{"an application error", func(t *testing.T) error { return apperr.Errorf(apperr.NotFound, "no such order") }, apperr.NotFound},
	}
	present := subgraph.Presenter(slog.New(slog.DiscardHandler))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.err(t)
			if err == nil {
				t.Fatal("the store call did not fail")
			}
			rctx := graphql.WithResponseContext(context.Background(), graphql.DefaultErrorPresenter, graphql.DefaultRecover)
			got := present(rctx, gqlerror.WrapPath(nil, err))
			if code := got.Extensions["code"]; code != tc.want {
				t.Errorf("code = %v (%q) for %v, want %s", code, got.Message, err, tc.want)
			}
			if tc.want == apperr.Unavailable && got.Message == "internal error" {
				t.Errorf("message %q", got.Message)
			}
		})
	}
}
