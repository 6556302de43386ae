package gateway

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkTypename is the cheapest request the gateway serves, `{ __typename }`,
// which calls no service: it measures the gateway's own HTTP layer, without
// telemetry ("none") and as the binary runs it with tracing off, the default
// ("tracing-off": metrics recorded, the no-op tracer), which must cost
// nothing measurable.
//
//	go test ./gateway -run '^$' -bench 'Typename|ListAcrossServices' -count 5
func BenchmarkTypename(b *testing.B) {
	e := newBenchEnv(b)
	b.Run("none", func(b *testing.B) { e.run(b, e.ours.URL+"/graphql", `{ __typename }`) })
	b.Run("tracing-off", func(b *testing.B) { e.run(b, e.observed.URL+"/graphql", `{ __typename }`) })
}

// BenchmarkTypenameInProcess is BenchmarkTypename without the loopback
// network, whose noise on a busy machine hides a difference of a few
// percent: the handler is called directly.
func BenchmarkTypenameInProcess(b *testing.B) {
	e := newBenchEnv(b)
	for _, tt := range []struct {
		name string
		h    http.Handler
	}{{"none", e.oursHandler}, {"tracing-off", e.observedHandler}} {
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"{ __typename }"}`))
				req.Header.Set("Content-Type", "application/json")
				w := httptest.NewRecorder()
				tt.h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}
