package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	nautilus "github.com/nautilus/gateway"
	"github.com/nautilus/graphql"

	"github.com/shopgraph/shopgraph/gateway/internal/fixture"
	"github.com/shopgraph/shopgraph/internal/observability"
	"github.com/shopgraph/shopgraph/internal/testenv"
)

// The benchmarks run over loopback HTTP against the fixture subgraphs:
//
//	go test ./gateway -run '^$' -bench . -benchtime 3s
//
// BenchmarkListAcrossServices compares the gateway with plain nautilus
// (its default executor, queryer and HTTP handler, on the same stripped
// schemas) on a list of 50 products with a field of another service;
// BenchmarkOneService compares the gateway with a request sent straight to
// the subgraph. upstream/op is the number of requests the subgraphs got per
// operation.

const listQuery = `{ manyProducts(count: 50) { name price { amount } reviews { body stars } } }`

const oneServiceQuery = `{ products { id name price { amount currency } } }`

type benchEnv struct {
	catalog, reviews *fixture.Server
	ours, plain      *httptest.Server
	// observed is a second gateway as the binary runs it with tracing off
	// (the default): metrics on, the no-op tracer, the /metrics route.
	observed *httptest.Server
	// The two gateways' handlers, for in-process benchmarks.
	oursHandler, observedHandler http.Handler
}

func newBenchEnv(b *testing.B) *benchEnv {
	b.Helper()
	_, v := testenv.SigningKey(b)
	e := &benchEnv{catalog: fixture.Catalog(b, v).Start(b), reviews: fixture.Reviews(b, v).Start(b)}
	services := []Service{{Name: "catalog", URL: e.catalog.URL}, {Name: "reviews", URL: e.reviews.URL}}
	g, err := New(context.Background(), Config{Services: services, Verifier: v, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	e.oursHandler = g.Handler()
	e.ours = httptest.NewServer(e.oursHandler)
	b.Cleanup(e.ours.Close)

	tel, err := observability.New(context.Background(), func(string) string { return "" }, observability.Options{})
	if err != nil {
		b.Fatal(err)
	}
	scope := tel.Scope("gateway")
	og, err := New(context.Background(), Config{Services: services, Verifier: v, Log: slog.New(slog.DiscardHandler), Telemetry: scope})
	if err != nil {
		b.Fatal(err)
	}
	// As the binary's observe wraps the gateway.
	mux := observability.MetricsRoute(tel.MetricsHandler(), scope.ServerMiddleware(og.Handler()))
	e.observedHandler = mux
	e.observed = httptest.NewServer(mux)
	b.Cleanup(e.observed.Close)

	// Plain nautilus needs the federation plumbing stripped too, or it
	// cannot merge the schemas at all.
	remotes := make([]*graphql.RemoteSchema, len(services))
	for i, s := range services {
		if remotes[i], err = g.current().sources[i].remote(s.URL); err != nil {
			b.Fatal(err)
		}
	}
	ng, err := nautilus.New(remotes, nautilus.WithLogger(nautilusLogger{slog.New(slog.DiscardHandler)}))
	if err != nil {
		b.Fatal(err)
	}
	e.plain = httptest.NewServer(http.HandlerFunc(ng.GraphQLHandler))
	b.Cleanup(e.plain.Close)
	return e
}

// post sends query to url and checks the response has data and no errors.
func post(b *testing.B, client *http.Client, url, query string) {
	body, _ := json.Marshal(map[string]string{"query": query})
	res, err := client.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	raw, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || res.StatusCode != 200 || !bytes.HasPrefix(raw, []byte(`{"data"`)) && !strings.Contains(string(raw), `"data":{`) ||
		strings.Contains(string(raw), `"errors"`) {
		b.Fatalf("status %d: %.300s", res.StatusCode, raw)
	}
}

func (e *benchEnv) run(b *testing.B, url, query string) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}
	post(b, client, url, query) // warm up: plans, connections
	e.catalog.Reset()
	e.reviews.Reset()
	b.ResetTimer()
	for b.Loop() {
		post(b, client, url, query)
	}
	b.StopTimer()
	b.ReportMetric(float64(len(e.catalog.Requests())+len(e.reviews.Requests()))/float64(b.N), "upstream/op")
}

func BenchmarkListAcrossServices(b *testing.B) {
	e := newBenchEnv(b)
	b.Run("shopgraph", func(b *testing.B) { e.run(b, e.ours.URL+"/graphql", listQuery) })
	b.Run("shopgraph-tracing-off", func(b *testing.B) { e.run(b, e.observed.URL+"/graphql", listQuery) })
	b.Run("nautilus", func(b *testing.B) { e.run(b, e.plain.URL, listQuery) })
}

func BenchmarkOneService(b *testing.B) {
	e := newBenchEnv(b)
	b.Run("shopgraph", func(b *testing.B) { e.run(b, e.ours.URL+"/graphql", oneServiceQuery) })
	b.Run("direct", func(b *testing.B) { e.run(b, e.catalog.URL, oneServiceQuery) })
}
