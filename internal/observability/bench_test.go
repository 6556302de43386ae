package observability_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/shopgraph/shopgraph/internal/observability"
)

// BenchmarkTracingOffRequest is what telemetry adds to a request with
// tracing off, the default: the /metrics route beside the handler, the
// server middleware (nothing), and one operation counted. Compare it with
// the cost of a request (BenchmarkTypename in ./gateway).
func BenchmarkTracingOffRequest(b *testing.B) {
	tel, err := observability.New(context.Background(), env(nil), observability.Options{})
	if err != nil {
		b.Fatal(err)
	}
	scope := tel.Scope("gateway")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scope.Metrics.GraphQLRequest("gateway", "", "query", "", time.Millisecond)
	})
	mux := observability.MetricsRoute(tel.MetricsHandler(), scope.ServerMiddleware(h))
	req := httptest.NewRequest(http.MethodPost, "/graphql", nil)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		mux.ServeHTTP(w, req)
	}
}
