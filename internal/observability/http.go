package observability

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

const tracerName = "github.com/shopgraph/shopgraph/internal/observability"

// ServerMiddleware starts a server span for every request service serves,
// as the child of the caller's W3C traceparent when it sends one (a client
// of the gateway, the gateway calling a service, one service calling
// another). With tracing off it returns next unchanged.
func (s *Scope) ServerMiddleware(next http.Handler) http.Handler {
	if !s.Tracing() {
		return next
	}
	tracer := s.Tracer(tracerName)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := Propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := tracer.Start(ctx, r.Method+" "+r.URL.Path, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(
				attribute.String("http.request.method", r.Method),
				attribute.String("url.path", r.URL.Path),
			))
		defer span.End()
		sw := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(ctx))
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		span.SetAttributes(attribute.Int("http.response.status_code", sw.status))
		if sw.status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(sw.status))
		}
	})
}

// MetricsRoute serves GET (and HEAD) /metrics with metrics and everything
// else with next. Written by hand rather than with a ServeMux, whose
// pattern matching allocates on every request (3 allocations, a few hundred
// nanoseconds: most of what telemetry cost a request with tracing off).
func MetricsRoute(metrics, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/metrics" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			metrics.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Attach puts s in the context of every request, where the GraphQL
// extension and the code the request runs find it.
func (s *Scope) Attach(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(WithScope(r.Context(), s)))
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush lets SSE responses stream through the recorder.
func (w *statusRecorder) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Transport wraps base (nil: http.DefaultTransport) for the calls service
// makes to other services: each gets a client span, carries the W3C
// traceparent of the caller's context, and is counted in
// http_client_request_duration_seconds under peer — the name peers gives
// the request's host:port, or the host:port itself.
func (s *Scope) Transport(base http.RoundTripper, peers map[string]string) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	if s == nil {
		return base
	}
	return &transport{base: base, scope: s, tracer: s.Tracer(tracerName), peers: peers}
}

type transport struct {
	base   http.RoundTripper
	scope  *Scope
	tracer trace.Tracer
	peers  map[string]string
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	peer := t.peers[req.URL.Host]
	if peer == "" {
		peer = req.URL.Host
	}
	if t.scope.Tracing() {
		ctx, span := t.tracer.Start(req.Context(), req.Method+" "+peer, trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(attribute.String("peer.service", peer), attribute.String("server.address", req.URL.Host)))
		defer span.End()
		req = req.Clone(ctx)
		Propagator.Inject(ctx, propagation.HeaderCarrier(req.Header))
		res, err := t.base.RoundTrip(req)
		t.observe(span, peer, start, res, err)
		return res, err
	}
	res, err := t.base.RoundTrip(req)
	t.observe(nil, peer, start, res, err)
	return res, err
}

func (t *transport) observe(span trace.Span, peer string, start time.Time, res *http.Response, err error) {
	errType := ""
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		errType = "timeout"
	case err != nil:
		errType = "unavailable"
	case res.StatusCode >= 400:
		errType = strconv.Itoa(res.StatusCode)
	}
	t.scope.Metrics.ClientRequest(t.scope.Service, peer, errType, time.Since(start))
	if span == nil {
		return
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		return
	}
	span.SetAttributes(attribute.Int("http.response.status_code", res.StatusCode))
	if res.StatusCode >= 500 {
		span.SetStatus(codes.Error, res.Status)
	}
}
