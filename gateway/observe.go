package gateway

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// The gateway's telemetry: each operation is counted in
// graphql_server_request_duration_seconds and, with tracing on, is a span
// ("query placeOrder") with a child span for planning and one client span
// per upstream fetch (made by the HTTP client's transport, which also puts
// the W3C traceparent on the request to the service).

const tracerName = "github.com/shopgraph/shopgraph/gateway"

// observeOne is serveOne, traced and counted.
func (g *Gateway) observeOne(r *http.Request, p params) (response, int) {
	start := time.Now()
	scope := g.cfg.Telemetry
	var span trace.Span
	if scope.Tracing() {
		var ctx context.Context
		ctx, span = scope.Tracer(tracerName).Start(r.Context(), "graphql")
		defer span.End()
		r = r.WithContext(ctx)
	}
	res, status := g.serveOne(r, p)
	info := infoFrom(r.Context())
	errType := ""
	if len(res.Errors) > 0 {
		errType = "error"
		if code, ok := res.Errors[0].Extensions["code"].(string); ok && code != "" {
			errType = code
		}
	}
	if scope != nil {
		scope.Metrics.GraphQLRequest("gateway", info.operation, info.operationType, errType, time.Since(start))
	}
	if span != nil {
		span.SetName(info.operationType + " " + info.operation)
		span.SetAttributes(
			attribute.String("graphql.operation.name", info.operation),
			attribute.String("graphql.operation.type", info.operationType),
		)
		if errType != "" {
			span.SetAttributes(attribute.String("error.type", errType))
			span.SetStatus(codes.Error, errType)
		}
	}
	return res, status
}

// startSpan starts a span named name as a child of ctx's, and returns what
// ends it; with tracing off it does nothing.
func (g *Gateway) startSpan(ctx context.Context, name string) func() {
	if !g.cfg.Telemetry.Tracing() {
		return func() {}
	}
	_, span := g.cfg.Telemetry.Tracer(tracerName).Start(ctx, name)
	return func() { span.End() }
}

// peers names each service's host:port, for the upstream metrics and spans.
func peers(services []Service) map[string]string {
	out := make(map[string]string, len(services))
	for _, s := range services {
		if u, err := url.Parse(s.URL); err == nil {
			out[u.Host] = s.Name
		}
	}
	return out
}
