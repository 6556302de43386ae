package observability_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/shopgraph/shopgraph/internal/observability"
)

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestNewReadsOTELVariables(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		tracing bool
		wantErr string
	}{
		{name: "off by default", env: nil},
		{name: "endpoint turns it on", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, tracing: true},
		{name: "traces endpoint", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, tracing: true},
		{name: "grpc", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317"}, tracing: true},
		{name: "exporter none", env: map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}},
		{name: "sdk disabled", env: map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}},
		{name: "unknown exporter", env: map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, wantErr: "OTEL_TRACES_EXPORTER"},
		{name: "unknown protocol", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, wantErr: "OTEL_EXPORTER_OTLP_PROTOCOL"},
		{name: "bad sampler arg", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"}, wantErr: "OTEL_TRACES_SAMPLER_ARG"},
		{name: "bad headers", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_HEADERS": "novalue"}, wantErr: "OTEL_EXPORTER_OTLP_HEADERS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tel, err := observability.New(context.Background(), env(tt.env), observability.Options{})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one about %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				// Nothing listens on those endpoints: do not wait for the export.
				ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
				defer cancel()
				_ = tel.Shutdown(ctx)
			}()
			if tel.Tracing() != tt.tracing {
				t.Fatalf("Tracing() = %v, want %v", tel.Tracing(), tt.tracing)
			}
			_, span := tel.Scope("orders").Tracer("test").Start(context.Background(), "x")
			if span.SpanContext().IsValid() != tt.tracing {
				t.Fatalf("span recorded = %v, want %v", span.SpanContext().IsValid(), tt.tracing)
			}
			span.End()
		})
	}
}

// An OTLP/HTTP collector given by OTEL_EXPORTER_OTLP_ENDPOINT receives the
// spans, with the configured headers, by Shutdown at the latest.
func TestExportsOverOTLPHTTP(t *testing.T) {
	t.Parallel()
	var got atomic.Int32
	var header atomic.Value
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/traces" && r.Method == http.MethodPost {
			header.Store(r.Header.Get("X-Tenant"))
			got.Add(1)
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer collector.Close()
	tel, err := observability.New(context.Background(), env(map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": collector.URL,
		"OTEL_EXPORTER_OTLP_HEADERS":  "X-Tenant=shop%201",
	}), observability.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, span := tel.Scope("orders").Tracer("test").Start(context.Background(), "placeOrder")
	span.End()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tel.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if got.Load() == 0 {
		t.Fatal("the collector received no spans")
	}
	if h, _ := header.Load().(string); h != "shop 1" {
		t.Fatalf("X-Tenant = %q, want %q", h, "shop 1")
	}
}

func TestLogLinesCarryTraceAndSpanID(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tel, err := observability.New(context.Background(), env(nil), observability.Options{Exporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	log := slog.New(observability.LogHandler(slog.NewTextHandler(&buf, nil))).With("service", "orders")
	ctx, span := tel.Scope("orders").Tracer("test").Start(context.Background(), "x")
	log.InfoContext(ctx, "inside")
	span.End()
	log.InfoContext(context.Background(), "outside")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := "trace_id=" + span.SpanContext().TraceID().String() + " span_id=" + span.SpanContext().SpanID().String()
	if !strings.Contains(lines[0], want) {
		t.Errorf("log line %q lacks %q", lines[0], want)
	}
	if strings.Contains(lines[1], "trace_id") {
		t.Errorf("log line without a span has a trace_id: %q", lines[1])
	}
}

// A client's W3C traceparent is the parent of the server span, and a call
// made from inside the request carries the request's trace onwards.
func TestTraceparentIsAcceptedAndPassedOn(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tel, err := observability.New(context.Background(), env(nil), observability.Options{Exporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	var onward atomic.Value
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		onward.Store(r.Header.Get("traceparent"))
	}))
	defer peer.Close()
	scope := tel.Scope("gateway")
	client := &http.Client{Transport: scope.Transport(nil, map[string]string{strings.TrimPrefix(peer.URL, "http://"): "orders"})}
	srv := httptest.NewServer(scope.ServerMiddleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodPost, peer.URL, nil)
		res, err := client.Do(req)
		if err == nil {
			res.Body.Close()
		}
	})))
	defer srv.Close()

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/graphql", nil)
	req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()

	spans := exp.GetSpans()
	if len(spans) != 2 {
		t.Fatalf("got %d spans, want server and client", len(spans))
	}
	var server, clientSpan tracetest.SpanStub
	for _, s := range spans {
		switch s.SpanKind {
		case trace.SpanKindServer:
			server = s
		case trace.SpanKindClient:
			clientSpan = s
		}
	}
	if server.SpanContext.TraceID().String() != traceID || server.Parent.SpanID().String() != "00f067aa0ba902b7" {
		t.Fatalf("server span %s has parent %s, want the client's traceparent", server.SpanContext.TraceID(), server.Parent.SpanID())
	}
	if clientSpan.Parent.SpanID() != server.SpanContext.SpanID() || clientSpan.Name != "POST orders" {
		t.Fatalf("client span %q is not the server span's child", clientSpan.Name)
	}
	want := "00-" + traceID + "-" + clientSpan.SpanContext.SpanID().String() + "-01"
	if got, _ := onward.Load().(string); got != want {
		t.Fatalf("onward traceparent = %q, want %q", got, want)
	}
}

// With tracing off, the middleware is not even in the chain.
func TestTracingOffAddsNothing(t *testing.T) {
	t.Parallel()
	tel, err := observability.New(context.Background(), env(nil), observability.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := &plain{}
	if got := tel.Scope("gateway").ServerMiddleware(h); got != http.Handler(h) {
		t.Fatal("ServerMiddleware wrapped the handler although tracing is off")
	}
}

type plain struct{}

func (*plain) ServeHTTP(http.ResponseWriter, *http.Request) {}
