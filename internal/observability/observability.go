// Package observability is Shopgraph's telemetry: OpenTelemetry traces
// configured by the standard OTEL_* variables (off by default, and then a
// no-op that costs nothing), W3C trace context propagation, Prometheus
// metrics served at /metrics on every target, and an slog handler that adds
// the trace and span IDs to every log line of a request or message.
//
// One [Telemetry] is built per process by [New]. Each service of the process
// gets its own [Scope] (its tracer provider, whose resource names the
// service, and the shared metrics), which the app puts in the context of the
// service's loops so that the events package finds it (see [WithScope]).
package observability

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Namespace is the service.namespace of every span's resource.
const Namespace = "shopgraph"

// Propagator reads and writes W3C trace context (traceparent, tracestate)
// and baggage: on HTTP requests between services and from clients, and in
// the metadata of every events.Message.
var Propagator propagation.TextMapPropagator = propagation.NewCompositeTextMapPropagator(
	propagation.TraceContext{}, propagation.Baggage{})

// Options are what tests set on New beyond the environment.
type Options struct {
	// Exporter, if set, receives every span synchronously (tracing is then
	// on whatever the environment says): tests pass a tracetest exporter.
	Exporter sdktrace.SpanExporter
}

// Telemetry is a process's tracing and metrics.
type Telemetry struct {
	proc     sdktrace.SpanProcessor // nil when tracing is off
	sampler  sdktrace.Sampler
	attrs    []attribute.KeyValue
	registry *prometheus.Registry
	metrics  *Metrics

	mu        sync.Mutex
	providers map[string]*sdktrace.TracerProvider
}

// New reads the OTEL_* variables through getenv and returns the process's
// telemetry. Tracing is on when OTEL_TRACES_EXPORTER is "otlp", or when it
// is unset and an OTLP endpoint (OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is; OTEL_SDK_DISABLED=true or
// OTEL_TRACES_EXPORTER=none turn it off. The protocol is
// OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL: "http/protobuf" (default) or "grpc";
// headers come from OTEL_EXPORTER_OTLP_[TRACES_]HEADERS, sampling from
// OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG, extra resource attributes
// from OTEL_RESOURCE_ATTRIBUTES, the export interval from
// OTEL_BSP_SCHEDULE_DELAY (milliseconds). Metrics are always on.
func New(ctx context.Context, getenv func(string) string, o Options) (*Telemetry, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	t := &Telemetry{registry: reg, metrics: newMetrics(reg), providers: map[string]*sdktrace.TracerProvider{}}
	attrs, err := resourceAttributes(getenv("OTEL_RESOURCE_ATTRIBUTES"))
	if err != nil {
		return nil, err
	}
	t.attrs = attrs
	if o.Exporter != nil {
		t.sampler = sdktrace.AlwaysSample()
		t.proc = sdktrace.NewSimpleSpanProcessor(o.Exporter)
		return t, nil
	}
	exp, err := newExporter(ctx, getenv)
	if err != nil || exp == nil {
		return t, err
	}
	if t.sampler, err = sampler(getenv("OTEL_TRACES_SAMPLER"), getenv("OTEL_TRACES_SAMPLER_ARG")); err != nil {
		return nil, err
	}
	var bsp []sdktrace.BatchSpanProcessorOption
	if v := getenv("OTEL_BSP_SCHEDULE_DELAY"); v != "" {
		ms, err := strconv.Atoi(v)
		if err != nil || ms <= 0 {
			return nil, fmt.Errorf("OTEL_BSP_SCHEDULE_DELAY=%q: want milliseconds", v)
		}
		bsp = append(bsp, sdktrace.WithBatchTimeout(time.Duration(ms)*time.Millisecond))
	}
	t.proc = sdktrace.NewBatchSpanProcessor(exp, bsp...)
	return t, nil
}

// newExporter returns the OTLP exporter the environment asks for, or nil
// when tracing is off.
func newExporter(ctx context.Context, getenv func(string) string) (sdktrace.SpanExporter, error) {
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") {
		return nil, nil
	}
	endpoint := getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
	base := getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
	switch kind := strings.ToLower(strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER"))); kind {
	case "none":
		return nil, nil
	case "":
		if endpoint == "" && base == "" {
			return nil, nil // off by default
		}
	case "otlp":
	default:
		return nil, fmt.Errorf("OTEL_TRACES_EXPORTER=%q: only otlp and none are supported", kind)
	}
	protocol := first(getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"), getenv("OTEL_EXPORTER_OTLP_PROTOCOL"), "http/protobuf")
	headers, err := parseHeaders(first(getenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS"), getenv("OTEL_EXPORTER_OTLP_HEADERS")))
	if err != nil {
		return nil, err
	}
	switch protocol {
	case "http/protobuf":
		opts := []otlptracehttp.Option{otlptracehttp.WithHeaders(headers)}
		if endpoint == "" && base != "" {
			endpoint = strings.TrimSuffix(base, "/") + "/v1/traces"
		}
		if endpoint != "" {
			opts = append(opts, otlptracehttp.WithEndpointURL(endpoint))
		}
		return otlptracehttp.New(ctx, opts...)
	case "grpc":
		opts := []otlptracegrpc.Option{otlptracegrpc.WithHeaders(headers)}
		if endpoint = first(endpoint, base); endpoint != "" {
			opts = append(opts, otlptracegrpc.WithEndpointURL(endpoint))
		}
		return otlptracegrpc.New(ctx, opts...)
	default:
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL=%q: use http/protobuf or grpc", protocol)
	}
}

func sampler(name, arg string) (sdktrace.Sampler, error) {
	ratio := 1.0
	if arg != "" {
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || r < 0 || r > 1 {
			return nil, fmt.Errorf("OTEL_TRACES_SAMPLER_ARG=%q: want a ratio between 0 and 1", arg)
		}
		ratio = r
	}
	switch name {
	case "", "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	case "traceidratio":
		return sdktrace.TraceIDRatioBased(ratio), nil
	case "parentbased_traceidratio":
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio)), nil
	}
	return nil, fmt.Errorf("OTEL_TRACES_SAMPLER=%q is not supported", name)
}

// parseHeaders reads "k1=v1,k2=v2" with URL-encoded values.
func parseHeaders(s string) (map[string]string, error) {
	out := map[string]string{}
	for kv := range strings.SplitSeq(s, ",") {
		if strings.TrimSpace(kv) == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_HEADERS: %q is not key=value", kv)
		}
		dv, err := url.QueryUnescape(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_HEADERS: %w", err)
		}
		out[strings.TrimSpace(k)] = dv
	}
	return out, nil
}

func resourceAttributes(s string) ([]attribute.KeyValue, error) {
	h, err := parseHeaders(s)
	if err != nil {
		return nil, errors.New("OTEL_RESOURCE_ATTRIBUTES: want key=value pairs separated by commas")
	}
	out := make([]attribute.KeyValue, 0, len(h))
	for k, v := range h {
		out = append(out, attribute.String(k, v))
	}
	return out, nil
}

func first(vs ...string) string {
	for _, v := range vs {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}

// Tracing reports whether spans are recorded and exported.
func (t *Telemetry) Tracing() bool { return t != nil && t.proc != nil }

// TracerProvider returns the tracer provider of service (its spans' resource
// has service.name set to it), or a no-op one when tracing is off.
func (t *Telemetry) TracerProvider(service string) trace.TracerProvider {
	if !t.Tracing() {
		return noop.NewTracerProvider()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if p, ok := t.providers[service]; ok {
		return p
	}
	attrs := append([]attribute.KeyValue{semconv.ServiceName(service), semconv.ServiceNamespace(Namespace)}, t.attrs...)
	p := sdktrace.NewTracerProvider(
		sdktrace.WithSpanProcessor(t.proc),
		sdktrace.WithSampler(t.sampler),
		sdktrace.WithResource(resource.NewWithAttributes(semconv.SchemaURL, attrs...)),
	)
	t.providers[service] = p
	return p
}

// Scope returns what service records its telemetry with.
func (t *Telemetry) Scope(service string) *Scope {
	if t == nil {
		return nil
	}
	return &Scope{Service: service, tp: t.TracerProvider(service), tracing: t.Tracing(), Metrics: t.metrics}
}

// Registry is where the process's metrics are registered; stores add their
// collectors here.
func (t *Telemetry) Registry() *prometheus.Registry { return t.registry }

// Metrics returns the process's shared metrics.
func (t *Telemetry) Metrics() *Metrics { return t.metrics }

// Shutdown flushes the spans not yet exported and stops the exporter.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	if !t.Tracing() {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var errs []error
	for _, p := range t.providers {
		errs = append(errs, p.ForceFlush(ctx))
	}
	errs = append(errs, t.proc.Shutdown(ctx))
	return errors.Join(errs...)
}

// Scope is one service's telemetry: its tracer provider and the process's
// metrics. A nil *Scope records nothing.
type Scope struct {
	Service string
	tp      trace.TracerProvider
	tracing bool
	Metrics *Metrics
}

// Tracer returns the service's tracer of the instrumentation scope name, or
// a no-op tracer.
func (s *Scope) Tracer(name string) trace.Tracer {
	if s == nil || !s.tracing {
		return noop.NewTracerProvider().Tracer(name)
	}
	return s.tp.Tracer(name)
}

// TracerProvider returns the service's tracer provider (no-op when off).
func (s *Scope) TracerProvider() trace.TracerProvider {
	if s == nil || !s.tracing {
		return noop.NewTracerProvider()
	}
	return s.tp
}

// Tracing reports whether the scope records spans.
func (s *Scope) Tracing() bool { return s != nil && s.tracing }

type scopeKey struct{}

// WithScope returns ctx carrying s. The app gives each service's loops (its
// consumers and relay) such a context, so that what they start is traced and
// counted as that service's.
func WithScope(ctx context.Context, s *Scope) context.Context {
	return context.WithValue(ctx, scopeKey{}, s)
}

// ScopeFrom returns the scope ctx carries, or nil (which records nothing).
func ScopeFrom(ctx context.Context) *Scope {
	s, _ := ctx.Value(scopeKey{}).(*Scope)
	return s
}
