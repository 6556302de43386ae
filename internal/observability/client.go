package observability

import (
	"context"
	"fmt"
	"sync"

	"go.mongodb.org/mongo-driver/v2/event"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
	"go.opentelemetry.io/otel/trace/noop"
)

// ClientTracerProvider is the tracer provider of the instrumentation of a
// store client the services of the process share (the one Redis client,
// the one MongoDB client): each span is recorded as the service's whose
// Scope the context carries (see WithScope and Scope.Attach), or as
// fallback's, and only inside a recording span — a request's, a message's.
// The consumers' stream reads and the relays' passes run outside any span
// and would otherwise each start a trace of one span, several a second.
// With tracing off it is a no-op provider (and the caller should not
// instrument the client at all).
func (t *Telemetry) ClientTracerProvider(fallback string) trace.TracerProvider {
	if !t.Tracing() {
		return noop.NewTracerProvider()
	}
	return &clientProvider{t: t, fallback: fallback}
}

type clientProvider struct {
	embedded.TracerProvider
	t        *Telemetry
	fallback string
}

func (p *clientProvider) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	return &clientTracer{p: p, name: name, opts: opts}
}

type clientTracer struct {
	embedded.Tracer
	p    *clientProvider
	name string
	opts []trace.TracerOption

	byService sync.Map // service → trace.Tracer
}

func (c *clientTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		// Nothing to be part of: the caller ends a span that records nothing.
		return ctx, parent
	}
	service := c.p.fallback
	if s := ScopeFrom(ctx); s != nil {
		service = s.Service
	}
	tr, ok := c.byService.Load(service)
	if !ok {
		tr, _ = c.byService.LoadOrStore(service, c.p.t.TracerProvider(service).Tracer(c.name, c.opts...))
	}
	return tr.(trace.Tracer).Start(ctx, name, opts...)
}

// MongoMonitor returns the command monitor that traces the MongoDB commands
// of the process's services: a client span per command ("find products"),
// with db.system.name (and the older db.system) "mongodb",
// db.operation.name, db.collection.name and db.namespace, recorded as
// ClientTracerProvider records them. It returns nil when tracing is off, so
// that the driver calls nothing. Written by hand: the contrib otelmongo
// instruments the v1 driver only, and no instrumentation of
// go.mongodb.org/mongo-driver/v2 is published on the module proxy.
func (t *Telemetry) MongoMonitor(fallback string) *event.CommandMonitor {
	if !t.Tracing() {
		return nil
	}
	m := &mongoMonitor{tracer: t.ClientTracerProvider(fallback).Tracer("github.com/shopgraph/shopgraph/internal/observability/mongo")}
	return &event.CommandMonitor{Started: m.started, Succeeded: m.succeeded, Failed: m.failed}
}

type mongoMonitor struct {
	tracer trace.Tracer
	spans  sync.Map // mongoKey → trace.Span
}

type mongoKey struct {
	conn string
	req  int64
}

// mongoUntraced are commands of the driver's own upkeep.
var mongoUntraced = map[string]bool{"hello": true, "isMaster": true, "ismaster": true, "ping": true,
	"saslStart": true, "saslContinue": true, "endSessions": true, "buildInfo": true, "getnonce": true}

func (m *mongoMonitor) started(ctx context.Context, e *event.CommandStartedEvent) {
	if mongoUntraced[e.CommandName] || !trace.SpanFromContext(ctx).IsRecording() {
		return
	}
	attrs := []attribute.KeyValue{
		attribute.String("db.system.name", "mongodb"),
		attribute.String("db.system", "mongodb"),
		attribute.String("db.operation.name", e.CommandName),
		attribute.String("db.namespace", e.DatabaseName),
	}
	name := e.CommandName
	// The command's first element names its collection: {find: "products", …}.
	if elems, err := e.Command.Elements(); err == nil && len(elems) > 0 {
		if coll, ok := elems[0].Value().StringValueOK(); ok && elems[0].Key() == e.CommandName {
			attrs = append(attrs, attribute.String("db.collection.name", coll))
			name = fmt.Sprintf("%s %s", e.CommandName, coll)
		}
	}
	_, span := m.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	if span.IsRecording() {
		m.spans.Store(mongoKey{e.ConnectionID, e.RequestID}, span)
	}
}

func (m *mongoMonitor) end(e event.CommandFinishedEvent, err error) {
	v, ok := m.spans.LoadAndDelete(mongoKey{e.ConnectionID, e.RequestID})
	if !ok {
		return
	}
	span := v.(trace.Span)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

func (m *mongoMonitor) succeeded(_ context.Context, e *event.CommandSucceededEvent) {
	m.end(e.CommandFinishedEvent, nil)
}

func (m *mongoMonitor) failed(_ context.Context, e *event.CommandFailedEvent) {
	m.end(e.CommandFinishedEvent, e.Failure)
}
