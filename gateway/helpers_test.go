package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/shopgraph/shopgraph/gateway"
	"github.com/shopgraph/shopgraph/gateway/internal/fixture"
	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/internal/gid"
	"github.com/shopgraph/shopgraph/internal/testenv"
)

// env is a gateway in front of the two fixture subgraphs.
type env struct {
	catalog, reviews *fixture.Server
	key              jwk.Key
	verifier         *auth.Verifier
	gw               *gateway.Gateway
	srv              *httptest.Server
	logs             *syncBuffer
}

// options change a test's gateway configuration.
type options func(*gateway.Config)

// newEnv starts both fixtures and a gateway in front of them; the fixtures'
// request records start empty.
func newEnv(t *testing.T, opts ...options) *env {
	t.Helper()
	e := &env{logs: &syncBuffer{}}
	e.key, e.verifier = testenv.SigningKey(t)
	e.catalog = fixture.Catalog(t, e.verifier).Start(t)
	e.reviews = fixture.Reviews(t, e.verifier).Start(t)
	cfg := e.config()
	for _, o := range opts {
		o(&cfg)
	}
	g, err := gateway.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("gateway.New: %v", err)
	}
	e.gw = g
	t.Cleanup(g.Close)
	e.srv = httptest.NewServer(g.Handler())
	t.Cleanup(e.srv.Close)
	e.catalog.Reset()
	e.reviews.Reset()
	return e
}

func (e *env) config() gateway.Config {
	return gateway.Config{
		Services: []gateway.Service{
			{Name: "catalog", URL: e.catalog.URL},
			{Name: "reviews", URL: e.reviews.URL},
		},
		Verifier:        e.verifier,
		CORSOrigins:     []string{"https://shop.example"},
		UpstreamTimeout: 2 * time.Second,
		StartupTimeout:  5 * time.Second,
		Log:             slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
}

// upstreamRequests is the number of requests both fixtures received.
func (e *env) upstreamRequests() int {
	return len(e.catalog.Requests()) + len(e.reviews.Requests())
}

// result is a decoded GraphQL response.
type result struct {
	Status int
	Header http.Header
	Raw    string
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
	// HasData reports whether the response has a "data" key at all.
	HasData bool
}

type gqlError struct {
	Message   string `json:"message"`
	Path      []any  `json:"path"`
	Locations []struct{ Line, Column int }
	Ext       map[string]any `json:"extensions"`
}

func (r result) code(i int) any {
	if i >= len(r.Errors) {
		return nil
	}
	return r.Errors[i].Ext["code"]
}

// post sends a JSON body to /graphql with the given headers ("Name: value").
func (e *env) post(t *testing.T, body string, headers ...string) result {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return e.do(t, req, headers...)
}

// query posts a query with variables.
func (e *env) query(t *testing.T, query string, vars map[string]any, headers ...string) result {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		t.Fatal(err)
	}
	return e.post(t, string(body), headers...)
}

// get sends a GET to /graphql with the given query-string parameters.
func (e *env) get(t *testing.T, params url.Values, headers ...string) result {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.srv.URL+"/graphql?"+params.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return e.do(t, req, headers...)
}

func (e *env) do(t *testing.T, req *http.Request, headers ...string) result {
	t.Helper()
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ":")
		req.Header.Set(name, strings.TrimSpace(value))
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := result{Status: res.StatusCode, Header: res.Header, Raw: string(raw)}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q, want application/json; body %s", ct, raw)
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("response is not JSON: %v: %s", err, raw)
	}
	var keys map[string]json.RawMessage
	_ = json.Unmarshal(raw, &keys)
	_, out.HasData = keys["data"]
	return out
}

// dataAs decodes the response's data into v.
func (r result) dataAs(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Data, v); err != nil {
		t.Fatalf("decode data: %v: %s", err, r.Raw)
	}
}

// productID is the global ID of fixture product key ("p1", "p2", "p3").
func productID(key string) string { return gid.Encode("Product", key) }

// syncBuffer is a bytes.Buffer safe for concurrent writes (the log).
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
