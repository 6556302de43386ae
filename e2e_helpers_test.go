package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shopgraph/shopgraph/internal/observability"
	"github.com/shopgraph/shopgraph/internal/redisconn"
	"github.com/shopgraph/shopgraph/internal/testenv"
)

const (
	adminEmail    = "admin@shop.test"
	adminPassword = "Correct-Horse-42"
)

// system is a running shopgraph, started through run exactly as `go run .`
// starts it, on free ports, with its own database, Redis prefix and data
// directory.
type system struct {
	t       testing.TB
	URL     string // the gateway's GraphQL endpoint
	Base    string // the gateway's root
	DataDir string
	// HTTP is the client of the gateway (nil: http.DefaultClient).
	HTTP   *http.Client
	cancel context.CancelFunc
	done   chan error
}

// stores is where a system keeps its state: a database, a Redis prefix and a
// data directory. Two systems started on the same stores are one shop
// restarted.
type stores struct {
	dbName, prefix, dataDir string
}

// newStores returns fresh stores, removed when the test ends.
func newStores(t testing.TB) stores {
	t.Helper()
	id := testenv.ID()
	st := stores{dbName: "shopgraph_e2e_" + id, prefix: "e2e:" + id + ":", dataDir: t.TempDir()}
	t.Cleanup(func() {
		ctx := context.Background()
		if conn, err := pgx.Connect(ctx, testenv.DatabaseURL()); err == nil {
			_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{st.dbName}.Sanitize()+" WITH (FORCE)")
			conn.Close(ctx)
		}
		if rdb, err := redisconn.Open(ctx, testenv.RedisURL()); err == nil {
			iter := rdb.Scan(ctx, 0, st.prefix+"*", 1000).Iterator()
			for iter.Next(ctx) {
				rdb.Del(ctx, iter.Val())
			}
			rdb.Close()
		}
	})
	return st
}

func startSystem(t testing.TB, extra ...string) *system {
	t.Helper()
	return startSystemOn(t, newStores(t), extra...)
}

// startSystemOn starts shopgraph on the given stores.
func startSystemOn(t testing.TB, st stores, extra ...string) *system {
	t.Helper()
	return startSystemWith(t, st, observability.Options{}, extra...)
}

// startSystemWith starts shopgraph on the given stores with telemetry
// options (an in-memory span exporter).
func startSystemWith(t testing.TB, st stores, o observability.Options, extra ...string) *system {
	t.Helper()
	u, err := url.Parse(testenv.DatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	dbName, prefix := st.dbName, st.prefix
	u.Path = "/" + dbName
	s := &system{t: t, DataDir: st.dataDir, done: make(chan error, 1)}
	args := []string{
		"-host=127.0.0.1", "-data-dir=" + s.DataDir,
		"-database-url=" + u.String(), "-redis-url=" + testenv.RedisURL(), "-redis-prefix=" + prefix,
		"-admin-email=" + adminEmail, "-admin-password=" + adminPassword,
		"-log-level=error", "-register-limit-address=100000",
	}
	for _, p := range []string{"gateway", "users", "products", "inventory", "orders", "payments", "shipping", "notifications"} {
		args = append(args, "-"+p+"-port=0")
	}
	args = append(args, extra...)
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	pr, pw := io.Pipe()
	go func() {
		err := runWith(ctx, args, func(string) string { return "" }, pw, o)
		pw.Close()
		s.done <- err
	}()
	lines := bufio.NewScanner(pr)
	urlc := make(chan string, 1)
	go func() {
		for lines.Scan() {
			if rest, ok := strings.CutPrefix(lines.Text(), "GraphQL:"); ok {
				urlc <- strings.TrimSpace(rest)
			}
		}
		close(urlc)
	}()
	select {
	case s.URL = <-urlc:
	case <-time.After(3 * time.Minute):
		t.Fatal("shopgraph did not start in 3 minutes")
	}
	if s.URL == "" {
		t.Fatalf("shopgraph stopped at start-up: %v", <-s.done)
	}
	s.Base = strings.TrimSuffix(s.URL, "/graphql")
	t.Cleanup(func() { s.Stop() })
	return s
}

// Stop cancels run's context and returns what run returned.
func (s *system) Stop() error {
	s.cancel()
	select {
	case err, ok := <-s.done:
		if ok {
			close(s.done)
		}
		return err
	case <-time.After(time.Minute):
		s.t.Error("shopgraph did not stop within a minute")
		return nil
	}
}

// gqlResponse is a GraphQL response as a client sees it.
type gqlResponse struct {
	Status int
	Data   map[string]any   `json:"data"`
	Errors []map[string]any `json:"errors"`
	Raw    string
}

// Code is the extensions.code of the first error, or "".
func (r gqlResponse) Code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	ext, _ := r.Errors[0]["extensions"].(map[string]any)
	code, _ := ext["code"].(string)
	return code
}

// client talks to the gateway as a frontend would.
type client struct {
	t     testing.TB
	url   string
	token string
	hc    *http.Client
}

func (s *system) client(token string) *client {
	return &client{t: s.t, url: s.URL, token: token, hc: s.HTTP}
}

// do posts a query with variables and decodes the response.
func (c *client) do(query string, vars map[string]any) gqlResponse {
	c.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, c.url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return c.send(req)
}

func (c *client) send(req *http.Request) gqlResponse {
	c.t.Helper()
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	hc := c.hc
	if hc == nil {
		hc = http.DefaultClient
	}
	res, err := hc.Do(req)
	if err != nil {
		c.t.Fatalf("POST %s: %v", c.url, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := gqlResponse{Status: res.StatusCode, Raw: string(raw)}
	if err := json.Unmarshal(raw, &out); err != nil {
		c.t.Fatalf("response is not JSON (%d): %s", res.StatusCode, raw)
	}
	return out
}

// must runs a query that must succeed and returns its data.
func (c *client) must(query string, vars map[string]any) map[string]any {
	c.t.Helper()
	r := c.do(query, vars)
	if len(r.Errors) > 0 || r.Data == nil {
		c.t.Fatalf("query failed: %s\nquery: %s", r.Raw, query)
	}
	return r.Data
}

// path walks a decoded JSON value: path(v, "a", "b", 0, "c").
func path(v any, keys ...any) any {
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func str(v any, keys ...any) string {
	s, _ := path(v, keys...).(string)
	return s
}

func num(v any, keys ...any) int {
	f, _ := path(v, keys...).(float64)
	return int(f)
}

func list(v any, keys ...any) []any {
	l, _ := path(v, keys...).([]any)
	return l
}
